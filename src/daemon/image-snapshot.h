/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Snapshots of pool images in <writable pool>/.snapshots/IMAGE/SNAPSHOT: making, listing, restoring, removing, without D-Bus. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "image.h"
#include "macro.h"

/* The store is IMAGE_SNAPSHOTS_NAME (image.h) in the writable pool, never listed as an image. */

typedef struct ImageSnapshot {
        char *name;
        uint64_t crtime; /* µs since the epoch: when the snapshot was made */
        uint64_t usage;  /* bytes, UINT64_MAX if unknown (directories: walking them is too slow) */
} ImageSnapshot;

ImageSnapshot *image_snapshot_free(ImageSnapshot *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ImageSnapshot *, image_snapshot_free);
ImageSnapshot **image_snapshot_list_free(ImageSnapshot **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(ImageSnapshot **, image_snapshot_list_free);

/* Snapshot SNAPSHOT of image IMAGE; -ENOENT if there is none (also for invalid names). */
int image_snapshot_find(const char *image, const char *snapshot, ImageSnapshot **ret);
/* IMAGE's snapshots, oldest first, as a NULL-terminated array (empty if there are none). */
int image_snapshot_list(const char *image, ImageSnapshot ***ret);

/* The default name of a new snapshot of IMAGE: the UTC time as "YYYYMMDD-HHMMSS", with "-N"
 * appended if that name is taken. */
int image_snapshot_default_name(const char *image, char **ret);

/* Slow (a copy where the file system cannot share extents): run it in a worker. Snapshots the
 * image open at SRC_FD (a directory or a raw image file) as SNAPSHOT of IMAGE: a read-only
 * subvolume snapshot where SRC_FD is a btrfs subvolume on the store's file system, else a copy
 * with reflinks where possible. Built under a hidden ".#" name and renamed into place. -EEXIST
 * if SNAPSHOT exists, unless NUMBERED: then "-N" is appended until a name is free. The name
 * used goes to *RET_NAME. */
int image_snapshot_create(int src_fd, const char *image, const char *snapshot, bool numbered, char **ret_name);

/* Slow: run it in a worker, holding the image's lock. Replaces the image whose pool entry is
 * IMAGE_PATH (a directory or raw file, not a symlink) with a copy of IMAGE's snapshot SNAPSHOT:
 * built under a hidden ".#" name beside it, swapped in with RENAME_EXCHANGE (the image's name
 * never disappears), then the old tree removed. The snapshot stays. -EMEDIUMTYPE if the
 * snapshot and the image are of different kinds. */
int image_snapshot_restore(const char *image_path, const char *image, const char *snapshot);

/* Takes snapshot SNAPSHOT of IMAGE out of sight at once (renamed to a hidden ".#" name, returned
 * in *RET_HIDDEN); -ENOENT if there is no such snapshot. */
int image_snapshot_hide(const char *image, const char *snapshot, char **ret_hidden);
/* Slow: removes what image_snapshot_hide() hid. */
int image_snapshot_remove_hidden(const char *image, const char *hidden);

/* For the pool: the snapshots of an image follow its renames and go with it. Both return 0 if
 * the image has no snapshots; rename gives -EEXIST if NEW_NAME has snapshots already. Remove is
 * slow (it deletes trees): call it where the image's own tree is deleted. */
int image_snapshots_rename(const char *old_name, const char *new_name);
int image_snapshots_remove(const char *name);

/* Removes the ".#" leftovers of interrupted snapshot operations from the store (berthd's start).
 * Returns the number removed or a negative errno. */
int image_snapshots_clean(void);
