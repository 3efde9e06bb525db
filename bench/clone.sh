#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The clone benchmark (issue 5, "Performance"): CloneImage of the cached Debian tree with berthd
# against systemd-machined 252 and `cp -a` on ext4, xfs (reflink=1) and btrfs pools, all in one
# testhost (a real systemd as PID 1, one system bus), plus the cost of `berth-spawn --ephemeral`
# against a plain start of the same tree.
#
# Not a test: run it by hand, as root, from the repository root after a build:
#   bench/clone.sh [BUILD_DIR]        (BUILD_DIR defaults to $BUILD, then to build)
# Markdown tables on stdout, progress on stderr. The loop file systems, their loop devices, the
# testhost and the scratch directory go away at the end, also on failure or Ctrl-C.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
build=$(realpath "${1:-${BUILD:-build}}")
RUNS=${BENCH_CLONE_RUNS:-5}
WARMUP=${BENCH_CLONE_WARMUP:-1}
EPH_RUNS=${BENCH_EPH_RUNS:-100}
EPH_WARMUP=${BENCH_EPH_WARMUP:-10}
FS_LIST=${BENCH_CLONE_FS:-ext4 xfs btrfs}
FS_MIB=${BENCH_CLONE_FS_MIB:-4096}
NICE=${BENCH_NICE:--10}

log() { printf '%s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { log "$0 needs root (loop devices, a testhost)."; exit 1; }
for f in src/daemon/berthd src/spawn/berth-spawn src/ctl/berthctl meson-private/install.dat; do
	[ -e "$build/$f" ] || { log "No $f in $build: build first."; exit 1; }
done
for t in cc losetup mkfs.ext4 mkfs.xfs mkfs.btrfs machinectl busctl; do
	command -v "$t" >/dev/null || { log "$0 needs $t."; exit 1; }
done
tree=$("$repo/tests/fixtures/debian-tree.sh")

# shellcheck source=../tests/lib/testhost.sh
. "$repo/tests/lib/testhost.sh"
# shellcheck source=testhost-berthd.sh
. "$here/testhost-berthd.sh"
TH=bench-clone-$$
BASE=$(mktemp -d /var/tmp/berth-bench-clone.XXXXXX)
SH=$BASE/shared # bound into the testhost at the same path: the driver, its logs, the pools
mkdir -p "$SH/logs" "$SH/fs"
chmod 755 "$BASE"
MNTS=()
started=0
mounts_before=$(awk '{print $5}' /proc/self/mountinfo | sort)

cleanup() {
	local rc=$? i
	set +e
	[ "$started" = 1 ] && testhost_exec "$TH" systemctl stop berthd-bench.service 2>/dev/null
	testhost_stop "$TH" || rc=1
	for ((i = ${#MNTS[@]} - 1; i >= 0; i--)); do
		umount "${MNTS[i]}" || { log "cannot unmount ${MNTS[i]}"; rc=1; }
	done
	# By the image file, never by the device name, which may have passed to someone else.
	for fs in $FS_LIST; do losetup -j "$BASE/$fs.img" -n -O NAME | xargs -r -n1 losetup -d; done
	# Other users of the machine may attach loop devices meanwhile: look for ours only.
	for fs in $FS_LIST; do
		[ -z "$(losetup -j "$BASE/$fs.img" 2>/dev/null)" ] || { log "LEFT BEHIND: a loop device on $BASE/$fs.img"; rc=1; }
	done
	if grep -qF " $BASE" /proc/self/mountinfo; then
		log "mounts left under $BASE, not removing it"; rc=1
	else
		rm -rf --one-file-system "$BASE"
	fi
	if [ "$(awk '{print $5}' /proc/self/mountinfo | sort)" != "$mounts_before" ]; then
		diff <(echo "$mounts_before") <(awk '{print $5}' /proc/self/mountinfo | sort) |
			grep -q "$BASE" && { log "LEFT BEHIND: mounts under $BASE"; rc=1; }
	fi
	[ -d "$_th_cgroot/berth-testhost-$TH" ] && { log "LEFT BEHIND: $_th_cgroot/berth-testhost-$TH"; rc=1; }
	[ $rc = 0 ] && log "clean: no loop device, mount or cgroup left behind"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cc -O2 -Wall -o "$SH/driver" "$here/driver.c"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the pools: one loop file system each, with the Debian tree copied in (and, on btrfs, a
# second copy in a subvolume, which clones as a snapshot) ---
for fs in $FS_LIST; do
	img=$BASE/$fs.img
	mnt=$SH/fs/$fs
	truncate -s "${FS_MIB}M" "$img"
	case $fs in
	ext4) mkfs.ext4 -q -F "$img" ;;
	xfs) mkfs.xfs -q -m reflink=1 "$img" ;;
	btrfs) mkfs.btrfs -q "$img" ;;
	*) log "unknown file system $fs"; exit 1 ;;
	esac >/dev/null
	dev=$(losetup --find --show "$img")
	mkdir -p "$mnt"
	mount "$dev" "$mnt"
	MNTS+=("$mnt")
	mkdir "$mnt/pool"
	log "copying the Debian tree ($(du -sh "$tree" | cut -f1)) into the $fs pool ($dev)..."
	cp -a "$tree" "$mnt/pool/deb"
	if [ "$fs" = btrfs ]; then
		btrfs -q subvolume create "$mnt/pool/debsv" >/dev/null
		cp -a "$tree/." "$mnt/pool/debsv/"
	fi
done
sync

bench_testhost_up "$TH" "$build" --bind "$SH" || exit 1
th() { testhost_exec "$TH" "$@"; }
th mkdir -p /var/lib/machines
# The daemons' workers do the copying: they run at the priority the cp rows get from the driver.
th sh -c 'mkdir -p /run/systemd/system/systemd-machined.service.d &&
	printf "[Service]\nNice=%s\n" "$1" >/run/systemd/system/systemd-machined.service.d/bench-nice.conf' sh "$NICE"
th systemctl daemon-reload

R=$SH/results.txt
: >"$R"
# Removes the clone a run made (untimed, after every run), then flushes everything to disk so
# that one run's writeback does not land in the next one's time.
after='d=/var/lib/machines/c-$BENCH_LABEL
if [ "$(stat -f -c %T "$d")" = btrfs ] && [ "$(stat -c %i "$d")" = 256 ]; then
	btrfs -q subvolume delete -c "$d" >/dev/null
else
	chattr -R -i "$d" 2>/dev/null || true; rm -rf "$d"
fi
sync'
bcall() { echo busctl --timeout=900 call "$1" "$2" "$1.Manager" CloneImage ssb "$3" "$4" false; }

for fs in $FS_LIST; do
	# Both daemons see this pool as /var/lib/machines; both start afresh on it.
	th mount --bind "$SH/fs/$fs/pool" /var/lib/machines
	th systemctl stop systemd-machined.service 2>/dev/null || true
	th systemctl reset-failed berthd-bench.service 2>/dev/null || true
	th systemd-run --quiet --unit=berthd-bench --service-type=notify -p Nice="$NICE" "$berthd"
	th busctl call org.freedesktop.machine1 /org/freedesktop/machine1 org.freedesktop.machine1.Manager \
		ListImages >/dev/null
	for u in berthd-bench systemd-machined; do
		echo "nice $fs $u $(th sh -c 'ps -o ni= -p "$(systemctl show -P MainPID "$1.service")"' sh "$u" | tr -d ' ')" >>"$R"
	done
	srcs=deb
	[ "$fs" = btrfs ] && srcs="deb debsv"
	for src in $srcs; do
		sfx=
		[ "$src" = debsv ] && sfx=-sv
		log "$fs: cloning $src, $RUNS runs after $WARMUP warm-up, interleaved..."
		# shellcheck disable=SC2046
		th nice -n "$NICE" "$SH/driver" -l "$SH/logs" -n "$RUNS" -w "$WARMUP" -t 900 -a "$after" \
			-- "berth$sfx" $(bcall org.berth.machine1 /org/berth/machine1 "$src" "c-berth$sfx") \
			-- "berthctl$sfx" berthctl --no-pager clone "$src" "c-berthctl$sfx" \
			-- "machined$sfx" $(bcall org.freedesktop.machine1 /org/freedesktop/machine1 "$src" "c-machined$sfx") \
			-- "machinectl$sfx" machinectl clone "$src" "c-machinectl$sfx" \
			-- "cp-reflink-auto$sfx" cp -a --reflink=auto "/var/lib/machines/$src" "/var/lib/machines/c-cp-reflink-auto$sfx" \
			-- "cp-plain$sfx" cp -a --reflink=never "/var/lib/machines/$src" "/var/lib/machines/c-cp-plain$sfx" |
			sed "s/^/$fs /" | tee -a "$R" >&2
	done
	# What each daemon makes of a clone on btrfs: a subvolume (inode 256) or a directory.
	if [ "$fs" = btrfs ]; then
		for src in deb debsv; do
			th busctl --timeout=900 call org.berth.machine1 /org/berth/machine1 org.berth.machine1.Manager \
				CloneImage ssb "$src" "kind-berth" false
			th machinectl clone "$src" "kind-machined"
			for k in berth machined; do
				d=$SH/fs/btrfs/pool/kind-$k
				if [ "$(stat -c %i "$d")" = 256 ]; then
					echo "kind $k $src subvolume" >>"$R"
					btrfs -q subvolume delete -c "$d" >/dev/null
				else
					echo "kind $k $src directory" >>"$R"
					rm -rf "$d"
				fi
			done
		done
	fi
	th systemctl stop berthd-bench.service
	th systemctl stop systemd-machined.service
	th umount /var/lib/machines
done

# --- ephemeral start cost: the same Debian copy with and without --ephemeral ---
log "berth-spawn -- /bin/true with and without --ephemeral, $EPH_RUNS runs each, interleaved..."
eph=()
for fs in $FS_LIST; do
	for mode in plain ephemeral; do
		eph+=(-- "$mode-$fs" berth-spawn -q -D "$SH/fs/$fs/pool/deb" --console=pipe --register=no --keep-unit)
		[ "$mode" = ephemeral ] && eph+=(--ephemeral)
		eph+=(/bin/true) # the driver takes "--" as the end of a command
	done
done
th nice -n "$NICE" "$SH/driver" -l "$SH/logs" -n "$EPH_RUNS" -w "$EPH_WARMUP" -t 60 "${eph[@]}" |
	sed 's/^/eph /' | tee -a "$R" >&2

# --- report ---
med() { awk -v f="$1" -v l="$2" '$1 == f && $2 == l && $3 == "time_ms" { print $5; exit }' "$R"; }
col() { awk -v f="$1" -v l="$2" -v c="$3" '$1 == f && $2 == l && $3 == "time_ms" { print $c; exit }' "$R"; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "–"; else printf "%.2f", a / b }'; }

echo "## Machine"
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); kernel $(uname -r); $(nproc) CPUs; load $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; runs at nice $NICE"
btype=$(python3 -c 'import json,sys; print(next(o["value"] for o in json.load(open(sys.argv[1])) if o["name"] == "buildtype"))' "$build/meson-info/intro-buildoptions.json" 2>/dev/null || echo '?')
echo "- berth at $(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$repo" && git diff --quiet HEAD -- 2>/dev/null || echo ' plus uncommitted changes') (build $build, $btype); $(systemctl --version | head -1); $(cp --version | head -1)"
echo "- nice of berthd/machined per pool (the cp rows run at $NICE): $(awk '$1 == "nice" { if ($2 in v) v[$2] = v[$2] "/" $4; else v[$2] = $4 } END { for (f in v) printf "%s %s; ", f, v[f] }' "$R")"
echo "- the tree: $tree, $(du -sh --apparent-size "$tree" | cut -f1) in $(find "$tree" | wc -l) entries; pools: ${FS_MIB} MiB loop file systems on $(findmnt -no FSTYPE -T /var/tmp) (/var/tmp)"
echo
for fs in $FS_LIST; do
	srcs=deb
	[ "$fs" = btrfs ] && srcs="deb debsv"
	for src in $srcs; do
		sfx=
		what="a directory image"
		[ "$src" = debsv ] && { sfx=-sv; what="a subvolume image"; }
		plain=$(med "$fs" "cp-plain$sfx")
		auto=$(med "$fs" "cp-reflink-auto$sfx")
		echo "### $fs, $what: clone wall time, ms ($RUNS runs after $WARMUP warm-up, interleaved)"
		echo "| command | median | min | max | plain copy ÷ this | this ÷ cp -a --reflink=auto |"
		echo "|---|---|---|---|---|---|"
		for l in berth berthctl machined machinectl cp-reflink-auto cp-plain; do
			m=$(med "$fs" "$l$sfx")
			[ -n "$m" ] || continue
			printf '| %s | %.1f | %.1f | %.1f | %s | %s |\n' "$l$sfx" "$m" "$(col "$fs" "$l$sfx" 7)" \
				"$(col "$fs" "$l$sfx" 8)" "$(div "$plain" "$m")" "$(div "$m" "$auto")"
		done
		echo
	done
done
if grep -q '^kind ' "$R"; then
	kind() { awk -v k="$1" -v s="$2" '$1 == "kind" && $2 == k && $3 == s { print $4 }' "$R"; }
	echo "On btrfs, the clone of the directory image is a $(kind berth deb) with berthd, a $(kind machined deb) with machined;"
	echo "the clone of the subvolume image is a $(kind berth debsv) with berthd, a $(kind machined debsv) with machined."
	echo
fi
echo "### Start cost of --ephemeral: berth-spawn -D DEBIAN-COPY -- /bin/true, ms ($EPH_RUNS runs after $EPH_WARMUP warm-up, interleaved)"
echo "| pool | plain median | plain p90 | --ephemeral median | --ephemeral p90 | difference of medians |"
echo "|---|---|---|---|---|---|"
for fs in $FS_LIST; do
	a=$(med eph "plain-$fs"); b=$(med eph "ephemeral-$fs")
	printf '| %s | %.2f | %.2f | %.2f | %.2f | %+.2f |\n' "$fs" "$a" "$(col eph "plain-$fs" 6)" "$b" \
		"$(col eph "ephemeral-$fs" 6)" "$(awk -v a="$a" -v b="$b" 'BEGIN { print b - a }')"
done
echo
echo "## Targets (issue 5)"
verdict() { # TEXT OK
	if [ "$2" = 1 ]; then echo "- $1: **met**"; else echo "- $1: **MISSED**"; fi
}
for fs in $FS_LIST; do
	[ "$fs" = ext4 ] && continue
	srcs=deb
	[ "$fs" = btrfs ] && srcs="deb debsv"
	for src in $srcs; do
		sfx=
		[ "$src" = debsv ] && sfx=-sv
		b=$(med "$fs" "berth$sfx"); plain=$(med "$fs" "cp-plain$sfx"); auto=$(med "$fs" "cp-reflink-auto$sfx")
		r=$(div "$plain" "$b")
		verdict "$fs$sfx: berth clone ≥ 10× faster than a plain copy: $r× (medians $b vs $plain ms)" \
			"$(awk -v r="$r" 'BEGIN { print (r != "–" && r >= 10) ? 1 : 0 }')"
		verdict "$fs$sfx: berth never slower than cp -a --reflink=auto: median $b vs $auto ms, max $(col "$fs" "berth$sfx" 8) vs $(col "$fs" "cp-reflink-auto$sfx" 8) ms" \
			"$(awk -v a="$b" -v c="$auto" 'BEGIN { print (a != "" && c != "" && a <= c) ? 1 : 0 }')"
	done
done
for fs in $FS_LIST; do
	d=$(awk -v a="$(med eph "plain-$fs")" -v b="$(med eph "ephemeral-$fs")" 'BEGIN { printf "%.2f", b - a }')
	verdict "$fs: --ephemeral start ≤ +5 ms: $d ms" "$(awk -v d="$d" 'BEGIN { print d <= 5 ? 1 : 0 }')"
done
