/*
 * libsrtp2 cipher and auth types on OpenSSL 3, replacing Debian's NSS ones.
 *
 * The contract is libsrtp 2.5's srtp.c and cipher.c: alloc fills in the
 * srtp_cipher_t (type, state, key_len, algorithm; srtp.c takes the AEAD
 * path by algorithm), set_iv is called for every packet with the packet's
 * nonce, GCM's encrypt leaves *len alone and get_tag appends the tag,
 * GCM's decrypt is given the tag at the end and takes it off *len.
 */

/* SHA1_* is deprecated in OpenSSL 3.0 but is the only way to copy state */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "kraken_srtp_evp.h"


#define KRAKEN_SRTP_EVP_AES_KEY       16
#define KRAKEN_SRTP_EVP_ICM_SALT      14
#define KRAKEN_SRTP_EVP_ICM_KEY       30    /* key + salt, as libsrtp gives */
#define KRAKEN_SRTP_EVP_GCM_KEY       28
#define KRAKEN_SRTP_EVP_GCM_IV        12
#define KRAKEN_SRTP_EVP_GCM_TAG       16
#define KRAKEN_SRTP_EVP_GCM_TAG_8     8
#define KRAKEN_SRTP_EVP_SHA1_BLOCK    64
#define KRAKEN_SRTP_EVP_SHA1_LEN      20


typedef struct {
    EVP_CIPHER_CTX  *ctx;
    uint8_t          offset[16];        /* the salt, last two octets 0 */
} kraken_srtp_evp_icm_t;

typedef struct {
    EVP_CIPHER_CTX  *ctx;
    int              tag_len;
    int              dir;               /* srtp_direction_* of the IV */
    uint8_t          tag[KRAKEN_SRTP_EVP_GCM_TAG];
} kraken_srtp_evp_gcm_t;

typedef struct {
    SHA_CTX          inner;             /* after the key ^ ipad block */
    SHA_CTX          outer;             /* after the key ^ opad block */
    SHA_CTX          work;
} kraken_srtp_evp_hmac_t;

/* one allocation per cipher or auth object: libsrtp's struct, then ours */
typedef struct {
    srtp_cipher_t           cipher;
    kraken_srtp_evp_icm_t   icm;
} kraken_srtp_evp_icm_cipher_t;

typedef struct {
    srtp_cipher_t           cipher;
    kraken_srtp_evp_gcm_t   gcm;
} kraken_srtp_evp_gcm_cipher_t;

typedef struct {
    srtp_auth_t             auth;
    kraken_srtp_evp_hmac_t  hmac;
} kraken_srtp_evp_hmac_auth_t;


static srtp_err_status_t kraken_srtp_evp_icm_alloc(srtp_cipher_t **cp,
    int key_len, int tag_len);
static srtp_err_status_t kraken_srtp_evp_icm_dealloc(srtp_cipher_t *c);
static srtp_err_status_t kraken_srtp_evp_icm_init(void *state,
    const uint8_t *key);
static srtp_err_status_t kraken_srtp_evp_icm_set_iv(void *state,
    uint8_t *iv, srtp_cipher_direction_t dir);
static srtp_err_status_t kraken_srtp_evp_icm_encrypt(void *state,
    uint8_t *buf, unsigned int *len);

static srtp_err_status_t kraken_srtp_evp_gcm_alloc(srtp_cipher_t **cp,
    int key_len, int tag_len);
static srtp_err_status_t kraken_srtp_evp_gcm_dealloc(srtp_cipher_t *c);
static srtp_err_status_t kraken_srtp_evp_gcm_init(void *state,
    const uint8_t *key);
static srtp_err_status_t kraken_srtp_evp_gcm_set_iv(void *state,
    uint8_t *iv, srtp_cipher_direction_t dir);
static srtp_err_status_t kraken_srtp_evp_gcm_set_aad(void *state,
    const uint8_t *aad, uint32_t aad_len);
static srtp_err_status_t kraken_srtp_evp_gcm_encrypt(void *state,
    uint8_t *buf, unsigned int *len);
static srtp_err_status_t kraken_srtp_evp_gcm_get_tag(void *state,
    uint8_t *tag, uint32_t *len);
static srtp_err_status_t kraken_srtp_evp_gcm_decrypt(void *state,
    uint8_t *buf, unsigned int *len);

static srtp_err_status_t kraken_srtp_evp_hmac_alloc(srtp_auth_t **ap,
    int key_len, int out_len);
static srtp_err_status_t kraken_srtp_evp_hmac_dealloc(srtp_auth_t *a);
static srtp_err_status_t kraken_srtp_evp_hmac_init(void *state,
    const uint8_t *key, int key_len);
static srtp_err_status_t kraken_srtp_evp_hmac_start(void *state);
static srtp_err_status_t kraken_srtp_evp_hmac_update(void *state,
    const uint8_t *buf, int len);
static srtp_err_status_t kraken_srtp_evp_hmac_compute(void *state,
    const uint8_t *buf, int len, int tag_len, uint8_t *tag);


/*
 * Known answers for libsrtp's self test, all from RFCs: RFC 3711 B.2 (the
 * AES-CM keystream at counters 0000.. and FEFF.., a zero plaintext
 * encrypts to it), RFC 7714 section 16.1.1 (AEAD_AES_128_GCM, with the
 * full and the 8-octet tag) and RFC 2202 section 3 (HMAC-SHA1 cases 1, 2,
 * 5 with its 96-bit truncation, and 6 with a key longer than a block).
 */

static const uint8_t  kraken_srtp_evp_icm_key[KRAKEN_SRTP_EVP_ICM_KEY] = {
    0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
    0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c,
    0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7,
    0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd
};

/* libsrtp's test case wants a mutable nonce */
static uint8_t  kraken_srtp_evp_icm_nonce_0[16];

static uint8_t  kraken_srtp_evp_icm_nonce_feff[16] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0xff
};

static const uint8_t  kraken_srtp_evp_icm_zeros[48];

static const uint8_t  kraken_srtp_evp_icm_stream_0[48] = {
    0xe0, 0x3e, 0xad, 0x09, 0x35, 0xc9, 0x5e, 0x80,
    0xe1, 0x66, 0xb1, 0x6d, 0xd9, 0x2b, 0x4e, 0xb4,
    0xd2, 0x35, 0x13, 0x16, 0x2b, 0x02, 0xd0, 0xf7,
    0x2a, 0x43, 0xa2, 0xfe, 0x4a, 0x5f, 0x97, 0xab,
    0x41, 0xe9, 0x5b, 0x3b, 0xb0, 0xa2, 0xe8, 0xdd,
    0x47, 0x79, 0x01, 0xe4, 0xfc, 0xa8, 0x94, 0xc0
};

static const uint8_t  kraken_srtp_evp_icm_stream_feff[48] = {
    0xec, 0x8c, 0xdf, 0x73, 0x98, 0x60, 0x7c, 0xb0,
    0xf2, 0xd2, 0x16, 0x75, 0xea, 0x9e, 0xa1, 0xe4,
    0x36, 0x2b, 0x7c, 0x3c, 0x67, 0x73, 0x51, 0x63,
    0x18, 0xa0, 0x77, 0xd7, 0xfc, 0x50, 0x73, 0xae,
    0x6a, 0x2c, 0xc3, 0x78, 0x78, 0x89, 0x37, 0x4f,
    0xbe, 0xb4, 0xc8, 0x1b, 0x17, 0xba, 0x6c, 0x44
};

static const srtp_cipher_test_case_t  kraken_srtp_evp_icm_test_1 = {
    KRAKEN_SRTP_EVP_ICM_KEY, kraken_srtp_evp_icm_key,
    kraken_srtp_evp_icm_nonce_feff,
    48, kraken_srtp_evp_icm_zeros,
    48, kraken_srtp_evp_icm_stream_feff,
    0, NULL, 0,
    NULL
};

static const srtp_cipher_test_case_t  kraken_srtp_evp_icm_test_0 = {
    KRAKEN_SRTP_EVP_ICM_KEY, kraken_srtp_evp_icm_key,
    kraken_srtp_evp_icm_nonce_0,
    48, kraken_srtp_evp_icm_zeros,
    48, kraken_srtp_evp_icm_stream_0,
    0, NULL, 0,
    &kraken_srtp_evp_icm_test_1
};


/* RFC 7714 16.1.1: the session key and salt, SSRC 5501a0b2, seq f17b */
static const uint8_t  kraken_srtp_evp_gcm_key[KRAKEN_SRTP_EVP_GCM_KEY] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x51, 0x75, 0x69, 0x64, 0x20, 0x70, 0x72, 0x6f,
    0x20, 0x71, 0x75, 0x6f
};

static uint8_t  kraken_srtp_evp_gcm_iv[KRAKEN_SRTP_EVP_GCM_IV] = {
    0x51, 0x75, 0x3c, 0x65, 0x80, 0xc2, 0x72, 0x6f,
    0x20, 0x71, 0x84, 0x14
};

static const uint8_t  kraken_srtp_evp_gcm_aad[12] = {
    0x80, 0x40, 0xf1, 0x7b, 0x80, 0x41, 0xf8, 0xd3,
    0x55, 0x01, 0xa0, 0xb2
};

static const uint8_t  kraken_srtp_evp_gcm_plain[38] = {
    'G', 'a', 'l', 'l', 'i', 'a', ' ', 'e', 's', 't', ' ', 'o', 'm',
    'n', 'i', 's', ' ', 'd', 'i', 'v', 'i', 's', 'a', ' ', 'i', 'n',
    ' ', 'p', 'a', 'r', 't', 'e', 's', ' ', 't', 'r', 'e', 's'
};

static const uint8_t  kraken_srtp_evp_gcm_cipher[38 + 16] = {
    0xf2, 0x4d, 0xe3, 0xa3, 0xfb, 0x34, 0xde, 0x6c,
    0xac, 0xba, 0x86, 0x1c, 0x9d, 0x7e, 0x4b, 0xca,
    0xbe, 0x63, 0x3b, 0xd5, 0x0d, 0x29, 0x4e, 0x6f,
    0x42, 0xa5, 0xf4, 0x7a, 0x51, 0xc7, 0xd1, 0x9b,
    0x36, 0xde, 0x3a, 0xdf, 0x88, 0x33,
    /* the tag */
    0x89, 0x9d, 0x7f, 0x27, 0xbe, 0xb1, 0x6a, 0x91,
    0x52, 0xcf, 0x76, 0x5e, 0xe4, 0x39, 0x0c, 0xce
};

static const srtp_cipher_test_case_t  kraken_srtp_evp_gcm_test_8 = {
    KRAKEN_SRTP_EVP_GCM_KEY, kraken_srtp_evp_gcm_key,
    kraken_srtp_evp_gcm_iv,
    38, kraken_srtp_evp_gcm_plain,
    38 + KRAKEN_SRTP_EVP_GCM_TAG_8, kraken_srtp_evp_gcm_cipher,
    12, kraken_srtp_evp_gcm_aad, KRAKEN_SRTP_EVP_GCM_TAG_8,
    NULL
};

static const srtp_cipher_test_case_t  kraken_srtp_evp_gcm_test_16 = {
    KRAKEN_SRTP_EVP_GCM_KEY, kraken_srtp_evp_gcm_key,
    kraken_srtp_evp_gcm_iv,
    38, kraken_srtp_evp_gcm_plain,
    38 + KRAKEN_SRTP_EVP_GCM_TAG, kraken_srtp_evp_gcm_cipher,
    12, kraken_srtp_evp_gcm_aad, KRAKEN_SRTP_EVP_GCM_TAG,
    &kraken_srtp_evp_gcm_test_8
};


static const uint8_t  kraken_srtp_evp_hmac_key_1[20] = {
    0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
    0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b
};

static const uint8_t  kraken_srtp_evp_hmac_tag_1[20] = {
    0xb6, 0x17, 0x31, 0x86, 0x55, 0x05, 0x72, 0x64, 0xe2, 0x8b,
    0xc0, 0xb6, 0xfb, 0x37, 0x8c, 0x8e, 0xf1, 0x46, 0xbe, 0x00
};

static const uint8_t  kraken_srtp_evp_hmac_tag_2[20] = {
    0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74,
    0x16, 0xd5, 0xf1, 0x84, 0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79
};

static const uint8_t  kraken_srtp_evp_hmac_key_5[20] = {
    0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
    0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c
};

static const uint8_t  kraken_srtp_evp_hmac_tag_5[12] = {
    0x4c, 0x1a, 0x03, 0x42, 0x4b, 0x55, 0xe0, 0x7f, 0xe7, 0xf2,
    0x7b, 0xe1
};

static const uint8_t  kraken_srtp_evp_hmac_key_6[80] = {
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa
};

static const uint8_t  kraken_srtp_evp_hmac_tag_6[20] = {
    0xaa, 0x4a, 0xe5, 0xe1, 0x52, 0x72, 0xd0, 0x0e, 0x95, 0x70,
    0x56, 0x37, 0xce, 0x8a, 0x3b, 0x55, 0xed, 0x40, 0x21, 0x12
};

static const srtp_auth_test_case_t  kraken_srtp_evp_hmac_test_6 = {
    80, kraken_srtp_evp_hmac_key_6,
    54, (const uint8_t *)
        "Test Using Larger Than Block-Size Key - Hash Key First",
    20, kraken_srtp_evp_hmac_tag_6,
    NULL
};

static const srtp_auth_test_case_t  kraken_srtp_evp_hmac_test_5 = {
    20, kraken_srtp_evp_hmac_key_5,
    20, (const uint8_t *) "Test With Truncation",
    12, kraken_srtp_evp_hmac_tag_5,
    &kraken_srtp_evp_hmac_test_6
};

static const srtp_auth_test_case_t  kraken_srtp_evp_hmac_test_2 = {
    4, (const uint8_t *) "Jefe",
    28, (const uint8_t *) "what do ya want for nothing?",
    20, kraken_srtp_evp_hmac_tag_2,
    &kraken_srtp_evp_hmac_test_5
};

static const srtp_auth_test_case_t  kraken_srtp_evp_hmac_test_1 = {
    20, kraken_srtp_evp_hmac_key_1,
    8, (const uint8_t *) "Hi There",
    20, kraken_srtp_evp_hmac_tag_1,
    &kraken_srtp_evp_hmac_test_2
};


const srtp_cipher_type_t  kraken_srtp_evp_aes_icm_128 = {
    kraken_srtp_evp_icm_alloc,
    kraken_srtp_evp_icm_dealloc,
    kraken_srtp_evp_icm_init,
    NULL,                               /* set_aad: not an AEAD */
    kraken_srtp_evp_icm_encrypt,
    kraken_srtp_evp_icm_encrypt,        /* CTR decrypts by encrypting */
    kraken_srtp_evp_icm_set_iv,
    NULL,                               /* get_tag */
    "AES-128 ICM using OpenSSL EVP (kraken)",
    &kraken_srtp_evp_icm_test_0,
    SRTP_AES_ICM_128
};

const srtp_cipher_type_t  kraken_srtp_evp_aes_gcm_128 = {
    kraken_srtp_evp_gcm_alloc,
    kraken_srtp_evp_gcm_dealloc,
    kraken_srtp_evp_gcm_init,
    kraken_srtp_evp_gcm_set_aad,
    kraken_srtp_evp_gcm_encrypt,
    kraken_srtp_evp_gcm_decrypt,
    kraken_srtp_evp_gcm_set_iv,
    kraken_srtp_evp_gcm_get_tag,
    "AES-128 GCM using OpenSSL EVP (kraken)",
    &kraken_srtp_evp_gcm_test_16,
    SRTP_AES_GCM_128
};

const srtp_auth_type_t  kraken_srtp_evp_hmac_sha1 = {
    kraken_srtp_evp_hmac_alloc,
    kraken_srtp_evp_hmac_dealloc,
    kraken_srtp_evp_hmac_init,
    kraken_srtp_evp_hmac_compute,
    kraken_srtp_evp_hmac_update,
    kraken_srtp_evp_hmac_start,
    "HMAC-SHA1 using OpenSSL (kraken)",
    &kraken_srtp_evp_hmac_test_1,
    SRTP_HMAC_SHA1
};


int
kraken_srtp_evp_install(void)
{
    if (srtp_replace_cipher_type(&kraken_srtp_evp_aes_icm_128,
                                 SRTP_AES_ICM_128)
        != srtp_err_status_ok
        || srtp_replace_cipher_type(&kraken_srtp_evp_aes_gcm_128,
                                    SRTP_AES_GCM_128)
           != srtp_err_status_ok
        || srtp_replace_auth_type(&kraken_srtp_evp_hmac_sha1, SRTP_HMAC_SHA1)
           != srtp_err_status_ok)
    {
        return -1;
    }

    return 0;
}


static srtp_err_status_t
kraken_srtp_evp_icm_alloc(srtp_cipher_t **cp, int key_len, int tag_len)
{
    kraken_srtp_evp_icm_cipher_t  *ic;

    /* libsrtp asks for AES-192/256 ICM by their own type ids */
    if (key_len != KRAKEN_SRTP_EVP_ICM_KEY) {
        return srtp_err_status_bad_param;
    }

    ic = calloc(1, sizeof(kraken_srtp_evp_icm_cipher_t));
    if (ic == NULL) {
        return srtp_err_status_alloc_fail;
    }

    ic->icm.ctx = EVP_CIPHER_CTX_new();
    if (ic->icm.ctx == NULL) {
        free(ic);
        return srtp_err_status_alloc_fail;
    }

    ic->cipher.type = &kraken_srtp_evp_aes_icm_128;
    ic->cipher.state = &ic->icm;
    ic->cipher.key_len = key_len;
    ic->cipher.algorithm = SRTP_AES_ICM_128;

    *cp = &ic->cipher;

    return srtp_err_status_ok;
}


static srtp_err_status_t
kraken_srtp_evp_icm_dealloc(srtp_cipher_t *c)
{
    kraken_srtp_evp_icm_cipher_t  *ic;

    if (c == NULL) {
        return srtp_err_status_bad_param;
    }

    ic = (kraken_srtp_evp_icm_cipher_t *) c;

    EVP_CIPHER_CTX_free(ic->icm.ctx);
    OPENSSL_cleanse(ic, sizeof(kraken_srtp_evp_icm_cipher_t));
    free(ic);

    return srtp_err_status_ok;
}


static srtp_err_status_t
kraken_srtp_evp_icm_init(void *state, const uint8_t *key)
{
    kraken_srtp_evp_icm_t  *icm = state;

    memset(icm->offset, 0, sizeof(icm->offset));
    memcpy(icm->offset, key + KRAKEN_SRTP_EVP_AES_KEY,
           KRAKEN_SRTP_EVP_ICM_SALT);

    /* the key schedule once per key; set_iv only moves the counter */
    if (EVP_EncryptInit_ex(icm->ctx, EVP_aes_128_ctr(), NULL, key, NULL)
        != 1)
    {
        return srtp_err_status_cipher_fail;
    }

    return srtp_err_status_ok;
}


static srtp_err_status_t
kraken_srtp_evp_icm_set_iv(void *state, uint8_t *iv,
    srtp_cipher_direction_t dir)
{
    int                     i;
    uint8_t                 counter[16];
    kraken_srtp_evp_icm_t  *icm = state;

    for (i = 0; i < 16; i++) {
        counter[i] = iv[i] ^ icm->offset[i];
    }

    if (EVP_EncryptInit_ex(icm->ctx, NULL, NULL, NULL, counter) != 1) {
        return srtp_err_status_cipher_fail;
    }

    return srtp_err_status_ok;
}


static srtp_err_status_t
kraken_srtp_evp_icm_encrypt(void *state, uint8_t *buf, unsigned int *len)
{
    int                     n;
    kraken_srtp_evp_icm_t  *icm = state;

    if (*len == 0) {
        return srtp_err_status_ok;
    }

    if (buf == NULL || *len > INT_MAX) {
        return srtp_err_status_bad_param;
    }

    /* CTR keeps its place in the keystream between calls after one IV */
    if (EVP_EncryptUpdate(icm->ctx, buf, &n, buf, (int) *len) != 1) {
        return srtp_err_status_cipher_fail;
    }

    *len = (unsigned int) n;

    return srtp_err_status_ok;
}


static srtp_err_status_t
kraken_srtp_evp_gcm_alloc(srtp_cipher_t **cp, int key_len, int tag_len)
{
    kraken_srtp_evp_gcm_cipher_t  *gc;

    if (key_len != KRAKEN_SRTP_EVP_GCM_KEY
        || (tag_len != KRAKEN_SRTP_EVP_GCM_TAG
            && tag_len != KRAKEN_SRTP_EVP_GCM_TAG_8))
    {
        return srtp_err_status_bad_param;
    }

    gc = calloc(1, sizeof(kraken_srtp_evp_gcm_cipher_t));
    if (gc == NULL) {
        return srtp_err_status_alloc_fail;
    }

    gc->gcm.ctx = EVP_CIPHER_CTX_new();
    if (gc->gcm.ctx == NULL) {
        free(gc);
        return srtp_err_status_alloc_fail;
    }

    gc->gcm.tag_len = tag_len;
    gc->gcm.dir = srtp_direction_any;

    gc->cipher.type = &kraken_srtp_evp_aes_gcm_128;
    gc->cipher.state = &gc->gcm;
    gc->cipher.key_len = key_len;
    gc->cipher.algorithm = SRTP_AES_GCM_128;

    *cp = &gc->cipher;

    return srtp_err_status_ok;
}


static srtp_err_status_t
kraken_srtp_evp_gcm_dealloc(srtp_cipher_t *c)
{
    kraken_srtp_evp_gcm_cipher_t  *gc;

    if (c == NULL) {
        return srtp_err_status_bad_param;
    }

    gc = (kraken_srtp_evp_gcm_cipher_t *) c;

    EVP_CIPHER_CTX_free(gc->gcm.ctx);
    OPENSSL_cleanse(gc, sizeof(kraken_srtp_evp_gcm_cipher_t));
    free(gc);

    return srtp_err_status_ok;
}


static srtp_err_status_t
kraken_srtp_evp_gcm_init(void *state, const uint8_t *key)
{
    kraken_srtp_evp_gcm_t  *gcm = state;

    /* the key is followed by the salt, which srtp.c folds into the IV */
    if (EVP_CipherInit_ex(gcm->ctx, EVP_aes_128_gcm(), NULL, key, NULL, 1)
        != 1)
    {
        return srtp_err_status_cipher_fail;
    }

    gcm->dir = srtp_direction_any;

    return srtp_err_status_ok;
}


static srtp_err_status_t
kraken_srtp_evp_gcm_set_iv(void *state, uint8_t *iv,
    srtp_cipher_direction_t dir)
{
    kraken_srtp_evp_gcm_t  *gcm = state;

    if (dir != srtp_direction_encrypt && dir != srtp_direction_decrypt) {
        return srtp_err_status_bad_param;
    }

    /* a new message on the same key: no key schedule, no allocation */
    if (EVP_CipherInit_ex(gcm->ctx, NULL, NULL, NULL, iv,
                          dir == srtp_direction_encrypt)
        != 1)
    {
        gcm->dir = srtp_direction_any;
        return srtp_err_status_cipher_fail;
    }

    gcm->dir = dir;

    return srtp_err_status_ok;
}


static srtp_err_status_t
kraken_srtp_evp_gcm_set_aad(void *state, const uint8_t *aad,
    uint32_t aad_len)
{
    int                     n;
    kraken_srtp_evp_gcm_t  *gcm = state;

    if (gcm->dir == srtp_direction_any || aad_len > INT_MAX) {
        return srtp_err_status_bad_param;
    }

    if (aad_len == 0) {
        return srtp_err_status_ok;
    }

    /* SRTCP gives the header and the index as two pieces */
    if (EVP_CipherUpdate(gcm->ctx, NULL, &n, aad, (int) aad_len) != 1) {
        return srtp_err_status_cipher_fail;
    }

    return srtp_err_status_ok;
}


/* *len stays: get_tag() gives the tag, as libsrtp's own backends do */
static srtp_err_status_t
kraken_srtp_evp_gcm_encrypt(void *state, uint8_t *buf, unsigned int *len)
{
    int                     n;
    kraken_srtp_evp_gcm_t  *gcm = state;

    if (gcm->dir != srtp_direction_encrypt || *len > INT_MAX
        || (buf == NULL && *len != 0))
    {
        return srtp_err_status_bad_param;
    }

    if (*len != 0
        && (EVP_CipherUpdate(gcm->ctx, buf, &n, buf, (int) *len) != 1
            || n != (int) *len))
    {
        return srtp_err_status_cipher_fail;
    }

    /* GCM writes nothing at the end; SRTCP without encryption has no buf */
    if (EVP_CipherFinal_ex(gcm->ctx, gcm->tag, &n) != 1
        || EVP_CIPHER_CTX_ctrl(gcm->ctx, EVP_CTRL_GCM_GET_TAG, gcm->tag_len,
                               gcm->tag)
           != 1)
    {
        return srtp_err_status_cipher_fail;
    }

    /* the IV is spent */
    gcm->dir = srtp_direction_any;

    return srtp_err_status_ok;
}


static srtp_err_status_t
kraken_srtp_evp_gcm_get_tag(void *state, uint8_t *tag, uint32_t *len)
{
    kraken_srtp_evp_gcm_t  *gcm = state;

    memcpy(tag, gcm->tag, gcm->tag_len);
    *len = (uint32_t) gcm->tag_len;

    return srtp_err_status_ok;
}


/* buf ends with the tag; on success *len loses it */
static srtp_err_status_t
kraken_srtp_evp_gcm_decrypt(void *state, uint8_t *buf, unsigned int *len)
{
    int                     n, data_len;
    uint8_t                 end[KRAKEN_SRTP_EVP_GCM_TAG];
    kraken_srtp_evp_gcm_t  *gcm = state;

    if (gcm->dir != srtp_direction_decrypt || buf == NULL
        || *len < (unsigned int) gcm->tag_len || *len > INT_MAX)
    {
        return srtp_err_status_bad_param;
    }

    gcm->dir = srtp_direction_any;
    data_len = (int) *len - gcm->tag_len;

    if (EVP_CIPHER_CTX_ctrl(gcm->ctx, EVP_CTRL_GCM_SET_TAG, gcm->tag_len,
                            buf + data_len)
        != 1)
    {
        return srtp_err_status_cipher_fail;
    }

    if (data_len != 0
        && EVP_CipherUpdate(gcm->ctx, buf, &n, buf, data_len) != 1)
    {
        return srtp_err_status_cipher_fail;
    }

    if (EVP_CipherFinal_ex(gcm->ctx, end, &n) != 1) {
        return srtp_err_status_auth_fail;
    }

    *len = (unsigned int) data_len;

    return srtp_err_status_ok;
}


static srtp_err_status_t
kraken_srtp_evp_hmac_alloc(srtp_auth_t **ap, int key_len, int out_len)
{
    kraken_srtp_evp_hmac_auth_t  *ha;

    if (key_len < 0 || out_len < 0 || out_len > KRAKEN_SRTP_EVP_SHA1_LEN) {
        return srtp_err_status_bad_param;
    }

    ha = calloc(1, sizeof(kraken_srtp_evp_hmac_auth_t));
    if (ha == NULL) {
        return srtp_err_status_alloc_fail;
    }

    ha->auth.type = &kraken_srtp_evp_hmac_sha1;
    ha->auth.state = &ha->hmac;
    ha->auth.out_len = out_len;
    ha->auth.key_len = key_len;
    ha->auth.prefix_len = 0;

    *ap = &ha->auth;

    return srtp_err_status_ok;
}


static srtp_err_status_t
kraken_srtp_evp_hmac_dealloc(srtp_auth_t *a)
{
    if (a == NULL) {
        return srtp_err_status_bad_param;
    }

    OPENSSL_cleanse(a, sizeof(kraken_srtp_evp_hmac_auth_t));
    free(a);

    return srtp_err_status_ok;
}


/*
 * HMAC (RFC 2104) with the two keyed blocks hashed once per key. OpenSSL
 * 3.0's EVP_MD_CTX_copy_ex() and EVP_MAC re-init allocate on every call;
 * a SHA_CTX is a plain struct, copied per packet by assignment.
 */
static srtp_err_status_t
kraken_srtp_evp_hmac_init(void *state, const uint8_t *key, int key_len)
{
    int                      i;
    uint8_t                  k[KRAKEN_SRTP_EVP_SHA1_BLOCK];
    uint8_t                  pad[KRAKEN_SRTP_EVP_SHA1_BLOCK];
    kraken_srtp_evp_hmac_t  *hmac = state;

    if (key_len < 0) {
        return srtp_err_status_bad_param;
    }

    memset(k, 0, sizeof(k));

    if (key_len > KRAKEN_SRTP_EVP_SHA1_BLOCK) {
        if (SHA1(key, (size_t) key_len, k) == NULL) {
            return srtp_err_status_auth_fail;
        }

    } else if (key_len > 0) {
        memcpy(k, key, (size_t) key_len);
    }

    for (i = 0; i < KRAKEN_SRTP_EVP_SHA1_BLOCK; i++) {
        pad[i] = k[i] ^ 0x36;
    }

    if (SHA1_Init(&hmac->inner) != 1
        || SHA1_Update(&hmac->inner, pad, sizeof(pad)) != 1)
    {
        goto failed;
    }

    for (i = 0; i < KRAKEN_SRTP_EVP_SHA1_BLOCK; i++) {
        pad[i] = k[i] ^ 0x5c;
    }

    if (SHA1_Init(&hmac->outer) != 1
        || SHA1_Update(&hmac->outer, pad, sizeof(pad)) != 1)
    {
        goto failed;
    }

    hmac->work = hmac->inner;

    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(pad, sizeof(pad));

    return srtp_err_status_ok;

failed:

    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(pad, sizeof(pad));

    return srtp_err_status_auth_fail;
}


static srtp_err_status_t
kraken_srtp_evp_hmac_start(void *state)
{
    kraken_srtp_evp_hmac_t  *hmac = state;

    hmac->work = hmac->inner;

    return srtp_err_status_ok;
}


static srtp_err_status_t
kraken_srtp_evp_hmac_update(void *state, const uint8_t *buf, int len)
{
    kraken_srtp_evp_hmac_t  *hmac = state;

    if (len < 0) {
        return srtp_err_status_bad_param;
    }

    if (SHA1_Update(&hmac->work, buf, (size_t) len) != 1) {
        return srtp_err_status_auth_fail;
    }

    return srtp_err_status_ok;
}


static srtp_err_status_t
kraken_srtp_evp_hmac_compute(void *state, const uint8_t *buf, int len,
    int tag_len, uint8_t *tag)
{
    uint8_t                  md[KRAKEN_SRTP_EVP_SHA1_LEN];
    kraken_srtp_evp_hmac_t  *hmac = state;

    if (len < 0 || tag_len < 0 || tag_len > KRAKEN_SRTP_EVP_SHA1_LEN) {
        return srtp_err_status_bad_param;
    }

    if (SHA1_Update(&hmac->work, buf, (size_t) len) != 1
        || SHA1_Final(md, &hmac->work) != 1)
    {
        return srtp_err_status_auth_fail;
    }

    hmac->work = hmac->outer;

    if (SHA1_Update(&hmac->work, md, sizeof(md)) != 1
        || SHA1_Final(md, &hmac->work) != 1)
    {
        return srtp_err_status_auth_fail;
    }

    memcpy(tag, md, (size_t) tag_len);

    /* ready for the next message even if the caller skips start() */
    hmac->work = hmac->inner;

    return srtp_err_status_ok;
}
