#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berthctl's action verbs against the real berthd on a host without systemd (private bus,
# cgroupfs backend) and real busybox containers: start, poweroff, reboot, terminate, kill, exec
# (exit status, separate stdout and stderr), shell through a pty (answers, window size, ^]^]^]),
# copy-to/copy-from, bind, set-property into the cgroup, an unprivileged caller refused by
# polkit (exit 4), and enable/disable refusing where no systemd could boot anything.
. "$(dirname "$0")/../lib/libtest.sh"
. "$(dirname "$0")/../lib/berthd.sh"
BERTHCTL=${BERTHCTL:-${BUILD_ROOT:-}/src/ctl/berthctl}
[ -x "$BERTHCTL" ] || { echo "1..0 # SKIP berthctl not built (set BERTHCTL)"; exit 0; }
leak_begin
berthd_setup
PY=/usr/bin/python3
[ -x $PY ] || { echo "1..0 # SKIP python3 is not installed (the pty driver)"; exit 0; }

export BERTH_LOG_DIR=$SCRATCH/log BERTH_STATE_DIR=$SCRATCH/state
check "berthd starts" start_berthd
bc() { DBUS_SYSTEM_BUS_ADDRESS=$BUS "$BERTHCTL" "$@"; }
booted() { grep -c 'booted as' "$1" 2>/dev/null; }
boots() { [ "$(booted "$1")" = "$2" ]; }
leader_of() { prop "$1" Leader | cut -d' ' -f2; }

# A booted busybox whose init keeps one long sleep instead of a shell on the console.
T=$SCRATCH/tree
mk_busybox_tree "$T"
cat >"$T/etc/inittab" <<'EOF'
::sysinit:/etc/init.d/rcS
::once:/bin/sleep 100000
::shutdown:/bin/echo berth-busybox: shutting down
EOF
# boot NAME: a berth-spawn machine on its own copy of the tree, registered by itself.
boot() {
	rm -rf "$SCRATCH/t-$1"
	cp -a "$T" "$SCRATCH/t-$1"
	bg_spawn "$1" -D "$SCRATCH/t-$1" -M "$1" -b --console=pipe </dev/null
	wait_for 15 listed "$1" && wait_for 10 boots "$SCRATCH/$1.out" 1
}

# ---- exec ----
A=$P-a
check "a booted machine registers" boot "$A"
bc exec "$A" true; check_eq "$?" 0 "exec true: 0"
bc exec "$A" sh -c 'exit 7'; check_eq "$?" 7 "exec sh -c 'exit 7': 7 (options after NAME are the command's)"
bc exec "$A" -- sh -c 'kill -TERM $$'; check_eq "$?" 143 "exec of a command killed by SIGTERM: 128+15"
bc exec "$A" sh -c 'echo to-out; echo to-err >&2' >"$SCRATCH/o" 2>"$SCRATCH/e"
check_eq "$(cat "$SCRATCH/o")|$(cat "$SCRATCH/e")" "to-out|to-err" "exec keeps stdout and stderr apart"
check_eq "$(echo piped | bc exec "$A" cat)" piped "exec reads our stdin"
check_eq "$(bc exec -E FOO=bar "$A" sh -c 'echo $FOO $(hostname)')" "bar $A" "exec -E sets the environment, inside the machine"
check_eq "$(bc exec --uid=nobody "$A" id -u)" 65534 "exec --uid runs as that user of the machine"
bc exec "$P-none" true 2>"$SCRATCH/e"; rc=$?
check_eq "$rc" 3 "exec in an unknown machine: exit 3 ($(cat "$SCRATCH/e"))"
bc exec "$A" no-such-program 2>"$SCRATCH/e"; rc=$?
check "exec of a missing program fails with a message ($(cat "$SCRATCH/e"))" \
	eval "[ $rc = 1 ] && grep -q \"no program 'no-such-program'\" '$SCRATCH/e'"
bc exec --uid=ghost "$A" true 2>"$SCRATCH/e"; rc=$?
check "exec as a user the machine does not know fails ($(cat "$SCRATCH/e"))" \
	eval "[ $rc = 1 ] && grep -q \"no user 'ghost'\" '$SCRATCH/e'"
# Not a terminal: our stdin's end is the shell's end of input.
check_eq "$(printf 'echo piped-$((6*7))\n' | timeout 20 env DBUS_SYSTEM_BUS_ADDRESS=$BUS "$BERTHCTL" -q shell "$A" | tr -d '\r' | grep -x 'piped-42')" piped-42 \
	"shell with stdin from a pipe runs it and ends"

# ---- shell through a pty ----
cat >"$SCRATCH/pty.py" <<'PY'
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs "berthctl shell NAME" on a fresh pty as a person would, and types into it.
import fcntl, os, re, select, struct, sys, termios, time
berthctl, name, mode = sys.argv[1:4]
master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
pid = os.fork()
if pid == 0:
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.execv(berthctl, [berthctl, "login" if mode == "login" else "shell", name])
out = b""
def until(pattern, timeout=10):
    global out
    end = time.time() + timeout
    while not re.search(pattern, out) and time.time() < end:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                out += os.read(master, 4096)
            except OSError:
                break
    return bool(re.search(pattern, out))
def say(what, ok):
    print(what, "yes" if ok else "no", flush=True)
say("connected", until(rb"Press \^\] three times"))
time.sleep(0.3)
if mode == "login":
    say("prompt", until(rb"login: "))
else:
    os.write(master, b"echo $((6*7))\n")
    say("answer", until(rb"\n42\r\n"))
    os.write(master, b"stty size\n")
    say("size", until(rb"\n33 101\r\n"))
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    time.sleep(0.3)
    os.write(master, b"stty size\n")
    say("resized", until(rb"\n40 120\r\n"))
os.write(master, b"exit\n" if mode == "exit" else b"\x1d\x1d\x1d")
end = time.time() + 10
status = None
while status is None and time.time() < end:
    until(rb"\Zx", 0.1)
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = os.waitstatus_to_exitcode(st)
say("ended", status == 0)
say("goodbye", b"Connection to machine" in out)
say("cooked", bool(termios.tcgetattr(slave)[3] & termios.ICANON))
if status is None:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
sys.stderr.write(repr(out[-600:]) + "\n")
PY
out=$(DBUS_SYSTEM_BUS_ADDRESS=$BUS $PY "$SCRATCH/pty.py" "$BERTHCTL" "$A" exit 2>"$SCRATCH/pty.err")
for w in connected answer size resized ended goodbye cooked; do
	grep -qx "$w yes" <<<"$out" || { diag "$out" "$(cat "$SCRATCH/pty.err")"; break; }
done
check "shell: connects on a pty" grep -qx "connected yes" <<<"$out"
check "shell: \$((6*7)) answers 42" grep -qx "answer yes" <<<"$out"
check "shell: the machine's pty has our window size" grep -qx "size yes" <<<"$out"
check "shell: and follows it when it changes (SIGWINCH)" grep -qx "resized yes" <<<"$out"
check "shell: 'exit' ends berthctl with 0" grep -qx "ended yes" <<<"$out"
check "shell: it says the connection ended" grep -qx "goodbye yes" <<<"$out"
check "shell: our terminal is back in cooked mode" grep -qx "cooked yes" <<<"$out"
out=$(DBUS_SYSTEM_BUS_ADDRESS=$BUS $PY "$SCRATCH/pty.py" "$BERTHCTL" "$A" escape 2>"$SCRATCH/pty.err")
check "shell: ^]^]^] leaves the session" eval "grep -qx 'ended yes' <<<'$out' && grep -qx 'cooked yes' <<<'$out'"
out=$(DBUS_SYSTEM_BUS_ADDRESS=$BUS $PY "$SCRATCH/pty.py" "$BERTHCTL" "$A" login 2>"$SCRATCH/pty.err")
check "login: a login prompt, left with ^]^]^]" \
	eval "grep -qx 'prompt yes' <<<'$out' && grep -qx 'ended yes' <<<'$out' && grep -qx 'cooked yes' <<<'$out'"

# ---- copy-to, copy-from ----
echo first >"$SCRATCH/f.txt"
check_eq "$(bc copy-to "$A" "$SCRATCH/f.txt" /root/f.txt; echo $?)" 0 "copy-to"
check_eq "$(bc exec "$A" cat /root/f.txt)" first "the file is in the machine"
echo second >"$SCRATCH/f.txt"
bc copy-to "$A" "$SCRATCH/f.txt" /root/f.txt 2>"$SCRATCH/e"; rc=$?
check "copy-to onto an existing file fails, pointing at --force ($(cat "$SCRATCH/e"))" \
	eval "[ $rc = 1 ] && grep -q -- --force '$SCRATCH/e'"
check_eq "$(bc exec "$A" cat /root/f.txt)" first "and leaves it alone"
check_eq "$(bc copy-to --force "$A" "$SCRATCH/f.txt" /root/f.txt; echo $?)" 0 "copy-to --force"
check_eq "$(bc exec "$A" cat /root/f.txt)" second "replaces it"
mkdir "$SCRATCH/back"
check_eq "$(cd "$SCRATCH/back" && bc copy-from "$A" /root/f.txt got.txt; echo $?)" 0 "copy-from to a relative path"
check_eq "$(cat "$SCRATCH/back/got.txt" 2>&1)" second "the round trip keeps the contents"
bc exec "$A" sh -c 'echo third >/root/f.txt'
bc copy-from "$A" /root/f.txt "$SCRATCH/back/got.txt" 2>/dev/null
check_eq "$?:$(cat "$SCRATCH/back/got.txt")" "1:second" "copy-from onto an existing file fails and leaves it"
bc copy-from --force "$A" /root/f.txt "$SCRATCH/back/got.txt"
check_eq "$?:$(cat "$SCRATCH/back/got.txt")" "0:third" "copy-from --force replaces it"

# ---- bind ----
mkdir -p "$SCRATCH/shared"
echo marker >"$SCRATCH/shared/m"
check_eq "$(bc bind --mkdir "$A" "$SCRATCH/shared" /srv/shared; echo $?)" 0 "bind --mkdir"
check_eq "$(bc exec "$A" cat /srv/shared/m)" marker "the host directory shows inside"
bc exec "$A" sh -c 'echo from-inside >/srv/shared/n'
check_eq "$(cat "$SCRATCH/shared/n" 2>&1)" from-inside "and is the same directory"
bc bind --read-only --mkdir "$A" "$SCRATCH/shared" /srv/ro
bc exec "$A" sh -c 'echo x >/srv/ro/y' 2>/dev/null
check "bind --read-only: writes inside fail" eval "[ $? != 0 ] && [ ! -e '$SCRATCH/shared/y' ]"
bc bind "$A" "$SCRATCH/no-such-dir" /srv/x 2>/dev/null
check_eq "$?" 1 "bind of a missing host path fails"

# ---- set-property ----
ctl_dir() {
	local ctl=$1 name=$2 base
	if grep -qw "$ctl" "$CGROOT/cgroup.controllers"; then
		echo "$CGROOT/machine.slice/machine-$name.scope"
	else
		base=$(awk -F: -v c="$ctl" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' \
			"/proc/$BERTHD_PID/cgroup")
		echo "/sys/fs/cgroup/$ctl${base%/}/machine.slice/machine-$name.scope"
	fi
}
v1_leftovers() { for c in memory cpu pids cpuset blkio; do find "/sys/fs/cgroup/$c" -type d -name "machine-$P-*.scope" 2>/dev/null; done; }
on_cleanup 'for d in $(v1_leftovers); do for p in $(cat "$d/cgroup.procs" 2>/dev/null); do echo $p >"${d%/machine.slice/*}/cgroup.procs"; done; rmdir "$d"; rmdir "${d%/*}" 2>/dev/null; done; true'
check_eq "$(bc set-property "$A" MemoryMax=512M; echo $?)" 0 "set-property MemoryMax=512M"
MEM=$(ctl_dir memory "$A")
if [ -e "$MEM/memory.max" ]; then memf=memory.max; else memf=memory.limit_in_bytes; fi
check_eq "$(cat "$MEM/$memf" 2>&1)" 536870912 "it shows in $memf"
check "and is kept for the next start" grep -qx 'MemoryMax=536870912' "$BERTH_STATE_DIR/properties/$A"
check_eq "$(bc set-property --runtime "$A" CPUQuota=50% TasksMax=200 AllowedCPUs=0; echo $?)" 0 \
	"set-property --runtime CPUQuota=50% TasksMax=200 AllowedCPUs=0"
CPU=$(ctl_dir cpu "$A"); PIDS_DIR=$(ctl_dir pids "$A")
if [ -e "$CPU/cpu.max" ]; then q=$(cat "$CPU/cpu.max"); else q="$(cat "$CPU/cpu.cfs_quota_us") $(cat "$CPU/cpu.cfs_period_us")"; fi
check_eq "$q|$(cat "$PIDS_DIR/pids.max")" "50000 100000|200" "the CPU quota and the task limit reach the cgroup"
check "--runtime ones are not saved" eval "! grep -q TasksMax '$BERTH_STATE_DIR/properties/$A'"
bc set-property "$A" Bogus=1 2>"$SCRATCH/e"
check_eq "$?" 2 "an unknown property is a usage error ($(cat "$SCRATCH/e"))"
bc set-property "$A" MemoryMax=lots 2>"$SCRATCH/e"
check_eq "$?" 2 "a value berthd refuses is a usage error ($(cat "$SCRATCH/e"))"

# ---- an unprivileged caller ----
runuser -u nobody -- env DBUS_SYSTEM_BUS_ADDRESS=$BUS "$BERTHCTL" terminate "$A" 2>"$SCRATCH/e"; rc=$?
check_eq "$rc" 4 "terminate as nobody: exit 4"
check "with a message naming polkit ($(cat "$SCRATCH/e"))" grep -q polkit "$SCRATCH/e"
check "and the machine still runs" listed "$A"

# ---- kill, terminate ----
L=$(leader_of "$A")
check_eq "$(bc kill --kill-whom=leader -s SIGUSR2 "$A"; echo $?)" 0 "kill --kill-whom=leader -s SIGUSR2"
check "busybox init powers off on it" wait_for 10 grep -q 'shutting down' "$SCRATCH/$A.out"
check "the machine leaves the registry" wait_for 10 gone "$A"
bc kill --kill-whom=nobody "$A" 2>/dev/null
check_eq "$?" 2 "kill --kill-whom=nobody is a usage error"

B=$P-b
boot "$B"
L=$(leader_of "$B")
check_eq "$(bc terminate "$B"; echo $?)" 0 "terminate"
check "the machine is gone from the registry" wait_for 10 gone "$B"
check "its processes are gone" wait_for 10 dead "$L"
bc terminate "$B" 2>/dev/null
check_eq "$?" 3 "terminate of a machine that is not there: exit 3"

# Several names: the calls go out together, the complaints come in the order of the names, the
# exit status is the first failure's, and the names that exist are stopped all the same.
D1=$P-d1 D2=$P-d2
boot "$D1"
boot "$D2"
bc terminate "$D1" "$P-ghost" "bad/name" "$D2" 2>"$SCRATCH/e"; rc=$?
check_eq "$rc" 3 "terminate of two machines, an unknown and an invalid name: exit 3, the first failure's"
check_eq "$(sed 's/:.*//' "$SCRATCH/e")" "$(printf 'Failed to terminate machine %s\nInvalid machine name '"'"'bad/name'"'"'.' "$P-ghost")" \
	"... one complaint for each, in the order of the names ($(tr '\n' '|' <"$SCRATCH/e"))"
check "... and both machines are gone" wait_for 10 eval 'gone "$D1" && gone "$D2"'

# ---- poweroff, reboot ----
C=$P-c
boot "$C"
check_eq "$(bc reboot "$C"; echo $?)" 0 "reboot"
check "the machine boots a second time" wait_for 15 boots "$SCRATCH/$C.out" 2
check "and is registered again" wait_for 10 listed "$C"
check_eq "$(bc poweroff "$C"; echo $?)" 0 "poweroff"
check "init shuts down" wait_for 10 grep -q 'shutting down' "$SCRATCH/$C.out"
check "the machine leaves the registry" wait_for 10 gone "$C"

# ---- start: an image in the pool ----
X=$P-x
IMG=/var/lib/machines/$X
mkdir -p /var/lib/machines
cp -a "$T" "$IMG"
on_cleanup "rm -rf '$IMG'"
check_eq "$(bc start "$X"; echo $?)" 0 "start an image of the pool"
check "it is running and registered" listed "$X"
check_eq "$(bc exec "$X" cat /proc/1/comm)" init "its init runs"
bc poweroff "$X"
check "poweroff stops it for good" wait_for 20 gone "$X"
bc start "$P-noimage" 2>"$SCRATCH/e"; rc=$?
check "start of a missing image fails, naming the log ($(cat "$SCRATCH/e"))" \
	eval "[ $rc = 1 ] && grep -q '$BERTH_LOG_DIR/$P-noimage.log' '$SCRATCH/e'"

# ---- enable, disable: no systemd here ----
bc enable "$X" 2>"$SCRATCH/e"; rc=$?
check "enable without systemd: exit 1 ($(cat "$SCRATCH/e"))" eval "[ $rc = 1 ] && grep -q systemd '$SCRATCH/e'"
bc disable --now "$X" 2>"$SCRATCH/e"; rc=$?
check "disable without systemd: exit 1 ($(cat "$SCRATCH/e"))" eval "[ $rc = 1 ] && grep -q systemd '$SCRATCH/e'"
bc enable "bad/name" 2>/dev/null
check_eq "$?" 2 "enable of an invalid name is a usage error"

berthd_teardown
rm -rf "$IMG"
wait_for 5 test -z "$(v1_leftovers)"
leak_check
[ "$_tap_failed" = 0 ] || sed 's/^/# berthd: /' "$SCRATCH/berthd.log" >&2
tap_done
