/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The container's network over rtnetlink (libmnl): loopback in a private namespace, veth pairs,
 * interface names and the checks of the network settings. */

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
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"
#include "name-util.h"
#include "network-link.h"
#include "network-rtnl.h"
#include "network.h"
#include "strv.h"

#define VETH_HOST_PREFIX "ve-"
#define VETH_CONTAINER_IFNAME "host0"

/* A shortened host name is "ve-" + 6 characters of the machine name + "-" + 5 hex digits = 15
 * characters, the most IFNAMSIZ allows. Five digits (20 bits) rather than four: a clash only
 * makes the second container fail to start with EEXIST, but among a hundred long names that share
 * their first 6 characters, 16 bits give some clash 7% of the time, 20 bits 0.5%. */
#define SHORT_PREFIX_LEN 6
#define SHORT_HASH_DIGITS 5

int network_loopback_up(void) {
        _cleanup_(rtnl_done) Rtnl rtnl = {};
        _Alignas(struct nlmsghdr) char buf[RTNL_REQUEST_SIZE];
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

bool network_ifname_is_valid(const char *name) {
        size_t n;

        if (!name)
                return false;
        n = strlen(name);
        if (n == 0 || n >= IFNAMSIZ || streq(name, ".") || streq(name, ".."))
                return false;
        /* The kernel refuses '/', ':' and blanks; '%' would make it a pattern ("eth%d") that the
         * kernel fills in, and anything beyond printable ASCII only confuses tools and logs. */
        for (const char *c = name; *c; c++)
                if (*c <= ' ' || *c >= 0x7f || *c == '/' || *c == ':' || *c == '%')
                        return false;
        return true;
}

int network_ifname_shorten(const char *prefix, const char *name, char **ret) {
        char *n;
        int k;

        if (strlen(prefix) + strlen(name) < IFNAMSIZ)
                k = asprintf(&n, "%s%s", prefix, name);
        else
                k = asprintf(&n, "%s%.*s-%0*x", prefix, SHORT_PREFIX_LEN, name, SHORT_HASH_DIGITS,
                             fnv1a32(name) & ((1u << (4 * SHORT_HASH_DIGITS)) - 1));
        if (k < 0)
                return -ENOMEM;
        if (!network_ifname_is_valid(n)) {
                free(n);
                return -EINVAL;
        }
        *ret = n;
        return 0;
}

int network_veth_host_name(const char *machine, char **ret) {
        /* A valid machine name has only letters, digits, '-' and '.', so the result has no '/',
         * ':' or whitespace, and with its prefix it is never "." or "..". Dots are kept, not
         * replaced: nspawn keeps them too, so "ve-*" rules and scripts written for nspawn's
         * names see the same names from berth. */
        if (!machine_name_is_valid(machine))
                return -EINVAL;
        return network_ifname_shorten(VETH_HOST_PREFIX, machine, ret);
}

int network_ifname_pair_parse(const char *spec, char **ret_first, char **ret_second) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        const char *colon;

        if (!spec)
                return -EINVAL;
        colon = strchr(spec, ':');
        a = colon ? strndup(spec, (size_t) (colon - spec)) : strdup(spec);
        if (!a)
                return -ENOMEM;
        if (colon) {
                b = strdup(colon + 1);
                if (!b)
                        return -ENOMEM;
        }
        if (!network_ifname_is_valid(a) || (b && !network_ifname_is_valid(b)))
                return -EINVAL;
        *ret_first = TAKE_PTR(a);
        *ret_second = TAKE_PTR(b);
        return 0;
}

bool network_is_private(const Settings *s) {
        return s->private_network || s->network_veth || s->network_bridge || s->network_zone ||
               s->network_interfaces || s->network_macvlan || s->network_ipvlan ||
               s->network_veth_extra;
}

/* Every list entry is "IF[:NAME]" (or "HOST[:GUEST]") with valid names. */
static int check_pairs(char **l, const char *option) {
        STRV_FOREACH(e, l) {
                _cleanup_free_ char *a = NULL, *b = NULL;
                int r = network_ifname_pair_parse(*e, &a, &b);

                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0)
                        return log_error_errno(r, "Invalid %s=%s: expected one or two interface names "
                                               "(at most %d characters each, no '/', ':', '%%' or blanks).",
                                               option, *e, IFNAMSIZ - 1);
        }
        return 0;
}

int network_settings_check(const Settings *s) {
        int r;

        /* nspawn's rule: a namespace that exists already is not ours to add links to. */
        if (s->network_namespace_path &&
            (s->network_veth || s->network_bridge || s->network_zone || s->network_interfaces ||
             s->network_macvlan || s->network_ipvlan || s->network_veth_extra))
                return log_error_errno(-EINVAL, "--network-namespace-path= cannot be combined with other "
                                       "network options.");
        if (s->network_bridge && s->network_zone)
                return log_error_errno(-EINVAL, "--network-bridge= and --network-zone= may not be combined.");
        if (s->network_veth_name && !network_ifname_is_valid(s->network_veth_name))
                return log_error_errno(-EINVAL, "Invalid --network-veth= name '%s': at most %d characters, "
                                       "no '/', ':', '%%' or blanks.", s->network_veth_name, IFNAMSIZ - 1);
        if (s->network_bridge && !network_ifname_is_valid(s->network_bridge))
                return log_error_errno(-EINVAL, "Invalid bridge name '%s'.", s->network_bridge);
        if (s->network_zone) {
                _cleanup_free_ char *z = NULL;

                if (strlen(NETWORK_ZONE_PREFIX) + strlen(s->network_zone) >= IFNAMSIZ ||
                    network_ifname_shorten(NETWORK_ZONE_PREFIX, s->network_zone, &z) < 0)
                        return log_error_errno(-EINVAL, "Invalid zone name '%s': the bridge " NETWORK_ZONE_PREFIX
                                               "%s must be a valid interface name of at most %d characters.",
                                               s->network_zone, s->network_zone, IFNAMSIZ - 1);
        }
        r = check_pairs(s->network_interfaces, "--network-interface");
        if (r >= 0)
                r = check_pairs(s->network_macvlan, "--network-macvlan");
        if (r >= 0)
                r = check_pairs(s->network_ipvlan, "--network-ipvlan");
        if (r >= 0)
                r = check_pairs(s->network_veth_extra, "--network-veth-extra");
        return r;
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

int network_veth_add(Rtnl *rtnl, const VethRequest *v) {
        _Alignas(struct nlmsghdr) char buf[RTNL_REQUEST_SIZE];
        struct nlattr *linkinfo, *data, *peer;
        struct ifinfomsg *peer_ifi;
        struct nlmsghdr *nlh;

        /* NLM_F_EXCL: an existing link of that name must fail, never be reconfigured. IFF_UP in
         * the request brings the host end up as it is created. */
        nlh = rtnl_link_request(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0, IFF_UP, IFF_UP);
        mnl_attr_put_strz(nlh, IFLA_IFNAME, v->host_ifname);
        /* Enslaved as it is created: the kernel undoes the whole link if that fails, and no
         * moment exists in which the bridge's member is loose on the host. */
        if (v->master > 0)
                mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t) v->master);

        linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
        data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
        peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
        /* The peer's payload is a struct ifinfomsg of its own followed by its attributes;
         * put_extra_header appends zeroed, aligned bytes at the tail, inside the open nest. */
        peer_ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*peer_ifi));
        peer_ifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, v->peer_ifname);
        /* Created directly in the container's namespace: no rename, and the guest's name never
         * exists on the host, not even for a moment. */
        if (v->netns_fd >= 0)
                mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t) v->netns_fd);
        else
                mnl_attr_put_u32(nlh, IFLA_NET_NS_PID, (uint32_t) v->pid);
        mnl_attr_nest_end(nlh, peer);
        mnl_attr_nest_end(nlh, data);
        mnl_attr_nest_end(nlh, linkinfo);

        return rtnl_call(rtnl, nlh);
}

void network_link_add_altname(Rtnl *rtnl, int ifindex, const char *alt) {
        _Alignas(struct nlmsghdr) char buf[RTNL_REQUEST_SIZE];
        struct nlmsghdr *nlh;
        struct nlattr *list;
        int r;

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
        r = network_veth_add(&rtnl, &(VethRequest) {
                .host_ifname = host,
                .peer_ifname = VETH_CONTAINER_IFNAME,
                .pid = pid,
                .netns_fd = -EBADF,
        });
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
                (void) rtnl_link_del(&rtnl, host);
                return log_error_errno(r, "Failed to look up the index of %s: %m", host);
        }

        if (strlen(VETH_HOST_PREFIX) + strlen(machine) >= IFNAMSIZ) {
                _cleanup_free_ char *alt = NULL;

                if (asprintf(&alt, VETH_HOST_PREFIX "%s", machine) >= 0)
                        network_link_add_altname(&rtnl, (int) ifindex, alt);
        }

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

        r = rtnl_link_del(&rtnl, host_ifname);
        if (r == -ENODEV)
                return 0;
        if (r < 0)
                return log_error_errno(r, "Failed to remove network interface %s: %m", host_ifname);
        return 1;
}
