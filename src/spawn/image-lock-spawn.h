/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lock berth-spawn holds on its image for its whole run. */
#pragma once

#include "settings.h"

/* Locks the image S runs from (the raw image file of -i, else the tree): exclusively for a writable run, shared for --read-only,
 * --ephemeral and --volatile, which leave the image as it is. Logs and returns -EBUSY when
 * another machine holds a conflicting lock. Returns the lock's fd (O_CLOEXEC), which the
 * supervisor keeps open until it exits. */
int spawn_image_lock(const Settings *s);
