#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Command mode: exit statuses, signals, stdio, users, environment and what the command sees.
. "$(dirname "$0")/../lib/libtest.sh"
need_root
mkscratch
T=$SCRATCH/cmd-$$
mk_busybox_tree "$T"
leak_begin
run() { spawn -D "$T" --console=pipe "$@"; }

for code in 0 1 42; do
	run -- /bin/sh -c "exit $code"
	check_eq "$?" "$code" "exit status $code propagates"
done
run -- /bin/sh -c 'kill -KILL $$'
check_eq "$?" 137 "death by SIGKILL is 128+9"
run -- /bin/sh -c 'kill -TERM $$'
check_eq "$?" 143 "death by SIGTERM is 128+15"
run --as-pid1 -- /bin/sh -c 'exit 42'
check_eq "$?" 42 "--as-pid1 propagates the exit status"

out=$(echo hi | run -- cat)
check_eq "$out" hi "stdin and stdout pipe through"
out=$(head -c 1048576 /dev/urandom | tee "$SCRATCH/big" | run -- cat | sha256sum)
check_eq "$out" "$(sha256sum <"$SCRATCH/big")" "1 MiB passes through unchanged"
out=$(run -- /bin/sh -c 'echo out; echo err >&2' 2>"$SCRATCH/err")
check_eq "$out/$(cat "$SCRATCH/err")" "out/err" "stdout and stderr stay apart"

check_eq "$(run -- /bin/sh -c 'echo $$')" 2 "the command runs under berth's stub init (PID 2)"
check_eq "$(run -- /bin/readlink /proc/1/exe)" "/memfd:berth-init (deleted)" "PID 1 is no file of the host (CVE-2019-5736)"
out=$(run -- /bin/sh -c '(echo x >/proc/1/exe) 2>/dev/null && echo WROTE; cat /proc/1/exe >/tmp/copy && (echo x >>/tmp/copy) && echo copy-ok')
check_eq "$out" copy-ok "its binary cannot be written through /proc/1/exe"
check_eq "$(run --as-pid1 -- /bin/sh -c 'echo $$')" 1 "--as-pid1 runs the command as PID 1"
n=$(run -- /bin/sh -c 'ls -d /proc/[0-9]*' | wc -l)
check "only the container's processes are visible (saw $n, the host has $(ls -d /proc/[0-9]* | wc -l))" test "$n" -le 3
check_eq "$(run -M pid-check -- /bin/hostname)" pid-check "the hostname is the machine name"
check_eq "$(run -M m1 --hostname=other -- /bin/hostname)" other "--hostname sets the hostname"
check_eq "$(run -- /bin/hostname)" "cmd-$$" "without -M the machine is named after the directory"
check_eq "$(run -- /bin/sh -c 'echo $container')" berth "container=berth is set"
check_eq "$(run -E FOO=bar -E X=1 -- /bin/sh -c 'echo $FOO$X')" bar1 "-E sets the environment"
check_eq "$(run --chdir=/etc -- /bin/pwd)" /etc "--chdir sets the working directory"
check_eq "$(run -u nobody -- /bin/sh -c 'id -u; id -g')" "$(printf '65534\n65534')" "-u switches to a user of the container"
check_eq "$(run -u 1234 -- id -u)" 1234 "-u takes a numeric user"
run -u nosuchuser -- /bin/true 2>"$SCRATCH/err"
check "an unknown user fails (exit $?)" grep -q "nosuchuser" "$SCRATCH/err"
run -- /nonexistent 2>/dev/null
check_eq "$?" 127 "a missing command gives 127"
check_eq "$(run -- /bin/sh -c 'readlink /proc/1/cwd; readlink /proc/self/cwd')" "$(printf '/\n/')" "the working directory is inside the root"
fds=$(run -- /bin/sh -c 'ls /proc/self/fd | tr "\n" " "')
check_eq "$fds" "0 1 2 3 " "no host file descriptor leaks in (only stdio and ls's own)"
check_eq "$(run -- /bin/sh -c 'cat /run/host/os-release | grep ^ID=')" "$(grep ^ID= /etc/os-release)" "/run/host/os-release is the host's"
mid=$(run --uuid=0123456789abcdef0123456789abcdef -- /bin/cat /etc/machine-id)
check_eq "$mid" 0123456789abcdef0123456789abcdef "a tree without a machine ID gets a transient one (--uuid)"
# Security options, by their effect.
out=$(run -- /bin/sh -c 'touch /tmp/f && chown 1234 /tmp/f && echo chown-ok')
check_eq "$out" chown-ok "the default set keeps CAP_CHOWN"
out=$(run --drop-capability=CAP_CHOWN -- /bin/sh -c 'touch /tmp/f && chown 1234 /tmp/f 2>/dev/null || echo refused')
check_eq "$out" refused "--drop-capability=CAP_CHOWN takes it away"
check_eq "$(run -- /bin/sh -c 'grep ^NoNewPrivs: /proc/self/status | tr -d "\t "')" "NoNewPrivs:0" "no_new_privs is off by default"
check_eq "$(run --no-new-privileges=yes -- /bin/sh -c 'grep ^NoNewPrivs: /proc/self/status | tr -d "\t "')" "NoNewPrivs:1" "--no-new-privileges=yes sets it"
out=$(run --system-call-filter='~mkdir mkdirat' -- /bin/sh -c 'mkdir /tmp/d 2>/dev/null || echo refused')
check_eq "$out" refused "--system-call-filter=~LIST denies those calls"
out=$(run -- /bin/sh -c 'mkdir /tmp/d && echo made')
check_eq "$out" made "and without it they work"

# -M without -D finds the image in the pool by name (a link in the pool leads to our tree).
POOL=/var/lib/machines
mkdir -p "$POOL"
ln -s "$T" "$POOL/berth-pool-$$"
on_cleanup "rm -f $POOL/berth-pool-$$"
check_eq "$(spawn -M "berth-pool-$$" --console=pipe -- /bin/hostname)" "berth-pool-$$" "-M finds the image in the pool by name"
rm -f "$POOL/berth-pool-$$"
leak_check
tap_done
