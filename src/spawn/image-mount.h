/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Raw disk images for berth-spawn: dissected, attached and mounted where the container finds its tree. */
#pragma once

#include "settings.h"

/* The mount point of the image's tree, in berth-spawn's own mount namespace. */
#define IMAGE_MOUNT_DIR RUNTIME_DIR "/image"

/* Checks that S->image is a regular file or a block device and makes it absolute. */
int image_raw_check(Settings *s);

/* Moves berth-spawn into a private mount namespace, dissects S->image (refusing hostile ones
 * with the reason), attaches its partitions to auto-clearing loop devices and mounts them at
 * IMAGE_MOUNT_DIR (read-only for --read-only, --ephemeral and --volatile, or when the image
 * cannot be written), then points S->directory there. The mounts die with the namespace, that
 * is with berth-spawn and its container, and the loop devices with the mounts: nothing is left
 * behind, however berth-spawn ends. */
int image_mount_raw(Settings *s);
