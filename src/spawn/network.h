/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The container's network: loopback in a private namespace, veth pairs, interface names, and
 * the checks of the network settings, over rtnetlink (libmnl). The links of a running container
 * (bridges, zones, moved interfaces, macvlans) are network-link.h's. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "settings.h"

/* network_loopback_up(), network_veth_create() and network_veth_remove() log their failures
 * themselves (with the interface names, which only they know) and return the negative errno:
 * callers just propagate r. network_veth_host_name() does not log. */

/* In the container's network namespace (called from inside it, before CAP_NET_ADMIN is dropped):
 * brings "lo" up. Returns 0. */
int network_loopback_up(void);

/* Host side: makes a veth pair whose host end is named network_veth_host_name(MACHINE) and is
 * brought up, and whose other end is created directly inside the network namespace of PID,
 * named "host0" and left DOWN: as with nspawn, the container's own network manager configures
 * it (bringing it up from here would mean entering the container's namespace for a choice that
 * belongs to the guest). When the name had to be shortened, the host end also gets the
 * alternative name "ve-MACHINE" (best effort).
 * Returns the host end's ifindex (> 0) and, if ret_host_ifname is not NULL, its name.
 * -EEXIST: a link of that name exists. It is never removed: a veth dies with the namespace of
 * its other end, so it belongs to a running container (or a namespace someone still holds).
 * -EINVAL: MACHINE is not a valid machine name, or PID is in our own network namespace.
 * -ESRCH: no process PID. */
int network_veth_create(const char *machine, pid_t pid, char **ret_host_ifname);

/* Removes the host end (which takes the container end with it). Returns 1 if it removed the
 * link, 0 if there was none (already gone, e.g. the kernel removed the pair with the container's
 * namespace). The kernel does that on its own when the container dies, so this only makes the
 * removal immediate rather than asynchronous. */
int network_veth_remove(const char *host_ifname);

/* The host-side name network_veth_create() uses for MACHINE (for tests and cleanup): "ve-MACHINE"
 * when that fits in IFNAMSIZ-1 (15) characters, else "ve-" + the first 6 characters + "-" + 5 hex
 * digits of the FNV-1a-32 hash of the whole name (a stable contract: never change the hash), so
 * that two long names with a common prefix still differ. -EINVAL if MACHINE is not a valid
 * machine name. */
int network_veth_host_name(const char *machine, char **ret);

/* The kernel's rules for an interface name (1..15 bytes, not "." or "..", no '/', ':' or
 * whitespace), and no '%' (a pattern the kernel would fill in) or non-ASCII bytes. */
bool network_ifname_is_valid(const char *name);

/* PREFIX + NAME when that fits in 15 characters, else PREFIX + the first 6 characters of NAME +
 * "-" + 5 hex digits of its FNV-1a-32 hash (network_veth_host_name()'s rule, for any 3-character
 * prefix: "vb-", "mv-", "iv-"). -EINVAL if the result is not a valid interface name. */
int network_ifname_shorten(const char *prefix, const char *name, char **ret);

/* Splits "A" or "A:B" (--network-interface=IF[:NAME], --network-veth-extra=HOST[:GUEST]) into
 * two valid interface names; *RET_SECOND is NULL without ":B". -EINVAL on a bad name. */
int network_ifname_pair_parse(const char *spec, char **ret_first, char **ret_second);

/* Whether the container's network namespace is its own: it then keeps CAP_NET_ADMIN. It is
 * created at clone time unless --network-namespace-path= names one to join. */
bool network_is_private(const Settings *s);

/* The combinations and names nspawn refuses, refused the same way, before anything is set up.
 * Logs. */
int network_settings_check(const Settings *s);
