#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Snapshots of images (issue 5): made in <pool>/.snapshots/IMAGE/SNAPSHOT keeping everything a
# tree is made of, independent of the image, listed, restored exactly (swapped in, the snapshot
# kept), removed; default names; bad names, unknown images and snapshots; ImageBusy for a
# running machine's image; snapshots follow renames and removals; a worker killed mid-snapshot
# leaves nothing visible and its leftover goes at the next start; read-only subvolume
# snapshots on a btrfs pool; the berthctl verbs.
. "$(dirname "$0")/../lib/libtest.sh"
. "$(dirname "$0")/../lib/berthd.sh"
leak_begin
berthd_setup
[ -x "${BERTHCTL:-}" ] || { echo "1..0 # SKIP berthctl not built"; exit 0; }

berthd_scratch_pool
ST=$POOL/.snapshots

IA=org.freedesktop.DBus.Error.InvalidArgs
EXISTS=org.freedesktop.DBus.Error.FileExists
NOSUCH=org.berth.machine1.NoSuchImage
NOSNAP=org.berth.machine1.NoSuchSnapshot
BUSY=org.berth.machine1.ImageBusy
DENIED=org.freedesktop.DBus.Error.AccessDenied

# The base image: a busybox tree plus one of everything a snapshot must keep.
B=$POOL/base
mk_busybox_tree "$B"
mkdir -p "$B/data"
echo one >"$B/data/link-a"
ln "$B/data/link-a" "$B/data/link-b"
ln -s ../etc/os-release "$B/data/sym"
mknod "$B/data/null" c 1 3
echo owned >"$B/data/owned"
chown 1234:5678 "$B/data/owned"
chown -h 4321:8765 "$B/data/sym"
install -m 4755 /dev/null "$B/data/setuid"
chmod 1777 "$B/data"
python3 -c 'import os, sys
os.setxattr(sys.argv[1], "user.berth", b"hello")
f = open(sys.argv[2], "wb"); f.seek(16 << 20); f.write(b"end"); f.close()' "$B/data/owned" "$B/data/sparse"
touch -d '2001-02-03 04:05:06' "$B/data/owned" "$B/data"

# One line per entry: path, mode, owner, size, mtime, link target or device or checksum, xattrs;
# the hard-link groups on a last line. Equal manifests are equal trees.
manifest() {
	python3 - "$1" <<'PY'
import hashlib, os, stat, sys
root = sys.argv[1]
out, inodes = [], {}
for d, dirs, files in os.walk(root):
    for n in [""] + dirs + files if d == root else dirs + files:
        p = os.path.join(d, n) if n else d
        st = os.lstat(p)
        rel = os.path.relpath(p, root)
        extra = ""
        if stat.S_ISREG(st.st_mode):
            extra = hashlib.md5(open(p, "rb").read()).hexdigest()
            if st.st_nlink > 1:
                inodes.setdefault(st.st_ino, []).append(rel)
        elif stat.S_ISLNK(st.st_mode):
            extra = os.readlink(p)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            extra = "%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
        try:
            x = ",".join(sorted(k + "=" + os.getxattr(p, k, follow_symlinks=False).hex()
                                for k in os.listxattr(p, follow_symlinks=False)))
        except OSError:
            x = "?"
        mtime = st.st_mtime_ns // 1000 if not stat.S_ISDIR(st.st_mode) or rel != "." else 0
        out.append("%s %o %d:%d %d %d %s %s" % (rel, st.st_mode, st.st_uid, st.st_gid,
                                                 st.st_size if not stat.S_ISDIR(st.st_mode) else 0,
                                                 mtime, extra, x))
out.sort()
out.append("links " + " ".join(sorted(",".join(sorted(v)) for v in inodes.values())))
print("\n".join(out))
PY
}
ino() { stat -c %i "$1"; }
snaps() {
	busctl --address="$BUS" --json=short call org.berth.machine1 /org/berth/machine1 \
		org.berth.machine1.Manager ListImageSnapshots s "$1" |
		python3 -c 'import json,sys; [print(*i) for i in json.load(sys.stdin)["data"][0]]'
}
snapnames() { snaps "$1" | cut -d' ' -f1 | tr '\n' ' '; }
asnobody() { runuser -u nobody -- gdbus call --address "$BUS" --dest org.berth.machine1 \
	--object-path /org/berth/machine1 --method org.berth.machine1.Manager."$1" -- "${@:2}" 2>&1; }
bc() { DBUS_SYSTEM_BUS_ADDRESS=$BUS "$BERTHCTL" --no-pager --no-ask-password "$@"; }
hidden_left() { find "$POOL" "$ST" -maxdepth 2 -name '.#*' 2>/dev/null | grep -q .; }

# Leftovers of operations interrupted before this start: a half-made snapshot and the store of
# an image caught in the middle of its removal.
mkdir -p "$ST/base/.#s0.0badf00d/x" "$ST/.#remove.gone.12345678/s/y"
check "berthd starts" start_berthd
check "the leftovers in the snapshot store are removed at start" \
	eval "[ ! -e '$ST/base/.#s0.0badf00d' ] && [ ! -e '$ST/.#remove.gone.12345678' ]"
check "the store is not an image" eval "! call ListImages | grep -q snapshots"

# ---- snapshot, independence, list ----
orig=$(manifest "$B")
t0=$(date +%s)
check_eq "$(call SnapshotImage base s1)" "('s1',)" "SnapshotImage answers with the name once done"
check_eq "$(manifest "$ST/base/s1")" "$orig" \
	"the snapshot has the same contents, owners, modes, times, devices, xattrs and hard links"
check "the snapshot's files are new inodes" test "$(ino "$ST/base/s1/data/link-a")" != "$(ino "$B/data/link-a")"
check_eq "$(stat -c %a "$ST" "$ST/base" | tr '\n' ' ')" "700 700 " "the store is private (0700)"

echo changed >"$B/data/link-a"
rm "$B/data/owned"
echo new >"$B/new-file"
chmod 700 "$B/data"
check_eq "$(manifest "$ST/base/s1")" "$orig" "changes to the image after the snapshot leave it alone"

row=$(snaps base)
check_eq "$(echo "$row" | cut -d' ' -f1)" "s1" "ListImageSnapshots lists it"
created=$(($(echo "$row" | cut -d' ' -f2) / 1000000))
check "its creation time is when it was made ($created vs $t0)" \
	test "$created" -ge "$((t0 - 2))" -a "$created" -le "$(($(date +%s) + 1))"
check "its usage is a number (or unknown: UINT64_MAX)" eval "echo '$row' | grep -Eq '^s1 [0-9]+ [0-9]+$'"
check_eq "$(call ListImageSnapshots roclone 2>&1 | sed 's/.*GDBus\.Error:\([^:]*\):.*/\1/')" "$NOSUCH" \
	"ListImageSnapshots of an unknown image: NoSuchImage"

# ---- restore ----
before_ino=$(ino "$B")
check_eq "$(call RestoreImageSnapshot base s1)" "()" "RestoreImageSnapshot"
check_eq "$(manifest "$B")" "$orig" "the image is exactly the snapshot again"
check "the image was swapped in (a new top directory)" test "$(ino "$B")" != "$before_ino"
check_eq "$(manifest "$ST/base/s1")" "$orig" "the snapshot stays, unchanged"
check_eq "$(snapnames base)" "s1 " "and listed"
check "no '.#' leftovers in the pool or the store" eval "! hidden_left"
echo again >"$B/data/link-a"
check_eq "$(cat "$ST/base/s1/data/link-a" "$ST/base/s1/data/link-b" | tr '\n' ' ')" "one one " \
	"writing the restored image does not touch the snapshot"

# ---- errors ----
check_eq "$(error_of call SnapshotImage base s1)" "$EXISTS" "a snapshot name taken: FileExists"
check_eq "$(error_of call SnapshotImage nope s)" "$NOSUCH" "snapshot of an unknown image: NoSuchImage"
check_eq "$(error_of call RestoreImageSnapshot base nope)" "$NOSNAP" "restore of an unknown snapshot: NoSuchSnapshot"
check_eq "$(error_of call RemoveImageSnapshot base nope)" "$NOSNAP" "removal of an unknown snapshot: NoSuchSnapshot"
check_eq "$(error_of call RestoreImageSnapshot nope s1)" "$NOSUCH" "restore of an unknown image: NoSuchImage"
long=$(printf 'a%.0s' $(seq 256))
bad=0
for n in "'.'" "'..'" "'a/b'" "'../../etc'" "'.#tmp'" "'$long'" "'a\\nb'"; do
	for c in "SnapshotImage base $n" "SnapshotImage $n s" "RestoreImageSnapshot base $n" \
		"RemoveImageSnapshot base $n" "ListImageSnapshots $n" "RestoreImageSnapshot base ''"; do
		# shellcheck disable=SC2086
		e=$(eval "error_of asnobody $c")
		[ "$e" = "$IA" ] || { bad=1; diag "$c: $e"; }
	done
done
check_eq "$bad" 0 "bad image and snapshot names: InvalidArgs before polkit, for every method"
check_eq "$(error_of asnobody SnapshotImage base x)" "$DENIED" "nobody may not snapshot"
check_eq "$(error_of asnobody RestoreImageSnapshot base s1)" "$DENIED" "nobody may not restore"
check_eq "$(error_of asnobody RemoveImageSnapshot base s1)" "$DENIED" "nobody may not remove a snapshot"
check "nobody may list snapshots" eval "asnobody ListImageSnapshots base | grep -q \"'s1'\""
check "the refused calls changed nothing" eval "[ \"\$(snapnames base)\" = 's1 ' ] && [ ! -e '$ST/base/x' ]"

# ---- read-only images, pool symlinks, raw images ----
call CloneImage base roimg true >/dev/null
check_eq "$(call SnapshotImage roimg r)" "('r',)" "a read-only image may be snapshotted"
check_eq "$(error_of call RestoreImageSnapshot roimg r)" System.Error.EROFS "but not restored: EROFS"
check "the read-only image is untouched" test -d "$POOL/roimg/data"
call MarkImageReadOnly roimg false >/dev/null
call RemoveImage roimg >/dev/null
ln -s "$B" "$POOL/link"
check_eq "$(error_of call SnapshotImage link l)" org.freedesktop.DBus.Error.NotSupported \
	"a pool symlink is not snapshotted through"
rm "$POOL/link"
python3 -c 'import os, sys
f = open(sys.argv[1], "wb"); f.write(os.urandom(1 << 20)); f.seek(32 << 20); f.write(b"end"); f.close()' "$POOL/disk.raw"
if call GetImage disk | grep -q objectpath; then
	raw_sum=$(md5sum <"$POOL/disk.raw")
	check_eq "$(call SnapshotImage disk d1)" "('d1',)" "raw: SnapshotImage of a raw image"
	check_eq "$(md5sum <"$ST/disk/d1") $(stat -c %s "$ST/disk/d1")" "$raw_sum $(stat -c %s "$POOL/disk.raw")" \
		"raw: the snapshot is a copy of the file"
	check "raw: holes stay holes" test "$(du -k "$ST/disk/d1" | cut -f1)" -lt 8192
	check "raw: the list has its usage in bytes" eval "snaps disk | grep -Eq '^d1 [0-9]+ [0-9]{6,}$'"
	dd if=/dev/zero of="$POOL/disk.raw" bs=1k count=4 conv=notrunc status=none
	check_eq "$(call RestoreImageSnapshot disk d1)" "()" "raw: RestoreImageSnapshot"
	check_eq "$(md5sum <"$POOL/disk.raw")" "$raw_sum" "raw: the file is the snapshot again, under its name"
	check "raw: no '.#' leftovers" eval "! hidden_left"
	call RemoveImageSnapshot disk d1 >/dev/null
else
	skip "raw: snapshots of a raw image" "this berthd does not know raw images (NAME.raw) yet"
fi
rm -f "$POOL/disk.raw"

# ---- default names ----
name=$(call SnapshotImage base "''" | sed -n "s/^('\(.*\)',)$/\1/p")
check "the default name is the UTC time ($name)" \
	eval "[[ '$name' =~ ^[0-9]{8}-[0-9]{6}$ ]] && [ -d '$ST/base/$name' ]"
# Take the names of the next seconds, so that the next default name clashes.
for i in 0 1 2 3 4 5 6 7 8 9; do mkdir -p "$ST/base/$(date -u -d "@$(($(date +%s) + i))" +%Y%m%d-%H%M%S)"; done
name2=$(call SnapshotImage base "''" | sed -n "s/^('\(.*\)',)$/\1/p")
check "a clash appends -N ($name2)" eval "[[ '$name2' =~ ^[0-9]{8}-[0-9]{6}-1$ ]] && [ -d '$ST/base/$name2/data' ]"
check "the list has s1 and both default names" \
	eval "snapnames base | grep -q 's1 .*$name .*$name2 '"
for d in "$ST/base/"2*; do [ "$d" = "$ST/base/$name" ] || [ "$d" = "$ST/base/$name2" ] || rmdir "$d"; done

# ---- remove ----
check_eq "$(call RemoveImageSnapshot base "$name")" "()" "RemoveImageSnapshot"
check "removed from disk and list" eval "[ ! -e '$ST/base/$name' ] && ! snapnames base | grep -q '$name '"
check_eq "$(error_of call RemoveImageSnapshot base "$name")" "$NOSNAP" "removing it again: NoSuchSnapshot"
check "no '.#' leftovers after the removal" eval "! hidden_left"

# ---- the Image object's methods ----
IMG=/org/berth/machine1/image/base
ocall() { busctl --address="$BUS" call org.berth.machine1 "$IMG" org.berth.machine1.Image "$@" 2>&1; }
check_eq "$(ocall Snapshot s o1)" 's "o1"' "Image.Snapshot"
check "Image.ListSnapshots" eval "ocall ListSnapshots | grep -q '\"o1\"'"
check_eq "$(ocall RestoreSnapshot s o1)" "" "Image.RestoreSnapshot"
check_eq "$(ocall RemoveSnapshot s o1)" "" "Image.RemoveSnapshot"
check "o1 is gone" test ! -e "$ST/base/o1"

# ---- ImageBusy: a running machine's image ----
call CloneImage base run false >/dev/null
call SnapshotImage run r1 >/dev/null
echo later >"$POOL/run/later"
run_m=$(manifest "$POOL/run")
bg_spawn run -D "$POOL/run" -M "$P-run" --console=pipe -- /bin/sh -c 'echo started; exec sleep 300'
if wait_for 15 listed "$P-run"; then
	check_eq "$(error_of call RestoreImageSnapshot run r1)" "$BUSY" \
		"restore of a registered running machine's image: ImageBusy"
	check_eq "$(manifest "$POOL/run")" "$run_m" "and nothing changed"
	check_eq "$(call SnapshotImage run r2)" "('r2',)" "a running machine's image may be snapshotted"
	call TerminateMachine "$P-run" >/dev/null
	wait "$SPAWN" 2>/dev/null
	wait_for 10 gone "$P-run"
else
	diag "$(cat "$SCRATCH/run.out")"
	not_ok "the machine on pool/run registered"
fi
# A machine berthd does not know of holds the image's lock all the same.
bg_spawn unreg -D "$POOL/run" -M "$P-unreg" --register=no --console=pipe -- /bin/sh -c 'echo started; exec sleep 300'
if wait_for 15 grep -q started "$SCRATCH/unreg.out"; then
	check_eq "$(error_of call RestoreImageSnapshot run r1)" "$BUSY" \
		"restore of an image an unregistered machine runs from (its lock): ImageBusy"
	check_eq "$(manifest "$POOL/run")" "$run_m" "and nothing changed"
	kill "$(spawn_pid "$SPAWN")" 2>/dev/null; wait_for 20 dead "$SPAWN"
else
	diag "$(cat "$SCRATCH/unreg.out")"
	not_ok "berth-spawn --register=no on pool/run started"
fi
check_eq "$(call RestoreImageSnapshot run r1)" "()" "once the machine is gone the restore works"
check "and the image is the snapshot" test ! -e "$POOL/run/later"

# ---- rename and removal of the image ----
check_eq "$(call RenameImage run run2)" "()" "RenameImage"
check_eq "$(snapnames run2)" "r1 r2 " "the snapshots follow the rename"
check "the old name has none" eval "[ ! -e '$ST/run' ] && [ -z \"\$(snapnames run 2>/dev/null)\" ]"
check_eq "$(call RemoveImage run2)" "()" "RemoveImage"
check "the snapshots went with the image" wait_for 10 test ! -e "$ST/run2"
call CloneImage base run2 false >/dev/null
check_eq "$(snapnames run2)" "" "a new image of that name has no snapshots"
call RemoveImage run2 >/dev/null
call CloneImage base .hid false >/dev/null
call SnapshotImage .hid h1 >/dev/null
check "CleanPool: the cleaned image's snapshots go too" \
	eval "[ -d '$ST/.hid/h1' ] && call CleanPool hidden | grep -q \"'.hid'\" && wait_for 10 test ! -e '$ST/.hid'"

# ---- a worker killed in the middle of a snapshot ----
python3 -c 'import os, sys
d = sys.argv[1]
os.makedirs(d)
blob = os.urandom(256 << 10)
for i in range(1500):
    with open(os.path.join(d, "f%d" % i), "wb") as f:
        f.write(blob)' "$POOL/big"
call SnapshotImage big sbig >"$SCRATCH/sbig.out" 2>&1 &
SNAP=$!
seen=0
for _ in $(seq 300); do
	ls -A "$ST/big" 2>/dev/null | grep -q '^\.#sbig\.' && { seen=1; break; }
	sleep 0.02
done
busy_rename=$(error_of call RenameImage big bigx)
worker=$(cat /proc/"$BERTHD_PID"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . | head -1)
[ -n "$worker" ] && kill -9 "$worker"
wait "$SNAP"
check_eq "$busy_rename" "$BUSY" "RenameImage of an image being snapshotted: ImageBusy"
if [ $seen = 1 ] && [ -n "$worker" ]; then
	check "killed mid-snapshot: the call failed" eval "grep -q Error '$SCRATCH/sbig.out'"
	check "no visible snapshot, only the hidden work tree" \
		eval "[ ! -e '$ST/big/sbig' ] && ls -A '$ST/big' | grep -q '^\\.#sbig\\.' && [ -z \"\$(snapnames big)\" ]"
else
	not_ok "the snapshot worker was caught in the middle (tree too small for this machine?)"
fi
kill -9 "$BERTHD_PID"; wait "$BERTHD_PID" 2>/dev/null
check "berthd starts again" start_berthd
check "after the restart the leftover is gone" eval "! ls -A '$ST/big' | grep -q '^\\.#'"
# While a restore runs, the image is busy: no copy may read the old tree as it is deleted.
call SnapshotImage big full >/dev/null
rm "$POOL/big/f1"
call RestoreImageSnapshot big full >"$SCRATCH/restore.out" 2>&1 &
RESTORE=$!
seen=0
for _ in $(seq 300); do
	ls -A "$POOL" | grep -q '^\.#restore\.big\.' && { seen=1; break; }
	sleep 0.02
done
during=$(error_of call SnapshotImage big during)
during_rename=$(error_of call RenameImage big bigx)
wait "$RESTORE"
if [ $seen = 1 ]; then
	check_eq "$during $during_rename" "$BUSY $BUSY" "during a restore, SnapshotImage and RenameImage: ImageBusy"
else
	not_ok "the restore was caught in the middle (tree too small for this machine?)"
fi
check_eq "$(cat "$SCRATCH/restore.out") $(find "$POOL/big" -type f | wc -l)" "() 1500" \
	"a big restore completes, with every file"
check "and leaves no '.#' tree" eval "! hidden_left"
# A restore killed in the middle leaves the image as it was.
rm "$POOL/big/f2"
call RestoreImageSnapshot big full >"$SCRATCH/restore2.out" 2>&1 &
RESTORE=$!
seen=0
for _ in $(seq 300); do
	ls -A "$POOL" | grep -q '^\.#restore\.big\.' && { seen=1; break; }
	sleep 0.02
done
worker=$(cat /proc/"$BERTHD_PID"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . | head -1)
[ -n "$worker" ] && kill -9 "$worker"
wait "$RESTORE"
if [ $seen = 1 ] && [ -n "$worker" ]; then
	check "killed mid-restore: the call failed, the image is as it was" \
		eval "grep -q Error '$SCRATCH/restore2.out' && [ ! -e '$POOL/big/f2' ] && [ \"\$(find '$POOL/big' -type f | wc -l)\" = 1499 ]"
else
	not_ok "the restore worker was caught in the middle (tree too small for this machine?)"
fi
kill -9 "$BERTHD_PID"; wait "$BERTHD_PID" 2>/dev/null
check "berthd starts again" start_berthd
check "after the restart the restore's leftover is gone" eval "! hidden_left"
call RemoveImage big >/dev/null

# ---- berthctl ----
out=$(bc snapshot base c1); rc=$?
check_eq "$rc $out" "0 c1" "snapshot NAME SNAPSHOT prints the name"
def=$(bc snapshot base)
check "snapshot NAME makes a default name" eval "[[ '$def' =~ ^[0-9]{8}-[0-9]{6}(-[0-9]+)?$ ]] && [ -d '$ST/base/$def' ]"
out=$(bc list-snapshots base)
check "list-snapshots: the header and the rows" \
	eval "echo \"\$out\" | head -1 | grep -Eq '^NAME +CREATED +USAGE' && echo \"\$out\" | grep -q '^c1 ' && echo \"\$out\" | grep -q '^s1 '"
check "list-snapshots -o json" eval "bc list-snapshots base -o json | python3 -c 'import json,sys
s = {x[\"name\"]: x for x in json.load(sys.stdin)[\"snapshots\"]}
assert isinstance(s[\"c1\"][\"created\"], int) and s[\"c1\"][\"created\"] > 0, s'"
echo ctl >"$B/ctl-file"
check "restore" eval "bc restore base c1 && [ ! -e '$B/ctl-file' ]"
check "remove-snapshot NAME SNAPSHOT..." \
	eval "bc remove-snapshot base c1 '$def' && [ ! -e '$ST/base/c1' ] && [ ! -e '$ST/base/$def' ]"
bc restore base nope >/dev/null 2>&1; rc=$?
check_eq "$rc" 3 "restore of an unknown snapshot: exit code 3"
bc list-snapshots nope >/dev/null 2>&1; rc=$?
check_eq "$rc" 3 "list-snapshots of an unknown image: exit code 3"
bc snapshot base 'a/b' >/dev/null 2>&1; rc=$?
check_eq "$rc" 2 "a bad snapshot name: exit code 2"
bc snapshot base s1 >/dev/null 2>&1; rc=$?
check_eq "$rc" 1 "a taken snapshot name: exit code 1"

. "$TESTS_SRC/../shell-completion/bash/berthctl"
comp() {
	COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
	PATH=$(dirname "$BERTHCTL"):$PATH DBUS_SYSTEM_BUS_ADDRESS=$BUS _berthctl
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}
check_eq "$(comp berthctl list-snap)" "list-snapshots " "completion: snapshot verbs"
check_eq "$(comp berthctl restore bas)" "base " "completion: the image of restore"
check_eq "$(comp berthctl restore base s)" "s1 " "completion: the snapshots of the image"

# ---- a btrfs pool: read-only subvolume snapshots ----
if ! command -v mkfs.btrfs >/dev/null || ! grep -qw btrfs /proc/filesystems; then
	skip "snapshots on a btrfs pool" "no mkfs.btrfs or no btrfs in this kernel"
else
	kill "$BERTHD_PID"; wait "$BERTHD_PID" 2>/dev/null
	BT=$SCRATCH/btrfs
	mkdir -p "$BT"
	truncate -s 512M "$SCRATCH/btrfs.img"
	mkfs.btrfs -q "$SCRATCH/btrfs.img" >/dev/null 2>&1
	LOOP=$(losetup --find --show "$SCRATCH/btrfs.img")
	on_cleanup "umount '$BT' 2>/dev/null; loop_detach_file '$SCRATCH/btrfs.img'; true"
	mount "$LOOP" "$BT"
	export BERTH_IMAGE_POOL=$BT
	btrfs subvolume create "$BT/sub" >/dev/null
	cp -a "$B/." "$BT/sub/"
	sub_m=$(manifest "$BT/sub")
	check "berthd starts on the btrfs pool" start_berthd
	check_eq "$(call SnapshotImage sub b1)" "('b1',)" "btrfs: SnapshotImage of a subvolume"
	check_eq "$(btrfs property get "$BT/.snapshots/sub/b1" ro 2>&1)" "ro=true" \
		"btrfs: the snapshot is a read-only subvolume"
	check "btrfs: it is a snapshot of the image" \
		eval "btrfs subvolume show '$BT/.snapshots/sub/b1' | grep -q 'Parent UUID:.*[0-9a-f]\{8\}-'"
	check_eq "$(manifest "$BT/.snapshots/sub/b1")" "$sub_m" "btrfs: the snapshot has the image's contents"
	t=$(snaps sub | cut -d' ' -f2)
	check "btrfs: its creation time is the subvolume's, not the image's" \
		test "$((t / 1000000))" -ge "$(($(date +%s) - 30))"
	echo x >"$BT/sub/new"
	rm -r "$BT/sub/data"
	check_eq "$(call RestoreImageSnapshot sub b1)" "()" "btrfs: RestoreImageSnapshot"
	check_eq "$(manifest "$BT/sub")" "$sub_m" "btrfs: the image is the snapshot again"
	check_eq "$(btrfs property get "$BT/sub" ro 2>&1)" "ro=false" "btrfs: the restored image is a writable subvolume"
	check "btrfs: the snapshot stays and the old subvolume is gone" \
		eval "[ -d '$BT/.snapshots/sub/b1/data' ] && [ \"\$(btrfs subvolume list -o '$BT' | wc -l)\" = 2 ]"
	check_eq "$(call RemoveImageSnapshot sub b1)" "()" "btrfs: RemoveImageSnapshot of a read-only subvolume"
	check "btrfs: removed" eval "[ ! -e '$BT/.snapshots/sub/b1' ] && [ \"\$(btrfs subvolume list -o '$BT' | wc -l)\" = 1 ]"
	kill "$BERTHD_PID"; wait "$BERTHD_PID" 2>/dev/null
	umount "$BT" && loop_detach_file "$SCRATCH/btrfs.img"
fi

berthd_teardown
leak_check

tap_done
