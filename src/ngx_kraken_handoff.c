
/*
 * Copyright (C) ngx_kraken authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <openssl/crypto.h>

#include "ngx_kraken_handoff.h"
#include "ngx_kraken_registry.h"
#include "ngx_kraken_socket.h"


/*
 * Every worker takes handed-over datagrams on a loopback UDP port that
 * the registry publishes: a unix datagram socket would queue only
 * net.unix.max_dgram_qlen (10) of them. The registry's token, which only
 * nginx's processes know, proves a datagram came from one of them.
 */

#define NGX_KRAKEN_HANDOFF_BATCH  64
#define NGX_KRAKEN_HANDOFF_DGRAM  2048


/* the registry's token, then the client's address, then the datagram */
typedef struct {
    u_char                    magic[4];
    u_char                    token[NGX_KRAKEN_TOKEN_LEN];
    u_char                    family;
    u_char                    pad;
    u_char                    port[2];
    u_char                    addr[16];
} ngx_kraken_handoff_hdr_t;


static void ngx_kraken_handoff_read_handler(ngx_event_t *rev);
static socklen_t ngx_kraken_handoff_addr(ngx_kraken_handoff_hdr_t *h,
    struct sockaddr_storage *sa);


static ngx_connection_t             *ngx_kraken_handoff_c;
static ngx_kraken_handoff_input_pt   ngx_kraken_handoff_input;
static ngx_kraken_handoff_done_pt    ngx_kraken_handoff_done;
static ngx_kraken_media_stats_t      ngx_kraken_handoff_figures;

/* datagrams to hand over: they point into the caller's receive buffers */
static ngx_uint_t          ngx_kraken_nout;
static struct mmsghdr      ngx_kraken_omsg[NGX_KRAKEN_HANDOFF_BATCH];
static struct iovec        ngx_kraken_oiov[NGX_KRAKEN_HANDOFF_BATCH][2];
static struct sockaddr_in  ngx_kraken_oaddr[NGX_KRAKEN_HANDOFF_BATCH];
static ngx_kraken_handoff_hdr_t  ngx_kraken_ohdr[NGX_KRAKEN_HANDOFF_BATCH];

/* what is handed to this worker */
static struct mmsghdr      ngx_kraken_imsg[NGX_KRAKEN_HANDOFF_BATCH];
static struct iovec        ngx_kraken_iiov[NGX_KRAKEN_HANDOFF_BATCH][2];
static struct sockaddr_in  ngx_kraken_iaddr[NGX_KRAKEN_HANDOFF_BATCH];
static ngx_kraken_handoff_hdr_t  ngx_kraken_ihdr[NGX_KRAKEN_HANDOFF_BATCH];
static u_char              ngx_kraken_ibuf[NGX_KRAKEN_HANDOFF_BATCH]
                                          [NGX_KRAKEN_HANDOFF_DGRAM];


ngx_int_t
ngx_kraken_handoff_init(ngx_cycle_t *cycle, size_t sockbuf,
    ngx_kraken_handoff_input_pt input, ngx_kraken_handoff_done_pt done)
{
    socklen_t           len;
    ngx_uint_t          i;
    ngx_socket_t        fd;
    ngx_connection_t   *c;
    struct sockaddr_in  sin;

    fd = ngx_socket(AF_INET, SOCK_DGRAM, 0);
    if (fd == (ngx_socket_t) -1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_socket_errno,
                      "kraken: socket() failed");
        return NGX_ERROR;
    }

    ngx_memzero(&sin, sizeof(struct sockaddr_in));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(struct sockaddr_in);

    if (bind(fd, (struct sockaddr *) &sin, len) == -1
        || getsockname(fd, (struct sockaddr *) &sin, &len) == -1
        || ngx_nonblocking(fd) == -1)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_socket_errno,
                      "kraken: the hand-over socket on 127.0.0.1 failed");
        (void) ngx_close_socket(fd);
        return NGX_ERROR;
    }

    c = ngx_kraken_socket_watch(cycle, fd, sockbuf,
                                ngx_kraken_handoff_read_handler);
    if (c == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_KRAKEN_HANDOFF_BATCH; i++) {
        ngx_kraken_iiov[i][0].iov_base = &ngx_kraken_ihdr[i];
        ngx_kraken_iiov[i][0].iov_len = sizeof(ngx_kraken_handoff_hdr_t);
        ngx_kraken_iiov[i][1].iov_base = ngx_kraken_ibuf[i];
        ngx_kraken_iiov[i][1].iov_len = NGX_KRAKEN_HANDOFF_DGRAM;
        ngx_kraken_imsg[i].msg_hdr.msg_iov = ngx_kraken_iiov[i];
        ngx_kraken_imsg[i].msg_hdr.msg_iovlen = 2;
    }

    ngx_kraken_handoff_c = c;
    ngx_kraken_handoff_input = input;
    ngx_kraken_handoff_done = done;

    ngx_kraken_registry_set_handoff(sin.sin_port);

    return NGX_OK;
}


void
ngx_kraken_handoff_close(void)
{
    if (ngx_kraken_handoff_c) {
        ngx_close_connection(ngx_kraken_handoff_c);
        ngx_kraken_handoff_c = NULL;
    }

    ngx_kraken_nout = 0;
}


ngx_int_t
ngx_kraken_handoff_queue(ngx_uint_t slot, struct sockaddr *from,
    u_char *buf, size_t n)
{
    in_port_t                  port;
    ngx_uint_t                 k;
    ngx_kraken_handoff_hdr_t  *h;
    struct sockaddr_in        *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6       *sin6;
#endif

    port = ngx_kraken_registry_handoff(slot);

    if (port == 0 || ngx_kraken_handoff_c == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_kraken_nout == NGX_KRAKEN_HANDOFF_BATCH) {
        ngx_kraken_handoff_flush();
    }

    k = ngx_kraken_nout;
    h = &ngx_kraken_ohdr[k];

    ngx_memzero(h, sizeof(ngx_kraken_handoff_hdr_t));
    ngx_memcpy(h->magic, "KRH1", 4);
    ngx_memcpy(h->token, ngx_kraken_registry_token(), NGX_KRAKEN_TOKEN_LEN);

    switch (from->sa_family) {

    case AF_INET:
        sin = (struct sockaddr_in *) from;
        h->family = 4;
        ngx_memcpy(h->port, &sin->sin_port, 2);
        ngx_memcpy(h->addr, &sin->sin_addr, 4);
        break;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) from;
        h->family = 6;
        ngx_memcpy(h->port, &sin6->sin6_port, 2);
        ngx_memcpy(h->addr, &sin6->sin6_addr, 16);
        break;
#endif

    default:
        return NGX_DECLINED;
    }

    ngx_memzero(&ngx_kraken_oaddr[k], sizeof(struct sockaddr_in));
    ngx_kraken_oaddr[k].sin_family = AF_INET;
    ngx_kraken_oaddr[k].sin_port = port;
    ngx_kraken_oaddr[k].sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    ngx_kraken_oiov[k][0].iov_base = h;
    ngx_kraken_oiov[k][0].iov_len = sizeof(ngx_kraken_handoff_hdr_t);
    ngx_kraken_oiov[k][1].iov_base = buf;
    ngx_kraken_oiov[k][1].iov_len = n;

    ngx_memzero(&ngx_kraken_omsg[k], sizeof(struct mmsghdr));
    ngx_kraken_omsg[k].msg_hdr.msg_name = &ngx_kraken_oaddr[k];
    ngx_kraken_omsg[k].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
    ngx_kraken_omsg[k].msg_hdr.msg_iov = ngx_kraken_oiov[k];
    ngx_kraken_omsg[k].msg_hdr.msg_iovlen = 2;

    ngx_kraken_nout++;

    return NGX_OK;
}


void
ngx_kraken_handoff_flush(void)
{
    int         sent;
    ngx_uint_t  done;

    done = 0;

    while (done < ngx_kraken_nout) {
        sent = sendmmsg(ngx_kraken_handoff_c->fd, &ngx_kraken_omsg[done],
                        ngx_kraken_nout - done, 0);

        if (sent <= 0) {
            /* the owner's queue is full, or it is gone: UDP drops */
            ngx_kraken_handoff_figures.handoff_dropped++;
            done++;
            continue;
        }

        ngx_kraken_handoff_figures.handoff_sent += sent;
        done += sent;
    }

    ngx_kraken_nout = 0;
}


void
ngx_kraken_handoff_stats(ngx_kraken_media_stats_t *ms)
{
    ms->handoff_sent = ngx_kraken_handoff_figures.handoff_sent;
    ms->handoff_received = ngx_kraken_handoff_figures.handoff_received;
    ms->handoff_dropped = ngx_kraken_handoff_figures.handoff_dropped;
    ms->handoff_refused = ngx_kraken_handoff_figures.handoff_refused;
}


static void
ngx_kraken_handoff_read_handler(ngx_event_t *rev)
{
    int                        i, n, rounds;
    u_char                    *token;
    size_t                     len;
    socklen_t                  alen;
    ngx_connection_t          *c;
    ngx_kraken_handoff_hdr_t  *h;
    struct sockaddr_in        *src;
    struct sockaddr_storage    from;

    c = rev->data;

    if (c->close) {
        c->close = 0;
    }

    token = ngx_kraken_registry_token();

    /* bounded, so HTTP keeps its share of the loop; epoll is level here */
    for (rounds = 0; rounds < 16; rounds++) {

        for (i = 0; i < NGX_KRAKEN_HANDOFF_BATCH; i++) {
            ngx_kraken_imsg[i].msg_hdr.msg_name = &ngx_kraken_iaddr[i];
            ngx_kraken_imsg[i].msg_hdr.msg_namelen =
                                               sizeof(struct sockaddr_in);
            ngx_kraken_imsg[i].msg_hdr.msg_control = NULL;
            ngx_kraken_imsg[i].msg_hdr.msg_controllen = 0;
            ngx_kraken_imsg[i].msg_hdr.msg_flags = 0;
        }

        n = recvmmsg(c->fd, ngx_kraken_imsg, NGX_KRAKEN_HANDOFF_BATCH, 0,
                     NULL);

        if (n <= 0) {
            break;
        }

        for (i = 0; i < n; i++) {
            h = &ngx_kraken_ihdr[i];
            src = &ngx_kraken_iaddr[i];
            len = ngx_kraken_imsg[i].msg_len;

            /* only our workers: from loopback, whole, with the token */
            if ((ngx_kraken_imsg[i].msg_hdr.msg_flags & MSG_TRUNC)
                || len <= sizeof(ngx_kraken_handoff_hdr_t)
                || src->sin_family != AF_INET
                || src->sin_addr.s_addr != htonl(INADDR_LOOPBACK)
                || ngx_memcmp(h->magic, "KRH1", 4) != 0
                || token == NULL
                || CRYPTO_memcmp(h->token, token, NGX_KRAKEN_TOKEN_LEN) != 0)
            {
                ngx_kraken_handoff_figures.handoff_refused++;
                continue;
            }

            alen = ngx_kraken_handoff_addr(h, &from);
            if (alen == 0) {
                ngx_kraken_handoff_figures.handoff_refused++;
                continue;
            }

            ngx_kraken_handoff_figures.handoff_received++;

            ngx_kraken_handoff_input((struct sockaddr *) &from, alen,
                                     ngx_kraken_ibuf[i],
                                     len - sizeof(ngx_kraken_handoff_hdr_t));
        }

        ngx_kraken_handoff_done();

        if (n < NGX_KRAKEN_HANDOFF_BATCH) {
            break;
        }
    }
}


static socklen_t
ngx_kraken_handoff_addr(ngx_kraken_handoff_hdr_t *h,
    struct sockaddr_storage *sa)
{
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    ngx_memzero(sa, sizeof(struct sockaddr_storage));

    switch (h->family) {

    case 4:
        sin = (struct sockaddr_in *) sa;
        sin->sin_family = AF_INET;
        ngx_memcpy(&sin->sin_port, h->port, 2);
        ngx_memcpy(&sin->sin_addr, h->addr, 4);
        return sizeof(struct sockaddr_in);

#if (NGX_HAVE_INET6)
    case 6:
        sin6 = (struct sockaddr_in6 *) sa;
        sin6->sin6_family = AF_INET6;
        ngx_memcpy(&sin6->sin6_port, h->port, 2);
        ngx_memcpy(&sin6->sin6_addr, h->addr, 16);
        return sizeof(struct sockaddr_in6);
#endif

    default:
        return 0;
    }
}
