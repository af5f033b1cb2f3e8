#!/bin/sh
# One media port for all workers: the per-packet cost of eBPF steering and
# of the hand-over between workers, against the port per worker of before
# (5969ecf), the same load in the same run, in interleaved rounds.
#
#   ../tools/netns.sh ./steer.sh        (make -C bench steer)
#
# Variants, each with worker_processes 2 and the defaults of every
# directive:
#   before   the module of BEFORE_MODULE, http-style: kraken_media_listen,
#            worker k on its own port (MEDIA_PORT + k)
#   ebpf     KRAKEN_MODULE, one port (stream, udp reuseport), kraken_bpf on:
#            the kernel steers each datagram to its room's worker
#   handoff  the same with kraken_bpf off: a worker hands another worker's
#            datagrams over (loopback UDP)
#
# Server CPU is utime and stime of every worker from /proc/PID/stat over a
# window inside the generator's, divided by the packets the generator
# received in it. The handoff counters are info's, over the same window.
#
# Environment:
#   KRAKEN_MODULE   the module now (../build/ngx_kraken_module.so)
#   BEFORE_MODULE   the module before (/tmp/build-before/ngx_kraken_module.so)
#   VARIANTS        "before ebpf handoff" (the order within a round)
#   ROUNDS          3
#   ROOMS, TALKERS  16 rooms of 6 talkers (24,000 forwarded packets/s)
#   WARMUP, DURATION  8 and 20 s
#   PIN             workers (default): worker_cpu_affinity 01 10, the
#                   generator unpinned; none: nothing pinned
#   OUT             file the STEER lines are appended to
#   KEEP            keep the temporary folder (server logs) when set
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
LG=$HERE/loadgen
abspath() {
    case "$1" in
    /*) echo "$1" ;;
    *) echo "$(pwd)/$1" ;;
    esac
}
NOW_MODULE=$(abspath "${KRAKEN_MODULE:-$HERE/../build/ngx_kraken_module.so}")
BEFORE_MODULE=$(abspath "${BEFORE_MODULE:-/tmp/build-before/ngx_kraken_module.so}")
VARIANTS=${VARIANTS:-before ebpf handoff}
ROUNDS=${ROUNDS:-3}
ROOMS=${ROOMS:-16}
TALKERS=${TALKERS:-6}
WARMUP=${WARMUP:-8}
DURATION=${DURATION:-20}
PIN=${PIN:-workers}
TMP=$(mktemp -d /tmp/kraken-steer.XXXXXX)
OUT=${OUT:-$TMP/results}
HTTP_PORT=8000
MEDIA_PORT=20000
SRV_PID=
MASTER_PID=
LG_PID=
HZ=$(getconf CLK_TCK)

. "$HERE/lib.sh"

bench_netns steer.sh

# two workers on two CPUs: no taskset on nginx (it would hold both workers
# on one CPU), nginx pins its workers itself
PIN_SRV=
PIN_LG=
case "$PIN" in
workers) AFFINITY="worker_cpu_affinity  01 10;" ;;
none) AFFINITY= ;;
*) echo "steer.sh: PIN is workers or none" >&2; exit 2 ;;
esac

for m in "$NOW_MODULE" "$BEFORE_MODULE"; do
    [ -f "$m" ] || { echo "steer.sh: no module at $m" >&2; exit 1; }
done

cleanup() {
    [ -n "$LG_PID" ] && kill "$LG_PID" 2>/dev/null || true
    stop_server
    if [ -n "${KEEP:-}" ]; then
        echo "# kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT INT TERM


# start_kraken_before: the module of 5969ecf, configured as it was then:
# media in http{}, kraken_media_listen, worker k on MEDIA_PORT + k
start_kraken_before() {
    mkdir -p "$TMP/nginx/logs" "$TMP/nginx/conf" "$TMP/nginx/tmp"
    cat > "$TMP/nginx/conf/nginx.conf" <<EOF
load_module $MODULE;

worker_processes  2;
pid               logs/nginx.pid;
error_log         logs/error.log ${KRAKEN_LOG_LEVEL:-warn};
$AFFINITY

events {
    worker_connections  8192;
}

http {
    access_log  off;

    client_body_temp_path  tmp/body;
    proxy_temp_path        tmp/proxy;
    fastcgi_temp_path      tmp/fastcgi;
    uwsgi_temp_path        tmp/uwsgi;
    scgi_temp_path         tmp/scgi;

    keepalive_requests  1000000;
    keepalive_timeout   600s;

    kraken_media_listen     $SRV_ADDR:$MEDIA_PORT;

    server {
        listen  127.0.0.1:$HTTP_PORT;

        client_max_body_size     1m;
        client_body_buffer_size  1m;

        location = / {
            kraken_rpc;
            kraken_info_details  on;
        }
    }
}
EOF
    start_nginx
}


# start_variant NAME
start_variant() {
    rm -f "$TMP/nginx/logs/nginx.pid"
    case "$1" in
    before)
        MODULE=$BEFORE_MODULE
        start_kraken_before
        ;;
    ebpf|handoff)
        MODULE=$NOW_MODULE
        KRAKEN_WORKERS=2
        KRAKEN_RPC_CONF="kraken_info_details  on;"
        if [ "$1" = ebpf ]; then
            KRAKEN_MAIN_CONF="kraken_bpf  on;
$AFFINITY"
        else
            KRAKEN_MAIN_CONF="kraken_bpf  off;
$AFFINITY"
        fi
        start_kraken
        ;;
    esac

    # both workers
    i=0
    while [ "$(pgrep -P "$MASTER_PID" | wc -l)" -lt 2 ] && [ $i -lt 50 ]
    do
        sleep 0.1; i=$((i + 1))
    done
    WORKERS=$(pgrep -P "$MASTER_PID" | tr '\n' ' ')
}


# info FILE: the info RPC's answer
info() {
    curl -s -m 5 -d '{"id":"s","method":"info","params":[]}' \
        "http://127.0.0.1:$HTTP_PORT/" > "$1" || true
}


# cpu: "utime stime" in ticks, summed over $WORKERS
cpu() {
    for p in $WORKERS; do
        sed 's/.*) //' "/proc/$p/stat"
    done | awk '{ u += $12; s += $13 } END { print u + 0, s + 0 }'
}


# counter FILE NAME: a number from info's counters (0 if absent)
counter() {
    c=$(jq -r ".data.counters.$2 // 0" "$1" 2>/dev/null || true)
    case "$c" in
    ''|*[!0-9]*) echo 0 ;;
    *) echo "$c" ;;
    esac
}


# run_one ROUND VARIANT: one run; its STEER line goes to $OUT
run_one() {
    round=$1
    v=$2
    start_variant "$v"
    echo "# round $round, $v: workers $WORKERS" >&2

    : > "$TMP/lg.err"
    timeout 300 "$LG" run --server kraken --http "127.0.0.1:$HTTP_PORT" \
        --server-pid "$SRV_PID" --label "$v" --addr-base "$LG_BASE" \
        --warmup "$WARMUP" --duration "$DURATION" --join-timeout 20 \
        --decrypt-every 4 --rooms "$ROOMS" --talkers "$TALKERS" \
        ${LG_ARGS:-} > "$TMP/run.out" 2> "$TMP/lg.err" &
    LG_PID=$!

    # the generator's window starts WARMUP s after it says "warming up";
    # ours starts 0.5 s later and ends 0.5 s before its end
    i=0
    while ! grep -q 'warming up' "$TMP/lg.err" && [ $i -lt 600 ]; do
        sleep 0.1; i=$((i + 1))
    done
    sleep "$WARMUP"
    sleep 0.5
    info "$TMP/info0"
    c0=$(cpu)
    t0=$(date +%s.%N)
    sleep "$((DURATION - 1))"
    c1=$(cpu)
    t1=$(date +%s.%N)
    info "$TMP/info1"

    wait "$LG_PID" || true
    LG_PID=
    cat "$TMP/lg.err" >&2
    cat "$TMP/run.out" >&2
    res=$(grep '^RESULT ' "$TMP/run.out" || true)

    steering=$(jq -r '.data.steering // "-"' "$TMP/info1" 2>/dev/null \
               || echo -)
    rooms=$(jq -r '[.data.workers[]?.room_count] | map(tostring)
                   | join("/")' "$TMP/info1" 2>/dev/null || echo -)
    wsteer=$(jq -r '[.data.workers[]?.steering // "-"] | join("/")' \
             "$TMP/info1" 2>/dev/null || echo -)
    hs=$(( $(counter "$TMP/info1" handoff_sent) \
           - $(counter "$TMP/info0" handoff_sent) ))
    hr=$(( $(counter "$TMP/info1" handoff_received) \
           - $(counter "$TMP/info0" handoff_received) ))
    hd=$(( $(counter "$TMP/info1" handoff_dropped) \
           - $(counter "$TMP/info0" handoff_dropped) ))
    hf=$(( $(counter "$TMP/info1" handoff_refused) \
           - $(counter "$TMP/info0" handoff_refused) ))
    rtp=$(( $(counter "$TMP/info1" rtp_received) \
            - $(counter "$TMP/info0" rtp_received) ))
    hs_all=$(counter "$TMP/info1" handoff_sent)
    hd_all=$(counter "$TMP/info1" handoff_dropped)

    echo "$res" | awk -v round="$round" -v v="$v" -v c0="$c0" -v c1="$c1" \
        -v t0="$t0" -v t1="$t1" -v hz="$HZ" -v steering="$steering" \
        -v wsteer="$wsteer" -v rooms="$rooms" -v hs="$hs" -v hr="$hr" \
        -v hd="$hd" -v hf="$hf" -v rtp="$rtp" -v hs_all="$hs_all" \
        -v hd_all="$hd_all" -v workers="$WORKERS" '
    {
        for (i = 2; i <= NF; i++) {
            p = index($i, "=")
            r[substr($i, 1, p - 1)] = substr($i, p + 1)
        }
    }
    END {
        split(c0, a, " "); split(c1, b, " ")
        w = t1 - t0
        pkts = r["rx_pps"] * w
        u = (b[1] - a[1]) / hz; s = (b[2] - a[2]) / hz
        printf "STEER round=%s variant=%s steering=%s worker_steering=%s " \
               "rooms_per_worker=%s window=%.2f rx_pps=%s loss_pct=%s " \
               "failed=%s stalled=%s udp_drops=%s lat_p50_us=%s " \
               "lat_p99_us=%s cpu_pct=%.1f cpu_user_s=%.2f cpu_sys_s=%.2f " \
               "us_user=%.3f us_sys=%.3f us_pkt=%.3f " \
               "one_worker_us_pkt=%s loadgen_cpu_pct=%s rtp_received=%d " \
               "handoff_sent=%d handoff_received=%d handoff_dropped=%d " \
               "handoff_refused=%d handoff_sent_total=%d " \
               "handoff_dropped_total=%d\n",
               round, v, steering, wsteer, rooms, w, r["rx_pps"],
               r["loss_pct"], r["failed"], r["stalled"], r["udp_drops"],
               r["lat_p50_us"], r["lat_p99_us"], 100 * (u + s) / w, u, s,
               pkts ? u * 1e6 / pkts : 0, pkts ? s * 1e6 / pkts : 0,
               pkts ? (u + s) * 1e6 / pkts : 0, r["us_per_pkt"],
               r["loadgen_cpu_pct"], rtp, hs, hr, hd, hf, hs_all, hd_all
    }' | tee -a "$OUT"

    grep -E '\[(alert|crit|emerg|error)\]' "$TMP/nginx/logs/error.log" \
        | head -5 >&2 || true
    stop_server
    : > "$TMP/nginx/logs/error.log"
    sleep 1
}


echo "# kraken steer: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs," \
     "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# commit $(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null \
     || echo -) (+ working tree); before: $BEFORE_MODULE; now: $NOW_MODULE"
echo "# $ROUNDS rounds of: $VARIANTS; $ROOMS rooms of $TALKERS talkers," \
     "warm-up $WARMUP s, window $DURATION s, PIN=$PIN;" \
     "load $(cut -d' ' -f1-3 /proc/loadavg)"

r=1
while [ "$r" -le "$ROUNDS" ]; do
    for v in $VARIANTS; do
        run_one "$r" "$v"
    done
    r=$((r + 1))
done

echo "# load at the end $(cut -d' ' -f1-3 /proc/loadavg)"

# per variant: means over the rounds, ratio to before
awk '
/^STEER / {
    delete r
    for (i = 2; i <= NF; i++) {
        p = index($i, "=")
        r[substr($i, 1, p - 1)] = substr($i, p + 1)
    }
    v = r["variant"]
    if (!(v in n)) order[++nv] = v
    n[v]++
    us[v] += r["us_user"]; sy[v] += r["us_sys"]; tot[v] += r["us_pkt"]
    pps[v] += r["rx_pps"]
    if (r["loss_pct"] + 0 > loss[v]) loss[v] = r["loss_pct"] + 0
    fail[v] += r["failed"]
    hs[v] += r["handoff_sent"]; hd[v] += r["handoff_dropped"]
    rtp[v] += r["rtp_received"]; st[v] = r["steering"]
    win[v] += r["window"]
    runs[v] = runs[v] sprintf(" %.2f", r["us_pkt"])
    k = n[v]; tv[v, k] = r["us_pkt"] + 0; rt[v, r["round"]] = r["us_pkt"]
    uv[v, k] = r["us_user"] + 0; sv[v, k] = r["us_sys"] + 0
}
# median of x[v, 1..k]
function median(x, v, k,    i, j, t, a) {
    for (i = 1; i <= k; i++) a[i] = x[v, i]
    for (i = 2; i <= k; i++)
        for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
            t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
        }
    return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
END {
    printf "\nmeans over the rounds:"
    printf "\n%-8s %-8s %5s %8s %8s %8s %7s %9s %8s %6s %9s %7s  %s\n",
           "variant", "steering", "runs", "us_user", "us_sys", "us_pkt",
           "/before", "rx_pkt/s", "loss%max", "failed", "handoff%",
           "dropped", "us_pkt per run"
    for (i = 1; i <= nv; i++) {
        v = order[i]
        t = tot[v] / n[v]
        b = ("before" in n) ? tot["before"] / n["before"] : 0
        printf "%-8s %-8s %5d %8.3f %8.3f %8.3f %7s %9.0f %8.4f %6d " \
               "%9s %7d %s\n", v, st[v], n[v], us[v] / n[v], sy[v] / n[v],
               t, b ? sprintf("%.3f", t / b) : "-", pps[v] / n[v], loss[v],
               fail[v], rtp[v] ? sprintf("%.1f", 100 * hs[v] / rtp[v]) : "-",
               hd[v], runs[v]
    }
    # ratios to before within each round (the machine of the same minute),
    # and their median
    printf "\nmedians over the rounds:\n%-8s %8s %8s %8s %7s %9s  %s\n",
           "variant", "us_user", "us_sys", "us_pkt", "/before",
           "med(r/b)", "us_pkt / before, per round"
    for (i = 1; i <= nv; i++) {
        v = order[i]
        t = median(tv, v, n[v])
        b = ("before" in n) ? median(tv, "before", n["before"]) : 0
        k = 0; per = ""
        for (j = 1; ((v, j) in rt) || (("before", j) in rt); j++)
            if (((v, j) in rt) && (("before", j) in rt) \
                && rt["before", j] > 0)
            {
                rr[v, ++k] = rt[v, j] / rt["before", j]
                per = per sprintf(" %.2f", rr[v, k])
            }
        printf "%-8s %8.3f %8.3f %8.3f %7s %9s %s\n", v, median(uv, v, n[v]),
               median(sv, v, n[v]), t, b ? sprintf("%.3f", t / b) : "-",
               k ? sprintf("%.3f", median(rr, v, k)) : "-", per
    }
    # what a handed-over datagram costs: the extra CPU per second of
    # handoff over ebpf, per datagram handed over per second
    if (("handoff" in n) && ("ebpf" in n) && hs["handoff"] > 0) {
        extra = (tot["handoff"] / n["handoff"] - tot["ebpf"] / n["ebpf"]) \
                * pps["handoff"] / n["handoff"]
        printf "\nhandoff: %.0f datagrams/s handed over, %.1f us more " \
               "CPU per handed-over datagram than ebpf (means)\n",
               hs["handoff"] / win["handoff"],
               extra / (hs["handoff"] / win["handoff"])
    }
}' "$OUT"
