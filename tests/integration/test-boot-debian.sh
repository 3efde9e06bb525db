#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A real Debian 12 with systemd as PID 1: boots to multi-user with no failed unit, reports
# READY through --notify-ready, and powers off cleanly on SIGTERM; without and with -U.
. "$(dirname "$0")/../lib/libtest.sh"
need_root
DEBIAN=$("$TESTS_SRC/fixtures/debian-tree.sh" 2>/dev/null) || { echo "1..0 # SKIP the Debian tree could not be built (no mirror?)"; exit 0; }
mkscratch
T=$SCRATCH/deb-$$
cp -a --reflink=auto "$DEBIAN" "$T"
# Without /etc/hostname systemd keeps the hostname the runtime gave it: the machine name.
rm -f "$T/etc/hostname"
leak_begin

# A notify socket of our own, as a Type=notify unit's manager would have.
python3 - "$SCRATCH/notify" "$SCRATCH/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as log:
    while True:
        log.write(s.recv(4096).decode(errors="replace") + "\n")
        log.flush()
PY
listener=$!
on_cleanup "kill $listener"
for _ in $(seq 50); do [ -S "$SCRATCH/notify" ] && break; sleep 0.1; done

owners() { (cd "$T" && find . -xdev -printf '%p %U:%G\n' | sort); }

for mode in "" "-U"; do
	[ -n "$mode" ] && before=$(owners)
	: >"$SCRATCH/notify.log"
	( NOTIFY_SOCKET=$SCRATCH/notify exec "$BERTH_SPAWN" -D "$T" -M deb-$$ -b --notify-ready=yes --console=pipe $mode </dev/null >"$SCRATCH/console.log" 2>&1 ) &
	pid=$!
	for _ in $(seq 300); do grep -q READY=1 "$SCRATCH/notify.log" && break; kill -0 $pid 2>/dev/null || break; sleep 0.1; done
	check "boot $mode: READY=1 reached our notify socket" grep -q READY=1 "$SCRATCH/notify.log"
	init=$(pgrep -P $pid -x systemd | head -1)
	state=$(nsenter -t "$init" -a systemctl is-system-running --wait 2>&1)
	failed=$(nsenter -t "$init" -a systemctl --failed --no-legend --plain 2>&1 | awk '{print $1}' | tr '\n' ' ')
	check "boot $mode: systemd reports '$state' with no failed unit ($failed)" test "$state" = running -a -z "$failed"
	check_eq "$(nsenter -t "$init" -a hostname)" "deb-$$" "boot $mode: the hostname is the machine name"
	check_eq "$(nsenter -t "$init" -a systemd-detect-virt -c)" "container-other" "boot $mode: systemd knows it runs in a container"
	start=$(date +%s)
	kill -TERM $pid
	wait $pid
	rc=$?
	check_eq "$rc" 0 "boot $mode: SIGTERM powers it off cleanly (exit 0, $(( $(date +%s) - start )) s)"
	[ -n "$mode" ] && check_eq "$(owners | join - <(echo "$before") | awk '$2 != $3' | head -5)" "" "boot -U: the tree's owners on disk are unchanged"
done
leak_check
tap_done
