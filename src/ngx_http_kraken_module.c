
/*
 * Copyright (C) ngx_kraken authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "kraken_error.h"
#include "kraken_id.h"
#include "kraken_rpc.h"
#include "ngx_kraken_callback.h"
#include "ngx_kraken_info.h"
#include "ngx_kraken_ipc.h"
#include "ngx_kraken_media.h"
#include "ngx_kraken_metrics.h"
#include "ngx_kraken_registry.h"


typedef struct {
    ngx_kraken_ipc_conf_t     forward;
    ngx_kraken_callback_conf_t  callback;
} ngx_http_kraken_main_conf_t;


/*
 * A call: which worker ran it, for the X-Kraken-Worker header; its method
 * and uid, and the Kraken error of its answer, for the log and the
 * metrics.
 */
typedef struct {
    ngx_uint_t                worker;
    ngx_uint_t                forwarded;
    ngx_str_t                 body;
    ngx_str_t                 method;       /* empty: none */
    ngx_str_t                 uid;          /* empty: none */
    ngx_uint_t                described;    /* method and uid are read */
    ngx_str_t                 envelope;     /* an answer nginx made, or
                                               an engine's 404 through a
                                               front: the body sent
                                               instead; NULL data: none */
    ngx_uint_t                code;         /* the answer's Kraken error:
                                               set first by whoever renders
                                               an answer kraken_rpc did
                                               not, else read from it */
} ngx_http_kraken_ctx_t;


/* the longest method and uid the log and the metrics take of a call */
#define NGX_HTTP_KRAKEN_METHOD_LEN  32
#define NGX_HTTP_KRAKEN_UID_LEN     256


/* the most engines an X-Kraken-Place header names down */
#define NGX_HTTP_KRAKEN_DOWN_MAX  32


typedef struct {
    ngx_flag_t                rpc;
    ngx_flag_t                demo;
    ngx_flag_t                info_details;
    ngx_flag_t                placement;
    ngx_array_t              *placement_from;   /* ngx_cidr_t; NULL: none */
    ngx_flag_t                front;
    ngx_uint_t                server;       /* on a server's own conf: a
                                               location of it has
                                               kraken_rpc or kraken_front
                                               (not merged) */
    ngx_str_t                 turn_server;
    ngx_str_t                 turn_secret;
    ngx_http_complex_value_t *uid_bind;
    ngx_array_t              *cors_origins; /* NULL: "*" */
    ngx_array_t              *callback_allow;   /* kraken_url_t; NULL:
                                                   no callback */
} ngx_http_kraken_loc_conf_t;


static ngx_int_t ngx_http_kraken_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kraken_preflight(ngx_http_request_t *r);
static void ngx_http_kraken_body_handler(ngx_http_request_t *r);
static void ngx_http_kraken_describe(ngx_http_request_t *r,
    ngx_http_kraken_ctx_t *kctx, ngx_str_t *body);
static void ngx_http_kraken_copy(ngx_pool_t *pool, ngx_str_t *dst,
    cJSON *item, size_t max);
static ngx_int_t ngx_http_kraken_bind(ngx_http_request_t *r,
    ngx_str_t *body);
static ngx_int_t ngx_http_kraken_callback(ngx_http_request_t *r,
    ngx_str_t *body);
static ngx_int_t ngx_http_kraken_place(ngx_http_request_t *r,
    ngx_str_t *body, u_char *room, size_t len);
static ngx_int_t ngx_http_kraken_place_parse(ngx_str_t *value,
    ngx_str_t *choice, ngx_str_t *down, ngx_uint_t *ndown, ngx_uint_t *ask);
static ngx_int_t ngx_http_kraken_place_name(ngx_str_t *name);
static void ngx_http_kraken_trim(ngx_str_t *s);
static ngx_int_t ngx_http_kraken_placed(ngx_http_request_t *r,
    ngx_str_t *body, u_char *room, size_t len, ngx_str_t *owner);
static void ngx_http_kraken_forwarded(void *data, ngx_uint_t rc,
    ngx_uint_t status, u_char *body, size_t len);
static ngx_uint_t ngx_http_kraken_ipc_rpc(u_char *body, size_t len,
    char **out, size_t *outlen);
static ngx_int_t ngx_http_kraken_read_body(ngx_http_request_t *r,
    ngx_str_t *body);
static ngx_int_t ngx_http_kraken_send(ngx_http_request_t *r,
    ngx_uint_t status, u_char *data, size_t len);
static ngx_int_t ngx_http_kraken_cors(ngx_http_request_t *r);
static ngx_int_t ngx_http_kraken_allow_origin(ngx_http_request_t *r,
    ngx_str_t *allow);
static ngx_int_t ngx_http_kraken_route_header(ngx_http_request_t *r);
static ngx_int_t ngx_http_kraken_holds(ngx_http_request_t *r);
static ngx_int_t ngx_http_kraken_load_header(ngx_http_request_t *r,
    u_char *data, size_t len);
static ngx_uint_t ngx_http_kraken_error_code(u_char *data, size_t len,
    u_char **end);
static ngx_int_t ngx_http_kraken_busy(ngx_http_request_t *r, u_char *data,
    size_t len, ngx_str_t *reason);
static ngx_table_elt_t *ngx_http_kraken_origin(ngx_http_request_t *r);
static ngx_table_elt_t *ngx_http_kraken_header_in(ngx_http_request_t *r,
    ngx_str_t *name);
static ngx_int_t ngx_http_kraken_add_header(ngx_http_request_t *r,
    char *key, ngx_str_t *value);

static ngx_int_t ngx_http_kraken_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_kraken_envelope(ngx_http_request_t *r,
    ngx_uint_t status, ngx_uint_t code);
static ngx_uint_t ngx_http_kraken_hide_headers(ngx_http_request_t *r);
static ngx_int_t ngx_http_kraken_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);

static ngx_int_t ngx_http_kraken_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_kraken_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_kraken_room_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_kraken_call_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_kraken_error_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_http_kraken_ctx_t *ngx_http_kraken_call(ngx_http_request_t *r);
static ngx_int_t ngx_http_kraken_log_handler(ngx_http_request_t *r);
static void *ngx_http_kraken_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_kraken_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_kraken_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_kraken_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_kraken_rpc(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kraken_front(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void ngx_http_kraken_mark_server(ngx_conf_t *cf);
static char *ngx_http_kraken_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kraken_cors_origin(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kraken_placement_from(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_kraken_callback_allow(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_kraken_init_callback(ngx_conf_t *cf,
    ngx_http_kraken_main_conf_t *kmcf);
static ngx_int_t ngx_http_kraken_init_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_kraken_commands[] = {

    { ngx_string("kraken_rpc"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kraken_rpc,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kraken_front"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kraken_front,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kraken_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kraken_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kraken_demo"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kraken_loc_conf_t, demo),
      NULL },

    { ngx_string("kraken_uid_bind"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kraken_loc_conf_t, uid_bind),
      NULL },

    { ngx_string("kraken_callback_allow"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_kraken_callback_allow,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kraken_info_details"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kraken_loc_conf_t, info_details),
      NULL },

    { ngx_string("kraken_placement"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kraken_loc_conf_t, placement),
      NULL },

    { ngx_string("kraken_placement_from"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_kraken_placement_from,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kraken_cors_origin"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_kraken_cors_origin,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kraken_turn_server"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kraken_loc_conf_t, turn_server),
      NULL },

    { ngx_string("kraken_turn_secret"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kraken_loc_conf_t, turn_secret),
      NULL },

    { ngx_string("kraken_forward_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kraken_main_conf_t, forward.timeout),
      NULL },

    { ngx_string("kraken_forward_pending"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kraken_main_conf_t, forward.pending),
      NULL },

    { ngx_string("kraken_callback_trusted_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kraken_main_conf_t, callback.trusted),
      NULL },

    { ngx_string("kraken_callback_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kraken_main_conf_t, callback.timeout),
      NULL },

    { ngx_string("kraken_callback_pending"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kraken_main_conf_t, callback.pending),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kraken_module_ctx = {
    ngx_http_kraken_add_variables,         /* preconfiguration */
    ngx_http_kraken_init,                  /* postconfiguration */

    ngx_http_kraken_create_main_conf,      /* create main configuration */
    ngx_http_kraken_init_main_conf,        /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_kraken_create_loc_conf,       /* create location configuration */
    ngx_http_kraken_merge_loc_conf         /* merge location configuration */
};


ngx_module_t  ngx_http_kraken_module = {
    NGX_MODULE_V1,
    &ngx_http_kraken_module_ctx,           /* module context */
    ngx_http_kraken_commands,              /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_kraken_init_process,          /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_kraken_json_type = ngx_string("application/json");

static u_char  ngx_http_kraken_forbidden[] =
    "{\"error\":\"origin not allowed\"}";

static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_http_variable_t  ngx_http_kraken_vars[] = {

    { ngx_string("kraken_room"), NULL, ngx_http_kraken_room_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("kraken_method"), NULL, ngx_http_kraken_call_variable,
      offsetof(ngx_http_kraken_ctx_t, method), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("kraken_uid"), NULL, ngx_http_kraken_call_variable,
      offsetof(ngx_http_kraken_ctx_t, uid), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("kraken_error"), NULL, ngx_http_kraken_error_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_http_kraken_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_str_t                    allow;
    ngx_http_kraken_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kraken_module);

    if ((r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) && klcf->demo) {
        /* the demo page: nginx's index and static handlers serve it */
        return NGX_DECLINED;
    }

    rc = ngx_http_kraken_allow_origin(r, &allow);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_ABORT) {
        /* a page of an origin not allowed: no call runs for it (CSRF) */
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_kraken_send(r, NGX_HTTP_FORBIDDEN,
                                    ngx_http_kraken_forbidden,
                                    sizeof(ngx_http_kraken_forbidden) - 1);
    }

    if (r->method == NGX_HTTP_POST) {
        rc = ngx_http_read_client_request_body(r,
                                               ngx_http_kraken_body_handler);
        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return rc;
        }

        return NGX_DONE;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_kraken_cors(r) == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method == NGX_HTTP_OPTIONS && ngx_http_kraken_origin(r)) {
        return ngx_http_kraken_send(r, NGX_HTTP_OK, (u_char *) "{}", 2);
    }

    return ngx_http_kraken_send(r, NGX_HTTP_NOT_FOUND,
                                (u_char *) "{\"error\":\"not found\"}", 21);
}


/*
 * A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method)
 * on a kraken_rpc or kraken_front location, answered in the rewrite phase:
 * before limit_req and limit_conn (preaccess), allow, deny and
 * auth_request (access), and, on a front, without asking an engine. A
 * browser fails a call whose preflight is not 2xx, whatever its headers
 * and body, so a refusal there reaches the page as an opaque network
 * error instead of the call's own readable answer. A preflight runs no
 * call and carries no credentials (Fetch): the call that follows meets
 * every guard. Answering it costs what refusing it would. An origin
 * kraken_cors_origin does not allow gets its 403 without CORS headers.
 */

static ngx_int_t
ngx_http_kraken_preflight(ngx_http_request_t *r)
{
    static ngx_str_t  request_method =
                          ngx_string("Access-Control-Request-Method");

    ngx_int_t                    rc, allowed;
    ngx_str_t                    allow;
    ngx_http_kraken_loc_conf_t  *klcf;

    if (r->method != NGX_HTTP_OPTIONS || r != r->main) {
        return NGX_DECLINED;
    }

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kraken_module);

    if (!klcf->rpc && !klcf->front) {
        return NGX_DECLINED;
    }

    if (ngx_http_kraken_header_in(r, &request_method) == NULL) {
        return NGX_DECLINED;
    }

    allowed = ngx_http_kraken_allow_origin(r, &allow);

    if (allowed == NGX_DECLINED) {
        /* no Origin: no preflight */
        return NGX_DECLINED;
    }

    if (allowed == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (allowed == NGX_ABORT) {
        return ngx_http_kraken_send(r, NGX_HTTP_FORBIDDEN,
                                    ngx_http_kraken_forbidden,
                                    sizeof(ngx_http_kraken_forbidden) - 1);
    }

    if (ngx_http_kraken_cors(r) == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_kraken_send(r, NGX_HTTP_OK, (u_char *) "{}", 2);
}


static void
ngx_http_kraken_body_handler(ngx_http_request_t *r)
{
    int                          status;
    char                        *out;
    size_t                       outlen;
    ngx_pid_t                    pid;
    ngx_int_t                    rc;
    ngx_str_t                    body;
    size_t                       room_len;
    ngx_uint_t                   slot, frc;
    kraken_rpc_ctx_t             ctx;
    ngx_http_kraken_loc_conf_t  *klcf;
    u_char                       url[NGX_MAX_PATH], secret[NGX_MAX_PATH];
    ngx_http_kraken_ctx_t       *kctx;
    char                         room[KRAKEN_ID_MAX + 1];

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kraken_module);

    kctx = ngx_pcalloc(r->pool, sizeof(ngx_http_kraken_ctx_t));
    if (kctx == NULL
        || ngx_http_kraken_read_body(r, &body) != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    kctx->worker = ngx_kraken_registry_self();
    kctx->body = body;
    ngx_http_set_ctx(r, kctx, ngx_http_kraken_module);

    ngx_http_kraken_describe(r, kctx, &body);

    /*
     * the uid binding and the callback allowlist are checked here,
     * before the call is forwarded: the owner runs what reaches it
     */
    if (ngx_http_kraken_bind(r, &body) != NGX_DECLINED
        || ngx_http_kraken_callback(r, &body) != NGX_DECLINED)
    {
        return;
    }

    room_len = 0;

    if (kraken_rpc_room((const char *) body.data, body.len, room,
                        sizeof(room)) == 0)
    {
        room_len = ngx_strlen(room);
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "kraken: call \"%V\" of uid \"%V\" for room \"%*s\"",
                   &kctx->method, &kctx->uid, room_len, room);

    /* a room another engine holds is not run here, nor forwarded */
    if (room_len && klcf->placement
        && ngx_http_kraken_place(r, &body, (u_char *) room, room_len)
           != NGX_DECLINED)
    {
        return;
    }

    /* a room's calls go to the worker that owns it */
    if (ngx_kraken_media_engine()
        && room_len
        && ngx_kraken_registry_owner((u_char *) room, room_len,
                                     &slot, &pid) == NGX_OK
        && slot != kctx->worker)
    {
        kctx->worker = slot;
        kctx->forwarded = 1;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "kraken: call forwarded to worker slot %ui, pid %P",
                       slot, pid);

        /*
         * The callback may run, and finalize r, before this returns.
         * A call the owner cannot take is answered with an error, never
         * run here: the room would then live in two workers.
         */
        frc = ngx_kraken_ipc_forward(slot, pid, body.data, body.len,
                                     r->pool, r->connection->log,
                                     ngx_http_kraken_forwarded, r);

        if (frc != NGX_KRAKEN_IPC_OK) {
            ngx_http_kraken_forwarded(r, frc, 0, NULL, 0);
        }

        return;
    }

    ngx_memzero(&ctx, sizeof(kraken_rpc_ctx_t));
    ctx.engine = ngx_kraken_media_engine();
    ctx.now = ngx_time();
    ctx.now_ms = ngx_current_msec;
    ctx.callbacks = ngx_kraken_callback_enabled();

    if (ctx.engine) {
        ctx.info = ngx_kraken_info;
        ctx.info_data = ctx.engine;
        ctx.info_details = klcf->info_details;
    }

    if (klcf->turn_server.len && klcf->turn_server.len < NGX_MAX_PATH
        && klcf->turn_secret.len < NGX_MAX_PATH)
    {
        ngx_cpystrn(url, klcf->turn_server.data, klcf->turn_server.len + 1);
        ngx_cpystrn(secret, klcf->turn_secret.data,
                    klcf->turn_secret.len + 1);
        ctx.turn_url = (const char *) url;
        ctx.turn_secret = (const char *) secret;
    }

    out = NULL;
    outlen = 0;

    status = kraken_rpc_handle(&ctx, (const char *) body.data, body.len,
                               &out, &outlen);

    /* X-Kraken-Load counts what this call changed */
    ngx_kraken_media_report();

    if (out == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "kraken: the answer to call \"%V\" could not be "
                      "rendered (out of memory)", &kctx->method);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_kraken_cors(r) == NGX_ERROR) {
        free(out);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_kraken_route_header(r) != NGX_OK) {
        free(out);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_http_kraken_send(r, status, (u_char *) out, outlen);
    free(out);

    ngx_http_finalize_request(r, rc);
}


static void
ngx_http_kraken_forwarded(void *data, ngx_uint_t rc, ngx_uint_t status,
    u_char *body, size_t len)
{
    ngx_http_request_t *r = data;

    char                   *out;
    ngx_http_kraken_ctx_t  *kctx;

    out = NULL;

    if (rc != NGX_KRAKEN_IPC_OK) {
        /* the owner is busy, gone or stuck: Kraken's timeout error */
        kctx = ngx_http_get_module_ctx(r, ngx_http_kraken_module);

        status = kraken_rpc_error((const char *) kctx->body.data,
                                  kctx->body.len, KRAKEN_ERR_SERVER_TIMEOUT,
                                  ngx_kraken_ipc_strerror(rc), &out, &len);
        if (out == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        body = (u_char *) out;
    }

    if (ngx_http_kraken_cors(r) == NGX_ERROR
        || ngx_http_kraken_route_header(r) != NGX_OK)
    {
        free(out);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_finalize_request(r, ngx_http_kraken_send(r, status, body, len));
    free(out);
}


/*
 * The call's method and uid, for the log and the metrics: the uid is
 * params[1], turn's params[0] (as kraken_rpc.c's method table has it);
 * info and list name none.
 */

static void
ngx_http_kraken_describe(ngx_http_request_t *r, ngx_http_kraken_ctx_t *kctx,
    ngx_str_t *body)
{
    int     i;
    cJSON  *root, *method, *params;

    kctx->described = 1;

    root = cJSON_ParseWithLength((const char *) body->data, body->len);
    if (root == NULL) {
        return;
    }

    method = cJSON_GetObjectItemCaseSensitive(root, "method");
    params = cJSON_GetObjectItemCaseSensitive(root, "params");

    if (cJSON_IsString(method)) {
        ngx_http_kraken_copy(r->pool, &kctx->method, method,
                             NGX_HTTP_KRAKEN_METHOD_LEN);

        if (ngx_strcmp(method->valuestring, "turn") == 0) {
            i = 0;

        } else if (ngx_strcmp(method->valuestring, "info") == 0
                   || ngx_strcmp(method->valuestring, "list") == 0)
        {
            i = -1;

        } else {
            i = 1;
        }

        if (i >= 0 && cJSON_IsArray(params)) {
            ngx_http_kraken_copy(r->pool, &kctx->uid,
                                 cJSON_GetArrayItem(params, i),
                                 NGX_HTTP_KRAKEN_UID_LEN);
        }
    }

    cJSON_Delete(root);
}


/* A string item, at most max bytes of it, into pool; else left empty. */

static void
ngx_http_kraken_copy(ngx_pool_t *pool, ngx_str_t *dst, cJSON *item,
    size_t max)
{
    size_t   len;
    u_char  *p;

    if (!cJSON_IsString(item)) {
        return;
    }

    len = ngx_min(ngx_strlen(item->valuestring), max);

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return;
    }

    ngx_memcpy(p, item->valuestring, len);

    dst->data = p;
    dst->len = len;
}


/*
 * kraken_uid_bind: a call naming a uid other than the caller's identity
 * is answered 5001000 by the worker that accepted it, before it could be
 * forwarded. NGX_DECLINED: the call goes on; otherwise r is finalized.
 */

static ngx_int_t
ngx_http_kraken_bind(ngx_http_request_t *r, ngx_str_t *body)
{
    int                          status;
    char                        *out;
    size_t                       outlen;
    ngx_int_t                    rc;
    ngx_str_t                    identity;
    ngx_http_kraken_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kraken_module);

    if (klcf->uid_bind == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_http_complex_value(r, klcf->uid_bind, &identity) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_ERROR;
    }

    status = kraken_rpc_bound((const char *) body->data, body->len,
                              (const char *) identity.data, identity.len,
                              &out, &outlen);
    if (status == 0) {
        return NGX_DECLINED;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "kraken: call refused, its uid is not \"%V\"", &identity);

    if (out == NULL
        || ngx_http_kraken_cors(r) == NGX_ERROR
        || ngx_http_kraken_route_header(r) != NGX_OK)
    {
        free(out);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_ERROR;
    }

    rc = ngx_http_kraken_send(r, status, (u_char *) out, outlen);
    free(out);

    ngx_http_finalize_request(r, rc);

    return NGX_OK;
}


/*
 * kraken_callback_allow: a publish whose callback is not under an allowed
 * prefix (without the directive: any non-empty callback) is answered
 * 5001000 by the worker that accepted it, before it could be forwarded.
 * NGX_DECLINED: the call goes on; otherwise r is finalized.
 */

static ngx_int_t
ngx_http_kraken_callback(ngx_http_request_t *r, ngx_str_t *body)
{
    int                          status;
    char                        *out;
    size_t                       outlen, n;
    ngx_int_t                    rc;
    kraken_url_t                *allow;
    ngx_http_kraken_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kraken_module);

    allow = klcf->callback_allow ? klcf->callback_allow->elts : NULL;
    n = klcf->callback_allow ? klcf->callback_allow->nelts : 0;

    status = kraken_rpc_callback((const char *) body->data, body->len,
                                 allow, n, &out, &outlen);
    if (status == 0) {
        return NGX_DECLINED;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "kraken: publish refused by its callback's checks");

    if (out == NULL
        || ngx_http_kraken_cors(r) == NGX_ERROR
        || ngx_http_kraken_route_header(r) != NGX_OK)
    {
        free(out);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_ERROR;
    }

    rc = ngx_http_kraken_send(r, status, (u_char *) out, outlen);
    free(out);

    ngx_http_finalize_request(r, rc);

    return NGX_OK;
}


/*
 * kraken_placement: a front names the engine it chose for a room in
 * "X-Kraken-Place: CHOICE[; down=A,B,...]". A room a worker here holds
 * runs here; else the room's placement record decides, made now for the
 * choice when there is none, or when it names an engine that is down.
 * This engine is $server_addr:$server_port of the connection, as the
 * fronts' upstream servers name it. NGX_DECLINED: the call goes on;
 * otherwise r is finalized.
 */

static ngx_int_t
ngx_http_kraken_place(ngx_http_request_t *r, ngx_str_t *body, u_char *room,
    size_t len)
{
    size_t                       owner_len;
    ngx_int_t                    rc;
    ngx_str_t                    choice, self, owner;
    ngx_uint_t                   ndown, ask;
    ngx_table_elt_t             *h;
    ngx_connection_t            *c;
    ngx_http_kraken_loc_conf_t  *klcf;
    ngx_str_t          down[NGX_HTTP_KRAKEN_DOWN_MAX];
    u_char             name[NGX_KRAKEN_PLACE_NAME_LEN];
    u_char             addr[NGX_SOCKADDR_STRLEN];

    static ngx_str_t   header = ngx_string("X-Kraken-Place");

    h = ngx_http_kraken_header_in(r, &header);
    if (h == NULL) {
        return NGX_DECLINED;
    }

    c = r->connection;
    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kraken_module);

    /* only a front places rooms: from anyone else the call is ordinary */
    if (klcf->placement_from == NULL
        || ngx_cidr_match(c->sockaddr, klcf->placement_from) != NGX_OK)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "kraken: X-Kraken-Place from %V ignored: not "
                       "kraken_placement_from", &c->addr_text);
        return NGX_DECLINED;
    }

    if (ngx_http_kraken_place_parse(&h->value, &choice, down, &ndown, &ask)
        != NGX_OK)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "kraken: X-Kraken-Place \"%V\" ignored", &h->value);
        return NGX_DECLINED;
    }

    if (ngx_connection_local_sockaddr(c, NULL, 0) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_ERROR;
    }

    self.data = addr;
    self.len = ngx_sock_ntop(c->local_sockaddr, c->local_socklen, addr,
                             NGX_SOCKADDR_STRLEN, 1);

    rc = ngx_kraken_registry_place(room, len, &choice, down, ndown, ask,
                                   name, &owner_len);

    if (rc == NGX_DONE) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "kraken: room \"%*s\" is held here", len, room);
        return NGX_DECLINED;
    }

    if (rc == NGX_DECLINED) {
        /* the front asks before it places: not here, no record */
        rc = ngx_http_kraken_placed(r, body, room, len, NULL);
        ngx_http_finalize_request(r, rc);
        return NGX_OK;
    }

    owner.data = name;
    owner.len = owner_len;

    if (owner.len == self.len
        && ngx_strncmp(owner.data, self.data, self.len) == 0)
    {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "kraken: room \"%*s\" is placed here", len, room);
        return NGX_DECLINED;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "kraken: room \"%*s\" is placed on \"%V\", not \"%V\"",
                   len, room, &owner, &self);

    rc = ngx_http_kraken_placed(r, body, room, len, &owner);

    ngx_http_finalize_request(r, rc);

    return NGX_OK;
}


/*
 * "CHOICE[; down=A,B,...][; ask]": engine names, host:port, at most
 * NGX_KRAKEN_PLACE_NAME_LEN bytes; other parameters are ignored, a
 * malformed name makes the whole header ignored.
 */

static ngx_int_t
ngx_http_kraken_place_parse(ngx_str_t *value, ngx_str_t *choice,
    ngx_str_t *down, ngx_uint_t *ndown, ngx_uint_t *ask)
{
    u_char     *p, *last, *end;
    ngx_str_t   part, name;
    ngx_uint_t  first;

    *ndown = 0;
    *ask = 0;
    first = 1;

    p = value->data;
    last = p + value->len;

    while (p < last) {

        /* "; "-separated parts: the choice, then parameters */
        end = ngx_strlchr(p, last, ';');
        if (end == NULL) {
            end = last;
        }

        part.data = p;
        part.len = end - p;
        p = (end < last) ? end + 1 : last;

        ngx_http_kraken_trim(&part);

        if (first) {
            first = 0;

            if (ngx_http_kraken_place_name(&part) != NGX_OK) {
                return NGX_DECLINED;
            }

            *choice = part;
            continue;
        }

        if (part.len == 3
            && ngx_strncasecmp(part.data, (u_char *) "ask", 3) == 0)
        {
            *ask = 1;
            continue;
        }

        if (part.len < 5
            || ngx_strncasecmp(part.data, (u_char *) "down=", 5) != 0)
        {
            continue;
        }

        part.data += 5;
        part.len -= 5;

        /* "A, B, ...": names of engines the front sees down */
        while (part.len) {
            end = ngx_strlchr(part.data, part.data + part.len, ',');
            if (end == NULL) {
                end = part.data + part.len;
            }

            name.data = part.data;
            name.len = end - part.data;
            part.len -= name.len + (end < part.data + part.len);
            part.data = end + 1;

            ngx_http_kraken_trim(&name);

            if (ngx_http_kraken_place_name(&name) != NGX_OK) {
                return NGX_DECLINED;
            }

            if (*ndown < NGX_HTTP_KRAKEN_DOWN_MAX) {
                down[(*ndown)++] = name;
            }
        }
    }

    return first ? NGX_DECLINED : NGX_OK;
}


/* An engine's name: host:port, printable, at most 64 bytes. */

static ngx_int_t
ngx_http_kraken_place_name(ngx_str_t *name)
{
    u_char  *p;

    if (name->len == 0 || name->len > NGX_KRAKEN_PLACE_NAME_LEN) {
        return NGX_DECLINED;
    }

    for (p = name->data; p < name->data + name->len; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\' || *p == ','
            || *p == ';')
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static void
ngx_http_kraken_trim(ngx_str_t *s)
{
    while (s->len && (s->data[0] == ' ' || s->data[0] == '\t')) {
        s->data++;
        s->len--;
    }

    while (s->len
           && (s->data[s->len - 1] == ' ' || s->data[s->len - 1] == '\t'))
    {
        s->len--;
    }
}


/*
 * The room lives on another engine: 404 with 5002001 and X-Kraken-Owner,
 * which the front retries (proxy_next_upstream http_404) on that engine.
 */

static ngx_int_t
ngx_http_kraken_placed(ngx_http_request_t *r, ngx_str_t *body, u_char *room,
    size_t len, ngx_str_t *owner)
{
    u_char                 *p;
    char                   *out;
    cJSON                  *root, *id, *reply, *e;
    ngx_int_t               rc;
    ngx_http_kraken_ctx_t  *kctx;
    u_char                  desc[KRAKEN_ID_MAX + NGX_KRAKEN_PLACE_NAME_LEN
                                 + 32];

    if (owner) {
        p = ngx_snprintf(desc, sizeof(desc) - 1, "room %*s is placed on %V",
                         len, room, owner);

    } else {
        p = ngx_snprintf(desc, sizeof(desc) - 1, "room %*s is not here",
                         len, room);
    }

    *p = '\0';

    /* the call's id, if it has one: as Kraken's errors, then the error */
    root = cJSON_ParseWithLength((const char *) body->data, body->len);
    id = cJSON_GetObjectItemCaseSensitive(root, "id");

    out = NULL;
    reply = cJSON_CreateObject();

    if (reply) {
        if (cJSON_IsString(id)) {
            cJSON_AddStringToObject(reply, "id", id->valuestring);

        } else {
            cJSON_AddNullToObject(reply, "id");
        }

        e = cJSON_AddObjectToObject(reply, "error");

        if (e) {
            cJSON_AddNumberToObject(e, "status", NGX_HTTP_NOT_FOUND);
            cJSON_AddNumberToObject(e, "code", KRAKEN_ERR_PEER_NOT_FOUND);
            cJSON_AddStringToObject(e, "description", (char *) desc);
            out = cJSON_PrintUnformatted(reply);
        }
    }

    cJSON_Delete(reply);
    cJSON_Delete(root);

    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    kctx = ngx_http_get_module_ctx(r, ngx_http_kraken_module);
    kctx->code = KRAKEN_ERR_PEER_NOT_FOUND;

    if ((owner
         && ngx_http_kraken_add_header(r, "X-Kraken-Owner", owner) != NGX_OK)
        || ngx_http_kraken_cors(r) == NGX_ERROR
        || ngx_http_kraken_route_header(r) != NGX_OK)
    {
        free(out);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_kraken_send(r, NGX_HTTP_NOT_FOUND, (u_char *) out,
                              ngx_strlen(out));
    free(out);

    return rc;
}


/* A call forwarded by another worker, for a room this worker owns. */

static ngx_uint_t
ngx_http_kraken_ipc_rpc(u_char *body, size_t len, char **out,
    size_t *outlen)
{
    int               status;
    kraken_rpc_ctx_t  ctx;

    ngx_memzero(&ctx, sizeof(kraken_rpc_ctx_t));
    ctx.engine = ngx_kraken_media_engine();
    ctx.now = ngx_time();
    ctx.now_ms = ngx_current_msec;
    ctx.callbacks = ngx_kraken_callback_enabled();
    ctx.info = ngx_kraken_info;
    ctx.info_data = ctx.engine;

    status = kraken_rpc_handle(&ctx, (const char *) body, len, out, outlen);

    /* the worker that answers reads this call's figures from the registry */
    ngx_kraken_media_report();

    return (ngx_uint_t) status;
}


/* The whole body as one buffer: from memory, or from the temp file. */

static ngx_int_t
ngx_http_kraken_read_body(ngx_http_request_t *r, ngx_str_t *body)
{
    u_char       *p;
    size_t        len;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    body->len = 0;
    body->data = (u_char *) "";

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        len += b->in_file ? (size_t) (b->file_last - b->file_pos)
                          : (size_t) (b->last - b->pos);
    }

    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                              b->file_pos);
            if (n != b->file_last - b->file_pos) {
                return NGX_ERROR;
            }

            p += n;

        } else if (b->last != b->pos) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    *p = '\0';
    body->len = len;

    return NGX_OK;
}


static ngx_int_t
ngx_http_kraken_send(ngx_http_request_t *r, ngx_uint_t status, u_char *data,
    size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = status;
    r->headers_out.content_type = ngx_http_kraken_json_type;
    r->headers_out.content_type_len = ngx_http_kraken_json_type.len;
    r->headers_out.content_length_n = len;

    if (r->method == NGX_HTTP_POST
        && ngx_http_kraken_load_header(r, data, len) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last = ngx_cpymem(b->pos, data, len);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * Kraken's CORS, only when the request names an Origin, and only for an
 * origin kraken_cors_origin allows. Never credentials: "*" by default.
 */

static ngx_int_t
ngx_http_kraken_cors(ngx_http_request_t *r)
{
    static ngx_str_t  headers = ngx_string(
                                 "Content-Type,Authorization,"
                                 "Mixin-Conversation-ID");
    static ngx_str_t  methods = ngx_string("OPTIONS,GET,POST,DELETE");
    static ngx_str_t  max_age = ngx_string("600");
    static ngx_str_t  vary = ngx_string("Origin");

    ngx_int_t                    rc;
    ngx_str_t                    allow;
    ngx_http_kraken_loc_conf_t  *klcf;

    rc = ngx_http_kraken_allow_origin(r, &allow);
    if (rc != NGX_OK) {
        return (rc == NGX_ERROR) ? NGX_ERROR : NGX_OK;
    }

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kraken_module);

    if (klcf->cors_origins
        && ngx_http_kraken_add_header(r, "Vary", &vary) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_kraken_add_header(r, "Access-Control-Allow-Origin", &allow)
        != NGX_OK
        || ngx_http_kraken_add_header(r, "Access-Control-Allow-Headers",
                                      &headers)
           != NGX_OK
        || ngx_http_kraken_add_header(r, "Access-Control-Allow-Methods",
                                      &methods)
           != NGX_OK
        || ngx_http_kraken_add_header(r, "Access-Control-Max-Age", &max_age)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The Access-Control-Allow-Origin of r: NGX_OK with *allow set,
 * NGX_DECLINED when r names no Origin, NGX_ABORT when kraken_cors_origin
 * does not allow its Origin.
 */

static ngx_int_t
ngx_http_kraken_allow_origin(ngx_http_request_t *r, ngx_str_t *allow)
{
    ngx_str_t                    value;
    ngx_uint_t                   i;
    ngx_table_elt_t             *origin;
    ngx_http_complex_value_t    *cv;
    ngx_http_kraken_loc_conf_t  *klcf;

    origin = ngx_http_kraken_origin(r);
    if (origin == NULL) {
        return NGX_DECLINED;
    }

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kraken_module);

    if (klcf->cors_origins == NULL) {
        ngx_str_set(allow, "*");
        return NGX_OK;
    }

    cv = klcf->cors_origins->elts;

    for (i = 0; i < klcf->cors_origins->nelts; i++) {
        if (ngx_http_complex_value(r, &cv[i], &value) != NGX_OK) {
            return NGX_ERROR;
        }

        if (value.len == origin->value.len
            && ngx_strncmp(value.data, origin->value.data, value.len) == 0)
        {
            *allow = origin->value;
            return NGX_OK;
        }
    }

    return NGX_ABORT;
}


/*
 * X-Kraken-Worker: the worker slot that ran the call, with "forwarded"
 * when another worker accepted it. For operators tracing room routing.
 */

static ngx_int_t
ngx_http_kraken_route_header(ngx_http_request_t *r)
{
    ngx_str_t               value;
    ngx_http_kraken_ctx_t  *kctx;

    kctx = ngx_http_get_module_ctx(r, ngx_http_kraken_module);
    if (kctx == NULL || kctx->worker >= NGX_KRAKEN_MAX_SLOTS) {
        return NGX_OK;
    }

    value.data = ngx_pnalloc(r->pool, NGX_INT_T_LEN + sizeof(" forwarded"));
    if (value.data == NULL) {
        return NGX_ERROR;
    }

    value.len = ngx_sprintf(value.data, "%ui%s", kctx->worker,
                            kctx->forwarded ? " forwarded" : "")
                - value.data;

    return ngx_http_kraken_add_header(r, "X-Kraken-Worker", &value);
}


/* whether this engine holds the room the call names, after the call */

static ngx_int_t
ngx_http_kraken_holds(ngx_http_request_t *r)
{
    ngx_str_t   body;
    char        room[KRAKEN_ID_MAX + 1];

    if (r->request_body == NULL
        || ngx_http_kraken_read_body(r, &body) != NGX_OK
        || kraken_rpc_room((const char *) body.data, body.len, room,
                           sizeof(room)) != 0)
    {
        return NGX_DECLINED;
    }

    return ngx_kraken_registry_holds((u_char *) room, ngx_strlen(room));
}


/*
 * X-Kraken-Load on the answer to a call: this engine's load, which a
 * front balancing rooms over engines learns from every answer; with
 * X-Kraken-Code when the answer is a Kraken error.
 */

static ngx_int_t
ngx_http_kraken_load_header(ngx_http_request_t *r, u_char *data, size_t len)
{
    ngx_str_t               value, reason;
    ngx_uint_t              code;
    ngx_kraken_load_t       load;
    ngx_http_kraken_ctx_t  *kctx;

    if (ngx_kraken_registry_load(&load) == NGX_OK) {
        value.data = ngx_pnalloc(r->pool,
                                 sizeof("cpu=; peers=; peers_max=; rooms=; "
                                        "rooms_max=; pps=") - 1
                                 + 6 * NGX_INT_T_LEN);
        if (value.data == NULL) {
            return NGX_ERROR;
        }

        value.len = ngx_sprintf(value.data,
                                "cpu=%ui; peers=%ui; peers_max=%ui; "
                                "rooms=%ui; rooms_max=%ui; pps=%ui",
                                load.cpu, load.peers, load.peers_max,
                                load.rooms, load.rooms_max, load.pps)
                    - value.data;

        if (ngx_http_kraken_add_header(r, "X-Kraken-Load", &value)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /* X-Kraken-Room: the room of the call lives here (a front keeps it) */
    if (ngx_http_kraken_holds(r) == NGX_OK) {
        ngx_str_set(&value, "1");

        if (ngx_http_kraken_add_header(r, "X-Kraken-Room", &value)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    kctx = ngx_http_get_module_ctx(r, ngx_http_kraken_module);

    if (kctx && kctx->code) {
        code = kctx->code;

    } else {
        code = len ? ngx_http_kraken_error_code(data, len, NULL) : 0;
    }

    /* $kraken_error and the metrics */
    if (kctx) {
        kctx->code = code;
    }

    if (code == 0) {
        return NGX_OK;
    }

    value.data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (value.data == NULL) {
        return NGX_ERROR;
    }

    value.len = ngx_sprintf(value.data, "%ui", code) - value.data;

    if (ngx_http_kraken_add_header(r, "X-Kraken-Code", &value) != NGX_OK) {
        return NGX_ERROR;
    }

    /* X-Kraken-Busy: one of this engine's own bounds refused the call */
    if (code == KRAKEN_ERR_SERVER_NEW_PEER
        && ngx_http_kraken_busy(r, data, len, &reason) == NGX_OK)
    {
        return ngx_http_kraken_add_header(r, "X-Kraken-Busy", &reason);
    }

    return NGX_OK;
}


/*
 * A refusal by one of the engine's bounds (kraken_worker_rooms, _peers,
 * _connecting, the registry's kraken_shm_size) is 5003000 with a
 * description the engine writes as "server busy: WHAT", and nothing a
 * client sends can start a description: then WHAT (letters, digits,
 * spaces) is the reason. Any other 5003000 (a malformed fingerprint, no
 * media plane) is NGX_DECLINED: it says nothing of the engine's load.
 */

static ngx_int_t
ngx_http_kraken_busy(ngx_http_request_t *r, u_char *data, size_t len,
    ngx_str_t *reason)
{
    u_char  *p, *last, *start;

    static u_char  busy[] = ",\"description\":\"server busy: ";

    if (data == NULL
        || ngx_http_kraken_error_code(data, len, &p)
           != KRAKEN_ERR_SERVER_NEW_PEER)
    {
        return NGX_DECLINED;
    }

    last = data + len;

    if ((size_t) (last - p) < sizeof(busy) - 1
        || ngx_strncmp(p, busy, sizeof(busy) - 1) != 0)
    {
        return NGX_DECLINED;
    }

    start = p + sizeof(busy) - 1;

    for (p = start; p < last && p - start < 64; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
              || *p == ' '))
        {
            break;
        }
    }

    if (p == start || p == last || *p != '"') {
        return NGX_DECLINED;
    }

    reason->len = p - start;
    reason->data = ngx_pnalloc(r->pool, reason->len);
    if (reason->data == NULL) {
        return NGX_DECLINED;
    }

    ngx_memcpy(reason->data, start, reason->len);

    return NGX_OK;
}


/*
 * The code of a Kraken error as kraken_rpc renders it, here or in the
 * worker a call was forwarded to: {"error":{"status":S,"code":C,...}.
 * 0 for any other body.
 */

static ngx_uint_t
ngx_http_kraken_error_code(u_char *data, size_t len, u_char **end)
{
    u_char      *p, *last;
    ngx_uint_t   code;

    static u_char  error[] = "{\"error\":{\"status\":";
    static u_char  key[] = ",\"code\":";

    p = data;
    last = data + len;

    if ((size_t) (last - p) < sizeof(error) - 1
        || ngx_strncmp(p, error, sizeof(error) - 1) != 0)
    {
        return 0;
    }

    for (p += sizeof(error) - 1; p < last && *p >= '0' && *p <= '9'; p++) {
        /* void */
    }

    if ((size_t) (last - p) < sizeof(key) - 1
        || ngx_strncmp(p, key, sizeof(key) - 1) != 0)
    {
        return 0;
    }

    code = 0;

    for (p += sizeof(key) - 1; p < last && *p >= '0' && *p <= '9'; p++) {
        if (code >= 100000000) {
            return 0;
        }

        code = code * 10 + (*p - '0');
    }

    if (end) {
        *end = p;
    }

    return code;
}


/* nginx 1.22 keeps no pointer to Origin: look it up. */

static ngx_table_elt_t *
ngx_http_kraken_origin(ngx_http_request_t *r)
{
    static ngx_str_t  origin = ngx_string("Origin");

    return ngx_http_kraken_header_in(r, &origin);
}


/* A request header by name, the first with a value; NULL: none. */

static ngx_table_elt_t *
ngx_http_kraken_header_in(ngx_http_request_t *r, ngx_str_t *name)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == name->len
            && ngx_strncasecmp(h[i].key.data, name->data, name->len) == 0
            && h[i].value.len)
        {
            return &h[i];
        }
    }
}


static ngx_int_t
ngx_http_kraken_add_header(ngx_http_request_t *r, char *key,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value = *value;

    return NGX_OK;
}


/*
 * An answer nginx makes itself on a Kraken location (a body over
 * client_max_body_size, limit_req's and limit_conn's refusals, a bad
 * request, an internal error; on a front, an engine that cannot be
 * reached or does not answer in time) is an HTML page without CORS: a
 * page cannot read it. On a kraken_rpc or kraken_front location, and on a
 * server holding one for a request refused before its location is known,
 * it becomes Kraken's error envelope (kraken_rpc_http_error) with the
 * CORS headers. On a front, the engines' X-Kraken-* headers, meant for
 * the front only, are removed from every answer, and an engine's 404 that
 * survived all tries (which names the engine holding the room) is told
 * again without the address. The header filter renders the envelope, the
 * body filter swaps the body for it.
 */

static ngx_int_t
ngx_http_kraken_header_filter(ngx_http_request_t *r)
{
    ngx_uint_t                   status, owner;
    ngx_http_kraken_loc_conf_t  *klcf;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kraken_module);

    if (!klcf->rpc && !klcf->front && !klcf->server) {
        return ngx_http_next_header_filter(r);
    }

    owner = klcf->front ? ngx_http_kraken_hide_headers(r) : 0;
    status = r->headers_out.status;

    if (r->err_status && status >= 400 && status <= 599) {
        /* on a front, nginx's 404 is the engines' last "not here" */
        if (ngx_http_kraken_envelope(r, status,
                                     klcf->front
                                     && status == NGX_HTTP_NOT_FOUND
                                     ? KRAKEN_ERR_PEER_NOT_FOUND : 0)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (owner && status == NGX_HTTP_NOT_FOUND) {
        if (ngx_http_kraken_envelope(r, status, KRAKEN_ERR_PEER_NOT_FOUND)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_http_next_header_filter(r);
}


/*
 * The envelope of r's answer with HTTP status and code (0: the status's,
 * 5001SSS or 5003SSS). An answer nginx made gets the CORS headers; an
 * engine's answer through a front keeps the engine's. The call's id when
 * its body was read whole.
 */

static ngx_int_t
ngx_http_kraken_envelope(ngx_http_request_t *r, ngx_uint_t status,
    ngx_uint_t code)
{
    char                        *out;
    size_t                       len;
    u_char                      *p;
    ngx_str_t                    body;
    ngx_uint_t                   i;
    ngx_list_part_t             *part;
    ngx_table_elt_t             *h;
    ngx_http_kraken_ctx_t       *kctx;
    ngx_http_kraken_loc_conf_t  *klcf;

    kctx = ngx_http_get_module_ctx(r, ngx_http_kraken_module);

    if (kctx == NULL) {
        kctx = ngx_pcalloc(r->pool, sizeof(ngx_http_kraken_ctx_t));
        if (kctx == NULL) {
            return NGX_ERROR;
        }

        kctx->worker = NGX_KRAKEN_MAX_SLOTS;
        ngx_http_set_ctx(r, kctx, ngx_http_kraken_module);
    }

    body.data = NULL;
    body.len = 0;

    if (kctx->body.data) {
        body = kctx->body;

    } else if (r->request_body && r->request_body->rest == 0
               && ngx_http_kraken_read_body(r, &body) != NGX_OK)
    {
        body.data = NULL;
        body.len = 0;
    }

    out = NULL;

    (void) kraken_rpc_http_error((const char *) body.data, body.len, status,
                                 code, &out, &len);

    if (out == NULL) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        free(out);
        return NGX_ERROR;
    }

    ngx_memcpy(p, out, len);
    free(out);

    kctx->envelope.data = p;
    kctx->envelope.len = len;

    if (r->err_status) {
        /* nginx's own answer: CORS once, whatever was set before it */
        part = &r->headers_out.headers.part;
        h = part->elts;

        for (i = 0; /* void */; i++) {

            if (i >= part->nelts) {
                if (part->next == NULL) {
                    break;
                }

                part = part->next;
                h = part->elts;
                i = 0;
            }

            if (h[i].hash && h[i].key.len > sizeof("Access-Control-") - 1
                && ngx_strncasecmp(h[i].key.data,
                                   (u_char *) "Access-Control-",
                                   sizeof("Access-Control-") - 1) == 0)
            {
                h[i].hash = 0;
            }
        }

        if (ngx_http_kraken_cors(r) == NGX_ERROR) {
            return NGX_ERROR;
        }

        /* an engine's load for a front (never a code: no capacity told) */
        klcf = ngx_http_get_module_loc_conf(r, ngx_http_kraken_module);

        if (klcf->rpc && r->method == NGX_HTTP_POST
            && ngx_http_kraken_load_header(r, NULL, 0) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (code == 0) {
        code = kraken_error_http(status);
    }

    /* $kraken_error and the metrics */
    kctx->code = code;

    r->headers_out.content_type = ngx_http_kraken_json_type;
    r->headers_out.content_type_len = ngx_http_kraken_json_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = len;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    return NGX_OK;
}


/*
 * A front's answer: the engines' X-Kraken-* headers removed (load, room,
 * worker, owner, code: for the front only). 1 when it carried
 * X-Kraken-Owner (a 404 naming the engine that holds the room).
 */

static ngx_uint_t
ngx_http_kraken_hide_headers(ngx_http_request_t *r)
{
    ngx_uint_t        i, owner;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    owner = 0;
    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0
            || h[i].key.len < sizeof("X-Kraken-") - 1
            || ngx_strncasecmp(h[i].key.data, (u_char *) "X-Kraken-",
                               sizeof("X-Kraken-") - 1) != 0)
        {
            continue;
        }

        if (h[i].key.len == sizeof("X-Kraken-Owner") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "X-Kraken-Owner",
                               sizeof("X-Kraken-Owner") - 1) == 0)
        {
            owner = 1;
        }

        h[i].hash = 0;
    }

    return owner;
}


static ngx_int_t
ngx_http_kraken_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t              *b;
    ngx_uint_t              last;
    ngx_chain_t            *cl, out;
    ngx_http_kraken_ctx_t  *kctx;

    kctx = ngx_http_get_module_ctx(r, ngx_http_kraken_module);

    if (kctx == NULL || kctx->envelope.data == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    last = 0;

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;

        if (cl->buf->last_buf) {
            last = 1;
        }
    }

    if (!last) {
        return NGX_OK;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = kctx->envelope.data;
    b->last = b->pos + kctx->envelope.len;
    b->memory = 1;
    b->last_buf = 1;

    kctx->envelope.data = NULL;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


static ngx_int_t
ngx_http_kraken_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_kraken_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/*
 * $kraken_room: the room a JSON-RPC body addresses, so that a front
 * nginx can "hash $kraken_room consistent" calls over SFU hosts. Empty
 * until the body has been read (proxy_pass reads it before choosing).
 */

static ngx_int_t
ngx_http_kraken_room_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char     *p;
    size_t      len;
    ngx_str_t   body;
    char        room[KRAKEN_ID_MAX + 1];

    v->not_found = 1;

    if (r->request_body == NULL
        || ngx_http_kraken_read_body(r, &body) != NGX_OK
        || kraken_rpc_room((const char *) body.data, body.len, room,
                           sizeof(room)) != 0)
    {
        return NGX_OK;
    }

    len = ngx_strlen(room);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, room, len);

    v->data = p;
    v->len = len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * The call of r, its method and uid read: the one kraken_rpc runs, or on
 * another location (a front's proxy_pass) the body once it has been read.
 * NULL when there is no body (yet), or no memory.
 */

static ngx_http_kraken_ctx_t *
ngx_http_kraken_call(ngx_http_request_t *r)
{
    ngx_str_t               body;
    ngx_http_kraken_ctx_t  *kctx;

    kctx = ngx_http_get_module_ctx(r, ngx_http_kraken_module);

    if (kctx && kctx->described) {
        return kctx;
    }

    if (r->request_body == NULL
        || ngx_http_kraken_read_body(r, &body) != NGX_OK)
    {
        return kctx;
    }

    if (kctx == NULL) {
        kctx = ngx_pcalloc(r->pool, sizeof(ngx_http_kraken_ctx_t));
        if (kctx == NULL) {
            return NULL;
        }

        kctx->worker = NGX_KRAKEN_MAX_SLOTS;
        ngx_http_set_ctx(r, kctx, ngx_http_kraken_module);
    }

    ngx_http_kraken_describe(r, kctx, &body);

    return kctx;
}


/* $kraken_method, $kraken_uid: as the call's body names them */

static ngx_int_t
ngx_http_kraken_call_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t              *s;
    ngx_http_kraken_ctx_t  *kctx;

    kctx = ngx_http_kraken_call(r);

    if (kctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_str_t *) ((u_char *) kctx + data);

    if (s->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = s->data;
    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* $kraken_error: the Kraken error code of the answer; empty on success */

static ngx_int_t
ngx_http_kraken_error_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                 *p;
    ngx_http_kraken_ctx_t  *kctx;

    kctx = ngx_http_get_module_ctx(r, ngx_http_kraken_module);

    if (kctx == NULL || kctx->code == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;
    v->len = ngx_sprintf(p, "%ui", kctx->code) - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * The log phase counts each call of a kraken_rpc location once, in the
 * worker that took it (a forwarded call is not counted again by its
 * room's owner): by method, and by the Kraken code of the answer, else
 * its HTTP status.
 */

static ngx_int_t
ngx_http_kraken_log_handler(ngx_http_request_t *r)
{
    ngx_str_t                    none = ngx_null_string;
    ngx_str_t                   *method;
    ngx_uint_t                   status, code;
    ngx_http_kraken_ctx_t       *kctx;
    ngx_http_kraken_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kraken_module);

    if (!klcf->rpc || r != r->main || r->method != NGX_HTTP_POST) {
        return NGX_OK;
    }

    kctx = ngx_http_get_module_ctx(r, ngx_http_kraken_module);
    method = (kctx && kctx->described) ? &kctx->method : &none;
    status = r->err_status ? r->err_status : r->headers_out.status;

    if (kctx && kctx->code) {
        code = kctx->code;

    } else {
        code = (status == NGX_HTTP_OK) ? 0 : status;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "kraken: call \"%V\" answered %ui, code %ui",
                   method, status, code);

    ngx_kraken_metrics_rpc(method, code);

    return NGX_OK;
}


static ngx_int_t
ngx_http_kraken_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_kraken_log_handler;

    /* before the guards of preaccess and access (limit_req, auth_request) */
    h = ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_kraken_preflight;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_kraken_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_kraken_body_filter;

    return NGX_OK;
}


static void *
ngx_http_kraken_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_kraken_main_conf_t  *kmcf;

    kmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kraken_main_conf_t));
    if (kmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     kmcf->callback.trusted = { 0, NULL };
     *     kmcf->callback.ssl = NULL;
     *     kmcf->callback.resolver = NULL;
     */

    kmcf->forward.timeout = NGX_CONF_UNSET_MSEC;
    kmcf->forward.pending = NGX_CONF_UNSET;
    kmcf->callback.timeout = NGX_CONF_UNSET_MSEC;
    kmcf->callback.pending = NGX_CONF_UNSET;

    return kmcf;
}


static char *
ngx_http_kraken_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_kraken_main_conf_t  *kmcf = conf;

    ngx_conf_init_msec_value(kmcf->forward.timeout, 10000);
    ngx_conf_init_value(kmcf->forward.pending, 256);

    if (kmcf->forward.pending < 1) {
        return "kraken_forward_pending must be at least 1";
    }

    ngx_conf_init_msec_value(kmcf->callback.timeout, 10000);
    ngx_conf_init_value(kmcf->callback.pending, 256);

    if (kmcf->callback.pending < 1) {
        return "kraken_callback_pending must be at least 1";
    }

    return ngx_http_kraken_init_callback(cf, kmcf);
}


/*
 * The on-track requests' TLS: TLSv1.2 and 1.3, peers verified against
 * kraken_callback_trusted_certificate (without it no request is made,
 * and a callback stays 5001000); names resolved by the http block's
 * resolver.
 */

static char *
ngx_http_kraken_init_callback(ngx_conf_t *cf,
    ngx_http_kraken_main_conf_t *kmcf)
{
    ngx_ssl_t                 *ssl;
    ngx_pool_cleanup_t        *cln;
    ngx_http_core_loc_conf_t  *clcf;

    if (kmcf->callback.trusted.len == 0) {
        return NGX_CONF_OK;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    kmcf->callback.resolver = clcf->resolver;

    ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (ssl == NULL) {
        return NGX_CONF_ERROR;
    }

    ssl->log = cf->log;

    if (ngx_ssl_create(ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(ssl);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = ssl;

    if (ngx_ssl_trusted_certificate(cf, ssl, &kmcf->callback.trusted, 4)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    kmcf->callback.ssl = ssl;

    return NGX_CONF_OK;
}


static void *
ngx_http_kraken_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_kraken_loc_conf_t  *klcf;

    klcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kraken_loc_conf_t));
    if (klcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     klcf->turn_server = { 0, NULL };
     *     klcf->turn_secret = { 0, NULL };
     */

    klcf->rpc = NGX_CONF_UNSET;
    klcf->demo = NGX_CONF_UNSET;
    klcf->info_details = NGX_CONF_UNSET;
    klcf->placement = NGX_CONF_UNSET;
    klcf->placement_from = NGX_CONF_UNSET_PTR;
    klcf->front = NGX_CONF_UNSET;
    klcf->uid_bind = NGX_CONF_UNSET_PTR;
    klcf->cors_origins = NGX_CONF_UNSET_PTR;
    klcf->callback_allow = NGX_CONF_UNSET_PTR;

    return klcf;
}


static char *
ngx_http_kraken_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_kraken_loc_conf_t *prev = parent;
    ngx_http_kraken_loc_conf_t *conf = child;

    ngx_conf_merge_value(conf->rpc, prev->rpc, 0);
    ngx_conf_merge_value(conf->demo, prev->demo, 0);
    ngx_conf_merge_value(conf->info_details, prev->info_details, 0);
    ngx_conf_merge_value(conf->placement, prev->placement, 0);
    ngx_conf_merge_ptr_value(conf->placement_from, prev->placement_from,
                             NULL);

    if (conf->rpc && conf->placement && conf->placement_from == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"kraken_placement on\" takes the fronts' "
                           "addresses in \"kraken_placement_from\"");
        return NGX_CONF_ERROR;
    }
    ngx_conf_merge_value(conf->front, prev->front, 0);
    ngx_conf_merge_ptr_value(conf->uid_bind, prev->uid_bind, NULL);
    ngx_conf_merge_ptr_value(conf->cors_origins, prev->cors_origins, NULL);
    ngx_conf_merge_ptr_value(conf->callback_allow, prev->callback_allow,
                             NULL);
    ngx_conf_merge_str_value(conf->turn_server, prev->turn_server, "");
    ngx_conf_merge_str_value(conf->turn_secret, prev->turn_secret, "");

    return NGX_CONF_OK;
}


static char *
ngx_http_kraken_rpc(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kraken_loc_conf_t  *klcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (klcf->rpc != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    klcf->rpc = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_kraken_handler;

    ngx_http_kraken_mark_server(cf);

    return NGX_CONF_OK;
}


/*
 * kraken_front: the location proxies Kraken's JSON-RPC to engines. nginx's
 * own answers there become Kraken's envelopes with CORS, and the engines'
 * headers for fronts stay on the front (ngx_http_kraken_header_filter).
 */

static char *
ngx_http_kraken_front(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kraken_loc_conf_t  *klcf = conf;

    if (klcf->front != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    klcf->front = 1;

    ngx_http_kraken_mark_server(cf);

    return NGX_CONF_OK;
}


/*
 * A request nginx refuses before its location is known (a bad request
 * line or header) has the server's own configuration: a server with a
 * Kraken location answers it with an envelope too.
 */

static void
ngx_http_kraken_mark_server(ngx_conf_t *cf)
{
    ngx_http_core_srv_conf_t    *cscf;
    ngx_http_kraken_loc_conf_t  *slcf;

    cscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_core_module);
    slcf = cscf->ctx->loc_conf[ngx_http_kraken_module.ctx_index];
    slcf->server = 1;
}


static char *
ngx_http_kraken_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_kraken_metrics_handler) {
        return "is duplicate";
    }

    clcf->handler = ngx_kraken_metrics_handler;

    return NGX_CONF_OK;
}


/*
 * kraken_cors_origin * | origin ...: each origin may hold variables, and
 * one whose value is the request's Origin allows it.
 */

/*
 * kraken_callback_allow https://host[:port][/path-prefix] ...: parsed as
 * a client's callback will be, and compared with it part by part.
 */

static char *
ngx_http_kraken_callback_allow(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_kraken_loc_conf_t  *klcf = conf;

    char           err[64];
    ngx_str_t     *value;
    ngx_uint_t     i;
    kraken_url_t  *u;

    if (klcf->callback_allow != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    klcf->callback_allow = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                            sizeof(kraken_url_t));
    if (klcf->callback_allow == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        u = ngx_array_push(klcf->callback_allow);
        if (u == NULL) {
            return NGX_CONF_ERROR;
        }

        if (kraken_url_parse((const char *) value[i].data, value[i].len, u,
                             err, sizeof(err))
            != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid callback prefix \"%V\": %s",
                               &value[i], err);
            return NGX_CONF_ERROR;
        }

        /* "?..." in a prefix would look compared, and is not */
        if (ngx_strlchr(value[i].data, value[i].data + value[i].len, '?')) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid callback prefix \"%V\": a query",
                               &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/*
 * kraken_placement_from address | CIDR ...: the fronts, whose
 * X-Kraken-Place is honoured.
 */

static char *
ngx_http_kraken_placement_from(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_kraken_loc_conf_t  *klcf = conf;

    ngx_int_t    rc;
    ngx_str_t   *value;
    ngx_uint_t   i;
    ngx_cidr_t  *cidr;

    if (klcf->placement_from != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    klcf->placement_from = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                            sizeof(ngx_cidr_t));
    if (klcf->placement_from == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        cidr = ngx_array_push(klcf->placement_from);
        if (cidr == NULL) {
            return NGX_CONF_ERROR;
        }

        rc = ngx_ptocidr(&value[i], cidr);

        if (rc == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid address or network \"%V\" (no "
                               "\"all\", no unix:)", &value[i]);
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_DONE) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "low address bits of %V are meaningless",
                               &value[i]);
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_kraken_cors_origin(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kraken_loc_conf_t  *klcf = conf;

    u_char                            *p;
    ngx_str_t                         *value;
    ngx_uint_t                         i;
    ngx_http_complex_value_t          *cv;
    ngx_http_compile_complex_value_t   ccv;

    if (klcf->cors_origins != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2
        && value[1].len == 1 && value[1].data[0] == '*')
    {
        klcf->cors_origins = NULL;
        return NGX_CONF_OK;
    }

    klcf->cors_origins = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                          sizeof(ngx_http_complex_value_t));
    if (klcf->cors_origins == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_http_script_variables_count(&value[i]) == 0) {
            /* an origin is scheme://host[:port], never a path */
            p = ngx_strlcasestrn(value[i].data, value[i].data + value[i].len,
                                 (u_char *) "://", 3 - 1);

            if (p == NULL
                || ngx_strlchr(p + 3, value[i].data + value[i].len, '/'))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"%V\" is not an origin "
                                   "(scheme://host[:port]), or \"*\" "
                                   "alone", &value[i]);
                return NGX_CONF_ERROR;
            }
        }

        cv = ngx_array_push(klcf->cors_origins);
        if (cv == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &value[i];
        ccv.complex_value = cv;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_kraken_init_process(ngx_cycle_t *cycle)
{
    ngx_http_kraken_main_conf_t  *kmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    kmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_kraken_module);
    if (kmcf == NULL) {
        return NGX_OK;
    }

    /* before the stream part starts the media plane and its forwarding */
    ngx_kraken_ipc_init(&kmcf->forward);
    ngx_kraken_media_set_rpc(ngx_http_kraken_ipc_rpc);
    ngx_kraken_callback_set_conf(&kmcf->callback);

    return NGX_OK;
}
