/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Files between host and container: BindMountMachine and Copy{From,To}Machine in workers. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "manager.h"

/* CopyFromMachineWithFlags / CopyToMachineWithFlags: replace what exists at the destination. */
#define MACHINE_COPY_REPLACE (UINT64_C(1) << 0)
#define _MACHINE_COPY_KNOWN MACHINE_COPY_REPLACE

/* An absolute path without "." or ".." components (and not "/" unless ALLOW_ROOT): what a caller
 * may name on either side. */
bool copy_path_is_valid(const char *p, bool allow_root);

typedef struct CopyOptions {
        bool replace;
        /* Keep the source's owners; otherwise new files get the creator's (fs)uid/gid. */
        bool preserve_owner;
} CopyOptions;

/* Copies the node SRC_FD (an O_PATH fd of a file, directory, symlink or FIFO; anything else is
 * -EOPNOTSUPP) to NAME in DST_DIR_FD, recursively, never following symlinks below the top and
 * never crossing into another file system. Without REPLACE an existing NAME is -EEXIST. Device
 * nodes and sockets inside a tree are skipped. */
int copy_tree_at(int src_fd, int dst_dir_fd, const char *name, const CopyOptions *opts);

/* BindMount* and Copy*, on the Manager and on Machine objects (added by manager_bus_register()). */
extern const sd_bus_vtable files_manager_vtable[];
extern const sd_bus_vtable files_machine_vtable[];
