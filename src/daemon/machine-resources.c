/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live resource limits of machines: parsing, conversions, the cgroupfs and systemd backends,
 * persistence, and the SetMachineProperties / SetProperties methods. */
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

#define STATE_DIR_DEFAULT "/var/lib/berth"
/* AllowedCPUs: as many CPUs as the kernel's NR_CPUS can be configured to. */
#define CPUS_MAX 8192U

static const char *const resource_property_table[_RESOURCE_MAX] = {
        [RESOURCE_MEMORY_MAX] = "MemoryMax",
        [RESOURCE_MEMORY_HIGH] = "MemoryHigh",
        [RESOURCE_CPU_QUOTA] = "CPUQuotaPerSecUSec",
        [RESOURCE_CPU_WEIGHT] = "CPUWeight",
        [RESOURCE_ALLOWED_CPUS] = "AllowedCPUs",
        [RESOURCE_TASKS_MAX] = "TasksMax",
        [RESOURCE_IO_WEIGHT] = "IOWeight",
};

const char *resource_property_to_string(ResourceProperty p) {
        return p >= 0 && p < _RESOURCE_MAX ? resource_property_table[p] : NULL;
}

ResourceProperty resource_property_from_string(const char *s) {
        for (int i = 0; s && i < _RESOURCE_MAX; i++)
                if (streq(resource_property_table[i], s))
                        return (ResourceProperty) i;
        return _RESOURCE_INVALID;
}

void resource_limits_done(ResourceLimits *l) {
        free(l->cpus);
        *l = (ResourceLimits) {};
}

/* ---- conversions ---------------------------------------------------------------------- */

int cpu_quota_parse(const char *s, uint64_t *ret_usec_per_sec) {
        _cleanup_free_ char *whole = NULL;
        const char *dot, *frac = "";
        size_t n = strlen(s);
        uint64_t w, f = 0;
        int r;

        /* "N%" or "N.NN%": one percent is 10 ms of CPU time per second. */
        if (n < 2 || s[n - 1] != '%')
                return -EINVAL;
        dot = memchr(s, '.', n - 1);
        whole = strndup(s, (size_t) ((dot ?: s + n - 1) - s));
        if (!whole)
                return -ENOMEM;
        if (dot) {
                frac = dot + 1;
                if ((size_t) (s + n - 1 - frac) < 1 || (size_t) (s + n - 1 - frac) > 2)
                        return -EINVAL;
                for (const char *i = frac; i < s + n - 1; i++) {
                        if (*i < '0' || *i > '9')
                                return -EINVAL;
                        f = f * 10 + (uint64_t) (*i - '0');
                }
                if (s + n - 1 - frac == 1)
                        f *= 10;
        }
        r = parse_uint64(whole, &w);
        if (r < 0)
                return r;
        if (w > 1000000)
                return -ERANGE;
        *ret_usec_per_sec = w * 10000 + f * 100;
        return *ret_usec_per_sec > 0 ? 0 : -ERANGE;
}

static uint64_t cpu_quota_per_period(uint64_t usec_per_sec) {
        uint64_t q = (usec_per_sec * CPU_QUOTA_PERIOD_USEC + 999999) / 1000000;

        /* The kernel refuses quotas under 1 ms: round up, as systemd does. */
        return MAX(q, 1000ULL);
}

int cpu_max_format(uint64_t usec_per_sec, char **ret) {
        if (usec_per_sec == UINT64_MAX)
                return asprintf(ret, "max %llu", CPU_QUOTA_PERIOD_USEC) < 0 ? -ENOMEM : 0;
        return asprintf(ret, "%" PRIu64 " %llu", cpu_quota_per_period(usec_per_sec),
                        CPU_QUOTA_PERIOD_USEC) < 0 ? -ENOMEM : 0;
}

int64_t cpu_quota_to_cfs(uint64_t usec_per_sec) {
        return usec_per_sec == UINT64_MAX ? -1 : (int64_t) cpu_quota_per_period(usec_per_sec);
}

uint64_t cpu_weight_to_shares(uint64_t weight) {
        return MIN(MAX(weight * 1024 / 100, 2ULL), 262144ULL);
}

uint64_t io_weight_to_blkio(uint64_t weight) {
        return MIN(MAX(weight * 500 / 100, 10ULL), 1000ULL);
}

uint64_t io_weight_to_bfq(uint64_t weight) {
        /* Both scales meet at the default 100; above it, 10000 ↦ 1000. */
        if (weight <= 100)
                return MAX(weight, 1ULL);
        return 100 + (weight - 100) * 900 / 9900;
}

int cpu_set_parse(const char *s, uint8_t **ret, size_t *ret_n) {
        _cleanup_free_ uint8_t *mask = NULL;
        _cleanup_free_ char *copy = strdup(s);
        char *tok, *rest;
        size_t n = 0;

        if (!copy)
                return -ENOMEM;
        copy[strcspn(copy, "\n")] = 0;
        /* strsep(), not strtok(): "1,,2" and "1," are typos, not lists. */
        for (rest = copy; *copy && (tok = strsep(&rest, ",")); ) {
                char *dash = strchr(tok, '-');
                uint64_t a, b;

                if (dash)
                        *dash = 0;
                if (parse_uint64(tok, &a) < 0 || parse_uint64(dash ? dash + 1 : tok, &b) < 0 ||
                    a > b || b >= CPUS_MAX)
                        return -EINVAL;
                if (b / 8 + 1 > n) {
                        uint8_t *g = realloc(mask, b / 8 + 1);

                        if (!g)
                                return -ENOMEM;
                        memset(g + n, 0, b / 8 + 1 - n);
                        mask = g;
                        n = b / 8 + 1;
                }
                for (uint64_t c = a; c <= b; c++)
                        mask[c / 8] |= (uint8_t) (1u << (c % 8));
        }
        *ret = TAKE_PTR(mask);
        *ret_n = n;
        return 0;
}

static bool cpu_is_set(const uint8_t *mask, size_t n, size_t c) {
        return c / 8 < n && (mask[c / 8] & (1u << (c % 8)));
}

int cpu_set_format(const uint8_t *mask, size_t n, char **ret) {
        _cleanup_free_ char *s = NULL;
        size_t len = 0;

        s = calloc(1, n * 8 * 12 + 1);
        if (!s)
                return -ENOMEM;
        for (size_t c = 0; c < n * 8; c++) {
                size_t e = c;

                if (!cpu_is_set(mask, n, c))
                        continue;
                while (cpu_is_set(mask, n, e + 1))
                        e++;
                len += (size_t) sprintf(s + len, e > c ? "%s%zu-%zu" : "%s%zu", len ? "," : "", c, e);
                c = e;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

/* ---- property sets -------------------------------------------------------------------- */

static int check_range(ResourceProperty p, uint64_t v) {
        if (p == RESOURCE_CPU_WEIGHT || p == RESOURCE_IO_WEIGHT)
                return v >= CGROUP_WEIGHT_MIN && v <= CGROUP_WEIGHT_MAX ? 0 : -ERANGE;
        /* No CPU time at all, or no process at all, is no machine. */
        if (p == RESOURCE_CPU_QUOTA || p == RESOURCE_TASKS_MAX)
                return v > 0 ? 0 : -ERANGE;
        return 0;
}

static int set_value(ResourceLimits *l, ResourceProperty p, uint64_t v) {
        int r = check_range(p, v);

        if (r < 0)
                return r;
        l->value[p] = v;
        l->set |= 1u << p;
        return 0;
}

static int set_cpus(ResourceLimits *l, const uint8_t *mask, size_t n) {
        uint8_t *copy = NULL;

        if (n > CPUS_MAX / 8)
                return -ERANGE;
        /* Trailing zero bytes say nothing: drop them, so equal sets compare equal. */
        while (n > 0 && mask[n - 1] == 0)
                n--;
        if (n > 0) {
                copy = malloc(n);
                if (!copy)
                        return -ENOMEM;
                memcpy(copy, mask, n);
        }
        free(l->cpus);
        l->cpus = copy;
        l->n_cpus = n;
        l->set |= 1u << RESOURCE_ALLOWED_CPUS;
        return 0;
}

int resource_limits_parse(ResourceLimits *l, ResourceProperty p, const char *s) {
        _cleanup_free_ uint8_t *mask = NULL;
        size_t n = 0;
        uint64_t v;
        int r;

        switch (p) {
        case RESOURCE_MEMORY_MAX:
        case RESOURCE_MEMORY_HIGH:
        case RESOURCE_TASKS_MAX:
                r = parse_size(s, &v);
                break;
        case RESOURCE_CPU_QUOTA:
                if (streq(s, "infinity")) {
                        v = UINT64_MAX;
                        r = 0;
                } else if (s[0] && s[strlen(s) - 1] == '%')
                        r = cpu_quota_parse(s, &v);
                else
                        r = parse_uint64(s, &v);
                break;
        case RESOURCE_CPU_WEIGHT:
        case RESOURCE_IO_WEIGHT:
                r = parse_uint64(s, &v);
                break;
        case RESOURCE_ALLOWED_CPUS:
                r = cpu_set_parse(s, &mask, &n);
                return r < 0 ? r : set_cpus(l, mask, n);
        case _RESOURCE_MAX:
        case _RESOURCE_INVALID:
        default:
                return -EINVAL;
        }
        return r < 0 ? r : set_value(l, p, v);
}

static int read_one_property(sd_bus_message *message, ResourceLimits *l, sd_bus_error *error) {
        const char *name, *contents = NULL, *s;
        ResourceProperty p;
        bool friendly;
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
        r = sd_bus_message_peek_type(message, &type, &contents);
        if (r < 0)
                return r;

        if (streq(contents, "t") && !friendly) {
                r = sd_bus_message_read(message, "v", "t", &v);
                if (r < 0)
                        return r;
                r = p == RESOURCE_ALLOWED_CPUS ? -EINVAL : set_value(l, p, v);
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
                r = set_cpus(l, mask, n);
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

int resource_limits_merge(ResourceLimits *dst, const ResourceLimits *src) {
        for (int p = 0; p < _RESOURCE_MAX; p++) {
                if (!resource_limits_has(src, p))
                        continue;
                if (p == RESOURCE_ALLOWED_CPUS) {
                        int r = set_cpus(dst, src->cpus, src->n_cpus);
                        if (r < 0)
                                return r;
                } else {
                        dst->value[p] = src->value[p];
                        dst->set |= 1u << p;
                }
        }
        return 0;
}

int resource_limits_serialize(const ResourceLimits *l, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r = 0;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        for (int p = 0; p < _RESOURCE_MAX; p++) {
                _cleanup_free_ char *cpus = NULL;

                if (!resource_limits_has(l, p))
                        continue;
                if (p == RESOURCE_ALLOWED_CPUS) {
                        r = cpu_set_format(l->cpus, l->n_cpus, &cpus);
                        if (r < 0)
                                break;
                        fprintf(f, "%s=%s\n", resource_property_to_string(p), cpus);
                } else if (l->value[p] == UINT64_MAX)
                        fprintf(f, "%s=infinity\n", resource_property_to_string(p));
                else
                        fprintf(f, "%s=%" PRIu64 "\n", resource_property_to_string(p), l->value[p]);
        }
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(buf);
        return 0;
}

int resource_limits_deserialize(const char *text, ResourceLimits *ret) {
        _cleanup_(resource_limits_done) ResourceLimits l = {};
        _cleanup_free_ char *copy = strdup(text);
        char *line, *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *eq = strchr(line, '=');
                ResourceProperty p;
                int r;

                if (line[0] == '#' || !eq)
                        continue;
                *eq = 0;
                p = resource_property_from_string(line);
                if (p < 0)
                        continue; /* from a newer berthd */
                r = resource_limits_parse(&l, p, eq + 1);
                if (r < 0)
                        return r;
        }
        *ret = l;
        l = (ResourceLimits) {};
        return 0;
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
                } else if (r >= 0)
                        r = sd_bus_message_append(m, "v", "t", l->value[p]);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

/* ---- persistence ---------------------------------------------------------------------- */

int resources_state_dir(char **ret) {
        const char *e = getenv("BERTH_STATE_DIR");

        if (isempty(e))
                e = STATE_DIR_DEFAULT;
        else if (e[0] != '/')
                return -EINVAL;
        return asprintf(ret, "%s/properties", e) < 0 ? -ENOMEM : 0;
}

int resources_load(const char *dir, const char *name, ResourceLimits *ret) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                if (errno != ENOENT)
                        return negative_errno();
                *ret = (ResourceLimits) {};
                return 0;
        }
        r = read_fd_full(fd, 64 * 1024, &buf, NULL);
        if (r < 0)
                return r;
        return resource_limits_deserialize(buf, ret);
}

int resources_save(const char *dir, const char *name, const ResourceLimits *l) {
        _cleanup_free_ char *path = NULL, *tmp = NULL, *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        if (l->set == 0)
                return unlink(path) < 0 && errno != ENOENT ? negative_errno() : 0;
        r = resource_limits_serialize(l, &text);
        if (r < 0)
                return r;
        r = mkdir_p(dir, 0755);
        if (r < 0)
                return r;
        if (asprintf(&tmp, "%s/.#%s.XXXXXX", dir, name) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (write(fd, text, strlen(text)) != (ssize_t) strlen(text) || fsync(fd) < 0 ||
            fchmod(fd, 0644) < 0 || rename(tmp, path) < 0) {
                r = negative_errno();
                (void) unlink(tmp);
                return r;
        }
        return 0;
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
                sd_bus_error_setf(&e, SD_BUS_ERROR_NOT_SUPPORTED,
                                  "This host has no cgroup controller for %s available to berthd",
                                  what ?: "one of the properties");
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
                if (!machine->unit)
                        return -ENXIO;
                return resources_apply_systemd(machine->manager->bus, machine->unit, runtime, l, done,
                                               userdata);
        }
        apply_cgroupfs(machine, l, done, userdata);
        return 0;
}

static void on_restored(int r, const sd_bus_error *error, void *userdata) {
        _cleanup_free_ char *name = userdata;

        if (r < 0)
                log_warning_errno(r, "Failed to apply the saved resource limits of %s: %s", name,
                                  error && error->message ? error->message : strerror(-r));
        else
                log_info("Applied the saved resource limits of %s.", name);
}

int machine_resources_restore(Machine *m) {
        _cleanup_(resource_limits_done) ResourceLimits l = {};
        _cleanup_free_ char *dir = NULL, *name = NULL;
        int r;

        r = resources_state_dir(&dir);
        if (r < 0)
                return r;
        r = resources_load(dir, m->name, &l);
        if (r < 0)
                return log_warning_errno(r, "Failed to read the saved resource limits of %s: %m", m->name);
        if (l.set == 0)
                return 0;
        name = strdup(m->name);
        if (!name)
                return log_oom();
        /* Saved already: systemd needs no copy of its own. */
        r = machine_apply(m, true, &l, on_restored, name);
        if (r < 0)
                return log_warning_errno(r, "Failed to apply the saved resource limits of %s: %m", m->name);
        TAKE_PTR(name);
        return 0;
}

void machine_resources_release(Machine *m) {
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

typedef struct PendingSet {
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
        if (r >= 0)
                (void) sd_bus_reply_method_return(p->message, NULL);
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

const sd_bus_vtable resources_machine_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("SetProperties", SD_BUS_ARGS("b", runtime, "a(sv)", properties),
                                SD_BUS_NO_RESULT, method_set_properties, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};
