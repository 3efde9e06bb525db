#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# NAME.berth settings files against the real berth-spawn: a trusted file's settings take effect
# inside the container, an untrusted file's privileged keys are ignored with a warning (A06), and
# a malformed or hostile file stops the start with file:line and leaves nothing behind.
. "$TESTS_SRC/lib/libtest.sh"
need_root
mkscratch
leak_begin

POOL=$SCRATCH/pool          # beside the tree: untrusted
ETC=$SCRATCH/etc-berth      # stands in for /etc/berth: trusted
TREE=$POOL/web
mkdir -p "$POOL" "$ETC" "$SCRATCH/canary"
echo canary-content >"$SCRATCH/canary/canary"
mk_busybox_tree "$TREE"
# Never the real /etc/berth: berth-spawn reads its trusted directory from here in tests.
export BERTH_SETTINGS_DIR=$ETC
SPAWN_TIMEOUT=30

# Runs berth-spawn on the tree as machine "web"; stdout (without the console's \r) in $OUT,
# stderr in $ERR, exit status in $RC.
run() {
	spawn -D "$TREE" -M web "$@" >"$SCRATCH/stdout" 2>"$SCRATCH/stderr"
	RC=$?
	OUT=$(tr -d '\r' <"$SCRATCH/stdout")
	ERR=$(cat "$SCRATCH/stderr")
}
show_err() { [ -z "$ERR" ] || diag "stderr: $ERR"; }
# Like check_eq, for multi-line values too, and shows berth-spawn's stderr when the check fails.
expect_eq() {
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		not_ok "$3"
		diag "expected: $2" "got: $1"
		show_err
	fi
}
clear_files() { rm -f "$ETC/web.berth" "$POOL/web.berth"; }

# --- trusted: every kind of setting reaches the container ---------------------------------
cat >"$ETC/web.berth" <<'EOF'
# Comments and blank lines are fine.

[Exec]
Hostname=from-settings
Environment=FOO=bar "SPACED=a b"
Parameters=/bin/sh -c "hostname; echo FOO=$FOO; echo SPACED=$SPACED"
EOF
run
expect_eq "$RC" 0 "trusted file: container ran"
expect_eq "$OUT" "from-settings
FOO=bar
SPACED=a b" "trusted file: Hostname=, Environment= and Parameters= take effect inside"

# The command line wins over the file, key by key: --hostname and the command replace the
# file's; Environment= still comes from the file.
run --hostname=cmdline /bin/sh -c 'hostname; echo FOO=$FOO'
expect_eq "$OUT" "cmdline
FOO=bar" "command line overrides Hostname= and Parameters=, file's Environment= stays"

# What runs is decided as one: a command on the command line also overrides the file's Boot=.
printf '[Exec]\nBoot=yes\nParameters=--never-used\n' >"$ETC/web.berth"
run /bin/echo command-ran
expect_eq "$OUT" "command-ran" "a command on the command line wins over the file's Boot=yes"

# A trusted Bind= works, so the untrusted case below proves something.
cat >"$ETC/web.berth" <<EOF
[Files]
Bind=$SCRATCH/canary:/canary
EOF
run /bin/cat /canary/canary
expect_eq "$OUT" "canary-content" "trusted Bind= is mounted"

# --- untrusted: beside the image, privileged keys are ignored and named ----------------------
clear_files
cat >"$POOL/web.berth" <<'EOF'
[Exec]
Hostname=untrusted-ok
Parameters=/bin/sh -c "hostname; if test -e /hostetc; then echo HOSTETC-PRESENT; else echo no-hostetc; fi"
[Files]
Bind=/etc:/hostetc
EOF
run
expect_eq "$RC" 0 "untrusted file: container ran"
expect_eq "$OUT" "untrusted-ok
no-hostetc" "untrusted file: harmless keys apply, Bind=/etc:/hostetc does not (no /hostetc inside)"
case "$ERR" in
*"$POOL/web.berth:5: Ignoring privileged setting Bind=/etc:/hostetc"*) ok "untrusted Bind= ignored with a warning naming file:line and key" ;;
*) not_ok "no warning naming $POOL/web.berth:5 and Bind= on stderr"; show_err ;;
esac
check "no mount point /hostetc made in the tree" test ! -e "$TREE/hostetc"

# A06: the rest of the classic escalation set from an image-side file.
cap_bnd() { run /bin/sh -c 'grep CapBnd /proc/self/status'; echo "$OUT"; }
clear_files
default_caps=$(cap_bnd)
printf '[Exec]\nCapability=all\n' >"$POOL/web.berth"
check_eq "$(cap_bnd)" "$default_caps" "untrusted Capability=all leaves the bounding set at its default"
printf '[Exec]\nCapability=all\n' >"$ETC/web.berth"
rm -f "$POOL/web.berth"
if [ "$(cap_bnd)" != "$default_caps" ]; then ok "trusted Capability=all widens the bounding set"; else not_ok "trusted Capability=all had no effect"; fi

clear_files
printf '[Exec]\nEphemeral=yes\n[Files]\nEphemeral=yes\n' >"$POOL/web.berth"
rm -f "$TREE/persisted"
run /bin/touch /persisted
expect_eq "$RC" 0 "untrusted Ephemeral=yes: container ran"
check "untrusted Ephemeral=yes ignored: the write reached the tree" test -e "$TREE/persisted"
rm -f "$TREE/persisted"

# --- malformed files stop the start --------------------------------------------------------
clear_files
printf '[Exec]\nHostname=fine\nBoot=maybe\n' >"$ETC/web.berth"
run /bin/touch /ran
if [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ]; then ok "malformed trusted file: berth-spawn exits non-zero ($RC)"; else not_ok "malformed trusted file: exit status $RC"; fi
case "$ERR" in
*"$ETC/web.berth:3: Invalid Boot=maybe"*) ok "the error names file:line and the key" ;;
*) not_ok "error does not name $ETC/web.berth:3"; show_err ;;
esac
check "malformed file: the command never ran" test ! -e "$TREE/ran"

clear_files
printf '[Files]\nBind=relative/path\n' >"$POOL/web.berth"
run /bin/touch /ran
if [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ]; then ok "malformed untrusted file: berth-spawn exits non-zero ($RC)"; else not_ok "malformed untrusted file: exit status $RC"; fi
case "$ERR" in
*"$POOL/web.berth:2: Invalid Bind=relative/path"*) ok "untrusted: the error names file:line and the key" ;;
*) not_ok "error does not name $POOL/web.berth:2"; show_err ;;
esac
check "malformed untrusted file: the command never ran" test ! -e "$TREE/ran"

# A FIFO where the file should be: refused at once, never waited on.
clear_files
mkfifo "$ETC/web.berth"
SPAWN_TIMEOUT=15
run /bin/touch /ran
SPAWN_TIMEOUT=30
if [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] && [ "$RC" -ne 137 ]; then ok "FIFO as settings file: refused without blocking"; else not_ok "FIFO as settings file: exit status $RC"; show_err; fi
check "FIFO: the command never ran" test ! -e "$TREE/ran"

# Over 1 MiB: refused.
clear_files
{ printf '[Exec]\n'; head -c 2097152 /dev/zero | tr '\0' '#'; } >"$ETC/web.berth"
run /bin/touch /ran
if [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ]; then ok "2 MiB settings file refused"; else not_ok "2 MiB settings file: exit status $RC"; show_err; fi
check "oversized file: the command never ran" test ! -e "$TREE/ran"
clear_files

leak_check
tap_done
