#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-spawn -i: GPT images (root + home) and bare file systems boot and run commands; --read-only,
# --ephemeral and -U work on them; hostile images (probe A07) are refused with a reason; no loop
# device and no mount is left after any run, a SIGKILL of berth-spawn included.
. "$(dirname "$0")/../lib/libtest.sh"
need_root
for tool in sfdisk mkfs.ext4 losetup python3; do
	command -v "$tool" >/dev/null || { echo "1..0 # SKIP $tool is missing (tools/deps.sh installs it)"; exit 0; }
done
[ -e /dev/loop-control ] || { echo "1..0 # SKIP no /dev/loop-control: the kernel has no loop devices"; exit 0; }
mkscratch
leak_begin

ROOT_GUID=4f68bce3-e8cd-4db1-96e7-fbcaf984b709
HOME_GUID=933ac7e1-2eb4-4f13-b844-0e14e2aef915
W=$SCRATCH/img
mkdir -p "$W"

T=$W/tree
mk_busybox_tree "$T"
printf '#!/bin/sh\ncat /home/marker; head -n1 /etc/os-release; poweroff\n' >"$T/etc/init.d/rc.test"
chmod 755 "$T/etc/init.d/rc.test"
# A07: a device node and a setuid-root shell in the image.
mknod "$T/devmem" c 1 1
install -m 4755 "$T/bin/busybox" "$T/suid-sh"
mkdir -p "$W/home"
echo "marker from home" >"$W/home/marker"

# mk_gpt IMG SIZE_MIB "TYPE START_SECTOR SECTORS [FS_DIR|-] [GPT_ATTRIBUTE_BITS]"... : a GPT disk
# made without loop devices; each partition with a directory gets an ext4 file system built from
# it (mkfs.ext4 -d), written in place with dd.
mk_gpt() {
	local img=$1 size=$2 spec script="label: gpt" part type start sectors dir attrs
	shift 2
	truncate -s "${size}M" "$img"
	for spec in "$@"; do
		read -r type start sectors dir attrs <<<"$spec"
		script+=$'\n'"start=$start, size=$sectors, type=$type${attrs:+, attrs=\"GUID:$attrs\"}"
	done
	sfdisk -q --no-reread --no-tell-kernel "$img" <<<"$script" >/dev/null || return 1
	for spec in "$@"; do
		read -r type start sectors dir attrs <<<"$spec"
		[ -n "$dir" ] && [ "$dir" != - ] || continue
		part=$img.part
		rm -f "$part"
		mkfs.ext4 -q -d "$dir" "$part" "$((sectors / 2))k" >/dev/null || return 1
		dd if="$part" of="$img" bs=512 seek="$start" conv=notrunc status=none || return 1
		rm -f "$part"
	done
}

# What every case must leave: no loop device backed by IMG (an auto-clearing device stays only
# while something mounts it, so this also says no mount of the image is left anywhere) and no
# mount of ours in the host's mount table. Only our own: other tests may run beside this one;
# leak_check at the end compares the whole machine.
our_mounts() { awk -v s="$SCRATCH" -v r="/run/berth/image" 'index($5, s) == 1 || index($5, r) == 1' /proc/self/mountinfo; }
released() {
	local img=$1
	for _ in $(seq 50); do
		[ -z "$(losetup -j "$img")" ] && [ -z "$(our_mounts)" ] && return 0
		sleep 0.1
	done
	diag "still attached: $(losetup -j "$img")" "our mounts: $(our_mounts)"
	return 1
}

GPT=$W/disk.raw
mk_gpt "$GPT" 48 "$ROOT_GUID 2048 65536 $T" "$HOME_GUID 67584 16384 $W/home"
check "built a GPT image with root and home" test -s "$GPT"
csum() { sha256sum "$1" | cut -d' ' -f1; }

# A command sees both partitions; its exit code comes back.
out=$(spawn -i "$GPT" --register=no --console=pipe -- /bin/sh -c 'cat /home/marker; head -n1 /etc/os-release; exit 7' 2>&1)
rc=$?
check_eq "$out" "$(printf 'marker from home\nID=berth-busybox')" "GPT image: the payload sees /home/marker and /etc/os-release"
check_eq "$rc" 7 "GPT image: the exit code passes through"
check "GPT image: loop devices and mounts released" released "$GPT"

out=$(spawn -i "$GPT" --register=no --console=pipe -b </dev/null 2>&1)
rc=$?
check "GPT image boots (busybox init, rc.test sees home and os-release)" \
	grep -q "marker from home" <<<"$out"
check_eq "$rc" 0 "the booted image powers off cleanly"
check "boot: loop devices and mounts released" released "$GPT"

# The mounts are nodev: the image's device node cannot be opened (A07/A20).
out=$(spawn -i "$GPT" --register=no --console=pipe -- /bin/sh -c 'head -c1 /devmem >/dev/null 2>&1 && echo opened || echo refused; cat /proc/self/mountinfo' 2>&1)
check_eq "$(head -n1 <<<"$out")" refused "A07: a device node in the image cannot be opened"
check "the root of the image is mounted nodev" grep -q " / .*nodev" <<<"$out"

# --read-only: writes fail, the image keeps its checksum.
sum=$(csum "$GPT")
out=$(spawn -i "$GPT" --register=no --console=pipe --read-only -- /bin/sh -c 'touch /x 2>/dev/null && echo root-rw; touch /home/x 2>/dev/null && echo home-rw; echo done' 2>&1)
check_eq "$out" done "--read-only: writes to / and /home fail"
check_eq "$(csum "$GPT")" "$sum" "--read-only: the image is unchanged"
check "--read-only: released" released "$GPT"

# The image of a machine that crashed: its journal needs recovery. A read-only run mounts it
# as it is (norecovery), without writing a byte.
DIRTY=$W/dirty.raw
mkfs.ext4 -q -d "$T" "$DIRTY" 16M >/dev/null
if command -v debugfs >/dev/null && debugfs -w -R "feature needs_recovery" "$DIRTY" >/dev/null 2>&1; then
	dsum=$(csum "$DIRTY")
	out=$(spawn -i "$DIRTY" --register=no --console=pipe --read-only -- /bin/sh -c 'head -n1 /etc/os-release' 2>&1)
	check_eq "$out" ID=berth-busybox "--read-only: an image whose journal needs recovery mounts without replaying it"
	check_eq "$(csum "$DIRTY")" "$dsum" "--read-only: and that image is unchanged"
else
	skip "--read-only: an image whose journal needs recovery" "debugfs (e2fsprogs) could not mark one"
	skip "--read-only: and that image is unchanged" "no such image"
fi
rm -f "$DIRTY"

# A read-only image file is used read-only as a whole.
chmod 0444 "$GPT"
on_cleanup "chattr -i '$GPT' 2>/dev/null"
chattr +i "$GPT" 2>/dev/null && immutable=1 || immutable=0
if [ "$immutable" = 1 ]; then
	out=$(spawn -i "$GPT" --register=no --console=pipe -- /bin/sh -c 'touch /x 2>/dev/null && echo rw || echo ro' 2>/dev/null)
	check_eq "$out" ro "an immutable image file runs read-only"
	chattr -i "$GPT"
else
	skip "an immutable image file runs read-only" "the scratch file system has no immutable flag"
fi
chmod 0644 "$GPT"

# --ephemeral, with and without -U: writes work, also on /home, and the image is unchanged.
for mode in "" "-U"; do
	out=$(spawn -i "$GPT" --register=no --console=pipe -x $mode -- /bin/sh -c 'echo new >/etc/new && echo w >/home/marker && cat /etc/new /home/marker; ls -n /etc/new | awk "{print \$3}"' 2>&1)
	check_eq "$out" "$(printf 'new\nw\n0')" "-x $mode: writes to / and /home work inside, as root"
	check_eq "$(csum "$GPT")" "$sum" "-x $mode: the image is unchanged"
	check "-x $mode: released" released "$GPT"
done

# -U on the image itself: an idmapped mount, the owners on disk stay 0.
out=$(spawn -i "$GPT" --register=no --console=pipe -U -- /bin/sh -c 'awk "{print \$1, (\$2 != 0)}" /proc/self/uid_map; ls -n /home/marker | awk "{print \$3}"; touch /home/by-root && echo written' 2>&1)
check_eq "$out" "$(printf '0 1\n0\nwritten')" "-U: a user namespace, the image's files owned by root inside, writable"
check "-U: released" released "$GPT"
out=$(spawn -i "$GPT" --register=no --console=pipe -- /bin/sh -c 'ls -n /home/by-root | awk "{print \$3}"')
check_eq "$out" 0 "-U: a file made inside is owned by 0 on disk (idmapped, not chowned)"

# /usr and /srv on partitions of their own, the GPT attributes: a second root marked no-auto is
# not used (and not refused), /srv marked read-only is mounted read-only.
USR_GUID=8484680c-9521-48c6-9c11-b0720656f69e
SRV_GUID=3b8f8425-20e0-4f3b-907f-1a25a76f98e8
mkdir -p "$W/split/root" "$W/split/other" "$W/split/srv"
cp -a "$T/." "$W/split/root/"
rm -rf "$W/split/root/usr" && mkdir "$W/split/root/usr" "$W/split/root/srv"
echo "the root to use" >"$W/split/root/which"
cp -a "$W/split/root/." "$W/split/other/"
echo "the no-auto root" >"$W/split/other/which"
echo "srv data" >"$W/split/srv/data"
SPLIT=$W/split.raw
mk_gpt "$SPLIT" 64 "$ROOT_GUID 2048 16384 $W/split/other 63" "$ROOT_GUID 18432 16384 $W/split/root" \
	"$USR_GUID 34816 16384 $T/usr" "$SRV_GUID 51200 8192 $W/split/srv 60"
out=$(spawn -i "$SPLIT" --register=no --console=pipe -- /bin/sh -c 'cat /which /srv/data; ls /usr/bin | grep -c . >/dev/null && echo usr-ok; touch /srv/x 2>/dev/null || echo srv-ro; touch /x && echo root-rw' 2>&1)
check_eq "$out" "$(printf 'the root to use\nsrv data\nusr-ok\nsrv-ro\nroot-rw')" \
	"GPT attributes: no-auto root skipped, /usr and /srv mounted, read-only /srv read-only"
check "split image: released" released "$SPLIT"

# An ESP (FAT, made and filled with dosfstools and mtools: no loop device, no mount) is mounted at
# /efi, writable with the image and read-only with --read-only.
ESP_GUID=c12a7328-f81f-11d2-ba4b-00a0c93ec93b
# Whether the kernel mounts FAT (built in, or a module modprobe loads).
kernel_has_vfat() {
	grep -qw vfat /proc/filesystems && return 0
	command -v modprobe >/dev/null && modprobe -q vfat 2>/dev/null && grep -qw vfat /proc/filesystems
}
if command -v mkfs.vfat >/dev/null && command -v mcopy >/dev/null; then
	mkdir -p "$W/esproot"
	cp -a "$T/." "$W/esproot/"
	mkdir "$W/esproot/efi"
	ESPIMG=$W/esp.raw
	mk_gpt "$ESPIMG" 48 "$ROOT_GUID 2048 32768 $W/esproot" "$ESP_GUID 34816 16384 -"
	echo "marker from the ESP" >"$W/esp-marker"
	rm -f "$W/esp.part"
	mkfs.vfat -n BERTHESP -C "$W/esp.part" 8192 >/dev/null &&
		MTOOLS_SKIP_CHECK=1 mcopy -i "$W/esp.part" "$W/esp-marker" ::/marker &&
		dd if="$W/esp.part" of="$ESPIMG" bs=512 seek=34816 conv=notrunc status=none
	rm -f "$W/esp.part"
	# esp_file NAME: the contents of NAME on the image's ESP, read with mtools from the image.
	esp_file() { MTOOLS_SKIP_CHECK=1 mtype -i "$ESPIMG@@$((34816 * 512))" "::/$1" 2>/dev/null; }
	check_eq "$(esp_file marker)" "marker from the ESP" "built a GPT image with root and a FAT ESP"
	# The file system type and rw/ro of the mount at /efi, seen inside.
	efi_mount='awk "\$5 == \"/efi\" { for (i = 7; \$i != \"-\"; i++); print \$(i + 1), substr(\$6, 1, 2) }" /proc/self/mountinfo'
	esum=$(csum "$ESPIMG")
	if kernel_has_vfat; then
		out=$(spawn -i "$ESPIMG" --register=no --console=pipe -- /bin/sh -c \
			"cat /efi/marker; $efi_mount; echo written >/efi/new && echo esp-rw" 2>&1)
		check_eq "$out" "$(printf 'marker from the ESP\nvfat rw\nesp-rw')" "ESP: mounted at /efi (vfat), the marker readable, writable"
		check_eq "$(esp_file new)" written "ESP: a file written to /efi inside is on the image's ESP"
		check "ESP: released" released "$ESPIMG"
		esum=$(csum "$ESPIMG")
		out=$(spawn -i "$ESPIMG" --register=no --console=pipe --read-only -- /bin/sh -c \
			"cat /efi/marker; $efi_mount; touch /efi/x 2>/dev/null && echo esp-rw; echo done" 2>&1)
		check_eq "$out" "$(printf 'marker from the ESP\nvfat ro\ndone')" "ESP with --read-only: mounted read-only, writes fail"
	else
		why="this kernel has no FAT file system (no vfat in /proc/filesystems, none to load: CONFIG_VFAT_FS)"
		skip "ESP: mounted at /efi (vfat), the marker readable, writable" "$why"
		skip "ESP: a file written to /efi inside is on the image's ESP" "$why"
		skip "ESP with --read-only: mounted read-only, writes fail" "$why"
		# What such a kernel can show: the FAT ESP passes the checks (no refusal of its type),
		# and a container, which has no use for it, boots without it, saying so.
		out=$(spawn -i "$ESPIMG" --register=no --console=pipe --read-only -- /bin/sh -c \
			"$efi_mount; echo ran" 2>&1)
		rc=$?
		check "ESP on a kernel without vfat: the image runs without it, saying so ($(echo $out))" \
			eval '[ "$rc" = 0 ] && grep -q "Not mounting the ESP" <<<"$out" && grep -qx ran <<<"$out" && ! grep -qx "vfat r[ow]" <<<"$out"'
	fi
	check_eq "$(csum "$ESPIMG")" "$esum" "ESP with --read-only: the image is unchanged"
	check "ESP with --read-only: released" released "$ESPIMG"
	rm -f "$ESPIMG"
else
	skip "ESP: a GPT image with a FAT ESP" "mkfs.vfat (dosfstools) or mcopy (mtools) is missing: tools/deps.sh installs them"
fi

# A bare ext4 image, and -M NAME finding NAME.raw in the pool ($BERTH_IMAGE_POOL).
export BERTH_IMAGE_POOL=$W/pool
mkdir -p "$BERTH_IMAGE_POOL"
BARE=$BERTH_IMAGE_POOL/bare.raw
mkfs.ext4 -q -d "$T" "$BARE" 16M >/dev/null
out=$(spawn -i "$BARE" --register=no --console=pipe -- /bin/sh -c 'head -n1 /etc/os-release; exit 3' 2>&1)
rc=$?
check_eq "$out" ID=berth-busybox "bare ext4 image: a command runs in it"
check_eq "$rc" 3 "bare ext4 image: the exit code passes through"
out=$(spawn -M bare --register=no --console=pipe -- /bin/sh -c 'hostname' 2>&1)
check_eq "$out" bare "-M bare finds bare.raw in the pool"
# Its settings file lives beside the image file, as beside a tree (untrusted: Environment= is
# allowed there). The trusted directory is pointed at an empty one.
mkdir -p "$W/trusted-empty"
printf '[Exec]\nEnvironment=FROM_FILE=beside-raw\n' >"$BERTH_IMAGE_POOL/bare.berth"
out=$(BERTH_SETTINGS_DIR=$W/trusted-empty spawn -M bare --register=no --console=pipe -- /bin/sh -c 'echo "$FROM_FILE"' 2>&1)
check_eq "$out" beside-raw "bare.berth beside bare.raw is read"
rm -f "$BERTH_IMAGE_POOL/bare.berth"
check "bare image: released" released "$BARE"

# A block device: the test's own loop device of the GPT image (no partition scan).
DEV=$(losetup -f --show "$GPT")
if [ -n "$DEV" ]; then
	out=$(spawn -i "$DEV" -M blockdev --register=no --console=pipe -- /bin/sh -c 'cat /home/marker' 2>&1)
	check_eq "$out" "marker from home" "a block device as the image"
	loop_detach_file "$GPT"
	check "block device: released" released "$GPT"
else
	not_ok "a block device as the image (losetup -f failed)"
fi

# SIGKILL of berth-spawn during a run: the container goes, and with it mounts and loop devices.
# A supervisor killed so cannot remove its machine's cgroup: the test does it for it.
KM=raw-kill-$$
CG=/sys/fs/cgroup/unified/machine.slice
SLICE_EXISTED=0; [ -d "$CG" ] && SLICE_EXISTED=1
drop_cgroup() {
	rmdir "$CG/machine-$KM.scope/payload" "$CG/machine-$KM.scope" 2>/dev/null
	# The slice too, when the run made it: the supervisor would have, had it lived.
	[ "$SLICE_EXISTED" = 1 ] || rmdir "$CG" 2>/dev/null
	true
}
"$BERTH_SPAWN" -i "$GPT" -M "$KM" --register=no --console=pipe -- /bin/sleep 300 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do [ -n "$(losetup -j "$GPT")" ] && break; sleep 0.1; done
check "while running, the image is attached" test -n "$(losetup -j "$GPT")"
dev=$(losetup -j "$GPT" | head -n1 | cut -d: -f1)
check "while running, the image's mounts are not in the host's mount table" \
	test -n "$dev" -a -z "$(our_mounts)" -a -z "$(awk -v d="$dev" '$10 == d' /proc/self/mountinfo)"
sleep 0.5
kill -KILL "$pid"
wait "$pid" 2>/dev/null
check "SIGKILL of berth-spawn: loop devices and mounts released" released "$GPT"
for _ in $(seq 50); do grep -qs . "$CG/machine-$KM.scope/payload/cgroup.procs" || break; sleep 0.1; done
drop_cgroup

# Hostile images (A07): refused with a reason, exit code != 0, nothing left attached.
refused() { # IMG DESCRIPTION PATTERN
	local out rc
	out=$(spawn -i "$1" --register=no --console=pipe -- /bin/true 2>&1)
	rc=$?
	if [ "$rc" != 0 ] && grep -qiE "$3" <<<"$out" && released "$1"; then
		ok "hostile image refused: $2"
		diag "$out"
	else
		not_ok "hostile image refused: $2 (exit $rc: $out)"
	fi
}

H=$W/two-roots.raw
mk_gpt "$H" 48 "$ROOT_GUID 2048 32768 $T" "$ROOT_GUID 34816 32768 $T"
refused "$H" "two root partitions" "two root partitions"

# Tables no tool makes: move_entry IMG FIRST LAST rewrites the second GPT entry's first and last
# sector in both tables and fixes the CRCs of both headers, so only our checks can refuse it.
move_entry() {
	python3 - "$@" <<'PY'
import struct, sys, zlib
f = open(sys.argv[1], "r+b")
first, last = int(sys.argv[2]), int(sys.argv[3])
def fix(lba):
    f.seek(lba * 512); h = bytearray(f.read(92))
    entries_lba, n, size = struct.unpack_from("<QII", h, 72)
    f.seek(entries_lba * 512); e = bytearray(f.read(n * size))
    struct.pack_into("<QQ", e, size + 32, first, last)
    f.seek(entries_lba * 512); f.write(e)
    struct.pack_into("<I", h, 88, zlib.crc32(bytes(e)) & 0xffffffff)
    struct.pack_into("<I", h, 16, 0)
    struct.pack_into("<I", h, 16, zlib.crc32(bytes(h)) & 0xffffffff)
    f.seek(lba * 512); f.write(h)
    return struct.unpack_from("<Q", h, 32)[0]
fix(fix(1))
PY
}
H=$W/overlap.raw
mk_gpt "$H" 48 "$ROOT_GUID 2048 32768 $T" "$HOME_GUID 34816 16384 $W/home"
move_entry "$H" 30720 47103
refused "$H" "overlapping partitions" "overlap"

# An entry past the end with headers that are otherwise fine (libblkid skips such an entry).
H=$W/entry-past-eof.raw
mk_gpt "$H" 48 "$ROOT_GUID 2048 32768 $T" "$HOME_GUID 34816 16384 $W/home"
move_entry "$H" 34816 200000
refused "$H" "an entry past the end of the image" "past its end"

# A partition past the end of the image: the tail cut off (the header then points past the end).
H=$W/past-eof.raw
mk_gpt "$H" 48 "$ROOT_GUID 2048 65536 $T"
truncate -s 20M "$H"
refused "$H" "a partition past the end of the image" "past the end|damaged"

H=$W/garbage.raw
head -c 8M /dev/urandom >"$H"
refused "$H" "random bytes" "no partition table or file system"

H=$W/no-fs.raw
mk_gpt "$H" 48 "$ROOT_GUID 2048 65536"
refused "$H" "a root partition without a file system" "no file system"

H=$W/no-root.raw
mk_gpt "$H" 48 "$HOME_GUID 2048 16384 $W/home"
refused "$H" "no root partition" "no root partition"

H=$W/mbr.raw
truncate -s 16M "$H"
printf 'label: dos\nstart=2048, size=8192, type=83\n' | sfdisk -q --no-reread --no-tell-kernel "$H" >/dev/null
refused "$H" "an MBR partition table" "not a GPT"

leak_check
tap_done
