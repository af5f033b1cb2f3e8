/*
 * Kraken's on-track callback in the engine: the first Opus packet of a
 * publisher that published with a callback url asks the caller once
 * (conf.ontrack), the publisher's audio reaches nobody until the caller
 * answers, an admission forwards it from then on and a refusal closes
 * the peer. The request itself, and its deadline, are the caller's.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kraken_engine.h"
#include "sim.h"


#define OPUS  111
#define URL   "https://app.example/kraken/ontrack"


/* what the hook was asked, and how it answers: -1 later, 0 or 1 at once */
typedef struct {
    int    calls;
    int    answer;
    char   rid[64];
    char   uid[64];
    char   cid[37];
    char   url[256];
} ontrack_t;


static sim_t      *sim;
static ontrack_t   hook;


static void
ontrack(void *data, const char *rid, const char *uid, const char *cid,
    const char *url)
{
    ontrack_t  *h;

    h = data;
    h->calls++;
    snprintf(h->rid, sizeof(h->rid), "%s", rid);
    snprintf(h->uid, sizeof(h->uid), "%s", uid);
    snprintf(h->cid, sizeof(h->cid), "%s", cid);
    snprintf(h->url, sizeof(h->url), "%s", url);

    if (h->answer >= 0) {
        assert_int_equal(kraken_engine_callback_done(sim->engine, rid, uid,
                                                     cid, h->answer,
                                                     sim->now),
                         KRAKEN_OK);
    }
}


static int
setup(void **state)
{
    sim = sim_new();
    assert_non_null(sim);

    memset(&hook, 0, sizeof(hook));
    hook.answer = -1;
    sim->conf.ontrack = ontrack;
    sim->conf.ontrack_data = &hook;

    return 0;
}


static int
teardown(void **state)
{
    sim_free(sim);
    sim = NULL;

    return 0;
}


static sim_client_t *
client(int idx)
{
    return &sim->clients[idx];
}


/* Publishes (with callback, or none when NULL), connects, sends once. */

static void
join(int idx, const char *uid, const char *callback)
{
    sim->callback = callback;
    assert_int_equal(sim_publish(sim, idx, "room", uid, OPUS), KRAKEN_OK);
    sim->callback = NULL;
    assert_int_equal(sim_connect(sim, idx), 0);
    assert_int_equal(sim_send(sim, idx, OPUS), 0);
}


static int
flows(int from, int to)
{
    int  before;

    before = client(to)->received;
    assert_int_equal(sim_send(sim, from, OPUS), 0);

    return client(to)->received - before;
}


static int
done(int idx, int ok)
{
    return kraken_engine_callback_done(sim->engine, "room", client(idx)->uid,
                                       client(idx)->track, ok, sim->now);
}


static void
test_the_callback_is_called_once_per_track_with_its_ids(void **state)
{
    int  i;

    assert_non_null(sim_engine(sim));

    join(0, "alice", URL);
    assert_int_equal(hook.calls, 1);
    assert_string_equal(hook.rid, "room");
    assert_string_equal(hook.uid, "alice");
    assert_string_equal(hook.cid, client(0)->track);
    assert_string_equal(hook.url, URL);

    /* more packets while it waits, and after it: no second call */
    for (i = 0; i < 5; i++) {
        assert_int_equal(sim_send(sim, 0, OPUS), 0);
    }

    assert_int_equal(done(0, 1), KRAKEN_OK);

    for (i = 0; i < 5; i++) {
        assert_int_equal(sim_send(sim, 0, OPUS), 0);
    }

    assert_int_equal(hook.calls, 1);
    assert_int_equal(sim_counters(sim).callback_calls, 1);

    /* a publisher without a callback is never asked about */
    join(1, "bob", NULL);
    join(2, "carol", "");
    assert_int_equal(hook.calls, 1);

    /* a republish is a new track: asked once more, with its new cid */
    join(0, "alice", URL);
    assert_int_equal(hook.calls, 2);
    assert_string_equal(hook.cid, client(0)->track);
}


static void
test_audio_reaches_others_only_after_the_callback_admits_it(void **state)
{
    kraken_engine_counters_t  ct;

    assert_non_null(sim_engine(sim));

    join(0, "alice", URL);
    join(1, "bob", NULL);
    assert_int_equal(sim_subscribe(sim, 1, NULL), 1);
    assert_int_equal(sim_subscribe(sim, 0, NULL), 1);

    /* held: bob hears nothing of alice, alice hears bob */
    assert_int_equal(flows(0, 1), 0);
    assert_int_equal(flows(0, 1), 0);
    assert_int_equal(flows(1, 0), 1);
    assert_int_equal(sim_lookup(sim, 0), KRAKEN_OK);

    ct = sim_counters(sim);
    assert_true(ct.callback_held >= 3);

    assert_int_equal(done(0, 1), KRAKEN_OK);
    assert_int_equal(flows(0, 1), 1);
    assert_int_equal(flows(0, 1), 1);

    ct = sim_counters(sim);
    assert_int_equal(ct.callback_admitted, 1);
    assert_int_equal(ct.callback_refused, 0);

    /* answered once: a second answer finds nobody waiting */
    assert_int_not_equal(done(0, 1), KRAKEN_OK);
    assert_int_not_equal(done(0, 0), KRAKEN_OK);
    assert_int_equal(flows(0, 1), 1);
}


static void
test_a_refused_callback_closes_the_publisher(void **state)
{
    assert_non_null(sim_engine(sim));

    join(0, "alice", URL);
    join(1, "bob", NULL);
    assert_int_equal(sim_subscribe(sim, 1, NULL), 1);

    assert_int_equal(done(0, 0), KRAKEN_OK);
    assert_int_equal(sim_lookup(sim, 0), KRAKEN_ERR_PEER_CLOSED);
    assert_int_equal(sim_counters(sim).callback_refused, 1);
    assert_int_equal(sim_lookup(sim, 1), KRAKEN_OK);
}


static void
test_an_answer_given_within_the_hook_is_taken(void **state)
{
    assert_non_null(sim_engine(sim));

    join(1, "bob", NULL);

    /* admitted at once */
    hook.answer = 1;
    join(0, "alice", URL);
    assert_int_equal(sim_subscribe(sim, 1, NULL), 1);
    assert_int_equal(flows(0, 1), 1);
    assert_int_equal(hook.calls, 1);
    assert_int_equal(sim_counters(sim).callback_admitted, 1);

    /* refused at once (a caller with too many requests in flight) */
    hook.answer = 0;
    join(2, "carol", URL);
    assert_int_equal(hook.calls, 2);
    assert_int_equal(sim_lookup(sim, 2), KRAKEN_ERR_PEER_CLOSED);
    assert_int_equal(sim_counters(sim).callback_refused, 1);
}


static void
test_an_answer_for_a_gone_peer_does_nothing(void **state)
{
    kraken_error_t  err;
    char            old[37];

    assert_non_null(sim_engine(sim));

    /* closed meanwhile */
    join(0, "alice", URL);
    assert_int_equal(kraken_engine_end(sim->engine, "room", "alice",
                                       client(0)->track, sim->now, &err),
                     KRAKEN_OK);
    assert_int_equal(done(0, 1), KRAKEN_ERR_PEER_CLOSED);

    /* replaced meanwhile: the old track's answer admits nobody */
    join(1, "bob", URL);
    memcpy(old, client(1)->track, sizeof(old));
    join(1, "bob", URL);
    assert_int_equal(kraken_engine_callback_done(sim->engine, "room", "bob",
                                                 old, 1, sim->now),
                     KRAKEN_ERR_TRACK_NOT_FOUND);
    assert_int_equal(hook.calls, 3);

    join(2, "carol", NULL);
    assert_int_equal(sim_subscribe(sim, 2, NULL), 1);
    assert_int_equal(flows(1, 2), 0);
    assert_int_equal(sim_counters(sim).callback_admitted, 0);
}


static void
test_a_callback_without_an_ontrack_hook_is_invalid_params(void **state)
{
    sim->conf.ontrack = NULL;
    assert_non_null(sim_engine(sim));

    sim->callback = URL;
    assert_int_equal(sim_publish(sim, 0, "room", "alice", OPUS),
                     KRAKEN_ERR_INVALID_PARAMS);
    sim->callback = "";
    assert_int_equal(sim_publish(sim, 0, "room", "alice", OPUS), KRAKEN_OK);
    sim->callback = NULL;
}


/* Kraken's limit counts the room's live peers with a callback too */

static void
test_limit_holds_with_a_callback(void **state)
{
    char            *answer, track[37];
    const char      *uids[] = { "a", "b", "c" };
    kraken_error_t   err;
    int              i, rc;

    assert_non_null(sim_engine(sim));

    for (i = 0; i < 3; i++) {
        sim_client_init(sim, i);
        answer = NULL;
        rc = kraken_engine_publish(sim->engine, "room", uids[i],
                                   sim_offer(sim, i, OPUS, "0"), 2, URL,
                                   sim->now, track, &answer, &err);
        free(answer);
        assert_int_equal(rc, i < 2 ? KRAKEN_OK : KRAKEN_ERR_ROOM_FULL);
    }

    /* a republish of a member replaces it and is not counted twice */
    sim_client_init(sim, 0);
    answer = NULL;
    rc = kraken_engine_publish(sim->engine, "room", "a",
                               sim_offer(sim, 0, OPUS, "0"), 2, URL,
                               sim->now, track, &answer, &err);
    free(answer);
    assert_int_equal(rc, KRAKEN_OK);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup_teardown(test_limit_holds_with_a_callback,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_the_callback_is_called_once_per_track_with_its_ids, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_audio_reaches_others_only_after_the_callback_admits_it,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_refused_callback_closes_the_publisher, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_an_answer_given_within_the_hook_is_taken, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_an_answer_for_a_gone_peer_does_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_callback_without_an_ontrack_hook_is_invalid_params, setup,
            teardown),
    };

    return cmocka_run_group_tests_name("engine_callback", tests, NULL, NULL);
}
