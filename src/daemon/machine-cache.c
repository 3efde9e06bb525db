/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthd's cache of what lists show about each machine from inside it (os-release, addresses),
 * filled by one forked worker for all stale machines, and ListMachinesEx, which answers from it.
 *
 * Why this shape: a list of 1,000 machines used to cost 2,000 calls, each forking a child that
 * enters one machine. Here the registry answers in one call from memory, and the reading is
 * batched: one worker (a fork of berthd) walks every machine that needs it, entering each one's
 * network namespace in turn, and streams one record per machine back over a SOCK_SEQPACKET
 * socket. berthd keeps no fd per machine beyond the leader's pidfd (the worker inherits those),
 * and never reads inside a machine itself: a container that hangs a read (a FUSE /etc) stalls
 * the worker, which is killed after WORKER_IDLE_USEC, and only that machine is given up on.
 *
 * os-release is read once per machine (at registration, in a batch with the others registered
 * within BATCH_DELAY_USEC). Addresses come from the address watch (netns-watch.c: one rtnetlink
 * socket hearing every machine's namespace), so they are always current and no list waits for
 * them; only a machine the watch cannot follow (it shares our namespace, or the kernel could not
 * give its namespace an nsid) has them read by the worker, again when someone lists and they are
 * older than MACHINE_ADDRESSES_TTL_USEC, so an idle host costs nothing. */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "log.h"
#include "machine-cache.h"
#include "machine-inside.h"
#include "manager.h"
#include "netns-watch.h"
#include "resolve.h"

/* Registrations within this delay share one worker. */
#define BATCH_DELAY_USEC (10ULL * 1000ULL)
/* A worker that reports nothing for this long is stuck in one machine. */
#define WORKER_IDLE_USEC (2ULL * 1000000ULL)
/* A read of the os-release this soon after registration may see the container half set up. */
#define OS_SETTLE_USEC (1ULL * 1000000ULL)
/* A longer os-release value is not kept (lists then ask GetMachineOSRelease). */
#define OS_VALUE_MAX 1024U
#define OS_BLOB_MAX (3U * OS_VALUE_MAX)

static const char *const os_keys[] = { "ID", "NAME", "PRETTY_NAME", "VERSION_ID", "VERSION" };

static void *mfree(void *p) {
        free(p);
        return NULL;
}

/* One per machine of a batch, worker to berthd; OS_SIZE bytes of "KEY\0VALUE\0" pairs and
 * N_ADDRESSES AddressRecords follow. */
typedef struct CacheRecord {
        uint32_t index;
        uint32_t host_network; /* the machine shares our network namespace */
        uint32_t host_root;    /* ... or our root directory (the os-release is the host's) */
        uint32_t os_present;   /* MACHINE_INFO_HAS_* */
        int32_t os_error;      /* 0, or why there is no os-release (-E2BIG: too long to keep) */
        int32_t addresses_error;
        uint32_t os_size;
        uint32_t n_addresses;
} CacheRecord;

#define RECORD_MAX (sizeof(CacheRecord) + OS_BLOB_MAX + MACHINE_ADDRESSES_MAX * sizeof(AddressRecord))

typedef struct BatchItem {
        Machine *machine; /* NULL once freed */
        pid_t leader;
        int pidfd;
        bool os;
        bool addresses;
} BatchItem;

typedef struct Waiter Waiter;
struct Waiter {
        MachineCache *cache;
        sd_bus_message *message;
        sd_event_source *timer;
        uint64_t batch; /* answered once this batch is done */
        Waiter *next;
};

struct MachineCache {
        Manager *manager;
        sd_event_source *batch_timer;
        sd_event_source *exit_source;

        /* The worker and its batch; pid 0 when none runs. */
        pid_t pid;
        sd_event_source *io;
        sd_event_source *idle_timer;
        BatchItem *items;
        size_t n_items;
        size_t n_done;
        uint64_t batch;    /* number of the batch running, or of the last one */
        bool rerun;        /* something became stale meanwhile: another batch after this one */

        Waiter *waiters;

        /* NULL when it could not be made: every machine is read the old way. */
        NetnsWatch *watch;
};

static uint64_t now_monotonic(Manager *m) {
        uint64_t t = 0;

        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &t);
        return t;
}

/* berth-spawn registers its leader while it still sets up the container: a read then may see
 * the host's root, or the host's mounts stacked on the new root between pivot_root() and the
 * detach of the old one. Such a read is provisional, and read again when a list asks. */
static bool info_os_wanted(const Machine *machine) {
        return (!machine->info.os_known || machine->info.os_provisional) && !machine->info.os_uncacheable;
}

static bool info_addresses_stale(const Machine *machine, uint64_t now) {
        const MachineInfo *i = &machine->info;

        /* The host's network too: a leader may leave it after registering. */
        return i->netns_state != NETNS_WATCHED && !i->addresses_uncacheable &&
               (i->addresses_usec == 0 || now >= i->addresses_usec + MACHINE_ADDRESSES_TTL_USEC);
}

/* A machine that is not a container has nothing to read: known, and empty, at once (as
 * GetMachineOSRelease and GetMachineAddresses answer it: not supported). */
static bool info_settle_non_container(Machine *machine, uint64_t now) {
        if (machine->class == MACHINE_CONTAINER && machine->leader_pidfd >= 0)
                return false;
        machine->info.os_known = true;
        machine->info.addresses_usec = now;
        return true;
}

/* Hands MACHINE's addresses to the watch, if it was not looked at yet. */
static void info_try_watch(MachineCache *c, Machine *machine) {
        if (!c || !c->watch || machine->info.netns_state != NETNS_UNTRIED ||
            machine->class != MACHINE_CONTAINER || machine->leader_pidfd < 0)
                return;
        (void) netns_watch_add(c->watch, machine);
}

/* ---- the worker (a fork of berthd) ---- */

/* What lists show of TEXT: "OS\0VERSION\0PRETTY\0" (ID or else NAME, VERSION_ID or else
 * VERSION, PRETTY_NAME or else NAME; the last of each key winning), and which of the three
 * exist (MACHINE_INFO_HAS_*). */
static int worker_os_blob(const char *text, char *blob, uint32_t *ret_size, uint32_t *ret_present) {
        static const uint32_t bits[] = { MACHINE_INFO_HAS_OS, MACHINE_INFO_HAS_VERSION, MACHINE_INFO_HAS_PRETTY_NAME };
        const char *found[ELEMENTSOF(os_keys)] = {}, *v[3];
        char **l = NULL;
        size_t n = 0;
        int r;

        *ret_size = *ret_present = 0;
        r = os_release_parse(text, &l);
        if (r < 0)
                return r;
        for (char **i = l; *i; i += 2)
                for (size_t k = 0; k < ELEMENTSOF(os_keys); k++)
                        if (streq(i[0], os_keys[k]))
                                found[k] = i[1];
        v[0] = found[0] ?: found[1];
        v[1] = found[3] ?: found[4];
        v[2] = found[2] ?: found[1];
        for (size_t k = 0; k < 3 && r >= 0; k++) {
                size_t vl = strlen(strempty(v[k])) + 1;

                if (vl > OS_VALUE_MAX) {
                        r = -E2BIG;
                        break;
                }
                memcpy(blob + n, strempty(v[k]), vl);
                n += vl;
                if (v[k])
                        *ret_present |= bits[k];
        }
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
        *ret_size = (uint32_t) n;
        return r < 0 ? r : 0;
}

static int worker_os_release(int proc_fd, const struct stat *own_root, CacheRecord *rec, char *blob) {
        _cleanup_close_ int root_fd = openat(proc_fd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *text = NULL;
        struct stat st;
        int r;

        rec->os_size = 0;
        if (root_fd < 0)
                return errno == ENOENT ? -ESRCH : negative_errno();
        if (fstat(root_fd, &st) < 0)
                return negative_errno();
        rec->host_root = st.st_dev == own_root->st_dev && st.st_ino == own_root->st_ino;
        r = read_file_in_root(root_fd, "/etc/os-release", 64 * 1024, &text);
        if (r == -ENOENT)
                r = read_file_in_root(root_fd, "/usr/lib/os-release", 64 * 1024, &text);
        if (r < 0)
                return r;
        return worker_os_blob(text, blob, &rec->os_size, &rec->os_present);
}

/* The addresses of ITEM's network namespace, through MEMFD (inside_dump_addresses() writes to
 * an fd, and a memfd never fills up as a pipe would). */
static int worker_addresses(const BatchItem *item, int proc_fd, const struct stat *own_netns,
                            int memfd, CacheRecord *rec, AddressRecord *out) {
        struct stat st;
        off_t size;
        int r;

        if (fstatat(proc_fd, "ns/net", &st, 0) < 0)
                return errno == ENOENT ? -ESRCH : negative_errno();
        if (st.st_dev == own_netns->st_dev && st.st_ino == own_netns->st_ino) {
                rec->host_network = 1;
                return 0;
        }
        if (setns(item->pidfd, CLONE_NEWNET) < 0)
                return negative_errno();
        if (ftruncate(memfd, 0) < 0 || lseek(memfd, 0, SEEK_SET) < 0)
                return negative_errno();
        r = inside_dump_addresses(memfd);
        if (r < 0)
                return r;
        size = lseek(memfd, 0, SEEK_CUR);
        if (size < 0)
                return negative_errno();
        if ((size_t) size > MACHINE_ADDRESSES_MAX * sizeof(AddressRecord))
                return -E2BIG;
        if (pread(memfd, out, (size_t) size, 0) != size)
                return -EIO;
        rec->n_addresses = (uint32_t) ((size_t) size / sizeof(AddressRecord));
        return 0;
}

/* OWN: our network namespace and root directory, to tell a leader that shares them. */
static void worker_one(const BatchItem *item, uint32_t index, const struct stat own[2], int memfd,
                       int out_fd, uint8_t *buf) {
        CacheRecord *rec = (CacheRecord *) buf;
        char *blob = (char *) buf + sizeof(CacheRecord);
        _cleanup_close_ int proc_fd = -EBADF;
        char p[32];

        *rec = (CacheRecord) { .index = index, .os_error = -ENODATA, .addresses_error = -ENODATA };
        snprintf(p, sizeof p, "/proc/%i", (int) item->leader);
        proc_fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
        /* The pidfd still signals: the /proc directory we hold is the registered leader's. */
        if (proc_fd < 0 || pidfd_send_signal(item->pidfd, 0, NULL, 0) < 0) {
                rec->os_error = rec->addresses_error = -ESRCH;
        } else {
                if (item->os)
                        rec->os_error = worker_os_release(proc_fd, &own[1], rec, blob);
                if (rec->os_error < 0)
                        rec->os_size = 0;
                if (item->addresses) {
                        AddressRecord *a = (AddressRecord *) (void *) (blob + OS_BLOB_MAX);

                        rec->addresses_error = worker_addresses(item, proc_fd, &own[0], memfd, rec, a);
                        if (rec->addresses_error < 0)
                                rec->n_addresses = 0;
                        /* Pack the addresses right after the os-release pairs. */
                        memmove(blob + rec->os_size, a, rec->n_addresses * sizeof(AddressRecord));
                }
        }
        (void) send(out_fd, buf,
                    sizeof(CacheRecord) + rec->os_size + rec->n_addresses * sizeof(AddressRecord),
                    MSG_NOSIGNAL);
}

static _noreturn_ void worker_run(const BatchItem *items, size_t n, int out_fd) {
        _cleanup_free_ uint8_t *buf = malloc(RECORD_MAX);
        _cleanup_close_ int memfd = memfd_create("berthd-addresses", MFD_CLOEXEC);
        struct stat own[2];

        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (!buf || memfd < 0 || stat("/proc/self/ns/net", &own[0]) < 0 || stat("/", &own[1]) < 0)
                _exit(EXIT_FAILURE);
        for (size_t i = 0; i < n; i++)
                worker_one(&items[i], (uint32_t) i, own, memfd, out_fd, buf);
        _exit(EXIT_SUCCESS);
}

/* ---- berthd's side ---- */

static int reply_list(Manager *m, sd_bus_message *message);
static void cache_schedule(MachineCache *c, uint64_t delay);

static void waiter_free(Waiter *w) {
        Waiter **p;

        for (p = &w->cache->waiters; *p && *p != w; p = &(*p)->next)
                ;
        if (*p)
                *p = w->next;
        sd_event_source_disable_unref(w->timer);
        sd_bus_message_unref(w->message);
        free(w);
}

static void waiter_answer(Waiter *w) {
        Manager *m = w->cache->manager;
        int r;

        r = reply_list(m, w->message);
        if (r < 0)
                (void) sd_bus_reply_method_errnof(w->message, r, "Failed to list machines: %m");
        waiter_free(w);
}

static int on_waiter_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        waiter_answer(userdata);
        return 0;
}

/* Answers every call that waited for batch N or an earlier one. */
static void answer_waiters(MachineCache *c, uint64_t n) {
        Waiter *next;

        for (Waiter *w = c->waiters; w; w = next) {
                next = w->next;
                if (w->batch <= n)
                        waiter_answer(w);
        }
}

static void worker_stop(MachineCache *c) {
        if (c->pid > 0) {
                (void) kill(c->pid, SIGKILL);
                while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                c->pid = 0;
        }
        c->io = sd_event_source_disable_unref(c->io);
        c->idle_timer = sd_event_source_disable_unref(c->idle_timer);
        for (size_t i = 0; i < c->n_items; i++)
                if (c->items[i].machine)
                        c->items[i].machine->info.batch_slot = 0;
        c->items = mfree(c->items);
        c->n_items = c->n_done = 0;
}

/* The worker ended (EOF, or killed when stuck): the machine it did not report on is not read
 * by workers again, so that it cannot stall every batch; lists ask GetMachineOSRelease (with
 * its own timeout) for it, and its addresses are shown empty until the next read. */
static void worker_done(MachineCache *c) {
        uint64_t now = now_monotonic(c->manager);

        if (c->n_done < c->n_items && c->items[c->n_done].machine) {
                Machine *machine = c->items[c->n_done].machine;

                log_warning("Reading the os-release or addresses of machine %s failed or took too long, giving up on it.",
                            machine->name);
                machine->info.os_uncacheable = true;
                machine->info.addresses_usec = now;
        }
        worker_stop(c);
        answer_waiters(c, c->batch);
        if (c->rerun || c->waiters) {
                c->rerun = false;
                cache_schedule(c, c->waiters ? 0 : BATCH_DELAY_USEC);
        }
}

static void info_set_os(Machine *machine, const CacheRecord *rec, const char *blob, uint64_t now) {
        MachineInfo *i = &machine->info;

        i->os_release = mfree(i->os_release);
        i->os_present = 0;
        if (rec->os_error == -E2BIG) {
                i->os_uncacheable = true;
                return;
        }
        i->os_known = true;
        i->os_provisional = rec->host_root || now < machine->timestamp_monotonic + OS_SETTLE_USEC;
        /* Three NUL-terminated strings, or nothing known. */
        if (rec->os_error < 0 || rec->os_size == 0 || blob[rec->os_size - 1] != 0)
                return;
        i->os_release = malloc(rec->os_size);
        if (!i->os_release)
                return;
        memcpy(i->os_release, blob, rec->os_size);
        i->os_present = (uint8_t) rec->os_present;
}

static void info_set_addresses(MachineInfo *i, const CacheRecord *rec, const AddressRecord *a, uint64_t now) {
        size_t n = 0;

        if (rec->addresses_error == -E2BIG) {
                i->addresses_uncacheable = true;
                return;
        }
        i->addresses_usec = now;
        i->host_network = rec->host_network;
        i->addresses = mfree(i->addresses);
        i->addresses_size = 0;
        if (rec->addresses_error < 0 || rec->n_addresses == 0)
                return;
        i->addresses = malloc(rec->n_addresses * 17);
        if (!i->addresses)
                return;
        for (uint32_t k = 0; k < rec->n_addresses; k++) {
                uint8_t size = a[k].family == AF_INET ? 4 : a[k].family == AF_INET6 ? 16 : 0;

                if (size == 0 || a[k].size != size)
                        continue;
                i->addresses[n] = (uint8_t) a[k].family;
                memcpy(i->addresses + n + 1, a[k].bytes, size);
                n += 1 + size;
        }
        i->addresses_size = (uint16_t) n;
}

static void apply_record(MachineCache *c, const uint8_t *buf, size_t n) {
        const CacheRecord *rec = (const CacheRecord *) buf;
        const char *blob = (const char *) buf + sizeof(CacheRecord);
        BatchItem *item;

        if (n < sizeof(CacheRecord) || rec->index >= c->n_items || rec->os_size > OS_BLOB_MAX ||
            rec->n_addresses > MACHINE_ADDRESSES_MAX ||
            n != sizeof(CacheRecord) + rec->os_size + rec->n_addresses * sizeof(AddressRecord))
                return;
        c->n_done = rec->index + 1;
        item = &c->items[rec->index];
        if (!item->machine)
                return;
        if (item->os)
                info_set_os(item->machine, rec, blob, now_monotonic(c->manager));
        /* (The watch took it over meanwhile: its addresses are newer.) */
        if (item->addresses && item->machine->info.netns_state != NETNS_WATCHED) {
                AddressRecord a[MACHINE_ADDRESSES_MAX];

                memcpy(a, blob + rec->os_size, rec->n_addresses * sizeof(AddressRecord));
                info_set_addresses(&item->machine->info, rec, a, now_monotonic(c->manager));
                /* It left our namespace since the watch looked: the watch follows it now. */
                if (rec->addresses_error >= 0 && !rec->host_network &&
                    item->machine->info.netns_state == NETNS_HOST) {
                        item->machine->info.netns_state = NETNS_UNTRIED;
                        info_try_watch(c, item->machine);
                }
        }
}

static int on_worker_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        MachineCache *c = userdata;
        _cleanup_free_ uint8_t *buf = malloc(RECORD_MAX);

        if (!buf)
                return 0; /* again on the next iteration */
        for (;;) {
                ssize_t n = recv(fd, buf, RECORD_MAX, MSG_DONTWAIT);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        break;
                if (n <= 0) {
                        worker_done(c);
                        return 0;
                }
                apply_record(c, buf, (size_t) n);
        }
        (void) sd_event_source_set_time_relative(c->idle_timer, WORKER_IDLE_USEC);
        return 0;
}

static int on_worker_idle(sd_event_source *s, uint64_t usec, void *userdata) {
        worker_done(userdata);
        return 0;
}

/* The machines to read now, in c->items; machines with nothing to read are settled here. */
static int collect_batch(MachineCache *c) {
        Manager *m = c->manager;
        uint64_t now = now_monotonic(m);
        size_t n = 0;

        for (Machine *i = m->machines; i; i = i->next)
                n++;
        c->items = calloc(MAX(n, 1U), sizeof(BatchItem));
        if (!c->items)
                return -ENOMEM;
        for (Machine *i = m->machines; i; i = i->next) {
                bool os, addresses;

                if (info_settle_non_container(i, now))
                        continue;
                info_try_watch(c, i);
                os = info_os_wanted(i);
                addresses = info_addresses_stale(i, now);
                if (!os && !addresses)
                        continue;
                c->items[c->n_items] = (BatchItem) {
                        .machine = i, .leader = i->leader, .pidfd = i->leader_pidfd,
                        .os = os, .addresses = addresses,
                };
                i->info.batch_slot = (uint32_t) ++c->n_items;
        }
        return 0;
}

static int worker_start(MachineCache *c) {
        _cleanup_close_pair_ int fds[2] = { -EBADF, -EBADF };
        Manager *m = c->manager;
        int r;

        c->batch++;
        r = collect_batch(c);
        if (r < 0 || c->n_items == 0) {
                worker_stop(c);
                answer_waiters(c, c->batch);
                return r;
        }
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0) {
                r = negative_errno();
                goto fail;
        }
        c->pid = fork();
        if (c->pid < 0) {
                c->pid = 0;
                r = negative_errno();
                goto fail;
        }
        if (c->pid == 0) {
                fds[0] = safe_close(fds[0]);
                worker_run(c->items, c->n_items, fds[1]);
        }
        fds[1] = safe_close(fds[1]);
        r = sd_event_add_io(m->event, &c->io, fds[0], EPOLLIN, on_worker_io, c);
        if (r < 0)
                goto fail;
        TAKE_FD(fds[0]);
        (void) sd_event_source_set_io_fd_own(c->io, true);
        r = sd_event_add_time_relative(m->event, &c->idle_timer, CLOCK_MONOTONIC, WORKER_IDLE_USEC, 0,
                                       on_worker_idle, c);
        if (r < 0)
                goto fail;
        return 0;
fail:
        log_warning_errno(r, "Failed to start reading os-release and addresses of machines: %m");
        worker_stop(c);
        answer_waiters(c, c->batch);
        return r;
}

static int on_batch_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        MachineCache *c = userdata;

        if (c->pid == 0)
                (void) worker_start(c);
        return 0;
}

/* A batch starts after DELAY, or once the running one is done. */
static void cache_schedule(MachineCache *c, uint64_t delay) {
        int r;

        if (c->pid > 0) {
                c->rerun = true;
                return;
        }
        if (c->batch_timer) {
                int enabled = SD_EVENT_OFF;
                uint64_t when = 0, now = now_monotonic(c->manager);

                (void) sd_event_source_get_enabled(c->batch_timer, &enabled);
                (void) sd_event_source_get_time(c->batch_timer, &when);
                if (enabled != SD_EVENT_OFF && when <= now + delay)
                        return;
                r = sd_event_source_set_time(c->batch_timer, now + delay);
                if (r >= 0)
                        r = sd_event_source_set_enabled(c->batch_timer, SD_EVENT_ONESHOT);
        } else
                /* Accuracy 1 µs: sd-event's default (0) would let it slip by 250 ms. */
                r = sd_event_add_time_relative(c->manager->event, &c->batch_timer, CLOCK_MONOTONIC,
                                               delay, 1, on_batch_timer, c);
        if (r < 0)
                log_warning_errno(r, "Failed to schedule reading machines' os-release and addresses: %m");
}

static int on_event_exit(sd_event_source *s, void *userdata) {
        machine_cache_free(userdata);
        return 0;
}

static MachineCache *cache_get(Manager *m) {
        MachineCache *c;
        int r;

        if (m->machine_cache)
                return m->machine_cache;
        c = calloc(1, sizeof(MachineCache));
        if (!c)
                return NULL;
        c->manager = m;
        /* The worker dies with berthd anyway (PR_SET_PDEATHSIG); this reaps it on a clean exit. */
        if (sd_event_add_exit(m->event, &c->exit_source, on_event_exit, m) < 0) {
                free(c);
                return NULL;
        }
        m->machine_cache = c;
        r = netns_watch_new(m, &c->watch);
        if (r < 0)
                log_warning_errno(r, "Cannot watch machines' addresses, reading them when asked: %m");
        return c;
}

int machine_cache_start(Manager *m) {
        return cache_get(m) ? 0 : -ENOMEM;
}

void machine_cache_free(Manager *m) {
        MachineCache *c = m->machine_cache;

        if (!c)
                return;
        worker_stop(c);
        while (c->waiters)
                waiter_free(c->waiters);
        c->watch = netns_watch_free(c->watch);
        sd_event_source_disable_unref(c->batch_timer);
        sd_event_source_disable_unref(c->exit_source);
        free(c);
        m->machine_cache = NULL;
}

void machine_cache_machine_new(Manager *m, Machine *machine) {
        MachineCache *c = cache_get(m);

        /* The watch takes it up in the batch (collect_batch()), not in the registration's call. */
        if (c && !info_settle_non_container(machine, now_monotonic(m)))
                cache_schedule(c, BATCH_DELAY_USEC);
}

void machine_cache_machine_free(Machine *machine) {
        MachineInfo *i = &machine->info;

        if (i->batch_slot > 0 && machine->manager && machine->manager->machine_cache) {
                MachineCache *c = machine->manager->machine_cache;

                if (i->batch_slot <= c->n_items && c->items[i->batch_slot - 1].machine == machine)
                        c->items[i->batch_slot - 1].machine = NULL;
        }
        netns_watch_remove(machine);
        free(i->os_release);
        free(i->addresses);
        *i = (MachineInfo) {};
}

/* ---- ListMachinesEx ---- */

/* One entry per machine, a fixed struct of basic types rather than an a{sv} per machine or an
 * a{ss} of os-release: with 1,000 machines the reply is marshalled, checked by dbus-daemon and
 * parsed in one go, and every container costs sd-bus an allocation and signature work at each
 * of those steps (an a{ss} of the os-release made the call about twice as slow). So the os-release
 * comes as the three values lists show, with flags for which exist; new columns come as a new
 * method (or a new flag asking for a longer entry), as machine1 does. */
#define LIST_EX_FIELDS "ssssssutsssa(iay)u"
#define LIST_EX_ENTRY "(" LIST_EX_FIELDS ")"

static int append_os_release(sd_bus_message *reply, const MachineInfo *i) {
        const char *v = i->os_release;
        int r = 0;

        for (size_t k = 0; k < 3 && r >= 0; k++) {
                r = sd_bus_message_append_basic(reply, 's', v ?: "");
                if (v)
                        v += strlen(v) + 1;
        }
        return r;
}

static int append_addresses(sd_bus_message *reply, const MachineInfo *i) {
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(iay)");
        for (size_t off = 0; r >= 0 && off < i->addresses_size;) {
                int32_t family = i->addresses[off];
                size_t size = family == AF_INET ? 4 : 16;

                r = sd_bus_message_open_container(reply, 'r', "iay");
                if (r >= 0)
                        r = sd_bus_message_append_basic(reply, 'i', &family);
                if (r >= 0)
                        r = sd_bus_message_append_array(reply, 'y', i->addresses + off + 1, size);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
                off += 1 + size;
        }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

int machine_cache_reply_addresses(Manager *m, Machine *machine, sd_bus_message *message) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        MachineCache *c = m->machine_cache;
        int r;

        if (!c || !c->watch)
                return 0;
        netns_watch_drain(c->watch);
        if (machine->info.netns_state != NETNS_WATCHED || machine->info.addresses_usec == 0 ||
            machine->info.addresses_uncacheable)
                return 0;
        r = sd_bus_message_new_method_return(message, &reply);
        if (r >= 0)
                r = append_addresses(reply, &machine->info);
        if (r < 0)
                return r;
        r = sd_bus_send(NULL, reply, NULL);
        return r < 0 ? r : 1;
}

static uint32_t info_flags(const Machine *machine, uint64_t now) {
        const MachineInfo *i = &machine->info;
        uint32_t f = 0;

        if (!i->os_known || i->os_uncacheable)
                f |= MACHINE_INFO_OS_PENDING;
        if (i->addresses_usec == 0 || i->addresses_uncacheable)
                f |= MACHINE_INFO_ADDRESSES_PENDING;
        else if (info_addresses_stale(machine, now))
                f |= MACHINE_INFO_ADDRESSES_STALE;
        if (i->host_network)
                f |= MACHINE_INFO_NO_PRIVATE_NETWORK;
        return f | i->os_present;
}

static int append_machine(sd_bus_message *reply, const Machine *i, uint64_t now) {
        const char *s[] = { i->name, machine_class_to_string(i->class), strempty(i->service),
                            machine_state_to_string(i->state), strempty(i->unit),
                            strempty(i->root_directory) };
        uint32_t leader = (uint32_t) i->leader, flags = info_flags(i, now);
        int r;

        r = sd_bus_message_open_container(reply, 'r', LIST_EX_FIELDS);
        for (size_t k = 0; r >= 0 && k < ELEMENTSOF(s); k++)
                r = sd_bus_message_append_basic(reply, 's', strempty(s[k]));
        if (r >= 0)
                r = sd_bus_message_append_basic(reply, 'u', &leader);
        if (r >= 0)
                r = sd_bus_message_append_basic(reply, 't', &i->timestamp);
        if (r >= 0)
                r = append_os_release(reply, &i->info);
        if (r >= 0)
                r = append_addresses(reply, &i->info);
        if (r >= 0)
                r = sd_bus_message_append_basic(reply, 'u', &flags);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int reply_list(Manager *m, sd_bus_message *message) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        uint64_t now = now_monotonic(m);
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', LIST_EX_ENTRY);
        for (Machine *i = m->machines; r >= 0 && i; i = i->next)
                r = append_machine(reply, i, now);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* Whether any machine waits to be read: a list may then start a batch. */
static bool any_stale(Manager *m) {
        uint64_t now = now_monotonic(m);

        for (Machine *i = m->machines; i; i = i->next)
                if (!i->info.batch_slot && i->class == MACHINE_CONTAINER &&
                    (info_os_wanted(i) || info_addresses_stale(i, now)))
                        return true;
        return false;
}

/* Read-only, like ListMachines: no polkit. */
int method_list_machines_ex(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        MachineCache *c;
        bool stale, running;
        uint64_t flags;
        Waiter *w;
        int r;

        r = sd_bus_message_read(message, "t", &flags);
        if (r < 0)
                return r;
        if (flags & ~(uint64_t) _LIST_MACHINES_FLAGS_ALL)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown flags 0x%llx",
                                         (unsigned long long) flags);

        /* What the watch has queued (a change just made inside is shown), and machines it did
         * not look at yet (restored after our restart). */
        if (m->machine_cache && m->machine_cache->watch) {
                netns_watch_drain(m->machine_cache->watch);
                for (Machine *i = m->machines; i; i = i->next)
                        info_try_watch(m->machine_cache, i);
        }
        stale = any_stale(m);
        running = m->machine_cache && m->machine_cache->pid > 0;
        c = stale || running ? cache_get(m) : NULL;
        if (!c || !(flags & LIST_MACHINES_FRESH)) {
                if (c && stale)
                        cache_schedule(c, 0);
                return reply_list(m, message);
        }

        /* Fresh: answered when the next batch is done (it reads all that is stale now), or at the
         * deadline with what is known by then. */
        w = calloc(1, sizeof(Waiter));
        if (!w)
                return -ENOMEM;
        /* The running batch has all that is stale unless more became so since it started. */
        *w = (Waiter) { .cache = c, .message = sd_bus_message_ref(message),
                        .batch = c->batch + (running && !stale ? 0 : 1), .next = c->waiters };
        c->waiters = w;
        r = sd_event_add_time_relative(m->event, &w->timer, CLOCK_MONOTONIC, LIST_FRESH_WAIT_USEC, 1000,
                                       on_waiter_timeout, w);
        if (r < 0) {
                waiter_free(w);
                return r;
        }
        if (stale)
                cache_schedule(c, 0);
        return 1;
}
