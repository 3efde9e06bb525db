/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthd's one rtnetlink socket that hears address changes in every machine's network namespace
 * (NETLINK_LISTEN_ALL_NSID) and keeps each watched machine's cached addresses current.
 *
 * Why: a list must show every machine's addresses, and reading 1,000 namespaces when someone
 * lists costs ~70 ms. Instead each machine's namespace gets an nsid in berthd's namespace (many
 * have one already: a veth peer moved there), is dumped once (RTM_GETADDR with
 * IFA_TARGET_NETNSID: no setns, no fork), and from then on the kernel tells us of every change,
 * tagged with the nsid, on this one socket. No fd is kept per machine or namespace.
 *
 * Requests (RTM_GETNSID/RTM_NEWNSID) go over the same socket as the events, so that their
 * answers come in order with them: a RTM_DELNSID of a dead namespace whose nsid the kernel gives
 * to a new one is always read before the answer that names the new one. An entry also keeps the
 * namespace's inode, and a machine never joins an entry of another namespace. When the socket
 * overran (events lost), events are ignored until a full resync (at most one per second)
 * re-resolves and re-dumps every machine; a namespace with more addresses than are kept is read
 * again at most as often. A guest changing addresses in a loop costs an O(addresses) update each. */
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "log.h"
#include "machine-inside.h"
#include "manager.h"
#include "netns-watch.h"

/* nsids are small (the kernel gives the lowest free one): a bucket each, mostly. */
#define NSID_BUCKETS 1024U
/* Room for bursts of events from many machines before the socket overruns. */
#define WATCH_RCVBUF (4 * 1024 * 1024)
#define WATCH_BUF_SIZE (64U * 1024U)
/* Datagrams handled per wake-up, so that a flood never holds berthd's loop for long. */
#define WATCH_BUDGET 256U

static const uint8_t dump_families[] = { AF_INET, AF_INET6 };

/* One address as the kernel identifies it (the same address may be on two links). */
typedef struct WatchAddress {
        int32_t ifindex;
        uint8_t family;
        uint8_t prefixlen;
        uint8_t bytes[16];
} WatchAddress;

typedef struct AddressSet {
        WatchAddress *a;
        uint16_t n;
        bool overflow; /* more than MACHINE_ADDRESSES_MAX: not kept */
} AddressSet;

struct NetnsEntry {
        NetnsWatch *watch;
        int32_t nsid;
        dev_t dev; /* the namespace's identity when it was mapped */
        ino_t ino;
        NetnsEntry *bucket_next;
        Machine *machines; /* linked through info.netns_next: several may share one namespace */
        AddressSet current;
        bool known;  /* a dump completed: current is what the kernel has */
        bool queued; /* waits for a dump */
        bool redump; /* too many addresses: read again at the next resync tick */
        NetnsEntry *queue_next;
        AddressSet fresh; /* what the running dump found so far (with the events meanwhile) */
};

struct NetnsWatch {
        Manager *manager;
        struct mnl_socket *nl;
        uint32_t portid;
        dev_t own_dev;
        ino_t own_ino;
        /* The nsid our namespace has in itself, if someone gave it one: the kernel then tags
         * our own namespace's messages with it. */
        int32_t self_nsid;
        sd_event_source *io;
        sd_event_source *resync_timer;
        uint64_t resync_last;
        bool overrun; /* events were lost: ignored until a full resync */
        unsigned n_resyncs;
        uint32_t seq;
        NetnsEntry *buckets[NSID_BUCKETS];
        unsigned n_entries;
        NetnsEntry *queue_head, *queue_tail;

        /* The dump running: its sequence number (0: none), its entry (NULL once dropped). */
        uint32_t dump_seq;
        NetnsEntry *dumping;
        unsigned dump_family;

        /* The request waiting for its answer. */
        uint32_t req_seq;
        int req_type;
        bool req_done;
        int req_error;
        int32_t req_nsid;

        uint8_t *buf;
};

static uint64_t watch_now(NetnsWatch *w) {
        uint64_t t = 0;

        (void) sd_event_now(w->manager->event, CLOCK_MONOTONIC, &t);
        return t;
}

static uint32_t watch_next_seq(NetnsWatch *w) {
        if (++w->seq == 0)
                w->seq = 1;
        return w->seq;
}

/* ---- address sets ---- */

static bool address_eq(const WatchAddress *a, const WatchAddress *b) {
        return a->ifindex == b->ifindex && a->family == b->family && a->prefixlen == b->prefixlen &&
               memcmp(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16) == 0;
}

static void set_clear(AddressSet *s) {
        free(s->a);
        *s = (AddressSet) {};
}

/* Adds or removes A; true when S changed. */
static bool set_apply(AddressSet *s, const WatchAddress *a, bool add) {
        WatchAddress *n;
        size_t k;

        if (s->overflow)
                return false;
        for (k = 0; k < s->n && !address_eq(&s->a[k], a); k++)
                ;
        if (!add) {
                if (k == s->n)
                        return false;
                memmove(s->a + k, s->a + k + 1, (s->n - k - 1) * sizeof(WatchAddress));
                s->n--;
                return true;
        }
        if (k < s->n)
                return false;
        /* Grown one at a time: most machines have one or two, and 1,000 of them must stay small. */
        n = s->n < MACHINE_ADDRESSES_MAX ? realloc(s->a, (s->n + 1U) * sizeof(WatchAddress)) : NULL;
        if (!n) {
                set_clear(s);
                s->overflow = true;
                return true;
        }
        s->a = n;
        s->a[s->n++] = *a;
        return true;
}

/* The packed form lists show (machine-cache.h), for MACHINE. */
static void machine_publish(Machine *machine, const AddressSet *s, uint64_t now) {
        MachineInfo *i = &machine->info;
        uint8_t *p = NULL;
        size_t n = 0;

        if (!s->overflow && s->n > 0) {
                p = malloc(s->n * 17U);
                if (!p)
                        return; /* the old ones stay until the next change */
                for (size_t k = 0; k < s->n; k++) {
                        size_t size = s->a[k].family == AF_INET ? 4 : 16;

                        p[n] = s->a[k].family;
                        memcpy(p + n + 1, s->a[k].bytes, size);
                        n += 1 + size;
                }
        }
        free(i->addresses);
        i->addresses = p;
        i->addresses_size = (uint16_t) n;
        i->addresses_uncacheable = s->overflow;
        i->host_network = false;
        i->addresses_usec = now ?: 1;
}

static void entry_publish(NetnsEntry *e) {
        uint64_t now = watch_now(e->watch);

        for (Machine *i = e->machines; i; i = i->info.netns_next)
                machine_publish(i, &e->current, now);
}

/* ---- entries ---- */

static NetnsEntry *entry_find(NetnsWatch *w, int32_t nsid) {
        if (nsid < 0)
                return NULL;
        for (NetnsEntry *e = w->buckets[(uint32_t) nsid % NSID_BUCKETS]; e; e = e->bucket_next)
                if (e->nsid == nsid)
                        return e;
        return NULL;
}

static void entry_queue(NetnsEntry *e) {
        NetnsWatch *w = e->watch;

        if (e->queued)
                return;
        e->queued = true;
        e->queue_next = NULL;
        if (w->queue_tail)
                w->queue_tail->queue_next = e;
        else
                w->queue_head = e;
        w->queue_tail = e;
}

static void entry_unqueue(NetnsEntry *e) {
        NetnsWatch *w = e->watch;
        NetnsEntry *prev = NULL;

        if (!e->queued)
                return;
        for (NetnsEntry *i = w->queue_head; i && i != e; i = i->queue_next)
                prev = i;
        if (prev)
                prev->queue_next = e->queue_next;
        else
                w->queue_head = e->queue_next;
        if (w->queue_tail == e)
                w->queue_tail = prev;
        e->queued = false;
}

/* Forgets E; its machines get STATE (their cached addresses stay as they are). */
static void entry_drop(NetnsEntry *e, uint8_t state) {
        NetnsWatch *w = e->watch;
        NetnsEntry **p;
        Machine *next;

        for (p = &w->buckets[(uint32_t) e->nsid % NSID_BUCKETS]; *p && *p != e; p = &(*p)->bucket_next)
                ;
        if (*p)
                *p = e->bucket_next;
        entry_unqueue(e);
        if (w->dumping == e)
                w->dumping = NULL;
        for (Machine *i = e->machines; i; i = next) {
                next = i->info.netns_next;
                i->info.netns = NULL;
                i->info.netns_next = NULL;
                i->info.netns_state = state;
        }
        set_clear(&e->current);
        set_clear(&e->fresh);
        free(e);
        w->n_entries--;
}

static NetnsEntry *entry_new(NetnsWatch *w, int32_t nsid, const struct stat *st) {
        NetnsEntry *e = calloc(1, sizeof(NetnsEntry));
        uint32_t b = (uint32_t) nsid % NSID_BUCKETS;

        if (!e)
                return NULL;
        *e = (NetnsEntry) { .watch = w, .nsid = nsid, .dev = st->st_dev, .ino = st->st_ino,
                            .bucket_next = w->buckets[b] };
        w->buckets[b] = e;
        w->n_entries++;
        return e;
}

static void watch_schedule(NetnsWatch *w);

/* Too many addresses were kept track of: the next resync tick reads them again. */
static void entry_want_redump(NetnsEntry *e) {
        e->redump = true;
        watch_schedule(e->watch);
}

/* ---- dumps ---- */

static int dump_send(NetnsWatch *w, NetnsEntry *e) {
        uint32_t buf[64] = {};
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct ifaddrmsg *ifa;
        uint32_t seq = watch_next_seq(w);

        nlh->nlmsg_type = RTM_GETADDR;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        nlh->nlmsg_seq = seq;
        ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifaddrmsg));
        ifa->ifa_family = dump_families[w->dump_family];
        mnl_attr_put_u32(nlh, IFA_TARGET_NETNSID, (uint32_t) e->nsid);
        if (mnl_socket_sendto(w->nl, nlh, nlh->nlmsg_len) < 0)
                return negative_errno();
        w->dump_seq = seq;
        w->dumping = e;
        return 0;
}

/* Starts the next queued dump unless one runs (a netlink socket runs one dump at a time). */
static void watch_kick(NetnsWatch *w) {
        while (w->dump_seq == 0 && w->queue_head) {
                NetnsEntry *e = w->queue_head;
                int r;

                entry_unqueue(e);
                set_clear(&e->fresh);
                /* An event from now on that finds too many addresses asks for another read. */
                e->redump = false;
                w->dump_family = 0;
                r = dump_send(w, e);
                if (r < 0) {
                        log_debug_errno(r, "Failed to dump the addresses of nsid %i: %m", (int) e->nsid);
                        entry_drop(e, NETNS_FAILED);
                }
        }
}

static void dump_end(NetnsWatch *w, int error) {
        NetnsEntry *e = w->dumping;
        int r;

        w->dump_seq = 0;
        w->dumping = NULL;
        if (!e)
                return;
        if (error >= 0 && w->dump_family + 1 < ELEMENTSOF(dump_families)) {
                w->dump_family++;
                r = dump_send(w, e);
                if (r >= 0)
                        return;
                error = r;
        }
        if (error < 0) {
                /* An old kernel without IFA_TARGET_NETNSID, or the namespace died meanwhile:
                 * its machines are read the old way. */
                log_debug_errno(error, "Failed to dump the addresses of nsid %i, not watching it: %m",
                                (int) e->nsid);
                entry_drop(e, NETNS_FAILED);
                return;
        }
        set_clear(&e->current);
        e->current = e->fresh;
        e->fresh = (AddressSet) {};
        e->known = true;
        entry_publish(e);
}

static void dump_process(NetnsWatch *w, const struct nlmsghdr *nlh) {
        const void *p = mnl_nlmsg_get_payload(nlh);
        size_t len = mnl_nlmsg_get_payload_len(nlh);
        AddressRecord rec;
        int32_t error = 0;

        switch (nlh->nlmsg_type) {
        case RTM_NEWADDR:
                if (w->dumping && inside_parse_address(nlh, &rec) > 0) {
                        const struct ifaddrmsg *ifa = p;
                        WatchAddress a = { .ifindex = (int32_t) ifa->ifa_index, .family = (uint8_t) rec.family,
                                           .prefixlen = ifa->ifa_prefixlen };

                        memcpy(a.bytes, rec.bytes, rec.size);
                        (void) set_apply(&w->dumping->fresh, &a, true);
                }
                break;
        case NLMSG_DONE:
                if (len >= sizeof(int32_t))
                        memcpy(&error, p, sizeof error);
                dump_end(w, error < 0 ? error : 0);
                break;
        case NLMSG_ERROR:
                if (len >= sizeof(struct nlmsgerr))
                        memcpy(&error, p, sizeof error);
                dump_end(w, error < 0 ? error : -EIO);
                break;
        }
}

/* ---- events and answers ---- */

static int32_t nsid_attribute(const struct nlmsghdr *nlh) {
        const struct nlattr *attr;

        if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct rtgenmsg)))
                return NETNSA_NSID_NOT_ASSIGNED;
        mnl_attr_for_each(attr, nlh, sizeof(struct rtgenmsg))
                if (mnl_attr_get_type(attr) == NETNSA_NSID && mnl_attr_get_payload_len(attr) >= 4)
                        return (int32_t) mnl_attr_get_u32(attr);
        return NETNSA_NSID_NOT_ASSIGNED;
}

static void request_process(NetnsWatch *w, const struct nlmsghdr *nlh) {
        if (nlh->nlmsg_type == NLMSG_ERROR) {
                int32_t error = -EIO;

                if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(struct nlmsgerr))
                        memcpy(&error, mnl_nlmsg_get_payload(nlh), sizeof error);
                w->req_error = error > 0 ? -EIO : error;
                w->req_done = true;
        } else if (nlh->nlmsg_type == RTM_NEWNSID && w->req_type == RTM_GETNSID) {
                /* (RTM_NEWNSID's own notification carries our sequence number too: its ack ends it.) */
                w->req_nsid = nsid_attribute(nlh);
                w->req_error = 0;
                w->req_done = true;
        }
}

static void event_address(NetnsWatch *w, const struct nlmsghdr *nlh, int32_t nsid) {
        NetnsEntry *e = entry_find(w, nsid);
        const struct ifaddrmsg *ifa;
        AddressRecord rec;
        WatchAddress a;
        bool add;
        int r;

        if (!e || w->overrun)
                return;
        r = inside_parse_address(nlh, &rec);
        if (r < 0)
                return;
        ifa = mnl_nlmsg_get_payload(nlh);
        a = (WatchAddress) { .ifindex = (int32_t) ifa->ifa_index, .family = (uint8_t) rec.family,
                             .prefixlen = ifa->ifa_prefixlen };
        memcpy(a.bytes, rec.bytes, rec.size);
        /* A RTM_NEWADDR of an address in DAD, or deprecated now, takes it out of the list. */
        add = nlh->nlmsg_type == RTM_NEWADDR && r > 0;
        if (w->dumping == e)
                (void) set_apply(&e->fresh, &a, add);
        if (!e->known)
                return;
        if (e->current.overflow) {
                entry_want_redump(e);
                return;
        }
        if (set_apply(&e->current, &a, add)) {
                if (e->current.overflow)
                        entry_want_redump(e);
                entry_publish(e);
        }
}

/* NSID: the nsid the message came from (a cmsg), or NETNSA_NSID_NOT_ASSIGNED: our namespace. */
static void watch_process(NetnsWatch *w, const struct nlmsghdr *nlh, int32_t nsid) {
        if (nsid == NETNSA_NSID_NOT_ASSIGNED && nlh->nlmsg_pid == w->portid && nlh->nlmsg_seq != 0) {
                if (nlh->nlmsg_seq == w->dump_seq)
                        dump_process(w, nlh);
                else if (nlh->nlmsg_seq == w->req_seq)
                        request_process(w, nlh);
                return;
        }
        switch (nlh->nlmsg_type) {
        case RTM_NEWADDR:
        case RTM_DELADDR:
                if (nsid != NETNSA_NSID_NOT_ASSIGNED)
                        event_address(w, nlh, nsid);
                break;
        case RTM_DELNSID:
                /* Only our namespace's: nsids that other namespaces give are no business of ours. */
                if (nsid == NETNSA_NSID_NOT_ASSIGNED) {
                        NetnsEntry *e = entry_find(w, nsid_attribute(nlh));

                        /* The namespace died: its machines are gone or going; one whose leader
                         * lives on elsewhere is looked at again at the next list. */
                        if (e) {
                                AddressSet none = {};

                                for (Machine *i = e->machines; i; i = i->info.netns_next)
                                        machine_publish(i, &none, watch_now(w));
                                entry_drop(e, NETNS_UNTRIED);
                        }
                }
                break;
        }
}

/* One datagram: 1, or -EAGAIN when none is queued, -ENOBUFS after an overrun. */
static int watch_receive(NetnsWatch *w) {
        struct sockaddr_nl sa = {};
        union {
                struct cmsghdr h;
                uint8_t buf[CMSG_SPACE(sizeof(int32_t))];
        } control;
        struct iovec iov = { .iov_base = w->buf, .iov_len = WATCH_BUF_SIZE };
        struct msghdr mh = {
                .msg_name = &sa, .msg_namelen = sizeof sa, .msg_iov = &iov, .msg_iovlen = 1,
                .msg_control = &control, .msg_controllen = sizeof control,
        };
        int32_t nsid = NETNSA_NSID_NOT_ASSIGNED;
        const struct nlmsghdr *nlh;
        ssize_t n;
        int len;

        n = recvmsg(mnl_socket_get_fd(w->nl), &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0) {
                if (errno == ENOBUFS) {
                        w->overrun = true;
                        watch_schedule(w);
                }
                return negative_errno();
        }
        if (mh.msg_flags & MSG_TRUNC) {
                w->overrun = true;
                watch_schedule(w);
                return 1;
        }
        /* Only the kernel's messages (root could send us others). */
        if (mh.msg_namelen < sizeof sa || sa.nl_pid != 0)
                return 1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_NETLINK && c->cmsg_type == NETLINK_LISTEN_ALL_NSID &&
                    c->cmsg_len >= CMSG_LEN(sizeof(int32_t)))
                        memcpy(&nsid, CMSG_DATA(c), sizeof nsid);
        if (nsid == w->self_nsid)
                nsid = NETNSA_NSID_NOT_ASSIGNED;
        len = (int) n;
        for (nlh = (const struct nlmsghdr *) w->buf; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
                watch_process(w, nlh, nsid);
        return 1;
}

/* Sends the request NLH and handles what the socket has until its answer (the kernel answers a
 * request before sendmsg() returns, so this never waits). */
static int watch_request(NetnsWatch *w, struct nlmsghdr *nlh) {
        int r;

        nlh->nlmsg_seq = w->req_seq = watch_next_seq(w);
        w->req_type = nlh->nlmsg_type;
        w->req_done = false;
        w->req_error = -ETIMEDOUT;
        w->req_nsid = NETNSA_NSID_NOT_ASSIGNED;
        if (mnl_socket_sendto(w->nl, nlh, nlh->nlmsg_len) < 0) {
                w->req_seq = 0;
                return negative_errno();
        }
        do {
                r = watch_receive(w);
                /* Answers may be lost in an overrun: the resync looks at the machine again. */
        } while (!w->req_done && (r > 0 || r == -ENOBUFS || r == -EINTR));
        w->req_seq = 0;
        return w->req_error;
}

static int watch_nsid_request(NetnsWatch *w, int type, int ns_fd, int32_t *ret_nsid) {
        uint32_t buf[64] = {};
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct rtgenmsg *g;
        int r;

        nlh->nlmsg_type = (uint16_t) type;
        nlh->nlmsg_flags = NLM_F_REQUEST | (type == RTM_NEWNSID ? NLM_F_ACK : 0);
        g = mnl_nlmsg_put_extra_header(nlh, sizeof(struct rtgenmsg));
        g->rtgen_family = AF_UNSPEC;
        mnl_attr_put_u32(nlh, NETNSA_FD, (uint32_t) ns_fd);
        /* -1: the kernel picks the lowest free one. */
        if (type == RTM_NEWNSID)
                mnl_attr_put_u32(nlh, NETNSA_NSID, (uint32_t) NETNSA_NSID_NOT_ASSIGNED);
        r = watch_request(w, nlh);
        if (ret_nsid)
                *ret_nsid = w->req_nsid;
        return r;
}

/* The nsid NS_FD has in our namespace, given one now if it has none. */
static int watch_resolve_nsid(NetnsWatch *w, int ns_fd, int32_t *ret) {
        int32_t nsid = NETNSA_NSID_NOT_ASSIGNED;
        int r;

        r = watch_nsid_request(w, RTM_GETNSID, ns_fd, &nsid);
        if (r >= 0 && nsid < 0) {
                r = watch_nsid_request(w, RTM_NEWNSID, ns_fd, NULL);
                /* -EEXIST: someone (a veth's move) gave it one meanwhile. */
                if (r >= 0 || r == -EEXIST)
                        r = watch_nsid_request(w, RTM_GETNSID, ns_fd, &nsid);
        }
        if (r < 0)
                return r;
        if (nsid < 0)
                return -EADDRNOTAVAIL;
        *ret = nsid;
        return 0;
}

/* ---- resync ---- */

static void watch_resync(NetnsWatch *w) {
        Manager *m = w->manager;

        log_debug("Address watch: resyncing every watched network namespace.");
        w->overrun = false;
        w->n_resyncs++;
        /* Every mapping may be stale (a lost RTM_DELNSID): all are made anew. */
        for (size_t b = 0; b < NSID_BUCKETS; b++)
                while (w->buckets[b])
                        entry_drop(w->buckets[b], NETNS_UNTRIED);
        for (Machine *i = m->machines; i; i = i->next)
                if (i->info.netns_state == NETNS_UNTRIED && i->class == MACHINE_CONTAINER && i->leader_pidfd >= 0)
                        (void) netns_watch_add(w, i);
}

static int on_resync_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        NetnsWatch *w = userdata;

        w->resync_last = watch_now(w);
        if (w->overrun)
                watch_resync(w);
        else
                for (size_t b = 0; b < NSID_BUCKETS; b++)
                        for (NetnsEntry *e = w->buckets[b]; e; e = e->bucket_next)
                                if (e->redump) {
                                        e->redump = false;
                                        entry_queue(e);
                                }
        watch_kick(w);
        return 0;
}

/* At most one resync tick per NETNS_RESYNC_USEC. */
static void watch_schedule(NetnsWatch *w) {
        uint64_t when = MAX(watch_now(w), w->resync_last ? w->resync_last + NETNS_RESYNC_USEC : 0);
        int enabled = SD_EVENT_OFF, r;

        if (w->resync_timer) {
                (void) sd_event_source_get_enabled(w->resync_timer, &enabled);
                if (enabled != SD_EVENT_OFF)
                        return;
                r = sd_event_source_set_time(w->resync_timer, when);
                if (r >= 0)
                        r = sd_event_source_set_enabled(w->resync_timer, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time(w->manager->event, &w->resync_timer, CLOCK_MONOTONIC, when, 1000,
                                      on_resync_timer, w);
        if (r < 0)
                log_warning_errno(r, "Failed to schedule the address watch's resync: %m");
}

/* ---- the socket ---- */

static int on_watch_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        NetnsWatch *w = userdata;

        for (unsigned k = 0; k < WATCH_BUDGET; k++) {
                int r = watch_receive(w);

                if (r < 0 && r != -ENOBUFS && r != -EINTR)
                        break;
        }
        watch_kick(w);
        return 0;
}

void netns_watch_drain(NetnsWatch *w) {
        if (w)
                (void) on_watch_io(NULL, -EBADF, 0, w);
}

int netns_watch_new(Manager *m, NetnsWatch **ret) {
        static const unsigned groups[] = { RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_NSID };
        _cleanup_close_ int self_fd = -EBADF;
        NetnsWatch *w;
        struct stat st;
        int one = 1, size = WATCH_RCVBUF, fd, r;

        if (stat("/proc/self/ns/net", &st) < 0)
                return negative_errno();
        w = calloc(1, sizeof(NetnsWatch));
        if (!w)
                return -ENOMEM;
        w->manager = m;
        w->own_dev = st.st_dev;
        w->own_ino = st.st_ino;
        w->buf = malloc(WATCH_BUF_SIZE);
        w->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (!w->buf || !w->nl) {
                r = w->nl ? -ENOMEM : negative_errno();
                goto fail;
        }
        fd = mnl_socket_get_fd(w->nl);
        if (mnl_socket_bind(w->nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
            setsockopt(fd, SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, &one, sizeof one) < 0 ||
            setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one) < 0) {
                r = negative_errno();
                goto fail;
        }
        for (size_t k = 0; k < ELEMENTSOF(groups); k++)
                if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &groups[k], sizeof groups[k]) < 0) {
                        r = negative_errno();
                        goto fail;
                }
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
                (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        w->portid = mnl_socket_get_portid(w->nl);
        w->self_nsid = NETNSA_NSID_NOT_ASSIGNED;
        self_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self_fd >= 0)
                (void) watch_nsid_request(w, RTM_GETNSID, self_fd, &w->self_nsid);
        r = sd_event_add_io(m->event, &w->io, fd, EPOLLIN, on_watch_io, w);
        if (r < 0)
                goto fail;
        *ret = w;
        return 0;
fail:
        netns_watch_free(w);
        return r;
}

NetnsWatch *netns_watch_free(NetnsWatch *w) {
        if (!w)
                return NULL;
        for (size_t b = 0; b < NSID_BUCKETS; b++)
                while (w->buckets[b])
                        entry_drop(w->buckets[b], NETNS_UNTRIED);
        sd_event_source_disable_unref(w->io);
        sd_event_source_disable_unref(w->resync_timer);
        if (w->nl)
                mnl_socket_close(w->nl);
        free(w->buf);
        free(w);
        return NULL;
}

/* The leader's network namespace, opened through its /proc directory, which the pidfd shows is
 * still the registered leader's (a recycled PID has another directory). */
static int machine_open_netns(Machine *machine, struct stat *ret_st) {
        _cleanup_close_ int proc_fd = machine_open_proc(machine), fd = -EBADF;

        if (proc_fd < 0)
                return proc_fd;
        fd = openat(proc_fd, "ns/net", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : negative_errno();
        if (pidfd_send_signal(machine->leader_pidfd, 0, NULL, 0) < 0)
                return -ESRCH;
        if (fstat(fd, ret_st) < 0)
                return negative_errno();
        return TAKE_FD(fd);
}

int netns_watch_add(NetnsWatch *w, Machine *machine) {
        _cleanup_close_ int ns_fd = -EBADF;
        NetnsEntry *e;
        struct stat st;
        int32_t nsid = NETNSA_NSID_NOT_ASSIGNED;
        int r;

        netns_watch_remove(machine);
        ns_fd = machine_open_netns(machine, &st);
        if (ns_fd < 0) {
                machine->info.netns_state = NETNS_FAILED;
                return ns_fd;
        }
        if (st.st_dev == w->own_dev && st.st_ino == w->own_ino) {
                machine->info.netns_state = NETNS_HOST;
                return 0;
        }
        r = watch_resolve_nsid(w, ns_fd, &nsid);
        if (r < 0) {
                log_debug_errno(r, "Cannot watch the addresses of machine %s, reading them when asked: %m",
                                machine->name);
                /* An answer lost in an overrun: tried again (the resync, or the next list). */
                machine->info.netns_state = r == -ETIMEDOUT ? NETNS_UNTRIED : NETNS_FAILED;
                return r;
        }
        e = entry_find(w, nsid);
        /* A lost RTM_DELNSID left an entry of another namespace with this nsid: never join it. */
        if (e && (e->dev != st.st_dev || e->ino != st.st_ino)) {
                entry_drop(e, NETNS_UNTRIED);
                e = NULL;
        }
        if (!e) {
                e = entry_new(w, nsid, &st);
                if (!e) {
                        machine->info.netns_state = NETNS_FAILED;
                        return -ENOMEM;
                }
                entry_queue(e);
        }
        machine->info.netns = e;
        machine->info.netns_next = e->machines;
        e->machines = machine;
        machine->info.netns_state = NETNS_WATCHED;
        if (e->known)
                machine_publish(machine, &e->current, watch_now(w));
        watch_kick(w);
        return 1;
}

void netns_watch_remove(Machine *machine) {
        NetnsEntry *e = machine->info.netns;
        Machine **p;

        if (!e)
                return;
        for (p = &e->machines; *p && *p != machine; p = &(*p)->info.netns_next)
                ;
        if (*p)
                *p = machine->info.netns_next;
        machine->info.netns = NULL;
        machine->info.netns_next = NULL;
        machine->info.netns_state = NETNS_UNTRIED;
        if (!e->machines)
                entry_drop(e, NETNS_UNTRIED);
}

unsigned netns_watch_n_entries(const NetnsWatch *w) {
        return w ? w->n_entries : 0;
}

int netns_watch_fd(const NetnsWatch *w) {
        return mnl_socket_get_fd(w->nl);
}

unsigned netns_watch_n_resyncs(const NetnsWatch *w) {
        return w->n_resyncs;
}
