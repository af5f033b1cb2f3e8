/*
 * loadgen: many WebRTC audio peers in one process, for benchmarking an
 * SFU (ngx_kraken through Kraken's JSON-RPC, or Janus's VideoRoom through
 * its HTTP API) on loopback.
 *
 * One UDP socket serves all simulated peers: each peer has its own
 * loopback address 127.10.x.y on the same port, chosen per packet with
 * IP_PKTINFO, so the server sees one 5-tuple per peer while the load
 * generator reads everything with large recvmmsg batches.
 */

#ifndef LG_H
#define LG_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <stun/stunagent.h>

#include "kraken_dtls.h"
#include "kraken_srtp.h"

#define LG_OPUS_PT          111
#define LG_PAYLOAD          100         /* Opus-sized payload, bytes */
#define LG_RTP_HEADER       12
#define LG_PTIME_MS         20          /* 50 packets/s per talker */
#define LG_MAGIC            0x4b4c4731  /* "KLG1" at payload start */
#define LG_MAX_MEDIA        512
#define LG_TOKEN            128
#define LG_BATCH            64
#define LG_LAT_BUCKETS      100000      /* 1 us buckets up to 100 ms */
#define LG_STALL_NS         1000000000ULL   /* silent this long: stalled */

#define LG_NS               1000000000ULL
#define LG_MS               1000000ULL

enum {
    LG_SERVER_KRAKEN = 0,
    LG_SERVER_JANUS
};

enum {
    LG_CONN_IDLE = 0,                   /* no remote description yet */
    LG_CONN_CHECKING,                   /* STUN checks with USE-CANDIDATE */
    LG_CONN_DTLS,                       /* ICE done, handshaking */
    LG_CONN_UP,                         /* SRTP keyed */
    LG_CONN_FAILED,
    LG_CONN_CLOSED                      /* left or vanished: sends nothing */
};

enum {
    LG_LEAVE_END = 1,                   /* close, then the `end` RPC */
    LG_LEAVE_VANISH                     /* close, tell nobody */
};

enum {
    LG_SETUP_NONE = 0,
    LG_SETUP_ACTPASS,
    LG_SETUP_ACTIVE,
    LG_SETUP_PASSIVE
};

enum {
    LG_DIR_SENDRECV = 0,
    LG_DIR_SENDONLY,
    LG_DIR_RECVONLY,
    LG_DIR_INACTIVE
};

typedef struct lg_s       lg_t;
typedef struct lg_part_s  lg_part_t;
typedef struct lg_conn_s  lg_conn_t;
typedef struct lg_room_s  lg_room_t;
typedef struct lg_http_s  lg_http_t;


/* What the load generator needs from a remote SDP. */
typedef struct {
    char      media[16];
    uint16_t  port;
    char      proto[64];
    char      fmts[128];
    char      mid[LG_TOKEN];
    int       dir;
    int       opus_pt;                  /* -1: no opus */
    uint32_t  ssrc;
    char      msid[LG_TOKEN];           /* "stream track" as written */
} lg_sdp_media_t;

typedef struct {
    char                ufrag[LG_TOKEN];
    char                pwd[LG_TOKEN];
    char                fp_alg[16];
    uint8_t             fp[64];
    size_t              fp_len;
    int                 setup;
    struct sockaddr_in  cand;           /* first UDP IPv4 candidate */
    int                 has_cand;
    int                 nmedia;
    lg_sdp_media_t      media[LG_MAX_MEDIA];
} lg_sdp_t;


/* One ICE/DTLS/SRTP transport (a PeerConnection). */
struct lg_conn_s {
    int                 idx;
    lg_part_t          *part;
    int                 state;
    int                 recv_only;      /* Janus subscriber connection */

    struct sockaddr_in  local;          /* 127.10.x.y:port */
    struct sockaddr_in  remote;
    char                ufrag[16];
    char                pwd[32];
    char                rufrag[LG_TOKEN];
    char                rpwd[LG_TOKEN];

    StunAgent          *stun;
    StunTransactionId   stun_id;
    int                 stun_pending;
    uint64_t            stun_next;      /* ns: next check or consent */
    int                 stun_tries;
    uint64_t            stun_answered;  /* ns: last success response */
    uint64_t            ind_next;       /* ns: next binding indication */

    int                 dtls_server;
    kraken_dtls_t      *dtls;
    uint64_t            dtls_deadline;  /* ms, 0: none */
    kraken_srtp_t      *srtp;
    int                 profile;

    /* sending: talkers only */
    int                 talking;
    uint32_t            ssrc;
    uint16_t            seq;
    uint32_t            ts;
    uint32_t            pseq;
    int                 slot;           /* 0 .. LG_PTIME_MS - 1 */
    lg_conn_t          *slot_next;
    uint32_t            octets;         /* payload octets sent (SR) */
    uint64_t            rtcp_next;      /* ns: next sender report */

    uint64_t            t_start;        /* ns: remote description known */
    uint64_t            t_up;           /* ns: SRTP keyed */
    uint64_t            rx_packets;
    uint64_t            tx_packets;
};


/* A participant: one Kraken peer, or a Janus publisher + subscriber. */
struct lg_part_s {
    int                 idx;
    lg_room_t          *room;
    int                 talker;
    char                uid[40];

    lg_conn_t          *conn;           /* Kraken peer / Janus publisher */
    lg_conn_t          *sub;            /* Janus subscriber, else NULL */

    int                 started;
    int                 failed;
    uint64_t            t_join;         /* ns: publish RPC sent */
    uint64_t            t_answer;       /* ns: publish answer received */
    uint64_t            t_first_rx;     /* ns: first forwarded packet */
    uint32_t            nstreams;       /* incoming streams seen */

    /* soak: when and how the participant leaves */
    uint64_t            t_leave;        /* ns, 0: stays */
    int                 leave;          /* LG_LEAVE_... */
    int                 gone;           /* its connection is closed */
    int                 ended;          /* `end` answered */

    /* Kraken */
    char                track[64];
    int                 busy;           /* an RPC in flight */
    uint64_t            next_poll;      /* ns */
    uint32_t            sdp_version;

    /* Janus */
    uint64_t            pub_handle;
    uint64_t            sub_handle;
    int                 pub_live;       /* publisher webrtcup */
    int                 sub_busy;       /* a subscriber request in flight */
    int                 sub_started;
    uint8_t            *subscribed;     /* per room member: asked for */
};


struct lg_room_s {
    int                 idx;
    uint64_t            janus_room;
    int                 nparts;
    lg_part_t         **parts;
    int                 created;
};


/* Per incoming stream (receiving connection + SSRC) loss accounting. */
typedef struct {
    uint64_t            key;            /* conn idx << 32 | ssrc, 0: free */
    uint32_t            cycles;
    uint16_t            max_seq;
    int                 in_window;
    uint64_t            base_ext;
    uint64_t            max_ext;
    uint64_t            received;
    uint64_t            last_rx;        /* ns: latest packet in the window */
} lg_stream_t;


typedef struct {
    int                 server;         /* LG_SERVER_... */
    const char         *label;
    struct sockaddr_in  http_addr;
    const char         *http_host;
    int                 rooms;
    int                 talkers;        /* per room */
    int                 listeners;      /* per room */
    double              warmup;         /* s */
    double              duration;       /* s */
    double              join_timeout;   /* s */
    double              join_rate;      /* participants/s */
    int                 join_parallel;  /* signaling in flight */
    int                 poll_ms;        /* Kraken subscribe poll, steady */
    int                 poll_join_ms;   /* ... while joining */
    int                 consent_ms;
    int                 checks_after_up;    /* 0: no binding requests
                                               once SRTP is keyed */
    int                 indication_ms;  /* binding indications, 0: none */
    int                 rtcp_ms;        /* talkers' sender reports, 0: none */
    double              silent_after;   /* s after keying, 0: never */
    const char         *room_prefix;
    int                 decrypt_every;  /* unprotect 1 in N RTP packets */
    int                 send_batch;
    int                 http_conns;
    int                 server_pid;
    int                 udp_port;
    uint32_t            addr_base;      /* host order */
    const char         *srtp_profiles;
    int                 verbose;
    const char         *json_out;

    /* loadgen soak */
    int                 soak;
    int                 peers_total;
    int                 concurrent;
    int                 room_size;
    int                 vanish_pct;
    double              soak_seconds;
    double              start_rate;     /* participants started per second */
} lg_conf_t;


typedef struct {
    uint64_t            rx_rtp;
    uint64_t            rx_rtcp;
    uint64_t            rx_stun;
    uint64_t            rx_dtls;
    uint64_t            rx_bad;         /* unprotect failures, unknown */
    uint64_t            rx_decrypted;
    uint64_t            tx_rtp;
    uint64_t            tx_fail;
    uint64_t            lat_count;
    uint64_t            lat_max;        /* ns */
    uint64_t            lat_sum;
    uint32_t           *lat_hist;       /* LG_LAT_BUCKETS */
} lg_counters_t;


struct lg_s {
    lg_conf_t           conf;
    int                 ep;             /* epoll */
    int                 udp;
    uint16_t            port;

    kraken_dtls_ctx_t  *dtls_ctx;
    char                fingerprint[160];

    int                 nparts;
    lg_part_t          *parts;
    int                 nrooms;
    lg_room_t          *rooms;
    int                 nconns;
    int                 maxconns;
    lg_conn_t          *conns;

    lg_conn_t          *slots[LG_PTIME_MS];
    unsigned           slot_turn;      /* next slot to hand out */
    uint64_t            next_slot_ms;   /* absolute ms of the next slot */

    lg_http_t          *http;
    lg_sdp_t           *sdp;            /* scratch for parsing */

    int                 joined;         /* participants started */
    int                 inflight;       /* joins with signaling running */
    uint64_t            expected_streams;
    uint64_t            seen_streams;

    lg_stream_t        *streams;
    uint32_t            stream_mask;

    int                 measuring;
    int                 stop;
    uint64_t            now;            /* ns, CLOCK_MONOTONIC */
    int64_t             rt_offset;      /* realtime - monotonic, ns */
    lg_counters_t       c;

    /* Janus */
    uint64_t            janus_session;
    int                 janus_ready;
    uint64_t            janus_ctl;      /* handle that creates rooms */
    uint64_t            janus_keepalive;

    /* whole run, not reset with the window */
    uint64_t            checks_up;      /* binding requests sent keyed */
    uint64_t            indications;
    uint64_t            rtcp_sent;
    uint64_t            rx_closed;      /* arrived for a closed connection */

    uint64_t            errors;
    uint64_t            rpc_errors;
};


/* loadgen.c */
extern volatile sig_atomic_t  lg_interrupted;

uint64_t lg_now(void);
void lg_log(lg_t *lg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void lg_fail(lg_part_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* lg_net.c */
int lg_net_init(lg_t *lg);
lg_conn_t *lg_conn_new(lg_t *lg, lg_part_t *p);
int lg_conn_remote(lg_t *lg, lg_conn_t *c, const lg_sdp_t *sdp);
void lg_net_read(lg_t *lg);
void lg_net_send_due(lg_t *lg);
void lg_net_timers(lg_t *lg);
void lg_net_window(lg_t *lg, int start);
void lg_conn_close(lg_t *lg, lg_conn_t *c);
void lg_rand(void *buf, size_t len);
void lg_rand_token(char *buf, size_t len);

/* lg_sdp.c */
int lg_sdp_parse(lg_sdp_t *sdp, const char *text);
size_t lg_sdp_offer(lg_t *lg, lg_conn_t *c, int dir, char *buf, size_t cap);
size_t lg_sdp_answer(lg_t *lg, lg_conn_t *c, const lg_sdp_t *offer,
    char *buf, size_t cap);

/* lg_http.c */
typedef void (*lg_http_done_pt)(lg_t *lg, void *data, int status,
    char *body, size_t len);

lg_http_t *lg_http_create(lg_t *lg, const struct sockaddr_in *addr,
    int conns);
int lg_http_request(lg_http_t *h, const char *method, const char *path,
    char *body, int longpoll, lg_http_done_pt done, void *data);
void lg_http_event(lg_t *lg, void *ptr, uint32_t events);
int lg_http_idle(lg_http_t *h);

/* lg_kraken.c */
void lg_kraken_start(lg_t *lg, lg_part_t *p);
void lg_kraken_timers(lg_t *lg);
void lg_kraken_end(lg_t *lg, lg_part_t *p);
void lg_kraken_room_id(lg_t *lg, lg_part_t *p, char *buf, size_t size);

/* lg_janus.c */
void lg_janus_setup(lg_t *lg);
void lg_janus_start(lg_t *lg, lg_part_t *p);
void lg_janus_timers(lg_t *lg);
void lg_janus_conn_up(lg_t *lg, lg_conn_t *c);

/* lg_floor.c */
int lg_floor(int argc, char **argv);

/* lg_soak.c */
int lg_soak(lg_t *lg);

#endif /* LG_H */
