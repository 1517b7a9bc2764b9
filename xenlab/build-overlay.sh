#!/bin/bash
# Builds a Dom0 overlay with xlnet installed the way a real Debian 12 Dom0
# gets it: the release tarball (`npm pack`, what `make dist` makes) installed
# with `npm install -g` (npm's prefix on Debian with NodeSource's node is /usr:
# usr/lib/node_modules/xlnet, usr/bin/xlnet, usr/bin/xlnetd), then
# `xlnet setup --yes` (xlnet.conf, the hotplug scripts in etc/xen/scripts,
# the sysctl drop-in, the systemd unit), plus libbpf for the BPF datapath.
#
#   xenlab/build-overlay.sh [--with-patched-xl TREE | --patched-xl-beside TREE] [--force]
#
#   --with-patched-xl TREE    merge libxl-patch/build.sh's install tree over
#                             the rootfs: the patched xl/libxl replace Debian's
#                             (as libxl-patch/README.md installs it on a host)
#   --patched-xl-beside TREE  put the tree under /opt/xlnet-patched-xl and add
#                             /usr/sbin/xl-patched (that xl with its libxenlight):
#                             stock xl and patched xl in one boot
#   --force                   rebuild even when the cache has this overlay
#
# Needs the project built first (make build: plugin/dist, datapath/build).
# Prints on stdout (logs on stderr):
#   XLNET_OVERLAY=<dir>         the overlay root, for run.sh --overlay
#   XLNET_OVERLAY_NOTES=<file>  install problems worked around (empty: none)
#   XLNET_OVERLAY_ADAPTATIONS=<file>  changes made for the lab (TCG timing)
#   XLNET_OVERLAY_BUILD=cached|built
# Cache: ${XLNET_XENLAB_CACHE:-${XLNET_CACHE:-/var/cache/xlnet}/xenlab}/xlnet-overlay/<hash>/,
# keyed by the package tarball's checksum, the lock file, this script, the
# host's libbpf and the patched tree's MANIFEST. Keeps the three newest.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${XLNET_XENLAB_CACHE:-${XLNET_CACHE:-/var/cache/xlnet}/xenlab}/xlnet-overlay
xl_tree="" xl_mode="" force=0

die() { echo "build-overlay: $*" >&2; exit 1; }
log() { echo "build-overlay: $*" >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --with-patched-xl|--patched-xl-beside)
      [ $# -ge 2 ] || die "$1 needs the tree printed by libxl-patch/build.sh"
      [ -z "$xl_mode" ] || die "give --with-patched-xl or --patched-xl-beside, not both"
      xl_mode=${1#--}; xl_tree=$2; shift 2 ;;
    --force) force=1; shift ;;
    -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
if [ -n "$xl_tree" ]; then
  [ -x "$xl_tree/usr/lib/xen-4.17/bin/xl" ] || die "'$xl_tree' is not libxl-patch's install tree (no usr/lib/xen-4.17/bin/xl): run libxl-patch/build.sh"
  [ -f "$xl_tree/../MANIFEST" ] || die "'$xl_tree/../MANIFEST' is missing: rebuild the tree with libxl-patch/build.sh"
fi
for t in npm node sha256sum ldd flock; do
  command -v "$t" >/dev/null || die "'$t' is missing"
done

# --- The project must be built ------------------------------------------------
dist=$repo/plugin/dist
for f in cli/main.js daemon/main.js; do
  [ -f "$dist/$f" ] || die "$dist/$f is missing: build the project first (make build)"
done
newer=$(find "$repo/plugin/src" -newer "$dist/daemon/main.js" -name '*.ts' -print -quit)
[ -z "$newer" ] || die "plugin/dist is older than $newer: rebuild (make build-ts)"
ls "$repo"/datapath/build/*.bpf.o >/dev/null 2>&1 || die "datapath/build/*.bpf.o missing: build them (make -C datapath)"
libbpf=/usr/lib/x86_64-linux-gnu/libbpf.so.1
[ -e "$libbpf" ] || die "$libbpf is missing: apt-get install libbpf1"

mkdir -p "$cache"
exec 9>"$cache/build.lock"
flock 9

# --- Key -----------------------------------------------------------------------
# npm pack's tarball is reproducible (fixed mtimes), so its checksum covers
# every file the package ships.
pack_sum=$(cd "$repo" && npm pack --dry-run --json 2>/dev/null | node -e '
  let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => process.stdout.write(JSON.parse(s)[0].shasum));') \
  || die "npm pack --dry-run failed in $repo"
mapfile -t libs < <(ldd "$libbpf" | awk '/=> \//{print $3}' | sort -u; echo "$libbpf")
# The libraries the native addons link, as the repo's copy of them resolves.
mapfile -t key_libs < <(find "$repo/node_modules" -name '*.node' -exec ldd {} + 2>/dev/null | awk '/=> \//{print $3}' | sort -u)
key_text=$(
  echo "package $pack_sum"
  echo "lock $(sha256sum <"$repo/package-lock.json" | cut -c1-16)"
  echo "script $(sha256sum <"$0" | cut -c1-16)"
  echo "node $(node -v)"
  for l in "${libs[@]}" "${key_libs[@]}"; do echo "lib $l $(stat -L -c '%s %Y' "$l")"; done
  [ -z "$xl_tree" ] || echo "xl $xl_mode $(sha256sum <"$xl_tree/../MANIFEST" | cut -c1-16)"
)
hash=$(printf '%s\n' "$key_text" | sha256sum | cut -c1-16)
out=$cache/$hash
root=$out/root

if [ "$force" = 0 ] && [ -f "$out/BUILD_OK" ]; then
  log "overlay up to date in $root"
  echo "XLNET_OVERLAY=$root"
  echo "XLNET_OVERLAY_NOTES=$out/notes.txt"
  echo "XLNET_OVERLAY_ADAPTATIONS=$out/adaptations.txt"
  echo "XLNET_OVERLAY_BUILD=cached"
  exit 0
fi

log "building the xlnet overlay in $out"
rm -rf "$out"
mkdir -p "$out/pack" "$root"
notes=$out/notes.txt
: >"$notes"
note() { log "WORKAROUND: $*"; echo "$*" >>"$notes"; }

# --- The release tarball, installed as on a host -----------------------------------
(cd "$repo" && npm pack --silent --pack-destination "$out/pack" >/dev/null) || die "npm pack failed"
tgz=$(ls "$out"/pack/xlnet-*.tgz)
# --prefer-offline: the dependencies come from npm's cache when `npm ci` filled it.
npm install -g --prefix "$root/usr" --omit=dev --no-audit --no-fund --prefer-offline "$tgz" >&2 \
  || die "npm install -g of $tgz failed (is the npm registry or npm's cache reachable?)"
pkg=$root/usr/lib/node_modules/xlnet
[ -x "$root/usr/bin/xlnet" ] && [ -x "$root/usr/bin/xlnetd" ] || die "npm did not link usr/bin/xlnet and usr/bin/xlnetd"
ls "$pkg"/node_modules/@yuuang/ffi-rs-linux-x64-gnu/*.node >/dev/null 2>&1 \
  || die "ffi-rs's prebuilt binary (@yuuang/ffi-rs-linux-x64-gnu) was not installed"
ls "$pkg"/datapath/build/*.bpf.o >/dev/null 2>&1 || die "the package has no datapath/build/*.bpf.o"
# The tree itself must run (the native addon loads, every import resolves).
"$root/usr/bin/xlnet" --version >&2 || die "the installed xlnet does not run"

# --- xlnet setup, as an admin runs it after the install ---------------------------
# With --root, setup writes every file under the root. The installed commands
# are found on PATH (as /usr/bin/xlnet would be on the host).
PATH="$root/usr/bin:$PATH" "$root/usr/bin/xlnet" setup --yes --root "$root" \
  --mode bridge --bridge xenbr0 --profile default --domain none --method script \
  --keep-configs --no-start >"$out/setup.log" 2>&1 || { cat "$out/setup.log" >&2; die "xlnet setup failed"; }
for f in etc/xen/xlnet.conf etc/xen/scripts/vif-localack etc/xen/scripts/vif-post.d/xlnet.hook; do
  [ -e "$root/$f" ] || { cat "$out/setup.log" >&2; die "xlnet setup did not install /$f"; }
done
# Files setup wrote that name the build directory instead of the image's path.
while read -r f; do
  [ -n "$f" ] || continue
  note "xlnet setup --root wrote the build path $root into /${f#"$root"/}; rewritten to the image's path"
  sed -i "s|$root||g" "$f"
done < <(grep -rl --null-data -e "$root" "$root/etc" "$root/usr/local" "$root/var/lib/xlnet" 2>/dev/null | tr '\0' '\n' || true)
if [ ! -e "$root/etc/xen/scripts/vif-localack-route" ]; then
  note "the npm package has no hotplug-scripts/vif-localack-route (npm pack drops symlinks), so xlnet setup did not install it; linked by hand"
  ln -s vif-localack "$root/etc/xen/scripts/vif-localack-route"
fi

# --- Lab adaptation: time under TCG ---------------------------------------------
# QEMU without KVM runs Dom0 some 30x slower than hardware: `xlnet hotplug`
# (0.2-0.4 s on a host) takes 8-11 s there, past the hook's 10 s budget, and
# the hook would give up on a working xlnet. The budget is scaled to 30 s
# (libxl's own limit for the whole script is 40 s). Listed in adaptations.txt.
hook=$root/etc/xen/scripts/vif-post.d/xlnet.hook
grep -q '^xlnet_hook_timeout=10$' "$hook" || die "$hook has no 'xlnet_hook_timeout=10' line any more: update build-overlay.sh's TCG adaptation"
sed -i 's/^xlnet_hook_timeout=10$/xlnet_hook_timeout=30/' "$hook"
echo "xlnet.hook: xlnet_hook_timeout 10 -> 30 s (TCG Dom0 runs node ~30x slower than hardware)" >"$out/adaptations.txt"

# --- Shared libraries: libbpf for the datapath loader (ffi), and whatever the
# package's native addons (ffi-rs) link (librt, ...) that a minimal rootfs
# may lack; a Debian host has them from libc6/libgcc-s1.
mapfile -t addon_libs < <(find "$pkg" -name '*.node' -exec ldd {} + 2>/dev/null | awk '/=> \//{print $3}' | sort -u)
for l in "${libs[@]}" "${addon_libs[@]}"; do
  mkdir -p "$root$(dirname "$l")"
  cp -L "$l" "$root$l"
done
# The rootfs is merged-/usr: /lib is a symlink, so a library path under it
# must be stored under usr/lib.
if [ -d "$root/lib" ]; then
  mkdir -p "$root/usr/lib"
  cp -a "$root/lib/." "$root/usr/lib/"
  rm -rf "$root/lib"
fi

# --- The patched xl/libxl -----------------------------------------------------------
case "$xl_mode" in
  with-patched-xl)
    cp -a "$xl_tree/." "$root/"
    log "merged the patched xl/libxl from $xl_tree" ;;
  patched-xl-beside)
    mkdir -p "$root/opt/xlnet-patched-xl" "$root/usr/sbin"
    cp -a "$xl_tree/." "$root/opt/xlnet-patched-xl/"
    cat >"$root/usr/sbin/xl-patched" <<'EOF'
#!/bin/sh
# libxl-patch's xl with its own libxenlight/libxlutil, beside Debian's xl.
# Both toolstacks share xenstore and the hypervisor; use one per domain.
lib=/opt/xlnet-patched-xl/usr/lib/x86_64-linux-gnu
LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} exec /opt/xlnet-patched-xl/usr/lib/xen-4.17/bin/xl "$@"
EOF
    chmod 0755 "$root/usr/sbin/xl-patched"
    log "patched xl beside the stock one: /usr/sbin/xl-patched" ;;
esac

for d in bin sbin lib lib64; do
  [ ! -e "$root/$d" ] || die "internal: the overlay has a top-level $d (the rootfs is merged-/usr)"
done
printf '%s\n' "$key_text" >"$out/inputs.txt"
rm -rf "$out/pack"
touch "$out/BUILD_OK"
"$here/../tools/prune-builds.sh" "$cache" "$hash" 2
log "done: $(du -sh "$root" | cut -f1) in $root ($(wc -l <"$notes") workaround(s))"
echo "XLNET_OVERLAY=$root"
echo "XLNET_OVERLAY_NOTES=$notes"
echo "XLNET_OVERLAY_ADAPTATIONS=$out/adaptations.txt"
echo "XLNET_OVERLAY_BUILD=built"
