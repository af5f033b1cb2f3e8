# worker_processes 4: 8 rooms of 3 libwebrtc peers, every RPC on a fresh
# TCP connection (so it lands on any worker). All audio flows, no room
# leaks into another, info shows each room on exactly one worker and the
# rooms spread over several.

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
my @before = $k->worker_pids;
is(scalar @before, 4, 'four workers run');

my ($rc, $out, $err) = KrakenTest::run_node('wrtc-rooms.js', $k->url,
                                            8, 3, 4, 500);
KrakenTest::node_checks($rc, $out, $err, 'wrtc-rooms 8x3');

($rc, $out, $err) = KrakenTest::run_node('workers.js', $k->url, 'spread',
                                         8, 3);
KrakenTest::node_checks($rc, $out, $err, 'placement');

my ($status, $info) = $k->rpc('info', []);
my %ports = map { $_->{port} => 1 } @{ $info->{data}{workers} || [] };
is(scalar keys %ports, 4, 'each worker has its own media port');

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
