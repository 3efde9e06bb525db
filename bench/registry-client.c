/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The registry benchmark's client: times RegisterMachine, CreateMachine, ListMachines and
 * GetMachine round trips against berthd (org.berth.machine1) and systemd-machined
 * (org.freedesktop.machine1) over one persistent sd-bus connection, calls interleaved.
 *
 * Usage (as root, on the system bus of a host where both daemons run):
 *   registry-client leaders N PIDFILE        fork N paused processes, give each its own
 *                                            transient unit bench-leader-I.scope, write their
 *                                            PIDs to PIDFILE and exit (they stay, orphaned)
 *   registry-client spawn N PIDFILE          fork N paused processes (no unit), write PIDs
 *   registry-client register|register-fresh|create PREFIX PIDFILE [berthd|machined|both]
 *                                            RegisterMachine/CreateMachine PREFIX-I with the
 *                                            I-th PID, on each daemon in turn (berthd's names
 *                                            get "b", machined's "m" in front); create takes
 *                                            PIDs 2I (berthd) and 2I+1 (machined), since it
 *                                            moves the leader into the daemon's new scope;
 *                                            register-fresh makes each call on a connection of
 *                                            its own, as berth-spawn does (connecting is not
 *                                            timed: a daemon cannot have seen the sender before)
 *   registry-client query PREFIX N RUNS      ListMachines and GetMachine RUNS times each
 *   registry-client unregister PREFIX N      UnregisterMachine PREFIX-0 .. PREFIX-(N-1)
 *   registry-client run LABEL RUNS CMD...    fork+exec+wait CMD RUNS times (stdout to null)
 *   registry-client unit-start RUNS NAME     start berth-spawn@bNAME.service and
 *                                            systemd-nspawn@mNAME.service in turn, RUNS times
 *                                            each: the time from StartUnit to the daemon's
 *                                            MachineNew ("registered") and to the end of the
 *                                            start job ("started"); then stop it and wait for
 *                                            MachineRemoved and the stop job
 *   registry-client query-ex RUNS            berthd only: ListMachines, ListMachinesEx with
 *                                            flags 0 and 1 (fresh), RUNS times each, and a
 *                                            count of the entries whose flags say "not read yet"
 *
 * Leaders of "leaders" and "spawn" may be made more like containers: $BENCH_LEADER_ROOT=DIR
 * chroots each into DIR (so that /proc/PID/root is not the host's), $BENCH_LEADER_NETNS=1 gives
 * each a network namespace of its own (loopback only, down).
 *
 * Output, one line per daemon and method:  LABEL METHOD N MEDIAN P95 MIN MAX MEAN  (ms), and
 * "LABEL METHOD-failed I ERROR..." when a daemon refused call I (it is then asked no more). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "bench-stats.h"

#define CALL_TIMEOUT_USEC (120ULL * 1000000ULL)

typedef struct Daemon {
        const char *label;  /* berthd, machined */
        const char *prefix; /* name prefix of its machines: b, m */
        const char *dest, *path, *iface;
} Daemon;

static const Daemon daemons[] = {
        { "berthd", "b", "org.berth.machine1", "/org/berth/machine1", "org.berth.machine1.Manager" },
        { "machined", "m", "org.freedesktop.machine1", "/org/freedesktop/machine1",
          "org.freedesktop.machine1.Manager" },
};

static bool streq_ptr(const char *a, const char *b) {
        return a && b && strcmp(a, b) == 0;
}

static const char *strna(const char *s) {
        return s ?: "n/a";
}

static sd_bus *bus_open(void) {
        sd_bus *bus = NULL;
        int r = sd_bus_open_system(&bus);

        if (r < 0)
                die("sd_bus_open_system", r);
        return bus;
}

static pid_t *read_pids(const char *file, size_t *ret_n) {
        FILE *f = fopen(file, "re");
        pid_t *v = NULL;
        size_t n = 0;
        int pid;

        if (!f)
                die(file, errno);
        while (fscanf(f, "%d", &pid) == 1) {
                v = realloc(v, (n + 1) * sizeof(pid_t));
                if (!v)
                        die("realloc", ENOMEM);
                v[n++] = pid;
        }
        fclose(f);
        *ret_n = n;
        return v;
}

/* Paused children that outlive us: the script kills them (by PID) when it is done. */
static pid_t *fork_paused(size_t n) {
        pid_t *v = calloc(n, sizeof(pid_t));

        if (!v)
                die("calloc", ENOMEM);
        for (size_t i = 0; i < n; i++) {
                v[i] = fork();
                if (v[i] < 0)
                        die("fork", errno);
                if (v[i] == 0) {
                        const char *root = getenv("BENCH_LEADER_ROOT");

                        /* Only pause(): the bus connection is the parent's, never touch it. */
                        setsid();
                        if (root && (chroot(root) < 0 || chdir("/") < 0))
                                _exit(3);
                        if (getenv("BENCH_LEADER_NETNS") && unshare(CLONE_NEWNET) < 0)
                                _exit(4);
                        for (;;)
                                pause();
                }
        }
        return v;
}

static void write_pids(const char *file, const pid_t *v, size_t n) {
        FILE *f = fopen(file, "we");

        if (!f)
                die(file, errno);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%d\n", (int) v[i]);
        if (fclose(f) != 0)
                die(file, errno);
}

static bool in_unit(pid_t pid, const char *unit) {
        char p[64], buf[4096];
        ssize_t k;
        int fd;

        snprintf(p, sizeof p, "/proc/%d/cgroup", (int) pid);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        k = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (k <= 0)
                return false;
        buf[k] = 0;
        return strstr(buf, unit) != NULL;
}

static int cmd_leaders(size_t n, const char *file) {
        sd_bus *bus = bus_open();
        pid_t *v = fork_paused(n);
        int r;

        for (size_t i = 0; i < n; i++) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                char unit[64];

                snprintf(unit, sizeof unit, "bench-leader-%zu.scope", i);
                r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                       "org.freedesktop.systemd1.Manager", "StartTransientUnit", &error,
                                       NULL, "ssa(sv)a(sa(sv))", unit, "fail", 2, "PIDs", "au", 1,
                                       (uint32_t) v[i], "Slice", "s", "bench.slice", 0);
                if (r < 0) {
                        fprintf(stderr, "registry-client: StartTransientUnit %s: %s\n", unit, error.message);
                        exit(2);
                }
                sd_bus_error_free(&error);
        }
        /* The scope takes its PIDs when its job runs, after the reply: wait for all of them. */
        for (size_t i = 0; i < n; i++) {
                char unit[64];

                snprintf(unit, sizeof unit, "/bench-leader-%zu.scope", i);
                for (int t = 0; !in_unit(v[i], unit); t++) {
                        if (t > 3000)
                                die("leader never reached its scope", ETIMEDOUT);
                        usleep(10000);
                }
        }
        write_pids(file, v, n);
        sd_bus_flush_close_unref(bus);
        return 0;
}

static int cmd_spawn(size_t n, const char *file) {
        write_pids(file, fork_paused(n), n);
        return 0;
}

static int call_register(sd_bus *bus, const Daemon *d, bool create, const char *name, pid_t leader,
                         sd_bus_error *error) {
        sd_bus_message *m = NULL, *reply = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, d->dest, d->path, d->iface,
                                           create ? "CreateMachine" : "RegisterMachine");
        if (r >= 0)
                r = sd_bus_message_append(m, "sayssus", name, 0, "bench", "container",
                                          (uint32_t) leader, "");
        if (r >= 0 && create)
                r = sd_bus_message_append(m, "a(sv)", 0);
        if (r < 0)
                die("building the call", r);
        r = sd_bus_call(bus, m, CALL_TIMEOUT_USEC, error, &reply);
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
        return r;
}

static int which_daemons(const char *s) {
        if (!s || strcmp(s, "both") == 0)
                return 3;
        if (strcmp(s, "berthd") == 0)
                return 1;
        if (strcmp(s, "machined") == 0)
                return 2;
        die("daemon must be berthd, machined or both", EINVAL);
        return 0;
}

/* A connection that has said Hello already, so that only the call itself is timed. */
static sd_bus *bus_open_ready(void) {
        sd_bus *bus = bus_open();
        const char *unique;
        int r = sd_bus_get_unique_name(bus, &unique);

        if (r < 0)
                die("sd_bus_get_unique_name", r);
        return bus;
}

static int cmd_register(bool create, bool fresh, const char *prefix, const char *file, int mask) {
        const char *method = create ? "CreateMachine" : fresh ? "RegisterMachine-fresh" : "RegisterMachine";
        sd_bus *bus = bus_open();
        Samples s[2] = {};
        bool failed[2] = { !(mask & 1), !(mask & 2) };
        size_t n;
        pid_t *v = read_pids(file, &n);

        /* CreateMachine moves the leader into the new scope, so each daemon needs leaders of its
         * own: the file then holds two per machine (berthd's, machined's). */
        if (create)
                n /= 2;
        for (size_t i = 0; i < n; i++)
                /* Round i starts with daemon i mod 2: noise from elsewhere lands on both alike. */
                for (size_t k = 0; k < 2; k++) {
                        const Daemon *d = &daemons[(i + k) % 2];
                        size_t j = (size_t) (d - daemons);
                        sd_bus_error error = SD_BUS_ERROR_NULL;
                        char name[64];
                        uint64_t t0;
                        int r;

                        if (failed[j])
                                continue;
                        snprintf(name, sizeof name, "%s%s-%zu", d->prefix, prefix, i);
                        if (fresh) {
                                sd_bus_flush_close_unref(bus);
                                bus = bus_open_ready();
                        }
                        t0 = now_ns();
                        r = call_register(bus, d, create, name, create ? v[2 * i + j] : v[i], &error);
                        if (r < 0) {
                                printf("%s %s-failed %zu %s: %s\n", d->label, method, i,
                                       strna(error.name), error.message ?: strerror(-r));
                                fflush(stdout);
                                failed[j] = true;
                        } else
                                samples_add(&s[j], (double) (now_ns() - t0) / 1e6);
                        sd_bus_error_free(&error);
                }
        for (size_t j = 0; j < 2; j++)
                samples_print(daemons[j].label, method, &s[j]);
        sd_bus_flush_close_unref(bus);
        return 0;
}

static int count_list(sd_bus_message *reply) {
        const char *a, *b, *c, *o;
        int r, n = 0;

        r = sd_bus_message_enter_container(reply, 'a', "(ssso)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "(ssso)", &a, &b, &c, &o)) > 0)
                n++;
        return r < 0 ? r : n;
}

/* One timed call; on an error, says so once and marks the daemon as failed. */
static void timed_call(sd_bus *bus, const Daemon *d, const char *method, const char *name, size_t i,
                       Samples *s, bool *failed) {
        sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint64_t t0 = now_ns();
        int r;

        if (name)
                r = sd_bus_call_method(bus, d->dest, d->path, d->iface, method, &error, &reply, "s", name);
        else
                r = sd_bus_call_method(bus, d->dest, d->path, d->iface, method, &error, &reply, NULL);
        if (r < 0) {
                printf("%s %s-failed %zu %s: %s\n", d->label, method, i, strna(error.name),
                       error.message ?: strerror(-r));
                fflush(stdout);
                *failed = true;
        } else
                samples_add(s, (double) (now_ns() - t0) / 1e6);
        sd_bus_message_unref(reply);
        sd_bus_error_free(&error);
}

static int cmd_query(const char *prefix, size_t n, size_t runs) {
        sd_bus *bus = bus_open();
        Samples list[2] = {}, get[2] = {};
        bool failed[2] = {};
        unsigned seed = 42;
        size_t have[2] = { n, n };

        /* A daemon that refused registrations has fewer: ask only for names it has (machined
         * also lists the host itself, hence the minimum). */
        for (size_t j = 0; j < 2; j++) {
                sd_bus_message *reply = NULL;
                int r = sd_bus_call_method(bus, daemons[j].dest, daemons[j].path, daemons[j].iface,
                                           "ListMachines", NULL, &reply, NULL);

                r = r < 0 ? r : count_list(reply);
                printf("%s entries %d\n", daemons[j].label, r);
                if (r > 0 && (size_t) r < have[j])
                        have[j] = (size_t) r;
                if (r <= 0)
                        failed[j] = true;
                sd_bus_message_unref(reply);
        }
        for (size_t i = 0; i < runs; i++)
                for (size_t k = 0; k < 2; k++) {
                        size_t j = (i + k) % 2;
                        char name[64];

                        if (failed[j])
                                continue;
                        timed_call(bus, &daemons[j], "ListMachines", NULL, i, &list[j], &failed[j]);
                        snprintf(name, sizeof name, "%s%s-%u", daemons[j].prefix, prefix,
                                 (unsigned) (rand_r(&seed) % have[j]));
                        if (!failed[j])
                                timed_call(bus, &daemons[j], "GetMachine", name, i, &get[j], &failed[j]);
                }
        for (size_t j = 0; j < 2; j++) {
                samples_print(daemons[j].label, "ListMachines", &list[j]);
                samples_print(daemons[j].label, "GetMachine", &get[j]);
        }
        sd_bus_flush_close_unref(bus);
        return 0;
}

/* ListMachinesEx with FLAGS: the number of entries, and how many say "not read yet" (1|2). */
static int call_list_ex(sd_bus *bus, uint64_t flags, size_t *ret_pending) {
        sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r, n = 0;

        *ret_pending = 0;
        r = sd_bus_call_method(bus, daemons[0].dest, daemons[0].path, daemons[0].iface, "ListMachinesEx",
                               &error, &reply, "t", flags);
        if (r < 0) {
                fprintf(stderr, "registry-client: ListMachinesEx: %s\n", error.message ?: strerror(-r));
                sd_bus_error_free(&error);
                return r;
        }
        r = sd_bus_message_enter_container(reply, 'a', "(ssssssutsssa(iay)u)");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'r', "ssssssutsssa(iay)u")) > 0) {
                uint32_t f = 0;

                r = sd_bus_message_skip(reply, "ssssssutsssa(iay)");
                if (r >= 0)
                        r = sd_bus_message_read(reply, "u", &f);
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
                if (f & 3)
                        (*ret_pending)++;
                n++;
        }
        sd_bus_message_unref(reply);
        return r < 0 ? r : n;
}

static int cmd_query_ex(size_t runs) {
        sd_bus *bus = bus_open();
        Samples list = {}, ex0 = {}, ex1 = {};
        size_t pending = 0;
        bool failed = false;
        int n;

        n = call_list_ex(bus, 1, &pending);
        printf("berthd ex-entries %d %zu\n", n, pending);
        for (size_t i = 0; i < runs && n >= 0; i++) {
                uint64_t t0;

                /* Round trips alone, as timed_call() times ListMachines: no parsing. */
                timed_call(bus, &daemons[0], "ListMachines", NULL, i, &list, &failed);
                for (uint64_t flags = 0; flags < 2; flags++) {
                        sd_bus_message *reply = NULL;
                        int r;

                        t0 = now_ns();
                        r = sd_bus_call_method(bus, daemons[0].dest, daemons[0].path, daemons[0].iface,
                                               "ListMachinesEx", NULL, &reply, "t", flags);
                        if (r < 0)
                                die("ListMachinesEx", r);
                        samples_add(flags ? &ex1 : &ex0, (double) (now_ns() - t0) / 1e6);
                        sd_bus_message_unref(reply);
                }
        }
        (void) call_list_ex(bus, 0, &pending);
        samples_print("berthd", "ListMachines", &list);
        samples_print("berthd", "ListMachinesEx", &ex0);
        samples_print("berthd", "ListMachinesEx-fresh", &ex1);
        printf("berthd ex-pending-last %zu\n", pending);
        sd_bus_flush_close_unref(bus);
        return 0;
}

static int cmd_unregister(const char *prefix, size_t n) {
        sd_bus *bus = bus_open();
        Samples s[2] = {};

        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < 2; j++) {
                        const Daemon *d = &daemons[j];
                        sd_bus_error error = SD_BUS_ERROR_NULL;
                        char name[64];
                        uint64_t t0 = now_ns();

                        snprintf(name, sizeof name, "%s%s-%zu", d->prefix, prefix, i);
                        if (sd_bus_call_method(bus, d->dest, d->path, d->iface, "UnregisterMachine",
                                               &error, NULL, "s", name) >= 0)
                                samples_add(&s[j], (double) (now_ns() - t0) / 1e6);
                        sd_bus_error_free(&error);
                }
        for (size_t j = 0; j < 2; j++)
                samples_print(daemons[j].label, "UnregisterMachine", &s[j]);
        sd_bus_flush_close_unref(bus);
        return 0;
}

static int cmd_run(const char *label, size_t runs, char **argv) {
        Samples s = {};

        for (size_t i = 0; i < runs; i++) {
                uint64_t t0 = now_ns();
                int status;
                pid_t pid = fork();

                if (pid < 0)
                        die("fork", errno);
                if (pid == 0) {
                        int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

                        if (fd >= 0)
                                dup2(fd, STDOUT_FILENO);
                        execvp(argv[0], argv);
                        _exit(127);
                }
                if (waitpid(pid, &status, 0) < 0)
                        die("waitpid", errno);
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        printf("%s wall-failed %zu %s exited with status 0x%x\n", label, i, argv[0], status);
                        return 0;
                }
                samples_add(&s, (double) (now_ns() - t0) / 1e6);
        }
        samples_print(label, "wall", &s);
        return 0;
}

/* What unit-start waits for: one daemon's MachineNew or MachineRemoved of NAME, one job. */
typedef struct UnitWait {
        const char *name;
        const char *job;      /* the job path StartUnit/StopUnit returned */
        bool machine_seen, job_done;
        uint64_t machine_ns;
} UnitWait;

static int on_machine_signal(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        UnitWait *w = userdata;
        const char *name;

        (void) e;
        if (w->name && sd_bus_message_read(m, "s", &name) >= 0 && streq_ptr(name, w->name) &&
            !w->machine_seen) {
                w->machine_seen = true;
                w->machine_ns = now_ns();
        }
        return 0;
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        UnitWait *w = userdata;
        const char *path;
        uint32_t id;

        (void) e;
        if (w->job && sd_bus_message_read(m, "uo", &id, &path) >= 0 && streq_ptr(path, w->job))
                w->job_done = true;
        return 0;
}

/* Calls METHOD (StartUnit/StopUnit) on UNIT and runs the bus until both the machine signal
 * and the job's end came; returns the job's end time, the signal's in W. */
static uint64_t unit_call_wait(sd_bus *bus, const char *method, const char *unit, UnitWait *w) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        uint64_t deadline = now_ns() + CALL_TIMEOUT_USEC * 1000ULL, done = 0;
        const char *job;
        char *job_copy;
        int r;

        w->machine_seen = w->job_done = false;
        w->job = NULL;
        r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", method, &error, &reply, "ss",
                               unit, "replace");
        if (r < 0) {
                fprintf(stderr, "registry-client: %s %s: %s\n", method, unit, error.message ?: strerror(-r));
                exit(2);
        }
        if (sd_bus_message_read(reply, "o", &job) < 0 || !(job_copy = strdup(job)))
                die("job path", EINVAL);
        w->job = job_copy;
        sd_bus_message_unref(reply);
        while (!w->machine_seen || !w->job_done) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        die("sd_bus_process", r);
                if (w->job_done && !done)
                        done = now_ns();
                if (r > 0)
                        continue;
                if (now_ns() > deadline) {
                        fprintf(stderr, "registry-client: %s %s: timed out (signal %d, job %d)\n",
                                method, unit, w->machine_seen, w->job_done);
                        exit(2);
                }
                (void) sd_bus_wait(bus, 100000);
        }
        free(job_copy);
        w->job = NULL;
        return done ?: now_ns();
}

#define UNIT_SETTLE_USEC (3ULL * 1000000ULL)

static int cmd_unit_start(size_t runs, const char *name) {
        static const char *const templates[] = { "berth-spawn@%s%s.service", "systemd-nspawn@%s%s.service" };
        Samples reg[2] = {}, started[2] = {};
        UnitWait w[2] = {};
        char names[2][64], units[2][128];
        sd_bus *bus = bus_open();
        int r;

        for (size_t j = 0; j < 2; j++) {
                snprintf(names[j], sizeof names[j], "%s%s", daemons[j].prefix, name);
                snprintf(units[j], sizeof units[j], templates[j], daemons[j].prefix, name);
                w[j].name = names[j];
                if (sd_bus_match_signal(bus, NULL, daemons[j].dest, daemons[j].path, daemons[j].iface,
                                        "MachineNew", on_machine_signal, &w[j]) < 0 ||
                    sd_bus_match_signal(bus, NULL, daemons[j].dest, daemons[j].path, daemons[j].iface,
                                        "MachineRemoved", on_machine_signal, &w[j]) < 0 ||
                    sd_bus_match_signal(bus, NULL, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                        "org.freedesktop.systemd1.Manager", "JobRemoved",
                                        on_job_removed, &w[j]) < 0)
                        die("match", EIO);
        }
        r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "Subscribe", NULL, NULL, "");
        if (r < 0)
                die("Subscribe", r);
        for (size_t i = 0; i < runs; i++)
                for (size_t k = 0; k < 2; k++) {
                        size_t j = (i + k) % 2;   /* alternate who goes first */
                        uint64_t t0 = now_ns(), end = unit_call_wait(bus, "StartUnit", units[j], &w[j]);

                        samples_add(&reg[j], (double) (w[j].machine_ns - t0) / 1e6);
                        samples_add(&started[j], (double) (end - t0) / 1e6);
                        /* nspawn@ is "started" once its init runs: a guest told to power off
                         * while still booting may not; let both finish booting first. */
                        usleep(UNIT_SETTLE_USEC);
                        (void) unit_call_wait(bus, "StopUnit", units[j], &w[j]);
                }
        for (size_t j = 0; j < 2; j++) {
                samples_print(daemons[j].label, "unit-registered", &reg[j]);
                samples_print(daemons[j].label, "unit-started", &started[j]);
        }
        sd_bus_flush_close_unref(bus);
        return 0;
}

int main(int argc, char *argv[]) {
        const char *c = argc > 1 ? argv[1] : "";

        if (streq_ptr(c, "leaders") && argc == 4)
                return cmd_leaders(strtoul(argv[2], NULL, 10), argv[3]);
        if (streq_ptr(c, "spawn") && argc == 4)
                return cmd_spawn(strtoul(argv[2], NULL, 10), argv[3]);
        if ((streq_ptr(c, "register") || streq_ptr(c, "register-fresh") || streq_ptr(c, "create")) &&
            (argc == 4 || argc == 5))
                return cmd_register(c[0] == 'c', streq_ptr(c, "register-fresh"), argv[2], argv[3],
                                    which_daemons(argv[4]));
        if (streq_ptr(c, "query") && argc == 5)
                return cmd_query(argv[2], strtoul(argv[3], NULL, 10), strtoul(argv[4], NULL, 10));
        if (streq_ptr(c, "query-ex") && argc == 3)
                return cmd_query_ex(strtoul(argv[2], NULL, 10));
        if (streq_ptr(c, "unregister") && argc == 4)
                return cmd_unregister(argv[2], strtoul(argv[3], NULL, 10));
        if (streq_ptr(c, "run") && argc >= 5)
                return cmd_run(argv[2], strtoul(argv[3], NULL, 10), argv + 4);
        if (streq_ptr(c, "unit-start") && argc == 4)
                return cmd_unit_start(strtoul(argv[2], NULL, 10), argv[3]);
        fprintf(stderr, "usage: see the head of bench/registry-client.c\n");
        return 2;
}
