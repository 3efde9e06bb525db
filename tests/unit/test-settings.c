/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for settings.c: string tables, mount specifications and user namespace ranges. */
#include <glib.h>
#include <stdint.h>

#include "settings.h"
#include "strv.h"

/* Every value of each table survives a round trip; junk and out-of-range values do not. */
#define TEST_TABLE(name, type, max)                                                          \
        do {                                                                                 \
                for (int i = 0; i < (max); i++) {                                            \
                        const char *str = name##_to_string((type) i);                        \
                                                                                             \
                        g_assert_nonnull(str);                                               \
                        g_assert_cmpint(name##_from_string(str), ==, i);                     \
                        g_assert_cmpstr(name##_to_string(name##_from_string(str)), ==, str); \
                }                                                                            \
                g_assert_cmpint(name##_from_string("junk"), <, 0);                           \
                g_assert_cmpint(name##_from_string(""), <, 0);                               \
                g_assert_cmpint(name##_from_string(NULL), <, 0);                             \
                g_assert_null(name##_to_string((type) (max)));                               \
                g_assert_null(name##_to_string((type) -1));                                  \
                g_assert_null(name##_to_string((type) 1000));                                \
        } while (0)

static void test_string_tables(void) {
        TEST_TABLE(console_mode, ConsoleMode, _CONSOLE_MODE_MAX);
        TEST_TABLE(userns_mode, UserNamespaceMode, _USERNS_MODE_MAX);
        TEST_TABLE(ownership, UserNamespaceOwnership, _OWNERSHIP_MAX);
        TEST_TABLE(volatile_mode, VolatileMode, _VOLATILE_MAX);
        TEST_TABLE(custom_mount_type, CustomMountType, _CUSTOM_MOUNT_MAX);

        /* The spellings users type (and nspawn uses) are the ones in the tables. */
        g_assert_cmpint(console_mode_from_string("read-only"), ==, CONSOLE_READ_ONLY);
        g_assert_cmpint(volatile_mode_from_string("state"), ==, VOLATILE_STATE);
        g_assert_cmpint(ownership_from_string("chown"), ==, OWNERSHIP_CHOWN);
        g_assert_cmpint(custom_mount_type_from_string("bind-ro"), ==, CUSTOM_MOUNT_BIND_RO);
        g_assert_cmpint(custom_mount_type_from_string("overlay-ro"), ==, CUSTOM_MOUNT_OVERLAY_RO);
}

/* Parses SPEC into a fresh Settings; returns the result and leaves the mount in *s. */
static int parse_one(Settings *s, CustomMountType type, const char *spec) {
        settings_done(s);
        settings_init(s);
        return settings_parse_mount(s, type, spec);
}

static void test_mount_bind(void) {
        Settings s;

        settings_init(&s);

        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_BIND, "/srv"), ==, 0);
        g_assert_cmpuint(s.n_mounts, ==, 1);
        g_assert_cmpint(s.mounts[0].type, ==, CUSTOM_MOUNT_BIND);
        g_assert_cmpstr(s.mounts[0].source, ==, "/srv");
        g_assert_cmpstr(s.mounts[0].destination, ==, "/srv");
        g_assert_null(s.mounts[0].options);

        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_BIND_RO, "/srv/data:/data"), ==, 0);
        g_assert_cmpint(s.mounts[0].type, ==, CUSTOM_MOUNT_BIND_RO);
        g_assert_cmpstr(s.mounts[0].source, ==, "/srv/data");
        g_assert_cmpstr(s.mounts[0].destination, ==, "/data");

        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_BIND, "/srv:/data:rbind"), ==, 0);
        g_assert_cmpstr(s.mounts[0].options, ==, "rbind");
        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_BIND, "/srv:/data:norbind"), ==, 0);
        g_assert_cmpstr(s.mounts[0].options, ==, "norbind");
        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_BIND, "/srv:/data:idmap"), ==, 0);
        g_assert_cmpstr(s.mounts[0].options, ==, "idmap");

        /* An empty destination means "the same path". */
        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_BIND, "/srv::rbind"), ==, 0);
        g_assert_cmpstr(s.mounts[0].destination, ==, "/srv");

        /* "\:" is a colon inside a path, "\\" a backslash. */
        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_BIND, "/a\\:b:/c"), ==, 0);
        g_assert_cmpstr(s.mounts[0].source, ==, "/a:b");
        g_assert_cmpstr(s.mounts[0].destination, ==, "/c");
        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_BIND, "/a\\\\b:/c\\:d"), ==, 0);
        g_assert_cmpstr(s.mounts[0].source, ==, "/a\\b");
        g_assert_cmpstr(s.mounts[0].destination, ==, "/c:d");

        /* Refused, and nothing added. */
        static const char *const bad[] = {
                "",               /* empty */
                "a\\:b:/c",       /* relative source, even with an escaped colon */
                "srv",            /* relative source */
                "srv:/data",      /* relative source */
                ":/data",         /* empty source */
                "/srv:data",      /* relative destination */
                "/srv:/a/../b",   /* climbing destination */
                "/srv:/..",       /* climbing destination */
                "/a/../b",        /* the same path as destination, climbing */
                "/srv:/data:ro",  /* unknown option */
                "/srv:/data:",    /* empty option */
                "/srv:/data:rbind:x", /* too many parts */
        };
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_test_message("bind %s", bad[i]);
                g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_BIND, bad[i]), ==, -EINVAL);
                g_assert_cmpuint(s.n_mounts, ==, 0);
        }

        /* A climbing name that is not a ".." component is just a name. */
        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_BIND, "/srv:/a..b/..c"), ==, 0);

        /* Mounts accumulate in order. */
        settings_done(&s);
        settings_init(&s);
        g_assert_cmpint(settings_parse_mount(&s, CUSTOM_MOUNT_BIND, "/a"), ==, 0);
        g_assert_cmpint(settings_parse_mount(&s, CUSTOM_MOUNT_TMPFS, "/b"), ==, 0);
        g_assert_cmpuint(s.n_mounts, ==, 2);
        g_assert_cmpstr(s.mounts[1].destination, ==, "/b");

        settings_done(&s);
}

static void test_mount_tmpfs(void) {
        Settings s;

        settings_init(&s);
        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_TMPFS, "/scratch:mode=0755,size=1M"), ==, 0);
        g_assert_cmpint(s.mounts[0].type, ==, CUSTOM_MOUNT_TMPFS);
        g_assert_null(s.mounts[0].source);
        g_assert_cmpstr(s.mounts[0].destination, ==, "/scratch");
        g_assert_cmpstr(s.mounts[0].options, ==, "mode=0755,size=1M");

        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_TMPFS, "/scratch"), ==, 0);
        g_assert_null(s.mounts[0].options);

        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_TMPFS, "scratch"), ==, -EINVAL);
        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_TMPFS, "/a/../b"), ==, -EINVAL);
        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_TMPFS, "/a:mode=1:x"), ==, -EINVAL);
        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_TMPFS, ""), ==, -EINVAL);
        g_assert_cmpuint(s.n_mounts, ==, 0);
        settings_done(&s);
}

static void test_mount_overlay(void) {
        Settings s;

        settings_init(&s);

        /* Writable: LOWER…:UPPER:DST, so at least three parts. */
        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_OVERLAY, "/lower:/upper:/dst"), ==, 0);
        g_assert_cmpint(s.mounts[0].type, ==, CUSTOM_MOUNT_OVERLAY);
        g_assert_cmpuint(strv_length(s.mounts[0].lower), ==, 1);
        g_assert_cmpstr(s.mounts[0].lower[0], ==, "/lower");
        g_assert_cmpstr(s.mounts[0].upper, ==, "/upper");
        g_assert_cmpstr(s.mounts[0].destination, ==, "/dst");

        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_OVERLAY, "/l1:/l2:/upper:/dst"), ==, 0);
        g_assert_cmpuint(strv_length(s.mounts[0].lower), ==, 2);
        g_assert_cmpstr(s.mounts[0].lower[0], ==, "/l1");
        g_assert_cmpstr(s.mounts[0].lower[1], ==, "/l2");

        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_OVERLAY, "/lower:/dst"), ==, -EINVAL);
        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_OVERLAY, "/dst"), ==, -EINVAL);
        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_OVERLAY, "lower:/upper:/dst"), ==, -EINVAL);
        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_OVERLAY, "/lower:upper:/dst"), ==, -EINVAL);
        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_OVERLAY, "/lower::/dst"), ==, -EINVAL);
        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_OVERLAY, "/lower:/upper:dst"), ==, -EINVAL);
        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_OVERLAY, "/lower:/upper:/a/../dst"), ==, -EINVAL);
        g_assert_cmpuint(s.n_mounts, ==, 0);

        /* Read-only: LOWER…:DST, no upper. */
        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_OVERLAY_RO, "/lower:/dst"), ==, 0);
        g_assert_cmpint(s.mounts[0].type, ==, CUSTOM_MOUNT_OVERLAY_RO);
        g_assert_null(s.mounts[0].upper);
        g_assert_cmpuint(strv_length(s.mounts[0].lower), ==, 1);
        g_assert_cmpstr(s.mounts[0].destination, ==, "/dst");

        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_OVERLAY_RO, "/l1:/l2:/dst"), ==, 0);
        g_assert_cmpuint(strv_length(s.mounts[0].lower), ==, 2);

        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_OVERLAY_RO, "/dst"), ==, -EINVAL);
        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_OVERLAY_RO, "l1:/dst"), ==, -EINVAL);
        g_assert_cmpint(parse_one(&s, CUSTOM_MOUNT_OVERLAY_RO, "/l1:dst"), ==, -EINVAL);
        g_assert_cmpuint(s.n_mounts, ==, 0);

        /* Not a mount type. */
        g_assert_cmpint(parse_one(&s, _CUSTOM_MOUNT_MAX, "/a"), ==, -EINVAL);
        g_assert_cmpint(parse_one(&s, (CustomMountType) -1, "/a"), ==, -EINVAL);
        g_assert_cmpuint(s.n_mounts, ==, 0);
        settings_done(&s);
}

static void assert_userns(const char *value, UserNamespaceMode mode, uid_t shift, uid_t range) {
        Settings s;

        g_test_message("PrivateUsers=%s", value);
        settings_init(&s);
        g_assert_cmpint(settings_parse_private_users(&s, value), ==, 0);
        g_assert_cmpint(s.userns_mode, ==, mode);
        if (mode == USERNS_FIXED || mode == USERNS_IDENTITY)
                g_assert_cmpuint(s.uid_shift, ==, shift);
        g_assert_cmpuint(s.uid_range, ==, range);
        settings_done(&s);
}

static void test_private_users(void) {
        Settings s;

        assert_userns("no", USERNS_NO, 0, 0x10000);
        assert_userns("false", USERNS_NO, 0, 0x10000);
        assert_userns("yes", USERNS_PICK, 0, 0x10000);
        assert_userns("true", USERNS_PICK, 0, 0x10000);
        assert_userns("pick", USERNS_PICK, 0, 0x10000);
        assert_userns("identity", USERNS_IDENTITY, 0, 0x10000);
        assert_userns("100000", USERNS_FIXED, 100000, 0x10000);
        assert_userns("100000:65536", USERNS_FIXED, 100000, 65536);
        assert_userns("524288:1000", USERNS_FIXED, 524288, 1000);
        /* The very top of the UID space, without reaching (uid_t) -1. */
        assert_userns("4294901759", USERNS_FIXED, 4294901759u, 0x10000);
        assert_userns("4294967294:1", USERNS_FIXED, 4294967294u, 1);

        static const char *const bad[] = {
                "4294967295:2", /* (uid_t) -1 is never a valid UID */
                "4294967294:2", /* the range would reach it */
                "4294901760",   /* BASE + 65536 overflows */
                "4294967296",   /* beyond 32 bits */
                "99999999999999999999",
                "0:0",          /* empty range */
                "5:0",
                "-1",
                "-1:5",
                "+5",
                "5:-1",
                "5:",
                ":5",
                ":",
                "1:2:3",
                "0x10000",
                "junk",
                "",
                "pickme",
        };
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_test_message("PrivateUsers=%s", bad[i]);
                settings_init(&s);
                s.userns_mode = USERNS_PICK;
                g_assert_cmpint(settings_parse_private_users(&s, bad[i]), ==, -EINVAL);
                /* A refused value leaves the mode alone. */
                g_assert_cmpint(s.userns_mode, ==, USERNS_PICK);
                settings_done(&s);
        }
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/settings/string-tables", test_string_tables);
        g_test_add_func("/settings/mount-bind", test_mount_bind);
        g_test_add_func("/settings/mount-tmpfs", test_mount_tmpfs);
        g_test_add_func("/settings/mount-overlay", test_mount_overlay);
        g_test_add_func("/settings/private-users", test_private_users);

        return g_test_run();
}
