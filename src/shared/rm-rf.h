/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Removing trees without following symlinks or crossing mounts. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* Sets (SET) or clears FS_IMMUTABLE_FL on FD; returns whether it was set before, -EOPNOTSUPP
 * where the file system has no such flag. */
int chattr_immutable(int fd, bool set);

/* Removes NAME below DIR_FD and everything below it, never following symlinks; a mount point
 * is not entered and fails the removal with -EBUSY; a btrfs subvolume (a device other than DEV
 * that is no mount point) is deleted as one, nested ones included. */
int rm_rf_at(int dir_fd, const char *name, dev_t dev);

/* Removes PATH and everything below it, never following symlinks nor crossing into other file
 * systems (a mount point below is left, and the removal then fails with -EBUSY). */
int rm_rf_path(const char *path);

