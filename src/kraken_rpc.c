/* placeholder: being written */
#include <stdlib.h>
#include <string.h>
#include "kraken_rpc.h"

int
kraken_rpc_handle(kraken_rpc_ctx_t *ctx, const char *body, size_t len,
    char **out, size_t *outlen)
{
    *out = strdup("{\"error\":\"not yet\"}");
    *outlen = strlen(*out);
    return 400;
}
