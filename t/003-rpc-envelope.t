# Bodies that are not calls get HTTP 400 JSON; bodies over
# client_max_body_size get 413 JSON with the CORS headers; other HTTP
# methods get 404 JSON; OPTIONS with an Origin is CORS, and any answer to
# an Origin allows it with "*" (never credentials), unless
# kraken_cors_origin names the origins allowed: then others get 403 and
# their calls do not run. The worker survives all of it and logs nothing
# serious.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

my $k = KrakenTest->new(workers => 1);
my @pids = $k->worker_pids;
my $J = KrakenTest::json();

my @bad = (
    ['malformed JSON', '{"id":"1","method":'],
    ['an empty body', ''],
    ['binary garbage', join('', map { chr(int(rand(256))) } 1 .. 2000)],
    ['nesting deeper than cJSON allows', ('[' x 5000) . (']' x 5000)],
    ['an array instead of an object', '[1,2,3]'],
    ['a string instead of an object', '"call"'],
    ['a numeric id', '{"id":1,"method":"info","params":[]}'],
    ['a numeric method', '{"id":"1","method":2,"params":[]}'],
    ['params as an object', '{"id":"1","method":"info","params":{}}'],
);

for my $b (@bad) {
    my ($name, $body) = @$b;
    my $res = $k->post($body);
    is($res->{status}, 400, "$name: HTTP 400");
    my $json = eval { $J->decode($res->{content}) };
    ok($json && defined $json->{error} && !ref $json->{error},
       "$name: {\"error\": \"...\"}") or diag($res->{content});
    like($res->{headers}{'content-type'}, qr{application/json},
         "$name: JSON content type");
}

my $res = $k->post('{"id":"t","method":"info","params":[]} trailing');
is($res->{status}, 200, 'trailing bytes after the call are ignored, as Go');

$res = $k->post('{"method":"info","params":null}');
ok($J->decode($res->{content})->{data}, 'null params are no params');

my $big = '{"id":"b","method":"list","params":["' . ('x' x 70000) . '"]}';
$res = $k->post($big);
is($res->{status}, 413, 'a body over client_max_body_size is 413');

$res = $k->post($big, { Origin => 'https://kraken.fm' });
is($res->{status}, 413, 'a body too large from a page is 413');
is($res->{headers}{'access-control-allow-origin'}, '*',
   'the 413 carries the CORS headers, so a browser client can read it');
is($res->{headers}{'access-control-allow-headers'},
   'Content-Type,Authorization,Mixin-Conversation-ID',
   'the 413 has the allowed headers');
like($res->{headers}{'content-type'}, qr{application/json},
     'the 413 is JSON');
is_deeply(scalar(eval { $J->decode($res->{content}) }),
          { error => { status => 413, code => 5001413,
                       description => 'request body too large' } },
          'the 413 says why, in a Kraken envelope') or diag($res->{content});

# a chunked body is found too large while it is read, in the handler
my $chunked = chunked_post($k->port, '/', 'https://kraken.fm', $big);
like($chunked, qr{^HTTP/1\.1 413 }, 'a chunked body too large is 413');
like($chunked, qr{\r\nAccess-Control-Allow-Origin: \*\r\n}i,
     'with the CORS headers');
like($chunked, qr{\r\n\r\n\{"error":\{"status":413,"code":5001413,
                  "description":"request\ body\ too\ large"\}\}$}x,
     'and the envelope');

for my $m (qw(GET PUT DELETE PATCH)) {
    $res = $k->request($m, '/', {});
    is($res->{status}, 404, "$m is 404");
    is_deeply(eval { $J->decode($res->{content}) }, { error => 'not found' },
              "$m says not found in JSON");
}

$res = $k->request('OPTIONS', '/', {});
is($res->{status}, 404, 'OPTIONS without an Origin is not CORS');

$res = $k->request('OPTIONS', '/', { Origin => 'https://kraken.fm' });
is($res->{status}, 200, 'CORS preflight is 200');
is($res->{content}, '{}', 'with {}');
is($res->{headers}{'access-control-allow-origin'}, '*',
   'any origin is allowed, as "*": never with credentials');
ok(!exists $res->{headers}{'access-control-allow-credentials'},
   'no credentials are allowed');
is($res->{headers}{'access-control-allow-headers'},
   'Content-Type,Authorization,Mixin-Conversation-ID', 'allowed headers');
is($res->{headers}{'access-control-allow-methods'},
   'OPTIONS,GET,POST,DELETE', 'allowed methods');
is($res->{headers}{'access-control-max-age'}, '600', 'max age');

$res = $k->post('{"id":"c","method":"info","params":[]}',
                { Origin => 'https://mornin.fm' });
is($res->{headers}{'access-control-allow-origin'}, '*',
   'a POST with an Origin has CORS headers');

$res = $k->post('{"id":"c","method":"info","params":[]}');
ok(!exists $res->{headers}{'access-control-allow-origin'},
   'a POST without an Origin has none');

# garbage datagrams at the media port harm nothing either
my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $k->media_port,
                                 Proto => 'udp') or die $!;
for my $i (1 .. 300) {
    $sock->send(join('', map { chr(int(rand(256))) } 1 .. 1 + $i % 400));
}
$sock->send("\x00\x01\x00\x00\x21\x12\xa4\x42" . ('x' x 12));  # short STUN
ok(KrakenTest::wait_for(sub {
    my (undef, $i) = $k->rpc('info', []);
    my $c = $i->{data}{counters};
    $c->{malformed} + $c->{unknown_source} + $c->{stun_bad} >= 290;
}, 5), 'garbage datagrams are dropped and counted');

is_deeply([$k->worker_pids], \@pids, 'the worker survived all of it');
$k->stop;
$k->assert_clean_log;

# kraken_cors_origin: a list of origins, literal or one through a map
my $r = KrakenTest->new(workers => 1, http => <<'HTTP', location => <<'LOC');
map $http_origin $kraken_test_origin {
        ~^https://[a-z]+\.example\.org$  $http_origin;
    }
HTTP
kraken_cors_origin https://kraken.fm $kraken_test_origin;
LOC
my $offer = KrakenTest::chromium_offer();
my $publish = $J->encode({ id => 'p', method => 'publish',
                           params => ['cors-room', 'mallory',
                                      $J->encode({ type => 'offer',
                                                   sdp => $offer })] });
my $only = sub {
    my ($method, $origin, $body) = @_;
    return $r->request($method, '/',
                       { 'Content-Type' => 'application/json',
                         ($origin ? (Origin => $origin) : ()) }, $body);
};

for my $o ('https://kraken.fm', 'https://app.example.org') {
    $res = $only->('POST', $o, '{"id":"o","method":"info","params":[]}');
    is($res->{status}, 200, "a listed origin may call ($o)");
    is($res->{headers}{'access-control-allow-origin'}, $o,
       "a listed origin is echoed ($o)");
    like($res->{headers}{vary} // '', qr/Origin/, 'with Vary: Origin');
}

$res = $only->('OPTIONS', 'https://kraken.fm');
is($res->{status}, 200, 'a listed origin gets its preflight');

for my $o ('https://evil.example', 'https://kraken.fm.evil.example',
           'https://app.example.org.evil', 'null')
{
    $res = $only->('POST', $o, $publish);
    is($res->{status}, 403, "an origin not listed gets 403 ($o)");
    ok(!exists $res->{headers}{'access-control-allow-origin'},
       "and no CORS headers ($o)");
    is_deeply(scalar(eval { $J->decode($res->{content}) }),
              { error => 'origin not allowed' }, "and says why ($o)");
}

$res = $only->('OPTIONS', 'https://evil.example');
is($res->{status}, 403, 'an origin not listed gets no preflight');

(undef, my $list) = $r->rpc('list', ['cors-room']);
is_deeply($list->{data}{peers}, [],
          'the publish of an origin not listed did not run');

$res = $only->('POST', undef, '{"id":"o","method":"info","params":[]}');
is($res->{status}, 200, 'a call without an Origin (not a browser) runs');

$r->stop;
$r->assert_clean_log;

# an origin is scheme://host[:port]: a path is a configuration error
my $bad = KrakenTest->new(workers => 1, media => 0, no_start => 1,
    location => 'kraken_cors_origin https://a.example/;');
my $t = `$KrakenTest::NGINX -t -p @{[$bad->prefix]}/ -c conf/nginx.conf 2>&1`;
like($t, qr{"https://a\.example/" is not an origin},
     'kraken_cors_origin refuses an origin with a path');

done_testing;


# POST $body with Transfer-Encoding: chunked; the raw answer
sub chunked_post {
    my ($port, $path, $origin, $body) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Proto => 'tcp', Timeout => 10) or die $!;
    my $req = "POST $path HTTP/1.1\r\nHost: localhost\r\n"
            . "Origin: $origin\r\nContent-Type: application/json\r\n"
            . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";

    for (my $i = 0; $i < length $body; $i += 8192) {
        my $c = substr($body, $i, 8192);
        $req .= sprintf("%x\r\n%s\r\n", length $c, $c);
    }
    $req .= "0\r\n\r\n";

    local $SIG{PIPE} = 'IGNORE';
    $s->send($req);
    local $/;
    my $res = <$s> // '';
    close $s;
    return $res;
}
