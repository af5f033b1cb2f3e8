/*
 * RTP and RTCP helpers for forwarding and for our receiver reports.
 */

#include <string.h>

#include "kraken_rtp.h"


#define KRAKEN_RTP_SEQ_MOD  (1u << 16)


static void
kraken_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
}


int
kraken_rtp_is_rtcp(const uint8_t *buf, size_t len)
{
    return len >= 4 && buf[1] >= 192 && buf[1] <= 223;
}


int
kraken_rtp_parse(const uint8_t *buf, size_t len, kraken_rtp_header_t *h)
{
    size_t  hl, ext;

    if (len < 12 || (buf[0] >> 6) != 2) {
        return -1;
    }

    hl = 12 + (size_t) (buf[0] & 0x0f) * 4;

    if (buf[0] & 0x10) {
        if (len < hl + 4) {
            return -1;
        }

        ext = ((size_t) buf[hl + 2] << 8 | buf[hl + 3]) * 4;
        hl += 4 + ext;
    }

    if (hl > len) {
        return -1;
    }

    h->pt = buf[1] & 0x7f;
    h->seq = (uint16_t) (buf[2] << 8 | buf[3]);
    h->ts = kraken_get32(buf + 4);
    h->ssrc = kraken_get32(buf + 8);
    h->header_len = hl;

    return 0;
}


void
kraken_rtp_stats_update(kraken_rtp_stats_t *st, uint32_t ssrc, uint16_t seq)
{
    uint16_t  delta;

    if (!st->started || st->ssrc != ssrc) {
        st->ssrc = ssrc;
        st->started = 1;
        st->max_seq = seq;
        st->base_seq = seq;
        st->cycles = 0;
        st->received = 1;
        st->expected_prior = 0;
        st->received_prior = 0;
        return;
    }

    delta = (uint16_t) (seq - st->max_seq);

    if (delta < 0x8000) {
        if (seq < st->max_seq) {
            st->cycles += KRAKEN_RTP_SEQ_MOD;
        }

        st->max_seq = seq;
    }

    st->received++;
}


const uint8_t *
kraken_rtcp_find_sr(const uint8_t *buf, size_t len)
{
    size_t  plen;

    while (len >= 8) {
        if ((buf[0] >> 6) != 2) {
            return NULL;
        }

        plen = ((size_t) (buf[2] << 8 | buf[3]) + 1) * 4;
        if (plen > len) {
            return NULL;
        }

        if (buf[1] == KRAKEN_RTCP_SR && plen >= 28) {
            return buf;
        }

        buf += plen;
        len -= plen;
    }

    return NULL;
}


size_t
kraken_rtcp_write_rr(uint8_t *buf, uint32_t sender_ssrc,
    kraken_rtp_stats_t *st, uint64_t now_ms)
{
    int32_t   lost;
    uint8_t   fraction;
    uint32_t  ext_max, expected, expected_interval, received_interval;
    uint32_t  lost_interval, dlsr;

    ext_max = st->cycles + st->max_seq;
    expected = ext_max - st->base_seq + 1;
    lost = (int32_t) (expected - st->received);

    if (lost > 0x7fffff) {
        lost = 0x7fffff;

    } else if (lost < -0x800000) {
        lost = -0x800000;
    }

    expected_interval = expected - st->expected_prior;
    received_interval = st->received - st->received_prior;
    st->expected_prior = expected;
    st->received_prior = st->received;

    lost_interval = expected_interval - received_interval;
    fraction = 0;

    if (expected_interval != 0 && (int32_t) lost_interval > 0) {
        fraction = (uint8_t) ((lost_interval << 8) / expected_interval);
    }

    dlsr = 0;

    if (st->lsr_at) {
        /* units of 1/65536 s */
        dlsr = (uint32_t) (((now_ms - st->lsr_at) * 65536) / 1000);
    }

    buf[0] = 0x81;                      /* V=2, one report block */
    buf[1] = KRAKEN_RTCP_RR;
    buf[2] = 0;
    buf[3] = 7;
    kraken_put32(buf + 4, sender_ssrc);
    kraken_put32(buf + 8, st->ssrc);
    kraken_put32(buf + 12, ((uint32_t) fraction << 24)
                           | ((uint32_t) lost & 0xffffff));
    kraken_put32(buf + 16, ext_max);
    kraken_put32(buf + 20, 0);          /* jitter: not tracked */
    kraken_put32(buf + 24, st->lsr);
    kraken_put32(buf + 28, dlsr);

    return 32;
}


size_t
kraken_rtcp_write_sr(uint8_t *buf, const uint8_t *sr, uint32_t ssrc,
    uint32_t ts_delta)
{
    buf[0] = 0x80;                      /* V=2, no report blocks */
    buf[1] = KRAKEN_RTCP_SR;
    buf[2] = 0;
    buf[3] = 6;
    kraken_put32(buf + 4, ssrc);
    memcpy(buf + 8, sr + 8, 8);         /* NTP timestamp */
    kraken_put32(buf + 16, kraken_get32(sr + 16) + ts_delta);
    memcpy(buf + 20, sr + 20, 8);       /* packet and octet counts */

    return 28;
}
