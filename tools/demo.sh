#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth's main job on a built-in default, from a fresh Debian 12 machine, as root: installs what
# it needs, builds and installs berth, puts a small busybox OS tree into the image pool as
# "demo", and boots it in a container that shows what it sees and then powers itself off.
# Running it again reuses the tree and boots it again.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "Run this as root." >&2; exit 1; }
tools/deps.sh
tools/build.sh >/dev/null
meson install -C build --no-rebuild --quiet

POOL=/var/lib/machines
if [ ! -e "$POOL/demo/etc/os-release" ]; then
	echo "Building the demo OS tree in $POOL/demo ..."
	mkdir -p "$POOL"
	tests/fixtures/busybox-tree.sh "$POOL/demo.tmp"
	mv "$POOL/demo.tmp" "$POOL/demo"
fi
# What the demo machine does once booted: show itself, then power off cleanly.
cat >"$POOL/demo/etc/init.d/rc.test" <<'RC'
#!/bin/sh
echo
echo "=== inside machine $(hostname) ==="
echo "PID 1 is: $(cat /proc/1/comm); processes visible: $(ls -d /proc/[0-9]* | wc -l)"
echo "kernel:   $(uname -sr)"
echo "os:       $(. /etc/os-release; echo "$PRETTY_NAME") (host: $(. /run/host/os-release; echo "$PRETTY_NAME"))"
echo "cgroup:   $(grep '^0::' /proc/self/cgroup) (its own subtree)"
echo "users:    $(cat /proc/self/uid_map | tr -s ' ')  (container root is not host root)"
echo "setting the clock:    $(date -s 2000.01.01-00:00 2>&1 >/dev/null | tail -n1)"
echo "reading the kernel log: $(dmesg 2>&1 | tail -n1)"
echo "writing /proc/sys:    $( (echo x >/proc/sys/kernel/hostname) 2>&1 | sed 's/.*: //')"
echo "=== powering off ==="
poweroff
RC
chmod 755 "$POOL/demo/etc/init.d/rc.test"

echo "Booting machine 'demo': berth-spawn -M demo -b -U"
status=0
berth-spawn -M demo -b -U --console=pipe </dev/null || status=$?
echo
echo "The machine powered itself off (exit status $status). Boot it yourself with a console:"
echo "  berth-spawn -M demo -b        (then 'poweroff' inside, or ^] three times to leave)"
echo "  berth-spawn -M demo -- /bin/sh"
