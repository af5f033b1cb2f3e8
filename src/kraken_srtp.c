/*
 * SRTP/SRTCP on libsrtp2: an outbound session keyed with our DTLS key and
 * an inbound one keyed with the peer's, each for any SSRC.
 *
 * Debian's libsrtp2 does its AES and HMAC through NSS/PKCS#11, a context
 * and locks per packet (a third of the SFU's CPU), so kraken_srtp_init()
 * swaps in the OpenSSL types of kraken_srtp_evp.c; libsrtp keeps key
 * derivation, replay, ROC and SRTCP.
 */

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>

#include "kraken_srtp.h"
#include "kraken_srtp_evp.h"


/*
 * Replay history: 1024 packets inbound; outbound only needs the minimum
 * (it bounds how late a reordered packet may still be forwarded), and
 * every forwarded stream has its own copy.
 */
#define KRAKEN_SRTP_REPLAY_WINDOW      1024
#define KRAKEN_SRTP_OUT_REPLAY_WINDOW  64

/* shortest packets libsrtp can take: an RTP header, an RTCP header + SSRC */
#define KRAKEN_SRTP_MIN_RTP        12
#define KRAKEN_SRTP_MIN_RTCP       8


struct kraken_srtp_s {
    srtp_t  in;
    srtp_t  out;
};


static int kraken_srtp_session(srtp_t *session, int profile,
    const uint8_t *key, srtp_ssrc_type_t type);


static int  kraken_srtp_initialized;


int
kraken_srtp_init(void)
{
    if (kraken_srtp_initialized) {
        return 0;
    }

    if (srtp_init() != srtp_err_status_ok) {
        return -1;
    }

    /* fails if our types do not pass libsrtp's self tests */
    if (kraken_srtp_evp_install() != 0) {
        return -1;
    }

    kraken_srtp_initialized = 1;

    return 0;
}


kraken_srtp_t *
kraken_srtp_create(const kraken_srtp_keys_t *keys)
{
    kraken_srtp_t  *s;

    if (kraken_srtp_init() != 0) {
        return NULL;
    }

    s = calloc(1, sizeof(kraken_srtp_t));
    if (s == NULL) {
        return NULL;
    }

    if (kraken_srtp_session(&s->in, keys->profile, keys->remote,
                            ssrc_any_inbound) != 0
        || kraken_srtp_session(&s->out, keys->profile, keys->local,
                               ssrc_any_outbound) != 0)
    {
        kraken_srtp_free(s);
        return NULL;
    }

    return s;
}


static int
kraken_srtp_session(srtp_t *session, int profile, const uint8_t *key,
    srtp_ssrc_type_t type)
{
    uint8_t        k[32];
    srtp_policy_t  policy;

    memset(&policy, 0, sizeof(srtp_policy_t));

    switch (profile) {

    case KRAKEN_SRTP_AEAD_AES_128_GCM:
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
        break;

    case KRAKEN_SRTP_AES128_CM_SHA1_80:
        srtp_crypto_policy_set_rtp_default(&policy.rtp);
        srtp_crypto_policy_set_rtcp_default(&policy.rtcp);
        break;

    default:
        return -1;
    }

    /* srtp_create() copies the key; policy.key is not const */
    memcpy(k, key, sizeof(k));

    policy.ssrc.type = type;
    policy.key = k;
    policy.window_size = (type == ssrc_any_outbound)
                         ? KRAKEN_SRTP_OUT_REPLAY_WINDOW
                         : KRAKEN_SRTP_REPLAY_WINDOW;

    /* a NACKed packet may be sent again with the same sequence number */
    policy.allow_repeat_tx = 1;
    policy.next = NULL;

    if (srtp_create(session, &policy) != srtp_err_status_ok) {
        *session = NULL;
        memset(k, 0, sizeof(k));
        return -1;
    }

    memset(k, 0, sizeof(k));

    return 0;
}


void
kraken_srtp_free(kraken_srtp_t *s)
{
    if (s == NULL) {
        return;
    }

    if (s->in != NULL) {
        srtp_dealloc(s->in);
    }

    if (s->out != NULL) {
        srtp_dealloc(s->out);
    }

    free(s);
}


int
kraken_srtp_protect(kraken_srtp_t *s, uint8_t *buf, size_t *len, size_t cap)
{
    int  n;

    if (*len < KRAKEN_SRTP_MIN_RTP || *len > INT_MAX - KRAKEN_SRTP_MAX_TRAILER
        || cap < *len + KRAKEN_SRTP_MAX_TRAILER)
    {
        return -1;
    }

    n = (int) *len;

    if (srtp_protect(s->out, buf, &n) != srtp_err_status_ok) {
        return -1;
    }

    *len = (size_t) n;

    return 0;
}


int
kraken_srtp_unprotect(kraken_srtp_t *s, uint8_t *buf, size_t *len)
{
    int  n;

    if (*len < KRAKEN_SRTP_MIN_RTP || *len > INT_MAX) {
        return -1;
    }

    n = (int) *len;

    if (srtp_unprotect(s->in, buf, &n) != srtp_err_status_ok) {
        return -1;
    }

    *len = (size_t) n;

    return 0;
}


int
kraken_srtp_protect_rtcp(kraken_srtp_t *s, uint8_t *buf, size_t *len,
    size_t cap)
{
    int  n;

    if (*len < KRAKEN_SRTP_MIN_RTCP
        || *len > INT_MAX - KRAKEN_SRTP_MAX_TRAILER
        || cap < *len + KRAKEN_SRTP_MAX_TRAILER)
    {
        return -1;
    }

    n = (int) *len;

    if (srtp_protect_rtcp(s->out, buf, &n) != srtp_err_status_ok) {
        return -1;
    }

    *len = (size_t) n;

    return 0;
}


int
kraken_srtp_unprotect_rtcp(kraken_srtp_t *s, uint8_t *buf, size_t *len)
{
    int  n;

    if (*len < KRAKEN_SRTP_MIN_RTCP || *len > INT_MAX) {
        return -1;
    }

    n = (int) *len;

    if (srtp_unprotect_rtcp(s->in, buf, &n) != srtp_err_status_ok) {
        return -1;
    }

    *len = (size_t) n;

    return 0;
}
