# Two rooms of four libwebrtc peers (@roamhq/wrtc), each peer sending its
# own tone: every peer hears exactly the three others of its room, by msid
# stream id and by tone, and nothing from the other room.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

plan skip_all => 'npm install in t/js first (make prove does it)'
    unless -d 't/js/node_modules/@roamhq/wrtc';

my ($ROOMS, $PEERS, $SECONDS) = (2, 4, 5);

my $k = KrakenTest->new(workers => 1);

my ($exit, $out, $err) = KrakenTest::run_node('wrtc-rooms.js', $k->url,
                                              $ROOMS, $PEERS, $SECONDS, 500);
my $s = KrakenTest::node_checks($exit, $out, $err, 'wrtc-rooms', min => 12);

# without a summary node_checks failed already: nothing more to judge
my @p = @{ $s ? $s->{participants} || [] : [] };
is(scalar @p, $ROOMS * $PEERS, "$ROOMS x $PEERS participants took part")
    if $s;

my %room_of = map { $_->{uid} => $_->{room} } @p;
my %tone_of = map { $_->{uid} => $_->{tone} } @p;

for my $p (@p) {
    my @mates = sort grep { $room_of{$_} eq $p->{room} && $_ ne $p->{uid} }
                keys %room_of;
    is_deeply([sort keys %{ $p->{heard} }], \@mates,
              "$p->{uid} hears exactly its room mates");
    is_deeply([map { $p->{heard}{$_} ? $p->{heard}{$_}{tone} : undef }
               @mates], [map { $tone_of{$_} } @mates],
              "$p->{uid} hears each mate's own tone");
}

$k->stop;
$k->assert_clean_log;

done_testing;
