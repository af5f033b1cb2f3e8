/*
 * The engine of one worker: creation, the RFC 7983 demultiplexing of
 * every datagram, the timer loop and the figures. The parts it drives,
 * and the services below them all (kraken_out.c, kraken_log.c,
 * kraken_random.c), are listed in kraken_engine_int.h.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "kraken_engine_int.h"


void
kraken_engine_flush(kraken_engine_t *e)
{
    kraken_out_flush(e);
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


