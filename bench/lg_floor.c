/*
 * loadgen floor: what one forwarded packet costs at the very least on
 * this machine, measured in isolation on one thread: srtp_protect of an
 * Opus-sized RTP packet plus one sendmsg() of it on loopback (and the
 * batched variant with sendmmsg). On loopback the receiving kernel path
 * runs in the sender's context, as it does for the SFU's worker, so the
 * figure is comparable with the worker's CPU per forwarded packet.
 *
 * srtp_protect/unprotect are measured twice: through kraken_srtp (libsrtp
 * with the OpenSSL types of kraken_srtp_evp.c) and on sessions made
 * before kraken_srtp_init(), which keep Debian's stock NSS types: the
 * before/after of the replacement.
 */

#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <srtp2/cipher.h>
#include <srtp2/srtp.h>

#include "lg.h"


#define LG_FLOOR_CHUNK   1024
#define LG_FLOOR_MMSG    32

typedef struct {
    double   user;                      /* us per packet */
    double   sys;
} lg_cost_t;

typedef struct {
    int                 tx;
    int                 rx;
    struct sockaddr_in  to;
    kraken_srtp_t      *gcm;
    kraken_srtp_t      *gcm_rx;
    kraken_srtp_t      *cm;
    kraken_srtp_t      *cm_rx;
    srtp_t              stock_gcm;      /* libsrtp's own (NSS) types */
    srtp_t              stock_gcm_rx;
    srtp_t              stock_cm;
    srtp_t              stock_cm_rx;
    uint16_t            seq;
    uint8_t             pkt[LG_FLOOR_CHUNK][256];
    size_t              len[LG_FLOOR_CHUNK];
} lg_floor_t;

enum {
    LG_F_PROTECT_GCM = 0,
    LG_F_PROTECT_CM,
    LG_F_UNPROTECT_GCM,
    LG_F_SENDMSG,
    LG_F_SENDMMSG,
    LG_F_FLOOR,
    LG_F_FLOOR_MMSG,
    LG_F_UNPROTECT_CM,
    LG_F_STOCK_PROTECT_GCM,
    LG_F_STOCK_PROTECT_CM,
    LG_F_STOCK_UNPROTECT_GCM,
    LG_F_STOCK_UNPROTECT_CM,
    LG_F_N
};

static const char  *lg_floor_names[LG_F_N] = {
    "srtp_protect AEAD_AES_128_GCM",
    "srtp_protect AES_CM_128_HMAC_SHA1_80",
    "srtp_unprotect AEAD_AES_128_GCM",
    "sendmsg, one 128-byte datagram",
    "sendmmsg, 32 per call, per datagram",
    "FLOOR: protect (GCM) + sendmsg",
    "protect (GCM) + sendmmsg (32)",
    "srtp_unprotect AES_CM_128_HMAC_SHA1_80",
    "stock NSS srtp_protect GCM",
    "stock NSS srtp_protect AES_CM",
    "stock NSS srtp_unprotect GCM",
    "stock NSS srtp_unprotect AES_CM"
};


/* the SRTP line: stock then ours for each operation */
static const struct {
    const char  *key;
    int          what;
} lg_floor_srtp[8] = {
    { "protect_gcm_stock", LG_F_STOCK_PROTECT_GCM },
    { "protect_gcm_evp", LG_F_PROTECT_GCM },
    { "unprotect_gcm_stock", LG_F_STOCK_UNPROTECT_GCM },
    { "unprotect_gcm_evp", LG_F_UNPROTECT_GCM },
    { "protect_cm_stock", LG_F_STOCK_PROTECT_CM },
    { "protect_cm_evp", LG_F_PROTECT_CM },
    { "unprotect_cm_stock", LG_F_STOCK_UNPROTECT_CM },
    { "unprotect_cm_evp", LG_F_UNPROTECT_CM }
};


/* exported by libsrtp2, in no installed header */
extern const srtp_cipher_type_t  srtp_aes_gcm_128;

srtp_err_status_t srtp_crypto_kernel_alloc_cipher(srtp_cipher_type_id_t id,
    srtp_cipher_pointer_t *cp, int key_len, int tag_len);


static int lg_floor_stock(lg_floor_t *f, const uint8_t *key);
static srtp_t lg_floor_stock_session(int profile, const uint8_t *key,
    srtp_ssrc_type_t type);
static int lg_floor_protect(lg_floor_t *f, int what, uint8_t *b,
    size_t *len);
static void lg_floor_rtp(lg_floor_t *f, uint8_t *b);
static void lg_floor_drain(lg_floor_t *f);
static void lg_floor_chunk(lg_floor_t *f, int what);
static double lg_tv_us(struct timeval tv);


/* before kraken_srtp_init(): sessions on libsrtp's stock types */
static int
lg_floor_stock(lg_floor_t *f, const uint8_t *key)
{
    srtp_cipher_t  *c;

    if (srtp_init() != srtp_err_status_ok
        || srtp_crypto_kernel_alloc_cipher(SRTP_AES_GCM_128, &c, 28, 16)
           != srtp_err_status_ok)
    {
        return -1;
    }

    /* a process that installed the OpenSSL types has no stock left */
    if (c->type != &srtp_aes_gcm_128) {
        srtp_cipher_dealloc(c);
        return -1;
    }

    srtp_cipher_dealloc(c);

    f->stock_gcm = lg_floor_stock_session(KRAKEN_SRTP_AEAD_AES_128_GCM, key,
                                          ssrc_any_outbound);
    f->stock_gcm_rx = lg_floor_stock_session(KRAKEN_SRTP_AEAD_AES_128_GCM,
                                             key, ssrc_any_inbound);
    f->stock_cm = lg_floor_stock_session(KRAKEN_SRTP_AES128_CM_SHA1_80, key,
                                         ssrc_any_outbound);
    f->stock_cm_rx = lg_floor_stock_session(KRAKEN_SRTP_AES128_CM_SHA1_80,
                                            key, ssrc_any_inbound);

    if (f->stock_gcm == NULL || f->stock_gcm_rx == NULL
        || f->stock_cm == NULL || f->stock_cm_rx == NULL)
    {
        return -1;
    }

    /*
     * srtp_init() may not run twice, and kraken_srtp_init() runs it; the
     * sessions keep their ciphers, their types are libsrtp's statics
     */
    srtp_shutdown();

    return 0;
}


/* the policy of kraken_srtp.c, on whichever ciphers libsrtp has now */
static srtp_t
lg_floor_stock_session(int profile, const uint8_t *key,
    srtp_ssrc_type_t type)
{
    srtp_t  s;

    if (kraken_srtp_session(&s, profile, key, type) != 0) {
        return NULL;
    }

    return s;
}


/* the sender side of a variant, stock or ours */
static int
lg_floor_protect(lg_floor_t *f, int what, uint8_t *b, size_t *len)
{
    int     n;
    srtp_t  s;

    switch (what) {

    case LG_F_PROTECT_CM:
    case LG_F_UNPROTECT_CM:
        return kraken_srtp_protect(f->cm, b, len, 256);

    case LG_F_STOCK_PROTECT_GCM:
    case LG_F_STOCK_UNPROTECT_GCM:
    case LG_F_STOCK_PROTECT_CM:
    case LG_F_STOCK_UNPROTECT_CM:
        s = (what == LG_F_STOCK_PROTECT_GCM
             || what == LG_F_STOCK_UNPROTECT_GCM) ? f->stock_gcm
                                                  : f->stock_cm;
        n = (int) *len;
        if (srtp_protect(s, b, &n) != srtp_err_status_ok) {
            return -1;
        }
        *len = (size_t) n;
        return 0;

    default:
        return kraken_srtp_protect(f->gcm, b, len, 256);
    }
}


static void
lg_floor_rtp(lg_floor_t *f, uint8_t *b)
{
    memset(b, 0, LG_RTP_HEADER + LG_PAYLOAD);
    f->seq++;
    b[0] = 0x80;
    b[1] = LG_OPUS_PT;
    b[2] = (uint8_t) (f->seq >> 8);
    b[3] = (uint8_t) f->seq;
    b[8] = 0x12;
    b[9] = 0x34;
    b[10] = 0x56;
    b[11] = 0x78;
}


static void
lg_floor_drain(lg_floor_t *f)
{
    int              i;
    struct iovec     iov[64];
    struct mmsghdr   h[64];
    static uint8_t   buf[64][256];

    for (i = 0; i < 64; i++) {
        iov[i].iov_base = buf[i];
        iov[i].iov_len = sizeof(buf[i]);
        memset(&h[i], 0, sizeof(h[i]));
        h[i].msg_hdr.msg_iov = &iov[i];
        h[i].msg_hdr.msg_iovlen = 1;
    }

    while (recvmmsg(f->rx, h, 64, MSG_DONTWAIT, NULL) > 0) {
        /* void */
    }
}


static void
lg_floor_chunk(lg_floor_t *f, int what)
{
    int             i, j, n;
    size_t          len;
    struct iovec    iov[LG_FLOOR_MMSG];
    struct msghdr   mh;
    struct mmsghdr  mm[LG_FLOOR_MMSG];
    kraken_srtp_t  *s;

    switch (what) {

    case LG_F_PROTECT_GCM:
    case LG_F_PROTECT_CM:
        s = (what == LG_F_PROTECT_GCM) ? f->gcm : f->cm;
        for (i = 0; i < LG_FLOOR_CHUNK; i++) {
            len = LG_RTP_HEADER + LG_PAYLOAD;
            (void) kraken_srtp_protect(s, f->pkt[i], &len, 256);
            f->len[i] = len;
        }
        break;

    case LG_F_STOCK_PROTECT_GCM:
    case LG_F_STOCK_PROTECT_CM:
        for (i = 0; i < LG_FLOOR_CHUNK; i++) {
            len = LG_RTP_HEADER + LG_PAYLOAD;
            (void) lg_floor_protect(f, what, f->pkt[i], &len);
            f->len[i] = len;
        }
        break;

    case LG_F_UNPROTECT_GCM:
    case LG_F_UNPROTECT_CM:
        s = (what == LG_F_UNPROTECT_GCM) ? f->gcm_rx : f->cm_rx;
        for (i = 0; i < LG_FLOOR_CHUNK; i++) {
            len = f->len[i];
            (void) kraken_srtp_unprotect(s, f->pkt[i], &len);
        }
        break;

    case LG_F_STOCK_UNPROTECT_GCM:
    case LG_F_STOCK_UNPROTECT_CM:
        for (i = 0; i < LG_FLOOR_CHUNK; i++) {
            n = (int) f->len[i];
            (void) srtp_unprotect(what == LG_F_STOCK_UNPROTECT_GCM
                                  ? f->stock_gcm_rx : f->stock_cm_rx,
                                  f->pkt[i], &n);
        }
        break;

    case LG_F_SENDMSG:
    case LG_F_FLOOR:
        for (i = 0; i < LG_FLOOR_CHUNK; i++) {
            len = 128;
            if (what == LG_F_FLOOR) {
                len = LG_RTP_HEADER + LG_PAYLOAD;
                (void) kraken_srtp_protect(f->gcm, f->pkt[i], &len, 256);
            }
            iov[0].iov_base = f->pkt[i];
            iov[0].iov_len = len;
            memset(&mh, 0, sizeof(mh));
            mh.msg_name = &f->to;
            mh.msg_namelen = sizeof(f->to);
            mh.msg_iov = iov;
            mh.msg_iovlen = 1;
            (void) sendmsg(f->tx, &mh, 0);
        }
        break;

    case LG_F_SENDMMSG:
    case LG_F_FLOOR_MMSG:
        for (i = 0; i < LG_FLOOR_CHUNK; i += LG_FLOOR_MMSG) {
            for (j = 0; j < LG_FLOOR_MMSG; j++) {
                len = 128;
                if (what == LG_F_FLOOR_MMSG) {
                    len = LG_RTP_HEADER + LG_PAYLOAD;
                    (void) kraken_srtp_protect(f->gcm, f->pkt[i + j], &len,
                                               256);
                }
                iov[j].iov_base = f->pkt[i + j];
                iov[j].iov_len = len;
                memset(&mm[j], 0, sizeof(mm[j]));
                mm[j].msg_hdr.msg_name = &f->to;
                mm[j].msg_hdr.msg_namelen = sizeof(f->to);
                mm[j].msg_hdr.msg_iov = &iov[j];
                mm[j].msg_hdr.msg_iovlen = 1;
            }
            n = sendmmsg(f->tx, mm, LG_FLOOR_MMSG, 0);
            (void) n;
        }
        break;
    }
}


static double
lg_tv_us(struct timeval tv)
{
    return (double) tv.tv_sec * 1e6 + (double) tv.tv_usec;
}


int
lg_floor(int argc, char **argv)
{
    int                 i, what, round, chunks, size, stock;
    double              secs;
    socklen_t           slen;
    lg_cost_t           cost[LG_F_N];
    lg_floor_t         *f;
    struct rusage       r0, r1;
    kraken_srtp_keys_t  k;

    secs = 1.0;
    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            secs = atof(argv[++i]);
        }
    }

    f = calloc(1, sizeof(lg_floor_t));
    if (f == NULL) {
        return 1;
    }

    memset(&k, 0, sizeof(k));
    lg_rand(k.local, sizeof(k.local));
    lg_rand(k.remote, sizeof(k.remote));

    stock = (lg_floor_stock(f, k.local) == 0);
    if (!stock) {
        fprintf(stderr, "floor: no stock libsrtp types, stock rows are 0\n");
    }

    if (kraken_srtp_init() != 0) {
        fprintf(stderr, "floor: kraken_srtp_init failed\n");
        return 1;
    }

    k.profile = KRAKEN_SRTP_AEAD_AES_128_GCM;
    k.len = 28;
    f->gcm = kraken_srtp_create(&k);

    memcpy(k.remote, k.local, sizeof(k.local));
    f->gcm_rx = kraken_srtp_create(&k);

    k.profile = KRAKEN_SRTP_AES128_CM_SHA1_80;
    k.len = 30;
    f->cm = kraken_srtp_create(&k);
    f->cm_rx = kraken_srtp_create(&k);

    if (f->gcm == NULL || f->gcm_rx == NULL || f->cm == NULL
        || f->cm_rx == NULL)
    {
        fprintf(stderr, "floor: kraken_srtp_create failed\n");
        return 1;
    }

    f->tx = socket(AF_INET, SOCK_DGRAM, 0);
    f->rx = socket(AF_INET, SOCK_DGRAM, 0);
    size = 32 << 20;
    (void) setsockopt(f->rx, SOL_SOCKET, SO_RCVBUFFORCE, &size,
                      sizeof(size));

    memset(&f->to, 0, sizeof(f->to));
    f->to.sin_family = AF_INET;
    f->to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    if (bind(f->rx, (struct sockaddr *) &f->to, sizeof(f->to)) != 0) {
        perror("floor: bind");
        return 1;
    }

    slen = sizeof(f->to);
    (void) getsockname(f->rx, (struct sockaddr *) &f->to, &slen);

    /* about secs / 3 seconds per variant and round at ~3 us a packet */
    chunks = (int) (secs * 1e6 / 9.0 / LG_FLOOR_CHUNK);
    if (chunks < 8) {
        chunks = 8;
    }

    for (what = 0; what < LG_F_N; what++) {
        cost[what].user = cost[what].sys = 1e9;
    }

    /* three rounds, the cheapest of each: other load only adds */
    for (round = 0; round < 3 * LG_F_N; round++) {
        double  user, sys;

        what = round % LG_F_N;
        user = sys = 0;

        if (what >= LG_F_STOCK_PROTECT_GCM && !stock) {
            cost[what].user = cost[what].sys = 0;
            continue;
        }

        for (i = 0; i < chunks; i++) {
            int  j;

            if (what != LG_F_UNPROTECT_GCM && what != LG_F_UNPROTECT_CM
                && what != LG_F_STOCK_UNPROTECT_GCM
                && what != LG_F_STOCK_UNPROTECT_CM)
            {
                for (j = 0; j < LG_FLOOR_CHUNK; j++) {
                    lg_floor_rtp(f, f->pkt[j]);
                }

            } else {
                /* fresh protected packets, made outside the timing */
                for (j = 0; j < LG_FLOOR_CHUNK; j++) {
                    lg_floor_rtp(f, f->pkt[j]);
                    f->len[j] = LG_RTP_HEADER + LG_PAYLOAD;
                    (void) lg_floor_protect(f, what, f->pkt[j], &f->len[j]);
                }
            }

            getrusage(RUSAGE_THREAD, &r0);
            lg_floor_chunk(f, what);
            getrusage(RUSAGE_THREAD, &r1);

            user += lg_tv_us(r1.ru_utime) - lg_tv_us(r0.ru_utime);
            sys += lg_tv_us(r1.ru_stime) - lg_tv_us(r0.ru_stime);

            lg_floor_drain(f);
        }

        user /= (double) chunks * LG_FLOOR_CHUNK;
        sys /= (double) chunks * LG_FLOOR_CHUNK;

        if (user + sys < cost[what].user + cost[what].sys) {
            cost[what].user = user;
            cost[what].sys = sys;
        }
    }

    printf("# floor: one thread, best of 3 rounds of %d packets, "
           "%d-byte RTP payload\n", chunks * LG_FLOOR_CHUNK, LG_PAYLOAD);
    printf("%-40s %8s %8s %8s %12s\n", "operation", "user us", "sys us",
           "total us", "per core/s");

    for (what = 0; what < LG_F_N; what++) {
        double  t = cost[what].user + cost[what].sys;

        printf("%-40s %8.2f %8.2f %8.2f %12.0f\n", lg_floor_names[what],
               cost[what].user, cost[what].sys, t, t > 0 ? 1e6 / t : 0);
    }

    printf("FLOOR protect_gcm=%.2f protect_cm=%.2f unprotect_gcm=%.2f "
           "sendmsg=%.2f sendmmsg=%.2f floor=%.2f floor_mmsg=%.2f\n",
           cost[LG_F_PROTECT_GCM].user + cost[LG_F_PROTECT_GCM].sys,
           cost[LG_F_PROTECT_CM].user + cost[LG_F_PROTECT_CM].sys,
           cost[LG_F_UNPROTECT_GCM].user + cost[LG_F_UNPROTECT_GCM].sys,
           cost[LG_F_SENDMSG].user + cost[LG_F_SENDMSG].sys,
           cost[LG_F_SENDMMSG].user + cost[LG_F_SENDMMSG].sys,
           cost[LG_F_FLOOR].user + cost[LG_F_FLOOR].sys,
           cost[LG_F_FLOOR_MMSG].user + cost[LG_F_FLOOR_MMSG].sys);

    /* before (stock, NSS) and after (OpenSSL EVP), us per packet */
    printf("SRTP payload=%d",  LG_PAYLOAD);
    for (i = 0; i < 8; i++) {
        what = lg_floor_srtp[i].what;
        printf(" %s=%.2f", lg_floor_srtp[i].key,
               cost[what].user + cost[what].sys);
    }
    printf("\n");

    close(f->tx);
    close(f->rx);
    kraken_srtp_free(f->gcm);
    kraken_srtp_free(f->gcm_rx);
    kraken_srtp_free(f->cm);
    kraken_srtp_free(f->cm_rx);

    if (stock) {
        srtp_dealloc(f->stock_gcm);
        srtp_dealloc(f->stock_gcm_rx);
        srtp_dealloc(f->stock_cm);
        srtp_dealloc(f->stock_cm_rx);
    }

    free(f);

    return 0;
}
