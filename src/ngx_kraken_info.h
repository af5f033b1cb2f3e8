
/*
 * Copyright (C) ngx_kraken authors
 */


#ifndef _NGX_KRAKEN_INFO_H_INCLUDED_
#define _NGX_KRAKEN_INFO_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <cJSON.h>


/*
 * The engine's info hook (kraken_rpc_ctx_t's info, data the engine or
 * NULL): the whole engine, every live worker of the registry summed;
 * with details, where rooms live (each worker's pid, port and room ids).
 */
void ngx_kraken_info(void *data, cJSON *state, int details);


#endif /* _NGX_KRAKEN_INFO_H_INCLUDED_ */
