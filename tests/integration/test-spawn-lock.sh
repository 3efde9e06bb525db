#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Image locking in berth-spawn (one writable run of an image at a time, read-only and ephemeral
# runs share, the lock dies with the supervisor and never reaches the container) and
# --template=BASE (NEW cloned on first use, atomically, once, and reused afterwards; a berthd
# starting meanwhile leaves the build alone).
. "$(dirname "$0")/../lib/libtest.sh"
. "$(dirname "$0")/../lib/berthd.sh"
leak_begin
berthd_setup # scratch dir, $P, $PIDS (killed at exit), wait_for; berthd itself only at the end
T=$SCRATCH/lock-$$
mk_busybox_tree "$T"
# A supervisor killed with SIGKILL cannot remove its machine's cgroup: do it for it (at exit,
# berthd_setup's hook removes whatever "machine-$P-*.scope" is left).
CG=$CGROOT/machine.slice
drop_cgroup() {
	rmdir "$CG/machine-$1.scope/payload" "$CG/machine-$1.scope" 2>/dev/null
	[ "$SLICE_EXISTED" = 1 ] || rmdir "$CG" 2>/dev/null
	true
}

# bg NAME ARGS...: berth-spawn in the background, its output in $SCRATCH/NAME.out, PID in $BG.
bg() {
	local name=$1; shift
	"$BERTH_SPAWN" -M "$P-$name" --register=no --console=pipe "$@" </dev/null >"$SCRATCH/$name.out" 2>&1 &
	BG=$!
	PIDS+=($BG)
}
started() { grep -q started "$SCRATCH/$1.out" 2>/dev/null; }
SLEEPER=(/bin/sh -c 'echo started; exec sleep 300')
# run NAME ARGS...: a short berth-spawn; its exit code in $RC, stderr in $ERR.
run() {
	local name=$1; shift
	spawn -M "$P-$name" --register=no --console=pipe "$@" </dev/null >"$SCRATCH/$name.out" 2>"$SCRATCH/$name.err"
	RC=$?
	ERR=$(cat "$SCRATCH/$name.err")
}
stop() { kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
TREECMP=$TESTS_SRC/lib/treecmp.py
# The image's state; mtimes aside, since the writable run below adds and we remove a file.
tree_state() { python3 "$TREECMP" --no-mtime --manifest "$1"; }
# A template is only ever read: not even a time stamp of it may change.
base_state() { python3 "$TREECMP" --manifest "$1"; }

# ---- a writable run has the image to itself ----
before=$(tree_state "$T")
bg w -D "$T" -- /bin/sh -c 'echo started; while sleep 0.1; do echo tick >>/ticks; done'
W=$BG
wait_for 10 test -s "$T/ticks"
run w2 -D "$T" -- /bin/sh -c 'echo SECOND-RAN >/second'
check_eq "$RC" 1 "a second writable run of the image exits 1"
check "and says why" grep -qF "Image $T is in use by another machine; use --read-only or --ephemeral to share it." "$SCRATCH/w2.err"
check "and never ran its payload" test ! -e "$T/second"
t1=$(wc -l <"$T/ticks"); sleep 0.5; t2=$(wc -l <"$T/ticks")
check "the first run is undisturbed: still running and writing ($t1 -> $t2 lines)" eval 'kill -0 "$W" && test "$t2" -gt "$t1"'
run wr -D "$T" --read-only -- /bin/true
check_eq "$RC:$(echo "$ERR" | grep -c 'in use by a writable machine')" "1:1" "a --read-only run beside a writable one is refused"
run wx -D "$T" --ephemeral -- /bin/true
check_eq "$RC:$(echo "$ERR" | grep -c 'in use by a writable machine')" "1:1" "an --ephemeral run beside a writable one is refused"
run wv -D "$T" --volatile=overlay -- /bin/true
check_eq "$RC" 1 "a --volatile run beside a writable one is refused"

# The lock is the supervisor's: no process of the container holds a file of the image open.
holders() {
	local p f
	for p in "$@"; do
		for f in /proc/"$p"/fd/*; do
			[ "$(readlink "$f" 2>/dev/null)" = "$T" ] && echo "$p"
		done
	done | sort -u
}
container_pids() { # the container: every descendant of the supervisor
	local p
	for p in $(cat /proc/"$1"/task/*/children 2>/dev/null); do echo "$p"; container_pids "$p"; done
}
check_eq "$(holders "$W")" "$W" "berth-spawn (the supervisor) holds the image open for its lock"
cpids=$(container_pids "$W")
check "no process of the container holds it ($(echo $cpids))" test -n "$cpids" -a -z "$(holders $cpids)"
check "the lock is a BSD lock on the image's inode" grep -q "FLOCK.*WRITE.*:$(stat -c %i "$T") " /proc/locks
stop "$W"
rm -f "$T/ticks"
out=$(spawn -D "$T" -M "$P-fd" --register=no --console=pipe -- /bin/sh -c 'ls /proc/1/fd | tr "\n" " "; echo; /bin/probe fd-leak')
check_eq "$(echo "$out" | head -1)" "0 1 2 " "inside, the container's PID 1 has fds 0-2 only"
check "and the payload too (probe A08): $(echo "$out" | tail -1 | head -c 100)" \
	eval 'echo "$out" | grep -q "^BLOCKED fd-leak self-fds=0-2-only pid1-fds=0-2-only"'
out=$(spawn -D "$T" -M "$P-fdr" --register=no --console=pipe --read-only -- /bin/probe fd-leak)
check "the same with --read-only (a shared lock)" eval 'echo "$out" | grep -q "^BLOCKED fd-leak self-fds=0-2-only pid1-fds=0-2-only"'
out=$(spawn -D "$T" -M "$P-fdu" --register=no --console=pipe -U -- /bin/probe fd-leak)
check "the same with -U (the setup process forks from the supervisor)" eval 'echo "$out" | grep -q "^BLOCKED fd-leak self-fds=0-2-only pid1-fds=0-2-only"'

# ---- read-only runs share ----
bg r1 -D "$T" --read-only -- "${SLEEPER[@]}"
R1=$BG
wait_for 10 started r1
run r2 -D "$T" --read-only -- /bin/sh -c 'echo ro-ok'
check_eq "$RC:$(cat "$SCRATCH/r2.out")" "0:ro-ok" "two --read-only runs share the image"
run x1 -D "$T" --ephemeral -- /bin/sh -c 'echo eph >/eph; cat /eph'
check_eq "$RC:$(cat "$SCRATCH/x1.out")" "0:eph" "an --ephemeral run beside a --read-only one"
run v1 -D "$T" --volatile=overlay -- /bin/true
check_eq "$RC" 0 "a --volatile=overlay run beside a --read-only one"
run rw -D "$T" -- /bin/sh -c 'echo WRITABLE-RAN >/writable'
check_eq "$RC" 1 "a writable run while a --read-only one runs exits 1"
check "with the message, and without running" eval 'grep -q "use --read-only or --ephemeral to share it" "$SCRATCH/rw.err" && test ! -e "$T/writable"'
check "the --read-only run is undisturbed" kill -0 "$R1"
stop "$R1"
check_eq "$(tree_state "$T")" "$before" "the image is as it was after all of this"

# ---- the host's root stays refused ----
run root -D / -- /bin/true
check "-D / is refused" test "$RC" = 1 -a -n "$(echo "$ERR" | grep "host's root")"
mkdir -p "$SCRATCH/rootlink" && ln -s / "$SCRATCH/rootlink/hostroot"
run root2 -D "$SCRATCH/rootlink/hostroot" -- /bin/true
check "a symlink to / is refused too" test "$RC" = 1 -a -n "$(echo "$ERR" | grep "host's root")"

# ---- SIGKILL of the supervisor releases the lock ----
bg k -D "$T" -- "${SLEEPER[@]}"
K=$BG
wait_for 10 started k
kill -9 "$K"; wait "$K" 2>/dev/null
check "after SIGKILL of berth-spawn its container dies" wait_for 10 eval '! grep -qs . "$CG/machine-$P-k.scope/payload/cgroup.procs"'
drop_cgroup "$P-k"
run k2 -D "$T" -- /bin/sh -c 'echo again'
check_eq "$RC:$(cat "$SCRATCH/k2.out")" "0:again" "and a new writable run starts at once"

# ---- --template ----
B=$SCRATCH/base
mk_busybox_tree "$B"
mkdir -p "$B/srv/data"
echo secret >"$B/srv/data/f" && chown 1234:5678 "$B/srv/data/f" && chmod 0640 "$B/srv/data/f"
ln "$B/srv/data/f" "$B/srv/data/hardlink"
ln -s ../data/f "$B/srv/data/symlink"
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.berth", b"template")' "$B/srv/data/f"
chmod 4755 "$B/bin/busybox"
chown 42:42 "$B/srv" && chmod 0750 "$B/srv"
base_before=$(base_state "$B")

N=$SCRATCH/new
run t1 -D "$N" --template="$B" -- /bin/sh -c 'echo m >/marker; echo made'
check_eq "$RC:$(cat "$SCRATCH/t1.out")" "0:made" "--template=BASE -D NEW: NEW is created and runs"
rm -f "$SCRATCH/cmp-marker"; mv "$N/marker" "$SCRATCH/cmp-marker"
out=$(python3 "$TREECMP" --no-mtime "$B" "$N" 2>&1)
check_eq "$out" "" "NEW has BASE's contents, owners, modes, xattrs, hard links and symlinks"
mv "$SCRATCH/cmp-marker" "$N/marker"
check "no hidden leftovers beside NEW" test -z "$(ls -A "$SCRATCH" | grep '^\.#')"
run t2 -D "$N" --template="$B" -- /bin/cat /marker
check_eq "$RC:$(cat "$SCRATCH/t2.out")" "0:m" "a second run reuses NEW: the marker of the first is there"
check "and does not clone again" test -z "$(grep -i template "$SCRATCH/t2.err")"
check_eq "$(base_state "$B")" "$base_before" "BASE is unchanged"

# A pool image as BASE, NEW in the pool ($BERTH_IMAGE_POOL), found by name with -M.
POOL=$SCRATCH/pool
mkdir -p "$POOL" && cp -a "$B" "$POOL/golden"
BERTH_IMAGE_POOL=$POOL run pn --template=golden -- /bin/sh -c 'echo pool-ok'
check_eq "$RC:$(cat "$SCRATCH/pn.out")" "0:pool-ok" "--template=NAME -M NEW: NEW made in the pool from the pool image"
check "it is in the pool as $P-pn" test -d "$POOL/$P-pn/srv/data"
BERTH_IMAGE_POOL=$POOL run pn --template=no-such-image -- /bin/true
check_eq "$RC" 0 "an existing NEW is used as is, BASE not even looked at"
BERTH_IMAGE_POOL=$POOL run pm --template=no-such-image -- /bin/true
check "a missing BASE is a clear error" test "$RC" = 1 -a -n "$(echo "$ERR" | grep "No template image 'no-such-image'")"
run in -D "$B/srv/inside" --template="$B" -- /bin/true
check "NEW inside BASE is refused" test "$RC" = 1 -a ! -e "$B/srv/inside" -a -n "$(echo "$ERR" | grep "inside the template")"
run ex -D "$SCRATCH/eph" --template="$B" -x -- /bin/true
check "--template with --ephemeral is refused" test "$RC" = 1 -a ! -e "$SCRATCH/eph"

# Two first starts at once: one builds, the other waits and uses the result. --read-only so
# that both may run NEW together afterwards.
head -c 200M /dev/urandom >"$B/big"
base_before=$(base_state "$B")
N2=$SCRATCH/new2
"$BERTH_SPAWN" -D "$N2" -M "$P-c1" --template="$B" --read-only --register=no --console=pipe -- /bin/true \
	</dev/null >/dev/null 2>"$SCRATCH/c1.err" &
C1=$!; PIDS+=($C1)
"$BERTH_SPAWN" -D "$N2" -M "$P-c2" --template="$B" --read-only --register=no --console=pipe -- /bin/true \
	</dev/null >/dev/null 2>"$SCRATCH/c2.err" &
C2=$!; PIDS+=($C2)
wait "$C1"; rc1=$?; wait "$C2"; rc2=$?
check_eq "$rc1:$rc2" "0:0" "two concurrent first starts both run"
check_eq "$(cat "$SCRATCH/c1.err" "$SCRATCH/c2.err" | grep -c 'from the template')" 1 "exactly one of them built NEW"
check_eq "$(python3 "$TREECMP" "$B" "$N2" 2>&1)" "" "and NEW is whole (BASE's contents and metadata)"
check "no hidden leftovers beside it" test -z "$(ls -A "$SCRATCH" | grep '^\.#')"

# SIGKILL in the middle of the clone: no NEW, and the next start cleans up and succeeds.
N3=$SCRATCH/new3
"$BERTH_SPAWN" -D "$N3" -M "$P-kill" --template="$B" --register=no --console=pipe -- /bin/true \
	</dev/null >/dev/null 2>&1 &
KC=$!; PIDS+=($KC)
# A tight loop of builtins: the clone takes well under a second here.
appeared() {
	local end=$((SECONDS + 20))
	while [ $SECONDS -lt $end ]; do compgen -G "$SCRATCH/.#new3.template-*" >/dev/null && return 0; done
	return 1
}
if appeared; then
	kill -9 "$KC"; wait "$KC" 2>/dev/null
	check "SIGKILL during the clone leaves no visible NEW" test ! -e "$N3"
	diag "left behind: $(ls -A "$SCRATCH" | grep '^\.#' | tr '\n' ' ')"
	run kill -D "$N3" --template="$B" -- /bin/sh -c 'echo rebuilt'
	check_eq "$RC:$(cat "$SCRATCH/kill.out")" "0:rebuilt" "the next start builds NEW and runs"
	check "the leftovers are gone" test -z "$(ls -A "$SCRATCH" | grep '^\.#')"
	check_eq "$(python3 "$TREECMP" "$B" "$N3" 2>&1)" "" "and NEW is whole"
else
	kill -9 "$KC" 2>/dev/null; wait "$KC" 2>/dev/null
	not_ok "the clone's hidden directory never appeared"
fi
check_eq "$(base_state "$B")" "$base_before" "BASE is unchanged by all of this"

# A raw BASE: NEW.raw is a copy of the file (reflinked where the file system can, holes kept).
if "$BERTH_SPAWN" --help | grep -q -- '--image='; then
	RB=$SCRATCH/base.raw
	rm -f "$B/big"
	truncate -s 64M "$RB" && mkfs.ext4 -q -d "$B" "$RB"
	raw_before=$(sha256sum <"$RB")
	run ri -i "$SCRATCH/new.raw" --template="$RB" -- /bin/sh -c 'echo raw >/marker; cat /srv/data/f'
	check_eq "$RC:$(cat "$SCRATCH/ri.out")" "0:secret" "--template=BASE.raw -i NEW.raw: NEW.raw is made and boots"
	run ri -i "$SCRATCH/new.raw" --template="$RB" -- /bin/cat /marker
	check_eq "$RC:$(cat "$SCRATCH/ri.out")" "0:raw" "a second run reuses NEW.raw"
	check_eq "$(sha256sum <"$RB")" "$raw_before" "BASE.raw is unchanged"
	# The lock of a raw image is on the file.
	bg rw1 -i "$SCRATCH/new.raw" -- "${SLEEPER[@]}"
	RW1=$BG
	wait_for 10 started rw1
	run rw2 -i "$SCRATCH/new.raw" -- /bin/true
	check "a second writable run of a raw image is refused" \
		eval 'test "$RC" = 1 && grep -qF "Image $SCRATCH/new.raw is in use by another machine" "$SCRATCH/rw2.err"'
	run rw3 -i "$SCRATCH/new.raw" --read-only -- /bin/true
	check_eq "$RC" 1 "and so is a --read-only one beside it"
	stop "$RW1"
	bg rw4 -i "$SCRATCH/new.raw" --read-only -- "${SLEEPER[@]}"
	RW4=$BG
	wait_for 10 started rw4
	run rw5 -i "$SCRATCH/new.raw" --ephemeral -- /bin/true
	check_eq "$RC" 0 "an --ephemeral run of a raw image beside a --read-only one"
	stop "$RW4"
	cp --sparse=always "$RB" "$POOL/goldraw.raw"
	BERTH_IMAGE_POOL=$POOL run rp --template=goldraw --read-only -- /bin/true
	check "--template=NAME of a pool NAME.raw -M NEW makes NEW.raw in the pool" \
		eval 'test "$RC" = 0 && cmp -s "$RB" "$POOL/$P-rp.raw"'
	check "and keeps it sparse" test "$(stat -c %b "$POOL/$P-rp.raw")" -le "$(stat -c %b "$RB")"
	run rd -D "$SCRATCH/rawdir" --template="$RB" -- /bin/true
	check "a raw BASE with -D is refused" test "$RC" = 1 -a ! -e "$SCRATCH/rawdir"
else
	skip "raw templates" "this berth-spawn has no --image= yet"
fi

# A btrfs subvolume as BASE: NEW is a snapshot of it (a subvolume itself), made in no time.
if command -v mkfs.btrfs >/dev/null && command -v btrfs >/dev/null; then
	BI=$SCRATCH/btrfs.img BM=$SCRATCH/btrfs
	truncate -s 512M "$BI" && mkfs.btrfs -q "$BI" >/dev/null && mkdir -p "$BM"
	BDEV=$(losetup --find --show "$BI")
	on_cleanup "umount '$BM' 2>/dev/null; loop_detach_file '$BI'; true"
	mount "$BDEV" "$BM"
	btrfs -q subvolume create "$BM/base" >/dev/null
	cp -a "$B/." "$BM/base/"
	run bt -D "$BM/new" --template="$BM/base" -- /bin/sh -c 'echo snap >/marker; cat /srv/data/f'
	check_eq "$RC:$(cat "$SCRATCH/bt.out")" "0:secret" "--template= of a btrfs subvolume: NEW is made and runs"
	check "NEW is a subvolume: a snapshot, not a copy" test "$(stat -c %i "$BM/new")" = 256
	rm -f "$BM/new/marker"
	check_eq "$(python3 "$TREECMP" --no-mtime "$BM/base" "$BM/new" 2>&1)" "" "with BASE's contents and metadata"
	check "no hidden leftovers beside it" test -z "$(ls -A "$BM" | grep '^\.#')"
	umount "$BM" && loop_detach_file "$BI"
else
	skip "--template= of a btrfs subvolume" "mkfs.btrfs or btrfs is not installed (btrfs-progs)"
fi

# ---- berthd's pool clean at its start leaves a template build that is running alone ----
# A build of NEW in the pool as berth-spawn makes it: ".#NEW.template-XXXXXXXX", while flock(1)
# holds ".#NEW.lock" exclusively, as the builder does. Beside it leftovers nobody holds.
CP=$SCRATCH/cpool
TB=".#$P-tb.template-1234abcd"
mkdir -p "$CP/$TB/etc" "$CP/.#$P-old.template-0badcafe" "$CP/.#clone-$P-x.abc123"
echo half >"$CP/$TB/etc/half"
touch "$CP/.#$P-old.lock"
# One process holds it (flock(1) with a command would leave the lock with its child too).
(exec 9>"$CP/.#$P-tb.lock" && flock -x 9 && exec sleep 300) &
FL=$!; PIDS+=($FL)
check "the build's lock is held" wait_for 5 eval "! flock -n -s '$CP/.#$P-tb.lock' true"
pool_hidden() { ls -A "$CP" | grep '^\.#' | sort | tr '\n' ' '; }
stop_berthd() { kill -9 "$BERTHD_PID"; wait "$BERTHD_PID" 2>/dev/null; BERTHD_PID=; }
if BERTH_IMAGE_POOL=$CP start_berthd; then
	check_eq "$(pool_hidden)" "$(printf '%s\n' "$TB" ".#$P-tb.lock" | sort | tr '\n' ' ')" \
		"berthd's start keeps a build whose lock is held (and its lock), removes the other leftovers"
	check_eq "$(cat "$CP/$TB/etc/half" 2>&1)" half "the build's files are untouched"
	stop_berthd
	kill "$FL"; wait "$FL" 2>/dev/null
	if BERTH_IMAGE_POOL=$CP start_berthd; then
		check_eq "$(pool_hidden)" "" "once the lock is free, the next start removes the build and its lock file"
		stop_berthd
	else
		not_ok "berthd starts again (see $SCRATCH/berthd.log)"
	fi
else
	not_ok "berthd starts (see $SCRATCH/berthd.log)"
fi
# The same with a real build: berth-spawn --template is stopped (SIGSTOP) in the middle of its
# clone, berthd starts, and the build, continued, ends with a whole NEW.
BB=$SCRATCH/base-big
cp -a "$B" "$BB" && head -c 200M /dev/urandom >"$BB/big"
BERTH_IMAGE_POOL=$CP "$BERTH_SPAWN" -M "$P-e2e" --template="$BB" --register=no --console=pipe -- /bin/true \
	</dev/null >/dev/null 2>"$SCRATCH/e2e.err" &
EB=$!; PIDS+=($EB)
building() {
	local end=$((SECONDS + 20))
	while [ $SECONDS -lt $end ]; do compgen -G "$CP/.#$P-e2e.template-*" >/dev/null && return 0; done
	return 1
}
if building && kill -STOP "$EB" && compgen -G "$CP/.#$P-e2e.template-*" >/dev/null; then
	if BERTH_IMAGE_POOL=$CP start_berthd; then
		check "berthd's start during a real template build leaves its work and lock alone" \
			eval "compgen -G '$CP/.#$P-e2e.template-*' >/dev/null && test -e '$CP/.#$P-e2e.lock'"
		stop_berthd
	else
		not_ok "berthd starts during a template build (see $SCRATCH/berthd.log)"
	fi
	kill -CONT "$EB"; wait "$EB"; rc=$?
	check_eq "$rc" 0 "and the build, continued, ends and its machine runs ($(tail -n1 "$SCRATCH/e2e.err"))"
	check_eq "$(python3 "$TREECMP" "$BB" "$CP/$P-e2e" 2>&1)" "" "with a whole NEW"
	check_eq "$(pool_hidden)" "" "and nothing hidden left"
else
	kill -CONT "$EB" 2>/dev/null; wait "$EB" 2>/dev/null
	skip "berthd's start during a real template build" "the clone ended before the test could stop it"
fi
rm -rf "$BB"

# ---- berthctl start: berthd's berth-spawn locks the image the same way ----
BP=$SCRATCH/bpool
mkdir -p "$BP"
mk_busybox_tree "$BP/$P-sm"
export BERTH_LOG_DIR=$SCRATCH/log
ctl() { DBUS_SYSTEM_BUS_ADDRESS=$BUS "$BERTHCTL" "$@"; }
if BERTH_IMAGE_POOL=$BP start_berthd; then
	out=$(ctl start "$P-sm" 2>&1)
	check_eq "$?" 0 "berthctl start of a pool image ($(echo $out))"
	wait_for 10 grep -q 'booted as' "$BERTH_LOG_DIR/$P-sm.log"
	run sm -D "$BP/$P-sm" -- /bin/sh -c 'echo HAND-RAN'
	check "a writable berth-spawn by hand of the image berthctl started is refused" \
		eval 'test "$RC" = 1 && grep -q "is in use by another machine" "$SCRATCH/sm.err" && ! grep -q HAND-RAN "$SCRATCH/sm.out"'
	run smr -D "$BP/$P-sm" --read-only -- /bin/true
	check_eq "$RC" 1 "and a --read-only one too"
	ctl poweroff "$P-sm" >/dev/null 2>&1
	check "the machine powers off" wait_for 20 gone "$P-sm"
	wait_for 10 test ! -d "$CGROOT/machine.slice/berth-spawn@$P-sm.service"
	run sm2 -D "$BP/$P-sm" -- /bin/sh -c 'echo hand-ok'
	check_eq "$RC:$(cat "$SCRATCH/sm2.out")" "0:hand-ok" "once it is down, the image is free"
else
	not_ok "berthd starts (see $SCRATCH/berthd.log)"
fi
berthd_teardown

leak_check
tap_done
