/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for the names a template build uses and the probe berthd's pool clean makes on its lock. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include "fd-util.h"
#include "macro.h"
#include "template-build.h"

static void assert_parse(const char *entry, TemplateEntry type, const char *name) {
        _cleanup_free_ char *n = NULL;
        TemplateEntry t;

        g_assert_cmpint(template_entry_parse(entry, &t, &n), ==, 0);
        g_assert_cmpint(t, ==, type);
        g_assert_cmpstr(n, ==, name);
}

static void test_names(void) {
        _cleanup_free_ char *b = NULL, *l = NULL;

        g_assert_cmpint(template_build_name("new", 0x1234abcd, &b), ==, 0);
        g_assert_cmpstr(b, ==, ".#new.template-1234abcd");
        g_assert_cmpint(template_lock_name("new", &l), ==, 0);
        g_assert_cmpstr(l, ==, ".#new.lock");
        /* What the builder makes is what the clean recognises. */
        assert_parse(b, TEMPLATE_ENTRY_BUILD, "new");
        assert_parse(l, TEMPLATE_ENTRY_LOCK, "new");

        assert_parse(".#new.raw.template-0000000f", TEMPLATE_ENTRY_BUILD, "new.raw");
        assert_parse(".#a.template-12345678.template-deadbeef", TEMPLATE_ENTRY_BUILD, "a.template-12345678");
        assert_parse(".#a.lock.lock", TEMPLATE_ENTRY_LOCK, "a.lock");
        /* Not ours: other hidden work, images that merely look alike, wrong digits. */
        assert_parse(".#clone-new.abc123", TEMPLATE_ENTRY_NONE, NULL);
        assert_parse("new.template-1234abcd", TEMPLATE_ENTRY_NONE, NULL);
        assert_parse("new.lock", TEMPLATE_ENTRY_NONE, NULL);
        assert_parse(".#new.template-1234ABCD", TEMPLATE_ENTRY_NONE, NULL);
        assert_parse(".#new.template-1234abc", TEMPLATE_ENTRY_NONE, NULL);
        assert_parse(".#new.template-1234abcde", TEMPLATE_ENTRY_NONE, NULL);
        assert_parse(".#.lock", TEMPLATE_ENTRY_NONE, NULL);
        assert_parse(".#", TEMPLATE_ENTRY_NONE, NULL);
        assert_parse("", TEMPLATE_ENTRY_NONE, NULL);
}

static void test_lock_shared(void) {
        g_autoptr(GError) error = NULL;
        g_autofree char *dir = g_dir_make_tmp("test-template-build-XXXXXX", &error);
        g_autofree char *lock = NULL, *cmd = NULL;
        _cleanup_close_ int dir_fd = -EBADF, holder = -EBADF, fd = -EBADF;

        g_assert_no_error(error);
        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(dir_fd, >=, 0);

        /* No lock file: nobody builds, and the probe does not make one. */
        g_assert_cmpint(template_build_lock_shared(dir_fd, ".#new.template-1234abcd"), ==, -ENOENT);
        g_assert_cmpint(faccessat(dir_fd, ".#new.lock", F_OK, AT_SYMLINK_NOFOLLOW), <, 0);
        g_assert_cmpint(template_build_lock_shared(dir_fd, ".#clone-new.abc123"), ==, -ENOENT);

        /* A builder holds the lock: busy for the build and for the lock file itself. (flock()
         * locks belong to open files: the probe's own open conflicts with ours.) */
        lock = g_build_filename(dir, ".#new.lock", NULL);
        holder = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        g_assert_cmpint(holder, >=, 0);
        g_assert_cmpint(flock(holder, LOCK_EX | LOCK_NB), ==, 0);
        g_assert_cmpint(template_build_lock_shared(dir_fd, ".#new.template-1234abcd"), ==, -EBUSY);
        g_assert_cmpint(template_build_lock_shared(dir_fd, ".#new.lock"), ==, -EBUSY);

        /* Released: the probe gets it shared, and a builder must wait until it lets go. */
        holder = safe_close(holder);
        fd = template_build_lock_shared(dir_fd, ".#new.template-1234abcd");
        g_assert_cmpint(fd, >=, 0);
        holder = open(lock, O_RDWR | O_CLOEXEC);
        g_assert_cmpint(holder, >=, 0);
        g_assert_cmpint(flock(holder, LOCK_EX | LOCK_NB), <, 0);
        fd = safe_close(fd);
        g_assert_cmpint(flock(holder, LOCK_EX | LOCK_NB), ==, 0);
        holder = safe_close(holder);

        /* A lock file that is a symlink is not followed. */
        g_assert_cmpint(unlink(lock), ==, 0);
        g_assert_cmpint(symlinkat("/etc/passwd", dir_fd, ".#new.lock"), ==, 0);
        g_assert_cmpint(template_build_lock_shared(dir_fd, ".#new.lock"), ==, -ELOOP);

        cmd = g_strdup_printf("rm -rf '%s'", dir);
        g_assert_cmpint(system(cmd), ==, 0);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/template-build/names", test_names);
        g_test_add_func("/template-build/lock-shared", test_lock_shared);
        return g_test_run();
}
