/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* polkit_verify_async() in an sd-bus service, called by a GDBus client, judged by a mock polkit
 * (GtDBusQueue) on a private bus.
 *
 * Root is let through without asking, so every case that needs polkit runs in a forked copy of
 * this test that has dropped to nobody (65534) before it starts its private bus: the library is
 * tested as shipped, with no test-only switch in it. */
#include <gio/gio.h>
#include <glib.h>
#include <grp.h>
#include <libglib-testing/dbus-queue.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "bus-polkit.h"
#include "log.h"
#include "log.h"

#define SERVICE "org.berth.test"
#define OBJECT "/org/berth/test"
#define ACTION "org.berth.test.do"
#define ACTION_OTHER "org.berth.test.other"
#define NOBODY 65534
#define DEADLINE_USEC (10 * G_USEC_PER_SEC)

static const char polkit_xml[] =
        "<node><interface name='org.freedesktop.PolicyKit1.Authority'>"
        "<method name='CheckAuthorization'>"
        "<arg type='(sa{sv})' name='subject' direction='in'/>"
        "<arg type='s' name='action_id' direction='in'/>"
        "<arg type='a{ss}' name='details' direction='in'/>"
        "<arg type='u' name='flags' direction='in'/>"
        "<arg type='s' name='cancellation_id' direction='in'/>"
        "<arg type='(bba{ss})' name='result' direction='out'/>"
        "</method></interface></node>";

static const char *const do_details[] = { "machine", "m1", NULL };

typedef struct {
        GtDBusQueue *queue;
        GDBusNodeInfo *polkit_info;
        sd_event *event;
        sd_bus *bus;
        sd_bus_slot *object_slot;
        PolkitRegistry *registry;
        GMainContext *server_context;   /* the mock's, taken from its thread */
        unsigned n_calls;   /* handler runs, first dispatch and re-dispatches */
        unsigned n_done;    /* the guarded operation ran */
} Fixture;

typedef struct {
        bool done;
        GVariant *value;
        GError *error;
} CallResult;

static int method_do(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Fixture *f = userdata;
        int r;

        f->n_calls++;
        r = polkit_verify_async(m, ACTION, (const char **) do_details, &f->registry, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        f->n_done++;
        return sd_bus_reply_method_return(m, NULL);
}

/* A handler that needs two actions: the first answer must stay cached while the second is
 * asked, or the handler would go round asking for the first again. */
static int method_do_both(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Fixture *f = userdata;
        int r;

        f->n_calls++;
        r = polkit_verify_async(m, ACTION, (const char **) do_details, &f->registry, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = polkit_verify_async(m, ACTION_OTHER, NULL, &f->registry, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        f->n_done++;
        return sd_bus_reply_method_return(m, NULL);
}

/* A handler that asks both questions at once: one re-dispatch when both are answered, not one
 * per answer (which would run the handler, and reply, twice). */
static int method_do_together(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Fixture *f = userdata;
        int a, b;

        f->n_calls++;
        a = polkit_verify_async(m, ACTION, (const char **) do_details, &f->registry, error);
        if (a < 0)
                return a;
        b = polkit_verify_async(m, ACTION_OTHER, NULL, &f->registry, error);
        if (b < 0)
                return b;
        if (a == 0 || b == 0)
                return 1;
        f->n_done++;
        return sd_bus_reply_method_return(m, NULL);
}

/* A handler whose details differ when the message comes back (say, the machine was renamed). */
static int method_do_changing(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *first[] = { "machine", "m1", NULL }, *later[] = { "machine", "m2", NULL };
        Fixture *f = userdata;
        int r;

        f->n_calls++;
        r = polkit_verify_async(m, ACTION, f->n_calls == 1 ? first : later, &f->registry, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        f->n_done++;
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable test_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Do", "", "", method_do, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("DoBoth", "", "", method_do_both, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("DoChanging", "", "", method_do_changing, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("DoTogether", "", "", method_do_together, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

static void pump(Fixture *f) {
        g_assert_cmpint(sd_event_run(f->event, 1000), >=, 0);
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

/* pop_message() would block forever, and the answer needs both loops turning meanwhile.
 * try_pop_message() cannot stand in: in glib-testing 0.1.1 it never pops anything (its loop only
 * runs when waiting), so wait for a queued message first and then pop it without blocking. */
static GDBusMethodInvocation *pop_polkit(Fixture *f) {
        GDBusMethodInvocation *inv = NULL;
        gint64 end = g_get_monotonic_time() + DEADLINE_USEC;

        while (gt_dbus_queue_get_n_messages(f->queue) == 0) {
                if (g_get_monotonic_time() > end)
                        g_error("polkit was not asked in time");
                pump(f);
        }
        g_assert_true(gt_dbus_queue_pop_message(f->queue, &inv));
        g_assert_cmpstr(g_dbus_method_invocation_get_object_path(inv), ==,
                        "/org/freedesktop/PolicyKit1/Authority");
        g_assert_cmpstr(g_dbus_method_invocation_get_interface_name(inv), ==,
                        "org.freedesktop.PolicyKit1.Authority");
        g_assert_cmpstr(g_dbus_method_invocation_get_method_name(inv), ==, "CheckAuthorization");
        return inv;
}

/* The mock cannot match sd-bus senders itself (aesthetics.md §4), so read the call by hand. */
static void check_request(GDBusMethodInvocation *inv, GDBusConnection *caller, const char *action,
                          bool with_details, guint32 flags) {
        g_autoptr(GVariant) subject = NULL, details = NULL;
        const char *kind, *action_id, *cancel, *name = NULL, *machine = NULL;
        guint32 got_flags;

        g_variant_get(g_dbus_method_invocation_get_parameters(inv), "((&s@a{sv})&s@a{ss}u&s)",
                      &kind, &subject, &action_id, &details, &got_flags, &cancel);
        g_assert_cmpstr(kind, ==, "system-bus-name");
        g_assert_true(g_variant_lookup(subject, "name", "&s", &name));
        g_assert_cmpstr(name, ==, g_dbus_connection_get_unique_name(caller));
        g_assert_cmpuint(g_variant_n_children(subject), ==, 1);
        g_assert_cmpstr(action_id, ==, action);
        if (with_details) {
                g_assert_cmpuint(g_variant_n_children(details), ==, 1);
                g_assert_true(g_variant_lookup(details, "machine", "&s", &machine));
                g_assert_cmpstr(machine, ==, "m1");
        } else
                g_assert_cmpuint(g_variant_n_children(details), ==, 0);
        g_assert_cmpuint(got_flags, ==, flags);
        g_assert_cmpstr(cancel, ==, "");
}

static void answer(GDBusMethodInvocation *inv, bool authorized, bool challenge) {
        g_dbus_method_invocation_return_value(
                        inv, g_variant_new("((bb@a{ss}))", authorized, challenge,
                                           g_variant_new_array(G_VARIANT_TYPE("{ss}"), NULL, 0)));
}

static void on_call_done(GObject *source, GAsyncResult *res, gpointer userdata) {
        CallResult *c = userdata;

        c->value = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &c->error);
        c->done = true;
}

static void call_start(Fixture *f, const char *method, GDBusCallFlags flags, CallResult *c) {
        g_dbus_connection_call(gt_dbus_queue_get_client_connection(f->queue), SERVICE, OBJECT,
                               SERVICE, method, NULL, NULL, flags, 30000, NULL, on_call_done, c);
}

static void call_finish(Fixture *f, CallResult *c, const char *expected_error) {
        wait_until(f, c->done);
        if (expected_error) {
                g_autofree char *name = NULL;

                g_assert_nonnull(c->error);
                name = g_dbus_error_get_remote_error(c->error);
                g_assert_cmpstr(name, ==, expected_error);
                g_clear_error(&c->error);
        } else {
                g_assert_no_error(c->error);
                g_clear_pointer(&c->value, g_variant_unref);
        }
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

/* Runs once on the mock's thread, which then goes on serving calls into the queue. */
static void grab_server_context(GtDBusQueue *queue, gpointer userdata) {
        Fixture *f = userdata;

        g_atomic_pointer_set(&f->server_context, g_main_context_ref_thread_default());
}

static void setup(Fixture *f, bool polkit_present) {
        g_autoptr(GError) error = NULL;

        *f = (Fixture) {};
        f->polkit_info = g_dbus_node_info_new_for_xml(polkit_xml, &error);
        g_assert_no_error(error);
        f->queue = gt_dbus_queue_new();
        g_assert_true(gt_dbus_queue_connect(f->queue, &error));
        g_assert_no_error(error);

        gt_dbus_queue_set_server_func(f->queue, grab_server_context, f);
        while (!g_atomic_pointer_get(&f->server_context))
                g_usleep(1000);

        if (polkit_present) {
                gt_dbus_queue_export_object(f->queue, "/org/freedesktop/PolicyKit1/Authority",
                                            f->polkit_info->interfaces[0], &error);
                g_assert_no_error(error);
                gt_dbus_queue_own_name(f->queue, "org.freedesktop.PolicyKit1");
                /* own_name() returns before the bus has granted the name. */
                wait_for_name(gt_dbus_queue_get_client_connection(f->queue),
                              "org.freedesktop.PolicyKit1");
        }

        g_assert_true(g_setenv("DBUS_SYSTEM_BUS_ADDRESS", g_getenv("DBUS_SESSION_BUS_ADDRESS"), TRUE));
        g_assert_cmpint(sd_event_new(&f->event), >=, 0);
        g_assert_cmpint(sd_bus_open_system(&f->bus), >=, 0);
        g_assert_cmpint(sd_bus_add_object_vtable(f->bus, &f->object_slot, OBJECT, SERVICE,
                                                 test_vtable, f), >=, 0);
        g_assert_cmpint(sd_bus_request_name(f->bus, SERVICE, 0), >=, 0);
        g_assert_cmpint(sd_bus_attach_event(f->bus, f->event, SD_EVENT_PRIORITY_NORMAL), >=, 0);
}

static void teardown(Fixture *f) {
        f->registry = polkit_registry_free(f->registry);
        f->object_slot = sd_bus_slot_unref(f->object_slot);
        f->bus = sd_bus_flush_close_unref(f->bus);
        f->event = sd_event_unref(f->event);
        gt_dbus_queue_disconnect(f->queue, TRUE);
        /* gt_dbus_queue_free() asserts that the mock's context has nothing left to dispatch, but
         * GDBus may still queue the NameLost signal of the released polkit name there after the
         * mock's thread drained it (seen about once in ten runs). Drain it ourselves: the thread
         * has ended, so the context is free to take. */
        g_usleep(10 * 1000);
        while (g_main_context_iteration(f->server_context, FALSE))
                ;
        g_main_context_unref(f->server_context);
        gt_dbus_queue_free(f->queue);
        g_dbus_node_info_unref(f->polkit_info);
}

/* True where the body should run: in the forked unprivileged copy, or right here when the test
 * already runs as someone other than root. */
static bool run_unprivileged(void) {
        if (g_test_subprocess()) {
                if (getuid() == 0) {
                        g_assert_cmpint(setgroups(0, NULL), ==, 0);
                        g_assert_cmpint(setresgid(NOBODY, NOBODY, NOBODY), ==, 0);
                        g_assert_cmpint(setresuid(NOBODY, NOBODY, NOBODY), ==, 0);
                }
                return true;
        }
        if (getuid() != 0)
                return true;

        g_test_trap_subprocess(NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
        g_test_trap_assert_passed();
        return false;
}

static void test_root_bypass(void) {
        Fixture f;
        CallResult c = {};

        if (getuid() != 0) {
                g_test_skip("the caller must be uid 0 for the bypass; this test runs unprivileged");
                return;
        }
        setup(&f, true);
        call_start(&f, "Do", G_DBUS_CALL_FLAGS_NONE, &c);
        call_finish(&f, &c, NULL);
        g_assert_cmpuint(f.n_done, ==, 1);
        /* Give a stray CheckAuthorization time to arrive: there must be none. */
        pump_for(&f, 200 * 1000);
        g_assert_cmpuint(gt_dbus_queue_get_n_messages(f.queue), ==, 0);
        g_assert_cmpuint(polkit_registry_size(f.registry), ==, 0);
        teardown(&f);
}

/* One call answered by polkit with (authorized, challenge); the call must end with ERROR. */
static void run_answered(GDBusCallFlags flags, bool authorized, bool challenge, const char *error) {
        g_autoptr(GDBusMethodInvocation) inv = NULL;
        Fixture f;
        CallResult c = {};

        setup(&f, true);
        call_start(&f, "Do", flags, &c);
        inv = pop_polkit(&f);
        check_request(inv, gt_dbus_queue_get_client_connection(f.queue), ACTION, true,
                      flags & G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION ? 1 : 0);
        g_assert_cmpuint(f.n_calls, ==, 1);
        g_assert_cmpuint(polkit_registry_size(f.registry), ==, 1);
        answer(inv, authorized, challenge);
        call_finish(&f, &c, error);

        g_assert_cmpuint(f.n_calls, ==, 2);
        g_assert_cmpuint(f.n_done, ==, error ? 0 : 1);
        /* Answered and seen through: nothing may stay behind. */
        wait_until(&f, polkit_registry_size(f.registry) == 0);
        teardown(&f);
}

static void test_yes(void) {
        if (run_unprivileged())
                run_answered(G_DBUS_CALL_FLAGS_NONE, true, false, NULL);
}

static void test_no(void) {
        if (run_unprivileged())
                run_answered(G_DBUS_CALL_FLAGS_NONE, false, false,
                             "org.freedesktop.DBus.Error.AccessDenied");
}

static void test_challenge(void) {
        if (run_unprivileged())
                run_answered(G_DBUS_CALL_FLAGS_NONE, false, true,
                             "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired");
}

static void test_interactive_flag(void) {
        if (run_unprivileged())
                run_answered(G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION, true, false, NULL);
}

static void test_polkit_error(void) {
        g_autoptr(GDBusMethodInvocation) inv = NULL;
        Fixture f;
        CallResult c = {};

        if (!run_unprivileged())
                return;
        setup(&f, true);
        call_start(&f, "Do", G_DBUS_CALL_FLAGS_NONE, &c);
        inv = pop_polkit(&f);
        g_dbus_method_invocation_return_dbus_error(inv, "org.freedesktop.PolicyKit1.Error.Failed",
                                                   "mock failure");
        call_finish(&f, &c, "org.freedesktop.DBus.Error.AccessDenied");
        g_assert_cmpuint(f.n_done, ==, 0);
        wait_until(&f, polkit_registry_size(f.registry) == 0);
        teardown(&f);
}

static void test_polkit_absent(void) {
        Fixture f;
        CallResult c = {};

        if (!run_unprivileged())
                return;
        setup(&f, false);
        call_start(&f, "Do", G_DBUS_CALL_FLAGS_NONE, &c);
        call_finish(&f, &c, "org.freedesktop.DBus.Error.AccessDenied");
        g_assert_cmpuint(f.n_calls, ==, 2);
        g_assert_cmpuint(f.n_done, ==, 0);
        wait_until(&f, polkit_registry_size(f.registry) == 0);
        teardown(&f);
}

/* A polkitd that never answers: the bus's method call timeout turns it into a refusal. */
static void test_polkit_hung(void) {
        g_autoptr(GDBusMethodInvocation) inv = NULL;
        Fixture f;
        CallResult c = {};

        if (!run_unprivileged())
                return;
        setup(&f, true);
        g_assert_cmpint(sd_bus_set_method_call_timeout(f.bus, 300 * 1000), >=, 0);
        call_start(&f, "Do", G_DBUS_CALL_FLAGS_NONE, &c);
        inv = pop_polkit(&f);
        call_finish(&f, &c, "org.freedesktop.DBus.Error.AccessDenied");
        g_assert_cmpuint(f.n_done, ==, 0);
        /* The late answer reaches a cancelled call and changes nothing. */
        answer(inv, true, false);
        pump_for(&f, 200 * 1000);
        g_assert_cmpuint(f.n_calls, ==, 2);
        g_assert_cmpuint(f.n_done, ==, 0);
        wait_until(&f, polkit_registry_size(f.registry) == 0);
        teardown(&f);
}

/* Two actions for one call: polkit is asked exactly twice, once per action. */
static void test_two_actions(void) {
        g_autoptr(GDBusMethodInvocation) first = NULL, second = NULL;
        Fixture f;
        CallResult c = {};

        if (!run_unprivileged())
                return;
        setup(&f, true);
        call_start(&f, "DoBoth", G_DBUS_CALL_FLAGS_NONE, &c);
        first = pop_polkit(&f);
        check_request(first, gt_dbus_queue_get_client_connection(f.queue), ACTION, true, 0);
        answer(first, true, false);
        second = pop_polkit(&f);
        check_request(second, gt_dbus_queue_get_client_connection(f.queue), ACTION_OTHER, false, 0);
        answer(second, true, false);
        call_finish(&f, &c, NULL);
        g_assert_cmpuint(f.n_calls, ==, 3);
        g_assert_cmpuint(f.n_done, ==, 1);
        pump_for(&f, 100 * 1000);
        g_assert_cmpuint(gt_dbus_queue_get_n_messages(f.queue), ==, 0);
        wait_until(&f, polkit_registry_size(f.registry) == 0);
        teardown(&f);
}

static void test_two_actions_at_once(void) {
        g_autoptr(GDBusMethodInvocation) first = NULL, second = NULL;
        Fixture f;
        CallResult c = {};

        if (!run_unprivileged())
                return;
        setup(&f, true);
        call_start(&f, "DoTogether", G_DBUS_CALL_FLAGS_NONE, &c);
        first = pop_polkit(&f);
        second = pop_polkit(&f);
        g_assert_cmpuint(polkit_registry_size(f.registry), ==, 2);
        answer(first, true, false);
        pump_for(&f, 100 * 1000);
        g_assert_cmpuint(f.n_calls, ==, 1);
        answer(second, true, false);
        call_finish(&f, &c, NULL);
        pump_for(&f, 100 * 1000);
        g_assert_cmpuint(f.n_calls, ==, 2);
        g_assert_cmpuint(f.n_done, ==, 1);
        wait_until(&f, polkit_registry_size(f.registry) == 0);
        teardown(&f);
}

static void test_details_changed(void) {
        g_autoptr(GDBusMethodInvocation) inv = NULL;
        Fixture f;
        CallResult c = {};

        if (!run_unprivileged())
                return;
        setup(&f, true);
        call_start(&f, "DoChanging", G_DBUS_CALL_FLAGS_NONE, &c);
        inv = pop_polkit(&f);
        answer(inv, true, false);
        call_finish(&f, &c, "org.freedesktop.DBus.Error.AccessDenied");
        g_assert_cmpuint(f.n_done, ==, 0);
        wait_until(&f, polkit_registry_size(f.registry) == 0);
        teardown(&f);
}

/* reliability.md B06: the caller leaves while polkit thinks. Nothing may stay behind. */
static void test_caller_vanishes(void) {
        g_autoptr(GDBusMethodInvocation) inv = NULL;
        g_autoptr(GDBusConnection) caller = NULL;
        g_autoptr(GError) error = NULL;
        Fixture f;

        if (!run_unprivileged())
                return;
        setup(&f, true);
        caller = g_dbus_connection_new_for_address_sync(
                        g_getenv("DBUS_SESSION_BUS_ADDRESS"),
                        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &error);
        g_assert_no_error(error);
        /* No callback: nothing of this test's stack may be touched once the caller is gone. */
        g_dbus_connection_call(caller, SERVICE, OBJECT, SERVICE, "Do", NULL, NULL,
                               G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL, NULL);
        inv = pop_polkit(&f);
        check_request(inv, caller, ACTION, true, 0);
        g_assert_true(g_dbus_connection_close_sync(caller, NULL, &error));
        g_assert_no_error(error);
        g_clear_object(&caller);
        pump_for(&f, 100 * 1000);

        /* Real polkitd refuses a subject that has left the bus; even a yes must leave nothing. */
        answer(inv, true, false);
        wait_until(&f, f.n_calls == 2);
        wait_until(&f, polkit_registry_size(f.registry) == 0);
        teardown(&f);
}

/* The daemon drops its registry (shutting down) while a query is out: the late answer must not
 * reach freed memory, and the call is not dispatched again. */
static void test_registry_freed_while_pending(void) {
        g_autoptr(GDBusMethodInvocation) inv = NULL;
        Fixture f;

        if (!run_unprivileged())
                return;
        setup(&f, true);
        g_dbus_connection_call(gt_dbus_queue_get_client_connection(f.queue), SERVICE, OBJECT,
                               SERVICE, "Do", NULL, NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL,
                               NULL);
        inv = pop_polkit(&f);
        g_assert_cmpuint(polkit_registry_size(f.registry), ==, 1);
        f.registry = polkit_registry_free(f.registry);
        answer(inv, true, false);
        pump_for(&f, 200 * 1000);
        g_assert_cmpuint(f.n_calls, ==, 1);
        g_assert_cmpuint(f.n_done, ==, 0);
        teardown(&f);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        log_parse_environment();
        log_parse_environment();

        g_test_add_func("/bus-polkit/root-bypass", test_root_bypass);
        g_test_add_func("/bus-polkit/yes", test_yes);
        g_test_add_func("/bus-polkit/no", test_no);
        g_test_add_func("/bus-polkit/challenge", test_challenge);
        g_test_add_func("/bus-polkit/interactive-flag", test_interactive_flag);
        g_test_add_func("/bus-polkit/polkit-error", test_polkit_error);
        g_test_add_func("/bus-polkit/polkit-absent", test_polkit_absent);
        g_test_add_func("/bus-polkit/polkit-hung", test_polkit_hung);
        g_test_add_func("/bus-polkit/two-actions", test_two_actions);
        g_test_add_func("/bus-polkit/two-actions-at-once", test_two_actions_at_once);
        g_test_add_func("/bus-polkit/details-changed", test_details_changed);
        g_test_add_func("/bus-polkit/caller-vanishes", test_caller_vanishes);
        g_test_add_func("/bus-polkit/registry-freed-while-pending", test_registry_freed_while_pending);
        return g_test_run();
}
