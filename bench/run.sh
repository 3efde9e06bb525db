#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth's benchmark (issue 2): exec latency, boot cycle and supervisor memory of berth-spawn,
# measured side by side in one run with systemd-nspawn, bubblewrap and a bare-minimum container.
#
# Not a test (benchmarks are never timed tests): run it by hand, as root, from the repository
# root after a build:   bench/run.sh [--quick|--profile] [BUILD_DIR]   (or BUILD=DIR bench/run.sh)
# It prints Markdown tables on stdout, progress on stderr, and leaves nothing behind.
# --profile instead samples berth-spawn and the bare minimum with perf and prints where the CPU
# time of one start goes (per process and system call).
set -euo pipefail

usage() {
	echo "usage: $0 [--quick|--profile] [BUILD_DIR]   (BUILD_DIR defaults to \$BUILD or build)" >&2
	exit 2
}

quick=0
profile=0
build=${BUILD:-build}
for a in "$@"; do
	case "$a" in
	--quick) quick=1 ;;
	--profile) profile=1 ;;
	-h | --help) usage ;;
	-*) usage ;;
	*) build=$a ;;
	esac
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
spawn=$(realpath -e "$build/src/spawn/berth-spawn" 2>/dev/null) || {
	echo "No berth-spawn in $build/src/spawn: build first (meson setup $build && ninja -C $build)." >&2
	exit 1
}
[ "$(id -u)" = 0 ] || { echo "$0 needs root (namespaces, mounts, cgroups)." >&2; exit 1; }
needs="cc systemd-nspawn bwrap busybox"
[ "$profile" = 1 ] && needs="cc busybox perf python3"
for t in $needs; do
	command -v "$t" >/dev/null || { echo "$0 needs $t." >&2; exit 1; }
done

# Repetitions; each can be overridden from the environment.
if [ "$quick" = 1 ]; then d=(30 5 2 3 1 1); else d=(200 20 5 20 1 3); fi
EXEC_RUNS=${BENCH_EXEC_RUNS:-${d[0]}}
EXEC_WARMUP=${BENCH_EXEC_WARMUP:-${d[1]}}
EXEC_MEM_RUNS=${BENCH_EXEC_MEM_RUNS:-${d[2]}}
BOOT_RUNS=${BENCH_BOOT_RUNS:-${d[3]}}
BOOT_WARMUP=${BENCH_BOOT_WARMUP:-${d[4]}}
BOOT_MEM_RUNS=${BENCH_BOOT_MEM_RUNS:-${d[5]}}
# Everything started from here inherits the priority: fair to all, less noise from the rest.
NICE=${BENCH_NICE:--10}

log() { printf '%s\n' "$*" >&2; }

cg_root=/sys/fs/cgroup/unified
[ -f /sys/fs/cgroup/cgroup.controllers ] && cg_root=/sys/fs/cgroup
cg_name=berth-bench-$$
CG=$cg_root/$cg_name
orig_cg=$(sed -n 's/^0:://p' /proc/self/cgroup)
nspawn_run_existed=0
[ -e /run/systemd/nspawn ] && nspawn_run_existed=1

# What a run may leave behind: mount points, cgroup directories (cgroup2 and the v1 name=systemd
# hierarchy, which nspawn mirrors its cgroups into on hybrid hosts) and nspawn's /run state.
snapshot() {
	echo "== mounts"; awk '{print $5}' /proc/self/mountinfo | sort
	echo "== cgroups"
	find "$cg_root" -mindepth 1 -type d 2>/dev/null | sort
	[ -d /sys/fs/cgroup/systemd ] && find /sys/fs/cgroup/systemd -mindepth 1 -type d 2>/dev/null | sort
	echo "== nspawn"; find /run/systemd/nspawn 2>/dev/null | sort
}
before=$(snapshot)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

SCRATCH=$(mktemp -d /var/tmp/berth-bench.XXXXXX)
export SCRATCH

rmdir_tree() { [ -d "$1" ] && find "$1" -depth -type d -exec rmdir {} + 2>/dev/null; return 0; }

cleanup() {
	local rc=$? after leaks
	set +e
	for m in "$SCRATCH/bench-deb" "$SCRATCH/ovl"; do
		mountpoint -q "$m" && { umount "$m" || umount -l "$m"; }
	done
	# Out of our cgroup, then end whatever a failed run left in it (all of it was started by
	# this script) and remove it, with nspawn's mirror in the v1 name=systemd hierarchy.
	if [ -d "$CG" ]; then
		echo $$ >"$cg_root$orig_cg/cgroup.procs"
		if grep -q 'populated 1' "$CG/cgroup.events" 2>/dev/null; then
			echo 1 >"$CG/cgroup.kill"
			sleep 0.5
		fi
		rmdir_tree "$CG"
	fi
	[ -d /sys/fs/cgroup/systemd ] && rmdir_tree "/sys/fs/cgroup/systemd/$cg_name"
	# nspawn 252 leaves /run/systemd/nspawn/{propagate,locks} when /run is not a tmpfs.
	rm -rf /run/systemd/nspawn/propagate/bench-bb /run/systemd/nspawn/propagate/bench-deb
	if [ "$nspawn_run_existed" = 0 ] && [ -d /run/systemd/nspawn ]; then
		rmdir /run/systemd/nspawn/* /run/systemd/nspawn 2>/dev/null
	fi
	if grep -q " $SCRATCH" /proc/self/mountinfo; then
		log "mounts left under $SCRATCH, not removing it"
	else
		rm -rf --one-file-system "$SCRATCH"
	fi
	after=$(snapshot)
	if [ "$after" != "$before" ]; then
		leaks=$(diff <(echo "$before") <(echo "$after") | grep '^[<>]' || true)
		if echo "$leaks" | grep -qE "berth-bench|bench-bb|bench-deb"; then
			log "LEFT BEHIND by the benchmark:"; log "$leaks"
			rc=1
		else
			log "note: the system changed during the run, not by this benchmark:"; log "$leaks"
		fi
	else
		log "clean: no mounts, cgroups or nspawn state left behind"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- helpers, built fresh into the scratch dir ---
bin=$SCRATCH/bin
mkdir -p "$bin" "$SCRATCH/logs"
cc -O2 -Wall -o "$bin/driver" "$here/driver.c"
cc -O2 -Wall -o "$bin/bare-minimum" "$here/bare-minimum.c"
cc -O2 -Wall -static -o "$bin/init-stamp" "$here/init-stamp.c"

# All runs happen in a cgroup of ours: berth --keep-unit puts its payload below it, nspawn
# --keep-unit its supervisor and payload; nothing touches the host's cgroups.
mkdir "$CG"
echo $$ >"$CG/cgroup.procs"
renice -n "$NICE" -p $$ >/dev/null

drv() { "$bin/driver" -l "$SCRATCH/logs" "$@"; }

# --- the machine ---
machine_facts() {
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- kernel: $(uname -r); nproc: $(nproc); RAM: $(free -m | awk '/^Mem:/ {print $2}') MiB"
	echo "- berth-spawn: $spawn (repository at $(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo '?')); $(systemd-nspawn --version | head -1); $(bwrap --version)"
	echo "- load average at the start: $load_start; runs at nice $NICE"
	echo '```'
	lscpu | head -15
	echo '```'
}

# table FILE BASE ROWS...: median/p90 with ratios to BASE, from driver output lines
# "LABEL METRIC N MEDIAN P90 MIN MAX".
exec_table() {
	awk -v base="$2" -v rows="$3" '
		$2 == "time_ms" { n[$1] = $3; med[$1] = $4; p90[$1] = $5; min[$1] = $6 }
		END {
			print "| runtime | runs | median ms | p90 ms | min ms | × bare minimum (median) |"
			print "|---|---|---|---|---|---|"
			split(rows, r, " ")
			for (i = 1; i in r; i++) {
				l = r[i]; if (!(l in med)) continue
				printf "| %s | %d | %.2f | %.2f | %.2f | %.2f |\n", l, n[l], med[l], p90[l], min[l], med[l] / med[base]
			}
		}' "$1"
}

mem_table() {
	awk -v rows="$2" '
		{ v[$1, $2] = $4; mx[$1, $2] = $7; n[$1] = $3 }
		END {
			print "| runtime | VmHWM of the supervisor, median (max) MiB | RssAnon / RssFile at exit, MiB | wait4 ru_maxrss MiB |"
			print "|---|---|---|---|"
			split(rows, r, " ")
			for (i = 1; i in r; i++) {
				l = r[i]; if (!((l, "hwm_kb") in v)) continue
				printf "| %s | %.2f (%.2f) | %.2f / %.2f | %.2f |\n", l, v[l, "hwm_kb"] / 1024, mx[l, "hwm_kb"] / 1024,
					v[l, "anon_kb"] / 1024, v[l, "file_kb"] / 1024, v[l, "maxrss_kb"] / 1024
			}
		}' "$1"
}

boot_table() {
	awk -v base="$2" -v rows="$3" '
		$2 == "time_ms" { n[$1] = $3; med[$1] = $4; p90[$1] = $5 }
		$2 == "to_init_ms" { imed[$1] = $4; ip90[$1] = $5; imax[$1] = $7 }
		END {
			print "| runtime | runs | boot + poweroff median ms | p90 ms | × nspawn | time before init median ms | p90 | max |"
			print "|---|---|---|---|---|---|---|---|"
			split(rows, r, " ")
			for (i = 1; i in r; i++) {
				l = r[i]; if (!(l in med)) continue
				printf "| %s | %d | %.1f | %.1f | %.2f | %.2f | %.2f | %.2f |\n", l, n[l], med[l], p90[l], med[l] / med[base], imed[l], ip90[l], imax[l]
			}
		}' "$1"
}

verdict() { # NAME VALUE OP LIMIT UNIT
	if awk -v a="$2" -v b="$4" -v op="$3" 'BEGIN { exit !(op == "<=" ? a <= b : a >= b) }'; then
		echo "- $1: $2 $5 (target $3 $4 $5): **met**"
	else
		echo "- $1: $2 $5 (target $3 $4 $5): **MISSED** by $(awk -v a="$2" -v b="$4" 'BEGIN { printf "%.0f%%", (a / b - 1) * 100 }')"
	fi
}
get() { awk -v l="$2" -v m="$3" -v f="$4" '$1 == l && $2 == m { print $f }' "$1"; }

# --- 1. exec latency: /bin/true from a busybox tree ---
bb=$SCRATCH/bench-bb
"$repo/tests/fixtures/busybox-tree.sh" "$bb" >/dev/null

if [ "$profile" = 1 ]; then
	hz=5000
	log "profiling: $EXEC_RUNS runs of berth-spawn and of the bare minimum under perf record..."
	perf record -q -g -F "$hz" -o "$SCRATCH/perf.data" -- "$bin/driver" -l "$SCRATCH/logs" -n "$EXEC_RUNS" -w 0 -t 30 \
		-- bare "$bin/bare-minimum" "$bb" /bin/true \
		-- berth "$spawn" -q -D "$bb" --console=pipe --register=no --keep-unit /bin/true >&2
	perf script -i "$SCRATCH/perf.data" --show-task-events -F comm,pid,tid,ip,sym,dso 2>/dev/null >"$SCRATCH/perf.txt"
	echo "# CPU time per start (perf, $hz Hz; process exit is barely sampled)"
	python3 "$here/perf-breakdown.py" "$SCRATCH/perf.txt" "$hz" 0.03
	exit 0
fi
exec_cmds=(
	-- host-true /bin/true
	-- berth-spawn-version "$spawn" --version
	-- bare "$bin/bare-minimum" "$bb" /bin/true
	-- berth "$spawn" -q -D "$bb" --console=pipe --register=no --keep-unit /bin/true
	-- berth-as-pid1 "$spawn" -q -D "$bb" --console=pipe --register=no --keep-unit --as-pid1 /bin/true
	-- berth-own-scope "$spawn" -q -D "$bb" --console=pipe --register=no /bin/true
	-- nspawn systemd-nspawn -q -D "$bb" --console=pipe --register=no --keep-unit /bin/true
	-- bwrap bwrap --unshare-all --bind "$bb" / --proc /proc --dev /dev /bin/true
)
exec_rows="host-true berth-spawn-version bare berth berth-as-pid1 berth-own-scope bwrap nspawn"
# BENCH_BERTH_BEFORE=PATH: another berth-spawn binary (say, a copy from before a change), run
# interleaved with the others as the row berth-before, so that before and after share one run.
# Both then run right after berth-as-pid1: --keep-unit moves the supervisor into another
# cgroup, and the first such move after some 10 ms without one waits for an RCU grace period
# (several ms here), so each of the two must follow a row that has just moved one.
if [ -n "${BENCH_BERTH_BEFORE:-}" ]; then
	before_spawn=$(realpath -e "$BENCH_BERTH_BEFORE") || { echo "No $BENCH_BERTH_BEFORE." >&2; exit 1; }
	exec_cmds=(
		-- host-true /bin/true
		-- berth-spawn-version "$spawn" --version
		-- bare "$bin/bare-minimum" "$bb" /bin/true
		-- berth-as-pid1 "$spawn" -q -D "$bb" --console=pipe --register=no --keep-unit --as-pid1 /bin/true
		-- berth-before "$before_spawn" -q -D "$bb" --console=pipe --register=no --keep-unit /bin/true
		-- berth "$spawn" -q -D "$bb" --console=pipe --register=no --keep-unit /bin/true
		-- berth-own-scope "$spawn" -q -D "$bb" --console=pipe --register=no /bin/true
		-- nspawn systemd-nspawn -q -D "$bb" --console=pipe --register=no --keep-unit /bin/true
		-- bwrap bwrap --unshare-all --bind "$bb" / --proc /proc --dev /dev /bin/true
	)
	exec_rows="host-true berth-spawn-version bare berth-before berth berth-as-pid1 berth-own-scope bwrap nspawn"
fi
log "exec latency: $EXEC_RUNS runs (+$EXEC_WARMUP warm-up) of each, interleaved..."
drv -n "$EXEC_RUNS" -w "$EXEC_WARMUP" -t 30 "${exec_cmds[@]}" >"$SCRATCH/exec.txt"
log "exec memory: $EXEC_MEM_RUNS traced runs of each..."
drv -m -n "$EXEC_MEM_RUNS" -w 1 -t 30 "${exec_cmds[@]}" >"$SCRATCH/exec-mem.txt"

# --- 2. boot cycle: Debian 12 to multi-user.target and poweroff ---
# Each run boots a fresh overlay: a small layer (a unit that powers off once multi-user.target
# is reached, and the init wrapper) over the cached Debian tree, writes on a tmpfs. Mounting
# and removing it happens outside the timed part.
deb=$("$repo/tests/fixtures/debian-tree.sh")
LAYER=$SCRATCH/layer
DEB=$deb
export LAYER DEB
mkdir -p "$LAYER/etc/systemd/system/multi-user.target.wants" "$LAYER/usr/lib/systemd" \
	"$SCRATCH/ovl" "$SCRATCH/bench-deb"
cat >"$LAYER/etc/systemd/system/bench-poweroff.service" <<'UNIT'
[Unit]
Description=berth bench: power off as soon as multi-user.target is reached
After=multi-user.target

[Service]
Type=oneshot
ExecStartPre=/usr/bin/touch /bench-multi-user
ExecStart=/usr/bin/systemctl --no-block poweroff
UNIT
ln -s ../bench-poweroff.service "$LAYER/etc/systemd/system/multi-user.target.wants/bench-poweroff.service"
cp "$bin/init-stamp" "$LAYER/usr/lib/systemd/systemd"
cp -a "$deb/usr/lib/systemd/systemd" "$LAYER/usr/lib/systemd/systemd.real"
mount -t tmpfs -o mode=0755 bench-ovl "$SCRATCH/ovl"

# The hooks run in the driver's sh, which expands the exported variables itself.
# shellcheck disable=SC2016
before_boot='mkdir -p "$SCRATCH/ovl/upper" "$SCRATCH/ovl/work"
mount -t overlay bench-deb -o "lowerdir=$LAYER:$DEB,upperdir=$SCRATCH/ovl/upper,workdir=$SCRATCH/ovl/work" "$SCRATCH/bench-deb"'
# berth -x writes to its own snapshot, where the marker cannot be seen from here; its exit
# status 0 still means it powered off, which only the unit after multi-user.target does.
# shellcheck disable=SC2016
after_boot='umount "$SCRATCH/bench-deb"
if [ "$BENCH_LABEL" != berth-ephemeral ] && [ ! -e "$SCRATCH/ovl/upper/bench-multi-user" ]; then
	echo "$BENCH_LABEL: powered off without reaching multi-user.target" >&2; exit 1
fi
rm -rf "$SCRATCH/ovl/upper" "$SCRATCH/ovl/work"'
boot_cmds=(
	-- berth "$spawn" -q -D "$SCRATCH/bench-deb" -b --console=pipe --register=no --keep-unit
	-- berth-ephemeral "$spawn" -q -D "$SCRATCH/bench-deb" -x -b --console=pipe --register=no --keep-unit
	-- nspawn systemd-nspawn -q -D "$SCRATCH/bench-deb" -b --console=pipe --register=no --keep-unit
)
boot_rows="berth berth-ephemeral nspawn"
log "boot cycle: $BOOT_RUNS runs (+$BOOT_WARMUP warm-up) of each, interleaved..."
drv -s -n "$BOOT_RUNS" -w "$BOOT_WARMUP" -t 120 -b "$before_boot" -a "$after_boot" "${boot_cmds[@]}" >"$SCRATCH/boot.txt"
log "boot memory: $BOOT_MEM_RUNS traced runs of each..."
drv -m -n "$BOOT_MEM_RUNS" -w 0 -t 120 -b "$before_boot" -a "$after_boot" "${boot_cmds[@]}" >"$SCRATCH/boot-mem.txt"

# --- report ---
echo "## Machine"
machine_facts
echo
echo "## Exec latency: /bin/true in a fresh container (busybox tree)"
exec_table "$SCRATCH/exec.txt" bare "$exec_rows"
echo
echo "host-true is the driver's own cost (fork + exec of the host's /bin/true + wait, no container);"
echo "berth-spawn-version is berth-spawn's process start alone (exec, dynamic linking, --version)."
echo
echo "## Supervisor memory, /bin/true ($EXEC_MEM_RUNS traced runs each)"
mem_table "$SCRATCH/exec-mem.txt" "$exec_rows"
echo
echo "## Boot cycle: Debian 12 to multi-user.target and poweroff"
boot_table "$SCRATCH/boot.txt" nspawn "$boot_rows"
echo
echo "## Supervisor memory, boot ($BOOT_MEM_RUNS traced runs each)"
mem_table "$SCRATCH/boot-mem.txt" "$boot_rows"
echo
echo "## Targets"
ratio=$(awk -v a="$(get "$SCRATCH/exec.txt" berth time_ms 4)" -v b="$(get "$SCRATCH/exec.txt" bare time_ms 4)" 'BEGIN { printf "%.2f", a / b }')
verdict "exec latency, berth ÷ bare minimum (median)" "$ratio" "<=" 2 "×"
ratio=$(awk -v a="$(get "$SCRATCH/boot.txt" berth time_ms 4)" -v b="$(get "$SCRATCH/boot.txt" nspawn time_ms 4)" 'BEGIN { printf "%.2f", a / b }')
verdict "boot cycle, berth ÷ nspawn (median)" "$ratio" "<=" 0.9 "×"
verdict "time before init, berth (median)" "$(get "$SCRATCH/boot.txt" berth to_init_ms 4)" "<=" 10 "ms"
verdict "supervisor peak RSS, berth, /bin/true (max)" "$(awk -v k="$(get "$SCRATCH/exec-mem.txt" berth hwm_kb 7)" 'BEGIN { printf "%.2f", k / 1024 }')" "<=" 3 "MiB"
verdict "supervisor peak RSS, berth, boot (max)" "$(awk -v k="$(get "$SCRATCH/boot-mem.txt" berth hwm_kb 7)" 'BEGIN { printf "%.2f", k / 1024 }')" "<=" 3 "MiB"
echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
