/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Raw image imports and exports (sparse-aware byte copies), and directory imports. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copy-tree.h"
#include "fd-util.h"
#include "transfer.h"

#define RAW_CHUNK (8U * 1024U * 1024U)
#define RAW_BLOCK (64U * 1024U)

typedef struct RawCopy {
        const TransferJob *job;
        uint64_t total;      /* for progress; 0: unknown */
        uint64_t done;
        bool sparse;         /* the output is a regular file: zero blocks become holes */
} RawCopy;

static bool all_zero(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

/* Writes N bytes of BUF at OFF (a regular file, zero blocks skipped), or appends them to a
 * stream. */
static int put(RawCopy *c, int out, off_t off, const uint8_t *buf, size_t n) {
        if (!c->sparse)
                return write_all(out, buf, n);
        for (size_t i = 0; i < n; i += RAW_BLOCK) {
                size_t k = MIN((size_t) RAW_BLOCK, n - i);

                if (all_zero(buf + i, k))
                        continue;
                if (pwrite(out, buf + i, k, off + (off_t) i) != (ssize_t) k)
                        return errno > 0 ? -errno : -EIO;
        }
        return 0;
}

/* Copies LEN bytes from IN at *IN_OFF to OUT at *OUT_OFF by reading (pread: IN's own offset is
 * the caller's business). */
static int copy_read(RawCopy *c, int in, off_t *in_off, int out, off_t *out_off, uint64_t len) {
        _cleanup_free_ uint8_t *buf = malloc(RAW_CHUNK);

        if (!buf)
                return -ENOMEM;
        while (len > 0) {
                ssize_t n = pread(in, buf, MIN((uint64_t) RAW_CHUNK, len), *in_off);
                int r;

                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EPIPE; /* shorter than it said: changed under us */
                r = put(c, out, *out_off, buf, (size_t) n);
                if (r < 0)
                        return r;
                *in_off += n;
                *out_off += n;
                len -= (uint64_t) n;
                c->done += (uint64_t) n;
                transfer_report_progress(c->job->progress_fd, c->done, c->total);
        }
        return 0;
}

/* One data region: copy_file_range (which may share extents, or copy in the kernel), else reads. */
static int copy_region(RawCopy *c, int in, off_t in_off, int out, off_t out_off, uint64_t len) {
        while (len > 0 && c->sparse) {
                ssize_t n = copy_file_range(in, &in_off, out, &out_off, MIN((uint64_t) RAW_CHUNK, len), 0);

                if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS))
                        break;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EPIPE;
                len -= (uint64_t) n;
                c->done += (uint64_t) n;
                transfer_report_progress(c->job->progress_fd, c->done, c->total);
        }
        return copy_read(c, in, &in_off, out, &out_off, len);
}

/* The regular file IN from START to its end into OUT at OUT_START: only the data regions; the
 * holes are left to a final ftruncate() where OUT is a file. */
static int copy_file_sparse(RawCopy *c, int in, off_t start, off_t end, int out, off_t out_start) {
        off_t off = start;
        int r;

        while (off < end) {
                off_t data = lseek(in, off, SEEK_DATA), hole;

                if (data < 0 && errno == ENXIO)
                        break; /* a hole to the end */
                if (data < 0)
                        data = off; /* no SEEK_DATA here: all of it is data */
                hole = lseek(in, data, SEEK_HOLE);
                if (hole < 0 || hole > end)
                        hole = end;
                if (data >= end)
                        break;
                c->done += (uint64_t) (data - off);
                r = copy_region(c, in, data, out, out_start + (data - start), (uint64_t) (hole - data));
                if (r < 0)
                        return r;
                off = hole;
        }
        if (c->sparse && ftruncate(out, out_start + (end - start)) < 0)
                return -errno;
        return 0;
}

/* Whether the file FD starts with the magic of a compression we read (at offset POS). */
static bool compressed_at(int fd, off_t pos) {
        static const struct {
                const char *magic;
                size_t size;
        } table[] = {
                { "\x1f\x8b", 2 },                     /* gzip */
                { "\xfd" "7zXZ\x00", 6 },              /* xz */
                { "\x28\xb5\x2f\xfd", 4 },             /* zstd */
        };
        uint8_t buf[6];
        ssize_t n = pread(fd, buf, sizeof(buf), pos);

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (n >= (ssize_t) table[i].size && memcmp(buf, table[i].magic, table[i].size) == 0)
                        return true;
        return false;
}

/* Compressed input, or a pipe (which cannot be peeked at): libarchive's "raw" format reads the
 * bare stream through whichever filter matches, uncompressed data too. */
static int import_raw_decompress(RawCopy *c, int in, int out, char *errbuf, size_t errsize) {
        _cleanup_free_ uint8_t *buf = malloc(RAW_CHUNK);
        struct archive *a = archive_read_new();
        struct archive_entry *e;
        off_t off = 0;
        int r = 0;

        if (!buf || !a) {
                if (a)
                        (void) archive_read_free(a);
                return -ENOMEM;
        }
        (void) archive_read_support_filter_all(a);
        (void) archive_read_support_format_raw(a);
        if (archive_read_open_fd(a, in, RAW_BLOCK) != ARCHIVE_OK || archive_read_next_header(a, &e) < ARCHIVE_WARN)
                r = -EBADMSG;
        while (r >= 0) {
                la_ssize_t n = archive_read_data(a, buf, RAW_CHUNK);

                if (n == 0)
                        break;
                if (n < 0) {
                        r = -EBADMSG;
                        break;
                }
                r = put(c, out, off, buf, (size_t) n);
                off += n;
                transfer_report_progress(c->job->progress_fd, (uint64_t) archive_filter_bytes(a, -1), c->total);
        }
        if (r == -EBADMSG)
                (void) snprintf(errbuf, errsize, "Failed to read the image: %s",
                                archive_error_string(a) ?: "unknown format");
        (void) archive_read_free(a);
        if (r >= 0 && ftruncate(out, off) < 0)
                r = -errno;
        return r;
}

int import_raw_run(const TransferJob *j, char *errbuf, size_t errsize) {
        _cleanup_close_ int out = open(j->temp_path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        RawCopy c = { .job = j, .sparse = true };
        struct stat st;

        if (out < 0 || fstat(j->input_fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode)) {
                (void) snprintf(errbuf, errsize, "A directory is no raw image");
                return -EISDIR;
        }
        if (S_ISREG(st.st_mode)) {
                off_t pos = lseek(j->input_fd, 0, SEEK_CUR);

                pos = MAX(pos, (off_t) 0);
                c.total = (uint64_t) (st.st_size - MIN(pos, st.st_size));
                if (!compressed_at(j->input_fd, pos))
                        return copy_file_sparse(&c, j->input_fd, pos, st.st_size, out, 0);
        }
        return import_raw_decompress(&c, j->input_fd, out, errbuf, errsize);
}

/* A compressed raw export: libarchive's "raw" format is a bare stream through the filter. */
static int export_raw_compressed(const TransferJob *j, uint64_t size, char *errbuf, size_t errsize) {
        _cleanup_free_ uint8_t *buf = malloc(RAW_CHUNK);
        struct archive *out = NULL;
        struct archive_entry *e = archive_entry_new();
        uint64_t done = 0;
        off_t off = 0;
        int r;

        if (!buf || !e) {
                archive_entry_free(e);
                return -ENOMEM;
        }
        r = transfer_archive_writer(j, ARCHIVE_FORMAT_RAW, &out, errbuf, errsize);
        if (r < 0) {
                archive_entry_free(e);
                return r;
        }
        archive_entry_set_pathname(e, "image.raw");
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_size(e, (la_int64_t) size);
        r = archive_write_header(out, e) < ARCHIVE_WARN ? -EIO : 0;
        while (r >= 0 && done < size) {
                ssize_t n = pread(j->input_fd, buf, MIN((uint64_t) RAW_CHUNK, size - done), off);

                if (n <= 0) {
                        r = n < 0 ? -errno : -EPIPE;
                        break;
                }
                if (archive_write_data(out, buf, (size_t) n) < 0) {
                        r = -EIO;
                        break;
                }
                off += n;
                done += (uint64_t) n;
                transfer_report_progress(j->progress_fd, done, size);
        }
        if (r >= 0 && archive_write_close(out) != ARCHIVE_OK)
                r = -EIO;
        if (r < 0 && !errbuf[0])
                (void) snprintf(errbuf, errsize, "Failed to write the export: %s",
                                archive_error_string(out) ?: strerror(-r));
        archive_entry_free(e);
        (void) archive_write_free(out);
        return r;
}

int export_raw_run(const TransferJob *j, char *errbuf, size_t errsize) {
        RawCopy c = { .job = j };
        struct stat st, ost;
        off_t out_start = 0;

        if (fstat(j->input_fd, &st) < 0 || fstat(j->output_fd, &ost) < 0)
                return -errno;
        if (j->compression != TRANSFER_UNCOMPRESSED)
                return export_raw_compressed(j, (uint64_t) st.st_size, errbuf, errsize);
        c.total = (uint64_t) st.st_size;
        /* Into a regular file: holes stay holes, at the file's current offset. */
        c.sparse = S_ISREG(ost.st_mode) && !(fcntl(j->output_fd, F_GETFL) & O_APPEND);
        if (c.sparse) {
                out_start = lseek(j->output_fd, 0, SEEK_CUR);
                out_start = MAX(out_start, (off_t) 0);
                return copy_file_sparse(&c, j->input_fd, 0, st.st_size, j->output_fd, out_start);
        }
        {
                off_t in_off = 0, out_off = 0;
                return copy_read(&c, j->input_fd, &in_off, j->output_fd, &out_off, (uint64_t) st.st_size);
        }
}

int import_fs_run(const TransferJob *j, char *errbuf, size_t errsize) {
        int r = copy_tree(j->input_fd, j->temp_path);

        if (r < 0)
                (void) snprintf(errbuf, errsize, "Failed to copy the directory: %s", strerror(-r));
        return r;
}
