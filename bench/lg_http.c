/*
 * loadgen: a small non-blocking HTTP/1.1 client on the load generator's
 * epoll loop. A pool of keep-alive connections takes queued requests in
 * order; one extra connection carries long polls (Janus events).
 * Responses with Content-Length, chunked, or read to EOF.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "lg.h"


enum {
    LG_HTTP_CLOSED = 0,
    LG_HTTP_CONNECTING,
    LG_HTTP_WRITING,
    LG_HTTP_READING,
    LG_HTTP_IDLE
};

typedef struct lg_http_req_s  lg_http_req_t;

struct lg_http_req_s {
    lg_http_req_t    *next;
    char             *out;              /* request head and body */
    size_t            len;
    int               longpoll;
    int               retried;
    lg_http_done_pt   done;
    void             *data;
};

typedef struct {
    int               tag;              /* 1: an HTTP connection */
    lg_http_t        *h;
    int               fd;
    int               state;
    int               reused;           /* served a request before */
    lg_http_req_t    *req;
    size_t            sent;
    char             *in;
    size_t            ilen;
    size_t            icap;
} lg_http_conn_t;

struct lg_http_s {
    lg_t               *lg;
    struct sockaddr_in  addr;
    int                 nconns;
    lg_http_conn_t     *conns;          /* nconns + 1: the last polls */
    lg_http_req_t      *head;
    lg_http_req_t      *tail;
    lg_http_req_t      *poll;           /* a waiting long poll */
    int                 pending;
};


static void lg_http_dispatch(lg_http_t *h);
static int lg_http_assign(lg_http_t *h, lg_http_conn_t *hc,
    lg_http_req_t *r);
static int lg_http_connect(lg_http_conn_t *hc);
static void lg_http_watch(lg_http_conn_t *hc, uint32_t events);
static void lg_http_write(lg_http_conn_t *hc);
static void lg_http_read(lg_http_conn_t *hc);
static int lg_http_parse(lg_http_conn_t *hc, int eof);
static void lg_http_close(lg_http_conn_t *hc);
static void lg_http_error(lg_http_conn_t *hc);
static size_t lg_http_dechunk(char *p, size_t len, int *complete);


lg_http_t *
lg_http_create(lg_t *lg, const struct sockaddr_in *addr, int conns)
{
    int         i;
    lg_http_t  *h;

    h = calloc(1, sizeof(lg_http_t));
    if (h == NULL) {
        return NULL;
    }

    h->conns = calloc((size_t) conns + 1, sizeof(lg_http_conn_t));
    if (h->conns == NULL) {
        free(h);
        return NULL;
    }

    h->lg = lg;
    h->addr = *addr;
    h->nconns = conns;

    for (i = 0; i <= conns; i++) {
        h->conns[i].tag = 1;
        h->conns[i].h = h;
        h->conns[i].fd = -1;
    }

    return h;
}


/*
 * Queues a request; body (malloc()ed or NULL) is taken over. done gets
 * status -1 and no body when the request failed on the connection.
 */

int
lg_http_request(lg_http_t *h, const char *method, const char *path,
    char *body, int longpoll, lg_http_done_pt done, void *data)
{
    int             n;
    size_t          blen;
    lg_http_req_t  *r;

    blen = body ? strlen(body) : 0;

    r = calloc(1, sizeof(lg_http_req_t));
    if (r == NULL) {
        free(body);
        return -1;
    }

    r->out = malloc(blen + 256 + strlen(path));
    if (r->out == NULL) {
        free(r);
        free(body);
        return -1;
    }

    n = sprintf(r->out, "%s %s HTTP/1.1\r\n"
                "Host: 127.0.0.1\r\n"
                "Connection: keep-alive\r\n", method, path);

    if (body) {
        n += sprintf(r->out + n, "Content-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n", blen);
        memcpy(r->out + n, body, blen);
        n += (int) blen;
        free(body);

    } else {
        n += sprintf(r->out + n, "\r\n");
    }

    r->len = (size_t) n;
    r->longpoll = longpoll;
    r->done = done;
    r->data = data;

    if (longpoll) {
        h->poll = r;

    } else if (h->tail) {
        h->tail->next = r;
        h->tail = r;

    } else {
        h->head = h->tail = r;
    }

    h->pending++;
    lg_http_dispatch(h);

    return 0;
}


int
lg_http_idle(lg_http_t *h)
{
    return h->head == NULL;
}


static void
lg_http_dispatch(lg_http_t *h)
{
    int              i, pass, state;
    lg_http_req_t   *r;
    lg_http_conn_t  *hc;

    if (h->poll) {
        hc = &h->conns[h->nconns];
        if (hc->req == NULL
            && (hc->state == LG_HTTP_IDLE || hc->state == LG_HTTP_CLOSED))
        {
            r = h->poll;
            h->poll = NULL;
            (void) lg_http_assign(h, hc, r);
        }
    }

    /* idle connections first, then new ones */
    for (pass = 0; pass < 2; pass++) {
        state = pass ? LG_HTTP_CLOSED : LG_HTTP_IDLE;

        for (i = 0; i < h->nconns && h->head; i++) {
            hc = &h->conns[i];
            if (hc->state != state) {
                continue;
            }

            r = h->head;
            h->head = r->next;
            if (h->head == NULL) {
                h->tail = NULL;
            }
            r->next = NULL;
            (void) lg_http_assign(h, hc, r);
        }
    }
}


static int
lg_http_assign(lg_http_t *h, lg_http_conn_t *hc, lg_http_req_t *r)
{
    hc->req = r;
    hc->sent = 0;
    hc->ilen = 0;

    if (hc->state == LG_HTTP_CLOSED) {
        if (lg_http_connect(hc) != 0) {
            lg_http_error(hc);
            return -1;
        }
        return 0;
    }

    hc->state = LG_HTTP_WRITING;
    lg_http_write(hc);

    return 0;
}


static int
lg_http_connect(lg_http_conn_t *hc)
{
    int                 fd, on;
    struct epoll_event  ev;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd == -1) {
        return -1;
    }

    on = 1;
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));

    if (connect(fd, (struct sockaddr *) &hc->h->addr, sizeof(hc->h->addr))
        != 0 && errno != EINPROGRESS)
    {
        close(fd);
        return -1;
    }

    hc->fd = fd;
    hc->state = LG_HTTP_CONNECTING;
    hc->reused = 0;

    ev.events = EPOLLOUT;
    ev.data.ptr = hc;

    if (epoll_ctl(hc->h->lg->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        hc->fd = -1;
        hc->state = LG_HTTP_CLOSED;
        return -1;
    }

    return 0;
}


static void
lg_http_watch(lg_http_conn_t *hc, uint32_t events)
{
    struct epoll_event  ev;

    ev.events = events;
    ev.data.ptr = hc;
    (void) epoll_ctl(hc->h->lg->ep, EPOLL_CTL_MOD, hc->fd, &ev);
}


void
lg_http_event(lg_t *lg, void *ptr, uint32_t events)
{
    int              err;
    socklen_t        len;
    lg_http_conn_t  *hc;

    hc = ptr;

    switch (hc->state) {

    case LG_HTTP_CONNECTING:
        err = 0;
        len = sizeof(err);
        (void) getsockopt(hc->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
            lg_http_error(hc);
            return;
        }
        hc->state = LG_HTTP_WRITING;
        lg_http_write(hc);
        return;

    case LG_HTTP_WRITING:
        if (events & (EPOLLERR | EPOLLHUP)) {
            lg_http_error(hc);
            return;
        }
        lg_http_write(hc);
        return;

    case LG_HTTP_READING:
        lg_http_read(hc);
        return;

    case LG_HTTP_IDLE:
        /* the server closed a keep-alive connection (or said something) */
        lg_http_close(hc);
        lg_http_dispatch(hc->h);
        return;

    default:
        return;
    }
}


static void
lg_http_write(lg_http_conn_t *hc)
{
    ssize_t         n;
    lg_http_req_t  *r;

    r = hc->req;

    while (hc->sent < r->len) {
        n = send(hc->fd, r->out + hc->sent, r->len - hc->sent,
                 MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                lg_http_watch(hc, EPOLLOUT);
                return;
            }
            lg_http_error(hc);
            return;
        }
        hc->sent += (size_t) n;
    }

    hc->state = LG_HTTP_READING;
    lg_http_watch(hc, EPOLLIN);
}


static void
lg_http_read(lg_http_conn_t *hc)
{
    int      eof, rc;
    char    *p;
    ssize_t  n;

    eof = 0;

    for ( ;; ) {
        if (hc->icap - hc->ilen < 4096) {
            p = realloc(hc->in, hc->icap ? hc->icap * 2 : 16384);
            if (p == NULL) {
                lg_http_error(hc);
                return;
            }
            hc->in = p;
            hc->icap = hc->icap ? hc->icap * 2 : 16384;
        }

        n = recv(hc->fd, hc->in + hc->ilen, hc->icap - hc->ilen - 1, 0);
        if (n > 0) {
            hc->ilen += (size_t) n;
            continue;
        }

        if (n == 0) {
            eof = 1;
            break;
        }

        if (errno == EAGAIN || errno == EINTR) {
            break;
        }

        eof = 1;
        break;
    }

    rc = lg_http_parse(hc, eof);

    if (rc == 0 && eof) {
        lg_http_error(hc);
    }
}


/* Returns 1 when a response was handled, 0 when more is needed. */

static int
lg_http_parse(lg_http_conn_t *hc, int eof)
{
    int              status, chunked, close_, complete;
    char            *hdr_end, *p, *line, *body;
    size_t           hlen, blen, clen;
    lg_http_t       *h;
    lg_http_req_t   *r;

    hc->in[hc->ilen] = '\0';

    hdr_end = strstr(hc->in, "\r\n\r\n");
    if (hdr_end == NULL) {
        return 0;
    }

    hlen = (size_t) (hdr_end - hc->in) + 4;

    if (sscanf(hc->in, "HTTP/1.%*d %d", &status) != 1) {
        status = -1;
    }

    chunked = 0;
    close_ = 0;
    clen = (size_t) -1;

    for (line = strstr(hc->in, "\r\n"); line && line < hdr_end;
         line = strstr(line + 2, "\r\n"))
    {
        p = line + 2;

        if (strncasecmp(p, "Content-Length:", 15) == 0) {
            clen = (size_t) strtoul(p + 15, NULL, 10);

        } else if (strncasecmp(p, "Transfer-Encoding:", 18) == 0) {
            chunked = (strncasecmp(p + 18, " chunked", 8) == 0);

        } else if (strncasecmp(p, "Connection:", 11) == 0) {
            close_ = (strncasecmp(p + 11, " close", 6) == 0);
        }
    }

    body = hc->in + hlen;
    blen = hc->ilen - hlen;

    if (chunked) {
        blen = lg_http_dechunk(body, blen, &complete);
        if (!complete) {
            return 0;
        }

    } else if (clen != (size_t) -1) {
        if (blen < clen) {
            return 0;
        }
        blen = clen;

    } else if (!eof) {
        return 0;

    } else {
        close_ = 1;
    }

    body[blen] = '\0';

    h = hc->h;
    r = hc->req;
    hc->req = NULL;
    hc->reused = 1;
    h->pending--;

    if (close_ || eof) {
        lg_http_close(hc);
    } else {
        hc->state = LG_HTTP_IDLE;
        lg_http_watch(hc, EPOLLIN);
    }

    r->done(h->lg, r->data, status, body, blen);

    free(r->out);
    free(r);

    lg_http_dispatch(h);

    return 1;
}


/*
 * Chunked body: first checks that the last chunk is there without
 * touching the buffer (the response may still be incomplete), then
 * joins the chunks in place.
 */

static size_t
lg_http_dechunk(char *p, size_t len, int *complete)
{
    int      pass;
    char    *src, *dst, *end, *e;
    size_t   n;

    *complete = 0;
    end = p + len;

    for (pass = 0; pass < 2; pass++) {
        src = dst = p;

        for ( ;; ) {
            e = memmem(src, (size_t) (end - src), "\r\n", 2);
            if (e == NULL) {
                return 0;
            }

            n = (size_t) strtoul(src, NULL, 16);
            src = e + 2;

            if (n == 0) {
                break;
            }

            if ((size_t) (end - src) < n + 2) {
                return 0;
            }

            if (pass == 1) {
                memmove(dst, src, n);
            }

            dst += n;
            src += n + 2;
        }
    }

    *complete = 1;

    return (size_t) (dst - p);
}


static void
lg_http_close(lg_http_conn_t *hc)
{
    if (hc->fd != -1) {
        (void) epoll_ctl(hc->h->lg->ep, EPOLL_CTL_DEL, hc->fd, NULL);
        close(hc->fd);
        hc->fd = -1;
    }

    hc->state = LG_HTTP_CLOSED;
}


/*
 * The connection broke. A request that went out on a reused keep-alive
 * connection and got no byte back is retried once on a fresh one (the
 * server closed the connection before reading it).
 */

static void
lg_http_error(lg_http_conn_t *hc)
{
    int             retry;
    lg_http_t      *h;
    lg_http_req_t  *r;

    h = hc->h;
    r = hc->req;
    retry = hc->reused && hc->ilen == 0 && r && !r->retried;

    hc->req = NULL;
    lg_http_close(hc);

    if (r == NULL) {
        lg_http_dispatch(h);
        return;
    }

    if (retry) {
        r->retried = 1;

        if (r->longpoll) {
            h->poll = r;

        } else {
            r->next = h->head;
            h->head = r;
            if (h->tail == NULL) {
                h->tail = r;
            }
        }

        lg_http_dispatch(h);
        return;
    }

    h->pending--;
    h->lg->rpc_errors++;
    r->done(h->lg, r->data, -1, NULL, 0);
    free(r->out);
    free(r);

    lg_http_dispatch(h);
}
