
/*
 * Copyright (C) ngx_kraken authors
 */


#ifndef _NGX_HTTP_UPSTREAM_KRAKEN_H_INCLUDED_
#define _NGX_HTTP_UPSTREAM_KRAKEN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_kraken_cluster.h"


/*
 * kraken_balance: the front nginx's balancer over engine hosts, in an
 * upstream block like hash or least_conn. Every call of a room reaches
 * the engine that holds the room; a new room goes to the engine with the
 * most headroom, judged from the figures each engine sends on every
 * answer (X-Kraken-Load). What a front knows of rooms lives in a shared
 * zone of its workers. A front that does not know a room (new, or the
 * front restarted) sends the call to the room's home engine, the same
 * for every front (a rendezvous hash of the room over the engines), with
 * its choice in X-Kraken-Place: the home records the first choice it
 * hears and sends every front to the same engine (404, X-Kraken-Owner),
 * so two fronts never split a room.
 *
 * The balancer's files, each calling only those below it (this header
 * is theirs alone; the headers' grammar is ngx_kraken_cluster.h's):
 *
 *   ngx_http_upstream_kraken_module.c   the directive, its configuration,
 *                                       $kraken_place, a request's peer
 *                                       data (the only file that names
 *                                       the module);
 *   ngx_http_upstream_kraken_peer.c     each try's engine, and the end of
 *                                       each try;
 *   ngx_http_upstream_kraken_answer.c   what an engine's answer tells:
 *                                       its load, where the room lives;
 *   ngx_http_upstream_kraken_plan.c     a call's plan: the room's owner,
 *                                       home and choice, the engines'
 *                                       figures and headroom, the
 *                                       X-Kraken-Place it sends;
 *   ngx_http_upstream_kraken_rooms.c    the zone: the rooms this front
 *                                       knows, least recently used.
 */

/* engines of one upstream with figures in the zone */
#define NGX_KRAKEN_BALANCE_PEERS   64

/* a room no call named for this long is forgotten (kraken.fm polls 3 s) */
#define NGX_KRAKEN_BALANCE_IDLE    600

/* an engine that refused a call by its bounds (X-Kraken-Busy): no new room */
#define NGX_KRAKEN_BALANCE_BUSY    10

/* headroom in millionths; engines this close to the best are tied */
#define NGX_KRAKEN_BALANCE_FULL    1000000
#define NGX_KRAKEN_BALANCE_TIE     50000

#define NGX_KRAKEN_NAME_LEN        NGX_KRAKEN_CLUSTER_NAME_LEN

/*
 * X-Kraken-Place has a fixed width, padded with spaces (which nginx's
 * parser drops at the engine): each try rewrites it in the request with
 * what the front knows then, engines that failed meanwhile included.
 */
#define NGX_KRAKEN_PLACE_LEN       NGX_KRAKEN_CLUSTER_PLACE_LEN


/* an engine's figures: its last X-Kraken-Load, and this front's own */
typedef struct {
    uint32_t                        name_hash;  /* of the peer's name */
    ngx_uint_t                      cpu;        /* percent */
    ngx_uint_t                      peers;
    ngx_uint_t                      peers_max;  /* 0: unbounded */
    ngx_uint_t                      rooms;
    ngx_uint_t                      rooms_max;  /* 0: unbounded */
    ngx_uint_t                      placing;    /* placed by this front,
                                                   not in the figures yet */
    time_t                          busy_until;
    time_t                          updated;
} ngx_http_upstream_kraken_figures_t;


typedef struct {
    ngx_str_node_t                  sn;
    ngx_queue_t                     queue;      /* least recently used */
    time_t                          used;
    u_char                          owner_len;
    u_char                          owner[NGX_KRAKEN_NAME_LEN];
    u_char                          data[1];
} ngx_http_upstream_kraken_room_t;


typedef struct {
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     lru;
    ngx_http_upstream_kraken_figures_t  figures[NGX_KRAKEN_BALANCE_PEERS];
} ngx_http_upstream_kraken_shctx_t;


typedef struct {
    ngx_shm_zone_t                 *zone;
    ngx_int_t                       room_index;  /* $kraken_room */
} ngx_http_upstream_kraken_srv_conf_t;


/* one call's plan, made when the request to the engine is created */
typedef struct {
    ngx_str_t                       room;
    ngx_int_t                       owner;      /* known: peer index */
    ngx_int_t                       home;
    ngx_int_t                       choice;
    ngx_str_t                       place;      /* X-Kraken-Place */
    u_char                         *stamp;      /* it, in the request */
    ngx_uint_t                      stamped;    /* looked for it */
    uintptr_t                       asked;      /* engines asked, bits */
    unsigned                        ask:1;      /* this try asks */
    unsigned                        owner_tried:1;
    unsigned                        placed:1;
    ngx_str_t                       redirect;   /* X-Kraken-Owner heard */
    ngx_str_t                       stranger;   /* ... not a server here */
    ngx_int_t                       placing;    /* counted on this engine */
    ngx_shm_zone_t                 *zone;
} ngx_http_upstream_kraken_ctx_t;


typedef struct {
    /* the round robin peer data must be first */
    ngx_http_upstream_rr_peer_data_t     rrp;
    ngx_http_request_t                  *request;
    ngx_http_upstream_kraken_srv_conf_t *conf;
    ngx_http_upstream_kraken_ctx_t      *ctx;
    ngx_uint_t                           tries;
} ngx_http_upstream_kraken_peer_data_t;


/* ngx_http_upstream_kraken_peer.c */
ngx_int_t ngx_http_upstream_get_kraken_peer(ngx_peer_connection_t *pc,
    void *data);
void ngx_http_upstream_free_kraken_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t state);

/* ngx_http_upstream_kraken_answer.c */
void ngx_http_upstream_kraken_answer(ngx_http_upstream_kraken_peer_data_t *kp,
    ngx_uint_t index);

/* ngx_http_upstream_kraken_plan.c */
ngx_http_upstream_kraken_ctx_t *ngx_http_upstream_kraken_plan(
    ngx_http_request_t *r, ngx_http_upstream_kraken_srv_conf_t *kcf,
    ngx_http_upstream_rr_peers_t *peers);
void ngx_http_upstream_kraken_choose(ngx_http_upstream_kraken_ctx_t *ctx,
    ngx_http_upstream_rr_peers_t *peers,
    ngx_http_upstream_kraken_shctx_t *sh, time_t now);
void ngx_http_upstream_kraken_place(ngx_http_upstream_kraken_ctx_t *ctx,
    ngx_http_upstream_rr_peers_t *peers, u_char *p);
void ngx_http_upstream_kraken_placing(ngx_http_upstream_kraken_ctx_t *ctx,
    ngx_http_upstream_kraken_shctx_t *sh, ngx_int_t index);
ngx_http_upstream_kraken_figures_t *ngx_http_upstream_kraken_figures(
    ngx_http_upstream_kraken_shctx_t *sh, ngx_uint_t i,
    ngx_http_upstream_rr_peer_t *peer);
ngx_int_t ngx_http_upstream_kraken_usable(ngx_http_upstream_rr_peer_t *peer,
    time_t now);
ngx_int_t ngx_http_upstream_kraken_peer_index(
    ngx_http_upstream_rr_peers_t *peers, u_char *name, size_t len);
uint32_t ngx_http_upstream_kraken_score(ngx_str_t *room, ngx_str_t *name);

/* ngx_http_upstream_kraken_rooms.c: remember, forget take the lock */
ngx_int_t ngx_http_upstream_kraken_init_zone(ngx_shm_zone_t *zone,
    void *data);
ngx_http_upstream_kraken_room_t *ngx_http_upstream_kraken_lookup(
    ngx_http_upstream_kraken_shctx_t *sh, ngx_str_t *room, uint32_t hash);
void ngx_http_upstream_kraken_remember(
    ngx_http_upstream_kraken_srv_conf_t *kcf, ngx_str_t *room,
    ngx_str_t *owner);
void ngx_http_upstream_kraken_forget(ngx_http_upstream_kraken_srv_conf_t *kcf,
    ngx_str_t *room, ngx_str_t *owner);


#endif /* _NGX_HTTP_UPSTREAM_KRAKEN_H_INCLUDED_ */
