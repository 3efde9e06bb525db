/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Registering the container with berthd, through a libsystemd loaded only for that. */
#include <dlfcn.h>
#include <stdio.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "log.h"
#include "parse-util.h"
#include "register.h"
#include "resources.h"
#include "strv.h"

#define BERTHD_SERVICE "org.berth.machine1"
#define BERTHD_PATH "/org/berth/machine1"
#define BERTHD_MANAGER "org.berth.machine1.Manager"

/* The few sd-bus calls we make, resolved from libsystemd.so.0 at run time; the prototypes come
 * from the installed header, so a mismatch fails the build, not the call. */
typedef struct BusApi {
        void *dl;
        typeof(sd_bus_open_system) *open_system;
        typeof(sd_bus_flush_close_unref) *flush_close_unref;
        typeof(sd_bus_message_new_method_call) *new_method_call;
        typeof(sd_bus_message_append) *append;
        typeof(sd_bus_message_append_array) *append_array;
        typeof(sd_bus_message_open_container) *open_container;
        typeof(sd_bus_message_close_container) *close_container;
        typeof(sd_bus_message_unref) *message_unref;
        typeof(sd_bus_call) *call;
        typeof(sd_bus_call_method) *call_method;
        typeof(sd_bus_error_free) *error_free;
        typeof(sd_bus_error_has_name) *error_has_name;
} BusApi;

struct Registration {
        BusApi api;
        sd_bus *bus;
};

static int bus_api_load(BusApi *a) {
        static const struct {
                const char *name;
                size_t offset;
        } symbols[] = {
#define SYM(field, sym) { #sym, offsetof(BusApi, field) }
                SYM(open_system, sd_bus_open_system),
                SYM(flush_close_unref, sd_bus_flush_close_unref),
                SYM(new_method_call, sd_bus_message_new_method_call),
                SYM(append, sd_bus_message_append),
                SYM(append_array, sd_bus_message_append_array),
                SYM(open_container, sd_bus_message_open_container),
                SYM(close_container, sd_bus_message_close_container),
                SYM(message_unref, sd_bus_message_unref),
                SYM(call, sd_bus_call),
                SYM(call_method, sd_bus_call_method),
                SYM(error_free, sd_bus_error_free),
                SYM(error_has_name, sd_bus_error_has_name),
#undef SYM
        };

        a->dl = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
        if (!a->dl)
                return log_debug_errno(-EOPNOTSUPP, "dlopen(libsystemd.so.0): %s", dlerror());
        for (size_t i = 0; i < ELEMENTSOF(symbols); i++) {
                void *f = dlsym(a->dl, symbols[i].name);

                if (!f)
                        return log_debug_errno(-EOPNOTSUPP, "libsystemd lacks %s", symbols[i].name);
                memcpy((char *) a + symbols[i].offset, &f, sizeof(f));
        }
        return 0;
}

Registration *registration_free(Registration *r) {
        if (!r)
                return NULL;
        if (r->bus)
                r->api.flush_close_unref(r->bus);
        if (r->api.dl)
                dlclose(r->api.dl);
        free(r);
        return NULL;
}

void registration_disconnect(Registration *r) {
        if (!r)
                return;
        if (r->bus)
                r->bus = r->api.flush_close_unref(r->bus);
        /* Nor is the library: unmapped, it leaves the supervisor's RSS for good. */
        if (r->api.dl)
                dlclose(r->api.dl);
        r->api.dl = NULL;
}

/* Errors that mean "nobody serves org.berth.machine1 here", as opposed to berthd saying no. */
static bool error_is_unreachable(const BusApi *a, const sd_bus_error *e) {
        return a->error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
               a->error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER) ||
               a->error_has_name(e, SD_BUS_ERROR_NO_REPLY) ||
               (e->name && startswith(e->name, "org.freedesktop.DBus.Error.Spawn.")) ||
               (e->name && startswith(e->name, "org.freedesktop.systemd1."));
}

int registration_open(const Settings *s, Registration **ret) {
        _cleanup_(registration_freep) Registration *reg = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *address = getenv("DBUS_SYSTEM_BUS_ADDRESS");
        int r;

        *ret = NULL;
        /* No system bus at all (minimal hosts, CI, inside containers): no berthd can run here
         * and nothing could list the machine, so a warning at every start would be noise. */
        if (!address && access("/run/dbus/system_bus_socket", F_OK) < 0) {
                log_debug("No system bus, running %s unregistered.", s->machine);
                return 0;
        }

        reg = calloc(1, sizeof(*reg));
        if (!reg)
                return log_oom();
        r = bus_api_load(&reg->api);
        if (r < 0) {
                log_warning("libsystemd.so.0 is not available, running %s unregistered.", s->machine);
                return 0;
        }
        r = reg->api.open_system(&reg->bus);
        if (r < 0) {
                log_warning_errno(r, "Cannot connect to the system bus, running %s unregistered: %m", s->machine);
                return 0;
        }
        /* A ping starts berthd if the bus can activate it, and tells us cheaply whether anyone
         * answers, before the container exists. */
        r = reg->api.call_method(reg->bus, BERTHD_SERVICE, BERTHD_PATH, "org.freedesktop.DBus.Peer",
                                 "Ping", &error, NULL, NULL);
        if (r < 0) {
                bool unreachable = error_is_unreachable(&reg->api, &error);

                if (unreachable)
                        log_warning("berthd is not running, running %s unregistered.", s->machine);
                else
                        log_error("Failed to reach berthd: %s", error.message ?: strerror(-r));
                reg->api.error_free(&error);
                return unreachable ? 0 : r;
        }
        *ret = TAKE_PTR(reg);
        return 0;
}

/* One --property=NAME=VALUE as systemd's (sv) pair: a string or a uint64_t. The names are
 * systemd's; values are parsed here so that a typo fails before the container starts. */
typedef struct ScopeProperty {
        char name[32];
        char type; /* 's' or 't' */
        const char *str;
        uint64_t u;
} ScopeProperty;

static int property_parse(const char *assignment, ScopeProperty *ret) {
        static const char *const sizes[] = { "MemoryMax", "MemoryHigh", "MemoryLow", "MemoryMin",
                                             "MemorySwapMax", "TasksMax" };
        static const char *const numbers[] = { "CPUWeight", "StartupCPUWeight", "IOWeight",
                                               "StartupIOWeight", "CPUQuotaPerSecUSec" };
        const char *eq = strchr(assignment, '='), *value;
        size_t n = eq ? (size_t) (eq - assignment) : 0;

        if (n == 0 || n >= sizeof(ret->name))
                return log_error_errno(-EINVAL, "Invalid property, expected NAME=VALUE: %s", assignment);
        *ret = (ScopeProperty) { .type = 't' };
        memcpy(ret->name, assignment, n);
        value = eq + 1;

        if (streq(ret->name, "Description")) {
                ret->type = 's';
                ret->str = value;
                return 0;
        }
        if (streq(ret->name, "CPUQuota")) {
                if (parse_percent(value, &ret->u) < 0 || ret->u == 0 || ret->u > UINT64_MAX / 10000)
                        return log_error_errno(-EINVAL, "Invalid CPUQuota=, expected N%%: %s", value);
                strcpy(ret->name, "CPUQuotaPerSecUSec");
                ret->u *= 10000;
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++)
                if (streq(ret->name, sizes[i])) {
                        if (parse_size(value, &ret->u) < 0)
                                return log_error_errno(-EINVAL, "Invalid size for %s=: %s", ret->name, value);
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(numbers); i++)
                if (streq(ret->name, numbers[i])) {
                        if (parse_uint64(value, &ret->u) < 0)
                                return log_error_errno(-EINVAL, "Invalid number for %s=: %s", ret->name, value);
                        return 0;
                }
        return log_error_errno(-EINVAL, "Unknown or unsupported scope property: %s", ret->name);
}

int registration_check_properties(char **properties) {
        ScopeProperty p;

        STRV_FOREACH(i, properties)
                if (property_parse(*i, &p) < 0)
                        return -EINVAL;
        return 0;
}

static int append_property(const BusApi *a, sd_bus_message *m, const char *assignment) {
        ScopeProperty p;
        int r;

        r = property_parse(assignment, &p);
        if (r < 0)
                return r;
        return p.type == 's' ? a->append(m, "(sv)", p.name, "s", p.str) :
                               a->append(m, "(sv)", p.name, "t", p.u);
}

static int build_call(Registration *reg, const Settings *s, const RegistrationInfo *info,
                      sd_bus_message **ret) {
        static const char *const methods[2][2] = {
                { "CreateMachine", "CreateMachineWithNetwork" },
                { "RegisterMachine", "RegisterMachineWithNetwork" },
        };
        const BusApi *a = &reg->api;
        sd_bus_message *m = NULL;
        char description[128];
        int r;

        r = a->new_method_call(reg->bus, &m, BERTHD_SERVICE, BERTHD_PATH, BERTHD_MANAGER,
                               methods[s->keep_unit][info->n_ifindices > 0]);
        if (r < 0)
                return r;
        r = a->append(m, "s", s->machine);
        if (r >= 0)
                r = a->append_array(m, 'y', info->id, 16);
        if (r >= 0)
                /* A raw image's file, not where it happens to be mounted: that is what the
                 * pool knows it by (ImageBusy, the Image property). */
                r = a->append(m, "ssus", "berth", "container", (uint32_t) info->leader, s->image ?: s->directory);
        if (r >= 0 && info->n_ifindices > 0)
                r = a->append_array(m, 'i', info->ifindices, info->n_ifindices * sizeof(int));
        if (r < 0 || s->keep_unit)
                goto done;

        r = a->open_container(m, 'a', "(sv)");
        if (r < 0)
                goto done;
        if (!strv_env_get(s->properties, "Description")) {
                snprintf(description, sizeof(description), "Container %s", s->machine);
                r = a->append(m, "(sv)", "Description", "s", description);
        }
        if (r >= 0 && s->slice)
                r = a->append(m, "(sv)", "Slice", "s", s->slice);
        if (r >= 0 && info->kill_signal > 0)
                r = a->append(m, "(sv)", "KillSignal", "i", (int32_t) info->kill_signal);
        STRV_FOREACH(p, s->properties)
                if (r >= 0)
                        r = append_property(a, m, *p);
        if (r >= 0)
                r = a->close_container(m);
done:
        if (r < 0) {
                a->message_unref(m);
                return r;
        }
        *ret = m;
        return 0;
}

/* One property of L as systemd's (sv): t, ay (AllowedCPUs), a(st) or a(ss). */
static int append_limit(const BusApi *a, sd_bus_message *m, const ResourceLimits *l, ResourceProperty p) {
        const char *name = resource_property_to_string(p);
        unsigned i = resource_io_index(p);
        int r;

        if (p != RESOURCE_ALLOWED_CPUS && !resource_property_is_io_list(p) && p != RESOURCE_DEVICE_ALLOW)
                return a->append(m, "(sv)", name, "t", l->value[p]);
        r = a->open_container(m, 'r', "sv");
        if (r >= 0)
                r = a->append(m, "s", name);
        if (r < 0)
                return r;
        if (p == RESOURCE_ALLOWED_CPUS) {
                r = a->open_container(m, 'v', "ay");
                if (r >= 0)
                        r = a->append_array(m, 'y', l->cpus, l->n_cpus);
        } else {
                const char *sig = p == RESOURCE_DEVICE_ALLOW ? "a(ss)" : "a(st)";
                size_t n = p == RESOURCE_DEVICE_ALLOW ? l->n_devices : l->n_io[i];

                r = a->open_container(m, 'v', sig);
                if (r >= 0)
                        r = a->open_container(m, 'a', sig + 1);
                for (size_t k = 0; k < n && r >= 0; k++)
                        r = p == RESOURCE_DEVICE_ALLOW ?
                                a->append(m, "(ss)", l->devices[k].path, l->devices[k].access) :
                                a->append(m, "(st)", l->io[i][k].path, l->io[i][k].bytes);
                if (r >= 0)
                        r = a->close_container(m);
        }
        if (r >= 0)
                r = a->close_container(m);
        if (r >= 0)
                r = a->close_container(m);
        return r;
}

/* The start set goes to berthd as a runtime SetMachineProperties, whatever its backend: it puts
 * them on the scope through systemd, or writes them to the machine's cgroups itself. The
 * payload has not run yet, so it never runs unlimited. DeviceAllow stays out: the device policy
 * of our own holds it, and a cgroup2-only host without systemd has nowhere else to put it. */
static int send_limits(Registration *reg, const Settings *s) {
        _cleanup_(resource_limits_done) ResourceLimits l = {};
        const BusApi *a = &reg->api;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        int r;

        r = resources_from_settings(s, &l);
        if (r < 0)
                return r;
        l.set &= ~(1u << RESOURCE_DEVICE_ALLOW);
        if (l.set == 0)
                return 0;
        r = a->new_method_call(reg->bus, &m, BERTHD_SERVICE, BERTHD_PATH, BERTHD_MANAGER, "SetMachineProperties");
        if (r >= 0)
                r = a->append(m, "sb", s->machine, 1);
        if (r >= 0)
                r = a->open_container(m, 'a', "(sv)");
        for (int p = 0; p < _RESOURCE_MAX && r >= 0; p++)
                if (resource_limits_has(&l, p))
                        r = append_limit(a, m, &l, p);
        if (r >= 0)
                r = a->close_container(m);
        if (r < 0) {
                a->message_unref(m);
                return log_error_errno(r, "Failed to build the resource limits of %s: %m", s->machine);
        }
        r = a->call(reg->bus, m, 0, &error, &reply);
        a->message_unref(m);
        a->message_unref(reply);
        if (r < 0) {
                log_error("Failed to apply the resource limits of %s, refusing to start it without them: %s",
                          s->machine, error.message ?: strerror(-r));
                a->error_free(&error);
        }
        return r;
}

int registration_register(Registration *reg, const Settings *s, const RegistrationInfo *info) {
        const BusApi *a = &reg->api;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        int r;

        r = build_call(reg, s, info, &m);
        if (r < 0)
                return log_error_errno(r, "Failed to build the registration of %s: %m", s->machine);
        r = a->call(reg->bus, m, 0, &error, &reply);
        a->message_unref(m);
        a->message_unref(reply);
        if (r >= 0)
                return send_limits(reg, s);

        if (a->error_has_name(&error, "org.berth.machine1.MachineExists"))
                r = -EEXIST;
        else if (a->error_has_name(&error, SD_BUS_ERROR_ACCESS_DENIED) ||
                 a->error_has_name(&error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED))
                r = -EACCES;
        log_error("Failed to register machine %s with berthd: %s", s->machine,
                  error.message ?: strerror(-r));
        a->error_free(&error);
        return r;
}
