/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lock a running machine holds on its image, so no one removes, renames, restores or boots it writable under it. */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "fd-util.h"
#include "image-lock.h"
#include "macro.h"

static int open_image(const char *path) {
        /* O_RDONLY, not O_PATH: flock() needs a real open file. O_NONBLOCK so that opening a
         * FIFO planted in a pool never hangs; a directory, a file and a block device ignore it. */
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

        return fd < 0 ? negative_errno() : fd;
}

int image_lock(const char *path, bool exclusive) {
        _cleanup_close_ int fd = open_image(path);

        if (fd < 0)
                return fd;
        if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? -EBUSY : negative_errno();
        return TAKE_FD(fd);
}

int image_lock_held(const char *path) {
        _cleanup_close_ int fd = open_image(path);

        if (fd < 0)
                return fd;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? 1 : negative_errno();
        /* The probe's own lock goes with the fd. */
        return 0;
}
