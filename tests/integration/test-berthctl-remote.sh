#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berthctl -H: a second "host" reached over real SSH on loopback. The test runs a private sshd
# (its own config, host key, client key and port; the system's sshd and /etc/ssh are never
# used) whose only authorized key is forced to run systemd-stdio-bridge onto a private bus with
# berthd and a busybox container on it. list, show, status and terminate work remotely; exec
# and shell, which pass fds, refuse clearly; an unreachable host or a refused key fail cleanly.
. "$(dirname "$0")/../lib/libtest.sh"
. "$(dirname "$0")/../lib/berthd.sh"
BERTHCTL=${BERTHCTL:-${BUILD_ROOT:-}/src/ctl/berthctl}
leak_begin
berthd_setup
[ -x "$BERTHCTL" ] || { echo "1..0 # SKIP berthctl not built (set BERTHCTL)"; exit 0; }
for t in /usr/sbin/sshd ssh ssh-keygen systemd-stdio-bridge ss; do
	command -v $t >/dev/null || { echo "1..0 # SKIP $t not installed (apt-get install openssh-server)"; exit 0; }
done

# ---- the private sshd ----
S=$SCRATCH/ssh
mkdir -m 700 "$S" "$SCRATCH/bin"
PORT=
for _ in $(seq 20); do
	p=$((20000 + RANDOM % 30000))
	ss -Htln "sport = :$p" | grep -q . || { PORT=$p; break; }
done
[ -n "$PORT" ] || { echo "1..0 # SKIP no free loopback port"; exit 0; }
ssh-keygen -q -t ed25519 -N '' -C berth-test-host -f "$S/host_key"
ssh-keygen -q -t ed25519 -N '' -C berth-test-client -f "$S/client_key"
ssh-keygen -q -t ed25519 -N '' -C berth-test-stranger -f "$S/stranger_key"
# Whatever command ssh asks for, the key only runs the bridge onto the test's bus; what was asked
# is kept, to see that it is sd-bus's own remote transport that connects.
printf 'restrict,command="echo \\"$SSH_ORIGINAL_COMMAND\\" >>%s/asked; exec /usr/bin/systemd-stdio-bridge --bus-path=unix:path=%s/bus" %s\n' \
	"$S" "$SCRATCH" "$(cat "$S/client_key.pub")" >"$S/authorized_keys"
hostkey=$(cut -d' ' -f1,2 "$S/host_key.pub")
printf '[127.0.0.1]:%s %s\n127.0.0.1 %s\n' "$PORT" "$hostkey" "$hostkey" >"$S/known_hosts"
cat >"$S/sshd_config" <<EOF
ListenAddress 127.0.0.1:$PORT
HostKey $S/host_key
AuthorizedKeysFile $S/authorized_keys
PidFile $S/sshd.pid
PermitRootLogin prohibit-password
AllowUsers root
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
X11Forwarding no
PrintMotd no
Subsystem sftp /bin/false
EOF
cat >"$S/ssh_config" <<EOF
Host *
	Port $PORT
	IdentityFile $S/client_key
	IdentitiesOnly yes
	UserKnownHostsFile $S/known_hosts
	GlobalKnownHostsFile /dev/null
	StrictHostKeyChecking yes
	BatchMode yes
	ConnectTimeout 5
	LogLevel ERROR
EOF
# sd-bus runs "ssh" from PATH: this one uses only the test's configuration.
printf '#!/bin/sh\nexec /usr/bin/ssh -F %s/ssh_config "$@"\n' "$S" >"$SCRATCH/bin/ssh"
chmod 755 "$SCRATCH/bin/ssh"
# sshd needs its privilege separation directory; the system's sshd does not run here.
PRIVSEP_MADE=0
[ -d /run/sshd ] || { mkdir -m 755 /run/sshd && PRIVSEP_MADE=1; }
ROOT_SSH_EXISTED=0; [ -e /root/.ssh ] && ROOT_SSH_EXISTED=1
on_cleanup '[ -n "${SSHD_PID:-}" ] && { kill "$SSHD_PID" 2>/dev/null; wait "$SSHD_PID" 2>/dev/null; }; [ $PRIVSEP_MADE = 1 ] && rmdir /run/sshd; [ $ROOT_SSH_EXISTED = 1 ] || rmdir /root/.ssh 2>/dev/null; true'
/usr/sbin/sshd -D -e -f "$S/sshd_config" 2>"$S/sshd.log" &
SSHD_PID=$!
wait_for 10 eval "ss -Htln 'sport = :$PORT' | grep -q ." ||
	{ diag "$(cat "$S/sshd.log")"; echo "1..0 # SKIP the private sshd did not start"; exit 0; }

# berthctl with no local bus at all: only -H can reach berthd.
rbc() { env -u DBUS_SYSTEM_BUS_ADDRESS PATH="$SCRATCH/bin:$PATH" BERTH_NO_POLKIT_AGENT=1 \
	timeout 60 "$BERTHCTL" --no-pager -H "${HOST:-root@127.0.0.1}" "$@" </dev/null; }
bc() { DBUS_SYSTEM_BUS_ADDRESS=$BUS BERTH_NO_POLKIT_AGENT=1 "$BERTHCTL" --no-pager "$@"; }

start_berthd || { echo "1..0 # SKIP berthd did not start"; exit 0; }
T=$SCRATCH/tree
mk_busybox_tree "$T"
bg_spawn a -D "$T" -M "$P-a" --console=pipe -- /bin/sh -c 'echo started; exec sleep 300'
A_SPAWN=$SPAWN
wait_for 15 listed "$P-a" && wait_for 5 grep -q started "$SCRATCH/a.out" ||
	{ diag "$(cat "$SCRATCH/a.out")"; echo "1..0 # SKIP the container did not start"; exit 0; }
leader=$(container_pid "$A_SPAWN")

# ---- list ----
out=$(rbc list 2>&1); rc=$?
check_eq "$rc" 0 "-H root@127.0.0.1 list: exit 0 ($(echo "$out" | tail -1))"
check_eq "$(echo "$out" | grep "^$P-a " | tr -s ' ' | cut -d' ' -f1,2,4,7)" "$P-a container berth-busybox running" \
	"the remote machine is listed with its class, OS and state"
check_eq "$(sort -u "$S/asked")" "systemd-stdio-bridge" "it came through sd-bus's remote transport (ssh ... systemd-stdio-bridge)"
check_eq "$(rbc list -o json 2>&1 | python3 -c 'import json,sys; print(*[m["machine"] for m in json.load(sys.stdin)["machines"]])')" \
	"$P-a" "-H list -o json"
check_eq "$(HOST=root@127.0.0.1:$PORT rbc list --no-legend 2>&1 | awk '{print $1}')" "$P-a" "-H USER@HOST:PORT names the port itself"
check "without -H nothing reaches the private bus" eval "! env -u DBUS_SYSTEM_BUS_ADDRESS timeout 20 '$BERTHCTL' --no-pager list --no-legend 2>/dev/null | grep -q '^$P-a '"

# ---- show, status ----
check_eq "$(rbc show -p Leader --value "$P-a" 2>&1)" "$leader" "-H show -p Leader --value"
check_eq "$(rbc show -o json -p Name,State "$P-a" 2>&1 | python3 -c 'import json,sys; d=json.load(sys.stdin)[0]; print(d["Name"], d["State"])')" \
	"$P-a running" "-H show -o json"
out=$(rbc status "$P-a" 2>&1); rc=$?
check_eq "$rc" 0 "-H status: exit 0"
check "-H status: name, state, leader, OS" eval "echo \"\$out\" | head -1 | grep -qx '$P-a' && echo \"\$out\" | grep -q 'State: running' && echo \"\$out\" | grep -q 'Leader: $leader' && echo \"\$out\" | grep -q 'OS: berth busybox tree'"
# The process tree and the journal are read from local files: a remote host's are not here.
check "-H status: no process tree from this host's /proc" eval "! echo \"\$out\" | grep -q '[├└]─'"
check_eq "$(rbc status "$P-nope" >/dev/null 2>&1; echo $?)" 3 "-H status of an unknown machine: exit 3"

# ---- exec and shell refuse: fds cannot cross ssh ----
err=$(rbc exec "$P-a" -- /bin/true 2>&1); rc=$?
check_eq "$rc" 1 "-H exec: exit 1"
check "with a clear message ($err)" eval "echo \"\$err\" | grep -q -- '-H/--host'"
err=$(rbc shell "$P-a" 2>&1); rc=$?
check_eq "$rc" 1 "-H shell: exit 1"
check "with a clear message ($err)" eval "echo \"\$err\" | grep -q -- '-H/--host'"
check "and the machine runs on" listed "$P-a"

# ---- terminate ----
out=$(rbc terminate "$P-a" 2>&1); rc=$?
check_eq "$rc" 0 "-H terminate: exit 0 ($out)"
check "the machine leaves the remote bus" wait_for 20 gone "$P-a"
check "its container is gone" wait_for 20 dead "$leader"
check_eq "$(rbc list --no-legend 2>&1 | grep -c "^$P-")" 0 "-H list no longer shows it"

# ---- failures ----
start=$(date +%s)
err=$(HOST=root@127.0.0.1:1 rbc list 2>&1); rc=$?
check_eq "$rc" 1 "-H to a closed port: exit 1"
check "quickly, saying why ($(echo $err))" eval "[ $(($(date +%s) - start)) -lt 30 ] && echo \"\$err\" | grep -q 'Connection refused'"
sed -i "s|$S/client_key|$S/stranger_key|" "$S/ssh_config"
err=$(rbc list 2>&1); rc=$?
check_eq "$rc" 1 "-H with a key the remote host refuses: exit 1"
check "saying why ($(echo $err))" eval "echo \"\$err\" | grep -q 'Permission denied'"

kill "$SSHD_PID" 2>/dev/null; wait "$SSHD_PID" 2>/dev/null; SSHD_PID=
check "sshd is gone" eval "! ss -Htln 'sport = :$PORT' | grep -q ."
berthd_teardown
leak_check
tap_done
