/*
 * loadgen soak: participants join and leave continuously, for a memory
 * and descriptor soak of the server. Participant i joins room
 * "soak-(i / room size)" when fewer than --concurrent are in, talks for
 * 0.5 to 1.5 times its share of the soak (concurrent x length / total),
 * then leaves: most close their connection and call `end`, --vanish-pct
 * of them close it and tell nobody, which leaves them to the server's
 * consent timeout (or its connect timeout, when they leave before their
 * connection is up).
 *
 * It ends when every participant has left and every RPC is answered, and
 * prints one SOAK line. Exit 0 when every participant connected and
 * nothing failed.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "lg.h"


typedef struct {
    int       started;
    int       active;                   /* started, not yet gone */
    int       ended;                    /* left with `end` */
    int       vanished;                 /* left silently */
    int       failed;
    int       connected;                /* SRTP keyed at some point */
    int       heard;                    /* received forwarded audio */
} lg_soak_tally_t;


static void lg_soak_start(lg_t *lg, lg_part_t *p, double life);
static void lg_soak_leave(lg_t *lg, lg_soak_tally_t *t);
static void lg_soak_count(lg_t *lg, lg_soak_tally_t *t);
static int lg_soak_busy(lg_t *lg);


int
lg_soak(lg_t *lg)
{
    int                 i, n, timeout, done;
    double              life, elapsed;
    uint64_t            t0, next_timer, next_start, next_status;
    lg_conf_t          *cf;
    lg_soak_tally_t     t;
    struct epoll_event  evs[64];

    cf = &lg->conf;
    memset(&t, 0, sizeof(t));

    /* a participant's share of the soak, so that about C are in at once */
    life = (double) cf->concurrent * cf->soak_seconds / cf->peers_total;

    fprintf(stderr, "loadgen: soak: %d participants over %.0f s, %d at a "
            "time, %.1f s each on average, rooms of %d, %d%% vanish\n",
            cf->peers_total, cf->soak_seconds, cf->concurrent, life,
            cf->room_size, cf->vanish_pct);

    t0 = lg->now = lg_now();
    next_timer = 0;
    next_start = t0;
    next_status = t0 + 30 * LG_NS;
    done = 0;

    while (!lg_interrupted) {
        lg->now = lg_now();
        timeout = (lg->next_slot_ms * LG_MS > lg->now) ? 1 : 0;

        n = epoll_wait(lg->ep, evs, 64, timeout);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            break;
        }

        lg->now = lg_now();
        lg_net_read(lg);

        for (i = 0; i < n; i++) {
            lg_http_event(lg, evs[i].data.ptr, evs[i].events);
        }

        lg->now = lg_now();
        lg_net_send_due(lg);

        if (lg->now < next_timer) {
            continue;
        }

        next_timer = lg->now + 10 * LG_MS;
        lg_net_timers(lg);
        lg_kraken_timers(lg);
        lg_soak_leave(lg, &t);

        while (t.started < lg->nparts && t.active < cf->concurrent
               && lg->now >= next_start)
        {
            lg_soak_start(lg, &lg->parts[t.started], life);
            t.started++;
            t.active++;
            next_start = lg->now + (uint64_t) (1e9 / cf->start_rate);
        }

        if (lg->now >= next_status) {
            next_status = lg->now + 30 * LG_NS;
            lg_soak_count(lg, &t);
            fprintf(stderr, "loadgen: soak %.0f s: started %d, in %d, "
                    "ended %d, vanished %d, failed %d, errors %llu\n",
                    (double) (lg->now - t0) / 1e9, t.started, t.active,
                    t.ended, t.vanished, t.failed,
                    (unsigned long long) (lg->errors + lg->rpc_errors));
        }

        if (t.started == lg->nparts && t.active == 0 && !lg_soak_busy(lg)) {
            done = 1;
            break;
        }
    }

    lg_soak_count(lg, &t);
    elapsed = (double) (lg->now - t0) / 1e9;

    if (!done) {
        fprintf(stderr, "loadgen: soak interrupted\n");
    }

    printf("SOAK peers=%d seconds=%.1f concurrent=%d started=%d "
           "connected=%d heard=%d ended=%d vanished=%d failed=%d "
           "errors=%llu rpc_errors=%llu rtcp_tx=%llu rx_after_close=%llu "
           "done=%d\n", lg->nparts, elapsed, cf->concurrent, t.started,
           t.connected, t.heard, t.ended, t.vanished, t.failed,
           (unsigned long long) lg->errors,
           (unsigned long long) lg->rpc_errors,
           (unsigned long long) lg->rtcp_sent,
           (unsigned long long) lg->rx_closed, done);
    fflush(stdout);

    return (done && t.failed == 0 && t.connected == lg->nparts
            && lg->errors + lg->rpc_errors == 0) ? 0 : 1;
}


static void
lg_soak_start(lg_t *lg, lg_part_t *p, double life)
{
    double  r;

    r = 0.5 + (double) rand() / ((double) RAND_MAX + 1.0);

    p->started = 1;
    p->t_leave = lg->now + (uint64_t) (life * r * 1e9);
    p->leave = (rand() % 100 < lg->conf.vanish_pct) ? LG_LEAVE_VANISH
                                                   : LG_LEAVE_END;

    lg_kraken_start(lg, p);
}


/*
 * Participants whose time is up (or whose connection failed) leave. One
 * with an RPC in flight waits for its answer, so that `end` comes last.
 */

static void
lg_soak_leave(lg_t *lg, lg_soak_tally_t *t)
{
    int         i;
    lg_part_t  *p;

    for (i = 0; i < t->started; i++) {
        p = &lg->parts[i];

        if (p->gone || p->busy
            || (!p->failed && lg->now < p->t_leave))
        {
            continue;
        }

        p->gone = 1;
        t->active--;

        if (p->conn) {
            lg_conn_close(lg, p->conn);
        }

        if (p->failed) {
            continue;
        }

        if (p->leave == LG_LEAVE_END && p->track[0] != '\0') {
            lg_kraken_end(lg, p);
        }
    }
}


static void
lg_soak_count(lg_t *lg, lg_soak_tally_t *t)
{
    int         i;
    lg_part_t  *p;

    t->ended = t->vanished = t->failed = t->connected = t->heard = 0;

    for (i = 0; i < t->started; i++) {
        p = &lg->parts[i];

        t->failed += p->failed;
        t->connected += (p->conn && p->conn->t_up != 0);
        t->heard += (p->conn && p->conn->rx_packets != 0);

        if (p->gone && !p->failed) {
            if (p->leave == LG_LEAVE_END) {
                t->ended += p->ended;
            } else {
                t->vanished++;
            }
        }
    }
}


static int
lg_soak_busy(lg_t *lg)
{
    int  i;

    for (i = 0; i < lg->nparts; i++) {
        if (lg->parts[i].busy) {
            return 1;
        }
    }

    return 0;
}
