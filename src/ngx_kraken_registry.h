
/*
 * Copyright (C) ngx_kraken authors
 */


#ifndef _NGX_KRAKEN_REGISTRY_H_INCLUDED_
#define _NGX_KRAKEN_REGISTRY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <cJSON.h>

#include "kraken_bpf.h"
#include "kraken_engine.h"
#include "kraken_id.h"


/* at most two generations of workers (one reload) share the media ports */
#define NGX_KRAKEN_MAX_SLOTS     128

/* the secret of handed-over datagrams (ngx_kraken_media.c) */
#define NGX_KRAKEN_TOKEN_LEN     16

/* room for a worker's forwarding socket name (ngx_kraken_ipc.c) */
#define NGX_KRAKEN_IPC_NAME_LEN  64

/* an engine's name in a placement record: "host:port" (kraken_placement) */
#define NGX_KRAKEN_PLACE_NAME_LEN  64


/* the glue's own figures of a worker, beside its engine's */
typedef struct {
    ngx_uint_t                steering;     /* NGX_KRAKEN_STEER_* */
    uint64_t                  handoff_sent;
    uint64_t                  handoff_received;
    uint64_t                  handoff_dropped;
    uint64_t                  handoff_refused;

    /* for X-Kraken-Load: measured in the media timer, bounds (0: none) */
    ngx_uint_t                cpu;          /* percent of one core */
    ngx_uint_t                pps;          /* RTP packets forwarded/s */
    ngx_uint_t                worker_peers;
    ngx_uint_t                worker_rooms;
} ngx_kraken_media_stats_t;


/*
 * RPC calls a worker took, by method and by answer: a Kraken method, or
 * "other" for none or an unknown one; success (0), a Kraken error code,
 * the HTTP status of an answer that is not Kraken's, or "other". The
 * metrics (ngx_kraken_metrics.c) render them.
 */
#define NGX_KRAKEN_RPC_METHODS(X)                                            \
    X(turn) X(info) X(list) X(publish) X(restart) X(end) X(trickle)          \
    X(subscribe) X(answer) X(other)

#define NGX_KRAKEN_RPC_CODES(X)                                              \
    X(KRAKEN_OK)                                                             \
    X(KRAKEN_ERR_INVALID_PARAMS)                                             \
    X(KRAKEN_ERR_INVALID_SDP)                                                \
    X(KRAKEN_ERR_INVALID_CANDIDATE)                                          \
    X(KRAKEN_ERR_ROOM_FULL)                                                  \
    X(KRAKEN_ERR_PEER_NOT_FOUND)                                             \
    X(KRAKEN_ERR_PEER_CLOSED)                                                \
    X(KRAKEN_ERR_TRACK_NOT_FOUND)                                            \
    X(KRAKEN_ERR_SERVER_NEW_PEER)                                            \
    X(KRAKEN_ERR_SERVER_CREATE_OFFER)                                        \
    X(KRAKEN_ERR_SERVER_SET_LOCAL_OFFER)                                     \
    X(KRAKEN_ERR_SERVER_NEW_TRACK)                                           \
    X(KRAKEN_ERR_SERVER_ADD_TRANSCEIVER)                                     \
    X(KRAKEN_ERR_SERVER_SET_REMOTE_OFFER)                                    \
    X(KRAKEN_ERR_SERVER_CREATE_ANSWER)                                       \
    X(KRAKEN_ERR_SERVER_SET_LOCAL_ANSWER)                                    \
    X(KRAKEN_ERR_SERVER_SET_REMOTE_ANSWER)                                   \
    X(KRAKEN_ERR_SERVER_TIMEOUT)                                             \
    X(NGX_HTTP_BAD_REQUEST)                                                  \
    X(NGX_HTTP_FORBIDDEN)                                                    \
    X(NGX_HTTP_NOT_FOUND)                                                    \
    X(NGX_HTTP_REQUEST_ENTITY_TOO_LARGE)                                     \
    X(NGX_HTTP_INTERNAL_SERVER_ERROR)

#define NGX_KRAKEN_RPC_METHOD_ENUM(name)  NGX_KRAKEN_RPC_METHOD_##name,
#define NGX_KRAKEN_RPC_CODE_ENUM(code)    NGX_KRAKEN_RPC_##code,

enum {
    NGX_KRAKEN_RPC_METHODS(NGX_KRAKEN_RPC_METHOD_ENUM)
    NGX_KRAKEN_RPC_NMETHODS
};

enum {
    NGX_KRAKEN_RPC_CODES(NGX_KRAKEN_RPC_CODE_ENUM)
    NGX_KRAKEN_RPC_CODE_OTHER,
    NGX_KRAKEN_RPC_NCODES
};

typedef struct {
    uint64_t                  calls[NGX_KRAKEN_RPC_NMETHODS]
                                   [NGX_KRAKEN_RPC_NCODES];
} ngx_kraken_rpc_stats_t;


/* what the metrics read of a live worker */
typedef struct {
    ngx_uint_t                slot;
    ngx_pid_t                 pid;
    ngx_uint_t                generation;
    kraken_engine_stats_t     stats;
    ngx_kraken_media_stats_t  mstats;
    ngx_kraken_rpc_stats_t    rpc;
} ngx_kraken_worker_stats_t;


/* an engine's load, as X-Kraken-Load tells it to fronts */
typedef struct {
    ngx_uint_t                cpu;          /* newest generation's average */
    ngx_uint_t                peers;
    ngx_uint_t                peers_max;    /* 0: unbounded */
    ngx_uint_t                rooms;
    ngx_uint_t                rooms_max;    /* 0: unbounded */
    ngx_uint_t                pps;
} ngx_kraken_load_t;


ngx_int_t ngx_kraken_registry_add_zone(ngx_conf_t *cf, size_t size);
ngx_shm_zone_t *ngx_kraken_registry_zone(void);

/* The worker takes a slot; its engine's ufrag tag is the slot + 1. */
ngx_int_t ngx_kraken_registry_join(ngx_cycle_t *cycle, ngx_uint_t *slot);
void ngx_kraken_registry_set_port(in_port_t port);

/*
 * Datagrams of another worker's peers: every worker takes them on a
 * loopback port, with the registry's token in front.
 */
void ngx_kraken_registry_set_handoff(in_port_t port);
in_port_t ngx_kraken_registry_handoff(ngx_uint_t slot);
u_char *ngx_kraken_registry_token(void);

/*
 * Client addresses: which worker admitted each (the engine's addr_event,
 * event a KRAKEN_ADDR_*), kept with the eBPF map when maps is not NULL
 * (index: this worker's socket there). Never last writer wins: see
 * ngx_kraken_registry.c.
 */
ngx_int_t ngx_kraken_registry_addr_event(const struct sockaddr *sa,
    socklen_t len, int event, kraken_bpf_t *maps, ngx_uint_t index);
ngx_int_t ngx_kraken_registry_addr_owner(struct sockaddr *sa, socklen_t len,
    ngx_uint_t *slot);
void ngx_kraken_registry_leave(void);

/*
 * Whether a newer generation takes over from this worker: NGX_DECLINED
 * when the master loaded no newer configuration into this registry (nginx
 * quits, or the old workers of a binary upgrade stop), NGX_OK when a
 * worker of a newer generation is alive, NGX_AGAIN when a newer
 * configuration was loaded but none of its workers is (not registered
 * yet, that reload failed, or they exited: the master quits).
 */
ngx_int_t ngx_kraken_registry_successor(void);

/*
 * The slot that owns a room: the one holding it, else the current
 * generation's worker chosen by the room's hash. NGX_DECLINED when no
 * worker is known (the caller handles the call itself).
 */
ngx_int_t ngx_kraken_registry_owner(u_char *room, size_t len,
    ngx_uint_t *slot, ngx_pid_t *pid);

ngx_uint_t ngx_kraken_registry_self(void);

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

/*
 * The name this worker's forwarding socket listens on, and the name of
 * the socket of the worker in a slot: NGX_DECLINED unless pid still
 * holds the slot and listens.
 */
void ngx_kraken_registry_set_ipc(u_char *name, size_t len);
ngx_int_t ngx_kraken_registry_ipc(ngx_uint_t slot, ngx_pid_t pid,
    u_char *name, size_t *len);

/* engine callbacks and reports */
int ngx_kraken_registry_room_admit(void *data, const char *rid);
void ngx_kraken_registry_room_event(void *data, const char *rid,
    int created);
void ngx_kraken_registry_report(kraken_engine_stats_t *st,
    ngx_kraken_media_stats_t *ms);

/*
 * info: the whole engine, every live worker summed; with details, where
 * rooms live (each worker's pid, port and room ids)
 */
void ngx_kraken_registry_info(void *data, cJSON *state, int details);

/*
 * Counts an RPC call this worker answered (indexes of the lists above):
 * only the worker writes its slot's figures, so no lock.
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


#endif /* _NGX_KRAKEN_REGISTRY_H_INCLUDED_ */
