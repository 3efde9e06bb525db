#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth under a real systemd (a testhost): StartMachine runs berth-spawn@NAME.service, which
# reboots, powers off and terminates as a unit should; berth-spawn run by hand gets its
# machine-NAME.scope from berthd; ExecInMachine and SetMachineProperties on both kinds; systemd's
# refusals reach the caller; daemon-reload and a berthd restart lose no machine.
. "$(dirname "$0")/../lib/libtest.sh"
. "$TESTS_SRC/lib/testhost.sh"
. "$TESTS_SRC/lib/berthd.sh" # wait_for
need_root
testhost_need_build

leak_begin
mkscratch
name=bs$$
on_cleanup "testhost_stop $name"
# The image pool on the real disk: -U needs idmapped mounts, which the overlay cannot give.
POOL=$SCRATCH/pool
mkdir -p "$POOL"
for t in s1 h1 h2 h3; do mk_busybox_tree "$POOL/$t"; done
# A Debian tree with systemd as init, when one is cached (tests/fixtures/debian-tree.sh).
DEB=$("$TESTS_SRC/fixtures/debian-tree.sh" 2>/dev/null) && cp -a "$DEB" "$POOL/deb" || DEB=

inside() { testhost_exec "$name" "$@"; }
M=org.berth.machine1
mgr() { inside busctl call $M /org/berth/machine1 $M.Manager "$@" 2>&1; }
mprop() { inside busctl get-property $M "/org/berth/machine1/machine/$1" $M.Machine "$2" 2>&1 | cut -d' ' -f2- | tr -d '"'; }
uprop() { inside systemctl show -P "$2" "$1" 2>&1; }
cgroup_of() { inside sed -n 's/^0:://p' "/proc/$1/cgroup"; }
listed() { mgr ListMachines | grep -q "\"$1\""; }
gone() { ! listed "$1"; }
alive() { inside kill -0 "$1" 2>/dev/null; }
unit_over() { case $(uprop "$1" ActiveState) in active|activating|deactivating|reloading) return 1 ;; esac; }
svc() { printf 'berth-spawn@%s.service' "$1"; }

testhost_up_with_build "$name" --bind "$POOL:/var/lib/machines"
check "berth-spawn@.service is installed where systemd finds it" eval 'inside systemctl cat berth-spawn@x.service >/dev/null 2>&1'

# ---- (a) StartMachine: berth-spawn@NAME.service ----
out=$(mgr StartMachine s s1)
check_eq "$out" "" "StartMachine s1 succeeds (activating berthd on the way)"
check "... and returns once the machine is registered" listed s1
U=$(svc s1)
check_eq "$(uprop "$U" ActiveState)/$(uprop "$U" SubState)" active/running "$U is active (Type=notify: ready)"
check_eq "$(uprop "$U" Delegate)" yes "... with Delegate=yes"
check_eq "$(uprop "$U" Slice)" machine.slice "... in machine.slice"
check_eq "$(mprop s1 Unit)" "$U" "the machine's Unit is the service"
L1=$(mprop s1 Leader)
check_eq "$(cgroup_of "$L1")" "/machine.slice/$U/payload" "its leader lives in the unit's payload cgroup"
# berth-spawn leaves the unit's root for UNIT/supervisor only when the unit has controllers to
# hand down to the payload (a moving process waits for an RCU grace period): the testhost's
# cgroup2 has none (this host keeps them in v1), so it stays, with no supervisor directory.
ctls=$(inside cat "/sys/fs/cgroup/machine.slice/$U/cgroup.controllers")
if [ -n "$ctls" ]; then
	check_eq "$(cgroup_of "$(uprop "$U" MainPID)")" "/machine.slice/$U/supervisor" \
		"berth-spawn, the main process, moved to UNIT/supervisor (the unit hands down: $ctls)"
else
	check_eq "$(cgroup_of "$(uprop "$U" MainPID)")" "/machine.slice/$U" \
		"berth-spawn, the main process, stays in the unit's root (no controllers to hand down)"
	check "... and makes no supervisor cgroup" eval "! inside test -e /sys/fs/cgroup/machine.slice/$U/supervisor"
fi

mgr RebootMachine s s1 >/dev/null
check "RebootMachine: the unit restarts (exit 133)" wait_for 20 eval '[ "$(uprop "$U" NRestarts)" = 1 ]'
check "... and the machine registers again with a new leader" \
	wait_for 10 eval 'L=$(mprop s1 Leader); [[ $L =~ ^[0-9]+$ ]] && [ "$L" != "$L1" ]'
check_eq "$(uprop "$U" ActiveState)" active "... the unit is active again"

mgr PowerOffMachine s s1 >/dev/null
check "PowerOffMachine stops the unit" wait_for 20 unit_over "$U"
check_eq "$(uprop "$U" ActiveState)/$(uprop "$U" Result)" inactive/success "... cleanly: inactive, not failed"
check "... and the machine leaves the registry" wait_for 5 gone s1

mgr StartMachine s s1 >/dev/null
L1=$(mprop s1 Leader)
mgr TerminateMachine s s1 >/dev/null
check "TerminateMachine stops the unit" wait_for 20 unit_over "$U"
check "... removes the registry entry" wait_for 5 gone s1
check "... and the container" eval "! alive $L1"

out=$(mgr StartMachine s nosuchimage)
check "StartMachine of a missing image fails with the job's result" grep -q "failed" <<<"$out"
check "... and registers nothing" gone nosuchimage
inside systemctl reset-failed "$(svc nosuchimage)" 2>/dev/null

# An init that speaks sd_notify: the unit (--notify-ready=yes) is ready once the OS inside is
# (READY=1 forwarded through berth-spawn to systemd), and powers off cleanly.
if [ -n "$DEB" ]; then
	D=$(svc deb)
	check_eq "$(mgr StartMachine s deb)" "" "StartMachine deb (systemd inside, --notify-ready=yes)"
	check "$D becomes active" wait_for 30 eval '[ "$(uprop "$D" ActiveState)" = active ]'
	check "... only once the OS inside reached multi-user.target" eval \
		"inside journalctl -u $D -o cat --no-pager | grep -E 'Reached target multi-user|Started berth-spawn@deb' | head -1 | grep -q multi-user"
	check_eq "$(uprop "$D" StatusText)" "Container: Ready." "... with the container's STATUS= forwarded"
	mgr PowerOffMachine s deb >/dev/null
	check "PowerOffMachine deb: inactive, not failed" \
		wait_for 30 eval '[ "$(uprop "$D" ActiveState)/$(uprop "$D" Result)" = inactive/success ] && gone deb'
else
	skip "a systemd machine under berth-spawn@.service" "no cached Debian tree (tests/fixtures/debian-tree.sh)"
fi

# ---- (b) berth-spawn by hand: CreateMachine, machine-NAME.scope ----
# bg NAME ARGS...: berth-spawn in the background inside; its pid in /run/NAME.pid.
bg() {
	local n=$1; shift
	inside sh -c 'n=$1; shift; berth-spawn "$@" >/run/$n.out 2>&1 </dev/null & echo $! >/run/$n.pid' sh "$n" "$@"
}
pid_of() { inside cat "/run/$1.pid"; }
bg h1 -D /var/lib/machines/h1 -M h1 --console=pipe -- /bin/sh -c 'cat /proc/self/cgroup; echo started; exec sleep 1000'
check "berth-spawn by hand registers" wait_for 10 listed h1
S=machine-h1.scope
check_eq "$(uprop $S ActiveState)" active "$S is active"
check_eq "$(uprop $S Delegate)" yes "... with Delegate=yes"
check_eq "$(uprop $S Slice)" "$(shard_slice h1)" "... in its shard of machine.slice"
H1=$(mprop h1 Leader)
check_eq "$(cgroup_of "$H1")" "/machine.slice/$(shard_slice h1)/$S/payload" "the scope holds the leader, in payload/"
check "inside, /proc/self/cgroup is 0::/" wait_for 5 eval 'inside grep -qx "0::/" /run/h1.out'
check_eq "$(cgroup_of "$(pid_of h1)")" /testhost-exec "berth-spawn itself stays where it was started"

# A booted one and a -U one, for what follows.
bg h2 -D /var/lib/machines/h2 -M h2 -b --console=read-only
bg h3 -D /var/lib/machines/h3 -M h3 -U --console=pipe -- /bin/sh -c 'exec sleep 1000'
check "two more machines by hand (-b, -U)" wait_for 10 eval 'listed h2 && listed h3'

# ---- (c) ExecInMachine, on a unit's machine and on a scope's ----
if inside /usr/bin/python3 -c 'import dbus' 2>/dev/null; then
	CLIENT=$(cat <<'PY'
import os, sys, json
import dbus
bus = dbus.SystemBus()
mgr = dbus.Interface(bus.get_object("org.berth.machine1", "/org/berth/machine1"), "org.berth.machine1.Manager")
fds = [os.open("/dev/null", os.O_RDONLY)] + [os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) for p in sys.argv[3:5]]
try:
    st, sig = mgr.ExecInMachine(sys.argv[1], "", json.loads(sys.argv[2]), [], "", *[dbus.types.UnixFd(f) for f in fds], timeout=60)
    print("ok", int(st), int(sig))
except dbus.exceptions.DBusException as e:
    print("error", e.get_dbus_name(), e.get_dbus_message())
PY
)
	ex() { inside /usr/bin/python3 -c "$CLIENT" "$1" "$2" /run/x.out /run/x.err 2>&1; }
	mgr StartMachine s s1 >/dev/null
	for m in s1 h1; do
		check_eq "$(ex $m '["true"]')" "ok 0 0" "ExecInMachine $m: exit 0"
		check_eq "$(ex $m '["sh", "-c", "echo to-out; echo to-err >&2; exit 3"]')" "ok 3 0" "ExecInMachine $m: exit 3"
		check_eq "$(inside cat /run/x.out)/$(inside cat /run/x.err)" "to-out/to-err" "... stdout and stderr apart"
		check_eq "$(ex $m '["sh", "-c", "kill -KILL $$"]')" "ok -1 9" "ExecInMachine $m: death by SIGKILL is (-1, 9)"
	done
else
	skip "ExecInMachine" "python3-dbus is not installed (apt-get install python3-dbus)"
	mgr StartMachine s s1 >/dev/null
fi

# ---- (d) SetMachineProperties reaches the unit ----
# Limits need their cgroup controller: where the testhost's cgroup2 has none (this host gives
# memory and pids to cgroup v1), berthd refuses them instead of letting systemd show a limit
# that does nothing. DeviceAllow needs no controller: it carries the plumbing checks there.
sp() { mgr SetMachineProperties 'sba(sv)' "$1" "$2" 2 MemoryMax t "$3" TasksMax t "$4"; }
if inside grep -qw memory /sys/fs/cgroup/cgroup.controllers && inside grep -qw pids /sys/fs/cgroup/cgroup.controllers; then
	check_eq "$(sp h1 true 100000000 77)" "" "SetMachineProperties h1 runtime=true"
	check_eq "$(uprop $S MemoryMax)/$(uprop $S TasksMax)" 100000000/77 "... MemoryMax and TasksMax reach $S"
	check_eq "$(sp s1 true 200000000 88)" "" "SetMachineProperties s1 runtime=true"
	check_eq "$(uprop "$U" MemoryMax)/$(uprop "$U" TasksMax)" 200000000/88 "... reach $U"
	check "... as a runtime drop-in (/run)" eval "uprop $U DropInPaths | grep -q '/run/systemd/system.control/$U.d/50-TasksMax.conf'"
	check_eq "$(sp s1 false 300000000 99)" "" "SetMachineProperties s1 runtime=false"
	check_eq "$(uprop "$U" MemoryMax)/$(uprop "$U" TasksMax)" 300000000/99 "... reach $U"
	check "... as a persistent drop-in (/etc)" eval "uprop $U DropInPaths | grep -q '/etc/systemd/system.control/$U.d/50-TasksMax.conf'"
else
	check "SetMachineProperties MemoryMax without a memory controller is refused, by name" \
		eval "sp s1 true 200000000 88 | grep -q 'Cannot apply MemoryMax (no memory controller'"
	check "... and nothing of it reaches $U" eval "[ '$(uprop "$U" TasksMax)' != 88 ]"
	dp() { mgr SetMachineProperties 'sba(sv)' "$1" "$2" 1 DeviceAllow 'a(ss)' 1 "$3" r; }
	check_eq "$(dp h1 true /dev/loop-control)" "" "SetMachineProperties h1 runtime=true (DeviceAllow)"
	check_eq "$(uprop $S DeviceAllow)" "/dev/loop-control r" "... DeviceAllow reaches $S"
	check_eq "$(dp s1 true /dev/loop-control)" "" "SetMachineProperties s1 runtime=true (DeviceAllow)"
	check "... as a runtime drop-in (/run)" eval "uprop $U DropInPaths | grep -q '/run/systemd/system.control/$U.d/50-DeviceAllow.conf'"
	check_eq "$(dp s1 false /dev/loop-control)" "" "SetMachineProperties s1 runtime=false (DeviceAllow)"
	check "... as a persistent drop-in (/etc)" eval "uprop $U DropInPaths | grep -q '/etc/systemd/system.control/$U.d/50-DeviceAllow.conf'"
fi

# ---- systemd's refusals are the caller's; daemon-reload keeps every machine ----
inside sh -c "mkdir -p /run/systemd/system/$U.d && printf '[Unit]\nRefuseManualStop=yes\n' >/run/systemd/system/$U.d/refuse.conf"
inside systemctl daemon-reload
check "after daemon-reload every machine is still registered" eval 'listed s1 && listed h1 && listed h2 && listed h3'
out=$(mgr TerminateMachine s s1)
check "TerminateMachine passes systemd's refusal back" grep -q "refuse manual start/stop" <<<"$out"
check_eq "$(uprop "$U" ActiveState)" active "... and the machine runs on"
check_eq "$(mgr KillMachine ssi s1 all 28)" "" "KillMachine all (KillUnit) answers after systemd did"
inside rm -r "/run/systemd/system/$U.d"
inside systemctl daemon-reload

# ---- (e) a berthd restart keeps both kinds ----
pid_before=$(uprop berthd.service MainPID)
S1=$(mprop s1 Leader)
inside systemctl restart berthd.service
check "berthd restarted" test "$(uprop berthd.service MainPID)" != "$pid_before"
check_eq "$(mprop s1 Leader) $(mprop h1 Leader)" "$S1 $H1" "s1 and h1 survive it with the same leaders"

# ---- (b) continued: the scope stopped from outside, berth-spawn killed ----
inside systemctl stop $S
check "systemctl stop $S ends the container" eval "! alive $H1"
check "... berth-spawn exits" wait_for 10 eval "! alive $(pid_of h1)"
check "... and the machine is gone (watched across the restart)" wait_for 5 gone h1
# berth-spawn gives its scope KillSignal= (the init's power-off signal, as nspawn does): a plain
# SIGTERM would make busybox init reboot, and berth-spawn would restart it in place.
check_eq "$(uprop machine-h2.scope KillSignal)" 12 "a booted machine's scope has the init's power-off signal as KillSignal"
inside systemctl stop machine-h2.scope
check "systemctl stop of a booted machine's scope ends berth-spawn" wait_for 10 eval "! alive $(pid_of h2)"
inside kill "$(pid_of h2)" 2>/dev/null
wait_for 10 eval "! alive $(pid_of h2)"

H3=$(mprop h3 Leader)
inside kill -9 "$(pid_of h3)"
check "kill -9 of berth-spawn -U: its container dies" wait_for 10 eval "! alive $H3"
check "... no machine is left" wait_for 10 gone h3
check "... and no scope" wait_for 10 unit_over machine-h3.scope

mgr PowerOffMachine s s1 >/dev/null
check "after the restart, PowerOffMachine still works" wait_for 20 eval "unit_over $U && gone s1"
check "berthd.service never failed meanwhile" test "$(uprop berthd.service NRestarts)" = 0

if [ "$_tap_failed" != 0 ]; then
	inside journalctl --no-pager -n 60 -u berthd.service -u 'berth-spawn@*' -u 'machine-*' 2>&1 | sed 's/^/# /' >&2
fi
testhost_stop "$name"
leak_check
tap_done
