#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# PowerOffMachine, RebootMachine and StartMachine on a host without systemd (cgroupfs backend):
# berth-spawn machines get the signal their init was started with through their supervisor,
# other machines machinectl's signals on their leader; StartMachine runs berth-spawn in a cgroup
# of its own, answers once the machine registered, and restarts it when it reboots.
. "$(dirname "$0")/../lib/libtest.sh"
. "$(dirname "$0")/../lib/berthd.sh"
leak_begin
berthd_setup

POOL=/var/lib/machines
T=$SCRATCH/tree
mk_busybox_tree "$T"
export BERTH_LOG_DIR=$SCRATCH/log
check "berthd starts" start_berthd

leader_of() { prop "$1" Leader | cut -d' ' -f2; }
booted() { grep -c 'booted as' "$1" 2>/dev/null; }
boots() { [ "$(booted "$1")" = "$2" ]; } # boots LOG N: LOG shows N boots (for wait_for)

# ---- a booted berth-spawn machine: reboot and power off through its supervisor ----
DBUS_SYSTEM_BUS_ADDRESS=$BUS spawn -D "$T" -M "$P-b" -b --console=pipe </dev/null >"$SCRATCH/b.log" 2>&1 &
SPAWN=$!; PIDS+=($SPAWN)
check "a booted machine registers" wait_for 15 listed "$P-b"
wait_for 10 boots "$SCRATCH/b.log" 1
first=$(leader_of "$P-b")
check_eq "$(call RebootMachine "$P-b")" "()" "RebootMachine"
check "busybox init reboots: the machine boots a second time" wait_for 15 boots "$SCRATCH/b.log" 2
check "and registers again with a new leader" wait_for 10 eval 'l=$(leader_of "$P-b"); [ -n "$l" ] && [ "$l" != "$first" ]'
check "berth-spawn keeps running across the reboot" kill -0 "$SPAWN"
check_eq "$(call PowerOffMachine "$P-b")" "()" "PowerOffMachine"
check "busybox init runs its shutdown actions" wait_for 15 grep -q 'shutting down' "$SCRATCH/b.log"
wait "$SPAWN"
check_eq "$?" 0 "berth-spawn exits 0 after a clean power off"
check "the machine is gone" wait_for 5 gone "$P-b"

# --reboot-signal: the machine's own choice wins. SIGUSR2 powers busybox init off.
DBUS_SYSTEM_BUS_ADDRESS=$BUS spawn -D "$T" -M "$P-r" -b --reboot-signal=SIGUSR2 --console=pipe </dev/null >"$SCRATCH/r.log" 2>&1 &
SPAWN=$!; PIDS+=($SPAWN)
wait_for 15 listed "$P-r"
wait_for 10 boots "$SCRATCH/r.log" 1
call RebootMachine "$P-r" >/dev/null
wait "$SPAWN"
check_eq "$?:$(booted "$SCRATCH/r.log")" "0:1" "RebootMachine sends the --reboot-signal= the machine was started with"

# ---- a machine berth-spawn did not start: machinectl's signals on the leader ----
# (python: a background shell would start with SIGINT ignored, which a trap cannot undo)
python3 -c 'import signal, sys, time
def note(what, done):
    open(sys.argv[1], "w").write(what + "\n")
    if done: sys.exit(0)
signal.signal(signal.SIGINT, lambda *a: note("reboot", False))
signal.signal(signal.SIGRTMIN + 4, lambda *a: note("poweroff", True))
note("ready", False)
while True: time.sleep(0.1)' "$SCRATCH/sig" &
L=$!; PIDS+=($L)
wait_for 10 grep -qxs ready "$SCRATCH/sig"
call RegisterMachine "$P-f" "@ay []" svc container "uint32 $L" "" >/dev/null
call RebootMachine "$P-f" >/dev/null
check "a foreign leader gets SIGINT for a reboot" wait_for 5 grep -qxs reboot "$SCRATCH/sig"
call PowerOffMachine "$P-f" >/dev/null
check "and SIGRTMIN+4 for a power off" wait_for 5 grep -qxs poweroff "$SCRATCH/sig"
check "it leaves the registry when its leader exits" wait_for 5 gone "$P-f"

# ---- refusals ----
check_eq "$(error_of call PowerOffMachine "$P-none")" "org.berth.machine1.NoSuchMachine" "PowerOffMachine of an unknown machine"
check_eq "$(error_of call StartMachine "../x")" "org.freedesktop.DBus.Error.InvalidArgs" "StartMachine refuses an invalid name"
asnobody() { runuser -u nobody -- gdbus call --address "$BUS" --dest org.berth.machine1 \
	--object-path /org/berth/machine1 --method org.berth.machine1.Manager."$1" -- "${@:2}" 2>&1; }
check "an unprivileged caller may not start machines (no polkit here: denied)" \
	eval "error_of asnobody StartMachine '$P-s' | grep -Eq 'AccessDenied|InteractiveAuthorizationRequired'"

# ---- StartMachine: berthd runs berth-spawn itself ----
out=$(call StartMachine "$P-missing")
check "StartMachine of a machine without an image fails, pointing at its log" \
	grep -q "berth-spawn for $P-missing exited with status 1 before the machine registered; see $BERTH_LOG_DIR/$P-missing.log" <<<"$out"
check "the log says why" grep -q "No image '$P-missing'" "$BERTH_LOG_DIR/$P-missing.log"
check "no cgroup is left of the failed start" test ! -d "$CGROOT/machine.slice/berth-spawn@$P-missing.service"

IMG=$POOL/$P-s
mkdir -p "$POOL"
cp -a "$T" "$IMG"
on_cleanup "rm -rf '$IMG'"
check_eq "$(call StartMachine "$P-s")" "()" "StartMachine returns once the machine registered"
check "it is listed" listed "$P-s"
check_eq "$(prop "$P-s" Unit)" "s \"berth-spawn@$P-s.service\"" "its unit is berth-spawn@NAME.service"
leader=$(leader_of "$P-s")
sup=$(awk '/^PPid:/ {print $2}' "/proc/$leader/status")
# In UNIT/supervisor only when the unit has controllers to hand down to the payload.
want=/machine.slice/berth-spawn@$P-s.service
[ -n "$(cat "$CGROOT$want/cgroup.controllers")" ] && want=$want/supervisor
check_eq "$(sed -n 's/^0:://p' "/proc/$sup/cgroup")" "$want" \
	"berth-spawn runs in the unit's cgroup (its supervisor part if it hands controllers down)"
check_eq "$(sed -n 's/^0:://p' "/proc/$leader/cgroup")" "/machine.slice/berth-spawn@$P-s.service/payload" \
	"the container in its payload part"
check "the machine runs in a user namespace (-U)" test "$(awk '/^Uid:/ {print $2}' "/proc/$leader/status")" -ne 0
check "its console output goes to the log" wait_for 10 boots "$BERTH_LOG_DIR/$P-s.log" 1
check_eq "$(call StartMachine "$P-s")" "()" "StartMachine of a running machine does nothing"
check_eq "$(grep -c 'booted as' "$BERTH_LOG_DIR/$P-s.log")" 1 "(it did not boot twice)"
call RebootMachine "$P-s" >/dev/null
check "a reboot (berth-spawn exits 133) starts it again" wait_for 20 boots "$BERTH_LOG_DIR/$P-s.log" 2
check "and it registers again" wait_for 10 eval 'l=$(leader_of "$P-s"); [ -n "$l" ] && [ "$l" != "$leader" ]'
# A start that arrives while the machine powers off waits for it to be down, then starts it.
leader=$(leader_of "$P-s")
call PowerOffMachine "$P-s" >/dev/null
check_eq "$(call StartMachine "$P-s")" "()" "StartMachine right after PowerOffMachine"
check "it answered for a new run of the machine" eval 'l=$(leader_of "$P-s"); [ -n "$l" ] && [ "$l" != "$leader" ]'
check "which booted once more" wait_for 10 boots "$BERTH_LOG_DIR/$P-s.log" 3
call PowerOffMachine "$P-s" >/dev/null
check "PowerOffMachine stops it for good" wait_for 20 gone "$P-s"
check "its berth-spawn is gone" wait_for 10 test ! -d "$CGROOT/machine.slice/berth-spawn@$P-s.service"
check_eq "$(grep -c 'booted as' "$BERTH_LOG_DIR/$P-s.log")" 3 "and it was not restarted after the power off"

# The same for a machine someone else started: berthd starts its own once that one is down.
bg_spawn hand -D "$IMG" -M "$P-s" -b --console=pipe
wait_for 15 listed "$P-s"
wait_for 10 grep -q 'booted as' "$SCRATCH/hand.out"
call PowerOffMachine "$P-s" >/dev/null
check_eq "$(call StartMachine "$P-s")" "()" "StartMachine while a hand-started machine powers off"
check "the hand-started one is down" dead "$SPAWN"
check "and berthd's own run is up" eval '[ "$(prop "$P-s" Unit)" = "s \"berth-spawn@$P-s.service\"" ]'
call PowerOffMachine "$P-s" >/dev/null
check "which powers off too" wait_for 20 gone "$P-s"
check "leaving no cgroup" wait_for 10 test ! -d "$CGROOT/machine.slice/berth-spawn@$P-s.service"

berthd_teardown
rm -rf "$IMG"
leak_check
[ "$_tap_failed" = 0 ] || sed 's/^/# berthd: /' "$SCRATCH/berthd.log" >&2
tap_done
