/*
 * Simulated browsers for the engine, without nginx and without a test
 * framework: clients built from the same core (a DTLS client, SRTP,
 * libnice STUN checks) exchange datagrams with a kraken engine in memory.
 * The unit tests and the datagram fuzzer share it; nothing here asserts:
 * calls return 0, 1 or a Kraken code, and only a broken harness aborts.
 */

#ifndef SIM_H
#define SIM_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include <srtp2/srtp.h>
#include <stun/stunagent.h>

#include "kraken_dtls.h"
#include "kraken_engine.h"
#include "kraken_sdp.h"
#include "kraken_srtp.h"


#define SIM_MAX_CLIENTS   8
#define SIM_ADDRS         2             /* a client's usual address, another */
#define SIM_QUEUE         4096
#define SIM_STREAMS       8
#define SIM_PAYLOAD       0xab          /* every byte of our RTP payloads */

/* A datagram the engine sent, as captured. */
typedef struct {
    struct sockaddr_in   to;
    size_t               len;
    uint8_t              buf[sizeof(((kraken_datagram_t *) 0)->buf)];
} sim_packet_t;

/*
 * A forwarded RTP packet as a client received it: its SSRC, sequence
 * number and first payload bytes as sent, that is the keystream XOR our
 * constant payload. Two with the same SSRC, sequence number and bytes
 * were encrypted under the same packet index.
 */
typedef struct {
    uint32_t             ssrc;
    uint16_t             seq;
    uint8_t              ct[8];
    int                  decrypted;
    uint64_t             index;         /* when decrypted: ROC << 16 | SEQ */
} sim_seen_t;

/* The receiving side of one SSRC, mirroring libsrtp's estimate. */
typedef struct {
    uint32_t             ssrc;
    uint64_t             highest;       /* the highest index accepted */
    int                  packets;
} sim_stream_t;

typedef struct {
    int                  idx;
    struct sockaddr_in   addr[SIM_ADDRS];
    int                  from;          /* the address it sends from */
    char                 room[64];
    char                 uid[64];
    char                 ufrag[16];
    char                 pwd[32];
    char                 track[37];
    char                 server_ufrag[KRAKEN_SDP_TOKEN_LEN];
    char                 server_pwd[KRAKEN_SDP_TOKEN_LEN];
    kraken_dtls_t       *dtls;
    kraken_srtp_t       *srtp;          /* sends; receives RTCP */
    srtp_t               rx;            /* stock libsrtp: receives RTP */
    uint32_t             ssrc;          /* the one its offer declares */
    uint16_t             seq;
    StunAgent            agent;

    /* what reached it */
    int                  received;      /* RTP that decrypted */
    int                  rejected;      /* RTP that did not */
    int                  media_at[SIM_ADDRS];   /* SRTP/SRTCP datagrams */
    int                  stun_at[SIM_ADDRS];
    int                  dtls_at[SIM_ADDRS];
    size_t               bytes_at[SIM_ADDRS];   /* every datagram's */
    uint32_t             last_ssrc;
    uint16_t             last_seq;
    uint8_t              last_pt;
    size_t               last_len;      /* of the decrypted RTP */
    uint32_t             sr_ssrc;       /* sender of the last SR we got */
    uint32_t             rr_about;      /* source of the last RR block */

    /* packet indexes, when the sim records */
    sim_stream_t         streams[SIM_STREAMS];
    int                  nstreams;
    uint64_t             max_jump;      /* largest forward index step */
    int                  estimate_errors;   /* ours != libsrtp's ROC */
    sim_seen_t          *seen;
    size_t               nseen;
    size_t               seen_cap;
} sim_client_t;

/* A deterministic random source for conf.random; fail makes it fail. */
typedef struct {
    uint64_t             state;
    int                  fail;
    uint64_t             calls;
} sim_random_t;

typedef struct {
    kraken_engine_t     *engine;
    kraken_engine_conf_t conf;          /* for sim_engine(): tweak first */
    kraken_dtls_ctx_t   *ctx;           /* the clients' certificate */
    uint64_t             now;
    sim_random_t         rng;
    int                  record;        /* keep sim_seen_t of RTP */
    const char          *callback;      /* of the next publishes; NULL: "" */
    char                 err[256];

    sim_client_t         clients[SIM_MAX_CLIENTS];
    kraken_sdp_fingerprint_t  server_fp;    /* of the last answer */

    sim_packet_t        *queue;
    int                  nqueue;
    sim_packet_t        *batch;
    int                  stray;         /* datagrams to nobody we know */
    struct sockaddr_in   stray_to;
} sim_t;


/*
 * A simulation with the unit tests' engine settings (consent 3000 ms,
 * connect 5000 ms, tombstones 10000 ms) in s->conf, no engine yet.
 * Returns NULL with a message on stderr.
 */
sim_t *sim_new(void);
void sim_free(sim_t *s);

/* Creates s->engine from s->conf; NULL with s->err filled. */
kraken_engine_t *sim_engine(sim_t *s);

/* The engine's conf.random when conf.random_data is &s->rng. */
int sim_random(void *data, void *buf, size_t len);

/* Client idx: addresses, ICE credentials, SSRC; forgets its past. */
sim_client_t *sim_client_init(sim_t *s, int idx);

/* A browser-like publish offer of client idx; static storage. */
const char *sim_offer(sim_t *s, int idx, int pt, const char *mid);

/* Publishes sdp for client idx; on KRAKEN_OK it can connect. */
int sim_publish_sdp(sim_t *s, int idx, const char *room, const char *uid,
    const char *sdp, kraken_error_t *err);

/* sim_client_init(), then a publish offering Opus at pt. Kraken code. */
int sim_publish(sim_t *s, int idx, const char *room, const char *uid,
    int pt);

/* A connectivity check (USE-CANDIDATE if use) signed with pwd. */
size_t sim_check_build(sim_t *s, int idx, const char *pwd, int use,
    uint8_t *buf, size_t cap);

/* Sends a check with USE-CANDIDATE from the client's address. */
void sim_check(sim_t *s, int idx, const char *pwd);

/* Check, DTLS handshake, SRTP. Returns 0, or -1 when not connected. */
int sim_connect(sim_t *s, int idx);

/* The DTLS handshake alone, from the client's current address. */
int sim_handshake(sim_t *s, int idx);

/*
 * An RTP packet of client idx with 'payload' bytes of SIM_PAYLOAD,
 * protected with its keys into buf. Returns 0 or -1.
 */
int sim_rtp(sim_t *s, int idx, int pt, uint16_t seq, uint32_t ssrc,
    size_t payload, uint8_t *buf, size_t cap, size_t *len);

/* Its next packet (seq++, 100 bytes), sent and delivered. 0 or -1. */
int sim_send(sim_t *s, int idx, int pt);

/* A datagram from the client's current address; then flush and pump. */
void sim_input(sim_t *s, int idx, uint8_t *buf, size_t len);

/* A datagram from any address; then flush and pump. */
void sim_input_from(sim_t *s, const struct sockaddr_in *from, uint8_t *buf,
    size_t len);

/* Delivers what the engine sent: clients answer DTLS, count media. */
void sim_pump(sim_t *s);

/* Forgets what the engine sent without delivering it. */
void sim_drop(sim_t *s);

/* Time passes: the engine's timer runs, its output is delivered. */
void sim_advance(sim_t *s, uint64_t ms);

/*
 * Subscribe, and answer the offer as a browser would (accept all).
 * Returns 1 (answered), 0 (nothing changed) or -1 (*offer_out: NULL).
 */
int sim_subscribe(sim_t *s, int idx, char **offer_out);

/* kraken_engine_lookup() of the client's peer. */
int sim_lookup(sim_t *s, int idx);

kraken_engine_counters_t sim_counters(sim_t *s);

/*
 * Packet indexes that reached client idx twice: the same SSRC, sequence
 * number and keystream, or the same decrypted (SSRC, ROC, SEQ).
 */
int sim_index_reuse(sim_t *s, int idx);

#endif /* SIM_H */
