/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for machine and image name validation (reliability.md B07, B09). */
#include <glib.h>
#include <string.h>

#include "name-util.h"

static void test_machine_name(void) {
        g_autofree char *a64 = g_strnfill(64, 'a');
        g_autofree char *a65 = g_strnfill(65, 'a');
        g_autofree char *labels64 = NULL;
        static const char *const good[] = {
                "a", "deb", "my-machine.example", "Debian-12", "0", "42.example.com", "a-b-c", "a--b", "x.y",
        };
        /* B07, then more of the same families. */
        static const char *const bad[] = {
                "", ".", "..", "../x", "a/b", "-a", "a-", "a..b", "a b", "a\tb", "\xc3\xa4" /* ä */, ".host",
                "a.", ".a", "a.-b", "a-.b", "a_b", "a:b", "a\nb", "/", "a\\b", "$(id)", "a;b", "*",
        };

        /* Labels joined by dots, 64 characters in all, are still fine. */
        labels64 = g_strdup_printf("%s.%s", a64 + 33, a64 + 32);
        g_assert_cmpuint(strlen(labels64), ==, 64);
        g_assert_true(machine_name_is_valid(labels64));

        for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
                g_test_message("good: %s", good[i]);
                g_assert_true(machine_name_is_valid(good[i]));
        }
        g_assert_true(machine_name_is_valid(a64));

        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_test_message("bad: %s", bad[i]);
                g_assert_false(machine_name_is_valid(bad[i]));
        }
        g_assert_false(machine_name_is_valid(a65));
        g_assert_false(machine_name_is_valid(NULL));
}

static void test_image_name(void) {
        g_autofree char *a255 = g_strnfill(255, 'a');
        g_autofree char *a256 = g_strnfill(256, 'a');
        static const char *const good[] = {
                "a", "deb", "debian-12", "foo.raw", "my image", "\xc3\xa4", ".hidden", "a.#b", "..a", "a..",
        };
        /* B09 first. */
        static const char *const bad[] = {
                "", ".", "..", "a/b", "../../etc", ".#tmp", ".#", "/", "a/", "/a",
        };

        for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
                g_test_message("good: %s", good[i]);
                g_assert_true(image_name_is_valid(good[i]));
        }
        g_assert_true(image_name_is_valid(a255));

        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_test_message("bad: %s", bad[i]);
                g_assert_false(image_name_is_valid(bad[i]));
        }
        g_assert_false(image_name_is_valid(a256));
        g_assert_false(image_name_is_valid(NULL));

        /* Every control character, anywhere in the name. */
        for (int c = 1; c < 0x20; c++) {
                char name[] = { 'a', (char) c, 'b', 0 };
                char start[] = { (char) c, 'b', 0 };

                g_assert_false(image_name_is_valid(name));
                g_assert_false(image_name_is_valid(start));
        }
        g_assert_false(image_name_is_valid("a\x7f" "b"));
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/name-util/machine-name", test_machine_name);
        g_test_add_func("/name-util/image-name", test_image_name);

        return g_test_run();
}
