# The workers' forwarding sockets serve only the workers' user and root:
# a process of another uid that connects gets no answer (and the worker
# logs the refusal), and one that takes socket names first (the names a
# new worker would use, the name of a worker that just died) does not stop
# a restarted worker from serving forwarded calls, nor receives any.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;
use KrakenForward;

plan skip_all => 'needs root to run processes of another uid' if $> != 0;

my $uid = $KrakenForward::STRANGER;
my $k = KrakenTest->new(workers => 2);
my @pids = $k->worker_pids;
is(scalar @pids, 2, 'two workers run');

my $socks;
ok(KrakenTest::wait_for(sub {
       $socks = KrakenForward::listeners(@pids);
       @pids == grep { $socks->{$_} } @pids;
   }, 10), 'each worker listens for forwarded calls')
    or diag(explain $socks);

my $frame = '{"id":"x","method":"info","params":[]}';

for my $pid (@pids) {
    my $name = $socks->{$pid}[0] // '';

    my $got = KrakenForward::as_user(0, sub {
        length(KrakenForward::call_socket($name, $frame, 5) // '');
    });
    cmp_ok($got, '>', 8, "root is answered on worker ${pid}'s socket");

    $got = KrakenForward::as_user($uid, sub {
        my $reply = KrakenForward::call_socket($name, $frame, 5);
        defined $reply ? length $reply : 'refused';
    });
    ok($got eq 'refused' || $got eq '0',
       "uid $uid gets no answer from worker ${pid}'s socket ($got)");
}

ok(KrakenTest::wait_for(sub {
       $k->error_log =~ /refused a forwarded call from uid $uid/
   }, 5), 'the refusal is in the error log');

# a squatter takes every name it can, then a worker restarts
my $sq = KrakenForward::squatter();
END { KrakenForward::squatter_stop($sq) if $sq }

ok(KrakenTest::wait_for(sub {
       my $st = KrakenForward::squatter_stats($sq);
       $st && $st->{predicted} > 0;
   }, 10), "a process of uid $uid holds the names of the next pids");

my $slots = KrakenForward::slot_pids($k);
my ($slot) = sort keys %$slots;
my $victim = $slots->{$slot};
my $by = KrakenForward::rooms_by_slot($k, 'squat-' . int(rand(1e9)), 40);
ok($victim && $by->{$slot}, "worker $victim holds slot $slot and rooms")
    or diag(explain $slots, $by);

kill 'TERM', $victim;

# up means listening for forwarded calls: a worker that cannot listen
# would exit, and not be respawned
ok(KrakenTest::wait_for(sub {
       my @now = $k->worker_pids;
       my $l = KrakenForward::listeners(@now);
       @now == 2 && !grep({ $_ == $victim } @now)
       && 2 == grep { $l->{$_} } @now;
   }, 10), 'the master runs two workers again, both listening')
    or diag(join "\n", grep { /emerg|alert|exited/ }
                       split /\n/, $k->error_log);

ok(KrakenTest::wait_for(sub {
       my $st = KrakenForward::squatter_stats($sq);
       $st && grep { /^ngx_kraken\.$victim\b/ } @{ $st->{grabbed} };
   }, 5), "the squatter took the dead worker's name");

my $fwd = KrakenForward::forwarded_call($k, $by->{$slot}[0], 10);
ok($fwd, "calls for slot ${slot}'s rooms are forwarded to the new worker")
    or diag(KrakenTest::tail($k->error_log, 20));

my $st = KrakenForward::squatter_stop($sq);
$sq = undef;
diag('squatter: ' . KrakenTest::json()->encode(
         { %$st, grabbed => scalar @{ $st->{grabbed} } }));
is($st->{captured}, 0, 'no forwarded call reached the squatter');

$k->stop;
$k->assert_clean_log;

done_testing;
