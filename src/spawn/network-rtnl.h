/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rtnetlink plumbing the network modules share: one request at a time over libmnl, link
 * lookups, dumps and deletions, and sockets opened inside another network namespace. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <linux/netlink.h>
#include <net/if.h>

/* Fixed sizes, not MNL_SOCKET_BUFFER_SIZE (a sysconf() VLA): network_loopback_up() runs in the
 * container child, possibly on a small clone() stack. Our requests are under 300 bytes; a reply
 * to a change is an ACK, or an error that echoes the request. Dumps use a heap buffer. */
#define RTNL_REQUEST_SIZE 1024
#define RTNL_REPLY_SIZE 8192

/* One rtnetlink socket and the sequence number of its last request: requests are strictly one
 * at a time, so the kernel's reply to the current one is the only thing we ever read. */
typedef struct Rtnl {
        struct mnl_socket *nl;
        unsigned seq;
} Rtnl;

/* What rtnl_link_get() and rtnl_link_dump() report of a link. */
typedef struct RtnlLink {
        int ifindex;
        int master;                  /* ifindex of its bridge, 0 if none */
        char name[IFNAMSIZ];
        char kind[16];               /* IFLA_INFO_KIND: "veth", "bridge", …; "" for hardware */
} RtnlLink;

void rtnl_done(Rtnl *rtnl);
int rtnl_open(Rtnl *ret);
/* A socket whose requests act in the network namespace NETNS_FD (the kernel binds a netlink
 * socket to the namespace it is created in): we step in, make it, and step back. */
int rtnl_open_in_netns(int netns_fd, Rtnl *ret);

/* Starts a link request in BUF (RTNL_REQUEST_SIZE bytes); the caller appends attributes. */
struct nlmsghdr *rtnl_link_request(char *buf, uint16_t type, uint16_t flags, int ifindex,
                                   unsigned ifi_flags, unsigned ifi_change);
/* Sends NLH and waits for the kernel's acknowledgement: 0, or its verdict as a negative errno. */
int rtnl_call(Rtnl *rtnl, struct nlmsghdr *nlh);

/* The link NAME (or, with NAME NULL, IFINDEX). -ENODEV if there is none. */
int rtnl_link_get(Rtnl *rtnl, const char *name, int ifindex, RtnlLink *ret);
/* Calls CB for every link whose master is MASTER (every link with MASTER 0); stops early and
 * returns what CB returned when that is not 0. */
int rtnl_link_dump(Rtnl *rtnl, int master, int (*cb)(const RtnlLink *l, void *userdata), void *userdata);
/* Deletes the link NAME. -ENODEV if there is none. */
int rtnl_link_del(Rtnl *rtnl, const char *name);
