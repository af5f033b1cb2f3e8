# nginx -s reload during a call: the call goes on in the old worker until it
# ends (a latecomer joins it there), new rooms go to the new workers, a
# room never has peers on two workers, the old worker exits after its last
# call.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

my $k = KrakenTest->new(workers => 2,
                        location => 'kraken_info_details on;');

my ($rc, $out, $err) = KrakenTest::run_node('workers.js', $k->url, 'reload',
                                            1, 2, $k->master_pid);
KrakenTest::node_checks($rc, $out, $err, 'reload');

ok(KrakenTest::wait_for(sub { scalar($k->worker_pids) == 2 }, 10),
   'two workers remain after the old generation left');

# an idle reload and quit work too
ok($k->reload, 'nginx -s reload while idle');
ok(KrakenTest::wait_for(sub { scalar($k->worker_pids) == 2 }, 10),
   'the idle old workers exit at once');
my $master = $k->master_pid;
ok($k->signal('quit'), 'nginx -s quit');
ok(KrakenTest::wait_for(sub { !kill 0, $master }, 10), 'the master exits');
$k->{started} = 0;

$k->assert_clean_log;

done_testing;
