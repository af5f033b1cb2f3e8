# What run.sh and soak.sh share: the namespace's addresses, and
# ngx_kraken on a private prefix with one worker. Sourced, not run.
#
# The caller sets TMP (a private folder), MODULE (the .so), HTTP_PORT,
# MEDIA_PORT, and optionally KRAKEN_CONF (more directives for the media
# server), KRAKEN_MAIN_CONF (for the main level), KRAKEN_RPC_CONF (for the
# RPC location), KRAKEN_WORKERS (1) and KRAKEN_LOG_LEVEL (warn).


# bench_netns NAME: checks that this is a namespace without a way out,
# sets PIN_SRV / PIN_LG (the server on CPU 0, the generator on CPU 1),
# and gives the namespace the servers' and the generator's addresses.
bench_netns() {
    if ip route show default 2>/dev/null | grep -q .; then
        echo "$1: this namespace has a default route; run it through" \
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

    # The servers' media address and the generator's per-connection
    # addresses live on an ifb device of this namespace. Janus gathers
    # candidates only on a non-loopback device (ice_enforce_list) and then
    # sends with IP_UNICAST_IF on it, which the kernel refuses for 127/8
    # addresses; so the namespace gets 10.200.0.1 (servers) and a local
    # route for 10.201.0.0/16 (one generator address per connection). Both
    # servers get the same addresses and the same path.
    SRV_ADDR=10.200.0.1
    LG_BASE=10.201.0.0
    if ! ip link show ifb9 >/dev/null 2>&1; then
        ip link add ifb9 type ifb
        ip addr add $SRV_ADDR/32 dev ifb9
        ip link set ifb9 up
        ip route add local $LG_BASE/16 dev ifb9
    fi
}


# ngx_kraken on a private prefix, one worker: MASTER_PID, SRV_PID (the
# worker).
start_kraken() {
    mkdir -p "$TMP/nginx/logs" "$TMP/nginx/conf" "$TMP/nginx/tmp"
    cat > "$TMP/nginx/conf/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
load_module $MODULE;

worker_processes  ${KRAKEN_WORKERS:-1};
pid               logs/nginx.pid;
error_log         logs/error.log ${KRAKEN_LOG_LEVEL:-warn};
${KRAKEN_MAIN_CONF:-}

events {
    worker_connections  8192;
}

stream {
    server {
        listen  $SRV_ADDR:$MEDIA_PORT udp reuseport;
        kraken_media;
        ${KRAKEN_CONF:-}
    }
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


    server {
        listen  127.0.0.1:$HTTP_PORT;

        client_max_body_size     1m;
        client_body_buffer_size  1m;

        location = / {
            kraken_rpc;
            ${KRAKEN_RPC_CONF:-}
        }
    }
}
EOF
    start_nginx
}


# start_nginx: runs nginx on $TMP/nginx/conf/nginx.conf (the caller wrote
# it) and waits for a worker and the RPC port: MASTER_PID, SRV_PID (the
# first worker).
start_nginx() {
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
    [ -n "$SRV_PID" ] || { echo "no nginx worker" >&2; exit 1; }
    wait_http "$HTTP_PORT"
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
