# An engine behind fronts (two workers): every answer to a call carries
# X-Kraken-Load (peers and rooms of all workers, bounds times the
# workers, CPU and packet rate), and a Kraken error its X-Kraken-Code,
# forwarded or not. With kraken_placement on, X-Kraken-Place decides
# where a room no worker holds runs: the first front's choice is
# recorded, a call for a room placed elsewhere is 404 5002001 with
# X-Kraken-Owner, a held room runs whatever the front chose, and a
# record naming an engine that is down takes the new choice. Without the
# directive the header is ignored. On whichever worker a call lands.
#
# Issue 17: only the fronts of kraken_placement_from place rooms: from
# any other address the header is ignored and the call runs as an
# ordinary call (it records nothing, moves nothing); kraken_placement
# without it is a configuration error. An answer's X-Kraken-Load counts
# the call it answers (each new room at once, not 100 ms later). A
# refusal by the engine's own bounds says X-Kraken-Busy; a client's
# error (a malformed fingerprint, 5003000 too) does not.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

my $J = KrakenTest::json();

my $offer = KrakenTest::chromium_offer();
my $jsep = $J->encode({ type => 'offer', sdp => $offer });

my $LOAD = qr/^cpu=(\d+);[ ]peers=(\d+);[ ]peers_max=(\d+);[ ]rooms=(\d+);
              [ ]rooms_max=(\d+);[ ]pps=(\d+)$/x;
my $NOT_FOUND = 5002001;
my $ELSEWHERE = '10.9.9.9:7000';

my $k = KrakenTest->new(workers => 2,
                        location => 'kraken_placement on; '
                                  . 'kraken_placement_from 127.0.0.1/32;',
                        http_listen => 'reuseport',
                        stream => 'kraken_media_worker_peers 50; '
                                . 'kraken_media_worker_rooms 10;');
my $self = '127.0.0.1:' . $k->port;

# (response, decoded body) of a call on a fresh connection, so that it
# lands on either worker; place: the X-Kraken-Place value; from: the
# client's address (127.0.0.1, the front, unless told)
sub call {
    my ($k, $method, $params, %o) = @_;
    my %body = (method => $method, params => $params);
    $body{id} = $o{id} if defined $o{id};

    my $http = $o{from}
               ? HTTP::Tiny->new(timeout => 15, keep_alive => 0,
                                 local_address => $o{from})
               : $k->http(fresh => 1);
    my $res = $http->request('POST', $k->url, {
        headers => { 'Content-Type' => 'application/json',
                     (defined $o{place}
                      ? ('X-Kraken-Place' => $o{place}) : ()) },
        content => $J->encode(\%body) });
    my $json = eval { $J->decode($res->{content}) };

    return ($res, $json);
}

sub load {
    my ($res) = @_;
    my @f = ($res->{headers}{'x-kraken-load'} // '') =~ $LOAD;
    return @f ? { cpu => $f[0], peers => $f[1], peers_max => $f[2],
                  rooms => $f[3], rooms_max => $f[4], pps => $f[5] }
              : undef;
}

# an answer that ran: data, and the load as every answer has it
sub ran {
    my ($res, $json) = @_;
    return $res->{status} == 200 && $json && exists $json->{data}
           && load($res);
}

sub placed_on {
    my ($res, $json, $owner) = @_;
    my $e = ($json || {})->{error} || {};
    return $res->{status} == 404
           && ($res->{headers}{'x-kraken-owner'} // '') eq $owner
           && ($res->{headers}{'x-kraken-code'} // '') eq $NOT_FOUND
           && ($e->{code} // 0) == $NOT_FOUND && ($e->{status} // 0) == 404
           && ($e->{description} // '') =~ /is placed on \Q$owner\E$/;
}


# the load figures
my ($res, $json) = call($k, 'info', [], id => 'i');
my $l = load($res);
ok($l, 'an answer carries X-Kraken-Load')
    or diag($res->{headers}{'x-kraken-load'} // 'no header');
ok($l && $l->{cpu} <= 100 && $l->{peers} == 0 && $l->{rooms} == 0
   && $l->{pps} == 0,
   'an idle engine: no peers, no rooms, no packets, CPU in percent')
    or diag(explain $l);
ok($l && $l->{peers_max} == 100 && $l->{rooms_max} == 20,
   'the bounds are the workers\' bounds times the workers')
    or diag(explain $l);

($res, $json) = call($k, 'publish', ['free-1', 'u1', $jsep], id => 'p');
ok(ran($res, $json), 'a publish without X-Kraken-Place runs')
    or diag($res->{content});

ok(KrakenTest::wait_for(sub {
       my ($r) = call($k, 'info', []);
       my $f = load($r);
       $f && $f->{peers} == 1 && $f->{rooms} == 1 }, 3),
   'the load counts the new peer and room, on either worker');

# errors: the code in a header too, where the call ran and forwarded
my (%codes, %where);
for my $i (1 .. 80) {
    last if $i > 16 && $where{forwarded} && $where{local};
    ($res, $json) = call($k, 'trickle', ['free-1', 'u1', 'bad-track',
                                         '{"candidate":""}'], id => "t$i");
    my $code = ($json && $json->{error} || {})->{code} // 'none';
    $codes{($res->{headers}{'x-kraken-code'} // 'none') eq $code
           && load($res) ? 'ok' : "bad $code"}++;
    $where{($res->{headers}{'x-kraken-worker'} // '') =~ /forwarded/
           ? 'forwarded' : 'local'}++;
}
ok(!grep({ $_ ne 'ok' } keys %codes) && $where{forwarded} && $where{local},
   'a Kraken error carries X-Kraken-Code and X-Kraken-Load, forwarded '
   . 'or not')
    or diag(explain [\%codes, \%where]);

($res, $json) = call($k, 'publish', [], id => 'x');
is($res->{headers}{'x-kraken-code'}, 5001000,
   'invalid params: X-Kraken-Code 5001000');

# placement: this engine chosen for a new room, which then lives here
($res, $json) = call($k, 'publish', ['room-1', 'u1', $jsep], id => 'p1',
                     place => $self);
ok(ran($res, $json), 'a publish placed on this engine runs')
    or diag($res->{content});

my %ok;
for my $i (1 .. 8) {
    ($res, $json) = call($k, 'list', ['room-1'], place => $ELSEWHERE);
    $ok{ran($res, $json) ? 'ran' : $res->{status}}++;
}
is_deeply(\%ok, { ran => 8 },
          'a room held here runs whatever engine a front chose');

# the room free-1 came without placement: held, so no record is made
($res, $json) = call($k, 'list', ['free-1'], place => $ELSEWHERE);
ok(ran($res, $json), 'a room held without a record runs too');
($res, $json) = call($k, 'list', ['free-1'], place => $self);
ok(ran($res, $json), '... and made no record for another engine');

# a record without a room: list creates none, the record stays
($res, $json) = call($k, 'list', ['room-0'], place => $self);
ok(ran($res, $json), 'a call for a new room placed here runs');
%ok = ();
for my $i (1 .. 8) {
    ($res, $json) = call($k, 'list', ['room-0'], place => $ELSEWHERE);
    $ok{ran($res, $json) ? 'ran' : $res->{status}}++;
}
is_deeply(\%ok, { ran => 8 },
          'its record names this engine: another front\'s choice loses');

# a new room placed on another engine: not run, the front retries there
($res, $json) = call($k, 'publish', ['room-2', 'u2', $jsep], id => 'p2',
                     place => $ELSEWHERE);
ok(placed_on($res, $json, $ELSEWHERE) && $json->{id} eq 'p2',
   'a new room placed elsewhere: 404 5002001, X-Kraken-Owner, the id')
    or diag(explain [$res->{status}, $res->{headers}, $res->{content}]);
ok(load($res), 'the 404 carries X-Kraken-Load');

($res, $json) = call($k, 'list', ['room-2']);
ok(ran($res, $json) && !@{ $json->{data}{peers} || [1] },
   'the placed publish did not run: the room has nobody');

my %seen;
%ok = ();
for my $i (1 .. 80) {
    last if $i > 16 && $seen{0} && $seen{1};
    my $choice = $i % 2 ? '10.8.8.8:7000' : $self;
    ($res, $json) = call($k, 'publish', ['room-2', 'u2', $jsep],
                         place => $choice);
    $ok{placed_on($res, $json, $ELSEWHERE) ? 'elsewhere'
        : $res->{status}}++;
    $seen{$res->{headers}{'x-kraken-worker'} // ''}++;
}
is_deeply([keys %ok], ['elsewhere'],
          'the first front\'s choice stands against other choices');
ok($seen{0} && $seen{1}, 'on either worker')
    or diag(explain \%seen);

my $raw = $k->http(fresh => 1)->request('POST', $k->url, {
    headers => { 'X-Kraken-Place' => $ELSEWHERE },
    content => '{"method":"list","params":["room-2"]}' });
like($raw->{content}, qr/^\{"id":null,"error":\{"status":404,/,
     'a call without an id: "id":null');

# the engine the record names is down: the record takes the new choice
($res, $json) = call($k, 'publish', ['room-2', 'u2', $jsep], id => 'p3',
                     place => "$self; down=10.8.8.8:7000,$ELSEWHERE");
ok(ran($res, $json), 'the owner down: the record moves here, the call runs')
    or diag($res->{content});
%ok = ();
for my $i (1 .. 8) {
    ($res, $json) = call($k, 'list', ['room-2'], place => $ELSEWHERE);
    $ok{ran($res, $json) && @{ $json->{data}{peers} || [] } == 1 ? 'ran'
        : $res->{status}}++;
}
is_deeply(\%ok, { ran => 8 }, 'and the room lives here');

# a record moved back: room-3 placed elsewhere, that engine down, another
($res, $json) = call($k, 'list', ['room-3'], place => $ELSEWHERE);
ok(placed_on($res, $json, $ELSEWHERE), 'room-3 placed elsewhere');
($res, $json) = call($k, 'list', ['room-3'],
                     place => "10.7.7.7:7000 ; down= $ELSEWHERE");
ok(placed_on($res, $json, '10.7.7.7:7000'),
   'its owner down: the record takes the new front\'s choice');
($res, $json) = call($k, 'list', ['room-3'],
                     place => "$self; down=10.6.6.6:7000");
ok(placed_on($res, $json, '10.7.7.7:7000'),
   'a down list without the owner changes nothing');

# a front that asks before placing: told, never recorded
($res, $json) = call($k, 'list', ['room-3'],
                     place => "$self; ask");
ok(placed_on($res, $json, '10.7.7.7:7000'),
   'asked about a room with a record: its owner');
($res, $json) = call($k, 'list', ['room-5'], place => "$ELSEWHERE; ask");
ok($res->{status} == 404 && !defined $res->{headers}{'x-kraken-owner'}
   && ($json->{error}{code} // 0) == 5002001,
   'asked about a room it knows nothing of: 404 without an owner');
($res, $json) = call($k, 'list', ['room-5'], place => "$self; ask");
ok($res->{status} == 404 && !defined $res->{headers}{'x-kraken-owner'},
   '... and asking made no record');
($res, $json) = call($k, 'list', ['room-3'],
                     place => "$self; down=10.7.7.7:7000; ask");
ok($res->{status} == 404 && !defined $res->{headers}{'x-kraken-owner'},
   'a record of a down engine is not told');
($res, $json) = call($k, 'list', ['room-5'], place => $ELSEWHERE);
ok(placed_on($res, $json, $ELSEWHERE), 'placing without ask records');

# what is not a placement
($res, $json) = call($k, 'list', ['room-4'], place => 'a b');
ok(ran($res, $json), 'a malformed X-Kraken-Place is ignored');
($res, $json) = call($k, 'info', [], place => $ELSEWHERE);
ok(ran($res, $json), 'a call without a room is not placed');

# a client is not a front: its X-Kraken-Place is ignored
my $CLIENT = '127.0.0.2';
%ok = ();
for my $i (1 .. 8) {
    ($res, $json) = call($k, 'list', ['room-6'], place => $ELSEWHERE,
                         from => $CLIENT);
    $ok{ran($res, $json) ? 'ran' : $res->{status}}++;
}
is_deeply(\%ok, { ran => 8 },
          'X-Kraken-Place from a client address: an ordinary call')
    or diag(explain [$res->{status}, $res->{headers}, $res->{content}]);
($res, $json) = call($k, 'list', ['room-6'], place => $self);
ok(ran($res, $json), '... which recorded nothing: a front places the room '
   . 'here') or diag($res->{content});
($res, $json) = call($k, 'publish', ['room-7', 'u7', $jsep], id => 'p7',
                     place => "$self; ask", from => $CLIENT);
ok(ran($res, $json), 'a client\'s "ask" for a new room: it runs');
($res, $json) = call($k, 'list', ['room-3'],
                     place => "$self; down=10.7.7.7:7000", from => $CLIENT);
ok(ran($res, $json), 'a client naming the owner down does not move a room')
    or diag($res->{content});
($res, $json) = call($k, 'list', ['room-3'], place => $self);
ok(placed_on($res, $json, '10.7.7.7:7000'), '... its record stands');

# the answer counts the call it answers: every new room at once
my ($before) = call($k, 'info', []);
my $rooms0 = (load($before) || {})->{rooms} // -1;
my @seen;
for my $i (1 .. 6) {
    ($res, $json) = call($k, 'publish', ["count-$i", 'u', $jsep],
                         place => $self);
    push @seen, (load($res) || {})->{rooms} // -1;
}
is_deeply(\@seen, [ map { $rooms0 + $_ } 1 .. 6 ],
          'each publish of a new room: its X-Kraken-Load counts that room')
    or diag("rooms before: $rooms0, after each: @seen");

# a client's bad input is a 5003000 too, but no bound refused it
(my $badfp = $offer) =~ s/^a=fingerprint:sha-256 /a=fingerprint:sha-1 /m;
($res, $json) = call($k, 'publish', ['bad-fp', 'u', $J->encode({
                         type => 'offer', sdp => $badfp })], place => $self);
is($res->{headers}{'x-kraken-code'}, 5003000,
   'a malformed fingerprint: 5003000') or diag($res->{content});
ok(!defined $res->{headers}{'x-kraken-busy'},
   '... without X-Kraken-Busy: the engine is not busy');

$k->stop;
$k->assert_clean_log;


# the engine's own bounds refuse: X-Kraken-Busy says which
my $small = KrakenTest->new(workers => 1,
                            stream => 'kraken_media_worker_rooms 2; '
                                    . 'kraken_media_worker_peers 3;');
($res, $json) = call($small, 'publish', ["b-$_", 'u', $jsep]) for 1 .. 2;
($res, $json) = call($small, 'publish', ['b-3', 'u', $jsep]);
is($res->{headers}{'x-kraken-code'}, 5003000, 'rooms bound: 5003000');
is($res->{headers}{'x-kraken-busy'}, '2 rooms',
   'X-Kraken-Busy: 2 rooms') or diag($res->{content});
($res, $json) = call($small, 'publish', ['b-1', 'u2', $jsep]);
ok(ran($res, $json), 'a third peer in a room that exists');
($res, $json) = call($small, 'publish', ['b-2', 'u3', $jsep]);
is($res->{headers}{'x-kraken-busy'}, '3 peers', 'X-Kraken-Busy: 3 peers')
    or diag($res->{content});
($res, $json) = call($small, 'publish', ['b-4']);
ok($res->{headers}{'x-kraken-code'}
   && !defined $res->{headers}{'x-kraken-busy'},
   'another error: no X-Kraken-Busy')
    or diag(explain [$res->{headers}, $res->{content}]);
$small->stop;
$small->assert_clean_log;


# kraken_placement without kraken_placement_from: nginx refuses to start
my $bare = KrakenTest->new(workers => 1, location => 'kraken_placement on;',
                           no_start => 1);
my $bp = $bare->prefix;
my $tcmd = "$KrakenTest::NGINX -t -p $bp/ -e logs/error.log"
           . ' -c conf/nginx.conf 2>&1';
my $tout = `$tcmd`;
ok($? != 0
   && $tout =~ /takes the fronts' addresses in "kraken_placement_from"/,
   'kraken_placement on without kraken_placement_from: a config error')
    or diag($tout);


# without kraken_placement, X-Kraken-Place is the client's, ignored
my $off = KrakenTest->new(workers => 2, http_listen => 'reuseport',
                          stream => 'kraken_media_worker_peers 0; '
                                  . 'kraken_media_worker_rooms 0;');
%ok = ();
for my $i (1 .. 8) {
    ($res, $json) = call($off, 'publish', ["off-$i", 'u', $jsep],
                         place => $ELSEWHERE);
    $ok{ran($res, $json) ? 'ran' : $res->{status}}++;
}
is_deeply(\%ok, { ran => 8 },
          'kraken_placement off: X-Kraken-Place is ignored');
$l = load($res);
ok($l && $l->{peers_max} == 0 && $l->{rooms_max} == 0,
   'unbounded workers: peers_max and rooms_max are 0')
    or diag(explain $l);

$off->stop;
$off->assert_clean_log;

done_testing;
