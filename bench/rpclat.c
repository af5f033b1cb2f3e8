/*
 * RPC latency, owner-local against forwarded: `list` calls on one
 * keep-alive connection, each classified by the X-Kraken-Worker header
 * ("N" ran where it landed, "N forwarded" went to the room's worker).
 *
 *   rpclat PORT [CALLS=10000]
 *
 * Prints median and p99 of each class, in microseconds.
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


static double
now_us(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}


static int
cmp(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


/* one request, one response; returns 1 forwarded, 0 local, -1 error */

static int
call(int fd, int port, int room)
{
    int      n, len, got, forwarded;
    char     body[128], req[512], res[8192], *p, *end;

    len = snprintf(body, sizeof(body),
                   "{\"id\":\"b\",\"method\":\"list\",\"params\":[\"r%d\"]}",
                   room);
    n = snprintf(req, sizeof(req),
                 "POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                 "Content-Type: application/json\r\n"
                 "Content-Length: %d\r\n\r\n%s", port, len, body);

    if (write(fd, req, n) != n) {
        return -1;
    }

    got = 0;

    for ( ;; ) {
        n = read(fd, res + got, sizeof(res) - 1 - got);
        if (n <= 0) {
            return -1;
        }

        got += n;
        res[got] = '\0';

        end = strstr(res, "\r\n\r\n");
        if (end == NULL) {
            continue;
        }

        p = strcasestr(res, "Content-Length:");
        if (p == NULL) {
            return -1;
        }

        if (got >= (end + 4 - res) + atoi(p + 15)) {
            break;
        }
    }

    p = strcasestr(res, "X-Kraken-Worker:");
    forwarded = p && strstr(p, "forwarded") && strstr(p, "forwarded") < end;

    return forwarded;
}


int
main(int argc, char **argv)
{
    int                  fd, port, calls, i, r, one;
    int                  nl, nf;
    double               t0, t1, *local, *fwd;
    struct sockaddr_in   sa;

    if (argc < 2) {
        fprintf(stderr, "usage: rpclat PORT [CALLS]\n");
        return 2;
    }

    port = atoi(argv[1]);
    calls = argc > 2 ? atoi(argv[2]) : 10000;

    local = calloc(calls, sizeof(double));
    fwd = calloc(calls, sizeof(double));
    if (local == NULL || fwd == NULL) {
        return 2;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    fd = -1;

    nl = 0;
    nf = 0;

    /* rooms hash over the workers: keep going until both classes are full */
    for (i = 0; (nl < calls || nf < calls) && i < 20 * calls; i++) {
        if (fd == -1) {
            /* nginx closes a keep-alive connection after keepalive_requests */
            fd = socket(AF_INET, SOCK_STREAM, 0);
            one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

            if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
                perror("connect");
                return 2;
            }
        }

        t0 = now_us();
        r = call(fd, port, i % 1000);
        t1 = now_us();

        if (r < 0) {
            close(fd);
            fd = -1;
            continue;
        }

        if (r && nf < calls) {
            fwd[nf++] = t1 - t0;

        } else if (!r && nl < calls) {
            local[nl++] = t1 - t0;
        }
    }

    qsort(local, nl, sizeof(double), cmp);
    qsort(fwd, nf, sizeof(double), cmp);

    printf("%-10s %8s %10s %10s\n", "path", "calls", "median_us", "p99_us");

    if (nl) {
        printf("%-10s %8d %10.1f %10.1f\n", "local", nl, local[nl / 2],
               local[(int) (nl * 0.99)]);
    }

    if (nf) {
        printf("%-10s %8d %10.1f %10.1f\n", "forwarded", nf, fwd[nf / 2],
               fwd[(int) (nf * 0.99)]);
    }

    if (nl && nf) {
        printf("forwarding adds %.1f us at the median\n",
               fwd[nf / 2] - local[nl / 2]);
    }

    close(fd);

    return 0;
}
