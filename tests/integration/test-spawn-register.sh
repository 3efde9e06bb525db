#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-spawn registers itself with berthd: CreateMachine by default (the container ends up in
# berthd's machine-NAME.scope, its cgroup namespace rooted at the payload below), RegisterMachine
# with --keep-unit, nothing with --register=no, and a warning when no berthd answers. Terminate
# through berthd stops it; a killed berth-spawn leaves nothing registered.
. "$(dirname "$0")/../lib/libtest.sh"
. "$(dirname "$0")/../lib/berthd.sh"
leak_begin
berthd_setup

T=$SCRATCH/tree
mk_busybox_tree "$T"
check "berthd starts" start_berthd

# ---- CreateMachine (the default) ----
bg_spawn a -D "$T" -M "$P-a" --console=pipe -- /bin/sh -c 'cat /proc/self/cgroup; echo "id=$(cat /etc/machine-id)"; echo started; exec sleep 300'
check "a registered container appears in ListMachines" wait_for 10 listed "$P-a"
check_eq "$(list | grep "^$P-a " | cut -d' ' -f2,3)" "container berth" "class container, service berth"
check "the container runs" wait_for 5 grep -q started "$SCRATCH/a.out"
leader=$(container_pid "$SPAWN")
check_eq "$(prop "$P-a" Leader)" "u $leader" "Leader is the container's PID 1"
check_eq "$(prop "$P-a" RootDirectory)" "s \"$T\"" "RootDirectory is the tree"
check_eq "$(prop "$P-a" Unit)" "s \"machine-$P-a.scope\"" "Unit is berthd's scope"
check_eq "$(sed -n 's/^0:://p' "/proc/$leader/cgroup")" "/machine.slice/machine-$P-a.scope/payload" \
	"the container lives in the payload cgroup of berthd's scope"
check "inside, its cgroup namespace is rooted there" grep -qx '0::/' "$SCRATCH/a.out"
check_eq "$(sed -n 's/^0:://p' "/proc/$SPAWN/cgroup")" "$(sed -n 's/^0:://p' /proc/$$/cgroup)" \
	"berth-spawn itself stays where it was started"
check_eq "id=$(printf '%02x' $(prop "$P-a" Id | cut -d' ' -f3-))" "$(grep '^id=' "$SCRATCH/a.out")" \
	"Id is the container's machine id"
check_eq "$(error_of call GetMachine "$P-a")" "" "GetMachine finds it"

# A second container of the same name is refused and the first one keeps running (from a tree
# of its own: a second writable run of $T would be refused by the image lock already).
mk_busybox_tree "$SCRATCH/dup-tree"
DBUS_SYSTEM_BUS_ADDRESS=$BUS spawn -D "$SCRATCH/dup-tree" -M "$P-a" --console=pipe -- /bin/true >"$SCRATCH/dup.out" 2>&1
rc=$?
check "a duplicate name fails" test $rc -ne 0
check "with berthd's reason" grep -q "already exists" "$SCRATCH/dup.out"
check_eq "$(prop "$P-a" Leader)" "u $leader" "the first machine is untouched"

out=$(call TerminateMachine "$P-a")
check_eq "$out" "()" "TerminateMachine"
check "berth-spawn exits" wait_for 20 dead "$SPAWN"
check "the machine is gone" wait_for 5 gone "$P-a"
check "its scope is removed" wait_for 5 test ! -d "$CGROOT/machine.slice/machine-$P-a.scope"

# ---- exit status and user namespace ----
DBUS_SYSTEM_BUS_ADDRESS=$BUS spawn -D "$T" -M "$P-b" -U --console=pipe -- /bin/sh -c 'cat /proc/self/cgroup; exit 42' >"$SCRATCH/b.out" 2>&1
check_eq "$?" 42 "a registered -U container's exit status comes back"
check "inside a -U container the cgroup namespace is rooted at the payload too" grep -qx '0::/' "$SCRATCH/b.out"
check "no warning about registration" eval "! grep -qi 'unregistered' '$SCRATCH/b.out'"
check "and it is unregistered once it exited" wait_for 5 gone "$P-b"
check "its scope is removed" wait_for 5 test ! -d "$CGROOT/machine.slice/machine-$P-b.scope"

# ---- --register=no ----
bg_spawn c -D "$T" -M "$P-c" --register=no --console=pipe -- /bin/sh -c 'echo started; exec sleep 300'
wait_for 10 grep -q started "$SCRATCH/c.out"
check "--register=no: not listed" gone "$P-c"
kill "$(spawn_pid "$SPAWN")"; wait_for 20 dead "$SPAWN"

# ---- --keep-unit: RegisterMachine for the unit we run in ----
U=$CGROOT/berthd-test-$$.scope
mkdir "$U"
on_cleanup "rmdir '$U' 2>/dev/null; true"
DBUS_SYSTEM_BUS_ADDRESS=$BUS sh -c 'echo $$ >"$1/cgroup.procs"; shift; exec "$@"' sh "$U" \
	timeout 60 "$BERTH_SPAWN" -D "$T" -M "$P-k" --keep-unit --console=pipe -- /bin/sh -c 'echo started; exec sleep 300' \
	>"$SCRATCH/k.out" 2>&1 &
SPAWN=$!; PIDS+=($SPAWN)
check "--keep-unit registers the machine" wait_for 10 listed "$P-k"
check_eq "$(prop "$P-k" Unit)" "s \"berthd-test-$$.scope\"" "--keep-unit: the unit is the one berth-spawn runs in"
call TerminateMachine "$P-k" >/dev/null
check "terminated" wait_for 20 dead "$SPAWN"
check "and gone" wait_for 5 gone "$P-k"

# ---- a killed berth-spawn ----
bg_spawn d -D "$T" -M "$P-d" --console=pipe -- /bin/sh -c 'echo started; exec sleep 300'
wait_for 10 listed "$P-d"
wait_for 5 grep -q started "$SCRATCH/d.out"
kill -9 "$(spawn_pid "$SPAWN")"
check "SIGKILL of berth-spawn: the machine leaves the registry" wait_for 10 gone "$P-d"
check "and its scope goes" wait_for 10 test ! -d "$CGROOT/machine.slice/machine-$P-d.scope"
bg_spawn du -D "$T" -M "$P-du" -U --console=pipe -- /bin/sh -c 'echo started; exec sleep 300'
wait_for 10 listed "$P-du"
wait_for 5 grep -q started "$SCRATCH/du.out"
leader=$(container_pid "$SPAWN")
base=$(awk '{print $2}' "/proc/$leader/uid_map")
kill -9 "$(spawn_pid "$SPAWN")"
check "SIGKILL of berth-spawn -U: the container dies with it" wait_for 10 dead "$leader"
# A killed supervisor cannot remove its range's lock file (unlocked now, and reused by the next
# pick): ours to tidy up.
rm -f "/run/berth/uid-range/$base"
check "and leaves the registry" wait_for 10 gone "$P-du"
check "and its scope goes" wait_for 10 test ! -d "$CGROOT/machine.slice/machine-$P-du.scope"

# ---- a booted machine: TerminateMachine powers it off (the scope's KillSignal) ----
bg_spawn boot -D "$T" -M "$P-boot" -b --console=pipe
check "a booted machine registers" wait_for 15 listed "$P-boot"
wait_for 10 grep -q 'booted as' "$SCRATCH/boot.out"
call TerminateMachine "$P-boot" >/dev/null
check "TerminateMachine: berth-spawn exits" wait_for 20 dead "$SPAWN"
check "after busybox init's clean shutdown, not a reboot" \
	eval "grep -q 'shutting down' '$SCRATCH/boot.out' && [ \$(grep -c 'booted as' '$SCRATCH/boot.out') = 1 ]"
check "and the machine is gone" wait_for 5 gone "$P-boot"

# ---- bad arguments and no berthd ----
out=$(DBUS_SYSTEM_BUS_ADDRESS=$BUS spawn -D "$T" -M "$P-e" --property=Bogus=1 --console=pipe -- /bin/true 2>&1)
check "an unknown --property is refused before anything starts" grep -q "Unknown or unsupported scope property: Bogus" <<<"$out"
out=$(DBUS_SYSTEM_BUS_ADDRESS=$BUS spawn -D "$T" -M "$P-e" --property=MemoryMax=12Q --console=pipe -- /bin/true 2>&1)
check "a bad --property value is refused" grep -q "Invalid resource limit: MemoryMax=12Q" <<<"$out"
out=$(spawn -D "$T" -M "$P-e" --slice=a--b.slice --console=pipe -- /bin/true 2>&1)
check "an invalid --slice is refused" grep -q "Invalid slice name" <<<"$out"
out=$(spawn -D "$T" -M "$P-e" --slice=x.slice --keep-unit --console=pipe -- /bin/true 2>&1)
check "--slice with --keep-unit is refused" grep -q "not with --keep-unit" <<<"$out"
check "nothing of it was registered" gone "$P-e"

kill -9 "$BERTHD_PID"; wait "$BERTHD_PID" 2>/dev/null; BERTHD_PID=
out=$(DBUS_SYSTEM_BUS_ADDRESS=$BUS spawn -D "$T" -M "$P-f" --console=pipe -- /bin/sh -c 'exit 7' 2>&1)
check_eq "$?" 7 "without berthd the container still runs"
check "with a warning" grep -q "berthd is not running, running $P-f unregistered" <<<"$out"
out=$(DBUS_SYSTEM_BUS_ADDRESS=unix:path=$SCRATCH/nobus spawn -D "$T" -M "$P-f" --console=pipe -- /bin/sh -c 'exit 8' 2>&1)
check_eq "$?" 8 "a bus that does not answer: the container still runs"
check "with a warning" grep -q "Cannot connect to the system bus, running $P-f unregistered" <<<"$out"

berthd_teardown
leak_check
[ "$_tap_failed" = 0 ] || sed 's/^/# berthd: /' "$SCRATCH/berthd.log" >&2
tap_done
