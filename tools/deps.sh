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

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages; run as root:" >&2
    echo "  apt-get update && apt-get install -y$missing" >&2
    exit 1
fi

echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing </dev/null
