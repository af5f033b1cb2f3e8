# The last test of a run: no nginx that a test started is left running.
# Every test stops what it started, also when it fails or is interrupted
# (KrakenTest's teardown: END and INT/TERM/HUP); one left behind here
# would hold its ports for every later run. Each prefix names the test
# that made it (kraken-t-NAME-XXXXXX), so the failure names it. Only this
# network namespace is looked at: `make prove` runs the whole suite in
# one, and other runs on the machine have their own.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(time sleep);

# [pid, command line, 1 for a master] of every nginx of this namespace
# that runs on a test's prefix (and is not a zombie)
sub leftovers {
    my $ns = readlink '/proc/self/ns/net' // '';
    my (@nginx, @found, %master);

    opendir my $dh, '/proc' or return ();
    for my $pid (grep { /^\d+$/ } readdir $dh) {
        open my $fh, '<', "/proc/$pid/cmdline" or next;
        my $cmd = do { local $/; <$fh> } // '';
        close $fh;
        next unless $cmd =~ /^nginx: |nginx\0/;
        $cmd =~ tr/\0/ /;
        next unless (readlink("/proc/$pid/ns/net") // '') eq $ns;
        open $fh, '<', "/proc/$pid/stat" or next;
        my $stat = <$fh> // '';
        close $fh;
        next if $stat =~ /^\d+ \(.*\) Z /s;
        my ($ppid) = $stat =~ /^\d+ \(.*\) \S (\d+)/s;
        push @nginx, [$pid, $cmd, $cmd =~ /master process/ ? 1 : 0,
                      $ppid // 0];
    }
    closedir $dh;

    for my $p (@nginx) {
        next unless $p->[1] =~ m{/kraken-(?:t|deb-nginx)-[^/ ]+/};
        push @found, $p;
        $master{$p->[0]} = 1;
    }

    # their workers, whose command line names no prefix: killed with them
    push @found, grep { $master{$_->[3]} && !$master{$_->[0]} } @nginx;

    return @found;
}

my @left = leftovers();

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
    sleep 0.1 while leftovers() && time < $end;
}

done_testing;
