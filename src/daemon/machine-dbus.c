/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The org.berth.machine1.Machine objects: properties, Terminate and Kill. */
#include <signal.h>
#include <stddef.h>

#include "bus-errors.h"
#include "log.h"
#include "machine-dbus.h"
#include "machine-freeze.h"
#include "manager.h"
#include "manager-dbus.h"
#include "scope-systemd.h"

int machine_bus_path(const Machine *m, char **ret) {
        return sd_bus_path_encode(MACHINE_OBJECT_PREFIX, m->name, ret);
}

int machine_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                        void **found, sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        Manager *m = userdata;
        Machine *machine;
        int r;

        r = sd_bus_path_decode(path, MACHINE_OBJECT_PREFIX, &name);
        if (r <= 0)
                return r;
        machine = manager_find_machine(m, name);
        if (!machine)
                return 0;
        *found = machine;
        return 1;
}

int machine_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                            sd_bus_error *error) {
        Manager *m = userdata;
        char **l;
        size_t n = 0, k = 0;

        for (Machine *i = m->machines; i; i = i->next)
                n++;
        l = calloc(n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (Machine *i = m->machines; i; i = i->next) {
                if (machine_bus_path(i, &l[k]) < 0) {
                        for (size_t j = 0; j < k; j++)
                                free(l[j]);
                        free(l);
                        return -ENOMEM;
                }
                k++;
        }
        *nodes = l;
        return 1;
}

int machine_send_state_changed(Machine *m) {
        _cleanup_free_ char *p = NULL;
        int r;

        if (!m->manager->bus)
                return 0;
        r = machine_bus_path(m, &p);
        if (r < 0)
                return r;
        return sd_bus_emit_properties_changed(m->manager->bus, p, MACHINE_INTERFACE, "State", NULL);
}

static int property_get_id(sd_bus *bus, const char *path, const char *interface,
                           const char *property, sd_bus_message *reply, void *userdata,
                           sd_bus_error *error) {
        Machine *m = userdata;

        return sd_bus_message_append_array(reply, 'y', &m->id, sd_id128_is_null(m->id) ? 0 : 16);
}

static int property_get_class(sd_bus *bus, const char *path, const char *interface,
                              const char *property, sd_bus_message *reply, void *userdata,
                              sd_bus_error *error) {
        Machine *m = userdata;

        return sd_bus_message_append(reply, "s", machine_class_to_string(m->class));
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface,
                              const char *property, sd_bus_message *reply, void *userdata,
                              sd_bus_error *error) {
        Machine *m = userdata;

        /* Frozen is the kernel's word, whoever froze it (machine-freeze.c). */
        if (m->state == MACHINE_RUNNING && machine_is_frozen(m) > 0)
                return sd_bus_message_append(reply, "s", "frozen");
        return sd_bus_message_append(reply, "s", machine_state_to_string(m->state));
}

static int verify_manage(sd_bus_message *message, Machine *m, const char *verb, sd_bus_error *error) {
        const char *details[] = { "machine", m->name, "verb", verb, NULL };

        return polkit_verify_async(message, "org.berth.machine1.manage-machines", details,
                                   &m->manager->polkit_registry, error);
}

/* Under systemd a machine's own unit is stopped and killed by systemd, whose answer (a refusal
 * included) becomes the caller's; the same test as machine_owns_unit() in machine.c. */
static bool unit_is_systemds(Machine *m) {
        return m->manager->scope_backend == SCOPE_BACKEND_SYSTEMD && m->unit && m->cgroup_path &&
               !manager_cgroup_is_shared(m->manager, m->cgroup_path);
}

int bus_machine_method_terminate(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Machine *m = userdata;
        int r;

        r = verify_manage(message, m, "terminate", error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* polkit will call us again */

        /* A frozen init would never see the request; SIGKILL alone gets through. */
        machine_thaw_for_stop(m);
        if (unit_is_systemds(m)) {
                r = systemd_scope_stop_reply(m, message);
                if (r < 0)
                        return sd_bus_error_set_errnof(error, r, "Failed to terminate machine %s: %m", m->name);
                return 1;
        }
        r = machine_terminate(m);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to terminate machine %s: %m", m->name);
        return sd_bus_reply_method_return(message, NULL);
}

int bus_machine_method_kill(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Machine *m = userdata;
        const char *whom;
        int32_t sig;
        bool all;
        int r;

        r = sd_bus_message_read(message, "si", &whom, &sig);
        if (r < 0)
                return r;
        if (isempty(whom) || streq(whom, "all"))
                all = true;
        else if (streq(whom, "leader"))
                all = false;
        else
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Invalid kill target '%s', expected \"leader\" or \"all\"", whom);
        if (sig <= 0 || sig >= _NSIG)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid signal %i", (int) sig);

        r = verify_manage(message, m, "kill", error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;

        if (all && unit_is_systemds(m)) {
                r = systemd_scope_kill_reply(m, sig, message);
                if (r < 0)
                        return sd_bus_error_set_errnof(error, r, "Failed to kill machine %s: %m", m->name);
                return 1;
        }
        r = machine_kill(m, all, sig);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to kill machine %s: %m", m->name);
        return sd_bus_reply_method_return(message, NULL);
}

const sd_bus_vtable machine_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", NULL, offsetof(Machine, name), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Id", "ay", property_get_id, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Timestamp", "t", NULL, offsetof(Machine, timestamp), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("TimestampMonotonic", "t", NULL, offsetof(Machine, timestamp_monotonic),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Service", "s", NULL, offsetof(Machine, service), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Unit", "s", NULL, offsetof(Machine, unit), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Leader", "u", NULL, offsetof(Machine, leader), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Class", "s", property_get_class, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("RootDirectory", "s", NULL, offsetof(Machine, root_directory),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD("Terminate", NULL, NULL, bus_machine_method_terminate, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Kill", SD_BUS_ARGS("s", whom, "i", signal), SD_BUS_NO_RESULT,
                                bus_machine_method_kill, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};
