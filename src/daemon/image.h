/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The image pool: finding, listing, renaming, removing, marking and copying directory images, without D-Bus. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/* The writable pool, unless $BERTH_IMAGE_POOL (an absolute path) names another one (tests). */
#define IMAGE_POOL_DEFAULT "/var/lib/machines"
/* Prefix of the hidden names work happens under (clone targets, images being removed). */
#define IMAGE_TEMP_PREFIX ".#"

typedef enum ImageType {
        IMAGE_DIRECTORY,
        _IMAGE_TYPE_MAX,
        _IMAGE_TYPE_INVALID = -EINVAL,
} ImageType;

typedef struct Image {
        char *name;
        char *path;          /* the pool entry, not resolved: for a symlink, the symlink */
        ImageType type;
        bool read_only;      /* in a read-only pool directory, or immutable (chattr +i) */
        bool vendor;         /* in a read-only pool directory: never changed by us */
        bool symlink;        /* the pool entry is a symlink (to a directory) */
        uint64_t crtime;     /* µs since the epoch, 0 if the file system does not say */
        uint64_t mtime;      /* µs since the epoch */
        uint64_t usage;      /* bytes, UINT64_MAX if unknown */
} Image;

const char *image_type_to_string(ImageType t);

/* The writable pool directory ($BERTH_IMAGE_POOL or IMAGE_POOL_DEFAULT). */
const char *image_pool_path(void);

Image *image_free(Image *i);
DEFINE_TRIVIAL_CLEANUP_FUNC(Image *, image_free);

/* Looks NAME up in the pool directories, the writable one first. -ENOENT when there is no such
 * image (also for names image_name_is_valid() refuses and for entries of unsupported types). */
int image_find(const char *name, Image **ret);

/* All images of the pool (hidden ones too with ALL), a name found in an earlier directory
 * shadowing later ones. *RET is a NULL-terminated array of images, freed with image_list_free(). */
int image_discover(bool all, Image ***ret);
Image **image_list_free(Image **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(Image **, image_list_free);

/* True if a machine whose root directory is ROOT runs from image I (ROOT is I's directory or
 * below it, symlinks resolved). */
bool image_is_root_of(const Image *i, const char *root);

/* Renames I to NEW_NAME within its pool directory; -EEXIST if NEW_NAME is taken anywhere in
 * the pool. The immutable flag, if set, is kept. */
int image_rename(Image *i, const char *new_name);

/* Sets or clears FS_IMMUTABLE_FL on I's top directory (what machined does for directories). */
int image_set_read_only(Image *i, bool read_only);

/* Takes I out of sight at once: a symlink is unlinked (never its target) and *RET_HIDDEN set to
 * NULL; a directory is renamed to a hidden ".#" name, returned in *RET_HIDDEN (absolute), for
 * rm_rf_path() to remove at leisure. */
int image_hide_for_removal(Image *i, char **ret_hidden);

/* Removes the ".#" leftovers of interrupted operations from the writable pool. Returns the
 * number removed or a negative errno. */
int image_pool_clean(void);
