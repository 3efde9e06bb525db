/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* btrfs subvolumes, snapshots, the read-only flag and quota groups, through the kernel's ioctls. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Whether FD (any open fd, O_PATH too) is the top directory of a btrfs subvolume: 1 if so, 0 if
 * not (also on other file systems), negative errno. */
int btrfs_is_subvol_fd(int fd);

/* Creates the subvolume NAME below DIR_FD (which must be on btrfs: -ENOTTY otherwise). */
int btrfs_subvol_make_at(int dir_fd, const char *name);

/* Snapshots the subvolume open at SRC_FD as DEST_NAME below DEST_DIR_FD, optionally read-only.
 * Nested subvolumes are not part of a snapshot (btrfs leaves empty directories in their place). */
int btrfs_subvol_snapshot_at(int src_fd, int dest_dir_fd, const char *dest_name, bool read_only);

/* Removes the subvolume NAME below DIR_FD together with the subvolumes nested anywhere in it
 * (those first) and its qgroup. Read-only ones are made writable for that. -ENOTTY if NAME is
 * not a subvolume. */
int btrfs_subvol_remove_at(int dir_fd, const char *name);

/* Sets or clears BTRFS_SUBVOL_RDONLY on the subvolume open at FD. */
int btrfs_subvol_set_read_only_fd(int fd, bool ro);
/* 1 if the subvolume open at FD is read-only, 0 if not, negative errno. */
int btrfs_subvol_get_read_only_fd(int fd);

/* The level-0 qgroup of the subvolume open at FD: bytes referenced and exclusive, and the limits
 * on them (UINT64_MAX where none is set). Any pointer may be NULL. -ENOTCONN when quota is not
 * enabled on the file system, -ENOTTY when FD is not on btrfs, -ENOENT if there is no qgroup. */
int btrfs_qgroup_get_fd(int fd, uint64_t *referenced, uint64_t *exclusive,
                        uint64_t *limit_referenced, uint64_t *limit_exclusive);

/* Limits the referenced bytes of the subvolume open at FD's level-0 qgroup to REFERENCED_MAX
 * (UINT64_MAX: no limit), enabling quota on the file system first if needed. */
int btrfs_qgroup_set_limit_fd(int fd, uint64_t referenced_max);
