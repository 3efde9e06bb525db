#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The scale benchmark (issue 7): real machines (busybox, berth-spawn, each with its own PID,
# mount, UTS and IPC namespaces and its scope or cgroup) ramped to 1, 100, 1,000 and 5,000,
# with berthd's systemd scope backend in a testhost (a real systemd, the stock dbus-daemon
# limits) and with its cgroupfs backend on the host (a private bus, no systemd); side by side
# with systemd-machined + systemd-nspawn in the same testhost, up to where machined stops.
#
# Not a test: run it by hand, as root, from the repository root after a build:
#   bench/scale.sh [BUILD_DIR]        (BUILD_DIR defaults to $BUILD, then to build)
# Markdown on stdout, progress on stderr. Every machine, scope, cgroup, the testhost, the
# private bus and the scratch directory go away at the end (also on failure or Ctrl-C).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
build=$(realpath "${1:-${BUILD:-build}}")
STEPS=${BENCH_SCALE_STEPS:-"1 100 1000 5000"}
NSPAWN_STEPS=${BENCH_SCALE_NSPAWN_STEPS:-"1 100 240 300"}
STOP_STEPS=${BENCH_SCALE_STOP_STEPS:-"100 1000"}
STOP_SERIAL=${BENCH_SCALE_STOP_SERIAL:-1} # each stop step also with berthctl's calls one by one
BACKENDS=${BENCH_SCALE_BACKENDS:-"systemd cgroupfs"}
PAR=${BENCH_SCALE_PARALLEL:-100}
K=${BENCH_SCALE_CREATE:-20}          # CreateMachine round trips per checkpoint
RUNS=${BENCH_SCALE_RUNS:-200}        # ListMachines / GetMachine calls per checkpoint
CLI_RUNS=${BENCH_SCALE_CLI_RUNS:-5} # berthctl list / machinectl list runs per checkpoint
SAMPLE_US=${BENCH_SCALE_SAMPLE_US:-2000}
# Machines started at once while ramping up: dbus-daemon lets one user have 256 connections and
# 64 unauthenticated ones, and every berth-spawn connects once to register.
BATCH=${BENCH_SCALE_BATCH:-50}
# machined + nspawn: each nspawn keeps its bus connection and costs PID 1 two match rules, so
# this ramp ends near 250 machines; a step above shows where, after at most this many seconds.
NSPAWN_TIMEOUT=${BENCH_SCALE_NSPAWN_TIMEOUT:-120}

log() { printf '# %s\n' "$*" >&2; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

[ "$(id -u)" = 0 ] || { log "$0 needs root."; exit 1; }
[ -x "$build/src/daemon/berthd" ] || { log "No berthd in $build: build first."; exit 1; }
for t in cc pkg-config busctl; do
	command -v "$t" >/dev/null || { log "$0 needs $t."; exit 1; }
done
[ -x /usr/bin/systemd-nspawn ] || { log "$0 needs systemd-nspawn (systemd-container)."; exit 1; }

# shellcheck source=../tests/lib/testhost.sh
. "$repo/tests/lib/testhost.sh"
# shellcheck source=testhost-berthd.sh
. "$here/testhost-berthd.sh"
# shellcheck source=../tests/lib/berthd.sh
. "$repo/tests/lib/berthd.sh" # berth_bus_config: the private bus of the cgroupfs round
TH=bench-scale-$$
BASE=$(mktemp -d /var/tmp/berth-bench-scale.XXXXXX)
SH=$BASE/shared # bound into the testhost at the same path
chmod 755 "$BASE"
mkdir -p "$SH"
R=$SH/results.txt
: >"$R"
CGROOT=/sys/fs/cgroup/unified
HP=k$$ # name prefix of the host's (cgroupfs) machines: other tests use machine.slice too
started=0 DBUS_PID= BERTHD_PID= SLICE_EXISTED=1
V1_SLICE=/sys/fs/cgroup/systemd/machine.slice V1_SLICE_EXISTED=0
[ -d "$V1_SLICE" ] && V1_SLICE_EXISTED=1

cleanup() {
	local rc=$? f d
	set +e
	trap - EXIT
	# Host processes by PID: the machines' supervisors (their containers die with them), then
	# berthd and the bus. The testhost takes everything inside it along.
	for f in "$SH"/host-*.pids; do
		[ -s "$f" ] && xargs -r kill -KILL <"$f" 2>/dev/null
	done
	[ -n "$BERTHD_PID" ] && kill -KILL "$BERTHD_PID" 2>/dev/null
	[ -n "$DBUS_PID" ] && kill -KILL "$DBUS_PID" 2>/dev/null
	[ "$started" = 1 ] && testhost_stop "$TH"
	sleep 0.5
	for d in "$CGROOT"/machine.slice/machine-"$HP"*.scope "$CGROOT/berth-bench-scale-$$"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
		[ -d "$d" ] && { log "LEFT BEHIND: $d"; rc=1; }
	done
	[ "$SLICE_EXISTED" = 1 ] || rmdir "$CGROOT/machine.slice" 2>/dev/null
	# nspawn in the testhost mirrors its scopes into the host's v1 name=systemd hierarchy and
	# never removes them (nor machine.slice there).
	for d in "$V1_SLICE"/machine-np\\x2d*.scope "$V1_SLICE"/machine-nr\\x2d*.scope; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	[ "$V1_SLICE_EXISTED" = 1 ] || rmdir "$V1_SLICE" 2>/dev/null
	[ -d "$_th_cgroot/berth-testhost-$TH" ] && { log "LEFT BEHIND: $_th_cgroot/berth-testhost-$TH"; rc=1; }
	# The raw figures, also of a run that did not finish.
	[ -n "${BENCH_SCALE_KEEP:-}" ] && cp "$R" "$BENCH_SCALE_KEEP"
	rm -rf --one-file-system "$BASE"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building the clients and the busybox tree..."
# shellcheck disable=SC2046
cc -O2 -Wall -Wextra -o "$SH/registry-client" "$here/registry-client.c" $(pkg-config --cflags --libs libsystemd)
# shellcheck disable=SC2046
cc -O2 -Wall -Wextra -o "$SH/scale-client" "$here/scale-client.c" $(pkg-config --cflags --libs libsystemd)
"$repo/tests/fixtures/busybox-tree.sh" "$SH/bb" >/dev/null
TREE=$SH/bb

# ---- what every phase uses: "${X[@]}" runs a command where the machines live ----
rec() { echo "$*" >>"$R"; }
bus() { "${X[@]}" busctl "$@" 2>/dev/null || true; }
owner() { bus call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetNameOwner s "$1" | sed -n 's/^s "\(.*\)"$/\1/p'; }
owner_pid() { bus call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetConnectionUnixProcessID s "$1" | sed -n 's/^u //p'; }
matches() {
	[ -n "$1" ] || { echo -; return; }
	bus --json=short call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.Debug.Stats \
		GetConnectionStats s "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["MatchRules"]["data"])' 2>/dev/null || echo -
}
conns() { bus call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ListNames | { grep -o '":[0-9.]*"' || true; } | wc -l; }
# "VmRSS RssAnon fds" of PID, in KiB.
proc_mem() {
	"${X[@]}" sh -c 'awk "/^(VmRSS|RssAnon):/ { printf \"%s \", \$2 }" /proc/$1/status; ls /proc/$1/fd | wc -l' sh "$1"
}
# Medians of VmRSS, RssAnon and Pss (KiB) over the last 30 PIDs of a PID file.
sup_mem() {
	"${X[@]}" sh -c 'tail -n 30 "$1" | while read -r p; do
		awk "/^(VmRSS|RssAnon):/ { printf \"%s \", \$2 }" /proc/$p/status 2>/dev/null || continue
		awk "/^Pss:/ { print \$2 }" /proc/$p/smaps_rollup 2>/dev/null || echo 0
	done' sh "$1" | awk 'BEGIN { n = 0 } NF == 3 { r[n] = $1; a[n] = $2; p[n] = $3; n++ }
		function med(v, i, j, t) { for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
			return n ? v[int(n / 2)] : "-" }
		END { print med(r), med(a), med(p) }'
}
# Supervisors still running; a zombie counts as gone (orphans wait for a slow reaper on the host),
# and so does a PID that is no supervisor any more: with 5,000 machines (15,000 PIDs) on a busy
# host PIDs are recycled, and another's process once kept a stop "running" for 400 s.
alive_count() {
	"${X[@]}" sh -c 'n=0; for p in $(cat "$1"); do
		read -r _ _ st _ 2>/dev/null <"/proc/$p/stat" && [ "$st" != Z ] || continue
		read -r c 2>/dev/null <"/proc/$p/comm" && case $c in berth-spawn | systemd-nspawn) n=$((n + 1)) ;; esac
	done; echo $n' sh "$1"
}

# spawn_berth PIDFILE PFX FROM TO: berth-spawn machines PFX-FROM..PFX-TO on the shared
# read-only tree, all in the background at once.
spawn_berth() {
	"${X[@]}" sh -c 'spawn=$1 tree=$2 pids=$3 pfx=$4 i=$5 to=$6
		while [ "$i" -le "$to" ]; do
			"$spawn" -q -D "$tree" --read-only -M "$pfx-$i" --console=pipe -- /bin/sleep 1000000 \
				</dev/null >/dev/null 2>>"$pids.err" &
			echo $! >>"$pids"
			i=$((i + 1))
		done' sh "$SPAWN" "$TREE" "$@"
}
spawn_nspawn() {
	"${X[@]}" sh -c 'tree=$1 pids=$2 pfx=$3 i=$4 to=$5
		while [ "$i" -le "$to" ]; do
			systemd-nspawn -q -D "$tree" --read-only -M "$pfx-$i" --console=pipe -- /bin/sleep 1000000 \
				</dev/null >/dev/null 2>>"$pids.err" &
			echo $! >>"$pids"
			i=$((i + 1))
		done' sh "$TREE" "$@"
}
# wait_listed DAEMON PFX COUNT [TIMEOUT]: until exactly COUNT machines PFX-* are listed.
wait_listed() {
	"${X[@]}" "$SH/scale-client" wait "$1" "$2-" "$3" "${4:-600}" >/dev/null 2>"$SH/wait.err" ||
		{ log "$1: $(cat "$SH/wait.err")"; return 1; }
}
# start_batched LABEL DAEMON SPAWNFN PIDFILE PFX FROM TO TIMEOUT: BATCH machines at a time, each
# batch listed before the next starts.
start_batched() {
	local L=$1 d=$2 fn=$3 pids=$4 pfx=$5 i=$6 to=$7 tmo=$8 e
	while [ "$i" -le "$to" ]; do
		e=$((i + BATCH - 1)); [ "$e" -le "$to" ] || e=$to
		$fn "$pids" "$pfx" "$i" "$e"
		if ! wait_listed "$d" "$pfx" "$e" "$tmo"; then
			rec "$L $to ramp-failed $(cat "$SH/wait.err" | tr '\n' ' ') supervisors-alive $(alive_count "$pids")"
			return 1
		fi
		i=$((e + 1))
	done
}
names() { seq "$2" "$3" | sed "s/^/$1-/"; }
# terminate_all DAEMON CTL PIDFILE PFX N LABEL: CTL terminate of all, timed until none is listed
# and every supervisor has exited.
terminate_all() {
	local d=$1 ctl=$2 pids=$3 pfx=$4 n=$5 t0 tc tl t1 i all
	all=$(names "$pfx" 1 "$n")
	t0=$(now_ms)
	# shellcheck disable=SC2086
	"${X[@]}" env ${CALLS_IN_FLIGHT:+BERTHCTL_CALLS_IN_FLIGHT=$CALLS_IN_FLIGHT} "$ctl" -q terminate $all >/dev/null 2>"$SH/terminate.err" ||
		log "$ctl terminate reported errors: $(wc -l <"$SH/terminate.err") lines, first: $(head -n 1 "$SH/terminate.err")"
	tc=$(now_ms)
	wait_listed "$d" "$pfx" 0 300 || true
	tl=$(now_ms)
	for i in $(seq 6000); do
		[ "$(alive_count "$pids")" = 0 ] && break
		sleep 0.01
	done
	t1=$(now_ms)
	rec "$6 stop $n $((t1 - t0)) left-alive $(alive_count "$pids") ctl-returned $((tc - t0)) unlisted $((tl - t0))"
	: >"$pids"
}

# checkpoint LABEL DAEMON CTL PIDFILE PFX N: everything measured at N running machines.
checkpoint() {
	local L=$1 d=$2 ctl=$3 pids=$4 pfx=$5 n=$6 dpid sysname cp
	log "$L: measuring at $n machines..."
	cp=${d:0:1}c$n
	"${X[@]}" "$SH/registry-client" spawn $((2 * K)) "$SH/lead.pids"
	"${X[@]}" "$SH/registry-client" create "c$n" "$SH/lead.pids" "$d" | sed "s/^/$L $n /" >>"$R"
	"${X[@]}" sh -c 'xargs -r kill -KILL <"$1"' sh "$SH/lead.pids"
	rm -f "$SH/lead.pids"
	wait_listed "$d" "$cp" 0 120 || true
	"${X[@]}" "$SH/scale-client" calls "$d" "$L $n" "$RUNS" ListMachines >>"$R"
	"${X[@]}" "$SH/scale-client" calls "$d" "$L $n" "$RUNS" GetMachine "$pfx-1" >>"$R"
	"${X[@]}" "$SH/registry-client" run "$L $n $ctl-list" "$CLI_RUNS" "$ctl" list >>"$R"
	dpid=$(owner_pid "$DEST")
	sysname=$(owner org.freedesktop.systemd1)
	rec "$L $n daemon $(proc_mem "$dpid") matches $(matches "$(owner "$DEST")") systemd-matches $(matches "$sysname") conns $(conns)"
	rec "$L $n supervisor $(sup_mem "$pids")"
}

# ramp LABEL DAEMON CTL SPAWNFN PFX STEPS: machines up to each step, a checkpoint at each,
# then all stopped at once.
ramp() {
	local L=$1 d=$2 ctl=$3 fn=$4 pfx=$5 steps=$6 prev=0 n t0 t1 pids
	pids=$SH/$PIDPRE-$pfx.pids
	: >"$pids"
	for n in $steps; do
		log "$L: starting machines $((prev + 1))..$n"
		t0=$(now_ms)
		if ! start_batched "$L" "$d" "$fn" "$pids" "$pfx" $((prev + 1)) "$n" "$RAMP_TIMEOUT"; then
			# Past the daemon's wall nothing is reliable any more (machined's PID 1 may be
			# off the bus): no stop timing; the testhost's end takes everything along.
			log "$L: stopped at $n, see the report"
			return 0
		fi
		t1=$(now_ms)
		rec "$L $n ramp $((n - prev)) $((t1 - t0))"
		checkpoint "$L" "$d" "$ctl" "$pids" "$pfx" "$n"
		prev=$n
	done
	[ "$prev" -gt 0 ] || return 0
	log "$L: stopping all $prev..."
	terminate_all "$d" "$ctl" "$pids" "$pfx" "$prev" "$L"
}

# stop_only LABEL DAEMON CTL SPAWNFN PFX N: N machines up, then all stopped (timed). With
# STOP_SERIAL=1 and berthctl, first the same with one TerminateMachine after the other
# (BERTHCTL_CALLS_IN_FLIGHT=1, berthctl before its calls were pipelined), labelled LABEL-serial.
stop_only() {
	local L=$1 d=$2 ctl=$3 fn=$4 pfx=$5 n=$6 pids=$SH/$PIDPRE-$5.pids
	if [ "$STOP_SERIAL" = 1 ] && [ "$ctl" = berthctl ]; then
		: >"$pids"
		log "$L: $n machines up, then stopped one call after the other..."
		start_batched "$L" "$d" "$fn" "$pids" "${pfx}s" 1 "$n" "$RAMP_TIMEOUT" || return 0
		CALLS_IN_FLIGHT=1 terminate_all "$d" "$ctl" "$pids" "${pfx}s" "$n" "$L-serial"
	fi
	: >"$pids"
	log "$L: $n machines up, then stopped at once..."
	start_batched "$L" "$d" "$fn" "$pids" "$pfx" 1 "$n" "$RAMP_TIMEOUT" || return 0
	terminate_all "$d" "$ctl" "$pids" "$pfx" "$n" "$L"
}

# parallel LABEL DAEMON CTL SPAWNFN PFX: PAR machines started at once while GetMachine of a
# running one is sampled every SAMPLE_US.
parallel() {
	local L=$1 d=$2 ctl=$3 fn=$4 pfx=$5 pids=$SH/$PIDPRE-$5.pids t0 t1 sp
	: >"$pids"
	log "$L: $PAR machines started in parallel..."
	$fn "$pids" "$pfx" 0 0
	wait_listed "$d" "$pfx" 1 60
	rm -f "$SH/stop"
	"${X[@]}" "$SH/scale-client" sample "$d" "$L" "$pfx-0" "$SAMPLE_US" "$SH/stop" >"$SH/sample.out" &
	sp=$!
	sleep 1
	t0=$(now_ms)
	$fn "$pids" "$pfx" 1 "$PAR"
	wait_listed "$d" "$pfx" $((PAR + 1)) 300 || rec "$L parallel-failed"
	t1=$(now_ms)
	sleep 0.5
	touch "$SH/stop"
	wait "$sp" || true
	rec "$L parallel $PAR $((t1 - t0))"
	cat "$SH/sample.out" >>"$R"
	"${X[@]}" "$ctl" -q terminate "$pfx-0" >/dev/null 2>&1 || true
	terminate_all "$d" "$ctl" "$pids" "$pfx" "$PAR" "$L-parallel"
}

# berth_phase LABEL: the whole run for berthd on the current "${X[@]}".
berth_phase() {
	local L=$1 bname sname
	bname=$(owner org.berth.machine1)
	sname=$(owner org.freedesktop.systemd1)
	rec "$L names-before $bname ${sname:--}"
	parallel "$L" berthd berthctl spawn_berth "${PB}p"
	for n in $STOP_STEPS; do
		stop_only "$L" berthd berthctl spawn_berth "${PB}t$n" "$n"
	done
	ramp "$L" berthd berthctl spawn_berth "${PB}r" "$STEPS"
	rec "$L names-after $(owner org.berth.machine1) $(owner org.freedesktop.systemd1 || true)"
	rec "$L daemon-restarts $BERTHD_RESTARTS"
}

# ---- with systemd: the testhost ----
if [[ " $BACKENDS " == *" systemd "* ]]; then
	bench_testhost_up "$TH" "$build" --bind "$SH"
	X=(testhost_exec "$TH")
	SPAWN=berth-spawn DEST=org.berth.machine1 PB=s PIDPRE=th RAMP_TIMEOUT=300
	bus call org.berth.machine1 /org/berth/machine1 org.berth.machine1.Manager ListMachines >/dev/null # activates berthd
	BERTHD_RESTARTS=$("${X[@]}" systemctl show -P NRestarts berthd.service)
	berth_phase systemd
	BERTHD_RESTARTS=$("${X[@]}" systemctl show -P NRestarts berthd.service)
	rec "systemd daemon-restarts-end $BERTHD_RESTARTS"
	backend=$("${X[@]}" journalctl -q -o cat -u berthd.service | sed -n 's/.*Using the \([a-z]*\) scope backend.*/\1/p' | head -n 1)
	rec "systemd backend ${backend:-?}"
	"${X[@]}" journalctl -q -p warning -o cat -u berthd.service | sort | uniq -c | sort -rn | head -n 5 | sed 's/^/systemd berthd-warning /' >>"$R" || true

	# machined + nspawn, the same way, up to where machined stops.
	DEST=org.freedesktop.machine1 PIDPRE=thn RAMP_TIMEOUT=$NSPAWN_TIMEOUT
	bus call org.freedesktop.machine1 /org/freedesktop/machine1 org.freedesktop.machine1.Manager ListMachines >/dev/null
	rec "machined names-before $(owner org.freedesktop.machine1) $(owner org.freedesktop.systemd1)"
	parallel machined machined machinectl spawn_nspawn np
	ramp machined machined machinectl spawn_nspawn nr "$NSPAWN_STEPS"
	rec "machined names-after $(owner org.freedesktop.machine1) $(owner org.freedesktop.systemd1)"
	rec "machined versions $("${X[@]}" systemctl --version | head -n 1)"
	testhost_stop "$TH"
	started=0
fi

# ---- without systemd: a private bus and berthd's cgroupfs backend on the host ----
if [[ " $BACKENDS " == *" cgroupfs "* ]]; then
	log "cgroupfs: a private bus and berthd on the host..."
	berth_bus_config "$BASE"
	dbus-daemon --config-file="$BASE/bus.conf" --nofork --nopidfile 2>"$BASE/dbus.log" &
	DBUS_PID=$!
	for _ in $(seq 100); do [ -S "$BASE/bus" ] && break; sleep 0.05; done
	[ -d "$CGROOT/machine.slice" ] || SLICE_EXISTED=0
	mkdir -p "$CGROOT/berth-bench-scale-$$" "$BASE/run" "$BASE/state" "$BASE/pool"
	BERTH_RUNTIME_DIR=$BASE/run BERTH_STATE_DIR=$BASE/state BERTH_IMAGE_POOL=$BASE/pool \
		BERTH_SCOPE_BACKEND=cgroupfs DBUS_SYSTEM_BUS_ADDRESS=unix:path=$BASE/bus \
		sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2"' sh "$CGROOT/berth-bench-scale-$$" \
		"$build/src/daemon/berthd" 2>"$BASE/berthd.log" &
	BERTHD_PID=$!
	X=(env DBUS_SYSTEM_BUS_ADDRESS=unix:path=$BASE/bus PATH="$build/src/ctl:$PATH")
	for _ in $(seq 100); do [ -n "$(owner org.berth.machine1)" ] && break; sleep 0.1; done
	SPAWN=$build/src/spawn/berth-spawn DEST=org.berth.machine1 PB=$HP PIDPRE=host BERTHD_RESTARTS=0 RAMP_TIMEOUT=300
	rec "cgroupfs backend cgroupfs"
	berth_phase cgroupfs
	sort "$BASE/berthd.log" | grep -iv "new machine\|removed" | uniq -c | sort -rn | head -n 5 | sed 's/^/cgroupfs berthd-warning /' >>"$R" || true
	kill -TERM "$BERTHD_PID"; wait "$BERTHD_PID" 2>/dev/null || true; BERTHD_PID=
	kill -TERM "$DBUS_PID"; wait "$DBUS_PID" 2>/dev/null || true; DBUS_PID=
fi

# ---- the report ----
. "$here/scale-report.sh"
scale_report "$R"
