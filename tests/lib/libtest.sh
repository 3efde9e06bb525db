# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared shell helpers for berth's integration tests: TAP output, scratch dirs, fixtures and a
# leak check that fails the test when it leaves mounts, cgroups, links, loop devices or processes.
#
# Each test script sources this, calls `tap_plan N` (or `tap_done` at the end), and uses `ok`,
# `not_ok`, `skip`, `check CMD...` and `check_eq A B DESC`.
set -u

: "${BERTH_SPAWN:?BERTH_SPAWN must point to the built berth-spawn}"
TESTS_SRC=${TESTS_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BERTH_PROBE=${BERTH_PROBE:-}

_tap_n=0
_tap_failed=0
_tap_planned=""

tap_plan() { _tap_planned=$1; echo "1..$1"; }
ok() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $*"; }
not_ok() { _tap_n=$((_tap_n + 1)); _tap_failed=$((_tap_failed + 1)); echo "not ok $_tap_n - $*"; }
# A skip always says why; it is reported as a skip, never as a pass.
skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1 # SKIP $2"; }
diag() { printf '# %s\n' "$@" >&2; }

check() {
	local desc=$1; shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
# Values may span lines: the message keeps them on the one TAP line.
# Long values are shown as a diff on stderr instead.
check_eq() {
	if [ "$1" = "$2" ]; then
		ok "$3"
	elif [ ${#1} -gt 200 ] || [ ${#2} -gt 200 ]; then
		not_ok "$3 (differs, see the diff below)"
		diff <(echo "$2") <(echo "$1") | head -40 | sed 's/^/# /' >&2
	else
		not_ok "$3 (expected '${2//$'\n'/\\n}', got '${1//$'\n'/\\n}')"
	fi
}

tap_done() {
	[ -n "$_tap_planned" ] || echo "1..$_tap_n"
	[ "$_tap_failed" -eq 0 ]
}

need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "1..0 # SKIP needs root (namespaces, mounts)"
		exit 0
	fi
}

# Scratch space on the real disk (not tmpfs): idmapped mounts and chown need a real filesystem.
mkscratch() {
	local base=${BERTH_TEST_TMP:-/var/tmp}
	# Once per test: a second call (a test's own, then berthd_setup's) would lose the first
	# directory, which the EXIT trap then never removes.
	[ -n "${SCRATCH:-}" ] && [ -d "$SCRATCH" ] && return 0
	SCRATCH=$(mktemp -d "$base/berth-test.XXXXXX")
	trap 'cleanup_scratch' EXIT
}
_cleanup_hooks=()
on_cleanup() { _cleanup_hooks+=("$*"); }

# Detaches every loop device backed by FILE. By the file, never by a device name kept from
# attaching: once detached, that name may belong to another test's loop device.
loop_detach_file() { losetup -j "$1" -n -O NAME | xargs -r -n1 losetup -d; }
cleanup_scratch() {
	local h
	for h in "${_cleanup_hooks[@]}"; do eval "$h" || true; done
	[ -n "${SCRATCH:-}" ] && [ -d "$SCRATCH" ] && {
		# Never delete through a mount that a failed test left behind.
		if grep -q " $SCRATCH" /proc/self/mountinfo; then
			diag "mounts left under $SCRATCH, not removing it"
		else
			rm -rf --one-file-system "$SCRATCH"
		fi
	}
}

# A fresh busybox tree (with the probe binary when built) at $1.
mk_busybox_tree() {
	"$TESTS_SRC/fixtures/busybox-tree.sh" "$1" "$BERTH_PROBE" >/dev/null
}

# What a test may leave behind. Compared before and after; any difference is a leak.
leak_snapshot() {
	{
		echo "== mounts"; awk '{print $5}' /proc/self/mountinfo | sort
		echo "== cgroups"; find /sys/fs/cgroup/unified -mindepth 1 -type d 2>/dev/null | sort
		echo "== links"; ip -o link 2>/dev/null | awk -F': ' '{print $2}' | sort
		echo "== loop"; losetup -a 2>/dev/null | cut -d: -f1 | sort
		echo "== procs"; _descendants $$ | sort
	}
}
# Our own descendants that are runtime processes (other tests may run beside us): a container
# whose supervisor died shows up in the cgroup list instead.
_descendants() {
	ps -eo pid=,ppid=,comm= | awk -v root="$1" '
		{ parent[$1] = $2; comm[$1] = $3 }
		END {
			for (p in parent) {
				q = p
				while (q in parent && q != root && q > 1) q = parent[q]
				if (q == root && (comm[p] ~ /^berth/ || comm[p] == "init")) print p
			}
		}'
}
# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds; 1 if it never did.
wait_for() {
	local n=$(($1 * 10)); shift
	for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}
# A background job has ended once it is gone or a zombie (reap it with `wait` after).
job_ended() { [ ! -e "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
# descendants PID...: every process below them, depth first.
descendants() {
	local p c
	for p in "$@"; do
		for c in $(pgrep -P "$p"); do echo "$c"; descendants "$c"; done
	done
}
# finish JOB SECONDS: waits for the job to end, reaps it, sets RC (124: it had to be killed).
finish() {
	if wait_for "$2" job_ended "$1"; then
		wait "$1"; RC=$?
	else
		kill -KILL $(descendants "$1") "$1" 2>/dev/null
		wait "$1"; RC=124
	fi
}
leak_begin() { _leak_before=$(leak_snapshot); }
leak_check() {
	local after
	# Processes and cgroups go away asynchronously after a kill: give them a moment.
	for _ in $(seq 50); do
		after=$(leak_snapshot)
		[ "$after" = "$_leak_before" ] && break
		sleep 0.1
	done
	if [ "$after" = "$_leak_before" ]; then
		ok "nothing left behind (mounts, cgroups, links, loop devices, processes)"
	else
		not_ok "left behind:"
		diff <(echo "$_leak_before") <(echo "$after") | sed 's/^/# /' >&2
	fi
}

# Runs berth-spawn with a hard timeout so a hung container fails the test instead of CI.
spawn() { timeout --kill-after=5 "${SPAWN_TIMEOUT:-60}" "$BERTH_SPAWN" "$@"; }
