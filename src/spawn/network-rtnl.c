/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rtnetlink over libmnl for the network modules: requests, link lookups, dumps, deletions. */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "macro.h"
#include "network-rtnl.h"

/* Room for the largest dump message the kernel builds for us (it sizes dump skbs up to 32 KiB). */
#define RTNL_DUMP_SIZE (32 * 1024)

void rtnl_done(Rtnl *rtnl) {
        if (rtnl->nl)
                mnl_socket_close(rtnl->nl);
        rtnl->nl = NULL;
}

int rtnl_open(Rtnl *ret) {
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

int rtnl_open_in_netns(int netns_fd, Rtnl *ret) {
        _cleanup_close_ int own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        int r;

        if (own < 0)
                return negative_errno();
        if (setns(netns_fd, CLONE_NEWNET) < 0)
                return negative_errno();
        r = rtnl_open(ret);
        /* Failing to step back would leave the supervisor acting on the container's network:
         * nothing after that could be trusted, so this is fatal to the caller. */
        if (setns(own, CLONE_NEWNET) < 0) {
                int k = negative_errno();

                if (r >= 0)
                        rtnl_done(ret);
                return k;
        }
        return r;
}

struct nlmsghdr *rtnl_link_request(char *buf, uint16_t type, uint16_t flags, int ifindex,
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

/* Sends NLH and reads until the kernel's final answer (ACK, error or end of dump), handing each
 * data message to CB. */
static int rtnl_call_full(Rtnl *rtnl, struct nlmsghdr *nlh, char *buf, size_t size, mnl_cb_t cb,
                          void *userdata) {
        unsigned portid = mnl_socket_get_portid(rtnl->nl);

        nlh->nlmsg_seq = ++rtnl->seq;
        if (mnl_socket_sendto(rtnl->nl, nlh, nlh->nlmsg_len) < 0)
                return negative_errno();

        for (;;) {
                ssize_t n;
                int r;

                n = mnl_socket_recvfrom(rtnl->nl, buf, size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                /* An error message sets errno and yields MNL_CB_ERROR, an ACK (an error message
                 * carrying 0) or the end of a dump yields MNL_CB_STOP. */
                r = mnl_cb_run(buf, (size_t) n, rtnl->seq, portid, cb, userdata);
                if (r == MNL_CB_ERROR)
                        return negative_errno();
                if (r == MNL_CB_STOP)
                        return 0;
        }
}

int rtnl_call(Rtnl *rtnl, struct nlmsghdr *nlh) {
        _Alignas(struct nlmsghdr) char buf[RTNL_REPLY_SIZE];

        return rtnl_call_full(rtnl, nlh, buf, sizeof(buf), NULL, NULL);
}

static int parse_linkinfo_attr(const struct nlattr *a, void *userdata) {
        RtnlLink *l = userdata;

        if (mnl_attr_get_type(a) == IFLA_INFO_KIND && mnl_attr_validate(a, MNL_TYPE_STRING) >= 0)
                (void) snprintf(l->kind, sizeof(l->kind), "%s", mnl_attr_get_str(a));
        return MNL_CB_OK;
}

static int parse_link_attr(const struct nlattr *a, void *userdata) {
        RtnlLink *l = userdata;

        switch (mnl_attr_get_type(a)) {
        case IFLA_IFNAME:
                if (mnl_attr_validate(a, MNL_TYPE_STRING) >= 0)
                        (void) snprintf(l->name, sizeof(l->name), "%s", mnl_attr_get_str(a));
                break;
        case IFLA_MASTER:
                if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                        l->master = (int) mnl_attr_get_u32(a);
                break;
        case IFLA_LINKINFO:
                if (mnl_attr_validate(a, MNL_TYPE_NESTED) >= 0)
                        (void) mnl_attr_parse_nested(a, parse_linkinfo_attr, l);
                break;
        }
        return MNL_CB_OK;
}

static int parse_link(const struct nlmsghdr *nlh, RtnlLink *ret) {
        const struct ifinfomsg *ifi;

        if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
                return -EBADMSG;
        ifi = mnl_nlmsg_get_payload(nlh);
        *ret = (RtnlLink) { .ifindex = ifi->ifi_index };
        if (mnl_attr_parse(nlh, sizeof(*ifi), parse_link_attr, ret) < 0)
                return -EBADMSG;
        return 0;
}

static int get_cb(const struct nlmsghdr *nlh, void *userdata) {
        RtnlLink *l = userdata;

        if (parse_link(nlh, l) < 0)
                return MNL_CB_ERROR;
        return MNL_CB_OK;
}

int rtnl_link_get(Rtnl *rtnl, const char *name, int ifindex, RtnlLink *ret) {
        _Alignas(struct nlmsghdr) char req[RTNL_REQUEST_SIZE];
        _cleanup_free_ char *buf = malloc(RTNL_DUMP_SIZE);
        struct nlmsghdr *nlh;
        RtnlLink l = {};
        int r;

        if (!buf)
                return -ENOMEM;
        nlh = rtnl_link_request(req, RTM_GETLINK, 0, name ? 0 : ifindex, 0, 0);
        if (name)
                mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        r = rtnl_call_full(rtnl, nlh, buf, RTNL_DUMP_SIZE, get_cb, &l);
        if (r < 0)
                return r;
        if (l.ifindex <= 0)
                return -ENODEV;
        *ret = l;
        return 0;
}

typedef struct DumpState {
        int master;
        int (*cb)(const RtnlLink *l, void *userdata);
        void *userdata;
        int result;
} DumpState;

static int dump_cb(const struct nlmsghdr *nlh, void *userdata) {
        DumpState *d = userdata;
        RtnlLink l;

        if (!d->cb || parse_link(nlh, &l) < 0)
                return MNL_CB_OK;
        /* The kernel filters by master when it knows how; checked again for those that do not. */
        if (d->master > 0 && l.master != d->master)
                return MNL_CB_OK;
        d->result = d->cb(&l, d->userdata);
        /* Stopping early would leave the rest of the dump unread on the socket: keep reading,
         * just stop calling back. */
        if (d->result != 0)
                d->cb = NULL;
        return MNL_CB_OK;
}

int rtnl_link_dump(Rtnl *rtnl, int master, int (*cb)(const RtnlLink *l, void *userdata), void *userdata) {
        _Alignas(struct nlmsghdr) char req[RTNL_REQUEST_SIZE];
        _cleanup_free_ char *buf = malloc(RTNL_DUMP_SIZE);
        DumpState d = { .master = master, .cb = cb, .userdata = userdata };
        struct nlmsghdr *nlh;
        int r;

        if (!buf)
                return -ENOMEM;
        nlh = rtnl_link_request(req, RTM_GETLINK, NLM_F_DUMP, 0, 0, 0);
        nlh->nlmsg_flags &= ~NLM_F_ACK;
        if (master > 0)
                mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t) master);
        r = rtnl_call_full(rtnl, nlh, buf, RTNL_DUMP_SIZE, dump_cb, &d);
        if (r < 0)
                return r;
        return d.result;
}

int rtnl_link_del(Rtnl *rtnl, const char *name) {
        _Alignas(struct nlmsghdr) char buf[RTNL_REQUEST_SIZE];
        struct nlmsghdr *nlh;

        nlh = rtnl_link_request(buf, RTM_DELLINK, 0, 0, 0, 0);
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        return rtnl_call(rtnl, nlh);
}
