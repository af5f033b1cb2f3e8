/*
 * The numbers of forwarded RTP (kraken_rtp_rewrite.c): the inbound index
 * tracker against libsrtp's own decisions, and the outbound rewrite across
 * wraps, late packets, jumps and source changes, ending at a libsrtp
 * receiver.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kraken_rtp.h"
#include "kraken_rtp_rewrite.h"
#include "kraken_srtp.h"


#define WINDOW  1024                    /* kraken_srtp.c's inbound window */
#define SEEN    (1 << 20)


/* a set of 48-bit indexes, open addressing */
static uint64_t  seen[SEEN];


static int
seen_add(uint64_t v)
{
    uint32_t  h;

    v++;                                /* 0 marks a free entry */
    h = (uint32_t) ((v * 0x9e3779b97f4a7c15ULL) >> 44) & (SEEN - 1);

    while (seen[h]) {
        if (seen[h] == v) {
            return 0;
        }

        h = (h + 1) & (SEEN - 1);
    }

    seen[h] = v;

    return 1;
}


static void
pair(int profile, kraken_srtp_t **tx, kraken_srtp_t **rx)
{
    int                 i;
    kraken_srtp_keys_t  a, b;

    memset(&a, 0, sizeof(a));
    a.profile = profile;
    a.len = (profile == KRAKEN_SRTP_AEAD_AES_128_GCM) ? 28 : 30;

    for (i = 0; i < 32; i++) {
        a.local[i] = (uint8_t) (i * 7 + 1);
        a.remote[i] = (uint8_t) (i * 13 + 5);
    }

    b = a;
    memcpy(b.local, a.remote, 32);
    memcpy(b.remote, a.local, 32);

    *tx = kraken_srtp_create(&a);
    *rx = kraken_srtp_create(&b);
    assert_non_null(*tx);
    assert_non_null(*rx);
}


/* Protects a packet with the given index; 0 if the receiver took it. */

static int
deliver(kraken_srtp_t *tx, kraken_srtp_t *rx, uint32_t ssrc, uint64_t index)
{
    size_t   len;
    uint8_t  buf[256];

    memset(buf, 0, sizeof(buf));
    buf[0] = 0x80;
    kraken_rtp_write(buf, 111, (uint16_t) index, 0, ssrc);
    memset(buf + 12, 0x5a, 40);
    len = 52;

    assert_int_equal(kraken_srtp_protect_forward(tx, buf, &len, sizeof(buf),
                                                 12, (uint32_t) (index >> 16)),
                     0);

    return kraken_srtp_unprotect(rx, buf, &len);
}


static void
index_follows_libsrtp(int profile)
{
    int                  i, took, step;
    int32_t              diff;
    uint64_t             truth, guess;
    kraken_srtp_t       *tx, *rx;
    kraken_rtp_index_t   ix;
    static const int     steps[] = {
        1, 1, 1, 1, 1, 1, 1, 1, 2, 3, 100, -1, -2, -5, -300, -1023,
        -1024, -1025, 1000, 8191, 8192, 32767, 32768, 32769, -32767,
        -32768, -32769, 40000, 65535, 65536, -40000
    };

    pair(profile, &tx, &rx);
    memset(seen, 0, sizeof(seen));
    memset(&ix, 0, sizeof(ix));
    srandom(7);

    truth = 65000;                      /* near the first wrap */

    for (i = 0; i < 20000; i++) {
        step = steps[random() % (sizeof(steps) / sizeof(steps[0]))];

        if ((int64_t) truth + step < 0) {
            continue;
        }

        truth += step;

        if (!seen_add(truth)) {
            continue;                   /* a sender never repeats one */
        }

        diff = kraken_rtp_index_guess(&ix, (uint16_t) truth, &guess);
        took = deliver(tx, rx, 0x1234, truth) == 0;

        /* libsrtp takes a packet exactly when its guess is the truth */
        assert_int_equal(took, guess == truth && (!ix.started || diff > 0
                                                  || diff > -WINDOW));

        if (took) {
            assert_true(kraken_rtp_index_accept(&ix, (uint16_t) truth)
                        == truth);
        }
    }

    kraken_srtp_free(tx);
    kraken_srtp_free(rx);
}


static void
test_inbound_index_is_libsrtps_own_gcm(void **state)
{
    index_follows_libsrtp(KRAKEN_SRTP_AEAD_AES_128_GCM);
}


static void
test_inbound_index_is_libsrtps_own_aes_cm(void **state)
{
    index_follows_libsrtp(KRAKEN_SRTP_AES128_CM_SHA1_80);
}


static void
test_half_space_jump_is_ahead_from_the_lower_half(void **state)
{
    uint64_t            index;
    kraken_rtp_index_t  ix;

    memset(&ix, 0, sizeof(ix));
    kraken_rtp_index_accept(&ix, 1000);

    /* +32768 from the lower half: the next packet, as libsrtp has it */
    assert_true(kraken_rtp_index_guess(&ix, 1000 + 32768, &index) > 0);
    assert_true(index == 1000 + 32768);
    assert_true(kraken_rtp_index_accept(&ix, 1000 + 32768) == 33768);

    /* +32768 again, now from the upper half: behind, in the same roll */
    assert_true(kraken_rtp_index_guess(&ix, 1000, &index) < 0);
    assert_true(index == 1000);
}


static uint64_t
out_index(kraken_rtp_rewrite_t *rw, uint32_t ssrc, uint64_t in, int *ok)
{
    uint16_t  seq;
    uint32_t  roc, ts;

    *ok = kraken_rtp_rewrite(rw, ssrc, in, (uint32_t) in * 960, &roc, &seq,
                             &ts) == 0;

    return (uint64_t) roc << 16 | seq;
}


static void
test_in_order_packets_keep_their_steps_across_a_wrap(void **state)
{
    int                   i, ok;
    uint64_t              out;
    kraken_rtp_rewrite_t  rw;

    kraken_rtp_rewrite_init(&rw, 65530, 0);

    for (i = 0; i < 20; i++) {
        out = out_index(&rw, 1, 400 + i, &ok);
        assert_true(ok);
        assert_true(out == 65530 + (uint64_t) i);
    }

    /* a gap from loss stays a gap */
    out = out_index(&rw, 1, 400 + 19 + 100, &ok);
    assert_true(ok && out == 65530 + 19 + 100);
}


static void
test_late_packets_keep_their_place_before_a_wrap(void **state)
{
    int                   ok;
    uint64_t              out;
    kraken_rtp_rewrite_t  rw;

    kraken_rtp_rewrite_init(&rw, 65500, 0);

    assert_true(out_index(&rw, 1, 1000, &ok) == 65500 && ok);
    assert_true(out_index(&rw, 1, 1040, &ok) == 65540 && ok);

    /* late, and from before the outbound wrap: the ROC before it */
    out = out_index(&rw, 1, 1020, &ok);
    assert_true(ok);
    assert_true(out == 65520);
    assert_int_equal(out >> 16, 0);

    /* the highest is unchanged: the next continues from 65540 */
    assert_true(out_index(&rw, 1, 1041, &ok) == 65541 && ok);
}


static void
test_jumps_of_8192_or_more_continue_right_after(void **state)
{
    int                   ok;
    uint64_t              in, out;
    kraken_rtp_rewrite_t  rw;

    kraken_rtp_rewrite_init(&rw, 100, 0);

    in = 5000;
    assert_true(out_index(&rw, 1, in, &ok) == 100 && ok);

    in += 8191;
    assert_true(out_index(&rw, 1, in, &ok) == 100 + 8191 && ok);

    out = 100 + 8191;

    in += 32767;
    assert_true(out_index(&rw, 1, in, &ok) == ++out && ok);
    in += 32768;
    assert_true(out_index(&rw, 1, in, &ok) == ++out && ok);
    in += 32769;
    assert_true(out_index(&rw, 1, in, &ok) == ++out && ok);
    in += 8192;
    assert_true(out_index(&rw, 1, in, &ok) == ++out && ok);

    /* from before the last jump: its outbound index may be taken */
    out_index(&rw, 1, in - 1, &ok);
    assert_false(ok);

    in += 1;
    assert_true(out_index(&rw, 1, in, &ok) == ++out && ok);
}


static void
test_a_new_source_continues_the_numbers(void **state)
{
    uint16_t              seq;
    uint32_t              roc, ts;
    kraken_rtp_rewrite_t  rw;

    kraken_rtp_rewrite_init(&rw, 7, 1000);

    assert_int_equal(kraken_rtp_rewrite(&rw, 1, 50, 96000, &roc, &seq, &ts),
                     0);
    assert_int_equal(seq, 7);
    assert_int_equal(ts, 97000);

    assert_int_equal(kraken_rtp_rewrite(&rw, 2, 60000, 5, &roc, &seq, &ts),
                     0);
    assert_int_equal(seq, 8);
    assert_int_equal(ts, 97000 + 960);

    /* the first source again, from where it was: a new epoch */
    assert_int_equal(kraken_rtp_rewrite(&rw, 1, 51, 96960, &roc, &seq, &ts),
                     0);
    assert_int_equal(seq, 9);
    assert_int_equal(ts, 97000 + 2 * 960);

    /* and its packets from before that epoch are dropped */
    assert_int_equal(kraken_rtp_rewrite(&rw, 1, 50, 96000, &roc, &seq, &ts),
                     -1);
}


/*
 * Whatever a publisher sends that libsrtp accepts, a subscriber never sees
 * an index twice, and its own libsrtp takes every packet that advances.
 */

static void
test_no_outbound_index_repeats_and_the_receiver_follows(void **state)
{
    int                    i, ok, s, step;
    uint32_t               ssrc;
    uint64_t               in[3], out, top, guess;
    kraken_srtp_t         *tx, *rx;
    kraken_rtp_index_t     ix[3];
    kraken_rtp_rewrite_t   rw;
    static const int       steps[] = {
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 50, -1, -3, -40, 8191,
        8192, 32767, 32768, 32769
    };

    pair(KRAKEN_SRTP_AEAD_AES_128_GCM, &tx, &rx);
    memset(seen, 0, sizeof(seen));
    memset(ix, 0, sizeof(ix));
    kraken_rtp_rewrite_init(&rw, 65000, 0);
    srandom(11);

    in[0] = 10;
    in[1] = 30000;
    in[2] = 65530;
    s = 0;
    top = 0;

    for (i = 0; i < 20000; i++) {
        if (random() % 500 == 0) {
            s = (int) (random() % 3);
        }

        step = steps[random() % (sizeof(steps) / sizeof(steps[0]))];
        if ((int64_t) in[s] + step < 0) {
            continue;
        }

        in[s] += step;
        ssrc = 100 + s;

        /* what the publisher's libsrtp session takes: its own guess, */
        if (kraken_rtp_index_guess(&ix[s], (uint16_t) in[s], &guess)
            <= -WINDOW
            || guess != in[s])
        {
            continue;
        }

        /* never twice */
        if (!seen_add((uint64_t) (s + 1) << 50 | in[s])) {
            continue;
        }

        kraken_rtp_index_accept(&ix[s], (uint16_t) in[s]);

        out = out_index(&rw, ssrc, in[s], &ok);
        if (!ok) {
            continue;
        }

        assert_true(seen_add(out));

        if (out > top) {
            /* a step the receiver follows: below 8192 */
            assert_true(top == 0 || out - top < 8192);
            assert_int_equal(deliver(tx, rx, 0xabcd, out), 0);
            top = out;
        }
    }

    kraken_srtp_free(tx);
    kraken_srtp_free(rx);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inbound_index_is_libsrtps_own_gcm),
        cmocka_unit_test(test_inbound_index_is_libsrtps_own_aes_cm),
        cmocka_unit_test(test_half_space_jump_is_ahead_from_the_lower_half),
        cmocka_unit_test(test_in_order_packets_keep_their_steps_across_a_wrap),
        cmocka_unit_test(test_late_packets_keep_their_place_before_a_wrap),
        cmocka_unit_test(test_jumps_of_8192_or_more_continue_right_after),
        cmocka_unit_test(test_a_new_source_continues_the_numbers),
        cmocka_unit_test(
            test_no_outbound_index_repeats_and_the_receiver_follows),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
