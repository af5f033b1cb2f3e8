# Kraken's on-track callback, end to end: the room's owner POSTs
# {"rid","uid","cid","action":"ontrack"} to an allowed https url when a
# publisher's first audio arrives, verifies the server's certificate
# (here a throwaway one for 127.0.0.1 that the test trusts; one it does
# not trust, and a trusted one for 127.0.0.2, are refused), and forwards
# the publisher's audio only after a 200; a 500, a timeout, a closed or a
# refused connection close the publisher. Driven by t/js/callback.js
# with libwebrtc peers, against its own small HTTPS server.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

plan skip_all => 'npm install in t/js first'
    unless -d 't/js/node_modules/@roamhq/wrtc';

my $dir = File::Temp::tempdir('kraken-cb-XXXXXX', TMPDIR => 1,
                              CLEANUP => 1);
my $out = `openssl req -x509 -newkey rsa:2048 -nodes -days 1 \\
           -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \\
           -keyout $dir/key.pem -out $dir/cert.pem 2>&1`;
is($?, 0, 'a throwaway certificate for 127.0.0.1') or diag($out);
$out = `openssl req -x509 -newkey rsa:2048 -nodes -days 1 \\
        -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \\
        -keyout $dir/untrusted-key.pem -out $dir/untrusted.pem 2>&1`;
is($?, 0, 'and another one, not trusted') or diag($out);
$out = `openssl req -x509 -newkey rsa:2048 -nodes -days 1 \\
        -subj /CN=127.0.0.2 -addext subjectAltName=IP:127.0.0.2 \\
        -keyout $dir/other-key.pem -out $dir/other.pem 2>&1`;
is($?, 0, 'and a trusted one for 127.0.0.2') or diag($out);
system("cat $dir/cert.pem $dir/other.pem > $dir/trusted.pem") == 0
    or die "cat: $?";

my $cb_port = KrakenTest::free_port('tcp');
my $refused_port = KrakenTest::free_port('tcp');
my $untrusted_port = KrakenTest::free_port('tcp');
my $other_port = KrakenTest::free_port('tcp');

my $k = KrakenTest->new(workers => 2, http => <<"HTTP", location => <<"LOC");
kraken_callback_trusted_certificate  $dir/trusted.pem;
    kraken_callback_timeout  3s;
HTTP
kraken_callback_allow  https://127.0.0.1:$cb_port/cb/
                       https://127.0.0.1:$refused_port/cb/
                       https://127.0.0.1:$untrusted_port/cb/
                       https://127.0.0.1:$other_port/cb/;
LOC

my ($rc, $stdout, $err) = KrakenTest::run_node(
    'callback.js', { retries => 0 }, $k->url, $cb_port, $refused_port,
    "$dir/key.pem", "$dir/cert.pem", $untrusted_port,
    "$dir/untrusted-key.pem", "$dir/untrusted.pem", $other_port,
    "$dir/other-key.pem", "$dir/other.pem");
KrakenTest::node_checks($rc, $stdout, $err, 'callback', min => 18);

like($k->error_log, qr/callback of \S+ refused it: timed out/,
     'the timeout is logged');
like($k->error_log, qr/callback host "127\.0\.0\.1" certificate: self.signed/,
     'and the certificate not trusted');
like($k->error_log, qr/callback host "127\.0\.0\.1" is not in its certificate/,
     'and the certificate for another host');

$k->stop;
$k->assert_clean_log;

done_testing;
