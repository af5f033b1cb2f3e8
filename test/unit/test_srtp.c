/*
 * SRTP and SRTCP keyed from a real in-memory DTLS handshake, for both
 * profiles: what one side protects the other unprotects, and tampering or
 * replay is refused.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <srtp2/srtp.h>

#include "kraken_dtls.h"
#include "kraken_srtp.h"


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
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
