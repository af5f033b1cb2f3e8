/*
 * loadgen: signaling with a Kraken-compatible server through its
 * JSON-RPC: publish, then subscribe polling; every renegotiation offer is
 * answered at once; `end` when a soak participant leaves.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "lg.h"


static char *lg_kraken_call(lg_part_t *p, const char *method, cJSON *params);
static cJSON *lg_kraken_data(lg_t *lg, lg_part_t *p, const char *method,
    int status, char *body, cJSON **root);
static char *lg_kraken_jsep(const char *type, const char *sdp);
static void lg_kraken_published(lg_t *lg, void *data, int status,
    char *body, size_t len);
static void lg_kraken_subscribed(lg_t *lg, void *data, int status,
    char *body, size_t len);
static void lg_kraken_answered(lg_t *lg, void *data, int status,
    char *body, size_t len);
static void lg_kraken_ended(lg_t *lg, void *data, int status,
    char *body, size_t len);
static int lg_kraken_joining(lg_t *lg, lg_part_t *p);


static char *
lg_kraken_call(lg_part_t *p, const char *method, cJSON *params)
{
    char    id[48];
    char   *out;
    cJSON  *req;

    req = cJSON_CreateObject();
    snprintf(id, sizeof(id), "%s-%s", p->uid, method);
    cJSON_AddStringToObject(req, "id", id);
    cJSON_AddStringToObject(req, "method", method);
    cJSON_AddItemToObject(req, "params", params);

    out = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);

    return out;
}


static char *
lg_kraken_jsep(const char *type, const char *sdp)
{
    char   *out;
    cJSON  *j;

    j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", type);
    cJSON_AddStringToObject(j, "sdp", sdp);
    out = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);

    return out;
}


void
lg_kraken_room_id(lg_t *lg, lg_part_t *p, char *buf, size_t size)
{
    snprintf(buf, size, "%s-%d", lg->conf.room_prefix, p->room->idx);
}


void
lg_kraken_start(lg_t *lg, lg_part_t *p)
{
    char    rid[96];
    char   *jsep, *body;
    char    sdp[4096];
    cJSON  *params;

    p->conn = lg_conn_new(lg, p);
    if (p->conn == NULL) {
        lg_fail(p, "no connection slot");
        return;
    }

    p->conn->talking = p->talker;

    if (lg_sdp_offer(lg, p->conn, LG_DIR_SENDRECV, sdp, sizeof(sdp)) == 0) {
        lg_fail(p, "offer too long");
        return;
    }

    lg_kraken_room_id(lg, p, rid, sizeof(rid));
    jsep = lg_kraken_jsep("offer", sdp);

    params = cJSON_CreateArray();
    cJSON_AddItemToArray(params, cJSON_CreateString(rid));
    cJSON_AddItemToArray(params, cJSON_CreateString(p->uid));
    cJSON_AddItemToArray(params, cJSON_CreateString(jsep));
    free(jsep);

    body = lg_kraken_call(p, "publish", params);

    p->busy = 1;
    p->t_join = lg->now;

    if (lg_http_request(lg->http, "POST", "/", body, 0,
                        lg_kraken_published, p)
        != 0)
    {
        lg_fail(p, "publish: cannot queue");
    }
}


/* The "data" member of a JSON-RPC result; NULL (and counted) on error. */

static cJSON *
lg_kraken_data(lg_t *lg, lg_part_t *p, const char *method, int status,
    char *body, cJSON **root)
{
    cJSON  *data, *err;
    char   *e;

    *root = NULL;

    if (status != 200 || body == NULL) {
        lg->rpc_errors++;
        lg_log(lg, "%s %s: HTTP %d", p->uid, method, status);
        return NULL;
    }

    *root = cJSON_Parse(body);
    if (*root == NULL) {
        lg->rpc_errors++;
        lg_log(lg, "%s %s: bad JSON", p->uid, method);
        return NULL;
    }

    err = cJSON_GetObjectItemCaseSensitive(*root, "error");
    if (err) {
        lg->rpc_errors++;
        e = cJSON_PrintUnformatted(err);
        lg_log(lg, "%s %s: error %s", p->uid, method, e ? e : "?");
        free(e);
        return NULL;
    }

    data = cJSON_GetObjectItemCaseSensitive(*root, "data");
    if (data == NULL) {
        lg->rpc_errors++;
        lg_log(lg, "%s %s: no data", p->uid, method);
    }

    return data;
}


static void
lg_kraken_published(lg_t *lg, void *arg, int status, char *body,
    size_t len)
{
    cJSON      *root, *data, *track, *sdp, *text;
    lg_part_t  *p;

    p = arg;
    p->busy = 0;

    if (p->gone) {
        /* it left before the answer: the server's connect timeout */
        return;
    }

    data = lg_kraken_data(lg, p, "publish", status, body, &root);
    if (data == NULL) {
        cJSON_Delete(root);
        lg_fail(p, "publish failed");
        return;
    }

    p->t_answer = lg->now;

    track = cJSON_GetObjectItemCaseSensitive(data, "track");
    sdp = cJSON_GetObjectItemCaseSensitive(data, "sdp");
    text = sdp ? cJSON_GetObjectItemCaseSensitive(sdp, "sdp") : NULL;

    if (!cJSON_IsString(track) || !cJSON_IsString(text)) {
        cJSON_Delete(root);
        lg_fail(p, "publish: no track or sdp in the result");
        return;
    }

    snprintf(p->track, sizeof(p->track), "%s", track->valuestring);

    if (lg_sdp_parse(lg->sdp, text->valuestring) != 0) {
        cJSON_Delete(root);
        lg_fail(p, "publish: cannot parse the answer");
        return;
    }

    cJSON_Delete(root);

    (void) lg_conn_remote(lg, p->conn, lg->sdp);

    p->next_poll = lg->now + (uint64_t) lg->conf.poll_join_ms * LG_MS;
}


static int
lg_kraken_joining(lg_t *lg, lg_part_t *p)
{
    uint32_t  want;

    want = (uint32_t) (lg->conf.talkers - (p->talker ? 1 : 0));

    return p->nstreams < want;
}


/* Subscribe polls of all participants, every 10 ms. */

void
lg_kraken_timers(lg_t *lg)
{
    int         i;
    char        rid[96];
    char       *body;
    cJSON      *params;
    lg_part_t  *p;

    for (i = 0; i < lg->nparts; i++) {
        p = &lg->parts[i];

        if (!p->started || p->failed || p->gone || p->busy
            || p->track[0] == '\0' || lg->now < p->next_poll)
        {
            continue;
        }

        lg_kraken_room_id(lg, p, rid, sizeof(rid));

        params = cJSON_CreateArray();
        cJSON_AddItemToArray(params, cJSON_CreateString(rid));
        cJSON_AddItemToArray(params, cJSON_CreateString(p->uid));
        cJSON_AddItemToArray(params, cJSON_CreateString(p->track));
        body = lg_kraken_call(p, "subscribe", params);

        p->busy = 1;
        (void) lg_http_request(lg->http, "POST", "/", body, 0,
                               lg_kraken_subscribed, p);
    }
}


static void
lg_kraken_subscribed(lg_t *lg, void *arg, int status, char *body,
    size_t len)
{
    char        rid[96];
    char       *jsep, *req;
    char       *answer;
    size_t      n;
    cJSON      *root, *data, *type, *sdp, *params;
    lg_part_t  *p;

    p = arg;
    p->busy = 0;

    if (p->gone) {
        return;
    }

    p->next_poll = lg->now + (uint64_t) (lg_kraken_joining(lg, p)
                                         ? lg->conf.poll_join_ms
                                         : lg->conf.poll_ms) * LG_MS;

    data = lg_kraken_data(lg, p, "subscribe", status, body, &root);
    if (data == NULL) {
        cJSON_Delete(root);
        return;
    }

    type = cJSON_GetObjectItemCaseSensitive(data, "type");
    sdp = cJSON_GetObjectItemCaseSensitive(data, "sdp");

    if (!cJSON_IsString(type) || strcmp(type->valuestring, "offer") != 0
        || !cJSON_IsString(sdp))
    {
        cJSON_Delete(root);
        return;
    }

    if (lg_sdp_parse(lg->sdp, sdp->valuestring) != 0) {
        cJSON_Delete(root);
        lg->rpc_errors++;
        lg_log(lg, "%s subscribe: cannot parse the offer", p->uid);
        return;
    }

    cJSON_Delete(root);

    n = 512 + (size_t) lg->sdp->nmedia * 512;
    answer = malloc(n);
    if (answer == NULL
        || lg_sdp_answer(lg, p->conn, lg->sdp, answer, n) == 0)
    {
        free(answer);
        lg->errors++;
        return;
    }

    (void) lg_conn_remote(lg, p->conn, lg->sdp);

    jsep = lg_kraken_jsep("answer", answer);
    free(answer);

    lg_kraken_room_id(lg, p, rid, sizeof(rid));
    params = cJSON_CreateArray();
    cJSON_AddItemToArray(params, cJSON_CreateString(rid));
    cJSON_AddItemToArray(params, cJSON_CreateString(p->uid));
    cJSON_AddItemToArray(params, cJSON_CreateString(p->track));
    cJSON_AddItemToArray(params, cJSON_CreateString(jsep));
    free(jsep);

    req = lg_kraken_call(p, "answer", params);

    p->busy = 1;
    (void) lg_http_request(lg->http, "POST", "/", req, 0,
                           lg_kraken_answered, p);
}


static void
lg_kraken_answered(lg_t *lg, void *arg, int status, char *body, size_t len)
{
    cJSON      *root, *data;
    lg_part_t  *p;

    p = arg;
    p->busy = 0;

    data = lg_kraken_data(lg, p, "answer", status, body, &root);
    cJSON_Delete(root);

    if (data != NULL) {
        /* the server may have more already: ask again soon */
        p->next_poll = lg->now + (uint64_t) (lg_kraken_joining(lg, p)
                                             ? 50 : lg->conf.poll_ms)
                                 * LG_MS;
    }
}


/* A soak participant leaves: `end`, once nothing else is in flight. */

void
lg_kraken_end(lg_t *lg, lg_part_t *p)
{
    char    rid[96];
    char   *body;
    cJSON  *params;

    lg_kraken_room_id(lg, p, rid, sizeof(rid));

    params = cJSON_CreateArray();
    cJSON_AddItemToArray(params, cJSON_CreateString(rid));
    cJSON_AddItemToArray(params, cJSON_CreateString(p->uid));
    cJSON_AddItemToArray(params, cJSON_CreateString(p->track));
    body = lg_kraken_call(p, "end", params);

    p->busy = 1;
    if (lg_http_request(lg->http, "POST", "/", body, 0, lg_kraken_ended, p)
        != 0)
    {
        p->busy = 0;
        lg->rpc_errors++;
    }
}


static void
lg_kraken_ended(lg_t *lg, void *arg, int status, char *body, size_t len)
{
    cJSON      *root, *data;
    lg_part_t  *p;

    p = arg;
    p->busy = 0;

    data = lg_kraken_data(lg, p, "end", status, body, &root);
    cJSON_Delete(root);

    if (data != NULL) {
        p->ended = 1;
    }
}
