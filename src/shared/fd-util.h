/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* File descriptor helpers: closing everything but a chosen few before handing over a process. */
#pragma once

#include <stdbool.h>
#include <dirent.h>
#include <stddef.h>

#include "macro.h"

/* Closes every fd >= 3 except those listed (which must be sorted ascending). */
int close_all_fds_except(const int *keep, size_t n_keep);
/* Moves FD to exactly TARGET (dup2, clearing O_CLOEXEC), closing the original. */
int fd_move_to(int fd, int target);
/* Writes all N bytes of P to FD, again after EINTR and short writes: 0 or -errno. */
int write_all(int fd, const void *p, size_t n);
int fd_set_cloexec(int fd, bool cloexec);
int fd_set_nonblock(int fd, bool nonblock);
/* Lowers the soft RLIMIT_NOFILE to 1024 (leaving the hard limit) before we exec something else:
 * berthd raises it for its pidfds, but programs that use select() break with fds >= 1024. */
int rlimit_nofile_safe(void);

/* A non-blocking fd of our own for stdio fd FD that does not change FD for whoever shares its
 * file description (the shell that started us): ttys and pipes are reopened through /proc;
 * sockets (and what cannot be reopened) are dup()ed and get O_NONBLOCK on the shared
 * description, whose old flags *RET_SAVED_FLAGS keeps to be put back at the end (else -1);
 * regular files and block devices never block and are used as they are (*RET_OWNED false). */
int stdio_open_nonblock(int fd, bool output, int *ret_fd, bool *ret_owned, int *ret_saved_flags);

/* fdopendir() that owns FD either way: on failure FD is closed too. */
int fdopendir_take(int fd, DIR **ret);

static inline void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

/* Whether entry NAME of DIR_FD is a mount point: 1, 0, or a negative errno. By mount ID, not
 * device number: a btrfs subvolume has a device number of its own without being a mount
 * point, and a bind mount of the same file system has the same one while being one. */
int dirent_is_mount_point(int dir_fd, const char *name);
