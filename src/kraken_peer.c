/*
 * A peer's life: closing cuts every link between it and the others, so
 * that a closed peer is a tombstone (Kraken answers 5002002 for it) until
 * the engine's timer frees it.
 */

#include <stdlib.h>
#include <string.h>

#include "kraken_engine_int.h"


static void
kraken_echo_free(kraken_echo_t *echo)
{
    free(echo->media);
    free(echo->proto);
    free(echo->fmts);
}


void
kraken_peer_close(kraken_peer_t *p, uint64_t now, const char *why)
{
    int             i;
    kraken_slot_t  *s;
    kraken_fanout_t *f;

    if (p->closed) {
        return;
    }

    p->closed = 1;
    p->closed_at = now;
    p->engine->npeers--;

    if (p->pending) {
        p->pending = 0;
        p->engine->npending--;
    }

    for (i = 0; i < p->nfanout; i++) {
        f = &p->fanout[i];
        f->sub->slots[f->slot].pub = NULL;
    }

    p->nfanout = 0;

    for (i = 0; i < p->nslots; i++) {
        s = &p->slots[i];

        if (s->kind == KRAKEN_SLOT_SEND && s->pub) {
            kraken_fanout_remove(s->pub, p, i);
            s->pub = NULL;
        }
    }

    kraken_ufrag_unlink(p);
    kraken_addr_unlink(p->engine, &p->path);
    kraken_addr_unlink(p->engine, &p->probe);

    kraken_dtls_free(p->dtls);
    p->dtls = NULL;
    kraken_srtp_free(p->srtp);
    p->srtp = NULL;

    if (why) {
        kraken_log(p->engine, "peer %.64s:%.64s:%s closed: %s",
                   p->room->id, p->uid, p->pub_id, why);
    }
}


void
kraken_peer_free(kraken_peer_t *p)
{
    int  i;

    for (i = 0; i < p->nslots; i++) {
        kraken_echo_free(&p->slots[i].echo);
        free(p->slots[i].pub_uid);
    }

    free(p->slots);
    free(p->fanout);
    free(p->callback);
    free(p);
}


/*
 * Once a connected peer's keys are in use its SSL object is only memory:
 * it goes, and what it would say last, our close_notify, is sealed now and
 * kept. No DTLS record of ours follows it, so its sequence number stays
 * one the peer accepts.
 */

void
kraken_peer_dtls_release(kraken_peer_t *p)
{
    p->bye_len = 0;

    /* whatever the handshake left unsent comes first: it is not sent */
    while (kraken_dtls_output(p->dtls, p->bye, sizeof(p->bye))) {
        /* void */
    }

    if (kraken_dtls_shutdown(p->dtls) == 0) {
        p->bye_len = kraken_dtls_output(p->dtls, p->bye, sizeof(p->bye));
    }

    kraken_dtls_free(p->dtls);
    p->dtls = NULL;
}


/*
 * A connected peer is told that we end the association (RFC 6347 4.2.7,
 * close_notify), so its DTLS transport closes at once rather than after
 * ICE consent fails: the alert is queued in the output batch. Returns 1
 * when it was, 0 when the peer has no association to end.
 */

int
kraken_peer_bye(kraken_peer_t *p)
{
    size_t              n;
    kraken_engine_t    *e;
    kraken_datagram_t  *dg;

    if (p->closed || p->srtp == NULL || !p->path.linked) {
        return 0;
    }

    e = p->engine;

    if (p->dtls) {
        if (kraken_dtls_shutdown(p->dtls) != 0) {
            return 0;
        }

        for ( ;; ) {
            dg = kraken_out_next(e);

            n = kraken_dtls_output(p->dtls, dg->buf, sizeof(dg->buf));
            if (n == 0) {
                return 1;
            }

            kraken_out_commit(e, p, dg, n);
        }
    }

    if (p->bye_len == 0) {
        return 0;
    }

    dg = kraken_out_next(e);
    memcpy(dg->buf, p->bye, p->bye_len);
    kraken_out_commit(e, p, dg, p->bye_len);
    p->bye_len = 0;

    return 1;
}


char *
kraken_strdup(const char *s)
{
    size_t   len;
    char    *d;

    len = strlen(s) + 1;
    d = malloc(len);
    if (d) {
        memcpy(d, s, len);
    }

    return d;
}
