/*
 * libFuzzer: a JSON-RPC body through Kraken's envelope and parameter
 * checks against a real engine (no network: its datagrams go nowhere).
 */

#include <stdint.h>
#include <stdlib.h>

#include "kraken_rpc.h"


static void
fuzz_send(void *data, kraken_datagram_t *dg, int n)
{
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                     *out, room[300], err[256];
    size_t                    len;
    kraken_rpc_ctx_t          ctx;
    kraken_engine_conf_t      conf;
    static kraken_engine_t   *engine;
    static uint64_t           now = 1;

    if (engine == NULL) {
        conf = (kraken_engine_conf_t) { 0 };
        conf.announce_ip = "127.0.0.1";
        conf.port = 9;
        conf.consent_timeout = 1000;
        conf.connect_timeout = 1000;
        conf.closed_peer_time = 1000;
        conf.send = fuzz_send;
        engine = kraken_engine_create(&conf, err, sizeof(err));
    }

    ctx = (kraken_rpc_ctx_t) { 0 };
    ctx.engine = engine;
    ctx.now = 1700000000;
    ctx.now_ms = now;
    ctx.turn_url = "turn:t";
    ctx.turn_secret = "s";

    out = NULL;
    (void) kraken_rpc_handle(&ctx, (const char *) data, size, &out, &len);
    free(out);
    (void) kraken_rpc_room((const char *) data, size, room, sizeof(room));

    /* let timeouts expire peers now and then, so state stays bounded */
    now += 50;
    kraken_engine_timer(engine, now);

    return 0;
}
