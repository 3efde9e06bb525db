/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthd's state: the machine registry, its persistence and its life cycle. */
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "bus-errors.h"
#include "fd-util.h"
#include "hash-util.h"
#include "log.h"
#include "machine-cache.h"
#include "machine-dbus.h"
#include "machine-lifecycle.h"
#include "machine-resources.h"
#include "manager.h"
#include "manager-dbus.h"
#include "name-util.h"
#include "resolve.h"
#include "resolve.h"
#include "scope-cgroupfs.h"
#include "scope-systemd.h"
#include "state.h"
#include "strv.h"

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

        r = scope_backend_detect(&m->scope_backend);
        if (r < 0)
                return log_error_errno(r, "$BERTH_SCOPE_BACKEND must be \"cgroupfs\" or \"systemd\".");
        log_info("Using the %s scope backend.", scope_backend_to_string(m->scope_backend));

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
        /* Before the machines: its timer and worker point at them. (berthd frees it at the
         * event loop's exit already; a Manager freed without that, in tests, must too.) */
        machine_cache_free(m);
        /* Machines outlive us on purpose: their state files stay for the next berthd. */
        free_list(m->machines);
        free_list(m->closing);
        free(m->name_index);
        m->systemd = systemd_scope_free(m->systemd);
        machine_lifecycle_free_all(m);
        polkit_registry_free(m->polkit_registry);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
        free(m->state_dir);
        free(m->cgroup_root);
        free(m->own_cgroup);
        free(m);
        return NULL;
}

/* ---- the registry: a doubly linked list, indexed by name ----
 * Stopping all of 5,000 machines looks each up several times (the call, its signals, the sd-bus
 * object callbacks) and unlinks each: with a plain list that was O(N) per machine and stop-all
 * O(N²), a quarter of berthd's time at 2,000 machines. */

static size_t name_hash(const char *s) {
        return (size_t) fnv1a_64(s);
}

/* A new table of SIZE buckets (a power of two) filled from the list, the source of truth; on
 * failure the old one stays, with longer chains. */
static void name_index_rebuild(Manager *m, size_t size) {
        Machine **t = calloc(size, sizeof(Machine *));

        if (!t)
                return;
        for (Machine *i = m->machines; i; i = i->next) {
                size_t b = name_hash(i->name) & (size - 1);

                i->name_next = t[b];
                t[b] = i;
        }
        free(m->name_index);
        m->name_index = t;
        m->name_index_size = size;
}

static void registry_link(Manager *m, Machine *machine) {
        machine->prev = NULL;
        machine->next = m->machines;
        if (m->machines)
                m->machines->prev = machine;
        m->machines = machine;
        m->n_machines++;

        if (!m->name_index || m->n_machines > m->name_index_size)
                name_index_rebuild(m, m->name_index_size > 0 ? 2 * m->name_index_size : 64);
        else {
                size_t b = name_hash(machine->name) & (m->name_index_size - 1);

                machine->name_next = m->name_index[b];
                m->name_index[b] = machine;
        }
}

static void list_unlink(Machine **list, Machine *machine) {
        if (machine->prev)
                machine->prev->next = machine->next;
        else if (*list == machine)
                *list = machine->next;
        if (machine->next)
                machine->next->prev = machine->prev;
        machine->next = machine->prev = NULL;
}

static void registry_unlink(Manager *m, Machine *machine) {
        if (m->name_index) {
                Machine **i = &m->name_index[name_hash(machine->name) & (m->name_index_size - 1)];

                for (; *i; i = &(*i)->name_next)
                        if (*i == machine) {
                                *i = machine->name_next;
                                break;
                        }
        }
        machine->name_next = NULL;
        list_unlink(&m->machines, machine);
        m->n_machines--;
}

Machine *manager_find_machine(Manager *m, const char *name) {
        if (m->name_index) {
                for (Machine *i = m->name_index[name_hash(name) & (m->name_index_size - 1)]; i;
                     i = i->name_next)
                        if (streq(i->name, name))
                                return i;
                return NULL;
        }
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

static bool component_has_suffix(const char *p, size_t n, const char *suffix) {
        size_t k = strlen(suffix);

        return n > k && strncmp(p + n - k, suffix, k) == 0;
}

/* The unit of a cgroup path (relative to the cgroup2 root): its first ".scope" or ".service"
 * component, below the slices, as systemd itself sees it. The deepest one would be wrong:
 * berth-spawn --keep-unit runs a container in UNIT/payload, a container's own systemd then moves
 * its init to UNIT/payload/init.scope, and user@UID.service holds the user manager's scopes, none
 * of which the host's systemd knows. *RET_LEN: the length of the path up to the unit. */
static int cgroup_unit(const char *cg, char **ret_unit, size_t *ret_len) {
        const char *p = cg;

        *ret_unit = NULL;
        for (;;) {
                size_t n;

                p += strspn(p, "/");
                if (*p == 0)
                        return 0;
                n = strcspn(p, "/");
                if (component_has_suffix(p, n, ".scope") || component_has_suffix(p, n, ".service")) {
                        *ret_unit = strndup(p, n);
                        *ret_len = (size_t) (p - cg) + n;
                        return *ret_unit ? 1 : -ENOMEM;
                }
                p += n;
        }
}

static int adopt_cgroup(Manager *m, Machine *machine) {
        _cleanup_free_ char *cg = NULL;
        size_t len = 0;
        int r;

        r = proc_cgroup(machine->leader, &cg);
        if (r < 0)
                return r;
        r = cgroup_unit(cg, &machine->unit, &len);
        if (r < 0)
                return r;
        /* The machine is its whole unit, whatever sub-cgroup the leader sits in. */
        if (r > 0)
                cg[len] = 0;
        if (asprintf(&machine->cgroup_path, "%s%s", m->cgroup_root, streq(cg, "/") ? "" : cg) < 0)
                return -ENOMEM;
        return 0;
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

static bool use_systemd(Manager *m) {
        return m->scope_backend == SCOPE_BACKEND_SYSTEMD;
}

/* Identity, leader and unit of a new machine; nothing made or announced yet. */
static int machine_prepare(Manager *m, Machine *machine, bool create) {
        int r;

        machine->manager = m;
        /* A namesake may have been added while polkit was asked, may still be waiting for
         * systemd, or its scope may still be emptying: its name, scope and state are taken. */
        if (manager_find_machine(m, machine->name) || is_closing(m, machine->name) ||
            systemd_scope_pending(m, machine->name))
                return -EEXIST;
        r = machine_open_leader(machine);
        if (r < 0)
                return r;

        if (create) {
                if (asprintf(&machine->unit, "machine-%s.scope", machine->name) < 0)
                        return -ENOMEM;
                /* Under systemd the cgroup is known once systemd made it. */
                if (!use_systemd(m)) {
                        r = scope_path(m->cgroup_root, machine->name, &machine->cgroup_path);
                        if (r < 0)
                                return r;
                }
                machine->scope_created = true;
        } else {
                r = adopt_cgroup(m, machine);
                if (r < 0)
                        return r;
        }
        machine->timestamp = now_usec(CLOCK_REALTIME);
        machine->timestamp_monotonic = now_usec(CLOCK_MONOTONIC);
        return 0;
}

/* Into the registry, and announced. */
static void machine_publish(Manager *m, Machine *machine) {
        registry_link(m, machine);
        (void) manager_send_machine_signal(m, machine, true);
        log_info("New machine %s (leader %i, unit %s).", machine->name, (int) machine->leader,
                 strempty(machine->unit));
        /* A machine of this name had limits saved (SetMachineProperties): they hold again. */
        (void) machine_resources_restore(machine);
        /* A StartMachine may be waiting for it. */
        machine_lifecycle_machine_added(m, machine);
}

int manager_add_machine(Manager *m, Machine *machine, bool create) {
        int r;

        /* Created machines under systemd go through manager_create_machine_scope(). */
        if (create && use_systemd(m))
                return -EOPNOTSUPP;
        r = machine_prepare(m, machine, create);
        if (r < 0)
                return r;
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
                        goto fail;
                }
        }
        if (use_systemd(m)) {
                r = systemd_scope_track(machine);
                if (r < 0) {
                        log_warning_errno(r, "Failed to watch unit %s: %m", strempty(machine->unit));
                        goto fail;
                }
        }

        machine_publish(m, machine);
        return 0;

fail:
        machine->leader_source = sd_event_source_disable_unref(machine->leader_source);
        (void) state_remove(m->state_dir, machine->name);
        return r;
}

int manager_create_machine_scope(Manager *m, Machine *machine, sd_bus_message *message) {
        int r;

        if (!use_systemd(m))
                return -EOPNOTSUPP;
        r = machine_prepare(m, machine, true);
        if (r < 0)
                return r;
        machine->state = MACHINE_OPENING;
        /* Persist first: a berthd killed while systemd makes the scope must find it again. */
        r = state_save(m->state_dir, machine);
        if (r < 0)
                return log_warning_errno(r, "Failed to save the state of %s: %m", machine->name);
        r = systemd_scope_create(m, machine, message);
        if (r < 0) {
                (void) state_remove(m->state_dir, machine->name);
                return log_warning_errno(r, "Failed to ask systemd for the scope of %s: %m", machine->name);
        }
        return 0;
}

/* Where systemd put the scope: the leader's cgroup up to the unit. Should the leader not be in
 * it (a systemd that does not really run the host, in tests), where machine.slice's would be. */
static int scope_cgroup(Manager *m, Machine *machine) {
        _cleanup_free_ char *cg = NULL, *unit = NULL;
        size_t len = 0;
        int r;

        r = proc_cgroup(machine->leader, &cg);
        if (r < 0)
                return r;
        r = cgroup_unit(cg, &unit, &len);
        if (r < 0)
                return r;
        free(machine->cgroup_path);
        machine->cgroup_path = NULL;
        if (r > 0 && streq(unit, machine->unit)) {
                cg[len] = 0;
                return asprintf(&machine->cgroup_path, "%s%s", m->cgroup_root, cg) < 0 ? -ENOMEM : 0;
        }
        return scope_path(m->cgroup_root, machine->name, &machine->cgroup_path);
}

int manager_machine_scope_started(Manager *m, Machine *machine) {
        int r;

        r = scope_cgroup(m, machine);
        if (r < 0)
                goto fail;
        machine->state = MACHINE_RUNNING;
        r = state_save(m->state_dir, machine);
        if (r < 0)
                goto fail;
        r = machine_start_watch(machine);
        if (r < 0)
                goto fail;
        machine_publish(m, machine);
        return 0;

fail:
        machine->state = MACHINE_OPENING;
        (void) state_remove(m->state_dir, machine->name);
        return log_warning_errno(r, "Failed to add machine %s: %m", machine->name);
}

/* A machine out of the registry whose scope still has to empty stays on disk (as "closing"), so
 * that a restarted berthd still removes the scope. */
static void park_closing(Manager *m, Machine *machine) {
        int r;

        machine->prev = NULL;
        machine->next = m->closing;
        if (m->closing)
                m->closing->prev = machine;
        m->closing = machine;
        m->n_closing++;
        r = state_save(m->state_dir, machine);
        if (r < 0)
                log_warning_errno(r, "Failed to save the state of %s: %m", machine->name);
}

void manager_machine_gone(Manager *m, Machine *machine) {
        int r;

        machine->state = MACHINE_CLOSING;
        (void) machine_send_state_changed(machine);
        (void) manager_send_machine_signal(m, machine, false);
        registry_unlink(m, machine);
        log_info("Machine %s removed.", machine->name);
        /* A StartMachine may be waiting for the name to be free. */
        machine_lifecycle_machine_gone(m, machine->name);

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

        /* Parked, or straight from the registry (it holds no scope that must empty first). */
        if (machine->prev || m->closing == machine) {
                list_unlink(&m->closing, machine);
                m->n_closing--;
        }
        machine_resources_release(machine);
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
        if (machine->scope_created && !use_systemd(m) &&
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
                else {
                        machine_resources_release(machine);
                        (void) state_remove(m->state_dir, name);
                }
                return 0;
        }
        machine->state = MACHINE_RUNNING;

        r = machine_start_watch(machine);
        if (r < 0)
                return r;
        registry_link(m, TAKE_PTR(machine));
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
        if (use_systemd(m)) {
                r = systemd_scope_start(m);
                if (r < 0)
                        return r;
        }
        r = sd_bus_request_name(m->bus, "org.berth.machine1", 0);
        if (r < 0)
                return log_error_errno(r, "Failed to own org.berth.machine1: %m");
        return 0;
}
