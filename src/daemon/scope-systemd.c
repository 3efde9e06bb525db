/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The systemd scope backend: transient machine-NAME.scope units, their jobs and their signals. */
#include <stdio.h>
#include <unistd.h>

#include "bus-errors.h"
#include "hash-util.h"
#include "log.h"
#include "machine-dbus.h"
#include "manager.h"
#include "name-util.h"
#include "scope-systemd.h"
#include "state.h"
#include "strv.h"

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"
#define SYSTEMD_UNIT "org.freedesktop.systemd1.Unit"
#define SYSTEMD_UNIT_PREFIX "/org/freedesktop/systemd1/unit"

typedef struct ScopeJob ScopeJob;

typedef struct StopJob StopJob;

/* A CreateMachine waiting for systemd: first for StartTransientUnit's answer, then for the
 * JobRemoved of the job it returned. */
struct ScopeJob {
        SystemdScope *scope;      /* borrowed */
        ScopeJob *next;
        Machine *machine;         /* owned; not in the registry yet */
        sd_bus_message *message;  /* owned: the CreateMachine call to answer */
        sd_bus_slot *call_slot;   /* owned: StartTransientUnit in flight */
        char *job;                /* systemd's job path, once it answered */
};

struct SystemdScope {
        Manager *manager;         /* borrowed */
        sd_bus_slot *job_removed_slot;
        sd_bus_slot *unit_removed_slot;
        /* One match for the PropertiesChanged of every unit, dispatched by object path: a
         * match per machine would run into the bus's limit of match rules per connection
         * (dbus-daemon: 512), and cost an AddMatch per registration. */
        sd_bus_slot *properties_slot;
        /* Machines whose unit state is to be asked for (by name: they may go meanwhile), once
         * the event loop comes round: after the reply to their registration. */
        char **query_names;
        sd_event_source *query_source;
        ScopeJob *jobs;
        /* Unit calls whose answer only matters for the log (StopUnit, KillUnit):
         * at most UNIT_CALLS_MAX in flight, the rest queued in order. dbus-daemon allows a
         * connection 128 pending replies; a thousand machines ending at once would exceed it. */
        sd_bus_message **queued_calls;
        size_t n_queued_calls;
        unsigned unit_calls_in_flight;
        /* StopUnit jobs (stop_job_submit()): those systemd runs, and those waiting in order. */
        StopJob *stop_running;
        StopJob *stop_waiting, **stop_waiting_tail;
        unsigned n_stop_running;
};

/* A StopUnit of ours, counted from the call until systemd's JobRemoved of its job: systemd
 * tracks the sender of every job it queues (sd_bus_track), which costs PID 1 one match rule
 * per job in its own bus connection, and dbus-daemon allows 512. A thousand machines
 * terminated faster than their scopes stop (berthctl's pipelined calls; or slow OSes shutting
 * down) had PID 1 dropped off the bus. So at most STOP_JOBS_MAX run, the rest wait in order. */
struct StopJob {
        SystemdScope *scope;      /* borrowed */
        StopJob *next;
        sd_bus_message *call;     /* owned: the StopUnit call */
        sd_bus_message *message;  /* owned: the caller's call to answer, or NULL */
        sd_bus_slot *slot;        /* owned: StopUnit in flight */
        char *job;                /* systemd's job path, once it answered */
        uint64_t since;           /* CLOCK_MONOTONIC µs, sent */
};

#define STOP_JOBS_MAX 64U
static void stop_job_finish(StopJob *j);
/* A job whose JobRemoved never came (systemd re-executed, the signal was lost) stops counting
 * after this, so that stops cannot wedge; longer than the 90 s stop timeout of our units. */
#define STOP_JOB_STALE_USEC (120ULL * 1000000ULL)

#define UNIT_CALLS_MAX 64U

static const char *const scope_backend_table[_SCOPE_BACKEND_MAX] = {
        [SCOPE_BACKEND_CGROUPFS] = "cgroupfs",
        [SCOPE_BACKEND_SYSTEMD] = "systemd",
};

void machine_shard_slice(const char *name, char ret[static MACHINE_SHARD_SLICE_MAX]) {
        /* Stable across restarts and versions, so a machine keeps its slice. */
        snprintf(ret, MACHINE_SHARD_SLICE_MAX, "machine-shard%02x.slice", fnv1a_32(name) % MACHINE_SLICE_SHARDS);
}

const char *scope_backend_to_string(ScopeBackend b) {
        return b >= 0 && b < _SCOPE_BACKEND_MAX ? scope_backend_table[b] : NULL;
}

ScopeBackend scope_backend_from_string(const char *s) {
        for (int i = 0; s && i < _SCOPE_BACKEND_MAX; i++)
                if (streq(scope_backend_table[i], s))
                        return (ScopeBackend) i;
        return _SCOPE_BACKEND_INVALID;
}

int scope_backend_detect(ScopeBackend *ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *e = getenv("BERTH_SCOPE_BACKEND");
        int has = 0, r;

        if (!isempty(e)) {
                ScopeBackend b = scope_backend_from_string(e);

                if (b < 0)
                        return -EINVAL;
                *ret = b;
                return 0;
        }

        /* A systemd that is not PID 1 (or not on our bus) cannot be asked for scopes. */
        *ret = SCOPE_BACKEND_CGROUPFS;
        if (access("/run/systemd/system", F_OK) < 0)
                return 0;
        r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner", NULL, &reply, "s",
                                       SYSTEMD_DEST);
        if (r >= 0)
                r = sd_bus_message_read(reply, "b", &has);
        if (r < 0)
                log_debug_errno(r, "Cannot ask the bus whether systemd is on it: %m");
        if (r >= 0 && has)
                *ret = SCOPE_BACKEND_SYSTEMD;
        return 0;
}

int systemd_unit_path(const char *unit, char **ret) {
        return sd_bus_path_encode(SYSTEMD_UNIT_PREFIX, unit, ret);
}

static bool property_name_is_valid(const char *p) {
        if (isempty(p) || strlen(p) > 255)
                return false;
        for (const char *c = p; *c; c++)
                if (!(*c >= 'a' && *c <= 'z') && !(*c >= 'A' && *c <= 'Z') && !(*c >= '0' && *c <= '9'))
                        return false;
        return true;
}

/* berthd sets these itself: a caller's PIDs would pull any process into its machine (and so
 * under its TerminateMachine), the others are what berthd's tracking relies on. */
static bool property_is_reserved(const char *p) {
        return streq(p, "PIDs") || streq(p, "PIDFDs") || streq(p, "Delegate") ||
               streq(p, "AddRef") || streq(p, "CollectMode");
}

int systemd_scope_check_properties(sd_bus_message *message, sd_bus_error *error) {
        int r;

        r = sd_bus_message_enter_container(message, 'a', "(sv)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(message, 'r', "sv")) > 0) {
                const char *prop, *s;

                r = sd_bus_message_read(message, "s", &prop);
                if (r < 0)
                        return r;
                if (!property_name_is_valid(prop))
                        return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid scope property name");
                if (property_is_reserved(prop))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Scope property '%s' is set by berthd", prop);
                if (streq(prop, "Slice") || streq(prop, "Description")) {
                        r = sd_bus_message_read(message, "v", "s", &s);
                        if (r < 0)
                                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                         "Property '%s' must be a string", prop);
                        if (streq(prop, "Slice") && !unit_name_is_slice(s))
                                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                         "Invalid slice name '%s'", s);
                } else {
                        /* systemd knows the rest far better than we could: it judges. */
                        r = sd_bus_message_skip(message, "v");
                        if (r < 0)
                                return r;
                }
                r = sd_bus_message_exit_container(message);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(message);
}

/* Positions MESSAGE (a CreateMachine call) at its scope_properties. */
static int seek_properties(sd_bus_message *message) {
        int r;

        r = sd_bus_message_rewind(message, true);
        if (r < 0)
                return r;
        r = sd_bus_message_skip(message, "sayssus");
        if (r < 0)
                return r;
        return sd_bus_message_enter_container(message, 'a', "(sv)");
}

/* The caller's Slice and Description, checked by systemd_scope_check_properties() already. */
static int read_slice_description(sd_bus_message *message, const char **slice, const char **desc) {
        int r;

        r = seek_properties(message);
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(message, 'r', "sv")) > 0) {
                const char *prop;

                r = sd_bus_message_read(message, "s", &prop);
                if (r >= 0 && streq(prop, "Slice"))
                        r = sd_bus_message_read(message, "v", "s", slice);
                else if (r >= 0 && streq(prop, "Description"))
                        r = sd_bus_message_read(message, "v", "s", desc);
                else if (r >= 0)
                        r = sd_bus_message_skip(message, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(message);
                if (r < 0)
                        return r;
        }
        return r;
}

/* The caller's other properties, verbatim. */
static int copy_other_properties(sd_bus_message *call, sd_bus_message *message) {
        int r;

        r = seek_properties(message);
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(message, 'r', "sv")) > 0) {
                const char *prop;

                r = sd_bus_message_read(message, "s", &prop);
                if (r < 0)
                        return r;
                if (streq(prop, "Slice") || streq(prop, "Description"))
                        r = sd_bus_message_skip(message, "v");
                else {
                        r = sd_bus_message_open_container(call, 'r', "sv");
                        if (r >= 0)
                                r = sd_bus_message_append(call, "s", prop);
                        if (r >= 0)
                                r = sd_bus_message_copy(call, message, false);
                        if (r >= 0)
                                r = sd_bus_message_close_container(call);
                }
                if (r >= 0)
                        r = sd_bus_message_exit_container(message);
                if (r < 0)
                        return r;
        }
        return r;
}

static int build_start_call(sd_bus *bus, Machine *machine, sd_bus_message *message,
                            sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        _cleanup_free_ char *default_desc = NULL;
        const char *slice = NULL, *desc = NULL;
        char shard[MACHINE_SHARD_SLICE_MAX];
        int r;

        r = read_slice_description(message, &slice, &desc);
        if (r < 0)
                return r;
        if (!slice) {
                machine_shard_slice(machine->name, shard);
                slice = shard;
        }
        if (!desc) {
                if (asprintf(&default_desc, "%s %s", machine->class == MACHINE_VM ?
                             "Virtual Machine" : "Container", machine->name) < 0)
                        return -ENOMEM;
                desc = default_desc;
        }

        r = sd_bus_message_new_method_call(bus, &call, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "StartTransientUnit");
        if (r < 0)
                return r;
        /* "fail": a namesake's scope still stopping must not be replaced by ours. No AddRef:
         * systemd tracks a referencing bus name with one match rule per unit in its own bus
         * connection, so 512 machines would exhaust dbus-daemon's stock limit and drop PID 1
         * off the bus (machined's wall at ~505). The end of the unit reaches us all the same:
         * its last PropertiesChanged, or NoSuchUnit to our query. */
        r = sd_bus_message_append(call, "ss", machine->unit, "fail");
        if (r >= 0)
                r = sd_bus_message_open_container(call, 'a', "(sv)");
        if (r >= 0)
                r = sd_bus_message_append(call, "(sv)(sv)(sv)(sv)(sv)",
                                          "Slice", "s", slice,
                                          "Description", "s", desc,
                                          "PIDs", "au", 1, (uint32_t) machine->leader,
                                          "Delegate", "b", 1,
                                          "CollectMode", "s", "inactive-or-failed");
        if (r >= 0)
                r = copy_other_properties(call, message);
        if (r >= 0)
                r = sd_bus_message_close_container(call);
        if (r >= 0)
                r = sd_bus_message_append(call, "a(sa(sv))", 0);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(call);
        return 0;
}

static int send_unit_call(SystemdScope *s, sd_bus_message *call);

static int on_call_done(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        SystemdScope *s = userdata;

        if (e)
                log_warning("systemd refused a unit call: %s", e->message);
        s->unit_calls_in_flight--;
        while (s->n_queued_calls > 0 && s->unit_calls_in_flight < UNIT_CALLS_MAX) {
                sd_bus_message *next = s->queued_calls[0];

                memmove(s->queued_calls, s->queued_calls + 1, --s->n_queued_calls * sizeof(*s->queued_calls));
                (void) send_unit_call(s, next);
                sd_bus_message_unref(next);
        }
        return 0;
}

static int send_unit_call(SystemdScope *s, sd_bus_message *call) {
        sd_bus_message **q;
        int r;

        if (s->unit_calls_in_flight < UNIT_CALLS_MAX) {
                r = sd_bus_call_async(s->manager->bus, NULL, call, on_call_done, s, 0);
                if (r >= 0)
                        s->unit_calls_in_flight++;
                return r;
        }
        q = reallocarray(s->queued_calls, s->n_queued_calls + 1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        s->queued_calls = q;
        s->queued_calls[s->n_queued_calls++] = sd_bus_message_ref(call);
        return 0;
}

/* A call whose answer only matters for the log. */
static int call_unit_method(Machine *machine, const char *method, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        sd_bus *bus = machine->manager->bus;
        va_list ap;
        int r;

        if (!bus || !machine->unit || !machine->manager->systemd)
                return -ENOTCONN;
        r = sd_bus_message_new_method_call(bus, &call, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, method);
        if (r < 0)
                return r;
        va_start(ap, types);
        r = sd_bus_message_appendv(call, types, ap);
        va_end(ap);
        if (r < 0)
                return r;
        return send_unit_call(machine->manager->systemd, call);
}

static ScopeJob *scope_job_free(ScopeJob *j) {
        if (!j)
                return NULL;
        sd_bus_slot_unref(j->call_slot);
        sd_bus_message_unref(j->message);
        machine_free(j->machine);
        free(j->job);
        free(j);
        return NULL;
}

static void scope_job_unlink(ScopeJob *j) {
        for (ScopeJob **i = &j->scope->jobs; *i; i = &(*i)->next)
                if (*i == j) {
                        *i = j->next;
                        return;
                }
}

/* Answers the CreateMachine call with ERROR and forgets the machine: no registry entry, no
 * state file, no MachineNew. */
static void scope_job_fail(ScopeJob *j, const sd_bus_error *error) {
        Manager *m = j->scope->manager;
        int r;

        log_info("Failed to create the scope of machine %s: %s", j->machine->name, error->message);
        (void) state_remove(m->state_dir, j->machine->name);
        r = sd_bus_reply_method_error(j->message, error);
        if (r < 0)
                log_debug_errno(r, "Failed to send the CreateMachine error: %m");
        scope_job_unlink(j);
        scope_job_free(j);
}

static void scope_job_done(ScopeJob *j) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        Manager *m = j->scope->manager;
        Machine *machine = j->machine;
        int r;

        r = manager_machine_scope_started(m, machine);
        if (r < 0) {
                sd_bus_error_set_errnof(&error, r, "Failed to add machine %s: %m", machine->name);
                systemd_scope_stop(machine);
                scope_job_fail(j, &error);
                return;
        }
        /* The registry owns the machine now. */
        j->machine = NULL;
        r = machine_bus_path(machine, &path);
        if (r >= 0)
                r = sd_bus_reply_method_return(j->message, "o", path);
        if (r < 0)
                log_debug_errno(r, "Failed to answer CreateMachine: %m");
        scope_job_unlink(j);
        scope_job_free(j);
}

static int on_start_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        ScopeJob *j = userdata;
        const char *job;
        int r;

        j->call_slot = sd_bus_slot_unref(j->call_slot);
        if (sd_bus_message_is_method_error(reply, "org.freedesktop.systemd1.UnitExists")) {
                sd_bus_error_setf(&error, BUS_ERROR_MACHINE_EXISTS,
                                  "A scope for machine '%s' exists already", j->machine->name);
                scope_job_fail(j, &error);
                return 0;
        }
        if (sd_bus_message_is_method_error(reply, NULL)) {
                /* systemd's own verdict (a bad property, access denied...) is the caller's. */
                scope_job_fail(j, sd_bus_message_get_error(reply));
                return 0;
        }
        r = sd_bus_message_read(reply, "o", &job);
        if (r < 0) {
                sd_bus_error_set_errnof(&error, r, "Bad answer from systemd: %m");
                scope_job_fail(j, &error);
                return 0;
        }
        j->job = strdup(job);
        if (!j->job) {
                sd_bus_error_set_errno(&error, -ENOMEM);
                scope_job_fail(j, &error);
        }
        return 0;
}

static int on_job_removed(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        SystemdScope *s = userdata;
        const char *job, *unit, *result;
        uint32_t id;
        int r;

        r = sd_bus_message_read(message, "uoss", &id, &job, &unit, &result);
        if (r < 0)
                return 0;
        for (ScopeJob *j = s->jobs; j; j = j->next) {
                if (!streq_ptr(j->job, job))
                        continue;
                if (streq(result, "done"))
                        scope_job_done(j);
                else {
                        sd_bus_error_setf(&error, "org.freedesktop.systemd1.JobFailed",
                                          "Start job for unit %s failed with '%s'", unit, result);
                        scope_job_fail(j, &error);
                }
                return 0;
        }
        for (StopJob *j = s->stop_running; j; j = j->next)
                if (streq_ptr(j->job, job)) {
                        stop_job_finish(j);
                        return 0;
                }
        return 0;
}

static void unit_gone(Machine *machine, const char *why) {
        if (machine->state != MACHINE_RUNNING)
                return; /* not in the registry (yet, or any more) */
        log_debug("Unit %s of machine %s is %s.", machine->unit, machine->name, why);
        manager_machine_gone(machine->manager, machine);
}

/* Every machine in the registry is watched (systemd_scope_track() or a finished job); those
 * still waiting for their job are not in it. Registered machines may share a unit. */
static void units_gone(Manager *m, const char *unit, const char *why) {
        for (Machine *i = m->machines, *next; i; i = next) {
                next = i->next; /* unit_gone() may free I */
                if (streq_ptr(i->unit, unit))
                        unit_gone(i, why);
        }
}

static bool unit_has_machine(Manager *m, const char *unit) {
        for (Machine *i = m->machines; i; i = i->next)
                if (streq_ptr(i->unit, unit))
                        return true;
        return false;
}

static bool active_state_is_over(const char *state);

/* The state of a unit systemd has just unloaded: only an answer that it is still running (it
 * was a daemon-reload) keeps the machine; an error other than a timeout means it is gone. */
static int on_removed_state(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Machine *machine = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        const char *state = NULL;

        machine->unit_query_slot = sd_bus_slot_unref(machine->unit_query_slot);
        if (e && sd_bus_error_has_names(e, SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_TIMEOUT))
                log_warning("Cannot read the state of unit %s: %s", machine->unit, e->message);
        else if (e || (sd_bus_message_read(reply, "v", "s", &state) >= 0 && active_state_is_over(state)))
                unit_gone(machine, state ?: "removed");
        return 0;
}

static int on_unit_removed(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        SystemdScope *s = userdata;
        const char *unit, *path;

        if (sd_bus_message_read(message, "so", &unit, &path) < 0)
                return 0;
        /* Not proof that the unit is over: daemon-reload unloads every unit (UnitRemoved for
         * each) and loads them again. Ask; a reloaded unit answers "active". */
        for (Machine *i = s->manager->machines; i; i = i->next) {
                if (!streq_ptr(i->unit, unit))
                        continue;
                i->unit_query_slot = sd_bus_slot_unref(i->unit_query_slot);
                if (sd_bus_call_method_async(s->manager->bus, &i->unit_query_slot, SYSTEMD_DEST, path,
                                             "org.freedesktop.DBus.Properties", "Get", on_removed_state, i,
                                             "ss", SYSTEMD_UNIT, "ActiveState") < 0)
                        log_warning("Cannot ask for the state of unit %s.", unit);
        }
        return 0;
}

static bool active_state_is_over(const char *state) {
        return streq(state, "inactive") || streq(state, "failed");
}

/* PropertiesChanged of any unit: the match covers all of them, most are not a machine's. */
static int on_properties_changed(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        _cleanup_free_ char *unit = NULL;
        SystemdScope *s = userdata;
        const char *iface, *key, *state;
        int r;

        /* Decoding the path and walking the registry costs a few microseconds with 1,000
         * machines, less than parsing the message for nothing. */
        r = sd_bus_path_decode(sd_bus_message_get_path(message), SYSTEMD_UNIT_PREFIX, &unit);
        if (r <= 0 || !unit_has_machine(s->manager, unit))
                return 0;

        r = sd_bus_message_read(message, "s", &iface);
        if (r < 0 || !streq(iface, SYSTEMD_UNIT))
                return 0;
        r = sd_bus_message_enter_container(message, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(message, 'e', "sv")) > 0) {
                r = sd_bus_message_read(message, "s", &key);
                if (r >= 0 && streq(key, "ActiveState")) {
                        if (sd_bus_message_read(message, "v", "s", &state) >= 0 &&
                            active_state_is_over(state))
                                units_gone(s->manager, unit, state);
                        return 0;
                }
                if (r >= 0)
                        r = sd_bus_message_skip(message, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(message);
        }
        return 0;
}

static int on_active_state(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Machine *machine = userdata;
        const sd_bus_error *e;
        const char *state;

        machine->unit_query_slot = sd_bus_slot_unref(machine->unit_query_slot);
        if (sd_bus_message_is_method_error(reply, NULL)) {
                e = sd_bus_message_get_error(reply);
                /* Only a clear "no such unit" counts: a slow systemd is no reason to drop. */
                if (sd_bus_error_has_names(e, "org.freedesktop.systemd1.NoSuchUnit",
                                           SD_BUS_ERROR_UNKNOWN_OBJECT))
                        unit_gone(machine, "gone");
                else
                        log_warning("Cannot read the state of unit %s: %s", machine->unit, e->message);
                return 0;
        }
        if (sd_bus_message_read(reply, "v", "s", &state) >= 0 && active_state_is_over(state))
                unit_gone(machine, state);
        return 0;
}

static int query_active_state(Machine *machine) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = systemd_unit_path(machine->unit, &path);
        if (r < 0)
                return r;
        machine->unit_query_slot = sd_bus_slot_unref(machine->unit_query_slot);
        return sd_bus_call_method_async(machine->manager->bus, &machine->unit_query_slot,
                                        SYSTEMD_DEST, path, "org.freedesktop.DBus.Properties", "Get",
                                        on_active_state, machine, "ss", SYSTEMD_UNIT, "ActiveState");
}

static int on_query_due(sd_event_source *source, void *userdata) {
        _cleanup_strv_free_ char **names = NULL;
        SystemdScope *s = userdata;

        names = TAKE_PTR(s->query_names);
        STRV_FOREACH(n, names) {
                Machine *machine = manager_find_machine(s->manager, *n);
                int r;

                if (!machine || !machine->unit)
                        continue;
                r = query_active_state(machine);
                if (r < 0)
                        log_warning_errno(r, "Failed to ask for the state of unit %s: %m", machine->unit);
        }
        return 0;
}

int systemd_scope_track(Machine *machine) {
        SystemdScope *s = machine->manager->systemd;
        int r;

        if (!machine->unit || !machine->manager->bus)
                return 0;
        /* The match on all units is in place since systemd_scope_start(); the unit may have
         * changed before the machine joined the registry, where on_properties_changed() looks
         * for it: ask once. Not right now: the caller's reply would queue behind our call, and
         * every message ahead of it on the bus is in the caller's wait. */
        if (!s)
                return query_active_state(machine);
        r = strv_extend(&s->query_names, machine->name);
        if (r < 0)
                return r;
        if (!s->query_source)
                return sd_event_add_defer(machine->manager->event, &s->query_source, on_query_due, s);
        return sd_event_source_set_enabled(s->query_source, SD_EVENT_ONESHOT);
}

void systemd_scope_untrack(Machine *machine) {
        machine->unit_query_slot = sd_bus_slot_unref(machine->unit_query_slot);
}

static StopJob *stop_job_free(StopJob *j) {
        if (!j)
                return NULL;
        sd_bus_slot_unref(j->slot);
        sd_bus_message_unref(j->call);
        sd_bus_message_unref(j->message);
        free(j->job);
        free(j);
        return NULL;
}

static void stop_jobs_advance(SystemdScope *s);

/* Its job ended (or never started): it stops counting, and the next may go. */
static void stop_job_finish(StopJob *j) {
        SystemdScope *s = j->scope;

        for (StopJob **i = &s->stop_running; *i; i = &(*i)->next)
                if (*i == j) {
                        *i = j->next;
                        s->n_stop_running--;
                        break;
                }
        stop_job_free(j);
        stop_jobs_advance(s);
}

/* As before these were counted: systemd's answer (a refusal included) is the caller's. */
static int on_stop_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        StopJob *j = userdata;
        const char *job = NULL;
        int r;

        j->slot = sd_bus_slot_unref(j->slot);
        if (e)
                log_info("systemd refused StopUnit: %s", e->message);
        if (j->message) {
                r = e ? sd_bus_reply_method_error(j->message, e) : sd_bus_reply_method_return(j->message, NULL);
                if (r < 0)
                        log_debug_errno(r, "Failed to answer %s: %m", sd_bus_message_get_member(j->message));
                j->message = sd_bus_message_unref(j->message);
        }
        if (e || sd_bus_message_read(reply, "o", &job) < 0 || !(j->job = strdup(job)))
                stop_job_finish(j);
        return 0;
}

static int stop_job_send(StopJob *j) {
        SystemdScope *s = j->scope;
        uint64_t now_usec = 0;
        int r;

        r = sd_bus_call_async(s->manager->bus, &j->slot, j->call, on_stop_reply, j, 0);
        if (r < 0)
                return r;
        (void) sd_event_now(s->manager->event, CLOCK_MONOTONIC, &now_usec);
        j->since = now_usec;
        j->next = s->stop_running;
        s->stop_running = j;
        s->n_stop_running++;
        return 0;
}

static void stop_jobs_advance(SystemdScope *s) {
        uint64_t now_usec = 0;

        (void) sd_event_now(s->manager->event, CLOCK_MONOTONIC, &now_usec);
        for (StopJob *i = s->stop_running, *next; i && s->n_stop_running >= STOP_JOBS_MAX; i = next) {
                next = i->next;
                if (i->job && i->since + STOP_JOB_STALE_USEC < now_usec) {
                        log_debug("No JobRemoved for %s, not counting it any more.", i->job);
                        stop_job_finish(i);
                        return; /* it advanced */
                }
        }
        while (s->stop_waiting && s->n_stop_running < STOP_JOBS_MAX) {
                StopJob *j = s->stop_waiting;
                int r;

                s->stop_waiting = j->next;
                if (!s->stop_waiting)
                        s->stop_waiting_tail = &s->stop_waiting;
                j->next = NULL;
                r = stop_job_send(j);
                if (r < 0) {
                        log_warning_errno(r, "Failed to ask systemd to stop a unit: %m");
                        if (j->message)
                                (void) sd_bus_reply_method_errnof(j->message, r, "Failed to terminate machine: %m");
                        stop_job_free(j);
                }
        }
}

/* StopUnit UNIT, answering MESSAGE (if not NULL) from systemd's answer, when fewer than
 * STOP_JOBS_MAX of ours run. */
static int stop_job_submit(Manager *m, const char *unit, sd_bus_message *message) {
        SystemdScope *s = m->systemd;
        StopJob *j;
        int r;

        if (!s || !m->bus)
                return -ENOTCONN;
        j = calloc(1, sizeof(StopJob));
        if (!j)
                return -ENOMEM;
        j->scope = s;
        r = sd_bus_message_new_method_call(m->bus, &j->call, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "StopUnit");
        if (r >= 0)
                r = sd_bus_message_append(j->call, "ss", unit, "replace");
        if (r < 0) {
                stop_job_free(j);
                return r;
        }
        j->message = sd_bus_message_ref(message);
        if (!s->stop_waiting_tail)
                s->stop_waiting_tail = &s->stop_waiting;
        *s->stop_waiting_tail = j;
        s->stop_waiting_tail = &j->next;
        stop_jobs_advance(s);
        return 0;
}

int systemd_scope_stop(Machine *machine) {
        return stop_job_submit(machine->manager, machine->unit, NULL);
}

int systemd_scope_kill(Machine *machine, int sig) {
        return call_unit_method(machine, "KillUnit", "ssi", machine->unit, "all", (int32_t) sig);
}

static void message_unref_destroy(void *userdata) {
        sd_bus_message_unref(userdata);
}

/* systemd's answer to a StopUnit/KillUnit made for a caller of ours is that caller's answer:
 * its refusal (no such unit, access denied, a job that cannot run) reaches the caller. */
static int on_call_replied(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        sd_bus_message *message = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int r;

        if (e)
                log_info("systemd refused %s: %s", sd_bus_message_get_member(message), e->message);
        r = e ? sd_bus_reply_method_error(message, e) : sd_bus_reply_method_return(message, NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to answer %s: %m", sd_bus_message_get_member(message));
        return 0;
}

/* Sends CALL (built by the caller) and answers MESSAGE from its reply. The slot floats: MACHINE
 * may be gone by the time systemd answers, MESSAGE is held until then. */
static int call_replying(Machine *machine, sd_bus_message *call, sd_bus_message *message) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        int r;

        r = sd_bus_call_async(machine->manager->bus, &slot, call, on_call_replied, message, 0);
        if (r < 0)
                return r;
        sd_bus_message_ref(message);
        (void) sd_bus_slot_set_destroy_callback(slot, message_unref_destroy);
        return sd_bus_slot_set_floating(slot, 1);
}

int systemd_scope_stop_reply(Machine *machine, sd_bus_message *message) {
        if (!machine->manager->bus || !machine->unit)
                return -ENOTCONN;
        return stop_job_submit(machine->manager, machine->unit, message);
}

int systemd_scope_kill_reply(Machine *machine, int sig, sd_bus_message *message) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        int r;

        if (!machine->manager->bus || !machine->unit)
                return -ENOTCONN;
        r = sd_bus_message_new_method_call(machine->manager->bus, &call, SYSTEMD_DEST, SYSTEMD_PATH,
                                           SYSTEMD_MANAGER, "KillUnit");
        if (r >= 0)
                r = sd_bus_message_append(call, "ssi", machine->unit, "all", (int32_t) sig);
        return r < 0 ? r : call_replying(machine, call, message);
}

bool systemd_scope_pending(Manager *m, const char *name) {
        for (ScopeJob *j = m->systemd ? m->systemd->jobs : NULL; j; j = j->next)
                if (streq(j->machine->name, name))
                        return true;
        return false;
}

int systemd_scope_create(Manager *m, Machine *machine, sd_bus_message *message) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        ScopeJob *j;
        int r;

        if (!m->systemd)
                return -ENOTCONN;
        r = build_start_call(m->bus, machine, message, &call);
        if (r < 0)
                return r;
        j = calloc(1, sizeof(ScopeJob));
        if (!j)
                return -ENOMEM;
        j->scope = m->systemd;
        /* The unit is watched from before it exists (the match on all units), so no state
         * change slips past; while the job runs the machine is not in the registry, and its
         * unit's signals find nobody. */
        r = sd_bus_call_async(m->bus, &j->call_slot, call, on_start_reply, j, 0);
        if (r < 0) {
                free(j);
                return r;
        }
        j->machine = machine;
        j->message = sd_bus_message_ref(message);
        j->next = m->systemd->jobs;
        m->systemd->jobs = j;
        return 0;
}

SystemdScope *systemd_scope_free(SystemdScope *s) {
        if (!s)
                return NULL;
        while (s->jobs) {
                ScopeJob *j = s->jobs;

                s->jobs = j->next;
                scope_job_free(j);
        }
        sd_bus_slot_unref(s->job_removed_slot);
        sd_bus_slot_unref(s->unit_removed_slot);
        sd_bus_slot_unref(s->properties_slot);
        sd_event_source_disable_unref(s->query_source);
        strv_free(s->query_names);
        while (s->stop_running) {
                StopJob *j = s->stop_running;

                s->stop_running = j->next;
                stop_job_free(j);
        }
        while (s->stop_waiting) {
                StopJob *j = s->stop_waiting;

                s->stop_waiting = j->next;
                stop_job_free(j);
        }
        for (size_t i = 0; i < s->n_queued_calls; i++)
                sd_bus_message_unref(s->queued_calls[i]);
        free(s->queued_calls);
        free(s);
        return NULL;
}

static int on_subscribed(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        /* Without it systemd sends no unit signals; the leaders' pidfds still tell us a lot. */
        if (e)
                log_warning("Failed to subscribe to systemd's signals: %s", e->message);
        return 0;
}

/* An install callback keeps a refused AddMatch (the bus's limit of match rules) from being
 * fatal: without one sd-bus closes the whole connection, and berthd falls off the bus. */
static int on_match_installed(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        /* Machines then leave when their leader exits (pidfd), not when their unit stops. */
        if (e)
                log_warning("The bus refused a match on systemd's signals: %s", e->message);
        return 0;
}

int systemd_scope_start(Manager *m) {
        _cleanup_free_ char *match = NULL;
        SystemdScope *s;
        int r;

        s = calloc(1, sizeof(SystemdScope));
        if (!s)
                return log_oom();
        s->manager = m;
        m->systemd = s;

        /* Matches first: their AddMatch reaches the bus before any call of ours reaches systemd. */
        if (asprintf(&match, "type='signal',sender='" SYSTEMD_DEST "',"
                     "path_namespace='" SYSTEMD_UNIT_PREFIX "',"
                     "interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
                     "arg0='" SYSTEMD_UNIT "'") < 0)
                return log_oom();
        r = sd_bus_match_signal_async(m->bus, &s->job_removed_slot, SYSTEMD_DEST, SYSTEMD_PATH,
                                      SYSTEMD_MANAGER, "JobRemoved", on_job_removed,
                                      on_match_installed, s);
        if (r >= 0)
                r = sd_bus_match_signal_async(m->bus, &s->unit_removed_slot, SYSTEMD_DEST, SYSTEMD_PATH,
                                              SYSTEMD_MANAGER, "UnitRemoved", on_unit_removed,
                                              on_match_installed, s);
        if (r >= 0)
                r = sd_bus_add_match_async(m->bus, &s->properties_slot, match, on_properties_changed,
                                           on_match_installed, s);
        if (r >= 0)
                r = sd_bus_call_method_async(m->bus, NULL, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                             "Subscribe", on_subscribed, NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to watch systemd: %m");

        for (Machine *i = m->machines; i; i = i->next) {
                r = systemd_scope_track(i);
                if (r < 0)
                        log_warning_errno(r, "Failed to watch the unit of machine %s: %m", i->name);
        }
        return 0;
}
