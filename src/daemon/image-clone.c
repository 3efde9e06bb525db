/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CloneImage's worker: the copy under a hidden name, its progress for the clone's transfer, and its cancel. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus-errors.h"
#include "image.h"
#include "image-clone.h"
#include "operation.h"
#include "transfer.h"

/* What the worker's progress callback needs. */
typedef struct CloneProgressState {
        int progress_fd;
        uint64_t total;
} CloneProgressState;

/* Between pieces of the copy: progress for the transfer, and a pending SIGTERM (CancelTransfer)
 * stops the copy where its work entry can still be removed. Called a few times a second. */
static int clone_progress(uint64_t done, void *userdata) {
        const CloneProgressState *p = userdata;
        sigset_t pending;

        if (sigpending(&pending) >= 0 && sigismember(&pending, SIGTERM) > 0)
                return -ECANCELED;
        transfer_report_progress(p->progress_fd, done, p->total);
        return 0;
}

/* The bytes a copy of the image at SRC_FD moves: its regular files' sizes, or a raw file's
 * allocated bytes (holes stay holes). */
static uint64_t clone_total(ImageType type, int src_fd) {
        char p[64];
        struct stat st;

        if (type == IMAGE_RAW)
                return fstat(src_fd, &st) < 0 ? 0 :
                       MIN((uint64_t) st.st_size, (uint64_t) st.st_blocks * 512U);
        (void) snprintf(p, sizeof(p), "/proc/self/fd/%i/.", src_fd);
        return transfer_tree_bytes(p);
}

_noreturn_ void image_clone_worker_run(int result_fd, ImageType type, int src_fd, const char *new_name, bool read_only,
                                       int progress_fd) {
        CloneProgressState p = { .progress_fd = progress_fd };
        sigset_t ss;
        int r = 0;

        if (progress_fd >= 0) {
                /* Held pending, looked at by clone_progress(): never kills us mid-way. */
                sigemptyset(&ss);
                sigaddset(&ss, SIGTERM);
                (void) sigprocmask(SIG_BLOCK, &ss, NULL);
                p.total = clone_total(type, src_fd);
                r = clone_progress(0, &p);
        }
        if (r >= 0)
                r = image_clone_fd_full(type, src_fd, new_name, read_only,
                                        progress_fd >= 0 ? clone_progress : NULL, &p);
        if (r == -ECANCELED)
                (void) operation_report_errorf(result_fd, r, BUS_ERROR_CANCELED, "The clone was canceled");
        else if (r == -EEXIST)
                (void) operation_report_errorf(result_fd, r, SD_BUS_ERROR_FILE_EXISTS,
                                               "An image with the new name exists already");
        else if (r < 0)
                (void) operation_report_errorf(result_fd, r, NULL, "Failed to clone image: %s", strerror(-r));
        else
                (void) operation_report(result_fd, 0, NULL, 0, -EBADF);
        _exit(r < 0 ? 1 : 0);
}
