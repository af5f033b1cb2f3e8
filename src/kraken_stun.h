/*
 * ICE-lite connectivity checks on libnice's STUN library: validate a
 * Binding request (USERNAME, MESSAGE-INTEGRITY, FINGERPRINT) and build
 * the success response with XOR-MAPPED-ADDRESS. No agent, no main loop.
 * Plain C, no nginx headers.
 */

#ifndef KRAKEN_STUN_H
#define KRAKEN_STUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <stun/stunagent.h>

enum {
    KRAKEN_STUN_REPLY = 0,              /* a response is in out */
    KRAKEN_STUN_IGNORE,                 /* not a request: nothing to do */
    KRAKEN_STUN_UNKNOWN,                /* no peer has that ufrag */
    KRAKEN_STUN_UNAUTHORIZED,           /* wrong MESSAGE-INTEGRITY */
    KRAKEN_STUN_BAD                     /* malformed */
};

/*
 * Finds the local ice-pwd for "<local>:<remote>"; returns the peer
 * (opaque) or NULL.
 */
typedef void *(*kraken_stun_lookup_pt)(void *data, const char *local,
    size_t local_len, const char *remote, size_t remote_len,
    const char **pwd);

typedef struct {
    StunAgent              agent;
    kraken_stun_lookup_pt  lookup;
    void                  *data;
} kraken_stun_t;

void kraken_stun_init(kraken_stun_t *st, kraken_stun_lookup_pt lookup,
    void *data);

/* RFC 7983: a first byte of 0-3 and a plausible STUN header. */
int kraken_stun_is(const uint8_t *buf, size_t len);

/*
 * Handles one datagram. On KRAKEN_STUN_REPLY, *outlen bytes of out are
 * the response, *peer the looked up peer and *use_candidate the flag.
 */
int kraken_stun_process(kraken_stun_t *st, const uint8_t *buf, size_t len,
    const struct sockaddr *from, socklen_t fromlen, uint8_t *out,
    size_t *outlen, void **peer, int *use_candidate);

#endif /* KRAKEN_STUN_H */
