/*
 * The engine end to end without nginx: simulated browsers built from the
 * same core (a DTLS client, SRTP, libnice STUN checks, test/sim) exchange
 * datagrams with the engine in memory.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "kraken_dtls.h"
#include "kraken_engine.h"
#include "kraken_rtp.h"
#include "kraken_sdp.h"
#include "kraken_srtp.h"
#include "sim.h"


static sim_t  *sim;


static int
setup(void **state)
{
    sim = sim_new();
    assert_non_null(sim);
    assert_non_null(sim_engine(sim));

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
publish(int idx, const char *room, const char *uid, int pt)
{
    assert_int_equal(sim_publish(sim, idx, room, uid, pt), KRAKEN_OK);
}


static void
connect_client(int idx)
{
    assert_int_equal(sim_connect(sim, idx), 0);
}


static void
send_audio(int idx, int pt)
{
    assert_int_equal(sim_send(sim, idx, pt), 0);
}


static int
subscribe(int idx, char **offer)
{
    int  rc;

    rc = sim_subscribe(sim, idx, offer);
    assert_int_not_equal(rc, -1);

    return rc;
}


static void
test_two_publishers_hear_each_other(void **state)
{
    char  *offer;

    publish(0, "room", "alice", 111);
    publish(1, "room", "bob", 109);
    connect_client(0);
    connect_client(1);

    /* nobody has sent yet: nothing to subscribe to */
    assert_int_equal(subscribe(0, NULL), 0);

    send_audio(0, 111);
    send_audio(1, 109);

    assert_int_equal(subscribe(1, &offer), 1);
    assert_non_null(strstr(offer, "a=msid:alice "));
    assert_non_null(strstr(offer, "a=rtpmap:109 opus/48000/2"));
    free(offer);
    assert_int_equal(subscribe(0, NULL), 1);

    /* nothing changed: empty description */
    assert_int_equal(subscribe(0, NULL), 0);

    send_audio(0, 111);
    send_audio(1, 109);

    assert_int_equal(sim->clients[1].received, 1);
    assert_int_equal(sim->clients[1].last_pt, 109);
    assert_int_not_equal(sim->clients[1].last_ssrc, sim->clients[0].ssrc);
    assert_int_equal(sim->clients[0].received, 1);
    assert_int_equal(sim->clients[0].last_pt, 111);
}


static void
test_rooms_are_isolated(void **state)
{
    publish(0, "one", "alice", 111);
    publish(1, "one", "bob", 111);
    publish(2, "two", "carol", 111);
    connect_client(0);
    connect_client(1);
    connect_client(2);
    send_audio(0, 111);
    send_audio(1, 111);
    send_audio(2, 111);

    subscribe(0, NULL);
    subscribe(1, NULL);
    assert_int_equal(subscribe(2, NULL), 0);

    send_audio(0, 111);
    send_audio(2, 111);

    assert_int_equal(sim->clients[1].received, 1);
    assert_int_equal(sim->clients[0].received, 0);
    assert_int_equal(sim->clients[2].received, 0);
}


static void
test_wrong_password_and_strangers_are_dropped(void **state)
{
    uint8_t                    junk[200];
    struct sockaddr_in         stranger;
    kraken_engine_counters_t   ct;

    publish(0, "room", "alice", 111);

    sim_check(sim, 0, "wrongpasswordwrongpassword");
    assert_int_equal(sim->nqueue, 0);

    memset(junk, 0, sizeof(junk));
    junk[0] = 0x80;
    stranger = sim->clients[0].addr[0];
    stranger.sin_port = htons(50000);
    sim_input_from(sim, &stranger, junk, sizeof(junk));
    junk[0] = 0xff;
    sim_input_from(sim, &stranger, junk, sizeof(junk));

    ct = sim_counters(sim);
    assert_int_equal(ct.stun_unauthorized, 1);
    assert_int_equal(ct.unknown_source, 1);
    assert_int_equal(ct.malformed, 1);
}


static void
test_errors_follow_kraken(void **state)
{
    char             *answer;
    char              track[37];
    kraken_error_t    err;
    kraken_engine_t  *e;

    e = sim->engine;
    publish(0, "room", "alice", 111);

    assert_int_equal(kraken_engine_end(e, "room", "nobody", "x", sim->now,
                                       &err),
                     KRAKEN_ERR_PEER_NOT_FOUND);
    assert_int_equal(kraken_engine_end(e, "room", "alice", "x", sim->now,
                                       &err),
                     KRAKEN_ERR_TRACK_NOT_FOUND);
    assert_int_equal(kraken_engine_end(e, "room", "alice",
                                       sim->clients[0].track, sim->now, &err),
                     KRAKEN_OK);
    assert_int_equal(kraken_engine_end(e, "room", "alice",
                                       sim->clients[0].track, sim->now, &err),
                     KRAKEN_ERR_PEER_CLOSED);
    assert_int_equal(kraken_engine_publish(e, "room", "bob", "v=0\r\n", 0,
                                           "", sim->now, track, &answer,
                                           &err),
                     KRAKEN_ERR_INVALID_SDP);

    /* limit counts the other active peers */
    publish(1, "room", "bob", 111);
    sim_client_init(sim, 2);
    assert_int_equal(kraken_engine_publish(e, "room", "carol",
                                           sim_offer(sim, 2, 111, "0"), 1,
                                           "", sim->now, track, &answer,
                                           &err),
                     KRAKEN_ERR_ROOM_FULL);
}


static void
test_departed_publisher_is_retired_then_reused(void **state)
{
    char            *offer;
    kraken_error_t   err;

    publish(0, "room", "alice", 111);
    publish(1, "room", "bob", 111);
    connect_client(0);
    connect_client(1);
    send_audio(1, 111);
    subscribe(0, NULL);

    assert_int_equal(kraken_engine_end(sim->engine, "room", "bob",
                                       sim->clients[1].track, sim->now,
                                       &err),
                     KRAKEN_OK);
    assert_int_equal(subscribe(0, &offer), 1);
    assert_null(strstr(offer, "a=msid:bob"));
    assert_non_null(strstr(offer, "a=mid:1\r\na=inactive"));
    free(offer);

    /* bob comes back: the same m-line carries him again */
    publish(1, "room", "bob", 111);
    connect_client(1);
    send_audio(1, 111);
    assert_int_equal(subscribe(0, &offer), 1);
    assert_non_null(strstr(offer, "a=msid:bob"));
    assert_null(strstr(offer, "a=mid:2"));
    free(offer);

    send_audio(1, 111);
    assert_int_equal(sim->clients[0].received, 1);
}


static void
test_silent_and_unconnected_peers_time_out(void **state)
{
    kraken_engine_stats_t  st;

    publish(0, "room", "alice", 111);
    publish(1, "room", "bob", 111);
    connect_client(1);
    send_audio(1, 111);

    sim->now += 3500;                   /* past consent, not connect */
    kraken_engine_timer(sim->engine, sim->now);
    kraken_engine_stats(sim->engine, &st);
    assert_int_equal(st.active_peers, 1);
    assert_int_equal(st.closed_peers, 1);

    sim->now += 2000;                   /* past connect */
    kraken_engine_timer(sim->engine, sim->now);
    kraken_engine_stats(sim->engine, &st);
    assert_int_equal(st.active_peers, 0);
    assert_int_equal(st.closed_peers, 2);

    sim->now += 20000;                  /* tombstones expire */
    kraken_engine_timer(sim->engine, sim->now);
    kraken_engine_stats(sim->engine, &st);
    assert_int_equal(st.closed_peers, 0);
    assert_int_equal(st.closed_rooms + st.active_rooms, 0);
}


/* Replays, bad tags and a wrong DTLS certificate hurt nobody else. */

static void
test_attacks_are_counted_and_audio_keeps_flowing(void **state)
{
    size_t                     len;
    uint8_t                    buf[1500], copy[1500];
    char                       err[256];
    sim_client_t              *alice, *carol;
    kraken_error_t             kerr;
    kraken_dtls_ctx_t         *other;
    kraken_engine_counters_t   ct;

    publish(0, "room", "alice", 111);
    publish(1, "room", "bob", 111);
    connect_client(0);
    connect_client(1);
    send_audio(0, 111);
    subscribe(1, NULL);

    /*
     * A protected packet, sent twice: the replay is dropped. The client
     * numbers on from its last packet: its outbound session, like ours,
     * keeps only a short history.
     */
    alice = &sim->clients[0];
    assert_int_equal(sim_rtp(sim, 0, 111, alice->seq++, alice->ssrc, 100,
                             buf, sizeof(buf), &len), 0);
    memcpy(copy, buf, len);
    kraken_engine_input(sim->engine, (struct sockaddr *) &alice->addr[0],
                        sizeof(struct sockaddr_in), buf, len, sim->now);
    kraken_engine_input(sim->engine, (struct sockaddr *) &alice->addr[0],
                        sizeof(struct sockaddr_in), copy, len, sim->now);

    /* a flipped bit in the tag */
    assert_int_equal(sim_rtp(sim, 0, 111, alice->seq++, alice->ssrc, 100,
                             buf, sizeof(buf), &len), 0);
    buf[len - 1] ^= 1;
    sim_input(sim, 0, buf, len);

    ct = sim_counters(sim);
    assert_int_equal(ct.srtp_failed, 2);
    assert_int_equal(sim->clients[1].received, 1);

    /* carol's certificate is not the one her offer names */
    other = kraken_dtls_ctx_create(err, sizeof(err));
    assert_non_null(other);
    publish(2, "room", "carol", 111);
    carol = &sim->clients[2];
    kraken_dtls_free(carol->dtls);
    carol->dtls = kraken_dtls_create(other, 0, sim->server_fp.alg,
                                     sim->server_fp.digest,
                                     sim->server_fp.len);
    assert_int_equal(sim_connect(sim, 2), -1);

    ct = sim_counters(sim);
    assert_int_equal(ct.dtls_failed, 1);
    assert_int_equal(kraken_engine_end(sim->engine, "room", "carol",
                                       carol->track, sim->now, &kerr),
                     KRAKEN_ERR_PEER_CLOSED);

    /* alice still reaches bob */
    send_audio(0, 111);
    assert_int_equal(sim->clients[1].received, 2);

    kraken_dtls_ctx_free(other);
}


/* A publisher's SR reaches subscribers as theirs; we report to it. */

static void
test_rtcp_sender_reports_are_rewritten_and_receivers_report(void **state)
{
    size_t         len;
    uint8_t        sr[64];
    sim_client_t  *alice, *bob;

    alice = &sim->clients[0];
    bob = &sim->clients[1];

    publish(0, "room", "alice", 111);
    publish(1, "room", "bob", 111);
    connect_client(0);
    connect_client(1);
    send_audio(0, 111);
    subscribe(1, NULL);
    send_audio(0, 111);
    assert_int_equal(bob->received, 1);

    memset(sr, 0, sizeof(sr));
    sr[0] = 0x80;
    sr[1] = KRAKEN_RTCP_SR;
    sr[3] = 6;
    sr[4] = (uint8_t) (alice->ssrc >> 24);
    sr[5] = (uint8_t) (alice->ssrc >> 16);
    sr[6] = (uint8_t) (alice->ssrc >> 8);
    sr[7] = (uint8_t) alice->ssrc;
    len = 28;
    assert_int_equal(kraken_srtp_protect_rtcp(alice->srtp, sr, &len,
                                              sizeof(sr)), 0);
    sim_input(sim, 0, sr, len);

    assert_int_equal(bob->sr_ssrc, bob->last_ssrc);
    assert_int_not_equal(bob->sr_ssrc, alice->ssrc);

    sim_advance(sim, 1100);
    assert_int_equal(alice->rr_about, alice->ssrc);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup_teardown(test_two_publishers_hear_each_other,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_rooms_are_isolated,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_wrong_password_and_strangers_are_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_follow_kraken,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_departed_publisher_is_retired_then_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_silent_and_unconnected_peers_time_out, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_attacks_are_counted_and_audio_keeps_flowing, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_rtcp_sender_reports_are_rewritten_and_receivers_report,
            setup, teardown),
    };

    return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
