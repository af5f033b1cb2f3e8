# nginx -s quit and nginx -s stop during a call: the workers do not drain
# (that is for a reload, t/032 and t/039), they send each peer a DTLS
# close_notify and exit, and nginx is gone within the bound; the
# participants' libwebrtc sees its DTLS transport closed at once.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

plan skip_all => 'npm install in t/js first (make prove does it)'
    unless -d 't/js/node_modules/@roamhq/wrtc';

# nginx is gone within 2 s of the signal (the workers exit within a media
# timer tick, 100 ms); an old generation draining after a reload waits 1 s
# more for the newer workers to be gone for good
my $BOUND = 2;


# not a zombie: the namespace's init may reap a daemon late
sub running {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $stat = <$fh> // '';
    return $stat !~ /\) Z /;
}


# the call runs 11 s before nginx quits: past 10 s the server has freed
# its SSL objects, and sends the close_notify it sealed before
for my $case (['quit', 'SIGQUIT', 11], ['stop', 'SIGTERM', 0],
              ['quit', 'SIGQUIT', 0, 'reload'])
{
    my ($name, $signal, $hold, $reload) = @$case;
    my $label = "nginx -s $name" . ($reload ? ' after a reload' : '')
              . ($hold ? " after ${hold}s" : '');

    # an hour of drain: only telling a quit from a reload ends it sooner
    my $k = KrakenTest->new(workers => 2,
                            stream => 'kraken_media_drain_timeout 1h;');
    my $master = $k->master_pid;

    # SIGQUIT and SIGTERM to the master are what -s quit and -s stop send
    my ($rc, $out, $err) = KrakenTest::run_node('quit.js',
        { retries => 0 }, $k->url, $master, $signal,
        $reload ? $BOUND + 1 : $BOUND, $hold,
        $reload // ());
    my $sum = KrakenTest::node_checks($rc, $out, $err, $label,
                                      min => $reload ? 6 : 5);
    note("$label: gone after $sum->{times}{goneAfterMs} ms, DTLS "
         . "closed after @{ $sum->{times}{closedAfterMs} } ms")
        if $sum && $sum->{times} && $sum->{times}{closedAfterMs};

    ok(!running($master), "$label: the master is gone");
    $k->{started} = 0;

    my $log = $k->error_log;
    if ($reload) {
        my $quits = 'kraken: nginx quits (no worker of the newer'
                  . ' configuration), worker exits and closes 2 peers'
                  . ' (2 connected)';
        like($log, qr/\[info\].*kraken: worker draining: 2 peers/,
             "$label: the old worker drained after the reload");
        like($log, qr/\[info\].*\Q$quits\E/,
             "$label: and tells it quits when the newer workers left");

    } elsif ($name eq 'quit') {
        my $quits = 'kraken: nginx quits (no newer configuration), worker'
                  . ' exits and closes 2 peers (2 connected)';
        like($log, qr/\[info\].*\Q$quits\E/,
             "$label: the worker tells it quits, not drains");
        unlike($log, qr/kraken: worker draining/, 'and does not drain');
    }
    my $sent = 'kraken: worker exits, DTLS close_notify sent to 2 peers';
    like($log, qr/\[info\].*\Q$sent\E/,
         "$label: the worker tells it sent close_notify");

    $k->assert_clean_log;
}

done_testing;
