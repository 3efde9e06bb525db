/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The links of one running container, made at start and undone at exit: its veth (alone, in a
 * bridge or in a zone), extra veths, macvlans, ipvlans, and host interfaces moved in and back.
 *
 * What survives a SIGKILL of berth-spawn itself: nothing of ours can run then. The veths go
 * with the container's namespace when its last process dies (systemd stopping the scope, or
 * berthd's cgroup backend, kills them). An interface moved in goes where the kernel sends a
 * device of a dying namespace: a physical one back to the initial namespace (under its name,
 * or "devN" if that is taken), a virtual one (veth end, dummy) is destroyed with it. A zone's
 * bridge is left empty until the zone's next member starts or stops (network-zone.c). */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/if_link.h>
#include <linux/nsfs.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "log.h"
#include "macro.h"
#include "name-util.h"
#include "network-link.h"
#include "network.h"
#include "strv.h"

#define VETH_CONTAINER_IFNAME "host0"

/* nspawn's modes: a macvlan talks to its siblings on the same parent like a bridge would, an
 * ipvlan shares the parent's MAC address at layer 2. */
#define MACVLAN_MODE MACVLAN_MODE_BRIDGE
#define IPVLAN_MODE IPVLAN_MODE_L2

int network_namespace_open(const char *path) {
        _cleanup_close_ int fd = -EBADF;
        int t;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return log_error_errno(negative_errno(), "Failed to open network namespace %s: %m", path);
        t = ioctl(fd, NS_GET_NSTYPE);
        if (t < 0 || t != CLONE_NEWNET)
                return log_error_errno(-EINVAL, "%s is not a network namespace.", path);
        return TAKE_FD(fd);
}

int network_netns_enter(int netns_fd, int *ret_own) {
        _cleanup_close_ int own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);

        if (own < 0)
                return negative_errno();
        if (setns(netns_fd, CLONE_NEWNET) < 0)
                return negative_errno();
        *ret_own = TAKE_FD(own);
        return 0;
}

int network_netns_leave(int *own) {
        int r = 0;

        if (*own < 0)
                return 0;
        if (setns(*own, CLONE_NEWNET) < 0)
                r = negative_errno();
        *own = safe_close(*own);
        return r;
}

static int record_host_link(NetworkLinks *n, const char *name, int ifindex) {
        int *a;

        a = realloc(n->ifindices, (n->n_ifindices + 1) * sizeof(int));
        if (!a)
                return log_oom();
        n->ifindices = a;
        if (strv_extend(&n->host_links, name) < 0)
                return log_oom();
        n->ifindices[n->n_ifindices++] = ifindex;
        return 0;
}

/* A veth HOST / GUEST with GUEST made directly in the container; HOST up (in MASTER if > 0). */
static int add_veth(NetworkLinks *n, Rtnl *rtnl, const char *host, const char *guest, int master,
                    const char *altname) {
        RtnlLink l;
        int r;

        r = network_veth_add(rtnl, &(VethRequest) {
                .host_ifname = host,
                .peer_ifname = guest,
                .netns_fd = n->container_netns_fd,
                .master = master,
        });
        if (r == -EEXIST)
                return log_error_errno(r, "Network interface %s already exists on the host (or %s in the "
                                       "container): choose another name, or is this machine running?",
                                       host, guest);
        if (r < 0)
                return log_error_errno(r, "Failed to create veth pair %s/%s: %m", host, guest);
        r = rtnl_link_get(rtnl, host, 0, &l);
        if (r < 0) {
                (void) rtnl_link_del(rtnl, host);
                return log_error_errno(r, "Failed to look up the index of %s: %m", host);
        }
        r = record_host_link(n, host, l.ifindex);
        if (r < 0) {
                (void) rtnl_link_del(rtnl, host);
                return r;
        }
        if (altname)
                network_link_add_altname(rtnl, l.ifindex, altname);
        log_debug("Created veth pair %s (index %d) / %s in the container.", host, l.ifindex, guest);
        return 0;
}

/* The main veth: ve-NAME (or the chosen name) alone, vb-NAME in a bridge or a zone. */
static int setup_main_veth(NetworkLinks *n, Rtnl *rtnl, const Settings *s) {
        const char *prefix = s->network_bridge || s->network_zone ? "vb-" : "ve-";
        _cleanup_free_ char *host = NULL, *alt = NULL;
        _cleanup_close_ int lock = -EBADF;
        int master = 0, r;

        if (s->network_veth_name) {
                host = strdup(s->network_veth_name);
                if (!host)
                        return log_oom();
        } else {
                if (!machine_name_is_valid(s->machine))
                        return log_error_errno(-EINVAL, "Cannot name a network interface after machine '%s'.",
                                               strempty(s->machine));
                r = network_ifname_shorten(prefix, s->machine, &host);
                if (r < 0)
                        return log_error_errno(r, "Cannot name a network interface after machine '%s': %m",
                                               s->machine);
                /* A shortened name also gets the full one as an alternative name. */
                if (strlen(prefix) + strlen(s->machine) >= IFNAMSIZ &&
                    asprintf(&alt, "%s%s", prefix, s->machine) < 0)
                        return log_oom();
        }

        if (s->network_bridge) {
                master = network_bridge_find(rtnl, s->network_bridge);
                if (master < 0)
                        return master;
        } else if (s->network_zone) {
                /* Held from finding (or making) the bridge until our port is in it: a member
                 * stopping meanwhile must not see the bridge empty and delete it. */
                lock = network_zone_lock(s->network_zone);
                if (lock < 0)
                        return lock;
                n->zone = strdup(s->network_zone);
                if (!n->zone)
                        return log_oom();
                master = network_zone_bridge(rtnl, s->network_zone);
                if (master < 0)
                        return master;
        }
        return add_veth(n, rtnl, host, VETH_CONTAINER_IFNAME, master, alt);
}

static int setup_veth_extra(NetworkLinks *n, Rtnl *rtnl, const char *spec) {
        _cleanup_free_ char *host = NULL, *guest = NULL;
        int r;

        r = network_ifname_pair_parse(spec, &host, &guest);
        if (r < 0)
                return log_error_errno(r, "Invalid --network-veth-extra=%s.", spec);
        return add_veth(n, rtnl, host, guest ?: host, 0, NULL);
}

/* A macvlan or ipvlan on the host link PARENT, made directly inside the container. */
static int setup_vlan(NetworkLinks *n, Rtnl *rtnl, const char *spec, bool ipvlan) {
        _Alignas(struct nlmsghdr) char buf[RTNL_REQUEST_SIZE];
        _cleanup_free_ char *parent = NULL, *name = NULL, *inner = NULL;
        const char *kind = ipvlan ? "ipvlan" : "macvlan";
        struct nlattr *linkinfo, *data;
        struct nlmsghdr *nlh;
        RtnlLink l;
        int r;

        r = network_ifname_pair_parse(spec, &parent, &name);
        if (r < 0)
                return log_error_errno(r, "Invalid --network-%s=%s.", kind, spec);
        if (!name) {
                r = network_ifname_shorten(ipvlan ? "iv-" : "mv-", parent, &inner);
                if (r < 0)
                        return log_error_errno(r, "Cannot name a %s after %s: %m", kind, parent);
        }
        r = rtnl_link_get(rtnl, parent, 0, &l);
        if (r == -ENODEV)
                return log_error_errno(r, "Network interface %s does not exist, cannot add a %s on it.",
                                       parent, kind);
        if (r < 0)
                return log_error_errno(r, "Failed to look up network interface %s: %m", parent);

        nlh = rtnl_link_request(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0, 0, 0);
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name ?: inner);
        mnl_attr_put_u32(nlh, IFLA_LINK, (uint32_t) l.ifindex);
        mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t) n->container_netns_fd);
        linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
        data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
        if (ipvlan)
                mnl_attr_put_u16(nlh, IFLA_IPVLAN_MODE, IPVLAN_MODE);
        else
                mnl_attr_put_u32(nlh, IFLA_MACVLAN_MODE, MACVLAN_MODE);
        mnl_attr_nest_end(nlh, data);
        mnl_attr_nest_end(nlh, linkinfo);

        r = rtnl_call(rtnl, nlh);
        if (r == -EOPNOTSUPP)
                return log_error_errno(r, "Failed to create %s %s on %s: this kernel has no %s support.",
                                       kind, name ?: inner, parent, kind);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s %s on %s: %m", kind, name ?: inner, parent);
        /* It lives in the container's namespace only, and dies with it: nothing to record. */
        log_debug("Created %s %s on %s in the container.", kind, name ?: inner, parent);
        return 0;
}

/* Moves the link with index IFINDEX from RTNL's namespace into NETNS_FD's, named NAME there
 * (NULL: keep its name). */
static int link_move(Rtnl *rtnl, int ifindex, int netns_fd, const char *name) {
        _Alignas(struct nlmsghdr) char buf[RTNL_REQUEST_SIZE];
        struct nlmsghdr *nlh;

        nlh = rtnl_link_request(buf, RTM_NEWLINK, 0, ifindex, 0, 0);
        mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t) netns_fd);
        if (name)
                mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        return rtnl_call(rtnl, nlh);
}

static int setup_move(NetworkLinks *n, Rtnl *rtnl, Rtnl *inner, const char *spec) {
        _cleanup_free_ char *host = NULL, *name = NULL;
        MovedLink *a;
        RtnlLink l;
        int r;

        r = network_ifname_pair_parse(spec, &host, &name);
        if (r < 0)
                return log_error_errno(r, "Invalid --network-interface=%s.", spec);
        r = rtnl_link_get(rtnl, host, 0, &l);
        if (r == -ENODEV)
                return log_error_errno(r, "Network interface %s does not exist.", host);
        if (r < 0)
                return log_error_errno(r, "Failed to look up network interface %s: %m", host);

        a = realloc(n->moved, (n->n_moved + 1) * sizeof(MovedLink));
        if (!a)
                return log_oom();
        n->moved = a;

        r = link_move(rtnl, l.ifindex, n->container_netns_fd, name);
        if (r == -EEXIST)
                return log_error_errno(r, "Cannot move %s into the container: a link named %s exists there.",
                                       host, name ?: host);
        if (r < 0)
                return log_error_errno(r, "Failed to move network interface %s into the container: %m", host);
        /* Its index may change on the way (when taken there): ask the container's side. Until it
         * is recorded it cannot be returned, so a failed lookup is logged loudly. */
        r = rtnl_link_get(inner, name ?: host, 0, &l);
        if (r < 0)
                return log_error_errno(r, "Moved %s into the container but cannot find it there; it will "
                                       "not be returned: %m", host);
        n->moved[n->n_moved++] = (MovedLink) { .host_ifname = TAKE_PTR(host), .inner_ifindex = l.ifindex };
        return 0;
}

static int open_namespaces(NetworkLinks *n, pid_t pid) {
        struct stat self, other;
        char path[64];

        n->host_netns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (n->host_netns_fd < 0)
                return log_error_errno(negative_errno(), "Failed to open our network namespace: %m");
        (void) snprintf(path, sizeof(path), "/proc/%d/ns/net", (int) pid);
        n->container_netns_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (n->container_netns_fd < 0)
                return log_error_errno(negative_errno(), "Failed to open the container's network namespace: %m");
        /* Links "into the container" made in our own namespace would land on the host. */
        if (fstat(n->host_netns_fd, &self) < 0 || fstat(n->container_netns_fd, &other) < 0)
                return log_error_errno(negative_errno(), "Failed to stat network namespaces: %m");
        if (self.st_dev == other.st_dev && self.st_ino == other.st_ino)
                return log_error_errno(-EINVAL, "The container shares our network namespace, refusing to "
                                       "add links to it.");
        return 0;
}

int network_links_setup(NetworkLinks *n, const Settings *s, pid_t pid) {
        _cleanup_(rtnl_done) Rtnl rtnl = {}, inner = {};
        int r;

        if (!network_is_private(s) || s->network_namespace_path ||
            !(s->network_veth || s->network_bridge || s->network_zone || s->network_veth_extra ||
              s->network_macvlan || s->network_ipvlan || s->network_interfaces))
                return 0;
        r = open_namespaces(n, pid);
        if (r < 0)
                return r;
        r = rtnl_open(&rtnl);
        if (r < 0)
                return log_error_errno(r, "Failed to open rtnetlink socket: %m");

        /* Interfaces first, as nspawn: what fails later must find them recorded. */
        if (s->network_interfaces) {
                r = rtnl_open_in_netns(n->container_netns_fd, &inner);
                if (r < 0)
                        return log_error_errno(r, "Failed to open rtnetlink in the container's namespace: %m");
        }
        STRV_FOREACH(e, s->network_interfaces) {
                r = setup_move(n, &rtnl, &inner, *e);
                if (r < 0)
                        return r;
        }
        if (s->network_veth || s->network_bridge || s->network_zone) {
                r = setup_main_veth(n, &rtnl, s);
                if (r < 0)
                        return r;
        }
        STRV_FOREACH(e, s->network_veth_extra) {
                r = setup_veth_extra(n, &rtnl, *e);
                if (r < 0)
                        return r;
        }
        STRV_FOREACH(e, s->network_macvlan) {
                r = setup_vlan(n, &rtnl, *e, false);
                if (r < 0)
                        return r;
        }
        STRV_FOREACH(e, s->network_ipvlan) {
                r = setup_vlan(n, &rtnl, *e, true);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Moves the interfaces home, while we still hold the namespace they are in. */
static void return_moved(NetworkLinks *n) {
        _cleanup_(rtnl_done) Rtnl inner = {};
        int r;

        if (n->n_moved == 0)
                return;
        r = rtnl_open_in_netns(n->container_netns_fd, &inner);
        if (r < 0) {
                log_error_errno(r, "Failed to enter the container's network namespace, cannot return its "
                                "interfaces: %m");
                return;
        }
        for (size_t i = 0; i < n->n_moved; i++) {
                MovedLink *m = &n->moved[i];

                r = link_move(&inner, m->inner_ifindex, n->host_netns_fd, m->host_ifname);
                if (r == -EEXIST) {
                        char pattern[IFNAMSIZ];

                        /* The host has a new link of that name: returned under a free name like
                         * it ("eth1" → "eth10"), which the kernel picks, rather than lost with
                         * the namespace. */
                        (void) snprintf(pattern, sizeof(pattern), "%.*s%%d", IFNAMSIZ - 4, m->host_ifname);
                        r = link_move(&inner, m->inner_ifindex, n->host_netns_fd, pattern);
                        if (r >= 0) {
                                log_warning("Returned network interface %s to the host under another name "
                                            "(%s): the host has a new link of its name.", m->host_ifname, pattern);
                                continue;
                        }
                }
                if (r == -ENODEV)
                        log_warning("Network interface %s is gone from the container (deleted or moved "
                                    "elsewhere inside), cannot return it.", m->host_ifname);
                else if (r < 0)
                        log_error_errno(r, "Failed to return network interface %s to the host: %m",
                                        m->host_ifname);
                else
                        log_debug("Returned network interface %s to the host.", m->host_ifname);
        }
}

void network_links_done(NetworkLinks *n) {
        if (n->container_netns_fd >= 0)
                return_moved(n);
        /* Our veths die with the namespace anyway, but asynchronously: deleted now, a zone's
         * port count below is exact and the name is free for the next start at once. */
        STRV_FOREACH(l, n->host_links)
                (void) network_veth_remove(*l);
        n->container_netns_fd = safe_close(n->container_netns_fd);
        if (n->zone)
                (void) network_zone_cleanup(n->zone);
        n->host_netns_fd = safe_close(n->host_netns_fd);
        for (size_t i = 0; i < n->n_moved; i++)
                free(n->moved[i].host_ifname);
        free(n->moved);
        strv_free(n->host_links);
        free(n->ifindices);
        free(n->zone);
        *n = (NetworkLinks) NETWORK_LINKS_INIT;
}
