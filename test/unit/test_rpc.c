/*
 * The JSON-RPC core without nginx: Kraken's id rule, the envelope, the
 * room a call is routed by, the TURN credential, ids holding a NUL, the
 * uid binding, publish's limit without a callback and the privacy of
 * info.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kraken_error.h"
#include "kraken_id.h"
#include "kraken_rpc.h"
#include "kraken_turn.h"


static void
test_ids_round_trip_like_go_query_escaping(void **state)
{
    char         err[128];
    size_t       i;
    const char  *good[] = { "", "room-1", "a.b_c~d", "a+b",
                            "uuid%3Abase64%3D%3D", "%2B", "%E4%BD%A0" };
    const char  *bad[] = { "a b", "a%3a", "a%zz", "a%", "a%4", "%41",
                           "%20", "caf\xc3\xa9", "a/b", "a:b" };
    char         long_id[KRAKEN_ID_MAX + 2];

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(kraken_id_check(good[i], strlen(good[i]), err,
                                         sizeof(err)), 0);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(kraken_id_check(bad[i], strlen(bad[i]), err,
                                         sizeof(err)), -1);
    }

    memset(long_id, 'x', sizeof(long_id));
    assert_int_equal(kraken_id_check(long_id, KRAKEN_ID_MAX, err,
                                     sizeof(err)), 0);
    assert_int_equal(kraken_id_check(long_id, KRAKEN_ID_MAX + 1, err,
                                     sizeof(err)), -1);
}


static int
call(const char *body, char **out)
{
    size_t            len;
    kraken_rpc_ctx_t  ctx;

    memset(&ctx, 0, sizeof(ctx));
    ctx.now = 1700000000;

    return kraken_rpc_handle(&ctx, body, strlen(body), out, &len);
}


static void
test_envelope_errors_are_400_and_calls_200(void **state)
{
    char  *out;

    assert_int_equal(call("", &out), 400);
    assert_non_null(strstr(out, "\"error\""));
    free(out);

    assert_int_equal(call("{\"id\":1}", &out), 400);
    free(out);

    assert_int_equal(call("{\"params\":{}}", &out), 400);
    free(out);

    assert_int_equal(call("{\"id\":\"7\",\"method\":\"nope\"}", &out), 200);
    assert_string_equal(out, "{\"error\":{\"status\":202,\"code\":5001000,"
                        "\"description\":\"invalid method nope\"},"
                        "\"id\":\"7\"}");
    free(out);

    /* without a media plane the media methods say so, with Kraken's 500 */
    assert_int_equal(call("{\"id\":\"8\",\"method\":\"end\","
                          "\"params\":[\"r\",\"u\",\"c\"]}", &out), 200);
    assert_non_null(strstr(out, "5003000"));
    assert_non_null(strstr(out, "\"status\":500"));
    free(out);
}


static void
test_room_of_a_call_is_its_first_param(void **state)
{
    char         room[KRAKEN_ID_MAX + 1];
    const char  *sub = "{\"method\":\"subscribe\",\"params\":[\"r1\",\"u\"]}";
    const char  *info = "{\"method\":\"info\",\"params\":[\"r1\"]}";
    const char  *num = "{\"method\":\"list\",\"params\":[1]}";

    assert_int_equal(kraken_rpc_room(sub, strlen(sub), room, sizeof(room)),
                     0);
    assert_string_equal(room, "r1");
    assert_int_equal(kraken_rpc_room(info, strlen(info), room,
                                     sizeof(room)), -1);
    assert_int_equal(kraken_rpc_room(num, strlen(num), room, sizeof(room)),
                     -1);
    assert_int_equal(kraken_rpc_room("{", 1, room, sizeof(room)), -1);
}


static void
test_turn_credential_is_hmac_sha1_of_the_username(void **state)
{
    cJSON  *s, *e;

    s = cJSON_CreateArray();
    assert_int_equal(kraken_turn_credentials("turn:t:3478", "secret", "u",
                                             1000, s), 0);
    assert_int_equal(cJSON_GetArraySize(s), 2);

    e = cJSON_GetArrayItem(s, 0);
    assert_string_equal(cJSON_GetObjectItem(e, "username")->valuestring,
                        "4600:u");
    /* printf -n 4600:u | openssl dgst -sha1 -hmac secret -binary | base64 */
    assert_string_equal(cJSON_GetObjectItem(e, "credential")->valuestring,
                        "VdUwk1YRWMI5uoD4ke/GyuOqvD4=");
    assert_string_equal(cJSON_GetObjectItem(e, "urls")->valuestring,
                        "turn:t:3478?transport=udp");
    cJSON_Delete(s);

    s = cJSON_CreateArray();
    assert_int_equal(kraken_turn_credentials(NULL, NULL, "u", 1000, s), 0);
    assert_int_equal(cJSON_GetArraySize(s), 0);
    cJSON_Delete(s);
}


/* the error code of an answer (0: data), and its description */

static int
code_of(const char *out, char *description, size_t cap)
{
    int     code;
    cJSON  *j, *e, *c, *d;

    j = cJSON_Parse(out);
    assert_non_null(j);

    code = 0;
    e = cJSON_GetObjectItem(j, "error");

    if (e) {
        c = cJSON_GetObjectItem(e, "code");
        d = cJSON_GetObjectItem(e, "description");
        assert_true(cJSON_IsNumber(c) && cJSON_IsString(d));
        code = c->valueint;

        if (description) {
            snprintf(description, cap, "%s", d->valuestring);
        }

    } else {
        assert_non_null(cJSON_GetObjectItem(j, "data"));
    }

    cJSON_Delete(j);

    return code;
}


static int
call_code(const char *body, size_t len, char *description, size_t cap)
{
    int               code;
    char             *out;
    size_t            outlen;
    kraken_rpc_ctx_t  ctx;

    memset(&ctx, 0, sizeof(ctx));
    ctx.now = 1700000000;

    assert_int_equal(kraken_rpc_handle(&ctx, body, len, &out, &outlen), 200);
    code = code_of(out, description, cap);
    free(out);

    return code;
}


#define CALL_CODE(body, d)  call_code(body, sizeof(body) - 1, d, sizeof(d))


static void
test_ids_holding_a_nul_are_invalid_params(void **state)
{
    char  d[256];

    /* without a media plane a well-formed id reaches the engine check */
    assert_int_equal(CALL_CODE("{\"method\":\"end\","
                               "\"params\":[\"r\",\"u\",\"c\"]}", d),
                     5003000);

    /* "\u0000" in the room, the uid, the track of every method */
    assert_int_equal(CALL_CODE("{\"method\":\"end\","
                               "\"params\":[\"r\\u0000x\",\"u\",\"c\"]}", d),
                     5001000);
    assert_string_equal(d, "invalid rid format contains a NUL byte");
    assert_int_equal(CALL_CODE("{\"method\":\"subscribe\","
                               "\"params\":[\"r\",\"u\\u0000\",\"c\"]}", d),
                     5001000);
    assert_string_equal(d, "invalid uid format contains a NUL byte");
    assert_int_equal(CALL_CODE("{\"method\":\"trickle\","
                               "\"params\":[\"r\",\"u\",\"\\u0000c\","
                               "\"null\"]}", d),
                     5001000);
    assert_string_equal(d, "invalid cid format contains a NUL byte");
    assert_int_equal(CALL_CODE("{\"method\":\"answer\","
                               "\"params\":[\"r\",\"u\",\"c\\u0000\","
                               "\"{\\\"type\\\":\\\"answer\\\"}\"]}", d),
                     5001000);
    assert_int_equal(CALL_CODE("{\"method\":\"restart\","
                               "\"params\":[\"r\\u0000\",\"u\",\"c\",\"o\"]}",
                               d),
                     5001000);
    assert_int_equal(CALL_CODE("{\"method\":\"publish\","
                               "\"params\":[\"r\",\"u\\u0000v\",\"x\"]}", d),
                     5001000);
    assert_string_equal(d, "invalid uid format contains a NUL byte");
    assert_int_equal(CALL_CODE("{\"method\":\"publish\","
                               "\"params\":[\"r\\u0000\",\"u\",\"x\"]}", d),
                     5001000);
    assert_string_equal(d, "invalid rid format contains a NUL byte");

    /* list and turn, which answer data without a media plane */
    assert_int_equal(CALL_CODE("{\"method\":\"list\","
                               "\"params\":[\"r\"]}", d), 0);
    assert_int_equal(CALL_CODE("{\"method\":\"list\","
                               "\"params\":[\"r\\u0000s\"]}", d), 5001000);
    assert_int_equal(CALL_CODE("{\"method\":\"turn\","
                               "\"params\":[\"u\"]}", d), 0);
    assert_int_equal(CALL_CODE("{\"method\":\"turn\","
                               "\"params\":[\"u\\u0000\"]}", d), 5001000);

    /* a raw NUL byte, which cJSON takes into the string as well */
    assert_int_equal(CALL_CODE("{\"method\":\"list\","
                               "\"params\":[\"r\0s\"]}", d), 5001000);
    assert_int_equal(CALL_CODE("{\"method\":\"list\",\0"
                               "\"params\":[\"r\"]}", d), 0);

    /* "\\u0000" is a backslash and "u0000": no NUL */
    assert_int_equal(CALL_CODE("{\"method\":\"end\","
                               "\"params\":[\"r\\\\u0000\",\"u\",\"c\"]}", d),
                     5003000);

    /* a NUL in a param that is not an id is not an id error */
    assert_int_equal(CALL_CODE("{\"method\":\"trickle\","
                               "\"params\":[\"r\",\"u\",\"c\","
                               "\"null\\u0000\"]}", d), 0);
}


/* kraken_rpc_bound(): 0 when the call may run, else its 5001000 */

static int
bound(const char *body, const char *identity, char *description,
    size_t cap)
{
    int     status, code;
    char   *out;
    size_t  outlen;

    status = kraken_rpc_bound(body, strlen(body), identity, strlen(identity),
                              &out, &outlen);
    if (status == 0) {
        assert_null(out);
        return 0;
    }

    assert_int_equal(status, 200);
    assert_non_null(out);
    code = code_of(out, description, cap);
    assert_non_null(strstr(out, "\"id\":\"b\""));
    free(out);

    return code;
}


static void
test_uid_binding_refuses_calls_naming_another_uid(void **state)
{
    char          d[256];
    size_t        i;
    const char   *with_uid[] = {
        "{\"id\":\"b\",\"method\":\"publish\","
        "\"params\":[\"r\",\"alice\",\"o\"]}",
        "{\"id\":\"b\",\"method\":\"subscribe\","
        "\"params\":[\"r\",\"alice\",\"t\"]}",
        "{\"id\":\"b\",\"method\":\"answer\","
        "\"params\":[\"r\",\"alice\",\"t\",\"a\"]}",
        "{\"id\":\"b\",\"method\":\"trickle\","
        "\"params\":[\"r\",\"alice\",\"t\",\"null\"]}",
        "{\"id\":\"b\",\"method\":\"restart\","
        "\"params\":[\"r\",\"alice\",\"t\",\"o\"]}",
        "{\"id\":\"b\",\"method\":\"end\","
        "\"params\":[\"r\",\"alice\",\"t\"]}",
        "{\"id\":\"b\",\"method\":\"turn\",\"params\":[\"alice\"]}",
    };
    const char   *without_uid[] = {
        "{\"id\":\"b\",\"method\":\"info\",\"params\":[]}",
        "{\"id\":\"b\",\"method\":\"list\",\"params\":[\"alice\"]}",
        "{\"id\":\"b\",\"method\":\"fly\","
        "\"params\":[\"r\",\"alice\"]}",
        /* not calls, or a uid that is not a string: the method refuses */
        "{\"id\":\"b\",\"method\":",
        "{\"id\":\"b\",\"method\":\"end\",\"params\":[\"r\",1,\"t\"]}",
        "{\"id\":\"b\",\"method\":\"end\",\"params\":[\"r\"]}",
    };

    for (i = 0; i < sizeof(with_uid) / sizeof(with_uid[0]); i++) {
        assert_int_equal(bound(with_uid[i], "alice", d, sizeof(d)), 0);
        assert_int_equal(bound(with_uid[i], "bob", d, sizeof(d)), 5001000);
        assert_string_equal(d, "invalid uid, not bound to this caller");
        assert_int_equal(bound(with_uid[i], "alic", d, sizeof(d)), 5001000);
        assert_int_equal(bound(with_uid[i], "alice2", d, sizeof(d)),
                         5001000);

        /* no identity: no uid at all */
        assert_int_equal(bound(with_uid[i], "", d, sizeof(d)), 5001000);
    }

    for (i = 0; i < sizeof(without_uid) / sizeof(without_uid[0]); i++) {
        assert_int_equal(bound(without_uid[i], "", d, sizeof(d)), 0);
        assert_int_equal(bound(without_uid[i], "bob", d, sizeof(d)), 0);
    }

    /* a NUL cannot make "alice\0x" pass for alice */
    assert_int_equal(bound("{\"id\":\"b\",\"method\":\"end\","
                           "\"params\":[\"r\",\"alice\\u0000x\",\"t\"]}",
                           "alice", d, sizeof(d)), 5001000);
}


static int  info_details_seen;


static void
fake_info(void *data, cJSON *state, int details)
{
    info_details_seen = details;

    cJSON_AddNumberToObject(state, "active_rooms", 1);

    if (details) {
        cJSON_AddArrayToObject(state, "workers");
    }
}


static void
test_publish_takes_limit_with_an_empty_callback(void **state)
{
    char  d[256];

    /* without a media plane, a call that passed its checks is 5003000 */
    assert_int_equal(CALL_CODE("{\"method\":\"publish\",\"params\":[\"r\","
                               "\"u\",\"{\\\"type\\\":\\\"offer\\\","
                               "\\\"sdp\\\":\\\"v=0\\\"}\",2,\"\"]}", d),
                     5003000);
    assert_int_equal(CALL_CODE("{\"method\":\"publish\",\"params\":[\"r\","
                               "\"u\",\"{\\\"type\\\":\\\"offer\\\","
                               "\\\"sdp\\\":\\\"v=0\\\"}\",\"2\",\"\"]}",
                               d),
                     5003000);

    /* a limit that is not an integer, a callback not https: Kraken's */
    assert_int_equal(CALL_CODE("{\"method\":\"publish\",\"params\":[\"r\","
                               "\"u\",\"o\",\"2x\",\"\"]}", d), 5001000);
    assert_int_equal(CALL_CODE("{\"method\":\"publish\",\"params\":[\"r\","
                               "\"u\",\"o\",2,\"http://a\"]}", d), 5001000);
    assert_string_equal(d, "invalid callback value http://a");
}


/* kraken_rpc_callback(): 0 when the call may run, else its 5001000 */

static char  allowed_why[256];

static int
allowed(const char *callback, const char **prefixes, size_t n)
{
    int            status, code;
    char          *out, body[512], d[256];
    size_t         i, outlen;
    kraken_url_t   allow[4];

    for (i = 0; i < n; i++) {
        assert_int_equal(kraken_url_parse(prefixes[i], strlen(prefixes[i]),
                                          &allow[i], d, sizeof(d)), 0);
    }

    snprintf(body, sizeof(body), "{\"id\":\"b\",\"method\":\"publish\","
             "\"params\":[\"r\",\"u\",\"{\\\"type\\\":\\\"offer\\\","
             "\\\"sdp\\\":\\\"v=0\\\"}\",0,%s]}", callback);

    status = kraken_rpc_callback(body, strlen(body), allow, n, &out,
                                 &outlen);
    if (status == 0) {
        assert_null(out);
        return 0;
    }

    assert_int_equal(status, 200);
    assert_non_null(out);
    code = code_of(out, allowed_why, sizeof(allowed_why));
    assert_non_null(strstr(out, "\"id\":\"b\""));
    free(out);

    return code;
}


static void
test_a_callback_outside_the_allowlist_is_invalid_params(void **state)
{
    char        *out;
    size_t       len;
    const char  *two[] = { "https://app.example/kraken/",
                           "https://127.0.0.1:8443/cb" };

    const char  *why = "invalid callback, not allowed";

    /* no allowlist: only an empty callback */
    assert_int_equal(allowed("\"\"", NULL, 0), 0);
    assert_int_equal(allowed("\"https://app.example/kraken/x\"", NULL, 0),
                     5001000);
    assert_string_equal(allowed_why, why);

    assert_int_equal(allowed("\"\"", two, 2), 0);
    assert_int_equal(allowed("\"https://app.example/kraken/x\"", two, 2), 0);
    assert_int_equal(allowed("\"https://127.0.0.1:8443/cb?t=1\"", two, 2),
                     0);
    assert_int_equal(allowed("\"https://127.0.0.1:8443/cbx\"", two, 2),
                     5001000);
    assert_string_equal(allowed_why, why);
    assert_int_equal(allowed("\"https://app.example@evil/kraken/\"", two,
                             2), 5001000);
    assert_int_equal(allowed("\"https://app.example/kraken/../admin\"", two,
                             2), 5001000);
    assert_int_equal(allowed("\"http://app.example/kraken/x\"", two, 2),
                     5001000);
    assert_string_equal(allowed_why,
                        "invalid callback value http://app.example/kraken/x");

    /* a NUL cannot cut a callback down to an allowed or an empty one */
    assert_int_equal(allowed("\"https://app.example/kraken/x\\u0000@e\"",
                             two, 2), 5001000);
    assert_int_equal(allowed("\"\\u0000https://evil/\"", two, 2), 5001000);

    /* not a string: left to the call's own checks */
    assert_int_equal(allowed("7", NULL, 0), 0);

    /* Kraken's order of checks: a bad limit is reported first */
    assert_int_equal(kraken_rpc_callback("{\"method\":\"publish\","
                                         "\"params\":[\"r\",\"u\",\"o\","
                                         "\"2x\",\"https://x/\"]}", 61,
                                         NULL, 0, &out, &len), 200);
    assert_int_equal(code_of(out, allowed_why, sizeof(allowed_why)),
                     5001000);
    assert_non_null(strstr(allowed_why, "limit"));
    free(out);
}


static void
test_info_asks_for_details_only_when_configured(void **state)
{
    char              *out;
    size_t             len;
    const char        *body = "{\"method\":\"info\",\"params\":[]}";
    kraken_rpc_ctx_t   ctx;

    memset(&ctx, 0, sizeof(ctx));
    ctx.now = 1700000000;
    ctx.info = fake_info;

    info_details_seen = -1;
    assert_int_equal(kraken_rpc_handle(&ctx, body, strlen(body), &out, &len),
                     200);
    assert_int_equal(info_details_seen, 0);
    assert_null(strstr(out, "workers"));
    free(out);

    ctx.info_details = 1;
    assert_int_equal(kraken_rpc_handle(&ctx, body, strlen(body), &out, &len),
                     200);
    assert_int_equal(info_details_seen, 1);
    assert_non_null(strstr(out, "workers"));
    free(out);
}


static void
test_nginx_made_errors_are_envelopes_with_their_status(void **state)
{
    char    *out;
    size_t   len;

    static const char  call[] =
        "{\"id\":\"c1\",\"method\":\"trickle\",\"params\":[]}";

    (void) state;

    /* a 429 before the body was read: no id, 5001429, status 429 */
    assert_int_equal(kraken_rpc_http_error(NULL, 0, 429, 0, &out, &len), 0);
    assert_string_equal(out, "{\"error\":{\"status\":429,"
                        "\"code\":5001429,\"description\":"
                        "\"too many requests, slow down and retry\"}}");
    assert_int_equal(len, strlen(out));
    free(out);

    /* a 502 on a front, the call read: its id */
    assert_int_equal(kraken_rpc_http_error(call, sizeof(call) - 1, 502, 0,
                                           &out, &len), 0);
    assert_non_null(strstr(out, "\"id\":\"c1\""));
    assert_non_null(strstr(out, "\"status\":502,\"code\":5003502,"));
    free(out);

    /* a body that is not a call: no id; a status out of range: 500 */
    assert_int_equal(kraken_rpc_http_error("{\"id\":", 6, 302, 0, &out,
                                           &len), 0);
    assert_string_equal(out, "{\"error\":{\"status\":500,"
                        "\"code\":5003500,\"description\":"
                        "\"internal server error\"}}");
    free(out);

    /* a front's 404 from the engines: Kraken's "not found", no engine */
    assert_int_equal(kraken_rpc_http_error(call, sizeof(call) - 1, 404,
                                           KRAKEN_ERR_PEER_NOT_FOUND, &out,
                                           &len), 0);
    assert_string_equal(out, "{\"error\":{\"status\":404,"
                        "\"code\":5002001,\"description\":"
                        "\"room not found\"},\"id\":\"c1\"}");
    free(out);

    assert_int_equal(kraken_error_status(5001413), 413);
    assert_int_equal(kraken_error_status(5003504), 504);
    assert_int_equal(kraken_error_status(5003000), 500);
    assert_int_equal(kraken_error_status(5001000), 202);
    assert_int_equal(kraken_error_http(399), 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_ids_round_trip_like_go_query_escaping),
        cmocka_unit_test(test_envelope_errors_are_400_and_calls_200),
        cmocka_unit_test(test_room_of_a_call_is_its_first_param),
        cmocka_unit_test(test_turn_credential_is_hmac_sha1_of_the_username),
        cmocka_unit_test(test_ids_holding_a_nul_are_invalid_params),
        cmocka_unit_test(test_uid_binding_refuses_calls_naming_another_uid),
        cmocka_unit_test(
            test_a_callback_outside_the_allowlist_is_invalid_params),
        cmocka_unit_test(test_publish_takes_limit_with_an_empty_callback),
        cmocka_unit_test(test_info_asks_for_details_only_when_configured),
        cmocka_unit_test(
            test_nginx_made_errors_are_envelopes_with_their_status),
    };

    return cmocka_run_group_tests_name("rpc", tests, NULL, NULL);
}
