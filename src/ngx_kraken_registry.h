
/*
 * Copyright (C) ngx_kraken authors
 */


#ifndef _NGX_KRAKEN_REGISTRY_H_INCLUDED_
#define _NGX_KRAKEN_REGISTRY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "kraken_bpf.h"
#include "kraken_engine.h"
#include "ngx_kraken_figures.h"


/*
 * The registry lives in shared memory and survives reloads: the workers
 * of every generation, and which worker holds each room, so an RPC that
 * lands anywhere reaches the room's only owner. Its tables, a file each
 * around ngx_kraken_registry_int.h:
 *
 *   ngx_kraken_registry.c  the zone and its lock, the hand-over token;
 *   ngx_kraken_slots.c     the worker slots, generations, and figures;
 *   ngx_kraken_rooms.c     which worker holds each room, and the
 *                          placement records of rooms none holds;
 *   ngx_kraken_addrs.c     which worker admitted each client address.
 */


/* at most two generations of workers (one reload) share the media ports */
#define NGX_KRAKEN_MAX_SLOTS     128

/* the secret of handed-over datagrams (ngx_kraken_media.c) */
#define NGX_KRAKEN_TOKEN_LEN     16

/* room for a worker's forwarding socket name (ngx_kraken_ipc.c) */
#define NGX_KRAKEN_IPC_NAME_LEN  64

/* an engine's name in a placement record: "host:port" (kraken_placement) */
#define NGX_KRAKEN_PLACE_NAME_LEN  64


/* ngx_kraken_registry.c */

ngx_int_t ngx_kraken_registry_add_zone(ngx_conf_t *cf, size_t size);
ngx_shm_zone_t *ngx_kraken_registry_zone(void);

/* the secret in front of handed-over datagrams, NULL without a zone */
u_char *ngx_kraken_registry_token(void);


/* ngx_kraken_slots.c */

/* The worker takes a slot; its engine's ufrag tag is the slot + 1. */
ngx_int_t ngx_kraken_registry_join(ngx_cycle_t *cycle, ngx_uint_t *slot);
void ngx_kraken_registry_leave(void);
ngx_uint_t ngx_kraken_registry_self(void);
void ngx_kraken_registry_set_port(in_port_t port);

/*
 * Datagrams of another worker's peers: every worker takes them on a
 * loopback port, with the registry's token in front.
 */
void ngx_kraken_registry_set_handoff(in_port_t port);
in_port_t ngx_kraken_registry_handoff(ngx_uint_t slot);

/*
 * The name this worker's forwarding socket listens on, and the name of
 * the socket of the worker in a slot: NGX_DECLINED unless pid still
 * holds the slot and listens.
 */
void ngx_kraken_registry_set_ipc(u_char *name, size_t len);
ngx_int_t ngx_kraken_registry_ipc(ngx_uint_t slot, ngx_pid_t pid,
    u_char *name, size_t *len);

/*
 * Whether a newer generation takes over from this worker: NGX_DECLINED
 * when the master loaded no newer configuration into this registry (nginx
 * quits, or the old workers of a binary upgrade stop), NGX_OK when a
 * worker of a newer generation is alive, NGX_AGAIN when a newer
 * configuration was loaded but none of its workers is (not registered
 * yet, that reload failed, or they exited: the master quits).
 */
ngx_int_t ngx_kraken_registry_successor(void);

/* This worker's figures into its slot (ms NULL: the engine's only). */
void ngx_kraken_registry_report(kraken_engine_stats_t *st,
    ngx_kraken_media_stats_t *ms);

/*
 * Counts an RPC call this worker answered (indexes of the lists of
 * ngx_kraken_figures.h): only the worker writes its slot's figures, so
 * no lock.
 */
void ngx_kraken_registry_count_rpc(ngx_uint_t method, ngx_uint_t code);

/*
 * The figures of the live workers, at most max of them, copied in one
 * round of the lock; returns how many were copied, or with w NULL how
 * many workers live.
 */
ngx_uint_t ngx_kraken_registry_workers(ngx_kraken_worker_stats_t *w,
    ngx_uint_t max);

/* X-Kraken-Load: one pass over the slots, nothing allocated */
ngx_int_t ngx_kraken_registry_load(ngx_kraken_load_t *load);

/*
 * A walk over the live workers in one round of the lock, for info
 * (ngx_kraken_info.c): worker() with the figures of each; then, when room
 * is not NULL, room() with the ids of the rooms of each worker for which
 * worker() returned NGX_OK, in the order they came, until room() took
 * max_rooms of them (returned NGX_OK). The callbacks run under the lock:
 * they call nothing of the registry. NGX_DECLINED without a zone.
 */
typedef ngx_int_t (*ngx_kraken_registry_worker_pt)(void *data,
    ngx_kraken_worker_stats_t *w);
typedef ngx_int_t (*ngx_kraken_registry_room_pt)(void *data,
    ngx_uint_t slot, u_char *id, size_t len);

typedef struct {
    ngx_kraken_registry_worker_pt   worker;
    ngx_kraken_registry_room_pt     room;
    ngx_uint_t                      max_rooms;
    void                           *data;
} ngx_kraken_registry_walk_t;

ngx_int_t ngx_kraken_registry_walk(ngx_kraken_registry_walk_t *walk);


/* ngx_kraken_rooms.c */

/*
 * The slot that owns a room: the one holding it, else the current
 * generation's worker chosen by the room's hash. NGX_DECLINED when no
 * worker is known (the caller handles the call itself).
 */
ngx_int_t ngx_kraken_registry_owner(u_char *room, size_t len,
    ngx_uint_t *slot, ngx_pid_t *pid);

/* A worker holds the room now: NGX_OK, else NGX_DECLINED. Places nothing. */
ngx_int_t ngx_kraken_registry_holds(u_char *room, size_t len);

/*
 * kraken_placement, in one round of the lock: NGX_DONE when a worker
 * holds the room; else the room's placement record, made for choice when
 * there is none or its owner is one of the down engines, is copied to
 * owner (NGX_KRAKEN_PLACE_NAME_LEN bytes at most): NGX_OK. With ask, no
 * record is made: NGX_DECLINED when there is none to tell.
 */
ngx_int_t ngx_kraken_registry_place(u_char *room, size_t len,
    ngx_str_t *choice, ngx_str_t *down, ngx_uint_t ndown, ngx_uint_t ask,
    u_char *owner, size_t *owner_len);

/* the engine's callbacks: a publish about to make a room; rooms come, go */
int ngx_kraken_registry_room_admit(void *data, const char *rid);
void ngx_kraken_registry_room_event(void *data, const char *rid,
    int created);


/* ngx_kraken_addrs.c */

/*
 * Client addresses: which worker admitted each (the engine's addr_event,
 * event a KRAKEN_ADDR_*), kept with the eBPF map when maps is not NULL
 * (index: this worker's socket there). Never last writer wins: see
 * ngx_kraken_addrs.c.
 */
ngx_int_t ngx_kraken_registry_addr_event(const struct sockaddr *sa,
    socklen_t len, int event, kraken_bpf_t *maps, ngx_uint_t index);
ngx_int_t ngx_kraken_registry_addr_owner(struct sockaddr *sa, socklen_t len,
    ngx_uint_t *slot);


#endif /* _NGX_KRAKEN_REGISTRY_H_INCLUDED_ */
