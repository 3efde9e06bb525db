/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for transfers without berthd: the registry, format names, and the tar import job (devices only for root callers, hostile entries). */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "transfer.h"

static void test_registry(void) {
        TransferRegistry r = {};
        Transfer *a = NULL, *b = NULL;

        g_assert_cmpint(transfer_new(&r, TRANSFER_IMPORT_TAR, "/x.tar", "x", &a), ==, 0);
        g_assert_cmpint(transfer_new(&r, TRANSFER_EXPORT_RAW, "pipe:[1]", "y", &b), ==, 0);
        g_assert_cmpuint(a->id, ==, 1);
        g_assert_cmpuint(b->id, ==, 2);
        g_assert_cmpuint(r.n_transfers, ==, 2);
        g_assert_true(transfer_find(&r, 2) == b);
        g_assert_cmpstr(transfer_type_to_string(b->type), ==, "export-raw");
        transfer_free(a);
        g_assert_null(transfer_find(&r, 1));
        g_assert_cmpuint(r.n_transfers, ==, 1);
        /* Ids are not reused while the counter goes on. */
        g_assert_cmpint(transfer_new(&r, TRANSFER_IMPORT_FS, "/d", "z", &a), ==, 0);
        g_assert_cmpuint(a->id, ==, 3);
        transfer_free(a);
        transfer_free(b);
        g_assert_null(r.transfers);
}

static void test_compression(void) {
        g_assert_cmpint(transfer_compression_from_string(""), ==, TRANSFER_UNCOMPRESSED);
        g_assert_cmpint(transfer_compression_from_string("uncompressed"), ==, TRANSFER_UNCOMPRESSED);
        g_assert_cmpint(transfer_compression_from_string("gzip"), ==, TRANSFER_GZIP);
        g_assert_cmpint(transfer_compression_from_string("xz"), ==, TRANSFER_XZ);
        g_assert_cmpint(transfer_compression_from_string("zstd"), ==, TRANSFER_ZSTD);
        g_assert_cmpint(transfer_compression_from_string("bzip2"), <, 0);
        g_assert_cmpint(transfer_compression_from_string("GZIP"), <, 0);
}

/* A tar at PATH: ".", a file owned by 1234, a char device 1:3, and optionally a hostile entry. */
static void make_tar(const char *path, const char *hostile) {
        struct archive *a = archive_write_new();
        struct archive_entry *e = archive_entry_new();

        g_assert_nonnull(a);
        g_assert_cmpint(archive_write_set_format_pax_restricted(a), ==, ARCHIVE_OK);
        g_assert_cmpint(archive_write_open_filename(a, path), ==, ARCHIVE_OK);

        archive_entry_set_pathname(e, ".");
        archive_entry_set_filetype(e, AE_IFDIR);
        archive_entry_set_perm(e, 0750);
        archive_entry_set_mtime(e, 1000000000, 0);
        g_assert_cmpint(archive_write_header(a, e), ==, ARCHIVE_OK);

        archive_entry_clear(e);
        archive_entry_set_pathname(e, "f");
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0640);
        archive_entry_set_uid(e, 1234);
        archive_entry_set_gid(e, 5678);
        archive_entry_set_size(e, 5);
        g_assert_cmpint(archive_write_header(a, e), ==, ARCHIVE_OK);
        g_assert_cmpint(archive_write_data(a, "hello", 5), ==, 5);

        archive_entry_clear(e);
        archive_entry_set_pathname(e, "null");
        archive_entry_set_filetype(e, AE_IFCHR);
        archive_entry_set_perm(e, 0666);
        archive_entry_set_rdev(e, makedev(1, 3));
        g_assert_cmpint(archive_write_header(a, e), ==, ARCHIVE_OK);

        if (hostile) {
                archive_entry_clear(e);
                archive_entry_set_pathname(e, hostile);
                archive_entry_set_filetype(e, AE_IFREG);
                archive_entry_set_perm(e, 0644);
                archive_entry_set_size(e, 0);
                g_assert_cmpint(archive_write_header(a, e), ==, ARCHIVE_OK);
        }
        archive_entry_free(e);
        g_assert_cmpint(archive_write_close(a), ==, ARCHIVE_OK);
        archive_write_free(a);
}

/* Runs the import job in a child (it chroot()s); returns its exit status (0: success). */
static int run_import(const char *tar, const char *dest, bool allow_devices) {
        pid_t pid;
        int status;

        g_assert_cmpint(mkdir(dest, 0700), ==, 0);
        pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                char err[256] = "";
                TransferJob j = {
                        .type = TRANSFER_IMPORT_TAR,
                        .input_fd = open(tar, O_RDONLY | O_CLOEXEC),
                        .output_fd = -EBADF,
                        .temp_path = dest,
                        .allow_devices = allow_devices,
                        .progress_fd = -EBADF,
                        .result_fd = -EBADF,
                };
                int r = import_tar_run(&j, err, sizeof(err));

                if (r < 0)
                        fprintf(stderr, "# import: %s\n", err);
                _exit(r < 0 ? 1 : 0);
        }
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        g_assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

static void test_import_tar(void) {
        g_autoptr(GError) error = NULL;
        g_autofree char *dir = NULL, *tar = NULL, *evil = NULL, *root_img = NULL, *user_img = NULL,
                        *evil_img = NULL, *p = NULL, *cmd = NULL;
        struct stat st;

        if (geteuid() != 0) {
                g_test_skip("needs root (chroot, chown, mknod)");
                return;
        }
        dir = g_dir_make_tmp("test-transfer-XXXXXX", &error);
        g_assert_no_error(error);
        tar = g_build_filename(dir, "t.tar", NULL);
        evil = g_build_filename(dir, "evil.tar", NULL);
        root_img = g_build_filename(dir, "root", NULL);
        user_img = g_build_filename(dir, "user", NULL);
        evil_img = g_build_filename(dir, "evil", NULL);
        make_tar(tar, NULL);
        make_tar(evil, "../escaped");

        /* A root caller: everything, the device node too, and the top directory's metadata. */
        g_assert_cmpint(run_import(tar, root_img, true), ==, 0);
        p = g_build_filename(root_img, "f", NULL);
        g_assert_cmpint(lstat(p, &st), ==, 0);
        g_assert_cmpuint(st.st_uid, ==, 1234);
        g_assert_cmpuint(st.st_gid, ==, 5678);
        g_assert_cmpuint(st.st_mode & 07777, ==, 0640);
        g_free(p);
        p = g_build_filename(root_img, "null", NULL);
        g_assert_cmpint(lstat(p, &st), ==, 0);
        g_assert_true(S_ISCHR(st.st_mode));
        g_assert_cmpuint(st.st_rdev, ==, makedev(1, 3));
        g_assert_cmpint(lstat(root_img, &st), ==, 0);
        g_assert_cmpuint(st.st_mode & 07777, ==, 0750);
        g_assert_cmpint(st.st_mtim.tv_sec, ==, 1000000000);

        /* Anyone else: the device node is left out, the rest is there. */
        g_assert_cmpint(run_import(tar, user_img, false), ==, 0);
        g_free(p);
        p = g_build_filename(user_img, "null", NULL);
        g_assert_cmpint(lstat(p, &st), <, 0);
        g_free(p);
        p = g_build_filename(user_img, "f", NULL);
        g_assert_cmpint(lstat(p, &st), ==, 0);

        /* "..": refused, nothing beside the image. */
        g_assert_cmpint(run_import(evil, evil_img, true), !=, 0);
        g_free(p);
        p = g_build_filename(dir, "escaped", NULL);
        g_assert_cmpint(lstat(p, &st), <, 0);

        cmd = g_strdup_printf("rm -rf '%s'", dir);
        g_assert_cmpint(system(cmd), ==, 0);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/transfer/registry", test_registry);
        g_test_add_func("/transfer/compression", test_compression);
        g_test_add_func("/transfer/import-tar", test_import_tar);
        return g_test_run();
}
