#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Custom mounts and the API file systems, checked by their effects.
. "$(dirname "$0")/../lib/libtest.sh"
need_root
mkscratch
T=$SCRATCH/mnt-$$
mk_busybox_tree "$T"
mkdir -p "$SCRATCH/host" "$SCRATCH/ro" "$SCRATCH/lower" "$SCRATCH/upper"
echo host-data >"$SCRATCH/host/file"
echo ro-data >"$SCRATCH/ro/file"
echo lower >"$SCRATCH/lower/l"
leak_begin
host_mounts=$(awk '{print $5}' /proc/self/mountinfo | sort)
run() { spawn -D "$T" --console=pipe "$@"; }

out=$(run --bind="$SCRATCH/host:/srv/host" -- /bin/sh -c 'cat /srv/host/file; echo from-inside >/srv/host/new')
check_eq "$out" host-data "--bind shows the host directory"
check_eq "$(cat "$SCRATCH/host/new")" from-inside "--bind: writes reach the host"
out=$(run --bind-ro="$SCRATCH/ro:/srv/ro" -- /bin/sh -c 'cat /srv/ro/file; echo x >/srv/ro/file 2>/dev/null && echo WROTE')
check_eq "$out" ro-data "--bind-ro: readable, the write fails"
check_eq "$(cat "$SCRATCH/ro/file")" ro-data "--bind-ro: the host file is unchanged"
check_eq "$(run --bind="$SCRATCH/host/file:/etc/hostfile" -- /bin/cat /etc/hostfile)" host-data "--bind of a single file"
out=$(run --tmpfs=/srv/t:mode=0700,size=1M -- /bin/sh -c 'stat -c %a /srv/t; dd if=/dev/zero of=/srv/t/f bs=1M count=2 2>&1 | grep -c "No space"')
check_eq "$out" "$(printf '700\n1')" "--tmpfs with options (mode, size)"
out=$(run --overlay="$SCRATCH/lower:$SCRATCH/upper:/srv/o" -- /bin/sh -c 'cat /srv/o/l; echo w >/srv/o/w')
check_eq "$out" lower "--overlay shows the lower layer"
check "--overlay: writes land in the upper layer only" test -f "$SCRATCH/upper/w" -a ! -e "$SCRATCH/lower/w"
out=$(run --overlay-ro="$SCRATCH/lower:/srv/o" -- /bin/sh -c 'cat /srv/o/l; touch /srv/o/x 2>/dev/null && echo WROTE')
check_eq "$out" lower "--overlay-ro is read-only"
out=$(run --read-only -- /bin/sh -c 'touch /etc/x 2>/dev/null && echo WROTE; touch /tmp/x && echo tmp-ok')
check_eq "$out" tmp-ok "--read-only: the root is read-only, /tmp still writable"
check "--read-only: nothing was written to the tree" test ! -e "$T/etc/x"

out=$(run -- /bin/sh -c '(echo 1 >/proc/sys/kernel/sysrq) 2>/dev/null && echo WROTE; (echo x >/sys/kernel/uevent_helper) 2>/dev/null && echo WROTE; echo done')
check_eq "$out" done "/proc/sys and /sys are read-only"
out=$(run --private-network -- /bin/sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward && cat /proc/sys/net/ipv4/ip_forward')
check_eq "$out" 1 "/proc/sys/net is writable with a private network"
out=$(run -- /bin/sh -c 'cat /proc/kallsyms /proc/keys /proc/timer_list 2>/dev/null | wc -c')
check_eq "$out" 0 "kernel internals in /proc read as empty"
out=$(run -- /bin/sh -c 'mkdir /sys/fs/cgroup/child && echo $$ >/sys/fs/cgroup/child/cgroup.procs && cat /proc/self/cgroup | grep ^0::')
check_eq "$out" "0::/child" "the container owns its cgroup subtree"
out=$(run -- /bin/sh -c 'ls /dev | tr "\n" " "')
check_eq "$out" "fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero " "/dev has only the harmless nodes"
out=$(run -- /bin/sh -c 'mount -t tmpfs none /mnt && mount --make-rshared / && mount -t tmpfs none /srv && echo mounted')
check_eq "$out" mounted "the container may mount in its own namespace"
check_eq "$(awk '{print $5}' /proc/self/mountinfo | sort)" "$host_mounts" "no mount reached the host's mount table"

# Symlinks planted in the tree never lead mounts or writes out of it (probes A01, A02).
ln -sfn "$SCRATCH/host" "$T/srv/link"
run --bind="$SCRATCH/ro:/srv/link/x" -- /bin/true 2>/dev/null
check "a bind through a symlink stays inside the tree" test ! -e "$SCRATCH/host/x"
leak_check
tap_done
