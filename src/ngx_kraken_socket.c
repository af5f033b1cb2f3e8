
/*
 * Copyright (C) ngx_kraken authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_kraken_socket.h"


ngx_connection_t *
ngx_kraken_socket_watch(ngx_cycle_t *cycle, ngx_socket_t fd, size_t sockbuf,
    ngx_event_handler_pt handler)
{
    int                value;
    ngx_connection_t  *c;

    if (sockbuf) {
        value = (int) sockbuf;
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, sizeof(int));
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &value, sizeof(int));
    }

    c = ngx_get_connection(fd, cycle->log);
    if (c == NULL) {
        (void) ngx_close_socket(fd);
        return NULL;
    }

    c->type = SOCK_DGRAM;
    c->log = cycle->log;
    c->read->log = cycle->log;
    c->write->log = cycle->log;
    c->read->handler = handler;

    /* the socket must not keep a gracefully exiting worker alive */
    c->idle = 1;

    if (ngx_add_event(c->read, NGX_READ_EVENT, 0) != NGX_OK) {
        ngx_close_connection(c);
        return NULL;
    }

    return c;
}
