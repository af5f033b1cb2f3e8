# Issue 17, finding 3: the shared steering tables are never last writer
# wins. Alices talk to Bob in a room on one worker; Eve, publishing with
# her own ICE credentials in a room on another worker, sends a valid
# check spoofed from each Alice's address (a raw socket on loopback, so
# the datagram really enters through the media port's reuseport group).
# Her worker's claim is refused, every Alice keeps reaching Bob, and
# when Eve's peers go their worker's forgetting leaves the Alices'
# entries. Once with eBPF steering (root), once with the hand-over
# between workers (kraken_bpf off).

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

my $root = $> == 0;

for my $mode ('ebpf', 'handoff') {
    SKIP: {
        skip 'eBPF and raw sockets need root', 1
            if $mode eq 'ebpf' && !$root;

        my $k = KrakenTest->new(
            workers => 4,
            main => $mode eq 'ebpf' ? '' : 'kraken_bpf off;',
            location => 'kraken_info_details on;');
        my @before = $k->worker_pids;

        my ($rc, $out, $err) = KrakenTest::run_node(
            'steal-addr.js', { retries => 0 }, $k->url, $k->media_port, 3);
        my $sum = KrakenTest::node_checks($rc, $out, $err,
                                          "steal-addr, $mode") || {};

        my (undef, $info) = $k->rpc('info', []);
        is($info->{data}{steering}, $mode, "steering is $mode");

        is_deeply([$k->worker_pids], \@before, "$mode: no worker died");
        $k->stop;
        $k->assert_clean_log;
    }
}

done_testing;
