# kraken_metrics: the registry's figures of every worker in Prometheus's
# text format, which promtool accepts; the figures move when calls run
# (RPC calls by method and code, peers); and $kraken_method, $kraken_uid
# and $kraken_error in a log_format of the RPC location.

use strict;
use warnings;

use lib 't/lib';
use File::Temp qw(tempfile);
use Test::More;
use KrakenTest;

my $J = KrakenTest::json;

my $offer = KrakenTest::chromium_offer();
my $jsep = $J->encode({ type => 'offer', sdp => $offer });

my $k = KrakenTest->new(
    workers => 2,
    http => q{log_format kraken '$kraken_method|$kraken_uid|$kraken_error|'
                               '$status';},
    location => 'access_log logs/kraken.log kraken;',
    server => 'location = /metrics { kraken_metrics; }',
);


sub scrape {
    my $res = $k->request('GET', '/metrics');
    return ($res, $res->{content} // '');
}


# the sum over the workers of the series of $name whose labels include
# %want; undef when there is none
sub value {
    my ($text, $name, %want) = @_;
    my $sum;
    for my $line (split /\n/, $text) {
        next unless $line =~ /^\Q$name\E(?:\{([^}]*)\})? (\S+)$/;
        my ($labels, $v) = ($1 // '', $2);
        my %l = $labels =~ /(\w+)="([^"]*)"/g;
        next if grep { ($l{$_} // '') ne $want{$_} } keys %want;
        $sum += $v;
    }
    return $sum;
}


# promtool, Debian's package prometheus (tools/deps.sh test installs it)
my $promtool = `command -v promtool 2>/dev/null`;
chomp $promtool;

if (!$promtool && $> == 0) {
    system('DEBIAN_FRONTEND=noninteractive apt-get install -y -qq '
           . '--no-install-recommends prometheus >/dev/null 2>&1 </dev/null');
    $promtool = `command -v promtool 2>/dev/null`;
    chomp $promtool;
}

sub promtool_accepts {
    my ($text, $name) = @_;
    SKIP: {
        skip 'promtool is missing (package prometheus; not root, so not '
             . 'installed)', 1 unless $promtool;
        my ($fh, $file) = tempfile(UNLINK => 1);
        print $fh $text;
        close $fh;
        my $out = `'$promtool' check metrics <'$file' 2>&1`;
        is($? >> 8, 0, $name) or diag($out);
    }
}


# 1. the exposition, before any call

my ($res, $before) = scrape();
is($res->{status}, 200, 'kraken_metrics answers GET');
like($res->{headers}{'content-type'} // '', qr{^text/plain; version=0\.0\.4},
     'in the text format, version 0.0.4');
promtool_accepts($before, 'promtool check metrics accepts the exposition');

for my $family (qw(kraken_rooms kraken_peers kraken_datagrams_dropped_total
                   kraken_peer_timeouts_total kraken_rtp_received_total
                   kraken_rtp_received_bytes_total
                   kraken_rtp_forwarded_bytes_total kraken_bounds_hit_total
                   kraken_handoff_sent_total kraken_dtls_handshake_seconds
                   kraken_rpc_calls_total))
{
    like($before, qr/^# TYPE \Q$family\E (gauge|counter|histogram)$/m,
         "$family has a TYPE");
}

my @workers = $before =~ /^kraken_worker_info\{worker="(\d+)"/mg;
is(scalar @workers, 2, 'each worker has its series (worker="slot")');
like($before, qr/^kraken_datagrams_dropped_total\{worker="\d+",reason="stun_bad"\} \d+$/m,
     'drops are labelled by reason');
like($before, qr/^kraken_peer_timeouts_total\{worker="\d+",reason="consent_timeout"\} \d+$/m,
     'timeouts are labelled by reason');
like($before, qr/^kraken_dtls_handshake_seconds_bucket\{worker="\d+",le="0\.005"\} \d+$/m,
     'the handshake histogram has a 5 ms bucket');
like($before, qr/^kraken_dtls_handshake_seconds_bucket\{worker="\d+",le="\+Inf"\} \d+$/m,
     'and +Inf');

# the README names every family and every reason the exposition has, so
# that an operator can look each one up
my $readme = do {
    local $/;
    open my $fh, '<', "$KrakenTest::ROOT/README.md" or die "README: $!";
    <$fh>;
};
my $metrics_doc = $readme =~ /^    kraken_metrics\n(.*?)^---$/ms ? $1 : '';
ok($metrics_doc ne '', "README.md documents kraken_metrics");
my %families = map { $_ => 1 } $before =~ /^# TYPE (\S+) /mg;
for my $family (sort keys %families) {
    ok(index($metrics_doc, "`$family") >= 0,
       "README.md names the family $family");
}
my %reasons = map { $_ => 1 } $before =~ /,reason="(\w+)"/g;
for my $reason (sort keys %reasons) {
    ok(index($metrics_doc, "`$reason`") >= 0,
       "README.md names the reason $reason");
}

my $peers0 = value($before, 'kraken_peers') // -1;
my $ok0 = value($before, 'kraken_rpc_calls_total', method => 'publish',
                code => 'ok') // 0;

# 2. calls move the figures

my $room = 'metrics-' . int(rand(1e9));
my (undef, $pub) = $k->rpc('publish', [$room, 'alice', $jsep]);
ok($pub->{data}{track}, 'a publish with the offer of t/039');

my (undef, $bad) = $k->rpc('publish', [$room]);
is($bad->{error}{code}, 5001000, 'a publish without its params is 5001000');

my (undef, $gone) = $k->rpc('trickle', [$room, 'bob', 'no-such-track',
                                        '{"candidate":"x"}']);
my $gone_code = $gone->{error}{code} // 0;
ok($gone_code, "a trickle for nobody is an error ($gone_code)");

my $after;
KrakenTest::wait_for(sub {
    (undef, $after) = scrape();
    (value($after, 'kraken_peers') // 0) > $peers0;
}, 5);

is(value($after, 'kraken_peers'), $peers0 + 1, 'the peers gauge went up');
is(value($after, 'kraken_rooms'), 1, 'one room');
is(value($after, 'kraken_rpc_calls_total', method => 'publish',
         code => 'ok'), $ok0 + 1, 'rpc calls: publish ok counted');
is(value($after, 'kraken_rpc_calls_total', method => 'publish',
         code => '5001000'), 1, 'rpc calls: publish 5001000 counted');
is(value($after, 'kraken_rpc_calls_total', method => 'trickle',
         code => $gone_code), 1, "rpc calls: trickle $gone_code counted");
promtool_accepts($after, 'promtool accepts it with calls counted');

# only GET and HEAD
$res = $k->request('POST', '/metrics', {}, 'x');
is($res->{status}, 405, 'a POST to kraken_metrics is 405');

# 3. the log: method, uid and error code of each call

my $log = '';
KrakenTest::wait_for(sub {
    open my $fh, '<', $k->prefix . '/logs/kraken.log' or return 0;
    local $/;
    $log = <$fh> // '';
    ($log =~ tr/\n//) >= 3;
}, 5);

like($log, qr/^publish\|alice\|-\|200$/m,
     'the log of a publish: method, uid, no error');
like($log, qr/^publish\|-\|5001000\|\d+$/m,
     'the log of a failed publish: its error code');
like($log, qr/^trickle\|bob\|\Q$gone_code\E\|\d+$/m,
     'the log of a failed trickle: method, uid and code');

# 4. a real call: handshakes timed, RTP counted in packets and bytes

SKIP: {
    skip 'npm install in t/js first (make prove does it)', 5
        unless -d 't/js/node_modules/@roamhq/wrtc';

    my ($exit, $out, $err) = KrakenTest::run_node('wrtc-rooms.js', $k->url,
                                                  1, 2, 3, 500);
    my $s = KrakenTest::node_checks($exit, $out, $err, 'wrtc-rooms');

    my $text;
    KrakenTest::wait_for(sub {
        (undef, $text) = scrape();
        (value($text, 'kraken_dtls_handshake_seconds_count') // 0) >= 2;
    }, 5);

    cmp_ok(value($text, 'kraken_dtls_handshake_seconds_count') // 0, '>=', 2,
           'both handshakes are in the histogram');
    is(value($text, 'kraken_dtls_handshake_seconds_bucket', le => '+Inf'),
       value($text, 'kraken_dtls_handshake_seconds_count'),
       'the +Inf bucket holds every handshake');
    cmp_ok(value($text, 'kraken_rtp_received_bytes_total') // 0, '>',
           value($text, 'kraken_rtp_received_total') // 0,
           'RTP bytes received are counted');
    cmp_ok(value($text, 'kraken_rtp_forwarded_bytes_total') // 0, '>', 0,
           'RTP bytes forwarded are counted');
    promtool_accepts($text, 'promtool accepts it after a call');
}

$k->stop;
$k->assert_clean_log;

done_testing;
