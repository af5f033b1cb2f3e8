/*
 * ICE-lite connectivity checks on libnice's STUN library.
 */

#include <string.h>

#include <stun/usages/ice.h>

#include "kraken_stun.h"


typedef struct {
    kraken_stun_t  *st;
    void           *peer;
    int             known;
} kraken_stun_validation_t;


static const uint16_t  kraken_stun_known_attrs[] = {
    STUN_ATTRIBUTE_USERNAME,
    STUN_ATTRIBUTE_MESSAGE_INTEGRITY,
    STUN_ATTRIBUTE_FINGERPRINT,
    STUN_ATTRIBUTE_PRIORITY,
    STUN_ATTRIBUTE_USE_CANDIDATE,
    STUN_ATTRIBUTE_ICE_CONTROLLED,
    STUN_ATTRIBUTE_ICE_CONTROLLING,
    0
};


void
kraken_stun_init(kraken_stun_t *st, kraken_stun_lookup_pt lookup,
    void *data)
{
    stun_agent_init(&st->agent, kraken_stun_known_attrs,
                    STUN_COMPATIBILITY_RFC5389,
                    STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS
                    | STUN_AGENT_USAGE_USE_FINGERPRINT);
    st->lookup = lookup;
    st->data = data;
}


int
kraken_stun_is(const uint8_t *buf, size_t len)
{
    if (len < 20 || buf[0] > 3) {
        return 0;
    }

    return stun_message_validate_buffer_length(buf, len, 1) == (int) len;
}


static bool
kraken_stun_validater(StunAgent *agent, StunMessage *message,
    uint8_t *username, uint16_t username_len, uint8_t **password,
    size_t *password_len, void *user_data)
{
    kraken_stun_validation_t *v = user_data;

    uint8_t     *colon;
    const char  *pwd;

    colon = memchr(username, ':', username_len);
    if (colon == NULL) {
        return 0;
    }

    v->peer = v->st->lookup(v->st->data, (const char *) username,
                            colon - username, (const char *) colon + 1,
                            username_len - (colon - username) - 1, &pwd);
    if (v->peer == NULL) {
        return 0;
    }

    v->known = 1;

    /* the peer owns pwd until after the reply is built */
    *password = (uint8_t *) pwd;
    *password_len = strlen(pwd);

    return 1;
}


int
kraken_stun_process(kraken_stun_t *st, const uint8_t *buf, size_t len,
    const struct sockaddr *from, socklen_t fromlen, uint8_t *out,
    size_t *outlen, void **peer, int *use_candidate)
{
    bool                      control;
    size_t                    cap;
    StunMessage               req, msg;
    StunValidationStatus      status;
    StunUsageIceReturn        rc;
    struct sockaddr_storage   src;
    kraken_stun_validation_t  v;

    v.st = st;
    v.peer = NULL;
    v.known = 0;

    status = stun_agent_validate(&st->agent, &req, buf, len,
                                 kraken_stun_validater, &v);

    switch (status) {

    case STUN_VALIDATION_SUCCESS:
        break;

    case STUN_VALIDATION_UNAUTHORIZED:
        return v.known ? KRAKEN_STUN_UNAUTHORIZED : KRAKEN_STUN_UNKNOWN;

    case STUN_VALIDATION_UNMATCHED_RESPONSE:
        return KRAKEN_STUN_IGNORE;

    default:
        return KRAKEN_STUN_BAD;
    }

    if (stun_message_get_class(&req) != STUN_REQUEST
        || stun_message_get_method(&req) != STUN_BINDING)
    {
        return KRAKEN_STUN_IGNORE;
    }

    if (fromlen > sizeof(src)) {
        return KRAKEN_STUN_BAD;
    }

    memset(&src, 0, sizeof(src));
    memcpy(&src, from, fromlen);

    /* ICE-lite: always the controlled agent, whatever the peer claims */
    control = 0;
    cap = *outlen;

    rc = stun_usage_ice_conncheck_create_reply(
             &st->agent, &req, &msg, out, &cap, &src, fromlen, &control, 0,
             STUN_USAGE_ICE_COMPATIBILITY_RFC5245);

    if (rc != STUN_USAGE_ICE_RETURN_SUCCESS || cap == 0) {
        return KRAKEN_STUN_BAD;
    }

    *outlen = cap;
    *peer = v.peer;
    *use_candidate = stun_usage_ice_conncheck_use_candidate(&req);

    return KRAKEN_STUN_REPLY;
}
