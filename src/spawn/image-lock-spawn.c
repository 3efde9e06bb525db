/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lock berth-spawn holds on its image for its whole run. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image-lock-spawn.h"
#include "image-lock.h"
#include "log.h"

/* Whether the run may change the image: only then does it need the image to itself. An image
 * that cannot be written (on a read-only file system; a raw image file we may not open for
 * writing, which then runs read-only) is only read, however it is run, and may be shared. */
static bool run_writes_image(const Settings *s, const char *path) {
        if (s->read_only || s->ephemeral || s->volatile_mode != VOLATILE_NO)
                return false;
        if (access(path, W_OK) >= 0)
                return true;
        return !(errno == EROFS || (s->image && (errno == EACCES || errno == EPERM)));
}

int spawn_image_lock(const Settings *s) {
        /* A raw image is locked as the file (or device) it is, before it is mounted anywhere. */
        const char *path = s->image ?: s->directory;
        bool exclusive = run_writes_image(s, path);
        _cleanup_close_ int fd = -EBADF;
        struct stat st, root;

        fd = image_lock(path, exclusive);
        if (fd == -EBUSY) {
                if (exclusive)
                        return log_error_errno(fd, "Image %s is in use by another machine; "
                                               "use --read-only or --ephemeral to share it.", path);
                return log_error_errno(fd, "Image %s is in use by a writable machine; "
                                       "it can be shared only once that one stops.", path);
        }
        if (fd < 0)
                return log_error_errno(fd, "Failed to lock the image %s: %m", path);

        /* The name check before compares strings; the inode we hold is what counts ("/.", a
         * symlink or a bind mount of the host's root must not slip through either). */
        if (fstat(fd, &st) < 0 || stat("/", &root) < 0)
                return log_error_errno(negative_errno(), "Failed to check the image %s: %m", path);
        if (st.st_dev == root.st_dev && st.st_ino == root.st_ino)
                return log_error_errno(-EINVAL, "Refusing to use the host's root directory as a container.");
        log_debug("Holding a %s lock on %s.", exclusive ? "exclusive" : "shared", path);
        return TAKE_FD(fd);
}
