
/*
 * Copyright (C) ngx_kraken authors
 */


#ifndef _NGX_KRAKEN_CALLBACK_H_INCLUDED_
#define _NGX_KRAKEN_CALLBACK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* the on-track requests' settings, from the http block */
typedef struct {
    ngx_msec_t               timeout;       /* kraken_callback_timeout */
    ngx_int_t                pending;       /* kraken_callback_pending */
    ngx_str_t                trusted;       /* ..._trusted_certificate */
    ngx_ssl_t               *ssl;           /* NULL: no requests */
    ngx_resolver_t          *resolver;      /* the http block's, or NULL */
} ngx_kraken_callback_conf_t;


/* The HTTP part hands its settings over in each worker. */
void ngx_kraken_callback_set_conf(ngx_kraken_callback_conf_t *conf);

/* Whether this worker makes the requests (a trusted certificate is set). */
ngx_uint_t ngx_kraken_callback_enabled(void);

/*
 * The engine's conf.ontrack: starts the request, and answers the engine
 * when it is done. data (conf.ontrack_data) is where the worker keeps its
 * engine, a kraken_engine_t **: the request answers the engine found
 * there then, none once it is NULL (the worker freed it meanwhile).
 */
void ngx_kraken_callback_ontrack(void *data, const char *rid,
    const char *uid, const char *cid, const char *url);


#endif /* _NGX_KRAKEN_CALLBACK_H_INCLUDED_ */
