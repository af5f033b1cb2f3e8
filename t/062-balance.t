# kraken_balance on loopback: a front nginx over three engine nginx
# (each its own nginx, ports on 127.0.0.1), with bare publishes instead of
# browsers, so that the placement rules are checked fast and exactly; the
# whole layout with real peers in network namespaces is t/060.
#
# A loaded engine gets fewer new rooms; every call of a room reaches the
# engine that holds it; a second front, and a restarted one, send a room
# to where it lives; a failed engine's rooms are placed anew.
#
# Issue 17, over two equal engines: a record naming an engine that is
# none of the front's servers is treated as that engine down (the room
# is placed anew, never 502); a client's X-Kraken-Place straight at the
# engines records nothing. A client's bad input (a malformed fingerprint,
# 5003000) does not steer new rooms away from an engine. A burst of new
# rooms sent at once is shared evenly, even when every room's rendezvous
# hash favours the same engine.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Compress::Zlib qw(crc32);
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);
use KrakenTest;

my $J = KrakenTest::json;

my $offer = KrakenTest::chromium_offer();
my $jsep = $J->encode({ type => 'offer', sdp => $offer });

my @eng = map {
    KrakenTest->new(workers => 2,
                    location => 'kraken_placement on; '
                              . 'kraken_placement_from 127.0.0.1; '
                              . 'kraken_info_details on;',
                    stream => 'kraken_media_connect_timeout 1h;')
} 1 .. 3;
my %name = map { $_ => '127.0.0.1:' . $eng[$_]->port } 0 .. 2;

my $upstream = "upstream kraken_engines {\n        kraken_balance;\n"
    . join('', map { "        server $name{$_} max_fails=1 "
                     . "fail_timeout=30s;\n" } 0 .. 2)
    . "    }";

my $location = <<'LOC';
location = /front {
            proxy_pass  http://kraken_engines/;
            proxy_http_version  1.1;
            proxy_set_header  Connection "";
            proxy_set_header  X-Kraken-Place $kraken_place;
            proxy_next_upstream  error timeout http_404 non_idempotent;
            proxy_next_upstream_tries  0;
        }
LOC

sub front {
    return KrakenTest->new(workers => 2, media => 0, http => $upstream,
                           server => $location);
}

# a call through a front, on a fresh connection (any worker)
sub call {
    my ($f, $method, $params) = @_;
    my $res = $f->http(fresh => 1)->request('POST',
        'http://127.0.0.1:' . $f->port . '/front',
        { headers => { 'Content-Type' => 'application/json' },
          content => $J->encode({ id => 'b', method => $method,
                                  params => $params }) });
    my $json = eval { $J->decode($res->{content}) } // {};
    return ($res, $json);
}

# which engines hold room: from their own info
sub holders {
    my ($room) = @_;
    my @on;
    for my $i (0 .. 2) {
        next unless $eng[$i];
        my (undef, $info) = $eng[$i]->rpc('info', [], fresh => 1);
        for my $w (@{ $info->{data}{workers} || [] }) {
            push @on, $i if grep { $_ eq $room } @{ $w->{rooms} || [] };
        }
    }
    return @on;
}

my $tag = int(rand(1e9));

# engine 0 is loaded: 30 peers published straight at it
for my $n (1 .. 30) {
    my ($st, $j) = $eng[0]->rpc('publish', ["load$n-$tag", 'u', $jsep],
                                fresh => 1);
    die "preload: $st" unless $j->{data}{track};
}

my $f1 = front();
my $f2 = front();

# the fronts hear every engine's figures (info is balanced round robin)
for my $f ($f1, $f2) {
    for (1 .. 6) {
        my ($res) = call($f, 'info', []);
        is($res->{status}, 200, 'info through a front') if $_ == 1;
    }
}

# 12 new rooms, each through either front
my (%where, %count);
for my $r (1 .. 12) {
    my $room = "room$r-$tag";
    my $f = $r % 2 ? $f1 : $f2;
    my ($res, $j) = call($f, 'publish', [$room, 'alice', $jsep]);
    ok($j->{data}{track}, "publish of $room through a front")
        or diag($res->{status} . ' ' . $res->{content});
    my @on = holders($room);
    is(scalar @on, 1, "$room lives on one engine") or diag("@on");
    $where{$room} = $on[0] // -1;
    $count{$on[0] // -1}++;
}
diag('new rooms per engine: '
     . join(', ', map { "$_: " . ($count{$_} // 0) } 0 .. 2));
ok(($count{0} // 0) < ($count{1} // 0) && ($count{0} // 0) < ($count{2} // 0),
   'the loaded engine received fewer new rooms than each other');

# every later call of a room, through either front, reaches its engine
for my $r (1 .. 12) {
    my $room = "room$r-$tag";
    for my $f ($f1, $f2) {
        my ($res, $j) = call($f, 'publish', [$room, "bob$r", $jsep]);
        ok($j->{data}{track}, "a newcomer to $room joins");
    }
    my @on = holders($room);
    is_deeply(\@on, [$where{$room}], "$room still lives on one engine");
}

# a restarted front knows nothing: the room's home sends it on
$f1->stop;
$f1 = front();
for my $r (1 .. 6) {
    my $room = "room$r-$tag";
    my ($res, $j) = call($f1, 'publish', [$room, "carol$r", $jsep]);
    ok($j->{data}{track}, "after a front restart a newcomer joins $room");
    is_deeply([holders($room)], [$where{$room}],
              "on the engine $room lives on");
}

# an engine fails: its rooms are placed anew when clients rejoin
my ($victim) = grep { ($count{$_} // 0) > 0 } 1, 2;
$eng[$victim]->stop;
$eng[$victim] = undef;
my @moved = grep { $where{$_} == $victim } sort keys %where;
for my $room (@moved) {
    my ($res, $j) = call($f2, 'publish', [$room, 'dave', $jsep]);
    ok($j->{data}{track}, "$room is published again after its engine "
                          . 'failed') or diag($res->{content});
    my @on = holders($room);
    is(scalar @on, 1, "and lives on one surviving engine") or diag("@on");
    ($res, $j) = call($f1, 'publish', [$room, 'erin', $jsep]);
    ok($j->{data}{track}, 'the other front sends a newcomer there too');
    is_deeply([holders($room)], \@on, 'the same one');
}

for my $k ($f1, $f2, grep { defined } @eng) {
    $k->stop;
    $k->assert_clean_log;
}


# ---- two equal engines, one front ----------------------------------------

@eng = map {
    KrakenTest->new(workers => 2,
                    location => 'kraken_placement on; '
                              . 'kraken_placement_from 127.0.0.1; '
                              . 'kraken_info_details on;',
                    stream => 'kraken_media_connect_timeout 1h;')
} 1 .. 2;
%name = map { $_ => '127.0.0.1:' . $eng[$_]->port } 0 .. 1;
$upstream = "upstream kraken_engines {\n        kraken_balance;\n"
    . join('', map { "        server $name{$_} max_fails=1 "
                     . "fail_timeout=30s;\n" } 0 .. 1)
    . "    }";
my $front = front();

# the front's rendezvous score of a room on an engine (its crc32, mixed)
sub score {
    my ($room, $engine) = @_;
    my $c = crc32("$room\0$engine");
    $c ^= $c >> 16;
    $c = ($c * 0x85ebca6b) & 0xffffffff;
    $c ^= $c >> 13;
    return $c;
}

# n new rooms whose hash puts them on engine 0 when nothing else decides
my $seq = 0;
sub rooms_of_engine0 {
    my ($prefix, $n) = @_;
    my @r;
    while (@r < $n) {
        my $room = sprintf '%s%d-%s', $prefix, $seq++, $tag;
        push @r, $room if score($room, $name{0}) > score($room, $name{1});
    }
    return @r;
}

sub count_on {
    my (@rooms) = @_;
    my %n = (0 => 0, 1 => 0);
    for my $room (@rooms) {
        my @on = holders($room);
        $n{@on == 1 ? $on[0] : 'bad'}++;
    }
    return \%n;
}

for (1 .. 4) {
    my ($res) = call($front, 'info', []);
    die "info through the front: $res->{status}" if $res->{status} != 200;
}

# a record naming an engine the front does not have: placed anew
my $stray = "stray-$tag";
for my $i (0, 1) {
    my $res = HTTP::Tiny->new(timeout => 15)->request('POST', $eng[$i]->url,
        { headers => { 'X-Kraken-Place' => '10.77.0.99:7000' },
          content => $J->encode({ method => 'list', params => [$stray] }) });
    is($res->{status}, 404, "engine $i records $stray on a stranger");
}
my ($res, $j) = call($front, 'publish', [$stray, 'alice', $jsep]);
ok($j->{data}{track}, 'a record naming no server of the front: the room is '
   . 'placed anew, the publish runs') or diag("$res->{status} $res->{content}");
is(scalar(my @h = holders($stray)), 1, 'and lives on one engine');

# a client's placement straight at the engines: ignored, nothing recorded
my $target = "victim-$tag";
for my $i (0, 1) {
    my $res = HTTP::Tiny->new(timeout => 15, local_address => '127.0.0.2')
        ->request('POST', $eng[$i]->url,
        { headers => { 'X-Kraken-Place' => '10.77.0.99:7000' },
          content => $J->encode({ method => 'list', params => [$target] }) });
    is($res->{status}, 200, "a client's X-Kraken-Place at engine $i: an "
       . 'ordinary list');
}
($res, $j) = call($front, 'publish', [$target, 'alice', $jsep]);
ok($j->{data}{track}, '... and the room is published through the front')
    or diag("$res->{status} $res->{content}");
($res, $j) = call($front, 'publish', [$target, 'bob', $jsep]);
ok($j->{data}{track}, '... twice');
is(scalar(@h = holders($target)), 1, '... on one engine');

# a malformed fingerprint is the client's error, not the engine's load
(my $badfp = $offer) =~ s/^a=fingerprint:sha-256 /a=fingerprint:sha-1 /m;
my ($bad) = rooms_of_engine0('bad', 1);
($res, $j) = call($front, 'publish', [$bad, 'mallory',
                  $J->encode({ type => 'offer', sdp => $badfp })]);
is($j->{error}{code}, 5003000, 'a malformed fingerprint through the front: '
   . '5003000') or diag($res->{content});
my @after = rooms_of_engine0('after', 6);
for my $room (@after) {
    ($res, $j) = call($front, 'publish', [$room, 'alice', $jsep]);
    ok($j->{data}{track}, "publish of $room") or diag($res->{content});
}
my $n = count_on(@after);
diag("6 new rooms after the bad publish: engine 0: $n->{0}, "
     . "engine 1: $n->{1}");
ok($n->{0} >= 2 && $n->{1} >= 2,
   'a client\'s 5003000 did not steer new rooms away from an engine');

# a burst: 20 new rooms at once, every one hashed to engine 0
my @burst = rooms_of_engine0('burst', 20);
my ($answers, $spread) = burst($front, @burst);
my $okn = grep { $_->{data} && $_->{data}{track} } values %$answers;
is($okn, 20, '20 publishes sent at once all run')
    or diag(explain [ grep { !$_->{data} } values %$answers ]);
cmp_ok($spread, '<', 0.1, 'sent within 100 ms');
$n = count_on(@burst);
diag("the burst: engine 0: $n->{0}, engine 1: $n->{1}");
ok(!$n->{bad} && abs($n->{0} - $n->{1}) <= 2,
   'a burst of 20 new rooms is shared evenly over two equal engines');

for my $k ($front, @eng) {
    $k->stop;
    $k->assert_clean_log;
}

# publishes of new rooms sent through a front at once, each on its own
# connection: room -> answer, and how long the sending took
sub burst {
    my ($f, @rooms) = @_;
    my (%sock, %buf, %answer);
    for my $room (@rooms) {
        my $body = $J->encode({ id => $room, method => 'publish',
                                params => [$room, 'alice', $jsep] });
        $sock{$room} = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                             PeerPort => $f->port,
                                             Proto => 'tcp')
            or die "connect: $!";
        $buf{$room} = "POST /front HTTP/1.1\r\nHost: front\r\n"
            . "Content-Type: application/json\r\nConnection: close\r\n"
            . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
    }
    my $t0 = time;
    for my $room (@rooms) {
        $sock{$room}->syswrite($buf{$room}) == length $buf{$room}
            or die "write: $!";
        $buf{$room} = '';
    }
    my $spread = time - $t0;

    my $sel = IO::Select->new(values %sock);
    my %room_of = map { (fileno($sock{$_}) => $_) } @rooms;
    my $end = time + 30;
    while ($sel->count && time < $end) {
        for my $s ($sel->can_read(1)) {
            my $room = $room_of{fileno $s};
            my $n = $s->sysread(my $chunk, 65536);
            if ($n) {
                $buf{$room} .= $chunk;
                next;
            }
            $sel->remove($s);
            close $s;
            my ($body) = $buf{$room} =~ /\r\n\r\n(.*)\z/s;
            $answer{$room} = eval { $J->decode($body // '') } // {};
        }
    }
    close $_ for $sel->handles;
    return (\%answer, $spread);
}

done_testing;
