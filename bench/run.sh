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
#   KRAKEN_CONF     directives for the media server (stream)
#                   ("kraken_media_connect_timeout 1h;": listeners never send)
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
# listeners publish but never send: keep them
KRAKEN_CONF=${KRAKEN_CONF-kraken_media_connect_timeout  1h;}

. "$HERE/lib.sh"

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

bench_netns run.sh

cleanup() {
    stop_server
    if [ -n "${KEEP:-}" ]; then
        echo "# kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT INT TERM


start_janus() {
    $PIN_SRV janus -F "$HERE/janus" -C "$HERE/janus/janus.jcfg" -N -o \
        -L "$TMP/janus.log" >/dev/null 2>&1 &
    SRV_PID=$!
    wait_http "$JANUS_PORT"
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
