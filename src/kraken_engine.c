/*
 * The engine of one worker: creation, randomness, the output batch, the
 * RFC 7983 demultiplexing of every datagram, the timer loop and the
 * figures. The parts it drives are listed in kraken_engine_int.h.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "kraken_engine_int.h"


void
kraken_log(kraken_engine_t *e, const char *fmt, ...)
{
    char     msg[512];
    va_list  ap;

    if (e->conf.log == NULL) {
        return;
    }

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    e->conf.log(e->conf.log_data, msg);
}


/*
 * Randomness: ICE passwords, tracks and SSRCs are secrets or must not be
 * guessable, so a failing source fails the call that needed it.
 */

int
kraken_random(kraken_engine_t *e, void *buf, size_t len)
{
    if (e->conf.random) {
        return e->conf.random(e->conf.random_data, buf, len);
    }

    return RAND_bytes(buf, (int) len) == 1 ? 0 : -1;
}


int
kraken_random_token(kraken_engine_t *e, char *buf, size_t len)
{
    static const char  alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "abcdefghijklmnopqrstuvwxyz0123456789";
    size_t    i, n;
    uint8_t   r[128];

    /* rejection sampling keeps the 62 symbols equally likely */
    n = sizeof(r);

    for (i = 0; i < len; /* void */) {
        if (n == sizeof(r)) {
            if (kraken_random(e, r, sizeof(r)) != 0) {
                return -1;
            }

            n = 0;
        }

        if (r[n] < 248) {
            buf[i++] = alphabet[r[n] % 62];
        }

        n++;
    }

    buf[len] = '\0';

    return 0;
}


int
kraken_random32(kraken_engine_t *e, uint32_t *v)
{
    if (kraken_random(e, v, sizeof(uint32_t)) != 0) {
        return -1;
    }

    if (*v == 0) {
        *v = 1;
    }

    return 0;
}


/*
 * A track id in the shape of a UUID: a track is a capability, so all of
 * its 128 bits are random; a public id is a version 4 UUID.
 */

int
kraken_track(kraken_engine_t *e, char out[37], int uuid)
{
    uint8_t  b[16];

    if (kraken_random(e, b, sizeof(b)) != 0) {
        return -1;
    }

    if (uuid) {
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
    }

    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
             b[10], b[11], b[12], b[13], b[14], b[15]);

    return 0;
}


kraken_datagram_t *
kraken_out_next(kraken_engine_t *e)
{
    if (e->nout == KRAKEN_OUT_BATCH) {
        kraken_engine_flush(e);
    }

    return &e->out[e->nout];
}


void
kraken_out_commit(kraken_engine_t *e, kraken_peer_t *p,
    kraken_datagram_t *dg, size_t len)
{
    memcpy(&dg->addr, &p->path.sa, p->path.len);
    dg->addrlen = p->path.len;
    dg->len = len;
    e->nout++;
}


void
kraken_engine_flush(kraken_engine_t *e)
{
    if (e->nout) {
        e->conf.send(e->conf.send_data, e->out, e->nout);
        e->nout = 0;
    }
}


kraken_engine_t *
kraken_engine_create(const kraken_engine_conf_t *conf, char *err,
    size_t errlen)
{
    uint8_t           probe[16];
    kraken_engine_t  *e;

    if (kraken_srtp_init() != 0) {
        snprintf(err, errlen, "libsrtp initialisation failed");
        return NULL;
    }

    e = calloc(1, sizeof(kraken_engine_t));
    if (e == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    e->conf = *conf;
    snprintf(e->announce_ip, sizeof(e->announce_ip), "%s", conf->announce_ip);
    e->conf.announce_ip = e->announce_ip;

    if (e->conf.max_peer_streams == 0
        || e->conf.max_peer_streams > KRAKEN_PEER_STREAMS_MAX)
    {
        e->conf.max_peer_streams = KRAKEN_PEER_STREAMS_MAX;
    }

    if (kraken_random(e, probe, sizeof(probe)) != 0) {
        snprintf(err, errlen, "the random source failed");
        free(e);
        return NULL;
    }

    e->sdp = malloc(sizeof(kraken_sdp_t));
    if (e->sdp == NULL) {
        snprintf(err, errlen, "out of memory");
        free(e);
        return NULL;
    }

    e->dtls = kraken_dtls_ctx_create(err, errlen);
    if (e->dtls == NULL) {
        free(e->sdp);
        free(e);
        return NULL;
    }

    kraken_stun_init(&e->stun, kraken_stun_lookup, e);

    return e;
}


void
kraken_engine_free(kraken_engine_t *e)
{
    kraken_room_t  *r;
    kraken_peer_t  *p;

    if (e == NULL) {
        return;
    }

    while (e->all_rooms) {
        r = e->all_rooms;
        e->all_rooms = r->all_next;

        while (r->peers) {
            p = r->peers;
            r->peers = p->room_next;
            kraken_peer_close(p, 0, NULL);
            kraken_peer_free(p);
        }

        free(r);
    }

    kraken_dtls_ctx_free(e->dtls);
    free(e->sdp);
    free(e);
}


int
kraken_engine_input(kraken_engine_t *e, const struct sockaddr *from,
    socklen_t fromlen, uint8_t *buf, size_t len, uint64_t now_ms)
{
    unsigned        tag;
    kraken_addr_t  *a;

    if (len == 0 || fromlen > sizeof(struct sockaddr_storage)) {
        e->counters.malformed++;
        return KRAKEN_INPUT_OK;
    }

    /* nothing larger can be forwarded, or answered */
    if (len > KRAKEN_DATAGRAM_MAX) {
        e->counters.oversize++;
        return KRAKEN_INPUT_OK;
    }

    /* RFC 7983 */
    if (buf[0] <= 3) {
        if (!kraken_stun_is(buf, len)) {
            e->counters.malformed++;
            return KRAKEN_INPUT_OK;
        }

        /* an indication has no USERNAME: it is for whoever has the path */
        if (e->conf.ufrag_tag) {
            tag = kraken_engine_stun_tag(buf, len);

            if (tag != 0 && tag != e->conf.ufrag_tag) {
                return KRAKEN_INPUT_FOREIGN;
            }
        }

        kraken_input_stun(e, from, fromlen, buf, len, now_ms);
        return KRAKEN_INPUT_OK;
    }

    if (!((buf[0] >= 20 && buf[0] <= 63) || (buf[0] >= 128 && buf[0] <= 191)))
    {
        e->counters.malformed++;
        return KRAKEN_INPUT_OK;
    }

    /* beyond STUN only addresses that passed a check are heard */
    a = kraken_addr_find(e, from);
    if (a == NULL) {
        if (e->conf.ufrag_tag) {
            return KRAKEN_INPUT_FOREIGN;
        }

        e->counters.unknown_source++;
        return KRAKEN_INPUT_OK;
    }

    if (buf[0] <= 63) {
        kraken_input_dtls(e, a, buf, len, now_ms);

    } else {
        kraken_input_srtp(e, a, buf, len, now_ms);
    }

    return KRAKEN_INPUT_OK;
}


void
kraken_engine_drop(kraken_engine_t *e, const uint8_t *buf, size_t len)
{
    if (len && buf[0] <= 3) {
        e->counters.stun_bad++;

    } else {
        e->counters.unknown_source++;
    }
}


/*
 * The tag is two letters 'a'..'p' at the start of the USERNAME, our own
 * ufrag: the eBPF steering program reads it the same way.
 */

unsigned
kraken_engine_stun_tag(const uint8_t *buf, size_t len)
{
    size_t    off, end, alen;
    unsigned  type, hi, lo;

    if (len < 20) {
        return 0;
    }

    end = 20 + (((size_t) buf[2] << 8) | buf[3]);
    if (end > len) {
        end = len;
    }

    for (off = 20; off + 4 <= end; off += 4 + ((alen + 3) & ~(size_t) 3)) {
        type = ((unsigned) buf[off] << 8) | buf[off + 1];
        alen = ((size_t) buf[off + 2] << 8) | buf[off + 3];

        if (type != 0x0006) {
            continue;
        }

        if (alen < 2 || off + 4 + 2 > end) {
            return 0;
        }

        hi = buf[off + 4];
        lo = buf[off + 5];

        if (hi < 'a' || hi > 'p' || lo < 'a' || lo > 'p') {
            return 0;
        }

        return (hi - 'a') * 16 + (lo - 'a');
    }

    return 0;
}


/* A new local ufrag: random, after this engine's tag if it has one. */

int
kraken_ufrag_new(kraken_engine_t *e, char *buf)
{
    if (kraken_random_token(e, buf, KRAKEN_UFRAG_SIZE) != 0) {
        return -1;
    }

    if (e->conf.ufrag_tag) {
        buf[0] = (char) ('a' + e->conf.ufrag_tag / 16);
        buf[1] = (char) ('a' + e->conf.ufrag_tag % 16);
    }

    return 0;
}


uint64_t
kraken_engine_timer(kraken_engine_t *e, uint64_t now)
{
    int              trim;
    uint64_t         next, wait;
    kraken_room_t   *r, *rn;
    kraken_peer_t   *p, **pp;

    wait = 100;
    trim = 0;

    for (r = e->all_rooms; r; r = rn) {
        rn = r->all_next;

        for (pp = &r->peers; *pp; /* void */) {
            p = *pp;

            if (p->closed) {
                if (now - p->closed_at >= e->conf.closed_peer_time) {
                    *pp = p->room_next;
                    kraken_peer_free(p);
                    e->freed = 1;
                    continue;
                }

                pp = &p->room_next;
                continue;
            }

            pp = &p->room_next;

            next = kraken_peer_timer(e, p, now, &trim);
            if (next < wait) {
                wait = next;
            }
        }

        if (r->peers == NULL) {
            kraken_room_free(e, r);
        }
    }

#ifdef __GLIBC__
    /*
     * Handshake state is the bulk of a new peer: give it back at once.
     * What departed peers leave free is given back too, at most every
     * KRAKEN_TRIM_INTERVAL: glibc keeps freed memory in its arenas.
     */
    if (trim
        || (e->freed && now - e->trimmed_at >= KRAKEN_TRIM_INTERVAL))
    {
        malloc_trim(0);
        e->freed = 0;
        e->trimmed_at = now;
    }
#endif

    return wait;
}


int
kraken_engine_shutdown(kraken_engine_t *e, uint64_t now)
{
    int             n;
    kraken_room_t  *r;
    kraken_peer_t  *p;

    n = 0;

    for (r = e->all_rooms; r; r = r->all_next) {

        for (p = r->peers; p; p = p->room_next) {

            if (p->closed) {
                continue;
            }

            n += kraken_peer_bye(p);

            kraken_peer_close(p, now, "the worker exits");
        }
    }

    kraken_engine_flush(e);

    return n;
}


void
kraken_engine_stats(kraken_engine_t *e, kraken_engine_stats_t *st)
{
    int             active;
    kraken_room_t  *r;
    kraken_peer_t  *p;

    memset(st, 0, sizeof(kraken_engine_stats_t));

    for (r = e->all_rooms; r; r = r->all_next) {
        active = 0;

        for (p = r->peers; p; p = p->room_next) {
            if (p->closed) {
                st->closed_peers++;

            } else {
                st->active_peers++;
                st->connected_peers += (p->srtp != NULL);
                active = 1;
            }
        }

        if (active) {
            st->active_rooms++;

        } else {
            st->closed_rooms++;
        }
    }

    st->counters = e->counters;
}


void
kraken_engine_histogram_add(kraken_engine_histogram_t *h, uint64_t ms)
{
    int                    i;
    static const uint64_t  bounds[KRAKEN_DTLS_NBOUNDS] = KRAKEN_DTLS_BOUNDS;

    for (i = 0; i < KRAKEN_DTLS_NBOUNDS && ms > bounds[i]; i++) {
        /* void */
    }

    h->bucket[i]++;
    h->count++;
    h->sum += ms;
}
