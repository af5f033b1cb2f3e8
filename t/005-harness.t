# The harness itself: a node client that dies by a signal (libwebrtc does,
# at times, in its teardown) is judged by its summary when it printed one,
# is run again when it did not, and is reported as a client crash, not a
# server verdict, only when it keeps dying; a client whose own check fails
# is a failure whether it crashed afterwards or not. Real node processes
# (t/js/crash-probe.js) that kill themselves with SIGSEGV, and a real nginx
# whose peer from a dead run is forgotten before the run again.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use KrakenTest;

my $dir = tempdir('kraken-harness-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $n = 0;

# (rc, out, err, run, verdict, runs counted by the probe, run_node's diag
# lines: kept here, not shown, as these crashes are the expected ones)
sub probe {
    my ($mode, @args) = @_;
    my $runs = "$dir/runs" . ++$n;
    my $tb = Test::More->builder;
    my $shown = $tb->failure_output;
    my $diag = '';

    $tb->failure_output(\$diag);
    my ($rc, $out, $err, $run) = KrakenTest::run_node('crash-probe.js',
        { timeout => 30 }, $mode, $runs, @args);
    $tb->failure_output($shown);
    note($diag =~ s/^# //mgr) if $diag;

    my $v = KrakenTest::node_verdict($rc, $out, $err);
    open my $fh, '<', $runs or die "$runs: $!";
    my @lines = <$fh>;
    return ($rc, $out, $err, $run, $v, scalar @lines, $diag);
}


my ($rc, $out, $err, $run, $v, $runs, $diag) = probe('pass');
is($rc, 0, 'a passing client exits 0');
ok($v->{passed} && !$run->{teardown} && $runs == 1,
   'it is a pass, run once');
is($diag, '', 'with nothing to say about it');
KrakenTest::node_checks($rc, $out, $err, 'pass', min => 2);

($rc, $out, $err, $run, $v, $runs, $diag) = probe('crash-after');
is_deeply($run->{signals}, [11], 'a client that crashes after its summary'
                                 . ' died of SIGSEGV');
ok($run->{teardown} && $run->{signal} == 0 && $runs == 1,
   'it is not run again: the summary is its verdict');
is($rc, 0, 'its exit code is its summary\'s: 0');
ok($v->{passed}, 'its passing summary is a pass');
like($diag, qr/died by signal 11 after printing its summary \(a crash in/,
     'with a diag note that it crashed in its teardown');
KrakenTest::node_checks($rc, $out, $err, 'crash-after', min => 2);

($rc, $out, $err, $run, $v, $runs, $diag) = probe('crash-once');
is($runs, 2, 'a client that crashes before its summary is run again');
like($diag, qr/signal 11 before printing its summary \(attempt 1 of 3\):/,
     'with a diag line saying so');
ok($run->{attempts} == 2 && $run->{signal} == 0 && $rc == 0,
   'and its second, clean run is the one judged');
KrakenTest::node_checks($rc, $out, $err, 'crash-once', min => 2);

($rc, $out, $err, $run, $v, $runs, $diag) = probe('crash-before');
is($runs, 3, 'a client that keeps crashing runs three times in all');
is(scalar(() = $diag =~ /running it again against the same server/g), 2,
   'with a diag line for each of the two runs again');
is_deeply($run->{signals}, [11, 11, 11], 'each run died of SIGSEGV');
is($rc, 128 + 11, 'run_node returns 128 + the signal');
ok($v->{client_crash} && !$v->{passed} && !$v->{summary},
   'the verdict is a client crash, not a pass');
is($v->{failure}, 'test client crashed (signal 11), not a server verdict',
   'and says so plainly');

($rc, $out, $err, $run, $v, $runs) = probe('fail');
ok($rc == 1 && !$v->{passed} && !$v->{client_crash},
   'a client whose check fails is a failure');
like($v->{failure} // '', qr/the probe's own check/, 'naming the check');

($rc, $out, $err, $run, $v, $runs) = probe('crash-after-fail');
ok($run->{teardown} && $runs == 1,
   'a failing client that crashes after its summary is not run again');
ok($rc == 1 && !$v->{passed} && !$v->{client_crash},
   'and is still a failure, not a client crash');
like($v->{failure} // '', qr/the probe's own check/, 'naming the check');


# A run again meets the same server, once it forgot the dead run's peers
# (here a peer that never connects, gone on a 2 s connect timeout).
my $k = KrakenTest->new(workers => 1,
                        stream => "kraken_media_connect_timeout 2s;");

($rc, $out, $err, $run, $v, $runs, $diag) = probe('publish-crash', $k->url);
is($runs, 2, 'a client that published and crashed is run again');
my ($waited) = $diag =~ /forgot the dead client's peers after ([\d.]+) s/;
ok(defined $waited && $waited >= 1,
   'once the server forgot its peer (its connect timeout)')
    or diag($diag);
KrakenTest::node_checks($rc, $out, $err, 'publish-crash', min => 1);

$k->stop;
$k->assert_clean_log;


# What prove sees: node_checks in a test file of its own, for each kind of
# client; the assertions after it (the server's, in a real test) still run.
my $file = "$dir/inner.t";
open my $fh, '>', $file or die $!;
print $fh <<'EOF';
use strict;
use warnings;
use Test::More;
use KrakenTest;
my $n = 0;
for my $mode (@ARGV) {
    my ($rc, $out, $err) = KrakenTest::run_node('crash-probe.js',
        { timeout => 30 }, $mode, $ENV{RUNS} . ++$n);
    KrakenTest::node_checks($rc, $out, $err, $mode);
    pass("$mode: the server's assertions still run");
}
done_testing;
EOF
close $fh;

my @modes = qw(crash-before fail crash-after-fail crash-after);
my $cmd = "RUNS=$dir/inner $^X -I$KrakenTest::ROOT/t/lib $file @modes 2>&1";
my $tap = qx($cmd);
my @not_ok = $tap =~ /^not ok \d+ - (.*)$/mg;

is_deeply(\@not_ok,
          ['crash-before: test client crashed (signal 11), not a server'
           . ' verdict',
           'fail: the probe\'s own check', 'fail exits 0',
           'crash-after-fail: the probe\'s own check',
           'crash-after-fail exits 0'],
          'in TAP: the crash is one plain failure, check failures stay'
          . ' failures, a crash after a passing summary is none')
    or diag($tap);
is(scalar(() = $tap =~ /running it again against the same server/g), 2,
   'in TAP: a diag line for each of the two runs again');
like($tap, qr/died by signal 11 after printing its summary/,
     'in TAP: a diag note for a crash in teardown');
is(scalar(() = $tap =~ /^ok \d+ - \S+: the server's assertions still run$/mg),
   4, 'in TAP: the assertions after each client all run');

done_testing;
