#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Bad input gets a clear error, a non-zero exit, and changes nothing: no mounts, cgroups,
# processes, and a tree exactly as it was.
. "$(dirname "$0")/../lib/libtest.sh"
need_root
mkscratch
T=$SCRATCH/bad-$$
mk_busybox_tree "$T"
mkdir -p "$SCRATCH/empty" "$SCRATCH/noinit/etc" "$SCRATCH/notos/sbin"
echo 'ID=x' >"$SCRATCH/noinit/etc/os-release"
cp /bin/busybox "$SCRATCH/notos/sbin/init"
tree_state() { (cd "$T" && find . -printf '%p %y %U:%G %m %s %l\n' | sort); }
before=$(tree_state)
leak_begin

# expect_error DESCRIPTION PATTERN ARGS...: fails non-zero, says PATTERN on stderr.
expect_error() {
	local desc=$1 pattern=$2; shift 2
	spawn "$@" </dev/null >/dev/null 2>"$SCRATCH/err"
	local rc=$?
	if [ $rc -ne 0 ] && grep -qi -- "$pattern" "$SCRATCH/err"; then
		ok "$desc"
	else
		not_ok "$desc (exit $rc, stderr: $(head -c 300 "$SCRATCH/err" | tr '\n' ' '))"
	fi
}

for name in "a/b" "-a" "a-" "a..b" "$(printf 'a%.0s' {1..65})" "a b" "ä" ".host" ""; do
	expect_error "invalid machine name '$name' is refused" "Invalid machine name" -D "$T" -M "$name" -- /bin/true
done
expect_error "a missing tree is refused" "No such file" -D "$SCRATCH/does-not-exist" -- /bin/true
expect_error "a file as the tree is refused" "not a directory" -D "$T/etc/passwd" -- /bin/true
expect_error "the host's root is refused" "host's root" -D / -- /bin/true
expect_error "an unknown image name is refused" "No image" -M no-such-image-$$ -- /bin/true
expect_error "a tree without os-release does not boot" "does not look like an OS tree" -D "$SCRATCH/notos" -b
expect_error "a tree without an init does not boot" "No init found" -D "$SCRATCH/noinit" -b
expect_error "a missing command fails" "Failed to execute" -D "$T" --console=pipe -- /no/such/command
expect_error "--boot and --as-pid1 exclude each other" "exclude" -D "$T" -b --as-pid1
expect_error "a bad --console= is refused" "console" -D "$T" --console=sideways -- /bin/true
expect_error "a bad --private-users= is refused" "private-users" -D "$T" --private-users=abc -- /bin/true
expect_error "a bad --private-users-ownership= is refused" "ownership" -D "$T" --private-users-ownership=x -- /bin/true
expect_error "a relative --bind source is refused" "bind" -D "$T" --bind=relative:/x -- /bin/true
expect_error "a --bind destination with .. is refused" "bind" -D "$T" --bind=/tmp:/../x -- /bin/true
expect_error "a --bind of a missing path fails" "Failed" -D "$T" --console=pipe --bind=/no/such/path:/x -- /bin/true
expect_error "an unknown capability is refused" "capability" -D "$T" --capability=CAP_FLY -- /bin/true
expect_error "an unknown system call is refused" "call" -D "$T" --console=pipe --system-call-filter=no_such_syscall -- /bin/true
expect_error "a bad signal is refused" "signal" -D "$T" --kill-signal=SIGNOPE -- /bin/true
expect_error "a bad --uuid is refused" "UUID" -D "$T" --uuid=xyz -- /bin/true
expect_error "--chdir must be absolute" "absolute" -D "$T" --chdir=etc -- /bin/true
expect_error "an unknown option is refused" "unrecognized" -D "$T" --no-such-option -- /bin/true
# A settings file that does not parse stops the start (file:line in the message).
mkdir -p "$SCRATCH/settings"
printf '[Exec]\nBoot=perhaps\n' >"$SCRATCH/settings/bad-$$.berth"
BERTH_SETTINGS_DIR=$SCRATCH/settings expect_error "a malformed settings file is refused with file:line" "bad-$$.berth:2" -D "$T" -- /bin/true
# Two machines of one name cannot run at once (read-only: two writable runs of one tree would
# already be refused by the image lock, see test-spawn-lock).
( exec "$BERTH_SPAWN" -D "$T" --read-only --console=pipe -- /bin/sleep 30 </dev/null >/dev/null 2>&1 ) &
first=$!
for _ in $(seq 50); do [ -d /sys/fs/cgroup/unified/machine.slice/machine-bad-$$.scope/payload ] && break; sleep 0.1; done
sleep 0.2
expect_error "a second machine of the same name is refused" "already running" -D "$T" --read-only --console=pipe -- /bin/true
check "and the first one is unaffected" kill -0 $first
kill -TERM $first; wait $first

check_eq "$(tree_state)" "$before" "the tree is unchanged by all of this"
leak_check
tap_done
