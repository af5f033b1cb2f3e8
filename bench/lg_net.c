/*
 * loadgen: the media side of the simulated peers. One UDP socket, one
 * loopback address per connection; ICE checks as the controlling agent
 * (libnice's STUN library), DTLS (kraken_dtls), SRTP (kraken_srtp), RTP
 * sending paced on a 20-slot wheel, and per-stream loss and latency
 * accounting of what comes back.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <stun/stunagent.h>
#include <stun/stunmessage.h>
#include <stun/usages/bind.h>
#include <stun/usages/ice.h>

#include "kraken_rtp.h"
#include "lg.h"


#define LG_UDP_BUFSZ        1500
#define LG_CHECK_MS         50          /* check retransmission */
#define LG_CHECK_TRIES      200         /* 10 s of checks */
#define LG_CONSENT_FAIL_NS  (30 * LG_NS)
#define LG_RECV_ROUNDS      128         /* recvmmsg calls per tick, at most */

typedef struct {
    struct mmsghdr   hdr[LG_BATCH];
    struct iovec     iov[LG_BATCH];
    uint8_t          buf[LG_BATCH][LG_UDP_BUFSZ];
    union {
        char            raw[CMSG_SPACE(sizeof(struct in_pktinfo))
                            + CMSG_SPACE(sizeof(struct timespec))];
        struct cmsghdr  align;
    } ctl[LG_BATCH];
    struct sockaddr_in  addr[LG_BATCH];
    int              n;
} lg_batch_t;

static lg_batch_t  lg_rx;
static lg_batch_t  lg_tx;

static uint16_t lg_stun_attrs[] = {
    STUN_ATTRIBUTE_USERNAME, STUN_ATTRIBUTE_MESSAGE_INTEGRITY,
    STUN_ATTRIBUTE_ERROR_CODE, STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS,
    STUN_ATTRIBUTE_PRIORITY, STUN_ATTRIBUTE_USE_CANDIDATE,
    STUN_ATTRIBUTE_ICE_CONTROLLED, STUN_ATTRIBUTE_ICE_CONTROLLING,
    STUN_ATTRIBUTE_FINGERPRINT, 0
};


static void lg_conn_addr(lg_t *lg, int idx, struct in_addr *a);
static lg_conn_t *lg_conn_by_addr(lg_t *lg, struct in_addr a);
static void lg_send_ctl(lg_t *lg, lg_conn_t *c, const uint8_t *buf,
    size_t len);
static void lg_stun_check(lg_t *lg, lg_conn_t *c);
static void lg_stun_indication(lg_t *lg, lg_conn_t *c);
static void lg_rtcp_sr(lg_t *lg, lg_conn_t *c);
static void lg_conn_keyed_timers(lg_t *lg, lg_conn_t *c);
static void lg_stun_input(lg_t *lg, lg_conn_t *c, uint8_t *buf, size_t len,
    const struct sockaddr_in *from);
static bool lg_stun_validater(StunAgent *agent, StunMessage *msg,
    uint8_t *username, uint16_t username_len, uint8_t **password,
    size_t *password_len, void *data);
static void lg_dtls_input(lg_t *lg, lg_conn_t *c, uint8_t *buf,
    size_t len);
static void lg_dtls_flush(lg_t *lg, lg_conn_t *c);
static void lg_conn_up(lg_t *lg, lg_conn_t *c);
static void lg_rtp_input(lg_t *lg, lg_conn_t *c, uint8_t *buf, size_t len,
    uint64_t rx);
static lg_stream_t *lg_stream(lg_t *lg, lg_conn_t *c, uint32_t ssrc,
    int *created);
static void lg_tx_flush(lg_t *lg);
static void lg_conn_fail(lg_t *lg, lg_conn_t *c, const char *why);


void
lg_rand(void *buf, size_t len)
{
    if (getrandom(buf, len, 0) != (ssize_t) len) {
        memset(buf, 0x5a, len);
    }
}


void
lg_rand_token(char *buf, size_t len)
{
    size_t         i;
    uint8_t        r[64];
    static const char  al[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    lg_rand(r, sizeof(r));

    for (i = 0; i + 1 < len && i < sizeof(r); i++) {
        buf[i] = al[r[i] % (sizeof(al) - 1)];
    }

    buf[i] = '\0';
}


int
lg_net_init(lg_t *lg)
{
    int                 on, size;
    socklen_t           slen;
    struct sockaddr_in  sin;

    lg->udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (lg->udp == -1) {
        perror("socket");
        return -1;
    }

    size = 64 << 20;
    if (setsockopt(lg->udp, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size))
        != 0)
    {
        (void) setsockopt(lg->udp, SOL_SOCKET, SO_RCVBUF, &size,
                          sizeof(size));
    }

    size = 16 << 20;
    if (setsockopt(lg->udp, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size))
        != 0)
    {
        (void) setsockopt(lg->udp, SOL_SOCKET, SO_SNDBUF, &size,
                          sizeof(size));
    }

    on = 1;
    if (setsockopt(lg->udp, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)) != 0
        || setsockopt(lg->udp, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on))
           != 0)
    {
        perror("setsockopt");
        return -1;
    }

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_ANY);
    sin.sin_port = htons((uint16_t) lg->conf.udp_port);

    if (bind(lg->udp, (struct sockaddr *) &sin, sizeof(sin)) != 0) {
        perror("bind");
        return -1;
    }

    slen = sizeof(sin);
    if (getsockname(lg->udp, (struct sockaddr *) &sin, &slen) != 0) {
        perror("getsockname");
        return -1;
    }

    lg->port = ntohs(sin.sin_port);

    /*
     * The socket is not in epoll: the main loop drains it every 1 ms
     * tick. On loopback, waking a sleeping reader is work done in the
     * sender's system call, so a generator woken per datagram would add
     * its own wake-ups to the server's CPU per packet; nobody waits on
     * this socket, so the kernel skips them. Latency is unaffected: it
     * is taken from the kernel's receive timestamps.
     */
    return 0;
}


/* connection i lives at addr_base + 1 + i (127.10.0.1 + i by default) */

static void
lg_conn_addr(lg_t *lg, int idx, struct in_addr *a)
{
    a->s_addr = htonl(lg->conf.addr_base + (uint32_t) idx + 1);
}


static lg_conn_t *
lg_conn_by_addr(lg_t *lg, struct in_addr a)
{
    uint32_t  v;

    v = ntohl(a.s_addr) - lg->conf.addr_base - 1;
    if (v >= (uint32_t) lg->nconns) {
        return NULL;
    }

    return &lg->conns[v];
}


lg_conn_t *
lg_conn_new(lg_t *lg, lg_part_t *p)
{
    lg_conn_t  *c;

    if (lg->nconns == lg->maxconns) {
        return NULL;
    }

    c = &lg->conns[lg->nconns];
    memset(c, 0, sizeof(*c));
    c->idx = lg->nconns++;
    c->part = p;
    c->slot = -1;

    c->local.sin_family = AF_INET;
    c->local.sin_port = htons(lg->port);
    lg_conn_addr(lg, c->idx, &c->local.sin_addr);

    lg_rand_token(c->ufrag, 9);
    lg_rand_token(c->pwd, 25);
    lg_rand(&c->ssrc, sizeof(c->ssrc));
    lg_rand(&c->seq, sizeof(c->seq));
    lg_rand(&c->ts, sizeof(c->ts));

    c->stun = malloc(sizeof(StunAgent));
    if (c->stun == NULL) {
        return NULL;
    }

    stun_agent_init(c->stun, lg_stun_attrs, STUN_COMPATIBILITY_RFC5389,
                    STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS
                    | STUN_AGENT_USAGE_USE_FINGERPRINT);

    return c;
}


/*
 * The remote description arrived (answer to our offer, or the server's
 * offer). The first one starts ICE and creates the DTLS association in
 * the role the remote left us; later ones (renegotiation) keep both.
 */

int
lg_conn_remote(lg_t *lg, lg_conn_t *c, const lg_sdp_t *sdp)
{
    if (c->state != LG_CONN_IDLE) {
        return 0;
    }

    if (!sdp->has_cand) {
        lg_conn_fail(lg, c, "no UDP IPv4 candidate in the remote SDP");
        return -1;
    }

    snprintf(c->rufrag, sizeof(c->rufrag), "%s", sdp->ufrag);
    snprintf(c->rpwd, sizeof(c->rpwd), "%s", sdp->pwd);
    c->remote = sdp->cand;

    /* remote passive or actpass: we are the DTLS client */
    c->dtls_server = (sdp->setup == LG_SETUP_ACTIVE);

    c->dtls = kraken_dtls_create(lg->dtls_ctx, c->dtls_server, sdp->fp_alg,
                                 sdp->fp, sdp->fp_len);
    if (c->dtls == NULL) {
        lg_conn_fail(lg, c, "kraken_dtls_create failed");
        return -1;
    }

    c->state = LG_CONN_CHECKING;
    c->t_start = lg->now;
    c->stun_next = lg->now;
    lg_stun_check(lg, c);

    return 0;
}


static void
lg_conn_fail(lg_t *lg, lg_conn_t *c, const char *why)
{
    if (c->state == LG_CONN_FAILED) {
        return;
    }

    c->state = LG_CONN_FAILED;
    lg_fail(c->part, "connection %d: %s", c->idx, why);
}


/*
 * The participant left (or vanished): its connection sends nothing more,
 * and what still arrives for it is counted apart and dropped.
 */

void
lg_conn_close(lg_t *lg, lg_conn_t *c)
{
    if (c->state == LG_CONN_CLOSED) {
        return;
    }

    c->state = LG_CONN_CLOSED;

    if (c->stun_pending) {
        stun_agent_forget_transaction(c->stun, c->stun_id);
        c->stun_pending = 0;
    }

    kraken_dtls_free(c->dtls);
    c->dtls = NULL;
    kraken_srtp_free(c->srtp);
    c->srtp = NULL;
}


static void
lg_send_ctl(lg_t *lg, lg_conn_t *c, const uint8_t *buf, size_t len)
{
    struct iovec        iov;
    struct msghdr       mh;
    struct cmsghdr     *cm;
    struct in_pktinfo  *pi;
    union {
        char            raw[CMSG_SPACE(sizeof(struct in_pktinfo))];
        struct cmsghdr  align;
    } ctl;

    iov.iov_base = (void *) buf;
    iov.iov_len = len;

    memset(&mh, 0, sizeof(mh));
    mh.msg_name = &c->remote;
    mh.msg_namelen = sizeof(c->remote);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.raw;
    mh.msg_controllen = sizeof(ctl.raw);

    memset(&ctl, 0, sizeof(ctl));
    cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = IPPROTO_IP;
    cm->cmsg_type = IP_PKTINFO;
    cm->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
    pi = (struct in_pktinfo *) CMSG_DATA(cm);
    pi->ipi_spec_dst = c->local.sin_addr;

    if (sendmsg(lg->udp, &mh, 0) < 0) {
        lg->c.tx_fail++;
    }
}


/* A Binding request: USE-CANDIDATE, ICE-CONTROLLING, our credentials. */

static void
lg_stun_check(lg_t *lg, lg_conn_t *c)
{
    size_t       len, ulen;
    uint8_t      buf[512];
    uint64_t     tie;
    char         user[2 * LG_TOKEN + 2];
    StunMessage  msg;

    if (c->stun_pending) {
        stun_agent_forget_transaction(c->stun, c->stun_id);
        c->stun_pending = 0;
    }

    ulen = (size_t) snprintf(user, sizeof(user), "%s:%s", c->rufrag,
                             c->ufrag);
    lg_rand(&tie, sizeof(tie));

    len = stun_usage_ice_conncheck_create(c->stun, &msg, buf, sizeof(buf),
              (const uint8_t *) user, ulen,
              (const uint8_t *) c->rpwd, strlen(c->rpwd),
              true, true, 0x6e7f1eff, tie, NULL,
              STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
    if (len == 0) {
        lg->errors++;
        return;
    }

    stun_message_id(&msg, c->stun_id);
    c->stun_pending = 1;
    c->stun_tries++;

    if (c->state == LG_CONN_UP) {
        lg->checks_up++;
    }

    lg_send_ctl(lg, c, buf, len);
}


/*
 * A Binding indication (RFC 5389 keepalive, what libnice and GStreamer's
 * webrtcbin send on a selected pair): no credentials, no answer, and no
 * proof that we are still there.
 */

static void
lg_stun_indication(lg_t *lg, lg_conn_t *c)
{
    size_t       len;
    uint8_t      buf[128];
    StunMessage  msg;

    len = stun_usage_bind_keepalive(c->stun, &msg, buf, sizeof(buf));
    if (len == 0) {
        lg->errors++;
        return;
    }

    lg->indications++;
    lg_send_ctl(lg, c, buf, len);
}


/* An RTCP sender report (RFC 3550 6.4.1) of a talker's stream, in SRTCP. */

static void
lg_rtcp_sr(lg_t *lg, lg_conn_t *c)
{
    size_t           len;
    uint8_t          b[LG_UDP_BUFSZ];
    uint32_t         v[6];
    uint64_t         frac;
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    frac = ((uint64_t) ts.tv_nsec << 32) / LG_NS;

    b[0] = 0x80;                        /* V=2, no reports */
    b[1] = 200;                         /* SR */
    b[2] = 0;
    b[3] = 6;                           /* 7 words - 1 */

    v[0] = htonl(c->ssrc);
    v[1] = htonl((uint32_t) ts.tv_sec + 2208988800U);   /* NTP era 0 */
    v[2] = htonl((uint32_t) frac);
    v[3] = htonl(c->ts);
    v[4] = htonl(c->pseq);
    v[5] = htonl(c->octets);
    memcpy(b + 4, v, sizeof(v));

    len = 28;
    if (kraken_srtp_protect_rtcp(c->srtp, b, &len, sizeof(b)) != 0) {
        lg->c.tx_fail++;
        return;
    }

    lg->rtcp_sent++;
    lg_send_ctl(lg, c, b, len);
}


static bool
lg_stun_validater(StunAgent *agent, StunMessage *msg, uint8_t *username,
    uint16_t username_len, uint8_t **password, size_t *password_len,
    void *data)
{
    size_t      n;
    lg_conn_t  *c;

    c = data;
    n = strlen(c->ufrag);

    /* requests to us carry "<our ufrag>:<their ufrag>" */
    if (username_len < n + 1 || memcmp(username, c->ufrag, n) != 0
        || username[n] != ':')
    {
        return false;
    }

    *password = (uint8_t *) c->pwd;
    *password_len = strlen(c->pwd);

    return true;
}


static void
lg_stun_input(lg_t *lg, lg_conn_t *c, uint8_t *buf, size_t len,
    const struct sockaddr_in *from)
{
    bool                     control;
    size_t                   olen;
    uint8_t                  out[512];
    socklen_t                alen;
    StunMessage              msg, reply;
    StunValidationStatus     st;
    struct sockaddr_storage  addr;

    lg->c.rx_stun++;

    st = stun_agent_validate(c->stun, &msg, buf, len, lg_stun_validater, c);
    if (st != STUN_VALIDATION_SUCCESS) {
        lg->c.rx_bad++;
        return;
    }

    if (stun_message_get_class(&msg) == STUN_REQUEST) {
        /* a full-ICE server checks us too: answer it */
        control = true;
        olen = sizeof(out);

        if (stun_usage_ice_conncheck_create_reply(c->stun, &msg, &reply, out,
                &olen, (const struct sockaddr_storage *) from,
                sizeof(*from), &control, 0,
                STUN_USAGE_ICE_COMPATIBILITY_RFC5245)
            == STUN_USAGE_ICE_RETURN_SUCCESS)
        {
            lg_send_ctl(lg, c, out, olen);
        }

        return;
    }

    if (stun_message_get_class(&msg) != STUN_RESPONSE) {
        return;
    }

    alen = sizeof(addr);
    if (stun_usage_ice_conncheck_process(&msg, &addr, &alen,
            STUN_USAGE_ICE_COMPATIBILITY_RFC5245)
        != STUN_USAGE_ICE_RETURN_SUCCESS)
    {
        lg->c.rx_bad++;
        return;
    }

    c->stun_pending = 0;
    c->stun_answered = lg->now;
    c->stun_next = lg->now + (uint64_t) lg->conf.consent_ms * LG_MS
                   + (uint64_t) (rand() % 500) * LG_MS;

    if (c->state != LG_CONN_CHECKING) {
        return;
    }

    c->state = LG_CONN_DTLS;

    if (!c->dtls_server) {
        kraken_dtls_start(c->dtls);
        lg_dtls_flush(lg, c);
    }
}


static void
lg_dtls_flush(lg_t *lg, lg_conn_t *c)
{
    size_t    n;
    uint64_t  next;
    uint8_t   buf[LG_UDP_BUFSZ * 2];

    while ((n = kraken_dtls_output(c->dtls, buf, sizeof(buf))) > 0) {
        lg_send_ctl(lg, c, buf, n);
    }

    if (kraken_dtls_state(c->dtls) == KRAKEN_DTLS_HANDSHAKING) {
        next = 0;
        (void) kraken_dtls_timer(c->dtls, lg->now / LG_MS, &next);
        c->dtls_deadline = next;

        while ((n = kraken_dtls_output(c->dtls, buf, sizeof(buf))) > 0) {
            lg_send_ctl(lg, c, buf, n);
        }

    } else {
        c->dtls_deadline = 0;
    }
}


static void
lg_dtls_input(lg_t *lg, lg_conn_t *c, uint8_t *buf, size_t len)
{
    int  st;

    lg->c.rx_dtls++;

    if (c->dtls == NULL) {
        return;
    }

    st = kraken_dtls_input(c->dtls, buf, len);
    lg_dtls_flush(lg, c);

    if (st == KRAKEN_DTLS_FAILED) {
        lg_conn_fail(lg, c, "DTLS failed");
        return;
    }

    if (st == KRAKEN_DTLS_CONNECTED && c->srtp == NULL) {
        lg_conn_up(lg, c);
    }
}


static void
lg_conn_up(lg_t *lg, lg_conn_t *c)
{
    kraken_srtp_keys_t  keys;

    if (kraken_dtls_srtp_keys(c->dtls, &keys) != 0) {
        lg_conn_fail(lg, c, "no SRTP keys");
        return;
    }

    c->srtp = kraken_srtp_create(&keys);
    if (c->srtp == NULL) {
        lg_conn_fail(lg, c, "kraken_srtp_create failed");
        return;
    }

    c->profile = keys.profile;
    c->state = LG_CONN_UP;
    c->t_up = lg->now;

    if (c->talking) {
        /*
         * Talkers take the 1 ms slots of the 20 ms period in turn: a
         * random slot would leave some slots with twice the average
         * burst, every period, which real clients do not do.
         */
        c->slot = lg->slot_turn++ % LG_PTIME_MS;
        c->slot_next = lg->slots[c->slot];
        lg->slots[c->slot] = c;
    }

    if (lg->conf.server == LG_SERVER_JANUS) {
        lg_janus_conn_up(lg, c);
    }
}


/* Reads everything pending on the socket (bounded per wakeup). */

void
lg_net_read(lg_t *lg)
{
    int                 i, n, round;
    size_t              len;
    uint8_t            *b;
    uint64_t            rx;
    lg_conn_t          *c;
    struct cmsghdr     *cm;
    struct msghdr      *mh;
    struct in_addr      dst;
    struct timespec    *ts;
    struct in_pktinfo  *pi;

    for (round = 0; round < LG_RECV_ROUNDS; round++) {

        for (i = 0; i < LG_BATCH; i++) {
            lg_rx.iov[i].iov_base = lg_rx.buf[i];
            lg_rx.iov[i].iov_len = LG_UDP_BUFSZ;
            mh = &lg_rx.hdr[i].msg_hdr;
            mh->msg_name = &lg_rx.addr[i];
            mh->msg_namelen = sizeof(lg_rx.addr[i]);
            mh->msg_iov = &lg_rx.iov[i];
            mh->msg_iovlen = 1;
            mh->msg_control = lg_rx.ctl[i].raw;
            mh->msg_controllen = sizeof(lg_rx.ctl[i].raw);
            mh->msg_flags = 0;
        }

        n = recvmmsg(lg->udp, lg_rx.hdr, LG_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) {
            break;
        }

        lg->now = lg_now();

        for (i = 0; i < n; i++) {
            mh = &lg_rx.hdr[i].msg_hdr;
            len = lg_rx.hdr[i].msg_len;
            b = lg_rx.buf[i];
            rx = lg->now;
            dst.s_addr = 0;

            for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
                if (cm->cmsg_level == IPPROTO_IP
                    && cm->cmsg_type == IP_PKTINFO)
                {
                    pi = (struct in_pktinfo *) CMSG_DATA(cm);
                    dst = pi->ipi_addr;

                } else if (cm->cmsg_level == SOL_SOCKET
                           && cm->cmsg_type == SCM_TIMESTAMPNS)
                {
                    ts = (struct timespec *) CMSG_DATA(cm);
                    rx = (uint64_t) ts->tv_sec * LG_NS
                         + (uint64_t) ts->tv_nsec - lg->rt_offset;
                }
            }

            c = lg_conn_by_addr(lg, dst);
            if (c == NULL || len == 0) {
                lg->c.rx_bad++;
                continue;
            }

            if (c->state == LG_CONN_CLOSED) {
                lg->rx_closed++;
                continue;
            }

            if (b[0] < 4) {
                lg_stun_input(lg, c, b, len, &lg_rx.addr[i]);

            } else if (b[0] >= 20 && b[0] < 64) {
                lg_dtls_input(lg, c, b, len);

            } else if (b[0] >= 128 && b[0] < 192 && len >= LG_RTP_HEADER) {
                if ((b[1] & 0x7f) >= 64 && (b[1] & 0x7f) < 96) {
                    lg->c.rx_rtcp++;
                } else {
                    lg_rtp_input(lg, c, b, len, rx);
                }

            } else {
                lg->c.rx_bad++;
            }
        }

        if (n < LG_BATCH) {
            break;
        }
    }
}


static void
lg_rtp_input(lg_t *lg, lg_conn_t *c, uint8_t *buf, size_t len, uint64_t rx)
{
    int                  created, decrypt;
    size_t               n;
    kraken_rtp_header_t  h;
    uint16_t             seq;
    uint32_t             ssrc, magic;
    uint64_t             ext, sent, lat;
    lg_part_t           *p;
    lg_stream_t         *s;

    if (c->srtp == NULL) {
        lg->c.rx_bad++;
        return;
    }

    seq = (uint16_t) (buf[2] << 8 | buf[3]);
    ssrc = (uint32_t) buf[8] << 24 | (uint32_t) buf[9] << 16
           | (uint32_t) buf[10] << 8 | buf[11];

    s = lg_stream(lg, c, ssrc, &created);
    if (s == NULL) {
        lg->c.rx_bad++;
        return;
    }

    /* the first packet of every stream is always verified */
    decrypt = created || lg->conf.decrypt_every <= 1
              || (s->received % (uint64_t) lg->conf.decrypt_every) == 0;

    if (decrypt) {
        n = len;
        if (kraken_srtp_unprotect(c->srtp, buf, &n) != 0) {
            lg->c.rx_bad++;
            if (created) {
                s->key = 0;
                lg->seen_streams--;
            }
            return;
        }

        lg->c.rx_decrypted++;

        /* Janus may add header extensions: the payload follows them */
        if (kraken_rtp_parse(buf, n, &h) == 0
            && n >= h.header_len + 20)
        {
            memcpy(&magic, buf + h.header_len, 4);
            memcpy(&sent, buf + h.header_len + 12, 8);

            if (magic == htonl(LG_MAGIC) && lg->measuring && rx > sent) {
                lat = rx - sent;
                lg->c.lat_count++;
                lg->c.lat_sum += lat;
                if (lat > lg->c.lat_max) {
                    lg->c.lat_max = lat;
                }
                lat /= 1000;
                lg->c.lat_hist[lat < LG_LAT_BUCKETS ? lat
                                                    : LG_LAT_BUCKETS - 1]++;
            }
        }
    }

    p = c->part;
    c->rx_packets++;

    if (p->t_first_rx == 0) {
        p->t_first_rx = lg->now;
    }

    if (created) {
        p->nstreams++;
        s->max_seq = seq;
        ext = seq;

    } else if ((int16_t) (seq - s->max_seq) > 0) {
        if (seq < s->max_seq) {
            s->cycles += 65536;
        }
        s->max_seq = seq;
        ext = (uint64_t) s->cycles + seq;

    } else {
        ext = (uint64_t) s->cycles + seq;
        if (seq > s->max_seq && ext >= 65536) {
            ext -= 65536;
        }
    }

    /* seq 0 of cycle 0 as 65536 so that base - 1 never underflows */
    ext += 65536;

    if (!lg->measuring) {
        return;
    }

    lg->c.rx_rtp++;
    s->last_rx = rx;

    if (!s->in_window) {
        s->in_window = 1;
        s->base_ext = ext;
        s->max_ext = ext;
        s->received = 1;
        return;
    }

    s->received++;
    if (ext < s->base_ext) {
        s->base_ext = ext;
    }
    if (ext > s->max_ext) {
        s->max_ext = ext;
    }
}


static lg_stream_t *
lg_stream(lg_t *lg, lg_conn_t *c, uint32_t ssrc, int *created)
{
    uint32_t      h, i;
    uint64_t      key;
    lg_stream_t  *s;

    key = ((uint64_t) (c->idx + 1) << 32) | ssrc;
    h = (uint32_t) ((key * 0x9e3779b97f4a7c15ULL) >> 32);
    *created = 0;

    for (i = 0; i <= lg->stream_mask; i++) {
        s = &lg->streams[(h + i) & lg->stream_mask];

        if (s->key == key) {
            return s;
        }

        if (s->key == 0) {
            if (lg->seen_streams * 10 >= (uint64_t) lg->stream_mask * 9) {
                return NULL;
            }

            memset(s, 0, sizeof(*s));
            s->key = key;
            lg->seen_streams++;
            *created = 1;
            return s;
        }
    }

    return NULL;
}


/*
 * Sends the RTP of every talker whose 1 ms slot of the 20 ms period has
 * come, in sendmmsg batches. The send time goes into the payload just
 * before protection.
 */

void
lg_net_send_due(lg_t *lg)
{
    int                 k;
    size_t              len;
    uint8_t            *b;
    uint32_t            v;
    uint64_t            now_ms, t;
    lg_conn_t          *c;
    struct cmsghdr     *cm;
    struct msghdr      *mh;
    struct in_pktinfo  *pi;

    now_ms = lg->now / LG_MS;

    if (lg->next_slot_ms == 0 || now_ms > lg->next_slot_ms + LG_PTIME_MS) {
        /* first call, or we stalled a whole period: no bursts */
        lg->next_slot_ms = now_ms;
    }

    while (lg->next_slot_ms <= now_ms) {
        k = (int) (lg->next_slot_ms % LG_PTIME_MS);
        lg->next_slot_ms++;

        for (c = lg->slots[k]; c; c = c->slot_next) {
            if (c->state != LG_CONN_UP) {
                continue;
            }

            b = lg_tx.buf[lg_tx.n];
            c->seq++;
            c->ts += 960;
            c->pseq++;

            b[0] = 0x80;
            b[1] = LG_OPUS_PT;
            b[2] = (uint8_t) (c->seq >> 8);
            b[3] = (uint8_t) c->seq;
            b[4] = (uint8_t) (c->ts >> 24);
            b[5] = (uint8_t) (c->ts >> 16);
            b[6] = (uint8_t) (c->ts >> 8);
            b[7] = (uint8_t) c->ts;
            b[8] = (uint8_t) (c->ssrc >> 24);
            b[9] = (uint8_t) (c->ssrc >> 16);
            b[10] = (uint8_t) (c->ssrc >> 8);
            b[11] = (uint8_t) c->ssrc;

            memset(b + LG_RTP_HEADER, 0, LG_PAYLOAD);
            v = htonl(LG_MAGIC);
            memcpy(b + LG_RTP_HEADER, &v, 4);
            v = htonl((uint32_t) c->part->idx);
            memcpy(b + LG_RTP_HEADER + 4, &v, 4);
            v = htonl(c->pseq);
            memcpy(b + LG_RTP_HEADER + 8, &v, 4);
            t = lg_now();
            memcpy(b + LG_RTP_HEADER + 12, &t, 8);

            len = LG_RTP_HEADER + LG_PAYLOAD;
            if (kraken_srtp_protect(c->srtp, b, &len, LG_UDP_BUFSZ) != 0) {
                lg->c.tx_fail++;
                continue;
            }

            lg_tx.iov[lg_tx.n].iov_base = b;
            lg_tx.iov[lg_tx.n].iov_len = len;

            mh = &lg_tx.hdr[lg_tx.n].msg_hdr;
            memset(mh, 0, sizeof(*mh));
            mh->msg_name = &c->remote;
            mh->msg_namelen = sizeof(c->remote);
            mh->msg_iov = &lg_tx.iov[lg_tx.n];
            mh->msg_iovlen = 1;
            mh->msg_control = lg_tx.ctl[lg_tx.n].raw;
            mh->msg_controllen = CMSG_SPACE(sizeof(struct in_pktinfo));

            cm = CMSG_FIRSTHDR(mh);
            cm->cmsg_level = IPPROTO_IP;
            cm->cmsg_type = IP_PKTINFO;
            cm->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
            pi = (struct in_pktinfo *) CMSG_DATA(cm);
            memset(pi, 0, sizeof(*pi));
            pi->ipi_spec_dst = c->local.sin_addr;

            c->tx_packets++;
            c->octets += LG_PAYLOAD;
            if (lg->measuring) {
                lg->c.tx_rtp++;
            }

            if (++lg_tx.n == lg->conf.send_batch || lg_tx.n == LG_BATCH) {
                lg_tx_flush(lg);
            }
        }
    }

    lg_tx_flush(lg);
}


static void
lg_tx_flush(lg_t *lg)
{
    int  n, off;

    off = 0;

    while (off < lg_tx.n) {
        n = sendmmsg(lg->udp, lg_tx.hdr + off, (unsigned) (lg_tx.n - off), 0);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            /* a full socket buffer: drop the rest, as UDP would */
            lg->c.tx_fail += (uint64_t) (lg_tx.n - off);
            break;
        }
        off += n;
    }

    lg_tx.n = 0;
}


/* Check retransmission, consent, DTLS timers: every 10 ms. */

void
lg_net_timers(lg_t *lg)
{
    int         i;
    uint64_t    now_ms;
    lg_conn_t  *c;

    now_ms = lg->now / LG_MS;

    for (i = 0; i < lg->nconns; i++) {
        c = &lg->conns[i];

        switch (c->state) {

        case LG_CONN_CHECKING:
            if (lg->now >= c->stun_next) {
                if (c->stun_tries >= LG_CHECK_TRIES) {
                    lg_conn_fail(lg, c, "no answer to ICE checks");
                    break;
                }
                lg_stun_check(lg, c);
                c->stun_next = lg->now + LG_CHECK_MS * LG_MS;
            }
            break;

        case LG_CONN_DTLS:
        case LG_CONN_UP:
            if (c->dtls_deadline && now_ms >= c->dtls_deadline) {
                if (kraken_dtls_timer(c->dtls, now_ms, &c->dtls_deadline)
                    == KRAKEN_DTLS_FAILED)
                {
                    lg_conn_fail(lg, c, "DTLS timed out");
                    break;
                }
                lg_dtls_flush(lg, c);
            }

            if (c->state == LG_CONN_UP) {
                lg_conn_keyed_timers(lg, c);

                if (c->state != LG_CONN_UP || !lg->conf.checks_after_up) {
                    break;
                }
            }

            if (lg->now >= c->stun_next) {
                if (lg->now - c->stun_answered > LG_CONSENT_FAIL_NS) {
                    lg_conn_fail(lg, c, "consent checks unanswered");
                    break;
                }
                lg_stun_check(lg, c);
                c->stun_next = lg->now
                               + (uint64_t) lg->conf.consent_ms * LG_MS;
            }
            break;

        default:
            break;
        }
    }
}


/*
 * A keyed connection: binding indications, sender reports, and going
 * silent (--silent-after: the participant stops everything, RPC too,
 * as a closed browser tab would).
 */

static void
lg_conn_keyed_timers(lg_t *lg, lg_conn_t *c)
{
    uint64_t  jitter;

    if (lg->conf.silent_after > 0
        && lg->now - c->t_up >= (uint64_t) (lg->conf.silent_after * 1e9))
    {
        c->part->gone = 1;
        lg_conn_close(lg, c);
        return;
    }

    if (lg->conf.indication_ms > 0 && lg->now >= c->ind_next) {
        if (c->ind_next) {
            lg_stun_indication(lg, c);
        }
        jitter = (uint64_t) (rand() % (lg->conf.indication_ms / 4 + 1));
        c->ind_next = lg->now
                      + ((uint64_t) lg->conf.indication_ms + jitter) * LG_MS;
    }

    if (lg->conf.rtcp_ms > 0 && c->talking && lg->now >= c->rtcp_next) {
        if (c->rtcp_next && c->pseq) {
            lg_rtcp_sr(lg, c);
        }
        /* RFC 3550's randomization: 0.5 to 1.5 times the interval */
        jitter = (uint64_t) (rand() % (lg->conf.rtcp_ms + 1));
        c->rtcp_next = lg->now
                       + ((uint64_t) lg->conf.rtcp_ms / 2 + jitter) * LG_MS;
    }
}


/* Starts (start = 1) or ends the measurement window. */

void
lg_net_window(lg_t *lg, int start)
{
    uint32_t  i;
    uint32_t *hist;

    if (!start) {
        lg->measuring = 0;
        return;
    }

    for (i = 0; i <= lg->stream_mask; i++) {
        lg->streams[i].in_window = 0;
        lg->streams[i].received = 0;
    }

    hist = lg->c.lat_hist;
    memset(hist, 0, LG_LAT_BUCKETS * sizeof(uint32_t));
    memset(&lg->c, 0, sizeof(lg->c));
    lg->c.lat_hist = hist;
    lg->measuring = 1;
}
