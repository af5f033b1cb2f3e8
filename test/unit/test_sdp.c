/*
 * SDP: the real browser offers in t/data, hostile input, and the writer
 * read back by the parser.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kraken_sdp.h"


static kraken_sdp_t  *sdp;


static char *
slurp(const char *name, size_t *len)
{
    char   path[256], *buf;
    FILE  *f;

    snprintf(path, sizeof(path), "../../t/data/%s", name);
    f = fopen(path, "rb");
    assert_non_null(f);

    buf = malloc(KRAKEN_SDP_MAX_LEN + 1);
    assert_non_null(buf);
    *len = fread(buf, 1, KRAKEN_SDP_MAX_LEN, f);
    buf[*len] = '\0';
    fclose(f);

    return buf;
}


static int
parse(const char *text, size_t len)
{
    char  err[128];

    return kraken_sdp_parse(sdp, text, len, err, sizeof(err));
}


static void
test_chromium_offer_names_opus_111_and_its_transport(void **state)
{
    char    *text;
    size_t   len;

    text = slurp("chromium-156-offer-audio.sdp", &len);
    assert_int_equal(parse(text, len), 0);

    assert_int_equal(sdp->nmedia, 1);
    assert_int_equal(sdp->media[0].kind, KRAKEN_SDP_AUDIO);
    assert_string_equal(sdp->media[0].mid, "0");
    assert_int_equal(sdp->media[0].opus_pt, 111);
    assert_string_equal(sdp->media[0].opus_fmtp,
                        "minptime=10;useinbandfec=1");
    assert_int_equal(sdp->media[0].direction, KRAKEN_SDP_SENDRECV);
    assert_true(sdp->media[0].rtcp_mux);
    assert_true(strlen(sdp->ice_ufrag) >= 4);
    assert_true(strlen(sdp->ice_pwd) >= 22);
    assert_string_equal(sdp->fingerprint.alg, "sha-256");
    assert_int_equal(sdp->fingerprint.len, 32);
    assert_int_equal(sdp->setup, KRAKEN_SDP_SETUP_ACTPASS);
    assert_true(sdp->media[0].ssrc != 0);
    free(text);
}


static void
test_datachannel_offer_keeps_the_application_mline(void **state)
{
    char    *text;
    size_t   len;

    text = slurp("chromium-156-offer-audio-datachannel.sdp", &len);
    assert_int_equal(parse(text, len), 0);
    assert_int_equal(sdp->nmedia, 2);
    assert_int_equal(sdp->media[1].kind, KRAKEN_SDP_APPLICATION);
    assert_int_equal(sdp->media[1].opus_pt, -1);
    assert_string_equal(sdp->media[1].proto, "UDP/DTLS/SCTP");
    assert_string_equal(sdp->media[1].fmts, "webrtc-datachannel");
    free(text);
}


static void
test_firefox_offer_is_opus_109_with_session_level_transport(void **state)
{
    char    *text;
    size_t   len;

    text = slurp("firefox-esr-153.7.0esr-offer-audio.sdp", &len);
    assert_int_equal(parse(text, len), 0);
    assert_int_equal(sdp->media[0].opus_pt, 109);
    assert_non_null(strstr(sdp->media[0].opus_fmtp,
                           "maxplaybackrate=48000"));
    assert_int_equal(sdp->media[0].direction, KRAKEN_SDP_SENDRECV);
    assert_int_equal(sdp->fingerprint.len, 32);
    assert_int_equal(sdp->media[0].msid_stream[0], '{');
    free(text);
}


static void
test_lf_line_ends_parse_the_same(void **state)
{
    char    *text, *lf, *p, *q;
    size_t   len;

    text = slurp("chromium-156-offer-audio.sdp", &len);
    lf = malloc(len + 1);

    for (p = text, q = lf; *p; p++) {
        if (*p != '\r') {
            *q++ = *p;
        }
    }

    assert_int_equal(parse(lf, q - lf), 0);
    assert_int_equal(sdp->media[0].opus_pt, 111);
    assert_string_equal(sdp->media[0].opus_fmtp,
                        "minptime=10;useinbandfec=1");
    free(lf);
    free(text);
}


static void
test_every_prefix_and_flipped_byte_is_safe(void **state)
{
    int      i;
    char    *text, *copy;
    size_t   len, n;

    text = slurp("firefox-esr-153.7.0esr-offer-audio.sdp", &len);

    /* in their own buffers, so ASan sees any read past the end */
    for (n = 0; n <= len; n++) {
        copy = malloc(n ? n : 1);
        memcpy(copy, text, n);
        (void) parse(copy, n);
        free(copy);
    }

    srand(7);

    for (i = 0; i < 3000; i++) {
        copy = malloc(len);
        memcpy(copy, text, len);
        copy[rand() % len] = (char) (rand() % 256);
        copy[rand() % len] = (char) (rand() % 256);
        (void) parse(copy, len);
        free(copy);
    }

    free(text);
}


static void
test_limits_are_errors_not_truncation(void **state)
{
    int      i;
    char    *big, *p;
    char     line[400];

    assert_int_equal(parse("", 0), -1);
    assert_int_equal(parse("m=audio 9 RTP/AVP 0\r\n", 21), -1);

    /* a 300-byte ufrag */
    memset(line, 'u', sizeof(line));
    memcpy(line, "v=0\r\na=ice-ufrag:", 17);
    memcpy(line + 317 - 17 + 17, "\r\n", 2);
    assert_int_equal(parse(line, 319), -1);

    big = malloc(64 * (KRAKEN_SDP_MAX_MEDIA + 2));
    p = big + sprintf(big, "v=0\r\n");

    for (i = 0; i < KRAKEN_SDP_MAX_MEDIA + 1; i++) {
        p += sprintf(p, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:%d\r\n", i);
    }

    assert_int_equal(parse(big, p - big), -1);
    free(big);
}


static void
test_written_answer_reads_back(void **state)
{
    char                    buf[4096];
    size_t                  n;
    kraken_sdp_desc_t       d;
    kraken_sdp_out_media_t  m[3];

    memset(&d, 0, sizeof(d));
    memset(m, 0, sizeof(m));

    m[0].mid = "0";
    m[0].media = "audio";
    m[0].direction = KRAKEN_SDP_RECVONLY;
    m[0].pt = 109;
    m[0].channels = 2;
    m[0].fmtp = "stereo=1";

    m[1].rejected = 1;
    m[1].mid = "1";
    m[1].media = "application";
    m[1].proto = "UDP/DTLS/SCTP";
    m[1].fmts = "webrtc-datachannel";

    m[2].mid = "2";
    m[2].media = "audio";
    m[2].direction = KRAKEN_SDP_SENDONLY;
    m[2].pt = 109;
    m[2].ssrc = 1234;
    m[2].msid_stream = "alice";
    m[2].msid_track = "track-1";
    m[2].cname = "k";

    d.session_id = 1;
    d.session_version = 2;
    d.ice_ufrag = "abcd";
    d.ice_pwd = "0123456789012345678901";
    d.fingerprint = "sha-256 AA:BB";
    d.setup = "passive";
    d.cand_ip = "127.0.0.1";
    d.cand_port = 20000;
    d.nmedia = 3;
    d.media = m;

    n = kraken_sdp_write(&d, buf, sizeof(buf));
    assert_true(n > 0);
    assert_non_null(strstr(buf, "a=group:BUNDLE 0 2\r\n"));
    assert_non_null(strstr(buf, "m=application 0 UDP/DTLS/SCTP "
                                "webrtc-datachannel\r\n"));
    assert_non_null(strstr(buf, "a=candidate:1 1 udp 2130706431 127.0.0.1 "
                                "20000 typ host\r\n"));

    assert_int_equal(parse(buf, n), 0);
    assert_true(sdp->ice_lite);
    assert_int_equal(sdp->nmedia, 3);
    assert_int_equal(sdp->media[0].direction, KRAKEN_SDP_RECVONLY);
    assert_int_equal(sdp->media[1].port, 0);
    assert_int_equal(sdp->media[2].opus_pt, 109);
    assert_int_equal(sdp->media[2].ssrc, 1234);
    assert_string_equal(sdp->media[2].msid_stream, "alice");
    assert_string_equal(sdp->media[2].msid_track, "track-1");

    /* too small: nothing, never an overflow */
    assert_int_equal(kraken_sdp_write(&d, buf, 100), 0);
}


static void
test_trickled_candidates_are_checked(void **state)
{
    size_t       i;
    const char  *good[] = {
        "candidate:1 1 udp 2122260223 127.0.0.1 54321 typ host",
        "a=candidate:2 1 UDP 1686052607 203.0.113.7 1234 typ srflx "
        "raddr 10.0.0.1 rport 1234 generation 0",
        "candidate:3 1 tcp 1518280447 ::1 9 typ host tcptype active",
        "candidate:4 1 udp 2122260223 0f1e2d3c-4b5a-6978.local 5000 typ host",
    };
    const char  *bad[] = {
        "", "candidate:", "candidate:1 1 udp x 127.0.0.1 1 typ host",
        "candidate:1 1 sctp 1 127.0.0.1 1 typ host",
        "candidate:1 1 udp 1 127.0.0.1 70000 typ host",
        "candidate:1 1 udp 1 127.0.0.1 1 type host",
        "candidate:1 1 udp 1 <script> 1 typ host",
        "candidate:1 1 udp 1 127.0.0.1 1 typ lol",
    };

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(kraken_sdp_check_candidate(good[i],
                                                    strlen(good[i])), 0);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(kraken_sdp_check_candidate(bad[i],
                                                    strlen(bad[i])), -1);
    }
}


static int
setup(void **state)
{
    sdp = malloc(sizeof(kraken_sdp_t));

    return sdp == NULL;
}


static int
teardown(void **state)
{
    free(sdp);

    return 0;
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_chromium_offer_names_opus_111_and_its_transport),
        cmocka_unit_test(test_datachannel_offer_keeps_the_application_mline),
        cmocka_unit_test(
            test_firefox_offer_is_opus_109_with_session_level_transport),
        cmocka_unit_test(test_lf_line_ends_parse_the_same),
        cmocka_unit_test(test_every_prefix_and_flipped_byte_is_safe),
        cmocka_unit_test(test_limits_are_errors_not_truncation),
        cmocka_unit_test(test_written_answer_reads_back),
        cmocka_unit_test(test_trickled_candidates_are_checked),
    };

    return cmocka_run_group_tests_name("sdp", tests, setup, teardown);
}
