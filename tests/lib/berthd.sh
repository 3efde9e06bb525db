#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berthd on a private system bus, for integration tests. Source after libtest.sh, as root:
#
#   berthd_setup            needs root; scratch dir, dbus-daemon on $BUS, berthd's cgroup $DCG,
#                           cleanup hooks (kills $PIDS and berthd, removes the test's scopes)
#   start_berthd            starts $BERTHD (state in $RT) in $DCG; waits until it answers
#   call METHOD ARGS...     a Manager method via gdbus: GVariant text, or the error text
#   error_of CMD...         only the D-Bus error name in CMD's output
#   prop MACHINE PROPERTY   a Machine property via busctl ('s "x"', 'u 42', ...)
#   list                    "name class service path" per machine, sorted
#   in_scope PID NAME       PID lives in machine.slice/machine-NAME.scope
#   gone NAME / dead PID    NAME is not listed / PID does not exist
#   wait_for SECONDS CMD... polls CMD every 0.1 s (libtest.sh)
#   listed NAME             NAME is in ListMachines
#   bg_spawn NAME ARGS...   berth-spawn ARGS in the background on $BUS (under libtest's spawn
#                           timeout): its pid in $SPAWN, its output in $SCRATCH/NAME.out
#   spawn_pid PID           the berth-spawn process below PID (e.g. $SPAWN)
#   container_pid PID       the container's PID 1 (host view): berth-spawn's child
#   berthd_teardown         stops berthd and $PIDS, removes the cgroups of berthd_setup (call it
#                           before leak_check)
#
# Variables: $CGROOT (cgroup2 mount), $RT (berthd's runtime dir), $BUS (bus address), $P (a
# name prefix unique to this run: name machines "$P-something" so that cleanup finds their
# scopes), $PIDS (append background processes to kill at exit), $BERTHD_PID, $SCRATCH/berthd.log.

BERTHD=${BERTHD:-${BUILD_ROOT:-}/src/daemon/berthd}

call() {
	gdbus call --address "$BUS" --dest org.berth.machine1 --object-path /org/berth/machine1 \
		--method org.berth.machine1.Manager."$1" -- "${@:2}" 2>&1
}
error_of() { "$@" | sed -n 's/.*GDBus\.Error:\([^:]*\):.*/\1/p'; }
prop() {
	local path
	path=$(call GetMachine "$1" | sed -n "s/^(objectpath '\(.*\)',)$/\1/p")
	busctl --address="$BUS" get-property org.berth.machine1 "$path" org.berth.machine1.Machine "$2" 2>&1
}
list() {
	busctl --address="$BUS" --json=short call org.berth.machine1 /org/berth/machine1 \
		org.berth.machine1.Manager ListMachines |
		python3 -c 'import json,sys; [print(*m) for m in sorted(json.load(sys.stdin)["data"][0])]'
}
# The slice berthd's systemd backend gives machine NAME: FNV-1a of the name, mod 64
# (machine_shard_slice() in src/daemon/scope-systemd.c), computed here on its own.
shard_slice() {
	local h=2166136261 i c
	for ((i = 0; i < ${#1}; i++)); do
		printf -v c '%d' "'${1:i:1}"
		h=$(( ((h ^ c) * 16777619) & 0xffffffff ))
	done
	printf 'machine-shard%02x.slice' $((h % 64))
}
in_scope() { grep -qx "0::/machine.slice/machine-$2.scope" "/proc/$1/cgroup"; }
gone() { ! list | grep -q "^$1 "; }
dead() { ! kill -0 "$1" 2>/dev/null; }
listed() { list | grep -q "^$1 "; }

bg_spawn() {
	local name=$1; shift
	DBUS_SYSTEM_BUS_ADDRESS=$BUS spawn "$@" >"$SCRATCH/$name.out" 2>&1 &
	SPAWN=$!
	PIDS+=($SPAWN)
}
spawn_pid() {
	local p
	for p in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		[ "$(cat /proc/"$p"/comm 2>/dev/null)" = berth-spawn ] && { echo "$p"; return 0; }
		spawn_pid "$p" && return 0
	done
	return 1
}
container_pid() { cat /proc/"$(spawn_pid "$1")"/task/*/children 2>/dev/null | awk '{print $1}'; }
kill_pids() { local p; for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; return 0; }

start_berthd() {
	BERTH_RUNTIME_DIR=$RT DBUS_SYSTEM_BUS_ADDRESS=$BUS NOTIFY_SOCKET=${NOTIFY:-} \
		sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2"' sh "$DCG" "$BERTHD" 2>>"$SCRATCH/berthd.log" &
	BERTHD_PID=$!
	wait_for 10 busctl --address="$BUS" status org.berth.machine1 >/dev/null 2>&1 &&
		wait_for 5 test -n "$(call ListMachines | grep -v Error)"
}

# A scratch image pool ($BERTH_IMAGE_POOL, also in $POOL) and state directory for the berthd
# start_berthd starts next. Immutable trees in it are made deletable again for the cleanup.
berthd_scratch_pool() {
	export BERTH_STATE_DIR=$SCRATCH/state BERTH_IMAGE_POOL=$SCRATCH/pool
	POOL=$BERTH_IMAGE_POOL
	mkdir -p "$POOL"
	on_cleanup 'chattr -R -i "$POOL" 2>/dev/null; true'
}

# berth_bus_config DIR: DIR/bus.conf for a private system bus listening on DIR/bus, that lets
# anyone own and talk to berthd (polkit decides, not the bus). Also used by bench/scale.sh.
berth_bus_config() {
	cat >"$1/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$1/bus</listen>
  <auth>EXTERNAL</auth>
  <includedir>/usr/share/dbus-1/system.d</includedir>
  <policy context="default">
    <allow user="*"/>
    <allow own="org.berth.machine1"/>
    <allow send_destination="org.berth.machine1"/>
    <allow send_destination="org.freedesktop.DBus"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
</busconfig>
CONF
}

berthd_setup() {
	need_root
	if [ ! -x "$BERTHD" ]; then
		echo "1..0 # SKIP berthd not built (set BERTHD)"
		exit 0
	fi
	for t in dbus-daemon gdbus busctl dbus-monitor runuser; do
		command -v $t >/dev/null || { echo "1..0 # SKIP $t not installed"; exit 0; }
	done

	CGROOT=/sys/fs/cgroup/unified
	[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] && CGROOT=/sys/fs/cgroup
	mkscratch
	chmod 755 "$SCRATCH" # an unprivileged caller must reach the bus socket
	RT=$SCRATCH/run
	BUS=unix:path=$SCRATCH/bus
	SLICE_EXISTED=0; [ -d "$CGROOT/machine.slice" ] && SLICE_EXISTED=1
	P=t$$
	PIDS=()

	berth_bus_config "$SCRATCH"

	on_cleanup 'kill -9 ${BERTHD_PID:-} 2>/dev/null; kill_pids'
	on_cleanup 'for d in "$CGROOT"/machine.slice/machine-$P-*.scope "$CGROOT"/machine.slice/berth-spawn@$P-*.service "$CGROOT/berthd-test-$$.scope" "$CGROOT/berthd-test-$$-d"; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done; [ $SLICE_EXISTED = 1 ] || rmdir "$CGROOT/machine.slice" 2>/dev/null; true'

	dbus-daemon --config-file="$SCRATCH/bus.conf" --nofork --nopidfile 2>"$SCRATCH/dbus.log" &
	PIDS+=($!)
	wait_for 10 test -S "$SCRATCH/bus" || { echo "1..0 # SKIP dbus-daemon did not start"; exit 0; }
	# berthd runs in a cgroup of its own, so that a test can see it is never killed wholesale.
	DCG=$CGROOT/berthd-test-$$-d
	mkdir "$DCG"
}

berthd_teardown() {
	[ -n "${BERTHD_PID:-}" ] && { kill -9 "$BERTHD_PID" 2>/dev/null; wait "$BERTHD_PID" 2>/dev/null; }
	BERTHD_PID=
	kill_pids; PIDS=()
	local d
	for d in "$CGROOT"/machine.slice/machine-$P-*.scope "$CGROOT"/machine.slice/berth-spawn@$P-*.service "$CGROOT/berthd-test-$$.scope"; do
		[ -d "$d" ] && wait_for 3 rmdir "$d" 2>/dev/null
	done
	wait_for 3 rmdir "$DCG" 2>/dev/null
	[ "$SLICE_EXISTED" = 1 ] || rmdir "$CGROOT/machine.slice" 2>/dev/null
	return 0
}
