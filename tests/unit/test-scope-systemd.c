/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthd's systemd scope backend, driven in-process through the Manager's D-Bus API by a GDBus
 * client, against a mock org.freedesktop.systemd1 (GtDBusQueue) on a private bus.
 *
 * The caller is root, so polkit lets it through without asking: what is tested here is the
 * conversation with systemd, and what berthd's registry and state dir look like after it. */
#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <libglib-testing/dbus-queue.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus-errors.h"
#include "cgroup-util.h"
#include "resolve.h"
#include "log.h"
#include "manager.h"
#include "scope-systemd.h"

#define DEADLINE_USEC (10 * G_USEC_PER_SEC)
#define NAME "t1"
#define UNIT "machine-t1.scope"
#define T1_SHARD "machine-shard16.slice"
#define JOB "/org/freedesktop/systemd1/job/42"

static const char systemd_xml[] =
        "<node><interface name='org.freedesktop.systemd1.Manager'>"
        "<method name='Subscribe'/>"
        "<method name='StartTransientUnit'>"
        "<arg type='s' direction='in'/><arg type='s' direction='in'/>"
        "<arg type='a(sv)' direction='in'/><arg type='a(sa(sv))' direction='in'/>"
        "<arg type='o' direction='out'/></method>"
        "<method name='StopUnit'><arg type='s' direction='in'/><arg type='s' direction='in'/>"
        "<arg type='o' direction='out'/></method>"
        "<method name='KillUnit'><arg type='s' direction='in'/><arg type='s' direction='in'/>"
        "<arg type='i' direction='in'/></method>"
        "<method name='UnrefUnit'><arg type='s' direction='in'/></method>"
        "<method name='FreezeUnit'><arg type='s' direction='in'/></method>"
        "<method name='ThawUnit'><arg type='s' direction='in'/></method>"
        "</interface></node>";

typedef struct {
        GtDBusQueue *queue;
        GDBusNodeInfo *info;
        GMainContext *server_context;
        GDBusConnection *server;   /* the mock's connection, from a popped call */
        char *dir;
        Manager *m;
        pid_t leader;
        unsigned n_new, n_removed;
        guint new_sub, removed_sub;
} Fixture;

typedef struct {
        bool done;
        GVariant *value;
        GError *error;
} CallResult;

static void pump(Fixture *f) {
        g_assert_cmpint(sd_event_run(f->m->event, 1000), >=, 0);
        while (g_main_context_iteration(NULL, FALSE))
                ;
}

static void pump_for(Fixture *f, gint64 usec) {
        gint64 end = g_get_monotonic_time() + usec;

        while (g_get_monotonic_time() < end)
                pump(f);
}

#define wait_until(f, cond)                                                        \
        do {                                                                       \
                gint64 _end = g_get_monotonic_time() + DEADLINE_USEC;              \
                while (!(cond)) {                                                  \
                        if (g_get_monotonic_time() > _end)                         \
                                g_error("Timed out waiting for %s", #cond);        \
                        pump(f);                                                   \
                }                                                                  \
        } while (0)

/* pop_message() blocks forever and try_pop_message() never pops (glib-testing 0.1.1): wait for
 * a queued call with both loops turning, then pop it. The mock cannot match sd-bus senders, so
 * the call is checked by hand. */
static GDBusMethodInvocation *pop_call(Fixture *f, const char *path, const char *method) {
        GDBusMethodInvocation *inv = NULL;
        gint64 end = g_get_monotonic_time() + DEADLINE_USEC;

        while (gt_dbus_queue_get_n_messages(f->queue) == 0) {
                if (g_get_monotonic_time() > end)
                        g_error("systemd was not called (%s) in time", method);
                pump(f);
        }
        g_assert_true(gt_dbus_queue_pop_message(f->queue, &inv));
        g_assert_cmpstr(g_dbus_method_invocation_get_object_path(inv), ==, path);
        g_assert_cmpstr(g_dbus_method_invocation_get_method_name(inv), ==, method);
        f->server = g_dbus_method_invocation_get_connection(inv);
        return inv;
}

static void assert_no_call(Fixture *f) {
        pump_for(f, 200 * 1000);
        g_assert_cmpuint(gt_dbus_queue_get_n_messages(f->queue), ==, 0);
}

static void grab_server_context(GtDBusQueue *queue, gpointer userdata) {
        Fixture *f = userdata;

        g_atomic_pointer_set(&f->server_context, g_main_context_ref_thread_default());
}

static void on_signal(GDBusConnection *c, const char *sender, const char *path, const char *iface,
                      const char *member, GVariant *params, gpointer userdata) {
        Fixture *f = userdata;

        if (g_str_equal(member, "MachineNew"))
                f->n_new++;
        else
                f->n_removed++;
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

static bool setup(Fixture *f) {
        g_autoptr(GDBusMethodInvocation) inv = NULL;
        g_autoptr(GError) error = NULL;
        GDBusConnection *client;

        *f = (Fixture) {};
        if (getuid() != 0) {
                g_test_skip("needs root: polkit lets only root through without asking");
                return false;
        }
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
        client = gt_dbus_queue_get_client_connection(f->queue);
        wait_for_name(client, "org.freedesktop.systemd1");

        f->leader = fork();
        g_assert_cmpint(f->leader, >=, 0);
        if (f->leader == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                pause();
                _exit(0);
        }

        f->dir = g_dir_make_tmp("berthd-scope.XXXXXX", NULL);
        g_assert_nonnull(f->dir);
        g_assert_true(g_setenv("DBUS_SYSTEM_BUS_ADDRESS", g_getenv("DBUS_SESSION_BUS_ADDRESS"), TRUE));
        g_assert_true(g_setenv("BERTH_SCOPE_BACKEND", "systemd", TRUE));
        g_assert_cmpint(manager_new(f->dir, &f->m), ==, 0);
        g_assert_cmpint(f->m->scope_backend, ==, SCOPE_BACKEND_SYSTEMD);
        g_assert_cmpint(manager_load(f->m), ==, 0);
        g_assert_cmpint(manager_connect_bus(f->m), ==, 0);

        /* systemd sends unit signals only to subscribers. */
        inv = pop_call(f, "/org/freedesktop/systemd1", "Subscribe");
        g_dbus_method_invocation_return_value(g_steal_pointer(&inv), NULL);
        wait_for_name(client, "org.berth.machine1");

        f->new_sub = g_dbus_connection_signal_subscribe(client, "org.berth.machine1",
                                                        "org.berth.machine1.Manager", "MachineNew",
                                                        NULL, NULL, 0, on_signal, f, NULL);
        f->removed_sub = g_dbus_connection_signal_subscribe(client, "org.berth.machine1",
                                                            "org.berth.machine1.Manager", "MachineRemoved",
                                                            NULL, NULL, 0, on_signal, f, NULL);
        return true;
}

static void teardown(Fixture *f) {
        GDBusConnection *client = gt_dbus_queue_get_client_connection(f->queue);
        g_autofree char *machines = g_build_filename(f->dir, "machines", NULL);
        g_autoptr(GDir) d = NULL;
        const char *e;

        g_dbus_connection_signal_unsubscribe(client, f->new_sub);
        g_dbus_connection_signal_unsubscribe(client, f->removed_sub);
        f->m = manager_free(f->m);
        kill(f->leader, SIGKILL);
        g_assert_cmpint(waitpid(f->leader, NULL, 0), ==, f->leader);

        d = g_dir_open(machines, 0, NULL);
        while (d && (e = g_dir_read_name(d))) {
                g_autofree char *p = g_build_filename(machines, e, NULL);
                g_unlink(p);
        }
        g_rmdir(machines);
        g_assert_cmpint(g_rmdir(f->dir), ==, 0);
        g_free(f->dir);

        gt_dbus_queue_disconnect(f->queue, TRUE);
        /* As in test-bus-polkit.c: drain what GDBus queued on the mock's context late. */
        g_usleep(10 * 1000);
        while (g_main_context_iteration(f->server_context, FALSE))
                ;
        g_main_context_unref(f->server_context);
        gt_dbus_queue_free(f->queue);
        g_dbus_node_info_unref(f->info);
}

static bool state_file_exists(Fixture *f) {
        g_autofree char *p = g_build_filename(f->dir, "machines", NAME, NULL);

        return g_file_test(p, G_FILE_TEST_EXISTS);
}

static void on_call_done(GObject *source, GAsyncResult *res, gpointer userdata) {
        CallResult *c = userdata;

        c->value = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &c->error);
        c->done = true;
}

static void call_start(Fixture *f, const char *method, GVariant *args, CallResult *c) {
        g_dbus_connection_call(gt_dbus_queue_get_client_connection(f->queue), "org.berth.machine1",
                               "/org/berth/machine1", "org.berth.machine1.Manager", method, args,
                               NULL, G_DBUS_CALL_FLAGS_NONE, 30000, NULL, on_call_done, c);
}

static void call_finish(Fixture *f, CallResult *c, const char *expected_error) {
        wait_until(f, c->done);
        if (expected_error) {
                g_autofree char *name = NULL;

                g_assert_nonnull(c->error);
                name = g_dbus_error_get_remote_error(c->error);
                g_assert_cmpstr(name, ==, expected_error);
                g_clear_error(&c->error);
        } else
                g_assert_no_error(c->error);
}

/* CreateMachine NAME with the caller's scope properties PROPS (GVariant text of an a(sv)). */
static void create_start(Fixture *f, const char *props, CallResult *c) {
        g_autofree char *text = g_strdup_printf("('%s', @ay [], 'svc', 'container', uint32 %i, '', @a(sv) %s)",
                                                NAME, (int) f->leader, props);

        call_start(f, "CreateMachine", g_variant_new_parsed(text), c);
}

static void assert_property(GVariant *props, size_t i, const char *name, const char *type,
                            const char *value_text) {
        g_autoptr(GVariant) v = NULL, inner = NULL;
        g_autofree char *text = NULL;
        const char *n;

        g_variant_get_child(props, i, "(&sv)", &n, &v);
        g_assert_cmpstr(n, ==, name);
        g_assert_cmpstr(g_variant_get_type_string(v), ==, type);
        text = g_variant_print(v, FALSE);
        g_assert_cmpstr(text, ==, value_text);
}

/* Answers StartTransientUnit after checking it, property by property, type by type. */
static void expect_start(Fixture *f, const char *description, bool with_cpu_weight, const char *error) {
        g_autoptr(GDBusMethodInvocation) inv = NULL;
        g_autoptr(GVariant) props = NULL, aux = NULL;
        g_autofree char *pids = g_strdup_printf("[%i]", (int) f->leader);
        const char *name, *mode;

        inv = pop_call(f, "/org/freedesktop/systemd1", "StartTransientUnit");
        g_assert_cmpstr(g_dbus_method_invocation_get_interface_name(inv), ==, "org.freedesktop.systemd1.Manager");
        g_variant_get(g_dbus_method_invocation_get_parameters(inv), "(&s&s@a(sv)@a(sa(sv)))",
                      &name, &mode, &props, &aux);
        g_assert_cmpstr(name, ==, UNIT);
        g_assert_cmpstr(mode, ==, "fail");
        /* No AddRef: systemd would track berthd with a match rule per unit (issue 7). */
        g_assert_cmpuint(g_variant_n_children(props), ==, with_cpu_weight ? 6 : 5);
        /* The shard of "t1" (FNV-1a mod 64), a sub-slice of machine.slice. */
        assert_property(props, 0, "Slice", "s", "'" T1_SHARD "'");
        assert_property(props, 1, "Description", "s", description);
        assert_property(props, 2, "PIDs", "au", pids);
        assert_property(props, 3, "Delegate", "b", "true");
        assert_property(props, 4, "CollectMode", "s", "'inactive-or-failed'");
        if (with_cpu_weight)
                assert_property(props, 5, "CPUWeight", "t", "50");
        g_assert_cmpuint(g_variant_n_children(aux), ==, 0);

        if (error)
                g_dbus_method_invocation_return_dbus_error(g_steal_pointer(&inv), error, "mock says no");
        else
                g_dbus_method_invocation_return_value(g_steal_pointer(&inv), g_variant_new("(o)", JOB));
}

static void emit_job_removed(Fixture *f, const char *result) {
        g_assert_true(g_dbus_connection_emit_signal(f->server, NULL, "/org/freedesktop/systemd1",
                                                    "org.freedesktop.systemd1.Manager", "JobRemoved",
                                                    g_variant_new("(uoss)", 42, JOB, UNIT, result), NULL));
}

static void expect_unit_call(Fixture *f, const char *method, const char *params) {
        g_autoptr(GDBusMethodInvocation) inv = pop_call(f, "/org/freedesktop/systemd1", method);
        g_autofree char *text = g_variant_print(g_dbus_method_invocation_get_parameters(inv), FALSE);

        g_assert_cmpstr(text, ==, params);
        if (g_str_equal(method, "StopUnit"))
                g_dbus_method_invocation_return_value(g_steal_pointer(&inv), g_variant_new("(o)", JOB));
        else
                g_dbus_method_invocation_return_value(g_steal_pointer(&inv), NULL);
}

/* A machine created through the whole job: registered and announced only after JobRemoved. */
static void create_done(Fixture *f) {
        CallResult c = {};
        Machine *machine;

        create_start(f, "[('Description', <'my box'>), ('CPUWeight', <uint64 50>)]", &c);
        expect_start(f, "'my box'", true, NULL);
        /* systemd answered with the job, which has not ended: no reply, nothing registered. */
        pump_for(f, 300 * 1000);
        g_assert_false(c.done);
        g_assert_null(manager_find_machine(f->m, NAME));
        g_assert_cmpuint(f->n_new, ==, 0);

        emit_job_removed(f, "done");
        call_finish(f, &c, NULL);
        g_assert_cmpstr(g_variant_get_type_string(c.value), ==, "(o)");
        g_clear_pointer(&c.value, g_variant_unref);
        machine = manager_find_machine(f->m, NAME);
        g_assert_nonnull(machine);
        g_assert_cmpstr(machine->unit, ==, UNIT);
        g_assert_true(machine->scope_created);
        g_assert_cmpint(machine->state, ==, MACHINE_RUNNING);
        g_assert_true(state_file_exists(f));
        wait_until(f, f->n_new == 1);
}

static void test_job_done(void) {
        g_autofree char *path = NULL;
        CallResult c = {};
        Fixture f;

        if (!setup(&f))
                return;
        create_done(&f);

        call_start(&f, "KillMachine", g_variant_new("(ssi)", NAME, "all", 10), &c);
        expect_unit_call(&f, "KillUnit", "('" UNIT "', 'all', 10)");
        call_finish(&f, &c, NULL);
        g_clear_pointer(&c.value, g_variant_unref);

        c = (CallResult) {};
        call_start(&f, "TerminateMachine", g_variant_new("(s)", NAME), &c);
        expect_unit_call(&f, "StopUnit", "('" UNIT "', 'replace')");
        call_finish(&f, &c, NULL);
        g_clear_pointer(&c.value, g_variant_unref);
        /* Stopping is systemd's job: the machine goes when the unit says so. */
        g_assert_nonnull(manager_find_machine(f.m, NAME));

        g_assert_cmpint(systemd_unit_path(UNIT, &path), >=, 0);
        g_assert_true(g_dbus_connection_emit_signal(
                        f.server, NULL, path, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                        g_variant_new_parsed("('org.freedesktop.systemd1.Unit', {'ActiveState': <'inactive'>}, @as [])"),
                        NULL));
        wait_until(&f, !manager_find_machine(f.m, NAME));
        g_assert_false(state_file_exists(&f));
        wait_until(&f, f.n_removed == 1);
        teardown(&f);
}

/* The machine leaves when systemd unloads its unit, too. */
static void test_unit_removed(void) {
        g_autofree char *path = NULL;
        Fixture f;

        if (!setup(&f))
                return;
        create_done(&f);
        g_assert_cmpint(systemd_unit_path(UNIT, &path), >=, 0);
        g_assert_true(g_dbus_connection_emit_signal(f.server, NULL, "/org/freedesktop/systemd1",
                                                    "org.freedesktop.systemd1.Manager", "UnitRemoved",
                                                    g_variant_new("(so)", UNIT, path), NULL));
        wait_until(&f, !manager_find_machine(f.m, NAME));
        g_assert_false(state_file_exists(&f));
        wait_until(&f, f.n_removed == 1);
        teardown(&f);
}

static void emit_properties(Fixture *f, const char *path, const char *iface, const char *state) {
        g_autofree char *text = g_strdup_printf("('%s', {'ActiveState': <'%s'>}, @as [])", iface, state);

        g_assert_true(g_dbus_connection_emit_signal(f->server, NULL, path, "org.freedesktop.DBus.Properties",
                                                    "PropertiesChanged", g_variant_new_parsed(text), NULL));
}

/* One match covers the PropertiesChanged of every unit (a match per machine runs into the bus's
 * limit of match rules per connection): berthd tells the units apart by object path. */
static void test_properties_dispatch(void) {
        g_autofree char *path = NULL, *other = NULL;
        Fixture f;

        if (!setup(&f))
                return;
        create_done(&f);
        g_assert_cmpint(systemd_unit_path(UNIT, &path), >=, 0);
        g_assert_cmpint(systemd_unit_path("machine-t2.scope", &other), >=, 0);
        emit_properties(&f, other, "org.freedesktop.systemd1.Unit", "inactive");
        emit_properties(&f, "/org/freedesktop/systemd1/unit", "org.freedesktop.systemd1.Unit", "inactive");
        emit_properties(&f, path, "org.freedesktop.systemd1.Scope", "inactive");
        emit_properties(&f, path, "org.freedesktop.systemd1.Unit", "deactivating");
        pump_for(&f, 300 * 1000);
        g_assert_nonnull(manager_find_machine(f.m, NAME));
        g_assert_cmpuint(f.n_removed, ==, 0);

        /* Signals of one sender arrive in order: the ones above were seen before this one. */
        emit_properties(&f, path, "org.freedesktop.systemd1.Unit", "failed");
        wait_until(&f, !manager_find_machine(f.m, NAME));
        g_assert_false(state_file_exists(&f));
        wait_until(&f, f.n_removed == 1);
        teardown(&f);
}

static void assert_nothing_registered(Fixture *f) {
        g_assert_null(manager_find_machine(f->m, NAME));
        g_assert_false(state_file_exists(f));
        pump_for(f, 200 * 1000);
        g_assert_cmpuint(f->n_new, ==, 0);
        g_assert_cmpuint(f->n_removed, ==, 0);
}

static void test_job_failed(void) {
        CallResult c = {};
        Fixture f;

        if (!setup(&f))
                return;
        create_start(&f, "[]", &c);
        expect_start(&f, "'Container " NAME "'", false, NULL);
        emit_job_removed(&f, "failed");
        call_finish(&f, &c, "org.freedesktop.systemd1.JobFailed");
        assert_nothing_registered(&f);

        /* The name is free again: a second try goes to systemd. */
        c = (CallResult) {};
        create_start(&f, "[]", &c);
        expect_start(&f, "'Container " NAME "'", false, NULL);
        emit_job_removed(&f, "done");
        call_finish(&f, &c, NULL);
        g_clear_pointer(&c.value, g_variant_unref);
        g_assert_nonnull(manager_find_machine(f.m, NAME));
        teardown(&f);
}

static void run_start_error(const char *systemd_error, const char *expected) {
        CallResult c = {};
        Fixture f;

        if (!setup(&f))
                return;
        create_start(&f, "[('CPUWeight', <uint64 50>)]", &c);
        expect_start(&f, "'Container " NAME "'", true, systemd_error);
        call_finish(&f, &c, expected);
        assert_nothing_registered(&f);
        /* No job, no unit: nothing to let go of. */
        assert_no_call(&f);
        teardown(&f);
}

static void test_start_error(void) {
        run_start_error("org.freedesktop.DBus.Error.InvalidArgs", "org.freedesktop.DBus.Error.InvalidArgs");
}

static void test_start_unit_exists(void) {
        run_start_error("org.freedesktop.systemd1.UnitExists", BUS_ERROR_MACHINE_EXISTS);
}

/* Refused before systemd is asked: no call, no state. */
static void test_refusals(void) {
        static const char *const bad[] = {
                "[('PIDs', <@au [1]>)]",
                "[('PIDFDs', <@ah []>)]",
                "[('Delegate', <false>)]",
                "[('AddRef', <false>)]",
                "[('Slice', <'system'>)]",
                "[('Slice', <'../x.slice'>)]",
                "[('Slice', <uint32 1>)]",
                "[('Description', <1>)]",
                "[('', <1>)]",
                "[('Bad-Name', <1>)]",
        };
        Fixture f;

        if (!setup(&f))
                return;
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                CallResult c = {};

                create_start(&f, bad[i], &c);
                call_finish(&f, &c, "org.freedesktop.DBus.Error.InvalidArgs");
        }
        assert_no_call(&f);
        assert_nothing_registered(&f);
        teardown(&f);
}

/* A caller's Slice replaces the shard slice; other properties follow berthd's, verbatim. */
static void test_caller_slice(void) {
        g_autoptr(GDBusMethodInvocation) inv = NULL;
        g_autoptr(GVariant) props = NULL;
        g_autofree char *text = NULL;
        CallResult c = {};
        Fixture f;

        if (!setup(&f))
                return;
        create_start(&f, "[('Slice', <'machine-big.slice'>), ('MemoryMax', <uint64 1048576>)]", &c);
        inv = pop_call(&f, "/org/freedesktop/systemd1", "StartTransientUnit");
        props = g_variant_get_child_value(g_dbus_method_invocation_get_parameters(inv), 2);
        text = g_variant_print(props, TRUE);
        g_assert_nonnull(strstr(text, "('Slice', <'machine-big.slice'>)"));
        g_assert_nonnull(strstr(text, "('MemoryMax', <uint64 1048576>)"));
        g_assert_null(strstr(text, "machine.slice'"));
        g_dbus_method_invocation_return_dbus_error(g_steal_pointer(&inv), "org.freedesktop.DBus.Error.Failed", "no");
        call_finish(&f, &c, "org.freedesktop.DBus.Error.Failed");
        assert_nothing_registered(&f);
        teardown(&f);
}

/* Fire-and-forget unit calls stay within dbus-daemon's 128 pending replies per connection: at
 * most 64 in flight, the rest sent in order as answers come back. */
static void test_unit_call_queue(void) {
        GDBusMethodInvocation *held[64];
        Machine *machine;
        Fixture f;

        if (!setup(&f))
                return;
        create_done(&f);
        machine = manager_find_machine(f.m, NAME);
        g_assert_nonnull(machine);

        for (int i = 1; i <= 70; i++)
                g_assert_cmpint(systemd_scope_kill(machine, i), >=, 0);
        for (int i = 0; i < 64; i++) {
                g_autofree char *want = g_strdup_printf("('" UNIT "', 'all', %d)", i + 1);
                g_autofree char *text = NULL;

                held[i] = pop_call(&f, "/org/freedesktop/systemd1", "KillUnit");
                text = g_variant_print(g_dbus_method_invocation_get_parameters(held[i]), FALSE);
                g_assert_cmpstr(text, ==, want);
        }
        /* The 65th waits for an answer. */
        assert_no_call(&f);
        for (int i = 0; i < 6; i++) {
                g_autofree char *want = g_strdup_printf("('" UNIT "', 'all', %d)", 65 + i);

                g_dbus_method_invocation_return_value(held[i], NULL);
                expect_unit_call(&f, "KillUnit", want);
        }
        for (int i = 6; i < 64; i++)
                g_dbus_method_invocation_return_value(held[i], NULL);
        assert_no_call(&f);
        teardown(&f);
}

/* FreezeMachine/ThawMachine under systemd: systemd's answer is the caller's; where systemd
 * says NotSupported (a hybrid host), berthd freezes the unified hierarchy's cgroup itself. */
static void freeze_call(Fixture *f, const char *method, const char *unit_method, const char *error) {
        g_autoptr(GDBusMethodInvocation) inv = NULL;
        CallResult c = {};

        call_start(f, method, g_variant_new("(s)", NAME), &c);
        inv = pop_call(f, "/org/freedesktop/systemd1", unit_method);
        g_assert_cmpstr(g_variant_print(g_dbus_method_invocation_get_parameters(inv), FALSE), ==, "('" UNIT "',)");
        if (error)
                g_dbus_method_invocation_return_dbus_error(g_steal_pointer(&inv), error, "mock says no");
        else
                g_dbus_method_invocation_return_value(g_steal_pointer(&inv), NULL);
        call_finish(f, &c, error && !g_str_equal(error, "org.freedesktop.DBus.Error.NotSupported") ? error : NULL);
        g_clear_pointer(&c.value, g_variant_unref);
}

static bool cgroup_frozen(const char *cg) {
        g_autofree char *p = g_build_filename(cg, "cgroup.events", NULL), *text = NULL;

        g_assert_true(g_file_get_contents(p, &text, NULL, NULL));
        return strstr(text, "frozen 1") != NULL;
}

static void test_freeze(void) {
        g_autofree char *cg = NULL, *procs = NULL, *pid = NULL;
        const char *root = NULL;
        Machine *machine;
        Fixture f;

        if (!setup(&f))
                return;
        create_done(&f);
        machine = manager_find_machine(f.m, NAME);
        g_assert_nonnull(machine);
        /* The mock made no cgroup: the leader gets one of the test's own, as the unit's. */
        g_assert_cmpint(cgroup2_mount_point(&root), ==, 0);
        cg = g_strdup_printf("%s/berth-test-freeze-%i", root, (int) getpid());
        g_assert_cmpint(g_mkdir(cg, 0755), ==, 0);
        procs = g_build_filename(cg, "cgroup.procs", NULL);
        pid = g_strdup_printf("%i", (int) f.leader);
        g_assert_cmpint(write_string_file(procs, pid), ==, 0);
        g_free(machine->cgroup_path);
        machine->cgroup_path = g_strdup(cg);

        /* systemd froze it: berthd leaves the cgroup alone. */
        freeze_call(&f, "FreezeMachine", "FreezeUnit", NULL);
        g_assert_false(cgroup_frozen(cg));
        freeze_call(&f, "ThawMachine", "ThawUnit", NULL);
        /* systemd refuses: its error is the caller's. */
        freeze_call(&f, "FreezeMachine", "FreezeUnit", "org.freedesktop.systemd1.UnitBusy");
        g_assert_false(cgroup_frozen(cg));
        /* systemd cannot (hybrid host): berthd writes cgroup.freeze and answers once frozen. */
        freeze_call(&f, "FreezeMachine", "FreezeUnit", "org.freedesktop.DBus.Error.NotSupported");
        g_assert_true(cgroup_frozen(cg));
        freeze_call(&f, "ThawMachine", "ThawUnit", "org.freedesktop.DBus.Error.NotSupported");
        g_assert_false(cgroup_frozen(cg));

        teardown(&f);
        g_assert_cmpint(g_rmdir(cg), ==, 0);
}

/* Every machine gets a sub-slice of machine.slice, the same each time, and names spread. */
static void test_shard_slice(void) {
        char a[MACHINE_SHARD_SLICE_MAX], b[MACHINE_SHARD_SLICE_MAX];
        bool seen[MACHINE_SLICE_SHARDS] = {};
        unsigned distinct = 0;

        machine_shard_slice(NAME, a);
        g_assert_cmpstr(a, ==, T1_SHARD);
        for (unsigned i = 0; i < 256; i++) {
                char name[32];
                unsigned shard;

                snprintf(name, sizeof(name), "m%u", i);
                machine_shard_slice(name, a);
                machine_shard_slice(name, b);
                g_assert_cmpstr(a, ==, b);
                g_assert_true(g_str_has_prefix(a, "machine-shard") && g_str_has_suffix(a, ".slice"));
                g_assert_cmpuint(strlen(a) + 1, ==, MACHINE_SHARD_SLICE_MAX);
                g_assert_cmpint(sscanf(a, "machine-shard%2x.slice", &shard), ==, 1);
                g_assert_cmpuint(shard, <, MACHINE_SLICE_SHARDS);
                distinct += !seen[shard];
                seen[shard] = true;
        }
        /* 256 names over 64 shards: a fair hash leaves few empty (expected ~1.2). */
        g_assert_cmpuint(distinct, >=, 56);
}

static void test_backend_table(void) {
        for (int i = 0; i < _SCOPE_BACKEND_MAX; i++)
                g_assert_cmpint(scope_backend_from_string(scope_backend_to_string((ScopeBackend) i)), ==, i);
        g_assert_cmpint(scope_backend_from_string("nspawn"), ==, _SCOPE_BACKEND_INVALID);
        g_assert_cmpint(scope_backend_from_string(NULL), ==, _SCOPE_BACKEND_INVALID);
        g_assert_null(scope_backend_to_string(_SCOPE_BACKEND_MAX));
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        log_parse_environment();
        g_assert_cmpint(sd_bus_error_add_map(berth_bus_errors), >=, 0);

        g_test_add_func("/scope-systemd/backend-table", test_backend_table);
        g_test_add_func("/scope-systemd/shard-slice", test_shard_slice);
        g_test_add_func("/scope-systemd/job-done", test_job_done);
        g_test_add_func("/scope-systemd/unit-removed", test_unit_removed);
        g_test_add_func("/scope-systemd/properties-dispatch", test_properties_dispatch);
        g_test_add_func("/scope-systemd/job-failed", test_job_failed);
        g_test_add_func("/scope-systemd/start-error", test_start_error);
        g_test_add_func("/scope-systemd/start-unit-exists", test_start_unit_exists);
        g_test_add_func("/scope-systemd/refusals", test_refusals);
        g_test_add_func("/scope-systemd/caller-slice", test_caller_slice);
        g_test_add_func("/scope-systemd/unit-call-queue", test_unit_call_queue);
        g_test_add_func("/scope-systemd/freeze", test_freeze);
        return g_test_run();
}
