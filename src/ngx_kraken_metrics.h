
/*
 * Copyright (C) ngx_kraken authors
 */


#ifndef _NGX_KRAKEN_METRICS_H_INCLUDED_
#define _NGX_KRAKEN_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * kraken_metrics: the figures of every live worker of the registry in
 * Prometheus's text format, each series with its worker's slot.
 */
ngx_int_t ngx_kraken_metrics_handler(ngx_http_request_t *r);

/*
 * Counts an RPC call this worker answered: its method as the body names
 * it (empty: none), and its answer: 0 for success, a Kraken error code,
 * or the HTTP status of an answer that is not Kraken's.
 */
void ngx_kraken_metrics_rpc(ngx_str_t *method, ngx_uint_t code);


#endif /* _NGX_KRAKEN_METRICS_H_INCLUDED_ */
