/*
 * Kraken's id rule, as Go's url.QueryUnescape then url.QueryEscape.
 */

#include <stdio.h>

#include "kraken_id.h"


static int
kraken_id_hex(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


static int
kraken_id_unreserved(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'
           || c == '~';
}


int
kraken_id_check(const char *id, size_t len, char *err, size_t errlen)
{
    int     hi, lo, c;
    size_t  i;

    if (len > KRAKEN_ID_MAX) {
        snprintf(err, errlen, "id too long, the maximum is %d",
                 KRAKEN_ID_MAX);
        return -1;
    }

    for (i = 0; i < len; i++) {
        c = (unsigned char) id[i];

        if (kraken_id_unreserved(c) || c == '+') {
            continue;
        }

        if (c != '%') {
            snprintf(err, errlen, "byte 0x%02x at %zu must be escaped",
                     c, i);
            return -1;
        }

        if (i + 2 >= len) {
            snprintf(err, errlen, "invalid URL escape at %zu", i);
            return -1;
        }

        hi = kraken_id_hex((unsigned char) id[i + 1]);
        lo = kraken_id_hex((unsigned char) id[i + 2]);

        if (hi < 0 || lo < 0) {
            snprintf(err, errlen, "invalid URL escape at %zu", i);
            return -1;
        }

        c = hi << 4 | lo;

        /* escaping again must give the same text: upper-case hex only */
        if ((id[i + 1] >= 'a' && id[i + 1] <= 'f')
            || (id[i + 2] >= 'a' && id[i + 2] <= 'f')
            || kraken_id_unreserved(c) || c == ' ')
        {
            snprintf(err, errlen, "escape at %zu does not round-trip", i);
            return -1;
        }

        i += 2;
    }

    return 0;
}
