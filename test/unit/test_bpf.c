/*
 * The steering program on real loopback sockets: four UDP sockets share
 * one port with SO_REUSEPORT, as nginx's workers do, and the program picks
 * the socket by the STUN USERNAME's worker tag, then by the sender's
 * address, else leaves the kernel's hash to pick.
 *
 * The kernel's hash of a 4-tuple is fixed while the group does not change,
 * so "goes by hash" is checked exactly: a datagram goes where a plain
 * datagram from the same client went before any steering was set.
 *
 * Loading needs root (CAP_BPF and CAP_NET_ADMIN): without it the tests are
 * skipped; as root a load failure fails them.
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
#include <poll.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "kraken_bpf.h"


#define SOCKS    4

/* one more socket slot than sockets: the last one stays empty */
#define SLOTS    (SOCKS + 1)

#define CLIENTS  32


typedef struct {
    kraken_bpf_t             *b;
    int                       family;
    int                       fd[SOCKS];
    struct sockaddr_storage   addr;
    socklen_t                 addrlen;
} group_t;

typedef struct {
    unsigned char             data[1500];
    size_t                    len;
} msg_t;


static int  bpf_unavailable;


/* four sockets on one port of 127.0.0.1 or ::1, steered by a new object */

static int
group_open(group_t *g, int family)
{
    int                   i, one;
    char                  err[512];
    struct sockaddr_in   *sin;
    struct sockaddr_in6  *sin6;

    memset(g, 0, sizeof(group_t));

    g->family = family;

    g->b = kraken_bpf_create(SLOTS, 64, err, sizeof(err));

    if (g->b == NULL) {
        if (getuid() != 0) {
            if (!bpf_unavailable) {
                printf("# skip: BPF not available as uid %u: %s\n",
                       (unsigned) getuid(), err);
            }

            bpf_unavailable = 1;
            return 0;
        }

        fail_msg("kraken_bpf_create() as root: %s", err);
    }

    if (family == AF_INET) {
        sin = (struct sockaddr_in *) &g->addr;
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        g->addrlen = sizeof(struct sockaddr_in);

    } else {
        sin6 = (struct sockaddr_in6 *) &g->addr;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_addr = in6addr_loopback;
        g->addrlen = sizeof(struct sockaddr_in6);
    }

    for (i = 0; i < SOCKS; i++) {
        g->fd[i] = socket(family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        if (g->fd[i] == -1) {
            return -1;
        }

        one = 1;
        assert_int_equal(setsockopt(g->fd[i], SOL_SOCKET, SO_REUSEPORT, &one,
                                    sizeof(int)), 0);

        /* the first bind picks the port, the others share it */
        if (bind(g->fd[i], (struct sockaddr *) &g->addr, g->addrlen) != 0) {
            return -1;
        }

        assert_int_equal(getsockname(g->fd[i], (struct sockaddr *) &g->addr,
                                     &g->addrlen), 0);
    }

    assert_int_equal(kraken_bpf_attach(g->b, g->fd[0]), 0);

    for (i = 0; i < SOCKS; i++) {
        assert_int_equal(kraken_bpf_set_socket(g->b, i, g->fd[i]), 0);
    }

    return 0;
}


static void
group_close(group_t *g)
{
    int  i;

    for (i = 0; i < SOCKS; i++) {
        if (g->fd[i] > 0) {
            close(g->fd[i]);
        }
    }

    kraken_bpf_free(g->b);
}


static int
setup(void **state)
{
    group_t  *g;

    g = calloc(1, sizeof(group_t));
    assert_non_null(g);

    assert_int_equal(group_open(g, AF_INET), 0);

    *state = g;

    return 0;
}


static int
setup6(void **state)
{
    group_t  *g;

    g = calloc(1, sizeof(group_t));
    assert_non_null(g);

    if (group_open(g, AF_INET6) != 0) {
        printf("# skip: no IPv6 on ::1: %s\n", strerror(errno));
        group_close(g);
        g->b = NULL;
    }

    *state = g;

    return 0;
}


static int
teardown(void **state)
{
    group_t  *g = *state;

    group_close(g);
    free(g);

    return 0;
}


/* a client socket on a new port of the group's loopback address */

static int
client_open(group_t *g, struct sockaddr_storage *addr)
{
    int        fd;
    socklen_t  len;

    fd = socket(g->family, SOCK_DGRAM, 0);
    assert_true(fd >= 0);

    memcpy(addr, &g->addr, g->addrlen);

    if (g->family == AF_INET) {
        ((struct sockaddr_in *) addr)->sin_port = 0;

    } else {
        ((struct sockaddr_in6 *) addr)->sin6_port = 0;
    }

    assert_int_equal(bind(fd, (struct sockaddr *) addr, g->addrlen), 0);

    len = sizeof(struct sockaddr_storage);
    assert_int_equal(getsockname(fd, (struct sockaddr *) addr, &len), 0);

    return fd;
}


/* sends from the client and returns which socket the datagram reached */

static int
deliver(group_t *g, int client, const void *data, size_t len)
{
    int            i, n;
    ssize_t        got;
    unsigned char  buf[2048];
    struct pollfd  pfd[SOCKS];

    assert_int_equal(sendto(client, data, len, 0,
                            (struct sockaddr *) &g->addr, g->addrlen),
                     (ssize_t) len);

    for (i = 0; i < SOCKS; i++) {
        pfd[i].fd = g->fd[i];
        pfd[i].events = POLLIN;
    }

    n = poll(pfd, SOCKS, 2000);
    assert_true(n > 0);

    for (i = 0; i < SOCKS; i++) {
        if (pfd[i].revents & POLLIN) {
            break;
        }
    }

    assert_true(i < SOCKS);

    got = recv(g->fd[i], buf, sizeof(buf), 0);
    assert_int_equal(got, (ssize_t) len);
    assert_memory_equal(buf, data, len);

    /* one datagram sent, one received: the other sockets are empty */
    assert_int_equal(poll(pfd, SOCKS, 0), 0);

    return i;
}


/* where the kernel's hash puts this client */

static int
hashed(group_t *g, int client)
{
    return deliver(g, client, "probe", 5);
}


static void
stun_begin(msg_t *m, unsigned type)
{
    static const unsigned char  cookie[4] = { 0x21, 0x12, 0xa4, 0x42 };

    memset(m, 0, sizeof(msg_t));

    m->data[0] = type >> 8;
    m->data[1] = type & 0xff;
    memcpy(&m->data[4], cookie, 4);
    memcpy(&m->data[8], "transaction1", 12);
    m->len = 20;
}


/* appends an attribute, padded to 4 bytes, and updates the length */

static void
stun_attr(msg_t *m, unsigned type, const void *value, size_t len)
{
    size_t  body;

    m->data[m->len] = type >> 8;
    m->data[m->len + 1] = type & 0xff;
    m->data[m->len + 2] = len >> 8;
    m->data[m->len + 3] = len & 0xff;
    memcpy(&m->data[m->len + 4], value, len);
    m->len += 4 + ((len + 3) & ~(size_t) 3);

    body = m->len - 20;
    m->data[2] = body >> 8;
    m->data[3] = body & 0xff;
}


/* a binding request, as a browser's ICE check, for our ufrag */

static void
stun_request(msg_t *m, const char *ufrag, int priority_first)
{
    char                        username[64];
    static const unsigned char  priority[4] = { 0x6e, 0x7f, 0x1e, 0xff };

    snprintf(username, sizeof(username), "%s:rEmO", ufrag);

    stun_begin(m, 0x0001);

    if (priority_first) {
        stun_attr(m, 0x0024, priority, 4);
        stun_attr(m, 0x8022, "browser", 7);      /* SOFTWARE, padded */
    }

    stun_attr(m, 0x0006, username, strlen(username));
    stun_attr(m, 0x0008, "0123456789abcdefghij", 20); /* MESSAGE-INTEGRITY */
}


static unsigned
tag_of(const char *ufrag)
{
    return (ufrag[0] - 'a') * 16 + (ufrag[1] - 'a');
}


/* the ufrags of four workers and their sockets */

static const char  *ufrags[SOCKS] = { "aaQ1", "apX7", "pa9z", "ppK0" };


static void
set_tags(group_t *g)
{
    int  i;

    for (i = 0; i < SOCKS; i++) {
        assert_int_equal(kraken_bpf_set_tag(g->b, tag_of(ufrags[i]),
                                            SOCKS - 1 - i), 0);
    }
}


static void
test_stun_goes_to_the_socket_of_its_ufrag_tag(void **state)
{
    int       c, i, k, fd[CLIENTS];
    msg_t     m;
    group_t  *g = *state;
    struct sockaddr_storage  addr;

    if (g->b == NULL) {
        skip();
    }

    set_tags(g);

    for (c = 0; c < CLIENTS; c++) {
        fd[c] = client_open(g, &addr);
    }

    for (i = 0; i < SOCKS; i++) {
        for (c = 0; c < CLIENTS; c++) {
            for (k = 0; k < 2; k++) {
                stun_request(&m, ufrags[i], k);
                assert_int_equal(deliver(g, fd[c], m.data, m.len),
                                 SOCKS - 1 - i);
            }
        }
    }

    /* a success response (first byte 0x01) is steered alike */

    stun_begin(&m, 0x0101);
    stun_attr(&m, 0x0006, "ppzz:x", 6);
    assert_int_equal(deliver(g, fd[0], m.data, m.len), 0);

    for (c = 0; c < CLIENTS; c++) {
        close(fd[c]);
    }
}


static void
test_stun_of_an_unknown_or_deleted_tag_goes_by_hash(void **state)
{
    int       fd, h;
    msg_t     m;
    group_t  *g = *state;
    struct sockaddr_storage  addr;

    if (g->b == NULL) {
        skip();
    }

    fd = client_open(g, &addr);
    h = hashed(g, fd);

    /* no tag set */
    stun_request(&m, "kkAB", 1);
    assert_int_equal(deliver(g, fd, m.data, m.len), h);

    assert_int_equal(kraken_bpf_set_tag(g->b, tag_of("kk"), (h + 1) % SOCKS),
                     0);
    assert_int_equal(deliver(g, fd, m.data, m.len), (h + 1) % SOCKS);

    assert_int_equal(kraken_bpf_del_tag(g->b, tag_of("kk")), 0);
    assert_int_equal(deliver(g, fd, m.data, m.len), h);

    /* a tag of the empty socket slot: the selection fails, the hash picks */
    assert_int_equal(kraken_bpf_set_tag(g->b, tag_of("kk"), SLOTS - 1), 0);
    assert_int_equal(deliver(g, fd, m.data, m.len), h);

    /* characters out of 'a'..'p' are no tag */
    stun_request(&m, "qaAB", 1);
    assert_int_equal(deliver(g, fd, m.data, m.len), h);
    stun_request(&m, "aQAB", 1);
    assert_int_equal(deliver(g, fd, m.data, m.len), h);

    close(fd);
}


static void
test_datagrams_of_a_known_address_go_to_its_socket(void **state)
{
    int       c, h[CLIENTS], fd[CLIENTS];
    msg_t     m;
    group_t  *g = *state;
    struct sockaddr_storage  addr[CLIENTS];

    if (g->b == NULL) {
        skip();
    }

    for (c = 0; c < CLIENTS; c++) {
        fd[c] = client_open(g, &addr[c]);
        h[c] = hashed(g, fd[c]);

        /* not where the hash would put it */
        assert_int_equal(kraken_bpf_add_addr(g->b,
                                             (struct sockaddr *) &addr[c],
                                             (h[c] + 1 + c % 3) % SOCKS,
                                             c % 2),
                         0);
    }

    for (c = 0; c < CLIENTS; c++) {
        assert_int_equal(deliver(g, fd[c], "rtp", 3),
                         (h[c] + 1 + c % 3) % SOCKS);

        /* DTLS, RTP: anything not STUN with a tag */
        assert_int_equal(deliver(g, fd[c], "\x16\xfe\xfd", 3),
                         (h[c] + 1 + c % 3) % SOCKS);
    }

    /* a STUN tag wins over the address */

    set_tags(g);
    stun_request(&m, ufrags[0], 1);
    assert_int_equal(deliver(g, fd[0], m.data, m.len), SOCKS - 1);

    /* a STUN without a known tag goes by address */

    stun_request(&m, "zzzz", 1);
    assert_int_equal(deliver(g, fd[0], m.data, m.len), (h[0] + 1) % SOCKS);

    /* deleted: by hash again */

    assert_int_equal(kraken_bpf_del_addr(g->b, (struct sockaddr *) &addr[0],
                                         0),
                     0);
    assert_int_equal(deliver(g, fd[0], "rtp", 3), h[0]);

    assert_int_equal(kraken_bpf_del_addr(g->b, (struct sockaddr *) &addr[0],
                                         0),
                     -1);
    assert_int_equal(errno, ENOENT);

    /* purged by slot: slot 1 by hash, slot 0 still steered */

    kraken_bpf_purge_slot(g->b, 1);

    for (c = 1; c < CLIENTS; c++) {
        assert_int_equal(deliver(g, fd[c], "rtp", 3),
                         c % 2 ? h[c] : (h[c] + 1 + c % 3) % SOCKS);
    }

    kraken_bpf_purge_slot(g->b, 0);
    kraken_bpf_purge_slot(g->b, 0);

    for (c = 1; c < CLIENTS; c++) {
        assert_int_equal(deliver(g, fd[c], "rtp", 3), h[c]);
    }

    /* the address of the empty socket slot: by hash */

    assert_int_equal(kraken_bpf_add_addr(g->b, (struct sockaddr *) &addr[1],
                                         SLOTS - 1, 0), 0);
    assert_int_equal(deliver(g, fd[1], "rtp", 3), h[1]);

    for (c = 0; c < CLIENTS; c++) {
        close(fd[c]);
    }
}


static void
test_a_v4_mapped_address_steers_the_ipv4_sender(void **state)
{
    int                   fd, h;
    group_t              *g = *state;
    struct sockaddr_in   *sin;
    struct sockaddr_in6   sin6;
    struct sockaddr_storage  addr;

    if (g->b == NULL) {
        skip();
    }

    fd = client_open(g, &addr);
    h = hashed(g, fd);

    sin = (struct sockaddr_in *) &addr;

    memset(&sin6, 0, sizeof(struct sockaddr_in6));
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = sin->sin_port;
    sin6.sin6_addr.s6_addr[10] = 0xff;
    sin6.sin6_addr.s6_addr[11] = 0xff;
    memcpy(&sin6.sin6_addr.s6_addr[12], &sin->sin_addr, 4);

    assert_int_equal(kraken_bpf_add_addr(g->b, (struct sockaddr *) &sin6,
                                         (h + 2) % SOCKS, 0), 0);
    assert_int_equal(deliver(g, fd, "rtp", 3), (h + 2) % SOCKS);

    /* and the plain IPv4 address is the same key */
    assert_int_equal(kraken_bpf_del_addr(g->b, (struct sockaddr *) sin, 0),
                     0);
    assert_int_equal(deliver(g, fd, "rtp", 3), h);

    close(fd);
}


/*
 * Issue 17: one worker cannot steer another's client to itself, nor
 * delete the other's entry; a datagram keeps going to the owner.
 */

static void
test_a_worker_cannot_redirect_or_delete_another_workers_address(
    void **state)
{
    int       fd, h;
    group_t  *g = *state;
    struct sockaddr_storage  addr;

    if (g->b == NULL) {
        skip();
    }

    fd = client_open(g, &addr);
    h = hashed(g, fd);

    assert_int_equal(kraken_bpf_add_addr(g->b, (struct sockaddr *) &addr,
                                         (h + 1) % SOCKS, 3), 0);
    assert_int_equal(deliver(g, fd, "rtp", 3), (h + 1) % SOCKS);

    /* slot 4 claims it: refused, the datagram still goes to slot 3 */
    assert_int_equal(kraken_bpf_add_addr(g->b, (struct sockaddr *) &addr,
                                         (h + 2) % SOCKS, 4), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(deliver(g, fd, "rtp", 3), (h + 1) % SOCKS);

    /* slot 4 forgets it: slot 3's entry stays */
    assert_int_equal(kraken_bpf_del_addr(g->b, (struct sockaddr *) &addr, 4),
                     -1);
    assert_int_equal(errno, EPERM);
    assert_int_equal(deliver(g, fd, "rtp", 3), (h + 1) % SOCKS);

    /* the owner moves it */
    assert_int_equal(kraken_bpf_add_addr(g->b, (struct sockaddr *) &addr,
                                         (h + 3) % SOCKS, 3), 0);
    assert_int_equal(deliver(g, fd, "rtp", 3), (h + 3) % SOCKS);

    /* taken on purpose (the owner is gone): slot 4's from now on */
    assert_int_equal(kraken_bpf_take_addr(g->b, (struct sockaddr *) &addr,
                                          (h + 2) % SOCKS, 4), 0);
    assert_int_equal(deliver(g, fd, "rtp", 3), (h + 2) % SOCKS);
    assert_int_equal(kraken_bpf_del_addr(g->b, (struct sockaddr *) &addr, 3),
                     -1);
    assert_int_equal(kraken_bpf_del_addr(g->b, (struct sockaddr *) &addr, 4),
                     0);
    assert_int_equal(deliver(g, fd, "rtp", 3), h);

    close(fd);
}


/* anything odd goes where the hash puts it: delivered, never dropped */

static void
test_garbage_and_truncated_stun_go_by_hash(void **state)
{
    int             fd, h, i;
    msg_t           m;
    group_t        *g = *state;
    unsigned char   prio[4] = { 0, 0, 0, 1 };
    struct sockaddr_storage  addr;

    if (g->b == NULL) {
        skip();
    }

    fd = client_open(g, &addr);
    h = hashed(g, fd);

    /* every tag points away from the hash */
    for (i = 0; i < KRAKEN_BPF_TAGS; i++) {
        assert_int_equal(kraken_bpf_set_tag(g->b, i, (h + 1) % SOCKS), 0);
    }

    assert_int_equal(kraken_bpf_set_tag(g->b, KRAKEN_BPF_TAGS, 0), -1);
    assert_int_equal(errno, EINVAL);

    /* empty, short, shorter than a STUN header */
    assert_int_equal(deliver(g, fd, "", 0), h);
    assert_int_equal(deliver(g, fd, "\x00", 1), h);
    stun_request(&m, "aaaa", 0);
    assert_int_equal(deliver(g, fd, m.data, 19), h);
    assert_int_equal(deliver(g, fd, m.data, 20), h);
    assert_int_equal(deliver(g, fd, m.data, 24), h);

    /* the whole request is steered, as a reference */
    assert_int_equal(deliver(g, fd, m.data, m.len), (h + 1) % SOCKS);

    /* the USERNAME value cut after its first byte */
    assert_int_equal(deliver(g, fd, m.data, 25), h);

    /* a wrong magic cookie, a first byte above 0x01 */
    m.data[7] ^= 1;
    assert_int_equal(deliver(g, fd, m.data, m.len), h);
    m.data[7] ^= 1;
    m.data[0] = 0x02;
    assert_int_equal(deliver(g, fd, m.data, m.len), h);
    m.data[0] = 0x40;
    assert_int_equal(deliver(g, fd, m.data, m.len), h);

    /* a STUN length larger than the datagram: the datagram's end counts */
    stun_request(&m, "aaaa", 0);
    m.data[2] = 0xff;
    m.data[3] = 0xfc;
    assert_int_equal(deliver(g, fd, m.data, m.len), (h + 1) % SOCKS);
    assert_int_equal(deliver(g, fd, m.data, 25), h);

    /* a USERNAME past the STUN length is not read */
    stun_begin(&m, 0x0001);
    stun_attr(&m, 0x0024, prio, 4);
    stun_attr(&m, 0x0006, "aaaa:b", 6);
    m.data[3] = 8;
    assert_int_equal(deliver(g, fd, m.data, m.len), h);

    /* an attribute length running past the end, and past 64 KB */
    stun_begin(&m, 0x0001);
    stun_attr(&m, 0x0024, prio, 4);
    stun_attr(&m, 0x0006, "aaaa:b", 6);
    m.data[22] = 0xff;
    m.data[23] = 0xff;
    assert_int_equal(deliver(g, fd, m.data, m.len), h);
    m.data[2] = 0xff;
    m.data[3] = 0xff;
    assert_int_equal(deliver(g, fd, m.data, m.len), h);

    /* a USERNAME shorter than a tag */
    stun_begin(&m, 0x0001);
    stun_attr(&m, 0x0006, "a", 1);
    assert_int_equal(deliver(g, fd, m.data, m.len), h);

    /* USERNAME as the 16th attribute is found, as the 17th it is not */
    stun_begin(&m, 0x0001);
    for (i = 0; i < 15; i++) {
        stun_attr(&m, 0x0024, prio, 4);
    }
    stun_attr(&m, 0x0006, "aaaa:b", 6);
    assert_int_equal(deliver(g, fd, m.data, m.len), (h + 1) % SOCKS);

    stun_begin(&m, 0x0001);
    for (i = 0; i < 16; i++) {
        stun_attr(&m, 0x0024, prio, 4);
    }
    stun_attr(&m, 0x0006, "aaaa:b", 6);
    assert_int_equal(deliver(g, fd, m.data, m.len), h);

    /* random bytes */
    srand(1);
    for (i = 0; i < 200; i++) {
        size_t  j, len;

        len = rand() % 200;
        for (j = 0; j < len; j++) {
            m.data[j] = rand();
        }

        /* a third of them look like STUN */
        if (i % 3 == 0 && len >= 8) {
            m.data[0] = i & 1;
            memcpy(&m.data[4], "\x21\x12\xa4\x42", 4);
        }

        (void) deliver(g, fd, m.data, len);
    }

    close(fd);
}


static void
test_workers_update_the_maps_after_fork(void **state)
{
    int       fd, h, status;
    pid_t     pid;
    msg_t     m;
    group_t  *g = *state;
    struct sockaddr_storage  addr;

    if (g->b == NULL) {
        skip();
    }

    fd = client_open(g, &addr);
    h = hashed(g, fd);

    pid = fork();
    assert_true(pid >= 0);

    if (pid == 0) {
        /* a worker: the descriptors it inherited */
        if (kraken_bpf_add_addr(g->b, (struct sockaddr *) &addr,
                                (h + 3) % SOCKS, 5) != 0
            || kraken_bpf_set_tag(g->b, tag_of("ij"), (h + 2) % SOCKS) != 0)
        {
            _exit(1);
        }

        kraken_bpf_free(g->b);
        _exit(0);
    }

    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    assert_int_equal(deliver(g, fd, "rtp", 3), (h + 3) % SOCKS);
    stun_request(&m, "ijkl", 1);
    assert_int_equal(deliver(g, fd, m.data, m.len), (h + 2) % SOCKS);

    /* the master purges what the dead worker left */
    kraken_bpf_purge_slot(g->b, 5);
    assert_int_equal(deliver(g, fd, "rtp", 3), h);

    close(fd);
}


static void
test_a_full_address_map_refuses_cleanly(void **state)
{
    int                  i;
    char                 err[512];
    group_t             *g = *state;
    kraken_bpf_t        *b;
    struct sockaddr_in   sin[5];
    struct sockaddr_un   sun;

    if (g->b == NULL) {
        skip();
    }

    b = kraken_bpf_create(2, 4, err, sizeof(err));
    assert_non_null(b);

    for (i = 0; i < 5; i++) {
        memset(&sin[i], 0, sizeof(struct sockaddr_in));
        sin[i].sin_family = AF_INET;
        sin[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sin[i].sin_port = htons(40000 + i);
    }

    for (i = 0; i < 4; i++) {
        assert_int_equal(kraken_bpf_add_addr(b, (struct sockaddr *) &sin[i],
                                             1, 0), 0);
    }

    assert_int_equal(kraken_bpf_add_addr(b, (struct sockaddr *) &sin[4], 1, 0),
                     -1);
    assert_int_equal(errno, E2BIG);

    /* an address already there may still change, by its own slot */
    assert_int_equal(kraken_bpf_add_addr(b, (struct sockaddr *) &sin[2], 0, 0),
                     0);

    /* another slot's is neither replaced nor deleted, only taken */
    assert_int_equal(kraken_bpf_add_addr(b, (struct sockaddr *) &sin[2], 1, 1),
                     -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(kraken_bpf_del_addr(b, (struct sockaddr *) &sin[2], 1),
                     -1);
    assert_int_equal(errno, EPERM);
    assert_int_equal(kraken_bpf_take_addr(b, (struct sockaddr *) &sin[2], 0,
                                          1),
                     0);

    /* out of range, unknown family */
    assert_int_equal(kraken_bpf_add_addr(b, (struct sockaddr *) &sin[4], 2, 0),
                     -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(kraken_bpf_set_socket(b, 2, g->fd[0]), -1);
    assert_int_equal(errno, EINVAL);

    memset(&sun, 0, sizeof(struct sockaddr_un));
    sun.sun_family = AF_UNIX;
    assert_int_equal(kraken_bpf_add_addr(b, (struct sockaddr *) &sun, 0, 0),
                     -1);
    assert_int_equal(errno, EAFNOSUPPORT);

    /* all four are still there, and after a purge one place is free */
    kraken_bpf_purge_slot(b, 1);
    assert_int_equal(kraken_bpf_del_addr(b, (struct sockaddr *) &sin[2], 1),
                     -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(kraken_bpf_add_addr(b, (struct sockaddr *) &sin[4], 1, 0),
                     0);

    for (i = 0; i < 5; i++) {
        assert_int_equal(kraken_bpf_del_addr(b, (struct sockaddr *) &sin[i],
                                             0),
                         i == 2 ? -1 : 0);
    }

    kraken_bpf_free(b);

    assert_null(kraken_bpf_create(0, 4, err, sizeof(err)));
    assert_int_equal(errno, EINVAL);
}


static void
test_ipv6_stun_and_addresses_are_steered(void **state)
{
    int       c, h, fd;
    msg_t     m;
    group_t  *g = *state;
    struct sockaddr_storage  addr;

    if (g->b == NULL) {
        skip();
    }

    set_tags(g);

    for (c = 0; c < CLIENTS; c++) {
        fd = client_open(g, &addr);
        h = hashed(g, fd);

        stun_request(&m, ufrags[c % SOCKS], 1);
        assert_int_equal(deliver(g, fd, m.data, m.len),
                         SOCKS - 1 - c % SOCKS);

        assert_int_equal(kraken_bpf_add_addr(g->b, (struct sockaddr *) &addr,
                                             (h + 1) % SOCKS, 0), 0);
        assert_int_equal(deliver(g, fd, "rtp", 3), (h + 1) % SOCKS);

        assert_int_equal(kraken_bpf_del_addr(g->b, (struct sockaddr *) &addr,
                                             0),
                         0);
        assert_int_equal(deliver(g, fd, "rtp", 3), h);

        close(fd);
    }
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_stun_goes_to_the_socket_of_its_ufrag_tag,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_stun_of_an_unknown_or_deleted_tag_goes_by_hash,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_worker_cannot_redirect_or_delete_another_workers_address,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_datagrams_of_a_known_address_go_to_its_socket,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_v4_mapped_address_steers_the_ipv4_sender,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_garbage_and_truncated_stun_go_by_hash,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_workers_update_the_maps_after_fork,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_full_address_map_refuses_cleanly,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_ipv6_stun_and_addresses_are_steered,
            setup6, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
