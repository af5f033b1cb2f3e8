# How many may join a room. Kraken's publish limit, through the JSON-RPC
# with bare publishes (a real offer that never connects): the room's other
# live peers count against it, so the (limit+1)th live peer is 5002000,
# and a republish of the same uid is not counted twice. Then
# kraken_media_peer_streams: with 3, four libwebrtc participants hear each
# other, a fifth publish is 5002000, and the four keep hearing each other.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

plan skip_all => 'npm install in t/js first (make prove does it)'
    unless -d 't/js/node_modules/@roamhq/wrtc';

my $J = KrakenTest::json;
my $FULL = 5002000;
my $INVALID = 5001000;

my $offer = KrakenTest::chromium_offer();
my $jsep = $J->encode({ type => 'offer', sdp => $offer });


# 1. limit

my $k = KrakenTest->new(workers => 1);
my $room = 'limit-' . int(rand(1e9));

sub publish {
    my ($uid, @rest) = @_;
    my (undef, $res) = $k->rpc('publish', [$room, $uid, $jsep, @rest],
                               fresh => 1);
    return $res // {};
}

ok(publish('a', 3, '')->{data}{track},
   'publish with limit 3 and no callback (empty) into an empty room');
ok(publish('b', '3', '')->{data}{track},
   'publish with limit "3" as a string, one other peer');
ok(publish('c', 3, '')->{data}{track}, 'publish with limit 3, two others');

my $d = publish('d', 3, '');
is($d->{error}{code}, $FULL, 'the 4th live peer with limit 3 is 5002000');
like($d->{error}{description} // '', qr/^room full/,
     'its description says room full');

ok(publish('c', 3, '')->{data}{track},
   'a republish of a member with limit 3 is not counted twice');
ok(publish('a', 3, '')->{data}{track},
   'nor is another member\'s');
is(publish('d', 3, '')->{error}{code}, $FULL,
   'the room of three still refuses a 4th with limit 3');

ok(publish('d', 4, '')->{data}{track}, 'limit 4 lets a 4th in');
ok(publish('e', 0, '')->{data}{track}, 'limit 0 is no limit');
ok(publish('f')->{data}{track}, 'no limit at all is no limit');

my (undef, $list) = $k->rpc('list', [$room]);
is(scalar @{ $list->{data}{peers} // [] }, 6,
   'the room lists its six peers, each once');

is(publish('g', 'x', '')->{error}{code}, $INVALID,
   'a non-numeric limit is invalid params');
is(publish('g', 9, 'https://example.org/cb')->{error}{code}, $INVALID,
   'a callback is still refused with 5001000');

$k->stop;
$k->assert_clean_log;


# 2. kraken_media_peer_streams

$k = KrakenTest->new(workers => 1, stream => 'kraken_media_peer_streams 3;');

my ($rc, $out, $err) = KrakenTest::run_node('room-limits.js', $k->url,
                                            'streams');
KrakenTest::node_checks($rc, $out, $err, 'room-limits', min => 6);

$k->stop;
$k->assert_clean_log;


# 3. a session holds at most 128 m-lines, its own audio among them

$k = KrakenTest->new(workers => 1, stream => 'kraken_media_peer_streams 128;',
                     no_start => 1);
my $p = $k->prefix;
my $args = "-p $p/ -e logs/error.log -c conf/nginx.conf";
my $t = `$KrakenTest::NGINX -t $args 2>&1`;
isnt($?, 0, 'kraken_media_peer_streams 128 fails nginx -t');
like($t, qr/between 1 and 127/, 'and says the most is 127')
    or diag($t);

done_testing;
