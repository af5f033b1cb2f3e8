/*
 * SRTP/SRTCP sessions on libsrtp2, keyed from DTLS. One inbound and one
 * outbound libsrtp session per peer; inbound has libsrtp's replay check.
 * libsrtp's AES-CM, AES-GCM and HMAC-SHA1 are replaced by OpenSSL ones
 * (kraken_srtp_evp.h): Debian builds libsrtp2 on NSS, too slow per packet.
 * Plain C, no nginx headers.
 */

#ifndef KRAKEN_SRTP_H
#define KRAKEN_SRTP_H

#include <stddef.h>

#include <srtp2/srtp.h>

#include "kraken_dtls.h"

/* room left after a packet for the auth tag / GCM tag and SRTCP index */
#define KRAKEN_SRTP_MAX_TRAILER   32

typedef struct kraken_srtp_s  kraken_srtp_t;

/*
 * Once per process: srtp_init() and the OpenSSL crypto types, for every
 * session created after it. Returns 0 or -1.
 */
int kraken_srtp_init(void);

kraken_srtp_t *kraken_srtp_create(const kraken_srtp_keys_t *keys);
void kraken_srtp_free(kraken_srtp_t *s);

/*
 * One libsrtp session with this module's policy, key||salt as in
 * kraken_srtp_keys_t; needs only srtp_init(), so that tests and the bench
 * can build the same session on stock libsrtp. Returns 0 or -1.
 */
int kraken_srtp_session(srtp_t *session, int profile, const uint8_t *key,
    srtp_ssrc_type_t type);

/*
 * In place. *len is updated. protect needs cap >= *len +
 * KRAKEN_SRTP_MAX_TRAILER. Return 0 or -1 (auth failure, replay, bad
 * length): the packet must then be dropped.
 */
int kraken_srtp_protect(kraken_srtp_t *s, uint8_t *buf, size_t *len,
    size_t cap);
int kraken_srtp_unprotect(kraken_srtp_t *s, uint8_t *buf, size_t *len);

/* Drops the state libsrtp keeps for an inbound or an outbound ssrc. */
void kraken_srtp_forget(kraken_srtp_t *s, uint32_t ssrc);
void kraken_srtp_forget_sent(kraken_srtp_t *s, uint32_t ssrc);

/*
 * Forwarded RTP: as kraken_srtp_protect(), but the caller gives the header
 * length it parsed (kraken_rtp_parse()) and keeps the stream's rollover
 * counter (the packet index is roc << 16 | seq); the session keeps no
 * per-SSRC state, and the stream must not also be sent with
 * kraken_srtp_protect().
 */
int kraken_srtp_protect_forward(kraken_srtp_t *s, uint8_t *buf, size_t *len,
    size_t cap, size_t hdr, uint32_t roc);
int kraken_srtp_protect_rtcp(kraken_srtp_t *s, uint8_t *buf, size_t *len,
    size_t cap);
int kraken_srtp_unprotect_rtcp(kraken_srtp_t *s, uint8_t *buf, size_t *len);

#endif /* KRAKEN_SRTP_H */
