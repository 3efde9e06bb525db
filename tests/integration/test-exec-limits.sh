#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# --rlimit=, --oom-score-adjust=, --cpu-affinity= and their settings-file keys, by what the
# command inside sees in /proc: the limits hold for the command and for PID 1 (berth's stub
# init), with and without a user namespace; limits not given are the kernel's defaults, not
# berth-spawn's own; bad values are refused before anything starts.
. "$(dirname "$0")/../lib/libtest.sh"
need_root
mkscratch
T=$SCRATCH/lim-$$
mk_busybox_tree "$T"
leak_begin
run() { spawn -D "$T" --console=pipe "$@"; }
# "soft hard" of a limit line of /proc/PID/limits ("Max open files  100  200  files").
limit() { awk -v n="$1" 'index($0, n) == 1 { sub(n, ""); print $1, $2 }'; }
# Raising a hard limit above our own, or lowering an OOM score, takes CAP_SYS_RESOURCE, which
# some CI sandboxes withhold even from root: then those must fail clearly instead of holding.
HAVE_RES=0; (( 0x$(awk '/^CapEff:/ {print $2}' /proc/self/status) >> 24 & 1 )) && HAVE_RES=1
HARD=$(ulimit -Hn)

out=$(run --rlimit=NOFILE=100:200 -- cat /proc/self/limits | limit "Max open files")
check_eq "$out" "100 200" "--rlimit=NOFILE=100:200 reaches the command"
out=$(run --rlimit=RLIMIT_NOFILE=150 -- cat /proc/1/limits | limit "Max open files")
check_eq "$out" "150 150" "RLIMIT_NOFILE=150 sets both limits, of the stub init (PID 1) too"
out=$(run --rlimit=CORE=1M:infinity --rlimit=NPROC=500:600 -- cat /proc/self/limits)
check_eq "$(limit "Max core file size" <<<"$out")/$(limit "Max processes" <<<"$out")" \
	"1048576 unlimited/500 600" "several limits at once, with a size suffix and infinity"
if [ $HAVE_RES = 1 ] || [ "$(ulimit -He)" -ge 25 ]; then
	out=$(run --rlimit=NICE=-5 -- cat /proc/self/limits | limit "Max nice priority")
	check_eq "$out" "25 25" "a nice level with its sign (-5) is the rlimit 25"
else
	skip "a nice level with its sign (-5) is the rlimit 25" "no CAP_SYS_RESOURCE and a NICE hard limit of $(ulimit -He) here (the parser's unit test covers it)"
fi
out=$(run --rlimit=NOFILE=10 --rlimit=NOFILE=20 -- cat /proc/self/limits | limit "Max open files")
check_eq "$out" "20 20" "the last --rlimit= of a resource wins"

# Defaults: not inherited from berth-spawn, but what the kernel gives the host's init (without
# CAP_SYS_RESOURCE a default hard limit above berth-spawn's own is that limit: the closest).
nr_open=$(cat /proc/sys/fs/nr_open); hard=$((nr_open < 524288 ? nr_open : 524288))
out=$(prlimit --nofile=900:8000 --core=4096:unlimited --stack=unlimited:unlimited -- \
	"$BERTH_SPAWN" -D "$T" --console=pipe -- cat /proc/self/limits)
[ $HAVE_RES = 1 ] && want="1024 $hard" || want="1024 8000"
check_eq "$(limit "Max open files" <<<"$out")/$(limit "Max core file size" <<<"$out")/$(limit "Max stack size" <<<"$out")" \
	"$want/0 unlimited/8388608 unlimited" "limits nobody set are the kernel's defaults, not berth-spawn's"
[ $HAVE_RES = 1 ] && want="1024 $hard" || want="1024 $HARD"
check_eq "$(run -- cat /proc/self/limits | limit "Max open files")" "$want" \
	"NOFILE's default hard limit is min(nr_open, 512K)$([ $HAVE_RES = 1 ] || echo ", or our own without CAP_SYS_RESOURCE")"
check_eq "$(limit "Max processes" <<<"$out")" "$(limit "Max processes" </proc/1/limits)" \
	"NPROC's default is the host PID 1's"

# A user namespace cannot raise a hard limit itself: berth-spawn sets them from the host.
if [ $HAVE_RES = 1 ]; then big=200000; else big=$HARD; fi
out=$(run -U --rlimit=NOFILE=$((big / 2)):$big -- cat /proc/self/limits | limit "Max open files")
check_eq "$out" "$((big / 2)) $big" "a hard limit above the default holds in a user namespace"
check_eq "$(run --oom-score-adjust=500 -- cat /proc/self/oom_score_adj)" 500 "--oom-score-adjust reaches the command"
check_eq "$(run -U --oom-score-adjust=700 -- cat /proc/1/oom_score_adj)" 700 "… and PID 1, in a user namespace too"
if [ $HAVE_RES = 1 ]; then
	check_eq "$(run -U --oom-score-adjust=-300 -- cat /proc/self/oom_score_adj)" -300 \
		"a negative OOM score adjustment holds in a user namespace"
	check_eq "$(run --rlimit=NOFILE=$((HARD + 1)) -- cat /proc/self/limits | limit "Max open files")" \
		"$((HARD + 1)) $((HARD + 1))" "a hard limit above berth-spawn's own holds"
else
	run --oom-score-adjust=-300 -- true 2>"$SCRATCH/err"
	check "without CAP_SYS_RESOURCE a negative OOM score refuses the start, saying why (exit $?)" \
		grep -q "needs CAP_SYS_RESOURCE" "$SCRATCH/err"
	run --rlimit=NOFILE=$((HARD + 1)) -- true 2>"$SCRATCH/err"
	check "without CAP_SYS_RESOURCE a limit above our own refuses the start, saying why (exit $?)" \
		grep -q "LimitNOFILE=.*CAP_SYS_RESOURCE" "$SCRATCH/err"
	skip "a negative OOM score adjustment holds" "this machine withholds CAP_SYS_RESOURCE from root"
fi
check_eq "$(run -- cat /proc/self/oom_score_adj)" "$(cat /proc/self/oom_score_adj)" "without it, the OOM score adjustment is inherited"

ncpu=$(nproc)
check_eq "$(run --cpu-affinity=0 -- sh -c 'grep ^Cpus_allowed_list: /proc/self/status | cut -f2')" 0 \
	"--cpu-affinity=0 pins the command to CPU 0"
if [ "$ncpu" -ge 2 ]; then
	check_eq "$(run --cpu-affinity=1 -- sh -c 'grep ^Cpus_allowed_list: /proc/1/status | cut -f2')" 1 \
		"--cpu-affinity=1 pins PID 1 to CPU 1"
	check_eq "$(run --cpu-affinity=0-1 -- sh -c 'grep ^Cpus_allowed_list: /proc/self/status | cut -f2')" 0-1 \
		"a range"
else
	skip "--cpu-affinity=1" "this machine has $ncpu CPU"
	skip "a CPU range" "this machine has $ncpu CPU"
fi

# Refused before start: nothing runs, the command's mark stays away.
refused() {
	local desc=$1; shift
	rm -f "$T/ran"
	run "$@" -- /bin/touch /ran 2>"$SCRATCH/err"
	local rc=$?
	if [ $rc -ne 0 ] && [ ! -e "$T/ran" ] && [ -s "$SCRATCH/err" ]; then ok "$desc"; else
		not_ok "$desc (exit $rc, ran: $(test -e "$T/ran" && echo yes || echo no))"; sed 's/^/# /' "$SCRATCH/err" >&2; fi
}
refused "soft above hard is refused" --rlimit=NOFILE=200:100
refused "an unknown limit is refused" --rlimit=FOO=1
refused "a limit without a value is refused" --rlimit=NOFILE
refused "junk is refused" --rlimit=NOFILE=lots
refused "an OOM score adjustment beyond 1000 is refused" --oom-score-adjust=1001
refused "a CPU list with junk is refused" --cpu-affinity=0-x
refused "a CPU past the largest is refused" --cpu-affinity=9999
refused "a CPU that is not there refuses the start" --cpu-affinity=4000
refused "a NOFILE above nr_open refuses the start (an explicit limit must hold)" --rlimit=NOFILE=infinity
grep -q "LimitNOFILE" "$SCRATCH/err" && ok "… naming the limit" || not_ok "… naming the limit: $(cat "$SCRATCH/err")"

# Settings files: the trusted one may give, the untrusted one only take away.
ETC=$SCRATCH/etc; mkdir -p "$ETC"
M=limf-$$
cat >"$ETC/$M.berth" <<CONF
[Exec]
LimitNOFILE=300:$HARD
LimitNPROC=77
OOMScoreAdjust=$([ $HAVE_RES = 1 ] && echo -20 || echo 20)
CPUAffinity=0
CONF
out=$(BERTH_SETTINGS_DIR=$ETC run -M "$M" -- sh -c 'cat /proc/self/limits; cat /proc/self/oom_score_adj; grep ^Cpus_allowed_list: /proc/self/status')
check_eq "$(limit "Max open files" <<<"$out")/$(limit "Max processes" <<<"$out")/$(sed -n 18p <<<"$out")/$(tail -1 <<<"$out" | cut -f2)" \
	"300 $HARD/77 77/$([ $HAVE_RES = 1 ] && echo -20 || echo 20)/0" "a trusted file's LimitNOFILE=, LimitNPROC=, OOMScoreAdjust=, CPUAffinity= apply"
out=$(BERTH_SETTINGS_DIR=$ETC run -M "$M" --rlimit=NOFILE=50 -- cat /proc/self/limits)
check_eq "$(limit "Max open files" <<<"$out")/$(limit "Max processes" <<<"$out")" "50 50/77 77" \
	"--rlimit=NOFILE wins over the file's LimitNOFILE= only"
printf '[Exec]\nLimitNOFILE=300:600000\nLimitNPROC=77\nOOMScoreAdjust=-20\n' >"$SCRATCH/$M.berth"
rm "$ETC/$M.berth"
mkdir -p "$SCRATCH/$M"; cp -a "$T/." "$SCRATCH/$M/"
out=$(BERTH_SETTINGS_DIR=$ETC spawn -D "$SCRATCH/$M" -M "$M" --console=pipe -- sh -c 'cat /proc/self/limits; cat /proc/self/oom_score_adj' 2>"$SCRATCH/err")
check_eq "$(limit "Max open files" <<<"$out")/$(limit "Max processes" <<<"$out")/$(tail -1 <<<"$out")" \
	"$want/$(limit "Max processes" </proc/1/limits)/$(cat /proc/self/oom_score_adj)" \
	"an untrusted file cannot raise NOFILE's hard limit, set NPROC or lower the OOM score"
check "… and says so" grep -q "Ignoring privileged setting LimitNOFILE" "$SCRATCH/err"
printf '[Exec]\nLimitNOFILE=100\nLimitCORE=0:0\n' >"$SCRATCH/$M.berth"
out=$(BERTH_SETTINGS_DIR=$ETC spawn -D "$SCRATCH/$M" -M "$M" --console=pipe -- cat /proc/self/limits)
check_eq "$(limit "Max open files" <<<"$out")/$(limit "Max core file size" <<<"$out")" "100 100/0 0" \
	"an untrusted file may lower limits"
printf '[Exec]\nLimitNOFILE=9:8\n' >"$SCRATCH/$M.berth"
rm -f "$SCRATCH/$M/ran"
BERTH_SETTINGS_DIR=$ETC spawn -D "$SCRATCH/$M" -M "$M" --console=pipe -- /bin/touch /ran 2>"$SCRATCH/err"
check "a bad LimitNOFILE= in a file refuses the start (exit $?)" \
	eval "test ! -e $SCRATCH/$M/ran && grep -q 'Invalid LimitNOFILE=9:8' $SCRATCH/err"

leak_check
tap_done
