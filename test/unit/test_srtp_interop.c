/*
 * The OpenSSL crypto types (kraken_srtp_evp.c) against libsrtp2 as Debian
 * ships it (NSS). The replacement is global to a process, so each side
 * runs in its own child: a "stock" child only calls srtp_init(), an "evp"
 * child calls kraken_srtp_init(). The sender writes what it protected and
 * what the receiver must make of it (plaintext, or refusal) to a pipe; the
 * receiver checks every packet. Both profiles, RTP and RTCP, several
 * SSRCs, a sequence number wrap (ROC 0 -> 1), replays and single flipped
 * bits in header, payload and tag.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <openssl/crypto.h>
#include <srtp2/auth.h>
#include <srtp2/cipher.h>
#include <srtp2/srtp.h>

#include "kraken_dtls.h"
#include "kraken_srtp.h"
#include "kraken_srtp_evp.h"


#define MODE_STOCK   0
#define MODE_EVP     1

#define REC_RTP      0
#define REC_RTCP     1
#define REC_END      2

#define MAX_PKT      320


typedef struct {
    int       kind;                     /* REC_* */
    int       expect_ok;
    size_t    plain_len;
    size_t    prot_len;
    uint8_t   plain[MAX_PKT];
    uint8_t   prot[MAX_PKT];
} rec_t;

typedef struct {
    uint32_t  ssrc;
    uint16_t  first_seq;
    int       count;
} stream_t;


/* the middle one crosses 65535 -> 0, the last starts right on 65535 */
static const stream_t  streams[] = {
    { 0x11111111, 1000, 8 },
    { 0x22222222, 65530, 14 },
    { 0xdeadbeef, 65535, 5 },
};

#define NSTREAMS  (sizeof(streams) / sizeof(streams[0]))


/* counts OpenSSL's allocations, for the no-allocation-per-packet test */
static size_t  ossl_allocs;


static void *
count_malloc(size_t n, const char *file, int line)
{
    ossl_allocs++;
    return malloc(n);
}


static void *
count_realloc(void *p, size_t n, const char *file, int line)
{
    ossl_allocs++;
    return realloc(p, n);
}


static void
count_free(void *p, const char *file, int line)
{
    free(p);
}


/*
 * libsrtp2 exports these but installs no header for them: how a child
 * makes sure which types its sessions get.
 */
extern const srtp_cipher_type_t  srtp_aes_icm_128;
extern const srtp_cipher_type_t  srtp_aes_gcm_128;
extern const srtp_auth_type_t    srtp_hmac;

srtp_err_status_t srtp_crypto_kernel_alloc_cipher(srtp_cipher_type_id_t id,
    srtp_cipher_pointer_t *cp, int key_len, int tag_len);
srtp_err_status_t srtp_crypto_kernel_alloc_auth(srtp_auth_type_id_t id,
    srtp_auth_pointer_t *ap, int key_len, int tag_len);


static int
uses(srtp_cipher_type_id_t id, int key_len, int tag_len,
    const srtp_cipher_type_t *type)
{
    int             ok;
    srtp_cipher_t  *c;

    if (srtp_crypto_kernel_alloc_cipher(id, &c, key_len, tag_len)
        != srtp_err_status_ok)
    {
        return 0;
    }

    ok = (c->type == type);
    srtp_cipher_dealloc(c);

    return ok;
}


static int
uses_auth(const srtp_auth_type_t *type)
{
    int           ok;
    srtp_auth_t  *a;

    if (srtp_crypto_kernel_alloc_auth(SRTP_HMAC_SHA1, &a, 20, 10)
        != srtp_err_status_ok)
    {
        return 0;
    }

    ok = (a->type == type);
    srtp_auth_dealloc(a);

    return ok;
}


static int
crypto_init(int mode)
{
    int  evp;

    evp = (mode == MODE_EVP);

    if ((evp ? kraken_srtp_init()
             : (srtp_init() == srtp_err_status_ok ? 0 : -1)) != 0)
    {
        return -1;
    }

    if (!uses(SRTP_AES_ICM_128, 30, 0, evp ? &kraken_srtp_evp_aes_icm_128
                                           : &srtp_aes_icm_128)
        || !uses(SRTP_AES_GCM_128, 28, 16, evp ? &kraken_srtp_evp_aes_gcm_128
                                               : &srtp_aes_gcm_128)
        || !uses_auth(evp ? &kraken_srtp_evp_hmac_sha1 : &srtp_hmac))
    {
        fprintf(stderr, "%s child: libsrtp has not the expected types\n",
                evp ? "evp" : "stock");
        return -1;
    }

    return 0;
}


/* the policy kraken_srtp.c uses, with a fixed key per profile */
/* the module's own policy, on whichever ciphers this process has */
static srtp_t
session(int profile, int outbound)
{
    int      i;
    srtp_t   s;
    uint8_t  key[32];

    for (i = 0; i < 32; i++) {
        key[i] = (uint8_t) (0x5a ^ (i * 29) ^ profile);
    }

    if (kraken_srtp_session(&s, profile, key,
                            outbound ? ssrc_any_outbound : ssrc_any_inbound)
        != 0)
    {
        return NULL;
    }

    return s;
}


static size_t
make_rtp(uint8_t *buf, uint16_t seq, uint32_t ssrc, size_t payload)
{
    size_t  i;

    buf[0] = 0x80;
    buf[1] = (uint8_t) (96 + (seq & 1));
    buf[2] = (uint8_t) (seq >> 8);
    buf[3] = (uint8_t) seq;
    buf[4] = (uint8_t) (seq * 3);
    buf[5] = (uint8_t) (ssrc >> 3);
    buf[6] = (uint8_t) (seq >> 2);
    buf[7] = (uint8_t) (seq << 6);
    buf[8] = (uint8_t) (ssrc >> 24);
    buf[9] = (uint8_t) (ssrc >> 16);
    buf[10] = (uint8_t) (ssrc >> 8);
    buf[11] = (uint8_t) ssrc;

    for (i = 0; i < payload; i++) {
        buf[12 + i] = (uint8_t) (i * 7 + seq + ssrc);
    }

    return 12 + payload;
}


static size_t
make_sr(uint8_t *buf, uint32_t ssrc, int n)
{
    size_t  i, len;

    len = 28 + 24 * (size_t) (n % 2);           /* with a report block */

    buf[0] = (uint8_t) (0x80 | (n % 2));
    buf[1] = 200;
    buf[2] = 0;
    buf[3] = (uint8_t) (len / 4 - 1);
    buf[4] = (uint8_t) (ssrc >> 24);
    buf[5] = (uint8_t) (ssrc >> 16);
    buf[6] = (uint8_t) (ssrc >> 8);
    buf[7] = (uint8_t) ssrc;

    for (i = 8; i < len; i++) {
        buf[i] = (uint8_t) (i * 11 + n);
    }

    return len;
}


static int
put(int fd, const rec_t *r)
{
    size_t          done;
    ssize_t         n;
    const uint8_t  *p = (const uint8_t *) r;

    for (done = 0; done < sizeof(rec_t); done += (size_t) n) {
        n = write(fd, p + done, sizeof(rec_t) - done);
        if (n <= 0) {
            return -1;
        }
    }

    return 0;
}


static int
get(int fd, rec_t *r)
{
    size_t    done;
    ssize_t   n;
    uint8_t  *p = (uint8_t *) r;

    for (done = 0; done < sizeof(rec_t); done += (size_t) n) {
        n = read(fd, p + done, sizeof(rec_t) - done);
        if (n <= 0) {
            return -1;
        }
    }

    return 0;
}


/* the genuine packet, then copies with one bit flipped at each of at[] */
static int
put_tampered(int fd, rec_t *r, const size_t *at, size_t n)
{
    size_t  i;
    rec_t   t;

    for (i = 0; i < n; i++) {
        t = *r;
        t.expect_ok = 0;
        t.prot[at[i]] ^= (uint8_t) (1 << (i % 8));

        if (put(fd, &t) != 0) {
            return -1;
        }
    }

    return 0;
}


static int
sender(int mode, int profile, int fd)
{
    int        i, k, gcm, sent;
    int        len;
    size_t     at[4];
    rec_t      r;
    srtp_t     s;
    uint16_t   seq;

    if (crypto_init(mode) != 0 || (s = session(profile, 1)) == NULL) {
        return 2;
    }

    gcm = (profile == KRAKEN_SRTP_AEAD_AES_128_GCM);
    sent = 0;

    for (i = 0; i < 14; i++) {
        for (k = 0; k < (int) NSTREAMS; k++) {
            if (i >= streams[k].count) {
                continue;
            }

            memset(&r, 0, sizeof(rec_t));
            seq = (uint16_t) (streams[k].first_seq + i);
            r.kind = REC_RTP;
            r.expect_ok = 1;
            r.plain_len = make_rtp(r.plain, seq, streams[k].ssrc,
                                   1 + (size_t) ((i * 37 + k * 11) % 200));
            memcpy(r.prot, r.plain, r.plain_len);
            len = (int) r.plain_len;

            if (srtp_protect(s, r.prot, &len) != srtp_err_status_ok) {
                return 3;
            }

            r.prot_len = (size_t) len;

            /* tampered copies first: refusing them must not hurt the next */
            if (i % 3 == 1) {
                at[0] = 1;                              /* header: PT */
                at[1] = 12 + (r.plain_len - 12) / 2;    /* payload */
                at[2] = r.prot_len - 1;                 /* tag */
                at[3] = 6;                              /* timestamp */

                if (put_tampered(fd, &r, at, 4) != 0) {
                    return 4;
                }
            }

            if (put(fd, &r) != 0) {
                return 4;
            }

            sent++;

            if (i % 4 == 2) {
                r.expect_ok = 0;                        /* a replay */
                if (put(fd, &r) != 0) {
                    return 4;
                }
            }
        }
    }

    for (i = 0; i < 4; i++) {
        for (k = 0; k < (int) NSTREAMS; k++) {
            memset(&r, 0, sizeof(rec_t));
            r.kind = REC_RTCP;
            r.expect_ok = 1;
            r.plain_len = make_sr(r.plain, streams[k].ssrc, i + k);
            memcpy(r.prot, r.plain, r.plain_len);
            len = (int) r.plain_len;

            if (srtp_protect_rtcp(s, r.prot, &len) != srtp_err_status_ok) {
                return 3;
            }

            r.prot_len = (size_t) len;

            if (i % 2 == 1) {
                at[0] = 1;                              /* header: PT */
                at[1] = 20;                             /* payload */
                /* GCM: tag, then E + index; AES-CM: E + index, then tag */
                at[2] = gcm ? r.prot_len - 5 : r.prot_len - 1;
                at[3] = gcm ? r.prot_len - 1 : r.prot_len - 11;

                if (put_tampered(fd, &r, at, 4) != 0) {
                    return 4;
                }
            }

            if (put(fd, &r) != 0) {
                return 4;
            }

            sent++;

            if (i == 2) {
                r.expect_ok = 0;
                if (put(fd, &r) != 0) {
                    return 4;
                }
            }
        }
    }

    memset(&r, 0, sizeof(rec_t));
    r.kind = REC_END;
    r.plain_len = (size_t) sent;

    if (put(fd, &r) != 0) {
        return 4;
    }

    srtp_dealloc(s);
    srtp_shutdown();

    return 0;
}


static int
receiver(int mode, int profile, int fd)
{
    int                n, fails, got;
    rec_t              r;
    srtp_t             s;
    uint8_t            buf[MAX_PKT];
    srtp_err_status_t  rc;

    if (crypto_init(mode) != 0 || (s = session(profile, 0)) == NULL) {
        return 2;
    }

    fails = 0;
    got = 0;

    for ( ;; ) {
        if (get(fd, &r) != 0) {
            fprintf(stderr, "receiver: the sender stopped early\n");
            return 5;
        }

        if (r.kind == REC_END) {
            break;
        }

        memcpy(buf, r.prot, r.prot_len);
        n = (int) r.prot_len;

        rc = (r.kind == REC_RTP) ? srtp_unprotect(s, buf, &n)
                                 : srtp_unprotect_rtcp(s, buf, &n);

        if ((rc == srtp_err_status_ok) != r.expect_ok
            || (rc == srtp_err_status_ok
                && ((size_t) n != r.plain_len
                    || memcmp(buf, r.plain, r.plain_len) != 0)))
        {
            if (fails++ < 5) {
                fprintf(stderr, "receiver: %s seq/len %u/%zu expected %s, "
                        "got status %d\n",
                        r.kind == REC_RTP ? "RTP" : "RTCP",
                        (unsigned) (r.plain[2] << 8 | r.plain[3]),
                        r.prot_len, r.expect_ok ? "ok" : "refusal",
                        (int) rc);
            }
        }

        if (rc == srtp_err_status_ok) {
            got++;
        }
    }

    if (got != (int) r.plain_len) {
        fprintf(stderr, "receiver: %d packets accepted, %zu sent\n", got,
                r.plain_len);
        fails++;
    }

    srtp_dealloc(s);
    srtp_shutdown();

    return fails ? 1 : 0;
}


static int
wait_child(pid_t pid)
{
    int  status;

    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
        return -1;
    }

    return WEXITSTATUS(status);
}


static void
sender_to_receiver(int from_mode, int to_mode, int profile)
{
    int    fd[2];
    pid_t  tx, rx;

    assert_int_equal(pipe(fd), 0);
    fflush(NULL);

    tx = fork();
    assert_true(tx >= 0);

    if (tx == 0) {
        close(fd[0]);
        _exit(sender(from_mode, profile, fd[1]));
    }

    rx = fork();
    assert_true(rx >= 0);

    if (rx == 0) {
        close(fd[1]);
        _exit(receiver(to_mode, profile, fd[0]));
    }

    close(fd[0]);
    close(fd[1]);

    assert_int_equal(wait_child(tx), 0);
    assert_int_equal(wait_child(rx), 0);
}


static void
gcm_evp_protects_and_stock_libsrtp_unprotects(void **state)
{
    sender_to_receiver(MODE_EVP, MODE_STOCK, KRAKEN_SRTP_AEAD_AES_128_GCM);
}


static void
gcm_stock_libsrtp_protects_and_evp_unprotects(void **state)
{
    sender_to_receiver(MODE_STOCK, MODE_EVP, KRAKEN_SRTP_AEAD_AES_128_GCM);
}


static void
aes_cm_evp_protects_and_stock_libsrtp_unprotects(void **state)
{
    sender_to_receiver(MODE_EVP, MODE_STOCK, KRAKEN_SRTP_AES128_CM_SHA1_80);
}


static void
aes_cm_stock_libsrtp_protects_and_evp_unprotects(void **state)
{
    sender_to_receiver(MODE_STOCK, MODE_EVP, KRAKEN_SRTP_AES128_CM_SHA1_80);
}


/* the harness itself: stock on both sides agrees with the expectations */
static void
stock_to_stock_meets_the_same_expectations(void **state)
{
    sender_to_receiver(MODE_STOCK, MODE_STOCK, KRAKEN_SRTP_AEAD_AES_128_GCM);
    sender_to_receiver(MODE_STOCK, MODE_STOCK,
                       KRAKEN_SRTP_AES128_CM_SHA1_80);
}


static void
evp_to_evp_meets_the_same_expectations(void **state)
{
    sender_to_receiver(MODE_EVP, MODE_EVP, KRAKEN_SRTP_AEAD_AES_128_GCM);
    sender_to_receiver(MODE_EVP, MODE_EVP, KRAKEN_SRTP_AES128_CM_SHA1_80);
}


/* in a child: after the first packet of a stream, OpenSSL allocates none */
static int
count_allocations(int profile)
{
    int      i, n;
    size_t   before;
    srtp_t   tx, rx;
    uint8_t  buf[MAX_PKT];

    if (kraken_srtp_init() != 0) {
        return 2;
    }

    tx = session(profile, 1);
    rx = session(profile, 0);

    if (tx == NULL || rx == NULL) {
        return 2;
    }

    before = 0;

    for (i = 0; i < 200; i++) {
        if (i == 2) {
            before = ossl_allocs;
        }

        n = (int) make_rtp(buf, (uint16_t) i, 0x42424242, 100);

        if (srtp_protect(tx, buf, &n) != srtp_err_status_ok
            || srtp_unprotect(rx, buf, &n) != srtp_err_status_ok)
        {
            return 3;
        }

        n = (int) make_sr(buf, 0x42424242, i);

        if (srtp_protect_rtcp(tx, buf, &n) != srtp_err_status_ok
            || srtp_unprotect_rtcp(rx, buf, &n) != srtp_err_status_ok)
        {
            return 3;
        }
    }

    if (ossl_allocs != before) {
        fprintf(stderr, "%zu OpenSSL allocations in 198 packets\n",
                ossl_allocs - before);
        return 1;
    }

    srtp_dealloc(tx);
    srtp_dealloc(rx);
    srtp_shutdown();

    return 0;
}


static void
allocates_nothing_per_packet(int profile)
{
    pid_t  pid;

    fflush(NULL);

    pid = fork();
    assert_true(pid >= 0);

    if (pid == 0) {
        _exit(count_allocations(profile));
    }

    assert_int_equal(wait_child(pid), 0);
}


static void
evp_gcm_allocates_nothing_per_packet(void **state)
{
    allocates_nothing_per_packet(KRAKEN_SRTP_AEAD_AES_128_GCM);
}


static void
evp_aes_cm_allocates_nothing_per_packet(void **state)
{
    allocates_nothing_per_packet(KRAKEN_SRTP_AES128_CM_SHA1_80);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(stock_to_stock_meets_the_same_expectations),
        cmocka_unit_test(evp_to_evp_meets_the_same_expectations),
        cmocka_unit_test(gcm_evp_protects_and_stock_libsrtp_unprotects),
        cmocka_unit_test(gcm_stock_libsrtp_protects_and_evp_unprotects),
        cmocka_unit_test(aes_cm_evp_protects_and_stock_libsrtp_unprotects),
        cmocka_unit_test(aes_cm_stock_libsrtp_protects_and_evp_unprotects),
        cmocka_unit_test(evp_gcm_allocates_nothing_per_packet),
        cmocka_unit_test(evp_aes_cm_allocates_nothing_per_packet),
    };

    /* before OpenSSL allocates anything, or it refuses */
    if (CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free)
        != 1)
    {
        return 1;
    }

    return cmocka_run_group_tests(tests, NULL, NULL);
}
