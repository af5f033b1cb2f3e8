/*
 * loadgen: the little SDP a simulated peer needs. It reads the server's
 * answers and offers (transport, candidate, m-lines) and writes our offer
 * and the answers that mirror a server offer m-line by m-line.
 */

#define _GNU_SOURCE

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

#include "lg.h"


static void lg_sdp_token(char *dst, size_t cap, const char *src);
static int lg_sdp_fingerprint(lg_sdp_t *sdp, const char *v);
static void lg_sdp_candidate(lg_sdp_t *sdp, const char *v);
static int lg_sdp_media(lg_sdp_media_t *m, const char *v);
static const char *lg_sdp_dir_name(int dir);
static int lg_sdp_reverse(int dir);


int
lg_sdp_parse(lg_sdp_t *sdp, const char *text)
{
    char             line[1024];
    size_t           n;
    const char      *p, *e, *v;
    lg_sdp_media_t  *m;

    memset(sdp, 0, offsetof(lg_sdp_t, media));
    m = NULL;

    for (p = text; *p; p = *e ? e + 1 : e) {
        e = strchr(p, '\n');
        if (e == NULL) {
            e = p + strlen(p);
        }

        n = (size_t) (e - p);
        if (n && p[n - 1] == '\r') {
            n--;
        }

        if (n >= sizeof(line)) {
            n = sizeof(line) - 1;
        }

        memcpy(line, p, n);
        line[n] = '\0';

        if (strncmp(line, "m=", 2) == 0) {
            if (sdp->nmedia == LG_MAX_MEDIA) {
                return -1;
            }

            m = &sdp->media[sdp->nmedia++];
            memset(m, 0, sizeof(*m));
            m->opus_pt = -1;

            if (lg_sdp_media(m, line + 2) != 0) {
                return -1;
            }

            continue;
        }

        if (strncmp(line, "a=", 2) != 0) {
            continue;
        }

        v = line + 2;

        /* session-level values, else those of the first m-line */

        if (strncmp(v, "ice-ufrag:", 10) == 0) {
            if (m == NULL || sdp->ufrag[0] == '\0') {
                lg_sdp_token(sdp->ufrag, sizeof(sdp->ufrag), v + 10);
            }

        } else if (strncmp(v, "ice-pwd:", 8) == 0) {
            if (m == NULL || sdp->pwd[0] == '\0') {
                lg_sdp_token(sdp->pwd, sizeof(sdp->pwd), v + 8);
            }

        } else if (strncmp(v, "fingerprint:", 12) == 0) {
            if ((m == NULL || sdp->fp_len == 0)
                && lg_sdp_fingerprint(sdp, v + 12) != 0)
            {
                return -1;
            }

        } else if (strncmp(v, "setup:", 6) == 0) {
            if (m == NULL || sdp->setup == LG_SETUP_NONE) {
                if (strncmp(v + 6, "actpass", 7) == 0) {
                    sdp->setup = LG_SETUP_ACTPASS;
                } else if (strncmp(v + 6, "active", 6) == 0) {
                    sdp->setup = LG_SETUP_ACTIVE;
                } else if (strncmp(v + 6, "passive", 7) == 0) {
                    sdp->setup = LG_SETUP_PASSIVE;
                }
            }

        } else if (strncmp(v, "candidate:", 10) == 0) {
            lg_sdp_candidate(sdp, v + 10);

        } else if (m == NULL) {
            continue;

        } else if (strncmp(v, "mid:", 4) == 0) {
            lg_sdp_token(m->mid, sizeof(m->mid), v + 4);

        } else if (strcmp(v, "sendrecv") == 0) {
            m->dir = LG_DIR_SENDRECV;

        } else if (strcmp(v, "sendonly") == 0) {
            m->dir = LG_DIR_SENDONLY;

        } else if (strcmp(v, "recvonly") == 0) {
            m->dir = LG_DIR_RECVONLY;

        } else if (strcmp(v, "inactive") == 0) {
            m->dir = LG_DIR_INACTIVE;

        } else if (strncmp(v, "rtpmap:", 7) == 0) {
            if (m->opus_pt < 0 && strcasestr(v, " opus/48000") != NULL) {
                m->opus_pt = atoi(v + 7);
            }

        } else if (strncmp(v, "ssrc:", 5) == 0) {
            if (m->ssrc == 0) {
                m->ssrc = (uint32_t) strtoul(v + 5, NULL, 10);
            }

        } else if (strncmp(v, "msid:", 5) == 0) {
            lg_sdp_token(m->msid, sizeof(m->msid), v + 5);
        }
    }

    if (sdp->nmedia == 0 || sdp->ufrag[0] == '\0' || sdp->pwd[0] == '\0'
        || sdp->fp_len == 0)
    {
        return -1;
    }

    return 0;
}


static void
lg_sdp_token(char *dst, size_t cap, const char *src)
{
    size_t  n;

    for (n = 0; src[n] && !isspace((unsigned char) src[n]); n++) {
        /* void */
    }

    if (n >= cap) {
        n = cap - 1;
    }

    memcpy(dst, src, n);
    dst[n] = '\0';
}


static int
lg_sdp_fingerprint(lg_sdp_t *sdp, const char *v)
{
    size_t        i, n;
    unsigned int  b;
    const char   *p;

    p = strchr(v, ' ');
    if (p == NULL || (size_t) (p - v) >= sizeof(sdp->fp_alg)) {
        return -1;
    }

    for (i = 0; v + i < p; i++) {
        sdp->fp_alg[i] = (char) tolower((unsigned char) v[i]);
    }
    sdp->fp_alg[i] = '\0';

    n = 0;
    p++;

    while (*p && n < sizeof(sdp->fp)) {
        if (sscanf(p, "%2x", &b) != 1) {
            return -1;
        }

        sdp->fp[n++] = (uint8_t) b;
        p += 2;

        if (*p != ':') {
            break;
        }
        p++;
    }

    sdp->fp_len = n;

    return n ? 0 : -1;
}


static void
lg_sdp_candidate(lg_sdp_t *sdp, const char *v)
{
    int             port;
    char            found[64], transport[16], addr[64], typ[16];
    unsigned int    comp;
    unsigned long   prio;
    struct in_addr  in;

    if (sdp->has_cand) {
        return;
    }

    if (sscanf(v, "%63s %u %15s %lu %63s %d %15s", found, &comp, transport,
               &prio, addr, &port, typ) != 7)
    {
        return;
    }

    if (comp != 1 || strcasecmp(transport, "udp") != 0
        || inet_pton(AF_INET, addr, &in) != 1 || port <= 0 || port > 65535)
    {
        return;
    }

    memset(&sdp->cand, 0, sizeof(sdp->cand));
    sdp->cand.sin_family = AF_INET;
    sdp->cand.sin_addr = in;
    sdp->cand.sin_port = htons((uint16_t) port);
    sdp->has_cand = 1;
}


static int
lg_sdp_media(lg_sdp_media_t *m, const char *v)
{
    int  port, n;

    n = 0;

    if (sscanf(v, "%15s %d %63s %n", m->media, &port, m->proto, &n) < 3
        || n == 0)
    {
        return -1;
    }

    m->port = (uint16_t) port;
    snprintf(m->fmts, sizeof(m->fmts), "%s", v + n);

    return 0;
}


/*
 * Our offer: one audio m-line with Opus, BUNDLE, rtcp-mux, our host
 * candidate, actpass. Kraken gets sendrecv, a Janus publisher sendonly.
 */

size_t
lg_sdp_offer(lg_t *lg, lg_conn_t *c, int dir, char *buf, size_t cap)
{
    int   n;
    char  ip[INET_ADDRSTRLEN];

    inet_ntop(AF_INET, &c->local.sin_addr, ip, sizeof(ip));

    n = snprintf(buf, cap,
        "v=0\r\n"
        "o=- %u 2 IN IP4 127.0.0.1\r\n"
        "s=-\r\n"
        "t=0 0\r\n"
        "a=group:BUNDLE 0\r\n"
        "a=msid-semantic: WMS lg%d\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF %d\r\n"
        "c=IN IP4 0.0.0.0\r\n"
        "a=rtcp:9 IN IP4 0.0.0.0\r\n"
        "a=candidate:1 1 udp 2130706431 %s %u typ host\r\n"
        "a=end-of-candidates\r\n"
        "a=ice-ufrag:%s\r\n"
        "a=ice-pwd:%s\r\n"
        "a=fingerprint:%s\r\n"
        "a=setup:actpass\r\n"
        "a=mid:0\r\n"
        "a=%s\r\n"
        "a=msid:lg%d lg%d-audio\r\n"
        "a=rtcp-mux\r\n"
        "a=rtpmap:%d opus/48000/2\r\n"
        "a=fmtp:%d minptime=10;useinbandfec=1\r\n"
        "a=ssrc:%u cname:lg%d\r\n"
        "a=ssrc:%u msid:lg%d lg%d-audio\r\n",
        (unsigned) c->ssrc, c->part->idx,
        LG_OPUS_PT,
        ip, (unsigned) ntohs(c->local.sin_port),
        c->ufrag, c->pwd, lg->fingerprint,
        lg_sdp_dir_name(dir),
        c->part->idx, c->part->idx,
        LG_OPUS_PT, LG_OPUS_PT,
        (unsigned) c->ssrc, c->part->idx,
        (unsigned) c->ssrc, c->part->idx, c->part->idx);

    return (n > 0 && (size_t) n < cap) ? (size_t) n : 0;
}


/*
 * The answer to a server offer: every m-line mirrored in order with the
 * same mid, the reverse direction, Opus at the offered payload type;
 * m-lines we cannot take (no Opus, not audio, port 0) are rejected.
 */

size_t
lg_sdp_answer(lg_t *lg, lg_conn_t *c, const lg_sdp_t *offer, char *buf,
    size_t cap)
{
    int                    i, dir, send;
    char                  *p, *end;
    const lg_sdp_media_t  *m;

    p = buf;
    end = buf + cap;

#define LG_PUT(...)                                                          \
    do {                                                                     \
        int  n_ = snprintf(p, (size_t) (end - p), __VA_ARGS__);              \
        if (n_ < 0 || n_ >= end - p) {                                       \
            return 0;                                                        \
        }                                                                    \
        p += n_;                                                             \
    } while (0)

    LG_PUT("v=0\r\no=- %u %u IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
           (unsigned) c->ssrc, (unsigned) ++c->part->sdp_version + 2);
    LG_PUT("a=group:BUNDLE");

    for (i = 0; i < offer->nmedia; i++) {
        m = &offer->media[i];
        if (m->port != 0 && m->opus_pt >= 0
            && strcmp(m->media, "audio") == 0)
        {
            LG_PUT(" %s", m->mid);
        }
    }

    LG_PUT("\r\na=msid-semantic: WMS lg%d\r\n", c->part->idx);

    for (i = 0; i < offer->nmedia; i++) {
        m = &offer->media[i];

        if (m->port == 0 || m->opus_pt < 0
            || strcmp(m->media, "audio") != 0)
        {
            LG_PUT("m=%s 0 %s %s\r\nc=IN IP4 0.0.0.0\r\n", m->media,
                   m->proto, m->fmts);
            if (m->mid[0]) {
                LG_PUT("a=mid:%s\r\n", m->mid);
            }
            continue;
        }

        dir = lg_sdp_reverse(m->dir);

        /* we only send on an m-line where we send anyway */
        send = c->talking
               && (dir == LG_DIR_SENDRECV || dir == LG_DIR_SENDONLY);
        if (!c->talking && dir == LG_DIR_SENDRECV) {
            dir = LG_DIR_RECVONLY;
        }
        if (!c->talking && dir == LG_DIR_SENDONLY) {
            dir = LG_DIR_INACTIVE;
        }

        LG_PUT("m=audio 9 UDP/TLS/RTP/SAVPF %d\r\n"
               "c=IN IP4 0.0.0.0\r\n"
               "a=rtcp:9 IN IP4 0.0.0.0\r\n"
               "a=ice-ufrag:%s\r\n"
               "a=ice-pwd:%s\r\n"
               "a=fingerprint:%s\r\n"
               "a=setup:%s\r\n"
               "a=mid:%s\r\n"
               "a=%s\r\n"
               "a=rtcp-mux\r\n"
               "a=rtpmap:%d opus/48000/2\r\n",
               m->opus_pt, c->ufrag, c->pwd, lg->fingerprint,
               c->dtls_server ? "passive" : "active",
               m->mid, lg_sdp_dir_name(dir), m->opus_pt);

        if (send) {
            LG_PUT("a=msid:lg%d lg%d-audio\r\n"
                   "a=ssrc:%u cname:lg%d\r\n",
                   c->part->idx, c->part->idx,
                   (unsigned) c->ssrc, c->part->idx);
        }
    }

#undef LG_PUT

    return (size_t) (p - buf);
}


static const char *
lg_sdp_dir_name(int dir)
{
    switch (dir) {
    case LG_DIR_SENDONLY:
        return "sendonly";
    case LG_DIR_RECVONLY:
        return "recvonly";
    case LG_DIR_INACTIVE:
        return "inactive";
    default:
        return "sendrecv";
    }
}


static int
lg_sdp_reverse(int dir)
{
    switch (dir) {
    case LG_DIR_SENDONLY:
        return LG_DIR_RECVONLY;
    case LG_DIR_RECVONLY:
        return LG_DIR_SENDONLY;
    default:
        return dir;
    }
}
