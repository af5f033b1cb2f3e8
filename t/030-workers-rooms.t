# worker_processes 4, one media port: 8 rooms of 3 libwebrtc peers, every
# RPC on a fresh TCP connection (so it lands on any worker). All audio
# flows, no room leaks into another, every answer names the same port,
# info shows each room on exactly one worker and the rooms spread over
# several. As root eBPF steers each datagram to its room's worker, so
# (nearly) nothing is handed over between workers; t/036 forces the
# hand-over.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Socket::UNIX;
use POSIX ();
use KrakenTest;
use KrakenForward;

my $k = KrakenTest->new(workers => 4,
                        location => 'kraken_info_details on;');
my $root = $> == 0;
my @before = $k->worker_pids;
is(scalar @before, 4, 'four workers run');

my ($rc, $out, $err) = KrakenTest::run_node('wrtc-rooms.js', $k->url,
                                            8, 3, 4, 500);
KrakenTest::node_checks($rc, $out, $err, 'wrtc-rooms 8x3');

($rc, $out, $err) = KrakenTest::run_node('workers.js', $k->url, 'spread',
                                         8, 3);
my $sum = KrakenTest::node_checks($rc, $out, $err, 'placement') || {};

my ($status, $info) = $k->rpc('info', []);
my %ports = map { $_->{port} => 1 } @{ $info->{data}{workers} || [] };
is_deeply([keys %ports], [$k->media_port], 'all workers share the media port');

SKIP: {
    skip 'eBPF needs root', 3 unless $root;

    is($sum->{steering}, 'ebpf', 'eBPF steers the datagrams');
    ok(KrakenTest::wait_for(sub {
           my @n = $k->error_log =~ /media on port \d+, .*steered by eBPF/g;
           @n == 4 }, 5),
       'each worker says so at startup');

    # a client's first check reaches the worker its ufrag names, its
    # address is mapped from then on: nothing needs handing over
    my $c = $sum->{counters} || {};
    cmp_ok($c->{handoff_received} // -1, '==', 0,
           'no datagram was handed over between workers')
        or diag(explain $c);
}

# a forwarded call says so; an owner-local one does not
my %seen;
for my $i (1 .. 40) {
    my $res = KrakenTest->can('http')->($k, fresh => 1)->request('POST',
        $k->url, { content => '{"id":"x","method":"list","params":["r' . $i
                               . '"]}' });
    $seen{$res->{headers}{'x-kraken-worker'} =~ /forwarded/ ? 'fwd' : 'local'}++;
}
ok($seen{fwd} && $seen{local},
   'some calls are forwarded to the room\'s worker, some run where they land')
    or diag(explain \%seen);

# the workers' call forwarding answers only the workers' user and root
SKIP: {
    skip 'needs root to switch users', 2 if $> != 0;

    my $pid = ($k->worker_pids)[0];
    my $sock = (KrakenForward::listeners($pid)->{$pid} || [''])->[0];
    my $frame = '{"id":"x","method":"info","params":[]}';
    $frame = 'KRK1' . pack('N', length $frame) . $frame;

    for my $as ([0, 'root is answered'],
                [12345, 'another user is refused'])
    {
        my ($uid, $name) = @$as;
        my $child = open(my $fh, '-|') // die "fork: $!";
        if ($child == 0) {
            POSIX::setuid($uid) if $uid;
            my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(),
                                          Peer => "\0$sock");
            my $reply = '';
            if ($s) {
                print $s $frame;
                local $/;
                $reply = <$s> // '';
            }
            print length $reply;
            close STDOUT;
            POSIX::_exit(0);    # no DESTROY: the parent owns nginx
        }
        my $got = <$fh> // 0;
        close $fh;
        if ($uid) {
            is($got, 0, $name);
        } else {
            cmp_ok($got, '>', 8, $name);
        }
    }
}

is_deeply([$k->worker_pids], \@before, 'no worker died');
$k->stop;
$k->assert_clean_log;

done_testing;
