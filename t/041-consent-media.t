# Consent from media. A client that sends no STUN binding request once it
# is connected (GStreamer's webrtcbin keeps its pair alive with binding
# indications, which prove nothing) still proves it is there with every
# authenticated SRTP and SRTCP packet: the server must keep it, as
# Kraken/pion does, for as long as its media flows, and must still close
# a peer that goes silent entirely after the consent timeout.
#
# Two runs of the bench's generator at once, against a real nginx with a
# 3 s consent timeout:
#
#  - media: 2 rooms of 3 talkers that send audio, a sender report every
#    second and a binding indication every second, and no binding request
#    once connected, for more than 3 x the consent timeout. Every stream
#    flows to the end, nothing is lost, no participant fails, and `list`
#    shows every peer the whole time.
#  - the control: a room of 2 talkers that go entirely silent (no media,
#    no checks, no RPC) 4 s after connecting. Their peers leave `list`
#    on the consent timeout, and not on the (4 s) connect timeout, which
#    would mean their media never counted.

use strict;
use warnings;

use lib 't/lib';
use File::Temp qw(tempdir);
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(time sleep);
use KrakenTest;

my $LG = 'bench/loadgen';
my ($CONSENT, $CONNECT, $SILENT_AFTER) = (3, 4, 4);
my $WINDOW = 3 * $CONSENT;

is(system('make', '-s', '-C', 'bench', 'loadgen'), 0,
   'bench/loadgen builds') or BAIL_OUT('no load generator');

my $k = KrakenTest->new(workers => 1, stream => <<"EOF");
kraken_media_consent_timeout  ${CONSENT}s;
kraken_media_connect_timeout  ${CONNECT}s;
EOF

my $dir = tempdir('kraken-041-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $http = '127.0.0.1:' . $k->port;
my @common = ('--server', 'kraken', '--http', $http, '--poll-join-ms', 200,
              '--join-timeout', 10);

# (pid) of the generator with @args, stdout and stderr in $dir/$name.*
sub spawn {
    my ($name, @args) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', "$dir/$name.out" or die $!;
        open STDERR, '>', "$dir/$name.err" or die $!;
        exec $LG, 'run', @common, @args or die "exec $LG: $!";
    }
    return $pid;
}

sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or return '';
    local $/;
    return <$fh> // '';
}

sub listed {
    my ($room) = @_;
    my ($st, $j) = $k->rpc('list', [$room]);
    return undef unless $st == 200 && ref $j eq 'HASH' && $j->{data};
    return scalar @{ $j->{data}{peers} };
}

my $t0 = time;
my $silent = spawn('silent', '--rooms', 1, '--talkers', 2,
                   '--room-prefix', 'silent', '--addr-base', '127.11.0.0',
                   '--warmup', 0, '--duration', 14,
                   '--silent-after', $SILENT_AFTER);
my $media = spawn('media', '--rooms', 2, '--talkers', 3,
                  '--room-prefix', 'media', '--warmup', 2,
                  '--duration', $WINDOW, '--checks-after-connect', 0,
                  '--indication-ms', 1000, '--rtcp-ms', 1000);

# Watch both while the media run lasts.
my ($silent_seen, $silent_gone, $media_full, $media_min, $media_last,
    $t_last, $active_last);
my $media_rc;

while (time - $t0 < 60) {
    my $now = time;
    my $s = listed('silent-0') // -1;
    my @m = map { listed("media-$_") // -1 } 0, 1;

    $silent_seen //= $now if $s == 2;
    $silent_gone //= $now if $silent_seen && $s == 0;

    if (!defined $media_full && $m[0] == 3 && $m[1] == 3) {
        $media_full = $now;
        $media_min = 6;
    }

    # samples count only while the generator still runs
    if (waitpid($media, WNOHANG) != 0) {
        $media_rc = $? >> 8;
        last;
    }

    if (defined $media_full) {
        my $sum = ($m[0] < 0 ? 0 : $m[0]) + ($m[1] < 0 ? 0 : $m[1]);
        $media_min = $sum if $sum < $media_min;
        ($media_last, $t_last) = ($sum, $now);
        my ($st, $j) = $k->rpc('info', []);
        $active_last = $j->{data}{active_peers} if ref $j eq 'HASH';
    }

    sleep 0.2;
}

unless (defined $media_rc) {
    kill 'KILL', $media;
    waitpid($media, 0);
    $media_rc = -1;
}

my $out = slurp("$dir/media.out");
my $err = slurp("$dir/media.err");
my ($result) = $out =~ /^RESULT (.*)$/m;
my %r = $result ? (map { split /=/, $_, 2 } split / /, $result) : ();

ok(defined $media_full, 'media: all 6 peers were listed')
    or diag($err);

is($media_rc, 0, 'media: the generator reports no error')
    or diag($out . $err);
ok($result, 'media: it prints a RESULT line') or diag($out . $err);

is($r{checks_keyed}, 0,
   'media: no binding request once connected (media is the only consent)');
cmp_ok($r{indications} // 0, '>', 0,
       'media: binding indications were sent instead');
cmp_ok($r{window} // 0, '>=', $WINDOW,
       "media: the window lasted 3 x the consent timeout ($WINDOW s)");

# 2 rooms x 3 talkers x 2 others
is($r{streams}, '12/12', 'media: every stream flows');
is($r{stalled}, 0, 'media: no stream stopped before the end');
is($r{failed}, 0, 'media: no participant failed');
is($r{errors}, 0, 'media: no RPC or connection error');
cmp_ok($r{loss_pct} // 100, '==', 0, 'media: nothing is lost');
cmp_ok($r{rx_pps} // 0, '>=', 12 * 50 * 0.9,
       'media: about 50 packets/s per stream arrive');
cmp_ok($r{rtcp_rx} // 0, '>', 0,
       'media: sender reports went through (the server took SRTCP)');

is($media_min, 6, 'media: list never lost a peer while media flowed');
is($media_last, 6, 'media: list shows all 6 peers at the end of the run');
ok(defined $t_last && defined $media_full
   && $t_last - $media_full >= $WINDOW,
   'media: ... more than 3 x the consent timeout after they joined')
    and note(sprintf("last list %.1f s after all joined",
                     $t_last - $media_full));
cmp_ok($active_last // 0, '>=', 6, 'media: info counts them as active');

# The control: silence is still closed after the consent timeout.
my $deadline = $t0 + 40;
until (defined $silent_gone || time > $deadline) {
    $silent_gone = time if (listed('silent-0') // -1) == 0;
    sleep 0.2;
}

ok(defined $silent_seen, 'control: both silent peers were listed');
ok(defined $silent_gone,
   'control: the silent peers left list (consent timeout)');
if (defined $silent_seen && defined $silent_gone) {
    my $after = $silent_gone - $silent_seen;
    note(sprintf("silent peers left list %.1f s after they were listed",
                 $after));
    cmp_ok($after, '>=', $SILENT_AFTER + $CONSENT - 1.5,
           'control: not before silence + consent (their media counted)');
    cmp_ok($after, '<=', $SILENT_AFTER + $CONSENT + 5,
           'control: within silence + consent + 5 s');
}

my @log = split /\n/, $k->error_log;
is(scalar(grep { /peer silent-0:.* closed: consent expired/ } @log), 2,
   'control: both are logged "closed: consent expired"');

# Once the media run is over its peers are silent too: they go the same way.
my $gone = KrakenTest::wait_for(sub {
    (listed('media-0') // -1) == 0 && (listed('media-1') // -1) == 0
}, $CONSENT + 6);
ok($gone, 'media: after the generator exits, its peers time out as well');

kill 'KILL', $silent if waitpid($silent, WNOHANG) == 0;
waitpid($silent, 0);

$k->stop;
$k->assert_clean_log;

done_testing;
