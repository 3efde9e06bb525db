/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lock a running machine holds on its image, so no one removes, renames, restores or boots it writable under it. */
#pragma once

#include <stdbool.h>

/* Locks the image at PATH (a directory, a raw file or a block device; symlinks followed): shared
 * for a read-only use, exclusive for a writable one. The lock is a BSD lock on the image's own
 * inode, so it follows the image through renames and is released when the returned fd closes,
 * however the holder ends. -EBUSY when a conflicting lock is held. Returns the fd (O_CLOEXEC). */
int image_lock(const char *path, bool exclusive);

/* Whether anyone holds a lock on the image at PATH: 1 if so, 0 if not, negative errno. */
int image_lock_held(const char *path);
