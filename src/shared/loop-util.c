/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loop devices: attaching a range of a file to a free loop device that frees itself when unused. */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/loop.h>
#include <stdio.h>
#include <sys/ioctl.h>

#include "log.h"
#include "loop-util.h"
#include "macro.h"

/* Another process may take the device LOOP_CTL_GET_FREE gave us before we configure it; then we
 * ask again. A bounded number of times, so a busy machine gets an error instead of a hang. */
#define LOOP_ATTACH_ATTEMPTS 64

int loop_device_attach(int fd, uint64_t offset, uint64_t size, bool read_only, char **ret_path) {
        _cleanup_close_ int control = -EBADF;
        struct loop_config config = {
                .fd = (uint32_t) fd,
                .info = {
                        .lo_offset = offset,
                        .lo_sizelimit = size,
                        .lo_flags = LO_FLAGS_AUTOCLEAR | (read_only ? LO_FLAGS_READ_ONLY : 0),
                },
        };

        if (fd < 0)
                return -EBADF;
        control = open("/dev/loop-control", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (control < 0)
                return log_debug_errno(negative_errno(), "Failed to open /dev/loop-control: %m");

        for (int attempt = 0; attempt < LOOP_ATTACH_ATTEMPTS; attempt++) {
                _cleanup_close_ int loop = -EBADF;
                char path[32];
                int nr;

                nr = ioctl(control, LOOP_CTL_GET_FREE);
                if (nr < 0)
                        return log_debug_errno(negative_errno(), "Failed to find a free loop device: %m");
                snprintf(path, sizeof(path), "/dev/loop%d", nr);
                loop = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (loop < 0) {
                        /* The node appears a moment after the device on devtmpfs. */
                        if (errno == ENOENT || errno == ENXIO)
                                continue;
                        return log_debug_errno(negative_errno(), "Failed to open %s: %m", path);
                }
                if (ioctl(loop, LOOP_CONFIGURE, &config) < 0) {
                        if (errno == EBUSY)
                                continue;
                        return log_debug_errno(negative_errno(), "Failed to configure %s: %m", path);
                }
                log_debug("Attached %s (offset %" PRIu64 ", size %" PRIu64 "%s).", path, offset, size,
                          read_only ? ", read-only" : "");
                if (ret_path) {
                        *ret_path = strdup(path);
                        if (!*ret_path)
                                return -ENOMEM;  /* closing LOOP releases the device: AUTOCLEAR */
                }
                return TAKE_FD(loop);
        }
        return log_debug_errno(-EBUSY, "No free loop device after %d attempts.", LOOP_ATTACH_ATTEMPTS);
}
