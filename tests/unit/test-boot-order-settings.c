/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for [Start] Order= and Delay= in settings files and the names of berth-order-generator's units. */
#include <glib.h>
#include <glib/gstdio.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "boot-order.h"
#include "settings-file.h"
#include "settings.h"

/* Loads CONTENT as a settings file (TRUSTED or not) into a fresh S; returns settings_load_file's result. */
static int load(Settings *s, const char *content, bool trusted) {
        g_autoptr(GError) error = NULL;
        g_autofree char *dir = g_dir_make_tmp("berth-boot-order-XXXXXX", &error);
        g_autofree char *path = NULL;
        int r;

        g_assert_no_error(error);
        path = g_build_filename(dir, "m.berth", NULL);
        g_assert_true(g_file_set_contents(path, content, -1, &error));
        settings_init(s);
        r = settings_load_file(s, path, trusted);
        (void) unlink(path);
        (void) rmdir(dir);
        return r;
}

static void test_start_keys(void) {
        Settings s;

        g_assert_cmpint(load(&s, "[Start]\nOrder=3\nDelay=5\n", true), ==, 0);
        g_assert_true(s.start_order_set);
        g_assert_cmpint(s.start_order, ==, 3);
        g_assert_cmpuint(s.start_delay, ==, 5);
        settings_done(&s);

        g_assert_cmpint(load(&s, "[Start]\nOrder=-7\n", true), ==, 0);
        g_assert_true(s.start_order_set);
        g_assert_cmpint(s.start_order, ==, -7);
        g_assert_cmpuint(s.start_delay, ==, 0);
        settings_done(&s);

        /* Empty takes the machine out of the order again; a later value wins. */
        g_assert_cmpint(load(&s, "[Start]\nOrder=1\nOrder=\nDelay=4\nDelay=2\n", true), ==, 0);
        g_assert_false(s.start_order_set);
        g_assert_cmpuint(s.start_delay, ==, 2);
        settings_done(&s);

        g_assert_cmpint(load(&s, "[Exec]\nBoot=yes\n", true), ==, 0);
        g_assert_false(s.start_order_set);
        settings_done(&s);
}

static void test_start_untrusted(void) {
        Settings s;

        /* Beside the image: the host's boot order is not the image's to decide. */
        g_assert_cmpint(load(&s, "[Start]\nOrder=1\nDelay=60\n", false), ==, 0);
        g_assert_false(s.start_order_set);
        g_assert_cmpuint(s.start_delay, ==, 0);
        settings_done(&s);
}

static void test_start_invalid(void) {
        static const char *const bad[] = {
                "[Start]\nOrder=one\n", "[Start]\nOrder=1.5\n", "[Start]\nOrder=+1\n", "[Start]\nOrder=-\n",
                "[Start]\nOrder= 1x\n", "[Start]\nOrder=99999999999\n", "[Start]\nDelay=-1\n",
                "[Start]\nDelay=3601\n", "[Start]\nDelay=5s\n",
        };
        Settings s;

        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_test_message("%s", bad[i]);
                g_assert_cmpint(load(&s, bad[i], true), ==, -EINVAL);
                /* Validated wherever the file lies, so copying it to /etc never breaks it. */
                settings_done(&s);
                g_assert_cmpint(load(&s, bad[i], false), ==, -EINVAL);
                settings_done(&s);
        }
        g_assert_cmpint(load(&s, "[Start]\nDelay=3600\n", true), ==, 0);
        g_assert_cmpuint(s.start_delay, ==, 3600);
        settings_done(&s);
}

static void test_unit_names(void) {
        static const int orders[] = { 0, 1, 3, -2, 42, INT_MAX, -INT_MAX };
        const char *const bad[] = {
                "berth-order-.service", "berth-order-x.service", "berth-order-1.target", "berth-order-1",
                "berth-order--.service", "berth-order-+1.service", "berth-spawn@1.service",
                "berth-order-99999999999.service", "xberth-order-1.service",
        };
        int o;

        for (size_t i = 0; i < G_N_ELEMENTS(orders); i++) {
                g_autofree char *u = boot_order_unit_name(orders[i]);

                g_assert_nonnull(u);
                g_assert_cmpint(boot_order_unit_parse(u, &o), ==, 0);
                g_assert_cmpint(o, ==, orders[i]);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
                g_assert_cmpint(boot_order_unit_parse(bad[i], &o), ==, -EINVAL);
}

static void test_machine_of_unit(void) {
        g_autofree char *a = boot_order_machine_of_unit("berth-spawn@web-1.service");

        g_assert_cmpstr(a, ==, "web-1");
        g_assert_null(boot_order_machine_of_unit("berth-spawn@.service"));
        g_assert_null(boot_order_machine_of_unit("berth-spawn@a.target"));
        g_assert_null(boot_order_machine_of_unit("berth-order-1.service"));
        g_assert_null(boot_order_machine_of_unit("systemd-nspawn@a.service"));
        g_assert_null(boot_order_machine_of_unit("berth-spawn@-bad.service"));
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/boot-order/start-keys", test_start_keys);
        g_test_add_func("/boot-order/start-untrusted", test_start_untrusted);
        g_test_add_func("/boot-order/start-invalid", test_start_invalid);
        g_test_add_func("/boot-order/unit-names", test_unit_names);
        g_test_add_func("/boot-order/machine-of-unit", test_machine_of_unit);
        return g_test_run();
}
