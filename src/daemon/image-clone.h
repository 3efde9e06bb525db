/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CloneImage's worker: the copy under a hidden name, its progress for the clone's transfer, and its cancel. */
#pragma once

#include <stdbool.h>

#include "image.h"
#include "macro.h"

/* Runs in the worker operation_fork() made: clones the image of TYPE open at SRC_FD to NEW_NAME
 * (image_clone_fd_full()), reports to RESULT_FD and exits. With PROGRESS_FD (the write end of
 * the clone's transfer's progress pipe; -EBADF for none) it reports progress there and takes
 * SIGTERM as a cancel: the copy stops, its ".#" work entry is removed, the result is -ECANCELED
 * (org.berth.machine1.Canceled). */
_noreturn_ void image_clone_worker_run(int result_fd, ImageType type, int src_fd, const char *new_name, bool read_only,
                                       int progress_fd);
