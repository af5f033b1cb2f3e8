/*
 * The engine's end, kraken_engine_shutdown(), with simulated browsers
 * (test/sim): every connected peer hears our DTLS close_notify, also one
 * whose SSL object was freed after the handshake, peers that never
 * connected hear nothing, and no peer is left.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kraken_dtls.h"
#include "kraken_engine.h"
#include "sim.h"


#define OPUS          111
#define LINGER        11000             /* past KRAKEN_DTLS_LINGER */

/* a DTLS record: content type alert, version DTLS 1.2 */
#define DTLS_ALERT    21


static sim_t  *sim;


static int
setup(void **state)
{
    sim = sim_new();
    assert_non_null(sim);

    sim->conf.random = sim_random;
    sim->conf.random_data = &sim->rng;

    assert_non_null(sim_engine(sim));

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


static void
join(int idx, const char *room, const char *uid)
{
    assert_int_equal(sim_publish(sim, idx, room, uid, OPUS), KRAKEN_OK);
    assert_int_equal(sim_connect(sim, idx), 0);
    assert_int_equal(sim_send(sim, idx, OPUS), 0);
}


/* The datagrams queued for client idx that are DTLS alert records. */

static int
alerts_for(int idx)
{
    int            i, n;
    sim_packet_t  *q;

    n = 0;

    for (i = 0; i < sim->nqueue; i++) {
        q = &sim->queue[i];

        if (q->to.sin_port == client(idx)->addr[client(idx)->from].sin_port
            && q->len > 13 && q->buf[0] == DTLS_ALERT
            && q->buf[1] == 0xfe && q->buf[2] == 0xfd)
        {
            n++;
        }
    }

    return n;
}


static int
active_peers(void)
{
    kraken_engine_stats_t  st;

    kraken_engine_stats(sim->engine, &st);

    return st.active_peers;
}


static void
test_shutdown_sends_each_connected_peer_a_close_notify(void **state)
{
    join(0, "room", "alice");
    join(1, "room", "bob");
    join(2, "other", "carol");

    assert_int_equal(active_peers(), 3);

    assert_int_equal(kraken_engine_shutdown(sim->engine, sim->now), 3);

    /* sent before shutdown returned, one alert record each */
    assert_int_equal(alerts_for(0), 1);
    assert_int_equal(alerts_for(1), 1);
    assert_int_equal(alerts_for(2), 1);

    sim_pump(sim);

    /* each client's own DTLS stack reads it as close_notify */
    assert_true(kraken_dtls_closed_by_peer(client(0)->dtls));
    assert_true(kraken_dtls_closed_by_peer(client(1)->dtls));
    assert_true(kraken_dtls_closed_by_peer(client(2)->dtls));
    assert_int_equal(kraken_dtls_state(client(0)->dtls), KRAKEN_DTLS_FAILED);
}


static void
test_shutdown_leaves_no_peer(void **state)
{
    join(0, "room", "alice");
    join(1, "room", "bob");

    (void) kraken_engine_shutdown(sim->engine, sim->now);
    sim_pump(sim);

    assert_int_equal(active_peers(), 0);
    assert_int_equal(sim_lookup(sim, 0), KRAKEN_ERR_PEER_CLOSED);
    assert_int_equal(sim_lookup(sim, 1), KRAKEN_ERR_PEER_CLOSED);

    /* nothing more reaches them: no media, no second alert */
    sim_advance(sim, 2000);
    assert_int_equal(sim->nqueue, 0);
}


static void
test_a_peer_past_the_dtls_linger_still_gets_its_close_notify(void **state)
{
    int  t;

    join(0, "room", "alice");

    /* its SSL object is freed 10 s after the keys; consent keeps it */
    for (t = 0; t < LINGER; t += 1000) {
        sim_check(sim, 0, client(0)->server_pwd);
        sim_advance(sim, 1000);
    }

    assert_int_equal(sim_lookup(sim, 0), KRAKEN_OK);

    /* our record layer moved on: the sealed alert still authenticates */
    assert_int_equal(kraken_engine_shutdown(sim->engine, sim->now), 1);
    assert_int_equal(alerts_for(0), 1);

    sim_pump(sim);

    assert_true(kraken_dtls_closed_by_peer(client(0)->dtls));
    assert_int_equal(active_peers(), 0);
}


static void
test_a_peer_that_never_connected_is_closed_without_a_datagram(void **state)
{
    int  dtls;

    assert_int_equal(sim_publish(sim, 0, "room", "alice", OPUS), KRAKEN_OK);
    join(1, "room", "bob");

    dtls = client(0)->dtls_at[0];

    assert_int_equal(kraken_engine_shutdown(sim->engine, sim->now), 1);
    assert_int_equal(alerts_for(0), 0);

    sim_pump(sim);

    assert_int_equal(client(0)->dtls_at[0], dtls);
    assert_int_equal(active_peers(), 0);
    assert_int_equal(sim_lookup(sim, 0), KRAKEN_ERR_PEER_CLOSED);
}


static void
test_shutdown_of_an_empty_engine_sends_nothing(void **state)
{
    assert_int_equal(kraken_engine_shutdown(sim->engine, sim->now), 0);
    assert_int_equal(sim->nqueue, 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup_teardown(
            test_shutdown_sends_each_connected_peer_a_close_notify,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_shutdown_leaves_no_peer,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_peer_past_the_dtls_linger_still_gets_its_close_notify,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_peer_that_never_connected_is_closed_without_a_datagram,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_shutdown_of_an_empty_engine_sends_nothing,
            setup, teardown),
    };

    return cmocka_run_group_tests_name("engine shutdown", tests, NULL, NULL);
}
