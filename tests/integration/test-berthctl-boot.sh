#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Boot at startup under a real systemd (a testhost): `berthctl enable demo` links
# berth-spawn@demo.service into machines.target (and enables that); after a host restart that
# keeps the testhost's disk the machine runs without anyone starting it; `disable --now` stops
# it and removes the link.
. "$(dirname "$0")/../lib/libtest.sh"
. "$TESTS_SRC/lib/testhost.sh"
. "$TESTS_SRC/lib/berthd.sh" # wait_for
need_root
testhost_need_build

leak_begin
mkscratch
name=bb$$
on_cleanup "testhost_stop $name"
# The image pool on the real disk (-U needs idmapped mounts, which the overlay cannot give), and
# the testhost's upper layer kept there across its restart.
POOL=$SCRATCH/pool
KEEP=$SCRATCH/keep
mkdir -p "$POOL" "$KEEP"
mk_busybox_tree "$POOL/demo"
printf '::sysinit:/etc/init.d/rcS\n::once:/bin/sleep 100000\n' >"$POOL/demo/etc/inittab"

inside() { testhost_exec "$name" "$@"; }
U=berth-spawn@demo.service
LINK=/etc/systemd/system/machines.target.wants/$U
state() { inside systemctl show -P ActiveState "$U" 2>&1; }
listed() { inside berthctl --no-legend list 2>/dev/null | grep -q '^demo '; }
start_host() { testhost_start "$name" --bind "$POOL:/var/lib/machines" --keep-upper "$KEEP"; }

if ! start_host; then
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

out=$(inside berthctl enable demo 2>&1); rc=$?
check_eq "$rc" 0 "berthctl enable demo ($(echo $out))"
check "it links $U into machines.target.wants" inside test -L "$LINK"
check_eq "$(inside systemctl is-enabled machines.target 2>&1)" enabled "and enables machines.target"
check_eq "$(state)" inactive "enable alone starts nothing"

testhost_stop "$name" --poweroff
if start_host; then ok "the testhost restarts with the same disk"; else not_ok "the testhost restarts with the same disk"; fi
check "after the restart, $U runs without anyone starting it" wait_for 30 eval '[ "$(state)" = active ]'
check "demo is in berthd's registry" wait_for 10 listed
check_eq "$(inside berthctl exec demo cat /proc/1/comm 2>&1)" init "and its init answers"

out=$(inside berthctl disable --now demo 2>&1); rc=$?
check_eq "$rc" 0 "berthctl disable --now demo ($(echo $out))"
check "the unit stops" wait_for 30 eval 'case $(state) in inactive|failed) true ;; *) false ;; esac'
check "the machine leaves the registry" wait_for 10 eval '! listed'
check "the link is gone" eval "! inside test -e '$LINK'"
check_eq "$(inside systemctl is-enabled "$U" 2>&1)" disabled "and systemd says disabled"

if [ "$_tap_failed" != 0 ]; then
	inside journalctl --no-pager -n 60 -u berthd.service -u 'berth-spawn@*' 2>&1 | sed 's/^/# /' >&2
fi
testhost_stop "$name"
leak_check
tap_done
