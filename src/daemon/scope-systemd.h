/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The systemd scope backend: machine-NAME.scope as a transient unit of the host's systemd,
 * created, watched, stopped and killed over org.freedesktop.systemd1, never blocking the bus. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "machine.h"

typedef enum ScopeBackend {
        SCOPE_BACKEND_CGROUPFS,
        SCOPE_BACKEND_SYSTEMD,
        _SCOPE_BACKEND_MAX,
        _SCOPE_BACKEND_INVALID = -EINVAL,
} ScopeBackend;

typedef struct SystemdScope SystemdScope;

const char *scope_backend_to_string(ScopeBackend b);
ScopeBackend scope_backend_from_string(const char *s);

/* $BERTH_SCOPE_BACKEND if set (-EINVAL if it names no backend); otherwise systemd when systemd
 * is the host's init (/run/systemd/system) and org.freedesktop.systemd1 is on the system bus,
 * cgroupfs if not. Blocks briefly on the bus: call once, at start. */
int scope_backend_detect(ScopeBackend *ret);

/* Machines go into one of this many sub-slices of machine.slice, chosen by a hash of the name.
 * systemd walks every sibling in a unit's slice each time it starts or stops one (to queue them
 * for cgroup realization), so a flat machine.slice makes each CreateMachine and each stop cost
 * PID 1 about 6 µs more per machine already there: 15 ms of its CPU per start at 2,000
 * machines against 2.6 ms with 64 sub-slices (bench/README.md). 64 keeps both levels short up
 * to berthd's limit of machines. */
#define MACHINE_SLICE_SHARDS 64U
#define MACHINE_SHARD_SLICE_MAX sizeof("machine-shard00.slice")

/* The slice of machine NAME when its caller names none: machine-shardXX.slice (XX the
 * two-digit hex shard), which systemd nests in machine.slice. */
void machine_shard_slice(const char *name, char ret[static MACHINE_SHARD_SLICE_MAX]);

/* The systemd object path of UNIT. */
int systemd_unit_path(const char *unit, char **ret);

/* Validates CreateMachine's scope_properties (MESSAGE positioned at the a(sv)) for the systemd
 * backend and leaves MESSAGE after it: Slice must be a slice name, Description a string, and
 * what berthd itself sets (PIDs, Delegate, ...) may not be overridden. Sets ERROR (InvalidArgs)
 * and returns negative on refusal. Everything else is left for systemd to judge. */
int systemd_scope_check_properties(sd_bus_message *message, sd_bus_error *error);

/* Subscribes to systemd's unit signals and starts watching the units of the machines already
 * in the registry (restored ones: those whose unit went away meanwhile are dropped). */
int systemd_scope_start(Manager *m);
SystemdScope *systemd_scope_free(SystemdScope *s);

/* Asks systemd for MACHINE's scope (StartTransientUnit of MACHINE->unit) with the properties of
 * MESSAGE (a CreateMachine call) and answers MESSAGE once systemd's job ended. Takes MACHINE on
 * success: when the job is done, manager_machine_scope_started() registers it; otherwise the
 * caller gets an error and MACHINE is freed. */
int systemd_scope_create(Manager *m, Machine *machine, sd_bus_message *message);

/* True while a creation of machine NAME waits for systemd. */
bool systemd_scope_pending(Manager *m, const char *name);

/* Watches MACHINE's unit: once it is inactive, failed or gone the machine leaves the registry. */
int systemd_scope_track(Machine *machine);
/* Stops watching, and drops the reference (AddRef) berthd holds on a unit it created. */
void systemd_scope_untrack(Machine *machine);

/* StopUnit(unit, "replace") / KillUnit(unit, "all", SIG), asynchronously; failures are logged. */
int systemd_scope_stop(Machine *machine);
int systemd_scope_kill(Machine *machine, int sig);
/* The same for a caller's TerminateMachine/KillMachine (MESSAGE): MESSAGE is answered once
 * systemd answered, with systemd's error if it refused. 0 when the call is on its way. */
int systemd_scope_stop_reply(Machine *machine, sd_bus_message *message);
int systemd_scope_kill_reply(Machine *machine, int sig, sd_bus_message *message);
