/*
 * Loading the steering program and keeping its maps, with libbpf. The
 * libbpf object is closed once loaded: what stays is four descriptors,
 * which fork() shares and which nothing else owns.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kraken_bpf.h"


/* the maps' layouts, as in src/bpf/kraken_steer.bpf.c */

typedef struct {
    uint8_t                 family;      /* AF_INET or AF_INET6 */
    uint8_t                 pad;         /* 0 */
    uint16_t                port;        /* network byte order */
    uint8_t                 addr[16];    /* IPv4: the first 4 bytes */
} kraken_bpf_addr_t;

typedef struct {
    uint32_t                index;
    uint32_t                slot;
} kraken_bpf_peer_t;


struct kraken_bpf_s {
    int                     prog_fd;
    int                     socks_fd;
    int                     tags_fd;
    int                     addrs_fd;
    unsigned                max_socks;
    unsigned                max_addrs;
};


static int kraken_bpf_map(struct bpf_object *obj, const char *name,
    unsigned max_entries, size_t key_size, size_t value_size);
static int kraken_bpf_dup(int fd);
static int kraken_bpf_libbpf_print(enum libbpf_print_level level,
    const char *fmt, va_list args);
static int kraken_bpf_key(const struct sockaddr *sa, kraken_bpf_addr_t *key);
static int kraken_bpf_entry(kraken_bpf_t *b, const struct sockaddr *sa,
    unsigned index, unsigned slot, kraken_bpf_addr_t *key,
    kraken_bpf_peer_t *peer);


/* libbpf's first warning during kraken_bpf_create(), for its message */
static char  kraken_bpf_libbpf_warning[256];


/* Sizes the object's maps, loads it, and keeps its descriptors in b. */

static int
kraken_bpf_load(kraken_bpf_t *b, struct bpf_object *obj, const char **what)
{
    struct bpf_program  *prog;

    *what = "the object's maps";
    if (kraken_bpf_map(obj, "socks", b->max_socks, sizeof(uint32_t),
                       sizeof(uint32_t))
        != 0
        || kraken_bpf_map(obj, "tags", KRAKEN_BPF_TAGS, sizeof(uint32_t),
                          sizeof(uint32_t))
           != 0
        || kraken_bpf_map(obj, "addrs", b->max_addrs,
                          sizeof(kraken_bpf_addr_t),
                          sizeof(kraken_bpf_peer_t))
           != 0)
    {
        return -1;
    }

    *what = "the object's program";
    prog = bpf_object__find_program_by_name(obj, "kraken_steer");
    if (prog == NULL) {
        return -1;
    }

    *what = "bpf_object__load()";
    if (bpf_object__load(obj) != 0) {
        return -1;
    }

    *what = "fcntl(F_DUPFD_CLOEXEC)";
    b->prog_fd = kraken_bpf_dup(bpf_program__fd(prog));
    b->socks_fd = kraken_bpf_dup(bpf_object__find_map_fd_by_name(obj,
                                                                 "socks"));
    b->tags_fd = kraken_bpf_dup(bpf_object__find_map_fd_by_name(obj, "tags"));
    b->addrs_fd = kraken_bpf_dup(bpf_object__find_map_fd_by_name(obj,
                                                                 "addrs"));

    if (b->prog_fd == -1 || b->socks_fd == -1 || b->tags_fd == -1
        || b->addrs_fd == -1)
    {
        return -1;
    }

    return 0;
}


kraken_bpf_t *
kraken_bpf_create(unsigned max_socks, unsigned max_addrs, char *err,
    size_t errlen)
{
    int                  rc, saved;
    const char          *what;
    kraken_bpf_t        *b;
    libbpf_print_fn_t    print;
    struct bpf_object   *obj;

    LIBBPF_OPTS(bpf_object_open_opts, opts,
        .object_name = "kraken_steer",
    );

    if (max_socks == 0 || max_addrs == 0) {
        snprintf(err, errlen, "kraken_bpf_create(): no sockets or addresses");
        errno = EINVAL;
        return NULL;
    }

    b = malloc(sizeof(kraken_bpf_t));
    if (b == NULL) {
        snprintf(err, errlen, "malloc() failed");
        return NULL;
    }

    b->prog_fd = -1;
    b->socks_fd = -1;
    b->tags_fd = -1;
    b->addrs_fd = -1;
    b->max_socks = max_socks;
    b->max_addrs = max_addrs;

    /* libbpf prints to stderr by default: keep its first warning instead */

    kraken_bpf_libbpf_warning[0] = '\0';
    print = libbpf_set_print(kraken_bpf_libbpf_print);

    rc = -1;

    what = "bpf_object__open_mem()";
    obj = bpf_object__open_mem(kraken_bpf_code, kraken_bpf_code_len, &opts);
    if (obj == NULL) {
        goto done;
    }

    if (kraken_bpf_load(b, obj, &what) != 0) {
        goto done;
    }

    rc = 0;

done:

    saved = errno;

    bpf_object__close(obj);
    libbpf_set_print(print);

    if (rc == 0) {
        return b;
    }

    if (saved == 0) {
        saved = EINVAL;
    }

    snprintf(err, errlen, "%s failed: %s%s%s%s", what, strerror(saved),
             kraken_bpf_libbpf_warning[0] ? " (libbpf: " : "",
             kraken_bpf_libbpf_warning,
             kraken_bpf_libbpf_warning[0] ? ")" : "");

    kraken_bpf_free(b);

    errno = saved;

    return NULL;
}


/* checks a map's layout against ours and sets its size */

static int
kraken_bpf_map(struct bpf_object *obj, const char *name, unsigned max_entries,
    size_t key_size, size_t value_size)
{
    struct bpf_map  *map;

    map = bpf_object__find_map_by_name(obj, name);
    if (map == NULL
        || bpf_map__key_size(map) != key_size
        || bpf_map__value_size(map) != value_size)
    {
        errno = EINVAL;
        return -1;
    }

    if (bpf_map__set_max_entries(map, max_entries) != 0) {
        return -1;
    }

    return 0;
}


/* our own copy of a descriptor of the libbpf object, closed on exec */

static int
kraken_bpf_dup(int fd)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }

    return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}


static int
kraken_bpf_libbpf_print(enum libbpf_print_level level, const char *fmt,
    va_list args)
{
    char    *p;
    size_t   n;

    if (level != LIBBPF_WARN || kraken_bpf_libbpf_warning[0] != '\0') {
        return 0;
    }

    (void) vsnprintf(kraken_bpf_libbpf_warning,
                     sizeof(kraken_bpf_libbpf_warning), fmt, args);

    /* printed once per process, before the error that tells more */

    if (strstr(kraken_bpf_libbpf_warning, "bump RLIMIT_MEMLOCK") != NULL) {
        kraken_bpf_libbpf_warning[0] = '\0';
        return 0;
    }

    p = kraken_bpf_libbpf_warning;

    if (strncmp(p, "libbpf: ", 8) == 0) {
        memmove(p, p + 8, strlen(p + 8) + 1);
    }

    n = strlen(p);

    while (n > 0 && kraken_bpf_libbpf_warning[n - 1] == '\n') {
        kraken_bpf_libbpf_warning[--n] = '\0';
    }

    return 0;
}


int
kraken_bpf_attach(kraken_bpf_t *b, int fd)
{
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &b->prog_fd,
                      sizeof(int));
}


int
kraken_bpf_set_socket(kraken_bpf_t *b, unsigned index, int fd)
{
    uint32_t  key, value;

    if (index >= b->max_socks || fd < 0) {
        errno = EINVAL;
        return -1;
    }

    key = index;
    value = (uint32_t) fd;

    return bpf_map_update_elem(b->socks_fd, &key, &value, BPF_ANY) == 0
           ? 0 : -1;
}


int
kraken_bpf_set_tag(kraken_bpf_t *b, unsigned tag, unsigned index)
{
    uint32_t  key, value;

    if (tag >= KRAKEN_BPF_TAGS || index >= b->max_socks) {
        errno = EINVAL;
        return -1;
    }

    /* 0 is "no such tag" in the array map */

    key = tag;
    value = index + 1;

    return bpf_map_update_elem(b->tags_fd, &key, &value, BPF_ANY) == 0
           ? 0 : -1;
}


int
kraken_bpf_del_tag(kraken_bpf_t *b, unsigned tag)
{
    uint32_t  key, value;

    if (tag >= KRAKEN_BPF_TAGS) {
        errno = EINVAL;
        return -1;
    }

    key = tag;
    value = 0;

    return bpf_map_update_elem(b->tags_fd, &key, &value, BPF_ANY) == 0
           ? 0 : -1;
}


int
kraken_bpf_add_addr(kraken_bpf_t *b, const struct sockaddr *sa,
    unsigned index, unsigned slot)
{
    kraken_bpf_addr_t  key;
    kraken_bpf_peer_t  peer, old;

    if (kraken_bpf_entry(b, sa, index, slot, &key, &peer) != 0) {
        return -1;
    }

    /* a full hash map refuses a new key with E2BIG and is left as it was */

    if (bpf_map_update_elem(b->addrs_fd, &key, &peer, BPF_NOEXIST) == 0) {
        return 0;
    }

    if (errno != EEXIST) {
        return -1;
    }

    /* ours already: it may change; another slot's: left alone */

    if (bpf_map_lookup_elem(b->addrs_fd, &key, &old) != 0) {
        return -1;
    }

    if (old.slot != slot) {
        errno = EEXIST;
        return -1;
    }

    return bpf_map_update_elem(b->addrs_fd, &key, &peer, BPF_EXIST) == 0
           ? 0 : -1;
}


int
kraken_bpf_take_addr(kraken_bpf_t *b, const struct sockaddr *sa,
    unsigned index, unsigned slot)
{
    kraken_bpf_addr_t  key;
    kraken_bpf_peer_t  peer;

    if (kraken_bpf_entry(b, sa, index, slot, &key, &peer) != 0) {
        return -1;
    }

    return bpf_map_update_elem(b->addrs_fd, &key, &peer, BPF_ANY) == 0
           ? 0 : -1;
}


int
kraken_bpf_del_addr(kraken_bpf_t *b, const struct sockaddr *sa,
    unsigned slot)
{
    kraken_bpf_addr_t  key;
    kraken_bpf_peer_t  peer;

    if (kraken_bpf_key(sa, &key) != 0) {
        return -1;
    }

    if (bpf_map_lookup_elem(b->addrs_fd, &key, &peer) != 0) {
        return -1;
    }

    if (peer.slot != slot) {
        errno = EPERM;
        return -1;
    }

    return bpf_map_delete_elem(b->addrs_fd, &key) == 0 ? 0 : -1;
}


void
kraken_bpf_purge_slot(kraken_bpf_t *b, unsigned slot)
{
    int                more;
    unsigned           n;
    kraken_bpf_addr_t  key, next;
    kraken_bpf_peer_t  peer;

    if (bpf_map_get_next_key(b->addrs_fd, NULL, &key) != 0) {
        return;
    }

    /*
     * The next key is taken before this one is deleted: the walk would
     * start again from the first key after a deleted one. A key deleted
     * meanwhile by another process restarts it all the same, hence the
     * bound.
     */

    for (n = 0; n < 2 * b->max_addrs + 1; n++) {

        more = (bpf_map_get_next_key(b->addrs_fd, &key, &next) == 0);

        if (bpf_map_lookup_elem(b->addrs_fd, &key, &peer) == 0
            && peer.slot == slot)
        {
            (void) bpf_map_delete_elem(b->addrs_fd, &key);
        }

        if (!more) {
            break;
        }

        key = next;
    }
}


void
kraken_bpf_free(kraken_bpf_t *b)
{
    int  saved;

    if (b == NULL) {
        return;
    }

    saved = errno;

    if (b->prog_fd != -1) {
        (void) close(b->prog_fd);
    }

    if (b->socks_fd != -1) {
        (void) close(b->socks_fd);
    }

    if (b->tags_fd != -1) {
        (void) close(b->tags_fd);
    }

    if (b->addrs_fd != -1) {
        (void) close(b->addrs_fd);
    }

    free(b);

    errno = saved;
}


/* the program's view of a sender: a v4-mapped IPv6 address is IPv4 */

static int
kraken_bpf_key(const struct sockaddr *sa, kraken_bpf_addr_t *key)
{
    const struct sockaddr_in   *sin;
    const struct sockaddr_in6  *sin6;

    memset(key, 0, sizeof(kraken_bpf_addr_t));

    switch (sa->sa_family) {

    case AF_INET:
        sin = (const struct sockaddr_in *) sa;

        key->family = AF_INET;
        key->port = sin->sin_port;
        memcpy(key->addr, &sin->sin_addr, 4);

        return 0;

    case AF_INET6:
        sin6 = (const struct sockaddr_in6 *) sa;

        key->port = sin6->sin6_port;

        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            key->family = AF_INET;
            memcpy(key->addr, &sin6->sin6_addr.s6_addr[12], 4);

        } else {
            key->family = AF_INET6;
            memcpy(key->addr, &sin6->sin6_addr, 16);
        }

        return 0;

    default:
        errno = EAFNOSUPPORT;
        return -1;
    }
}


/* the map's key and value for sa steered to socket index of slot */

static int
kraken_bpf_entry(kraken_bpf_t *b, const struct sockaddr *sa, unsigned index,
    unsigned slot, kraken_bpf_addr_t *key, kraken_bpf_peer_t *peer)
{
    if (index >= b->max_socks) {
        errno = EINVAL;
        return -1;
    }

    if (kraken_bpf_key(sa, key) != 0) {
        return -1;
    }

    peer->index = index;
    peer->slot = slot;

    return 0;
}
