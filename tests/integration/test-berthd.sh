#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berthd on a private system bus: the registry verbs, signals, the cgroupfs scopes, bad input,
# leader tracking, and a kill -9 restart that keeps live machines and drops dead ones.
. "$(dirname "$0")/../lib/libtest.sh"
. "$(dirname "$0")/../lib/berthd.sh"
leak_begin
berthd_setup

NOTIFY=$SCRATCH/notify
python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(20)
open(sys.argv[2], "w").write(s.recv(4096).decode())' "$NOTIFY" "$SCRATCH/notify.out" &
PIDS+=($!)
wait_for 5 test -S "$NOTIFY"
check "berthd starts and owns org.berth.machine1" start_berthd
check "berthd tells its supervisor READY=1" wait_for 3 grep -qs '^READY=1$' "$SCRATCH/notify.out"
NOTIFY=
check_eq "$(call ListMachines)" "(@a(ssso) [],)" "ListMachines is empty at first"

dbus-monitor --address "$BUS" "type='signal',interface='org.berth.machine1.Manager'" \
	"type='signal',interface='org.freedesktop.DBus.Properties'" >"$SCRATCH/signals" 2>/dev/null &
PIDS+=($!)
sleep 0.3

# A registered machine lives in a unit of its own: here a cgroup the test makes.
mkdir "$CGROOT/berthd-test-$$.scope"
sleep 1000 & L1=$!; PIDS+=($L1)
echo $L1 >"$CGROOT/berthd-test-$$.scope/cgroup.procs"
# The created one: a leader that reports SIGUSR1 and keeps a child around.
sh -c "trap 'echo got >$SCRATCH/usr1' USR1; while :; do sleep 0.1; done" & L2=$!; PIDS+=($L2)

out=$(call RegisterMachine "$P-reg" "@ay []" svc-reg container "uint32 $L1" /srv/reg)
check "RegisterMachine returns the object path" grep -q "objectpath '/org/berth/machine1/machine/" <<<"$out"
out=$(call CreateMachine "$P-crt" "@ay [$(seq -s, 1 16)]" svc-crt vm "uint32 $L2" "" "@a(sv) [('Description', <'x'>)]")
check "CreateMachine returns the object path" grep -q "objectpath '/org/berth/machine1/machine/" <<<"$out"
crt_path=$(sed -n "s/^(objectpath '\(.*\)',)$/\1/p" <<<"$out")

listing=$(list)
check "ListMachines shows the registered machine" grep -qx "$P-reg container svc-reg /org/berth/machine1/machine/${P}_2dreg" <<<"$listing"
check "ListMachines shows the created machine" grep -qx "$P-crt vm svc-crt $crt_path" <<<"$listing"
check_eq "$(call GetMachine "$P-crt")" "(objectpath '$crt_path',)" "GetMachine"
check_eq "$(call GetMachineByPID "uint32 $L2")" "(objectpath '$crt_path',)" "GetMachineByPID of the leader"
check_eq "$(error_of call GetMachineByPID "uint32 $$")" "org.berth.machine1.NoMachineForPID" "GetMachineByPID of an outsider"
check_eq "$(prop "$P-reg" Leader)" "u $L1" "Leader property"
check_eq "$(prop "$P-reg" Unit)" "s \"berthd-test-$$.scope\"" "Unit of a registered machine is its cgroup"
check_eq "$(prop "$P-crt" Unit)" "s \"machine-$P-crt.scope\"" "Unit of a created machine is its scope"
check_eq "$(prop "$P-crt" Class)" 's "vm"' "Class property"
check_eq "$(prop "$P-reg" RootDirectory)" 's "/srv/reg"' "RootDirectory property"
check_eq "$(prop "$P-crt" State)" 's "running"' "State property"
check_eq "$(prop "$P-crt" Id)" "ay 16 $(seq -s' ' 1 16)" "Id property"
check "Timestamp is set" test "$(prop "$P-crt" Timestamp | cut -d' ' -f2)" -gt 0
check "the created leader is in machine.slice/machine-NAME.scope" in_scope "$L2" "$P-crt"
check "MachineNew was signalled for both" \
	wait_for 3 eval "grep -A1 'member=MachineNew' '$SCRATCH/signals' | grep -q '\"$P-reg\"' &&
	                  grep -A1 'member=MachineNew' '$SCRATCH/signals' | grep -q '\"$P-crt\"'"

# Bad input (reliability.md B07, B10, B19): each refused with its own error name.
bad=0
for n in "" . .. ../x a/b -a a- a..b "$(printf 'a%.0s' $(seq 65))" "a b" $'a\tb' ä .host; do
	e=$(error_of call RegisterMachine "$n" "@ay []" "" container "uint32 $L1" "")
	[ "$e" = org.freedesktop.DBus.Error.InvalidArgs ] || { diag "name '$n': '$e'"; bad=1; }
done
check "invalid machine names are InvalidArgs" test $bad = 0
inv() { error_of call CreateMachine "$@"; }
IA=org.freedesktop.DBus.Error.InvalidArgs
true & DEADPID=$!; wait $DEADPID
check_eq "$(inv "$P-x" "@ay []" "" container "uint32 1" "" "@a(sv) []")" $IA "leader 1"
check_eq "$(inv "$P-x" "@ay []" "" container "uint32 0" "" "@a(sv) []")" $IA "leader 0"
check_eq "$(inv "$P-x" "@ay []" "" container "uint32 $DEADPID" "" "@a(sv) []")" $IA "a leader that does not exist"
check_eq "$(inv "$P-x" "@ay []" "" container "uint32 $L1" "rel" "@a(sv) []")" $IA "relative root directory"
check_eq "$(inv "$P-x" "@ay []" "" container "uint32 $L1" "/a/../b" "@a(sv) []")" $IA "root directory with .."
check_eq "$(inv "$P-x" "@ay []" "" foo "uint32 $L1" "" "@a(sv) []")" $IA "bad class"
check_eq "$(inv "$P-x" "@ay [1,2,3]" "" container "uint32 $L1" "" "@a(sv) []")" $IA "bad id length"
check_eq "$(inv "$P-x" "@ay []" "" container "uint32 $L1" "" "@a(sv) [('Bogus', <1>)]")" $IA "unknown scope property"
check_eq "$(inv "$P-crt" "@ay []" "" container "uint32 $L1" "" "@a(sv) []")" org.berth.machine1.MachineExists "duplicate name"
check_eq "$(error_of call GetMachine "$P-none")" org.berth.machine1.NoSuchMachine "unknown machine"
check_eq "$(error_of call TerminateMachine "$P-none")" org.berth.machine1.NoSuchMachine "unknown machine for TerminateMachine"
check "no machine or scope was made by refused calls" eval "gone $P-x && test ! -d $CGROOT/machine.slice/machine-$P-x.scope"

# Unprivileged callers: someone else's leader is refused, and polkit (absent here) says no.
asnobody() { runuser -u nobody -- gdbus call --address "$BUS" --dest org.berth.machine1 \
	--object-path /org/berth/machine1 --method org.berth.machine1.Manager."$1" -- "${@:2}" 2>&1; }
check_eq "$(error_of asnobody CreateMachine "$P-x" "@ay []" "" container "uint32 $L1" "" "@a(sv) []")" \
	org.freedesktop.DBus.Error.AccessDenied "a non-root caller cannot take someone else's process"
check_eq "$(error_of asnobody TerminateMachine "$P-crt")" org.freedesktop.DBus.Error.AccessDenied \
	"a non-root caller cannot terminate without polkit"

call KillMachine "$P-crt" leader "int32 10" >/dev/null
check "KillMachine delivers the signal to the leader" wait_for 3 grep -qxs got "$SCRATCH/usr1"

# Restart: one machine's leader dies while berthd is down; two forged state files are stale.
sleep 1000 & L3=$!; PIDS+=($L3)
call CreateMachine "$P-die" "@ay []" "" container "uint32 $L3" "" "@a(sv) []" >/dev/null
kill -9 "$BERTHD_PID"; wait "$BERTHD_PID" 2>/dev/null
kill -9 "$L3"; wait "$L3" 2>/dev/null
printf 'NAME=%s\nCLASS=container\nLEADER=%s\nLEADER_STARTTIME=1\n' "$P-reused" "$L1" >"$RT/machines/$P-reused"
printf 'NAME=%s\nCLASS=container\nLEADER=%s\nLEADER_STARTTIME=1\n' "$P-dead" "$DEADPID" >"$RT/machines/$P-dead"
nremoved=$(grep -c 'member=MachineRemoved' "$SCRATCH/signals")
check "berthd starts again after kill -9" start_berthd
listing=$(list)
check "the live machines survive the restart" eval "grep -q '^$P-reg ' <<<'$listing' && grep -q '^$P-crt ' <<<'$listing'"
check_eq "$(prop "$P-crt" Leader)" "u $L2" "with the same leader"
check "the machine whose leader died meanwhile is dropped, file and scope too" \
	eval "gone $P-die && test ! -e $RT/machines/$P-die && wait_for 3 test ! -d $CGROOT/machine.slice/machine-$P-die.scope"
check "stale state files (reused and dead PIDs) are dropped" \
	eval "gone $P-reused && gone $P-dead && test ! -e $RT/machines/$P-reused -a ! -e $RT/machines/$P-dead"
check_eq "$(grep -c 'member=MachineRemoved' "$SCRATCH/signals")" "$nremoved" "no MachineRemoved for the survivors"

# Leader killed from outside: the machine goes, with its scope.
kill -9 "$L2"
check "a dead leader takes its machine out of the list" wait_for 5 gone "$P-crt"
check "MachineRemoved was signalled" wait_for 3 eval "grep -A1 'member=MachineRemoved' '$SCRATCH/signals' | grep -q '\"$P-crt\"'"
check "its scope directory is removed" wait_for 3 test ! -d "$CGROOT/machine.slice/machine-$P-crt.scope"
check "State went to closing, with PropertiesChanged" grep -q 'string "closing"' "$SCRATCH/signals"

# TerminateMachine: a registered machine's leader is asked to stop; a created scope is killed.
# Only the leader is moved into the scope: its child is forked once it is inside.
sh -c 'while [ ! -e "$1" ]; do sleep 0.05; done; sleep 1000 & wait' sh "$SCRATCH/go" & L4=$!; PIDS+=($L4)
call CreateMachine "$P-term" "@ay []" "" container "uint32 $L4" "" "@a(sv) []" >/dev/null
touch "$SCRATCH/go"
wait_for 3 eval "pgrep -P $L4 -fx 'sleep 1000' >/dev/null" && C4=$(pgrep -P $L4 -fx 'sleep 1000') || C4=$L4
PIDS+=($C4)
check_eq "$(call GetMachineByPID "uint32 $C4")" "$(call GetMachine "$P-term")" "GetMachineByPID of a process in the scope"
stopped() { [ "$(awk '{print $3}' "/proc/$1/stat")" = T ]; }
call KillMachine "$P-term" all "int32 19" >/dev/null
check "KillMachine all signals every process of the scope" wait_for 3 eval "stopped $L4 && stopped $C4"
call TerminateMachine "$P-reg" >/dev/null
call TerminateMachine "$P-term" >/dev/null
check "TerminateMachine stops both machines" wait_for 5 eval "gone $P-reg && gone $P-term && dead $L1 && dead $L4 && dead $C4"
check "and the created scope is removed" wait_for 3 test ! -d "$CGROOT/machine.slice/machine-$P-term.scope"

# A registered leader sharing a cgroup with others (here berthd's own): "all" means the leader.
sleep 1000 & L6=$!; PIDS+=($L6)
sleep 1000 & B=$!; PIDS+=($B)
echo $L6 >"$DCG/cgroup.procs"; echo $B >"$DCG/cgroup.procs"
call RegisterMachine "$P-shared" "@ay []" "" container "uint32 $L6" "" >/dev/null
call KillMachine "$P-shared" all "int32 9" >/dev/null
check "KillMachine all in a shared cgroup kills only the leader" \
	eval "wait_for 3 dead $L6 && ! dead $B && ! dead $BERTHD_PID && wait_for 3 gone $P-shared"
kill -9 $B

# UnregisterMachine forgets the machine but leaves it running; its scope goes once it empties.
sleep 1000 & L5=$!; PIDS+=($L5)
call CreateMachine "$P-unreg" "@ay []" "" container "uint32 $L5" "" "@a(sv) []" >/dev/null
call UnregisterMachine "$P-unreg" >/dev/null
check "UnregisterMachine removes the machine, not its processes" eval "gone $P-unreg && ! dead $L5 && in_scope $L5 $P-unreg"
# ... even across a restart of berthd.
kill -9 "$BERTHD_PID"; wait "$BERTHD_PID" 2>/dev/null
start_berthd
check "an unregistered machine stays unregistered after a restart" eval "gone $P-unreg && ! dead $L5"
kill -9 "$L5"
check "the scope of an unregistered machine is removed once empty" \
	wait_for 3 test ! -d "$CGROOT/machine.slice/machine-$P-unreg.scope"
check_eq "$(gdbus call --address "$BUS" --dest org.berth.machine1 --object-path /org/berth/machine1/machine/_zz \
	--method org.freedesktop.DBus.Properties.Get org.berth.machine1.Machine Name 2>&1 |
	sed -n 's/.*GDBus\.Error:\([^:]*\):.*/\1/p')" org.freedesktop.DBus.Error.UnknownObject "a bogus object path is UnknownObject"

# A watch that keeps firing (cgroup.events not re-armed) would show up as a busy berthd.
ticks=$(awk '{print $14 + $15}' "/proc/$BERTHD_PID/stat")
check "berthd is idle, not spinning (${ticks} CPU ticks)" test "$ticks" -lt 100
# berthd holds a pidfd per machine: started with a service's default soft limit of 1024 fds it
# must raise its own, or registration (and every path that opens a file) stops near 1,000.
N=1100
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt $((N + 200)) ]; then
	skip "more machines than a soft fd limit of 1024" "hard fd limit $(ulimit -Hn) is below $((N + 200))"
else
	kill -9 "$BERTHD_PID"; wait "$BERTHD_PID" 2>/dev/null
	nofile=$(ulimit -Sn)
	ulimit -Sn 1024
	start_berthd
	ulimit -Sn "$nofile"
	many=()
	for _ in $(seq $N); do sleep 1000 & many+=($!); done
	PIDS+=("${many[@]}")
	out=$(printf '%s\n' "${many[@]}" | python3 -c '
import sys
sys.path.insert(0, sys.argv[1] + "/lib")
import rawbus
c, ok = rawbus.Conn(sys.argv[2]), 0
for i, pid in enumerate(sys.stdin.read().split()):
    r = c.call(rawbus.DEST, rawbus.MGR, rawbus.IFACE, "RegisterMachine", sig="sayssus",
               values=("%s-many-%d" % (sys.argv[3], i), b"", "", "container", int(pid), ""))
    if r != "reply":
        print("call", i, r)
        break
    ok += 1
print("registered", ok)' "$TESTS_SRC" "$SCRATCH/bus" "$P" 2>&1)
	check_eq "$(tail -n 1 <<<"$out")" "registered $N" "RegisterMachine of $N machines, started with a soft fd limit of 1024"
	check_eq "$(call ListMachines | grep -o "'$P-many-[0-9]*'" | wc -l)" "$N" "ListMachines lists all $N"
	sleep 1000 & L7=$!; PIDS+=($L7)
	check "CreateMachine still makes a scope and a state file" \
		eval "call CreateMachine '$P-last' '@ay []' '' container 'uint32 $L7' '' '@a(sv) []' | grep -q objectpath &&
		      in_scope $L7 $P-last && test -e '$RT/machines/$P-last'"
	kill -9 "${many[@]}" "$L7"
	check "all of them leave when their leaders die" \
		wait_for 10 eval "! call ListMachines | grep -q \"'$P-\" && ! ls '$RT/machines' | grep -q '^$P-' &&
		                  test ! -d '$CGROOT/machine.slice/machine-$P-last.scope'"
fi
kill -TERM "$BERTHD_PID"; wait "$BERTHD_PID"; rc=$?
check_eq "$rc" 0 "berthd exits cleanly on SIGTERM"
BERTHD_PID=
kill_pids; PIDS=()
rmdir "$CGROOT/berthd-test-$$.scope"
wait_for 3 rmdir "$DCG" 2>/dev/null
[ $SLICE_EXISTED = 1 ] || rmdir "$CGROOT/machine.slice" 2>/dev/null
leak_check
[ "$_tap_failed" = 0 ] || sed 's/^/# berthd: /' "$SCRATCH/berthd.log" >&2
tap_done
