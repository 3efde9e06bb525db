/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The image pool: finding, listing, renaming, removing, marking, copying and limiting images of every type, without D-Bus. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "copy-tree.h"
#include "macro.h"

/* The writable pool, unless $BERTH_IMAGE_POOL (an absolute path) names another one (tests). */
#define IMAGE_POOL_DEFAULT "/var/lib/machines"
/* Prefix of the hidden names work happens under (clone targets, images being removed). */
#define IMAGE_TEMP_PREFIX ".#"
/* A raw disk image NAME is the pool entry NAME.raw. */
#define IMAGE_RAW_SUFFIX ".raw"
/* The snapshot store in the writable pool (image-snapshot.c): never an image. */
#define IMAGE_SNAPSHOTS_NAME ".snapshots"

typedef enum ImageType {
        IMAGE_DIRECTORY,
        IMAGE_SUBVOLUME,     /* a btrfs subvolume */
        IMAGE_RAW,           /* a regular file NAME.raw: a GPT disk image or a bare file system */
        IMAGE_BLOCK,         /* a block device node, or a symlink to one */
        _IMAGE_TYPE_MAX,
        _IMAGE_TYPE_INVALID = -EINVAL,
} ImageType;

typedef struct Image {
        char *name;
        char *path;          /* the pool entry, not resolved: for a symlink, the symlink; NAME.raw for raw */
        ImageType type;
        bool read_only;      /* in a read-only pool directory or file system, immutable (chattr +i),
                              * a read-only subvolume, a raw file without write bits, a read-only device */
        bool vendor;         /* in a read-only pool directory: never changed by us */
        bool symlink;        /* the pool entry is a symlink (to a directory, raw file or device) */
        uint64_t crtime;     /* µs since the epoch, 0 if the file system does not say */
        uint64_t mtime;      /* µs since the epoch */
        /* Bytes, UINT64_MAX if unknown: a subvolume's qgroup (when quota is on); a raw file's
         * allocated bytes and size; a block device's size. Directories: unknown. */
        uint64_t usage;
        uint64_t usage_exclusive;
        uint64_t limit;
        uint64_t limit_exclusive;
} Image;

const char *image_type_to_string(ImageType t);
ImageType image_type_from_string(const char *s);

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

/* Renames I to NEW_NAME within its pool directory (a raw image keeps its ".raw"); -EEXIST if
 * NEW_NAME is taken anywhere in the pool. The immutable flag, if set, is kept. A symlink is
 * renamed itself, never its target. */
int image_rename(Image *i, const char *new_name);

/* Marks I read-only or writable: FS_IMMUTABLE_FL on a directory's top directory (as machined)
 * and on a raw file (chattr +i binds root too, which a mode without write bits would not, and
 * berth-spawn runs as root); BTRFS_SUBVOL_RDONLY on a subvolume. -EOPNOTSUPP for block devices,
 * -EMEDIUMTYPE for symlinks (never changed through the link). */
int image_set_read_only(Image *i, bool read_only);

/* Takes I out of sight at once: a symlink or device node is unlinked (never a symlink's target)
 * and *RET_HIDDEN set to NULL; a directory, subvolume or raw file is renamed to a hidden ".#"
 * name, returned in *RET_HIDDEN (absolute), for image_remove_hidden() to remove at leisure. */
int image_hide_for_removal(Image *i, char **ret_hidden);

/* Removes a hidden entry made by image_hide_for_removal(): a subvolume with every subvolume
 * nested in it, a directory tree, a file. Slow: call it in a worker. */
int image_remove_hidden(const char *hidden);

/* Makes NEW_NAME in the writable pool as a copy of the image of TYPE open at SRC_FD, under a
 * hidden ".#" name renamed into place at the end: a subvolume as a snapshot (instant; a copy
 * when the pool is elsewhere), a raw file by FICLONE or else copy_file_range (holes kept), a
 * directory with copy_tree(). -EEXIST if NEW_NAME exists, -EOPNOTSUPP for block devices. Slow:
 * call it in a worker. */
int image_clone_fd(ImageType type, int src_fd, const char *new_name, bool read_only);
/* image_clone_fd() that reports a copy's progress (bytes done) to PROGRESS, which may also stop
 * it (a negative return: the work entry is removed, that errno returned). A snapshot or a
 * reflinked raw file calls it not at all. */
int image_clone_fd_full(ImageType type, int src_fd, const char *new_name, bool read_only, CopyProgress progress,
                        void *userdata);

/* Limits the bytes I may reference: btrfs quota groups, so only for subvolumes (-ENOTTY for
 * every other image; -EMEDIUMTYPE for a pool symlink to one). UINT64_MAX removes the limit. May
 * enable quota: call it in a worker. */
int image_set_limit(Image *i, uint64_t limit);

/* The name of the file system I's entry is on ("ext4", "btrfs", ...), for messages. */
const char *image_fs_name(const Image *i);

/* Removes the ".#" leftovers of interrupted operations from the writable pool. Returns the
 * number removed or a negative errno. */
int image_pool_clean(void);
