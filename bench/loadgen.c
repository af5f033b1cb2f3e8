/*
 * loadgen: many WebRTC audio peers in one process against an SFU on
 * loopback (ngx_kraken through Kraken's JSON-RPC, or Janus VideoRoom),
 * measuring what the SFU forwards: packets/s, loss, added one-way
 * latency, join time, RPC latency, and the SFU's CPU per forwarded packet
 * and memory per participant from /proc.
 *
 *   loadgen floor [--seconds S]
 *   loadgen run --server kraken|janus --http 127.0.0.1:PORT
 *       --rooms R --talkers T [--listeners L] [--server-pid PID] ...
 *   loadgen soak --http 127.0.0.1:PORT --peers-total N --minutes M
 *       --concurrent C ...
 *
 * See README.md for the scenarios and how run.sh drives this.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include "lg.h"


enum {
    LG_PHASE_SETUP = 0,
    LG_PHASE_JOIN,
    LG_PHASE_WARMUP,
    LG_PHASE_MEASURE,
    LG_PHASE_DONE
};

typedef struct {
    double    utime;                    /* s */
    double    stime;
    long      rss_kb;
    int       ok;
    unsigned long  udp_drops;           /* namespace: RcvbufErrors */
} lg_proc_t;

typedef struct {
    uint64_t  p50, p99, max;            /* unit of the values */
    uint64_t  n;
} lg_pct_t;


volatile sig_atomic_t  lg_interrupted;
static lg_t            lg_main;


static void lg_usage(void);
static int lg_options(lg_t *lg, int argc, char **argv, int soak);
static int lg_setup(lg_t *lg);
static void lg_loop(lg_t *lg);
static void lg_proc_read(int pid, lg_proc_t *pr);
static unsigned long lg_udp_drops(void);
static double lg_self_cpu(void);
static void lg_report(lg_t *lg, double window, const lg_proc_t *s0,
    const lg_proc_t *s1, long rss_base, double self_cpu);
static lg_pct_t lg_pct(uint64_t *v, uint64_t n);
static lg_pct_t lg_hist_pct(lg_t *lg);
static int lg_cmp_u64(const void *a, const void *b);
static void lg_on_signal(int sig);


uint64_t
lg_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * LG_NS + (uint64_t) ts.tv_nsec;
}


void
lg_log(lg_t *lg, const char *fmt, ...)
{
    va_list  ap;

    if (lg->conf.verbose == 0 && lg->errors + lg->rpc_errors > 50) {
        return;
    }

    fprintf(stderr, "loadgen: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}


void
lg_fail(lg_part_t *p, const char *fmt, ...)
{
    va_list  ap;
    char     msg[256];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    if (!p->failed) {
        p->failed = 1;
        lg_main.errors++;
        if (lg_main.inflight > 0 && p->started == 1) {
            p->started = 2;
            lg_main.inflight--;
        }
    }

    lg_log(&lg_main, "%s: %s", p->uid, msg);
}


static void
lg_usage(void)
{
    fprintf(stderr,
        "usage: loadgen floor [--seconds S]\n"
        "       loadgen run [options]\n"
        "  --server kraken|janus    signaling flavour (kraken)\n"
        "  --http IP:PORT           RPC / Janus HTTP API address\n"
        "  --rooms R                rooms (1)\n"
        "  --talkers T              talkers per room (4)\n"
        "  --listeners L            listen-only participants per room (0)\n"
        "  --warmup S               seconds after joining, not measured (3)\n"
        "  --duration S             measurement window, seconds (10)\n"
        "  --join-timeout S         give up joining after S seconds (60)\n"
        "  --join-rate N            participants started per second (200)\n"
        "  --join-parallel N        joins with signaling in flight (32)\n"
        "  --poll-ms MS             Kraken subscribe poll period (3000)\n"
        "  --poll-join-ms MS        ... while streams are missing (1000)\n"
        "  --consent-ms MS          STUN consent check period (2500)\n"
        "  --checks-after-connect 0|1\n"
        "                           0: no binding request once SRTP is\n"
        "                           keyed, media is the only consent (1)\n"
        "  --no-keepalive           same as --checks-after-connect 0\n"
        "  --indication-ms MS       binding indications once keyed, as\n"
        "                           libnice and webrtcbin send (0: none)\n"
        "  --rtcp-ms MS             talkers send an SRTCP sender report\n"
        "                           every 0.5-1.5 x MS (0: none)\n"
        "  --silent-after S         S s after keying, a participant stops\n"
        "                           everything: media, checks, RPC\n"
        "                           (0: never)\n"
        "  --room-prefix NAME       rooms are NAME-0, NAME-1, ... (room)\n"
        "  --decrypt-every N        srtp_unprotect 1 in N packets (1)\n"
        "  --send-batch N           RTP datagrams per sendmmsg (16)\n"
        "  --http-conns N           keep-alive HTTP connections (16)\n"
        "  --server-pid PID         process whose CPU and RSS are measured\n"
        "  --srtp PROFILES          offered profiles, OpenSSL names\n"
        "  --label NAME             name of the run in the RESULT line\n"
        "  --addr-base IP           connection i sends from IP + 1 + i\n"
        "                           (127.10.0.0; must be local)\n"
        "  -v                       log every error\n"
        "       loadgen soak [options of run] [soak options]\n"
        "  --peers-total N          participants over the whole soak (1000)\n"
        "  --minutes M | --seconds S  length of the soak (10 min)\n"
        "  --concurrent N           participants at a time (50)\n"
        "  --room-size N            participants per room (4)\n"
        "  --vanish-pct P           leave without `end`, silently (25)\n"
        "  --start-rate N           participants started per second, at\n"
        "                           most (20)\n");
}


static int
lg_options(lg_t *lg, int argc, char **argv, int soak)
{
    int             c, port;
    char            ip[64];
    lg_conf_t      *cf;
    struct in_addr  a;
    static struct option  opts[] = {
        { "server", required_argument, NULL, 's' },
        { "http", required_argument, NULL, 'h' },
        { "rooms", required_argument, NULL, 'r' },
        { "talkers", required_argument, NULL, 't' },
        { "listeners", required_argument, NULL, 'l' },
        { "warmup", required_argument, NULL, 'w' },
        { "duration", required_argument, NULL, 'd' },
        { "join-timeout", required_argument, NULL, 'J' },
        { "join-rate", required_argument, NULL, 'R' },
        { "join-parallel", required_argument, NULL, 'P' },
        { "poll-ms", required_argument, NULL, 'p' },
        { "poll-join-ms", required_argument, NULL, 'q' },
        { "consent-ms", required_argument, NULL, 'c' },
        { "decrypt-every", required_argument, NULL, 'D' },
        { "send-batch", required_argument, NULL, 'b' },
        { "http-conns", required_argument, NULL, 'H' },
        { "server-pid", required_argument, NULL, 'S' },
        { "srtp", required_argument, NULL, 'x' },
        { "label", required_argument, NULL, 'L' },
        { "udp-port", required_argument, NULL, 'u' },
        { "addr-base", required_argument, NULL, 'A' },
        { "checks-after-connect", required_argument, NULL, 'K' },
        { "no-keepalive", no_argument, NULL, 'k' },
        { "indication-ms", required_argument, NULL, 'I' },
        { "rtcp-ms", required_argument, NULL, 'C' },
        { "silent-after", required_argument, NULL, 'Q' },
        { "room-prefix", required_argument, NULL, 'O' },
        { "peers-total", required_argument, NULL, 'N' },
        { "minutes", required_argument, NULL, 'M' },
        { "seconds", required_argument, NULL, 'T' },
        { "concurrent", required_argument, NULL, 'n' },
        { "room-size", required_argument, NULL, 'z' },
        { "vanish-pct", required_argument, NULL, 'V' },
        { "start-rate", required_argument, NULL, 'a' },
        { NULL, 0, NULL, 0 }
    };

    cf = &lg->conf;
    cf->server = LG_SERVER_KRAKEN;
    cf->label = "run";
    cf->rooms = 1;
    cf->talkers = 4;
    cf->listeners = 0;
    cf->warmup = 3;
    cf->duration = 10;
    cf->join_timeout = 60;
    cf->join_rate = 200;
    cf->join_parallel = 32;
    cf->poll_ms = 3000;
    cf->poll_join_ms = 1000;
    cf->consent_ms = 2500;
    cf->checks_after_up = 1;
    cf->soak = soak;
    cf->room_prefix = soak ? "soak" : "room";
    cf->peers_total = 1000;
    cf->soak_seconds = 600;
    cf->concurrent = 50;
    cf->room_size = 4;
    cf->vanish_pct = 25;
    cf->start_rate = 20;
    cf->decrypt_every = 1;
    cf->send_batch = 16;
    cf->http_conns = 16;
    cf->addr_base = (127U << 24) | (10U << 16);
    cf->http_addr.sin_family = AF_INET;
    cf->http_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cf->http_addr.sin_port = htons(8000);

    while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (strcmp(optarg, "janus") == 0) {
                cf->server = LG_SERVER_JANUS;
            } else if (strcmp(optarg, "kraken") != 0) {
                return -1;
            }
            break;
        case 'h':
            if (sscanf(optarg, "%63[^:]:%d", ip, &port) != 2
                || inet_pton(AF_INET, ip, &cf->http_addr.sin_addr) != 1)
            {
                return -1;
            }
            cf->http_addr.sin_port = htons((uint16_t) port);
            break;
        case 'r': cf->rooms = atoi(optarg); break;
        case 't': cf->talkers = atoi(optarg); break;
        case 'l': cf->listeners = atoi(optarg); break;
        case 'w': cf->warmup = atof(optarg); break;
        case 'd': cf->duration = atof(optarg); break;
        case 'J': cf->join_timeout = atof(optarg); break;
        case 'R': cf->join_rate = atof(optarg); break;
        case 'P': cf->join_parallel = atoi(optarg); break;
        case 'p': cf->poll_ms = atoi(optarg); break;
        case 'q': cf->poll_join_ms = atoi(optarg); break;
        case 'c': cf->consent_ms = atoi(optarg); break;
        case 'D': cf->decrypt_every = atoi(optarg); break;
        case 'b': cf->send_batch = atoi(optarg); break;
        case 'H': cf->http_conns = atoi(optarg); break;
        case 'S': cf->server_pid = atoi(optarg); break;
        case 'x': cf->srtp_profiles = optarg; break;
        case 'L': cf->label = optarg; break;
        case 'u': cf->udp_port = atoi(optarg); break;
        case 'A':
            if (inet_pton(AF_INET, optarg, &a) != 1) {
                return -1;
            }
            cf->addr_base = ntohl(a.s_addr);
            break;
        case 'K': cf->checks_after_up = atoi(optarg) != 0; break;
        case 'k': cf->checks_after_up = 0; break;
        case 'I': cf->indication_ms = atoi(optarg); break;
        case 'C': cf->rtcp_ms = atoi(optarg); break;
        case 'Q': cf->silent_after = atof(optarg); break;
        case 'O': cf->room_prefix = optarg; break;
        case 'N': cf->peers_total = atoi(optarg); break;
        case 'M': cf->soak_seconds = atof(optarg) * 60; break;
        case 'T': cf->soak_seconds = atof(optarg); break;
        case 'n': cf->concurrent = atoi(optarg); break;
        case 'z': cf->room_size = atoi(optarg); break;
        case 'V': cf->vanish_pct = atoi(optarg); break;
        case 'a': cf->start_rate = atof(optarg); break;
        case 'v': cf->verbose = 1; break;
        default:
            return -1;
        }
    }

    if (soak) {
        /* every soak participant talks; rooms are used in turn */
        if (cf->server != LG_SERVER_KRAKEN || cf->peers_total < 1
            || cf->concurrent < 1 || cf->room_size < 1
            || cf->vanish_pct < 0 || cf->vanish_pct > 100
            || cf->soak_seconds <= 0 || cf->start_rate <= 0)
        {
            return -1;
        }

        cf->talkers = cf->room_size;
        cf->listeners = 0;
        cf->rooms = (cf->peers_total + cf->room_size - 1) / cf->room_size;
    }

    if (cf->rooms < 1 || cf->talkers < 0 || cf->listeners < 0
        || (!soak && cf->talkers + cf->listeners < 2) || cf->send_batch < 1
        || cf->http_conns < 1 || cf->join_parallel < 1
        || cf->indication_ms < 0 || cf->rtcp_ms < 0 || cf->silent_after < 0)
    {
        return -1;
    }

    return 0;
}


static int
lg_setup(lg_t *lg)
{
    int         i, k, per;
    char        err[256];
    uint32_t    n;
    lg_part_t  *p;
    lg_room_t  *r;
    struct timespec  rt, mono;

    lg->ep = epoll_create1(0);
    if (lg->ep == -1) {
        perror("epoll_create1");
        return -1;
    }

    if (kraken_srtp_init() != 0) {
        fprintf(stderr, "loadgen: kraken_srtp_init failed\n");
        return -1;
    }

    lg->dtls_ctx = kraken_dtls_ctx_create(err, sizeof(err));
    if (lg->dtls_ctx == NULL) {
        fprintf(stderr, "loadgen: kraken_dtls_ctx_create: %s\n", err);
        return -1;
    }

    if (lg->conf.srtp_profiles
        && kraken_dtls_ctx_set_srtp_profiles(lg->dtls_ctx,
                                             lg->conf.srtp_profiles) != 0)
    {
        fprintf(stderr, "loadgen: bad --srtp\n");
        return -1;
    }

    snprintf(lg->fingerprint, sizeof(lg->fingerprint), "%s",
             kraken_dtls_ctx_fingerprint(lg->dtls_ctx));

    if (lg_net_init(lg) != 0) {
        return -1;
    }

    per = lg->conf.talkers + lg->conf.listeners;
    lg->nrooms = lg->conf.rooms;
    lg->nparts = lg->nrooms * per;
    lg->maxconns = lg->nparts * 2;

    if (lg->conf.soak) {
        /* the last room may be partly used */
        lg->nparts = lg->conf.peers_total;
    }

    lg->rooms = calloc((size_t) lg->nrooms, sizeof(lg_room_t));
    lg->parts = calloc((size_t) lg->nparts, sizeof(lg_part_t));
    lg->conns = calloc((size_t) lg->maxconns, sizeof(lg_conn_t));
    lg->sdp = malloc(sizeof(lg_sdp_t));
    lg->c.lat_hist = calloc(LG_LAT_BUCKETS, sizeof(uint32_t));

    if (lg->rooms == NULL || lg->parts == NULL || lg->conns == NULL
        || lg->sdp == NULL || lg->c.lat_hist == NULL)
    {
        fprintf(stderr, "loadgen: out of memory\n");
        return -1;
    }

    for (i = 0; i < lg->nrooms; i++) {
        r = &lg->rooms[i];
        r->idx = i;
        r->nparts = per;

        if (i * per + per > lg->nparts) {
            r->nparts = lg->nparts - i * per;
        }
        r->parts = calloc((size_t) per, sizeof(lg_part_t *));
        if (r->parts == NULL) {
            return -1;
        }

        for (k = 0; k < r->nparts; k++) {
            p = &lg->parts[i * per + k];
            p->idx = i * per + k;
            p->room = r;
            p->talker = (k < lg->conf.talkers);
            p->subscribed = calloc((size_t) per, 1);
            snprintf(p->uid, sizeof(p->uid), "peer-%d-%d", i, k);
            r->parts[k] = p;
            if (p->subscribed == NULL) {
                return -1;
            }
        }
    }

    /* talkers hear the other talkers, listeners hear every talker */
    lg->expected_streams = (uint64_t) lg->nrooms
        * ((uint64_t) lg->conf.talkers * (lg->conf.talkers - 1)
           + (uint64_t) lg->conf.listeners * lg->conf.talkers);

    for (n = 1024; n < lg->expected_streams * 4; n <<= 1) {
        /* void */
    }

    lg->streams = calloc(n, sizeof(lg_stream_t));
    if (lg->streams == NULL) {
        return -1;
    }
    lg->stream_mask = n - 1;

    lg->http = lg_http_create(lg, &lg->conf.http_addr, lg->conf.http_conns);
    if (lg->http == NULL) {
        return -1;
    }

    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    lg->rt_offset = ((int64_t) rt.tv_sec - mono.tv_sec) * (int64_t) LG_NS
                    + ((int64_t) rt.tv_nsec - mono.tv_nsec);

    lg->now = lg_now();
    srand((unsigned) lg->now);

    return 0;
}


static void
lg_on_signal(int sig)
{
    lg_interrupted = 1;
}


/*
 * Datagrams the kernel dropped for a full receive buffer, at the server's
 * socket or ours: the bench runs in its own namespace, so all are ours.
 */
static unsigned long
lg_udp_drops(void)
{
    char           line[512];
    FILE          *f;
    unsigned long  v[5];
    int            header;

    f = fopen("/proc/net/snmp", "r");
    if (f == NULL) {
        return 0;
    }

    header = 1;
    v[4] = 0;

    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "Udp: ", 5) != 0) {
            continue;
        }

        /* the first Udp: line names the fields, the second has values */
        if (header) {
            header = 0;
            continue;
        }

        if (sscanf(line + 5, "%lu %lu %lu %lu %lu", &v[0], &v[1], &v[2],
                   &v[3], &v[4]) != 5)
        {
            v[4] = 0;
        }

        break;
    }

    fclose(f);

    return v[4];
}


static void
lg_proc_read(int pid, lg_proc_t *pr)
{
    char    path[64], buf[4096], *p;
    long    tck;
    FILE   *f;
    size_t  n;
    unsigned long  ut, st;

    memset(pr, 0, sizeof(*pr));

    pr->udp_drops = lg_udp_drops();

    if (pid <= 0) {
        return;
    }

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return;
    }

    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';

    /* after the ")" of comm: state is field 3, utime 14, stime 15 */
    p = strrchr(buf, ')');
    if (p == NULL
        || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                  "%lu %lu", &ut, &st) != 2)
    {
        return;
    }

    tck = sysconf(_SC_CLK_TCK);
    pr->utime = (double) ut / (double) tck;
    pr->stime = (double) st / (double) tck;
    pr->ok = 1;

    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return;
    }

    while (fgets(buf, sizeof(buf), f)) {
        if (strncmp(buf, "VmRSS:", 6) == 0) {
            pr->rss_kb = strtol(buf + 6, NULL, 10);
        }
    }

    fclose(f);
}


static double
lg_self_cpu(void)
{
    struct rusage  ru;

    getrusage(RUSAGE_SELF, &ru);

    return (double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
           + (double) ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}


static void
lg_loop(lg_t *lg)
{
    int                 i, n, phase, timeout;
    long                rss_base;
    double              self0, self1, window;
    uint64_t            next_timer, next_join, phase_end, t_measure;
    uint64_t            next_status;
    lg_part_t          *p;
    lg_proc_t           s0, s1, base;
    struct epoll_event  evs[64];

    phase = LG_PHASE_SETUP;
    next_timer = 0;
    next_join = 0;
    phase_end = 0;
    t_measure = 0;
    self0 = 0;
    next_status = lg->now + 5 * LG_NS;
    memset(&s0, 0, sizeof(s0));

    lg_proc_read(lg->conf.server_pid, &base);
    rss_base = base.rss_kb;

    if (lg->conf.server == LG_SERVER_JANUS) {
        lg_janus_setup(lg);
    } else {
        phase = LG_PHASE_JOIN;
        phase_end = lg->now + (uint64_t) (lg->conf.join_timeout * 1e9);
    }

    while (!lg->stop && !lg_interrupted) {
        lg->now = lg_now();

        /*
         * Wake up for the next RTP slot (1 ms wheel). Rounding the wait
         * down to 0 would spin; the send time goes into each packet, so a
         * late slot costs no latency accuracy.
         */
        timeout = (lg->next_slot_ms * LG_MS > lg->now) ? 1 : 0;

        n = epoll_wait(lg->ep, evs, 64, timeout);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            break;
        }

        lg->now = lg_now();

        /* the media socket is drained every tick (see lg_net_init) */
        lg_net_read(lg);

        for (i = 0; i < n; i++) {
            lg_http_event(lg, evs[i].data.ptr, evs[i].events);
        }

        lg->now = lg_now();
        lg_net_send_due(lg);

        if (lg->now >= next_timer) {
            next_timer = lg->now + 10 * LG_MS;
            lg_net_timers(lg);

            if (lg->conf.server == LG_SERVER_JANUS) {
                lg_janus_timers(lg);
            } else {
                lg_kraken_timers(lg);
            }
        }

        /* start joins at the configured rate and parallelism */
        if (phase == LG_PHASE_SETUP && lg->janus_ready) {
            phase = LG_PHASE_JOIN;
            phase_end = lg->now + (uint64_t) (lg->conf.join_timeout * 1e9);
        }

        if (phase == LG_PHASE_JOIN) {
            while (lg->joined < lg->nparts && lg->now >= next_join
                   && lg->inflight < lg->conf.join_parallel)
            {
                p = &lg->parts[lg->joined++];
                p->started = 1;
                lg->inflight++;
                next_join = lg->now
                            + (uint64_t) (1e9 / lg->conf.join_rate);

                if (lg->conf.server == LG_SERVER_JANUS) {
                    lg_janus_start(lg, p);
                } else {
                    lg_kraken_start(lg, p);
                }
            }

            /* a join is done when its connection is up (or failed) */
            for (i = 0; i < lg->joined; i++) {
                p = &lg->parts[i];
                if (p->started == 1
                    && ((p->conn && p->conn->state == LG_CONN_UP)
                        || (!p->talker && p->sub
                            && p->sub->state == LG_CONN_UP)))
                {
                    p->started = 2;
                    lg->inflight--;
                }
            }

            if (lg->seen_streams >= lg->expected_streams
                || lg->now >= phase_end)
            {
                if (lg->seen_streams < lg->expected_streams) {
                    fprintf(stderr, "loadgen: join timeout: %llu of %llu "
                            "streams flowing\n",
                            (unsigned long long) lg->seen_streams,
                            (unsigned long long) lg->expected_streams);
                }

                fprintf(stderr, "loadgen: %s: %d participants joined, "
                        "%llu streams, warming up\n", lg->conf.label,
                        lg->nparts,
                        (unsigned long long) lg->seen_streams);

                phase = LG_PHASE_WARMUP;
                phase_end = lg->now + (uint64_t) (lg->conf.warmup * 1e9);
            }
        }

        if (phase == LG_PHASE_WARMUP && lg->now >= phase_end) {
            phase = LG_PHASE_MEASURE;
            phase_end = lg->now + (uint64_t) (lg->conf.duration * 1e9);
            lg_proc_read(lg->conf.server_pid, &s0);
            self0 = lg_self_cpu();
            t_measure = lg->now;
            lg_net_window(lg, 1);
        }

        if (phase == LG_PHASE_MEASURE && lg->now >= phase_end) {
            lg_net_window(lg, 0);
            lg_proc_read(lg->conf.server_pid, &s1);
            self1 = lg_self_cpu();
            window = (double) (lg->now - t_measure) / 1e9;
            lg_report(lg, window, &s0, &s1, rss_base, self1 - self0);
            phase = LG_PHASE_DONE;
            break;
        }

        if (lg->conf.verbose && lg->now >= next_status) {
            next_status = lg->now + 5 * LG_NS;
            fprintf(stderr, "loadgen: phase %d joined %d inflight %d "
                    "conns %d streams %llu/%llu errors %llu stun %llu "
                    "dtls %llu bad %llu txfail %llu\n", phase,
                    lg->joined, lg->inflight, lg->nconns,
                    (unsigned long long) lg->seen_streams,
                    (unsigned long long) lg->expected_streams,
                    (unsigned long long) (lg->errors + lg->rpc_errors),
                    (unsigned long long) lg->c.rx_stun,
                    (unsigned long long) lg->c.rx_dtls,
                    (unsigned long long) lg->c.rx_bad,
                    (unsigned long long) lg->c.tx_fail);
        }
    }

    if (phase != LG_PHASE_DONE) {
        fprintf(stderr, "loadgen: stopped before the measurement ended\n");
        lg->errors++;
    }
}


static int
lg_cmp_u64(const void *a, const void *b)
{
    uint64_t  x = *(const uint64_t *) a, y = *(const uint64_t *) b;

    return x < y ? -1 : x > y;
}


static lg_pct_t
lg_pct(uint64_t *v, uint64_t n)
{
    lg_pct_t  r;

    memset(&r, 0, sizeof(r));
    r.n = n;

    if (n == 0) {
        return r;
    }

    qsort(v, n, sizeof(uint64_t), lg_cmp_u64);
    r.p50 = v[(n - 1) / 2];
    r.p99 = v[(n - 1) * 99 / 100];
    r.max = v[n - 1];

    return r;
}


static lg_pct_t
lg_hist_pct(lg_t *lg)
{
    uint64_t  i, acc, n50, n99;
    lg_pct_t  r;

    memset(&r, 0, sizeof(r));
    r.n = lg->c.lat_count;

    if (r.n == 0) {
        return r;
    }

    n50 = (r.n + 1) / 2;
    n99 = (r.n * 99 + 99) / 100;
    acc = 0;
    r.p50 = r.p99 = (uint64_t) -1;

    for (i = 0; i < LG_LAT_BUCKETS; i++) {
        acc += lg->c.lat_hist[i];
        if (r.p50 == (uint64_t) -1 && acc >= n50) {
            r.p50 = i;
        }
        if (acc >= n99) {
            r.p99 = i;
            break;
        }
    }

    r.max = lg->c.lat_max / 1000;

    return r;
}


static void
lg_report(lg_t *lg, double window, const lg_proc_t *s0, const lg_proc_t *s1,
    long rss_base, double self_cpu)
{
    int           i, failed, nojoin, cnt[4];
    double        rx_pps, tx_pps, exp_pps, loss, cpu, cpu_u, cpu_s, us_pkt;
    double        rss_pp, tps;
    uint32_t      j;
    uint64_t      expected, received, lost, seen, missing, nj, nr, stalled;
    uint64_t     *joins, *rpcs;
    lg_pct_t      lat, jt, rt;
    lg_part_t    *p;
    lg_stream_t  *s;
    const char   *srv;

    expected = received = seen = stalled = 0;

    for (j = 0; j <= lg->stream_mask; j++) {
        s = &lg->streams[j];
        if (s->key && s->in_window) {
            seen++;
            expected += s->max_ext - s->base_ext + 1;
            received += s->received;

            /*
             * A stream that stopped before the window's end (its sender
             * or this receiver was closed by the server) lost the rest
             * of the window: sequence numbers alone would not show it.
             */
            if (lg->now > s->last_rx + LG_STALL_NS) {
                stalled++;
                expected += (lg->now - s->last_rx) / (LG_PTIME_MS * LG_MS);
            }
        }
    }

    /* a stream that should flow and did not counts as lost entirely */
    missing = lg->expected_streams > seen ? lg->expected_streams - seen : 0;
    tps = 1000.0 / LG_PTIME_MS;
    expected += (uint64_t) ((double) missing * tps * window);
    lost = expected > received ? expected - received : 0;
    loss = expected ? 100.0 * (double) lost / (double) expected : 100.0;

    rx_pps = (double) lg->c.rx_rtp / window;
    tx_pps = (double) lg->c.tx_rtp / window;
    exp_pps = (double) lg->expected_streams * tps;

    joins = calloc((size_t) lg->nparts + 1, sizeof(uint64_t));
    rpcs = calloc((size_t) lg->nparts + 1, sizeof(uint64_t));
    nj = nr = 0;
    failed = nojoin = 0;
    memset(cnt, 0, sizeof(cnt));

    for (i = 0; i < lg->nparts; i++) {
        p = &lg->parts[i];
        failed += p->failed;

        if (p->t_first_rx && p->t_join) {
            joins[nj++] = (p->t_first_rx - p->t_join) / 1000;
        } else if (lg->expected_streams) {
            nojoin++;
        }

        if (p->t_answer && p->t_join) {
            rpcs[nr++] = (p->t_answer - p->t_join) / 1000;
        }
    }

    for (i = 0; i < lg->nconns; i++) {
        if (lg->conns[i].profile == KRAKEN_SRTP_AEAD_AES_128_GCM) {
            cnt[0]++;
        } else if (lg->conns[i].profile == KRAKEN_SRTP_AES128_CM_SHA1_80) {
            cnt[1]++;
        }
    }

    lat = lg_hist_pct(lg);
    jt = lg_pct(joins, nj);
    rt = lg_pct(rpcs, nr);
    free(joins);
    free(rpcs);

    cpu_u = s1->utime - s0->utime;
    cpu_s = s1->stime - s0->stime;
    cpu = cpu_u + cpu_s;
    us_pkt = lg->c.rx_rtp ? cpu * 1e6 / (double) lg->c.rx_rtp : 0;
    rss_pp = lg->nparts ? (double) (s1->rss_kb - rss_base) / lg->nparts : 0;
    srv = lg->conf.server == LG_SERVER_JANUS ? "janus" : "kraken";

    printf("== %s (%s): %d room(s) x (%d talkers + %d listeners) = %d "
           "participants, %d connections (%d GCM, %d CM)\n",
           lg->conf.label, srv, lg->nrooms, lg->conf.talkers,
           lg->conf.listeners, lg->nparts, lg->nconns, cnt[0], cnt[1]);
    printf("   window %.1f s: sent %.0f pkt/s, received %.0f pkt/s "
           "(expected %.0f), streams %llu/%llu\n", window, tx_pps, rx_pps,
           exp_pps, (unsigned long long) seen,
           (unsigned long long) lg->expected_streams);
    printf("   loss %.4f%% (%llu of %llu)%s; %llu streams stalled "
           "before the end\n", loss,
           (unsigned long long) lost, (unsigned long long) expected,
           missing ? " incl. missing streams" : "",
           (unsigned long long) stalled);
    printf("   one-way latency us: p50 %llu  p99 %llu  max %llu  "
           "(%llu samples)\n", (unsigned long long) lat.p50,
           (unsigned long long) lat.p99, (unsigned long long) lat.max,
           (unsigned long long) lat.n);
    printf("   join ms (signaling start -> first forwarded packet): "
           "p50 %.1f  p99 %.1f  max %.1f  (%d never)\n", jt.p50 / 1e3,
           jt.p99 / 1e3, jt.max / 1e3, nojoin);
    printf("   publish -> answer ms: p50 %.2f  p99 %.2f  max %.2f\n",
           rt.p50 / 1e3, rt.p99 / 1e3, rt.max / 1e3);

    if (s0->ok && s1->ok) {
        printf("   server pid %d: CPU %.1f%% of a core (user %.2f s, "
               "sys %.2f s), %.2f us per forwarded packet\n",
               lg->conf.server_pid, 100.0 * cpu / window, cpu_u, cpu_s,
               us_pkt);
        printf("   server RSS %ld -> %ld KiB: %.1f KiB per participant\n",
               rss_base, s1->rss_kb, rss_pp);
    }

    printf("   kernel dropped %lu datagrams (full receive buffers)\n",
           s1->udp_drops - s0->udp_drops);
    printf("   loadgen CPU %.1f%% of a core; rx bad %llu, rtcp %llu, "
           "tx failed %llu; failed participants %d, errors %llu\n",
           100.0 * self_cpu / window, (unsigned long long) lg->c.rx_bad,
           (unsigned long long) lg->c.rx_rtcp,
           (unsigned long long) lg->c.tx_fail, failed,
           (unsigned long long) (lg->errors + lg->rpc_errors));
    printf("   keyed connections sent %llu binding requests, %llu "
           "indications, %llu sender reports\n",
           (unsigned long long) lg->checks_up,
           (unsigned long long) lg->indications,
           (unsigned long long) lg->rtcp_sent);

    printf("RESULT label=%s server=%s rooms=%d talkers=%d listeners=%d "
           "participants=%d window=%.2f tx_pps=%.0f rx_pps=%.0f "
           "expected_pps=%.0f loss_pct=%.4f streams=%llu/%llu "
           "lat_p50_us=%llu lat_p99_us=%llu lat_max_us=%llu "
           "join_p50_ms=%.1f join_p99_ms=%.1f join_max_ms=%.1f "
           "rpc_p50_ms=%.2f rpc_p99_ms=%.2f "
           "cpu_pct=%.1f cpu_user_s=%.2f cpu_sys_s=%.2f us_per_pkt=%.3f "
           "rss_kb_per_part=%.1f rss_kb=%ld loadgen_cpu_pct=%.1f "
           "failed=%d errors=%llu udp_drops=%lu stalled=%llu "
           "checks_keyed=%llu indications=%llu rtcp_tx=%llu rtcp_rx=%llu\n",
           lg->conf.label, srv, lg->nrooms, lg->conf.talkers,
           lg->conf.listeners, lg->nparts, window, tx_pps, rx_pps, exp_pps,
           loss, (unsigned long long) seen,
           (unsigned long long) lg->expected_streams,
           (unsigned long long) lat.p50, (unsigned long long) lat.p99,
           (unsigned long long) lat.max,
           jt.p50 / 1e3, jt.p99 / 1e3, jt.max / 1e3,
           rt.p50 / 1e3, rt.p99 / 1e3,
           s1->ok ? 100.0 * cpu / window : 0, cpu_u, cpu_s, us_pkt,
           rss_pp, s1->rss_kb, 100.0 * self_cpu / window, failed,
           (unsigned long long) (lg->errors + lg->rpc_errors),
           s1->udp_drops - s0->udp_drops, (unsigned long long) stalled,
           (unsigned long long) lg->checks_up,
           (unsigned long long) lg->indications,
           (unsigned long long) lg->rtcp_sent,
           (unsigned long long) lg->c.rx_rtcp);

    fflush(stdout);
}


int
main(int argc, char **argv)
{
    int    soak;
    lg_t  *lg;

    if (argc >= 2 && strcmp(argv[1], "floor") == 0) {
        return lg_floor(argc - 2, argv + 2);
    }

    if (argc < 2
        || (strcmp(argv[1], "run") != 0 && strcmp(argv[1], "soak") != 0))
    {
        lg_usage();
        return 2;
    }

    lg = &lg_main;
    soak = (strcmp(argv[1], "soak") == 0);

    if (lg_options(lg, argc - 1, argv + 1, soak) != 0) {
        lg_usage();
        return 2;
    }

    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, lg_on_signal);
    signal(SIGTERM, lg_on_signal);

    if (lg_setup(lg) != 0) {
        return 1;
    }

    if (soak) {
        return lg_soak(lg);
    }

    lg_loop(lg);

    return lg->errors ? 1 : 0;
}
