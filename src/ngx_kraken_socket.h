
/*
 * Copyright (C) ngx_kraken authors
 */


#ifndef _NGX_KRAKEN_SOCKET_H_INCLUDED_
#define _NGX_KRAKEN_SOCKET_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * A worker's own UDP socket on nginx's event loop, for the media port
 * (ngx_kraken_media.c) and the hand-over port (ngx_kraken_handoff.c):
 * SO_RCVBUF and SO_SNDBUF set to sockbuf (0: the kernel's), handler
 * called when it is readable, and never keeping a gracefully exiting
 * worker alive. The connection owns fd: on failure fd is closed, and
 * NULL returned.
 */
ngx_connection_t *ngx_kraken_socket_watch(ngx_cycle_t *cycle,
    ngx_socket_t fd, size_t sockbuf, ngx_event_handler_pt handler);


#endif /* _NGX_KRAKEN_SOCKET_H_INCLUDED_ */
