/*
 * A peer's transport: ICE-lite admission by STUN check, DTLS to SRTP keys,
 * SRTP/SRTCP in, our receiver reports, and the timers that end a peer
 * (connect, consent, DTLS retransmission).
 */

#include <string.h>

#include "kraken_engine_int.h"


static void kraken_histogram_add(kraken_engine_histogram_t *h, uint64_t ms);


/*
 * Our DTLS datagrams go to the path. A path that has not echoed our
 * cookie (kraken_dtls_proven()) may be anyone's address, given by a
 * spoofed check: it gets no more bytes than came from it, which leaves
 * it the HelloVerifyRequest and nothing retransmitted. What does not fit
 * is dropped; the client's own retransmission earns it again.
 */

static void
kraken_dtls_flush(kraken_engine_t *e, kraken_peer_t *p)
{
    int                 proven;
    size_t              n, keylen;
    uint8_t             key[KRAKEN_DTLS_FROM_MAX];
    kraken_datagram_t  *dg;

    if (!p->path.linked) {
        return;
    }

    keylen = kraken_addr_key((struct sockaddr *) &p->path.sa, key);
    proven = kraken_dtls_proven(p->dtls, key, keylen);

    for ( ;; ) {
        dg = kraken_out_next(e);

        n = kraken_dtls_output(p->dtls, dg->buf, sizeof(dg->buf));
        if (n == 0) {
            return;
        }

        if (!proven) {
            if (n > p->path.dtls_credit) {
                e->counters.dtls_withheld++;
                continue;
            }

            p->path.dtls_credit -= n;
        }

        kraken_out_commit(e, p, dg, n);
    }
}


/*
 * A valid check is consent from wherever it comes. It is not proof that
 * the peer is there (a captured check can be replayed from any address),
 * so a new address only becomes a probe; the media path moves to it when
 * the peer's keys speak from it (kraken_transport_heard()). Nor is it
 * proof against another engine: a check from an address the caller says
 * another engine's peer has (anyone can sign one with credentials of
 * their own, from a spoofed address) is dropped unanswered.
 */

void
kraken_input_stun(kraken_engine_t *e, const struct sockaddr *from,
    socklen_t fromlen, uint8_t *buf, size_t len, uint64_t now)
{
    int                 rc, use;
    void               *data;
    size_t              outlen;
    kraken_peer_t      *p;
    kraken_datagram_t  *dg;

    dg = kraken_out_next(e);
    outlen = sizeof(dg->buf);

    rc = kraken_stun_process(&e->stun, buf, len, from, fromlen, dg->buf,
                             &outlen, &data, &use);

    switch (rc) {

    case KRAKEN_STUN_REPLY:
        break;

    case KRAKEN_STUN_IGNORE:
        return;

    case KRAKEN_STUN_UNAUTHORIZED:
        e->counters.stun_unauthorized++;
        return;

    default:
        e->counters.stun_bad++;
        return;
    }

    p = data;

    if (!p->path.linked) {
        /* the first check: nothing flows yet that could be redirected */
        if (kraken_addr_link(p, &p->path, from, fromlen) == -2) {
            e->counters.stun_addr_refused++;
            return;
        }

        /* handshake state costs memory: only for a peer that checked in */
        if (p->dtls == NULL && p->srtp == NULL) {
            p->dtls = kraken_dtls_create(e->dtls, 1, p->remote_fp.alg,
                                         p->remote_fp.digest,
                                         p->remote_fp.len);
            if (p->dtls == NULL) {
                kraken_peer_close(p, now, "out of memory for dtls");
                return;
            }
        }

    } else if (!kraken_addr_equal((struct sockaddr *) &p->path.sa, from)
               && kraken_addr_link(p, &p->probe, from, fromlen) == -2)
    {
        e->counters.stun_addr_refused++;
        return;
    }

    p->last_consent = now;

    memcpy(&dg->addr, from, fromlen);
    dg->addrlen = fromlen;
    dg->len = outlen;
    e->nout++;
}


/* The peer's keys authenticated what came from a: consent, and the path. */

static void
kraken_transport_heard(kraken_peer_t *p, kraken_addr_t *a, uint64_t now)
{
    if (a == &p->probe) {
        kraken_addr_promote(p);
    }

    if (!p->path.proven) {
        kraken_addr_prove(p->engine, &p->path);
    }

    p->last_consent = now;
}


void
kraken_input_dtls(kraken_engine_t *e, kraken_addr_t *a, uint8_t *buf,
    size_t len, uint64_t now)
{
    int                 state;
    size_t              keylen;
    uint8_t             key[KRAKEN_DTLS_FROM_MAX];
    uint64_t            next;
    kraken_peer_t      *p;
    kraken_srtp_keys_t  keys;

    p = a->peer;

    if (p->dtls == NULL) {
        return;
    }

    /* during the handshake the client's nominated pair carries DTLS */
    if (a == &p->probe && p->srtp == NULL) {
        kraken_addr_promote(p);
        a = &p->path;
    }

    a->dtls_credit += len;
    keylen = kraken_addr_key((struct sockaddr *) &a->sa, key);

    /*
     * Until the keys are there, connected_at is when the first DTLS
     * datagram came: the handshake's time is the difference.
     */
    if (p->srtp == NULL && p->connected_at == 0) {
        p->connected_at = now;
    }

    state = kraken_dtls_input_from(p->dtls, buf, len, key, keylen);
    kraken_dtls_flush(e, p);

    if (state == KRAKEN_DTLS_FAILED) {
        e->counters.dtls_failed++;
        kraken_peer_close(p, now, "dtls failed");
        return;
    }

    if (state == KRAKEN_DTLS_HANDSHAKING) {
        if (kraken_dtls_timer(p->dtls, now, &next) == KRAKEN_DTLS_HANDSHAKING)
        {
            p->dtls_deadline = next;
        }

        return;
    }

    if (p->srtp == NULL) {
        p->dtls_deadline = 0;

        if (kraken_dtls_srtp_keys(p->dtls, &keys) != 0) {
            e->counters.dtls_failed++;
            kraken_peer_close(p, now, "no srtp keys");
            return;
        }

        p->srtp = kraken_srtp_create(&keys);
        if (p->srtp == NULL) {
            kraken_peer_close(p, now, "srtp failed");
            return;
        }

        /*
         * The handshake's last flight came from the path (a probe that
         * carries DTLS before the keys is promoted above): the keys the
         * offer's fingerprint names prove it.
         */
        kraken_addr_prove(e, &p->path);

        kraken_histogram_add(&e->counters.dtls_handshake,
                                    now - p->connected_at);
        p->connected_at = now;

        if (p->pending) {
            p->pending = 0;
            e->npending--;
        }

        kraken_log(e, "peer %.64s:%.64s:%s connected %llu ms after "
                   "publish", p->room->id, p->uid, p->pub_id,
                   (unsigned long long) (now - p->created));
    }
}


static kraken_pin_t *
kraken_pin_find(kraken_peer_t *p, uint32_t ssrc)
{
    int  i;

    for (i = 0; i < p->npins; i++) {
        if (p->pins[i].ssrc == ssrc) {
            return &p->pins[i];
        }
    }

    return NULL;
}


/*
 * SRTCP. Only a publisher's own sources are read (their SR goes on to the
 * subscribers); libsrtp would keep state for every other sender SSRC, and
 * subscribers' reports end here anyway.
 */

static void
kraken_input_srtcp(kraken_engine_t *e, kraken_addr_t *a, uint8_t *buf,
    size_t len, uint64_t now)
{
    const uint8_t  *sr;
    kraken_peer_t  *p;

    p = a->peer;

    if (len < 8 || kraken_pin_find(p, kraken_get32(buf + 4)) == NULL) {
        return;
    }

    if (kraken_srtp_unprotect_rtcp(p->srtp, buf, &len) != 0) {
        e->counters.srtp_failed++;
        return;
    }

    kraken_transport_heard(p, a, now);
    e->counters.rtcp_received++;

    sr = kraken_rtcp_find_sr(buf, len);
    if (sr && p->has_track && p->stats.ssrc == kraken_get32(sr + 4)) {
        p->stats.lsr = kraken_get32(sr + 10);
        p->stats.lsr_at = now;
        kraken_forward_sr(e, p, sr);
    }
}


/*
 * A publisher's first authentic audio: it becomes a track others may
 * subscribe to, and its callback, if it has one, is asked.
 */

static void
kraken_transport_first_audio(kraken_engine_t *e, kraken_peer_t *p,
    uint64_t now)
{
    p->has_track = 1;
    p->next_rr = now + KRAKEN_RR_INTERVAL;
    kraken_log(e, "peer %.64s:%.64s:%s first audio %llu ms after "
               "publish", p->room->id, p->uid, p->pub_id,
               (unsigned long long) (now - p->created));

    if (p->callback) {
        /* the caller may answer, and close p, before this returns */
        p->gate = KRAKEN_GATE_WAITING;
        e->counters.callback_calls++;
        e->conf.ontrack(e->conf.ontrack_data, p->room->id, p->uid,
                        p->cid, p->callback);
    }
}


void
kraken_input_srtp(kraken_engine_t *e, kraken_addr_t *a, uint8_t *buf,
    size_t len, uint64_t now)
{
    uint32_t              ssrc;
    uint64_t              forwarded, index;
    kraken_pin_t         *pin;
    kraken_peer_t        *p;
    kraken_rtp_header_t   h;

    p = a->peer;

    if (p->srtp == NULL) {
        /* no media before DTLS completes */
        e->counters.srtp_failed++;
        return;
    }

    if (kraken_rtp_is_rtcp(buf, len)) {
        kraken_input_srtcp(e, a, buf, len, now);
        return;
    }

    if (len < 12) {
        e->counters.malformed++;
        return;
    }

    /*
     * libsrtp keeps state, and walks a list, for every SSRC it accepts:
     * a peer has the source it declared and a few more, taken as their
     * first authentic packet arrives. An authentic packet of yet another
     * source is the peer's own doing: it ends the peer.
     */
    ssrc = kraken_get32(buf + 8);
    pin = kraken_pin_find(p, ssrc);

    if (kraken_srtp_unprotect(p->srtp, buf, &len) != 0) {
        e->counters.srtp_failed++;
        return;
    }

    if (pin == NULL) {
        if (p->npins == KRAKEN_SSRC_PINS) {
            kraken_srtp_forget(p->srtp, ssrc);
            e->counters.ssrc_refused++;
            kraken_peer_close(p, now, "too many RTP sources");
            return;
        }

        pin = &p->pins[p->npins++];
        memset(pin, 0, sizeof(kraken_pin_t));
        pin->ssrc = ssrc;
    }

    kraken_transport_heard(p, a, now);

    if (kraken_rtp_parse(buf, len, &h) != 0) {
        e->counters.malformed++;
        return;
    }

    /* libsrtp accepted it: this is the index it gave the packet */
    index = kraken_rtp_index_accept(&pin->index, h.seq);

    if (h.pt != p->pt) {
        e->counters.malformed++;
        return;
    }

    if (len + KRAKEN_SRTP_MAX_TRAILER > KRAKEN_DATAGRAM_MAX) {
        e->counters.oversize++;
        return;
    }

    e->counters.rtp_received++;
    e->counters.rtp_received_bytes += len;

    if (!p->has_track) {
        kraken_transport_first_audio(e, p, now);
    }

    kraken_rtp_stats_update(&p->stats, h.ssrc, h.seq);

    if (p->closed || p->gate == KRAKEN_GATE_WAITING) {
        /* held: dropped until the callback admits it, as Kraken */
        e->counters.callback_held++;
        return;
    }

    forwarded = e->counters.rtp_forwarded;
    kraken_forward(e, p, buf, len, &h, index);

    if (!p->forwarded && e->counters.rtp_forwarded != forwarded) {
        p->forwarded = 1;
        kraken_log(e, "peer %.64s:%.64s:%s first forwarded %llu ms after "
                   "publish", p->room->id, p->uid, p->pub_id,
                   (unsigned long long) (now - p->created));
    }
}


static void
kraken_send_rr(kraken_engine_t *e, kraken_peer_t *p, uint64_t now)
{
    size_t              n;
    kraken_datagram_t  *dg;

    dg = kraken_out_next(e);
    n = kraken_rtcp_write_rr(dg->buf, p->local_ssrc, &p->stats, now);

    if (kraken_srtp_protect_rtcp(p->srtp, dg->buf, &n, sizeof(dg->buf)) == 0)
    {
        kraken_out_commit(e, p, dg, n);
    }
}


/* A live peer's deadlines; returns the ms until it needs the timer again. */

uint64_t
kraken_peer_timer(kraken_engine_t *e, kraken_peer_t *p, uint64_t now,
    int *trim)
{
    int       state;
    uint64_t  wait, dl;

    wait = 100;

    if (!p->has_track && now - p->created >= e->conf.connect_timeout) {
        e->counters.connect_timeout++;
        kraken_peer_close(p, now, "no media");
        return wait;
    }

    if (p->last_consent && now - p->last_consent >= e->conf.consent_timeout)
    {
        e->counters.consent_timeout++;
        kraken_peer_close(p, now, "consent expired");
        return wait;
    }

    if (p->dtls_deadline && now >= p->dtls_deadline && p->dtls) {
        state = kraken_dtls_timer(p->dtls, now, &dl);
        kraken_dtls_flush(e, p);

        if (state == KRAKEN_DTLS_FAILED) {
            e->counters.dtls_failed++;
            e->counters.dtls_timeout++;
            kraken_peer_close(p, now, "dtls timeout");
            return wait;
        }

        p->dtls_deadline = (state == KRAKEN_DTLS_HANDSHAKING) ? dl : 0;
    }

    if (p->dtls_deadline > now && p->dtls_deadline - now < wait) {
        wait = p->dtls_deadline - now;
    }

    /*
     * Once the keys are in use and a lost final flight can no longer be
     * asked for again, the SSL object is only memory.
     */
    if (p->dtls && p->srtp && now - p->connected_at >= KRAKEN_DTLS_LINGER) {
        kraken_peer_dtls_release(p);
        *trim = 1;
    }

    if (p->has_track && p->srtp && p->path.linked && now >= p->next_rr) {
        kraken_send_rr(e, p, now);
        p->next_rr = now + KRAKEN_RR_INTERVAL;
    }

    return wait;
}


/* Counts one DTLS handshake of ms milliseconds in its bucket. */

static void
kraken_histogram_add(kraken_engine_histogram_t *h, uint64_t ms)
{
    int                    i;
    static const uint64_t  bounds[KRAKEN_DTLS_NBOUNDS] = KRAKEN_DTLS_BOUNDS;

    for (i = 0; i < KRAKEN_DTLS_NBOUNDS && ms > bounds[i]; i++) {
        /* void */
    }

    h->bucket[i]++;
    h->count++;
    h->sum += ms;
}
