
/*
 * Copyright (C) ngx_kraken authors
 */


#ifndef _NGX_KRAKEN_REGISTRY_INT_H_INCLUDED_
#define _NGX_KRAKEN_REGISTRY_INT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_kraken_registry.h"


/*
 * The registry's own header, for its files only: the zone set-up and the
 * lock (ngx_kraken_registry.c), the worker slots and their generations
 * (ngx_kraken_slots.c), the rooms with their placement records
 * (ngx_kraken_rooms.c) and the client addresses (ngx_kraken_addrs.c).
 *
 * Calls go one way: every table's file calls ngx_kraken_registry.c,
 * which calls none of them, and ngx_kraken_slots.c calls the rooms' and
 * the addresses' (a worker that takes or leaves a slot purges what its
 * predecessor had there; info's walk lists a slot's rooms), which call
 * neither the slots' file nor each other.
 *
 * Everything here is read and written under the zone's lock
 * (ngx_kraken_shpool->mutex), but for what a comment says otherwise.
 */


/*
 * A room's node takes at most this much of the zone: the node and a
 * 256-byte id, rounded up to the slab's size class.
 */
#define NGX_KRAKEN_ROOM_SIZE   512

/* at most one line a minute about a full table, per worker and table */
#define NGX_KRAKEN_FULL_LOG    60

/*
 * A placement record takes at most this much of the zone (the node, a
 * 256-byte id and a 64-byte name); records take at most an eighth of
 * the zone.
 */
#define NGX_KRAKEN_PLACE_SIZE  512


/*
 * A worker's slot: who holds it (the epoch counts its holders), where it
 * listens, and its figures, which only its holder writes (rpc without
 * the lock).
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


/*
 * A room a worker holds, in the zone's tree by id and in its slot's list;
 * stale when its epoch is older than its slot's (that worker went).
 */
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
 * An entry of the client addresses' table (ngx_kraken_addrs.c): its owner
 * (slot and the slot's epoch), whether the owner's peer proved the
 * address with its keys, and the key, hashed and compared, which is what
 * follows "epoch".
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


/* the zone: what every table shares, then each table */
typedef struct {
    ngx_uint_t                generation;       /* configurations loaded */
    u_char                    token[NGX_KRAKEN_TOKEN_LEN];

    /* ngx_kraken_slots.c */
    ngx_kraken_slot_t         slots[NGX_KRAKEN_MAX_SLOTS];

    /* ngx_kraken_rooms.c: rooms, by id */
    ngx_rbtree_t              rbtree;
    ngx_rbtree_node_t         sentinel;
    ngx_uint_t                nrooms;
    ngx_uint_t                max_rooms;        /* what the zone holds */

    /* ngx_kraken_rooms.c: placement records, by room id */
    ngx_rbtree_t              places;
    ngx_rbtree_node_t         places_sentinel;
    ngx_queue_t               places_lru;
    ngx_uint_t                nplaces;
    ngx_uint_t                max_places;

    /* ngx_kraken_addrs.c */
    ngx_kraken_addr_entry_t  *addrs;
    ngx_uint_t                addrs_mask;       /* capacity - 1 */
    ngx_uint_t                naddrs;
} ngx_kraken_shctx_t;


/* ngx_kraken_registry.c: the zone, NULL without kraken; this worker's */
extern ngx_kraken_shctx_t  *ngx_kraken_sh;
extern ngx_slab_pool_t     *ngx_kraken_shpool;
extern ngx_uint_t           ngx_kraken_self_slot;    /* MAX_SLOTS: none */
extern ngx_uint_t           ngx_kraken_generation;   /* of its configuration */

/* the slot's holder lives (a slot of pid 0 is free) */
ngx_uint_t ngx_kraken_registry_alive(ngx_kraken_slot_t *s);

/* ngx_kraken_rooms.c: the rooms of a slot whose holder went, locked */
void ngx_kraken_rooms_purge_locked(ngx_uint_t slot);

/*
 * ngx_kraken_rooms.c: the slot's rooms in the order they came, locked,
 * until room() took max of them (returned NGX_OK)
 */
void ngx_kraken_rooms_list_locked(ngx_uint_t slot, ngx_uint_t max,
    ngx_kraken_registry_room_pt room, void *data);

/* ngx_kraken_addrs.c: the client addresses of a slot, locked */
void ngx_kraken_addrs_purge_locked(ngx_uint_t slot);


#endif /* _NGX_KRAKEN_REGISTRY_INT_H_INCLUDED_ */
