/*
 * DTLS-SRTP on OpenSSL 3 with memory BIOs. The caller moves datagrams in
 * and out; OpenSSL keeps the handshake state and its retransmission clock.
 *
 * A server answers a ClientHello with a HelloVerifyRequest first (RFC 6347
 * 4.2.1, OpenSSL's SSL_OP_COOKIE_EXCHANGE): a valid STUN check does not
 * prove that its source address is the sender's (the check is the
 * sender's own, the address may be anyone's), and the server's flight is
 * about five times a ClientHello, resent for as long as the handshake may
 * take. The cookie, HMAC-SHA256 of the datagram's source address under a
 * secret of the process, comes back only from whoever receives at that
 * address.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "kraken_dtls.h"


#define KRAKEN_DTLS_PROFILES                                                 \
    "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"

#define KRAKEN_DTLS_RECORD_HEADER  13
#define KRAKEN_DTLS_MAX_INPUT      16384

/* retransmission: 1 s, 2 s, then every 3 s; OpenSSL gives up after 12 */
#define KRAKEN_DTLS_RTO_INITIAL    1000000
#define KRAKEN_DTLS_RTO_MAX        3000000

#define KRAKEN_DTLS_FP_SIZE        (sizeof("sha-256 ") + 3 * 32)

#define KRAKEN_DTLS_COOKIE_SIZE    32      /* HMAC-SHA256 */

/* a ClientHello: record header, handshake header, version and random */
#define KRAKEN_DTLS_HANDSHAKE      22
#define KRAKEN_DTLS_CLIENT_HELLO   1
#define KRAKEN_DTLS_HELLO_FIXED    (KRAKEN_DTLS_RECORD_HEADER + 12 + 2 + 32)


struct kraken_dtls_ctx_s {
    EVP_PKEY      *key;
    X509          *cert;
    SSL_CTX       *server;
    SSL_CTX       *client;
    uint8_t        secret[KRAKEN_DTLS_COOKIE_SIZE];
    char           fingerprint[KRAKEN_DTLS_FP_SIZE];
};


struct kraken_dtls_s {
    SSL           *ssl;
    BIO           *rbio;
    BIO           *wbio;
    const EVP_MD  *md;
    int            server;
    int            state;
    size_t         fp_len;
    uint8_t        fp[EVP_MAX_MD_SIZE];

    /* the cookie exchange (server): a copy, the ctx may go first */
    uint8_t        secret[KRAKEN_DTLS_COOKIE_SIZE];
    const uint8_t *from;                /* of the datagram being read */
    size_t         from_len;
    int            proven;              /* proven_addr echoed the cookie */
    size_t         proven_len;
    uint8_t        proven_addr[KRAKEN_DTLS_FROM_MAX];
};


static X509 *kraken_dtls_make_cert(EVP_PKEY *key);
static SSL_CTX *kraken_dtls_make_ssl_ctx(kraken_dtls_ctx_t *ctx,
    int server);
static int kraken_dtls_verify_cb(int ok, X509_STORE_CTX *store);
static int kraken_dtls_cookie_generate_cb(SSL *ssl, unsigned char *cookie,
    unsigned int *len);
static int kraken_dtls_cookie_verify_cb(SSL *ssl,
    const unsigned char *cookie, unsigned int len);
static int kraken_dtls_cookie(kraken_dtls_t *d, uint8_t *cookie);
static int kraken_dtls_cookie_matches(kraken_dtls_t *d,
    const uint8_t *cookie, size_t len);
static int kraken_dtls_hello_cookie(const uint8_t *buf, size_t len,
    const uint8_t **cookie, size_t *cookie_len);
static unsigned int kraken_dtls_timer_cb(SSL *ssl, unsigned int timer_us);
static int kraken_dtls_digest_matches(kraken_dtls_t *d, X509 *cert);
static const EVP_MD *kraken_dtls_md(const char *alg);
static void kraken_dtls_run(kraken_dtls_t *d);
static void kraken_dtls_handshake_done(kraken_dtls_t *d);
static void kraken_dtls_error(char *err, size_t errlen, const char *what);


kraken_dtls_ctx_t *
kraken_dtls_ctx_create(char *err, size_t errlen)
{
    size_t              i, n;
    unsigned int        len;
    unsigned char       md[EVP_MAX_MD_SIZE];
    kraken_dtls_ctx_t  *ctx;

    ERR_clear_error();

    ctx = calloc(1, sizeof(kraken_dtls_ctx_t));
    if (ctx == NULL) {
        kraken_dtls_error(err, errlen, "out of memory");
        return NULL;
    }

    if (RAND_bytes(ctx->secret, sizeof(ctx->secret)) != 1) {
        kraken_dtls_error(err, errlen, "RAND_bytes() failed");
        goto failed;
    }

    ctx->key = EVP_EC_gen("P-256");
    if (ctx->key == NULL) {
        kraken_dtls_error(err, errlen, "EVP_EC_gen() failed");
        goto failed;
    }

    ctx->cert = kraken_dtls_make_cert(ctx->key);
    if (ctx->cert == NULL) {
        kraken_dtls_error(err, errlen, "certificate generation failed");
        goto failed;
    }

    if (!X509_digest(ctx->cert, EVP_sha256(), md, &len) || len != 32) {
        kraken_dtls_error(err, errlen, "X509_digest() failed");
        goto failed;
    }

    n = snprintf(ctx->fingerprint, sizeof(ctx->fingerprint), "sha-256 ");

    for (i = 0; i < len; i++) {
        n += snprintf(ctx->fingerprint + n, sizeof(ctx->fingerprint) - n,
                      i ? ":%02X" : "%02X", md[i]);
    }

    ctx->server = kraken_dtls_make_ssl_ctx(ctx, 1);
    ctx->client = kraken_dtls_make_ssl_ctx(ctx, 0);

    if (ctx->server == NULL || ctx->client == NULL) {
        kraken_dtls_error(err, errlen, "SSL_CTX setup failed");
        goto failed;
    }

    return ctx;

failed:

    kraken_dtls_ctx_free(ctx);
    ERR_clear_error();

    return NULL;
}


void
kraken_dtls_ctx_free(kraken_dtls_ctx_t *ctx)
{
    if (ctx == NULL) {
        return;
    }

    /* live associations keep their own references to the SSL_CTXs */
    SSL_CTX_free(ctx->server);
    SSL_CTX_free(ctx->client);
    X509_free(ctx->cert);
    EVP_PKEY_free(ctx->key);
    OPENSSL_cleanse(ctx->secret, sizeof(ctx->secret));
    free(ctx);
}


const char *
kraken_dtls_ctx_fingerprint(kraken_dtls_ctx_t *ctx)
{
    return ctx->fingerprint;
}


int
kraken_dtls_ctx_set_srtp_profiles(kraken_dtls_ctx_t *ctx,
    const char *profiles)
{
    /* OpenSSL returns 0 on success here */
    if (SSL_CTX_set_tlsext_use_srtp(ctx->server, profiles) != 0
        || SSL_CTX_set_tlsext_use_srtp(ctx->client, profiles) != 0)
    {
        ERR_clear_error();
        return -1;
    }

    return 0;
}


static X509 *
kraken_dtls_make_cert(EVP_PKEY *key)
{
    X509        *cert;
    BIGNUM      *serial;
    X509_NAME   *name;

    cert = X509_new();
    serial = BN_new();

    if (cert == NULL || serial == NULL) {
        goto failed;
    }

    /* random: NSS refuses a reused issuer name and serial pair */
    if (!BN_rand(serial, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)
        || BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert)) == NULL)
    {
        goto failed;
    }

    if (!X509_set_version(cert, 2)
        || X509_gmtime_adj(X509_getm_notBefore(cert), -30L * 86400) == NULL
        || X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 86400) == NULL
        || !X509_set_pubkey(cert, key))
    {
        goto failed;
    }

    name = X509_get_subject_name(cert);

    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                    (const unsigned char *) "ngx_kraken",
                                    -1, -1, 0)
        || !X509_set_issuer_name(cert, name)
        || !X509_sign(cert, key, EVP_sha256()))
    {
        goto failed;
    }

    BN_free(serial);

    return cert;

failed:

    BN_free(serial);
    X509_free(cert);

    return NULL;
}


static SSL_CTX *
kraken_dtls_make_ssl_ctx(kraken_dtls_ctx_t *ctx, int server)
{
    SSL_CTX  *ssl_ctx;

    ssl_ctx = SSL_CTX_new(server ? DTLS_server_method()
                                 : DTLS_client_method());
    if (ssl_ctx == NULL) {
        return NULL;
    }

    /*
     * No session cache or tickets: every association is a full handshake
     * and nothing is kept.
     */
    SSL_CTX_set_options(ssl_ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET
                                 | SSL_OP_NO_RENEGOTIATION);

    /*
     * A server proves the client's address before it sends its flight:
     * a STUN check does not (see the top of this file).
     */
    if (server) {
        SSL_CTX_set_options(ssl_ctx, SSL_OP_COOKIE_EXCHANGE);
        SSL_CTX_set_cookie_generate_cb(ssl_ctx,
                                       kraken_dtls_cookie_generate_cb);
        SSL_CTX_set_cookie_verify_cb(ssl_ctx, kraken_dtls_cookie_verify_cb);
    }
    SSL_CTX_set_session_cache_mode(ssl_ctx, SSL_SESS_CACHE_OFF);

    /* idle associations keep no 16 KB record buffers: memory per peer */
    SSL_CTX_set_mode(ssl_ctx, SSL_MODE_RELEASE_BUFFERS);

    if (!SSL_CTX_set_min_proto_version(ssl_ctx, DTLS1_2_VERSION)
        || SSL_CTX_use_certificate(ssl_ctx, ctx->cert) != 1
        || SSL_CTX_use_PrivateKey(ssl_ctx, ctx->key) != 1
        || SSL_CTX_check_private_key(ssl_ctx) != 1
        || SSL_CTX_set_tlsext_use_srtp(ssl_ctx, KRAKEN_DTLS_PROFILES) != 0)
    {
        SSL_CTX_free(ssl_ctx);
        return NULL;
    }

    /* any certificate chain will do: its digest must match the SDP's */
    SSL_CTX_set_verify(ssl_ctx,
                       SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       kraken_dtls_verify_cb);

    return ssl_ctx;
}


int
kraken_dtls_fingerprint_usable(const char *fp_alg, size_t fp_len)
{
    const EVP_MD  *md;

    md = kraken_dtls_md(fp_alg);

    return md != NULL && fp_len == (size_t) EVP_MD_get_size(md);
}


kraken_dtls_t *
kraken_dtls_create(kraken_dtls_ctx_t *ctx, int server, const char *fp_alg,
    const uint8_t *fp, size_t fp_len)
{
    const EVP_MD   *md;
    kraken_dtls_t  *d;

    md = kraken_dtls_md(fp_alg);

    if (md == NULL || fp == NULL || fp_len != (size_t) EVP_MD_get_size(md)) {
        return NULL;
    }

    d = calloc(1, sizeof(kraken_dtls_t));
    if (d == NULL) {
        return NULL;
    }

    d->md = md;
    d->server = server;
    d->state = KRAKEN_DTLS_HANDSHAKING;
    d->fp_len = fp_len;
    memcpy(d->fp, fp, fp_len);
    memcpy(d->secret, ctx->secret, sizeof(d->secret));

    d->ssl = SSL_new(server ? ctx->server : ctx->client);
    d->rbio = BIO_new(BIO_s_mem());
    d->wbio = BIO_new(BIO_s_mem());

    if (d->ssl == NULL || d->rbio == NULL || d->wbio == NULL) {
        goto failed;
    }

    /* an empty read BIO means "wait for the next datagram", not EOF */
    BIO_set_mem_eof_return(d->rbio, -1);
    BIO_set_mem_eof_return(d->wbio, -1);

    SSL_set_bio(d->ssl, d->rbio, d->wbio);

    SSL_set_app_data(d->ssl, d);
    DTLS_set_link_mtu(d->ssl, KRAKEN_DTLS_MTU);
    DTLS_set_timer_cb(d->ssl, kraken_dtls_timer_cb);

    if (server) {
        SSL_set_accept_state(d->ssl);

    } else {
        SSL_set_connect_state(d->ssl);
    }

    return d;

failed:

    /* the BIOs are not attached yet */
    SSL_free(d->ssl);
    BIO_free(d->rbio);
    BIO_free(d->wbio);
    free(d);
    ERR_clear_error();

    return NULL;
}


void
kraken_dtls_free(kraken_dtls_t *d)
{
    if (d == NULL) {
        return;
    }

    /* SSL_free() frees both BIOs */
    SSL_free(d->ssl);
    OPENSSL_cleanse(d->secret, sizeof(d->secret));
    free(d);
}


int
kraken_dtls_start(kraken_dtls_t *d)
{
    if (!d->server && d->state == KRAKEN_DTLS_HANDSHAKING) {
        kraken_dtls_run(d);
    }

    return d->state;
}


int
kraken_dtls_input(kraken_dtls_t *d, const uint8_t *buf, size_t len)
{
    return kraken_dtls_input_from(d, buf, len, NULL, 0);
}


int
kraken_dtls_input_from(kraken_dtls_t *d, const uint8_t *buf, size_t len,
    const void *from, size_t fromlen)
{
    size_t          cookie_len;
    const uint8_t  *cookie;

    if (d->state == KRAKEN_DTLS_FAILED) {
        return d->state;
    }

    if (len < KRAKEN_DTLS_RECORD_HEADER || len > KRAKEN_DTLS_MAX_INPUT
        || fromlen > KRAKEN_DTLS_FROM_MAX)
    {
        return d->state;
    }

    d->from = from;
    d->from_len = from ? fromlen : 0;

    /*
     * OpenSSL ends the handshake on a wrong cookie; anyone may spoof one
     * from the client's address, so it is dropped here instead.
     */
    if (d->server && !d->proven
        && kraken_dtls_hello_cookie(buf, len, &cookie, &cookie_len)
        && cookie_len > 0 && !kraken_dtls_cookie_matches(d, cookie, cookie_len))
    {
        goto done;
    }

    if (BIO_write(d->rbio, buf, (int) len) != (int) len) {
        (void) BIO_reset(d->rbio);
        goto done;
    }

    kraken_dtls_run(d);

    /* datagrams stand alone: nothing of this one may prefix the next */
    (void) BIO_reset(d->rbio);

done:

    d->from = NULL;
    d->from_len = 0;

    return d->state;
}


int
kraken_dtls_proven(kraken_dtls_t *d, const void *from, size_t fromlen)
{
    if (!d->server) {
        return 1;
    }

    return d->proven && from != NULL && fromlen == d->proven_len
           && memcmp(from, d->proven_addr, fromlen) == 0;
}


static void
kraken_dtls_run(kraken_dtls_t *d)
{
    int      rc, err;
    uint8_t  sink[2048];

    ERR_clear_error();

    if (d->state == KRAKEN_DTLS_HANDSHAKING) {
        rc = SSL_do_handshake(d->ssl);

        if (rc == 1) {
            kraken_dtls_handshake_done(d);

        } else {
            err = SSL_get_error(d->ssl, rc);

            if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
                d->state = KRAKEN_DTLS_FAILED;
            }
        }
    }

    /*
     * After the handshake SSL_read() handles alerts, close_notify and the
     * peer's retransmitted Finished (we resend ours). Application data
     * is not used in WebRTC audio: drop it.
     */
    while (d->state == KRAKEN_DTLS_CONNECTED) {
        rc = SSL_read(d->ssl, sink, sizeof(sink));
        if (rc > 0) {
            continue;
        }

        err = SSL_get_error(d->ssl, rc);

        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
            /* SSL_ERROR_ZERO_RETURN: close_notify, the peer has gone */
            d->state = KRAKEN_DTLS_FAILED;
        }

        break;
    }

    ERR_clear_error();
}


static void
kraken_dtls_handshake_done(kraken_dtls_t *d)
{
    X509  *cert;

    cert = SSL_get0_peer_certificate(d->ssl);

    if (cert == NULL || !kraken_dtls_digest_matches(d, cert)
        || SSL_get_selected_srtp_profile(d->ssl) == NULL)
    {
        d->state = KRAKEN_DTLS_FAILED;
        return;
    }

    d->state = KRAKEN_DTLS_CONNECTED;
}


size_t
kraken_dtls_output(kraken_dtls_t *d, uint8_t *buf, size_t cap)
{
    long     avail;
    char    *data;
    size_t   off, rec, limit, n;
    uint8_t *p;

    limit = cap < KRAKEN_DTLS_MTU ? cap : KRAKEN_DTLS_MTU;

    for ( ;; ) {
        avail = BIO_get_mem_data(d->wbio, &data);
        if (avail <= 0 || cap == 0) {
            return 0;
        }

        p = (uint8_t *) data;

        /* whole records, as many as fit in one datagram */
        for (off = 0; off + KRAKEN_DTLS_RECORD_HEADER <= (size_t) avail;
             off += rec)
        {
            rec = KRAKEN_DTLS_RECORD_HEADER
                  + ((size_t) p[off + 11] << 8 | p[off + 12]);

            if (off + rec > (size_t) avail || off + rec > limit) {
                break;
            }
        }

        if (off > 0) {
            return (size_t) BIO_read(d->wbio, buf, (int) off);
        }

        /* a record larger than the MTU goes alone */
        n = (size_t) avail;

        if (n >= KRAKEN_DTLS_RECORD_HEADER) {
            rec = KRAKEN_DTLS_RECORD_HEADER + ((size_t) p[11] << 8 | p[12]);
            n = rec < n ? rec : n;
        }

        if (n <= cap) {
            return (size_t) BIO_read(d->wbio, buf, (int) n);
        }

        /* it does not fit the caller's buffer either: drop it */
        while (n > 0) {
            rec = n < cap ? n : cap;
            (void) BIO_read(d->wbio, buf, (int) rec);
            n -= rec;
        }
    }
}


int
kraken_dtls_timer(kraken_dtls_t *d, uint64_t now_ms, uint64_t *next_ms)
{
    uint64_t        ms;
    struct timeval  tv;

    *next_ms = 0;

    if (d->state != KRAKEN_DTLS_HANDSHAKING) {
        return d->state;
    }

    /*
     * OpenSSL measures the retransmission timeout on its own clock; it
     * resends only when that has expired. now_ms just expresses the next
     * deadline on the caller's clock.
     */
    ERR_clear_error();

    if (DTLSv1_handle_timeout(d->ssl) < 0) {
        /* too many retransmissions, or already broken */
        d->state = KRAKEN_DTLS_FAILED;
        ERR_clear_error();
        return d->state;
    }

    if (DTLSv1_get_timeout(d->ssl, &tv) == 1) {
        ms = (uint64_t) tv.tv_sec * 1000
             + ((uint64_t) tv.tv_usec + 999) / 1000;
        *next_ms = now_ms + (ms ? ms : 1);
    }

    return d->state;
}


int
kraken_dtls_shutdown(kraken_dtls_t *d)
{
    int  rc;

    if (d->state != KRAKEN_DTLS_CONNECTED
        || (SSL_get_shutdown(d->ssl) & SSL_SENT_SHUTDOWN))
    {
        return -1;
    }

    ERR_clear_error();

    /* 0: sent, the peer's close_notify is not awaited (it has no use) */
    rc = SSL_shutdown(d->ssl);

    ERR_clear_error();

    return rc < 0 ? -1 : 0;
}


int
kraken_dtls_closed_by_peer(kraken_dtls_t *d)
{
    return (SSL_get_shutdown(d->ssl) & SSL_RECEIVED_SHUTDOWN) != 0;
}


int
kraken_dtls_state(kraken_dtls_t *d)
{
    return d->state;
}


int
kraken_dtls_srtp_keys(kraken_dtls_t *d, kraken_srtp_keys_t *keys)
{
    size_t                    key, salt;
    uint8_t                   km[2 * (16 + 14)];
    const uint8_t            *ckey, *skey, *csalt, *ssalt;
    SRTP_PROTECTION_PROFILE  *p;

    memset(keys, 0, sizeof(kraken_srtp_keys_t));

    if (d->state != KRAKEN_DTLS_CONNECTED) {
        return -1;
    }

    p = SSL_get_selected_srtp_profile(d->ssl);
    if (p == NULL) {
        return -1;
    }

    key = 16;

    switch (p->id) {

    case SRTP_AEAD_AES_128_GCM:
        keys->profile = KRAKEN_SRTP_AEAD_AES_128_GCM;
        salt = 12;
        break;

    case SRTP_AES128_CM_SHA1_80:
        keys->profile = KRAKEN_SRTP_AES128_CM_SHA1_80;
        salt = 14;
        break;

    default:
        return -1;
    }

    /* RFC 5764: client_key | server_key | client_salt | server_salt */
    if (SSL_export_keying_material(d->ssl, km, 2 * (key + salt),
                                   "EXTRACTOR-dtls_srtp", 19, NULL, 0, 0)
        != 1)
    {
        ERR_clear_error();
        return -1;
    }

    ckey = km;
    skey = km + key;
    csalt = km + 2 * key;
    ssalt = km + 2 * key + salt;

    keys->len = key + salt;

    memcpy(keys->local, d->server ? skey : ckey, key);
    memcpy(keys->local + key, d->server ? ssalt : csalt, salt);
    memcpy(keys->remote, d->server ? ckey : skey, key);
    memcpy(keys->remote + key, d->server ? csalt : ssalt, salt);

    OPENSSL_cleanse(km, sizeof(km));

    return 0;
}


static int
kraken_dtls_verify_cb(int ok, X509_STORE_CTX *store)
{
    SSL            *ssl;
    X509           *cert;
    kraken_dtls_t  *d;

    /* only the leaf is compared with the SDP; CA errors don't matter */
    if (X509_STORE_CTX_get_error_depth(store) != 0) {
        return 1;
    }

    ssl = X509_STORE_CTX_get_ex_data(store,
                                     SSL_get_ex_data_X509_STORE_CTX_idx());
    if (ssl == NULL) {
        return 0;
    }

    d = SSL_get_app_data(ssl);
    cert = X509_STORE_CTX_get_current_cert(store);

    if (d == NULL || cert == NULL) {
        return 0;
    }

    /* failing here early sends the peer a bad_certificate alert */
    return kraken_dtls_digest_matches(d, cert);
}


static int
kraken_dtls_cookie_generate_cb(SSL *ssl, unsigned char *cookie,
    unsigned int *len)
{
    kraken_dtls_t  *d;

    d = SSL_get_app_data(ssl);

    if (d == NULL || kraken_dtls_cookie(d, cookie) != 0) {
        return 0;
    }

    *len = KRAKEN_DTLS_COOKIE_SIZE;

    return 1;
}


static int
kraken_dtls_cookie_verify_cb(SSL *ssl, const unsigned char *cookie,
    unsigned int len)
{
    kraken_dtls_t  *d;

    d = SSL_get_app_data(ssl);

    if (d == NULL || !kraken_dtls_cookie_matches(d, cookie, len)) {
        return 0;
    }

    /* whoever sent this received our HelloVerifyRequest there */
    d->proven = 1;
    d->proven_len = d->from_len;

    if (d->from_len) {
        memcpy(d->proven_addr, d->from, d->from_len);
    }

    return 1;
}


/* HMAC-SHA256(secret, the source address of the current datagram) */

static int
kraken_dtls_cookie(kraken_dtls_t *d, uint8_t *cookie)
{
    unsigned int  n;

    n = 0;

    if (HMAC(EVP_sha256(), d->secret, sizeof(d->secret),
             d->from_len ? d->from : (const uint8_t *) "", d->from_len,
             cookie, &n)
        == NULL
        || n != KRAKEN_DTLS_COOKIE_SIZE)
    {
        ERR_clear_error();
        return -1;
    }

    return 0;
}


static int
kraken_dtls_cookie_matches(kraken_dtls_t *d, const uint8_t *cookie,
    size_t len)
{
    int      ok;
    uint8_t  want[EVP_MAX_MD_SIZE];

    if (len != KRAKEN_DTLS_COOKIE_SIZE || kraken_dtls_cookie(d, want) != 0) {
        return 0;
    }

    ok = CRYPTO_memcmp(cookie, want, len) == 0;

    OPENSSL_cleanse(want, sizeof(want));

    return ok;
}


/*
 * The cookie of a datagram whose first record is a ClientHello, or its
 * first fragment (RFC 6347 4.2.2: client_version, random, session_id,
 * then the cookie). 1 when found, 0 for anything else.
 */

static int
kraken_dtls_hello_cookie(const uint8_t *buf, size_t len,
    const uint8_t **cookie, size_t *cookie_len)
{
    size_t  rec, off;

    if (len < KRAKEN_DTLS_HELLO_FIXED + 2
        || buf[0] != KRAKEN_DTLS_HANDSHAKE
        || buf[KRAKEN_DTLS_RECORD_HEADER] != KRAKEN_DTLS_CLIENT_HELLO)
    {
        return 0;
    }

    /* epoch 0: a ClientHello is never encrypted */
    if (buf[3] != 0 || buf[4] != 0) {
        return 0;
    }

    rec = KRAKEN_DTLS_RECORD_HEADER + ((size_t) buf[11] << 8 | buf[12]);

    /* the fragment offset is 0 */
    off = KRAKEN_DTLS_RECORD_HEADER + 6;

    if (rec > len || rec < KRAKEN_DTLS_HELLO_FIXED + 2
        || buf[off] != 0 || buf[off + 1] != 0 || buf[off + 2] != 0)
    {
        return 0;
    }

    off = KRAKEN_DTLS_HELLO_FIXED;
    off += 1 + buf[off];                /* session_id */

    if (off >= rec || off + 1 + buf[off] > rec) {
        return 0;
    }

    *cookie_len = buf[off];
    *cookie = buf + off + 1;

    return 1;
}


static unsigned int
kraken_dtls_timer_cb(SSL *ssl, unsigned int timer_us)
{
    if (timer_us == 0) {
        return KRAKEN_DTLS_RTO_INITIAL;
    }

    timer_us *= 2;

    return timer_us < KRAKEN_DTLS_RTO_MAX ? timer_us : KRAKEN_DTLS_RTO_MAX;
}


static int
kraken_dtls_digest_matches(kraken_dtls_t *d, X509 *cert)
{
    unsigned int   len;
    unsigned char  md[EVP_MAX_MD_SIZE];

    if (!X509_digest(cert, d->md, md, &len)) {
        return 0;
    }

    return len == d->fp_len && CRYPTO_memcmp(md, d->fp, len) == 0;
}


static const EVP_MD *
kraken_dtls_md(const char *alg)
{
    if (alg == NULL) {
        return NULL;
    }

    if (strcasecmp(alg, "sha-256") == 0) {
        return EVP_sha256();
    }

    if (strcasecmp(alg, "sha-1") == 0) {
        return EVP_sha1();
    }

    if (strcasecmp(alg, "sha-384") == 0) {
        return EVP_sha384();
    }

    if (strcasecmp(alg, "sha-512") == 0) {
        return EVP_sha512();
    }

    return NULL;
}


static void
kraken_dtls_error(char *err, size_t errlen, const char *what)
{
    unsigned long  e;
    char           reason[160];

    if (err == NULL || errlen == 0) {
        return;
    }

    e = ERR_peek_last_error();

    if (e == 0) {
        snprintf(err, errlen, "dtls: %s", what);
        return;
    }

    ERR_error_string_n(e, reason, sizeof(reason));
    snprintf(err, errlen, "dtls: %s (%s)", what, reason);
}
