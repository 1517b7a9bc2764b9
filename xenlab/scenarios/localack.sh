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
# still holds its acknowledged bytes, `required` vs fail-open with xlnetd
# stopped, and the patched xl's localack=1.
#
# Data: each upload is a tag line + random bytes made in the guest, which
# prints its sha256; a sink on the remote (node) logs tag, peer address,
# byte count and sha256 per connection. Guests wait for "go" files served by
# Dom0 (busybox httpd on xenbr0) so the scenario decides when they send.
. /usr/share/xlab/xlab.sh
# A root shell's PATH on Debian (xlnet setup may install wrappers in /usr/local/sbin).
export PATH=/usr/local/sbin:/usr/local/bin:$PATH

DELAY=100ms        # each way: RTT >= 200 ms
RATE=4mbit         # A's 6 MiB take >= 12 s on the WAN: long enough to watch the flow
SLOW_RATE=1mbit    # while a guest is destroyed mid-upload: 2 MiB take >= 16 s
SINK_PORT=9000
GO_DIR=/tmp/xlab-go
GO_PORT=8088
A=ga; A_IP=10.88.0.11
B=gb; B_IP=10.88.0.12
P=gp; P_IP=10.88.0.13
XLNETD_LOG=/var/log/xlnetd.log
SINK_LOG=/tmp/sink.log
t_start=$SECONDS
phase() { xlab_log "phase $1 at +$((SECONDS - t_start)) s"; }
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b - a}'; }
console_line() { tr -d '\r' <"$(xlab_console "$1")" 2>/dev/null | grep -m1 "^GUEST $2 " ; }
# "GUEST <tag> sha <hex> bytes <n>" -> field
guest_field() { console_line "$1" "$2 sha" | awk -v f="$3" '{for (i = 1; i < NF; i++) if ($i == f) print $(i + 1)}'; }
sink_record() { jq -c --arg t "$1" 'select(.tag == $t)' "$SINK_LOG" 2>/dev/null | tail -n1; }
xs_status() { xenstore-read "$(xlab_vif_path "$1" "$2")/xlnet-status" 2>/dev/null; }
domid_of() { xl domid "$1" 2>/dev/null || xl-patched domid "$1" 2>/dev/null; }

# --- Dom0 as `xlnet setup` left it --------------------------------------------------
phase install
missing=""
for f in /usr/bin/xlnet /usr/bin/xlnetd /etc/xen/xlnet.conf /etc/xen/scripts/vif-localack \
         /etc/xen/scripts/vif-post.d/xlnet.hook /etc/sysctl.d/60-xlnet.conf; do
  [ -e "$f" ] || missing="$missing $f"
done
if [ -z "$missing" ]; then
  xlab_result installed 1 "xlnet $(xlnet --version 2>/dev/null | head -n1 | tr -s ' ') with hotplug scripts, xlnet.conf, sysctl drop-in"
else
  xlab_result installed 0 "missing in Dom0:$missing (build the overlay with build-overlay.sh)"
fi
# What boot would apply (systemd-sysctl); a leading '-' means a failure is ignored.
while IFS= read -r l; do
  [[ $l =~ ^[[:space:]]*(-?)([A-Za-z0-9._-]+)[[:space:]]*=[[:space:]]*([^[:space:]#]+) ]] || continue
  f=/proc/sys/${BASH_REMATCH[2]//.//}
  echo "${BASH_REMATCH[3]}" >"$f" 2>/dev/null || [ -n "${BASH_REMATCH[1]}" ] || xlab_log "sysctl ${BASH_REMATCH[2]} failed"
done </etc/sysctl.d/60-xlnet.conf
# A domain rule that makes vifs of req-* domains required.
printf '\n[domain req-*]\nlocalack = required\n' >>/etc/xen/xlnet.conf

xlnetd_pid=""
start_xlnetd() {
  local t0=$EPOCHREALTIME
  xlnetd --config /etc/xen/xlnet.conf >>"$XLNETD_LOG" 2>&1 &
  xlnetd_pid=$!
  if xlab_wait 90 test -S /run/xlnet/xlnetd.sock && kill -0 "$xlnetd_pid" 2>/dev/null; then
    xlab_log "xlnetd $xlnetd_pid up after $(elapsed "$t0") s"
    return 0
  fi
  xlab_log "xlnetd did not come up; its log:"; tail -n 30 "$XLNETD_LOG"
  return 1
}
stop_xlnetd() {
  [ -n "$xlnetd_pid" ] || return 0
  kill -TERM "$xlnetd_pid" 2>/dev/null
  xlab_wait 30 sh -c "! kill -0 $xlnetd_pid" || kill -KILL "$xlnetd_pid" 2>/dev/null
  wait "$xlnetd_pid" 2>/dev/null
  xlnetd_pid=""
}

phase xlnetd
if start_xlnetd; then
  xlab_result xlnetd-up 1 "$(grep -m1 ' ready: ' "$XLNETD_LOG" | cut -c1-200)"
else
  xlab_result xlnetd-up 0 "no control socket within 90 s: $(tail -n 3 "$XLNETD_LOG" | tr '\n' ' ' | cut -c1-300)"
fi
# The BPF datapath (WAN-leg tuning, counters) on the 6.1 Dom0 kernel: xlnetd
# loads it at start and runs without it when the kernel refuses (fail soft).
dp=$(grep -i -m3 'datapath' "$XLNETD_LOG" | tr '\n' ' ' | cut -c1-300)
if grep -qi 'datapath loaded' "$XLNETD_LOG"; then
  xlab_result xlnetd-datapath 1 "kernel $(uname -r): $dp"
else
  xlab_result xlnetd-datapath 0 "kernel $(uname -r): xlnetd did not report 'datapath loaded': ${dp:-no datapath line in its log}"
fi

# A fine-grained view of the live flows next to the CLI's snapshots (the CLI
# needs seconds to start under TCG): the control protocol's `flows` every
# 250 ms, the latest answer in $FLOWS_LIVE, every flow ever seen with its
# largest byte counts in $FLOWS_LIVE.all.
FLOWS_LIVE=/tmp/flows.live.json
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
        const s = seen.get(k) ?? { vif: f.vif, guest: f.guest, remote: f.remote, bytesUp: 0, bytesDown: 0, engine: f.engine };
        s.bytesUp = Math.max(s.bytesUp, f.bytesUp); s.bytesDown = Math.max(s.bytesDown, f.bytesDown);
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
node /tmp/flowwatch.mjs /run/xlnet/xlnetd.sock "$FLOWS_LIVE" >/tmp/flowwatch.err 2>&1 &
flowwatch_pid=$!

# --- The remote: long path, sink, download server -----------------------------------
phase remote
xlab_remote_up --delay "$DELAY" --rate "$RATE" || xlab_log "remote setup failed"
cat >/tmp/sink.mjs <<'EOF'
// Per connection: tag (the first line, "XLAB <tag>"), peer, bytes, sha256.
// Progress of each tag is kept in <log>.<tag>.bytes while it runs.
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
httpd -p "10.88.0.1:$GO_PORT" -h "$GO_DIR"
go() { touch "$GO_DIR/$1"; }
xlab_wait 60 test -f "$SINK_LOG.ready" || xlab_log "the sink did not start: $(cat /tmp/sink.err)"

# --- The guests ------------------------------------------------------------------------
guest_lib='D0=10.88.0.1 R=10.89.0.2
go() { until wget -q -O /dev/null "http://$D0:'$GO_PORT'/$1" 2>/dev/null; do sleep 1; done; }
mk() { { echo "XLAB $1"; dd if=/dev/urandom bs=1024 count=$2 2>/dev/null; } >/tmp/$1
       echo "GUEST $1 sha $(sha256sum </tmp/$1 | cut -d" " -f1) bytes $(wc -c </tmp/$1)"; }
up() { echo "GUEST $1 start"; nc $R '$SINK_PORT' </tmp/$1; echo "GUEST $1 end rc=$?"; }
down() { echo "GUEST $1 start"
         if wget -q -O /tmp/$1 "http://$R:8080/$2"; then echo "GUEST $1 sha $(sha256sum </tmp/$1 | cut -d" " -f1) bytes $(wc -c </tmp/$1)"
         else echo "GUEST $1 failed"; fi; }'
{ echo "$guest_lib"; echo 'mk a-up 6144; mk a-keep 2048; echo "GUEST ready"
go a1; up a-up; down a-down blob; echo "GUEST a1-done"
go a2; up a-keep; echo "GUEST a2-done"'; } >/tmp/$A.sh
{ echo "$guest_lib"; echo 'mk b-up 1024; echo "GUEST ready"
go b1; up b-up; echo "GUEST b1-done"'; } >/tmp/$B.sh

phase create
t0=$EPOCHREALTIME
out=$(xlab_guest_create $A --ip $A_IP/24 --vif 'bridge=xenbr0,script=vif-localack' --script /tmp/$A.sh --stay 2>&1); rc=$?
a_create_s=$(elapsed "$t0")
a=$(domid_of $A)
[ $rc -eq 0 ] && xlab_vif_wait "$a" 0 30
xlab_result a-create $((1 - $?)) "xl create $A with script=vif-localack: exit $rc in ${a_create_s} s, hotplug-status=$(xenstore-read "$(xlab_vif_path "$a" 0)/hotplug-status" 2>&1) $( [ $rc -eq 0 ] || tr '\n' ' ' <<<"$out" | tail -c 300)"
t0=$EPOCHREALTIME
out=$(xlab_guest_create $B --ip $B_IP/24 --vif 'bridge=xenbr0' --script /tmp/$B.sh --stay 2>&1); rc=$?
b_create_s=$(elapsed "$t0")
b=$(domid_of $B)
[ $rc -eq 0 ] && xlab_vif_wait "$b" 0 30
xlab_result b-create $((1 - $?)) "xl create $B with a plain vif: exit $rc in ${b_create_s} s $( [ $rc -eq 0 ] || tr '\n' ' ' <<<"$out" | tail -c 300)"

st=$(xs_status "$a" 0)
[ "$st" = attached:default ]; xlab_result a-hotplug-attached $((1 - $?)) "backend/vif/$a/0/xlnet-status = '$st'"
st=$(xs_status "$b" 0)
[ -z "$st" ]; xlab_result b-not-asked $((1 - $?)) "backend/vif/$b/0/xlnet-status = '${st:-(none: the hook left the vif alone)}'"
xlnet status --json >/tmp/status1.json 2>/tmp/status1.err
vifs=$(jq -r '[.attachments[].vif] | sort | join(",")' /tmp/status1.json 2>/dev/null)
[ "$vifs" = "vif$a.0" ]; xlab_result attached-exactly-a $((1 - $?)) "xlnet status --json attachments: [$vifs] (expected vif$a.0 only; $B is vif$b.0) $(head -c 200 /tmp/status1.err)"

# --- Transfers: A split, B direct ------------------------------------------------------
phase transfers
xlab_console_wait $A '^GUEST ready' 240 && xlab_console_wait $B '^GUEST ready' 120 || xlab_log "a guest did not get ready"
go a1; go b1
# Snapshots of the live flows with the CLI while A uploads and downloads.
rm -f /tmp/flows.stop
( n=0; while [ ! -f /tmp/flows.stop ]; do n=$((n + 1)); xlnet flows --json >/tmp/flows.$n.json 2>/dev/null; done ) &
snapper=$!
xlab_console_wait $A '^GUEST a1-done' 240 && xlab_console_wait $B '^GUEST b1-done' 120
touch /tmp/flows.stop; wait $snapper
snaps=$(ls /tmp/flows.[0-9]*.json 2>/dev/null | wc -l)
flow=$(cat /tmp/flows.[0-9]*.json 2>/dev/null | jq -c -s --arg ip "$A_IP" '[.[][] | select(.guest | startswith($ip + ":")) | select(.remote == "10.89.0.2:'$SINK_PORT'")] | max_by(.bytesUp) // empty' 2>/dev/null)
[ -n "$flow" ] && [ "$(jq -r .vif <<<"$flow")" = "vif$a.0" ]
xlab_result a-flow-visible $((1 - $?)) "A's upload in 'xlnet flows --json' ($snaps snapshots while it ran): ${flow:-none; the finer watcher saw: $(jq -c --arg ip "$A_IP" '[.[] | select(.guest | startswith($ip + ":"))]' "$FLOWS_LIVE.all" 2>/dev/null | head -c 300)}"

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
bflows=$(cat /tmp/flows.[0-9]*.json "$FLOWS_LIVE.all" 2>/dev/null | jq -s --arg ip "$B_IP" '[.[][] | select(.guest | startswith($ip + ":"))] | length' 2>/dev/null)
xlnet status --json >/tmp/status2.json 2>/dev/null
vifs=$(jq -r '[.attachments[].vif] | sort | join(",")' /tmp/status2.json 2>/dev/null)
a_total=$(jq -r --arg v "vif$a.0" '.attachments[] | select(.vif == $v) | .flowsTotal' /tmp/status2.json 2>/dev/null)
[ "$bflows" = 0 ] && [ "$vifs" = "vif$a.0" ] && ! grep -q "vif$b\.0" "$XLNETD_LOG"
xlab_result b-untouched $((1 - $?)) "flows of B seen by xlnet flows and the 250 ms watcher: ${bflows:-?}; attachments after the transfers: [$vifs]; xlnetd log lines about vif$b.0: $(grep -c "vif$b\.0" "$XLNETD_LOG")"
[ "${a_total:-0}" -ge 2 ] 2>/dev/null
xlab_result a-flows-counted $((1 - $?)) "vif$a.0 flowsTotal=${a_total:-?} after A's upload and download (expected >= 2)"

# --- network-attach / network-detach on A ------------------------------------------------
phase attach
t0=$EPOCHREALTIME
out=$(xl network-attach $A bridge=xenbr0 script=vif-localack 2>&1); rc=$?
xlab_vif_wait "$a" 1 30
st=$(xs_status "$a" 1)
[ $rc -eq 0 ] && [ "$st" = attached:default ] && grep -q "attached vif$a.1 " "$XLNETD_LOG"
xlab_result a-network-attach $((1 - $?)) "xl network-attach $A script=vif-localack: exit $rc in $(elapsed "$t0") s, xlnet-status '$st', xlnetd: $(grep -m1 "attached vif$a.1 " "$XLNETD_LOG" | cut -d' ' -f3- | cut -c1-120) $(tr '\n' ' ' <<<"$out" | tail -c 200)"
t0=$EPOCHREALTIME
out=$(xl network-detach $A 1 2>&1); rc=$?
xlab_wait 30 grep -q "detached vif$a.1\$" "$XLNETD_LOG"
[ $rc -eq 0 ] && grep -q "detached vif$a.1\$" "$XLNETD_LOG" && ! xenstore-exists "$(xlab_vif_path "$a" 1)"
xlab_result a-network-detach $((1 - $?)) "xl network-detach $A 1: exit $rc in $(elapsed "$t0") s, xlnetd: '$(grep "vif$a.1" "$XLNETD_LOG" | tail -n1 | cut -d' ' -f3- | cut -c1-120)' $(tr '\n' ' ' <<<"$out" | tail -c 200)"

# --- Destroy A while Dom0 still holds bytes it acknowledged ----------------------------
phase destroy
wan_rate() {
  tc qdisc del dev xxl-wan0 root; xlab_remote tc qdisc del dev eth0 root
  tc qdisc add dev xxl-wan0 root netem delay "$DELAY" rate "$1" limit 10000
  xlab_remote tc qdisc add dev eth0 root netem delay "$DELAY" rate "$1" limit 10000
}
wan_rate "$SLOW_RATE"
keep_bytes=$(guest_field $A a-keep bytes)
go a2
xlab_console_wait $A '^GUEST a-keep start' 60
# Dom0 has every byte once the flow's bytesUp (read from the guest) is the upload's size.
held() { [ "$(jq -r --arg ip "$A_IP" '[.[] | select(.guest | startswith($ip + ":")) | select(.remote == "10.89.0.2:'$SINK_PORT'") | .bytesUp][0] // empty' "$FLOWS_LIVE" 2>/dev/null)" = "$keep_bytes" ]; }
xlab_wait 60 held
got=$(jq -r --arg ip "$A_IP" '[.[] | select(.guest | startswith($ip + ":")) | select(.remote == "10.89.0.2:'$SINK_PORT'") | .bytesUp][0] // empty' "$FLOWS_LIVE" 2>/dev/null)
remote_at=$(cat "$SINK_LOG.a-keep.bytes" 2>/dev/null || echo 0)
xl destroy $A; rc=$?
xlab_result a-destroy-held "$([ "$got" = "$keep_bytes" ] && [ $rc -eq 0 ] && echo 1 || echo 0)" \
  "xl destroy $A (exit $rc) once Dom0 had all $keep_bytes bytes of the upload (flows: bytesUp=${got:-?}); the remote had $remote_at then"
has_record() { [ -n "$(sink_record "$1")" ]; }
xlab_wait 90 has_record a-keep
check_upload a-destroyed-delivered $A $A_IP a-keep
xlab_wait 60 grep -q "detached vif$a.0\$" "$XLNETD_LOG"
xlnet status --json >/tmp/status3.json 2>/dev/null
n=$(jq '.attachments | length' /tmp/status3.json 2>/dev/null)
[ "$n" = 0 ] && grep -q "detached vif$a.0\$" "$XLNETD_LOG"
xlab_result a-destroy-detached $((1 - $?)) "after xl destroy: xlnet status attachments=${n:-?}, xlnetd: '$(grep "vif$a.0" "$XLNETD_LOG" | tail -n1 | cut -d' ' -f3- | cut -c1-120)'"
wan_rate "$RATE"

# --- The patched xl: localack=1 in the vif spec -------------------------------------
if command -v xl-patched >/dev/null; then
  phase patched
  echo 'echo "GUEST up"' >/tmp/$P.sh
  t0=$EPOCHREALTIME
  out=$(xlab_guest_create $P --xl xl-patched --ip $P_IP/24 --vif 'bridge=xenbr0,localack=1' --script /tmp/$P.sh --stay 2>&1); rc=$?
  p=$(domid_of $P)
  xlab_vif_wait "$p" 0 30
  st=$(xs_status "$p" 0)
  key=$(xenstore-read "$(xlab_vif_path "$p" 0)/localack" 2>&1)
  [ $rc -eq 0 ] && [ "$key" = 1 ] && [ "$st" = attached:default ] && grep -q "attached vif$p.0 .* domain $P" "$XLNETD_LOG"
  xlab_result patched-localack-attached $((1 - $?)) "xl-patched create with 'bridge=xenbr0,localack=1': exit $rc in $(elapsed "$t0") s, backend localack='$key', xlnet-status '$st' $(tr '\n' ' ' <<<"$out" | grep -o 'unrecognized[^)]*' | head -c 200)"
  xl-patched list -l $P >/tmp/list-l.json 2>/tmp/list-l.err; rc=$?
  [ $rc -eq 0 ] && grep -q '"localack": "1"' /tmp/list-l.json
  xlab_result patched-list-l $((1 - $?)) "xl-patched list -l $P: exit $rc, $(grep -m1 localack /tmp/list-l.json | tr -s ' ') $(head -c 200 /tmp/list-l.err)"
fi

# --- xlnetd stopped: required fails, the rest comes up unsplit -------------------------
phase required
stop_xlnetd
tables=$(nft list tables 2>/dev/null | grep -c xlnet)
[ "$tables" = 0 ]; xlab_result stop-fail-open $((1 - $?)) "after SIGTERM to xlnetd: $tables xlnet nftables tables left (guests' connections go direct)"
echo 'echo "GUEST up"' >/tmp/req.sh
t0=$EPOCHREALTIME
out=$(xlab_guest_create req-c --vif 'bridge=xenbr0,script=vif-localack' --script /tmp/req.sh 2>&1); rc=$?
reason=$(grep -m1 -i 'required' <<<"$out")
[ $rc -ne 0 ] && [ -n "$reason" ] && ! xl domid req-c >/dev/null 2>&1
xlab_result required-create-fails $((1 - $?)) "xl create req-c ([domain req-*] localack = required, xlnetd stopped): exit $rc in $(elapsed "$t0") s; xl said: ${reason:-$(tr '\n' ' ' <<<"$out" | tail -c 400)}"
t0=$EPOCHREALTIME
out=$(xl network-attach $B bridge=xenbr0 script=vif-localack 2>&1); rc=$?
xlab_vif_wait "$b" 1 30
st=$(xs_status "$b" 1)
[ $rc -eq 0 ] && [[ $st == unavailable:* ]] && [ "$(xenstore-read "$(xlab_vif_path "$b" 1)/hotplug-status" 2>/dev/null)" = connected ]
xlab_result failopen-attach $((1 - $?)) "xl network-attach $B script=vif-localack with xlnetd stopped: exit $rc in $(elapsed "$t0") s, vif up with xlnet-status '$st'; warning: $(grep -m1 'without local acknowledgement' /var/log/messages /var/log/xen/xen-hotplug.log 2>/dev/null | cut -d: -f2- | cut -c1-160)"
if command -v xl-patched >/dev/null && [ -n "${p:-}" ]; then
  out=$(xl-patched network-attach $P bridge=xenbr0 localack=required 2>&1); rc=$?
  reason=$(grep -m1 -i 'required' <<<"$out")
  [ $rc -ne 0 ] && [ -n "$reason" ] && ! xenstore-exists "$(xlab_vif_path "$p" 1)"
  xlab_result patched-required-attach-fails $((1 - $?)) "xl-patched network-attach $P localack=required, xlnetd stopped: exit $rc; xl said: ${reason:-$(tr '\n' ' ' <<<"$out" | tail -c 400)}"
  xl-patched destroy $P
fi
xl destroy $B
kill "$flowwatch_pid" 2>/dev/null
phase end

xlab_dump xlnetd "$XLNETD_LOG"
xlab_dump xen-hotplug /var/log/xen/xen-hotplug.log
xlab_dump sink "$SINK_LOG"
xlab_dump guest-$A "$(xlab_console $A)"
xlab_dump guest-$B "$(xlab_console $B)"
[ -z "${p:-}" ] || xlab_dump guest-$P "$(xlab_console $P)"
xlab_dump flows-all "$FLOWS_LIVE.all"
xlab_dump messages /var/log/messages
