# The last test of a run: no nginx that a test started is left running.
# Every test stops what it started, also when it fails or is interrupted
# (KrakenTest's teardown: END and INT/TERM/HUP); one left behind here
# would hold its ports for every later run. Each prefix names the test
# that made it (kraken-t-NAME-XXXXXX), so the failure names it. Only this
# network namespace is looked at: `make prove` runs the whole suite in
# one, and other runs on the machine have their own.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use KrakenTest;

# every nginx of this namespace on a test's prefix, and their workers:
# [pid, command line, 1 for a master, parent pid]
my @left = KrakenTest::prefix_nginx();

for my $p (grep { $_->[2] } @left) {
    my ($pid, $cmd, $master) = @$p;
    my ($prefix) = $cmd =~ m{(/\S*/kraken-(?:t|deb-nginx)-[^/ ]+)/};
    my ($test) = ($prefix // '') =~ m{/kraken-t-(.+)-[^-]+$};
    $test //= ($prefix // '') =~ /deb-nginx/ ? '070-deb' : 'an older harness';
    fail("t/$test.t left nginx running: " . ($master ? 'master' : 'worker')
         . " $pid, prefix $prefix" . (-d $prefix ? '' : ' (deleted)'));
}
ok(!@left, 'no nginx of a test is left running in this namespace');

# and nothing of them outlives the run
if (@left) {
    kill 'KILL', map { $_->[0] } @left;
    my $end = time + 5;
    sleep 0.1 while KrakenTest::prefix_nginx() && time < $end;
}

done_testing;
