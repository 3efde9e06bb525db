/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Port forwarding (-p/--port): DNAT rules in a per-machine nftables table the kernel drops with
 * the supervisor, rewritten as the container's addresses come and go, plus a userspace relay
 * for [::1] (which IPv6 cannot DNAT out of loopback). */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "event-loop.h"
#include "settings.h"

/* Parses "[tcp|udp:]HOST[:CONTAINER]" (nspawn's syntax; CONTAINER defaults to HOST) into RET.
 * -EINVAL for an unknown protocol, a port that is not 1…65535, or anything else malformed.
 * Does not log. */
int port_forward_parse(const char *spec, PortForward *ret);

/* Parses SPEC and appends it to S->ports. -EEXIST if S already forwards that protocol's HOST
 * port (two rules for one port would silently shadow each other), -EINVAL as above. Does not
 * log. */
int settings_add_port(Settings *s, const char *spec);

/* "tcp:8080:80": the canonical spelling, for messages and tests. BUF must hold 20 bytes. */
const char *port_forward_to_string(const PortForward *p, char buf[static 20]);

typedef struct PortForwarder PortForwarder;

/* Starts forwarding S->ports to the container whose network namespace PID is in: creates the
 * owner-flagged table "inet berth-MACHINE" (so the kernel removes it when this process dies,
 * however it dies), watches the container's addresses through rtnetlink on LOOP and rewrites
 * the rules when its first global IPv4 or IPv6 address changes; relays [::1] (port-proxy.h).
 * HOST_IFNAME is the machine's own veth, the only kind of link on which it turns on
 * route_localnet, which 127.0.0.1 → container needs in the kernel; NULL (a shared bridge) has
 * 127.0.0.1 relayed too. Must run after the last fork of the supervisor. Logs its failures. */
int port_forwarder_new(EventLoop *loop, const Settings *s, pid_t pid, const char *host_ifname,
                       PortForwarder **ret);
PortForwarder *port_forwarder_free(PortForwarder *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(PortForwarder *, port_forwarder_free);
