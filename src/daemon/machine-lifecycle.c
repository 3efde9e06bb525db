/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* StartMachine, PowerOffMachine and RebootMachine (see machine-lifecycle.h for the design). */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus-errors.h"
#include "cgroup-util.h"
#include "fd-util.h"
#include "log.h"
#include "machine-dbus.h"
#include "machine-freeze.h"
#include "machine-lifecycle.h"
#include "manager-dbus.h"
#include "name-util.h"
#include "scope-systemd.h"
#include "resolve.h"
#include "strv.h"

#define START_TIMEOUT_USEC (90ULL * 1000000ULL)
/* A machine that reboots this often in a row is stuck in a loop: stop restarting it. */
#define START_RESTARTS_MAX 20U
#define EXIT_REBOOT 133

struct StartJob {
        Manager *manager;
        StartJob *next;
        char *name;
        char *log_path;
        char *cgroup_path;    /* cgroupfs: machine.slice/berth-spawn@NAME.service */
        pid_t pid;            /* cgroupfs: our berth-spawn child */
        sd_event_source *child_source;
        sd_event_source *timer;
        sd_bus_slot *slot;    /* systemd: the StartUnit call, then the JobRemoved match */
        char *job_path;
        sd_bus_message **waiters; /* StartMachine calls to answer */
        size_t n_waiters;
        unsigned restarts;
        bool begin_when_gone;     /* the machine of this name is still stopping */
        bool restart_after_exit;  /* our berth-spawn is still stopping the machine */
};

static const char *berth_spawn_path(void) {
        const char *e = getenv("BERTH_SPAWN");

        return !isempty(e) && e[0] == '/' ? e : BINDIR "/berth-spawn";
}

/* ---- power off and reboot ---- */

static int proc_ppid(pid_t pid, pid_t *ret) {
        _cleanup_free_ char *buf = NULL;
        const char *l;
        int r;

        r = proc_read_file(pid, "status", &buf);
        if (r < 0)
                return r;
        l = strstr(buf, "\nPPid:");
        if (!l)
                return -EIO;
        *ret = (pid_t) strtol(l + 6, NULL, 10);
        return *ret > 0 ? 0 : -ESRCH;
}

/* A pidfd for the machine's supervisor: the leader's parent, if that is berth-spawn. Checked
 * after the pidfd is open, so a recycled PID cannot be signalled by mistake. */
static int open_supervisor(Machine *m) {
        _cleanup_close_ int pidfd = -EBADF;
        struct stat a, b;
        pid_t ppid, again;
        char exe[64];
        int r;

        r = proc_ppid(m->leader, &ppid);
        if (r < 0)
                return r;
        pidfd = (int) pidfd_open(ppid, 0);
        if (pidfd < 0)
                return negative_errno();
        r = proc_ppid(m->leader, &again);
        if (r < 0)
                return r;
        if (again != ppid)
                return -ESRCH;
        snprintf(exe, sizeof(exe), "/proc/%i/exe", (int) ppid);
        if (stat(exe, &a) < 0 || stat(berth_spawn_path(), &b) < 0)
                return -ESRCH;
        if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
                return -ESRCH;
        return TAKE_FD(pidfd);
}

static int machine_request_stop(Machine *m, bool reboot) {
        _cleanup_close_ int sup = open_supervisor(m);

        if (!reboot)
                m->stopping = true;
        /* A frozen supervisor or init would not hear the request until thawed. */
        machine_thaw_for_stop(m);
        if (sup >= 0)
                return RET_NERRNO(pidfd_send_signal(sup, SIGRTMIN + (reboot ? 5 : 4), NULL, 0));
        return machine_kill(m, false, reboot ? SIGINT : SIGRTMIN + 4);
}

static int request_stop(sd_bus_message *message, Machine *m, bool reboot, sd_bus_error *error) {
        const char *details[] = { "machine", m->name, "verb", reboot ? "reboot" : "poweroff", NULL };
        int r;

        r = polkit_verify_async(message, "org.berth.machine1.manage-machines", details,
                                &m->manager->polkit_registry, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* polkit will call us again */
        r = machine_request_stop(m, reboot);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to ask machine %s to %s: %m", m->name,
                                               reboot ? "reboot" : "power off");
        return sd_bus_reply_method_return(message, NULL);
}

static int method_poweroff_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Machine *machine = NULL;
        int r = bus_read_machine(userdata, message, &machine, error);

        return r < 0 ? r : request_stop(message, machine, false, error);
}

static int method_reboot_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Machine *machine = NULL;
        int r = bus_read_machine(userdata, message, &machine, error);

        return r < 0 ? r : request_stop(message, machine, true, error);
}

static int method_poweroff(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return request_stop(message, userdata, false, error);
}

static int method_reboot(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return request_stop(message, userdata, true, error);
}

/* ---- start ---- */

static StartJob *find_job(Manager *m, const char *name) {
        for (StartJob *j = m->start_jobs; j; j = j->next)
                if (streq(j->name, name))
                        return j;
        return NULL;
}

static void reply_all(StartJob *j, const sd_bus_error *e) {
        for (size_t i = 0; i < j->n_waiters; i++) {
                if (e)
                        (void) sd_bus_reply_method_error(j->waiters[i], e);
                else
                        (void) sd_bus_reply_method_return(j->waiters[i], NULL);
                sd_bus_message_unref(j->waiters[i]);
        }
        free(j->waiters);
        j->waiters = NULL;
        j->n_waiters = 0;
        j->timer = sd_event_source_disable_unref(j->timer);
}

static void job_free(StartJob *j) {
        Manager *m = j->manager;

        for (StartJob **i = &m->start_jobs; *i; i = &(*i)->next)
                if (*i == j) {
                        *i = j->next;
                        break;
                }
        for (size_t i = 0; i < j->n_waiters; i++)
                sd_bus_message_unref(j->waiters[i]);
        free(j->waiters);
        sd_event_source_disable_unref(j->child_source);
        sd_event_source_disable_unref(j->timer);
        sd_bus_slot_unref(j->slot);
        free(j->job_path);
        free(j->name);
        free(j->log_path);
        free(j->cgroup_path);
        free(j);
}

void machine_lifecycle_free_all(Manager *m) {
        while (m->start_jobs)
                job_free(m->start_jobs);
}

static void job_fail(StartJob *j, const char *fmt, ...) _printf_(2, 3);
static void job_fail(StartJob *j, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        log_warning("%s", msg ?: "Starting a machine failed.");
        (void) sd_bus_error_set(&e, SD_BUS_ERROR_FAILED, msg ?: "Starting the machine failed");
        reply_all(j, &e);
        sd_bus_error_free(&e);
}

void machine_lifecycle_machine_added(Manager *m, Machine *machine) {
        StartJob *j = find_job(m, machine->name);

        if (j)
                reply_all(j, NULL);
        /* A systemd job is only of interest until the machine is there. */
        if (j && !j->pid)
                job_free(j);
}

static int on_start_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        StartJob *j = userdata;

        job_fail(j, "Machine %s did not register within %llus; it may still be starting, see %s.",
                 j->name, (unsigned long long) (START_TIMEOUT_USEC / 1000000ULL), j->log_path ?: "its unit's journal");
        if (!j->pid)
                job_free(j);
        return 0;
}

static int spawn_child(StartJob *j);

/* The pidfd turns readable when berth-spawn exits (an io source: sd-event's child sources want
 * SIGCHLD blocked in all of berthd, which its other forks do not expect). */
static int on_child_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        StartJob *j = userdata;
        siginfo_t info = {}, *si = &info;
        int r;

        if (waitid(P_PIDFD, (id_t) fd, &info, WEXITED | WNOHANG) < 0 || info.si_pid == 0)
                return 0;
        j->child_source = sd_event_source_disable_unref(j->child_source);
        j->pid = 0;
        /* A StartMachine came while this one was powering off: start it again right away. */
        if (j->restart_after_exit) {
                j->restart_after_exit = false;
                (void) cgroup_rmdir_tree(j->cgroup_path);
                r = spawn_child(j);
                if (r >= 0)
                        return 0;
                log_warning_errno(r, "Failed to start machine %s again: %m", j->name);
        } else if (si->si_code == CLD_EXITED && si->si_status == EXIT_REBOOT && j->restarts < START_RESTARTS_MAX) {
                /* The machine rebooted: what Restart= on the unit would do. */
                j->restarts++;
                log_info("Machine %s rebooted, starting it again.", j->name);
                r = spawn_child(j);
                if (r >= 0)
                        return 0;
                log_warning_errno(r, "Failed to restart machine %s: %m", j->name);
        }
        if (j->n_waiters > 0)
                job_fail(j, "berth-spawn for %s %s %i before the machine registered; see %s.", j->name,
                         si->si_code == CLD_EXITED ? "exited with status" : "was killed by signal",
                         si->si_status, j->log_path);
        else
                log_info("berth-spawn for %s ended (%s %i).", j->name,
                         si->si_code == CLD_EXITED ? "status" : "signal", si->si_status);
        /* Emptied by berth-spawn's own cleanup; anything its container left is killed. */
        if (cgroup_populated(j->cgroup_path) > 0)
                (void) cgroup_kill_all(j->cgroup_path);
        (void) cgroup_rmdir_tree(j->cgroup_path);
        job_free(j);
        return 0;
}

_noreturn_ static void exec_berth_spawn(StartJob *j, int log_fd) {
        /* The console's output goes to the log, as a unit's would go to the journal. */
        char *argv[] = { (char *) "berth-spawn", (char *) "--boot", (char *) "--keep-unit", (char *) "-U",
                         (char *) "--console=read-only", NULL, NULL };
        _cleanup_free_ char *machine = NULL;
        sigset_t all;
        int null_fd;

        (void) prctl(PR_SET_PDEATHSIG, 0);
        _cleanup_free_ char *procs = NULL;

        if (setsid() < 0 || asprintf(&procs, "%s/cgroup.procs", j->cgroup_path) < 0 ||
            write_string_file(procs, "0") < 0)
                _exit(EXIT_FAILURE);
        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0)
                _exit(EXIT_FAILURE);
        if (close_all_fds_except(NULL, 0) < 0 || rlimit_nofile_safe() < 0)
                _exit(EXIT_FAILURE);
        sigemptyset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, NULL);
        if (asprintf(&machine, "--machine=%s", j->name) < 0)
                _exit(EXIT_FAILURE);
        argv[5] = machine;
        execv(berth_spawn_path(), argv);
        _exit(127);
}

static int open_log(const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        char *slash;

        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = 0;
                if (mkdir(dir, 0750) < 0 && errno != EEXIST)
                        return negative_errno();
        }
        return RET_NERRNO(open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640));
}

/* berth-spawn in its own cgroup, the way berth-spawn@.service would run it. */
static int spawn_child(StartJob *j) {
        _cleanup_close_ int log_fd = -EBADF, pidfd = -EBADF;
        pid_t pid;
        int r;

        /* machine.slice may not exist yet, or be removed by a berth-spawn leaving it empty
         * right between our two mkdirs: retry as scope_create() does. */
        for (unsigned attempt = 0;; attempt++) {
                r = mkdir_p(j->cgroup_path, 0755);
                if (r >= 0 || r != -ENOENT || attempt >= 3)
                        break;
        }
        if (r < 0)
                return log_warning_errno(r, "Failed to create %s: %m", j->cgroup_path);
        log_fd = open_log(j->log_path);
        if (log_fd < 0) {
                (void) rmdir(j->cgroup_path);
                return log_warning_errno(log_fd, "Failed to open %s: %m", j->log_path);
        }

        pid = fork();
        if (pid < 0) {
                r = negative_errno();
                (void) rmdir(j->cgroup_path);
                return r;
        }
        if (pid == 0)
                exec_berth_spawn(j, log_fd);

        pidfd = (int) pidfd_open(pid, 0);
        if (pidfd < 0) {
                r = negative_errno();
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                (void) cgroup_rmdir_tree(j->cgroup_path);
                return r;
        }
        r = sd_event_add_io(j->manager->event, &j->child_source, pidfd, EPOLLIN, on_child_exit, j);
        if (r < 0) {
                (void) pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
                (void) waitpid(pid, NULL, 0);
                (void) cgroup_rmdir_tree(j->cgroup_path);
                return r;
        }
        (void) sd_event_source_set_io_fd_own(j->child_source, true);
        TAKE_FD(pidfd);
        j->pid = pid;
        return 0;
}

static int on_job_removed(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        StartJob *j = userdata;
        const char *path, *unit, *result;
        uint32_t id;

        if (sd_bus_message_read(message, "uoss", &id, &path, &unit, &result) < 0 ||
            !j->job_path || !streq(path, j->job_path))
                return 0;
        if (!streq(result, "done"))
                job_fail(j, "Starting %s failed (job result: %s); see 'journalctl -u %s'.", unit, result, unit);
        else if (j->n_waiters > 0 && manager_find_machine(j->manager, j->name))
                reply_all(j, NULL);
        if (j->n_waiters == 0)
                job_free(j);
        return 0;
}

static int on_start_unit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        StartJob *j = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        const char *path;
        int r;

        j->slot = sd_bus_slot_unref(j->slot);
        if (e) {
                job_fail(j, "systemd refused to start berth-spawn@%s.service: %s", j->name, e->message ?: e->name);
                job_free(j);
                return 0;
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r >= 0)
                r = (j->job_path = strdup(path)) ? 0 : -ENOMEM;
        if (r >= 0)
                r = sd_bus_match_signal_async(j->manager->bus, &j->slot, "org.freedesktop.systemd1",
                                              "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                              "JobRemoved", on_job_removed, NULL, j);
        if (r < 0) {
                job_fail(j, "Failed to watch the start of berth-spawn@%s.service: %s", j->name, strerror(-r));
                job_free(j);
        }
        return 0;
}

static int start_job_new(Manager *m, const char *name, StartJob **ret) {
        _cleanup_free_ StartJob *j = calloc(1, sizeof(StartJob));
        const char *logdir = getenv("BERTH_LOG_DIR");

        if (!j)
                return -ENOMEM;
        *j = (StartJob) { .manager = m };
        j->name = strdup(name);
        if (!j->name ||
            asprintf(&j->log_path, "%s/%s.log", !isempty(logdir) ? logdir : "/var/log/berth", name) < 0 ||
            asprintf(&j->cgroup_path, "%s/machine.slice/berth-spawn@%s.service", m->cgroup_root, name) < 0) {
                free(j->name);
                free(j->log_path);
                return -ENOMEM;
        }
        j->next = m->start_jobs;
        m->start_jobs = j;
        *ret = TAKE_PTR(j);
        return 0;
}

static int start_job_begin(StartJob *j) {
        Manager *m = j->manager;
        _cleanup_free_ char *unit = NULL;

        if (m->scope_backend != SCOPE_BACKEND_SYSTEMD)
                return spawn_child(j);
        if (asprintf(&unit, "berth-spawn@%s.service", j->name) < 0)
                return -ENOMEM;
        /* Subscribed already by the systemd backend, so JobRemoved reaches us. */
        return sd_bus_call_method_async(m->bus, &j->slot, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                        "org.freedesktop.systemd1.Manager", "StartUnit", on_start_unit_reply, j,
                                        "ss", unit, "replace");
}

void machine_lifecycle_machine_gone(Manager *m, const char *name) {
        StartJob *j = find_job(m, name);
        int r;

        if (!j || !j->begin_when_gone)
                return;
        j->begin_when_gone = false;
        r = start_job_begin(j);
        if (r < 0) {
                job_fail(j, "Cannot run berth-spawn for %s: %s", j->name, strerror(-r));
                job_free(j);
        }
}

static int method_start_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        sd_bus_message **w;
        const char *name;
        Machine *running;
        StartJob *j;
        uint64_t now_usec = 0;
        int r;

        r = sd_bus_message_read(message, "s", &name);
        if (r < 0)
                return r;
        if (!machine_name_is_valid(name))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid machine name");

        const char *details[] = { "machine", name, "verb", "start", NULL };
        r = polkit_verify_async(message, "org.berth.machine1.manage-machines", details,
                                &m->polkit_registry, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* polkit will call us again */

        /* Running already: nothing to do, as with a unit that is active. One that is being
         * powered off is started again once it is down, as systemd queues a start after a stop. */
        running = manager_find_machine(m, name);
        if (running && !running->stopping)
                return sd_bus_reply_method_return(message, NULL);

        j = find_job(m, name);
        if (j && running && j->pid > 0)
                j->restart_after_exit = true;
        else if (!j) {
                r = start_job_new(m, name, &j);
                if (r < 0)
                        return r;
                /* systemd orders the start after the stop itself. */
                if (running && m->scope_backend != SCOPE_BACKEND_SYSTEMD)
                        j->begin_when_gone = true;
                else {
                        r = start_job_begin(j);
                        if (r < 0) {
                                job_free(j);
                                return sd_bus_error_set_errnof(error, r, "Cannot run berth-spawn for %s: %m", name);
                        }
                }
        }
        w = reallocarray(j->waiters, j->n_waiters + 1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        j->waiters = w;
        j->waiters[j->n_waiters++] = sd_bus_message_ref(message);
        if (!j->timer) {
                (void) sd_event_now(m->event, CLOCK_MONOTONIC, &now_usec);
                r = sd_event_add_time(m->event, &j->timer, CLOCK_MONOTONIC, now_usec + START_TIMEOUT_USEC, 0,
                                      on_start_timeout, j);
                if (r < 0)
                        log_warning_errno(r, "Failed to arm the start timeout of %s: %m", name);
        }
        return 1;
}

const sd_bus_vtable lifecycle_manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("StartMachine", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                                method_start_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("PowerOffMachine", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                                method_poweroff_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RebootMachine", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                                method_reboot_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

const sd_bus_vtable lifecycle_machine_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("PowerOff", NULL, NULL, method_poweroff, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Reboot", NULL, NULL, method_reboot, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};
