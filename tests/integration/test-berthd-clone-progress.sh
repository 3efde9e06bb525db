#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A CloneImage that copies shows as a transfer of type "clone" in a scratch pool: listed by
# ListTransfers with a growing Progress, TransferNew and TransferRemoved before the reply, a
# complete copy (of a raw image too); CancelTransfer cancels it (a Canceled error, no image, no
# ".#" leftover); a btrfs snapshot clone makes no transfer; berthctl clone draws a bar on a
# terminal, none on a pipe.
. "$(dirname "$0")/../lib/libtest.sh"
. "$(dirname "$0")/../lib/berthd.sh"
leak_begin
berthd_setup
[ -x "${BERTHCTL:-}" ] || { echo "1..0 # SKIP berthctl not built"; exit 0; }

berthd_scratch_pool

bc() { DBUS_SYSTEM_BUS_ADDRESS=$BUS "$BERTHCTL" --no-pager --no-ask-password "$@"; }
leftovers() { ls -A "$POOL" | grep -c '^\.#'; }
list_transfers() {
	busctl --address="$BUS" --json=short call org.berth.machine1 /org/berth/machine1 \
		org.berth.machine1.Manager ListTransfers |
		python3 -c 'import json,sys; [print(*t) for t in json.load(sys.stdin)["data"][0]]'
}
tree_sum() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 cat | sha256sum); }
clone_bg() { # NAME NEW: CloneImage in the background, its answer in $SCRATCH/NEW.reply
	gdbus call --address "$BUS" --timeout 300 --dest org.berth.machine1 --object-path /org/berth/machine1 \
		--method org.berth.machine1.Manager.CloneImage "$1" "$2" false >"$SCRATCH/$2.reply" 2>&1 &
	BG=$!; PIDS+=($BG)
}
# Every ListTransfers row of type clone, as fast as busctl goes, until PID is gone.
poll_transfers() {
	while kill -0 "$1" 2>/dev/null; do list_transfers | grep ' clone '; done >"$SCRATCH/poll.out"
}
monitor_start() {
	dbus-monitor --address "$BUS" >"$SCRATCH/$1.mon" 2>&1 &
	MON=$!; PIDS+=($MON)
	sleep 0.5
}
monitor_stop() { sleep 0.3; kill "$MON" 2>/dev/null; wait "$MON" 2>/dev/null; }

# ~200 MiB in 8000 files of random data: the copy on this file system takes a second or more.
B=$POOL/big
python3 - "$B" <<'PY'
import os, sys
blk = os.urandom(25 << 10)
for d in range(10):
    os.makedirs("%s/d%d" % (sys.argv[1], d))
    for i in range(800):
        with open("%s/d%d/f%d" % (sys.argv[1], d, i), "wb") as f:
            f.write(bytes([i & 255, d]) + blk[2:])
PY
SUM=$(tree_sum "$B")
check "berthd starts" start_berthd

# ---- a clone that copies: a transfer with growing progress, gone before the reply ----
FS=$(stat -fc %T "$POOL")
monitor_start clone
clone_bg big big2
poll_transfers "$BG"
wait "$BG"; rc=$?
monitor_stop
check_eq "$rc $(cat "$SCRATCH/big2.reply")" "0 ()" "CloneImage of a $FS tree succeeds"
check_eq "$(tree_sum "$POOL/big2")" "$SUM" "the clone has every byte"
row=$(head -1 "$SCRATCH/poll.out")
check "ListTransfers listed it: type clone, remote the source, local the new name ($row)" \
	eval "echo \"\$row\" | grep -Eq '^[0-9]+ clone big big2 [0-9.e-]+ /org/berth/machine1/transfer/[0-9]+$'"
vals=$(awk '{print $5}' "$SCRATCH/poll.out" | uniq)
n=$(echo "$vals" | awk '$1 > 0 && $1 < 1' | grep -c .)
check "Progress grew through at least 2 values between 0 and 1 ($(echo $vals | tr '\n' ' '))" \
	eval "[ $n -ge 2 ] && echo \"\$vals\" | awk 'NR > 1 && \$1 < prev { bad = 1 } { prev = \$1 } END { exit bad }'"
# The bus's order: TransferNew, TransferRemoved "done", then the method return of the call.
order=$(python3 - "$SCRATCH/clone.mon" <<'PY'
import re, sys
serial, out = None, []
for line in open(sys.argv[1]):
    if "member=CloneImage" in line:
        serial = re.search(r" serial=(\d+)", line).group(1)
    elif "member=TransferNew" in line:
        out.append("new")
    elif "member=TransferRemoved" in line:
        out.append("removed")
    elif line.startswith("method return") and serial and re.search(r"reply_serial=%s\b" % serial, line):
        out.append("reply")
    elif line.strip() == 'string "done"' and out and out[-1] == "removed":
        out[-1] = "removed:done"
print(" ".join(out))
PY
)
check_eq "$order" "new removed:done reply" "TransferNew, TransferRemoved (done), then the CloneImage reply"
check_eq "$(list_transfers | grep -c clone)" 0 "the transfer is gone"
check_eq "$(leftovers)" 0 "no '.#' leftover"

# ---- CancelTransfer during the clone ----
monitor_start cancel
clone_bg big big3
check "the clone appears in ListTransfers" wait_for 10 eval "list_transfers | grep -q ' clone big big3 '"
ID=$(list_transfers | awk '$2 == "clone" && $4 == "big3" {print $1}')
check_eq "$(busctl --address="$BUS" call org.berth.machine1 /org/berth/machine1 \
	org.berth.machine1.Manager CancelTransfer u "${ID:-0}" 2>&1)" "" "CancelTransfer $ID"
wait "$BG"; rc=$?
monitor_stop
check "CloneImage fails with org.berth.machine1.Canceled ($(cat "$SCRATCH/big3.reply"))" \
	eval "[ $rc != 0 ] && grep -q 'org.berth.machine1.Canceled' '$SCRATCH/big3.reply'"
check "no image big3, no '.#' leftover, not listed" \
	eval "[ ! -e '$POOL/big3' ] && [ \$(leftovers) = 0 ] && ! list_transfers | grep -q big3"
check "TransferRemoved said canceled" grep -q 'string "canceled"' "$SCRATCH/cancel.mon"

# ---- Ctrl-C of berthctl clone: the copy stops and its half image goes at once ----
# berthd used to SIGKILL the worker of a caller that left, so the hidden copy stayed until
# berthd's next start; now the worker is asked to stop as by CancelTransfer.
# (A script's background job starts with SIGINT ignored: give berthctl the default back.)
DBUS_SYSTEM_BUS_ADDRESS=$BUS env --default-signal=INT "$BERTHCTL" --no-pager --no-ask-password clone big big4 >/dev/null 2>&1 &
CL=$!; PIDS+=($CL)
check "the clone of berthctl appears in ListTransfers" wait_for 10 eval "list_transfers | grep -q ' clone big big4 '"
kill -INT "$CL"; wait "$CL"
check "after Ctrl-C: no image big4, no '.#' leftover, no transfer, without a berthd restart" \
	wait_for 10 eval "[ ! -e '$POOL/big4' ] && [ \$(leftovers) = 0 ] && ! list_transfers | grep -q big4"

# ---- a raw image copies as a transfer too ----
head -c $((64 << 20)) /dev/urandom >"$POOL/rawimg.raw"
monitor_start raw
clone_bg rawimg rawimg2
wait "$BG"; rc=$?
monitor_stop
check_eq "$rc $(cat "$SCRATCH/rawimg2.reply")" "0 ()" "CloneImage of a raw image"
check "the raw clone has every byte" cmp -s "$POOL/rawimg.raw" "$POOL/rawimg2.raw"
check "its transfer came and went (done)" \
	eval "grep -q 'member=TransferNew' '$SCRATCH/raw.mon' && grep -q 'string \"done\"' '$SCRATCH/raw.mon'"
rm -f "$POOL/rawimg.raw" "$POOL/rawimg2.raw"

# ---- berthctl clone: a bar on a terminal, nothing on a pipe ----
out=$(python3 "$TESTS_SRC/lib/tty-run.py" "$SCRATCH/leftover" \
	"DBUS_SYSTEM_BUS_ADDRESS=$BUS $BERTHCTL --no-ask-password clone big bigtty" 2>&1); rc=$?
check "on a terminal: a progress bar that ends at 100% ($(echo "$out" | tr '\r' '\n' | grep '%' | tail -1 | tr -d '\033'))" \
	eval "[ $rc = 0 ] && echo \"\$out\" | grep -q '\\[#' && echo \"\$out\" | grep -q '100%'"
err=$(bc clone big bigpipe 2>&1 >/dev/null); rc=$?
check_eq "$rc:$err" "0:" "on a pipe: nothing on stderr"
check_eq "$(tree_sum "$POOL/bigpipe")" "$SUM" "berthctl's clone has every byte"
check_eq "$(leftovers)" 0 "no '.#' leftover at the end"

# ---- on btrfs: a subvolume's clone is a snapshot, instant, and no transfer ----
if command -v mkfs.btrfs >/dev/null && command -v btrfs >/dev/null; then
	IMG=$SCRATCH/btrfs.img
	truncate -s 300M "$IMG" && mkfs.btrfs -q "$IMG" >/dev/null 2>&1 && LOOP=$(losetup --find --show "$IMG") &&
		mkdir -p "$SCRATCH/btr" && mount "$LOOP" "$SCRATCH/btr"
	on_cleanup 'mountpoint -q "$SCRATCH/btr" && umount "$SCRATCH/btr"; loop_detach_file "$SCRATCH/btrfs.img"'
	kill -9 "$BERTHD_PID" 2>/dev/null; wait "$BERTHD_PID" 2>/dev/null
	export BERTH_IMAGE_POOL=$SCRATCH/btr/pool
	mkdir -p "$BERTH_IMAGE_POOL"
	btrfs subvolume create "$BERTH_IMAGE_POOL/sv" >/dev/null && head -c $((32 << 20)) /dev/urandom >"$BERTH_IMAGE_POOL/sv/data"
	check "berthd starts on a btrfs pool" start_berthd
	monitor_start snap
	clone_bg sv sv2
	wait "$BG"; rc=$?
	monitor_stop
	check_eq "$rc $(cat "$SCRATCH/sv2.reply")" "0 ()" "CloneImage of a subvolume"
	check "it is a snapshot (a subvolume) with every byte" \
		eval "btrfs subvolume show '$BERTH_IMAGE_POOL/sv2' >/dev/null 2>&1 && cmp -s '$BERTH_IMAGE_POOL/sv/data' '$BERTH_IMAGE_POOL/sv2/data'"
	check "no transfer for a snapshot" eval "! grep -q 'member=TransferNew' '$SCRATCH/snap.mon'"
	# A raw image is reflinked in pieces of 256 MiB (for progress and cancel): data in the
	# first, second and third piece and a tail that ends off any block boundary.
	R=$BERTH_IMAGE_POOL/sparse.raw
	truncate -s $(((600 << 20) + 1234)) "$R"
	for off in 0 300 599; do head -c $((1 << 20)) /dev/urandom | dd of="$R" bs=1M seek=$off conv=notrunc status=none; done
	printf tail | dd of="$R" bs=1 seek=$(((600 << 20) + 1230)) conv=notrunc status=none
	sync # delayed allocation: the source's blocks are counted only once written
	free0=$(df -B1 --output=avail "$SCRATCH/btr" | tail -1)
	clone_bg sparse sparse2
	wait "$BG"; rc=$?
	check_eq "$rc $(cat "$SCRATCH/sparse2.reply")" "0 ()" "CloneImage of a sparse 600 MiB raw image on btrfs"
	check "every byte and the size are the same" cmp -s "$R" "$BERTH_IMAGE_POOL/sparse2.raw"
	sync
	free1=$(df -B1 --output=avail "$SCRATCH/btr" | tail -1)
	check "its extents are shared: free space fell by less than 1 MiB ($free0 -> $free1)" \
		eval "[ \$(( $free0 - $free1 )) -lt $((1 << 20)) ]"
	kill -9 "$BERTHD_PID" 2>/dev/null; wait "$BERTHD_PID" 2>/dev/null; BERTHD_PID=
	umount "$SCRATCH/btr" && loop_detach_file "$IMG"
else
	skip "a subvolume's clone makes no transfer" "btrfs-progs is not installed (tools/deps.sh installs it)"
fi

berthd_teardown
leak_check
[ "$_tap_failed" = 0 ] || sed 's/^/# berthd: /' "$SCRATCH/berthd.log" >&2
tap_done
