
/*
 * Copyright (C) ngx_kraken authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <sys/un.h>

#include "ngx_kraken_ipc.h"


#define NGX_KRAKEN_IPC_MAGIC    0x4b524b31      /* "KRK1" */
#define NGX_KRAKEN_IPC_TIMEOUT  10000


typedef struct {
    ngx_connection_t          *c;
    ngx_uint_t                 server;
    u_char                     head[8];
    u_char                    *buf;             /* body in or out */
    size_t                     len;
    size_t                     done_len;        /* of head + body */
    ngx_uint_t                 writing;
    ngx_uint_t                 status;
    ngx_kraken_ipc_done_pt     done;
    void                      *data;
} ngx_kraken_ipc_conn_t;


static void ngx_kraken_ipc_accept(ngx_event_t *ev);
static void ngx_kraken_ipc_read(ngx_event_t *ev);
static void ngx_kraken_ipc_write(ngx_event_t *ev);
static ngx_kraken_ipc_conn_t *ngx_kraken_ipc_conn(ngx_socket_t fd,
    ngx_log_t *log);
static void ngx_kraken_ipc_finish(ngx_kraken_ipc_conn_t *ic,
    ngx_uint_t ok);
static socklen_t ngx_kraken_ipc_addr(struct sockaddr_un *sa, ngx_pid_t pid);
static void ngx_kraken_ipc_head(ngx_kraken_ipc_conn_t *ic, uint32_t a,
    size_t len);


static ngx_connection_t           *ngx_kraken_ipc_listener;
static ngx_kraken_ipc_handler_pt   ngx_kraken_ipc_handler;


static socklen_t
ngx_kraken_ipc_addr(struct sockaddr_un *sa, ngx_pid_t pid)
{
    u_char  *p;

    ngx_memzero(sa, sizeof(struct sockaddr_un));
    sa->sun_family = AF_UNIX;

    /* abstract namespace: nothing to clean up when a worker dies */
    p = ngx_sprintf((u_char *) sa->sun_path + 1, "ngx_kraken.%P", pid);

    return (socklen_t) (offsetof(struct sockaddr_un, sun_path)
                        + (p - (u_char *) sa->sun_path));
}


/* the frame header: a magic or a status, then the body's length */

static void
ngx_kraken_ipc_head(ngx_kraken_ipc_conn_t *ic, uint32_t a, size_t len)
{
    ic->head[0] = (u_char) (a >> 24);
    ic->head[1] = (u_char) (a >> 16);
    ic->head[2] = (u_char) (a >> 8);
    ic->head[3] = (u_char) a;
    ic->head[4] = (u_char) (len >> 24);
    ic->head[5] = (u_char) (len >> 16);
    ic->head[6] = (u_char) (len >> 8);
    ic->head[7] = (u_char) len;
}


ngx_int_t
ngx_kraken_ipc_listen(ngx_cycle_t *cycle, ngx_kraken_ipc_handler_pt handler)
{
    ngx_socket_t        fd;
    socklen_t           len;
    ngx_connection_t   *c;
    struct sockaddr_un  sa;

    fd = ngx_socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == (ngx_socket_t) -1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_socket_errno,
                      "kraken: ipc socket() failed");
        return NGX_ERROR;
    }

    len = ngx_kraken_ipc_addr(&sa, ngx_pid);

    if (bind(fd, (struct sockaddr *) &sa, len) == -1
        || listen(fd, 512) == -1
        || ngx_nonblocking(fd) == -1)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_socket_errno,
                      "kraken: ipc listen failed");
        (void) ngx_close_socket(fd);
        return NGX_ERROR;
    }

    c = ngx_get_connection(fd, cycle->log);
    if (c == NULL) {
        (void) ngx_close_socket(fd);
        return NGX_ERROR;
    }

    c->log = cycle->log;
    c->read->log = cycle->log;
    c->read->handler = ngx_kraken_ipc_accept;
    c->idle = 1;

    if (ngx_add_event(c->read, NGX_READ_EVENT, 0) != NGX_OK) {
        ngx_close_connection(c);
        return NGX_ERROR;
    }

    ngx_kraken_ipc_listener = c;
    ngx_kraken_ipc_handler = handler;

    return NGX_OK;
}


void
ngx_kraken_ipc_close(void)
{
    if (ngx_kraken_ipc_listener) {
        ngx_close_connection(ngx_kraken_ipc_listener);
        ngx_kraken_ipc_listener = NULL;
    }
}


static void
ngx_kraken_ipc_accept(ngx_event_t *ev)
{
    socklen_t               len;
    ngx_socket_t            fd;
    struct ucred            cred;
    ngx_connection_t       *lc;
    ngx_kraken_ipc_conn_t  *ic;

    lc = ev->data;

    if (lc->close) {
        /* a draining worker still serves the rooms it holds */
        lc->close = 0;
    }

    for ( ;; ) {
        fd = accept4(lc->fd, NULL, NULL, SOCK_NONBLOCK);

        if (fd == (ngx_socket_t) -1) {
            return;
        }

        /*
         * Only our own workers (and root) may call: the socket is
         * reachable by any local process, and it bypasses the HTTP
         * location's access rules.
         */
        len = sizeof(struct ucred);
        ngx_memzero(&cred, sizeof(struct ucred));

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1
            || (cred.uid != geteuid() && cred.uid != 0))
        {
            ngx_log_error(NGX_LOG_WARN, lc->log, 0,
                          "kraken: refused a forwarded call from uid %d",
                          (int) cred.uid);
            (void) ngx_close_socket(fd);
            continue;
        }

        ic = ngx_kraken_ipc_conn(fd, lc->log);
        if (ic == NULL) {
            (void) ngx_close_socket(fd);
            continue;
        }

        ic->server = 1;
        ngx_kraken_ipc_read(ic->c->read);
    }
}


static ngx_kraken_ipc_conn_t *
ngx_kraken_ipc_conn(ngx_socket_t fd, ngx_log_t *log)
{
    ngx_connection_t       *c;
    ngx_kraken_ipc_conn_t  *ic;

    ic = ngx_calloc(sizeof(ngx_kraken_ipc_conn_t), log);
    if (ic == NULL) {
        return NULL;
    }

    c = ngx_get_connection(fd, log);
    if (c == NULL) {
        ngx_free(ic);
        return NULL;
    }

    c->data = ic;
    c->log = log;
    c->read->log = log;
    c->write->log = log;
    c->read->handler = ngx_kraken_ipc_read;
    c->write->handler = ngx_kraken_ipc_write;

    ic->c = c;

    ngx_add_timer(c->read, NGX_KRAKEN_IPC_TIMEOUT);

    return ic;
}


ngx_int_t
ngx_kraken_ipc_forward(ngx_pid_t pid, u_char *body, size_t len,
    ngx_msec_t timeout, ngx_log_t *log, ngx_kraken_ipc_done_pt done,
    void *data)
{
    socklen_t               salen;
    ngx_socket_t            fd;
    struct sockaddr_un      sa;
    ngx_kraken_ipc_conn_t  *ic;

    fd = ngx_socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == (ngx_socket_t) -1) {
        return NGX_ERROR;
    }

    salen = ngx_kraken_ipc_addr(&sa, pid);

    /* a unix socket connects at once, or not at all */
    if (connect(fd, (struct sockaddr *) &sa, salen) == -1
        || ngx_nonblocking(fd) == -1)
    {
        ngx_log_error(NGX_LOG_ERR, log, ngx_socket_errno,
                      "kraken: connect() to worker %P failed", pid);
        (void) ngx_close_socket(fd);
        return NGX_ERROR;
    }

    ic = ngx_kraken_ipc_conn(fd, log);
    if (ic == NULL) {
        (void) ngx_close_socket(fd);
        return NGX_ERROR;
    }

    ic->buf = ngx_alloc(len, log);
    if (ic->buf == NULL) {
        ngx_kraken_ipc_finish(ic, 0);
        return NGX_ERROR;
    }

    ngx_memcpy(ic->buf, body, len);
    ic->len = len;
    ic->done = done;
    ic->data = data;

    ngx_del_timer(ic->c->read);
    ngx_add_timer(ic->c->read, timeout);

    ngx_kraken_ipc_head(ic, NGX_KRAKEN_IPC_MAGIC, len);
    ic->writing = 1;

    ngx_kraken_ipc_write(ic->c->write);

    return NGX_OK;
}


static void
ngx_kraken_ipc_write(ngx_event_t *ev)
{
    ssize_t                 n;
    ngx_connection_t       *c;
    ngx_kraken_ipc_conn_t  *ic;
    struct iovec            iov[2];

    c = ev->data;
    ic = c->data;

    if (!ic->writing) {
        return;
    }

    while (ic->done_len < 8 + ic->len) {

        if (ic->done_len < 8) {
            iov[0].iov_base = ic->head + ic->done_len;
            iov[0].iov_len = 8 - ic->done_len;
            iov[1].iov_base = ic->buf;
            iov[1].iov_len = ic->len;
            n = writev(c->fd, iov, 2);

        } else {
            n = write(c->fd, ic->buf + ic->done_len - 8,
                      ic->len - (ic->done_len - 8));
        }

        if (n == -1 && ngx_socket_errno == NGX_EAGAIN) {
            if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
                ngx_kraken_ipc_finish(ic, 0);
            }

            return;
        }

        if (n <= 0) {
            ngx_kraken_ipc_finish(ic, 0);
            return;
        }

        ic->done_len += n;
    }

    if (ic->server) {
        ngx_kraken_ipc_finish(ic, 1);
        return;
    }

    /* the request is out: now the reply */
    ngx_free(ic->buf);
    ic->buf = NULL;
    ic->len = 0;
    ic->done_len = 0;
    ic->writing = 0;

    ngx_kraken_ipc_read(c->read);
}


static void
ngx_kraken_ipc_read(ngx_event_t *ev)
{
    char                   *out;
    size_t                  outlen, need;
    ssize_t                 n;
    uint32_t                a;
    ngx_connection_t       *c;
    ngx_kraken_ipc_conn_t  *ic;

    c = ev->data;
    ic = c->data;

    if (ev->timedout) {
        ngx_log_error(NGX_LOG_ERR, c->log, NGX_ETIMEDOUT,
                      "kraken: forwarded call timed out");
        ngx_kraken_ipc_finish(ic, 0);
        return;
    }

    if (ic->writing) {
        return;
    }

    for ( ;; ) {
        if (ic->done_len < 8) {
            n = read(c->fd, ic->head + ic->done_len, 8 - ic->done_len);

        } else {
            n = read(c->fd, ic->buf + ic->done_len - 8,
                     ic->len - (ic->done_len - 8));
        }

        if (n == -1 && ngx_socket_errno == NGX_EAGAIN) {
            if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
                ngx_kraken_ipc_finish(ic, 0);
            }

            return;
        }

        if (n <= 0) {
            ngx_kraken_ipc_finish(ic, 0);
            return;
        }

        ic->done_len += n;

        if (ic->done_len == 8) {
            need = (size_t) ic->head[4] << 24 | (size_t) ic->head[5] << 16
                   | (size_t) ic->head[6] << 8 | ic->head[7];

            a = (uint32_t) ic->head[0] << 24 | (uint32_t) ic->head[1] << 16
                | (uint32_t) ic->head[2] << 8 | ic->head[3];

            if (need > NGX_KRAKEN_IPC_MAX_BODY
                || (ic->server && a != NGX_KRAKEN_IPC_MAGIC))
            {
                ngx_kraken_ipc_finish(ic, 0);
                return;
            }

            ic->status = a;
            ic->len = need;
            ic->buf = ngx_alloc(need + 1, c->log);
            if (ic->buf == NULL) {
                ngx_kraken_ipc_finish(ic, 0);
                return;
            }
        }

        if (ic->done_len >= 8 && ic->done_len == 8 + ic->len) {
            break;
        }
    }

    if (!ic->server) {
        ngx_kraken_ipc_finish(ic, 1);
        return;
    }

    ic->buf[ic->len] = '\0';

    out = NULL;
    outlen = 0;
    a = (uint32_t) ngx_kraken_ipc_handler(ic->buf, ic->len, &out, &outlen);

    ngx_free(ic->buf);
    ic->buf = (u_char *) out;
    ic->len = out ? outlen : 0;

    ngx_kraken_ipc_head(ic, a, ic->len);

    ic->done_len = 0;
    ic->writing = 1;

    ngx_kraken_ipc_write(c->write);
}


static void
ngx_kraken_ipc_finish(ngx_kraken_ipc_conn_t *ic, ngx_uint_t ok)
{
    if (ic->done) {
        if (ok) {
            ic->done(ic->data, ic->status, ic->buf, ic->len);

        } else {
            ic->done(ic->data, 0, NULL, 0);
        }
    }

    /* the server's reply body came from malloc() in the RPC core */
    if (ic->server && ic->writing) {
        free(ic->buf);

    } else {
        ngx_free(ic->buf);
    }

    ngx_close_connection(ic->c);
    ngx_free(ic);
}
