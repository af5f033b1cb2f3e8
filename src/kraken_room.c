/*
 * Rooms and the engine's indexes: rooms by id, peers by ICE ufrag (for
 * STUN) and by transport address (for everything after STUN), and
 * Kraken's lookup of a peer by room, uid and track.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include <openssl/crypto.h>

#include "kraken_engine_int.h"


uint32_t
kraken_hash(const void *data, size_t len)
{
    uint32_t        h;
    const uint8_t  *p;

    h = 2166136261u;

    for (p = data; len; len--, p++) {
        h = (h ^ *p) * 16777619u;
    }

    return h;
}


static uint32_t
kraken_addr_hash(const struct sockaddr *sa)
{
    const struct sockaddr_in   *sin;
    const struct sockaddr_in6  *sin6;

    if (sa->sa_family == AF_INET6) {
        sin6 = (const struct sockaddr_in6 *) sa;
        return kraken_hash(&sin6->sin6_addr, 16) ^ sin6->sin6_port;
    }

    sin = (const struct sockaddr_in *) sa;
    return kraken_hash(&sin->sin_addr, 4) ^ sin->sin_port;
}


int
kraken_addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
    const struct sockaddr_in   *a4, *b4;
    const struct sockaddr_in6  *a6, *b6;

    if (a->sa_family != b->sa_family) {
        return 0;
    }

    if (a->sa_family == AF_INET6) {
        a6 = (const struct sockaddr_in6 *) a;
        b6 = (const struct sockaddr_in6 *) b;
        return a6->sin6_port == b6->sin6_port
               && memcmp(&a6->sin6_addr, &b6->sin6_addr, 16) == 0;
    }

    a4 = (const struct sockaddr_in *) a;
    b4 = (const struct sockaddr_in *) b;
    return a4->sin_port == b4->sin_port
           && a4->sin_addr.s_addr == b4->sin_addr.s_addr;
}


/* The address as bytes, one spelling each: family, port, address. */

size_t
kraken_addr_key(const struct sockaddr *sa, uint8_t key[KRAKEN_DTLS_FROM_MAX])
{
    const struct sockaddr_in   *sin;
    const struct sockaddr_in6  *sin6;

    key[0] = (uint8_t) sa->sa_family;

    if (sa->sa_family == AF_INET6) {
        sin6 = (const struct sockaddr_in6 *) sa;
        memcpy(key + 1, &sin6->sin6_port, 2);
        memcpy(key + 3, &sin6->sin6_addr, 16);
        return 19;
    }

    sin = (const struct sockaddr_in *) sa;
    memcpy(key + 1, &sin->sin_port, 2);
    memcpy(key + 3, &sin->sin_addr, 4);

    return 7;
}


kraken_addr_t *
kraken_addr_find(kraken_engine_t *e, const struct sockaddr *sa)
{
    kraken_addr_t  *a;

    a = e->by_addr[kraken_addr_hash(sa) % KRAKEN_ADDR_BUCKETS];

    for ( /* void */ ; a; a = a->next) {
        if (kraken_addr_equal((struct sockaddr *) &a->sa, sa)) {
            return a;
        }
    }

    return NULL;
}


/* takes a out of its hash chain, and tells nobody */

static void
kraken_addr_chain_remove(kraken_engine_t *e, kraken_addr_t *a)
{
    kraken_addr_t  **pp;

    pp = &e->by_addr[kraken_addr_hash((struct sockaddr *) &a->sa)
                     % KRAKEN_ADDR_BUCKETS];

    for ( /* void */ ; *pp; pp = &(*pp)->next) {
        if (*pp == a) {
            *pp = a->next;
            break;
        }
    }
}


static void
kraken_addr_chain_insert(kraken_engine_t *e, kraken_addr_t *a)
{
    uint32_t  h;

    h = kraken_addr_hash((struct sockaddr *) &a->sa) % KRAKEN_ADDR_BUCKETS;
    a->next = e->by_addr[h];
    e->by_addr[h] = a;
}


void
kraken_addr_unlink(kraken_engine_t *e, kraken_addr_t *a)
{
    if (!a->linked) {
        return;
    }

    kraken_addr_chain_remove(e, a);

    a->linked = 0;
    a->proven = 0;

    if (e->conf.addr_event) {
        (void) e->conf.addr_event(e->conf.addr_event_data,
                                  (struct sockaddr *) &a->sa, a->len,
                                  KRAKEN_ADDR_FORGOTTEN);
    }
}


/*
 * Puts sa into p's path or probe entry. An address belongs to one entry:
 * a probe gives way to a newer check, a path only to its own peer's
 * promotion, so that a replayed check cannot take another peer's path.
 * A STUN check admitted sa: it is announced as CHECKED, not proven.
 * Returns 0, -1 when sa is another peer's path, or -2 when the caller
 * refused it (another engine's peer has it): then a is not linked.
 */

int
kraken_addr_link(kraken_peer_t *p, kraken_addr_t *a,
    const struct sockaddr *sa, socklen_t len)
{
    kraken_addr_t    *other;
    kraken_engine_t  *e;

    e = p->engine;

    other = kraken_addr_find(e, sa);

    if (other == a) {
        return 0;
    }

    if (other) {
        if (other == &other->peer->path && other->peer != p) {
            return -1;
        }

        kraken_addr_unlink(e, other);
    }

    kraken_addr_unlink(e, a);

    memcpy(&a->sa, sa, len);
    a->len = len;
    a->peer = p;
    a->linked = 1;
    a->proven = 0;
    a->dtls_credit = 0;

    if (e->conf.addr_event
        && e->conf.addr_event(e->conf.addr_event_data, sa, len,
                              KRAKEN_ADDR_CHECKED)
           != 0)
    {
        a->linked = 0;
        return -2;
    }

    kraken_addr_chain_insert(e, a);

    return 0;
}


/*
 * The probe is the path now: the old path is forgotten, the probe's
 * address moves over without being forgotten in between, so that the
 * caller's claim on it is never let go (another engine could take it).
 */

void
kraken_addr_promote(kraken_peer_t *p)
{
    kraken_engine_t  *e;

    e = p->engine;

    if (!p->probe.linked) {
        return;
    }

    kraken_addr_unlink(e, &p->path);
    kraken_addr_chain_remove(e, &p->probe);

    memcpy(&p->path.sa, &p->probe.sa, p->probe.len);
    p->path.len = p->probe.len;
    p->path.peer = p;
    p->path.linked = 1;
    p->path.proven = p->probe.proven;
    p->path.dtls_credit = p->probe.dtls_credit;

    p->probe.linked = 0;
    p->probe.proven = 0;
    p->probe.dtls_credit = 0;

    kraken_addr_chain_insert(e, &p->path);

    e->counters.path_switches++;
}


/*
 * The peer's keys proved that a's address is the peer's: announced once,
 * so that the caller can let it win over a mere claim of another engine.
 */

void
kraken_addr_prove(kraken_engine_t *e, kraken_addr_t *a)
{
    if (!a->linked || a->proven) {
        return;
    }

    a->proven = 1;

    if (e->conf.addr_event) {
        (void) e->conf.addr_event(e->conf.addr_event_data,
                                  (struct sockaddr *) &a->sa, a->len,
                                  KRAKEN_ADDR_PROVEN);
    }
}


void
kraken_ufrag_link(kraken_peer_t *p)
{
    uint32_t  h;

    h = kraken_hash(p->ufrag, strlen(p->ufrag)) % KRAKEN_UFRAG_BUCKETS;
    p->ufrag_next = p->engine->by_ufrag[h];
    p->engine->by_ufrag[h] = p;
}


void
kraken_ufrag_unlink(kraken_peer_t *p)
{
    kraken_peer_t  **pp;

    pp = &p->engine->by_ufrag[kraken_hash(p->ufrag, strlen(p->ufrag))
                              % KRAKEN_UFRAG_BUCKETS];

    for ( /* void */ ; *pp; pp = &(*pp)->ufrag_next) {
        if (*pp == p) {
            *pp = p->ufrag_next;
            break;
        }
    }
}


void *
kraken_stun_lookup(void *data, const char *local, size_t local_len,
    const char *remote, size_t remote_len, const char **pwd)
{
    kraken_engine_t *e = data;

    kraken_peer_t  *p;

    p = e->by_ufrag[kraken_hash(local, local_len) % KRAKEN_UFRAG_BUCKETS];

    for ( /* void */ ; p; p = p->ufrag_next) {
        if (strlen(p->ufrag) == local_len
            && memcmp(p->ufrag, local, local_len) == 0)
        {
            if (strlen(p->remote_ufrag) != remote_len
                || memcmp(p->remote_ufrag, remote, remote_len) != 0)
            {
                return NULL;
            }

            *pwd = p->pwd;
            return p;
        }
    }

    return NULL;
}


kraken_room_t *
kraken_room_find(kraken_engine_t *e, const char *id)
{
    kraken_room_t  *r;

    r = e->rooms[kraken_hash(id, strlen(id)) % KRAKEN_ROOM_BUCKETS];

    for ( /* void */ ; r; r = r->next) {
        if (strcmp(r->id, id) == 0) {
            return r;
        }
    }

    return NULL;
}


kraken_room_t *
kraken_room_get(kraken_engine_t *e, const char *id)
{
    uint32_t        h;
    kraken_room_t  *r;

    r = kraken_room_find(e, id);
    if (r) {
        return r;
    }

    r = calloc(1, sizeof(kraken_room_t));
    if (r == NULL) {
        return NULL;
    }

    e->nrooms++;

    snprintf(r->id, sizeof(r->id), "%s", id);

    h = kraken_hash(id, strlen(id)) % KRAKEN_ROOM_BUCKETS;
    r->next = e->rooms[h];
    e->rooms[h] = r;

    r->all_next = e->all_rooms;
    if (e->all_rooms) {
        e->all_rooms->all_prev = r;
    }
    e->all_rooms = r;

    if (e->conf.room_event) {
        e->conf.room_event(e->conf.room_event_data, r->id, 1);
    }

    return r;
}


void
kraken_room_free(kraken_engine_t *e, kraken_room_t *r)
{
    kraken_room_t  **pp;

    e->nrooms--;

    if (e->conf.room_event) {
        e->conf.room_event(e->conf.room_event_data, r->id, 0);
    }

    pp = &e->rooms[kraken_hash(r->id, strlen(r->id)) % KRAKEN_ROOM_BUCKETS];

    for ( /* void */ ; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }

    if (r->all_prev) {
        r->all_prev->all_next = r->all_next;

    } else {
        e->all_rooms = r->all_next;
    }

    if (r->all_next) {
        r->all_next->all_prev = r->all_prev;
    }

    free(r);
}


kraken_peer_t *
kraken_room_peer(kraken_room_t *r, const char *uid)
{
    kraken_peer_t  *p;

    for (p = r->peers; p; p = p->room_next) {
        if (strcmp(p->uid, uid) == 0) {
            return p;
        }
    }

    return NULL;
}


void
kraken_room_unlink(kraken_room_t *r, kraken_peer_t *p)
{
    kraken_peer_t  **pp;

    for (pp = &r->peers; *pp; pp = &(*pp)->room_next) {
        if (*pp == p) {
            *pp = p->room_next;
            return;
        }
    }
}


kraken_peer_t *
kraken_lookup(kraken_engine_t *e, const char *rid, const char *uid,
    const char *cid, kraken_error_t *err)
{
    kraken_room_t  *r;
    kraken_peer_t  *p;

    r = kraken_room_find(e, rid);
    p = r ? kraken_room_peer(r, uid) : NULL;

    if (p == NULL) {
        kraken_error_set(err, KRAKEN_ERR_PEER_NOT_FOUND,
                         "peer %s not found in %s", uid, rid);
        return NULL;
    }

    if (p->closed) {
        kraken_error_set(err, KRAKEN_ERR_PEER_CLOSED,
                         "peer %s closed in %s", uid, rid);
        return NULL;
    }

    /* the track is a secret: compared in constant time, never told */
    if (strlen(cid) != sizeof(p->cid) - 1
        || CRYPTO_memcmp(p->cid, cid, sizeof(p->cid) - 1) != 0)
    {
        kraken_error_set(err, KRAKEN_ERR_TRACK_NOT_FOUND,
                         "peer %s track not match in %s", uid, rid);
        return NULL;
    }

    return p;
}


int
kraken_engine_lookup(kraken_engine_t *e, const char *rid, const char *uid,
    const char *cid, kraken_error_t *err)
{
    return kraken_lookup(e, rid, uid, cid, err) ? KRAKEN_OK : err->code;
}


int
kraken_engine_list(kraken_engine_t *e, const char *rid, cJSON *peers)
{
    cJSON          *o;
    kraken_room_t  *r;
    kraken_peer_t  *p;

    r = kraken_room_find(e, rid);
    if (r == NULL) {
        return 0;
    }

    for (p = r->peers; p; p = p->room_next) {
        if (p->closed) {
            continue;
        }

        o = cJSON_CreateObject();
        if (o == NULL
            || cJSON_AddStringToObject(o, "id", p->uid) == NULL
            || cJSON_AddStringToObject(o, "track", p->pub_id) == NULL)
        {
            cJSON_Delete(o);
            return -1;
        }

        cJSON_AddItemToArray(peers, o);
    }

    return 0;
}


void
kraken_engine_rooms(kraken_engine_t *e,
    void (*fn)(void *data, const char *rid), void *data)
{
    kraken_room_t  *r;

    for (r = e->all_rooms; r; r = r->all_next) {
        fn(data, r->id);
    }
}
