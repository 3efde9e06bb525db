/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The container's file system: its root, the API file systems, masks, custom mounts, and the
 * pivot into it. Runs in a new mount namespace as host root (see container.c for who). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "image.h"
#include "settings.h"

typedef struct MountContext {
        const Settings *settings;
        const char *directory;     /* the tree on the host */
        const char *console_path;  /* host path of the pty slave for /dev/console, or NULL */
        const char *os_release;    /* the host's os-release, copied to /run/host/os-release */
        char machine_id[33];       /* the machine's UUID as 32 hex digits */
        InitKind init_kind;
        int userns_fd;             /* the container's user namespace when the root is idmapped */
        bool idmap_root;
        uid_t uid_shift;           /* host UID of container root (0 without a user namespace) */
        bool private_network;
} MountContext;

/* Sets up every mount and pivots into the new root. Returns (in *RET_NOTIFY_FD) the bound
 * /run/host/notify socket for the supervisor. On return the cwd and root are the container's. */
int mount_setup(const MountContext *c, int *ret_notify_fd);
