/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A registered machine: leader tracking through a pidfd, signalling, and scope clean-up. */
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "log.h"
#include "machine.h"
#include "machine-freeze.h"
#include "manager.h"
#include "resolve.h"
#include "scope-cgroupfs.h"
#include "strv.h"

#ifndef PID_FS_MAGIC
#define PID_FS_MAGIC 0x50494446
#endif

/* A registered machine keeps its own unit; Terminate only asks the leader, then insists. */
#define TERMINATE_TIMEOUT_USEC (10ULL * 1000000ULL)

static const char *const machine_class_table[_MACHINE_CLASS_MAX] = {
        [MACHINE_CONTAINER] = "container",
        [MACHINE_VM] = "vm",
};

static const char *const machine_state_table[_MACHINE_STATE_MAX] = {
        [MACHINE_OPENING] = "opening",
        [MACHINE_RUNNING] = "running",
        [MACHINE_CLOSING] = "closing",
};

const char *machine_class_to_string(MachineClass c) {
        return c >= 0 && c < _MACHINE_CLASS_MAX ? machine_class_table[c] : NULL;
}

MachineClass machine_class_from_string(const char *s) {
        for (int i = 0; s && i < _MACHINE_CLASS_MAX; i++)
                if (streq(machine_class_table[i], s))
                        return (MachineClass) i;
        return _MACHINE_CLASS_INVALID;
}

const char *machine_state_to_string(MachineState s) {
        return s >= 0 && s < _MACHINE_STATE_MAX ? machine_state_table[s] : NULL;
}

MachineState machine_state_from_string(const char *s) {
        for (int i = 0; s && i < _MACHINE_STATE_MAX; i++)
                if (streq(machine_state_table[i], s))
                        return (MachineState) i;
        return _MACHINE_STATE_INVALID;
}

int machine_new(const char *name, Machine **ret) {
        _cleanup_(machine_freep) Machine *m = NULL;

        m = calloc(1, sizeof(Machine));
        if (!m)
                return -ENOMEM;
        m->leader_pidfd = -EBADF;
        m->class = _MACHINE_CLASS_INVALID;
        m->state = MACHINE_OPENING;
        m->name = strdup(name);
        if (!m->name)
                return -ENOMEM;

        *ret = TAKE_PTR(m);
        return 0;
}

Machine *machine_free(Machine *m) {
        if (!m)
                return NULL;
        machine_cache_machine_free(m);
        machine_freeze_cancel(m);
        sd_event_source_disable_unref(m->leader_source);
        sd_event_source_disable_unref(m->cgroup_source);
        sd_event_source_disable_unref(m->kill_timer);
        sd_bus_slot_unref(m->unit_match_slot);
        sd_bus_slot_unref(m->unit_query_slot);
        safe_close(m->leader_pidfd);
        free(m->name);
        free(m->service);
        free(m->unit);
        free(m->root_directory);
        free(m->cgroup_path);
        strv_free(m->resource_v1_dirs);
        free(m);
        return NULL;
}

int proc_read_file(pid_t pid, const char *what, char **ret) {
        char p[64];
        _cleanup_close_ int fd = -EBADF;

        if (pid == 0)
                snprintf(p, sizeof p, "/proc/self/%s", what);
        else
                snprintf(p, sizeof p, "/proc/%i/%s", (int) pid, what);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : negative_errno();
        return read_fd_full(fd, 64 * 1024, ret, NULL);
}

int proc_starttime(pid_t pid, uint64_t *ret) {
        _cleanup_free_ char *buf = NULL;
        char *p, *save = NULL;
        int r, field = 3;

        if (pid <= 0)
                return -EINVAL;
        r = proc_read_file(pid, "stat", &buf);
        if (r < 0)
                return r;
        /* The command name (field 2) may contain anything, even ") ": skip to its last ')'. */
        p = strrchr(buf, ')');
        if (!p)
                return -EBADMSG;
        for (p = strtok_r(p + 1, " ", &save); p; p = strtok_r(NULL, " ", &save), field++) {
                /* A zombie is dead for us: it only waits for its parent. */
                if (field == 3 && (streq(p, "Z") || streq(p, "X")))
                        return -ESRCH;
                if (field == 22) {
                        char *end = NULL;
                        unsigned long long v;

                        errno = 0;
                        v = strtoull(p, &end, 10);
                        if (errno != 0 || end == p)
                                return -EBADMSG;
                        *ret = v;
                        return 0;
                }
        }
        return -EBADMSG;
}

int proc_uid(pid_t pid, uid_t *ret) {
        _cleanup_free_ char *buf = NULL;
        const char *l;
        int r;

        r = proc_read_file(pid, "status", &buf);
        if (r < 0)
                return r;
        l = strstr(buf, "\nUid:");
        if (!l)
                return -EBADMSG;
        *ret = (uid_t) strtoul(l + 5, NULL, 10);
        return 0;
}

static uint64_t pidfd_inode(int fd) {
        struct statfs sfs;
        struct stat st;

        /* Before pidfs, every pidfd shares one anonymous inode: useless as an identity. */
        if (fstatfs(fd, &sfs) < 0 || sfs.f_type != PID_FS_MAGIC || fstat(fd, &st) < 0)
                return 0;
        return (uint64_t) st.st_ino;
}

int machine_open_leader(Machine *m) {
        _cleanup_close_ int fd = -EBADF;
        uint64_t st = 0, ino;
        int r;

        fd = pidfd_open(m->leader, 0);
        if (fd < 0)
                return negative_errno();
        /* Read the identity only after the pidfd pins the process, so both describe the same. */
        r = proc_starttime(m->leader, &st);
        if (r < 0)
                return r;
        ino = pidfd_inode(fd);

        if (m->leader_starttime != 0 && m->leader_starttime != st)
                return -ESRCH;
        if (m->leader_pidfd_inode != 0 && ino != 0 && m->leader_pidfd_inode != ino)
                return -ESRCH;

        m->leader_starttime = st;
        m->leader_pidfd_inode = ino;
        safe_close(m->leader_pidfd);
        m->leader_pidfd = TAKE_FD(fd);
        return 0;
}

static int on_cgroup_event(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Machine *m = userdata;
        int r;

        r = cgroup_populated_fd(fd);
        if (r > 0)
                return 0;
        if (r < 0 && r != -ENODEV && r != -ENOENT)
                log_warning_errno(r, "Failed to read cgroup.events of %s: %m", m->cgroup_path);

        r = scope_remove(m->cgroup_path);
        if (r < 0)
                log_warning_errno(r, "Failed to remove %s: %m", m->cgroup_path);
        manager_machine_finalize(m->manager, m);
        return 0;
}

int machine_leader_exited(Machine *m) {
        _cleanup_free_ char *p = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        m->leader_source = sd_event_source_disable_unref(m->leader_source);
        /* A terminating scope of ours keeps its timer: what ignored the KillSignal still gets
         * SIGKILL, so the scope can empty. */
        if (!m->scope_created)
                m->kill_timer = sd_event_source_disable_unref(m->kill_timer);
        /* systemd removes its units' cgroups itself, once they are empty. */
        if (m->manager->scope_backend == SCOPE_BACKEND_SYSTEMD) {
                systemd_scope_untrack(m);
                return 1;
        }
        if (!m->scope_created || !m->cgroup_path)
                return 1;

        if (asprintf(&p, "%s/cgroup.events", m->cgroup_path) < 0)
                return -ENOMEM;
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 1; /* gone already */

        /* Watch before looking, so that the last process leaving cannot slip between the two. */
        r = sd_event_add_io(m->manager->event, &m->cgroup_source, fd, EPOLLPRI, on_cgroup_event, m);
        if (r < 0)
                return r;
        r = sd_event_source_set_io_fd_own(m->cgroup_source, true);
        if (r < 0)
                return r;
        if (cgroup_populated_fd(TAKE_FD(fd)) > 0)
                return 0;
        r = scope_remove(m->cgroup_path);
        if (r < 0)
                log_warning_errno(r, "Failed to remove %s: %m", m->cgroup_path);
        return 1;
}

static int on_leader_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Machine *m = userdata;

        log_debug("Leader %i of machine %s exited.", (int) m->leader, m->name);
        manager_machine_gone(m->manager, m);
        return 0;
}

int machine_start_watch(Machine *m) {
        int r;

        if (m->leader_pidfd < 0)
                return -EBADF;
        r = sd_event_add_io(m->manager->event, &m->leader_source, m->leader_pidfd, EPOLLIN,
                            on_leader_exit, m);
        return r < 0 ? r : 0;
}

/* Under systemd a machine's unit is its own unless it holds berthd or is the root: then
 * systemd stops and kills it as a whole, registered machines' units too (as machined does). */
static bool machine_owns_unit(Machine *m) {
        return m->manager->scope_backend == SCOPE_BACKEND_SYSTEMD && m->unit && m->cgroup_path &&
               !manager_cgroup_is_shared(m->manager, m->cgroup_path);
}

int machine_kill(Machine *m, bool all, int sig) {
        if (all && machine_owns_unit(m))
                return systemd_scope_kill(m, sig);
        /* A registered machine may sit in a cgroup it shares (the root, berthd's own): then
         * "all" can only safely mean its leader. */
        if (all && m->cgroup_path &&
            (m->scope_created || !manager_cgroup_is_shared(m->manager, m->cgroup_path)))
                return cgroup_signal_all(m->cgroup_path, sig);
        if (m->leader_pidfd < 0)
                return -ESRCH;
        return RET_NERRNO(pidfd_send_signal(m->leader_pidfd, sig, NULL, 0));
}

static int on_terminate_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Machine *m = userdata;
        bool all = m->scope_created && m->cgroup_path;

        log_info("Machine %s did not stop within %llus, killing %s.", m->name,
                 (unsigned long long) (TERMINATE_TIMEOUT_USEC / 1000000ULL), all ? "its scope" : "its leader");
        if (all)
                (void) cgroup_kill_all(m->cgroup_path);
        else
                (void) machine_kill(m, false, SIGKILL);
        return 0;
}

static int arm_kill_timer(Machine *m) {
        uint64_t now_usec = 0;
        int r;

        if (m->kill_timer)
                return 0;
        (void) sd_event_now(m->manager->event, CLOCK_MONOTONIC, &now_usec);
        r = sd_event_add_time(m->manager->event, &m->kill_timer, CLOCK_MONOTONIC,
                              now_usec + TERMINATE_TIMEOUT_USEC, 0, on_terminate_timeout, m);
        return r < 0 ? r : 0;
}

int machine_terminate(Machine *m) {
        int r;

        m->stopping = true;
        if (machine_owns_unit(m))
                return systemd_scope_stop(m);

        /* Our own scope: everything in it goes, like systemd's StopUnit would do it: the
         * KillSignal the creator chose first (a booted container's init then powers off), and
         * what is left after the timeout gets SIGKILL. Without one, at once. */
        if (m->scope_created && m->cgroup_path) {
                if (m->kill_signal == 0 || m->kill_signal == SIGKILL)
                        return cgroup_kill_all(m->cgroup_path);
                r = cgroup_signal_all(m->cgroup_path, m->kill_signal);
                if (r < 0)
                        return r;
                return arm_kill_timer(m);
        }

        /* A registered machine lives in someone else's unit, which we must not kill wholesale:
         * ask its leader, and insist after a while. */
        r = machine_kill(m, false, SIGTERM);
        if (r < 0)
                return r;
        return arm_kill_timer(m);
}
