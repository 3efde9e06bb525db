/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The container's user namespace: choosing a UID range nobody else holds, and mapping it. */
#pragma once

#include <sys/types.h>

/* The range "pick" chooses lives in [USERNS_PICK_MIN, USERNS_PICK_MAX), aligned to 64K, like
 * nspawn's, far above the IDs of regular and system users. */
#define USERNS_PICK_MIN 0x00080000U
#define USERNS_PICK_MAX 0x6FFF0000U

/* Picks a free 64K range for MACHINE and locks it (the lock, an fd, lives as long as the
 * machine; a crashed run's lock goes with its process). A tree whose root is already owned by
 * a range base (shifted by chown earlier) gets that range back. */
int userns_pick(const char *machine, int tree_fd, uid_t *ret_shift, int *ret_lock_fd);
/* Gives the range back: removes its lock file and closes LOCK_FD (-EBADF: nothing to do). */
void userns_unlock(uid_t shift, int lock_fd);

/* Writes "0 SHIFT RANGE" to PID's uid_map and gid_map. */
int userns_write_maps(pid_t pid, uid_t shift, uid_t range);
