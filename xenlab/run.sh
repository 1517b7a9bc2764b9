#!/bin/bash
# Boots Xen 4.17 + a Debian Dom0 under QEMU (TCG, no KVM), runs a scenario
# script in Dom0 and reports its results.
#
#   xenlab/run.sh --scenario FILE [--overlay DIR] [--timeout SEC] [--keep-logs DIR]
#
#   --scenario FILE   bash script run as root in Dom0 (see scenarios/basic.sh)
#   --overlay DIR     copied over the Dom0 rootfs (e.g. usr/lib/xlnet, etc/xen/...)
#   --timeout SEC     whole run, boot included (default 900); the scenario
#                     itself is stopped in Dom0 a little before that
#   --boot-timeout SEC  until Dom0 reports XLAB-BOOTED (default 300)
#   --keep-logs DIR   keep serial.log and every file the scenario dumped there
#
# Output: the scenario's `XLAB-RESULT ...` lines, `XLAB-TIMING ...`, then
# `xenlab: N checks passed, M failed`. Exit 0 when every check passed; 1 when
# a check failed; 2 when the boot or the scenario hung, crashed or printed no
# result; 3 on bad usage or a failed image build. On failure the relevant
# excerpt of the serial log is printed.
# Only one lab runs at a time on a machine (a lock); QEMU is stopped by its
# PID and the temporary files are removed whatever happens.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
scenario="" overlay="" timeout=900 boot_timeout=300 keep=""
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "xenlab: $*" >&2; exit 3; }
while [ $# -gt 0 ]; do
  case "$1" in
    --scenario) scenario=${2:-}; shift 2 || die "--scenario needs a file" ;;
    --overlay) overlay=${2:-}; shift 2 || die "--overlay needs a directory" ;;
    --timeout) timeout=${2:-}; shift 2 || die "--timeout needs seconds" ;;
    --keep-logs) keep=${2:-}; shift 2 || die "--keep-logs needs a directory" ;;
    --boot-timeout) boot_timeout=${2:-}; shift 2 || die "--boot-timeout needs seconds" ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[ -n "$scenario" ] || { usage >&2; die "--scenario FILE is required"; }
[ -f "$scenario" ] || die "scenario '$scenario' does not exist"
[[ "$timeout" =~ ^[0-9]+$ ]] && [ "$timeout" -ge 60 ] || die "--timeout must be a number of seconds >= 60"
[[ "$boot_timeout" =~ ^[0-9]+$ ]] && [ "$boot_timeout" -ge 30 ] || die "--boot-timeout must be a number of seconds >= 30"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is missing: apt-get install qemu-system-x86"

cache=${XLNET_XENLAB_CACHE:-${XLNET_CACHE:-/var/cache/xlnet}/xenlab}
mkdir -p "$cache"

tmp="" qpid=""
cleanup() {
  if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
    kill -TERM "$qpid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qpid" 2>/dev/null || break; sleep 0.3; done
    kill -KILL "$qpid" 2>/dev/null || true
    wait "$qpid" 2>/dev/null || true
  fi
  [ -z "$tmp" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

t_start=$(date +%s.%N)
build_out=$("$here/build-images.sh" ${overlay:+--overlay "$overlay"}) || die "image build failed (see above)"
images=$(sed -n 's/^XENLAB_IMAGES=//p' <<<"$build_out")
overlay_cpio=$(sed -n 's/^XENLAB_OVERLAY=//p' <<<"$build_out")
build_kind=$(sed -n 's/^XENLAB_BUILD=//p' <<<"$build_out")
t_built=$(date +%s.%N)

# One QEMU at a time: it takes both cores of the machine.
exec 8>"$cache/qemu.lock"
if ! flock -n 8; then
  echo "xenlab: another lab run holds $cache/qemu.lock, waiting" >&2
  flock 8
fi

t_locked=$(date +%s.%N)
tmp=$(mktemp -d /tmp/xenlab.XXXXXX)
serial="$tmp/serial.log"
# The lab's scripts, the scenario and its time budget ride in one more
# initramfs archive (cheap to make, so they need no image rebuild).
mkdir -p "$tmp/extra/xlab" "$tmp/extra/usr/share/xlab"
install -m 0755 "$here/dom0/init" "$tmp/extra/init"
install -m 0644 "$here/dom0/xlab.sh" "$tmp/extra/usr/share/xlab/xlab.sh"
install -m 0755 "$here/domu/init" "$tmp/extra/usr/share/xlab/domu-init"
cp "$scenario" "$tmp/extra/xlab/scenario.sh"
echo $(( timeout > 120 ? timeout - 60 : timeout - 30 )) >"$tmp/extra/xlab/timeout"
(cd "$tmp/extra" && find . -mindepth 1 | busybox cpio -o -H newc -R 0:0 2>/dev/null | gzip) >"$tmp/extra.cpio.gz"
cat "$images/dom0-rootfs.cpio.gz" ${overlay_cpio:+"$overlay_cpio"} "$tmp/extra.cpio.gz" >"$tmp/dom0.cpio.gz"

# QEMU's multiboot loader: -initrd lists modules "path cmdline" separated by
# commas; Xen takes the first as Dom0's kernel and the second as its initrd.
# -nic none: the lab has no network to the outside at all.
touch "$serial"
t_qemu=$(date +%s.%N)
qemu-system-x86_64 -machine q35 -accel tcg -cpu qemu64,+svm -smp 2 -m 3G \
  -display none -monitor none -nic none -serial "file:$serial" -no-reboot \
  -kernel "$images/xen.elf" \
  -append "console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all console_timestamps=boot dom0_mem=1024M,max:1024M dom0_max_vcpus=2 noreboot" \
  -initrd "$images/vmlinuz console=hvc0 earlyprintk=xen rdinit=/init,$tmp/dom0.cpio.gz" \
  </dev/null >"$tmp/qemu.out" 2>&1 &
qpid=$!
echo "xenlab: QEMU pid $qpid, work dir $tmp" >&2

# Follow the serial log until the scenario is done, QEMU ends, or time is up.
state=timeout t_booted="" t_done=""
deadline=$(( $(date +%s) + timeout ))
boot_deadline=$(( $(date +%s) + boot_timeout ))
while [ "$(date +%s)" -lt "$deadline" ]; do
  if [ -z "$t_booted" ]; then
    if grep -aq '^XLAB-BOOTED' "$serial"; then t_booted=$(date +%s.%N)
    elif [ "$(date +%s)" -ge "$boot_deadline" ]; then state=boot-timeout; break; fi
  fi
  if grep -aq '^XLAB-DONE' "$serial"; then state=done; t_done=$(date +%s.%N); break; fi
  # Only Xen's own lines: a guest's panic dumped by the scenario is no lab crash.
  if grep -aqE '^\(XEN\) .*(Hardware Dom0 crashed|Panic on CPU|FATAL TRAP|Reboot in)' "$serial"; then state=crash; sleep 2; break; fi
  if ! kill -0 "$qpid" 2>/dev/null; then state=exited; break; fi
  sleep 0.5
done
# Dom0 powers off after XLAB-DONE; give it a moment, cleanup() kills QEMU otherwise.
if [ "$state" = done ]; then
  for _ in $(seq 1 30); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.5; done
fi
t_end=$(date +%s.%N)

clean="$tmp/serial.txt"
tr -d '\r' <"$serial" >"$clean"

if [ -n "$keep" ]; then
  mkdir -p "$keep"
  cp "$clean" "$keep/serial.log"
  cp "$tmp/qemu.out" "$keep/qemu.out"
  # Every file the scenario dumped between XLAB-FILE markers.
  awk -v dir="$keep" '
    /^XLAB-FILE-BEGIN name=/ { f = dir "/" substr($2, 6) ".log"; printf "" > f; next }
    /^XLAB-FILE-END name=/ { if (f) close(f); f = ""; next }
    f { print >> f }' "$clean"
fi

secs() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "-"; else printf "%.1f", b - a }'; }
results=$(grep -a '^XLAB-RESULT ' "$clean" || true)
[ -z "$results" ] || printf '%s\n' "$results"
echo "XLAB-TIMING build=$(secs "$t_start" "$t_built")s build_kind=${build_kind:-?} lock_wait=$(secs "$t_built" "$t_locked")s boot=$(secs "$t_qemu" "$t_booted")s scenario=$(secs "$t_booted" "$t_done")s total=$(secs "$t_start" "$t_end")s"
passed=$(grep -c ' ok=1 ' <<<"$results" || true)
failed=$(grep -c ' ok=0 ' <<<"$results" || true)
echo "xenlab: $passed checks passed, $failed failed"

excerpt() {  # the scenario's console part, or the end of the log
  echo "----- serial log excerpt ($1) -----"
  if grep -aq '^XLAB-BOOTED' "$clean"; then
    sed -n '/^XLAB-BOOTED/,$p' "$clean" | grep -av -e '^XLAB-FILE-' | tail -n "${2:-80}"
  else
    tail -n "${2:-80}" "$clean"
  fi
  echo "----- end of excerpt (full log: ${keep:-use --keep-logs DIR}) -----"
}

case "$state" in
  done)
    rc=$(sed -n 's/^XLAB-DONE rc=\([0-9]*\).*/\1/p' "$clean" | head -n1)
    if [ "$failed" -gt 0 ]; then excerpt "checks failed" 120 >&2; exit 1; fi
    if [ "$passed" -eq 0 ]; then excerpt "the scenario printed no XLAB-RESULT" >&2; exit 2; fi
    if [ "${rc:-1}" != 0 ]; then excerpt "the scenario exited with status $rc" >&2; exit 2; fi
    exit 0 ;;
  timeout) excerpt "no XLAB-DONE within ${timeout}s: the scenario hung" >&2; exit 2 ;;
  boot-timeout) excerpt "Dom0 did not report XLAB-BOOTED within ${boot_timeout}s: the boot hung" >&2; exit 2 ;;
  crash) excerpt "Xen or Dom0 crashed" >&2; exit 2 ;;
  exited) echo "xenlab: QEMU exited early: $(tail -n 5 "$tmp/qemu.out")" >&2; excerpt "QEMU exited before XLAB-DONE" >&2; exit 2 ;;
esac
