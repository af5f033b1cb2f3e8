/*
 * The JSON-RPC core without nginx: Kraken's id rule, the envelope, the
 * room a call is routed by, and the TURN credential.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

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


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_ids_round_trip_like_go_query_escaping),
        cmocka_unit_test(test_envelope_errors_are_400_and_calls_200),
        cmocka_unit_test(test_room_of_a_call_is_its_first_param),
        cmocka_unit_test(test_turn_credential_is_hmac_sha1_of_the_username),
    };

    return cmocka_run_group_tests_name("rpc", tests, NULL, NULL);
}
