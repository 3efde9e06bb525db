/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The container's network over rtnetlink (libmnl): loopback in a private namespace, veth pairs. */

#include <errno.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <libmnl/libmnl.h>

#include "log.h"
#include "macro.h"
#include "name-util.h"
#include "network.h"

#define VETH_HOST_PREFIX "ve-"
#define VETH_CONTAINER_IFNAME "host0"

/* A shortened host name is "ve-" + 6 characters of the machine name + "-" + 5 hex digits = 15
 * characters, the most IFNAMSIZ allows. Five digits (20 bits) rather than four: a clash only
 * makes the second container fail to start with EEXIST, but among a hundred long names that share
 * their first 6 characters, 16 bits give some clash 7% of the time, 20 bits 0.5%. */
#define SHORT_PREFIX_LEN 6
#define SHORT_HASH_DIGITS 5

/* Fixed sizes, not MNL_SOCKET_BUFFER_SIZE (a sysconf() VLA): network_loopback_up() runs in the
 * container child, possibly on a small clone() stack. Our requests are under 200 bytes; a reply
 * is an ACK, or an error that echoes the request. */
#define REQUEST_SIZE 1024
#define REPLY_SIZE 8192

/* One rtnetlink socket and the sequence number of its last request: requests are strictly one
 * at a time, so the kernel's reply to the current one is the only thing we ever read. */
typedef struct Rtnl {
        struct mnl_socket *nl;
        unsigned seq;
} Rtnl;

static void rtnl_done(Rtnl *rtnl) {
        if (rtnl->nl)
                mnl_socket_close(rtnl->nl);
        rtnl->nl = NULL;
}

static int rtnl_open(Rtnl *ret) {
        struct mnl_socket *nl;

        nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!nl)
                return negative_errno();
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                int r = negative_errno();

                mnl_socket_close(nl);
                return r;
        }
        *ret = (Rtnl) { .nl = nl };
        return 0;
}

/* Starts a link request in BUF (REQUEST_SIZE bytes); the caller appends attributes. */
static struct nlmsghdr *rtnl_link_request(char *buf, uint16_t type, uint16_t flags, int ifindex,
                                          unsigned ifi_flags, unsigned ifi_change) {
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;

        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        ifi->ifi_flags = ifi_flags;
        ifi->ifi_change = ifi_change;
        return nlh;
}

/* Sends NLH and waits for the kernel's acknowledgement: 0, or its verdict as a negative errno. */
static int rtnl_call(Rtnl *rtnl, struct nlmsghdr *nlh) {
        _Alignas(struct nlmsghdr) char buf[REPLY_SIZE];
        unsigned portid = mnl_socket_get_portid(rtnl->nl);

        nlh->nlmsg_seq = ++rtnl->seq;
        if (mnl_socket_sendto(rtnl->nl, nlh, nlh->nlmsg_len) < 0)
                return negative_errno();

        for (;;) {
                ssize_t n;
                int r;

                n = mnl_socket_recvfrom(rtnl->nl, buf, sizeof(buf));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                /* With no callbacks, an error message sets errno and yields MNL_CB_ERROR, an ACK
                 * (an error message carrying 0) yields MNL_CB_STOP. */
                r = mnl_cb_run(buf, (size_t) n, rtnl->seq, portid, NULL, NULL);
                if (r == MNL_CB_ERROR)
                        return negative_errno();
                if (r == MNL_CB_STOP)
                        return 0;
        }
}

int network_loopback_up(void) {
        _cleanup_(rtnl_done) Rtnl rtnl = {};
        _Alignas(struct nlmsghdr) char buf[REQUEST_SIZE];
        struct nlmsghdr *nlh;
        int r;

        r = rtnl_open(&rtnl);
        if (r < 0)
                return log_error_errno(r, "Failed to open rtnetlink socket: %m");

        /* By name, not by index 1: the kernel resolves "lo" in the namespace we are in, so this
         * does not depend on how a kernel numbers its loopback device. */
        nlh = rtnl_link_request(buf, RTM_NEWLINK, 0, 0, IFF_UP, IFF_UP);
        mnl_attr_put_strz(nlh, IFLA_IFNAME, "lo");

        r = rtnl_call(&rtnl, nlh);
        if (r < 0)
                return log_error_errno(r, "Failed to bring up the loopback interface: %m");
        return 0;
}

/* FNV-1a (32 bit): tiny and fully specified, so the shortened name of a machine never changes
 * between builds, architectures or berth versions (cleanup scripts may compute it). */
static uint32_t fnv1a32(const char *s) {
        uint32_t h = 2166136261u;

        for (; *s; s++) {
                h ^= (uint8_t) *s;
                h *= 16777619u;
        }
        return h;
}

int network_veth_host_name(const char *machine, char **ret) {
        char *n;
        int k;

        /* A valid machine name has only letters, digits, '-' and '.', so the result has no '/',
         * ':' or whitespace, and with its prefix it is never "." or "..". Dots are kept, not
         * replaced: nspawn keeps them too, so "ve-*" rules and scripts written for nspawn's
         * names see the same names from berth. */
        if (!machine_name_is_valid(machine))
                return -EINVAL;

        if (strlen(VETH_HOST_PREFIX) + strlen(machine) < IFNAMSIZ)
                k = asprintf(&n, VETH_HOST_PREFIX "%s", machine);
        else
                k = asprintf(&n, VETH_HOST_PREFIX "%.*s-%0*x", SHORT_PREFIX_LEN, machine,
                             SHORT_HASH_DIGITS,
                             fnv1a32(machine) & ((1u << (4 * SHORT_HASH_DIGITS)) - 1));
        if (k < 0)
                return -ENOMEM;

        *ret = n;
        return 0;
}

/* A veth whose peer sits in our own namespace would put "host0" on the host: a caller's bug
 * (the container was not given CLONE_NEWNET) that must not touch the host's interfaces. */
static int check_foreign_netns(pid_t pid) {
        char path[64];
        struct stat self, other;

        if (stat("/proc/self/ns/net", &self) < 0)
                return negative_errno();
        (void) snprintf(path, sizeof(path), "/proc/%d/ns/net", (int) pid);
        if (stat(path, &other) < 0)
                return errno == ENOENT ? -ESRCH : negative_errno();
        if (self.st_dev == other.st_dev && self.st_ino == other.st_ino)
                return -EINVAL;
        return 0;
}

static int veth_add(Rtnl *rtnl, const char *host_ifname, pid_t pid) {
        _Alignas(struct nlmsghdr) char buf[REQUEST_SIZE];
        struct nlattr *linkinfo, *data, *peer;
        struct ifinfomsg *peer_ifi;
        struct nlmsghdr *nlh;

        /* NLM_F_EXCL: an existing link of that name must fail, never be reconfigured. IFF_UP in
         * the request brings the host end up as it is created. */
        nlh = rtnl_link_request(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0, IFF_UP, IFF_UP);
        mnl_attr_put_strz(nlh, IFLA_IFNAME, host_ifname);

        linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
        data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
        peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
        /* The peer's payload is a struct ifinfomsg of its own followed by its attributes;
         * put_extra_header appends zeroed, aligned bytes at the tail, inside the open nest. */
        peer_ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*peer_ifi));
        peer_ifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, VETH_CONTAINER_IFNAME);
        /* Created directly in the container's namespace: no rename, and "host0" never exists on
         * the host, not even for a moment. */
        mnl_attr_put_u32(nlh, IFLA_NET_NS_PID, (uint32_t) pid);
        mnl_attr_nest_end(nlh, peer);
        mnl_attr_nest_end(nlh, data);
        mnl_attr_nest_end(nlh, linkinfo);

        return rtnl_call(rtnl, nlh);
}

/* Gives a shortened host link its full name "ve-MACHINE" as an alternative name (Linux ≥ 5.5),
 * so `ip link show ve-MACHINE` finds it. Best effort: the link works without it. */
static void veth_add_altname(Rtnl *rtnl, int ifindex, const char *machine) {
        _Alignas(struct nlmsghdr) char buf[REQUEST_SIZE];
        _cleanup_free_ char *alt = NULL;
        struct nlmsghdr *nlh;
        struct nlattr *list;
        int r;

        if (asprintf(&alt, VETH_HOST_PREFIX "%s", machine) < 0)
                return;

        nlh = rtnl_link_request(buf, RTM_NEWLINKPROP, NLM_F_CREATE | NLM_F_EXCL | NLM_F_APPEND,
                                ifindex, 0, 0);
        list = mnl_attr_nest_start(nlh, IFLA_PROP_LIST);
        mnl_attr_put_strz(nlh, IFLA_ALT_IFNAME, alt);
        mnl_attr_nest_end(nlh, list);

        r = rtnl_call(rtnl, nlh);
        if (r < 0)
                log_debug_errno(r, "Failed to add alternative name %s to link %d, ignoring: %m",
                                alt, ifindex);
}

static int veth_del(Rtnl *rtnl, const char *host_ifname) {
        _Alignas(struct nlmsghdr) char buf[REQUEST_SIZE];
        struct nlmsghdr *nlh;

        nlh = rtnl_link_request(buf, RTM_DELLINK, 0, 0, 0, 0);
        mnl_attr_put_strz(nlh, IFLA_IFNAME, host_ifname);
        return rtnl_call(rtnl, nlh);
}

int network_veth_create(const char *machine, pid_t pid, char **ret_host_ifname) {
        _cleanup_(rtnl_done) Rtnl rtnl = {};
        _cleanup_free_ char *host = NULL;
        unsigned ifindex;
        int r;

        if (pid <= 0)
                return log_error_errno(-EINVAL, "Invalid container PID %d.", (int) pid);
        r = network_veth_host_name(machine, &host);
        if (r < 0)
                return log_error_errno(r, "Cannot name a network interface after machine '%s': %m",
                                       strempty(machine));

        r = check_foreign_netns(pid);
        if (r == -EINVAL)
                return log_error_errno(r, "Process %d is in our own network namespace, refusing to "
                                       "create a veth pair into it.", (int) pid);
        if (r < 0)
                return log_error_errno(r, "Failed to find the network namespace of process %d: %m",
                                       (int) pid);

        r = rtnl_open(&rtnl);
        if (r < 0)
                return log_error_errno(r, "Failed to open rtnetlink socket: %m");

        /* EEXIST is never "cleaned up" by deleting the old link: a veth lives exactly as long as
         * the namespace of its other end (the kernel deletes the pair when that namespace dies),
         * so a link of this name belongs to a container that is still running, or to a
         * namespace someone still holds. Removing it would cut that container off. */
        r = veth_add(&rtnl, host, pid);
        if (r == -EEXIST)
                return log_error_errno(r, "Network interface %s already exists: is another container "
                                       "named '%s' running?", host, machine);
        if (r < 0)
                return log_error_errno(r, "Failed to create veth pair %s/" VETH_CONTAINER_IFNAME ": %m",
                                       host);

        /* The name was ours a moment ago and nothing else renames fresh veths, so a lookup by
         * name is not a race worth an RTM_GETLINK round trip. */
        ifindex = if_nametoindex(host);
        if (ifindex == 0) {
                r = negative_errno();
                (void) veth_del(&rtnl, host);
                return log_error_errno(r, "Failed to look up the index of %s: %m", host);
        }

        if (strlen(VETH_HOST_PREFIX) + strlen(machine) >= IFNAMSIZ)
                veth_add_altname(&rtnl, (int) ifindex, machine);

        log_debug("Created veth pair %s (index %u) / " VETH_CONTAINER_IFNAME " in the namespace of PID %d.",
                  host, ifindex, (int) pid);
        if (ret_host_ifname)
                *ret_host_ifname = TAKE_PTR(host);
        return (int) ifindex;
}

int network_veth_remove(const char *host_ifname) {
        _cleanup_(rtnl_done) Rtnl rtnl = {};
        int r;

        if (isempty(host_ifname) || strlen(host_ifname) >= IFNAMSIZ)
                return -EINVAL;

        r = rtnl_open(&rtnl);
        if (r < 0)
                return log_error_errno(r, "Failed to open rtnetlink socket: %m");

        r = veth_del(&rtnl, host_ifname);
        if (r == -ENODEV)
                return 0;
        if (r < 0)
                return log_error_errno(r, "Failed to remove network interface %s: %m", host_ifname);
        return 1;
}
