#!/bin/bash
# localack: xlnet on real Xen. Needs the overlay from build-overlay.sh (xlnet
# installed with npm + `xlnet setup`; the patched xl beside the stock one as
# /usr/sbin/xl-patched when built with --patched-xl-beside):
#
#   ov=$(xenlab/build-overlay.sh --patched-xl-beside "$(libxl-patch/build.sh --print)" | sed -n 's/^XLNET_OVERLAY=//p')
#   xenlab/run.sh --scenario xenlab/scenarios/localack.sh --overlay "$ov"
#
# Guest A (script=vif-localack) and guest B (plain vif-bridge) upload to a
# remote behind a long, rate-limited path; A's connections must be split in
# Dom0 and B's not. Then network-attach/-detach, a guest destroyed while Dom0
# still holds bytes it acknowledged, the patched xl's localack=1, and with
# xlnetd stopped: `required` fails, everything else comes up unsplit.
#
# Data: each upload is a tag line + random bytes made in the guest, which
# prints its sha256; a sink on the remote (node) logs tag, peer address,
# byte count and sha256 per connection. Guests wait for "go" files served by
# Dom0 (busybox httpd on xenbr0) so the scenario decides when they send.
#
# Time: node under TCG needs ~1-3 s to start and the xlnet CLI ~5-10 s (0.2 s
# on hardware), so independent steps overlap (background jobs) and the CLI
# is called only where the check is about what it shows.
. /usr/share/xlab/xlab.sh
# A root shell's PATH on Debian (xlnet setup may install wrappers in /usr/local/sbin).
export PATH=/usr/local/sbin:/usr/local/bin:$PATH

DELAY=100ms        # each way: RTT >= 200 ms
RATE=4mbit         # A's 6 MiB take >= 12 s on the WAN: long enough to watch the flow
SLOW_RATE=1mbit    # while A is destroyed mid-upload: its 2 MiB take >= 16 s
SINK_PORT=9000
SINK=10.89.0.2:$SINK_PORT
SINK_HEX=0200590A:2328   # $SINK as /proc/net/tcp shows it (address little-endian)
GO_DIR=/tmp/xlab-go
GO_PORT=8088
A=ga; A_IP=10.88.0.11
B=gb; B_IP=10.88.0.12
XLNETD_LOG=/var/log/xlnetd.log
SINK_LOG=/tmp/sink.log
FLOWS_LIVE=/tmp/flows.live.json
t_start=$SECONDS
phase() { xlab_log "phase $1 at +$((SECONDS - t_start)) s"; }
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b - a}'; }
oneline() { tr '\n' ' ' | tail -c "${1:-300}"; }
console_line() { tr -d '\r' <"$(xlab_console "$1")" 2>/dev/null | grep -m1 "^GUEST $2 "; }
# "GUEST <tag> sha <hex> bytes <n>" -> the value after <field>
guest_field() { console_line "$1" "$2 sha" | awk -v f="$3" '{for (i = 1; i < NF; i++) if ($i == f) print $(i + 1)}'; }
sink_record() { jq -c --arg t "$1" 'select(.tag == $t)' "$SINK_LOG" 2>/dev/null | tail -n1; }
has_record() { [ -n "$(sink_record "$1")" ]; }
xs_status() { xenstore-read "$(xlab_vif_path "$1" "$2")/xlnet-status" 2>/dev/null; }
hp_status() { xenstore-read "$(xlab_vif_path "$1" "$2")/hotplug-status" 2>/dev/null; }
log_has() { grep -q -- "$1" "$XLNETD_LOG"; }
log_last() { grep -- "$1" "$XLNETD_LOG" | tail -n1 | cut -d' ' -f3- | cut -c1-140; }
# The live flow of a guest to the sink (from the 250 ms watcher), as JSON.
live_flow() { jq -c --arg ip "$1" --arg r "$SINK" '[.[] | select((.guest | startswith($ip + ":")) and .remote == $r)][0] // empty' "$FLOWS_LIVE" 2>/dev/null; }

dumped=0
dump_all() {
  [ $dumped = 0 ] || return 0
  dumped=1
  xlab_dump xlnetd "$XLNETD_LOG"
  xlab_dump xen-hotplug /var/log/xen/xen-hotplug.log
  xlab_dump sink "$SINK_LOG"
  xlab_dump flows-all "$FLOWS_LIVE.all"
  local g
  for g in $A $B req-c; do [ ! -f "$(xlab_console $g)" ] || xlab_dump "guest-$g" "$(xlab_console $g)"; done
  for g in /var/log/xen/xl-*.log; do [ ! -f "$g" ] || xlab_dump "$(basename "$g" .log)" "$g"; done
  xlab_dump messages /var/log/messages
}
# The run's time limit ends the scenario with SIGTERM: keep the logs.
trap 'xlab_log "scenario stopped at +$((SECONDS - t_start)) s"; dump_all; exit 143' TERM

# --- Dom0 as `xlnet setup` left it --------------------------------------------------
phase install
missing=""
for f in /usr/bin/xlnet /usr/bin/xlnetd /etc/xen/xlnet.conf /etc/xen/scripts/vif-localack \
         /etc/xen/scripts/vif-post.d/xlnet.hook /etc/sysctl.d/60-xlnet.conf; do
  [ -e "$f" ] || missing="$missing $f"
done
version=$(jq -r .version /usr/lib/node_modules/xlnet/package.json 2>/dev/null)
[ -z "$missing" ]; xlab_result installed $((1 - $?)) "xlnet ${version:-?}: ${missing:+missing in Dom0:$missing (build the overlay with build-overlay.sh)}${missing:-package, hotplug scripts, xlnet.conf, sysctl drop-in}"
# What boot applies (systemd-sysctl); a leading '-' means a failure is ignored.
while IFS= read -r l; do
  [[ $l =~ ^[[:space:]]*(-?)([A-Za-z0-9._-]+)[[:space:]]*=[[:space:]]*([^[:space:]#]+) ]] || continue
  f=/proc/sys/${BASH_REMATCH[2]//.//}
  { echo "${BASH_REMATCH[3]}" >"$f"; } 2>/dev/null || [ -n "${BASH_REMATCH[1]}" ] || xlab_log "sysctl ${BASH_REMATCH[2]} failed"
done </etc/sysctl.d/60-xlnet.conf
# Vifs of req-* domains are required.
printf '\n[domain req-*]\nlocalack = required\n' >>/etc/xen/xlnet.conf
# The relay engine under test: every profile's `engine` (xlnet setup writes
# auto = user); xenlab/test/xen-localack-kernel.test.ts sets XLNET_TEST_ENGINE=kernel.
ENGINE=${XLNET_TEST_ENGINE:-user}
[ "$ENGINE" = user ] || sed -i "s/^engine = .*/engine = $ENGINE/" /etc/xen/xlnet.conf

# --- xlnetd (background start), the remote, guest B -----------------------------------
phase setup
t_xlnetd=$EPOCHREALTIME
xlnetd --config /etc/xen/xlnet.conf >>"$XLNETD_LOG" 2>&1 &
xlnetd_pid=$!

# The remote lies beyond the guests' own bridge (a router on xenbr0), as on a
# host whose NIC is in xenbr0: xlnet splits only towards destinations Dom0
# reaches through the guest's bridge.
xlab_remote_up --on-bridge --delay "$DELAY" --rate "$RATE" || xlab_log "remote setup failed"
cat >/tmp/sink.mjs <<'EOF'
// Per connection: tag (the first line, "XLAB <tag>"), peer, bytes, sha256;
// while it runs, the byte count in <log>.<tag>.bytes.
import net from 'node:net';
import { createHash } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
const [port, log] = process.argv.slice(2);
net.createServer((s) => {
  const h = createHash('sha256'); const peer = s.remoteAddress; const pport = s.remotePort; const t0 = Date.now();
  let n = 0, tag = '', head = Buffer.alloc(0), error;
  const progress = () => { if (tag) writeFileSync(`${log}.${tag}.bytes`, String(n)); };
  const tick = setInterval(progress, 250);
  s.on('data', (d) => {
    h.update(d); n += d.length;
    if (!tag && head.length < 128) {
      head = Buffer.concat([head, d.subarray(0, 128)]);
      const i = head.indexOf(10);
      if (i >= 0) tag = head.subarray(0, i).toString().replace(/^XLAB /, '');
    }
  });
  s.on('error', (e) => { error = e.code; });
  s.on('close', () => {
    clearInterval(tick); progress();
    appendFileSync(log, JSON.stringify({ tag, peer, port: pport, bytes: n, sha256: h.digest('hex'), ms: Date.now() - t0, error }) + '\n');
  });
}).listen(Number(port), '0.0.0.0', () => writeFileSync(`${log}.ready`, ''));
EOF
: >"$SINK_LOG"
xlab_remote node /tmp/sink.mjs "$SINK_PORT" "$SINK_LOG" >/tmp/sink.err 2>&1 &
mkdir -p /tmp/www && dd if=/dev/urandom of=/tmp/www/blob bs=1024 count=1024 2>/dev/null
blob_sha=$(sha256sum </tmp/www/blob | cut -d' ' -f1)
xlab_remote httpd -p 8080 -h /tmp/www
mkdir -p "$GO_DIR"
httpd -p "$XLAB_DOM0_IP:$GO_PORT" -h "$GO_DIR"
go() { touch "$GO_DIR/$1"; }

guest_lib='D0='$XLAB_DOM0_IP' R=10.89.0.2
go() { until wget -q -O /dev/null "http://$D0:'$GO_PORT'/$1" 2>/dev/null; do sleep 1; done; }
mk() { { echo "XLAB $1"; dd if=/dev/urandom bs=1024 count=$2 2>/dev/null; } >/tmp/$1
       echo "GUEST $1 sha $(sha256sum </tmp/$1 | cut -d" " -f1) bytes $(wc -c </tmp/$1)"; }
up() { echo "GUEST $1 start"; nc $R '$SINK_PORT' </tmp/$1; echo "GUEST $1 end rc=$?"; }
# up, and "GUEST <tag> acked" once the peer acknowledged every byte and the
# FIN (split: Dom0; direct: the remote): busybox nc closes at the end of its
# input and exits, the kernel keeps sending; the connection (found by its
# local address) then leaves ESTABLISHED/FIN_WAIT1 (01/04) for FIN_WAIT2 or
# its orphan form TIME_WAIT (05/06) in /proc/net/tcp.
up_acked() { echo "GUEST $1 start"; t0=$(cut -d" " -f1 /proc/uptime); nc $R '$SINK_PORT' </tmp/$1 & l=""; i=0
  while [ $i -lt 900 ]; do i=$((i + 1))
    if [ -z "$l" ]; then l=$(awk '\''$3 == "'$SINK_HEX'" && ($4 == "01" || $4 == "04") {print $2; exit}'\'' /proc/net/tcp)
    elif awk -v l=$l '\''$2 == l && $3 == "'$SINK_HEX'" && ($4 == "05" || $4 == "06") {f = 1} END {exit !f}'\'' /proc/net/tcp; then
      echo "GUEST $1 acked after $(awk -v a=$t0 -v b=$(cut -d" " -f1 /proc/uptime) "BEGIN{print b - a}") s"; break; fi
    sleep 0.1; done
  wait; echo "GUEST $1 end rc=$?"; }
down() { echo "GUEST $1 start"
         if wget -q -O /tmp/$1 "http://$R:8080/$2"; then echo "GUEST $1 sha $(sha256sum </tmp/$1 | cut -d" " -f1) bytes $(wc -c </tmp/$1)"
         else echo "GUEST $1 failed"; fi; }'
{ echo "$guest_lib"; echo 'mk a-up 6144; mk a-keep 2048; echo "GUEST ready"
go a1; up a-up; down a-down blob; echo "GUEST a1-done"
go a2; up_acked a-keep; echo "GUEST a2-done"'; } >/tmp/$A.sh
{ echo "$guest_lib"; echo 'mk b-up 1024; echo "GUEST ready"
go b1; up b-up; echo "GUEST b1-done"'; } >/tmp/$B.sh

# B needs no xlnetd: it is created while xlnetd starts.
t0=$EPOCHREALTIME
xlab_guest_create $B --ip $B_IP/24 --vif 'bridge=xenbr0' --script /tmp/$B.sh --stay >/tmp/create-$B.out 2>&1
rc=$?; b=$(xl domid $B 2>/dev/null)
[ $rc -eq 0 ] && xlab_vif_wait "$b" 0 30
xlab_result b-create $((1 - $?)) "xl create $B with a plain vif: exit $rc in $(elapsed "$t0") s $( [ $rc -eq 0 ] || oneline </tmp/create-$B.out)"

if xlab_wait 120 test -S /run/xlnet/xlnetd.sock && kill -0 "$xlnetd_pid" 2>/dev/null; then
  xlab_result xlnetd-up 1 "socket after $(elapsed "$t_xlnetd") s: $(log_last ' ready: ')"
else
  xlab_result xlnetd-up 0 "no control socket within 120 s: $(tail -n 3 "$XLNETD_LOG" | oneline)"
fi
# A fine-grained view of the live flows next to the CLI's snapshots: the
# control protocol's `flows` every 250 ms, the latest answer in $FLOWS_LIVE,
# every flow ever seen (largest counters) in $FLOWS_LIVE.all.
cat >/tmp/flowwatch.mjs <<'EOF'
import net from 'node:net';
import { writeFileSync, renameSync } from 'node:fs';
const [sock, out] = process.argv.slice(2);
const seen = new Map();
const put = (f, s) => { writeFileSync(`${f}.tmp`, JSON.stringify(s)); renameSync(`${f}.tmp`, f); };
function connect() {
  const c = net.connect(sock);
  let buf = '', id = 0, timer;
  c.on('connect', () => {
    const ask = () => { if (!c.destroyed) c.write(JSON.stringify({ v: 1, id: ++id, op: 'flows' }) + '\n'); };
    ask(); timer = setInterval(ask, 250);
  });
  c.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const r = JSON.parse(buf.slice(0, i)); buf = buf.slice(i + 1);
      if (!r.ok) continue;
      for (const f of r.result) {
        const k = `${f.vif} ${f.guest} ${f.remote}`;
        const s = seen.get(k) ?? { vif: f.vif, guest: f.guest, remote: f.remote };
        for (const c of ['bytesUp', 'bytesDown', 'relayedUp', 'relayedDown']) if (f[c] !== undefined) s[c] = Math.max(s[c] ?? 0, f[c]);
        s.engine = f.engine;
        seen.set(k, s);
      }
      put(out, r.result); put(`${out}.all`, [...seen.values()]);
    }
  });
  c.on('error', () => undefined);
  c.on('close', () => { clearInterval(timer); setTimeout(connect, 500); });
}
connect();
EOF
echo '[]' >"$FLOWS_LIVE"
node /tmp/flowwatch.mjs /run/xlnet/xlnetd.sock "$FLOWS_LIVE" >/tmp/flowwatch.err 2>&1 &
flowwatch_pid=$!
xlab_wait 60 test -f "$SINK_LOG.ready" || xlab_log "the sink did not start: $(cat /tmp/sink.err)"

# --- Guest A: script=vif-localack ----------------------------------------------------
phase create-a
t0=$EPOCHREALTIME
xlab_guest_create $A --ip $A_IP/24 --vif 'bridge=xenbr0,script=vif-localack' --script /tmp/$A.sh --stay >/tmp/create-$A.out 2>&1
rc=$?; a=$(xl domid $A 2>/dev/null)
[ $rc -eq 0 ] && xlab_vif_wait "$a" 0 30
xlab_result a-create $((1 - $?)) "xl create $A with script=vif-localack: exit $rc in $(elapsed "$t0") s, hotplug-status=$(hp_status "$a" 0) $( [ $rc -eq 0 ] || oneline </tmp/create-$A.out)"
st=$(xs_status "$a" 0)
[ "$st" = attached:default ] && log_has "attached vif$a.0 "
xlab_result a-hotplug-attached $((1 - $?)) "backend/vif/$a/0/xlnet-status = '$st'; xlnetd: $(log_last "attached vif$a.0 ")"
st=$(xs_status "$b" 0)
[ -z "$st" ]; xlab_result b-not-asked $((1 - $?)) "backend/vif/$b/0/xlnet-status = '${st:-(none: the hook left the vif alone)}'"

# --- Transfers (A split, B direct), and meanwhile network-attach/-detach on A ----------
phase transfers
xlab_console_wait $A '^GUEST ready' 240 && xlab_console_wait $B '^GUEST ready' 60 || xlab_log "a guest did not get ready"
go a1; go b1
(
  t0=$EPOCHREALTIME
  out=$(xl network-attach $A bridge=xenbr0 script=vif-localack 2>&1); rc=$?
  xlab_vif_wait "$a" 1 30
  st=$(xs_status "$a" 1)
  [ $rc -eq 0 ] && [ "$st" = attached:default ] && log_has "attached vif$a.1 "
  xlab_result a-network-attach $((1 - $?)) "xl network-attach $A script=vif-localack: exit $rc in $(elapsed "$t0") s, xlnet-status '$st', xlnetd: $(log_last "attached vif$a.1 ") $(oneline 200 <<<"$out")"
  t0=$EPOCHREALTIME
  out=$(xl network-detach $A 1 2>&1); rc=$?
  xlab_wait 30 log_has "detached vif$a.1\$"
  [ $rc -eq 0 ] && log_has "detached vif$a.1\$" && ! xenstore-exists "$(xlab_vif_path "$a" 1)"
  xlab_result a-network-detach $((1 - $?)) "xl network-detach $A 1: exit $rc in $(elapsed "$t0") s, xlnetd: '$(log_last "vif$a.1")' $(oneline 200 <<<"$out")"
) &
attacher=$!
# What `xlnet flows` shows while A uploads and downloads: snapshots until A is done.
rm -f /tmp/flows.stop
( n=0; while [ ! -f /tmp/flows.stop ]; do n=$((n + 1)); xlnet flows --json >/tmp/flows.$n.json 2>/dev/null; done ) &
snapper=$!
xlab_console_wait $A '^GUEST a1-done' 240; xlab_console_wait $B '^GUEST b1-done' 60
touch /tmp/flows.stop; wait $snapper
snaps=$(ls /tmp/flows.[0-9]*.json 2>/dev/null | wc -l)
flow=$(cat /tmp/flows.[0-9]*.json 2>/dev/null | jq -c -s --arg ip "$A_IP" --arg r "$SINK" '[.[][] | select((.guest | startswith($ip + ":")) and .remote == $r)] | max_by(.ageMs) // empty' 2>/dev/null)
[ -n "$flow" ] && [ "$(jq -r .vif <<<"$flow")" = "vif$a.0" ]
xlab_result a-flow-visible $((1 - $?)) "A's upload in 'xlnet flows --json' ($snaps snapshots while it ran): ${flow:-none; the 250 ms watcher saw: $(jq -c --arg ip "$A_IP" '[.[] | select(.guest | startswith($ip + ":"))]' "$FLOWS_LIVE.all" 2>/dev/null | head -c 300)}"
eng=$(jq -r --arg ip "$A_IP" '[.[] | select(.guest | startswith($ip + ":")) | .engine][0] // empty' "$FLOWS_LIVE.all" 2>/dev/null)
[ "$eng" = "$ENGINE" ]; xlab_result a-engine $((1 - $?)) "A's split connections relayed by the ${ENGINE} engine: engine=${eng:-none seen}; datapath: $(xlnet status --json 2>/dev/null | jq -c '.datapath | {state, kernelEngine, kernelEngineReason}' 2>/dev/null)"

check_upload() {  # NAME GUEST GUEST_IP TAG
  local rec sha bytes
  rec=$(sink_record "$4"); sha=$(guest_field "$2" "$4" sha); bytes=$(guest_field "$2" "$4" bytes)
  if [ -n "$rec" ] && [ -n "$sha" ] && [ "$(jq -r .sha256 <<<"$rec")" = "$sha" ] && [ "$(jq -r .bytes <<<"$rec")" = "$bytes" ] \
     && [ "$(jq -r .peer <<<"$rec")" = "$3" ]; then
    xlab_result "$1" 1 "remote got $bytes bytes from $(jq -r '.peer + ":" + (.port|tostring)' <<<"$rec") in $(jq -r .ms <<<"$rec") ms, sha256 ${sha:0:16}.. on both ends"
  else
    xlab_result "$1" 0 "guest: ${sha:-no sha} ${bytes:-?} bytes ($(console_line "$2" "$4 end")); remote: ${rec:-no record} (expected peer $3)"
  fi
}
check_upload a-upload-exact $A $A_IP a-up
dsha=$(guest_field $A a-down sha)
[ "$dsha" = "$blob_sha" ]; xlab_result a-download-exact $((1 - $?)) "A downloaded the remote's 1 MiB: sha256 ${dsha:-$(console_line $A a-down)} vs ${blob_sha}"
check_upload b-upload-direct $B $B_IP b-up
wait $attacher

xlnet status --json >/tmp/status.json 2>/tmp/status.err
vifs=$(jq -r '[.attachments[].vif] | sort | join(",")' /tmp/status.json 2>/dev/null)
[ "$vifs" = "vif$a.0" ]
xlab_result attached-exactly-a $((1 - $?)) "xlnet status --json attachments: [$vifs] (expected vif$a.0 only; $B is vif$b.0) $(head -c 200 /tmp/status.err)"
bflows=$(cat /tmp/flows.[0-9]*.json "$FLOWS_LIVE.all" 2>/dev/null | jq -s --arg ip "$B_IP" '[.[][] | select(.guest | startswith($ip + ":"))] | length' 2>/dev/null)
[ "$bflows" = 0 ] && ! log_has "vif$b\."
xlab_result b-untouched $((1 - $?)) "flows of B seen by xlnet flows and the 250 ms watcher: ${bflows:-?}; xlnetd log lines about vif$b.*: $(grep -c "vif$b\." "$XLNETD_LOG")"
a_total=$(jq -r --arg v "vif$a.0" '.attachments[] | select(.vif == $v) | .flowsTotal' /tmp/status.json 2>/dev/null)
[ "${a_total:-0}" -ge 2 ] 2>/dev/null
xlab_result a-flows-counted $((1 - $?)) "vif$a.0 flowsTotal=${a_total:-?} after A's upload and download (expected >= 2)"
dp=$(jq -c '.daemon.datapath // empty' /tmp/status.json 2>/dev/null)
if [ -n "$dp" ]; then
  [ "$(jq -r .state <<<"$dp")" = loaded ]
  xlab_result xlnetd-datapath $((1 - $?)) "kernel $(uname -r), xlnet status: datapath $dp"
else
  log_has 'datapath loaded'
  xlab_result xlnetd-datapath $((1 - $?)) "kernel $(uname -r), xlnetd log: $(grep -i -m2 datapath "$XLNETD_LOG" | oneline)"
fi

# --- Destroy A while Dom0 holds bytes it acknowledged; meanwhile patched xl on B ----------
phase destroy
if command -v xl-patched >/dev/null; then
  (
    # A vif with localack=1 from the patched xl: the key reaches the backend,
    # the hook sees it (no script asked), xlnetd attaches the vif.
    t0=$EPOCHREALTIME
    out=$(xl-patched network-attach $B bridge=xenbr0 localack=1 2>&1); rc=$?
    xlab_vif_wait "$b" 1 30
    key=$(xenstore-read "$(xlab_vif_path "$b" 1)/localack" 2>&1); st=$(xs_status "$b" 1)
    [ $rc -eq 0 ] && [ "$key" = 1 ] && [ "$st" = attached:default ] && log_has "attached vif$b.1 "
    xlab_result patched-localack-attached $((1 - $?)) "xl-patched network-attach $B bridge=xenbr0 localack=1: exit $rc in $(elapsed "$t0") s, backend localack='$key', xlnet-status '$st', xlnetd: $(log_last "attached vif$b.1 ") $(oneline 200 <<<"$out")"
    xl-patched list -l $B >/tmp/list-l.json 2>/tmp/list-l.err; rc=$?
    [ $rc -eq 0 ] && grep -q '"localack": "1"' /tmp/list-l.json
    xlab_result patched-list-l $((1 - $?)) "xl-patched list -l $B: exit $rc, $(grep -m1 localack /tmp/list-l.json | tr -s ' ') $(head -c 200 /tmp/list-l.err)"
  ) &
  patcher=$!
fi
xlab_wan_shape delay "$DELAY" rate "$SLOW_RATE"
keep_bytes=$(guest_field $A a-keep bytes)
go a2
# The guest sees all its bytes acknowledged (FIN_WAIT2) while the remote, a
# slow path away, still lacks part of them: Dom0 holds the rest. Destroy now.
xlab_console_wait $A '^GUEST a-keep acked' 90
flow=$(live_flow "$A_IP")
remote_at=$(cat "$SINK_LOG.a-keep.bytes" 2>/dev/null || echo 0)
xl destroy $A; rc=$?
acked=$(console_line $A "a-keep acked")
[ -n "$acked" ] && [ "$remote_at" -lt "$keep_bytes" ] && [ $rc -eq 0 ]
xlab_result a-destroy-held $((1 - $?)) "xl destroy $A (exit $rc) when the guest said '${acked:-(no ack line)}' for its $keep_bytes bytes: the remote had $remote_at, Dom0's flow: ${flow:-none}"
xlab_wait 90 has_record a-keep
check_upload a-destroyed-delivered $A $A_IP a-keep
xlab_wait 60 log_has "detached vif$a.0\$"
n=$(jq -c --arg ip "$A_IP" '[.[] | select(.guest | startswith($ip + ":"))] | length' "$FLOWS_LIVE" 2>/dev/null)
log_has "detached vif$a.0\$" && [ "$n" = 0 ]
xlab_result a-destroy-detached $((1 - $?)) "after xl destroy: A's live flows: ${n:-?}; xlnetd: '$(log_last "vif$a.0")'"
xlab_wan_shape delay "$DELAY" rate "$RATE"
[ -z "${patcher:-}" ] || wait "$patcher"

# --- xlnetd stopped: required fails, the rest comes up unsplit -------------------------
phase required
# A control client is connected (the flow watcher, as `xlnet top` would be):
# SIGTERM must still stop xlnetd.
t0=$EPOCHREALTIME
kill -TERM "$xlnetd_pid"
xlab_wait 20 sh -c "! kill -0 $xlnetd_pid"
gone=$?
xlab_result stop-with-client $((gone == 0 ? 1 : 0)) "xlnetd $( [ $gone = 0 ] && echo "exited $(elapsed "$t0") s after SIGTERM" || echo "still running 20 s after SIGTERM") with a control client connected; its log: $(tail -n 2 "$XLNETD_LOG" | cut -d' ' -f1,3- | oneline 200)"
kill "$flowwatch_pid" 2>/dev/null
xlab_wait 60 sh -c "! kill -0 $xlnetd_pid"
tables=$(nft list tables 2>/dev/null | grep -c xlnet)
[ "$tables" = 0 ]; xlab_result stop-fail-open $((1 - $?)) "xlnetd stopped $(elapsed "$t0") s after SIGTERM: $tables xlnet nftables tables left (guests' connections go direct)"
echo 'echo "GUEST up"' >/tmp/req.sh
(
  t0=$EPOCHREALTIME
  out=$(xlab_guest_create req-c --vif 'bridge=xenbr0,script=vif-localack' --script /tmp/req.sh 2>&1); rc=$?
  reason=$(grep -m1 -i 'required' <<<"$out")
  [ $rc -ne 0 ] && [ -n "$reason" ] && ! xl domid req-c >/dev/null 2>&1
  xlab_result required-create-fails $((1 - $?)) "xl create req-c ([domain req-*] localack = required, xlnetd stopped): exit $rc in $(elapsed "$t0") s; xl said: ${reason:-$(oneline 400 <<<"$out")}"
) &
creator=$!
t0=$EPOCHREALTIME
out=$(xl network-attach $B bridge=xenbr0 script=vif-localack 2>&1); rc=$?
dev=$(xl network-list $B 2>/dev/null | awk 'NR > 1 {d = $1} END {print d}')
xlab_vif_wait "$b" "$dev" 30
st=$(xs_status "$b" "$dev")
[ $rc -eq 0 ] && [[ $st == unavailable:* ]] && [ "$(hp_status "$b" "$dev")" = connected ]
xlab_result failopen-attach $((1 - $?)) "xl network-attach $B script=vif-localack with xlnetd stopped: exit $rc in $(elapsed "$t0") s, vif$b.$dev hotplug-status=$(hp_status "$b" "$dev"), xlnet-status '$st'; logged: $(grep -h -m1 "vif$b.$dev: running without" /var/log/messages | cut -d' ' -f6- | cut -c1-160)"
if command -v xl-patched >/dev/null; then
  out=$(xl-patched network-attach $B bridge=xenbr0 localack=required 2>&1); rc=$?
  reason=$(grep -m1 -i 'required' <<<"$out")
  [ $rc -ne 0 ] && [ -n "$reason" ]
  xlab_result patched-required-attach-fails $((1 - $?)) "xl-patched network-attach $B localack=required, xlnetd stopped: exit $rc; xl said: ${reason:-$(oneline 400 <<<"$out")}"
fi
wait $creator
phase end
dump_all
