#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The introspection files in dbus/ say exactly what a running berthd serves: the test asks berthd
# on a private bus for /org/berth/machine1 and the objects of a machine, an image and a transfer,
# and compares every method, argument (name, type, direction, in order), signal, property and
# annotation with the files.
# Order of members, attributes and whitespace do not count; everything else does.
. "$(dirname "$0")/../lib/libtest.sh"
. "$(dirname "$0")/../lib/berthd.sh"
leak_begin
berthd_setup
command -v xmllint >/dev/null || { echo "1..0 # SKIP xmllint (libxml2-utils) is not installed"; exit 0; }
DBUS_SRC=$(cd "$TESTS_SRC/../dbus" && pwd)

# One line per member, sorted: "method Name(in s name, out o path)", "signal Name(s a)",
# "property Name s read", each followed by its annotations.
cat >"$SCRATCH/canon.py" <<'PY'
import sys
import xml.etree.ElementTree as ET

def annotations(e):
    a = sorted('%s=%s' % (x.get('name'), x.get('value')) for x in e.findall('annotation'))
    return ' [' + ', '.join(a) + ']' if a else ''

def args(e, with_direction):
    out = []
    for a in e.findall('arg'):
        d = (a.get('direction') or 'in') + ' ' if with_direction else ''
        out.append('%s%s %s' % (d, a.get('type'), a.get('name') or ''))
    return '(' + ', '.join(out) + ')'

root = ET.parse(sys.argv[1]).getroot()
found = [i for i in root.iter('interface') if i.get('name') == sys.argv[2]]
if len(found) != 1:
    sys.exit('%s: %d interfaces named %s' % (sys.argv[1], len(found), sys.argv[2]))
lines = []
for m in found[0]:
    if m.tag == 'method':
        lines.append('method %s%s%s' % (m.get('name'), args(m, True), annotations(m)))
    elif m.tag == 'signal':
        lines.append('signal %s%s%s' % (m.get('name'), args(m, False), annotations(m)))
    elif m.tag == 'property':
        lines.append('property %s %s %s%s' % (m.get('name'), m.get('type'), m.get('access'), annotations(m)))
    elif m.tag == 'annotation':
        lines.append('annotation %s=%s' % (m.get('name'), m.get('value')))
print('\n'.join(sorted(lines)))
PY
canon() { python3 "$SCRATCH/canon.py" "$@" 2>&1; }
# The interfaces of berth (not the standard org.freedesktop.DBus.*) an introspection names.
berth_ifaces() { python3 -c 'import sys, xml.etree.ElementTree as ET
print("\n".join(sorted(i.get("name") for i in ET.parse(sys.argv[1]).getroot().iter("interface")
                       if i.get("name").startswith("org.berth."))))' "$1"; }

for f in "$DBUS_SRC"/org.berth.machine1.*.xml; do
	# Well-formed, without fetching the DTD: nothing but the Debian mirror is reachable.
	check "${f##*/} is well-formed XML with one interface" \
		sh -c 'xmllint --noout --nonet "$1" 2>/dev/null && [ "$(xmllint --xpath "count(/node/interface)" "$1")" = 1 ]' sh "$f"
done

# An image in a scratch pool, so that an image object exists.
export BERTH_IMAGE_POOL=$SCRATCH/pool
mkdir -p "$BERTH_IMAGE_POOL/intro"
check "berthd starts" start_berthd
T=$SCRATCH/tree
mk_busybox_tree "$T"
M=$P-intro
"$BERTH_SPAWN" -D "$T" -M "$M" --register=no --console=pipe -- /bin/sleep 300 </dev/null \
	>"$SCRATCH/spawn.out" 2>&1 &
SPAWN=$!; PIDS+=($SPAWN)
wait_for 10 eval "test -n \"\$(cat /proc/$SPAWN/task/*/children 2>/dev/null)\""
LEADER=$(cat /proc/$SPAWN/task/*/children 2>/dev/null | awk '{print $1}')
out=$(call RegisterMachine "$M" "@ay []" "" container "uint32 ${LEADER:-0}" "$T")
check "a machine is registered, so a machine object exists" grep -q objectpath <<<"$out"
MPATH=$(sed -n "s/^(objectpath '\(.*\)',)$/\1/p" <<<"$out")

# A transfer object: an import from a pipe nobody writes to stays until canceled. berthctl
# passes the fd (neither gdbus nor this busctl can). The pipe is opened read-write here first,
# so that neither end waits for the other.
TPATH=
if [ -x "${BERTHCTL:-}" ]; then
	mkfifo "$SCRATCH/stall.fifo"
	exec {FEED}<>"$SCRATCH/stall.fifo"
	DBUS_SYSTEM_BUS_ADDRESS=$BUS "$BERTHCTL" --no-pager --no-ask-password import-tar - intro-xfer \
		<"$SCRATCH/stall.fifo" >"$SCRATCH/import.out" 2>&1 &
	XFER=$!; PIDS+=($XFER)
	transfer_path() { call ListTransfers | grep -o "/org/berth/machine1/transfer/[0-9]*" | head -n1; }
	wait_for 10 eval 'test -n "$(transfer_path)"'
	TPATH=$(transfer_path)
	check "an import from a stalled pipe runs, so a transfer object exists" test -n "$TPATH"
else
	not_ok "an import from a stalled pipe runs: BERTHCTL does not point to the built berthctl"
fi

introspect() {
	busctl --address="$BUS" --xml-interface introspect org.berth.machine1 "$1" >"$2" 2>&1
}
introspect /org/berth/machine1 "$SCRATCH/manager.xml"
introspect "${MPATH:-/nonexistent}" "$SCRATCH/machine.xml"
introspect /org/berth/machine1/image/intro "$SCRATCH/image.xml"
introspect "${TPATH:-/nonexistent}" "$SCRATCH/transfer.xml"
if [ -n "$TPATH" ]; then
	check_eq "$(call CancelTransfer "uint32 ${TPATH##*/}")" "()" "the transfer is canceled"
	check "and berthctl ends" wait_for 10 dead "$XFER"
fi
[ -n "${FEED:-}" ] && exec {FEED}>&-

for iface in Manager Machine Image Transfer; do
	file=$DBUS_SRC/org.berth.machine1.$iface.xml
	served=$SCRATCH/${iface,,}.xml
	check_eq "$(canon "$served" "org.berth.machine1.$iface")" "$(canon "$file" "org.berth.machine1.$iface")" \
		"dbus/${file##*/} matches what berthd serves"
done
check_eq "$(berth_ifaces "$SCRATCH/manager.xml")" org.berth.machine1.Manager \
	"the manager object serves no berth interface without a file"
check_eq "$(berth_ifaces "$SCRATCH/machine.xml")" org.berth.machine1.Machine \
	"a machine object serves no berth interface without a file"
check_eq "$(berth_ifaces "$SCRATCH/image.xml")" org.berth.machine1.Image \
	"an image object serves no berth interface without a file"
check_eq "$(berth_ifaces "$SCRATCH/transfer.xml")" org.berth.machine1.Transfer \
	"a transfer object serves no berth interface without a file"
check_eq "$(cd "$DBUS_SRC" && ls org.berth.machine1.*.xml)" \
	"$(printf 'org.berth.machine1.%s.xml\n' Image Machine Manager Transfer)" \
	"dbus/ has no file for an interface berthd does not serve"

call TerminateMachine "$M" >/dev/null
wait_for 10 dead "$SPAWN"
berthd_teardown
leak_check
[ "$_tap_failed" = 0 ] || sed 's/^/# berthd: /' "$SCRATCH/berthd.log" >&2
tap_done
