/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The links of one running container: its veth (alone, in a bridge or in a zone), extra veths,
 * macvlans, ipvlans and host interfaces moved in, made at start and undone at exit. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "network-rtnl.h"
#include "settings.h"

#define NETWORK_ZONE_PREFIX "vz-"

typedef struct MovedLink {
        char *host_ifname;       /* its name on the host, which it gets back */
        int inner_ifindex;       /* its index inside the container's namespace */
} MovedLink;

/* Everything network_links_setup() made, so that network_links_done() undoes exactly that,
 * however far the setup got. */
typedef struct NetworkLinks {
        int host_netns_fd;       /* our own namespace: where moved interfaces return */
        int container_netns_fd;  /* held so that the namespace, and what we moved into it, outlives
                                  * the container's processes until the interfaces are back */
        char **host_links;       /* host ends of our veths: deleted at exit */
        int *ifindices;          /* their indices, for berthd's NetworkInterfaces */
        size_t n_ifindices;
        MovedLink *moved;
        size_t n_moved;
        char *zone;              /* a zone we joined: its bridge goes with its last member */
} NetworkLinks;

#define NETWORK_LINKS_INIT { .host_netns_fd = -EBADF, .container_netns_fd = -EBADF }

/* Host side, with PID the container's PID 1 in its own (new) network namespace, before the
 * payload runs. Makes the links the settings ask for. Logs; on failure what was made so far
 * stays recorded in N for network_links_done(). */
int network_links_setup(NetworkLinks *n, const Settings *s, pid_t pid);

/* Once the container is dead (or never ran): moves the interfaces back under their host names,
 * deletes the veths we made, lets go of the namespace (which takes the macvlans, ipvlans and
 * guest ends with it), and removes the zone's bridge if we were its last member. Logs what it
 * cannot undo. Safe on an initialised, never set up N. */
void network_links_done(NetworkLinks *n);

/* --network-namespace-path=: opens PATH and checks that it is a network namespace. Logs. */
int network_namespace_open(const char *path);
/* Switches this process's network namespace to NETNS_FD for a clone(), returning our own in
 * *RET_OWN; network_netns_leave() switches back (and must succeed, or we would go on acting in
 * the wrong namespace: the caller treats a failure as fatal). */
int network_netns_enter(int netns_fd, int *ret_own);
int network_netns_leave(int *own);

/* Internal to the network modules. */
typedef struct VethRequest {
        const char *host_ifname;
        const char *peer_ifname;
        pid_t pid;               /* the peer's namespace: NETNS_FD if >= 0, else PID's */
        int netns_fd;
        int master;              /* bridge to enslave the host end to, or 0 */
} VethRequest;
int network_veth_add(Rtnl *rtnl, const VethRequest *v);
void network_link_add_altname(Rtnl *rtnl, int ifindex, const char *alt);

/* network-zone.c: zone bridges, serialised by a lock file per zone under /run/berth/network.
 * network_zone_lock() takes the lock (returns its fd); network_zone_bridge() under it returns
 * the index of vz-ZONE, creating it (up) if needed; network_zone_cleanup() takes the lock and
 * removes vz-ZONE if it is a bridge without ports. All log. */
int network_zone_lock(const char *zone);
int network_zone_bridge(Rtnl *rtnl, const char *zone);
int network_zone_cleanup(const char *zone);
/* The index of the existing bridge NAME; -ENODEV if missing, -ENOTTY if not a bridge. Logs. */
int network_bridge_find(Rtnl *rtnl, const char *name);
