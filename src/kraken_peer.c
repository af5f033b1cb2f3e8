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
    free(p);
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
