# Three headless Chromium participants on the demo page served by the same
# nginx (GET /?room=NAME): each hears both others; one clicks Leave and the
# others' next subscribe retires it; it clicks Join again and is heard again.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

my $chromium = $ENV{CHROMIUM} || '/usr/lib/chromium/chromium';

plan skip_all => 'npm install in t/js first (make prove does it)'
    unless -d 't/js/node_modules/playwright-core';
plan skip_all => "no Chromium at $chromium (apt-get install chromium)"
    unless -x $chromium;

my $k = KrakenTest->new(workers => 1, demo => 1);

my ($exit, $out, $err) = KrakenTest::run_node('chromium-room.js', $k->url,
                                              500);
my $s = KrakenTest::node_checks($exit, $out, $err, 'chromium-room',
                                min => 19);

# without a summary node_checks failed already: nothing more to judge
my @users = @{ $s ? $s->{users} || [] : [] };
is(scalar(grep { ($_->{uid} // '') =~ /^[A-Za-z0-9._~-]+$/ } @users), 3,
   'the page made three uids that pass Kraken\'s id check') if $s;

$k->stop;
$k->assert_clean_log;

done_testing;
