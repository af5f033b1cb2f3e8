# kraken_callback_allow: the callback urls an operator lets a publish
# name. A client's url is parsed and compared with each prefix part by
# part (host, port, path at a segment boundary), never as a raw string;
# one outside them all is refused with 5001000 by the worker that
# accepted the call, before it could be forwarded to the room's owner,
# and after Kraken's own checks of the earlier params. Prefixes that could
# not be compared safely fail nginx -t. Spellings that the server behind
# a prefix may resolve as "..", though they are no dot segment here
# (";" path parameters, "%25", a "%" without two hex digits), are refused.
#
# Here no kraken_callback_trusted_certificate is set, so no request could
# be made: an allowed url is then refused too, with "callback not
# supported", never silently ignored (t/046 makes the requests).

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

my $k = KrakenTest->new(workers => 2, location => <<'LOC');
kraken_callback_allow  https://127.0.0.1:8443/cb/ https://App.Example/kraken;
LOC
my @pids = $k->worker_pids;
my $J = KrakenTest::json();

my $offer = KrakenTest::chromium_offer();
my $jsep = $J->encode({ type => 'offer', sdp => $offer });

# the description of a publish's answer, or "published"
sub publish {
    my ($room, $limit, $callback) = @_;
    my (undef, $res) = $k->rpc('publish',
                               [$room, 'alice', $jsep, $limit, $callback],
                               fresh => 1);
    return $res->{error} ? "$res->{error}{code} $res->{error}{description}"
                         : 'published';
}

my $refused = '5001000 invalid callback, not allowed';
my $unbuilt = '5001000 callback not supported';  # no trusted certificate

# several rooms: calls accepted by one worker for rooms the other owns
for my $room (map { "room$_" } 1 .. 6) {
    is(publish($room, 2, ''), 'published',
       "$room: an empty callback is none, limit alone");

    is(publish($room, 2, 'https://127.0.0.1:8443/cb/ontrack'), $unbuilt,
       "$room: an allowed url passes the allowlist");
    is(publish($room, 2, 'https://app.example/kraken?t=1'), $unbuilt,
       "$room: host case and a query do not matter");
    is(publish($room, 2, 'https://app.example:443/kraken/x'), $unbuilt,
       "$room: nor the default port spelled out");

    for my $url ('https://127.0.0.1:8443/cbx',
                 'https://127.0.0.1:8444/cb/ontrack',
                 'https://127.0.0.1/cb/ontrack',
                 'https://127.0.0.1:8443@evil.example/cb/',
                 'https://127.0.0.1:8443/cb/../admin',
                 'https://127.0.0.1:8443/cb/%2e%2e/admin',
                 # what Tomcat, Jetty, Spring or a second decoding read
                 # as "..": path parameters, "%25", a stray "%"
                 'https://127.0.0.1:8443/cb/..;/admin',
                 'https://127.0.0.1:8443/cb/..;x=y/admin',
                 'https://127.0.0.1:8443/cb/..%3B/admin',
                 'https://127.0.0.1:8443/cb/%252e%252e/admin',
                 'https://127.0.0.1:8443/cb/%%32e%%32e/admin',
                 'https://app.example/krakenevil',
                 'https://app.example.evil.example/kraken')
    {
        is(publish($room, 2, $url), $refused, "$room: $url is refused");
    }

    # a NUL cannot cut a url down to an allowed or an empty one
    for my $url ("https://app.example/kraken\x{0}x",
                 "\x{0}https://app.example/kraken")
    {
        (my $shown = $url) =~ s/\x{0}/\\0/g;
        like(publish($room, 2, $url), qr/^5001000 invalid callback value/,
             "$room: $shown is an invalid callback value");
    }

    # Kraken's order of checks: the limit, then the callback's scheme
    like(publish($room, '2x', 'https://evil.example/'), qr/^5001000 .*limit/,
         "$room: a bad limit is reported before the callback");
    like(publish($room, 2, 'http://127.0.0.1:8443/cb/'),
         qr/^5001000 invalid callback value/,
         "$room: http is Kraken's invalid callback value");
}

is_deeply([$k->worker_pids], \@pids, 'the workers survived all of it');
$k->assert_clean_log;
$k->stop;

# prefixes that cannot be compared safely
for my $bad ('http://127.0.0.1/cb', 'https://u@app.example/',
             'https://app.example/kraken?t=1', 'https://app.example/a/../b',
             'https://app.example/#x', 'app.example/kraken',
             'https://app.example/a;b/', 'https://app.example/%25')
{
    my $t = KrakenTest->new(workers => 1, no_start => 1, location =>
                            "kraken_callback_allow  \"$bad\";");
    my $p = $t->prefix;
    my $args = "-p $p/ -e logs/error.log -c conf/nginx.conf";
    my $out = `$KrakenTest::NGINX -t $args 2>&1`;
    isnt($?, 0, "kraken_callback_allow $bad fails nginx -t");
    like($out, qr/invalid callback prefix/, '... saying why') or diag($out);
}

done_testing;
