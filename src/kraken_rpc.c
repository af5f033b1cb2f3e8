/*
 * Kraken's JSON-RPC: envelope, parameter checks in Kraken's order, and
 * the rendering of results and errors.
 */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kraken_id.h"
#include "kraken_rpc.h"
#include "kraken_turn.h"


typedef struct {
    kraken_rpc_ctx_t  *ctx;
    cJSON             *params;
    int                nparams;
    unsigned           nul;             /* params[i] has a NUL: bit i */
    cJSON             *data;            /* the result, on success */
    kraken_error_t     err;
} kraken_call_t;

typedef int (*kraken_method_pt)(kraken_call_t *call);

typedef struct {
    const char        *name;
    kraken_method_pt   handler;
    int                room;            /* params[0] is the room */
    int                uid;             /* params[uid] is the uid, or -1 */
} kraken_method_t;


static int kraken_rpc_publish(kraken_call_t *call);
static int kraken_rpc_restart(kraken_call_t *call);
static int kraken_rpc_end(kraken_call_t *call);
static int kraken_rpc_trickle(kraken_call_t *call);
static int kraken_rpc_subscribe(kraken_call_t *call);
static int kraken_rpc_answer(kraken_call_t *call);
static int kraken_rpc_list(kraken_call_t *call);
static int kraken_rpc_info(kraken_call_t *call);
static int kraken_rpc_turn(kraken_call_t *call);


static const kraken_method_t  kraken_methods[] = {
    { "turn",      kraken_rpc_turn,      0,  0 },
    { "info",      kraken_rpc_info,      0, -1 },
    { "list",      kraken_rpc_list,      1, -1 },
    { "publish",   kraken_rpc_publish,   1,  1 },
    { "restart",   kraken_rpc_restart,   1,  1 },
    { "end",       kraken_rpc_end,       1,  1 },
    { "trickle",   kraken_rpc_trickle,   1,  1 },
    { "subscribe", kraken_rpc_subscribe, 1,  1 },
    { "answer",    kraken_rpc_answer,    1,  1 },
    { NULL, NULL, 0, -1 }
};


static int
kraken_rpc_fail(kraken_call_t *call, int code, const char *fmt,
    const char *arg)
{
    return kraken_error_set(&call->err, code, fmt, arg);
}


static int
kraken_rpc_count(kraken_call_t *call, int want)
{
    char  n[16];

    if (call->nparams == want) {
        return KRAKEN_OK;
    }

    snprintf(n, sizeof(n), "%d", call->nparams);

    return kraken_rpc_fail(call, KRAKEN_ERR_INVALID_PARAMS,
                           "invalid params count %s", n);
}


/* params[i] as a string, or invalid params "invalid <name> type". */

static const char *
kraken_rpc_string(kraken_call_t *call, int i, const char *name)
{
    cJSON  *p;

    p = cJSON_GetArrayItem(call->params, i);

    if (!cJSON_IsString(p) || p->valuestring == NULL) {
        kraken_rpc_fail(call, KRAKEN_ERR_INVALID_PARAMS, "invalid %s type",
                        name);
        return NULL;
    }

    return p->valuestring;
}


/*
 * params[i] as an id (a room, a uid, a track): a string without a NUL,
 * which would cut it short and make two ids one.
 */

static const char *
kraken_rpc_id(kraken_call_t *call, int i, const char *name)
{
    const char  *id;

    id = kraken_rpc_string(call, i, name);

    if (id != NULL && (call->nul & (1u << i))) {
        kraken_rpc_fail(call, KRAKEN_ERR_INVALID_PARAMS,
                        "invalid %s format contains a NUL byte", name);
        return NULL;
    }

    return id;
}


/* rid, uid, cid: Kraken's parseId */

static int
kraken_rpc_ids(kraken_call_t *call, const char *ids[3])
{
    if ((ids[0] = kraken_rpc_id(call, 0, "rid")) == NULL
        || (ids[1] = kraken_rpc_id(call, 1, "uid")) == NULL
        || (ids[2] = kraken_rpc_id(call, 2, "cid")) == NULL)
    {
        return call->err.code;
    }

    return KRAKEN_OK;
}


/*
 * The SDP parameter is JSON text of {"type","sdp"}; returns the SDP or
 * NULL with 5001001 set.
 */

static char *
kraken_rpc_jsep(kraken_call_t *call, const char *text, const char *want)
{
    char   *sdp;
    cJSON  *j, *type, *s;

    j = cJSON_Parse(text);

    if (j == NULL || !(cJSON_IsObject(j) || cJSON_IsNull(j))) {
        cJSON_Delete(j);
        kraken_rpc_fail(call, KRAKEN_ERR_INVALID_SDP,
                        "invalid session description %s", "json");
        return NULL;
    }

    type = cJSON_GetObjectItemCaseSensitive(j, "type");
    s = cJSON_GetObjectItemCaseSensitive(j, "sdp");

    if ((type && !cJSON_IsString(type) && !cJSON_IsNull(type))
        || (s && !cJSON_IsString(s) && !cJSON_IsNull(s)))
    {
        cJSON_Delete(j);
        kraken_rpc_fail(call, KRAKEN_ERR_INVALID_SDP,
                        "invalid session description %s", "fields");
        return NULL;
    }

    if (!cJSON_IsString(type) || strcmp(type->valuestring, want) != 0) {
        kraken_rpc_fail(call, KRAKEN_ERR_INVALID_SDP, "invalid sdp type %s",
                        cJSON_IsString(type) ? type->valuestring
                                             : "unknown");
        cJSON_Delete(j);
        return NULL;
    }

    sdp = strdup(cJSON_IsString(s) ? s->valuestring : "");
    cJSON_Delete(j);

    if (sdp == NULL) {
        kraken_rpc_fail(call, KRAKEN_ERR_SERVER_NEW_PEER, "%s",
                        "out of memory");
    }

    return sdp;
}


/* {"type": type, "sdp": sdp} and its JSON text */

static int
kraken_rpc_add_jsep(cJSON *data, const char *type, const char *sdp,
    int with_object)
{
    char   *text;
    cJSON  *desc;

    desc = cJSON_CreateObject();
    if (desc == NULL
        || cJSON_AddStringToObject(desc, "type", type) == NULL
        || cJSON_AddStringToObject(desc, "sdp", sdp) == NULL)
    {
        cJSON_Delete(desc);
        return -1;
    }

    text = cJSON_PrintUnformatted(desc);
    if (text == NULL) {
        cJSON_Delete(desc);
        return -1;
    }

    if (cJSON_AddStringToObject(data, "jsep", text) == NULL) {
        free(text);
        cJSON_Delete(desc);
        return -1;
    }

    free(text);

    if (with_object) {
        cJSON_AddItemToObject(data, "sdp", desc);

    } else {
        cJSON_Delete(desc);
    }

    return 0;
}


static int
kraken_rpc_no_engine(kraken_call_t *call)
{
    if (call->ctx->engine != NULL) {
        return KRAKEN_OK;
    }

    return kraken_rpc_fail(call, KRAKEN_ERR_SERVER_NEW_PEER, "%s",
                           "media plane not configured");
}


/* Go's strconv.ParseInt(fmt.Sprint(v), 10, 64) */

static int
kraken_rpc_limit(cJSON *p, long long *limit)
{
    char       *end;
    const char *s;
    long long   v;

    if (cJSON_IsNumber(p)) {
        if (!isfinite(p->valuedouble) || p->valuedouble != floor(p->valuedouble)
            || fabs(p->valuedouble) > 9.2e18)
        {
            return -1;
        }

        *limit = (long long) p->valuedouble;
        return 0;
    }

    if (!cJSON_IsString(p)) {
        return -1;
    }

    s = p->valuestring;

    if (*s == '\0' || !(*s == '+' || *s == '-' || (*s >= '0' && *s <= '9')))
    {
        return -1;
    }

    errno = 0;
    v = strtoll(s, &end, 10);

    if (*end != '\0' || errno != 0 || end == s
        || ((*s == '+' || *s == '-') && end == s + 1))
    {
        return -1;
    }

    *limit = v;

    return 0;
}


/* kraken_rpc_callback(): the checks passed, is the callback allowed? */

static int
kraken_rpc_screen(kraken_call_t *call, const char *callback)
{
    char           reason[64];
    size_t         i;
    kraken_url_t   u;

    if (callback[0] == '\0') {
        call->ctx->screened = 1;
        return KRAKEN_OK;
    }

    if (kraken_url_parse(callback, strlen(callback), &u, reason,
                         sizeof(reason))
        == 0)
    {
        for (i = 0; i < call->ctx->nallow; i++) {
            if (kraken_url_under(&u, &call->ctx->allow[i])) {
                call->ctx->screened = 1;
                return KRAKEN_OK;
            }
        }
    }

    return kraken_rpc_fail(call, KRAKEN_ERR_INVALID_PARAMS, "%s",
                           "invalid callback, not allowed");
}


static int
kraken_rpc_publish(kraken_call_t *call)
{
    int           rc;
    char         *sdp, *answer, track[37], reason[128];
    cJSON        *p;
    long long     limit;
    const char   *rid, *uid, *jsep, *callback;

    if (call->nparams < 3) {
        return kraken_rpc_count(call, 3);
    }

    if ((rid = kraken_rpc_string(call, 0, "rid")) == NULL
        || (uid = kraken_rpc_string(call, 1, "uid")) == NULL
        || (jsep = kraken_rpc_string(call, 2, "sdp")) == NULL)
    {
        return call->err.code;
    }

    limit = 0;
    callback = "";

    if (call->nparams == 5) {
        p = cJSON_GetArrayItem(call->params, 3);

        if (kraken_rpc_limit(p, &limit) != 0) {
            return kraken_rpc_fail(call, KRAKEN_ERR_INVALID_PARAMS,
                                   "invalid limit type %s", "");
        }

        if ((callback = kraken_rpc_string(call, 4, "callback")) == NULL) {
            return call->err.code;
        }

        /* unlike Kraken, an empty callback is none: limit alone */
        if ((call->nul & (1u << 4))
            || (callback[0] != '\0' && strncmp(callback, "https://", 8) != 0))
        {
            return kraken_rpc_fail(call, KRAKEN_ERR_INVALID_PARAMS,
                                   "invalid callback value %.200s",
                                   callback);
        }
    }

    if ((call->nul & 1u)
        || kraken_id_check(rid, strlen(rid), reason, sizeof(reason)) != 0)
    {
        return kraken_rpc_fail(call, KRAKEN_ERR_INVALID_PARAMS,
                               "invalid rid format %s",
                               (call->nul & 1u) ? "contains a NUL byte"
                                                 : reason);
    }

    if ((call->nul & 2u)
        || kraken_id_check(uid, strlen(uid), reason, sizeof(reason)) != 0)
    {
        return kraken_rpc_fail(call, KRAKEN_ERR_INVALID_PARAMS,
                               "invalid uid format %s",
                               (call->nul & 2u) ? "contains a NUL byte"
                                                 : reason);
    }

    sdp = kraken_rpc_jsep(call, jsep, "offer");
    if (sdp == NULL) {
        return call->err.code;
    }

    if (call->ctx->screen) {
        free(sdp);
        return kraken_rpc_screen(call, callback);
    }

    if (callback[0] && !call->ctx->callbacks) {
        /* never silently ignored: no requests are made here */
        free(sdp);
        return kraken_rpc_fail(call, KRAKEN_ERR_INVALID_PARAMS, "%s",
                               "callback not supported");
    }

    if (kraken_rpc_no_engine(call) != KRAKEN_OK) {
        free(sdp);
        return call->err.code;
    }

    if (limit > 1000000 || limit < 0) {
        limit = limit < 0 ? 0 : 1000000;
    }

    answer = NULL;
    rc = kraken_engine_publish(call->ctx->engine, rid, uid, sdp, (int) limit,
                               callback, call->ctx->now_ms, track, &answer,
                               &call->err);
    free(sdp);

    if (rc != KRAKEN_OK) {
        return rc;
    }

    if (cJSON_AddStringToObject(call->data, "track", track) == NULL
        || kraken_rpc_add_jsep(call->data, "answer", answer, 1) != 0)
    {
        free(answer);
        return kraken_rpc_fail(call, KRAKEN_ERR_SERVER_CREATE_ANSWER, "%s",
                               "out of memory");
    }

    free(answer);

    return KRAKEN_OK;
}


static int
kraken_rpc_restart(kraken_call_t *call)
{
    int          rc;
    char        *sdp, *answer;
    const char  *ids[3], *jsep;

    if (kraken_rpc_count(call, 4) != KRAKEN_OK
        || kraken_rpc_ids(call, ids) != KRAKEN_OK
        || (jsep = kraken_rpc_string(call, 3, "jsep")) == NULL
        || kraken_rpc_no_engine(call) != KRAKEN_OK)
    {
        return call->err.code;
    }

    /* Kraken looks the peer up before it reads the offer */
    if (kraken_engine_lookup(call->ctx->engine, ids[0], ids[1], ids[2],
                             &call->err)
        != KRAKEN_OK)
    {
        return call->err.code;
    }

    sdp = kraken_rpc_jsep(call, jsep, "offer");
    if (sdp == NULL) {
        return call->err.code;
    }

    answer = NULL;
    rc = kraken_engine_restart(call->ctx->engine, ids[0], ids[1], ids[2], sdp,
                               call->ctx->now_ms, &answer, &call->err);
    free(sdp);

    if (rc != KRAKEN_OK) {
        return rc;
    }

    rc = kraken_rpc_add_jsep(call->data, "answer", answer, 0);
    free(answer);

    if (rc != 0) {
        return kraken_rpc_fail(call, KRAKEN_ERR_SERVER_CREATE_ANSWER, "%s",
                               "out of memory");
    }

    return KRAKEN_OK;
}


static int
kraken_rpc_end(kraken_call_t *call)
{
    const char  *ids[3];

    if (kraken_rpc_count(call, 3) != KRAKEN_OK
        || kraken_rpc_ids(call, ids) != KRAKEN_OK
        || kraken_rpc_no_engine(call) != KRAKEN_OK)
    {
        return call->err.code;
    }

    return kraken_engine_end(call->ctx->engine, ids[0], ids[1], ids[2],
                             call->ctx->now_ms, &call->err);
}


static int
kraken_rpc_trickle(kraken_call_t *call)
{
    int          rc;
    char        *cand;
    cJSON       *j, *c;
    const char  *ids[3], *text;

    if (kraken_rpc_count(call, 4) != KRAKEN_OK
        || kraken_rpc_ids(call, ids) != KRAKEN_OK
        || (text = kraken_rpc_string(call, 3, "candi")) == NULL)
    {
        return call->err.code;
    }

    j = cJSON_Parse(text);

    if (j == NULL || !(cJSON_IsObject(j) || cJSON_IsNull(j))) {
        cJSON_Delete(j);
        return kraken_rpc_fail(call, KRAKEN_ERR_INVALID_CANDIDATE,
                               "invalid candidate %s", "json");
    }

    c = cJSON_GetObjectItemCaseSensitive(j, "candidate");

    if (c && !cJSON_IsString(c) && !cJSON_IsNull(c)) {
        cJSON_Delete(j);
        return kraken_rpc_fail(call, KRAKEN_ERR_INVALID_CANDIDATE,
                               "invalid candidate %s", "type");
    }

    /* the end of candidates: nothing to look up */
    if (!cJSON_IsString(c) || c->valuestring[0] == '\0') {
        cJSON_Delete(j);
        return KRAKEN_OK;
    }

    cand = strdup(c->valuestring);
    cJSON_Delete(j);

    if (cand == NULL) {
        return kraken_rpc_fail(call, KRAKEN_ERR_SERVER_NEW_PEER, "%s",
                               "out of memory");
    }

    if (kraken_rpc_no_engine(call) != KRAKEN_OK) {
        free(cand);
        return call->err.code;
    }

    rc = kraken_engine_trickle(call->ctx->engine, ids[0], ids[1], ids[2],
                               cand, &call->err);
    free(cand);

    return rc;
}


static int
kraken_rpc_subscribe(kraken_call_t *call)
{
    int          rc;
    char        *offer;
    const char  *ids[3];

    if (kraken_rpc_count(call, 3) != KRAKEN_OK
        || kraken_rpc_ids(call, ids) != KRAKEN_OK
        || kraken_rpc_no_engine(call) != KRAKEN_OK)
    {
        return call->err.code;
    }

    offer = NULL;
    rc = kraken_engine_subscribe(call->ctx->engine, ids[0], ids[1], ids[2],
                                 call->ctx->now_ms, &offer, &call->err);
    if (rc != KRAKEN_OK) {
        return rc;
    }

    /* nothing changed: pion's zero description, as Kraken renders it */
    if (cJSON_AddStringToObject(call->data, "type",
                                offer ? "offer" : "unknown") == NULL
        || cJSON_AddStringToObject(call->data, "sdp", offer ? offer : "")
           == NULL
        || kraken_rpc_add_jsep(call->data, offer ? "offer" : "unknown",
                               offer ? offer : "", 0) != 0)
    {
        free(offer);
        return kraken_rpc_fail(call, KRAKEN_ERR_SERVER_CREATE_OFFER, "%s",
                               "out of memory");
    }

    free(offer);

    return KRAKEN_OK;
}


static int
kraken_rpc_answer(kraken_call_t *call)
{
    int          rc;
    char        *sdp;
    const char  *ids[3], *jsep;

    if (kraken_rpc_count(call, 4) != KRAKEN_OK
        || kraken_rpc_ids(call, ids) != KRAKEN_OK
        || (jsep = kraken_rpc_string(call, 3, "sdp")) == NULL)
    {
        return call->err.code;
    }

    sdp = kraken_rpc_jsep(call, jsep, "answer");
    if (sdp == NULL) {
        return call->err.code;
    }

    if (kraken_rpc_no_engine(call) != KRAKEN_OK) {
        free(sdp);
        return call->err.code;
    }

    rc = kraken_engine_answer(call->ctx->engine, ids[0], ids[1], ids[2], sdp,
                              call->ctx->now_ms, &call->err);
    free(sdp);

    return rc;
}


static int
kraken_rpc_list(kraken_call_t *call)
{
    cJSON       *peers;
    const char  *rid;

    if (kraken_rpc_count(call, 1) != KRAKEN_OK
        || (rid = kraken_rpc_id(call, 0, "rid")) == NULL)
    {
        return call->err.code;
    }

    peers = cJSON_AddArrayToObject(call->data, "peers");
    if (peers == NULL) {
        return kraken_rpc_fail(call, KRAKEN_ERR_SERVER_NEW_PEER, "%s",
                               "out of memory");
    }

    if (call->ctx->engine
        && kraken_engine_list(call->ctx->engine, rid, peers) != 0)
    {
        return kraken_rpc_fail(call, KRAKEN_ERR_SERVER_NEW_PEER, "%s",
                               "out of memory");
    }

    return KRAKEN_OK;
}


static int
kraken_rpc_info(kraken_call_t *call)
{
    char                   ts[64];
    struct tm              tm;
    kraken_engine_stats_t  st;

    if (kraken_rpc_count(call, 0) != KRAKEN_OK) {
        return call->err.code;
    }

    gmtime_r(&call->ctx->now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(call->data, "updated_at", ts);

    if (call->ctx->info) {
        call->ctx->info(call->ctx->info_data, call->data,
                        call->ctx->info_details);
        return KRAKEN_OK;
    }

    memset(&st, 0, sizeof(st));

    if (call->ctx->engine) {
        kraken_engine_stats(call->ctx->engine, &st);
    }

    cJSON_AddNumberToObject(call->data, "active_peers", st.active_peers);
    cJSON_AddNumberToObject(call->data, "closed_peers", st.closed_peers);
    cJSON_AddNumberToObject(call->data, "active_rooms", st.active_rooms);
    cJSON_AddNumberToObject(call->data, "closed_rooms", st.closed_rooms);

    return KRAKEN_OK;
}


static int
kraken_rpc_turn(kraken_call_t *call)
{
    cJSON       *servers;
    const char  *uid;

    if (kraken_rpc_count(call, 1) != KRAKEN_OK
        || (uid = kraken_rpc_id(call, 0, "uid")) == NULL)
    {
        return call->err.code;
    }

    servers = cJSON_CreateArray();
    if (servers == NULL
        || kraken_turn_credentials(call->ctx->turn_url,
                                   call->ctx->turn_secret, uid,
                                   call->ctx->now, servers)
           != 0)
    {
        cJSON_Delete(servers);
        return kraken_rpc_fail(call, KRAKEN_ERR_SERVER_NEW_PEER, "%s",
                               "turn credentials failed");
    }

    /* the data is the array itself */
    cJSON_Delete(call->data);
    call->data = servers;

    return KRAKEN_OK;
}


static int
kraken_rpc_reply(int status, const char *text, char **out, size_t *outlen)
{
    *out = strdup(text);
    *outlen = *out ? strlen(*out) : 0;

    return status;
}


/* A body that is not a call: HTTP 400 {"error": "..."} as Go's decoder. */

static int
kraken_rpc_bad(const char *why, char **out, size_t *outlen)
{
    int     rc;
    char   *text;
    cJSON  *o;

    o = cJSON_CreateObject();
    if (o == NULL || cJSON_AddStringToObject(o, "error", why) == NULL) {
        cJSON_Delete(o);
        return kraken_rpc_reply(400, "{\"error\":\"bad request\"}", out,
                                outlen);
    }

    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);

    rc = kraken_rpc_reply(400, text ? text : "{\"error\":\"bad request\"}",
                          out, outlen);
    free(text);

    return rc;
}


/*
 * The call's envelope, as Go decodes it into {Id, Method string; Params
 * []any}: absent or null fields are empty, other types are errors.
 */

static cJSON *
kraken_rpc_envelope(const char *body, size_t len, cJSON **id, cJSON **method,
    cJSON **params, const char **why)
{
    cJSON  *root;

    if (len == 0) {
        *why = "EOF";
        return NULL;
    }

    root = cJSON_ParseWithLengthOpts(body, len, NULL, 0);
    if (root == NULL) {
        *why = "invalid JSON";
        return NULL;
    }

    if (!cJSON_IsObject(root) && !cJSON_IsNull(root)) {
        *why = "json: the call must be an object";
        cJSON_Delete(root);
        return NULL;
    }

    *id = cJSON_GetObjectItemCaseSensitive(root, "id");
    *method = cJSON_GetObjectItemCaseSensitive(root, "method");
    *params = cJSON_GetObjectItemCaseSensitive(root, "params");

    if (*id && !cJSON_IsString(*id) && !cJSON_IsNull(*id)) {
        *why = "json: id must be a string";
        cJSON_Delete(root);
        return NULL;
    }

    if (*method && !cJSON_IsString(*method) && !cJSON_IsNull(*method)) {
        *why = "json: method must be a string";
        cJSON_Delete(root);
        return NULL;
    }

    if (*params && !cJSON_IsArray(*params) && !cJSON_IsNull(*params)) {
        *why = "json: params must be an array";
        cJSON_Delete(root);
        return NULL;
    }

    return root;
}


/*
 * {"data": data} on success (code 0; data is taken over), else
 * {"error": {"status", "code", "description"}}; "id" when not empty.
 */

static int
kraken_rpc_render(cJSON *data, int code, const char *description, cJSON *id,
    char **out, size_t *outlen)
{
    cJSON  *reply, *e;

    *out = NULL;
    *outlen = 0;

    reply = cJSON_CreateObject();
    if (reply == NULL) {
        cJSON_Delete(data);
        return -1;
    }

    if (code == 0) {
        cJSON_AddItemToObject(reply, "data", data);

    } else {
        e = cJSON_AddObjectToObject(reply, "error");
        if (e) {
            cJSON_AddNumberToObject(e, "status", kraken_error_status(code));
            cJSON_AddNumberToObject(e, "code", code);
            cJSON_AddStringToObject(e, "description", description);
        }
    }

    /* Kraken omits an empty id */
    if (cJSON_IsString(id) && id->valuestring[0]) {
        cJSON_AddStringToObject(reply, "id", id->valuestring);
    }

    *out = cJSON_PrintUnformatted(reply);
    *outlen = *out ? strlen(*out) : 0;
    cJSON_Delete(reply);

    return *out ? 0 : -1;
}


static const kraken_method_t *
kraken_rpc_method(cJSON *method)
{
    const char             *name;
    const kraken_method_t  *m;

    name = cJSON_IsString(method) ? method->valuestring : "";

    for (m = kraken_methods; m->name; m++) {
        if (strcmp(m->name, name) == 0) {
            break;
        }
    }

    return m;
}


/* the next NUL byte or "\u0000" escape of [p, end), or NULL */

static const char *
kraken_rpc_nul_at(const char *p, const char *end)
{
    for ( /* void */ ; p < end; p++) {
        if (*p == '\0'
            || (*p == '\\' && end - p >= 6 && memcmp(p + 1, "u0000", 5) == 0))
        {
            return p;
        }
    }

    return NULL;
}


/*
 * Which of the first 32 params are strings holding a NUL byte (bit i for
 * params[i]). cJSON takes a NUL byte into a string, and decodes "\u0000"
 * into one: such a string reads shorter than it is. The body is parsed
 * again with each NUL byte made 0x01 and each "\u0000" made "\u0001": a
 * string that reads longer there held a NUL. (Elsewhere, in "\\u0000" or
 * as whitespace, the change keeps every length and the structure.) Only
 * bodies holding a NUL pay for the second parse.
 */

static unsigned
kraken_rpc_nul(const char *body, size_t len, cJSON *params)
{
    int        i;
    char      *copy, *p;
    cJSON     *root, *alt, *a, *b;
    unsigned   mask;

    if (!cJSON_IsArray(params) || kraken_rpc_nul_at(body, body + len) == NULL)
    {
        return 0;
    }

    /* when it cannot be told, every id holds one: none is cut short */
    mask = ~0u;

    copy = malloc(len);
    if (copy == NULL) {
        return mask;
    }

    memcpy(copy, body, len);

    for (p = copy;
         (p = (char *) kraken_rpc_nul_at(p, copy + len)) != NULL;
         /* void */)
    {
        if (*p == '\0') {
            *p++ = '\1';

        } else {
            p[5] = '1';
            p += 6;
        }
    }

    root = cJSON_ParseWithLengthOpts(copy, len, NULL, 0);
    free(copy);

    alt = cJSON_GetObjectItemCaseSensitive(root, "params");

    if (cJSON_IsArray(alt)) {
        mask = 0;
        a = params->child;
        b = alt->child;

        for (i = 0; a && b && i < 32; i++, a = a->next, b = b->next) {
            if (cJSON_IsString(a) && cJSON_IsString(b)
                && strlen(a->valuestring) != strlen(b->valuestring))
            {
                mask |= 1u << i;
            }
        }
    }

    cJSON_Delete(root);

    return mask;
}


int
kraken_rpc_handle(kraken_rpc_ctx_t *ctx, const char *body, size_t len,
    char **out, size_t *outlen)
{
    int                     rc;
    cJSON                  *root, *id, *method, *params;
    const char             *why, *name;
    kraken_call_t           call;
    const kraken_method_t  *m;

    *out = NULL;
    *outlen = 0;

    id = method = params = NULL;

    root = kraken_rpc_envelope(body, len, &id, &method, &params, &why);
    if (root == NULL) {
        return kraken_rpc_bad(why, out, outlen);
    }

    memset(&call, 0, sizeof(call));
    call.ctx = ctx;
    call.params = cJSON_IsArray(params) ? params : NULL;
    call.nparams = call.params ? cJSON_GetArraySize(call.params) : 0;
    call.nul = kraken_rpc_nul(body, len, call.params);
    call.data = cJSON_CreateObject();

    name = cJSON_IsString(method) ? method->valuestring : "";

    for (m = kraken_methods; m->name; m++) {
        if (strcmp(m->name, name) == 0) {
            break;
        }
    }

    if (call.data == NULL) {
        rc = kraken_error_set(&call.err, KRAKEN_ERR_SERVER_NEW_PEER,
                              "out of memory");

    } else if (m->name == NULL) {
        rc = kraken_error_set(&call.err, KRAKEN_ERR_INVALID_PARAMS,
                              "invalid method %.200s", name);

    } else {
        rc = m->handler(&call);
    }

    if (rc == KRAKEN_OK) {
        /* the reply takes the data over */
        kraken_rpc_render(call.data, 0, NULL, id, out, outlen);

    } else {
        kraken_rpc_render(NULL, rc, call.err.description, id, out, outlen);
        cJSON_Delete(call.data);
    }

    cJSON_Delete(root);

    if (*out == NULL) {
        return kraken_rpc_reply(500, "{\"error\":\"server error\"}", out,
                                outlen);
    }

    return 200;
}


int
kraken_rpc_room(const char *body, size_t len, char *room, size_t cap)
{
    cJSON                  *root, *id, *method, *params, *rid;
    const char             *why;
    const kraken_method_t  *m;

    root = kraken_rpc_envelope(body, len, &id, &method, &params, &why);
    if (root == NULL) {
        return -1;
    }

    if (!cJSON_IsString(method) || !cJSON_IsArray(params)) {
        cJSON_Delete(root);
        return -1;
    }

    for (m = kraken_methods; m->name; m++) {
        if (strcmp(m->name, method->valuestring) == 0) {
            break;
        }
    }

    rid = cJSON_GetArrayItem(params, 0);

    if (m->name == NULL || !m->room || !cJSON_IsString(rid)
        || strlen(rid->valuestring) >= cap)
    {
        cJSON_Delete(root);
        return -1;
    }

    memcpy(room, rid->valuestring, strlen(rid->valuestring) + 1);
    cJSON_Delete(root);

    return 0;
}


int
kraken_rpc_bound(const char *body, size_t len, const char *identity,
    size_t identity_len, char **out, size_t *outlen)
{
    cJSON                  *root, *id, *method, *params, *uid;
    const char             *why;
    const kraken_method_t  *m;

    *out = NULL;
    *outlen = 0;

    root = kraken_rpc_envelope(body, len, &id, &method, &params, &why);
    if (root == NULL) {
        return 0;
    }

    m = kraken_rpc_method(method);
    uid = (m->name && m->uid >= 0) ? cJSON_GetArrayItem(params, m->uid)
                                   : NULL;

    if (!cJSON_IsString(uid)
        || (identity_len != 0
            && strlen(uid->valuestring) == identity_len
            && memcmp(uid->valuestring, identity, identity_len) == 0
            && !(kraken_rpc_nul(body, len, params) & (1u << m->uid))))
    {
        cJSON_Delete(root);
        return 0;
    }

    cJSON_Delete(root);

    return kraken_rpc_error(body, len, KRAKEN_ERR_INVALID_PARAMS,
                            "invalid uid, not bound to this caller", out,
                            outlen);
}


int
kraken_rpc_callback(const char *body, size_t len, const kraken_url_t *allow,
    size_t n, char **out, size_t *outlen)
{
    int                size, status;
    cJSON             *root, *id, *method, *params, *callback;
    const char        *why;
    kraken_rpc_ctx_t   ctx;

    *out = NULL;
    *outlen = 0;

    root = kraken_rpc_envelope(body, len, &id, &method, &params, &why);
    if (root == NULL) {
        return 0;
    }

    size = cJSON_GetArraySize(params);
    callback = (cJSON_IsString(method)
                && strcmp(method->valuestring, "publish") == 0 && size == 5)
               ? cJSON_GetArrayItem(params, 4) : NULL;

    /* only a callback that is (or hides behind a NUL) a url is screened */
    if (!cJSON_IsString(callback)
        || (callback->valuestring[0] == '\0'
            && !(kraken_rpc_nul(body, len, params) & (1u << 4))))
    {
        cJSON_Delete(root);
        return 0;
    }

    cJSON_Delete(root);

    memset(&ctx, 0, sizeof(kraken_rpc_ctx_t));
    ctx.allow = allow;
    ctx.nallow = n;
    ctx.screen = 1;

    status = kraken_rpc_handle(&ctx, body, len, out, outlen);

    if (ctx.screened && status == 200) {
        free(*out);
        *out = NULL;
        *outlen = 0;
        return 0;
    }

    return status;
}


int
kraken_rpc_error(const char *body, size_t len, int code,
    const char *description, char **out, size_t *outlen)
{
    cJSON       *root, *id, *method, *params;
    const char  *why;

    id = NULL;
    root = kraken_rpc_envelope(body, len, &id, &method, &params, &why);

    kraken_rpc_render(NULL, code, description, root ? id : NULL, out,
                      outlen);
    cJSON_Delete(root);

    if (*out == NULL) {
        return kraken_rpc_reply(500, "{\"error\":\"server error\"}", out,
                                outlen);
    }

    return 200;
}


int
kraken_rpc_http_error(const char *body, size_t len, int status, int code,
    char **out, size_t *outlen)
{
    cJSON       *root, *id, *method, *params, *reply, *e;
    const char  *why, *description;

    *out = NULL;
    *outlen = 0;

    if (kraken_error_http(status) == 0) {
        status = 500;
    }

    if (code == KRAKEN_ERR_PEER_NOT_FOUND) {
        description = "room not found";

    } else {
        code = kraken_error_http(status);
        description = kraken_error_http_description(status);
    }

    id = NULL;
    root = (body != NULL)
           ? kraken_rpc_envelope(body, len, &id, &method, &params, &why)
           : NULL;

    reply = cJSON_CreateObject();
    e = reply ? cJSON_AddObjectToObject(reply, "error") : NULL;

    if (e != NULL
        && cJSON_AddNumberToObject(e, "status", status) != NULL
        && cJSON_AddNumberToObject(e, "code", code) != NULL
        && cJSON_AddStringToObject(e, "description", description) != NULL
        && (!cJSON_IsString(id) || id->valuestring[0] == '\0'
            || cJSON_AddStringToObject(reply, "id", id->valuestring)
               != NULL))
    {
        *out = cJSON_PrintUnformatted(reply);
        *outlen = *out ? strlen(*out) : 0;
    }

    cJSON_Delete(reply);
    cJSON_Delete(root);

    return *out ? 0 : -1;
}
