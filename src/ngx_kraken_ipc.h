
/*
 * Copyright (C) ngx_kraken authors
 */


#ifndef _NGX_KRAKEN_IPC_H_INCLUDED_
#define _NGX_KRAKEN_IPC_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * RPC forwarding between the workers of one nginx: every worker listens
 * on a unix socket, and a worker that accepts an RPC for a room another
 * worker owns sends the body there and relays the answer. Frames:
 * "KRK1", u32 length, body; the reply: u32 HTTP status, u32 length, body.
 *
 * Nothing blocks: the connect, the writes and the reads go through
 * nginx's events, a call waits at most kraken_forward_timeout, and at
 * most kraken_forward_pending calls wait at a time. A call that cannot
 * be forwarded ends with one of the reasons below, at once when the
 * owner's backlog is full or it does not listen.
 */

#define NGX_KRAKEN_IPC_MAX_BODY     (4 * 1024 * 1024)

/* how a forwarded call ended */
#define NGX_KRAKEN_IPC_OK           0
#define NGX_KRAKEN_IPC_BUSY         1   /* pending limit, full backlog */
#define NGX_KRAKEN_IPC_UNREACHABLE  2   /* not listening, refused */
#define NGX_KRAKEN_IPC_TIMEOUT      3
#define NGX_KRAKEN_IPC_FAILED       4   /* closed mid-call, no memory */
#define NGX_KRAKEN_IPC_NREASONS     5


typedef struct {
    ngx_msec_t                 timeout;
    ngx_int_t                  pending;
} ngx_kraken_ipc_conf_t;


/* Runs a forwarded call here; *out is malloc()ed. */
typedef ngx_uint_t (*ngx_kraken_ipc_handler_pt)(u_char *body, size_t len,
    char **out, size_t *outlen);

/* The relayed answer (rc NGX_KRAKEN_IPC_OK), or why there is none. */
typedef void (*ngx_kraken_ipc_done_pt)(void *data, ngx_uint_t rc,
    ngx_uint_t status, u_char *body, size_t len);


void ngx_kraken_ipc_init(ngx_kraken_ipc_conf_t *conf);
ngx_int_t ngx_kraken_ipc_listen(ngx_cycle_t *cycle,
    ngx_kraken_ipc_handler_pt handler);
void ngx_kraken_ipc_close(void);

/*
 * Forwards a call to the worker in slot, whose pid is pid. Returns
 * NGX_KRAKEN_IPC_OK when the call is under way: done then runs exactly
 * once, possibly before this returns, unless pool is destroyed first.
 * Any other value says why the call was not forwarded (done never runs).
 */
ngx_uint_t ngx_kraken_ipc_forward(ngx_uint_t slot, ngx_pid_t pid,
    u_char *body, size_t len, ngx_pool_t *pool, ngx_log_t *log,
    ngx_kraken_ipc_done_pt done, void *data);

/* The description of a reason, for the caller's error answer. */
char *ngx_kraken_ipc_strerror(ngx_uint_t rc);


#endif /* _NGX_KRAKEN_IPC_H_INCLUDED_ */
