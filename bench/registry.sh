#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berthd's registry benchmark (issue 3, "Performance"): registering 1,000 machines, ListMachines
# and GetMachine with 1,000 registered, and the daemon's RSS, side by side with systemd-machined
# in one testhost (a real systemd as PID 1, one system bus, both daemons facing the same).
#
# Not a test: run it by hand, as root, from the repository root after a build:
#   bench/registry.sh [BUILD_DIR]        (BUILD_DIR defaults to $BUILD, then to build)
# Markdown tables on stdout, progress on stderr; the testhost, the leaders and every scope go
# away with the testhost at the end (also on failure or Ctrl-C).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
build=${1:-${BUILD:-build}}
N=${BENCH_REG_MACHINES:-1000}
RUNS=${BENCH_REG_RUNS:-200}
CLI_RUNS=${BENCH_REG_CLI_RUNS:-20}
MACHINECTL_RUNS=${BENCH_REG_MACHINECTL_RUNS:-3}
# dbus-daemon's default of 512 match rules per connection stops machined's CreateMachine near 500
# machines (systemd, PID 1, adds one per scope; reference/baselines.md). BENCH_REG_MATCH_LIMIT=
# (empty) keeps the stock limit.
MATCH_LIMIT=${BENCH_REG_MATCH_LIMIT-65536}
# BENCH_REG_STRACE=1: count berthd's syscalls (strace -c) during the RegisterMachine round; that
# round's times are then strace's, not berthd's.
STRACE=${BENCH_REG_STRACE:-}
# BENCH_REG_UNIT_RUNS: runs of the unit round (StartUnit of berth-spawn@ / systemd-nspawn@ booting
# a copy of the Debian tree, to MachineNew); 0 skips it and the copies.
UNIT_RUNS=${BENCH_REG_UNIT_RUNS:-10}

log() { printf '%s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { log "$0 needs root (it starts a testhost)."; exit 1; }
[ -x "$build/src/daemon/berthd" ] || { log "No berthd in $build: build first."; exit 1; }
for t in cc pkg-config; do
	command -v "$t" >/dev/null || { log "$0 needs $t."; exit 1; }
done
[ -x /usr/bin/machinectl ] || { log "$0 needs machinectl (systemd-container) for the reference rows."; exit 1; }

# shellcheck source=../tests/lib/testhost.sh
. "$repo/tests/lib/testhost.sh"
# shellcheck source=testhost-berthd.sh
. "$here/testhost-berthd.sh"
TH=bench-reg-$$
BASE=$(mktemp -d /var/tmp/berth-bench-reg.XXXXXX)
SH=$BASE/shared  # bound into the testhost at the same path: the client and the PID lists
KEEP=$BASE/keep  # the testhost's upper layer, seeded with the bus limits before it boots
POOL=$BASE/machines # /var/lib/machines inside: the Debian trees the unit round boots
mkdir -p "$SH" "$KEEP/upper/etc/dbus-1" "$POOL"
chmod 755 "$BASE"
started=0

cleanup() {
	local rc=$?
	set +e
	if [ "$started" = 1 ]; then
		# The leaders first (by PID), then berthd; the rest dies with the testhost's PID 1.
		for f in "$SH"/*.pids; do
			[ -s "$f" ] && testhost_exec "$TH" sh -c 'xargs kill -KILL <"$1"' sh "$f" 2>/dev/null
		done
		testhost_exec "$TH" systemctl stop berthd-bench.service 2>/dev/null
	fi
	testhost_stop "$TH" || rc=1
	rm -rf --one-file-system "$BASE"
	[ -d "$_th_cgroot/berth-testhost-$TH" ] && { log "LEFT BEHIND: $_th_cgroot/berth-testhost-$TH"; rc=1; }
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "$MATCH_LIMIT" ]; then
	cat >"$KEEP/upper/etc/dbus-1/system-local.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <limit name="max_match_rules_per_connection">$MATCH_LIMIT</limit>
</busconfig>
CONF
fi
# shellcheck disable=SC2046
cc -O2 -Wall -Wextra -o "$SH/registry-client" "$here/registry-client.c" $(pkg-config --cflags --libs libsystemd)
client=$SH/registry-client

if [ "$UNIT_RUNS" -gt 0 ]; then
	log "copying the Debian tree for berth-spawn@ and systemd-nspawn@ (one each)..."
	deb=$("$repo/tests/fixtures/debian-tree.sh")
	cp -a --reflink=auto "$deb" "$POOL/bboot"
	cp -a --reflink=auto "$deb" "$POOL/mboot"
fi
bench_testhost_up "$TH" "$build" --bind "$SH" --bind "$POOL:/var/lib/machines" --keep-upper "$KEEP" || exit 1
th() { testhost_exec "$TH" "$@"; }

# berthd runs as its service would: a system service with systemd's default limits.
# BENCH_REG_BACKEND=cgroupfs|systemd forces berthd's scope backend; by default it picks its own.
th systemd-run --quiet --unit=berthd-bench --service-type=notify \
	${BENCH_REG_BACKEND:+--setenv=BERTH_SCOPE_BACKEND=$BENCH_REG_BACKEND} "$berthd"
th busctl call org.freedesktop.machine1 /org/freedesktop/machine1 org.freedesktop.machine1.Manager \
	ListMachines >/dev/null
pid_of() { th systemctl show -P MainPID "$1"; }
BPID=$(pid_of berthd-bench.service)
MPID=$(pid_of systemd-machined.service)

# mem LABEL: one line per daemon: LABEL DAEMON RSS_KB HWM_KB ANON_KB FILE_KB FDS FD_SOFT_LIMIT
mem() {
	local d p
	for d in berthd:$BPID machined:$MPID; do
		p=${d#*:}
		th sh -c 'awk "/^(VmRSS|VmHWM|RssAnon|RssFile):/ { v[\$1] = \$2 }
			END { printf \"%s %s %s \", v[\"VmRSS:\"], v[\"VmHWM:\"], v[\"RssAnon:\"]; printf \"%s \", v[\"RssFile:\"] }" /proc/$1/status
			ls /proc/$1/fd | wc -l | tr "\n" " "; awk "/^Max open files/ { print \$4 }" /proc/$1/limits' sh "$p" |
			sed "s/^/$1 ${d%%:*} /"
	done
}

R=$SH/results.txt
: >"$R"
mem idle >>"$R"

# How long after its unit starts a machine is registered, as the issue words machined's figure
# ("registers a machine about 30 ms after the unit starts"): berth-spawn@NAME.service against
# systemd-nspawn@NAME.service, each booting a copy of the Debian tree, started and stopped in
# turn; one warm-up round first (systemd-nspawn -U chowns its tree on the first start).
if [ "$UNIT_RUNS" -gt 0 ]; then
	log "StartUnit to MachineNew: berth-spawn@ and systemd-nspawn@, $UNIT_RUNS runs each..."
	# systemd-nspawn -U cannot mount /proc in the testhost (its /proc has locked overmounts, so
	# a user namespace may not mount a fresh one): its unit runs without -U here. berth-spawn@
	# runs as shipped, with -U.
	th sh -c 'd=/etc/systemd/system/systemd-nspawn@.service.d; mkdir -p $d &&
		sed -n "s/^ExecStart=\(.*\) -U \(.*\)/[Service]\nExecStart=\nExecStart=\1 \2/p" \
			/lib/systemd/system/systemd-nspawn@.service >$d/bench.conf &&
		grep -q "^ExecStart=systemd-nspawn" $d/bench.conf && systemctl daemon-reload'
	th "$client" unit-start 1 boot >/dev/null
	th "$client" unit-start "$UNIT_RUNS" boot | tee -a "$R" >&2
fi

log "making $N leader processes, each in its own transient scope..."
t0=$(date +%s%N)
th "$client" leaders "$N" "$SH/leaders.pids"
log "  took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
log "RegisterMachine x $N on each daemon, interleaved..."
if [ -n "$STRACE" ]; then
	th sh -c 'strace -c -f -p "$1" -o "$2" & echo $! >"$3"' sh "$BPID" "$SH/strace.txt" "$SH/strace.pid"
	sleep 1
fi
th "$client" register reg "$SH/leaders.pids" | tee -a "$R" >&2
if [ -n "$STRACE" ]; then
	th sh -c 'kill -INT "$(cat "$1")"; while kill -0 "$(cat "$1")" 2>/dev/null; do sleep 0.1; done' sh "$SH/strace.pid"
fi
mem registered >>"$R"
log "ListMachines and GetMachine x $RUNS on each, with $N registered..."
th "$client" query reg "$N" "$RUNS" | sed 's/^/reg-/' | tee -a "$R" >&2
log "busctl and machinectl wall times..."
for d in berthd:org.berth.machine1:/org/berth/machine1 machined:org.freedesktop.machine1:/org/freedesktop/machine1; do
	IFS=: read -r label dest path <<<"$d"
	th "$client" run "$label-busctl-list" "$CLI_RUNS" busctl call "$dest" "$path" "$dest.Manager" ListMachines >>"$R"
	th "$client" run "$label-busctl-get" "$CLI_RUNS" busctl call "$dest" "$path" "$dest.Manager" GetMachine s "${label:0:1}reg-7" >>"$R"
done
th "$client" run "machined-machinectl-list" "$MACHINECTL_RUNS" machinectl list --no-pager >>"$R"
log "UnregisterMachine x $N on each..."
th "$client" unregister reg "$N" | tee -a "$R" >&2
# berth-spawn registers once per connection: the daemon cannot know the caller already.
log "RegisterMachine x $N on each daemon again, a new connection per call..."
th "$client" register-fresh fresh "$SH/leaders.pids" | tee -a "$R" >&2
th "$client" unregister fresh "$N" >/dev/null
th sh -c 'xargs kill -KILL <"$1"' sh "$SH/leaders.pids"
rm -f "$SH/leaders.pids"

log "CreateMachine x $N on each daemon (leaders of their own), interleaved..."
th "$client" spawn $((2 * N)) "$SH/spawn.pids"
th "$client" create new "$SH/spawn.pids" | tee -a "$R" >&2
# What berthd says it uses; a berthd too old to say: did systemd get a unit for its machine?
backend=$(th journalctl --no-pager -q -o cat -u berthd-bench.service | sed -n 's/.*Using the \([a-z]*\) scope backend.*/\1/p' | head -n 1)
if [ -z "$backend" ]; then
	backend=cgroupfs
	th systemctl -q is-active machine-bnew-0.scope 2>/dev/null && backend=systemd
fi
mem created >>"$R"
log "ListMachines and GetMachine x $RUNS on each, with $N created..."
th "$client" query new "$N" "$RUNS" | sed 's/^/new-/' | tee -a "$R" >&2
berthd_errors=$(th journalctl --no-pager -q -p warning -u berthd-bench.service | tail -n 5 || true)

# --- report ---
get() { awk -v l="$1" -v m="$2" -v f="$3" '$1 == l && $2 == m { print $f; exit }' "$R"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "–"; else printf "%.2f", a / b }'; }
row() { # LABEL METHOD TITLE
	local b m
	b=$(get berthd "$2" 4); m=$(get machined "$2" 4)
	printf '| %s | %s / %s | %s | %s | %s | %s | %s |\n' "$3" "$(get berthd "$2" 3)" "$(get machined "$2" 3)" \
		"${b:-–}" "$(get berthd "$2" 5)" "${m:-–}" "$(get machined "$2" 5)" "$(ratio "$b" "$m")"
}
qrow() { # PREFIX METHOD TITLE
	local b m
	b=$(get "$1berthd" "$2" 4); m=$(get "$1machined" "$2" 4)
	printf '| %s | %s | %s | %s | %s | %s |\n' "$3" "${b:-–}" "$(get "$1berthd" "$2" 5)" "${m:-–}" \
		"$(get "$1machined" "$2" 5)" "$(ratio "$b" "$m")"
}

echo "## Machine"
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); kernel $(uname -r); $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
btype=$(python3 -c 'import json,sys; print(next(o["value"] for o in json.load(open(sys.argv[1])) if o["name"] == "buildtype"))' "$build/meson-info/intro-buildoptions.json" 2>/dev/null || echo '?')
echo "- berth at $(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo '?') (build $build, $btype); $(systemctl --version | head -1)"
echo "- berthd scope backend measured: **$backend**; bus limit max_match_rules_per_connection: ${MATCH_LIMIT:-512 (stock)}"
echo
echo "## Registration round trip, ms ($N machines per daemon, calls interleaved)"
echo "| method | calls ok (berthd / machined) | berthd median | berthd p95 | machined median | machined p95 | berthd ÷ machined |"
echo "|---|---|---|---|---|---|---|"
row x RegisterMachine RegisterMachine
row x RegisterMachine-fresh "RegisterMachine, a new connection per call"
row x CreateMachine CreateMachine
row x UnregisterMachine "UnregisterMachine (registered ones)"
if [ "$UNIT_RUNS" -gt 0 ]; then
	row x unit-registered "a booting unit registered: StartUnit of berth-spawn@ / systemd-nspawn@ to MachineNew"
	row x unit-started "... and its start job done (berth-spawn@: booted, --notify-ready; nspawn@: init started)"
fi
grep -- '-failed ' "$R" | sed 's/^/- FAILED: /' || true
echo
echo "## Queries with $N machines, ms ($RUNS calls each, one sd-bus connection)"
echo "| call | berthd median | berthd p95 | machined median | machined p95 | berthd ÷ machined |"
echo "|---|---|---|---|---|---|"
qrow reg- ListMachines "ListMachines ($N registered)"
qrow reg- GetMachine "GetMachine ($N registered)"
qrow new- ListMachines "ListMachines ($N created)"
qrow new- GetMachine "GetMachine ($N created)"
echo
echo "entries returned: $(grep ' entries ' "$R" | awk '{printf "%s%s %s", sep, $1, $3; sep = ", "}')"
echo
echo "## Whole commands with $N registered (wall ms, fork to exit; $CLI_RUNS runs, machinectl $MACHINECTL_RUNS)"
echo "| command | median | p95 |"
echo "|---|---|---|"
for l in berthd-busctl-list machined-busctl-list berthd-busctl-get machined-busctl-get machined-machinectl-list; do
	echo "| $l | $(get "$l" wall 4) | $(get "$l" wall 5) |"
done
echo
echo "## Daemon memory and fds"
echo "| machines | daemon | VmRSS MiB | VmHWM MiB | RssAnon / RssFile MiB | open fds (soft limit) |"
echo "|---|---|---|---|---|---|"
awk '$1 ~ /^(idle|registered|created)$/ {
	printf "| %s | %s | %.2f | %.2f | %.2f / %.2f | %s (%s) |\n", $1, $2, $3 / 1024, $4 / 1024, $5 / 1024, $6 / 1024, $7, $8 }' "$R"
echo
echo "## Targets (issue 3)"
verdict() { # NAME VALUE LIMIT UNIT
	if [ "$2" = "–" ] || [ -z "$2" ]; then echo "- $1: no result: **MISSED**"; return; fi
	if awk -v a="$2" -v b="$3" 'BEGIN { exit !(a <= b) }'; then
		echo "- $1: $2 $4 (target ≤ $3 $4): **met**"
	else
		echo "- $1: $2 $4 (target ≤ $3 $4): **MISSED** by $(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.0f%%", (a / b - 1) * 100 }')"
	fi
}
for meth in unit-registered RegisterMachine RegisterMachine-fresh CreateMachine; do
	[ "$meth" != unit-registered ] || [ "$UNIT_RUNS" -gt 0 ] || continue
	if grep -q "^berthd $meth-failed " "$R"; then
		echo "- $meth: berthd refused call $(get berthd "$meth-failed" 3) of $N: **MISSED**"
	else
		verdict "$meth, berthd ÷ machined (median)" "$(ratio "$(get berthd "$meth" 4)" "$(get machined "$meth" 4)")" 0.5 "×"
	fi
done
# Medians, as in reference/baselines.md; the p95 is in the table above.
verdict "ListMachines, $N registered, berthd (median)" "$(get reg-berthd ListMachines 4)" 5 ms
verdict "ListMachines, $N created, berthd (median)" "$(get new-berthd ListMachines 4)" 5 ms
verdict "berthd RSS with $N machines (max of the two)" "$(awk '$2 == "berthd" && ($1 == "registered" || $1 == "created") { if ($3 > m) m = $3 } END { printf "%.2f", m / 1024 }' "$R")" 8 MiB
if [ -n "$STRACE" ] && [ -s "$SH/strace.txt" ]; then
	echo
	echo "berthd's system calls during the RegisterMachine round (strace -c; its times are strace's):"
	echo '```'
	head -n 25 "$SH/strace.txt"
	echo '```'
fi
if [ -n "$berthd_errors" ]; then
	echo
	echo "berthd's last warnings:"
	echo '```'
	echo "$berthd_errors"
	echo '```'
fi
