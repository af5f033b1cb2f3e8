
/*
 * Copyright (C) ngx_kraken authors
 */


#ifndef _NGX_KRAKEN_IPC_H_INCLUDED_
#define _NGX_KRAKEN_IPC_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * RPC forwarding between the workers of one nginx: every worker listens
 * on an abstract unix socket named after its pid; a worker that accepts
 * an RPC for a room another worker owns sends the body there and relays
 * the answer. Frames: "KRK1", u32 length, body; the reply: u32 HTTP
 * status, u32 length, body.
 */

#define NGX_KRAKEN_IPC_MAX_BODY  (4 * 1024 * 1024)

/* Runs a forwarded call here; *out is malloc()ed. */
typedef ngx_uint_t (*ngx_kraken_ipc_handler_pt)(u_char *body, size_t len,
    char **out, size_t *outlen);

/* The relayed answer, or status 0 when forwarding failed. */
typedef void (*ngx_kraken_ipc_done_pt)(void *data, ngx_uint_t status,
    u_char *body, size_t len);


ngx_int_t ngx_kraken_ipc_listen(ngx_cycle_t *cycle,
    ngx_kraken_ipc_handler_pt handler);
void ngx_kraken_ipc_close(void);

ngx_int_t ngx_kraken_ipc_forward(ngx_pid_t pid, u_char *body, size_t len,
    ngx_msec_t timeout, ngx_log_t *log, ngx_kraken_ipc_done_pt done,
    void *data);


#endif /* _NGX_KRAKEN_IPC_H_INCLUDED_ */
