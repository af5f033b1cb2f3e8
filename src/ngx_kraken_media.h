
/*
 * Copyright (C) ngx_kraken authors
 */


#ifndef _NGX_KRAKEN_MEDIA_H_INCLUDED_
#define _NGX_KRAKEN_MEDIA_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "kraken_engine.h"
#include "ngx_kraken_ipc.h"


typedef struct {
    ngx_addr_t              *listen;        /* base address and port */
    ngx_str_t                announce;      /* IP in our candidates */
    ngx_msec_t               consent_timeout;
    ngx_msec_t               connect_timeout;
    ngx_msec_t               tombstone_time;
    size_t                   socket_buffer;
    size_t                   shm_size;
    ngx_msec_t               drain_timeout; /* old generation's calls */

    /* bounds, 0: none */
    ngx_uint_t               room_peers;
    ngx_uint_t               worker_rooms;
    ngx_uint_t               worker_peers;
    ngx_uint_t               worker_connecting;
    ngx_uint_t               peer_candidates;
} ngx_kraken_media_conf_t;


ngx_int_t ngx_kraken_media_init_process(ngx_cycle_t *cycle,
    ngx_kraken_media_conf_t *mcf, ngx_kraken_ipc_handler_pt rpc);
void ngx_kraken_media_exit_process(ngx_cycle_t *cycle);

/* The engine of this worker; NULL when the media plane is not running. */
kraken_engine_t *ngx_kraken_media_engine(void);



#endif /* _NGX_KRAKEN_MEDIA_H_INCLUDED_ */
