# Publishers that vanish are removed on the (shortened) timeouts: one that
# never connects (connect timeout) and one that connects, sends and then
# goes silent without `end` (consent timeout). Both leave `list`, and
# another peer's next subscribe offer retires their m-lines.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

plan skip_all => 'npm install in t/js first (make prove does it)'
    unless -d 't/js/node_modules/@roamhq/wrtc';

my ($CONNECT, $CONSENT) = (5, 3);

my $k = KrakenTest->new(workers => 1, stream => <<"EOF");
kraken_media_connect_timeout  ${CONNECT}s;
kraken_media_consent_timeout  ${CONSENT}s;
EOF

my ($exit, $out, $err) = KrakenTest::run_node('wrtc-timeouts.js', $k->url,
                                              $CONNECT, $CONSENT, 500);
my $s = KrakenTest::node_checks($exit, $out, $err, 'wrtc-timeouts',
                                min => 10);

# without a summary node_checks failed already: nothing more to judge
if ($s) {
    my $t = $s->{times} || {};
    ok(defined $t->{neverRemovedAfterMs}
       && $t->{neverRemovedAfterMs} <= ($CONNECT + 5) * 1000,
       'the never-connecting publisher went on the connect timeout')
        and note("removed $t->{neverRemovedAfterMs} ms after publish");
    ok(defined $t->{silentRemovedAfterMs}
       && $t->{silentRemovedAfterMs} <= ($CONSENT + 5) * 1000,
       'the silent publisher went on the consent timeout')
        and note("removed $t->{silentRemovedAfterMs} ms after it went"
                 . " silent");
}

$k->stop;
$k->assert_clean_log;

done_testing;
