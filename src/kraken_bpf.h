/*
 * Steering the datagrams of one SO_REUSEPORT UDP group (one socket per
 * nginx worker) to the right worker's socket with the BPF program of
 * src/bpf/kraken_steer.bpf.c. Plain C, no nginx headers, libbpf.
 *
 * The object holds file descriptors only (the program and its three maps)
 * and plain memory: the nginx master creates it once, keeps it across
 * reloads, and forked workers use the inherited descriptors. Map updates
 * are system calls on those descriptors, so they work in any process that
 * holds them and are seen at once by every process.
 *
 * One object steers one reuseport group (one address and port): the
 * kernel refuses to select a socket of another group, and the datagram
 * then goes by hash.
 *
 * All functions that return int return 0, or -1 with errno set.
 */

#ifndef KRAKEN_BPF_H
#define KRAKEN_BPF_H

#include <stddef.h>
#include <sys/socket.h>

/* worker tags: two characters 'a'..'p' at the start of a local ufrag */
#define KRAKEN_BPF_TAGS  256

typedef struct kraken_bpf_s  kraken_bpf_t;

/*
 * Creates the maps (socks max_socks entries, tags KRAKEN_BPF_TAGS, addrs
 * max_addrs) and loads the program. NULL, with a message in err, when BPF
 * is not available (no privilege, an old kernel) or on a bad argument.
 */
kraken_bpf_t *kraken_bpf_create(unsigned max_socks, unsigned max_addrs,
    char *err, size_t errlen);

/* SO_ATTACH_REUSEPORT_EBPF on fd, a bound socket of the group */
int kraken_bpf_attach(kraken_bpf_t *b, int fd);

/*
 * socks[index] = fd, a bound SO_REUSEPORT UDP socket. A socket leaves the
 * map by itself when it is closed in the last process that holds it.
 */
int kraken_bpf_set_socket(kraken_bpf_t *b, unsigned index, int fd);

/* STUN with a ufrag of this tag go to socks[index] */
int kraken_bpf_set_tag(kraken_bpf_t *b, unsigned tag, unsigned index);
int kraken_bpf_del_tag(kraken_bpf_t *b, unsigned tag);

/*
 * Datagrams from sa (AF_INET, or AF_INET6; a v4-mapped IPv6 address is
 * stored as the IPv4 address the program sees) go to socks[index]; slot
 * names the owner. The map is shared by every worker, and never last
 * writer wins:
 *
 * kraken_bpf_add_addr() adds sa, or changes it when slot already owns
 * it; an address of another slot is left as it is (EEXIST).
 * kraken_bpf_take_addr() sets it whoever had it: for a caller that knows
 * the other owner is gone or yields (the registry decides, under its
 * lock). kraken_bpf_del_addr() deletes sa only when slot owns it (EPERM
 * otherwise, ENOENT when absent).
 *
 * A full map fails with E2BIG and changes nothing.
 */
int kraken_bpf_add_addr(kraken_bpf_t *b, const struct sockaddr *sa,
    unsigned index, unsigned slot);
int kraken_bpf_take_addr(kraken_bpf_t *b, const struct sockaddr *sa,
    unsigned index, unsigned slot);
int kraken_bpf_del_addr(kraken_bpf_t *b, const struct sockaddr *sa,
    unsigned slot);

/* deletes every address whose slot is slot (a dead worker's) */
void kraken_bpf_purge_slot(kraken_bpf_t *b, unsigned slot);

/* closes the descriptors of this process; NULL is allowed */
void kraken_bpf_free(kraken_bpf_t *b);

/* the compiled program, an ELF object (src/kraken_bpf_code.c) */
extern const unsigned char  kraken_bpf_code[];
extern const size_t         kraken_bpf_code_len;

#endif /* KRAKEN_BPF_H */
