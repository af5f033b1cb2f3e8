# turn [uid]: coturn REST credentials as Kraken computes them, checked
# against an HMAC computed here; nothing when no TURN server is set.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Digest::SHA qw(hmac_sha1_base64);
use KrakenTest;

my $k = KrakenTest->new(workers => 1, http => <<'CONF');
    kraken_turn_server  turn:turn.example.org:3478;
    kraken_turn_secret  s3cret;
CONF

my $before = time;
my ($status, $json) = $k->rpc('turn', ['alice']);
my $after = time;
is($status, 200, 'HTTP 200');

my @s = @{ $json->{data} || [] };
is(scalar @s, 2, 'two servers');
is($s[0]{urls}, 'turn:turn.example.org:3478?transport=udp', 'udp first');
is($s[1]{urls}, 'turn:turn.example.org:3478?transport=tcp', 'then tcp');

my ($expiry, $uid) = split /:/, $s[0]{username}, 2;
is($uid, 'alice', 'the username ends with the uid');
ok($expiry >= $before + 3600 && $expiry <= $after + 3600,
   'the username starts with the expiry an hour ahead');

my $mac = hmac_sha1_base64($s[0]{username}, 's3cret');
$mac .= '=' while length($mac) % 4;
is($s[0]{credential}, $mac, 'the credential is base64(HMAC-SHA1(secret))');
is($s[1]{credential}, $mac, 'both entries share it');
is($s[1]{username}, $s[0]{username}, 'and the username');
$k->stop;

my $bare = KrakenTest->new(workers => 1);
($status, $json) = $bare->rpc('turn', ['bob']);
is_deeply($json->{data}, [], 'no TURN server configured: an empty list');
$bare->stop;
$bare->assert_clean_log;

done_testing;
