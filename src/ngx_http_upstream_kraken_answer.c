
/*
 * Copyright (C) ngx_kraken authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_upstream_kraken.h"


/*
 * What an engine's answer tells a front (ngx_kraken_cluster.h): its load
 * (X-Kraken-Load) and whether one of its bounds refused the call
 * (X-Kraken-Busy), kept in the zone as its figures; for a call of a
 * room, where the room lives: here (X-Kraken-Room), elsewhere (a 404
 * with X-Kraken-Owner, which the next try follows), or not here.
 */


static void ngx_http_upstream_kraken_answer_figures(
    ngx_http_upstream_kraken_peer_data_t *kp, ngx_uint_t index);
static void ngx_http_upstream_kraken_answer_owner(
    ngx_http_upstream_kraken_peer_data_t *kp, ngx_str_t *value);
static ngx_table_elt_t *ngx_http_upstream_kraken_header(ngx_list_t *list,
    char *name);


void
ngx_http_upstream_kraken_answer(ngx_http_upstream_kraken_peer_data_t *kp,
    ngx_uint_t index)
{
    ngx_table_elt_t                 *h;
    ngx_http_upstream_t             *u;
    ngx_http_upstream_kraken_ctx_t  *ctx;

    u = kp->request->upstream;
    ctx = kp->ctx;

    if (kp->conf->zone && index < NGX_KRAKEN_BALANCE_PEERS) {
        ngx_http_upstream_kraken_answer_figures(kp, index);
    }

    if (ctx == NULL || ctx->room.len == 0) {
        return;
    }

    h = ngx_http_upstream_kraken_header(&u->headers_in.headers,
                                        NGX_KRAKEN_HEADER_OWNER);

    if (h && u->headers_in.status_n == NGX_HTTP_NOT_FOUND) {
        ngx_http_upstream_kraken_answer_owner(kp, &h->value);
        return;
    }

    if (u->headers_in.status_n != NGX_HTTP_OK) {
        return;
    }

    /* the engine says whether it holds the room now */
    if (ngx_http_upstream_kraken_header(&u->headers_in.headers,
                                        NGX_KRAKEN_HEADER_ROOM))
    {
        ngx_http_upstream_kraken_remember(kp->conf, &ctx->room,
                                          &kp->rrp.current->name);

    } else {
        ngx_http_upstream_kraken_forget(kp->conf, &ctx->room,
                                        &kp->rrp.current->name);
    }
}


/* the engine's figures, of peer index in the zone */

static void
ngx_http_upstream_kraken_answer_figures(
    ngx_http_upstream_kraken_peer_data_t *kp, ngx_uint_t index)
{
    time_t                               now;
    ngx_table_elt_t                     *h, *busy;
    ngx_slab_pool_t                     *shpool;
    ngx_http_upstream_t                 *u;
    ngx_kraken_cluster_load_t            load;
    ngx_http_upstream_kraken_ctx_t      *ctx;
    ngx_http_upstream_kraken_shctx_t    *sh;
    ngx_http_upstream_kraken_figures_t  *f;

    u = kp->request->upstream;
    ctx = kp->ctx;
    now = ngx_time();

    shpool = (ngx_slab_pool_t *) kp->conf->zone->shm.addr;
    sh = kp->conf->zone->data;

    h = ngx_http_upstream_kraken_header(&u->headers_in.headers,
                                        NGX_KRAKEN_HEADER_LOAD);
    busy = ngx_http_upstream_kraken_header(&u->headers_in.headers,
                                           NGX_KRAKEN_HEADER_BUSY);

    if (h) {
        ngx_kraken_cluster_load_parse(&h->value, &load);
    }

    ngx_shmtx_lock(&shpool->mutex);

    f = ngx_http_upstream_kraken_figures(sh, index, kp->rrp.current);

    if (h) {
        f->cpu = ngx_min(load.cpu, 100);
        f->peers = load.peers;
        f->peers_max = load.peers_max;
        f->rooms = load.rooms;
        f->rooms_max = load.rooms_max;
        f->updated = now;

        /* its figures count the room this call placed there now */
        if (ctx && ctx->placing == (ngx_int_t) index
            && u->headers_in.status_n == NGX_HTTP_OK)
        {
            ngx_http_upstream_kraken_placing(ctx, sh, -1);
        }
    }

    /*
     * Only the engine's own word that a bound of its own refused the
     * call: a client's error (5003000 for a malformed fingerprint) says
     * nothing of its load.
     */
    if (busy) {
        f->busy_until = now + NGX_KRAKEN_BALANCE_BUSY;
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


/* a 404 from the room's home: X-Kraken-Owner names where the room lives */

static void
ngx_http_upstream_kraken_answer_owner(
    ngx_http_upstream_kraken_peer_data_t *kp, ngx_str_t *value)
{
    ngx_int_t                        owner;
    ngx_str_t                        name;
    ngx_http_upstream_kraken_ctx_t  *ctx;

    ctx = kp->ctx;

    owner = ngx_http_upstream_kraken_peer_index(kp->rrp.peers, value->data,
                                                value->len);
    if (owner < 0) {
        /*
         * A record naming an engine that is not one of this front's
         * servers: that engine is as good as down. The room is placed
         * anew, the stranger named down (once).
         */
        if (ctx->stranger.len == 0
            && ngx_kraken_cluster_owner_parse(value, &name) == NGX_OK)
        {
            ctx->stranger.data = ngx_pnalloc(kp->request->pool, name.len);
            if (ctx->stranger.data) {
                ngx_memcpy(ctx->stranger.data, name.data, name.len);
                ctx->stranger.len = name.len;
                ctx->placed = 0;
            }
        }

        ngx_log_error(NGX_LOG_WARN, kp->request->connection->log, 0,
                      "kraken balance: %V says room \"%V\" is on \"%V\", "
                      "not a server of this upstream: placed anew",
                      &kp->rrp.current->name, &ctx->room, value);
        return;
    }

    /* the room's home says where it lives: the next try goes there */
    ctx->redirect.data = ngx_pnalloc(kp->request->pool, value->len);
    if (ctx->redirect.data) {
        ngx_memcpy(ctx->redirect.data, value->data, value->len);
        ctx->redirect.len = value->len;
        ngx_http_upstream_kraken_remember(kp->conf, &ctx->room,
                                          &ctx->redirect);
    }
}


static ngx_table_elt_t *
ngx_http_upstream_kraken_header(ngx_list_t *list, char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);
    part = &list->part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash && h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }

    return NULL;
}
