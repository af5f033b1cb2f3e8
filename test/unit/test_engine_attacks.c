/*
 * The engine under attack, end to end with simulated browsers (test/sim):
 * a peer's SSRCs are pinned, oversized datagrams are dropped, forwarded
 * packets never reuse an SRTP index, STUN alone never moves the media
 * path, authenticated media keeps consent, numeric mids stay small, a
 * failing random source fails the call that needed it and a spoofed
 * address gets no more DTLS bytes than were sent in its name. Each test
 * names the behaviour it holds the engine to.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "kraken_engine.h"
#include "kraken_rtp.h"
#include "kraken_srtp.h"
#include "sim.h"


#define OPUS          111
#define STEP          20                /* ms between two audio packets */
#define REBASE        8192              /* a jump the subscriber never sees */


static sim_t  *sim;


static int
setup(void **state)
{
    sim = sim_new();
    assert_non_null(sim);

    sim->conf.random = sim_random;
    sim->conf.random_data = &sim->rng;

    return 0;
}


static int
teardown(void **state)
{
    sim_free(sim);
    sim = NULL;

    return 0;
}


static void
engine(void)
{
    assert_non_null(sim_engine(sim));
}


static sim_client_t *
client(int idx)
{
    return &sim->clients[idx];
}


static void
publish(int idx, const char *room, const char *uid)
{
    assert_int_equal(sim_publish(sim, idx, room, uid, OPUS), KRAKEN_OK);
}


static void
join(int idx, const char *room, const char *uid, uint16_t seq)
{
    publish(idx, room, uid);
    client(idx)->seq = seq;
    assert_int_equal(sim_connect(sim, idx), 0);
    assert_int_equal(sim_send(sim, idx, OPUS), 0);
}


static void
subscribe(int idx)
{
    assert_int_equal(sim_subscribe(sim, idx, NULL), 1);
}


/* One packet from 'from' reaches 'to': returns how many did. */

static int
flows(int from, int to)
{
    int  before;

    before = client(to)->received;
    assert_int_equal(sim_send(sim, from, OPUS), 0);

    return client(to)->received - before;
}


/* An authenticated RTP packet of client idx, any seq, SSRC and size. */

static void
rtp(int idx, int pt, uint16_t seq, uint32_t ssrc, size_t payload)
{
    size_t   len;
    uint8_t  buf[4096];

    assert_int_equal(sim_rtp(sim, idx, pt, seq, ssrc, payload, buf,
                             sizeof(buf), &len), 0);
    sim_input(sim, idx, buf, len);
}


/* The client's next packet after a jump: its seq moves by 'jump'. */

static void
rtp_jump(int idx, uint16_t jump)
{
    client(idx)->seq = (uint16_t) (client(idx)->seq - 1 + jump);
    assert_int_equal(sim_send(sim, idx, OPUS), 0);
}


/*
 * The same, as the forwarder sees it, when no SRTP receiver would take
 * the jump in one step: a packet of another payload type, authenticated
 * but never forwarded, halves it.
 */

static void
rtp_jump_halved(int idx, uint16_t jump)
{
    rtp(idx, 0, (uint16_t) (client(idx)->seq - 1 + jump / 2),
        client(idx)->ssrc, 100);
    rtp_jump(idx, jump);
}


static void
rtp_run(int idx, int n)
{
    while (n--) {
        assert_int_equal(sim_send(sim, idx, OPUS), 0);
    }
}


static size_t
sender_report(int idx, uint32_t ssrc, uint8_t *buf, size_t cap)
{
    size_t  len;

    memset(buf, 0, 28);
    buf[0] = 0x80;
    buf[1] = KRAKEN_RTCP_SR;
    buf[3] = 6;
    buf[4] = (uint8_t) (ssrc >> 24);
    buf[5] = (uint8_t) (ssrc >> 16);
    buf[6] = (uint8_t) (ssrc >> 8);
    buf[7] = (uint8_t) ssrc;
    len = 28;

    assert_int_equal(kraken_srtp_protect_rtcp(client(idx)->srtp, buf, &len,
                                              cap), 0);

    return len;
}


/* The subscriber's view of a stream: fresh indexes, no jump to hide. */

static void
indexes_are_fresh(int idx)
{
    int  reused;

    reused = sim_index_reuse(sim, idx);

    if (reused || client(idx)->estimate_errors
        || client(idx)->max_jump >= REBASE)
    {
        print_error("client %d: %d packet indexes reused, %d ROC estimates "
                    "off, a jump of %llu\n", idx, reused,
                    client(idx)->estimate_errors,
                    (unsigned long long) client(idx)->max_jump);
    }

    assert_int_equal(reused, 0);
    assert_int_equal(client(idx)->estimate_errors, 0);
    assert_true(client(idx)->max_jump < REBASE);
}


/* 1. SSRC pinning */

static void
test_a_publisher_gets_its_ssrc_and_four_more_then_is_closed(
    void **state)
{
    int                        i, received;
    size_t                     len;
    uint8_t                    buf[256];
    kraken_engine_counters_t   before, after;

    engine();

    /* alice attacks; bob hears her and carol; erin hears dave next door */
    join(0, "one", "alice", 1000);
    join(1, "one", "bob", 1000);
    join(2, "one", "carol", 1000);
    join(3, "two", "dave", 1000);
    join(4, "two", "erin", 1000);
    subscribe(1);
    subscribe(4);

    assert_int_equal(flows(0, 1), 1);
    assert_int_equal(flows(2, 1), 1);
    assert_int_equal(flows(3, 4), 1);

    /* four more SSRCs, each pinned by its first authenticated packet */
    for (i = 0; i < 4; i++) {
        received = client(1)->received;
        rtp(0, OPUS, (uint16_t) (7000 + 1000 * i), 0x10000 + i, 100);
        assert_int_equal(client(1)->received, received + 1);
        assert_int_equal(sim_lookup(sim, 0), KRAKEN_OK);
    }

    /* unauthenticated packets with unknown SSRCs: anyone can send them */
    before = sim_counters(sim);

    for (i = 0; i < 10; i++) {
        assert_int_equal(sim_rtp(sim, 0, OPUS, 100, 0x20000 + i, 100, buf,
                                 sizeof(buf), &len), 0);
        buf[len - 1] ^= 0x01;
        sim_input(sim, 0, buf, len);
    }

    after = sim_counters(sim);
    assert_int_equal(after.srtp_failed - before.srtp_failed, 10);
    assert_int_equal(after.ssrc_refused, before.ssrc_refused);
    assert_int_equal(sim_lookup(sim, 0), KRAKEN_OK);

    /* SRTCP from an SSRC she never sent RTP from is dropped unread */
    before = sim_counters(sim);
    len = sender_report(0, 0x30000, buf, sizeof(buf));
    sim_input(sim, 0, buf, len);
    after = sim_counters(sim);
    assert_int_equal(after.rtcp_received, before.rtcp_received);
    assert_int_equal(client(1)->sr_ssrc, 0);
    assert_int_equal(sim_lookup(sim, 0), KRAKEN_OK);

    assert_int_equal(flows(2, 1), 1);
    assert_int_equal(flows(3, 4), 1);

    /* the first authenticated packet of a sixth SSRC closes her */
    before = sim_counters(sim);
    received = client(1)->received;
    rtp(0, OPUS, 12000, 0x10004, 100);
    after = sim_counters(sim);

    assert_int_equal(client(1)->received, received);
    assert_int_equal(after.ssrc_refused - before.ssrc_refused, 1);
    assert_int_equal(after.rtp_forwarded, before.rtp_forwarded);
    assert_int_equal(sim_lookup(sim, 0), KRAKEN_ERR_PEER_CLOSED);

    /* nobody else noticed */
    assert_int_equal(flows(0, 1), 0);
    assert_int_equal(flows(2, 1), 1);
    assert_int_equal(flows(3, 4), 1);
    assert_int_equal(sim_lookup(sim, 1), KRAKEN_OK);
    assert_int_equal(sim_lookup(sim, 2), KRAKEN_OK);
    assert_int_equal(sim_lookup(sim, 3), KRAKEN_OK);
    assert_int_equal(sim_lookup(sim, 4), KRAKEN_OK);
}


/* 2. Sizes */

static void
test_datagrams_over_1500_and_unforwardable_packets_are_dropped(
    void **state)
{
    int                        received;
    size_t                     len;
    uint8_t                    buf[4096];
    sim_client_t              *alice, *bob;
    struct sockaddr_in         stranger;
    kraken_engine_counters_t   before, after;

    engine();
    join(0, "room", "alice", 1000);
    join(1, "room", "bob", 1000);
    subscribe(0);
    subscribe(1);
    alice = client(0);
    bob = client(1);

    assert_int_equal(flows(0, 1), 1);

    /* an authenticated 2,022-byte SRTP packet: dropped at input */
    before = sim_counters(sim);
    received = bob->received;
    assert_int_equal(sim_rtp(sim, 0, OPUS, alice->seq++, alice->ssrc,
                             2022 - 12 - 16, buf, sizeof(buf), &len), 0);
    assert_true(len > 1500);
    sim_input(sim, 0, buf, len);

    after = sim_counters(sim);
    assert_int_equal(after.oversize - before.oversize, 1);
    assert_int_equal(after.rtp_forwarded, before.rtp_forwarded);
    assert_int_equal(bob->received, received);
    assert_int_equal(flows(0, 1), 1);

    /* one byte too many, authenticated or not, from anywhere */
    before = sim_counters(sim);
    assert_int_equal(sim_rtp(sim, 0, OPUS, alice->seq++, alice->ssrc,
                             1501 - 12 - 16, buf, sizeof(buf), &len), 0);
    assert_int_equal(len, 1501);
    sim_input(sim, 0, buf, len);

    memset(buf, 0, 1600);
    buf[0] = 0x80;
    stranger = alice->addr[0];
    stranger.sin_port = htons(50000);
    sim_input_from(sim, &stranger, buf, 1600);
    buf[0] = 0x00;
    buf[1] = 0x01;
    sim_input_from(sim, &alice->addr[0], buf, 1600);

    after = sim_counters(sim);
    assert_int_equal(after.oversize - before.oversize, 3);
    assert_int_equal(after.rtp_forwarded, before.rtp_forwarded);
    assert_int_equal(flows(0, 1), 1);

    /*
     * 1,469 bytes of RTP fit one datagram as SRTP, but not once
     * re-protected for a subscriber with room for any trailer (32)
     */
    before = sim_counters(sim);
    received = bob->received;
    rtp(0, OPUS, alice->seq++, alice->ssrc, 1469 - 12);
    after = sim_counters(sim);
    assert_int_equal(after.oversize - before.oversize, 1);
    assert_int_equal(after.rtp_forwarded, before.rtp_forwarded);
    assert_int_equal(bob->received, received);

    /* 1,468 bytes do */
    rtp(0, OPUS, alice->seq++, alice->ssrc, 1468 - 12);
    assert_int_equal(bob->received, received + 1);
    assert_int_equal(bob->last_len, 1468);
    assert_int_equal(sim_counters(sim).oversize, after.oversize);

    /* and audio goes on */
    assert_int_equal(flows(0, 1), 1);
    assert_int_equal(flows(1, 0), 1);
    assert_int_equal(sim_lookup(sim, 0), KRAKEN_OK);
    indexes_are_fresh(1);
}


/* 3. SRTP indexes: alice publishes, bob decrypts with stock libsrtp */

static void
pair_with_audio(uint16_t seq)
{
    engine();
    join(0, "room", "alice", seq);
    join(1, "room", "bob", 1000);
    subscribe(1);
    rtp_run(0, 10);
    assert_int_equal(client(1)->received, 10);
}


static void
test_after_a_seq_jump_of_32768_later_packets_still_decrypt(void **state)
{
    int  received;

    pair_with_audio(1000);
    received = client(1)->received;

    /* the finding: every packet after it reused an earlier index */
    rtp_jump(0, 32768);
    rtp_run(0, 20);

    assert_int_equal(client(1)->rejected, 0);
    assert_true(client(1)->received >= received + 20);
    indexes_are_fresh(1);

    /* and a second time, from the other half of the sequence space */
    received = client(1)->received;
    rtp_jump_halved(0, 32768);
    assert_true(client(1)->received <= received + 1);
    rtp_run(0, 20);

    assert_int_equal(client(1)->rejected, 0);
    assert_true(client(1)->received >= received + 20);
    indexes_are_fresh(1);
}


static void
test_seq_jumps_of_32767_and_32769_are_rebased(void **state)
{
    int       received;
    uint16_t  seq;

    pair_with_audio(1000);

    /* +32767: libsrtp would take it; the subscriber must not see it */
    received = client(1)->received;
    rtp_jump(0, 32767);
    rtp_run(0, 20);

    assert_int_equal(client(1)->rejected, 0);
    assert_int_equal(client(1)->received, received + 21);
    indexes_are_fresh(1);

    /* +32769 between two forwarded packets */
    received = client(1)->received;
    rtp_jump_halved(0, 32769);
    rtp_run(0, 20);

    assert_int_equal(client(1)->rejected, 0);
    assert_true(client(1)->received >= received + 20);
    indexes_are_fresh(1);

    /* a small gap (loss) is forwarded as a gap */
    received = client(1)->received;
    seq = client(1)->last_seq;
    rtp_jump(0, 100);
    assert_int_equal(client(1)->received, received + 1);
    assert_int_equal((uint16_t) (client(1)->last_seq - seq), 100);
    rtp_run(0, 5);
    assert_int_equal(client(1)->received, received + 6);
    indexes_are_fresh(1);
}


static void
test_a_publisher_coming_around_to_old_seqs_never_reuses_an_index(
    void **state)
{
    int       i, received;
    uint16_t  first;

    pair_with_audio(1000);
    first = (uint16_t) (client(0)->seq - 10);
    rtp_run(0, 10);

    /*
     * Packets of another payload type, authenticated and never
     * forwarded, carry alice's sequence numbers around the circle, back
     * to numbers she has already sent: at the same offset, those would
     * be the same packet indexes for bob.
     */
    for (i = 0; i < 3; i++) {
        rtp(0, 0, (uint16_t) (client(0)->seq - 1 + 20000 * (i + 1)),
            client(0)->ssrc, 100);
    }

    client(0)->seq = (uint16_t) (first + 5);
    rtp_run(0, 40);
    indexes_are_fresh(1);

    /* whatever was dropped on the way, she is heard again */
    received = client(1)->received;
    rtp_run(0, 20);
    assert_int_equal(client(1)->received, received + 20);
    indexes_are_fresh(1);
}


/* Sends what bob will see as 'to', through gaps smaller than REBASE. */

static void
walk_subscriber_seq_to(uint16_t to)
{
    int       n;
    uint16_t  gap;

    for (n = 0; n < 20; n++) {
        gap = (uint16_t) (to - client(1)->last_seq);

        if (gap <= 4000) {
            break;
        }

        rtp_jump(0, 4000);
    }

    assert_true(n < 20);

    rtp_jump(0, gap);
    assert_int_equal(client(1)->last_seq, to);
}


/* Four packets protected in order, delivered with the second last. */

static void
late_across_a_wrap(int idx)
{
    int      i;
    size_t   len[4];
    uint8_t  buf[4][256];

    for (i = 0; i < 4; i++) {
        assert_int_equal(sim_rtp(sim, idx, OPUS, client(idx)->seq++,
                                 client(idx)->ssrc, 100, buf[i],
                                 sizeof(buf[i]), &len[i]), 0);
    }

    sim_input(sim, idx, buf[0], len[0]);
    sim_input(sim, idx, buf[2], len[2]);
    sim_input(sim, idx, buf[3], len[3]);
    sim_input(sim, idx, buf[1], len[1]);
}


static void
test_wraps_late_packets_and_ssrc_changes_keep_indexes_fresh(void **state)
{
    int       received;
    uint16_t  seq;

    /* alice's numbers wrap, with a packet late from before the wrap */
    pair_with_audio(65500);
    rtp_run(0, 23);
    assert_int_equal(client(0)->seq, 65534);

    received = client(1)->received;
    late_across_a_wrap(0);
    assert_int_equal(client(0)->seq, 2);
    rtp_run(0, 10);
    assert_int_equal(client(1)->received, received + 14);
    assert_int_equal(client(1)->rejected, 0);
    indexes_are_fresh(1);

    /* bob's numbers wrap, with a packet late from before that wrap */
    walk_subscriber_seq_to(65533);
    received = client(1)->received;
    late_across_a_wrap(0);
    rtp_run(0, 10);
    assert_int_equal(client(1)->received, received + 14);
    assert_int_equal(client(1)->rejected, 0);
    indexes_are_fresh(1);

    /* a new SSRC far away in numbers, then the old one again */
    received = client(1)->received;
    seq = client(0)->seq;

    for (client(0)->seq = 40000; client(0)->seq < 40020; /* void */) {
        rtp(0, OPUS, client(0)->seq++, 0x50000, 100);
    }

    client(0)->seq = seq;
    rtp_run(0, 20);

    assert_int_equal(client(1)->received, received + 40);
    assert_int_equal(client(1)->rejected, 0);
    indexes_are_fresh(1);
}


/* 4. Path switching */

static void
test_a_replayed_check_from_another_address_does_not_move_the_path(
    void **state)
{
    int                        media0, stun1;
    size_t                     len;
    uint8_t                    check[512], copy[512];
    sim_client_t              *alice;
    kraken_engine_counters_t   ct;

    engine();
    join(0, "room", "alice", 1000);
    join(1, "room", "bob", 1000);
    subscribe(0);
    subscribe(1);
    alice = client(0);

    assert_int_equal(flows(1, 0), 1);
    assert_int_equal(alice->media_at[0], 1);

    /* alice's valid check with USE-CANDIDATE, replayed from elsewhere */
    len = sim_check_build(sim, 0, alice->server_pwd, 1, check,
                          sizeof(check));
    assert_true(len > 0);
    memcpy(copy, check, len);
    sim_input(sim, 0, check, len);

    stun1 = alice->stun_at[1];
    sim_input_from(sim, &alice->addr[1], copy, len);
    assert_int_equal(alice->stun_at[1], stun1 + 1);

    media0 = alice->media_at[0];
    assert_int_equal(flows(1, 0), 1);
    assert_int_equal(flows(1, 0), 1);
    assert_int_equal(flows(1, 0), 1);
    assert_int_equal(alice->media_at[0], media0 + 3);
    assert_int_equal(alice->media_at[1], 0);
    assert_int_equal(flows(0, 1), 1);

    ct = sim_counters(sim);
    assert_int_equal(ct.path_switches, 0);

    /* alice really moves: a check, then SRTP from the new address */
    alice->from = 1;
    sim_check(sim, 0, alice->server_pwd);
    sim_pump(sim);

    media0 = alice->media_at[0];
    assert_int_equal(flows(1, 0), 1);
    assert_int_equal(alice->media_at[0], media0 + 1);

    assert_int_equal(flows(0, 1), 1);

    assert_int_equal(flows(1, 0), 1);
    assert_int_equal(flows(1, 0), 1);
    assert_int_equal(alice->media_at[0], media0 + 1);
    assert_int_equal(alice->media_at[1], 2);

    ct = sim_counters(sim);
    assert_int_equal(ct.path_switches, 1);
    assert_int_equal(sim_lookup(sim, 0), KRAKEN_OK);
}


static void
test_before_dtls_only_dtls_from_a_checked_address_moves_the_path(
    void **state)
{
    sim_client_t  *alice;

    engine();
    publish(0, "room", "alice");
    alice = client(0);

    /* a check from each address; the handshake comes from the first */
    sim_check(sim, 0, alice->server_pwd);
    sim_pump(sim);
    alice->from = 1;
    sim_check(sim, 0, alice->server_pwd);
    sim_pump(sim);
    alice->from = 0;

    assert_int_equal(sim_handshake(sim, 0), 0);
    assert_true(alice->dtls_at[0] > 0);
    assert_int_equal(alice->dtls_at[1], 0);
    assert_int_equal(sim_counters(sim).path_switches, 0);

    /* bob's handshake comes from the second: it goes there */
    publish(1, "room", "bob");
    sim_check(sim, 1, client(1)->server_pwd);
    sim_pump(sim);
    client(1)->from = 1;
    sim_check(sim, 1, client(1)->server_pwd);
    sim_pump(sim);

    assert_int_equal(sim_handshake(sim, 1), 0);
    assert_int_equal(client(1)->dtls_at[0], 0);
    assert_true(client(1)->dtls_at[1] > 0);
    assert_int_equal(sim_counters(sim).path_switches, 1);

    assert_int_equal(sim_send(sim, 0, OPUS), 0);
    assert_int_equal(sim_send(sim, 1, OPUS), 0);
    subscribe(0);
    assert_int_equal(flows(1, 0), 1);
    assert_int_equal(alice->media_at[1], 0);
}


/* 5. Liveness */

static void
test_authenticated_media_alone_keeps_consent(void **state)
{
    int       sent;
    uint64_t  start, t;

    engine();
    join(0, "room", "alice", 1000);
    join(2, "room", "carol", 1000);
    subscribe(2);

    /* alice sends audio and no STUN; carol checks every second */
    start = sim->now;
    sent = 0;

    for (t = 0; t <= 2 * sim->conf.consent_timeout; t += STEP) {
        assert_int_equal(sim_send(sim, 0, OPUS), 0);
        sent++;

        if (t % 1000 == 0) {
            sim_check(sim, 2, client(2)->server_pwd);
            sim_pump(sim);
        }

        sim_advance(sim, STEP);
        assert_int_equal(sim_lookup(sim, 0), KRAKEN_OK);
    }

    assert_true(sim->now - start > 2 * sim->conf.consent_timeout);
    assert_int_equal(sim_lookup(sim, 0), KRAKEN_OK);
    assert_int_equal(client(2)->received, sent);
    assert_int_equal(flows(0, 2), 1);
}


static void
test_unauthenticated_bytes_never_keep_consent(void **state)
{
    int       i;
    size_t    len, replay_len;
    uint8_t   buf[256], replay[256];
    uint64_t  last;

    engine();
    publish(1, "room", "bob");
    assert_int_equal(sim_connect(sim, 1), 0);

    /* bob's last authenticated packet, kept for replays */
    assert_int_equal(sim_rtp(sim, 1, OPUS, client(1)->seq++,
                             client(1)->ssrc, 100, replay, sizeof(replay),
                             &replay_len), 0);
    memcpy(buf, replay, replay_len);
    sim_input(sim, 1, buf, replay_len);
    last = sim->now;

    for (i = 0; sim_lookup(sim, 1) == KRAKEN_OK; i++) {
        assert_true(sim->now < last + sim->conf.consent_timeout + STEP);

        switch (i % 4) {

        case 0:
            /* a Binding indication: no credentials, no answer */
            memset(buf, 0, 20);
            buf[1] = 0x11;
            buf[4] = 0x21;
            buf[5] = 0x12;
            buf[6] = 0xa4;
            buf[7] = 0x42;
            buf[8] = (uint8_t) i;
            len = 20;
            break;

        case 1:
            memset(buf, 0xff, 100);
            buf[0] = (uint8_t) (0x80 + i % 64);
            len = 100;
            break;

        case 2:
            assert_int_equal(sim_rtp(sim, 1, OPUS, client(1)->seq++,
                                     client(1)->ssrc, 100, buf, sizeof(buf),
                                     &len), 0);
            buf[len - 1] ^= 0x80;
            break;

        default:
            memcpy(buf, replay, replay_len);
            len = replay_len;
        }

        sim_input(sim, 1, buf, len);
        sim_advance(sim, STEP);
    }

    assert_true(sim->now >= last + sim->conf.consent_timeout);
    assert_int_equal(sim_lookup(sim, 1), KRAKEN_ERR_PEER_CLOSED);
}


/* 6. mid overflow */

static void
test_a_numeric_mid_beyond_a_million_is_invalid_sdp(void **state)
{
    int                 i;
    kraken_error_t      err;
    static const char  *mids[] = { "2147483647", "1000001", "4294967296",
                                   "99999999999999999999" };

    engine();

    for (i = 0; i < (int) (sizeof(mids) / sizeof(mids[0])); i++) {
        sim_client_init(sim, 0);
        assert_int_equal(sim_publish_sdp(sim, 0, "room", "alice",
                                          sim_offer(sim, 0, OPUS, mids[i]),
                                          &err),
                         KRAKEN_ERR_INVALID_SDP);
    }
}


static void
test_offers_after_a_publisher_with_mid_999999_have_no_negative_mid(
    void **state)
{
    int              i, offers;
    char            *offer, uid[16];
    kraken_error_t   err;

    engine();
    sim_client_init(sim, 0);
    assert_int_equal(sim_publish_sdp(sim, 0, "room", "alice",
                                     sim_offer(sim, 0, OPUS, "999999"),
                                     &err), KRAKEN_OK);
    assert_int_equal(sim_connect(sim, 0), 0);
    assert_int_equal(sim_send(sim, 0, OPUS), 0);

    offers = 0;

    for (i = 1; i < 5; i++) {
        snprintf(uid, sizeof(uid), "peer%d", i);
        join(i, "room", uid, 1000);

        assert_int_equal(sim_subscribe(sim, 0, &offer), 1);
        assert_null(strstr(offer, "a=mid:-"));
        assert_non_null(strstr(offer, "a=mid:999999\r\n"));
        assert_non_null(strstr(offer, "a=mid:1000000\r\n"));
        free(offer);
        offers++;
    }

    assert_int_equal(offers, 4);
    assert_int_equal(flows(4, 0), 1);
}


/* 7. Randomness */

static void
test_engine_creation_fails_when_the_random_source_fails(void **state)
{
    sim->rng.fail = 1;

    assert_null(sim_engine(sim));
    assert_true(sim->rng.calls > 0);
}


static void
test_publish_fails_when_the_random_source_fails(void **state)
{
    char                   *answer;
    char                    track[37];
    kraken_error_t          err;
    kraken_engine_stats_t   st;

    engine();
    sim_client_init(sim, 0);
    sim->rng.fail = 1;

    answer = NULL;
    assert_int_equal(kraken_engine_publish(sim->engine, "room", "alice",
                                           sim_offer(sim, 0, OPUS, "0"), 0,
                                           "", sim->now, track, &answer,
                                           &err),
                     KRAKEN_ERR_SERVER_NEW_PEER);
    assert_null(answer);

    kraken_engine_stats(sim->engine, &st);
    assert_int_equal(st.active_peers, 0);
    assert_int_equal(st.closed_peers, 0);

    /* the source is back: so is publish */
    sim->rng.fail = 0;
    publish(0, "room", "alice");
    assert_int_equal(sim_connect(sim, 0), 0);
}


static void
test_subscribe_needing_an_ssrc_fails_when_the_random_source_fails(
    void **state)
{
    char            *offer;
    kraken_error_t   err;

    engine();
    join(0, "room", "alice", 1000);
    join(1, "room", "bob", 1000);

    sim->rng.fail = 1;

    offer = NULL;
    assert_int_equal(kraken_engine_subscribe(sim->engine, "room", "alice",
                                             client(0)->track, sim->now,
                                             &offer, &err),
                     KRAKEN_ERR_SERVER_CREATE_OFFER);
    assert_null(offer);

    sim->rng.fail = 0;
    assert_int_equal(sim_subscribe(sim, 0, &offer), 1);
    assert_non_null(strstr(offer, "a=msid:bob "));
    free(offer);

    /* nothing new to number: no randomness needed */
    sim->rng.fail = 1;
    assert_int_equal(sim_subscribe(sim, 0, NULL), 0);
    sim->rng.fail = 0;

    assert_int_equal(flows(1, 0), 1);
}


/*
 * 8. Reflection. Eve's own valid check, with a victim's source address,
 * makes that address a path; her ClientHello in the victim's name must
 * not earn the victim more bytes than were sent in its name (the
 * server's flight and its retransmissions are about 15 times a hello).
 */

/*
 * 'ms' of time in steps of 100 ms, as the module's timer runs. OpenSSL
 * retransmits by its own clock: the first 'real' ms pass for real.
 */

static void
advance(uint64_t ms, uint64_t real)
{
    uint64_t         t;
    struct timespec  ts;

    for (t = 0; t < ms; t += 100) {
        if (t < real) {
            ts.tv_sec = 0;
            ts.tv_nsec = 100 * 1000000;

            while (nanosleep(&ts, &ts) != 0) { /* void */ }
        }

        sim_advance(sim, 100);
    }
}


/* Feeds the engine a datagram from 'from', without delivering replies. */

static void
input_from(const struct sockaddr_in *from, const uint8_t *buf, size_t len)
{
    uint8_t  copy[1500];

    assert_true(len <= sizeof(copy));
    memcpy(copy, buf, len);
    kraken_engine_input(sim->engine, (const struct sockaddr *) from,
                        sizeof(struct sockaddr_in), copy, len, sim->now);
    kraken_engine_flush(sim->engine);
}


/* Hands d what the engine queued for address 'to'; forgets the rest. */

static int
deliver_to(kraken_dtls_t *d, const struct sockaddr_in *to)
{
    int            i, n;
    sim_packet_t  *q;

    for (i = 0, n = 0; i < sim->nqueue; i++) {
        q = &sim->queue[i];

        if (q->to.sin_port == to->sin_port
            && q->to.sin_addr.s_addr == to->sin_addr.s_addr
            && q->buf[0] >= 20 && q->buf[0] <= 63)
        {
            kraken_dtls_input(d, q->buf, q->len);
            n++;
        }
    }

    sim_drop(sim);

    return n;
}


static void
test_a_spoofed_client_hello_gets_no_more_bytes_than_it_sent(void **state)
{
    size_t         in, len, at10;
    uint8_t        buf[1500];
    sim_client_t  *eve, *victim;

    /* the module's defaults: the peer lives on for the whole window */
    sim->conf.consent_timeout = 30000;
    sim->conf.connect_timeout = 60000;
    engine();
    publish(0, "room", "eve");
    eve = client(0);

    /* only an address: it never answers */
    victim = sim_client_init(sim, 2);

    len = sim_check_build(sim, 0, eve->server_pwd, 1, buf, sizeof(buf));
    assert_true(len > 0);
    sim_input_from(sim, &victim->addr[0], buf, len);
    in = len;
    assert_int_equal(victim->stun_at[0], 1);

    kraken_dtls_start(eve->dtls);
    len = kraken_dtls_output(eve->dtls, buf, sizeof(buf));
    assert_true(len > 0);
    sim_input_from(sim, &victim->addr[0], buf, len);
    in += len;

    /* OpenSSL would have resent its flight at 1 s and 3 s */
    advance(10000, 3200);
    at10 = victim->bytes_at[0];
    advance(20000, 0);

    print_message("spoofed: %zu bytes in, %zu out in 10 s, %zu in 30 s\n",
                  in, at10, victim->bytes_at[0]);

    /* the STUN answer, a HelloVerifyRequest, nothing resent */
    assert_true(victim->bytes_at[0] <= in);
    assert_int_equal(victim->dtls_at[0], 1);
    assert_int_equal(sim_counters(sim).dtls_failed, 0);
}


static void
test_a_path_moved_during_the_handshake_gets_no_resent_flight(void **state)
{
    int             flights;
    size_t          in, len, hello_len;
    uint8_t         buf[1500], hello[1500];
    kraken_dtls_t  *d;
    sim_client_t   *eve, *victim;

    sim->conf.consent_timeout = 30000;
    sim->conf.connect_timeout = 60000;
    engine();
    publish(0, "room", "eve");
    eve = client(0);
    victim = sim_client_init(sim, 2);

    /* eve drives her side by hand: the sim does not answer for her */
    d = eve->dtls;
    eve->dtls = NULL;

    /*
     * From her own address: a check, her hello, and again when it is
     * asked for with a cookie, until the server's flight comes. She
     * does not answer it: the server resends it on its timer.
     */
    sim_check(sim, 0, eve->server_pwd);
    sim_drop(sim);

    kraken_dtls_start(d);

    for (flights = 0, hello_len = 0; flights < 3; flights++) {
        len = kraken_dtls_output(d, buf, sizeof(buf));
        if (len < 14 || buf[13] != 1) {
            break;
        }

        memcpy(hello, buf, len);
        hello_len = len;
        input_from(&eve->addr[0], hello, hello_len);
        assert_true(deliver_to(d, &eve->addr[0]) >= 1);
    }

    assert_true(hello_len > 0);

    /* then a check and her last hello again, in the victim's name */
    len = sim_check_build(sim, 0, eve->server_pwd, 1, buf, sizeof(buf));
    sim_input_from(sim, &victim->addr[0], buf, len);
    sim_input_from(sim, &victim->addr[0], hello, hello_len);
    in = len + hello_len;

    /* the path is the victim's now: OpenSSL resends at 1 s and 3 s */
    advance(30000, 3200);

    print_message("moved: %zu bytes in, %zu out in 30 s\n",
                  in, victim->bytes_at[0]);

    assert_true(victim->bytes_at[0] <= in);
    assert_true(sim_counters(sim).dtls_withheld > 0);

    kraken_dtls_free(d);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup_teardown(
            test_a_publisher_gets_its_ssrc_and_four_more_then_is_closed,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_datagrams_over_1500_and_unforwardable_packets_are_dropped,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_after_a_seq_jump_of_32768_later_packets_still_decrypt,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_seq_jumps_of_32767_and_32769_are_rebased,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_publisher_coming_around_to_old_seqs_never_reuses_an_index,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_wraps_late_packets_and_ssrc_changes_keep_indexes_fresh,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_replayed_check_from_another_address_does_not_move_the_path,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_before_dtls_only_dtls_from_a_checked_address_moves_the_path,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_authenticated_media_alone_keeps_consent,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_unauthenticated_bytes_never_keep_consent,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_numeric_mid_beyond_a_million_is_invalid_sdp,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_offers_after_a_publisher_with_mid_999999_have_no_negative_mid,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_engine_creation_fails_when_the_random_source_fails,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_publish_fails_when_the_random_source_fails,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_subscribe_needing_an_ssrc_fails_when_the_random_source_fails,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_spoofed_client_hello_gets_no_more_bytes_than_it_sent,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_path_moved_during_the_handshake_gets_no_resent_flight,
            setup, teardown),
    };

    return cmocka_run_group_tests_name("engine attacks", tests, NULL, NULL);
}
