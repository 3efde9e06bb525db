#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `meson install` puts every file where a Debian system reads it, and nothing else: the build is
# installed into a scratch destdir, and the list of files is compared with the expected one.
# Directories that do not follow the prefix (systemd's units and tmpfiles, the bus and polkit)
# come from pkg-config as meson.build takes them; the rest follow the build's prefix (/usr for
# tools/build.sh, as a Debian package has it). Then each file is checked for what it is meant
# to do: substituted paths, executables, man pages, a completion that loads, tmpfiles that apply.
. "$(dirname "$0")/../lib/libtest.sh"

missing=""
for p in meson pkg-config python3 systemd-tmpfiles; do
	command -v "$p" >/dev/null || missing+=" $p"
done
[ -n "${BUILD_ROOT:-}" ] || missing+=" BUILD_ROOT(meson test sets it)"
if [ -n "$missing" ]; then
	echo "1..0 # SKIP missing:$missing"
	exit 0
fi

mkscratch
D=$SCRATCH/dest
if ! meson install -C "$BUILD_ROOT" --destdir "$D" --no-rebuild --quiet >"$SCRATCH/install.log" 2>&1; then
	sed 's/^/# /' "$SCRATCH/install.log" >&2
	echo "Bail out! meson install failed"
	exit 1
fi

# The build's own directories (what `meson setup --prefix=...` chose).
eval "$(meson introspect --buildoptions "$BUILD_ROOT" | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
for k in ("prefix", "bindir", "libexecdir", "mandir", "datadir"):
    v = o[k] if o[k].startswith("/") else o["prefix"] + "/" + o[k]
    print("%s=%s" % (k, v))')"
pc() { pkg-config --variable="$2" "$1" 2>/dev/null | grep . || echo "$3"; }
unitdir=$(pc systemd systemdsystemunitdir /lib/systemd/system)
generatordir=$(pc systemd systemdsystemgeneratordir /lib/systemd/system-generators)
tmpfilesdir=$(pc systemd tmpfilesdir /usr/lib/tmpfiles.d)
dbusdir=$(pc dbus-1 datadir /usr/share)/dbus-1
polkitdir=$(pc polkit-gobject-1 policydir /usr/share/polkit-1/actions)
completiondir=$(pc bash-completion completionsdir "$datadir/bash-completion/completions")
diag "prefix $prefix, units in $unitdir, tmpfiles in $tmpfilesdir"

expected=(
	"$bindir/berth-spawn"
	"$bindir/berthctl"
	"$libexecdir/berthd"
	"$libexecdir/berth-transfer"
	"$unitdir/berthd.service"
	"$unitdir/berth-spawn@.service"
	"$generatordir/berth-order-generator"
	"$dbusdir/system.d/org.berth.machine1.conf"
	"$dbusdir/system-services/org.berth.machine1.service"
	"$dbusdir/interfaces/org.berth.machine1.Manager.xml"
	"$dbusdir/interfaces/org.berth.machine1.Machine.xml"
	"$dbusdir/interfaces/org.berth.machine1.Image.xml"
	"$dbusdir/interfaces/org.berth.machine1.Transfer.xml"
	"$polkitdir/org.berth.machine1.policy"
	"$tmpfilesdir/berth.conf"
	"$mandir/man1/berthctl.1"
	"$mandir/man1/berth-spawn.1"
	"$mandir/man8/berthd.8"
	"$mandir/man5/org.berth.machine1.5"
	"$mandir/man5/berth.berth.5"
	"$mandir/man8/berth-order-generator.8"
	"$completiondir/berthctl"
)
tap_plan $((${#expected[@]} + 15))

for f in "${expected[@]}"; do
	check "installs $f" test -f "$D$f"
done
check_eq "$(cd "$D" && find . ! -type d | sed 's/^\.//' | sort)" "$(printf '%s\n' "${expected[@]}" | sort)" \
	"installs nothing else"

# On Debian with tools/build.sh's prefix these are the paths the daemons and tools read.
if [ "$prefix" = /usr ]; then
	check_eq "$unitdir $tmpfilesdir $dbusdir $polkitdir" \
		"/lib/systemd/system /usr/lib/tmpfiles.d /usr/share/dbus-1 /usr/share/polkit-1/actions" \
		"systemd, tmpfiles, D-Bus and polkit files go to Debian 12's directories"
else
	skip "Debian 12's directories" "the build's prefix is $prefix, not /usr"
fi

check "berth-spawn, berthctl, berthd and berth-transfer are executables" \
	sh -c 'for f; do [ -x "$f" ] && head -c4 "$f" | grep -q ELF || exit 1; done' sh \
	"$D$bindir/berth-spawn" "$D$bindir/berthctl" "$D$libexecdir/berthd" "$D$libexecdir/berth-transfer"
# libarchive and what it pulls in (ICU, libxml2, libstdc++) cost berthd 2.7 MiB of resident
# memory for as long as it runs: only the transfer jobs load it.
needed() { LC_ALL=C readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
check "berthd does not link libarchive, berth-transfer does" \
	eval "! needed '$D$libexecdir/berthd' | grep -q libarchive && needed '$D$libexecdir/berth-transfer' | grep -q libarchive"
check_eq "$(sed -n 's/^ExecStart=//p' "$D$unitdir/berthd.service")" "$libexecdir/berthd" \
	"berthd.service starts the installed berthd"
check_eq "$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$D$unitdir/berth-spawn@.service")" "$bindir/berth-spawn" \
	"berth-spawn@.service starts the installed berth-spawn"
check "no unit is left with an unsubstituted @variable@" \
	sh -c '! grep -l "@[a-z_]*@" "$@"' sh "$D$unitdir"/*.service
check_eq "$(sed -n 's/^SystemdService=//p' "$D$dbusdir/system-services/org.berth.machine1.service")" \
	berthd.service "the activation file names the installed unit"
check "the policy, actions and interfaces are well-formed XML" \
	sh -c 'command -v xmllint >/dev/null || exit 0; xmllint --noout --nonet "$@" 2>/dev/null' sh \
	"$D$dbusdir/system.d/org.berth.machine1.conf" "$D$polkitdir/org.berth.machine1.policy" \
	"$D$dbusdir"/interfaces/*.xml
check "the man pages are troff with a .TH line naming the page" \
	sh -c 'for f; do n=${f##*/}; grep -q "^\.TH \"*${n%.*}\"* \"*${n##*.}" "$f" || { echo "# $f" >&2; exit 1; }; done' sh \
	"$D$mandir"/man*/*
if command -v man >/dev/null; then
	check "man renders berthctl(1)" sh -c 'MANWIDTH=80 man -l "$1" 2>/dev/null | grep -q berthctl' sh \
		"$D$mandir/man1/berthctl.1"
else
	skip "man renders berthctl(1)" "man-db is not installed"
fi
check "the bash completion loads and completes berthctl" \
	bash -c 'source "$1" && complete -p berthctl >/dev/null' sh "$D$completiondir/berthctl"

# The tmpfiles entry, applied to a scratch root, makes the directories berth needs.
R=$SCRATCH/root
mkdir "$R"
systemd-tmpfiles --root="$R" --create "$D$tmpfilesdir/berth.conf" >/dev/null 2>&1
check_eq "$(cd "$R" && stat -c '%n %a %U' run/berth var/lib/machines var/log/berth 2>&1)" \
	"$(printf 'run/berth 755 root\nvar/lib/machines 700 root\nvar/log/berth 750 root')" \
	"systemd-tmpfiles makes /run/berth, /var/lib/machines and /var/log/berth with their modes"
mkdir -p "$R/var/lib/machines/demo"
chmod 755 "$R/var/lib/machines"
systemd-tmpfiles --root="$R" --create "$D$tmpfilesdir/berth.conf" >/dev/null 2>&1
check_eq "$(stat -c %a "$R/var/lib/machines"):$(ls "$R/var/lib/machines")" "700:demo" \
	"applied again it fixes the pool's mode and keeps its images"

check "no file is installed world-writable or setuid" \
	sh -c '[ -z "$(find "$1" \( -perm -0002 -o -perm -4000 \) ! -type l)" ]' sh "$D"
tap_done
