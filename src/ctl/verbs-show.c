/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The read-only verbs: list, status and show. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <systemd/sd-journal.h>

#include "cgroup-util.h"
#include "ctl-boot-order.h"
#include "ctl.h"
#include "log.h"
#include "strv.h"

static uint64_t now_usec(clockid_t clock) {
        struct timespec ts;

        (void) clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

/* "3min 20s", "2h 5min", "4 days 1h": two units, like systemd's relative times. */
static void format_span(char *buf, size_t size, uint64_t sec) {
        if (sec < 60)
                (void) snprintf(buf, size, "%" PRIu64 "s", sec);
        else if (sec < 3600)
                (void) snprintf(buf, size, "%" PRIu64 "min %" PRIu64 "s", sec / 60, sec % 60);
        else if (sec < 86400)
                (void) snprintf(buf, size, "%" PRIu64 "h %" PRIu64 "min", sec / 3600, sec % 3600 / 60);
        else
                (void) snprintf(buf, size, "%" PRIu64 " day%s %" PRIu64 "h", sec / 86400,
                                sec / 86400 == 1 ? "" : "s", sec % 86400 / 3600);
}

/* One basic value of TYPE from M as JSON (numbers stay numbers, strings strings). */
static int read_basic(sd_bus_message *m, char type, struct json_object **ret) {
        union {
                uint8_t y;
                int b;
                int16_t n;
                uint16_t q;
                int32_t i;
                uint32_t u;
                int64_t x;
                uint64_t t;
                double d;
                const char *s;
        } v;
        int r = sd_bus_message_read_basic(m, type, &v);

        if (r <= 0)
                return r < 0 ? r : -ENXIO;
        switch (type) {
        case 'y': *ret = json_object_new_int(v.y); break;
        case 'b': *ret = json_object_new_boolean(v.b); break;
        case 'n': *ret = json_object_new_int(v.n); break;
        case 'q': *ret = json_object_new_int(v.q); break;
        case 'i': *ret = json_object_new_int(v.i); break;
        case 'u': *ret = json_object_new_int64(v.u); break;
        case 'x': *ret = json_object_new_int64(v.x); break;
        case 't': *ret = json_object_new_uint64(v.t); break;
        case 'd': *ret = json_object_new_double(v.d); break;
        case 'h': *ret = json_object_new_int(v.i); break;
        default: *ret = json_object_new_string(v.s); break;
        }
        return *ret ? 0 : -ENOMEM;
}

/* A property's variant as JSON: basic types, "ay" as a hex string (machine IDs), arrays of
 * basic types as arrays; anything else is skipped as null. */
static int read_variant(sd_bus_message *m, struct json_object **ret) {
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_VARIANT, contents);
        if (r < 0)
                return r;
        *ret = NULL;
        if (streq(contents, "ay")) {
                const uint8_t *p;
                size_t n;
                char hex[2 * 64 + 1] = "";

                r = sd_bus_message_read_array(m, 'y', (const void **) &p, &n);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n && i < 64; i++)
                        (void) snprintf(hex + 2 * i, 3, "%02x", p[i]);
                *ret = json_object_new_string(hex);
        } else if (contents[0] == 'a' && strlen(contents) == 2 && contents[1] != 'v') {
                *ret = json_object_new_array();
                r = sd_bus_message_enter_container(m, 'a', contents + 1);
                if (r < 0)
                        return r;
                while ((r = sd_bus_message_at_end(m, false)) == 0) {
                        struct json_object *e = NULL;
                        r = read_basic(m, contents[1], &e);
                        if (r < 0)
                                return r;
                        json_object_array_add(*ret, e);
                }
                r = sd_bus_message_exit_container(m);
        } else if (strlen(contents) == 1)
                r = read_basic(m, contents[0], ret);
        else
                r = sd_bus_message_skip(m, contents);
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

int ctl_get_all(Ctl *ctl, const char *path, const char *interface, sd_bus_error *error,
                struct json_object **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_json_ struct json_object *o = json_object_new_object();
        int r;

        if (!o)
                return -ENOMEM;
        r = ctl_new_call(ctl, BERTH_BUS_NAME, path, "org.freedesktop.DBus.Properties", "GetAll", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", interface);
        if (r < 0)
                return r;
        r = ctl_call_message(ctl, m, 0, error, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                struct json_object *v = NULL;
                const char *name;

                r = sd_bus_message_read(reply, "s", &name);
                if (r < 0)
                        return r;
                r = read_variant(reply, &v);
                if (r < 0)
                        return r;
                json_object_object_add(o, name, v);
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

const char *ctl_jstr(struct json_object *o, const char *key) {
        struct json_object *v;

        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ?
                json_object_get_string(v) : NULL;
}

uint64_t ctl_juint(struct json_object *o, const char *key) {
        struct json_object *v;

        return json_object_object_get_ex(o, key, &v) ? json_object_get_uint64(v) : 0;
}

/* GetMachineOSRelease as a JSON object of strings; NULL when the machine could not say. */
static struct json_object *get_os_release(Ctl *ctl, const char *name) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        const char *k, *v;
        int r;

        r = ctl_call(ctl, "GetMachineOSRelease", &error, &reply, "s", name);
        if (r < 0) {
                log_debug("No os-release for %s: %s", name, error.message);
                return NULL;
        }
        o = json_object_new_object();
        if (!o || sd_bus_message_enter_container(reply, 'a', "{ss}") < 0)
                return NULL;
        while (sd_bus_message_read(reply, "{ss}", &k, &v) > 0)
                json_object_object_add(o, k, json_object_new_string(v));
        return TAKE_PTR(o);
}

/* GetMachineAddresses as text; empty when the machine has no network of its own. */
static char **get_addresses(Ctl *ctl, const char *name) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = ctl_call(ctl, "GetMachineAddresses", &error, &reply, "s", name);
        if (r < 0 || sd_bus_message_enter_container(reply, 'a', "(iay)") < 0)
                return NULL;
        while (sd_bus_message_enter_container(reply, 'r', "iay") > 0) {
                char buf[INET6_ADDRSTRLEN];
                const void *p;
                size_t n;
                int family;

                if (sd_bus_message_read(reply, "i", &family) < 0 ||
                    sd_bus_message_read_array(reply, 'y', &p, &n) < 0 ||
                    sd_bus_message_exit_container(reply) < 0)
                        break;
                if ((family == AF_INET && n == 4) || (family == AF_INET6 && n == 16))
                        if (inet_ntop(family, p, buf, sizeof(buf)) && strv_extend(&l, buf) < 0)
                                return NULL;
        }
        return TAKE_PTR(l);
}

enum { COL_MACHINE, COL_CLASS, COL_SERVICE, COL_OS, COL_VERSION, COL_ADDRESSES, COL_STATE, COL_UPTIME };

/* ListMachinesEx's flags (src/daemon/machine-cache.h): what berthd could not answer from its
 * cache, so that the per-machine call still has to. */
#define LIST_MACHINES_FRESH 1ULL
#define MACHINE_INFO_OS_PENDING (1U << 0)
#define MACHINE_INFO_ADDRESSES_PENDING (1U << 1)
#define MACHINE_INFO_HAS_OS (1U << 4)
#define MACHINE_INFO_HAS_VERSION (1U << 5)

/* One row; the same for both ways of getting there, so both print the same. */
static int list_set_row(Ctl *ctl, struct libscols_table *t, const char *name, const char *class,
                        const char *service, const char *state, uint64_t ts, struct json_object *os,
                        char **addresses) {
        struct libscols_line *line;
        uint64_t now = now_usec(CLOCK_REALTIME);
        char uptime[64] = "";

        if (streq_ptr(state, "closing") && !ctl->all)
                return 0;
        if (ts > 0 && now >= ts) {
                if (ctl->output == OUTPUT_TABLE)
                        format_span(uptime, sizeof(uptime), (now - ts) / 1000000);
                else
                        (void) snprintf(uptime, sizeof(uptime), "%" PRIu64, (now - ts) / 1000000);
        }
        line = scols_table_new_line(t, NULL);
        if (!line)
                return -ENOMEM;
        if (ctl_table_set(ctl, line, COL_MACHINE, name) < 0 ||
            ctl_table_set(ctl, line, COL_CLASS, class) < 0 ||
            ctl_table_set(ctl, line, COL_SERVICE, service) < 0 ||
            ctl_table_set(ctl, line, COL_OS, os ? (ctl_jstr(os, "ID") ?: ctl_jstr(os, "NAME")) : NULL) < 0 ||
            ctl_table_set(ctl, line, COL_VERSION, os ? (ctl_jstr(os, "VERSION_ID") ?: ctl_jstr(os, "VERSION")) : NULL) < 0 ||
            ctl_table_set_strv(ctl, line, COL_ADDRESSES, addresses) < 0 ||
            ctl_table_set(ctl, line, COL_STATE, state) < 0 ||
            ctl_table_set(ctl, line, COL_UPTIME, isempty(uptime) ? NULL : uptime) < 0)
                return -ENOMEM;
        return 0;
}

/* A berthd without ListMachinesEx: the properties, os-release and addresses of each machine,
 * three calls per machine. */
static int list_add_row(Ctl *ctl, struct libscols_table *t, const char *name, const char *class,
                        const char *service, const char *path) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_json_ struct json_object *props = NULL, *os = NULL;
        _cleanup_strv_free_ char **addresses = NULL;
        const char *state = NULL;
        uint64_t ts = 0;
        int r;

        /* Best effort: a machine that left between ListMachines and now is just skipped. */
        r = ctl_get_all(ctl, path, BERTH_MACHINE_IFACE, &error, &props);
        if (r < 0 && sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_OBJECT))
                return 0;
        if (props) {
                state = ctl_jstr(props, "State");
                ts = ctl_juint(props, "Timestamp");
        }
        if (streq_ptr(state, "closing") && !ctl->all)
                return 0;
        os = get_os_release(ctl, name);
        addresses = get_addresses(ctl, name);
        return list_set_row(ctl, t, name, class, service, state, ts, os, addresses);
}

static int list_per_machine(Ctl *ctl, struct libscols_table *t) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *name, *class, *service, *path;
        int r;

        r = ctl_call(ctl, "ListMachines", &error, &reply, NULL);
        if (r < 0)
                return ctl_log_bus_error(&error, r, "list machines");
        r = sd_bus_message_enter_container(reply, 'a', "(ssso)");
        if (r < 0)
                return ctl_log_bus_error(NULL, r, "read ListMachines' answer");
        while ((r = sd_bus_message_read(reply, "(ssso)", &name, &class, &service, &path)) > 0) {
                r = list_add_row(ctl, t, name, class, service, path);
                if (r < 0)
                        return log_error_errno(r, "Failed to list machine %s: %m", name);
        }
        if (r < 0)
                return ctl_log_bus_error(NULL, r, "read ListMachines' answer");
        return 0;
}

/* The addresses part (a(iay)) as text, as get_addresses() makes it. */
static int read_addresses(sd_bus_message *reply, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "(iay)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(reply, 'r', "iay")) > 0) {
                char buf[INET6_ADDRSTRLEN];
                const void *p;
                size_t n;
                int family;

                r = sd_bus_message_read(reply, "i", &family);
                if (r >= 0)
                        r = sd_bus_message_read_array(reply, 'y', &p, &n);
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
                if ((family == AF_INET && n == 4) || (family == AF_INET6 && n == 16))
                        if (inet_ntop(family, p, buf, sizeof(buf)) && strv_extend(&l, buf) < 0)
                                return -ENOMEM;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(reply);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

static int list_ex_entry(Ctl *ctl, struct libscols_table *t, sd_bus_message *reply) {
        _cleanup_json_ struct json_object *os = NULL;
        _cleanup_strv_free_ char **addresses = NULL;
        const char *name, *class, *service, *state, *unit, *root, *os_id, *version, *pretty;
        uint32_t leader, flags;
        bool skip;
        uint64_t ts;
        int r;

        r = sd_bus_message_enter_container(reply, 'r', "ssssssutsssa(iay)u");
        if (r <= 0)
                return r;
        r = sd_bus_message_read(reply, "ssssssutsss", &name, &class, &service, &state, &unit, &root,
                                &leader, &ts, &os_id, &version, &pretty);
        if (r >= 0)
                r = read_addresses(reply, &addresses);
        if (r >= 0)
                r = sd_bus_message_read(reply, "u", &flags);
        if (r >= 0)
                r = sd_bus_message_exit_container(reply);
        if (r < 0)
                return r;
        skip = streq(state, "closing") && !ctl->all;
        /* What berthd had not read yet (a machine that just came up) comes the old way. */
        if (flags & MACHINE_INFO_OS_PENDING)
                os = skip ? NULL : get_os_release(ctl, name);
        else {
                /* As GetMachineOSRelease's keys, so that the row is built the same way. */
                os = json_object_new_object();
                if (!os)
                        return -ENOMEM;
                if (flags & MACHINE_INFO_HAS_OS)
                        json_object_object_add(os, "ID", json_object_new_string(os_id));
                if (flags & MACHINE_INFO_HAS_VERSION)
                        json_object_object_add(os, "VERSION_ID", json_object_new_string(version));
        }
        if (flags & MACHINE_INFO_ADDRESSES_PENDING) {
                addresses = strv_free(addresses);
                if (!skip)
                        addresses = get_addresses(ctl, name);
        }
        r = list_set_row(ctl, t, name, class, service, state, ts, os, addresses);
        return r < 0 ? r : 1;
}

/* One call for every column: berthd answers from its cache. Sets *UNKNOWN when this berthd does
 * not know ListMachinesEx (older than berth's issue 7), so that the caller asks the old way.
 * Returns 0, or an exit code (logged). */
static int list_ex(Ctl *ctl, struct libscols_table *t, bool *unknown) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        /* Fresh: addresses no older than berthd's few seconds (it waits for a read of the stale
         * ones, never long), as the per-machine calls were. */
        r = ctl_call(ctl, "ListMachinesEx", &error, &reply, "t", LIST_MACHINES_FRESH);
        *unknown = r < 0 && sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_METHOD);
        if (*unknown)
                return 0;
        if (r < 0)
                return ctl_log_bus_error(&error, r, "list machines");
        r = sd_bus_message_enter_container(reply, 'a', "(ssssssutsssa(iay)u)");
        while (r >= 0 && (r = list_ex_entry(ctl, t, reply)) > 0)
                ;
        if (r < 0)
                return ctl_log_bus_error(NULL, r, "read ListMachinesEx' answer");
        return 0;
}

int verb_list(int argc, char **argv, Ctl *ctl) {
        _cleanup_table_ struct libscols_table *t = NULL;
        bool unknown;
        int r;

        t = ctl_table_new(ctl, "machines");
        if (!t)
                return log_oom();
        if (ctl_table_add_column(t, "MACHINE", SCOLS_JSON_STRING, 0) < 0 ||
            ctl_table_add_column(t, "CLASS", SCOLS_JSON_STRING, 0) < 0 ||
            ctl_table_add_column(t, "SERVICE", SCOLS_JSON_STRING, 0) < 0 ||
            ctl_table_add_column(t, "OS", SCOLS_JSON_STRING, SCOLS_FL_TRUNC) < 0 ||
            ctl_table_add_column(t, "VERSION", SCOLS_JSON_STRING, SCOLS_FL_TRUNC) < 0 ||
            ctl_table_add_column(t, "ADDRESSES", SCOLS_JSON_ARRAY_STRING, SCOLS_FL_TRUNC) < 0 ||
            ctl_table_add_column(t, "STATE", SCOLS_JSON_STRING, 0) < 0 ||
            ctl_table_add_column(t, "UPTIME", SCOLS_JSON_NUMBER, 0) < 0)
                return log_oom();

        /* $BERTHCTL_LIST_PER_MACHINE: the old way on purpose (tests compare the two). */
        unknown = getenv("BERTHCTL_LIST_PER_MACHINE");
        r = unknown ? 0 : list_ex(ctl, t, &unknown);
        if (r == 0 && unknown)
                r = list_per_machine(ctl, t);
        if (r != 0)
                return r;
        return ctl_table_print(ctl, t, "machines");
}

/* --- show --- */

/* Writes V as systemctl show would: arrays space-separated, strings escaped. */
static void print_value(struct json_object *v, FILE *f) {
        if (!v)
                return;
        if (json_object_is_type(v, json_type_array)) {
                for (size_t i = 0; i < json_object_array_length(v); i++) {
                        if (i > 0)
                                fputc(' ', f);
                        print_value(json_object_array_get_idx(v, i), f);
                }
        } else if (json_object_is_type(v, json_type_string))
                ctl_fputs_escaped(json_object_get_string(v), f);
        else if (json_object_is_type(v, json_type_boolean))
                fputs(json_object_get_boolean(v) ? "yes" : "no", f);
        else
                fputs(json_object_to_json_string(v), f);
}

static bool value_empty(struct json_object *v) {
        return !v || (json_object_is_type(v, json_type_string) && isempty(json_object_get_string(v))) ||
               (json_object_is_type(v, json_type_array) && json_object_array_length(v) == 0);
}

/* The properties to output: those of -p, or all (empty ones only with -a). */
static bool wanted(const Ctl *ctl, const char *name, struct json_object *v) {
        if (ctl->properties)
                return strv_contains(ctl->properties, name);
        return ctl->all || !value_empty(v);
}

static void print_properties(const Ctl *ctl, struct json_object *props) {
        json_object_object_foreach(props, key, v) {
                if (!wanted(ctl, key, v))
                        continue;
                if (!ctl->value)
                        printf("%s=", key);
                print_value(v, stdout);
                fputc('\n', stdout);
        }
}

/* Only the wanted properties, for JSON. */
static struct json_object *filter_properties(const Ctl *ctl, struct json_object *props) {
        struct json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_object_object_foreach(props, key, v)
                if (wanted(ctl, key, v))
                        json_object_object_add(o, key, json_object_get(v));
        return o;
}

int verb_show(int argc, char **argv, Ctl *ctl) {
        _cleanup_json_ struct json_object *array = json_object_new_array();
        int ret = 0;

        if (!array)
                return log_oom();
        if (argc <= 1) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_json_ struct json_object *props = NULL, *out = NULL;
                int r;

                r = ctl_get_all(ctl, BERTH_BUS_PATH, BERTH_MANAGER_IFACE, &error, &props);
                if (r < 0)
                        return ctl_log_bus_error(&error, r, "get the manager's properties");
                if (ctl->output != OUTPUT_TABLE) {
                        out = filter_properties(ctl, props);
                        return out ? ctl_json_print(ctl, out) : log_oom();
                }
                ctl_pager_open(ctl);
                print_properties(ctl, props);
                return 0;
        }

        for (int i = 1; i < argc; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_json_ struct json_object *props = NULL;
                _cleanup_free_ char *path = NULL;
                int r;

                r = ctl_machine_path(ctl, argv[i], &path);
                if (r != 0) {
                        ret = ret ?: r;
                        continue;
                }
                r = ctl_get_all(ctl, path, BERTH_MACHINE_IFACE, &error, &props);
                if (r < 0) {
                        ret = ret ?: ctl_log_bus_error(&error, r, "get the properties of %s", argv[i]);
                        continue;
                }
                if (ctl->output != OUTPUT_TABLE) {
                        json_object_array_add(array, filter_properties(ctl, props));
                        continue;
                }
                ctl_pager_open(ctl);
                if (i > 1 && !ctl->value)
                        fputc('\n', stdout);
                print_properties(ctl, props);
        }
        if (ctl->output != OUTPUT_TABLE) {
                int r = ctl_json_print(ctl, array);
                if (r < 0)
                        return r;
        }
        return ret;
}

/* --- status --- */

/* The machine's cgroup: the leader's, or the ancestor of it named after the machine's unit (a
 * delegated scope whose init moved itself into a child group). NULL when not readable here. */
static char *machine_cgroup(const Ctl *ctl, uint32_t leader, const char *unit) {
        _cleanup_free_ char *line = NULL;
        char fn[64];
        size_t size = 0;
        FILE *f;
        char *cg = NULL;

        if (ctl->host || leader == 0)
                return NULL;
        (void) snprintf(fn, sizeof(fn), "/proc/%" PRIu32 "/cgroup", leader);
        f = fopen(fn, "re");
        if (!f)
                return NULL;
        while (getline(&line, &size, f) > 0)
                if (startswith(line, "0::")) {
                        line[strcspn(line, "\n")] = 0;
                        cg = strdup(line + 3);
                        break;
                }
        fclose(f);
        if (!cg || isempty(unit))
                return cg;
        for (char *e = strrchr(cg, '/'); e; e = strrchr(cg, '/')) {
                if (streq(e + 1, unit))
                        return cg;
                if (e == cg)
                        break;
                *e = 0;
        }
        /* No ancestor is the unit: the leader's own group is the best we know. */
        free(cg);
        return machine_cgroup(&(Ctl) { .host = NULL }, leader, NULL);
}

static char *process_command(pid_t pid) {
        char fn[64], buf[4096];
        ssize_t n;
        int fd;

        (void) snprintf(fn, sizeof(fn), "/proc/%d/cmdline", (int) pid);
        fd = open(fn, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        n = read(fd, buf, sizeof(buf) - 1);
        safe_close(fd);
        if (n <= 0) {
                (void) snprintf(fn, sizeof(fn), "/proc/%d/comm", (int) pid);
                fd = open(fn, O_RDONLY | O_CLOEXEC);
                n = fd >= 0 ? read(fd, buf + 1, sizeof(buf) - 3) : -1;
                safe_close(fd);
                if (n <= 0)
                        return NULL;
                buf[0] = '[';
                buf[n] = ']'; /* replaces comm's newline */
                buf[n + 1] = 0;
                return strdup(buf);
        }
        for (ssize_t i = 0; i < n; i++)
                if (buf[i] == 0)
                        buf[i] = ' ';
        while (n > 0 && buf[n - 1] == ' ')
                n--;
        buf[n] = 0;
        return strdup(buf);
}

static int cmp_int(const void *a, const void *b) {
        return *(const int *) a - *(const int *) b;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The processes of cgroup directory DIR_FD and its children, drawn as a tree with PREFIX, or
 * appended to PROCS ({"pid", "cgroup", "command"}) for JSON. */
static void cgroup_tree(const Ctl *ctl, int dir_fd, const char *cgpath, const char *prefix,
                        struct json_object *procs) {
        _cleanup_strv_free_ char **subs = NULL;
        _cleanup_free_ int *pids = NULL;
        size_t npids = 0, nsubs;
        char line[32];
        FILE *f;
        DIR *d;
        int fd;

        fd = openat(dir_fd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
        f = fd >= 0 ? fdopen(fd, "re") : NULL;
        if (!f)
                safe_close(fd);
        while (f && fgets(line, sizeof(line), f)) {
                int *p = realloc(pids, (npids + 1) * sizeof(int));
                if (!p)
                        break;
                pids = p;
                pids[npids++] = atoi(line);
        }
        if (f)
                fclose(f);
        qsort(pids, npids, sizeof(int), cmp_int);

        fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d)
                safe_close(fd);
        for (struct dirent *de; d && (de = readdir(d));)
                if (de->d_type == DT_DIR && de->d_name[0] != '.')
                        (void) strv_extend(&subs, de->d_name);
        if (d)
                closedir(d);
        nsubs = strv_length(subs);
        if (nsubs > 0)
                qsort(subs, nsubs, sizeof(char *), cmp_str);

        for (size_t i = 0; i < npids; i++) {
                _cleanup_free_ char *cmd = process_command(pids[i]);
                bool last = i == npids - 1 && nsubs == 0;

                if (procs) {
                        struct json_object *p = json_object_new_object();
                        json_object_object_add(p, "pid", json_object_new_int(pids[i]));
                        json_object_object_add(p, "cgroup", json_object_new_string(cgpath));
                        json_object_object_add(p, "command", json_object_new_string(strempty(cmd)));
                        json_object_array_add(procs, p);
                        continue;
                }
                printf("%s%s%d ", prefix, last ? "└─" : "├─", pids[i]);
                ctl_fputs_escaped(cmd ?: "?", stdout);
                fputc('\n', stdout);
        }
        for (size_t i = 0; i < nsubs; i++) {
                _cleanup_free_ char *sub_prefix = NULL, *sub_path = NULL;
                _cleanup_close_ int sub_fd = openat(dir_fd, subs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                bool last = i == nsubs - 1;

                if (sub_fd < 0 || asprintf(&sub_prefix, "%s%s", prefix, last ? "  " : "│ ") < 0 ||
                    asprintf(&sub_path, "%s/%s", cgpath, subs[i]) < 0)
                        continue;
                if (!procs) {
                        printf("%s%s", prefix, last ? "└─" : "├─");
                        ctl_fputs_escaped(subs[i], stdout);
                        fputc('\n', stdout);
                }
                cgroup_tree(ctl, sub_fd, sub_path, sub_prefix, procs);
        }
}

/* Opens the cgroup2 directory of CG ("/machine.slice/..."). */
static int open_cgroup(const char *cg) {
        _cleanup_free_ char *p = NULL;
        const char *root;

        if (cgroup2_mount_point(&root) < 0)
                return -ENOENT;
        if (asprintf(&p, "%s%s", root, cg) < 0)
                return -ENOMEM;
        return RET_NERRNO(open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

/* The last ctl->lines journal lines of UNIT, if there is a journal; silent when none. */
static void print_journal(const Ctl *ctl, const char *unit) {
        _cleanup_(sd_journal_closep) sd_journal *j = NULL;
        _cleanup_free_ char *m1 = NULL, *m2 = NULL;
        unsigned n = 0;

        if (ctl->host || ctl->lines == 0 || isempty(unit))
                return;
        if (sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY) < 0)
                return;
        if (asprintf(&m1, "_SYSTEMD_UNIT=%s", unit) < 0 || asprintf(&m2, "UNIT=%s", unit) < 0)
                return;
        if (sd_journal_add_match(j, m1, 0) < 0 || sd_journal_add_disjunction(j) < 0 ||
            sd_journal_add_match(j, m2, 0) < 0 || sd_journal_seek_tail(j) < 0)
                return;
        while (n < ctl->lines && sd_journal_previous(j) > 0)
                n++;
        if (n == 0)
                return;
        fputc('\n', stdout);
        for (unsigned i = 0; i < n && sd_journal_next(j) > 0; i++) {
                const void *data;
                size_t len;
                uint64_t usec;
                char when[64] = "";
                time_t t;
                struct tm tm;
                _cleanup_free_ char *msg = NULL;

                if (sd_journal_get_realtime_usec(j, &usec) >= 0) {
                        t = (time_t) (usec / 1000000);
                        if (localtime_r(&t, &tm))
                                (void) strftime(when, sizeof(when), "%b %d %H:%M:%S", &tm);
                }
                if (sd_journal_get_data(j, "MESSAGE", &data, &len) < 0 || len < 8)
                        continue;
                msg = strndup((const char *) data + 8, len - 8);
                printf("%s ", when);
                ctl_fputs_escaped(msg, stdout);
                fputc('\n', stdout);
        }
}

static void print_field(const char *label, const char *value) {
        if (isempty(value))
                return;
        printf("%12s: ", label);
        ctl_fputs_escaped(value, stdout);
        fputc('\n', stdout);
}

static void print_status_text(const Ctl *ctl, const char *name, struct json_object *props,
                              struct json_object *os, char **addresses, const char *cg,
                              const CtlBootOrder *boot) {
        uint64_t ts = ctl_juint(props, "Timestamp"), now = now_usec(CLOCK_REALTIME);
        uint64_t uid_shift = ctl_juint(props, "UIDShift");
        uint32_t leader = (uint32_t) ctl_juint(props, "Leader");
        _cleanup_free_ char *leader_cmd = leader ? process_command(leader) : NULL;
        char *leader_name = leader_cmd ? leader_cmd : NULL;
        char buf[256];

        ctl_fputs_escaped(name, stdout);
        fputc('\n', stdout);
        if (ts > 0) {
                time_t t = (time_t) (ts / 1000000);
                struct tm tm;
                char when[64] = "", span[64] = "";

                if (localtime_r(&t, &tm))
                        (void) strftime(when, sizeof(when), "%a %Y-%m-%d %H:%M:%S %Z", &tm);
                format_span(span, sizeof(span), now > ts ? (now - ts) / 1000000 : 0);
                (void) snprintf(buf, sizeof(buf), "%s; %s ago", when, span);
                print_field("Since", buf);
        }
        print_field("State", ctl_jstr(props, "State"));
        if (leader > 0) {
                /* Its program's name, as machinectl shows; the whole command line is below. */
                if (leader_name) {
                        leader_name[strcspn(leader_name, " ")] = 0;
                        leader_name = strrchr(leader_name, '/') ? strrchr(leader_name, '/') + 1 : leader_name;
                }
                (void) snprintf(buf, sizeof(buf), "%" PRIu32 " (%s)", leader,
                                !isempty(leader_name) ? leader_name : "?");
                print_field("Leader", buf);
        }
        print_field("Service", ctl_jstr(props, "Service"));
        print_field("Class", ctl_jstr(props, "Class"));
        print_field("Root", ctl_jstr(props, "RootDirectory"));
        print_field("Image", ctl_jstr(props, "Image"));
        print_field("Hostname", ctl_jstr(props, "Hostname"));
        if (uid_shift != UINT32_MAX) {
                (void) snprintf(buf, sizeof(buf), "%" PRIu64, uid_shift);
                print_field("UID Shift", buf);
        }
        STRV_FOREACH(a, addresses)
                print_field(a == addresses ? "Address" : "", *a);
        if (os)
                print_field("OS", ctl_jstr(os, "PRETTY_NAME") ?: ctl_jstr(os, "NAME"));
        print_field("Unit", ctl_jstr(props, "Unit"));
        {
                struct json_object *limits = NULL;

                /* The resource limits in force (ResourceLimits), one "Name=VALUE" a line. */
                if (json_object_object_get_ex(props, "ResourceLimits", &limits) &&
                    json_object_is_type(limits, json_type_array))
                        for (size_t i = 0; i < json_object_array_length(limits); i++)
                                print_field(i == 0 ? "Limits" : "",
                                            json_object_get_string(json_object_array_get_idx(limits, i)));
        }
        {
                _cleanup_free_ char *order = ctl_boot_order_text(boot);

                print_field("Boot order", order);
        }
        if (cg) {
                _cleanup_close_ int fd = open_cgroup(cg);

                print_field("CGroup", cg);
                if (fd >= 0)
                        cgroup_tree(ctl, fd, cg, "              ", NULL);
        }
        print_journal(ctl, ctl_jstr(props, "Unit"));
}

static struct json_object *status_json(const char *name, struct json_object *props,
                                       struct json_object *os, char **addresses, const char *cg,
                                       const CtlBootOrder *boot) {
        struct json_object *o = json_object_new_object(), *a = json_object_new_array();
        static const struct { const char *key, *prop; } map[] = {
                { "class", "Class" }, { "service", "Service" }, { "unit", "Unit" },
                { "leader", "Leader" }, { "root_directory", "RootDirectory" },
                { "image", "Image" }, { "state", "State" }, { "hostname", "Hostname" },
                { "id", "Id" }, { "timestamp", "Timestamp" }, { "uid_shift", "UIDShift" },
                { "network_interfaces", "NetworkInterfaces" },
        };
        struct json_object *v;

        json_object_object_add(o, "name", json_object_new_string(name));
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                json_object_object_add(o, map[i].key,
                                       json_object_object_get_ex(props, map[i].prop, &v) ?
                                       json_object_get(v) : NULL);
        STRV_FOREACH(s, addresses)
                json_object_array_add(a, json_object_new_string(*s));
        json_object_object_add(o, "addresses", a);
        json_object_object_add(o, "os_release", os ? json_object_get(os) : json_object_new_object());
        json_object_object_add(o, "cgroup", cg ? json_object_new_string(cg) : NULL);
        json_object_object_add(o, "boot_order", ctl_boot_order_json(boot));
        return o;
}

int verb_status(int argc, char **argv, Ctl *ctl) {
        _cleanup_json_ struct json_object *array = json_object_new_array();
        int ret = 0;

        if (!array)
                return log_oom();
        for (int i = 1; i < argc; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_json_ struct json_object *props = NULL, *os = NULL;
                _cleanup_strv_free_ char **addresses = NULL;
                _cleanup_free_ char *path = NULL, *cg = NULL;
                _cleanup_(ctl_boot_order_done) CtlBootOrder boot = {};
                int r;

                r = ctl_machine_path(ctl, argv[i], &path);
                if (r != 0) {
                        ret = ret ?: r;
                        continue;
                }
                r = ctl_get_all(ctl, path, BERTH_MACHINE_IFACE, &error, &props);
                if (r < 0) {
                        ret = ret ?: ctl_log_bus_error(&error, r, "get the status of %s", argv[i]);
                        continue;
                }
                os = get_os_release(ctl, argv[i]);
                addresses = get_addresses(ctl, argv[i]);
                cg = machine_cgroup(ctl, (uint32_t) ctl_juint(props, "Leader"), ctl_jstr(props, "Unit"));
                ctl_boot_order_get(ctl, argv[i], &boot);

                if (ctl->output != OUTPUT_TABLE) {
                        struct json_object *o = status_json(argv[i], props, os, addresses, cg, &boot);
                        struct json_object *procs = json_object_new_array();
                        _cleanup_close_ int fd = cg ? open_cgroup(cg) : -EBADF;

                        if (fd >= 0)
                                cgroup_tree(ctl, fd, cg, "", procs);
                        json_object_object_add(o, "processes", procs);
                        json_object_array_add(array, o);
                        continue;
                }
                ctl_pager_open(ctl);
                if (i > 1)
                        fputc('\n', stdout);
                print_status_text(ctl, argv[i], props, os, addresses, cg, &boot);
        }
        if (ctl->output != OUTPUT_TABLE) {
                int r = ctl_json_print(ctl, array);
                if (r < 0)
                        return r;
        }
        fflush(stdout);
        return ret;
}
