/*
 * The engine's output batch: every part that sends (transport, peer,
 * forward) takes the next datagram slot, fills it and commits it; the
 * batch goes to the socket in one call (sendmmsg) when full or when the
 * event-loop turn ends.
 */

#include <string.h>

#include "kraken_engine_int.h"


kraken_datagram_t *
kraken_out_next(kraken_engine_t *e)
{
    if (e->nout == KRAKEN_OUT_BATCH) {
        kraken_out_flush(e);
    }

    return &e->out[e->nout];
}


void
kraken_out_commit(kraken_engine_t *e, kraken_peer_t *p,
    kraken_datagram_t *dg, size_t len)
{
    memcpy(&dg->addr, &p->path.sa, p->path.len);
    dg->addrlen = p->path.len;
    dg->len = len;
    e->nout++;
}


void
kraken_out_flush(kraken_engine_t *e)
{
    if (e->nout) {
        e->conf.send(e->conf.send_data, e->out, e->nout);
        e->nout = 0;
    }
}
