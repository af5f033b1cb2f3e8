#!/bin/sh
# The benchmark: ngx_kraken and Janus side by side, driven by ./loadgen.
#
#   ../tools/netns.sh ./run.sh quick|full     (make bench runs "quick")
#
# Must run inside a loopback-only network namespace (tools/netns.sh makes
# one). The SFU under test is pinned to CPU 0 and the load generator to
# CPU 1 when there are two CPUs or more.
#
# Environment:
#   KRAKEN_MODULE   the module .so (../build/ngx_kraken_module.so)
#   SERVERS         "kraken janus" (default), or one of them
#   SCENARIOS       space-separated subset of the scenario names below
#   CAPACITY_KRAKEN, CAPACITY_JANUS
#                   capacity sweeps per server: "FAMILY N1 N2 ...; ..."
#                   ("" none)
#   OUT             file the RESULT lines are appended to
#   KEEP            keep the temporary folder (server logs) when set
set -eu

MODE=${1:-quick}
HERE=$(cd "$(dirname "$0")" && pwd)
LG=$HERE/loadgen
MODULE=${KRAKEN_MODULE:-$HERE/../build/ngx_kraken_module.so}
case "$MODULE" in
/*) ;;
*) MODULE=$(pwd)/$MODULE ;;
esac
SERVERS=${SERVERS:-kraken janus}
TMP=$(mktemp -d /tmp/kraken-bench.XXXXXX)
OUT=${OUT:-$TMP/results}
HTTP_PORT=8000
MEDIA_PORT=20000
JANUS_PORT=8088
SRV_PID=
MASTER_PID=

case "$MODE" in
quick)
    WARMUP=12; DURATION=5
    DEFAULT_SCENARIOS="a25 b50 c100"
    DEFAULT_CAPACITY_KRAKEN="a 80 96"
    DEFAULT_CAPACITY_JANUS="a 30 35"
    ;;
full)
    WARMUP=12; DURATION=20
    DEFAULT_SCENARIOS="a10 a25 a50 b50 b200 b500 c500"
    DEFAULT_CAPACITY_KRAKEN="a 64 80 96 112; b 200 300 400 500;
                             c 1000 1500 2000"
    DEFAULT_CAPACITY_JANUS="a 25 30 35 40; b 25 40 50; c 100 150 200"
    ;;
*)
    echo "usage: $0 quick|full" >&2
    exit 2
    ;;
esac

# SCENARIOS=" " runs none (only the capacity sweeps)
SCENARIOS=${SCENARIOS:-$DEFAULT_SCENARIOS}

if ip route show default 2>/dev/null | grep -q .; then
    echo "run.sh: this namespace has a default route; run it through" \
         "tools/netns.sh" >&2
    exit 1
fi

if [ "$(nproc)" -ge 2 ]; then
    PIN_SRV="taskset -c 0"
    PIN_LG="taskset -c 1"
else
    PIN_SRV=
    PIN_LG=
fi

ip link set lo up

# The servers' media address and the generator's per-connection addresses
# live on an ifb device of this namespace. Janus gathers candidates only on
# a non-loopback device (ice_enforce_list) and then sends with
# IP_UNICAST_IF on it, which the kernel refuses for 127/8 addresses; so
# the namespace gets 10.200.0.1 (servers) and a local route for
# 10.201.0.0/16 (one generator address per connection). Both servers get
# the same addresses and the same path.
SRV_ADDR=10.200.0.1
LG_BASE=10.201.0.0
if ! ip link show ifb9 >/dev/null 2>&1; then
    ip link add ifb9 type ifb
    ip addr add $SRV_ADDR/32 dev ifb9
    ip link set ifb9 up
    ip route add local $LG_BASE/16 dev ifb9
fi

cleanup() {
    stop_server
    if [ -n "${KEEP:-}" ]; then
        echo "# kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT INT TERM


# ngx_kraken on a private prefix, one worker.
start_kraken() {
    mkdir -p "$TMP/nginx/logs" "$TMP/nginx/conf" "$TMP/nginx/tmp"
    cat > "$TMP/nginx/conf/nginx.conf" <<EOF
load_module $MODULE;

worker_processes  1;
pid               logs/nginx.pid;
error_log         logs/error.log ${KRAKEN_LOG_LEVEL:-warn};

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
    # listeners publish but never send: keep them
    kraken_connect_timeout  1h;

    server {
        listen  127.0.0.1:$HTTP_PORT;

        client_max_body_size     1m;
        client_body_buffer_size  1m;

        location = / {
            kraken_rpc;
        }
    }
}
EOF
    $PIN_SRV /usr/sbin/nginx -p "$TMP/nginx/" -e logs/error.log \
        -c conf/nginx.conf
    i=0
    while [ ! -s "$TMP/nginx/logs/nginx.pid" ] && [ $i -lt 50 ]; do
        sleep 0.1; i=$((i + 1))
    done
    MASTER_PID=$(cat "$TMP/nginx/logs/nginx.pid")
    i=0
    SRV_PID=
    while [ -z "$SRV_PID" ] && [ $i -lt 50 ]; do
        SRV_PID=$(pgrep -P "$MASTER_PID" | head -1 || true)
        sleep 0.1; i=$((i + 1))
    done
    [ -n "$SRV_PID" ] || { echo "run.sh: no nginx worker" >&2; exit 1; }
    wait_http "$HTTP_PORT"
}


start_janus() {
    $PIN_SRV janus -F "$HERE/janus" -C "$HERE/janus/janus.jcfg" -N -o \
        -L "$TMP/janus.log" >/dev/null 2>&1 &
    SRV_PID=$!
    wait_http "$JANUS_PORT"
}


wait_http() {
    i=0
    while ! curl -s -o /dev/null "http://127.0.0.1:$1/" && [ $i -lt 100 ]
    do
        sleep 0.1; i=$((i + 1))
    done
}


stop_server() {
    if [ -n "$MASTER_PID" ]; then
        kill "$MASTER_PID" 2>/dev/null || true
        i=0
        while kill -0 "$MASTER_PID" 2>/dev/null && [ $i -lt 50 ]; do
            sleep 0.1; i=$((i + 1))
        done
        MASTER_PID=
    elif [ -n "$SRV_PID" ]; then
        kill "$SRV_PID" 2>/dev/null || true
        wait "$SRV_PID" 2>/dev/null || true
    fi
    SRV_PID=
}


# run_one SERVER NAME: one scenario on one server; its RESULT line goes to
# $OUT and to $TMP/last
run_one() {
    srv=$1
    name=$2
    case "$name" in
    a*) args="--rooms 1 --talkers ${name#a}" ;;
    b*) args="--rooms ${name#b} --talkers 4" ;;
    c*) args="--rooms 1 --talkers 5 --listeners ${name#c}" ;;
    *) echo "run.sh: unknown scenario $name" >&2; return 1 ;;
    esac

    : > "$TMP/last"

    case "$srv" in
    kraken)
        if [ ! -f "$MODULE" ]; then
            echo "run.sh: no module at $MODULE, skipping kraken" >&2
            return 0
        fi
        start_kraken
        http=127.0.0.1:$HTTP_PORT
        ;;
    janus)
        start_janus
        http=127.0.0.1:$JANUS_PORT
        ;;
    esac

    echo "# $name on $srv: loadgen $args" >&2
    $PIN_LG timeout 300 "$LG" run --server "$srv" --http "$http" \
        --server-pid "$SRV_PID" --label "$name" --addr-base "$LG_BASE" \
        --warmup "$WARMUP" --duration "$DURATION" --join-timeout 20 \
        --decrypt-every 4 $args \
        ${LG_ARGS:-} > "$TMP/run.out" || true
    cat "$TMP/run.out"
    grep '^RESULT ' "$TMP/run.out" | tee -a "$OUT" > "$TMP/last" || true
    stop_server
    sleep 0.5
}


# run_case NAME: one scenario on every server in $SERVERS
run_case() {
    for srv in $SERVERS; do
        run_one "$srv" "$1"
    done
}


# field KEY: a value of the last RESULT line
field() {
    tr ' ' '\n' < "$TMP/last" | sed -n "s/^$1=//p"
}


#
# capacity SERVER FAMILY N...: runs FAMILY (a, b or c) at growing sizes
# until one loses 0.1% or more, fails a participant, or the server needs
# 95% of its core; the largest rate below that is the server's capacity
# per core for that shape of load.
#
capacity() {
    srv=$1
    fam=$2
    shift 2
    best_n=0
    best_pps=0
    best_cpu=0
    for n in "$@"; do
        run_one "$srv" "$fam$n"
        [ -s "$TMP/last" ] || break
        loss=$(field loss_pct)
        failed=$(field failed)
        cpu=$(field cpu_pct)
        pps=$(field rx_pps)
        if awk -v l="$loss" -v f="$failed" -v c="$cpu" \
               'BEGIN { exit !(l < 0.1 && f == 0 && c < 95) }'
        then
            best_n=$n
            best_pps=$pps
            best_cpu=$cpu
        else
            break
        fi
    done
    echo "CAPACITY server=$srv family=$fam n=$best_n rx_pps=$best_pps" \
         "cpu_pct=$best_cpu" | tee -a "$OUT"
}


echo "# kraken bench ($MODE): $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs," \
     "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# commit $(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null || echo -)"

$PIN_SRV "$LG" floor --seconds 1 | tee -a "$OUT"

for s in $SCENARIOS; do
    run_case "$s"
done

# capacity sweeps: CAPACITY_<server>="family n1 n2 ...; family n1 ..."
for srv in $SERVERS; do
    case "$srv" in
    kraken) sweep=${CAPACITY_KRAKEN-$DEFAULT_CAPACITY_KRAKEN} ;;
    janus) sweep=${CAPACITY_JANUS-$DEFAULT_CAPACITY_JANUS} ;;
    esac
    ifs=$IFS
    IFS=';'
    for family in $sweep; do
        IFS=$ifs
        # shellcheck disable=SC2086
        [ -n "$(echo $family)" ] && capacity "$srv" $family
        IFS=';'
    done
    IFS=$ifs
done

"$HERE/table.sh" "$OUT"
