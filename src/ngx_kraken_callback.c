
/*
 * Copyright (C) ngx_kraken authors
 */


/*
 * Kraken's on-track callback, made by the worker that owns the room:
 * POST {"rid","uid","cid","action":"ontrack"} to the publish's callback
 * url over TLS with a verified certificate, on the worker's event loop
 * (nginx's resolver, peer connection and SSL layer), within
 * kraken_callback_timeout and at most kraken_callback_pending at once.
 * A 200 status line admits the publisher, anything else refuses it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include <openssl/x509v3.h>

#include <cJSON.h>

#include "kraken_engine.h"
#include "ngx_kraken_callback.h"


#define NGX_KRAKEN_CALLBACK_STATUS  64     /* of the answer we read */


typedef struct {
    ngx_pool_t              *pool;
    ngx_log_t               *log;
    ngx_event_t              timer;
    ngx_peer_connection_t    peer;
    ngx_resolver_ctx_t      *resolving;
    ngx_str_t                host;          /* IPv6 without brackets */
    in_port_t                port;
    ngx_uint_t               literal;       /* host is an address */
    ngx_buf_t               *request;
    u_char                   status[NGX_KRAKEN_CALLBACK_STATUS];
    size_t                   nstatus;
    char                    *rid;
    char                    *uid;
    char                    *cid;
    kraken_engine_t        **engine;        /* the ontrack's data */
    ngx_uint_t               done;
} ngx_kraken_callback_t;


static void ngx_kraken_callback_start(ngx_kraken_callback_t *cb,
    ngx_url_t *u);
static void ngx_kraken_callback_resolved(ngx_resolver_ctx_t *rctx);
static void ngx_kraken_callback_connect(ngx_kraken_callback_t *cb,
    struct sockaddr *sa, socklen_t len);
static void ngx_kraken_callback_connected(ngx_event_t *ev);
static void ngx_kraken_callback_handshaked(ngx_connection_t *c);
static ngx_int_t ngx_kraken_callback_verify(ngx_kraken_callback_t *cb,
    ngx_connection_t *c);
static void ngx_kraken_callback_write(ngx_event_t *ev);
static void ngx_kraken_callback_read(ngx_event_t *ev);
static void ngx_kraken_callback_timeout(ngx_event_t *ev);
static ngx_buf_t *ngx_kraken_callback_request(ngx_kraken_callback_t *cb,
    ngx_url_t *u);
static void ngx_kraken_callback_finish(ngx_kraken_callback_t *cb,
    ngx_uint_t ok, const char *why);
static void ngx_kraken_callback_dummy(ngx_event_t *ev);


static ngx_kraken_callback_conf_t  *ngx_kraken_callback_conf;
static ngx_uint_t                   ngx_kraken_callback_npending;


void
ngx_kraken_callback_set_conf(ngx_kraken_callback_conf_t *conf)
{
    ngx_kraken_callback_conf = conf;
}


ngx_uint_t
ngx_kraken_callback_enabled(void)
{
    return ngx_kraken_callback_conf && ngx_kraken_callback_conf->ssl;
}


void
ngx_kraken_callback_ontrack(void *data, const char *rid, const char *uid,
    const char *cid, const char *url)
{
    size_t                  len;
    u_char                 *copy;
    ngx_url_t               u;
    ngx_pool_t             *pool;
    kraken_engine_t        *e;
    ngx_kraken_callback_t  *cb;

    e = *(kraken_engine_t **) data;

    if (!ngx_kraken_callback_enabled()
        || ngx_kraken_callback_npending
           >= (ngx_uint_t) ngx_kraken_callback_conf->pending)
    {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "kraken: callback of %s:%s refused: %s", rid, uid,
                      ngx_kraken_callback_enabled()
                      ? "kraken_callback_pending reached"
                      : "no kraken_callback_trusted_certificate");
        kraken_engine_callback_done(e, rid, uid, cid, 0, ngx_current_msec);
        return;
    }

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        kraken_engine_callback_done(e, rid, uid, cid, 0, ngx_current_msec);
        return;
    }

    cb = ngx_pcalloc(pool, sizeof(ngx_kraken_callback_t));
    if (cb == NULL) {
        ngx_destroy_pool(pool);
        kraken_engine_callback_done(e, rid, uid, cid, 0, ngx_current_msec);
        return;
    }

    cb->pool = pool;
    cb->log = ngx_cycle->log;
    cb->engine = data;
    cb->rid = (char *) ngx_pstrdup(pool, &(ngx_str_t) { ngx_strlen(rid) + 1,
                                                        (u_char *) rid });
    cb->uid = (char *) ngx_pstrdup(pool, &(ngx_str_t) { ngx_strlen(uid) + 1,
                                                        (u_char *) uid });
    cb->cid = (char *) ngx_pstrdup(pool, &(ngx_str_t) { ngx_strlen(cid) + 1,
                                                        (u_char *) cid });

    if (cb->rid == NULL || cb->uid == NULL || cb->cid == NULL) {
        ngx_destroy_pool(pool);
        kraken_engine_callback_done(e, rid, uid, cid, 0, ngx_current_msec);
        return;
    }

    ngx_kraken_callback_npending++;

    ngx_log_debug4(NGX_LOG_DEBUG_EVENT, cb->log, 0,
                   "kraken: callback of %s:%s to \"%s\", %ui in flight",
                   rid, uid, url, ngx_kraken_callback_npending);

    cb->timer.handler = ngx_kraken_callback_timeout;
    cb->timer.data = cb;
    cb->timer.log = cb->log;
    cb->timer.cancelable = 1;
    ngx_add_timer(&cb->timer, ngx_kraken_callback_conf->timeout);

    /* the RPC let only https urls under an allowed prefix through */
    len = ngx_strlen(url);

    if (len <= 8 || ngx_strncasecmp((u_char *) url, (u_char *) "https://", 8)
                    != 0)
    {
        ngx_kraken_callback_finish(cb, 0, "not an https url");
        return;
    }

    /* the engine's url lives during this call only */
    copy = ngx_pnalloc(pool, len + 1);
    if (copy == NULL) {
        ngx_kraken_callback_finish(cb, 0, "out of memory");
        return;
    }

    ngx_cpystrn(copy, (u_char *) url, len + 1);

    ngx_memzero(&u, sizeof(ngx_url_t));
    u.url.data = copy + 8;
    u.url.len = len - 8;
    u.default_port = 443;
    u.uri_part = 1;
    u.no_resolve = 1;

    if (ngx_parse_url(pool, &u) != NGX_OK || u.host.len == 0) {
        ngx_kraken_callback_finish(cb, 0, "a url nginx cannot parse");
        return;
    }

    ngx_kraken_callback_start(cb, &u);
}


static void
ngx_kraken_callback_start(ngx_kraken_callback_t *cb, ngx_url_t *u)
{
    in_addr_t             a4;
    ngx_resolver_ctx_t   *rctx;
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct in6_addr       a6;
    struct sockaddr_in6  *sin6;
#endif

    cb->port = u->port;
    cb->host = u->host;

    if (cb->host.len > 2 && cb->host.data[0] == '[') {
        cb->host.data++;
        cb->host.len -= 2;
    }

    /* NUL-terminated, for SNI and the certificate's check */
    cb->host.data = ngx_pstrdup(cb->pool, &(ngx_str_t) { cb->host.len + 1,
                                                         cb->host.data });
    if (cb->host.data == NULL) {
        ngx_kraken_callback_finish(cb, 0, "out of memory");
        return;
    }

    cb->host.data[cb->host.len] = '\0';

    cb->request = ngx_kraken_callback_request(cb, u);
    if (cb->request == NULL) {
        ngx_kraken_callback_finish(cb, 0, "out of memory");
        return;
    }

    a4 = ngx_inet_addr(cb->host.data, cb->host.len);

    if (a4 != INADDR_NONE) {
        sin = ngx_pcalloc(cb->pool, sizeof(struct sockaddr_in));
        if (sin == NULL) {
            ngx_kraken_callback_finish(cb, 0, "out of memory");
            return;
        }

        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = a4;
        sin->sin_port = htons(cb->port);
        cb->literal = 1;
        ngx_kraken_callback_connect(cb, (struct sockaddr *) sin,
                                    sizeof(struct sockaddr_in));
        return;
    }

#if (NGX_HAVE_INET6)
    if (ngx_inet6_addr(cb->host.data, cb->host.len, a6.s6_addr) == NGX_OK) {
        sin6 = ngx_pcalloc(cb->pool, sizeof(struct sockaddr_in6));
        if (sin6 == NULL) {
            ngx_kraken_callback_finish(cb, 0, "out of memory");
            return;
        }

        sin6->sin6_family = AF_INET6;
        sin6->sin6_addr = a6;
        sin6->sin6_port = htons(cb->port);
        cb->literal = 1;
        ngx_kraken_callback_connect(cb, (struct sockaddr *) sin6,
                                    sizeof(struct sockaddr_in6));
        return;
    }
#endif

    if (ngx_kraken_callback_conf->resolver == NULL) {
        ngx_kraken_callback_finish(cb, 0, "no resolver in the http block");
        return;
    }

    rctx = ngx_resolve_start(ngx_kraken_callback_conf->resolver, NULL);
    if (rctx == NULL || rctx == NGX_NO_RESOLVER) {
        ngx_kraken_callback_finish(cb, 0, "no resolver in the http block");
        return;
    }

    rctx->name = cb->host;
    rctx->handler = ngx_kraken_callback_resolved;
    rctx->data = cb;
    rctx->timeout = ngx_kraken_callback_conf->timeout;

    cb->resolving = rctx;

    /* the handler may run, and finish cb, before this returns */
    if (ngx_resolve_name(rctx) != NGX_OK) {
        cb->resolving = NULL;
        ngx_kraken_callback_finish(cb, 0, "the resolver failed");
    }
}


static void
ngx_kraken_callback_resolved(ngx_resolver_ctx_t *rctx)
{
    ngx_kraken_callback_t *cb = rctx->data;

    socklen_t         len;
    struct sockaddr  *sa;

    if (rctx->state || rctx->naddrs == 0) {
        ngx_log_error(NGX_LOG_WARN, cb->log, 0,
                      "kraken: callback host \"%V\" could not be resolved "
                      "(%i: %s)", &cb->host, rctx->state,
                      ngx_resolver_strerror(rctx->state));
        ngx_resolve_name_done(rctx);
        cb->resolving = NULL;
        ngx_kraken_callback_finish(cb, 0, "not resolved");
        return;
    }

    len = rctx->addrs[0].socklen;

    sa = ngx_palloc(cb->pool, len);
    if (sa == NULL) {
        ngx_resolve_name_done(rctx);
        cb->resolving = NULL;
        ngx_kraken_callback_finish(cb, 0, "out of memory");
        return;
    }

    ngx_memcpy(sa, rctx->addrs[0].sockaddr, len);
    ngx_inet_set_port(sa, cb->port);

    ngx_resolve_name_done(rctx);
    cb->resolving = NULL;

    ngx_kraken_callback_connect(cb, sa, len);
}


static void
ngx_kraken_callback_connect(ngx_kraken_callback_t *cb, struct sockaddr *sa,
    socklen_t len)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    cb->peer.sockaddr = sa;
    cb->peer.socklen = len;
    cb->peer.name = &cb->host;
    cb->peer.get = ngx_event_get_peer;
    cb->peer.log = cb->log;
    cb->peer.log_error = NGX_ERROR_INFO;

    rc = ngx_event_connect_peer(&cb->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        ngx_kraken_callback_finish(cb, 0, "could not connect");
        return;
    }

    c = cb->peer.connection;
    c->data = cb;
    c->pool = cb->pool;
    c->read->handler = ngx_kraken_callback_connected;
    c->write->handler = ngx_kraken_callback_connected;

    if (rc == NGX_AGAIN) {
        return;
    }

    ngx_kraken_callback_connected(c->write);
}


static void
ngx_kraken_callback_connected(ngx_event_t *ev)
{
    ngx_int_t               rc;
    ngx_connection_t       *c;
    ngx_kraken_callback_t  *cb;

    c = ev->data;
    cb = c->data;

    c->read->handler = ngx_kraken_callback_dummy;
    c->write->handler = ngx_kraken_callback_dummy;

    if (ngx_ssl_create_connection(ngx_kraken_callback_conf->ssl, c,
                                  NGX_SSL_BUFFER|NGX_SSL_CLIENT)
        != NGX_OK)
    {
        ngx_kraken_callback_finish(cb, 0, "no TLS connection");
        return;
    }

    if (!cb->literal) {
        /* SNI: the name the certificate is checked against */
        if (SSL_set_tlsext_host_name(c->ssl->connection,
                                     (char *) cb->host.data)
            == 0)
        {
            ngx_kraken_callback_finish(cb, 0, "no SNI");
            return;
        }
    }

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        c->ssl->handler = ngx_kraken_callback_handshaked;
        return;
    }

    ngx_kraken_callback_handshaked(c);
}


static void
ngx_kraken_callback_handshaked(ngx_connection_t *c)
{
    ngx_kraken_callback_t  *cb = c->data;

    if (!c->ssl->handshaked) {
        ngx_kraken_callback_finish(cb, 0, "TLS handshake failed");
        return;
    }

    if (ngx_kraken_callback_verify(cb, c) != NGX_OK) {
        ngx_kraken_callback_finish(cb, 0, "certificate not trusted");
        return;
    }

    c->write->handler = ngx_kraken_callback_write;
    c->read->handler = ngx_kraken_callback_read;

    ngx_kraken_callback_write(c->write);
}


/* The chain to a trusted root, then the url's host in the certificate. */

static ngx_int_t
ngx_kraken_callback_verify(ngx_kraken_callback_t *cb, ngx_connection_t *c)
{
    int     rc;
    long    verified;
    X509   *cert;

    verified = SSL_get_verify_result(c->ssl->connection);

    if (verified != X509_V_OK) {
        ngx_log_error(NGX_LOG_WARN, cb->log, 0,
                      "kraken: callback host \"%V\" certificate: %s",
                      &cb->host, X509_verify_cert_error_string(verified));
        return NGX_ERROR;
    }

#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    cert = SSL_get1_peer_certificate(c->ssl->connection);
#else
    cert = SSL_get_peer_certificate(c->ssl->connection);
#endif

    if (cert == NULL) {
        return NGX_ERROR;
    }

    if (cb->literal) {
        rc = X509_check_ip_asc(cert, (char *) cb->host.data, 0);

    } else {
        rc = X509_check_host(cert, (char *) cb->host.data, cb->host.len, 0,
                             NULL);
    }

    X509_free(cert);

    if (rc != 1) {
        ngx_log_error(NGX_LOG_WARN, cb->log, 0,
                      "kraken: callback host \"%V\" is not in its "
                      "certificate", &cb->host);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_kraken_callback_write(ngx_event_t *ev)
{
    ssize_t                 n;
    ngx_buf_t              *b;
    ngx_connection_t       *c;
    ngx_kraken_callback_t  *cb;

    c = ev->data;
    cb = c->data;
    b = cb->request;

    while (b->pos < b->last) {
        n = c->send(c, b->pos, b->last - b->pos);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
                ngx_kraken_callback_finish(cb, 0, "write event failed");
            }

            return;
        }

        if (n <= 0) {
            ngx_kraken_callback_finish(cb, 0, "the request was not sent");
            return;
        }

        b->pos += n;
    }

    c->write->handler = ngx_kraken_callback_dummy;

    ngx_kraken_callback_read(c->read);
}


/* The status line: "HTTP/1.x 200 ..." admits, anything else refuses. */

static void
ngx_kraken_callback_read(ngx_event_t *ev)
{
    u_char                 *p;
    ssize_t                 n;
    ngx_connection_t       *c;
    ngx_kraken_callback_t  *cb;

    c = ev->data;
    cb = c->data;

    for ( ;; ) {
        p = ngx_strlchr(cb->status, cb->status + cb->nstatus, LF);

        if (p != NULL || cb->nstatus == NGX_KRAKEN_CALLBACK_STATUS) {
            break;
        }

        n = c->recv(c, cb->status + cb->nstatus,
                    NGX_KRAKEN_CALLBACK_STATUS - cb->nstatus);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
                ngx_kraken_callback_finish(cb, 0, "read event failed");
            }

            return;
        }

        if (n <= 0) {
            ngx_kraken_callback_finish(cb, 0, "no status line");
            return;
        }

        cb->nstatus += n;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_EVENT, cb->log, 0,
                   "kraken: callback of %s:%s answered \"%*s\"", cb->rid,
                   cb->uid, ngx_min(cb->nstatus, 16), cb->status);

    if (cb->nstatus >= 13
        && ngx_strncmp(cb->status, "HTTP/1.", 7) == 0
        && ngx_strncmp(cb->status + 8, " 200", 4) == 0
        && (cb->status[12] == ' ' || cb->status[12] == CR
            || cb->status[12] == LF))
    {
        ngx_kraken_callback_finish(cb, 1, "200");
        return;
    }

    ngx_kraken_callback_finish(cb, 0, "not 200");
}


static void
ngx_kraken_callback_timeout(ngx_event_t *ev)
{
    ngx_kraken_callback_finish(ev->data, 0, "timed out");
}


static ngx_buf_t *
ngx_kraken_callback_request(ngx_kraken_callback_t *cb, ngx_url_t *u)
{
    char       *body;
    cJSON      *json;
    size_t      len;
    ngx_str_t   uri;
    ngx_buf_t  *b;

    json = cJSON_CreateObject();
    if (json == NULL
        || cJSON_AddStringToObject(json, "rid", cb->rid) == NULL
        || cJSON_AddStringToObject(json, "uid", cb->uid) == NULL
        || cJSON_AddStringToObject(json, "cid", cb->cid) == NULL
        || cJSON_AddStringToObject(json, "action", "ontrack") == NULL)
    {
        cJSON_Delete(json);
        return NULL;
    }

    body = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);

    if (body == NULL) {
        return NULL;
    }

    uri = u->uri;
    if (uri.len == 0) {
        ngx_str_set(&uri, "/");
    }

    len = ngx_strlen(body);

    b = ngx_create_temp_buf(cb->pool, sizeof("POST  HTTP/1.1" CRLF) - 1
                                      + uri.len
                                      + sizeof("Host: :65535" CRLF) - 1
                                      + u->host.len
                                      + sizeof("Content-Type: "
                                               "application/json" CRLF) - 1
                                      + sizeof("Content-Length: " CRLF) - 1
                                      + NGX_SIZE_T_LEN
                                      + sizeof("Connection: close" CRLF
                                               CRLF) - 1
                                      + len);
    if (b == NULL) {
        free(body);
        return NULL;
    }

    b->last = ngx_sprintf(b->last, "POST %V HTTP/1.1" CRLF, &uri);

    if (u->port == 443) {
        b->last = ngx_sprintf(b->last, "Host: %V" CRLF, &u->host);

    } else {
        b->last = ngx_sprintf(b->last, "Host: %V:%d" CRLF, &u->host,
                              (int) u->port);
    }

    b->last = ngx_sprintf(b->last, "Content-Type: application/json" CRLF
                          "Content-Length: %uz" CRLF
                          "Connection: close" CRLF CRLF, len);
    b->last = ngx_cpymem(b->last, body, len);

    free(body);

    return b;
}


/* Once: the engine hears the answer, everything of the request goes. */

static void
ngx_kraken_callback_finish(ngx_kraken_callback_t *cb, ngx_uint_t ok,
    const char *why)
{
    ngx_connection_t  *c;
    kraken_engine_t   *e;

    if (cb->done) {
        return;
    }

    cb->done = 1;

    if (cb->timer.timer_set) {
        ngx_del_timer(&cb->timer);
    }

    if (cb->resolving) {
        ngx_resolve_name_done(cb->resolving);
        cb->resolving = NULL;
    }

    c = cb->peer.connection;

    if (c) {
        if (c->ssl) {
            c->ssl->no_wait_shutdown = 1;
            c->ssl->no_send_shutdown = 1;
            (void) ngx_ssl_shutdown(c);
        }

        c->pool = NULL;
        ngx_close_connection(c);
        cb->peer.connection = NULL;
    }

    if (ok) {
        ngx_log_error(NGX_LOG_INFO, cb->log, 0,
                      "kraken: callback of %s:%s admitted it", cb->rid,
                      cb->uid);

    } else {
        ngx_log_error(NGX_LOG_WARN, cb->log, 0,
                      "kraken: callback of %s:%s refused it: %s", cb->rid,
                      cb->uid, why);
    }

    e = *cb->engine;

    if (e) {
        (void) kraken_engine_callback_done(e, cb->rid, cb->uid, cb->cid, ok,
                                           ngx_current_msec);
    }

    ngx_kraken_callback_npending--;

    ngx_destroy_pool(cb->pool);
}


static void
ngx_kraken_callback_dummy(ngx_event_t *ev)
{
}
