/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Making a tree's owners fit a user namespace: idmapped mounts, or a safe recursive chown. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* Shifts every owner in the tree at PATH so that IDs 0..RANGE-1 (relative to the tree's current
 * base) become SHIFT..SHIFT+RANGE-1. Never follows symlinks inside the tree (PATH itself may be
 * one), never crosses into another mount, never opens FIFOs or devices, keeps set-uid/set-gid
 * bits, moves POSIX ACL entries and the rootid of v3 file capabilities with the owners. The base
 * the tree is at is recorded as the owner of the tree's root directory, changed last, so a
 * second call with the same SHIFT is a no-op (returns 0), one with another SHIFT re-shifts, and
 * an interrupted run is completed by the next call without moving anything twice. IDs outside
 * the tree's range become the target range's "nobody" (SHIFT+65534, or its last ID when RANGE is
 * smaller). Mounts below PATH are left alone. Returns 1 if something changed, -EINVAL for a
 * range that is empty or reaches (uid_t) -1, -ESTALE if the tree was rearranged during the walk.
 * The design and its one remaining window are described in ownership.c. */
int ownership_chown_tree(const char *path, uid_t shift, uid_t range);

/* Whether the filesystem of DIR_FD supports idmapped mounts (tried with a throwaway
 * open_tree + mount_setattr into USERNS_FD, nothing is attached). */
bool ownership_idmap_supported(int dir_fd, int userns_fd);
/* The same, with the reason (added for logging "auto"'s choice): 0, or the negative errno of
 * open_tree()/mount_setattr(): EINVAL when the filesystem cannot be idmapped (procfs, and an
 * overlayfs mount here), EPERM e.g. for a tree on an overlayfs lower layer (TESTING.md). */
int ownership_idmap_probe(int dir_fd, int userns_fd);
