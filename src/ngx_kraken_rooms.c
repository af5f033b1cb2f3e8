
/*
 * Copyright (C) ngx_kraken authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_kraken_registry_int.h"


/*
 * Rooms: which worker holds each, so that an RPC that lands on any worker
 * reaches the room's only owner, and, for rooms no worker here holds,
 * the placement records of kraken_placement (which engine the fronts
 * placed them on). A room is a node in the zone's tree by id and in its
 * slot's list; a node whose epoch is older than its slot's is stale (its
 * worker went) and is taken over by the next worker that holds the room.
 */


/* a placement record not read for an hour goes */
#define NGX_KRAKEN_PLACE_EXPIRE  3600


static ngx_int_t ngx_kraken_rooms_holds_locked(ngx_str_t *name,
    uint32_t hash);
static ngx_int_t ngx_kraken_rooms_insert_locked(const char *rid);
static void ngx_kraken_rooms_delete_locked(ngx_kraken_room_node_t *rn);
static void ngx_kraken_rooms_full(const char *why);
static void ngx_kraken_place_expire_locked(time_t now);
static ngx_kraken_place_node_t *ngx_kraken_place_add_locked(ngx_str_t *name,
    uint32_t hash, ngx_str_t *choice);
static void ngx_kraken_place_set(ngx_kraken_place_node_t *pn,
    ngx_str_t *owner);
static ngx_int_t ngx_kraken_place_evict_locked(void);
static void ngx_kraken_place_delete_locked(ngx_kraken_place_node_t *pn);


static time_t  ngx_kraken_rooms_full_logged;


ngx_int_t
ngx_kraken_registry_owner(u_char *room, size_t len, ngx_uint_t *slot,
    ngx_pid_t *pid)
{
    uint32_t                 hash;
    ngx_str_t                name;
    ngx_uint_t               i, want, gen, n;
    ngx_kraken_slot_t       *s;
    ngx_kraken_room_node_t  *rn;

    if (ngx_kraken_sh == NULL
        || ngx_kraken_self_slot >= NGX_KRAKEN_MAX_SLOTS)
    {
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
    rc = ngx_kraken_rooms_holds_locked(&name, ngx_crc32_long(room, len));
    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

    return rc;
}


static ngx_int_t
ngx_kraken_rooms_holds_locked(ngx_str_t *name, uint32_t hash)
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

    if (ngx_kraken_sh == NULL
        || ngx_kraken_self_slot >= NGX_KRAKEN_MAX_SLOTS)
    {
        return 0;
    }

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);
    rc = ngx_kraken_rooms_insert_locked(rid);
    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

    if (rc == NGX_OK) {
        return 0;
    }

    ngx_kraken_rooms_full("new rooms are refused");

    return -1;
}


void
ngx_kraken_registry_room_event(void *data, const char *rid, int created)
{
    ngx_int_t                rc;
    ngx_str_t                name;
    ngx_kraken_room_node_t  *rn;

    if (ngx_kraken_sh == NULL
        || ngx_kraken_self_slot >= NGX_KRAKEN_MAX_SLOTS)
    {
        return;
    }

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);

    if (created) {
        /* admitted already, unless the engine runs without admission */
        rc = ngx_kraken_rooms_insert_locked(rid);
        ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

        if (rc != NGX_OK) {
            ngx_kraken_rooms_full("a new room is reached only through "
                                     "its hash");
        }

        return;
    }

    name.data = (u_char *) rid;
    name.len = ngx_strlen(rid);

    rn = (ngx_kraken_room_node_t *) ngx_str_rbtree_lookup(
                                        &ngx_kraken_sh->rbtree, &name,
                                        ngx_crc32_long(name.data, name.len));

    if (rn && rn->slot == ngx_kraken_self_slot) {
        ngx_kraken_rooms_delete_locked(rn);
    }

    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);
}


/* rid is this worker's room: NGX_OK, or NGX_DECLINED when it has no place */

static ngx_int_t
ngx_kraken_rooms_insert_locked(const char *rid)
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

    s = &ngx_kraken_sh->slots[ngx_kraken_self_slot];

    rn = (ngx_kraken_room_node_t *) ngx_str_rbtree_lookup(
                                        &ngx_kraken_sh->rbtree, &name, hash);

    if (rn) {
        if (rn->slot != ngx_kraken_self_slot) {
            /* a stale entry of a dead worker: the room is ours now */
            ngx_queue_remove(&rn->queue);
            ngx_kraken_sh->slots[rn->slot].nrooms--;
            ngx_queue_insert_tail(&s->rooms, &rn->queue);
            s->nrooms++;
            rn->slot = ngx_kraken_self_slot;
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
    rn->slot = ngx_kraken_self_slot;
    rn->epoch = s->epoch;

    ngx_rbtree_insert(&ngx_kraken_sh->rbtree, &rn->sn.node);
    ngx_queue_insert_tail(&s->rooms, &rn->queue);
    s->nrooms++;
    ngx_kraken_sh->nrooms++;

    return NGX_OK;
}


/* the operator must make the zone larger: told once a minute, not per room */

static void
ngx_kraken_rooms_full(const char *why)
{
    if (ngx_time() - ngx_kraken_rooms_full_logged < NGX_KRAKEN_FULL_LOG) {
        return;
    }

    ngx_kraken_rooms_full_logged = ngx_time();

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "kraken: the registry of rooms is full (%ui rooms; "
                  "kraken_shm_size holds %ui): %s",
                  ngx_kraken_sh->nrooms, ngx_kraken_sh->max_rooms, why);
}


void
ngx_kraken_rooms_purge_locked(ngx_uint_t slot)
{
    ngx_queue_t             *q;
    ngx_kraken_room_node_t  *rn;

    /* the slot's own rooms only: no walk over the whole registry */
    while (!ngx_queue_empty(&ngx_kraken_sh->slots[slot].rooms)) {
        q = ngx_queue_head(&ngx_kraken_sh->slots[slot].rooms);
        rn = ngx_queue_data(q, ngx_kraken_room_node_t, queue);
        ngx_kraken_rooms_delete_locked(rn);
    }
}


static void
ngx_kraken_rooms_delete_locked(ngx_kraken_room_node_t *rn)
{
    ngx_rbtree_delete(&ngx_kraken_sh->rbtree, &rn->sn.node);
    ngx_queue_remove(&rn->queue);
    ngx_kraken_sh->slots[rn->slot].nrooms--;
    ngx_kraken_sh->nrooms--;
    ngx_slab_free_locked(ngx_kraken_shpool, rn);
}


void
ngx_kraken_rooms_list_locked(ngx_uint_t slot, ngx_uint_t max,
    ngx_kraken_registry_room_pt room, void *data)
{
    ngx_uint_t               n;
    ngx_queue_t             *q;
    ngx_kraken_slot_t       *s;
    ngx_kraken_room_node_t  *rn;

    s = &ngx_kraken_sh->slots[slot];
    n = 0;

    for (q = ngx_queue_head(&s->rooms);
         q != ngx_queue_sentinel(&s->rooms) && n < max;
         q = ngx_queue_next(q))
    {
        rn = ngx_queue_data(q, ngx_kraken_room_node_t, queue);

        if (rn->epoch != s->epoch) {
            continue;
        }

        if (room(data, slot, rn->sn.str.data, rn->sn.str.len) == NGX_OK) {
            n++;
        }
    }
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
    ngx_uint_t                i;
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

    if (ngx_kraken_rooms_holds_locked(&name, hash) == NGX_OK) {
        ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);
        return NGX_DONE;
    }

    ngx_kraken_place_expire_locked(now);

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

    pn = ngx_kraken_place_add_locked(&name, hash, choice);

    if (pn == NULL) {
        /* no record: the choice stands for this call only */
        ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

        ngx_memcpy(owner, choice->data, choice->len);
        *owner_len = choice->len;

        return NGX_OK;
    }

found:

    pn->read = now;
    ngx_queue_insert_head(&ngx_kraken_sh->places_lru, &pn->queue);

    ngx_memcpy(owner, pn->owner, pn->owner_len);
    *owner_len = pn->owner_len;

    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

    return NGX_OK;
}


/* at most two records that nobody read for an hour, oldest first */

static void
ngx_kraken_place_expire_locked(time_t now)
{
    ngx_uint_t                n;
    ngx_queue_t              *q;
    ngx_kraken_place_node_t  *pn;

    for (n = 0; n < 2 && !ngx_queue_empty(&ngx_kraken_sh->places_lru); n++) {
        q = ngx_queue_last(&ngx_kraken_sh->places_lru);
        pn = ngx_queue_data(q, ngx_kraken_place_node_t, queue);

        if (now - pn->read < NGX_KRAKEN_PLACE_EXPIRE) {
            break;
        }

        ngx_kraken_place_delete_locked(pn);
    }
}


/*
 * A new record of the room for choice, not yet in the LRU list; NULL
 * when the zone has no room for it, even with the oldest record gone.
 */

static ngx_kraken_place_node_t *
ngx_kraken_place_add_locked(ngx_str_t *name, uint32_t hash,
    ngx_str_t *choice)
{
    ngx_kraken_place_node_t  *pn;

    if (ngx_kraken_sh->nplaces >= ngx_kraken_sh->max_places) {
        ngx_kraken_place_evict_locked();
    }

    pn = ngx_slab_alloc_locked(ngx_kraken_shpool,
                               sizeof(ngx_kraken_place_node_t) + name->len);

    if (pn == NULL && ngx_kraken_place_evict_locked() == NGX_OK) {
        /* the rooms took the zone: the oldest record made way */
        pn = ngx_slab_alloc_locked(ngx_kraken_shpool,
                                   sizeof(ngx_kraken_place_node_t)
                                   + name->len);
    }

    if (pn == NULL) {
        return NULL;
    }

    ngx_memcpy(pn->data, name->data, name->len);
    pn->sn.str.data = pn->data;
    pn->sn.str.len = name->len;
    pn->sn.node.key = hash;
    ngx_kraken_place_set(pn, choice);

    ngx_rbtree_insert(&ngx_kraken_sh->places, &pn->sn.node);
    ngx_kraken_sh->nplaces++;

    return pn;
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
