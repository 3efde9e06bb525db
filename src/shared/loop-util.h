/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loop devices: attaching a range of a file to a free loop device that frees itself when unused. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Attaches SIZE bytes at OFFSET of the file (or block device) open at FD to a free loop device
 * with LOOP_CONFIGURE and LO_FLAGS_AUTOCLEAR (read-only with READ_ONLY). SIZE 0 means up to the
 * end. Returns the loop device's fd (O_CLOEXEC) and, if RET_PATH, its path ("/dev/loopN").
 * AUTOCLEAR: the device is released as soon as the returned fd and every mount of it are gone,
 * so mount it before closing the fd. */
int loop_device_attach(int fd, uint64_t offset, uint64_t size, bool read_only, char **ret_path);
