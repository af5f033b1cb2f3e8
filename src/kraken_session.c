/*
 * A peer's session: one slot per m-line (its own audio, rejected media,
 * and one per other publisher it receives), the offer/answer states of
 * those slots, our SDP, and Kraken's signaling methods on top of them.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kraken_engine_int.h"


#if (KRAKEN_PEER_STREAMS_MAX + 1 > KRAKEN_SDP_MAX_MEDIA)
#error "a session could not hold KRAKEN_PEER_STREAMS_MAX streams"
#endif


static kraken_slot_t *
kraken_slot_add(kraken_peer_t *p)
{
    int             cap;
    kraken_slot_t  *s;

    if (p->nslots == p->slots_cap) {
        if (p->nslots >= KRAKEN_SDP_MAX_MEDIA) {
            return NULL;
        }

        cap = p->slots_cap ? p->slots_cap * 2 : 4;
        if (cap > KRAKEN_SDP_MAX_MEDIA) {
            cap = KRAKEN_SDP_MAX_MEDIA;
        }

        s = realloc(p->slots, cap * sizeof(kraken_slot_t));
        if (s == NULL) {
            return NULL;
        }

        p->slots = s;
        p->slots_cap = cap;
    }

    s = &p->slots[p->nslots++];
    memset(s, 0, sizeof(kraken_slot_t));

    return s;
}


static int
kraken_mid_used(kraken_peer_t *p, const char *mid)
{
    int  i;

    for (i = 0; i < p->nslots; i++) {
        if (strcmp(p->slots[i].mid, mid) == 0) {
            return 1;
        }
    }

    return 0;
}


static char *
kraken_peer_sdp(kraken_peer_t *p, int offer)
{
    int                      i, n;
    char                    *buf;
    size_t                   cap, len;
    kraken_slot_t           *s;
    kraken_peer_t           *pub;
    kraken_sdp_desc_t        d;
    kraken_sdp_out_media_t  *m, *media;

    media = calloc(p->nslots, sizeof(kraken_sdp_out_media_t));
    if (media == NULL) {
        return NULL;
    }

    n = 0;

    for (i = 0; i < p->nslots; i++) {
        s = &p->slots[i];
        m = &media[n++];

        m->mid = s->mid;
        m->media = "audio";
        m->pt = p->pt;
        m->channels = p->channels;
        m->fmtp = p->fmtp;
        m->cname = "ngx_kraken";

        switch (s->kind) {

        case KRAKEN_SLOT_OWN:
            m->direction = s->direction;
            break;

        case KRAKEN_SLOT_REJECTED:
            m->rejected = 1;
            m->media = s->echo.media;
            m->proto = s->echo.proto;
            m->fmts = s->echo.fmts;
            break;

        default: /* KRAKEN_SLOT_SEND */
            pub = s->pub;

            if ((s->state == KRAKEN_SEND_ADDING
                 || s->state == KRAKEN_SEND_ACTIVE)
                && pub != NULL)
            {
                m->direction = KRAKEN_SDP_SENDONLY;
                m->ssrc = s->ssrc;
                m->msid_stream = s->pub_uid;
                m->msid_track = s->pub_id;

            } else {
                m->direction = KRAKEN_SDP_INACTIVE;
            }
        }
    }

    memset(&d, 0, sizeof(d));
    d.session_id = p->session_id;
    d.session_version = ++p->session_version;
    d.ice_ufrag = p->ufrag;
    d.ice_pwd = p->pwd;
    d.fingerprint = kraken_dtls_ctx_fingerprint(p->engine->dtls);
    d.setup = offer ? "actpass" : "passive";
    d.cand_ip = p->engine->conf.announce_ip;
    d.cand_port = p->engine->conf.port;
    d.nmedia = n;
    d.media = media;

    /* an m-line takes at most about 1.1 KB: two msids of 256-byte uids */
    cap = 2048 + (size_t) n * 1536;
    buf = malloc(cap);

    if (buf) {
        len = kraken_sdp_write(&d, buf, cap);
        if (len == 0) {
            free(buf);
            buf = NULL;
        }
    }

    free(media);

    return buf;
}


static int
kraken_offer_check(kraken_sdp_t *sdp, kraken_error_t *err)
{
    if (sdp->ice_ufrag[0] == '\0' || sdp->ice_pwd[0] == '\0') {
        return kraken_error_set(err, KRAKEN_ERR_INVALID_SDP,
                                "no ice-ufrag or ice-pwd");
    }

    if (sdp->fingerprint.len == 0) {
        return kraken_error_set(err, KRAKEN_ERR_INVALID_SDP,
                                "no fingerprint");
    }

    if (sdp->setup == KRAKEN_SDP_SETUP_PASSIVE) {
        /* we are the DTLS server: the offerer must be able to connect */
        return kraken_error_set(err, KRAKEN_ERR_INVALID_SDP,
                                "setup passive is not supported");
    }

    return KRAKEN_OK;
}


static int
kraken_peer_slots_from_offer(kraken_peer_t *p, kraken_sdp_t *sdp,
    kraken_error_t *err)
{
    int                  i, own;
    long                 mid;
    char                *end;
    kraken_slot_t       *s;
    kraken_sdp_media_t  *m;

    own = -1;
    p->next_mid = 0;

    for (i = 0; i < sdp->nmedia; i++) {
        m = &sdp->media[i];

        if (m->mid[0] == '\0' || strlen(m->mid) >= KRAKEN_MID_SIZE) {
            return kraken_error_set(err, KRAKEN_ERR_INVALID_SDP,
                                    "m-line %d without a usable mid", i);
        }

        if (kraken_mid_used(p, m->mid)) {
            return kraken_error_set(err, KRAKEN_ERR_INVALID_SDP,
                                    "duplicate mid %s", m->mid);
        }

        /* numeric mids are ours to continue: they must stay small */
        mid = strtol(m->mid, &end, 10);
        if (*end == '\0' && (mid < 0 || mid > KRAKEN_MID_MAX)) {
            return kraken_error_set(err, KRAKEN_ERR_INVALID_SDP,
                                    "mid %.32s out of range", m->mid);
        }

        if (*end == '\0' && mid >= p->next_mid) {
            p->next_mid = (int) mid + 1;
        }

        s = kraken_slot_add(p);
        if (s == NULL) {
            return kraken_error_set(err, KRAKEN_ERR_SERVER_CREATE_ANSWER,
                                    "too many m-lines");
        }

        snprintf(s->mid, sizeof(s->mid), "%s", m->mid);

        if (own == -1 && m->kind == KRAKEN_SDP_AUDIO && m->opus_pt >= 0
            && m->port != 0)
        {
            own = i;
            s->kind = KRAKEN_SLOT_OWN;
            s->direction = (m->direction == KRAKEN_SDP_SENDRECV
                            || m->direction == KRAKEN_SDP_SENDONLY)
                           ? KRAKEN_SDP_RECVONLY : KRAKEN_SDP_INACTIVE;
            p->pt = m->opus_pt;
            p->channels = m->opus_channels ? m->opus_channels : 2;
            snprintf(p->fmtp, sizeof(p->fmtp), "%s", m->opus_fmtp);

            if (m->ssrc) {
                /* the source it declared may always send */
                p->pins[0].ssrc = m->ssrc;
                p->npins = 1;
            }
            continue;
        }

        s->kind = KRAKEN_SLOT_REJECTED;
        s->echo.media = kraken_strdup(m->media);
        s->echo.proto = kraken_strdup(m->proto);
        s->echo.fmts = kraken_strdup(m->fmts);

        if (s->echo.media == NULL || s->echo.proto == NULL
            || s->echo.fmts == NULL)
        {
            return kraken_error_set(err, KRAKEN_ERR_SERVER_CREATE_ANSWER,
                                    "out of memory");
        }
    }

    if (own == -1) {
        return kraken_error_set(err, KRAKEN_ERR_INVALID_SDP,
                                "no audio m-line offering opus");
    }

    return KRAKEN_OK;
}


/* The m-lines of a peer's session that carry no other publisher. */

static unsigned
kraken_session_base(kraken_peer_t *p)
{
    int       i;
    unsigned  n;

    n = 0;

    for (i = 0; i < p->nslots; i++) {
        if (p->slots[i].kind != KRAKEN_SLOT_SEND) {
            n++;
        }
    }

    return n;
}


/*
 * Whether a room of n + 1 live peers can deliver everyone to everyone:
 * each receives n streams, at most max_peer_streams, and each session,
 * its own and rejected m-lines included, fits the m-lines an answer may
 * have. nmedia: the newcomer's own m-lines; old: the peer it replaces.
 */

static int
kraken_publish_deliverable(kraken_engine_t *e, kraken_room_t *r, unsigned n,
    int nmedia, kraken_peer_t *old, kraken_error_t *err)
{
    kraken_peer_t  *q;

    if (n > e->conf.max_peer_streams) {
        return kraken_error_set(err, KRAKEN_ERR_ROOM_FULL,
                                "room full: %u peers, a participant "
                                "receives at most %u streams", n,
                                e->conf.max_peer_streams);
    }

    if ((unsigned) nmedia + n > KRAKEN_SDP_MAX_MEDIA) {
        return kraken_error_set(err, KRAKEN_ERR_ROOM_FULL,
                                "room full: %u peers, and the offer's %d "
                                "m-lines leave room for fewer", n, nmedia);
    }

    for (q = r ? r->peers : NULL; q; q = q->room_next) {
        if (q == old || q->closed) {
            continue;
        }

        if (kraken_session_base(q) + n > KRAKEN_SDP_MAX_MEDIA) {
            return kraken_error_set(err, KRAKEN_ERR_ROOM_FULL,
                                    "room full: %u peers, a member's "
                                    "session cannot take one more", n);
        }
    }

    return KRAKEN_OK;
}


/*
 * The operator's bounds on a publish into r, which has n other live
 * peers; a replacement takes the place of the peer it replaces.
 */

static int
kraken_publish_bounds(kraken_engine_t *e, const char *rid, kraken_room_t *r,
    unsigned n, int nmedia, kraken_peer_t *old, kraken_error_t *err)
{
    int                    replaces;
    kraken_engine_conf_t  *c;

    c = &e->conf;
    replaces = (old != NULL);

    if (c->max_room_peers && n >= c->max_room_peers) {
        return kraken_error_set(err, KRAKEN_ERR_ROOM_FULL,
                                "room full: %u peers", n);
    }

    if (kraken_publish_deliverable(e, r, n, nmedia, old, err) != KRAKEN_OK) {
        return err->code;
    }

    if (c->max_rooms && r == NULL && e->nrooms >= c->max_rooms) {
        return kraken_error_set(err, KRAKEN_ERR_SERVER_NEW_PEER,
                                "server busy: %u rooms", e->nrooms);
    }

    if (c->max_peers && !replaces && e->npeers >= c->max_peers) {
        return kraken_error_set(err, KRAKEN_ERR_SERVER_NEW_PEER,
                                "server busy: %u peers", e->npeers);
    }

    if (c->max_pending && e->npending >= c->max_pending) {
        return kraken_error_set(err, KRAKEN_ERR_SERVER_NEW_PEER,
                                "server busy: %u peers connecting",
                                e->npending);
    }

    /* last, as it may take a place: the caller's registry of rooms */
    if (r == NULL && c->room_admit
        && c->room_admit(c->room_event_data, rid) != 0)
    {
        return kraken_error_set(err, KRAKEN_ERR_SERVER_NEW_PEER,
                                "server busy: room registry full");
    }

    return KRAKEN_OK;
}


/* The live peers of room r other than uid's own, which goes in *old. */

static unsigned
kraken_publish_others(kraken_room_t *r, const char *uid, kraken_peer_t **old)
{
    unsigned        n;
    kraken_peer_t  *q;

    n = 0;
    *old = NULL;

    if (r == NULL) {
        return 0;
    }

    for (q = r->peers; q; q = q->room_next) {
        if (q->closed) {
            continue;
        }

        if (strcmp(q->uid, uid) == 0) {
            *old = q;

        } else {
            n++;
        }
    }

    return n;
}


/*
 * A new peer of room r for an offer: its secrets and ids, its callback,
 * its slots; NULL with err set, the room untouched, when any fails.
 */

static kraken_peer_t *
kraken_peer_new(kraken_engine_t *e, kraken_room_t *r, const char *uid,
    kraken_sdp_t *sdp, const char *callback, uint64_t now_ms,
    kraken_error_t *err)
{
    kraken_peer_t  *p;

    p = calloc(1, sizeof(kraken_peer_t));
    if (p == NULL) {
        kraken_error_set(err, KRAKEN_ERR_SERVER_NEW_PEER, "out of memory");
        return NULL;
    }

    p->engine = e;
    p->room = r;
    p->created = now_ms;
    snprintf(p->uid, sizeof(p->uid), "%s", uid);
    snprintf(p->remote_ufrag, sizeof(p->remote_ufrag), "%s", sdp->ice_ufrag);
    p->remote_fp = sdp->fingerprint;

    if (kraken_random32(e, &p->local_ssrc) != 0
        || kraken_random(e, &p->session_id, sizeof(p->session_id)) != 0
        || kraken_track(e, p->cid, 0) != 0
        || kraken_track(e, p->pub_id, 1) != 0
        || kraken_ufrag_new(e, p->ufrag) != 0
        || kraken_random_token(e, p->pwd, KRAKEN_PWD_SIZE) != 0)
    {
        kraken_peer_free(p);
        kraken_error_set(err, KRAKEN_ERR_SERVER_NEW_PEER,
                         "the random source failed");
        return NULL;
    }

    p->session_id &= 0x7fffffff;

    if (callback && callback[0]) {
        p->callback = kraken_strdup(callback);
        if (p->callback == NULL) {
            kraken_peer_free(p);
            kraken_error_set(err, KRAKEN_ERR_SERVER_NEW_PEER, "%s",
                             "out of memory");
            return NULL;
        }
    }

    if (kraken_peer_slots_from_offer(p, sdp, err) != KRAKEN_OK) {
        kraken_peer_free(p);
        return NULL;
    }

    /* the DTLS state waits for the first valid check */
    if (!kraken_dtls_fingerprint_usable(sdp->fingerprint.alg,
                                        sdp->fingerprint.len))
    {
        kraken_peer_free(p);
        kraken_error_set(err, KRAKEN_ERR_SERVER_NEW_PEER,
                         "dtls: unsupported fingerprint %.32s",
                         sdp->fingerprint.alg);
        return NULL;
    }

    return p;
}


int
kraken_engine_publish(kraken_engine_t *e, const char *rid, const char *uid,
    const char *text, int limit, const char *callback, uint64_t now_ms,
    char track[37], char **answer, kraken_error_t *err)
{
    unsigned        n;
    char            perr[128];
    kraken_sdp_t   *sdp;
    kraken_room_t  *r;
    kraken_peer_t  *p, *old;

    sdp = e->sdp;

    if (callback && callback[0] && e->conf.ontrack == NULL) {
        return kraken_error_set(err, KRAKEN_ERR_INVALID_PARAMS, "%s",
                                "callback not supported");
    }

    if (kraken_sdp_parse(sdp, text, strlen(text), perr, sizeof(perr)) != 0) {
        return kraken_error_set(err, KRAKEN_ERR_INVALID_SDP, "%s", perr);
    }

    if (kraken_offer_check(sdp, err) != KRAKEN_OK) {
        return err->code;
    }

    r = kraken_room_find(e, rid);
    n = kraken_publish_others(r, uid, &old);

    if (limit > 0 && n >= (unsigned) limit) {
        return kraken_error_set(err, KRAKEN_ERR_ROOM_FULL,
                                "room full %d", limit - (int) n);
    }

    if (kraken_publish_bounds(e, rid, r, n, sdp->nmedia, old, err)
        != KRAKEN_OK)
    {
        e->counters.bounds_hit++;
        return err->code;
    }

    r = kraken_room_get(e, rid);
    if (r == NULL) {
        return kraken_error_set(err, KRAKEN_ERR_SERVER_NEW_PEER,
                                "out of memory");
    }

    p = kraken_peer_new(e, r, uid, sdp, callback, now_ms, err);
    if (p == NULL) {
        goto failed;
    }

    *answer = kraken_peer_sdp(p, 0);
    if (*answer == NULL) {
        kraken_peer_free(p);
        kraken_error_set(err, KRAKEN_ERR_SERVER_CREATE_ANSWER,
                         "answer too large");
        goto failed;
    }

    /* a republish by the same uid replaces the old peer, as Kraken */
    old = kraken_room_peer(r, uid);
    if (old) {
        /* a tombstone has no counts: closing it again is a no-op */
        kraken_peer_close(old, now_ms, "replaced");
        kraken_room_unlink(r, old);
        kraken_peer_free(old);
    }

    p->room_next = r->peers;
    r->peers = p;
    kraken_ufrag_link(p);

    e->npeers++;
    e->npending++;
    p->pending = 1;

    kraken_log(e, "peer %.64s:%.64s:%s published", rid, uid, p->pub_id);

    memcpy(track, p->cid, 37);

    return KRAKEN_OK;

failed:

    if (r->peers == NULL) {
        kraken_room_free(e, r);
    }

    return err->code;
}


int
kraken_engine_callback_done(kraken_engine_t *e, const char *rid,
    const char *uid, const char *cid, int ok, uint64_t now_ms)
{
    kraken_error_t   err;
    kraken_peer_t   *p;

    p = kraken_lookup(e, rid, uid, cid, &err);
    if (p == NULL) {
        return err.code;
    }

    if (p->gate != KRAKEN_GATE_WAITING) {
        return KRAKEN_ERR_PEER_NOT_FOUND;
    }

    if (!ok) {
        p->gate = KRAKEN_GATE_NONE;
        e->counters.callback_refused++;
        kraken_peer_close(p, now_ms, "callback refused");
        return KRAKEN_OK;
    }

    p->gate = KRAKEN_GATE_OPEN;
    e->counters.callback_admitted++;
    kraken_log(e, "peer %.64s:%.64s:%s admitted by its callback %llu ms "
               "after publish", p->room->id, p->uid, p->pub_id,
               (unsigned long long) (now_ms - p->created));

    return KRAKEN_OK;
}


int
kraken_engine_restart(kraken_engine_t *e, const char *rid, const char *uid,
    const char *cid, const char *text, uint64_t now_ms, char **answer,
    kraken_error_t *err)
{
    char            perr[128];
    char            ufrag[KRAKEN_UFRAG_SIZE + 1], pwd[KRAKEN_PWD_SIZE + 1];
    kraken_sdp_t   *sdp;
    kraken_peer_t  *p;

    p = kraken_lookup(e, rid, uid, cid, err);
    if (p == NULL) {
        return err->code;
    }

    sdp = e->sdp;

    if (kraken_sdp_parse(sdp, text, strlen(text), perr, sizeof(perr)) != 0) {
        return kraken_error_set(err, KRAKEN_ERR_INVALID_SDP, "%s", perr);
    }

    if (kraken_offer_check(sdp, err) != KRAKEN_OK) {
        return err->code;
    }

    if (sdp->fingerprint.len != p->remote_fp.len
        || memcmp(sdp->fingerprint.digest, p->remote_fp.digest,
                  p->remote_fp.len) != 0)
    {
        return kraken_error_set(err, KRAKEN_ERR_SERVER_SET_REMOTE_OFFER,
                                "fingerprint changed: DTLS is kept");
    }

    /* ICE restart: new credentials on both sides, DTLS stays */
    if (strcmp(sdp->ice_ufrag, p->remote_ufrag) != 0) {
        if (kraken_ufrag_new(e, ufrag) != 0
            || kraken_random_token(e, pwd, KRAKEN_PWD_SIZE) != 0)
        {
            return kraken_error_set(err, KRAKEN_ERR_SERVER_CREATE_ANSWER,
                                    "the random source failed");
        }

        kraken_ufrag_unlink(p);
        memcpy(p->ufrag, ufrag, sizeof(p->ufrag));
        memcpy(p->pwd, pwd, sizeof(p->pwd));
        snprintf(p->remote_ufrag, sizeof(p->remote_ufrag), "%s",
                 sdp->ice_ufrag);
        kraken_ufrag_link(p);
        p->last_consent = now_ms;
        p->candidates = 0;
    }

    *answer = kraken_peer_sdp(p, 0);
    if (*answer == NULL) {
        return kraken_error_set(err, KRAKEN_ERR_SERVER_CREATE_ANSWER,
                                "answer too large");
    }

    return KRAKEN_OK;
}


int
kraken_engine_end(kraken_engine_t *e, const char *rid, const char *uid,
    const char *cid, uint64_t now_ms, kraken_error_t *err)
{
    kraken_peer_t  *p;

    p = kraken_lookup(e, rid, uid, cid, err);
    if (p == NULL) {
        return err->code;
    }

    kraken_peer_close(p, now_ms, "end");

    return KRAKEN_OK;
}


int
kraken_engine_trickle(kraken_engine_t *e, const char *rid, const char *uid,
    const char *cid, const char *candidate, kraken_error_t *err)
{
    kraken_peer_t  *p;

    p = kraken_lookup(e, rid, uid, cid, err);
    if (p == NULL) {
        return err->code;
    }

    if (e->conf.max_candidates && p->candidates >= e->conf.max_candidates) {
        e->counters.bounds_hit++;
        return kraken_error_set(err, KRAKEN_ERR_INVALID_CANDIDATE,
                                "too many candidates: %u", p->candidates);
    }

    p->candidates++;

    /* ICE-lite learns addresses from checks: candidates are only checked */
    if (kraken_sdp_check_candidate(candidate, strlen(candidate)) != 0) {
        return kraken_error_set(err, KRAKEN_ERR_INVALID_CANDIDATE,
                                "invalid candidate %.64s", candidate);
    }

    return KRAKEN_OK;
}


static kraken_slot_t *
kraken_slot_for_publisher(kraken_peer_t *p, int *index)
{
    int             i;
    kraken_slot_t  *s;
    char            mid[KRAKEN_MID_SIZE];

    /* a slot retired in an earlier, completed negotiation is reused */
    for (i = 0; i < p->nslots; i++) {
        s = &p->slots[i];

        if (s->kind == KRAKEN_SLOT_SEND && s->state == KRAKEN_SEND_FREE) {
            *index = i;
            return s;
        }
    }

    do {
        snprintf(mid, sizeof(mid), "%d", p->next_mid++);
    } while (kraken_mid_used(p, mid));

    s = kraken_slot_add(p);
    if (s == NULL) {
        return NULL;
    }

    s->kind = KRAKEN_SLOT_SEND;
    memcpy(s->mid, mid, sizeof(mid));
    *index = p->nslots - 1;

    return s;
}


/* Slots this call added go back to free: nothing was offered. */

static void
kraken_session_undo(kraken_peer_t *p, int *added, int n)
{
    int             i;
    kraken_slot_t  *s;

    for (i = 0; i < n; i++) {
        s = &p->slots[added[i]];
        kraken_fanout_remove(s->pub, p, added[i]);
        s->pub = NULL;
        s->state = KRAKEN_SEND_FREE;
    }
}


/* Whether p's session already has a slot sending publisher q. */

static int
kraken_session_sends(kraken_peer_t *p, kraken_peer_t *q)
{
    int  i;

    for (i = 0; i < p->nslots; i++) {
        if (p->slots[i].kind == KRAKEN_SLOT_SEND && p->slots[i].pub == q) {
            return 1;
        }
    }

    return 0;
}


/*
 * Gives publisher q a slot of p's session, with a fresh SSRC and rewrite
 * state: returns the slot, -1 when q must wait (no free slot, no memory),
 * -2 when the random source failed.
 */

static int
kraken_session_add(kraken_engine_t *e, kraken_peer_t *p, kraken_peer_t *q)
{
    int             i;
    char           *pub_uid;
    uint16_t        first_seq;
    uint32_t        ssrc, ts_delta;
    kraken_slot_t  *s;

    s = kraken_slot_for_publisher(p, &i);
    if (s == NULL) {
        /* the session is full: this publisher waits for a free slot */
        return -1;
    }

    if (kraken_random32(e, &ssrc) != 0
        || kraken_random(e, &first_seq, sizeof(first_seq)) != 0
        || kraken_random(e, &ts_delta, sizeof(ts_delta)) != 0)
    {
        return -2;
    }

    pub_uid = strdup(q->uid);
    if (pub_uid == NULL) {
        return -1;
    }

    free(s->pub_uid);
    s->pub_uid = pub_uid;
    s->state = KRAKEN_SEND_ADDING;
    s->pub = q;
    memcpy(s->pub_id, q->pub_id, sizeof(s->pub_id));

    /* the SR state libsrtp kept for the slot's last SSRC goes too */
    if (s->ssrc && p->srtp) {
        kraken_srtp_forget_sent(p->srtp, s->ssrc);
    }

    s->ssrc = ssrc;
    kraken_rtp_rewrite_init(&s->rw, first_seq, ts_delta);

    if (kraken_fanout_add(q, p, i) != 0) {
        s->pub = NULL;
        s->state = KRAKEN_SEND_FREE;
        return -1;
    }

    return i;
}


int
kraken_engine_subscribe(kraken_engine_t *e, const char *rid,
    const char *uid, const char *cid, uint64_t now_ms, char **offer,
    kraken_error_t *err)
{
    int             i, changed, nadded;
    int             added[KRAKEN_SDP_MAX_MEDIA];
    kraken_slot_t  *s;
    kraken_peer_t  *p, *q;

    *offer = NULL;
    nadded = 0;

    p = kraken_lookup(e, rid, uid, cid, err);
    if (p == NULL) {
        return err->code;
    }

    changed = 0;

    /* departed publishers: their m-lines go inactive, never away */
    for (i = 0; i < p->nslots; i++) {
        s = &p->slots[i];

        if (s->kind == KRAKEN_SLOT_SEND && s->pub == NULL
            && (s->state == KRAKEN_SEND_ADDING
                || s->state == KRAKEN_SEND_ACTIVE))
        {
            s->state = KRAKEN_SEND_RETIRING;
            changed = 1;
        }
    }

    for (q = p->room->peers; q; q = q->room_next) {
        if (q == p || q->closed || !q->has_track) {
            continue;
        }

        if (kraken_session_sends(p, q)) {
            continue;
        }

        i = kraken_session_add(e, p, q);
        if (i == -2) {
            kraken_session_undo(p, added, nadded);
            return kraken_error_set(err, KRAKEN_ERR_SERVER_CREATE_OFFER,
                                    "the random source failed");
        }

        if (i < 0) {
            continue;
        }

        added[nadded++] = i;
        changed = 1;
    }

    if (!changed) {
        return KRAKEN_OK;
    }

    *offer = kraken_peer_sdp(p, 1);
    if (*offer == NULL) {
        return kraken_error_set(err, KRAKEN_ERR_SERVER_CREATE_OFFER,
                                "offer too large");
    }

    p->negotiating = 1;

    return KRAKEN_OK;
}


int
kraken_engine_answer(kraken_engine_t *e, const char *rid, const char *uid,
    const char *cid, const char *text, uint64_t now_ms, kraken_error_t *err)
{
    int                  i, j, accepted;
    char                 perr[128];
    kraken_sdp_t        *sdp;
    kraken_slot_t       *s;
    kraken_peer_t       *p;

    sdp = e->sdp;

    if (kraken_sdp_parse(sdp, text, strlen(text), perr, sizeof(perr)) != 0) {
        return kraken_error_set(err, KRAKEN_ERR_INVALID_SDP, "%s", perr);
    }

    p = kraken_lookup(e, rid, uid, cid, err);
    if (p == NULL) {
        return err->code;
    }

    if (!p->negotiating) {
        return kraken_error_set(err, KRAKEN_ERR_SERVER_SET_REMOTE_ANSWER,
                                "no offer to answer");
    }

    for (i = 0; i < p->nslots; i++) {
        s = &p->slots[i];

        if (s->kind != KRAKEN_SLOT_SEND) {
            continue;
        }

        accepted = 0;

        for (j = 0; j < sdp->nmedia; j++) {
            if (strcmp(sdp->media[j].mid, s->mid) == 0) {
                accepted = sdp->media[j].port != 0;
                break;
            }
        }

        switch (s->state) {

        case KRAKEN_SEND_ADDING:
            if (accepted && s->pub) {
                s->state = KRAKEN_SEND_ACTIVE;
                break;
            }

            if (s->pub) {
                kraken_fanout_remove(s->pub, p, i);
                s->pub = NULL;
            }

            s->state = KRAKEN_SEND_FREE;
            break;

        case KRAKEN_SEND_RETIRING:
            s->state = KRAKEN_SEND_FREE;
            break;
        }
    }

    p->negotiating = 0;

    return KRAKEN_OK;
}
