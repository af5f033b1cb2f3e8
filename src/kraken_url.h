/*
 * The callback urls an operator allows (kraken_callback_allow) and a
 * client's callback url, parsed alike and compared part by part: never
 * as raw strings, so that "https://app.example@evil.example/" or
 * "https://app.example/kraken/../admin" is not "under" a prefix.
 */

#ifndef KRAKEN_URL_H
#define KRAKEN_URL_H

#include <stddef.h>
#include <stdint.h>

#define KRAKEN_URL_MAX   2048
#define KRAKEN_HOST_MAX  253

typedef struct {
    char      host[KRAKEN_HOST_MAX + 1];   /* lowercase; IPv6 unbracketed */
    int       ipv6;
    uint16_t  port;                        /* 443 unless given */
    char      path[KRAKEN_URL_MAX + 1];    /* "/" at least, no query */
    size_t    path_len;
} kraken_url_t;


/*
 * An absolute https url: "https://" host [":" port] [path] ["?" query],
 * printable ASCII only; no user info, no fragment, no backslash, no dot
 * segment and no percent-encoded dot, slash or backslash in the path;
 * nor what a server behind the prefix might turn into one: no ";" or
 * "%3b" (path parameters), no "%25" (a second decoding) and no "%" but
 * before two hex digits.
 * Returns 0, or -1 with a reason in err.
 */
int kraken_url_parse(const char *url, size_t len, kraken_url_t *u,
    char *err, size_t errlen);

/*
 * Is u under prefix: the same host (exactly, case aside) and port, and
 * a path that is prefix's path, or continues it after a '/'? 1 or 0.
 */
int kraken_url_under(const kraken_url_t *u, const kraken_url_t *prefix);

#endif /* KRAKEN_URL_H */
