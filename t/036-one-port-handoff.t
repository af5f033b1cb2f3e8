# The hand-over mode: with "kraken_bpf off" (as where eBPF cannot be
# loaded) the kernel spreads one port's datagrams over the workers by
# address, and a worker that receives another's datagram hands it to the
# owner. 8 rooms of 3 libwebrtc peers on 4 workers still all hear their
# room, the workers say which mode runs, and datagrams were handed over.
# A forged hand-over (no token) is refused and harms nobody.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Socket::INET;
use KrakenTest;

my $k = KrakenTest->new(workers => 4, main => 'kraken_bpf off;',
                        location => 'kraken_info_details on;');
my @before = $k->worker_pids;
is(scalar @before, 4, 'four workers run');

ok(KrakenTest::wait_for(sub {
       $k->error_log =~ /"kraken_bpf off": datagrams are handed over/ }, 5),
   'the master says eBPF steering is off');
ok(KrakenTest::wait_for(sub {
       my @n = $k->error_log
               =~ /media on port \d+, .*handed over between workers/g;
       @n == 4 }, 5),
   'each worker says it hands datagrams over');

my ($rc, $out, $err) = KrakenTest::run_node('wrtc-rooms.js', $k->url,
                                            8, 3, 4, 500);
KrakenTest::node_checks($rc, $out, $err, 'wrtc-rooms 8x3, hand-over');

($rc, $out, $err) = KrakenTest::run_node('workers.js', $k->url, 'spread',
                                         8, 3);
my $sum = KrakenTest::node_checks($rc, $out, $err, 'placement') || {};

is($sum->{steering}, 'handoff', 'info reports the hand-over mode');
my $c = $sum->{counters} || {};
cmp_ok($c->{handoff_received} // 0, '>', 0,
       'datagrams were handed over to their owners')
    or diag(explain $c);
cmp_ok($c->{handoff_dropped} // -1, '==', 0, 'none was lost on the way')
    or diag(explain $c);

# every worker's hand-over port, from its listening sockets: a datagram
# without the token is refused
my @ports;
for my $pid ($k->worker_pids) {
    for my $line (`ss -H -u -l -n -p 2>/dev/null`) {
        push @ports, $1 if $line =~ /127\.0\.0\.1:(\d+)\s.*pid=$pid,/
                           && $1 != $k->media_port;
    }
}
ok(@ports >= 4, 'each worker takes hand-overs on a loopback port')
    or diag("@ports");

my (undef, $info) = $k->rpc('info', []);
my $refused = $info->{data}{counters}{handoff_refused} // 0;
my $s = IO::Socket::INET->new(Proto => 'udp', PeerAddr => '127.0.0.1',
                              PeerPort => $ports[0] // 9) or die $!;
$s->send('KRH1' . ("\0" x 36) . "\x80" . ("x" x 100)) for 1 .. 5;

ok(KrakenTest::wait_for(sub {
       my (undef, $i) = $k->rpc('info', []);
       ($i->{data}{counters}{handoff_refused} // 0) >= $refused + 5;
   }, 5), 'forged hand-overs are refused and counted');

is_deeply([$k->worker_pids], \@before, 'no worker died');
$k->stop;
$k->assert_clean_log;

done_testing;
