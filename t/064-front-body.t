# The shipped front (conf/kraken-front.conf, as it is but for its ports)
# takes the bodies its engines take: a subscriber's answer in a room of
# kraken_media_peer_streams publishers is about 70k (README:
# kraken_media_peer_streams), and must reach the engine rather than be
# refused by the front with 413.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

my $J = KrakenTest::json;

# an engine sized as README says: 4k + 512 x (127 + 1) = 68k, 72k in the
# examples
my $engine = KrakenTest->new(
    workers => 1,
    location => 'client_max_body_size 72k; client_body_buffer_size 72k;',
);

my $front = KrakenTest->new(workers => 1, media => 0, no_start => 1);
my $p = $front->prefix;
symlink $KrakenTest::STREAM_MODULE, "$p/modules/ngx_stream_module.so"
    or die "symlink: $!";

my $conf = do {
    local $/;
    open my $fh, '<', "$KrakenTest::ROOT/conf/kraken-front.conf" or die $!;
    <$fh>;
};
my $port = $front->port;
my $engine_port = $engine->port;
my $n = 0;
$n += $conf =~ s/^(\s*listen\s+)127\.0\.0\.1:7080;/${1}127.0.0.1:$port;/m;
$n += $conf =~ s/^(\s*server\s+)127\.0\.0\.1:7001;\n\s*server\s+127\.0\.0\.1:7002;/${1}127.0.0.1:$engine_port;/m;
$n += $conf =~ s/^pid\s+\S+;/pid logs\/nginx.pid;/m;
$n += $conf =~ s/^worker_processes\s+\S+;/worker_processes 1;/m;
is($n, 4, 'the shipped front, with the ports of this test');
open my $fh, '>', "$p/conf/nginx.conf" or die $!;
print $fh $conf;
close $fh;
$front->start;

# a subscriber's answer of 127 m-lines, over 500 bytes each once JSON
# escapes it twice; the padding holds quotes, which the escaping grows
# most, so that the SDP itself stays under the parser's 64 KiB
my $pad = 'a=x-pad:' . ('y"' x 88) . "\r\n";
my $mline = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:%d\r\n"
          . "a=recvonly\r\n" . $pad;
my $sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        . join('', map { sprintf $mline, $_ } 0 .. 126);
my $answer = $J->encode({ type => 'answer', sdp => $sdp });
my $body = $J->encode({ id => 'big', method => 'answer',
                        params => ['room-body', 'bob', 'no-such-track',
                                   $answer] });
cmp_ok(length $body, '>', 64 * 1024, 'the answer is over 64k (' . length($body) . ' bytes)');
cmp_ok(length $body, '<', 72 * 1024, 'and under the engines\' 72k');

my $res = $front->post($body);
isnt($res->{status}, 413, 'the front does not refuse it as too large');
my $json = eval { $J->decode($res->{content}) };
ok($json && $json->{error} && $json->{error}{code}
   && $json->{error}{code} =~ /^500200[123]$/,
   'the engine ran the call (peer or track not found)')
    or diag("$res->{status} $res->{content}");

$front->stop;
$engine->stop;
$engine->assert_clean_log;

done_testing;
