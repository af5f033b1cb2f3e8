# Old generations leave after a reload. Only connected calls keep an old
# worker: publishes that never connect, arriving every half second into a
# room it holds, do not keep it past the connect timeout; then their
# clients get 5002001 and the room starts again in the new generation. A
# connected call keeps it until kraken_media_drain_timeout, no longer; its
# participants then get 5002001 and rejoin in the new generation.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use KrakenTest;

plan skip_all => 'npm install in t/js first (make prove does it)'
    unless -d 't/js/node_modules/@roamhq/wrtc';

my ($CONNECT, $DRAIN, $SLACK) = (3, 8, 4);
my $J = KrakenTest::json;

my $offer = KrakenTest::chromium_offer();
my $jsep = $J->encode({ type => 'offer', sdp => $offer });


# 1. bare publishes do not keep an old generation

my $k = KrakenTest->new(workers => 1,
                        stream => "kraken_media_connect_timeout  ${CONNECT}s;");
my $room = 'bare-' . int(rand(1e9));
my @old = $k->worker_pids;

my (undef, $first) = $k->rpc('publish', [$room, 'first', $jsep],
                             fresh => 1);
my $track = $first->{data}{track} // '';
ok($track, 'a bare publish before the reload');

my $reload = time;
ok($k->reload, 'nginx -s reload');

my %old = map { $_ => 1 } @old;
ok(KrakenTest::wait_for(sub { grep { !$old{$_} } $k->worker_pids }, 10),
   'a new worker starts');

# a bare publish into the old room every half second, until it is gone
my ($taken, $i) = (0, 0);
while (grep { kill 0, $_ } @old) {
    last if time > $reload + $CONNECT + $SLACK;
    my (undef, $res) = $k->rpc('publish', [$room, 'bare' . $i++, $jsep],
                               fresh => 1);
    $taken++ if $res && $res->{data};
    sleep 0.5;
}
my $gone = time - $reload;

ok(!grep({ kill 0, $_ } @old),
   "the old worker exits within the connect timeout + ${SLACK}s")
    and note(sprintf 'gone %.1f s after the reload', $gone);
cmp_ok($taken, '>=', 4,
       'bare publishes kept arriving into its room meanwhile');

my (undef, $sub) = $k->rpc('subscribe', [$room, 'first', $track],
                           fresh => 1);
is($sub->{error}{code}, 5002001,
   'a peer of the old generation is not found (5002001)');

my (undef, $again) = $k->rpc('publish', [$room, 'again', $jsep], fresh => 1);
ok($again->{data}{track}, 'the room starts again in the new generation');

$k->stop;

my $log = $k->error_log;
like($log, qr/\[info\].*kraken: worker draining: \d+ peers \(0 connected\)/,
     'the old worker tells it drains');
like($log, qr/\[info\].*kraken: no connected peer for \d+ ms, worker exits/,
     'and why it exits');
$k->assert_clean_log;


# 2. a connected call keeps it until kraken_media_drain_timeout

$k = KrakenTest->new(workers => 1, stream => <<"CONF");
kraken_media_connect_timeout  ${CONNECT}s;
    kraken_media_drain_timeout    ${DRAIN}s;
CONF

my ($rc, $out, $err) = KrakenTest::run_node('drain.js', $k->url,
    $k->master_pid, join(',', $k->worker_pids), $DRAIN);
KrakenTest::node_checks($rc, $out, $err, 'drain', min => 6);

$k->stop;

my $why = 'kraken: kraken_drain_timeout passed, worker exits and closes'
        . ' 2 peers (2 connected)';
like($k->error_log, qr/\[info\].*\Q$why\E/,
     'the old worker tells why it exits');
$k->assert_clean_log;

done_testing;
