#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Resource limits with berthd's systemd backend, in a testhost: each property reaches the scope
# (systemctl show) and the cgroup file where the testhost's cgroup2 has the controller; where it
# has none (this host gives memory, cpu, io, pids to cgroup v1), SetMachineProperties and
# berth-spawn's --property= fail with NoController naming the property and the controller, and
# systemd's scope shows nothing of it: never silently dropped. DeviceAllow needs no controller.
. "$(dirname "$0")/../lib/libtest.sh"
. "$TESTS_SRC/lib/testhost.sh"
. "$TESTS_SRC/lib/berthd.sh" # wait_for
need_root
testhost_need_build

leak_begin
mkscratch
name=brs$$
on_cleanup "testhost_stop $name"
inside() { testhost_exec "$name" "$@"; }
M=org.berth.machine1
mgr() { inside busctl call $M /org/berth/machine1 $M.Manager "$@" 2>&1; }
sleeper() { inside sh -c 'sleep 1000 >/dev/null 2>&1 </dev/null & echo $!'; }
unit_prop() { inside systemctl show -P "$2" "$1" 2>&1; }
setp() { mgr SetMachineProperties 'sba(sv)' "$1" "$2" "${@:3}"; }
POOL=$SCRATCH/pool
mkdir -p "$POOL"
mk_busybox_tree "$POOL/$name-t"

testhost_up_with_build "$name" --bind "$POOL:/var/lib/machines"

L=$(sleeper)
check_eq "$(mgr CreateMachine 'sayssusa(sv)' c1 0 "" container "$L" "" 0)" 'o "/org/berth/machine1/machine/c1"' \
	"CreateMachine makes machine-c1.scope"
CG=/sys/fs/cgroup$(unit_prop machine-c1.scope ControlGroup)
controllers=$(inside cat /sys/fs/cgroup/cgroup.controllers)
diag "the testhost's cgroup2 controllers: '${controllers}'"

# property  value (busctl)  systemctl show name  expected there  controller  cgroup file  expected there
props=(
	"MemoryMax|t 67108864|MemoryMax|67108864|memory|memory.max|67108864"
	"MemoryHigh|t 50331648|MemoryHigh|50331648|memory|memory.high|50331648"
	"MemorySwapMax|t 16777216|MemorySwapMax|16777216|memory|memory.swap.max|16777216"
	"TasksMax|t 20|TasksMax|20|pids|pids.max|20"
	"CPUQuota|s 20%|CPUQuotaPerSecUSec|200ms|cpu|cpu.max|20000 100000"
	"CPUWeight|t 200|CPUWeight|200|cpu|cpu.weight|200"
	"IOWeight|t 50|IOWeight|50|io|io.weight|default 50"
	"AllowedCPUs|s 0|AllowedCPUs|0|cpuset|cpuset.cpus|0"
	"IOReadBandwidthMax|a(st) 1 /dev/loop0 1048576|IOReadBandwidthMax|/dev/loop0 1048576|io|io.max|rbps=1048576"
)
for p in "${props[@]}"; do
	IFS='|' read -r prop value show want ctl file fwant <<<"$p"
	# shellcheck disable=SC2086
	out=$(setp c1 false 1 "$prop" $value)
	if grep -qw "$ctl" <<<"$controllers"; then
		check_eq "$out" "" "$prop reaches the scope"
		check_eq "$(unit_prop machine-c1.scope "$show")" "$want" "$prop: systemctl show"
		check "$prop: $file" eval "inside cat '$CG/$file' | grep -q '$fwant'"
	else
		# The bus name of CPUQuota is CPUQuotaPerSecUSec.
		check "$prop without a $ctl controller is refused, naming both ($(echo $out | head -c 120))" \
			eval "grep -q 'Cannot apply $show (no $ctl controller' <<<'$out'"
		skip "$prop enforcement" "this testhost's cgroup2 has no $ctl controller (this host gives it to cgroup v1)"
		check "and systemd's scope shows nothing of it" \
			eval "[ '$(unit_prop machine-c1.scope "$show")' != '$want' ]"
	fi
done
# busctl shows only the message: the error's name through gdbus.
out=$(inside gdbus call --system --dest $M --object-path /org/berth/machine1 \
	--method $M.Manager.SetMachineProperties c1 false "@a(sv) [('MemoryMax', <uint64 1048576>)]" 2>&1)
if ! grep -qw memory <<<"$controllers"; then
	check "the error is org.berth.machine1.NoController" grep -q "GDBus.Error:org.berth.machine1.NoController" <<<"$out"
fi
check "no limit was saved for c1" eval "! inside test -e /var/lib/berth/properties/c1"

# DeviceAllow needs no controller: systemd puts a device program on the scope.
check_eq "$(setp c1 false 1 DeviceAllow 'a(ss)' 1 /dev/loop-control r)" "" "DeviceAllow reaches the scope"
check_eq "$(unit_prop machine-c1.scope DeviceAllow)" "/dev/loop-control r" "DeviceAllow: systemctl show"
check_eq "$(inside sed -n 's/^DeviceAllow=//p' /var/lib/berth/properties/c1)" "/dev/loop-control r" \
	"and it is saved for the next start"
path=$(mgr GetMachine s c1 | sed -n 's/^o "\(.*\)"$/\1/p')
check "ResourceLimits shows it" eval "inside busctl get-property $M '$path' $M.Machine ResourceLimits | grep -q 'DeviceAllow=/dev/loop-control r'"
inside kill -9 "$L"

# berth-spawn registered through systemd: a limit the host lacks refuses the start; a device
# given with --device= is usable inside.
if ! grep -qw pids <<<"$controllers"; then
	out=$(inside timeout 60 berth-spawn -M "$name-t" --console=pipe --property=TasksMax=20 -- /bin/sh -c 'echo ran' 2>&1)
	check "berth-spawn --property=TasksMax= without pids refuses to start ($(echo $out | head -c 160))" \
		eval "! grep -q ran <<<'$out' && grep -q 'TasksMax (no pids controller' <<<'$out'"
	check "and leaves no machine behind" wait_for 10 eval "! mgr ListMachines | grep -q '$name-t'"
fi
out=$(inside timeout 60 berth-spawn -M "$name-t" --console=pipe --device=/dev/loop-control:r \
	-- /bin/sh -c '(exec 3</dev/loop-control) && echo read-ok' 2>&1)
check "berth-spawn --device= under systemd: the node is readable inside ($(echo $out | head -c 100))" grep -q read-ok <<<"$out"

[ "$_tap_failed" = 0 ] || testhost_diag "$name"
testhost_stop "$name"
leak_check
tap_done
