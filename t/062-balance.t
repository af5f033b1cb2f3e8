# kraken_balance on loopback: a front nginx over three engine nginx
# (each its own nginx, ports on 127.0.0.1), with bare publishes instead of
# browsers, so that the placement rules are checked fast and exactly; the
# whole layout with real peers in network namespaces is t/060.
#
# A loaded engine gets fewer new rooms; every call of a room reaches the
# engine that holds it; a second front, and a restarted one, send a room
# to where it lives; a failed engine's rooms are placed anew.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

my $J = KrakenTest::json;

my $offer = do {
    local $/;
    open my $fh, '<', "$KrakenTest::ROOT/t/data/chromium-156-offer-audio.sdp"
        or die "offer: $!";
    <$fh>;
};
my $jsep = $J->encode({ type => 'offer', sdp => $offer });

my @eng = map {
    KrakenTest->new(workers => 2,
                    location => 'kraken_placement on; '
                              . 'kraken_info_details on;',
                    stream => 'kraken_connect_timeout 1h;')
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

done_testing;
