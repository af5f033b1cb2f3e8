/*
 * The engine end to end without nginx: simulated browsers built from the
 * same core (a DTLS client, SRTP, libnice STUN checks) exchange datagrams
 * with the engine in memory.
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

#include <stun/usages/ice.h>

#include "kraken_dtls.h"
#include "kraken_engine.h"
#include "kraken_rtp.h"
#include "kraken_sdp.h"
#include "kraken_srtp.h"


#define MAX_CLIENTS  8
#define QUEUE        4096

typedef struct {
    struct sockaddr_in   addr;
    char                 ufrag[16];
    char                 pwd[32];
    char                 track[37];
    char                 server_ufrag[KRAKEN_SDP_TOKEN_LEN];
    char                 server_pwd[KRAKEN_SDP_TOKEN_LEN];
    kraken_dtls_t       *dtls;
    kraken_srtp_t       *srtp;
    uint32_t             ssrc;
    uint16_t             seq;
    int                  received;
    uint32_t             last_ssrc;
    uint8_t              last_pt;
    uint32_t             sr_ssrc;       /* sender of the last SR we got */
    uint32_t             rr_about;      /* source of the last RR block */
    StunAgent            agent;
} client_t;

typedef struct {
    struct sockaddr_in   to;
    size_t               len;
    uint8_t              buf[1500];
} packet_t;

static kraken_dtls_ctx_t  *client_ctx;
static packet_t            queue[QUEUE];
static int                 nqueue;
static client_t            clients[MAX_CLIENTS];
static uint64_t            now = 1000;
static const struct sockaddr_in  server_addr = { .sin_family = AF_INET };
static kraken_sdp_fingerprint_t  server_fp;


static void
capture(void *data, kraken_datagram_t *dg, int n)
{
    int  i;

    for (i = 0; i < n && nqueue < QUEUE; i++) {
        memcpy(&queue[nqueue].to, &dg[i].addr, sizeof(struct sockaddr_in));
        queue[nqueue].len = dg[i].len;
        memcpy(queue[nqueue].buf, dg[i].buf, dg[i].len);
        nqueue++;
    }
}


static uint32_t
get32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
           | (uint32_t) p[2] << 8 | p[3];
}


static kraken_engine_t *
engine_new(void)
{
    char                  err[256];
    kraken_engine_t      *e;
    kraken_engine_conf_t  conf;

    memset(&conf, 0, sizeof(conf));
    conf.announce_ip = "127.0.0.1";
    conf.port = 20000;
    conf.consent_timeout = 3000;
    conf.connect_timeout = 5000;
    conf.tombstone_time = 10000;
    conf.send = capture;

    e = kraken_engine_create(&conf, err, sizeof(err));
    assert_non_null(e);

    return e;
}


static char *
offer_for(client_t *c, int pt)
{
    static char  sdp[4096];

    snprintf(sdp, sizeof(sdp),
             "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
             "a=group:BUNDLE 0\r\n"
             "m=audio 9 UDP/TLS/RTP/SAVPF %d 0\r\nc=IN IP4 0.0.0.0\r\n"
             "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:%s\r\n"
             "a=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n"
             "a=rtpmap:%d opus/48000/2\r\n"
             "a=fmtp:%d minptime=10;useinbandfec=1\r\n"
             "a=rtpmap:0 PCMU/8000\r\na=ssrc:%u cname:t\r\n",
             pt, c->ufrag, c->pwd, kraken_dtls_ctx_fingerprint(client_ctx),
             pt, pt, c->ssrc);

    return sdp;
}


static void
answer_fingerprint(const char *answer, kraken_sdp_fingerprint_t *fp,
    client_t *c)
{
    char          err[128];
    kraken_sdp_t *sdp;

    sdp = malloc(sizeof(kraken_sdp_t));
    assert_non_null(sdp);
    assert_int_equal(kraken_sdp_parse(sdp, answer, strlen(answer), err,
                                      sizeof(err)), 0);
    *fp = sdp->fingerprint;
    snprintf(c->server_ufrag, sizeof(c->server_ufrag), "%s", sdp->ice_ufrag);
    snprintf(c->server_pwd, sizeof(c->server_pwd), "%s", sdp->ice_pwd);
    free(sdp);
}


static void
client_publish(kraken_engine_t *e, client_t *c, int idx, const char *room,
    const char *uid, int pt)
{
    char                      *answer;
    kraken_error_t             err;
    kraken_sdp_fingerprint_t   fp;
    static const uint16_t      attrs[] = { STUN_ATTRIBUTE_USERNAME, 0 };

    memset(c, 0, sizeof(client_t));
    c->addr.sin_family = AF_INET;
    c->addr.sin_addr.s_addr = htonl(0x7f000001);
    c->addr.sin_port = htons(40000 + idx);
    snprintf(c->ufrag, sizeof(c->ufrag), "cli%d", idx);
    snprintf(c->pwd, sizeof(c->pwd), "clientpassword0123456789%d", idx);
    c->ssrc = 1000 + idx;

    assert_int_equal(kraken_engine_publish(e, room, uid, offer_for(c, pt), 0,
                                           "", now, c->track, &answer, &err),
                     KRAKEN_OK);
    assert_non_null(strstr(answer, "a=ice-lite"));
    answer_fingerprint(answer, &fp, c);
    server_fp = fp;
    free(answer);

    c->dtls = kraken_dtls_create(client_ctx, 0, fp.alg, fp.digest, fp.len);
    assert_non_null(c->dtls);
    stun_agent_init(&c->agent, attrs, STUN_COMPATIBILITY_RFC5389,
                    STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS
                    | STUN_AGENT_USAGE_USE_FINGERPRINT);
}


static void
answer_fingerprint_of(kraken_engine_t *e, kraken_sdp_fingerprint_t *fp)
{
    *fp = server_fp;
}


static void
client_check(kraken_engine_t *e, client_t *c, const char *pwd)
{
    char         user[KRAKEN_SDP_TOKEN_LEN + 32];
    size_t       len;
    uint8_t      buf[512];
    StunMessage  msg;

    snprintf(user, sizeof(user), "%s:%s", c->server_ufrag, c->ufrag);
    len = stun_usage_ice_conncheck_create(&c->agent, &msg, buf, sizeof(buf),
                                          (uint8_t *) user, strlen(user),
                                          (const uint8_t *) pwd, strlen(pwd),
                                          1, 1, 100, 42, NULL,
                                          STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
    assert_true(len > 0);
    kraken_engine_input(e, (struct sockaddr *) &c->addr, sizeof(c->addr),
                        buf, len, now);
    kraken_engine_flush(e);
}


static client_t *
client_at(const struct sockaddr_in *to)
{
    int  i;

    for (i = 0; i < MAX_CLIENTS; i++) {
        if (clients[i].addr.sin_port == to->sin_port) {
            return &clients[i];
        }
    }

    return NULL;
}


/* Delivers what the engine sent; clients answer DTLS and count media. */

static void
pump(kraken_engine_t *e)
{
    int                  i, rounds;
    size_t               n, len;
    uint8_t              out[1500];
    client_t            *c;
    packet_t            *q;
    kraken_srtp_keys_t   keys;
    kraken_rtp_header_t  h;
    static packet_t      batch[QUEUE];
    int                  nbatch;

    for (rounds = 0; rounds < 50 && nqueue; rounds++) {
        memcpy(batch, queue, nqueue * sizeof(packet_t));
        nbatch = nqueue;
        nqueue = 0;

        for (i = 0; i < nbatch; i++) {
            q = &batch[i];
            c = client_at(&q->to);
            if (c == NULL || q->len == 0) {
                continue;
            }

            if (q->buf[0] >= 20 && q->buf[0] <= 63 && c->dtls) {
                kraken_dtls_input(c->dtls, q->buf, q->len);

                while ((n = kraken_dtls_output(c->dtls, out, sizeof(out)))) {
                    kraken_engine_input(e, (struct sockaddr *) &c->addr,
                                        sizeof(c->addr), out, n, now);
                }

                kraken_engine_flush(e);

                if (c->srtp == NULL
                    && kraken_dtls_state(c->dtls) == KRAKEN_DTLS_CONNECTED)
                {
                    assert_int_equal(kraken_dtls_srtp_keys(c->dtls, &keys),
                                     0);
                    c->srtp = kraken_srtp_create(&keys);
                    assert_non_null(c->srtp);
                }

            } else if (q->buf[0] >= 128 && c->srtp
                       && kraken_rtp_is_rtcp(q->buf, q->len))
            {
                len = q->len;
                if (kraken_srtp_unprotect_rtcp(c->srtp, q->buf, &len) == 0) {
                    if (q->buf[1] == KRAKEN_RTCP_SR) {
                        c->sr_ssrc = get32(q->buf + 4);

                    } else if (q->buf[1] == KRAKEN_RTCP_RR && len >= 32) {
                        c->rr_about = get32(q->buf + 8);
                    }
                }

            } else if (q->buf[0] >= 128 && c->srtp) {
                len = q->len;
                if (kraken_srtp_unprotect(c->srtp, q->buf, &len) == 0
                    && kraken_rtp_parse(q->buf, len, &h) == 0)
                {
                    c->received++;
                    c->last_ssrc = h.ssrc;
                    c->last_pt = h.pt;
                }
            }
        }
    }
}


static void
client_connect(kraken_engine_t *e, client_t *c)
{
    size_t   n;
    uint8_t  out[1500];

    client_check(e, c, c->server_pwd);
    pump(e);

    kraken_dtls_start(c->dtls);

    while ((n = kraken_dtls_output(c->dtls, out, sizeof(out)))) {
        kraken_engine_input(e, (struct sockaddr *) &c->addr, sizeof(c->addr),
                            out, n, now);
    }

    kraken_engine_flush(e);
    pump(e);

    assert_int_equal(kraken_dtls_state(c->dtls), KRAKEN_DTLS_CONNECTED);
    assert_non_null(c->srtp);
}


static void
client_send(kraken_engine_t *e, client_t *c, int pt)
{
    size_t   len;
    uint8_t  buf[1500];

    memset(buf, 0, sizeof(buf));
    buf[0] = 0x80;
    kraken_rtp_write(buf, (uint8_t) pt, c->seq, c->seq * 960u, c->ssrc);
    c->seq++;
    memset(buf + 12, 0xab, 100);
    len = 112;

    assert_int_equal(kraken_srtp_protect(c->srtp, buf, &len, sizeof(buf)),
                     0);
    kraken_engine_input(e, (struct sockaddr *) &c->addr, sizeof(c->addr),
                        buf, len, now);
    kraken_engine_flush(e);
    pump(e);
}


/* subscribe, and answer the offer as a browser would (accept all) */

static int
client_subscribe(kraken_engine_t *e, client_t *c, const char *room,
    const char *uid, char **offer_out)
{
    char           *offer, *answer, *p;
    kraken_error_t  err;

    assert_int_equal(kraken_engine_subscribe(e, room, uid, c->track, now,
                                             &offer, &err), KRAKEN_OK);
    if (offer == NULL) {
        return 0;
    }

    /* the offer's m-lines, mirrored: good enough for the engine */
    answer = strdup(offer);
    while ((p = strstr(answer, "a=sendonly"))) {
        memcpy(p, "a=recvonly", 10);
    }

    assert_int_equal(kraken_engine_answer(e, room, uid, c->track, answer, now,
                                          &err), KRAKEN_OK);
    free(answer);

    if (offer_out) {
        *offer_out = offer;

    } else {
        free(offer);
    }

    return 1;
}


static int
setup(void **state)
{
    char  err[256];

    client_ctx = kraken_dtls_ctx_create(err, sizeof(err));
    assert_non_null(client_ctx);
    nqueue = 0;
    now = 1000;

    return 0;
}


static int
teardown(void **state)
{
    int  i;

    for (i = 0; i < MAX_CLIENTS; i++) {
        kraken_dtls_free(clients[i].dtls);
        kraken_srtp_free(clients[i].srtp);
        memset(&clients[i], 0, sizeof(client_t));
    }

    kraken_dtls_ctx_free(client_ctx);

    return 0;
}


static void
test_two_publishers_hear_each_other(void **state)
{
    char            *offer;
    kraken_engine_t *e;

    e = engine_new();
    client_publish(e, &clients[0], 0, "room", "alice", 111);
    client_publish(e, &clients[1], 1, "room", "bob", 109);
    client_connect(e, &clients[0]);
    client_connect(e, &clients[1]);

    /* nobody has sent yet: nothing to subscribe to */
    assert_int_equal(client_subscribe(e, &clients[0], "room", "alice", NULL),
                     0);

    client_send(e, &clients[0], 111);
    client_send(e, &clients[1], 109);

    assert_int_equal(client_subscribe(e, &clients[1], "room", "bob", &offer),
                     1);
    assert_non_null(strstr(offer, "a=msid:alice "));
    assert_non_null(strstr(offer, "a=rtpmap:109 opus/48000/2"));
    free(offer);
    assert_int_equal(client_subscribe(e, &clients[0], "room", "alice", NULL),
                     1);

    /* nothing changed: empty description */
    assert_int_equal(client_subscribe(e, &clients[0], "room", "alice", NULL),
                     0);

    client_send(e, &clients[0], 111);
    client_send(e, &clients[1], 109);

    assert_int_equal(clients[1].received, 1);
    assert_int_equal(clients[1].last_pt, 109);
    assert_int_not_equal(clients[1].last_ssrc, clients[0].ssrc);
    assert_int_equal(clients[0].received, 1);
    assert_int_equal(clients[0].last_pt, 111);

    kraken_engine_free(e);
}


static void
test_rooms_are_isolated(void **state)
{
    kraken_engine_t *e;

    e = engine_new();
    client_publish(e, &clients[0], 0, "one", "alice", 111);
    client_publish(e, &clients[1], 1, "one", "bob", 111);
    client_publish(e, &clients[2], 2, "two", "carol", 111);
    client_connect(e, &clients[0]);
    client_connect(e, &clients[1]);
    client_connect(e, &clients[2]);
    client_send(e, &clients[0], 111);
    client_send(e, &clients[1], 111);
    client_send(e, &clients[2], 111);

    client_subscribe(e, &clients[0], "one", "alice", NULL);
    client_subscribe(e, &clients[1], "one", "bob", NULL);
    assert_int_equal(client_subscribe(e, &clients[2], "two", "carol", NULL),
                     0);

    client_send(e, &clients[0], 111);
    client_send(e, &clients[2], 111);

    assert_int_equal(clients[1].received, 1);
    assert_int_equal(clients[0].received, 0);
    assert_int_equal(clients[2].received, 0);

    kraken_engine_free(e);
}


static void
test_wrong_password_and_strangers_are_dropped(void **state)
{
    size_t                    len;
    uint8_t                   junk[200];
    kraken_engine_t          *e;
    kraken_engine_stats_t     st;
    struct sockaddr_in        stranger;

    e = engine_new();
    client_publish(e, &clients[0], 0, "room", "alice", 111);

    client_check(e, &clients[0], "wrongpasswordwrongpassword");
    assert_int_equal(nqueue, 0);

    memset(junk, 0, sizeof(junk));
    junk[0] = 0x80;
    stranger = clients[0].addr;
    stranger.sin_port = htons(50000);
    len = sizeof(junk);
    kraken_engine_input(e, (struct sockaddr *) &stranger, sizeof(stranger),
                        junk, len, now);
    junk[0] = 0xff;
    kraken_engine_input(e, (struct sockaddr *) &stranger, sizeof(stranger),
                        junk, len, now);

    kraken_engine_stats(e, &st);
    assert_int_equal(st.counters.stun_unauthorized, 1);
    assert_int_equal(st.counters.unknown_source, 1);
    assert_int_equal(st.counters.malformed, 1);

    kraken_engine_free(e);
}


static void
test_errors_follow_kraken(void **state)
{
    char            *answer;
    char             track[37];
    kraken_error_t   err;
    kraken_engine_t *e;

    e = engine_new();
    client_publish(e, &clients[0], 0, "room", "alice", 111);

    assert_int_equal(kraken_engine_end(e, "room", "nobody", "x", now, &err),
                     KRAKEN_ERR_PEER_NOT_FOUND);
    assert_int_equal(kraken_engine_end(e, "room", "alice", "x", now, &err),
                     KRAKEN_ERR_TRACK_NOT_FOUND);
    assert_int_equal(kraken_engine_end(e, "room", "alice", clients[0].track,
                                       now, &err), KRAKEN_OK);
    assert_int_equal(kraken_engine_end(e, "room", "alice", clients[0].track,
                                       now, &err), KRAKEN_ERR_PEER_CLOSED);
    assert_int_equal(kraken_engine_publish(e, "room", "bob", "v=0\r\n", 0,
                                           "", now, track, &answer, &err),
                     KRAKEN_ERR_INVALID_SDP);

    /* limit counts the other active peers */
    client_publish(e, &clients[1], 1, "room", "bob", 111);
    snprintf(clients[2].ufrag, sizeof(clients[2].ufrag), "carol");
    snprintf(clients[2].pwd, sizeof(clients[2].pwd), "carolpassword0123456789");
    assert_int_equal(kraken_engine_publish(e, "room", "carol",
                                           offer_for(&clients[2], 111), 1,
                                           "", now, track, &answer, &err),
                     KRAKEN_ERR_ROOM_FULL);

    kraken_engine_free(e);
}


static void
test_departed_publisher_is_retired_then_reused(void **state)
{
    char            *offer;
    kraken_error_t   err;
    kraken_engine_t *e;

    e = engine_new();
    client_publish(e, &clients[0], 0, "room", "alice", 111);
    client_publish(e, &clients[1], 1, "room", "bob", 111);
    client_connect(e, &clients[0]);
    client_connect(e, &clients[1]);
    client_send(e, &clients[1], 111);
    client_subscribe(e, &clients[0], "room", "alice", NULL);

    assert_int_equal(kraken_engine_end(e, "room", "bob", clients[1].track,
                                       now, &err), KRAKEN_OK);
    assert_int_equal(client_subscribe(e, &clients[0], "room", "alice",
                                      &offer), 1);
    assert_null(strstr(offer, "a=msid:bob"));
    assert_non_null(strstr(offer, "a=mid:1\r\na=inactive"));
    free(offer);

    /* bob comes back: the same m-line carries him again */
    kraken_dtls_free(clients[1].dtls);
    kraken_srtp_free(clients[1].srtp);
    client_publish(e, &clients[1], 1, "room", "bob", 111);
    client_connect(e, &clients[1]);
    client_send(e, &clients[1], 111);
    assert_int_equal(client_subscribe(e, &clients[0], "room", "alice",
                                      &offer), 1);
    assert_non_null(strstr(offer, "a=msid:bob"));
    assert_null(strstr(offer, "a=mid:2"));
    free(offer);

    client_send(e, &clients[1], 111);
    assert_int_equal(clients[0].received, 1);

    kraken_engine_free(e);
}


static void
test_silent_and_unconnected_peers_time_out(void **state)
{
    kraken_engine_t        *e;
    kraken_engine_stats_t   st;

    e = engine_new();
    client_publish(e, &clients[0], 0, "room", "alice", 111);
    client_publish(e, &clients[1], 1, "room", "bob", 111);
    client_connect(e, &clients[1]);
    client_send(e, &clients[1], 111);

    now += 3500;                        /* past consent, not connect */
    kraken_engine_timer(e, now);
    kraken_engine_stats(e, &st);
    assert_int_equal(st.active_peers, 1);
    assert_int_equal(st.closed_peers, 1);

    now += 2000;                        /* past connect */
    kraken_engine_timer(e, now);
    kraken_engine_stats(e, &st);
    assert_int_equal(st.active_peers, 0);
    assert_int_equal(st.closed_peers, 2);

    now += 20000;                       /* tombstones expire */
    kraken_engine_timer(e, now);
    kraken_engine_stats(e, &st);
    assert_int_equal(st.closed_peers, 0);
    assert_int_equal(st.closed_rooms + st.active_rooms, 0);

    kraken_engine_free(e);
}


/* Replays, bad tags and a wrong DTLS certificate hurt nobody else. */

static void
test_attacks_are_counted_and_audio_keeps_flowing(void **state)
{
    size_t                  len, n;
    uint8_t                 buf[1500], copy[1500], out[1500];
    uint16_t                seq;
    char                    err[256];
    kraken_error_t          kerr;
    kraken_engine_t        *e;
    kraken_dtls_ctx_t      *other;
    kraken_engine_stats_t   st;
    kraken_sdp_fingerprint_t  fp;

    e = engine_new();
    client_publish(e, &clients[0], 0, "room", "alice", 111);
    client_publish(e, &clients[1], 1, "room", "bob", 111);
    client_connect(e, &clients[0]);
    client_connect(e, &clients[1]);
    client_send(e, &clients[0], 111);
    client_subscribe(e, &clients[1], "room", "bob", NULL);

    /*
     * A protected packet, sent twice: the replay is dropped. The client
     * numbers on from its last packet: its outbound session, like ours,
     * keeps only a short history.
     */
    memset(buf, 0, sizeof(buf));
    buf[0] = 0x80;
    seq = clients[0].seq++;
    kraken_rtp_write(buf, 111, seq, seq * 960u, clients[0].ssrc);
    memset(buf + 12, 0xcd, 100);
    len = 112;
    assert_int_equal(kraken_srtp_protect(clients[0].srtp, buf, &len,
                                         sizeof(buf)), 0);
    memcpy(copy, buf, len);
    kraken_engine_input(e, (struct sockaddr *) &clients[0].addr,
                        sizeof(clients[0].addr), buf, len, now);
    kraken_engine_input(e, (struct sockaddr *) &clients[0].addr,
                        sizeof(clients[0].addr), copy, len, now);

    /* a flipped bit in the tag */
    seq = clients[0].seq++;
    kraken_rtp_write(buf, 111, seq, seq * 960u, clients[0].ssrc);
    memset(buf + 12, 0xcd, 100);
    len = 112;
    assert_int_equal(kraken_srtp_protect(clients[0].srtp, buf, &len,
                                         sizeof(buf)), 0);
    buf[len - 1] ^= 1;
    kraken_engine_input(e, (struct sockaddr *) &clients[0].addr,
                        sizeof(clients[0].addr), buf, len, now);
    kraken_engine_flush(e);
    pump(e);

    kraken_engine_stats(e, &st);
    assert_int_equal(st.counters.srtp_failed, 2);
    assert_int_equal(clients[1].received, 1);

    /* carol's certificate is not the one her offer names */
    other = kraken_dtls_ctx_create(err, sizeof(err));
    assert_non_null(other);
    client_publish(e, &clients[2], 2, "room", "carol", 111);
    kraken_dtls_free(clients[2].dtls);
    answer_fingerprint_of(e, &fp);
    clients[2].dtls = kraken_dtls_create(other, 0, fp.alg, fp.digest,
                                         fp.len);
    client_check(e, &clients[2], clients[2].server_pwd);
    pump(e);
    kraken_dtls_start(clients[2].dtls);

    while ((n = kraken_dtls_output(clients[2].dtls, out, sizeof(out)))) {
        kraken_engine_input(e, (struct sockaddr *) &clients[2].addr,
                            sizeof(clients[2].addr), out, n, now);
    }

    kraken_engine_flush(e);
    pump(e);

    kraken_engine_stats(e, &st);
    assert_int_equal(st.counters.dtls_failed, 1);
    assert_int_equal(kraken_engine_end(e, "room", "carol", clients[2].track,
                                       now, &kerr),
                     KRAKEN_ERR_PEER_CLOSED);

    /* alice still reaches bob */
    client_send(e, &clients[0], 111);
    assert_int_equal(clients[1].received, 2);

    kraken_dtls_ctx_free(other);
    kraken_engine_free(e);
}


/* A publisher's SR reaches subscribers as theirs; we report to it. */

static void
test_rtcp_sender_reports_are_rewritten_and_receivers_report(void **state)
{
    size_t            len;
    uint8_t           sr[64];
    kraken_engine_t  *e;

    e = engine_new();
    client_publish(e, &clients[0], 0, "room", "alice", 111);
    client_publish(e, &clients[1], 1, "room", "bob", 111);
    client_connect(e, &clients[0]);
    client_connect(e, &clients[1]);
    client_send(e, &clients[0], 111);
    client_subscribe(e, &clients[1], "room", "bob", NULL);
    client_send(e, &clients[0], 111);
    assert_int_equal(clients[1].received, 1);

    memset(sr, 0, sizeof(sr));
    sr[0] = 0x80;
    sr[1] = KRAKEN_RTCP_SR;
    sr[3] = 6;
    sr[4] = (uint8_t) (clients[0].ssrc >> 24);
    sr[5] = (uint8_t) (clients[0].ssrc >> 16);
    sr[6] = (uint8_t) (clients[0].ssrc >> 8);
    sr[7] = (uint8_t) clients[0].ssrc;
    len = 28;
    assert_int_equal(kraken_srtp_protect_rtcp(clients[0].srtp, sr, &len,
                                              sizeof(sr)), 0);
    kraken_engine_input(e, (struct sockaddr *) &clients[0].addr,
                        sizeof(clients[0].addr), sr, len, now);
    kraken_engine_flush(e);
    pump(e);

    assert_int_equal(clients[1].sr_ssrc, clients[1].last_ssrc);
    assert_int_not_equal(clients[1].sr_ssrc, clients[0].ssrc);

    now += 1100;
    kraken_engine_timer(e, now);
    kraken_engine_flush(e);
    pump(e);
    assert_int_equal(clients[0].rr_about, clients[0].ssrc);

    kraken_engine_free(e);
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

    (void) server_addr;

    return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
