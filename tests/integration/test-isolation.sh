#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Hostile-container probes (reliability.md Table A): each probe runs on the host first as a
# positive control, then inside berth-spawn in every mode; host canaries must stay untouched.
#
# Modes: default (no user namespace), userns (-U), userns-net (-U --private-network). Probes
# tagged "userns" are guaranteed only with a user namespace: OPEN without one is reported as a
# KNOWN-WEAK skip. Everything else OPEN is a failure. BERTH_ISOLATION_RUNTIME=nspawn runs the
# same checks against systemd-nspawn, as a reference to calibrate against (never as the test).
. "$(dirname "$0")/../lib/libtest.sh"
need_root
[ -x "${BERTH_PROBE:-}" ] || { echo "1..0 # SKIP BERTH_PROBE is not set (meson builds berth-probe)"; exit 0; }
RUNTIME=${BERTH_ISOLATION_RUNTIME:-berth}
MODES=(default userns userns-net)
SPAWN_TIMEOUT=${SPAWN_TIMEOUT:-30}

mkscratch
UUID=$(cat /proc/sys/kernel/random/uuid)
CANARY=/HOST-CANARY-$UUID
KEYDESC=berth-canary-$UUID
PWNED=$SCRATCH/PWNED
MACHINE=iso-${UUID:0:8}
HELPER=
T=$SCRATCH/tree
T38=$SCRATCH/tree-shared

cleanup_isolation() {
	[ -n "$HELPER" ] && kill "$HELPER" 2>/dev/null
	"$BERTH_PROBE" key-unplant "key=$KEYDESC" >/dev/null 2>&1
	rm -f "$CANARY" "/tmp/berth-canary-$UUID-"*
	# Mounts that a failed propagation probe left on the host, deepest first.
	awk -v s="$SCRATCH" 'index($5, s) == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m"; done
}
on_cleanup cleanup_isolation

# ---- host state that must not change ----

host_sysctls() {
	local k
	for k in kernel/core_pattern kernel/sysrq kernel/modprobe kernel/hotplug vm/drop_caches \
		fs/suid_dumpable kernel/random/boot_id; do
		[ -r "/proc/sys/$k" ] && echo "$k=$(cat "/proc/sys/$k" 2>/dev/null)"
	done
	for k in /sys/kernel/mm/ksm/run /sys/kernel/mm/transparent_hugepage/enabled; do
		[ -r "$k" ] && echo "$k=$(cat "$k")"
	done
}
# Links and their MTU: a probe may not change or remove one (new links are leak_check's job).
host_links() { ip -o link | awk '{print $2, $5}' | sort; }
# stat and hash of a host file: inode, owner, mode, size and content.
fingerprint() {
	if [ -e "$1" ]; then
		echo "$1 $(stat -c '%i %u:%g %a %s' "$1") $(sha256sum <"$1" | cut -c1-64)"
	else
		echo "$1 absent"
	fi
}
host_files() {
	local f
	for f in /etc/shadow /etc/passwd /etc/hostname /etc/machine-id /etc/resolv.conf "$CANARY" \
		"$BERTH_SPAWN" "$BERTH_PROBE" /tmp/berth-canary-$UUID-file /tmp/berth-canary-$UUID-empty \
		/tmp/berth-canary-$UUID-missing; do
		fingerprint "$f"
	done
	stat -c '/etc %i %u:%g %a' /etc
}
host_mounts() { awk '{print $4, $5, $9, $10}' /proc/self/mountinfo | sort; }
# new_mounts BEFORE: mounts that appeared since BEFORE on paths a probe could reach (the scratch
# dir and the host's top-level directories); other tests may mount elsewhere meanwhile.
new_mounts() {
	diff <(echo "$1") <(host_mounts) | awk -v s="$SCRATCH" -v c="$CANARY" '
		/^>/ && (index($3, s) == 1 || index($3, c) == 1 || $3 ~ /^\/(etc|tmp|run|dev|proc|sys|var|usr|root)?(\/|$)/ &&
			$3 !~ /^\/(tmp|var\/tmp|run|sys\/fs\/cgroup)\/./) {print $2, $3, $4}' | tr '\n' ' '
}
# Boot time in realtime seconds: moves if anyone sets the clock.
host_btime() { awk '/^btime/ {print $2}' /proc/stat; }

echo "$UUID" >"$CANARY"
echo "canary $UUID" >"/tmp/berth-canary-$UUID-file"
: >"/tmp/berth-canary-$UUID-empty"
"$BERTH_PROBE" key-plant "key=$KEYDESC" >/dev/null || diag "could not plant a host key"
# A host process in namespaces of its own, so that the setns probe has something to join on the
# host (positive control); it is invisible from any correctly confined container.
unshare --uts --ipc sleep 300 &
HELPER=$!

mk_busybox_tree "$T"
# Device nodes shipped inside the image (A20): the runtime's device policy must stop them.
mkdir "$T/premade"
read -r vmaj vmin < <(stat -c '%t %T' "$(findmnt -no SOURCE / | grep ^/dev/ || echo /dev/null)")
mknod "$T/premade/mem" c 1 1
mknod "$T/premade/kmsg" c 1 11
mknod "$T/premade/loop-control" c 10 237
mknod "$T/premade/rootdisk" b $((16#${vmaj:-8})) $((16#${vmin:-0}))
mknod "$T/premade/sda" b 8 0
NODES=()
for n in mem kmsg loop-control rootdisk sda; do NODES+=("node=/premade/$n"); done
HOST_NODES=()
for n in mem kmsg loop-control rootdisk sda; do HOST_NODES+=("node=$T/premade/$n"); done

COMMON=(canary="$CANARY" hostpid=$$ hostpidns="$(stat -L -c %i /proc/self/ns/pid)"
	hostmntns="$(stat -L -c %i /proc/self/ns/mnt)" hostroot="$(stat -c %d:%i /)" key="$KEYDESC")

SYSCTLS_BEFORE=$(host_sysctls)
LINKS_BEFORE=$(host_links)
FILES_BEFORE=$(host_files)
BTIME_BEFORE=$(host_btime)
leak_begin

# ---- running things ----

mode_flags() {
	case $1 in
	default) ;;
	userns) echo "-U" ;;
	userns-net) echo "-U --private-network" ;;
	esac
}

# runtime_argv MODE TREE CONSOLE: sets RT to the runtime's command line up to the payload. The
# machine name is unique: other tests may run busybox trees called "tree" at the same time.
runtime_argv() {
	local flags
	read -ra flags <<<"$(mode_flags "$1")"
	if [ "$RUNTIME" = nspawn ]; then
		RT=(systemd-nspawn --register=no --keep-unit -q -M "$MACHINE" -D "$2" "${flags[@]}" --console="$3")
	else
		RT=("$BERTH_SPAWN" -M "$MACHINE" -D "$2" "${flags[@]}" --console="$3" --)
	fi
}

# in_container MODE TREE CONSOLE CMD...: CMD inside the runtime under test. Two extra fds
# (a directory of the host and the scratch dir) are offered to the runtime: none may reach CMD.
in_container() {
	runtime_argv "$1" "$2" "$3"
	shift 3
	timeout --kill-after=5 "$SPAWN_TIMEOUT" "${RT[@]}" "$@" 7</ 8<"$SCRATCH"
}

# result_line NAME OUTPUT: the probe's verdict line, or nothing.
result_line() { grep -E "^(BLOCKED|OPEN|ERROR) $1( |\$)" <<<"$2" | tail -n 1; }

short() { local s=$1; [ ${#s} -gt 600 ] && s="${s:0:600}..."; echo "$s"; }
# For a breach, only the tokens that matter: the OPEN and ERR ones.
breach() {
	local w out=
	for w in $1; do
		case $w in OPEN:* | ERR:*) out="$out $w" ;; esac
	done
	short "${out# }"
}

# host_control NAME HOW: runs the probe on the host; prints its verdict line.
host_control() {
	local name=$1 how=$2
	case $how in
	plain) "$BERTH_PROBE" "$name" "${COMMON[@]}" 7</ ;;
	nodes) "$BERTH_PROBE" "$name" "${COMMON[@]}" "${HOST_NODES[@]}" ;;
	# A plain chroot is what the probe must break out of; pivot_root is what stops it.
	chroot) chroot "$T" /bin/probe "$name" "${COMMON[@]}" ;;
	chroot-proc)
		unshare --mount --propagation private sh -c \
			'mount -t proc proc "$1/proc" && shift && exec chroot "$@"' \
			sh "$T" "$T" /bin/probe "$name" "${COMMON[@]}"
		;;
	esac 2>&1
}

# judge_line ID NAME TAG MODE LINE RC: one TAP line for one probe in one mode.
judge_line() {
	local id=$1 name=$2 tag=$3 mode=$4 line=$5 rc=$6 what="$1 $2 [$4]"
	case $line in
	BLOCKED*) ok "$what: $(short "$line")" ;;
	OPEN*)
		if [ "$tag" = userns ] && [ "$mode" = default ]; then
			skip "$what" "KNOWN-WEAK without user namespace: $(short "$line")"
		else
			not_ok "$what: $(breach "$line")"
		fi
		;;
	ERROR*) not_ok "$what: could not tell: $(breach "$line")" ;;
	*) not_ok "$what: no verdict (exit $rc): $(short "$(tail -c 400 "$SCRATCH/err" | tr '\n' ' ')")" ;;
	esac
}

# run_probe ID NAME TAG HOW: host control, then every mode.
run_probe() {
	local id=$1 name=$2 tag=$3 how=$4 host out line rc mode extra=()
	host=$(result_line "$name" "$(host_control "$name" "$how")")
	diag "host control $id: $(short "$host")"
	case $host in
	OPEN*) ;;
	BLOCKED*)
		for mode in "${MODES[@]}"; do
			skip "$id $name [$mode]" "host cannot do this either: $(short "${host#BLOCKED "$name" }")"
		done
		return
		;;
	*)
		not_ok "$id $name: host control gave no verdict: $(short "$host")"
		return
		;;
	esac
	[ "$how" = nodes ] && extra=("${NODES[@]}")
	for mode in "${MODES[@]}"; do
		out=$(in_container "$mode" "$T" pipe /bin/probe "$name" "${COMMON[@]}" "${extra[@]}" \
			</dev/null 2>"$SCRATCH/err")
		rc=$?
		line=$(result_line "$name" "$out")
		judge_line "$id" "$name" "$tag" "$mode" "$line" "$rc"
	done
}

# ---- A01/A02: hostile trees, planted before start ----

# Symlinks in /etc that a runtime following paths on the host side would write or read through.
plant_etc() {
	local t=$1
	rm -rf "$t/etc/resolv.conf" "$t/etc/localtime" "$t/etc/hostname" "$t/etc/machine-id" \
		"$t/etc/os-release" "$t/var/log/journal"
	ln -s "/tmp/berth-canary-$UUID-missing" "$t/etc/resolv.conf"
	ln -s "/tmp/berth-canary-$UUID-file" "$t/etc/localtime"
	ln -s "../../../../../../../..$CANARY" "$t/etc/hostname"
	ln -s "/tmp/berth-canary-$UUID-empty" "$t/etc/machine-id"
	ln -s /etc/shadow "$t/etc/os-release"
	mkdir -p "$t/var/log"
	ln -s /etc "$t/var/log/journal"
}

test_hostile_etc() {
	local t=$SCRATCH/tree-a01 mode before after mounts rc
	cp -a "$T" "$t"
	plant_etc "$t"
	for mode in "${MODES[@]}"; do
		before=$(host_files)
		mounts=$(host_mounts)
		in_container "$mode" "$t" pipe /bin/sh -c 'cat /etc/hostname /etc/machine-id; echo x >/etc/resolv.conf' \
			</dev/null >"$SCRATCH/out" 2>"$SCRATCH/err"
		rc=$?
		after=$(host_files)
		mounts=$(new_mounts "$mounts")
		if [ "$before" = "$after" ] && [ -z "$mounts" ] && ! grep -q "$UUID" "$SCRATCH/out"; then
			ok "A01 hostile-etc-symlinks [$mode]: host targets byte- and inode-identical (exit $rc)"
		else
			not_ok "A01 hostile-etc-symlinks [$mode]: host changed or leaked: $(diff <(echo "$before") <(echo "$after") | tr '\n' ' ') new mounts: '$mounts'; $(grep -c "$UUID" "$SCRATCH/out") canary lines read"
		fi
		# The payload's own write through resolv.conf must stay inside the tree.
		[ -e "/tmp/berth-canary-$UUID-missing" ] && rm -f "/tmp/berth-canary-$UUID-missing"
	done
}

test_special_dir_symlinks() {
	local d t hostdir mode mounts rc left
	for d in dev run proc sys etc tmp; do
		for mode in "${MODES[@]}"; do
			t=$SCRATCH/tree-a02
			hostdir=$SCRATCH/hostdir-$d
			rm -rf "$t" "$hostdir"
			cp -a "$T" "$t"
			mkdir "$hostdir"
			rm -rf "${t:?}/$d"
			ln -s "$hostdir" "$t/$d"
			mounts=$(host_mounts)
			in_container "$mode" "$t" pipe /bin/true </dev/null >/dev/null 2>"$SCRATCH/err"
			rc=$?
			left=$(ls -A "$hostdir")
			mounts=$(new_mounts "$mounts")
			if [ -z "$left" ] && [ -z "$mounts" ]; then
				ok "A02 special-dir-symlink /$d [$mode]: host dir untouched (exit $rc)"
			else
				not_ok "A02 special-dir-symlink /$d [$mode]: host dir got '$(echo $left | cut -c1-200)', new mounts: '$mounts'"
			fi
			awk -v s="$hostdir" 'index($5, s) == 1 {print $5}' /proc/self/mountinfo | sort -r |
				while read -r m; do umount -l "$m"; done
		done
	done
	rm -rf "$SCRATCH/tree-a02" "$SCRATCH"/hostdir-*
}

# ---- A34: TIOCSTI from the container into the terminal that started it ----

# tty_run CMD: runs CMD on a fresh pty, then takes what is left in that pty's input, as the
# user's shell would read it after the container exits, and runs it if it is the payload.
tty_run() {
	local left=$SCRATCH/tty-leftover
	rm -f "$left"
	timeout --kill-after=5 $((SPAWN_TIMEOUT + 15)) "$TESTS_SRC/lib/tty-run.py" "$left" "$1" </dev/null
	if grep -qF "touch $PWNED" "$left" 2>/dev/null; then
		touch "$PWNED"
	fi
}

test_tiocsti() {
	local host mode console cmd out
	host=$(result_line tiocsti "$("$BERTH_PROBE" tiocsti 2>&1)")
	if [[ $host != *"OPEN:fresh-pty-tiocsti=injected"* ]]; then
		for mode in "${MODES[@]}"; do
			skip "A34 tiocsti [$mode]" "host cannot do this either: $(short "$host")"
		done
		return
	fi
	# The harness itself: an injection from the host into script's pty must be caught.
	rm -f "$PWNED"
	tty_run "$BERTH_PROBE tiocsti --armed 'inject=touch $PWNED\\n' >/dev/null" >/dev/null 2>&1
	if [ ! -e "$PWNED" ]; then
		not_ok "A34 tiocsti: the pty harness did not catch a host-side injection (positive control)"
		return
	fi
	rm -f "$PWNED"
	for mode in "${MODES[@]}"; do
		for console in interactive pipe; do
			runtime_argv "$mode" "$T" "$console"
			cmd="$(printf '%q ' "${RT[@]}") /bin/probe tiocsti --armed 'inject=touch $PWNED\\n' ${COMMON[*]}"
			# The pty echoes control bytes as ^X; the verdict line must start a line.
			out=$(tty_run "$cmd" 2>&1 | tr -d '\r\000' | sed 's/\^@//g')
			if [ -e "$PWNED" ]; then
				not_ok "A34 tiocsti --console=$console [$mode]: injected input ran on the host: $(breach "$(result_line tiocsti "$out")")"
				rm -f "$PWNED"
			elif [ -z "$(result_line tiocsti "$out")" ]; then
				not_ok "A34 tiocsti --console=$console [$mode]: the probe did not run: $(short "$(echo "$out" | tail -n 3 | tr '\n' ' ')")"
			else
				ok "A34 tiocsti --console=$console [$mode]: nothing reached the host terminal: $(short "$(result_line tiocsti "$out")")"
			fi
		done
	done
}

# ---- A38: mounts made inside must not propagate to the host ----

test_mount_propagation() {
	local mode before diffs line rc host
	# The tree sits on a shared mount, as everything does on a systemd host: only the runtime's
	# own propagation setup then stands between the container's mounts and the host.
	cp -a "$T" "$T38"
	mount --bind "$T38" "$T38" && mount --make-shared "$T38"
	# The host control runs in a plain chroot, which needs a /proc that does not propagate.
	mount -t proc proc "$T38/proc" && mount --make-private "$T38/proc"
	before=$(host_mounts)
	host=$(unshare --mount --propagation unchanged chroot "$T38" /bin/probe mount-propagation \
		"${COMMON[@]}" 2>&1)
	diffs=$(new_mounts "$before")
	awk -v s="$T38/" 'index($5, s) == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m"; done
	if [ -z "$diffs" ]; then
		for mode in "${MODES[@]}"; do
			skip "A38 mount-propagation [$mode]" "host control saw no propagation either: $(short "$host")"
		done
		umount -l "$T38"
		return
	fi
	for mode in "${MODES[@]}"; do
		before=$(host_mounts)
		line=$(result_line mount-propagation "$(in_container "$mode" "$T38" pipe /bin/probe \
			mount-propagation "${COMMON[@]}" </dev/null 2>"$SCRATCH/err")")
		rc=$?
		diffs=$(new_mounts "$before")
		if [ -n "$diffs" ]; then
			not_ok "A38 mount-propagation [$mode]: host mount table changed: $(short "$diffs")"
			awk -v s="$T38/" 'index($5, s) == 1 {print $5}' /proc/self/mountinfo | sort -r |
				while read -r m; do umount -l "$m"; done
		elif [ -z "$line" ]; then
			not_ok "A38 mount-propagation [$mode]: no verdict (exit $rc): $(short "$(tail -c 300 "$SCRATCH/err")")"
		else
			ok "A38 mount-propagation [$mode]: host mount table unchanged ($(short "$line"))"
		fi
	done
	umount -l "$T38"
}

# ---- the run ----

if [ "$RUNTIME" != nspawn ] && ! spawn -M "$MACHINE" -D "$T" --console=pipe -- /bin/true </dev/null >/dev/null 2>"$SCRATCH/err"; then
	not_ok "berth-spawn cannot run /bin/true: $(tail -c 300 "$SCRATCH/err")"
	tap_done
	exit
fi

test_hostile_etc
test_special_dir_symlinks

run_probe A08 fd-leak all plain
run_probe A12 nsfs-setns all plain
run_probe A13 procsys-write all plain
run_probe A14 proc-masked all plain
run_probe A15 unmask-remount userns plain
run_probe A16 fresh-procfs-sysfs userns plain
run_probe A17 sys-write all plain
run_probe A18 release-agent userns plain
run_probe A20 device-nodes all nodes
run_probe A22 kmod-kexec all plain
run_probe A23 reboot all plain
run_probe A24 clock all plain
run_probe A25 keyring all plain
run_probe A29 shocker all chroot
run_probe A30 misc-privileged all plain
run_probe A31 abi-bypass all plain
run_probe A32 pid-isolation all plain
run_probe A33 nested-userns userns plain
run_probe A36 chroot-escape all chroot
run_probe A37 old-root all chroot-proc
test_tiocsti
test_mount_propagation

# ---- the host afterwards ----

# same_state BEFORE AFTER DESC: one TAP line, with what changed on it.
same_state() {
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		not_ok "$3: $(diff <(echo "$1") <(echo "$2") | grep '^[<>]' | tr '\n' ' ')"
	fi
}
same_state "$SYSCTLS_BEFORE" "$(host_sysctls)" "host sysctls and boot ID unchanged"
same_state "$LINKS_BEFORE" "$(comm -12 <(echo "$LINKS_BEFORE") <(host_links))" "host links and their MTU unchanged"
same_state "$FILES_BEFORE" "$(host_files)" "host canaries, /etc/shadow and the runtime binary unchanged"
btime=$(host_btime)
check "host clock not moved (btime $BTIME_BEFORE -> $btime)" test $((btime - BTIME_BEFORE)) -ge -1 -a $((btime - BTIME_BEFORE)) -le 1
check "host key still planted (the probes could only look)" \
	sh -c "grep -q '$KEYDESC' /proc/keys"
kill "$HELPER" 2>/dev/null
wait "$HELPER" 2>/dev/null
HELPER=
leak_check
tap_done
