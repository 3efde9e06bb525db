/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copying a whole tree: reflinks where the file system can, and everything a tree is made of. */
#pragma once

#include <stdint.h>

/* Copies the directory tree SRC_FD into the empty directory DEST (absolute),
 * keeping owners, modes, timestamps, xattrs (ACLs with them), hard links, device nodes,
 * symlinks and holes, with reflinks where the file system can. Does not cross mount points
 * (they become empty directories); nested btrfs subvolumes are copied, as subvolumes where
 * DEST is on btrfs too. On failure DEST may be left half done. */
int copy_tree(int src_fd, const char *dest);

/* How far copy_tree_full() is: DONE bytes of regular-file data (a reflinked file counts whole at
 * once). Called at most a few times a second (no extra syscall per file), and once at the end.
 * A negative return stops the copy with that errno (a cancel). */
typedef int (*CopyProgress)(uint64_t done, void *userdata);

/* copy_tree() that reports to PROGRESS (may be NULL) as it goes. */
int copy_tree_full(int src_fd, const char *dest, CopyProgress progress, void *userdata);
