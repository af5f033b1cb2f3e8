# kraken_front on a front's RPC location: what nginx answers there itself
# (413, 400, 429 from limit_req, 502 with the engines down, 504 when they
# do not answer in time) reaches the page as a Kraken envelope with CORS,
# no X-Kraken-* header of the engines (load, room, worker, owner, code)
# reaches a client, and an engine's 404 that survived all tries no longer
# names the engine's address.

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

my $offer = KrakenTest::chromium_offer();
my $jsep = $J->encode({ type => 'offer', sdp => $offer });

my @eng = map {
    KrakenTest->new(workers => 1,
                    location => 'kraken_placement on; '
                              . 'kraken_placement_from 127.0.0.1; '
                              . 'kraken_info_details on;',
                    stream => 'kraken_media_connect_timeout 1h;')
} 1 .. 2;
my @name = map { '127.0.0.1:' . $_->port } @eng;

# nothing listens on $dead; $mute accepts connections and never answers
my $dead = KrakenTest::free_port('tcp');
my $mute = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                 Proto => 'tcp', Listen => 64,
                                 ReuseAddr => 1) or die $!;
my $mute_port = $mute->sockport;

sub upstream {
    my ($name, @servers) = @_;
    return "upstream $name {\n        kraken_balance;\n"
         . join('', map { "        server $_ max_fails=1"
                          . " fail_timeout=30s;\n" } @servers)
         . "    }\n    ";
}

sub location {
    my ($path, $upstream, $extra) = @_;
    $extra //= "";
    return <<"LOC";
location = $path {
            kraken_front;
            proxy_pass  http://$upstream/;
            proxy_http_version  1.1;
            proxy_set_header  Connection "";
            proxy_set_header  X-Kraken-Place \$kraken_place;
            proxy_next_upstream  error timeout http_404 non_idempotent;
            proxy_next_upstream_tries  0;
            proxy_connect_timeout  2s;
            proxy_read_timeout  1s;
            $extra
        }
LOC
}

my $f1 = KrakenTest->new(workers => 1, media => 0,
    http => upstream('both', @name) . upstream('one', $name[0])
          . upstream('dead', "127.0.0.1:$dead")
          . upstream('mute', "127.0.0.1:$mute_port")
          . "limit_req_zone \$binary_remote_addr zone=f_rpc:1m rate=1r/s;",
    server => location('/front', 'both') . location('/one', 'one')
            . location('/dead', 'dead') . location('/mute', 'mute')
            . location('/limited', 'both',
                       "limit_req zone=f_rpc burst=2 nodelay;\n"
                     . "            limit_req_status 429;"));

my $ua = HTTP::Tiny->new(timeout => 15, keep_alive => 0);

sub call {
    my ($path, $body, %h) = @_;
    my $res = $ua->request('POST', 'http://127.0.0.1:' . $f1->port . $path,
        { headers => { 'Content-Type' => 'application/json',
                       Origin => $ORIGIN, %h },
          content => ref $body ? $J->encode($body) : $body });
    my $json = eval { $J->decode($res->{content}) };
    return ($res, $json);
}

sub no_kraken_headers {
    my ($label, $res) = @_;
    my @h = grep { /^x-kraken-/i } keys %{ $res->{headers} };
    ok(!@h, "$label: no X-Kraken-* header reaches the client")
        or diag("@h");
}

sub envelope_ok {
    my ($label, $res, $json, $status, $code) = @_;
    is($res->{status}, $status, "$label: $status");
    is($res->{headers}{'access-control-allow-origin'}, '*',
       "$label: carries Access-Control-Allow-Origin");
    like($res->{headers}{'content-type'} // '', qr{application/json},
         "$label: is JSON");
    is_deeply($json && ref $json->{error} eq 'HASH'
              && [@{ $json->{error} }{qw(status code)}],
              [$status, $code], "$label: a Kraken envelope, $code")
        or diag($res->{content});
    no_kraken_headers($label, $res);
}

# 1. answers of the engines: their CORS, none of their headers for fronts
my $tag = int rand 1e9;
my ($res, $j) = call('/front', { id => 'p', method => 'publish',
                                 params => ["r0-$tag", 'alice', $jsep] });
ok($j && $j->{data}{track}, 'a publish through the front') or
    diag($res->{content});
is($res->{headers}{'access-control-allow-origin'}, '*',
   'the engine\'s answer carries CORS through the front');
no_kraken_headers('a publish', $res);

($res, $j) = call('/front', { id => 'e', method => 'publish',
                              params => ["r0-$tag"] });
is($j && $j->{error}{code}, 5001000, 'an engine\'s Kraken error');
no_kraken_headers('an engine\'s Kraken error', $res);

# 2. a 404 that survives all tries: a room placed on engine 2, called
#    through a location whose upstream has engine 1 only; engine 1 keeps
#    the placement record of about half the rooms
my $found;
for my $r (1 .. 32) {
    my $room = "r$r-$tag";
    my (undef, $p) = call('/front', { id => 'p', method => 'publish',
                                      params => [$room, 'bob', $jsep] });
    next unless $p && $p->{data};
    ($res, $j) = call('/one', { id => 'l', method => 'list',
                                params => [$room] });
    next unless $res->{status} == 404;
    $found = $room;
    last;
}

# else a record made on engine 1 for engine 2, as a front would make it
unless ($found) {
    my $room = "placed-$tag";
    HTTP::Tiny->new(timeout => 10)->request('POST', $eng[0]->url,
        { headers => { 'Content-Type' => 'application/json',
                       'X-Kraken-Place' => $name[1] },
          content => $J->encode({ id => 'x', method => 'list',
                                  params => [$room] }) });
    ($res, $j) = call('/one', { id => 'l', method => 'list',
                                params => [$room] });
    $found = $room if $res->{status} == 404;
}
ok($found, 'a room whose record names an engine this location lacks')
    or diag('no 404 in 32 rooms, nor for a record made directly');
SKIP: {
    skip 'no 404 to look at', 6 unless $found;
    envelope_ok('the last 404', $res, $j, 404, 5002001);
    unlike($res->{content}, qr/127\.0\.0\.1|:\d{4,5}\b/,
           'the 404 names no engine address') or diag($res->{content});
}

# 3. nginx's own answers on the front
($res, $j) = call('/front', '{"id":"big","method":"list","params":["'
                            . ('x' x 70000) . '"]}');
envelope_ok('a body too large for the front', $res, $j, 413, 5001413);

($res, $j) = call('/dead', { id => 'd', method => 'list',
                             params => ["r0-$tag"] });
envelope_ok('the engines down', $res, $j, 502, 5003502);
is($j && $j->{id}, 'd', 'the 502 echoes the call\'s id');

($res, $j) = call('/mute', { id => 'm', method => 'list',
                             params => ["r0-$tag"] });
envelope_ok('an engine that does not answer', $res, $j, 504, 5003504);

{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $f1->port,
                                  Proto => 'tcp', Timeout => 10) or die $!;
    local $SIG{PIPE} = 'IGNORE';
    print $s "POST /front HTTP/1.1\r\nHost: f\r\nOrigin: $ORIGIN\r\n"
           . "Content-Type: application/json\r\nConnection: close\r\n"
           . "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n";
    local $/;
    my $raw = <$s> // '';
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    like($head, qr{^HTTP/1\.1 400 }, 'a broken chunked body at the front');
    like($head, qr{\r\nAccess-Control-Allow-Origin: \*\r\n}i,
         'its 400 carries CORS');
    like($body // '', qr/^\{"error":\{"status":400,"code":5001400,/,
         'and is an envelope');
}

# 4. a page's burst past the front's rate limit
my ($rc, $out, $err) = KrakenTest::run_node('rate-burst.js',
    'http://127.0.0.1:' . $f1->port . '/limited', $ORIGIN, 30);
my $sum = KrakenTest::node_checks($rc, $out, $err, 'burst at the front',
                                  min => 4);
is_deeply($sum && $sum->{kraken_headers}, [],
          'no X-Kraken-* header in any answer of the burst');

close $mute;
for my $k ($f1, @eng) {
    $k->stop;
}
$f1->assert_clean_log;
$_->assert_clean_log for @eng;

done_testing;
