#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berthctl's read verbs (list, status, show) against a real berthd on a private bus with real
# busybox containers: table and JSON output, escaping of what a machine says about itself, exit
# codes, an unprivileged caller, and -H to a host that cannot be reached.
. "$(dirname "$0")/../lib/libtest.sh"
. "$(dirname "$0")/../lib/berthd.sh"
BERTHCTL=${BERTHCTL:-${BUILD_ROOT:-}/src/ctl/berthctl}
leak_begin
berthd_setup
[ -x "$BERTHCTL" ] || { echo "1..0 # SKIP berthctl not built (set BERTHCTL)"; exit 0; }
PY=/usr/bin/python3

bc() { DBUS_SYSTEM_BUS_ADDRESS=$BUS BERTH_NO_POLKIT_AGENT=1 "$BERTHCTL" --no-pager "$@"; }
asnobody() { runuser -u nobody -- env DBUS_SYSTEM_BUS_ADDRESS="$BUS" "$BERTHCTL" --no-pager "$@"; }
# Runs CMD, prints its exit status only.
status_of() { "$@" >/dev/null 2>&1; echo $?; }
# Fails if the text on stdin holds a raw control character other than newline.
no_controls() { ! LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]'; }

start_berthd || { echo "1..0 # SKIP berthd did not start"; exit 0; }
T=$SCRATCH/tree
mk_busybox_tree "$T"
# A machine that lies about itself: an escape sequence that would retitle the terminal in its
# OS name, and a host name with an escape sequence and a newline (a line of fake output).
H=$SCRATCH/hostile
mk_busybox_tree "$H"
rm "$H/etc/os-release"
printf 'NAME="\033]0;pwned\007evil"\nVERSION_ID="1\033[2J"\n' >"$H/etc/os-release"

bg_spawn a -D "$T" -M "$P-a" --console=pipe -- /bin/sh -c 'sleep 301 & echo started; exec sleep 300'
A_SPAWN=$SPAWN
bg_spawn h -D "$H" -M "$P-h" --console=pipe -- /bin/sh -c \
	'hostname "$(printf "x\033]0;pwned\007\nFAKE LINE")"; echo started; exec sleep 300'
H_SPAWN=$SPAWN
wait_for 15 listed "$P-a" && wait_for 15 listed "$P-h" &&
	wait_for 5 grep -q started "$SCRATCH/a.out" && wait_for 5 grep -q started "$SCRATCH/h.out" ||
	{ diag "$(cat "$SCRATCH/a.out" "$SCRATCH/h.out")"; echo "1..0 # SKIP containers did not start"; exit 0; }
leader=$(container_pid "$A_SPAWN")
# The machine's processes, as the kernel sees them: its init and the two sleeps.
procs=$(cat "$CGROOT/machine.slice/machine-$P-a.scope"/*/cgroup.procs "$CGROOT/machine.slice/machine-$P-a.scope/cgroup.procs" 2>/dev/null | sort -n)

# ---- list ----
out=$(bc list)
check_eq "$(echo "$out" | head -1 | tr -s ' ')" "MACHINE CLASS SERVICE OS VERSION ADDRESSES STATE UPTIME" \
	"list: the header names the columns"
row=$(echo "$out" | grep "^$P-a " | tr -s ' ')
check_eq "$(echo "$row" | cut -d' ' -f2,4,5,6,7)" "container berth-busybox 1 - running" \
	"list: class, OS ID, VERSION_ID, no addresses (host network), state"
check "list: uptime in seconds" eval "echo '$row' | grep -Eq ' [0-9]+s$'"
check "list: the legend counts the machines" eval "echo '$out' | tail -1 | grep -qx '2 machines listed.'"
check_eq "$(bc list --no-legend | wc -l)" 2 "--no-legend: only the rows"
check_eq "$(bc --no-legend | awk '{print $1}' | sort | tr '\n' ' ')" "$P-a $P-h " "list is the default verb"
check "list: a hostile OS name is printed escaped" \
	eval "bc list | grep '^$P-h ' | grep -qF '\\x1b]0;pwned\\aevil'"
check "list: no control characters reach the terminal" eval "bc list | no_controls"

# ---- list -o json ----
bc list -o json >"$SCRATCH/list.json"
check "-o json is one line" test "$(wc -l <"$SCRATCH/list.json")" = 1
cat >"$SCRATCH/check-list.py" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
ms = {m["machine"]: m for m in doc["machines"]}
a, h = ms[sys.argv[2] + "-a"], ms[sys.argv[2] + "-h"]
assert set(a) == {"machine", "class", "service", "os", "version", "addresses", "state", "uptime"}, a
assert a["class"] == "container" and isinstance(a["service"], str) and a["service"], a
assert a["os"] == "berth-busybox" and a["version"] == "1", a
assert a["addresses"] in ([], None), a
assert a["state"] == "running", a
assert isinstance(a["uptime"], int) and 0 <= a["uptime"] < 120, a
assert h["os"] == "\x1b]0;pwned\x07evil", repr(h["os"])
assert h["version"] == "1\x1b[2J", repr(h["version"])
print("ok")
PY
check_eq "$($PY "$SCRATCH/check-list.py" "$SCRATCH/list.json" "$P" 2>&1)" ok \
	"-o json: every field with its type; JSON carries the hostile name exactly"
bc list -o json-pretty >"$SCRATCH/list-pretty.json"
check_eq "$($PY "$SCRATCH/check-list.py" "$SCRATCH/list-pretty.json" "$P" 2>&1)" ok "-o json-pretty: the same"
check "-o json-pretty is indented" test "$(wc -l <"$SCRATCH/list-pretty.json")" -gt 5

# ---- show ----
check_eq "$(bc show -p Leader --value "$P-a")" "$leader" "show -p Leader --value"
check_eq "$(bc show -p Name,State "$P-a")" "Name=$P-a
State=running" "show -p NAME,STATE: NAME=VALUE lines"
out=$(bc show "$P-a")
check "show: all non-empty properties" eval "echo '$out' | grep -qx 'Class=container' && echo '$out' | grep -qx 'RootDirectory=$T' && ! echo '$out' | grep -q '^Image='"
check "show -a: empty ones too" eval "bc show -a '$P-a' | grep -qx 'Image='"
out=$(bc show -p Hostname "$P-h")
check_eq "$out" 'Hostname=x\x1b]0;pwned\a\nFAKE LINE' "show: a hostile host name stays on one line, escaped"
check_eq "$(bc show -o json "$P-a" | $PY -c 'import json,sys; d=json.load(sys.stdin)[0]; print(d["Name"], type(d["Leader"]).__name__, d["Leader"], d["State"], type(d["Timestamp"]).__name__)')" \
	"$P-a int $leader running int" "show -o json: an array of objects with typed properties"
check_eq "$(bc show -o json -p Leader "$P-a" "$P-h" | $PY -c 'import json,sys; print(sorted(json.load(sys.stdin)[1]))')" \
	"['Leader']" "show -o json -p: only the properties asked for, one object per machine"
check_eq "$(bc show | wc -c)" 0 "show without a machine: the manager's properties (it has none)"

# ---- status ----
out=$(bc status "$P-a")
check "status: the name and the state" eval "echo '$out' | head -1 | grep -qx '$P-a' && echo '$out' | grep -q 'State: running'"
check "status: the leader with its command line" eval "echo '$out' | grep -q 'Leader: $leader ('"
check_eq "$(echo "$out" | sed -n 's/.*[├└]─\([0-9]*\) .*/\1/p' | sort -n | tr '\n' ' ')" "$(echo $procs) " \
	"status: the process tree holds every process of the machine's cgroup"
check "status: with their command lines" \
	eval "echo '$out' | grep -q '[├└]─[0-9]* sleep 300$' && echo '$out' | grep -q '[├└]─[0-9]* sleep 301$'"
check "status: the cgroup" eval "echo '$out' | grep -q 'CGroup: /machine.slice/machine-$P-a.scope'"
check "status: the OS" eval "echo '$out' | grep -q 'OS: berth busybox tree'"
out=$(bc status "$P-h")
check "status: hostile strings escaped" \
	eval "echo '$out' | grep -qF 'OS: \\x1b]0;pwned\\aevil' && echo '$out' | grep -qF 'Hostname: x\\x1b]0;pwned\\a\\nFAKE LINE'"
check "status: no control characters, no fake line" eval "echo '$out' | no_controls && ! echo '$out' | grep -q '^FAKE'"
bc status -o json "$P-a" "$P-h" >"$SCRATCH/status.json"
cat >"$SCRATCH/check-status.py" <<'PY'
import json, sys
a, h = json.load(open(sys.argv[1]))
assert a["name"] == sys.argv[2] + "-a" and a["state"] == "running" and a["class"] == "container", a
assert a["leader"] == int(sys.argv[3]) and isinstance(a["timestamp"], int), a
assert a["cgroup"] == "/machine.slice/machine-%s-a.scope" % sys.argv[2], a
assert a["os_release"]["ID"] == "berth-busybox" and a["addresses"] == [], a
assert sorted(p["pid"] for p in a["processes"]) == [int(x) for x in sys.argv[4].split()], a["processes"]
assert {"sleep 300", "sleep 301"} <= {p["command"] for p in a["processes"]}, a["processes"]
assert all(p["cgroup"].startswith(a["cgroup"]) for p in a["processes"]), a["processes"]
assert h["hostname"] == "x\x1b]0;pwned\x07\nFAKE LINE", repr(h["hostname"])
print("ok")
PY
check_eq "$($PY "$SCRATCH/check-status.py" "$SCRATCH/status.json" "$P" "$leader" "$(echo $procs)" 2>&1)" ok \
	"status -o json: fields, os_release, processes; hostile strings exact"

# ---- bash completion ----
. "$TESTS_SRC/../shell-completion/bash/berthctl"
comp() {
	COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
	PATH=$(dirname "$BERTHCTL"):$PATH DBUS_SYSTEM_BUS_ADDRESS=$BUS _berthctl
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}
check_eq "$(comp berthctl sta)" "start status " "completion: verbs"
check_eq "$(comp berthctl --no-pager status "$P")" "$P-a $P-h " "completion: machine names from berthctl list"
check_eq "$(comp berthctl -o json show "$P-")" "$P-a $P-h " "completion: after an option's argument"
check_eq "$(comp berthctl --out)" "--output " "completion: options"
check_eq "$(comp berthctl -o js)" "json json-pretty " "completion: output modes"

# ---- exit codes ----
check_eq "$(status_of bc status "$P-nope")" 3 "status of an unknown machine: exit 3"
check_eq "$(status_of bc show "$P-nope")" 3 "show of an unknown machine: exit 3"
err=$(bc status "$P-nope" 2>&1 >/dev/null)
check_eq "$(echo "$err" | wc -l)" 1 "and one line says why ($err)"
check_eq "$(status_of bc status 'bad/name')" 2 "an invalid name (InvalidArgs): exit 2"
check_eq "$(status_of bc frobnicate)" 2 "an unknown verb: exit 2"
check_eq "$(status_of bc status)" 2 "status without a name: exit 2"
check_eq "$(status_of bc list extra)" 2 "list with an argument: exit 2"
check_eq "$(status_of bc --bogus-option)" 2 "an unknown option: exit 2"
check_eq "$(status_of bc -o yaml list)" 2 "an unknown output mode: exit 2"
check_eq "$(status_of bc --help)" 0 "--help: exit 0"
check "--version names the version" eval "bc --version | grep -q '^berthctl [0-9]'"

# ---- an unprivileged caller ----
check "as nobody: list works" eval "asnobody list --no-legend | grep -q '^$P-a '"
check "as nobody: status works" eval "asnobody status '$P-a' | grep -q 'State: running'"
if bc --help | grep -q '^  terminate '; then
	err=$(asnobody --no-ask-password terminate "$P-a" 2>&1); rc=$?
	check_eq "$rc" 4 "as nobody: terminate is refused with exit 4"
	check "with a clear message ($err)" eval "echo '$err' | grep -q 'not allowed.*(polkit)'"
	check "and the machine still runs" listed "$P-a"
else
	skip "as nobody: terminate is refused with exit 4" "berthctl has no terminate verb yet (unit test test-ctl covers the mapping)"
fi

# ---- -H to a host that cannot be reached ----
start=$(date +%s)
err=$(DBUS_SYSTEM_BUS_ADDRESS=$BUS timeout 60 "$BERTHCTL" --no-pager -H "nobody@127.0.0.1:1" list 2>&1 </dev/null); rc=$?
check_eq "$rc" 1 "-H to an unreachable host: exit 1"
check "quickly, with a message ($(echo "$err" | tail -1))" test $(($(date +%s) - start)) -lt 30 -a -n "$err"

# The machines end as their runtime ends (the action verbs are tested elsewhere).
for s in $A_SPAWN $H_SPAWN; do kill "$(spawn_pid "$s")" 2>/dev/null; done
check "the machines leave" eval "wait_for 20 gone '$P-a' && wait_for 20 gone '$P-h'"
berthd_teardown
leak_check
tap_done
