# Hostile datagrams while a room talks: STUN with a wrong password or an
# unknown ufrag, RTP and DTLS from addresses no check admitted, garbage,
# and a DTLS client whose certificate does not match its offer. All are
# dropped and counted, and the room's audio keeps flowing. (Forged and
# replayed SRTP from an admitted address: test/unit/test_engine.c.)
# Then a publisher's own valid check and a ClientHello in a victim's
# name: the victim's address gets a HelloVerifyRequest, never the
# server's flight or its retransmissions, and no more bytes than were
# sent from it (test/unit/test_engine_attacks.c measures it too).

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use KrakenTest;

my $k = KrakenTest->new(workers => 1);
my @pids = $k->worker_pids;

my ($rc, $out, $err) = KrakenTest::run_node('attacks.js', $k->url,
                                            $k->media_port);
KrakenTest::node_checks($rc, $out, $err, 'attacks');

is_deeply([$k->worker_pids], \@pids, 'the worker survived');
$k->stop;
$k->assert_clean_log;

done_testing;
