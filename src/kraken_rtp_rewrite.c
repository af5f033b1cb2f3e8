/*
 * Packet indexes of forwarded RTP: see kraken_rtp_rewrite.h.
 */

#include "kraken_rtp_rewrite.h"


#define KRAKEN_RTP_OPUS_FRAME  960      /* 20 ms at 48 kHz */


int32_t
kraken_rtp_index_guess(const kraken_rtp_index_t *ix, uint16_t seq,
    uint64_t *index)
{
    int32_t   diff;
    uint16_t  local_seq;
    uint32_t  local_roc, roc;

    if (!ix->started) {
        /* libsrtp takes a new stream's first packet to have ROC 0 */
        *index = seq;
        return seq;
    }

    local_roc = (uint32_t) (ix->index >> 16);
    local_seq = (uint16_t) ix->index;

    /*
     * The nearest of three candidates, with libsrtp's tie rule: a distance
     * of exactly half the sequence space counts as ahead when the last
     * sequence number is in the lower half, as behind otherwise.
     */
    if (local_seq < 32768) {
        if ((int32_t) seq - local_seq > 32768) {
            roc = local_roc - 1;
            diff = (int32_t) seq - local_seq - 65536;

        } else {
            roc = local_roc;
            diff = (int32_t) seq - local_seq;
        }

    } else {
        if ((int32_t) local_seq - 32768 > seq) {
            roc = local_roc + 1;
            diff = (int32_t) seq - local_seq + 65536;

        } else {
            roc = local_roc;
            diff = (int32_t) seq - local_seq;
        }
    }

    *index = ((uint64_t) roc << 16 | seq) & KRAKEN_RTP_INDEX_MASK;

    return diff;
}


uint64_t
kraken_rtp_index_accept(kraken_rtp_index_t *ix, uint16_t seq)
{
    int32_t   diff;
    uint64_t  index;

    diff = kraken_rtp_index_guess(ix, seq, &index);

    if (!ix->started || diff > 0) {
        ix->index = index;
        ix->started = 1;
    }

    return index;
}


void
kraken_rtp_rewrite_init(kraken_rtp_rewrite_t *rw, uint16_t first_seq,
    uint32_t ts_delta)
{
    rw->started = 0;
    rw->out_max = first_seq;
    rw->ts_delta = ts_delta;
}


int
kraken_rtp_rewrite(kraken_rtp_rewrite_t *rw, uint32_t ssrc, uint64_t index,
    uint32_t ts, uint32_t *roc, uint16_t *seq, uint32_t *out_ts)
{
    uint64_t  out;

    if (!rw->started) {
        /* the first packet takes the first index */
        rw->started = 1;
        rw->ssrc = ssrc;
        rw->floor = index;
        rw->in_max = index;
        rw->delta = (rw->out_max - index) & KRAKEN_RTP_INDEX_MASK;
        rw->last_ts = ts + rw->ts_delta;

    } else if (ssrc != rw->ssrc) {
        /* a new source on the same m-line continues the old numbers */
        rw->ssrc = ssrc;
        rw->floor = index;
        rw->in_max = index;
        rw->delta = (rw->out_max + 1 - index) & KRAKEN_RTP_INDEX_MASK;
        rw->ts_delta = rw->last_ts + KRAKEN_RTP_OPUS_FRAME - ts;

    } else if (index > rw->in_max
               && index - rw->in_max >= KRAKEN_RTP_MAX_JUMP)
    {
        /*
         * The subscriber's receiver guesses the rollover counter from the
         * sequence number alone and misreads jumps near half the space:
         * it sees a gap of one instead. The timestamp keeps real time.
         */
        rw->floor = index;
        rw->in_max = index;
        rw->delta = (rw->out_max + 1 - index) & KRAKEN_RTP_INDEX_MASK;

    } else if (index < rw->floor) {
        /* from before the epoch: its index may already be taken */
        return -1;
    }

    out = (index + rw->delta) & KRAKEN_RTP_INDEX_MASK;
    *out_ts = ts + rw->ts_delta;

    if (index >= rw->in_max) {
        rw->in_max = index;
        rw->out_max = out;
        rw->last_ts = *out_ts;
    }

    *roc = (uint32_t) (out >> 16);
    *seq = (uint16_t) out;

    return 0;
}
