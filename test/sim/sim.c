/*
 * Simulated browsers for the engine: see sim.h.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <stun/usages/ice.h>

#include "sim.h"
#include "kraken_rtp.h"


static void sim_capture(void *data, kraken_datagram_t *dg, int n);
static void sim_client_release(sim_client_t *c);
static sim_client_t *sim_client_at(sim_t *s, const struct sockaddr_in *to,
    int *a);
static void sim_receive_rtp(sim_t *s, sim_client_t *c, uint8_t *buf,
    size_t len);
static void sim_receive_rtcp(sim_client_t *c, uint8_t *buf, size_t len);
static int sim_keys(sim_client_t *c);
static uint32_t sim_get32(const uint8_t *p);


static void
sim_die(const char *what)
{
    fprintf(stderr, "sim: %s\n", what);
    abort();
}


sim_t *
sim_new(void)
{
    char    err[256];
    sim_t  *s;

    if (kraken_srtp_init() != 0) {
        fprintf(stderr, "sim: kraken_srtp_init() failed\n");
        return NULL;
    }

    s = calloc(1, sizeof(sim_t));
    if (s == NULL) {
        return NULL;
    }

    s->queue = calloc(SIM_QUEUE, sizeof(sim_packet_t));
    s->batch = calloc(SIM_QUEUE, sizeof(sim_packet_t));
    s->ctx = kraken_dtls_ctx_create(err, sizeof(err));

    if (s->queue == NULL || s->batch == NULL || s->ctx == NULL) {
        fprintf(stderr, "sim: %s\n", s->ctx ? "out of memory" : err);
        sim_free(s);
        return NULL;
    }

    s->now = 1000;
    s->record = 1;
    s->rng.state = 0x6b72616b656e2121ULL;

    s->conf.announce_ip = "127.0.0.1";
    s->conf.port = 20000;
    s->conf.consent_timeout = 3000;
    s->conf.connect_timeout = 5000;
    s->conf.closed_peer_time = 10000;
    s->conf.send = sim_capture;
    s->conf.send_data = s;

    return s;
}


void
sim_free(sim_t *s)
{
    int  i;

    if (s == NULL) {
        return;
    }

    kraken_engine_free(s->engine);

    for (i = 0; i < SIM_MAX_CLIENTS; i++) {
        sim_client_release(&s->clients[i]);
    }

    kraken_dtls_ctx_free(s->ctx);
    free(s->queue);
    free(s->batch);
    free(s);
}


kraken_engine_t *
sim_engine(sim_t *s)
{
    s->conf.send = sim_capture;
    s->conf.send_data = s;

    s->engine = kraken_engine_create(&s->conf, s->err, sizeof(s->err));

    return s->engine;
}


/* splitmix64: reproducible runs, and a source that can be made to fail */

int
sim_random(void *data, void *buf, size_t len)
{
    sim_random_t *r = data;

    size_t     n;
    uint8_t   *p;
    uint64_t   z;

    r->calls++;

    if (r->fail) {
        return -1;
    }

    for (p = buf; len; len -= n, p += n) {
        r->state += 0x9e3779b97f4a7c15ULL;
        z = r->state;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;

        n = len < sizeof(z) ? len : sizeof(z);
        memcpy(p, &z, n);
    }

    return 0;
}


static void
sim_capture(void *data, kraken_datagram_t *dg, int n)
{
    sim_t *s = data;

    int            i;
    sim_packet_t  *q;

    for (i = 0; i < n; i++) {
        if (dg[i].len > sizeof(dg[i].buf)) {
            sim_die("the engine sent more than its datagram holds");
        }

        if (dg[i].addr.ss_family != AF_INET || s->nqueue == SIM_QUEUE) {
            s->stray++;
            continue;
        }

        q = &s->queue[s->nqueue++];
        memcpy(&q->to, &dg[i].addr, sizeof(struct sockaddr_in));
        q->len = dg[i].len;
        memcpy(q->buf, dg[i].buf, dg[i].len);
    }
}


static void
sim_client_release(sim_client_t *c)
{
    kraken_dtls_free(c->dtls);
    kraken_srtp_free(c->srtp);

    if (c->rx) {
        srtp_dealloc(c->rx);
    }

    free(c->seen);
    memset(c, 0, sizeof(sim_client_t));
}


sim_client_t *
sim_client_init(sim_t *s, int idx)
{
    int                    a;
    sim_client_t          *c;
    static const uint16_t  attrs[] = { STUN_ATTRIBUTE_USERNAME, 0 };

    if (idx < 0 || idx >= SIM_MAX_CLIENTS) {
        sim_die("no such client");
    }

    c = &s->clients[idx];
    sim_client_release(c);

    c->idx = idx;

    for (a = 0; a < SIM_ADDRS; a++) {
        c->addr[a].sin_family = AF_INET;
        c->addr[a].sin_addr.s_addr = htonl(0x7f000001);
        c->addr[a].sin_port = htons(40000 + 1000 * a + idx);
    }

    snprintf(c->ufrag, sizeof(c->ufrag), "cli%d", idx);
    snprintf(c->pwd, sizeof(c->pwd), "clientpassword0123456789%d", idx);
    c->ssrc = 1000 + idx;

    stun_agent_init(&c->agent, attrs, STUN_COMPATIBILITY_RFC5389,
                    STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS
                    | STUN_AGENT_USAGE_USE_FINGERPRINT);

    return c;
}


const char *
sim_offer(sim_t *s, int idx, int pt, const char *mid)
{
    sim_client_t  *c;
    static char    sdp[4096];

    c = &s->clients[idx];

    snprintf(sdp, sizeof(sdp),
             "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
             "a=group:BUNDLE %s\r\n"
             "m=audio 9 UDP/TLS/RTP/SAVPF %d 0\r\nc=IN IP4 0.0.0.0\r\n"
             "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:%s\r\n"
             "a=setup:actpass\r\na=mid:%s\r\na=sendrecv\r\na=rtcp-mux\r\n"
             "a=rtpmap:%d opus/48000/2\r\n"
             "a=fmtp:%d minptime=10;useinbandfec=1\r\n"
             "a=rtpmap:0 PCMU/8000\r\na=ssrc:%u cname:t\r\n",
             mid, pt, c->ufrag, c->pwd, kraken_dtls_ctx_fingerprint(s->ctx),
             mid, pt, pt, c->ssrc);

    return sdp;
}


int
sim_publish_sdp(sim_t *s, int idx, const char *room, const char *uid,
    const char *sdp, kraken_error_t *err)
{
    int             rc;
    char           *answer, perr[128];
    sim_client_t   *c;
    kraken_sdp_t   *parsed;

    c = &s->clients[idx];
    snprintf(c->room, sizeof(c->room), "%s", room);
    snprintf(c->uid, sizeof(c->uid), "%s", uid);

    answer = NULL;
    rc = kraken_engine_publish(s->engine, room, uid, sdp, 0,
                               s->callback ? s->callback : "", s->now,
                               c->track, &answer, err);
    if (rc != KRAKEN_OK) {
        free(answer);
        return rc;
    }

    parsed = malloc(sizeof(kraken_sdp_t));
    if (parsed == NULL) {
        sim_die("out of memory");
    }

    if (answer == NULL || strstr(answer, "a=ice-lite") == NULL
        || kraken_sdp_parse(parsed, answer, strlen(answer), perr,
                            sizeof(perr))
           != 0)
    {
        snprintf(s->err, sizeof(s->err), "unusable answer");
        free(parsed);
        free(answer);
        return -1;
    }

    s->server_fp = parsed->fingerprint;
    snprintf(c->server_ufrag, sizeof(c->server_ufrag), "%s",
             parsed->ice_ufrag);
    snprintf(c->server_pwd, sizeof(c->server_pwd), "%s", parsed->ice_pwd);
    free(parsed);
    free(answer);

    kraken_dtls_free(c->dtls);
    c->dtls = kraken_dtls_create(s->ctx, 0, s->server_fp.alg,
                                 s->server_fp.digest, s->server_fp.len);
    if (c->dtls == NULL) {
        snprintf(s->err, sizeof(s->err), "no DTLS for the answer");
        return -1;
    }

    return KRAKEN_OK;
}


int
sim_publish(sim_t *s, int idx, const char *room, const char *uid, int pt)
{
    kraken_error_t  err;

    sim_client_init(s, idx);

    return sim_publish_sdp(s, idx, room, uid, sim_offer(s, idx, pt, "0"),
                           &err);
}


size_t
sim_check_build(sim_t *s, int idx, const char *pwd, int use, uint8_t *buf,
    size_t cap)
{
    char                   user[2 * KRAKEN_SDP_TOKEN_LEN + 2];
    sim_client_t          *c;
    StunMessage            msg;
    static const uint16_t  attrs[] = { STUN_ATTRIBUTE_USERNAME, 0 };
    static const StunUsageIceCompatibility  compat =
                                   STUN_USAGE_ICE_COMPATIBILITY_RFC5245;

    c = &s->clients[idx];

    /* a fresh agent: it would remember every transaction otherwise */
    stun_agent_init(&c->agent, attrs, STUN_COMPATIBILITY_RFC5389,
                    STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS
                    | STUN_AGENT_USAGE_USE_FINGERPRINT);

    snprintf(user, sizeof(user), "%s:%s", c->server_ufrag, c->ufrag);

    return stun_usage_ice_conncheck_create(&c->agent, &msg, buf, cap,
                                           (uint8_t *) user, strlen(user),
                                           (const uint8_t *) pwd,
                                           strlen(pwd), use != 0, 1, 100,
                                           42, NULL, compat);
}


void
sim_check(sim_t *s, int idx, const char *pwd)
{
    size_t         len;
    uint8_t        buf[512];
    sim_client_t  *c;

    c = &s->clients[idx];

    len = sim_check_build(s, idx, pwd, 1, buf, sizeof(buf));
    if (len == 0) {
        sim_die("no STUN check");
    }

    kraken_engine_input(s->engine, (struct sockaddr *) &c->addr[c->from],
                        sizeof(struct sockaddr_in), buf, len, s->now);
    kraken_engine_flush(s->engine);
}


static sim_client_t *
sim_client_at(sim_t *s, const struct sockaddr_in *to, int *a)
{
    int            i, j;
    sim_client_t  *c;

    for (i = 0; i < SIM_MAX_CLIENTS; i++) {
        c = &s->clients[i];

        for (j = 0; j < SIM_ADDRS; j++) {
            if (c->addr[j].sin_port == to->sin_port
                && c->addr[j].sin_addr.s_addr == to->sin_addr.s_addr
                && c->addr[j].sin_port != 0)
            {
                *a = j;
                return c;
            }
        }
    }

    return NULL;
}


static int
sim_keys(sim_client_t *c)
{
    kraken_srtp_keys_t  keys;

    if (kraken_dtls_srtp_keys(c->dtls, &keys) != 0) {
        return -1;
    }

    c->srtp = kraken_srtp_create(&keys);
    if (c->srtp == NULL) {
        return -1;
    }

    /* forwarded RTP is checked by stock libsrtp, replay window and all */
    if (kraken_srtp_session(&c->rx, keys.profile, keys.remote,
                            ssrc_any_inbound)
        != 0)
    {
        return -1;
    }

    return 0;
}


void
sim_pump(sim_t *s)
{
    int            i, a, rounds, nbatch;
    size_t         n;
    uint8_t        out[1500];
    sim_client_t  *c;
    sim_packet_t  *q;

    for (rounds = 0; rounds < 50 && s->nqueue; rounds++) {
        memcpy(s->batch, s->queue, s->nqueue * sizeof(sim_packet_t));
        nbatch = s->nqueue;
        s->nqueue = 0;

        for (i = 0; i < nbatch; i++) {
            q = &s->batch[i];
            c = sim_client_at(s, &q->to, &a);

            if (c == NULL) {
                s->stray++;
                s->stray_to = q->to;
                continue;
            }

            if (q->len == 0) {
                continue;
            }

            c->bytes_at[a] += q->len;

            if (q->buf[0] <= 3) {
                c->stun_at[a]++;

            } else if (q->buf[0] >= 20 && q->buf[0] <= 63) {
                c->dtls_at[a]++;

                if (c->dtls == NULL) {
                    continue;
                }

                kraken_dtls_input(c->dtls, q->buf, q->len);

                while ((n = kraken_dtls_output(c->dtls, out, sizeof(out)))) {
                    kraken_engine_input(s->engine,
                                        (struct sockaddr *) &c->addr[c->from],
                                        sizeof(struct sockaddr_in), out, n,
                                        s->now);
                }

                kraken_engine_flush(s->engine);

                if (c->srtp == NULL
                    && kraken_dtls_state(c->dtls) == KRAKEN_DTLS_CONNECTED
                    && sim_keys(c) != 0)
                {
                    sim_die("no SRTP keys after the handshake");
                }

            } else if (q->buf[0] >= 128 && q->buf[0] <= 191) {
                c->media_at[a]++;

                if (c->srtp == NULL) {
                    continue;
                }

                if (kraken_rtp_is_rtcp(q->buf, q->len)) {
                    sim_receive_rtcp(c, q->buf, q->len);

                } else {
                    sim_receive_rtp(s, c, q->buf, q->len);
                }
            }
        }
    }
}


void
sim_drop(sim_t *s)
{
    s->nqueue = 0;
}


static void
sim_receive_rtcp(sim_client_t *c, uint8_t *buf, size_t len)
{
    if (kraken_srtp_unprotect_rtcp(c->srtp, buf, &len) != 0) {
        return;
    }

    if (buf[1] == KRAKEN_RTCP_SR) {
        c->sr_ssrc = sim_get32(buf + 4);

    } else if (buf[1] == KRAKEN_RTCP_RR && len >= 32) {
        c->rr_about = sim_get32(buf + 8);
    }
}


/*
 * libsrtp's guess of a packet's index from the highest one it accepted
 * (RFC 3711 3.3.1 and appendix A; libsrtp takes every sequence number at
 * face value while the highest index is at most 2^15). Returns the index
 * minus the highest.
 */

static int64_t
sim_index_delta(uint64_t highest, uint16_t seq)
{
    int64_t   roc, local;

    local = (int64_t) (highest & 0xffff);
    roc = (int64_t) (highest >> 16);

    if (highest <= 0x8000) {
        return (int64_t) seq - local;
    }

    if (local < 0x8000) {
        if (seq - local > 0x8000) {
            roc--;
        }

    } else if (local - 0x8000 > seq) {
        roc++;
    }

    return (roc * 0x10000 + seq) - (int64_t) highest;
}


static void
sim_receive_rtp(sim_t *s, sim_client_t *c, uint8_t *buf, size_t len)
{
    int                   i, n;
    int64_t               delta;
    uint32_t              ssrc, roc;
    uint64_t              index;
    sim_seen_t           *seen;
    sim_stream_t         *st;
    kraken_rtp_header_t   h;

    seen = NULL;
    st = NULL;
    delta = 0;

    if (len < 12) {
        c->rejected++;
        return;
    }

    ssrc = sim_get32(buf + 8);

    for (i = 0; i < c->nstreams; i++) {
        if (c->streams[i].ssrc == ssrc) {
            st = &c->streams[i];
            break;
        }
    }

    if (st == NULL && c->nstreams < SIM_STREAMS) {
        st = &c->streams[c->nstreams++];
        st->ssrc = ssrc;
    }

    if (s->record) {
        if (c->nseen == c->seen_cap) {
            c->seen_cap = c->seen_cap ? 2 * c->seen_cap : 256;
            seen = realloc(c->seen, c->seen_cap * sizeof(sim_seen_t));
            if (seen == NULL) {
                sim_die("out of memory");
            }

            c->seen = seen;
        }

        seen = &c->seen[c->nseen++];
        memset(seen, 0, sizeof(sim_seen_t));
        seen->ssrc = ssrc;
        seen->seq = (uint16_t) (buf[2] << 8 | buf[3]);

        if (kraken_rtp_parse(buf, len, &h) == 0
            && len >= h.header_len + sizeof(seen->ct))
        {
            for (i = 0; i < (int) sizeof(seen->ct); i++) {
                seen->ct[i] = buf[h.header_len + i] ^ SIM_PAYLOAD;
            }
        }
    }

    if (st) {
        delta = sim_index_delta(st->highest, (uint16_t) (buf[2] << 8
                                                         | buf[3]));
    }

    n = (int) len;

    if (srtp_unprotect(c->rx, buf, &n) != srtp_err_status_ok
        || kraken_rtp_parse(buf, (size_t) n, &h) != 0)
    {
        c->rejected++;
        return;
    }

    c->received++;
    c->last_ssrc = h.ssrc;
    c->last_seq = h.seq;
    c->last_pt = h.pt;
    c->last_len = (size_t) n;

    if (st == NULL) {
        return;
    }

    index = (uint64_t) ((int64_t) st->highest + delta);

    if (delta > 0) {
        if (st->packets && (uint64_t) delta > c->max_jump) {
            c->max_jump = (uint64_t) delta;
        }

        st->highest = index;
    }

    st->packets++;

    if (srtp_get_stream_roc(c->rx, ssrc, &roc) != srtp_err_status_ok
        || roc != (uint32_t) (st->highest >> 16))
    {
        c->estimate_errors++;
    }

    if (seen) {
        seen->decrypted = 1;
        seen->index = index;
    }
}


static int
sim_seen_cmp(const void *one, const void *two)
{
    const sim_seen_t  *a = one, *b = two;

    if (a->ssrc != b->ssrc) {
        return a->ssrc < b->ssrc ? -1 : 1;
    }

    if (a->seq != b->seq) {
        return a->seq < b->seq ? -1 : 1;
    }

    return memcmp(a->ct, b->ct, sizeof(a->ct));
}


static int
sim_index_cmp(const void *one, const void *two)
{
    const sim_seen_t  *a = one, *b = two;

    if (a->decrypted != b->decrypted) {
        return a->decrypted < b->decrypted ? -1 : 1;
    }

    if (a->ssrc != b->ssrc) {
        return a->ssrc < b->ssrc ? -1 : 1;
    }

    if (a->index != b->index) {
        return a->index < b->index ? -1 : 1;
    }

    return 0;
}


int
sim_index_reuse(sim_t *s, int idx)
{
    int            reused;
    size_t         i;
    sim_seen_t    *v;
    sim_client_t  *c;

    c = &s->clients[idx];

    if (c->nseen < 2) {
        return 0;
    }

    v = malloc(c->nseen * sizeof(sim_seen_t));
    if (v == NULL) {
        sim_die("out of memory");
    }

    memcpy(v, c->seen, c->nseen * sizeof(sim_seen_t));
    reused = 0;

    /* the same keystream: under the same key, the same index */
    qsort(v, c->nseen, sizeof(sim_seen_t), sim_seen_cmp);

    for (i = 1; i < c->nseen; i++) {
        if (sim_seen_cmp(&v[i - 1], &v[i]) == 0) {
            reused++;
        }
    }

    /* what decrypted, decrypted once */
    qsort(v, c->nseen, sizeof(sim_seen_t), sim_index_cmp);

    for (i = 1; i < c->nseen; i++) {
        if (v[i].decrypted && sim_index_cmp(&v[i - 1], &v[i]) == 0) {
            reused++;
        }
    }

    free(v);

    return reused;
}


int
sim_connect(sim_t *s, int idx)
{
    if (s->clients[idx].dtls == NULL) {
        return -1;
    }

    sim_check(s, idx, s->clients[idx].server_pwd);
    sim_pump(s);

    return sim_handshake(s, idx);
}


int
sim_handshake(sim_t *s, int idx)
{
    size_t         n;
    uint8_t        out[1500];
    sim_client_t  *c;

    c = &s->clients[idx];

    if (c->dtls == NULL) {
        return -1;
    }

    kraken_dtls_start(c->dtls);

    while ((n = kraken_dtls_output(c->dtls, out, sizeof(out)))) {
        kraken_engine_input(s->engine, (struct sockaddr *) &c->addr[c->from],
                            sizeof(struct sockaddr_in), out, n, s->now);
    }

    kraken_engine_flush(s->engine);
    sim_pump(s);

    if (kraken_dtls_state(c->dtls) != KRAKEN_DTLS_CONNECTED
        || c->srtp == NULL)
    {
        return -1;
    }

    return 0;
}


int
sim_rtp(sim_t *s, int idx, int pt, uint16_t seq, uint32_t ssrc,
    size_t payload, uint8_t *buf, size_t cap, size_t *len)
{
    sim_client_t  *c;

    c = &s->clients[idx];

    if (c->srtp == NULL || cap < 12 + payload + KRAKEN_SRTP_MAX_TRAILER) {
        return -1;
    }

    memset(buf, 0, 12);
    buf[0] = 0x80;
    kraken_rtp_write(buf, (uint8_t) pt, seq, seq * 960u, ssrc);
    memset(buf + 12, SIM_PAYLOAD, payload);
    *len = 12 + payload;

    return kraken_srtp_protect(c->srtp, buf, len, cap);
}


int
sim_send(sim_t *s, int idx, int pt)
{
    size_t         len;
    uint8_t        buf[1500];
    sim_client_t  *c;

    c = &s->clients[idx];

    if (sim_rtp(s, idx, pt, c->seq, c->ssrc, 100, buf, sizeof(buf), &len)
        != 0)
    {
        return -1;
    }

    c->seq++;
    sim_input(s, idx, buf, len);

    return 0;
}


void
sim_input(sim_t *s, int idx, uint8_t *buf, size_t len)
{
    sim_client_t  *c;

    c = &s->clients[idx];

    sim_input_from(s, &c->addr[c->from], buf, len);
}


void
sim_input_from(sim_t *s, const struct sockaddr_in *from, uint8_t *buf,
    size_t len)
{
    kraken_engine_input(s->engine, (const struct sockaddr *) from,
                        sizeof(struct sockaddr_in), buf, len, s->now);
    kraken_engine_flush(s->engine);
    sim_pump(s);
}


void
sim_advance(sim_t *s, uint64_t ms)
{
    s->now += ms;
    kraken_engine_timer(s->engine, s->now);
    kraken_engine_flush(s->engine);
    sim_pump(s);
}


int
sim_subscribe(sim_t *s, int idx, char **offer_out)
{
    int             rc;
    char           *offer, *answer, *p;
    sim_client_t   *c;
    kraken_error_t  err;

    c = &s->clients[idx];

    if (offer_out) {
        *offer_out = NULL;
    }

    offer = NULL;
    rc = kraken_engine_subscribe(s->engine, c->room, c->uid, c->track,
                                 s->now, &offer, &err);
    if (rc != KRAKEN_OK) {
        snprintf(s->err, sizeof(s->err), "subscribe: %d %.200s", rc,
                 err.description);
        free(offer);
        return -1;
    }

    if (offer == NULL) {
        return 0;
    }

    /* the offer's m-lines, mirrored: good enough for the engine */
    answer = strdup(offer);
    if (answer == NULL) {
        sim_die("out of memory");
    }

    while ((p = strstr(answer, "a=sendonly"))) {
        memcpy(p, "a=recvonly", 10);
    }

    rc = kraken_engine_answer(s->engine, c->room, c->uid, c->track, answer,
                              s->now, &err);
    free(answer);

    if (rc != KRAKEN_OK) {
        snprintf(s->err, sizeof(s->err), "answer: %d %.200s", rc,
                 err.description);
        free(offer);
        return -1;
    }

    if (offer_out) {
        *offer_out = offer;

    } else {
        free(offer);
    }

    return 1;
}


int
sim_lookup(sim_t *s, int idx)
{
    sim_client_t   *c;
    kraken_error_t  err;

    c = &s->clients[idx];

    return kraken_engine_lookup(s->engine, c->room, c->uid, c->track, &err);
}


kraken_engine_counters_t
sim_counters(sim_t *s)
{
    kraken_engine_stats_t  st;

    kraken_engine_stats(s->engine, &st);

    return st.counters;
}


static uint32_t
sim_get32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
           | (uint32_t) p[2] << 8 | p[3];
}
