
/*
 * Copyright (C) ngx_kraken authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_kraken_registry_int.h"


/*
 * The worker slots: a worker takes one when it starts (the one its
 * predecessor left, or a dead worker's, whose rooms and client addresses
 * go with it), tells where it listens, reports its figures into it, and
 * leaves it when it exits. A slot's generation is the configuration its
 * worker runs: a reload loads one more, and the old workers hand over to
 * the new ones.
 */


static void ngx_kraken_slot_figures(ngx_kraken_worker_stats_t *w,
    ngx_uint_t i, ngx_kraken_slot_t *s);


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
    ngx_kraken_rooms_purge_locked(want);
    ngx_kraken_addrs_purge_locked(want);

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

    ngx_kraken_self_slot = want;
    *slot = want;

    return NGX_OK;
}


void
ngx_kraken_registry_set_port(in_port_t port)
{
    if (ngx_kraken_self_slot < NGX_KRAKEN_MAX_SLOTS) {
        ngx_kraken_sh->slots[ngx_kraken_self_slot].port = port;
    }
}


void
ngx_kraken_registry_set_handoff(in_port_t port)
{
    if (ngx_kraken_self_slot < NGX_KRAKEN_MAX_SLOTS) {
        ngx_kraken_sh->slots[ngx_kraken_self_slot].handoff = port;
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


void
ngx_kraken_registry_leave(void)
{
    ngx_kraken_slot_t  *s;

    if (ngx_kraken_self_slot >= NGX_KRAKEN_MAX_SLOTS) {
        return;
    }

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);

    s = &ngx_kraken_sh->slots[ngx_kraken_self_slot];

    if (s->pid == ngx_pid) {
        ngx_kraken_rooms_purge_locked(ngx_kraken_self_slot);
        ngx_kraken_addrs_purge_locked(ngx_kraken_self_slot);
        s->pid = 0;
    }

    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

    ngx_kraken_self_slot = NGX_KRAKEN_MAX_SLOTS;
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
    return ngx_kraken_self_slot;
}


void
ngx_kraken_registry_set_ipc(u_char *name, size_t len)
{
    ngx_kraken_slot_t  *s;

    if (ngx_kraken_self_slot >= NGX_KRAKEN_MAX_SLOTS
        || len > NGX_KRAKEN_IPC_NAME_LEN)
    {
        return;
    }

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);

    s = &ngx_kraken_sh->slots[ngx_kraken_self_slot];

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


void
ngx_kraken_registry_report(kraken_engine_stats_t *st,
    ngx_kraken_media_stats_t *ms)
{
    if (ngx_kraken_sh == NULL
        || ngx_kraken_self_slot >= NGX_KRAKEN_MAX_SLOTS)
    {
        return;
    }

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);
    ngx_kraken_sh->slots[ngx_kraken_self_slot].stats = *st;

    if (ms) {
        ngx_kraken_sh->slots[ngx_kraken_self_slot].mstats = *ms;
    }
    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);
}


void
ngx_kraken_registry_count_rpc(ngx_uint_t method, ngx_uint_t code)
{
    ngx_kraken_rpc_stats_t  *rpc;

    if (ngx_kraken_sh == NULL || ngx_kraken_self_slot >= NGX_KRAKEN_MAX_SLOTS
        || method >= NGX_KRAKEN_RPC_NMETHODS || code >= NGX_KRAKEN_RPC_NCODES)
    {
        return;
    }

    rpc = ngx_kraken_sh->slots[ngx_kraken_self_slot].rpc;

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

        ngx_kraken_slot_figures(&w[n], i, s);
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


ngx_int_t
ngx_kraken_registry_walk(ngx_kraken_registry_walk_t *walk)
{
    ngx_uint_t                 i;
    ngx_kraken_slot_t         *s;
    ngx_kraken_worker_stats_t  w;
    u_char                     rooms[NGX_KRAKEN_MAX_SLOTS];

    if (ngx_kraken_sh == NULL) {
        return NGX_DECLINED;
    }

    ngx_memzero(rooms, sizeof(rooms));

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);

    for (i = 0; i < NGX_KRAKEN_MAX_SLOTS; i++) {
        s = &ngx_kraken_sh->slots[i];

        if (!ngx_kraken_registry_alive(s)) {
            continue;
        }

        ngx_kraken_slot_figures(&w, i, s);
        rooms[i] = (walk->worker(walk->data, &w) == NGX_OK);
    }

    /*
     * each worker's first rooms, in the order they came: bounded work
     * under the lock however many rooms there are
     */
    for (i = 0; walk->room && i < NGX_KRAKEN_MAX_SLOTS; i++) {
        if (rooms[i]) {
            ngx_kraken_rooms_list_locked(i, walk->max_rooms, walk->room,
                                         walk->data);
        }
    }

    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

    return NGX_OK;
}


static void
ngx_kraken_slot_figures(ngx_kraken_worker_stats_t *w, ngx_uint_t i,
    ngx_kraken_slot_t *s)
{
    w->slot = i;
    w->pid = s->pid;
    w->generation = s->generation;
    w->worker = s->worker;
    w->port = s->port;
    w->nrooms = s->nrooms;
    w->naddrs = s->naddrs;
    w->stats = s->stats;
    w->mstats = s->mstats;

    if (s->rpc) {
        w->rpc = *s->rpc;

    } else {
        ngx_memzero(&w->rpc, sizeof(ngx_kraken_rpc_stats_t));
    }
}
