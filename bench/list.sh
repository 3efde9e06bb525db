#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The list benchmark (issue 7): with N machines registered, what ListMachines, ListMachinesEx and
# a whole `berthctl list` cost, and berthd's RSS and open fds, idle and with N. Leaders are fake,
# as in registry.sh (paused processes, each in a transient scope of its own), but chrooted into
# a busybox tree (their os-release is the tree's) and, with BENCH_LIST_NETNS=1 (the default), in
# a network namespace each, so that berthd's cache really reads N roots and N namespaces.
#
# Not a test: run it by hand, as root, from the repository root after a build:
#   bench/list.sh [BUILD_DIR]        (BUILD_DIR defaults to $BUILD, then to build)
# Variables: BENCH_LIST_MACHINES (1000), BENCH_LIST_RUNS (200 calls of each method),
# BENCH_LIST_CLI_RUNS (20 berthctl list), BENCH_LIST_OLD_RUNS (3 berthctl list the per-machine
# way), BENCH_LIST_COLD_RUNS (5 berthctl list after the cache went stale), BENCH_LIST_NETNS (1).
# Markdown on stdout, progress on stderr; everything goes with the testhost (also on Ctrl-C).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
build=${1:-${BUILD:-build}}
N=${BENCH_LIST_MACHINES:-1000}
RUNS=${BENCH_LIST_RUNS:-200}
CLI_RUNS=${BENCH_LIST_CLI_RUNS:-20}
OLD_RUNS=${BENCH_LIST_OLD_RUNS:-3}
COLD_RUNS=${BENCH_LIST_COLD_RUNS:-5}
NETNS=${BENCH_LIST_NETNS:-1}

log() { printf '%s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { log "$0 needs root (it starts a testhost)."; exit 1; }
[ -x "$build/src/daemon/berthd" ] || { log "No berthd in $build: build first."; exit 1; }
for t in cc pkg-config; do
	command -v "$t" >/dev/null || { log "$0 needs $t."; exit 1; }
done

# shellcheck source=../tests/lib/testhost.sh
. "$repo/tests/lib/testhost.sh"
# shellcheck source=testhost-berthd.sh
. "$here/testhost-berthd.sh"
TH=bench-list-$$
BASE=$(mktemp -d /var/tmp/berth-bench-list.XXXXXX)
SH=$BASE/shared
mkdir -p "$SH"
chmod 755 "$BASE"
started=0

cleanup() {
	local rc=$?
	set +e
	if [ "$started" = 1 ]; then
		[ -s "$SH/leaders.pids" ] && testhost_exec "$TH" sh -c 'xargs kill -KILL <"$1"' sh "$SH/leaders.pids" 2>/dev/null
		testhost_exec "$TH" systemctl stop berthd-bench.service 2>/dev/null
	fi
	testhost_stop "$TH" || rc=1
	rm -rf --one-file-system "$BASE"
	[ -d "$_th_cgroot/berth-testhost-$TH" ] && { log "LEFT BEHIND: $_th_cgroot/berth-testhost-$TH"; rc=1; }
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck disable=SC2046
cc -O2 -Wall -Wextra -o "$SH/registry-client" "$here/registry-client.c" $(pkg-config --cflags --libs libsystemd)
client=$SH/registry-client
"$repo/tests/fixtures/busybox-tree.sh" "$SH/tree" >/dev/null

bench_testhost_up "$TH" "$build" --bind "$SH" || exit 1
th() { testhost_exec "$TH" "$@"; }
th systemd-run --quiet --unit=berthd-bench --service-type=notify "$berthd"
BPID=$(th systemctl show -P MainPID berthd-bench.service)

R=$SH/results.txt
: >"$R"
# mem LABEL: LABEL RSS_KB HWM_KB ANON_KB FILE_KB FDS
mem() {
	th sh -c 'awk "/^(VmRSS|VmHWM|RssAnon|RssFile):/ { v[\$1] = \$2 }
		END { printf \"%s %s %s %s \", v[\"VmRSS:\"], v[\"VmHWM:\"], v[\"RssAnon:\"], v[\"RssFile:\"] }" /proc/$1/status
		ls /proc/$1/fd | wc -l' sh "$BPID" | sed "s/^/mem-$1 /" >>"$R"
}
mem idle

log "making $N leaders (chrooted into a busybox tree$([ "$NETNS" = 1 ] && echo ", a network namespace each"))..."
lenv=(BENCH_LEADER_ROOT="$SH/tree")
[ "$NETNS" = 1 ] && lenv+=(BENCH_LEADER_NETNS=1)
th env "${lenv[@]}" "$client" leaders "$N" "$SH/leaders.pids"
log "RegisterMachine x $N on berthd..."
th "$client" register reg "$SH/leaders.pids" berthd | tee -a "$R" >&2
# The registrations' batch reads every root and namespace once: wait until it is done.
t0=$(date +%s%N)
for _ in $(seq 600); do
	th "$client" query-ex 0 | grep -q '^berthd ex-entries [0-9]* 0$' && break
	sleep 0.1
done
log "  the cache had read all $N $(( ($(date +%s%N) - t0) / 1000000 )) ms after the last registration"
mem registered
log "ListMachines / ListMachinesEx x $RUNS..."
th "$client" query-ex "$RUNS" | tee -a "$R" >&2
mem listed
log "berthctl list x $CLI_RUNS, the per-machine way x $OLD_RUNS..."
th "$client" run berthctl-list "$CLI_RUNS" berthctl --no-pager list >>"$R"
th "$client" run berthctl-list-old "$OLD_RUNS" env BERTHCTL_LIST_PER_MACHINE=1 berthctl --no-pager list >>"$R"
th "$client" run busctl-list 20 busctl call org.berth.machine1 /org/berth/machine1 \
	org.berth.machine1.Manager ListMachines >>"$R"
log "berthctl list after 3 s idle, each followed by one at once (warm), x $COLD_RUNS..."
: >"$SH/cold.txt"
: >"$SH/coldwarm.txt"
for _ in $(seq "$COLD_RUNS"); do
	sleep 3
	th "$client" run berthctl-list-cold 1 berthctl --no-pager list | awk '{ print $4 }' >>"$SH/cold.txt"
	th "$client" run berthctl-list-warm 1 berthctl --no-pager list | awk '{ print $4 }' >>"$SH/coldwarm.txt"
done
# The same columns as registry-client's: runs, median, p95, min, max.
stats() { sort -n "$1" | awk '{ v[NR] = $1 } END { printf "%d %.4f %.4f %.4f %.4f", NR, v[int((NR + 1) / 2)], v[int(NR * 0.95 + 0.999)], v[1], v[NR] }'; }
printf 'berthctl-list-cold wall %s\n' "$(stats "$SH/cold.txt")" >>"$R"
printf 'berthctl-list-coldwarm wall %s\n' "$(stats "$SH/coldwarm.txt")" >>"$R"
entries=$(th berthctl --no-pager --no-legend list | wc -l)
mem end

# --- report ---
get() { awk -v l="$1" -v m="$2" -v f="$3" '$1 == l && $2 == m { print $f; exit }' "$R"; }
memrow() { awk -v l="mem-$1" -v n="$2" '$1 == l { printf "| %s | %.2f | %.2f | %.2f / %.2f | %s |\n", n, $2 / 1024, $3 / 1024, $4 / 1024, $5 / 1024, $6 }' "$R"; }
echo "## Machine"
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); kernel $(uname -r); $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
btype=$(python3 -c 'import json,sys; print(next(o["value"] for o in json.load(open(sys.argv[1])) if o["name"] == "buildtype"))' "$build/meson-info/intro-buildoptions.json" 2>/dev/null || echo '?')
echo "- berth at $(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo '?') (build $build, $btype); $N leaders chrooted into a busybox tree, network namespace each: $([ "$NETNS" = 1 ] && echo yes || echo no)"
echo
echo "## Calls with $N machines, ms ($RUNS calls each, one sd-bus connection, interleaved)"
echo "| call | median | p95 | min | max |"
echo "|---|---|---|---|---|"
for m in RegisterMachine ListMachines ListMachinesEx ListMachinesEx-fresh; do
	echo "| $m | $(get berthd "$m" 4) | $(get berthd "$m" 5) | $(get berthd "$m" 6) | $(get berthd "$m" 7) |"
done
echo
echo "## Whole commands with $N machines (wall ms, fork to exit)"
echo "| command | runs | median | p95 | min |"
echo "|---|---|---|---|---|"
for l in berthctl-list berthctl-list-cold berthctl-list-coldwarm berthctl-list-old busctl-list; do
	echo "| $l | $(get "$l" wall 3) | $(get "$l" wall 4) | $(get "$l" wall 5) | $(get "$l" wall 6) |"
done
echo
echo "berthctl-list-cold: after 3 s of nobody listing; berthctl-list-coldwarm: the run right after each of those (the pairs share the machine's load)."
echo "berthctl list printed $entries rows; ListMachinesEx entries still unread after the first calls: $(get berthd ex-pending-last 3)."
echo
echo "## berthd memory and fds"
echo "| when | VmRSS MiB | VmHWM MiB | RssAnon / RssFile MiB | open fds |"
echo "|---|---|---|---|---|"
memrow idle "idle, no machines"
memrow registered "$N registered, cache filled"
memrow listed "after $((3 * RUNS)) list calls"
memrow end "after the berthctl runs"
awk -v n="$N" '$1 == "mem-idle" { i = $6; r = $2 } $1 == "mem-registered" { printf "\nfds per machine: %.3f; RSS per machine: %.2f KiB\n", ($6 - i) / n, ($2 - r) / n }' "$R"
