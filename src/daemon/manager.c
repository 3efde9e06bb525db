/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthd's state: the machine registry, its persistence and its life cycle. */
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "bus-errors.h"
#include "fd-util.h"
#include "log.h"
#include "machine-dbus.h"
#include "manager.h"
#include "manager-dbus.h"
#include "name-util.h"
#include "scope-cgroupfs.h"
#include "state.h"
#include "strv.h"

static int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return negative_errno();
                *s = '/';
        }
        return mkdir(p, mode) < 0 && errno != EEXIST ? negative_errno() : 0;
}

int manager_new(const char *runtime_dir, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_free_ char *own = NULL;
        int r;

        m = calloc(1, sizeof(Manager));
        if (!m)
                return -ENOMEM;
        if (asprintf(&m->state_dir, "%s/machines", runtime_dir) < 0)
                return -ENOMEM;
        r = mkdir_p(m->state_dir, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s: %m", m->state_dir);

        r = cgroupfs_root(&m->cgroup_root);
        if (r < 0)
                return log_error_errno(r, "No cgroup2 hierarchy found: %m");
        r = proc_cgroup(getpid(), &own);
        if (r < 0)
                return log_error_errno(r, "Failed to find our own cgroup: %m");
        if (asprintf(&m->own_cgroup, "%s%s", m->cgroup_root, streq(own, "/") ? "" : own) < 0)
                return -ENOMEM;

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate the event loop: %m");

        *ret = TAKE_PTR(m);
        return 0;
}

static void free_list(Machine *l) {
        while (l) {
                Machine *n = l->next;
                machine_free(l);
                l = n;
        }
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        /* Machines outlive us on purpose: their state files stay for the next berthd. */
        free_list(m->machines);
        free_list(m->closing);
        polkit_registry_free(m->polkit_registry);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
        free(m->state_dir);
        free(m->cgroup_root);
        free(m->own_cgroup);
        free(m);
        return NULL;
}

Machine *manager_find_machine(Manager *m, const char *name) {
        for (Machine *i = m->machines; i; i = i->next)
                if (streq(i->name, name))
                        return i;
        return NULL;
}

bool manager_cgroup_is_shared(Manager *m, const char *path) {
        const char *rest;

        if (streq(path, m->cgroup_root))
                return true;
        rest = startswith(m->own_cgroup, path);
        return rest && (*rest == 0 || *rest == '/');
}

Machine *manager_find_machine_by_pid(Manager *m, pid_t pid) {
        _cleanup_free_ char *cg = NULL, *abs = NULL;

        for (Machine *i = m->machines; i; i = i->next)
                if (i->leader == pid)
                        return i;
        if (proc_cgroup(pid, &cg) < 0 || asprintf(&abs, "%s%s", m->cgroup_root, cg) < 0)
                return NULL;
        for (Machine *i = m->machines; i; i = i->next) {
                const char *rest;

                if (!i->cgroup_path || manager_cgroup_is_shared(m, i->cgroup_path))
                        continue;
                rest = startswith(abs, i->cgroup_path);
                if (rest && (*rest == 0 || *rest == '/'))
                        return i;
        }
        return NULL;
}

static void unlink_from(Machine **list, Machine *machine) {
        for (Machine **i = list; *i; i = &(*i)->next)
                if (*i == machine) {
                        *i = machine->next;
                        machine->next = NULL;
                        return;
                }
}

static int adopt_cgroup(Manager *m, Machine *machine) {
        _cleanup_free_ char *cg = NULL;
        const char *base;
        int r;

        r = proc_cgroup(machine->leader, &cg);
        if (r < 0)
                return r;
        if (asprintf(&machine->cgroup_path, "%s%s", m->cgroup_root, streq(cg, "/") ? "" : cg) < 0)
                return -ENOMEM;
        /* Under systemd the last component of the cgroup path is the unit's name. */
        base = strrchr(cg, '/');
        machine->unit = strdup(base ? base + 1 : cg);
        return machine->unit ? 0 : -ENOMEM;
}

static bool is_closing(Manager *m, const char *name) {
        for (Machine *i = m->closing; i; i = i->next)
                if (streq(i->name, name))
                        return true;
        return false;
}

static uint64_t now_usec(clockid_t clock) {
        struct timespec ts;

        (void) clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

int manager_add_machine(Manager *m, Machine *machine, bool create) {
        int r;

        machine->manager = m;
        /* The scope of a dead namesake is still emptying: its directory and state are taken. */
        if (is_closing(m, machine->name))
                return -EEXIST;
        r = machine_open_leader(machine);
        if (r < 0)
                return r;

        if (create) {
                r = scope_path(m->cgroup_root, machine->name, &machine->cgroup_path);
                if (r >= 0 && asprintf(&machine->unit, "machine-%s.scope", machine->name) < 0)
                        r = -ENOMEM;
                machine->scope_created = true;
        } else
                r = adopt_cgroup(m, machine);
        if (r < 0)
                return r;
        machine->timestamp = now_usec(CLOCK_REALTIME);
        machine->timestamp_monotonic = now_usec(CLOCK_MONOTONIC);
        machine->state = MACHINE_RUNNING;

        /* Persist first: a berthd killed right after making the scope must find it again. */
        r = state_save(m->state_dir, machine);
        if (r < 0)
                return log_warning_errno(r, "Failed to save the state of %s: %m", machine->name);
        r = machine_start_watch(machine);
        if (r < 0)
                goto fail;
        if (create) {
                r = scope_create(machine->cgroup_path, machine->leader);
                if (r < 0) {
                        log_warning_errno(r, "Failed to create the scope of %s: %m", machine->name);
                        machine->leader_source = sd_event_source_disable_unref(machine->leader_source);
                        goto fail;
                }
        }

        machine->next = m->machines;
        m->machines = machine;
        (void) manager_send_machine_signal(m, machine, true);
        log_info("New machine %s (leader %i, unit %s).", machine->name, (int) machine->leader,
                 strempty(machine->unit));
        return 0;

fail:
        (void) state_remove(m->state_dir, machine->name);
        return r;
}

/* A machine out of the registry whose scope still has to empty stays on disk (as "closing"), so
 * that a restarted berthd still removes the scope. */
static void park_closing(Manager *m, Machine *machine) {
        int r;

        machine->next = m->closing;
        m->closing = machine;
        r = state_save(m->state_dir, machine);
        if (r < 0)
                log_warning_errno(r, "Failed to save the state of %s: %m", machine->name);
}

void manager_machine_gone(Manager *m, Machine *machine) {
        int r;

        machine->state = MACHINE_CLOSING;
        (void) machine_send_state_changed(machine);
        (void) manager_send_machine_signal(m, machine, false);
        unlink_from(&m->machines, machine);
        log_info("Machine %s removed.", machine->name);

        r = machine_leader_exited(machine);
        if (r == 0) {
                park_closing(m, machine);
                return;
        }
        if (r < 0)
                log_warning_errno(r, "Failed to watch the scope of %s, leaving it: %m", machine->name);
        manager_machine_finalize(m, machine);
}

void manager_machine_finalize(Manager *m, Machine *machine) {
        int r;

        unlink_from(&m->closing, machine);
        r = state_remove(m->state_dir, machine->name);
        if (r < 0)
                log_warning_errno(r, "Failed to remove the state of %s: %m", machine->name);
        machine_free(machine);
}

static int load_one(Manager *m, const char *name) {
        _cleanup_(machine_freep) Machine *machine = NULL;
        int r;

        r = state_load(m->state_dir, name, &machine);
        if (r < 0) {
                log_warning_errno(r, "Dropping unreadable machine state %s: %m", name);
                return state_remove(m->state_dir, name);
        }
        machine->manager = m;

        /* A scope we made lives only under our own cgroup root: never trust a file to point
         * us elsewhere. */
        if (machine->scope_created &&
            (!machine->cgroup_path || !startswith(machine->cgroup_path, m->cgroup_root) ||
             strstr(machine->cgroup_path, "/../")))
                machine->scope_created = false;

        r = machine->state == MACHINE_CLOSING ? -ESRCH : machine_open_leader(machine);
        if (r < 0) {
                if (machine->state != MACHINE_CLOSING)
                        log_info("Machine %s is gone (leader %i exited or was replaced: %s), dropping it.",
                                 name, (int) machine->leader, strerror(-r));
                machine->state = MACHINE_CLOSING;
                r = machine_leader_exited(machine);
                if (r == 0)
                        park_closing(m, TAKE_PTR(machine));
                else
                        (void) state_remove(m->state_dir, name);
                return 0;
        }
        machine->state = MACHINE_RUNNING;

        r = machine_start_watch(machine);
        if (r < 0)
                return r;
        machine->next = m->machines;
        m->machines = TAKE_PTR(machine);
        log_info("Machine %s restored.", name);
        return 0;
}

int manager_load(Manager *m) {
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_strv_free_ char **names = NULL;
        struct dirent *de;
        int r;

        d = opendir(m->state_dir);
        if (!d)
                return log_error_errno(negative_errno(), "Failed to open %s: %m", m->state_dir);
        /* Names first: loading rewrites some files, and a rename during readdir() may show the
         * same name twice. */
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.') {
                        /* Leftover temporary files of a berthd killed mid-write. */
                        if (startswith(de->d_name, ".#"))
                                (void) unlinkat(dirfd(d), de->d_name, 0);
                        continue;
                }
                if (!machine_name_is_valid(de->d_name)) {
                        (void) unlinkat(dirfd(d), de->d_name, 0);
                        continue;
                }
                r = strv_extend(&names, de->d_name);
                if (r < 0)
                        return log_oom();
        }
        for (char **n = names; n && *n; n++)
                (void) load_one(m, *n);
        return 0;
}

int manager_connect_bus(Manager *m) {
        int r;

        r = sd_bus_open_system(&m->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");
        r = manager_bus_register(m);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        r = sd_bus_request_name(m->bus, "org.berth.machine1", 0);
        if (r < 0)
                return log_error_errno(r, "Failed to own org.berth.machine1: %m");
        return 0;
}
