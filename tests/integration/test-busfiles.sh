#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks dbus/ and polkit/ against the real dbus-daemon and polkitd: the files land where those
# daemons read them, root and only root may own org.berth.machine1, anyone may call it, the bus
# hands activation to systemd's berthd.service, and polkitd lists every action with its defaults.
#
# The daemons run with the distribution's own system.conf, in a private mount namespace where the
# installed copies of our files are bind-mounted beside the host's: nothing reaches the real /usr.
. "$(dirname "$0")/../lib/libtest.sh"
need_root

SRC_ROOT=$(cd "$TESTS_SRC/.." && pwd)
PY=/usr/bin/python3
missing=""
for p in dbus-daemon busctl pkaction useradd userdel runuser unshare nsenter xmllint meson \
	 /usr/lib/polkit-1/polkitd; do
	command -v "$p" > /dev/null || missing+=" $p"
done
"$PY" -c 'import dbus, dbus.mainloop.glib, gi.repository.GLib' 2> /dev/null || missing+=" python3-dbus/python3-gi"
[ -n "${BUILD_ROOT:-}" ] || missing+=" BUILD_ROOT(meson test sets it)"
if [ -n "$missing" ]; then
	echo "1..0 # SKIP missing:$missing"
	exit 0
fi

tap_plan 38
leak_begin
mkscratch
# The test user and the daemons (dropping to messagebus and polkitd) must reach the socket.
chmod 0755 "$SCRATCH"
pids=()
stop_pids() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2> /dev/null; done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2> /dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2> /dev/null
	done
	pids=()
}
on_cleanup stop_pids
# Waits for file $1 to appear (a peer's ready mark or a socket).
wait_for() { for _ in $(seq 100); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1; }

# A stand-in for berthd (and for systemd) on the private bus; modes are described inside.
cat > "$SCRATCH/peer.py" <<'PYEOF'
# own READY                     own org.berth.machine1 and answer on every interface
# try-own                       try to own it once, print the outcome
# systemd READY LOG OREADY OPID own org.freedesktop.systemd1, log each ActivationRequest, and for
#                               berthd.service start an `own OREADY` process, its PID in OPID
# call IFACE METHOD             call /org/berth/machine1, print the reply or the error name
import subprocess
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

NAME = 'org.berth.machine1'
PATH = '/org/berth/machine1'


class FakeBerthd(dbus.service.Object):
    # One method per interface the policy opens, and one it must keep closed: each answers with
    # its own marker, so the test sees that the call reached us rather than only that the bus
    # let it through.
    @dbus.service.method('org.berth.machine1.Manager', out_signature='s')
    def ListMachines(self):
        return 'manager'

    @dbus.service.method('org.berth.machine1.Machine', out_signature='s')
    def Terminate(self):
        return 'machine'

    @dbus.service.method('org.berth.machine1.Image', out_signature='s')
    def Remove(self):
        return 'image'

    @dbus.service.method('org.freedesktop.DBus.Properties', in_signature='ss', out_signature='v')
    def Get(self, interface, prop):
        return dbus.String('property')

    @dbus.service.method('org.freedesktop.DBus.Properties', in_signature='s',
                         out_signature='a{sv}')
    def GetAll(self, interface):
        return {'Name': dbus.String('property')}

    @dbus.service.method('org.freedesktop.DBus.Properties', in_signature='ssv')
    def Set(self, interface, prop, value):
        pass

    @dbus.service.method('org.berth.machine1.Unlisted', out_signature='s')
    def Anything(self):
        return 'unlisted'


def own(bus):
    name = dbus.service.BusName(NAME, bus, do_not_queue=True)
    return name, FakeBerthd(bus, PATH)


def signal_ready(path):
    with open(path, 'w') as f:
        f.write('ready\n')


def main():
    DBusGMainLoop(set_as_default=True)
    bus = dbus.SystemBus()
    mode = sys.argv[1]
    keep = []

    if mode == 'try-own':
        try:
            own(bus)
            print('owned')
        except dbus.exceptions.DBusException as e:
            print(e.get_dbus_name())
        return 0

    if mode == 'call':
        try:
            obj = bus.get_object(NAME, PATH)
            if sys.argv[2] == 'org.freedesktop.DBus.Properties' and sys.argv[3] == 'Set':
                obj.Set('org.berth.machine1.Manager', 'Name', 'x', dbus_interface=sys.argv[2])
                print('reply')
            elif sys.argv[2] == 'org.freedesktop.DBus.Properties' and sys.argv[3] == 'Get':
                print(obj.Get('org.berth.machine1.Manager', 'Name', dbus_interface=sys.argv[2]))
            else:
                reply = obj.get_dbus_method(sys.argv[3], sys.argv[2])(timeout=20)
                print('' if reply is None else reply)
        except dbus.exceptions.DBusException as e:
            print(e.get_dbus_name())
        return 0

    if mode == 'own':
        keep.append(own(bus))
        signal_ready(sys.argv[2])
    elif mode == 'systemd':
        log = sys.argv[3]
        keep.append(dbus.service.BusName('org.freedesktop.systemd1', bus, do_not_queue=True))

        def activation_request(unit):
            with open(log, 'a') as f:
                f.write(unit + '\n')
            # A process of its own, as systemd would start: sharing this connection would also
            # put systemd1's own send policy on every call to it.
            if unit == 'berthd.service':
                child = subprocess.Popen([sys.executable, sys.argv[0], 'own', sys.argv[4]])
                with open(sys.argv[5], 'w') as f:
                    f.write('%d\n' % child.pid)

        bus.add_signal_receiver(activation_request, signal_name='ActivationRequest',
                                dbus_interface='org.freedesktop.systemd1.Activator')
        signal_ready(sys.argv[2])
    else:
        print('unknown mode ' + mode, file=sys.stderr)
        return 2

    GLib.MainLoop().run()
    return 0


if __name__ == '__main__':
    sys.exit(main())
PYEOF
chmod 0644 "$SCRATCH/peer.py"
peer() { "$PY" "$SCRATCH/peer.py" "$@"; }

user=berthbus$$
useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
on_cleanup "id -u $user > /dev/null 2>&1 && userdel $user"
as_user() { runuser -u "$user" -- env DBUS_SYSTEM_BUS_ADDRESS="$DBUS_SYSTEM_BUS_ADDRESS" "$@"; }

# --- the files themselves
check "bus policy is well-formed XML" xmllint --noout "$SRC_ROOT/dbus/org.berth.machine1.conf"
check "polkit actions are valid against polkit's DTD" \
	xmllint --noout --dtdvalid /usr/share/polkit-1/policyconfig-1.dtd \
	"$SRC_ROOT/polkit/org.berth.machine1.policy"

# --- meson install puts them where the daemons read them
dest=$SCRATCH/dest
meson install -C "$BUILD_ROOT" --destdir "$dest" --no-rebuild --quiet > "$SCRATCH/install.log" 2>&1 ||
	sed 's/^/# /' "$SCRATCH/install.log" >&2
for f in dbus-1/system.d/org.berth.machine1.conf dbus-1/system-services/org.berth.machine1.service \
	 polkit-1/actions/org.berth.machine1.policy; do
	check "meson install puts /usr/share/$f" test -f "$dest/usr/share/$f"
done

# The daemons see the host's files plus the installed ones, and no activatable service but ours
# (so nothing can start a process this test did not record).
ns=$SCRATCH/ns
mkdir -p "$ns/system.d" "$ns/system-services" "$ns/actions" "$ns/rules.d" "$ns/empty"
cp /usr/share/dbus-1/system.d/* "$ns/system.d/"
cp /usr/share/polkit-1/actions/* "$ns/actions/"
cp "$dest"/usr/share/dbus-1/system.d/* "$ns/system.d/" 2> /dev/null
cp "$dest"/usr/share/dbus-1/system-services/* "$ns/system-services/" 2> /dev/null
cp "$dest"/usr/share/polkit-1/actions/* "$ns/actions/" 2> /dev/null
chmod -R a+rX "$ns"
binds="mount --bind $ns/system.d /usr/share/dbus-1/system.d &&
	mount --bind $ns/system-services /usr/share/dbus-1/system-services &&
	mount --bind $ns/actions /usr/share/polkit-1/actions &&
	mount --bind $ns/rules.d /etc/polkit-1/rules.d"
for d in /usr/local/share/dbus-1/system-services /lib/dbus-1/system-services; do
	[ -d "$d" ] && binds+=" && mount --bind $ns/empty $d"
done

# dbus-daemon with the distribution's system.conf, on our own socket. Without
# --systemd-activation it activates through its setuid helper, which runs our Exec=/bin/false.
bus1=$SCRATCH/bus1
unshare --mount --propagation private -- sh -c "$binds && exec dbus-daemon \
	--config-file=/usr/share/dbus-1/system.conf --address=unix:path=$bus1 \
	--nofork --nopidfile --nosyslog" > "$SCRATCH/bus1.log" 2>&1 &
bus1_pid=$!
pids+=("$bus1_pid")
if ! wait_for "$bus1"; then
	sed 's/^/# /' "$SCRATCH/bus1.log" >&2
	echo "Bail out! the private system bus did not start"
	exit 1
fi
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$bus1

# --- activation file, no systemd: the bus finds it by name and runs Exec=/bin/false
check_eq "$(peer call org.berth.machine1.Manager ListMachines)" \
	org.freedesktop.DBus.Error.Spawn.ChildExited \
	"without systemd, activation runs the file's Exec= (/bin/false) and fails cleanly"

# --- ownership
check_eq "$(as_user "$PY" "$SCRATCH/peer.py" try-own)" \
	org.freedesktop.DBus.Error.AccessDenied "an unprivileged user cannot own org.berth.machine1"
peer own "$SCRATCH/owner.ready" > "$SCRATCH/owner.log" 2>&1 &
pids+=("$!")
check "root owns org.berth.machine1" wait_for "$SCRATCH/owner.ready"
check_eq "$(as_user "$PY" "$SCRATCH/peer.py" try-own)" \
	org.freedesktop.DBus.Error.AccessDenied "an unprivileged user still cannot take it over"

# --- who may call what: every answer must come from the owner, not only pass the bus
ucall() { as_user "$PY" "$SCRATCH/peer.py" call "$@"; }
check_eq "$(ucall org.berth.machine1.Manager ListMachines)" manager \
	"an unprivileged user reaches Manager methods"
check_eq "$(ucall org.berth.machine1.Machine Terminate)" machine \
	"an unprivileged user reaches Machine methods (polkit decides, not the bus)"
check_eq "$(ucall org.berth.machine1.Image Remove)" image "an unprivileged user reaches Image methods"
check_eq "$(ucall org.freedesktop.DBus.Properties Get)" property "an unprivileged user reads properties"
check_eq "$(ucall org.freedesktop.DBus.Introspectable Introspect | grep -c 'org.berth.machine1.Manager')" 1 \
	"an unprivileged user introspects"
check_eq "$(ucall org.freedesktop.DBus.Peer Ping)" "" "an unprivileged user pings"
check_eq "$(ucall org.freedesktop.DBus.Properties Set)" org.freedesktop.DBus.Error.AccessDenied \
	"the bus refuses Properties.Set from an unprivileged user"
check_eq "$(ucall org.berth.machine1.Unlisted Anything)" org.freedesktop.DBus.Error.AccessDenied \
	"the bus refuses interfaces the policy does not open"
check_eq "$(peer call org.berth.machine1.Unlisted Anything)" unlisted "root reaches every interface"
check_eq "$(as_user busctl --timeout=10 call org.berth.machine1 /org/berth/machine1 \
	org.berth.machine1.Manager ListMachines 2>&1)" \
	's "manager"' "sd-bus clients (busctl, berthctl) get through as an unprivileged user"

# --- activation file, with systemd: the bus asks systemd for berthd.service, and the call that
# triggered it is answered once the started service owns the name.
bus2=$SCRATCH/bus2
nsenter -t "$bus1_pid" -m -- dbus-daemon --config-file=/usr/share/dbus-1/system.conf \
	--address=unix:path="$bus2" --nofork --nopidfile --nosyslog --systemd-activation \
	> "$SCRATCH/bus2.log" 2>&1 &
pids+=("$!")
wait_for "$bus2"
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$bus2 peer systemd "$SCRATCH/systemd.ready" "$SCRATCH/units" \
	"$SCRATCH/berthd.ready" "$SCRATCH/berthd.pid" > "$SCRATCH/systemd.log" 2>&1 &
pids+=("$!")
wait_for "$SCRATCH/systemd.ready"
check_eq "$(runuser -u "$user" -- env DBUS_SYSTEM_BUS_ADDRESS=unix:path="$bus2" \
	busctl --timeout=10 call org.berth.machine1 /org/berth/machine1 \
	org.berth.machine1.Manager ListMachines 2>&1)" 's "manager"' \
	"an unprivileged call activates berthd through systemd and is answered"
check_eq "$(cat "$SCRATCH/units" 2> /dev/null)" berthd.service \
	"the bus asked systemd for exactly berthd.service"
wait_for "$SCRATCH/berthd.pid" && pids+=("$(cat "$SCRATCH/berthd.pid")")

# --- polkit: the real polkitd, on our bus, reading the installed actions
nsenter -t "$bus1_pid" -m -- env DBUS_SYSTEM_BUS_ADDRESS="$DBUS_SYSTEM_BUS_ADDRESS" \
	/usr/lib/polkit-1/polkitd --no-debug > "$SCRATCH/polkitd.log" 2>&1 &
pids+=("$!")
for _ in $(seq 100); do
	busctl status org.freedesktop.PolicyKit1 > /dev/null 2>&1 && break
	sleep 0.1
done
pk_defaults() {
	pkaction --action-id "org.berth.machine1.$1" --verbose 2>&1 |
		awk -F': *' '/implicit any/ {a=$2} /implicit inactive/ {i=$2} /implicit active/ {c=$2}
			END {print a "/" i "/" c}'
}
for verb in manage-machines manage-images create-machine login shell open-pty host-shell host-open-pty; do
	check_eq "$(pk_defaults "$verb")" auth_admin/auth_admin/auth_admin_keep \
		"polkitd knows org.berth.machine1.$verb (admin, kept for active sessions)"
done
check_eq "$(pk_defaults host-login)" auth_admin/auth_admin/yes \
	"polkitd knows org.berth.machine1.host-login (free for active sessions, as machined's)"
check_eq "$(pkaction 2>/dev/null | grep -c '^org\.berth\.machine1\.')" 9 "exactly the nine actions of DESIGN.md"
check "every action has an English description and message" \
	sh -c 'for a in $(pkaction | grep "^org\.berth\.machine1\."); do
		pkaction --action-id "$a" --verbose | grep -Eq "^  description: +[A-Z]" || exit 1
		pkaction --action-id "$a" --verbose | grep -Eq "^  message: +Authentication is required" || exit 1
	done'
check "managing machines implies login, shell and open-pty" sh -c \
	'pkaction --action-id org.berth.machine1.manage-machines --verbose |
		grep -q "imply -> org.berth.machine1.login org.berth.machine1.shell org.berth.machine1.open-pty"'

# polkit decides for an unprivileged caller without a session (TESTING.md): allow_any applies,
# so it needs an administrator (pkcheck exit 2: "authentication required"), and a rule changes that.
pk_user() {
	as_user sh -c 'exec pkcheck --action-id "$0" --process $$' "org.berth.machine1.$1" > /dev/null 2>&1
	echo $?
}
check_eq "$(pk_user manage-machines)" 2 \
	"an unprivileged caller without a session needs an administrator"
cat > "$ns/rules.d/50-berth-test.rules" <<RULES
polkit.addRule(function(action, subject) {
        if (action.id == "org.berth.machine1.manage-machines" && subject.user == "$user")
                return polkit.Result.YES;
});
RULES
chmod 0644 "$ns/rules.d/50-berth-test.rules"
for _ in $(seq 50); do [ "$(pk_user manage-machines)" = 0 ] && break; sleep 0.1; done
check_eq "$(pk_user manage-machines)" 0 "a rules.d rule grants the action to that user"
check_eq "$(pk_user manage-images)" 2 "... and no other action"

stop_pids
check "the test user is removed" userdel "$user"
leak_check
tap_done
