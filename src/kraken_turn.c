/*
 * coturn REST API credentials, as Kraken computes them.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "kraken_turn.h"


int
kraken_turn_credentials(const char *url, const char *secret,
    const char *uid, time_t now, cJSON *servers)
{
    int            i;
    char          *user, *urls;
    size_t         len;
    cJSON         *o;
    unsigned int   maclen;
    unsigned char  mac[EVP_MAX_MD_SIZE];
    char           credential[EVP_MAX_MD_SIZE * 2];
    static const char  *transports[] = { "udp", "tcp" };

    if (url == NULL || url[0] == '\0') {
        return 0;
    }

    len = strlen(uid) + 32;
    user = malloc(len);
    urls = malloc(strlen(url) + 32);

    if (user == NULL || urls == NULL) {
        free(user);
        free(urls);
        return -1;
    }

    snprintf(user, len, "%lld:%s", (long long) now + 3600, uid);

    if (HMAC(EVP_sha1(), secret ? secret : "",
             secret ? (int) strlen(secret) : 0, (unsigned char *) user,
             strlen(user), mac, &maclen)
        == NULL)
    {
        free(user);
        free(urls);
        return -1;
    }

    EVP_EncodeBlock((unsigned char *) credential, mac, (int) maclen);

    for (i = 0; i < 2; i++) {
        snprintf(urls, strlen(url) + 32, "%s?transport=%s", url,
                 transports[i]);

        o = cJSON_CreateObject();
        if (o == NULL
            || cJSON_AddStringToObject(o, "urls", urls) == NULL
            || cJSON_AddStringToObject(o, "username", user) == NULL
            || cJSON_AddStringToObject(o, "credential", credential) == NULL)
        {
            cJSON_Delete(o);
            free(user);
            free(urls);
            return -1;
        }

        cJSON_AddItemToArray(servers, o);
    }

    free(user);
    free(urls);

    return 0;
}
