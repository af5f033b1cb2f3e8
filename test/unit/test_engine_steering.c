/*
 * Several engines behind one port (issue 13): an engine with a ufrag tag
 * hands out ufrags that name it, says which datagrams are another's
 * instead of dropping them, and tells its caller which client addresses
 * it admitted, so that the caller (the eBPF map, the workers' registry)
 * can steer their datagrams to it.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sim.h"


#define OPUS  111
#define TAG   37                        /* "cf" */

typedef struct {
    int                  added;         /* CHECKED */
    int                  proven;
    int                  removed;
    int                  live;
    uint16_t             refuse;        /* CHECKED of this port: -1 */
    struct sockaddr_in   last;
    int                  n;
    struct {
        int              event;
        uint16_t         port;          /* host order */
    }                    log[64];
} events_t;


static sim_t     *sim;
static events_t   ev;


static int
addr_event(void *data, const struct sockaddr *sa, socklen_t len, int event)
{
    events_t *e = data;

    assert_int_equal(len, sizeof(struct sockaddr_in));
    memcpy(&e->last, sa, sizeof(struct sockaddr_in));

    if (e->n < 64) {
        e->log[e->n].event = event;
        e->log[e->n].port = ntohs(e->last.sin_port);
        e->n++;
    }

    switch (event) {

    case KRAKEN_ADDR_CHECKED:
        if (e->refuse && e->refuse == ntohs(e->last.sin_port)) {
            return -1;
        }

        e->added++;
        e->live++;
        break;

    case KRAKEN_ADDR_PROVEN:
        e->proven++;
        break;

    case KRAKEN_ADDR_FORGOTTEN:
        e->removed++;
        e->live--;
        break;

    default:
        fail_msg("unknown address event %d", event);
    }

    return 0;
}


/* how often the log has event for port */
static int
events_of(int event, const struct sockaddr_in *sin)
{
    int  i, n;

    n = 0;

    for (i = 0; i < ev.n; i++) {
        if (ev.log[i].event == event
            && ev.log[i].port == ntohs(sin->sin_port))
        {
            n++;
        }
    }

    return n;
}


static int
setup(void **state)
{
    sim = sim_new();
    assert_non_null(sim);

    sim->conf.random = sim_random;
    sim->conf.random_data = &sim->rng;
    sim->conf.ufrag_tag = TAG;
    sim->conf.addr_event = addr_event;
    sim->conf.addr_event_data = &ev;
    memset(&ev, 0, sizeof(ev));

    return 0;
}


static int
teardown(void **state)
{
    sim_free(sim);
    sim = NULL;

    return 0;
}


static int
input_from(const struct sockaddr_in *from, uint8_t *buf, size_t len)
{
    int  rc;

    rc = kraken_engine_input(sim->engine, (const struct sockaddr *) from,
                             sizeof(struct sockaddr_in), buf, len, sim->now);
    kraken_engine_flush(sim->engine);
    sim_pump(sim);

    return rc;
}


static void
test_the_ufrags_an_engine_hands_out_carry_its_tag(void **state)
{
    size_t    len;
    uint8_t   check[512];

    assert_non_null(sim_engine(sim));
    assert_int_equal(sim_publish(sim, 0, "room", "alice", OPUS), KRAKEN_OK);

    assert_int_equal(sim->clients[0].server_ufrag[0], 'c');
    assert_int_equal(sim->clients[0].server_ufrag[1], 'f');

    len = sim_check_build(sim, 0, sim->clients[0].server_pwd, 1, check,
                          sizeof(check));
    assert_true(len > 0);
    assert_int_equal(kraken_engine_stun_tag(check, len), TAG);

    /* and the check is the engine's own: it connects */
    assert_int_equal(sim_connect(sim, 0), 0);
}


static void
test_stun_for_another_engine_is_foreign_and_not_counted(void **state)
{
    size_t                     len;
    uint8_t                    check[512];
    sim_client_t              *c;
    kraken_engine_counters_t   before, after;

    assert_non_null(sim_engine(sim));
    assert_int_equal(sim_publish(sim, 0, "room", "alice", OPUS), KRAKEN_OK);
    c = &sim->clients[0];

    /* the same check, for the engine tagged "ab" (1) */
    c->server_ufrag[0] = 'a';
    c->server_ufrag[1] = 'b';
    len = sim_check_build(sim, 0, c->server_pwd, 1, check, sizeof(check));
    assert_int_equal(kraken_engine_stun_tag(check, len), 1);

    before = sim_counters(sim);
    assert_int_equal(input_from(&c->addr[0], check, len),
                     KRAKEN_INPUT_FOREIGN);
    after = sim_counters(sim);
    assert_int_equal(after.stun_bad, before.stun_bad);
    assert_int_equal(c->stun_at[0], 0);
    assert_int_equal(ev.added, 0);

    /* nobody took it: dropped, and counted as the engine would */
    kraken_engine_drop(sim->engine, check, len);
    after = sim_counters(sim);
    assert_int_equal(after.stun_bad, before.stun_bad + 1);
}


static void
test_media_from_unknown_addresses_is_foreign_until_admitted(void **state)
{
    int                        before;
    size_t                     len;
    uint8_t                    buf[2048];
    sim_client_t              *c;
    kraken_engine_counters_t   ct;

    assert_non_null(sim_engine(sim));
    assert_int_equal(sim_publish(sim, 0, "room", "alice", OPUS), KRAKEN_OK);
    assert_int_equal(sim_publish(sim, 1, "room", "bob", OPUS), KRAKEN_OK);
    c = &sim->clients[0];

    memset(buf, 0, sizeof(buf));
    buf[0] = 0x80;
    buf[1] = OPUS;
    assert_int_equal(input_from(&c->addr[0], buf, 100),
                     KRAKEN_INPUT_FOREIGN);

    ct = sim_counters(sim);
    assert_int_equal(ct.unknown_source, 0);

    assert_int_equal(sim_connect(sim, 0), 0);
    assert_int_equal(sim_send(sim, 0, OPUS), 0);
    assert_int_equal(sim_connect(sim, 1), 0);
    assert_int_equal(sim_send(sim, 1, OPUS), 0);
    assert_int_equal(sim_subscribe(sim, 0, NULL), 1);
    assert_int_equal(sim_subscribe(sim, 1, NULL), 1);

    /* admitted: its SRTP is the engine's own and flows */
    before = sim->clients[1].received;
    assert_int_equal(sim_rtp(sim, 0, OPUS, c->seq++, c->ssrc, 100, buf,
                             sizeof(buf), &len), 0);
    assert_int_equal(input_from(&c->addr[0], buf, len), KRAKEN_INPUT_OK);
    assert_int_equal(sim->clients[1].received, before + 1);

    /* and the same bytes from its other address are not */
    assert_int_equal(input_from(&c->addr[1], buf, len),
                     KRAKEN_INPUT_FOREIGN);
}


static void
test_an_indication_without_username_stays_with_the_engine(void **state)
{
    uint8_t  ind[20] = { 0x00, 0x11, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42,
                         1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

    assert_non_null(sim_engine(sim));
    assert_int_equal(sim_publish(sim, 0, "room", "alice", OPUS), KRAKEN_OK);
    assert_int_equal(sim_connect(sim, 0), 0);

    assert_int_equal(kraken_engine_stun_tag(ind, sizeof(ind)), 0);
    assert_int_equal(input_from(&sim->clients[0].addr[0], ind, sizeof(ind)),
                     KRAKEN_INPUT_OK);
}


static void
test_admitted_addresses_are_announced_and_withdrawn(void **state)
{
    kraken_error_t  err;

    assert_non_null(sim_engine(sim));
    assert_int_equal(sim_publish(sim, 0, "room", "alice", OPUS), KRAKEN_OK);
    assert_int_equal(sim_connect(sim, 0), 0);

    assert_int_equal(ev.added, 1);
    assert_int_equal(ev.proven, 1);
    assert_int_equal(ev.live, 1);
    assert_memory_equal(&ev.last.sin_addr, &sim->clients[0].addr[0].sin_addr,
                        4);
    assert_int_equal(ev.last.sin_port, sim->clients[0].addr[0].sin_port);

    /* a check from a second address makes a probe: announced too */
    sim->clients[0].from = 1;
    sim_check(sim, 0, sim->clients[0].server_pwd);
    sim_pump(sim);
    assert_int_equal(ev.live, 2);

    /* the peer ends: every address it had is withdrawn */
    assert_int_equal(kraken_engine_end(sim->engine, "room", "alice",
                                       sim->clients[0].track, sim->now,
                                       &err), KRAKEN_OK);
    assert_int_equal(ev.live, 0);
    assert_int_equal(ev.removed, ev.added);
}


static void
test_an_engine_without_tag_drops_what_it_does_not_know(void **state)
{
    uint8_t                    buf[100];
    struct sockaddr_in         from;
    kraken_engine_counters_t   ct;

    sim->conf.ufrag_tag = 0;
    assert_non_null(sim_engine(sim));

    memset(buf, 0, sizeof(buf));
    buf[0] = 0x80;
    memset(&from, 0, sizeof(from));
    from.sin_family = AF_INET;
    from.sin_port = htons(4242);
    from.sin_addr.s_addr = htonl(0x7f000001);

    assert_int_equal(input_from(&from, buf, sizeof(buf)), KRAKEN_INPUT_OK);
    ct = sim_counters(sim);
    assert_int_equal(ct.unknown_source, 1);
}


static void
test_the_tag_parser_survives_hostile_stun(void **state)
{
    uint8_t  m[64];

    /* a USERNAME whose length runs past the message */
    memset(m, 0, sizeof(m));
    m[1] = 0x01;
    m[3] = 8;
    m[4] = 0x21; m[5] = 0x12; m[6] = 0xa4; m[7] = 0x42;
    m[20] = 0x00; m[21] = 0x06; m[22] = 0xff; m[23] = 0xff;
    m[24] = 'c'; m[25] = 'f';
    assert_int_equal(kraken_engine_stun_tag(m, 28), TAG);
    assert_int_equal(kraken_engine_stun_tag(m, 25), 0);
    assert_int_equal(kraken_engine_stun_tag(m, 19), 0);

    /* a message length larger than the datagram: what is there counts */
    m[3] = 200;
    assert_int_equal(kraken_engine_stun_tag(m, 26), TAG);

    /* letters beyond 'p' are no tag */
    m[24] = 'q';
    assert_int_equal(kraken_engine_stun_tag(m, 28), 0);

    /* an attribute length that wraps the walk does not loop */
    m[21] = 0x24;
    m[22] = 0xff; m[23] = 0xfc;
    assert_int_equal(kraken_engine_stun_tag(m, sizeof(m)), 0);
}


/*
 * Issue 17: a check proves only that its sender holds some peer's ICE
 * credentials, which anyone can have for a peer of their own, and can be
 * sent from a spoofed address. The engine says which addresses the
 * peer's keys proved, so that the shared steering tables never let a
 * mere check win over another worker's peer.
 */

static void
test_a_check_is_announced_as_checked_and_the_keys_prove_it(void **state)
{
    sim_client_t  *c;

    assert_non_null(sim_engine(sim));
    assert_int_equal(sim_publish(sim, 0, "room", "alice", OPUS), KRAKEN_OK);
    c = &sim->clients[0];

    sim_check(sim, 0, c->server_pwd);
    sim_pump(sim);

    assert_int_equal(ev.added, 1);
    assert_int_equal(ev.proven, 0);
    assert_int_equal(events_of(KRAKEN_ADDR_CHECKED, &c->addr[0]), 1);

    /* consent checks from the same address announce nothing new */
    sim_check(sim, 0, c->server_pwd);
    sim_pump(sim);
    assert_int_equal(ev.n, 1);

    /* the DTLS handshake ends from it: proven, once */
    assert_int_equal(sim_handshake(sim, 0), 0);
    assert_int_equal(ev.proven, 1);
    assert_int_equal(events_of(KRAKEN_ADDR_PROVEN, &c->addr[0]), 1);

    assert_int_equal(sim_send(sim, 0, OPUS), 0);
    assert_int_equal(sim_send(sim, 0, OPUS), 0);
    assert_int_equal(ev.proven, 1);
    assert_int_equal(ev.live, 1);
}


static void
test_an_address_an_attacker_checked_is_never_proven(void **state)
{
    int                  i;
    uint8_t              buf[200];
    sim_client_t        *eve;
    kraken_error_t       err;
    struct sockaddr_in   alice;

    assert_non_null(sim_engine(sim));

    /* Eve publishes with her own credentials */
    assert_int_equal(sim_publish(sim, 1, "room", "eve", OPUS), KRAKEN_OK);
    eve = &sim->clients[1];

    /* and signs a check from the address of a peer of another engine */
    memset(&alice, 0, sizeof(alice));
    alice.sin_family = AF_INET;
    alice.sin_addr.s_addr = htonl(0x7f000001);
    alice.sin_port = htons(51000);
    eve->addr[1] = alice;
    eve->from = 1;

    sim_check(sim, 1, eve->server_pwd);
    sim_pump(sim);
    assert_int_equal(events_of(KRAKEN_ADDR_CHECKED, &alice), 1);

    /* Alice's SRTP, which Eve's keys cannot authenticate, and DTLS junk */
    for (i = 0; i < 50; i++) {
        memset(buf, i, sizeof(buf));
        buf[0] = 0x80;
        buf[1] = OPUS;
        sim_input_from(sim, &alice, buf, sizeof(buf));
        buf[0] = 23;
        sim_input_from(sim, &alice, buf, sizeof(buf));
    }

    assert_int_equal(ev.proven, 0);

    /* Eve's handshake from her own address proves hers, not Alice's */
    eve->from = 0;
    assert_int_equal(sim_connect(sim, 1), 0);
    assert_int_equal(events_of(KRAKEN_ADDR_PROVEN, &eve->addr[0]), 1);
    assert_int_equal(events_of(KRAKEN_ADDR_PROVEN, &alice), 0);

    /* forgotten when Eve's peer lets it go */
    assert_int_equal(events_of(KRAKEN_ADDR_FORGOTTEN, &alice), 1);

    assert_int_equal(kraken_engine_end(sim->engine, "room", "eve",
                                       eve->track, sim->now, &err),
                     KRAKEN_OK);
    assert_int_equal(ev.live, 0);
}


static void
test_a_new_address_is_proven_by_media_and_never_let_go_between(void **state)
{
    int            i;
    sim_client_t  *c;

    assert_non_null(sim_engine(sim));
    assert_int_equal(sim_publish(sim, 0, "room", "alice", OPUS), KRAKEN_OK);
    assert_int_equal(sim_connect(sim, 0), 0);
    c = &sim->clients[0];

    /* NAT rebinding: a check from a new address makes a probe */
    c->from = 1;
    sim_check(sim, 0, c->server_pwd);
    sim_pump(sim);
    assert_int_equal(events_of(KRAKEN_ADDR_CHECKED, &c->addr[1]), 1);
    assert_int_equal(events_of(KRAKEN_ADDR_PROVEN, &c->addr[1]), 0);

    /* authentic media from it: the path, proven, the old one forgotten */
    assert_int_equal(sim_send(sim, 0, OPUS), 0);
    assert_int_equal(events_of(KRAKEN_ADDR_PROVEN, &c->addr[1]), 1);
    assert_int_equal(events_of(KRAKEN_ADDR_FORGOTTEN, &c->addr[0]), 1);
    assert_int_equal(ev.live, 1);

    /* the new address was claimed all along: never forgotten between */
    assert_int_equal(events_of(KRAKEN_ADDR_FORGOTTEN, &c->addr[1]), 0);

    for (i = 0; i < ev.n; i++) {
        if (ev.log[i].port == ntohs(c->addr[1].sin_port)) {
            assert_int_not_equal(ev.log[i].event, KRAKEN_ADDR_FORGOTTEN);
        }
    }

    /* and the way back */
    c->from = 0;
    sim_check(sim, 0, c->server_pwd);
    sim_pump(sim);
    assert_int_equal(sim_send(sim, 0, OPUS), 0);
    assert_int_equal(events_of(KRAKEN_ADDR_PROVEN, &c->addr[0]), 2);
    assert_int_equal(events_of(KRAKEN_ADDR_FORGOTTEN, &c->addr[1]), 1);
    assert_int_equal(ev.live, 1);
}


/*
 * The caller says another engine's peer has the address (the shared
 * steering tables refused the claim): the check is dropped unanswered,
 * the address is not admitted (its datagrams are foreign), and it gives
 * no consent.
 */

static void
test_a_check_from_an_address_the_caller_refuses_is_dropped(void **state)
{
    uint8_t                    buf[200];
    sim_client_t              *eve;
    kraken_engine_counters_t   ct;

    assert_non_null(sim_engine(sim));
    assert_int_equal(sim_publish(sim, 1, "room", "eve", OPUS), KRAKEN_OK);
    eve = &sim->clients[1];

    /* Alice's address, which a peer of another engine has */
    ev.refuse = ntohs(eve->addr[1].sin_port);
    eve->from = 1;

    sim_check(sim, 1, eve->server_pwd);
    sim_pump(sim);

    ct = sim_counters(sim);
    assert_int_equal(ct.stun_addr_refused, 1);
    assert_int_equal(eve->stun_at[1], 0);
    assert_int_equal(ev.added, 0);
    assert_int_equal(ev.n, 1);

    memset(buf, 0, sizeof(buf));
    buf[0] = 0x80;
    buf[1] = OPUS;
    assert_int_equal(input_from(&eve->addr[1], buf, sizeof(buf)),
                     KRAKEN_INPUT_FOREIGN);

    /* Eve from her own address connects as ever */
    eve->from = 0;
    assert_int_equal(sim_connect(sim, 1), 0);
    assert_int_equal(eve->stun_at[0], 1);

    /* and a probe from the refused address is not made either */
    eve->from = 1;
    sim_check(sim, 1, eve->server_pwd);
    sim_pump(sim);
    ct = sim_counters(sim);
    assert_int_equal(ct.stun_addr_refused, 2);
    assert_int_equal(eve->stun_at[1], 0);
    assert_int_equal(ev.live, 1);

    eve->from = 0;
    assert_int_equal(sim_send(sim, 1, OPUS), 0);
    assert_int_equal(events_of(KRAKEN_ADDR_PROVEN, &eve->addr[1]), 0);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_the_ufrags_an_engine_hands_out_carry_its_tag,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_stun_for_another_engine_is_foreign_and_not_counted,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_media_from_unknown_addresses_is_foreign_until_admitted,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_an_indication_without_username_stays_with_the_engine,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_admitted_addresses_are_announced_and_withdrawn,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_an_engine_without_tag_drops_what_it_does_not_know,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_the_tag_parser_survives_hostile_stun,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_check_is_announced_as_checked_and_the_keys_prove_it,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_an_address_an_attacker_checked_is_never_proven,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_new_address_is_proven_by_media_and_never_let_go_between,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_check_from_an_address_the_caller_refuses_is_dropped,
            setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
