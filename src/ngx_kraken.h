
/*
 * Copyright (C) ngx_kraken authors
 */


#ifndef _NGX_KRAKEN_H_INCLUDED_
#define _NGX_KRAKEN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "kraken_bpf.h"


/* how datagrams reach the worker that owns their room */
#define NGX_KRAKEN_STEER_HANDOFF  0     /* the receiver hands them over */
#define NGX_KRAKEN_STEER_EBPF     1     /* the kernel picks the socket */


/* process-wide settings, at the main level: the HTTP and stream parts share */
typedef struct {
    size_t                    shm_size;
    ngx_flag_t                bpf;
    ngx_shm_zone_t           *zone;         /* NULL: no media server */

    /* the media server's "listen ... udp", NULL: none */
    struct sockaddr          *media_sockaddr;
    socklen_t                 media_socklen;
    ngx_uint_t                media_reuseport;
} ngx_kraken_conf_t;


/*
 * The stream part's media server, once its listen is known: adds the
 * registry's zone, sized by kraken_shm_size once parsed, and keeps where
 * the server listens for the steering and the workers.
 */
ngx_int_t ngx_kraken_add_media(ngx_conf_t *cf, struct sockaddr *sockaddr,
    socklen_t socklen, ngx_uint_t reuseport);

/* Whether ls is a socket of cycle's media server listen: NGX_OK or not. */
ngx_int_t ngx_kraken_listening_is_media(ngx_cycle_t *cycle,
    ngx_listening_t *ls);

/*
 * The steering of this generation, set by the master before it forks
 * the workers; the eBPF maps (NULL without eBPF) outlive reloads.
 */
ngx_uint_t ngx_kraken_steering(void);
kraken_bpf_t *ngx_kraken_bpf(void);


extern ngx_module_t  ngx_kraken_module;
extern ngx_module_t  ngx_http_kraken_module;


#endif /* _NGX_KRAKEN_H_INCLUDED_ */
