# kill -9 of one worker mid-call: the master respawns it, the rooms on the
# other workers hear no gap over 200 ms (from received packet timestamps),
# the killed rooms' clients get 5002001, rejoin and are heard again.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

my $k = KrakenTest->new(workers => 4,
                        location => 'kraken_info_details on;');
my @before = $k->worker_pids;

my ($rc, $out, $err) = KrakenTest::run_node('workers.js', $k->url, 'kill',
                                            6, 2);
KrakenTest::node_checks($rc, $out, $err, 'kill');

ok(KrakenTest::wait_for(sub { scalar($k->worker_pids) == 4 }, 10),
   'the master runs four workers again');
isnt(join(',', $k->worker_pids), join(',', @before), 'one is new');
like($k->error_log, qr/exited on signal 9/, 'the master saw the kill');

$k->stop;

# the kill itself is an alert; nothing else may be
my @bad = grep { /\[(crit|alert|emerg)\]/ && !/exited on signal 9/ }
          split /\n/, $k->error_log;
ok(!@bad, 'no other crit, alert or emerg in the error log')
    or diag(join "\n", @bad);

done_testing;
