#!/bin/bash
# Boots a kernel image in qemu (KVM if available) with a tiny initramfs and
# checks that the built BPF objects pass that kernel's verifier and attach to
# a cgroup: the way to prove the datapath on Debian 12's 6.1 from a newer host.
#   datapath/check-kernel.sh /boot/vmlinuz-6.1.0-NN-amd64
# Needs: qemu-system-x86, busybox-static, bpftool. Prints CHECK-OK or CHECK-FAIL.
set -euo pipefail
KERNEL=${1:?usage: $0 KERNEL_IMAGE}
HERE=$(cd "$(dirname "$0")" && pwd)
make -s -C "$HERE"
WORK=$(mktemp -d /tmp/xdp-kcheck.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,obj,proc,sys,lib64,lib/x86_64-linux-gnu}
cp /bin/busybox "$ROOT/bin/busybox"
cp /usr/sbin/bpftool "$ROOT/bin/bpftool"
for lib in $(ldd /usr/sbin/bpftool | grep -o '/[^ ]*'); do cp "$lib" "$ROOT$lib"; done
cp "$HERE"/build/*.bpf.o "$ROOT/obj/"
cat > "$ROOT/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys
mount -t bpf bpf /sys/fs/bpf
mkdir -p /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup
mkdir /sys/fs/cgroup/xlnetd
echo "kernel $(uname -r)"
ok=1
for o in /obj/*.bpf.o; do
  n=$(basename "$o" .bpf.o)
  if bpftool prog loadall "$o" "/sys/fs/bpf/$n" pinmaps "/sys/fs/bpf/maps_$n"; then echo "LOAD-OK $n"; else echo "LOAD-FAIL $n"; ok=0; fi
done
attach() { # object program attach-type
  if bpftool cgroup attach /sys/fs/cgroup/xlnetd "$3" pinned "/sys/fs/bpf/$1/$2" multi; then echo "ATTACH-OK $2 $3"; else echo "ATTACH-FAIL $2 $3"; ok=0; fi
}
attach wan_tune xlnet_wan_tune sock_ops
attach counters xlnet_flow_events sock_ops
attach counters xlnet_count_egress egress
attach counters xlnet_count_ingress ingress
attach relay xlnet_relay_splice sock_ops
# The relay's verdict attaches to its sockhash, not to the cgroup.
if bpftool prog attach pinned /sys/fs/bpf/relay/xlnet_relay_verdict stream_verdict pinned /sys/fs/bpf/maps_relay/xlnet_relay_sources; then
  echo "ATTACH-OK xlnet_relay_verdict stream_verdict"; else echo "ATTACH-FAIL xlnet_relay_verdict stream_verdict"; ok=0; fi
bpftool cgroup show /sys/fs/cgroup/xlnetd
bpftool map show | grep -o 'name xlnet_[a-z_]*  flags 0x[0-9a-f]*'
if [ $ok = 1 ]; then echo CHECK-OK; else echo CHECK-FAIL; fi
poweroff -f
INIT
chmod +x "$ROOT/init"
(cd "$ROOT" && find . | busybox cpio -o -H newc 2>/dev/null | gzip) > "$WORK/initrd.gz"
# TCG by default: KVM inside the nested VM this was written on fails on MSRs.
# ACCEL=kvm uses KVM where it works.
ACCEL=${ACCEL:-tcg}
CPU=max; [ "$ACCEL" = kvm ] && CPU=host
timeout "${TIMEOUT:-300}" qemu-system-x86_64 -machine accel="$ACCEL" -cpu "$CPU" -m 512 -smp 1 -nographic -no-reboot \
  -kernel "$KERNEL" -initrd "$WORK/initrd.gz" -append "console=ttyS0 quiet panic=-1" \
  | tr -d '\r' | tee "$WORK/log" | grep -E 'kernel |OK|FAIL|sock_ops|egress|ingress|stream_verdict|name xlnet|libbpf|error' || true
grep -q CHECK-OK "$WORK/log"
