#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The console: interactive relay on a real terminal (size, SIGWINCH, the ^]^]^] escape, termios
# restored), read-only, passive and pipe modes, and no TIOCSTI injection into the host's terminal.
. "$(dirname "$0")/../lib/libtest.sh"
need_root
mkscratch
T=$SCRATCH/tree
S=$SCRATCH
mk_busybox_tree "$T"
# A name of our own: other tests' trees are called "tree" too, and names are unique per host.
M=console-$$
leak_begin

# A real terminal without extra packages: python3 is there wherever meson is. The driver runs an
# interactive bash on a fresh pty, types, waits for output, resizes, and logs all output.
# Steps: "send:TEXT" (\n, \x1d escapes), "expect:SECONDS:REGEX", "sleep:SECONDS", "winsize:R:C".
cat >"$S/term.py" <<'PY'
import codecs, fcntl, os, pty, re, select, signal, struct, sys, termios, time

def winsize(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

def main():
    log = open(sys.argv[1], "wb")
    pid, fd = pty.fork()
    if pid == 0:
        env = dict(os.environ, PS1="$ ", TERM="dumb", HISTFILE="/dev/null")
        os.execvpe("bash", ["bash", "--norc", "--noprofile", "-i"], env)
    winsize(fd, 24, 80)
    buf, pos, ok = b"", 0, True

    def pump(timeout):
        nonlocal buf
        r, _, _ = select.select([fd], [], [], timeout)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            buf += data
            log.write(data)
            log.flush()
            return bool(data)
        return True

    for step in sys.argv[2:]:
        kind, _, arg = step.partition(":")
        if kind == "send":
            os.write(fd, codecs.decode(arg, "unicode_escape").encode("latin-1"))
        elif kind == "sleep":
            end = time.monotonic() + float(arg)
            while time.monotonic() < end:
                pump(end - time.monotonic())
        elif kind == "winsize":
            rows, cols = arg.split(":")
            winsize(fd, int(rows), int(cols))
        elif kind == "expect":
            secs, _, regex = arg.partition(":")
            end = time.monotonic() + float(secs)
            pattern = re.compile(regex.encode())
            while True:
                m = pattern.search(buf, pos)
                if m:
                    pos = m.end()
                    break
                if time.monotonic() >= end or not pump(min(0.2, end - time.monotonic())):
                    sys.stderr.write("term.py: timed out waiting for %r\n" % regex)
                    ok = False
                    break
        if not ok:
            break

    # Closing the master hangs up the session: bash and its jobs get SIGHUP.
    if ok:
        os.write(fd, b"exit\n")
        end = time.monotonic() + 5
        while time.monotonic() < end and pump(0.2):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                pid = 0
                break
    os.close(fd)
    if pid:
        time.sleep(0.5)
        if os.waitpid(pid, os.WNOHANG)[0] != pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    sys.exit(0 if ok else 1)

main()
PY
term() { python3 "$S/term.py" "$@"; }
# On the terminal berth-spawn must be the foreground job, which plain `timeout` (spawn) is not:
# it puts its child in a process group of its own.
B="timeout --foreground -k 5 60 $BERTH_SPAWN"
# Output as seen on the terminal, without the carriage returns the pty adds.
screen() { tr -d '\r' <"$1"; }
# Only processes whose root is the tree count as left behind by a container.
procs_in_tree() {
	local p n=0
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$T" ] && n=$((n + 1))
	done
	echo "$n"
}

spawn -D "$T" -M "$M" --console=pipe -- /bin/true
rc=$?
check_eq "$rc" 0 "berth-spawn runs a container at all (the rest needs it)"

# --- interactive on a terminal: tty, size, SIGWINCH, settings restored ---
cat >"$S/a.sh" <<EOF
stty -g >"$S/a.before"
echo "OUTER-\$(stat -L -c %t:%T /proc/self/fd/0)"
$B -D "$T" -M "$M" --console=interactive -- /bin/sh -c 'tty; echo INNER-\$(stat -L -c %t:%T /proc/self/fd/0); echo W1-\$(stty size); sleep 3; echo W2-\$(stty size)'
echo "DONE-A rc=\$?"
stty -g >"$S/a.after"
EOF
term "$S/a.log" 'expect:10:\$ ' "send:stty rows 33 cols 101; sh $S/a.sh\n" \
	'expect:30:W1-[0-9]+ [0-9]+' 'winsize:40:120' 'expect:30:DONE-A rc=' 'expect:10:\$ '
check "interactive: the terminal session ran to the end" test $? = 0
check "interactive: the payload's stdin is the container's own pty ($(screen "$S/a.log" | grep -a -m1 -E '^/dev/|not a tty'))" \
	grep -a -q -E '^(/dev/pts/[0-9]+|/dev/console)$' <(screen "$S/a.log")
outer=$(screen "$S/a.log" | sed -n 's/^OUTER-//p')
inner=$(screen "$S/a.log" | sed -n 's/^INNER-//p')
check "interactive: the payload's terminal ($inner) is not ours ($outer)" \
	test -n "$inner" -a -n "$outer" -a "$inner" != "$outer"
check "interactive: the container's pty has the outer terminal's size (33 101)" \
	grep -a -q -x 'W1-33 101' <(screen "$S/a.log")
check "interactive: a window size change reaches the container (40 120)" \
	grep -a -q -x 'W2-40 120' <(screen "$S/a.log")
check "interactive: the payload's exit status comes back" grep -a -q -x 'DONE-A rc=0' <(screen "$S/a.log")
check "interactive: the terminal settings are restored exactly (stty -g)" \
	cmp -s "$S/a.before" "$S/a.after"

# --- the escape: ^]^]^] within a second stops the container ---
cat >"$S/b.sh" <<EOF
stty -g >"$S/b.before"
$B -D "$T" -M "$M" --console=interactive -- /bin/sh -c 'echo READY-\$((40+2)); exec sleep 100'
echo "DONE-B rc=\$?"
stty -g >"$S/b.after"
EOF
term "$S/b.log" 'expect:10:\$ ' "send:sh $S/b.sh\n" 'expect:30:READY-42' 'sleep:0.5' \
	'send:\x1d\x1d\x1d' 'expect:8:DONE-B rc=[0-9]+' 'expect:10:\$ '
check "escape: ^]^]^] makes berth-spawn exit within a few seconds" test $? = 0
rc=$(screen "$S/b.log" | sed -n 's/^DONE-B rc=\([0-9]*\)$/\1/p')
check "escape: berth-spawn's exit status is non-zero (got '$rc')" test -n "$rc" -a "$rc" != 0
check "escape: the terminal settings are restored exactly (stty -g)" cmp -s "$S/b.before" "$S/b.after"
check "escape: nothing keeps running in the tree" test "$(procs_in_tree)" = 0

# --- a booted init's console: a shell on it takes our keys; the escape ends the machine ---
cat >"$S/f.sh" <<EOF
stty -g >"$S/f.before"
$B -D "$T" -M "$M" --console=interactive --boot
echo "DONE-F rc=\$?"
stty -g >"$S/f.after"
EOF
term "$S/f.log" 'expect:10:\$ ' "send:sh $S/f.sh\n" 'expect:30:berth-busybox: booted' 'sleep:1' \
	'send:echo BOOT-$((3*3))\r' 'expect:10:BOOT-9' 'send:\x1d\x1d\x1d' 'expect:10:DONE-F rc=' 'expect:10:\$ '
check "boot: the console shell runs what we type, and ^]^]^] ends the machine" test $? = 0
check "boot: the terminal settings are restored exactly (stty -g)" cmp -s "$S/f.before" "$S/f.after"
check "boot: nothing keeps running in the tree" test "$(procs_in_tree)" = 0

# --- two ^] are ordinary input: the container reads them ---
cat >"$S/b2.sh" <<EOF
$B -D "$T" -M "$M" --console=interactive -- /bin/sh -c 'stty raw -echo; echo GO-\$((1+1)); head -c 3 | od -An -tx1; stty sane'
echo "DONE-B2 rc=\$?"
EOF
term "$S/b2.log" 'expect:10:\$ ' "send:sh $S/b2.sh\n" 'expect:30:GO-2' 'send:\x1d\x1d' 'sleep:1.5' \
	'send:q' 'expect:10:DONE-B2 rc=' 'expect:10:\$ '
check "escape: two ^] then a pause reach the container as input" \
	grep -a -q -E '^ *1d 1d 71 *$' <(screen "$S/b2.log")

# --- a background job (plain `timeout`, `&`) must not be stopped by SIGTTOU/SIGTTIN ---
cat >"$S/e.sh" <<EOF
stty -g >"$S/e.before"
timeout -k 5 20 "$BERTH_SPAWN" -D "$T" -M "$M" --console=interactive -- /bin/sh -c 'echo BG-\$((1+1))'
echo "DONE-E rc=\$?"
stty -g >"$S/e.after"
EOF
term "$S/e.log" 'expect:10:\$ ' "send:sh $S/e.sh\n" 'expect:30:DONE-E rc=' 'expect:10:\$ '
check "background job: output is relayed and it runs to the end" \
	grep -a -q -x 'BG-2' <(screen "$S/e.log")
check "background job: exit status 0, not killed by timeout" grep -a -q -x 'DONE-E rc=0' <(screen "$S/e.log")
check "background job: the terminal settings are untouched" cmp -s "$S/e.before" "$S/e.after"

# --- read-only and passive ---
cat >"$S/c.sh" <<EOF
$B -D "$T" -M "$M" --console=read-only -- /bin/sh -c 'echo RO-\$((6*7))'
echo "DONE-C1 rc=\$?"
$B -D "$T" -M "$M" --console=passive -- /bin/sh -c 'echo PASSIVE-\$((6*7))'
echo "DONE-C2 rc=\$?"
EOF
term "$S/c.log" 'expect:10:\$ ' "send:sh $S/c.sh\n" 'expect:30:DONE-C2 rc=' 'expect:10:\$ '
check "read-only: the container's output appears" grep -a -q -x 'RO-42' <(screen "$S/c.log")
check "read-only: the exit status comes back" grep -a -q -x 'DONE-C1 rc=0' <(screen "$S/c.log")
check "passive: the container's output is not relayed" \
	bash -c '! grep -a -q PASSIVE-42 "$1"' _ "$S/c.log"
check "passive: the container runs and exits" grep -a -q -x 'DONE-C2 rc=0' <(screen "$S/c.log")

# --- pipe mode, and interactive without a terminal ---
out=$(echo hi | spawn -D "$T" -M "$M" --console=pipe -- /bin/cat)
check_eq "$out" hi "pipe: stdin and stdout pass through"
out=$(echo hi | SPAWN_TIMEOUT=20 spawn -D "$T" -M "$M" --console=interactive -- /bin/cat | tr -d '\r')
check "interactive from a pipe: EOF on stdin ends the payload's input, output comes back (${out//$'\n'/|})" \
	grep -q -x hi <<<"$out"

# --- A34: the container cannot push input into the host's terminal (TIOCSTI) ---
# The host side is the interactive bash of the driver: whatever lands in its terminal's input
# queue, it runs once berth-spawn is done. The injected command only touches a file in SCRATCH.
if [ -x "$T/bin/probe" ] && "$T/bin/probe" list 2>/dev/null | grep -q '^tiocsti '; then
	# hostmntns= lets it try /dev/console: provably not the machine's real console in there.
	mntns=$(stat -L -c %i /proc/self/ns/mnt)
	inject() { echo "/bin/probe tiocsti --armed hostmntns=$mntns 'inject=touch $S/PWNED-$1\\n'"; }
else
	cat >"$S/inject.c" <<'C'
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
static void push(const char *what, int fd, const char *cmd) {
	char line[512];
	const char *s;
	int err = 0;
	snprintf(line, sizeof(line), "%s\n", cmd);
	for (s = line; *s; s++)
		if (ioctl(fd, TIOCSTI, s) < 0) {
			err = errno;
			break;
		}
	if (err) /* the CVE-2019-10063 form: high bits the kernel ignores but a filter may not */
		for (s = line; *s; s++)
			if (syscall(SYS_ioctl, fd, (0x123UL << 32) | TIOCSTI, s) < 0)
				break;
	printf("%s: %s\n", what, *s ? strerror(err) : "injected");
}
int main(int argc, char **argv) {
	const char *paths[] = { "/dev/console", "/dev/tty" };
	push("fd0", 0, argv[1]);
	for (int i = 0; i < 2; i++) {
		int fd = open(paths[i], O_RDWR | O_NOCTTY);
		if (fd < 0)
			printf("%s: %s\n", paths[i], strerror(errno));
		else
			push(paths[i], fd, argv[1]);
	}
	return 0;
}
C
	cc -static -O1 -o "$T/bin/berth-inject" "$S/inject.c" || diag "could not build the TIOCSTI injector"
	inject() { echo "/bin/berth-inject 'touch $S/PWNED-$1'"; }
fi
: >"$S/d.sh"
for mode in interactive read-only passive pipe; do
	echo "$B -D \"$T\" -M $M --console=$mode -- $(inject "$mode"); echo \"DONE-D-$mode rc=\$?\"" >>"$S/d.sh"
done
term "$S/d.log" 'expect:10:\$ ' "send:sh $S/d.sh\n" 'expect:60:DONE-D-pipe rc=' \
	'send:echo FLUSH-$((2+3))\n' 'expect:10:FLUSH-5' 'expect:10:\$ '
check "tiocsti: the payloads ran" test $? = 0
screen "$S/d.log" | grep -a -E '^(BLOCKED|OPEN|ERROR) tiocsti|^(fd0|/dev/)' | sed 's/^/# /' >&2
for mode in interactive read-only passive pipe; do
	check "tiocsti ($mode): the host's shell received nothing from the container" \
		test ! -e "$S/PWNED-$mode"
done

leak_check
tap_done
