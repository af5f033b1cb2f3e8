# Kraken's parameter checks, method by method: the valid shape, every wrong
# count, every wrong type, bad ids (a NUL in any id too) and bad SDP JSON,
# each with the exact code and status, HTTP 200, the id echoed. info shows
# aggregate figures only, unless kraken_info_details is on. Then the
# worker is unharmed.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

my $k = KrakenTest->new(workers => 1);
my @pids = $k->worker_pids;
my $J = KrakenTest::json();

my $offer = KrakenTest::chromium_offer();
my $jsep_offer = $J->encode({ type => 'offer', sdp => $offer });
my $jsep_answer = $J->encode({ type => 'answer', sdp => $offer });

my $INVALID = 5001000;
my $SDP = 5001001;
my $CAND = 5001002;
my $NOT_FOUND = 5002001;

# [name, method, params, code (0: success), description pattern]
my @cases = (
    # publish: >= 3, limit and callback only when exactly 5
    ['publish with no params', 'publish', [], $INVALID, qr/count 0/],
    ['publish with 2 params', 'publish', ['r', 'u'], $INVALID, qr/count 2/],
    ['publish with a numeric rid', 'publish', [1, 'u', $jsep_offer],
     $INVALID, qr/rid type/],
    ['publish with a null uid', 'publish', ['r', undef, $jsep_offer],
     $INVALID, qr/uid type/],
    ['publish with an object sdp', 'publish', ['r', 'u', {}],
     $INVALID, qr/sdp type/],
    ['publish with a non-numeric limit', 'publish',
     ['r', 'u', $jsep_offer, 'x', 'https://a'], $INVALID, qr/limit/],
    ['publish with a fractional limit', 'publish',
     ['r', 'u', $jsep_offer, 2.5, 'https://a'], $INVALID, qr/limit/],
    ['publish with a boolean limit', 'publish',
     ['r', 'u', $jsep_offer, JSON::PP::true, 'https://a'], $INVALID,
     qr/limit/],
    ['publish with a numeric callback', 'publish',
     ['r', 'u', $jsep_offer, 1, 5], $INVALID, qr/callback type/],
    ['publish with a non-https callback is invalid params', 'publish',
     ['r', 'u', $jsep_offer, 1, 'http://a'], $INVALID,
     qr/callback value/],
    ['publish with a callback not allowed is refused', 'publish',
     ['r', 'u', $jsep_offer, '3', 'https://example.invalid/cb'], $INVALID,
     qr/invalid callback, not allowed/],
    ['publish ignores a 4th param when there are 4', 'publish',
     ['r', 'a b', $jsep_offer, 'x'], $INVALID, qr/uid format/],
    ['publish with a space in the uid', 'publish',
     ['r', 'a b', $jsep_offer], $INVALID, qr/uid format/],
    ['publish with a lower-case escape in the rid', 'publish',
     ['a%3a', 'u', $jsep_offer], $INVALID, qr/rid format/],
    ['publish with a broken escape in the rid', 'publish',
     ['a%zz', 'u', $jsep_offer], $INVALID, qr/rid format/],
    ['publish with a 257-byte rid', 'publish',
     ['r' x 257, 'u', $jsep_offer], $INVALID, qr/rid format/],
    ['publish with sdp that is not JSON', 'publish', ['r', 'u', 'v=0'],
     $SDP, qr/./],
    ['publish with an answer instead of an offer', 'publish',
     ['r', 'u', $jsep_answer], $SDP, qr/type/],
    ['publish with JSON null sdp', 'publish', ['r', 'u', 'null'],
     $SDP, qr/type/],
    ['publish with an unparseable offer', 'publish',
     ['r', 'u', $J->encode({ type => 'offer', sdp => "x=1\r\n" })],
     $SDP, qr/./],
    ['publish with a kraken.fm id and a real offer', 'publish',
     ['uuid%3Abase64%3D%3D', 'peer-%3A1', $jsep_offer], 0],

    # restart: exactly 4
    ['restart with 3 params', 'restart', ['r', 'u', 'c'], $INVALID,
     qr/count 3/],
    ['restart with a numeric cid', 'restart', ['r', 'u', 1, 'x'], $INVALID,
     qr/cid type/],
    ['restart with a numeric jsep', 'restart', ['r', 'u', 'c', 1],
     $INVALID, qr/jsep type/],
    ['restart of an unknown peer', 'restart', ['r', 'u', 'c', $jsep_offer],
     $NOT_FOUND],
    ['restart of an unknown peer looks it up before the offer', 'restart',
     ['r', 'u', 'c', 'not json'], $NOT_FOUND],

    # end: exactly 3
    ['end with 2 params', 'end', ['r', 'u'], $INVALID, qr/count 2/],
    ['end with 4 params', 'end', ['r', 'u', 'c', 'd'], $INVALID,
     qr/count 4/],
    ['end with a numeric uid', 'end', ['r', 2, 'c'], $INVALID,
     qr/uid type/],
    ['end of an unknown peer', 'end', ['r', 'u', 'c'], $NOT_FOUND],

    # trickle: exactly 4; null or empty candidates succeed before lookup
    ['trickle with 3 params', 'trickle', ['r', 'u', 'c'], $INVALID,
     qr/count 3/],
    ['trickle with a numeric candidate', 'trickle', ['r', 'u', 'c', 7],
     $INVALID, qr/candi type/],
    ['trickle with a candidate that is not JSON', 'trickle',
     ['r', 'u', 'c', '{'], $CAND],
    ['trickle with a JSON string candidate', 'trickle',
     ['r', 'u', 'c', '"x"'], $CAND],
    ['trickle with a numeric candidate field', 'trickle',
     ['r', 'u', 'c', '{"candidate":5}'], $CAND],
    ['trickle with JSON null succeeds', 'trickle',
     ['r', 'u', 'c', 'null'], 0],
    ['trickle with an empty candidate succeeds', 'trickle',
     ['r', 'u', 'c', '{"candidate":""}'], 0],
    ['trickle of an unknown peer', 'trickle',
     ['r', 'u', 'c', '{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host"}'],
     $NOT_FOUND],

    # subscribe: exactly 3
    ['subscribe with 4 params', 'subscribe', ['r', 'u', 'c', 'd'],
     $INVALID, qr/count 4/],
    ['subscribe with a numeric rid', 'subscribe', [0, 'u', 'c'], $INVALID,
     qr/rid type/],
    ['subscribe of an unknown peer', 'subscribe', ['r', 'u', 'c'],
     $NOT_FOUND],

    # answer: exactly 4, the SDP checked before the lookup
    ['answer with 3 params', 'answer', ['r', 'u', 'c'], $INVALID,
     qr/count 3/],
    ['answer with a numeric sdp', 'answer', ['r', 'u', 'c', 1], $INVALID,
     qr/sdp type/],
    ['answer with an offer', 'answer', ['r', 'u', 'c', $jsep_offer], $SDP],
    ['answer with sdp that is not JSON', 'answer', ['r', 'u', 'c', '{'],
     $SDP],
    ['answer of an unknown peer', 'answer', ['r', 'u', 'c', $jsep_answer],
     $NOT_FOUND],

    # list, info, turn
    ['list with no params', 'list', [], $INVALID, qr/count 0/],
    ['list with a numeric rid', 'list', [3], $INVALID, qr/rid type/],
    ['list of an unknown room', 'list', ['nobody-here'], 0],
    ['info with a param', 'info', ['x'], $INVALID, qr/count 1/],
    ['info', 'info', [], 0],
    ['turn with no params', 'turn', [], $INVALID, qr/count 0/],
    ['turn with a numeric uid', 'turn', [1], $INVALID, qr/uid type/],
    ['turn', 'turn', ['u'], 0],

    # an id holding a NUL byte would be cut short: two ids would be one
    ['publish with a NUL in the rid', 'publish',
     ["r\0x", 'u', $jsep_offer], $INVALID,
     qr/rid format contains a NUL byte/],
    ['publish with a NUL in the uid', 'publish',
     ['r', "u\0", $jsep_offer], $INVALID,
     qr/uid format contains a NUL byte/],
    ['restart with a NUL in the rid', 'restart',
     ["\0r", 'u', 'c', $jsep_offer], $INVALID, qr/rid format/],
    ['end with a NUL in the cid', 'end', ['r', 'u', "c\0"], $INVALID,
     qr/cid format contains a NUL byte/],
    ['trickle with a NUL in the uid', 'trickle',
     ['r', "u\0u", 'c', 'null'], $INVALID, qr/uid format/],
    ['subscribe with a NUL in the cid', 'subscribe', ['r', 'u', "c\0"],
     $INVALID, qr/cid format/],
    ['answer with a NUL in the rid', 'answer',
     ["r\0", 'u', 'c', $jsep_answer], $INVALID, qr/rid format/],
    ['list with a NUL in the rid', 'list', ["r\0"], $INVALID,
     qr/rid format/],
    ['turn with a NUL in the uid', 'turn', ["u\0"], $INVALID,
     qr/uid format/],

    # unknown method
    ['an unknown method names itself', 'fly', [], $INVALID,
     qr/invalid method fly/],
);

my $n = 0;

for my $c (@cases) {
    my ($name, $method, $params, $code, $desc) = @$c;
    my $id = 'call-' . $n++;
    my ($status, $json, $raw) = $k->rpc($method, $params, id => $id);

    is($status, 200, "$name: HTTP 200");
    is($json && $json->{id}, $id, "$name: the id is echoed");

    if ($code == 0) {
        ok($json && exists $json->{data} && !exists $json->{error},
           "$name: succeeds") or diag($raw);
        next;
    }

    is($json && $json->{error} && $json->{error}{code}, $code,
       "$name: code $code") or diag($raw);
    is($json && $json->{error} && $json->{error}{status},
       $code >= 5003000 ? 500 : 202, "$name: status");
    like($json && $json->{error} && $json->{error}{description} // '',
         $desc, "$name: description") if $desc;
}

# shapes of the successful answers
my (undef, $pub) = $k->rpc('publish', ['shape', 'alice', $jsep_offer]);
my $d = $pub->{data};
like($d->{track}, qr/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
     'publish: the track is shaped like a UUID (128 random bits)');
is($d->{sdp}{type}, 'answer', 'publish: sdp is an answer object');
like($d->{sdp}{sdp}, qr/a=ice-lite/, 'publish: the answer is ICE-lite');
is_deeply($J->decode($d->{jsep}), $d->{sdp},
          'publish: jsep is the JSON text of sdp');

my (undef, $sub) = $k->rpc('subscribe', ['shape', 'alice', $d->{track}]);
is_deeply($sub->{data}, { type => 'unknown', sdp => '',
                          jsep => '{"type":"unknown","sdp":""}' },
          'subscribe with nothing new is pion\'s empty description');

my (undef, $wrong) = $k->rpc('subscribe', ['shape', 'alice', 'other']);
is($wrong->{error}{code}, 5002003, 'another track of a known peer');

my (undef, $list) = $k->rpc('list', ['shape']);
is(scalar @{$list->{data}{peers}}, 1, 'list shows the publisher');
is($list->{data}{peers}[0]{id}, 'alice', 'list shows the uid');
like($list->{data}{peers}[0]{track},
     qr/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
     'list shows a public track id, a UUID v4');
isnt($list->{data}{peers}[0]{track}, $d->{track},
     'list never shows the track publish returned');
unlike($wrong->{error}{description}, qr/\Q$d->{track}\E/,
       'the wrong-track error does not tell the real track');

# a NUL does not make another uid alice, nor another room hers
my (undef, $nul) = $k->rpc('subscribe', ['shape', "alice\0x", $d->{track}]);
is($nul->{error}{code}, $INVALID, 'alice with a NUL and more is not alice');
(undef, $nul) = $k->rpc('subscribe', ["shape\0x", 'alice', $d->{track}]);
is($nul->{error}{code}, $INVALID, 'her room with a NUL and more is not hers');
(undef, $nul) = $k->rpc('list', ["shape\0x"]);
is($nul->{error}{code}, $INVALID, 'nor can it be listed');
my $raw = $k->post(qq({"id":"raw","method":"list","params":["shape\0x"]}));
is(eval { $J->decode($raw->{content})->{error}{code} }, $INVALID,
   'a raw NUL byte in an id is refused as well');

# info: aggregate figures only, by default
my (undef, $public) = $k->rpc('info', []);
is($public->{data}{active_rooms}, 2, 'info counts the rooms');
ok(!exists $public->{data}{workers},
   'info does not list workers, pids, ports or rooms by default');
unlike($J->encode($public), qr/shape|uuid|"pid"|"port"/,
       'info tells no room id, pid or port by default');

my (undef, $end) = $k->rpc('end', ['shape', 'alice', $d->{track}]);
is_deeply($end->{data}, {}, 'end answers {}');
my (undef, $closed) = $k->rpc('subscribe', ['shape', 'alice', $d->{track}]);
is($closed->{error}{code}, 5002002, 'a closed peer is 5002002');

my (undef, $info) = $k->rpc('info', []);
for my $f (qw(active_peers closed_peers active_rooms closed_rooms)) {
    like($info->{data}{$f}, qr/^\d+$/, "info has $f");
}
like($info->{data}{updated_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/,
     'info has updated_at in RFC 3339');
is($info->{data}{closed_peers}, 1, 'info counts the closed peer');
for my $f (qw(stun_bad stun_unauthorized dtls_failed srtp_failed
              unknown_source malformed oversize ssrc_refused path_switches
              bounds_hit rtp_received rtp_forwarded rtcp_received)) {
    like($info->{data}{counters}{$f}, qr/^\d+$/, "info counts $f");
}

# an empty id is omitted, as Kraken
my (undef, $noid) = $k->rpc('info', [], id => '');
ok(!exists $noid->{id}, 'an empty id is not echoed');

is_deeply([$k->worker_pids], \@pids, 'the worker survived all of it');
$k->stop;
$k->assert_clean_log;

# kraken_info_details on: where rooms live, for an operator's location
my $kd = KrakenTest->new(workers => 1,
                         location => 'kraken_info_details on;');
$kd->rpc('publish', ['shape', 'alice', $jsep_offer]);
(undef, my $details) = $kd->rpc('info', []);
my ($w) = @{ $details->{data}{workers} || [] };
ok($w && $w->{pid} == ($kd->worker_pids)[0] && $w->{port} == $kd->media_port,
   'kraken_info_details on: each worker\'s pid and port')
    or diag($J->encode($details));
is_deeply($w && $w->{rooms}, ['shape'], 'and the rooms it holds');
$kd->stop;
$kd->assert_clean_log;

done_testing;
