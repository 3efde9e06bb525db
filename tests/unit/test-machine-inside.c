/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for what berthd reads inside machines and copies out of them: ID maps, os-release, pool
 * names, caller paths and the tree copy. */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <sys/stat.h>

#include "machine-files.h"
#include "machine-inside.h"

static void test_id_map_parse(void) {
        g_autofree IdRange *r = NULL;
        size_t n = 0;

        g_assert_cmpint(id_map_parse("         0          0 4294967295\n", &r, &n), ==, 0);
        g_assert_cmpuint(n, ==, 1);
        g_assert_true(id_map_is_identity(r, n));
        g_clear_pointer(&r, g_free);

        g_assert_cmpint(id_map_parse("0 644218880 65536\n", &r, &n), ==, 0);
        g_assert_false(id_map_is_identity(r, n));
        g_assert_cmpuint(r[0].outside, ==, 644218880);
        g_clear_pointer(&r, g_free);

        g_assert_cmpint(id_map_parse("0 300000 10\n10 400000 10\n", &r, &n), ==, 0);
        g_assert_cmpuint(n, ==, 2);
        g_clear_pointer(&r, g_free);

        g_assert_cmpint(id_map_parse("", &r, &n), ==, -ENODATA);
        g_assert_cmpint(id_map_parse("0 0\n", &r, &n), ==, -EBADMSG);
        g_assert_cmpint(id_map_parse("0 x 1\n", &r, &n), ==, -EBADMSG);
        g_assert_cmpint(id_map_parse("0 0 0\n", &r, &n), ==, -EBADMSG);
        g_assert_cmpint(id_map_parse("0 4294967295 2\n", &r, &n), ==, -EBADMSG);
        g_assert_cmpint(id_map_parse("4294967296 0 1\n", &r, &n), ==, -EBADMSG);
}

static void test_id_map_shift_and_translate(void) {
        IdRange ident[] = { { 0, 0, UINT32_MAX } };
        IdRange one[] = { { 0, 100000, 65536 } };
        IdRange two[] = { { 0, 300000, 10 }, { 10, 400000, 10 } };
        IdRange offset[] = { { 1, 100000, 65536 } };
        uint32_t v = 7;

        g_assert_cmpint(id_map_shift(ident, 1, &v), ==, 0);
        g_assert_cmpuint(v, ==, 0);
        g_assert_cmpint(id_map_shift(one, 1, &v), ==, 0);
        g_assert_cmpuint(v, ==, 100000);
        g_assert_cmpint(id_map_shift(two, 2, &v), ==, -ENXIO);
        g_assert_cmpint(id_map_shift(offset, 1, &v), ==, -ENXIO);

        g_assert_cmpint(id_map_to_outside(one, 1, 65535, &v), ==, 0);
        g_assert_cmpuint(v, ==, 165535);
        g_assert_cmpint(id_map_to_outside(one, 1, 65536, &v), ==, -ESRCH);
        g_assert_cmpint(id_map_to_outside(two, 2, 12, &v), ==, 0);
        g_assert_cmpuint(v, ==, 400002);
        g_assert_cmpint(id_map_to_outside(two, 2, 20, &v), ==, -ESRCH);

        g_assert_cmpint(id_map_to_inside(one, 1, 100000, &v), ==, 0);
        g_assert_cmpuint(v, ==, 0);
        g_assert_cmpint(id_map_to_inside(one, 1, 99999, &v), ==, -ESRCH);
        g_assert_cmpint(id_map_to_inside(two, 2, 400009, &v), ==, 0);
        g_assert_cmpuint(v, ==, 19);
        g_assert_cmpint(id_map_to_inside(ident, 1, UINT32_MAX - 1, &v), ==, 0);
        g_assert_cmpuint(v, ==, UINT32_MAX - 1);
}

static void test_os_release_parse(void) {
        const char *text =
                "# a comment\n"
                "ID=debian\n"
                "NAME=\"Debian GNU/Linux\"\n"
                "  PRETTY_NAME='single quoted'  \n"
                "ESC=\"a \\\"b\\\" \\$c \\\\d\"\n"
                "MIXED=a\"b c\"'d'\n"
                "BAD KEY=x\n"
                "=novalue\n"
                "UNTERMINATED=\"abc\n"
                "EMPTY=\n"
                "noequals\n"
                "LAST=end";
        static const char *const expected[] = {
                "ID", "debian", "NAME", "Debian GNU/Linux", "PRETTY_NAME", "single quoted",
                "ESC", "a \"b\" $c \\d", "MIXED", "ab cd", "EMPTY", "", "LAST", "end", NULL,
        };
        char **l = NULL;
        size_t i;

        g_assert_cmpint(os_release_parse(text, &l), ==, 0);
        for (i = 0; expected[i]; i++) {
                g_assert_nonnull(l[i]);
                g_assert_cmpstr(l[i], ==, expected[i]);
        }
        g_assert_null(l[i]);
        g_strfreev(l);

        g_assert_cmpint(os_release_parse("", &l), ==, 0);
        g_assert_null(l[0]);
        g_strfreev(l);
}

static void test_image_name(void) {
        g_assert_cmpstr(image_name_from_root("/var/lib/machines/foo"), ==, "foo");
        g_assert_cmpstr(image_name_from_root("/usr/lib/machines/bar"), ==, "bar");
        g_assert_cmpstr(image_name_from_root("/var/lib/container/baz"), ==, "baz");
        g_assert_null(image_name_from_root("/var/lib/machines"));
        g_assert_null(image_name_from_root("/var/lib/machines/"));
        g_assert_null(image_name_from_root("/var/lib/machines/a/b"));
        g_assert_null(image_name_from_root("/var/lib/machinesfoo"));
        g_assert_null(image_name_from_root("/srv/foo"));
        g_assert_null(image_name_from_root(""));
        g_assert_null(image_name_from_root(NULL));
}

static void test_copy_path_is_valid(void) {
        g_assert_true(copy_path_is_valid("/etc/hostname", false));
        g_assert_true(copy_path_is_valid("/a//b/", false));
        g_assert_true(copy_path_is_valid("/..a/b..", false));
        g_assert_false(copy_path_is_valid("etc/hostname", false));
        g_assert_false(copy_path_is_valid("", false));
        g_assert_false(copy_path_is_valid(NULL, false));
        g_assert_false(copy_path_is_valid("/a/../b", false));
        g_assert_false(copy_path_is_valid("/a/..", false));
        g_assert_false(copy_path_is_valid("/a/./b", false));
        g_assert_false(copy_path_is_valid("/", false));
        g_assert_false(copy_path_is_valid("//", false));
        g_assert_true(copy_path_is_valid("/", true));
}

static char *slurp(const char *dir, const char *name) {
        g_autofree char *p = g_build_filename(dir, name, NULL);
        char *s = NULL;

        if (!g_file_get_contents(p, &s, NULL, NULL))
                return NULL;
        return s;
}

static void test_copy_tree(void) {
        g_autofree char *base = g_dir_make_tmp("berth-copy-XXXXXX", NULL);
        g_autofree char *src = g_build_filename(base, "src", NULL);
        g_autofree char *dst = g_build_filename(base, "dst", NULL);
        g_autofree char *p = NULL, *s = NULL, *cmd = NULL;
        CopyOptions o = { .replace = false, .preserve_owner = false };
        char link[64] = "";
        struct stat st;
        int sfd, dfd;

        g_assert_nonnull(base);
        g_assert_cmpint(g_mkdir(src, 0755), ==, 0);
        g_assert_cmpint(g_mkdir(dst, 0755), ==, 0);
        p = g_build_filename(src, "sub", NULL);
        g_assert_cmpint(g_mkdir(p, 0750), ==, 0);
        g_clear_pointer(&p, g_free);
        p = g_build_filename(src, "sub", "f", NULL);
        g_assert_true(g_file_set_contents(p, "data", -1, NULL));
        g_assert_cmpint(chmod(p, 0604), ==, 0);
        g_clear_pointer(&p, g_free);
        p = g_build_filename(src, "l", NULL);
        g_assert_cmpint(symlink("/etc/shadow", p), ==, 0);
        g_clear_pointer(&p, g_free);
        p = g_build_filename(src, "fifo", NULL);
        g_assert_cmpint(mkfifo(p, 0600), ==, 0);

        sfd = open(src, O_PATH | O_CLOEXEC);
        dfd = open(dst, O_PATH | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(sfd, >=, 0);
        g_assert_cmpint(dfd, >=, 0);
        g_assert_cmpint(copy_tree_at(sfd, dfd, "t", &o), ==, 0);

        s = slurp(dst, "t/sub/f");
        g_assert_cmpstr(s, ==, "data");
        g_clear_pointer(&p, g_free);
        p = g_build_filename(dst, "t", "sub", "f", NULL);
        g_assert_cmpint(stat(p, &st), ==, 0);
        g_assert_cmpint(st.st_mode & 07777, ==, 0604);
        g_clear_pointer(&p, g_free);
        p = g_build_filename(dst, "t", "sub", NULL);
        g_assert_cmpint(stat(p, &st), ==, 0);
        g_assert_cmpint(st.st_mode & 07777, ==, 0750);
        g_clear_pointer(&p, g_free);
        p = g_build_filename(dst, "t", "l", NULL);
        g_assert_cmpint(readlink(p, link, sizeof link - 1), ==, (ssize_t) strlen("/etc/shadow"));
        g_assert_cmpstr(link, ==, "/etc/shadow");
        g_clear_pointer(&p, g_free);
        p = g_build_filename(dst, "t", "fifo", NULL);
        g_assert_cmpint(lstat(p, &st), ==, 0);
        g_assert_true(S_ISFIFO(st.st_mode));

        /* Existing: refused without replace; merged and replaced with it. */
        g_assert_cmpint(copy_tree_at(sfd, dfd, "t", &o), ==, -EEXIST);
        g_clear_pointer(&p, g_free);
        p = g_build_filename(src, "sub", "f", NULL);
        g_assert_true(g_file_set_contents(p, "newer", -1, NULL));
        o.replace = true;
        g_assert_cmpint(copy_tree_at(sfd, dfd, "t", &o), ==, 0);
        g_clear_pointer(&s, g_free);
        s = slurp(dst, "t/sub/f");
        g_assert_cmpstr(s, ==, "newer");

        close(sfd);
        close(dfd);
        cmd = g_strdup_printf("rm -rf '%s'", base);
        g_assert_cmpint(system(cmd), ==, 0);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/inside/id-map-parse", test_id_map_parse);
        g_test_add_func("/inside/id-map-shift", test_id_map_shift_and_translate);
        g_test_add_func("/inside/os-release", test_os_release_parse);
        g_test_add_func("/inside/image-name", test_image_name);
        g_test_add_func("/files/path-valid", test_copy_path_is_valid);
        g_test_add_func("/files/copy-tree", test_copy_tree);
        return g_test_run();
}
