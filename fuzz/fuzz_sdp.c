/*
 * libFuzzer: the SDP parser on anything, and the writer on what it parsed.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kraken_sdp.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                      i;
    char                     err[128], out[16384];
    static kraken_sdp_t      sdp;
    kraken_sdp_desc_t        d;
    kraken_sdp_out_media_t   m[KRAKEN_SDP_MAX_MEDIA];

    if (kraken_sdp_parse(&sdp, (const char *) data, size, err, sizeof(err))
        != 0)
    {
        return 0;
    }

    memset(&d, 0, sizeof(d));
    memset(m, 0, sizeof(m));

    for (i = 0; i < sdp.nmedia; i++) {
        m[i].rejected = sdp.media[i].opus_pt < 0;
        m[i].media = sdp.media[i].media;
        m[i].proto = sdp.media[i].proto;
        m[i].fmts = sdp.media[i].fmts;
        m[i].mid = sdp.media[i].mid;
        m[i].direction = sdp.media[i].direction;
        m[i].pt = sdp.media[i].opus_pt;
        m[i].channels = sdp.media[i].opus_channels;
        m[i].fmtp = sdp.media[i].opus_fmtp;
        m[i].ssrc = sdp.media[i].ssrc;
        m[i].msid_stream = sdp.media[i].msid_stream;
        m[i].msid_track = sdp.media[i].msid_track;
        m[i].cname = "fuzz";
    }

    d.ice_ufrag = sdp.ice_ufrag;
    d.ice_pwd = sdp.ice_pwd;
    d.fingerprint = "sha-256 00";
    d.setup = "passive";
    d.cand_ip = "127.0.0.1";
    d.cand_port = 9;
    d.nmedia = sdp.nmedia;
    d.media = m;

    (void) kraken_sdp_write(&d, out, sizeof(out));
    (void) kraken_sdp_check_candidate((const char *) data, size);

    return 0;
}
