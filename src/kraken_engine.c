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
