
/*
 * Copyright (C) ngx_kraken authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_upstream_kraken.h"


/*
 * kraken_balance (ngx_http_upstream_kraken.h tells the whole balancer):
 * the directive and its configuration, $kraken_place, and a request's
 * peer data. The only file of the balancer that names its module: the
 * others take the configuration and the plan from here.
 */


static ngx_int_t ngx_http_upstream_init_kraken(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_upstream_init_kraken_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_http_upstream_kraken_ctx_t *ngx_http_upstream_kraken_get_plan(
    ngx_http_request_t *r, ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_upstream_kraken_place_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_upstream_kraken_add_variables(ngx_conf_t *cf);
static void *ngx_http_upstream_kraken_create_conf(ngx_conf_t *cf);
static char *ngx_http_upstream_kraken(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_command_t  ngx_http_upstream_kraken_commands[] = {

    { ngx_string("kraken_balance"),
      NGX_HTTP_UPS_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_upstream_kraken,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_upstream_kraken_module_ctx = {
    ngx_http_upstream_kraken_add_variables, /* preconfiguration */
    NULL,                                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_upstream_kraken_create_conf,  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_upstream_kraken_module = {
    NGX_MODULE_V1,
    &ngx_http_upstream_kraken_module_ctx,  /* module context */
    ngx_http_upstream_kraken_commands,     /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_upstream_kraken_vars[] = {

    { ngx_string("kraken_place"), NULL,
      ngx_http_upstream_kraken_place_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_upstream_kraken_room_name =
    ngx_string("kraken_room");


static ngx_int_t
ngx_http_upstream_init_kraken(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us)
{
    if (ngx_http_upstream_init_round_robin(cf, us) != NGX_OK) {
        return NGX_ERROR;
    }

    us->peer.init = ngx_http_upstream_init_kraken_peer;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upstream_init_kraken_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_upstream_kraken_peer_data_t  *kp;

    kp = ngx_pcalloc(r->pool, sizeof(ngx_http_upstream_kraken_peer_data_t));
    if (kp == NULL) {
        return NGX_ERROR;
    }

    r->upstream->peer.data = &kp->rrp;

    if (ngx_http_upstream_init_round_robin_peer(r, us) != NGX_OK) {
        return NGX_ERROR;
    }

    r->upstream->peer.get = ngx_http_upstream_get_kraken_peer;
    r->upstream->peer.free = ngx_http_upstream_free_kraken_peer;

    /* asking every engine, then placing, then following the answer */
    r->upstream->peer.tries = 2 * kp->rrp.peers->number + 2;

    kp->request = r;
    kp->conf = ngx_http_conf_upstream_srv_conf(us,
                                               ngx_http_upstream_kraken_module);

    /* made already if proxy_set_header used $kraken_place */
    kp->ctx = ngx_http_upstream_kraken_get_plan(r, us);

    return NGX_OK;
}


/*
 * What the front knows of a call (ngx_http_upstream_kraken_plan()),
 * made once per request: by $kraken_place, evaluated when the request
 * to the engine is built, or else by the peer's init.
 */

static ngx_http_upstream_kraken_ctx_t *
ngx_http_upstream_kraken_get_plan(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_upstream_kraken_ctx_t       *ctx;
    ngx_http_upstream_kraken_srv_conf_t  *kcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upstream_kraken_module);
    if (ctx) {
        return ctx;
    }

    kcf = ngx_http_conf_upstream_srv_conf(us, ngx_http_upstream_kraken_module);

    ctx = ngx_http_upstream_kraken_plan(r, kcf, us->peer.data);
    if (ctx == NULL) {
        return NULL;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_upstream_kraken_module);

    return ctx;
}


static ngx_int_t
ngx_http_upstream_kraken_place_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_upstream_srv_conf_t    *us;
    ngx_http_upstream_kraken_ctx_t  *ctx;

    v->not_found = 1;

    if (r->upstream == NULL || r->upstream->conf == NULL
        || r->upstream->conf->upstream == NULL)
    {
        return NGX_OK;
    }

    us = r->upstream->conf->upstream;

    if (us->peer.init_upstream != ngx_http_upstream_init_kraken) {
        return NGX_OK;
    }

    ctx = ngx_http_upstream_kraken_get_plan(r, us);

    /* calls without a room need no placing: no header */
    if (ctx == NULL || ctx->place.len == 0) {
        return NGX_OK;
    }

    v->len = ctx->place.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = ctx->place.data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upstream_kraken_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_upstream_kraken_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static void *
ngx_http_upstream_kraken_create_conf(ngx_conf_t *cf)
{
    ngx_http_upstream_kraken_srv_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool,
                       sizeof(ngx_http_upstream_kraken_srv_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->zone = NULL;
     */

    conf->room_index = NGX_ERROR;

    return conf;
}


/* kraken_balance [size]: the zone of rooms, 1m by default */

static char *
ngx_http_upstream_kraken(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upstream_kraken_srv_conf_t  *kcf = conf;

    ssize_t                        size;
    ngx_str_t                     *value, name;
    ngx_http_upstream_srv_conf_t  *uscf;

    if (kcf->zone) {
        return "is duplicate";
    }

    uscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_upstream_module);

    if (uscf->peer.init_upstream) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "load balancing method redefined");
    }

    value = cf->args->elts;
    size = 1024 * 1024;

    if (cf->args->nelts == 2) {
        size = ngx_parse_size(&value[1]);
        if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
            return "takes a size of at least 8 pages";
        }
    }

    name.len = sizeof("kraken_balance:") - 1 + uscf->host.len;
    name.data = ngx_pnalloc(cf->pool, name.len);
    if (name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(name.data, "kraken_balance:%V", &uscf->host);

    kcf->zone = ngx_shared_memory_add(cf, &name, size,
                                      &ngx_http_upstream_kraken_module);
    if (kcf->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    kcf->zone->init = ngx_http_upstream_kraken_init_zone;

    kcf->room_index = ngx_http_get_variable_index(cf,
                                           &ngx_http_upstream_kraken_room_name);
    if (kcf->room_index == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    uscf->peer.init_upstream = ngx_http_upstream_init_kraken;

    uscf->flags = NGX_HTTP_UPSTREAM_CREATE
                  |NGX_HTTP_UPSTREAM_WEIGHT
                  |NGX_HTTP_UPSTREAM_MAX_CONNS
                  |NGX_HTTP_UPSTREAM_MAX_FAILS
                  |NGX_HTTP_UPSTREAM_FAIL_TIMEOUT
                  |NGX_HTTP_UPSTREAM_DOWN;

    return NGX_CONF_OK;
}
