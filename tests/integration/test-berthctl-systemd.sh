#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berthctl's machine verbs under a real systemd (a testhost, berth installed into it): start
# runs berth-spawn@NAME.service; list (table and JSON) and status (the unit, the process tree of
# the unit's cgroup, the unit's journal lines); exec's exit status and separate stderr;
# set-property reaching the unit; poweroff leaving it inactive; enable --now and disable --now.
. "$(dirname "$0")/../lib/libtest.sh"
. "$TESTS_SRC/lib/testhost.sh"
. "$TESTS_SRC/lib/berthd.sh" # wait_for
need_root
testhost_need_build

leak_begin
mkscratch
name=bc$$
on_cleanup "testhost_stop $name"
# The image pool on the real disk: -U needs idmapped mounts, which the overlay cannot give.
POOL=$SCRATCH/pool
mkdir -p "$POOL"
for t in m1 m2; do
	mk_busybox_tree "$POOL/$t"
	printf '::sysinit:/etc/init.d/rcS\n::once:/bin/sleep 100000\n' >"$POOL/$t/etc/inittab"
done

inside() { testhost_exec "$name" "$@"; }
bc() { inside berthctl --no-pager "$@"; }
uprop() { inside systemctl show -P "$2" "$1" 2>&1; }
svc() { printf 'berth-spawn@%s.service' "$1"; }
listed() { bc --no-legend list 2>/dev/null | grep -q "^$1 "; }
unit_over() { case $(uprop "$1" ActiveState) in inactive|failed) true ;; *) false ;; esac; }

testhost_up_with_build "$name" --bind "$POOL:/var/lib/machines"

# ---- start ----
U=$(svc m1)
out=$(bc start m1 2>&1); rc=$?
check_eq "$rc" 0 "berthctl start m1 ($(echo $out))"
check_eq "$(uprop "$U" ActiveState)/$(uprop "$U" SubState)" active/running "$U is active"
check "m1 is listed" listed m1

# ---- list ----
out=$(bc list 2>&1)
check_eq "$(echo "$out" | grep '^m1 ' | tr -s ' ' | cut -d' ' -f1-4,7)" "m1 container berth berth-busybox running" \
	"list: m1 with its class, service, OS and state"
check_eq "$(bc show -p Unit --value m1 2>&1)" "$U" "show: its unit is $U"
cat >"$SCRATCH/check-list.py" <<'PY'
import json, sys
ms = {m["machine"]: m for m in json.load(sys.stdin)["machines"]}
m = ms["m1"]
assert m["class"] == "container" and m["service"] == "berth", m
assert m["os"] == "berth-busybox" and m["state"] == "running", m
assert isinstance(m["uptime"], int) and 0 <= m["uptime"] < 300, m
assert "m2" not in ms, ms
print("ok")
PY
check_eq "$(bc list -o json 2>&1 | python3 "$SCRATCH/check-list.py" 2>&1)" ok "list -o json: the fields, parsed"

# ---- status ----
L=$(bc show -p Leader --value m1 2>&1)
MAIN=$(uprop "$U" MainPID)
out=$(bc status m1 2>&1); rc=$?
check_eq "$rc" 0 "status m1: exit 0"
check "status: the unit" eval "echo \"\$out\" | grep -q 'Unit: $U'"
check "status: the unit's cgroup" eval "echo \"\$out\" | grep -q 'CGroup: /machine.slice/$U'"
# The tree holds everything in the unit's cgroup: berth-spawn (the supervisor), init, its sleep.
tree=$(echo "$out" | sed -n 's/.*[├└]─\([0-9]*\) .*/\1/p' | sort -n | tr '\n' ' ')
procs=$(inside sh -c "cat \$(find /sys/fs/cgroup/machine.slice/$U -name cgroup.procs)" | sort -n | tr '\n' ' ')
check_eq "$tree" "$procs" "status: the process tree is every process of the unit's cgroup"
check "status: ... with the leader and berth-spawn among them" eval "echo ' $tree' | grep -q ' $L ' && echo ' $tree' | grep -q ' $MAIN '"
check "status: ... and their command lines" eval "echo \"\$out\" | grep -q '[├└]─[0-9]* /bin/sleep 100000$'"
jline=$(inside journalctl -u "$U" -o cat --no-pager -n 1 2>&1)
check "status: the unit's journal lines ($jline)" eval "[ -n \"\$jline\" ] && echo \"\$out\" | grep -qF -- \"\$jline\""

# ---- exec ----
bc exec m1 true; check_eq "$?" 0 "exec true: 0"
bc exec m1 sh -c 'exit 7'; check_eq "$?" 7 "exec sh -c 'exit 7': 7"
bc exec m1 -- sh -c 'kill -TERM $$'; check_eq "$?" 143 "exec of a command killed by SIGTERM: 128+15"
inside sh -c "berthctl exec m1 sh -c 'echo to-out; echo to-err >&2' >/run/o 2>/run/e"
check_eq "$(inside cat /run/o)|$(inside cat /run/e)" "to-out|to-err" "exec keeps stdout and stderr apart"

# ---- set-property ----
# Where the testhost's cgroup2 lacks memory and pids (this host gives them to cgroup v1), the
# limits are refused by name rather than shown by systemd and not applied; DeviceAllow needs no
# controller and carries the drop-in checks there.
if inside grep -qw memory /sys/fs/cgroup/cgroup.controllers && inside grep -qw pids /sys/fs/cgroup/cgroup.controllers; then
	out=$(bc set-property m1 MemoryMax=300M TasksMax=99 2>&1); rc=$?
	check_eq "$rc" 0 "set-property m1 MemoryMax=300M TasksMax=99 ($(echo $out))"
	check_eq "$(uprop "$U" MemoryMax)/$(uprop "$U" TasksMax)" "$((300 * 1024 * 1024))/99" "... reaches $U (systemctl show)"
	check "... persistently (/etc drop-in)" eval "uprop $U DropInPaths | grep -q '/etc/systemd/system.control/$U.d/'"
	out=$(bc set-property --runtime m1 MemoryMax=200M 2>&1); rc=$?
	check_eq "$rc/$(uprop "$U" MemoryMax)" "0/$((200 * 1024 * 1024))" "set-property --runtime MemoryMax=200M reaches it ($(echo $out))"
	check "... as a runtime drop-in (/run)" eval "uprop $U DropInPaths | grep -q '/run/systemd/system.control/$U.d/'"
else
	out=$(bc set-property m1 MemoryMax=300M TasksMax=99 2>&1); rc=$?
	check "set-property MemoryMax= without a memory controller fails, naming it ($(echo $out | head -c 120))" \
		eval "[ $rc != 0 ] && grep -q 'MemoryMax (no memory controller' <<<'$out'"
	check "... and nothing of it reaches $U" eval "[ '$(uprop "$U" TasksMax)' != 99 ]"
	out=$(bc set-property m1 'DeviceAllow=/dev/loop-control r' 2>&1); rc=$?
	check "set-property m1 DeviceAllow= reaches $U ($(echo $out))" \
		eval "[ $rc = 0 ] && uprop $U DeviceAllow | grep -qx '/dev/loop-control r'"
	check "... persistently (/etc drop-in)" eval "uprop $U DropInPaths | grep -q '/etc/systemd/system.control/$U.d/'"
	out=$(bc set-property --runtime m1 'DeviceAllow=/dev/null rw' 2>&1); rc=$?
	check "set-property --runtime DeviceAllow= reaches it ($(echo $out))" eval "[ $rc = 0 ] && uprop $U DeviceAllow | grep -q '/dev/null rw'"
	check "... as a runtime drop-in (/run)" eval "uprop $U DropInPaths | grep -q '/run/systemd/system.control/$U.d/'"
fi

# ---- poweroff ----
out=$(bc poweroff m1 2>&1); rc=$?
check_eq "$rc" 0 "poweroff m1 ($(echo $out))"
check "the unit stops" wait_for 30 unit_over "$U"
check_eq "$(uprop "$U" ActiveState)/$(uprop "$U" Result)" inactive/success "... inactive, not failed"
check "m1 leaves the list" wait_for 10 eval '! listed m1'

# ---- enable --now, disable --now ----
U2=$(svc m2)
LINK=/etc/systemd/system/machines.target.wants/$U2
out=$(bc enable --now m2 2>&1); rc=$?
check_eq "$rc" 0 "enable --now m2 ($(echo $out))"
check_eq "$(inside systemctl is-enabled "$U2" 2>&1)" enabled "$U2 is enabled"
check "... linked into machines.target.wants" inside test -L "$LINK"
check "... and started" wait_for 20 eval '[ "$(uprop "$U2" ActiveState)" = active ]'
check "m2 is listed" wait_for 10 listed m2
check_eq "$(bc exec m2 cat /proc/1/comm 2>&1)" init "its init answers"
out=$(bc disable --now m2 2>&1); rc=$?
check_eq "$rc" 0 "disable --now m2 ($(echo $out))"
check_eq "$(inside systemctl is-enabled "$U2" 2>&1)" disabled "$U2 is disabled"
check "... the link is gone" eval "! inside test -e '$LINK'"
check "... and it stopped" wait_for 30 unit_over "$U2"
check "m2 leaves the list" wait_for 10 eval '! listed m2'
check_eq "$(bc list -o json 2>&1 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["machines"]))')" 0 \
	"list -o json: no machine is left"

# ---- the image verbs, against the pool the testhost's berthd serves ----
check "list-images shows the pool" eval "bc --no-legend list-images | grep -q '^m1 *directory'"
check "clone" eval "bc clone m1 m3 && inside test -d /var/lib/machines/m3"
check "image-status" eval "bc image-status m3 | grep -q 'Type: directory'"
check "rename" eval "bc rename m3 m4 && inside test -d /var/lib/machines/m4"
check "read-only" eval "bc read-only m4 && bc show-image m4 -p ReadOnly --value | grep -qx yes"
check "read-only no" eval "bc read-only m4 no && bc show-image m4 -p ReadOnly --value | grep -qx no"
check "remove" eval "bc remove m4 && ! inside test -e /var/lib/machines/m4"
check "clean --all leaves the images of running machines" eval "bc start m1 >/dev/null && bc clean --all >/dev/null && inside test -d /var/lib/machines/m1"
bc poweroff m1 >/dev/null 2>&1
wait_for 30 unit_over "$(svc m1)"
if [ "$_tap_failed" != 0 ]; then
	inside journalctl --no-pager -n 60 -u berthd.service -u 'berth-spawn@*' 2>&1 | sed 's/^/# /' >&2
fi
testhost_stop "$name"
leak_check
tap_done
