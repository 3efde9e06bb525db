#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-spawn's network links on busybox trees: --network-veth=NAME, --network-bridge=,
# --network-zone=, --network-interface=, --network-veth-extra=, --network-macvlan=,
# --network-ipvlan=, --network-namespace-path=, the [Network] keys, and bad inputs. Traffic
# flows (ping over IPv4 and IPv6 link-local), links are where they belong while a container
# runs, and afterwards the links are exactly as before, after every case.
#
# Everything runs in a network namespace of this test's own (the script re-executes itself
# under `unshare --net`): berth-spawn's "host" is that namespace, and the real host's links,
# routes and bridges are never touched.
. "${TESTS_SRC:-$(dirname "$0")/..}/lib/libtest.sh"

need_root
if [ -z "${BERTH_TEST_NETNS:-}" ]; then
	BERTH_TEST_NETNS=1 exec unshare --net -- "$0" "$@"
fi
ip link set lo up
mkscratch

# links: the namespace's links ("name kind master"), sorted: what every case must leave as it
# found it. Bridges show as kind "bridge", ports with their master.
links() {
	ip -d -o link | awk -F': ' '{ n = $2; sub(/@.*/, "", n); kind = "hw"
		if (match($0, / (veth|bridge|macvlan|ipvlan|ifb|dummy) /)) kind = substr($0, RSTART + 1, RLENGTH - 2)
		m = ""; if (match($0, / master [^ ]+/)) m = substr($0, RSTART + 8, RLENGTH - 8)
		print n, kind, m }' | sort
}
has_link() { ip -o link show dev "$1" >/dev/null 2>&1; }
no_link() { ! has_link "$1"; }
ports_of() { ip -o link show master "$1" 2>/dev/null | awk -F': ' '{ n = $2; sub(/@.*/, "", n); print n }' | sort | tr '\n' ' '; }
hostping() { /bin/busybox ping -c 1 -W 2 "$@" >/dev/null 2>&1; }
hostping6() { /bin/busybox ping6 -c 1 -W 2 "$@" >/dev/null 2>&1; }
ll6() { ip -6 -o addr show dev "$1" scope link 2>/dev/null | grep -v tentative | sed -n 's/.* \(fe80::[0-9a-f:]*\)\/.*/\1/p' | head -n1; }

STARTED=()
cleanup_links() {
	local p l
	for p in "${STARTED[@]}"; do
		for l in $(descendants "$p") "$p"; do kill -KILL "$l" 2>/dev/null; done
		wait "$p" 2>/dev/null
	done
	return 0
}
on_cleanup cleanup_links
# The container's PID 1 below berth-spawn PID $1: the descendant whose innermost PID is 1.
container_pid1() {
	local p
	for p in $(descendants "$1"); do
		awk '/^NSpid:/ { if (NF > 2 && $NF == 1) found = 1 } END { exit !found }' \
			"/proc/$p/status" 2>/dev/null && { echo "$p"; return 0; }
	done
	return 1
}

# The payload of every long-running container: runs /mnt/setup.sh, records its links, says
# ready, runs /mnt/then.sh once /mnt/go2 exists (if it ever does), and ends on /mnt/go.
mktree() {
	mk_busybox_tree "$1"
	cat >"$1/mnt/payload.sh" <<'EOF'
[ -e /mnt/setup.sh ] && . /mnt/setup.sh
ip -o link >/mnt/links
touch /mnt/ready
while [ ! -e /mnt/go ]; do
	if [ -e /mnt/go2 ] && [ -e /mnt/then.sh ] && [ ! -e /mnt/then-done ]; then
		. /mnt/then.sh; touch /mnt/then-done
	fi
	sleep 0.1
done
EOF
}
# inner_links TREE: the link names the container saw.
inner_links() { awk -F': ' '{ n = $2; sub(/@.*/, "", n); print n }' "$1/mnt/links" 2>/dev/null | sort | tr '\n' ' '; }

# start_ct NAME TREE ARGS...: starts a container; sets JOB (timeout's PID) and SPAWN_PID.
start_ct() {
	local name=$1 tree=$2; shift 2
	rm -f "$tree"/mnt/{links,ready,go,go2,then-done,out*}
	timeout --kill-after=5 "${SPAWN_TIMEOUT:-60}" "$BERTH_SPAWN" -D "$tree" -M "$name" \
		--register=no --console=pipe "$@" -- /bin/sh /mnt/payload.sh >"$tree.log" 2>&1 &
	JOB=$!
	STARTED+=("$JOB")
	SPAWN_PID=
	wait_for 5 eval 'SPAWN_PID=$(pgrep -P "$JOB" | head -n1); [ -n "$SPAWN_PID" ] || job_ended "$JOB"'
	wait_for 20 eval '[ -e "$tree/mnt/ready" ] || job_ended "$JOB"'
	[ -e "$tree/mnt/ready" ] || {
		diag "container $name did not get ready; its output:"
		sed 's/^/#   /' "$tree.log" >&2
		return 1
	}
}
stop_ct() { touch "$1/mnt/go"; finish "$2" 20; }

T1=$SCRATCH/t1
T2=$SCRATCH/t2
T3=$SCRATCH/t3
mktree "$T1"; mktree "$T2"; mktree "$T3"
P=bt$$  # a prefix for names of this run
leak_begin
BASE=$(links)
as_before() { check_eq "$(links)" "$BASE" "$1: the links are as before"; }

# What this kernel can make, for the test's own links (this kernel may lack dummy or ipvlan).
if ip link add "${P}probe" type dummy 2>/dev/null; then
	ip link del "${P}probe"; DUMMY=dummy
else
	DUMMY=ifb
fi
IPVLAN=yes
ip link add "${P}p0" type veth peer name "${P}p1"
ip link add link "${P}p0" name "${P}iv" type ipvlan 2>/dev/null && ip link del "${P}iv" || IPVLAN=no
ip link del "${P}p0"

# --- --network-veth=NAME: a chosen host name; IPv4 and IPv6 link-local both ways ------------
VE=${P}ve
cat >"$T1/mnt/setup.sh" <<'EOF'
ip addr add 10.77.0.2/24 dev host0
ip link set host0 up
i=0; while [ $i -lt 100 ]; do
	a=$(ip -6 -o addr show dev host0 | grep "inet6 fe80:" | grep -v tentative)
	[ -n "$a" ] && break; sleep 0.1; i=$((i + 1))
done
echo "$a" | sed -n "s/.* \(fe80::[0-9a-f:]*\)\/.*/\1/p" >/mnt/addr6
EOF
cat >"$T1/mnt/then.sh" <<'EOF'
ping -c 1 -W 2 10.77.0.1 >/dev/null 2>&1 && touch /mnt/out-ping4
ping6 -c 1 -W 2 "$(cat /mnt/host6)%host0" >/dev/null 2>&1 && touch /mnt/out-ping6
EOF
if start_ct "$P-a" "$T1" --network-veth="$VE"; then
	check "veth: the host end has the chosen name $VE" has_link "$VE"
	check_eq "$(inner_links "$T1")" "host0 lo " "veth: the container sees lo and host0"
	ip addr add 10.77.0.1/24 dev "$VE"
	check "veth: the host pings the container over IPv4" wait_for 5 hostping 10.77.0.2
	if [ "$(cat /proc/sys/net/ipv6/conf/all/disable_ipv6 2>/dev/null || echo 1)" != 0 ]; then
		skip "veth: IPv6 link-local both ways" "IPv6 is disabled on this host"
	else
		wait_for 5 eval '[ -n "$(ll6 "$VE")" ]'
		ll6 "$VE" >"$T1/mnt/host6"
		A6=$(cat "$T1/mnt/addr6" 2>/dev/null)
		check "veth: the host pings the container over IPv6 link-local (${A6:-none})" \
			eval '[ -n "$A6" ] && wait_for 5 hostping6 "$A6%$VE"'
	fi
	touch "$T1/mnt/go2"
	wait_for 15 test -e "$T1/mnt/then-done"
	check "veth: the container pings the host over IPv4" test -e "$T1/mnt/out-ping4"
	[ -s "$T1/mnt/host6" ] && check "veth: the container pings the host over IPv6 link-local" \
		test -e "$T1/mnt/out-ping6"
	stop_ct "$T1" "$JOB"
	check_eq "$RC" 0 "veth: the container exits 0"
else
	not_ok "veth: the container started"
fi
as_before "veth"
rm -f "$T1"/mnt/{setup.sh,then.sh,host6,addr6}

# --- --network-bridge=: two machines on a bridge of the test's reach each other --------------
BR=${P}br
ip link add "$BR" type bridge && ip link set "$BR" up
BASE_BR=$(links)
two_on() { # OPTION: T1 (10.78.0.2) and T2 (10.78.0.3) on one bridge; T1 pings T2
	echo 'ip addr add 10.78.0.2/24 dev host0; ip link set host0 up' >"$T1/mnt/setup.sh"
	echo 'ip addr add 10.78.0.3/24 dev host0; ip link set host0 up' >"$T2/mnt/setup.sh"
	echo 'i=0; while [ $i -lt 50 ]; do ping -c 1 -W 1 10.78.0.3 >/dev/null 2>&1 && { touch /mnt/out-ping; break; }; i=$((i + 1)); done' >"$T1/mnt/then.sh"
	start_ct "$P-b1" "$T1" "$1" && J1=$JOB && start_ct "$P-b2" "$T2" "$1" && J2=$JOB
}
if two_on --network-bridge="$BR"; then
	check_eq "$(ports_of "$BR")" "vb-$P-b1 vb-$P-b2 " "bridge: vb-NAME of both machines are ports of $BR"
	touch "$T1/mnt/go2"
	wait_for 30 test -e "$T1/mnt/then-done"
	check "bridge: one machine pings the other" test -e "$T1/mnt/out-ping"
	stop_ct "$T1" "$J1"; stop_ct "$T2" "$J2"
	check "bridge: $BR, which the test made, is still there" has_link "$BR"
	check_eq "$(links)" "$BASE_BR" "bridge: the links are as before (the bridge without ports)"
else
	not_ok "bridge: both machines started"
	stop_ct "$T1" "${J1:-0}"
fi
ip link del "$BR"
as_before "bridge"

# --- --network-zone=: the bridge comes with the first member and goes with the last ----------
Z=${P}z
VZ=vz-$Z
if two_on --network-zone="$Z"; then
	check "zone: $VZ exists while members run" has_link "$VZ"
	check_eq "$(ports_of "$VZ")" "vb-$P-b1 vb-$P-b2 " "zone: both members are ports of $VZ"
	touch "$T1/mnt/go2"
	wait_for 30 test -e "$T1/mnt/then-done"
	check "zone: one member pings the other" test -e "$T1/mnt/out-ping"
	stop_ct "$T1" "$J1"
	check "zone: $VZ stays while a member is left" has_link "$VZ"
	stop_ct "$T2" "$J2"
	check "zone: $VZ is gone with its last member" no_link "$VZ"
else
	not_ok "zone: both members started"
	stop_ct "$T1" "${J1:-0}"
fi
as_before "zone"
rm -f "$T1"/mnt/{setup.sh,then.sh} "$T2/mnt/setup.sh"

# Three members starting at the same moment: one bridge, three ports, nothing left after.
PIDS=()
for i in 1 2 3; do
	T=$SCRATCH/t$i
	rm -f "$T"/mnt/{links,ready,go}
	timeout --kill-after=5 60 "$BERTH_SPAWN" -D "$T" -M "$P-c$i" --register=no --console=pipe \
		--network-zone="$Z" -- /bin/sh /mnt/payload.sh >"$T.log" 2>&1 &
	PIDS+=($!); STARTED+=($!)
done
wait_for 30 eval '[ -e "$T1/mnt/ready" ] && [ -e "$T2/mnt/ready" ] && [ -e "$T3/mnt/ready" ]'
check_eq "$(ports_of "$VZ")" "vb-$P-c1 vb-$P-c2 vb-$P-c3 " "zone: three members started at once are all in $VZ"
check_eq "$(ip -o link show type bridge | grep -c "$VZ")" 1 "zone: and there is one $VZ"
for i in 1 2 3; do touch "$SCRATCH/t$i/mnt/go"; done
for p in "${PIDS[@]}"; do finish "$p" 20; done
check "zone: $VZ is gone after all three stopped at once" no_link "$VZ"
as_before "zone, three at once"

# A member whose supervisor died left an empty bridge (made here by hand, as it would be
# left): the zone's next member to start and stop removes it.
ip link add "$VZ" type bridge
if start_ct "$P-d" "$T1" --network-zone="$Z"; then
	check_eq "$(ports_of "$VZ")" "vb-$P-d " "zone: a member joins the empty bridge left behind"
	stop_ct "$T1" "$JOB"
else
	not_ok "zone: a member starts next to an empty bridge left behind"
fi
check "zone: the empty bridge left behind is gone after that member" no_link "$VZ"
as_before "zone, empty bridge left behind"

# --- --network-interface=: a veth end and a $DUMMY move in, and come back ---------------------
MV=${P}m0
DM=${P}d0
ip link add "$MV" type veth peer name "${P}m1"
ip link add "$DM" type "$DUMMY"
BASE_IF=$(links)
for how in SIGKILL exit; do
	# On the second run the guest renames it: it still comes back under its host name.
	[ $how = exit ] && echo 'ip link set inner0 name renamed0' >"$T1/mnt/then.sh"
	if start_ct "$P-e" "$T1" --network-interface="$MV:inner0" --network-interface="$DM"; then
		check_eq "$(inner_links "$T1")" "$DM inner0 lo " "interface ($how): the container has $DM and $MV as inner0"
		if [ $how = exit ]; then
			touch "$T1/mnt/go2"
			check "interface: the guest renames inner0" wait_for 5 test -e "$T1/mnt/then-done"
		fi
		check "interface ($how): neither is on the host meanwhile" eval 'no_link "$MV" && no_link "$DM"'
		if [ $how = SIGKILL ]; then
			PID1=$(container_pid1 "$SPAWN_PID")
			[ -n "$PID1" ] && kill -KILL "$PID1"
			finish "$JOB" 20
			check "interface: after SIGKILL of the container's PID 1, berth-spawn ends" test "$RC" != 124
		else
			stop_ct "$T1" "$JOB"
			check_eq "$RC" 0 "interface: the container exits 0"
		fi
		check "interface ($how): $MV and $DM are back on the host under their names" \
			wait_for 5 eval 'has_link "$MV" && has_link "$DM"'
		check_eq "$(links)" "$BASE_IF" "interface ($how): the links are as before"
	else
		not_ok "interface ($how): the container started"
	fi
done
rm -f "$T1/mnt/then.sh"

# The host got a new link of the moved one's name meanwhile: it returns under a free name
# the kernel picks (NAME0, NAME1, ...), rather than being lost with the namespace.
if start_ct "$P-e" "$T1" --network-interface="$DM"; then
	ip link add "$DM" type veth peer name "${P}n1"
	stop_ct "$T1" "$JOB"
	RET=$(ip -o link | awk -F': ' -v d="$DM" '{ n = $2; sub(/@.*/, "", n) } n ~ "^" d "[0-9]+$" { print n }')
	check "interface: with its name taken meanwhile it returns as ${RET:-nothing}" \
		eval '[ -n "$RET" ] && ip -d -o link show dev "$RET" | grep -q " $DUMMY "'
	grep -q "under another name" "$T1.log"
	check "interface: berth-spawn says so" test $? = 0
	ip link del "$DM"
	[ -n "$RET" ] && ip link set dev "$RET" name "$DM"
else
	not_ok "interface (name taken): the container started"
fi
check_eq "$(links)" "$BASE_IF" "interface (name taken): the links are as before, once the test renamed it back"

# --- --network-veth-extra= and --network-macvlan= (on the veth end the test made) ------------
if start_ct "$P-f" "$T1" --network-veth-extra="${P}x0:gx0" --network-veth-extra="${P}x1" \
		--network-macvlan="$MV" --network-macvlan="$MV:mvx"; then
	check_eq "$(inner_links "$T1")" "${P}x1 gx0 lo mv-$MV mvx " \
		"veth-extra, macvlan: the container has gx0, ${P}x1, mv-$MV and mvx"
	check "veth-extra: the host ends ${P}x0 and ${P}x1 exist" eval 'has_link "${P}x0" && has_link "${P}x1"'
	stop_ct "$T1" "$JOB"
	check_eq "$RC" 0 "veth-extra, macvlan: the container exits 0"
else
	not_ok "veth-extra, macvlan: the container started"
fi
check "veth-extra, macvlan: everything is gone (the macvlans with the namespace)" \
	wait_for 5 eval '[ "$(links)" = "$BASE_IF" ]'

# --- --network-ipvlan= ------------------------------------------------------------------------
if [ $IPVLAN = yes ]; then
	if start_ct "$P-g" "$T1" --network-ipvlan="$MV"; then
		check_eq "$(inner_links "$T1")" "iv-$MV lo " "ipvlan: the container has iv-$MV"
		stop_ct "$T1" "$JOB"
	else
		not_ok "ipvlan: the container started"
	fi
else
	OUT=$("$BERTH_SPAWN" -D "$T1" -M "$P-g" --register=no --console=pipe --network-ipvlan="$MV" -- /bin/true 2>&1)
	IRC=$?
	check "ipvlan: without kernel support the start fails clearly" \
		eval '[ $IRC != 0 ] && grep -q "no ipvlan support" <<<"$OUT"'
	skip "ipvlan: the container has iv-$MV" "this kernel is built without CONFIG_IPVLAN"
fi
check "ipvlan: the links are as before" wait_for 5 eval '[ "$(links)" = "$BASE_IF" ]'
ip link del "$MV"
ip link del "$DM"
as_before "interface, veth-extra, macvlan, ipvlan"

# --- --network-namespace-path=: joins a namespace the test made -------------------------------
unshare --net sleep 300 &
NSP=$!
STARTED+=("$NSP")
wait_for 5 eval '[ "$(readlink /proc/$NSP/ns/net)" != "$(readlink /proc/self/ns/net)" ]'
nsenter -t "$NSP" -n ip link add nsmark0 type veth peer name nsmark1
if start_ct "$P-h" "$T1" --network-namespace-path=/proc/$NSP/ns/net; then
	check_eq "$(inner_links "$T1")" "lo nsmark0 nsmark1 " "namespace-path: the container is in the test's namespace"
	stop_ct "$T1" "$JOB"
else
	not_ok "namespace-path: the container started"
fi
check_eq "$(nsenter -t "$NSP" -n ip -o link | awk -F': ' '{ n = $2; sub(/@.*/, "", n); print n }' | sort | tr '\n' ' ')" \
	"lo nsmark0 nsmark1 " "namespace-path: that namespace is left as it was"
kill "$NSP"; wait "$NSP" 2>/dev/null
as_before "namespace-path"

# --- the settings file's [Network] keys (trusted directory) ------------------------------------
SD=$SCRATCH/settings
mkdir -p "$SD"
printf '[Network]\nVirtualEthernetExtra=%s:gx5\nZone=%s\n' "${P}x5" "$Z" >"$SD/$P-i.berth"
export BERTH_SETTINGS_DIR=$SD
if start_ct "$P-i" "$T1"; then
	check_eq "$(inner_links "$T1")" "gx5 host0 lo " "settings file: VirtualEthernetExtra= and Zone= apply"
	check_eq "$(ports_of "$VZ")" "vb-$P-i " "settings file: the member is in $VZ"
	stop_ct "$T1" "$JOB"
else
	not_ok "settings file: the container started"
fi
unset BERTH_SETTINGS_DIR
as_before "settings file"
# Beside the image it is untrusted: the links are not made, with a warning.
cp "$SD/$P-i.berth" "$SCRATCH/t1.berth"
BERTH_SETTINGS_DIR=$SCRATCH/none "$BERTH_SPAWN" -D "$T1" -M t1 --register=no --console=pipe -- \
	/bin/sh -c 'ip -o link >/mnt/links' >"$SCRATCH/untrusted.log" 2>&1
check_eq "$(inner_links "$T1" | tr -d ' ')" "$(ip -o link | awk -F': ' '{ n = $2; sub(/@.*/, "", n); print n }' | sort | tr -d '\n')" \
	"settings file beside the image: the links are ignored (host network)"
check "settings file beside the image: a warning names the key" grep -q "Ignoring privileged setting Zone=" "$SCRATCH/untrusted.log"
rm -f "$SCRATCH/t1.berth"
as_before "untrusted settings file"

# --- bad inputs fail clearly, and leave nothing ------------------------------------------------
ip link add "${P}p0" type veth peer name "${P}p1"
BASE_BAD=$(links)
bad() { # DESCRIPTION EXPECTED-MESSAGE ARGS...
	local desc=$1 msg=$2 out rc; shift 2
	out=$("$BERTH_SPAWN" -D "$T1" -M "$P-j" --register=no --console=pipe "$@" -- /bin/true 2>&1)
	rc=$?
	check "bad input, $desc: fails with \"$msg\"" eval '[ $rc != 0 ] && grep -qF -- "$msg" <<<"$out"'
	[ $rc != 0 ] && grep -qF -- "$msg" <<<"$out" || diag "rc=$rc, output: $out"
	check_eq "$(links)" "$BASE_BAD" "bad input, $desc: the links are as before"
}
bad "veth name too long" "Invalid interface name: abcdefghijklmnop" --network-veth=abcdefghijklmnop
bad "veth name in use" "${P}p0 already exists" --network-veth="${P}p0"
bad "zone name too long" "Invalid zone name" --network-zone=abcdefghijklm
bad "bridge missing" "Bridge ${P}nobr does not exist" --network-bridge="${P}nobr"
bad "bridge not a bridge" "${P}p0 is not a bridge" --network-bridge="${P}p0"
bad "bridge and zone" "may not be combined" --network-bridge="${P}p0" --network-zone=x
bad "interface missing" "Network interface ${P}none does not exist" --network-interface="${P}none"
bad "macvlan parent missing" "Network interface ${P}none does not exist" --network-macvlan="${P}none"
bad "bad pair" "Invalid interface name in a:b:c" --network-veth-extra=a:b:c
bad "namespace path with links" "cannot be combined" --network-namespace-path=/proc/self/ns/net -n
bad "namespace path not a namespace" "is not a network namespace" --network-namespace-path=/etc/hostname
# Half-way: the extra veth and the moved interface are made, then the macvlan fails.
bad "failure half-way" "Network interface ${P}none does not exist" \
	--network-veth-extra="${P}x0" --network-interface="${P}p1" --network-macvlan="${P}none"
ip link del "${P}p0"
as_before "bad inputs"

# The zone's lock file: a zone name only this run used, so no one else can wait on it.
rm -f "/run/berth/network/zone-$Z.lock"
leak_check
tap_done
