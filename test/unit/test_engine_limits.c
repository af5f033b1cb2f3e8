/*
 * How many may join a room: Kraken's publish limit, taken through the
 * JSON-RPC into the engine (the room's other live peers against it, a
 * republish not counted twice), and the streams a participant can
 * receive (kraken_peer_streams): the publish a room could not deliver
 * to everyone is refused, and everyone already there keeps hearing
 * everyone.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cJSON.h>

#include "kraken_engine.h"
#include "kraken_rpc.h"
#include "kraken_sdp.h"
#include "sim.h"


#define OPUS  111


static sim_t  *sim;


static int
setup(void **state)
{
    sim = sim_new();
    assert_non_null(sim);

    return 0;
}


static int
teardown(void **state)
{
    sim_free(sim);
    sim = NULL;

    return 0;
}


/*
 * publish [room, uid, offer, limit, callback] through the JSON-RPC, as
 * client idx: the Kraken code (0: published), the description in d.
 */

static int
rpc_publish(int idx, const char *uid, cJSON *limit, const char *callback,
    char *d, size_t cap)
{
    int                code;
    char              *body, *out, *jsep;
    size_t             len;
    cJSON             *call, *params, *offer, *res, *err, *c, *desc;
    kraken_rpc_ctx_t   ctx;

    sim_client_init(sim, idx);

    offer = cJSON_CreateObject();
    assert_non_null(offer);
    cJSON_AddStringToObject(offer, "type", "offer");
    cJSON_AddStringToObject(offer, "sdp", sim_offer(sim, idx, OPUS, "0"));
    jsep = cJSON_PrintUnformatted(offer);
    assert_non_null(jsep);
    cJSON_Delete(offer);

    call = cJSON_CreateObject();
    assert_non_null(call);
    cJSON_AddStringToObject(call, "id", "1");
    cJSON_AddStringToObject(call, "method", "publish");
    params = cJSON_AddArrayToObject(call, "params");
    cJSON_AddItemToArray(params, cJSON_CreateString("room"));
    cJSON_AddItemToArray(params, cJSON_CreateString(uid));
    cJSON_AddItemToArray(params, cJSON_CreateString(jsep));

    if (limit) {
        cJSON_AddItemToArray(params, limit);
        cJSON_AddItemToArray(params, cJSON_CreateString(callback));
    }

    body = cJSON_PrintUnformatted(call);
    assert_non_null(body);
    cJSON_Delete(call);
    free(jsep);

    memset(&ctx, 0, sizeof(ctx));
    ctx.engine = sim->engine;
    ctx.now = 1700000000;
    ctx.now_ms = sim->now;

    assert_int_equal(kraken_rpc_handle(&ctx, body, strlen(body), &out, &len),
                     200);
    free(body);

    res = cJSON_Parse(out);
    assert_non_null(res);
    free(out);

    code = 0;
    d[0] = '\0';
    err = cJSON_GetObjectItem(res, "error");

    if (err) {
        c = cJSON_GetObjectItem(err, "code");
        desc = cJSON_GetObjectItem(err, "description");
        assert_true(cJSON_IsNumber(c) && cJSON_IsString(desc));
        code = c->valueint;
        snprintf(d, cap, "%s", desc->valuestring);

    } else {
        c = cJSON_GetObjectItem(cJSON_GetObjectItem(res, "data"), "track");
        assert_true(cJSON_IsString(c));
        snprintf(sim->clients[idx].track, sizeof(sim->clients[idx].track),
                 "%s", c->valuestring);
    }

    cJSON_Delete(res);

    return code;
}


static void
test_limit_counts_the_other_live_peers(void **state)
{
    char            d[256];
    kraken_error_t  err;

    assert_non_null(sim_engine(sim));

    /* limit 2, an empty callback (none): two may be there, not three */
    assert_int_equal(rpc_publish(0, "alice", cJSON_CreateNumber(2), "",
                                 d, sizeof(d)), 0);
    assert_int_equal(rpc_publish(1, "bob", cJSON_CreateString("2"), "",
                                 d, sizeof(d)), 0);
    assert_int_equal(rpc_publish(2, "carol", cJSON_CreateNumber(2), "",
                                 d, sizeof(d)), KRAKEN_ERR_ROOM_FULL);
    assert_string_equal(d, "room full 0");

    /* the limit is the caller's: none, 0 or a negative one lets it in */
    assert_int_equal(rpc_publish(3, "dave", NULL, NULL, d, sizeof(d)), 0);
    assert_int_equal(rpc_publish(4, "erin", cJSON_CreateNumber(0), "",
                                 d, sizeof(d)), 0);
    assert_int_equal(rpc_publish(5, "frank", cJSON_CreateString("-1"), "",
                                 d, sizeof(d)), 0);

    /* five others: limit 5 is full, 6 is not */
    assert_int_equal(rpc_publish(2, "carol", cJSON_CreateNumber(5), "",
                                 d, sizeof(d)), KRAKEN_ERR_ROOM_FULL);
    assert_int_equal(rpc_publish(2, "carol", cJSON_CreateNumber(6), "",
                                 d, sizeof(d)), 0);

    /* a closed peer is not counted */
    assert_int_equal(kraken_engine_end(sim->engine, "room", "frank",
                                       sim->clients[5].track, sim->now,
                                       &err),
                     KRAKEN_OK);
    assert_int_equal(rpc_publish(5, "grace", cJSON_CreateNumber(6), "",
                                 d, sizeof(d)), 0);

    /* invalid limits are Kraken's invalid params */
    assert_int_equal(rpc_publish(6, "heidi", cJSON_CreateString("2x"), "",
                                 d, sizeof(d)), KRAKEN_ERR_INVALID_PARAMS);
    assert_int_equal(rpc_publish(6, "heidi", cJSON_CreateNumber(1.5), "",
                                 d, sizeof(d)), KRAKEN_ERR_INVALID_PARAMS);
}


static void
test_limit_does_not_count_a_republished_uid_twice(void **state)
{
    char  d[256];

    assert_non_null(sim_engine(sim));

    assert_int_equal(rpc_publish(0, "alice", cJSON_CreateNumber(2), "",
                                 d, sizeof(d)), 0);
    assert_int_equal(rpc_publish(1, "bob", cJSON_CreateNumber(2), "",
                                 d, sizeof(d)), 0);

    /* bob again, alice the only other: it replaces bob's peer */
    assert_int_equal(rpc_publish(2, "bob", cJSON_CreateNumber(2), "",
                                 d, sizeof(d)), 0);
    assert_int_equal(rpc_publish(3, "alice", cJSON_CreateNumber(2), "",
                                 d, sizeof(d)), 0);
    assert_int_equal(rpc_publish(4, "carol", cJSON_CreateNumber(2), "",
                                 d, sizeof(d)), KRAKEN_ERR_ROOM_FULL);

    /* a callback is still refused, limit or not */
    assert_int_equal(rpc_publish(4, "carol", cJSON_CreateNumber(9),
                                 "https://example.org/cb", d, sizeof(d)),
                     KRAKEN_ERR_INVALID_PARAMS);
    assert_string_equal(d, "callback not supported");
}


/* Clients 0..n-1 in "room", connected, sending, subscribed. */

static void
room_of(int n)
{
    int   i;
    char  uid[16];

    for (i = 0; i < n; i++) {
        snprintf(uid, sizeof(uid), "u%d", i);
        assert_int_equal(sim_publish(sim, i, "room", uid, OPUS), KRAKEN_OK);
        assert_int_equal(sim_connect(sim, i), 0);
    }

    for (i = 0; i < n; i++) {
        assert_int_equal(sim_send(sim, i, OPUS), 0);
    }

    for (i = 0; i < n; i++) {
        assert_int_not_equal(sim_subscribe(sim, i, NULL), -1);
    }
}


/* A packet from 'from' reaches 'to'. */

static int
flows(int from, int to)
{
    int  before;

    before = sim->clients[to].received;
    assert_int_equal(sim_send(sim, from, OPUS), 0);

    return sim->clients[to].received - before;
}


static void
everyone_hears_everyone(int n)
{
    int  i, j;

    for (i = 0; i < n; i++) {
        for (j = 0; j < n; j++) {
            if (i != j) {
                assert_int_equal(flows(i, j), 1);
            }
        }
    }
}


static void
test_a_publish_past_the_peer_streams_is_room_full(void **state)
{
    int                       rc;
    kraken_error_t            err;
    kraken_engine_counters_t  ct;

    sim->conf.max_peer_streams = 3;
    assert_non_null(sim_engine(sim));

    /* four: each receives the three others */
    room_of(4);
    everyone_hears_everyone(4);

    /* a fifth would receive four, and be a fourth stream to the others */
    sim_client_init(sim, 4);
    rc = sim_publish_sdp(sim, 4, "room", "u4", sim_offer(sim, 4, OPUS, "0"),
                         &err);
    assert_int_equal(rc, KRAKEN_ERR_ROOM_FULL);
    assert_non_null(strstr(err.description, "receives at most 3 streams"));
    ct = sim_counters(sim);
    assert_int_equal(ct.bounds_hit, 1);

    /* nobody was left out */
    everyone_hears_everyone(4);

    /* a member publishing again takes its own place */
    assert_int_equal(sim_publish(sim, 1, "room", "u1", OPUS), KRAKEN_OK);
    assert_int_equal(sim_connect(sim, 1), 0);
    assert_int_equal(sim_send(sim, 1, OPUS), 0);
    assert_int_equal(sim_subscribe(sim, 0, NULL), 1);
    assert_int_equal(sim_subscribe(sim, 1, NULL), 1);
    assert_int_equal(sim_subscribe(sim, 2, NULL), 1);
    assert_int_equal(sim_subscribe(sim, 3, NULL), 1);
    everyone_hears_everyone(4);

    /* once one leaves, there is a place again */
    assert_int_equal(kraken_engine_end(sim->engine, "room", "u3",
                                       sim->clients[3].track, sim->now,
                                       &err),
                     KRAKEN_OK);
    assert_int_equal(sim_publish(sim, 4, "room", "u4", OPUS), KRAKEN_OK);
}


/*
 * The m-lines a session can hold bound it too: a newcomer whose offer
 * brings many rejected m-lines is refused before its answer or a later
 * subscribe offer would be too large to parse.
 */

static void
test_a_session_that_could_not_hold_the_room_is_room_full(void **state)
{
    int             i, rc;
    char           *sdp;
    size_t          len, cap;
    kraken_error_t  err;

    assert_non_null(sim_engine(sim));
    room_of(2);

    cap = 65536;
    sdp = malloc(cap);
    assert_non_null(sdp);

    /* audio and 126 rejected video m-lines: 127, plus 2 others */
    sim_client_init(sim, 2);
    len = (size_t) snprintf(sdp, cap, "%s", sim_offer(sim, 2, OPUS, "0"));

    for (i = 0; i < KRAKEN_SDP_MAX_MEDIA - 2; i++) {
        len += (size_t) snprintf(sdp + len, cap - len,
                                 "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
                                 "a=mid:v%d\r\na=rtpmap:96 VP8/90000\r\n",
                                 i);
        assert_true(len < cap);
    }

    rc = sim_publish_sdp(sim, 2, "room", "u2", sdp, &err);
    assert_int_equal(rc, KRAKEN_ERR_ROOM_FULL);
    assert_non_null(strstr(err.description, "m-lines"));

    everyone_hears_everyone(2);
    free(sdp);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup_teardown(
            test_limit_counts_the_other_live_peers, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_limit_does_not_count_a_republished_uid_twice, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_a_publish_past_the_peer_streams_is_room_full, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_a_session_that_could_not_hold_the_room_is_room_full, setup,
            teardown),
    };

    return cmocka_run_group_tests_name("engine_limits", tests, NULL, NULL);
}
