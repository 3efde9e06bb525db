#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scale (issue 7), reduced for CI: N (200) real machines started with berth-spawn and registered
# with berthd, under a real systemd (scope backend, in a testhost) and without systemd (cgroupfs
# backend, a private bus), on the stock dbus-daemon limits. Structural properties only, no
# timings: no per-machine match rules in berthd's or systemd's bus connection, no bus connection
# per machine, at most one fd per machine in berthd, no connection dropped, all N listed, each in
# namespaces of its own, and terminating all leaves nothing.
. "$(dirname "$0")/../lib/libtest.sh"
. "$TESTS_SRC/lib/testhost.sh"
. "$TESTS_SRC/lib/berthd.sh"
need_root
testhost_need_build
command -v busctl >/dev/null || { echo "1..0 # SKIP busctl not installed"; exit 0; }

N=${BERTH_SCALE_N:-200}
# A bus round trip can add a match for a moment (a pending job, a query in flight); a leak per
# machine adds N-1.
MATCH_SLACK=4
FD_SLACK=4

leak_begin
mkscratch
POOL=$SCRATCH/pool
mkdir -p "$POOL"
mk_busybox_tree "$POOL/bb"
name=scale$$
on_cleanup "testhost_stop $name"

# Everything below runs through "${X[@]}": inside the testhost, or on the host with the private
# bus in the environment. $SPAWN_BIN, $TREE, $PFX and $CGMS (the machine.slice cgroup as seen by
# "${X[@]}") describe the current round.
bus() { "${X[@]}" busctl "$@" 2>&1; }
owner() { bus call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetNameOwner s "$1" | sed -n 's/^s "\(.*\)"$/\1/p'; }
owner_pid() { bus call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetConnectionUnixProcessID s "$1" | sed -n 's/^u //p'; }
# The bus's own count of match rules on connection $1 (org.freedesktop.DBus.Debug.Stats).
matches() {
	bus --json=short call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.Debug.Stats \
		GetConnectionStats s "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["MatchRules"]["data"])' 2>/dev/null
}
# Connections on the bus (unique names): dbus-daemon allows one user 256 of them.
conns() { bus call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ListNames | grep -o '":[0-9.]*"' | wc -l; }
nfds() { "${X[@]}" sh -c 'ls /proc/$1/fd | wc -l' sh "$1"; }
mgr() { bus call org.berth.machine1 /org/berth/machine1 org.berth.machine1.Manager "$@"; }
# Names of listed machines of this round, one a line, sorted.
listed_names() {
	bus --json=short call org.berth.machine1 /org/berth/machine1 org.berth.machine1.Manager ListMachines |
		python3 -c 'import json,sys; [print(m[0]) for m in json.load(sys.stdin)["data"][0] if m[0].startswith(sys.argv[1])]' "$PFX" | sort
}
nlisted() { listed_names | wc -l; }
want_names() { seq "$1" "$2" | sed "s/^/$PFX/" | sort; }

# start_machines FROM TO: berth-spawn for machines PFX<FROM>..PFX<TO>, all on the one read-only
# tree, in the background; their PIDs appended to $PIDFILE.
start_machines() {
	"${X[@]}" sh -c 'spawn=$1 tree=$2 pfx=$3 pids=$4 from=$5 to=$6 i=$5
		while [ "$i" -le "$to" ]; do
			"$spawn" -q -D "$tree" --read-only -M "$pfx$i" --console=pipe \
				-- /bin/sleep 100000 </dev/null >/dev/null 2>>"$pids.err" &
			echo $! >>"$pids"
			i=$((i + 1))
		done' sh "$SPAWN_BIN" "$TREE" "$PFX" "$PIDFILE" "$1" "$2"
}
# Prints "PID MNT UTS IPC SHARED": how many distinct namespaces of each kind the containers' PID 1s
# (the children of the berth-spawns) have, and how many of those are the caller's own.
ns_counts() {
	"${X[@]}" sh -c 'self=" "; for t in pid mnt uts ipc; do self="$self$(readlink /proc/self/ns/$t) "; done
		for sp in $(cat "$1"); do
			for c in $(cat /proc/$sp/task/*/children 2>/dev/null); do
				for t in pid mnt uts ipc; do echo "$t $(readlink /proc/$c/ns/$t)"; done
			done
		done | sort -u | awk -v self="$self" "{ n[\$1]++; if (index(self, \" \" \$2 \" \")) shared++ }
			END { printf \"%d %d %d %d %d\n\", n[\"pid\"], n[\"mnt\"], n[\"uts\"], n[\"ipc\"], shared }"' sh "$PIDFILE"
}
alive_spawns() { "${X[@]}" sh -c 'n=0; for p in $(cat "$1"); do kill -0 $p 2>/dev/null && n=$((n + 1)); done; echo $n' sh "$PIDFILE"; }
# The testhost's whole mount table; on the shared host only what could be ours (other tests run).
mount_count() { "${X[@]}" sh -c 'grep -cE "$1" /proc/self/mountinfo' sh "${MOUNT_RE:-.}"; }
# Scopes sit in machine.slice (cgroupfs) or in one of its shard slices (systemd backend).
scope_dirs() { "${X[@]}" sh -c 'ls -d "$1"/machine-"$2"*.scope "$1"/machine-shard*.slice/machine-"$2"*.scope 2>/dev/null | wc -l' sh "$CGMS" "$PFX"; }
shard_count() { "${X[@]}" sh -c 'ls -d "$1"/machine-shard*.slice 2>/dev/null | wc -l' sh "$CGMS"; }
has_ex() { bus introspect org.berth.machine1 /org/berth/machine1 org.berth.machine1.Manager | grep -q '^\.ListMachinesEx '; }

# scale_round LABEL: the whole property list against the current "${X[@]}" and berthd.
scale_round() {
	local L=$1 bname sname bpid m1b m1s fd1 mNb mNs fdN nsc t c1 cN i e
	bname=$(owner org.berth.machine1)
	sname=$(owner org.freedesktop.systemd1)
	bpid=$(owner_pid org.berth.machine1)
	check "$L: berthd is on the bus ($bname, PID $bpid)" test -n "$bname" -a -n "$bpid"
	if [ -z "$(matches "$bname")" ]; then
		not_ok "$L: the bus answers GetConnectionStats (org.freedesktop.DBus.Debug.Stats)"
		diag "$(bus --json=short call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.Debug.Stats GetConnectionStats s "$bname")"
	fi

	# One machine first: the baseline every per-machine cost is measured against.
	start_machines 1 1
	check "$L: machine 1 registers" wait_for 30 eval '[ "$(nlisted)" = 1 ]'
	sleep 1 # the deferred unit-state query of a new machine
	m1b=$(matches "$bname"); fd1=$(nfds "$bpid"); c1=$(conns)
	[ -n "$sname" ] && m1s=$(matches "$sname")

	# 50 at a time, as the bus wants it: one user may have 64 connections authenticating at once.
	t=$SECONDS
	for ((i = 2; i <= N; i = e + 1)); do
		e=$((i + 49 < N ? i + 49 : N))
		start_machines "$i" "$e"
		wait_for 120 eval '[ "$(nlisted)" = "$e" ]' || break
	done
	check "$L: all $N machines register" wait_for 30 eval '[ "$(nlisted)" = "$N" ]'
	diag "$L: $((N - 1)) machines started and listed in $((SECONDS - t)) s"
	check_eq "$(listed_names)" "$(want_names 1 "$N")" "$L: ListMachines lists every one of them by name"
	if has_ex; then
		check_eq "$(bus --json=short call org.berth.machine1 /org/berth/machine1 org.berth.machine1.Manager ListMachinesEx t 0 |
			python3 -c 'import json,sys; print(sum(1 for m in json.load(sys.stdin)["data"][0] if m[0].startswith(sys.argv[1])))' "$PFX" 2>&1)" \
			"$N" "$L: ListMachinesEx returns all $N"
	else
		skip "$L: ListMachinesEx returns all $N" "berthd has no ListMachinesEx in this tree yet (issue 7, H6)"
	fi
	check_eq "$(alive_spawns)" "$N" "$L: all $N berth-spawn supervisors run"
	check_eq "$(scope_dirs)" "$N" "$L: each has its scope cgroup"
	if [ -n "$sname" ]; then
		# systemd walks a slice's every member at each start and stop: a flat machine.slice
		# would make both cost O(N) (scope-systemd.h).
		check "$L: ... spread over machine.slice's shard slices ($(shard_count) of 64)" \
			test "$(shard_count)" -ge $((N < 64 ? N / 2 : 32))
	fi
	nsc=$(ns_counts)
	check_eq "$nsc" "$N $N $N $N 0" \
		"$L: $N distinct PID, mount, UTS and IPC namespaces, none the host's (pid mnt uts ipc shared)"
	sleep 1
	mNb=$(matches "$bname"); fdN=$(nfds "$bpid"); cN=$(conns)
	diag "$L: berthd match rules $m1b at 1 machine, $mNb at $N; open fds $fd1 -> $fdN ($(awk -v a="$fd1" -v b="$fdN" -v n="$N" 'BEGIN { printf "%.2f", (b - a) / (n - 1) }') per machine)"
	check "$L: berthd's match rules do not grow with N ($m1b at 1, $mNb at $N)" \
		test -n "$mNb" -a -n "$m1b" -a "${mNb:-0}" -le $((${m1b:-0} + MATCH_SLACK))
	check "$L: berthd holds at most one fd per machine ($fd1 at 1, $fdN at $N)" \
		test "$fdN" -le $((fd1 + N - 1 + FD_SLACK))
	check "$L: no bus connection per machine ($c1 connections at 1, $cN at $N; the bus allows a user 256)" \
		test "$cN" -le $((c1 + MATCH_SLACK))
	if [ -n "$sname" ]; then
		mNs=$(matches "$sname")
		diag "$L: systemd (PID 1) match rules $m1s at 1 machine, $mNs at $N"
		check "$L: systemd's match rules do not grow with N ($m1s at 1, $mNs at $N)" \
			test -n "$mNs" -a -n "$m1s" -a "${mNs:-0}" -le $((${m1s:-0} + MATCH_SLACK))
	fi
	check_eq "$(GetMachine_ok "$PFX$N")" yes "$L: GetMachine answers with $N machines"

	# Stop them all through berthd, as an administrator would: one berthctl terminate, whose
	# calls are pipelined on its one connection. A name that is not there, in the middle, is
	# reported alone (exit 3, as one call at a time did) and stops none of the others.
	t=$SECONDS
	"${X[@]}" sh -c 'ctl=$1; shift; exec "$ctl" -q terminate "$@"' sh "$CTL_BIN" $(want_names 1 $((N / 2))) \
		"${PFX}ghost" $(want_names $((N / 2 + 1)) "$N") >/dev/null 2>"$SCRATCH/terminate.err"
	check_eq "$?" 3 "$L: berthctl terminate of all $N and one unknown name: exit 3 (no such machine)"
	check "$L: ... its only complaint is about that name ($(head -c 300 "$SCRATCH/terminate.err"))" \
		eval '[ "$(wc -l <"$SCRATCH/terminate.err")" = 1 ] && grep -q "^Failed to terminate machine ${PFX}ghost: " "$SCRATCH/terminate.err"'
	check "$L: after terminate, ListMachines lists none of them" wait_for 120 eval '[ "$(nlisted)" = 0 ]'
	check "$L: ... every berth-spawn has exited" wait_for 60 eval '[ "$(alive_spawns)" = 0 ]'
	diag "$L: all stopped in $((SECONDS - t)) s"
	check "$L: ... no machine cgroup is left" wait_for 30 eval '[ "$(scope_dirs)" = 0 ]'
	if [ -n "$sname" ]; then
		check_eq "$("${X[@]}" systemctl list-units --all --plain --no-legend "machine-$PFX*" 2>&1)" "" \
			"$L: ... no machine scope unit is left"
	fi
	check_eq "$(mount_count)" "$MOUNTS0" "$L: ... the mount table is as before"
	check_eq "$(owner org.berth.machine1)" "$bname" "$L: berthd kept its bus connection ($bname) throughout"
	check_eq "$(owner_pid org.berth.machine1)" "$bpid" "$L: ... and is the same process"
	if [ -n "$sname" ]; then
		check_eq "$(owner org.freedesktop.systemd1)" "$sname" "$L: systemd kept its bus connection ($sname)"
	fi
	if "${X[@]}" test -s "$PIDFILE.err"; then
		diag "$L: berth-spawn said:" "$("${X[@]}" sh -c 'sort "$1" | uniq -c | sort -rn | head -5' sh "$PIDFILE.err")"
	fi
}
GetMachine_ok() { mgr GetMachine s "$1" | grep -q '^o ' && echo yes || echo no; }

# ---- with systemd: the testhost, berthd's systemd scope backend, the stock bus limits ----
testhost_up_with_build "$name" --bind "$POOL:/var/lib/machines"
inside() { testhost_exec "$name" "$@"; }
X=(testhost_exec "$name")
SPAWN_BIN=berth-spawn CTL_BIN=berthctl TREE=/var/lib/machines/bb PFX=sd PIDFILE=/run/berth-scale.pids
CGMS=/sys/fs/cgroup/machine.slice
check "the testhost's dbus-daemon runs with the stock match limit (no local configuration)" \
	eval '! inside test -e /etc/dbus-1/system-local.conf'
mgr ListMachines >/dev/null # activates berthd
check "berthd uses its systemd scope backend" wait_for 5 eval \
	'inside journalctl -q -o cat -u berthd.service | grep -q "Using the systemd scope backend"'
MOUNTS0=$(mount_count)
scale_round systemd
on_cleanup "inside sh -c 'xargs -r kill -KILL <$PIDFILE' 2>/dev/null"
[ "$_tap_failed" = 0 ] || inside journalctl -u berthd.service --no-pager -n 30 2>&1 | sed 's/^/# /' >&2
testhost_stop "$name"

# ---- without systemd: a private bus, berthd's cgroupfs backend on the host ----
berthd_setup
PIDFILE=$SCRATCH/spawn.pids
on_cleanup 'xargs -r kill -KILL <"$PIDFILE" 2>/dev/null'
X=(env DBUS_SYSTEM_BUS_ADDRESS="$BUS")
SPAWN_BIN=$BERTH_SPAWN CTL_BIN=${BERTHCTL:-$BUILD_ROOT/src/ctl/berthctl} TREE=$POOL/bb PFX=$P-
CGMS=$CGROOT/machine.slice
MOUNT_RE="$SCRATCH|/run/berth|machine"
MOUNTS0=$(mount_count)
BERTH_SCOPE_BACKEND=cgroupfs start_berthd
check "berthd (cgroupfs) starts on the private bus" test -n "$(owner org.berth.machine1)"
scale_round cgroupfs
berthd_teardown
leak_check
tap_done
