#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berthd against bad input and abuse (reliability.md §4, Table B) on a private system bus with a
# real polkitd and rules.d rules: unprivileged callers, polkit saying no, absent or hung,
# callers that vanish mid-authorization, bad names and arguments, malformed wire data, fds where
# none belong, huge messages, many clients and machines. Afterwards berthd still answers, its fd
# count and RSS are where they were, and no refusal changed the registry or the state dir.
. "$(dirname "$0")/../lib/libtest.sh"
. "$(dirname "$0")/../lib/berthd.sh"

POLKITD=/usr/lib/polkit-1/polkitd
PY=/usr/bin/python3
RAWBUS=$TESTS_SRC/lib/rawbus.py
for t in "$POLKITD" "$PY" setpriv unshare; do
	command -v "$t" >/dev/null || { echo "1..0 # SKIP $t not installed"; exit 0; }
done
leak_begin
berthd_setup
SOCK=$SCRATCH/bus
IA=org.freedesktop.DBus.Error.InvalidArgs
AD=org.freedesktop.DBus.Error.AccessDenied
IAR=org.freedesktop.DBus.Error.InteractiveAuthorizationRequired
NSM=org.berth.machine1.NoSuchMachine
CAP=24

# polkitd sees the host's actions plus ours, and only our rules.d (a private mount namespace):
# "nobody" is refused everything for $P-no and $P-deny (B03), may kill but not terminate $P-a,
# and may create $P-mine (B04); everything else falls to the actions' defaults (auth_admin).
PK=$SCRATCH/polkit
mkdir -p "$PK/actions" "$PK/rules.d"
cp /usr/share/polkit-1/actions/* "$TESTS_SRC/../polkit/org.berth.machine1.policy" "$PK/actions/"
cat >"$PK/rules.d/00-berth-abuse.rules" <<RULES
polkit.addRule(function(action, subject) {
	if (subject.user != "nobody" || action.id.indexOf("org.berth.machine1.") != 0)
		return polkit.Result.NOT_HANDLED;
	var m = action.lookup("machine");
	if (m == "$P-no" || m == "$P-deny")
		return polkit.Result.NO;
	if (action.id == "org.berth.machine1.manage-machines" && m == "$P-a" && action.lookup("verb") == "kill")
		return polkit.Result.YES;
	if (action.id == "org.berth.machine1.create-machine" && m == "$P-mine")
		return polkit.Result.YES;
	if (action.id == "org.berth.machine1.shell" && action.lookup("user") == "nobody")
		return polkit.Result.YES;
	return polkit.Result.NOT_HANDLED;
});
RULES
chmod -R a+rX "$PK"
pk_up() { busctl --address="$BUS" status org.freedesktop.PolicyKit1 >/dev/null 2>&1; }
start_polkitd() {
	unshare --mount --propagation private -- sh -c 'mount --bind "$1/actions" /usr/share/polkit-1/actions &&
		mount --bind "$1/rules.d" /etc/polkit-1/rules.d &&
		DBUS_SYSTEM_BUS_ADDRESS=$2 exec "$3" --no-debug' sh "$PK" "$BUS" "$POLKITD" \
		>>"$SCRATCH/polkitd.log" 2>&1 &
	PK_PID=$!
	wait_for 10 pk_up
}
stop_polkitd() {
	kill -9 "$PK_PID"; wait "$PK_PID" 2>/dev/null; PK_PID=
	wait_for 5 eval '! pk_up'
}
on_cleanup '[ -n "${PK_PID:-}" ] && kill -9 $PK_PID 2>/dev/null; true'
check "polkitd runs on the private bus" start_polkitd

# A short timeout for berthd's own calls (polkit), so that the hung-polkitd case ends in seconds;
# the default is sd-bus's 25 s.
export SYSTEMD_BUS_TIMEOUT=4 BERTH_MAX_MACHINES=$CAP
check "berthd starts" start_berthd
export -n SYSTEMD_BUS_TIMEOUT BERTH_MAX_MACHINES
unset SYSTEMD_BUS_TIMEOUT BERTH_MAX_MACHINES

# Every question berthd asks polkit passes the bus: the monitor counts them.
dbus-monitor --address "$BUS" "type='method_call',interface='org.freedesktop.PolicyKit1.Authority',member='CheckAuthorization'" \
	>"$SCRATCH/pk.mon" 2>&1 &
PIDS+=($!)
sleep 0.3
pk_queries() { grep -c 'member=CheckAuthorization' "$SCRATCH/pk.mon"; }

# Unprivileged callers: uid nobody, no session (polkit's allow_any applies).
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
nbus() { "${NOBODY[@]}" gdbus call --address "$BUS" --dest org.berth.machine1 "$@" 2>&1; }
ncall() { nbus --object-path /org/berth/machine1 --method org.berth.machine1.Manager."$1" -- "${@:2}"; }
ncall_i() { nbus -i --object-path /org/berth/machine1 --method org.berth.machine1.Manager."$1" -- "${@:2}"; }
mpath() { call GetMachine "$1" | sed -n "s/^(objectpath '\(.*\)',)$/\1/p"; }
nmachine() { local p; p=$(mpath "$1"); nbus --object-path "$p" --method "$2" -- "${@:3}"; }
err() { sed -n 's/.*GDBus\.Error:\([^:]*\):.*/\1/p' <<<"$1"; }
fds() { ls "/proc/$BERTHD_PID/fd" | wc -l; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$BERTHD_PID/status"; }
# The registry and the state dir, byte for byte; and the scopes of this run.
state() {
	list
	local f
	for f in "$RT"/machines/*; do [ -e "$f" ] && { echo "== ${f##*/}"; cat "$f"; }; done
	ls "$CGROOT/machine.slice" 2>/dev/null | grep -F -- "-$P-"
	return 0
}
# Counts polkit queries since $1, not counting a sentinel call that surely asks polkit: once its
# answer is back, every query of the calls before it has passed the bus.
queries_since() {
	local since=$1
	ncall TerminateMachine "$P-b" >/dev/null
	wait_for 3 eval '[ $(pk_queries) -gt $since ]'
	sleep 0.2
	echo $(($(pk_queries) - $1 - 1))
}

# Leaders that log every catchable signal they get; and leaders owned by nobody.
trapper() {
	sh -c 'for s in HUP INT QUIT USR1 USR2 ALRM TERM CONT WINCH URG; do trap "echo $s >>$1" $s; done
		while :; do sleep 0.1; done' sh "$1" &
}
trapper "$SCRATCH/sig-a"; LA=$!; PIDS+=($LA)
trapper "$SCRATCH/sig-b"; LB=$!; PIDS+=($LB)
sleep 1000 & LN=$!; PIDS+=($LN)
"${NOBODY[@]}" sleep 1000 & NL1=$!; PIDS+=($NL1)
"${NOBODY[@]}" sleep 1000 & NL2=$!; PIDS+=($NL2)
true & DEAD=$!; wait $DEAD
touch "$SCRATCH/sig-a" "$SCRATCH/sig-b"
for m in "a $LA" "b $LB" "no $LN"; do
	set -- $m
	call CreateMachine "$P-$1" "@ay []" "" container "uint32 $2" "" "@a(sv) []" >/dev/null
done
check_eq "$(list | cut -d' ' -f1 | tr '\n' ' ')" "$P-a $P-b $P-no " "root creates three machines"

# Warm up every path once (polkit registry, bus connections, sd-bus caches) before the baseline.
ncall TerminateMachine "$P-b" >/dev/null; ncall ListMachines >/dev/null; ncall GetMachine "$P-x" >/dev/null
nmachine "$P-a" org.freedesktop.DBus.Properties.GetAll org.berth.machine1.Machine >/dev/null
sleep 0.5
FD0=$(fds); RSS0=$(rss); S0=$(state)
diag "baseline: $FD0 fds, VmRSS $RSS0 kB"

# --- B01: reads are open to everyone and never ask polkit.
reads_ok() {
	local bad=0 out
	out=$(ncall ListMachines); [[ $out == *"'$P-a'"* ]] || { diag "ListMachines: $out"; bad=1; }
	out=$(ncall GetMachine "$P-a"); [[ $out == "(objectpath "* ]] || { diag "GetMachine: $out"; bad=1; }
	out=$(ncall GetMachineByPID "uint32 $LA"); [[ $out == "(objectpath "* ]] || { diag "GetMachineByPID: $out"; bad=1; }
	out=$(nmachine "$P-a" org.freedesktop.DBus.Properties.GetAll org.berth.machine1.Machine)
	grep -q "'Leader': <uint32 $LA>" <<<"$out" || { diag "GetAll: $out"; bad=1; }
	out=$(nmachine "$P-a" org.freedesktop.DBus.Properties.Get org.berth.machine1.Machine State)
	[ "$out" = "(<'running'>,)" ] || { diag "Get State: $out"; bad=1; }
	out=$(nmachine "$P-a" org.freedesktop.DBus.Introspectable.Introspect)
	grep -q 'org.berth.machine1.Machine' <<<"$out" || { diag "Introspect: $out"; bad=1; }
	out=$(nbus --object-path /org/berth/machine1 --method org.freedesktop.DBus.ObjectManager.GetManagedObjects)
	grep -q "$P-a" <<<"$out" || { diag "GetManagedObjects: $out"; bad=1; }
	return $bad
}
q=$(pk_queries)
check "B01 unprivileged reads succeed (List, Get, GetByPID, properties, introspection)" reads_ok
check_eq "$(queries_since "$q")" 0 "B01 ... without a single polkit query"
check_eq "$(err "$(ncall TerminateMachine "$P-b")")" $IAR "B01 control: a mutating call does ask polkit"

# --- B02: mutating calls from an unprivileged caller, polkit's default (auth_admin).
b02() {
	local bad=0 e c
	expect() { e=$(err "$("$@")"); [ "$e" = $IAR ] || { diag "$*: '$e'"; bad=1; }; }
	expect $CALLER TerminateMachine "$P-b"
	expect $CALLER KillMachine "$P-b" leader "int32 10"
	expect $CALLER UnregisterMachine "$P-b"
	expect $CALLER CreateMachine "$P-x" "@ay []" "" container "uint32 $NL2" "" "@a(sv) []"
	expect $CALLER RegisterMachine "$P-x" "@ay []" "" container "uint32 $NL2" ""
	expect nmachine "$P-b" org.berth.machine1.Machine.Terminate
	expect nmachine "$P-b" org.berth.machine1.Machine.Kill all 15
	return $bad
}
CALLER=ncall check "B02 without the interactive flag: InteractiveAuthorizationRequired for every verb" b02
CALLER=ncall_i check "B02 with the flag but no agent: InteractiveAuthorizationRequired too" b02
check_eq "$(state)" "$S0" "B02 no state changed"
check_eq "$(cat "$SCRATCH/sig-b")" "" "B02 no signal reached the leader"

# --- B03: a rule says NO.
b03() {
	local bad=0 e c
	for c in "TerminateMachine $P-no" "UnregisterMachine $P-no"; do
		e=$(err "$(ncall $c)"); [ "$e" = $AD ] || { diag "$c: '$e'"; bad=1; }
	done
	e=$(err "$(ncall KillMachine "$P-no" all "int32 9")"); [ "$e" = $AD ] || { diag "Kill: '$e'"; bad=1; }
	e=$(err "$(ncall CreateMachine "$P-deny" "@ay []" "" container "uint32 $NL2" "" "@a(sv) []")")
	[ "$e" = $AD ] || { diag "Create: '$e'"; bad=1; }
	return $bad
}
check "B03 a rule returning NO gives AccessDenied (terminate, unregister, kill, create)" b03
check_eq "$(state)" "$S0" "B03 no state changed"
check "B03 the leader lives" kill -0 "$LN"

# --- B04: a rule scoped by the details berthd passes (machine, verb).
check_eq "$(ncall KillMachine "$P-a" leader "int32 10")" "()" "B04 the rule allows kill on $P-a"
check "B04 ... and the signal arrives" wait_for 3 grep -qx USR1 "$SCRATCH/sig-a"
check_eq "$(err "$(ncall KillMachine "$P-b" leader "int32 10")")" $IAR "B04 but not on $P-b (machine detail)"
check_eq "$(err "$(ncall TerminateMachine "$P-a")")" $IAR "B04 nor terminate on $P-a (verb detail)"
out=$(ncall CreateMachine "$P-mine" "@ay []" "" container "uint32 $NL1" "" "@a(sv) []")
check "B04 the rule lets nobody create $P-mine with its own leader" grep -q "objectpath" <<<"$out"
check_eq "$(prop "$P-mine" Leader)" "u $NL1" "B04 ... led by its process"
call TerminateMachine "$P-mine" >/dev/null
check "B04 root terminates it again" wait_for 5 eval "gone $P-mine && dead $NL1 && test ! -d $CGROOT/machine.slice/machine-$P-mine.scope"
check_eq "$(state)" "$S0" "B04 back to the baseline state"
check_eq "$(cat "$SCRATCH/sig-b")" "" "B04 nothing reached $P-b"

# --- B05: polkitd absent (fail closed), then hung (a reply within berthd's bus timeout).
stop_polkitd
q=$(pk_queries)
check "B05 with polkitd gone reads still succeed (B01 again)" reads_ok
check_eq "$(err "$(ncall KillMachine "$P-a" leader "int32 12")")" $AD "B05 polkitd gone: AccessDenied although a rule would allow it"
check_eq "$(err "$(ncall_i TerminateMachine "$P-b")")" $AD "B05 ... with the interactive flag too"
check_eq "$(grep -c USR2 "$SCRATCH/sig-a")" 0 "B05 ... and nothing was done"
check "B05 polkitd comes back" start_polkitd
check_eq "$(err "$(ncall TerminateMachine "$P-b")")" $IAR "B05 ... and is asked again"

kill -STOP "$PK_PID"
t0=$(date +%s%N)
(ncall KillMachine "$P-a" leader "int32 12" >"$SCRATCH/hung.out"; date +%s%N >"$SCRATCH/hung.t") &
PIDS+=($!)
sleep 0.5
t1=$(date +%s%N); out=$(call ListMachines); t2=$(date +%s%N)
check "B05 polkitd hung: root is answered meanwhile ($(((t2 - t1) / 1000000)) ms)" \
	eval "[[ \$out == *$P-a* ]] && [ $(((t2 - t1) / 1000000)) -lt 1000 ]"
check "B05 ... so are unprivileged reads" reads_ok
check_eq "$(call KillMachine "$P-b" leader "int32 12")" "()" "B05 ... and root's kill (no polkit needed)"
check "B05 ... which arrives" wait_for 3 grep -qx USR2 "$SCRATCH/sig-b"
wait_for 15 test -s "$SCRATCH/hung.t"
check_eq "$(err "$(cat "$SCRATCH/hung.out")")" $AD "B05 the caller waiting on hung polkitd gets AccessDenied"
dt=$((($(cat "$SCRATCH/hung.t" 2>/dev/null || date +%s%N) - t0) / 1000000))
check "B05 ... after berthd's bus timeout (4 s), not the caller's (${dt} ms)" test "$dt" -ge 3500 -a "$dt" -lt 10000
check_eq "$(grep -c USR2 "$SCRATCH/sig-a")" 0 "B05 ... and nothing was done"
kill -CONT "$PK_PID"

# --- B06: callers that vanish while polkit (allowing them) has not answered yet.
kill -STOP "$PK_PID"
vanish=()
for _ in $(seq 20); do
	"${NOBODY[@]}" gdbus call --address "$BUS" --dest org.berth.machine1 --object-path /org/berth/machine1 \
		--method org.berth.machine1.Manager.KillMachine "$P-a" leader 31 >/dev/null 2>&1 &
	vanish+=($!)
done
sleep 1
for p in "${vanish[@]}"; do kill -9 "$p"; wait "$p" 2>/dev/null; done
sleep 0.3
kill -CONT "$PK_PID"
sleep 1
check_eq "$(grep -c -x -e URG -e SYS "$SCRATCH/sig-a"; kill -0 "$LA" && echo alive)" "0
alive" "B06 no call of a vanished caller was carried out"
check "B06 berthd answers" eval "[[ \$(call ListMachines) == *$P-a* ]]"
check_eq "$(ncall KillMachine "$P-a" leader "int32 10")" "()" "B06 polkit and the rule still work after"
check_eq "$(state)" "$S0" "B06 no state changed"

# --- B07: bad machine names, refused before polkit by every method that takes one.
names=("" . .. ../x a/b -a a- a..b "$(printf 'a%.0s' $(seq 65))" "a b" $'a\tb' ä .host)
q=$(pk_queries)
for meth in GetMachine TerminateMachine KillMachine UnregisterMachine CreateMachine RegisterMachine; do
	bad=""
	for n in "${names[@]}"; do
		case $meth in
		KillMachine) out=$(ncall $meth "$n" leader "int32 15") ;;
		CreateMachine) out=$(ncall $meth "$n" "@ay []" "" container "uint32 $NL2" "" "@a(sv) []") ;;
		RegisterMachine) out=$(ncall $meth "$n" "@ay []" "" container "uint32 $NL2" "") ;;
		*) out=$(ncall $meth "$n") ;;
		esac
		e=$(err "$out"); [ "$e" = $IA ] || bad+=" '$n':${e##*.}"
	done
	check_eq "$bad" "" "B07 $meth: every bad name is InvalidArgs"
done
check_eq "$(queries_since "$q")" 0 "B07 ... all refused before polkit"
check_eq "$(state)" "$S0" "B07 no state changed"

# --- B10: valid but unknown machines and objects.
q=$(pk_queries)
b10=""
for c in "GetMachine" "TerminateMachine" "UnregisterMachine"; do
	e=$(err "$(ncall $c "$P-none")"); [ "$e" = $NSM ] || b10+=" $c:$e"
done
e=$(err "$(ncall KillMachine "$P-none" all "int32 15")"); [ "$e" = $NSM ] || b10+=" KillMachine:$e"
check_eq "$b10" "" "B10 an unknown machine is NoSuchMachine for every method (before polkit)"
check_eq "$(queries_since "$q")" 0 "B10 ... without asking polkit"
b10=""
for p in /org/berth/machine1/machine/_zz /org/berth/machine1/machine/${P}_2dnone \
	/org/berth/machine1/machine/_2e_2e /org/berth/machine1/machine/_2e_2e/x /org/berth/machine1/machinex; do
	e=$(err "$(nbus --object-path "$p" --method org.freedesktop.DBus.Properties.Get org.berth.machine1.Machine Name)")
	[ "$e" = org.freedesktop.DBus.Error.UnknownObject ] || b10+=" Get($p):$e"
	e=$(err "$(nbus --object-path "$p" --method org.berth.machine1.Machine.Terminate)")
	[ "$e" = org.freedesktop.DBus.Error.UnknownObject ] || b10+=" Terminate($p):$e"
done
check_eq "$b10" "" "B10 bogus, unknown and undecodable object paths are UnknownObject"
check_eq "$(err "$(nmachine "$P-a" org.freedesktop.DBus.Properties.Get org.berth.machine1.Machine Bogus)")" \
	org.freedesktop.DBus.Error.UnknownProperty "B10 an unknown property is UnknownProperty"
check_eq "$(err "$(ncall Bogus)")" org.freedesktop.DBus.Error.UnknownMethod "B10 an unknown method is UnknownMethod"
check_eq "$(err "$(ncall GetMachineByPID "uint32 $DEAD")")" org.berth.machine1.NoMachineForPID "B10 GetMachineByPID of a dead PID"
check_eq "$(err "$(ncall GetMachineByPID "uint32 1")")" org.berth.machine1.NoMachineForPID "B10 GetMachineByPID of PID 1"
check_eq "$(err "$(ncall GetMachineByPID "uint32 2147483648")")" $IA "B10 GetMachineByPID beyond pid_t"

# --- B18: Kill arguments, refused before polkit (as nobody) and without it (as root).
q=$(pk_queries)
b18=""
kill_obj() {
	local p; p=$(mpath "$P-b")
	if [ "$1" = call ]; then
		gdbus call --address "$BUS" --dest org.berth.machine1 --object-path "$p" \
			--method org.berth.machine1.Machine.Kill -- "$2" "int32 $3" 2>&1
	else
		nbus --object-path "$p" --method org.berth.machine1.Machine.Kill -- "$2" "int32 $3"
	fi
}
for caller in call ncall; do
	for a in "leader 0" "leader -1" "leader 65" "leader 65545" "leader 2147483647" "leader -2147483648" \
		"foo 15" "LEADER 15" "leader. 15" "all -9"; do
		set -- $a
		e=$(err "$($caller KillMachine "$P-b" "$1" "int32 $2")"); [ "$e" = $IA ] || b18+=" $caller($a):$e"
		e=$(err "$(kill_obj $caller "$1" "$2")"); [ "$e" = $IA ] || b18+=" Machine.Kill/$caller($a):$e"
	done
done
check_eq "$b18" "" "B18 bad signals and targets are InvalidArgs (Manager and Machine, root and nobody)"
check_eq "$(queries_since "$q")" 0 "B18 ... before polkit"
check_eq "$(cat "$SCRATCH/sig-b"; kill -0 "$LB" && echo alive)" "USR2
alive" "B18 no signal was sent"

# --- B19: Create/RegisterMachine input from an unprivileged caller: all before polkit.
q=$(pk_queries)
b19() {
	local want=$1 meth=$2; shift 2
	local e
	if [ "$meth" = CreateMachine ]; then
		e=$(err "$(ncall CreateMachine "$@")")
	else
		e=$(err "$(ncall RegisterMachine "${@:1:6}")")
	fi
	[ "$e" = "$want" ] || { diag "$meth ${*:1:6}: '$e'"; return 1; }
}
for meth in CreateMachine RegisterMachine; do
	bad=0
	b19 $IA $meth "$P-x" "@ay []" "" container "uint32 1" "" "@a(sv) []" || bad=1
	b19 $IA $meth "$P-x" "@ay []" "" container "uint32 0" "" "@a(sv) []" || bad=1
	b19 $IA $meth "$P-x" "@ay []" "" container "uint32 $DEAD" "" "@a(sv) []" || bad=1
	b19 $IA $meth "$P-x" "@ay []" "" container "uint32 4294967295" "" "@a(sv) []" || bad=1
	b19 $IA $meth "$P-x" "@ay []" "" container "uint32 $NL2" "rel" "@a(sv) []" || bad=1
	b19 $IA $meth "$P-x" "@ay []" "" container "uint32 $NL2" "/a/../b" "@a(sv) []" || bad=1
	b19 $IA $meth "$P-x" "@ay []" "" container "uint32 $NL2" "/a/." "@a(sv) []" || bad=1
	b19 $IA $meth "$P-x" "@ay []" "" foo "uint32 $NL2" "" "@a(sv) []" || bad=1
	b19 $IA $meth "$P-x" "@ay []" "" "" "uint32 $NL2" "" "@a(sv) []" || bad=1
	b19 $IA $meth "$P-x" "@ay [1,2,3]" "" container "uint32 $NL2" "" "@a(sv) []" || bad=1
	b19 $IA $meth "$P-x" "@ay []" $'svc\nX=1' container "uint32 $NL2" "" "@a(sv) []" || bad=1
	b19 $AD $meth "$P-x" "@ay []" "" container "uint32 $LA" "" "@a(sv) []" || bad=1
	b19 $AD $meth "$P-x" "@ay []" "" container "uint32 $BERTHD_PID" "" "@a(sv) []" || bad=1
	b19 org.berth.machine1.MachineExists $meth "$P-a" "@ay []" "" container "uint32 $NL2" "" "@a(sv) []" || bad=1
	check "B19 $meth: bad leader, root, class, id, service; foreign leader; duplicate" test $bad = 0
done
bad=0
b19 $IA CreateMachine "$P-x" "@ay []" "" container "uint32 $NL2" "" "@a(sv) [('Bogus', <'x'>)]" || bad=1
b19 $IA CreateMachine "$P-x" "@ay []" "" container "uint32 $NL2" "" "@a(sv) [('Description', <uint32 1>)]" || bad=1
b19 $IA CreateMachine "$P-x" "@ay []" "" container "uint32 $NL2" "" "@a(sv) [('Slice', <'../../x.slice'>)]" || bad=1
check "B19 CreateMachine: unknown or mistyped scope properties" test $bad = 0
check_eq "$(queries_since "$q")" 0 "B19 ... all before polkit"
check_eq "$(state)" "$S0" "B19 no state changed"

# --- B16, B17, B20, B23: shells, commands, copies, bind mounts and resource limits, from an
# unprivileged caller: bad input is InvalidArgs before polkit; descriptors are never kept.
raw() { timeout 90 "$PY" "$RAWBUS" "$SOCK" "$@" 2>&1; }
nraw() { "${NOBODY[@]}" timeout 90 "$PY" "$RAWBUS" "$SOCK" "$@" 2>&1; }
q=$(pk_queries)
bad=""
shell() { e=$(err "$(ncall OpenMachineShell "$P-a" "$@")"); [ "$e" = $IA ] || bad+=" [$*]:$e"; }
shell "root;id" /bin/sh "@as []" "@as []"
shell '$(id)' /bin/sh "@as []" "@as []"
shell -x /bin/sh "@as []" "@as []"
shell "$(printf 'a%.0s' $(seq 300))" /bin/sh "@as []" "@as []"
shell root bin/sh "@as []" "@as []"
shell root /bin/sh "@as []" "['FOO']"
shell root /bin/sh "@as []" "['=x']"
shell root /bin/sh "@as []" "['A=b\nc']"
check_eq "$bad" "" "B16 OpenMachineShell: bad user, path and environment are InvalidArgs"
bad=""
for a in "1 $P-a root;id - /bin/true" "1 $P-a - rel /bin/true" "1 $P-a -x - /bin/true" "1 $P-a - - bin/true"; do
	out=$(nraw exec "$a"); [ "$out" = "error $IA" ] || bad+=" [$a]:$out"
done
check_eq "$bad" "" "B16 ExecInMachine: bad user, directory and program are InvalidArgs"
bad=""
bind() { e=$(err "$(ncall BindMountMachine "$P-a" "$@")"); [ "$e" = $IA ] || bad+=" bind[$*]:$e"; }
bind rel /mnt false false; bind /srv ../x false false; bind /a/../b /mnt false false; bind /srv /mnt/.. false false
copy() { e=$(err "$(ncall "$@")"); [ "$e" = $IA ] || bad+=" [$*]:$e"; }
copy CopyToMachine "$P-a" rel /x; copy CopyToMachine "$P-a" /x ../y; copy CopyFromMachine "$P-a" /etc/../shadow /tmp/x
copy CopyFromMachine "$P-a" /x rel; copy CopyToMachineWithFlags "$P-a" /x /y "uint64 2"
check_eq "$bad" "" "B23 BindMount/Copy: relative or .. paths and unknown flags are InvalidArgs"
bad=""
setp() { e=$(err "$(ncall SetMachineProperties "$P-a" false "$1")"); [ "$e" = $IA ] || bad+=" [$1]:$e"; }
setp "[('Bogus', <uint64 1>)]"; setp "[('MemoryMax', <'lots'>)]"; setp "[('CPUQuota', <'50'>)]"
setp "[('AllowedCPUs', <uint64 1>)]"; setp "[('TasksMax', <int32 -1>)]"
check_eq "$bad" "" "SetMachineProperties: unknown properties and bad values are InvalidArgs"
check_eq "$(queries_since "$q")" 0 "B16 B23 ... all before polkit"
check_eq "$(err "$(ncall OpenMachineShell .host nobody /bin/sh "@as []" "@as []")")" $IAR \
	"B17 a rule granting shell does not open a shell on .host (host-shell)"
check_eq "$(nraw exec "1 .host nobody - /bin/true")" "error $IAR" "B17 nor run a command there"
check_eq "$(nraw exec "1 $P-a nobody - /bin/true")" reply "B17 control: the rule lets nobody run a command as nobody in $P-a"
check_eq "$(nraw exec "200 $P-b root - /bin/true")" "error $IAR" "B20 200 refused ExecInMachine calls with 3 fds each"
check_eq "$(nraw exec "50 $P-a - rel /bin/true")" "error $IA" "B20 50 invalid ones"
sleep 0.5
check_eq "$(fds)" "$FD0" "B20 ... leave berthd's fd count unchanged"
check_eq "$(state)" "$S0" "B16-B23 no state changed"

# --- B08: malformed wire data from a raw socket client: the bus cuts the sender off.
for c in invalid-utf8 embedded-nul bad-signature short-body; do
	check_eq "$(raw "$c")" disconnected "B08 $c: the sender is disconnected"
done
check_eq "$(raw wrong-signature)" "error $IA" "B08 a well-formed call with the wrong signature is InvalidArgs"
check "B08 berthd answers" eval "[[ \$(call ListMachines) == *$P-a* ]]"

# --- B20: descriptors where none or a PID belongs.
for k in file socket opath; do
	check_eq "$(raw fd-for-pid $k)" "error $IA" "B20 a $k fd where a PID is expected is InvalidArgs"
done
check_eq "$(raw fds 17,1)" disconnected "B20 17 fds in one message: the bus refuses (max 16)"
check_eq "$(raw fds 16,1000)" reply "B20 1000 calls carrying 16 unexpected fds each are answered"
check_eq "$(fds)" "$FD0" "B20 ... and berthd holds no more fds than before"

# --- B21: huge messages. berthd answers fast or sd-bus drops what it cannot take; it survives.
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
t=$(date +%s%N); out=$(raw huge-string); d=$(ms "$t")
check "B21 a 30 MiB machine name: an error reply in ${d} ms ($out)" \
	eval "[[ '$out' == 'error $IA' || '$out' == 'error $NSM' ]] && [ $d -lt 15000 ]"
t=$(date +%s%N); out=$(raw huge-path); d=$(ms "$t")
check "B21 a 30 MiB object path: UnknownObject, or dropped by sd-bus ($out in ${d} ms)" \
	eval "[[ '$out' == 'error org.freedesktop.DBus.Error.UnknownObject' || '$out' == no-reply ]]"
t=$(date +%s%N); out=$(raw huge-id "$NL2"); d=$(ms "$t")
check_eq "$out" "error $IA" "B21 a 1e6-byte machine id is InvalidArgs (${d} ms)"
t=$(date +%s%N); out=$(raw huge-properties "$DEAD"); d=$(ms "$t")
check "B21 1e6 scope properties: InvalidArgs in ${d} ms" eval "[ '$out' = 'error $IA' ] && [ $d -lt 20000 ]"
check_eq "$(raw huge-strv)" "error $IA" "B21 a 1e6-element array to a method without arguments is InvalidArgs"
check_eq "$(raw too-big)" disconnected "B21 a 33 MiB message: the bus cuts the sender off"
check "B21 berthd answers" eval "[[ \$(call ListMachines) == *$P-a* ]]"
diag "after B21: $(fds) fds, VmRSS $(rss) kB"

# --- B22: many clients; many machines up to the cap.
"${NOBODY[@]}" "$PY" "$RAWBUS" "$SOCK" connections 300 >"$SCRATCH/conns" 2>&1 &
CONNS=$!; PIDS+=($CONNS)
wait_for 60 test -s "$SCRATCH/conns"
n=$(cat "$SCRATCH/conns")
check "B22 the bus caps one user's connections ($n of 300 accepted)" test "${n:-300}" -le 256
t=$(date +%s%N); out=$(call ListMachines); d=$(ms "$t")
check "B22 root is answered meanwhile (${d} ms)" eval "[[ \$out == *$P-a* ]] && [ $d -lt 1000 ]"
kill -9 "$CONNS"; wait "$CONNS" 2>/dev/null
sleep 0.5
par=()
for i in $(seq 100); do ncall GetMachine "$P-a" >"$SCRATCH/par.$i" & par+=($!); done
for p in "${par[@]}"; do wait "$p"; done
check_eq "$(cat "$SCRATCH"/par.* | grep -c objectpath)" 100 "B22 100 concurrent unprivileged calls are all answered"
rm -f "$SCRATCH"/par.*

fill=()
have=$(list | wc -l)
for i in $(seq $((CAP - have))); do
	sleep 1000 & fill+=($!); PIDS+=($!)
	call RegisterMachine "$P-f$i" "@ay []" "" container "uint32 $!" "" >/dev/null
done
check_eq "$(list | wc -l)" $CAP "B22 machines register up to the cap ($CAP)"
sleep 1000 & extra=$!; PIDS+=($extra)
check_eq "$(error_of call RegisterMachine "$P-over" "@ay []" "" container "uint32 $extra" "")" \
	org.freedesktop.DBus.Error.LimitsExceeded "B22 one more RegisterMachine is LimitsExceeded"
check_eq "$(error_of call CreateMachine "$P-over" "@ay []" "" container "uint32 $extra" "" "@a(sv) []")" \
	org.freedesktop.DBus.Error.LimitsExceeded "B22 ... and so is CreateMachine"
check "B22 ... and nothing of it is left" eval "gone $P-over && test ! -e $RT/machines/$P-over -a ! -d $CGROOT/machine.slice/machine-$P-over.scope"
call UnregisterMachine "$P-f1" >/dev/null
check "B22 below the cap again, registering works" \
	eval "call RegisterMachine $P-over '@ay []' '' container 'uint32 $extra' '' | grep -q objectpath"
for p in "${fill[@]}" "$extra"; do kill -9 "$p"; wait "$p" 2>/dev/null; done
check "B22 the fillers go with their leaders" wait_for 10 eval "[ \$(list | wc -l) = 3 ]"

# --- After all of it.
sleep 0.5
check "berthd is alive and answers" eval "kill -0 $BERTHD_PID && [[ \$(call ListMachines) == *$P-a* ]]"
check_eq "$(fds)" "$FD0" "berthd's fd count is unchanged"
r=$(rss)
check "berthd's RSS is unchanged within 2 MiB ($RSS0 -> $r kB)" test "$r" -le $((RSS0 + 2048))
check_eq "$(state)" "$S0" "registry and state dir are as before every refusal"

stop_polkitd
berthd_teardown
leak_check
[ "$_tap_failed" = 0 ] || sed 's/^/# berthd: /' "$SCRATCH/berthd.log" >&2
tap_done
