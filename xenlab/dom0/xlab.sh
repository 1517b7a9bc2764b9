# Helpers for Xen lab scenarios, run in Dom0 as root (bash). A scenario starts
# with `. /usr/share/xlab/xlab.sh`. Results go to the console, where
# xenlab/run.sh reads them:
#   XLAB-RESULT name=<word> ok=0|1 detail=<rest of line>
#   XLAB-FILE-BEGIN name=<word> ... XLAB-FILE-END name=<word>   (xlab_dump)

XLAB_BRIDGE=xenbr0
XLAB_DOM0_IP=10.88.0.1           # Dom0 on xenbr0; guests use 10.88.0.0/24
XLAB_REMOTE_NS=xxl-remote        # the "remote host": a netns in Dom0
XLAB_WAN_DOM0_IP=10.89.0.1       # Dom0's end of the long path
XLAB_REMOTE_IP=10.89.0.2         # the remote host's address
XLAB_SHARE=/usr/share/xlab
XLAB_GUESTS=/var/lib/xlab/guests
XLAB_CONSOLE_DIR=/var/log/xen/console

xlab_log() { echo "xlab: $*"; }

# xlab_result NAME OK DETAIL... : OK is 1 (passed) or 0 (failed).
xlab_result() {
  local name=$1 ok=$2; shift 2
  local detail
  detail=$(printf '%s' "$*" | tr '\n\r' '  ')
  [ "$ok" = 1 ] || ok=0
  echo "XLAB-RESULT name=$name ok=$ok detail=$detail"
}

# xlab_check NAME DETAIL -- CMD... : passes when CMD exits 0.
xlab_check() {
  local name=$1 detail=$2; shift 2
  [ "$1" = "--" ] && shift
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ $rc -eq 0 ]; then xlab_result "$name" 1 "$detail"
  else xlab_result "$name" 0 "$detail: '$*' exited $rc: $(printf '%s' "$out" | tail -n 3)"; fi
  return $rc
}

# xlab_dump NAME FILE : copies FILE to the console between markers, so the
# runner can save it (--keep-logs) and show it when a check fails.
xlab_dump() {
  echo "XLAB-FILE-BEGIN name=$1"
  if [ -f "$2" ]; then tr -d '\r' <"$2" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g'; else echo "($2 does not exist)"; fi
  echo "XLAB-FILE-END name=$1"
}

# xlab_wait SECONDS CMD... : runs CMD every 0.5 s until it exits 0, for at
# most SECONDS of wall-clock time (a slow CMD, e.g. node under TCG, counts).
xlab_wait() {
  local end=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.5
  done
}

xlab_console() { echo "$XLAB_CONSOLE_DIR/guest-$1.log"; }

# xlab_console_wait NAME PATTERN SECONDS : waits for an extended regexp in the
# guest's console log.
xlab_console_wait() {
  xlab_wait "$3" grep -Eq "$2" "$(xlab_console "$1")"
}

# xlab_guest_create NAME [options] : writes /var/lib/xlab/guests/NAME.cfg and
# runs `xl create`. The guest boots the lab's kernel and DomU initrd.
#   --ip A.B.C.D/N       eth0 address (gateway: $XLAB_GUEST_GW: Dom0, or the
#                        router after xlab_remote_up --on-bridge)
#   --vif SPEC           an xl vif spec; repeat for more vifs
#                        (default: bridge=xenbr0)
#   --script FILE        shell script the guest runs after its network is up
#   --file SRC:DEST      extra file for the guest's initrd (repeatable)
#   --memory MB          (default 128)
#   --stay               keep the guest running after its script
#   --cfg LINE           extra line for the xl config (repeatable)
#   --xl CMD             the toolstack command (default xl; e.g. xl-patched)
xlab_guest_create() {
  local name=$1; shift
  local ip="" script="" memory=128 stay=0 vifs=() files=() cfgs=() v xl=xl
  while [ $# -gt 0 ]; do
    case "$1" in
      --ip) ip=$2; shift 2 ;;
      --vif) vifs+=("$2"); shift 2 ;;
      --script) script=$2; shift 2 ;;
      --file) files+=("$2"); shift 2 ;;
      --memory) memory=$2; shift 2 ;;
      --stay) stay=1; shift ;;
      --cfg) cfgs+=("$2"); shift 2 ;;
      --xl) xl=$2; shift 2 ;;
      *) xlab_log "xlab_guest_create: unknown option '$1'"; return 2 ;;
    esac
  done
  [ ${#vifs[@]} -gt 0 ] || vifs=("bridge=$XLAB_BRIDGE")
  local dir="$XLAB_GUESTS/$name"
  rm -rf "$dir"; mkdir -p "$dir/root/xlab"
  cp "$XLAB_SHARE/domu-init" "$dir/root/init"
  [ -z "$script" ] || cp "$script" "$dir/root/xlab/guest.sh"
  for v in "${files[@]}"; do
    mkdir -p "$dir/root$(dirname "${v#*:}")"
    cp "${v%%:*}" "$dir/root${v#*:}"
  done
  # The guest's own files go in a second archive after the common initrd.
  cp "$XLAB_SHARE/domu-initrd.cpio.gz" "$dir/initrd.gz"
  (cd "$dir/root" && find . -mindepth 1 | cpio -o -H newc 2>/dev/null | gzip) >>"$dir/initrd.gz"
  local extra="console=hvc0 quiet"
  [ -z "$ip" ] || extra="$extra xlab.ip=$ip xlab.gw=$XLAB_GUEST_GW"
  [ $stay = 0 ] || extra="$extra xlab.stay=1"
  {
    echo "name = \"$name\""
    echo "type = \"pv\""
    echo "kernel = \"$XLAB_SHARE/vmlinuz\""
    echo "ramdisk = \"$dir/initrd.gz\""
    echo "extra = \"$extra\""
    echo "memory = $memory"
    echo "vcpus = 1"
    printf 'vif = ['; local sep=""
    for v in "${vifs[@]}"; do printf "%s'%s'" "$sep" "$v"; sep=", "; done
    echo ']'
    echo "on_poweroff = \"destroy\""
    echo "on_crash = \"destroy\""
    for v in "${cfgs[@]}"; do echo "$v"; done
  } >"$dir/$name.cfg"
  "$xl" create "$dir/$name.cfg"
}

# Backend directory of a vif in xenstore.
xlab_vif_path() { echo "/local/domain/0/backend/vif/$1/$2"; }

# xlab_vif_wait DOMID DEVID SECONDS : until the hotplug script reported
# hotplug-status=connected.
xlab_vif_wait() {
  local p; p=$(xlab_vif_path "$1" "$2")
  xlab_wait "$3" sh -c "[ \"\$(xenstore-read $p/hotplug-status 2>/dev/null)\" = connected ]"
}

# xlab_remote_up [--delay D] [--rate R] [--on-bridge] : the remote host, a
# netns over a long, rate-limited path: `tc qdisc ... netem delay D rate R`
# on both ends of the WAN link, so D is added each way. Defaults: 50ms each
# way (100 ms RTT), 10mbit.
#   default      Dom0 routes: guests (gateway Dom0) -> xenbr0 -> Dom0 ->
#                veth xxl-wan0 (Dom0 10.89.0.1) -> remote 10.89.0.2.
#   --on-bridge  as on a host whose NIC is in xenbr0: a router netns
#                (xxl-gw, 10.88.0.254) is a port of xenbr0 and routes to the
#                remote; guests and Dom0 reach the remote through it (guests
#                created afterwards get it as their gateway).
XLAB_GW_NS=xxl-gw
XLAB_GW_IP=10.88.0.254
XLAB_GUEST_GW=$XLAB_DOM0_IP
XLAB_WAN_ENDS=()                 # "netns dev" of both ends of the shaped link
xlab_remote_up() {
  local delay=50ms rate=10mbit bridged=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --delay) delay=$2; shift 2 ;;
      --rate) rate=$2; shift 2 ;;
      --on-bridge) bridged=1; shift ;;
      *) xlab_log "xlab_remote_up: unknown option '$1'"; return 2 ;;
    esac
  done
  ip netns add "$XLAB_REMOTE_NS" || return 1
  ip -n "$XLAB_REMOTE_NS" link set lo up
  if [ $bridged = 1 ]; then
    ip netns add "$XLAB_GW_NS" || return 1
    ip -n "$XLAB_GW_NS" link set lo up
    ip link add xxl-lan0 type veth peer name eth0 netns "$XLAB_GW_NS" || return 1
    ip link set xxl-lan0 master "$XLAB_BRIDGE" up
    ip -n "$XLAB_GW_NS" addr add "$XLAB_GW_IP/24" dev eth0
    ip -n "$XLAB_GW_NS" link set eth0 up
    ip -n "$XLAB_GW_NS" link add eth1 type veth peer name eth0 netns "$XLAB_REMOTE_NS" || return 1
    ip -n "$XLAB_GW_NS" addr add "$XLAB_WAN_DOM0_IP/24" dev eth1
    ip -n "$XLAB_GW_NS" link set eth1 up
    ip netns exec "$XLAB_GW_NS" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
    ip route add "${XLAB_REMOTE_IP%.*}.0/24" via "$XLAB_GW_IP" dev "$XLAB_BRIDGE" || return 1
    XLAB_GUEST_GW=$XLAB_GW_IP
    XLAB_WAN_ENDS=("$XLAB_GW_NS eth1" "$XLAB_REMOTE_NS eth0")
  else
    ip link add xxl-wan0 type veth peer name eth0 netns "$XLAB_REMOTE_NS" || return 1
    ip addr add "$XLAB_WAN_DOM0_IP/24" dev xxl-wan0
    ip link set xxl-wan0 up
    XLAB_WAN_ENDS=("- xxl-wan0" "$XLAB_REMOTE_NS eth0")
  fi
  ip -n "$XLAB_REMOTE_NS" addr add "$XLAB_REMOTE_IP/24" dev eth0
  ip -n "$XLAB_REMOTE_NS" link set eth0 up
  ip -n "$XLAB_REMOTE_NS" route add default via "$XLAB_WAN_DOM0_IP"
  xlab_wan_shape delay "$delay" rate "$rate"
}

# xlab_wan_shape NETEM-ARGS... : replaces the netem qdisc on both ends of the
# WAN link (delete and add: `change` keeps an old rate it is not given).
xlab_wan_shape() {
  local e ns dev
  for e in "${XLAB_WAN_ENDS[@]}"; do
    read -r ns dev <<<"$e"
    if [ "$ns" = - ]; then tc qdisc del dev "$dev" root 2>/dev/null
      tc qdisc add dev "$dev" root netem "$@" limit 10000 || return 1
    else
      ip netns exec "$ns" tc qdisc del dev "$dev" root 2>/dev/null
      ip netns exec "$ns" tc qdisc add dev "$dev" root netem "$@" limit 10000 || return 1
    fi
  done
}

# xlab_remote CMD... : runs CMD on the remote host.
xlab_remote() { ip netns exec "$XLAB_REMOTE_NS" "$@"; }
