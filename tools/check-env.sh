#!/usr/bin/env bash
# Says clearly what is missing before the lab or the tests would fail obscurely.
set -uo pipefail
fail=0
bad() { echo "xlnet: $*" >&2; fail=1; }
[ "$(uname -s)" = Linux ] || bad "needs Linux (found $(uname -s))"
[ "$(id -u)" = 0 ] || bad "needs root: the lab creates network namespaces, nftables tables and BPF programs"
if [ "$fail" = 0 ]; then
  ip netns add xlnet-envcheck 2>/dev/null || bad "cannot create network namespaces (ip netns add failed): run on a host or a privileged container"
  if ip netns list | grep -q '^xlnet-envcheck'; then
    ip netns exec xlnet-envcheck nft -f - <<'NFT' 2>/dev/null || bad "nftables with tproxy/fib expressions is missing in this kernel (needs nf_tables, nft_tproxy, nft_fib_inet)"
table inet envcheck {
  chain p {
    type filter hook prerouting priority mangle;
    meta l4proto tcp fib saddr . iif oif exists meta mark set 1
    meta l4proto tcp tproxy ip to 127.0.0.1:1 meta mark set 1 accept
  }
}
NFT
    ip netns exec xlnet-envcheck ip link add xlnet-vt0 type veth peer name xlnet-vt1 2>/dev/null || bad "the kernel has no veth support"
    ip netns exec xlnet-envcheck ip link add xlnet-br0 type bridge 2>/dev/null || bad "the kernel has no bridge support"
    ip netns del xlnet-envcheck
  fi
  [ -e /sys/fs/bpf ] || bad "no /sys/fs/bpf: the kernel lacks BPF or bpffs"
fi
node -e 'const [a]=process.versions.node.split(".").map(Number); process.exit(a>=20?0:1)' 2>/dev/null \
  || bad "needs Node.js >= 20 (found $(node --version 2>/dev/null || echo none))"
exit $fail
