/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of reading and parsing an image's identity files: hostile trees (A05) and odd contents. */

#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image-metadata.h"
#include "strv.h"

static char *root;

static void put(const char *rel, const char *content) {
        g_autofree char *p = g_build_filename(root, rel, NULL);
        g_autofree char *d = g_path_get_dirname(p);

        g_assert_cmpint(g_mkdir_with_parents(d, 0755), ==, 0);
        g_assert_true(g_file_set_contents(p, content, -1, NULL));
}

static void link_to(const char *target, const char *rel) {
        g_autofree char *p = g_build_filename(root, rel, NULL);

        (void) unlink(p);
        g_assert_cmpint(symlink(target, p), ==, 0);
}

/* Reads FIELD from the tree; returns the errno-style result, the text in *RET. */
static int read_field(ImageMetadataField field, char **ret, size_t *size) {
        int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC), r;

        g_assert_cmpint(fd, >=, 0);
        r = image_metadata_read(fd, field, ret, size);
        close(fd);
        return r;
}

static void test_symlinks_stay_inside(void) {
        char *t = NULL;
        size_t n = 0;

        /* Host /etc/shadow exists (or not): the image's own is what counts. */
        put("etc/shadow", "IMAGE-SHADOW\n");
        link_to("/etc/shadow", "etc/os-release");
        g_assert_cmpint(read_field(IMAGE_METADATA_OS_RELEASE, &t, &n), ==, 0);
        g_assert_cmpstr(t, ==, "IMAGE-SHADOW\n");
        free(t);

        /* ../ stops at the image's root. */
        link_to("../../../../../../../etc/hostname.real", "etc/hostname");
        put("etc/hostname.real", "x\n");
        g_assert_cmpint(read_field(IMAGE_METADATA_HOSTNAME, &t, &n), ==, 0);
        g_assert_cmpstr(t, ==, "x\n");
        free(t);
}

static void test_fallback_and_missing(void) {
        char *t = NULL;
        size_t n = 1;

        g_autofree char *p = g_build_filename(root, "etc/os-release", NULL);
        (void) unlink(p);
        put("usr/lib/os-release", "ID=fallback\n");
        g_assert_cmpint(read_field(IMAGE_METADATA_OS_RELEASE, &t, &n), ==, 0);
        g_assert_cmpstr(t, ==, "ID=fallback\n");
        g_assert_cmpuint(n, ==, strlen("ID=fallback\n"));
        free(t);
        g_assert_cmpint(read_field(IMAGE_METADATA_MACHINE_INFO, &t, &n), ==, 0);
        g_assert_null(t);
        g_assert_cmpuint(n, ==, 0);
}

static void test_bounded(void) {
        g_autofree char *p = g_build_filename(root, "etc/machine-id", NULL);
        g_autofree char *fifo = g_build_filename(root, "etc/machine-info", NULL);
        char *t = NULL;
        size_t n = 0;
        int fd;

        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(ftruncate(fd, (off_t) 1 << 30), ==, 0);
        close(fd);
        g_assert_cmpint(read_field(IMAGE_METADATA_MACHINE_ID, &t, &n), ==, -EFBIG);
        g_assert_null(t);

        (void) unlink(fifo);
        g_assert_cmpint(mkfifo(fifo, 0644), ==, 0);
        g_assert_cmpint(read_field(IMAGE_METADATA_MACHINE_INFO, &t, &n), ==, -EBADFD);
}

static void test_parse_hostname(void) {
        g_autofree char *a = NULL, *b = NULL;
        char *c = NULL;

        g_assert_cmpint(image_metadata_parse_hostname("  host-1 \nsecond\n", 18, &a), ==, 0);
        g_assert_cmpstr(a, ==, "host-1");
        g_assert_cmpint(image_metadata_parse_hostname(NULL, 0, &b), ==, 0);
        g_assert_cmpstr(b, ==, "");
        g_assert_cmpint(image_metadata_parse_hostname("bad/host\n", 9, &c), ==, -EBADMSG);
        g_assert_cmpint(image_metadata_parse_hostname("\xff\xfe\n", 3, &c), ==, -EBADMSG);
}

static void test_parse_machine_id(void) {
        uint8_t id[16];
        int set = -1;

        g_assert_cmpint(image_metadata_parse_machine_id("0123456789abcdefFEDCBA9876543210\n", 33, id, &set), ==, 0);
        g_assert_cmpint(set, ==, 1);
        g_assert_cmpuint(id[0], ==, 0x01);
        g_assert_cmpuint(id[15], ==, 0x10);
        g_assert_cmpint(image_metadata_parse_machine_id("uninitialized\n", 14, id, &set), ==, 0);
        g_assert_cmpint(set, ==, 0);
        g_assert_cmpint(image_metadata_parse_machine_id(NULL, 0, id, &set), ==, 0);
        g_assert_cmpint(set, ==, 0);
        g_assert_cmpint(image_metadata_parse_machine_id("0123\n", 5, id, &set), ==, -EBADMSG);
        g_assert_cmpint(image_metadata_parse_machine_id("0123456789abcdefFEDCBA987654321x", 32, id, &set), ==, -EBADMSG);
}

static void test_parse_env(void) {
        const char text[] = "# comment\n"
                            "NAME=\"Debian GNU/Linux\"\n"
                            "  ID=debian\r\n"
                            "VERSION='12 (bookworm)'\n"
                            "ESCAPED=\"a \\\"b\\\" \\$c\"\n"
                            "bad key=x\n"
                            "NOTHING\n"
                            "BINARY=\x01\x02\n"
                            "UTF8=\xc3\xa9t\xc3\xa9\n"
                            "BADUTF8=\xc3\x28\n"
                            "EMPTY=\n";
        char **l = NULL;

        g_assert_cmpint(image_metadata_parse_env(text, sizeof(text) - 1, &l), ==, 0);
        g_assert_cmpuint(strv_length(l), ==, 12);
        g_assert_cmpstr(l[0], ==, "NAME");
        g_assert_cmpstr(l[1], ==, "Debian GNU/Linux");
        g_assert_cmpstr(l[2], ==, "ID");
        g_assert_cmpstr(l[3], ==, "debian");
        g_assert_cmpstr(l[4], ==, "VERSION");
        g_assert_cmpstr(l[5], ==, "12 (bookworm)");
        g_assert_cmpstr(l[6], ==, "ESCAPED");
        g_assert_cmpstr(l[7], ==, "a \"b\" $c");
        g_assert_cmpstr(l[8], ==, "UTF8");
        g_assert_cmpstr(l[9], ==, "\xc3\xa9t\xc3\xa9");
        g_assert_cmpstr(l[10], ==, "EMPTY");
        g_assert_cmpstr(l[11], ==, "");
        strv_free(l);

        g_assert_cmpint(image_metadata_parse_env(NULL, 0, &l), ==, 0);
        g_assert_nonnull(l);
        g_assert_null(l[0]);
        strv_free(l);
}

int main(int argc, char **argv) {
        g_autofree char *tmpl = g_build_filename(g_get_tmp_dir(), "berth-metadata-XXXXXX", NULL);
        int r;

        g_test_init(&argc, &argv, NULL);
        root = g_mkdtemp(tmpl);
        g_assert_nonnull(root);
        g_test_add_func("/image-metadata/symlinks-stay-inside", test_symlinks_stay_inside);
        g_test_add_func("/image-metadata/fallback-and-missing", test_fallback_and_missing);
        g_test_add_func("/image-metadata/bounded", test_bounded);
        g_test_add_func("/image-metadata/parse-hostname", test_parse_hostname);
        g_test_add_func("/image-metadata/parse-machine-id", test_parse_machine_id);
        g_test_add_func("/image-metadata/parse-env", test_parse_env);
        r = g_test_run();
        {
                g_autofree char *cmd = g_strdup_printf("rm -rf --one-file-system '%s'", root);
                (void) !system(cmd);
        }
        return r;
}
