/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Transfers (imports and exports of images): the registry, and the workers that do them, without D-Bus. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "macro.h"

typedef struct Operation Operation;

typedef enum TransferType {
        TRANSFER_IMPORT_TAR,
        TRANSFER_IMPORT_RAW,
        TRANSFER_IMPORT_FS,
        TRANSFER_EXPORT_TAR,
        TRANSFER_EXPORT_RAW,
        TRANSFER_CLONE,         /* a CloneImage that copies: its worker is image-clone.c's */
        _TRANSFER_TYPE_MAX,
        _TRANSFER_TYPE_INVALID = -EINVAL,
} TransferType;

/* How an export compresses (and what an import found, for the log). */
typedef enum TransferCompression {
        TRANSFER_UNCOMPRESSED,
        TRANSFER_GZIP,
        TRANSFER_XZ,
        TRANSFER_ZSTD,
        _TRANSFER_COMPRESSION_MAX,
        _TRANSFER_COMPRESSION_INVALID = -EINVAL,
} TransferCompression;

typedef struct TransferRegistry TransferRegistry;
typedef struct Transfer Transfer;

struct Transfer {
        TransferRegistry *registry;
        Transfer *next;

        uint32_t id;
        TransferType type;
        char *remote;       /* what the data comes from or goes to, as berthd sees the fd */
        char *local;        /* the image's name */
        double progress;    /* 0..1, only ever grows */
        uint64_t progress_emitted_usec; /* when Progress was last announced (throttling) */

        Operation *operation; /* the worker, NULL once it is gone */
        int progress_fd;      /* the read end of the worker's progress pipe */
        sd_event_source *progress_source; /* watches PROGRESS_FD (transfer-dbus.c) */
        char *temp_path;      /* the hidden work entry in the pool an import builds, or NULL */
        bool cancel_requested;
        bool finishing;       /* the worker is gone, the leftover being removed */
        const char *result;   /* "done", "failed" or "canceled" once known */
};

struct TransferRegistry {
        Transfer *transfers;
        unsigned n_transfers;
        uint32_t last_id;
};

const char *transfer_type_to_string(TransferType t);
TransferCompression transfer_compression_from_string(const char *s);

/* A new transfer with the next free id, in R's list. */
int transfer_new(TransferRegistry *r, TransferType type, const char *remote, const char *local,
                 Transfer **ret);
/* Takes T out of its registry and frees it; the caller has dealt with its worker. */
Transfer *transfer_free(Transfer *t);
Transfer *transfer_find(TransferRegistry *r, uint32_t id);

/* What a worker is to do: everything is decided and opened in berthd before the fork. */
typedef struct TransferJob {
        TransferType type;
        int input_fd;           /* the caller's fd (imports), or the image (exports: a directory
                                 * or a raw file, opened O_NOFOLLOW) */
        int output_fd;          /* the caller's fd (exports) */
        const char *temp_path;  /* imports: the hidden work entry in the pool, made already */
        const char *dest_path;  /* imports: <pool>/NAME or <pool>/NAME.raw */
        bool force;             /* imports: replace an existing image */
        bool read_only;         /* imports: mark the new image read-only */
        bool allow_devices;     /* tar imports: create device nodes (the caller is root) */
        TransferCompression compression; /* exports */
        int progress_fd;        /* the write end of the progress pipe (non-blocking) */
        int result_fd;          /* operation_report*() */
} TransferJob;

/* The worker, forked by berthd: runs the job in a child of its own (so that a cancel (SIGTERM)
 * or a failure can still clean up after a child that chroot()ed), moves an import into place,
 * reports through J->result_fd and exits. */
_noreturn_ void transfer_worker_run(const TransferJob *j);

/* The jobs, each run in the worker's child; return 0 or a negative errno, with a message for the
 * caller in ERRBUF. The progress written to J->progress_fd is in millionths. */
int import_tar_run(const TransferJob *j, char *errbuf, size_t errsize);
int export_tar_run(const TransferJob *j, char *errbuf, size_t errsize);
int import_raw_run(const TransferJob *j, char *errbuf, size_t errsize);
int export_raw_run(const TransferJob *j, char *errbuf, size_t errsize);
int import_fs_run(const TransferJob *j, char *errbuf, size_t errsize);

/* Tells berthd how far the job is: DONE of TOTAL (TOTAL 0: unknown, nothing sent). At most every
 * 100 ms, so that the pipe never fills; never blocks. */
void transfer_report_progress(int progress_fd, uint64_t done, uint64_t total);

/* The bytes of the regular files below PATH (symlinks not followed, one file system): the total
 * a tree export or a directory import measures its progress against. Worker side only. */
uint64_t transfer_tree_bytes(const char *path);

/* The writer the exports share (transfer-tar.c): libarchive FORMAT with J's compression, to
 * J->output_fd. */
struct archive;
int transfer_archive_writer(const TransferJob *j, int format, struct archive **ret, char *errbuf,
                            size_t errsize);
