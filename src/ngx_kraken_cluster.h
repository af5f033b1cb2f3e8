
/*
 * Copyright (C) ngx_kraken authors
 */


#ifndef _NGX_KRAKEN_CLUSTER_H_INCLUDED_
#define _NGX_KRAKEN_CLUSTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * The cluster protocol: what a front (an nginx with kraken_balance in an
 * upstream block, ngx_http_upstream_kraken_*.c) and an engine (an nginx
 * with kraken_rpc, ngx_http_kraken_module.c) tell each other in HTTP
 * headers, besides the call itself. Every name and every value grammar
 * is here; ngx_kraken_cluster.c parses and writes the values, with pure
 * functions on bytes (no request, no pool, no lock).
 *
 * NAME, in the grammars below, is an engine's name as the fronts'
 * upstream "server" lines resolve it and as the engine sees itself
 * ($server_addr:$server_port): "10.0.0.2:8080", "[2001:db8::2]:8080".
 * 1 to NGX_KRAKEN_CLUSTER_NAME_LEN bytes, printable ASCII without space,
 * '"', '\\', ',' or ';' (ngx_kraken_cluster_name_ok()).
 *
 * Every value comes from the network: an engine honours X-Kraken-Place
 * only from kraken_placement_from, a front reads the engines' headers
 * only from its own servers and removes every X-Kraken-* header from the
 * answers it passes on to clients. Parsers never write past the value,
 * ignore what they do not know, and drop a malformed value whole.
 */


/* every header of the protocol starts so (a front hides them all) */
#define NGX_KRAKEN_HEADER_PREFIX  "X-Kraken-"

/*
 * X-Kraken-Place: front -> engine, on a call that names a room.
 *
 *     X-Kraken-Place: CHOICE[; down=NAME[,NAME...]][; ask]
 *
 * CHOICE is the engine the front would place a new room on; down lists
 * engines the front sees down (a room recorded on one is placed anew);
 * ask: the front asks whether the engine holds the room or has its
 * record, and places nothing. Parameters are separated by ';', list
 * items by ',', blanks around either are dropped, unknown parameters
 * are ignored, a malformed NAME drops the whole header. A front writes
 * it NGX_KRAKEN_CLUSTER_PLACE_LEN bytes wide, padded with spaces, so
 * that it can rewrite it in place before each try; a list too long for
 * the width is cut after a whole NAME.
 */
#define NGX_KRAKEN_HEADER_PLACE   "X-Kraken-Place"

/*
 * X-Kraken-Owner: engine -> front, on a 404 (Kraken error 5002001) to
 * a call with X-Kraken-Place: the room's placement record names another
 * engine, the one the front tries next.
 *
 *     X-Kraken-Owner: NAME
 */
#define NGX_KRAKEN_HEADER_OWNER   "X-Kraken-Owner"

/*
 * X-Kraken-Load: engine -> front, on every answer to a POST: the
 * engine's load, by which a front places new rooms.
 *
 *     X-Kraken-Load: cpu=C; peers=P; peers_max=PM; rooms=R;
 *                    rooms_max=RM; pps=F
 *
 * (one line) KEY=VALUE pairs separated by ';', blanks before a key
 * dropped, VALUE a decimal ngx_atoi() takes; unknown keys, and pairs
 * whose VALUE is not a number, are ignored; a key not given is 0.
 * cpu: percent of a core, the engine's workers' average; peers, rooms:
 * live ones; peers_max, rooms_max: the engine's bounds, 0 unbounded;
 * pps: RTP packets forwarded per second.
 */
#define NGX_KRAKEN_HEADER_LOAD    "X-Kraken-Load"

/*
 * X-Kraken-Busy: engine -> front, on a 5003000 refused by one of the
 * engine's own bounds, and on no other answer.
 *
 *     X-Kraken-Busy: WHAT
 *
 * WHAT: 1 to NGX_KRAKEN_CLUSTER_BUSY_LEN bytes of 'a'-'z', '0'-'9' and
 * space, e.g. "2 rooms", "room registry full". A front reads only that
 * the header is there.
 */
#define NGX_KRAKEN_HEADER_BUSY    "X-Kraken-Busy"

/*
 * X-Kraken-Room: engine -> front, on an answer to a call whose room a
 * worker of the engine holds after the call. A front reads only that
 * the header is there.
 *
 *     X-Kraken-Room: 1
 */
#define NGX_KRAKEN_HEADER_ROOM    "X-Kraken-Room"
#define NGX_KRAKEN_CLUSTER_ROOM_HELD  "1"

/*
 * X-Kraken-Worker: engine -> whoever called (a front hides it), on
 * every RPC answer: the worker slot that ran the call, " forwarded" when
 * another worker accepted it. For operators tracing room routing.
 *
 *     X-Kraken-Worker: N[ forwarded]
 */
#define NGX_KRAKEN_HEADER_WORKER  "X-Kraken-Worker"

/*
 * X-Kraken-Code: engine -> whoever called (a front hides it), on an
 * answer that is a Kraken error: its code, in decimal.
 *
 *     X-Kraken-Code: CODE
 */
#define NGX_KRAKEN_HEADER_CODE    "X-Kraken-Code"


/* the longest NAME */
#define NGX_KRAKEN_CLUSTER_NAME_LEN   64

/* the most NAMEs of a down list an engine reads */
#define NGX_KRAKEN_CLUSTER_DOWN_MAX   32

/* the width of the X-Kraken-Place a front writes */
#define NGX_KRAKEN_CLUSTER_PLACE_LEN  512

/* the longest WHAT of X-Kraken-Busy */
#define NGX_KRAKEN_CLUSTER_BUSY_LEN   64

/* room for the values the write functions below make */
#define NGX_KRAKEN_CLUSTER_LOAD_LEN                                          \
    (sizeof("cpu=; peers=; peers_max=; rooms=; rooms_max=; pps=") - 1        \
     + 6 * NGX_INT_T_LEN)
#define NGX_KRAKEN_CLUSTER_WORKER_LEN  (NGX_INT_T_LEN + sizeof(" forwarded"))
#define NGX_KRAKEN_CLUSTER_CODE_LEN    NGX_INT_T_LEN


/* an X-Kraken-Place value, as an engine reads it */
typedef struct {
    ngx_str_t                 choice;
    ngx_str_t                 down[NGX_KRAKEN_CLUSTER_DOWN_MAX];
    ngx_uint_t                ndown;        /* the first DOWN_MAX read */
    ngx_uint_t                ask;
} ngx_kraken_cluster_place_t;


/* an X-Kraken-Place value being written by a front, in a fixed width */
typedef struct {
    u_char                   *pos;
    u_char                   *last;
    ngx_uint_t                ndown;
} ngx_kraken_cluster_place_out_t;


/* an X-Kraken-Load value */
typedef struct {
    ngx_uint_t                cpu;
    ngx_uint_t                peers;
    ngx_uint_t                peers_max;    /* 0: unbounded */
    ngx_uint_t                rooms;
    ngx_uint_t                rooms_max;    /* 0: unbounded */
    ngx_uint_t                pps;
} ngx_kraken_cluster_load_t;


/* NGX_OK when name is a NAME, else NGX_DECLINED */
ngx_int_t ngx_kraken_cluster_name_ok(ngx_str_t *name);

/*
 * X-Kraken-Place, read: NGX_OK with *place filled (its strings point
 * into value), NGX_DECLINED when the header is to be ignored (no CHOICE,
 * a malformed NAME).
 */
ngx_int_t ngx_kraken_cluster_place_parse(ngx_str_t *value,
    ngx_kraken_cluster_place_t *place);

/*
 * X-Kraken-Place, written into the len bytes at buf: start() writes
 * CHOICE (nothing when choice is NULL or not NAME-long), down() adds one
 * NAME to the down list (NGX_DECLINED, nothing written, when it would
 * not fit: the list ends there), end() adds "; ask" when ask and pads
 * the rest with spaces. Every byte of buf is written.
 */
void ngx_kraken_cluster_place_start(ngx_kraken_cluster_place_out_t *out,
    u_char *buf, size_t len, ngx_str_t *choice);
ngx_int_t ngx_kraken_cluster_place_down(ngx_kraken_cluster_place_out_t *out,
    ngx_str_t *name);
void ngx_kraken_cluster_place_end(ngx_kraken_cluster_place_out_t *out,
    ngx_uint_t ask);

/*
 * The value of X-Kraken-Place in a request header block being sent
 * (lines "Name: value\r\n" from start to last): where it starts, blanks
 * skipped; NULL when the block has none.
 */
u_char *ngx_kraken_cluster_place_find(u_char *start, u_char *last);

/* X-Kraken-Owner, read: NGX_OK and *name when value is a NAME */
ngx_int_t ngx_kraken_cluster_owner_parse(ngx_str_t *value, ngx_str_t *name);

/* X-Kraken-Load, read (never fails: what is not understood is 0) */
void ngx_kraken_cluster_load_parse(ngx_str_t *value,
    ngx_kraken_cluster_load_t *load);

/* X-Kraken-Load, written at p (NGX_KRAKEN_CLUSTER_LOAD_LEN bytes) */
u_char *ngx_kraken_cluster_load_write(u_char *p,
    ngx_kraken_cluster_load_t *load);

/*
 * X-Kraken-Busy, from the rest of a Kraken error kraken_rpc rendered,
 * from p (just after its "code":5003000) to last: NGX_OK and *what
 * (pointing into the bytes) when its description is "server busy: WHAT",
 * which nothing a client sends can start; NGX_DECLINED for any other.
 */
ngx_int_t ngx_kraken_cluster_busy_parse(u_char *p, u_char *last,
    ngx_str_t *what);

/* X-Kraken-Worker, written at p (NGX_KRAKEN_CLUSTER_WORKER_LEN bytes) */
u_char *ngx_kraken_cluster_worker_write(u_char *p, ngx_uint_t worker,
    ngx_uint_t forwarded);

/* X-Kraken-Code, written at p (NGX_KRAKEN_CLUSTER_CODE_LEN bytes) */
u_char *ngx_kraken_cluster_code_write(u_char *p, ngx_uint_t code);

/* whether a header name is one of the protocol's (X-Kraken-*) */
ngx_uint_t ngx_kraken_cluster_header(ngx_str_t *key);


#endif /* _NGX_KRAKEN_CLUSTER_H_INCLUDED_ */
