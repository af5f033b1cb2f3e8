
/*
 * Copyright (C) ngx_kraken authors
 */


#ifndef _NGX_KRAKEN_FIGURES_H_INCLUDED_
#define _NGX_KRAKEN_FIGURES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "kraken_engine.h"


/*
 * The figures of a worker, beside its engine's (kraken_engine_stats_t):
 * the media glue measures them (ngx_kraken_media.c, ngx_kraken_handoff.c),
 * the HTTP glue counts RPC calls (ngx_kraken_metrics_rpc), each worker
 * reports its own into its registry slot, and the metrics, info and
 * X-Kraken-Load read every live worker's from there.
 */


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


/* what the metrics and info read of a live worker */
typedef struct {
    ngx_uint_t                slot;
    ngx_pid_t                 pid;
    ngx_uint_t                generation;
    ngx_uint_t                worker;       /* ngx_worker */
    in_port_t                 port;
    ngx_uint_t                nrooms;       /* rooms it holds */
    ngx_uint_t                naddrs;       /* client addresses it owns */
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


#endif /* _NGX_KRAKEN_FIGURES_H_INCLUDED_ */
