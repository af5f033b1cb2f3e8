# A worker crash (SIGSEGV), five times in a row, alternating workers,
# while a process of another uid holds every forwarding socket name it
# can: each time the master runs both workers again, the new one listens
# for forwarded calls, and calls for its rooms that land on the other
# worker are forwarded to it and answered.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;
use KrakenForward;

plan skip_all => 'needs root to run processes of another uid' if $> != 0;

my $ROUNDS = 5;

my $k = KrakenTest->new(workers => 2);
is(scalar $k->worker_pids, 2, 'two workers run');

my $by = KrakenForward::rooms_by_slot($k, 'crash-' . int(rand(1e9)), 40);
ok($by->{0} && $by->{1}, 'rooms hash to both slots') or diag(explain $by);

my $sq = KrakenForward::squatter();
END { KrakenForward::squatter_stop($sq) if $sq }

ok(KrakenTest::wait_for(sub {
       my $st = KrakenForward::squatter_stats($sq);
       $st && $st->{predicted} > 0;
   }, 10), 'a process of another uid holds the names of the next pids');

for my $round (1 .. $ROUNDS) {
    my $slots = KrakenForward::slot_pids($k);
    my $slot = $round % 2;
    my $victim = $slots->{$slot};

    unless ($victim) {
        fail("round $round: slot $slot has a worker");
        diag(explain $slots);
        last;
    }

    kill 'SEGV', $victim;

    my $up = KrakenTest::wait_for(sub {
        my @now = $k->worker_pids;
        my $l = KrakenForward::listeners(@now);
        @now == 2 && !grep({ $_ == $victim } @now)
        && 2 == grep { $l->{$_} } @now;
    }, 10);
    ok($up, "round $round: worker $victim (slot $slot) crashed, two "
            . 'workers run again and listen for forwarded calls')
        or diag(join "\n", grep { /emerg|alert|exited/ }
                           split /\n/, $k->error_log);

    my $rooms = $by->{$slot};
    my $fwd = KrakenForward::forwarded_call($k, $rooms->[$round % @$rooms],
                                            10);
    ok($fwd && $fwd->{worker} eq "$slot forwarded",
       "round $round: a call for a room of slot $slot is forwarded to the "
       . 'new worker and answered');
}

my $st = KrakenForward::squatter_stop($sq);
$sq = undef;
is($st && $st->{captured}, 0, 'no forwarded call reached the squatter');

unlike($k->error_log, qr/cannot be respawned/,
       'the master never gave up on a worker');

$k->stop;

# the crashes themselves are alerts; nothing else may be
my @bad = grep { /\[(crit|alert|emerg)\]/ && !/exited on signal 11/ }
          split /\n/, $k->error_log;
ok(!@bad, 'no other crit, alert or emerg in the error log')
    or diag(join "\n", @bad);

done_testing;
