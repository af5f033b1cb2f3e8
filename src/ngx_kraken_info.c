
/*
 * Copyright (C) ngx_kraken authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "kraken_engine.h"
#include "kraken_id.h"
#include "ngx_kraken_figures.h"
#include "ngx_kraken_info.h"
#include "ngx_kraken_registry.h"


/*
 * info's "state": the figures of every live worker summed, and with
 * details each worker and its first rooms. The registry walks its slots
 * in one round of its lock (ngx_kraken_registry_walk) and calls the
 * functions here, which build the JSON.
 */


/* info lists at most this many of a worker's rooms */
#define NGX_KRAKEN_INFO_ROOMS  100


typedef struct {
    kraken_engine_stats_t     sum;
    ngx_kraken_media_stats_t  msum;     /* steering: the newest generation's
                                           way, below its generation << 1 */
    cJSON                    *workers;  /* NULL: no details */
    cJSON                    *lists[NGX_KRAKEN_MAX_SLOTS];
} ngx_kraken_info_t;


static ngx_int_t ngx_kraken_info_worker(void *data,
    ngx_kraken_worker_stats_t *w);
static ngx_int_t ngx_kraken_info_room(void *data, ngx_uint_t slot,
    u_char *id, size_t len);
static void ngx_kraken_info_state(ngx_kraken_info_t *info, cJSON *state);
static void ngx_kraken_counters_add(kraken_engine_counters_t *sum,
    const kraken_engine_counters_t *c);
static void ngx_kraken_counters_json(cJSON *o,
    const kraken_engine_counters_t *c);


void
ngx_kraken_info(void *data, cJSON *state, int details)
{
    kraken_engine_t             *engine = data;
    kraken_engine_stats_t        own;
    ngx_kraken_info_t            info;
    ngx_kraken_registry_walk_t   walk;

    ngx_memzero(&info, sizeof(ngx_kraken_info_t));

    /* this worker's own figures are read now, the others' are 100 ms old */
    if (engine) {
        kraken_engine_stats(engine, &own);
        ngx_kraken_registry_report(&own, NULL);
    }

    /* where rooms live (room ids, pids, ports) only when asked for */
    if (details) {
        info.workers = cJSON_CreateArray();
        if (info.workers == NULL) {
            return;
        }
    }

    walk.worker = ngx_kraken_info_worker;
    walk.room = details ? ngx_kraken_info_room : NULL;
    walk.max_rooms = NGX_KRAKEN_INFO_ROOMS;
    walk.data = &info;

    if (ngx_kraken_registry_walk(&walk) != NGX_OK) {
        cJSON_Delete(info.workers);
        return;
    }

    ngx_kraken_info_state(&info, state);
}


/* a live worker: into the sums, and, with details, a worker object */

static ngx_int_t
ngx_kraken_info_worker(void *data, ngx_kraken_worker_stats_t *w)
{
    ngx_kraken_info_t  *info = data;

    cJSON  *o, *rooms;

    info->sum.active_peers += w->stats.active_peers;
    info->sum.closed_peers += w->stats.closed_peers;
    info->sum.active_rooms += w->stats.active_rooms;
    info->sum.closed_rooms += w->stats.closed_rooms;
    ngx_kraken_counters_add(&info->sum.counters, &w->stats.counters);
    info->msum.handoff_sent += w->mstats.handoff_sent;
    info->msum.handoff_received += w->mstats.handoff_received;
    info->msum.handoff_dropped += w->mstats.handoff_dropped;
    info->msum.handoff_refused += w->mstats.handoff_refused;

    if (w->generation >= info->msum.steering >> 1) {
        /* the newest generation's way */
        info->msum.steering = (w->generation << 1) | w->mstats.steering;
    }

    if (info->workers == NULL) {
        return NGX_DECLINED;
    }

    o = cJSON_CreateObject();
    rooms = cJSON_CreateArray();

    if (o == NULL || rooms == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(rooms);
        return NGX_DECLINED;
    }

    cJSON_AddNumberToObject(o, "slot", (double) w->slot);
    cJSON_AddNumberToObject(o, "pid", (double) w->pid);
    cJSON_AddNumberToObject(o, "worker", (double) w->worker);
    cJSON_AddNumberToObject(o, "generation", (double) w->generation);
    cJSON_AddNumberToObject(o, "port", (double) w->port);
    cJSON_AddStringToObject(o, "steering",
                            w->mstats.steering ? "ebpf" : "handoff");
    cJSON_AddNumberToObject(o, "active_peers",
                            (double) w->stats.active_peers);
    cJSON_AddItemToObject(o, "rooms", rooms);
    cJSON_AddNumberToObject(o, "room_count", (double) w->nrooms);
    cJSON_AddNumberToObject(o, "addrs", (double) w->naddrs);
    cJSON_AddItemToArray(info->workers, o);
    info->lists[w->slot] = rooms;

    /* its first rooms, please (room_count has all) */
    return NGX_OK;
}


static ngx_int_t
ngx_kraken_info_room(void *data, ngx_uint_t slot, u_char *id, size_t len)
{
    ngx_kraken_info_t  *info = data;

    u_char  rid[KRAKEN_ID_MAX + 1];

    if (len >= sizeof(rid)) {
        return NGX_DECLINED;
    }

    ngx_memcpy(rid, id, len);
    rid[len] = '\0';
    cJSON_AddItemToArray(info->lists[slot], cJSON_CreateString((char *) rid));

    return NGX_OK;
}


static void
ngx_kraken_info_state(ngx_kraken_info_t *info, cJSON *state)
{
    cJSON  *counters;

    cJSON_AddNumberToObject(state, "active_peers", info->sum.active_peers);
    cJSON_AddNumberToObject(state, "closed_peers", info->sum.closed_peers);
    cJSON_AddNumberToObject(state, "active_rooms", info->sum.active_rooms);
    cJSON_AddNumberToObject(state, "closed_rooms", info->sum.closed_rooms);

    cJSON_AddStringToObject(state, "steering",
                            (info->msum.steering & 1) ? "ebpf" : "handoff");

    counters = cJSON_AddObjectToObject(state, "counters");
    if (counters) {
        ngx_kraken_counters_json(counters, &info->sum.counters);
        cJSON_AddNumberToObject(counters, "handoff_sent",
                                (double) info->msum.handoff_sent);
        cJSON_AddNumberToObject(counters, "handoff_received",
                                (double) info->msum.handoff_received);
        cJSON_AddNumberToObject(counters, "handoff_dropped",
                                (double) info->msum.handoff_dropped);
        cJSON_AddNumberToObject(counters, "handoff_refused",
                                (double) info->msum.handoff_refused);
    }

    if (info->workers) {
        cJSON_AddItemToObject(state, "workers", info->workers);
    }
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
