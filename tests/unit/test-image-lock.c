/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for the image lock: who shares with whom, and that it goes with its holder. */
#include <fcntl.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "image-lock.h"
#include "macro.h"

typedef struct Fixture {
        char *dir;   /* scratch directory */
        char *tree;  /* a directory image in it */
        char *raw;   /* a raw image file in it */
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;

        f->dir = g_dir_make_tmp("test-image-lock-XXXXXX", &error);
        g_assert_no_error(error);
        f->tree = g_build_filename(f->dir, "tree", NULL);
        f->raw = g_build_filename(f->dir, "disk.raw", NULL);
        g_assert_cmpint(mkdir(f->tree, 0755), ==, 0);
        g_assert_true(g_file_set_contents(f->raw, "x", 1, NULL));
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);

        g_assert_cmpint(system(cmd), ==, 0);
        g_free(f->dir);
        g_free(f->tree);
        g_free(f->raw);
}

static void test_sharing(Fixture *f, gconstpointer data) {
        const char *paths[] = { f->tree, f->raw };

        for (size_t i = 0; i < G_N_ELEMENTS(paths); i++) {
                int a, b, c;

                g_test_message("image %s", paths[i]);
                g_assert_cmpint(image_lock_held(paths[i]), ==, 0);

                /* Writable: the image to itself. */
                a = image_lock(paths[i], true);
                g_assert_cmpint(a, >=, 0);
                g_assert_cmpint(image_lock(paths[i], true), ==, -EBUSY);
                g_assert_cmpint(image_lock(paths[i], false), ==, -EBUSY);
                g_assert_cmpint(image_lock_held(paths[i]), ==, 1);
                safe_close(a);
                g_assert_cmpint(image_lock_held(paths[i]), ==, 0);

                /* Read-only: shared with read-only ones, never with a writable one. */
                a = image_lock(paths[i], false);
                b = image_lock(paths[i], false);
                g_assert_cmpint(a, >=, 0);
                g_assert_cmpint(b, >=, 0);
                g_assert_cmpint(image_lock(paths[i], true), ==, -EBUSY);
                g_assert_cmpint(image_lock_held(paths[i]), ==, 1);
                safe_close(a);
                g_assert_cmpint(image_lock(paths[i], true), ==, -EBUSY);
                safe_close(b);
                c = image_lock(paths[i], true);
                g_assert_cmpint(c, >=, 0);
                safe_close(c);
        }
}

static void test_cloexec_and_errors(Fixture *f, gconstpointer data) {
        g_autofree char *fifo = g_build_filename(f->dir, "fifo", NULL);
        g_autofree char *missing = g_build_filename(f->dir, "missing", NULL);
        int fd;

        /* Never handed to what the holder executes: the container must not see it. */
        fd = image_lock(f->tree, true);
        g_assert_cmpint(fd, >=, 0);
        g_assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        safe_close(fd);

        g_assert_cmpint(image_lock(missing, true), ==, -ENOENT);
        g_assert_cmpint(image_lock_held(missing), ==, -ENOENT);

        /* A FIFO planted where an image should be does not hang the caller. */
        g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
        fd = image_lock(fifo, false);
        g_assert_cmpint(fd, >=, 0);
        safe_close(fd);
}

/* The lock is on the image's inode: it follows the image through a rename. */
static void test_rename(Fixture *f, gconstpointer data) {
        g_autofree char *moved = g_build_filename(f->dir, "moved", NULL);
        int fd;

        fd = image_lock(f->tree, true);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(rename(f->tree, moved), ==, 0);
        g_assert_cmpint(image_lock(moved, false), ==, -EBUSY);
        g_assert_cmpint(image_lock_held(moved), ==, 1);
        g_assert_cmpint(rename(moved, f->tree), ==, 0);
        safe_close(fd);
}

/* A holder killed with SIGKILL leaves no lock behind. */
static void test_holder_killed(Fixture *f, gconstpointer data) {
        int pipefd[2], status;
        char c;
        pid_t pid;

        g_assert_cmpint(pipe(pipefd), ==, 0);
        pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                int fd = image_lock(f->tree, true);

                (void) write(pipefd[1], fd >= 0 ? "y" : "n", 1);
                for (;;)
                        pause();
        }
        close(pipefd[1]);
        g_assert_cmpint(read(pipefd[0], &c, 1), ==, 1);
        g_assert_cmpint(c, ==, 'y');
        close(pipefd[0]);
        g_assert_cmpint(image_lock(f->tree, false), ==, -EBUSY);
        g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        g_assert_cmpint(image_lock_held(f->tree), ==, 0);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add(name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
        ADD("/image-lock/sharing", test_sharing);
        ADD("/image-lock/cloexec-and-errors", test_cloexec_and_errors);
        ADD("/image-lock/rename", test_rename);
        ADD("/image-lock/holder-killed", test_holder_killed);
        return g_test_run();
}
