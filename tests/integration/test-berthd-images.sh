#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berthd's image pool (directory images) in a scratch pool ($BERTH_IMAGE_POOL): listing, the
# Image objects, clones that keep everything a tree is made of and are independent, rename,
# remove, read-only, ImageBusy for a running machine's root, bad names refused before polkit,
# pool symlinks, an interrupted clone leaving nothing visible, unprivileged callers, berthctl.
. "$(dirname "$0")/../lib/libtest.sh"
. "$(dirname "$0")/../lib/berthd.sh"
leak_begin
berthd_setup
[ -x "${BERTHCTL:-}" ] || { echo "1..0 # SKIP berthctl not built"; exit 0; }

berthd_scratch_pool

IA=org.freedesktop.DBus.Error.InvalidArgs
EXISTS=org.freedesktop.DBus.Error.FileExists
NOSUCH=org.berth.machine1.NoSuchImage
BUSY=org.berth.machine1.ImageBusy
DENIED=org.freedesktop.DBus.Error.AccessDenied
NOTSUP=org.freedesktop.DBus.Error.NotSupported

# The base image: a busybox tree plus one of everything a clone must keep.
B=$POOL/base
mk_busybox_tree "$B"
mkdir -p "$B/data"
echo one >"$B/data/link-a"
ln "$B/data/link-a" "$B/data/link-b"
ln -s ../etc/os-release "$B/data/sym"
mknod "$B/data/null" c 1 3
mkfifo "$B/data/fifo"
echo owned >"$B/data/owned"
chown 1234:5678 "$B/data/owned"
chown -h 4321:8765 "$B/data/sym"
install -m 4755 /dev/null "$B/data/setuid"
chmod 1777 "$B/data"
python3 -c 'import os, sys
os.setxattr(sys.argv[1], "user.berth", b"hello")
f = open(sys.argv[2], "wb"); f.seek(64 << 20); f.write(b"end"); f.close()' "$B/data/owned" "$B/data/sparse"
HAVE_ACL=0
setfacl -m u:4242:r "$B/data/owned" 2>/dev/null && HAVE_ACL=1
touch -d '2001-02-03 04:05:06' "$B/data/owned" "$B/data"

# One line per entry: path, type, mode, owner, size, link target, device numbers, xattrs and
# the content checksum; equal manifests are equal trees.
manifest() {
	python3 - "$1" <<'PY'
import hashlib, os, stat, sys
root = sys.argv[1]
out = []
for d, dirs, files in os.walk(root):
    for n in [""] + dirs + files if d == root else dirs + files:
        p = os.path.join(d, n) if n else d
        st = os.lstat(p)
        extra = ""
        if stat.S_ISREG(st.st_mode):
            extra = hashlib.md5(open(p, "rb").read()).hexdigest()
        elif stat.S_ISLNK(st.st_mode):
            extra = os.readlink(p)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            extra = "%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
        try:
            x = ",".join(sorted(k + "=" + os.getxattr(p, k, follow_symlinks=False).hex()
                                for k in os.listxattr(p, follow_symlinks=False)))
        except OSError:
            x = "?"
        out.append("%s %o %d:%d %d %d %s %s" % (os.path.relpath(p, root), st.st_mode, st.st_uid, st.st_gid,
                                                 st.st_size if not stat.S_ISDIR(st.st_mode) else 0,
                                                 st.st_mtime_ns // 1000, extra, x))
print("\n".join(sorted(out)))
PY
}
ino() { stat -c %i "$1"; }
iprop() {
	busctl --address="$BUS" get-property org.berth.machine1 "/org/berth/machine1/image/$1" \
		org.berth.machine1.Image "$2" 2>&1
}
images() {
	busctl --address="$BUS" --json=short call org.berth.machine1 /org/berth/machine1 \
		org.berth.machine1.Manager ListImages |
		python3 -c 'import json,sys; [print(*i) for i in sorted(json.load(sys.stdin)["data"][0])]'
}
asnobody() { runuser -u nobody -- gdbus call --address "$BUS" --dest org.berth.machine1 \
	--object-path /org/berth/machine1 --method org.berth.machine1.Manager."$1" -- "${@:2}" 2>&1; }
bc() { DBUS_SYSTEM_BUS_ADDRESS=$BUS "$BERTHCTL" --no-pager --no-ask-password "$@"; }
immutable() { lsattr -d "$1" 2>/dev/null | cut -d' ' -f1 | grep -q i; }

# A leftover of an earlier interrupted clone goes when berthd starts.
mkdir -p "$POOL/.#old.abcdef/x"
check "berthd starts" start_berthd
check "a leftover '.#' tree is removed at start" test ! -e "$POOL/.#old.abcdef"

# ---- list, get, properties ----
row=$(images | grep '^base ')
check_eq "$(echo "$row" | cut -d' ' -f2,3,6,7)" \
	"directory False 18446744073709551615 /org/berth/machine1/image/base" \
	"ListImages: type, writable, usage unknown, object path"
check "ListImages: modification time is the tree's" \
	test "$(($(echo "$row" | cut -d' ' -f5) / 1000000))" = "$(stat -c %Y "$B")"
check_eq "$(call GetImage base)" "(objectpath '/org/berth/machine1/image/base',)" "GetImage: the object path"
check_eq "$(error_of call GetImage nope)" "$NOSUCH" "GetImage of an unknown image: NoSuchImage"
check_eq "$(iprop base Name) $(iprop base Type) $(iprop base ReadOnly)" 's "base" s "directory" b false' \
	"Image properties: Name, Type, ReadOnly"
check_eq "$(iprop base Path)" "s \"$B\"" "Image property Path"

# ---- clone ----
before=$(manifest "$B")
check_eq "$(call CloneImage base copy false)" "()" "CloneImage answers once done"
after=$(manifest "$POOL/copy")
check_eq "$after" "$before" "the clone has the same contents, owners, modes, times, devices, xattrs"
check "the clone's hard link pair is one inode" \
	test "$(ino "$POOL/copy/data/link-a")" = "$(ino "$POOL/copy/data/link-b")"
check "the clone's files are new inodes" \
	test "$(ino "$POOL/copy/data/link-a")" != "$(ino "$B/data/link-a")"
check_eq "$(readlink "$POOL/copy/data/sym") $(stat -c %u:%g "$POOL/copy/data/sym")" \
	"../etc/os-release 4321:8765" "the symlink keeps its target and owner"
check_eq "$(stat -c '%F %t:%T' "$POOL/copy/data/null")" "character special file 1:3" "the device node is one"
check "the sparse file stays sparse (less than 1 MiB allocated of 64 MiB)" \
	test "$(du -k "$POOL/copy/data/sparse" | cut -f1)" -lt 1024
if [ $HAVE_ACL = 1 ]; then
	check "the ACL is kept" eval "getfacl -n '$POOL/copy/data/owned' 2>/dev/null | grep -q '^user:4242:r--'"
else
	skip "the ACL is kept" "setfacl refused on this file system"
fi
echo changed >"$POOL/copy/data/link-a"
check_eq "$(cat "$B/data/link-a")" "one" "writing the clone leaves the original alone"
check_eq "$(manifest "$B")" "$before" "the original is unchanged"

check_eq "$(error_of call CloneImage base copy false)" "$EXISTS" "CloneImage onto an existing name: FileExists"
copy_m=$(manifest "$POOL/copy")
check_eq "$(error_of call RenameImage base copy)" "$EXISTS" "RenameImage onto an existing name: FileExists"
check "both trees are byte-identical afterwards" \
	test "$(manifest "$B")" = "$before" -a "$(manifest "$POOL/copy")" = "$copy_m"
check_eq "$(ls -A "$POOL" | grep -c '^\.#')" 0 "no '.#' leftovers after the refused operations"

check_eq "$(call CloneImage base roclone true)" "()" "CloneImage with read_only"
check "the read-only clone is immutable (chattr +i) and says so" \
	eval "immutable '$POOL/roclone' && [ \"\$(iprop roclone ReadOnly)\" = 'b true' ]"

# ---- read-only, rename, remove ----
check_eq "$(call MarkImageReadOnly copy true)" "()" "MarkImageReadOnly true"
check "the image is immutable and ReadOnly" eval "immutable '$POOL/copy' && [ \"\$(iprop copy ReadOnly)\" = 'b true' ]"
check "nothing can be created in it" eval "! touch '$POOL/copy/new' 2>/dev/null"
check_eq "$(call MarkImageReadOnly copy false)" "()" "MarkImageReadOnly false"
check "the image is writable again" eval "! immutable '$POOL/copy' && [ \"\$(iprop copy ReadOnly)\" = 'b false' ]"

check_eq "$(call RenameImage roclone renamed)" "()" "RenameImage of a read-only image"
check "renamed: the new name is there and still read-only, the old one gone" \
	eval "[ -d '$POOL/renamed' ] && [ ! -e '$POOL/roclone' ] && immutable '$POOL/renamed'"
check_eq "$(error_of call GetImage roclone)" "$NOSUCH" "the old name is unknown"
check_eq "$(call RemoveImage renamed)" "()" "RemoveImage of a read-only image (as machined)"
check "removed: gone from the pool and the list" eval "[ ! -e '$POOL/renamed' ] && ! images | grep -q '^renamed '"
check_eq "$(ls -A "$POOL" | grep -c '^\.#')" 0 "no '.#' leftovers after the removal"
check_eq "$(error_of call RemoveImage renamed)" "$NOSUCH" "RemoveImage of an unknown image: NoSuchImage"
check_eq "$(busctl --address="$BUS" call org.berth.machine1 /org/berth/machine1/image/copy \
	org.berth.machine1.Image Rename s copy2 2>&1)" "" "Image.Rename on the object"
check "Image.Rename renamed it" test -d "$POOL/copy2"

# ---- bad names (B09): InvalidArgs before polkit, so also for an unprivileged caller ----
long=$(printf 'a%.0s' $(seq 256))
bad=0
for n in "''" "'.'" "'..'" "'a/b'" "'../../etc'" "'.#tmp'" "'$long'" "'a\\u0001b'" "'a\\nb'"; do
	for c in "RemoveImage $n" "RenameImage base $n" "RenameImage $n x" "CloneImage base $n false" \
		"CloneImage $n x false" "MarkImageReadOnly $n true" "GetImage $n"; do
		# shellcheck disable=SC2086
		e=$(eval "error_of asnobody $c")
		[ "$e" = "$IA" ] || { bad=1; diag "$c: $e"; }
	done
done
check_eq "$bad" 0 "bad image names: InvalidArgs before polkit, for every method"

# ---- unprivileged callers ----
check "nobody may list images" eval "asnobody ListImages | grep -q \"'base'\""
check "nobody may get an image" eval "asnobody GetImage base | grep -q objectpath"
check_eq "$(error_of asnobody RemoveImage base)" "$DENIED" "nobody may not remove"
check_eq "$(error_of asnobody CloneImage base x false)" "$DENIED" "nobody may not clone"
check_eq "$(error_of asnobody RenameImage base x)" "$DENIED" "nobody may not rename"
check_eq "$(error_of asnobody MarkImageReadOnly base true)" "$DENIED" "nobody may not mark read-only"
check "the refused calls changed nothing" eval "[ \"\$(manifest '$B')\" = \"\$before\" ] && [ ! -e '$POOL/x' ]"

# ---- pool symlink (B13) ----
ln -s / "$POOL/evil"
check "a symlinked image is listed" eval "images | grep -q '^evil directory'"
check_eq "$(error_of call CloneImage evil x false)" "$NOTSUP" "CloneImage of a pool symlink is refused"
check_eq "$(error_of call MarkImageReadOnly evil true)" "$NOTSUP" "MarkImageReadOnly of a pool symlink is refused"
check "/ is not immutable, no clone made" eval "! immutable / && [ ! -e '$POOL/x' ]"
check_eq "$(call RemoveImage evil)" "()" "RemoveImage of a pool symlink"
check "only the symlink went" eval "[ ! -L '$POOL/evil' ] && [ -f /etc/os-release ] && [ -d /usr/bin ]"

# ---- ImageBusy: the root of a running registered machine ----
call CloneImage base run false >/dev/null
bg_spawn run -D "$POOL/run" -M "$P-run" --console=pipe -- /bin/sh -c 'echo started; exec sleep 300'
if wait_for 15 listed "$P-run"; then
	check_eq "$(error_of call RemoveImage run)" "$BUSY" "RemoveImage of a running machine's image: ImageBusy"
	check_eq "$(error_of call RenameImage run run2)" "$BUSY" "RenameImage of a running machine's image: ImageBusy"
	check "the busy image is intact" test -x "$POOL/run/bin/busybox"
	call TerminateMachine "$P-run" >/dev/null
	wait "$SPAWN" 2>/dev/null
	wait_for 10 gone "$P-run"
	check_eq "$(call RemoveImage run)" "()" "once the machine is gone the image can be removed"
else
	diag "$(cat "$SCRATCH/run.out")"
	not_ok "the machine on pool/run registered"
fi

# ---- an interrupted clone (berthd killed mid-copy) ----
python3 -c 'import os, sys
d = sys.argv[1]
os.makedirs(d)
blob = os.urandom(256 << 10)
for i in range(1500):
    with open(os.path.join(d, "f%d" % i), "wb") as f:
        f.write(blob)' "$POOL/big"
call CloneImage big big2 false >"$SCRATCH/bigclone.out" 2>&1 &
CLONE=$!
seen=0
for _ in $(seq 200); do
	ls -A "$POOL" | grep -q '^\.#big2\.' && { seen=1; break; }
	sleep 0.02
done
busy_rename=$(error_of call RenameImage big bigx)
kill -9 "$BERTHD_PID"; wait "$BERTHD_PID" 2>/dev/null
wait "$CLONE"
check_eq "$busy_rename" "$BUSY" "RenameImage of an image being cloned: ImageBusy (B14)"
sleep 0.3 # the worker dies with berthd (PDEATHSIG)
if [ $seen = 1 ]; then
	check "killed mid-clone: no visible image, only the hidden work tree" \
		eval "[ ! -e '$POOL/big2' ] && ls -A '$POOL' | grep -q '^\\.#big2\\.'"
else
	not_ok "the clone was caught in the middle (tree too small for this machine?)"
fi
# One operation at a time from here on: a second clone while one runs is refused.
export BERTH_MAX_OPERATIONS=1
check "berthd starts again" start_berthd
check "after the restart the '.#' leftover is gone and big2 does not exist" \
	eval "[ ! -e '$POOL/big2' ] && ! ls -A '$POOL' | grep -q '^\\.#'"
check "big2 is unknown" test "$(error_of call GetImage big2)" = "$NOSUCH"
call CloneImage big big3 false >"$SCRATCH/big3.out" 2>&1 &
CLONE=$!
wait_for 10 eval "ls -A '$POOL' | grep -q '^\\.#big3\\.'"
check_eq "$(error_of call CloneImage base y false)" org.berth.machine1.TooManyOperations \
	"a clone beyond the operation limit: TooManyOperations"
wait "$CLONE"
check_eq "$(cat "$SCRATCH/big3.out") $(find "$POOL/big3" -type f | wc -l)" "() 1500" \
	"a big clone completes, with every file"
check "and leaves no '.#' tree" eval "! ls -A '$POOL' | grep -q '^\\.#'"
call RemoveImage big3 >/dev/null
unset BERTH_MAX_OPERATIONS
call RemoveImage big >/dev/null

# ---- racing removals (B14): exactly one succeeds, the other finds nothing ----
call CloneImage base race false >/dev/null
call RemoveImage race >"$SCRATCH/race1" 2>&1 &
r1=$!
call RemoveImage race >"$SCRATCH/race2" 2>&1
wait $r1
check_eq "$(cat "$SCRATCH/race1" "$SCRATCH/race2" | sed 's/.*GDBus\.Error:\([^:]*\):.*/\1/' | sort | tr '\n' ' ')" \
	"() $NOSUCH " "two RemoveImage at once: one succeeds, the other gets NoSuchImage"
check "no trace of the raced image" eval "[ ! -e '$POOL/race' ] && ! ls -A '$POOL' | grep -q '^\\.#'"

# ---- berthctl ----
mkdir "$POOL/.hidden"
out=$(bc list-images)
check "list-images: the header and the base image" \
	eval "echo \"\$out\" | head -1 | grep -q '^NAME *TYPE *RO *USAGE *CREATED *MODIFIED' && echo \"\$out\" | grep -q '^base *directory *no'"
check "list-images hides hidden images" eval "! echo \"\$out\" | grep -q '^\\.hidden'"
check "list-images --all shows them" eval "bc list-images --all | grep -q '^\\.hidden'"
check "list-images -o json" eval "bc list-images -o json | python3 -c 'import json,sys; i = [x for x in json.load(sys.stdin)[\"images\"] if x[\"name\"] == \"base\"][0]; assert i[\"type\"] == \"directory\" and i[\"ro\"] is False'"
check "image-status" eval "bc image-status base | grep -q 'Type: directory'"
check_eq "$(bc show-image base -p Type -p ReadOnly | sort | tr '\n' ' ')" "ReadOnly=no Type=directory " \
	"show-image -p"
check "clone --read-only" eval "bc clone base ctl --read-only && immutable '$POOL/ctl'"
check "read-only NAME no" eval "bc read-only ctl no && ! immutable '$POOL/ctl'"
check "read-only NAME" eval "bc read-only ctl && immutable '$POOL/ctl'"
check "rename" eval "bc rename ctl ctl2 && [ -d '$POOL/ctl2' ] && [ ! -e '$POOL/ctl' ]"
check "remove" eval "bc remove ctl2 && [ ! -e '$POOL/ctl2' ]"
bc image-status nope >/dev/null 2>&1; rc=$?
check_eq "$rc" 3 "image-status of an unknown image: exit code 3"
bc clone base 'a/b' >/dev/null 2>&1; rc=$?
check_eq "$rc" 2 "a bad name: exit code 2"
bc clone base copy2 >/dev/null 2>&1; rc=$?
check_eq "$rc" 1 "clone onto an existing image fails"

# ---- bash completion: image verbs and image names ----
. "$TESTS_SRC/../shell-completion/bash/berthctl"
comp() {
	COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
	PATH=$(dirname "$BERTHCTL"):$PATH DBUS_SYSTEM_BUS_ADDRESS=$BUS _berthctl
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}
check_eq "$(comp berthctl list-im)" "list-images " "completion: image verbs"
check_eq "$(comp berthctl remove bas)" "base " "completion: image names from list-images"
check_eq "$(comp berthctl clone base x | tr -d " ")" "" "completion: clone's new name is not an image"

# ---- clean: hidden images by default, every unused writable one with --all ----
for t in .junk keep busy ro; do cp -a "$B" "$POOL/$t"; done
bc read-only ro >/dev/null
bg_spawn cleanbusy -D "$POOL/busy" -M "$P-cb" --console=pipe -- /bin/sh -c 'echo started; exec sleep 300'
wait_for 10 grep -q started "$SCRATCH/cleanbusy.out"
hidden=$(ls -A "$POOL" | grep '^\.' | grep -v '^\.#' | sed 's/.*/Removed image &./' | sort)
out=$(bc clean)
check_eq "$(sort <<<"$out")" "$hidden" "clean removes the hidden images"
check "and only them" eval "[ ! -e '$POOL/.junk' ] && [ -d '$POOL/keep' ] && [ -d '$POOL/busy' ] && [ -d '$POOL/ro' ]"
# The trees go in a worker after the answer; this berthd runs one operation at a time.
wait_for 10 eval "! ls -A '$POOL' | grep -q '^\.#'"
out=$(bc clean --all)
check "clean --all removes the unused writable images" eval "[ ! -e '$POOL/keep' ] && grep -qx 'Removed image keep.' <<<'$out'"
check "but not a running machine's, nor a read-only one" eval "[ -d '$POOL/busy' ] && [ -d '$POOL/ro' ]"
check "nothing half removed stays in the pool" wait_for 10 eval "! ls -A '$POOL' | grep -q '^\.#'"
check_eq "$(error_of call CleanPool bogus)" "org.freedesktop.DBus.Error.InvalidArgs" "CleanPool with an unknown mode"
kill "$(spawn_pid "$SPAWN")"; wait_for 20 dead "$SPAWN"
bc read-only ro no >/dev/null

berthd_teardown
leak_check

tap_done
