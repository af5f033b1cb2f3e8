/*
 * coturn REST API credentials, as Kraken computes them.
 */

#ifndef KRAKEN_TURN_H
#define KRAKEN_TURN_H

#include <time.h>

#include <cJSON.h>

/*
 * Appends to servers the two entries {urls, username, credential} for
 * url?transport=udp and url?transport=tcp, username "<now+3600>:<uid>",
 * credential base64(HMAC-SHA1(secret, username)). Nothing when url is
 * NULL or empty. Returns 0 or -1.
 */
int kraken_turn_credentials(const char *url, const char *secret,
    const char *uid, time_t now, cJSON *servers);

#endif /* KRAKEN_TURN_H */
