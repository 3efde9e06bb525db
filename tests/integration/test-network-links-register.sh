#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-spawn registers the host ends of all the veths it makes with berthd: with
# --network-bridge= and --network-veth-extra=, NetworkInterfaces holds the indices of vb-NAME and
# of the extra veth's host end, as machined lists every host-side link; after TerminateMachine
# the links are gone and the bridge (the test's) is left as it was.
#
# Runs in a network namespace of the test's own (re-executed under `unshare --net`), with
# berthd on a private bus: the host's links are never touched.
. "$(dirname "$0")/../lib/libtest.sh"

need_root
if [ -z "${BERTH_TEST_NETNS:-}" ]; then
	BERTH_TEST_NETNS=1 exec unshare --net -- "$0" "$@"
fi
ip link set lo up
. "$(dirname "$0")/../lib/berthd.sh"
leak_begin
berthd_setup

T=$SCRATCH/tree
mk_busybox_tree "$T"
check "berthd starts" start_berthd

ifindex() { ip -o link show "$1" 2>/dev/null | cut -d: -f1; }
nolink() { [ -z "$(ifindex "$1")" ]; }
BR=${P}br
ip link add "$BR" type bridge
LINKS_BEFORE=$(ip -o link | awk -F': ' '{print $2}' | sort)

bg_spawn z -D "$T" -M "$P-z" --network-bridge="$BR" --network-veth-extra="${P}x:gx" --console=pipe -- \
	/bin/sh -c 'echo started; exec sleep 300'
check "a machine with a bridge and an extra veth is registered" wait_for 10 listed "$P-z"
wait_for 5 grep -q started "$SCRATCH/z.out"
VB=$(ifindex "vb-$P-z")
VX=$(ifindex "${P}x")
check "its host ends vb-$P-z and ${P}x exist" eval '[ -n "$VB" ] && [ -n "$VX" ]'
check_eq "$(prop "$P-z" NetworkInterfaces)" "ai 2 $VB $VX" "NetworkInterfaces: the indices of both host ends"
call TerminateMachine "$P-z" >/dev/null
check "terminated" wait_for 20 dead "$SPAWN"
check "both host ends are gone with it" wait_for 5 eval 'nolink "vb-$P-z" && nolink "${P}x"'
check_eq "$(ip -o link | awk -F': ' '{print $2}' | sort)" "$LINKS_BEFORE" "the links are as before (the test's bridge stays)"
ip link del "$BR"

berthd_teardown
leak_check
[ "$_tap_failed" = 0 ] || sed 's/^/# berthd: /' "$SCRATCH/berthd.log" >&2
tap_done
