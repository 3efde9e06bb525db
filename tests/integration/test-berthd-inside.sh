#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berthd looks inside real busybox containers (berth-spawn --register=no, registered by hand):
# os-release, UID shift and mappings, addresses, hostname, interfaces, the root directory; then
# bind mounts and copies both ways, with hostile symlinks planted by the container (B23).
. "$(dirname "$0")/../lib/libtest.sh"
. "$(dirname "$0")/../lib/berthd.sh"
leak_begin
berthd_setup
check "berthd starts" start_berthd

IA=org.freedesktop.DBus.Error.InvalidArgs
AD=org.freedesktop.DBus.Error.AccessDenied
NSM=org.berth.machine1.NoSuchMachine

# start_container NAME TREE ARGS...: berth-spawn in the background; the leader's PID in $LEADER.
start_container() {
	local name=$1 tree=$2 sp; shift 2
	mk_busybox_tree "$tree"
	printf 'ID=container-shadow\n' >"$tree/etc/shadow"
	"$BERTH_SPAWN" -D "$tree" -M "$P-$name" --register=no --console=pipe "$@" -- \
		/bin/sh -c "hostname inside-$name; touch /run/ready; exec sleep 100000" \
		</dev/null >"$SCRATCH/$name.out" 2>&1 &
	sp=$!; PIDS+=($sp); SPAWNS+=($sp)
	LEADER=
	for _ in $(seq 100); do
		LEADER=$(cat /proc/$sp/task/*/children 2>/dev/null | awk '{print $1}')
		[ -n "$LEADER" ] && [ -e "/proc/$LEADER/root/run/ready" ] && break
		sleep 0.1
	done
}
register() { call RegisterMachine "$P-$1" "@ay []" "" container "uint32 $2" "$3" >/dev/null; }
asnobody() { runuser -u nobody -- gdbus call --address "$BUS" --dest org.berth.machine1 \
	--object-path /org/berth/machine1 --method org.berth.machine1.Manager."$1" -- "${@:2}" 2>&1; }
inside() { local l=$1; shift; nsenter -t "$l" -a "$@"; }

SPAWNS=()
# a: no user namespace, private network. b: -U and a veth. c: shares the host's network.
TA=$SCRATCH/a; TB=$SCRATCH/b; TC=$SCRATCH/c
start_container a "$TA" --private-network; LA=$LEADER
start_container b "$TB" -U --network-veth; LB=$LEADER
start_container c "$TC"; LC=$LEADER
if [ -z "$LA" ] || [ -z "$LB" ] || [ -z "$LC" ]; then
	not_ok "containers did not start (a=$LA b=$LB c=$LC)"
	sed 's/^/# /' "$SCRATCH"/{a,b,c}.out >&2
	berthd_teardown; tap_done; exit 1
fi
register a "$LA" "$TA"; register b "$LB" "$TB"; register c "$LC" "$TC"
check "the three containers are registered" eval "list | grep -c '^$P-' | grep -qx 3"

# ---- os-release ----
out=$(call GetMachineOSRelease "$P-a")
check "GetMachineOSRelease reads the container's os-release" grep -q "'ID': 'berth-busybox'" <<<"$out"
check "with quotes removed" grep -q "'PRETTY_NAME': 'berth busybox tree'" <<<"$out"
out=$(busctl --address="$BUS" call org.berth.machine1 /org/berth/machine1/machine/${P}_2db \
	org.berth.machine1.Machine GetOSRelease 2>&1)
check "Machine.GetOSRelease on a user-namespaced container" grep -q '"ID" "berth-busybox"' <<<"$out"
# Hostile symlinks: resolved inside the container, never on the host.
ln -sfn /etc/shadow "$TB/etc/os-release"
check_eq "$(call GetMachineOSRelease "$P-b")" "({'ID': 'container-shadow'},)" \
	"os-release -> /etc/shadow gives the container's own file"
ln -sfn ../../../../../../../../../etc/shadow "$TB/etc/os-release"
check_eq "$(call GetMachineOSRelease "$P-b")" "({'ID': 'container-shadow'},)" \
	"os-release -> ../../../../etc/shadow stays inside too"
echo ID=host-marker >"$SCRATCH/hostmark"
ln -sfn "/proc/$$/root$SCRATCH/hostmark" "$TB/etc/os-release"
out=$(call GetMachineOSRelease "$P-b")
check "a magic link to the host's root leads to nothing of the host's" eval '! grep -q host-marker <<<"$out"'
rm "$TB/etc/os-release"
check "without /etc/os-release, /usr/lib/os-release is read" \
	grep -q "'ID': 'berth-busybox'" <<<"$(call GetMachineOSRelease "$P-b")"
mkfifo "$TB/etc/os-release"
out=$(timeout 20 gdbus call --address "$BUS" --dest org.berth.machine1 --object-path /org/berth/machine1 \
	--method org.berth.machine1.Manager.GetMachineOSRelease "$P-b" 2>&1)
check "a FIFO as os-release is an error, not a hang" grep -q Error <<<"$out"
rm "$TB/etc/os-release"; ln -s ../usr/lib/os-release "$TB/etc/os-release"

# ---- UID shift and mappings ----
SHIFT=$(awk 'NR==1 {print $2}' /proc/$LB/uid_map)
check_eq "$(call GetMachineUIDShift "$P-a")" "(uint32 0,)" "UID shift 0 without a user namespace"
check_eq "$(call GetMachineUIDShift "$P-b")" "(uint32 $SHIFT,)" "UID shift of -U is uid_map's base ($SHIFT)"
check_eq "$(prop "$P-b" UIDShift)" "u $SHIFT" "UIDShift property"
check_eq "$(call MapFromMachineUser "$P-b" "uint32 1000")" "(uint32 $((SHIFT + 1000)),)" "MapFromMachineUser"
check_eq "$(call MapFromMachineGroup "$P-b" "uint32 5")" "(uint32 $((SHIFT + 5)),)" "MapFromMachineGroup"
check_eq "$(call MapFromMachineUser "$P-a" "uint32 1000")" "(uint32 1000,)" "MapFromMachineUser without userns"
check_eq "$(error_of call MapFromMachineUser "$P-b" "uint32 70000")" org.berth.machine1.NoSuchUserMapping \
	"an unmapped inner UID is NoSuchUserMapping"
check_eq "$(call MapToMachineUser "uint32 $((SHIFT + 33))")" \
	"('$P-b', objectpath '/org/berth/machine1/machine/${P}_2db', uint32 33)" "MapToMachineUser"
check_eq "$(call MapToMachineGroup "uint32 $((SHIFT + 34))")" \
	"('$P-b', objectpath '/org/berth/machine1/machine/${P}_2db', uint32 34)" "MapToMachineGroup"
check_eq "$(error_of call MapToMachineUser "uint32 1000")" org.berth.machine1.NoSuchUserMapping \
	"a host-range UID maps to no machine"
check_eq "$(error_of call MapToMachineGroup "uint32 $((SHIFT + 65536))")" org.berth.machine1.NoSuchGroupMapping \
	"a GID past the range maps to no machine"
check_eq "$(error_of call MapFromMachineUser "$P-b" "uint32 4294967295")" $IA "UID -1 is InvalidArgs"
# A complex mapping: two ranges.
unshare --user sleep 1000 & LX=$!; PIDS+=($LX)
wait_for 3 test "$(readlink /proc/$LX/ns/user)" != "$(readlink /proc/self/ns/user)"
python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY); os.write(fd, b"0 300000 10\n10 400000 10\n")' \
	/proc/$LX/uid_map
register x "$LX" ""
check_eq "$(error_of call GetMachineUIDShift "$P-x")" org.berth.machine1.NoUIDShift "a complex mapping has no shift"
check_eq "$(call MapFromMachineUser "$P-x" "uint32 12")" "(uint32 400002,)" "but maps through its second range"
call UnregisterMachine "$P-x" >/dev/null

# ---- network ----
nsenter -t "$LA" -n sh -c 'ip link add v0 type veth peer name v1 && ip addr add 192.0.2.7/24 dev v0 &&
	ip -6 addr add 2001:db8::7/64 dev v0 nodad && ip link set v1 up && ip link set v0 up'
nsenter -t "$LB" -n sh -c 'ip addr add 198.51.100.2/24 dev host0 && ip link set host0 up'
# addresses NAME: the reply as sorted "family address" lines.
addresses() {
	busctl --address="$BUS" --json=short call org.berth.machine1 /org/berth/machine1 \
		org.berth.machine1.Manager GetMachineAddresses s "$1" | python3 -c '
import json, socket, sys
for f, a in sorted(json.load(sys.stdin)["data"][0]):
    print(f, socket.inet_ntop(f, bytes(a)))' | sort
}
# host_view PID: what ip(8) shows in its network namespace, without loopback-scope addresses.
host_view() {
	nsenter -t "$1" -n ip -o addr show | awk '$0 !~ / scope host/ && $0 !~ /tentative/ {
		split($4, a, "/"); print ($3 == "inet" ? 2 : 10), a[1] }' | sort
}
for l in "$LA" "$LB"; do wait_for 5 eval "! nsenter -t $l -n ip -o addr | grep -q tentative"; done
check_eq "$(addresses "$P-a")" "$(host_view "$LA")" "GetMachineAddresses matches ip addr inside (private network)"
check "which includes the address we added" grep -qx "2 192.0.2.7" <<<"$(addresses "$P-a")"
check_eq "$(addresses "$P-b")" "$(host_view "$LB")" "GetMachineAddresses matches ip addr inside (veth)"
check "no loopback address is listed" eval "! addresses $P-a | grep -q -e 127.0.0.1 -e ' ::1$'"
check_eq "$(error_of call GetMachineAddresses "$P-c")" org.berth.machine1.NoPrivateNetworking \
	"a container on the host's network has NoPrivateNetworking"
# NetworkInterfaces is machined's: the host-side interfaces given at registration, never the
# container's own links.
check_eq "$(prop "$P-a" NetworkInterfaces)" "ai 0" \
	"NetworkInterfaces is empty for RegisterMachine, though the container has links of its own"
check_eq "$(prop "$P-c" NetworkInterfaces)" "ai 0" "NetworkInterfaces is empty on the host's network"
VB=$(cat "/sys/class/net/ve-$P-b/ifindex")
call UnregisterMachine "$P-b" >/dev/null
call RegisterMachineWithNetwork "$P-b" "@ay []" "" container "uint32 $LB" "$TB" "[$VB]" >/dev/null
check_eq "$(prop "$P-b" NetworkInterfaces)" "ai 1 $VB" \
	"RegisterMachineWithNetwork: NetworkInterfaces is the host end of the veth"

# ---- hostname, image ----
check_eq "$(prop "$P-a" Hostname)" 's "inside-a"' "Hostname is what the container set"
check_eq "$(prop "$P-b" Hostname)" 's "inside-b"' "Hostname of a user-namespaced container"
check_eq "$(prop "$P-a" Image)" 's ""' "Image is empty outside the pool"
sleep 1000 & LI=$!; PIDS+=($LI)
register img "$LI" "/var/lib/machines/$P-pooled"
check_eq "$(prop "$P-img" Image)" "s \"$P-pooled\"" "Image is the pool name for a pool root"
call UnregisterMachine "$P-img" >/dev/null

# ---- unprivileged callers, unknown machines ----
check "an unprivileged caller may read os-release" grep -q berth-busybox <<<"$(asnobody GetMachineOSRelease "$P-a")"
check_eq "$(asnobody GetMachineUIDShift "$P-b")" "(uint32 $SHIFT,)" "an unprivileged caller may read the UID shift"
check "an unprivileged caller may read addresses" grep -q "0xc0, 0x00, 0x02, 0x07" <<<"$(asnobody GetMachineAddresses "$P-a")"
check_eq "$(error_of asnobody OpenMachineRootDirectory "$P-a")" $AD "OpenMachineRootDirectory needs polkit"
bad=0
nsm() { local e; e=$(error_of call "$@"); [ "$e" = $NSM ] || { diag "$*: '$e'"; bad=1; }; }
nsm GetMachineOSRelease "$P-none"
nsm GetMachineAddresses "$P-none"
nsm GetMachineUIDShift "$P-none"
nsm MapFromMachineUser "$P-none" "uint32 0"
nsm OpenMachineRootDirectory "$P-none"
nsm CopyToMachine "$P-none" /etc/hostname /x
nsm CopyFromMachineWithFlags "$P-none" /x /tmp/x "uint64 1"
nsm BindMountMachine "$P-none" /tmp /x false false
check "unknown machines are NoSuchMachine for every inside method" test $bad = 0
check "berthd still answers" test -n "$(call ListMachines | grep -v Error)"

# ---- the root directory: an O_PATH fd, received by a minimal client (gdbus cannot show one) ----
cat >"$SCRATCH/openroot.py" <<'PY'
import fcntl, os, socket, stat, struct, sys

def pad(b, n):
    return b + b"\0" * (-len(b) % n)

def build(serial, path, iface, member, dest, sig=b"", body=b""):
    out = b""
    def align(n):
        nonlocal out
        out = pad(out, n)
    hdr = struct.pack("<BBBBII", ord("l"), 1, 0, 1, len(body), serial)
    out = hdr + b"\0\0\0\0"  # fields length placeholder
    start = len(out)
    for code, t, v in ((1, b"o", path), (2, b"s", iface), (3, b"s", member), (6, b"s", dest)) + (((8, b"g", sig),) if sig else ()):
        align(8)
        out += bytes([code, 1]) + t + b"\0"
        if t == b"g":
            out += bytes([len(v)]) + v + b"\0"
        else:
            align(4)
            out += struct.pack("<I", len(v)) + v + b"\0"
    flen = len(out) - start
    out = out[:12] + struct.pack("<I", flen) + out[16:]
    align(8)
    return out + body

addr, name = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(addr)
s.sendall(b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode() + b"\r\n")
assert s.recv(4096).startswith(b"OK")
s.sendall(b"NEGOTIATE_UNIX_FD\r\n")
assert s.recv(4096).startswith(b"AGREE_UNIX_FD")
s.sendall(b"BEGIN\r\n")
s.sendall(build(1, b"/org/freedesktop/DBus", b"org.freedesktop.DBus", b"Hello", b"org.freedesktop.DBus"))
n = name.encode()
s.sendall(build(2, b"/org/berth/machine1", b"org.berth.machine1.Manager", b"OpenMachineRootDirectory",
                b"org.berth.machine1", b"s", struct.pack("<I", len(n)) + n + b"\0"))
buf, fds = b"", []
while True:
    data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(16 * 4))
    if not data:
        sys.exit("EOF")
    for lvl, typ, d in anc:
        if lvl == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds += list(struct.unpack("%di" % (len(d) // 4), d[: len(d) - len(d) % 4]))
    buf += data
    while len(buf) >= 16:
        _, mtype, _, _, blen, _, flen = struct.unpack("<BBBBIII", buf[:16])
        total = 16 + flen + (-(16 + flen) % 8) + blen
        if len(buf) < total:
            break
        msg, buf = buf[:total], buf[total:]
        fields = msg[16:16 + flen]
        if mtype == 3:
            print("error", fields[fields.find(b"org."):].split(b"\0")[0].decode())
            sys.exit(0)
        if mtype == 2 and fds:
            fd = fds[-1]
            fl = fcntl.fcntl(fd, fcntl.F_GETFL)
            st = os.fstat(fd)
            with open(os.open("etc/shadow", os.O_RDONLY, dir_fd=fd)) as f:
                content = f.read().strip()
            print("opath" if fl & os.O_PATH else "not-opath", "dir" if stat.S_ISDIR(st.st_mode) else "notdir",
                  "%d:%d" % (st.st_dev, st.st_ino), content)
            sys.exit(0)
PY
out=$(python3 "$SCRATCH/openroot.py" "$SCRATCH/bus" "$P-b" 2>&1)
check_eq "$out" "opath dir $(stat -c '%d:%i' "$TB") ID=container-shadow" \
	"OpenMachineRootDirectory hands out an O_PATH fd of the container's root"
out=$(runuser -u nobody -- python3 "$SCRATCH/openroot.py" "$SCRATCH/bus" "$P-b" 2>&1)
check_eq "$out" "error $AD" "an unprivileged caller does not get it"

# ---- copies (B23) ----
FE=org.freedesktop.DBus.Error.FileExists
H=$SCRATCH/hostsrc
mkdir -p "$H/sub"; echo one >"$H/file"; echo two >"$H/sub/deep"; ln -s file "$H/link"; mkfifo "$H/fifo"
chmod 640 "$H/file"; chown 1234:2345 "$H/file"; chmod 700 "$H"
owner() { stat -c '%u:%g' "$@"; }
check_eq "$(call CopyToMachine "$P-a" "$H/file" /root/file)" "()" "CopyToMachine succeeds"
check_eq "$(cat "$TA/root/file")" one "the copy has the contents"
check_eq "$(stat -c '%u:%g %a' "$TA/root/file")" "1234:2345 640" "owner and mode are kept without a user namespace"
check_eq "$(call CopyToMachine "$P-b" "$H" /root/tree)" "()" "CopyToMachine of a directory tree (user namespace)"
check_eq "$(cat "$TB/root/tree/sub/deep" "$TB/root/tree/file")" "two"$'\n'"one" "the tree arrives with its contents"
check_eq "$(readlink "$TB/root/tree/link"):$(stat -c %F "$TB/root/tree/fifo")" "file:fifo" "symlinks and FIFOs are recreated"
check_eq "$(inside "$LB" stat -c '%u:%g' /root/tree /root/tree/sub/deep /root/tree/link | sort -u | xargs)" "0:0" \
	"inside, what was copied in belongs to the container's root"
check_eq "$(owner "/proc/$LB/root/root/tree/file")" "$SHIFT:$SHIFT" "which is the shifted UID seen from the host"
echo new >"$H/new"
check_eq "$(error_of call CopyToMachine "$P-a" "$H/new" /root/file)" $FE "an existing destination is FileExists"
check_eq "$(cat "$TA/root/file")" one "and is left alone"
check_eq "$(error_of call CopyToMachineWithFlags "$P-b" "$H" /root/tree "uint64 0")" $FE "also for a directory"
check_eq "$(call CopyToMachineWithFlags "$P-a" "$H/new" /root/file "uint64 1")" "()" "with the replace flag it is replaced"
check_eq "$(cat "$TA/root/file")" new "with the new contents"
check_eq "$(error_of call CopyToMachineWithFlags "$P-a" "$H/new" /root/file "uint64 2")" $IA "unknown flags are InvalidArgs"

check_eq "$(call CopyFromMachine "$P-a" /etc/os-release "$SCRATCH/osr")" "()" "CopyFromMachine succeeds"
check "the container's os-release arrives (its symlink followed inside)" cmp -s "$SCRATCH/osr" "$TA/usr/lib/os-release"
ln -s /etc/shadow "$TB/etc/evil"; ln -s ../../../../../../../etc/shadow "$TB/etc/evil2"
call CopyFromMachine "$P-b" /etc/evil "$SCRATCH/evil" >/dev/null
call CopyFromMachine "$P-b" /etc/evil2 "$SCRATCH/evil2" >/dev/null
check_eq "$(cat "$SCRATCH/evil" "$SCRATCH/evil2" 2>&1)" "ID=container-shadow"$'\n'"ID=container-shadow" \
	"B23: CopyFrom of a symlink to /etc/shadow copies the container's own file"
echo mine >"$TB/root/owned"; chown $((SHIFT + 1000)):$((SHIFT + 1000)) "/proc/$LB/root/root/owned"
check_eq "$(inside "$LB" stat -c '%u:%g' /root/owned)" "1000:1000" "(a file of user 1000 inside)"
call CopyFromMachine "$P-b" /root/owned "$SCRATCH/owned" >/dev/null
check_eq "$(owner "$SCRATCH/owned"):$(cat "$SCRATCH/owned")" "0:0:mine" "copied out of a user namespace it belongs to root"
echo kept >"$TA/root/keep"; chown 1234:2345 "$TA/root/keep"
call CopyFromMachine "$P-a" /root/keep "$SCRATCH/keep" >/dev/null
check_eq "$(owner "$SCRATCH/keep")" "1234:2345" "without a user namespace owners are kept"
check_eq "$(error_of call CopyFromMachine "$P-a" /root/keep "$SCRATCH/osr")" $FE "CopyFrom onto an existing file is FileExists"
check "and leaves it alone" cmp -s "$SCRATCH/osr" "$TA/usr/lib/os-release"
check_eq "$(call CopyFromMachineWithFlags "$P-a" /root/keep "$SCRATCH/osr" "uint64 1")" "()" "CopyFrom with replace"
check_eq "$(cat "$SCRATCH/osr")" kept "replaces it"
# A container's symlink pointing at a host path resolves inside the container.
mkdir "$SCRATCH/victim"
ln -s "$SCRATCH/victim" "$TB/mnt/esc"; ln -s "../../../../../../..$SCRATCH/victim" "$TB/mnt/esc2"
call CopyToMachine "$P-b" "$H/file" /mnt/esc/x >/dev/null
call CopyToMachine "$P-b" "$H/file" /mnt/esc2/x >/dev/null
check "B23: CopyTo through a container symlink never reaches the host" test -z "$(ls -A "$SCRATCH/victim")"
bad=0
for args in "rel /x" "/x rel" "/etc/../x /y" "/y /etc/.." "/ /x" "/x /" "/a/./b /x"; do
	set -- $args
	e=$(error_of asnobody CopyToMachine "$P-a" "$1" "$2"); [ "$e" = $IA ] || { diag "to $args: '$e'"; bad=1; }
	e=$(error_of asnobody CopyFromMachine "$P-a" "$1" "$2"); [ "$e" = $IA ] || { diag "from $args: '$e'"; bad=1; }
done
check "B23: relative, '.', '..' and '/' paths are InvalidArgs, before polkit" test $bad = 0
check_eq "$(error_of asnobody CopyToMachine "$P-a" "$H/new" /root/nobody)" $AD "an unprivileged caller may not copy"
check "and nothing was copied" test ! -e "$TA/root/nobody"

# ---- bind mounts ----
mkdir "$SCRATCH/share"; echo shared >"$SCRATCH/share/f"
check_eq "$(call BindMountMachine "$P-a" "$SCRATCH/share" /mnt/share false true)" "()" "BindMountMachine succeeds"
check_eq "$(inside "$LA" cat /mnt/share/f)" shared "the bind mount is visible inside"
inside "$LA" sh -c 'echo w >/mnt/share/w'
check_eq "$(cat "$SCRATCH/share/w" 2>&1)" w "and writable"
check "the host's own mount table is untouched" eval "! grep -q '$SCRATCH/share' /proc/self/mountinfo"
mkdir "$SCRATCH/ro"; echo ro >"$SCRATCH/ro/f"
check_eq "$(call BindMountMachine "$P-b" "$SCRATCH/ro" /mnt/new/ro true true)" "()" "a read-only bind mount with mkdir (user namespace)"
check_eq "$(inside "$LB" cat /mnt/new/ro/f)" ro "is visible inside"
inside "$LB" sh -c 'echo x >/mnt/new/ro/x' 2>/dev/null
check "and cannot be written" test ! -e "$SCRATCH/ro/x"
check_eq "$(inside "$LB" stat -c '%u:%g' /mnt/new)" "0:0" "directories it made belong to the container's root"
check_eq "$(call BindMountMachine "$P-a" "$SCRATCH/share/f" /etc/bound false true)" "()" "a file can be bind-mounted"
check_eq "$(inside "$LA" cat /etc/bound)" shared "and is visible inside"
check "without mkdir a missing destination is an error" \
	grep -q Error <<<"$(call BindMountMachine "$P-a" "$SCRATCH/share" /mnt/missing false false)"
mkdir "$SCRATCH/victim2"; ln -s "$SCRATCH/victim2" "$TA/mnt/esc"
call BindMountMachine "$P-a" "$SCRATCH/share" /mnt/esc/x false true >/dev/null
check "a destination through a container symlink stays inside" test -z "$(ls -A "$SCRATCH/victim2")"
check_eq "$(error_of asnobody BindMountMachine "$P-a" "$SCRATCH/share" /mnt/nob false true)" $AD \
	"an unprivileged caller may not bind-mount"
check_eq "$(error_of asnobody BindMountMachine "$P-a" share /mnt/nob false true)" $IA \
	"a relative source is InvalidArgs before polkit"
check "berthd still answers" test -n "$(call ListMachines | grep -v Error)"

# The containers stop with their PID 1; berth-spawn then cleans up after itself.
kill -9 "$LA" "$LB" "$LC" 2>/dev/null
exited() { [ ! -e "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
for sp in "${SPAWNS[@]}"; do wait_for 10 exited "$sp" && wait "$sp" 2>/dev/null; done
berthd_teardown
leak_check
[ "$_tap_failed" = 0 ] || sed 's/^/# berthd: /' "$SCRATCH/berthd.log" >&2
tap_done
