/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copying a whole tree: reflinks where the file system can, and everything a tree is made of. */
#pragma once

/* Copies the directory tree SRC_FD into the empty directory DEST (absolute),
 * keeping owners, modes, timestamps, xattrs (ACLs with them), hard links, device nodes,
 * symlinks and holes, with reflinks where the file system can. Does not cross mount points
 * (they become empty directories); nested btrfs subvolumes are copied, as subvolumes where
 * DEST is on btrfs too. On failure DEST may be left half done. */
int copy_tree(int src_fd, const char *dest);
