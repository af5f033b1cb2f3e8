
/*
 * Copyright (C) ngx_kraken authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "kraken_engine.h"
#include "ngx_kraken_figures.h"
#include "ngx_kraken_media.h"
#include "ngx_kraken_metrics.h"
#include "ngx_kraken_registry.h"


/*
 * The exposition is rendered after the registry's lock is released, from
 * a copy of the live workers' figures, into a chain of buffers that grows
 * a buffer at a time: a line is never longer than NGX_KRAKEN_METRICS_LINE.
 */
#define NGX_KRAKEN_METRICS_LINE  512
#define NGX_KRAKEN_METRICS_BUF   16384


typedef struct {
    ngx_http_request_t       *request;
    ngx_chain_t              *out;
    ngx_chain_t             **last;
    ngx_buf_t                *buf;
    off_t                     len;
    ngx_uint_t                failed;
} ngx_kraken_metrics_out_t;


static void ngx_kraken_metrics_render(ngx_kraken_metrics_out_t *o,
    ngx_kraken_worker_stats_t *w, ngx_uint_t n);
static void ngx_kraken_metrics_counters(ngx_kraken_metrics_out_t *o,
    ngx_kraken_worker_stats_t *w, ngx_uint_t n);
static void ngx_kraken_metrics_histogram(ngx_kraken_metrics_out_t *o,
    ngx_kraken_worker_stats_t *w, ngx_uint_t n);
static void ngx_kraken_metrics_rpc_calls(ngx_kraken_metrics_out_t *o,
    ngx_kraken_worker_stats_t *w, ngx_uint_t n);
static void ngx_kraken_metrics_family(ngx_kraken_metrics_out_t *o,
    const char *name, const char *type, const char *help);
static void ngx_kraken_metrics_printf(ngx_kraken_metrics_out_t *o,
    const char *fmt, ...);
static u_char *ngx_kraken_metrics_seconds(u_char *buf, uint64_t ms);


static ngx_str_t  ngx_kraken_metrics_type =
    ngx_string("text/plain; version=0.0.4; charset=utf-8");

#define NGX_KRAKEN_METRICS_METHOD_NAME(name)  ngx_string(#name),

static ngx_str_t  ngx_kraken_metrics_methods[] = {
    NGX_KRAKEN_RPC_METHODS(NGX_KRAKEN_METRICS_METHOD_NAME)
};

#define NGX_KRAKEN_METRICS_CODE_VALUE(code)  code,

static ngx_uint_t  ngx_kraken_metrics_codes[] = {
    NGX_KRAKEN_RPC_CODES(NGX_KRAKEN_METRICS_CODE_VALUE)
};


ngx_int_t
ngx_kraken_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_uint_t                  n;
    kraken_engine_t            *engine;
    kraken_engine_stats_t       own;
    ngx_kraken_metrics_out_t    o;
    ngx_kraken_worker_stats_t  *w;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    /* this worker's own figures are read now, the others' are 100 ms old */
    engine = ngx_kraken_media_engine();

    if (engine) {
        kraken_engine_stats(engine, &own);
        ngx_kraken_registry_report(&own, NULL);
    }

    w = NULL;
    n = ngx_kraken_registry_workers(NULL, 0);

    if (n) {
        w = ngx_palloc(r->pool, n * sizeof(ngx_kraken_worker_stats_t));
        if (w == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* a worker that started meanwhile is in the next scrape */
        n = ngx_kraken_registry_workers(w, n);
    }

    ngx_memzero(&o, sizeof(ngx_kraken_metrics_out_t));
    o.request = r;
    o.last = &o.out;

    ngx_kraken_metrics_render(&o, w, n);

    if (o.failed || o.out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "kraken: metrics of %ui workers, %O bytes", n, o.len);

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_type = ngx_kraken_metrics_type;
    r->headers_out.content_type_len = ngx_kraken_metrics_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = o.len;

    if (r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    o.buf->last_buf = (r == r->main) ? 1 : 0;
    o.buf->last_in_chain = 1;

    return ngx_http_output_filter(r, o.out);
}


/*
 * Each family once, with HELP and TYPE, then its series of every worker;
 * counters end in _total, times are in seconds.
 */

static void
ngx_kraken_metrics_render(ngx_kraken_metrics_out_t *o,
    ngx_kraken_worker_stats_t *w, ngx_uint_t n)
{
    ngx_uint_t  i;

    ngx_kraken_metrics_family(o, "kraken_worker_info", "gauge",
                              "A live worker: its slot, pid, generation "
                              "and the way datagrams reach it.");

    for (i = 0; i < n; i++) {
        ngx_kraken_metrics_printf(o, "kraken_worker_info{worker=\"%ui\","
                                  "pid=\"%P\",generation=\"%ui\","
                                  "steering=\"%s\"} 1\n",
                                  w[i].slot, w[i].pid, w[i].generation,
                                  w[i].mstats.steering ? "ebpf" : "handoff");
    }

#define NGX_KRAKEN_METRICS_GAUGE(name, field, help)                          \
    ngx_kraken_metrics_family(o, name, "gauge", help);                       \
                                                                             \
    for (i = 0; i < n; i++) {                                                \
        ngx_kraken_metrics_printf(o, name "{worker=\"%ui\"} %i\n",           \
                                  w[i].slot, (ngx_int_t) w[i].stats.field);  \
    }

    NGX_KRAKEN_METRICS_GAUGE("kraken_rooms", active_rooms,
                             "Rooms with live peers.")
    NGX_KRAKEN_METRICS_GAUGE("kraken_peers", active_peers,
                             "Live peers (each publishes, and subscribes "
                             "to the others of its room).")
    NGX_KRAKEN_METRICS_GAUGE("kraken_peers_connected", connected_peers,
                             "Live peers whose DTLS handshake is done.")
    NGX_KRAKEN_METRICS_GAUGE("kraken_peers_closed", closed_peers,
                             "Closed peers still known (calls for them "
                             "answer 5002002).")

#undef NGX_KRAKEN_METRICS_GAUGE

    ngx_kraken_metrics_counters(o, w, n);
    ngx_kraken_metrics_histogram(o, w, n);
    ngx_kraken_metrics_rpc_calls(o, w, n);
}


/* the engine's counters, and the glue's of the hand-over */

static void
ngx_kraken_metrics_counters(ngx_kraken_metrics_out_t *o,
    ngx_kraken_worker_stats_t *w, ngx_uint_t n)
{
    ngx_uint_t   i;
    const char  *family;

    /* a kind of the engine's counters is one family, labelled by reason */

#define NGX_KRAKEN_METRICS_REASON(name, help)                                \
    ngx_kraken_metrics_printf(o, "%s{worker=\"%ui\",reason=\"" #name "\"} "  \
                              "%uL\n", family, w[i].slot,                    \
                              (uint64_t) w[i].stats.counters.name);

#define NGX_KRAKEN_METRICS_REASONS(fam, help, list)                          \
    family = fam;                                                            \
    ngx_kraken_metrics_family(o, family, "counter", help);                   \
                                                                             \
    for (i = 0; i < n; i++) {                                                \
        list(NGX_KRAKEN_METRICS_REASON)                                      \
    }

    NGX_KRAKEN_METRICS_REASONS("kraken_datagrams_dropped_total",
                               "Datagrams dropped, by reason.",
                               KRAKEN_ENGINE_DROPS)
    NGX_KRAKEN_METRICS_REASONS("kraken_peer_timeouts_total",
                               "Peers closed for a timeout: connect (no "
                               "media), consent (no STUN check), DTLS.",
                               KRAKEN_ENGINE_TIMEOUTS)

#undef NGX_KRAKEN_METRICS_REASONS
#undef NGX_KRAKEN_METRICS_REASON

    /* the other counters: a family each */

#define NGX_KRAKEN_METRICS_TOTAL(name, help)                                 \
    ngx_kraken_metrics_family(o, "kraken_" #name "_total", "counter",        \
                              help);                                         \
                                                                             \
    for (i = 0; i < n; i++) {                                                \
        ngx_kraken_metrics_printf(o, "kraken_" #name "_total{worker=\"%ui\"}"\
                                  " %uL\n", w[i].slot,                       \
                                  (uint64_t) w[i].stats.counters.name);      \
    }

    KRAKEN_ENGINE_TOTALS(NGX_KRAKEN_METRICS_TOTAL)

#undef NGX_KRAKEN_METRICS_TOTAL

    /* datagrams handed over between the workers of one port */

#define NGX_KRAKEN_METRICS_HANDOFF(name, help)                               \
    ngx_kraken_metrics_family(o, "kraken_" #name "_total", "counter",        \
                              help);                                         \
                                                                             \
    for (i = 0; i < n; i++) {                                                \
        ngx_kraken_metrics_printf(o, "kraken_" #name "_total{worker=\"%ui\"}"\
                                  " %uL\n", w[i].slot,                       \
                                  (uint64_t) w[i].mstats.name);              \
    }

    NGX_KRAKEN_METRICS_HANDOFF(handoff_sent,
                               "Datagrams handed to the worker that owns "
                               "their peer.")
    NGX_KRAKEN_METRICS_HANDOFF(handoff_received,
                               "Datagrams another worker handed here.")
    NGX_KRAKEN_METRICS_HANDOFF(handoff_dropped,
                               "Datagrams that could not be handed over.")
    NGX_KRAKEN_METRICS_HANDOFF(handoff_refused,
                               "Handed-over datagrams refused (a wrong "
                               "token or sender).")

#undef NGX_KRAKEN_METRICS_HANDOFF
}


static void
ngx_kraken_metrics_histogram(ngx_kraken_metrics_out_t *o,
    ngx_kraken_worker_stats_t *w, ngx_uint_t n)
{
    u_char                     *p;
    uint64_t                    cumulative;
    ngx_uint_t                  i, b;
    kraken_engine_histogram_t  *h;
    u_char                      le[NGX_INT64_LEN + 5];

    static const uint64_t       bounds[KRAKEN_DTLS_NBOUNDS]
                                    = KRAKEN_DTLS_BOUNDS;

    ngx_kraken_metrics_family(o, "kraken_dtls_handshake_seconds", "histogram",
                              "DTLS handshakes that succeeded, from the "
                              "first DTLS datagram to the keys.");

    for (i = 0; i < n; i++) {
        h = &w[i].stats.counters.dtls_handshake;
        cumulative = 0;

        for (b = 0; b < KRAKEN_DTLS_NBOUNDS; b++) {
            cumulative += h->bucket[b];
            p = ngx_kraken_metrics_seconds(le, bounds[b]);

            ngx_kraken_metrics_printf(o, "kraken_dtls_handshake_seconds_bucket"
                                      "{worker=\"%ui\",le=\"%*s\"} %uL\n",
                                      w[i].slot, (size_t) (p - le), le,
                                      cumulative);
        }

        ngx_kraken_metrics_printf(o, "kraken_dtls_handshake_seconds_bucket"
                                  "{worker=\"%ui\",le=\"+Inf\"} %uL\n"
                                  "kraken_dtls_handshake_seconds_sum"
                                  "{worker=\"%ui\"} %uL.%03uL\n"
                                  "kraken_dtls_handshake_seconds_count"
                                  "{worker=\"%ui\"} %uL\n",
                                  w[i].slot, h->count,
                                  w[i].slot, h->sum / 1000, h->sum % 1000,
                                  w[i].slot, h->count);
    }
}


static void
ngx_kraken_metrics_rpc_calls(ngx_kraken_metrics_out_t *o,
    ngx_kraken_worker_stats_t *w, ngx_uint_t n)
{
    ngx_uint_t  i, m, c;
    uint64_t    calls;
    u_char      code[NGX_INT_T_LEN];
    u_char     *p;

    ngx_kraken_metrics_family(o, "kraken_rpc_calls_total", "counter",
                              "RPC calls answered, by the worker that took "
                              "them, by method and answer: ok, a Kraken "
                              "error code, or the HTTP status of an answer "
                              "that is not Kraken's.");

    for (i = 0; i < n; i++) {
        for (m = 0; m < NGX_KRAKEN_RPC_NMETHODS; m++) {
            for (c = 0; c < NGX_KRAKEN_RPC_NCODES; c++) {
                calls = w[i].rpc.calls[m][c];

                if (calls == 0) {
                    continue;
                }

                if (c == NGX_KRAKEN_RPC_KRAKEN_OK) {
                    p = ngx_cpymem(code, "ok", 2);

                } else if (c == NGX_KRAKEN_RPC_CODE_OTHER) {
                    p = ngx_cpymem(code, "other", 5);

                } else {
                    p = ngx_sprintf(code, "%ui", ngx_kraken_metrics_codes[c]);
                }

                ngx_kraken_metrics_printf(o, "kraken_rpc_calls_total"
                                          "{worker=\"%ui\",method=\"%V\","
                                          "code=\"%*s\"} %uL\n",
                                          w[i].slot,
                                          &ngx_kraken_metrics_methods[m],
                                          (size_t) (p - code), code, calls);
            }
        }
    }
}


void
ngx_kraken_metrics_rpc(ngx_str_t *method, ngx_uint_t code)
{
    ngx_uint_t  m, c;

    for (m = 0; m < NGX_KRAKEN_RPC_METHOD_other; m++) {
        if (method->len == ngx_kraken_metrics_methods[m].len
            && ngx_strncmp(method->data, ngx_kraken_metrics_methods[m].data,
                           method->len)
               == 0)
        {
            break;
        }
    }

    for (c = 0; c < NGX_KRAKEN_RPC_CODE_OTHER; c++) {
        if (ngx_kraken_metrics_codes[c] == code) {
            break;
        }
    }

    ngx_kraken_registry_count_rpc(m, c);
}


static void
ngx_kraken_metrics_family(ngx_kraken_metrics_out_t *o, const char *name,
    const char *type, const char *help)
{
    ngx_kraken_metrics_printf(o, "# HELP %s %s\n# TYPE %s %s\n",
                              name, help, name, type);
}


static void
ngx_kraken_metrics_printf(ngx_kraken_metrics_out_t *o, const char *fmt, ...)
{
    u_char       *p;
    va_list       args;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (o->failed) {
        return;
    }

    if (o->buf == NULL
        || (size_t) (o->buf->end - o->buf->last) < NGX_KRAKEN_METRICS_LINE)
    {
        b = ngx_create_temp_buf(o->request->pool, NGX_KRAKEN_METRICS_BUF);
        cl = ngx_alloc_chain_link(o->request->pool);

        if (b == NULL || cl == NULL) {
            o->failed = 1;
            return;
        }

        cl->buf = b;
        cl->next = NULL;
        *o->last = cl;
        o->last = &cl->next;
        o->buf = b;
    }

    va_start(args, fmt);
    p = ngx_vslprintf(o->buf->last, o->buf->end, fmt, args);
    va_end(args);

    o->len += p - o->buf->last;
    o->buf->last = p;
}


/* 5 ms is "0.005", 1000 ms "1": a bucket's bound as Prometheus has it */

static u_char *
ngx_kraken_metrics_seconds(u_char *buf, uint64_t ms)
{
    u_char  *p;

    if (ms % 1000 == 0) {
        return ngx_sprintf(buf, "%uL", ms / 1000);
    }

    p = ngx_sprintf(buf, "%uL.%03uL", ms / 1000, ms % 1000);

    while (p[-1] == '0') {
        p--;
    }

    return p;
}
