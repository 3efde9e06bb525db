/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live resource limits of machines: reading them from the bus, the systemd backend, applying
 * them to machines, and the SetMachineProperties / SetProperties methods. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "bus-errors.h"
#include "fd-util.h"
#include "log.h"
#include "machine-dbus.h"
#include "machine-resources.h"
#include "manager.h"
#include "manager-dbus.h"
#include "name-util.h"
#include "parse-util.h"
#include "resolve.h"
#include "state.h"
#include "strv.h"

/* The a(st) of IO*BandwidthMax or the a(ss) of DeviceAllow: an empty array empties the list. */
static int read_list(sd_bus_message *message, ResourceProperty p, ResourceLimits *l) {
        const char *sig = p == RESOURCE_DEVICE_ALLOW ? "a(ss)" : "a(st)";
        int r, k;

        r = sd_bus_message_enter_container(message, 'v', sig);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(message, 'a', sig + 1);
        if (r < 0)
                return r;
        resource_limits_reset_list(l, p);
        for (;;) {
                const char *path, *access;
                uint64_t bytes;

                if (p == RESOURCE_DEVICE_ALLOW)
                        r = sd_bus_message_read(message, "(ss)", &path, &access);
                else
                        r = sd_bus_message_read(message, "(st)", &path, &bytes);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                k = p == RESOURCE_DEVICE_ALLOW ? resource_limits_add_device(l, path, access) :
                                                 resource_limits_add_io(l, p, path, bytes);
                if (k < 0)
                        return k == -ENOMEM ? k : -EDOM; /* a bad value, not a bad message */
        }
        r = sd_bus_message_exit_container(message);
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(message);
}

static int read_one_property(sd_bus_message *message, ResourceLimits *l, sd_bus_error *error) {
        const char *name, *contents = NULL, *s;
        ResourceProperty p;
        bool friendly, list;
        uint64_t v;
        char type;
        int r;

        r = sd_bus_message_read(message, "s", &name);
        if (r < 0)
                return r;
        /* "CPUQuota" is how people write it in unit files; the bus name carries the unit. */
        friendly = streq(name, "CPUQuota");
        p = friendly ? RESOURCE_CPU_QUOTA : resource_property_from_string(name);
        if (p < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown property '%s'", name);
        list = resource_property_is_io_list(p) || p == RESOURCE_DEVICE_ALLOW;
        r = sd_bus_message_peek_type(message, &type, &contents);
        if (r < 0)
                return r;

        if (streq(contents, "t") && !friendly && !list) {
                r = sd_bus_message_read(message, "v", "t", &v);
                if (r < 0)
                        return r;
                r = p == RESOURCE_ALLOWED_CPUS ? -EINVAL : resource_limits_set_value(l, p, v);
        } else if (streq(contents, "s")) {
                r = sd_bus_message_read(message, "v", "s", &s);
                if (r < 0)
                        return r;
                r = friendly && !streq(s, "infinity") && !(s[0] && s[strlen(s) - 1] == '%') ?
                        -EINVAL : resource_limits_parse(l, p, s);
        } else if (streq(contents, "ay") && p == RESOURCE_ALLOWED_CPUS) {
                const void *mask;
                size_t n;

                r = sd_bus_message_enter_container(message, 'v', "ay");
                if (r < 0)
                        return r;
                r = sd_bus_message_read_array(message, 'y', &mask, &n);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(message);
                if (r < 0)
                        return r;
                r = resource_limits_set_cpus(l, mask, n);
        } else if (streq(contents, p == RESOURCE_DEVICE_ALLOW ? "a(ss)" : "a(st)") && list) {
                r = read_list(message, p, l);
                if (r == -EDOM)
                        r = -EINVAL;
                else if (r < 0)
                        return r;
        } else
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Property '%s' cannot be of type '%s'", name, contents);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Invalid value for property '%s'", name);
        return 0;
}

int resource_limits_from_bus(sd_bus_message *message, ResourceLimits *ret, sd_bus_error *error) {
        _cleanup_(resource_limits_done) ResourceLimits l = {};
        int r;

        r = sd_bus_message_enter_container(message, 'a', "(sv)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(message, 'r', "sv")) > 0) {
                r = read_one_property(message, &l, error);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(message);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(message);
        if (r < 0)
                return r;
        *ret = l;
        l = (ResourceLimits) {};
        return 0;
}

static int append_list(sd_bus_message *m, const ResourceLimits *l, ResourceProperty p) {
        const char *sig = p == RESOURCE_DEVICE_ALLOW ? "a(ss)" : "a(st)";
        unsigned i = resource_io_index(p);
        size_t n = p == RESOURCE_DEVICE_ALLOW ? l->n_devices : l->n_io[i];
        int r;

        r = sd_bus_message_open_container(m, 'v', sig);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', sig + 1);
        for (size_t k = 0; k < n && r >= 0; k++)
                r = p == RESOURCE_DEVICE_ALLOW ?
                        sd_bus_message_append(m, "(ss)", l->devices[k].path, l->devices[k].access) :
                        sd_bus_message_append(m, "(st)", l->io[i][k].path, l->io[i][k].bytes);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

int resource_limits_append_systemd(sd_bus_message *m, const ResourceLimits *l) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r < 0)
                return r;
        for (int p = 0; p < _RESOURCE_MAX; p++) {
                if (!resource_limits_has(l, p))
                        continue;
                r = sd_bus_message_open_container(m, 'r', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", resource_property_to_string(p));
                if (r >= 0 && p == RESOURCE_ALLOWED_CPUS) {
                        r = sd_bus_message_open_container(m, 'v', "ay");
                        if (r >= 0)
                                r = sd_bus_message_append_array(m, 'y', l->cpus, l->n_cpus);
                        if (r >= 0)
                                r = sd_bus_message_close_container(m);
                } else if (r >= 0 && (resource_property_is_io_list(p) || p == RESOURCE_DEVICE_ALLOW))
                        r = append_list(m, l, p);
                else if (r >= 0)
                        r = sd_bus_message_append(m, "v", "t", l->value[p]);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

/* ---- systemd backend ------------------------------------------------------------------ */

typedef struct SystemdCall {
        ResourcesDone done;
        void *userdata;
} SystemdCall;

static int on_set_unit_properties(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        SystemdCall *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        c->done(e ? -(sd_bus_error_get_errno(e) ?: EIO) : 0, e, c->userdata);
        free(c);
        return 0;
}

int resources_apply_systemd(sd_bus *bus, const char *unit, bool runtime, const ResourceLimits *l,
                            ResourcesDone done, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ SystemdCall *c = NULL;
        int r;

        c = calloc(1, sizeof(SystemdCall));
        if (!c)
                return -ENOMEM;
        *c = (SystemdCall) { .done = done, .userdata = userdata };
        r = sd_bus_message_new_method_call(bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", "SetUnitProperties");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "sb", unit, runtime);
        if (r < 0)
                return r;
        r = resource_limits_append_systemd(m, l);
        if (r < 0)
                return r;
        r = sd_bus_call_async(bus, NULL, m, on_set_unit_properties, c, 0);
        if (r < 0)
                return r;
        TAKE_PTR(c);
        return 0;
}

/* One apply in flight: a SetMachineProperties call, or (MESSAGE NULL) the saved set being
 * restored for a machine that just came. */
typedef struct PendingSet {
        Manager *manager;
        sd_bus_message *message;
        char *name;
        bool runtime;
        ResourceLimits limits;
} PendingSet;

static PendingSet *pending_set_free(PendingSet *p) {
        if (!p)
                return NULL;
        sd_bus_message_unref(p->message);
        free(p->name);
        resource_limits_done(&p->limits);
        free(p);
        return NULL;
}

/* What is in force for each machine, whoever set it (a start's runtime set, set-property, the
 * saved set), for the ResourceLimits property: $RUNTIME_DIR/limits/NAME beside berthd's
 * machines/ state, so that it survives a berthd restart like the machines do. */
static int applied_dir(Manager *m, char **ret) {
        const char *slash = strrchr(m->state_dir, '/');

        if (!slash)
                return -EINVAL;
        return asprintf(ret, "%.*s/limits", (int) (slash - m->state_dir), m->state_dir) < 0 ? -ENOMEM : 0;
}

static void record_applied(Manager *m, const char *name, const ResourceLimits *l) {
        _cleanup_(resource_limits_done) ResourceLimits now = {};
        _cleanup_free_ char *dir = NULL, *path = NULL;
        Machine *machine;
        int r;

        r = applied_dir(m, &dir);
        if (r >= 0)
                r = resources_load(dir, name, &now);
        if (r >= 0)
                r = resource_limits_merge(&now, l);
        if (r >= 0)
                r = resources_save(dir, name, &now);
        if (r < 0) {
                log_warning_errno(r, "Failed to record the resource limits of %s: %m", name);
                return;
        }
        machine = manager_find_machine(m, name);
        if (machine && m->bus && machine_bus_path(machine, &path) >= 0)
                (void) sd_bus_emit_properties_changed(m->bus, path, MACHINE_INTERFACE, "ResourceLimits", NULL);
}

/* ---- machines ------------------------------------------------------------------------- */

static bool uses_systemd(const Manager *m) {
        return m->scope_backend == SCOPE_BACKEND_SYSTEMD;
}

static void apply_cgroupfs(Machine *machine, const ResourceLimits *l, ResourcesDone done, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *what = NULL;
        Manager *m = machine->manager;
        size_t n_before = strv_length(machine->resource_v1_dirs);
        int r;

        /* A registered machine sitting in a cgroup with others (the root, berthd's own) cannot
         * be limited without limiting them. */
        if (!machine->cgroup_path ||
            (!machine->scope_created && manager_cgroup_is_shared(m, machine->cgroup_path))) {
                r = sd_bus_error_setf(&e, SD_BUS_ERROR_NOT_SUPPORTED,
                                      "Machine %s shares its cgroup with other processes: "
                                      "it cannot be limited alone",
                                      machine->name);
                done(r, &e, userdata);
                return;
        }

        CgroupfsTarget t = {
                .v2_root = m->cgroup_root,
                .v2_path = machine->cgroup_path,
                .v1_root = CGROUP_V1_ROOT,
                .machine = machine->name,
        };
        r = resources_apply_cgroupfs(&t, l, &machine->resource_v1_dirs, &what);
        /* Directories made, even on failure, must be found again after a restart. */
        if (strv_length(machine->resource_v1_dirs) != n_before)
                (void) state_save(m->state_dir, machine);
        if (r == -EOPNOTSUPP)
                sd_bus_error_setf(&e, BUS_ERROR_NO_CONTROLLER,
                                  "Cannot apply %s on this host",
                                  what ?: "one of the properties");
        else if (r == -ENODEV)
                sd_bus_error_setf(&e, BUS_ERROR_NO_SUCH_DEVICE, "%s is not a device berthd can limit",
                                  what ?: "A device path");
        else if (r < 0)
                sd_bus_error_set_errnof(&e, r, "Failed to apply the resource limits of %s: %m",
                                        machine->name);
        done(r, r < 0 ? &e : NULL, userdata);
}

/* Applies L to MACHINE. DONE runs exactly once, perhaps before this returns, unless this
 * returns an error. */
static int machine_apply(Machine *machine, bool runtime, const ResourceLimits *l, ResourcesDone done,
                         void *userdata) {
        if (uses_systemd(machine->manager)) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_free_ char *what = NULL;
                int r;

                if (!machine->unit)
                        return -ENXIO;
                /* systemd takes a limit whose controller it cannot use, shows it, and does
                 * nothing with it: a lie we do not pass on. */
                r = resources_check_available(machine->manager->cgroup_root, CGROUP_V1_ROOT, l, &what);
                if (r == -EOPNOTSUPP) {
                        sd_bus_error_setf(&e, BUS_ERROR_NO_CONTROLLER, "Cannot apply %s on this host",
                                          what ?: "one of the properties");
                        done(r, &e, userdata);
                        return 0;
                }
                if (r < 0)
                        return r;
                return resources_apply_systemd(machine->manager->bus, machine->unit, runtime, l, done,
                                               userdata);
        }
        apply_cgroupfs(machine, l, done, userdata);
        return 0;
}

static void on_restored(int r, const sd_bus_error *error, void *userdata) {
        PendingSet *p = userdata;

        if (r < 0)
                log_warning_errno(r, "Failed to apply the saved resource limits of %s: %s", p->name,
                                  error && error->message ? error->message : strerror(-r));
        else {
                log_info("Applied the saved resource limits of %s.", p->name);
                record_applied(p->manager, p->name, &p->limits);
        }
        pending_set_free(p);
}

int machine_resources_restore(Machine *m) {
        _cleanup_(resource_limits_done) ResourceLimits l = {};
        _cleanup_free_ char *dir = NULL;
        PendingSet *p;
        int r;

        r = resources_state_dir(&dir);
        if (r < 0)
                return r;
        r = resources_load(dir, m->name, &l);
        if (r < 0)
                return log_warning_errno(r, "Failed to read the saved resource limits of %s: %m", m->name);
        if (l.set == 0)
                return 0;
        p = calloc(1, sizeof(PendingSet));
        if (!p)
                return log_oom();
        *p = (PendingSet) { .manager = m->manager, .runtime = true, .limits = l };
        l = (ResourceLimits) {};
        p->name = strdup(m->name);
        if (!p->name) {
                pending_set_free(p);
                return log_oom();
        }
        /* Saved already: systemd needs no copy of its own. */
        r = machine_apply(m, true, &p->limits, on_restored, p);
        if (r < 0) {
                pending_set_free(p);
                return log_warning_errno(r, "Failed to apply the saved resource limits of %s: %m", m->name);
        }
        return 0;
}

void machine_resources_release(Machine *m) {
        _cleanup_free_ char *applied = NULL;

        /* A machine of this name later starts from no limits in force. */
        if (applied_dir(m->manager, &applied) >= 0)
                (void) resources_save(applied, m->name, &(ResourceLimits) {});
        STRV_FOREACH(dir, m->resource_v1_dirs) {
                int r = resources_remove_v1(*dir);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove %s: %m", *dir);
        }
        m->resource_v1_dirs = strv_free(m->resource_v1_dirs);
}

int machine_resources_sync(Machine *m) {
        if (!m->resource_v1_dirs || !m->cgroup_path)
                return 0;
        return resources_sync_v1(m->cgroup_path, m->resource_v1_dirs);
}

/* ---- D-Bus ---------------------------------------------------------------------------- */

static int save_merged(const char *name, const ResourceLimits *l) {
        _cleanup_(resource_limits_done) ResourceLimits saved = {};
        _cleanup_free_ char *dir = NULL;
        int r;

        r = resources_state_dir(&dir);
        if (r < 0)
                return r;
        r = resources_load(dir, name, &saved);
        if (r < 0)
                return r;
        r = resource_limits_merge(&saved, l);
        if (r < 0)
                return r;
        return resources_save(dir, name, &saved);
}

static void on_applied(int r, const sd_bus_error *error, void *userdata) {
        PendingSet *p = userdata;

        if (r >= 0 && !p->runtime) {
                r = save_merged(p->name, &p->limits);
                if (r < 0) {
                        log_warning_errno(r, "Failed to save the resource limits of %s: %m", p->name);
                        (void) sd_bus_reply_method_errnof(p->message, r,
                                                          "Applied, but failed to save the limits of %s: %m",
                                                          p->name);
                        pending_set_free(p);
                        return;
                }
        }
        if (r >= 0) {
                record_applied(p->manager, p->name, &p->limits);
                (void) sd_bus_reply_method_return(p->message, NULL);
        }
        else if (error && sd_bus_error_is_set(error))
                (void) sd_bus_reply_method_error(p->message, error);
        else
                (void) sd_bus_reply_method_errnof(p->message, r, "Failed to apply the limits of %s: %m",
                                                  p->name);
        pending_set_free(p);
}

static int set_properties(sd_bus_message *message, Machine *machine, bool runtime, ResourceLimits *l,
                          sd_bus_error *error) {
        const char *details[] = { "machine", machine->name, "verb", "set-properties", NULL };
        PendingSet *p;
        int r;

        r = polkit_verify_async(message, "org.berth.machine1.manage-machines", details,
                                &machine->manager->polkit_registry, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* polkit will call us again */

        p = calloc(1, sizeof(PendingSet));
        if (!p)
                return -ENOMEM;
        p->manager = machine->manager;
        p->message = sd_bus_message_ref(message);
        p->runtime = runtime;
        p->limits = *l;
        *l = (ResourceLimits) {};
        p->name = strdup(machine->name);
        if (!p->name) {
                pending_set_free(p);
                return -ENOMEM;
        }
        r = machine_apply(machine, runtime, &p->limits, on_applied, p);
        if (r < 0) {
                pending_set_free(p);
                return sd_bus_error_set_errnof(error, r, "Failed to apply the limits of %s: %m",
                                               machine->name);
        }
        return 1;
}

static int method_set_machine_properties(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(resource_limits_done) ResourceLimits l = {};
        Manager *m = userdata;
        Machine *machine;
        const char *name;
        int runtime, r;

        r = sd_bus_message_read(message, "sb", &name, &runtime);
        if (r < 0)
                return r;
        r = resource_limits_from_bus(message, &l, error);
        if (r < 0)
                return r;
        r = bus_find_machine(m, name, &machine, error);
        if (r < 0)
                return r;
        return set_properties(message, machine, runtime, &l, error);
}

static int method_set_properties(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(resource_limits_done) ResourceLimits l = {};
        int runtime, r;

        r = sd_bus_message_read(message, "b", &runtime);
        if (r < 0)
                return r;
        r = resource_limits_from_bus(message, &l, error);
        if (r < 0)
                return r;
        return set_properties(message, userdata, runtime, &l, error);
}

const sd_bus_vtable resources_manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("SetMachineProperties",
                                SD_BUS_ARGS("s", name, "b", runtime, "a(sv)", properties),
                                SD_BUS_NO_RESULT, method_set_machine_properties, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

/* ResourceLimits: "Name=VALUE" per property in force, per list entry, as in the saved files. */
static int property_get_limits(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        _cleanup_(resource_limits_done) ResourceLimits l = {};
        _cleanup_free_ char *dir = NULL, *text = NULL;
        Machine *machine = userdata;
        char *line, *save = NULL;
        int r;

        r = applied_dir(machine->manager, &dir);
        if (r >= 0)
                r = resources_load(dir, machine->name, &l);
        if (r >= 0)
                r = resource_limits_serialize(&l, &text);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "s");
        for (line = strtok_r(text, "\n", &save); line && r >= 0; line = strtok_r(NULL, "\n", &save))
                r = sd_bus_message_append(reply, "s", line);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

const sd_bus_vtable resources_machine_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("ResourceLimits", "as", property_get_limits, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("SetProperties", SD_BUS_ARGS("b", runtime, "a(sv)", properties),
                                SD_BUS_NO_RESULT, method_set_properties, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};
