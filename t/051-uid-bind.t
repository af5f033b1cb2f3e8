# kraken_uid_bind: nginx tells who the caller is (here a map from a token
# in the query string; in production auth_request, a JWT or a client
# certificate), and a call naming another uid is refused with 5001000 by
# the worker that accepted it, before it could be forwarded. A matching
# uid goes on; no identity at all refuses every call naming a uid, while
# info and list still answer. With two real participants: a republish of
# a live uid by another identity is refused and the live peer keeps
# talking; its own identity may still replace it.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

my %token = map { $_ => join('', map { sprintf '%02x', rand 256 } 1 .. 16) }
            qw(alice bob mallory);

my $k = KrakenTest->new(workers => 2, http => <<"HTTP", location => <<'LOC');
map \$arg_token \$kraken_test_user {
        default             "";
        $token{alice}    alice;
        $token{bob}    bob;
        $token{mallory}    mallory;
    }
HTTP
kraken_uid_bind $kraken_test_user;
LOC
my @pids = $k->worker_pids;
my $J = KrakenTest::json();

# (decoded answer, X-Kraken-Worker) of a call under an identity
sub call_as {
    my ($who, $method, $params) = @_;
    my $q = $who ? "?token=$token{$who}" : '';
    my $ua = $k->http(fresh => 1);
    my $res = $ua->request('POST', $k->url . $q,
                           { headers => { 'Content-Type'
                                          => 'application/json' },
                             content => $J->encode({ id => 'u',
                                                     method => $method,
                                                     params => $params }) });
    return (scalar(eval { $J->decode($res->{content}) }) || {},
            $res->{headers}{'x-kraken-worker'} // '');
}

my $code = sub { $_[0]{error} ? $_[0]{error}{code} : 0 };

my @with_uid = (
    ['publish', ['r', 'alice', '{"type":"offer","sdp":""}']],
    ['subscribe', ['r', 'alice', 't']],
    ['answer', ['r', 'alice', 't', '{"type":"answer","sdp":""}']],
    ['trickle', ['r', 'alice', 't', 'null']],
    ['restart', ['r', 'alice', 't', '{"type":"offer","sdp":""}']],
    ['end', ['r', 'alice', 't']],
    ['turn', ['alice']],
);

for my $c (@with_uid) {
    my ($m, $p) = @$c;
    for my $who ('bob', undef) {
        my $name = "$m as alice by " . ($who // 'no identity');
        my ($r, $w) = call_as($who, $m, $p);
        is($code->($r), 5001000, "$name: 5001000");
        is($r->{error} && $r->{error}{description},
           'invalid uid, not bound to this caller', "$name: says why");
        is($r->{id}, 'u', "$name: echoes the id");
        unlike($w, qr/forwarded/, "$name: answered where it was accepted");
    }

    my ($r) = call_as('alice', $m, $p);
    isnt($code->($r), 5001000, "$m as alice by alice passes the binding")
        or diag($J->encode($r));
}

my ($r) = call_as('alice', 'trickle', ['r', 'alice', 't', 'null']);
is($code->($r), 0, 'a call of the identity itself runs (trickle null)');
($r) = call_as('alice', 'end', ['r', 'alice', 't']);
is($code->($r), 5002001, 'and reaches the engine (end: not found)');
($r) = call_as('alice', 'end', ['r', "alice\0bob", 't']);
is($code->($r), 5001000, 'a NUL does not make "alice\\0bob" alice');
($r) = call_as('alice', 'end', ['r', 'alic', 't']);
is($code->($r), 5001000, 'nor a prefix of it');
($r) = call_as(undef, 'info', []);
is($code->($r), 0, 'info runs without an identity');
($r) = call_as(undef, 'list', ['r']);
is($code->($r), 0, 'so does list');

# the directive takes one value once
my $dup = KrakenTest->new(workers => 1, media => 0, no_start => 1,
                          location => 'kraken_uid_bind $a; '
                                    . 'kraken_uid_bind $b;');
my $t = `$KrakenTest::NGINX -t -p @{[$dup->prefix]}/ -c conf/nginx.conf 2>&1`;
like($t, qr/"kraken_uid_bind" directive is duplicate/,
     'kraken_uid_bind twice is a configuration error');

SKIP: {
    skip 'npm install in t/js first (make prove does it)', 1
        unless -d 't/js/node_modules/@roamhq/wrtc';

    my @urls = map { $k->url . "?token=$token{$_}" } qw(alice bob mallory);
    my ($rc, $out, $err) = KrakenTest::run_node('wrtc-uid-bind.js', @urls,
                                                $k->url, 300);
    KrakenTest::node_checks($rc, $out, $err, 'uid-bind', min => 10);
}

is_deeply([$k->worker_pids], \@pids, 'the workers survived all of it');
$k->stop;
$k->assert_clean_log;

done_testing;
