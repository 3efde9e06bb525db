/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bridges for --network-bridge= and --network-zone=: a zone's bridge vz-ZONE is made with its
 * first member and removed with its last, under a lock per zone so that members starting and
 * stopping at the same time never race each other.
 *
 * Who removes an empty zone bridge: the member that stops last, when it stops (it deletes its
 * own veth first, then counts the bridge's ports under the lock). A member whose supervisor is
 * killed with SIGKILL cannot: its veth vanishes when its namespace dies, and the bridge stays,
 * empty, until the next member of that zone starts (and reuses it) or stops (and removes it,
 * finding no port). An empty bridge left that way carries no traffic and holds no address we
 * gave it. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "log.h"
#include "macro.h"
#include "network-link.h"
#include "network.h"
#include "resolve.h"

#define ZONE_LOCK_DIR "/run/berth/network"

int network_zone_lock(const char *zone) {
        _cleanup_close_ int fd = -EBADF;
        char path[sizeof(ZONE_LOCK_DIR) + IFNAMSIZ + 16];
        int r;

        r = mkdir_p(ZONE_LOCK_DIR, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s: %m", ZONE_LOCK_DIR);
        /* Zone names are valid interface names: no '/', so this is one file in the directory.
         * The files are never removed: unlinking a lock file someone may be waiting on would let
         * two holders in at once. */
        (void) snprintf(path, sizeof(path), ZONE_LOCK_DIR "/zone-%s.lock", zone);
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return log_error_errno(negative_errno(), "Failed to open %s: %m", path);
        /* flock(), not a POSIX lock: it goes with the fd, so a supervisor killed while holding
         * it releases it on death. */
        while (flock(fd, LOCK_EX) < 0)
                if (errno != EINTR)
                        return log_error_errno(negative_errno(), "Failed to lock %s: %m", path);
        return TAKE_FD(fd);
}

int network_bridge_find(Rtnl *rtnl, const char *name) {
        RtnlLink l;
        int r;

        r = rtnl_link_get(rtnl, name, 0, &l);
        if (r == -ENODEV)
                return log_error_errno(r, "Bridge %s does not exist.", name);
        if (r < 0)
                return log_error_errno(r, "Failed to look up bridge %s: %m", name);
        if (!streq(l.kind, "bridge"))
                return log_error_errno(-ENOTTY, "Network interface %s is not a bridge.", name);
        return l.ifindex;
}

static int bridge_create(Rtnl *rtnl, const char *name) {
        _Alignas(struct nlmsghdr) char buf[RTNL_REQUEST_SIZE];
        struct nlattr *linkinfo;
        struct nlmsghdr *nlh;

        nlh = rtnl_link_request(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0, IFF_UP, IFF_UP);
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
        mnl_attr_nest_end(nlh, linkinfo);
        return rtnl_call(rtnl, nlh);
}

int network_zone_bridge(Rtnl *rtnl, const char *zone) {
        char name[IFNAMSIZ];
        RtnlLink l;
        int r;

        (void) snprintf(name, sizeof(name), NETWORK_ZONE_PREFIX "%s", zone);
        r = rtnl_link_get(rtnl, name, 0, &l);
        if (r == -ENODEV) {
                r = bridge_create(rtnl, name);
                if (r < 0)
                        return log_error_errno(r, "Failed to create bridge %s for zone %s: %m", name, zone);
                log_debug("Created bridge %s for zone %s.", name, zone);
                r = rtnl_link_get(rtnl, name, 0, &l);
        }
        if (r < 0)
                return log_error_errno(r, "Failed to look up bridge %s: %m", name);
        /* Not ours to join, nor ever to delete: someone made a link of that name themselves. */
        if (!streq(l.kind, "bridge"))
                return log_error_errno(-ENOTTY, "Network interface %s exists and is not a bridge, "
                                       "cannot use it for zone %s.", name, zone);
        return l.ifindex;
}

static int count_port(const RtnlLink *l, void *userdata) {
        (*(unsigned *) userdata)++;
        return 0;
}

int network_zone_cleanup(const char *zone) {
        _cleanup_(rtnl_done) Rtnl rtnl = {};
        _cleanup_close_ int lock = -EBADF;
        char name[IFNAMSIZ];
        unsigned ports = 0;
        RtnlLink l;
        int r;

        lock = network_zone_lock(zone);
        if (lock < 0)
                return lock;
        r = rtnl_open(&rtnl);
        if (r < 0)
                return log_error_errno(r, "Failed to open rtnetlink socket: %m");

        (void) snprintf(name, sizeof(name), NETWORK_ZONE_PREFIX "%s", zone);
        r = rtnl_link_get(&rtnl, name, 0, &l);
        if (r == -ENODEV)
                return 0;
        if (r < 0)
                return log_error_errno(r, "Failed to look up bridge %s: %m", name);
        if (!streq(l.kind, "bridge"))
                return 0;
        r = rtnl_link_dump(&rtnl, l.ifindex, count_port, &ports);
        if (r < 0)
                return log_error_errno(r, "Failed to list the ports of bridge %s: %m", name);
        if (ports > 0)
                return 0;
        r = rtnl_link_del(&rtnl, name);
        if (r < 0 && r != -ENODEV)
                return log_error_errno(r, "Failed to remove bridge %s of zone %s: %m", name, zone);
        log_debug("Removed bridge %s: zone %s has no members left.", name, zone);
        return 1;
}
