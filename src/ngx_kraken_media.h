
/*
 * Copyright (C) ngx_kraken authors
 */


#ifndef _NGX_KRAKEN_MEDIA_H_INCLUDED_
#define _NGX_KRAKEN_MEDIA_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "kraken_engine.h"
#include "ngx_kraken_ipc.h"


/* the media server's settings (ngx_stream_kraken_module.c) */
typedef struct {
    ngx_str_t                announce;      /* IP in our candidates */
    ngx_msec_t               consent_timeout;
    ngx_msec_t               connect_timeout;
    ngx_msec_t               closed_peer_time;
    size_t                   socket_buffer;
    ngx_msec_t               drain_timeout; /* old generation's calls */

    /* bounds, 0: none */
    ngx_uint_t               room_peers;
    ngx_uint_t               worker_rooms;
    ngx_uint_t               worker_peers;
    ngx_uint_t               worker_connecting;
    ngx_uint_t               peer_candidates;
    ngx_uint_t               peer_streams;  /* others one peer receives */
} ngx_kraken_media_conf_t;


/* the stream part's main configuration: where the media server listens */
typedef struct {
    ngx_kraken_media_conf_t *media;         /* NULL: no kraken_media */
    struct sockaddr         *sockaddr;
    socklen_t                socklen;
    in_port_t                port;
    ngx_uint_t               reuseport;
} ngx_stream_kraken_main_conf_t;


/* The HTTP part runs the calls other workers forward here. */
void ngx_kraken_media_set_rpc(ngx_kraken_ipc_handler_pt rpc);

ngx_int_t ngx_kraken_media_init_process(ngx_cycle_t *cycle,
    ngx_stream_kraken_main_conf_t *kmcf);
void ngx_kraken_media_exit_process(ngx_cycle_t *cycle);

/* The engine of this worker; NULL when the media plane is not running. */
kraken_engine_t *ngx_kraken_media_engine(void);

/*
 * This worker's peers and rooms into the registry now, not at the next
 * tick: an answer's X-Kraken-Load then counts what its call changed.
 */
void ngx_kraken_media_report(void);


#endif /* _NGX_KRAKEN_MEDIA_H_INCLUDED_ */
