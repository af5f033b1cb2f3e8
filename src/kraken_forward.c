/*
 * Forwarding: a publisher's fan-out list of (subscriber, slot), and its
 * RTP and sender reports rewritten and protected for each subscriber.
 */

#include <stdlib.h>
#include <string.h>

#include "kraken_engine_int.h"


int
kraken_fanout_add(kraken_peer_t *pub, kraken_peer_t *sub, int slot)
{
    int               cap;
    kraken_fanout_t  *f;

    if (pub->nfanout == pub->fanout_cap) {
        cap = pub->fanout_cap ? pub->fanout_cap * 2 : 8;

        f = realloc(pub->fanout, cap * sizeof(kraken_fanout_t));
        if (f == NULL) {
            return -1;
        }

        pub->fanout = f;
        pub->fanout_cap = cap;
    }

    pub->fanout[pub->nfanout].sub = sub;
    pub->fanout[pub->nfanout].slot = slot;
    pub->nfanout++;

    return 0;
}


void
kraken_fanout_remove(kraken_peer_t *pub, kraken_peer_t *sub, int slot)
{
    int  i;

    for (i = 0; i < pub->nfanout; i++) {
        if (pub->fanout[i].sub == sub && pub->fanout[i].slot == slot) {
            pub->fanout[i] = pub->fanout[--pub->nfanout];
            return;
        }
    }
}


/* The subscriber of a fan-out entry, when its slot takes media now. */

static kraken_peer_t *
kraken_fanout_ready(kraken_fanout_t *f, kraken_slot_t **slot)
{
    kraken_peer_t  *sub;
    kraken_slot_t  *s;

    sub = f->sub;
    s = &sub->slots[f->slot];

    if (s->state != KRAKEN_SEND_ACTIVE || sub->srtp == NULL
        || !sub->path.linked)
    {
        return NULL;
    }

    *slot = s;

    return sub;
}


void
kraken_forward(kraken_engine_t *e, kraken_peer_t *pub, uint8_t *buf,
    size_t len, kraken_rtp_header_t *h, uint64_t index)
{
    int                 i;
    size_t              n;
    uint16_t            seq;
    uint32_t            ts, roc;
    kraken_slot_t      *s;
    kraken_peer_t      *sub;
    kraken_datagram_t  *dg;

    for (i = 0; i < pub->nfanout; i++) {
        sub = kraken_fanout_ready(&pub->fanout[i], &s);
        if (sub == NULL) {
            continue;
        }

        if (kraken_rtp_rewrite(&s->rw, h->ssrc, index, h->ts, &roc, &seq,
                               &ts)
            != 0)
        {
            continue;
        }

        /* the caller checked that len leaves room for our trailer */
        dg = kraken_out_next(e);
        memcpy(dg->buf, buf, len);
        kraken_rtp_write(dg->buf, (uint8_t) sub->pt, seq, ts, s->ssrc);

        n = len;
        if (kraken_srtp_protect_forward(sub->srtp, dg->buf, &n,
                                        sizeof(dg->buf), h->header_len, roc)
            != 0)
        {
            continue;
        }

        kraken_out_commit(e, sub, dg, n);
        e->counters.rtp_forwarded++;
        e->counters.rtp_forwarded_bytes += len;
    }
}


void
kraken_forward_sr(kraken_engine_t *e, kraken_peer_t *pub, const uint8_t *sr)
{
    int                 i;
    size_t              n;
    kraken_slot_t      *s;
    kraken_peer_t      *sub;
    kraken_datagram_t  *dg;

    for (i = 0; i < pub->nfanout; i++) {
        sub = kraken_fanout_ready(&pub->fanout[i], &s);
        if (sub == NULL || !s->rw.started) {
            continue;
        }

        dg = kraken_out_next(e);
        n = kraken_rtcp_write_sr(dg->buf, sr, s->ssrc, s->rw.ts_delta);

        if (kraken_srtp_protect_rtcp(sub->srtp, dg->buf, &n,
                                     sizeof(dg->buf))
            == 0)
        {
            kraken_out_commit(e, sub, dg, n);
        }
    }
}
