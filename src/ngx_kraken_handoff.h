
/*
 * Copyright (C) ngx_kraken authors
 */


#ifndef _NGX_KRAKEN_HANDOFF_H_INCLUDED_
#define _NGX_KRAKEN_HANDOFF_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_kraken_figures.h"


/*
 * The hand-over between the workers behind one media port: a worker that
 * reads a datagram of another worker's peer queues it here, and the owner
 * gets it through its input callback, with the client's address, as if
 * it had read it itself.
 */

typedef void (*ngx_kraken_handoff_input_pt)(struct sockaddr *from,
    socklen_t len, u_char *buf, size_t n);
typedef void (*ngx_kraken_handoff_done_pt)(void);


ngx_int_t ngx_kraken_handoff_init(ngx_cycle_t *cycle, size_t sockbuf,
    ngx_kraken_handoff_input_pt input, ngx_kraken_handoff_done_pt done);
void ngx_kraken_handoff_close(void);

/*
 * Queues buf for the worker in slot: NGX_OK, or NGX_DECLINED when that
 * worker takes none. buf must stay as it is until the next flush.
 */
ngx_int_t ngx_kraken_handoff_queue(ngx_uint_t slot, struct sockaddr *from,
    u_char *buf, size_t n);
void ngx_kraken_handoff_flush(void);

/* fills the handoff_* figures of ms */
void ngx_kraken_handoff_stats(ngx_kraken_media_stats_t *ms);


#endif /* _NGX_KRAKEN_HANDOFF_H_INCLUDED_ */
