/*
 * The engine of one worker: rooms and peers, the datagram path
 * (STUN / DTLS / SRTP demultiplexed by first byte, RFC 7983), and
 * Kraken's signaling methods on top of them.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include <openssl/rand.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "kraken_engine.h"
#include "kraken_dtls.h"
#include "kraken_rtp.h"
#include "kraken_sdp.h"
#include "kraken_srtp.h"
#include "kraken_stun.h"


#define KRAKEN_ROOM_BUCKETS     1024
#define KRAKEN_UFRAG_BUCKETS    4096
#define KRAKEN_ADDR_BUCKETS     4096
#define KRAKEN_OUT_BATCH        64
#define KRAKEN_UFRAG_SIZE       16
#define KRAKEN_PWD_SIZE         32
#define KRAKEN_MID_SIZE         32
#define KRAKEN_RR_INTERVAL      1000
#define KRAKEN_OPUS_FRAME       960     /* 20 ms at 48 kHz */
#define KRAKEN_DTLS_LINGER      10000   /* ms DTLS outlives the handshake */

/* m-line slots of a peer's session */
enum {
    KRAKEN_SLOT_OWN = 0,                /* the peer's own audio: we receive */
    KRAKEN_SLOT_REJECTED,               /* video, data channel: port 0 */
    KRAKEN_SLOT_SEND                    /* another publisher, to this peer */
};

/* states of a SEND slot */
enum {
    KRAKEN_SEND_FREE = 0,               /* inactive, negotiated: reusable */
    KRAKEN_SEND_ADDING,                 /* offered, waiting for the answer */
    KRAKEN_SEND_ACTIVE,                 /* answered: we forward */
    KRAKEN_SEND_RETIRING                /* offered inactive, not answered */
};

typedef struct kraken_room_s  kraken_room_t;
typedef struct kraken_peer_s  kraken_peer_t;

typedef struct {
    char             *media;            /* rejected m-lines, echoed */
    char             *proto;
    char             *fmts;
} kraken_echo_t;

typedef struct {
    int               kind;
    int               state;
    int               direction;        /* of the OWN slot */
    char              mid[KRAKEN_MID_SIZE];
    kraken_echo_t     echo;
    kraken_peer_t    *pub;              /* SEND: whose audio, NULL: gone */
    char             *pub_uid;          /* malloc'd to size: up to 256 */
    char              pub_cid[37];
    uint32_t          ssrc;             /* SEND: ours toward the peer */

    /* SEND: rewriting keeps seq and ts continuous across source changes */
    int               started;
    uint32_t          in_ssrc;
    uint16_t          seq_delta;
    uint16_t          last_seq;
    uint32_t          roc;              /* SRTP rollover counter */
    uint32_t          ts_delta;
    uint32_t          last_ts;
} kraken_slot_t;

typedef struct {
    kraken_peer_t    *sub;
    int               slot;
} kraken_fanout_t;

struct kraken_peer_s {
    kraken_engine_t  *engine;
    kraken_room_t    *room;
    kraken_peer_t    *room_next;
    kraken_peer_t    *ufrag_next;
    kraken_peer_t    *addr_next;

    char              uid[KRAKEN_SDP_TOKEN_LEN];
    char              cid[37];
    int               closed;
    uint64_t          created;
    uint64_t          closed_at;

    /* ICE */
    char              ufrag[KRAKEN_UFRAG_SIZE + 1];
    char              pwd[KRAKEN_PWD_SIZE + 1];
    char              remote_ufrag[KRAKEN_SDP_TOKEN_LEN];
    struct sockaddr_storage  addr;
    socklen_t         addrlen;
    int               has_addr;
    uint64_t          last_consent;

    /* DTLS-SRTP */
    kraken_dtls_t    *dtls;
    uint64_t          connected_at;
    uint64_t          dtls_deadline;
    kraken_srtp_t    *srtp;
    kraken_sdp_fingerprint_t  remote_fp;

    /* what it publishes */
    int               pt;
    int               channels;
    char              fmtp[256];
    int               has_track;
    int               forwarded;        /* its audio reached someone */
    uint32_t          local_ssrc;       /* sender SSRC of our RTCP */
    kraken_rtp_stats_t  stats;
    uint64_t          next_rr;
    kraken_fanout_t  *fanout;
    int               nfanout;
    int               fanout_cap;

    /* its session: one slot per m-line */
    kraken_slot_t    *slots;
    int               nslots;
    int               slots_cap;
    int               next_mid;
    int               negotiating;
    uint64_t          session_id;
    uint64_t          session_version;
};

struct kraken_room_s {
    char              id[KRAKEN_SDP_TOKEN_LEN];
    kraken_room_t    *next;             /* hash chain */
    kraken_room_t    *all_next;
    kraken_room_t    *all_prev;
    kraken_peer_t    *peers;
};

struct kraken_engine_s {
    kraken_engine_conf_t  conf;
    char                  announce_ip[64];
    kraken_dtls_ctx_t    *dtls;
    kraken_stun_t         stun;
    kraken_sdp_t         *sdp;          /* scratch for parsing */

    kraken_room_t        *rooms[KRAKEN_ROOM_BUCKETS];
    kraken_room_t        *all_rooms;
    kraken_peer_t        *by_ufrag[KRAKEN_UFRAG_BUCKETS];
    kraken_peer_t        *by_addr[KRAKEN_ADDR_BUCKETS];

    kraken_engine_counters_t  counters;

    int                   nout;
    kraken_datagram_t     out[KRAKEN_OUT_BATCH];
    uint8_t               scratch[1600];
};


static void kraken_peer_close(kraken_peer_t *p, uint64_t now,
    const char *why);
static void kraken_log(kraken_engine_t *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void kraken_peer_free(kraken_peer_t *p);


static void
kraken_log(kraken_engine_t *e, const char *fmt, ...)
{
    char     msg[512];
    va_list  ap;

    if (e->conf.log == NULL) {
        return;
    }

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    e->conf.log(e->conf.log_data, msg);
}


/* hashing and indexes */

static uint32_t
kraken_hash(const void *data, size_t len)
{
    uint32_t        h;
    const uint8_t  *p;

    h = 2166136261u;

    for (p = data; len; len--, p++) {
        h = (h ^ *p) * 16777619u;
    }

    return h;
}


static uint32_t
kraken_addr_hash(const struct sockaddr *sa)
{
    const struct sockaddr_in   *sin;
    const struct sockaddr_in6  *sin6;

    if (sa->sa_family == AF_INET6) {
        sin6 = (const struct sockaddr_in6 *) sa;
        return kraken_hash(&sin6->sin6_addr, 16) ^ sin6->sin6_port;
    }

    sin = (const struct sockaddr_in *) sa;
    return kraken_hash(&sin->sin_addr, 4) ^ sin->sin_port;
}


static int
kraken_addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
    const struct sockaddr_in   *a4, *b4;
    const struct sockaddr_in6  *a6, *b6;

    if (a->sa_family != b->sa_family) {
        return 0;
    }

    if (a->sa_family == AF_INET6) {
        a6 = (const struct sockaddr_in6 *) a;
        b6 = (const struct sockaddr_in6 *) b;
        return a6->sin6_port == b6->sin6_port
               && memcmp(&a6->sin6_addr, &b6->sin6_addr, 16) == 0;
    }

    a4 = (const struct sockaddr_in *) a;
    b4 = (const struct sockaddr_in *) b;
    return a4->sin_port == b4->sin_port
           && a4->sin_addr.s_addr == b4->sin_addr.s_addr;
}


static kraken_peer_t *
kraken_peer_by_addr(kraken_engine_t *e, const struct sockaddr *sa)
{
    kraken_peer_t  *p;

    p = e->by_addr[kraken_addr_hash(sa) % KRAKEN_ADDR_BUCKETS];

    for ( /* void */ ; p; p = p->addr_next) {
        if (kraken_addr_equal((struct sockaddr *) &p->addr, sa)) {
            return p;
        }
    }

    return NULL;
}


static void
kraken_addr_unlink(kraken_peer_t *p)
{
    kraken_peer_t  **pp;

    if (!p->has_addr) {
        return;
    }

    pp = &p->engine->by_addr[kraken_addr_hash((struct sockaddr *) &p->addr)
                             % KRAKEN_ADDR_BUCKETS];

    for ( /* void */ ; *pp; pp = &(*pp)->addr_next) {
        if (*pp == p) {
            *pp = p->addr_next;
            break;
        }
    }

    p->has_addr = 0;
}


static void
kraken_addr_link(kraken_peer_t *p, const struct sockaddr *sa, socklen_t len)
{
    uint32_t        h;
    kraken_peer_t  *other;

    /* an address belongs to one peer: the newest check wins */
    other = kraken_peer_by_addr(p->engine, sa);
    if (other) {
        kraken_addr_unlink(other);
    }

    kraken_addr_unlink(p);

    memcpy(&p->addr, sa, len);
    p->addrlen = len;
    p->has_addr = 1;

    h = kraken_addr_hash(sa) % KRAKEN_ADDR_BUCKETS;
    p->addr_next = p->engine->by_addr[h];
    p->engine->by_addr[h] = p;
}


static void
kraken_ufrag_link(kraken_peer_t *p)
{
    uint32_t  h;

    h = kraken_hash(p->ufrag, strlen(p->ufrag)) % KRAKEN_UFRAG_BUCKETS;
    p->ufrag_next = p->engine->by_ufrag[h];
    p->engine->by_ufrag[h] = p;
}


static void
kraken_ufrag_unlink(kraken_peer_t *p)
{
    kraken_peer_t  **pp;

    pp = &p->engine->by_ufrag[kraken_hash(p->ufrag, strlen(p->ufrag))
                              % KRAKEN_UFRAG_BUCKETS];

    for ( /* void */ ; *pp; pp = &(*pp)->ufrag_next) {
        if (*pp == p) {
            *pp = p->ufrag_next;
            break;
        }
    }
}


static void *
kraken_stun_lookup(void *data, const char *local, size_t local_len,
    const char *remote, size_t remote_len, const char **pwd)
{
    kraken_engine_t *e = data;

    kraken_peer_t  *p;

    p = e->by_ufrag[kraken_hash(local, local_len) % KRAKEN_UFRAG_BUCKETS];

    for ( /* void */ ; p; p = p->ufrag_next) {
        if (strlen(p->ufrag) == local_len
            && memcmp(p->ufrag, local, local_len) == 0)
        {
            if (strlen(p->remote_ufrag) != remote_len
                || memcmp(p->remote_ufrag, remote, remote_len) != 0)
            {
                return NULL;
            }

            *pwd = p->pwd;
            return p;
        }
    }

    return NULL;
}


/* randomness */

static void
kraken_random(void *buf, size_t len)
{
    if (RAND_bytes(buf, (int) len) != 1) {
        /* RAND_bytes does not fail once seeded; keep going regardless */
        memset(buf, 0x5a, len);
    }
}


static void
kraken_random_token(char *buf, size_t len)
{
    static const char  alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "abcdefghijklmnopqrstuvwxyz0123456789";
    size_t    i;
    uint8_t   r[64];

    kraken_random(r, len);

    for (i = 0; i < len; i++) {
        buf[i] = alphabet[r[i] % (sizeof(alphabet) - 1)];
    }

    buf[len] = '\0';
}


static uint32_t
kraken_random32(void)
{
    uint32_t  v;

    kraken_random(&v, sizeof(v));

    return v ? v : 1;
}


static void
kraken_uuid(char out[37])
{
    uint8_t  b[16];

    kraken_random(b, sizeof(b));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;

    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
             b[10], b[11], b[12], b[13], b[14], b[15]);
}


/* output batching */

static kraken_datagram_t *
kraken_out_next(kraken_engine_t *e)
{
    if (e->nout == KRAKEN_OUT_BATCH) {
        kraken_engine_flush(e);
    }

    return &e->out[e->nout];
}


static void
kraken_out_commit(kraken_engine_t *e, kraken_peer_t *p,
    kraken_datagram_t *dg, size_t len)
{
    memcpy(&dg->addr, &p->addr, p->addrlen);
    dg->addrlen = p->addrlen;
    dg->len = len;
    e->nout++;
}


void
kraken_engine_flush(kraken_engine_t *e)
{
    if (e->nout) {
        e->conf.send(e->conf.send_data, e->out, e->nout);
        e->nout = 0;
    }
}


/* the engine */

kraken_engine_t *
kraken_engine_create(const kraken_engine_conf_t *conf, char *err,
    size_t errlen)
{
    kraken_engine_t  *e;

    if (kraken_srtp_init() != 0) {
        snprintf(err, errlen, "libsrtp initialisation failed");
        return NULL;
    }

    e = calloc(1, sizeof(kraken_engine_t));
    if (e == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    e->conf = *conf;
    snprintf(e->announce_ip, sizeof(e->announce_ip), "%s", conf->announce_ip);
    e->conf.announce_ip = e->announce_ip;

    e->sdp = malloc(sizeof(kraken_sdp_t));
    if (e->sdp == NULL) {
        snprintf(err, errlen, "out of memory");
        free(e);
        return NULL;
    }

    e->dtls = kraken_dtls_ctx_create(err, errlen);
    if (e->dtls == NULL) {
        free(e->sdp);
        free(e);
        return NULL;
    }

    kraken_stun_init(&e->stun, kraken_stun_lookup, e);

    return e;
}


void
kraken_engine_free(kraken_engine_t *e)
{
    kraken_room_t  *r;
    kraken_peer_t  *p;

    if (e == NULL) {
        return;
    }

    while (e->all_rooms) {
        r = e->all_rooms;
        e->all_rooms = r->all_next;

        while (r->peers) {
            p = r->peers;
            r->peers = p->room_next;
            kraken_peer_close(p, 0, NULL);
            kraken_peer_free(p);
        }

        free(r);
    }

    kraken_dtls_ctx_free(e->dtls);
    free(e->sdp);
    free(e);
}


/* rooms */

static kraken_room_t *
kraken_room_find(kraken_engine_t *e, const char *id)
{
    kraken_room_t  *r;

    r = e->rooms[kraken_hash(id, strlen(id)) % KRAKEN_ROOM_BUCKETS];

    for ( /* void */ ; r; r = r->next) {
        if (strcmp(r->id, id) == 0) {
            return r;
        }
    }

    return NULL;
}


static kraken_room_t *
kraken_room_get(kraken_engine_t *e, const char *id)
{
    uint32_t        h;
    kraken_room_t  *r;

    r = kraken_room_find(e, id);
    if (r) {
        return r;
    }

    r = calloc(1, sizeof(kraken_room_t));
    if (r == NULL) {
        return NULL;
    }

    snprintf(r->id, sizeof(r->id), "%s", id);

    h = kraken_hash(id, strlen(id)) % KRAKEN_ROOM_BUCKETS;
    r->next = e->rooms[h];
    e->rooms[h] = r;

    r->all_next = e->all_rooms;
    if (e->all_rooms) {
        e->all_rooms->all_prev = r;
    }
    e->all_rooms = r;

    if (e->conf.room_event) {
        e->conf.room_event(e->conf.room_event_data, r->id, 1);
    }

    return r;
}


static void
kraken_room_free(kraken_engine_t *e, kraken_room_t *r)
{
    kraken_room_t  **pp;

    if (e->conf.room_event) {
        e->conf.room_event(e->conf.room_event_data, r->id, 0);
    }

    pp = &e->rooms[kraken_hash(r->id, strlen(r->id)) % KRAKEN_ROOM_BUCKETS];

    for ( /* void */ ; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }

    if (r->all_prev) {
        r->all_prev->all_next = r->all_next;

    } else {
        e->all_rooms = r->all_next;
    }

    if (r->all_next) {
        r->all_next->all_prev = r->all_prev;
    }

    free(r);
}


static kraken_peer_t *
kraken_room_peer(kraken_room_t *r, const char *uid)
{
    kraken_peer_t  *p;

    for (p = r->peers; p; p = p->room_next) {
        if (strcmp(p->uid, uid) == 0) {
            return p;
        }
    }

    return NULL;
}


static void
kraken_room_unlink(kraken_room_t *r, kraken_peer_t *p)
{
    kraken_peer_t  **pp;

    for (pp = &r->peers; *pp; pp = &(*pp)->room_next) {
        if (*pp == p) {
            *pp = p->room_next;
            return;
        }
    }
}


/* Kraken's room.get: not found, closed, or another track. */

static kraken_peer_t *
kraken_lookup(kraken_engine_t *e, const char *rid, const char *uid,
    const char *cid, kraken_error_t *err)
{
    kraken_room_t  *r;
    kraken_peer_t  *p;

    r = kraken_room_find(e, rid);
    p = r ? kraken_room_peer(r, uid) : NULL;

    if (p == NULL) {
        kraken_error_set(err, KRAKEN_ERR_PEER_NOT_FOUND,
                         "peer %s not found in %s", uid, rid);
        return NULL;
    }

    if (p->closed) {
        kraken_error_set(err, KRAKEN_ERR_PEER_CLOSED,
                         "peer %s closed in %s", uid, rid);
        return NULL;
    }

    if (strcmp(p->cid, cid) != 0) {
        kraken_error_set(err, KRAKEN_ERR_TRACK_NOT_FOUND,
                         "peer %s track not match %s %s in %s",
                         uid, cid, p->cid, rid);
        return NULL;
    }

    return p;
}


int
kraken_engine_lookup(kraken_engine_t *e, const char *rid, const char *uid,
    const char *cid, kraken_error_t *err)
{
    return kraken_lookup(e, rid, uid, cid, err) ? KRAKEN_OK : err->code;
}


/* peers */

static kraken_slot_t *
kraken_slot_add(kraken_peer_t *p)
{
    int             cap;
    kraken_slot_t  *s;

    if (p->nslots == p->slots_cap) {
        if (p->nslots >= KRAKEN_SDP_MAX_MEDIA) {
            return NULL;
        }

        cap = p->slots_cap ? p->slots_cap * 2 : 4;
        if (cap > KRAKEN_SDP_MAX_MEDIA) {
            cap = KRAKEN_SDP_MAX_MEDIA;
        }

        s = realloc(p->slots, cap * sizeof(kraken_slot_t));
        if (s == NULL) {
            return NULL;
        }

        p->slots = s;
        p->slots_cap = cap;
    }

    s = &p->slots[p->nslots++];
    memset(s, 0, sizeof(kraken_slot_t));

    return s;
}


static int
kraken_fanout_add(kraken_peer_t *pub, kraken_peer_t *sub, int slot)
{
    int               cap;
    kraken_fanout_t  *f;

    if (pub->nfanout == pub->fanout_cap) {
        cap = pub->fanout_cap ? pub->fanout_cap * 2 : 8;

        f = realloc(pub->fanout, cap * sizeof(kraken_fanout_t));
        if (f == NULL) {
            return -1;
        }

        pub->fanout = f;
        pub->fanout_cap = cap;
    }

    pub->fanout[pub->nfanout].sub = sub;
    pub->fanout[pub->nfanout].slot = slot;
    pub->nfanout++;

    return 0;
}


static void
kraken_fanout_remove(kraken_peer_t *pub, kraken_peer_t *sub, int slot)
{
    int  i;

    for (i = 0; i < pub->nfanout; i++) {
        if (pub->fanout[i].sub == sub && pub->fanout[i].slot == slot) {
            pub->fanout[i] = pub->fanout[--pub->nfanout];
            return;
        }
    }
}


static void
kraken_echo_free(kraken_echo_t *echo)
{
    free(echo->media);
    free(echo->proto);
    free(echo->fmts);
}


/*
 * Closing cuts every link between this peer and the others, so a closed
 * peer is a tombstone: Kraken answers 5002002 for it until it expires.
 */

static void
kraken_peer_close(kraken_peer_t *p, uint64_t now, const char *why)
{
    int             i;
    kraken_slot_t  *s;
    kraken_fanout_t *f;

    if (p->closed) {
        return;
    }

    p->closed = 1;
    p->closed_at = now;

    for (i = 0; i < p->nfanout; i++) {
        f = &p->fanout[i];
        f->sub->slots[f->slot].pub = NULL;
    }

    p->nfanout = 0;

    for (i = 0; i < p->nslots; i++) {
        s = &p->slots[i];

        if (s->kind == KRAKEN_SLOT_SEND && s->pub) {
            kraken_fanout_remove(s->pub, p, i);
            s->pub = NULL;
        }
    }

    kraken_ufrag_unlink(p);
    kraken_addr_unlink(p);

    kraken_dtls_free(p->dtls);
    p->dtls = NULL;
    kraken_srtp_free(p->srtp);
    p->srtp = NULL;

    if (why) {
        kraken_log(p->engine, "peer %.64s:%.64s:%s closed: %s",
                   p->room->id, p->uid, p->cid, why);
    }
}


static void
kraken_peer_free(kraken_peer_t *p)
{
    int  i;

    for (i = 0; i < p->nslots; i++) {
        kraken_echo_free(&p->slots[i].echo);
        free(p->slots[i].pub_uid);
    }

    free(p->slots);
    free(p->fanout);
    free(p);
}


static char *
kraken_strdup(const char *s)
{
    size_t   len;
    char    *d;

    len = strlen(s) + 1;
    d = malloc(len);
    if (d) {
        memcpy(d, s, len);
    }

    return d;
}


static int
kraken_mid_used(kraken_peer_t *p, const char *mid)
{
    int  i;

    for (i = 0; i < p->nslots; i++) {
        if (strcmp(p->slots[i].mid, mid) == 0) {
            return 1;
        }
    }

    return 0;
}


/* Renders the peer's session: an answer (publish, restart) or an offer. */

static char *
kraken_peer_sdp(kraken_peer_t *p, int offer)
{
    int                      i, n;
    char                    *buf;
    size_t                   cap, len;
    kraken_slot_t           *s;
    kraken_peer_t           *pub;
    kraken_sdp_desc_t        d;
    kraken_sdp_out_media_t  *m, *media;

    media = calloc(p->nslots, sizeof(kraken_sdp_out_media_t));
    if (media == NULL) {
        return NULL;
    }

    n = 0;

    for (i = 0; i < p->nslots; i++) {
        s = &p->slots[i];
        m = &media[n++];

        m->mid = s->mid;
        m->media = "audio";
        m->pt = p->pt;
        m->channels = p->channels;
        m->fmtp = p->fmtp;
        m->cname = "ngx_kraken";

        switch (s->kind) {

        case KRAKEN_SLOT_OWN:
            m->direction = s->direction;
            break;

        case KRAKEN_SLOT_REJECTED:
            m->rejected = 1;
            m->media = s->echo.media;
            m->proto = s->echo.proto;
            m->fmts = s->echo.fmts;
            break;

        default: /* KRAKEN_SLOT_SEND */
            pub = s->pub;

            if ((s->state == KRAKEN_SEND_ADDING
                 || s->state == KRAKEN_SEND_ACTIVE)
                && pub != NULL)
            {
                m->direction = KRAKEN_SDP_SENDONLY;
                m->ssrc = s->ssrc;
                m->msid_stream = s->pub_uid;
                m->msid_track = s->pub_cid;

            } else {
                m->direction = KRAKEN_SDP_INACTIVE;
            }
        }
    }

    memset(&d, 0, sizeof(d));
    d.session_id = p->session_id;
    d.session_version = ++p->session_version;
    d.ice_ufrag = p->ufrag;
    d.ice_pwd = p->pwd;
    d.fingerprint = kraken_dtls_ctx_fingerprint(p->engine->dtls);
    d.setup = offer ? "actpass" : "passive";
    d.cand_ip = p->engine->conf.announce_ip;
    d.cand_port = p->engine->conf.port;
    d.nmedia = n;
    d.media = media;

    cap = 2048 + (size_t) n * 1024;
    buf = malloc(cap);

    if (buf) {
        len = kraken_sdp_write(&d, buf, cap);
        if (len == 0) {
            free(buf);
            buf = NULL;
        }
    }

    free(media);

    return buf;
}


static int
kraken_offer_check(kraken_sdp_t *sdp, kraken_error_t *err)
{
    if (sdp->ice_ufrag[0] == '\0' || sdp->ice_pwd[0] == '\0') {
        return kraken_error_set(err, KRAKEN_ERR_INVALID_SDP,
                                "no ice-ufrag or ice-pwd");
    }

    if (sdp->fingerprint.len == 0) {
        return kraken_error_set(err, KRAKEN_ERR_INVALID_SDP,
                                "no fingerprint");
    }

    if (sdp->setup == KRAKEN_SDP_SETUP_PASSIVE) {
        /* we are the DTLS server: the offerer must be able to connect */
        return kraken_error_set(err, KRAKEN_ERR_INVALID_SDP,
                                "setup passive is not supported");
    }

    return KRAKEN_OK;
}


/* The m-lines of a publish offer become the peer's first slots. */

static int
kraken_peer_slots_from_offer(kraken_peer_t *p, kraken_sdp_t *sdp,
    kraken_error_t *err)
{
    int                  i, own, mid;
    char                *end;
    kraken_slot_t       *s;
    kraken_sdp_media_t  *m;

    own = -1;
    p->next_mid = 0;

    for (i = 0; i < sdp->nmedia; i++) {
        m = &sdp->media[i];

        if (m->mid[0] == '\0' || strlen(m->mid) >= KRAKEN_MID_SIZE) {
            return kraken_error_set(err, KRAKEN_ERR_INVALID_SDP,
                                    "m-line %d without a usable mid", i);
        }

        if (kraken_mid_used(p, m->mid)) {
            return kraken_error_set(err, KRAKEN_ERR_INVALID_SDP,
                                    "duplicate mid %s", m->mid);
        }

        mid = (int) strtol(m->mid, &end, 10);
        if (*end == '\0' && mid >= p->next_mid) {
            p->next_mid = mid + 1;
        }

        s = kraken_slot_add(p);
        if (s == NULL) {
            return kraken_error_set(err, KRAKEN_ERR_SERVER_CREATE_ANSWER,
                                    "too many m-lines");
        }

        snprintf(s->mid, sizeof(s->mid), "%s", m->mid);

        if (own == -1 && m->kind == KRAKEN_SDP_AUDIO && m->opus_pt >= 0
            && m->port != 0)
        {
            own = i;
            s->kind = KRAKEN_SLOT_OWN;
            s->direction = (m->direction == KRAKEN_SDP_SENDRECV
                            || m->direction == KRAKEN_SDP_SENDONLY)
                           ? KRAKEN_SDP_RECVONLY : KRAKEN_SDP_INACTIVE;
            p->pt = m->opus_pt;
            p->channels = m->opus_channels ? m->opus_channels : 2;
            snprintf(p->fmtp, sizeof(p->fmtp), "%s", m->opus_fmtp);
            continue;
        }

        s->kind = KRAKEN_SLOT_REJECTED;
        s->echo.media = kraken_strdup(m->media);
        s->echo.proto = kraken_strdup(m->proto);
        s->echo.fmts = kraken_strdup(m->fmts);

        if (s->echo.media == NULL || s->echo.proto == NULL
            || s->echo.fmts == NULL)
        {
            return kraken_error_set(err, KRAKEN_ERR_SERVER_CREATE_ANSWER,
                                    "out of memory");
        }
    }

    if (own == -1) {
        return kraken_error_set(err, KRAKEN_ERR_INVALID_SDP,
                                "no audio m-line offering opus");
    }

    return KRAKEN_OK;
}


int
kraken_engine_publish(kraken_engine_t *e, const char *rid, const char *uid,
    const char *text, int limit, const char *callback, uint64_t now_ms,
    char track[37], char **answer, kraken_error_t *err)
{
    int             n;
    char            perr[128];
    kraken_sdp_t   *sdp;
    kraken_room_t  *r;
    kraken_peer_t  *p, *old, *q;

    sdp = e->sdp;

    if (kraken_sdp_parse(sdp, text, strlen(text), perr, sizeof(perr)) != 0) {
        return kraken_error_set(err, KRAKEN_ERR_INVALID_SDP, "%s", perr);
    }

    if (kraken_offer_check(sdp, err) != KRAKEN_OK) {
        return err->code;
    }

    r = kraken_room_find(e, rid);

    if (limit > 0 && r) {
        n = 0;

        for (q = r->peers; q; q = q->room_next) {
            if (!q->closed && strcmp(q->uid, uid) != 0) {
                n++;
            }
        }

        if (n >= limit) {
            return kraken_error_set(err, KRAKEN_ERR_ROOM_FULL,
                                    "room full %d", limit - n);
        }
    }

    r = kraken_room_get(e, rid);
    if (r == NULL) {
        return kraken_error_set(err, KRAKEN_ERR_SERVER_NEW_PEER,
                                "out of memory");
    }

    p = calloc(1, sizeof(kraken_peer_t));
    if (p == NULL) {
        return kraken_error_set(err, KRAKEN_ERR_SERVER_NEW_PEER,
                                "out of memory");
    }

    p->engine = e;
    p->room = r;
    p->created = now_ms;
    p->local_ssrc = kraken_random32();
    p->session_id = kraken_random32() & 0x7fffffff;
    snprintf(p->uid, sizeof(p->uid), "%s", uid);
    snprintf(p->remote_ufrag, sizeof(p->remote_ufrag), "%s", sdp->ice_ufrag);
    kraken_uuid(p->cid);
    kraken_random_token(p->ufrag, KRAKEN_UFRAG_SIZE);
    kraken_random_token(p->pwd, KRAKEN_PWD_SIZE);
    p->remote_fp = sdp->fingerprint;

    if (kraken_peer_slots_from_offer(p, sdp, err) != KRAKEN_OK) {
        kraken_peer_free(p);
        goto failed;
    }

    p->dtls = kraken_dtls_create(e->dtls, 1, sdp->fingerprint.alg,
                                 sdp->fingerprint.digest,
                                 sdp->fingerprint.len);
    if (p->dtls == NULL) {
        kraken_peer_free(p);
        kraken_error_set(err, KRAKEN_ERR_SERVER_NEW_PEER,
                         "dtls: unsupported fingerprint %s",
                         sdp->fingerprint.alg);
        goto failed;
    }

    *answer = kraken_peer_sdp(p, 0);
    if (*answer == NULL) {
        kraken_dtls_free(p->dtls);
        kraken_peer_free(p);
        kraken_error_set(err, KRAKEN_ERR_SERVER_CREATE_ANSWER,
                         "answer too large");
        goto failed;
    }

    /* a republish by the same uid replaces the old peer, as Kraken */
    old = kraken_room_peer(r, uid);
    if (old) {
        kraken_peer_close(old, now_ms, "replaced");
        kraken_room_unlink(r, old);
        kraken_peer_free(old);
    }

    p->room_next = r->peers;
    r->peers = p;
    kraken_ufrag_link(p);

    kraken_log(e, "peer %.64s:%.64s:%s published", rid, uid, p->cid);

    memcpy(track, p->cid, 37);

    return KRAKEN_OK;

failed:

    if (r->peers == NULL) {
        kraken_room_free(e, r);
    }

    return err->code;
}


int
kraken_engine_restart(kraken_engine_t *e, const char *rid, const char *uid,
    const char *cid, const char *text, uint64_t now_ms, char **answer,
    kraken_error_t *err)
{
    char            perr[128];
    kraken_sdp_t   *sdp;
    kraken_peer_t  *p;

    p = kraken_lookup(e, rid, uid, cid, err);
    if (p == NULL) {
        return err->code;
    }

    sdp = e->sdp;

    if (kraken_sdp_parse(sdp, text, strlen(text), perr, sizeof(perr)) != 0) {
        return kraken_error_set(err, KRAKEN_ERR_INVALID_SDP, "%s", perr);
    }

    if (kraken_offer_check(sdp, err) != KRAKEN_OK) {
        return err->code;
    }

    if (sdp->fingerprint.len != p->remote_fp.len
        || memcmp(sdp->fingerprint.digest, p->remote_fp.digest,
                  p->remote_fp.len) != 0)
    {
        return kraken_error_set(err, KRAKEN_ERR_SERVER_SET_REMOTE_OFFER,
                                "fingerprint changed: DTLS is kept");
    }

    /* ICE restart: new credentials on both sides, DTLS stays */
    if (strcmp(sdp->ice_ufrag, p->remote_ufrag) != 0) {
        kraken_ufrag_unlink(p);
        kraken_random_token(p->ufrag, KRAKEN_UFRAG_SIZE);
        kraken_random_token(p->pwd, KRAKEN_PWD_SIZE);
        snprintf(p->remote_ufrag, sizeof(p->remote_ufrag), "%s",
                 sdp->ice_ufrag);
        kraken_ufrag_link(p);
        p->last_consent = now_ms;
    }

    *answer = kraken_peer_sdp(p, 0);
    if (*answer == NULL) {
        return kraken_error_set(err, KRAKEN_ERR_SERVER_CREATE_ANSWER,
                                "answer too large");
    }

    return KRAKEN_OK;
}


int
kraken_engine_end(kraken_engine_t *e, const char *rid, const char *uid,
    const char *cid, uint64_t now_ms, kraken_error_t *err)
{
    kraken_peer_t  *p;

    p = kraken_lookup(e, rid, uid, cid, err);
    if (p == NULL) {
        return err->code;
    }

    kraken_peer_close(p, now_ms, "end");

    return KRAKEN_OK;
}


int
kraken_engine_trickle(kraken_engine_t *e, const char *rid, const char *uid,
    const char *cid, const char *candidate, kraken_error_t *err)
{
    kraken_peer_t  *p;

    p = kraken_lookup(e, rid, uid, cid, err);
    if (p == NULL) {
        return err->code;
    }

    /* ICE-lite learns addresses from checks: candidates are only checked */
    if (kraken_sdp_check_candidate(candidate, strlen(candidate)) != 0) {
        return kraken_error_set(err, KRAKEN_ERR_INVALID_CANDIDATE,
                                "invalid candidate %.64s", candidate);
    }

    return KRAKEN_OK;
}


static kraken_slot_t *
kraken_slot_for_publisher(kraken_peer_t *p, int *index)
{
    int             i;
    kraken_slot_t  *s;
    char            mid[KRAKEN_MID_SIZE];

    /* a slot retired in an earlier, completed negotiation is reused */
    for (i = 0; i < p->nslots; i++) {
        s = &p->slots[i];

        if (s->kind == KRAKEN_SLOT_SEND && s->state == KRAKEN_SEND_FREE) {
            *index = i;
            return s;
        }
    }

    do {
        snprintf(mid, sizeof(mid), "%d", p->next_mid++);
    } while (kraken_mid_used(p, mid));

    s = kraken_slot_add(p);
    if (s == NULL) {
        return NULL;
    }

    s->kind = KRAKEN_SLOT_SEND;
    memcpy(s->mid, mid, sizeof(mid));
    *index = p->nslots - 1;

    return s;
}


int
kraken_engine_subscribe(kraken_engine_t *e, const char *rid,
    const char *uid, const char *cid, uint64_t now_ms, char **offer,
    kraken_error_t *err)
{
    int             i, changed, found;
    char           *pub_uid;
    kraken_slot_t  *s;
    kraken_peer_t  *p, *q;

    *offer = NULL;

    p = kraken_lookup(e, rid, uid, cid, err);
    if (p == NULL) {
        return err->code;
    }

    changed = 0;

    /* departed publishers: their m-lines go inactive, never away */
    for (i = 0; i < p->nslots; i++) {
        s = &p->slots[i];

        if (s->kind == KRAKEN_SLOT_SEND && s->pub == NULL
            && (s->state == KRAKEN_SEND_ADDING
                || s->state == KRAKEN_SEND_ACTIVE))
        {
            s->state = KRAKEN_SEND_RETIRING;
            changed = 1;
        }
    }

    for (q = p->room->peers; q; q = q->room_next) {
        if (q == p || q->closed || !q->has_track) {
            continue;
        }

        found = 0;

        for (i = 0; i < p->nslots; i++) {
            if (p->slots[i].kind == KRAKEN_SLOT_SEND
                && p->slots[i].pub == q)
            {
                found = 1;
                break;
            }
        }

        if (found) {
            continue;
        }

        s = kraken_slot_for_publisher(p, &i);
        if (s == NULL) {
            /* the session is full: this publisher waits for a free slot */
            continue;
        }

        pub_uid = strdup(q->uid);
        if (pub_uid == NULL) {
            continue;
        }

        free(s->pub_uid);
        s->pub_uid = pub_uid;
        s->state = KRAKEN_SEND_ADDING;
        s->pub = q;
        memcpy(s->pub_cid, q->cid, sizeof(s->pub_cid));
        s->ssrc = kraken_random32();
        s->started = 0;

        if (kraken_fanout_add(q, p, i) != 0) {
            s->pub = NULL;
            s->state = KRAKEN_SEND_FREE;
            continue;
        }

        changed = 1;
    }

    if (!changed) {
        return KRAKEN_OK;
    }

    *offer = kraken_peer_sdp(p, 1);
    if (*offer == NULL) {
        return kraken_error_set(err, KRAKEN_ERR_SERVER_CREATE_OFFER,
                                "offer too large");
    }

    p->negotiating = 1;

    return KRAKEN_OK;
}


int
kraken_engine_answer(kraken_engine_t *e, const char *rid, const char *uid,
    const char *cid, const char *text, uint64_t now_ms, kraken_error_t *err)
{
    int                  i, j, accepted;
    char                 perr[128];
    kraken_sdp_t        *sdp;
    kraken_slot_t       *s;
    kraken_peer_t       *p;

    sdp = e->sdp;

    if (kraken_sdp_parse(sdp, text, strlen(text), perr, sizeof(perr)) != 0) {
        return kraken_error_set(err, KRAKEN_ERR_INVALID_SDP, "%s", perr);
    }

    p = kraken_lookup(e, rid, uid, cid, err);
    if (p == NULL) {
        return err->code;
    }

    if (!p->negotiating) {
        return kraken_error_set(err, KRAKEN_ERR_SERVER_SET_REMOTE_ANSWER,
                                "no offer to answer");
    }

    for (i = 0; i < p->nslots; i++) {
        s = &p->slots[i];

        if (s->kind != KRAKEN_SLOT_SEND) {
            continue;
        }

        accepted = 0;

        for (j = 0; j < sdp->nmedia; j++) {
            if (strcmp(sdp->media[j].mid, s->mid) == 0) {
                accepted = sdp->media[j].port != 0;
                break;
            }
        }

        switch (s->state) {

        case KRAKEN_SEND_ADDING:
            if (accepted && s->pub) {
                s->state = KRAKEN_SEND_ACTIVE;
                break;
            }

            if (s->pub) {
                kraken_fanout_remove(s->pub, p, i);
                s->pub = NULL;
            }

            s->state = KRAKEN_SEND_FREE;
            break;

        case KRAKEN_SEND_RETIRING:
            s->state = KRAKEN_SEND_FREE;
            break;
        }
    }

    p->negotiating = 0;

    return KRAKEN_OK;
}


int
kraken_engine_list(kraken_engine_t *e, const char *rid, cJSON *peers)
{
    cJSON          *o;
    kraken_room_t  *r;
    kraken_peer_t  *p;

    r = kraken_room_find(e, rid);
    if (r == NULL) {
        return 0;
    }

    for (p = r->peers; p; p = p->room_next) {
        if (p->closed) {
            continue;
        }

        o = cJSON_CreateObject();
        if (o == NULL
            || cJSON_AddStringToObject(o, "id", p->uid) == NULL
            || cJSON_AddStringToObject(o, "track", p->cid) == NULL)
        {
            cJSON_Delete(o);
            return -1;
        }

        cJSON_AddItemToArray(peers, o);
    }

    return 0;
}


void
kraken_engine_stats(kraken_engine_t *e, kraken_engine_stats_t *st)
{
    int             active;
    kraken_room_t  *r;
    kraken_peer_t  *p;

    memset(st, 0, sizeof(kraken_engine_stats_t));

    for (r = e->all_rooms; r; r = r->all_next) {
        active = 0;

        for (p = r->peers; p; p = p->room_next) {
            if (p->closed) {
                st->closed_peers++;

            } else {
                st->active_peers++;
                active = 1;
            }
        }

        if (active) {
            st->active_rooms++;

        } else {
            st->closed_rooms++;
        }
    }

    st->counters = e->counters;
}


void
kraken_engine_rooms(kraken_engine_t *e,
    void (*fn)(void *data, const char *rid), void *data)
{
    kraken_room_t  *r;

    for (r = e->all_rooms; r; r = r->all_next) {
        fn(data, r->id);
    }
}


/* the datagram path */

static void
kraken_dtls_flush(kraken_engine_t *e, kraken_peer_t *p)
{
    size_t              n;
    kraken_datagram_t  *dg;

    if (!p->has_addr) {
        return;
    }

    for ( ;; ) {
        dg = kraken_out_next(e);

        n = kraken_dtls_output(p->dtls, dg->buf, sizeof(dg->buf));
        if (n == 0) {
            return;
        }

        kraken_out_commit(e, p, dg, n);
    }
}


static void
kraken_input_stun(kraken_engine_t *e, const struct sockaddr *from,
    socklen_t fromlen, uint8_t *buf, size_t len, uint64_t now)
{
    int                 rc, use;
    void               *data;
    size_t              outlen;
    kraken_peer_t      *p;
    kraken_datagram_t  *dg;

    dg = kraken_out_next(e);
    outlen = sizeof(dg->buf);

    rc = kraken_stun_process(&e->stun, buf, len, from, fromlen, dg->buf,
                             &outlen, &data, &use);

    switch (rc) {

    case KRAKEN_STUN_REPLY:
        break;

    case KRAKEN_STUN_IGNORE:
        return;

    case KRAKEN_STUN_UNAUTHORIZED:
        e->counters.stun_unauthorized++;
        return;

    default:
        e->counters.stun_bad++;
        return;
    }

    p = data;
    p->last_consent = now;

    /* ICE-lite: the first valid check, then the nominated one, is the path */
    if (!p->has_addr
        || (use && !kraken_addr_equal((struct sockaddr *) &p->addr, from)))
    {
        kraken_addr_link(p, from, fromlen);
    }

    memcpy(&dg->addr, from, fromlen);
    dg->addrlen = fromlen;
    dg->len = outlen;
    e->nout++;
}


static void
kraken_input_dtls(kraken_engine_t *e, kraken_peer_t *p, uint8_t *buf,
    size_t len, uint64_t now)
{
    int                 state;
    uint64_t            next;
    kraken_srtp_keys_t  keys;

    if (p->dtls == NULL) {
        return;
    }

    state = kraken_dtls_input(p->dtls, buf, len);
    kraken_dtls_flush(e, p);

    if (state == KRAKEN_DTLS_FAILED) {
        e->counters.dtls_failed++;
        kraken_peer_close(p, now, "dtls failed");
        return;
    }

    if (state == KRAKEN_DTLS_HANDSHAKING) {
        if (kraken_dtls_timer(p->dtls, now, &next) == KRAKEN_DTLS_HANDSHAKING)
        {
            p->dtls_deadline = next;
        }

        return;
    }

    if (p->srtp == NULL) {
        p->dtls_deadline = 0;

        if (kraken_dtls_srtp_keys(p->dtls, &keys) != 0) {
            e->counters.dtls_failed++;
            kraken_peer_close(p, now, "no srtp keys");
            return;
        }

        p->srtp = kraken_srtp_create(&keys);
        if (p->srtp == NULL) {
            kraken_peer_close(p, now, "srtp failed");
            return;
        }

        p->connected_at = now;

        kraken_log(e, "peer %.64s:%.64s:%s connected %llu ms after "
                   "publish", p->room->id, p->uid, p->cid,
                   (unsigned long long) (now - p->created));
    }
}


static void
kraken_forward(kraken_engine_t *e, kraken_peer_t *pub, uint8_t *buf,
    size_t len, kraken_rtp_header_t *h)
{
    int                 i;
    size_t              n;
    uint16_t            seq;
    uint32_t            ts, roc;
    kraken_slot_t      *s;
    kraken_peer_t      *sub;
    kraken_fanout_t    *f;
    kraken_datagram_t  *dg;

    for (i = 0; i < pub->nfanout; i++) {
        f = &pub->fanout[i];
        sub = f->sub;
        s = &sub->slots[f->slot];

        if (s->state != KRAKEN_SEND_ACTIVE || sub->srtp == NULL
            || !sub->has_addr)
        {
            continue;
        }

        if (!s->started) {
            s->started = 1;
            s->in_ssrc = h->ssrc;
            s->seq_delta = (uint16_t) kraken_random32();
            s->ts_delta = kraken_random32();
            s->roc = 0;
            s->last_seq = (uint16_t) (h->seq + s->seq_delta);
            s->last_ts = h->ts + s->ts_delta;

        } else if (s->in_ssrc != h->ssrc) {
            /* a new source on the same m-line continues the old numbers */
            s->in_ssrc = h->ssrc;
            s->seq_delta = (uint16_t) (s->last_seq + 1 - h->seq);
            s->ts_delta = s->last_ts + KRAKEN_OPUS_FRAME - h->ts;
        }

        seq = (uint16_t) (h->seq + s->seq_delta);
        ts = h->ts + s->ts_delta;
        roc = s->roc;

        if ((int16_t) (seq - s->last_seq) > 0) {
            if (seq < s->last_seq) {
                roc = ++s->roc;
            }

            s->last_seq = seq;
            s->last_ts = ts;

        } else if (seq > s->last_seq) {
            /* a late packet from before the last wrap */
            roc--;
        }

        dg = kraken_out_next(e);
        memcpy(dg->buf, buf, len);
        kraken_rtp_write(dg->buf, (uint8_t) sub->pt, seq, ts, s->ssrc);

        n = len;
        if (kraken_srtp_protect_forward(sub->srtp, dg->buf, &n,
                                        sizeof(dg->buf), h->header_len, roc)
            != 0)
        {
            continue;
        }

        kraken_out_commit(e, sub, dg, n);
        e->counters.rtp_forwarded++;
    }
}


static void
kraken_forward_sr(kraken_engine_t *e, kraken_peer_t *pub, const uint8_t *sr)
{
    int                 i;
    size_t              n;
    kraken_slot_t      *s;
    kraken_peer_t      *sub;
    kraken_fanout_t    *f;
    kraken_datagram_t  *dg;

    for (i = 0; i < pub->nfanout; i++) {
        f = &pub->fanout[i];
        sub = f->sub;
        s = &sub->slots[f->slot];

        if (s->state != KRAKEN_SEND_ACTIVE || !s->started
            || sub->srtp == NULL || !sub->has_addr)
        {
            continue;
        }

        dg = kraken_out_next(e);
        n = kraken_rtcp_write_sr(dg->buf, sr, s->ssrc, s->ts_delta);

        if (kraken_srtp_protect_rtcp(sub->srtp, dg->buf, &n,
                                     sizeof(dg->buf))
            == 0)
        {
            kraken_out_commit(e, sub, dg, n);
        }
    }
}


static void
kraken_input_srtp(kraken_engine_t *e, kraken_peer_t *p, uint8_t *buf,
    size_t len, uint64_t now)
{
    uint64_t              forwarded;
    const uint8_t        *sr;
    kraken_rtp_header_t   h;

    if (p->srtp == NULL) {
        /* no media before DTLS completes */
        e->counters.srtp_failed++;
        return;
    }

    if (kraken_rtp_is_rtcp(buf, len)) {
        if (kraken_srtp_unprotect_rtcp(p->srtp, buf, &len) != 0) {
            e->counters.srtp_failed++;
            return;
        }

        e->counters.rtcp_received++;

        /* subscribers' reports end here; a publisher's SR goes on */
        sr = kraken_rtcp_find_sr(buf, len);
        if (sr && p->has_track && p->stats.ssrc == ((uint32_t) sr[4] << 24
                                   | (uint32_t) sr[5] << 16
                                   | (uint32_t) sr[6] << 8 | sr[7]))
        {
            p->stats.lsr = (uint32_t) sr[10] << 24 | (uint32_t) sr[11] << 16
                           | (uint32_t) sr[12] << 8 | sr[13];
            p->stats.lsr_at = now;
            kraken_forward_sr(e, p, sr);
        }

        return;
    }

    if (kraken_srtp_unprotect(p->srtp, buf, &len) != 0) {
        e->counters.srtp_failed++;
        return;
    }

    if (kraken_rtp_parse(buf, len, &h) != 0 || h.pt != p->pt) {
        e->counters.malformed++;
        return;
    }

    e->counters.rtp_received++;

    if (!p->has_track) {
        p->has_track = 1;
        p->next_rr = now + KRAKEN_RR_INTERVAL;
        kraken_log(e, "peer %.64s:%.64s:%s first audio %llu ms after "
                   "publish", p->room->id, p->uid, p->cid,
                   (unsigned long long) (now - p->created));
    }

    kraken_rtp_stats_update(&p->stats, h.ssrc, h.seq);

    forwarded = e->counters.rtp_forwarded;
    kraken_forward(e, p, buf, len, &h);

    if (!p->forwarded && e->counters.rtp_forwarded != forwarded) {
        p->forwarded = 1;
        kraken_log(e, "peer %.64s:%.64s:%s first forwarded %llu ms after "
                   "publish", p->room->id, p->uid, p->cid,
                   (unsigned long long) (now - p->created));
    }
}


void
kraken_engine_input(kraken_engine_t *e, const struct sockaddr *from,
    socklen_t fromlen, uint8_t *buf, size_t len, uint64_t now_ms)
{
    kraken_peer_t  *p;

    if (len == 0 || fromlen > sizeof(struct sockaddr_storage)) {
        e->counters.malformed++;
        return;
    }

    /* RFC 7983 */
    if (buf[0] <= 3) {
        if (kraken_stun_is(buf, len)) {
            kraken_input_stun(e, from, fromlen, buf, len, now_ms);

        } else {
            e->counters.malformed++;
        }

        return;
    }

    if (!((buf[0] >= 20 && buf[0] <= 63) || (buf[0] >= 128 && buf[0] <= 191)))
    {
        e->counters.malformed++;
        return;
    }

    /* beyond STUN only addresses that passed a check are heard */
    p = kraken_peer_by_addr(e, from);
    if (p == NULL) {
        e->counters.unknown_source++;
        return;
    }

    if (buf[0] <= 63) {
        kraken_input_dtls(e, p, buf, len, now_ms);

    } else {
        kraken_input_srtp(e, p, buf, len, now_ms);
    }
}


static void
kraken_send_rr(kraken_engine_t *e, kraken_peer_t *p, uint64_t now)
{
    size_t              n;
    kraken_datagram_t  *dg;

    dg = kraken_out_next(e);
    n = kraken_rtcp_write_rr(dg->buf, p->local_ssrc, &p->stats, now);

    if (kraken_srtp_protect_rtcp(p->srtp, dg->buf, &n, sizeof(dg->buf)) == 0)
    {
        kraken_out_commit(e, p, dg, n);
    }
}


uint64_t
kraken_engine_timer(kraken_engine_t *e, uint64_t now)
{
    int              state, trim;
    uint64_t         next, wait, dl;
    kraken_room_t   *r, *rn;
    kraken_peer_t   *p, **pp;

    wait = 100;
    trim = 0;

    for (r = e->all_rooms; r; r = rn) {
        rn = r->all_next;

        for (pp = &r->peers; *pp; /* void */) {
            p = *pp;

            if (p->closed) {
                if (now - p->closed_at >= e->conf.tombstone_time) {
                    *pp = p->room_next;
                    kraken_peer_free(p);
                    continue;
                }

                pp = &p->room_next;
                continue;
            }

            pp = &p->room_next;

            if (!p->has_track
                && now - p->created >= e->conf.connect_timeout)
            {
                kraken_peer_close(p, now, "no media");
                continue;
            }

            if (p->last_consent
                && now - p->last_consent >= e->conf.consent_timeout)
            {
                kraken_peer_close(p, now, "consent expired");
                continue;
            }

            if (p->dtls_deadline && now >= p->dtls_deadline && p->dtls) {
                state = kraken_dtls_timer(p->dtls, now, &dl);
                kraken_dtls_flush(e, p);

                if (state == KRAKEN_DTLS_FAILED) {
                    e->counters.dtls_failed++;
                    kraken_peer_close(p, now, "dtls timeout");
                    continue;
                }

                p->dtls_deadline = (state == KRAKEN_DTLS_HANDSHAKING)
                                   ? dl : 0;
            }

            if (p->dtls_deadline && p->dtls_deadline > now) {
                next = p->dtls_deadline - now;
                if (next < wait) {
                    wait = next;
                }
            }

            /*
             * Once the keys are in use and a lost final flight can no
             * longer be asked for again, the SSL object is only memory.
             */
            if (p->dtls && p->srtp
                && now - p->connected_at >= KRAKEN_DTLS_LINGER)
            {
                kraken_dtls_free(p->dtls);
                p->dtls = NULL;
                trim = 1;
            }

            if (p->has_track && p->srtp && p->has_addr && now >= p->next_rr)
            {
                kraken_send_rr(e, p, now);
                p->next_rr = now + KRAKEN_RR_INTERVAL;
            }
        }

        if (r->peers == NULL) {
            kraken_room_free(e, r);
        }
    }

#ifdef __GLIBC__
    /* handshake state is the bulk of a new peer: give it back */
    if (trim) {
        malloc_trim(0);
    }
#endif

    return wait;
}
