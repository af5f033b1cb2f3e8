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
    if ((code >= KRAKEN_ERR_HTTP_CLIENT + 400
         && code <= KRAKEN_ERR_HTTP_CLIENT + 499)
        || (code >= KRAKEN_ERR_HTTP_SERVER + 500
            && code <= KRAKEN_ERR_HTTP_SERVER + 599))
    {
        return code % 1000;
    }

    if (code >= KRAKEN_ERR_SERVER_NEW_PEER
        && code <= KRAKEN_ERR_SERVER_TIMEOUT)
    {
        return 500;
    }

    return 202;
}


int
kraken_error_http(int status)
{
    if (status >= 400 && status <= 499) {
        return KRAKEN_ERR_HTTP_CLIENT + status;
    }

    if (status >= 500 && status <= 599) {
        return KRAKEN_ERR_HTTP_SERVER + status;
    }

    return 0;
}


const char *
kraken_error_http_description(int status)
{
    switch (status) {
    case 400:
        return "bad request";
    case 403:
        return "forbidden";
    case 404:
        return "not found";
    case 405:
        return "method not allowed";
    case 408:
        return "request timeout";
    case 411:
        return "length required";
    case 413:
        return "request body too large";
    case 414:
        return "request uri too large";
    case 429:
        return "too many requests, slow down and retry";
    case 500:
        return "internal server error";
    case 501:
        return "not implemented";
    case 502:
        return "bad gateway, no engine could be reached";
    case 503:
        return "service unavailable, retry";
    case 504:
        return "gateway timeout, the engine did not answer in time";
    }

    if (status >= 400 && status <= 499) {
        return "request refused";
    }

    if (status >= 500 && status <= 599) {
        return "server error";
    }

    return NULL;
}
