/*
 * A peer's transport: ICE-lite admission by STUN check, DTLS to SRTP keys,
 * SRTP/SRTCP in, our receiver reports, and the timers that end a peer
 * (connect, consent, DTLS retransmission).
 */

#include <string.h>

#include "kraken_engine_int.h"


static void
kraken_dtls_flush(kraken_engine_t *e, kraken_peer_t *p)
{
    size_t              n;
    kraken_datagram_t  *dg;

    if (!p->has_addr) {
        return;
    }

    for ( ;; ) {
        dg = kraken_out_next(e);

        n = kraken_dtls_output(p->dtls, dg->buf, sizeof(dg->buf));
        if (n == 0) {
            return;
        }

        kraken_out_commit(e, p, dg, n);
    }
}


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
    p->last_consent = now;

    /* ICE-lite: the first valid check, then the nominated one, is the path */
    if (!p->has_addr
        || (use && !kraken_addr_equal((struct sockaddr *) &p->addr, from)))
    {
        kraken_addr_link(p, from, fromlen);
    }

    memcpy(&dg->addr, from, fromlen);
    dg->addrlen = fromlen;
    dg->len = outlen;
    e->nout++;
}


void
kraken_input_dtls(kraken_engine_t *e, kraken_peer_t *p, uint8_t *buf,
    size_t len, uint64_t now)
{
    int                 state;
    uint64_t            next;
    kraken_srtp_keys_t  keys;

    if (p->dtls == NULL) {
        return;
    }

    state = kraken_dtls_input(p->dtls, buf, len);
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

        p->connected_at = now;

        kraken_log(e, "peer %.64s:%.64s:%s connected %llu ms after "
                   "publish", p->room->id, p->uid, p->cid,
                   (unsigned long long) (now - p->created));
    }
}


void
kraken_input_srtp(kraken_engine_t *e, kraken_peer_t *p, uint8_t *buf,
    size_t len, uint64_t now)
{
    uint64_t              forwarded;
    const uint8_t        *sr;
    kraken_rtp_header_t   h;

    if (p->srtp == NULL) {
        /* no media before DTLS completes */
        e->counters.srtp_failed++;
        return;
    }

    if (kraken_rtp_is_rtcp(buf, len)) {
        if (kraken_srtp_unprotect_rtcp(p->srtp, buf, &len) != 0) {
            e->counters.srtp_failed++;
            return;
        }

        e->counters.rtcp_received++;

        /* subscribers' reports end here; a publisher's SR goes on */
        sr = kraken_rtcp_find_sr(buf, len);
        if (sr && p->has_track && p->stats.ssrc == ((uint32_t) sr[4] << 24
                                   | (uint32_t) sr[5] << 16
                                   | (uint32_t) sr[6] << 8 | sr[7]))
        {
            p->stats.lsr = (uint32_t) sr[10] << 24 | (uint32_t) sr[11] << 16
                           | (uint32_t) sr[12] << 8 | sr[13];
            p->stats.lsr_at = now;
            kraken_forward_sr(e, p, sr);
        }

        return;
    }

    if (kraken_srtp_unprotect(p->srtp, buf, &len) != 0) {
        e->counters.srtp_failed++;
        return;
    }

    if (kraken_rtp_parse(buf, len, &h) != 0 || h.pt != p->pt) {
        e->counters.malformed++;
        return;
    }

    e->counters.rtp_received++;

    if (!p->has_track) {
        p->has_track = 1;
        p->next_rr = now + KRAKEN_RR_INTERVAL;
        kraken_log(e, "peer %.64s:%.64s:%s first audio %llu ms after "
                   "publish", p->room->id, p->uid, p->cid,
                   (unsigned long long) (now - p->created));
    }

    kraken_rtp_stats_update(&p->stats, h.ssrc, h.seq);

    forwarded = e->counters.rtp_forwarded;
    kraken_forward(e, p, buf, len, &h);

    if (!p->forwarded && e->counters.rtp_forwarded != forwarded) {
        p->forwarded = 1;
        kraken_log(e, "peer %.64s:%.64s:%s first forwarded %llu ms after "
                   "publish", p->room->id, p->uid, p->cid,
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
        kraken_peer_close(p, now, "no media");
        return wait;
    }

    if (p->last_consent && now - p->last_consent >= e->conf.consent_timeout)
    {
        kraken_peer_close(p, now, "consent expired");
        return wait;
    }

    if (p->dtls_deadline && now >= p->dtls_deadline && p->dtls) {
        state = kraken_dtls_timer(p->dtls, now, &dl);
        kraken_dtls_flush(e, p);

        if (state == KRAKEN_DTLS_FAILED) {
            e->counters.dtls_failed++;
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
        kraken_dtls_free(p->dtls);
        p->dtls = NULL;
        *trim = 1;
    }

    if (p->has_track && p->srtp && p->has_addr && now >= p->next_rr) {
        kraken_send_rr(e, p, now);
        p->next_rr = now + KRAKEN_RR_INTERVAL;
    }

    return wait;
}
