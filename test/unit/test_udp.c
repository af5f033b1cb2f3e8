/*
 * The output batch on real loopback sockets: a datagram the kernel
 * refuses is skipped, the others of the batch still arrive.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "kraken_udp.h"


typedef struct {
    int                 tx;
    int                 rx;
    struct sockaddr_in  rx_addr;
} pair_t;


static int
setup(void **state)
{
    int        value;
    socklen_t  len;
    pair_t    *p;

    p = calloc(1, sizeof(pair_t));
    assert_non_null(p);

    p->rx_addr.sin_family = AF_INET;
    p->rx_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    p->rx = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(p->rx >= 0);
    value = 4 * 1024 * 1024;
    (void) setsockopt(p->rx, SOL_SOCKET, SO_RCVBUF, &value, sizeof(int));
    assert_int_equal(bind(p->rx, (struct sockaddr *) &p->rx_addr,
                          sizeof(struct sockaddr_in)), 0);
    len = sizeof(struct sockaddr_in);
    assert_int_equal(getsockname(p->rx, (struct sockaddr *) &p->rx_addr,
                                 &len), 0);

    /* like the media socket: unconnected, non-blocking, no SO_BROADCAST */
    p->tx = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(p->tx >= 0);
    assert_int_equal(fcntl(p->tx, F_SETFL, O_NONBLOCK), 0);

    *state = p;

    return 0;
}


static int
teardown(void **state)
{
    pair_t  *p = *state;

    close(p->tx);
    close(p->rx);
    free(p);

    return 0;
}


/* datagram i says "dg <i>" and goes to the receiver */

static void
to_receiver(pair_t *p, kraken_datagram_t *dg, int i)
{
    memset(dg, 0, sizeof(kraken_datagram_t));
    memcpy(&dg->addr, &p->rx_addr, sizeof(struct sockaddr_in));
    dg->addrlen = sizeof(struct sockaddr_in);
    dg->len = (size_t) snprintf((char *) dg->buf, sizeof(dg->buf), "dg %d",
                                i);
}


/* refused with EACCES: a broadcast address without SO_BROADCAST */

static void
to_broadcast(pair_t *p, kraken_datagram_t *dg)
{
    struct sockaddr_in  *sin;

    to_receiver(p, dg, -1);
    sin = (struct sockaddr_in *) &dg->addr;
    sin->sin_addr.s_addr = htonl(INADDR_BROADCAST);
}


/* refused with EAFNOSUPPORT: an IPv6 address on an IPv4 socket */

static void
to_wrong_family(pair_t *p, kraken_datagram_t *dg)
{
    struct sockaddr_in6  *sin6;

    to_receiver(p, dg, -2);
    sin6 = (struct sockaddr_in6 *) &dg->addr;
    memset(sin6, 0, sizeof(struct sockaddr_in6));
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = in6addr_loopback;
    sin6->sin6_port = p->rx_addr.sin_port;
    dg->addrlen = sizeof(struct sockaddr_in6);
}


/*
 * Reads what arrived (everything sent on loopback is queued by the time
 * sendmmsg() returns) into got[] as the numbers of the datagrams.
 */

static int
received(pair_t *p, int *got, int max)
{
    int      n;
    char     buf[2048];
    ssize_t  len;

    n = 0;

    for ( ;; ) {
        len = recv(p->rx, buf, sizeof(buf) - 1, MSG_DONTWAIT);
        if (len < 0) {
            assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
            break;
        }

        assert_true(n < max);
        buf[len] = '\0';
        assert_int_equal(sscanf(buf, "dg %d", &got[n]), 1);
        n++;
    }

    return n;
}


static void
test_every_datagram_of_a_batch_arrives_in_order(void **state)
{
    int                 i, err, got[8];
    pair_t             *p = *state;
    kraken_datagram_t   dg[5];

    for (i = 0; i < 5; i++) {
        to_receiver(p, &dg[i], i);
    }

    assert_int_equal(kraken_udp_send_batch(p->tx, dg, 5, &err), 5);
    assert_int_equal(err, 0);

    assert_int_equal(received(p, got, 8), 5);
    for (i = 0; i < 5; i++) {
        assert_int_equal(got[i], i);
    }
}


static void
test_a_refused_datagram_mid_batch_is_skipped_and_the_rest_sent(void **state)
{
    int                 err, got[8];
    pair_t             *p = *state;
    kraken_datagram_t   dg[5];

    /* sendmmsg() stops at dg[1]: the old loop dropped dg[2] to dg[4] */
    to_receiver(p, &dg[0], 0);
    to_broadcast(p, &dg[1]);
    to_receiver(p, &dg[2], 2);
    to_wrong_family(p, &dg[3]);
    to_receiver(p, &dg[4], 4);

    assert_int_equal(kraken_udp_send_batch(p->tx, dg, 5, &err), 3);
    assert_int_equal(err, EACCES);

    assert_int_equal(received(p, got, 8), 3);
    assert_int_equal(got[0], 0);
    assert_int_equal(got[1], 2);
    assert_int_equal(got[2], 4);
}


static void
test_a_refused_first_datagram_does_not_stop_the_batch(void **state)
{
    int                 err, got[8];
    pair_t             *p = *state;
    kraken_datagram_t   dg[4];

    /* sendmmsg() returns -1 at once: nothing of the batch went */
    to_wrong_family(p, &dg[0]);
    to_broadcast(p, &dg[1]);
    to_receiver(p, &dg[2], 2);
    to_receiver(p, &dg[3], 3);

    assert_int_equal(kraken_udp_send_batch(p->tx, dg, 4, &err), 2);
    assert_int_equal(err, EAFNOSUPPORT);

    assert_int_equal(received(p, got, 8), 2);
    assert_int_equal(got[0], 2);
    assert_int_equal(got[1], 3);
}


static void
test_a_long_batch_with_refusals_spans_several_calls(void **state)
{
    int                 i, n, err, expect, *got;
    pair_t             *p = *state;
    kraken_datagram_t  *dg;

    n = 3 * KRAKEN_UDP_BATCH + 5;
    dg = calloc((size_t) n, sizeof(kraken_datagram_t));
    got = calloc((size_t) n, sizeof(int));
    assert_non_null(dg);
    assert_non_null(got);

    /* refusals at both ends and across the 64-datagram boundaries */
    expect = 0;
    for (i = 0; i < n; i++) {
        if (i == 0 || i % 7 == 3 || i == KRAKEN_UDP_BATCH || i == n - 1) {
            to_wrong_family(p, &dg[i]);
        } else if (i % 11 == 5 || i == KRAKEN_UDP_BATCH - 1) {
            to_broadcast(p, &dg[i]);
        } else {
            to_receiver(p, &dg[i], i);
            expect++;
        }
    }

    assert_int_equal(kraken_udp_send_batch(p->tx, dg, n, &err), expect);
    assert_int_equal(err, EAFNOSUPPORT);

    assert_int_equal(received(p, got, n), expect);
    for (i = 1; i < expect; i++) {
        assert_true(got[i - 1] < got[i]);
    }

    free(got);
    free(dg);
}


static void
test_a_broken_socket_drops_the_batch(void **state)
{
    int                 err, fd;
    pair_t             *p = *state;
    kraken_datagram_t   dg[3];

    to_receiver(p, &dg[0], 0);
    to_receiver(p, &dg[1], 1);
    to_receiver(p, &dg[2], 2);

    /* a closed descriptor: every datagram would fail alike */
    fd = dup(p->tx);
    assert_true(fd >= 0);
    close(fd);

    assert_int_equal(kraken_udp_send_batch(fd, dg, 3, &err), 0);
    assert_int_equal(err, EBADF);

    assert_int_equal(kraken_udp_send_batch(p->tx, dg, 0, &err), 0);
    assert_int_equal(err, 0);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_every_datagram_of_a_batch_arrives_in_order,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_refused_datagram_mid_batch_is_skipped_and_the_rest_sent,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_refused_first_datagram_does_not_stop_the_batch,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_long_batch_with_refusals_spans_several_calls,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_broken_socket_drops_the_batch,
            setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
