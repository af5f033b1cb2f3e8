/*
 * The engine of one worker: rooms, peers, ICE-lite, DTLS-SRTP and the
 * forwarding of Opus between the peers of a room. Plain C, no nginx
 * headers: the caller brings datagrams in, sends what the engine hands
 * out through a callback, and calls kraken_engine_timer() when asked to.
 */

#ifndef KRAKEN_ENGINE_H
#define KRAKEN_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <cJSON.h>

#include "kraken_error.h"

typedef struct kraken_engine_s  kraken_engine_t;

/* Larger datagrams are dropped: they could not be forwarded whole. */
#define KRAKEN_DATAGRAM_MAX  1500

/* One outgoing datagram of a batch. */
typedef struct {
    struct sockaddr_storage  addr;
    socklen_t                addrlen;
    size_t                   len;
    uint8_t                  buf[KRAKEN_DATAGRAM_MAX];
} kraken_datagram_t;

/* Sends n datagrams; what cannot be sent is dropped (UDP). */
typedef void (*kraken_send_pt)(void *data, kraken_datagram_t *dg, int n);

/* A line about a peer's life, for the operator's log. */
typedef void (*kraken_log_pt)(void *data, const char *msg);

/*
 * Fills buf with len random bytes; returns 0, or -1 when the source
 * failed. A failure is never papered over: the call that needed the bytes
 * fails.
 */
typedef int (*kraken_random_pt)(void *data, void *buf, size_t len);

/* A room came into being (created 1) or went away (0) in this engine. */
typedef void (*kraken_room_event_pt)(void *data, const char *rid,
    int created);

/*
 * May a publish create room rid (the caller's registry of rooms has a
 * place for it)? Called with room_event_data once every other bound
 * passed, just before the room is created; nonzero refuses the publish
 * with 5003000 (server busy: room registry full).
 */
typedef int (*kraken_room_admit_pt)(void *data, const char *rid);

/*
 * A client address became known to this engine, or stopped being known,
 * so that the caller can steer its datagrams here:
 *
 *   KRAKEN_ADDR_CHECKED    a STUN check with a peer's ICE credentials came
 *                          from it (a peer's path or probe). Anyone who
 *                          holds such credentials (their own) can send
 *                          that check from a spoofed address: a caller
 *                          that shares the address with other engines
 *                          takes it as a claim, never over another's,
                          and returns -1 when another has it: the engine
                          then neither admits the address nor answers
                          the check (the datagrams from it are another
                          engine's, KRAKEN_INPUT_FOREIGN);
 *   KRAKEN_ADDR_PROVEN     the peer's keys proved it: its DTLS handshake
 *                          ended with a datagram from it, or SRTP/SRTCP
 *                          from it was authentic. Announced once per
 *                          address of a path, after CHECKED;
 *   KRAKEN_ADDR_FORGOTTEN  no peer here has it any more.
 *
 * Returns 0, or -1 for a refused KRAKEN_ADDR_CHECKED; the return value
 * of the other events is ignored.
 */
#define KRAKEN_ADDR_FORGOTTEN  0
#define KRAKEN_ADDR_CHECKED    1
#define KRAKEN_ADDR_PROVEN     2

typedef int (*kraken_addr_event_pt)(void *data, const struct sockaddr *sa,
    socklen_t len, int event);

/*
 * Kraken's on-track callback: the first Opus packet of a publisher that
 * published with a callback url arrived. Called once per track; from
 * then on the engine forwards nothing of that publisher (its packets are
 * dropped, as counted in callback_held; Kraken does not forward them
 * either) until the caller answers kraken_engine_callback_done(), which
 * it may do from within this call. The url is the publish's, valid
 * during the call only. A deadline for the answer is the caller's.
 */
typedef void (*kraken_ontrack_pt)(void *data, const char *rid,
    const char *uid, const char *cid, const char *url);

/* kraken_engine_input(): the datagram belongs to another engine */
#define KRAKEN_INPUT_OK       0
#define KRAKEN_INPUT_FOREIGN  1

typedef struct {
    const char      *announce_ip;       /* our host candidate */
    uint16_t         port;              /* our media port */
    uint64_t         consent_timeout;   /* ms without a valid STUN check */
    uint64_t         connect_timeout;   /* ms from publish to first media */
    uint64_t         closed_peer_time;  /* ms a closed peer stays known */
    kraken_send_pt   send;
    void            *send_data;
    kraken_room_event_pt  room_event;   /* may be NULL */
    kraken_room_admit_pt  room_admit;   /* may be NULL */
    void            *room_event_data;
    kraken_log_pt    log;               /* may be NULL */
    void            *log_data;
    kraken_random_pt random;            /* NULL: OpenSSL's RAND_bytes() */
    void            *random_data;

    /*
     * Several engines behind one port: 1..255 is this engine's tag, the
     * first two characters of every ufrag it hands out, and input() says
     * KRAKEN_INPUT_FOREIGN instead of dropping what is not its own.
     */
    unsigned         ufrag_tag;
    kraken_addr_event_pt  addr_event;   /* may be NULL */
    void            *addr_event_data;

    /* NULL: a publish with a callback url is 5001000 */
    kraken_ontrack_pt  ontrack;
    void            *ontrack_data;

    /* bounds, 0: none; publish answers 5002000 or 5003000 beyond them */
    unsigned         max_room_peers;    /* live peers of one room */
    unsigned         max_rooms;         /* rooms of this engine */
    unsigned         max_peers;         /* live peers of this engine */
    unsigned         max_pending;       /* published, not yet connected */
    unsigned         max_candidates;    /* trickled per peer: 5001002 */

    /*
     * The audio streams one peer receives, the room's other publishers:
     * a publish that would make a room need more is 5002000. 0 or over
     * KRAKEN_PEER_STREAMS_MAX: KRAKEN_PEER_STREAMS_MAX, as a session
     * (its own audio included) holds at most KRAKEN_SDP_MAX_MEDIA m-lines.
     */
    unsigned         max_peer_streams;
} kraken_engine_conf_t;

#define KRAKEN_PEER_STREAMS_MAX  127

/*
 * Why datagrams were dropped, why peers timed out, what flowed, and calls
 * refused: one list of each kind, for the struct and for everything that
 * sums or renders it (the metrics render a kind as one family).
 */
#define KRAKEN_ENGINE_DROPS(X)                                               \
    X(stun_bad, "malformed STUN, or an unknown ufrag")                       \
    X(stun_unauthorized, "STUN with a wrong MESSAGE-INTEGRITY")              \
    X(stun_addr_refused, "STUN checks from an address another worker's "     \
      "peer has")                                                            \
    X(srtp_failed, "SRTP/SRTCP that failed authentication or replay")        \
    X(unknown_source, "non-STUN from an address no check admitted")          \
    X(malformed, "not STUN, DTLS or RTP at all")                             \
    X(oversize, "datagrams too large to forward")                            \
    X(ssrc_refused, "RTP from a source the peer may not use")                \
    X(dtls_withheld, "our DTLS datagrams not sent: more than an address "   \
      "that has not echoed our cookie sent us")                              \
    X(callback_held, "RTP of a publisher its on-track callback has not "     \
      "admitted yet")

#define KRAKEN_ENGINE_TIMEOUTS(X)                                            \
    X(connect_timeout, "peers closed: no media within the connect timeout")  \
    X(consent_timeout, "peers closed: no STUN check within the consent "     \
      "timeout")                                                             \
    X(dtls_timeout, "peers closed: the DTLS handshake timed out")

#define KRAKEN_ENGINE_TOTALS(X)                                              \
    X(dtls_failed, "DTLS handshakes that failed")                            \
    X(path_switches, "media paths moved to a new address")                   \
    X(bounds_hit, "calls refused by a configured bound")                     \
    X(rtp_received, "RTP packets received")                                  \
    X(rtp_received_bytes, "bytes of RTP received, without SRTP's trailer")   \
    X(rtp_forwarded, "RTP packets forwarded")                                \
    X(rtp_forwarded_bytes, "bytes of RTP forwarded, without SRTP's trailer") \
    X(rtcp_received, "RTCP packets received")                                \
    X(callback_calls, "on-track callbacks asked for")                        \
    X(callback_admitted, "publishers an on-track callback admitted")         \
    X(callback_refused, "peers closed: their on-track callback refused "     \
      "them or failed")

#define KRAKEN_ENGINE_COUNTERS(X)                                            \
    KRAKEN_ENGINE_DROPS(X)                                                   \
    KRAKEN_ENGINE_TIMEOUTS(X)                                                \
    KRAKEN_ENGINE_TOTALS(X)

#define KRAKEN_COUNTER_FIELD(name, help)  uint64_t  name;

/*
 * DTLS handshake times in ms, from the first DTLS datagram to the keys:
 * the upper bounds of the histogram's buckets.
 */
#define KRAKEN_DTLS_BOUNDS   { 5, 10, 25, 50, 100, 250, 500, 1000, 2500 }
#define KRAKEN_DTLS_NBOUNDS  9

typedef struct {
    uint64_t  bucket[KRAKEN_DTLS_NBOUNDS + 1];  /* each bucket's own count;
                                                   the last: above them all */
    uint64_t  count;
    uint64_t  sum;                              /* ms */
} kraken_engine_histogram_t;

typedef struct {
    KRAKEN_ENGINE_COUNTERS(KRAKEN_COUNTER_FIELD)
    kraken_engine_histogram_t  dtls_handshake;
} kraken_engine_counters_t;

typedef struct {
    int       connected_peers;          /* active, DTLS done */
    int       active_peers;
    int       closed_peers;
    int       active_rooms;
    int       closed_rooms;
    kraken_engine_counters_t  counters;
} kraken_engine_stats_t;


kraken_engine_t *kraken_engine_create(const kraken_engine_conf_t *conf,
    char *err, size_t errlen);
void kraken_engine_free(kraken_engine_t *e);

/*
 * A received datagram; buf may be modified. Returns KRAKEN_INPUT_OK, or
 * with a ufrag_tag KRAKEN_INPUT_FOREIGN for STUN tagged for another
 * engine and for other datagrams from an address it does not know: the
 * caller hands it to its owner, or gives it to kraken_engine_drop().
 */
int kraken_engine_input(kraken_engine_t *e, const struct sockaddr *from,
    socklen_t fromlen, uint8_t *buf, size_t len, uint64_t now_ms);

/* A foreign datagram nobody owns: counted as input() would without tag. */
void kraken_engine_drop(kraken_engine_t *e, const uint8_t *buf, size_t len);

/* The ufrag tag a STUN request is for (1..255), 0 when it has none. */
unsigned kraken_engine_stun_tag(const uint8_t *buf, size_t len);

/* Hands the batched output to conf->send; call after a batch of input. */
void kraken_engine_flush(kraken_engine_t *e);

/*
 * Timeouts and retransmissions due at now_ms. Returns the delay in ms
 * until the next call is needed.
 */
uint64_t kraken_engine_timer(kraken_engine_t *e, uint64_t now_ms);


/*
 * Signaling, Kraken's router methods. Each returns KRAKEN_OK or an error
 * code with err filled. SDP in and out is plain SDP text; returned
 * strings are malloc()ed and freed by the caller.
 */
int kraken_engine_publish(kraken_engine_t *e, const char *rid,
    const char *uid, const char *sdp, int limit, const char *callback,
    uint64_t now_ms, char track[37], char **answer, kraken_error_t *err);
int kraken_engine_restart(kraken_engine_t *e, const char *rid,
    const char *uid, const char *cid, const char *sdp, uint64_t now_ms,
    char **answer, kraken_error_t *err);
int kraken_engine_end(kraken_engine_t *e, const char *rid, const char *uid,
    const char *cid, uint64_t now_ms, kraken_error_t *err);
int kraken_engine_trickle(kraken_engine_t *e, const char *rid,
    const char *uid, const char *cid, const char *candidate,
    kraken_error_t *err);
/* Kraken's room.get: 5002001, 5002002 or 5002003, or KRAKEN_OK. */
int kraken_engine_lookup(kraken_engine_t *e, const char *rid,
    const char *uid, const char *cid, kraken_error_t *err);
/* *offer is NULL when nothing changed */
int kraken_engine_subscribe(kraken_engine_t *e, const char *rid,
    const char *uid, const char *cid, uint64_t now_ms, char **offer,
    kraken_error_t *err);
int kraken_engine_answer(kraken_engine_t *e, const char *rid,
    const char *uid, const char *cid, const char *sdp, uint64_t now_ms,
    kraken_error_t *err);

/*
 * The answer to a kraken_ontrack_pt call: ok, the publisher's audio is
 * forwarded from now on; not ok, the peer is closed ("callback refused").
 * Returns KRAKEN_OK, or an error code when no peer of that track waits
 * for it (closed meanwhile, replaced, or answered already): nothing to do.
 */
int kraken_engine_callback_done(kraken_engine_t *e, const char *rid,
    const char *uid, const char *cid, int ok, uint64_t now_ms);

/* Appends {"id": uid, "track": cid} of each active peer of rid. */
int kraken_engine_list(kraken_engine_t *e, const char *rid, cJSON *peers);

/*
 * The engine's end (its worker exits): every connected peer is sent a
 * DTLS close_notify, through conf->send before this returns, and every
 * peer is closed. Returns the number of close_notify alerts sent.
 */
int kraken_engine_shutdown(kraken_engine_t *e, uint64_t now_ms);

void kraken_engine_stats(kraken_engine_t *e, kraken_engine_stats_t *st);

/* Calls fn for each room id this engine holds. */
void kraken_engine_rooms(kraken_engine_t *e,
    void (*fn)(void *data, const char *rid), void *data);

#endif /* KRAKEN_ENGINE_H */
