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
#include <arpa/inet.h>

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


#define KRAKEN_SRTP_KEY_LEN        16
#define KRAKEN_SRTP_CM_SALT_LEN    14
#define KRAKEN_SRTP_GCM_SALT_LEN   12
#define KRAKEN_SRTP_AUTH_KEY_LEN   20
#define KRAKEN_SRTP_CM_TAG_LEN     10    /* HMAC-SHA1-80 */
#define KRAKEN_SRTP_GCM_TAG_LEN    16

/* RFC 3711 4.3.1 key derivation labels */
#define KRAKEN_SRTP_LABEL_KEY      0x00
#define KRAKEN_SRTP_LABEL_AUTH     0x01
#define KRAKEN_SRTP_LABEL_SALT     0x02


/*
 * Forwarded RTP is protected here, not by libsrtp: the engine keeps each
 * forwarded stream's rollover counter, while libsrtp looks every packet's
 * SSRC up in a linked list of the session's streams (a tenth of a
 * worker's CPU in a 64-talker room). Same ciphers, from kraken_srtp_evp.
 */
typedef struct {
    srtp_cipher_t  *cipher;
    srtp_auth_t    *auth;               /* AES-CM only */
    int             gcm;
    uint8_t         salt[KRAKEN_SRTP_CM_SALT_LEN];
} kraken_srtp_tx_t;

struct kraken_srtp_s {
    srtp_t            in;
    srtp_t            out;
    kraken_srtp_tx_t  tx;
};


static int kraken_srtp_tx_init(kraken_srtp_tx_t *tx, int profile,
    const uint8_t *master);
static int kraken_srtp_kdf(srtp_cipher_t *kdf, uint8_t label, uint8_t *out,
    uint32_t len);


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
                               ssrc_any_outbound) != 0
        || kraken_srtp_tx_init(&s->tx, keys->profile, keys->local) != 0)
    {
        kraken_srtp_free(s);
        return NULL;
    }

    return s;
}


int
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


/* The forwarding context: session key, salt and auth key from master. */

static int
kraken_srtp_tx_init(kraken_srtp_tx_t *tx, int profile, const uint8_t *master)
{
    int                        rc, tag_len;
    size_t                     salt_len;
    uint8_t                    key[KRAKEN_SRTP_KEY_LEN
                                   + KRAKEN_SRTP_CM_SALT_LEN];
    uint8_t                    auth[KRAKEN_SRTP_AUTH_KEY_LEN];
    srtp_cipher_t             *kdf;
    const srtp_cipher_type_t  *type;

    tx->gcm = (profile == KRAKEN_SRTP_AEAD_AES_128_GCM);

    if (tx->gcm) {
        salt_len = KRAKEN_SRTP_GCM_SALT_LEN;
        type = &kraken_srtp_evp_aes_gcm_128;
        tag_len = KRAKEN_SRTP_GCM_TAG_LEN;

    } else {
        salt_len = KRAKEN_SRTP_CM_SALT_LEN;
        type = &kraken_srtp_evp_aes_icm_128;
        tag_len = 0;
    }

    /*
     * RFC 3711 4.3.1 with a key derivation rate of 0: AES-CM keyed with
     * the master key and salt; a 12-byte GCM master salt is used padded
     * with two zero octets (RFC 7714 12).
     */
    memset(key, 0, sizeof(key));
    memcpy(key, master, KRAKEN_SRTP_KEY_LEN + salt_len);

    if (srtp_cipher_type_alloc(&kraken_srtp_evp_aes_icm_128, &kdf,
                               (int) sizeof(key), 0)
        != srtp_err_status_ok)
    {
        explicit_bzero(key, sizeof(key));
        return -1;
    }

    rc = -1;

    if (srtp_cipher_init(kdf, key) != srtp_err_status_ok
        || kraken_srtp_kdf(kdf, KRAKEN_SRTP_LABEL_KEY, key,
                           KRAKEN_SRTP_KEY_LEN) != 0
        || kraken_srtp_kdf(kdf, KRAKEN_SRTP_LABEL_SALT, tx->salt,
                           (uint32_t) salt_len) != 0
        || (!tx->gcm
            && kraken_srtp_kdf(kdf, KRAKEN_SRTP_LABEL_AUTH, auth,
                               sizeof(auth)) != 0))
    {
        goto done;
    }

    /* both ciphers take key||salt; GCM's salt goes into our IV instead */
    memcpy(key + KRAKEN_SRTP_KEY_LEN, tx->salt, salt_len);

    if (srtp_cipher_type_alloc(type, &tx->cipher,
                               KRAKEN_SRTP_KEY_LEN + (int) salt_len, tag_len)
        != srtp_err_status_ok)
    {
        tx->cipher = NULL;
        goto done;
    }

    if (srtp_cipher_init(tx->cipher, key) != srtp_err_status_ok) {
        goto done;
    }

    if (!tx->gcm) {
        if (srtp_auth_type_alloc(&kraken_srtp_evp_hmac_sha1, &tx->auth,
                                 KRAKEN_SRTP_AUTH_KEY_LEN,
                                 KRAKEN_SRTP_CM_TAG_LEN)
            != srtp_err_status_ok)
        {
            tx->auth = NULL;
            goto done;
        }

        if (srtp_auth_init(tx->auth, auth) != srtp_err_status_ok) {
            goto done;
        }
    }

    rc = 0;

done:

    (void) srtp_cipher_dealloc(kdf);
    explicit_bzero(key, sizeof(key));
    explicit_bzero(auth, sizeof(auth));

    return rc;
}


/* One session key: the KDF's keystream at IV = label at octet 7. */

static int
kraken_srtp_kdf(srtp_cipher_t *kdf, uint8_t label, uint8_t *out,
    uint32_t len)
{
    uint8_t  iv[16];

    memset(iv, 0, sizeof(iv));
    iv[7] = label;

    if (srtp_cipher_set_iv(kdf, iv, srtp_direction_encrypt)
           != srtp_err_status_ok
        || srtp_cipher_output(kdf, out, &len) != srtp_err_status_ok)
    {
        return -1;
    }

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

    if (s->tx.cipher != NULL) {
        (void) srtp_cipher_dealloc(s->tx.cipher);
    }

    if (s->tx.auth != NULL) {
        (void) srtp_auth_dealloc(s->tx.auth);
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
kraken_srtp_protect_forward(kraken_srtp_t *s, uint8_t *buf, size_t *len,
    size_t cap, size_t hdr, uint32_t roc)
{
    size_t             i;
    uint8_t            iv[16];
    uint8_t            roc_be[4];
    uint32_t           n, tag_len;
    kraken_srtp_tx_t  *tx;

    tx = &s->tx;

    if (*len < KRAKEN_SRTP_MIN_RTP || *len > INT_MAX - KRAKEN_SRTP_MAX_TRAILER
        || cap < *len + KRAKEN_SRTP_MAX_TRAILER
        || hdr < KRAKEN_SRTP_MIN_RTP || hdr > *len)
    {
        return -1;
    }

    n = (uint32_t) (*len - hdr);
    memset(iv, 0, sizeof(iv));

    roc_be[0] = (uint8_t) (roc >> 24);
    roc_be[1] = (uint8_t) (roc >> 16);
    roc_be[2] = (uint8_t) (roc >> 8);
    roc_be[3] = (uint8_t) roc;

    if (tx->gcm) {
        /* RFC 7714 8.1: 00 00 || SSRC || ROC || SEQ, XOR the salt */
        memcpy(iv + 2, buf + 8, 4);
        memcpy(iv + 6, roc_be, 4);
        memcpy(iv + 10, buf + 2, 2);

        for (i = 0; i < KRAKEN_SRTP_GCM_SALT_LEN; i++) {
            iv[i] ^= tx->salt[i];
        }

        tag_len = KRAKEN_SRTP_GCM_TAG_LEN;

        if (srtp_cipher_set_iv(tx->cipher, iv, srtp_direction_encrypt)
               != srtp_err_status_ok
            || srtp_cipher_set_aad(tx->cipher, buf, (uint32_t) hdr)
               != srtp_err_status_ok
            || srtp_cipher_encrypt(tx->cipher, buf + hdr, &n)
               != srtp_err_status_ok
            || srtp_cipher_get_tag(tx->cipher, buf + *len, &tag_len)
               != srtp_err_status_ok)
        {
            return -1;
        }

        *len += tag_len;

        return 0;
    }

    /* RFC 3711 4.1.1: SSRC at octets 4-7, the 48-bit index at 8-13 */
    memcpy(iv + 4, buf + 8, 4);
    memcpy(iv + 8, roc_be, 4);
    memcpy(iv + 12, buf + 2, 2);

    /* the cipher adds its salt to the IV itself */
    if (srtp_cipher_set_iv(tx->cipher, iv, srtp_direction_encrypt)
           != srtp_err_status_ok
        || srtp_cipher_encrypt(tx->cipher, buf + hdr, &n)
           != srtp_err_status_ok
        || srtp_auth_start(tx->auth) != srtp_err_status_ok
        || srtp_auth_update(tx->auth, buf, (int) *len) != srtp_err_status_ok
        || srtp_auth_compute(tx->auth, roc_be, 4, buf + *len)
           != srtp_err_status_ok)
    {
        return -1;
    }

    *len += KRAKEN_SRTP_CM_TAG_LEN;

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


void
kraken_srtp_forget(kraken_srtp_t *s, uint32_t ssrc)
{
    (void) srtp_remove_stream(s->in, htonl(ssrc));
}


void
kraken_srtp_forget_sent(kraken_srtp_t *s, uint32_t ssrc)
{
    (void) srtp_remove_stream(s->out, htonl(ssrc));
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
