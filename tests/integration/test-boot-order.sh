#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Boot order under a real systemd (a testhost): machines oa, ob, oc with [Start] Order= 3, 1, 2
# (so name order is not the answer; ob with Delay=3) and on without Order= are enabled; after a
# host restart that keeps the testhost's disk each ordered machine's unit starts only after the
# previous order's machines are ready, the delay shows as the gap, and `on` is held back by
# nobody. status shows the order; a manual start waits for no other machine; the order follows
# a changed settings file at the next reload; disable takes a machine out.
. "$(dirname "$0")/../lib/libtest.sh"
. "$TESTS_SRC/lib/testhost.sh"
. "$TESTS_SRC/lib/berthd.sh" # wait_for
need_root
testhost_need_build

leak_begin
mkscratch
name=bo$$
on_cleanup "testhost_stop $name"
# The image pool on the real disk (-U needs idmapped mounts, which the overlay cannot give), and
# the testhost's upper layer kept there across its restart.
POOL=$SCRATCH/pool
KEEP=$SCRATCH/keep
mkdir -p "$POOL" "$KEEP"
for t in oa ob oc on; do
	mk_busybox_tree "$POOL/$t"
	printf '::sysinit:/etc/init.d/rcS\n::once:/bin/sleep 100000\n' >"$POOL/$t/etc/inittab"
done
DELAY=3

inside() { testhost_exec "$name" "$@"; }
bc() { inside berthctl --no-pager "$@"; }
svc() { printf 'berth-spawn@%s.service' "$1"; }
uprop() { inside systemctl show -P "$2" "$1" 2>&1; }
active() { [ "$(uprop "$(svc "$1")" ActiveState)" = active ]; }
registered() { [ "$(bc show -p State --value "$1" 2>/dev/null)" = running ]; }
# Monotonic µs: when the unit's start began, and when it became active (ready: Type=notify).
began() { uprop "$(svc "$1")" InactiveExitTimestampMonotonic; }
ready() { uprop "$(svc "$1")" ActiveEnterTimestampMonotonic; }
ordered_units() { uprop "$(svc "$1")" "$2" | tr ' ' '\n' | grep '^berth-order-' | tr '\n' ' '; }
start_host() { testhost_start "$name" --bind "$POOL:/var/lib/machines" --keep-upper "$KEEP"; }
settings() { inside sh -c "mkdir -p /etc/berth && printf '$2' > /etc/berth/$1.berth"; }

if ! start_host; then
	echo "1..0 # SKIP no testhost (see tests/lib/testhost.sh)"
	exit 0
fi
if testhost_install "$name" "$BUILD_ROOT"; then
	ok "the build installs into the testhost"
else
	not_ok "the build installs into the testhost"
	echo "Bail out! nothing to test without berth installed"
	exit 1
fi

settings oa '[Start]\nOrder=3\n'
settings ob "[Start]\nOrder=1\nDelay=$DELAY\n"
settings oc '[Start]\nOrder=2\n'
out=$(bc enable oa ob oc on 2>&1); rc=$?
check_eq "$rc" 0 "berthctl enable oa ob oc on ($(echo $out))"
check_eq "$(inside systemctl is-enabled "$(svc oc)" 2>&1)" enabled "the units are enabled"

# ---- what the generator made of it, right after enable's reload ----
check_eq "$(ordered_units ob After)|$(ordered_units ob Before)" "|berth-order-1.service " \
	"ob (order 1) starts after no order, and before its own order's barrier"
check_eq "$(ordered_units oc After)|$(ordered_units oc Before)" "berth-order-1.service |berth-order-2.service " \
	"oc (order 2) starts after order 1"
check_eq "$(ordered_units oa After)|$(ordered_units oa Before)" "berth-order-2.service |berth-order-3.service " \
	"oa (order 3) starts after order 2"
check_eq "$(ordered_units on After)|$(ordered_units on Before)" "|" "on (no Order=) is in no order"
check_eq "$(uprop berth-order-1.service Environment)" "BERTH_ORDER=1 BERTH_ORDER_DELAY=$DELAY" \
	"order 1's barrier carries its delay"
check "machines.target pulls the barriers in" \
	eval 'w=$(uprop machines.target Wants); for o in 1 2 3; do echo " $w " | grep -q " berth-order-$o.service " || exit 1; done'
check_eq "$(uprop "$(svc oc)" ActiveState)" inactive "enable alone starts nothing"

# ---- a host restart: the order, and the delay ----
testhost_stop "$name" --poweroff
if start_host; then ok "the testhost restarts with the same disk"; else not_ok "the testhost restarts with the same disk"; fi
check "after the restart, all four machines run" wait_for 60 eval 'active oa && active ob && active oc && active on'
check "... and are in berthd's registry" wait_for 20 eval 'registered oa && registered ob && registered oc && registered on'
b_ob=$(began ob) r_ob=$(ready ob) b_oc=$(began oc) r_oc=$(ready oc) b_oa=$(began oa) b_on=$(began on)
diag "monotonic µs: ob $b_ob..$r_ob, oc $b_oc..$r_oc, oa $b_oa.., on $b_on.."
check "oc (order 2) began only after ob (order 1) was ready" test "$b_oc" -ge "$r_ob"
check "... and at least Delay=$DELAY s later ($(((b_oc - r_ob) / 1000)) ms)" test $((b_oc - r_ob)) -ge $((DELAY * 1000000))
check "oa (order 3) began only after oc (order 2) was ready" test "$b_oa" -ge "$r_oc"
check "oa waited no delay after oc ($(((b_oa - r_oc) / 1000)) ms < $DELAY s)" test $((b_oa - r_oc)) -lt $((DELAY * 1000000))
check "on (no Order=) did not wait for the order (began before oc)" test "$b_on" -lt "$b_oc"

# ---- status ----
out=$(bc status oc 2>&1)
check "status oc: 'Boot order: 2 ($DELAY s after ob of order 1)'" \
	eval "echo \"\$out\" | grep -qx ' *Boot order: 2 ($DELAY s after ob of order 1)'"
out=$(bc status ob 2>&1)
check "status ob: 'Boot order: 1 (first); the next order waits $DELAY s'" \
	eval "echo \"\$out\" | grep -qx ' *Boot order: 1 (first); the next order waits $DELAY s'"
out=$(bc status on 2>&1); rc=$?
check "status on: exit 0 and no boot order line" eval "[ $rc = 0 ] && ! echo \"\$out\" | grep -q 'Boot order'"
cat >"$SCRATCH/check-status.py" <<'PY'
import json, sys
st = {m["name"]: m for m in json.load(sys.stdin)}
assert st["oa"]["boot_order"] == {"order": 3, "delay": 0, "after_order": 2, "after_delay": 0, "after": ["oc"]}, st["oa"]
assert st["ob"]["boot_order"] == {"order": 1, "delay": 3, "after_order": None, "after_delay": None, "after": []}, st["ob"]
assert st["on"]["boot_order"] is None, st["on"]
print("ok")
PY
check_eq "$(bc status -o json oa ob on 2>&1 | python3 "$SCRATCH/check-status.py" 2>&1)" ok "status -o json: boot_order"

# ---- a manual start waits for nobody ----
inside systemctl stop "$(svc ob)" "$(svc oc)"
t0=$(uprop berth-order-1.service ActiveEnterTimestampMonotonic)
out=$(bc start oc 2>&1); rc=$?
check_eq "$rc" 0 "berthctl start oc, with ob stopped ($(echo $out))"
check_eq "$(uprop "$(svc ob)" ActiveState)" inactive "... does not pull ob (order 1) in"
check_eq "$(uprop berth-order-1.service ActiveEnterTimestampMonotonic)" "$t0" "... nor order 1's barrier and its delay"

# ---- the order follows the settings at each reload ----
settings oa '[Start]\nOrder=0\n'
inside systemctl daemon-reload
check_eq "$(ordered_units oa After)|$(ordered_units oa Before)" "|berth-order-0.service " \
	"after oa.berth says Order=0 and a reload, oa is first"
check_eq "$(ordered_units ob After)" "berth-order-0.service " "... and ob (order 1) starts after it"
check_eq "$(bc status oc 2>&1 | sed -n 's/^ *Boot order: //p')" "2 ($DELAY s after ob of order 1)" \
	"status oc after the reload"
settings oa '[Start]\nOrder=zero\n'
inside systemctl daemon-reload
check_eq "$(ordered_units oa Before)|$(ordered_units ob After)" "|" \
	"an invalid Order= takes oa out of the order (berth-spawn would refuse the file too)"
# Run by hand (its messages go to PID 1's standard error: the console at boot).
GEN=$(pkg-config --variable=systemdsystemgeneratordir systemd 2>/dev/null || echo /lib/systemd/system-generators)/berth-order-generator
out=$(inside env GEN="$GEN" sh -c 'd=$(mktemp -d) && "$GEN" "$d"; echo "rc=$?"; rm -rf "$d"' 2>&1)
check "... and the generator says why ($(echo $out))" \
	eval "echo \"\$out\" | grep -q 'oa.berth:2: Invalid Order=zero' && echo \"\$out\" | grep -q rc=0"
settings oa '[Start]\nOrder=3\n'

# ---- disable takes a machine out ----
out=$(bc disable ob 2>&1); rc=$?
check_eq "$rc" 0 "berthctl disable ob ($(echo $out))"
check_eq "$(ordered_units oc After)|$(ordered_units oc Before)" "|berth-order-2.service " \
	"oc (order 2) is now first: nothing of order 1 is left"
check_eq "$(uprop berth-order-1.service LoadState)" not-found "order 1's barrier is gone"
check "... and ob has no drop-in" eval "! inside test -e /run/systemd/generator/berth-spawn@ob.service.d"
out=$(bc disable --now oa oc on 2>&1); rc=$?
check_eq "$rc" 0 "disable --now the rest ($(echo $out))"
check_eq "$(inside sh -c 'ls /run/systemd/generator | grep -c berth')" 0 "the generator wrote nothing once no machine is enabled"

if [ "$_tap_failed" != 0 ]; then
	inside journalctl --no-pager -b -n 80 -u berthd.service -u 'berth-spawn@*' -u 'berth-order-*' 2>&1 | sed 's/^/# /' >&2
fi
inside systemctl stop "$(svc oa)" "$(svc ob)" "$(svc oc)" "$(svc on)" 2>/dev/null
testhost_stop "$name"
leak_check
tap_done
