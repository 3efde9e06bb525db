#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks the testhost (tests/lib/testhost.sh) that later integration tests build on: a real systemd
# with bus, polkit and machined, isolated from the host, and gone without a trace after stop.
. "$(dirname "$0")/../lib/libtest.sh"
. "$TESTS_SRC/lib/testhost.sh"
need_root

tap_plan 29
leak_begin
mkscratch
name=tt$$
on_cleanup "testhost_stop $name"
marker=$(mktemp /tmp/berth-testhost-marker.XXXXXX)
on_cleanup "rm -f $marker"
passwd_before=$(sha256sum < /etc/passwd)
mkdir "$SCRATCH/shared" "$SCRATCH/keep"
echo from-host > "$SCRATCH/shared/host-file"
inside() { testhost_exec "$name" "$@"; }
quiet() { "$@" > /dev/null; }

if ! testhost_start "$name" --bind "$SCRATCH/shared:/srv/shared" --bind "$SCRATCH"; then
	not_ok "testhost starts"
	echo "Bail out! no testhost, nothing else can be checked"
	exit 1
fi
ok "testhost starts"
pid1=$(testhost_pid "$name")

check_eq "$(inside readlink /proc/1/exe)" /usr/lib/systemd/systemd "PID 1 inside is systemd"
state=$(inside systemctl is-system-running)
if [ "$state" = running ]; then
	ok "system state is running"
else
	not_ok "system state is running (got '$state')"
	inside systemctl --failed --no-pager --plain --no-legend | sed 's/^/# failed: /' >&2
fi
check "the system bus answers org.freedesktop.DBus" \
	quiet inside busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetId
backend=$(inside busctl call org.freedesktop.PolicyKit1 /org/freedesktop/PolicyKit1/Authority \
	org.freedesktop.DBus.Properties Get ss org.freedesktop.PolicyKit1.Authority BackendName)
check_eq "$backend" 'v s "js"' "polkitd is D-Bus activated and answers"
check "systemd-machined is activated (machinectl list)" quiet inside machinectl list
check "only lo in the testhost's network namespace" \
	test "$(inside ip -o link show | awk -F': ' '{print $2}')" = lo

inside sh -c 'echo inside > /berth-testhost-probe'
check_eq "$(inside cat /berth-testhost-probe)" inside "a file written to / inside is there inside"
check "... and not on the host's /" test ! -e /berth-testhost-probe
check_eq "$(inside cat /srv/shared/host-file)" from-host "a bound host path is visible inside"
inside sh -c 'echo from-inside > /srv/shared/inner-file'
check_eq "$(cat "$SCRATCH/shared/inner-file" 2>/dev/null)" from-inside "... and writes inside reach the host"

scope=$(inside systemd-run --scope --quiet --unit=tt-scope sh -c 'sed -n "s/^0:://p" /proc/self/cgroup')
check_eq "$scope" /system.slice/tt-scope.scope "systemd-run --scope runs the command in a new scope"

inside useradd -M -s /usr/sbin/nologin ttuser
check "a user added inside exists inside" quiet inside id ttuser
check_eq "$(sha256sum < /etc/passwd)" "$passwd_before" "... and the host's /etc/passwd is unchanged"
check "root may call a privileged machine1 method (CleanPool)" \
	quiet inside busctl call org.freedesktop.machine1 /org/freedesktop/machine1 \
	org.freedesktop.machine1.Manager CleanPool s all
err=$(inside runuser -u ttuser -- dbus-send --system --print-reply --dest=org.freedesktop.machine1 \
	/org/freedesktop/machine1 org.freedesktop.machine1.Manager.CleanPool string:all 2>&1)
case $err in
*org.freedesktop.DBus.Error.InteractiveAuthorizationRequired*|*org.freedesktop.DBus.Error.AccessDenied*)
	ok "polkit refuses the same call from an unprivileged user" ;;
*) not_ok "polkit refuses the same call from an unprivileged user (got: $err)" ;;
esac

# The whole chain: a container booted by systemd-nspawn inside the testhost, registered with its
# machined. The tree is a copy on the real disk, bound in: never the cache itself.
if tree=$("$TESTS_SRC/fixtures/debian-tree.sh" 2>/dev/null) && cp -a "$tree" "$SCRATCH/deb"; then
	inside systemd-run --unit=tt-nspawn --property=Type=notify --quiet systemd-nspawn --quiet \
		--notify-ready=yes -D "$SCRATCH/deb" -b -M ttdeb
	case " $(inside machinectl list --no-legend) " in
	*" ttdeb "*) ok "systemd-nspawn boots a Debian tree inside and machined lists it" ;;
	*) not_ok "systemd-nspawn boots a Debian tree inside and machined lists it" ;;
	esac
	err=$(inside runuser -u ttuser -- busctl --allow-interactive-authorization=no call \
		org.freedesktop.machine1 /org/freedesktop/machine1 org.freedesktop.machine1.Manager \
		TerminateMachine s ttdeb 2>&1)
	case $err in
	*"Interactive authentication required"*|*"Access denied"*)
		ok "an unprivileged TerminateMachine of it is refused" ;;
	*) not_ok "an unprivileged TerminateMachine of it is refused (got: $err)" ;;
	esac
	check "... and it powers off" inside sh -c 'machinectl poweroff ttdeb && for i in $(seq 100); do
		systemctl is-active --quiet tt-nspawn || exit 0; sleep 0.1; done; exit 1'
else
	for d in "nspawn boots inside" "unprivileged TerminateMachine refused" "it powers off"; do
		skip "$d" "no cached Debian tree (tests/fixtures/debian-tree.sh failed: no mirror?)"
	done
fi

# The host may have berth installed itself (the README's demo does): what matters is that the
# install inside leaves the host's files as they were.
host_state() { stat -c '%i %Y %s' /usr/local/bin/berth-spawn /usr/bin/berth-spawn 2>&1; }
host_before=$(host_state)
if [ -n "${BUILD_ROOT:-}" ] && [ -x "$BERTH_SPAWN" ] && testhost_install "$name" "$BUILD_ROOT"; then
	ok "testhost_install installs the build"
	check "berth-spawn is installed inside" inside sh -c 'test -x /usr/local/bin/berth-spawn || test -x /usr/bin/berth-spawn'
	check_eq "$(host_state)" "$host_before" "... and the host's files are untouched"
else
	not_ok "testhost_install installs the build (BUILD_ROOT='${BUILD_ROOT:-}')"
	skip "berth-spawn is installed inside" "install failed"
	skip "... and not on the host" "install failed"
fi

testhost_stop "$name"
check "after stop, the recorded PID 1 is gone" test ! -d "/proc/$pid1"
check "... its cgroup and state dirs are gone" \
	test ! -e "/sys/fs/cgroup/unified/berth-testhost-$name" -a ! -e "$TESTHOST_RUNDIR/$name"
check "... and the host's /tmp still holds its files" test -f "$marker"

# An upper layer kept on the real disk survives a restart (boot-at-startup tests need this).
testhost_start "$name" --keep-upper "$SCRATCH/keep" 2>/dev/null && inside sh -c '
	echo kept > /etc/tt-kept
	printf "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n" \
		> /etc/systemd/system/tt-boot.service
	systemctl enable --quiet tt-boot.service'
testhost_stop "$name" --poweroff
testhost_start "$name" --keep-upper "$SCRATCH/keep" 2>/dev/null
check_eq "$(inside cat /etc/tt-kept 2>/dev/null)" kept "with --keep-upper, writes survive stop and start"
check_eq "$(inside systemctl is-active tt-boot.service 2>/dev/null)" active \
	"... and a unit enabled in the first run starts at the next boot"
testhost_stop "$name"

# A test that dies without its trap: the testhost notices its owner is gone and removes itself.
(bash -c ". '$TESTS_SRC/lib/testhost.sh'; testhost_start ${name}o 2>/dev/null; kill -KILL \$\$"; true) 2>/dev/null
for _ in $(seq 50); do
	[ -e "/sys/fs/cgroup/unified/berth-testhost-${name}o" ] || [ -e "$TESTHOST_RUNDIR/${name}o" ] || break
	sleep 0.1
done
check "a testhost whose owner was killed removes itself" \
	test ! -e "/sys/fs/cgroup/unified/berth-testhost-${name}o" -a ! -e "$TESTHOST_RUNDIR/${name}o"
testhost_stop "${name}o"

leak_check
tap_done
