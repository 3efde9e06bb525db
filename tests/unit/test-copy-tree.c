/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for copy_tree_full()'s progress callback: it reports the bytes copied, and stops the copy. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copy-tree.h"

typedef struct Seen {
        unsigned calls;
        uint64_t last;
        bool shrank;
        int stop_with; /* 0: never stop */
} Seen;

static int on_progress(uint64_t done, void *userdata) {
        Seen *s = userdata;

        if (done < s->last)
                s->shrank = true;
        s->last = done;
        s->calls++;
        return s->stop_with;
}

/* SRC with N files of SIZE bytes each. */
static char *make_src(const char *base, unsigned n, size_t size) {
        char *src = g_build_filename(base, "src", NULL);
        g_autofree char *data = g_malloc0(size);

        g_assert_cmpint(g_mkdir(src, 0755), ==, 0);
        for (unsigned i = 0; i < n; i++) {
                g_autofree char *name = g_strdup_printf("f%u", i);
                g_autofree char *p = g_build_filename(src, name, NULL);

                g_assert_true(g_file_set_contents(p, data, (gssize) size, NULL));
        }
        return src;
}

static void test_progress(void) {
        g_autofree char *base = g_dir_make_tmp("berth-copyp-XXXXXX", NULL);
        g_autofree char *src = make_src(base, 8, 3 << 20);
        g_autofree char *dst = g_build_filename(base, "dst", NULL);
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", base);
        Seen s = {};
        int fd;

        g_assert_cmpint(g_mkdir(dst, 0700), ==, 0);
        fd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(copy_tree_full(fd, dst, on_progress, &s), ==, 0);
        /* Always a last call with the whole; never going backwards. */
        g_assert_cmpuint(s.calls, >=, 1);
        g_assert_cmpuint(s.last, ==, 8U * (3U << 20));
        g_assert_false(s.shrank);
        g_assert_cmpint(system(cmd), ==, 0);
        close(fd);
}

static void test_cancel(void) {
        g_autofree char *base = g_dir_make_tmp("berth-copyc-XXXXXX", NULL);
        g_autofree char *src = make_src(base, 3, 1024);
        g_autofree char *dst = g_build_filename(base, "dst", NULL);
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", base);
        Seen s = { .stop_with = -ECANCELED };
        int fd;

        g_assert_cmpint(g_mkdir(dst, 0700), ==, 0);
        fd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        /* The first call (the first file, or the end) stops it with the callback's error. */
        g_assert_cmpint(copy_tree_full(fd, dst, on_progress, &s), ==, -ECANCELED);
        g_assert_cmpuint(s.calls, ==, 1);
        g_assert_cmpint(system(cmd), ==, 0);
        close(fd);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/copy-tree/progress", test_progress);
        g_test_add_func("/copy-tree/cancel", test_cancel);
        return g_test_run();
}
