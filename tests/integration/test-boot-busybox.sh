#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Boot mode with busybox init: what PID 1 sees, poweroff, reboot in place and under a unit,
# and stop requests from outside.
. "$(dirname "$0")/../lib/libtest.sh"
need_root
mkscratch
T=$SCRATCH/tree
mk_busybox_tree "$T"
leak_begin

# rc.test runs at the end of busybox's sysinit; each test writes its own.
rc_test() { printf '#!/bin/sh\n%s\n' "$1" >"$T/etc/init.d/rc.test"; chmod 755 "$T/etc/init.d/rc.test"; }
boot() { spawn -D "$T" -M bbox-$$ --console=pipe -b "$@" </dev/null; }
# In the background with $! being berth-spawn itself, so signals reach it and not a shell.
boot_bg() { ( exec "$BERTH_SPAWN" -D "$T" -M bbox-$$ --console=pipe -b "$@" </dev/null >"$SCRATCH/log" 2>&1 ) & pid=$!; }
wait_log() { for _ in $(seq 100); do grep -q "$1" "$SCRATCH/log" && return 0; sleep 0.1; done; return 1; }

rc_test 'echo "pid1=$(cat /proc/1/comm) host=$(hostname) procs=$(ls -d /proc/[0-9]* | wc -l)"; poweroff'
out=$(boot 2>&1); rc=$?
check_eq "$rc" 0 "poweroff inside exits 0"
check "PID 1 is busybox init" grep -q "pid1=init " <<<"$out"
check "the hostname is the machine name" grep -q "host=bbox-$$ " <<<"$out"
n=$(sed -n 's/.*procs=\([0-9]*\).*/\1/p' <<<"$out")
check "only the container's processes are visible ($n)" test -n "$n" -a "${n:-99}" -le 6

rc_test 'if [ ! -e /var/tmp/rebooted ]; then touch /var/tmp/rebooted; reboot; else rm /var/tmp/rebooted; poweroff; fi'
out=$(boot 2>&1); rc=$?
check_eq "$rc" 0 "reboot inside restarts the container in place, then poweroff exits 0"
check_eq "$(grep -c 'booted as' <<<"$out")" 2 "the container booted twice"

# Under a unit (--keep-unit) the unit restarts us: a reboot exits 133 as nspawn does. The
# supervisor runs in a cgroup of the test's own, as a unit's delegated cgroup would be.
CG=/sys/fs/cgroup/unified/berth-test-$$
mkdir "$CG"
on_cleanup "rmdir $CG 2>/dev/null"
rc_test 'reboot'
(echo $BASHPID >"$CG/cgroup.procs" && exec timeout 60 "$BERTH_SPAWN" -D "$T" -M bbox-$$ --console=pipe -b --keep-unit </dev/null >/dev/null 2>&1)
check_eq "$?" 133 "a reboot under --keep-unit exits 133"
check "the unit's cgroup is left as it was (no payload dir)" test ! -e "$CG/payload"
rmdir "$CG"

# Stop from outside: SIGTERM asks busybox init to power off (SIGUSR2), cleanly.
rc_test 'echo up >/dev/kmsg 2>/dev/null; echo READY-FOR-TERM'
boot_bg
wait_log READY-FOR-TERM
kill -TERM $pid
wait $pid; rc=$?
check_eq "$rc" 0 "SIGTERM from outside powers the container off, exit 0"
check "the init ran its shutdown actions" grep -q "shutting down" "$SCRATCH/log"

# A container that does not stop: the second SIGTERM kills it.
cat >"$T/etc/inittab" <<'INITTAB'
::sysinit:/etc/init.d/rcS
::shutdown:/bin/sleep 1000
INITTAB
boot_bg
wait_log READY-FOR-TERM
kill -TERM $pid
sleep 1
kill -TERM $pid
start=$(date +%s)
wait $pid; rc=$?
check_eq "$rc" 137 "a second SIGTERM kills a container that hangs in shutdown"
check "and it is gone at once" test $(( $(date +%s) - start )) -le 5

# --kill-signal chooses what "power off" means: SIGTERM is reboot for busybox init.
rm -rf "$T" && mk_busybox_tree "$T"
rc_test 'if [ -e /var/tmp/once ]; then rm /var/tmp/once; poweroff; fi; touch /var/tmp/once; echo READY-FOR-TERM'
boot_bg --kill-signal=SIGTERM
wait_log READY-FOR-TERM
kill -TERM $pid
wait $pid
check_eq "$(grep -c 'booted as' "$SCRATCH/log")" 2 "--kill-signal=SIGTERM makes busybox init reboot instead"

leak_check
tap_done
