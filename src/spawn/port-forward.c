/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Port forwarding: a per-machine nftables table owned by the supervisor's netlink socket, whose
 * DNAT rules follow the container's addresses, and a relay for [::1].
 *
 * Why an owner table: NFT_TABLE_F_OWNER (Linux ≥ 5.12) ties the table to the netlink socket that
 * created it, and the kernel deletes it when that socket closes. The socket lives in the
 * supervisor for the machine's lifetime, so the rules go when the supervisor goes, also by
 * SIGKILL or a crash, with no cleanup code that could be skipped. Only that socket may change the
 * table, so nothing else can rewrite a machine's forwarding either.
 *
 * Why dlopen(): libnftables brings libnftnl, libxtables, libjansson and libgmp with it. Linked,
 * every supervisor would load five more libraries at every start (bench/README.md counts what a
 * start costs per library); loaded on demand, only machines with -p pay, as register.c does for
 * libsystemd. */
#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "parse-util.h"
#include "port-forward.h"
#include "port-proxy.h"

#define ADDR_BUF_SIZE 32768

/* The nft calls we make, resolved at run time; prototypes from the installed header. */
typedef struct NftApi {
        void *dl;
        typeof(nft_ctx_new) *ctx_new;
        typeof(nft_ctx_free) *ctx_free;
        typeof(nft_ctx_buffer_output) *buffer_output;
        typeof(nft_ctx_buffer_error) *buffer_error;
        typeof(nft_ctx_get_error_buffer) *get_error_buffer;
        typeof(nft_run_cmd_from_buffer) *run_cmd_from_buffer;
} NftApi;

/* The container's first global addresses: what the DNAT rules point to. */
typedef struct Target {
        bool has4, has6;
        struct in_addr a4;
        struct in6_addr a6;
} Target;

struct PortForwarder {
        NftApi api;
        struct nft_ctx *nft;
        char *table;
        char *host_ifname;
        bool localnet;             /* route_localnet is on for host_ifname: 127.0.0.1 can be forwarded */
        const PortForward *ports;
        size_t n_ports;

        struct mnl_socket *monitor; /* in the container's netns: address events */
        struct mnl_socket *dump;    /* in the container's netns: address dumps */
        unsigned dump_seq;
        EventSource *monitor_source;
        Target target;

        PortProxy **proxies;
        size_t n_proxies;
};

int port_forward_parse(const char *spec, PortForward *ret) {
        PortForward p = { .protocol = IPPROTO_TCP };
        const char *colon;
        unsigned long host, container; /* not narrower: 2^32 + 80 must not come out as 80 */
        char *end;

        if (!spec)
                return -EINVAL;
        if (startswith(spec, "tcp:"))
                spec += 4;
        else if (startswith(spec, "udp:")) {
                p.protocol = IPPROTO_UDP;
                spec += 4;
        }
        /* Anything else before a ':' is not a port: "sctp:80" must fail, not become 80:... */
        if (spec[0] < '0' || spec[0] > '9')
                return -EINVAL;
        errno = 0;
        host = strtoul(spec, &end, 10);
        if (errno != 0 || end == spec || host == 0 || host > 65535)
                return -EINVAL;
        container = host;
        colon = end;
        if (*colon == ':') {
                if (colon[1] < '0' || colon[1] > '9')
                        return -EINVAL;
                container = strtoul(colon + 1, &end, 10);
                if (errno != 0 || container == 0 || container > 65535)
                        return -EINVAL;
        }
        if (*end != 0)
                return -EINVAL;
        p.host_port = (uint16_t) host;
        p.container_port = (uint16_t) container;
        *ret = p;
        return 0;
}

int settings_add_port(Settings *s, const char *spec) {
        PortForward p, *n;
        int r;

        r = port_forward_parse(spec, &p);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s->n_ports; i++)
                if (s->ports[i].protocol == p.protocol && s->ports[i].host_port == p.host_port)
                        return -EEXIST;
        n = realloc(s->ports, (s->n_ports + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        n[s->n_ports++] = p;
        s->ports = n;
        return 0;
}

const char *port_forward_to_string(const PortForward *p, char buf[static 20]) {
        snprintf(buf, 20, "%s:%u:%u", p->protocol == IPPROTO_UDP ? "udp" : "tcp", p->host_port,
                 p->container_port);
        return buf;
}

static int nft_api_load(NftApi *a) {
        static const struct {
                const char *name;
                size_t offset;
        } symbols[] = {
#define SYM(field, sym) { #sym, offsetof(NftApi, field) }
                SYM(ctx_new, nft_ctx_new),
                SYM(ctx_free, nft_ctx_free),
                SYM(buffer_output, nft_ctx_buffer_output),
                SYM(buffer_error, nft_ctx_buffer_error),
                SYM(get_error_buffer, nft_ctx_get_error_buffer),
                SYM(run_cmd_from_buffer, nft_run_cmd_from_buffer),
#undef SYM
        };

        a->dl = dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!a->dl)
                return log_error_errno(-EOPNOTSUPP, "Port forwarding needs libnftables.so.1: %s", dlerror());
        for (size_t i = 0; i < ELEMENTSOF(symbols); i++) {
                void *f = dlsym(a->dl, symbols[i].name);

                if (!f)
                        return log_error_errno(-EOPNOTSUPP, "libnftables lacks %s.", symbols[i].name);
                memcpy((char *) a + symbols[i].offset, &f, sizeof(f));
        }
        return 0;
}

/* libnftables opens its netlink socket without SOCK_CLOEXEC. Inherited by anything we start it
 * would keep the table alive past us, and hand a host netfilter socket to whatever runs there:
 * mark every nfnetlink socket we hold close-on-exec (the supervisor opens no other). */
static void nfnetlink_sockets_cloexec(void) {
        _cleanup_(closedirp) DIR *d = opendir("/proc/self/fd");

        if (!d)
                return;
        for (struct dirent *de; (de = readdir(d));) {
                int fd, domain = 0, proto = 0, flags;
                socklen_t l = sizeof(int);
                unsigned u;

                if (parse_small_uint(de->d_name, INT_MAX, &u) < 0)
                        continue;
                fd = (int) u;
                if (fd == dirfd(d))
                        continue;
                if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l) < 0 || domain != AF_NETLINK)
                        continue;
                l = sizeof(int);
                if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &l) < 0 || proto != NETLINK_NETFILTER)
                        continue;
                flags = fcntl(fd, F_GETFD);
                if (flags >= 0)
                        (void) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
        }
}

/* Runs CMD in one transaction; on failure logs what nft said and returns -EIO (libnftables
 * reports no errno we could trust). */
static int nft_run(PortForwarder *f, const char *cmd) {
        const char *err;

        if (f->api.run_cmd_from_buffer(f->nft, cmd) == 0)
                return 0;
        err = f->api.get_error_buffer(f->nft);
        log_debug("nft input was:\n%s", cmd);
        return log_error_errno(-EIO, "nftables refused the rules of table %s: %s", f->table,
                               isempty(err) ? "(no message)" : err);
}

static int nft_open(PortForwarder *f) {
        struct mnl_socket *probe;

        /* libnftables exit()s the whole process when it cannot open its socket: find out first. */
        probe = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        if (!probe)
                return log_error_errno(negative_errno(), "Port forwarding needs nftables, which this "
                                       "kernel does not offer: %m");
        mnl_socket_close(probe);

        f->nft = f->api.ctx_new(NFT_CTX_DEFAULT);
        if (!f->nft)
                return log_oom();
        nfnetlink_sockets_cloexec();
        (void) f->api.buffer_output(f->nft);
        (void) f->api.buffer_error(f->nft);
        return 0;
}

/* The table and its empty base chains. "create", not "add": a table of this name means another
 * supervisor of this machine still runs (its owner socket is open), or someone made one by hand;
 * either way it is not ours to take over. The guard rule sits before conntrack (raw priority) and
 * is in place before route_localnet goes on: it keeps the container from sending to the host's
 * 127.0.0.0/8 through its veth, which route_localnet would otherwise let through. By index, so no
 * interface name is ever parsed as nft syntax. */
static int nft_create_table(PortForwarder *f, unsigned guard_ifindex) {
        _cleanup_free_ char *cmd = NULL, *guard = NULL;

        if (guard_ifindex > 0 &&
            asprintf(&guard, "add rule inet %s guard iif %u ip daddr 127.0.0.0/8 drop\n", f->table,
                     guard_ifindex) < 0)
                return log_oom();
        if (asprintf(&cmd,
                     "create table inet %1$s { flags owner; }\n"
                     "add chain inet %1$s guard { type filter hook prerouting priority raw; }\n"
                     "add chain inet %1$s prerouting { type nat hook prerouting priority dstnat; }\n"
                     "add chain inet %1$s output { type nat hook output priority -100; }\n"
                     "add chain inet %1$s postrouting { type nat hook postrouting priority srcnat; }\n"
                     "%2$s",
                     f->table, strempty(guard)) < 0)
                return log_oom();
        return nft_run(f, cmd);
}

/* Appends the DNAT rules of one family for every port to OUT. */
static void rules_dnat(const PortForwarder *f, FILE *out, int family, const char *addr) {
        for (size_t i = 0; i < f->n_ports; i++) {
                const PortForward *p = &f->ports[i];
                const char *proto = p->protocol == IPPROTO_UDP ? "udp" : "tcp";
                const char *fam = family == AF_INET ? "ip" : "ip6";
                const char *l = family == AF_INET ? "" : "[", *r = family == AF_INET ? "" : "]";
                /* Locally made packets to ::1 cannot be DNATed (see port-proxy.h); they must stay
                 * on loopback, where the relay listens. 127.0.0.1 only works with route_localnet. */
                const char *local_exclude = family == AF_INET6 ? "ip6 daddr != ::1 " :
                                            f->localnet ? "" : "ip daddr != 127.0.0.0/8 ";

                fprintf(out, "add rule inet %s prerouting fib daddr type local %s dport %u "
                        "dnat %s to %s%s%s:%u\n", f->table, proto, p->host_port, fam, l, addr, r,
                        p->container_port);
                fprintf(out, "add rule inet %s output %sfib daddr type local %s dport %u "
                        "dnat %s to %s%s%s:%u\n", f->table, local_exclude, proto, p->host_port, fam,
                        l, addr, r, p->container_port);
        }
}

/* Replaces every rule in one transaction: the old target is never half-replaced. */
static int rules_write(PortForwarder *f) {
        _cleanup_free_ char *cmd = NULL;
        char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
        size_t size = 0;
        FILE *out;

        out = open_memstream(&cmd, &size);
        if (!out)
                return log_oom();
        fprintf(out, "flush chain inet %1$s prerouting\nflush chain inet %1$s output\n"
                "flush chain inet %1$s postrouting\n", f->table);
        if (f->target.has4) {
                inet_ntop(AF_INET, &f->target.a4, a4, sizeof(a4));
                rules_dnat(f, out, AF_INET, a4);
                /* The container must answer 127.0.0.1's connections through us: its own
                 * 127.0.0.1 is itself. */
                if (f->localnet)
                        fprintf(out, "add rule inet %s postrouting ip saddr 127.0.0.0/8 ip daddr %s "
                                "masquerade\n", f->table, a4);
        }
        if (f->target.has6) {
                inet_ntop(AF_INET6, &f->target.a6, a6, sizeof(a6));
                rules_dnat(f, out, AF_INET6, a6);
        }
        if (fclose(out) != 0)
                return log_oom();
        return nft_run(f, cmd);
}

/* 127.0.0.1 → container: the rerouted packet still has a loopback source, which Linux only
 * lets out of (and its answer into) a link with route_localnet. Only our own veth gets it: it
 * dies with the machine, and the guard rule covers it while it lives. */
static int enable_localnet(PortForwarder *f) {
        _cleanup_close_ int fd = -EBADF;
        char path[128];

        if (!f->host_ifname)
                return 0;
        snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet", f->host_ifname);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "1", 1) != 1)
                return log_warning_errno(negative_errno(), "Failed to enable route_localnet on %s, "
                                         "127.0.0.1 will not be forwarded: %m", f->host_ifname);
        f->localnet = true;
        return 0;
}

/* Opens a route socket in the network namespace of PID (entering it only for socket()). */
static int rtnl_open_in(int netns_fd, unsigned groups, struct mnl_socket **ret) {
        _cleanup_close_ int own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        struct mnl_socket *nl;
        int r = 0;

        if (own < 0)
                return negative_errno();
        if (setns(netns_fd, CLONE_NEWNET) < 0)
                return negative_errno();
        nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (!nl)
                r = negative_errno();
        /* Back home before anything else: all else we do is on the host's network. */
        if (setns(own, CLONE_NEWNET) < 0) {
                int k = negative_errno();

                if (nl)
                        mnl_socket_close(nl);
                log_error_errno(k, "Failed to return to the host's network namespace: %m");
                abort(); /* continuing would put the host's rules in the container's namespace */
        }
        if (r < 0)
                return r;
        if (mnl_socket_bind(nl, groups, MNL_SOCKET_AUTOPID) < 0) {
                r = negative_errno();
                mnl_socket_close(nl);
                return r;
        }
        *ret = nl;
        return 0;
}

static int addr_cb(const struct nlmsghdr *nlh, void *userdata) {
        Target *t = userdata;
        const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *local = NULL, *address = NULL;
        const struct nlattr *attr;
        uint32_t flags = ifa->ifa_flags;

        if (nlh->nlmsg_type != RTM_NEWADDR || ifa->ifa_scope != RT_SCOPE_UNIVERSE)
                return MNL_CB_OK;
        mnl_attr_for_each(attr, nlh, sizeof(*ifa)) {
                if (mnl_attr_get_type(attr) == IFA_LOCAL)
                        local = attr;
                else if (mnl_attr_get_type(attr) == IFA_ADDRESS)
                        address = attr;
                else if (mnl_attr_get_type(attr) == IFA_FLAGS && mnl_attr_get_payload_len(attr) >= 4)
                        flags = mnl_attr_get_u32(attr);
        }
        /* A tentative address cannot be used yet; its end of DAD comes as another event. */
        if (flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED))
                return MNL_CB_OK;
        if (ifa->ifa_family == AF_INET && !t->has4) {
                attr = local ?: address; /* IFA_ADDRESS is the peer's on a point-to-point link */
                if (attr && mnl_attr_get_payload_len(attr) == sizeof(t->a4)) {
                        memcpy(&t->a4, mnl_attr_get_payload(attr), sizeof(t->a4));
                        t->has4 = true;
                }
        } else if (ifa->ifa_family == AF_INET6 && !t->has6) {
                if (address && mnl_attr_get_payload_len(address) == sizeof(t->a6)) {
                        memcpy(&t->a6, mnl_attr_get_payload(address), sizeof(t->a6));
                        t->has6 = true;
                }
        }
        return MNL_CB_OK;
}

/* Dumps the container's addresses: the first usable global IPv4 and IPv6 one, in the kernel's
 * order (interface index, then age), which is what the guest's first configured address is. */
static int addresses_read(PortForwarder *f, Target *ret) {
        _cleanup_free_ char *buf = malloc(ADDR_BUF_SIZE);
        struct nlmsghdr *nlh;
        struct rtgenmsg *g;
        unsigned portid = mnl_socket_get_portid(f->dump);
        Target t = {};

        if (!buf)
                return -ENOMEM;
        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_GETADDR;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        nlh->nlmsg_seq = ++f->dump_seq;
        g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
        g->rtgen_family = AF_UNSPEC;
        if (mnl_socket_sendto(f->dump, nlh, nlh->nlmsg_len) < 0)
                return negative_errno();
        for (;;) {
                ssize_t n = mnl_socket_recvfrom(f->dump, buf, ADDR_BUF_SIZE);
                int r;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                /* The dump answers at once; a poll instead of a busy loop. */
                                struct pollfd p = { .fd = mnl_socket_get_fd(f->dump), .events = POLLIN };
                                if (poll(&p, 1, 1000) <= 0)
                                        return -ETIMEDOUT;
                                continue;
                        }
                        return negative_errno();
                }
                r = mnl_cb_run(buf, (size_t) n, f->dump_seq, portid, addr_cb, &t);
                if (r == MNL_CB_ERROR)
                        return negative_errno();
                if (r == MNL_CB_STOP)
                        break;
        }
        *ret = t;
        return 0;
}

static bool target_equal(const Target *a, const Target *b) {
        return a->has4 == b->has4 && a->has6 == b->has6 &&
               (!a->has4 || a->a4.s_addr == b->a4.s_addr) &&
               (!a->has6 || memcmp(&a->a6, &b->a6, sizeof(a->a6)) == 0);
}

static int target_refresh(PortForwarder *f) {
        char a4[INET_ADDRSTRLEN] = "-", a6[INET6_ADDRSTRLEN] = "-";
        Target t;
        int r;

        r = addresses_read(f, &t);
        if (r < 0)
                return log_error_errno(r, "Failed to read the container's addresses: %m");
        if (target_equal(&t, &f->target))
                return 0;
        f->target = t;
        if (t.has4)
                inet_ntop(AF_INET, &t.a4, a4, sizeof(a4));
        if (t.has6)
                inet_ntop(AF_INET6, &t.a6, a6, sizeof(a6));
        log_debug("Forwarding %zu port(s) of %s to %s and %s.", f->n_ports, f->table, a4, a6);
        r = rules_write(f);
        if (r < 0)
                return r;
        for (size_t i = 0; i < f->n_proxies; i++)
                port_proxy_set_target(f->proxies[i], t.has4 ? &t.a4 : NULL, t.has6 ? &t.a6 : NULL);
        return 0;
}

static int on_address_event(EventSource *s, int fd, uint32_t revents, void *userdata) {
        PortForwarder *f = userdata;
        char buf[8192];

        /* The events only say "something changed": drain them and read the whole state, which
         * also recovers from an overrun (ENOBUFS) without replaying anything. */
        for (;;) {
                ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno != ENOBUFS)
                        break;
        }
        /* A failed rewrite leaves the old rules: log it and go on serving, the next event may
         * succeed; the machine itself runs fine without its ports. */
        (void) target_refresh(f);
        return 0;
}

PortForwarder *port_forwarder_free(PortForwarder *f) {
        if (!f)
                return NULL;
        for (size_t i = 0; i < f->n_proxies; i++)
                port_proxy_free(f->proxies[i]);
        free(f->proxies);
        event_source_free(f->monitor_source);
        if (f->monitor)
                mnl_socket_close(f->monitor);
        if (f->dump)
                mnl_socket_close(f->dump);
        /* Closing the context closes the owner socket: the kernel drops the table now. */
        if (f->nft)
                f->api.ctx_free(f->nft);
        if (f->api.dl)
                dlclose(f->api.dl);
        free(f->table);
        free(f->host_ifname);
        free(f);
        return NULL;
}

/* [::1] always goes through the relay; 127.0.0.1 only where route_localnet is not ours to set. */
static int proxies_start(PortForwarder *f, EventLoop *loop) {
        f->proxies = calloc(2 * f->n_ports, sizeof(*f->proxies));
        if (!f->proxies)
                return log_oom();
        for (size_t i = 0; i < f->n_ports; i++)
                for (size_t j = 0; j < 2; j++) {
                        int family = j == 0 ? AF_INET : AF_INET6, r;

                        if (family == AF_INET && f->localnet)
                                continue;
                        r = port_proxy_new(loop, &f->ports[i], family, &f->proxies[f->n_proxies]);
                        if (r < 0)
                                return r;
                        f->n_proxies++;
                }
        return 0;
}

int port_forwarder_new(EventLoop *loop, const Settings *s, pid_t pid, const char *host_ifname,
                       PortForwarder **ret) {
        _cleanup_(port_forwarder_freep) PortForwarder *f = NULL;
        _cleanup_close_ int netns = -EBADF;
        unsigned ifindex = 0;
        char path[64];
        int r;

        f = calloc(1, sizeof(*f));
        if (!f)
                return log_oom();
        f->ports = s->ports;
        f->n_ports = s->n_ports;
        if (asprintf(&f->table, "berth-%s", s->machine) < 0)
                return log_oom();
        if (host_ifname && !(f->host_ifname = strdup(host_ifname)))
                return log_oom();

        r = nft_api_load(&f->api);
        if (r < 0)
                return r;
        r = nft_open(f);
        if (r < 0)
                return r;
        if (f->host_ifname) {
                ifindex = if_nametoindex(f->host_ifname);
                if (ifindex == 0)
                        return log_error_errno(negative_errno(), "Failed to find %s: %m", f->host_ifname);
        }
        r = nft_create_table(f, ifindex);
        if (r < 0)
                return r;
        (void) enable_localnet(f);

        snprintf(path, sizeof(path), "/proc/%d/ns/net", (int) pid);
        netns = open(path, O_RDONLY | O_CLOEXEC);
        if (netns < 0)
                return log_error_errno(negative_errno(), "Failed to open the container's network "
                                       "namespace: %m");
        r = rtnl_open_in(netns, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR, &f->monitor);
        if (r >= 0)
                r = rtnl_open_in(netns, 0, &f->dump);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the container's addresses: %m");
        r = event_add_io(loop, &f->monitor_source, mnl_socket_get_fd(f->monitor), EPOLLIN,
                         on_address_event, f);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the container's addresses: %m");

        r = proxies_start(f, loop);
        if (r < 0)
                return r;
        /* Subscribed before this first read: no address can slip between the two. */
        r = target_refresh(f);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(f);
        return 0;
}
