/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The org.berth.machine1.Manager interface: the registry verbs, mirroring machine1's. */
#include <net/if.h>
#include <stdio.h>

#include "bus-errors.h"
#include "image-dbus.h"
#include "log.h"
#include "machine-dbus.h"
#include "machine-exec-dbus.h"
#include "machine-files.h"
#include "machine-freeze.h"
#include "machine-inside.h"
#include "machine-lifecycle.h"
#include "machine-limit.h"
#include "machine-resources.h"
#include "manager-dbus.h"
#include "name-util.h"
#include "transfer-dbus.h"

static int reply_machine_path(sd_bus_message *message, Machine *machine) {
        _cleanup_free_ char *p = NULL;
        int r;

        r = machine_bus_path(machine, &p);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, "o", p);
}

static int method_list_machines(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ssso)");
        if (r < 0)
                return r;
        for (Machine *i = m->machines; i; i = i->next) {
                _cleanup_free_ char *p = NULL;

                r = machine_bus_path(i, &p);
                if (r < 0)
                        return r;
                r = sd_bus_message_append(reply, "(ssso)", i->name, machine_class_to_string(i->class),
                                          strempty(i->service), p);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

int bus_find_machine(Manager *m, const char *name, Machine **ret, sd_bus_error *error) {
        /* Before the lookup: a bad name is the caller's error, and is not echoed back. */
        if (!machine_name_is_valid(name))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid machine name");
        *ret = manager_find_machine(m, name);
        if (!*ret)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_MACHINE, "No machine '%s' known", name);
        return 0;
}

int bus_read_machine(Manager *m, sd_bus_message *message, Machine **ret, sd_bus_error *error) {
        const char *name;
        int r;

        r = sd_bus_message_read(message, "s", &name);
        if (r < 0)
                return r;
        return bus_find_machine(m, name, ret, error);
}

static int method_get_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Machine *machine = NULL;
        int r;

        r = bus_read_machine(userdata, message, &machine, error);
        if (r < 0)
                return r;
        return reply_machine_path(message, machine);
}

static int method_get_machine_by_pid(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        Machine *machine;
        uint32_t pid;
        int r;

        r = sd_bus_message_read(message, "u", &pid);
        if (r < 0)
                return r;
        if (pid > INT32_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid PID %u", pid);
        if (pid == 0) {
                pid_t p;

                r = sd_bus_query_sender_creds(message, SD_BUS_CREDS_PID, &creds);
                if (r >= 0)
                        r = sd_bus_creds_get_pid(creds, &p);
                if (r < 0)
                        return r;
                pid = (uint32_t) p;
        }
        machine = manager_find_machine_by_pid(userdata, (pid_t) pid);
        if (!machine)
                return sd_bus_error_setf(error, BUS_ERROR_NO_MACHINE_FOR_PID,
                                         "PID %u does not belong to any known machine", pid);
        return reply_machine_path(message, machine);
}

/* Absolute, and no "." or ".." component: what a caller means is what we store. */
static bool path_is_normalized_absolute(const char *p) {
        size_t n = strlen(p);

        if (p[0] != '/' || strstr(p, "/../") || strstr(p, "/./"))
                return false;
        return !(n >= 3 && streq(p + n - 3, "/..")) && !(n >= 2 && streq(p + n - 2, "/."));
}

/* The cgroupfs backend honours Description (nowhere to show it yet), the one slice it makes and
 * KillSignal (what TerminateMachine sends first, as systemd's StopUnit would); anything else
 * would be silently ignored, which a caller could not tell. */
static int cgroupfs_check_properties(sd_bus_message *message, int *ret_kill_signal, sd_bus_error *error) {
        int r;

        *ret_kill_signal = 0;
        r = sd_bus_message_enter_container(message, 'a', "(sv)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(message, 'r', "sv")) > 0) {
                const char *prop, *value;

                r = sd_bus_message_read(message, "s", &prop);
                if (r < 0)
                        return r;
                if (streq(prop, "KillSignal")) {
                        r = sd_bus_message_read(message, "v", "i", ret_kill_signal);
                        if (r < 0 || *ret_kill_signal <= 0 || *ret_kill_signal >= _NSIG)
                                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                                        "KillSignal must be a signal number");
                        r = sd_bus_message_exit_container(message);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (!streq(prop, "Description") && !streq(prop, "Slice"))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Unknown or unsupported scope property '%s'", prop);
                r = sd_bus_message_read(message, "v", "s", &value);
                if (r < 0)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Property '%s' must be a string", prop);
                if (streq(prop, "Slice") && !streq(value, "machine.slice"))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Slice '%s' needs systemd; only machine.slice is supported", value);
                r = sd_bus_message_exit_container(message);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(message);
}

/* The host-side interfaces of *WithNetwork: each one exists now in our network namespace (the
 * host's), so that NetworkInterfaces never names a link that was not there. */
static int check_netif(const int32_t *netif, size_t n, sd_bus_error *error) {
        char ifname[IF_NAMESIZE];

        if (n > MACHINE_NETIF_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Too many network interfaces (%zu), at most %u", n, MACHINE_NETIF_MAX);
        for (size_t i = 0; i < n; i++) {
                if (netif[i] <= 0)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Invalid network interface index %i", (int) netif[i]);
                for (size_t j = 0; j < i; j++)
                        if (netif[j] == netif[i])
                                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                         "Network interface index %i given twice", (int) netif[i]);
                if (!if_indextoname((unsigned) netif[i], ifname)) {
                        if (errno != ENXIO && errno != ENODEV)
                                return negative_errno();
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "No network interface with index %i on the host", (int) netif[i]);
                }
        }
        return 0;
}

/* Everything a caller hands to Create/RegisterMachine[WithNetwork], checked before polkit is
 * asked. */
static int read_machine_args(Manager *m, sd_bus_message *message, bool create, bool network,
                             Machine **ret, sd_bus_error *error) {
        _cleanup_(machine_freep) Machine *machine = NULL;
        const char *name, *service, *class, *root;
        const void *id, *netif = NULL;
        size_t n_id, n_netif = 0;
        uint32_t leader;
        int kill_signal = 0, r;

        r = sd_bus_message_read(message, "s", &name);
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(message, 'y', &id, &n_id);
        if (r < 0)
                return r;
        r = sd_bus_message_read(message, "ssus", &service, &class, &leader, &root);
        if (r < 0)
                return r;
        if (network) {
                r = sd_bus_message_read_array(message, 'i', &netif, &n_netif);
                if (r < 0)
                        return r;
                n_netif /= sizeof(int32_t);
        }

        if (!machine_name_is_valid(name))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid machine name");
        if (n_id != 0 && n_id != 16)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Machine ID must be 0 or 16 bytes");
        if (machine_class_from_string(class) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Invalid machine class '%s'", class);
        if (leader <= 1 || leader > INT32_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid leader PID %u", leader);
        if (!isempty(root) && !path_is_normalized_absolute(root))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "Root directory must be an absolute, normalized path");
        if (strchr(service, '\n') || strchr(root, '\n'))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "Newline in service or root directory");
        r = check_netif(netif, n_netif, error);
        if (r < 0)
                return r;

        if (create) {
                r = m->scope_backend == SCOPE_BACKEND_SYSTEMD ?
                        systemd_scope_check_properties(message, error) :
                        cgroupfs_check_properties(message, &kill_signal, error);
                if (r < 0)
                        return r;
        }

        if (manager_find_machine(m, name))
                return sd_bus_error_setf(error, BUS_ERROR_MACHINE_EXISTS,
                                         "Machine '%s' already exists", name);

        r = machine_new(name, &machine);
        if (r < 0)
                return r;
        if (n_id == 16)
                memcpy(&machine->id, id, 16);
        machine->class = machine_class_from_string(class);
        machine->kill_signal = kill_signal;
        machine->leader = (pid_t) leader;
        if (!isempty(service) && !(machine->service = strdup(service)))
                return -ENOMEM;
        if (!isempty(root) && !(machine->root_directory = strdup(root)))
                return -ENOMEM;
        if (n_netif > 0)
                memcpy(machine->netif, netif, n_netif * sizeof(int32_t));
        machine->n_netif = (unsigned) n_netif;

        *ret = TAKE_PTR(machine);
        return 0;
}

/* Only root may hand us a leader it does not own: otherwise anyone could make someone else's
 * process "their" machine and then kill it through us. */
static int check_leader(Manager *m, sd_bus_message *message, pid_t leader, sd_bus_error *error) {
        uid_t caller, owner;
        uint64_t st;
        int r;

        r = proc_starttime(leader, &st);
        if (r == -ESRCH)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Leader PID %i does not exist", (int) leader);
        if (r < 0)
                return r;

        /* Through the polkit registry: polkit_verify_async() then reuses the answer instead of
         * asking the bus a second time (every bus round trip is in the caller's wait). */
        r = polkit_sender_euid(message, &m->polkit_registry, &caller);
        if (r < 0)
                return r;
        if (caller == 0)
                return 0;

        r = proc_uid(leader, &owner);
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Leader PID %i does not exist", (int) leader);
        if (owner != caller)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
                                        "Only root may register another user's process as a machine leader");
        return 0;
}

static int create_or_register(sd_bus_message *message, Manager *m, bool create, bool network,
                              sd_bus_error *error) {
        _cleanup_(machine_freep) Machine *machine = NULL;
        Machine *added;
        int r;

        r = read_machine_args(m, message, create, network, &machine, error);
        if (r < 0)
                return r;
        r = check_leader(m, message, machine->leader, error);
        if (r < 0)
                return r;

        const char *details[] = { "machine", machine->name, "verb", create ? "create" : "register", NULL };
        r = polkit_verify_async(message, "org.berth.machine1.create-machine", details,
                                &m->polkit_registry, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* polkit will call us again */

        r = manager_check_machine_limit(m, error);
        if (r < 0)
                return r;

        /* Under systemd the reply waits for the scope's job: systemd_scope_create() sends it. */
        if (create && m->scope_backend == SCOPE_BACKEND_SYSTEMD)
                r = manager_create_machine_scope(m, machine, message);
        else
                r = manager_add_machine(m, machine, create);
        if (r == -ESRCH)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Leader PID %i exited", (int) machine->leader);
        if (r == -EEXIST)
                return sd_bus_error_setf(error, BUS_ERROR_MACHINE_EXISTS,
                                         "A scope for machine '%s' exists already", machine->name);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to add machine %s: %m", machine->name);
        added = TAKE_PTR(machine);
        if (create && m->scope_backend == SCOPE_BACKEND_SYSTEMD)
                return 1;
        return reply_machine_path(message, added);
}

static int method_create_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return create_or_register(message, userdata, true, false, error);
}

static int method_create_machine_with_network(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return create_or_register(message, userdata, true, true, error);
}

static int method_register_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return create_or_register(message, userdata, false, false, error);
}

static int method_register_machine_with_network(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return create_or_register(message, userdata, false, true, error);
}

static int method_unregister_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        Machine *machine = NULL;
        int r;

        r = bus_read_machine(m, message, &machine, error);
        if (r < 0)
                return r;
        const char *details[] = { "machine", machine->name, "verb", "unregister", NULL };
        r = polkit_verify_async(message, "org.berth.machine1.manage-machines", details,
                                &m->polkit_registry, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;

        manager_machine_gone(m, machine);
        return sd_bus_reply_method_return(message, NULL);
}

static int method_terminate_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Machine *machine = NULL;
        int r;

        r = bus_read_machine(userdata, message, &machine, error);
        if (r < 0)
                return r;
        return bus_machine_method_terminate(message, machine, error);
}

static int method_kill_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Machine *machine = NULL;
        int r;

        r = bus_read_machine(userdata, message, &machine, error);
        if (r < 0)
                return r;
        return bus_machine_method_kill(message, machine, error);
}

int manager_send_machine_signal(Manager *m, Machine *machine, bool new) {
        _cleanup_free_ char *p = NULL;
        int r;

        /* Its os-release and addresses are read now, in a batch, for ListMachinesEx. */
        if (new)
                machine_cache_machine_new(m, machine);
        if (!m->bus)
                return 0;
        r = machine_bus_path(machine, &p);
        if (r < 0)
                return r;
        return sd_bus_emit_signal(m->bus, MANAGER_OBJECT_PATH, MANAGER_INTERFACE,
                                  new ? "MachineNew" : "MachineRemoved", "so", machine->name, p);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("ListMachines", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssso)", machines),
                                method_list_machines, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListMachinesEx", SD_BUS_ARGS("t", flags),
                                SD_BUS_RESULT("a(ssssssutsssa(iay)u)", machines),
                                method_list_machines_ex, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetMachine", SD_BUS_ARGS("s", name), SD_BUS_RESULT("o", machine),
                                method_get_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetMachineByPID", SD_BUS_ARGS("u", pid), SD_BUS_RESULT("o", machine),
                                method_get_machine_by_pid, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CreateMachine",
                                SD_BUS_ARGS("s", name, "ay", id, "s", service, "s", class, "u", leader,
                                            "s", root_directory, "a(sv)", scope_properties),
                                SD_BUS_RESULT("o", path), method_create_machine,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CreateMachineWithNetwork",
                                SD_BUS_ARGS("s", name, "ay", id, "s", service, "s", class, "u", leader,
                                            "s", root_directory, "ai", ifindices, "a(sv)", scope_properties),
                                SD_BUS_RESULT("o", path), method_create_machine_with_network,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RegisterMachine",
                                SD_BUS_ARGS("s", name, "ay", id, "s", service, "s", class, "u", leader,
                                            "s", root_directory),
                                SD_BUS_RESULT("o", path), method_register_machine,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RegisterMachineWithNetwork",
                                SD_BUS_ARGS("s", name, "ay", id, "s", service, "s", class, "u", leader,
                                            "s", root_directory, "ai", ifindices),
                                SD_BUS_RESULT("o", path), method_register_machine_with_network,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("UnregisterMachine", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                                method_unregister_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("TerminateMachine", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                                method_terminate_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("KillMachine", SD_BUS_ARGS("s", name, "s", whom, "i", signal),
                                SD_BUS_NO_RESULT, method_kill_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("MachineNew", SD_BUS_ARGS("s", machine, "o", path), 0),
        SD_BUS_SIGNAL_WITH_ARGS("MachineRemoved", SD_BUS_ARGS("s", machine, "o", path), 0),
        SD_BUS_VTABLE_END
};

int manager_bus_register(Manager *m) {
        /* Each area adds its own vtables to the same two interfaces; sd-bus merges them. */
        static const struct {
                const sd_bus_vtable *manager, *machine;
        } vtables[] = {
                { manager_vtable, machine_vtable },
                { lifecycle_manager_vtable, lifecycle_machine_vtable },
                { inside_manager_vtable, inside_machine_vtable },
                { files_manager_vtable, files_machine_vtable },
                { exec_manager_vtable, exec_machine_vtable },
                { resources_manager_vtable, resources_machine_vtable },
                { freeze_manager_vtable, freeze_machine_vtable },
        };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(vtables); i++) {
                r = sd_bus_add_object_vtable(m->bus, NULL, MANAGER_OBJECT_PATH, MANAGER_INTERFACE,
                                             vtables[i].manager, m);
                if (r < 0)
                        return log_error_errno(r, "Failed to add the manager's methods: %m");
                r = sd_bus_add_fallback_vtable(m->bus, NULL, MACHINE_OBJECT_PREFIX, MACHINE_INTERFACE,
                                               vtables[i].machine, machine_object_find, m);
                if (r < 0)
                        return log_error_errno(r, "Failed to add the machines' methods: %m");
        }
        r = image_bus_register(m); /* the pool's own objects: no machine vtable to pair */
        if (r < 0)
                return r;
        r = transfer_bus_register(m); /* imports and exports: objects of their own */
        if (r < 0)
                return r;
        r = sd_bus_add_node_enumerator(m->bus, NULL, MACHINE_OBJECT_PREFIX, machine_node_enumerator, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the machine enumerator: %m");
        r = sd_bus_add_object_manager(m->bus, NULL, MANAGER_OBJECT_PATH);
        if (r < 0)
                return log_error_errno(r, "Failed to add the object manager: %m");
        return 0;
}
