#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berthd's image types in pools on loop-mounted file systems the test makes: btrfs subvolumes
# (snapshot clones, nested removal, the read-only flag, quota limits), raw images (listed, renamed
# with .raw, cloned, removed, metadata through the dissect), limits refused on ext4, hostile
# metadata (A05), ImageBusy for images a berth-spawn or any lock holder uses, berthctl.
# The loop mounts live in a mount namespace of our own (berthd and berth-spawn, started below,
# share it): copies of them in other processes' namespaces would keep them busy at the end.
if [ "$(id -u)" = 0 ] && [ -z "${BERTH_TEST_OWN_NS:-}" ] && command -v unshare >/dev/null; then
	BERTH_TEST_OWN_NS=1 exec unshare -m --propagation private "$0" "$@"
fi
. "$(dirname "$0")/../lib/libtest.sh"
. "$(dirname "$0")/../lib/berthd.sh"
leak_begin
berthd_setup
[ -x "${BERTHCTL:-}" ] || { echo "1..0 # SKIP berthctl not built"; exit 0; }
for t in mkfs.btrfs mkfs.ext4 losetup btrfs; do
	command -v $t >/dev/null || { echo "1..0 # SKIP $t not installed"; exit 0; }
done
grep -qw btrfs /proc/filesystems || modprobe btrfs 2>/dev/null
grep -qw btrfs /proc/filesystems || { echo "1..0 # SKIP the kernel has no btrfs"; exit 0; }

export BERTH_STATE_DIR=$SCRATCH/state
MAX=18446744073709551615
IA=org.freedesktop.DBus.Error.InvalidArgs
NOSUCH=org.berth.machine1.NoSuchImage
BUSY=org.berth.machine1.ImageBusy
NOTSUP=org.freedesktop.DBus.Error.NotSupported

# Loop-mounted file systems: the image files we attached; their loop devices are detached by
# file (loop_detach_file), since a device name may have passed on to someone else.
LOOPS=()
MOUNTS=()
on_cleanup 'for m in "${MOUNTS[@]}"; do chattr -R -i "$m" 2>/dev/null; umount "$m" 2>/dev/null || umount -l "$m"; done; for l in "${LOOPS[@]}"; do loop_detach_file "$l"; done; true'
mkpool() { # FSTYPE DIR SIZE
	local img=$SCRATCH/$1.img dev
	truncate -s "$3" "$img"
	"mkfs.$1" -q "$img" >/dev/null 2>&1 || mkfs."$1" -q -F "$img" >/dev/null
	dev=$(losetup --find --show "$img") || return 1
	LOOPS+=("$img")
	mkdir -p "$2"
	mount "$dev" "$2" && MOUNTS+=("$2")
}
restart_berthd() { # POOL
	[ -n "${BERTHD_PID:-}" ] && { kill -9 "$BERTHD_PID"; wait "$BERTHD_PID" 2>/dev/null; }
	export BERTH_IMAGE_POOL=$1
	start_berthd
}
bcall() {
	busctl --address="$BUS" --json=short call org.berth.machine1 /org/berth/machine1 \
		org.berth.machine1.Manager "$@" 2>&1
}
icall() { # NAME METHOD [SIG ARGS...]
	busctl --address="$BUS" --json=short call org.berth.machine1 "/org/berth/machine1/image/$1" \
		org.berth.machine1.Image "${@:2}" 2>&1
}
iprop() {
	busctl --address="$BUS" get-property org.berth.machine1 "/org/berth/machine1/image/$1" \
		org.berth.machine1.Image "$2" 2>&1 | cut -d' ' -f2-
}
images() {
	busctl --address="$BUS" --json=short call org.berth.machine1 /org/berth/machine1 \
		org.berth.machine1.Manager ListImages |
		python3 -c 'import json,sys; [print(i[0], i[1], i[2], i[5]) for i in sorted(json.load(sys.stdin)["data"][0])]'
}
bc() { DBUS_SYSTEM_BUS_ADDRESS=$BUS "$BERTHCTL" --no-pager --no-ask-password "$@"; }
used() { sync; btrfs filesystem sync "$1" >/dev/null 2>&1; df -B1 --output=used "$1" | tail -1; }
subvol() { [ "$(stat -c %i "$1")" = 256 ] && [ "$(stat -f -c %T "$1")" = btrfs ]; }

# ================= btrfs pool =================
BP=$SCRATCH/btrfs
mkpool btrfs "$BP" 1G || { echo "1..0 # SKIP could not make a btrfs loop mount"; exit 0; }
btrfs subvolume create "$BP/sv" >/dev/null
mk_busybox_tree "$BP/sv"
head -c $((64 << 20)) /dev/urandom >"$BP/sv/blob"
mkdir "$BP/plain"
check "berthd starts on a btrfs pool" restart_berthd "$BP"

check_eq "$(images | grep -E '^(sv|plain) ' | cut -d' ' -f1-3)" "plain directory False
sv subvolume False" "a subvolume image is listed as subvolume, a directory as directory"
check_eq "$(iprop sv Type) $(iprop sv Limit)" "\"subvolume\" $MAX" "Type subvolume; no limit without quota"

before=$(used "$BP")
t0=$(date +%s%N)
check_eq "$(bcall CloneImage ssb sv sv2 false)" '' "CloneImage of a subvolume"
t1=$(date +%s%N)
after=$(used "$BP")
check "the clone is a subvolume" subvol "$BP/sv2"
check "it shares the extents: less than 8 MiB more used for 64 MiB of data" \
	test $((after - before)) -lt $((8 << 20))
diag "clone of the subvolume: $(((t1 - t0) / 1000000)) ms, $(((after - before) >> 10)) KiB more used"
check "the clone has the same content" cmp -s "$BP/sv/blob" "$BP/sv2/blob"
check "no '.#' leftover after the clone" eval "! ls -A '$BP' | grep -q '^\\.#'"
check_eq "$(bcall CloneImage ssb sv svro true)" '' "CloneImage read-only"
check_eq "$(btrfs property get "$BP/svro" ro)" "ro=true" "the read-only clone is a read-only snapshot"

# Nested subvolumes: rm -rf could not remove them (other devices), the removal must.
btrfs subvolume create "$BP/sv2/nested" >/dev/null
mkdir -p "$BP/sv2/deep/er"
btrfs subvolume create "$BP/sv2/deep/er/n2" >/dev/null
btrfs subvolume create "$BP/sv2/deep/er/n2/n3" >/dev/null
btrfs property set "$BP/sv2/deep/er/n2" ro true
check_eq "$(bcall RemoveImage s sv2)" '' "RemoveImage of a subvolume with nested subvolumes"
check "it is gone" wait_for 10 test ! -e "$BP/sv2"
check_eq "$(btrfs subvolume list "$BP" | grep -c -E 'sv2|nested|n2|n3')" 0 "and so are the nested subvolumes"
check_eq "$(bcall RemoveImage s svro)" '' "RemoveImage of a read-only subvolume"
wait_for 10 test ! -e "$BP/svro"

check_eq "$(bcall MarkImageReadOnly sb sv true)" '' "MarkImageReadOnly on a subvolume"
check_eq "$(btrfs property get "$BP/sv" ro) $(iprop sv ReadOnly)" "ro=true true" "sets the subvolume's flag"
bcall MarkImageReadOnly sb sv false >/dev/null
check_eq "$(btrfs property get "$BP/sv" ro) $(iprop sv ReadOnly)" "ro=false false" "and clears it"

check_eq "$(bcall SetImageLimit st sv $((100 << 20)))" '' "SetImageLimit on a subvolume"
check_eq "$(iprop sv Limit)" "$((100 << 20))" "Limit shows it"
sync
usage=$(iprop sv Usage)
check "Usage is a number (the qgroup's, about 64 MiB)" \
	test "$usage" != "$MAX" -a "$usage" -gt $((60 << 20)) -a "$usage" -lt $((100 << 20))
check "UsageExclusive is a number" test "$(iprop sv UsageExclusive)" != "$MAX"
out=$(dd if=/dev/urandom of="$BP/sv/fill" bs=1M count=80 conv=fsync 2>&1)
check "a write beyond the limit fails with EDQUOT inside the image" eval "echo \"\$out\" | grep -q 'quota exceeded'"
rm -f "$BP/sv/fill"
check_eq "$(icall sv SetLimit t 0 >/dev/null; iprop sv Limit)" "0" "Image.SetLimit"
check_eq "$(icall sv SetLimit t $MAX >/dev/null; iprop sv Limit)" "$MAX" "SetLimit UINT64_MAX removes the limit"
err=$(bcall SetImageLimit st plain 1000000)
check "SetImageLimit on a directory on btrfs: NotSupported, saying why" \
	eval "echo \"\$err\" | grep -q 'Image plain is a directory on btrfs; limits need a btrfs subvolume'"
check_eq "$(btrfs qgroup show "$BP" 2>/dev/null | grep -c ' 0/5 ' ; true)" "0" "no qgroup was made for it" 2>/dev/null

# A directory image (no subvolume) holding subvolumes, as systemd-tmpfiles makes them on btrfs.
mkdir -p "$BP/dirsv/var/lib"
btrfs subvolume create "$BP/dirsv/var/lib/machines" >/dev/null
btrfs subvolume create "$BP/dirsv/var/lib/machines/inner" >/dev/null
echo x >"$BP/dirsv/var/lib/machines/inner/file"
# Its clone keeps them, as subvolumes, and is itself a subvolume (as machined makes it), so that
# its own clones are snapshots.
check_eq "$(bcall CloneImage ssb dirsv dirsv2 false)" '' "CloneImage of a directory image holding subvolumes"
check_eq "$(cat "$BP/dirsv2/var/lib/machines/inner/file" 2>&1)" x "the nested subvolumes' contents come along"
check "as subvolumes" subvol "$BP/dirsv2/var/lib/machines/inner"
check_eq "$(iprop dirsv2 Type)" '"subvolume"' "the clone of a directory image on btrfs is a subvolume"
check_eq "$(bcall RemoveImage s dirsv2)" '' "which is removed with the ones nested in it"
check "all gone" wait_for 10 eval "[ ! -e '$BP/dirsv2' ] && ! btrfs subvolume list '$BP' | grep -q dirsv2"
check_eq "$(bcall RemoveImage s dirsv)" '' "RemoveImage of a directory image holding subvolumes"
# An imported tree is made a subvolume as well.
mkdir -p "$SCRATCH/imptree/etc" && echo imported >"$SCRATCH/imptree/etc/hostname"
check "import-fs into the btrfs pool" bc -q import-fs "$SCRATCH/imptree" imp
check "makes a subvolume" subvol "$BP/imp"
check_eq "$(cat "$BP/imp/etc/hostname" 2>&1)" imported "with the tree's contents"
check_eq "$(bcall RemoveImage s imp)" '' "and it is removed as one"
check "it is gone with them" wait_for 10 eval "[ ! -e '$BP/dirsv' ] && ! ls -A '$BP' | grep -q '^\\.#' && ! btrfs subvolume list '$BP' | grep -q machines"

# berthctl on subvolumes: list, status, set-limit.
out=$(bc list-images)
check "list-images shows the type and usage" eval "echo \"\$out\" | grep -qE '^sv +subvolume +no +[0-9.]+[KMG] '"
check "set-limit NAME BYTES" eval "bc set-limit sv 200M && [ \"\$(iprop sv Limit)\" = $((200 << 20)) ]"
check "image-status shows the limit" eval "bc image-status sv | grep -qE 'Limit: 200(\\.0)?M'"
bc image-status sv | sed 's/^/# /' >&2
bc set-limit plain 1G >/dev/null 2>&1; rc=$?
check_eq "$rc" 1 "set-limit on a directory fails"

# ================= ext4 pool: limits refused; raw images =================
EP=$SCRATCH/ext4
mkpool ext4 "$EP" 512M || { not_ok "could not make an ext4 loop mount"; }
mk_busybox_tree "$EP/dir"
check "berthd restarts on an ext4 pool" restart_berthd "$EP"
m_before=$(find "$EP/dir" -printf '%p %s %m\n' | sort | md5sum)
err=$(bcall SetImageLimit st dir 1000000)
check_eq "$(echo "$err" | sed -n 's/.*\(org[^:]*\)$/\1/p;s/^Call failed: //p' | head -1)" \
	"Image dir is a directory on ext4; limits need a btrfs subvolume" "SetImageLimit on ext4: the reason"
check "and nothing changed" test "$(find "$EP/dir" -printf '%p %s %m\n' | sort | md5sum)" = "$m_before" \
	-a "$(iprop dir Limit)" = "$MAX"

# A bare ext4 file system as a raw image, with identity files inside.
RT_TREE=$SCRATCH/rawtree
mkdir -p "$RT_TREE/etc" "$RT_TREE/usr/lib"
printf 'NAME="Raw OS"\nPRETTY_NAME="Raw OS 1"\nID=rawos\n' >"$RT_TREE/usr/lib/os-release"
ln -s ../usr/lib/os-release "$RT_TREE/etc/os-release"
echo rawhost >"$RT_TREE/etc/hostname"
truncate -s 64M "$EP/disk.raw"
mkfs.ext4 -q -d "$RT_TREE" "$EP/disk.raw"
check_eq "$(images | grep '^disk ')" "disk raw False $(($(stat -c %b "$EP/disk.raw") * 512))" \
	"NAME.raw is listed as raw under NAME, its usage the allocated bytes"
check_eq "$(iprop disk Limit) $(iprop disk Path)" "$((64 << 20)) \"$EP/disk.raw\"" "Limit is its size, Path the file"
check_eq "$(bcall RenameImage ss disk disk2)" '' "RenameImage of a raw image"
check "rename keeps .raw" test -f "$EP/disk2.raw" -a ! -e "$EP/disk.raw" -a ! -e "$EP/disk2"
check_eq "$(error_of call GetImage disk2.raw)" "$NOSUCH" "the file's own name is no image name"
check_eq "$(bcall CloneImage ssb disk2 disk3 false)" '' "CloneImage of a raw image"
check "the clone is NAME.raw with the same bytes" cmp -s "$EP/disk2.raw" "$EP/disk3.raw"
check "the clone stays sparse" test "$(stat -c %b "$EP/disk3.raw")" -lt $((32 << 11))
check_eq "$(bcall MarkImageReadOnly sb disk3 true; iprop disk3 ReadOnly)" 'true' "MarkImageReadOnly on a raw image (chattr +i)"
check "the file is immutable" eval "lsattr '$EP/disk3.raw' | cut -d' ' -f1 | grep -q i"
check_eq "$(bcall RemoveImage s disk3)" '' "RemoveImage of a raw (read-only) image"
check "it is gone" wait_for 10 test ! -e "$EP/disk3.raw"
check_eq "$(error_of call GetImage disk3)" "$NOSUCH" "and unknown"
err=$(bcall SetImageLimit st disk2 1000000)
check "SetImageLimit on a raw image: NotSupported" eval "echo \"\$err\" | grep -q 'is a raw disk image on ext4'"
check_eq "$(ls -A "$EP" | grep -c '^\.#')" 0 "no '.#' leftovers"
check "list-images shows raw" eval "bc list-images | grep -qE '^disk2 +raw +no'"

# Metadata of a raw image: dissected and mounted read-only in a worker.
# Loop devices of files of ours only: other tests attach their own at the same time.
ourloops() { losetup -a | grep -F "$SCRATCH/" | cut -d: -f1 | sort; }
loops_before=$(ourloops)
osr=$(bcall GetImageOSRelease s disk2)
check "GetImageOSRelease of a bare raw image" eval "echo \"\$osr\" | grep -q '\"PRETTY_NAME\":\"Raw OS 1\"'"
check_eq "$(bcall GetImageHostname s disk2)" '{"type":"s","data":["rawhost"]}' "GetImageHostname of a raw image"
check_eq "$(ourloops)" "$loops_before" "no loop device left attached"
if command -v sfdisk >/dev/null; then
	# A GPT image whose root partition (x86-64 root type) holds the same tree.
	truncate -s 80M "$EP/gpt.raw"
	echo 'label: gpt
start=2048, size=131072, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709' | sfdisk -q "$EP/gpt.raw" >/dev/null
	truncate -s 64M "$SCRATCH/part.img"
	printf 'PRETTY_NAME="GPT OS"\n' >"$RT_TREE/usr/lib/os-release"
	mkfs.ext4 -q -d "$RT_TREE" "$SCRATCH/part.img"
	dd if="$SCRATCH/part.img" of="$EP/gpt.raw" bs=1M seek=1 conv=notrunc,sparse status=none
	osr=$(bcall GetImageOSRelease s gpt)
	if [ "$(uname -m)" = x86_64 ]; then
		check "GetImageOSRelease of a GPT image" eval "echo \"\$osr\" | grep -q '\"PRETTY_NAME\":\"GPT OS\"'"
	else
		skip "GetImageOSRelease of a GPT image" "the test's partition type is x86-64's"
	fi
	check_eq "$(ourloops)" "$loops_before" "no loop device left attached"
else
	skip "GetImageOSRelease of a GPT image" "sfdisk is not installed"
fi
# A block device image: a pool symlink to a read-only loop device of disk2.raw.
BLK=$(losetup --find --show --read-only "$EP/disk2.raw") && LOOPS+=("$EP/disk2.raw")
if [ -n "$BLK" ]; then
	ln -s "$BLK" "$EP/blk"
	check_eq "$(images | grep '^blk ')" "blk block True $((64 << 20))" \
		"a symlink to a block device is a block image: read-only device, its size as usage"
	check_eq "$(bcall GetImageHostname s blk)" '{"type":"s","data":["rawhost"]}' "GetImageHostname of a block device"
	check_eq "$(error_of call CloneImage blk blk2 false)" "$NOTSUP" "CloneImage of a block device: NotSupported"
	check_eq "$(bcall RemoveImage s blk)" '' "RemoveImage of a block image"
	check "removes the symlink only" test ! -e "$EP/blk" -a -b "$BLK"
	loop_detach_file "$EP/disk2.raw"
fi
printf 'garbage that is no file system' >"$EP/junk.raw"
err=$(bcall GetImageOSRelease s junk)
check "a raw image without a file system: an error, not a hang" eval "echo \"\$err\" | grep -qi 'fail\\|no file system'"

# ================= A05: hostile metadata in a directory image =================
H=$EP/hostile
mkdir -p "$H/etc" "$H/srv" "$H/usr/lib"
ln -s /etc/shadow "$H/etc/os-release"
printf 'PRETTY_NAME="Image OS"\n' >"$H/usr/lib/os-release"
ln -s /srv/name "$H/etc/hostname"
echo imagehost >"$H/srv/name"
truncate -s 1G "$H/etc/machine-id"
mkfifo "$H/etc/machine-info"
rss() { awk '/^VmHWM/ {print $2}' "/proc/$BERTHD_PID/status"; }
rss0=$(rss)
t0=$(date +%s%N)
osr=$(bcall GetImageOSRelease s hostile)
check "os-release -> /etc/shadow: the image's own (missing) shadow, never the host's" \
	eval "! echo \"\$osr\" | grep -q 'root:' && echo \"\$osr\" | grep -q 'Image OS'"
check_eq "$(bcall GetImageHostname s hostile)" '{"type":"s","data":["imagehost"]}' \
	"hostname -> an absolute path: resolved inside the image"
err=$(bcall GetImageMachineID s hostile)
check "a 1 GiB machine-id: an error, not read" eval "echo \"\$err\" | grep -q 'larger than 65536'"
err=$(timeout 10 busctl --address="$BUS" call org.berth.machine1 /org/berth/machine1 \
	org.berth.machine1.Manager GetImageMachineInfo s hostile 2>&1)
check "a FIFO as machine-info: an error, no hang" eval "echo \"\$err\" | grep -q 'not a regular file'"
t1=$(date +%s%N)
check "answered quickly (< 2 s for all)" test $(((t1 - t0) / 1000000)) -lt 2000
check "berthd's peak memory did not grow by more than 4 MiB" test $(($(rss) - rss0)) -lt 4096
ln -sf ../../../../../../etc/hostname "$H/srv/name2"
ln -sf /srv/name2 "$H/etc/hostname"
out=$(bcall GetImageHostname s hostile)
check "a ../ chain out of the image stays inside" eval "! echo \"\$out\" | grep -q \"\$(hostname)\" || [ \"\$(hostname)\" = '' ]"

# Well-formed metadata, through the Manager and the Image object.
mk_busybox_tree "$EP/good"
mkdir -p "$EP/good/etc"
echo goodhost >"$EP/good/etc/hostname"
echo 0123456789abcdef0123456789abcdef >"$EP/good/etc/machine-id"
printf 'PRETTY_HOSTNAME="Good one"\nCHASSIS=container\n' >"$EP/good/etc/machine-info"
printf 'ID=good\nPRETTY_NAME="Good OS"\n' >"$EP/good/etc/os-release"
check_eq "$(icall good GetHostname)" '{"type":"s","data":["goodhost"]}' "Image.GetHostname"
check_eq "$(icall good GetMachineID)" '{"type":"ay","data":[[1,35,69,103,137,171,205,239,1,35,69,103,137,171,205,239]]}' \
	"Image.GetMachineID: 16 bytes"
check_eq "$(icall good GetMachineInfo)" '{"type":"a{ss}","data":[{"PRETTY_HOSTNAME":"Good one","CHASSIS":"container"}]}' \
	"Image.GetMachineInfo"
check_eq "$(bcall GetImageOSRelease s good)" '{"type":"a{ss}","data":[{"ID":"good","PRETTY_NAME":"Good OS"}]}' \
	"GetImageOSRelease"
check_eq "$(bcall GetImageMachineID s dir)" '{"type":"ay","data":[[]]}' "no machine-id: an empty array"
check_eq "$(error_of call GetImageHostname nope)" "$NOSUCH" "metadata of an unknown image: NoSuchImage"
check "image-status shows OS, hostname and machine ID" \
	eval "bc image-status good | grep -q 'OS: Good OS' && bc image-status good | grep -q 'Hostname: goodhost' && bc image-status good | grep -q 'Machine ID: 0123456789abcdef0123456789abcdef'"

# ================= ImageBusy from the image lock =================
# Whether anyone holds a lock on $1, from /proc/locks: probing with flock itself could make a
# berth-spawn starting at that moment fail.
locked() {
	grep -q " $(python3 -c 'import os, sys; s = os.stat(sys.argv[1]); print("%02x:%02x:%d" % (os.major(s.st_dev), os.minor(s.st_dev), s.st_ino))' "$1") " /proc/locks
}
# Any lock holder (this is what berth-spawn takes for its whole run) makes berthd refuse.
# The lock holder is the sleep itself (exec), so killing it closes the file.
(exec 9<"$EP/disk2.raw"; flock -s 9; exec sleep 300) &
FL=$!; PIDS+=($FL)
wait_for 5 locked "$EP/disk2.raw"
check_eq "$(error_of call RemoveImage disk2) $(error_of call RenameImage disk2 disk9)" "$BUSY $BUSY" \
	"a locked raw image: RemoveImage and RenameImage fail with ImageBusy"
check "and nothing changed" test -f "$EP/disk2.raw" -a ! -e "$EP/disk9.raw"
kill $FL; wait $FL 2>/dev/null

mk_busybox_tree "$EP/busy"
bg_spawn busy --register=no -D "$EP/busy" -M "$P-busy" /bin/sleep 300
if wait_for 10 locked "$EP/busy"; then
	check_eq "$(error_of call RemoveImage busy) $(error_of call RenameImage busy busy2)" "$BUSY $BUSY" \
		"an image a berth-spawn (not registered) runs from: ImageBusy"
	check_eq "$(error_of call MarkImageReadOnly busy false)" "$BUSY" "MarkImageReadOnly(false): ImageBusy"
	check "and the image is untouched" test -d "$EP/busy/bin" -a ! -e "$EP/busy2"
else
	skip "an image a berth-spawn (not registered) runs from: ImageBusy" \
		"this berth-spawn took no image lock ($(tail -1 "$SCRATCH/busy.out"))"
fi
kill "$(spawn_pid "$SPAWN")" 2>/dev/null; wait_for 20 dead "$SPAWN"
wait_for 5 eval "! locked '$EP/busy'"
check_eq "$(bcall RenameImage ss busy busy2)" '' "once it exits, rename works"

# The snapshot store name is never an image.
mkdir -p "$EP/.snapshots/x"
check "'.snapshots' is not listed" eval "! images | grep -q '^\\.snapshots '"
check_eq "$(error_of call GetImage .snapshots)" "$NOSUCH" "nor found"

# ================= copy_tree: a symlink's own xattrs =================
mk_busybox_tree "$EP/xsrc"
ln -s /bin/sh "$EP/xsrc/lnk"
lxattr() { # PATH [VALUE]: a symlink's own trusted.berth attribute, set or read
	python3 -c 'import os, sys
if len(sys.argv) > 2: os.setxattr(sys.argv[1], "trusted.berth", sys.argv[2].encode(), follow_symlinks=False)
else: print(os.getxattr(sys.argv[1], "trusted.berth", follow_symlinks=False).decode())' "$@" 2>&1
}
if lxattr "$EP/xsrc/lnk" linkattr >/dev/null; then
	bcall CloneImage ssb xsrc xdst false >/dev/null
	check_eq "$(lxattr "$EP/xdst/lnk")" "linkattr" "a clone keeps a symlink's own xattrs"
else
	skip "a clone keeps a symlink's own xattrs" "setting trusted.* on a symlink was refused here"
fi

berthd_teardown
# The container's last processes and berthd's workers may hold the pool a moment longer.
holders() {
	local p
	for p in /proc/[0-9]*; do
		{ ls -l $p/fd; readlink $p/cwd $p/root; } 2>/dev/null | grep -q "$1" && diag "held by ${p#/proc/} $(cat $p/comm 2>/dev/null) $(tr '\0' ' ' <$p/cmdline 2>/dev/null)"
	done
}
for m in "${MOUNTS[@]}"; do wait_for 10 umount "$m" 2>/dev/null || holders "$m"; done; MOUNTS=()
for l in "${LOOPS[@]}"; do loop_detach_file "$l"; done; LOOPS=()
leak_check
tap_done
