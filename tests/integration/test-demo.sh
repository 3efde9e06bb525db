#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The README's first command, as a newcomer runs it: tools/demo.sh, twice, as root, on a host
# without systemd and without a system bus (as these machines are). After each run the machine
# "demo" must be running and answer; the second run must keep the bus, berthd and the machine it
# finds running, and change no installed file and nothing in the pool.
#
# The clean host is a fresh PID, mount, UTS, IPC and cgroup namespace whose root is an overlay of
# the real one (writes go to a tmpfs), with a fresh /run and /tmp, its own cgroup2 subtree and
# the image pool bind-mounted from the scratch dir (idmapped mounts need a real filesystem).
# When the test ends, its PID 1 exits and takes the bus, berthd and the machine with it.
#
# Unlike a newcomer, the test does not build berth a second time: demo.sh installs the build
# meson test runs from (BERTH_BUILD_DIR=$BUILD_ROOT); deps.sh, the install, the tree, the bus,
# berthd and every berthctl call are the README's own.

# ---- inside the namespaces (PID 1): build the root, run the demo twice, record what it did
if [ "${1:-}" = __inner ]; then
	set -u
	unset DBUS_SYSTEM_BUS_ADDRESS
	SCRATCH=$2 SRC_ROOT=$3 BUILD_ROOT=$4 CGROOT=$5
	OUT=$SCRATCH/out
	base=$SCRATCH/ns root=$SCRATCH/ns/root
	set -e
	mount -t tmpfs -o mode=0700 demo-test "$base"
	mkdir "$base/upper" "$base/work" "$root"
	mount -t overlay -o "lowerdir=/,upperdir=$base/upper,workdir=$base/work,index=off" demo-test "$root"
	mount -t proc proc "$root/proc"
	mount --rbind /dev "$root/dev"
	mount --rbind /sys "$root/sys"
	# The host's cgroup layout, with the cgroup2 tree rooted at the test's own cgroup.
	umount "$root$CGROOT"
	mount -t cgroup2 cgroup2 "$root$CGROOT"
	mount -t tmpfs -o mode=0755 run "$root/run"
	mount -t tmpfs -o mode=1777 tmp "$root/tmp"
	mkdir -p "$root/var/lib/machines"
	mount --bind "$SCRATCH/pool" "$root/var/lib/machines"
	mount --bind "$OUT" "$root$OUT"
	cd "$root"
	pivot_root . .
	umount -l .
	cd /
	set +e

	demo() {
		env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
			LANG=C.UTF-8 TERM=dumb BERTH_BUILD_DIR="$BUILD_ROOT" \
			timeout -k 5 100 "$SRC_ROOT/tools/demo.sh" </dev/null
	}
	installed=$(meson introspect --installed "$BUILD_ROOT" |
		python3 -c 'import json, sys; print("\n".join(sorted(json.load(sys.stdin).values())))')
	bcall() { busctl --system "$@" 2>&1; }
	# Everything a second run must leave as it is.
	snapshot() {
		local path
		echo "bus pid $(cat /run/dbus/pid 2>&1)"
		echo "berthd $(bcall call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
			GetConnectionUnixProcessID s org.berth.machine1)"
		path=$(bcall call org.berth.machine1 /org/berth/machine1 org.berth.machine1.Manager \
			GetMachine s demo | sed -n 's/^o "\(.*\)"$/\1/p')
		echo "demo leader $(bcall get-property org.berth.machine1 "${path:-/}" org.berth.machine1.Machine Leader)"
		echo "demo state $(bcall get-property org.berth.machine1 "${path:-/}" org.berth.machine1.Machine State)"
		echo "== installed"
		for f in $installed; do stat -c '%n %i %Y %s %a' "$f" 2>&1; done
		echo "== pool, /run/berth, /var/log/berth"
		find /var/lib/machines /run/berth /var/log/berth -xdev ! -name '*.log' \
			-printf '%p %i %T@ %s %m %u\n' 2>&1 | sort
	}
	for run in 1 2; do
		demo >"$OUT/run$run.out" 2>&1
		echo $? >"$OUT/run$run.status"
		snapshot >"$OUT/run$run.state"
		# The machine answers, from outside the demo script.
		berthctl exec demo -- cat /etc/os-release >"$OUT/run$run.exec" 2>&1
		echo $? >>"$OUT/run$run.exec"
	done
	# For the diagnostics of a failure.
	tail -n 30 /var/log/berth/*.log >"$OUT/logs" 2>&1
	exit 0
fi

# ---- outside: set up, run the namespaces, check what they recorded, clean up
. "$(dirname "$0")/../lib/libtest.sh"
need_root
missing=""
for p in unshare dbus-daemon busctl meson python3 timeout; do
	command -v "$p" >/dev/null || missing+=" $p"
done
[ -x /bin/busybox ] || missing+=" busybox-static"
[ -n "${BUILD_ROOT:-}" ] || missing+=" BUILD_ROOT(meson test sets it)"
if [ -n "$missing" ]; then
	echo "1..0 # SKIP missing:$missing"
	# For the diagnostics of a failure.
	tail -n 30 /var/log/berth/*.log >"$OUT/logs" 2>&1
	exit 0
fi
SRC_ROOT=$(cd "$TESTS_SRC/.." && pwd)
BUILD_ROOT=$(cd "$BUILD_ROOT" && pwd)
case $BUILD_ROOT/ in
/tmp/*|/run/*) echo "1..0 # SKIP BUILD_ROOT is under /tmp or /run, which the clean host mounts afresh"; exit 0 ;;
esac
CGROOT=/sys/fs/cgroup/unified
[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] && CGROOT=/sys/fs/cgroup

tap_plan 16
leak_begin
mkscratch
mkdir -p "$SCRATCH/ns" "$SCRATCH/out" "$SCRATCH/pool"
chmod 0700 "$SCRATCH/pool"
# What the host has before, to see that nothing of the demo reaches it.
host_snapshot() {
	stat -c '%n %i %Y' /usr/bin/berthctl /usr/libexec/berthd /usr/lib/tmpfiles.d/berth.conf \
		/var/lib/machines /var/log/berth /run/berth /run/dbus 2>&1
	ls /var/lib/machines /run/dbus 2>&1
}
host_before=$(host_snapshot)

CG=$CGROOT/berth-test-demo-$$
mkdir "$CG"
rm_cg() {
	[ -d "$CG" ] || return 0
	for _ in $(seq 50); do grep -q '^populated 0' "$CG/cgroup.events" && break; sleep 0.1; done
	find "$CG" -depth -type d -exec rmdir {} + 2>/dev/null
	[ ! -d "$CG" ]
}
on_cleanup rm_cg

t0=$(date +%s)
# The cgroup namespace is rooted where unshare stands: in $CG.
(echo $BASHPID >"$CG/cgroup.procs" &&
	exec unshare --pid --fork --kill-child=SIGKILL --mount --uts --ipc --cgroup --propagation private \
		-- bash "$0" __inner "$SCRATCH" "$SRC_ROOT" "$BUILD_ROOT" "$CGROOT") >"$SCRATCH/inner.log" 2>&1
status=$?
diag "two demo runs took $(($(date +%s) - t0)) s"
[ $status = 0 ] || sed 's/^/# inner: /' "$SCRATCH/inner.log" >&2
O=$SCRATCH/out
failed_before=$_tap_failed

for run in 1 2; do
	check_eq "$(cat "$O/run$run.status" 2>&1)" 0 "run $run: tools/demo.sh succeeds"
	[ "$(cat "$O/run$run.status" 2>&1)" = 0 ] || sed "s/^/# run $run: /" "$O/run$run.out" >&2
	check "run $run: it shows berthctl list, status and exec (uname -a)" sh -c \
		'grep -q "^\$ berthctl list" "$1" && grep -q "^\$ berthctl status demo" "$1" &&
		 grep -q "^Linux .*$(uname -r)" "$1"' sh "$O/run$run.out"
	check_eq "$(sed -n 's/^demo state //p' "$O/run$run.state")" 's "running"' \
		"run $run: demo is running afterwards"
	check_eq "$(grep -c '^ID=berth-busybox$\|^0$' "$O/run$run.exec")" 2 \
		"run $run: berthctl exec reaches the busybox machine afterwards"
done
check "run 1 started the bus and berthd itself" sh -c \
	'grep -q "started dbus-daemon --system" "$1" && grep -q "started .*berthd with the cgroupfs backend" "$1"' \
	sh "$O/run1.out"
check "run 2 found the bus, berthd and demo running and kept them" sh -c \
	'grep -q "system bus is running already" "$1" && grep -q "berthd is running already" "$1" &&
	 grep -q "demo is running already" "$1" && grep -q "It is there already" "$1"' sh "$O/run2.out"
check_eq "$(cat "$O/run2.state")" "$(cat "$O/run1.state")" \
	"run 2 changed nothing: same bus, berthd and machine processes, installed files, pool, state"
check_eq "$(grep -c '^/[^ ]*/berthd \|^/[^ ]*/bin/berthctl ' "$O/run1.state"):$(grep -c 'cannot stat' "$O/run1.state")" \
	2:0 "(the snapshot saw every installed file, berthd and berthctl among them)"

[ "$_tap_failed" = "$failed_before" ] || sed 's/^/# /' "$O/logs" >&2

# ---- cleanup: the namespace is gone, and with it every process it started
check "no process of the demo outlives its namespace" sh -c \
	'for p in $(find "$1" -name cgroup.procs -exec cat {} +); do exit 1; done' sh "$CG"
check "its cgroups are removed" rm_cg
check_eq "$(host_snapshot)" "$host_before" \
	"the host's /usr, pool, logs and /run are untouched"
rm -rf --one-file-system "${SCRATCH:?}/pool"
leak_check
tap_done
