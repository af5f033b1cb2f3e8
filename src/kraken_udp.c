/*
 * The engine's output batch on a UDP socket. sendmmsg() stops at the
 * first datagram that fails: it returns how many went before it (or -1
 * when it was the first) and the error of that datagram is lost (Linux
 * sendmmsg(2)). Sending again from that datagram repeats the error for
 * it alone, so it can be skipped and the rest sent.
 */

/* sendmmsg() and struct mmsghdr */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "kraken_udp.h"


/* Does err concern the socket (drop the rest) or one datagram (skip it)? */

static int
kraken_udp_socket_error(int err)
{
    switch (err) {

    /*
     * A full socket buffer: the rest of this batch is dropped rather than
     * queued, as a congested link would drop it; the next batch tries
     * again. Media is late once a buffer is full anyway.
     */
    case EAGAIN:
#if (EWOULDBLOCK != EAGAIN)
    case EWOULDBLOCK:
#endif
    case ENOBUFS:

    /* the socket itself is unusable: each datagram would fail alike */
    case EBADF:
    case ENOTSOCK:
        return 1;

    default:
        return 0;
    }
}


int
kraken_udp_send_batch(int fd, kraken_datagram_t *dg, int n, int *err)
{
    int             i, k, rc, sent;
    struct iovec    iov[KRAKEN_UDP_BATCH];
    struct mmsghdr  msg[KRAKEN_UDP_BATCH];

    *err = 0;
    sent = 0;
    i = 0;

    while (i < n) {

        for (k = 0; k < KRAKEN_UDP_BATCH && i + k < n; k++) {
            iov[k].iov_base = dg[i + k].buf;
            iov[k].iov_len = dg[i + k].len;
            memset(&msg[k], 0, sizeof(struct mmsghdr));
            msg[k].msg_hdr.msg_name = &dg[i + k].addr;
            msg[k].msg_hdr.msg_namelen = dg[i + k].addrlen;
            msg[k].msg_hdr.msg_iov = &iov[k];
            msg[k].msg_hdr.msg_iovlen = 1;
        }

        rc = sendmmsg(fd, msg, (unsigned int) k, 0);

        if (rc > 0) {
            /* up to the first failure, which the next call meets alone */
            sent += rc;
            i += rc;
            continue;
        }

        if (rc == -1 && errno == EINTR) {
            continue;
        }

        if (*err == 0) {
            *err = (rc == -1) ? errno : EIO;
        }

        if (rc == -1 && kraken_udp_socket_error(errno)) {
            break;
        }

        /* dg[i] alone fails: skip it, send the rest */
        i++;
    }

    return sent;
}
