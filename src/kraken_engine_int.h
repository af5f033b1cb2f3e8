/*
 * The engine's parts and what they share: rooms and their indexes
 * (kraken_room.c), a peer's life (kraken_peer.c), its transport: STUN,
 * DTLS, SRTP and timers (kraken_transport.c), its session of m-lines and
 * Kraken's methods on it (kraken_session.c), the forwarding of a
 * publisher's audio to its subscribers (kraken_forward.c), and the engine
 * that owns them all (kraken_engine.c). Only these files include it.
 */

#ifndef KRAKEN_ENGINE_INT_H
#define KRAKEN_ENGINE_INT_H

#include <stdint.h>
#include <sys/socket.h>

#include "kraken_engine.h"
#include "kraken_dtls.h"
#include "kraken_rtp.h"
#include "kraken_rtp_rewrite.h"
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
#define KRAKEN_MID_MAX          999999  /* numeric mids of an offer */
#define KRAKEN_RR_INTERVAL      1000
#define KRAKEN_DTLS_LINGER      10000   /* ms DTLS outlives the handshake */
#define KRAKEN_BYE_SIZE         128     /* a close_notify record, sealed */
#define KRAKEN_TRIM_INTERVAL    10000   /* ms between heap trims for frees */
#define KRAKEN_SSRC_PINS        5       /* RTP sources of one peer: the
                                           declared one and 4 more */

/* a publisher's on-track callback (kraken_ontrack_pt) */
enum {
    KRAKEN_GATE_NONE = 0,               /* no callback, or not called yet */
    KRAKEN_GATE_WAITING,                /* called: its audio is held */
    KRAKEN_GATE_OPEN                    /* admitted */
};

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
    char              pub_id[37];       /* SEND: the publisher's public id */
    uint32_t          ssrc;             /* SEND: ours toward the peer */
    kraken_rtp_rewrite_t  rw;           /* SEND: the numbers we send */
} kraken_slot_t;

typedef struct {
    kraken_peer_t    *sub;
    int               slot;
} kraken_fanout_t;

/*
 * A transport address of a peer in the engine's index: the media path,
 * or a probe, an address that passed a STUN check and becomes the path
 * only when authenticated media arrives from it.
 */
typedef struct kraken_addr_s  kraken_addr_t;

struct kraken_addr_s {
    struct sockaddr_storage  sa;
    socklen_t         len;
    int               linked;
    int               proven;           /* KRAKEN_ADDR_PROVEN announced */
    kraken_peer_t    *peer;
    size_t            dtls_credit;      /* DTLS bytes it sent, unanswered */
    kraken_addr_t    *next;             /* hash chain */
};

/* An RTP source a peer may send: libsrtp holds state for it. */
typedef struct {
    uint32_t             ssrc;
    kraken_rtp_index_t   index;
} kraken_pin_t;

struct kraken_peer_s {
    kraken_engine_t  *engine;
    kraken_room_t    *room;
    kraken_peer_t    *room_next;
    kraken_peer_t    *ufrag_next;

    char              uid[KRAKEN_SDP_TOKEN_LEN];
    char              cid[37];          /* the track: its holder's secret */
    char              pub_id[37];       /* what others see of it */
    int               closed;
    int               pending;          /* counted in npending */
    unsigned          candidates;       /* trickled so far */
    uint64_t          created;
    uint64_t          closed_at;

    /* ICE */
    char              ufrag[KRAKEN_UFRAG_SIZE + 1];
    char              pwd[KRAKEN_PWD_SIZE + 1];
    char              remote_ufrag[KRAKEN_SDP_TOKEN_LEN];
    kraken_addr_t     path;
    kraken_addr_t     probe;
    uint64_t          last_consent;

    /* DTLS-SRTP */
    kraken_dtls_t    *dtls;
    uint64_t          connected_at;
    uint64_t          dtls_deadline;
    uint8_t           bye[KRAKEN_BYE_SIZE];  /* our close_notify, kept
                                                when dtls is freed */
    size_t            bye_len;
    kraken_srtp_t    *srtp;
    kraken_sdp_fingerprint_t  remote_fp;
    kraken_pin_t      pins[KRAKEN_SSRC_PINS];
    int               npins;

    /* what it publishes */
    int               pt;
    int               channels;
    char              fmtp[256];
    int               has_track;
    int               forwarded;        /* its audio reached someone */
    char             *callback;         /* NULL: none; malloc'd */
    int               gate;             /* KRAKEN_GATE_* */
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
    kraken_addr_t        *by_addr[KRAKEN_ADDR_BUCKETS];

    kraken_engine_counters_t  counters;
    int                   freed;        /* peers freed since the last trim */
    uint64_t              trimmed_at;
    unsigned              nrooms;
    unsigned              npeers;       /* live */
    unsigned              npending;     /* live, not connected */

    int                   nout;
    kraken_datagram_t     out[KRAKEN_OUT_BATCH];
    uint8_t               scratch[1600];
};


/* kraken_log.c */
void kraken_log(kraken_engine_t *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* kraken_random.c */
int kraken_random(kraken_engine_t *e, void *buf, size_t len);
int kraken_random_token(kraken_engine_t *e, char *buf, size_t len);
int kraken_ufrag_new(kraken_engine_t *e, char *buf);
int kraken_random32(kraken_engine_t *e, uint32_t *v);
int kraken_track(kraken_engine_t *e, char out[37], int uuid);

/* kraken_out.c */
kraken_datagram_t *kraken_out_next(kraken_engine_t *e);
void kraken_out_commit(kraken_engine_t *e, kraken_peer_t *p,
    kraken_datagram_t *dg, size_t len);
void kraken_out_flush(kraken_engine_t *e);

/* kraken_room.c */
uint32_t kraken_hash(const void *data, size_t len);
int kraken_addr_equal(const struct sockaddr *a, const struct sockaddr *b);
size_t kraken_addr_key(const struct sockaddr *sa,
    uint8_t key[KRAKEN_DTLS_FROM_MAX]);
kraken_addr_t *kraken_addr_find(kraken_engine_t *e,
    const struct sockaddr *sa);
int kraken_addr_link(kraken_peer_t *p, kraken_addr_t *a,
    const struct sockaddr *sa, socklen_t len);
void kraken_addr_unlink(kraken_engine_t *e, kraken_addr_t *a);
void kraken_addr_promote(kraken_peer_t *p);
void kraken_addr_prove(kraken_engine_t *e, kraken_addr_t *a);
void kraken_ufrag_link(kraken_peer_t *p);
void kraken_ufrag_unlink(kraken_peer_t *p);
void *kraken_stun_lookup(void *data, const char *local, size_t local_len,
    const char *remote, size_t remote_len, const char **pwd);
kraken_room_t *kraken_room_find(kraken_engine_t *e, const char *id);
kraken_room_t *kraken_room_get(kraken_engine_t *e, const char *id);
void kraken_room_free(kraken_engine_t *e, kraken_room_t *r);
kraken_peer_t *kraken_room_peer(kraken_room_t *r, const char *uid);
void kraken_room_unlink(kraken_room_t *r, kraken_peer_t *p);
kraken_peer_t *kraken_lookup(kraken_engine_t *e, const char *rid,
    const char *uid, const char *cid, kraken_error_t *err);

/* kraken_peer.c */
void kraken_peer_close(kraken_peer_t *p, uint64_t now, const char *why);
void kraken_peer_free(kraken_peer_t *p);
void kraken_peer_dtls_release(kraken_peer_t *p);
int kraken_peer_bye(kraken_peer_t *p);
char *kraken_strdup(const char *s);

/* kraken_transport.c */
void kraken_input_stun(kraken_engine_t *e, const struct sockaddr *from,
    socklen_t fromlen, uint8_t *buf, size_t len, uint64_t now);
void kraken_input_dtls(kraken_engine_t *e, kraken_addr_t *a, uint8_t *buf,
    size_t len, uint64_t now);
void kraken_input_srtp(kraken_engine_t *e, kraken_addr_t *a, uint8_t *buf,
    size_t len, uint64_t now);
uint64_t kraken_peer_timer(kraken_engine_t *e, kraken_peer_t *p,
    uint64_t now, int *trim);

/* kraken_forward.c */
int kraken_fanout_add(kraken_peer_t *pub, kraken_peer_t *sub, int slot);
void kraken_fanout_remove(kraken_peer_t *pub, kraken_peer_t *sub, int slot);
void kraken_forward(kraken_engine_t *e, kraken_peer_t *pub, uint8_t *buf,
    size_t len, kraken_rtp_header_t *h, uint64_t index);
void kraken_forward_sr(kraken_engine_t *e, kraken_peer_t *pub,
    const uint8_t *sr);

#endif /* KRAKEN_ENGINE_INT_H */
