/*
 * loadgen: signaling with Janus's VideoRoom through the Janus HTTP API.
 * One Janus session holds every handle; one long poll (maxev) brings all
 * events. A talker publishes with "joinandconfigure" on its own handle;
 * every participant has one multistream subscriber handle that joins with
 * the live feeds of its room, and asks for new feeds with "subscribe"
 * when they come up ("updated" offer, answered with "start").
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "lg.h"


#define LG_JANUS_KEEPALIVE_NS  (20 * LG_NS)
#define LG_JANUS_STUCK_NS      (10 * LG_NS)

typedef struct {
    uint64_t    handle;
    lg_part_t  *part;
    int         sub;
} lg_janus_handle_t;

static lg_janus_handle_t  *lg_handles;
static uint32_t            lg_handle_mask;
static uint64_t            lg_txn;
static int                 lg_rooms_created;
static uint64_t           *lg_sub_since;    /* per participant, ns */


static char *lg_janus_msg(const char *janus, cJSON *body, cJSON *jsep);
static char *lg_janus_attach_req(void);
static void lg_janus_post(lg_t *lg, uint64_t handle, char *req,
    lg_http_done_pt done, void *data);
static void lg_janus_created(lg_t *lg, void *data, int status, char *body,
    size_t len);
static void lg_janus_ctl_attached(lg_t *lg, void *data, int status,
    char *body, size_t len);
static void lg_janus_room_created(lg_t *lg, void *data, int status,
    char *body, size_t len);
static void lg_janus_poll(lg_t *lg);
static void lg_janus_polled(lg_t *lg, void *data, int status, char *body,
    size_t len);
static void lg_janus_dispatch(lg_t *lg, cJSON *ev);
static void lg_janus_acked(lg_t *lg, void *data, int status, char *body,
    size_t len);
static void lg_janus_pub_attached(lg_t *lg, void *data, int status,
    char *body, size_t len);
static void lg_janus_sub_attached(lg_t *lg, void *data, int status,
    char *body, size_t len);
static void lg_janus_sub_request(lg_t *lg, lg_part_t *p, const char *req);
static void lg_janus_offer(lg_t *lg, lg_part_t *p, const char *sdp);
static uint64_t lg_janus_attach_id(lg_t *lg, int status, char *body);
static void lg_janus_map(uint64_t handle, lg_part_t *p, int sub);
static lg_janus_handle_t *lg_janus_find(uint64_t handle);


static char *
lg_janus_msg(const char *janus, cJSON *body, cJSON *jsep)
{
    char    txn[32];
    char   *out;
    cJSON  *req;

    req = cJSON_CreateObject();
    snprintf(txn, sizeof(txn), "t%" PRIu64, ++lg_txn);
    cJSON_AddStringToObject(req, "janus", janus);
    cJSON_AddStringToObject(req, "transaction", txn);

    if (body) {
        cJSON_AddItemToObject(req, "body", body);
    }

    if (jsep) {
        cJSON_AddItemToObject(req, "jsep", jsep);
    }

    out = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);

    return out;
}


static void
lg_janus_post(lg_t *lg, uint64_t handle, char *req, lg_http_done_pt done,
    void *data)
{
    char  path[96];

    if (handle) {
        snprintf(path, sizeof(path), "/janus/%" PRIu64 "/%" PRIu64,
                 lg->janus_session, handle);
    } else if (lg->janus_session) {
        snprintf(path, sizeof(path), "/janus/%" PRIu64, lg->janus_session);
    } else {
        snprintf(path, sizeof(path), "/janus");
    }

    (void) lg_http_request(lg->http, "POST", path, req, 0, done, data);
}


/*
 * Janus waits for the end of our candidates even when the SDP says
 * a=end-of-candidates: without it its ICE-lite agent never answers.
 */

static void
lg_janus_trickle_done(lg_t *lg, uint64_t handle)
{
    char    txn[32], *out;
    cJSON  *req, *c;

    req = cJSON_CreateObject();
    snprintf(txn, sizeof(txn), "t%" PRIu64, ++lg_txn);
    cJSON_AddStringToObject(req, "janus", "trickle");
    cJSON_AddStringToObject(req, "transaction", txn);
    c = cJSON_AddObjectToObject(req, "candidate");
    cJSON_AddBoolToObject(c, "completed", 1);

    out = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);

    lg_janus_post(lg, handle, out, lg_janus_acked, NULL);
}


/* Session, a control handle, one room per bench room. */

void
lg_janus_setup(lg_t *lg)
{
    uint32_t  n;

    for (n = 64; n < (uint32_t) lg->nparts * 8; n <<= 1) {
        /* void */
    }

    lg_handles = calloc(n, sizeof(lg_janus_handle_t));
    lg_sub_since = calloc((size_t) lg->nparts + 1, sizeof(uint64_t));
    if (lg_handles == NULL || lg_sub_since == NULL) {
        lg_log(lg, "janus: out of memory");
        lg->stop = 1;
        return;
    }

    lg_handle_mask = n - 1;

    lg_janus_post(lg, 0, lg_janus_msg("create", NULL, NULL),
                  lg_janus_created, NULL);
}


static void
lg_janus_created(lg_t *lg, void *data, int status, char *body, size_t len)
{
    uint64_t  id;

    id = lg_janus_attach_id(lg, status, body);
    if (id == 0) {
        lg_log(lg, "janus: cannot create a session (HTTP %d: %s)", status,
               body ? body : "-");
        lg->stop = 1;
        return;
    }

    lg->janus_session = id;
    lg->janus_keepalive = lg->now + LG_JANUS_KEEPALIVE_NS;
    lg_janus_poll(lg);

    lg_janus_post(lg, 0, lg_janus_attach_req(), lg_janus_ctl_attached, NULL);
}


static char *
lg_janus_attach_req(void)
{
    char    txn[32];
    char   *req;
    cJSON  *att;

    att = cJSON_CreateObject();
    snprintf(txn, sizeof(txn), "t%" PRIu64, ++lg_txn);
    cJSON_AddStringToObject(att, "janus", "attach");
    cJSON_AddStringToObject(att, "plugin", "janus.plugin.videoroom");
    cJSON_AddStringToObject(att, "transaction", txn);
    req = cJSON_PrintUnformatted(att);
    cJSON_Delete(att);

    return req;
}


static void
lg_janus_ctl_attached(lg_t *lg, void *data, int status, char *body,
    size_t len)
{
    int         i;
    cJSON      *b;
    lg_room_t  *r;

    lg->janus_ctl = lg_janus_attach_id(lg, status, body);
    if (lg->janus_ctl == 0) {
        lg_log(lg, "janus: cannot attach the videoroom plugin");
        lg->stop = 1;
        return;
    }

    for (i = 0; i < lg->nrooms; i++) {
        r = &lg->rooms[i];
        r->janus_room = 1000 + (uint64_t) i;

        b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "request", "create");
        cJSON_AddNumberToObject(b, "room", (double) r->janus_room);
        cJSON_AddNumberToObject(b, "publishers",
                                lg->conf.talkers > 0 ? lg->conf.talkers : 1);
        cJSON_AddStringToObject(b, "audiocodec", "opus");
        cJSON_AddBoolToObject(b, "audiolevel_ext", 0);
        cJSON_AddBoolToObject(b, "audiolevel_event", 0);
        cJSON_AddBoolToObject(b, "transport_wide_cc_ext", 0);
        cJSON_AddBoolToObject(b, "playoutdelay_ext", 0);
        cJSON_AddBoolToObject(b, "notify_joining", 0);
        cJSON_AddBoolToObject(b, "record", 0);
        cJSON_AddNumberToObject(b, "fir_freq", 0);

        lg_janus_post(lg, lg->janus_ctl, lg_janus_msg("message", b, NULL),
                      lg_janus_room_created, r);
    }
}


static void
lg_janus_room_created(lg_t *lg, void *data, int status, char *body,
    size_t len)
{
    lg_room_t  *r;

    r = data;

    if (status != 200 || body == NULL
        || strstr(body, "\"videoroom\":\"created\"") == NULL)
    {
        lg_log(lg, "janus: room %d not created: %s", r->idx,
               body ? body : "(no response)");
        lg->stop = 1;
        return;
    }

    r->created = 1;

    if (++lg_rooms_created == lg->nrooms) {
        lg->janus_ready = 1;
    }
}


static uint64_t
lg_janus_attach_id(lg_t *lg, int status, char *body)
{
    uint64_t  id;
    cJSON    *root, *j, *data, *idv;

    if (status != 200 || body == NULL) {
        return 0;
    }

    root = cJSON_Parse(body);
    if (root == NULL) {
        return 0;
    }

    id = 0;
    j = cJSON_GetObjectItemCaseSensitive(root, "janus");
    data = cJSON_GetObjectItemCaseSensitive(root, "data");
    idv = data ? cJSON_GetObjectItemCaseSensitive(data, "id") : NULL;

    if (cJSON_IsString(j) && strcmp(j->valuestring, "success") == 0
        && cJSON_IsNumber(idv))
    {
        /* ids are below 2^53: exact in a double */
        id = (uint64_t) idv->valuedouble;

    } else {
        lg_log(lg, "janus: %s", body);
    }

    cJSON_Delete(root);

    return id;
}


static void
lg_janus_map(uint64_t handle, lg_part_t *p, int sub)
{
    uint32_t  i;

    i = (uint32_t) ((handle * 0x9e3779b97f4a7c15ULL) >> 32);

    for ( ;; ) {
        i &= lg_handle_mask;
        if (lg_handles[i].handle == 0) {
            lg_handles[i].handle = handle;
            lg_handles[i].part = p;
            lg_handles[i].sub = sub;
            return;
        }
        i++;
    }
}


static lg_janus_handle_t *
lg_janus_find(uint64_t handle)
{
    uint32_t  i, n;

    i = (uint32_t) ((handle * 0x9e3779b97f4a7c15ULL) >> 32);

    for (n = 0; n <= lg_handle_mask; n++, i++) {
        i &= lg_handle_mask;
        if (lg_handles[i].handle == handle) {
            return &lg_handles[i];
        }
        if (lg_handles[i].handle == 0) {
            return NULL;
        }
    }

    return NULL;
}


static void
lg_janus_poll(lg_t *lg)
{
    char  path[96];

    snprintf(path, sizeof(path), "/janus/%" PRIu64 "?maxev=200",
             lg->janus_session);
    (void) lg_http_request(lg->http, "GET", path, NULL, 1, lg_janus_polled,
                           NULL);
}


static void
lg_janus_polled(lg_t *lg, void *data, int status, char *body, size_t len)
{
    cJSON  *root, *ev;

    if (status == 200 && body) {
        root = cJSON_Parse(body);

        if (cJSON_IsArray(root)) {
            cJSON_ArrayForEach(ev, root) {
                lg_janus_dispatch(lg, ev);
            }

        } else if (cJSON_IsObject(root)) {
            lg_janus_dispatch(lg, root);
        }

        cJSON_Delete(root);

    } else {
        lg_log(lg, "janus: long poll failed (%d)", status);
    }

    if (!lg->stop) {
        lg_janus_poll(lg);
    }
}


static void
lg_janus_dispatch(lg_t *lg, cJSON *ev)
{
    cJSON              *j, *sender, *pd, *d, *vr, *jsep, *sdp, *type;
    cJSON              *started, *err;
    lg_part_t          *p;
    lg_janus_handle_t  *h;

    j = cJSON_GetObjectItemCaseSensitive(ev, "janus");
    sender = cJSON_GetObjectItemCaseSensitive(ev, "sender");

    if (!cJSON_IsString(j) || !cJSON_IsNumber(sender)) {
        return;
    }

    h = lg_janus_find((uint64_t) sender->valuedouble);
    if (h == NULL) {
        return;
    }

    p = h->part;

    if (strcmp(j->valuestring, "webrtcup") == 0) {
        if (!h->sub) {
            p->pub_live = 1;
        }
        return;
    }

    if (strcmp(j->valuestring, "hangup") == 0
        || strcmp(j->valuestring, "detached") == 0)
    {
        lg_fail(p, "janus: %s on the %s handle", j->valuestring,
                h->sub ? "subscriber" : "publisher");
        return;
    }

    if (strcmp(j->valuestring, "event") != 0) {
        return;
    }

    pd = cJSON_GetObjectItemCaseSensitive(ev, "plugindata");
    d = pd ? cJSON_GetObjectItemCaseSensitive(pd, "data") : NULL;
    vr = d ? cJSON_GetObjectItemCaseSensitive(d, "videoroom") : NULL;
    jsep = cJSON_GetObjectItemCaseSensitive(ev, "jsep");
    sdp = jsep ? cJSON_GetObjectItemCaseSensitive(jsep, "sdp") : NULL;
    type = jsep ? cJSON_GetObjectItemCaseSensitive(jsep, "type") : NULL;
    err = d ? cJSON_GetObjectItemCaseSensitive(d, "error") : NULL;

    if (err) {
        lg->rpc_errors++;
        lg_log(lg, "%s janus %s: %s", p->uid, h->sub ? "sub" : "pub",
               cJSON_IsString(err) ? err->valuestring : "error");
        if (h->sub) {
            p->sub_busy = 0;
        }
        return;
    }

    if (!h->sub) {
        if (cJSON_IsString(sdp) && cJSON_IsString(type)
            && strcmp(type->valuestring, "answer") == 0)
        {
            p->t_answer = lg->now;

            if (getenv("LG_DEBUG_SDP")) {
                fprintf(stderr, "%s answer:\n%s\n", p->uid,
                        sdp->valuestring);
            }

            if (lg_sdp_parse(lg->sdp, sdp->valuestring) != 0) {
                lg_fail(p, "janus: cannot parse the publisher answer");
                return;
            }

            (void) lg_conn_remote(lg, p->conn, lg->sdp);
        }

        return;
    }

    if (cJSON_IsString(sdp) && cJSON_IsString(type)
        && strcmp(type->valuestring, "offer") == 0)
    {
        lg_janus_offer(lg, p, sdp->valuestring);
        return;
    }

    started = d ? cJSON_GetObjectItemCaseSensitive(d, "started") : NULL;

    if (started || (cJSON_IsString(vr)
                    && strcmp(vr->valuestring, "updated") == 0))
    {
        /* negotiation complete (or nothing to negotiate) */
        p->sub_busy = 0;
        p->sub_started = 1;
    }
}


/* An offer on the subscriber handle ("attached" or "updated"). */

static void
lg_janus_offer(lg_t *lg, lg_part_t *p, const char *text)
{
    char    *answer;
    size_t   n;
    cJSON   *b, *jsep;

    if (lg_sdp_parse(lg->sdp, text) != 0) {
        lg_fail(p, "janus: cannot parse the subscriber offer");
        return;
    }

    if (p->sub == NULL) {
        p->sub = lg_conn_new(lg, p);
        if (p->sub == NULL) {
            lg_fail(p, "no connection slot");
            return;
        }
        p->sub->recv_only = 1;
    }

    n = 512 + (size_t) lg->sdp->nmedia * 512;
    answer = malloc(n);
    if (answer == NULL
        || lg_sdp_answer(lg, p->sub, lg->sdp, answer, n) == 0)
    {
        free(answer);
        lg_fail(p, "janus: cannot write the answer");
        return;
    }

    /* DTLS role: the answer above says active before the conn exists */
    (void) lg_conn_remote(lg, p->sub, lg->sdp);

    b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "request", "start");
    jsep = cJSON_CreateObject();
    cJSON_AddStringToObject(jsep, "type", "answer");
    cJSON_AddStringToObject(jsep, "sdp", answer);
    free(answer);

    lg_janus_post(lg, p->sub_handle, lg_janus_msg("message", b, jsep),
                  lg_janus_acked, p);
    lg_janus_trickle_done(lg, p->sub_handle);
}


static void
lg_janus_acked(lg_t *lg, void *data, int status, char *body, size_t len)
{
    lg_part_t  *p;

    p = data;

    if (status != 200 || body == NULL
        || (strstr(body, "\"janus\":\"ack\"") == NULL
            && strstr(body, "\"janus\":\"success\"") == NULL))
    {
        lg->rpc_errors++;
        lg_log(lg, "%s janus: %s", p ? p->uid : "-",
               body ? body : "(no response)");
        if (p) {
            p->sub_busy = 0;
        }
    }
}


void
lg_janus_start(lg_t *lg, lg_part_t *p)
{
    p->t_join = lg->now;

    if (!p->talker) {
        /* listeners only subscribe: nothing to publish in Janus */
        return;
    }

    p->conn = lg_conn_new(lg, p);
    if (p->conn == NULL) {
        lg_fail(p, "no connection slot");
        return;
    }

    p->conn->talking = 1;

    lg_janus_post(lg, 0, lg_janus_attach_req(), lg_janus_pub_attached, p);
}


static void
lg_janus_pub_attached(lg_t *lg, void *data, int status, char *body,
    size_t len)
{
    char        sdp[4096];
    cJSON      *b, *jsep;
    lg_part_t  *p;

    p = data;
    p->pub_handle = lg_janus_attach_id(lg, status, body);

    if (p->pub_handle == 0) {
        lg_fail(p, "janus: attach failed");
        return;
    }

    lg_janus_map(p->pub_handle, p, 0);

    if (lg_sdp_offer(lg, p->conn, LG_DIR_SENDONLY, sdp, sizeof(sdp)) == 0) {
        lg_fail(p, "offer too long");
        return;
    }

    b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "request", "joinandconfigure");
    cJSON_AddStringToObject(b, "ptype", "publisher");
    cJSON_AddNumberToObject(b, "room", (double) p->room->janus_room);
    cJSON_AddNumberToObject(b, "id", p->idx + 1);
    cJSON_AddStringToObject(b, "display", p->uid);
    cJSON_AddBoolToObject(b, "audio", 1);
    cJSON_AddBoolToObject(b, "video", 0);

    jsep = cJSON_CreateObject();
    cJSON_AddStringToObject(jsep, "type", "offer");
    cJSON_AddStringToObject(jsep, "sdp", sdp);

    lg_janus_post(lg, p->pub_handle, lg_janus_msg("message", b, jsep),
                  lg_janus_acked, NULL);
    lg_janus_trickle_done(lg, p->pub_handle);
}


/*
 * Subscriber updates and keepalives, every 10 ms: a participant not in a
 * negotiation asks for the live feeds of its room it does not have yet.
 */

void
lg_janus_timers(lg_t *lg)
{
    int         i;
    char       *req;

    if (lg->janus_session && lg->now >= lg->janus_keepalive) {
        lg->janus_keepalive = lg->now + LG_JANUS_KEEPALIVE_NS;
        req = lg_janus_msg("keepalive", NULL, NULL);
        lg_janus_post(lg, 0, req, lg_janus_acked, NULL);
    }

    for (i = 0; i < lg->nparts; i++) {
        lg_part_t  *p = &lg->parts[i];

        if (!p->started || p->failed) {
            continue;
        }

        if (p->sub_busy) {
            if (lg->now - lg_sub_since[i] > LG_JANUS_STUCK_NS) {
                lg_log(lg, "%s janus: subscriber negotiation stuck",
                       p->uid);
                p->sub_busy = 0;
            }
            continue;
        }

        if (p->sub_handle == 0) {
            lg_janus_sub_request(lg, p, NULL);
        } else {
            lg_janus_sub_request(lg, p, p->sub_started ? "subscribe"
                                                       : "join");
        }
    }
}


/*
 * req NULL: attach the subscriber handle first (when there is a feed to
 * subscribe to); else "join" or "subscribe" with the new live feeds.
 */

static void
lg_janus_sub_request(lg_t *lg, lg_part_t *p, const char *req)
{
    int         k, n;
    cJSON      *b, *streams, *s;
    lg_room_t  *r;
    lg_part_t  *q;

    r = p->room;
    n = 0;

    for (k = 0; k < r->nparts; k++) {
        q = r->parts[k];
        if (q != p && q->pub_live && !p->subscribed[k]) {
            n++;
        }
    }

    if (n == 0) {
        return;
    }

    p->sub_busy = 1;
    lg_sub_since[p->idx] = lg->now;

    if (req == NULL) {
        lg_janus_post(lg, 0, lg_janus_attach_req(), lg_janus_sub_attached,
                      p);
        return;
    }

    b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "request", req);

    if (strcmp(req, "join") == 0) {
        cJSON_AddStringToObject(b, "ptype", "subscriber");
        cJSON_AddNumberToObject(b, "room", (double) r->janus_room);
        cJSON_AddBoolToObject(b, "use_msid", 0);
    }

    streams = cJSON_AddArrayToObject(b, "streams");

    for (k = 0; k < r->nparts; k++) {
        q = r->parts[k];
        if (q != p && q->pub_live && !p->subscribed[k]) {
            p->subscribed[k] = 1;
            s = cJSON_CreateObject();
            cJSON_AddNumberToObject(s, "feed", q->idx + 1);
            cJSON_AddItemToArray(streams, s);
        }
    }

    lg_janus_post(lg, p->sub_handle, lg_janus_msg("message", b, NULL),
                  lg_janus_acked, p);
}


static void
lg_janus_sub_attached(lg_t *lg, void *data, int status, char *body,
    size_t len)
{
    lg_part_t  *p;

    p = data;
    p->sub_handle = lg_janus_attach_id(lg, status, body);

    if (p->sub_handle == 0) {
        lg_fail(p, "janus: subscriber attach failed");
        return;
    }

    lg_janus_map(p->sub_handle, p, 1);
    lg_janus_sub_request(lg, p, "join");
}


void
lg_janus_conn_up(lg_t *lg, lg_conn_t *c)
{
    /* Janus says webrtcup itself; nothing to do here */
}
