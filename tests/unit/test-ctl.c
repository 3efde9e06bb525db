/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthctl's core helpers: escaping untrusted strings, D-Bus errors as exit codes, output modes. */
#include <glib.h>

#include "ctl.h"

static void check_escape(const char *in, const char *want) {
        _cleanup_free_ char *e = ctl_escape(in);

        g_assert_nonnull(e);
        g_assert_cmpstr(e, ==, want);
}

static void test_escape(void) {
        check_escape("", "");
        check_escape("web-1.example", "web-1.example");
        check_escape("\033]0;pwned\007", "\\x1b]0;pwned\\a");
        check_escape("a\nb\tc\rd", "a\\nb\\tc\\rd");
        check_escape("back\\slash", "back\\\\slash");
        check_escape("del\177", "del\\x7f");
        /* Valid UTF-8 passes; C1 controls (here CSI, U+009B) and broken sequences do not. */
        check_escape("Debian GNU/Linux — äöü 日本", "Debian GNU/Linux — äöü 日本");
        check_escape("\xc2\x9b" "2J", "\\xc2\\x9b2J");
        check_escape("\xff\xc3", "\\xff\\xc3");
        check_escape("\xc0\xaf", "\\xc0\\xaf");          /* overlong "/" */
        check_escape("\xed\xa0\x80", "\\xed\\xa0\\x80"); /* a surrogate */
}

static int code(const char *name, int r) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

        if (name)
                (void) sd_bus_error_set(&e, name, "message");
        return ctl_exit_code_from_bus_error(&e, r);
}

static void test_exit_codes(void) {
        g_assert_cmpint(code("org.berth.machine1.NoSuchMachine", -ENXIO), ==, CTL_EXIT_NO_SUCH);
        g_assert_cmpint(code("org.berth.machine1.NoSuchImage", -ENOENT), ==, CTL_EXIT_NO_SUCH);
        g_assert_cmpint(code(SD_BUS_ERROR_UNKNOWN_OBJECT, -ENXIO), ==, CTL_EXIT_NO_SUCH);
        g_assert_cmpint(code(SD_BUS_ERROR_ACCESS_DENIED, -EACCES), ==, CTL_EXIT_DENIED);
        g_assert_cmpint(code(SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED, -EACCES), ==, CTL_EXIT_DENIED);
        g_assert_cmpint(code(SD_BUS_ERROR_INVALID_ARGS, -EINVAL), ==, CTL_EXIT_USAGE);
        g_assert_cmpint(code("org.berth.machine1.MachineExists", -EEXIST), ==, CTL_EXIT_FAILURE);
        g_assert_cmpint(code(NULL, -ECONNREFUSED), ==, CTL_EXIT_FAILURE);
        g_assert_cmpint(code(NULL, -EACCES), ==, CTL_EXIT_DENIED);
}

static void test_log_bus_error(void) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

        (void) sd_bus_error_set(&e, SD_BUS_ERROR_ACCESS_DENIED, "Access denied.");
        g_assert_cmpint(ctl_log_bus_error(&e, -EACCES, "terminate machine %s", "web"), ==, CTL_EXIT_DENIED);
        g_assert_cmpint(ctl_log_bus_error(NULL, -EIO, "do %s", "it"), ==, CTL_EXIT_FAILURE);
}

static void test_output_mode(void) {
        for (OutputMode m = 0; m < _OUTPUT_MODE_MAX; m++)
                g_assert_cmpint(output_mode_from_string(output_mode_to_string(m)), ==, m);
        g_assert_cmpint(output_mode_from_string("yaml"), ==, _OUTPUT_MODE_INVALID);
        g_assert_null(output_mode_to_string(_OUTPUT_MODE_MAX));
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/ctl/escape", test_escape);
        g_test_add_func("/ctl/exit-codes", test_exit_codes);
        g_test_add_func("/ctl/log-bus-error", test_log_bus_error);
        g_test_add_func("/ctl/output-mode", test_output_mode);
        return g_test_run();
}
