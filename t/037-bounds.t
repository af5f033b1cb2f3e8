# The operator's bounds (kraken_media_room_peers, kraken_media_worker_rooms,
# kraken_media_worker_peers, kraken_media_worker_connecting,
# kraken_media_peer_candidates), set low, hit one after the other and then
# flooded while two real calls go on in the same worker: each refusal is
# its Kraken error (5002000 room full, 5003000 server busy, 5001002 for
# candidates), counted in info, the calls' audio keeps flowing, and the
# refusals add nothing to the log. Then the names before the
# kraken_media_ scheme: deprecated aliases that set the same bounds and
# say so once, at configuration time.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

plan skip_all => 'npm install in t/js first (make prove does it)'
    unless -d 't/js/node_modules/@roamhq/wrtc';

my $k = KrakenTest->new(workers => 1, stream => <<'CONF');
kraken_media_room_peers         3;
    kraken_media_worker_rooms       4;
    kraken_media_worker_peers       7;
    kraken_media_worker_connecting  3;
    kraken_media_peer_candidates    16;
    kraken_media_closed_peer_time   1s;
CONF

my ($rc, $out, $err) = KrakenTest::run_node('bounds.js', $k->url, 'bounds');
KrakenTest::node_checks($rc, $out, $err, 'bounds', min => 16);

$k->stop;

# some 300 refused calls, and not one of them is a line of the log
my @lines = split /\n/, $k->error_log;
my @told = grep { /room full|server busy|too many candidates/ } @lines;
ok(!@told, 'the refusals are not logged')
    or diag(join "\n", grep { defined } @told[0 .. 4]);
cmp_ok(scalar @lines, '<', 150, 'the error log stays short')
    and note(scalar(@lines) . ' lines in the error log');

$k->assert_clean_log;


# 2. the old names are deprecated aliases of the kraken_media_ ones

my %NEW = map { ("kraken_$_" => "kraken_media_$_") }
    qw(consent_timeout connect_timeout closed_peer_time drain_timeout
       room_peers worker_rooms worker_peers worker_connecting
       peer_candidates peer_streams);

my $LOAD = qr/peers_max=(\d+);[ ]rooms=\d+;[ ]rooms_max=(\d+);/x;

# (nginx -t's status, its output and error log, the error log alone) for
# a stream configuration
sub nginx_t {
    my ($stream) = @_;
    my $t = KrakenTest->new(workers => 1, stream => $stream, no_start => 1);
    my $p = $t->prefix;
    my $args = "-p $p/ -e logs/error.log -c conf/nginx.conf";
    my $out = `$KrakenTest::NGINX -t $args 2>&1`;
    return ($?, $out . $t->error_log, $t->error_log);
}

# the bounds a worker runs with, as an answer's X-Kraken-Load tells them
sub bounds_of {
    my ($k) = @_;
    my $res = $k->post('{"id":"b","method":"info","params":[]}');
    my ($peers, $rooms) = ($res->{headers}{'x-kraken-load'} // '') =~ $LOAD;
    return ($peers // -1, $rooms // -1);
}

# every old name: nginx -t passes and names the new one, once each
my ($t, $log);
($rc, $t, $log) = nginx_t(join ' ', map {
    my $v = /timeout|time/ ? '7s' : '9';
    "$_ $v;"
} sort keys %NEW);
is($rc, 0, 'nginx -t takes each of the 10 old names')
    or diag($t);
for my $old (sort keys %NEW) {
    my @said = $log =~ /\[warn\][^\n]*"\Q$old\E"[ ]is[ ]deprecated,
                      [ ]use[ ]"\Q$NEW{$old}\E"/gx;
    is(scalar @said, 1, "$old: one warning names $NEW{$old}")
        or diag($log);
}

# an old name sets the bound its new name sets
$k = KrakenTest->new(workers => 1,
                     stream => 'kraken_worker_peers 5; '
                             . 'kraken_worker_rooms 6;');
is_deeply([bounds_of($k)], [5, 6],
          'kraken_worker_peers 5 and kraken_worker_rooms 6 are the bounds');
like($k->error_log,
     qr/\[warn\].*"kraken_worker_peers"[ ]is[ ]deprecated,
        [ ]use[ ]"kraken_media_worker_peers"/x,
     'the error log says kraken_worker_peers is deprecated');
$k->stop;
$k->assert_clean_log;

# the new names, without a word
$k = KrakenTest->new(workers => 1,
                     stream => 'kraken_media_worker_peers 9; '
                             . 'kraken_media_worker_rooms 11;');
is_deeply([bounds_of($k)], [9, 11],
          'kraken_media_worker_peers 9 and kraken_media_worker_rooms 11 '
          . 'are the bounds');
unlike($k->error_log, qr/is deprecated/, 'and nothing is deprecated');
$k->stop;
$k->assert_clean_log;

# one setting: an old and a new name of it is a duplicate, and an old
# name's value is checked as the new name's
($rc, $t) = nginx_t('kraken_room_peers 3; kraken_media_room_peers 4;');
isnt($rc, 0, 'kraken_room_peers with kraken_media_room_peers fails nginx -t');
like($t, qr/"kraken_media_room_peers" directive is duplicate/,
     'as a duplicate') or diag($t);
($rc, $t) = nginx_t('kraken_peer_streams 128;');
isnt($rc, 0, 'kraken_peer_streams 128 fails nginx -t');
like($t, qr/between 1 and 127/, 'and says the most is 127') or diag($t);

done_testing;
