/*
 * The engine's randomness and the identifiers made from it: ICE
 * credentials, tracks, public ids and SSRCs.
 */

#include <stdio.h>

#include <openssl/rand.h>

#include "kraken_engine_int.h"


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
