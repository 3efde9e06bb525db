#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berthd's image pool on ext4, btrfs and xfs (reflink=1), each a loop-mounted file this test
# makes: clones and snapshots keep a tree exactly (tests/lib/treecmp.py), share extents where the
# file system can (a real copy on ext4), --ephemeral leaves the image untouched, a clone that
# fills the file system fails cleanly, and a clone worker killed mid-copy leaves nothing visible.
. "$(dirname "$0")/../lib/libtest.sh"
. "$(dirname "$0")/../lib/berthd.sh"
leak_begin
berthd_setup
for t in mkfs.ext4 mkfs.xfs mkfs.btrfs btrfs losetup filefrag setfacl getfacl python3; do
	command -v $t >/dev/null || { echo "1..0 # SKIP $t not installed (tools/deps.sh)"; exit 0; }
done

export BERTH_STATE_DIR=$SCRATCH/state
TREECMP=$TESTS_SRC/lib/treecmp.py
MiB=$((1024 * 1024))

# ---- loop-mounted file systems: exactly the devices we attached are detached again ----
LOOPS=()
IMGS=()
MNTS=()
cleanup_fs() {
	local i
	for ((i = ${#MNTS[@]} - 1; i >= 0; i--)); do
		chattr -R -i "${MNTS[i]}" 2>/dev/null
		umount "${MNTS[i]}" || umount -l "${MNTS[i]}"
	done
	for i in "${!LOOPS[@]}"; do detach "${LOOPS[i]}" "${IMGS[i]}"; done
	MNTS=(); LOOPS=(); IMGS=()
}
# detach DEV IMG: by the image file (loop_detach_file), since DEV's name may have passed on;
# done when nothing holds IMG any more.
detach() { loop_detach_file "$2"; [ -z "$(losetup -j "$2")" ]; }
on_cleanup cleanup_fs

# make_fs FS MIB NAME: a new file system of that size, mounted at $SCRATCH/NAME ($FS_MNT).
make_fs() {
	local fs=$1 img=$SCRATCH/$3.img dev
	FS_MNT=$SCRATCH/$3
	truncate -s "$2M" "$img" || return 1
	case $fs in
	ext4) mkfs.ext4 -q -F "$img" ;;
	xfs) mkfs.xfs -q -m reflink=1 "$img" ;;
	btrfs) mkfs.btrfs -q "$img" ;;
	esac >"$SCRATCH/mkfs.log" 2>&1 || { diag "$(cat "$SCRATCH/mkfs.log")"; return 1; }
	dev=$(losetup --find --show "$img") || return 1
	LOOPS+=("$dev")
	IMGS+=("$img")
	mkdir -p "$FS_MNT"
	mount "$dev" "$FS_MNT" || return 1
	MNTS+=("$FS_MNT")
}
# Removes the last file system make_fs made (loop device included).
drop_fs() {
	umount "${MNTS[-1]}" && detach "${LOOPS[-1]}" "${IMGS[-1]}" && unset 'MNTS[-1]' 'LOOPS[-1]' 'IMGS[-1]'
}

restart_berthd() {
	kill -9 "$BERTHD_PID" 2>/dev/null; wait "$BERTHD_PID" 2>/dev/null
	start_berthd
}
stop_berthd() { kill -9 "$BERTHD_PID" 2>/dev/null; wait "$BERTHD_PID" 2>/dev/null; BERTHD_PID=; }
images() {
	busctl --address="$BUS" --json=short call org.berth.machine1 /org/berth/machine1 \
		org.berth.machine1.Manager ListImages |
		python3 -c 'import json,sys; [print(i[0]) for i in sorted(json.load(sys.stdin)["data"][0])]'
}
avail() { sync; df -B1 --output=avail "$1" | tail -n 1 | tr -d ' '; }
# The physical extents of a file, one "start..end" per line; all_shared: each has the "shared" flag.
phys() { filefrag -v "$1" | awk -F: '/^ *[0-9]+:/ { gsub(/ /, "", $3); print $3 }'; }
all_shared() { filefrag -v "$1" | awk -F: '/^ *[0-9]+:/ { n++; if ($NF ~ /shared/) s++ } END { exit !(n > 0 && n == s) }'; }
treecmp() { python3 "$TREECMP" "$@"; }
# Equal trees (the differences on stderr when not).
same_tree() {
	local out
	out=$(treecmp --sparse "$@") && return 0
	diag "$out"
	return 1
}
manifest() { treecmp --manifest "$1"; }
is_subvol() { btrfs subvolume show "$1" >/dev/null 2>&1; }
has_method() {
	busctl --address="$BUS" introspect org.berth.machine1 /org/berth/machine1 org.berth.machine1.Manager 2>/dev/null |
		grep -q "^\.$1 "
}

# The test tree: a busybox tree (so it can run) plus one of everything an image copy must keep.
head -c $((32 * MiB)) /dev/urandom >"$SCRATCH/random32"
mk_test_tree() {
	local T=$1 D=$1/data
	mk_busybox_tree "$T"
	mkdir -p "$D/sub" "$D/acldir"
	echo one >"$D/link-a"
	ln "$D/link-a" "$D/link-b"
	ln "$D/link-a" "$D/sub/link-c"
	ln -s ../etc/os-release "$D/sym"
	ln -s /etc/shadow "$D/abs-sym"
	chown -h 4321:8765 "$D/sym"
	mknod "$D/null" c 1 3
	mknod "$D/loop-node" b 7 200
	mkfifo "$D/fifo"
	echo owned >"$D/owned"
	chown 1234:5678 "$D/owned"
	chmod 640 "$D/owned"
	install -m 4755 /dev/null "$D/setuid"
	install -m 2710 -g 42 /dev/null "$D/setgid"
	chmod 1777 "$D"
	chmod 700 "$D/sub"
	setfacl -m u:4242:r "$D/owned"
	setfacl -d -m g:4243:rx "$D/acldir"
	setfacl -m g:4243:rwx "$D/acldir"
	cp "$SCRATCH/random32" "$D/random"
	python3 -c 'import os, sys
os.setxattr(sys.argv[1], "user.berth", b"hello")
os.setxattr(sys.argv[1], "trusted.berth", b"\x00\x01binary")
os.setxattr(sys.argv[2], "user.dir", b"on a directory")
os.setxattr(sys.argv[4], "trusted.link", b"on a symlink", follow_symlinks=False)
f = open(sys.argv[3], "wb"); f.seek(64 << 20); f.write(b"end"); f.close()' "$D/owned" "$D/sub" "$D/sparse" "$D/sym"
	touch -h -d '2001-02-03 04:05:06' "$D/owned" "$D/sym" "$D/sub"
	# Times far from now, so that a copy which does not keep them shows.
	touch -d '2002-03-04 05:06:07' "$D" "$T"
}
acl_of() { getfacl -n "$1" 2>/dev/null | grep -v '^#'; }

# clone_checks FS POOL SRC DST [KIND]: CloneImage SRC DST, then the copy is exact and shares (or,
# on ext4, does not share) the data of the 32 MiB file.
clone_checks() {
	local fs=$1 pool=$2 src=$3 dst=$4 before after drop what=$3
	[ -n "${5:-}" ] && what="$3 ($5)"
	before=$(avail "$pool")
	check_eq "$(call CloneImage "$src" "$dst" false)" "()" "$fs: CloneImage of $what"
	after=$(avail "$pool")
	drop=$((before - after))
	check "$fs: the clone of $what keeps contents, owners, modes, times, xattrs, ACLs, hard links, symlinks, devices, holes" \
		same_tree "$pool/$src" "$pool/$dst"
	check_eq "$(acl_of "$pool/$dst/data/acldir")" "$(acl_of "$pool/$src/data/acldir")" \
		"$fs: getfacl shows the same access and default ACL on the clone"
	check "$fs: the clone's hard links are one inode, a new one" \
		test "$(stat -c %d:%i "$pool/$dst/data/link-a")" = "$(stat -c %d:%i "$pool/$dst/data/sub/link-c")" \
		-a "$(stat -c %d:%i "$pool/$dst/data/link-a")" != "$(stat -c %d:%i "$pool/$src/data/link-a")"
	if [ "$fs" = ext4 ]; then
		check "$fs: a real copy: no extent of the 32 MiB file is shared" \
			eval "[ \"\$(phys '$pool/$src/data/random')\" != \"\$(phys '$pool/$dst/data/random')\" ] && ! filefrag -v '$pool/$dst/data/random' | grep -q shared"
		check "$fs: a real copy: free space dropped by at least 32 MiB (dropped $((drop / MiB)) MiB)" \
			test "$drop" -ge $((32 * MiB))
	else
		check "$fs: the 32 MiB file shares its physical extents with the original (filefrag -v: same extents, 'shared')" \
			eval "[ \"\$(phys '$pool/$src/data/random')\" = \"\$(phys '$pool/$dst/data/random')\" ] && all_shared '$pool/$dst/data/random'"
		check "$fs: free space dropped by far less than 32 MiB (dropped $((drop / 1024)) KiB)" \
			test "$drop" -lt $((8 * MiB))
	fi
	echo changed >"$pool/$dst/data/link-a"
	dd if=/dev/zero of="$pool/$dst/data/random" bs=1M count=1 conv=notrunc status=none
	check "$fs: writing the clone of $what leaves the original alone" \
		eval "[ \"\$(cat '$pool/$src/data/link-a')\" = one ] && cmp -s '$pool/$src/data/random' '$SCRATCH/random32'"
}

# snapshot_checks FS POOL IMAGE: snapshot, change, restore: back to the snapshot exactly.
snapshot_checks() {
	local fs=$1 pool=$2 img=$3 s orig
	if ! has_method SnapshotImage || ! has_method RestoreImageSnapshot; then
		skip "$fs: snapshots keep the tree, restore brings it back" \
			"this berthd has no SnapshotImage/RestoreImageSnapshot (snapshots not built in yet)"
		return
	fi
	orig=$(manifest "$pool/$img")
	check_eq "$(call SnapshotImage "$img" s1)" "('s1',)" "$fs: SnapshotImage $img s1"
	s=$pool/.snapshots/$img/s1
	check "$fs: the snapshot keeps contents, owners, modes, times, xattrs, ACLs, hard links, devices, holes" \
		same_tree "$pool/$img" "$s"
	if [ "$fs" = btrfs ] && is_subvol "$pool/$img"; then
		check "$fs: the snapshot of a subvolume is a subvolume" is_subvol "$s"
	fi
	if [ "$fs" != ext4 ]; then
		check "$fs: the snapshot shares the 32 MiB file's extents with the image" \
			eval "[ \"\$(phys '$pool/$img/data/random')\" = \"\$(phys '$s/data/random')\" ] && all_shared '$s/data/random'"
	fi
	echo changed >"$pool/$img/data/link-a"
	rm "$pool/$img/data/owned" "$pool/$img/data/sym"
	setfacl -b "$pool/$img/data/acldir"
	mkdir "$pool/$img/new-dir"
	check_eq "$(call RestoreImageSnapshot "$img" s1)" "()" "$fs: RestoreImageSnapshot $img s1"
	check "$fs: the restored image equals the snapshot" same_tree "$s" "$pool/$img"
	check_eq "$(manifest "$pool/$img" | grep -v '^\. ')" "$(echo "$orig" | grep -v '^\. ')" \
		"$fs: the restored image is the image as it was (all but the root's own times)"
	if [ "$fs" = btrfs ] && is_subvol "$s"; then
		check "$fs: the restored image is a subvolume again" is_subvol "$pool/$img"
	fi
	check "$fs: the snapshot stays, and is not listed as an image" \
		eval "[ -d '$s' ] && ! images | grep -q '^\\.snapshots\$'"
}

# ephemeral_checks FS POOL IMAGE: berth-spawn -x writes and removes inside; the image is untouched.
ephemeral_checks() {
	local fs=$1 pool=$2 img=$3 before out
	before=$(manifest "$pool/$img")
	out=$(spawn -D "$pool/$img" --ephemeral --register=no --console=pipe -- /bin/sh -c \
		'echo x >/new; rm /etc/os-release; cat /new; [ -e /etc/os-release ] || echo removed' 2>&1)
	check_eq "$out" "$(printf 'x\nremoved')" "$fs: --ephemeral on a pool image: writes and removals work inside"
	check_eq "$(manifest "$pool/$img")" "$before" "$fs: --ephemeral left the image byte-identical"
}

# A tree that takes a while to copy: many files (on reflink file systems too).
mk_big_tree() {
	python3 -c 'import os, sys
d = sys.argv[1]
os.makedirs(d)
blob = os.urandom(64 << 10)
for i in range(int(sys.argv[2])):
    sub = os.path.join(d, "d%d" % (i // 500))
    if i % 500 == 0:
        os.mkdir(sub)
    with open(os.path.join(sub, "f%d" % i), "wb") as f:
        f.write(blob)' "$1" "$2"
}

# kill_checks FS POOL: the clone worker (berthd's child) SIGKILLed in the middle of a big clone.
kill_checks() {
	local fs=$1 pool=$2 seen=0 clone w=()
	mk_big_tree "$pool/big" 6000
	call CloneImage big big2 false >"$SCRATCH/kill.out" 2>&1 &
	clone=$!
	# The worker makes its hidden tree first thing: kill it as soon as that shows.
	for _ in $(seq 4000); do
		compgen -G "$pool/.#big2.*" >/dev/null && { seen=1; break; }
		sleep 0.005
	done
	read -ra w < <(cat /proc/"$BERTHD_PID"/task/*/children 2>/dev/null)
	[ ${#w[@]} -gt 0 ] && kill -9 "${w[@]}"
	wait "$clone"
	if [ $seen = 1 ] && [ ${#w[@]} -gt 0 ] && [ ! -e "$pool/big2" ]; then
		ok "$fs: clone worker ${w[*]} SIGKILLed in the middle of the copy"
	else
		not_ok "$fs: the clone was caught in the middle (seen=$seen worker='${w[*]}'; too fast on this machine?)"
	fi
	check "$fs: the caller got an error" grep -q Error "$SCRATCH/kill.out"
	check "$fs: berthd still answers, and lists neither big2 nor a '.#' entry" \
		eval "images >'$SCRATCH/list' && ! grep -q -e '^big2\$' -e '^\\.#' '$SCRATCH/list' && [ ! -e '$pool/big2' ]"
	check "$fs: berthd restarts" restart_berthd
	check "$fs: after the restart no '.#' leftover is in the pool and big2 does not exist" \
		eval "[ ! -e '$pool/big2' ] && ! compgen -G '$pool/.#*' >/dev/null"
	call RemoveImage big >/dev/null
}

run_fs() {
	local fs=$1 pool
	if ! make_fs "$fs" 1024 "$fs"; then
		not_ok "$fs: a 1 GiB $fs file system on a loop device"
		return
	fi
	pool=$FS_MNT/pool
	mkdir "$pool"
	export BERTH_IMAGE_POOL=$pool
	if [ "$fs" = btrfs ]; then
		btrfs -q subvolume create "$pool/base" >/dev/null
		mk_test_tree "$pool/base"
		mk_test_tree "$pool/plain"
	else
		mk_test_tree "$pool/base"
	fi
	check "$fs: berthd starts on the pool" start_berthd
	if [ "$fs" = btrfs ]; then
		clone_checks "$fs" "$pool" base clone subvolume
		clone_checks "$fs" "$pool" plain plain-clone directory
	else
		clone_checks "$fs" "$pool" base clone
	fi
	snapshot_checks "$fs" "$pool" base
	ephemeral_checks "$fs" "$pool" base
	kill_checks "$fs" "$pool"
	stop_berthd
	chattr -R -i "$FS_MNT" 2>/dev/null
	drop_fs || not_ok "$fs: the file system unmounts and its loop device detaches"
}

for fs in ext4 xfs btrfs; do
	run_fs $fs
done

# ---- ENOSPC: a 40 MiB image in a 64 MiB ext4 pool cannot be cloned ----
# What is in a pool besides the snapshot store.
# shellcheck disable=SC2010 # the names in this pool are the test's own
pool_entries() { ls -A "$1" | grep -vx '\.snapshots'; }
if make_fs ext4 64 small; then
	pool=$FS_MNT/pool
	mkdir "$pool"
	export BERTH_IMAGE_POOL=$pool
	mk_busybox_tree "$pool/fat"
	# 32 + 5 MiB of random data: with the busybox tree about 40 MiB, which fits once, not twice.
	head -c $((37 * MiB)) "$SCRATCH/random32" >"$pool/fat/blob"
	head -c $((5 * MiB)) "$SCRATCH/random32" >>"$pool/fat/blob"
	start_berthd
	before=$(avail "$pool")
	out=$(call CloneImage fat fat2 false)
	check "ENOSPC: CloneImage fails and says why" grep -q 'No space left on device' <<<"$out"
	diag "CloneImage on a full pool: $out"
	check_eq "$(pool_entries "$pool") | $(images | tr '\n' ' ')" "fat | fat " \
		"ENOSPC: the pool and ListImages show only the whole image (no new name, no '.#' entry)"
	after=$(avail "$pool")
	check "ENOSPC: the free space is back ($((before / 1024)) KiB before, $((after / 1024)) KiB after)" \
		test $((before - after)) -lt $((512 * 1024))
	check "ENOSPC: berthd still answers" eval "call GetImage fat | grep -q objectpath"
	check "ENOSPC: berthd restarts" restart_berthd
	check_eq "$(pool_entries "$pool") | $(images | tr '\n' ' ')" "fat | fat " "ENOSPC: after a restart the pool is clean"
	check_eq "$(call CloneImage fat fat2 false | sed 's/.*\(No space left on device\).*/\1/')" \
		"No space left on device" "ENOSPC: a second try fails the same way, not with a leftover"
	stop_berthd
	drop_fs || not_ok "ENOSPC: the small file system unmounts and its loop device detaches"
else
	not_ok "a 64 MiB ext4 file system on a loop device"
fi

berthd_teardown
cleanup_fs
leak_check
tap_done
