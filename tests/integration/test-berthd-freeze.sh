#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# FreezeMachine/ThawMachine (and Machine.Freeze/Thaw, berthctl freeze/thaw) on the cgroupfs
# backend, against a real busybox container: a counter inside stops advancing while frozen and
# goes on after the thaw; State says "frozen" with PropertiesChanged; a frozen machine can be
# terminated (a created scope, and a registered machine that is asked with SIGTERM); refused
# callers and bad input change nothing. The systemd backend: test-berthd-systemd-freeze.sh.
. "$(dirname "$0")/../lib/libtest.sh"
. "$(dirname "$0")/../lib/berthd.sh"
leak_begin
berthd_setup
[ -x "$BERTH_SPAWN" ] || { echo "1..0 # SKIP berth-spawn not built"; exit 0; }
export BERTH_STATE_DIR=$SCRATCH/state
check "berthd starts" start_berthd
bc() { DBUS_SYSTEM_BUS_ADDRESS=$BUS BERTH_NO_POLKIT_AGENT=1 "$BERTHCTL" --no-pager "$@"; }
mcall() {
	local path
	path=$(call GetMachine "$1" | sed -n "s/^(objectpath '\(.*\)',)$/\1/p")
	busctl --address="$BUS" call org.berth.machine1 "$path" org.berth.machine1.Machine "$2" 2>&1
}
asnobody() { runuser -u nobody -- gdbus call --address "$BUS" --dest org.berth.machine1 \
	--object-path /org/berth/machine1 --method org.berth.machine1.Manager."$1" -- "${@:2}" 2>&1; }

T=$SCRATCH/tree
mk_busybox_tree "$T"
CTR=$SCRATCH/ctr; mkdir -p "$CTR"
COUNTER='i=0; while :; do i=$((i+1)); echo $i >/ctr/n.tmp; mv /ctr/n.tmp /ctr/n; sleep 0.02; done'
n() { cat "$CTR/n" 2>/dev/null; }
# advancing: the counter moves within a second.
advancing() { local a; a=$(n); sleep 0.3; wait_for 1 eval '[ "$(n)" != "$a" ]'; }
# still: the counter does not move for a second.
still() { local a; a=$(n); sleep 1; [ -n "$a" ] && [ "$(n)" = "$a" ]; }

dbus-monitor --address "$BUS" "type='signal',interface='org.freedesktop.DBus.Properties'" \
	>"$SCRATCH/mon" 2>&1 &
PIDS+=($!)

M=$P-frz
bg_spawn frz -D "$T" -M "$M" --console=pipe --bind="$CTR:/ctr" -- /bin/sh -c "$COUNTER"
check "a counting container registers" wait_for 10 listed "$M"
check "its counter advances" wait_for 5 advancing
SCOPE=$CGROOT/machine.slice/machine-$M.scope
check_eq "$(prop "$M" State)" 's "running"' "State is running"

check_eq "$(call FreezeMachine "$M")" "()" "FreezeMachine answers"
check "cgroup.events says frozen at once after the answer" grep -qx "frozen 1" "$SCOPE/cgroup.events"
check_eq "$(prop "$M" State)" 's "frozen"' "State is frozen"
check "the counter stands still while frozen" still
check "PropertiesChanged announced the State change" wait_for 3 grep -q '"frozen"' "$SCRATCH/mon"
check_eq "$(call FreezeMachine "$M")" "()" "freezing a frozen machine is fine"
check_eq "$(call ThawMachine "$M")" "()" "ThawMachine answers"
check_eq "$(prop "$M" State)" 's "running"' "State is running again"
check "the counter goes on after the thaw" wait_for 5 advancing
check "cgroup.events says thawed" grep -qx "frozen 0" "$SCOPE/cgroup.events"

# The Machine object's methods and berthctl.
check_eq "$(mcall "$M" Freeze)" "" "Machine.Freeze answers"
check "… and freezes" still
check_eq "$(mcall "$M" Thaw)" "" "Machine.Thaw answers"
check "… and thaws" wait_for 5 advancing
check "berthctl freeze" bc freeze "$M"
check "… stops the counter" still
check "berthctl status says frozen" eval 'bc status "$M" | grep -qi "frozen"'
check "berthctl thaw" bc thaw "$M"
check "… lets it go on" wait_for 5 advancing
bc freeze "$M-none" 2>/dev/null
check_eq "$?" 3 "berthctl freeze of an unknown machine exits 3"

# Refused: unknown or invalid names, and a caller polkit (absent here) does not allow.
check_eq "$(error_of call FreezeMachine "$P-none")" org.berth.machine1.NoSuchMachine "unknown machine"
check_eq "$(error_of call ThawMachine "../x")" org.freedesktop.DBus.Error.InvalidArgs "invalid name"
check_eq "$(error_of asnobody FreezeMachine "$M")" org.freedesktop.DBus.Error.AccessDenied \
	"a non-root caller cannot freeze without polkit"
check "… and the machine runs on" eval 'grep -qx "frozen 0" "$SCOPE/cgroup.events" && advancing'
call FreezeMachine "$M" >/dev/null
check_eq "$(error_of asnobody ThawMachine "$M")" org.freedesktop.DBus.Error.AccessDenied \
	"a non-root caller cannot thaw without polkit"
check "… and the machine stays frozen" still

# Terminate while frozen: the created scope goes, everything in it dies.
C=$(container_pid "$SPAWN")
check_eq "$(call TerminateMachine "$M")" "()" "TerminateMachine of a frozen machine answers"
check "the frozen machine is gone, its processes dead and its scope removed" \
	wait_for 10 eval 'gone "$M" && dead "$C" && test ! -d "$SCOPE"'
wait "$SPAWN" 2>/dev/null

# A registered machine (its leader gets SIGTERM): only a thawed init can act on it.
R=$P-reg
"$BERTH_SPAWN" -q -D "$T" -M "$R" --register=no --console=pipe --bind="$CTR:/ctr" -- /bin/sh -c "$COUNTER" \
	</dev/null >>"$SCRATCH/spawn.log" 2>&1 &
RS=$!; PIDS+=($RS)
wait_for 10 eval 'RL=$(cat /proc/$RS/task/*/children 2>/dev/null | tr -d " "); [ -n "$RL" ]'
call RegisterMachine "$R" "@ay []" "" container "uint32 $RL" "$T" >/dev/null
check "a registered counting machine runs" eval 'listed "$R" && wait_for 5 advancing'
check_eq "$(call FreezeMachine "$R")" "()" "FreezeMachine of a registered machine"
check "… stops its counter" still
call TerminateMachine "$R" >/dev/null
check "TerminateMachine of the frozen registered machine ends it without waiting for SIGKILL" \
	wait_for 5 eval 'gone "$R" && dead "$RL"'
wait "$RS" 2>/dev/null

berthd_teardown
leak_check
tap_done
