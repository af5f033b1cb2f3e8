
/*
 * Copyright (C) ngx_kraken authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_upstream_kraken.h"


/*
 * Each try of a call: the engine it goes to (get), and what its end
 * tells (free). A call without a room is round robin's. A call with one
 * goes where its room lives, as an answer named it or as this front
 * remembers; else every engine is asked in the room's rendezvous order;
 * only when none holds the room or knows where it lives, the room's home
 * places it. Before each try, X-Kraken-Place is rewritten in the
 * request with what the front knows then.
 */


static void ngx_http_upstream_kraken_rechoose(
    ngx_http_upstream_kraken_peer_data_t *kp, time_t now);
static ngx_int_t ngx_http_upstream_kraken_want(
    ngx_http_upstream_kraken_ctx_t *ctx, ngx_http_upstream_rr_peers_t *peers,
    time_t now);
static ngx_int_t ngx_http_upstream_kraken_next_ask(
    ngx_http_upstream_kraken_ctx_t *ctx, ngx_http_upstream_rr_peers_t *peers,
    time_t now);
static void ngx_http_upstream_kraken_stamp(
    ngx_http_upstream_kraken_peer_data_t *kp);


ngx_int_t
ngx_http_upstream_get_kraken_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_upstream_kraken_peer_data_t  *kp = data;

    time_t                           now;
    uintptr_t                        m;
    ngx_int_t                        want;
    ngx_uint_t                       i;
    ngx_http_upstream_rr_peer_t     *peer;
    ngx_http_upstream_rr_peers_t    *peers;
    ngx_http_upstream_kraken_ctx_t  *ctx;

    ctx = kp->ctx;

    /* calls without a room (info, turn) are balanced as round robin */
    if (ctx == NULL || ctx->room.len == 0 || kp->rrp.peers->single) {
        return ngx_http_upstream_get_round_robin_peer(pc, &kp->rrp);
    }

    peers = kp->rrp.peers;
    now = ngx_time();

    if (kp->tries++ && kp->conf->zone) {
        ngx_http_upstream_kraken_rechoose(kp, now);
    }

    ngx_http_upstream_rr_peers_wlock(peers);

    want = ngx_http_upstream_kraken_want(ctx, peers, now);

    for (peer = peers->peer, i = 0; want >= 0 && peer
                                    && i < (ngx_uint_t) want;
         peer = peer->next, i++)
    { /* void */ }

    if (want >= 0 && peer && kp->tries <= 2 * peers->number + 2
        && ngx_http_upstream_kraken_usable(peer, now) == NGX_OK)
    {
        m = (uintptr_t) 1 << i % (8 * sizeof(uintptr_t));
        goto found;
    }

    ngx_http_upstream_rr_peers_unlock(peers);

    /* none of them can take it: any engine that can */
    return ngx_http_upstream_get_round_robin_peer(pc, &kp->rrp);

found:

    kp->rrp.current = peer;

    pc->sockaddr = peer->sockaddr;
    pc->socklen = peer->socklen;
    pc->name = &peer->name;

    peer->conns++;

    if (now - peer->checked > peer->fail_timeout) {
        peer->checked = now;
    }

    ngx_http_upstream_rr_peers_unlock(peers);

    kp->rrp.tried[i / (8 * sizeof(uintptr_t))] |= m;

    ngx_http_upstream_kraken_stamp(kp);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "kraken balance: room \"%V\" to %V (peer %ui)",
                   &ctx->room, &peer->name, i);

    return NGX_OK;
}


/* a try failed: home and choice among the engines usable now */

static void
ngx_http_upstream_kraken_rechoose(ngx_http_upstream_kraken_peer_data_t *kp,
    time_t now)
{
    ngx_int_t                        want;
    ngx_uint_t                       placing;
    ngx_slab_pool_t                 *shpool;
    ngx_http_upstream_rr_peers_t    *peers;
    ngx_http_upstream_kraken_ctx_t  *ctx;

    ctx = kp->ctx;
    peers = kp->rrp.peers;
    shpool = (ngx_slab_pool_t *) kp->conf->zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    placing = (ctx->placing >= 0);

    if (placing) {
        /* this call's own placement does not weigh on its choice */
        ngx_http_upstream_kraken_placing(ctx, kp->conf->zone->data, -1);
    }

    ngx_http_upstream_kraken_choose(ctx, peers, kp->conf->zone->data, now);

    /*
     * A record named the engine the room goes to: the call goes there
     * choosing it, so that the engine takes the room rather than record
     * this front's own choice (another front's may have won at the home)
     * and send the call on once more.
     */
    if (ctx->redirect.len) {
        want = ngx_http_upstream_kraken_peer_index(peers, ctx->redirect.data,
                                                   ctx->redirect.len);
        if (want >= 0) {
            ctx->choice = want;
        }
    }

    if (placing) {
        ngx_http_upstream_kraken_placing(ctx, kp->conf->zone->data,
                                         ctx->choice);
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


/*
 * Where the room lives: the engine an answer named, the one this front
 * remembers; else every engine is asked, in the room's rendezvous order
 * (its home first), whether it holds the room or knows where it lives;
 * only when none does, the home places it. -1: none of these.
 */

static ngx_int_t
ngx_http_upstream_kraken_want(ngx_http_upstream_kraken_ctx_t *ctx,
    ngx_http_upstream_rr_peers_t *peers, time_t now)
{
    ngx_int_t  want;

    ctx->ask = 0;
    want = -1;

    if (ctx->redirect.len) {
        want = ngx_http_upstream_kraken_peer_index(peers, ctx->redirect.data,
                                                   ctx->redirect.len);
        ctx->redirect.len = 0;
    }

    if (want < 0 && ctx->owner >= 0 && !ctx->owner_tried) {
        ctx->owner_tried = 1;
        want = ctx->owner;
    }

    if (want < 0) {
        want = ngx_http_upstream_kraken_next_ask(ctx, peers, now);
        ctx->ask = (want >= 0);
    }

    if (want < 0 && !ctx->placed) {
        ctx->placed = 1;
        want = ctx->home;
    }

    return want;
}


/*
 * The engine answered, or failed. Its figures and a redirect are read
 * from the answer's headers; a room call it answered tells where the
 * room lives, a failure that it may live there no more.
 */

void
ngx_http_upstream_free_kraken_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_http_upstream_kraken_peer_data_t  *kp = data;

    ngx_uint_t                    i;
    ngx_http_upstream_t          *u;
    ngx_http_upstream_rr_peer_t  *peer, *p;

    peer = kp->rrp.current;

    if (peer && kp->rrp.peers->peer) {
        for (p = kp->rrp.peers->peer, i = 0; p && p != peer; p = p->next) {
            i++;
        }

        u = kp->request->upstream;

        if (p && !(state & NGX_PEER_FAILED)
            && u->headers_in.headers.part.elts)
        {
            ngx_http_upstream_kraken_answer(kp, i);

        } else if (p && kp->ctx && kp->ctx->room.len) {
            ngx_http_upstream_kraken_forget(kp->conf, &kp->ctx->room,
                                            &peer->name);
        }
    }

    ngx_http_upstream_free_round_robin_peer(pc, &kp->rrp, state);
}


/*
 * Rewrites X-Kraken-Place in the request to the engine before a try, so
 * that a retry after a failure names the failed engine as down. The
 * proxy module wrote the whole header block into the first buffer.
 */

static void
ngx_http_upstream_kraken_stamp(ngx_http_upstream_kraken_peer_data_t *kp)
{
    u_char                          *p, *last;
    ngx_buf_t                       *b;
    ngx_http_upstream_t             *u;
    ngx_http_upstream_kraken_ctx_t  *ctx;

    ctx = kp->ctx;
    u = kp->request->upstream;

    if (ctx->place.len == 0) {
        return;
    }

    if (!ctx->stamped) {
        ctx->stamped = 1;

        if (u->request_bufs == NULL || u->request_bufs->buf == NULL) {
            return;
        }

        b = u->request_bufs->buf;
        last = b->last;

        p = ngx_kraken_cluster_place_find(b->start, last);
        if (p == NULL) {
            return;
        }

        if (last - p < NGX_KRAKEN_PLACE_LEN
            || ngx_memcmp(p, ctx->place.data, NGX_KRAKEN_PLACE_LEN) != 0)
        {
            return;
        }

        ctx->stamp = p;
    }

    if (ctx->stamp) {
        ngx_http_upstream_kraken_place(ctx, kp->rrp.peers, ctx->stamp);
    }
}


/* The next engine to ask, in the room's rendezvous order: -1 when none. */

static ngx_int_t
ngx_http_upstream_kraken_next_ask(ngx_http_upstream_kraken_ctx_t *ctx,
    ngx_http_upstream_rr_peers_t *peers, time_t now)
{
    uint32_t                      score, best_score;
    ngx_int_t                     best;
    ngx_uint_t                    i;
    ngx_http_upstream_rr_peer_t  *peer;

    best = -1;
    best_score = 0;

    for (peer = peers->peer, i = 0;
         peer && i < 8 * sizeof(uintptr_t);
         peer = peer->next, i++)
    {
        if ((ctx->asked & ((uintptr_t) 1 << i))
            || ngx_http_upstream_kraken_usable(peer, now) != NGX_OK)
        {
            continue;
        }

        score = ngx_http_upstream_kraken_score(&ctx->room, &peer->name);

        if (best < 0 || score > best_score) {
            best = i;
            best_score = score;
        }
    }

    if (best >= 0) {
        ctx->asked |= (uintptr_t) 1 << best;
    }

    return best;
}
