#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berthd runs things inside a machine: ExecInMachine (exit status, signals, separate stdout and
# stderr, users of the machine, bad input, polkit, the operation limit, a caller that leaves),
# OpenMachineShell, OpenMachinePTY and OpenMachineLogin, on a busybox container without D-Bus.
. "$(dirname "$0")/../lib/libtest.sh"
. "$(dirname "$0")/../lib/berthd.sh"
leak_begin
berthd_setup
PY=/usr/bin/python3 # the system python: python3-dbus lives there, not in a pyenv
[ -x $PY ] && (cd / && $PY -c 'import dbus') 2>/dev/null ||
	{ echo "1..0 # SKIP python3-dbus is not installed"; exit 0; }

# fds travel in the messages: gdbus and busctl cannot pass them, python's dbus module can.
cat >"$SCRATCH/client.py" <<'PY'
# SPDX-License-Identifier: LGPL-2.1-or-later
# A D-Bus client for test-berthd-exec.sh that passes fds: ExecInMachine and the pty methods.
# Usage: berthd-exec-client.py VERB JSON; prints "ok ..." or "error NAME MESSAGE".
import json, os, select, sys, time
import dbus

def read_until(fd, want, timeout):
    out, end = b"", time.time() + timeout
    while want.encode() not in out and time.time() < end:
        r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
        if not r:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    return out.decode(errors="replace")

def main():
    verb, a = sys.argv[1], json.loads(sys.argv[2])
    bus = dbus.bus.BusConnection(os.environ["BUS"])
    mgr = dbus.Interface(bus.get_object("org.berth.machine1", "/org/berth/machine1"),
                         "org.berth.machine1.Manager")
    t = a.get("timeout", 60)
    try:
        if verb == "mexec":
            path = mgr.GetMachine(a["name"])
            m = dbus.Interface(bus.get_object("org.berth.machine1", path), "org.berth.machine1.Machine")
            fds = [dbus.types.UnixFd(os.open("/dev/null", os.O_RDWR)) for _ in range(3)]
            st, sig = m.Exec("", a["argv"], [], "", *fds, timeout=t)
            print("ok", int(st), int(sig))
        elif verb == "exec":
            fds = [os.open(a.get("in", "/dev/null"), os.O_RDONLY)]
            for k in ("out", "err"):
                fds.append(os.open(a.get(k, "/dev/null"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
            env = a.get("env", [])
            if "env_many" in a:
                env = ["A%d=b" % i for i in range(a["env_many"])]
            st, sig = mgr.ExecInMachine(a["name"], a.get("user", ""), a["argv"], env, a.get("cwd", ""),
                                        *[dbus.types.UnixFd(f) for f in fds], timeout=t)
            print("ok", int(st), int(sig))
        elif verb in ("shell", "login", "pty"):
            if verb == "shell":
                fd, path = mgr.OpenMachineShell(a["name"], a.get("user", ""), a.get("path", ""),
                                                a.get("args", []), a.get("env", []), timeout=t)
            elif verb == "login":
                fd, path = mgr.OpenMachineLogin(a["name"], timeout=t)
            else:
                fd, path = mgr.OpenMachinePTY(a["name"], timeout=t)
            master = fd.take()
            print("path", path)
            if "input" in a:
                time.sleep(0.3)
                os.write(master, a["input"].encode())
            if "expect" in a:
                print("output", json.dumps(read_until(master, a["expect"], 10)))
            if "check_exec" in a:
                st, sig = mgr.ExecInMachine(a["name"], "", ["test", "-c", str(path)], [], "",
                                            *[dbus.types.UnixFd(os.open("/dev/null", os.O_RDWR)) for _ in range(3)])
                print("exec", int(st), int(sig))
            os.close(master)
            print("ok")
    except dbus.exceptions.DBusException as e:
        print("error", e.get_dbus_name(), e.get_dbus_message().replace("\n", " "))

main()
PY
chmod 644 "$SCRATCH/client.py"
client() { BUS=$BUS $PY "$SCRATCH/client.py" "$@" 2>&1; }
# exec NAME JSON-FRAGMENT: the argv etc. as JSON members, e.g. '"argv": ["true"]'
ex() { client exec "{\"name\": \"$1\", $2}"; }
errname() { sed -n 's/^error \([^ ]*\).*/\1/p'; }

# A busybox machine whose init is busybox init, with a user only it knows and no shell on the
# console; registered by hand (berth-spawn's own registration is not what is tested here).
T=$SCRATCH/tree
mk_busybox_tree "$T"
printf '::sysinit:/etc/init.d/rcS\n::once:/bin/sleep 100000\n' >"$T/etc/inittab"
echo 'inside:x:4321:4322:only in the machine:/home/inside:/bin/sh' >>"$T/etc/passwd"
echo 'extra:x:4323:inside' >>"$T/etc/group"
mkdir -p "$T/home/inside" "$T/srv/work"
chown 4321:4322 "$T/home/inside"
id inside >/dev/null 2>&1 && { echo "1..0 # SKIP the host has a user 'inside'"; exit 0; }
# What the machine's own processes get, for the seccomp checks: its boot runs the probe, and a
# script that shells opened by berthd run on themselves ($1: the shell's PID).
cat >"$T/etc/init.d/rc.test" <<'RC'
#!/bin/sh
/usr/bin/probe keyring >/run/own-keyring 2>&1
grep ^Seccomp /proc/self/status >/run/own-seccomp
RC
cat >"$T/usr/bin/sccheck" <<'SC'
#!/bin/sh
v=$(probe keyring | grep -E '^(BLOCKED|OPEN|ERROR) keyring')
s=$(awk '/^Seccomp:/ {m = $2} /^Seccomp_filters:/ {n = $2} END {print m "/" n}' /proc/$1/status)
echo "R=${v%% *}-$s-END"
SC
chmod 755 "$T/etc/init.d/rc.test" "$T/usr/bin/sccheck"

export BERTH_MAX_OPERATIONS=3
check "berthd starts" start_berthd
M=$P-c
"$BERTH_SPAWN" -D "$T" -M "$M" --register=no --console=pipe -b </dev/null >"$SCRATCH/console" 2>&1 &
SPAWN=$!; PIDS+=($SPAWN)
wait_for 10 eval "test -n \"\$(cat /proc/$SPAWN/task/*/children 2>/dev/null)\"" &&
	wait_for 10 grep -q booted "$SCRATCH/console"
LEADER=$(cat /proc/$SPAWN/task/*/children | awk '{print $1}')
out=$(call RegisterMachine "$M" "@ay []" "" container "uint32 $LEADER" "$T")
check "the container is registered" grep -q objectpath <<<"$out"

O=$SCRATCH/out E=$SCRATCH/err
check_eq "$(ex "$M" '"argv": ["true"]')" "ok 0 0" "exit 0"
check_eq "$(ex "$M" '"argv": ["/bin/sh", "-c", "exit 3"]')" "ok 3 0" "exit 3"
check_eq "$(ex "$M" '"argv": ["sh", "-c", "kill -TERM $$"]')" "ok -1 15" "death by SIGTERM is (-1, 15)"
ex "$M" "\"argv\": [\"sh\", \"-c\", \"echo to-out; echo to-err >&2\"], \"out\": \"$O\", \"err\": \"$E\"" >/dev/null
check "stdout and stderr stay apart" eval "[ \"\$(cat $O)\" = to-out ] && [ \"\$(cat $E)\" = to-err ]"
ex "$M" "\"argv\": [\"sh\", \"-c\", \"hostname; cat /proc/1/comm; echo \$container; touch /marker-$P\"], \"out\": \"$O\"" >/dev/null
check_eq "$(sed -n 1p "$O")" "$M" "the command sees the machine's hostname"
check_eq "$(sed -n 2p "$O")" "init" "and the machine's PID 1"
check_eq "$(sed -n 3p "$O")" "berth" "with container=berth"
# berthd raises its own soft fd limit (a pidfd per machine); what it runs gets select()'s 1024 back.
ex "$M" "\"argv\": [\"sh\", \"-c\", \"ulimit -Sn\"], \"out\": \"$O\"" >/dev/null
check_eq "$(awk '/^Max open files/ {print $4}' "/proc/$BERTHD_PID/limits"):$(cat "$O")" "$(ulimit -Hn):1024" \
	"berthd's soft fd limit is raised, the command's is 1024"
check "a file it writes appears in the tree, not on the host" eval "test -e $T/marker-$P && test ! -e /marker-$P"
echo hello-stdin >"$SCRATCH/in"
check_eq "$(ex "$M" "\"argv\": [\"sh\", \"-c\", \"read x; test \$x = hello-stdin\"], \"in\": \"$SCRATCH/in\"")" "ok 0 0" "stdin is the caller's"
ex "$M" "\"user\": \"inside\", \"argv\": [\"sh\", \"-c\", \"id -u; id -g; id -G; echo \$HOME \$USER; pwd\"], \"out\": \"$O\"" >/dev/null
check_eq "$(tr '\n' ' ' <"$O")" "4321 4322 4322 4323 /home/inside inside / " "a user only the machine knows: uid, gid, groups, env"
ex "$M" "\"user\": \"inside\", \"argv\": [\"sh\", \"-c\", \"grep CapEff /proc/self/status\"], \"out\": \"$O\"" >/dev/null
check_eq "$(awk '{print $2}' "$O")" "0000000000000000" "a non-root user has no capabilities"
check_eq "$(ex "$M" '"user": "daemon", "argv": ["true"]' | errname)" org.berth.machine1.NoSuchUser "a host-only user is unknown inside"
ex "$M" "\"argv\": [\"pwd\"], \"cwd\": \"/srv/work\", \"out\": \"$O\"" >/dev/null
check_eq "$(cat "$O")" /srv/work "cwd is honoured"
check_eq "$(ex "$M" '"argv": ["true"], "cwd": "/nonexistent"' | errname)" org.freedesktop.DBus.Error.FileNotFound "a missing cwd is an error"
check_eq "$(ex "$M" '"argv": ["no-such-program"]' | errname)" org.berth.machine1.NoSuchCommand "an unknown program"
ex "$M" "\"argv\": [\"env\"], \"env\": [\"FOO=bar baz\", \"TERM=xterm\"], \"out\": \"$O\"" >/dev/null
check "the caller's environment is passed" eval "grep -qx 'FOO=bar baz' $O && grep -qx TERM=xterm $O && ! grep -q BERTH_MAX $O"
check_eq "$(client mexec "{\"name\": \"$M\", \"argv\": [\"sh\", \"-c\", \"exit 7\"]}")" "ok 7 0" "Exec on the Machine object"
check_eq "$(ex "$P-none" '"argv": ["true"]' | errname)" org.berth.machine1.NoSuchMachine "unknown machine"

# B16: refused before polkit (an unprivileged caller gets InvalidArgs, not AccessDenied).
IA=org.freedesktop.DBus.Error.InvalidArgs
asnobody_ex() { runuser -u nobody -- env BUS="$BUS" $PY "$SCRATCH/client.py" exec "{\"name\": \"$M\", $1}" 2>&1 | errname; }
bad=0
for a in '"argv": ["bin/sh"]' '"argv": []' '"user": "root;id", "argv": ["true"]' '"user": "$(id)", "argv": ["true"]' \
	'"user": "-x", "argv": ["true"]' "\"user\": \"$(printf 'a%.0s' $(seq 300))\", \"argv\": [\"true\"]" \
	'"argv": ["true"], "env": ["FOO"]' '"argv": ["true"], "env": ["=x"]' '"argv": ["true"], "env": ["A=b\nc"]' \
	'"argv": ["true"], "env_many": 100000' '"argv": ["true"], "cwd": "rel"'; do
	e=$(asnobody_ex "$a")
	[ "$e" = $IA ] || { diag "$a: '$e'"; bad=1; }
done
check "B16 bad arguments are InvalidArgs before polkit" test $bad = 0
e=$(runuser -u nobody -- env BUS="$BUS" $PY "$SCRATCH/client.py" shell "{\"name\": \"$M\", \"path\": \"bin/sh\"}" | errname)
check_eq "$e" $IA "OpenMachineShell with path bin/sh"
e=$(asnobody_ex '"argv": ["true"]')
check "an unprivileged caller is refused by polkit" eval "[ '$e' = org.freedesktop.DBus.Error.AccessDenied ] || [ '$e' = org.freedesktop.DBus.Error.InteractiveAuthorizationRequired ]"
e=$(runuser -u nobody -- env BUS="$BUS" $PY "$SCRATCH/client.py" shell '{"name": ".host"}' | errname)
check "and for a host shell too" eval "[ '$e' = org.freedesktop.DBus.Error.AccessDenied ] || [ '$e' = org.freedesktop.DBus.Error.InteractiveAuthorizationRequired ]"

# berthd keeps answering while a command runs, and the operation limit holds.
ex "$M" '"argv": ["sleep", "2"]' >"$SCRATCH/slow" & C=$!
sleep 0.5
t0=$(date +%s%N); l=$(list); t1=$(date +%s%N)
check "ListMachines answers while a command runs ($(( (t1 - t0) / 1000000 )) ms)" \
	eval "grep -q '^$M ' <<<'$l' && [ $(( (t1 - t0) / 1000000 )) -lt 1000 ]"
wait $C
check_eq "$(cat "$SCRATCH/slow")" "ok 0 0" "and the command completes"
F=()
for i in 1 2 3 4 5 6; do ex "$M" '"argv": ["sleep", "2"]' >"$SCRATCH/flood.$i" & F+=($!); done
wait "${F[@]}"
check_eq "$(cat "$SCRATCH"/flood.* | sort | uniq -c | awk '{print $1, $2, $3}' | tr '\n' ' ')" \
	"3 error org.berth.machine1.TooManyOperations 3 ok 0 " "beyond 3 operations: TooManyOperations, the others complete"

# A caller that leaves: its command is killed, and its operation slot freed.
# (python itself, not a subshell around it: the connection must die)
BUS=$BUS $PY "$SCRATCH/client.py" exec "{\"name\": \"$M\", \"argv\": [\"sleep\", \"1001\"]}" >/dev/null & C=$!
check "the command runs" wait_for 5 eval 'pgrep -fx "sleep 1001" >/dev/null'
kill -9 $C; wait $C 2>/dev/null
check "it is killed when its caller disconnects" wait_for 5 eval '! pgrep -fx "sleep 1001" >/dev/null'
check_eq "$(ex "$M" '"argv": ["true"]')" "ok 0 0" "berthd still execs afterwards"

# Shell, PTY, login: the pty is the machine's own.
out=$(client shell "{\"name\": \"$M\", \"user\": \"inside\", \"input\": \"echo \$((6*7)) \$(id -u) \$(hostname); exit\\n\", \"expect\": \"42 4321 $M\"}")
check "OpenMachineShell: a shell inside as the user answers on the pty" grep -q "42 4321 $M" <<<"$out"
check "its pty lives in the machine's devpts" grep -q '^path /dev/pts/[0-9]*$' <<<"$out"
out=$(client shell "{\"name\": \"$M\", \"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"echo args-\$FOO\"], \"env\": [\"FOO=ok\"], \"expect\": \"args-ok\"}")
check "OpenMachineShell with a path, args and env" grep -q 'args-ok' <<<"$out"
out=$(client pty "{\"name\": \"$M\", \"check_exec\": true}")
check "OpenMachinePTY returns a pty whose path exists inside" grep -q '^exec 0 0$' <<<"$out"
out=$(client login "{\"name\": \"$M\", \"expect\": \"login:\"}")
check "OpenMachineLogin starts login on the pty" grep -q 'login:' <<<"$out"
out=$(client shell '{"name": ".host", "input": "cat /proc/1/comm; exit\n", "expect": "\n"}')
check "a host shell (root) runs on the host" grep -q '^path /dev/pts/' <<<"$out"

# The machine's syscall filter: what berthd starts inside runs under exactly the filters its
# leader runs under (read from it with ptrace), not unfiltered (probe A25), not a fixed one.
keyring_verdict() { grep -E '^(BLOCKED|OPEN|ERROR) keyring( |$)' "$@" | tail -n 1; }
seccomp_of() { awk '/^Seccomp:/ {m = $2} /^Seccomp_filters:/ {n = $2} END {print m "/" n}' "$1"; }
# PID is running, neither stopped nor traced.
untouched() {
	awk '/^State:/ {s = $2} /^TracerPid:/ {t = $2} END {exit !(s != "t" && s != "T" && s != "Z" && t == 0)}' \
		"/proc/$1/status"
}
L_SC=$(seccomp_of "/proc/$LEADER/status")
check "the leader runs under a seccomp filter ($L_SC)" eval "[[ '$L_SC' == 2/[1-9]* ]]"
wait_for 5 test -s "/proc/$LEADER/root/run/own-seccomp"
OWN=$(keyring_verdict "/proc/$LEADER/root/run/own-keyring")
check_eq "$(seccomp_of "/proc/$LEADER/root/run/own-seccomp")" "$L_SC" "the machine's own processes have its filters"
check "A25 keyring is BLOCKED for the machine's own processes" eval "[[ '$OWN' == BLOCKED* ]]"
for u in root inside; do
	ex "$M" "\"user\": \"${u/root/}\", \"argv\": [\"probe\", \"keyring\"], \"out\": \"$O\"" >/dev/null
	check_eq "$(keyring_verdict "$O")" "$OWN" "A25 ExecInMachine ($u): the keyring verdict is the machine's"
	ex "$M" "\"user\": \"${u/root/}\", \"argv\": [\"grep\", \"^Seccomp\", \"/proc/self/status\"], \"out\": \"$O\"" >/dev/null
	check_eq "$(seccomp_of "$O")" "$L_SC" "ExecInMachine ($u) runs under as many filters as the leader"
	out=$(client shell "{\"name\": \"$M\", \"user\": \"${u/root/}\", \"input\": \"sccheck \$\$; exit\\n\", \"expect\": \"-END\"}")
	check_eq "$(grep -o 'R=[A-Z]*-[0-9]*/[0-9]*-END' <<<"$out")" "R=BLOCKED-$L_SC-END" \
		"OpenMachineShell ($u): the shell has the leader's filters and A25 is BLOCKED"
done
out=$(client login "{\"name\": \"$M\", \"expect\": \"login:\"}")
check "OpenMachineLogin still starts login under the filter" grep -q 'login:' <<<"$out"
check "the leader still runs, not stopped and not traced" untouched "$LEADER"

# Another machine, in a user namespace, whose filter allows add_key again: the copy is that
# machine's filter.
T2=$SCRATCH/tree2
mk_busybox_tree "$T2"
printf '::sysinit:/etc/init.d/rcS\n::once:/bin/sleep 100000\n' >"$T2/etc/inittab"
cp -a "$T/etc/init.d/rc.test" "$T2/etc/init.d/"
echo 'inside:x:4321:4322::/:/bin/sh' >>"$T2/etc/passwd"
M2=$P-f
"$BERTH_SPAWN" -D "$T2" -M "$M2" --register=no --console=pipe -U --system-call-filter=add_key -b </dev/null \
	>"$SCRATCH/console2" 2>&1 &
SPAWN2=$!; PIDS+=($SPAWN2)
wait_for 10 eval "test -n \"\$(cat /proc/$SPAWN2/task/*/children 2>/dev/null)\"" &&
	wait_for 10 grep -q booted "$SCRATCH/console2"
LEADER2=$(cat /proc/$SPAWN2/task/*/children | awk '{print $1}')
call RegisterMachine "$M2" "@ay []" "" container "uint32 $LEADER2" "$T2" >/dev/null
wait_for 5 test -s "/proc/$LEADER2/root/run/own-seccomp"
OWN2=$(keyring_verdict "/proc/$LEADER2/root/run/own-keyring")
check "--system-call-filter=add_key: add_key is open to the machine's own processes" grep -q 'OPEN:add_key=' <<<"$OWN2"
check "the second machine has its own user namespace" \
	test "$(readlink /proc/$LEADER2/ns/user)" != "$(readlink /proc/self/ns/user)"
for u in root inside; do
	ex "$M2" "\"user\": \"${u/root/}\", \"argv\": [\"probe\", \"keyring\"], \"out\": \"$O\"" >/dev/null
	check_eq "$(keyring_verdict "$O")" "$OWN2" \
		"and to what ExecInMachine ($u) runs there (the machine's filter, not a fixed one)"
done
ex "$M2" "\"argv\": [\"grep\", \"^Seccomp\", \"/proc/self/status\"], \"out\": \"$O\"" >/dev/null
check_eq "$(seccomp_of "$O")" "$(seccomp_of "/proc/$LEADER2/status")" "with as many filters as its leader"

# Fail closed: a leader that cannot be read (someone else traces it) runs nothing.
cat >"$SCRATCH/tracer.py" <<'PY'
# SPDX-License-Identifier: LGPL-2.1-or-later
# Traces PID ($1) for $2 seconds without stopping it, passing on any signal it stops for.
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
pid = int(sys.argv[1])
if libc.ptrace(0x4206, pid, None, None) != 0:  # PTRACE_SEIZE
    sys.exit("seize failed")
print("seized", flush=True)
end = time.time() + float(sys.argv[2])
while time.time() < end:
    w, st = os.waitpid(pid, os.WNOHANG | 0x40000000)  # __WALL
    if w and os.WIFSTOPPED(st):
        libc.ptrace(7, pid, None, os.WSTOPSIG(st) if st >> 16 == 0 else 0)  # PTRACE_CONT
    time.sleep(0.01)
PY
$PY "$SCRATCH/tracer.py" "$LEADER2" 6 >"$SCRATCH/tracer.out" 2>&1 & TR=$!
wait_for 5 grep -q seized "$SCRATCH/tracer.out"
out=$(ex "$M2" "\"argv\": [\"touch\", \"/traced-$P\"]")
check "a leader traced by someone else: refused, with a clear error" grep -q "^error .*seccomp filter" <<<"$out"
check "and nothing ran" test ! -e "$T2/traced-$P"
wait $TR
check "afterwards the leader runs on, not stopped and not traced" untouched "$LEADER2"
check_eq "$(ex "$M2" '"argv": ["true"]')" "ok 0 0" "and exec works again"
kill "$SPAWN2" 2>/dev/null; wait_for 10 dead "$SPAWN2"

# berthd's exit takes running commands with it.
BUS=$BUS $PY "$SCRATCH/client.py" exec "{\"name\": \"$M\", \"argv\": [\"sleep\", \"1002\"]}" >/dev/null & C=$!
wait_for 5 pgrep -fx "sleep 1002" >/dev/null
kill -TERM "$BERTHD_PID"; wait "$BERTHD_PID" 2>/dev/null
check "berthd's exit kills the commands it runs" wait_for 5 eval '! pgrep -fx "sleep 1002" >/dev/null'
wait $C 2>/dev/null
BERTHD_PID=

kill "$SPAWN" 2>/dev/null; wait_for 10 dead "$SPAWN"
kill_pids; PIDS=()
wait_for 3 rmdir "$DCG" 2>/dev/null
[ $SLICE_EXISTED = 1 ] || rmdir "$CGROOT/machine.slice" 2>/dev/null
leak_check
[ "$_tap_failed" = 0 ] || sed 's/^/# berthd: /' "$SCRATCH/berthd.log" >&2
tap_done
