/*
 * RTP and RTCP: header access, the rewriting a forwarded packet needs,
 * reception statistics (RFC 3550 A.1, A.3) and the RTCP we generate.
 * Plain C, no nginx headers.
 */

#ifndef KRAKEN_RTP_H
#define KRAKEN_RTP_H

#include <stddef.h>
#include <stdint.h>

#define KRAKEN_RTCP_SR    200
#define KRAKEN_RTCP_RR    201

typedef struct {
    uint8_t   pt;
    uint16_t  seq;
    uint32_t  ts;
    uint32_t  ssrc;
    size_t    header_len;               /* fixed + CSRCs + extension */
} kraken_rtp_header_t;

/* Receiver side of one source, for our receiver reports. */
typedef struct {
    uint32_t  ssrc;
    uint16_t  max_seq;
    uint32_t  cycles;
    uint32_t  base_seq;
    uint32_t  received;
    uint32_t  expected_prior;
    uint32_t  received_prior;
    int       started;
    uint32_t  lsr;                      /* middle of the last SR's NTP */
    uint64_t  lsr_at;                   /* when it arrived, ms */
} kraken_rtp_stats_t;


/* A 32-bit field in network order. */
static inline uint32_t
kraken_get32(const uint8_t *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
           | ((uint32_t) p[2] << 8) | p[3];
}

/* RFC 5761: RTCP packet types 192-223 share the port with RTP. */
int kraken_rtp_is_rtcp(const uint8_t *buf, size_t len);

/* Version 2, lengths consistent. Returns 0 or -1. */
int kraken_rtp_parse(const uint8_t *buf, size_t len, kraken_rtp_header_t *h);

static inline void
kraken_rtp_write(uint8_t *buf, uint8_t pt, uint16_t seq, uint32_t ts,
    uint32_t ssrc)
{
    buf[1] = (uint8_t) ((buf[1] & 0x80) | (pt & 0x7f));
    buf[2] = (uint8_t) (seq >> 8);
    buf[3] = (uint8_t) seq;
    buf[4] = (uint8_t) (ts >> 24);
    buf[5] = (uint8_t) (ts >> 16);
    buf[6] = (uint8_t) (ts >> 8);
    buf[7] = (uint8_t) ts;
    buf[8] = (uint8_t) (ssrc >> 24);
    buf[9] = (uint8_t) (ssrc >> 16);
    buf[10] = (uint8_t) (ssrc >> 8);
    buf[11] = (uint8_t) ssrc;
}

void kraken_rtp_stats_update(kraken_rtp_stats_t *st, uint32_t ssrc,
    uint16_t seq);

/*
 * Finds the first SR of a compound RTCP packet. Returns a pointer to it
 * (28 bytes at least are readable) or NULL.
 */
const uint8_t *kraken_rtcp_find_sr(const uint8_t *buf, size_t len);

/* Our RR about st, 32 bytes into buf. */
size_t kraken_rtcp_write_rr(uint8_t *buf, uint32_t sender_ssrc,
    kraken_rtp_stats_t *st, uint64_t now_ms);

/*
 * A bare SR (no report blocks) from a received one, for a subscriber:
 * our SSRC, the RTP timestamp shifted by ts_delta. 28 bytes.
 */
size_t kraken_rtcp_write_sr(uint8_t *buf, const uint8_t *sr, uint32_t ssrc,
    uint32_t ts_delta);

#endif /* KRAKEN_RTP_H */
