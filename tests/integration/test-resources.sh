#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Resource limits of a machine from its start: --property= and the settings file's [Resources]
# reach the cgroup files (cgroup2 where it has the controller, else berth's own cgroup v1
# directories) whether berth-spawn runs alone or registered with berthd (cgroupfs backend); the
# limits bite inside; a limit the host cannot apply refuses the start and names what is missing;
# Device= makes a node usable inside and DeviceAllow= lets the container make it; what
# set-property saved holds at the next start; berthd shows the limits in force (ResourceLimits).
. "$(dirname "$0")/../lib/libtest.sh"
. "$(dirname "$0")/../lib/berthd.sh"
leak_begin
berthd_setup
[ -x "$BERTH_SPAWN" ] || { echo "1..0 # SKIP berth-spawn not built"; exit 0; }

export BERTH_STATE_DIR=$SCRATCH/state
export BERTH_SETTINGS_DIR=$SCRATCH/settings
mkdir -p "$BERTH_SETTINGS_DIR"
T=$SCRATCH/tree
mk_busybox_tree "$T"

# ctl_dir CTL NAME [PID]: where machine NAME's files of controller CTL are: its cgroup2 scope when
# cgroup2 has CTL, else machine.slice/machine-NAME.scope below PID's own v1 cgroup (berth-spawn
# runs where this shell is, berthd in its own).
ctl_dir() {
	local ctl=$1 name=$2 pid=${3:-$$} base
	if grep -qw "$ctl" "$CGROOT/cgroup.controllers"; then
		echo "$CGROOT/machine.slice/machine-$name.scope"
	else
		[ "$ctl" = io ] && ctl=blkio
		base=$(awk -F: -v c="$ctl" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' \
			"/proc/$pid/cgroup")
		echo "/sys/fs/cgroup/$ctl${base%/}/machine.slice/machine-$name.scope"
	fi
}
v2() { grep -qw "$1" "$CGROOT/cgroup.controllers"; }
v1_leftovers() {
	local c
	for c in memory cpu pids cpuset blkio devices; do
		find "/sys/fs/cgroup/$c" -type d -name "machine-$P-*.scope" 2>/dev/null
	done
}
on_cleanup 'for d in $(v1_leftovers); do for p in $(cat "$d/cgroup.procs" 2>/dev/null); do echo $p >"${d%/machine.slice/*}/cgroup.procs"; done; rmdir "$d"; rmdir "${d%/*}" 2>/dev/null; done; true'
v1_before=$(v1_leftovers)

# A loop device of our own for the bandwidth limits (and as a device to bind in).
truncate -s 64M "$SCRATCH/disk.img"
LOOP=$(losetup -f --show "$SCRATCH/disk.img") || { echo "1..0 # SKIP no loop device"; exit 0; }
on_cleanup "losetup -d $LOOP 2>/dev/null; true"
LOOPDEV=$(lsblk -dno MAJ:MIN "$LOOP" | tr -d ' ')

# run NAME ARGS... -- CMD: an unregistered container in the background; waits until CMD said
# "started".
run() {
	local name=$1; shift
	spawn -D "$T" -M "$name" --register=no --console=pipe "$@" >"$SCRATCH/$name.out" 2>&1 &
	SPAWN=$!; PIDS+=($SPAWN)
	wait_for 20 grep -q started "$SCRATCH/$name.out"
}
# stop: the container's PID 1 dies, berth-spawn cleans up and exits.
stop() {
	local sp
	sp=$(spawn_pid "$SPAWN")
	kill -9 "$(container_pid "$SPAWN")" 2>/dev/null
	wait "$SPAWN" 2>/dev/null
	[ -z "$sp" ] || wait_for 10 dead "$sp"
}

# ---- berth-spawn alone: every property reaches its file ----
N=$P-a
args=(--property=MemoryMax=64M --property=MemoryHigh=48M --property=TasksMax=20 --property=CPUQuota=20%
	--property=CPUWeight=200 --property=AllowedCPUs=0 "--property=IOWriteBandwidthMax=$LOOP 1M"
	"--property=IOReadBandwidthMax=$LOOP 2M")
SWAP=0
if v2 memory || [ -e "$(ctl_dir memory "$N")/../../memory.memsw.limit_in_bytes" ] ||
	[ -e /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes ]; then
	SWAP=1; args+=(--property=MemorySwapMax=16M)
fi
check "berth-spawn starts with every limit given" run "$N" "${args[@]}" -- /bin/sh -c 'echo started; exec sleep 300'
MEM=$(ctl_dir memory "$N"); CPU=$(ctl_dir cpu "$N"); PID=$(ctl_dir pids "$N"); SET=$(ctl_dir cpuset "$N")
IO=$(ctl_dir io "$N")
if v2 memory; then
	check_eq "$(cat "$MEM/memory.max") $(cat "$MEM/memory.high")" "67108864 50331648" "MemoryMax, MemoryHigh: memory.max, memory.high"
	[ $SWAP = 1 ] && check_eq "$(cat "$MEM/memory.swap.max")" 16777216 "MemorySwapMax: memory.swap.max"
else
	check_eq "$(cat "$MEM/memory.limit_in_bytes") $(cat "$MEM/memory.soft_limit_in_bytes")" "67108864 50331648" \
		"MemoryMax, MemoryHigh: v1 memory.limit_in_bytes, memory.soft_limit_in_bytes"
	if [ $SWAP = 1 ]; then
		check_eq "$(cat "$MEM/memory.memsw.limit_in_bytes")" $((67108864 + 16777216)) \
			"MemorySwapMax: v1 memory.memsw.limit_in_bytes is memory + swap"
	else
		skip "MemorySwapMax" "no swap accounting (memory.memsw.*) on this host"
	fi
fi
check_eq "$(cat "$PID/pids.max")" 20 "TasksMax: pids.max"
if v2 cpu; then
	check_eq "$(cat "$CPU/cpu.max") $(cat "$CPU/cpu.weight")" "20000 100000 200" "CPUQuota, CPUWeight: cpu.max, cpu.weight"
else
	check_eq "$(cat "$CPU/cpu.cfs_quota_us") $(cat "$CPU/cpu.cfs_period_us") $(cat "$CPU/cpu.shares")" \
		"20000 100000 2048" "CPUQuota, CPUWeight: v1 cpu.cfs_quota_us, cpu.cfs_period_us, cpu.shares"
fi
check_eq "$(cat "$SET/cpuset.cpus")" 0 "AllowedCPUs: cpuset.cpus"
LEADER=$(container_pid "$SPAWN")
check_eq "$(awk '/Cpus_allowed_list/ {print $2}' /proc/$LEADER/status)" 0 "AllowedCPUs=0 confines the container"
if v2 io; then
	check "IO*BandwidthMax: io.max" grep -q "^$LOOPDEV rbps=2097152 wbps=1048576" "$IO/io.max"
else
	check_eq "$(cat "$IO/blkio.throttle.read_bps_device") $(cat "$IO/blkio.throttle.write_bps_device")" \
		"$LOOPDEV 2097152 $LOOPDEV 1048576" "IO*BandwidthMax: v1 blkio.throttle.*_bps_device of $LOOP ($LOOPDEV)"
fi
check "every process of the container is in its v1 and cgroup2 directories" \
	eval "grep -qx $LEADER '$PID/cgroup.procs' && grep -qx $LEADER '$MEM/cgroup.procs'"
stop
check "berth-spawn exited" wait_for 10 dead "$SPAWN"
check "its v1 directories are gone with it" wait_for 5 eval '[ "$(v1_leftovers)" = "$v1_before" ]'

# ---- the limits bite ----
out=$(spawn -D "$T" -M "$P-b" --register=no --console=pipe --property=TasksMax=15 -- \
	/bin/sh -c 'n=0; for i in $(seq 30); do sleep 30 & n=$((n+1)); echo $n >/tmp/n; done; echo forked $(cat /tmp/n)' 2>&1)
forked=$(echo "$out" | sed -n 's/.*forked \([0-9]*\).*/\1/p'); [ -n "$forked" ] || forked=$(echo "$out" | grep -c "can't fork")
check "TasksMax=15: forks beyond it fail inside ($(echo "$out" | tail -1 | head -c 60))" \
	eval '! echo "$out" | grep -q "forked 30"'
out=$(spawn -D "$T" -M "$P-b" --register=no --console=pipe --property=MemoryMax=32M --property=MemorySwapMax=0 -- \
	/bin/sh -c 'x=$(head -c 8000000 /dev/zero | tr "\0" a); echo small ${#x}; x=$(head -c 100000000 /dev/zero | tr "\0" a); echo big ${#x}' 2>&1)
if [ $SWAP = 1 ] || v2 memory; then
	check "MemoryMax=32M: 8 MB fit, 100 MB do not" eval 'echo "$out" | grep -q "small 8000000" && ! echo "$out" | grep -q "big 100000000"'
else
	skip "MemoryMax enforcement" "MemorySwapMax=0 has no swap accounting to go to here"
fi
start=$(date +%s%N)
out=$(spawn -D "$T" -M "$P-b" --register=no --console=pipe "--device=$LOOP:rw" "--property=IOWriteBandwidthMax=$LOOP 1M" -- \
	/bin/sh -c "dd if=/dev/zero of=$LOOP bs=64k count=48 oflag=direct 2>&1 | tail -1" 2>&1)
ms=$((($(date +%s%N) - start) / 1000000))
check "IOWriteBandwidthMax=1M: 3 MB of direct writes to $LOOP take 2 s at least (${ms} ms: $out)" \
	eval '[ $ms -ge 1900 ] && echo "$out" | grep -q "48+0 records out"'

# ---- what this host cannot apply refuses the start, by name ----
if ! v2 io && ! ls /sys/fs/cgroup/blkio/ 2>/dev/null | grep -q 'weight$'; then
	out=$(spawn -D "$T" -M "$P-c" --register=no --console=pipe --property=IOWeight=50 -- /bin/sh -c 'echo ran' 2>&1)
	check "IOWeight without an io/blkio weight is refused" eval '! echo "$out" | grep -q ran'
	check "naming the property and the controller ($out)" \
		grep -q "Cannot apply IOWeight (no io controller in cgroup2 or cgroup v1)" <<<"$out"
else
	skip "IOWeight refusal" "this host has an io weight: IOWeight applies"
fi
if ! v2 memory; then
	out=$(spawn -D "$T" -M "$P-c" --register=no --console=pipe --property=MemorySwapMax=10M -- /bin/sh -c 'echo ran' 2>&1)
	check "cgroup v1: MemorySwapMax without MemoryMax is refused, saying why ($out)" \
		eval '! echo "$out" | grep -q ran && echo "$out" | grep -q "MemorySwapMax (cgroup v1 limits memory and swap together"'
fi
out=$(spawn -D "$T" -M "$P-c" --register=no --console=pipe "--property=IOReadBandwidthMax=$SCRATCH 1M" -- /bin/sh -c 'echo ran' 2>&1)
if [ "$(stat -c %d "$SCRATCH")" != 0 ] && [ "$(($(stat -c %d "$SCRATCH") >> 8))" != 0 ]; then
	check "a bandwidth limit for a directory limits the disk it is on" grep -q ran <<<"$out"
fi
out=$(spawn -D "$T" -M "$P-c" --register=no --console=pipe "--property=IOReadBandwidthMax=/dev/nothere 1M" -- /bin/sh -c 'echo ran' 2>&1)
check "a bandwidth limit for a missing device refuses the start ($out)" \
	eval '! echo "$out" | grep -q ran && echo "$out" | grep -q /dev/nothere'
for bad in MemoryMax=12Q CPUWeight=0 "IOReadBandwidthMax=dev/sda 1M" "DeviceAllow=/etc/passwd r" AllowedCPUs=3-1; do
	out=$(spawn -D "$T" -M "$P-c" --register=no --console=pipe "--property=$bad" -- /bin/true 2>&1)
	[ $? != 0 ] && grep -q "Invalid resource limit" <<<"$out" || { diag "$bad: $out"; bad=x; }
done
check "bad values are refused before anything starts" test "$bad" != x
check "--register=no with limits leaves no v1 directory" eval '[ "$(v1_leftovers)" = "$v1_before" ]'

# ---- Device= and DeviceAllow= ----
# In subshells: a failed redirection of exec ends the shell.
probe='(exec 3</dev/loop-control) && echo read-ok; (exec 4>/dev/loop-control) && echo write-ok; true'
out=$(spawn -D "$T" -M "$P-d" --register=no --console=pipe -- /bin/sh -c "$probe" 2>&1)
check "without Device= the container has no /dev/loop-control ($(echo $out | head -c 80))" eval '! echo "$out" | grep -q read-ok'
out=$(spawn -D "$T" -M "$P-d" --register=no --console=pipe --device=/dev/loop-control:r -- /bin/sh -c "$probe" 2>&1)
check "--device=/dev/loop-control:r: readable inside" grep -q read-ok <<<"$out"
check "but not writable: the policy has only r" eval '! echo "$out" | grep -q write-ok'
out=$(spawn -D "$T" -M "$P-d" --register=no --console=pipe -U --device=/dev/loop-control -- /bin/sh -c "ls -ln /dev/loop-control; $probe" 2>&1)
check "with a user namespace too, owned by the container's root ($(echo $out | head -c 60))" \
	eval 'echo "$out" | grep -q "read-ok" && echo "$out" | grep -q "write-ok" && echo "$out" | grep -q "^c.* 0 *0 *10, *237"'
mk='mknod /dev/lc c 10 237 && exec 3</dev/lc && echo mknod-ok'
out=$(spawn -D "$T" -M "$P-d" --register=no --console=pipe --capability=CAP_MKNOD -- /bin/sh -c "$mk" 2>&1)
check "without DeviceAllow= the container cannot make the node" eval '! echo "$out" | grep -q mknod-ok'
out=$(spawn -D "$T" -M "$P-d" --register=no --console=pipe --capability=CAP_MKNOD \
	"--property=DeviceAllow=/dev/loop-control rm" -- /bin/sh -c "$mk" 2>&1)
check "DeviceAllow=/dev/loop-control rm: it can make and open it" grep -q mknod-ok <<<"$out"

# ---- the settings file's [Resources] ----
cat >"$BERTH_SETTINGS_DIR/$P-e.berth" <<EOF
[Resources]
TasksMax=33
CPUWeight=300
MemoryMax=
MemoryMax=40M
IOReadBandwidthMax=$LOOP 3M
Device=/dev/loop-control:r
EOF
check "a trusted settings file with [Resources] starts" run "$P-e" -- /bin/sh -c "$probe; echo started; exec sleep 300"
check_eq "$(cat "$(ctl_dir pids "$P-e")/pids.max")" 33 "[Resources] TasksMax= applies"
if v2 cpu; then W="$(cat "$(ctl_dir cpu "$P-e")/cpu.weight")"; WE=300; else W=$(cat "$(ctl_dir cpu "$P-e")/cpu.shares"); WE=3072; fi
check_eq "$W" $WE "[Resources] CPUWeight= applies"
if v2 memory; then M=$(cat "$(ctl_dir memory "$P-e")/memory.max"); else M=$(cat "$(ctl_dir memory "$P-e")/memory.limit_in_bytes"); fi
check_eq "$M" 41943040 "[Resources] MemoryMax= applies"
if v2 io; then check "[Resources] IOReadBandwidthMax= applies" grep -q "^$LOOPDEV rbps=3145728" "$(ctl_dir io "$P-e")/io.max"
else check_eq "$(cat "$(ctl_dir io "$P-e")/blkio.throttle.read_bps_device")" "$LOOPDEV 3145728" "[Resources] IOReadBandwidthMax= applies"; fi
check "[Resources] Device= makes the node usable" grep -q read-ok "$SCRATCH/$P-e.out"
stop
check "--property= wins over the file's value of the same property" \
	run "$P-e" --property=TasksMax=44 -- /bin/sh -c 'echo started; exec sleep 300'
check_eq "$(cat "$(ctl_dir pids "$P-e")/pids.max")" 44 "pids.max is the command line's"
stop
# An untrusted file (beside the tree) may only take from the container.
rm "$BERTH_SETTINGS_DIR/$P-e.berth"
mk_busybox_tree "$SCRATCH/u/$P-u"
cat >"$SCRATCH/u/$P-u.berth" <<EOF
[Resources]
TasksMax=25
CPUWeight=5000
DeviceAllow=/dev/loop-control rwm
EOF
spawn -D "$SCRATCH/u/$P-u" --register=no --console=pipe -- /bin/sh -c 'echo started; exec sleep 300' >"$SCRATCH/u.out" 2>&1 &
SPAWN=$!; PIDS+=($SPAWN)
check "an untrusted settings file's machine starts" wait_for 20 grep -q started "$SCRATCH/u.out"
check_eq "$(cat "$(ctl_dir pids "$P-u")/pids.max")" 25 "its TasksMax= applies"
# No CPU limit at all leaves no cpu directory of ours to look at: the default either way.
if v2 cpu; then F="$(ctl_dir cpu "$P-u")/cpu.weight"; WE=100; else F=$(ctl_dir cpu "$P-u")/cpu.shares; WE=1024; fi
W=$WE; [ -e "$F" ] && W=$(cat "$F")
check_eq "$W" $WE "a CPUWeight= above the default is ignored"
check "so is DeviceAllow=, with a warning" grep -q "Ignoring privileged setting DeviceAllow=" "$SCRATCH/u.out"
stop

# ---- registered with berthd (cgroupfs backend) ----
check "berthd starts" start_berthd
N=$P-r
bg_spawn r -D "$T" -M "$N" --console=pipe --property=TasksMax=21 "--property=IOWriteBandwidthMax=$LOOP 5M" \
	-- /bin/sh -c 'echo started; exec sleep 300'
check "a registered machine with limits starts" wait_for 20 grep -q started "$SCRATCH/r.out"
RPID=$(ctl_dir pids "$N" "$BERTHD_PID"); RIO=$(ctl_dir io "$N" "$BERTHD_PID")
check_eq "$(cat "$RPID/pids.max" 2>&1)" 21 "berthd applied its TasksMax"
if v2 io; then check "and its IOWriteBandwidthMax" grep -q "$LOOPDEV.*wbps=5242880" "$RIO/io.max"
else check_eq "$(cat "$RIO/blkio.throttle.write_bps_device" 2>&1)" "$LOOPDEV 5242880" "and its IOWriteBandwidthMax"; fi
check_eq "$(prop "$N" ResourceLimits)" "as 2 \"TasksMax=21\" \"IOWriteBandwidthMax=$LOOP 5242880\"" \
	"the ResourceLimits property shows them"
check "runtime limits of the start are not saved" test ! -e "$BERTH_STATE_DIR/properties/$N"

setp() { call SetMachineProperties "$N" "$1" "$2"; }
check_eq "$(setp false "@a(sv) [('TasksMax', <uint64 23>), ('IOReadBandwidthMax', <[('$LOOP', uint64 1048576)]>)]")" \
	"()" "SetMachineProperties: IOReadBandwidthMax as a(st)"
if v2 io; then check "io.max has it" grep -q "$LOOPDEV rbps=1048576" "$RIO/io.max"
else check_eq "$(cat "$RIO/blkio.throttle.read_bps_device")" "$LOOPDEV 1048576" "blkio.throttle.read_bps_device has it"; fi
check_eq "$(setp true "@a(sv) [('IOReadBandwidthMax', <'$LOOP infinity'>)]")" "()" "infinity as text lifts it"
if v2 io; then check "io.max: rbps=max" grep -q "$LOOPDEV rbps=max" "$RIO/io.max"
else check_eq "$(cat "$RIO/blkio.throttle.read_bps_device")" "" "blkio.throttle.read_bps_device: no rule left"; fi
check_eq "$(setp true "@a(sv) [('IOWriteBandwidthMax', <@a(st) []>)]")" "()" "an empty a(st) empties the list"
if v2 io; then check "io.max: wbps=max" grep -q "$LOOPDEV.*wbps=max" "$RIO/io.max"
else check_eq "$(cat "$RIO/blkio.throttle.write_bps_device")" "" "blkio.throttle.write_bps_device: no rule left"; fi
check_eq "$(error_of setp false "@a(sv) [('IOReadBandwidthMax', <[('/dev/nothere', uint64 1)]>)]")" \
	org.berth.machine1.NoSuchDevice "a device path that is no device is NoSuchDevice"
check_eq "$(error_of setp false "@a(sv) [('DeviceAllow', <[('/dev/null', 'rx')]>)]")" \
	org.freedesktop.DBus.Error.InvalidArgs "a bad DeviceAllow access is InvalidArgs"
if [ -e /sys/fs/cgroup/devices/devices.allow ]; then
	check_eq "$(setp true "@a(sv) [('DeviceAllow', <[('/dev/loop-control', 'r')]>)]")" "()" \
		"DeviceAllow as a(ss): the v1 devices controller"
	check "devices.list: the built-ins and the device" \
		eval "grep -qx 'c 10:237 r' '$(ctl_dir devices "$N" "$BERTHD_PID")/devices.list' && grep -qx 'c 1:3 rwm' '$(ctl_dir devices "$N" "$BERTHD_PID")/devices.list'"
else
	check_eq "$(error_of setp true "@a(sv) [('DeviceAllow', <[('/dev/loop-control', 'r')]>)]")" \
		org.berth.machine1.NoController "without systemd or v1 devices, DeviceAllow is NoController"
fi
check "runtime=false limits are saved" eval "grep -qx TasksMax=23 '$BERTH_STATE_DIR/properties/$N' && grep -qx 'IOReadBandwidthMax=$LOOP 1048576' '$BERTH_STATE_DIR/properties/$N'"
check "berthctl-style text shows in ResourceLimits" eval "prop '$N' ResourceLimits | grep -q 'TasksMax=23'"
BERTHCTL=${BERTHCTL:-${BUILD_ROOT:-}/src/ctl/berthctl}
if [ -x "$BERTHCTL" ]; then
	bc() { DBUS_SYSTEM_BUS_ADDRESS=$BUS "$BERTHCTL" "$@"; }
	check "berthctl set-property --runtime IOWriteBandwidthMax=" \
		bc set-property --runtime "$N" "IOWriteBandwidthMax=$LOOP 2M"
	st=$(bc status "$N" 2>&1)
	check "berthctl status lists the limits in force ($(echo "$st" | grep -A3 Limits: | tr -s ' \n' ' ' | head -c 150))" \
		eval "grep -q 'Limits: TasksMax=23' <<<'$st' && grep -q 'IOWriteBandwidthMax=$LOOP 2097152' <<<'$st'"
	check "berthctl show has ResourceLimits" eval "bc show '$N' | grep -q '^ResourceLimits=.*TasksMax=23'"
fi
stop
check "the machine stops" wait_for 10 gone "$N"

# The saved limits hold at the next start, over what the command line says, registered or not.
bg_spawn r2 -D "$T" -M "$N" --console=pipe --property=TasksMax=21 -- /bin/sh -c 'echo started; exec sleep 300'
check "it starts again" wait_for 20 grep -q started "$SCRATCH/r2.out"
check_eq "$(cat "$RPID/pids.max" 2>&1)" 23 "set-property's saved TasksMax wins over --property="
stop
wait_for 10 gone "$N"
berthd_teardown
check "unregistered, berth-spawn reads the saved limits too" run "$N" -- /bin/sh -c 'echo started; exec sleep 300'
check_eq "$(cat "$(ctl_dir pids "$N")/pids.max" 2>&1)" 23 "pids.max is the saved one"
stop

check "no v1 directory is left" wait_for 5 eval '[ "$(v1_leftovers)" = "$v1_before" ]'
losetup -d "$LOOP"
leak_check
[ "$_tap_failed" = 0 ] || sed 's/^/# berthd: /' "$SCRATCH/berthd.log" >&2
tap_done
