#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berthctl under a real systemd and polkitd (a testhost, berth installed into it): shell and login
# on a pty, bind, copy-to/copy-from, kill of the leader, reboot and terminate; then as an
# unprivileged user (nobody, no session): list and status work, terminate is refused with exit 4
# until a polkit rule allows it, and with an AUTH_ADMIN rule berthctl's pkttyagent asks for root's
# password on the terminal (and --no-ask-password fails without asking).
. "$(dirname "$0")/../lib/libtest.sh"
. "$TESTS_SRC/lib/testhost.sh"
. "$TESTS_SRC/lib/berthd.sh" # wait_for
need_root
testhost_need_build
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 is not installed (the pty driver)"; exit 0; }

leak_begin
mkscratch
name=bp$$
on_cleanup "testhost_stop $name"
POOL=$SCRATCH/pool
mkdir -p "$POOL"
for t in m1 m2 m3; do
	mk_busybox_tree "$POOL/$t"
	printf '::sysinit:/etc/init.d/rcS\n::once:/bin/sleep 100000\n' >"$POOL/$t/etc/inittab"
done

inside() { testhost_exec "$name" "$@"; }
bc() { inside berthctl --no-pager "$@"; }
# berthctl as nobody: no session, no agent unless a terminal is given (drive).
nb() { inside runuser -u nobody -- berthctl --no-pager "$@" </dev/null; }
uprop() { inside systemctl show -P "$2" "$1" 2>&1; }
svc() { printf 'berth-spawn@%s.service' "$1"; }
listed() { bc --no-legend list 2>/dev/null | grep -q "^$1 "; }
running() { [ "$(bc show -p State --value "$1" 2>/dev/null)" = running ]; }
unit_over() { case $(uprop "$(svc "$1")" ActiveState) in inactive|failed) true ;; *) false ;; esac; }
leader() { bc show -p Leader --value "$1" 2>/dev/null; }
# drive STEP... -- CMD...: see drive.py below; prints "exit N" (and "step N missed").
drive() { inside python3 /root/drive.py "$@" 2>"$SCRATCH/drive.err"; }
diag_drive() { sed 's/^/# /' "$SCRATCH/drive.err" >&2; }

testhost_up_with_build "$name" --bind "$POOL:/var/lib/machines"
inside sh -c 'cat >/root/drive.py' <<'PY'
# SPDX-License-Identifier: LGPL-2.1-or-later
# drive.py STEP... -- CMD...: runs CMD as the session leader of a fresh pty and talks to it as a
# person would: a STEP "?REGEX" waits (10 s) for REGEX in the output, "!TEXT" types TEXT (with
# \n, \x1d escapes). Prints "step N missed" for a wait that timed out, then "exit STATUS";
# the transcript's end goes to stderr.
import fcntl, os, re, select, sys, termios, time
i = sys.argv.index("--")
steps, cmd = sys.argv[1:i], sys.argv[i + 1:]
master, slave = os.openpty()
pid = os.fork()
if pid == 0:
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.execvp(cmd[0], cmd)
out = b""
def until(pattern, timeout):
    global out
    end = time.time() + timeout
    while not (pattern and re.search(pattern, out)) and time.time() < end:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                out += os.read(master, 4096)
            except OSError:
                break
    return bool(pattern and re.search(pattern, out))
for n, s in enumerate(steps):
    if s[0] == "?":
        if not until(s[1:].encode(), 10):
            print("step", n, "missed", flush=True)
            break
    else:
        time.sleep(0.3)
        os.write(master, s[1:].encode().decode("unicode_escape").encode("latin-1"))
status = None
end = time.time() + 15
while status is None and time.time() < end:
    until(None, 0.1)
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = os.waitstatus_to_exitcode(st)
if status is None:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
print("exit", status, flush=True)
sys.stderr.write(repr(out[-800:]) + "\n")
PY

# ---- shell, login ----
out=$(bc start m1 2>&1); rc=$?
check_eq "$rc" 0 "start m1 ($(echo $out))"
check "m1 is running" wait_for 20 running m1
out=$(drive '?Press \^\] three times' '!echo $((6*7)); exit\n' '?\n42\r\n' -- berthctl shell m1)
check_eq "$out" "exit 0" "shell on a pty: \$((6*7)) answers 42, exit ends it with 0" || diag_drive
out=$(drive '?login: ' '!\x1d\x1d\x1d' -- berthctl login m1)
check_eq "$out" "exit 0" "login: a login prompt, left with ^]^]^]" || diag_drive

# ---- bind ----
inside sh -c 'mkdir -p /srv/bsrc && echo bound >/srv/bsrc/f'
out=$(bc bind --read-only --mkdir m1 /srv/bsrc /mnt/new/b 2>&1); rc=$?
check_eq "$rc" 0 "bind --read-only --mkdir ($(echo $out))"
check_eq "$(bc exec m1 cat /mnt/new/b/f 2>&1)" bound "... the host's file is visible inside"
bc exec m1 sh -c 'echo x >/mnt/new/b/g' 2>/dev/null; rc=$?
check "... read-only (write: $rc)" eval "[ $rc != 0 ] && ! inside test -e /srv/bsrc/g"
inside sh -c 'echo later >/srv/bsrc/h'
check_eq "$(bc exec m1 cat /mnt/new/b/h 2>&1)" later "... a bind mount: later host writes show"

# ---- copy-to, copy-from ----
inside sh -c 'echo one >/root/c1; echo two >/root/c2'
check_eq "$(bc copy-to m1 /root/c1 /root/c.txt 2>&1; echo $?)" 0 "copy-to"
check_eq "$(bc exec m1 cat /root/c.txt 2>&1)" one "... the file is inside"
bc copy-to m1 /root/c2 /root/c.txt >/dev/null 2>&1; rc=$?
check "copy-to onto an existing file fails without --force ($rc)" eval "[ $rc != 0 ] && [ \"\$(bc exec m1 cat /root/c.txt)\" = one ]"
check_eq "$(bc copy-to --force m1 /root/c2 /root/c.txt 2>&1; echo $?)" 0 "copy-to --force"
check_eq "$(bc copy-from m1 /root/c.txt /root/back 2>&1; echo $?)" 0 "copy-from"
check_eq "$(inside cat /root/back 2>&1)" two "... round trip: the replaced content comes back"
bc copy-from m1 /root/c.txt /root/c1 >/dev/null 2>&1; rc=$?
check "copy-from onto an existing file fails without --force ($rc)" eval "[ $rc != 0 ] && [ \"\$(inside cat /root/c1)\" = one ]"
check_eq "$(bc copy-from --force m1 /root/c.txt /root/c1 >/dev/null 2>&1; echo $?)/$(inside cat /root/c1)" 0/two "copy-from --force"

# ---- kill --kill-whom=leader ----
L=$(leader m1)
SL=$(inside sh -c "pgrep -P $L -x sleep")
pstate() { inside sh -c "sed -n 's/^State:\t\(.\).*/\1/p' /proc/$1/status"; }
out=$(bc kill --kill-whom=leader -s SIGSTOP m1 2>&1); rc=$?
check_eq "$rc" 0 "kill --kill-whom=leader -s SIGSTOP ($(echo $out))"
check "... the leader stops" wait_for 5 eval '[ "$(pstate $L)" = T ]'
check_eq "$(pstate "$SL")" S "... its child, the sleep ($SL), does not"
bc kill --kill-whom=leader -s CONT m1
check "... -s CONT wakes it" wait_for 5 eval '[ "$(pstate $L)" != T ]'

# ---- reboot ----
U=$(svc m1)
MAIN=$(uprop "$U" MainPID)
out=$(bc reboot m1 2>&1); rc=$?
check_eq "$rc" 0 "reboot m1 ($(echo $out))"
newleader() { local l; l=$(leader m1); [ -n "$l" ] && [ "$l" != "$L" ] && running m1; }
check "m1 registers again with a new leader" wait_for 30 newleader
check_eq "$(bc exec m1 cat /proc/1/comm 2>&1)" init "... its init answers"
check_eq "$(uprop "$U" ActiveState)" active "... $U is active (supervisor $MAIN -> $(uprop "$U" MainPID))"

# ---- terminate ----
out=$(bc terminate m1 2>&1); rc=$?
check_eq "$rc" 0 "terminate m1 ($(echo $out))"
check "the unit stops" wait_for 20 unit_over m1
check "m1 leaves the list" wait_for 10 eval '! listed m1'

# ---- as nobody: polkit decides ----
bc start m2 >/dev/null 2>&1
check "m2 is running" wait_for 20 running m2
check "nobody: list shows m2" eval "nb --no-legend list 2>&1 | grep -q '^m2 '"
out=$(nb status m2 2>&1); rc=$?
check "nobody: status m2 works (rc $rc)" eval "[ $rc = 0 ] && echo \"\$out\" | grep -q 'Unit: $(svc m2)'"
out=$(nb terminate m2 2>&1); rc=$?
check_eq "$rc" 4 "nobody: terminate m2 is refused with exit 4"
check "... with one line naming polkit ($out)" eval "[ \$(echo \"\$out\" | wc -l) = 1 ] && echo \"\$out\" | grep -qi polkit"
sleep 1
check "... m2 keeps running" running m2
RULES=/etc/polkit-1/rules.d/10-berth-test.rules
inside sh -c "mkdir -p /etc/polkit-1/rules.d && cat >$RULES" <<'JS'
polkit.addRule(function(action, subject) {
	if (action.id == "org.berth.machine1.manage-machines" && subject.user == "nobody") {
		if (action.lookup("machine") == "m3")
			return polkit.Result.AUTH_ADMIN;
		return polkit.Result.YES;
	}
});
polkit.addAdminRule(function(action, subject) { return ["unix-user:0"]; });
JS
inside chmod 644 $RULES
# polkitd re-reads rules.d on change (inotify); poll until the rule is live.
nb_term() { out=$(nb terminate m2 2>&1); rc=$?; [ $rc = 0 ]; }
check "nobody: terminate m2 succeeds once a rule allows it" wait_for 15 nb_term
check "... m2 is gone" wait_for 20 eval '! listed m2 && unit_over m2'

# ---- as nobody: the polkit agent on a terminal ----
bc start m3 >/dev/null 2>&1
check "m3 is running" wait_for 20 running m3
out=$(nb --no-ask-password terminate m3 2>&1 </dev/null); rc=$?
check_eq "$rc" 4 "AUTH_ADMIN, --no-ask-password: exit 4 ($out)"
out=$(drive -- runuser -u nobody -- berthctl --no-ask-password terminate m3)
check_eq "$out" "exit 4" "... also on a terminal, where nothing asks for a password" || diag_drive
check "... m3 keeps running" running m3
echo 'root:berth-test-pw' | inside chpasswd
out=$(drive '?[Pp]assword: ' '!berth-test-pw\n' -- runuser -u nobody -- berthctl terminate m3)
check_eq "$out" "exit 0" "AUTH_ADMIN on a terminal: pkttyagent asks, root's password answers, exit 0" || diag_drive
check "... m3 is gone" wait_for 20 eval '! listed m3 && unit_over m3'

# ---- as nobody: an import through polkit keeps files but never device nodes ----
# Only root may put device nodes on the host's disk; anyone else whom polkit lets import gets
# the image without them (an archive's /dev/sda made by a user would be the host's disk).
inside sh -c 'rm -rf /tmp/devtree && mkdir -p /tmp/devtree/dev && echo hi >/tmp/devtree/file &&
	mknod /tmp/devtree/dev/mynull c 1 3 && mknod /tmp/devtree/dev/myblk b 7 200 &&
	tar -C /tmp/devtree -cf /tmp/devs.tar . && chmod 644 /tmp/devs.tar && rm -rf /tmp/devtree'
inside sh -c "cat >/etc/polkit-1/rules.d/11-berth-images.rules" <<'JS'
polkit.addRule(function(action, subject) {
	if (action.id == "org.berth.machine1.manage-images" && subject.user == "nobody")
		return polkit.Result.YES;
});
JS
inside chmod 644 /etc/polkit-1/rules.d/11-berth-images.rules
nb_import() { nb import-tar /tmp/devs.tar devuser >/dev/null 2>&1; }
check "nobody: import-tar succeeds once a rule allows manage-images" wait_for 15 nb_import
check "... the file is there, the device nodes are not" \
	eval "[ \"\$(inside cat /var/lib/machines/devuser/file)\" = hi ] &&
		inside test ! -e /var/lib/machines/devuser/dev/mynull -a ! -e /var/lib/machines/devuser/dev/myblk"
bc import-tar /tmp/devs.tar devroot >/dev/null 2>&1
check "root's import of the same archive keeps both nodes" \
	inside sh -c 'test -c /var/lib/machines/devroot/dev/mynull && test -b /var/lib/machines/devroot/dev/myblk'
bc remove devuser devroot >/dev/null 2>&1

if [ "$_tap_failed" != 0 ]; then
	inside journalctl --no-pager -n 60 -u berthd.service -u 'berth-spawn@*' -u polkit.service 2>&1 | sed 's/^/# /' >&2
fi
testhost_stop "$name"
leak_check
tap_done
