#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-spawn's --private-network and --network-veth on busybox trees: what the container sees,
# what the host sees, and that the host link goes away however the container ends.
. "${TESTS_SRC:-$(dirname "$0")/..}/lib/libtest.sh"

need_root
mkscratch

# Payload of the long-running containers: records its links in /mnt (the host reads the tree),
# optionally brings host0 up and waits for its IPv6 link-local address, then waits for /mnt/go.
PAYLOAD='ip -o link >/mnt/links
if [ "$1" = up6 ]; then
	ip link set host0 up || touch /mnt/up-failed
	i=0
	while [ $i -lt 100 ]; do
		a=$(ip -6 -o addr show dev host0 | grep "inet6 fe80:" | grep -v tentative)
		[ -n "$a" ] && break
		sleep 0.1; i=$((i + 1))
	done
	echo "$a" | sed -n "s/.*inet6 \(fe80::[0-9a-f:]*\)\/.*/\1/p" >/mnt/addr6
fi
touch /mnt/ready
while [ ! -e /mnt/go ]; do sleep 0.1; done'

# The host link name of network.c: "ve-NAME", or for names over 12 characters "ve-" + 6
# characters + "-" + the low 20 bits of FNV-1a-32(NAME) in hex. A stable contract.
veth_name() {
	local m=$1 h=2166136261 i c
	if [ ${#m} -le 12 ]; then echo "ve-$m"; return; fi
	for ((i = 0; i < ${#m}; i++)); do
		printf -v c '%d' "'${m:i:1}"
		h=$(( ((h ^ c) * 16777619) & 0xffffffff ))
	done
	printf 've-%s-%05x\n' "${m:0:6}" $((h & 0xfffff))
}

mktree() {
	mk_busybox_tree "$1"
	printf '%s\n' "$PAYLOAD" >"$1/mnt/payload.sh"
}

# Link names in "ip -o link" output (both iproute2's and busybox's), without "@peer".
link_names() { awk -F': ' '{print $2}' "$@" | sed 's/@.*//' | sort; }
link_is_up() { grep -E "^[0-9]+: $2[:@]" "$1" 2>/dev/null | grep -q '[<,]UP[,>]'; }
host_link_exists() { ip -o link show dev "$1" >/dev/null 2>&1; }
# Whether two names (a name, an alternative name) lead to the same host link.
same_link() {
	local a b
	a=$(ip -o link show dev "$1" 2>/dev/null | cut -d: -f1)
	b=$(ip -o link show dev "$2" 2>/dev/null | cut -d: -f1)
	[ -n "$a" ] && [ "$a" = "$b" ]
}

link_gone() { ! host_link_exists "$1"; }

# Jobs we started (the `timeout` wrapping berth-spawn) and links that may be ours, for cleanup
# on any path: kill what descends from our jobs, by PID, then delete our links by exact name.
STARTED=()
OUR_LINKS=()
cleanup_network() {
	local p l
	for p in "${STARTED[@]}"; do
		for l in $(descendants "$p") "$p"; do kill -KILL "$l" 2>/dev/null; done
		wait "$p" 2>/dev/null
	done
	for l in "${OUR_LINKS[@]}"; do
		host_link_exists "$l" && ip link del dev "$l"
	done
	return 0
}
on_cleanup cleanup_network

# The container's PID 1 below berth-spawn PID $1: the descendant whose innermost PID is 1.
container_pid1() {
	local p
	for p in $(descendants "$1"); do
		awk '/^NSpid:/ { if (NF > 2 && $NF == 1) found = 1 } END { exit !found }' \
			"/proc/$p/status" 2>/dev/null && { echo "$p"; return 0; }
	done
	return 1
}

# start_veth NAME TREE [up6]: starts a long-running container; sets JOB (timeout's PID) and
# SPAWN_PID (berth-spawn's). Returns non-zero if it did not get ready.
start_veth() {
	local name=$1 tree=$2
	rm -f "$tree"/mnt/{links,ready,go,addr6,up-failed}
	OUR_LINKS+=("$(veth_name "$name")")
	# libtest's spawn(), but not through a shell function: in the background that would be a
	# subshell, and $! must be timeout's PID so that berth-spawn is its child.
	timeout --kill-after=5 "${SPAWN_TIMEOUT:-60}" "$BERTH_SPAWN" -D "$tree" -M "$name" \
		--network-veth -- /bin/sh /mnt/payload.sh "${3:-}" >"$tree.log" 2>&1 &
	JOB=$!
	STARTED+=("$JOB")
	SPAWN_PID=
	wait_for 5 eval 'SPAWN_PID=$(pgrep -P "$JOB" | head -n1); [ -n "$SPAWN_PID" ] || job_ended "$JOB"'
	# A berth-spawn that fails early must not cost the full wait.
	wait_for 20 eval '[ -e "$tree/mnt/ready" ] || job_ended "$JOB"'
	[ -e "$tree/mnt/ready" ] || {
		diag "container $name did not get ready; its output:"
		sed 's/^/#   /' "$tree.log" >&2
		return 1
	}
}

T1=$SCRATCH/tree1
T2=$SCRATCH/tree2
mktree "$T1"
mktree "$T2"
leak_begin

# --- --private-network: only lo, and it is up and usable --------------------------------------
spawn -D "$T1" --private-network -- /bin/sh -c '
	ip -o link >/mnt/pn-links
	nc -l -p 5555 >/mnt/pn-nc & l=$!
	# Until the listener listens (a loaded machine may take longer than any fixed sleep).
	for i in $(seq 100); do echo hello | nc -w 2 127.0.0.1 5555 2>/dev/null && break; sleep 0.05; done
	sleep 0.2; kill $l 2>/dev/null; true' >"$SCRATCH/pn.log" 2>&1
check_eq "$?" 0 "--private-network: the container runs and exits 0"
check_eq "$(link_names "$T1/mnt/pn-links" 2>/dev/null | tr '\n' ' ')" "lo " \
	"--private-network: the container sees only lo"
check "--private-network: lo is UP" link_is_up "$T1/mnt/pn-links" lo
check_eq "$(cat "$T1/mnt/pn-nc" 2>/dev/null)" hello "--private-network: TCP over 127.0.0.1 works"

# Positive control: without it, the host's interfaces are visible.
HOST_IF=$(ip -o link | link_names | grep -vx lo | head -n1)
if [ -z "$HOST_IF" ]; then
	skip "without --private-network the host's links are visible" "the host has no link but lo"
else
	spawn -D "$T1" -- /bin/sh -c 'ip -o link >/mnt/host-links' >"$SCRATCH/host.log" 2>&1
	check "without --private-network the host's links are visible ($HOST_IF)" \
		grep -qx "$HOST_IF" <(link_names "$T1/mnt/host-links" 2>/dev/null)
fi

# --- --network-veth: host0 inside, ve-NAME on the host while it runs, gone after exit ---------
NAME=bnet-$$
VE=$(veth_name "$NAME")
if start_veth "$NAME" "$T1" up6; then
	check_eq "$(link_names "$T1/mnt/links" | tr '\n' ' ')" "host0 lo " \
		"--network-veth: the container sees lo and host0"
	check "--network-veth: lo is UP" link_is_up "$T1/mnt/links" lo
	if link_is_up "$T1/mnt/links" host0; then
		not_ok "--network-veth: host0 is left down for the guest to configure"
	else
		ok "--network-veth: host0 is left down for the guest to configure"
	fi
	check "--network-veth: the host has $VE while the container runs" host_link_exists "$VE"
	ip -o link show dev "$VE" >"$SCRATCH/ve-link" 2>/dev/null
	check "--network-veth: $VE is UP on the host" link_is_up "$SCRATCH/ve-link" "$VE"

	# The kernel gives both ends an IPv6 link-local address once both are up.
	ADDR=$(cat "$T1/mnt/addr6" 2>/dev/null)
	if [ -e "$T1/mnt/up-failed" ]; then
		skip "the host pings the container over IPv6 link-local" \
			"root in the container could not bring host0 up (CAP_NET_ADMIN not kept)"
	elif [ "$(cat /proc/sys/net/ipv6/conf/all/disable_ipv6 2>/dev/null || echo 1)" != 0 ]; then
		skip "the host pings the container over IPv6 link-local" "IPv6 is disabled on the host"
	else
		wait_for 5 eval "ip -6 -o addr show dev '$VE' scope link | grep -v tentative | grep -q fe80"
		check "the host pings the container over IPv6 link-local (${ADDR:-no address})" \
			eval "[ -n '$ADDR' ] && /bin/busybox ping6 -c 1 -W 3 '$ADDR%$VE' >/dev/null"
	fi
	touch "$T1/mnt/go"
	finish "$JOB" 20
	check_eq "$RC" 0 "--network-veth: the container exits 0"
	check "--network-veth: $VE is gone after the container exited" wait_for 5 link_gone "$VE"
else
	not_ok "--network-veth: the container started"
fi

# --- the host link also goes when the container's PID 1 is SIGKILLed -------------------------
if start_veth "$NAME" "$T1"; then
	PID1=$(container_pid1 "$SPAWN_PID")
	if [ -n "$PID1" ] && host_link_exists "$VE"; then
		kill -KILL "$PID1"
		finish "$JOB" 20
		check "SIGKILL of the container's PID 1: berth-spawn exits" test "$RC" != 124
		check "SIGKILL of the container's PID 1: $VE is gone" wait_for 5 link_gone "$VE"
	else
		not_ok "SIGKILL of the container's PID 1: found PID 1 (${PID1:-none}) and $VE"
	fi
else
	not_ok "SIGKILL of the container's PID 1: the container started"
fi

# --- ... and when berth-spawn itself is SIGTERMed ----------------------------------------------
if start_veth "$NAME" "$T1"; then
	PID1=$(container_pid1 "$SPAWN_PID")
	if host_link_exists "$VE"; then
		kill -TERM "$SPAWN_PID"
		finish "$JOB" 20
		check "SIGTERM of berth-spawn: it exits" test "$RC" != 124
		check "SIGTERM of berth-spawn: $VE is gone" wait_for 5 link_gone "$VE"
		check "SIGTERM of berth-spawn: the container is gone" \
			wait_for 5 eval "[ -z '$PID1' ] || job_ended '$PID1'"
	else
		not_ok "SIGTERM of berth-spawn: $VE exists while the container runs"
	fi
else
	not_ok "SIGTERM of berth-spawn: the container started"
fi

# --- two long names sharing a prefix run at once, with distinct host links --------------------
NA=network-test-long-name-$$-alpha
NB=network-test-long-name-$$-beta
VA=$(veth_name "$NA")
VB=$(veth_name "$NB")
if start_veth "$NA" "$T1"; then
	JA=$JOB
	if start_veth "$NB" "$T2"; then
		JB=$JOB
		check "long names: both host links exist ($VA, $VB)" \
			eval "[ '$VA' != '$VB' ] && host_link_exists '$VA' && host_link_exists '$VB'"
		check "long names: both containers see host0" \
			eval "grep -q host0 '$T1/mnt/links' && grep -q host0 '$T2/mnt/links'"
		check "long names: the full name ve-$NA finds $VA" same_link "ve-$NA" "$VA"
		touch "$T2/mnt/go"
		finish "$JB" 20
	else
		not_ok "long names: the second container started next to the first"
	fi
	touch "$T1/mnt/go"
	finish "$JA" 20
	check "long names: both host links are gone after exit" \
		wait_for 5 eval "link_gone '$VA' && link_gone '$VB'"
else
	not_ok "long names: the first container started"
fi

leak_check
tap_done
