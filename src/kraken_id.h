/*
 * Kraken's id rule: at most 256 bytes, and unchanged by a URL query
 * unescape then escape (Go's url.QueryUnescape / url.QueryEscape).
 */

#ifndef KRAKEN_ID_H
#define KRAKEN_ID_H

#include <stddef.h>

#define KRAKEN_ID_MAX  256

/* Returns 0 if valid, -1 with a reason in err. */
int kraken_id_check(const char *id, size_t len, char *err, size_t errlen);

#endif /* KRAKEN_ID_H */
