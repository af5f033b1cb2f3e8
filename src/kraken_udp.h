/*
 * Sending the engine's output batch on a UDP socket with sendmmsg().
 * Plain C, no nginx headers.
 */

#ifndef KRAKEN_UDP_H
#define KRAKEN_UDP_H

#include "kraken_engine.h"

/* datagrams per sendmmsg() call */
#define KRAKEN_UDP_BATCH  64

/*
 * Sends n datagrams on the non-blocking socket fd. A datagram the kernel
 * refuses (EACCES for a broadcast address, EINVAL, EAFNOSUPPORT,
 * ENETUNREACH, EMSGSIZE, ...) is skipped and the rest of the batch is
 * still sent. A full socket buffer (EAGAIN, ENOBUFS) or a broken socket
 * drops the rest of the batch, as the network would drop it.
 *
 * Returns how many datagrams were sent; *err is the first errno seen, or
 * 0 when all were sent.
 */
int kraken_udp_send_batch(int fd, kraken_datagram_t *dg, int n, int *err);

#endif /* KRAKEN_UDP_H */
