#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# FreezeMachine/ThawMachine on the systemd backend, in a testhost (a real systemd on a unified
# cgroup2 tree, a real bus and polkitd): berthd asks systemd (FreezeUnit/ThawUnit), the scope's
# FreezerState follows, a counter inside stops and goes on, State says "frozen", a frozen
# machine can be terminated, and polkit refuses an unprivileged caller.
. "$(dirname "$0")/../lib/libtest.sh"
. "$TESTS_SRC/lib/testhost.sh"
. "$TESTS_SRC/lib/berthd.sh" # wait_for
need_root
testhost_need_build

leak_begin
mkscratch
name=bfz$$
on_cleanup "testhost_stop $name"
inside() { testhost_exec "$name" "$@"; }
M=org.berth.machine1
mgr() { inside busctl call $M /org/berth/machine1 $M.Manager "$@" 2>&1; }
create() { mgr CreateMachine 'sayssusa(sv)' "$1" 0 "" container "$2" "" 0; }
machine_prop() {
	local path
	path=$(mgr GetMachine s "$1" | sed -n 's/^o "\(.*\)"$/\1/p')
	inside busctl get-property $M "$path" $M.Machine "$2" 2>&1
}
unit_prop() { inside systemctl show -P "$2" "$1" 2>&1; }
listed() { mgr ListMachines | grep -q "\"$1\""; }
gone() { ! listed "$1"; }
alive() { inside kill -0 "$1" 2>/dev/null; }
# A counting shell orphaned to the testhost's PID 1, writing to /run/ctr-NAME.
counter() {
	inside sh -c "sh -c 'i=0; while :; do i=\$((i+1)); echo \$i >/run/ctr-$1; sleep 0.02; done' \
		>/dev/null 2>&1 </dev/null & echo \$!"
}
n() { inside cat "/run/ctr-$1" 2>/dev/null; }
advancing() { local a; a=$(n "$1"); sleep 0.3; wait_for 2 eval '[ "$(n "$1")" != "$a" ]'; }
still() { local a; a=$(n "$1"); sleep 1; [ -n "$a" ] && [ "$(n "$1")" = "$a" ]; }
asnobody() { inside runuser -u nobody -- busctl --allow-interactive-authorization=no call $M \
	/org/berth/machine1 $M.Manager "$@" 2>&1; }

testhost_up_with_build "$name"
inside sh -c "dbus-monitor --system \"type='signal',sender='$M',interface='org.freedesktop.DBus.Properties'\" \
	>/run/signals 2>&1 </dev/null &"

L=$(counter fz)
check_eq "$(create fz "$L")" 'o "/org/berth/machine1/machine/fz"' "a counting machine is created"
check "its counter advances" advancing fz
check_eq "$(mgr FreezeMachine s fz)" "" "FreezeMachine answers"
check_eq "$(unit_prop machine-fz.scope FreezerState)" frozen "systemd froze the scope (FreezerState)"
check_eq "$(machine_prop fz State)" 's "frozen"' "State is frozen"
check "the counter stands still" still fz
check "PropertiesChanged announced it" wait_for 3 inside grep -q '"frozen"' /run/signals
check_eq "$(mgr ThawMachine s fz)" "" "ThawMachine answers"
check_eq "$(unit_prop machine-fz.scope FreezerState)" running "systemd thawed the scope"
check_eq "$(machine_prop fz State)" 's "running"' "State is running again"
check "the counter goes on" advancing fz

err=$(asnobody FreezeMachine s fz)
case $err in
*"Access denied"*|*"Interactive authentication required"*) ok "polkit refuses FreezeMachine to nobody" ;;
*) not_ok "polkit refuses FreezeMachine to nobody (got: $err)" ;;
esac
check "… and the machine runs on" eval '[ "$(unit_prop machine-fz.scope FreezerState)" = running ] && advancing fz'

mgr FreezeMachine s fz >/dev/null
check "frozen again" still fz
check_eq "$(mgr TerminateMachine s fz)" "" "TerminateMachine of the frozen machine answers"
check "the frozen machine is gone and its leader dead" wait_for 10 eval "gone fz && ! alive $L"
check "a machine that is gone cannot be frozen" eval 'mgr FreezeMachine s fz | grep -q "No machine .fz. known"'

testhost_stop "$name"
leak_check
tap_done
