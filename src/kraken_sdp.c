/*
 * SDP: a bounded parser for browser offers and answers, and the writer
 * of what we send.
 */

#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kraken_sdp.h"


typedef struct {
    const char  *p;
    size_t       len;
} kraken_sdp_str_t;


static int
kraken_sdp_fail(char *err, size_t errlen, const char *fmt, int line)
{
    if (err && errlen) {
        snprintf(err, errlen, fmt, line);
    }

    return -1;
}


static int
kraken_sdp_eq(kraken_sdp_str_t *s, const char *lit)
{
    size_t  n;

    n = strlen(lit);

    return s->len >= n && strncmp(s->p, lit, n) == 0;
}


/* Copies a token; over-long input is an error, never truncated. */

static int
kraken_sdp_copy(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap || memchr(src, '\0', len) != NULL) {
        return -1;
    }

    memcpy(dst, src, len);
    dst[len] = '\0';

    return 0;
}


static int
kraken_sdp_number(const char *p, size_t len, long max, long *out)
{
    long  v;

    if (len == 0 || len > 10) {
        return -1;
    }

    v = 0;

    while (len--) {
        if (*p < '0' || *p > '9') {
            return -1;
        }

        v = v * 10 + (*p++ - '0');
    }

    if (v > max) {
        return -1;
    }

    *out = v;

    return 0;
}


/* Splits off the next space-separated word of s. */

static int
kraken_sdp_word(kraken_sdp_str_t *s, kraken_sdp_str_t *w)
{
    while (s->len && *s->p == ' ') {
        s->p++;
        s->len--;
    }

    if (s->len == 0) {
        return -1;
    }

    w->p = s->p;

    while (s->len && *s->p != ' ') {
        s->p++;
        s->len--;
    }

    w->len = s->p - w->p;

    return 0;
}


static int
kraken_sdp_hex(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c = tolower(c);

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


static int
kraken_sdp_fingerprint(kraken_sdp_str_t *v, kraken_sdp_fingerprint_t *fp)
{
    int               hi, lo;
    size_t            i;
    kraken_sdp_str_t  alg, hex;

    if (kraken_sdp_word(v, &alg) != 0 || kraken_sdp_word(v, &hex) != 0
        || alg.len >= sizeof(fp->alg))
    {
        return -1;
    }

    for (i = 0; i < alg.len; i++) {
        fp->alg[i] = (char) tolower((unsigned char) alg.p[i]);
    }

    fp->alg[alg.len] = '\0';
    fp->len = 0;

    for (i = 0; i < hex.len; i += 3) {
        if (i + 2 > hex.len || fp->len == sizeof(fp->digest)) {
            return -1;
        }

        hi = kraken_sdp_hex((unsigned char) hex.p[i]);
        lo = kraken_sdp_hex((unsigned char) hex.p[i + 1]);

        if (hi < 0 || lo < 0 || (i + 2 < hex.len && hex.p[i + 2] != ':')) {
            return -1;
        }

        fp->digest[fp->len++] = (uint8_t) (hi << 4 | lo);
    }

    return fp->len ? 0 : -1;
}


static int
kraken_sdp_setup(kraken_sdp_str_t *v)
{
    if (kraken_sdp_eq(v, "actpass")) {
        return KRAKEN_SDP_SETUP_ACTPASS;
    }

    if (kraken_sdp_eq(v, "active")) {
        return KRAKEN_SDP_SETUP_ACTIVE;
    }

    if (kraken_sdp_eq(v, "passive")) {
        return KRAKEN_SDP_SETUP_PASSIVE;
    }

    return KRAKEN_SDP_SETUP_NONE;
}


static int
kraken_sdp_mline(kraken_sdp_media_t *m, kraken_sdp_str_t *v)
{
    long              port;
    kraken_sdp_str_t  w, rest;

    if (kraken_sdp_word(v, &w) != 0
        || kraken_sdp_copy(m->media, sizeof(m->media), w.p, w.len) != 0)
    {
        return -1;
    }

    if (strcmp(m->media, "audio") == 0) {
        m->kind = KRAKEN_SDP_AUDIO;

    } else if (strcmp(m->media, "video") == 0) {
        m->kind = KRAKEN_SDP_VIDEO;

    } else if (strcmp(m->media, "application") == 0) {
        m->kind = KRAKEN_SDP_APPLICATION;

    } else {
        m->kind = KRAKEN_SDP_OTHER;
    }

    /* "port" or "port/count" */
    if (kraken_sdp_word(v, &w) != 0) {
        return -1;
    }

    rest = w;
    while (rest.len && *rest.p != '/') {
        rest.p++;
        rest.len--;
    }

    if (kraken_sdp_number(w.p, w.len - rest.len, 65535, &port) != 0) {
        return -1;
    }

    m->port = (uint16_t) port;

    if (kraken_sdp_word(v, &w) != 0
        || kraken_sdp_copy(m->proto, sizeof(m->proto), w.p, w.len) != 0)
    {
        return -1;
    }

    while (v->len && *v->p == ' ') {
        v->p++;
        v->len--;
    }

    if (v->len == 0
        || kraken_sdp_copy(m->fmts, sizeof(m->fmts), v->p, v->len) != 0)
    {
        return -1;
    }

    m->opus_pt = -1;
    m->opus_channels = 2;
    m->direction = -1;

    return 0;
}


/* Is pt in the m-line's format list, and where? */

static int
kraken_sdp_fmt_index(kraken_sdp_media_t *m, long pt)
{
    int               i;
    long              n;
    kraken_sdp_str_t  s, w;

    s.p = m->fmts;
    s.len = strlen(m->fmts);

    for (i = 0; kraken_sdp_word(&s, &w) == 0; i++) {
        if (kraken_sdp_number(w.p, w.len, 127, &n) == 0 && n == pt) {
            return i;
        }
    }

    return -1;
}


static int
kraken_sdp_rtpmap(kraken_sdp_media_t *m, kraken_sdp_str_t *v, int *best)
{
    int               idx;
    long              pt, ch;
    kraken_sdp_str_t  w, enc;

    if (kraken_sdp_word(v, &w) != 0
        || kraken_sdp_number(w.p, w.len, 127, &pt) != 0
        || kraken_sdp_word(v, &enc) != 0)
    {
        return -1;
    }

    if (enc.len < 10 || strncasecmp(enc.p, "opus/48000", 10) != 0) {
        return 0;
    }

    idx = kraken_sdp_fmt_index(m, pt);
    if (idx < 0 || (*best >= 0 && idx >= *best)) {
        return 0;
    }

    ch = 2;

    if (enc.len > 11 && enc.p[10] == '/'
        && kraken_sdp_number(enc.p + 11, enc.len - 11, 8, &ch) != 0)
    {
        return -1;
    }

    *best = idx;
    m->opus_pt = (int) pt;
    m->opus_channels = (int) ch;

    return 0;
}


static int
kraken_sdp_msid(kraken_sdp_media_t *m, kraken_sdp_str_t *v)
{
    kraken_sdp_str_t  stream, track;

    if (kraken_sdp_word(v, &stream) != 0) {
        return -1;
    }

    if (kraken_sdp_word(v, &track) != 0) {
        track.p = "";
        track.len = 0;
    }

    if (kraken_sdp_copy(m->msid_stream, sizeof(m->msid_stream), stream.p,
                        stream.len) != 0
        || kraken_sdp_copy(m->msid_track, sizeof(m->msid_track), track.p,
                           track.len) != 0)
    {
        return -1;
    }

    return 0;
}


/* a=fmtp lines of the current m-line, resolved once Opus's pt is known */
#define KRAKEN_SDP_MAX_FMTP  32

typedef struct {
    long              pt;
    kraken_sdp_str_t  text;
} kraken_sdp_fmtp_t;

typedef struct {
    int                n;
    kraken_sdp_fmtp_t  fmtp[KRAKEN_SDP_MAX_FMTP];
} kraken_sdp_fmtps_t;


#define KRAKEN_SDP_IS(name, lit)                                              \
    ((name)->len == sizeof(lit) - 1                                           \
     && strncmp((name)->p, lit, (name)->len) == 0)


/* a=fmtp: kept for the pt Opus ends up with, whatever the line order */

static int
kraken_sdp_fmtp(kraken_sdp_str_t *v, kraken_sdp_fmtps_t *fmtps)
{
    long              n;
    kraken_sdp_str_t  w;

    if (kraken_sdp_word(v, &w) != 0
        || kraken_sdp_number(w.p, w.len, 127, &n) != 0)
    {
        return -1;
    }

    while (v->len && *v->p == ' ') {
        v->p++;
        v->len--;
    }

    if (fmtps->n < KRAKEN_SDP_MAX_FMTP) {
        fmtps->fmtp[fmtps->n].pt = n;
        fmtps->fmtp[fmtps->n].text = *v;
        fmtps->n++;
    }

    return 0;
}


/* a=ssrc: the first source, and its msid when there is no a=msid */

static int
kraken_sdp_ssrc(kraken_sdp_media_t *m, kraken_sdp_str_t *v)
{
    long              n;
    kraken_sdp_str_t  w;

    if (kraken_sdp_word(v, &w) != 0
        || kraken_sdp_number(w.p, w.len, 4294967295L, &n) != 0)
    {
        return -1;
    }

    if (m->ssrc == 0) {
        m->ssrc = (uint32_t) n;
    }

    while (v->len && *v->p == ' ') {
        v->p++;
        v->len--;
    }

    if (m->msid_stream[0] == '\0' && v->len > 5
        && strncmp(v->p, "msid:", 5) == 0)
    {
        v->p += 5;
        v->len -= 5;
        return kraken_sdp_msid(m, v);
    }

    return 0;
}


/* An a= line of an m-line's section. */

static int
kraken_sdp_media_attr(kraken_sdp_media_t *m, kraken_sdp_str_t *name,
    kraken_sdp_str_t *v, int *best, kraken_sdp_fmtps_t *fmtps)
{
    if (KRAKEN_SDP_IS(name, "mid")) {
        return kraken_sdp_copy(m->mid, sizeof(m->mid), v->p, v->len);
    }

    if (KRAKEN_SDP_IS(name, "rtcp-mux")) {
        m->rtcp_mux = 1;
        return 0;
    }

    if (KRAKEN_SDP_IS(name, "rtpmap")) {
        return kraken_sdp_rtpmap(m, v, best);
    }

    if (KRAKEN_SDP_IS(name, "fmtp")) {
        return kraken_sdp_fmtp(v, fmtps);
    }

    if (KRAKEN_SDP_IS(name, "msid")) {
        return kraken_sdp_msid(m, v);
    }

    if (KRAKEN_SDP_IS(name, "ssrc")) {
        return kraken_sdp_ssrc(m, v);
    }

    return 0;
}


/* One a= line; m is NULL at session level. */

static int
kraken_sdp_attr(kraken_sdp_t *sdp, kraken_sdp_media_t *m,
    kraken_sdp_str_t *a, int *best, int *session_dir,
    kraken_sdp_fmtps_t *fmtps)
{
    char                      *ufrag, *pwd;
    size_t                     i;
    kraken_sdp_str_t           name, v;
    kraken_sdp_fingerprint_t  *fp;
    int                       *setup, *dir;

    name = *a;

    for (i = 0; i < a->len && a->p[i] != ':'; i++) {
        /* void */
    }

    name.len = i;
    v.p = a->p + i + (i < a->len);
    v.len = a->len - i - (i < a->len);

    ufrag = m ? m->ice_ufrag : sdp->ice_ufrag;
    pwd = m ? m->ice_pwd : sdp->ice_pwd;
    fp = m ? &m->fingerprint : &sdp->fingerprint;
    setup = m ? &m->setup : &sdp->setup;
    dir = m ? &m->direction : session_dir;

    if (KRAKEN_SDP_IS(&name, "ice-ufrag")) {
        return kraken_sdp_copy(ufrag, KRAKEN_SDP_TOKEN_LEN, v.p, v.len);
    }

    if (KRAKEN_SDP_IS(&name, "ice-pwd")) {
        return kraken_sdp_copy(pwd, KRAKEN_SDP_TOKEN_LEN, v.p, v.len);
    }

    if (KRAKEN_SDP_IS(&name, "fingerprint")) {
        return kraken_sdp_fingerprint(&v, fp);
    }

    if (KRAKEN_SDP_IS(&name, "setup")) {
        *setup = kraken_sdp_setup(&v);
        return 0;
    }

    if (KRAKEN_SDP_IS(&name, "ice-lite")) {
        sdp->ice_lite = 1;
        return 0;
    }

    if (KRAKEN_SDP_IS(&name, "sendrecv")) {
        *dir = KRAKEN_SDP_SENDRECV;
        return 0;
    }

    if (KRAKEN_SDP_IS(&name, "sendonly")) {
        *dir = KRAKEN_SDP_SENDONLY;
        return 0;
    }

    if (KRAKEN_SDP_IS(&name, "recvonly")) {
        *dir = KRAKEN_SDP_RECVONLY;
        return 0;
    }

    if (KRAKEN_SDP_IS(&name, "inactive")) {
        *dir = KRAKEN_SDP_INACTIVE;
        return 0;
    }

    if (m == NULL) {
        return 0;
    }

    return kraken_sdp_media_attr(m, &name, &v, best, fmtps);
}


static int
kraken_sdp_end_media(kraken_sdp_media_t *m, kraken_sdp_fmtps_t *fmtps)
{
    int  i;

    if (m != NULL && m->opus_pt >= 0) {
        for (i = 0; i < fmtps->n; i++) {
            if (fmtps->fmtp[i].pt == m->opus_pt) {
                if (kraken_sdp_copy(m->opus_fmtp, sizeof(m->opus_fmtp),
                                    fmtps->fmtp[i].text.p,
                                    fmtps->fmtp[i].text.len)
                    != 0)
                {
                    return -1;
                }

                break;
            }
        }
    }

    fmtps->n = 0;

    return 0;
}


/* What an m-line does not say it takes from the session level. */

static void
kraken_sdp_inherit(kraken_sdp_t *sdp, int session_dir)
{
    int                  i;
    kraken_sdp_media_t  *m;

    for (i = 0; i < sdp->nmedia; i++) {
        m = &sdp->media[i];

        if (m->direction < 0) {
            m->direction = session_dir;
        }

        if (sdp->ice_ufrag[0] == '\0' && m->ice_ufrag[0]) {
            memcpy(sdp->ice_ufrag, m->ice_ufrag, sizeof(sdp->ice_ufrag));
        }

        if (sdp->ice_pwd[0] == '\0' && m->ice_pwd[0]) {
            memcpy(sdp->ice_pwd, m->ice_pwd, sizeof(sdp->ice_pwd));
        }

        if (sdp->fingerprint.len == 0 && m->fingerprint.len) {
            sdp->fingerprint = m->fingerprint;
        }

        if (sdp->setup == KRAKEN_SDP_SETUP_NONE && m->setup) {
            sdp->setup = m->setup;
        }
    }
}


int
kraken_sdp_parse(kraken_sdp_t *sdp, const char *text, size_t len,
    char *err, size_t errlen)
{
    int                  line, best, session_dir, seen;
    const char          *p, *end, *eol;
    kraken_sdp_str_t     l, v;
    kraken_sdp_media_t  *m;
    kraken_sdp_fmtps_t   fmtps;

    memset(sdp, 0, offsetof(kraken_sdp_t, media));
    sdp->nmedia = 0;

    if (len > KRAKEN_SDP_MAX_LEN) {
        return kraken_sdp_fail(err, errlen, "sdp larger than %d bytes",
                               KRAKEN_SDP_MAX_LEN);
    }

    p = text;
    end = text + len;
    m = NULL;
    best = -1;
    session_dir = KRAKEN_SDP_SENDRECV;
    fmtps.n = 0;
    seen = 0;

    for (line = 1; p < end; line++) {
        eol = memchr(p, '\n', end - p);
        if (eol == NULL) {
            eol = end;
        }

        l.p = p;
        l.len = eol - p;
        p = eol + (eol < end);

        if (l.len && l.p[l.len - 1] == '\r') {
            l.len--;
        }

        if (l.len == 0) {
            continue;
        }

        if (!seen++ && !(l.len == 3 && strncmp(l.p, "v=0", 3) == 0)) {
            return kraken_sdp_fail(err, errlen, "line %d is not v=0", line);
        }

        if (l.len < 2 || l.p[1] != '=') {
            return kraken_sdp_fail(err, errlen, "malformed line %d", line);
        }

        v.p = l.p + 2;
        v.len = l.len - 2;

        if (l.p[0] == 'm') {
            if (kraken_sdp_end_media(m, &fmtps) != 0) {
                return kraken_sdp_fail(err, errlen,
                                       "over-long fmtp before line %d", line);
            }

            if (sdp->nmedia == KRAKEN_SDP_MAX_MEDIA) {
                return kraken_sdp_fail(err, errlen,
                                       "more than %d m-lines",
                                       KRAKEN_SDP_MAX_MEDIA);
            }

            m = &sdp->media[sdp->nmedia++];
            memset(m, 0, sizeof(kraken_sdp_media_t));
            best = -1;

            if (kraken_sdp_mline(m, &v) != 0) {
                return kraken_sdp_fail(err, errlen,
                                       "malformed m-line at line %d", line);
            }

            continue;
        }

        if (l.p[0] != 'a') {
            continue;
        }

        if (kraken_sdp_attr(sdp, m, &v, &best, &session_dir, &fmtps) != 0)
        {
            return kraken_sdp_fail(err, errlen,
                                   "malformed attribute at line %d", line);
        }
    }

    if (!seen) {
        return kraken_sdp_fail(err, errlen, "empty sdp%.0d", 0);
    }

    if (kraken_sdp_end_media(m, &fmtps) != 0) {
        return kraken_sdp_fail(err, errlen, "over-long fmtp at line %d",
                               line);
    }

    kraken_sdp_inherit(sdp, session_dir);

    return 0;
}


static const char *
kraken_sdp_direction(int d)
{
    switch (d) {
    case KRAKEN_SDP_SENDONLY:
        return "sendonly";
    case KRAKEN_SDP_RECVONLY:
        return "recvonly";
    case KRAKEN_SDP_INACTIVE:
        return "inactive";
    default:
        return "sendrecv";
    }
}


typedef struct {
    char    *p;
    size_t   left;
    int      overflow;
} kraken_sdp_out_t;


static void
kraken_sdp_printf(kraken_sdp_out_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
kraken_sdp_printf(kraken_sdp_out_t *o, const char *fmt, ...)
{
    int      n;
    va_list  ap;

    if (o->overflow) {
        return;
    }

    va_start(ap, fmt);
    n = vsnprintf(o->p, o->left, fmt, ap);
    va_end(ap);

    if (n < 0 || (size_t) n >= o->left) {
        o->overflow = 1;
        return;
    }

    o->p += n;
    o->left -= n;
}


size_t
kraken_sdp_write(const kraken_sdp_desc_t *d, char *buf, size_t cap)
{
    int                            i;
    const char                    *ipv;
    kraken_sdp_out_t               o;
    const kraken_sdp_out_media_t  *m;

    if (cap == 0) {
        return 0;
    }

    o.p = buf;
    o.left = cap;
    o.overflow = 0;

    ipv = strchr(d->cand_ip, ':') ? "IP6" : "IP4";

    kraken_sdp_printf(&o, "v=0\r\no=- %llu %llu IN IP4 0.0.0.0\r\ns=-\r\n"
                      "t=0 0\r\na=ice-lite\r\na=group:BUNDLE",
                      (unsigned long long) d->session_id,
                      (unsigned long long) d->session_version);

    for (i = 0; i < d->nmedia; i++) {
        if (!d->media[i].rejected) {
            kraken_sdp_printf(&o, " %s", d->media[i].mid);
        }
    }

    kraken_sdp_printf(&o, "\r\na=msid-semantic: WMS *\r\n");

    for (i = 0; i < d->nmedia; i++) {
        m = &d->media[i];

        if (m->rejected) {
            kraken_sdp_printf(&o, "m=%s 0 %s %s\r\nc=IN IP4 0.0.0.0\r\n"
                              "a=mid:%s\r\na=inactive\r\n",
                              m->media, m->proto, m->fmts, m->mid);
            continue;
        }

        kraken_sdp_printf(&o, "m=audio %u UDP/TLS/RTP/SAVPF %d\r\n"
                          "c=IN %s %s\r\n"
                          "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n"
                          "a=fingerprint:%s\r\na=setup:%s\r\n"
                          "a=mid:%s\r\na=%s\r\na=rtcp-mux\r\n"
                          "a=rtpmap:%d opus/48000/%d\r\n",
                          (unsigned) d->cand_port, m->pt, ipv, d->cand_ip,
                          d->ice_ufrag, d->ice_pwd, d->fingerprint,
                          d->setup, m->mid,
                          kraken_sdp_direction(m->direction), m->pt,
                          m->channels ? m->channels : 2);

        if (m->fmtp && m->fmtp[0]) {
            kraken_sdp_printf(&o, "a=fmtp:%d %s\r\n", m->pt, m->fmtp);
        }

        if (m->ssrc) {
            kraken_sdp_printf(&o, "a=msid:%s %s\r\n"
                              "a=ssrc:%u cname:%s\r\n"
                              "a=ssrc:%u msid:%s %s\r\n",
                              m->msid_stream, m->msid_track,
                              m->ssrc, m->cname ? m->cname : "kraken",
                              m->ssrc, m->msid_stream, m->msid_track);
        }

        kraken_sdp_printf(&o, "a=candidate:1 1 udp 2130706431 %s %u typ host"
                          "\r\na=end-of-candidates\r\n",
                          d->cand_ip, (unsigned) d->cand_port);
    }

    if (o.overflow) {
        return 0;
    }

    return cap - o.left;
}


int
kraken_sdp_format_fingerprint(const char *alg, const uint8_t *digest,
    size_t len, char *buf, size_t cap)
{
    size_t  i, n;

    n = strlen(alg);

    if (len == 0 || cap < n + 1 + len * 3) {
        return -1;
    }

    memcpy(buf, alg, n);
    buf[n++] = ' ';

    for (i = 0; i < len; i++) {
        snprintf(buf + n, 4, "%02X%s", digest[i], i + 1 < len ? ":" : "");
        n += (i + 1 < len) ? 3 : 2;
    }

    buf[n] = '\0';

    return 0;
}


int
kraken_sdp_check_candidate(const char *cand, size_t len)
{
    int               i;
    long              n;
    size_t            k;
    kraken_sdp_str_t  s, w;

    s.p = cand;
    s.len = len;

    if (s.len >= 2 && strncmp(s.p, "a=", 2) == 0) {
        s.p += 2;
        s.len -= 2;
    }

    if (s.len < 10 || strncmp(s.p, "candidate:", 10) != 0) {
        return -1;
    }

    s.p += 10;
    s.len -= 10;

    for (i = 0; i < 8; i++) {
        if (kraken_sdp_word(&s, &w) != 0) {
            return -1;
        }

        switch (i) {

        case 0:                         /* foundation */
            if (w.len > 32) {
                return -1;
            }
            break;

        case 1:                         /* component */
            if (kraken_sdp_number(w.p, w.len, 256, &n) != 0 || n == 0) {
                return -1;
            }
            break;

        case 2:
            if (!(w.len == 3 && (strncasecmp(w.p, "udp", 3) == 0
                                 || strncasecmp(w.p, "tcp", 3) == 0)))
            {
                return -1;
            }
            break;

        case 3:                         /* priority */
            if (kraken_sdp_number(w.p, w.len, 4294967295L, &n) != 0) {
                return -1;
            }
            break;

        case 4:                         /* address or mDNS name */
            if (w.len > 255) {
                return -1;
            }

            for (k = 0; k < w.len; k++) {
                if (!isalnum((unsigned char) w.p[k]) && w.p[k] != '.'
                    && w.p[k] != ':' && w.p[k] != '-' && w.p[k] != '%')
                {
                    return -1;
                }
            }
            break;

        case 5:
            if (kraken_sdp_number(w.p, w.len, 65535, &n) != 0) {
                return -1;
            }
            break;

        case 6:
            if (!(w.len == 3 && strncmp(w.p, "typ", 3) == 0)) {
                return -1;
            }
            break;

        default:
            if (!((w.len == 4 && strncmp(w.p, "host", 4) == 0)
                  || (w.len == 5 && (strncmp(w.p, "srflx", 5) == 0
                                     || strncmp(w.p, "prflx", 5) == 0
                                     || strncmp(w.p, "relay", 5) == 0))))
            {
                return -1;
            }
        }
    }

    return 0;
}
