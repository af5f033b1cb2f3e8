
/*
 * Copyright (C) ngx_kraken authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/rand.h>

#include "ngx_kraken_registry.h"


/*
 * A room's node takes at most this much of the zone: the node and a
 * 256-byte id, rounded up to the slab's size class.
 */
#define NGX_KRAKEN_ROOM_SIZE   512

/* at most one line a minute about refused rooms, per worker */
#define NGX_KRAKEN_FULL_LOG    60

/* info lists at most this many of a worker's rooms */
#define NGX_KRAKEN_INFO_ROOMS  100

/*
 * A placement record takes at most this much of the zone (the node, a
 * 256-byte id and a 64-byte name); records take at most an eighth of
 * the zone, and one not read for an hour goes.
 */
#define NGX_KRAKEN_PLACE_SIZE    512
#define NGX_KRAKEN_PLACE_EXPIRE  3600


/*
 * The registry lives in shared memory and survives reloads: the workers
 * of every generation, and which worker holds each room, so an RPC that
 * lands anywhere reaches the room's only owner.
 */

typedef struct {
    ngx_pid_t                 pid;
    ngx_uint_t                epoch;
    ngx_uint_t                generation;
    ngx_uint_t                worker;           /* ngx_worker */
    ngx_uint_t                nworkers;         /* of its generation */
    in_port_t                 port;
    in_port_t                 handoff;          /* 0: takes none */
    size_t                    ipc_len;          /* 0: not listening */
    u_char                    ipc[NGX_KRAKEN_IPC_NAME_LEN];
    kraken_engine_stats_t     stats;
    ngx_kraken_media_stats_t  mstats;
    ngx_kraken_rpc_stats_t   *rpc;              /* the slot's, whoever holds
                                                   it; NULL: zone full */
    ngx_queue_t               rooms;            /* its room nodes */
    ngx_uint_t                nrooms;
    ngx_uint_t                naddrs;           /* client addresses it owns */
} ngx_kraken_slot_t;


typedef struct {
    ngx_str_node_t            sn;
    ngx_queue_t               queue;            /* of its slot's rooms */
    ngx_uint_t                slot;
    ngx_uint_t                epoch;
    u_char                    data[1];
} ngx_kraken_room_node_t;


/*
 * kraken_placement: which engine a front placed a room on, as the fronts
 * name it, for rooms no worker here holds. Newest read first.
 */
typedef struct {
    ngx_str_node_t            sn;
    ngx_queue_t               queue;
    time_t                    read;
    size_t                    owner_len;
    u_char                    owner[NGX_KRAKEN_PLACE_NAME_LEN];
    u_char                    data[1];
} ngx_kraken_place_node_t;


/*
 * Which slot admitted a client address: an open-addressing table with
 * linear probing, and deletion by shifting back (no tombstones), so that
 * a worker that receives another worker's datagram finds its owner.
 *
 * Never last writer wins (ngx_kraken_registry_addr_event): an entry
 * names its owner (slot and the slot's epoch), and whether the owner's
 * peer proved the address with its keys. Another worker takes a live
 * entry only with keys over a mere check; only the owner deletes it.
 * The key, hashed and compared, is what follows "epoch".
 */
typedef struct {
    uint16_t                  slot;             /* + 1; 0: empty */
    uint8_t                   proven;
    uint8_t                   pad0;
    uint32_t                  epoch;            /* the owner slot's */
    uint16_t                  port;
    uint8_t                   family;
    uint8_t                   pad[1];
    uint8_t                   addr[16];
} ngx_kraken_addr_entry_t;


typedef struct {
    ngx_rbtree_t              rbtree;
    ngx_rbtree_node_t         sentinel;
    u_char                    token[NGX_KRAKEN_TOKEN_LEN];
    ngx_kraken_addr_entry_t  *addrs;
    ngx_uint_t                addrs_mask;       /* capacity - 1 */
    ngx_uint_t                naddrs;
    ngx_uint_t                generation;
    ngx_uint_t                nrooms;
    ngx_uint_t                max_rooms;        /* what the zone holds */
    ngx_rbtree_t              places;
    ngx_rbtree_node_t         places_sentinel;
    ngx_queue_t               places_lru;
    ngx_uint_t                nplaces;
    ngx_uint_t                max_places;
    ngx_kraken_slot_t         slots[NGX_KRAKEN_MAX_SLOTS];
} ngx_kraken_shctx_t;


typedef struct {
    ngx_cycle_t              *cycle;
    ngx_shm_zone_t           *zone;
} ngx_kraken_registry_conf_t;


static ngx_int_t ngx_kraken_registry_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_uint_t ngx_kraken_registry_alive(ngx_kraken_slot_t *s);
static void ngx_kraken_registry_purge(ngx_kraken_shctx_t *ctx,
    ngx_slab_pool_t *shpool, ngx_uint_t slot);
static ngx_int_t ngx_kraken_registry_insert_locked(const char *rid);
static void ngx_kraken_registry_delete_locked(ngx_kraken_room_node_t *rn);
static void ngx_kraken_registry_full(const char *why);
static ngx_int_t ngx_kraken_registry_holds_locked(ngx_str_t *name,
    uint32_t hash);
static void ngx_kraken_place_set(ngx_kraken_place_node_t *pn,
    ngx_str_t *owner);
static ngx_int_t ngx_kraken_place_evict_locked(void);
static void ngx_kraken_place_delete_locked(ngx_kraken_place_node_t *pn);
static ngx_int_t ngx_kraken_addr_key(ngx_kraken_addr_entry_t *key,
    struct sockaddr *sa, socklen_t len);
static ngx_uint_t ngx_kraken_addr_hash(ngx_kraken_addr_entry_t *key);
static ngx_int_t ngx_kraken_addr_find_locked(ngx_kraken_addr_entry_t *key,
    ngx_uint_t *index);
static void ngx_kraken_addr_delete_locked(ngx_uint_t i);
static ngx_uint_t ngx_kraken_addr_owner_gone_locked(
    ngx_kraken_addr_entry_t *e);
static void ngx_kraken_addr_purge_locked(ngx_uint_t slot);
static void ngx_kraken_counters_add(kraken_engine_counters_t *sum,
    const kraken_engine_counters_t *c);
static void ngx_kraken_counters_json(cJSON *o,
    const kraken_engine_counters_t *c);


static ngx_kraken_registry_conf_t  *ngx_kraken_registry_conf;
static ngx_kraken_shctx_t          *ngx_kraken_sh;
static ngx_slab_pool_t             *ngx_kraken_shpool;
static ngx_uint_t                   ngx_kraken_slot = NGX_KRAKEN_MAX_SLOTS;
static ngx_uint_t                   ngx_kraken_generation;
static time_t                       ngx_kraken_full_logged;
static time_t                       ngx_kraken_addrs_logged;


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

    ngx_uint_t           i, n, pages;
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
    ngx_rbtree_init(&ctx->rbtree, &ctx->sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_rbtree_init(&ctx->places, &ctx->places_sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&ctx->places_lru);
    ctx->max_places = shm_zone->shm.size / 8 / NGX_KRAKEN_PLACE_SIZE;
    ctx->generation = 1;

    /* what proves a handed-over datagram came from one of our workers */
    if (RAND_bytes(ctx->token, NGX_KRAKEN_TOKEN_LEN) != 1) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "kraken: RAND_bytes() failed");
        return NGX_ERROR;
    }

    /* client addresses: a power of two near an eighth of the zone */
    n = shm_zone->shm.size / 8 / sizeof(ngx_kraken_addr_entry_t);
    for (i = 1024; i * 2 <= n; i *= 2) { /* void */ }

    ctx->addrs = ngx_slab_calloc(shpool, i * sizeof(ngx_kraken_addr_entry_t));
    if (ctx->addrs == NULL) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "kraken: kraken_shm_size is too small");
        return NGX_ERROR;
    }

    ctx->addrs_mask = i - 1;

    for (i = 0; i < NGX_KRAKEN_MAX_SLOTS; i++) {
        ngx_queue_init(&ctx->slots[i].rooms);
    }

    /* the free pages, less some for partly used pages of each size class */
    pages = shpool->pfree > 8 ? shpool->pfree - 8 : 0;
    ctx->max_rooms = pages * (ngx_pagesize / NGX_KRAKEN_ROOM_SIZE);

    /* a full zone is a refused room (ngx_kraken_registry_full), not crit */
    shpool->log_nomem = 0;
    shpool->data = ctx;

done:

    shm_zone->data = ctx;
    ngx_kraken_sh = ctx;
    ngx_kraken_shpool = shpool;
    ngx_kraken_generation = ctx->generation;

    return NGX_OK;
}


static ngx_uint_t
ngx_kraken_registry_alive(ngx_kraken_slot_t *s)
{
    if (s->pid == 0) {
        return 0;
    }

    return kill(s->pid, 0) == 0 || ngx_errno == NGX_EPERM;
}


ngx_int_t
ngx_kraken_registry_join(ngx_cycle_t *cycle, ngx_uint_t *slot)
{
    ngx_uint_t               i, want, n;
    ngx_core_conf_t         *ccf;
    ngx_kraken_slot_t       *s;
    ngx_kraken_rpc_stats_t  *rpc;

    if (ngx_kraken_sh == NULL) {
        return NGX_ERROR;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);
    n = ccf->worker_processes;

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);

    /*
     * Worker k prefers slot k, then k + n, ...: ports stay predictable,
     * and a worker respawned after a crash takes the dead one's slot.
     */
    for (want = ngx_worker; want < NGX_KRAKEN_MAX_SLOTS; want += n) {
        if (!ngx_kraken_registry_alive(&ngx_kraken_sh->slots[want])) {
            goto found;
        }
    }

    for (want = 0; want < NGX_KRAKEN_MAX_SLOTS; want++) {
        if (!ngx_kraken_registry_alive(&ngx_kraken_sh->slots[want])) {
            goto found;
        }
    }

    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

    ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                  "kraken: no free worker slot of %d",
                  NGX_KRAKEN_MAX_SLOTS);
    return NGX_ERROR;

found:

    /* whatever the previous holder had is gone with it */
    ngx_kraken_registry_purge(ngx_kraken_sh, ngx_kraken_shpool, want);
    ngx_kraken_addr_purge_locked(want);

    s = &ngx_kraken_sh->slots[want];
    i = s->epoch + 1;

    /* the RPC figures take zone memory only for slots that were used */
    rpc = s->rpc;

    if (rpc) {
        ngx_memzero(rpc, sizeof(ngx_kraken_rpc_stats_t));

    } else {
        rpc = ngx_slab_calloc_locked(ngx_kraken_shpool,
                                     sizeof(ngx_kraken_rpc_stats_t));
    }

    ngx_memzero(s, sizeof(ngx_kraken_slot_t));
    ngx_queue_init(&s->rooms);
    s->epoch = i;
    s->rpc = rpc;
    s->pid = ngx_pid;
    s->generation = ngx_kraken_generation;
    s->worker = ngx_worker;
    s->nworkers = n;

    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

    ngx_kraken_slot = want;
    *slot = want;

    return NGX_OK;
}


void
ngx_kraken_registry_set_port(in_port_t port)
{
    if (ngx_kraken_slot < NGX_KRAKEN_MAX_SLOTS) {
        ngx_kraken_sh->slots[ngx_kraken_slot].port = port;
    }
}


void
ngx_kraken_registry_set_handoff(in_port_t port)
{
    if (ngx_kraken_slot < NGX_KRAKEN_MAX_SLOTS) {
        ngx_kraken_sh->slots[ngx_kraken_slot].handoff = port;
    }
}


/* The hand-over port of a live slot, 0 when it takes none. */

in_port_t
ngx_kraken_registry_handoff(ngx_uint_t slot)
{
    ngx_kraken_slot_t  *s;

    if (ngx_kraken_sh == NULL || slot >= NGX_KRAKEN_MAX_SLOTS) {
        return 0;
    }

    s = &ngx_kraken_sh->slots[slot];

    /* read without the lock: a port is written once, before use */
    return s->pid ? s->handoff : 0;
}


u_char *
ngx_kraken_registry_token(void)
{
    return ngx_kraken_sh ? ngx_kraken_sh->token : NULL;
}


void
ngx_kraken_registry_leave(void)
{
    ngx_kraken_slot_t  *s;

    if (ngx_kraken_slot >= NGX_KRAKEN_MAX_SLOTS) {
        return;
    }

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);

    s = &ngx_kraken_sh->slots[ngx_kraken_slot];

    if (s->pid == ngx_pid) {
        ngx_kraken_registry_purge(ngx_kraken_sh, ngx_kraken_shpool,
                                  ngx_kraken_slot);
        ngx_kraken_addr_purge_locked(ngx_kraken_slot);
        s->pid = 0;
    }

    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

    ngx_kraken_slot = NGX_KRAKEN_MAX_SLOTS;
}


/*
 * The master loads a configuration (and this zone's init counts one
 * generation more) before it forks the new workers and tells the old
 * ones to quit; on "nginx -s quit" it loads none.
 */

ngx_int_t
ngx_kraken_registry_successor(void)
{
    ngx_int_t           rc;
    ngx_uint_t          i;
    ngx_kraken_slot_t  *s;

    if (ngx_kraken_sh == NULL
        || ngx_kraken_sh->generation <= ngx_kraken_generation)
    {
        return NGX_DECLINED;
    }

    rc = NGX_AGAIN;

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);

    for (i = 0; i < NGX_KRAKEN_MAX_SLOTS; i++) {
        s = &ngx_kraken_sh->slots[i];

        if (s->generation > ngx_kraken_generation
            && ngx_kraken_registry_alive(s))
        {
            rc = NGX_OK;
            break;
        }
    }

    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

    return rc;
}


ngx_uint_t
ngx_kraken_registry_self(void)
{
    return ngx_kraken_slot;
}


void
ngx_kraken_registry_set_ipc(u_char *name, size_t len)
{
    ngx_kraken_slot_t  *s;

    if (ngx_kraken_slot >= NGX_KRAKEN_MAX_SLOTS
        || len > NGX_KRAKEN_IPC_NAME_LEN)
    {
        return;
    }

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);

    s = &ngx_kraken_sh->slots[ngx_kraken_slot];

    if (s->pid == ngx_pid) {
        ngx_memcpy(s->ipc, name, len);
        s->ipc_len = len;
    }

    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);
}


ngx_int_t
ngx_kraken_registry_ipc(ngx_uint_t slot, ngx_pid_t pid, u_char *name,
    size_t *len)
{
    ngx_int_t           rc;
    ngx_kraken_slot_t  *s;

    if (ngx_kraken_sh == NULL || slot >= NGX_KRAKEN_MAX_SLOTS) {
        return NGX_DECLINED;
    }

    rc = NGX_DECLINED;

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);

    s = &ngx_kraken_sh->slots[slot];

    if (s->pid == pid && s->ipc_len && s->ipc_len <= NGX_KRAKEN_IPC_NAME_LEN)
    {
        ngx_memcpy(name, s->ipc, s->ipc_len);
        *len = s->ipc_len;
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

    return rc;
}


static void
ngx_kraken_registry_purge(ngx_kraken_shctx_t *ctx, ngx_slab_pool_t *shpool,
    ngx_uint_t slot)
{
    ngx_queue_t             *q;
    ngx_kraken_room_node_t  *rn;

    /* the slot's own rooms only: no walk over the whole registry */
    while (!ngx_queue_empty(&ctx->slots[slot].rooms)) {
        q = ngx_queue_head(&ctx->slots[slot].rooms);
        rn = ngx_queue_data(q, ngx_kraken_room_node_t, queue);
        ngx_kraken_registry_delete_locked(rn);
    }
}


static void
ngx_kraken_registry_delete_locked(ngx_kraken_room_node_t *rn)
{
    ngx_rbtree_delete(&ngx_kraken_sh->rbtree, &rn->sn.node);
    ngx_queue_remove(&rn->queue);
    ngx_kraken_sh->slots[rn->slot].nrooms--;
    ngx_kraken_sh->nrooms--;
    ngx_slab_free_locked(ngx_kraken_shpool, rn);
}


ngx_int_t
ngx_kraken_registry_owner(u_char *room, size_t len, ngx_uint_t *slot,
    ngx_pid_t *pid)
{
    uint32_t                 hash;
    ngx_str_t                name;
    ngx_uint_t               i, want, gen, n;
    ngx_kraken_slot_t       *s;
    ngx_kraken_room_node_t  *rn;

    if (ngx_kraken_sh == NULL || ngx_kraken_slot >= NGX_KRAKEN_MAX_SLOTS) {
        return NGX_DECLINED;
    }

    name.data = room;
    name.len = len;
    hash = ngx_crc32_long(room, len);

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);

    rn = (ngx_kraken_room_node_t *) ngx_str_rbtree_lookup(
                                        &ngx_kraken_sh->rbtree, &name, hash);

    if (rn) {
        s = &ngx_kraken_sh->slots[rn->slot];

        if (s->epoch == rn->epoch && ngx_kraken_registry_alive(s)) {
            *slot = rn->slot;
            *pid = s->pid;
            ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);
            return NGX_OK;
        }
    }

    /* a new room: the newest generation's worker by hash */
    gen = 0;
    n = 0;

    for (i = 0; i < NGX_KRAKEN_MAX_SLOTS; i++) {
        s = &ngx_kraken_sh->slots[i];

        if (s->pid && s->generation > gen && ngx_kraken_registry_alive(s)) {
            gen = s->generation;
            n = s->nworkers;
        }
    }

    if (n == 0) {
        ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);
        return NGX_DECLINED;
    }

    want = hash % n;

    for (i = 0; i < NGX_KRAKEN_MAX_SLOTS; i++) {
        s = &ngx_kraken_sh->slots[i];

        if (s->generation == gen && s->worker == want
            && ngx_kraken_registry_alive(s))
        {
            goto found;
        }
    }

    /* that worker is being respawned: any of its generation will do */
    for (i = (hash / n) % NGX_KRAKEN_MAX_SLOTS, n = 0;
         n < NGX_KRAKEN_MAX_SLOTS;
         i = (i + 1) % NGX_KRAKEN_MAX_SLOTS, n++)
    {
        s = &ngx_kraken_sh->slots[i];

        if (s->generation == gen && ngx_kraken_registry_alive(s)) {
            goto found;
        }
    }

    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);
    return NGX_DECLINED;

found:

    *slot = i;
    *pid = s->pid;

    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

    return NGX_OK;
}


/* A worker holds the room: it is in the registry, its holder alive. */

ngx_int_t
ngx_kraken_registry_holds(u_char *room, size_t len)
{
    ngx_int_t  rc;
    ngx_str_t  name;

    if (ngx_kraken_sh == NULL) {
        return NGX_DECLINED;
    }

    name.data = room;
    name.len = len;

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);
    rc = ngx_kraken_registry_holds_locked(&name, ngx_crc32_long(room, len));
    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

    return rc;
}


static ngx_int_t
ngx_kraken_registry_holds_locked(ngx_str_t *name, uint32_t hash)
{
    ngx_kraken_slot_t       *s;
    ngx_kraken_room_node_t  *rn;

    rn = (ngx_kraken_room_node_t *) ngx_str_rbtree_lookup(
                                        &ngx_kraken_sh->rbtree, name, hash);

    if (rn == NULL) {
        return NGX_DECLINED;
    }

    s = &ngx_kraken_sh->slots[rn->slot];

    if (s->epoch == rn->epoch && ngx_kraken_registry_alive(s)) {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


/*
 * kraken_placement. A room no worker here holds goes where its record
 * says; the first front to name a room records its choice, and a record
 * naming an engine a front knows to be down takes that front's choice.
 * Records are read newest first: the oldest goes when the table is full,
 * and any not read for an hour.
 */

ngx_int_t
ngx_kraken_registry_place(u_char *room, size_t len, ngx_str_t *choice,
    ngx_str_t *down, ngx_uint_t ndown, ngx_uint_t ask, u_char *owner,
    size_t *owner_len)
{
    time_t                    now;
    uint32_t                  hash;
    ngx_str_t                 name;
    ngx_uint_t                i, n;
    ngx_queue_t              *q;
    ngx_kraken_place_node_t  *pn;

    if (ngx_kraken_sh == NULL || choice->len == 0
        || choice->len > NGX_KRAKEN_PLACE_NAME_LEN)
    {
        return NGX_DONE;
    }

    name.data = room;
    name.len = len;
    hash = ngx_crc32_long(room, len);
    now = ngx_time();

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);

    if (ngx_kraken_registry_holds_locked(&name, hash) == NGX_OK) {
        ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);
        return NGX_DONE;
    }

    /* at most two records that nobody read for an hour, oldest first */
    for (n = 0; n < 2 && !ngx_queue_empty(&ngx_kraken_sh->places_lru); n++) {
        q = ngx_queue_last(&ngx_kraken_sh->places_lru);
        pn = ngx_queue_data(q, ngx_kraken_place_node_t, queue);

        if (now - pn->read < NGX_KRAKEN_PLACE_EXPIRE) {
            break;
        }

        ngx_kraken_place_delete_locked(pn);
    }

    pn = (ngx_kraken_place_node_t *) ngx_str_rbtree_lookup(
                                         &ngx_kraken_sh->places, &name, hash);

    if (pn) {
        for (i = 0; i < ndown; i++) {
            if (down[i].len == pn->owner_len
                && ngx_memcmp(down[i].data, pn->owner, pn->owner_len) == 0)
            {
                if (ask) {
                    /* a record of a down engine tells nothing */
                    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);
                    return NGX_DECLINED;
                }

                ngx_kraken_place_set(pn, choice);
                break;
            }
        }

        ngx_queue_remove(&pn->queue);
        goto found;
    }

    if (ask) {
        ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);
        return NGX_DECLINED;
    }

    if (ngx_kraken_sh->nplaces >= ngx_kraken_sh->max_places) {
        ngx_kraken_place_evict_locked();
    }

    pn = ngx_slab_alloc_locked(ngx_kraken_shpool,
                               sizeof(ngx_kraken_place_node_t) + len);

    if (pn == NULL && ngx_kraken_place_evict_locked() == NGX_OK) {
        /* the rooms took the zone: the oldest record made way */
        pn = ngx_slab_alloc_locked(ngx_kraken_shpool,
                                   sizeof(ngx_kraken_place_node_t) + len);
    }

    if (pn == NULL) {
        /* no record: the choice stands for this call only */
        ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

        ngx_memcpy(owner, choice->data, choice->len);
        *owner_len = choice->len;

        return NGX_OK;
    }

    ngx_memcpy(pn->data, room, len);
    pn->sn.str.data = pn->data;
    pn->sn.str.len = len;
    pn->sn.node.key = hash;
    ngx_kraken_place_set(pn, choice);

    ngx_rbtree_insert(&ngx_kraken_sh->places, &pn->sn.node);
    ngx_kraken_sh->nplaces++;

found:

    pn->read = now;
    ngx_queue_insert_head(&ngx_kraken_sh->places_lru, &pn->queue);

    ngx_memcpy(owner, pn->owner, pn->owner_len);
    *owner_len = pn->owner_len;

    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

    return NGX_OK;
}


static void
ngx_kraken_place_set(ngx_kraken_place_node_t *pn, ngx_str_t *owner)
{
    ngx_memcpy(pn->owner, owner->data, owner->len);
    pn->owner_len = owner->len;
}


/* the record read longest ago goes: NGX_DECLINED when there is none */

static ngx_int_t
ngx_kraken_place_evict_locked(void)
{
    ngx_queue_t  *q;

    if (ngx_queue_empty(&ngx_kraken_sh->places_lru)) {
        return NGX_DECLINED;
    }

    q = ngx_queue_last(&ngx_kraken_sh->places_lru);
    ngx_kraken_place_delete_locked(ngx_queue_data(q, ngx_kraken_place_node_t,
                                                  queue));

    return NGX_OK;
}


static void
ngx_kraken_place_delete_locked(ngx_kraken_place_node_t *pn)
{
    ngx_rbtree_delete(&ngx_kraken_sh->places, &pn->sn.node);
    ngx_queue_remove(&pn->queue);
    ngx_kraken_sh->nplaces--;
    ngx_slab_free_locked(ngx_kraken_shpool, pn);
}


/*
 * A publish is about to create a room: it takes its place in the
 * registry now, or is refused (server busy) when the zone is full. Taken
 * under the lock, so that workers racing for the last places cannot all
 * have them; should the publish still fail, the place stays this
 * worker's, which any call for the room then reaches, until the room
 * comes and goes or the worker exits.
 */

int
ngx_kraken_registry_room_admit(void *data, const char *rid)
{
    ngx_int_t  rc;

    if (ngx_kraken_sh == NULL || ngx_kraken_slot >= NGX_KRAKEN_MAX_SLOTS) {
        return 0;
    }

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);
    rc = ngx_kraken_registry_insert_locked(rid);
    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

    if (rc == NGX_OK) {
        return 0;
    }

    ngx_kraken_registry_full("new rooms are refused");

    return -1;
}


void
ngx_kraken_registry_room_event(void *data, const char *rid, int created)
{
    ngx_int_t                rc;
    ngx_str_t                name;
    ngx_kraken_room_node_t  *rn;

    if (ngx_kraken_sh == NULL || ngx_kraken_slot >= NGX_KRAKEN_MAX_SLOTS) {
        return;
    }

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);

    if (created) {
        /* admitted already, unless the engine runs without admission */
        rc = ngx_kraken_registry_insert_locked(rid);
        ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

        if (rc != NGX_OK) {
            ngx_kraken_registry_full("a new room is reached only through "
                                     "its hash");
        }

        return;
    }

    name.data = (u_char *) rid;
    name.len = ngx_strlen(rid);

    rn = (ngx_kraken_room_node_t *) ngx_str_rbtree_lookup(
                                        &ngx_kraken_sh->rbtree, &name,
                                        ngx_crc32_long(name.data, name.len));

    if (rn && rn->slot == ngx_kraken_slot) {
        ngx_kraken_registry_delete_locked(rn);
    }

    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);
}


/* rid is this worker's room: NGX_OK, or NGX_DECLINED when it has no place */

static ngx_int_t
ngx_kraken_registry_insert_locked(const char *rid)
{
    size_t                   len;
    uint32_t                 hash;
    ngx_str_t                name;
    ngx_kraken_slot_t       *s;
    ngx_kraken_room_node_t  *rn;

    len = ngx_strlen(rid);
    name.data = (u_char *) rid;
    name.len = len;
    hash = ngx_crc32_long((u_char *) rid, len);

    s = &ngx_kraken_sh->slots[ngx_kraken_slot];

    rn = (ngx_kraken_room_node_t *) ngx_str_rbtree_lookup(
                                        &ngx_kraken_sh->rbtree, &name, hash);

    if (rn) {
        if (rn->slot != ngx_kraken_slot) {
            /* a stale entry of a dead worker: the room is ours now */
            ngx_queue_remove(&rn->queue);
            ngx_kraken_sh->slots[rn->slot].nrooms--;
            ngx_queue_insert_tail(&s->rooms, &rn->queue);
            s->nrooms++;
            rn->slot = ngx_kraken_slot;
        }

        rn->epoch = s->epoch;

        return NGX_OK;
    }

    if (ngx_kraken_sh->nrooms >= ngx_kraken_sh->max_rooms) {
        return NGX_DECLINED;
    }

    rn = ngx_slab_alloc_locked(ngx_kraken_shpool,
                               sizeof(ngx_kraken_room_node_t) + len);
    if (rn == NULL) {
        /* a zone fragmented by departed rooms */
        return NGX_DECLINED;
    }

    ngx_memcpy(rn->data, rid, len);
    rn->sn.str.data = rn->data;
    rn->sn.str.len = len;
    rn->sn.node.key = hash;
    rn->slot = ngx_kraken_slot;
    rn->epoch = s->epoch;

    ngx_rbtree_insert(&ngx_kraken_sh->rbtree, &rn->sn.node);
    ngx_queue_insert_tail(&s->rooms, &rn->queue);
    s->nrooms++;
    ngx_kraken_sh->nrooms++;

    return NGX_OK;
}


/* the operator must make the zone larger: told once a minute, not per room */

static void
ngx_kraken_registry_full(const char *why)
{
    if (ngx_time() - ngx_kraken_full_logged < NGX_KRAKEN_FULL_LOG) {
        return;
    }

    ngx_kraken_full_logged = ngx_time();

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "kraken: the registry of rooms is full (%ui rooms; "
                  "kraken_shm_size holds %ui): %s",
                  ngx_kraken_sh->nrooms, ngx_kraken_sh->max_rooms, why);
}


void
ngx_kraken_registry_report(kraken_engine_stats_t *st,
    ngx_kraken_media_stats_t *ms)
{
    if (ngx_kraken_sh == NULL || ngx_kraken_slot >= NGX_KRAKEN_MAX_SLOTS) {
        return;
    }

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);
    ngx_kraken_sh->slots[ngx_kraken_slot].stats = *st;

    if (ms) {
        ngx_kraken_sh->slots[ngx_kraken_slot].mstats = *ms;
    }
    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);
}


/* The engine's counters are one list (KRAKEN_ENGINE_COUNTERS): summed */

static void
ngx_kraken_counters_add(kraken_engine_counters_t *sum,
    const kraken_engine_counters_t *c)
{
    ngx_uint_t  i;

#define NGX_KRAKEN_COUNTER_ADD(name, help)  sum->name += c->name;
    KRAKEN_ENGINE_COUNTERS(NGX_KRAKEN_COUNTER_ADD)
#undef NGX_KRAKEN_COUNTER_ADD

    for (i = 0; i < KRAKEN_DTLS_NBOUNDS + 1; i++) {
        sum->dtls_handshake.bucket[i] += c->dtls_handshake.bucket[i];
    }

    sum->dtls_handshake.count += c->dtls_handshake.count;
    sum->dtls_handshake.sum += c->dtls_handshake.sum;
}


/* ...and rendered by name in info */

static void
ngx_kraken_counters_json(cJSON *o, const kraken_engine_counters_t *c)
{
#define NGX_KRAKEN_COUNTER_JSON(name, help)                                  \
    cJSON_AddNumberToObject(o, #name, (double) c->name);
    KRAKEN_ENGINE_COUNTERS(NGX_KRAKEN_COUNTER_JSON)
#undef NGX_KRAKEN_COUNTER_JSON
}


void
ngx_kraken_registry_info(void *data, cJSON *state, int details)
{
    ngx_uint_t                i, n;
    cJSON                    *workers, *w, *rooms, *counters;
    ngx_queue_t              *q;
    kraken_engine_t          *engine = data;
    ngx_kraken_slot_t        *s;
    kraken_engine_stats_t     sum, own;
    ngx_kraken_media_stats_t  msum;
    ngx_kraken_room_node_t   *rn;
    cJSON                    *lists[NGX_KRAKEN_MAX_SLOTS];
    u_char                    id[KRAKEN_ID_MAX + 1];

    if (ngx_kraken_sh == NULL) {
        return;
    }

    ngx_memzero(&sum, sizeof(kraken_engine_stats_t));
    ngx_memzero(&msum, sizeof(ngx_kraken_media_stats_t));
    ngx_memzero(lists, sizeof(lists));

    /* this worker's own figures are read now, the others' are 100 ms old */
    if (engine) {
        kraken_engine_stats(engine, &own);
        ngx_kraken_registry_report(&own, NULL);
    }

    /* where rooms live (room ids, pids, ports) only when asked for */
    workers = NULL;

    if (details) {
        workers = cJSON_CreateArray();
        if (workers == NULL) {
            return;
        }
    }

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);

    for (i = 0; i < NGX_KRAKEN_MAX_SLOTS; i++) {
        s = &ngx_kraken_sh->slots[i];

        if (!ngx_kraken_registry_alive(s)) {
            continue;
        }

        sum.active_peers += s->stats.active_peers;
        sum.closed_peers += s->stats.closed_peers;
        sum.active_rooms += s->stats.active_rooms;
        sum.closed_rooms += s->stats.closed_rooms;
        ngx_kraken_counters_add(&sum.counters, &s->stats.counters);
        msum.handoff_sent += s->mstats.handoff_sent;
        msum.handoff_received += s->mstats.handoff_received;
        msum.handoff_dropped += s->mstats.handoff_dropped;
        msum.handoff_refused += s->mstats.handoff_refused;

        if (s->generation >= msum.steering >> 1) {
            /* the newest generation's way */
            msum.steering = (s->generation << 1) | s->mstats.steering;
        }

        if (workers == NULL) {
            continue;
        }

        w = cJSON_CreateObject();
        rooms = cJSON_CreateArray();

        if (w == NULL || rooms == NULL) {
            cJSON_Delete(w);
            cJSON_Delete(rooms);
            continue;
        }

        cJSON_AddNumberToObject(w, "slot", (double) i);
        cJSON_AddNumberToObject(w, "pid", (double) s->pid);
        cJSON_AddNumberToObject(w, "worker", (double) s->worker);
        cJSON_AddNumberToObject(w, "generation", (double) s->generation);
        cJSON_AddNumberToObject(w, "port", (double) s->port);
        cJSON_AddStringToObject(w, "steering",
                                s->mstats.steering ? "ebpf" : "handoff");
        cJSON_AddNumberToObject(w, "active_peers",
                                (double) s->stats.active_peers);
        cJSON_AddItemToObject(w, "rooms", rooms);
        cJSON_AddNumberToObject(w, "room_count", (double) s->nrooms);
        cJSON_AddNumberToObject(w, "addrs", (double) s->naddrs);
        cJSON_AddItemToArray(workers, w);
        lists[i] = rooms;
    }

    /*
     * each worker's first rooms, in the order they came: bounded work
     * under the lock however many rooms there are (room_count has all)
     */
    for (i = 0; i < NGX_KRAKEN_MAX_SLOTS; i++) {
        if (lists[i] == NULL) {
            continue;
        }

        s = &ngx_kraken_sh->slots[i];
        n = 0;

        for (q = ngx_queue_head(&s->rooms);
             q != ngx_queue_sentinel(&s->rooms) && n < NGX_KRAKEN_INFO_ROOMS;
             q = ngx_queue_next(q))
        {
            rn = ngx_queue_data(q, ngx_kraken_room_node_t, queue);

            if (rn->epoch != s->epoch || rn->sn.str.len >= sizeof(id)) {
                continue;
            }

            ngx_memcpy(id, rn->sn.str.data, rn->sn.str.len);
            id[rn->sn.str.len] = '\0';
            cJSON_AddItemToArray(lists[i], cJSON_CreateString((char *) id));
            n++;
        }
    }

    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

    cJSON_AddNumberToObject(state, "active_peers", sum.active_peers);
    cJSON_AddNumberToObject(state, "closed_peers", sum.closed_peers);
    cJSON_AddNumberToObject(state, "active_rooms", sum.active_rooms);
    cJSON_AddNumberToObject(state, "closed_rooms", sum.closed_rooms);

    cJSON_AddStringToObject(state, "steering",
                            (msum.steering & 1) ? "ebpf" : "handoff");

    counters = cJSON_AddObjectToObject(state, "counters");
    if (counters) {
        ngx_kraken_counters_json(counters, &sum.counters);
        cJSON_AddNumberToObject(counters, "handoff_sent",
                                (double) msum.handoff_sent);
        cJSON_AddNumberToObject(counters, "handoff_received",
                                (double) msum.handoff_received);
        cJSON_AddNumberToObject(counters, "handoff_dropped",
                                (double) msum.handoff_dropped);
        cJSON_AddNumberToObject(counters, "handoff_refused",
                                (double) msum.handoff_refused);

    }

    if (workers) {
        cJSON_AddItemToObject(state, "workers", workers);
    }
}


void
ngx_kraken_registry_count_rpc(ngx_uint_t method, ngx_uint_t code)
{
    ngx_kraken_rpc_stats_t  *rpc;

    if (ngx_kraken_sh == NULL || ngx_kraken_slot >= NGX_KRAKEN_MAX_SLOTS
        || method >= NGX_KRAKEN_RPC_NMETHODS || code >= NGX_KRAKEN_RPC_NCODES)
    {
        return;
    }

    rpc = ngx_kraken_sh->slots[ngx_kraken_slot].rpc;

    if (rpc) {
        rpc->calls[method][code]++;
    }
}


ngx_uint_t
ngx_kraken_registry_workers(ngx_kraken_worker_stats_t *w, ngx_uint_t max)
{
    ngx_uint_t          i, n;
    ngx_kraken_slot_t  *s;

    if (ngx_kraken_sh == NULL) {
        return 0;
    }

    n = 0;

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);

    for (i = 0; i < NGX_KRAKEN_MAX_SLOTS; i++) {
        s = &ngx_kraken_sh->slots[i];

        if (!ngx_kraken_registry_alive(s)) {
            continue;
        }

        if (w == NULL) {
            n++;
            continue;
        }

        if (n == max) {
            break;
        }

        w[n].slot = i;
        w[n].pid = s->pid;
        w[n].generation = s->generation;
        w[n].stats = s->stats;
        w[n].mstats = s->mstats;

        if (s->rpc) {
            w[n].rpc = *s->rpc;

        } else {
            ngx_memzero(&w[n].rpc, sizeof(ngx_kraken_rpc_stats_t));
        }

        n++;
    }

    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

    return n;
}


/*
 * X-Kraken-Load: peers, rooms and packets of every live worker; the CPU
 * use and the bounds of the newest generation's, the one new rooms go to.
 */

ngx_int_t
ngx_kraken_registry_load(ngx_kraken_load_t *load)
{
    ngx_uint_t          i, gen, n, cpu, nworkers, peers, rooms;
    ngx_kraken_slot_t  *s;

    ngx_memzero(load, sizeof(ngx_kraken_load_t));

    if (ngx_kraken_sh == NULL) {
        return NGX_DECLINED;
    }

    gen = 0;
    n = 0;
    cpu = 0;
    nworkers = 0;
    peers = 0;
    rooms = 0;

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);

    for (i = 0; i < NGX_KRAKEN_MAX_SLOTS; i++) {
        s = &ngx_kraken_sh->slots[i];

        if (!ngx_kraken_registry_alive(s)) {
            continue;
        }

        load->peers += s->stats.active_peers;
        load->rooms += s->stats.active_rooms;
        load->pps += s->mstats.pps;

        if (s->generation > gen) {
            gen = s->generation;
            n = 0;
            cpu = 0;
            nworkers = s->nworkers;
            peers = s->mstats.worker_peers;
            rooms = s->mstats.worker_rooms;
        }

        if (s->generation == gen) {
            /* a worker that just joined may not have reported yet */
            peers = ngx_max(peers, s->mstats.worker_peers);
            rooms = ngx_max(rooms, s->mstats.worker_rooms);
            cpu += s->mstats.cpu;
            n++;
        }
    }

    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

    load->cpu = n ? cpu / n : 0;
    load->peers_max = peers * nworkers;
    load->rooms_max = rooms * nworkers;

    return NGX_OK;
}

/*
 * Client addresses. The key is the address in a fixed shape, so that
 * hashing and comparing are plain memory operations.
 */

static ngx_int_t
ngx_kraken_addr_key(ngx_kraken_addr_entry_t *key, struct sockaddr *sa,
    socklen_t len)
{
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    ngx_memzero(key, sizeof(ngx_kraken_addr_entry_t));

    switch (sa->sa_family) {

    case AF_INET:
        if (len < sizeof(struct sockaddr_in)) {
            return NGX_DECLINED;
        }

        sin = (struct sockaddr_in *) sa;
        key->family = AF_INET;
        key->port = sin->sin_port;
        ngx_memcpy(key->addr, &sin->sin_addr, 4);
        return NGX_OK;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        if (len < sizeof(struct sockaddr_in6)) {
            return NGX_DECLINED;
        }

        sin6 = (struct sockaddr_in6 *) sa;
        key->family = AF_INET6;
        key->port = sin6->sin6_port;
        ngx_memcpy(key->addr, &sin6->sin6_addr, 16);
        return NGX_OK;
#endif

    default:
        return NGX_DECLINED;
    }
}


static ngx_uint_t
ngx_kraken_addr_hash(ngx_kraken_addr_entry_t *key)
{
    return ngx_crc32_short((u_char *) &key->port,
                           sizeof(ngx_kraken_addr_entry_t)
                           - offsetof(ngx_kraken_addr_entry_t, port))
           & ngx_kraken_sh->addrs_mask;
}


static ngx_int_t
ngx_kraken_addr_find_locked(ngx_kraken_addr_entry_t *key, ngx_uint_t *index)
{
    ngx_uint_t                i;
    ngx_kraken_addr_entry_t  *e;

    for (i = ngx_kraken_addr_hash(key); /* void */ ;
         i = (i + 1) & ngx_kraken_sh->addrs_mask)
    {
        e = &ngx_kraken_sh->addrs[i];

        if (e->slot == 0) {
            *index = i;
            return NGX_DECLINED;
        }

        if (ngx_memcmp(&e->port, &key->port,
                       sizeof(ngx_kraken_addr_entry_t)
                       - offsetof(ngx_kraken_addr_entry_t, port)) == 0)
        {
            *index = i;
            return NGX_OK;
        }
    }
}


/* removes entry i and moves back the entries its removal would hide */

static void
ngx_kraken_addr_delete_locked(ngx_uint_t i)
{
    ngx_uint_t                j, home, mask;
    ngx_kraken_addr_entry_t  *a;

    a = ngx_kraken_sh->addrs;
    mask = ngx_kraken_sh->addrs_mask;

    if (ngx_kraken_sh->slots[a[i].slot - 1].naddrs) {
        ngx_kraken_sh->slots[a[i].slot - 1].naddrs--;
    }

    a[i].slot = 0;
    ngx_kraken_sh->naddrs--;

    for (j = (i + 1) & mask; a[j].slot; j = (j + 1) & mask) {
        home = ngx_kraken_addr_hash(&a[j]);

        /* j may stay unless its home lies cyclically in (i, j] */
        if (((j - home) & mask) < ((j - i) & mask)) {
            continue;
        }

        a[i] = a[j];
        a[j].slot = 0;
        i = j;
    }
}


static void
ngx_kraken_addr_purge_locked(ngx_uint_t slot)
{
    ngx_uint_t  i;

    if (ngx_kraken_sh->addrs == NULL) {
        return;
    }

    for (i = 0; i <= ngx_kraken_sh->addrs_mask; /* void */ ) {
        if (ngx_kraken_sh->addrs[i].slot == slot + 1) {
            /* an entry may have moved into i: look at it again */
            ngx_kraken_addr_delete_locked(i);
            continue;
        }

        i++;
    }
}


/* the owner of e crashed, or left, or its slot has a new holder */

static ngx_uint_t
ngx_kraken_addr_owner_gone_locked(ngx_kraken_addr_entry_t *e)
{
    ngx_kraken_slot_t  *s;

    s = &ngx_kraken_sh->slots[e->slot - 1];

    return (uint32_t) s->epoch != e->epoch || !ngx_kraken_registry_alive(s);
}


/*
 * The engine's addr_event: this worker's engine admitted sa with a check
 * (KRAKEN_ADDR_CHECKED), its peer's keys proved it (KRAKEN_ADDR_PROVEN),
 * or it forgot it. The table, and the eBPF map when maps is not NULL
 * (written here, under the same lock, so that both say the same), change
 * only so:
 *
 *   - a free address, or one whose owner is gone, is ours;
 *   - our own entry is updated (proven stays proven);
 *   - a live entry of another worker is taken only by PROVEN over an
 *     entry that is not proven: a check (anyone's, from a spoofed
 *     address) never wins over another worker's peer, and keys never
 *     over keys. Otherwise the claim is refused: NGX_DECLINED;
 *   - FORGOTTEN deletes the entry only when it is ours.
 *
 * With the table full, the map alone is written, never over another's.
 */

ngx_int_t
ngx_kraken_registry_addr_event(const struct sockaddr *sa, socklen_t len,
    int event, kraken_bpf_t *maps, ngx_uint_t index)
{
    ngx_int_t                 rc, verdict;
    ngx_uint_t                i, full, ours;
    ngx_kraken_slot_t        *me;
    ngx_kraken_addr_entry_t   key, *e;

    if (ngx_kraken_sh == NULL || ngx_kraken_slot >= NGX_KRAKEN_MAX_SLOTS
        || ngx_kraken_addr_key(&key, (struct sockaddr *) sa, len) != NGX_OK)
    {
        return NGX_OK;
    }

    me = &ngx_kraken_sh->slots[ngx_kraken_slot];
    verdict = NGX_OK;

    key.slot = (uint16_t) (ngx_kraken_slot + 1);
    key.epoch = (uint32_t) me->epoch;
    key.proven = (event == KRAKEN_ADDR_PROVEN);
    full = 0;

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);

    rc = ngx_kraken_addr_find_locked(&key, &i);
    e = &ngx_kraken_sh->addrs[i];

    ours = (rc == NGX_OK && e->slot == key.slot && e->epoch == key.epoch);

    if (event == KRAKEN_ADDR_FORGOTTEN) {
        if (ours) {
            ngx_kraken_addr_delete_locked(i);
        }

        if (maps) {
            /* ours only, also one made while the table was full */
            (void) kraken_bpf_del_addr(maps, sa, (unsigned) ngx_kraken_slot);
        }

        goto done;
    }

    if (rc == NGX_OK) {

        if (ours) {
            e->proven |= key.proven;

        } else if (ngx_kraken_addr_owner_gone_locked(e)
                   || (key.proven && !e->proven))
        {
            if (ngx_kraken_sh->slots[e->slot - 1].naddrs) {
                ngx_kraken_sh->slots[e->slot - 1].naddrs--;
            }

            e->slot = key.slot;
            e->epoch = key.epoch;
            e->proven = key.proven;
            me->naddrs++;

        } else {
            verdict = NGX_DECLINED;

            ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                           "kraken: a client address of worker slot %ui "
                           "is not taken", (ngx_uint_t) e->slot - 1);
            goto done;
        }

    } else if (ngx_kraken_sh->naddrs
               < ngx_kraken_sh->addrs_mask - ngx_kraken_sh->addrs_mask / 4)
    {
        *e = key;
        ngx_kraken_sh->naddrs++;
        me->naddrs++;

    } else {
        full = 1;

        /* nothing here knows the owner: the map alone, never over another */
        if (maps
            && kraken_bpf_add_addr(maps, sa, (unsigned) index,
                                   (unsigned) ngx_kraken_slot)
               != 0
            && ngx_errno == EEXIST)
        {
            verdict = NGX_DECLINED;
        }

        goto done;
    }

    /* the table says it is ours: so does the map, whatever it had */

    if (maps
        && kraken_bpf_take_addr(maps, sa, (unsigned) index,
                                (unsigned) ngx_kraken_slot)
           != 0)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, ngx_errno,
                       "kraken: eBPF address map full");
    }

done:

    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

    if (full && ngx_time() - ngx_kraken_addrs_logged >= NGX_KRAKEN_FULL_LOG)
    {
        ngx_kraken_addrs_logged = ngx_time();
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "kraken: the table of client addresses is full "
                      "(%ui); raise kraken_shm_size",
                      ngx_kraken_sh->naddrs);
    }

    return verdict;
}


/* The slot that admitted sa: NGX_OK, or NGX_DECLINED when none did. */

ngx_int_t
ngx_kraken_registry_addr_owner(struct sockaddr *sa, socklen_t len,
    ngx_uint_t *slot)
{
    ngx_int_t                 rc;
    ngx_uint_t                i;
    ngx_kraken_addr_entry_t   key;

    if (ngx_kraken_sh == NULL
        || ngx_kraken_addr_key(&key, sa, len) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);

    rc = ngx_kraken_addr_find_locked(&key, &i);
    if (rc == NGX_OK) {
        *slot = ngx_kraken_sh->addrs[i].slot - 1;
    }

    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

    return rc;
}
