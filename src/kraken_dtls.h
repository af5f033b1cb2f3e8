/*
 * DTLS-SRTP over OpenSSL memory BIOs: the handshake is driven by the
 * caller feeding datagrams in and pulling datagrams out, so the same code
 * runs in an nginx worker, a unit test and the bench load generator.
 * Plain C, no nginx headers.
 */

#ifndef KRAKEN_DTLS_H
#define KRAKEN_DTLS_H

#include <stddef.h>
#include <stdint.h>

#define KRAKEN_DTLS_MTU           1200
#define KRAKEN_DTLS_FROM_MAX      32     /* a transport address, as bytes */

enum {
    KRAKEN_DTLS_HANDSHAKING = 0,
    KRAKEN_DTLS_CONNECTED,
    KRAKEN_DTLS_FAILED                  /* alert, bad cert, wrong digest */
};

enum {
    KRAKEN_SRTP_AES128_CM_SHA1_80 = 1,
    KRAKEN_SRTP_AEAD_AES_128_GCM
};

typedef struct kraken_dtls_ctx_s  kraken_dtls_ctx_t;
typedef struct kraken_dtls_s      kraken_dtls_t;

typedef struct {
    int       profile;                  /* KRAKEN_SRTP_... */
    size_t    len;                      /* key + salt: 30 (CM) or 28 (GCM) */
    uint8_t   local[32];                /* key||salt we protect with */
    uint8_t   remote[32];               /* key||salt we unprotect with */
} kraken_srtp_keys_t;


/*
 * One per process: a fresh ECDSA P-256 certificate, and SSL_CTXs for both
 * roles, offering AEAD_AES_128_GCM then AES128_CM_SHA1_80.
 * Returns NULL with a reason in err.
 */
kraken_dtls_ctx_t *kraken_dtls_ctx_create(char *err, size_t errlen);
void kraken_dtls_ctx_free(kraken_dtls_ctx_t *ctx);

/* "sha-256 AB:CD:..." of our certificate, for a=fingerprint */
const char *kraken_dtls_ctx_fingerprint(kraken_dtls_ctx_t *ctx);

/*
 * Replaces the offered SRTP profiles (OpenSSL names, colon separated, the
 * preferred first) for associations created afterwards; e.g. tests force
 * "SRTP_AES128_CM_SHA1_80". Returns 0 or -1.
 */
int kraken_dtls_ctx_set_srtp_profiles(kraken_dtls_ctx_t *ctx,
    const char *profiles);


/*
 * A DTLS association. server != 0: we wait for the ClientHello (the SFU);
 * server == 0: we send it (unit tests, bench). The peer's certificate must
 * match the given digest (algorithm "sha-256", "sha-1", "sha-384" or
 * "sha-512", as in SDP), otherwise the state becomes KRAKEN_DTLS_FAILED.
 */
kraken_dtls_t *kraken_dtls_create(kraken_dtls_ctx_t *ctx, int server,
    const char *fp_alg, const uint8_t *fp, size_t fp_len);
void kraken_dtls_free(kraken_dtls_t *d);

/* Feeds one received datagram; returns the state after it. */
int kraken_dtls_input(kraken_dtls_t *d, const uint8_t *buf, size_t len);

/*
 * A server's datagram with the transport address it came from: from is
 * any canonical spelling of it (at most KRAKEN_DTLS_FROM_MAX bytes, the
 * same bytes every time), NULL for "no address" as kraken_dtls_input().
 *
 * A server proves the address first (RFC 6347 4.2.1): a ClientHello
 * without a cookie gets only a HelloVerifyRequest, smaller than it and
 * never retransmitted, whose cookie is an HMAC of from under a secret
 * of the process; the handshake goes on only with a ClientHello that
 * echoes the cookie made for its own address. A ClientHello with a
 * cookie made for another address, or for none, is dropped, and the
 * association lives on: a spoofed datagram cannot end it.
 */
int kraken_dtls_input_from(kraken_dtls_t *d, const uint8_t *buf, size_t len,
    const void *from, size_t fromlen);

/*
 * 1 when from has echoed our cookie, that is it receives what is sent to
 * it; always 1 for a client. Until then, what goes to an address may not
 * outweigh what came from it: the caller holds the rest back.
 */
int kraken_dtls_proven(kraken_dtls_t *d, const void *from, size_t fromlen);

/*
 * Pulls the next datagram to send (whole DTLS records, at most
 * KRAKEN_DTLS_MTU bytes unless one record is larger). Returns its length,
 * 0 when nothing is pending.
 */
size_t kraken_dtls_output(kraken_dtls_t *d, uint8_t *buf, size_t cap);

/* 1 when a fingerprint of this algorithm and length can be verified. */
int kraken_dtls_fingerprint_usable(const char *fp_alg, size_t fp_len);

/* Starts the handshake of a client; no-op for a server. */
int kraken_dtls_start(kraken_dtls_t *d);

/*
 * Retransmission: call when now_ms >= the deadline last reported.
 * Returns the state; *next_ms is the next deadline (0: none).
 */
int kraken_dtls_timer(kraken_dtls_t *d, uint64_t now_ms, uint64_t *next_ms);

int kraken_dtls_state(kraken_dtls_t *d);

/*
 * Ends a connected association: queues our close_notify alert (RFC 5246
 * 7.2.1), to be taken with kraken_dtls_output(). Returns 0, or -1 when
 * the association is not connected or was ended already.
 */
int kraken_dtls_shutdown(kraken_dtls_t *d);

/* 1 when the peer's close_notify arrived (the state is then FAILED). */
int kraken_dtls_closed_by_peer(kraken_dtls_t *d);

/* After KRAKEN_DTLS_CONNECTED: the negotiated profile and keys. */
int kraken_dtls_srtp_keys(kraken_dtls_t *d, kraken_srtp_keys_t *keys);

#endif /* KRAKEN_DTLS_H */
