#!/bin/bash
# localack under real Xen: the patched xl/libxl (this folder's build.sh tree,
# laid over the Dom0 with --overlay) writes localack into the vif's backend
# directory, `xl list -l` gives it back (and does not double-free),
# network-attach does the same for a hot-added vif, and bad values fail.
#
#   xenlab/run.sh --scenario libxl-patch/test/xen/localack.scenario.sh \
#                 --overlay "$(libxl-patch/build.sh | tail -n1)"
. /usr/share/xlab/xlab.sh

guest=la1

# The overlay replaced xl: its dry run knows the keyword.
out=$(xl -N network-attach 0 bridge=xenbr0 localack=1 2>&1)
grep -q '"localack": "1"' <<<"$out"; xlab_result patched-xl $((1 - $?)) "$(tr '\n' ' ' <<<"$out")"

# A bad value fails the create and starts nothing.
cat >/tmp/bad.sh <<'EOG'
echo never
EOG
out=$(xlab_guest_create badla --vif 'bridge=xenbr0,localack=yes' --script /tmp/bad.sh 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q "Invalid localack value \`yes'" <<<"$out" && ! xl domid badla >/dev/null 2>&1; then
  xlab_result create-bad-value 1 "exit $rc: $(grep -m1 Invalid <<<"$out")"
else
  xlab_result create-bad-value 0 "exit $rc, domain: $(xl domid badla 2>&1), output: $(tr '\n' ' ' <<<"$out")"
fi

cat >/tmp/$guest.sh <<'EOG'
echo "GUEST up"
EOG
xlab_check guest-create "xl create with vif 'bridge=xenbr0,localack=required'" -- \
  xlab_guest_create $guest --vif 'bridge=xenbr0,localack=required' --script /tmp/$guest.sh --stay
domid=$(xl domid $guest 2>/dev/null)
p0=$(xlab_vif_path "$domid" 0)

v=$(xenstore-read "$p0/localack" 2>&1)
[ "$v" = required ]; xlab_result backend-localack $((1 - $?)) "$p0/localack = '$v'"
v=$(xenstore-read "/libxl/$domid/device/vif/0/localack" 2>&1)
[ "$v" = required ]; xlab_result libxl-localack $((1 - $?)) "/libxl/$domid/device/vif/0/localack = '$v'"
if xlab_vif_wait "$domid" 0 60; then
  xlab_result vif-hotplug 1 "vif$domid.0 hotplug-status=connected (vif-bridge ignores the key)"
else
  xlab_result vif-hotplug 0 "hotplug-status='$(xenstore-read "$p0/hotplug-status" 2>&1)'"
fi

# xl list -l rebuilds the config from the stored JSON and xenstore.
xl list -l $guest >/tmp/list.json 2>/tmp/list.err; rc=$?
if [ $rc -eq 0 ] && grep -q '"localack": "required"' /tmp/list.json; then
  xlab_result list-l 1 "xl list -l exit 0 with \"localack\": \"required\""
else
  xlab_result list-l 0 "exit $rc: $(head -c 300 /tmp/list.err) $(grep -m2 -e localack -e bridge /tmp/list.json)"
fi

# Hot-added vif.
xlab_check network-attach "xl network-attach $guest bridge=xenbr0 localack=satellite" -- \
  xl network-attach $guest bridge=xenbr0 localack=satellite
p1=$(xlab_vif_path "$domid" 1)
v=$(xenstore-read "$p1/localack" 2>&1)
[ "$v" = satellite ]; xlab_result attach-backend-localack $((1 - $?)) "$p1/localack = '$v'"
xlab_vif_wait "$domid" 1 60; xlab_result attach-hotplug $((1 - $?)) "vif$domid.1 hotplug-status=$(xenstore-read "$p1/hotplug-status" 2>&1)"
xl list -l $guest >/tmp/list2.json 2>/tmp/list2.err; rc=$?
n=$(grep -c '"localack"' /tmp/list2.json)
[ $rc -eq 0 ] && [ "$n" = 2 ] && grep -q '"localack": "satellite"' /tmp/list2.json
xlab_result list-l-two-vifs $((1 - $?)) "exit $rc, $n localack entries: $(grep localack /tmp/list2.json | tr -d ' \n')"
xl network-list $guest >/tmp/nl.out 2>&1; rc=$?
[ $rc -eq 0 ]; xlab_result network-list $((1 - $?)) "exit $rc, $(wc -l </tmp/nl.out) lines"

out=$(xl network-attach $guest bridge=xenbr0 'localack=a b' 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "Invalid localack value \`a b'" <<<"$out" && ! xenstore-exists "$(xlab_vif_path "$domid" 2)"
xlab_result attach-bad-value $((1 - $?)) "exit $rc: $(tr '\n' ' ' <<<"$out")"

xlab_check network-detach "xl network-detach $guest 1" -- xl network-detach $guest 1
xlab_check xl-destroy "xl destroy $guest" -- xl destroy $guest
if xlab_wait 60 sh -c "! xl domid $guest && ! xenstore-exists /local/domain/0/backend/vif/$domid"; then
  xlab_result backends-gone 1 "domain $domid and backend/vif/$domid are gone"
else
  xlab_result backends-gone 0 "left over: $(xenstore-ls /local/domain/0/backend/vif 2>&1 | head -n 5)"
fi
xlab_dump list-l /tmp/list2.json
xlab_dump xen-hotplug /var/log/xen/xen-hotplug.log
