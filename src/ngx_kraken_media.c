
/*
 * Copyright (C) ngx_kraken authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <sys/resource.h>

#include "ngx_kraken_callback.h"
#include "ngx_kraken_media.h"
#include "ngx_kraken_registry.h"
#include "ngx_kraken_ipc.h"
#include "kraken_udp.h"
#include "ngx_kraken.h"
#include "ngx_kraken_handoff.h"
#include "ngx_kraken_socket.h"


#define NGX_KRAKEN_BATCH       64
#define NGX_KRAKEN_TIMER_MAX   100

/*
 * Larger than any datagram the engine accepts (1500 bytes, the rest it
 * counts as oversize), so that a truncated one (MSG_TRUNC) is recognised.
 */
#define NGX_KRAKEN_DGRAM_SIZE  2048

/* at most one line a second about datagrams the socket refused */
#define NGX_KRAKEN_SEND_LOG    1

/* the window of the CPU and packet rate figures (X-Kraken-Load), ms */
#define NGX_KRAKEN_LOAD_WINDOW 1000

/*
 * Told to quit after a newer configuration was loaded, how long a worker
 * waits for a worker of it to be alive before it takes it for nginx
 * quitting, ms
 */
#define NGX_KRAKEN_SUCCESSOR_WAIT  1000


static ngx_int_t ngx_kraken_media_socket(ngx_cycle_t *cycle,
    ngx_stream_kraken_main_conf_t *kmcf);
static void ngx_kraken_media_steer(ngx_cycle_t *cycle);
static void ngx_kraken_media_engine_conf(kraken_engine_conf_t *ecf,
    ngx_stream_kraken_main_conf_t *kmcf, u_char *ip);
static void ngx_kraken_media_read_handler(ngx_event_t *rev);
static void ngx_kraken_media_foreign(struct sockaddr *from, socklen_t len,
    u_char *buf, size_t n);
static void ngx_kraken_media_input(struct sockaddr *from, socklen_t len,
    u_char *buf, size_t n);
static void ngx_kraken_media_input_done(void);
static void ngx_kraken_media_timer_handler(ngx_event_t *ev);
static void ngx_kraken_media_load(kraken_engine_stats_t *st);
static ngx_int_t ngx_kraken_media_quitting(ngx_log_t *log,
    kraken_engine_stats_t *st);
static ngx_int_t ngx_kraken_media_drain(ngx_log_t *log,
    kraken_engine_stats_t *st);
static void ngx_kraken_media_send(void *data, kraken_datagram_t *dg, int n);
static int ngx_kraken_media_addr_event(void *data,
    const struct sockaddr *sa, socklen_t len, int event);
static void ngx_kraken_media_log(void *data, const char *msg);


static kraken_engine_t   *ngx_kraken_engine;
static ngx_connection_t  *ngx_kraken_udp;
static ngx_event_t        ngx_kraken_timer;
static ngx_log_t         *ngx_kraken_log;
static ngx_kraken_media_conf_t  *ngx_kraken_mcf;
static ngx_kraken_ipc_handler_pt  ngx_kraken_rpc;

/* this worker's registry slot, and its socket's index in the eBPF array */
static ngx_uint_t         ngx_kraken_slot;
static ngx_uint_t         ngx_kraken_sock_index;
static kraken_bpf_t      *ngx_kraken_steer_maps;
static ngx_kraken_media_stats_t  ngx_kraken_mstats;

/* after a reload: when draining began, when a peer was last connected */
static ngx_uint_t         ngx_kraken_draining;
static ngx_msec_t         ngx_kraken_drain_start;
static ngx_msec_t         ngx_kraken_drain_connected;

/* since when a newer configuration has no live worker, when waiting */
static ngx_uint_t         ngx_kraken_successor_waiting;
static ngx_msec_t         ngx_kraken_successor_since;
static time_t             ngx_kraken_send_logged;

/* where the current load window began: CPU time (us), RTP forwarded */
static ngx_uint_t         ngx_kraken_load_started;
static ngx_msec_t         ngx_kraken_load_start;
static uint64_t           ngx_kraken_load_cpu;
static uint64_t           ngx_kraken_load_rtp;

/* receive buffers, preallocated: nothing is allocated per datagram */
static u_char             ngx_kraken_rbuf[NGX_KRAKEN_BATCH]
                                         [NGX_KRAKEN_DGRAM_SIZE];
static struct mmsghdr     ngx_kraken_rmsg[NGX_KRAKEN_BATCH];
static struct iovec       ngx_kraken_riov[NGX_KRAKEN_BATCH];
static struct sockaddr_storage  ngx_kraken_raddr[NGX_KRAKEN_BATCH];


kraken_engine_t *
ngx_kraken_media_engine(void)
{
    return ngx_kraken_engine;
}


void
ngx_kraken_media_report(void)
{
    kraken_engine_stats_t  st;

    if (ngx_kraken_engine == NULL) {
        return;
    }

    kraken_engine_stats(ngx_kraken_engine, &st);
    ngx_kraken_registry_report(&st, NULL);
}


void
ngx_kraken_media_set_rpc(ngx_kraken_ipc_handler_pt rpc)
{
    ngx_kraken_rpc = rpc;
}


ngx_int_t
ngx_kraken_media_init_process(ngx_cycle_t *cycle,
    ngx_stream_kraken_main_conf_t *kmcf)
{
    char                      err[256];
    u_char                    ip[NGX_SOCKADDR_STRLEN + 1];
    ngx_kraken_media_conf_t  *mcf;
    kraken_engine_conf_t      ecf;
    kraken_engine_stats_t     st;

    mcf = kmcf->media;

    ngx_kraken_log = cycle->log;
    ngx_kraken_mcf = mcf;

    if (ngx_kraken_registry_join(cycle, &ngx_kraken_slot) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_kraken_registry_set_port(kmcf->port);

    if (ngx_kraken_rpc
        && ngx_kraken_ipc_listen(cycle, ngx_kraken_rpc) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_kraken_media_socket(cycle, kmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_kraken_handoff_init(cycle, mcf->socket_buffer,
                                ngx_kraken_media_input,
                                ngx_kraken_media_input_done)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_kraken_media_steer(cycle);

    ngx_kraken_mstats.worker_peers = mcf->worker_peers;
    ngx_kraken_mstats.worker_rooms = mcf->worker_rooms;

    ngx_memcpy(ip, mcf->announce.data, mcf->announce.len);
    ip[mcf->announce.len] = '\0';

    ngx_kraken_media_engine_conf(&ecf, kmcf, ip);

    ngx_kraken_engine = kraken_engine_create(&ecf, err, sizeof(err));
    if (ngx_kraken_engine == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "kraken: engine: %s", err);
        return NGX_ERROR;
    }

    /* the bounds and the mode are known now: an answer may read them */
    ngx_memzero(&st, sizeof(kraken_engine_stats_t));
    ngx_kraken_registry_report(&st, &ngx_kraken_mstats);

    ngx_kraken_timer.handler = ngx_kraken_media_timer_handler;
    ngx_kraken_timer.log = cycle->log;
    ngx_kraken_timer.data = ngx_kraken_udp;
    ngx_kraken_timer.cancelable = 1;
    ngx_add_timer(&ngx_kraken_timer, NGX_KRAKEN_TIMER_MAX);

    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                  "kraken: worker %ui (slot %ui) media on port %d, "
                  "announced as %s, %s", ngx_worker, ngx_kraken_slot,
                  (int) kmcf->port, ip,
                  ngx_kraken_steer_maps
                  ? "steered by eBPF"
                  : "datagrams handed over between workers");

    return NGX_OK;
}


/*
 * The steering of this generation (ngx_kraken_module.c): with eBPF, what
 * an older holder of the slot left goes from the maps, and our STUN tag
 * names our socket.
 */

static void
ngx_kraken_media_steer(ngx_cycle_t *cycle)
{
    ngx_kraken_steer_maps = ngx_kraken_bpf();
    ngx_kraken_mstats.steering = ngx_kraken_steering();

    if (ngx_kraken_steer_maps == NULL) {
        return;
    }

    kraken_bpf_purge_slot(ngx_kraken_steer_maps, ngx_kraken_slot);

    if (kraken_bpf_set_tag(ngx_kraken_steer_maps, ngx_kraken_slot + 1,
                           ngx_kraken_sock_index)
        != 0)
    {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                      "kraken: eBPF tag map update failed");
    }
}


/* the engine's settings: the media server's, and this file's callbacks */

static void
ngx_kraken_media_engine_conf(kraken_engine_conf_t *ecf,
    ngx_stream_kraken_main_conf_t *kmcf, u_char *ip)
{
    ngx_kraken_media_conf_t  *mcf;

    mcf = kmcf->media;

    ngx_memzero(ecf, sizeof(kraken_engine_conf_t));
    ecf->announce_ip = (const char *) ip;
    ecf->port = kmcf->port;
    ecf->consent_timeout = mcf->consent_timeout;
    ecf->connect_timeout = mcf->connect_timeout;
    ecf->closed_peer_time = mcf->closed_peer_time;
    ecf->send = ngx_kraken_media_send;
    ecf->send_data = NULL;
    ecf->room_event = ngx_kraken_registry_room_event;
    ecf->room_admit = ngx_kraken_registry_room_admit;
    ecf->room_event_data = NULL;
    ecf->max_room_peers = (unsigned) mcf->room_peers;
    ecf->max_rooms = (unsigned) mcf->worker_rooms;
    ecf->max_peers = (unsigned) mcf->worker_peers;
    ecf->max_pending = (unsigned) mcf->worker_connecting;
    ecf->max_candidates = (unsigned) mcf->peer_candidates;
    ecf->max_peer_streams = (unsigned) mcf->peer_streams;
    ecf->log = ngx_kraken_media_log;
    ecf->log_data = ngx_kraken_log;
    ecf->ufrag_tag = (unsigned) ngx_kraken_slot + 1;
    ecf->addr_event = ngx_kraken_media_addr_event;
    ecf->addr_event_data = NULL;
    ecf->ontrack = ngx_kraken_callback_ontrack;
    ecf->ontrack_data = &ngx_kraken_engine;
}


/*
 * The worker's socket of the media server's listen. It reads a dup of
 * it: nginx closes its listening sockets when a worker starts to shut
 * down, and an old generation's calls go on until they end.
 */

static ngx_int_t
ngx_kraken_media_socket(ngx_cycle_t *cycle,
    ngx_stream_kraken_main_conf_t *kmcf)
{
    int                value;
    ngx_uint_t         i;
    ngx_socket_t       fd;
    ngx_listening_t   *ls, *media;
    ngx_connection_t  *c, *lc;

    media = NULL;
    ls = cycle->listening.elts;

    for (i = 0; i < cycle->listening.nelts; i++) {

        if (ngx_kraken_listening_is_media(cycle, &ls[i]) != NGX_OK) {
            continue;
        }

#if (NGX_HAVE_REUSEPORT)
        if (ls[i].reuseport && ls[i].worker != ngx_worker) {
            continue;
        }
#endif

        media = &ls[i];
        break;
    }

    if (media == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "kraken: no listening socket for the media server");
        return NGX_ERROR;
    }

    ngx_kraken_sock_index = media->worker;

    /* nginx's own handler (a stream session per datagram) stays idle */
    lc = media->connection;

    if (lc) {
        if (lc->read->active) {
            ngx_del_event(lc->read, NGX_READ_EVENT, 0);
        }

        lc->read->handler = ngx_kraken_media_read_handler;
    }

    fd = dup(media->fd);
    if (fd == (ngx_socket_t) -1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno, "dup() failed");
        return NGX_ERROR;
    }

    if (ngx_nonblocking(fd) == -1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_socket_errno,
                      ngx_nonblocking_n " failed");
        (void) ngx_close_socket(fd);
        return NGX_ERROR;
    }

#if defined(IP_MTU_DISCOVER) && defined(IP_PMTUDISC_PROBE)
    /*
     * DF set without path MTU errors: media datagrams are small, and a
     * datagram with DF needs no IP ID (no hashed ident per packet).
     */
    if (kmcf->sockaddr->sa_family == AF_INET) {
        value = IP_PMTUDISC_PROBE;
        (void) setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &value,
                          sizeof(int));
    }
#endif

    c = ngx_kraken_socket_watch(cycle, fd, ngx_kraken_mcf->socket_buffer,
                                ngx_kraken_media_read_handler);
    if (c == NULL) {
        return NGX_ERROR;
    }

    ngx_kraken_udp = c;

    return NGX_OK;
}


void
ngx_kraken_media_exit_process(ngx_cycle_t *cycle)
{
    int  n;

    /*
     * Whatever ends the worker (nginx quits or stops, the drain ended),
     * its connected peers hear a DTLS close_notify now, sent before the
     * socket closes; nothing waits for it to arrive.
     */
    if (ngx_kraken_engine && ngx_kraken_udp) {
        n = kraken_engine_shutdown(ngx_kraken_engine, ngx_current_msec);

        if (n) {
            ngx_log_error(NGX_LOG_INFO, cycle->log, 0,
                          "kraken: worker exits, DTLS close_notify sent "
                          "to %d peers", n);
        }
    }

    ngx_kraken_registry_leave();
    ngx_kraken_ipc_close();

    if (ngx_kraken_timer.timer_set) {
        ngx_del_timer(&ngx_kraken_timer);
    }

    if (ngx_kraken_udp) {
        ngx_close_connection(ngx_kraken_udp);
        ngx_kraken_udp = NULL;
    }

    ngx_kraken_handoff_close();

    if (ngx_kraken_engine) {
        kraken_engine_free(ngx_kraken_engine);
        ngx_kraken_engine = NULL;
    }
}


static void
ngx_kraken_media_read_handler(ngx_event_t *rev)
{
    int                i, n, rounds;
    ngx_connection_t  *c;

    c = rev->data;

    if (c->close) {
        /* a draining worker keeps its calls until they end */
        c->close = 0;
    }

    if (ngx_kraken_engine == NULL) {
        return;
    }

    for (i = 0; i < NGX_KRAKEN_BATCH; i++) {
        ngx_kraken_riov[i].iov_base = ngx_kraken_rbuf[i];
        ngx_kraken_riov[i].iov_len = NGX_KRAKEN_DGRAM_SIZE;
        ngx_kraken_rmsg[i].msg_hdr.msg_iov = &ngx_kraken_riov[i];
        ngx_kraken_rmsg[i].msg_hdr.msg_iovlen = 1;
        ngx_kraken_rmsg[i].msg_hdr.msg_control = NULL;
        ngx_kraken_rmsg[i].msg_hdr.msg_controllen = 0;
    }

    /* bounded, so HTTP keeps its share of the loop; epoll is level here */
    for (rounds = 0; rounds < 16; rounds++) {

        for (i = 0; i < NGX_KRAKEN_BATCH; i++) {
            ngx_kraken_rmsg[i].msg_hdr.msg_name = &ngx_kraken_raddr[i];
            ngx_kraken_rmsg[i].msg_hdr.msg_namelen =
                                             sizeof(struct sockaddr_storage);
            ngx_kraken_rmsg[i].msg_hdr.msg_flags = 0;
        }

        n = recvmmsg(c->fd, ngx_kraken_rmsg, NGX_KRAKEN_BATCH, 0, NULL);

        if (n <= 0) {
            break;
        }

        for (i = 0; i < n; i++) {

            if (ngx_kraken_rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) {
                ngx_log_debug1(NGX_LOG_DEBUG_EVENT, c->log, 0,
                               "kraken: truncated datagram dropped, "
                               "%ui bytes read",
                               (ngx_uint_t) ngx_kraken_rmsg[i].msg_len);
                continue;
            }

            if (kraken_engine_input(ngx_kraken_engine,
                            (struct sockaddr *) &ngx_kraken_raddr[i],
                            ngx_kraken_rmsg[i].msg_hdr.msg_namelen,
                            ngx_kraken_rbuf[i], ngx_kraken_rmsg[i].msg_len,
                            ngx_current_msec)
                == KRAKEN_INPUT_FOREIGN)
            {
                ngx_kraken_media_foreign(
                            (struct sockaddr *) &ngx_kraken_raddr[i],
                            ngx_kraken_rmsg[i].msg_hdr.msg_namelen,
                            ngx_kraken_rbuf[i], ngx_kraken_rmsg[i].msg_len);
            }
        }

        kraken_engine_flush(ngx_kraken_engine);
        ngx_kraken_handoff_flush();

        if (n < NGX_KRAKEN_BATCH) {
            break;
        }
    }
}


/*
 * Another worker's datagram: STUN goes to the worker its ufrag's tag
 * names, anything else to the worker that admitted the address. What no
 * worker claims is dropped here, and counted as the engine would.
 */

static void
ngx_kraken_media_foreign(struct sockaddr *from, socklen_t len, u_char *buf,
    size_t n)
{
    ngx_uint_t  slot;

    if (buf[0] <= 3) {
        slot = kraken_engine_stun_tag(buf, n);

        if (slot == 0) {
            goto drop;
        }

        slot--;

    } else if (ngx_kraken_registry_addr_owner(from, len, &slot) != NGX_OK) {
        goto drop;
    }

    if (slot != ngx_kraken_slot
        && ngx_kraken_handoff_queue(slot, from, buf, n) == NGX_OK)
    {
        return;
    }

drop:

    kraken_engine_drop(ngx_kraken_engine, buf, n);
}


/* a datagram another worker handed over: once, so what is not ours goes */

static void
ngx_kraken_media_input(struct sockaddr *from, socklen_t len, u_char *buf,
    size_t n)
{
    if (ngx_kraken_engine == NULL) {
        return;
    }

    if (kraken_engine_input(ngx_kraken_engine, from, len, buf, n,
                            ngx_current_msec)
        == KRAKEN_INPUT_FOREIGN)
    {
        kraken_engine_drop(ngx_kraken_engine, buf, n);
    }
}


/* after a batch of handed-over datagrams */

static void
ngx_kraken_media_input_done(void)
{
    if (ngx_kraken_engine) {
        kraken_engine_flush(ngx_kraken_engine);
    }
}


static void
ngx_kraken_media_timer_handler(ngx_event_t *ev)
{
    uint64_t               next;
    kraken_engine_stats_t  st;

    if (ngx_kraken_engine == NULL) {
        return;
    }

    next = kraken_engine_timer(ngx_kraken_engine, ngx_current_msec);
    kraken_engine_flush(ngx_kraken_engine);

    kraken_engine_stats(ngx_kraken_engine, &st);
    ngx_kraken_handoff_stats(&ngx_kraken_mstats);
    ngx_kraken_media_load(&st);
    ngx_kraken_registry_report(&st, &ngx_kraken_mstats);

    /*
     * After a reload the old worker lives on while it has calls: this
     * timer keeps it, new rooms go to the new workers. ngx_quit: the
     * signal came, ngx_exiting is set once this event loop turn ends.
     * When nginx itself quits, the worker closes its calls at once.
     */
    ev->cancelable = (st.active_peers == 0);

    if ((ngx_exiting || ngx_quit)
        && (ngx_kraken_media_quitting(ev->log, &st) == NGX_DONE
            || ngx_kraken_media_drain(ev->log, &st) == NGX_DONE))
    {
        ngx_kraken_media_exit_process((ngx_cycle_t *) ngx_cycle);
        return;
    }

    if (next > NGX_KRAKEN_TIMER_MAX) {
        next = NGX_KRAKEN_TIMER_MAX;
    }

    if (next == 0) {
        next = 1;
    }

    ngx_add_timer(ev, (ngx_msec_t) next);
}


/*
 * This worker's CPU use (percent of one core) and forwarded packets per
 * second over the last window of about a second, for fronts that place
 * rooms by load.
 */

static void
ngx_kraken_media_load(kraken_engine_stats_t *st)
{
    uint64_t       cpu, rtp;
    ngx_msec_t     elapsed;
    struct rusage  ru;

    elapsed = ngx_current_msec - ngx_kraken_load_start;

    if (ngx_kraken_load_started && elapsed < NGX_KRAKEN_LOAD_WINDOW) {
        return;
    }

    if (getrusage(RUSAGE_SELF, &ru) == -1) {
        return;
    }

    cpu = (uint64_t) ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec
          + (uint64_t) ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
    rtp = st->counters.rtp_forwarded;

    if (ngx_kraken_load_started && elapsed) {
        /* us of CPU per ms of the window, / 10: percent */
        ngx_kraken_mstats.cpu = ngx_min((cpu - ngx_kraken_load_cpu)
                                        / elapsed / 10, 100);
        ngx_kraken_mstats.pps = (rtp - ngx_kraken_load_rtp) * 1000 / elapsed;
    }

    ngx_kraken_load_started = 1;
    ngx_kraken_load_start = ngx_current_msec;
    ngx_kraken_load_cpu = cpu;
    ngx_kraken_load_rtp = rtp;
}


/*
 * The master tells a worker to quit (NGX_CMD_QUIT, or SIGQUIT) in the
 * same way after a reload, on "nginx -s quit" and after SIGWINCH; the
 * worker cannot tell which from ngx_quit, ngx_exiting or its parent
 * (a quitting master lives until its last worker exits). What differs is
 * the registry: a reload loads a newer configuration, whose zone init
 * counts one generation more, before the master forks its workers and
 * signals the old ones. No newer configuration: nginx quits, and the
 * worker closes its calls at once. A newer one with a live worker: a
 * reload, the worker drains. A newer one without a live worker for
 * NGX_KRAKEN_SUCCESSOR_WAIT: its workers have not registered yet, that
 * reload failed after loading (a port it could not bind), or its workers
 * exited because nginx quits while this older generation drains (the
 * master does not signal a worker twice): the worker closes its calls.
 */

static ngx_int_t
ngx_kraken_media_quitting(ngx_log_t *log, kraken_engine_stats_t *st)
{
    ngx_int_t   rc;
    ngx_msec_t  now;

    now = ngx_current_msec;
    rc = ngx_kraken_registry_successor();

    if (rc == NGX_OK) {
        ngx_kraken_successor_waiting = 0;
        return NGX_OK;
    }

    if (rc == NGX_AGAIN) {
        if (!ngx_kraken_successor_waiting) {
            ngx_kraken_successor_waiting = 1;
            ngx_kraken_successor_since = now;
        }

        if (now - ngx_kraken_successor_since < NGX_KRAKEN_SUCCESSOR_WAIT) {
            return NGX_OK;
        }
    }

    if (st->active_peers) {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "kraken: nginx quits (%s), worker exits and closes "
                      "%d peers (%d connected) in %d rooms",
                      rc == NGX_DECLINED
                      ? "no newer configuration"
                      : "no worker of the newer configuration",
                      st->active_peers, st->connected_peers,
                      st->active_rooms);
    }

    return NGX_DONE;
}


/*
 * An old generation leaves: only connected calls keep it, and at most
 * kraken_media_drain_timeout (the log line keeps the old name, which
 * tests and operators grep). Peers that never connect do not, however
 * many publishes its rooms still get: with no connected peer for a
 * connect timeout, it goes. NGX_DONE: the worker closes its peers and
 * exits, its rooms leave the registry, and their clients, answered
 * 5002001 by the new workers, publish again there.
 */

static ngx_int_t
ngx_kraken_media_drain(ngx_log_t *log, kraken_engine_stats_t *st)
{
    ngx_msec_t                now;
    ngx_kraken_media_conf_t  *mcf;

    mcf = ngx_kraken_mcf;
    now = ngx_current_msec;

    if (!ngx_kraken_draining) {
        ngx_kraken_draining = 1;
        ngx_kraken_drain_start = now;
        ngx_kraken_drain_connected = now;

        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "kraken: worker draining: %d peers (%d connected) "
                      "in %d rooms; it exits when its calls end, after "
                      "%M ms without a connected peer, or in %M ms",
                      st->active_peers, st->connected_peers,
                      st->active_rooms, mcf->connect_timeout,
                      mcf->drain_timeout);
    }

    if (st->active_peers == 0) {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "kraken: last call ended, worker exits");
        return NGX_DONE;
    }

    if (st->connected_peers) {
        ngx_kraken_drain_connected = now;

    } else if (now - ngx_kraken_drain_connected >= mcf->connect_timeout) {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "kraken: no connected peer for %M ms, worker exits "
                      "and closes %d unconnected peers in %d rooms",
                      now - ngx_kraken_drain_connected, st->active_peers,
                      st->active_rooms);
        return NGX_DONE;
    }

    if (now - ngx_kraken_drain_start >= mcf->drain_timeout) {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "kraken: kraken_drain_timeout passed, worker exits "
                      "and closes %d peers (%d connected) in %d rooms",
                      st->active_peers, st->connected_peers,
                      st->active_rooms);
        return NGX_DONE;
    }

    return NGX_OK;
}


static void
ngx_kraken_media_send(void *data, kraken_datagram_t *dg, int n)
{
    int  sent, err;

    if (ngx_kraken_udp == NULL || n <= 0) {
        return;
    }

    sent = kraken_udp_send_batch(ngx_kraken_udp->fd, dg, n, &err);

    if (sent == n) {
        return;
    }

    /* one line per batch at most, and at info at most once a second */

    if (ngx_time() - ngx_kraken_send_logged >= NGX_KRAKEN_SEND_LOG) {
        ngx_kraken_send_logged = ngx_time();
        ngx_log_error(NGX_LOG_INFO, ngx_kraken_log, err,
                      "kraken: sendmmsg() dropped %d of %d datagrams",
                      n - sent, n);
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, ngx_kraken_log, err,
                   "kraken: sendmmsg() dropped %d of %d datagrams",
                   n - sent, n);
}


/* a peer's life: published, connected, first audio, closed and why */

static void
ngx_kraken_media_log(void *data, const char *msg)
{
    ngx_log_t *log = data;

    ngx_log_error(NGX_LOG_INFO, log, 0, "kraken: %s", msg);
}


/*
 * The engine admitted, proved or forgot a client address: steer it here,
 * in the registry's table and the eBPF map, never over another worker.
 */

static int
ngx_kraken_media_addr_event(void *data, const struct sockaddr *sa,
    socklen_t len, int event)
{
    return ngx_kraken_registry_addr_event(sa, len, event,
                                          ngx_kraken_steer_maps,
                                          ngx_kraken_sock_index)
           == NGX_OK ? 0 : -1;
}
