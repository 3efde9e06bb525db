#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# SetMachineProperties on the cgroupfs backend, against a real busybox container: the limits
# reach the kernel (cgroup2 files, or on hybrid hosts berthd's own cgroup v1 directories) and
# bite inside; bad input and unprivileged callers change nothing; the directories go with the
# machine, survive a berthd restart, and saved limits come back when the name registers again.
. "$(dirname "$0")/../lib/libtest.sh"
. "$(dirname "$0")/../lib/berthd.sh"
leak_begin
berthd_setup
[ -x "$BERTH_SPAWN" ] || { echo "1..0 # SKIP berth-spawn not built"; exit 0; }

export BERTH_STATE_DIR=$SCRATCH/state
check "berthd starts" start_berthd

IA=org.freedesktop.DBus.Error.InvalidArgs
UNIFIED=0; [ "$CGROOT" = /sys/fs/cgroup ] && UNIFIED=1

# Where a controller's files for machine NAME are: the cgroup2 scope when the cgroup2 tree has
# the controller, else machine.slice/machine-NAME.scope below berthd's own v1 cgroup.
ctl_dir() {
	local ctl=$1 name=$2 base
	if grep -qw "$ctl" "$CGROOT/cgroup.controllers"; then
		echo "$CGROOT/machine.slice/machine-$name.scope"
	else
		[ "$ctl" = io ] && ctl=blkio
		base=$(awk -F: -v c="$ctl" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' \
			"/proc/$BERTHD_PID/cgroup")
		echo "/sys/fs/cgroup/$ctl${base%/}/machine.slice/machine-$name.scope"
	fi
}
v1_leftovers() {
	local c
	for c in memory cpu pids cpuset blkio; do
		find "/sys/fs/cgroup/$c" -type d -name "machine-$P-*.scope" 2>/dev/null
	done
}
# Whatever a failed run leaves in the v1 hierarchies: emptied into the parent, removed.
on_cleanup 'for d in $(v1_leftovers); do for p in $(cat "$d/cgroup.procs" 2>/dev/null); do echo $p >"${d%/machine.slice/*}/cgroup.procs"; done; rmdir "$d"; rmdir "${d%/*}" 2>/dev/null; done; true'
v1_before=$(v1_leftovers)

# The container runs the scripts the test drops into its /q, one by one.
TREE=$SCRATCH/tree
mk_busybox_tree "$TREE"
mkdir -p "$TREE/q"
cat >"$TREE/runq" <<'EOF'
#!/bin/sh
while :; do
	for f in /q/*.sh; do
		[ -e "$f" ] || continue
		sh "$f" >"${f%.sh}.out" 2>&1
		echo $? >"${f%.sh}.tmp" && mv "${f%.sh}.tmp" "${f%.sh}.rc"
		rm -f "$f"
	done
	sleep 0.05
done
EOF
chmod +x "$TREE/runq"
# inside SCRIPT: runs SCRIPT in the container, prints its output, returns its status.
inside() {
	local b="$TREE/q/$(date +%s%N)"
	printf '%s\n' "$1" >"$b.sh.tmp" && mv "$b.sh.tmp" "$b.sh"
	wait_for 60 test -e "$b.rc" || { echo "script $n_script did not finish"; return 99; }
	cat "$b.out"
	return "$(cat "$b.rc")"
}

# start_machine NAME: a container running runq, registered with berthd as NAME.
start_machine() {
	rm -f "$TREE"/q/*
	"$BERTH_SPAWN" -q -D "$TREE" -M "$1" --register=no --console=pipe -- /runq </dev/null \
		>>"$SCRATCH/spawn.log" 2>&1 &
	SPAWN_PID=$!; PIDS+=($SPAWN_PID)
	LEADER=
	wait_for 10 eval 'LEADER=$(cat /proc/$SPAWN_PID/task/*/children 2>/dev/null | tr -d " "); [ -n "$LEADER" ]' ||
		return 1
	wait_for 10 eval 'inside true >/dev/null'
	call RegisterMachine "$1" "@ay []" "" container "uint32 $LEADER" "$TREE" | grep -q objectpath
}
# stop_machine: kills the container and waits until berthd forgot it.
stop_machine() {
	kill -9 "$LEADER" 2>/dev/null
	wait "$SPAWN_PID" 2>/dev/null
	wait_for 10 gone "$1"
}
setp() { call SetMachineProperties "$1" "$2" "$3"; }

check "a busybox container runs and is registered" start_machine "$P-c"
MEM=$(ctl_dir memory "$P-c"); CPU=$(ctl_dir cpu "$P-c"); PID=$(ctl_dir pids "$P-c")
if [ $UNIFIED = 1 ]; then
	MEMF=memory.max; PIDSF=pids.max
else
	MEMF=memory.limit_in_bytes; PIDSF=pids.max
fi

# MemoryMax: in the file, and a process inside that wants more is killed.
check_eq "$(setp "$P-c" false "@a(sv) [('MemoryMax', <uint64 67108864>)]")" "()" "SetMachineProperties MemoryMax=64M"
check_eq "$(cat "$MEM/$MEMF" 2>&1)" 67108864 "MemoryMax shows in $MEMF"
# all_in DIR NAME: every process of machine NAME's cgroup2 scope is listed in DIR.
all_in() {
	local p
	for p in $(find "$CGROOT/machine.slice/machine-$2.scope" -name cgroup.procs -exec cat {} +); do
		# A short-lived process may be gone between the two reads.
		grep -qx "$p" "$1/cgroup.procs" || [ ! -e "/proc/$p" ] || return 1
	done
}
check "every process of the machine is in the memory cgroup" all_in "$MEM" "$P-c"
out=$(inside 'x=$(head -c 20000000 /dev/zero | tr "\0" a); echo ${#x}')
check_eq "$out" 20000000 "20 MB fit under the limit"
out=$(inside 'x=$(head -c 200000000 /dev/zero | tr "\0" a); echo ${#x}')
check "200 MB do not: the allocating process is killed ($(echo $out | tr -d '\n' | head -c 60))" \
	test "$out" != 200000000
if [ $UNIFIED = 1 ]; then
	check "the kernel counted an OOM kill" grep -q '^oom_kill [1-9]' "$MEM/memory.events"
else
	check "the kernel counted an OOM kill" grep -q '^oom_kill [1-9]' "$MEM/memory.oom_control"
fi

# TasksMax: forks beyond it fail inside.
check_eq "$(setp "$P-c" true "@a(sv) [('TasksMax', <uint64 20>)]")" "()" "SetMachineProperties TasksMax=20"
check_eq "$(cat "$PID/$PIDSF")" 20 "TasksMax shows in pids.max"
# ash gives up at the first fork that fails: the count, written without forking, says how far
# it got. Each script runs in its own shell; the machine's other tasks are init and the runner.
inside 'n=0; for i in $(seq 40); do sleep 30 & n=$((n+1)); echo $n >/q/forked; done' >/dev/null
forked=$(cat "$TREE/q/forked" 2>/dev/null)
check "forks beyond 20 tasks fail inside (${forked:-none} succeeded)" \
	eval '[ -n "$forked" ] && [ "$forked" -ge 10 ] && [ "$forked" -lt 20 ]'
check "the kernel counted refused forks" grep -q '^max [1-9]' "$PID/pids.events"
setp "$P-c" true "@a(sv) [('TasksMax', <'infinity'>)]" >/dev/null
inside 'kill $(pidof sleep) 2>/dev/null; true' >/dev/null
check_eq "$(cat "$PID/$PIDSF")" max "TasksMax=infinity lifts the limit"

# CPUQuota, in the friendly form and in systemd's.
check_eq "$(setp "$P-c" true "@a(sv) [('CPUQuota', <'20%'>)]")" "()" "SetMachineProperties CPUQuota=20%"
if [ $UNIFIED = 1 ]; then
	check_eq "$(cat "$CPU/cpu.max")" "20000 100000" "CPUQuota shows in cpu.max"
else
	check_eq "$(cat "$CPU/cpu.cfs_quota_us") $(cat "$CPU/cpu.cfs_period_us")" "20000 100000" "CPUQuota shows as the CFS quota"
fi
check_eq "$(setp "$P-c" true "@a(sv) [('CPUWeight', <uint64 200>), ('AllowedCPUs', <'0'>)]")" "()" "CPUWeight and AllowedCPUs"
if [ $UNIFIED = 1 ]; then
	check_eq "$(cat "$CPU/cpu.weight")" 200 "CPUWeight shows in cpu.weight"
else
	check_eq "$(cat "$CPU/cpu.shares")" 2048 "CPUWeight 200 shows as cpu.shares 2048"
fi
check_eq "$(inside 'grep Cpus_allowed_list /proc/self/status' | awk '{print $2}')" 0 "AllowedCPUs=0 confines the processes inside"
check_eq "$(setp "$P-c" true "@a(sv) [('AllowedCPUs', <@ay []>)]")" "()" "AllowedCPUs empty (all)"
check_eq "$(inside 'grep Cpus_allowed_list /proc/self/status' | awk '{print $2}')" \
	"$(awk '/Cpus_allowed_list/ {print $2}' /proc/$BERTHD_PID/status)" "an empty AllowedCPUs gives every CPU back"

# Bad input: InvalidArgs, and nothing of the call is applied.
mem_before=$(cat "$MEM/$MEMF"); pids_before=$(cat "$PID/$PIDSF")
bad=0
for props in "[('Bogus', <uint64 1>)]" "[('MemoryMax', <'lots'>)]" "[('MemoryMax', <int32 5>)]" \
	"[('CPUWeight', <uint64 0>)]" "[('CPUWeight', <uint64 10001>)]" "[('IOWeight', <uint64 0>)]" \
	"[('TasksMax', <uint64 0>)]" "[('CPUQuota', <'0%'>)]" "[('CPUQuota', <'fast'>)]" \
	"[('AllowedCPUs', <'3-1'>)]" "[('AllowedCPUs', <uint64 1>)]" \
	"[('MemoryMax', <uint64 1048576>), ('TasksMax', <uint64 3>), ('CPUWeight', <uint64 0>)]"; do
	e=$(error_of setp "$P-c" false "@a(sv) $props")
	[ "$e" = $IA ] || { diag "$props: '$e'"; bad=1; }
done
check "unknown properties, wrong types and values out of range are InvalidArgs" test $bad = 0
check_eq "$(cat "$MEM/$MEMF") $(cat "$PID/$PIDSF")" "$mem_before $pids_before" "and nothing was applied"
check_eq "$(error_of setp "$P-none" false "@a(sv) [('TasksMax', <uint64 5>)]")" \
	org.berth.machine1.NoSuchMachine "an unknown machine is NoSuchMachine"

# A property the host cannot apply refuses the whole call.
if [ $UNIFIED = 0 ] && ! ls /sys/fs/cgroup/blkio/ | grep -q 'weight$'; then
	check_eq "$(error_of setp "$P-c" false "@a(sv) [('TasksMax', <uint64 7>), ('IOWeight', <uint64 50>)]")" \
		org.berth.machine1.NoController "IOWeight without a blkio weight file is NoController"
	check_eq "$(cat "$PID/$PIDSF")" "$pids_before" "and TasksMax of the same call was not applied"
else
	check_eq "$(setp "$P-c" true "@a(sv) [('IOWeight', <uint64 50>)]")" "()" "IOWeight"
fi

# Unprivileged callers: polkit (absent here) says no; nothing changes.
asnobody() { runuser -u nobody -- gdbus call --address "$BUS" --dest org.berth.machine1 \
	--object-path "$2" --method "$1" -- "${@:3}" 2>&1; }
mpath=$(call GetMachine "$P-c" | sed -n "s/^(objectpath '\(.*\)',)$/\1/p")
check_eq "$(error_of asnobody org.berth.machine1.Manager.SetMachineProperties /org/berth/machine1 \
	"$P-c" false "@a(sv) [('TasksMax', <uint64 5>)]")" org.freedesktop.DBus.Error.AccessDenied \
	"an unprivileged caller is refused (Manager)"
check_eq "$(error_of asnobody org.berth.machine1.Machine.SetProperties "$mpath" \
	false "@a(sv) [('TasksMax', <uint64 5>)]")" org.freedesktop.DBus.Error.AccessDenied \
	"an unprivileged caller is refused (Machine object)"
check_eq "$(cat "$PID/$PIDSF")" "$pids_before" "and nothing changed"

# The Machine object's method, as root.
out=$(gdbus call --address "$BUS" --dest org.berth.machine1 --object-path "$mpath" \
	--method org.berth.machine1.Machine.SetProperties false "@a(sv) [('TasksMax', <'30'>)]" 2>&1)
check_eq "$out $(cat "$PID/$PIDSF")" "() 30" "Machine.SetProperties (runtime=false) sets TasksMax"

# Persistence: what was set with runtime=false is saved, runtime=true is not.
check "runtime=false limits are saved" \
	eval "grep -qx MemoryMax=67108864 '$BERTH_STATE_DIR/properties/$P-c' && grep -qx TasksMax=30 '$BERTH_STATE_DIR/properties/$P-c'"
check "runtime=true limits are not" eval "! grep -q CPUQuota '$BERTH_STATE_DIR/properties/$P-c'"

# A berthd restart keeps what it made; then the machine stops and every directory goes.
kill -9 "$BERTHD_PID"; wait "$BERTHD_PID" 2>/dev/null
check "berthd starts again after kill -9" start_berthd
check "the machine and its limits survive the restart" \
	eval "! gone $P-c && test \"\$(cat $MEM/$MEMF)\" = 67108864"
stop_machine "$P-c"
check "once the machine stops, its limit directories are gone" \
	wait_for 5 eval "[ \"\$(v1_leftovers)\" = \"$v1_before\" ] && [ ! -d $CGROOT/machine.slice/machine-$P-c.scope ]"

# The same name again: the saved limits hold from registration on, the runtime ones do not.
check "the machine registers again" start_machine "$P-c"
check_eq "$(cat "$MEM/$MEMF" 2>&1) $(cat "$PID/$PIDSF" 2>&1)" "67108864 30" \
	"saved MemoryMax and TasksMax are applied again"
if [ $UNIFIED = 0 ]; then
	check "the runtime CPUQuota is not" \
		eval "[ ! -e $CPU/cpu.cfs_quota_us ] || [ \"\$(cat $CPU/cpu.cfs_quota_us)\" = -1 ]"
fi
check "processes of the new machine are in the limited cgroup" grep -qx "$LEADER" "$MEM/cgroup.procs"
# UnregisterMachine while it runs: the machine leaves, its processes go back unlimited.
call UnregisterMachine "$P-c" >/dev/null
check "an unregistered machine leaves no limit directory behind" \
	wait_for 5 eval "[ \"\$(v1_leftovers)\" = \"$v1_before\" ]"
check "and its processes keep running" kill -0 "$LEADER"
stop_machine "$P-c"

berthd_teardown
leak_check
[ "$_tap_failed" = 0 ] || sed 's/^/# berthd: /' "$SCRATCH/berthd.log" >&2
tap_done
