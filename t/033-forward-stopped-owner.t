# worker_processes 2, one of them stopped (SIGSTOP): a burst of 5,000
# calls for its rooms, 200 at a time, lands on the other worker. Each call
# is answered at once or after kraken_forward_timeout with Kraken's
# 5003999 error, no connection hangs, and the worker that accepts them
# keeps answering calls for its own rooms within a second. After SIGCONT
# the forwarded calls are answered by the owner again.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;
use KrakenForward;

my $TOTAL = 5000;
my $CONCURRENCY = 200;

my $k = KrakenTest->new(workers => 2,
                        http => "kraken_forward_timeout 1s;\n"
                              . "    kraken_forward_pending 64;");
my @pids = $k->worker_pids;
is(scalar @pids, 2, 'two workers run');

my $slots = KrakenForward::slot_pids($k);
is(scalar keys %$slots, 2, 'both workers hold a slot')
    or diag(explain $slots);

my $by = KrakenForward::rooms_by_slot($k, 'burst-' . int(rand(1e9)), 40);
my ($a_slot, $b_slot) = sort keys %$slots;
ok($by->{$a_slot} && $by->{$b_slot}, 'rooms hash to both workers')
    or diag(explain $by);

my $stopped = $slots->{$a_slot};
END { kill 'CONT', $stopped if $stopped }

my @remote = @{ $by->{$a_slot} }[0 .. 3];
my $local = $by->{$b_slot}[0];

# both workers answer before the owner stops
my $fwd = KrakenForward::forwarded_call($k, $remote[0], 10);
ok($fwd, 'a forwarded call is answered while both workers run');

kill 'STOP', $stopped;
ok(KrakenTest::wait_for(sub { proc_state($stopped) eq 'T' }, 5),
   "the owner of the rooms (pid $stopped, slot $a_slot) is stopped");

my $probe = KrakenForward::probe_start($k, $local);
my ($rc, $out, $err) = KrakenTest::run_node('forward-burst.js',
    { timeout => 120, retries => 0 }, $k->url, $TOTAL, $CONCURRENCY,
    join(',', @remote));
my $p = KrakenForward::probe_stop($probe) || {};
diag('own-room calls: ' . KrakenTest::json()->encode($p));
my ($line) = grep { /^\{/ } reverse split /\n/, $out // '';
my $r = eval { KrakenTest::json()->decode($line // '') } || {};
diag(KrakenTest::json()->encode($r));

is($rc, 0, 'the burst client ran') or diag($err);
is($r->{answered}, $TOTAL, "every one of the $TOTAL calls got an answer")
    or diag(explain $r->{transport});
is($r->{codes}{5003999} // 0, $TOTAL,
   'each one is the room\'s worker busy or not answering (5003999)')
    or diag(explain $r->{codes});
is($r->{wrong_id} // -1, 0, 'each answer echoes its call\'s id');
cmp_ok($r->{max_ms} // 1e9, '<', 8000,
       'no call waited much longer than the forward timeout');

cmp_ok($p->{calls} // 0, '>=', 5, 'calls for an own room ran meanwhile');
is($p->{answered} // 0, $p->{calls} // -1,
   'each own-room call was answered') or diag(explain $p->{codes});
ok(!grep({ /forwarded/ } keys %{ $p->{workers} || {} })
   && !$p->{codes}{5003999},
   'own-room calls ran where they landed') or diag(explain $p);
cmp_ok($p->{max_ms} // 1e9, '<', 1000,
       'own-room calls were answered within a second during the burst');

like($k->error_log, qr/kraken: forwarded calls failed in the last/,
     'the failures are reported in the error log');

kill 'CONT', $stopped;
ok(KrakenTest::wait_for(sub { proc_state($stopped) ne 'T' }, 5),
   'the owner runs again');

$fwd = KrakenForward::forwarded_call($k, $remote[1], 15);
ok($fwd, 'after SIGCONT forwarded calls are answered again')
    or diag(KrakenTest::tail($k->error_log, 20));
is($fwd && $fwd->{json}{id}, 'fwd', 'with the call\'s id');

is_deeply([$k->worker_pids], \@pids, 'no worker died');
$stopped = 0;

$k->stop;
$k->assert_clean_log;

done_testing;


sub proc_state {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return '';
    my $stat = <$fh> // '';
    close $fh;
    return $stat =~ /^\d+ \(.*\) (\S)/ ? $1 : '';
}
