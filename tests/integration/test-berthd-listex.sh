#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# ListMachinesEx (issue 7): one call with every column of `berthctl list`, answered from berthd's
# cache. Real busybox machines on a private bus (one on the host's network, one with a veth whose
# addresses the test sets inside, one whose os-release is too long to keep, a VM registration):
# the entries agree with ListMachines + GetMachine's properties + GetMachineOSRelease +
# GetMachineAddresses; addresses come from berthd's address watch (one rtnetlink socket for all
# namespaces): a change inside shows in the very next call, a flood is followed, too many
# addresses are handed to GetMachineAddresses, a private network's namespace gets an nsid that
# goes with it; berthctl list prints the
# same through ListMachinesEx as through the per-machine calls, and falls back to those against a
# berthd that does not know the method; berthd keeps no fd per machine but the leader's pidfd.
. "$(dirname "$0")/../lib/libtest.sh"
. "$(dirname "$0")/../lib/berthd.sh"
leak_begin
berthd_setup
BERTHCTL=${BERTHCTL:-${BUILD_ROOT:-}/src/ctl/berthctl}
[ -x "$BERTHCTL" ] || { echo "1..0 # SKIP berthctl not built (set BERTHCTL)"; exit 0; }
PY=/usr/bin/python3

T=$SCRATCH/tree
mk_busybox_tree "$T"
T2=$SCRATCH/tree2
mk_busybox_tree "$T2"
T3=$SCRATCH/tree3
mk_busybox_tree "$T3"
# os-release with a NAME longer than berthd keeps (1 KiB): lists must ask for it the old way.
L=$SCRATCH/long
mk_busybox_tree "$L"
rm -f "$L/etc/os-release"
printf 'ID=longos\nNAME="%s"\nVERSION_ID=7\n' "$(head -c 3000 /dev/zero | tr '\0' x)" >"$L/usr/lib/os-release"
check "berthd starts" start_berthd
fds() { ls /proc/"$BERTHD_PID"/fd | wc -l; }
FD0=$(fds)

bc() { DBUS_SYSTEM_BUS_ADDRESS=$BUS BERTH_NO_POLKIT_AGENT=1 "$BERTHCTL" --no-pager "$@"; }
ex() { busctl --address="$BUS" --json=short call org.berth.machine1 /org/berth/machine1 \
	org.berth.machine1.Manager ListMachinesEx t "${1:-0}"; }
# exfield NAME EXPR: a Python expression over entry E (a list, in signature order) of NAME.
exfield() {
	ex "${3:-0}" | $PY -c '
import json, socket, sys
name, expr = sys.argv[1], sys.argv[2]
for E in json.load(sys.stdin)["data"][0]:
    if E[0] == name:
        addrs = sorted("%d %s" % (f, socket.inet_ntop(f, bytes(a))) for f, a in E[11])
        r = eval(expr)
        print(*r) if isinstance(r, tuple) else print(r)' "$1" "$2"
}

bg_spawn a -D "$T" -M "$P-a" --console=pipe -- /bin/sh -c 'echo started; exec sleep 300'
A_SPAWN=$SPAWN
bg_spawn n -D "$T2" -M "$P-n" --network-veth --console=pipe -- /bin/sh -c 'echo started; exec sleep 300'
N_SPAWN=$SPAWN
bg_spawn l -D "$L" -M "$P-l" --console=pipe -- /bin/sh -c 'echo started; exec sleep 300'
L_SPAWN=$SPAWN
for x in a n l; do
	wait_for 15 listed "$P-$x" && wait_for 10 grep -q started "$SCRATCH/$x.out" ||
		{ diag "$(cat "$SCRATCH"/*.out)"; echo "1..0 # SKIP containers did not start"; exit 0; }
done
LN=$(container_pid "$N_SPAWN")
sleep 1000 & VM=$!; PIDS+=($VM)
check "a VM registers" eval "call RegisterMachine '$P-vm' '@ay []' vmsvc vm 'uint32 $VM' '' | grep -q objectpath"

# ---- what the cache has, read at registration ----
check "the new machines' os-release and addresses are read soon after registration" \
	wait_for 10 eval '[ "$(exfield "$P-n" "E[12] & 3")" = 0 ] && [ "$(exfield "$P-a" "E[12] & 3")" = 0 ]'
check_eq "$(exfield "$P-a" "E[8], E[9], E[10], E[12]")" "berth-busybox 1 berth busybox tree 120" \
	"the host-network machine: its own os-release (not the host's), flags 8 (no private network) 16|32|64"
check_eq "$(exfield "$P-n" "E[12] & 15, addrs")" "0 []" "the veth machine: no addresses yet, nothing pending"
check_eq "$(exfield "$P-vm" "E[1], repr(E[8]), E[11], E[12]")" "vm '' [] 0" "a VM: nothing to read, nothing pending"
check_eq "$(exfield "$P-l" "E[12] & 1, repr(E[8])")" "1 ''" "a too long os-release is not kept: flag 1 (ask GetMachineOSRelease)"

# ---- addresses from the watch: current at every call, no refresh needed ----
# The kernel queues an address change to berthd's watch socket before `ip addr` returns, and
# ListMachinesEx applies what is queued before answering: one call with flags 0, no waiting.
nsenter -t "$LN" -n sh -c 'ip addr add 192.0.2.17/24 dev host0 && ip -6 addr add 2001:db8::17/64 dev host0 nodad &&
	ip link set host0 up'
check "an address set after registration is in the very next ListMachinesEx, flags 0 (the address watch)" \
	eval 'exfield "$P-n" "addrs" | grep -q "2 192.0.2.17"'
check_eq "$(exfield "$P-n" "E[12] & 7")" 0 "... and the entry is neither pending nor stale (no time-to-live)"
# ns_view PID: the addresses ip(8) shows in PID's network namespace, loopback scope left out.
ns_view() {
	nsenter -t "$1" -n ip -o addr show | awk '$0 !~ / scope host/ && $0 !~ /tentative/ {
		split($4, a, "/"); print ($3 == "inet" ? 2 : 10), a[1] }' | LC_ALL=C sort
}
wait_for 5 eval '! nsenter -t "$LN" -n ip -o addr | grep -q tentative'
ex_view() { exfield "${2:-$P-n}" "'\\n'.join(addrs)" "${1:-0}" | LC_ALL=C sort; }
check "flags 0: the addresses ip addr shows inside (the IPv6 ones once out of DAD)" \
	wait_for 3 eval '[ "$(ex_view)" = "$(ns_view "$LN")" ]'
check "... among them those the test set" eval 'ex_view | grep -qx "2 192.0.2.17" && ex_view | grep -qx "10 2001:db8::17"'
nsenter -t "$LN" -n ip addr del 192.0.2.17/24 dev host0
check "a removed one is gone from the very next call, flags 0" eval '! exfield "$P-n" "addrs" | grep -q 192.0.2.17'
check_eq "$(ex_view 1)" "$(ns_view "$LN")" "flags 1 (fresh) answers the same"

# A hostile guest: 2,000 changes in a burst, then more addresses than berthd keeps (64), then
# back under. The watch follows (no resync needed for a burst the socket holds); too many
# addresses make the entry "ask GetMachineAddresses" (flag 2), and it is read again (at most
# once a second) when the guest is back under the limit.
for i in $(seq 1000); do echo "addr add 198.18.$((i / 250)).$((i % 250 + 1))/32 dev host0"; echo "addr del 198.18.$((i / 250)).$((i % 250 + 1))/32 dev host0"; done >"$SCRATCH/flood"
nsenter -t "$LN" -n ip -batch "$SCRATCH/flood"
check "after 2,000 changes in a burst: the addresses ip addr shows" wait_for 3 eval '[ "$(ex_view)" = "$(ns_view "$LN")" ]'
for i in $(seq 70); do echo "addr add 198.19.0.$i/32 dev host0"; done >"$SCRATCH/many"
nsenter -t "$LN" -n ip -batch "$SCRATCH/many"
check_eq "$(exfield "$P-n" "E[12] & 3, len(addrs)")" "2 0" "70 addresses: none kept, flag 2 (GetMachineAddresses has them)"
check "... which has all of them" eval '[ "$(busctl --address="$BUS" call org.berth.machine1 /org/berth/machine1 \
	org.berth.machine1.Manager GetMachineAddresses s "$P-n" | grep -o "4 198 19 0" | wc -l)" = 70 ]'
sed 's/ add / del /' "$SCRATCH/many" | nsenter -t "$LN" -n ip -batch -
check "back under the limit: kept again within 3 s, what ip addr shows" \
	wait_for 3 eval '[ "$(exfield "$P-n" "E[12] & 3")" = 0 ] && [ "$(ex_view)" = "$(ns_view "$LN")" ]'

# A machine with only a loopback of its own (no veth moved there: its namespace has no nsid in
# ours until berthd gives it one), and an interface the test makes inside it.
ids() { ip netns list-id | awk '{ print $2 }' | sort -n; }
IDS0=$(ids)
bg_spawn p -D "$T3" -M "$P-p" --private-network --console=pipe -- /bin/sh -c 'echo started; exec sleep 300'
P_SPAWN=$SPAWN
wait_for 15 listed "$P-p" && wait_for 10 grep -q started "$SCRATCH/p.out"
PN=$(container_pid "$P_SPAWN")
check "berthd gave the private network's namespace an nsid in its own" \
	wait_for 3 eval '[ -n "$(comm -13 <(echo "$IDS0") <(ids))" ]'
nsenter -t "$PN" -n sh -c 'ip link add d0 type veth peer name d1 && ip addr add 198.51.100.5/24 dev d0 && ip link set d0 up && ip link set d1 up'
check "an address on an interface made inside shows in the next call, flags 0" \
	eval 'ex_view 0 "$P-p" | grep -qx "2 198.51.100.5"'
check "... and the list is what ip addr shows inside (its IPv6 link-local address once out of DAD)" \
	wait_for 5 eval '[ "$(ex_view 0 "$P-p")" = "$(ns_view "$PN")" ]'

# ---- agreement with the per-machine calls ----
cat >"$SCRATCH/agree.py" <<'PY'
import json, socket, subprocess, sys
bus = sys.argv[1]
def call(method, sig=None, *args, path="/org/berth/machine1", iface="org.berth.machine1.Manager"):
    cmd = ["busctl", "--address=" + bus, "--json=short", "call", "org.berth.machine1", path, iface, method]
    if sig:
        cmd += [sig] + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True)
    return json.loads(p.stdout)["data"] if p.returncode == 0 else None
ex = {E[0]: E for E in call("ListMachinesEx", "t", 1)[0]}
old = {m[0]: m for m in call("ListMachines")[0]}
assert set(ex) == set(old), (set(ex), set(old))
for name, E in ex.items():
    _, cls, svc, path = old[name]
    props = call("GetAll", "s", "org.berth.machine1.Machine", path=path, iface="org.freedesktop.DBus.Properties")[0]
    p = {k: v["data"] for k, v in props.items()}
    want = [name, cls, svc, p["State"], p["Unit"], p["RootDirectory"], p["Leader"], p["Timestamp"]]
    assert E[:8] == want, (E[:8], want)
    osr = call("GetMachineOSRelease", "s", name)
    o = osr[0] if osr else {}
    if E[12] & 1 == 0:
        for k, (v, bit) in enumerate(((o.get("ID", o.get("NAME")), 16), (o.get("VERSION_ID", o.get("VERSION")), 32),
                                     (o.get("PRETTY_NAME", o.get("NAME")), 64))):
            assert (E[8 + k], bool(E[12] & bit)) == (v or "", v is not None), (name, k, E, o)
    addrs = call("GetMachineAddresses", "s", name)
    if E[12] & 2 == 0:
        assert sorted(E[11]) == sorted(addrs[0] if addrs else []), (name, E[11], addrs)
print("ok", len(ex))
PY
check_eq "$($PY "$SCRATCH/agree.py" "$BUS" 2>&1)" "ok 5" \
	"each entry agrees with ListMachines, the properties, GetMachineOSRelease and GetMachineAddresses"
check_eq "$(error_of call ListMachinesEx 'uint64 2')" org.freedesktop.DBus.Error.InvalidArgs "unknown flags are InvalidArgs"
check "an unprivileged caller may call it (read-only, like ListMachines)" \
	eval "runuser -u nobody -- busctl --address='$BUS' call org.berth.machine1 /org/berth/machine1 org.berth.machine1.Manager ListMachinesEx t 1 | grep -q '$P-n'"

# ---- berthctl list: the same either way ----
nouptime() { $PY -c 'import json, sys
d = json.load(sys.stdin)
for m in d["machines"]: m.pop("uptime", None)
print(json.dumps(sorted(d["machines"], key=lambda m: m["machine"]), sort_keys=True))'; }
check_eq "$(bc list -o json | nouptime)" "$(BERTHCTL_LIST_PER_MACHINE=1 bc list -o json | nouptime)" \
	"berthctl list -o json: the same through ListMachinesEx as through the per-machine calls"
table() { bc -a list | sed 's/ [0-9][0-9a-z ]*$//' | sort; }
check_eq "$(table)" "$(BERTHCTL_LIST_PER_MACHINE=1 table)" "berthctl list (table, but the UPTIME column): the same"
check "the long os-release machine still shows its ID (asked the old way)" eval "bc list | grep '^$P-l ' | grep -q longos"

# ---- against a berthd without ListMachinesEx: the old way ----
cat >"$SCRATCH/old.py" <<'PY'
# A berthd of before ListMachinesEx: ListMachines and the per-machine calls of one machine.
import sys
import dbus, dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib
M = "org.berth.machine1.Manager"
class Old(dbus.service.Object):
    @dbus.service.method(M, out_signature="a(ssso)")
    def ListMachines(self):
        return [("oldbox", "container", "oldsvc", "/org/berth/machine1/machine/oldbox")]
    @dbus.service.method(M, in_signature="s", out_signature="a{ss}")
    def GetMachineOSRelease(self, name):
        return {"ID": "oldos", "VERSION_ID": "3"}
    @dbus.service.method(M, in_signature="s", out_signature="a(iay)")
    def GetMachineAddresses(self, name):
        return dbus.Array([(2, dbus.ByteArray(bytes([192, 0, 2, 9])))], signature="(iay)")
class Box(dbus.service.Object):
    @dbus.service.method("org.freedesktop.DBus.Properties", in_signature="s", out_signature="a{sv}")
    def GetAll(self, iface):
        return {"State": dbus.String("running"), "Timestamp": dbus.UInt64(1)}
DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(sys.argv[1])
name = dbus.service.BusName("org.berth.machine1", bus)
Old(bus, "/org/berth/machine1"); Box(bus, "/org/berth/machine1/machine/oldbox")
open(sys.argv[2], "w").write("ready\n")
GLib.MainLoop().run()
PY
if $PY -c 'import dbus, dbus.mainloop.glib, gi.repository.GLib' 2>/dev/null; then
	sed "s|$SCRATCH/bus|$SCRATCH/bus2|" "$SCRATCH/bus.conf" >"$SCRATCH/bus2.conf"
	dbus-daemon --config-file="$SCRATCH/bus2.conf" --nofork --nopidfile 2>>"$SCRATCH/dbus.log" & PIDS+=($!)
	wait_for 10 test -S "$SCRATCH/bus2"
	$PY "$SCRATCH/old.py" "unix:path=$SCRATCH/bus2" "$SCRATCH/old.ready" 2>"$SCRATCH/old.log" & PIDS+=($!)
	wait_for 10 test -e "$SCRATCH/old.ready"
	out=$(DBUS_SYSTEM_BUS_ADDRESS=unix:path=$SCRATCH/bus2 "$BERTHCTL" --no-pager --no-legend list 2>&1)
	check_eq "$(echo "$out" | tr -s ' ' | cut -d' ' -f1-7)" "oldbox container oldsvc oldos 3 192.0.2.9 running" \
		"an older berthd (no ListMachinesEx): berthctl list asks per machine, same columns"
else
	skip "an older berthd: berthctl list falls back" "python3-dbus/python3-gi not installed"
fi

# ---- fds: one per machine (the leader's pidfd), none per list ----
for _ in 1 2 3 4 5; do ex 1 >/dev/null; done
check_eq "$(fds)" "$((FD0 + 5))" "berthd holds one fd per machine (5), none left by lists, workers or the watch"

call TerminateMachine "$P-n" >/dev/null
check "a terminated machine leaves ListMachinesEx" wait_for 15 eval '[ -z "$(exfield "$P-n" "E[0]")" ]'
for x in a l p; do call TerminateMachine "$P-$x" >/dev/null; done
call UnregisterMachine "$P-vm" >/dev/null
check "and so do the others" wait_for 20 eval '[ "$(ex | $PY -c "import json,sys; print(len(json.load(sys.stdin)[\"data\"][0]))")" = 0 ]'
for s in $A_SPAWN $N_SPAWN $L_SPAWN $P_SPAWN; do wait_for 20 dead "$s"; done
check "no nsid is left of the machines' namespaces" wait_for 5 eval '[ -z "$(comm -13 <(echo "$IDS0") <(ids))" ]'

berthd_teardown
leak_check
[ "$_tap_failed" = 0 ] || sed 's/^/# berthd: /' "$SCRATCH/berthd.log" >&2
tap_done
