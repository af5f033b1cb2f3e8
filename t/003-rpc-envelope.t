# Bodies that are not calls get HTTP 400 JSON; bodies over
# client_max_body_size get 413; other HTTP methods get 404 JSON; OPTIONS
# with an Origin is CORS, and any answer to an Origin echoes it. The
# worker survives all of it and logs nothing serious.

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

$res = $k->post('{"id":"b","method":"list","params":["' . ('x' x 70000)
                . '"]}');
is($res->{status}, 413, 'a body over client_max_body_size is 413');

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
is($res->{headers}{'access-control-allow-origin'}, 'https://kraken.fm',
   'the origin is echoed');
is($res->{headers}{'access-control-allow-headers'},
   'Content-Type,Authorization,Mixin-Conversation-ID', 'allowed headers');
is($res->{headers}{'access-control-allow-methods'},
   'OPTIONS,GET,POST,DELETE', 'allowed methods');
is($res->{headers}{'access-control-max-age'}, '600', 'max age');

$res = $k->post('{"id":"c","method":"info","params":[]}',
                { Origin => 'https://mornin.fm' });
is($res->{headers}{'access-control-allow-origin'}, 'https://mornin.fm',
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

done_testing;
