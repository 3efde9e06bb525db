/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Looking inside a running container: os-release, addresses, UID mapping, hostname, its root. */
#include <fcntl.h>
#include <limits.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "bus-errors.h"
#include "fd-util.h"
#include "log.h"
#include "machine-dbus.h"
#include "machine-files.h"
#include "machine-inside.h"
#include "manager.h"
#include "manager-dbus.h"
#include "resolve.h"

/* A container that keeps us waiting (a FUSE /etc, say) must not keep a caller waiting forever. */
#define INSIDE_QUERY_TIMEOUT_USEC (10ULL * 1000000ULL)
#define INSIDE_REPLY_MAX (1024U * 1024U)
/* Properties are answered synchronously: the child only asks the kernel, never the container. */
#define INSIDE_SYNC_TIMEOUT_MS 2000

static const char *const image_pools[] = {
        "/var/lib/machines",
        "/usr/local/lib/machines",
        "/usr/lib/machines",
        "/var/lib/container",
};

int id_map_parse(const char *text, IdRange **ret, size_t *ret_n) {
        _cleanup_free_ IdRange *v = NULL;
        size_t n = 0;

        for (const char *p = text; *p;) {
                unsigned long long a, b, c;
                IdRange *nv;
                int k = 0;

                if (sscanf(p, " %llu %llu %llu%n", &a, &b, &c, &k) != 3 || k == 0)
                        return -EBADMSG;
                if (a > UINT32_MAX || b > UINT32_MAX || c == 0 || c > UINT32_MAX ||
                    a + c > (unsigned long long) UINT32_MAX + 1 || b + c > (unsigned long long) UINT32_MAX + 1)
                        return -EBADMSG;
                nv = realloc(v, (n + 1) * sizeof(IdRange));
                if (!nv)
                        return -ENOMEM;
                v = nv;
                v[n++] = (IdRange) { .inside = (uint32_t) a, .outside = (uint32_t) b, .count = (uint32_t) c };
                p += k;
                p += strspn(p, " \t\n");
        }
        if (n == 0)
                return -ENODATA;
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

bool id_map_is_identity(const IdRange *r, size_t n) {
        return n == 1 && r[0].inside == 0 && r[0].outside == 0 && r[0].count == UINT32_MAX;
}

int id_map_shift(const IdRange *r, size_t n, uint32_t *ret) {
        if (id_map_is_identity(r, n)) {
                *ret = 0;
                return 0;
        }
        if (n != 1 || r[0].inside != 0)
                return -ENXIO;
        *ret = r[0].outside;
        return 0;
}

int id_map_to_outside(const IdRange *r, size_t n, uint32_t inside, uint32_t *ret) {
        for (size_t i = 0; i < n; i++)
                if (inside >= r[i].inside && inside - r[i].inside < r[i].count) {
                        *ret = r[i].outside + (inside - r[i].inside);
                        return 0;
                }
        return -ESRCH;
}

int id_map_to_inside(const IdRange *r, size_t n, uint32_t outside, uint32_t *ret) {
        for (size_t i = 0; i < n; i++)
                if (outside >= r[i].outside && outside - r[i].outside < r[i].count) {
                        *ret = r[i].inside + (outside - r[i].outside);
                        return 0;
                }
        return -ESRCH;
}

/* One os-release value: quotes removed, backslash escapes resolved (only those the shell resolves
 * inside double quotes, and any outside quotes). NULL when unterminated. */
static char *os_release_unquote(const char *s, size_t len) {
        _cleanup_free_ char *out = malloc(len + 1);
        char quote = 0;
        size_t k = 0;

        if (!out)
                return NULL;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];

                if (quote == '\'') {
                        if (c == '\'')
                                quote = 0;
                        else
                                out[k++] = c;
                } else if (c == '\\' && i + 1 < len &&
                           (quote == 0 || strchr("\"\\$`", s[i + 1]))) {
                        out[k++] = s[++i];
                } else if (quote == '"' && c == '"') {
                        quote = 0;
                } else if (quote == 0 && (c == '"' || c == '\'')) {
                        quote = c;
                } else {
                        out[k++] = c;
                }
        }
        if (quote != 0)
                return NULL;
        out[k] = 0;
        return TAKE_PTR(out);
}

static void strv_free_array(char **l) {
        for (char **i = l; i && *i; i++)
                free(*i);
        free(l);
}

int os_release_parse(const char *text, char ***ret) {
        char **l = NULL;
        size_t n = 0;

        for (const char *p = text; *p;) {
                const char *eol = strchrnul(p, '\n'), *eq, *v, *e;
                char *key = NULL, *value = NULL, **nl;

                p += strspn(p, " \t");
                eq = memchr(p, '=', (size_t) (eol - p));
                if (*p == '#' || !eq || eq == p || strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != (size_t) (eq - p))
                        goto next;
                v = eq + 1;
                e = eol;
                while (e > v && strchr(" \t\r", e[-1]))
                        e--;
                value = os_release_unquote(v, (size_t) (e - v));
                if (!value)
                        goto next;
                key = strndup(p, (size_t) (eq - p));
                nl = key ? realloc(l, (n + 3) * sizeof(char *)) : NULL;
                if (!nl) {
                        free(key);
                        free(value);
                        strv_free_array(l);
                        return -ENOMEM;
                }
                l = nl;
                l[n++] = key;
                l[n++] = value;
                l[n] = NULL;
        next:
                p = *eol ? eol + 1 : eol;
        }
        if (!l && !(l = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret = l;
        return 0;
}

const char *image_name_from_root(const char *root) {
        if (isempty(root))
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(image_pools); i++) {
                const char *rest = startswith(root, image_pools[i]);

                if (rest && rest[0] == '/' && rest[1] && !strchr(rest + 1, '/'))
                        return rest + 1;
        }
        return NULL;
}

/* A pidfd that still signals 0 means the process is alive now, so the PID we just resolved in
 * /proc could not have been recycled before. */
static int leader_check_alive(Machine *m) {
        if (m->leader_pidfd < 0)
                return -ESRCH;
        return RET_NERRNO(pidfd_send_signal(m->leader_pidfd, 0, NULL, 0));
}

int machine_open_proc(Machine *m) {
        _cleanup_close_ int fd = -EBADF;
        char p[32];
        int r;

        if (m->class != MACHINE_CONTAINER)
                return -EOPNOTSUPP;
        snprintf(p, sizeof p, "/proc/%i", (int) m->leader);
        fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : negative_errno();
        r = leader_check_alive(m);
        if (r < 0)
                return r;
        return TAKE_FD(fd);
}

int machine_open_root(Machine *m) {
        _cleanup_close_ int proc_fd = machine_open_proc(m), fd = -EBADF;

        if (proc_fd < 0)
                return proc_fd;
        fd = openat(proc_fd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : negative_errno();
        return TAKE_FD(fd);
}

int machine_read_id_map(Machine *m, bool group, IdRange **ret, size_t *ret_n) {
        _cleanup_close_ int proc_fd = machine_open_proc(m), fd = -EBADF;
        _cleanup_free_ char *text = NULL;
        int r;

        if (proc_fd < 0)
                return proc_fd;
        fd = openat(proc_fd, group ? "gid_map" : "uid_map", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : negative_errno();
        r = read_fd_full(fd, 64 * 1024, &text, NULL);
        if (r < 0)
                return r;
        r = leader_check_alive(m);
        if (r < 0)
                return r;
        return id_map_parse(text, ret, ret_n);
}

int machine_uid_shift(Machine *m, uint32_t *ret) {
        _cleanup_free_ IdRange *map = NULL;
        size_t n = 0;
        int r;

        r = machine_read_id_map(m, false, &map, &n);
        if (r < 0)
                return r;
        return id_map_shift(map, n, ret);
}

/* ---- children that look inside ---- */

typedef int (*ChildFunc)(void *userdata, int out_fd);

/* Forks a child running FUNC with the write end of a pipe; it exits with FUNC's errno. */
static int fork_child(ChildFunc func, void *userdata, pid_t *ret_pid, int *ret_fd) {
        _cleanup_close_pair_ int pipefd[2] = { -EBADF, -EBADF };
        pid_t pid;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return negative_errno();
        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                int r;

                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                pipefd[0] = safe_close(pipefd[0]);
                r = func(userdata, pipefd[1]);
                _exit(r < 0 ? MIN(-r, 255) : 0);
        }
        *ret_pid = pid;
        *ret_fd = TAKE_FD(pipefd[0]);
        return 0;
}

/* The child's errno from its wait status. */
static int child_result(pid_t pid) {
        int status = 0;

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return negative_errno();
        if (WIFEXITED(status))
                return -WEXITSTATUS(status);
        return -EINTR;
}

/* Runs FUNC in a child and collects at most SIZE-1 bytes of its output, NUL-terminated. */
static int run_child_sync(ChildFunc func, void *userdata, char *buf, size_t size, size_t *ret_n) {
        _cleanup_close_ int fd = -EBADF;
        size_t n = 0;
        pid_t pid;
        int r;

        r = fork_child(func, userdata, &pid, &fd);
        if (r < 0)
                return r;
        for (;;) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                ssize_t k;

                r = poll(&pfd, 1, INSIDE_SYNC_TIMEOUT_MS);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0) {
                        (void) kill(pid, SIGKILL);
                        (void) child_result(pid);
                        return r < 0 ? negative_errno() : -ETIMEDOUT;
                }
                k = read(fd, buf + n, size - 1 - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                n += (size_t) k;
                if (n == size - 1)
                        break;
        }
        (void) kill(pid, SIGKILL); /* it is done, or said too much */
        r = child_result(pid);
        if (r == -EINTR && n < size - 1)
                r = -EIO;
        if (r < 0 && r != -EINTR)
                return r;
        buf[n] = 0;
        if (ret_n)
                *ret_n = n;
        return 0;
}

/* A D-Bus call answered once its child is done, from the event loop. */
typedef int (*QueryReplyFunc)(sd_bus_message *message, const char *buf, size_t n, sd_bus_error *error);

typedef struct InsideQuery {
        sd_bus_message *message;
        QueryReplyFunc reply;
        pid_t pid;
        sd_event_source *io;
        sd_event_source *timer;
        char *buf;
        size_t n;
} InsideQuery;

static void query_free(void *p) {
        InsideQuery *q = p;

        if (q->pid > 0) {
                (void) kill(q->pid, SIGKILL);
                (void) child_result(q->pid);
        }
        sd_event_source_disable_unref(q->timer);
        sd_bus_message_unref(q->message);
        free(q->buf);
        free(q);
}

static void query_finish(InsideQuery *q, int r) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_event_source *io = q->io;

        if (r >= 0)
                r = q->reply(q->message, q->buf ?: "", q->n, &error);
        if (r < 0 || sd_bus_error_is_set(&error)) {
                if (!sd_bus_error_is_set(&error))
                        sd_bus_error_set_errnof(&error, r, "Failed to look inside the machine: %m");
                (void) sd_bus_reply_method_error(q->message, &error);
        }
        /* The event loop's reference on the floating io source is the only one, and the source
         * owns Q: unfloating it frees both (once its own dispatch returns, if it is running). */
        (void) sd_event_source_set_enabled(io, SD_EVENT_OFF);
        (void) sd_event_source_set_floating(io, false);
}

static int on_query_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        InsideQuery *q = userdata;
        char chunk[4096];
        ssize_t k;
        int r;

        k = read(fd, chunk, sizeof chunk);
        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (k > 0) {
                char *nb;

                if (q->n + (size_t) k > INSIDE_REPLY_MAX) {
                        query_finish(q, -EFBIG);
                        return 0;
                }
                nb = realloc(q->buf, q->n + (size_t) k + 1);
                if (!nb) {
                        query_finish(q, -ENOMEM);
                        return 0;
                }
                q->buf = nb;
                memcpy(q->buf + q->n, chunk, (size_t) k);
                q->n += (size_t) k;
                q->buf[q->n] = 0;
                return 0;
        }
        /* EOF: the child closes its end only by exiting. */
        r = k < 0 ? negative_errno() : child_result(q->pid);
        q->pid = 0;
        query_finish(q, r);
        return 0;
}

static int on_query_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        query_finish(userdata, -ETIMEDOUT);
        return 0;
}

/* Forks FUNC and returns 1: the reply comes from REPLY once the child is done. */
static int query_start(Manager *m, sd_bus_message *message, ChildFunc func, void *userdata,
                       QueryReplyFunc reply) {
        _cleanup_close_ int fd = -EBADF;
        uint64_t now_usec = 0;
        InsideQuery *q;
        int r;

        q = calloc(1, sizeof(InsideQuery));
        if (!q)
                return -ENOMEM;
        q->message = sd_bus_message_ref(message);
        q->reply = reply;
        r = fork_child(func, userdata, &q->pid, &fd);
        if (r < 0) {
                query_free(q);
                return r;
        }
        r = sd_event_add_io(m->event, &q->io, fd, EPOLLIN, on_query_io, q);
        if (r < 0) {
                query_free(q);
                return r;
        }
        TAKE_FD(fd);
        (void) sd_event_source_set_io_fd_own(q->io, true);
        (void) sd_event_source_set_destroy_callback(q->io, query_free);
        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &now_usec);
        r = sd_event_add_time(m->event, &q->timer, CLOCK_MONOTONIC, now_usec + INSIDE_QUERY_TIMEOUT_USEC,
                              0, on_query_timeout, q);
        if (r >= 0)
                r = sd_event_source_set_floating(q->io, true);
        if (r < 0) {
                sd_event_source_unref(q->io); /* frees Q */
                return r;
        }
        sd_event_source_unref(q->io); /* the event loop holds it now */
        return 1;
}

/* ---- what the children do ---- */

static int child_os_release(void *userdata, int out_fd) {
        int root_fd = *(int *) userdata;
        _cleanup_free_ char *text = NULL;
        int r;

        r = read_file_in_root(root_fd, "/etc/os-release", 64 * 1024, &text);
        if (r == -ENOENT)
                r = read_file_in_root(root_fd, "/usr/lib/os-release", 64 * 1024, &text);
        if (r < 0)
                return r;
        return write_all(out_fd, text, strlen(text));
}

typedef struct NetlinkDump {
        int out_fd;
        int type;
        int error;
} NetlinkDump;

int inside_parse_address(const struct nlmsghdr *nlh, AddressRecord *rec) {
        const struct ifaddrmsg *ifa;
        const struct nlattr *attr, *addr = NULL, *local = NULL;
        uint32_t flags;

        *rec = (AddressRecord) {};
        if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*ifa)))
                return -EBADMSG;
        ifa = mnl_nlmsg_get_payload(nlh);
        flags = ifa->ifa_flags;
        mnl_attr_for_each(attr, nlh, sizeof(*ifa)) {
                if (mnl_attr_get_type(attr) == IFA_ADDRESS)
                        addr = attr;
                else if (mnl_attr_get_type(attr) == IFA_LOCAL)
                        local = attr;
                else if (mnl_attr_get_type(attr) == IFA_FLAGS && mnl_attr_get_payload_len(attr) >= 4)
                        flags = mnl_attr_get_u32(attr);
        }
        /* On point-to-point links IFA_ADDRESS is the peer; IFA_LOCAL is ours. */
        if (local)
                addr = local;
        if (!addr || (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
                return -EBADMSG;
        rec->family = ifa->ifa_family;
        rec->size = ifa->ifa_family == AF_INET ? 4 : 16;
        if (mnl_attr_get_payload_len(addr) != rec->size)
                return -EBADMSG;
        memcpy(rec->bytes, mnl_attr_get_payload(addr), rec->size);
        /* Like machined: what others can reach, so no loopback and no address still in DAD. */
        return !(ifa->ifa_scope >= RT_SCOPE_HOST || (flags & (IFA_F_DEPRECATED | IFA_F_TENTATIVE)));
}

static int on_addr(const struct nlmsghdr *nlh, void *userdata) {
        NetlinkDump *d = userdata;
        AddressRecord rec;

        if (inside_parse_address(nlh, &rec) <= 0)
                return MNL_CB_OK;
        d->error = write_all(d->out_fd, &rec, sizeof rec);
        return d->error < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

/* Dumps the addresses of the network namespace we are in. */
static int rtnl_dump(NetlinkDump *d) {
        char buf[32768]; /* what the kernel puts in one dump message at most */
        struct mnl_socket *nl;
        struct nlmsghdr *nlh;
        struct rtgenmsg *g;
        unsigned seq = 1, portid;
        int r = 0;

        nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!nl)
                return negative_errno();
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                r = negative_errno();
                goto finish;
        }
        portid = mnl_socket_get_portid(nl);
        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = (uint16_t) d->type;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        nlh->nlmsg_seq = seq;
        g = mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifaddrmsg));
        g->rtgen_family = AF_UNSPEC;
        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
                r = negative_errno();
                goto finish;
        }
        for (;;) {
                ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof buf);

                if (n < 0) {
                        r = negative_errno();
                        break;
                }
                n = mnl_cb_run(buf, (size_t) n, seq, portid, on_addr, d);
                if (n <= MNL_CB_STOP) {
                        r = n < 0 ? (d->error < 0 ? d->error : negative_errno()) : 0;
                        break;
                }
        }
finish:
        mnl_socket_close(nl);
        return r;
}

int inside_dump_addresses(int out_fd) {
        NetlinkDump d = { .out_fd = out_fd, .type = RTM_GETADDR };

        return rtnl_dump(&d);
}

typedef struct NsChild {
        int pidfd;
        int type; /* RTM_GETADDR, or 0 for the hostname */
} NsChild;

static int child_in_ns(void *userdata, int out_fd) {
        NsChild *c = userdata;
        NetlinkDump d = { .out_fd = out_fd, .type = c->type };
        struct utsname u;

        if (c->type == 0) {
                if (setns(c->pidfd, CLONE_NEWUTS) < 0 || uname(&u) < 0)
                        return negative_errno();
                return write_all(out_fd, u.nodename, strlen(u.nodename));
        }
        if (setns(c->pidfd, CLONE_NEWNET) < 0)
                return negative_errno();
        return rtnl_dump(&d);
}

/* ---- D-Bus ---- */

/* The error for a failure to reach the machine's leader or its files. */
static int inside_error(sd_bus_error *error, Machine *m, int r, const char *what) {
        if (r == -EOPNOTSUPP)
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                         "%s is only supported for containers", what);
        if (r == -ESRCH)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_MACHINE,
                                         "The leader of machine '%s' is gone", m->name);
        return sd_bus_error_set_errnof(error, r, "Failed to read %s of machine %s: %m", what, m->name);
}

static int reply_os_release(sd_bus_message *message, const char *buf, size_t n, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        char **l = NULL;
        int r;

        if (strlen(buf) != n)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "os-release contains a NUL byte");
        r = os_release_parse(buf, &l);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_return(message, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "{ss}");
        for (char **i = l; r >= 0 && *i; i += 2)
                r = sd_bus_message_append(reply, "{ss}", i[0], i[1]);
        strv_free_array(l);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_get_os_release(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Machine *machine = userdata;
        _cleanup_close_ int root_fd = machine_open_root(machine);

        if (root_fd < 0)
                return inside_error(error, machine, root_fd, "os-release");
        return query_start(machine->manager, message, child_os_release, &root_fd, reply_os_release);
}

static int reply_addresses(sd_bus_message *message, const char *buf, size_t n, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(iay)");
        for (size_t off = 0; r >= 0 && off + sizeof(AddressRecord) <= n; off += sizeof(AddressRecord)) {
                AddressRecord rec;

                memcpy(&rec, buf + off, sizeof rec);
                r = sd_bus_message_open_container(reply, 'r', "iay");
                if (r >= 0)
                        r = sd_bus_message_append(reply, "i", rec.family);
                if (r >= 0)
                        r = sd_bus_message_append_array(reply, 'y', rec.bytes, MIN(rec.size, 16U));
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* 1 when the leader shares our network namespace. */
static int leader_in_our_netns(Machine *m) {
        _cleanup_close_ int proc_fd = machine_open_proc(m);
        struct stat a, b;

        if (proc_fd < 0)
                return proc_fd;
        if (fstatat(proc_fd, "ns/net", &a, 0) < 0 || stat("/proc/self/ns/net", &b) < 0)
                return negative_errno();
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int method_get_addresses(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Machine *machine = userdata;
        NsChild c = { .pidfd = machine->leader_pidfd, .type = RTM_GETADDR };
        int r;

        r = leader_in_our_netns(machine);
        if (r < 0)
                return inside_error(error, machine, r, "the addresses");
        if (r > 0)
                return sd_bus_error_setf(error, BUS_ERROR_NO_PRIVATE_NETWORKING,
                                         "Machine %s does not use private networking", machine->name);
        /* The address watch has them, current: no child to fork. */
        r = machine_cache_reply_addresses(machine->manager, machine, message);
        if (r != 0)
                return r;
        return query_start(machine->manager, message, child_in_ns, &c, reply_addresses);
}

static int method_get_uid_shift(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Machine *machine = userdata;
        uint32_t shift = 0;
        int r;

        r = machine_uid_shift(machine, &shift);
        if (r == -ENXIO)
                return sd_bus_error_setf(error, BUS_ERROR_NO_UID_SHIFT,
                                         "Machine %s uses a complex UID/GID mapping, cannot determine shift",
                                         machine->name);
        if (r < 0)
                return inside_error(error, machine, r, "the UID shift");
        return sd_bus_reply_method_return(message, "u", shift);
}

static int method_open_root_directory(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Machine *machine = userdata;
        _cleanup_close_ int fd = -EBADF;
        const char *details[] = { "machine", machine->name, "verb", "open_root_directory", NULL };
        int r;

        r = polkit_verify_async(message, "org.berth.machine1.manage-machines", details,
                                &machine->manager->polkit_registry, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;
        fd = machine_open_root(machine);
        if (fd < 0)
                return inside_error(error, machine, fd, "the root directory");
        return sd_bus_reply_method_return(message, "h", fd);
}

#define DEFINE_BY_NAME(name, method)                                                               \
        static int name(sd_bus_message *message, void *userdata, sd_bus_error *error) {            \
                Machine *machine = NULL;                                                            \
                int r = bus_read_machine(userdata, message, &machine, error);                          \
                                                                                                    \
                if (r < 0)                                                                          \
                        return r;                                                                   \
                return method(message, machine, error);                                             \
        }

DEFINE_BY_NAME(method_get_machine_os_release, method_get_os_release)
DEFINE_BY_NAME(method_get_machine_addresses, method_get_addresses)
DEFINE_BY_NAME(method_get_machine_uid_shift, method_get_uid_shift)
DEFINE_BY_NAME(method_open_machine_root_directory, method_open_root_directory)

static int map_from(sd_bus_message *message, Manager *m, bool group, sd_bus_error *error) {
        _cleanup_free_ IdRange *map = NULL;
        Machine *machine = NULL;
        const char *name;
        uint32_t id, outer;
        size_t n = 0;
        int r;

        r = sd_bus_message_read(message, "su", &name, &id);
        if (r < 0)
                return r;
        if (id == UINT32_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid %s ID %u",
                                         group ? "group" : "user", id);
        r = bus_find_machine(m, name, &machine, error);
        if (r < 0)
                return r;
        r = machine_read_id_map(machine, group, &map, &n);
        if (r < 0)
                return inside_error(error, machine, r, group ? "the GID map" : "the UID map");
        r = id_map_to_outside(map, n, id, &outer);
        if (r < 0 || outer == UINT32_MAX)
                return sd_bus_error_setf(error, group ? BUS_ERROR_NO_SUCH_GROUP_MAPPING : BUS_ERROR_NO_SUCH_USER_MAPPING,
                                         "Machine '%s' has no matching %s mapping.", name, group ? "group" : "user");
        return sd_bus_reply_method_return(message, "u", outer);
}

static int map_to(sd_bus_message *message, Manager *m, bool group, sd_bus_error *error) {
        const char *err = group ? BUS_ERROR_NO_SUCH_GROUP_MAPPING : BUS_ERROR_NO_SUCH_USER_MAPPING;
        const char *kind = group ? "group" : "user";
        uint32_t id;
        int r;

        r = sd_bus_message_read(message, "u", &id);
        if (r < 0)
                return r;
        if (id == UINT32_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid %s ID %u", kind, id);
        /* The first 64K IDs are the host's own, by convention never handed to containers. */
        if (id < 0x10000)
                return sd_bus_error_setf(error, err, "%s %u belongs to the host's range", kind, id);

        for (Machine *i = m->machines; i; i = i->next) {
                _cleanup_free_ IdRange *map = NULL;
                _cleanup_free_ char *p = NULL;
                uint32_t inner;
                size_t n = 0;

                if (i->class != MACHINE_CONTAINER || machine_read_id_map(i, group, &map, &n) < 0)
                        continue;
                if (id_map_is_identity(map, n) || id_map_to_inside(map, n, id, &inner) < 0)
                        continue;
                r = machine_bus_path(i, &p);
                if (r < 0)
                        return r;
                return sd_bus_reply_method_return(message, "sou", i->name, p, inner);
        }
        return sd_bus_error_setf(error, err, "No matching %s mapping for %u.", kind, id);
}

static int method_map_from_user(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return map_from(message, userdata, false, error);
}
static int method_map_from_group(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return map_from(message, userdata, true, error);
}
static int method_map_to_user(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return map_to(message, userdata, false, error);
}
static int method_map_to_group(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return map_to(message, userdata, true, error);
}

static int property_get_image(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Machine *m = userdata;
        const char *name = strempty(image_name_from_root(m->root_directory));
        size_t n = strlen(name);

        /* A raw image registers its file as the root: its image name is the file's without
         * the suffix, as in the pool. */
        if (n > 4 && streq(name + n - 4, ".raw"))
                return sd_bus_message_append(reply, "s", strndupa(name, n - 4));
        return sd_bus_message_append(reply, "s", name);
}

/* Properties cannot fail politely (GetAll would fail with them): what cannot be read is empty. */
static int property_get_hostname(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Machine *m = userdata;
        NsChild c = { .pidfd = m->leader_pidfd, .type = 0 };
        char buf[HOST_NAME_MAX + 2] = "";

        if (m->class != MACHINE_CONTAINER || leader_check_alive(m) < 0 ||
            run_child_sync(child_in_ns, &c, buf, sizeof buf, NULL) < 0)
                buf[0] = 0;
        return sd_bus_message_append(reply, "s", buf);
}

static int property_get_uid_shift(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        uint32_t shift = UINT32_MAX;

        if (machine_uid_shift(userdata, &shift) < 0)
                shift = UINT32_MAX; /* unknown, or a complex mapping */
        return sd_bus_message_append(reply, "u", shift);
}

/* machined's meaning: the host-side interfaces given at registration (*WithNetwork), not the
 * links inside, which the host cannot name by index anyway (GetAddresses shows what the
 * container can be reached at). */
static int property_get_network_interfaces(sd_bus *bus, const char *path, const char *interface,
                                           const char *property, sd_bus_message *reply, void *userdata,
                                           sd_bus_error *error) {
        Machine *m = userdata;

        return sd_bus_message_append_array(reply, 'i', m->netif, m->n_netif * sizeof(int32_t));
}

const sd_bus_vtable inside_manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("GetMachineOSRelease", SD_BUS_ARGS("s", name), SD_BUS_RESULT("a{ss}", fields),
                                method_get_machine_os_release, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetMachineAddresses", SD_BUS_ARGS("s", name), SD_BUS_RESULT("a(iay)", addresses),
                                method_get_machine_addresses, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetMachineUIDShift", SD_BUS_ARGS("s", name), SD_BUS_RESULT("u", shift),
                                method_get_machine_uid_shift, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("MapFromMachineUser", SD_BUS_ARGS("s", name, "u", uid_inner),
                                SD_BUS_RESULT("u", uid_outer), method_map_from_user, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("MapToMachineUser", SD_BUS_ARGS("u", uid_outer),
                                SD_BUS_RESULT("s", machine_name, "o", machine_path, "u", uid_inner),
                                method_map_to_user, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("MapFromMachineGroup", SD_BUS_ARGS("s", name, "u", gid_inner),
                                SD_BUS_RESULT("u", gid_outer), method_map_from_group, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("MapToMachineGroup", SD_BUS_ARGS("u", gid_outer),
                                SD_BUS_RESULT("s", machine_name, "o", machine_path, "u", gid_inner),
                                method_map_to_group, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenMachineRootDirectory", SD_BUS_ARGS("s", name), SD_BUS_RESULT("h", fd),
                                method_open_machine_root_directory, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

const sd_bus_vtable inside_machine_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Image", "s", property_get_image, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Hostname", "s", property_get_hostname, 0, 0),
        SD_BUS_PROPERTY("UIDShift", "u", property_get_uid_shift, 0, 0),
        SD_BUS_PROPERTY("NetworkInterfaces", "ai", property_get_network_interfaces, 0,
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("GetOSRelease", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{ss}", fields),
                                method_get_os_release, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetAddresses", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(iay)", addresses),
                                method_get_addresses, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetUIDShift", SD_BUS_NO_ARGS, SD_BUS_RESULT("u", shift),
                                method_get_uid_shift, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenRootDirectory", SD_BUS_NO_ARGS, SD_BUS_RESULT("h", fd),
                                method_open_root_directory, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};
