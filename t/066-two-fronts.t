# Two fronts place the same new rooms at the same moment: each room's
# participants publish at once, some through one front and some through
# the other, as kraken.fm's clients of one room do behind two fronts.
# The fronts' choices can differ (each counts its own placements in
# flight); the room's home records the first, and a front sent on to the
# engine that record names must land there: every publish runs, and every
# room lives on exactly one engine.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);
use KrakenTest;

my $J = KrakenTest::json;

my $offer = KrakenTest::chromium_offer();
my $jsep = $J->encode({ type => 'offer', sdp => $offer });

my @eng = map {
    KrakenTest->new(workers => 1,
                    location => 'kraken_placement on; '
                              . 'kraken_placement_from 127.0.0.1; '
                              . 'kraken_info_details on;',
                    stream => 'kraken_media_connect_timeout 1h;')
} 1 .. 3;

my $upstream = "upstream kraken_engines {\n        kraken_balance;\n"
    . join('', map { '        server 127.0.0.1:' . $_->port
                     . " max_fails=1 fail_timeout=30s;\n" } @eng)
    . "    }";

my $location = <<'LOC';
location = /front {
            kraken_front;
            proxy_pass  http://kraken_engines/;
            proxy_http_version  1.1;
            proxy_set_header  Connection "";
            proxy_set_header  X-Kraken-Place $kraken_place;
            proxy_next_upstream  error timeout http_404 non_idempotent;
            proxy_next_upstream_tries  0;
        }
LOC

my @front = map {
    KrakenTest->new(workers => 2, media => 0, http => $upstream,
                    server => $location)
} 1 .. 2;

# which engines hold a room, from their own info
sub holders {
    my ($room) = @_;
    my @on;
    for my $i (0 .. $#eng) {
        my (undef, $info) = $eng[$i]->rpc('info', [], fresh => 1);
        for my $w (@{ $info->{data}{workers} || [] }) {
            push @on, $i if grep { $_ eq $room } @{ $w->{rooms} || [] };
        }
    }
    return @on;
}

# [front, room, uid] publishes sent at once, each on its own connection:
# "room uid" -> the answer
sub burst {
    my (@calls) = @_;
    my (%sock, %buf, %answer, %key_of);
    for my $c (@calls) {
        my ($f, $room, $uid) = @$c;
        my $key = "$room $uid";
        my $body = $J->encode({ id => $key, method => 'publish',
                                params => [$room, $uid, $jsep] });
        $sock{$key} = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                            PeerPort => $f->port,
                                            Proto => 'tcp')
            or die "connect: $!";
        $key_of{fileno $sock{$key}} = $key;
        $buf{$key} = "POST /front HTTP/1.1\r\nHost: front\r\n"
            . "Content-Type: application/json\r\nConnection: close\r\n"
            . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
    }
    for my $key (keys %sock) {
        $sock{$key}->syswrite($buf{$key}) == length $buf{$key}
            or die "write: $!";
        $buf{$key} = '';
    }

    my $sel = IO::Select->new(values %sock);
    my $end = time + 30;
    while ($sel->count && time < $end) {
        for my $s ($sel->can_read(1)) {
            my $key = $key_of{fileno $s};
            my $n = $s->sysread(my $chunk, 65536);
            if ($n) {
                $buf{$key} .= $chunk;
                next;
            }
            $sel->remove($s);
            close $s;
            my ($body) = $buf{$key} =~ /\r\n\r\n(.*)\z/s;
            $answer{$key} = eval { $J->decode($body // '') } // {};
        }
    }
    close $_ for $sel->handles;
    return \%answer;
}

my $tag = int(rand(1e9));
my @rooms = map { "race$_-$tag" } 1 .. 15;

# room i: uids 0 and 2 through one front, uid 1 through the other
my @calls;
for my $i (0 .. $#rooms) {
    for my $u (0 .. 2) {
        push @calls, [$front[($i + $u) % 2], $rooms[$i], "u$u"];
    }
}

my $answers = burst(@calls);
my @failed = grep { !($answers->{$_}{data} && $answers->{$_}{data}{track}) }
             sort keys %$answers;
is(scalar keys %$answers, 45, '45 publishes answered');
ok(!@failed, 'every publish of a new room through either front runs')
    or diag(explain { map { $_ => $answers->{$_} } @failed });

my @split;
for my $room (@rooms) {
    my @on = holders($room);
    push @split, "$room on [@on]" unless @on == 1;
}
ok(!@split, 'every room lives on exactly one engine') or diag("@split");

for my $room (@rooms) {
    my ($on) = holders($room);
    next unless defined $on;
    my (undef, $list) = $eng[$on]->rpc('list', [$room], fresh => 1);
    my $n = scalar @{ $list->{data}{peers} || [] };
    next if $n == 3;
    fail("$room: its 3 participants are together ($n)");
}

for my $k (@front, @eng) {
    $k->stop;
    $k->assert_clean_log;
}

done_testing;
