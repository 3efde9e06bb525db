#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berthd's systemd scope backend in a testhost (a real systemd, bus and polkitd): berthd started
# by D-Bus activation through units/berthd.service, machine-NAME.scope units made, watched,
# stopped and kept across a berthd restart, units of registered machines, and polkit.
. "$(dirname "$0")/../lib/libtest.sh"
. "$TESTS_SRC/lib/testhost.sh"
. "$TESTS_SRC/lib/berthd.sh" # wait_for
need_root
testhost_need_build

leak_begin
mkscratch
name=bsd$$
on_cleanup "testhost_stop $name"
inside() { testhost_exec "$name" "$@"; }
M=org.berth.machine1
mgr() { inside busctl call $M /org/berth/machine1 $M.Manager "$@" 2>&1; }
create() { mgr CreateMachine 'sayssusa(sv)' "$1" 0 "" container "$2" "" "${@:3}"; }
# A process outside any unit, orphaned to the testhost's PID 1: a leader that is nobody's child.
sleeper() { inside sh -c 'sleep 1000 >/dev/null 2>&1 </dev/null & echo $!'; }
machine_prop() {
	local path
	path=$(mgr GetMachine s "$1" | sed -n 's/^o "\(.*\)"$/\1/p')
	inside busctl get-property $M "$path" $M.Machine "$2" 2>&1
}
unit_prop() { inside systemctl show -P "$2" "$1" 2>&1; }
listed() { mgr ListMachines | grep -q "\"$1\""; }
gone() { ! listed "$1"; }
alive() { inside kill -0 "$1" 2>/dev/null; }
quiet() { "$@" >/dev/null 2>&1; }
unit_inactive() { [ "$(unit_prop "$1" ActiveState)" != active ]; }

if ! testhost_start "$name"; then
	echo "1..0 # SKIP no testhost (see tests/lib/testhost.sh)"
	exit 0
fi

if testhost_install "$name" "$BUILD_ROOT"; then
	ok "the build installs into the testhost"
else
	not_ok "the build installs into the testhost"
	echo "Bail out! nothing to test without berthd installed"
	exit 1
fi
check "berthd.service is installed where systemd finds it" \
	quiet inside systemctl cat berthd.service
inside sh -c "dbus-monitor --system \"type='signal',sender='$M'\" >/run/signals 2>&1 </dev/null &"

# CreateMachine: the first call activates berthd through the bus and systemd.
L1=$(sleeper)
out=$(create c1 "$L1" 1 Description s "the c1 box")
check_eq "$out" 'o "/org/berth/machine1/machine/c1"' \
	"CreateMachine activates berthd and returns the object path"
check_eq "$(unit_prop berthd.service ActiveState)" active "berthd.service runs (D-Bus activation)"
check_eq "$(unit_prop berthd.service SubState)" running "... as Type=dbus, ready"
check_eq "$(unit_prop machine-c1.scope ActiveState)" active "machine-c1.scope is active"
check_eq "$(unit_prop machine-c1.scope Delegate)" yes "... with Delegate=yes"
check_eq "$(unit_prop machine-c1.scope Slice)" "$(shard_slice c1)" "... in its shard of machine.slice"
check_eq "$(unit_prop machine-c1.scope Description)" "the c1 box" "... with the caller's Description"
check_eq "$(inside sed -n 's/^0:://p' /proc/$L1/cgroup)" "/machine.slice/$(shard_slice c1)/machine-c1.scope" \
	"the leader is in the scope"
check_eq "$(machine_prop c1 Unit)" 's "machine-c1.scope"' "the machine's Unit is its scope"
check "MachineNew was signalled" inside grep -q '"c1"' /run/signals

mgr TerminateMachine s c1 >/dev/null
check "TerminateMachine stops the scope and kills the leader" \
	wait_for 5 eval "unit_inactive machine-c1.scope && ! alive $L1"
check "... and the machine leaves the registry" wait_for 5 gone c1

# Stopped from outside. KillMode=none (forwarded verbatim to systemd) leaves the leader alive,
# so only the unit's own signals can tell berthd the machine is over.
L2=$(sleeper)
out=$(create c2 "$L2" 1 KillMode s none)
check_eq "$out $(unit_prop machine-c2.scope KillMode)" 'o "/org/berth/machine1/machine/c2" none' \
	"a caller's scope property reaches systemd (KillMode=none)"
nremoved=$(inside grep -c MachineRemoved /run/signals)
inside systemctl stop machine-c2.scope
check "systemctl stop of the scope takes the machine out of the registry" wait_for 5 gone c2
check "... with MachineRemoved" \
	wait_for 3 eval "[ \$(inside grep -c MachineRemoved /run/signals) -gt $nremoved ]"
check "... though the leader still runs (the unit said so, not the leader)" alive "$L2"
inside kill -9 "$L2"

# A restart of berthd keeps the machine and goes on watching its unit.
L3=$(sleeper)
create c3 "$L3" 1 KillMode s none >/dev/null
pid_before=$(unit_prop berthd.service MainPID)
inside systemctl restart berthd.service
check "berthd restarts (new PID)" test "$(unit_prop berthd.service MainPID)" != "$pid_before"
check "a running machine survives systemctl restart berthd" listed c3
check_eq "$(machine_prop c3 Leader)" "u $L3" "... with the same leader"
inside systemctl stop machine-c3.scope
check "after the restart, the scope is still watched" wait_for 5 gone c3
inside kill -9 "$L3"

# Unprivileged callers: reading is open, changing needs polkit's yes.
L4=$(sleeper)
create c4 "$L4" 0 >/dev/null
asnobody() { inside runuser -u nobody -- busctl --allow-interactive-authorization=no call $M \
	/org/berth/machine1 $M.Manager "$@" 2>&1; }
check "an unprivileged user can ListMachines" eval 'asnobody ListMachines | grep -q "\"c4\""'
err=$(asnobody TerminateMachine s c4)
case $err in
*"Access denied"*|*"Interactive authentication required"*)
	ok "... but TerminateMachine is refused by polkit" ;;
*) not_ok "... but TerminateMachine is refused by polkit (got: $err)" ;;
esac
check "... and the machine still runs" eval "listed c4 && alive $L4"
inside sh -c 'cat > /etc/polkit-1/rules.d/50-berth-test.rules' <<'EOF'
polkit.addRule(function(action, subject) {
        if (action.id == "org.berth.machine1.manage-machines" && subject.user == "nobody")
                return polkit.Result.YES;
});
EOF
# polkitd rereads its rules on change; give it a moment.
check "once a rules.d rule allows it, nobody may terminate" \
	wait_for 10 eval 'asnobody TerminateMachine s c4 >/dev/null'
check "... and the machine is gone" wait_for 5 eval "gone c4 && ! alive $L4"

# RegisterMachine: the machine's unit is the one its leader runs in.
inside systemd-run --quiet --unit=bsd-reg.service sleep 1000
L5=$(unit_prop bsd-reg.service MainPID)
out=$(mgr RegisterMachine 'sayssus' r1 0 "" container "$L5" "")
check_eq "$out" 'o "/org/berth/machine1/machine/r1"' "RegisterMachine of a process of bsd-reg.service"
check_eq "$(machine_prop r1 Unit)" 's "bsd-reg.service"' "... reports Unit=bsd-reg.service"
mgr TerminateMachine s r1 >/dev/null
check "TerminateMachine stops bsd-reg.service" wait_for 5 unit_inactive bsd-reg.service
check "... and the machine is gone" wait_for 5 gone r1

# berth-spawn --keep-unit runs the container in UNIT/payload: the machine is still UNIT's.
inside systemd-run --quiet --unit=bsd-keep.service -p Delegate=yes sleep 1000
L6=$(unit_prop bsd-keep.service MainPID)
inside sh -c "mkdir /sys/fs/cgroup/system.slice/bsd-keep.service/payload &&
	echo $L6 > /sys/fs/cgroup/system.slice/bsd-keep.service/payload/cgroup.procs"
check_eq "$(inside sed -n 's/^0:://p' /proc/$L6/cgroup)" /system.slice/bsd-keep.service/payload \
	"a leader in bsd-keep.service/payload"
out=$(mgr RegisterMachine 'sayssus' r2 0 "" container "$L6" "")
check_eq "$(machine_prop r2 Unit)" 's "bsd-keep.service"' "... belongs to bsd-keep.service"
mgr TerminateMachine s r2 >/dev/null
check "... and TerminateMachine stops UNIT" wait_for 5 unit_inactive bsd-keep.service
check "berthd.service never failed meanwhile" test "$(unit_prop berthd.service NRestarts)" = 0

[ "$_tap_failed" = 0 ] || inside journalctl -u berthd.service --no-pager -n 40 2>&1 | sed 's/^/# /' >&2
testhost_stop "$name"
leak_check
tap_done
