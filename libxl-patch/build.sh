#!/bin/bash
# Builds xl and libxenlight from Debian's Xen 4.17 source with the localack
# series (patches/series) applied, and installs them into a prefix tree:
#
#   /var/cache/xlnet/libxl/<key>/root/      the tree to copy into a Dom0
#   /var/cache/xlnet/libxl/<key>/src/       the patched, built source tree
#   /var/cache/xlnet/libxl/<key>/build.log  configure/make output
#   /var/cache/xlnet/libxl/<key>/test/       test helpers (test/build-helpers.sh)
#
# <key> is a hash of the source version, this script and the series, so a
# second run with unchanged inputs only checks the stamp and returns.
# The last line printed is the path of the root tree.
#
#   libxl-patch/build.sh            build (or reuse) and print the tree
#   libxl-patch/build.sh --print    print the tree's path if built, else fail
#
# Only what libxl and xl need is built: tools/include, tools/libs (libxl's
# in-tree dependencies), tools/xl and tools/helpers (xen-init-dom0 and
# init-xenstore-domain, the other two programs that link libxenlight).  No
# hypervisor, qemu, stubdoms, firmware or docs; the man page source the
# series touches is only checked with podchecker.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_PACKAGE=xen
SRC_VERSION=4.17.5+72-g01140da4e8-1
CACHE=${XLNET_CACHE:-/var/cache/xlnet} # every cache of the project lives below XLNET_CACHE
DOWNLOADS=$CACHE/libxl-src
JOBS=2 # the machines have 2 cores shared with other builds

die() { echo "build.sh: $*" >&2; exit 1; }

series_patches() {
    local p
    while read -r p; do
        [[ -z $p || $p == \#* ]] && continue
        [[ -f $HERE/patches/$p ]] || die "patches/series names $p, which does not exist"
        echo "$HERE/patches/$p"
    done <"$HERE/patches/series"
}

cache_key() {
    {
        echo "$SRC_PACKAGE=$SRC_VERSION"
        cat "$HERE/build.sh" "$HERE/patches/series"
        series_patches | xargs cat
    } | sha256sum | cut -c1-16
}

KEY=$(cache_key)
OUT=$CACHE/libxl/$KEY
ROOT=$OUT/root

build_test_helpers() { # not part of the root tree, nor of the cache key
    "$HERE/test/build-helpers.sh" "$OUT" || die "building the test helpers failed"
}

if [[ ${1:-} == --print ]]; then
    [[ -f $OUT/complete ]] || die "not built yet for key $KEY: run $0"
    echo "$ROOT"
    exit 0
fi

mkdir -p "$CACHE/libxl" "$DOWNLOADS"
# Two runs at once (a test and a person) must not build into the same dir.
exec 9>"$CACHE/libxl/.lock"
flock 9

if [[ -f $OUT/complete ]]; then
    build_test_helpers
    echo "libxl tree (cached, key $KEY):"
    echo "$ROOT"
    exit 0
fi

t_start=$(date +%s%N)
elapsed() { # seconds since the start, one decimal
    local ds=$((($(date +%s%N) - t_start) / 100000000))
    echo "$((ds / 10)).$((ds % 10))"
}

# --- build dependencies -----------------------------------------------------
missing=()
while read -r pkg; do
    [[ -z $pkg || $pkg == \#* ]] && continue
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$pkg")
done <"$HERE/apt-packages.txt"
if ((${#missing[@]})); then
    echo "installing build dependencies: ${missing[*]}"
    apt-get install -y -q -o DPkg::Lock::Timeout=900 --no-install-recommends \
        "${missing[@]}" >/dev/null ||
        die "apt-get install ${missing[*]} failed (try: apt-get update)"
fi

# --- source -----------------------------------------------------------------
DSC=$DOWNLOADS/${SRC_PACKAGE}_${SRC_VERSION}.dsc
if [[ ! -f $DSC ]]; then
    # Debian source packages, enabled as shared/docs/platform.md says: derive
    # a deb-src entry from the existing deb one, naming no host ourselves.
    if ! grep -qrs '^Types:.*deb-src' /etc/apt/sources.list.d/ &&
        ! grep -qs '^deb-src' /etc/apt/sources.list; then
        [[ -f /etc/apt/sources.list.d/debian.sources ]] ||
            die "no deb-src entry and no /etc/apt/sources.list.d/debian.sources to derive one from"
        sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
            >/etc/apt/sources.list.d/debian-src.sources
        apt-get update -q -o DPkg::Lock::Timeout=900 >/dev/null
    fi
    echo "downloading $SRC_PACKAGE $SRC_VERSION source (apt-get source)"
    fetch() { (cd "$DOWNLOADS" && apt-get source -q --download-only "$SRC_PACKAGE=$SRC_VERSION") \
        >>"$DOWNLOADS/apt-source.log" 2>&1; }
    fetch || { apt-get update -q -o DPkg::Lock::Timeout=900 >/dev/null && fetch; } ||
        die "apt-get source $SRC_PACKAGE=$SRC_VERSION failed, see $DOWNLOADS/apt-source.log"
fi

rm -rf "$OUT"
mkdir -p "$OUT"
LOG=$OUT/build.log
SRC=$OUT/src
echo "extracting $SRC_PACKAGE $SRC_VERSION (with Debian's patches) into $SRC"
dpkg-source -q -x "$DSC" "$SRC" >>"$LOG" 2>&1 || die "dpkg-source -x $DSC failed, see $LOG"

# --- the series -------------------------------------------------------------
# --fuzz=0: a hunk that only applies with fuzz is not a clean apply.
for p in $(series_patches); do
    echo "applying $(basename "$p")"
    if ! out=$(patch -d "$SRC" -p1 --fuzz=0 --batch --forward --no-backup-if-mismatch -i "$p" 2>&1); then
        echo "$out" >&2
        die "$(basename "$p") does not apply cleanly to $SRC_PACKAGE $SRC_VERSION"
    fi
    echo "$out" >>"$LOG"
done

POD=$SRC/docs/man/xl-network-configuration.5.pod.in
podchecker "$POD" >>"$LOG" 2>&1 || die "podchecker found errors in $POD, see $LOG"

# --- configure and build ----------------------------------------------------
run() { # run a build step, keep its output in the log, show the tail on failure
    echo "+ $*" >>"$LOG"
    if ! "$@" >>"$LOG" 2>&1; then
        tail -n 40 "$LOG" >&2
        die "failed: $* (full log: $LOG)"
    fi
}

cd "$SRC"
# Debian's delta deletes configure output and config.{sub,guess}.
cp /usr/share/misc/config.sub /usr/share/misc/config.guess .
echo "configuring ($(elapsed) s)"
run ./autogen.sh
# Same paths as debian/rules, so the binaries find their helpers, scripts and
# state where xen-utils-4.17 put them; everything not needed by libxl/xl off.
run ./configure \
    --prefix=/usr --includedir=/usr/include \
    --libdir=/usr/lib/x86_64-linux-gnu \
    --with-libexec-libdir-suffix=/x86_64-linux-gnu \
    --with-libexec-leaf-dir=xen-4.17 \
    --sysconfdir=/etc --localstatedir=/var --mandir=/usr/share/man \
    --with-system-qemu=/usr/libexec/xen-qemu-system-i386 \
    --disable-stubdom --disable-docs --disable-ocamltools --disable-golang \
    --disable-xsmpolicy --disable-seabios --disable-ovmf --disable-ipxe \
    --disable-rombios --disable-qemu-traditional --disable-pvshim \
    --disable-monitors

# Debian's hardening flags, passed the way debian/rules passes them.
MAKE_ARGS=(
    -j"$JOBS"
    "EXTRA_CFLAGS_XEN_TOOLS=$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
    "PREPEND_LDFLAGS_XEN_TOOLS=$(dpkg-buildflags --get LDFLAGS)"
)
# Xen's build must not fetch anything.
export WGET=/bin/false GIT=/bin/false
for dir in tools/include tools/libs tools/xl tools/helpers; do
    echo "building $dir ($(elapsed) s)"
    run make "${MAKE_ARGS[@]}" -C "$dir" all
done

# --- install ----------------------------------------------------------------
STAGE=$OUT/stage
# tools/Makefile's install creates this before its subdirs install into it.
mkdir -p "$STAGE/usr/lib/x86_64-linux-gnu/pkgconfig"
for dir in tools/libs/light tools/libs/util tools/xl tools/helpers; do
    run make "${MAKE_ARGS[@]}" -C "$dir" install DESTDIR="$STAGE"
done

# The root tree holds what changed and what links libxenlight, in Debian's
# layout (xen-utils-4.17 runs binaries from /usr/lib/xen-4.17/bin):
mkdir -p "$ROOT/usr/lib/x86_64-linux-gnu" "$ROOT/usr/lib/xen-4.17/bin" "$ROOT/usr/sbin"
cp -a "$STAGE"/usr/lib/x86_64-linux-gnu/libxenlight.so* \
    "$STAGE"/usr/lib/x86_64-linux-gnu/libxlutil.so* \
    "$ROOT/usr/lib/x86_64-linux-gnu/"
cp -a "$STAGE"/usr/lib/x86_64-linux-gnu/pkgconfig "$ROOT/usr/lib/x86_64-linux-gnu/"
cp -a "$STAGE"/usr/include "$ROOT/usr/"
cp -a "$STAGE"/usr/lib/xen-4.17/bin/. "$ROOT/usr/lib/xen-4.17/bin/"
mv "$STAGE/usr/sbin/xl" "$ROOT/usr/lib/xen-4.17/bin/xl"
# /usr/sbin/xl is Debian's version-picking wrapper; a plain symlink works
# with or without it and never picks the stock xl by mistake.
ln -s ../lib/xen-4.17/bin/xl "$ROOT/usr/sbin/xl"
rm -rf "$STAGE"

# Sanity: the new xl must carry the keyword, and must resolve against the
# libraries of the tree plus the host's other Xen libraries.
grep -q localack "$ROOT/usr/lib/xen-4.17/bin/xl" || die "built xl has no localack support"
grep -q LIBXL_HAVE_DEVICE_NIC_LOCALACK "$ROOT/usr/include/libxl.h" || die "installed libxl.h lacks LIBXL_HAVE_DEVICE_NIC_LOCALACK"
# The tree replaces only libxenlight/libxlutil: every other Xen library comes
# from the host's packages (4.17.x), so all symbols must resolve against them.
for bin in xl xen-init-dom0 init-xenstore-domain; do
    unresolved=$(LD_LIBRARY_PATH=$ROOT/usr/lib/x86_64-linux-gnu ldd -r "$ROOT/usr/lib/xen-4.17/bin/$bin" 2>&1 |
        grep -E 'undefined symbol|not found' || true)
    [[ -z $unresolved ]] || die "$bin does not link against the host's Xen libraries: $unresolved"
done

(cd "$ROOT" && find . \( -type f -o -type l \) | sort | while read -r f; do
    if [[ -L $f ]]; then echo "$f -> $(readlink "$f")"; else echo "$f $(sha256sum <"$f" | cut -c1-16)"; fi
done) >"$OUT/MANIFEST"
{
    echo "source: $SRC_PACKAGE $SRC_VERSION (Debian, with debian/patches)"
    echo "series:"
    series_patches | xargs -n1 basename | sed 's/^/  /'
    echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) in $(elapsed) s"
} >"$OUT/INFO"

build_test_helpers
touch "$OUT/complete"
# Keep the two newest other builds (about 120 MB each); older ones only fill the disk.
"$HERE/../tools/prune-builds.sh" "$CACHE/libxl" "$KEY" 2
echo "built in $(elapsed) s; libxl tree (key $KEY):"
echo "$ROOT"
