/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Finding images in the pool and the init inside a tree. */
#pragma once

#include <stdbool.h>

typedef enum InitKind {
        INIT_SYSTEMD,
        INIT_BUSYBOX,
        INIT_OTHER,
        _INIT_KIND_MAX,
        _INIT_KIND_INVALID = -22,
} InitKind;

const char *init_kind_to_string(InitKind k);
InitKind init_kind_from_string(const char *s);

/* Looks NAME up in the image pool directories (the writable one first). Returns the absolute
 * path of a directory image in *RET, or -ENOENT. */
int image_find(const char *name, char **ret);

/* Looks for NAME.raw (a regular file or a block device) in the same pool directories. */
int image_find_raw(const char *name, char **ret);

/* The machine name of a raw image path: its file name without ".raw". NULL when out of memory. */
char *image_raw_name(const char *path);

/* The writable pool directory: $BERTH_IMAGE_POOL (an absolute path, as for berthd) or MACHINES_DIR. */
const char *image_pool_dir(void);

/* Finds the init of the tree below ROOT_FD the way nspawn does (systemd first, then
 * /sbin/init), resolved inside the tree. Returns its path inside the tree and its kind. */
int image_find_init(int root_fd, char **ret_path, InitKind *ret_kind);

/* Whether the tree looks like an OS: it has an os-release file. */
bool image_is_os_tree(int root_fd);

/* The signals that ask an init of this kind to power off and to reboot. */
int init_kind_poweroff_signal(InitKind k);
int init_kind_reboot_signal(InitKind k);
