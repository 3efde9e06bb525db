/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for image snapshots without a bus: make, list, default names, restore, hide and remove, follow renames, clean leftovers. */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image-snapshot.h"

static char *pool;

static char *path_of(const char *rel) {
        return g_build_filename(pool, rel, NULL);
}

static void write_file(const char *rel, const char *content) {
        g_autofree char *p = path_of(rel);

        g_assert_true(g_file_set_contents(p, content, -1, NULL));
}

static char *read_file(const char *rel) {
        g_autofree char *p = path_of(rel);
        char *c = NULL;

        return g_file_get_contents(p, &c, NULL, NULL) ? c : NULL;
}

static bool exists(const char *rel) {
        g_autofree char *p = path_of(rel);
        struct stat st;

        return lstat(p, &st) == 0;
}

static int open_image(const char *rel) {
        g_autofree char *p = path_of(rel);
        int fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

        g_assert_cmpint(fd, >=, 0);
        return fd;
}

/* No ".#" entry anywhere in the pool's top, the store's top or IMAGE's store. */
static void assert_no_hidden(const char *image) {
        const char *dirs[] = { "", ".snapshots", image };

        for (size_t k = 0; k < G_N_ELEMENTS(dirs); k++) {
                g_autofree char *p = k == 2 ? g_build_filename(pool, ".snapshots", image, NULL) : path_of(dirs[k]);
                g_autoptr(GDir) d = g_dir_open(p, 0, NULL);
                const char *n;

                while (d && (n = g_dir_read_name(d)))
                        g_assert_false(g_str_has_prefix(n, ".#"));
        }
}

static void make_image(void) {
        g_autofree char *img = path_of("img"), *a = path_of("img/a"), *b = path_of("img/b");

        g_assert_cmpint(g_mkdir_with_parents(img, 0755), ==, 0);
        write_file("img/a", "one");
        g_assert_cmpint(link(a, b), ==, 0);
        g_autofree char *sym = g_build_filename(img, "sym", NULL);

        g_assert_cmpint(symlink("a", sym), ==, 0);
}

static void test_create_list(void) {
        g_autofree char *name = NULL, *name2 = NULL, *c = NULL;
        ImageSnapshot **l = NULL;
        ImageSnapshot *s = NULL;
        struct stat sa, sb;
        int fd;

        make_image();
        fd = open_image("img");
        g_assert_cmpint(image_snapshot_create(fd, "img", "s1", false, &name), ==, 0);
        g_assert_cmpstr(name, ==, "s1");
        c = read_file(".snapshots/img/s1/a");
        g_assert_cmpstr(c, ==, "one");
        g_assert_cmpint(lstat(g_build_filename(pool, ".snapshots/img/s1/a", NULL), &sa), ==, 0);
        g_assert_cmpint(lstat(g_build_filename(pool, ".snapshots/img/s1/b", NULL), &sb), ==, 0);
        g_assert_cmpuint(sa.st_ino, ==, sb.st_ino);
        g_assert_cmpint(image_snapshot_create(fd, "img", "s1", false, &name2), ==, -EEXIST);
        g_assert_cmpint(image_snapshot_create(fd, "img", "s1", true, &name2), ==, 0);
        g_assert_cmpstr(name2, ==, "s1-1");
        g_assert_cmpint(image_snapshot_create(fd, "img", ".#bad", false, &name2), ==, -EINVAL);
        {
                g_autofree char *long_name = g_strnfill(255, 'x'), *got = NULL;
                g_autofree char *hidden = NULL;

                /* The longest valid name: the hidden work names must still fit. */
                g_assert_cmpint(image_snapshot_create(fd, "img", long_name, false, &got), ==, 0);
                g_assert_cmpstr(got, ==, long_name);
                g_assert_cmpint(image_snapshot_hide("img", long_name, &hidden), ==, 0);
                g_assert_cmpint(image_snapshot_remove_hidden("img", hidden), ==, 0);
        }
        close(fd);
        assert_no_hidden("img");

        write_file("img/a", "changed");
        c = read_file(".snapshots/img/s1/b");
        g_assert_cmpstr(c, ==, "one");

        g_assert_cmpint(image_snapshot_list("img", &l), ==, 0);
        g_assert_nonnull(l[0]);
        g_assert_nonnull(l[1]);
        g_assert_null(l[2]);
        g_assert_cmpstr(l[0]->name, ==, "s1");
        g_assert_cmpstr(l[1]->name, ==, "s1-1");
        g_assert_cmpuint(l[0]->crtime, <=, l[1]->crtime);
        g_assert_cmpuint(l[0]->crtime, >, 0);
        image_snapshot_list_free(l);

        g_assert_cmpint(image_snapshot_list("other", &l), ==, 0);
        g_assert_null(l[0]);
        image_snapshot_list_free(l);

        g_assert_cmpint(image_snapshot_find("img", "s1", &s), ==, 0);
        image_snapshot_free(s);
        g_assert_cmpint(image_snapshot_find("img", "nope", &s), ==, -ENOENT);
        g_assert_cmpint(image_snapshot_find("img", "..", &s), ==, -ENOENT);
        g_assert_cmpint(image_snapshot_find("other", "s1", &s), ==, -ENOENT);
}

static void test_default_name(void) {
        g_autofree char *name = NULL, *name2 = NULL, *name3 = NULL, *dir = NULL;

        g_assert_cmpint(image_snapshot_default_name("img", &name), ==, 0);
        g_assert_true(g_regex_match_simple("^[0-9]{8}-[0-9]{6}$", name, 0, 0));
        /* Take this second's name and the next few: the default must append -N. */
        for (int i = 0; i < 5; i++) {
                g_autoptr(GDateTime) t = g_date_time_new_now_utc();
                g_autoptr(GDateTime) u = g_date_time_add_seconds(t, i);
                g_autofree char *n = g_date_time_format(u, "%Y%m%d-%H%M%S");
                g_autofree char *p = g_build_filename(pool, ".snapshots/img", n, NULL);

                g_assert_cmpint(g_mkdir_with_parents(p, 0700), ==, 0);
        }
        g_assert_cmpint(image_snapshot_default_name("img", &name2), ==, 0);
        g_assert_true(g_regex_match_simple("^[0-9]{8}-[0-9]{6}-1$", name2, 0, 0));
        {
                g_autofree char *p = path_of(".snapshots/img");
                g_autoptr(GDir) d = g_dir_open(p, 0, NULL);
                const char *n;

                /* The taken names are empty directories; the snapshots are not. */
                while (d && (n = g_dir_read_name(d))) {
                        g_autofree char *e = g_build_filename(p, n, NULL);

                        if (g_regex_match_simple("^[0-9]{8}-[0-9]{6}$", n, 0, 0))
                                (void) rmdir(e);
                }
        }
        dir = g_build_filename(pool, ".snapshots/fresh", NULL);
        g_assert_cmpint(image_snapshot_default_name("fresh", &name3), ==, 0);
        g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
}

static void test_restore(void) {
        g_autofree char *img = path_of("img"), *c = NULL;
        struct stat before, after;

        write_file("img/new", "new");
        g_assert_cmpint(stat(img, &before), ==, 0);
        g_assert_cmpint(image_snapshot_restore(img, "img", "s1"), ==, 0);
        g_assert_cmpint(stat(img, &after), ==, 0);
        g_assert_cmpuint(before.st_ino, !=, after.st_ino);
        c = read_file("img/a");
        g_assert_cmpstr(c, ==, "one");
        g_assert_false(exists("img/new"));
        g_assert_true(exists(".snapshots/img/s1/a"));
        assert_no_hidden("img");
        g_assert_cmpint(image_snapshot_restore(img, "img", "nope"), ==, -ENOENT);

        /* A raw image file and a directory snapshot do not go together. */
        write_file("img.raw", "raw");
        g_assert_cmpint(image_snapshot_restore(g_build_filename(pool, "img.raw", NULL), "img", "s1"), ==,
                        -EMEDIUMTYPE);
        assert_no_hidden("img");
}

static void test_raw(void) {
        g_autofree char *raw = path_of("disk.raw"), *name = NULL, *c = NULL;
        struct stat st;
        int fd;

        write_file("disk.raw", "raw data");
        g_assert_cmpint(truncate(raw, 64 << 20), ==, 0);
        g_assert_cmpint(chmod(raw, 0640), ==, 0);
        fd = open_image("disk.raw");
        g_assert_cmpint(image_snapshot_create(fd, "disk", "r1", false, &name), ==, 0);
        close(fd);
        g_assert_cmpint(stat(g_build_filename(pool, ".snapshots/disk/r1", NULL), &st), ==, 0);
        g_assert_cmpint(st.st_size, ==, 64 << 20);
        g_assert_cmpint(st.st_mode & 07777, ==, 0640);
        g_assert_cmpint(st.st_blocks, <, 8192); /* holes stay holes */
        write_file("disk.raw", "other");
        g_assert_cmpint(image_snapshot_restore(raw, "disk", "r1"), ==, 0);
        g_assert_cmpint(stat(raw, &st), ==, 0);
        g_assert_cmpint(st.st_size, ==, 64 << 20);
        fd = open(raw, O_RDONLY | O_CLOEXEC);
        {
                char buf[9] = {};

                g_assert_cmpint(read(fd, buf, 8), ==, 8);
                g_assert_cmpstr(buf, ==, "raw data");
        }
        close(fd);
        assert_no_hidden("disk");
}

static void test_hide_remove(void) {
        g_autofree char *hidden = NULL;

        g_assert_cmpint(image_snapshot_hide("img", "s1-1", &hidden), ==, 0);
        g_assert_true(g_str_has_prefix(hidden, ".#remove.s1-1."));
        g_assert_false(exists(".snapshots/img/s1-1"));
        g_assert_cmpint(image_snapshot_remove_hidden("img", hidden), ==, 0);
        assert_no_hidden("img");
        g_assert_cmpint(image_snapshot_hide("img", "s1-1", &hidden), ==, -ENOENT);
        g_assert_cmpint(image_snapshot_remove_hidden("img", "../x"), ==, -EINVAL);
}

static void test_rename_remove(void) {
        g_autofree char *other = path_of(".snapshots/taken");

        g_assert_cmpint(image_snapshots_rename("img", "img2"), ==, 0);
        g_assert_false(exists(".snapshots/img"));
        g_assert_true(exists(".snapshots/img2/s1/a"));
        g_assert_cmpint(image_snapshots_rename("none", "none2"), ==, 0);
        g_assert_cmpint(g_mkdir_with_parents(other, 0700), ==, 0);
        g_assert_cmpint(image_snapshots_rename("img2", "taken"), ==, -EEXIST);
        g_assert_cmpint(image_snapshots_rename("img2", "a/b"), ==, -EINVAL);

        g_assert_cmpint(image_snapshots_remove("img2"), ==, 0);
        g_assert_false(exists(".snapshots/img2"));
        g_assert_cmpint(image_snapshots_remove("img2"), ==, 0);
        assert_no_hidden("img2");
}

static void test_clean(void) {
        g_autofree char *a = path_of(".snapshots/disk/.#r2.12345678/x"), *b = path_of(".snapshots/.#remove.y.1/s/z");

        g_assert_cmpint(g_mkdir_with_parents(a, 0700), ==, 0);
        g_assert_cmpint(g_mkdir_with_parents(b, 0700), ==, 0);
        g_assert_cmpint(image_snapshots_clean(), ==, 2);
        assert_no_hidden("disk");
        g_assert_true(exists(".snapshots/disk/r1"));
        g_assert_cmpint(image_snapshots_clean(), ==, 0);
}

int main(int argc, char **argv) {
        g_autofree char *tmpl = g_build_filename(g_getenv("BERTH_TEST_TMP") ?: "/var/tmp", "snapshot-test.XXXXXX", NULL);
        int r;

        g_test_init(&argc, &argv, NULL);
        pool = g_mkdtemp(tmpl);
        g_assert_nonnull(pool);
        g_setenv("BERTH_IMAGE_POOL", pool, TRUE);
        /* In order: each test works on what the one before left. */
        g_test_add_func("/image-snapshot/create-list", test_create_list);
        g_test_add_func("/image-snapshot/default-name", test_default_name);
        g_test_add_func("/image-snapshot/restore", test_restore);
        g_test_add_func("/image-snapshot/raw", test_raw);
        g_test_add_func("/image-snapshot/hide-remove", test_hide_remove);
        g_test_add_func("/image-snapshot/rename-remove", test_rename_remove);
        g_test_add_func("/image-snapshot/clean", test_clean);
        r = g_test_run();
        {
                g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", pool);

                (void) !system(cmd);
        }
        return r;
}
