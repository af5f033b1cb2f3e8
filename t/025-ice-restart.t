# restart [room, uid, track, offer]: an ICE restart answered with new
# credentials and the same DTLS fingerprint; the call goes on.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

my $k = KrakenTest->new(workers => 1);

my ($rc, $out, $err) = KrakenTest::run_node('wrtc-restart.js', $k->url);
KrakenTest::node_checks($rc, $out, $err, 'restart');

$k->stop;
$k->assert_clean_log;

done_testing;
