/* placeholder: being written */
#include <stdlib.h>
#include "kraken_engine.h"

kraken_engine_t *
kraken_engine_create(const kraken_engine_conf_t *conf, char *err,
    size_t errlen)
{
    return NULL;
}

void kraken_engine_free(kraken_engine_t *e) {}
void kraken_engine_input(kraken_engine_t *e, const struct sockaddr *from,
    socklen_t fromlen, uint8_t *buf, size_t len, uint64_t now_ms) {}
void kraken_engine_flush(kraken_engine_t *e) {}
uint64_t kraken_engine_timer(kraken_engine_t *e, uint64_t now_ms)
{ return 100; }

static int
kraken_engine_stub(kraken_error_t *err)
{
    return kraken_error_set(err, KRAKEN_ERR_PEER_NOT_FOUND, "peer not found");
}

int kraken_engine_publish(kraken_engine_t *e, const char *rid,
    const char *uid, const char *sdp, int limit, const char *callback,
    uint64_t now_ms, char track[37], char **answer, kraken_error_t *err)
{ return kraken_error_set(err, KRAKEN_ERR_SERVER_NEW_PEER, "no media"); }
int kraken_engine_restart(kraken_engine_t *e, const char *rid,
    const char *uid, const char *cid, const char *sdp, uint64_t now_ms,
    char **answer, kraken_error_t *err) { return kraken_engine_stub(err); }
int kraken_engine_end(kraken_engine_t *e, const char *rid, const char *uid,
    const char *cid, uint64_t now_ms, kraken_error_t *err)
{ return kraken_engine_stub(err); }
int kraken_engine_trickle(kraken_engine_t *e, const char *rid,
    const char *uid, const char *cid, const char *candidate,
    kraken_error_t *err) { return kraken_engine_stub(err); }
int kraken_engine_subscribe(kraken_engine_t *e, const char *rid,
    const char *uid, const char *cid, uint64_t now_ms, char **offer,
    kraken_error_t *err) { return kraken_engine_stub(err); }
int kraken_engine_answer(kraken_engine_t *e, const char *rid,
    const char *uid, const char *cid, const char *sdp, uint64_t now_ms,
    kraken_error_t *err) { return kraken_engine_stub(err); }
int kraken_engine_list(kraken_engine_t *e, const char *rid, cJSON *peers)
{ return 0; }
void kraken_engine_stats(kraken_engine_t *e, kraken_engine_stats_t *st)
{ (void) e; (void) st; }
