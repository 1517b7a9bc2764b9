#!/bin/bash
# basic: the lab's own health check, no xlnet involved.
# A PV guest on xenbr0 (vif-bridge), its vif's hotplug, guest -> Dom0 ping,
# the remote host behind a long rate-limited path (netem), xl list,
# network-attach/detach of a second vif, xl destroy and the backend cleanup.
. /usr/share/xlab/xlab.sh

guest=g1
guest_ip=10.88.0.11
delay=50ms        # each way: RTT >= 100 ms
rate=10mbit
blob_kib=4096     # served by the remote: at 10 Mbit/s >= 3.4 s, long past slow start

# --- Dom0 has what xlnet needs at run time -----------------------------------------
nodev=$(node -e 'process.stdout.write(process.version)' 2>&1)
if [[ "$nodev" == v* ]] && nft add table inet xlab_probe && nft delete table inet xlab_probe; then
  xlab_result dom0-tools 1 "node $nodev, nft $(nft --version | awk '{print $2}') with nf_tables loaded on demand"
else
  xlab_result dom0-tools 0 "node: '$nodev'; nft add/delete table failed (nf_tables module?)"
fi

# --- The remote host: netns behind netem ------------------------------------------
if xlab_remote_up --delay "$delay" --rate "$rate"; then
  xlab_result remote-netem 1 "$(tc qdisc show dev xxl-wan0 | head -n1)"
else
  xlab_result remote-netem 0 "tc qdisc add ... netem delay $delay rate $rate failed: $(tc qdisc show dev xxl-wan0 2>&1)"
fi
mkdir -p /tmp/www && dd if=/dev/zero of=/tmp/www/blob bs=1024 count=$blob_kib 2>/dev/null
xlab_remote httpd -p 8080 -h /tmp/www

# Dom0 -> remote: RTT and download rate over the shaped veth.
rtt=$(ping -c 3 -q "$XLAB_REMOTE_IP" | awk -F/ '/round-trip|rtt/{print $4}')
if awk -v r="${rtt:-0}" 'BEGIN{exit !(r >= 100 && r < 1000)}'; then
  xlab_result dom0-remote-rtt 1 "avg RTT ${rtt} ms (netem ${delay} each way)"
else
  xlab_result dom0-remote-rtt 0 "avg RTT '${rtt}' ms, expected 100..1000 ms with netem ${delay} each way"
fi
# Download time in seconds of the remote's blob from Dom0 (empty on failure).
dom0_fetch() {
  local t0=$EPOCHREALTIME
  wget -q -O /dev/null "http://$XLAB_REMOTE_IP:8080/blob" || return 1
  awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.3f", b - a}'
}
mbit_of() { awk -v s="$1" -v k=$blob_kib 'BEGIN{printf "%.2f", k*1024*8/s/1e6}'; }
# The rate limit must be what bounds the transfer: the same download with
# netem's rate removed (delay kept) has to be clearly faster.
# (netem keeps the old rate on `change` without one: delete and add instead.)
wan_qdiscs() {
  tc qdisc del dev xxl-wan0 root; xlab_remote tc qdisc del dev eth0 root
  tc qdisc add dev xxl-wan0 root netem delay "$delay" "$@" limit 10000
  xlab_remote tc qdisc add dev eth0 root netem delay "$delay" "$@" limit 10000
}
if shaped=$(dom0_fetch); then
  wan_qdiscs
  unshaped=$(dom0_fetch) || unshaped=""
  wan_qdiscs rate "$rate"
  if [ -n "$unshaped" ]; then without="$(mbit_of "$unshaped") Mbit/s"; else without="failed"; fi
  awk -v s="$shaped" -v u="${unshaped:-0}" -v k=$blob_kib \
    'BEGIN{m = k*1024*8/s/1e6; exit !(m <= 10.5 && u > 0 && u * 1.3 < s)}'
  xlab_result dom0-remote-rate $((1 - $?)) "${blob_kib} KiB at $(mbit_of "$shaped") Mbit/s with netem rate $rate; without the rate (delay kept): $without"
else
  xlab_result dom0-remote-rate 0 "wget from the remote failed"
fi

# --- A PV guest on the bridge ---------------------------------------------------------
cat >/tmp/$guest.sh <<EOF
ping -c 3 -W 5 $XLAB_DOM0_IP >/tmp/p0 2>&1 && echo "GUEST ping-dom0 ok" || { cat /tmp/p0; echo "GUEST ping-dom0 failed"; }
ping -c 3 -W 5 $XLAB_REMOTE_IP | awk -F/ '/round-trip/{print "GUEST remote-rtt " \$4}'
t0=\$(cut -d' ' -f1 /proc/uptime)
if wget -q -O /dev/null http://$XLAB_REMOTE_IP:8080/blob; then
  t1=\$(cut -d' ' -f1 /proc/uptime)
  echo "GUEST remote-download \$t0 \$t1"
else
  echo "GUEST remote-download failed"
fi
EOF
t_create=$EPOCHREALTIME
xlab_check guest-create "xl create of a PV guest with vif bridge=xenbr0" -- \
  xlab_guest_create $guest --ip $guest_ip/24 --script /tmp/$guest.sh --stay
domid=$(xl domid $guest 2>/dev/null)

if xlab_vif_wait "$domid" 0 60; then
  xlab_result vif-hotplug 1 "vif$domid.0 hotplug-status=connected after $(awk -v a="$t_create" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}') s"
else
  xlab_result vif-hotplug 0 "backend/vif/$domid/0 hotplug-status='$(xenstore-read "$(xlab_vif_path "$domid" 0)/hotplug-status" 2>&1)'"
fi
master=$(basename "$(readlink /sys/class/net/vif$domid.0/master 2>/dev/null)" 2>/dev/null)
[ "$master" = xenbr0 ]; xlab_result vif-on-bridge $((1 - $?)) "vif$domid.0 master='$master'"

# The guest runs its script once its network is up and prints to its console.
xlab_console_wait $guest 'XLAB-GUEST-END' 180
console=$(xlab_console $guest)
grep -q 'GUEST ping-dom0 ok' "$console"; xlab_result guest-ping-dom0 $((1 - $?)) \
  "$(grep -m1 'GUEST ping-dom0' "$console" || echo 'no result on the guest console')"
grtt=$(awk '/GUEST remote-rtt/{print $3}' "$console" | tr -d '\r')
awk -v r="${grtt:-0}" 'BEGIN{exit !(r >= 100 && r < 1000)}'; xlab_result guest-remote-rtt $((1 - $?)) \
  "guest -> remote avg RTT '${grtt}' ms through Dom0 (expected 100..1000)"
set -- $(awk '/GUEST remote-download/{print $3, $4}' "$console" | tr -d '\r')
if [ $# -eq 2 ]; then
  gmbit=$(awk -v a="$1" -v b="$2" -v k=$blob_kib 'BEGIN{ if (b <= a) b = a + 0.01; printf "%.2f", k*1024*8/(b-a)/1e6}')
  awk -v m="$gmbit" 'BEGIN{exit !(m <= 10.5)}'; xlab_result guest-remote-rate $((1 - $?)) \
    "guest downloaded ${blob_kib} KiB from the remote at ${gmbit} Mbit/s (netem rate $rate)"
else
  xlab_result guest-remote-rate 0 "guest download failed: $(grep -m1 'GUEST remote-download' "$console")"
fi

state=$(xl list $guest 2>/dev/null | awk 'NR==2{print $5}')
case "$state" in r*|-b*) ok=1 ;; *) ok=0 ;; esac
xlab_result xl-list $ok "xl list $guest: id $domid state '$state'"

# --- A second vif: network-attach / network-detach ---------------------------------
xlab_check network-attach "xl network-attach $guest bridge=xenbr0" -- xl network-attach $guest bridge=xenbr0
p1=$(xlab_vif_path "$domid" 1)
if xlab_vif_wait "$domid" 1 60 && xlab_wait 60 sh -c "[ \"\$(xenstore-read $p1/state)\" = 4 ]"; then
  xlab_result vif2-connected 1 "vif$domid.1: hotplug-status=connected, backend state 4 (Connected)"
else
  xlab_result vif2-connected 0 "vif$domid.1: hotplug-status='$(xenstore-read $p1/hotplug-status 2>&1)' state='$(xenstore-read $p1/state 2>&1)'"
fi
xlab_check network-detach "xl network-detach $guest 1" -- xl network-detach $guest 1
if xlab_wait 60 sh -c "! xenstore-exists $p1 && [ ! -e /sys/class/net/vif$domid.1 ]"; then
  xlab_result vif2-removed 1 "backend/vif/$domid/1 and vif$domid.1 are gone"
else
  xlab_result vif2-removed 0 "after detach: $(xenstore-ls $p1 2>&1 | head -n 5)"
fi

# --- Destroy: the domain and every vif backend disappear ------------------------------
xlab_check xl-destroy "xl destroy $guest" -- xl destroy $guest
if xlab_wait 60 sh -c "! xl domid $guest && ! xenstore-exists /local/domain/0/backend/vif/$domid && ! xenstore-exists /libxl/$domid && [ ! -e /sys/class/net/vif$domid.0 ]"; then
  xlab_result backends-gone 1 "domain $domid, backend/vif/$domid, /libxl/$domid and vif$domid.0 are gone"
else
  xlab_result backends-gone 0 "left over: $(xenstore-ls /local/domain/0/backend/vif 2>&1 | head -n 5) $(ls /sys/class/net | tr '\n' ' ')"
fi

xlab_dump guest-$guest "$console"
xlab_dump xen-hotplug /var/log/xen/xen-hotplug.log
xlab_dump messages /var/log/messages
