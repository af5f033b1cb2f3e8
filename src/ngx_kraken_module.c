
/*
 * Copyright (C) ngx_kraken authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_kraken.h"
#include "ngx_kraken_registry.h"


/*
 * The core part: what the HTTP and the stream parts share, at the main
 * level the way thread_pool and quic_bpf sit there. In the master it
 * steers the media port's datagrams: with reuseport and eBPF, an
 * SK_REUSEPORT program picks the socket of the worker that owns the
 * datagram's room (kraken_bpf.c); without, the workers hand datagrams
 * over to each other (ngx_kraken_media.c). The stream part tells it
 * where the media server listens (ngx_kraken_add_media()): it reads no
 * other part's configuration.
 */

/* sockets of one reuseport group: a worker each */
#define NGX_KRAKEN_BPF_SOCKS   256

/* client addresses the kernel map holds */
#define NGX_KRAKEN_BPF_ADDRS   65536


static void *ngx_kraken_create_conf(ngx_cycle_t *cycle);
static char *ngx_kraken_init_conf(ngx_cycle_t *cycle, void *conf);
static ngx_int_t ngx_kraken_init_module(ngx_cycle_t *cycle);
static void ngx_kraken_exit_master(ngx_cycle_t *cycle);


static ngx_command_t  ngx_kraken_commands[] = {

    { ngx_string("kraken_shm_size"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      0,
      offsetof(ngx_kraken_conf_t, shm_size),
      NULL },

    { ngx_string("kraken_bpf"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      0,
      offsetof(ngx_kraken_conf_t, bpf),
      NULL },

      ngx_null_command
};


static ngx_core_module_t  ngx_kraken_module_ctx = {
    ngx_string("kraken"),
    ngx_kraken_create_conf,
    ngx_kraken_init_conf
};


ngx_module_t  ngx_kraken_module = {
    NGX_MODULE_V1,
    &ngx_kraken_module_ctx,                /* module context */
    ngx_kraken_commands,                   /* module directives */
    NGX_CORE_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_kraken_init_module,                /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    ngx_kraken_exit_master,                /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * The maps live as long as the master: the workers of an older
 * generation keep filling the same maps the new program reads.
 */
static kraken_bpf_t  *ngx_kraken_bpf_maps;
static ngx_uint_t     ngx_kraken_steer = NGX_KRAKEN_STEER_HANDOFF;


ngx_uint_t
ngx_kraken_steering(void)
{
    return ngx_kraken_steer;
}


kraken_bpf_t *
ngx_kraken_bpf(void)
{
    return ngx_kraken_steer == NGX_KRAKEN_STEER_EBPF ? ngx_kraken_bpf_maps
                                                     : NULL;
}


static void *
ngx_kraken_create_conf(ngx_cycle_t *cycle)
{
    ngx_kraken_conf_t  *kcf;

    kcf = ngx_pcalloc(cycle->pool, sizeof(ngx_kraken_conf_t));
    if (kcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     kcf->zone = NULL;
     *     kcf->media_sockaddr = NULL;
     *     kcf->media_reuseport = 0;
     */

    kcf->shm_size = NGX_CONF_UNSET_SIZE;
    kcf->bpf = NGX_CONF_UNSET;

    return kcf;
}


static char *
ngx_kraken_init_conf(ngx_cycle_t *cycle, void *conf)
{
    ngx_kraken_conf_t  *kcf = conf;

    ngx_conf_init_size_value(kcf->shm_size, 8 * 1024 * 1024);
    ngx_conf_init_value(kcf->bpf, 1);

    if (kcf->shm_size < 128 * 1024) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "\"kraken_shm_size\" must be at least 128k");
        return NGX_CONF_ERROR;
    }

    /* the stream part added the zone while the size was maybe unknown */
    if (kcf->zone) {
        kcf->zone->shm.size = kcf->shm_size;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_kraken_add_media(ngx_conf_t *cf, struct sockaddr *sockaddr,
    socklen_t socklen, ngx_uint_t reuseport)
{
    ngx_kraken_conf_t  *kcf;

    kcf = (ngx_kraken_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                             ngx_kraken_module);

    if (ngx_kraken_registry_add_zone(cf, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    kcf->zone = ngx_kraken_registry_zone();
    kcf->media_sockaddr = sockaddr;
    kcf->media_socklen = socklen;
    kcf->media_reuseport = reuseport;

    return NGX_OK;
}


ngx_int_t
ngx_kraken_listening_is_media(ngx_cycle_t *cycle, ngx_listening_t *ls)
{
    ngx_kraken_conf_t  *kcf;

    kcf = (ngx_kraken_conf_t *) ngx_get_conf(cycle->conf_ctx,
                                             ngx_kraken_module);

    if (kcf->media_sockaddr == NULL
        || ls->type != SOCK_DGRAM || ls->fd == (ngx_socket_t) -1
        || ngx_cmp_sockaddr(ls->sockaddr, ls->socklen, kcf->media_sockaddr,
                            kcf->media_socklen, 1)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * In the master, after nginx opened the listening sockets: the media
 * port's sockets, one per worker with reuseport, go into the program's
 * socket array at their worker's index, and the program is attached to
 * the group.
 */

static ngx_int_t
ngx_kraken_init_module(ngx_cycle_t *cycle)
{
    char                err[256];
    ngx_uint_t          i, n;
    ngx_listening_t    *ls;
    ngx_kraken_conf_t  *kcf;

    ngx_kraken_steer = NGX_KRAKEN_STEER_HANDOFF;

    if (ngx_test_config) {
        return NGX_OK;
    }

    kcf = (ngx_kraken_conf_t *) ngx_get_conf(cycle->conf_ctx,
                                             ngx_kraken_module);

    if (kcf->media_sockaddr == NULL) {
        return NGX_OK;
    }

    if (!kcf->bpf) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "kraken: \"kraken_bpf off\": datagrams are handed "
                      "over between workers");
        return NGX_OK;
    }

    if (!kcf->media_reuseport) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "kraken: the media listen has no \"reuseport\": "
                      "datagrams are handed over between workers");
        return NGX_OK;
    }

    if (ngx_kraken_bpf_maps == NULL) {
        ngx_kraken_bpf_maps = kraken_bpf_create(NGX_KRAKEN_BPF_SOCKS,
                                                NGX_KRAKEN_BPF_ADDRS,
                                                err, sizeof(err));
        if (ngx_kraken_bpf_maps == NULL) {
            ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                          "kraken: eBPF steering is not available (%s): "
                          "datagrams are handed over between workers",
                          err);
            return NGX_OK;
        }
    }

    ls = cycle->listening.elts;
    n = 0;

    for (i = 0; i < cycle->listening.nelts; i++) {

        if (ngx_kraken_listening_is_media(cycle, &ls[i]) != NGX_OK) {
            continue;
        }

        if (ls[i].worker >= NGX_KRAKEN_BPF_SOCKS
            || kraken_bpf_set_socket(ngx_kraken_bpf_maps, ls[i].worker,
                                     ls[i].fd) != 0
            || (n == 0 && kraken_bpf_attach(ngx_kraken_bpf_maps, ls[i].fd)
                          != 0))
        {
            ngx_log_error(NGX_LOG_NOTICE, cycle->log, ngx_errno,
                          "kraken: eBPF steering could not be set up on "
                          "%V: datagrams are handed over between workers",
                          &ls[i].addr_text);
            return NGX_OK;
        }

        n++;
    }

    if (n == 0) {
        return NGX_OK;
    }

    ngx_kraken_steer = NGX_KRAKEN_STEER_EBPF;

    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                  "kraken: eBPF steers the media port's datagrams over "
                  "%ui worker sockets", n);

    return NGX_OK;
}


static void
ngx_kraken_exit_master(ngx_cycle_t *cycle)
{
    if (ngx_kraken_bpf_maps) {
        kraken_bpf_free(ngx_kraken_bpf_maps);
        ngx_kraken_bpf_maps = NULL;
    }
}
