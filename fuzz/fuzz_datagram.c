/*
 * libFuzzer: the engine's whole datagram path. One engine, built once
 * through the simulated browsers of test/sim, holds a room with two
 * connected peers, a publisher and a subscriber that hear each other;
 * every input is a list of datagrams sent to it:
 *
 *     datagram := selector(1) mode(1) length(2, big endian) bytes
 *
 * selector & 3:   0 from the publisher's address, 1 from an unknown one
 *                 (port 50000 + (selector >> 2 & 3)), 2 from the
 *                 subscriber's, 3 from another address of the publisher
 * selector >> 4:  simulated time before it, in 16 ms steps
 * mode & 3:       0 the bytes as they are; 1 the bytes as RTP protected
 *                 with the sender's real SRTP keys; 2 as RTCP protected
 *                 with them; 3 as the attributes (type(2) length(1)
 *                 value) of a STUN Binding request with the sender's
 *                 valid credentials, USE-CANDIDATE if mode & 4,
 *                 ICE-CONTROLLING if mode & 8
 *
 * The sequence number of protected RTP is a step from the last one this
 * harness sent on that SSRC (-16384 to 49151: 1 is the next packet), so
 * that an input means the same whatever came before it and replay
 * protection does not swallow it; with mode & 0x10 it is taken as it is,
 * with the ROC mode >> 5 & 1.
 *
 * Protected packets keep their SSRC only modulo a small set: the
 * declared one and four more, or, when mode & 0xc0 is 0xc0, one of
 * three others; so the libsrtp streams of the engine and of our clients
 * stay bounded across inputs, and a peer breaking the SSRC rules (the
 * engine closes it: it must connect again, a DTLS handshake) is rare. The
 * peers send valid checks every simulated second. As in nginx, the
 * output of a batch of datagrams is flushed once, after the input; it is
 * then delivered to the clients, the engine's timer runs, a peer that
 * got closed publishes again (or the engine is built anew) and a
 * publisher heard from elsewhere is brought home (a check and
 * authenticated SRTCP from its address).
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <stun/stunagent.h>

#include "kraken_engine.h"
#include "kraken_rtp.h"
#include "kraken_srtp.h"
#include "sim.h"


#define FUZZ_PUB          0
#define FUZZ_SUB          1
#define FUZZ_OPUS         111
#define FUZZ_MAX_DGRAMS   64
#define FUZZ_MAX_LEN      4096          /* beyond any datagram we accept */
#define FUZZ_KEEPALIVE    1000          /* ms between the peers' checks */
#define FUZZ_STEP         20            /* ms after each input */


static sim_t     *fuzz_sim;
static int64_t    fuzz_index[2][8];     /* last index per client, SSRC */
static uint64_t   fuzz_checked;
static uint8_t    fuzz_tid;
static int        fuzz_away;


static void
fuzz_die(const char *what)
{
    fprintf(stderr, "fuzz_datagram: %s%s%s\n", what,
            fuzz_sim && fuzz_sim->err[0] ? ": " : "",
            fuzz_sim ? fuzz_sim->err : "");
    abort();
}


static void
fuzz_log(void *data, const char *msg)
{
    fprintf(stderr, "engine: %s\n", msg);
}


/* The addresses the engine admits and forgets: they must be whole. */

static int
fuzz_addr_event(void *data, const struct sockaddr *sa, socklen_t len,
    int event)
{
    if (len != sizeof(struct sockaddr_in) || sa->sa_family != AF_INET) {
        fuzz_die("an address event with a bad address");
    }

    return 0;
}


static void
fuzz_build(void)
{
    sim_t  *s;

    s = fuzz_sim;

    if (s == NULL) {
        fuzz_sim = s = sim_new();
        if (s == NULL) {
            fuzz_die("no simulation");
        }

        s->record = 0;
        s->conf.random = sim_random;
        s->conf.random_data = &s->rng;

        /* as behind a shared port: what is not its own comes back */
        s->conf.ufrag_tag = 5;
        s->conf.addr_event = fuzz_addr_event;

        /* FUZZ_DATAGRAM_LOG=1: the peers' lives on stderr */
        if (getenv("FUZZ_DATAGRAM_LOG")) {
            s->conf.log = fuzz_log;
        }

    } else {
        /* the clients' certificate is kept: it is costly to make */
        kraken_engine_free(s->engine);
        s->engine = NULL;
        sim_client_init(s, FUZZ_PUB);
        sim_client_init(s, FUZZ_SUB);
        sim_drop(s);
    }

    if (sim_engine(s) == NULL) {
        fuzz_die("no engine");
    }

    if (sim_publish(s, FUZZ_PUB, "room", "pub", FUZZ_OPUS) != KRAKEN_OK
        || sim_publish(s, FUZZ_SUB, "room", "sub", FUZZ_OPUS) != KRAKEN_OK
        || sim_connect(s, FUZZ_PUB) != 0
        || sim_connect(s, FUZZ_SUB) != 0
        || sim_send(s, FUZZ_PUB, FUZZ_OPUS) != 0
        || sim_send(s, FUZZ_SUB, FUZZ_OPUS) != 0
        || sim_subscribe(s, FUZZ_SUB, NULL) != 1
        || sim_subscribe(s, FUZZ_PUB, NULL) != 1)
    {
        fuzz_die("the room did not come up");
    }

    fuzz_checked = s->now;
    memset(fuzz_index, 0, sizeof(fuzz_index));
}


/*
 * A closed peer publishes again under its uid, and both renegotiate:
 * far cheaper than a new engine (OpenSSL contexts, certificate). 0 or -1.
 */

static int
fuzz_revive(int idx)
{
    sim_t  *s;

    s = fuzz_sim;

    if (sim_publish(s, idx, "room", idx == FUZZ_PUB ? "pub" : "sub",
                    FUZZ_OPUS)
           != KRAKEN_OK
        || sim_connect(s, idx) != 0
        || sim_send(s, idx, FUZZ_OPUS) != 0
        || sim_subscribe(s, FUZZ_SUB, NULL) == -1
        || sim_subscribe(s, FUZZ_PUB, NULL) == -1)
    {
        return -1;
    }

    memset(fuzz_index[idx == FUZZ_SUB], 0, sizeof(fuzz_index[0]));

    return 0;
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_build();

    return 0;
}


/* The declared SSRC and four more a peer may pin, or three it may not. */

static uint32_t
fuzz_ssrc(sim_client_t *c, uint8_t mode, uint8_t pick)
{
    static const uint32_t  more[] = { 0x11110001, 0x11110002, 0x11110003,
                                      0x11110004 };
    static const uint32_t  others[] = { 0x22220000, 0, 0xffffffff };

    if ((mode & 0xc0) == 0xc0) {
        return others[pick % 3];
    }

    pick %= 5;

    return pick == 0 ? c->ssrc : more[pick - 1];
}


static void
fuzz_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
}


static size_t
fuzz_rtp(sim_client_t *c, uint8_t mode, uint8_t *buf, size_t len,
    size_t cap)
{
    size_t               hdr;
    int64_t             *last, step, index;
    uint32_t             roc;
    kraken_rtp_header_t  h;

    if (len < 12) {
        memset(buf + len, 0, 12 - len);
        len = 12;
    }

    buf[0] = (uint8_t) (0x80 | (buf[0] & 0x3f));
    last = &fuzz_index[c->idx == FUZZ_SUB][(mode & 0xc0) == 0xc0
                                           ? 5 + buf[11] % 3
                                           : buf[11] % 5];
    fuzz_put32(buf + 8, fuzz_ssrc(c, mode, buf[11]));

    if (mode & 0x10) {
        roc = (mode >> 5) & 1;

    } else {
        step = buf[2] << 8 | buf[3];
        step = step < 0xc000 ? step : step - 0x10000;
        index = *last + step;

        if (index < 0) {
            index = step & 0xffff;
        }

        if (index > *last) {
            *last = index;
        }

        buf[2] = (uint8_t) (index >> 8);
        buf[3] = (uint8_t) index;
        roc = (uint32_t) (index >> 16);
    }

    hdr = kraken_rtp_parse(buf, len, &h) == 0 ? h.header_len : 12;

    if (kraken_srtp_protect_forward(c->srtp, buf, &len, cap, hdr, roc) != 0)
    {
        return 0;
    }

    return len;
}


static size_t
fuzz_rtcp(sim_client_t *c, uint8_t mode, uint8_t *buf, size_t len,
    size_t cap)
{
    if (len < 8) {
        memset(buf + len, 0, 8 - len);
        len = 8;
    }

    buf[0] = (uint8_t) (0x80 | (buf[0] & 0x3f));
    buf[1] = (uint8_t) (192 + (buf[1] & 31));
    fuzz_put32(buf + 4, fuzz_ssrc(c, mode, buf[7]));

    if (kraken_srtp_protect_rtcp(c->srtp, buf, &len, cap) != 0) {
        return 0;
    }

    return len;
}


static size_t
fuzz_stun(sim_client_t *c, uint8_t mode, const uint8_t *attrs, size_t n,
    uint8_t *buf, size_t cap)
{
    char                   user[2 * KRAKEN_SDP_TOKEN_LEN + 2];
    size_t                 alen;
    uint16_t               type;
    StunAgent              agent;
    StunMessage            msg;
    static const uint16_t  known[] = { STUN_ATTRIBUTE_USERNAME, 0 };

    stun_agent_init(&agent, known, STUN_COMPATIBILITY_RFC5389,
                    STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS
                    | STUN_AGENT_USAGE_USE_FINGERPRINT);

    if (!stun_agent_init_request(&agent, &msg, buf, cap, STUN_BINDING)) {
        return 0;
    }

    /* a transaction id of our own: runs repeat */
    memset(buf + 8, 0x5a, 12);
    buf[19] = fuzz_tid++;

    snprintf(user, sizeof(user), "%s:%s", c->server_ufrag, c->ufrag);

    if (stun_message_append_bytes(&msg, STUN_ATTRIBUTE_USERNAME, user,
                                  strlen(user))
           != STUN_MESSAGE_RETURN_SUCCESS
        || stun_message_append32(&msg, STUN_ATTRIBUTE_PRIORITY, 100)
           != STUN_MESSAGE_RETURN_SUCCESS)
    {
        return 0;
    }

    if ((mode & 4)
        && stun_message_append_flag(&msg, STUN_ATTRIBUTE_USE_CANDIDATE)
           != STUN_MESSAGE_RETURN_SUCCESS)
    {
        return 0;
    }

    if ((mode & 8)
        && stun_message_append64(&msg, STUN_ATTRIBUTE_ICE_CONTROLLING, 42)
           != STUN_MESSAGE_RETURN_SUCCESS)
    {
        return 0;
    }

    while (n >= 3) {
        type = (uint16_t) (attrs[0] << 8 | attrs[1]);
        alen = attrs[2];
        attrs += 3;
        n -= 3;

        if (alen > n) {
            alen = n;
        }

        /* the agent appends these two itself, last */
        if (type != STUN_ATTRIBUTE_MESSAGE_INTEGRITY
            && type != STUN_ATTRIBUTE_FINGERPRINT
            && stun_message_append_bytes(&msg, type, attrs, alen)
               != STUN_MESSAGE_RETURN_SUCCESS)
        {
            break;
        }

        attrs += alen;
        n -= alen;
    }

    return stun_agent_finish_message(&agent, &msg,
                                     (const uint8_t *) c->server_pwd,
                                     strlen(c->server_pwd));
}


static void
fuzz_datagram(uint8_t sel, uint8_t mode, const uint8_t *data, size_t n)
{
    size_t              len;
    sim_t              *s;
    sim_client_t       *c;
    struct sockaddr_in  from;
    static uint8_t      buf[FUZZ_MAX_LEN + 256];

    s = fuzz_sim;

    if (sel >> 4) {
        s->now += (uint64_t) (sel >> 4) * 16;
        kraken_engine_timer(s->engine, s->now);
    }

    /* the peers keep their consent, as browsers do */
    if (s->now - fuzz_checked >= FUZZ_KEEPALIVE) {
        sim_check(s, FUZZ_PUB, s->clients[FUZZ_PUB].server_pwd);
        sim_check(s, FUZZ_SUB, s->clients[FUZZ_SUB].server_pwd);
        fuzz_checked = s->now;
    }

    c = &s->clients[(sel & 3) == 2 ? FUZZ_SUB : FUZZ_PUB];

    switch (sel & 3) {

    case 1:
        from = c->addr[0];
        from.sin_port = htons(50000 + ((sel >> 2) & 3));
        fuzz_away = 1;
        break;

    case 3:
        from = c->addr[1];
        fuzz_away = 1;
        break;

    default:
        from = c->addr[0];
    }

    memcpy(buf, data, n);
    len = n;

    switch (mode & 3) {

    case 1:
        len = c->srtp ? fuzz_rtp(c, mode, buf, len, sizeof(buf)) : 0;
        break;

    case 2:
        len = c->srtp ? fuzz_rtcp(c, mode, buf, len, sizeof(buf)) : 0;
        break;

    case 3:
        len = fuzz_stun(c, mode, data, n, buf, sizeof(buf));
        break;
    }

    if (len == 0) {
        return;
    }

    if (kraken_engine_input(s->engine, (struct sockaddr *) &from,
                            sizeof(from), buf, len, s->now)
        == KRAKEN_INPUT_FOREIGN)
    {
        (void) kraken_engine_stun_tag(buf, len);
        kraken_engine_drop(s->engine, buf, len);
    }
}


/* The media path back at the publisher's usual address. */

static void
fuzz_home(void)
{
    size_t         len;
    uint8_t        rr[64];
    sim_client_t  *c;

    c = &fuzz_sim->clients[FUZZ_PUB];

    sim_check(fuzz_sim, FUZZ_PUB, c->server_pwd);

    memset(rr, 0, 8);
    rr[0] = 0x80;
    rr[1] = KRAKEN_RTCP_RR;
    rr[3] = 1;
    fuzz_put32(rr + 4, c->ssrc);
    len = 8;

    if (kraken_srtp_protect_rtcp(c->srtp, rr, &len, sizeof(rr)) == 0) {
        kraken_engine_input(fuzz_sim->engine, (struct sockaddr *) &c->addr[0],
                            sizeof(struct sockaddr_in), rr, len,
                            fuzz_sim->now);
    }

    kraken_engine_flush(fuzz_sim->engine);
    sim_pump(fuzz_sim);

    fuzz_away = 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int       i;
    size_t    len;
    uint8_t   sel, mode;

    if (fuzz_sim == NULL) {
        fuzz_build();
    }

    for (i = 0; i < FUZZ_MAX_DGRAMS && size >= 4; i++) {
        sel = data[0];
        mode = data[1];
        len = (size_t) data[2] << 8 | data[3];
        data += 4;
        size -= 4;

        if (len > size) {
            len = size;
        }

        fuzz_datagram(sel, mode, data, len > FUZZ_MAX_LEN ? FUZZ_MAX_LEN
                                                          : len);
        data += len;
        size -= len;
    }

    kraken_engine_flush(fuzz_sim->engine);
    sim_pump(fuzz_sim);

    fuzz_sim->now += FUZZ_STEP;
    kraken_engine_timer(fuzz_sim->engine, fuzz_sim->now);
    kraken_engine_flush(fuzz_sim->engine);
    sim_pump(fuzz_sim);

    for (i = FUZZ_PUB; i <= FUZZ_SUB; i++) {
        if (sim_lookup(fuzz_sim, i) != KRAKEN_OK && fuzz_revive(i) != 0) {
            fuzz_build();
            break;
        }
    }

    if (fuzz_away) {
        fuzz_home();
    }

    return 0;
}
