#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# User namespaces: ranges (pick, fixed, identity), ownership by idmapped mounts and by chown,
# and what the container's root can and cannot do.
. "$(dirname "$0")/../lib/libtest.sh"
need_root
mkscratch
T=$SCRATCH/uns-$$
mk_busybox_tree "$T"
mkdir -p "$T/home/user"
chown 1000:1000 "$T/home/user"
owners() { (cd "$T" && find . -printf '%p %U:%G %m\n' | sort); }
before=$(owners)
leak_begin
run() { spawn -D "$T" --console=pipe "$@"; }

map=$(run -U -- /bin/cat /proc/self/uid_map | awk '{print $1, $2, $3}')
base=$(awk '{print $2}' <<<"$map")
check "-U maps 65536 IDs to a picked range ($map)" test "$(awk '{print $1, $3}' <<<"$map")" = "0 65536"
check "the picked range is 64K-aligned, above the regular IDs" test $((base % 65536)) -eq 0 -a "$base" -ge $((0x80000))
check "the range's lock file is gone once the machine ended" test ! -e "/run/berth/uid-range/$base"
check_eq "$(run -U -- /bin/sh -c 'id -u; stat -c %u:%g /home/user')" "$(printf '0\n1000:1000')" "inside, root is 0 and the tree's owners look as on disk"
run -U -- /bin/sh -c 'touch /created; chown 1000 /created; echo x >/home/user/f; chown 1000:1000 /home/user/f'
check_eq "$(stat -c %u:%g "$T/created") $(stat -c %u:%g "$T/home/user/f")" "1000:0 1000:1000" "files made inside have their container owners on disk (idmapped)"
rm -f "$T/created" "$T/home/user/f"
check_eq "$(owners)" "$before" "with -U the tree's owners on disk are unchanged"
check_eq "$(run --private-users=1000000:65536 -- /bin/cat /proc/self/uid_map | awk '{print $1, $2, $3}')" "0 1000000 65536" "--private-users=BASE:COUNT"
check_eq "$(run --private-users=identity -- /bin/cat /proc/self/uid_map | awk '{print $1, $2, $3}')" "0 0 65536" "--private-users=identity"

# Two machines at once never share a range.
mkdir -p "$SCRATCH/second" && mk_busybox_tree "$SCRATCH/second"
( exec "$BERTH_SPAWN" -D "$T" --console=pipe -U -- /bin/sleep 30 </dev/null >/dev/null 2>&1 ) &
first=$!
for _ in $(seq 50); do c=$(pgrep -P $first | head -1); [ -n "$c" ] && [ "$(awk '{print $2}' /proc/$c/uid_map 2>/dev/null)" != 0 ] && break; sleep 0.1; done
range1=$(awk '{print $2}' /proc/$c/uid_map)
range2=$(spawn -D "$SCRATCH/second" --console=pipe -U -- /bin/cat /proc/self/uid_map | awk '{print $2}')
check "two running machines get different ranges ($range1, $range2)" test -n "$range1" -a -n "$range2" -a "$range1" != "$range2"
check "a running machine holds its range's lock file" test -e "/run/berth/uid-range/$range1"
kill -TERM $first; wait $first

# Locked mounts: the container's root cannot uncover what the masks hide (probe A15).
out=$(run -U -- /bin/sh -c 'umount /proc/kallsyms 2>/dev/null && echo UNMOUNTED; umount -l /proc/sys 2>/dev/null && echo UNMOUNTED; mount -o remount,rw /proc/sys 2>/dev/null && echo REMOUNTED; mount -o remount,rw /sys 2>/dev/null && echo REMOUNTED; echo done')
check_eq "$out" done "masks and read-only mounts are locked with a user namespace"
out=$(run -U -- /bin/sh -c 'mount -t proc proc /mnt 2>/dev/null && echo MOUNTED; echo done')
check_eq "$out" done "a fresh, unmasked procfs cannot be mounted (A16)"
out=$(run -U -- /bin/sh -c 'hostname renamed && hostname; mkdir /sys/fs/cgroup/sub && echo cgroup-ok')
check_eq "$out" "$(printf 'renamed\ncgroup-ok')" "the container's root owns its hostname and cgroup subtree"
out=$(run -U --private-network -- /bin/sh -c 'ip link set lo down && ip link set lo up && echo net-ok')
check_eq "$out" net-ok "and its network namespace"
out=$(run -U -- /bin/sh -c 'cat /proc/1/uid_map >/dev/null; ls -ln /run/host/notify | awk "{print \$3}"')
check "host-made files show as nobody or root, never as a host ID" test -n "$out"

# Ownership by chown: the tree is shifted on disk once, and back for map.
run -U --private-users-ownership=chown -- /bin/sh -c 'stat -c %u /home/user' >"$SCRATCH/out"
shifted=$(stat -c %u "$T")
check "--private-users-ownership=chown shifts the tree on disk (root now $shifted)" test "$shifted" -ge $((0x80000))
check_eq "$(stat -c %u "$T/home/user")" $((shifted + 1000)) "and every owner with it"
check_eq "$(cat "$SCRATCH/out")" 1000 "inside, owners look the same"
check_eq "$(run -U -- /bin/cat /proc/self/uid_map | awk '{print $2}')" "$shifted" "the next -U run reuses the tree's range"
run -U --private-users-ownership=map -- /bin/true
check_eq "$(owners)" "$before" "--private-users-ownership=map shifts a chowned tree back first"
leak_check
tap_done
