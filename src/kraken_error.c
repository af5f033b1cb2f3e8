/*
 * Kraken's error codes and their HTTP-ish status.
 */

#include <stdarg.h>
#include <stdio.h>

#include "kraken_error.h"


int
kraken_error_set(kraken_error_t *err, int code, const char *fmt, ...)
{
    va_list  ap;

    if (err != NULL) {
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->description, sizeof(err->description), fmt, ap);
        va_end(ap);
    }

    return code;
}


int
kraken_error_status(int code)
{
    if (code >= KRAKEN_ERR_SERVER_NEW_PEER
        && code <= KRAKEN_ERR_SERVER_TIMEOUT)
    {
        return 500;
    }

    return 202;
}
