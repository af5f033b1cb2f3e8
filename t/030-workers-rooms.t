# worker_processes 4: 8 rooms of 3 libwebrtc peers, every RPC on a fresh
# TCP connection (so it lands on any worker). All audio flows, no room
# leaks into another, info shows each room on exactly one worker and the
# rooms spread over several.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

my $k = KrakenTest->new(workers => 4);
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

is_deeply([$k->worker_pids], \@before, 'no worker died');
$k->stop;
$k->assert_clean_log;

done_testing;
