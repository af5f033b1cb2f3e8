/*
 * Callback urls, parsed for comparison against the operator's prefixes
 * (RFC 3986's generic syntax, narrowed to what a callback needs).
 */

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kraken_url.h"


static int
kraken_url_fail(char *err, size_t errlen, const char *why)
{
    snprintf(err, errlen, "%s", why);
    return -1;
}


static int
kraken_url_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}


/* %2e, %2f, %5c in any case: a dot, a slash, a backslash in disguise */

static int
kraken_url_disguised(const char *p, const char *end)
{
    int  a, b;

    if (end - p < 3 || p[0] != '%') {
        return 0;
    }

    a = p[1];
    b = kraken_url_lower(p[2]);

    return (a == '2' && (b == 'e' || b == 'f')) || (a == '5' && b == 'c');
}


static int
kraken_url_hex(int c)
{
    c = kraken_url_lower(c);

    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}


/*
 * What a server behind the prefix may read as a path parameter or as a
 * second round of decoding: ";" (Tomcat, Jetty and Spring drop "..;"
 * down to ".."), "%3b", "%25" ("%252e" is "%2e" once decoded, a dot
 * twice), and a "%" not followed by two hex digits ("%%32e" is "%2e"
 * to a lenient decoder).
 */

static const char *
kraken_url_ambiguous(const char *p, const char *end)
{
    if (*p == ';') {
        return "a semicolon in the path";
    }

    if (*p != '%') {
        return NULL;
    }

    if (end - p < 3 || !kraken_url_hex(p[1]) || !kraken_url_hex(p[2])) {
        return "a malformed percent-encoding in the path";
    }

    if (p[1] == '2' && p[2] == '5') {
        return "an encoded percent sign in the path";
    }

    if (p[1] == '3' && kraken_url_lower(p[2]) == 'b') {
        return "a semicolon in the path";
    }

    return NULL;
}


static int
kraken_url_host(const char *p, const char *end, kraken_url_t *u,
    char *err, size_t errlen)
{
    size_t          n;
    const char     *q;
    struct in6_addr a6;

    if (p < end && *p == '[') {
        q = memchr(p, ']', (size_t) (end - p));
        if (q == NULL) {
            return kraken_url_fail(err, errlen, "unclosed IPv6 literal");
        }

        n = (size_t) (q - p - 1);
        if (n == 0 || n > 45) {
            return kraken_url_fail(err, errlen, "bad IPv6 literal");
        }

        memcpy(u->host, p + 1, n);
        u->host[n] = '\0';

        if (inet_pton(AF_INET6, u->host, &a6) != 1) {
            return kraken_url_fail(err, errlen, "bad IPv6 literal");
        }

        /* one spelling of each address */
        inet_ntop(AF_INET6, &a6, u->host, sizeof(u->host));
        u->ipv6 = 1;
        p = q + 1;

    } else {
        for (q = p; q < end && *q != ':'; q++) {
            if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z')
                  || (*q >= '0' && *q <= '9') || *q == '-' || *q == '.')
                || (*q == '.' && (q == p || q[-1] == '.')))
            {
                return kraken_url_fail(err, errlen, "bad host");
            }
        }

        n = (size_t) (q - p);
        if (n == 0 || n > KRAKEN_HOST_MAX || q[-1] == '.') {
            return kraken_url_fail(err, errlen, "bad host");
        }

        for (n = 0; p < q; p++) {
            u->host[n++] = (char) kraken_url_lower(*p);
        }

        u->host[n] = '\0';
    }

    u->port = 443;

    if (p == end) {
        return 0;
    }

    if (*p != ':' || ++p == end || end - p > 5) {
        return kraken_url_fail(err, errlen, "bad port");
    }

    for (n = 0; p < end; p++) {
        if (*p < '0' || *p > '9') {
            return kraken_url_fail(err, errlen, "bad port");
        }

        n = n * 10 + (size_t) (*p - '0');
    }

    if (n == 0 || n > 65535) {
        return kraken_url_fail(err, errlen, "bad port");
    }

    u->port = (uint16_t) n;

    return 0;
}


int
kraken_url_parse(const char *url, size_t len, kraken_url_t *u, char *err,
    size_t errlen)
{
    size_t       i;
    const char  *p, *end, *auth, *path, *seg, *s, *why;

    memset(u, 0, sizeof(kraken_url_t));

    if (len > KRAKEN_URL_MAX) {
        return kraken_url_fail(err, errlen, "too long");
    }

    for (i = 0; i < len; i++) {
        if (url[i] <= 0x20 || url[i] >= 0x7f) {
            return kraken_url_fail(err, errlen,
                                   "not printable ASCII, or a space");
        }

        if (url[i] == '\\' || url[i] == '#') {
            return kraken_url_fail(err, errlen, "a backslash or a fragment");
        }
    }

    if (len < 8 || strncasecmp(url, "https://", 8) != 0) {
        return kraken_url_fail(err, errlen, "not https");
    }

    end = url + len;
    auth = url + 8;

    for (p = auth; p < end && *p != '/' && *p != '?'; p++) {
        if (*p == '@') {
            return kraken_url_fail(err, errlen, "user info");
        }
    }

    if (kraken_url_host(auth, p, u, err, errlen) != 0) {
        return -1;
    }

    path = p;

    while (p < end && *p != '?') {
        p++;
    }

    if (path == p) {
        u->path[0] = '/';
        u->path_len = 1;
        return 0;
    }

    if (*path != '/') {
        return kraken_url_fail(err, errlen, "bad path");
    }

    /* each segment: no "." or "..", nothing in disguise */
    for (seg = path + 1; seg <= p; seg++) {
        s = seg;

        while (seg < p && *seg != '/') {
            if (kraken_url_disguised(seg, p)) {
                return kraken_url_fail(err, errlen,
                                       "an encoded dot or slash in the path");
            }

            why = kraken_url_ambiguous(seg, p);
            if (why) {
                return kraken_url_fail(err, errlen, why);
            }

            seg++;
        }

        if ((seg - s == 1 && s[0] == '.')
            || (seg - s == 2 && s[0] == '.' && s[1] == '.'))
        {
            return kraken_url_fail(err, errlen, "a dot segment in the path");
        }
    }

    u->path_len = (size_t) (p - path);
    memcpy(u->path, path, u->path_len);
    u->path[u->path_len] = '\0';

    return 0;
}


int
kraken_url_under(const kraken_url_t *u, const kraken_url_t *prefix)
{
    size_t  n;

    if (u->ipv6 != prefix->ipv6 || u->port != prefix->port
        || strcmp(u->host, prefix->host) != 0)
    {
        return 0;
    }

    n = prefix->path_len;

    if (u->path_len < n || memcmp(u->path, prefix->path, n) != 0) {
        return 0;
    }

    return u->path_len == n || prefix->path[n - 1] == '/'
           || u->path[n] == '/';
}
