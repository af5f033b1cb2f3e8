
/*
 * Copyright (C) ngx_kraken authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/rand.h>

#include "ngx_kraken_registry_int.h"


/*
 * The registry's zone: made at configuration, found again on a reload
 * (one generation more), its tables' heads laid out once; and the lock,
 * the slab pool's, that every table's file takes. The tables live in
 * files of their own (ngx_kraken_registry.h) and call this one; it calls
 * none of them.
 */


typedef struct {
    ngx_cycle_t              *cycle;
    ngx_shm_zone_t           *zone;
} ngx_kraken_registry_conf_t;


static ngx_int_t ngx_kraken_registry_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_kraken_registry_init_tables(ngx_shm_zone_t *shm_zone,
    ngx_slab_pool_t *shpool, ngx_kraken_shctx_t *ctx);


static ngx_kraken_registry_conf_t  *ngx_kraken_registry_conf;

ngx_kraken_shctx_t   *ngx_kraken_sh;
ngx_slab_pool_t      *ngx_kraken_shpool;
ngx_uint_t            ngx_kraken_self_slot = NGX_KRAKEN_MAX_SLOTS;
ngx_uint_t            ngx_kraken_generation;


ngx_int_t
ngx_kraken_registry_add_zone(ngx_conf_t *cf, size_t size)
{
    ngx_str_t                    name = ngx_string("ngx_kraken");
    ngx_shm_zone_t              *zone;
    ngx_kraken_registry_conf_t  *rcf;

    rcf = ngx_pcalloc(cf->pool, sizeof(ngx_kraken_registry_conf_t));
    if (rcf == NULL) {
        return NGX_ERROR;
    }

    zone = ngx_shared_memory_add(cf, &name, size, &ngx_kraken_registry_conf);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    rcf->cycle = cf->cycle;
    rcf->zone = zone;

    zone->init = ngx_kraken_registry_init_zone;
    zone->data = rcf;
    zone->noreuse = 0;

    ngx_kraken_registry_conf = rcf;

    return NGX_OK;
}


ngx_shm_zone_t *
ngx_kraken_registry_zone(void)
{
    return ngx_kraken_registry_conf ? ngx_kraken_registry_conf->zone : NULL;
}


static ngx_int_t
ngx_kraken_registry_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_kraken_shctx_t  *octx = data;

    ngx_slab_pool_t     *shpool;
    ngx_kraken_shctx_t  *ctx;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (octx) {
        /* a reload: the same memory, one generation more */
        ctx = octx;
        ctx->generation++;
        goto done;
    }

    if (shm_zone->shm.exists) {
        ctx = shpool->data;
        goto done;
    }

    ctx = ngx_slab_alloc(shpool, sizeof(ngx_kraken_shctx_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(ctx, sizeof(ngx_kraken_shctx_t));
    ctx->generation = 1;

    /* what proves a handed-over datagram came from one of our workers */
    if (RAND_bytes(ctx->token, NGX_KRAKEN_TOKEN_LEN) != 1) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "kraken: RAND_bytes() failed");
        return NGX_ERROR;
    }

    if (ngx_kraken_registry_init_tables(shm_zone, shpool, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    /* a full zone is a refused room (ngx_kraken_rooms.c), not crit */
    shpool->log_nomem = 0;
    shpool->data = ctx;

done:

    shm_zone->data = ctx;
    ngx_kraken_sh = ctx;
    ngx_kraken_shpool = shpool;
    ngx_kraken_generation = ctx->generation;

    return NGX_OK;
}


ngx_uint_t
ngx_kraken_registry_alive(ngx_kraken_slot_t *s)
{
    if (s->pid == 0) {
        return 0;
    }

    return kill(s->pid, 0) == 0 || ngx_errno == NGX_EPERM;
}


/*
 * The tables' heads, in a new zone: the client addresses take a power of
 * two near an eighth of it, placement records at most another eighth,
 * and rooms what is left.
 */

static ngx_int_t
ngx_kraken_registry_init_tables(ngx_shm_zone_t *shm_zone,
    ngx_slab_pool_t *shpool, ngx_kraken_shctx_t *ctx)
{
    ngx_uint_t  i, n, pages;

    for (i = 0; i < NGX_KRAKEN_MAX_SLOTS; i++) {
        ngx_queue_init(&ctx->slots[i].rooms);
    }

    ngx_rbtree_init(&ctx->rbtree, &ctx->sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_rbtree_init(&ctx->places, &ctx->places_sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&ctx->places_lru);
    ctx->max_places = shm_zone->shm.size / 8 / NGX_KRAKEN_PLACE_SIZE;

    n = shm_zone->shm.size / 8 / sizeof(ngx_kraken_addr_entry_t);
    for (i = 1024; i * 2 <= n; i *= 2) { /* void */ }

    ctx->addrs = ngx_slab_calloc(shpool, i * sizeof(ngx_kraken_addr_entry_t));
    if (ctx->addrs == NULL) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "kraken: kraken_shm_size is too small");
        return NGX_ERROR;
    }

    ctx->addrs_mask = i - 1;

    /* the free pages, less some for partly used pages of each size class */
    pages = shpool->pfree > 8 ? shpool->pfree - 8 : 0;
    ctx->max_rooms = pages * (ngx_pagesize / NGX_KRAKEN_ROOM_SIZE);

    return NGX_OK;
}


u_char *
ngx_kraken_registry_token(void)
{
    return ngx_kraken_sh ? ngx_kraken_sh->token : NULL;
}
