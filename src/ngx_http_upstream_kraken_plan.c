
/*
 * Copyright (C) ngx_kraken authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_upstream_kraken.h"


/*
 * A call's plan: where its room lives as far as this front knows, the
 * room's home (the first in its rendezvous order, the same at every
 * front) and the engine a new room would go to (the most headroom, by
 * the figures the engines send), and the X-Kraken-Place that tells the
 * engine so. The engines' figures live in the zone, beside the rooms.
 */


static void ngx_http_upstream_kraken_known(
    ngx_http_upstream_kraken_ctx_t *ctx, ngx_http_upstream_rr_peers_t *peers,
    ngx_http_upstream_kraken_shctx_t *sh, time_t now);
static ngx_uint_t ngx_http_upstream_kraken_headroom(
    ngx_http_upstream_kraken_figures_t *f, time_t now);
static void ngx_http_upstream_kraken_cleanup(void *data);


/*
 * What the front knows of a call: the engine its room lives on, or the
 * room's home and the engine it would choose. Made once per request, by
 * $kraken_place (evaluated when the request to the engine is built) or
 * else by the peer's init.
 */

ngx_http_upstream_kraken_ctx_t *
ngx_http_upstream_kraken_plan(ngx_http_request_t *r,
    ngx_http_upstream_kraken_srv_conf_t *kcf,
    ngx_http_upstream_rr_peers_t *peers)
{
    time_t                             now;
    ngx_slab_pool_t                   *shpool;
    ngx_pool_cleanup_t                *cln;
    ngx_http_variable_value_t         *vv;
    ngx_http_upstream_kraken_ctx_t    *ctx;
    ngx_http_upstream_kraken_shctx_t  *sh;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_upstream_kraken_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ctx->owner = -1;
    ctx->home = -1;
    ctx->choice = -1;
    ctx->placing = -1;

    vv = ngx_http_get_indexed_variable(r, kcf->room_index);
    if (vv == NULL || vv->not_found || vv->len == 0 || peers == NULL
        || kcf->zone == NULL)
    {
        return ctx;
    }

    ctx->room.data = ngx_pnalloc(r->pool, vv->len);
    if (ctx->room.data == NULL) {
        return ctx;
    }

    ngx_memcpy(ctx->room.data, vv->data, vv->len);
    ctx->room.len = vv->len;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return ctx;
    }

    cln->handler = ngx_http_upstream_kraken_cleanup;
    cln->data = ctx;
    ctx->zone = kcf->zone;

    shpool = (ngx_slab_pool_t *) kcf->zone->shm.addr;
    sh = kcf->zone->data;
    now = ngx_time();

    ngx_shmtx_lock(&shpool->mutex);

    ngx_http_upstream_kraken_known(ctx, peers, sh, now);
    ngx_http_upstream_kraken_choose(ctx, peers, sh, now);

    if (ctx->owner < 0) {
        /* a room this front does not know may be new: counted now */
        ngx_http_upstream_kraken_placing(ctx, sh, ctx->choice);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (ctx->choice < 0) {
        return ctx;
    }

    ctx->place.data = ngx_pnalloc(r->pool, NGX_KRAKEN_PLACE_LEN);
    if (ctx->place.data == NULL) {
        return ctx;
    }

    ctx->place.len = NGX_KRAKEN_PLACE_LEN;
    ngx_http_upstream_kraken_place(ctx, peers, ctx->place.data);

    return ctx;
}


/*
 * The engine this front remembers the room on, if it is usable now; the
 * room is named again (most recently used). Called with the zone locked.
 */

static void
ngx_http_upstream_kraken_known(ngx_http_upstream_kraken_ctx_t *ctx,
    ngx_http_upstream_rr_peers_t *peers,
    ngx_http_upstream_kraken_shctx_t *sh, time_t now)
{
    ngx_int_t                         index;
    ngx_uint_t                        i;
    ngx_http_upstream_rr_peer_t      *peer;
    ngx_http_upstream_kraken_room_t  *room;

    room = ngx_http_upstream_kraken_lookup(sh, &ctx->room,
                                           ngx_crc32_long(ctx->room.data,
                                                          ctx->room.len));
    if (room == NULL) {
        return;
    }

    index = ngx_http_upstream_kraken_peer_index(peers, room->owner,
                                                room->owner_len);
    room->used = now;
    ngx_queue_remove(&room->queue);
    ngx_queue_insert_head(&sh->lru, &room->queue);

    for (peer = peers->peer, i = 0; peer && (ngx_int_t) i < index;
         peer = peer->next, i++)
    { /* void */ }

    if (index >= 0 && peer
        && ngx_http_upstream_kraken_usable(peer, now) == NGX_OK)
    {
        ctx->owner = index;
    }
}


/*
 * Among the engines usable now: the room's home, the highest rendezvous
 * score of the room and an engine's name, and the engine a new room
 * would go to: of those within NGX_KRAKEN_BALANCE_TIE (5%) of the most
 * headroom, the one with the fewest rooms (this front's placements in
 * flight counted), ties to the higher score. So CPU noise of a few
 * points does not decide, rooms spread evenly over engines alike, and
 * a real difference of CPU, peers or rooms against the bounds does.
 * Called with the zone locked.
 */

void
ngx_http_upstream_kraken_choose(ngx_http_upstream_kraken_ctx_t *ctx,
    ngx_http_upstream_rr_peers_t *peers,
    ngx_http_upstream_kraken_shctx_t *sh, time_t now)
{
    uint32_t                             score, best_score, home_score;
    ngx_uint_t                           i, n, rooms, best_rooms, most;
    ngx_http_upstream_rr_peer_t         *peer;
    ngx_http_upstream_kraken_figures_t  *f;
    ngx_uint_t                           head[NGX_KRAKEN_BALANCE_PEERS];

    ctx->home = -1;
    ctx->choice = -1;
    home_score = 0;
    best_score = 0;
    best_rooms = 0;
    most = 0;

    for (peer = peers->peer, i = 0; peer; peer = peer->next, i++) {

        if (i < NGX_KRAKEN_BALANCE_PEERS) {
            head[i] = 0;
        }

        if (ngx_http_upstream_kraken_usable(peer, now) != NGX_OK) {
            continue;
        }

        score = ngx_http_upstream_kraken_score(&ctx->room, &peer->name);

        if (ctx->home < 0 || score > home_score) {
            ctx->home = i;
            home_score = score;
        }

        if (i < NGX_KRAKEN_BALANCE_PEERS) {
            f = ngx_http_upstream_kraken_figures(sh, i, peer);
            head[i] = ngx_http_upstream_kraken_headroom(f, now);
            most = ngx_max(most, head[i]);
        }
    }

    n = ngx_min(i, NGX_KRAKEN_BALANCE_PEERS);

    for (peer = peers->peer, i = 0; peer && i < n; peer = peer->next, i++) {

        if (ngx_http_upstream_kraken_usable(peer, now) != NGX_OK
            || head[i] + NGX_KRAKEN_BALANCE_TIE < most
            || (head[i] == 0 && most > 0))
        {
            continue;
        }

        score = ngx_http_upstream_kraken_score(&ctx->room, &peer->name);
        rooms = sh->figures[i].rooms + sh->figures[i].placing;

        if (ctx->choice < 0 || rooms < best_rooms
            || (rooms == best_rooms && score > best_score))
        {
            ctx->choice = i;
            best_rooms = rooms;
            best_score = score;
        }
    }

    if (ctx->choice < 0) {
        /* beyond the engines the zone has figures for: the home */
        ctx->choice = ctx->home;
    }
}


/* X-Kraken-Place: CHOICE[; down=A,B][; ask], padded: what it knows now */

void
ngx_http_upstream_kraken_place(ngx_http_upstream_kraken_ctx_t *ctx,
    ngx_http_upstream_rr_peers_t *peers, u_char *p)
{
    time_t                           now;
    ngx_str_t                       *choice;
    ngx_uint_t                       i;
    ngx_http_upstream_rr_peer_t     *peer;
    ngx_kraken_cluster_place_out_t   out;

    now = ngx_time();
    choice = NULL;

    for (peer = peers->peer, i = 0; peer; peer = peer->next, i++) {
        if ((ngx_int_t) i == ctx->choice) {
            choice = &peer->name;
        }
    }

    ngx_kraken_cluster_place_start(&out, p, NGX_KRAKEN_PLACE_LEN, choice);

    for (peer = peers->peer; peer; peer = peer->next) {

        if (ngx_http_upstream_kraken_usable(peer, now) == NGX_OK) {
            continue;
        }

        if (ngx_kraken_cluster_place_down(&out, &peer->name) != NGX_OK) {
            break;
        }
    }

    /* an owner a record named that is none of this front's servers */
    if (ctx->stranger.len) {
        (void) ngx_kraken_cluster_place_down(&out, &ctx->stranger);
    }

    ngx_kraken_cluster_place_end(&out, ctx->ask);
}


/*
 * The headroom of an engine, in millionths: what is left of the scarcest
 * of its CPU (percent of its workers' cores), its peers and its rooms
 * (against its bounds), the rooms this front placed there since its
 * figures counted as one room and one peer each. A bound reached, or a
 * refusal by one (X-Kraken-Busy) in the last 10 s: none. An engine not
 * heard from counts as idle.
 */

static ngx_uint_t
ngx_http_upstream_kraken_headroom(ngx_http_upstream_kraken_figures_t *f,
    time_t now)
{
    uint64_t    used, load;
    ngx_uint_t  n;

    if (f->busy_until > now) {
        return 0;
    }

    load = (uint64_t) f->cpu * (NGX_KRAKEN_BALANCE_FULL / 100);

    if (f->peers_max) {
        n = f->peers + f->placing;
        used = n >= f->peers_max
               ? NGX_KRAKEN_BALANCE_FULL
               : (uint64_t) n * NGX_KRAKEN_BALANCE_FULL / f->peers_max;
        load = ngx_max(load, used);
    }

    if (f->rooms_max) {
        n = f->rooms + f->placing;
        used = n >= f->rooms_max
               ? NGX_KRAKEN_BALANCE_FULL
               : (uint64_t) n * NGX_KRAKEN_BALANCE_FULL / f->rooms_max;
        load = ngx_max(load, used);
    }

    return load >= NGX_KRAKEN_BALANCE_FULL
           ? 0 : NGX_KRAKEN_BALANCE_FULL - (ngx_uint_t) load;
}


/* an engine's figures in the zone, anew when its slot named another */

ngx_http_upstream_kraken_figures_t *
ngx_http_upstream_kraken_figures(ngx_http_upstream_kraken_shctx_t *sh,
    ngx_uint_t i, ngx_http_upstream_rr_peer_t *peer)
{
    uint32_t                             hash;
    ngx_http_upstream_kraken_figures_t  *f;

    f = &sh->figures[i];
    hash = ngx_crc32_short(peer->name.data, peer->name.len);

    if (f->name_hash != hash) {
        ngx_memzero(f, sizeof(ngx_http_upstream_kraken_figures_t));
        f->name_hash = hash;
    }

    return f;
}


/*
 * The new room of this call counts on engine index (-1: on none now)
 * until the engine's figures count it or the call ends. Zone locked.
 */

void
ngx_http_upstream_kraken_placing(ngx_http_upstream_kraken_ctx_t *ctx,
    ngx_http_upstream_kraken_shctx_t *sh, ngx_int_t index)
{
    if (ctx->placing >= 0) {
        if (sh->figures[ctx->placing].placing) {
            sh->figures[ctx->placing].placing--;
        }

        ctx->placing = -1;
    }

    if (index >= 0 && index < NGX_KRAKEN_BALANCE_PEERS) {
        /* choose() named it: its slot is this engine's */
        sh->figures[index].placing++;
        ctx->placing = index;
    }
}


/* the call ends: a placement still counted is no more */

static void
ngx_http_upstream_kraken_cleanup(void *data)
{
    ngx_http_upstream_kraken_ctx_t *ctx = data;

    ngx_slab_pool_t  *shpool;

    if (ctx->placing < 0 || ctx->zone == NULL) {
        return;
    }

    shpool = (ngx_slab_pool_t *) ctx->zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);
    ngx_http_upstream_kraken_placing(ctx, ctx->zone->data, -1);
    ngx_shmtx_unlock(&shpool->mutex);
}


/* as round robin judges a peer, without taking it */

ngx_int_t
ngx_http_upstream_kraken_usable(ngx_http_upstream_rr_peer_t *peer,
    time_t now)
{
    if (peer->down) {
        return NGX_DECLINED;
    }

    if (peer->max_fails
        && peer->fails >= peer->max_fails
        && now - peer->checked <= peer->fail_timeout)
    {
        return NGX_DECLINED;
    }

    if (peer->max_conns && peer->conns >= peer->max_conns) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_upstream_kraken_peer_index(ngx_http_upstream_rr_peers_t *peers,
    u_char *name, size_t len)
{
    ngx_uint_t                    i;
    ngx_http_upstream_rr_peer_t  *peer;

    for (peer = peers->peer, i = 0; peer; peer = peer->next, i++) {
        if (peer->name.len == len
            && ngx_strncmp(peer->name.data, name, len) == 0)
        {
            return i;
        }
    }

    return -1;
}


/* rendezvous hashing: every front ranks the engines the same way */

uint32_t
ngx_http_upstream_kraken_score(ngx_str_t *room, ngx_str_t *name)
{
    uint32_t  crc;

    ngx_crc32_init(crc);
    ngx_crc32_update(&crc, room->data, room->len);
    ngx_crc32_update(&crc, (u_char *) "\0", 1);
    ngx_crc32_update(&crc, name->data, name->len);
    ngx_crc32_final(crc);

    /* mix, so that names alike do not rank alike */
    crc ^= crc >> 16;
    crc *= 0x85ebca6b;
    crc ^= crc >> 13;

    return crc;
}
