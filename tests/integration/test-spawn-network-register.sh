#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Machines with host-side network interfaces: berth-spawn --network-veth registers the host end of
# its veth (CreateMachineWithNetwork, or RegisterMachineWithNetwork with --keep-unit), so that
# NetworkInterfaces is that link's index, as with machined; *WithNetwork called by hand with links
# the test makes between the host and a network namespace of its own; bad indices are InvalidArgs
# before polkit is asked; the interfaces survive a berthd restart.
. "$(dirname "$0")/../lib/libtest.sh"
. "$(dirname "$0")/../lib/berthd.sh"
leak_begin
berthd_setup
command -v setpriv >/dev/null || { echo "1..0 # SKIP setpriv not installed"; exit 0; }

T=$SCRATCH/tree
mk_busybox_tree "$T"
check "berthd starts" start_berthd

IA=org.freedesktop.DBus.Error.InvalidArgs

# ifindex LINK: its index on the host, as ip(8) shows it.
ifindex() { ip -o link show "$1" 2>/dev/null | cut -d: -f1; }
# addresses NAME: GetMachineAddresses as sorted "family address" lines.
addresses() {
	busctl --address="$BUS" --json=short call org.berth.machine1 /org/berth/machine1 \
		org.berth.machine1.Manager GetMachineAddresses s "$1" | python3 -c '
import json, socket, sys
for f, a in sorted(json.load(sys.stdin)["data"][0]):
    print(f, socket.inet_ntop(f, bytes(a)))' | sort
}
# ns_view PID: the addresses ip(8) shows in PID's network namespace, loopback scope left out.
ns_view() {
	nsenter -t "$1" -n ip -o addr show | awk '$0 !~ / scope host/ && $0 !~ /tentative/ {
		split($4, a, "/"); print ($3 == "inet" ? 2 : 10), a[1] }' | sort
}
settled() { ! nsenter -t "$1" -n ip -o addr | grep -q tentative; }
nolink() { [ -z "$(ifindex "$1")" ]; }
own_netns() { [ "$(readlink /proc/"$1"/ns/net)" != "$(readlink /proc/self/ns/net)" ]; }

# ---- berth-spawn --network-veth: CreateMachineWithNetwork ----
bg_spawn n -D "$T" -M "$P-n" --network-veth --console=pipe -- /bin/sh -c 'echo started; exec sleep 300'
check "a --network-veth container is registered" wait_for 10 listed "$P-n"
wait_for 5 grep -q started "$SCRATCH/n.out"
LN=$(container_pid "$SPAWN")
VN=$(ifindex "ve-$P-n")
check "its host end ve-$P-n exists" test -n "$VN"
check_eq "$(prop "$P-n" NetworkInterfaces)" "ai 1 $VN" "NetworkInterfaces is the index of ve-$P-n on the host"
check_eq "$(prop "$P-n" Unit)" "s \"machine-$P-n.scope\"" "registered through CreateMachine*: berthd's scope"
nsenter -t "$LN" -n sh -c 'ip addr add 192.0.2.17/24 dev host0 && ip -6 addr add 2001:db8::17/64 dev host0 nodad &&
	ip link set host0 up'
wait_for 5 settled "$LN"
check_eq "$(addresses "$P-n")" "$(ns_view "$LN")" "GetMachineAddresses: what ip addr shows inside"
check "including the address set on host0" grep -qx "2 192.0.2.17" <<<"$(addresses "$P-n")"
call TerminateMachine "$P-n" >/dev/null
check "terminated" wait_for 20 dead "$SPAWN"
check "ve-$P-n is gone with it" wait_for 5 nolink "ve-$P-n"
check "and the machine" wait_for 5 gone "$P-n"

# ---- --keep-unit -U --network-veth: RegisterMachineWithNetwork ----
U=$CGROOT/berthd-test-$$.scope
mkdir "$U"
on_cleanup "rmdir '$U' 2>/dev/null; true"
DBUS_SYSTEM_BUS_ADDRESS=$BUS sh -c 'echo $$ >"$1/cgroup.procs"; shift; exec "$@"' sh "$U" \
	timeout 60 "$BERTH_SPAWN" -D "$T" -M "$P-k" -U --keep-unit --network-veth --console=pipe -- \
	/bin/sh -c 'echo started; exec sleep 300' >"$SCRATCH/k.out" 2>&1 &
SPAWN=$!; PIDS+=($SPAWN)
check "--keep-unit --network-veth registers" wait_for 10 listed "$P-k"
check_eq "$(prop "$P-k" Unit)" "s \"berthd-test-$$.scope\"" "through RegisterMachine*: the unit it runs in"
check_eq "$(prop "$P-k" NetworkInterfaces)" "ai 1 $(ifindex "ve-$P-k")" "NetworkInterfaces is ve-$P-k's index (-U)"
call TerminateMachine "$P-k" >/dev/null
check "terminated" wait_for 20 dead "$SPAWN"
check "ve-$P-k is gone" wait_for 5 nolink "ve-$P-k"

# ---- without a veth: the plain methods, no interfaces ----
bg_spawn p -D "$T" -M "$P-p" --private-network --console=pipe -- /bin/sh -c 'echo started; exec sleep 300'
check "a --private-network container is registered" wait_for 10 listed "$P-p"
check_eq "$(prop "$P-p" NetworkInterfaces)" "ai 0" "without a veth NetworkInterfaces is empty"
call TerminateMachine "$P-p" >/dev/null
wait_for 20 dead "$SPAWN"

# ---- *WithNetwork by hand, with links between the host and a namespace of the test's own ----
unshare --net sleep 1000 & NS1=$!; PIDS+=($NS1)
unshare --net sleep 1000 & NS2=$!; PIDS+=($NS2)
for p in $NS1 $NS2; do wait_for 3 own_netns $p; done
on_cleanup "ip link del vh1-$P 2>/dev/null; ip link del vh2-$P 2>/dev/null; ip link del vh3-$P 2>/dev/null; true"
ip link add "vh1-$P" type veth peer name vc0 netns "$NS1"
ip link add "vh2-$P" type veth peer name vc0 netns "$NS2"
ip link add "vh3-$P" type veth peer name vc1 netns "$NS2"
V1=$(ifindex "vh1-$P"); V2=$(ifindex "vh2-$P"); V3=$(ifindex "vh3-$P")
check "the test's links exist" test -n "$V1" -a -n "$V2" -a -n "$V3"
nsenter -t "$NS1" -n sh -c 'ip addr add 198.51.100.5/24 dev vc0 && ip link set vc0 up'
ip link set "vh1-$P" up

out=$(call RegisterMachineWithNetwork "$P-h1" "@ay []" test container "uint32 $NS1" "" "[$V1]")
check_eq "$out" "(objectpath '/org/berth/machine1/machine/${P}_2dh1',)" "RegisterMachineWithNetwork"
check_eq "$(prop "$P-h1" NetworkInterfaces)" "ai 1 $V1" "NetworkInterfaces is the index given"
wait_for 5 settled "$NS1"
check_eq "$(addresses "$P-h1")" "$(ns_view "$NS1")" "GetMachineAddresses reads the machine's namespace"
check "with the address the test set" grep -qx "2 198.51.100.5" <<<"$(addresses "$P-h1")"
out=$(call CreateMachineWithNetwork "$P-h2" "@ay []" test container "uint32 $NS2" "" "[$V3, $V2]" "@a(sv) []")
check_eq "$out" "(objectpath '/org/berth/machine1/machine/${P}_2dh2',)" "CreateMachineWithNetwork, two links"
check_eq "$(prop "$P-h2" NetworkInterfaces)" "ai 2 $V3 $V2" "both, in the order given"
check "its leader is in berthd's scope" in_scope "$NS2" "$P-h2"

# The registry survives a restart of berthd with the interfaces.
kill -9 "$BERTHD_PID"; wait "$BERTHD_PID" 2>/dev/null
check "berthd restarts" start_berthd
check_eq "$(prop "$P-h1" NetworkInterfaces)" "ai 1 $V1" "NetworkInterfaces survives a restart"
check_eq "$(prop "$P-h2" NetworkInterfaces)" "ai 2 $V3 $V2" "of both machines"

# ---- bad interfaces: InvalidArgs, before polkit and before anything is registered ----
sleep 1000 & LR=$!; PIDS+=($LR)
setpriv --reuid=65534 --regid=65534 --clear-groups sleep 1000 & LU=$!; PIDS+=($LU)
wait_for 3 eval '[ "$(stat -c %u /proc/$LU)" = 65534 ]'
ip link add "vd-$P" type veth peer name "vd2-$P"
VD=$(ifindex "vd-$P")
ip link del "vd-$P"
big="[$(seq -s, 1 1000)]"
asnobody() { runuser -u nobody -- gdbus call --address "$BUS" --dest org.berth.machine1 \
	--object-path /org/berth/machine1 --method org.berth.machine1.Manager."$1" -- "${@:2}" 2>&1; }
for who in call asnobody; do
	leader=$LR; [ $who = asnobody ] && leader=$LU
	for bad in "[0]" "[-1]" "[2147483647]" "[$VD]" "$big" "[$V1, $V1]"; do
		d=${bad:0:14}
		check_eq "$(error_of $who RegisterMachineWithNetwork "$P-bad" "@ay []" "" container "uint32 $leader" "" "$bad")" \
			$IA "$who: RegisterMachineWithNetwork $d is InvalidArgs"
		check_eq "$(error_of $who CreateMachineWithNetwork "$P-bad" "@ay []" "" container "uint32 $leader" "" "$bad" "@a(sv) []")" \
			$IA "$who: CreateMachineWithNetwork $d is InvalidArgs"
	done
done
# nobody owns LU, so only polkit (not running here: the answer is no) can refuse this one.
out=$(asnobody RegisterMachineWithNetwork "$P-bad" "@ay []" "" container "uint32 $LU" "" "[$V1]")
check "valid interfaces from nobody get as far as polkit, which says no" \
	eval 'grep -q "Error.AccessDenied" <<<"$out" && ! grep -q "Only root" <<<"$out"'
check "nothing was registered" gone "$P-bad"
check_eq "$(call GetMachine "$P-h1")" "(objectpath '/org/berth/machine1/machine/${P}_2dh1',)" "berthd still answers"

call UnregisterMachine "$P-h1" >/dev/null
call TerminateMachine "$P-h2" >/dev/null
check "TerminateMachine ends the CreateMachineWithNetwork leader" wait_for 10 dead "$NS2"
wait "$NS2" 2>/dev/null
check "which takes its links with its namespace" wait_for 5 eval 'nolink "vh2-$P" && nolink "vh3-$P"'
kill "$NS1"; wait "$NS1" 2>/dev/null
check "vh1-$P went with the test's namespace" wait_for 5 nolink "vh1-$P"

berthd_teardown
leak_check
[ "$_tap_failed" = 0 ] || sed 's/^/# berthd: /' "$SCRATCH/berthd.log" >&2
tap_done
