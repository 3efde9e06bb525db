/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tar imports and exports with libarchive, each run chroot()ed into the image so that nothing can reach outside it. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transfer.h"

#define TAR_BLOCK (64U * 1024U)

static void archive_readp(struct archive **a) {
        if (*a)
                (void) archive_read_free(*a);
}
static void archive_writep(struct archive **a) {
        if (*a)
                (void) archive_write_free(*a);
}
static void archive_entryp(struct archive_entry **e) {
        if (*e)
                archive_entry_free(*e);
}
static void linkresolverp(struct archive_entry_linkresolver **l) {
        if (*l)
                archive_entry_linkresolver_free(*l);
}

/* Makes DIR_FD (or PATH) our root: whatever an archive or an image says, "/" and ".." end here.
 * Numeric owners only from now on: a user name lookup would load the NSS modules the image's
 * own nsswitch.conf names. */
static int enter_root(int dir_fd, const char *path) {
        if (dir_fd >= 0 ? fchdir(dir_fd) < 0 : chdir(path) < 0)
                return -errno;
        if (chroot(".") < 0 || chdir("/") < 0)
                return -errno;
        return 0;
}

static int archive_fail(struct archive *a, int r, const char *what, char *errbuf, size_t errsize) {
        const char *s = archive_error_string(a);

        (void) snprintf(errbuf, errsize, "%s: %s", what, s ? s : strerror(-r));
        return r;
}

/* The data of the current entry of A, copied block by block (holes stay holes), with progress
 * as the bytes of the input consumed of TOTAL. */
static int extract_data(struct archive *a, struct archive *w, const TransferJob *j, uint64_t total,
                        char *errbuf, size_t errsize) {
        for (;;) {
                const void *buf;
                size_t size;
                la_int64_t offset;
                int r;

                r = archive_read_data_block(a, &buf, &size, &offset);
                if (r == ARCHIVE_EOF)
                        return 0;
                if (r < ARCHIVE_WARN)
                        return archive_fail(a, -EIO, "Failed to read the archive", errbuf, errsize);
                if (archive_write_data_block(w, buf, size, offset) < ARCHIVE_WARN)
                        return archive_fail(w, -EIO, "Failed to write a file", errbuf, errsize);
                transfer_report_progress(j->progress_fd, (uint64_t) archive_filter_bytes(a, -1), total);
        }
}

static bool is_root_entry(const char *p) {
        while (p && *p == '.' && (p[1] == '/' || p[1] == 0)) {
                p++;
                while (*p == '/')
                        p++;
        }
        return p && *p == 0;
}

/* libarchive leaves the top directory (the entry ".") alone; it is the image's root, so its
 * owner, mode and times are set here, after everything below it was written. */
static int apply_root(struct archive_entry *root) {
        struct timespec ts[2] = {
                { .tv_sec = archive_entry_atime(root), .tv_nsec = archive_entry_atime_nsec(root) },
                { .tv_sec = archive_entry_mtime(root), .tv_nsec = archive_entry_mtime_nsec(root) },
        };

        if (!archive_entry_atime_is_set(root))
                ts[0] = ts[1];
        if (lchown("/", (uid_t) archive_entry_uid(root), (gid_t) archive_entry_gid(root)) < 0 ||
            chmod("/", archive_entry_perm(root) & 07777) < 0)
                return -errno;
        if (archive_entry_mtime_is_set(root) && utimensat(AT_FDCWD, "/", ts, 0) < 0)
                return -errno;
        return 0;
}

int import_tar_run(const TransferJob *j, char *errbuf, size_t errsize) {
        _cleanup_(archive_readp) struct archive *a = NULL;
        _cleanup_(archive_writep) struct archive *w = NULL;
        _cleanup_(archive_entryp) struct archive_entry *root = NULL;
        struct archive_entry *e;
        uint64_t total = 0;
        struct stat st;
        int r, flags;

        if (fstat(j->input_fd, &st) >= 0 && S_ISREG(st.st_mode)) {
                off_t pos = lseek(j->input_fd, 0, SEEK_CUR);
                total = (uint64_t) st.st_size - (uint64_t) MAX(pos, (off_t) 0);
        }
        r = enter_root(-EBADF, j->temp_path);
        if (r < 0)
                return r;

        a = archive_read_new();
        w = archive_write_disk_new();
        if (!a || !w)
                return -ENOMEM;
        (void) archive_read_support_filter_all(a);
        (void) archive_read_support_format_tar(a);
        if (archive_read_open_fd(a, j->input_fd, TAR_BLOCK) != ARCHIVE_OK)
                return archive_fail(a, -EIO, "Failed to open the archive", errbuf, errsize);

        flags = ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SPARSE | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;
        if (archive_write_disk_set_options(w, flags) != ARCHIVE_OK)
                return archive_fail(w, -EINVAL, "Failed to set up extraction", errbuf, errsize);

        for (;;) {
                mode_t type;

                r = archive_read_next_header(a, &e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN)
                        return archive_fail(a, -EBADMSG, "Failed to read the archive", errbuf, errsize);
                type = archive_entry_filetype(e);
                /* Only root may put device nodes on the host's disk; for others they are left out. */
                if (!j->allow_devices && (type == AE_IFCHR || type == AE_IFBLK))
                        continue;
                if (type == AE_IFDIR && is_root_entry(archive_entry_pathname(e))) {
                        archive_entry_free(root);
                        root = archive_entry_clone(e);
                        if (!root)
                                return -ENOMEM;
                }
                r = archive_write_header(w, e);
                if (r < ARCHIVE_WARN) {
                        char what[256];

                        /* "..", absolute paths, paths through symlinks end here: the whole import
                         * is refused rather than half of it kept. */
                        (void) snprintf(what, sizeof(what), "Refused entry '%s'",
                                        strempty(archive_entry_pathname(e)));
                        return archive_fail(w, -EPERM, what, errbuf, errsize);
                }
                if (archive_entry_size(e) > 0) {
                        r = extract_data(a, w, j, total, errbuf, errsize);
                        if (r < 0)
                                return r;
                }
                if (archive_write_finish_entry(w) < ARCHIVE_WARN)
                        return archive_fail(w, -EIO, "Failed to finish a file", errbuf, errsize);
                transfer_report_progress(j->progress_fd, (uint64_t) archive_filter_bytes(a, -1), total);
        }
        /* Directory modes and times are set last (the tree had to stay writable until now). */
        if (archive_write_close(w) != ARCHIVE_OK)
                return archive_fail(w, -EIO, "Failed to finish the image", errbuf, errsize);
        if (root && (r = apply_root(root)) < 0) {
                (void) snprintf(errbuf, errsize, "Failed to set up the image's top directory: %s", strerror(-r));
                return r;
        }
        return 0;
}

static int add_filter(struct archive *a, TransferCompression c) {
        switch (c) {
        case TRANSFER_GZIP:
                return archive_write_add_filter_gzip(a);
        case TRANSFER_XZ:
                return archive_write_add_filter_xz(a);
        case TRANSFER_ZSTD:
                return archive_write_add_filter_zstd(a);
        case TRANSFER_UNCOMPRESSED:
                return archive_write_add_filter_none(a);
        case _TRANSFER_COMPRESSION_MAX:
        case _TRANSFER_COMPRESSION_INVALID:
                break;
        }
        return ARCHIVE_FATAL;
}

int transfer_archive_writer(const TransferJob *j, int format, struct archive **ret, char *errbuf,
                            size_t errsize) {
        _cleanup_(archive_writep) struct archive *out = archive_write_new();

        if (!out)
                return -ENOMEM;
        if (archive_write_set_format(out, format) != ARCHIVE_OK || add_filter(out, j->compression) != ARCHIVE_OK)
                return archive_fail(out, -EOPNOTSUPP, "Failed to set up the archive", errbuf, errsize);
        /* A pipe or a socket gets no padding after the data but the format's own. */
        (void) archive_write_set_bytes_in_last_block(out, 1);
        if (archive_write_open_fd(out, j->output_fd) != ARCHIVE_OK)
                return archive_fail(out, -EIO, "Failed to start the archive", errbuf, errsize);
        *ret = TAKE_PTR(out);
        return 0;
}

/* The current file of the disk reader D into OUT; holes are sent as zeros, which the pax writer
 * drops again where the entry's sparse map says so. */
static int export_data(struct archive *d, struct archive *out, uint64_t *done, uint64_t total,
                       const TransferJob *j, char *errbuf, size_t errsize) {
        static const char zeros[TAR_BLOCK];
        la_int64_t progress = 0;

        for (;;) {
                const void *buf;
                size_t size;
                la_int64_t offset;
                int r;

                r = archive_read_data_block(d, &buf, &size, &offset);
                if (r == ARCHIVE_EOF)
                        return 0;
                if (r < ARCHIVE_WARN)
                        return archive_fail(d, -EIO, "Failed to read the image", errbuf, errsize);
                while (offset > progress) {
                        size_t n = (size_t) MIN((la_int64_t) sizeof(zeros), offset - progress);

                        if (archive_write_data(out, zeros, n) < 0)
                                return archive_fail(out, -EIO, "Failed to write the archive", errbuf, errsize);
                        progress += (la_int64_t) n;
                        *done += n; /* holes count: the total is of file sizes */
                        transfer_report_progress(j->progress_fd, *done, total);
                }
                if (size > 0 && archive_write_data(out, buf, size) < 0)
                        return archive_fail(out, -EIO, "Failed to write the archive", errbuf, errsize);
                progress += (la_int64_t) size;
                *done += size;
                transfer_report_progress(j->progress_fd, *done, total);
        }
}

int export_tar_run(const TransferJob *j, char *errbuf, size_t errsize) {
        _cleanup_(archive_readp) struct archive *d = NULL;
        _cleanup_(archive_writep) struct archive *out = NULL;
        _cleanup_(archive_entryp) struct archive_entry *e = NULL;
        _cleanup_(linkresolverp) struct archive_entry_linkresolver *lr = NULL;
        uint64_t total, done = 0;
        int r;

        r = enter_root(j->input_fd, NULL);
        if (r < 0)
                return r;
        total = transfer_tree_bytes("/");

        /* Full pax: times keep their nanoseconds. */
        r = transfer_archive_writer(j, ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE, &out, errbuf, errsize);
        if (r < 0)
                return r;
        d = archive_read_disk_new();
        lr = archive_entry_linkresolver_new();
        e = archive_entry_new();
        if (!d || !lr || !e)
                return -ENOMEM;
        archive_entry_linkresolver_set_strategy(lr, archive_format(out));
        /* Symlinks are archived as what they are; mounts below the image are not its content;
         * atimes are left alone: an export never changes the image. */
        if (archive_read_disk_set_symlink_physical(d) != ARCHIVE_OK ||
            archive_read_disk_set_behavior(d, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS) != ARCHIVE_OK ||
            archive_read_disk_open(d, ".") != ARCHIVE_OK)
                return archive_fail(d, -EIO, "Failed to read the image", errbuf, errsize);

        for (;;) {
                struct archive_entry *cur, *sparse = NULL;

                archive_entry_clear(e);
                r = archive_read_next_header2(d, e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN)
                        return archive_fail(d, -EIO, "Failed to read the image", errbuf, errsize);
                (void) archive_read_disk_descend(d);

                cur = e;
                /* The tar strategy hands back the same entry, a hard link after the first. */
                archive_entry_linkify(lr, &cur, &sparse);
                if (!cur)
                        continue;
                if (archive_write_header(out, cur) < ARCHIVE_WARN)
                        return archive_fail(out, -EIO, "Failed to write the archive", errbuf, errsize);
                if (archive_entry_filetype(cur) == AE_IFREG && archive_entry_size(cur) > 0) {
                        r = export_data(d, out, &done, total, j, errbuf, errsize);
                        if (r < 0)
                                return r;
                }
        }
        if (archive_write_close(out) != ARCHIVE_OK)
                return archive_fail(out, -EIO, "Failed to finish the archive", errbuf, errsize);
        return 0;
}
