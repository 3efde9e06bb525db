/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A userspace relay from [::1]:HOST (and 127.0.0.1:HOST when the kernel path is closed) to the
 * container, for what nftables cannot do.
 *
 * Why a relay: Linux cannot DNAT a connection to ::1 out of loopback. Tried on Linux 6.18 in a
 * test namespace (tests/integration/test-network-ports.sh keeps checking it): with an output-hook
 * "dnat ip6 to [fd99::2]:80" and a postrouting masquerade, the SYN leaves with the masqueraded
 * source, but the container's answer, translated back to destination ::1 on arrival, is dropped
 * as "no route" (Ip6InNoRoutes): IPv6 refuses ::1 on any link but lo, and has no
 * route_localnet to relax that. IPv4's 127.0.0.1 has that knob and goes through the kernel, but
 * only where berth may turn it on: on the machine's own veth (it dies with the machine, which
 * dies with its supervisor). A bridge is shared: route_localnet on it would outlive the table
 * whose guard rule makes it safe, and let other members reach the host's 127.0.0.0/8; so for
 * --network-bridge= and --network-zone= 127.0.0.1 is relayed too. */
#pragma once

#include <netinet/in.h>

#include "event-loop.h"
#include "settings.h"

typedef struct PortProxy PortProxy;

/* Listens on [::1]:P->host_port (FAMILY AF_INET6) or 127.0.0.1:P->host_port (AF_INET), TCP or
 * UDP as P says, on the host and relays each connection (TCP) or each client's datagrams (UDP)
 * to the container's port P->container_port at the target address. Sets *RET to NULL, with a
 * warning, when the port cannot be bound (it is taken, or the host has no IPv6): the other paths
 * still work. P must outlive the proxy. */
int port_proxy_new(EventLoop *loop, const PortForward *p, int family, PortProxy **ret);

/* The container's addresses (either may be NULL); the one of the listener's family is preferred.
 * New connections go there; running ones stay where they are. Without any, new connections are
 * refused. */
void port_proxy_set_target(PortProxy *x, const struct in_addr *a4, const struct in6_addr *a6);

PortProxy *port_proxy_free(PortProxy *x);
