/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Machine resource limits: the property table, validation of SetMachineProperties' a(sv),
 * conversions to cgroup values, persistence, the cgroupfs routing on a scratch tree, and the
 * exact SetUnitProperties call systemd gets (a GtDBusQueue plays systemd1). */
#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <libglib-testing/dbus-queue.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "machine-resources.h"
#include "strv.h"

#define DEADLINE_USEC (10 * G_USEC_PER_SEC)

static void test_property_table(void) {
        for (int p = 0; p < _RESOURCE_MAX; p++) {
                const char *s = resource_property_to_string(p);

                g_assert_nonnull(s);
                g_assert_cmpint(resource_property_from_string(s), ==, p);
        }
        g_assert_null(resource_property_to_string(_RESOURCE_MAX));
        g_assert_null(resource_property_to_string(-1));
        g_assert_cmpint(resource_property_from_string("CPUQuota"), ==, _RESOURCE_INVALID);
        g_assert_cmpint(resource_property_from_string(NULL), ==, _RESOURCE_INVALID);
}

static void assert_cpu_max(uint64_t usec, const char *expected) {
        g_autofree char *s = NULL;

        g_assert_cmpint(cpu_max_format(usec, &s), ==, 0);
        g_assert_cmpstr(s, ==, expected);
}

static void test_conversions(void) {
        static const struct {
                const char *in;
                int r;
                uint64_t usec;
        } quotas[] = {
                { "50%", 0, 500000 }, { "20%", 0, 200000 }, { "150%", 0, 1500000 },
                { "12.5%", 0, 125000 }, { "0.25%", 0, 2500 }, { "1%", 0, 10000 },
                { "0%", -ERANGE, 0 }, { "%", -EINVAL, 0 }, { "50", -EINVAL, 0 },
                { "1.234%", -EINVAL, 0 }, { "-5%", -EINVAL, 0 }, { "x%", -EINVAL, 0 },
                { "5.%", -EINVAL, 0 }, { "99999999999%", -ERANGE, 0 },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(quotas); i++) {
                uint64_t v = 0;

                g_test_message("quota %s", quotas[i].in);
                g_assert_cmpint(cpu_quota_parse(quotas[i].in, &v), ==, quotas[i].r);
                if (quotas[i].r == 0)
                        g_assert_cmpuint(v, ==, quotas[i].usec);
        }

        assert_cpu_max(500000, "50000 100000");
        assert_cpu_max(200000, "20000 100000");
        assert_cpu_max(2000000, "200000 100000");
        assert_cpu_max(UINT64_MAX, "max 100000");
        assert_cpu_max(1, "1000 100000"); /* the kernel's minimum */
        g_assert_cmpint(cpu_quota_to_cfs(200000), ==, 20000);
        g_assert_cmpint(cpu_quota_to_cfs(UINT64_MAX), ==, -1);

        g_assert_cmpuint(cpu_weight_to_shares(100), ==, 1024);
        g_assert_cmpuint(cpu_weight_to_shares(200), ==, 2048);
        g_assert_cmpuint(cpu_weight_to_shares(1), ==, 10);
        g_assert_cmpuint(cpu_weight_to_shares(10000), ==, 102400);
        g_assert_cmpuint(io_weight_to_blkio(100), ==, 500);
        g_assert_cmpuint(io_weight_to_blkio(1), ==, 10);
        g_assert_cmpuint(io_weight_to_blkio(10000), ==, 1000);
        g_assert_cmpuint(io_weight_to_bfq(100), ==, 100);
        g_assert_cmpuint(io_weight_to_bfq(1), ==, 1);
        g_assert_cmpuint(io_weight_to_bfq(10000), ==, 1000);
}

static void assert_cpu_set(const char *in, const char *canonical, size_t n, uint8_t first) {
        g_autofree uint8_t *mask = NULL;
        g_autofree char *out = NULL;
        size_t k = 99;

        g_test_message("cpu set '%s'", in);
        g_assert_cmpint(cpu_set_parse(in, &mask, &k), ==, 0);
        g_assert_cmpuint(k, ==, n);
        if (n > 0)
                g_assert_cmphex(mask[0], ==, first);
        g_assert_cmpint(cpu_set_format(mask, k, &out), ==, 0);
        g_assert_cmpstr(out, ==, canonical);
}

static void test_cpu_sets(void) {
        static const char *const bad[] = { "3-1", "a", "1,", ",1", "1-", "-1", "8192", "0-8192", "1 2" };

        assert_cpu_set("0", "0", 1, 0x01);
        assert_cpu_set("0-1", "0-1", 1, 0x03);
        assert_cpu_set("0-3,6", "0-3,6", 1, 0x4f);
        assert_cpu_set("6,0-3", "0-3,6", 1, 0x4f);
        assert_cpu_set("1,2,3,9", "1-3,9", 2, 0x0e);
        assert_cpu_set("0-1\n", "0-1", 1, 0x03); /* as read from cpuset.cpus */
        assert_cpu_set("", "", 0, 0);
        assert_cpu_set("8191", "8191", 1024, 0);
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autofree uint8_t *mask = NULL;
                size_t n = 0;

                g_test_message("bad cpu set '%s'", bad[i]);
                g_assert_cmpint(cpu_set_parse(bad[i], &mask, &n), <, 0);
        }
}

static void test_serialize(void) {
        _cleanup_(resource_limits_done) ResourceLimits a = {}, b = {}, c = {};
        g_autofree char *text = NULL, *text2 = NULL;

        g_assert_cmpint(resource_limits_parse(&a, RESOURCE_MEMORY_MAX, "64M"), ==, 0);
        g_assert_cmpint(resource_limits_parse(&a, RESOURCE_MEMORY_HIGH, "infinity"), ==, 0);
        g_assert_cmpint(resource_limits_parse(&a, RESOURCE_CPU_QUOTA, "20%"), ==, 0);
        g_assert_cmpint(resource_limits_parse(&a, RESOURCE_ALLOWED_CPUS, "0-1,5"), ==, 0);
        g_assert_cmpint(resource_limits_parse(&a, RESOURCE_TASKS_MAX, "20"), ==, 0);
        g_assert_cmpint(resource_limits_parse(&a, RESOURCE_IO_WEIGHT, "0"), ==, -ERANGE);
        g_assert_cmpint(resource_limits_parse(&a, RESOURCE_MEMORY_MAX, "16E"), ==, -ERANGE);
        g_assert_cmpint(resource_limits_serialize(&a, &text), ==, 0);
        g_assert_cmpstr(text, ==,
                        "MemoryMax=67108864\nMemoryHigh=infinity\nCPUQuotaPerSecUSec=200000\n"
                        "AllowedCPUs=0-1,5\nTasksMax=20\n");

        g_assert_cmpint(resource_limits_deserialize("# x\nTasksMax=7\nFuture=1\nCPUWeight=300\n", &b), ==, 0);
        g_assert_cmpuint(b.set, ==, (1u << RESOURCE_TASKS_MAX) | (1u << RESOURCE_CPU_WEIGHT));
        /* Later values win, the others stay. */
        g_assert_cmpint(resource_limits_merge(&a, &b), ==, 0);
        g_assert_cmpint(resource_limits_serialize(&a, &text2), ==, 0);
        g_assert_cmpstr(text2, ==,
                        "MemoryMax=67108864\nMemoryHigh=infinity\nCPUQuotaPerSecUSec=200000\n"
                        "CPUWeight=300\nAllowedCPUs=0-1,5\nTasksMax=7\n");
        g_assert_cmpint(resource_limits_deserialize(text2, &c), ==, 0);
        g_assert_cmpuint(c.set, ==, a.set);
        g_assert_cmpmem(c.value, sizeof c.value, a.value, sizeof a.value);
        g_assert_cmpmem(c.cpus, c.n_cpus, a.cpus, a.n_cpus);
        g_assert_cmpint(resource_limits_deserialize("TasksMax=0\n", &c), <, 0);
}

static void test_persistence(void) {
        _cleanup_(resource_limits_done) ResourceLimits a = {}, b = {}, none = {};
        g_autofree char *dir = g_dir_make_tmp("berth-res-XXXXXX", NULL), *sub = NULL, *f = NULL;

        g_assert_nonnull(dir);
        sub = g_build_filename(dir, "state", "properties", NULL);
        f = g_build_filename(sub, "m1", NULL);
        g_assert_cmpint(resource_limits_parse(&a, RESOURCE_TASKS_MAX, "30"), ==, 0);
        g_assert_cmpint(resources_save(sub, "m1", &a), ==, 0);
        g_assert_cmpint(resources_load(sub, "m1", &b), ==, 0);
        g_assert_cmpuint(b.set, ==, 1u << RESOURCE_TASKS_MAX);
        g_assert_cmpuint(b.value[RESOURCE_TASKS_MAX], ==, 30);
        g_assert_cmpint(resources_load(sub, "m2", &none), ==, 0);
        g_assert_cmpuint(none.set, ==, 0);
        /* An empty set removes the file. */
        g_assert_cmpint(resources_save(sub, "m1", &none), ==, 0);
        g_assert_false(g_file_test(f, G_FILE_TEST_EXISTS));

        g_assert_true(resources_v1_dir_is_valid("/sys/fs/cgroup/memory/a/machine.slice/machine-m1.scope", "m1"));
        g_assert_true(resources_v1_dir_is_valid("/sys/fs/cgroup/cpu/machine.slice/machine-m1.scope", "m1"));
        g_assert_false(resources_v1_dir_is_valid("/sys/fs/cgroup/cpu/machine.slice/machine-m2.scope", "m1"));
        g_assert_false(resources_v1_dir_is_valid("/sys/fs/cgroup/../etc/machine.slice/machine-m1.scope", "m1"));
        g_assert_false(resources_v1_dir_is_valid("/tmp/machine.slice/machine-m1.scope", "m1"));
        g_assert_false(resources_v1_dir_is_valid("/sys/fs/cgroup/memory", "m1"));

        g_assert_cmpint(rmdir(sub), ==, 0);
        *strrchr(sub, '/') = 0;
        g_assert_cmpint(rmdir(sub), ==, 0);
        g_assert_cmpint(rmdir(dir), ==, 0);
}

/* ---- a private bus: messages to validate, and systemd played by GtDBusQueue ------------- */

typedef struct {
        GtDBusQueue *queue;
        GDBusNodeInfo *info;
        GMainContext *server_context;
        sd_event *event;
        sd_bus *bus;
} Fixture;

static const char systemd_xml[] =
        "<node><interface name='org.freedesktop.systemd1.Manager'>"
        "<method name='SetUnitProperties'>"
        "<arg type='s' name='name' direction='in'/>"
        "<arg type='b' name='runtime' direction='in'/>"
        "<arg type='a(sv)' name='properties' direction='in'/>"
        "</method></interface></node>";

static void grab_server_context(GtDBusQueue *queue, gpointer userdata) {
        Fixture *f = userdata;

        g_atomic_pointer_set(&f->server_context, g_main_context_ref_thread_default());
}

static void wait_for_name(GDBusConnection *c, const char *name) {
        gint64 end = g_get_monotonic_time() + DEADLINE_USEC;

        for (;;) {
                g_autoptr(GVariant) v = NULL;
                gboolean has = FALSE;

                v = g_dbus_connection_call_sync(c, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                                "org.freedesktop.DBus", "NameHasOwner",
                                                g_variant_new("(s)", name), G_VARIANT_TYPE("(b)"),
                                                G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
                g_assert_nonnull(v);
                g_variant_get(v, "(b)", &has);
                if (has)
                        return;
                g_assert_cmpint(g_get_monotonic_time(), <, end);
                g_usleep(1000);
        }
}

static void setup(Fixture *f) {
        g_autoptr(GError) error = NULL;

        *f = (Fixture) {};
        f->info = g_dbus_node_info_new_for_xml(systemd_xml, &error);
        g_assert_no_error(error);
        f->queue = gt_dbus_queue_new();
        g_assert_true(gt_dbus_queue_connect(f->queue, &error));
        g_assert_no_error(error);
        gt_dbus_queue_set_server_func(f->queue, grab_server_context, f);
        while (!g_atomic_pointer_get(&f->server_context))
                g_usleep(1000);
        gt_dbus_queue_export_object(f->queue, "/org/freedesktop/systemd1", f->info->interfaces[0], &error);
        g_assert_no_error(error);
        gt_dbus_queue_own_name(f->queue, "org.freedesktop.systemd1");
        wait_for_name(gt_dbus_queue_get_client_connection(f->queue), "org.freedesktop.systemd1");

        g_assert_true(g_setenv("DBUS_SYSTEM_BUS_ADDRESS", g_getenv("DBUS_SESSION_BUS_ADDRESS"), TRUE));
        g_assert_cmpint(sd_event_new(&f->event), >=, 0);
        g_assert_cmpint(sd_bus_open_system(&f->bus), >=, 0);
        g_assert_cmpint(sd_bus_attach_event(f->bus, f->event, SD_EVENT_PRIORITY_NORMAL), >=, 0);
}

static void teardown(Fixture *f) {
        f->bus = sd_bus_flush_close_unref(f->bus);
        f->event = sd_event_unref(f->event);
        gt_dbus_queue_disconnect(f->queue, TRUE);
        g_usleep(10 * 1000);
        while (g_main_context_iteration(f->server_context, FALSE))
                ;
        g_main_context_unref(f->server_context);
        gt_dbus_queue_free(f->queue);
        g_dbus_node_info_unref(f->info);
}

static void pump(Fixture *f) {
        g_assert_cmpint(sd_event_run(f->event, 1000), >=, 0);
        while (g_main_context_iteration(NULL, FALSE))
                ;
}

typedef enum { T_U64, T_STR, T_BYTES, T_I32 } ValueType;

typedef struct {
        const char *name;
        ValueType type;
        uint64_t u;
        const char *s;
        bool ok;
} Case;

/* A sealed message holding just the a(sv) of C, read back like a method call's arguments. */
static sd_bus_message *make_props(Fixture *f, const Case *cases, size_t n) {
        sd_bus_message *m = NULL;

        g_assert_cmpint(sd_bus_message_new_method_call(f->bus, &m, "org.berth.x", "/x", "org.berth.x", "X"), >=, 0);
        g_assert_cmpint(sd_bus_message_open_container(m, 'a', "(sv)"), >=, 0);
        for (size_t i = 0; i < n; i++) {
                const Case *c = &cases[i];
                const uint8_t bytes[] = { 0x03 };

                g_assert_cmpint(sd_bus_message_open_container(m, 'r', "sv"), >=, 0);
                g_assert_cmpint(sd_bus_message_append(m, "s", c->name), >=, 0);
                if (c->type == T_U64)
                        g_assert_cmpint(sd_bus_message_append(m, "v", "t", c->u), >=, 0);
                else if (c->type == T_STR)
                        g_assert_cmpint(sd_bus_message_append(m, "v", "s", c->s), >=, 0);
                else if (c->type == T_I32)
                        g_assert_cmpint(sd_bus_message_append(m, "v", "i", (int32_t) c->u), >=, 0);
                else {
                        g_assert_cmpint(sd_bus_message_open_container(m, 'v', "ay"), >=, 0);
                        g_assert_cmpint(sd_bus_message_append_array(m, 'y', bytes, c->u), >=, 0);
                        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
                }
                g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        }
        g_assert_cmpint(sd_bus_message_close_container(m), >=, 0);
        g_assert_cmpint(sd_bus_message_seal(m, 1, 0), >=, 0);
        g_assert_cmpint(sd_bus_message_rewind(m, true), >=, 0);
        return m;
}

static void test_validation(void) {
        static const Case cases[] = {
                { "MemoryMax", T_U64, 67108864, NULL, true },
                { "MemoryMax", T_U64, UINT64_MAX, NULL, true },
                { "MemoryMax", T_STR, 0, "64M", true },
                { "MemoryMax", T_STR, 0, "infinity", true },
                { "MemoryMax", T_STR, 0, "lots", false },
                { "MemoryMax", T_I32, 5, NULL, false },
                { "MemoryHigh", T_U64, 1 << 20, NULL, true },
                { "TasksMax", T_U64, 20, NULL, true },
                { "TasksMax", T_U64, 0, NULL, false },
                { "CPUQuotaPerSecUSec", T_U64, 200000, NULL, true },
                { "CPUQuotaPerSecUSec", T_U64, 0, NULL, false },
                { "CPUQuotaPerSecUSec", T_STR, 0, "20%", true },
                { "CPUQuota", T_STR, 0, "20%", true },
                { "CPUQuota", T_STR, 0, "200000", false },
                { "CPUQuota", T_U64, 200000, NULL, false },
                { "CPUQuota", T_STR, 0, "0%", false },
                { "CPUWeight", T_U64, 1, NULL, true },
                { "CPUWeight", T_U64, 10000, NULL, true },
                { "CPUWeight", T_U64, 0, NULL, false },
                { "CPUWeight", T_U64, 10001, NULL, false },
                { "IOWeight", T_U64, 500, NULL, true },
                { "IOWeight", T_U64, 0, NULL, false },
                { "IOWeight", T_STR, 0, "20000", false },
                { "AllowedCPUs", T_BYTES, 1, NULL, true },
                { "AllowedCPUs", T_BYTES, 0, NULL, true },
                { "AllowedCPUs", T_STR, 0, "0-1", true },
                { "AllowedCPUs", T_STR, 0, "1-0", false },
                { "AllowedCPUs", T_U64, 3, NULL, false },
                { "Bogus", T_U64, 1, NULL, false },
                { "memorymax", T_U64, 1, NULL, false },
                { "", T_U64, 1, NULL, false },
        };
        Fixture f;

        setup(&f);
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_(resource_limits_done) ResourceLimits l = {};
                sd_bus_message *m = make_props(&f, &cases[i], 1);
                int r;

                g_test_message("case %zu: %s", i, cases[i].name);
                r = resource_limits_from_bus(m, &l, &e);
                if (cases[i].ok) {
                        g_assert_cmpint(r, ==, 0);
                        g_assert_cmpuint(__builtin_popcount(l.set), ==, 1);
                } else {
                        g_assert_cmpint(r, <, 0);
                        g_assert_cmpstr(e.name, ==, SD_BUS_ERROR_INVALID_ARGS);
                        g_assert_cmpuint(l.set, ==, 0);
                }
                sd_bus_message_unref(m);
        }

        /* One bad property spoils the whole call: nothing comes back to be applied. */
        {
                static const Case mixed[] = {
                        { "MemoryMax", T_U64, 1 << 20, NULL, true },
                        { "CPUWeight", T_U64, 0, NULL, false },
                        { "TasksMax", T_U64, 3, NULL, true },
                };
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_(resource_limits_done) ResourceLimits l = {};
                sd_bus_message *m = make_props(&f, mixed, G_N_ELEMENTS(mixed));

                g_assert_cmpint(resource_limits_from_bus(m, &l, &e), <, 0);
                g_assert_cmpstr(e.name, ==, SD_BUS_ERROR_INVALID_ARGS);
                g_assert_cmpuint(l.set, ==, 0);
                sd_bus_message_unref(m);
        }
        teardown(&f);
}

typedef struct {
        bool done;
        int r;
        char *error_name;
} DoneResult;

static void on_done(int r, const sd_bus_error *error, void *userdata) {
        DoneResult *d = userdata;

        d->done = true;
        d->r = r;
        d->error_name = error && error->name ? g_strdup(error->name) : NULL;
}

static GDBusMethodInvocation *pop_systemd(Fixture *f) {
        GDBusMethodInvocation *inv = NULL;
        gint64 end = g_get_monotonic_time() + DEADLINE_USEC;

        /* pop_message() blocks forever and try_pop_message() never pops (aesthetics.md §4). */
        while (gt_dbus_queue_get_n_messages(f->queue) == 0) {
                if (g_get_monotonic_time() > end)
                        g_error("systemd was not called in time");
                pump(f);
        }
        g_assert_true(gt_dbus_queue_pop_message(f->queue, &inv));
        g_assert_cmpstr(g_dbus_method_invocation_get_object_path(inv), ==, "/org/freedesktop/systemd1");
        g_assert_cmpstr(g_dbus_method_invocation_get_interface_name(inv), ==, "org.freedesktop.systemd1.Manager");
        g_assert_cmpstr(g_dbus_method_invocation_get_method_name(inv), ==, "SetUnitProperties");
        return inv;
}

static void wait_done(Fixture *f, DoneResult *d) {
        gint64 end = g_get_monotonic_time() + DEADLINE_USEC;

        while (!d->done) {
                g_assert_cmpint(g_get_monotonic_time(), <, end);
                pump(f);
        }
}

static void test_systemd(void) {
        _cleanup_(resource_limits_done) ResourceLimits l = {};
        GDBusMethodInvocation *inv;
        DoneResult d = {};
        g_autofree char *params = NULL;
        Fixture f;

        setup(&f);
        g_assert_cmpint(resource_limits_parse(&l, RESOURCE_MEMORY_MAX, "64M"), ==, 0);
        g_assert_cmpint(resource_limits_parse(&l, RESOURCE_CPU_QUOTA, "20%"), ==, 0);
        g_assert_cmpint(resource_limits_parse(&l, RESOURCE_ALLOWED_CPUS, "0-1"), ==, 0);
        g_assert_cmpint(resource_limits_parse(&l, RESOURCE_TASKS_MAX, "infinity"), ==, 0);
        g_assert_cmpint(resource_limits_parse(&l, RESOURCE_IO_WEIGHT, "300"), ==, 0);

        /* The exact call, and success once systemd answers (not before). */
        g_assert_cmpint(resources_apply_systemd(f.bus, "machine-m1.scope", false, &l, on_done, &d), ==, 0);
        inv = pop_systemd(&f);
        g_assert_false(d.done);
        params = g_variant_print(g_dbus_method_invocation_get_parameters(inv), TRUE);
        g_assert_cmpstr(params, ==,
                        "('machine-m1.scope', false, [('MemoryMax', <uint64 67108864>), "
                        "('CPUQuotaPerSecUSec', <uint64 200000>), ('AllowedCPUs', <[byte 0x03]>), "
                        "('TasksMax', <uint64 18446744073709551615>), ('IOWeight', <uint64 300>)])");
        g_dbus_method_invocation_return_value(inv, NULL);
        wait_done(&f, &d);
        g_assert_cmpint(d.r, ==, 0);
        g_assert_null(d.error_name);

        /* runtime passes through; systemd's refusal comes back with its name. */
        d = (DoneResult) {};
        g_clear_pointer(&params, g_free);
        g_assert_cmpint(resources_apply_systemd(f.bus, "berth-spawn@m2.service", true, &l, on_done, &d), ==, 0);
        inv = pop_systemd(&f);
        params = g_variant_print(g_dbus_method_invocation_get_parameters(inv), TRUE);
        g_assert_true(g_str_has_prefix(params, "('berth-spawn@m2.service', true, "));
        g_dbus_method_invocation_return_dbus_error(inv, "org.freedesktop.systemd1.NoSuchUnit", "Unit not loaded.");
        wait_done(&f, &d);
        g_assert_cmpint(d.r, <, 0);
        g_assert_cmpstr(d.error_name, ==, "org.freedesktop.systemd1.NoSuchUnit");
        g_free(d.error_name);
        teardown(&f);
}

/* ---- the cgroupfs routing, on a scratch tree standing in for /sys/fs/cgroup ------------- */

static void put(const char *dir, const char *file, const char *content) {
        g_autofree char *p = g_build_filename(dir, file, NULL);

        g_assert_true(g_file_set_contents(p, content, -1, NULL));
}

static char *get(const char *dir, const char *file) {
        g_autofree char *p = g_build_filename(dir, file, NULL);
        char *s = NULL;

        if (!g_file_get_contents(p, &s, NULL, NULL))
                return g_strdup("<missing>");
        return s;
}

#define assert_file(dir, file, expected)                        \
        do {                                                    \
                g_autofree char *_s = get(dir, file);           \
                g_assert_cmpstr(_s, ==, expected);              \
        } while (0)

static void test_cgroupfs(void) {
        _cleanup_(resource_limits_done) ResourceLimits l = {}, io = {};
        _cleanup_strv_free_ char **v1_dirs = NULL;
        g_autofree char *tmp = g_dir_make_tmp("berth-cg-XXXXXX", NULL);
        g_autofree char *v2 = g_build_filename(tmp, "unified", NULL);
        g_autofree char *slice = g_build_filename(v2, "machine.slice", NULL);
        g_autofree char *scope = g_build_filename(slice, "machine-m1.scope", NULL);
        g_autofree char *v1mem = g_build_filename(tmp, "memory", NULL);
        g_autofree char *v1scope = g_build_filename(v1mem, "machine.slice", "machine-m1.scope", NULL);
        g_autofree char *what = NULL, *rm = NULL;
        CgroupfsTarget t = { .v2_root = v2, .v2_path = scope, .v1_root = tmp, .v1_base = "", .machine = "m1" };

        /* cgroup2 has cpu and pids (pids not yet delegated to machine.slice); memory lives in a
         * v1 hierarchy; io is nowhere. */
        g_assert_cmpint(g_mkdir_with_parents(scope, 0755), ==, 0);
        g_assert_cmpint(g_mkdir_with_parents(v1scope, 0755), ==, 0);
        put(v2, "cgroup.controllers", "cpu pids\n");
        put(v2, "cgroup.subtree_control", "cpu pids\n");
        put(slice, "cgroup.subtree_control", "cpu\n");
        put(scope, "cgroup.procs", "");
        put(scope, "cpu.max", "");
        put(scope, "cpu.weight", "");
        put(scope, "pids.max", "");
        put(v1mem, "cgroup.procs", "");
        put(v1scope, "cgroup.procs", "");
        put(v1scope, "memory.limit_in_bytes", "");

        g_assert_cmpint(resource_limits_parse(&l, RESOURCE_MEMORY_MAX, "64M"), ==, 0);
        g_assert_cmpint(resource_limits_parse(&l, RESOURCE_CPU_QUOTA, "20%"), ==, 0);
        g_assert_cmpint(resource_limits_parse(&l, RESOURCE_CPU_WEIGHT, "50"), ==, 0);
        g_assert_cmpint(resource_limits_parse(&l, RESOURCE_TASKS_MAX, "20"), ==, 0);
        g_assert_cmpint(resources_apply_cgroupfs(&t, &l, &v1_dirs, &what), ==, 0);
        assert_file(scope, "cpu.max", "20000 100000");
        assert_file(scope, "cpu.weight", "50");
        assert_file(scope, "pids.max", "20");
        assert_file(slice, "cgroup.subtree_control", "+pids"); /* written over "cpu\n" */
        assert_file(v1scope, "memory.limit_in_bytes", "67108864");
        g_assert_cmpuint(strv_length(v1_dirs), ==, 1);
        g_assert_cmpstr(v1_dirs[0], ==, v1scope);

        /* IOWeight has nowhere to go: refused, and the TasksMax beside it is not written. */
        g_assert_cmpint(resource_limits_parse(&io, RESOURCE_TASKS_MAX, "7"), ==, 0);
        g_assert_cmpint(resource_limits_parse(&io, RESOURCE_IO_WEIGHT, "50"), ==, 0);
        g_assert_cmpint(resources_apply_cgroupfs(&t, &io, &v1_dirs, &what), ==, -EOPNOTSUPP);
        g_assert_cmpstr(what, ==, "IOWeight (no io controller in cgroup2 or cgroup v1)");
        assert_file(scope, "pids.max", "20");

        rm = g_strdup_printf("rm -rf '%s'", tmp);
        g_assert_cmpint(system(rm), ==, 0);
}

/* The lists: IO*BandwidthMax ("PATH BYTES") and DeviceAllow ("PATH [rwm]"), their checks, the
 * replace-by-path and reset rules, and their round trip through the saved form. */
static void test_lists(void) {
        _cleanup_(resource_limits_done) ResourceLimits a = {}, b = {}, c = {};
        g_autofree char *text = NULL, *shown = NULL;
        static const char *const bad_io[] = { "dev/sda 1M", "/dev/sda", "/dev/sda 0", "/dev/sda lots",
                                              "/dev/../etc 1M", "/dev/sda 1M 2M", " /dev/sda 1M" };
        static const char *const bad_dev[] = { "/etc/passwd r", "/dev/fuse rx", "/dev/fuse rr",
                                               "dev/fuse", "/dev/fuse r w", "/dev/a,b r" };
        char acc[4];

        g_assert_cmpint(resource_limits_parse(&a, RESOURCE_IO_READ_BANDWIDTH_MAX, "/dev/sda 1M"), ==, 0);
        g_assert_cmpint(resource_limits_parse(&a, RESOURCE_IO_READ_BANDWIDTH_MAX, "/dev/sdb\t2048"), ==, 0);
        g_assert_cmpint(resource_limits_parse(&a, RESOURCE_IO_READ_BANDWIDTH_MAX, "/dev/sda 4M"), ==, 0);
        g_assert_cmpint(resource_limits_parse(&a, RESOURCE_IO_WRITE_BANDWIDTH_MAX, "/var infinity"), ==, 0);
        g_assert_cmpint(resource_limits_parse(&a, RESOURCE_DEVICE_ALLOW, "/dev/fuse"), ==, 0);
        g_assert_cmpint(resource_limits_parse(&a, RESOURCE_DEVICE_ALLOW, "/dev/kvm wr"), ==, 0);
        g_assert_cmpint(resource_limits_parse(&a, RESOURCE_MEMORY_SWAP_MAX, "1G"), ==, 0);
        g_assert_cmpuint(a.n_io[0], ==, 2);
        g_assert_cmpuint(a.io[0][0].bytes, ==, 4 << 20); /* the same path replaced */
        g_assert_cmpstr(a.devices[0].access, ==, "rwm");
        g_assert_cmpstr(a.devices[1].access, ==, "rw");
        for (size_t i = 0; i < G_N_ELEMENTS(bad_io); i++) {
                g_test_message("bad io limit '%s'", bad_io[i]);
                g_assert_cmpint(resource_limits_parse(&a, RESOURCE_IO_WRITE_BANDWIDTH_MAX, bad_io[i]), <, 0);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(bad_dev); i++) {
                g_test_message("bad device '%s'", bad_dev[i]);
                g_assert_cmpint(resource_limits_parse(&a, RESOURCE_DEVICE_ALLOW, bad_dev[i]), <, 0);
        }
        g_assert_cmpuint(a.n_io[1], ==, 1);
        g_assert_cmpuint(a.n_devices, ==, 2);

        g_assert_cmpint(resource_limits_serialize(&a, &text), ==, 0);
        g_assert_cmpstr(text, ==,
                        "MemorySwapMax=1073741824\n"
                        "IOReadBandwidthMax=/dev/sda 4194304\nIOReadBandwidthMax=/dev/sdb 2048\n"
                        "IOWriteBandwidthMax=/var infinity\n"
                        "DeviceAllow=/dev/fuse rwm\nDeviceAllow=/dev/kvm rw\n");
        g_assert_cmpint(resource_limits_deserialize(text, &b), ==, 0);
        g_assert_cmpuint(b.set, ==, a.set);
        g_assert_cmpuint(b.n_io[0], ==, 2);
        g_assert_cmpuint(b.n_devices, ==, 2);
        g_assert_cmpint(resource_limits_format(&b, RESOURCE_IO_READ_BANDWIDTH_MAX, &shown), ==, 0);
        g_assert_cmpstr(shown, ==, "/dev/sda 4194304, /dev/sdb 2048");

        /* Merging: entries replace by path; an empty list given empties the saved one. */
        g_assert_cmpint(resource_limits_parse_assignment(&c, "IOReadBandwidthMax=/dev/sdb 1K"), ==, 0);
        g_assert_cmpint(resource_limits_parse_assignment(&c, "DeviceAllow="), ==, 0);
        g_assert_cmpint(resource_limits_merge(&b, &c), ==, 0);
        g_assert_cmpuint(b.n_io[0], ==, 2);
        g_assert_cmpuint(b.io[0][1].bytes, ==, 1024);
        g_assert_true(resource_limits_has(&b, RESOURCE_DEVICE_ALLOW));
        g_assert_cmpuint(b.n_devices, ==, 0);

        /* Assignments: systemd's names and CPUQuota; anything else is no property. */
        g_assert_cmpint(resource_limits_parse_assignment(&c, "CPUQuota=50%"), ==, 0);
        g_assert_cmpuint(c.value[RESOURCE_CPU_QUOTA], ==, 500000);
        g_assert_cmpint(resource_limits_parse_assignment(&c, "CPUQuota=500000"), ==, -EINVAL);
        g_assert_cmpint(resource_limits_parse_assignment(&c, "Description=x"), ==, -ENOENT);
        g_assert_cmpint(resource_limits_parse_assignment(&c, "MemoryMax"), ==, -EINVAL);

        g_assert_cmpint(device_access_normalize("mwr", acc), ==, 0);
        g_assert_cmpstr(acc, ==, "rwm");
        g_assert_cmpint(device_access_normalize("", acc), ==, 0);
        g_assert_cmpstr(acc, ==, "rwm");
        g_assert_cmpint(device_access_normalize("q", acc), ==, -EINVAL);
}

/* The new properties on a scratch tree: cgroup2 memory.swap.max and io.max, the v1 devices and
 * throttle files, and a device path that is not there (nothing written). */
static void test_cgroupfs_lists(void) {
        _cleanup_(resource_limits_done) ResourceLimits l = {}, v1 = {}, missing = {};
        _cleanup_strv_free_ char **v1_dirs = NULL;
        g_autofree char *tmp = g_dir_make_tmp("berth-cg-XXXXXX", NULL);
        g_autofree char *v2 = g_build_filename(tmp, "unified", NULL);
        g_autofree char *slice2 = g_build_filename(v2, "machine.slice", NULL);
        g_autofree char *scope = g_build_filename(slice2, "machine-m2.scope", NULL);
        g_autofree char *devroot = g_build_filename(tmp, "root", NULL);
        g_autofree char *devdir = g_build_filename(devroot, "dev", NULL);
        g_autofree char *blk = g_build_filename(devdir, "blk", NULL);
        g_autofree char *chr = g_build_filename(devdir, "chr", NULL);
        g_autofree char *v1dev = g_build_filename(tmp, "devices", NULL);
        g_autofree char *v1blk = g_build_filename(tmp, "blkio", NULL);
        g_autofree char *v1scope = g_build_filename(v1dev, "machine.slice", "machine-m2.scope", NULL);
        g_autofree char *v1bscope = g_build_filename(v1blk, "machine.slice", "machine-m2.scope", NULL);
        g_autofree char *what = NULL, *rm = NULL, *allow = NULL, *wbps = NULL, *s = NULL;
        CgroupfsTarget t = { .v2_root = v2, .v2_path = scope, .v1_root = tmp, .v1_base = "",
                             .machine = "m2", .dev_root = devroot };

        g_assert_cmpint(g_mkdir_with_parents(scope, 0755), ==, 0);
        g_assert_cmpint(g_mkdir_with_parents(devdir, 0755), ==, 0);
        g_assert_cmpint(g_mkdir_with_parents(v1scope, 0755), ==, 0);
        g_assert_cmpint(g_mkdir_with_parents(v1bscope, 0755), ==, 0);
        /* Loop devices have no partitions behind minor 0: 7:0 stays 7:0. */
        g_assert_cmpint(mknod(blk, S_IFBLK | 0600, makedev(7, 0)), ==, 0);
        g_assert_cmpint(mknod(chr, S_IFCHR | 0600, makedev(1, 3)), ==, 0);
        put(v2, "cgroup.controllers", "memory io\n");
        put(v2, "cgroup.subtree_control", "memory io\n");
        put(slice2, "cgroup.subtree_control", "memory io\n");
        put(scope, "cgroup.procs", "");
        put(scope, "memory.swap.max", "max");
        put(scope, "io.max", "");

        g_assert_cmpint(resource_limits_parse(&l, RESOURCE_MEMORY_SWAP_MAX, "32M"), ==, 0);
        g_assert_cmpint(resource_limits_parse(&l, RESOURCE_IO_WRITE_BANDWIDTH_MAX, "/dev/blk 1M"), ==, 0);
        g_assert_cmpint(resources_apply_cgroupfs(&t, &l, &v1_dirs, &what), ==, 0);
        assert_file(scope, "memory.swap.max", "33554432");
        assert_file(scope, "io.max", "7:0 wbps=1048576");

        /* DeviceAllow has no cgroup2 controller: the v1 devices hierarchy; IO limits go to v1
         * when cgroup2 lacks io. */
        put(v2, "cgroup.controllers", "memory\n");
        put(v1dev, "cgroup.procs", "");
        put(v1dev, "devices.allow", "");
        put(v1scope, "cgroup.procs", "");
        put(v1scope, "devices.allow", "");
        put(v1scope, "devices.deny", "");
        put(v1blk, "cgroup.procs", "");
        put(v1blk, "blkio.throttle.write_bps_device", "");
        put(v1bscope, "cgroup.procs", "");
        put(v1bscope, "blkio.throttle.write_bps_device", "");
        g_assert_cmpint(resource_limits_parse(&v1, RESOURCE_DEVICE_ALLOW, "/dev/chr rw"), ==, 0);
        g_assert_cmpint(resource_limits_parse(&v1, RESOURCE_IO_WRITE_BANDWIDTH_MAX, "/dev/blk infinity"), ==, 0);
        g_assert_cmpint(resources_apply_cgroupfs(&t, &v1, &v1_dirs, &what), ==, 0);
        /* A scratch file is not truncated by a write: the last one, the listed device after the
         * built-ins, shows at its start. */
        allow = get(v1scope, "devices.allow");
        g_assert_true(g_str_has_prefix(allow, "c 1:3 rw"));
        assert_file(v1scope, "devices.deny", "a");
        assert_file(v1bscope, "blkio.throttle.write_bps_device", "7:0 0");

        /* A device that is not there: refused by name, and nothing of the call is written. */
        g_assert_cmpint(resource_limits_parse(&missing, RESOURCE_MEMORY_SWAP_MAX, "1M"), ==, 0);
        g_assert_cmpint(resource_limits_parse(&missing, RESOURCE_DEVICE_ALLOW, "/dev/nothere"), ==, 0);
        g_clear_pointer(&what, g_free);
        g_assert_cmpint(resources_apply_cgroupfs(&t, &missing, &v1_dirs, &what), ==, -ENODEV);
        g_assert_cmpstr(what, ==, "/dev/nothere");
        assert_file(scope, "memory.swap.max", "33554432");

        /* Devices as such: a node is its own device; a file stands for the disk it is on. */
        {
                unsigned maj, min;
                char type;

                g_assert_cmpint(resources_device_of(devroot, "/dev/chr", false, &type, &maj, &min), ==, 0);
                g_assert_cmpint(type, ==, 'c');
                g_assert_cmpuint(maj, ==, 1);
                g_assert_cmpuint(min, ==, 3);
                g_assert_cmpint(resources_device_of(devroot, "/dev", false, &type, &maj, &min), ==, -ENODEV);
                g_assert_cmpint(resources_device_of(devroot, "/dev/blk", true, &type, &maj, &min), ==, 0);
                g_assert_cmpuint(maj, ==, 7);
        }

        rm = g_strdup_printf("rm -rf '%s'", tmp);
        g_assert_cmpint(system(rm), ==, 0);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/machine-resources/property-table", test_property_table);
        g_test_add_func("/machine-resources/conversions", test_conversions);
        g_test_add_func("/machine-resources/cpu-sets", test_cpu_sets);
        g_test_add_func("/machine-resources/serialize", test_serialize);
        g_test_add_func("/machine-resources/persistence", test_persistence);
        g_test_add_func("/machine-resources/validation", test_validation);
        g_test_add_func("/machine-resources/systemd", test_systemd);
        g_test_add_func("/machine-resources/cgroupfs", test_cgroupfs);
        g_test_add_func("/machine-resources/lists", test_lists);
        g_test_add_func("/machine-resources/cgroupfs-lists", test_cgroupfs_lists);
        return g_test_run();
}
