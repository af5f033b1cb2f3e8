/*
 * The engine's log: a message goes to the log function the embedder
 * configured (nginx's error log in the module), or nowhere.
 */

#include <stdarg.h>
#include <stdio.h>

#include "kraken_engine_int.h"


void
kraken_log(kraken_engine_t *e, const char *fmt, ...)
{
    char     msg[512];
    va_list  ap;

    if (e->conf.log == NULL) {
        return;
    }

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    e->conf.log(e->conf.log_data, msg);
}
