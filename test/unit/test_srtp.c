/*
 * SRTP and SRTCP keyed from a real in-memory DTLS handshake, for both
 * profiles: what one side protects the other unprotects, and tampering or
 * replay is refused. Then the OpenSSL crypto types that kraken_srtp_init()
 * installs, against the RFCs' known answers (RFC 3711 B.2 and B.3, RFC
 * 7714 16.1.1 and 17.1, RFC 2202). test_srtp_interop.c checks them
 * against Debian's stock libsrtp2. Last, the forwarding path that protects
 * without libsrtp's per-SSRC state, against libsrtp's own output.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <srtp2/auth.h>
#include <srtp2/cipher.h>
#include <srtp2/srtp.h>

#include "kraken_dtls.h"
#include "kraken_rtp.h"
#include "kraken_srtp.h"
#include "kraken_srtp_evp.h"


#define PAYLOAD  100


typedef struct {
    kraken_srtp_keys_t   server_keys;
    kraken_srtp_keys_t   client_keys;
    kraken_srtp_t       *server;        /* the SFU */
    kraken_srtp_t       *client;        /* the browser */
} session_t;

typedef struct {
    session_t            gcm;
    session_t            cm;
} fixture_t;


static void
parse_fingerprint(const char *s, uint8_t *fp, size_t *len)
{
    unsigned int  byte;

    for (*len = 0, s += sizeof("sha-256 ") - 1; *s != '\0'; (*len)++) {
        if (sscanf(s, "%2X", &byte) != 1) {
            break;
        }

        fp[*len] = (uint8_t) byte;
        s += (s[2] == ':') ? 3 : 2;
    }
}


static kraken_dtls_t *
create_for(kraken_dtls_ctx_t *ours, kraken_dtls_ctx_t *theirs, int server)
{
    size_t   len;
    uint8_t  fp[64];

    parse_fingerprint(kraken_dtls_ctx_fingerprint(theirs), fp, &len);

    return kraken_dtls_create(ours, server, "sha-256", fp, len);
}


static int
shuttle(kraken_dtls_t *from, kraken_dtls_t *to)
{
    int      count;
    size_t   n;
    uint8_t  buf[2048];

    for (count = 0; (n = kraken_dtls_output(from, buf, sizeof(buf))) > 0;
         count++)
    {
        kraken_dtls_input(to, buf, n);
    }

    return count;
}


/* a lossless handshake between two fresh contexts; the client's offer */
static int
handshake(session_t *s, const char *client_profiles)
{
    int                 i, rc;
    char                err[256];
    kraken_dtls_t      *server, *client;
    kraken_dtls_ctx_t  *sctx, *cctx;

    rc = -1;
    server = NULL;
    client = NULL;

    sctx = kraken_dtls_ctx_create(err, sizeof(err));
    cctx = kraken_dtls_ctx_create(err, sizeof(err));

    if (sctx == NULL || cctx == NULL
        || kraken_dtls_ctx_set_srtp_profiles(cctx, client_profiles) != 0)
    {
        goto done;
    }

    server = create_for(sctx, cctx, 1);
    client = create_for(cctx, sctx, 0);

    if (server == NULL || client == NULL) {
        goto done;
    }

    kraken_dtls_start(client);

    for (i = 0; i < 10; i++) {
        if (shuttle(client, server) + shuttle(server, client) == 0) {
            break;
        }
    }

    if (kraken_dtls_srtp_keys(server, &s->server_keys) != 0
        || kraken_dtls_srtp_keys(client, &s->client_keys) != 0)
    {
        goto done;
    }

    s->server = kraken_srtp_create(&s->server_keys);
    s->client = kraken_srtp_create(&s->client_keys);

    if (s->server != NULL && s->client != NULL) {
        rc = 0;
    }

done:

    kraken_dtls_free(server);
    kraken_dtls_free(client);
    kraken_dtls_ctx_free(sctx);
    kraken_dtls_ctx_free(cctx);

    return rc;
}


static size_t
make_rtp(uint8_t *buf, uint16_t seq, uint32_t ssrc)
{
    size_t  i;

    buf[0] = 0x80;
    buf[1] = 111;                               /* Opus */
    buf[2] = (uint8_t) (seq >> 8);
    buf[3] = (uint8_t) seq;
    buf[4] = 0;                                 /* timestamp */
    buf[5] = 0;
    buf[6] = (uint8_t) (seq >> 2);
    buf[7] = (uint8_t) (seq << 6);
    buf[8] = (uint8_t) (ssrc >> 24);
    buf[9] = (uint8_t) (ssrc >> 16);
    buf[10] = (uint8_t) (ssrc >> 8);
    buf[11] = (uint8_t) ssrc;

    for (i = 0; i < PAYLOAD; i++) {
        buf[12 + i] = (uint8_t) (i * 7 + seq);
    }

    return 12 + PAYLOAD;
}


/* a sender report without report blocks */
static size_t
make_sr(uint8_t *buf, uint32_t ssrc)
{
    size_t  i;

    memset(buf, 0, 28);

    buf[0] = 0x80;
    buf[1] = 200;
    buf[3] = 6;                                 /* length in words - 1 */
    buf[4] = (uint8_t) (ssrc >> 24);
    buf[5] = (uint8_t) (ssrc >> 16);
    buf[6] = (uint8_t) (ssrc >> 8);
    buf[7] = (uint8_t) ssrc;

    for (i = 8; i < 28; i++) {
        buf[i] = (uint8_t) i;
    }

    return 28;
}


static void
rtp_round_trips(kraken_srtp_t *from, kraken_srtp_t *to, size_t tag)
{
    size_t   len, plain_len;
    uint8_t  buf[256], plain[256];

    plain_len = make_rtp(plain, 1000, 0x11223344);
    memcpy(buf, plain, plain_len);
    len = plain_len;

    assert_int_equal(kraken_srtp_protect(from, buf, &len, sizeof(buf)), 0);
    assert_int_equal(len, plain_len + tag);
    assert_memory_equal(buf, plain, 12);
    assert_memory_not_equal(buf + 12, plain + 12, PAYLOAD);

    assert_int_equal(kraken_srtp_unprotect(to, buf, &len), 0);
    assert_int_equal(len, plain_len);
    assert_memory_equal(buf, plain, plain_len);
}


static void
rtp_round_trips_sfu_to_browser_and_back(session_t *s, size_t tag)
{
    rtp_round_trips(s->server, s->client, tag);
    rtp_round_trips(s->client, s->server, tag);
}


static void
gcm_rtp_round_trips_both_ways(void **state)
{
    fixture_t  *f = *state;

    assert_int_equal(f->gcm.server_keys.profile,
                     KRAKEN_SRTP_AEAD_AES_128_GCM);
    rtp_round_trips_sfu_to_browser_and_back(&f->gcm, 16);
}


static void
aes_cm_rtp_round_trips_both_ways(void **state)
{
    fixture_t  *f = *state;

    assert_int_equal(f->cm.server_keys.profile,
                     KRAKEN_SRTP_AES128_CM_SHA1_80);
    rtp_round_trips_sfu_to_browser_and_back(&f->cm, 10);
}


static void
rtcp_round_trips(session_t *s, size_t trailer)
{
    size_t   len, plain_len;
    uint8_t  buf[256], plain[256];

    plain_len = make_sr(plain, 0x55667788);
    memcpy(buf, plain, plain_len);
    len = plain_len;

    assert_int_equal(kraken_srtp_protect_rtcp(s->server, buf, &len,
                                              sizeof(buf)), 0);
    assert_int_equal(len, plain_len + trailer);
    assert_memory_not_equal(buf + 8, plain + 8, plain_len - 8);

    assert_int_equal(kraken_srtp_unprotect_rtcp(s->client, buf, &len), 0);
    assert_int_equal(len, plain_len);
    assert_memory_equal(buf, plain, plain_len);
}


static void
gcm_rtcp_sender_report_round_trips(void **state)
{
    fixture_t  *f = *state;

    /* the SRTCP index (4) and the GCM tag (16) */
    rtcp_round_trips(&f->gcm, 20);
}


static void
aes_cm_rtcp_sender_report_round_trips(void **state)
{
    fixture_t  *f = *state;

    /* the SRTCP index (4) and the HMAC-SHA1-80 tag (10) */
    rtcp_round_trips(&f->cm, 14);
}


static void
flipped_tag_bit_is_refused(session_t *s, uint16_t seq)
{
    size_t   len;
    uint8_t  buf[256];

    len = make_rtp(buf, seq, 0x0badcafe);
    assert_int_equal(kraken_srtp_protect(s->client, buf, &len, sizeof(buf)),
                     0);
    buf[len - 1] ^= 0x01;
    assert_int_equal(kraken_srtp_unprotect(s->server, buf, &len), -1);

    len = make_sr(buf, 0x0badcafe);
    assert_int_equal(kraken_srtp_protect_rtcp(s->client, buf, &len,
                                              sizeof(buf)), 0);
    buf[len - 1] ^= 0x80;
    assert_int_equal(kraken_srtp_unprotect_rtcp(s->server, buf, &len), -1);

    /* and a flipped payload bit, for good measure */
    len = make_rtp(buf, seq + 1, 0x0badcafe);
    assert_int_equal(kraken_srtp_protect(s->client, buf, &len, sizeof(buf)),
                     0);
    buf[20] ^= 0x04;
    assert_int_equal(kraken_srtp_unprotect(s->server, buf, &len), -1);
}


static void
gcm_flipped_tag_bit_is_refused(void **state)
{
    fixture_t  *f = *state;

    flipped_tag_bit_is_refused(&f->gcm, 2000);
}


static void
aes_cm_flipped_tag_bit_is_refused(void **state)
{
    fixture_t  *f = *state;

    flipped_tag_bit_is_refused(&f->cm, 2000);
}


static void
replay_is_refused(session_t *s, uint16_t seq)
{
    size_t   len, copy_len;
    uint8_t  buf[256], copy[256];

    len = make_rtp(buf, seq, 0x01020304);
    assert_int_equal(kraken_srtp_protect(s->client, buf, &len, sizeof(buf)),
                     0);
    memcpy(copy, buf, len);
    copy_len = len;

    assert_int_equal(kraken_srtp_unprotect(s->server, buf, &len), 0);
    assert_int_equal(kraken_srtp_unprotect(s->server, copy, &copy_len), -1);

    len = make_sr(buf, 0x01020304);
    assert_int_equal(kraken_srtp_protect_rtcp(s->client, buf, &len,
                                              sizeof(buf)), 0);
    memcpy(copy, buf, len);
    copy_len = len;

    assert_int_equal(kraken_srtp_unprotect_rtcp(s->server, buf, &len), 0);
    assert_int_equal(kraken_srtp_unprotect_rtcp(s->server, copy, &copy_len),
                     -1);
}


static void
gcm_replayed_packet_is_refused(void **state)
{
    fixture_t  *f = *state;

    replay_is_refused(&f->gcm, 3000);
}


static void
aes_cm_replayed_packet_is_refused(void **state)
{
    fixture_t  *f = *state;

    replay_is_refused(&f->cm, 3000);
}


static void
resending_a_packet_with_the_same_sequence_number_may_be_protected(
    void **state)
{
    size_t      len;
    uint8_t     buf[256];
    fixture_t  *f = *state;

    len = make_rtp(buf, 4000, 0x0a0b0c0d);
    assert_int_equal(kraken_srtp_protect(f->gcm.server, buf, &len,
                                         sizeof(buf)), 0);

    len = make_rtp(buf, 4000, 0x0a0b0c0d);
    assert_int_equal(kraken_srtp_protect(f->gcm.server, buf, &len,
                                         sizeof(buf)), 0);
}


static void
protect_needs_room_for_the_trailer(void **state)
{
    size_t      len;
    uint8_t     buf[256];
    fixture_t  *f = *state;

    len = make_rtp(buf, 5000, 0x0a0b0c0e);
    assert_int_equal(kraken_srtp_protect(f->gcm.server, buf, &len,
                                         len + KRAKEN_SRTP_MAX_TRAILER - 1),
                     -1);
    assert_int_equal(len, 12 + PAYLOAD);

    len = make_sr(buf, 0x0a0b0c0e);
    assert_int_equal(kraken_srtp_protect_rtcp(f->gcm.server, buf, &len,
                                              len), -1);
}


static void
short_or_garbage_packets_are_refused(void **state)
{
    int         i;
    size_t      len, n;
    uint8_t     buf[256];
    fixture_t  *f = *state;

    memset(buf, 0, sizeof(buf));

    for (n = 0; n < 12; n++) {
        len = n;
        assert_int_equal(kraken_srtp_protect(f->gcm.server, buf, &len,
                                             sizeof(buf)), -1);
        len = n;
        assert_int_equal(kraken_srtp_unprotect(f->gcm.server, buf, &len),
                         -1);
    }

    srand(5);

    for (i = 0; i < 1000; i++) {
        len = 12 + (size_t) rand() % 200;

        for (n = 0; n < len; n++) {
            buf[n] = (uint8_t) rand();
        }

        buf[0] = (uint8_t) (0x80 | (buf[0] & 0x3f));

        assert_int_equal(kraken_srtp_unprotect(f->gcm.server, buf, &len),
                         -1);
        assert_int_equal(kraken_srtp_unprotect(f->cm.server, buf, &len),
                         -1);
        assert_int_equal(kraken_srtp_unprotect_rtcp(f->gcm.server, buf,
                                                    &len), -1);
    }
}


static void
keys_of_an_unknown_profile_are_refused(void **state)
{
    kraken_srtp_keys_t  keys;

    memset(&keys, 0x11, sizeof(keys));
    keys.profile = 99;
    keys.len = 30;

    assert_null(kraken_srtp_create(&keys));
    kraken_srtp_free(NULL);
}


static size_t
unhex(const char *s, uint8_t *out)
{
    size_t        n;
    unsigned int  byte;

    for (n = 0; *s != '\0'; ) {
        if (*s == ' ') {
            s++;
            continue;
        }

        if (sscanf(s, "%2x", &byte) != 1) {
            break;
        }

        out[n++] = (uint8_t) byte;
        s += 2;
    }

    return n;
}


/* RFC 3711 B.2: a zero plaintext encrypts to the AES-CM keystream */
static void
evp_aes_cm_gives_the_rfc3711_b2_keystream(void **state)
{
    size_t          n;
    uint8_t         key[30], nonce[16], out[48], expect[48];
    uint32_t        len;
    srtp_cipher_t  *c;

    unhex("2b7e151628aed2a6abf7158809cf4f3c f0f1f2f3f4f5f6f7f8f9fafbfcfd",
          key);

    assert_int_equal(srtp_cipher_type_alloc(&kraken_srtp_evp_aes_icm_128,
                                            &c, 30, 0), srtp_err_status_ok);
    assert_int_equal(c->algorithm, SRTP_AES_ICM_128);
    assert_int_equal(c->key_len, 30);
    assert_int_equal(srtp_cipher_init(c, key), srtp_err_status_ok);

    memset(nonce, 0, sizeof(nonce));
    assert_int_equal(srtp_cipher_set_iv(c, nonce, srtp_direction_encrypt),
                     srtp_err_status_ok);
    len = 48;
    assert_int_equal(srtp_cipher_output(c, out, &len), srtp_err_status_ok);
    assert_int_equal(len, 48);
    n = unhex("e03ead0935c95e80e166b16dd92b4eb4"
              "d23513162b02d0f72a43a2fe4a5f97ab"
              "41e95b3bb0a2e8dd477901e4fca894c0", expect);
    assert_memory_equal(out, expect, n);

    /* counters FEFF, FF00, FF01, in two calls after one IV */
    nonce[14] = 0xfe;
    nonce[15] = 0xff;
    assert_int_equal(srtp_cipher_set_iv(c, nonce, srtp_direction_encrypt),
                     srtp_err_status_ok);
    len = 20;
    assert_int_equal(srtp_cipher_output(c, out, &len), srtp_err_status_ok);
    len = 28;
    assert_int_equal(srtp_cipher_output(c, out + 20, &len),
                     srtp_err_status_ok);
    n = unhex("ec8cdf7398607cb0f2d21675ea9ea1e4"
              "362b7c3c6773516318a077d7fc5073ae"
              "6a2cc3787889374fbeb4c81b17ba6c44", expect);
    assert_memory_equal(out, expect, n);

    assert_int_equal(srtp_cipher_dealloc(c), srtp_err_status_ok);
}


/*
 * RFC 3711 B.3: libsrtp derives the session keys with our AES-CM; a
 * packet protected with that master key must match one built here from
 * the RFC's session keys with OpenSSL directly, tag included.
 */
static void
aes_cm_packet_from_the_rfc3711_b3_master_key_matches_its_session_keys(
    void **state)
{
    int             i, n, outl;
    size_t          len;
    uint8_t         master[30], ckey[16], salt[14], akey[20], iv[16];
    uint8_t         plain[128], buf[256], expect[256], roc[4];
    unsigned int    mdlen;
    srtp_t          tx, rx;
    srtp_policy_t   policy;
    EVP_CIPHER_CTX *ctx;
    uint8_t         md[EVP_MAX_MD_SIZE];

    unhex("e1f97a0d3e018be0d64fa32c06de4139 0ec675ad498afeebb6960b3aabe6",
          master);
    unhex("c61e7a93744f39ee10734afe3ff7a087", ckey);
    unhex("30cbbc08863d8c85d49db34a9ae1", salt);
    unhex("cebe321f6ff7716b6fd4ab49af256a156d38baa4", akey);

    len = make_rtp(plain, 0x1234, 0xcafebabe);

    memset(&policy, 0, sizeof(srtp_policy_t));
    srtp_crypto_policy_set_rtp_default(&policy.rtp);
    srtp_crypto_policy_set_rtcp_default(&policy.rtcp);
    policy.ssrc.type = ssrc_any_outbound;
    policy.key = master;
    assert_int_equal(srtp_create(&tx, &policy), srtp_err_status_ok);
    policy.ssrc.type = ssrc_any_inbound;
    assert_int_equal(srtp_create(&rx, &policy), srtp_err_status_ok);

    memcpy(buf, plain, len);
    n = (int) len;
    assert_int_equal(srtp_protect(tx, buf, &n), srtp_err_status_ok);
    assert_int_equal(n, (int) len + 10);

    /* IV = salt * 2^16 ^ SSRC * 2^64 ^ index * 2^16, RFC 3711 4.1.1 */
    memset(iv, 0, sizeof(iv));
    memcpy(iv, salt, 14);
    for (i = 0; i < 4; i++) {
        iv[4 + i] ^= plain[8 + i];
    }
    iv[12] ^= plain[2];
    iv[13] ^= plain[3];

    memcpy(expect, plain, len);
    ctx = EVP_CIPHER_CTX_new();
    assert_non_null(ctx);
    assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), NULL, ckey,
                                        iv), 1);
    assert_int_equal(EVP_EncryptUpdate(ctx, expect + 12, &outl, plain + 12,
                                       (int) len - 12), 1);
    EVP_CIPHER_CTX_free(ctx);

    /* the tag covers the packet and the ROC, 0 here */
    memset(roc, 0, sizeof(roc));
    memcpy(expect + len, roc, 4);
    assert_non_null(HMAC(EVP_sha1(), akey, 20, expect, len + 4, md,
                         &mdlen));
    memcpy(expect + len, md, 10);

    assert_memory_equal(buf, expect, len + 10);

    assert_int_equal(srtp_unprotect(rx, buf, &n), srtp_err_status_ok);
    assert_int_equal(n, (int) len);
    assert_memory_equal(buf, plain, len);

    srtp_dealloc(tx);
    srtp_dealloc(rx);
}


static srtp_cipher_t *
rfc7714_gcm(void)
{
    uint8_t         key[28];
    srtp_cipher_t  *c;

    unhex("000102030405060708090a0b0c0d0e0f 517569642070726f2071756f", key);

    assert_int_equal(srtp_cipher_type_alloc(&kraken_srtp_evp_aes_gcm_128,
                                            &c, 28, 16), srtp_err_status_ok);
    assert_int_equal(c->algorithm, SRTP_AES_GCM_128);
    assert_int_equal(c->key_len, 28);
    assert_int_equal(srtp_cipher_init(c, key), srtp_err_status_ok);

    return c;
}


/* RFC 7714 16.1.1: SSRC 5501a0b2, seq f17b, "Gallia est omnis..." */
static void
evp_gcm_gives_the_rfc7714_srtp_packet(void **state)
{
    size_t          plain_len, prot_len;
    uint8_t         iv[12], plain[64], prot[128], buf[128];
    uint32_t        len, tag_len;
    srtp_cipher_t  *c;

    unhex("51753c6580c2726f20718414", iv);
    plain_len = unhex("8040f17b8041f8d35501a0b2"
                      "47616c6c696120657374206f6d6e6973"
                      "206469766973612069"
                      "6e207061727465732074726573", plain);
    prot_len = unhex("8040f17b8041f8d35501a0b2"
                     "f24de3a3fb34de6cacba861c9d7e4bca"
                     "be633bd50d294e6f42a5f47a51c7d19b"
                     "36de3adf8833"
                     "899d7f27beb16a9152cf765ee4390cce", prot);
    assert_int_equal(plain_len, 12 + 38);
    assert_int_equal(prot_len, plain_len + 16);

    c = rfc7714_gcm();

    memcpy(buf, plain, plain_len);
    assert_int_equal(srtp_cipher_set_iv(c, iv, srtp_direction_encrypt),
                     srtp_err_status_ok);
    assert_int_equal(srtp_cipher_set_aad(c, buf, 12), srtp_err_status_ok);
    len = 38;
    assert_int_equal(srtp_cipher_encrypt(c, buf + 12, &len),
                     srtp_err_status_ok);
    assert_int_equal(len, 38);
    assert_int_equal(srtp_cipher_get_tag(c, buf + 12 + len, &tag_len),
                     srtp_err_status_ok);
    assert_int_equal(tag_len, 16);
    assert_memory_equal(buf, prot, prot_len);

    /* decrypt is given the tag and takes it off the length */
    assert_int_equal(srtp_cipher_set_iv(c, iv, srtp_direction_decrypt),
                     srtp_err_status_ok);
    assert_int_equal(srtp_cipher_set_aad(c, buf, 12), srtp_err_status_ok);
    len = 38 + 16;
    assert_int_equal(srtp_cipher_decrypt(c, buf + 12, &len),
                     srtp_err_status_ok);
    assert_int_equal(len, 38);
    assert_memory_equal(buf, plain, plain_len);

    /* one flipped bit in the header, the ciphertext or the tag */
    memcpy(buf, prot, prot_len);
    buf[3] ^= 0x01;
    assert_int_equal(srtp_cipher_set_iv(c, iv, srtp_direction_decrypt),
                     srtp_err_status_ok);
    assert_int_equal(srtp_cipher_set_aad(c, buf, 12), srtp_err_status_ok);
    len = 38 + 16;
    assert_int_equal(srtp_cipher_decrypt(c, buf + 12, &len),
                     srtp_err_status_auth_fail);

    memcpy(buf, prot, prot_len);
    buf[30] ^= 0x10;
    assert_int_equal(srtp_cipher_set_iv(c, iv, srtp_direction_decrypt),
                     srtp_err_status_ok);
    assert_int_equal(srtp_cipher_set_aad(c, buf, 12), srtp_err_status_ok);
    len = 38 + 16;
    assert_int_equal(srtp_cipher_decrypt(c, buf + 12, &len),
                     srtp_err_status_auth_fail);

    memcpy(buf, prot, prot_len);
    buf[prot_len - 1] ^= 0x80;
    assert_int_equal(srtp_cipher_set_iv(c, iv, srtp_direction_decrypt),
                     srtp_err_status_ok);
    assert_int_equal(srtp_cipher_set_aad(c, buf, 12), srtp_err_status_ok);
    len = 38 + 16;
    assert_int_equal(srtp_cipher_decrypt(c, buf + 12, &len),
                     srtp_err_status_auth_fail);

    /* shorter than a tag */
    assert_int_equal(srtp_cipher_set_iv(c, iv, srtp_direction_decrypt),
                     srtp_err_status_ok);
    len = 15;
    assert_int_not_equal(srtp_cipher_decrypt(c, buf + 12, &len),
                         srtp_err_status_ok);

    assert_int_equal(srtp_cipher_dealloc(c), srtp_err_status_ok);
}


/* RFC 7714 17.1: SRTCP index 5d4, the AAD in two pieces as srtp.c does */
static void
evp_gcm_gives_the_rfc7714_srtcp_packet(void **state)
{
    size_t          plain_len, prot_len;
    uint8_t         iv[12], trailer[4], plain[64], prot[128], buf[128];
    uint32_t        len, tag_len;
    srtp_cipher_t  *c;

    unhex("517524055203726f207170bb", iv);
    unhex("800005d4", trailer);
    plain_len = unhex("81c8000d4d617273"
                      "4e5450314e545032525450200000042a"
                      "0000e9304c756e61deadbeefdeadbeef"
                      "deadbeefdeadbeefdeadbeef", plain);
    prot_len = unhex("81c8000d4d617273"
                     "63e94885dcdab67ca727d7662f6b7e99"
                     "7ff5c0f76c06f32dc676a5f1730d6fda"
                     "4ce09b4686303ded0bb9275b"
                     "c84aa45896cf4d2fc5abf87245d9eade", prot);
    assert_int_equal(plain_len, 8 + 44);
    assert_int_equal(prot_len, plain_len + 16);

    c = rfc7714_gcm();

    memcpy(buf, plain, plain_len);
    assert_int_equal(srtp_cipher_set_iv(c, iv, srtp_direction_encrypt),
                     srtp_err_status_ok);
    assert_int_equal(srtp_cipher_set_aad(c, buf, 8), srtp_err_status_ok);
    assert_int_equal(srtp_cipher_set_aad(c, trailer, 4), srtp_err_status_ok);
    len = 44;
    assert_int_equal(srtp_cipher_encrypt(c, buf + 8, &len),
                     srtp_err_status_ok);
    assert_int_equal(srtp_cipher_get_tag(c, buf + 8 + len, &tag_len),
                     srtp_err_status_ok);
    assert_int_equal(tag_len, 16);
    assert_memory_equal(buf, prot, prot_len);

    assert_int_equal(srtp_cipher_set_iv(c, iv, srtp_direction_decrypt),
                     srtp_err_status_ok);
    assert_int_equal(srtp_cipher_set_aad(c, buf, 8), srtp_err_status_ok);
    assert_int_equal(srtp_cipher_set_aad(c, trailer, 4), srtp_err_status_ok);
    len = 44 + 16;
    assert_int_equal(srtp_cipher_decrypt(c, buf + 8, &len),
                     srtp_err_status_ok);
    assert_int_equal(len, 44);
    assert_memory_equal(buf, plain, plain_len);

    /* a different SRTCP index is authenticated too */
    memcpy(buf, prot, prot_len);
    trailer[3] ^= 0x01;
    assert_int_equal(srtp_cipher_set_iv(c, iv, srtp_direction_decrypt),
                     srtp_err_status_ok);
    assert_int_equal(srtp_cipher_set_aad(c, buf, 8), srtp_err_status_ok);
    assert_int_equal(srtp_cipher_set_aad(c, trailer, 4), srtp_err_status_ok);
    len = 44 + 16;
    assert_int_equal(srtp_cipher_decrypt(c, buf + 8, &len),
                     srtp_err_status_auth_fail);

    assert_int_equal(srtp_cipher_dealloc(c), srtp_err_status_ok);
}


/* RFC 2202 case 2, the message in two updates, twice on one key */
static void
evp_hmac_sha1_gives_the_rfc2202_digest_in_pieces(void **state)
{
    int           round;
    uint8_t       expect[20], tag[20];
    srtp_auth_t  *a;

    unhex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79", expect);

    assert_int_equal(srtp_auth_type_alloc(&kraken_srtp_evp_hmac_sha1, &a, 4,
                                          10), srtp_err_status_ok);
    assert_int_equal(srtp_auth_get_tag_length(a), 10);
    assert_int_equal(srtp_auth_get_prefix_length(a), 0);
    assert_int_equal(srtp_auth_init(a, (const uint8_t *) "Jefe"),
                     srtp_err_status_ok);

    for (round = 0; round < 2; round++) {
        memset(tag, 0, sizeof(tag));
        assert_int_equal(srtp_auth_start(a), srtp_err_status_ok);
        assert_int_equal(srtp_auth_update(a,
                                          (const uint8_t *) "what do ya ",
                                          11), srtp_err_status_ok);
        assert_int_equal(srtp_auth_compute(a,
                                           (const uint8_t *)
                                           "want for nothing?", 17, tag),
                         srtp_err_status_ok);
        assert_memory_equal(tag, expect, 10);
        assert_int_equal(tag[10], 0);
    }

    assert_int_equal(srtp_auth_dealloc(a), srtp_err_status_ok);
}


static void
evp_types_refuse_other_key_and_tag_lengths(void **state)
{
    srtp_auth_t    *a;
    srtp_cipher_t  *c;

    assert_int_not_equal(srtp_cipher_type_alloc(
                             &kraken_srtp_evp_aes_icm_128, &c, 46, 0),
                         srtp_err_status_ok);
    assert_int_not_equal(srtp_cipher_type_alloc(
                             &kraken_srtp_evp_aes_gcm_128, &c, 44, 16),
                         srtp_err_status_ok);
    assert_int_not_equal(srtp_cipher_type_alloc(
                             &kraken_srtp_evp_aes_gcm_128, &c, 28, 12),
                         srtp_err_status_ok);
    assert_int_not_equal(srtp_auth_type_alloc(&kraken_srtp_evp_hmac_sha1,
                                              &a, 20, 21),
                         srtp_err_status_ok);
}


/* one CSRC and a one-word one-byte-header extension, as browsers send */
static size_t
make_rtp_ext(uint8_t *buf, uint16_t seq, uint32_t ssrc)
{
    size_t  len;

    len = make_rtp(buf, seq, ssrc);
    memmove(buf + 24, buf + 12, PAYLOAD);

    buf[0] = 0x91;                              /* V=2, X=1, CC=1 */
    memcpy(buf + 12, "\x01\x02\x03\x04", 4);   /* CSRC */
    memcpy(buf + 16, "\xbe\xde\x00\x01", 4);   /* 1 word follows */
    memcpy(buf + 20, "\x10\x7f\x00\x00", 4);   /* audio level */

    return len + 12;
}


/*
 * The engine's forwarding path keeps the rollover counter itself; what it
 * writes must be what libsrtp would have written, across a sequence wrap
 * and for a late packet from before it, and the browser must take it.
 */
static void
forward_matches_libsrtp(session_t *s, int ext, uint32_t ssrc)
{
    size_t               i, len, la, lb;
    uint8_t              plain[256], a[256], b[256];
    kraken_srtp_t       *lib, *fwd;
    kraken_rtp_header_t  h;
    static const uint16_t  seqs[] = { 65533, 65534, 65535, 0, 1, 65532, 2 };
    static const uint32_t  rocs[] = { 0, 0, 0, 1, 1, 0, 1 };

    lib = kraken_srtp_create(&s->server_keys);
    fwd = kraken_srtp_create(&s->server_keys);
    assert_non_null(lib);
    assert_non_null(fwd);

    for (i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
        len = ext ? make_rtp_ext(plain, seqs[i], ssrc)
                  : make_rtp(plain, seqs[i], ssrc);
        memcpy(a, plain, len);
        memcpy(b, plain, len);
        la = len;
        lb = len;

        /* the engine passes the header length it parsed */
        assert_int_equal(kraken_rtp_parse(plain, len, &h), 0);
        assert_int_equal(h.header_len, ext ? 24 : 12);

        assert_int_equal(kraken_srtp_protect(lib, a, &la, sizeof(a)), 0);
        assert_int_equal(kraken_srtp_protect_forward(fwd, b, &lb, sizeof(b),
                                                     h.header_len, rocs[i]),
                         0);
        assert_int_equal(lb, la);
        assert_memory_equal(b, a, la);

        assert_int_equal(kraken_srtp_unprotect(s->client, b, &lb), 0);
        assert_int_equal(lb, len);
        assert_memory_equal(b, plain, len);
    }

    kraken_srtp_free(lib);
    kraken_srtp_free(fwd);
}


static void
gcm_forwarded_rtp_is_what_libsrtp_writes(void **state)
{
    fixture_t  *f = *state;

    forward_matches_libsrtp(&f->gcm, 0, 0x0f000001);
    forward_matches_libsrtp(&f->gcm, 1, 0x0f000002);
}


static void
aes_cm_forwarded_rtp_is_what_libsrtp_writes(void **state)
{
    fixture_t  *f = *state;

    forward_matches_libsrtp(&f->cm, 0, 0x0f000003);
    forward_matches_libsrtp(&f->cm, 1, 0x0f000004);
}


static void
forwarding_refuses_a_header_longer_than_the_packet(void **state)
{
    size_t      len;
    uint8_t     buf[256];
    fixture_t  *f = *state;

    /* the extension claims 16384 words: the header it claims */
    len = make_rtp_ext(buf, 7, 0x0f000005);
    buf[18] = 0x40;

    assert_int_equal(kraken_srtp_protect_forward(f->gcm.server, buf, &len,
                                                 sizeof(buf),
                                                 20 + 16384 * 4, 0), -1);
    assert_int_equal(kraken_srtp_protect_forward(f->cm.server, buf, &len,
                                                 sizeof(buf),
                                                 20 + 16384 * 4, 0), -1);

    /* X set, no room for the extension header; shorter than a header */
    len = 14;
    buf[0] = 0x90;
    assert_int_equal(kraken_srtp_protect_forward(f->gcm.server, buf, &len,
                                                 sizeof(buf), 16, 0), -1);
    assert_int_equal(kraken_srtp_protect_forward(f->gcm.server, buf, &len,
                                                 sizeof(buf), 8, 0), -1);

    len = 112;
    assert_int_equal(kraken_srtp_protect_forward(f->gcm.server, buf, &len,
                                                 len + 4, 12, 0), -1);
}


static int
setup(void **state)
{
    fixture_t  *f;

    if (kraken_srtp_init() != 0 || kraken_srtp_init() != 0) {
        return -1;
    }

    f = calloc(1, sizeof(fixture_t));
    if (f == NULL) {
        return -1;
    }

    *state = f;

    if (handshake(&f->gcm,
                  "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80") != 0
        || handshake(&f->cm, "SRTP_AES128_CM_SHA1_80") != 0)
    {
        return -1;
    }

    return 0;
}


static int
teardown(void **state)
{
    fixture_t  *f = *state;

    kraken_srtp_free(f->gcm.server);
    kraken_srtp_free(f->gcm.client);
    kraken_srtp_free(f->cm.server);
    kraken_srtp_free(f->cm.client);
    free(f);

    /* libsrtp's global tables, so that valgrind sees no leak */
    srtp_shutdown();

    return 0;
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(gcm_rtp_round_trips_both_ways),
        cmocka_unit_test(aes_cm_rtp_round_trips_both_ways),
        cmocka_unit_test(gcm_rtcp_sender_report_round_trips),
        cmocka_unit_test(aes_cm_rtcp_sender_report_round_trips),
        cmocka_unit_test(gcm_flipped_tag_bit_is_refused),
        cmocka_unit_test(aes_cm_flipped_tag_bit_is_refused),
        cmocka_unit_test(gcm_replayed_packet_is_refused),
        cmocka_unit_test(aes_cm_replayed_packet_is_refused),
        cmocka_unit_test(
            resending_a_packet_with_the_same_sequence_number_may_be_protected),
        cmocka_unit_test(protect_needs_room_for_the_trailer),
        cmocka_unit_test(short_or_garbage_packets_are_refused),
        cmocka_unit_test(keys_of_an_unknown_profile_are_refused),
        cmocka_unit_test(evp_aes_cm_gives_the_rfc3711_b2_keystream),
        cmocka_unit_test(
         aes_cm_packet_from_the_rfc3711_b3_master_key_matches_its_session_keys),
        cmocka_unit_test(evp_gcm_gives_the_rfc7714_srtp_packet),
        cmocka_unit_test(evp_gcm_gives_the_rfc7714_srtcp_packet),
        cmocka_unit_test(evp_hmac_sha1_gives_the_rfc2202_digest_in_pieces),
        cmocka_unit_test(evp_types_refuse_other_key_and_tag_lengths),
        cmocka_unit_test(gcm_forwarded_rtp_is_what_libsrtp_writes),
        cmocka_unit_test(aes_cm_forwarded_rtp_is_what_libsrtp_writes),
        cmocka_unit_test(forwarding_refuses_a_header_longer_than_the_packet),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
