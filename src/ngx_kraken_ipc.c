
/*
 * Copyright (C) ngx_kraken authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <sys/random.h>
#include <sys/un.h>

#include "ngx_kraken_ipc.h"
#include "ngx_kraken_registry.h"


/*
 * Where the workers meet. An abstract unix socket name is visible to
 * every local process (/proc/net/unix), and anyone may bind a free one
 * first. So:
 *
 *  - a worker listens on a fresh name each time it starts,
 *    "ngx_kraken.<pid>.<128 random bits>", and publishes it in the shared
 *    registry, which only nginx's own processes map: nobody can bind a
 *    name before the worker does, and a name a dead worker freed is never
 *    used again (its replacement draws a new one, and the registry names
 *    no socket for a slot whose pid is gone);
 *  - both ends check the other's SO_PEERCRED: the listener serves only
 *    the workers' user and root, and a forwarding worker talks only to
 *    the pid that the registry names for the slot;
 *  - a worker that cannot listen says so at alert and tries again every
 *    second rather than failing its start: nginx's master does not
 *    respawn a worker that exits with code 2.
 *
 * Filesystem sockets in a 0700 directory would keep other users out as
 * well, but need a directory that the workers' user can reach under any
 * prefix, and stale files removed after a crash; abstract names need
 * neither.
 */


#define NGX_KRAKEN_IPC_MAGIC    0x4b524b31      /* "KRK1" */
#define NGX_KRAKEN_IPC_BACKLOG  512
#define NGX_KRAKEN_IPC_BINDS    3               /* names tried per attempt */
#define NGX_KRAKEN_IPC_RETRY    1000            /* ms between attempts */
#define NGX_KRAKEN_IPC_PAUSE    100             /* ms without accept() */
#define NGX_KRAKEN_IPC_ACCEPTS  64              /* per event, at most */
#define NGX_KRAKEN_IPC_REPORT   1000            /* ms of failures a line */


typedef struct {
    ngx_connection_t          *c;
    ngx_pool_cleanup_t        *cln;
    ngx_pid_t                  pid;             /* client: the owner */
    u_char                     head[8];
    u_char                    *buf;             /* body in or out */
    size_t                     len;
    size_t                     done_len;        /* of head + body */
    ngx_uint_t                 status;
    ngx_kraken_ipc_done_pt     done;
    void                      *data;

    unsigned                   server:1;
    unsigned                   connecting:1;
    unsigned                   writing:1;
} ngx_kraken_ipc_conn_t;


static ngx_int_t ngx_kraken_ipc_open(ngx_log_t *log);
static void ngx_kraken_ipc_retry(ngx_event_t *ev);
static void ngx_kraken_ipc_accept(ngx_event_t *ev);
static ngx_int_t ngx_kraken_ipc_peer(ngx_socket_t fd, ngx_pid_t pid,
    ngx_log_t *log);
static ngx_kraken_ipc_conn_t *ngx_kraken_ipc_conn(ngx_socket_t fd,
    ngx_log_t *log);
static void ngx_kraken_ipc_abandon(void *data);
static void ngx_kraken_ipc_write(ngx_event_t *ev);
static void ngx_kraken_ipc_read(ngx_event_t *ev);
static void ngx_kraken_ipc_serve(ngx_kraken_ipc_conn_t *ic);
static void ngx_kraken_ipc_finish(ngx_kraken_ipc_conn_t *ic, ngx_uint_t rc);
static void ngx_kraken_ipc_own_log(ngx_kraken_ipc_conn_t *ic);
static void ngx_kraken_ipc_free(ngx_kraken_ipc_conn_t *ic);
static void ngx_kraken_ipc_failed(ngx_uint_t rc);
static void ngx_kraken_ipc_report(ngx_event_t *ev);
static socklen_t ngx_kraken_ipc_addr(struct sockaddr_un *sa, u_char *name,
    size_t len);
static void ngx_kraken_ipc_head(ngx_kraken_ipc_conn_t *ic, uint32_t a,
    size_t len);


static ngx_kraken_ipc_conf_t       ngx_kraken_ipc_conf = { 10000, 256 };
static ngx_connection_t           *ngx_kraken_ipc_listener;
static ngx_kraken_ipc_handler_pt   ngx_kraken_ipc_handler;
static ngx_event_t                 ngx_kraken_ipc_retry_ev;
static ngx_event_t                 ngx_kraken_ipc_report_ev;
static ngx_uint_t                  ngx_kraken_ipc_attempts;
static ngx_uint_t                  ngx_kraken_ipc_pending;
static time_t                      ngx_kraken_ipc_refused_logged;

/* failed forwards by reason, reported once a second */
static ngx_uint_t  ngx_kraken_ipc_failures[NGX_KRAKEN_IPC_NREASONS];


static char  *ngx_kraken_ipc_errors[] = {
    "",
    "the room's worker is busy",
    "the room's worker is unreachable",
    "the room's worker did not answer in time",
    "the room's worker did not answer"
};


void
ngx_kraken_ipc_init(ngx_kraken_ipc_conf_t *conf)
{
    ngx_kraken_ipc_conf = *conf;
}


char *
ngx_kraken_ipc_strerror(ngx_uint_t rc)
{
    if (rc >= NGX_KRAKEN_IPC_NREASONS) {
        rc = NGX_KRAKEN_IPC_FAILED;
    }

    return ngx_kraken_ipc_errors[rc];
}


static socklen_t
ngx_kraken_ipc_addr(struct sockaddr_un *sa, u_char *name, size_t len)
{
    ngx_memzero(sa, sizeof(struct sockaddr_un));
    sa->sun_family = AF_UNIX;

    /* abstract namespace: a leading NUL, nothing to clean up */
    ngx_memcpy(sa->sun_path + 1, name, len);

    return (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + len);
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
    ngx_kraken_ipc_handler = handler;

    ngx_kraken_ipc_retry_ev.handler = ngx_kraken_ipc_retry;
    ngx_kraken_ipc_retry_ev.log = cycle->log;
    ngx_kraken_ipc_retry_ev.cancelable = 1;

    ngx_kraken_ipc_report_ev.handler = ngx_kraken_ipc_report;
    ngx_kraken_ipc_report_ev.log = cycle->log;
    ngx_kraken_ipc_report_ev.cancelable = 1;

    ngx_kraken_ipc_attempts = 1;

    if (ngx_kraken_ipc_open(cycle->log) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "kraken: other workers cannot forward calls for this "
                      "worker's rooms yet, retrying every %M ms",
                      (ngx_msec_t) NGX_KRAKEN_IPC_RETRY);

        ngx_add_timer(&ngx_kraken_ipc_retry_ev, NGX_KRAKEN_IPC_RETRY);
    }

    /* never fatal: a worker that exits with code 2 is not respawned */
    return NGX_OK;
}


static void
ngx_kraken_ipc_retry(ngx_event_t *ev)
{
    ngx_kraken_ipc_attempts++;

    if (ngx_kraken_ipc_open(ev->log) != NGX_OK) {
        ngx_add_timer(ev, NGX_KRAKEN_IPC_RETRY);
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, ev->log, 0,
                  "kraken: forwarding socket up after %ui attempts",
                  ngx_kraken_ipc_attempts);
}


static ngx_int_t
ngx_kraken_ipc_open(ngx_log_t *log)
{
    u_char              *p;
    size_t               len;
    ngx_uint_t           i;
    ngx_err_t            err;
    socklen_t            salen;
    ngx_socket_t         fd;
    ngx_connection_t    *c;
    struct sockaddr_un   sa;
    u_char               rnd[16];
    u_char               name[NGX_KRAKEN_IPC_NAME_LEN];

    for (i = 0; /* void */; i++) {

        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd)) {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                          "kraken: getrandom() for the forwarding socket's "
                          "name failed");
            return NGX_ERROR;
        }

        p = ngx_sprintf(name, "ngx_kraken.%P.", ngx_pid);
        p = ngx_hex_dump(p, rnd, sizeof(rnd));
        len = p - name;

        fd = socket(AF_UNIX, SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0);
        if (fd == (ngx_socket_t) -1) {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_socket_errno,
                          "kraken: forwarding socket() failed");
            return NGX_ERROR;
        }

        salen = ngx_kraken_ipc_addr(&sa, name, len);

        if (bind(fd, (struct sockaddr *) &sa, salen) == 0) {
            break;
        }

        err = ngx_socket_errno;
        (void) ngx_close_socket(fd);

        /* a name of 128 random bits in use: someone guessed it, draw again */
        if (err != NGX_EADDRINUSE || i + 1 == NGX_KRAKEN_IPC_BINDS) {
            ngx_log_error(NGX_LOG_ALERT, log, err,
                          "kraken: bind() of the forwarding socket "
                          "\"@%*s\" failed", len, name);
            return NGX_ERROR;
        }
    }

    if (listen(fd, NGX_KRAKEN_IPC_BACKLOG) == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_socket_errno,
                      "kraken: listen() on the forwarding socket failed");
        (void) ngx_close_socket(fd);
        return NGX_ERROR;
    }

    c = ngx_get_connection(fd, log);
    if (c == NULL) {
        (void) ngx_close_socket(fd);
        return NGX_ERROR;
    }

    c->log = log;
    c->read->log = log;
    c->read->handler = ngx_kraken_ipc_accept;
    c->read->cancelable = 1;
    c->idle = 1;

    if (ngx_add_event(c->read, NGX_READ_EVENT, 0) != NGX_OK) {
        ngx_close_connection(c);
        return NGX_ERROR;
    }

    ngx_kraken_ipc_listener = c;
    ngx_kraken_registry_set_ipc(name, len);

    ngx_log_error(NGX_LOG_INFO, log, 0,
                  "kraken: slot %ui takes forwarded calls on \"@%*s\"",
                  ngx_kraken_registry_self(), len, name);

    return NGX_OK;
}


void
ngx_kraken_ipc_close(void)
{
    if (ngx_kraken_ipc_retry_ev.timer_set) {
        ngx_del_timer(&ngx_kraken_ipc_retry_ev);
    }

    if (ngx_kraken_ipc_report_ev.timer_set) {
        ngx_del_timer(&ngx_kraken_ipc_report_ev);
    }

    if (ngx_kraken_ipc_listener) {
        ngx_close_connection(ngx_kraken_ipc_listener);
        ngx_kraken_ipc_listener = NULL;
    }
}


static void
ngx_kraken_ipc_accept(ngx_event_t *ev)
{
    ngx_err_t               err;
    ngx_uint_t              n;
    ngx_socket_t            fd;
    ngx_connection_t       *lc;
    ngx_kraken_ipc_conn_t  *ic;

    lc = ev->data;

    if (lc->close) {
        /* a draining worker still serves the rooms it holds */
        lc->close = 0;
    }

    if (ev->timedout) {
        /* the pause after running out of descriptors is over */
        ev->timedout = 0;

        if (ngx_add_event(ev, NGX_READ_EVENT, 0) != NGX_OK) {
            return;
        }
    }

    /* the listener is level-triggered: what is left comes next time */
    for (n = 0; n < NGX_KRAKEN_IPC_ACCEPTS; n++) {
        fd = accept4(lc->fd, NULL, NULL, SOCK_NONBLOCK|SOCK_CLOEXEC);

        if (fd == (ngx_socket_t) -1) {
            err = ngx_socket_errno;

            if (err == NGX_EAGAIN) {
                return;
            }

            if (err == NGX_ECONNABORTED || err == NGX_EINTR) {
                continue;
            }

            ngx_log_error(NGX_LOG_CRIT, ev->log, err,
                          "kraken: accept4() on the forwarding socket "
                          "failed");

            /* pause, or the level-triggered listener spins */
            if (ngx_del_event(ev, NGX_READ_EVENT, 0) == NGX_OK) {
                ngx_add_timer(ev, NGX_KRAKEN_IPC_PAUSE);
            }

            return;
        }

        if (ngx_kraken_ipc_peer(fd, 0, ev->log) != NGX_OK) {
            (void) ngx_close_socket(fd);
            continue;
        }

        /*
         * Keep an eighth of the worker's connections for HTTP, as nginx's
         * own accept does: the caller sees the connection close, and
         * answers its call with an error.
         */
        if (ngx_cycle->free_connection_n < ngx_cycle->connection_n / 8) {
            ngx_log_debug0(NGX_LOG_DEBUG_EVENT, ev->log, 0,
                           "kraken: forwarded call dropped, "
                           "connections are short");
            (void) ngx_close_socket(fd);
            continue;
        }

        ic = ngx_kraken_ipc_conn(fd, ev->log);
        if (ic == NULL) {
            (void) ngx_close_socket(fd);
            continue;
        }

        ic->server = 1;
        ngx_kraken_ipc_read(ic->c->read);
    }
}


/*
 * The other end must be one of our workers: for the listener, a process
 * of the workers' user or root (the socket is reachable by any local
 * process and bypasses the HTTP location's access rules); for a caller,
 * also the very pid that the registry names.
 */

static ngx_int_t
ngx_kraken_ipc_peer(ngx_socket_t fd, ngx_pid_t pid, ngx_log_t *log)
{
    socklen_t     len;
    struct ucred  cred;

    len = sizeof(struct ucred);
    ngx_memzero(&cred, sizeof(struct ucred));

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_socket_errno,
                      "kraken: getsockopt(SO_PEERCRED) failed");
        return NGX_ERROR;
    }

    if (pid == 0) {
        if (cred.uid == geteuid() || cred.uid == 0) {
            return NGX_OK;
        }

        /* at most a line a second: any local user can connect */
        if (ngx_time() != ngx_kraken_ipc_refused_logged) {
            ngx_kraken_ipc_refused_logged = ngx_time();
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "kraken: refused a forwarded call from uid %d "
                          "(pid %P)", (int) cred.uid, (ngx_pid_t) cred.pid);
        }

        return NGX_DECLINED;
    }

    if (cred.pid == pid && (cred.uid == geteuid() || cred.uid == 0)) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "kraken: the forwarding socket of worker %P is held by "
                  "pid %P, uid %d: call not forwarded",
                  pid, (ngx_pid_t) cred.pid, (int) cred.uid);

    return NGX_DECLINED;
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

    /* one deadline for the whole exchange, on the read event */
    ngx_add_timer(c->read, ngx_kraken_ipc_conf.timeout);

    return ic;
}


ngx_uint_t
ngx_kraken_ipc_forward(ngx_uint_t slot, ngx_pid_t pid, u_char *body,
    size_t len, ngx_pool_t *pool, ngx_log_t *log,
    ngx_kraken_ipc_done_pt done, void *data)
{
    int                     rc;
    size_t                  namelen;
    ngx_err_t               err;
    socklen_t               salen;
    ngx_uint_t              reason;
    ngx_socket_t            fd;
    struct sockaddr_un      sa;
    ngx_pool_cleanup_t     *cln;
    ngx_kraken_ipc_conn_t  *ic;
    u_char                  name[NGX_KRAKEN_IPC_NAME_LEN];

    if (ngx_kraken_ipc_pending >= (ngx_uint_t) ngx_kraken_ipc_conf.pending)
    {
        ngx_kraken_ipc_failed(NGX_KRAKEN_IPC_BUSY);
        return NGX_KRAKEN_IPC_BUSY;
    }

    if (ngx_kraken_registry_ipc(slot, pid, name, &namelen) != NGX_OK) {
        ngx_kraken_ipc_failed(NGX_KRAKEN_IPC_UNREACHABLE);
        return NGX_KRAKEN_IPC_UNREACHABLE;
    }

    fd = socket(AF_UNIX, SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0);
    if (fd == (ngx_socket_t) -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_socket_errno,
                      "kraken: forwarding socket() failed");
        ngx_kraken_ipc_failed(NGX_KRAKEN_IPC_FAILED);
        return NGX_KRAKEN_IPC_FAILED;
    }

    salen = ngx_kraken_ipc_addr(&sa, name, namelen);

    rc = connect(fd, (struct sockaddr *) &sa, salen);
    err = (rc == -1) ? ngx_socket_errno : 0;

    if (rc == -1 && err != NGX_EINPROGRESS) {
        (void) ngx_close_socket(fd);

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, err,
                       "kraken: connect() to worker %P failed, slot %ui",
                       pid, slot);

        /* a unix socket's full backlog is EAGAIN: the owner is behind */
        reason = (err == NGX_EAGAIN) ? NGX_KRAKEN_IPC_BUSY
                                     : NGX_KRAKEN_IPC_UNREACHABLE;
        ngx_kraken_ipc_failed(reason);

        return reason;
    }

    if (rc == 0 && ngx_kraken_ipc_peer(fd, pid, log) != NGX_OK) {
        (void) ngx_close_socket(fd);
        ngx_kraken_ipc_failed(NGX_KRAKEN_IPC_UNREACHABLE);
        return NGX_KRAKEN_IPC_UNREACHABLE;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        (void) ngx_close_socket(fd);
        return NGX_KRAKEN_IPC_FAILED;
    }

    ic = ngx_kraken_ipc_conn(fd, log);
    if (ic == NULL) {
        (void) ngx_close_socket(fd);
        return NGX_KRAKEN_IPC_FAILED;
    }

    ngx_kraken_ipc_pending++;

    ic->buf = ngx_alloc(len, log);
    if (ic->buf == NULL) {
        ngx_kraken_ipc_free(ic);
        return NGX_KRAKEN_IPC_FAILED;
    }

    ngx_memcpy(ic->buf, body, len);
    ic->len = len;
    ic->pid = pid;
    ic->done = done;
    ic->data = data;

    /* the caller's request may go first: then the call is dropped */
    cln->handler = ngx_kraken_ipc_abandon;
    cln->data = ic;
    ic->cln = cln;

    ngx_kraken_ipc_head(ic, NGX_KRAKEN_IPC_MAGIC, len);
    ic->writing = 1;

    if (rc == -1) {
        /* EINPROGRESS: the write event tells when it is done */
        ic->connecting = 1;

        if (ngx_handle_write_event(ic->c->write, 0) != NGX_OK) {
            ngx_kraken_ipc_finish(ic, NGX_KRAKEN_IPC_FAILED);
        }

        return NGX_KRAKEN_IPC_OK;
    }

    ngx_kraken_ipc_write(ic->c->write);

    return NGX_KRAKEN_IPC_OK;
}


static void
ngx_kraken_ipc_abandon(void *data)
{
    ngx_kraken_ipc_conn_t  *ic = data;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ic->c->log, 0,
                   "kraken: forwarded call abandoned by its request");

    ic->cln = NULL;
    ic->done = NULL;

    ngx_kraken_ipc_own_log(ic);
    ngx_kraken_ipc_free(ic);
}


static void
ngx_kraken_ipc_write(ngx_event_t *ev)
{
    int                     so_err;
    ssize_t                 n;
    socklen_t               len;
    ngx_connection_t       *c;
    ngx_kraken_ipc_conn_t  *ic;
    struct iovec            iov[2];

    c = ev->data;
    ic = c->data;

    if (ic->connecting) {
        so_err = 0;
        len = sizeof(int);

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &so_err, &len) == -1) {
            so_err = ngx_socket_errno;
        }

        if (so_err == NGX_EINPROGRESS) {
            return;
        }

        if (so_err || ngx_kraken_ipc_peer(c->fd, ic->pid, c->log) != NGX_OK)
        {
            ngx_kraken_ipc_finish(ic, NGX_KRAKEN_IPC_UNREACHABLE);
            return;
        }

        ic->connecting = 0;
    }

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
                ngx_kraken_ipc_finish(ic, NGX_KRAKEN_IPC_FAILED);
            }

            return;
        }

        if (n <= 0) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, ngx_socket_errno,
                           "kraken: forwarding write() failed");
            ngx_kraken_ipc_finish(ic, NGX_KRAKEN_IPC_FAILED);
            return;
        }

        ic->done_len += n;
    }

    if (ic->server) {
        ngx_kraken_ipc_finish(ic, NGX_KRAKEN_IPC_OK);
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
    size_t                  need;
    ssize_t                 n;
    uint32_t                a;
    ngx_connection_t       *c;
    ngx_kraken_ipc_conn_t  *ic;

    c = ev->data;
    ic = c->data;

    if (ev->timedout) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, NGX_ETIMEDOUT,
                       "kraken: forwarded call timed out, server %ui",
                       (ngx_uint_t) ic->server);
        ngx_kraken_ipc_finish(ic, NGX_KRAKEN_IPC_TIMEOUT);
        return;
    }

    if (ic->writing || ic->connecting) {
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
                ngx_kraken_ipc_finish(ic, NGX_KRAKEN_IPC_FAILED);
            }

            return;
        }

        if (n <= 0) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, ngx_socket_errno,
                           "kraken: forwarding connection closed, "
                           "server %ui", (ngx_uint_t) ic->server);
            ngx_kraken_ipc_finish(ic, NGX_KRAKEN_IPC_FAILED);
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
                ngx_log_error(NGX_LOG_WARN, c->log, 0,
                              "kraken: malformed forwarding frame");
                ngx_kraken_ipc_finish(ic, NGX_KRAKEN_IPC_FAILED);
                return;
            }

            ic->status = a;
            ic->len = need;
            ic->buf = ngx_alloc(need + 1, c->log);
            if (ic->buf == NULL) {
                ngx_kraken_ipc_finish(ic, NGX_KRAKEN_IPC_FAILED);
                return;
            }
        }

        if (ic->done_len >= 8 && ic->done_len == 8 + ic->len) {
            break;
        }
    }

    if (ic->server) {
        ngx_kraken_ipc_serve(ic);
        return;
    }

    ngx_kraken_ipc_finish(ic, NGX_KRAKEN_IPC_OK);
}


static void
ngx_kraken_ipc_serve(ngx_kraken_ipc_conn_t *ic)
{
    char              *out;
    size_t             outlen;
    ssize_t            n;
    uint32_t           status;
    ngx_connection_t  *c;
    u_char             probe;

    c = ic->c;

    /*
     * A caller that gave up (timed out while this worker was stopped or
     * behind) has closed its end: its call is not run late.
     */
    n = recv(c->fd, &probe, 1, MSG_PEEK|MSG_DONTWAIT);

    if (n == 0) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "kraken: forwarded call dropped, its caller left");
        ngx_kraken_ipc_finish(ic, NGX_KRAKEN_IPC_FAILED);
        return;
    }

    ic->buf[ic->len] = '\0';

    out = NULL;
    outlen = 0;
    status = (uint32_t) ngx_kraken_ipc_handler(ic->buf, ic->len, &out,
                                               &outlen);

    ngx_free(ic->buf);
    ic->buf = (u_char *) out;
    ic->len = out ? outlen : 0;

    ngx_kraken_ipc_head(ic, status, ic->len);

    ic->done_len = 0;
    ic->writing = 1;

    ngx_kraken_ipc_write(c->write);
}


static void
ngx_kraken_ipc_finish(ngx_kraken_ipc_conn_t *ic, ngx_uint_t rc)
{
    void                    *data;
    ngx_kraken_ipc_done_pt   done;

    done = ic->done;
    data = ic->data;
    ic->done = NULL;

    /* the request's pool may go in done(): the cleanup goes first */
    if (ic->cln) {
        ic->cln->handler = NULL;
        ic->cln = NULL;
    }

    if (!ic->server && rc != NGX_KRAKEN_IPC_OK) {
        ngx_kraken_ipc_failed(rc);
    }

    /* the caller's log may go with its request in done() */
    ngx_kraken_ipc_own_log(ic);

    if (done) {
        if (rc == NGX_KRAKEN_IPC_OK) {
            done(data, rc, ic->status, ic->buf, ic->len);

        } else {
            done(data, rc, 0, NULL, 0);
        }
    }

    ngx_kraken_ipc_free(ic);
}


static void
ngx_kraken_ipc_own_log(ngx_kraken_ipc_conn_t *ic)
{
    ic->c->log = ngx_cycle->log;
    ic->c->read->log = ngx_cycle->log;
    ic->c->write->log = ngx_cycle->log;
}


static void
ngx_kraken_ipc_free(ngx_kraken_ipc_conn_t *ic)
{
    if (!ic->server) {
        ngx_kraken_ipc_pending--;
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


/*
 * Failed forwards are counted and reported at most once a second: under
 * a burst for a stopped worker there may be thousands.
 */

static void
ngx_kraken_ipc_failed(ngx_uint_t rc)
{
    ngx_kraken_ipc_failures[rc]++;

    if (!ngx_kraken_ipc_report_ev.timer_set
        && ngx_kraken_ipc_report_ev.handler)
    {
        ngx_add_timer(&ngx_kraken_ipc_report_ev, NGX_KRAKEN_IPC_REPORT);
    }
}


static void
ngx_kraken_ipc_report(ngx_event_t *ev)
{
    ngx_uint_t  *f;

    f = ngx_kraken_ipc_failures;

    ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                  "kraken: forwarded calls failed in the last %M ms: "
                  "%ui busy, %ui unreachable, %ui timed out, %ui broken "
                  "(%ui pending)",
                  (ngx_msec_t) NGX_KRAKEN_IPC_REPORT,
                  f[NGX_KRAKEN_IPC_BUSY], f[NGX_KRAKEN_IPC_UNREACHABLE],
                  f[NGX_KRAKEN_IPC_TIMEOUT], f[NGX_KRAKEN_IPC_FAILED],
                  ngx_kraken_ipc_pending);

    ngx_memzero(ngx_kraken_ipc_failures, sizeof(ngx_kraken_ipc_failures));
}
