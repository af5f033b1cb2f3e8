# The shared registry of rooms full (a small kraken_shm_size, two workers):
# a publish that would create one more room is 5003000 "server busy: room
# registry full", however many come, while a real call goes on; rooms it
# holds still take peers, and once rooms are gone it takes new ones again.
# info lists at most 100 rooms of a worker. The log tells the operator
# once, without a crit line.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

plan skip_all => 'npm install in t/js first (make prove does it)'
    unless -d 't/js/node_modules/@roamhq/wrtc';

# about 350 rooms, more than info lists for one worker
my $k = KrakenTest->new(workers => 2, location => 'kraken_info_details on;',
                        main => 'kraken_shm_size 256k;',
                        stream => 'kraken_media_closed_peer_time 1s;');

my ($rc, $out, $err) = KrakenTest::run_node('bounds.js', $k->url,
                                            'registry');
KrakenTest::node_checks($rc, $out, $err, 'registry', min => 9);

$k->stop;

# once a minute at most, per worker
my @lines = split /\n/, $k->error_log;
my @full = grep { /registry of rooms is full/ } @lines;
ok(@full >= 1 && @full <= 2, 'the full registry is told once per worker')
    or diag(scalar(@full) . " lines:\n"
            . join "\n", grep { defined } @full[0 .. 4]);
like($full[0] // '', qr/\[warn\].*kraken_shm_size holds \d+/,
     'a warning naming the directive to raise');

$k->assert_clean_log('no crit line from the full zone');

done_testing;
