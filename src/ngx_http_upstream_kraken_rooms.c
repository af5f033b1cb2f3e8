
/*
 * Copyright (C) ngx_kraken authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_upstream_kraken.h"


/*
 * The rooms a front knows, in the shared zone of its workers: room ->
 * the engine it lives on, in a red-black tree by the room's CRC32 and in
 * a queue from the most to the least recently named. A room no call
 * named for NGX_KRAKEN_BALANCE_IDLE goes when a room is added; a full
 * zone gives way the least recently used room. The figures of the
 * engines (ngx_http_upstream_kraken_plan.c) share the zone and its lock.
 */


ngx_int_t
ngx_http_upstream_kraken_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_http_upstream_kraken_shctx_t  *octx = data;

    ngx_slab_pool_t                   *shpool;
    ngx_http_upstream_kraken_shctx_t  *sh;

    if (octx) {
        zone->data = octx;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        zone->data = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_upstream_kraken_shctx_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    ngx_rbtree_init(&sh->rbtree, &sh->sentinel, ngx_str_rbtree_insert_value);
    ngx_queue_init(&sh->lru);

    /* a full zone evicts the least recently used room, it is not crit */
    shpool->log_nomem = 0;
    shpool->data = sh;
    zone->data = sh;

    return NGX_OK;
}


/* a room's record, or NULL; the zone locked */

ngx_http_upstream_kraken_room_t *
ngx_http_upstream_kraken_lookup(ngx_http_upstream_kraken_shctx_t *sh,
    ngx_str_t *room, uint32_t hash)
{
    return (ngx_http_upstream_kraken_room_t *)
               ngx_str_rbtree_lookup(&sh->rbtree, room, hash);
}


/* an engine said the room lives on owner: its record, most recent */

void
ngx_http_upstream_kraken_remember(ngx_http_upstream_kraken_srv_conf_t *kcf,
    ngx_str_t *room, ngx_str_t *owner)
{
    time_t                             now;
    uint32_t                           hash;
    ngx_uint_t                         n;
    ngx_queue_t                       *q;
    ngx_slab_pool_t                   *shpool;
    ngx_http_upstream_kraken_room_t   *rn;
    ngx_http_upstream_kraken_shctx_t  *sh;

    if (kcf->zone == NULL || owner->len > NGX_KRAKEN_NAME_LEN) {
        return;
    }

    shpool = (ngx_slab_pool_t *) kcf->zone->shm.addr;
    sh = kcf->zone->data;
    hash = ngx_crc32_long(room->data, room->len);
    now = ngx_time();

    ngx_shmtx_lock(&shpool->mutex);

    rn = ngx_http_upstream_kraken_lookup(sh, room, hash);

    if (rn == NULL) {
        /* the rooms no call named for a while, and room for one more */
        for (n = 0; n < 4 && !ngx_queue_empty(&sh->lru); n++) {
            q = ngx_queue_last(&sh->lru);
            rn = ngx_queue_data(q, ngx_http_upstream_kraken_room_t, queue);

            if (now - rn->used < NGX_KRAKEN_BALANCE_IDLE) {
                break;
            }

            ngx_queue_remove(q);
            ngx_rbtree_delete(&sh->rbtree, &rn->sn.node);
            ngx_slab_free_locked(shpool, rn);
        }

        rn = ngx_slab_alloc_locked(shpool,
                                   sizeof(ngx_http_upstream_kraken_room_t)
                                   + room->len);

        if (rn == NULL && !ngx_queue_empty(&sh->lru)) {
            /* full: the least recently used gives way */
            q = ngx_queue_last(&sh->lru);
            rn = ngx_queue_data(q, ngx_http_upstream_kraken_room_t, queue);
            ngx_queue_remove(q);
            ngx_rbtree_delete(&sh->rbtree, &rn->sn.node);
            ngx_slab_free_locked(shpool, rn);

            rn = ngx_slab_alloc_locked(shpool,
                                      sizeof(ngx_http_upstream_kraken_room_t)
                                      + room->len);
        }

        if (rn == NULL) {
            ngx_shmtx_unlock(&shpool->mutex);
            return;
        }

        ngx_memcpy(rn->data, room->data, room->len);
        rn->sn.str.data = rn->data;
        rn->sn.str.len = room->len;
        rn->sn.node.key = hash;
        ngx_rbtree_insert(&sh->rbtree, &rn->sn.node);

    } else {
        ngx_queue_remove(&rn->queue);
    }

    ngx_memcpy(rn->owner, owner->data, owner->len);
    rn->owner_len = (u_char) owner->len;
    rn->used = now;
    ngx_queue_insert_head(&sh->lru, &rn->queue);

    ngx_shmtx_unlock(&shpool->mutex);
}


/* the engine failed: the room is placed anew when its clients rejoin */

void
ngx_http_upstream_kraken_forget(ngx_http_upstream_kraken_srv_conf_t *kcf,
    ngx_str_t *room, ngx_str_t *owner)
{
    ngx_slab_pool_t                   *shpool;
    ngx_http_upstream_kraken_room_t   *rn;
    ngx_http_upstream_kraken_shctx_t  *sh;

    if (kcf->zone == NULL) {
        return;
    }

    shpool = (ngx_slab_pool_t *) kcf->zone->shm.addr;
    sh = kcf->zone->data;

    ngx_shmtx_lock(&shpool->mutex);

    rn = ngx_http_upstream_kraken_lookup(sh, room,
                                         ngx_crc32_long(room->data,
                                                        room->len));

    if (rn && rn->owner_len == owner->len
        && ngx_strncmp(rn->owner, owner->data, owner->len) == 0)
    {
        ngx_queue_remove(&rn->queue);
        ngx_rbtree_delete(&sh->rbtree, &rn->sn.node);
        ngx_slab_free_locked(shpool, rn);
    }

    ngx_shmtx_unlock(&shpool->mutex);
}
