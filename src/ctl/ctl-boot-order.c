/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A machine's boot order as the host's systemd has it (berth-order-generator's units), for status. */
#include <stdio.h>
#include <string.h>

#include "boot-order.h"
#include "ctl-boot-order.h"
#include "ctl.h"
#include "log.h"
#include "parse-util.h"
#include "strv.h"

#define SYSTEMD_BUS_NAME "org.freedesktop.systemd1"
#define SYSTEMD_BUS_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER_IFACE "org.freedesktop.systemd1.Manager"
#define SYSTEMD_UNIT_IFACE "org.freedesktop.systemd1.Unit"
#define SYSTEMD_SERVICE_IFACE "org.freedesktop.systemd1.Service"

void ctl_boot_order_done(CtlBootOrder *b) {
        b->after = strv_free(b->after);
}

/* Property PROP (an array of strings) of UNIT's INTERFACE. LoadUnit rather than GetUnit: a unit
 * nothing has loaded yet is simply loaded; anyone may ask. */
static int unit_strv(sd_bus *bus, const char *unit, const char *interface, const char *prop, char ***ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        int r;

        r = sd_bus_call_method(bus, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH, SYSTEMD_MANAGER_IFACE, "LoadUnit",
                               &error, &reply, "s", unit);
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &path);
        if (r >= 0)
                r = sd_bus_get_property_strv(bus, SYSTEMD_BUS_NAME, path, interface, prop, &error, ret);
        if (r < 0)
                log_debug("Cannot read %s of %s: %s", prop, unit, error.message ?: strerror(-r));
        return r;
}

/* The one berth-order-*.service in UNITS: 1 with its order, 0 when there is none. */
static int find_barrier(char **units, int *ret) {
        STRV_FOREACH(u, units)
                if (boot_order_unit_parse(*u, ret) >= 0)
                        return 1;
        return 0;
}

/* The delay the barrier unit of ORDER waits, from its environment. */
static unsigned barrier_delay(sd_bus *bus, int order) {
        _cleanup_free_ char *unit = boot_order_unit_name(order);
        _cleanup_strv_free_ char **env = NULL;
        const char *v;
        unsigned u = 0;

        if (!unit || unit_strv(bus, unit, SYSTEMD_SERVICE_IFACE, "Environment", &env) < 0)
                return 0;
        v = strv_env_get(env, BOOT_ORDER_ENV_DELAY);
        if (!v || parse_small_uint(v, UINT32_MAX, &u) < 0)
                return 0;
        return u;
}

void ctl_boot_order_get(Ctl *ctl, const char *name, CtlBootOrder *ret) {
        _cleanup_strv_free_ char **before = NULL, **after = NULL, **prev_after = NULL;
        _cleanup_free_ char *unit = NULL, *prev_unit = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        CtlBootOrder b = {};
        sd_bus *bus;
        int has = 0;

        *ret = b;
        if (ctl_bus(ctl, &bus) < 0 || asprintf(&unit, "berth-spawn@%s.service", name) < 0)
                return;
        /* Not a call to systemd's name: on a bus without systemd that could try to activate it. */
        if (sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", NULL, &reply, "s", SYSTEMD_BUS_NAME) < 0 ||
            sd_bus_message_read(reply, "b", &has) < 0 || !has)
                return;
        /* The barrier of its own order runs After= it, which systemd shows as our Before=. */
        if (unit_strv(bus, unit, SYSTEMD_UNIT_IFACE, "Before", &before) < 0 ||
            find_barrier(before, &b.order) <= 0)
                return;
        b.set = true;
        b.delay = barrier_delay(bus, b.order);
        if (unit_strv(bus, unit, SYSTEMD_UNIT_IFACE, "After", &after) >= 0 &&
            find_barrier(after, &b.previous) > 0) {
                b.has_previous = true;
                b.previous_delay = barrier_delay(bus, b.previous);
                prev_unit = boot_order_unit_name(b.previous);
                if (prev_unit && unit_strv(bus, prev_unit, SYSTEMD_UNIT_IFACE, "After", &prev_after) >= 0)
                        STRV_FOREACH(u, prev_after) {
                                char *m = boot_order_machine_of_unit(*u);

                                if (m && strv_consume(&b.after, m) < 0)
                                        break;
                        }
        }
        *ret = b;
}

char *ctl_boot_order_text(const CtlBootOrder *b) {
        _cleanup_free_ char *machines = NULL;
        char *s = NULL;
        size_t size = 0;
        FILE *f;

        if (!b->set)
                return NULL;
        f = open_memstream(&machines, &size);
        if (!f)
                return NULL;
        STRV_FOREACH(m, b->after)
                fprintf(f, "%s%s", m == b->after ? "" : ", ", *m);
        if (fclose(f) != 0)
                return NULL;
        f = open_memstream(&s, &size);
        if (!f)
                return NULL;
        fprintf(f, "%d", b->order);
        if (!b->has_previous)
                fputs(" (first)", f);
        else if (b->previous_delay > 0)
                fprintf(f, " (%u s after %s of order %d)", b->previous_delay,
                        isempty(machines) ? "-" : machines, b->previous);
        else
                fprintf(f, " (after %s of order %d)", isempty(machines) ? "-" : machines, b->previous);
        if (b->delay > 0)
                fprintf(f, "; the next order waits %u s", b->delay);
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        return s;
}

struct json_object *ctl_boot_order_json(const CtlBootOrder *b) {
        struct json_object *o, *a;

        if (!b->set)
                return NULL;
        o = json_object_new_object();
        a = json_object_new_array();
        if (!o || !a) {
                json_object_put(o);
                json_object_put(a);
                return NULL;
        }
        STRV_FOREACH(m, b->after)
                json_object_array_add(a, json_object_new_string(*m));
        json_object_object_add(o, "order", json_object_new_int(b->order));
        json_object_object_add(o, "delay", json_object_new_int64(b->delay));
        json_object_object_add(o, "after_order", b->has_previous ? json_object_new_int(b->previous) : NULL);
        json_object_object_add(o, "after_delay",
                               b->has_previous ? json_object_new_int64(b->previous_delay) : NULL);
        json_object_object_add(o, "after", a);
        return o;
}
