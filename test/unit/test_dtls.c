/*
 * DTLS-SRTP in memory: a client and a server association exchange
 * datagrams through the test, which may drop, corrupt or inspect them.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "kraken_dtls.h"


#define DATAGRAM_CAP  2048
#define MAX_ROUNDS    64


typedef struct {
    kraken_dtls_ctx_t  *server_ctx;
    kraken_dtls_ctx_t  *client_ctx;
    kraken_dtls_t      *server;
    kraken_dtls_t      *client;
    uint64_t            now;
    int                 no_timers;      /* run() returns instead of waiting */
} pair_t;

/* what the shuttle saw and did */
typedef struct {
    int                 drop;           /* drop this many datagrams */
    int                 dropped;
    int                 moved;
    int                 max_records;    /* most records in one datagram */
    int                 garbage;        /* junk datagrams before each one */
    int                 whole;          /* junk shaped as whole records */
} link_t;


static void
parse_fingerprint(const char *s, uint8_t *fp, size_t *len)
{
    unsigned int  byte;

    assert_non_null(s);
    assert_int_equal(strncmp(s, "sha-256 ", 8), 0);
    s += 8;

    for (*len = 0; *s != '\0'; (*len)++) {
        assert_int_equal(sscanf(s, "%2X", &byte), 1);
        fp[*len] = (uint8_t) byte;
        s += 2;

        if (*s == ':') {
            s++;
        }
    }

    assert_int_equal(*len, 32);
}


static kraken_dtls_t *
create_for(kraken_dtls_ctx_t *ours, kraken_dtls_ctx_t *theirs, int server,
    int wrong_fp)
{
    size_t          len;
    uint8_t         fp[64];
    kraken_dtls_t  *d;

    parse_fingerprint(kraken_dtls_ctx_fingerprint(theirs), fp, &len);

    if (wrong_fp) {
        fp[len - 1] ^= 0x01;
    }

    d = kraken_dtls_create(ours, server, "sha-256", fp, len);
    assert_non_null(d);

    return d;
}


static void
pair_init(pair_t *p, void **state, int wrong_server_fp, int wrong_client_fp)
{
    pair_t  *ctxs = *state;

    memset(p, 0, sizeof(pair_t));
    p->server_ctx = ctxs->server_ctx;
    p->client_ctx = ctxs->client_ctx;
    p->now = 1000000;

    p->server = create_for(p->server_ctx, p->client_ctx, 1, wrong_server_fp);
    p->client = create_for(p->client_ctx, p->server_ctx, 0, wrong_client_fp);
}


static void
pair_free(pair_t *p)
{
    kraken_dtls_free(p->server);
    kraken_dtls_free(p->client);
}


/* every datagram is a run of whole records, within the MTU unless alone */
static int
check_datagram(const uint8_t *buf, size_t n)
{
    int     records;
    size_t  off, rec;

    assert_true(n > 0);

    for (off = 0, records = 0; off < n; off += rec, records++) {
        assert_true(off + 13 <= n);
        rec = 13 + ((size_t) buf[off + 11] << 8 | buf[off + 12]);
        assert_true(off + rec <= n);
    }

    if (records > 1) {
        assert_true(n <= KRAKEN_DTLS_MTU);
    }

    return records;
}


static void
fill_random(uint8_t *buf, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        buf[i] = (uint8_t) rand();
    }
}


/*
 * Random datagrams. Not whole: random bytes, or a DTLS 1.2 handshake
 * record header whose length runs past the end. Whole: a well-formed
 * epoch 0 handshake record with a random body.
 */
static void
feed_garbage(kraken_dtls_t *d, int rounds, int whole, int drain)
{
    int      i, state;
    size_t   len, rlen;
    uint8_t  buf[1500];

    for (i = 0; i < rounds; i++) {
        len = (size_t) rand() % sizeof(buf);
        fill_random(buf, len);

        if (len >= 13 && (whole || i % 2 == 0)) {
            buf[0] = 22;
            buf[1] = 0xfe;
            buf[2] = 0xfd;
            buf[3] = 0;
            buf[4] = 0;

            rlen = whole ? len - 13 : len - 13 + 1 + (size_t) rand() % 1000;
            buf[11] = (uint8_t) (rlen >> 8);
            buf[12] = (uint8_t) rlen;
        }

        state = kraken_dtls_input(d, buf, len);
        assert_true(state == KRAKEN_DTLS_HANDSHAKING
                    || state == KRAKEN_DTLS_CONNECTED
                    || state == KRAKEN_DTLS_FAILED);
    }

    /* whatever it answered must be well formed */
    while (drain && (len = kraken_dtls_output(d, buf, sizeof(buf))) > 0) {
        check_datagram(buf, len);
    }
}


/* moves every pending datagram; returns how many there were */
static int
shuttle(kraken_dtls_t *from, kraken_dtls_t *to, link_t *link)
{
    int      records, count;
    size_t   n;
    uint8_t  buf[DATAGRAM_CAP];

    count = 0;

    while ((n = kraken_dtls_output(from, buf, sizeof(buf))) > 0) {
        count++;
        records = check_datagram(buf, n);

        if (link == NULL) {
            kraken_dtls_input(to, buf, n);
            continue;
        }

        if (records > link->max_records) {
            link->max_records = records;
        }

        if (link->dropped < link->drop) {
            link->dropped++;
            continue;
        }

        link->moved++;
        feed_garbage(to, link->garbage, link->whole, 0);
        kraken_dtls_input(to, buf, n);
    }

    return count;
}


static void
sleep_ms(uint64_t ms)
{
    struct timespec  ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000;

    while (nanosleep(&ts, &ts) != 0) {
        /* interrupted: sleep the rest */
    }
}


static int
settled(pair_t *p)
{
    return kraken_dtls_state(p->server) != KRAKEN_DTLS_HANDSHAKING
           && kraken_dtls_state(p->client) != KRAKEN_DTLS_HANDSHAKING;
}


/*
 * Runs until both sides leave HANDSHAKING or nothing more can happen.
 * When nothing is in flight, the clock jumps to the earliest deadline the
 * timers reported; OpenSSL measures its timeout on the real clock, so the
 * test also sleeps as long.
 */
static void
run(pair_t *p, link_t *to_server, link_t *to_client)
{
    int       i, moved;
    uint64_t  sdl, cdl, next;

    kraken_dtls_start(p->client);

    for (i = 0; i < MAX_ROUNDS; i++) {
        moved = shuttle(p->client, p->server, to_server);
        moved += shuttle(p->server, p->client, to_client);

        if (settled(p)) {
            /* a last alert, if any */
            shuttle(p->client, p->server, NULL);
            shuttle(p->server, p->client, NULL);
            return;
        }

        if (moved) {
            continue;
        }

        if (p->no_timers) {
            return;
        }

        kraken_dtls_timer(p->server, p->now, &sdl);
        kraken_dtls_timer(p->client, p->now, &cdl);

        next = (sdl != 0 && (cdl == 0 || sdl < cdl)) ? sdl : cdl;
        if (next == 0) {
            return;
        }

        assert_true(next > p->now);
        assert_true(next - p->now <= 3000);

        sleep_ms(next - p->now);
        p->now = next;

        kraken_dtls_timer(p->server, p->now, &sdl);
        kraken_dtls_timer(p->client, p->now, &cdl);
    }

    fail_msg("the handshake did not settle in %d rounds", MAX_ROUNDS);
}


static void
assert_connected(pair_t *p)
{
    assert_int_equal(kraken_dtls_state(p->server), KRAKEN_DTLS_CONNECTED);
    assert_int_equal(kraken_dtls_state(p->client), KRAKEN_DTLS_CONNECTED);
}


static void
assert_crosswise_keys(pair_t *p, int profile, size_t len)
{
    kraken_srtp_keys_t  sk, ck;

    assert_int_equal(kraken_dtls_srtp_keys(p->server, &sk), 0);
    assert_int_equal(kraken_dtls_srtp_keys(p->client, &ck), 0);

    assert_int_equal(sk.profile, profile);
    assert_int_equal(ck.profile, profile);
    assert_int_equal(sk.len, len);
    assert_int_equal(ck.len, len);

    assert_memory_equal(sk.local, ck.remote, len);
    assert_memory_equal(sk.remote, ck.local, len);
    assert_memory_not_equal(sk.local, sk.remote, len);
}


static void
handshake_in_memory_connects_both_sides_with_crosswise_gcm_keys(
    void **state)
{
    pair_t  p;
    link_t  to_server, to_client;

    pair_init(&p, state, 0, 0);
    memset(&to_server, 0, sizeof(link_t));
    memset(&to_client, 0, sizeof(link_t));

    run(&p, &to_server, &to_client);

    assert_connected(&p);
    assert_crosswise_keys(&p, KRAKEN_SRTP_AEAD_AES_128_GCM, 28);

    /* the server's flight is several records packed in one datagram */
    assert_true(to_client.max_records >= 4);
    assert_int_equal(to_server.dropped + to_client.dropped, 0);

    pair_free(&p);
}


static void
a_client_offering_only_aes_cm_gets_aes_cm_keys(void **state)
{
    pair_t              p;
    kraken_dtls_ctx_t  *cm;
    char                err[256];

    cm = kraken_dtls_ctx_create(err, sizeof(err));
    assert_non_null(cm);
    assert_int_equal(kraken_dtls_ctx_set_srtp_profiles(cm,
                     "SRTP_AES128_CM_SHA1_80"), 0);

    pair_init(&p, state, 0, 0);
    kraken_dtls_free(p.client);
    p.client_ctx = cm;
    p.client = create_for(cm, p.server_ctx, 0, 0);
    kraken_dtls_free(p.server);
    p.server = create_for(p.server_ctx, cm, 1, 0);

    run(&p, NULL, NULL);

    assert_connected(&p);
    assert_crosswise_keys(&p, KRAKEN_SRTP_AES128_CM_SHA1_80, 30);

    pair_free(&p);
    kraken_dtls_ctx_free(cm);
}


static void
unknown_srtp_profile_names_are_refused(void **state)
{
    pair_t  *ctxs = *state;

    assert_int_equal(kraken_dtls_ctx_set_srtp_profiles(ctxs->client_ctx,
                     "SRTP_NO_SUCH_PROFILE"), -1);
}


static void
a_client_without_a_common_srtp_profile_fails(void **state)
{
    pair_t              p;
    kraken_dtls_ctx_t  *other;
    char                err[256];

    other = kraken_dtls_ctx_create(err, sizeof(err));
    assert_non_null(other);
    assert_int_equal(kraken_dtls_ctx_set_srtp_profiles(other,
                     "SRTP_AEAD_AES_256_GCM"), 0);

    pair_init(&p, state, 0, 0);
    kraken_dtls_free(p.client);
    kraken_dtls_free(p.server);
    p.client = create_for(other, p.server_ctx, 0, 0);
    p.server = create_for(p.server_ctx, other, 1, 0);

    run(&p, NULL, NULL);

    assert_int_equal(kraken_dtls_state(p.server), KRAKEN_DTLS_FAILED);
    assert_int_equal(kraken_dtls_state(p.client), KRAKEN_DTLS_FAILED);

    pair_free(&p);
    kraken_dtls_ctx_free(other);
}


static void
wrong_fingerprint_expected_by_the_server_fails_both_sides(void **state)
{
    pair_t              p;
    kraken_srtp_keys_t  keys;

    pair_init(&p, state, 1, 0);
    run(&p, NULL, NULL);

    assert_int_equal(kraken_dtls_state(p.server), KRAKEN_DTLS_FAILED);
    assert_int_equal(kraken_dtls_state(p.client), KRAKEN_DTLS_FAILED);
    assert_int_equal(kraken_dtls_srtp_keys(p.server, &keys), -1);

    pair_free(&p);
}


static void
wrong_fingerprint_expected_by_the_client_fails_both_sides(void **state)
{
    pair_t              p;
    kraken_srtp_keys_t  keys;

    pair_init(&p, state, 0, 1);
    run(&p, NULL, NULL);

    assert_int_equal(kraken_dtls_state(p.client), KRAKEN_DTLS_FAILED);
    assert_int_equal(kraken_dtls_state(p.server), KRAKEN_DTLS_FAILED);
    assert_int_equal(kraken_dtls_srtp_keys(p.client, &keys), -1);

    pair_free(&p);
}


static void
unsupported_fingerprint_algorithm_or_length_is_refused(void **state)
{
    pair_t   *ctxs = *state;
    uint8_t   fp[64];

    memset(fp, 0xab, sizeof(fp));

    assert_null(kraken_dtls_create(ctxs->server_ctx, 1, "md5", fp, 16));
    assert_null(kraken_dtls_create(ctxs->server_ctx, 1, "sha-256", fp, 20));
    assert_null(kraken_dtls_create(ctxs->server_ctx, 1, NULL, fp, 32));
    assert_null(kraken_dtls_create(ctxs->server_ctx, 1, "sha-256", NULL,
                                   32));
}


static void
other_sdp_hash_names_are_accepted_case_insensitively(void **state)
{
    pair_t         *ctxs = *state;
    uint8_t         fp[64];
    kraken_dtls_t  *d;

    memset(fp, 0xab, sizeof(fp));

    d = kraken_dtls_create(ctxs->server_ctx, 1, "SHA-256", fp, 32);
    assert_non_null(d);
    kraken_dtls_free(d);

    d = kraken_dtls_create(ctxs->server_ctx, 1, "sha-1", fp, 20);
    assert_non_null(d);
    kraken_dtls_free(d);

    d = kraken_dtls_create(ctxs->server_ctx, 1, "sha-384", fp, 48);
    assert_non_null(d);
    kraken_dtls_free(d);

    d = kraken_dtls_create(ctxs->server_ctx, 1, "sha-512", fp, 64);
    assert_non_null(d);
    kraken_dtls_free(d);
}


static void
fingerprint_is_upper_case_sha_256_of_32_bytes(void **state)
{
    size_t       i;
    pair_t      *ctxs = *state;
    const char  *fp;

    fp = kraken_dtls_ctx_fingerprint(ctxs->server_ctx);

    assert_int_equal(strlen(fp), 8 + 32 * 3 - 1);
    assert_int_equal(strncmp(fp, "sha-256 ", 8), 0);

    for (i = 8; fp[i] != '\0'; i++) {
        if ((i - 8) % 3 == 2) {
            assert_int_equal(fp[i], ':');

        } else {
            assert_true((fp[i] >= '0' && fp[i] <= '9')
                        || (fp[i] >= 'A' && fp[i] <= 'F'));
        }
    }

    assert_string_not_equal(fp, kraken_dtls_ctx_fingerprint(
                                    ctxs->client_ctx));
}


static void
timers_report_no_deadline_until_a_flight_is_sent(void **state)
{
    pair_t    p;
    uint64_t  next;

    pair_init(&p, state, 0, 0);

    next = 7;
    assert_int_equal(kraken_dtls_timer(p.server, p.now, &next),
                     KRAKEN_DTLS_HANDSHAKING);
    assert_int_equal(next, 0);

    assert_int_equal(kraken_dtls_timer(p.client, p.now, &next),
                     KRAKEN_DTLS_HANDSHAKING);
    assert_int_equal(next, 0);

    /* a server does not start anything */
    assert_int_equal(kraken_dtls_start(p.server), KRAKEN_DTLS_HANDSHAKING);
    assert_int_equal(kraken_dtls_timer(p.server, p.now, &next),
                     KRAKEN_DTLS_HANDSHAKING);
    assert_int_equal(next, 0);

    /* the ClientHello arms the first timeout, about a second */
    assert_int_equal(kraken_dtls_start(p.client), KRAKEN_DTLS_HANDSHAKING);
    kraken_dtls_timer(p.client, p.now, &next);
    assert_true(next > p.now + 500 && next <= p.now + 1000);

    pair_free(&p);
}


static void
dropped_client_hello_is_retransmitted_on_the_timer(void **state)
{
    pair_t  p;
    link_t  to_server;

    pair_init(&p, state, 0, 0);
    memset(&to_server, 0, sizeof(link_t));
    to_server.drop = 1;

    run(&p, &to_server, NULL);

    assert_int_equal(to_server.dropped, 1);
    assert_connected(&p);
    assert_crosswise_keys(&p, KRAKEN_SRTP_AEAD_AES_128_GCM, 28);

    pair_free(&p);
}


static void
dropped_server_flight_is_retransmitted_on_the_timer(void **state)
{
    pair_t  p;
    link_t  to_client;

    pair_init(&p, state, 0, 0);
    memset(&to_client, 0, sizeof(link_t));
    to_client.drop = 1;

    run(&p, NULL, &to_client);

    assert_int_equal(to_client.dropped, 1);
    assert_connected(&p);
    assert_crosswise_keys(&p, KRAKEN_SRTP_AEAD_AES_128_GCM, 28);

    pair_free(&p);
}


static void
dropped_final_server_flight_is_recovered_by_the_client_resending(
    void **state)
{
    size_t   n;
    uint8_t  buf[DATAGRAM_CAP];
    pair_t   p;
    int      i;

    pair_init(&p, state, 0, 0);

    /*
     * ClientHello, HelloVerifyRequest, ClientHello with the cookie, the
     * server's flight, the client's certificate flight
     */
    kraken_dtls_start(p.client);
    shuttle(p.client, p.server, NULL);
    shuttle(p.server, p.client, NULL);
    shuttle(p.client, p.server, NULL);
    shuttle(p.server, p.client, NULL);
    shuttle(p.client, p.server, NULL);

    assert_int_equal(kraken_dtls_state(p.server), KRAKEN_DTLS_CONNECTED);
    assert_int_equal(kraken_dtls_state(p.client), KRAKEN_DTLS_HANDSHAKING);

    /* the server's ChangeCipherSpec + Finished are lost */
    for (i = 0; (n = kraken_dtls_output(p.server, buf, sizeof(buf))) > 0;
         i++)
    {
        check_datagram(buf, n);
    }

    assert_true(i >= 1);

    /* the client resends, the connected server answers again */
    run(&p, NULL, NULL);

    assert_connected(&p);
    assert_crosswise_keys(&p, KRAKEN_SRTP_AEAD_AES_128_GCM, 28);

    pair_free(&p);
}


static void
random_or_overlong_records_are_dropped_and_both_sides_connect(
    void **state)
{
    int     i;
    pair_t  p;
    link_t  to_server, to_client;

    srand(42);

    for (i = 0; i < 10; i++) {
        pair_init(&p, state, 0, 0);
        p.no_timers = 1;

        memset(&to_server, 0, sizeof(link_t));
        memset(&to_client, 0, sizeof(link_t));
        to_server.garbage = 20;
        to_client.garbage = 20;

        /* before the ClientHello too */
        feed_garbage(p.server, 50, 0, 1);
        assert_int_equal(kraken_dtls_state(p.server),
                         KRAKEN_DTLS_HANDSHAKING);

        run(&p, &to_server, &to_client);

        assert_connected(&p);
        assert_crosswise_keys(&p, KRAKEN_SRTP_AEAD_AES_128_GCM, 28);

        pair_free(&p);
    }
}


static void
a_whole_record_with_a_garbage_body_fails_both_sides_cleanly(void **state)
{
    int     i;
    pair_t  p;
    link_t  to_server, to_client;

    srand(43);

    for (i = 0; i < 20; i++) {
        pair_init(&p, state, 0, 0);
        p.no_timers = 1;

        memset(&to_server, 0, sizeof(link_t));
        memset(&to_client, 0, sizeof(link_t));

        /* into one side, at a different step of the handshake each time */
        if (i % 2) {
            to_server.garbage = 1;
            to_server.whole = 1;

        } else {
            to_client.garbage = 1;
            to_client.whole = 1;
        }

        run(&p, &to_server, &to_client);

        /* the victim sends an alert, which fails the other side as well */
        assert_int_equal(kraken_dtls_state(p.server), KRAKEN_DTLS_FAILED);
        assert_int_equal(kraken_dtls_state(p.client), KRAKEN_DTLS_FAILED);

        /* and stays failed */
        feed_garbage(p.server, 5, 1, 1);
        assert_int_equal(kraken_dtls_state(p.server), KRAKEN_DTLS_FAILED);

        pair_free(&p);
    }
}


static void
truncated_records_are_dropped_and_the_handshake_still_completes(
    void **state)
{
    size_t   n, cut;
    uint8_t  hello[DATAGRAM_CAP];
    pair_t   p;

    pair_init(&p, state, 0, 0);

    kraken_dtls_start(p.client);
    n = kraken_dtls_output(p.client, hello, sizeof(hello));
    assert_true(n > 13);

    /* every prefix of the ClientHello, including a bare header */
    for (cut = 0; cut < n; cut++) {
        assert_int_equal(kraken_dtls_input(p.server, hello, cut),
                         KRAKEN_DTLS_HANDSHAKING);
    }

    assert_int_equal(kraken_dtls_output(p.server, hello, sizeof(hello)), 0);

    /* the client resends on its timer, and that one is whole */
    run(&p, NULL, NULL);

    assert_connected(&p);

    pair_free(&p);
}


static void
garbage_after_the_handshake_is_ignored(void **state)
{
    pair_t  p;

    srand(7);

    pair_init(&p, state, 0, 0);
    run(&p, NULL, NULL);
    assert_connected(&p);

    feed_garbage(p.server, 100, 0, 1);
    feed_garbage(p.client, 100, 0, 1);
    feed_garbage(p.server, 100, 1, 1);
    feed_garbage(p.client, 100, 1, 1);

    assert_connected(&p);
    assert_crosswise_keys(&p, KRAKEN_SRTP_AEAD_AES_128_GCM, 28);

    pair_free(&p);
}


static void
output_with_a_small_buffer_drops_what_does_not_fit(void **state)
{
    pair_t   p;
    uint8_t  buf[DATAGRAM_CAP];

    pair_init(&p, state, 0, 0);

    kraken_dtls_start(p.client);
    assert_int_equal(kraken_dtls_output(p.client, buf, 0), 0);
    assert_int_equal(kraken_dtls_output(p.client, buf, 20), 0);
    assert_int_equal(kraken_dtls_output(p.client, buf, sizeof(buf)), 0);

    pair_free(&p);
}


static void
free_is_safe_in_any_state(void **state)
{
    pair_t              p;
    kraken_dtls_ctx_t  *ctx;
    kraken_dtls_t      *d;
    char                err[256];
    size_t              len;
    uint8_t             fp[64];

    kraken_dtls_free(NULL);
    kraken_dtls_ctx_free(NULL);

    /* before anything, and in the middle of a handshake */
    pair_init(&p, state, 0, 0);
    pair_free(&p);

    pair_init(&p, state, 0, 0);
    kraken_dtls_start(p.client);
    shuttle(p.client, p.server, NULL);
    pair_free(&p);

    /* an association outlives its context */
    ctx = kraken_dtls_ctx_create(err, sizeof(err));
    assert_non_null(ctx);
    parse_fingerprint(kraken_dtls_ctx_fingerprint(ctx), fp, &len);
    d = kraken_dtls_create(ctx, 0, "sha-256", fp, len);
    assert_non_null(d);
    kraken_dtls_start(d);
    kraken_dtls_ctx_free(ctx);
    kraken_dtls_free(d);
}


static int
setup(void **state)
{
    char     err[256];
    pair_t  *ctxs;

    ctxs = calloc(1, sizeof(pair_t));
    if (ctxs == NULL) {
        return -1;
    }

    ctxs->server_ctx = kraken_dtls_ctx_create(err, sizeof(err));
    ctxs->client_ctx = kraken_dtls_ctx_create(err, sizeof(err));

    if (ctxs->server_ctx == NULL || ctxs->client_ctx == NULL) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }

    *state = ctxs;

    return 0;
}


static int
teardown(void **state)
{
    pair_t  *ctxs = *state;

    kraken_dtls_ctx_free(ctxs->server_ctx);
    kraken_dtls_ctx_free(ctxs->client_ctx);
    free(ctxs);

    return 0;
}


/*
 * The cookie exchange: a ClientHello from an address that has not shown
 * it receives gets a HelloVerifyRequest, smaller than it and not resent;
 * the flight goes only to whoever echoes the cookie made for its address.
 */

static const uint8_t  addr_a[] = { 2, 0x13, 0x88, 127, 0, 0, 1 };
static const uint8_t  addr_b[] = { 2, 0x13, 0x89, 127, 0, 0, 1 };


static void
a_client_hello_gets_a_smaller_hello_verify_request_never_resent(
    void **state)
{
    size_t    n, hvr;
    uint8_t   hello[DATAGRAM_CAP], buf[DATAGRAM_CAP];
    uint64_t  next;
    pair_t    p;

    pair_init(&p, state, 0, 0);

    kraken_dtls_start(p.client);
    n = kraken_dtls_output(p.client, hello, sizeof(hello));
    assert_true(n > 13);

    assert_int_equal(kraken_dtls_input_from(p.server, hello, n, addr_a,
                                            sizeof(addr_a)),
                     KRAKEN_DTLS_HANDSHAKING);

    hvr = kraken_dtls_output(p.server, buf, sizeof(buf));
    assert_true(hvr > 13 && hvr < n);
    assert_int_equal(buf[13], 3);               /* hello_verify_request */
    assert_int_equal(kraken_dtls_output(p.server, buf, sizeof(buf)), 0);

    assert_int_equal(kraken_dtls_proven(p.server, addr_a, sizeof(addr_a)),
                     0);
    assert_int_equal(kraken_dtls_proven(p.client, NULL, 0), 1);

    /* nothing to resend: no deadline, and nothing after one */
    assert_int_equal(kraken_dtls_timer(p.server, p.now, &next),
                     KRAKEN_DTLS_HANDSHAKING);
    assert_int_equal(next, 0);
    sleep_ms(1100);
    kraken_dtls_timer(p.server, p.now + 1100, &next);
    assert_int_equal(kraken_dtls_output(p.server, buf, sizeof(buf)), 0);

    pair_free(&p);
}


static void
a_cookie_from_another_address_is_dropped_and_the_handshake_lives(
    void **state)
{
    size_t   n;
    uint8_t  buf[DATAGRAM_CAP], hello[DATAGRAM_CAP];
    pair_t   p;

    pair_init(&p, state, 0, 0);

    kraken_dtls_start(p.client);
    n = kraken_dtls_output(p.client, buf, sizeof(buf));
    kraken_dtls_input_from(p.server, buf, n, addr_a, sizeof(addr_a));
    n = kraken_dtls_output(p.server, buf, sizeof(buf));
    kraken_dtls_input(p.client, buf, n);

    /* the hello with a's cookie */
    n = kraken_dtls_output(p.client, hello, sizeof(hello));
    assert_true(n > 13);
    assert_int_equal(hello[13], 1);

    /* from b, or from no address: dropped, not fatal */
    assert_int_equal(kraken_dtls_input_from(p.server, hello, n, addr_b,
                                            sizeof(addr_b)),
                     KRAKEN_DTLS_HANDSHAKING);
    assert_int_equal(kraken_dtls_input(p.server, hello, n),
                     KRAKEN_DTLS_HANDSHAKING);
    assert_int_equal(kraken_dtls_output(p.server, buf, sizeof(buf)), 0);
    assert_int_equal(kraken_dtls_proven(p.server, addr_b, sizeof(addr_b)),
                     0);

    /* a forged cookie of the right size: the same */
    hello[13 + 12 + 2 + 32 + 1 + hello[13 + 12 + 2 + 32] + 1] ^= 0x01;
    assert_int_equal(kraken_dtls_input_from(p.server, hello, n, addr_a,
                                            sizeof(addr_a)),
                     KRAKEN_DTLS_HANDSHAKING);
    assert_int_equal(kraken_dtls_output(p.server, buf, sizeof(buf)), 0);
    hello[13 + 12 + 2 + 32 + 1 + hello[13 + 12 + 2 + 32] + 1] ^= 0x01;

    /* from a: the flight, and a is proven, b is not */
    assert_int_equal(kraken_dtls_input_from(p.server, hello, n, addr_a,
                                            sizeof(addr_a)),
                     KRAKEN_DTLS_HANDSHAKING);
    assert_int_equal(kraken_dtls_proven(p.server, addr_a, sizeof(addr_a)),
                     1);
    assert_int_equal(kraken_dtls_proven(p.server, addr_b, sizeof(addr_b)),
                     0);

    run(&p, NULL, NULL);
    assert_connected(&p);
    assert_crosswise_keys(&p, KRAKEN_SRTP_AEAD_AES_128_GCM, 28);

    pair_free(&p);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(
            handshake_in_memory_connects_both_sides_with_crosswise_gcm_keys),
        cmocka_unit_test(a_client_offering_only_aes_cm_gets_aes_cm_keys),
        cmocka_unit_test(unknown_srtp_profile_names_are_refused),
        cmocka_unit_test(a_client_without_a_common_srtp_profile_fails),
        cmocka_unit_test(
            wrong_fingerprint_expected_by_the_server_fails_both_sides),
        cmocka_unit_test(
            wrong_fingerprint_expected_by_the_client_fails_both_sides),
        cmocka_unit_test(
            unsupported_fingerprint_algorithm_or_length_is_refused),
        cmocka_unit_test(
            other_sdp_hash_names_are_accepted_case_insensitively),
        cmocka_unit_test(fingerprint_is_upper_case_sha_256_of_32_bytes),
        cmocka_unit_test(timers_report_no_deadline_until_a_flight_is_sent),
        cmocka_unit_test(dropped_client_hello_is_retransmitted_on_the_timer),
        cmocka_unit_test(
            dropped_server_flight_is_retransmitted_on_the_timer),
        cmocka_unit_test(
            dropped_final_server_flight_is_recovered_by_the_client_resending),
        cmocka_unit_test(
            random_or_overlong_records_are_dropped_and_both_sides_connect),
        cmocka_unit_test(
            a_whole_record_with_a_garbage_body_fails_both_sides_cleanly),
        cmocka_unit_test(
            truncated_records_are_dropped_and_the_handshake_still_completes),
        cmocka_unit_test(garbage_after_the_handshake_is_ignored),
        cmocka_unit_test(output_with_a_small_buffer_drops_what_does_not_fit),
        cmocka_unit_test(free_is_safe_in_any_state),
        cmocka_unit_test(
            a_client_hello_gets_a_smaller_hello_verify_request_never_resent),
        cmocka_unit_test(
            a_cookie_from_another_address_is_dropped_and_the_handshake_lives),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
