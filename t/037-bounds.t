# The operator's bounds (kraken_room_peers, kraken_worker_rooms,
# kraken_worker_peers, kraken_worker_connecting, kraken_peer_candidates),
# set low, hit one after the other and then flooded while two real calls
# go on in the same worker: each refusal is its Kraken error (5002000 room
# full, 5003000 server busy, 5001002 for candidates), counted in info, the
# calls' audio keeps flowing, and the refusals add nothing to the log.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

plan skip_all => 'npm install in t/js first (make prove does it)'
    unless -d 't/js/node_modules/@roamhq/wrtc';

my $k = KrakenTest->new(workers => 1, stream => <<'CONF');
kraken_room_peers         3;
    kraken_worker_rooms       4;
    kraken_worker_peers       7;
    kraken_worker_connecting  3;
    kraken_peer_candidates    16;
    kraken_closed_peer_time   1s;
CONF

my ($rc, $out, $err) = KrakenTest::run_node('bounds.js', $k->url, 'bounds');
KrakenTest::node_checks($rc, $out, $err, 'bounds', min => 16);

$k->stop;

# some 300 refused calls, and not one of them is a line of the log
my @lines = split /\n/, $k->error_log;
my @told = grep { /room full|server busy|too many candidates/ } @lines;
ok(!@told, 'the refusals are not logged')
    or diag(join "\n", grep { defined } @told[0 .. 4]);
cmp_ok(scalar @lines, '<', 150, 'the error log stays short')
    and note(scalar(@lines) . ' lines in the error log');

$k->assert_clean_log;

done_testing;
