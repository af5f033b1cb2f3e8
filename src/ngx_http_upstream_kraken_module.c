
/*
 * Copyright (C) ngx_kraken authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * kraken_balance: the front nginx's balancer over engine hosts, in an
 * upstream block like hash or least_conn. Every call of a room reaches
 * the engine that holds the room; a new room goes to the engine with the
 * most headroom, judged from the figures each engine sends on every
 * answer (X-Kraken-Load). What a front knows of rooms lives in a shared
 * zone of its workers. A front that does not know a room (new, or the
 * front restarted) sends the call to the room's home engine, the same
 * for every front (a rendezvous hash of the room over the engines), with
 * its choice in X-Kraken-Place: the home records the first choice it
 * hears and sends every front to the same engine (404, X-Kraken-Owner),
 * so two fronts never split a room.
 */

/* engines of one upstream with figures in the zone */
#define NGX_KRAKEN_BALANCE_PEERS   64

/* a room no call named for this long is forgotten (kraken.fm polls 3 s) */
#define NGX_KRAKEN_BALANCE_IDLE    600

/* an engine that refused a call by its bounds (X-Kraken-Busy): no new room */
#define NGX_KRAKEN_BALANCE_BUSY    10

/* headroom in millionths; engines this close to the best are tied */
#define NGX_KRAKEN_BALANCE_FULL    1000000
#define NGX_KRAKEN_BALANCE_TIE     50000

#define NGX_KRAKEN_NAME_LEN        64

/*
 * X-Kraken-Place has a fixed width, padded with spaces (which nginx's
 * parser drops at the engine): each try rewrites it in the request with
 * what the front knows then, engines that failed meanwhile included.
 */
#define NGX_KRAKEN_PLACE_LEN       512


/* an engine's figures: its last X-Kraken-Load, and this front's own */
typedef struct {
    uint32_t                        name_hash;  /* of the peer's name */
    ngx_uint_t                      cpu;        /* percent */
    ngx_uint_t                      peers;
    ngx_uint_t                      peers_max;  /* 0: unbounded */
    ngx_uint_t                      rooms;
    ngx_uint_t                      rooms_max;  /* 0: unbounded */
    ngx_uint_t                      placing;    /* placed by this front,
                                                   not in the figures yet */
    time_t                          busy_until;
    time_t                          updated;
} ngx_http_upstream_kraken_figures_t;


typedef struct {
    ngx_str_node_t                  sn;
    ngx_queue_t                     queue;      /* least recently used */
    time_t                          used;
    u_char                          owner_len;
    u_char                          owner[NGX_KRAKEN_NAME_LEN];
    u_char                          data[1];
} ngx_http_upstream_kraken_room_t;


typedef struct {
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     lru;
    ngx_http_upstream_kraken_figures_t  figures[NGX_KRAKEN_BALANCE_PEERS];
} ngx_http_upstream_kraken_shctx_t;


typedef struct {
    ngx_shm_zone_t                 *zone;
    ngx_int_t                       room_index;  /* $kraken_room */
} ngx_http_upstream_kraken_srv_conf_t;


/* one call's plan, made when the request to the engine is created */
typedef struct {
    ngx_str_t                       room;
    ngx_int_t                       owner;      /* known: peer index */
    ngx_int_t                       home;
    ngx_int_t                       choice;
    ngx_str_t                       place;      /* X-Kraken-Place */
    u_char                         *stamp;      /* it, in the request */
    ngx_uint_t                      stamped;    /* looked for it */
    uintptr_t                       asked;      /* engines asked, bits */
    unsigned                        ask:1;      /* this try asks */
    unsigned                        owner_tried:1;
    unsigned                        placed:1;
    ngx_str_t                       redirect;   /* X-Kraken-Owner heard */
    ngx_str_t                       stranger;   /* ... not a server here */
    ngx_int_t                       placing;    /* counted on this engine */
    ngx_shm_zone_t                 *zone;
} ngx_http_upstream_kraken_ctx_t;


typedef struct {
    /* the round robin peer data must be first */
    ngx_http_upstream_rr_peer_data_t     rrp;
    ngx_http_request_t                  *request;
    ngx_http_upstream_kraken_srv_conf_t *conf;
    ngx_http_upstream_kraken_ctx_t      *ctx;
    ngx_uint_t                           tries;
} ngx_http_upstream_kraken_peer_data_t;


static ngx_int_t ngx_http_upstream_init_kraken(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_upstream_init_kraken_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_upstream_get_kraken_peer(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_upstream_free_kraken_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t state);
static ngx_http_upstream_kraken_ctx_t *ngx_http_upstream_kraken_plan(
    ngx_http_request_t *r, ngx_http_upstream_srv_conf_t *us);
static void ngx_http_upstream_kraken_choose(
    ngx_http_upstream_kraken_ctx_t *ctx, ngx_http_upstream_rr_peers_t *peers,
    ngx_http_upstream_kraken_shctx_t *sh, time_t now);
static void ngx_http_upstream_kraken_place(ngx_http_upstream_kraken_ctx_t *ctx,
    ngx_http_upstream_rr_peers_t *peers, u_char *p);
static ngx_int_t ngx_http_upstream_kraken_next_ask(
    ngx_http_upstream_kraken_ctx_t *ctx, ngx_http_upstream_rr_peers_t *peers,
    time_t now);
static void ngx_http_upstream_kraken_stamp(
    ngx_http_upstream_kraken_peer_data_t *kp);
static ngx_int_t ngx_http_upstream_kraken_usable(
    ngx_http_upstream_rr_peer_t *peer, time_t now);
static ngx_int_t ngx_http_upstream_kraken_peer_index(
    ngx_http_upstream_rr_peers_t *peers, u_char *name, size_t len);
static uint32_t ngx_http_upstream_kraken_score(ngx_str_t *room,
    ngx_str_t *name);
static ngx_http_upstream_kraken_room_t *ngx_http_upstream_kraken_lookup(
    ngx_http_upstream_kraken_shctx_t *sh, ngx_str_t *room, uint32_t hash);
static void ngx_http_upstream_kraken_remember(
    ngx_http_upstream_kraken_srv_conf_t *kcf, ngx_str_t *room,
    ngx_str_t *owner);
static void ngx_http_upstream_kraken_forget(
    ngx_http_upstream_kraken_srv_conf_t *kcf, ngx_str_t *room,
    ngx_str_t *owner);
static void ngx_http_upstream_kraken_answer(
    ngx_http_upstream_kraken_peer_data_t *kp, ngx_uint_t index);
static void ngx_http_upstream_kraken_load(ngx_str_t *value,
    ngx_http_upstream_kraken_figures_t *f);
static ngx_http_upstream_kraken_figures_t *ngx_http_upstream_kraken_figures(
    ngx_http_upstream_kraken_shctx_t *sh, ngx_uint_t i,
    ngx_http_upstream_rr_peer_t *peer);
static ngx_uint_t ngx_http_upstream_kraken_headroom(
    ngx_http_upstream_kraken_figures_t *f, time_t now);
static void ngx_http_upstream_kraken_placing(
    ngx_http_upstream_kraken_ctx_t *ctx,
    ngx_http_upstream_kraken_shctx_t *sh, ngx_int_t index);
static void ngx_http_upstream_kraken_cleanup(void *data);
static ngx_int_t ngx_http_upstream_kraken_name_ok(ngx_str_t *name);
static ngx_table_elt_t *ngx_http_upstream_kraken_header(ngx_list_t *list,
    char *name);
static ngx_int_t ngx_http_upstream_kraken_place_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_upstream_kraken_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_upstream_kraken_init_zone(ngx_shm_zone_t *zone,
    void *data);
static void *ngx_http_upstream_kraken_create_conf(ngx_conf_t *cf);
static char *ngx_http_upstream_kraken(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_command_t  ngx_http_upstream_kraken_commands[] = {

    { ngx_string("kraken_balance"),
      NGX_HTTP_UPS_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_upstream_kraken,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_upstream_kraken_module_ctx = {
    ngx_http_upstream_kraken_add_variables, /* preconfiguration */
    NULL,                                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_upstream_kraken_create_conf,  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_upstream_kraken_module = {
    NGX_MODULE_V1,
    &ngx_http_upstream_kraken_module_ctx,  /* module context */
    ngx_http_upstream_kraken_commands,     /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_upstream_kraken_vars[] = {

    { ngx_string("kraken_place"), NULL,
      ngx_http_upstream_kraken_place_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_upstream_kraken_room_name =
    ngx_string("kraken_room");


static ngx_int_t
ngx_http_upstream_init_kraken(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us)
{
    if (ngx_http_upstream_init_round_robin(cf, us) != NGX_OK) {
        return NGX_ERROR;
    }

    us->peer.init = ngx_http_upstream_init_kraken_peer;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upstream_init_kraken_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_upstream_kraken_peer_data_t  *kp;

    kp = ngx_pcalloc(r->pool, sizeof(ngx_http_upstream_kraken_peer_data_t));
    if (kp == NULL) {
        return NGX_ERROR;
    }

    r->upstream->peer.data = &kp->rrp;

    if (ngx_http_upstream_init_round_robin_peer(r, us) != NGX_OK) {
        return NGX_ERROR;
    }

    r->upstream->peer.get = ngx_http_upstream_get_kraken_peer;
    r->upstream->peer.free = ngx_http_upstream_free_kraken_peer;

    /* asking every engine, then placing, then following the answer */
    r->upstream->peer.tries = 2 * kp->rrp.peers->number + 2;

    kp->request = r;
    kp->conf = ngx_http_conf_upstream_srv_conf(us,
                                               ngx_http_upstream_kraken_module);

    /* made already if proxy_set_header used $kraken_place */
    kp->ctx = ngx_http_upstream_kraken_plan(r, us);

    return NGX_OK;
}


static ngx_int_t
ngx_http_upstream_get_kraken_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_upstream_kraken_peer_data_t  *kp = data;

    time_t                           now;
    uintptr_t                        m;
    ngx_int_t                        want;
    ngx_uint_t                       i, placing;
    ngx_slab_pool_t                 *shpool;
    ngx_http_upstream_rr_peer_t     *peer;
    ngx_http_upstream_rr_peers_t    *peers;
    ngx_http_upstream_kraken_ctx_t  *ctx;

    ctx = kp->ctx;

    /* calls without a room (info, turn) are balanced as round robin */
    if (ctx == NULL || ctx->room.len == 0 || kp->rrp.peers->single) {
        return ngx_http_upstream_get_round_robin_peer(pc, &kp->rrp);
    }

    peers = kp->rrp.peers;
    now = ngx_time();

    if (kp->tries++ && kp->conf->zone) {
        /* a try failed: home and choice among the engines usable now */
        shpool = (ngx_slab_pool_t *) kp->conf->zone->shm.addr;

        ngx_shmtx_lock(&shpool->mutex);

        placing = (ctx->placing >= 0);

        if (placing) {
            /* this call's own placement does not weigh on its choice */
            ngx_http_upstream_kraken_placing(ctx, kp->conf->zone->data, -1);
        }

        ngx_http_upstream_kraken_choose(ctx, peers, kp->conf->zone->data,
                                        now);

        /*
         * A record named the engine the room goes to: the call goes there
         * choosing it, so that the engine takes the room rather than
         * record this front's own choice (another front's may have won at
         * the home) and send the call on once more.
         */
        if (ctx->redirect.len) {
            want = ngx_http_upstream_kraken_peer_index(peers,
                                                       ctx->redirect.data,
                                                       ctx->redirect.len);
            if (want >= 0) {
                ctx->choice = want;
            }
        }

        if (placing) {
            ngx_http_upstream_kraken_placing(ctx, kp->conf->zone->data,
                                             ctx->choice);
        }

        ngx_shmtx_unlock(&shpool->mutex);
    }

    ngx_http_upstream_rr_peers_wlock(peers);

    /*
     * Where the room lives: the engine an answer named, the one this
     * front remembers; else every engine is asked, in the room's
     * rendezvous order (its home first), whether it holds the room or
     * knows where it lives; only when none does, the home places it.
     */
    ctx->ask = 0;
    want = -1;

    if (ctx->redirect.len) {
        want = ngx_http_upstream_kraken_peer_index(peers, ctx->redirect.data,
                                                   ctx->redirect.len);
        ctx->redirect.len = 0;
    }

    if (want < 0 && ctx->owner >= 0 && !ctx->owner_tried) {
        ctx->owner_tried = 1;
        want = ctx->owner;
    }

    if (want < 0) {
        want = ngx_http_upstream_kraken_next_ask(ctx, peers, now);
        ctx->ask = (want >= 0);
    }

    if (want < 0 && !ctx->placed) {
        ctx->placed = 1;
        want = ctx->home;
    }

    for (peer = peers->peer, i = 0; want >= 0 && peer
                                    && i < (ngx_uint_t) want;
         peer = peer->next, i++)
    { /* void */ }

    if (want >= 0 && peer && kp->tries <= 2 * peers->number + 2
        && ngx_http_upstream_kraken_usable(peer, now) == NGX_OK)
    {
        m = (uintptr_t) 1 << i % (8 * sizeof(uintptr_t));
        goto found;
    }

    ngx_http_upstream_rr_peers_unlock(peers);

    /* none of them can take it: any engine that can */
    return ngx_http_upstream_get_round_robin_peer(pc, &kp->rrp);

found:

    kp->rrp.current = peer;

    pc->sockaddr = peer->sockaddr;
    pc->socklen = peer->socklen;
    pc->name = &peer->name;

    peer->conns++;

    if (now - peer->checked > peer->fail_timeout) {
        peer->checked = now;
    }

    ngx_http_upstream_rr_peers_unlock(peers);

    kp->rrp.tried[i / (8 * sizeof(uintptr_t))] |= m;

    ngx_http_upstream_kraken_stamp(kp);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "kraken balance: room \"%V\" to %V (peer %ui)",
                   &ctx->room, &peer->name, i);

    return NGX_OK;
}


/*
 * The engine answered, or failed. Its figures and a redirect are read
 * from the answer's headers; a room call it answered tells where the
 * room lives, a failure that it may live there no more.
 */

static void
ngx_http_upstream_free_kraken_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_http_upstream_kraken_peer_data_t  *kp = data;

    ngx_uint_t                    i;
    ngx_http_upstream_t          *u;
    ngx_http_upstream_rr_peer_t  *peer, *p;

    peer = kp->rrp.current;

    if (peer && kp->rrp.peers->peer) {
        for (p = kp->rrp.peers->peer, i = 0; p && p != peer; p = p->next) {
            i++;
        }

        u = kp->request->upstream;

        if (p && !(state & NGX_PEER_FAILED)
            && u->headers_in.headers.part.elts)
        {
            ngx_http_upstream_kraken_answer(kp, i);

        } else if (p && kp->ctx && kp->ctx->room.len) {
            ngx_http_upstream_kraken_forget(kp->conf, &kp->ctx->room,
                                            &peer->name);
        }
    }

    ngx_http_upstream_free_round_robin_peer(pc, &kp->rrp, state);
}


static void
ngx_http_upstream_kraken_answer(ngx_http_upstream_kraken_peer_data_t *kp,
    ngx_uint_t index)
{
    time_t                               now;
    ngx_int_t                            owner;
    ngx_str_t                            name;
    ngx_table_elt_t                     *h, *busy;
    ngx_slab_pool_t                     *shpool;
    ngx_http_upstream_t                 *u;
    ngx_http_upstream_kraken_ctx_t      *ctx;
    ngx_http_upstream_rr_peer_t         *peer;
    ngx_http_upstream_kraken_shctx_t    *sh;
    ngx_http_upstream_kraken_figures_t  *f;

    u = kp->request->upstream;
    ctx = kp->ctx;
    peer = kp->rrp.current;
    now = ngx_time();

    if (kp->conf->zone && index < NGX_KRAKEN_BALANCE_PEERS) {
        shpool = (ngx_slab_pool_t *) kp->conf->zone->shm.addr;
        sh = kp->conf->zone->data;

        h = ngx_http_upstream_kraken_header(&u->headers_in.headers,
                                            "X-Kraken-Load");
        busy = ngx_http_upstream_kraken_header(&u->headers_in.headers,
                                               "X-Kraken-Busy");

        ngx_shmtx_lock(&shpool->mutex);

        f = ngx_http_upstream_kraken_figures(sh, index, peer);

        if (h) {
            ngx_http_upstream_kraken_load(&h->value, f);
            f->updated = now;

            /* its figures count the room this call placed there now */
            if (ctx && ctx->placing == (ngx_int_t) index
                && u->headers_in.status_n == NGX_HTTP_OK)
            {
                ngx_http_upstream_kraken_placing(ctx, sh, -1);
            }
        }

        /*
         * Only the engine's own word that a bound of its own refused the
         * call: a client's error (5003000 for a malformed fingerprint)
         * says nothing of its load.
         */
        if (busy) {
            f->busy_until = now + NGX_KRAKEN_BALANCE_BUSY;
        }

        ngx_shmtx_unlock(&shpool->mutex);
    }

    if (ctx == NULL || ctx->room.len == 0) {
        return;
    }

    h = ngx_http_upstream_kraken_header(&u->headers_in.headers,
                                        "X-Kraken-Owner");

    if (h && u->headers_in.status_n == NGX_HTTP_NOT_FOUND) {

        owner = ngx_http_upstream_kraken_peer_index(kp->rrp.peers,
                                                    h->value.data,
                                                    h->value.len);
        if (owner < 0) {
            /*
             * A record naming an engine that is not one of this front's
             * servers: that engine is as good as down. The room is
             * placed anew, the stranger named down (once).
             */
            name = h->value;

            if (ctx->stranger.len == 0
                && ngx_http_upstream_kraken_name_ok(&name) == NGX_OK)
            {
                ctx->stranger.data = ngx_pnalloc(kp->request->pool,
                                                 name.len);
                if (ctx->stranger.data) {
                    ngx_memcpy(ctx->stranger.data, name.data, name.len);
                    ctx->stranger.len = name.len;
                    ctx->placed = 0;
                }
            }

            ngx_log_error(NGX_LOG_WARN, kp->request->connection->log, 0,
                          "kraken balance: %V says room \"%V\" is on "
                          "\"%V\", not a server of this upstream: placed "
                          "anew", &peer->name, &ctx->room, &name);
            return;
        }

        /* the room's home says where it lives: the next try goes there */
        ctx->redirect.data = ngx_pnalloc(kp->request->pool, h->value.len);
        if (ctx->redirect.data) {
            ngx_memcpy(ctx->redirect.data, h->value.data, h->value.len);
            ctx->redirect.len = h->value.len;
            ngx_http_upstream_kraken_remember(kp->conf, &ctx->room,
                                              &ctx->redirect);
        }

        return;
    }

    if (u->headers_in.status_n != NGX_HTTP_OK) {
        return;
    }

    /* the engine says whether it holds the room now */
    if (ngx_http_upstream_kraken_header(&u->headers_in.headers,
                                        "X-Kraken-Room"))
    {
        ngx_http_upstream_kraken_remember(kp->conf, &ctx->room, &peer->name);

    } else {
        ngx_http_upstream_kraken_forget(kp->conf, &ctx->room, &peer->name);
    }
}


/*
 * X-Kraken-Load: cpu=C; peers=P; peers_max=PM; rooms=R; rooms_max=RM;
 * the headroom is what is left of the scarcest: CPU in steps of 10%, so
 * that a few percent of noise does not decide, peers and rooms against
 * the engine's own bounds.
 */

static void
ngx_http_upstream_kraken_load(ngx_str_t *value,
    ngx_http_upstream_kraken_figures_t *f)
{
    u_char     *p, *last, *eq, *end;
    ngx_int_t   n, cpu, peers, peers_max, rooms, rooms_max;

    cpu = peers = rooms = 0;
    peers_max = rooms_max = 0;

    p = value->data;
    last = p + value->len;

    while (p < last) {
        while (p < last && (*p == ' ' || *p == ';')) {
            p++;
        }

        end = p;
        while (end < last && *end != ';') {
            end++;
        }

        eq = ngx_strlchr(p, end, '=');

        if (eq) {
            n = ngx_atoi(eq + 1, end - eq - 1);

            if (n >= 0) {
                if (eq - p == 3 && ngx_strncmp(p, "cpu", 3) == 0) {
                    cpu = n;

                } else if (eq - p == 5 && ngx_strncmp(p, "peers", 5) == 0) {
                    peers = n;

                } else if (eq - p == 9
                           && ngx_strncmp(p, "peers_max", 9) == 0)
                {
                    peers_max = n;

                } else if (eq - p == 5 && ngx_strncmp(p, "rooms", 5) == 0) {
                    rooms = n;

                } else if (eq - p == 9
                           && ngx_strncmp(p, "rooms_max", 9) == 0)
                {
                    rooms_max = n;
                }
            }
        }

        p = end;
    }

    f->cpu = ngx_min(cpu, 100);
    f->peers = peers;
    f->peers_max = peers_max;
    f->rooms = rooms;
    f->rooms_max = rooms_max;
}


/*
 * The headroom of an engine, in millionths: what is left of the scarcest
 * of its CPU (percent of its workers' cores), its peers and its rooms
 * (against its bounds), the rooms this front placed there since its
 * figures counted as one room and one peer each. A bound reached, or a
 * refusal by one (X-Kraken-Busy) in the last 10 s: none. An engine not
 * heard from counts as idle.
 */

static ngx_uint_t
ngx_http_upstream_kraken_headroom(ngx_http_upstream_kraken_figures_t *f,
    time_t now)
{
    uint64_t    used, load;
    ngx_uint_t  n;

    if (f->busy_until > now) {
        return 0;
    }

    load = (uint64_t) f->cpu * (NGX_KRAKEN_BALANCE_FULL / 100);

    if (f->peers_max) {
        n = f->peers + f->placing;
        used = n >= f->peers_max
               ? NGX_KRAKEN_BALANCE_FULL
               : (uint64_t) n * NGX_KRAKEN_BALANCE_FULL / f->peers_max;
        load = ngx_max(load, used);
    }

    if (f->rooms_max) {
        n = f->rooms + f->placing;
        used = n >= f->rooms_max
               ? NGX_KRAKEN_BALANCE_FULL
               : (uint64_t) n * NGX_KRAKEN_BALANCE_FULL / f->rooms_max;
        load = ngx_max(load, used);
    }

    return load >= NGX_KRAKEN_BALANCE_FULL
           ? 0 : NGX_KRAKEN_BALANCE_FULL - (ngx_uint_t) load;
}


/* an engine's figures in the zone, anew when its slot named another */

static ngx_http_upstream_kraken_figures_t *
ngx_http_upstream_kraken_figures(ngx_http_upstream_kraken_shctx_t *sh,
    ngx_uint_t i, ngx_http_upstream_rr_peer_t *peer)
{
    uint32_t                             hash;
    ngx_http_upstream_kraken_figures_t  *f;

    f = &sh->figures[i];
    hash = ngx_crc32_short(peer->name.data, peer->name.len);

    if (f->name_hash != hash) {
        ngx_memzero(f, sizeof(ngx_http_upstream_kraken_figures_t));
        f->name_hash = hash;
    }

    return f;
}


/*
 * The new room of this call counts on engine index (-1: on none now)
 * until the engine's figures count it or the call ends. Zone locked.
 */

static void
ngx_http_upstream_kraken_placing(ngx_http_upstream_kraken_ctx_t *ctx,
    ngx_http_upstream_kraken_shctx_t *sh, ngx_int_t index)
{
    if (ctx->placing >= 0) {
        if (sh->figures[ctx->placing].placing) {
            sh->figures[ctx->placing].placing--;
        }

        ctx->placing = -1;
    }

    if (index >= 0 && index < NGX_KRAKEN_BALANCE_PEERS) {
        /* choose() named it: its slot is this engine's */
        sh->figures[index].placing++;
        ctx->placing = index;
    }
}


/* the call ends: a placement still counted is no more */

static void
ngx_http_upstream_kraken_cleanup(void *data)
{
    ngx_http_upstream_kraken_ctx_t *ctx = data;

    ngx_slab_pool_t  *shpool;

    if (ctx->placing < 0 || ctx->zone == NULL) {
        return;
    }

    shpool = (ngx_slab_pool_t *) ctx->zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);
    ngx_http_upstream_kraken_placing(ctx, ctx->zone->data, -1);
    ngx_shmtx_unlock(&shpool->mutex);
}


/* an engine's name as a placement header may carry it */

static ngx_int_t
ngx_http_upstream_kraken_name_ok(ngx_str_t *name)
{
    u_char  *p;

    if (name->len == 0 || name->len > NGX_KRAKEN_NAME_LEN) {
        return NGX_DECLINED;
    }

    for (p = name->data; p < name->data + name->len; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\'
            || *p == ',' || *p == ';')
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/*
 * What the front knows of a call: the engine its room lives on, or the
 * room's home and the engine it would choose. Made once per request, by
 * $kraken_place (evaluated when the request to the engine is built) or
 * else by the peer's init.
 */

static ngx_http_upstream_kraken_ctx_t *
ngx_http_upstream_kraken_plan(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    time_t                                now;
    uint32_t                              hash;
    ngx_int_t                             index;
    ngx_uint_t                            i;
    ngx_slab_pool_t                      *shpool;
    ngx_pool_cleanup_t                   *cln;
    ngx_http_variable_value_t            *vv;
    ngx_http_upstream_rr_peer_t          *peer;
    ngx_http_upstream_rr_peers_t         *peers;
    ngx_http_upstream_kraken_ctx_t       *ctx;
    ngx_http_upstream_kraken_room_t      *room;
    ngx_http_upstream_kraken_shctx_t     *sh;
    ngx_http_upstream_kraken_srv_conf_t  *kcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upstream_kraken_module);
    if (ctx) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_upstream_kraken_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ctx->owner = -1;
    ctx->home = -1;
    ctx->choice = -1;
    ctx->placing = -1;

    ngx_http_set_ctx(r, ctx, ngx_http_upstream_kraken_module);

    kcf = ngx_http_conf_upstream_srv_conf(us, ngx_http_upstream_kraken_module);
    peers = us->peer.data;

    vv = ngx_http_get_indexed_variable(r, kcf->room_index);
    if (vv == NULL || vv->not_found || vv->len == 0 || peers == NULL
        || kcf->zone == NULL)
    {
        return ctx;
    }

    ctx->room.data = ngx_pnalloc(r->pool, vv->len);
    if (ctx->room.data == NULL) {
        return ctx;
    }

    ngx_memcpy(ctx->room.data, vv->data, vv->len);
    ctx->room.len = vv->len;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return ctx;
    }

    cln->handler = ngx_http_upstream_kraken_cleanup;
    cln->data = ctx;
    ctx->zone = kcf->zone;

    shpool = (ngx_slab_pool_t *) kcf->zone->shm.addr;
    sh = kcf->zone->data;
    hash = ngx_crc32_long(ctx->room.data, ctx->room.len);
    now = ngx_time();

    ngx_shmtx_lock(&shpool->mutex);

    room = ngx_http_upstream_kraken_lookup(sh, &ctx->room, hash);
    if (room) {
        index = ngx_http_upstream_kraken_peer_index(peers, room->owner,
                                                    room->owner_len);
        room->used = now;
        ngx_queue_remove(&room->queue);
        ngx_queue_insert_head(&sh->lru, &room->queue);

        for (peer = peers->peer, i = 0; peer && (ngx_int_t) i < index;
             peer = peer->next, i++)
        { /* void */ }

        if (index >= 0 && peer
            && ngx_http_upstream_kraken_usable(peer, now) == NGX_OK)
        {
            ctx->owner = index;
        }
    }

    ngx_http_upstream_kraken_choose(ctx, peers, sh, now);

    if (ctx->owner < 0) {
        /* a room this front does not know may be new: counted now */
        ngx_http_upstream_kraken_placing(ctx, sh, ctx->choice);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (ctx->choice < 0) {
        return ctx;
    }

    ctx->place.data = ngx_pnalloc(r->pool, NGX_KRAKEN_PLACE_LEN);
    if (ctx->place.data == NULL) {
        return ctx;
    }

    ctx->place.len = NGX_KRAKEN_PLACE_LEN;
    ngx_http_upstream_kraken_place(ctx, peers, ctx->place.data);

    return ctx;
}


/*
 * Among the engines usable now: the room's home, the highest rendezvous
 * score of the room and an engine's name, and the engine a new room
 * would go to: of those within NGX_KRAKEN_BALANCE_TIE (5%) of the most
 * headroom, the one with the fewest rooms (this front's placements in
 * flight counted), ties to the higher score. So CPU noise of a few
 * points does not decide, rooms spread evenly over engines alike, and
 * a real difference of CPU, peers or rooms against the bounds does.
 * Called with the zone locked.
 */

static void
ngx_http_upstream_kraken_choose(ngx_http_upstream_kraken_ctx_t *ctx,
    ngx_http_upstream_rr_peers_t *peers,
    ngx_http_upstream_kraken_shctx_t *sh, time_t now)
{
    uint32_t                             score, best_score, home_score;
    ngx_uint_t                           i, n, rooms, best_rooms, most;
    ngx_http_upstream_rr_peer_t         *peer;
    ngx_http_upstream_kraken_figures_t  *f;
    ngx_uint_t                           head[NGX_KRAKEN_BALANCE_PEERS];

    ctx->home = -1;
    ctx->choice = -1;
    home_score = 0;
    best_score = 0;
    best_rooms = 0;
    most = 0;

    for (peer = peers->peer, i = 0; peer; peer = peer->next, i++) {

        if (i < NGX_KRAKEN_BALANCE_PEERS) {
            head[i] = 0;
        }

        if (ngx_http_upstream_kraken_usable(peer, now) != NGX_OK) {
            continue;
        }

        score = ngx_http_upstream_kraken_score(&ctx->room, &peer->name);

        if (ctx->home < 0 || score > home_score) {
            ctx->home = i;
            home_score = score;
        }

        if (i < NGX_KRAKEN_BALANCE_PEERS) {
            f = ngx_http_upstream_kraken_figures(sh, i, peer);
            head[i] = ngx_http_upstream_kraken_headroom(f, now);
            most = ngx_max(most, head[i]);
        }
    }

    n = ngx_min(i, NGX_KRAKEN_BALANCE_PEERS);

    for (peer = peers->peer, i = 0; peer && i < n; peer = peer->next, i++) {

        if (ngx_http_upstream_kraken_usable(peer, now) != NGX_OK
            || head[i] + NGX_KRAKEN_BALANCE_TIE < most
            || (head[i] == 0 && most > 0))
        {
            continue;
        }

        score = ngx_http_upstream_kraken_score(&ctx->room, &peer->name);
        rooms = sh->figures[i].rooms + sh->figures[i].placing;

        if (ctx->choice < 0 || rooms < best_rooms
            || (rooms == best_rooms && score > best_score))
        {
            ctx->choice = i;
            best_rooms = rooms;
            best_score = score;
        }
    }

    if (ctx->choice < 0) {
        /* beyond the engines the zone has figures for: the home */
        ctx->choice = ctx->home;
    }
}


/* X-Kraken-Place: CHOICE[; down=A,B], padded: what the front knows now */

static void
ngx_http_upstream_kraken_place(ngx_http_upstream_kraken_ctx_t *ctx,
    ngx_http_upstream_rr_peers_t *peers, u_char *p)
{
    u_char                       *last;
    time_t                        now;
    ngx_uint_t                    i, first;
    ngx_http_upstream_rr_peer_t  *peer;

    last = p + NGX_KRAKEN_PLACE_LEN;
    now = ngx_time();

    for (peer = peers->peer, i = 0; peer; peer = peer->next, i++) {
        if ((ngx_int_t) i == ctx->choice
            && peer->name.len <= NGX_KRAKEN_NAME_LEN)
        {
            p = ngx_cpymem(p, peer->name.data, peer->name.len);
        }
    }

    first = 1;

    for (peer = peers->peer; peer; peer = peer->next) {

        if (ngx_http_upstream_kraken_usable(peer, now) == NGX_OK) {
            continue;
        }

        /* a list too long for the header says less, never something else */
        if ((size_t) (last - p) < peer->name.len + sizeof("; down=")) {
            break;
        }

        p = first ? ngx_cpymem(p, "; down=", 7) : ngx_cpymem(p, ",", 1);
        p = ngx_cpymem(p, peer->name.data, peer->name.len);
        first = 0;
    }

    /* an owner a record named that is none of this front's servers */
    if (ctx->stranger.len
        && (size_t) (last - p) >= ctx->stranger.len + sizeof("; down="))
    {
        p = first ? ngx_cpymem(p, "; down=", 7) : ngx_cpymem(p, ",", 1);
        p = ngx_cpymem(p, ctx->stranger.data, ctx->stranger.len);
    }

    if (ctx->ask && last - p >= 5) {
        p = ngx_cpymem(p, "; ask", 5);
    }

    ngx_memset(p, ' ', last - p);
}


/*
 * Rewrites X-Kraken-Place in the request to the engine before a try, so
 * that a retry after a failure names the failed engine as down. The
 * proxy module wrote the whole header block into the first buffer.
 */

static void
ngx_http_upstream_kraken_stamp(ngx_http_upstream_kraken_peer_data_t *kp)
{
    u_char                          *p, *last;
    ngx_buf_t                       *b;
    ngx_http_upstream_t             *u;
    ngx_http_upstream_kraken_ctx_t  *ctx;

    ctx = kp->ctx;
    u = kp->request->upstream;

    if (ctx->place.len == 0) {
        return;
    }

    if (!ctx->stamped) {
        ctx->stamped = 1;

        if (u->request_bufs == NULL || u->request_bufs->buf == NULL) {
            return;
        }

        b = u->request_bufs->buf;
        last = b->last;

        p = ngx_strlcasestrn(b->start, last, (u_char *) "\nx-kraken-place:",
                             sizeof("\nx-kraken-place:") - 1 - 1);
        if (p == NULL) {
            return;
        }

        for (p += sizeof("\nx-kraken-place:") - 1; p < last && *p == ' '; p++)
        {
            /* void */
        }

        if (last - p < NGX_KRAKEN_PLACE_LEN
            || ngx_memcmp(p, ctx->place.data, NGX_KRAKEN_PLACE_LEN) != 0)
        {
            return;
        }

        ctx->stamp = p;
    }

    if (ctx->stamp) {
        ngx_http_upstream_kraken_place(ctx, kp->rrp.peers, ctx->stamp);
    }
}


/* The next engine to ask, in the room's rendezvous order: -1 when none. */

static ngx_int_t
ngx_http_upstream_kraken_next_ask(ngx_http_upstream_kraken_ctx_t *ctx,
    ngx_http_upstream_rr_peers_t *peers, time_t now)
{
    uint32_t                      score, best_score;
    ngx_int_t                     best;
    ngx_uint_t                    i;
    ngx_http_upstream_rr_peer_t  *peer;

    best = -1;
    best_score = 0;

    for (peer = peers->peer, i = 0;
         peer && i < 8 * sizeof(uintptr_t);
         peer = peer->next, i++)
    {
        if ((ctx->asked & ((uintptr_t) 1 << i))
            || ngx_http_upstream_kraken_usable(peer, now) != NGX_OK)
        {
            continue;
        }

        score = ngx_http_upstream_kraken_score(&ctx->room, &peer->name);

        if (best < 0 || score > best_score) {
            best = i;
            best_score = score;
        }
    }

    if (best >= 0) {
        ctx->asked |= (uintptr_t) 1 << best;
    }

    return best;
}


/* as round robin judges a peer, without taking it */

static ngx_int_t
ngx_http_upstream_kraken_usable(ngx_http_upstream_rr_peer_t *peer,
    time_t now)
{
    if (peer->down) {
        return NGX_DECLINED;
    }

    if (peer->max_fails
        && peer->fails >= peer->max_fails
        && now - peer->checked <= peer->fail_timeout)
    {
        return NGX_DECLINED;
    }

    if (peer->max_conns && peer->conns >= peer->max_conns) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_upstream_kraken_peer_index(ngx_http_upstream_rr_peers_t *peers,
    u_char *name, size_t len)
{
    ngx_uint_t                    i;
    ngx_http_upstream_rr_peer_t  *peer;

    for (peer = peers->peer, i = 0; peer; peer = peer->next, i++) {
        if (peer->name.len == len
            && ngx_strncmp(peer->name.data, name, len) == 0)
        {
            return i;
        }
    }

    return -1;
}


/* rendezvous hashing: every front ranks the engines the same way */

static uint32_t
ngx_http_upstream_kraken_score(ngx_str_t *room, ngx_str_t *name)
{
    uint32_t  crc;

    ngx_crc32_init(crc);
    ngx_crc32_update(&crc, room->data, room->len);
    ngx_crc32_update(&crc, (u_char *) "\0", 1);
    ngx_crc32_update(&crc, name->data, name->len);
    ngx_crc32_final(crc);

    /* mix, so that names alike do not rank alike */
    crc ^= crc >> 16;
    crc *= 0x85ebca6b;
    crc ^= crc >> 13;

    return crc;
}


static ngx_http_upstream_kraken_room_t *
ngx_http_upstream_kraken_lookup(ngx_http_upstream_kraken_shctx_t *sh,
    ngx_str_t *room, uint32_t hash)
{
    return (ngx_http_upstream_kraken_room_t *)
               ngx_str_rbtree_lookup(&sh->rbtree, room, hash);
}


static void
ngx_http_upstream_kraken_remember(ngx_http_upstream_kraken_srv_conf_t *kcf,
    ngx_str_t *room, ngx_str_t *owner)
{
    time_t                             now;
    uint32_t                           hash;
    ngx_uint_t                         n;
    ngx_queue_t                       *q;
    ngx_slab_pool_t                   *shpool;
    ngx_http_upstream_kraken_room_t   *rn;
    ngx_http_upstream_kraken_shctx_t  *sh;

    if (kcf->zone == NULL || owner->len > NGX_KRAKEN_NAME_LEN) {
        return;
    }

    shpool = (ngx_slab_pool_t *) kcf->zone->shm.addr;
    sh = kcf->zone->data;
    hash = ngx_crc32_long(room->data, room->len);
    now = ngx_time();

    ngx_shmtx_lock(&shpool->mutex);

    rn = ngx_http_upstream_kraken_lookup(sh, room, hash);

    if (rn == NULL) {
        /* the rooms no call named for a while, and room for one more */
        for (n = 0; n < 4 && !ngx_queue_empty(&sh->lru); n++) {
            q = ngx_queue_last(&sh->lru);
            rn = ngx_queue_data(q, ngx_http_upstream_kraken_room_t, queue);

            if (now - rn->used < NGX_KRAKEN_BALANCE_IDLE) {
                break;
            }

            ngx_queue_remove(q);
            ngx_rbtree_delete(&sh->rbtree, &rn->sn.node);
            ngx_slab_free_locked(shpool, rn);
        }

        rn = ngx_slab_alloc_locked(shpool,
                                   sizeof(ngx_http_upstream_kraken_room_t)
                                   + room->len);

        if (rn == NULL && !ngx_queue_empty(&sh->lru)) {
            /* full: the least recently used gives way */
            q = ngx_queue_last(&sh->lru);
            rn = ngx_queue_data(q, ngx_http_upstream_kraken_room_t, queue);
            ngx_queue_remove(q);
            ngx_rbtree_delete(&sh->rbtree, &rn->sn.node);
            ngx_slab_free_locked(shpool, rn);

            rn = ngx_slab_alloc_locked(shpool,
                                      sizeof(ngx_http_upstream_kraken_room_t)
                                      + room->len);
        }

        if (rn == NULL) {
            ngx_shmtx_unlock(&shpool->mutex);
            return;
        }

        ngx_memcpy(rn->data, room->data, room->len);
        rn->sn.str.data = rn->data;
        rn->sn.str.len = room->len;
        rn->sn.node.key = hash;
        ngx_rbtree_insert(&sh->rbtree, &rn->sn.node);

    } else {
        ngx_queue_remove(&rn->queue);
    }

    ngx_memcpy(rn->owner, owner->data, owner->len);
    rn->owner_len = (u_char) owner->len;
    rn->used = now;
    ngx_queue_insert_head(&sh->lru, &rn->queue);

    ngx_shmtx_unlock(&shpool->mutex);
}


/* the engine failed: the room is placed anew when its clients rejoin */

static void
ngx_http_upstream_kraken_forget(ngx_http_upstream_kraken_srv_conf_t *kcf,
    ngx_str_t *room, ngx_str_t *owner)
{
    ngx_slab_pool_t                   *shpool;
    ngx_http_upstream_kraken_room_t   *rn;
    ngx_http_upstream_kraken_shctx_t  *sh;

    if (kcf->zone == NULL) {
        return;
    }

    shpool = (ngx_slab_pool_t *) kcf->zone->shm.addr;
    sh = kcf->zone->data;

    ngx_shmtx_lock(&shpool->mutex);

    rn = ngx_http_upstream_kraken_lookup(sh, room,
                                         ngx_crc32_long(room->data,
                                                        room->len));

    if (rn && rn->owner_len == owner->len
        && ngx_strncmp(rn->owner, owner->data, owner->len) == 0)
    {
        ngx_queue_remove(&rn->queue);
        ngx_rbtree_delete(&sh->rbtree, &rn->sn.node);
        ngx_slab_free_locked(shpool, rn);
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


static ngx_table_elt_t *
ngx_http_upstream_kraken_header(ngx_list_t *list, char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);
    part = &list->part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash && h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_upstream_kraken_place_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_upstream_srv_conf_t    *us;
    ngx_http_upstream_kraken_ctx_t  *ctx;

    v->not_found = 1;

    if (r->upstream == NULL || r->upstream->conf == NULL
        || r->upstream->conf->upstream == NULL)
    {
        return NGX_OK;
    }

    us = r->upstream->conf->upstream;

    if (us->peer.init_upstream != ngx_http_upstream_init_kraken) {
        return NGX_OK;
    }

    ctx = ngx_http_upstream_kraken_plan(r, us);

    /* calls without a room need no placing: no header */
    if (ctx == NULL || ctx->place.len == 0) {
        return NGX_OK;
    }

    v->len = ctx->place.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = ctx->place.data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upstream_kraken_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_upstream_kraken_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_upstream_kraken_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_http_upstream_kraken_shctx_t  *octx = data;

    ngx_slab_pool_t                   *shpool;
    ngx_http_upstream_kraken_shctx_t  *sh;

    if (octx) {
        zone->data = octx;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        zone->data = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_upstream_kraken_shctx_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    ngx_rbtree_init(&sh->rbtree, &sh->sentinel, ngx_str_rbtree_insert_value);
    ngx_queue_init(&sh->lru);

    /* a full zone evicts the least recently used room, it is not crit */
    shpool->log_nomem = 0;
    shpool->data = sh;
    zone->data = sh;

    return NGX_OK;
}


static void *
ngx_http_upstream_kraken_create_conf(ngx_conf_t *cf)
{
    ngx_http_upstream_kraken_srv_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool,
                       sizeof(ngx_http_upstream_kraken_srv_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->zone = NULL;
     */

    conf->room_index = NGX_ERROR;

    return conf;
}


/* kraken_balance [size]: the zone of rooms, 1m by default */

static char *
ngx_http_upstream_kraken(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upstream_kraken_srv_conf_t  *kcf = conf;

    ssize_t                        size;
    ngx_str_t                     *value, name;
    ngx_http_upstream_srv_conf_t  *uscf;

    if (kcf->zone) {
        return "is duplicate";
    }

    uscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_upstream_module);

    if (uscf->peer.init_upstream) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "load balancing method redefined");
    }

    value = cf->args->elts;
    size = 1024 * 1024;

    if (cf->args->nelts == 2) {
        size = ngx_parse_size(&value[1]);
        if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
            return "takes a size of at least 8 pages";
        }
    }

    name.len = sizeof("kraken_balance:") - 1 + uscf->host.len;
    name.data = ngx_pnalloc(cf->pool, name.len);
    if (name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(name.data, "kraken_balance:%V", &uscf->host);

    kcf->zone = ngx_shared_memory_add(cf, &name, size,
                                      &ngx_http_upstream_kraken_module);
    if (kcf->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    kcf->zone->init = ngx_http_upstream_kraken_init_zone;

    kcf->room_index = ngx_http_get_variable_index(cf,
                                           &ngx_http_upstream_kraken_room_name);
    if (kcf->room_index == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    uscf->peer.init_upstream = ngx_http_upstream_init_kraken;

    uscf->flags = NGX_HTTP_UPSTREAM_CREATE
                  |NGX_HTTP_UPSTREAM_WEIGHT
                  |NGX_HTTP_UPSTREAM_MAX_CONNS
                  |NGX_HTTP_UPSTREAM_MAX_FAILS
                  |NGX_HTTP_UPSTREAM_FAIL_TIMEOUT
                  |NGX_HTTP_UPSTREAM_DOWN;

    return NGX_CONF_OK;
}
