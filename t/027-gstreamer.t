# GStreamer's webrtcbin, a WebRTC stack nobody here wrote (libnice for
# ICE, OpenSSL for DTLS), publishes to the module and connects: its DTLS
# client goes through the cookie exchange (HelloVerifyRequest) and the
# server receives its audio. libnice pairs no loopback addresses, so the
# media server listens on an address of a veth pair inside the test's own
# network namespace (make prove runs every test in one).

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

my $PY = '/usr/bin/python3';
my $probe = "$PY -c 'import gi; gi.require_version(\"GstWebRTC\", \"1.0\");"
          . " from gi.repository import GstWebRTC' 2>/dev/null";
plan skip_all => 'needs python3-gi and GStreamer webrtcbin '
               . '(tools/deps.sh test installs them)'
    if system($probe) != 0;
plan skip_all => 'needs root in a private network namespace (make prove)'
    if $> != 0;

# an address of our own on a veth pair, in this namespace only
my $addr = '10.99.0.1';
my $up = system("ip link add kgst0 type veth peer name kgst1 2>/dev/null"
                . " && ip addr add $addr/24 dev kgst0"
                . " && ip link set kgst0 up && ip link set kgst1 up") == 0;
plan skip_all => 'cannot make a veth pair here' unless $up;
END { system('ip link del kgst0 2>/dev/null') if $up; }

my $k = KrakenTest->new(workers => 1, no_start => 1);
my $conf = $k->conf_text;
my $mp = $k->media_port;
my $n = ($conf =~ s/listen  127\.0\.0\.1:$mp /listen  $addr:$mp /)
      + ($conf =~ s/kraken_media_announce  127\.0\.0\.1;/kraken_media_announce  $addr;/);
is($n, 2, "the media server on $addr");
open my $fh, '>', $k->prefix . '/conf/nginx.conf' or die $!;
print $fh $conf;
close $fh;
$k->start;

my $out = `$PY $KrakenTest::ROOT/t/gst/webrtcbin-publish.py '${\ $k->url }' gst-room gst-uid 20 2>&1`;
my $rc = $? >> 8;
my ($line) = $out =~ /^(\{.*\})$/m;
my $r = eval { KrakenTest::json->decode($line // '') } || {};

is($rc, 0, 'webrtcbin published') or diag($out);
ok($r->{connected}, 'its peer connection is connected (ICE and DTLS)');
cmp_ok($r->{rtp_received} // 0, '>=', 20, 'the server received its audio');

my (undef, $list) = $k->rpc('list', ['gst-room']);
is(scalar @{ $list->{data}{peers} // [] }, 1, 'list shows its peer');

$k->stop;
$k->assert_clean_log;

done_testing;
