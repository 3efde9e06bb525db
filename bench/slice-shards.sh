#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Why berthd's systemd backend puts machines in 64 shard slices of machine.slice (issue 7):
# PID 1's CPU time per transient scope started and stopped, as the number of scopes already in
# the slice grows, with every scope directly in machine.slice ("flat") and with the scopes
# spread over machine-shardXX.slice as berthd does it ("shards"). Runs in a testhost (a real
# systemd 252 as PID 1); the scopes hold a sleeping process each. Not a test.
#
#   bench/slice-shards.sh            # BENCH_SHARDS_UNITS (2000), BENCH_SHARDS_STEP (250)
#
# Markdown on stdout. The testhost, with every scope and process in it, goes away at the end.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
UNITS=${BENCH_SHARDS_UNITS:-2000}
STEP=${BENCH_SHARDS_STEP:-250}
[ "$(id -u)" = 0 ] || { echo "$0 needs root (it starts a testhost)." >&2; exit 1; }

. "$repo/tests/lib/testhost.sh"
TH=bench-shards-$$
BASE=$(mktemp -d /var/tmp/berth-bench-shards.XXXXXX)
chmod 755 "$BASE"
cleanup() { set +e; testhost_stop "$TH"; rm -rf "$BASE"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# Inside: start UNITS scopes with busctl (one StartTransientUnit each, the way berthd asks),
# then stop them; print PID 1's CPU (utime + stime, in µs per unit) for every STEP units.
cat >"$BASE/inner.sh" <<'IN'
#!/bin/bash
mode=$1 units=$2 step=$3
cpu() { awk '{ print $14 + $15 }' /proc/1/stat; }
hz=$(getconf CLK_TCK)
slice_of() { if [ "$mode" = flat ]; then echo machine.slice; else printf 'machine-shard%02x.slice' $(($1 % 64)); fi; }
c0=$(cpu)
for i in $(seq 1 "$units"); do
	sleep 100000 &
	busctl call org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager \
		StartTransientUnit 'ssa(sv)a(sa(sv))' "bench-$mode-$i.scope" fail 2 PIDs au 1 $! \
		Slice s "$(slice_of "$i")" 0 >/dev/null
	if [ $((i % step)) = 0 ]; then c1=$(cpu); echo "$mode start $i $(( (c1 - c0) * 1000000 / hz / step ))"; c0=$c1; fi
done
c0=$(cpu)
for i in $(seq "$units" -1 1); do
	systemctl stop --no-block "bench-$mode-$i.scope"
	if [ $((i % step)) = 1 ] || [ "$step" = 1 ]; then c1=$(cpu); echo "$mode stop $i $(( (c1 - c0) * 1000000 / hz / step ))"; c0=$c1; fi
done
IN
chmod 755 "$BASE/inner.sh"
testhost_start "$TH" --bind "$BASE" >&2
R=$BASE/results.txt
for mode in flat shards; do
	echo "running $mode: $UNITS scopes..." >&2
	testhost_exec "$TH" "$BASE/inner.sh" "$mode" "$UNITS" "$STEP" >>"$R"
done

echo "## PID 1's CPU per transient scope, µs ($(date -u '+%Y-%m-%d %H:%M UTC'), $(systemctl --version | head -1), load $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "| scopes in the slice (start: after the step; stop: before it) | start, flat | start, 64 shards | stop, flat | stop, 64 shards |"
echo "|---|---|---|---|---|"
awk '{ v[$1 " " $2 " " $3] = $4; if ($2 == "start") n[$3] = 1 }
	END { for (i in n) print i }' "$R" | sort -n | while read -r n; do
	s=$(awk -v n="$n" -v step="$STEP" '
		$2 == "start" && $3 == n { a[$1] = $4 }
		$2 == "stop" && $3 == n - step + 1 { b[$1] = $4 }
		END { printf "%s | %s | %s | %s", a["flat"], a["shards"], b["flat"], b["shards"] }' "$R")
	echo "| $n | $s |"
done
