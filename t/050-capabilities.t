# Tracks are capabilities. Two libwebrtc participants talk in a room; an
# outsider gathers everything the server shows (info, also with
# kraken_info_details on, list, turn, the descriptions of wrong calls) and
# everything the other participant sees (its subscribe offers' msid
# values, its own track), and tries each string as the victim's track on
# end, restart, answer, trickle and subscribe: all are 5002003, and the
# victim keeps talking. Its client rejoining after 5002002 still can, and
# so can a kraken.fm page reloaded with the same uid. info shows no room
# id by default, and no log line holds a track.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

plan skip_all => 'npm install in t/js first (make prove does it)'
    unless -d 't/js/node_modules/@roamhq/wrtc';

# two workers: calls land on either one and are forwarded to the room's
my $k = KrakenTest->new(workers => 2, server => <<'SERVER');
location = /details {
            kraken_rpc;
            kraken_info_details on;
        }
SERVER

my $details = 'http://127.0.0.1:' . $k->port . '/details';
my ($rc, $out, $err) = KrakenTest::run_node('wrtc-capabilities.js', $k->url,
                                            $details, 300);
my $s = KrakenTest::node_checks($rc, $out, $err, 'capabilities', min => 16);

$k->stop;

# the lead's engine logs public ids only: no track in the log
my @secrets = grep { defined && length } @{ $s ? $s->{secrets} || [] : [] };
my $log = $k->error_log;
is(scalar @secrets, 4, 'the script told the tracks it held') if $s;
ok(!grep({ index($log, $_) >= 0 } @secrets),
   'no track publish returned appears in the error log (info level)');

$k->assert_clean_log;

done_testing;
