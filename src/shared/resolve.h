/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Path access inside a container tree that never escapes it: every lookup goes through
 * openat2(RESOLVE_IN_ROOT), so symlinks and ".." planted in the tree resolve inside the tree. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Opens PATH below ROOT_FD (absolute paths are taken relative to the root). FLAGS are open(2)
 * flags; O_CLOEXEC is always added. Magic links (/proc/self/fd/...) are refused. */
int open_in_root(int root_fd, const char *path, int flags, mode_t mode);

/* Makes every missing directory of PATH below ROOT_FD; returns an O_PATH fd of the last one. */
int mkdir_p_in_root(int root_fd, const char *path, mode_t mode);
/* The same for a host path of our own (state directories): every missing component, MODE. */
int mkdir_p(const char *path, mode_t mode);

/* Opens (creating when missing) the mount point PATH below ROOT_FD: a directory, or with
 * IS_FILE an empty regular file, as a bind mount of a file needs one. Returns an O_PATH fd. */
int mount_point_in_root(int root_fd, const char *path, bool is_file, mode_t mode);

/* Writes CONTENT to PATH below ROOT_FD, replacing what is there; a symlink at PATH is never
 * followed out of the tree, a non-regular file at PATH is refused (-EEXIST). */
int write_file_in_root(int root_fd, const char *path, const char *content, mode_t mode);

/* Reads at most MAX bytes of PATH below ROOT_FD; a larger file is -EFBIG. */
int read_file_in_root(int root_fd, const char *path, size_t max, char **ret);

/* Reads at most MAX bytes of a file by fd (regular files only; -EFBIG when larger). */
int read_fd_full(int fd, size_t max, char **ret, size_t *ret_size);

/* Writes a whole string to a (kernel) file such as /proc/PID/uid_map in one write(2). */
int write_string_file(const char *path, const char *content);
int write_string_fileat(int dir_fd, const char *path, const char *content);
