#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth's main job, from a fresh Debian 12 machine, as root: installs what it needs, builds and
# installs berth, puts a small busybox OS tree into the image pool as "demo", makes sure a system
# bus and berthd run (starting them itself, in the background, where the host has no systemd),
# boots the machine with `berthctl start demo`, shows it, and leaves it running.
#
# Idempotent: a second run changes nothing (the bus, berthd and the machine that run are kept,
# the tree and the installed files stay as they are) and shows the machine again.
#
# BERTH_BUILD_DIR=DIR uses an already configured and built meson build directory instead of
# ./build (tests/integration/test-demo.sh does, so as not to build berth twice).
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "Run this as root." >&2; exit 1; }

POOL=/var/lib/machines
LOGDIR=/var/log/berth
NAME=demo

step() { printf '\n==> %s\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }
wait_until() {
	local i
	for i in $(seq 100); do "$@" && return 0; sleep 0.1; done
	return 1
}
bus_up() {
	busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetId \
		>/dev/null 2>&1
}
berthd_up() {
	busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
		NameHasOwner s org.berth.machine1 2>/dev/null | grep -qx 'b true'
}
machine_running() {
	busctl --system call org.berth.machine1 /org/berth/machine1 org.berth.machine1.Manager \
		GetMachine s "$1" >/dev/null 2>&1
}
# The host runs systemd as PID 1 (sd_booted()'s test).
systemd_host() { [ -d /run/systemd/system ]; }

# ---- build and install

step "Installing the packages berth needs, building and installing berth"
tools/deps.sh
if [ -n "${BERTH_BUILD_DIR:-}" ]; then
	BUILD=$BERTH_BUILD_DIR
	[ -f "$BUILD/meson-private/install.dat" ] || die "$BUILD is not a configured meson build directory"
else
	BUILD=build
	tools/build.sh >/dev/null
fi
# Files that did not change keep their timestamps, so a second run changes nothing.
meson install -C "$BUILD" --no-rebuild --quiet --only-changed >/dev/null
eval "$(meson introspect --buildoptions "$BUILD" | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
d = lambda k: o[k] if o[k].startswith("/") else o["prefix"] + "/" + o[k]
print("BERTHCTL=%s/berthctl BERTHD=%s/berthd" % (d("bindir"), d("libexecdir")))')"
[ -x "$BERTHCTL" ] && [ -x "$BERTHD" ] || die "the build installed no $BERTHCTL or $BERTHD"
echo "berthctl is $BERTHCTL, berthd is $BERTHD."

# What systemd-tmpfiles does at boot (tmpfiles/berth.conf): /run/berth, the pool, the logs.
tmpfiles=$(pkg-config --variable=tmpfilesdir systemd 2>/dev/null || echo /usr/lib/tmpfiles.d)/berth.conf
if command -v systemd-tmpfiles >/dev/null && [ -f "$tmpfiles" ]; then
	systemd-tmpfiles --create "$tmpfiles"
else
	install -d -m 0755 /run/berth
	install -d -m 0700 "$POOL"
	install -d -m 0750 "$LOGDIR"
fi

# ---- the OS tree

step "The machine's OS tree: $POOL/$NAME"
if [ -e "$POOL/$NAME/etc/os-release" ]; then
	echo "It is there already; kept as it is."
else
	echo "Building a busybox tree (no network needed) ..."
	rm -rf --one-file-system "$POOL/$NAME.tmp"
	tests/fixtures/busybox-tree.sh "$POOL/$NAME.tmp"
	# `berthctl login` asks for root's password: none, on this throwaway demo machine only.
	sed -i 's/^root:x:/root::/' "$POOL/$NAME.tmp/etc/passwd"
	mv "$POOL/$NAME.tmp" "$POOL/$NAME"
fi
# An earlier version of this script put a script into the tree that powered the machine off.
if grep -qs '^poweroff' "$POOL/$NAME/etc/init.d/rc.test"; then
	rm -f "$POOL/$NAME/etc/init.d/rc.test"
fi

# ---- the system bus and berthd

cgroup2_root() {
	local d
	for d in /sys/fs/cgroup /sys/fs/cgroup/unified; do
		[ "$(stat -fc %T "$d" 2>/dev/null)" = cgroup2fs ] && { echo "$d"; return 0; }
	done
	return 1
}

start_bus() {
	# dbus-daemon --system with the distribution's own configuration, which includes the
	# policy berth installed; it runs as messagebus and writes /run/dbus/pid.
	[ -S /run/dbus/system_bus_socket ] && rm -f /run/dbus/system_bus_socket /run/dbus/pid
	install -d -m 0755 /run/dbus
	dbus-uuidgen --ensure
	setsid dbus-daemon --system --nofork --nosyslog </dev/null >>"$LOGDIR/dbus-daemon.log" 2>&1 &
	wait_until bus_up || die "the system bus did not start; see $LOGDIR/dbus-daemon.log"
}

start_berthd() {
	local cg
	# A cgroup of its own beside machine.slice, as berthd.service would have.
	cg=$(cgroup2_root)/berthd.service
	mkdir -p "$cg" 2>/dev/null || cg=""
	setsid sh -c '[ -z "$1" ] || echo $$ >"$1/cgroup.procs"; echo $$ >/run/berth/berthd.pid
		exec env BERTH_SCOPE_BACKEND=cgroupfs "$2"' sh "$cg" "$BERTHD" \
		</dev/null >>"$LOGDIR/berthd.log" 2>&1 &
	wait_until berthd_up || die "berthd did not start; see $LOGDIR/berthd.log"
}

step "The system bus and berthd"
if systemd_host; then
	systemctl daemon-reload
	bus_up || systemctl start dbus.service
	if berthd_up; then
		echo "berthd.service is running already."
	else
		systemctl start berthd.service
		echo "Started berthd.service."
	fi
else
	if bus_up; then
		echo "The system bus is running already."
	else
		start_bus
		echo "No systemd here: started dbus-daemon --system (log: $LOGDIR/dbus-daemon.log)."
	fi
	if berthd_up; then
		echo "berthd is running already."
	else
		start_berthd
		echo "No systemd here: started $BERTHD with the cgroupfs backend" \
			"(PID $(cat /run/berth/berthd.pid), log: $LOGDIR/berthd.log)."
	fi
fi

# ---- the machine: every berthctl call of the demo is here

show() { printf '\n$ berthctl %s\n' "$*"; "$BERTHCTL" --no-pager "$@"; }

step "berthctl start $NAME"
if machine_running "$NAME"; then
	echo "$NAME is running already."
else
	"$BERTHCTL" start "$NAME" || die "$NAME did not start; see $LOGDIR/$NAME.log"
	echo "$NAME is booting."
fi
show list
show status "$NAME"
show exec "$NAME" -- uname -a

cat <<EOF

The machine '$NAME' is running, and stays running. Next:
  berthctl shell $NAME        a root shell inside ('exit' leaves it)
  berthctl login $NAME        a login prompt (user root, no password; ^] three times leaves it)
  berthctl poweroff $NAME     shut it down; 'berthctl start $NAME' boots it again
EOF
if systemd_host; then
	echo "Its console writes to the journal: journalctl -u berth-spawn@$NAME.service"
else
	echo "Its console writes to $LOGDIR/$NAME.log."
fi
