
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
} ngx_kraken_conf_t;


/* Adds the registry's zone, sized by kraken_shm_size once parsed. */
ngx_int_t ngx_kraken_add_zone(ngx_conf_t *cf);

/*
 * The steering of this generation, set by the master before it forks
 * the workers; the eBPF maps (NULL without eBPF) outlive reloads.
 */
ngx_uint_t ngx_kraken_steering(void);
kraken_bpf_t *ngx_kraken_bpf(void);


extern ngx_module_t  ngx_kraken_module;
extern ngx_module_t  ngx_http_kraken_module;
extern ngx_module_t  ngx_stream_kraken_module;


#endif /* _NGX_KRAKEN_H_INCLUDED_ */
