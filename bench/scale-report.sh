# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by bench/scale.sh: turns its raw results file into the Markdown of bench/README.md.
# Also usable on a kept results file: bash -c '. bench/scale-report.sh; scale_report FILE'.

# scale_report FILE
scale_report() {
	local R=$1 L n
	# v KEY... FIELD: field FIELD of the first line whose first fields are KEY...
	v() {
		local f=${*: -1} keys=("${@:1:$#-1}")
		awk -v k="${keys[*]}" -v f="$f" 'index($0, k " ") == 1 { print $(split(k, _, " ") + f); exit }' "$R"
	}
	mib() { awk -v x="$1" 'BEGIN { if (x == "" || x == "-") print "–"; else printf "%.2f", x / 1024 }'; }
	ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "-" || b == "-" || b == 0) print "–"; else printf "%.2f", a / b }'; }
	or() { [ -n "$1" ] && echo "$1" || echo "–"; }

	echo "### Machine"
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); kernel $(uname -r); $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
	echo "- berth at $(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo '?') plus uncommitted changes (build $build); $(or "$(awk '$1 == "machined" && $2 == "versions" { $1 = $2 = ""; print; exit }' "$R")")"
	echo "- bus: the stock dbus-daemon limits (512 match rules and 256 connections per user); backends measured: $(awk '$2 == "backend" { printf "%s%s=%s", s, $1, $3; s = ", " }' "$R")"
	echo
	for L in systemd cgroupfs machined; do
		grep -q "^$L " "$R" || continue
		case $L in
		systemd) echo "### berthd, systemd scope backend (testhost), machines started with berth-spawn" ;;
		cgroupfs) echo "### berthd, cgroupfs backend (no systemd, private bus), machines started with berth-spawn" ;;
		machined) echo "### systemd-machined 252, machines started with systemd-nspawn 252 (same testhost)" ;;
		esac
		local ctl=berthctl sup="berth-spawn" dl=berthd
		[ $L = machined ] && ctl=machinectl sup="nspawn" dl=machined
		echo "| N | start, ms per machine (ramp) | CreateMachine median (p95) ms | ListMachines median (p95) ms | GetMachine median ms | \`$ctl list\` median ms | daemon VmRSS / RssAnon MiB | daemon fds | daemon match rules | PID 1 match rules | bus connections | $sup VmRSS / RssAnon / Pss MiB |"
		echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
		awk -v l="$L" '$1 == l && $3 == "ramp" { print $2 }' "$R" | while read -r n; do
			local cnt ms d
			cnt=$(v "$L" "$n" ramp 1); ms=$(v "$L" "$n" ramp 2)
			d=$(grep "^$L $n daemon " "$R" | head -n 1)
			set -- $d
			printf '| %s | %s | %s (%s) | %s (%s) | %s | %s | %s / %s | %s | %s | %s | %s | %s / %s / %s |\n' "$n" \
				"$(awk -v c="$cnt" -v m="$ms" 'BEGIN { if (c > 0) printf "%.1f", m / c; else print "–" }')" \
				"$(or "$(v "$L" "$n" "$dl" CreateMachine 2)")" "$(or "$(v "$L" "$n" "$dl" CreateMachine 3)")" \
				"$(or "$(v "$L" "$n" ListMachines 2)")" "$(or "$(v "$L" "$n" ListMachines 3)")" \
				"$(or "$(v "$L" "$n" GetMachine 2)")" "$(or "$(v "$L" "$n" "$ctl-list" wall 2)")" \
				"$(mib "${4:-}")" "$(mib "${5:-}")" "$(or "${6:-}")" "$(or "${8:-}")" "$(or "${10:-}")" "$(or "${12:-}")" \
				"$(mib "$(v "$L" "$n" supervisor 1)")" "$(mib "$(v "$L" "$n" supervisor 2)")" "$(mib "$(v "$L" "$n" supervisor 3)")"
		done
		grep -E "^$L [0-9]+ (ramp-failed|stop-ramp-failed)|^$L parallel-failed|-failed " "$R" | grep "^$L " |
			grep -v "sample-failed 0$" | sed 's/^/- FAILED: /' || true
		echo
	done
	echo "### $PAR machines started in parallel, GetMachine of a running machine sampled meanwhile"
	echo "| run | wall time for all $PAR, ms | GetMachine calls | median ms | p95 ms | max ms | calls over 10 ms |"
	echo "|---|---|---|---|---|---|---|"
	for L in systemd cgroupfs machined; do
		grep -q "^$L parallel " "$R" || continue
		printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$L" "$(v "$L" parallel 2)" "$(v "$L" GetMachine-during 1)" \
			"$(v "$L" GetMachine-during 2)" "$(v "$L" GetMachine-during 3)" "$(v "$L" GetMachine-during 5)" "$(v "$L" over-10ms 1)"
	done
	echo
	echo "### Stopping all machines at once (\`berthctl terminate\` / \`machinectl terminate\` of all, until none is listed and every supervisor exited)"
	echo "| run | N | all gone, ms | ms per machine | terminate command returned, ms | none listed, ms | supervisors left |"
	echo "|---|---|---|---|---|---|---|"
	awk '$2 == "stop" { printf "| %s | %s | %s | %.2f | %s | %s | %s |\n", $1, $3, $4, $4 / $3, $8, $10, $6 }' "$R"
	echo
	echo "### Connections"
	awk '$2 ~ /^names-/ || $2 ~ /^daemon-restarts/ { $2 = $2 ":"; print "- " $0 }' "$R"
	if grep -q " berthd-warning " "$R"; then
		echo
		echo "berthd's most frequent warnings:"
		echo '```'
		grep " berthd-warning " "$R" | cut -d' ' -f3-
		echo '```'
	fi
}
