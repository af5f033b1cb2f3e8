#!/bin/sh
# Builds libnginx-mod-kraken_VERSION_ARCH.deb from a built module, the way
# Debian packages its own dynamic nginx modules (dh_nginx), with plain
# dpkg-deb: no debhelper, no network.
#
# usage: pkg/build-deb.sh MODULE.so [OUTDIR]
#   MODULE.so  the module `make module` built ($(BUILD)/ngx_kraken_module.so)
#   OUTDIR     where the .deb goes (default: the module's directory)
# Prints the path of the .deb as the last line of its output.
#
# Environment:
#   VERSION     the package version (default: from git, see below)
#   NGINX_SRC   the nginx-dev tree the module was built against (default:
#               nginx-src beside the module, as make module leaves it, else
#               /usr/share/nginx/src): gives the nginx ABI and version
#   MAINTAINER  the Maintainer field
#   DEB_BUILD_OPTIONS=nostrip  keeps the debug information
set -eu

PKG=libnginx-mod-kraken
MOD=ngx_kraken_module.so
CONF=mod-kraken.conf
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")

die() { echo "build-deb: $*" >&2; exit 1; }

# git in the source tree, also when another user owns the checkout
git() { command git -c safe.directory="$ROOT" -C "$ROOT" "$@"; }

[ $# -ge 1 ] || die "usage: $0 MODULE.so [OUTDIR]"
module=$1
[ -f "$module" ] || die "no module at $module (make module first)"
outdir=${2:-$(dirname "$module")}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

command -v dpkg-deb >/dev/null 2>&1 || die "dpkg-deb is missing"

# The version, from one place: VERSION if given, else git. A tag vX.Y
# gives X.Y (X.Y+N.gHASH N commits later); without a tag,
# 0.0~gitYYYYMMDDHHMMSS.HASH from the last commit (UTC), which sorts
# before any tagged release and after earlier commits.
commit_epoch=
if git rev-parse --git-dir >/dev/null 2>&1; then
    commit_epoch=$(git log -1 --format=%ct)
fi
if [ -z "${VERSION:-}" ]; then
    [ -n "$commit_epoch" ] || die "not a git tree: set VERSION"
    if desc=$(git describe --tags --long --match 'v[0-9]*' \
                  2>/dev/null); then
        # v1.2-3-gabcdef0
        n=$(echo "$desc" | sed 's/^.*-\([0-9]*\)-g[0-9a-f]*$/\1/')
        tag=$(echo "$desc" | sed 's/^v\(.*\)-[0-9]*-g[0-9a-f]*$/\1/')
        hash=$(echo "$desc" | sed 's/^.*-g\([0-9a-f]*\)$/\1/')
        if [ "$n" = 0 ]; then
            VERSION=$tag
        else
            VERSION=$tag+$n.g$hash
        fi
    else
        VERSION=0.0~git$(date -u -d "@$commit_epoch" +%Y%m%d%H%M%S)
        VERSION=$VERSION.$(git rev-parse --short=7 HEAD)
    fi
fi
echo "$VERSION" | grep -Eq '^[0-9][A-Za-z0-9.+~]*$' \
    || die "not a Debian version: $VERSION"

ARCH=$(dpkg --print-architecture)
MAINTAINER=${MAINTAINER:-ngx_kraken maintainers <maintainers@users.noreply.r-seed-47a03615.example>}

# reproducible: every file dated like the last commit
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-${commit_epoch:-$(date +%s)}}
export SOURCE_DATE_EPOCH

# The nginx ABI the module was built against: Debian's third-party
# modules depend on the virtual package nginx-abi-UPSTREAM-N that their
# nginx-dev names (dh_nginx reads the same file), which only the nginx
# binary packages of that ABI provide.
if [ -z "${NGINX_SRC:-}" ]; then
    NGINX_SRC=/usr/share/nginx/src
    [ -d "$(dirname "$module")/nginx-src/debian" ] \
        && NGINX_SRC=$(dirname "$module")/nginx-src
fi
abi=$(sed -n 's/^nginx:abi=//p' \
          "$NGINX_SRC/debian/libnginx-mod.abisubstvars" 2>/dev/null || true)
if [ -z "$abi" ]; then
    abi=$(dpkg-query -W -f='${Provides}' nginx 2>/dev/null | tr ',' '\n' \
          | sed -n 's/^ *\(nginx-abi-[^ ]*\).*/\1/p' | head -1)
fi
[ -n "$abi" ] || die "cannot tell the nginx ABI (install nginx-dev)"
ngx_version=$(sed -n 's/^#define NGINX_VERSION *"\(.*\)"/\1/p' \
                  "$NGINX_SRC/src/core/nginx.h" 2>/dev/null || true)
[ -n "$ngx_version" ] || ngx_version=$(dpkg-query -W -f='${Version}' nginx \
                                       | sed 's/^[0-9]*://; s/-[^-]*$//')
[ -n "$ngx_version" ] || die "cannot tell the nginx version"

installed_abi=$(dpkg-query -W -f='${Provides}' nginx 2>/dev/null || true)
case ",$installed_abi," in
*"$abi"*) ;;
*) echo "build-deb: warning: the installed nginx does not provide $abi" >&2
   ;;
esac

# the stream module of the same upstream nginx, as Debian's own
# third-party stream modules depend on it (libnginx-mod-stream-geoip2)
stream="libnginx-mod-stream (>= $ngx_version), libnginx-mod-stream (<< $ngx_version.1~)"

work=$(mktemp -d "${TMPDIR:-/tmp}/kraken-deb-XXXXXX")
trap 'rm -rf "$work"' EXIT
umask 022
stage=$work/debian/$PKG

install -d "$stage/DEBIAN" "$stage/usr/lib/nginx/modules" \
           "$stage/usr/share/nginx/modules-available" \
           "$stage/usr/share/doc/$PKG"
install -m 644 "$module" "$stage/usr/lib/nginx/modules/$MOD"
case " ${DEB_BUILD_OPTIONS:-} " in
*" nostrip "*) ;;
*) strip --strip-unneeded --remove-section=.comment \
         --remove-section=.note "$stage/usr/lib/nginx/modules/$MOD" ;;
esac
install -m 644 "$HERE/debian/$CONF" \
        "$stage/usr/share/nginx/modules-available/$CONF"
install -m 644 "$HERE/debian/copyright" "$stage/usr/share/doc/$PKG/copyright"

# a native package's changelog: one entry for this build
{
    echo "ngx-kraken ($VERSION) unstable; urgency=medium"
    echo
    if [ -n "$commit_epoch" ]; then
        echo "  * Built from git commit $(git rev-parse HEAD)."
    else
        echo "  * Built from a source tree without git."
    fi
    echo
    echo " -- $MAINTAINER  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$stage/usr/share/doc/$PKG/changelog.gz"

for s in postinst prerm postrm; do
    install -m 755 "$HERE/debian/$s" "$stage/DEBIAN/$s"
done

# the shared libraries the module links: dpkg-shlibdeps (dpkg-dev) when
# there is one, else the packages of its DT_NEEDED libraries, unversioned
if command -v dpkg-shlibdeps >/dev/null 2>&1; then
    printf 'Source: ngx-kraken\n\nPackage: %s\nArchitecture: any\n' "$PKG" \
        >"$work/debian/control"
    shlibs=$(cd "$work" && dpkg-shlibdeps -O \
                 "-e$stage/usr/lib/nginx/modules/$MOD" \
             | sed -n 's/^shlibs:Depends=//p')
else
    echo "build-deb: warning: no dpkg-shlibdeps (dpkg-dev): library" \
         "dependencies are unversioned" >&2
    shlibs=$(objdump -p "$stage/usr/lib/nginx/modules/$MOD" \
             | awk '$1 == "NEEDED" { print $2 }' | while read -r lib; do
                 path=$(ldconfig -p | awk -v l="$lib" \
                        '$1 == l { print $NF; exit }')
                 [ -n "$path" ] || die "$lib: not found"
                 dpkg -S "$(readlink -f "$path")" 2>/dev/null \
                     || dpkg -S "$path"
             done | cut -d: -f1 | sort -u | paste -sd, | sed 's/,/, /g')
fi
[ -n "$shlibs" ] || die "no library dependencies found"

depends="$abi, $stream, $shlibs"

(cd "$stage" && find usr -type f | LC_ALL=C sort | xargs md5sum) \
    >"$stage/DEBIAN/md5sums"
chmod 644 "$stage/DEBIAN/md5sums"
size=$(du -sk --apparent-size --exclude=DEBIAN "$stage" | cut -f1)

sed -e "s|@VERSION@|$VERSION|" -e "s|@ARCH@|$ARCH|" \
    -e "s|@MAINTAINER@|$MAINTAINER|" -e "s|@INSTALLED_SIZE@|$size|" \
    -e "s|@DEPENDS@|$depends|" "$HERE/debian/control.in" \
    >"$stage/DEBIAN/control"
chmod 644 "$stage/DEBIAN/control"

find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

deb=$outdir/${PKG}_${VERSION}_$ARCH.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >&2
echo "Depends: $depends" >&2
echo "$deb"
