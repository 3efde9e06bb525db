#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A throwaway host with a real systemd as PID 1 for integration tests ("testhost", TESTING.md):
# systemd boots on an overlay of the host's root, in its own PID, mount, UTS, IPC, network and
# cgroup namespaces, with a real system bus, polkitd, logind and machined, so tests can exercise
# scopes, unit files, D-Bus activation and polkit without touching the host.
#
# Use it from bash (source this file) or from any language (run it):
#
#   testhost_start NAME [--bind HOSTPATH[:INNERPATH]]... [--keep-upper DIR] [--owner PID]
#   testhost_exec NAME CMD [ARG]...      run CMD inside as root; returns CMD's exit status
#   testhost_install NAME BUILDDIR       `meson install` the build into the testhost, then
#                                        reload systemd and the bus configuration
#   testhost_pid NAME                    print the host PID of the testhost's PID 1
#   testhost_diag NAME                   print failed units and the journal's tail to stderr
#   testhost_stop NAME [--poweroff]      kill it (or first shut it down cleanly, for restarts
#                                        that must look like a host reboot) and remove
#                                        everything it made; idempotent, safe after a crash
#
#   tests/lib/testhost.sh start|exec|install|pid|diag|stop NAME ...   (same arguments)
#
# Callers must `trap 'testhost_stop NAME' EXIT` right after a successful start. As a second line
# of defence the testhost dies by itself when its owner exits: by default the shell that sourced
# this file ($$), or for the command form the process that ran it; `--owner PID` names another,
# `--owner 0` none (the testhost then runs until `stop`).
#
# What the testhost is:
# - Root: overlayfs with lowerdir=/ and the upper layer on a tmpfs, so every write (useradd,
#   meson install, unit files) is gone when it stops; with --keep-upper DIR the upper layer lives
#   in DIR/upper on the real disk and a later start with the same DIR sees those writes again
#   (the caller creates and removes DIR). Inside, DIR itself is not accessible (ELOOP).
# - --bind HOSTPATH[:INNERPATH] bind-mounts real host paths (default INNERPATH = HOSTPATH) for
#   what must be shared both ways or must be a real filesystem (image pools: chown and idmapped
#   mounts do not work on overlay lower layers). Not allowed under /tmp, /run, /proc, /sys, /dev,
#   which the testhost mounts afresh and whose contents systemd-tmpfiles may remove at boot.
#   Paths that are not bound are still visible read-through (copy-on-write) via the overlay.
# - /tmp, /run and /dev/shm are fresh tmpfs; /dev is the host's /dev (loop devices must work)
#   with its own devpts and /dev/console on /dev/null; /sys is a fresh read-only sysfs with a
#   cgroup2 mount of the testhost's own subtree, /sys/fs/cgroup/unified/berth-testhost-NAME
#   (no controllers: this host gives them all to cgroup v1, so resource limits are not testable
#   here); /proc/sys is read-only except /proc/sys/net.
# - Network: a private network namespace with only lo, so nothing inside touches host links.
# - Units that would act on the shared kernel or devices (sysctl, binfmt, modules, udev, kmod
#   nodes, getty and vconsole on the host's VTs, clock) or that are slow and useless here
#   (timers, e2scrub, random seed), and every service/timer/socket/path the host's admin enabled
#   in /etc/systemd/system/*.wants, are masked in the overlay. Kept: journald, dbus, logind,
#   polkitd and machined (both D-Bus activated), machines.target, remote-fs.target.
# - testhost_exec runs CMD via nsenter in all the testhost's namespaces, in the cgroup
#   /testhost-exec of its tree (so systemd can move it into scopes), with a clean environment:
#   PATH, HOME=/root, USER/LOGNAME=root, LANG=C.UTF-8, TERM; no DBUS_* or other inherited
#   variables (pass more with `env VAR=VALUE CMD`). stdin/stdout/stderr are passed through.
# - `systemctl poweroff` or `reboot` inside ends the testhost (the launcher then removes its
#   cgroup); a "host reboot" is `testhost_stop NAME --poweroff` + start with the same --keep-upper.
# - testhost_install installs into the build's prefix (default /usr/local): systemd reads units
#   there, but dbus-daemon and polkitd read only /usr/share and /etc, so bus policy and polkit
#   actions must be installed to those paths to be live.
#
# Environment: TESTHOST_RUNDIR (state dirs, default /run/berth-testhost; NAME's is
# $TESTHOST_RUNDIR/NAME with pid, launcher, console.log), TESTHOST_TIMEOUT (seconds to reach
# running/degraded, default 30). testhost_start prints "# testhost NAME: running in N.NN s" (or
# "degraded", plus the failed units) to stderr.

TESTHOST_RUNDIR=${TESTHOST_RUNDIR:-/run/berth-testhost}
TESTHOST_TIMEOUT=${TESTHOST_TIMEOUT:-30}
_th_self=$(readlink -f "${BASH_SOURCE[0]}")
_th_cgroot=/sys/fs/cgroup/unified
_th_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

_th_err() { printf 'testhost: %s\n' "$*" >&2; }
_th_dir() { printf '%s/%s' "$TESTHOST_RUNDIR" "$1"; }
_th_cg() { printf '%s/berth-testhost-%s' "$_th_cgroot" "$1"; }

_th_check_name() {
	if [[ ! "${1:-}" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$ ]]; then
		_th_err "invalid name '${1:-}' (letters, digits, '_', '.', '-'; at most 48)"
		return 1
	fi
}

# The start time (clock ticks since boot) tells a live process from a later one that reuses its
# PID; every kill checks it, since state files can outlive the processes they name.
# Prints "STATE STARTTIME" of PID.
_th_procstat() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	set -f
	set -- $stat
	set +f
	echo "$1 ${20}"
}
_th_starttime() { local s; s=$(_th_procstat "$1") || return 1; echo "${s#* }"; }
# _th_alive FILE: FILE holds "PID STARTTIME"; true when that very process still runs (a zombie
# whose parent has not reaped it yet counts as gone).
_th_alive() {
	local pid st now
	[ -r "$1" ] || return 1
	read -r pid st < "$1" || return 1
	[ -n "$pid" ] && now=$(_th_procstat "$pid") || return 1
	[ "${now% *}" != Z ] && [ "${now#* }" = "$st" ]
}
_th_record() { echo "$1 $(_th_starttime "$1")" > "$2"; }

testhost_pid() {
	local dir
	_th_check_name "${1:-}" || return 1
	dir=$(_th_dir "$1")
	if ! _th_alive "$dir/pid"; then
		_th_err "$1 is not running"
		return 1
	fi
	cut -d' ' -f1 "$dir/pid"
}

# Removes the testhost's cgroup tree once its processes are gone (children before parents).
_th_rm_cgroup() {
	local cg=$1 i
	[ -d "$cg" ] || return 0
	for i in $(seq 100); do
		grep -q '^populated 0' "$cg/cgroup.events" 2>/dev/null && break
		sleep 0.1
	done
	find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
	if [ -d "$cg" ]; then
		_th_err "cannot remove $cg, processes left: $(find "$cg" -name cgroup.procs -exec cat {} + | tr '\n' ' ')"
		return 1
	fi
}

_th_rm_state() {
	local dir=$1
	[ -d "$dir" ] || return 0
	# Never delete through a mount; the testhost's mounts live in its own namespace only.
	if grep -qF " $dir/" /proc/self/mountinfo; then
		_th_err "mounts left under $dir, not removing it"
		return 1
	fi
	rm -f "$dir"/pid "$dir"/launcher "$dir"/unshare "$dir"/binds "$dir"/keep "$dir"/console.log
	rmdir "$dir"/mnt "$dir" 2>/dev/null
	rmdir "$TESTHOST_RUNDIR" 2>/dev/null
	if [ -d "$dir" ]; then
		_th_err "unexpected files left in $dir, not removing them"
		return 1
	fi
}

testhost_stop() {
	local name=${1:-} dir cg pid i rc=0
	_th_check_name "$name" || return 1
	dir=$(_th_dir "$name")
	cg=$(_th_cg "$name")
	if [ "${2:-}" = --poweroff ] && _th_alive "$dir/pid"; then
		# A clean shutdown first, so services get their stop (and save state) as on a real host.
		testhost_exec "$name" systemctl start --no-block --job-mode=replace-irreversibly poweroff.target
		for i in $(seq $((TESTHOST_TIMEOUT * 20))); do
			_th_alive "$dir/pid" || break
			sleep 0.05
		done
		_th_alive "$dir/pid" && _th_err "$name: no poweroff within $TESTHOST_TIMEOUT s, killing it"
	fi
	if _th_alive "$dir/pid"; then
		read -r pid _ < "$dir/pid"
		# SIGKILL to a PID namespace's init ends every process in that namespace.
		kill -KILL "$pid" 2>/dev/null
	fi
	if [ -r "$dir/unshare" ] && _th_alive "$dir/unshare"; then
		# Covers a crash between unshare and the recording of PID 1: --kill-child takes it down.
		_th_alive "$dir/pid" || { read -r pid _ < "$dir/unshare"; kill -KILL "$pid" 2>/dev/null; }
	fi
	for i in $(seq 200); do
		_th_alive "$dir/launcher" || _th_alive "$dir/unshare" || break
		sleep 0.05
	done
	if _th_alive "$dir/launcher" || _th_alive "$dir/unshare"; then
		_th_err "$name: launcher still running after 10 s"
		rc=1
	fi
	_th_rm_cgroup "$cg" || rc=1
	_th_rm_state "$dir" || rc=1
	return $rc
}

# Prints why a testhost is not healthy: its console, failed units and the journal's end.
testhost_diag() {
	local name=${1:-} dir
	_th_check_name "$name" || return 1
	dir=$(_th_dir "$name")
	{
		echo "--- testhost $name console:"
		tail -n 40 "$dir/console.log" 2>/dev/null
		if _th_alive "$dir/pid"; then
			echo "--- failed units:"
			testhost_exec "$name" systemctl --no-pager --failed --plain --no-legend
			echo "--- journal:"
			testhost_exec "$name" journalctl --no-pager -b -n 60 -o short-monotonic
		fi
	} 2>&1 | sed 's/^/# /' >&2
}

testhost_start() {
	local name=${1:-} dir cg owner=$$ keep="" binds=() arg host inner i pid1 state t0 t1
	_th_check_name "$name" || return 1
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--bind) binds+=("${2:?--bind needs HOSTPATH[:INNERPATH]}"); shift 2 ;;
		--keep-upper) keep=${2:?--keep-upper needs DIR}; shift 2 ;;
		--owner) owner=${2:?--owner needs a PID}; shift 2 ;;
		*) _th_err "unknown option $1"; return 1 ;;
		esac
	done
	if [ "$(id -u)" != 0 ]; then _th_err "needs root"; return 1; fi
	if [ ! -f "$_th_cgroot/cgroup.procs" ]; then _th_err "no cgroup2 at $_th_cgroot"; return 1; fi
	dir=$(_th_dir "$name")
	cg=$(_th_cg "$name")
	if _th_alive "$dir/pid" || _th_alive "$dir/launcher"; then
		_th_err "$name is already running"
		return 1
	fi
	testhost_stop "$name" || return 1     # what a crashed earlier run left behind

	mkdir -p "$dir/mnt" && : > "$dir/binds" || return 1
	for arg in "${binds[@]}"; do
		host=${arg%%:*}
		inner=${arg#*:}
		[ "$inner" != "$arg" ] || inner=$host
		if ! host=$(realpath -e "${arg%%:*}" 2>/dev/null); then
			_th_err "no such path: ${arg%%:*}"; _th_rm_state "$dir"; return 1
		fi
		case $inner in
		/tmp|/tmp/*|/run|/run/*|/proc|/proc/*|/sys|/sys/*|/dev|/dev/*|/)
			_th_err "cannot bind to $inner (the testhost mounts it afresh)"; _th_rm_state "$dir"; return 1 ;;
		/*) ;;
		*) _th_err "INNERPATH must be absolute: $inner"; _th_rm_state "$dir"; return 1 ;;
		esac
		printf '%s\t%s\n' "$host" "$inner" >> "$dir/binds"
	done
	if [ -n "$keep" ]; then
		mkdir -p "$keep/upper" "$keep/work" && realpath "$keep" > "$dir/keep" || return 1
	fi
	mkdir "$cg" || { _th_rm_state "$dir"; return 1; }

	t0=$(date +%s%N)
	setsid bash "$_th_self" __launch "$name" "$owner" < /dev/null >> "$dir/console.log" 2>&1 &
	for i in $(seq $((TESTHOST_TIMEOUT * 20))); do
		_th_alive "$dir/pid" && break
		# The launcher writes its own record first thing; gone afterwards means it failed.
		if [ -e "$dir/launcher" ] && ! _th_alive "$dir/launcher"; then break; fi
		sleep 0.05
	done
	if ! _th_alive "$dir/pid"; then
		_th_err "$name: systemd did not start"
		testhost_diag "$name"
		testhost_stop "$name"
		return 1
	fi
	read -r pid1 _ < "$dir/pid"
	for i in $(seq $((TESTHOST_TIMEOUT * 20))); do
		[ -S "/proc/$pid1/root/run/dbus/system_bus_socket" ] && break
		_th_alive "$dir/pid" || break
		sleep 0.05
	done
	state=$(testhost_exec "$name" timeout "$TESTHOST_TIMEOUT" systemctl is-system-running --wait 2>&1)
	t1=$(date +%s%N)
	case $state in
	running)
		printf '# testhost %s: running in %d.%02d s\n' "$name" $(((t1 - t0) / 1000000000)) \
			$(((t1 - t0) / 10000000 % 100)) >&2 ;;
	degraded)
		printf '# testhost %s: degraded in %d.%02d s; failed units:\n' "$name" \
			$(((t1 - t0) / 1000000000)) $(((t1 - t0) / 10000000 % 100)) >&2
		testhost_exec "$name" systemctl --no-pager --failed --plain --no-legend 2>&1 | sed 's/^/#   /' >&2 ;;
	*)
		_th_err "$name: not running after ${TESTHOST_TIMEOUT} s (state '$state')"
		testhost_diag "$name"
		testhost_stop "$name"
		return 1 ;;
	esac
}

# Moves the current process into the testhost's exec cgroup, then becomes CMD inside.
_th_exec_here() {
	local name=$1 pid cg
	shift
	pid=$(testhost_pid "$name") || exit 125
	cg=$(_th_cg "$name")/testhost-exec
	# Without this the process would sit outside the testhost's cgroup namespace, where its
	# systemd cannot move it into a scope (systemd-run --scope, berthd's machine scopes).
	mkdir -p "$cg" && echo "$BASHPID" > "$cg/cgroup.procs" || exit 125
	exec nsenter -t "$pid" -a -r -w env -i PATH="$_th_path" HOME=/root USER=root LOGNAME=root \
		SHELL=/bin/bash LANG=C.UTF-8 TERM="${TERM:-dumb}" "$@"
}
testhost_exec() {
	_th_check_name "${1:-}" || return 125
	[ $# -ge 2 ] || { _th_err "usage: testhost_exec NAME CMD..."; return 125; }
	(_th_exec_here "$@")
}

# `meson install` runs inside, so files land in the testhost's overlay only. BUILDDIR must be
# visible at the same path inside: through the overlay, or better a --bind of the source tree.
testhost_install() {
	local name=${1:-} builddir=${2:-} stage rc=0
	[ -n "$builddir" ] || { _th_err "usage: testhost_install NAME BUILDDIR"; return 1; }
	builddir=$(realpath -e "$builddir") || return 1
	[ -f "$builddir/meson-private/install.dat" ] || { _th_err "$builddir is not a configured meson build dir"; return 1; }
	# Staged on the host and unpacked inside: the build tree may live where the testhost
	# cannot see it (under /tmp, which it mounts afresh), and nothing is installed on the host.
	stage=$(mktemp -d /var/tmp/berth-testhost-stage.XXXXXX) || return 1
	if meson install -C "$builddir" --no-rebuild --quiet --destdir "$stage" >/dev/null; then
		# Its entries, not ".": that would give / the stage's 0700. Existing directories keep
		# their modes and owners.
		(cd "$stage" && tar -cf - -- *) |
			testhost_exec "$name" tar -C / -xf - --no-overwrite-dir --keep-directory-symlink || rc=1
	else
		rc=1
	fi
	rm -rf --one-file-system "$stage"
	[ $rc -eq 0 ] || return 1
	testhost_exec "$name" systemctl daemon-reload || return 1
	testhost_exec "$name" busctl call org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus ReloadConfig >/dev/null
}

# Setsid'd parent of `unshare`: records PIDs, moves itself out of the testhost's cgroup, watches
# the owner, and removes the cgroup tree once the testhost has died, whoever killed it.
_th_launch() {
	local name=$1 owner=$2 dir cg orig u pid1 i
	dir=$(_th_dir "$name")
	cg=$(_th_cg "$name")
	_th_record $$ "$dir/launcher"
	orig=$(sed -n 's/^0:://p' /proc/self/cgroup)
	# The cgroup namespace is rooted where unshare stands when it creates it.
	echo $$ > "$cg/cgroup.procs" || exit 1
	unshare --pid --fork --kill-child=SIGKILL --mount --uts --ipc --net --cgroup \
		--propagation private -- bash "$_th_self" __inner "$name" &
	u=$!
	_th_record "$u" "$dir/unshare"
	for i in $(seq 200); do
		pid1=$(cat "/proc/$u/task/$u/children" 2>/dev/null) && [ -n "$pid1" ] && break
		sleep 0.01
	done
	pid1=${pid1%% *}
	if [ -n "$pid1" ]; then
		# Only the testhost's own processes stay in its cgroup, so it empties when it dies.
		echo $$ > "$_th_cgroot$orig/cgroup.procs"
		echo "$u" > "$_th_cgroot$orig/cgroup.procs"
		# PID 1 runs our __inner script first; record it once it is systemd.
		for i in $(seq 400); do
			[ "$(cat "/proc/$pid1/comm" 2>/dev/null)" = systemd ] && break
			[ -d "/proc/$pid1" ] || break
			sleep 0.01
		done
		[ "$(cat "/proc/$pid1/comm" 2>/dev/null)" = systemd ] && _th_record "$pid1" "$dir/pid"
	fi
	while _th_alive "$dir/unshare"; do
		if [ "$owner" != 0 ] && ! kill -0 "$owner" 2>/dev/null; then
			echo "testhost: owner $owner is gone, stopping $name"
			kill -KILL "$u"
		fi
		# Wakes up when unshare exits or after half a second, whichever comes first.
		sleep 0.5 &
		wait -n "$u" $!
	done
	wait "$u"
	echo "testhost: $name stopped (unshare exit status $?)"
	_th_rm_cgroup "$cg"
	if [ "$owner" != 0 ] && ! kill -0 "$owner" 2>/dev/null; then
		_th_rm_state "$dir"
	fi
}

# Units masked in every testhost; see the header for why.
_th_masked_units=(
	systemd-sysctl.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount
	proc-sys-fs-binfmt_misc.mount systemd-modules-load.service kmod-static-nodes.service
	systemd-tmpfiles-setup-dev.service systemd-udevd.service systemd-udevd-control.socket
	systemd-udevd-kernel.socket systemd-udev-trigger.service systemd-udev-settle.service
	systemd-hwdb-update.service systemd-vconsole-setup.service getty@.service autovt@.service
	serial-getty@.service console-getty.service container-getty@.service getty-static.service
	systemd-ask-password-console.path systemd-ask-password-wall.path systemd-timesyncd.service
	systemd-random-seed.service systemd-pstore.service systemd-tmpfiles-clean.timer
	sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount
	sys-fs-fuse-connections.mount dev-hugepages.mount
)

_th_prepare_etc() {
	local root=$1 name=$2 u f
	mkdir -p "$root/etc/systemd/system"
	for u in "${_th_masked_units[@]}"; do
		ln -sfn /dev/null "$root/etc/systemd/system/$u"
	done
	# The host admin's enabled services (databases, timers…) differ per machine; mask them so
	# every testhost is the same. Read from the real /etc, so units enabled inside survive.
	for f in /etc/systemd/system/*.wants/*; do
		u=${f##*/}
		case $u in
		*.service|*.timer|*.socket|*.path|*.mount) ln -sfn /dev/null "$root/etc/systemd/system/$u" ;;
		esac
	done
	echo "testhost-$name" > "$root/etc/hostname"
	# Its own machine-id, kept with the upper layer (a host and its testhost are two machines).
	if [ -s "$root/etc/machine-id" ] && ! cmp -s /etc/machine-id "$root/etc/machine-id"; then
		return 0
	fi
	tr -d '-' < /proc/sys/kernel/random/uuid > "$root/etc/machine-id"
}

# PID 1 of the new namespaces: builds the root and becomes systemd. Runs in a private mount
# namespace, so none of these mounts is ever visible on the host.
_th_inner() {
	local name=$1 dir base root upper work keep="" host inner
	set -e
	dir=$(_th_dir "$name")
	base=$dir/mnt
	root=$base/root
	mount -t tmpfs -o mode=0700 "testhost-$name" "$base"
	[ -s "$dir/keep" ] && keep=$(cat "$dir/keep")
	if [ -n "$keep" ]; then
		upper=$keep/upper work=$keep/work
	else
		upper=$base/upper work=$base/work
		mkdir "$upper" "$work"
	fi
	mkdir "$root"
	mount -t overlay -o "lowerdir=/,upperdir=$upper,workdir=$work,index=off" "testhost-$name" "$root"

	mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
	mount --bind "$root/proc/sys" "$root/proc/sys"
	mount --bind "$root/proc/sys/net" "$root/proc/sys/net"
	mount -o remount,bind,ro "$root/proc/sys"
	if [ -e "$root/proc/sysrq-trigger" ]; then
		mount --bind "$root/proc/sysrq-trigger" "$root/proc/sysrq-trigger"
		mount -o remount,bind,ro "$root/proc/sysrq-trigger"
	fi
	# Read-only /sys also keeps udev off (its units need a writable /sys).
	mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
	mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$root/sys/fs/cgroup"
	mount --rbind /dev "$root/dev"
	mount -t tmpfs -o nosuid,nodev,mode=1777 shm "$root/dev/shm"
	mount -t devpts -o newinstance,nosuid,noexec,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
	mount --bind "$root/dev/pts/ptmx" "$root/dev/ptmx"
	mount --bind /dev/null "$root/dev/console"
	mount -t tmpfs -o nosuid,nodev,mode=0755 run "$root/run"
	mount -t tmpfs -o nosuid,nodev,mode=1777 tmp "$root/tmp"
	while IFS=$'\t' read -r host inner; do
		if [ -d "$host" ]; then
			mkdir -p "$root$inner"
		else
			mkdir -p "$(dirname "$root$inner")"
			[ -e "$root$inner" ] || touch "$root$inner"
		fi
		mount --rbind "$host" "$root$inner"
	done < "$dir/binds"
	_th_prepare_etc "$root" "$name"

	cd "$root"
	pivot_root . .
	umount -l .
	cd /
	exec env -i container=berth-testhost PATH="$_th_path" \
		/lib/systemd/systemd --system --unit=multi-user.target < /dev/null
}


# For tests of the installed berth (source libtest.sh first):
#   testhost_need_build                skip (TAP) unless $BUILD_ROOT is a configured build
#   testhost_up_with_build NAME ARGS   testhost_start NAME ARGS (skip if no testhost can start),
#                                      then install $BUILD_ROOT into it (an ok line, or bail out)
testhost_need_build() {
	if [ -z "${BUILD_ROOT:-}" ] || [ ! -f "$BUILD_ROOT/meson-private/install.dat" ]; then
		echo "1..0 # SKIP no configured build dir (BUILD_ROOT), nothing to install"
		exit 0
	fi
}

testhost_up_with_build() {
	local name=$1; shift
	if ! testhost_start "$name" "$@"; then
		echo "1..0 # SKIP no testhost (see tests/lib/testhost.sh)"
		exit 0
	fi
	if testhost_install "$name" "$BUILD_ROOT"; then
		ok "the build installs into the testhost"
	else
		not_ok "the build installs into the testhost"
		echo "Bail out! nothing to test without berth installed"
		exit 1
	fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	cmd=${1:-}
	shift || true
	case $cmd in
	start) n=${1:-}; shift || true; testhost_start "$n" --owner "$PPID" "$@" ;;
	exec) _th_check_name "${1:-}" || exit 125; _th_exec_here "$@" ;;
	install) testhost_install "$@" ;;
	pid) testhost_pid "$@" ;;
	diag) testhost_diag "$@" ;;
	stop) testhost_stop "$@" ;;
	__launch) _th_launch "$@" ;;
	__inner) _th_inner "$@" ;;
	*) echo "usage: $0 start|exec|install|pid|diag|stop NAME [ARG]..." >&2; exit 2 ;;
	esac
fi
