/*
 * The numbers of forwarded RTP. A publisher's packets arrive with its
 * SSRC, sequence numbers and timestamps; each subscriber receives them on
 * an m-line of its own, under its own SRTP key, with our SSRC. Two types:
 *
 * kraken_rtp_index_t follows one inbound SSRC the way libsrtp does, so
 * that the 48-bit packet index (RFC 3711 3.3.1: ROC << 16 | SEQ) of every
 * packet libsrtp accepted is known exactly, not guessed a second time.
 *
 * kraken_rtp_rewrite_t maps those indexes to the outbound ones of one
 * subscriber's m-line: out = in + delta within a source epoch, and a new
 * epoch (a new SSRC, or a jump forward too large for the subscriber's
 * receiver to follow) continues right after the highest index sent. Since
 * libsrtp never accepts an inbound index twice, and every epoch starts
 * above all earlier output, no outbound index is ever used twice under
 * the subscriber's key.
 *
 * Plain C, no nginx headers.
 */

#ifndef KRAKEN_RTP_REWRITE_H
#define KRAKEN_RTP_REWRITE_H

#include <stdint.h>

/* a forward jump of this many packets or more starts a new epoch */
#define KRAKEN_RTP_MAX_JUMP   8192

#define KRAKEN_RTP_INDEX_MASK  0xffffffffffffULL


typedef struct {
    uint64_t  index;                    /* highest index accepted */
    int       started;
} kraken_rtp_index_t;

typedef struct {
    uint64_t  delta;                    /* out = in + delta, 48 bits */
    uint64_t  floor;                    /* first inbound index of the epoch */
    uint64_t  in_max;                   /* highest inbound index mapped */
    uint64_t  out_max;                  /* highest outbound index sent */
    uint32_t  ts_delta;
    uint32_t  last_ts;                  /* outbound timestamp of out_max */
    uint32_t  ssrc;                     /* inbound SSRC of the epoch */
    int       started;
} kraken_rtp_rewrite_t;


/*
 * libsrtp's estimate of the index of a packet with sequence number seq,
 * as its receiver would make it (RFC 3711 appendix A). Returns the
 * difference to the highest index accepted so far: > 0 is a new highest,
 * <= 0 a late packet.
 */
int32_t kraken_rtp_index_guess(const kraken_rtp_index_t *ix, uint16_t seq,
    uint64_t *index);

/* After libsrtp accepted the packet: its index, and the state follows. */
uint64_t kraken_rtp_index_accept(kraken_rtp_index_t *ix, uint16_t seq);

/*
 * The first outbound index is first_seq with a rollover counter of 0, as
 * every SRTP receiver assumes; ts_delta offsets the timestamps.
 */
void kraken_rtp_rewrite_init(kraken_rtp_rewrite_t *rw, uint16_t first_seq,
    uint32_t ts_delta);

/*
 * Maps one accepted packet: inbound SSRC, index and timestamp to the
 * outbound index (*roc, *seq) and timestamp. Returns 0, or -1 when the
 * packet must be dropped: a late packet from before the current epoch.
 */
int kraken_rtp_rewrite(kraken_rtp_rewrite_t *rw, uint32_t ssrc,
    uint64_t index, uint32_t ts, uint32_t *roc, uint16_t *seq,
    uint32_t *out_ts);

#endif /* KRAKEN_RTP_REWRITE_H */
