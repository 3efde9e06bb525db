/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Raw disk images for berth-spawn: dissected, attached and mounted where the container finds its tree. */
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "dissect.h"
#include "image-mount.h"
#include "log.h"
#include "macro.h"

int image_raw_check(Settings *s) {
        struct stat st;

        if (stat(s->image, &st) < 0)
                return log_error_errno(negative_errno(), "Cannot use %s as the container's image: %m", s->image);
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
                return log_error_errno(-EBADFD, "%s is neither a regular file nor a block device.", s->image);
        return 0;
}

/* Opens the image for writing when the run may write to it; read-only otherwise, and when the
 * file or device is read-only (as nspawn does: the run is then read-only as a whole). */
static int open_image(Settings *s) {
        bool writable = !s->read_only && !s->ephemeral && s->volatile_mode == VOLATILE_NO;
        int fd;

        if (writable) {
                fd = open(s->image, O_RDWR | O_CLOEXEC | O_NOCTTY);
                if (fd >= 0)
                        return fd;
                if (errno != EROFS && errno != EACCES && errno != EPERM)
                        return log_error_errno(negative_errno(), "Failed to open %s: %m", s->image);
                log_info("%s is read-only: running read-only.", s->image);
                s->read_only = true;
        }
        fd = open(s->image, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return log_error_errno(negative_errno(), "Failed to open %s: %m", s->image);
        return fd;
}

int image_mount_raw(Settings *s) {
        _cleanup_(dissected_image_freep) DissectedImage *m = NULL;
        _cleanup_free_ char *reason = NULL;
        _cleanup_close_ int fd = -EBADF;
        DissectMountFlags flags = 0;
        int r;

        /* Our own namespace, into which nothing of the host propagates back out: the image's
         * mounts exist only for us and the container we clone from here. */
        if (unshare(CLONE_NEWNS) < 0)
                return log_error_errno(negative_errno(), "Failed to make a mount namespace for the image: %m");
        if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
                return log_error_errno(negative_errno(), "Failed to make our mounts private: %m");

        fd = open_image(s);
        if (fd < 0)
                return fd;
        r = dissect_image_fd(fd, &m, &reason);
        if (r < 0)
                return log_error_errno(r, "Refusing the image %s: %s", s->image, reason ?: "cannot dissect it");
        for (int d = 0; d < _PARTITION_DESIGNATOR_MAX; d++)
                if (m->partitions[d].found)
                        log_debug("%s: %s partition %d, %s, %" PRIu64 " bytes at %" PRIu64 "%s.", s->image,
                                  partition_designator_to_string(d), m->partitions[d].partno,
                                  m->partitions[d].fstype, m->partitions[d].size, m->partitions[d].offset,
                                  m->partitions[d].read_only ? ", read-only" : "");

        r = dissected_image_attach(m, fd, s->read_only || s->ephemeral || s->volatile_mode != VOLATILE_NO);
        if (r < 0)
                return log_error_errno(r, "Failed to attach %s to a loop device: %m", s->image);
        /* A root the image marks read-only makes the whole run read-only, as on a disk. */
        if (m->partitions[PARTITION_ROOT].read_only && !s->ephemeral && s->volatile_mode == VOLATILE_NO)
                s->read_only = true;
        if (s->read_only || s->ephemeral || s->volatile_mode != VOLATILE_NO)
                flags |= DISSECT_MOUNT_READ_ONLY;

        if (mkdir(RUNTIME_DIR, 0755) < 0 && errno != EEXIST)
                return log_error_errno(negative_errno(), "Failed to create %s: %m", RUNTIME_DIR);
        if (mkdir(IMAGE_MOUNT_DIR, 0700) < 0 && errno != EEXIST)
                return log_error_errno(negative_errno(), "Failed to create %s: %m", IMAGE_MOUNT_DIR);
        r = dissected_image_mount(m, IMAGE_MOUNT_DIR, flags);
        if (r < 0)
                return log_error_errno(r, "Failed to mount the image %s: %m", s->image);
        if (m->partitions[PARTITION_ESP].not_mounted)
                log_notice("Not mounting the ESP of %s at /efi: this kernel cannot mount %s.", s->image,
                           m->partitions[PARTITION_ESP].fstype);

        free(s->directory);
        s->directory = strdup(IMAGE_MOUNT_DIR);
        if (!s->directory)
                return log_oom();
        /* The loop fds close here: from now on the mounts alone hold the devices. */
        return 0;
}
