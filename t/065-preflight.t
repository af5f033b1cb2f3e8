# CORS preflights on a kraken_rpc or kraken_front location are answered
# before limit_req and limit_conn (preaccess) and allow, deny and
# auth_request (access): a browser fails a call whose preflight is not 2xx
# whatever its body, so a 429 or a 401 there is an opaque "Failed to
# fetch" instead of the call's readable envelope. A page of another origin
# in headless Chromium bursts calls, each with its own preflight, past the
# rate limit, through a front and through auth_request: every fetch
# resolves, every body is an envelope, the refusals are 5001429 and
# 5001401. A preflight of an origin kraken_cors_origin does not allow
# still gets its 403 without CORS headers; a front answers preflights
# itself, never proxying them to an engine.

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

my $J = KrakenTest::json;
my $CALLS = 40;
my $ALLOWED = 'https://app.example.org';

my $k = KrakenTest->new(workers => 1, media => 0, http => <<'HTTP',
limit_req_zone   $binary_remote_addr zone=p_rpc:1m rate=2r/s;
    limit_req_zone   $binary_remote_addr zone=p_front:1m rate=2r/s;
    limit_req_zone   $binary_remote_addr zone=p_only:1m rate=1r/m;
    limit_conn_zone  $binary_remote_addr zone=p_addr:1m;
HTTP
    location => <<'LOC',
limit_req          zone=p_rpc burst=5 nodelay;
            limit_conn         p_addr 3;
            limit_req_status   429;
            limit_conn_status  429;
LOC
    server => <<'SERVER');
location = /front {
            kraken_front;
            limit_req         zone=p_front burst=5 nodelay;
            limit_req_status  429;
            proxy_pass          http://127.0.0.1:$server_port/engine;
            proxy_http_version  1.1;
            proxy_set_header    Connection "";
        }

        location = /engine {
            kraken_rpc;
        }

        location = /auth {
            kraken_rpc;
            auth_request  /check;
        }

        location = /check {
            internal;
            if ($http_authorization = "Bearer good") {
                return 204;
            }
            return 401;
        }

        location = /only {
            kraken_rpc;
            kraken_cors_origin  https://app.example.org;
            limit_req           zone=p_only burst=1 nodelay;
            limit_req_status    429;
            allow  192.0.2.1;
            deny   all;
        }
SERVER

sub preflight {
    my ($path, $origin) = @_;
    return $k->request('OPTIONS', $path,
                       { Origin => $origin,
                         'Access-Control-Request-Method' => 'POST',
                         'Access-Control-Request-Headers' =>
                             'content-type' });
}

# 1. kraken_cors_origin keeps its meaning before the guards: the zone of
#    /only is spent (and every address but 192.0.2.1 denied), yet a
#    listed origin gets its preflight and any other its 403
for my $i (1 .. 3) {
    $k->request('POST', '/only', { 'Content-Type' => 'application/json' },
                '{"id":"x","method":"info","params":[]}');
}
my $res = $k->request('POST', '/only', { 'Content-Type' => 'application/json',
                                         Origin => $ALLOWED },
                      '{"id":"x","method":"info","params":[]}');
ok($res->{status} == 429 || $res->{status} == 403,
   "the calls of /only are refused ($res->{status})");

for my $i (1 .. 3) {
    $res = preflight('/only', $ALLOWED);
    is($res->{status}, 200,
       "preflight $i of a listed origin is answered past the guards")
        or diag("$res->{status} $res->{content}");
    is($res->{headers}{'access-control-allow-origin'}, $ALLOWED,
       'with its origin echoed');
    is($res->{headers}{'access-control-max-age'}, '600',
       'cached by the browser for 600 s');
}

$res = preflight('/only', 'https://evil.example');
is($res->{status}, 403, 'an origin not listed gets its 403');
ok(!exists $res->{headers}{'access-control-allow-origin'},
   'without CORS headers');
is_deeply(scalar(eval { $J->decode($res->{content}) }),
          { error => 'origin not allowed' }, 'and is told why');

# an OPTIONS that is no preflight (no Access-Control-Request-Method) is
# not taken out of the guards
$res = $k->request('OPTIONS', '/only', { Origin => $ALLOWED });
is($res->{status}, 429, 'an OPTIONS that is no preflight meets the guards');

# 2. the page
my ($exit, $out, $err) = KrakenTest::run_node('chromium-preflight.js',
                                              $k->url, $CALLS);
my $s = KrakenTest::node_checks($exit, $out, $err, 'chromium-preflight',
                                min => 12);
note('statuses: ' . $J->encode($s->{statuses})) if $s;

# 3. what nginx saw: each call was preflighted, every preflight answered
#    200 where it arrived, none proxied to the engine behind the front
my %pre;
my $ok = KrakenTest::wait_for(sub {
    open my $fh, '<', $k->prefix . '/logs/access.log' or return 0;
    %pre = ();
    while (my $l = <$fh>) {
        next unless $l =~ m{"OPTIONS (/\w*)\?(\w+)=\d+ HTTP/1\.1" (\d+) };
        $pre{"$1 $2"}{$3}++;
    }
    close $fh;
    my $n = 0;
    $n += $_ for map { values %$_ } values %pre;
    $n >= 2 * $CALLS + 11;
}, 10);
note('preflights by location and status: ' . $J->encode(\%pre));

for my $where (['/ rpc', $CALLS], ['/front front', $CALLS],
               ['/auth good', 8], ['/auth bad', 3])
{
    my ($key, $n) = @$where;
    my %got = %{ $pre{$key} // {} };
    my $answered = delete $got{200} // 0;
    ok($answered >= $n && !%got,
       "each of the $n calls to $key was preflighted, every preflight "
       . 'answered 200')
        or diag($J->encode($pre{$key} // {}));
}

open my $fh, '<', $k->prefix . '/logs/access.log' or die $!;
my @engine = grep { m{"OPTIONS /engine} } <$fh>;
close $fh;
is(scalar @engine, 0, 'the front answered its preflights itself: none '
                      . 'reached the engine');

$k->stop;
$k->assert_clean_log(undef,
                     allow => qr{limiting (requests|connections)
                                 |access\ forbidden\ by\ rule
                                 |user\ not\ authorized}x);

done_testing;
