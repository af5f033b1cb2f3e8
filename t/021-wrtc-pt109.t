# A peer offering Opus on payload type 109 (like Firefox) and one on 111
# (like Chrome) hear each other: each is answered, offered and sent RTP on
# its own payload type.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

plan skip_all => 'npm install in t/js first (make prove does it)'
    unless -d 't/js/node_modules/@roamhq/wrtc';

my $k = KrakenTest->new(workers => 1);

my ($exit, $out, $err) = KrakenTest::run_node('wrtc-pt109.js', $k->url,
                                              4, 500);
my $s = KrakenTest::node_checks($exit, $out, $err, 'wrtc-pt109', min => 12);

# without a summary node_checks failed already: nothing more to judge
my %p = map { ($_->{uid} =~ /^(opus\d+)/)[0] => $_ }
        @{ $s ? $s->{participants} || [] : [] };
ok($p{opus109} && $p{opus111}, 'both participants took part') if $s;
if ($p{opus109} && $p{opus111}) {
    my $h109 = $p{opus109}{heard}{ $p{opus111}{uid} } || {};
    my $h111 = $p{opus111}{heard}{ $p{opus109}{uid} } || {};
    is($h109->{tone}, $p{opus111}{tone}, 'the 109 peer hears 111\'s tone');
    is($h111->{tone}, $p{opus109}{tone}, 'the 111 peer hears 109\'s tone');
    like($s->{localOffer109} // '', qr/^a=rtpmap:109 opus\/48000/m,
         'the 109 peer really offered opus/48000 on 109');
}

$k->stop;
$k->assert_clean_log;

done_testing;
