# Rooms behind one address (an office, campus Wi-Fi, a carrier's NAT): the
# SHIPPED conf/kraken.conf, as it is (only its ports substituted), takes
# 3 rooms of 8 libwebrtc participants from one address, all joining at
# once as kraken.fm does (turn, publish, trickles, subscribe every 3 s,
# answers): every participant hears its room, and nginx's request-rate
# guard (limit_req, limit_conn) refuses none of their calls.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

plan skip_all => 'npm install in t/js first (make prove does it)'
    unless -d 't/js/node_modules/@roamhq/wrtc';

my ($ROOMS, $PEERS, $SECONDS) = (3, 8, 5);

my $k = KrakenTest->new(no_start => 1);
my $p = $k->prefix;

open my $fh, '<', "$KrakenTest::ROOT/conf/kraken.conf" or die $!;
my $conf = do { local $/; <$fh> };
close $fh;

# the ports, nothing else: the modules and the demo page are where the
# shipped conf expects them in its prefix
my $port = $k->port;
my $media = $k->media_port;
$conf =~ s/127\.0\.0\.1:7000;/127.0.0.1:$port;/ or die 'no RPC listen';
$conf =~ s/127\.0\.0\.1:20000 /127.0.0.1:$media / or die 'no media listen';
symlink $KrakenTest::STREAM_MODULE, "$p/modules/ngx_stream_module.so"
    or die $!;
symlink "$KrakenTest::ROOT/conf/html", "$p/html" or die $!;
open $fh, '>', "$p/conf/nginx.conf" or die $!;
print $fh $conf;
close $fh;
$k->start;

my ($exit, $out, $err) = KrakenTest::run_node('wrtc-rooms.js',
    { retries => 0 }, $k->url, $ROOMS, $PEERS, $SECONDS, 3000, 'turn');
my $s = KrakenTest::node_checks($exit, $out, $err, 'one address',
                                min => 12);

my @p = @{ $s ? $s->{participants} || [] : [] };
is(scalar @p, $ROOMS * $PEERS, "$ROOMS x $PEERS participants took part");

my %room_of = map { $_->{uid} => $_->{room} } @p;
for my $q (@p) {
    my @mates = sort grep { $room_of{$_} eq $q->{room} && $_ ne $q->{uid} }
                keys %room_of;
    is_deeply([sort keys %{ $q->{heard} || {} }], \@mates,
              "$q->{uid} hears exactly its room mates");
}

$k->stop;

# the shipped log of the RPC location: every call, with its status
open $fh, '<', "$p/logs/kraken.log" or die "kraken.log: $!";
my @calls = <$fh>;
close $fh;
my @refused = grep { /\] (429|503) / } @calls;
cmp_ok(scalar @calls, '>=', $ROOMS * $PEERS * 3,
       'the calls of every participant are in the log');
is(scalar @refused, 0, 'the guard refused none of them (no 429)')
    or diag(scalar(@refused) . ' of ' . scalar(@calls) . " refused:\n"
            . join '', @refused[0 .. ($#refused < 4 ? $#refused : 4)]);

# calls per second at the busiest second: what the guard must allow
my %per;
for (@calls) {
    $per{$1}++ if /\[([^\]]+)\]/;
}
my ($peak) = sort { $b <=> $a } values %per;
note("$ROOMS x $PEERS from one address: " . scalar(@calls) . ' calls, at'
     . ' most ' . ($peak // 0) . ' in one second');

$k->assert_clean_log;

done_testing;
