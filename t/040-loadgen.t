# The benchmark's load generator against a real nginx, small enough for the
# suite: it keeps bench/ working, and it drives the forwarding path over
# the socket with each SRTP profile (the browsers in the other tests all
# pick AES-GCM; here one run offers only AES_CM_128_HMAC_SHA1_80). Every
# stream must flow, with no loss and no failed participant.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

my $LG = 'bench/loadgen';

is(system('make', '-s', '-C', 'bench', 'loadgen'), 0,
   'bench/loadgen builds') or BAIL_OUT('no load generator');

my $k = KrakenTest->new(workers => 1);

for my $case (['gcm', 'SRTP_AEAD_AES_128_GCM', 'GCM'],
              ['cm', 'SRTP_AES128_CM_SHA1_80', 'CM'])
{
    my ($label, $profiles, $name) = @$case;

    my $cmd = "$LG run --server kraken --http 127.0.0.1:" . $k->port
            . " --rooms 2 --talkers 3 --listeners 1 --warmup 1"
            . " --duration 2 --poll-join-ms 200 --join-timeout 15"
            . " --srtp $profiles --label $label 2>&1";
    my $out = qx($cmd);
    my $exit = $? >> 8;

    is($exit, 0, "$label: the generator reports no error")
        or diag($out);

    my ($result) = $out =~ /^RESULT (.*)$/m;
    ok($result, "$label: it prints a RESULT line") or next;
    my %r = map { split /=/, $_, 2 } split / /, $result;

    # 2 rooms x (3 talkers x 2 others + 1 listener x 3 talkers)
    is($r{streams}, '18/18', "$label: every stream flows");
    is($r{failed}, 0, "$label: no participant failed");
    cmp_ok($r{loss_pct}, '==', 0, "$label: nothing is lost");
    # each talker's packet reaches 3 others; measured against what the
    # generator sent in the same window, not its pace (its own timers
    # slip on a busy machine)
    cmp_ok($r{tx_pps}, '>', 0, "$label: the talkers sent");
    cmp_ok($r{rx_pps}, '>=', 3 * $r{tx_pps} * 0.9,
           "$label: every packet sent reaches its 3 receivers");
    cmp_ok($r{lat_p50_us}, '>', 0, "$label: latency was measured");

    my ($n, $gcm, $cm) = $out =~ /(\d+) connections \((\d+) GCM, (\d+) CM\)/;
    is($name eq 'GCM' ? $gcm : $cm, 8, "$label: all 8 connections use $name")
        or diag($out);
}

$k->stop;
$k->assert_clean_log;

done_testing;
