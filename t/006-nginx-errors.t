# The answers nginx itself makes on a kraken_rpc location are Kraken error
# envelopes with the CORS headers, so that a page can read them: 429 from
# limit_req and limit_conn (5001429), a bad request (400, 5001400: a
# broken chunked body, a bad Content-Length refused before the location is
# known) and an internal error (500, 5003500). A page-like client (node's
# fetch with an Origin) bursts calls past the rate limit: every answer has
# CORS and an envelope.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Socket::INET;
use KrakenTest;

plan skip_all => 'npm install in t/js first (make prove does it)'
    unless -d 't/js/node_modules';

my $J = KrakenTest::json;
my $ORIGIN = 'https://app.example.org';

my $k = KrakenTest->new(workers => 1, media => 0, http => <<'HTTP',
limit_req_zone   $binary_remote_addr zone=t_rpc:1m rate=2r/s;
    limit_conn_zone  $binary_remote_addr zone=t_addr:1m;
HTTP
    location => <<'LOC');
limit_req          zone=t_rpc burst=5 nodelay;
            limit_conn         t_addr 8;
            limit_req_status   429;
            limit_conn_status  429;
            client_body_buffer_size  1k;
LOC

# a raw request: (status, headers text, body)
sub raw {
    my ($req) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $k->port,
                                  Proto => 'tcp', Timeout => 10) or die $!;
    local $SIG{PIPE} = 'IGNORE';
    print $s $req;
    local $/;
    my $res = <$s> // '';
    close $s;
    my ($head, $body) = split /\r\n\r\n/, $res, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.\d (\d+)};
    return ($status // 0, $head // '', $body // '');
}

sub envelope_ok {
    my ($label, $status, $head, $body, $code) = @_;
    like($head, qr{\r\nAccess-Control-Allow-Origin: \*\r\n}i,
         "$label: carries Access-Control-Allow-Origin");
    like($head, qr{\r\nContent-Type: application/json}i,
         "$label: is JSON");
    my $j = eval { $J->decode($body) };
    is_deeply($j && $j->{error} && [@{ $j->{error} }{qw(status code)}],
              [$status, $code], "$label: a Kraken envelope, $code")
        or diag("$head\n\n$body");
}

my $head = "Host: localhost\r\nOrigin: $ORIGIN\r\n"
         . "Content-Type: application/json\r\nConnection: close\r\n";

# 1. a chunked body that is not chunked: nginx's 400, in the location
my ($st, $h, $b) = raw("POST / HTTP/1.1\r\n$head"
                       . "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n");
is($st, 400, 'a broken chunked body is 400');
envelope_ok('the 400 of a broken chunked body', 400, $h, $b, 5001400);

# 2. a Content-Length that is no number: refused before the location
($st, $h, $b) = raw("POST / HTTP/1.1\r\n$head"
                    . "Content-Length: 12x\r\n\r\n{}");
is($st, 400, 'a bad Content-Length is 400');
envelope_ok('the 400 of a bad Content-Length', 400, $h, $b, 5001400);

# 3. nginx's 500: the body goes to a temporary file, whose directory is
#    now a plain file
my $tmp = $k->prefix . '/tmp/body';
system('rm', '-rf', $tmp) == 0 or die;
open my $fh, '>', $tmp or die $!;
close $fh;
my $call = $J->encode({ id => 'big', method => 'info',
                        params => [], pad => 'x' x 4000 });
($st, $h, $b) = raw("POST / HTTP/1.1\r\n$head"
                    . 'Content-Length: ' . length($call) . "\r\n\r\n$call");
is($st, 500, 'a body nginx cannot store is its 500');
envelope_ok('the 500', 500, $h, $b, 5003500);

# 4. the burst: 60 calls at once from a page
my ($rc, $out, $err) = KrakenTest::run_node('rate-burst.js', $k->url,
                                            $ORIGIN, 60);
my $sum = KrakenTest::node_checks($rc, $out, $err, 'burst', min => 4);
note('statuses: ' . $J->encode($sum->{statuses})) if $sum;

$k->stop;
$k->assert_clean_log(undef, allow => qr{tmp/body/\d+" failed});

done_testing;
