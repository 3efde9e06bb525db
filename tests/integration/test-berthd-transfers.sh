#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berthd's imports and exports (transfers) in a scratch pool: tar round trips in every compression
# keep the tree, raw round trips keep the bytes and the holes, import-fs, force and read-only,
# hostile tars write nothing outside the new image, Progress grows, cancel / SIGKILL of the worker
# / SIGKILL of berthd leave no visible image and no leftover, ListTransfers, unprivileged callers,
# and the berthctl verbs (a progress bar on a terminal, none on a pipe, Ctrl-C cancels).
. "$(dirname "$0")/../lib/libtest.sh"
. "$(dirname "$0")/../lib/berthd.sh"
leak_begin
berthd_setup
[ -x "${BERTHCTL:-}" ] || { echo "1..0 # SKIP berthctl not built"; exit 0; }
# The python3 with dbus-python (the system's; a python3 earlier in $PATH may lack it). From /:
# the source tree's dbus/ directory must not pass for the module.
PY=
for p in python3 /usr/bin/python3; do (cd / && "$p" -c 'import dbus') 2>/dev/null && { PY=$p; break; }; done
[ -n "$PY" ] || { echo "1..0 # SKIP python3-dbus is not installed"; exit 0; }

berthd_scratch_pool

EXISTS=org.berth.machine1.ImageExists
DENIED=org.freedesktop.DBus.Error.AccessDenied

bc() { DBUS_SYSTEM_BUS_ADDRESS=$BUS "$BERTHCTL" --no-pager --no-ask-password "$@"; }
leftovers() { ls -A "$POOL" | grep -c '^\.#'; }
images() { ls -A "$POOL" | grep -v '^\.#' | sort | tr '\n' ' '; }
immutable() { lsattr -d "$1" 2>/dev/null | cut -d' ' -f1 | grep -q i; }
# A method call with an fd, through python3-dbus (gdbus cannot pass fds): prints the answer or
# the D-Bus error name. AS: a user to run as ("" for root).
dcall() {
	local as=$1; shift
	(cd / && ${as:+runuser -u "$as" --} "$PY" - "$BUS" "$@") <<'PY'
import dbus, os, sys
bus = dbus.bus.BusConnection(sys.argv[1])
m = dbus.Interface(bus.get_object("org.berth.machine1", "/org/berth/machine1"), "org.berth.machine1.Manager")
args = []
for a in sys.argv[3:]:
    kind, _, v = a.partition(":")
    if kind == "fdr":
        args.append(dbus.types.UnixFd(os.open(v, os.O_RDONLY)))
    elif kind == "fdw":
        args.append(dbus.types.UnixFd(os.open(v, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)))
    elif kind == "b":
        args.append(dbus.Boolean(v == "true"))
    elif kind == "u":
        args.append(dbus.UInt32(int(v)))
    elif kind == "s":
        args.append(v)
    else:
        args.append(a)
try:
    print(getattr(m, sys.argv[2])(*args))
except dbus.exceptions.DBusException as e:
    print(e.get_dbus_name())
    print("# %s" % e.get_dbus_message(), file=sys.stderr)
PY
}
list_transfers() {
	busctl --address="$BUS" --json=short call org.berth.machine1 /org/berth/machine1 \
		org.berth.machine1.Manager ListTransfers |
		python3 -c 'import json,sys; [print(*t) for t in json.load(sys.stdin)["data"][0]]'
}
# The worker of a transfer: berthd's child (the transfer's own child is below it).
worker_pid() { cat /proc/"$BERTHD_PID"/task/*/children 2>/dev/null | awk '{print $1}' | head -1; }

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

# The base image: a busybox tree plus one of everything an export must keep.
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
BASE_M=$(manifest "$B")

check "berthd starts" start_berthd

# ---- tar round trips, every compression ----
for f in gzip:tar.gz xz:tar.xz zstd:tar.zst uncompressed:tar; do
	fmt=${f%%:*} file=$SCRATCH/base.${f#*:}
	check_eq "$(bc export-tar base "$file" 2>&1; echo "rc=$?")" "rc=0" "export-tar base to *.${f#*:}"
	magic=$(od -An -tx1 -N6 "$file" | tr -d ' ')
	case $fmt in
	gzip) want=1f8b ;; xz) want=fd377a585a00 ;; zstd) want=28b52ffd ;;
	*) magic=$(od -An -tx1 -j257 -N5 "$file" | tr -d ' ') want=7573746172 ;; # "ustar"
	esac
	check "the export is $fmt (magic ${magic})" test "${magic#"$want"}" != "$magic"
	check_eq "$(bc import-tar "$file" "rt-$fmt" 2>&1; echo "rc=$?")" "rc=0" "import-tar of the $fmt export"
	check_eq "$(manifest "$POOL/rt-$fmt")" "$BASE_M" \
		"$fmt round trip keeps contents, owners, modes, times, devices, symlinks, xattrs"
done
R=$POOL/rt-gzip
check "the hard link pair is one inode after the round trip" \
	test "$(stat -c %i "$R/data/link-a")" = "$(stat -c %i "$R/data/link-b")"
check "the sparse file stays sparse (less than 1 MiB allocated of 64 MiB)" \
	test "$(du -k "$R/data/sparse" | cut -f1)" -lt 1024
if [ $HAVE_ACL = 1 ]; then
	check "the ACL is kept" eval "getfacl -n '$R/data/owned' 2>/dev/null | grep -q '^user:4242:r--'"
else
	skip "the ACL is kept" "setfacl refused on this file system"
fi
check_eq "$(manifest "$B")" "$BASE_M" "the exports left the image unchanged"
check_eq "$(leftovers)" 0 "no '.#' leftovers after the imports"
check "--format overrides the suffix" eval "bc export-tar --format=xz base '$SCRATCH/x.tar' && [ \"\$(od -An -tx1 -N2 '$SCRATCH/x.tar' | tr -d ' ')\" = fd37 ]"
check "export-tar to a pipe, import-tar from a pipe" \
	eval "bc export-tar base - | bc import-tar - piped && [ \"\$(manifest '$POOL/piped')\" = \"\$BASE_M\" ]"

# ---- existing names, force, read-only ----
out=$(bc import-tar "$SCRATCH/base.tar.gz" rt-gzip 2>&1); rc=$?
check_eq "$rc" 1 "import-tar onto an existing image fails"
check "... saying it exists ($out)" eval "echo \"\$out\" | grep -qi exists"
check_eq "$(dcall "" ImportTar "fdr:$SCRATCH/base.tar.gz" rt-gzip b:false b:false)" "$EXISTS" \
	"ImportTar onto an existing image: ImageExists"
echo marker >"$R/marker"
check_eq "$(bc import-tar --force "$SCRATCH/base.tar.gz" rt-gzip 2>&1; echo "rc=$?")" "rc=0" "import-tar --force"
check "--force replaced the image" eval "[ ! -e '$R/marker' ] && [ \"\$(manifest '$R')\" = \"\$BASE_M\" ]"
check_eq "$(bc import-tar --read-only "$SCRATCH/base.tar.xz" ro 2>&1; echo "rc=$?")" "rc=0" "import-tar --read-only"
check "the read-only import is immutable" immutable "$POOL/ro"
check_eq "$(leftovers)" 0 "no '.#' leftovers after force and read-only"
check "NAME defaults to the file name without suffixes" \
	eval "cp '$SCRATCH/base.tar.zst' '$SCRATCH/named.tar.zst' && bc import-tar '$SCRATCH/named.tar.zst' && [ -d '$POOL/named' ]"

# ---- raw round trips ----
truncate -s 64M "$SCRATCH/disk.raw"
dd if=/dev/urandom of="$SCRATCH/disk.raw" bs=1M count=2 seek=10 conv=notrunc status=none
dd if=/dev/urandom of="$SCRATCH/disk.raw" bs=1K count=3 seek=50000 conv=notrunc status=none
SUM=$(sha256sum <"$SCRATCH/disk.raw")
check_eq "$(bc import-raw "$SCRATCH/disk.raw" 2>&1; echo "rc=$?")" "rc=0" "import-raw (name from the file)"
check_eq "$(sha256sum <"$POOL/disk.raw")" "$SUM" "import-raw keeps the bytes"
check "import-raw keeps the holes" test "$(du -k "$POOL/disk.raw" | cut -f1)" -lt 4096
check_eq "$(bc export-raw disk "$SCRATCH/out.raw" 2>&1; echo "rc=$?")" "rc=0" "export-raw to a file"
check_eq "$(sha256sum <"$SCRATCH/out.raw")" "$SUM" "export-raw: the same bytes"
check "export-raw to a file keeps the holes" test "$(du -k "$SCRATCH/out.raw" | cut -f1)" -lt 4096
check_eq "$(bc export-raw disk - | sha256sum)" "$SUM" "export-raw to a pipe: the same bytes"
check_eq "$(bc export-raw disk "$SCRATCH/out.raw.zst" && zstd -dqc "$SCRATCH/out.raw.zst" | sha256sum)" "$SUM" \
	"export-raw compressed (zstd by the suffix)"
check_eq "$(cat "$SCRATCH/disk.raw" | bc import-raw - pipedraw 2>&1; echo "rc=$?")" "rc=0" "import-raw from a pipe"
check_eq "$(sha256sum <"$POOL/pipedraw.raw")" "$SUM" "... the same bytes"
check "... with holes where the stream had zeros" test "$(du -k "$POOL/pipedraw.raw" | cut -f1)" -lt 4096
check_eq "$(bc import-raw "$SCRATCH/out.raw.zst" zstdraw 2>&1; echo "rc=$?")" "rc=0" "import-raw of a zstd file"
check_eq "$(sha256sum <"$POOL/zstdraw.raw")" "$SUM" "... decompressed to the same bytes"
check_eq "$(bc export-raw --format=xz disk - | bc import-raw - xzraw 2>&1; echo "rc=$?")" "rc=0" \
	"export-raw --format=xz into import-raw from a pipe"
check_eq "$(sha256sum <"$POOL/xzraw.raw")" "$SUM" "... the same bytes"
check "... with holes" test "$(du -k "$POOL/xzraw.raw" | cut -f1)" -lt 4096
check_eq "$(bc import-raw "$SCRATCH/disk.raw" disk >/dev/null 2>&1; echo "rc=$?")" "rc=1" \
	"import-raw onto an existing raw image fails"

# ---- import-fs ----
check_eq "$(bc import-fs "$B" fscopy 2>&1; echo "rc=$?")" "rc=0" "import-fs"
check_eq "$(manifest "$POOL/fscopy")" "$BASE_M" "import-fs keeps everything"
check_eq "$(bc import-fs "$SCRATCH/disk.raw" nodir >/dev/null 2>&1; echo "rc=$?")" "rc=1" \
	"import-fs of a file fails"
check_eq "$(leftovers)" 0 "no '.#' leftovers after the raw and directory transfers"

# ---- hostile archives: nothing outside the new image ----
OUT=$SCRATCH/outside
mkdir -p "$OUT"
echo canary >"$OUT/canary"
PASSWD_SUM=$(sha256sum </etc/passwd) PASSWD_LINKS=$(stat -c %h /etc/passwd)
python3 - "$SCRATCH" "$OUT" "berth-transfer-pwned-$$" <<'PY'
import io, sys, tarfile
scratch, out, tmpname = sys.argv[1], sys.argv[2], sys.argv[3]
def mk(name, entries):
    with tarfile.open("%s/%s.tar" % (scratch, name), "w", format=tarfile.GNU_FORMAT) as t:
        for kind, path, arg in entries:
            ti = tarfile.TarInfo(path)
            ti.mode = 0o644
            if kind == "file":
                data = arg.encode()
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            elif kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, arg
                t.addfile(ti)
            elif kind == "hard":
                ti.type, ti.linkname = tarfile.LNKTYPE, arg
                t.addfile(ti)
            elif kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                t.addfile(ti)
mk("abs", [("dir", "ok", None), ("file", out + "/abs", "pwned")])
mk("dotdot", [("dir", "ok", None), ("file", "../../../../../../../.." + out + "/dotdot", "pwned"),
              ("file", "ok/../../dotdot2", "pwned")])
mk("symlink", [("sym", "escape", out), ("file", "escape/viasym", "pwned")])
mk("symlink-tmp", [("sym", "tmp", "/tmp"), ("file", "tmp/" + tmpname, "pwned")])
mk("symlink-rel", [("sym", "escape", "../../../../../../../.." + out), ("file", "escape/viarel", "pwned")])
mk("hardlink", [("hard", "pw", "/etc/passwd"), ("file", "pw", "pwned")])
mk("hardlink-canary", [("hard", "cn", out + "/canary"), ("file", "cn", "pwned")])
PY
for h in abs dotdot symlink symlink-tmp symlink-rel hardlink hardlink-canary; do
	out=$(bc import-tar "$SCRATCH/$h.tar" "evil-$h" 2>&1); rc=$?
	check "hostile tar '$h': the import fails, no image ($(echo "$out" | tail -1))" \
		eval "[ $rc = 1 ] && [ ! -e '$POOL/evil-$h' ]"
done
check_eq "$(ls -A "$OUT")" "canary" "nothing was written outside (only the canary is in the target dir)"
check_eq "$(cat "$OUT/canary")" "canary" "the canary hard-link target is unchanged"
check_eq "$(sha256sum </etc/passwd) $(stat -c %h /etc/passwd)" "$PASSWD_SUM $PASSWD_LINKS" "/etc/passwd unchanged, no new link to it"
check "nothing written to /abs, /dotdot, /dotdot2, /viasym or /tmp of the host" \
	eval "[ ! -e /abs ] && [ ! -e /dotdot ] && [ ! -e /dotdot2 ] && [ ! -e /viasym ] && [ ! -e \"$SCRATCH/dotdot2\" ] && [ ! -e /tmp/berth-transfer-pwned-$$ ]"
check_eq "$(leftovers)" 0 "no '.#' leftovers after the hostile imports"

# ---- progress: a big import from a file ----
# 2 GiB of zeros (a sparse file once imported), gzip members concatenated so that making it is
# quick while importing it takes seconds.
python3 - "$SCRATCH/big.tar.gz" <<'PY'
import gzip, sys, tarfile
ti = tarfile.TarInfo("big"); ti.size = 32 << 26
member = gzip.compress(bytes(64 << 20), 1)
with open(sys.argv[1], "wb") as f:
    f.write(gzip.compress(ti.tobuf(format=tarfile.GNU_FORMAT), 1))
    for _ in range(32):
        f.write(member)
    f.write(gzip.compress(bytes(10240), 1))
PY
dbus-monitor --address "$BUS" "type='signal',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',arg0='org.berth.machine1.Transfer'" \
	>"$SCRATCH/monitor.out" 2>&1 &
MON=$!; PIDS+=($MON)
sleep 0.5
check_eq "$(bc import-tar "$SCRATCH/big.tar.gz" big 2>&1; echo "rc=$?")" "rc=0" "import of a 2 GiB tar"
sleep 0.3
kill "$MON" 2>/dev/null; wait "$MON" 2>/dev/null
vals=$(grep -o 'double [0-9.e+-]*' "$SCRATCH/monitor.out" | awk '{print $2}')
n=$(echo "$vals" | grep -c .)
check "Progress changed at least 4 times ($n: $(echo $vals | tr '\n' ' '))" test "$n" -ge 4
check "Progress only grew and ended at 1" \
	eval "echo \"\$vals\" | awk 'NR > 1 && \$1 < prev { bad = 1 } { prev = \$1 } END { exit bad || prev != 1 }'"
check "the big file was written whole and sparse" \
	eval "[ \$(stat -c %s '$POOL/big/big') = $((2 << 30)) ] && [ \$(du -k '$POOL/big/big' | cut -f1) -lt 1024 ]"
# An export: 128 MiB of random data through gzip takes a few seconds.
mkdir -p "$POOL/rnd"
head -c $((128 << 20)) /dev/urandom >"$POOL/rnd/data"
RND_SUM=$(sha256sum <"$POOL/rnd/data")
dbus-monitor --address "$BUS" "type='signal',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',arg0='org.berth.machine1.Transfer'" \
	>"$SCRATCH/monitor2.out" 2>&1 &
MON=$!; PIDS+=($MON)
sleep 0.5
check_eq "$(bc export-tar rnd "$SCRATCH/rnd.tar.gz" 2>&1; echo "rc=$?")" "rc=0" "export of a 128 MiB image"
sleep 0.3
kill "$MON" 2>/dev/null; wait "$MON" 2>/dev/null
vals=$(grep -o 'double [0-9.e+-]*' "$SCRATCH/monitor2.out" | awk '{print $2}')
check "the export's Progress changed at least 3 times and grew to 1 ($(echo $vals | tr '\n' ' '))" \
	eval "[ \$(echo \"\$vals\" | grep -c .) -ge 3 ] && echo \"\$vals\" | awk 'NR > 1 && \$1 < prev { bad = 1 } { prev = \$1 } END { exit bad || prev != 1 }'"
check_eq "$(tar xzOf "$SCRATCH/rnd.tar.gz" ./data | sha256sum)" "$RND_SUM" "the exported data is whole"
check_eq "$(bc export-tar big - | tar tvf - ./big | awk '{print $3}')" $((2 << 30)) \
	"the export of a 2 GiB sparse file says 2 GiB"
rm -rf "$SCRATCH/rnd.tar.gz" "$POOL/rnd"

# ---- a stalled import: ListTransfers, cancel, kill the worker, kill berthd ----
# A pipe that delivers the start of the archive and then nothing: the import waits in the middle.
# The test holds the pipe's write end in $FEED until unstall.
stalled() {
	mkfifo "$SCRATCH/$1.fifo"
	bc import-tar - "$1" <"$SCRATCH/$1.fifo" >"$SCRATCH/$1.out" 2>&1 &
	BG=$!; PIDS+=($BG)
	exec {FEED}>"$SCRATCH/$1.fifo"
	head -c $(($(stat -c %s "$SCRATCH/base.tar") / 2)) "$SCRATCH/base.tar" >&"$FEED"
	wait_for 10 eval "list_transfers | grep -q ' $1 '" && wait_for 10 eval "ls -A '$POOL' | grep -q '^\\.#import-$1\\.'"
}
unstall() { exec {FEED}>&-; }
check "a stalled import is listed by ListTransfers" stalled stall
row=$(list_transfers | grep ' stall ')
check "ListTransfers: id, type, remote, local, progress, path ($row)" \
	eval "echo \"\$row\" | grep -Eq '^[0-9]+ import-tar $SCRATCH/stall.fifo stall 0(\\.0)? /org/berth/machine1/transfer/[0-9]+$'"
ID=${row%% *}
check_eq "$(busctl --address="$BUS" get-property org.berth.machine1 "/org/berth/machine1/transfer/$ID" \
	org.berth.machine1.Transfer Type Local 2>&1 | tr '\n' ' ')" 's "import-tar" s "stall" ' "the Transfer object's properties"
check_eq "$(dcall nobody CancelTransfer "u:$ID")" "$DENIED" "nobody may not cancel a transfer"
check "nobody may list transfers" eval "dcall nobody ListTransfers | grep -q stall"
check_eq "$(dcall "" CancelTransfer "u:$ID")" "None" "CancelTransfer"
wait_for 10 dead "$BG"; wait "$BG"; rc=$?; unstall
check "berthctl exits 1 saying it was canceled ($(tail -1 "$SCRATCH/stall.out"))" \
	eval "[ $rc = 1 ] && grep -q canceled '$SCRATCH/stall.out'"
check "canceled: no image, no leftover, not listed" \
	eval "[ ! -e '$POOL/stall' ] && [ \$(leftovers) = 0 ] && ! list_transfers | grep -q stall"

stalled ctrlc
kill -INT "$(pgrep -P "$BG" -x berthctl || pgrep -f "berthctl.*import-tar - ctrlc" | head -1)" 2>/dev/null
wait_for 10 dead "$BG"; unstall
check "SIGINT of berthctl cancels its transfer ($(tail -1 "$SCRATCH/ctrlc.out"))" \
	eval "grep -q canceled '$SCRATCH/ctrlc.out' && [ ! -e '$POOL/ctrlc' ] && [ \$(leftovers) = 0 ]"

stalled wkill
W=$(worker_pid)
check "the worker is berthd's child" test -n "$W"
kill -9 "$W"
wait_for 10 dead "$BG"; wait "$BG"; rc=$?; unstall
check "SIGKILL of the worker: berthctl fails ($(tail -1 "$SCRATCH/wkill.out"))" eval "[ $rc = 1 ] && grep -q failed '$SCRATCH/wkill.out'"
check "... no image and the leftover is removed" eval "wait_for 5 eval '[ \$(leftovers) = 0 ]' && [ ! -e '$POOL/wkill' ]"

stalled dkill
kill -9 "$BERTHD_PID"; wait "$BERTHD_PID" 2>/dev/null
wait_for 10 dead "$BG"; wait "$BG"; rc=$?; unstall
check "SIGKILL of berthd: berthctl fails ($(tail -1 "$SCRATCH/dkill.out"))" test "$rc" = 1
sleep 0.3 # the worker dies with berthd
check "... no visible image, the hidden work tree is left" \
	eval "[ ! -e '$POOL/dkill' ] && ls -A '$POOL' | grep -q '^\\.#import-dkill'"
check "berthd starts again" start_berthd
check "... and removes the leftover" eval "[ \$(leftovers) = 0 ] && [ ! -e '$POOL/dkill' ]"

# ---- unprivileged callers ----
before=$(images)
check_eq "$(dcall nobody ImportTar "fdr:$SCRATCH/base.tar" nob b:false b:false)" "$DENIED" "nobody may not ImportTar"
check_eq "$(dcall nobody ImportRaw "fdr:$SCRATCH/disk.raw" nob b:false b:false)" "$DENIED" "nobody may not ImportRaw"
check_eq "$(dcall nobody ImportFileSystem "fdr:/tmp" nob b:false b:false)" "$DENIED" "nobody may not ImportFileSystem"
rm -f /tmp/berth-nobody-export.$$
check_eq "$(dcall nobody ExportTar base "fdw:/tmp/berth-nobody-export.$$" gzip)" "$DENIED" "nobody may not ExportTar"
check_eq "$(dcall nobody ExportRaw disk "fdw:/tmp/berth-nobody-export.$$" '')" "$DENIED" "nobody may not ExportRaw"
check "nothing was exported for nobody" test ! -s "/tmp/berth-nobody-export.$$"
rm -f "/tmp/berth-nobody-export.$$"
check_eq "$(images)" "$before" "the refused calls changed nothing in the pool"
check_eq "$(dcall "" ImportTar "fdr:$SCRATCH/base.tar" '../x' b:false b:false)" org.freedesktop.DBus.Error.InvalidArgs \
	"a bad image name: InvalidArgs"
check_eq "$(dcall "" ExportTar base "fdw:$SCRATCH/y.tar" lz4)" org.freedesktop.DBus.Error.InvalidArgs \
	"an unknown format: InvalidArgs"
# Device nodes dropped for a caller other than root: test-berthctl-polkit.sh, where a real
# polkitd can let nobody import.

# ---- berthctl: progress bar on a terminal, none on a pipe ----
out=$(python3 "$TESTS_SRC/lib/tty-run.py" "$SCRATCH/leftover" \
	"DBUS_SYSTEM_BUS_ADDRESS=$BUS $BERTHCTL --no-ask-password import-tar $SCRATCH/big.tar.gz bigtty" 2>&1)
check "on a terminal: a progress bar with percent, rate and ETA" \
	eval "echo \"\$out\" | grep -q '100%' && echo \"\$out\" | grep -q '/s' && echo \"\$out\" | grep -q 'ETA'"
err=$(bc import-tar "$SCRATCH/big.tar.gz" bigpipe 2>&1 >/dev/null)
check_eq "$err" "" "on a pipe: nothing on stderr"
check "list-transfers with none running" eval "bc list-transfers | grep -q 'No transfers'"
out=$(bc cancel-transfer 999 2>&1); rc=$?
check "cancel-transfer of an unknown id fails ($out)" eval "[ $rc = 1 ] && echo \"\$out\" | grep -q 'No transfer'"

# ---- shell completion knows the verbs ----
. "$TESTS_SRC/../shell-completion/bash/berthctl"
comp() {
	COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
	PATH=$(dirname "$BERTHCTL"):$PATH DBUS_SYSTEM_BUS_ADDRESS=$BUS _berthctl
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}
check_eq "$(comp berthctl import-t)" "import-tar " "completion: import-tar"
check_eq "$(comp berthctl export-tar bas)" "base " "completion: export-tar takes an image name"

berthd_teardown
leak_check
[ "$_tap_failed" = 0 ] || sed 's/^/# berthd: /' "$SCRATCH/berthd.log" >&2
tap_done
