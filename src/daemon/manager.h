/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthd's state: the registry of machines, the bus and event loop, the persistent state dir. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bus-polkit.h"
#include "machine.h"
#include "scope-systemd.h"

typedef struct Operation Operation;
typedef struct StartJob StartJob;

struct Manager {
        sd_event *event;
        sd_bus *bus;

        /* The registry: what ListMachines shows. */
        Machine *machines;
        /* Out of the registry, waiting for their scope to empty before we remove it. */
        Machine *closing;
        unsigned n_machines, n_closing;
        /* The registry by name, a chained hash table (manager.c); NULL: not allocated, then
         * the list is walked. */
        Machine **name_index;
        size_t name_index_size;

        char *state_dir;   /* RUNTIME_DIR/machines, one KEY=VALUE file per machine */
        char *cgroup_root; /* the cgroup2 mount point */
        char *own_cgroup;  /* berthd's own cgroup (absolute path), never killed wholesale */

        PolkitRegistry *polkit_registry;

        /* Operations (operation.c): forked workers in flight, and their limit (0 = not read
         * from $BERTH_MAX_OPERATIONS yet). */
        Operation *operations;
        unsigned n_operations;
        unsigned operations_max;
        bool operations_exit_hooked;

        /* Scope backend (scope-systemd.h), chosen once at start; systemd's state when it is
         * the systemd backend. */
        ScopeBackend scope_backend;
        SystemdScope *systemd;

        /* Machine cap (machine-limit.c): 0 = not read from $BERTH_MAX_MACHINES yet. */
        unsigned machines_max;

        /* StartMachine (machine-lifecycle.c): machines being started, and the berth-spawn
         * processes berthd runs itself where there is no systemd. */
        StartJob *start_jobs;

        /* Images (image-dbus.c): the images clones are reading from, one entry per clone;
         * remove and rename refuse them (ImageBusy) meanwhile. NULL when there are none. */
        char **image_clone_sources;

        /* Transfers (transfer-dbus.c): the registry, owned by the bus; NULL before and after. */
        struct TransferRegistry *transfers;

        /* ListMachinesEx's cache (machine-cache.c): its worker and waiting calls; NULL until
         * first used. */
        MachineCache *machine_cache;
};

int manager_new(const char *runtime_dir, Manager **ret);
Manager *manager_free(Manager *m);
static inline void manager_freep(Manager **m) {
        if (*m)
                manager_free(*m);
}

int manager_connect_bus(Manager *m);

/* Reloads the machines persisted by a previous berthd, silently dropping stale ones. */
int manager_load(Manager *m);

Machine *manager_find_machine(Manager *m, const char *name);
/* The machine whose leader is PID, or whose cgroup holds PID. */
Machine *manager_find_machine_by_pid(Manager *m, pid_t pid);

/* Takes MACHINE (filled in by the caller: name, class, leader, ...) into the registry: makes its
 * scope (CREATE) or adopts the leader's cgroup, watches the leader, persists it, announces it.
 * On failure nothing is left behind and the caller still owns MACHINE. */
int manager_add_machine(Manager *m, Machine *machine, bool create);

/* Takes MACHINE out of the registry (leader exited, or UnregisterMachine): MachineRemoved, state
 * file removed; it is freed now or once its scope emptied. */
void manager_machine_gone(Manager *m, Machine *machine);
/* Frees a machine that manager_machine_gone() parked until its scope emptied. */
void manager_machine_finalize(Manager *m, Machine *machine);

/* True if killing everything in PATH would hit processes that are not the machine's: the root
 * cgroup, or berthd's own cgroup or one of its ancestors. */
bool manager_cgroup_is_shared(Manager *m, const char *path);

/* systemd scope backend: asks systemd for MACHINE's scope and answers MESSAGE (CreateMachine)
 * once its job ended. On success (0) MACHINE is taken; on failure nothing is left behind and
 * the caller still owns MACHINE. */
int manager_create_machine_scope(Manager *m, Machine *machine, sd_bus_message *message);
/* Called by the systemd backend once the scope's job is done: registers MACHINE as
 * manager_add_machine() would. On failure nothing is left behind but the scope. */
int manager_machine_scope_started(Manager *m, Machine *machine);
