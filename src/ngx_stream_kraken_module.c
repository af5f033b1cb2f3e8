
/*
 * Copyright (C) ngx_kraken authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_kraken.h"
#include "ngx_kraken_media.h"


/*
 * The media plane as a stream server: "listen ... udp" names the port,
 * nginx's master creates the sockets (one per worker with reuseport),
 * and each worker's engine reads its own with ngx_kraken_media.c's
 * batched handler instead of one stream session per datagram.
 */

typedef struct {
    ngx_kraken_media_conf_t   media;
    ngx_flag_t                enable;
} ngx_stream_kraken_srv_conf_t;


static ngx_int_t ngx_stream_kraken_init(ngx_conf_t *cf);
static ngx_int_t ngx_stream_kraken_probe(ngx_conf_t *cf,
    ngx_stream_listen_t *ls);
static void *ngx_stream_kraken_create_main_conf(ngx_conf_t *cf);
static void *ngx_stream_kraken_create_srv_conf(ngx_conf_t *cf);
static char *ngx_stream_kraken_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_stream_kraken_media(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_stream_kraken_deprecated(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static void ngx_stream_kraken_handler(ngx_stream_session_t *s);
static ngx_int_t ngx_stream_kraken_init_process(ngx_cycle_t *cycle);
static void ngx_stream_kraken_exit_process(ngx_cycle_t *cycle);


/* the engine's bounds are unsigned; 0 turns one off */
static ngx_conf_num_bounds_t  ngx_stream_kraken_bound = {
    ngx_conf_check_num_bounds, 0, NGX_MAX_INT32_VALUE
};


/* a session, its own audio included, holds KRAKEN_SDP_MAX_MEDIA m-lines */
static ngx_conf_num_bounds_t  ngx_stream_kraken_streams = {
    ngx_conf_check_num_bounds, 1, KRAKEN_PEER_STREAMS_MAX
};


/* a deprecated name's post: the name it stands for */
static ngx_str_t  ngx_stream_kraken_media_consent_timeout =
    ngx_string("kraken_media_consent_timeout");
static ngx_str_t  ngx_stream_kraken_media_connect_timeout =
    ngx_string("kraken_media_connect_timeout");
static ngx_str_t  ngx_stream_kraken_media_closed_peer_time =
    ngx_string("kraken_media_closed_peer_time");
static ngx_str_t  ngx_stream_kraken_media_drain_timeout =
    ngx_string("kraken_media_drain_timeout");
static ngx_str_t  ngx_stream_kraken_media_room_peers =
    ngx_string("kraken_media_room_peers");
static ngx_str_t  ngx_stream_kraken_media_worker_rooms =
    ngx_string("kraken_media_worker_rooms");
static ngx_str_t  ngx_stream_kraken_media_worker_peers =
    ngx_string("kraken_media_worker_peers");
static ngx_str_t  ngx_stream_kraken_media_worker_connecting =
    ngx_string("kraken_media_worker_connecting");
static ngx_str_t  ngx_stream_kraken_media_peer_candidates =
    ngx_string("kraken_media_peer_candidates");
static ngx_str_t  ngx_stream_kraken_media_peer_streams =
    ngx_string("kraken_media_peer_streams");


static ngx_command_t  ngx_stream_kraken_commands[] = {

    { ngx_string("kraken_media"),
      NGX_STREAM_SRV_CONF|NGX_CONF_NOARGS,
      ngx_stream_kraken_media,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kraken_media_announce"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_kraken_srv_conf_t, media.announce),
      NULL },

    { ngx_string("kraken_media_consent_timeout"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_kraken_srv_conf_t, media.consent_timeout),
      NULL },

    { ngx_string("kraken_media_connect_timeout"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_kraken_srv_conf_t, media.connect_timeout),
      NULL },

    { ngx_string("kraken_media_closed_peer_time"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_kraken_srv_conf_t, media.closed_peer_time),
      NULL },

    { ngx_string("kraken_media_socket_buffer"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_kraken_srv_conf_t, media.socket_buffer),
      NULL },

    { ngx_string("kraken_media_drain_timeout"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_kraken_srv_conf_t, media.drain_timeout),
      NULL },

    { ngx_string("kraken_media_room_peers"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_kraken_srv_conf_t, media.room_peers),
      &ngx_stream_kraken_bound },

    { ngx_string("kraken_media_worker_rooms"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_kraken_srv_conf_t, media.worker_rooms),
      &ngx_stream_kraken_bound },

    { ngx_string("kraken_media_worker_peers"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_kraken_srv_conf_t, media.worker_peers),
      &ngx_stream_kraken_bound },

    { ngx_string("kraken_media_worker_connecting"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_kraken_srv_conf_t, media.worker_connecting),
      &ngx_stream_kraken_bound },

    { ngx_string("kraken_media_peer_candidates"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_kraken_srv_conf_t, media.peer_candidates),
      &ngx_stream_kraken_bound },

    { ngx_string("kraken_media_peer_streams"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_kraken_srv_conf_t, media.peer_streams),
      &ngx_stream_kraken_streams },

    /* the names before the kraken_media_ scheme, deprecated */

    { ngx_string("kraken_consent_timeout"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_kraken_deprecated,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      &ngx_stream_kraken_media_consent_timeout },

    { ngx_string("kraken_connect_timeout"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_kraken_deprecated,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      &ngx_stream_kraken_media_connect_timeout },

    { ngx_string("kraken_closed_peer_time"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_kraken_deprecated,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      &ngx_stream_kraken_media_closed_peer_time },

    { ngx_string("kraken_drain_timeout"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_kraken_deprecated,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      &ngx_stream_kraken_media_drain_timeout },

    { ngx_string("kraken_room_peers"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_kraken_deprecated,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      &ngx_stream_kraken_media_room_peers },

    { ngx_string("kraken_worker_rooms"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_kraken_deprecated,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      &ngx_stream_kraken_media_worker_rooms },

    { ngx_string("kraken_worker_peers"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_kraken_deprecated,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      &ngx_stream_kraken_media_worker_peers },

    { ngx_string("kraken_worker_connecting"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_kraken_deprecated,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      &ngx_stream_kraken_media_worker_connecting },

    { ngx_string("kraken_peer_candidates"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_kraken_deprecated,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      &ngx_stream_kraken_media_peer_candidates },

    { ngx_string("kraken_peer_streams"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_kraken_deprecated,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      &ngx_stream_kraken_media_peer_streams },

      ngx_null_command
};


static ngx_stream_module_t  ngx_stream_kraken_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_stream_kraken_init,                /* postconfiguration */

    ngx_stream_kraken_create_main_conf,    /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_stream_kraken_create_srv_conf,     /* create server configuration */
    ngx_stream_kraken_merge_srv_conf       /* merge server configuration */
};


ngx_module_t  ngx_stream_kraken_module = {
    NGX_MODULE_V1,
    &ngx_stream_kraken_module_ctx,         /* module context */
    ngx_stream_kraken_commands,            /* module directives */
    NGX_STREAM_MODULE,                     /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_stream_kraken_init_process,        /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_stream_kraken_exit_process,        /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * The server with kraken_media: exactly one "listen ... udp", whose
 * address the core module and the workers find among nginx's listening
 * sockets.
 */

static ngx_int_t
ngx_stream_kraken_init(ngx_conf_t *cf)
{
    u_char                         *p;
    ngx_uint_t                      i, found;
    ngx_stream_listen_t            *ls, *media;
    ngx_stream_core_main_conf_t    *cmcf;
    ngx_stream_kraken_main_conf_t  *kmcf;
    ngx_stream_kraken_srv_conf_t   *kscf;

    kmcf = ngx_stream_conf_get_module_main_conf(cf, ngx_stream_kraken_module);

    if (kmcf->media == NULL) {
        return NGX_OK;
    }

    kscf = (ngx_stream_kraken_srv_conf_t *) kmcf->media;
    cmcf = ngx_stream_conf_get_module_main_conf(cf, ngx_stream_core_module);

    ls = cmcf->listen.elts;
    media = NULL;
    found = 0;

    for (i = 0; i < cmcf->listen.nelts; i++) {
        if (ls[i].ctx->srv_conf[ngx_stream_kraken_module.ctx_index] != kscf) {
            continue;
        }

        found++;
        media = &ls[i];
    }

    if (found != 1 || media->type != SOCK_DGRAM) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "the server with \"kraken_media\" needs exactly one "
                      "\"listen ... udp\"");
        return NGX_ERROR;
    }

    if (media->wildcard && kscf->media.announce.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"kraken_media\" on a wildcard address needs "
                      "\"kraken_media_announce\"");
        return NGX_ERROR;
    }

    if (kscf->media.announce.len == 0) {
        /* the listen address itself */
        p = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        kscf->media.announce.len = ngx_sock_ntop(media->sockaddr,
                                                 media->socklen, p,
                                                 NGX_SOCKADDR_STRLEN, 0);
        kscf->media.announce.data = p;
    }

    kmcf->sockaddr = media->sockaddr;
    kmcf->socklen = media->socklen;
    kmcf->reuseport = media->reuseport;
    kmcf->port = ngx_inet_get_port(media->sockaddr);

    if (ngx_test_config && ngx_stream_kraken_probe(cf, media) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_kraken_add_media(cf, media->sockaddr, media->socklen,
                             media->reuseport)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * nginx -t does not fail on a port in use (the running nginx may hold
 * it). With reuseport a socket of the running nginx lets us bind beside
 * it, a socket of another program does not: so the test can tell.
 */

static ngx_int_t
ngx_stream_kraken_probe(ngx_conf_t *cf, ngx_stream_listen_t *ls)
{
    int           one;
    ngx_err_t     err;
    ngx_socket_t  s;

    if (!ls->reuseport) {
        return NGX_OK;
    }

    s = ngx_socket(ls->sockaddr->sa_family, SOCK_DGRAM, 0);
    if (s == (ngx_socket_t) -1) {
        return NGX_OK;
    }

    one = 1;

    if (setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(int)) == -1
        || bind(s, ls->sockaddr, ls->socklen) == -1)
    {
        err = ngx_socket_errno;
        (void) ngx_close_socket(s);

        ngx_log_error(NGX_LOG_EMERG, cf->log, err,
                      "kraken: media port %V cannot be bound",
                      &ls->addr_text);
        return NGX_ERROR;
    }

    (void) ngx_close_socket(s);

    return NGX_OK;
}


static void *
ngx_stream_kraken_create_main_conf(ngx_conf_t *cf)
{
    ngx_stream_kraken_main_conf_t  *kmcf;

    kmcf = ngx_pcalloc(cf->pool, sizeof(ngx_stream_kraken_main_conf_t));
    if (kmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     kmcf->media = NULL;
     *     kmcf->sockaddr = NULL;
     */

    return kmcf;
}


static void *
ngx_stream_kraken_create_srv_conf(ngx_conf_t *cf)
{
    ngx_stream_kraken_srv_conf_t  *kscf;

    kscf = ngx_pcalloc(cf->pool, sizeof(ngx_stream_kraken_srv_conf_t));
    if (kscf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     kscf->media.announce = { 0, NULL };
     */

    kscf->enable = NGX_CONF_UNSET;
    kscf->media.consent_timeout = NGX_CONF_UNSET_MSEC;
    kscf->media.connect_timeout = NGX_CONF_UNSET_MSEC;
    kscf->media.closed_peer_time = NGX_CONF_UNSET_MSEC;
    kscf->media.socket_buffer = NGX_CONF_UNSET_SIZE;
    kscf->media.drain_timeout = NGX_CONF_UNSET_MSEC;
    kscf->media.room_peers = NGX_CONF_UNSET_UINT;
    kscf->media.worker_rooms = NGX_CONF_UNSET_UINT;
    kscf->media.worker_peers = NGX_CONF_UNSET_UINT;
    kscf->media.worker_connecting = NGX_CONF_UNSET_UINT;
    kscf->media.peer_candidates = NGX_CONF_UNSET_UINT;
    kscf->media.peer_streams = NGX_CONF_UNSET_UINT;

    return kscf;
}


static char *
ngx_stream_kraken_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_stream_kraken_srv_conf_t *prev = parent;
    ngx_stream_kraken_srv_conf_t *conf = child;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_str_value(conf->media.announce, prev->media.announce, "");
    ngx_conf_merge_msec_value(conf->media.consent_timeout,
                              prev->media.consent_timeout, 30000);
    ngx_conf_merge_msec_value(conf->media.connect_timeout,
                              prev->media.connect_timeout, 60000);
    ngx_conf_merge_msec_value(conf->media.closed_peer_time,
                              prev->media.closed_peer_time, 300000);
    ngx_conf_merge_size_value(conf->media.socket_buffer,
                              prev->media.socket_buffer, 4 * 1024 * 1024);
    ngx_conf_merge_msec_value(conf->media.drain_timeout,
                              prev->media.drain_timeout, 3600000);

    /* see README: a core's forwarding, memory, a browser's candidates */
    ngx_conf_merge_uint_value(conf->media.room_peers,
                              prev->media.room_peers, 1000);
    ngx_conf_merge_uint_value(conf->media.worker_rooms,
                              prev->media.worker_rooms, 2000);
    ngx_conf_merge_uint_value(conf->media.worker_peers,
                              prev->media.worker_peers, 2000);
    ngx_conf_merge_uint_value(conf->media.worker_connecting,
                              prev->media.worker_connecting, 1000);
    ngx_conf_merge_uint_value(conf->media.peer_candidates,
                              prev->media.peer_candidates, 64);
    ngx_conf_merge_uint_value(conf->media.peer_streams,
                              prev->media.peer_streams,
                              KRAKEN_PEER_STREAMS_MAX);

    return NGX_CONF_OK;
}


static char *
ngx_stream_kraken_media(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_stream_kraken_srv_conf_t  *kscf = conf;

    ngx_stream_core_srv_conf_t     *cscf;
    ngx_stream_kraken_main_conf_t  *kmcf;

    if (kscf->enable != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    kmcf = ngx_stream_conf_get_module_main_conf(cf, ngx_stream_kraken_module);

    /* one engine per worker: one media server */
    if (kmcf->media) {
        return "is allowed in one server only";
    }

    kscf->enable = 1;
    kmcf->media = &kscf->media;

    cscf = ngx_stream_conf_get_module_srv_conf(cf, ngx_stream_core_module);
    cscf->handler = ngx_stream_kraken_handler;

    return NGX_CONF_OK;
}


/*
 * A directive's name before the kraken_media_ scheme: it works as the
 * name it stands for (cmd->post), the same arguments, checks and errors,
 * and says once, at configuration time, which name to use.
 */

static char *
ngx_stream_kraken_deprecated(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_str_t      *name;
    ngx_command_t  *c;

    name = cmd->post;

    for (c = ngx_stream_kraken_commands; c->name.len; c++) {

        if (c->set == ngx_stream_kraken_deprecated
            || c->name.len != name->len
            || ngx_strncmp(c->name.data, name->data, name->len) != 0)
        {
            continue;
        }

        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"%V\" is deprecated, use \"%V\"",
                           &cmd->name, name);

        return c->set(cf, c, conf);
    }

    return "has no current name";
}


/* the workers read the socket themselves: a session never starts here */

static void
ngx_stream_kraken_handler(ngx_stream_session_t *s)
{
    ngx_stream_finalize_session(s, NGX_STREAM_OK);
}


static ngx_int_t
ngx_stream_kraken_init_process(ngx_cycle_t *cycle)
{
    ngx_stream_kraken_main_conf_t  *kmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    kmcf = ngx_stream_cycle_get_module_main_conf(cycle,
                                                 ngx_stream_kraken_module);
    if (kmcf == NULL || kmcf->media == NULL) {
        return NGX_OK;
    }

    return ngx_kraken_media_init_process(cycle, kmcf);
}


static void
ngx_stream_kraken_exit_process(ngx_cycle_t *cycle)
{
    ngx_kraken_media_exit_process(cycle);
}
