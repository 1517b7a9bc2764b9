#!/bin/bash
# Builds the Xen lab's boot images from Debian packages, cached by a hash of
# every input (package versions, host files copied, the lab's own files).
#
#   xenlab/build-images.sh [--overlay DIR] [--force]
#
# Prints on stdout, one per line (logs go to stderr):
#   XENLAB_IMAGES=<dir>     holding xen.elf, vmlinuz, dom0-rootfs.cpio.gz,
#                           domu-initrd.cpio.gz, inputs.txt (the rootfs have
#                           no /init yet: run.sh adds the lab's scripts)
#   XENLAB_OVERLAY=<file>   (with --overlay) a cpio.gz of DIR; appended after
#                           dom0-rootfs.cpio.gz it is copied over the rootfs
#                           (Linux unpacks concatenated initramfs archives in
#                           order, later files replace earlier ones)
#   XENLAB_BUILD=cached|built
#
# Cache: ${XLNET_XENLAB_CACHE:-${XLNET_CACHE:-/var/cache/xlnet}/xenlab}/<hash>/ ; downloaded
# debs are kept in <cache>/debs/. The hypervisor and kernel packages are only
# downloaded and unpacked there (apt-get download + dpkg-deb -x), never
# installed: the host's boot is not touched.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${XLNET_XENLAB_CACHE:-${XLNET_CACHE:-/var/cache/xlnet}/xenlab}
overlay=""
force=0

die() { echo "build-images: $*" >&2; exit 1; }
log() { echo "build-images: $*" >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --overlay) [ $# -ge 2 ] || die "--overlay needs a directory"; overlay=$2; shift 2 ;;
    --force) force=1; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[ -z "$overlay" ] || [ -d "$overlay" ] || die "overlay '$overlay' is not a directory"
# The rootfs is merged-/usr: /bin, /sbin, /lib, /lib64 are symlinks, and an
# archive entry for a real directory there would replace the symlink.
for d in bin sbin lib lib64; do
  if [ -n "$overlay" ] && [ -e "$overlay/$d" ] && [ ! -L "$overlay/$d" ]; then
    die "overlay '$overlay' has a top-level $d/: put it under usr/$d/ (the rootfs is merged-/usr)"
  fi
done

for t in apt-get apt-cache dpkg-deb busybox ldd gzip sha256sum flock; do
  command -v "$t" >/dev/null || die "'$t' is missing: install the packages in xenlab/apt-packages.txt"
done

mkdir -p "$cache/debs"
# One builder at a time per cache: a second caller waits, then finds the result.
exec 9>"$cache/build.lock"
flock 9

# --- Inputs -----------------------------------------------------------------

# The kernel: whatever linux-image-amd64 (the metapackage) points at today.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$kpkg" ] || die "apt does not know linux-image-amd64: run 'apt-get update'"
xpkg=xen-hypervisor-4.17-amd64
# One apt-cache call for both (each call costs about a second).
candidates=$(apt-cache policy "$kpkg" "$xpkg" | awk '/^[^ ]/{p=$1; sub(/:$/, "", p)} /Candidate:/{print p, $2}')
candidate() { awk -v p="$1" '$1 == p {print $2}' <<<"$candidates"; }
kver_pkg=$(candidate "$kpkg"); xver_pkg=$(candidate "$xpkg")
[ -n "$kver_pkg" ] && [ "$kver_pkg" != "(none)" ] || die "no candidate for $kpkg"
[ -n "$xver_pkg" ] && [ "$xver_pkg" != "(none)" ] || die "no candidate for $xpkg (Debian 12 main has it)"
kver=${kpkg#linux-image-}   # e.g. 6.1.0-56-amd64: the modules directory name

# Host files to copy, read from dom0/tools.txt.
tools=()
while read -r line; do
  line=${line%%#*}; line=${line//[[:space:]]/}
  [ -n "$line" ] || continue
  if [ "${line:0:1}" = "?" ]; then
    [ -x "${line:1}" ] && tools+=("${line:1}")
  else
    [ -x "$line" ] || die "'$line' (xenlab/dom0/tools.txt) is missing: install the packages in xenlab/apt-packages.txt"
    tools+=("$line")
  fi
done <"$here/dom0/tools.txt"
[ -x /usr/bin/busybox ] || die "busybox-static is not installed"

# Every shared library a tool needs, as ldd resolves it on this host.
# libgcc_s is dlopen()ed by glibc for pthread_cancel (xl needs it, ldd does
# not show it).
libs_of() {
  ldd "$@" 2>/dev/null | awk '/=> \//{print $3} /^\t\/.*ld-linux/{print $1}' | sort -u
}
mapfile -t libs < <( { libs_of "${tools[@]}"; echo /lib/x86_64-linux-gnu/libgcc_s.so.1; } | sort -u)

# Files of the lab that shape the images. The lab's scripts (dom0/init,
# dom0/xlab.sh, domu/init) are not baked in: run.sh appends them to every
# boot, so changing them costs no rebuild.
lab_files=("$here/build-images.sh" "$here/dom0/tools.txt" "$here/dom0/modules.txt")

inputs() {
  echo "kernel $kpkg $kver_pkg"
  echo "hypervisor $xpkg $xver_pkg"
  echo "busybox $(stat -L -c '%s %Y' /usr/bin/busybox)"
  local f
  for f in "${tools[@]}" "${libs[@]}"; do echo "host $f $(stat -L -c '%s %Y' "$f")"; done
  for f in /etc/xen/scripts/* /etc/xen/xl.conf; do echo "host $f $(stat -L -c '%s %Y' "$f")"; done
  for f in "${lab_files[@]}"; do echo "lab ${f#"$here"/} $(sha256sum <"$f" | cut -c1-16)"; done
}
inputs_txt=$(inputs)
hash=$(printf '%s\n' "$inputs_txt" | sha256sum | cut -c1-16)
out="$cache/$hash"

# An overlay is keyed by its own content (paths, modes, bytes).
overlay_cpio() {
  local dir=$1 ohash
  ohash=$( cd "$dir" && find . \( -type f -o -type l -o -type d \) -printf '%p %m %l\n' | LC_ALL=C sort | sha256sum | cut -c1-16
           cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum | cut -c1-16 )
  ohash=$(printf '%s' "$ohash" | sha256sum | cut -c1-16)
  local f="$out/overlay-$ohash.cpio.gz"
  if [ ! -s "$f" ]; then
    (cd "$dir" && find . -mindepth 1 | LC_ALL=C sort | busybox cpio -o -H newc -R 0:0 2>/dev/null | gzip -6) >"$f.tmp"
    mv "$f.tmp" "$f"
    log "overlay $dir -> $f"
  fi
  echo "XENLAB_OVERLAY=$f"
}

if [ "$force" = 0 ] && [ -f "$out/BUILD_OK" ]; then
  log "images up to date in $out"
  echo "XENLAB_IMAGES=$out"
  [ -z "$overlay" ] || overlay_cpio "$overlay"
  echo "XENLAB_BUILD=cached"
  exit 0
fi

# --- Build --------------------------------------------------------------------
log "building images in $out (inputs changed or first build)"
work=$(mktemp -d "$cache/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
rm -rf "$out"; mkdir -p "$out"

# Download (not install) the hypervisor and the kernel.
fetch() {  # package version -> path of the .deb in the deb cache
  local name=$1 ver=$2 deb
  deb=$(ls "$cache/debs/${name}_${ver//:/%3a}_"*.deb 2>/dev/null | head -n1 || true)
  if [ -z "$deb" ]; then
    log "downloading $name $ver"
    (cd "$cache/debs" && apt-get download -q -o APT::Sandbox::User=root "$name=$ver" >&2) \
      || die "apt-get download $name=$ver failed (is the Debian archive reachable?)"
    deb=$(ls "$cache/debs/${name}_${ver//:/%3a}_"*.deb | head -n1)
  fi
  echo "$deb"
}
kdeb=$(fetch "$kpkg" "$kver_pkg")
xdeb=$(fetch "$xpkg" "$xver_pkg")
dpkg-deb -x "$xdeb" "$work/xen"
dpkg-deb -x "$kdeb" "$work/kernel"
gunzip -c "$work/xen/boot/xen-4.17-amd64.gz" >"$out/xen.elf"
cp "$work/kernel/boot/vmlinuz-$kver" "$out/vmlinuz"
kmods="$work/kernel/lib/modules/$kver"
busybox depmod -b "$work/kernel" "$kver"

# Copies modules named by relative paths plus their dependency closure
# (modules.dep) into rootfs $1, then indexes them for modprobe.
install_modules() {
  local root=$1; shift
  local seeds=() want m
  for want in "$@"; do
    if [ "${want%/}" != "$want" ]; then
      [ -d "$kmods/kernel/$want" ] || die "no module directory kernel/$want in $kpkg"
      while read -r m; do seeds+=("kernel/${m#"$kmods"/kernel/}"); done \
        < <(find "$kmods/kernel/$want" -name '*.ko*')
    else
      [ -f "$kmods/kernel/$want" ] || die "no module kernel/$want in $kpkg"
      seeds+=("kernel/$want")
    fi
  done
  printf '%s\n' "${seeds[@]}" | awk -v dep="$kmods/modules.dep" '
    BEGIN { while ((getline l < dep) > 0) { split(l, a, ":"); deps[a[1]] = a[2] } }
    { want[$1] = 1 }
    END {
      n = 0; for (m in want) queue[n++] = m
      for (i = 0; i < n; i++) { split(deps[queue[i]], d, " ")
        for (j in d) if (!(d[j] in want)) { want[d[j]] = 1; queue[n++] = d[j] } }
      for (m in want) print m
    }' | while read -r m; do
      mkdir -p "$root/lib/modules/$kver/$(dirname "$m")"
      cp "$kmods/$m" "$root/lib/modules/$kver/$m"
    done
  cp "$kmods"/modules.builtin* "$kmods/modules.order" "$root/lib/modules/$kver/"
  busybox depmod -b "$root" "$kver"
}

# A merged-/usr skeleton with busybox applets for everything not copied.
skeleton() {
  local root=$1 a
  mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib/x86_64-linux-gnu,usr/lib64,proc,sys,dev,run,tmp,root,etc,var/log,var/lib,mnt}
  ln -s usr/bin "$root/bin"; ln -s usr/sbin "$root/sbin"
  ln -s usr/lib "$root/lib"; ln -s usr/lib64 "$root/lib64"
  chmod 1777 "$root/tmp"
  cp /usr/bin/busybox "$root/usr/bin/busybox"
  # brctl is left out on purpose: Debian 12 Dom0s have no bridge-utils, and
  # Xen's vif-bridge takes another path when `which brctl` finds it.
  for a in $(busybox --list); do
    case "$a" in busybox|brctl|linuxrc) continue ;; esac
    [ -e "$root/usr/bin/$a" ] || [ -e "$root/usr/sbin/$a" ] || ln -s busybox "$root/usr/bin/$a"
  done
  echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
  echo "root:x:0:" >"$root/etc/group"
  printf '127.0.0.1 localhost\n' >"$root/etc/hosts"
}

# --- DomU initrd: busybox and xen-netfront ----------------------------------
# Its /init (domu/init) and the guest's script are appended per guest in Dom0
# (xlab_guest_create).
du_root="$work/domu"
mkdir -p "$du_root"
skeleton "$du_root"
install_modules "$du_root" drivers/net/xen-netfront.ko
(cd "$du_root" && find . -mindepth 1 | LC_ALL=C sort | busybox cpio -o -H newc -R 0:0 2>/dev/null | gzip -6) >"$out/domu-initrd.cpio.gz"

# --- Dom0 rootfs ----------------------------------------------------------------
d0="$work/dom0"
mkdir -p "$d0"
copy_host() {  # real file content under the same path (symlinks dereferenced)
  mkdir -p "$d0$(dirname "$1")"
  cp -L "$1" "$d0$1"
}
# Real tools go first so busybox applet links do not shadow them.
mkdir -p "$d0"/{usr/bin,usr/sbin,usr/lib/x86_64-linux-gnu,usr/lib64}
ln -s usr/bin "$d0/bin"; ln -s usr/sbin "$d0/sbin"; ln -s usr/lib "$d0/lib"; ln -s usr/lib64 "$d0/lib64"
for f in "${tools[@]}" "${libs[@]}"; do copy_host "$f"; done
rm "$d0/bin" "$d0/sbin" "$d0/lib" "$d0/lib64"
skeleton "$d0"
for a in read write exists list ls rm chmod watch; do ln -s xenstore "$d0/usr/bin/xenstore-$a"; done
for f in /usr/lib/xen-4.17/bin/*; do
  [ -e "$d0$f" ] || continue
  case "$(basename "$f")" in xenstore-control) ;; *) ln -sf "../lib/xen-4.17/bin/$(basename "$f")" "$d0/usr/sbin/$(basename "$f")" ;; esac
done
ln -sf ../lib/xen-4.17/bin/xenstore-control "$d0/usr/bin/xenstore-control"
mkdir -p "$d0/etc/xen" "$d0/etc/iproute2"
cp -a /etc/xen/scripts "$d0/etc/xen/scripts"
cp /etc/xen/xl.conf "$d0/etc/xen/xl.conf"
cp -a /etc/iproute2/. "$d0/etc/iproute2/"
mkdir -p "$d0"/var/{lib/xen,lib/xenstored,log/xen/console,lock} "$d0/etc/xen/auto"
mapfile -t seeds < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$here/dom0/modules.txt" | grep -v '^$')
install_modules "$d0" "${seeds[@]}"
# What guests boot: the same kernel, the DomU initrd.
mkdir -p "$d0/usr/share/xlab"
cp "$out/vmlinuz" "$out/domu-initrd.cpio.gz" "$d0/usr/share/xlab/"
printf '%s\n' "$inputs_txt" >"$d0/usr/share/xlab/inputs.txt"
(cd "$d0" && find . -mindepth 1 | LC_ALL=C sort | busybox cpio -o -H newc -R 0:0 2>/dev/null | gzip -6) >"$out/dom0-rootfs.cpio.gz"

printf '%s\n' "$inputs_txt" >"$out/inputs.txt"
touch "$out/BUILD_OK"
# Keep the two newest builds besides this one; older ones only fill the disk.
"$here/../tools/prune-builds.sh" "$cache" "$hash" 2
log "done: $(du -sh "$out" | cut -f1) in $out"
echo "XENLAB_IMAGES=$out"
[ -z "$overlay" ] || overlay_cpio "$overlay"
echo "XENLAB_BUILD=built"
