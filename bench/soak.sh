#!/bin/sh
# The soak: participants join and leave one nginx worker for minutes
# (loadgen soak), then the worker must be back where it started: resident
# memory within 5% of a baseline taken after a short warm-up round, the
# same open descriptors, and no [alert], [crit] or [emerg] in its log.
#
#   ../tools/netns.sh ./soak.sh        (make -C bench soak)
#
# Must run inside a loopback-only network namespace (tools/netns.sh makes
# one). Every participant talks (audio and a sender report every 2 s);
# a quarter leave without `end` and are left to the consent timeout
# (the default, 30 s). Closed peers are remembered for 15 s rather than
# 5 min (kraken_media_closed_peer_time), so that "everything is gone" comes
# sooner; the baseline and the final sample are both taken once `info`
# shows no peer and no room, active or closed. With gdb installed, it
# also prints glibc's malloc_stats() at both samples and the RSS after a
# malloc_trim(0) in the worker: not part of the verdict, but it tells
# memory still allocated (a leak) from memory the allocator keeps free.
#
# Environment:
#   KRAKEN_MODULE   the module .so (../build/ngx_kraken_module.so)
#   PEERS           participants over the soak (1000)
#   MINUTES         its length (10)
#   CONCURRENT      participants at a time (50)
#   VANISH_PCT      participants that leave without `end` (25)
#   LG_ARGS         more generator options
#   KEEP            keep the temporary folder (server log, samples)
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
LG=$HERE/loadgen
MODULE=${KRAKEN_MODULE:-$HERE/../build/ngx_kraken_module.so}
case "$MODULE" in
/*) ;;
*) MODULE=$(pwd)/$MODULE ;;
esac
PEERS=${PEERS:-1000}
MINUTES=${MINUTES:-10}
CONCURRENT=${CONCURRENT:-50}
VANISH_PCT=${VANISH_PCT:-25}
TMP=$(mktemp -d /tmp/kraken-soak.XXXXXX)
HTTP_PORT=8000
MEDIA_PORT=20000
SRV_PID=
MASTER_PID=
SAMPLER=
KRAKEN_LOG_LEVEL=${KRAKEN_LOG_LEVEL:-info}
KRAKEN_CONF="kraken_media_closed_peer_time  15s;"

. "$HERE/lib.sh"

bench_netns soak.sh

cleanup() {
    [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null || true
    stop_server
    if [ -n "${KEEP:-}" ]; then
        echo "# kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT INT TERM

[ -x "$LG" ] || { echo "soak.sh: no $LG (make -C bench)" >&2; exit 1; }
[ -f "$MODULE" ] || { echo "soak.sh: no module at $MODULE" >&2; exit 1; }


info() {
    curl -s -m 5 -H 'Content-Type: application/json' \
        -d '{"id":"soak","method":"info","params":[]}' \
        "http://127.0.0.1:$HTTP_PORT/" || true
}


# num KEY: the first "KEY":N of the last info answer (the sums come first)
num() {
    sed -n "s/^[^{]*{.*\"$1\":\([0-9][0-9]*\).*/\1/p" "$TMP/info" | head -1
}


# wait_idle SECONDS: until info shows no peer and no room at all
wait_idle() {
    end=$(( $(date +%s) + $1 ))
    while [ "$(date +%s)" -lt "$end" ]; do
        info > "$TMP/info"
        if [ "$(num active_peers)" = 0 ] && [ "$(num closed_peers)" = 0 ] \
           && [ "$(num active_rooms)" = 0 ] && [ "$(num closed_rooms)" = 0 ]
        then
            return 0
        fi
        sleep 2
    done
    echo "soak.sh: the server still has peers or rooms after $1 s:" >&2
    cat "$TMP/info" >&2
    return 1
}


# status KEY: a kB value of the worker's /proc/PID/status
status() {
    awk -v k="$1:" '$1 == k { print $2 }' "/proc/$SRV_PID/status"
}


fds() {
    ls "/proc/$SRV_PID/fd" | wc -l
}


# heap: resident kB of the worker's brk heap (glibc's main arena; smaps
# may show it as more than one mapping)
heap() {
    awk '/^[0-9a-f]+-[0-9a-f]+ / { h = ($6 == "[heap]") }
         h && /^Rss:/ { kb += $2 } END { print kb + 0 }' \
        "/proc/$SRV_PID/smaps"
}


# malloc NAME: glibc's own figures (malloc_stats(), called in the worker
# through gdb, printed to its stderr, which is the error log): sets
# NAME_inuse (bytes allocated, mmap included) and NAME_arena (bytes the
# main arena holds from the system). Without gdb, "-".
malloc_figures() {
    eval "$1_inuse=-; $1_arena=-"
    command -v gdb >/dev/null 2>&1 || return 0
    gdb -p "$SRV_PID" -batch -ex 'call (void) malloc_stats()' \
        >/dev/null 2>&1 || return 0
    sleep 0.5
    inuse=$(awk '/^Total \(incl. mmap\):/ { t = 1; next }
                 t && /^in use bytes/ { v = $NF; t = 0 } END { print v }' \
            "$TMP/nginx/logs/error.log")
    arena=$(awk '/^Arena 0:/ { t = 1; next }
                 t && /^system bytes/ { v = $NF; t = 0 } END { print v }' \
            "$TMP/nginx/logs/error.log")
    echo "# $1: malloc in use $inuse bytes, main arena $arena bytes"
    eval "$1_inuse=$inuse; $1_arena=$arena"
}


# trim: malloc_trim(0) in the worker through gdb (0 when it ran)
trim() {
    command -v gdb >/dev/null 2>&1 || return 1
    gdb -p "$SRV_PID" -batch -ex 'call (int) malloc_trim(0)' \
        >/dev/null 2>&1
}


# sample NAME: the worker's memory and descriptors, a few seconds after
# the last HTTP connection closed; sets NAME_rss, NAME_fds
sample() {
    sleep 3
    rss=$(status VmRSS)
    nfd=$(fds)
    echo "# $1: VmRSS $rss kB (anon $(status RssAnon), file" \
         "$(status RssFile), shmem $(status RssShmem); heap $(heap))," \
         "$nfd fds"
    eval "$1_rss=$rss; $1_fds=$nfd"
    ls -l "/proc/$SRV_PID/fd" | sed -n 's/.* -> //p' | sort > "$TMP/fds.$1"
}


lg_soak() {
    # shellcheck disable=SC2086
    $PIN_LG "$LG" soak --http "127.0.0.1:$HTTP_PORT" --addr-base "$LG_BASE" \
        --rtcp-ms 2000 "$@" ${LG_ARGS:-}
}


echo "# kraken soak: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs," \
     "$PEERS participants over $MINUTES min, $CONCURRENT at a time," \
     "$VANISH_PCT% vanish"
echo "# commit" \
     "$(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null || echo -)"

start_kraken
echo "# worker $SRV_PID"
sample start

# The warm-up round: what a first round of peers leaves behind for good
# (allocator arenas, OpenSSL's and libsrtp's lazily built tables, the
# shared zone's pages) belongs to the baseline.
echo "# warm-up: 40 participants, 20 at a time, 40 s"
lg_soak --peers-total 40 --seconds 40 --concurrent 20 --room-prefix warm \
    --vanish-pct "$VANISH_PCT" > "$TMP/warm.out" 2> "$TMP/warm.err" || {
    cat "$TMP/warm.out" "$TMP/warm.err"
    echo "soak.sh: the warm-up round failed" >&2
    exit 1
}
cat "$TMP/warm.out"
wait_idle 240
sample base
malloc_figures base

# RSS and descriptors every 10 s during the soak
(
    while kill -0 "$SRV_PID" 2>/dev/null; do
        echo "$(date +%s) $(status VmRSS) $(fds)"
        sleep 10
    done
) > "$TMP/samples" 2>/dev/null &
SAMPLER=$!

echo "# soak: $PEERS participants over $MINUTES min"
rc=0
lg_soak --peers-total "$PEERS" --minutes "$MINUTES" \
    --concurrent "$CONCURRENT" --vanish-pct "$VANISH_PCT" \
    > "$TMP/soak.out" 2> "$TMP/soak.err" || rc=$?
cat "$TMP/soak.out"
tail -5 "$TMP/soak.err"

echo "# waiting for the server to close and forget every peer"
idle=0
wait_idle 300 || idle=1
kill "$SAMPLER" 2>/dev/null || true
SAMPLER=
sample after
malloc_figures after

# Not part of the verdict: what is left once glibc is asked to give back
# its free pages. Close to the baseline, the rest of "after" is memory
# free in the allocator; well above it, memory still allocated.
trimmed_rss=-
if trim; then
    sample trimmed
fi

peak=$(awk '$2 > m { m = $2 } END { print m + 0 }' "$TMP/samples")
peak_fds=$(awk '$3 > m { m = $3 } END { print m + 0 }' "$TMP/samples")
log=$TMP/nginx/logs/error.log
bad=$(grep -cE '\[(alert|crit|emerg)\]' "$log" || true)
pct=$(awk -v a="$after_rss" -v b="$base_rss" \
      'BEGIN { printf "%.1f", 100 * (a - b) / b }')

other=$(grep 'closed: ' "$log" \
        | grep -cvE 'closed: (end|consent expired|no media)$' || true)
echo "# peers closed by: end $(grep -c 'closed: end$' "$log" || true)," \
     "consent $(grep -c 'closed: consent expired' "$log" || true)," \
     "no media $(grep -c 'closed: no media' "$log" || true), other $other"
echo "# log: $(grep -c '\[error\]' "$log" || true) [error]," \
     "$(grep -c '\[warn\]' "$log" || true) [warn], $bad [alert]/[crit]/[emerg]"
grep -E '\[(alert|crit|emerg)\]' "$log" | head -20 || true

echo "SOAKRESULT peers=$PEERS minutes=$MINUTES concurrent=$CONCURRENT" \
     "rss_start_kb=$start_rss rss_base_kb=$base_rss rss_peak_kb=$peak" \
     "rss_after_kb=$after_rss rss_change_pct=$pct fds_base=$base_fds" \
     "fds_peak=$peak_fds fds_after=$after_fds log_alerts=$bad" \
     "loadgen_rc=$rc idle=$((1 - idle)) rss_trimmed_kb=$trimmed_rss" \
     "malloc_inuse_base=$base_inuse malloc_inuse_after=$after_inuse" \
     "arena_base=$base_arena arena_after=$after_arena"

fail=0
if ! awk -v a="$after_rss" -v b="$base_rss" 'BEGIN { exit !(a <= b * 1.05) }'
then
    echo "FAIL: RSS $after_rss kB is more than 5% above the baseline" \
         "$base_rss kB ($pct%)"
    fail=1
fi
if [ "$after_fds" != "$base_fds" ]; then
    echo "FAIL: $after_fds open fds, $base_fds at the baseline:"
    diff "$TMP/fds.base" "$TMP/fds.after" || true
    fail=1
fi
[ "$bad" = 0 ] || { echo "FAIL: $bad [alert]/[crit]/[emerg] lines"; fail=1; }
[ "$rc" = 0 ] || { echo "FAIL: the generator exited $rc"; fail=1; }
[ "$idle" = 0 ] || { echo "FAIL: peers or rooms left on the server"; fail=1; }
[ "$fail" = 0 ] && echo "PASS: RSS within 5% ($pct%), fds equal, clean log"
exit $fail
