/*
 * SDP: a bounded, order-independent parser for browser offers and answers,
 * and a writer for the answers and renegotiation offers we send.
 * Plain C, no nginx headers.
 */

#ifndef KRAKEN_SDP_H
#define KRAKEN_SDP_H

#include <stddef.h>
#include <stdint.h>

#define KRAKEN_SDP_MAX_LEN        65536   /* larger input is rejected */
#define KRAKEN_SDP_MAX_MEDIA      128     /* more m-lines is rejected */
#define KRAKEN_SDP_TOKEN_LEN      257     /* ufrag, pwd, mid, ids: <= 256 */

enum {
    KRAKEN_SDP_AUDIO = 1,
    KRAKEN_SDP_VIDEO,
    KRAKEN_SDP_APPLICATION,
    KRAKEN_SDP_OTHER
};

enum {
    KRAKEN_SDP_SENDRECV = 0,            /* the default when absent */
    KRAKEN_SDP_SENDONLY,
    KRAKEN_SDP_RECVONLY,
    KRAKEN_SDP_INACTIVE
};

enum {
    KRAKEN_SDP_SETUP_NONE = 0,
    KRAKEN_SDP_SETUP_ACTPASS,
    KRAKEN_SDP_SETUP_ACTIVE,
    KRAKEN_SDP_SETUP_PASSIVE
};

typedef struct {
    char      alg[16];                  /* "sha-256", lower case */
    uint8_t   digest[64];
    size_t    len;                      /* 0: none */
} kraken_sdp_fingerprint_t;

typedef struct {
    int       kind;                     /* KRAKEN_SDP_AUDIO ... */
    char      media[32];                /* as written: "audio", "video" */
    uint16_t  port;
    char      proto[64];                /* "UDP/TLS/RTP/SAVPF" */
    char      fmts[256];                /* the format list, as written */
    char      mid[KRAKEN_SDP_TOKEN_LEN];
    int       direction;                /* KRAKEN_SDP_SENDRECV ... */
    int       rtcp_mux;

    /* Opus, when offered on this m-line; opus_pt is -1 otherwise */
    int       opus_pt;
    int       opus_channels;            /* from rtpmap, 2 when absent */
    char      opus_fmtp[256];           /* "" when no a=fmtp for it */

    uint32_t  ssrc;                     /* first a=ssrc, 0 when none */
    char      msid_stream[KRAKEN_SDP_TOKEN_LEN];
    char      msid_track[KRAKEN_SDP_TOKEN_LEN];

    /* media-level transport, "" / len 0 when absent */
    char      ice_ufrag[KRAKEN_SDP_TOKEN_LEN];
    char      ice_pwd[KRAKEN_SDP_TOKEN_LEN];
    kraken_sdp_fingerprint_t  fingerprint;
    int       setup;
} kraken_sdp_media_t;

typedef struct {
    /*
     * Transport of the session: session-level values, or when absent
     * there, those of the first m-line that has them (BUNDLE).
     */
    char      ice_ufrag[KRAKEN_SDP_TOKEN_LEN];
    char      ice_pwd[KRAKEN_SDP_TOKEN_LEN];
    kraken_sdp_fingerprint_t  fingerprint;
    int       setup;
    int       ice_lite;

    int       nmedia;
    kraken_sdp_media_t  media[KRAKEN_SDP_MAX_MEDIA];
} kraken_sdp_t;


/*
 * Parses text (not NUL-terminated, CRLF or LF). Returns 0 or -1 with a
 * reason in err. Rejects: no v= line first, over the size and count
 * limits, malformed m= lines, over-long tokens.
 * Callers allocate kraken_sdp_t (it is large: heap, not stack).
 */
int kraken_sdp_parse(kraken_sdp_t *sdp, const char *text, size_t len,
    char *err, size_t errlen);


/* What we write. */

typedef struct {
    int           rejected;             /* port 0, media/proto/fmts echoed */
    const char   *media;                /* "audio" or the echoed kind */
    const char   *proto;                /* rejected: echoed */
    const char   *fmts;                 /* rejected: echoed */
    const char   *mid;
    int           direction;            /* KRAKEN_SDP_SENDRECV ... */
    int           pt;                   /* Opus payload type */
    int           channels;             /* Opus channels, usually 2 */
    const char   *fmtp;                 /* "" or NULL: no a=fmtp line */
    uint32_t      ssrc;                 /* 0: no ssrc/msid lines */
    const char   *msid_stream;
    const char   *msid_track;
    const char   *cname;
} kraken_sdp_out_media_t;

typedef struct {
    uint64_t      session_id;
    uint64_t      session_version;
    const char   *ice_ufrag;
    const char   *ice_pwd;
    const char   *fingerprint;          /* "sha-256 AB:CD:..." */
    const char   *setup;                /* "passive", "actpass" */
    const char   *cand_ip;              /* our host candidate */
    uint16_t      cand_port;
    int           nmedia;
    const kraken_sdp_out_media_t  *media;
} kraken_sdp_desc_t;


/*
 * Writes an SDP with a=ice-lite, one BUNDLE group of the non-rejected
 * mids, rtcp-mux, one host UDP candidate per m-line and
 * a=end-of-candidates. Returns the length written (NUL-terminated), or 0
 * if cap is too small.
 */
size_t kraken_sdp_write(const kraken_sdp_desc_t *d, char *buf, size_t cap);

/* "sha-256 AB:..:CD" from a digest; returns 0 or -1 if cap is too small */
int kraken_sdp_format_fingerprint(const char *alg, const uint8_t *digest,
    size_t len, char *buf, size_t cap);

/*
 * Checks a trickled candidate line ("candidate:..." with or without the
 * "a=" prefix): foundation, component, transport, priority, address,
 * port, "typ" and a type. Returns 0 or -1.
 */
int kraken_sdp_check_candidate(const char *cand, size_t len);

#endif /* KRAKEN_SDP_H */
