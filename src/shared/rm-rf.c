/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Removing trees without following symlinks or crossing mounts, and the immutable flag that stands in the way. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "btrfs-util.h"
#include "fd-util.h"
#include "macro.h"
#include "rm-rf.h"

/* Sets (SET) or clears FS_IMMUTABLE_FL on directory FD; returns whether it was set before. */
int chattr_immutable(int fd, bool set) {
        unsigned attr = 0, n;

        if (ioctl(fd, FS_IOC_GETFLAGS, &attr) < 0)
                return errno == ENOTTY || errno == EINVAL ? -EOPNOTSUPP : negative_errno();
        n = set ? (attr | FS_IMMUTABLE_FL) : (attr & ~FS_IMMUTABLE_FL);
        if (n != attr && ioctl(fd, FS_IOC_SETFLAGS, &n) < 0)
                return errno == ENOTTY || errno == EINVAL ? -EOPNOTSUPP : negative_errno();
        return !!(attr & FS_IMMUTABLE_FL);
}

int rm_rf_at(int dir_fd, const char *name, dev_t dev) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        struct stat st;
        int fd, r = 0;

        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (!S_ISDIR(st.st_mode))
                return RET_NERRNO(unlinkat(dir_fd, name, 0));
        r = dirent_is_mount_point(dir_fd, name);
        if (r != 0)
                return r < 0 ? r : -EBUSY;
        /* A device of its own without being a mount point: a btrfs subvolume, which goes with
         * the subvolumes nested in it by the file system's own means. */
        if (st.st_dev != dev)
                return btrfs_subvol_remove_at(dir_fd, name);

        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return negative_errno();
        (void) chattr_immutable(fd, false);
        r = fdopendir_take(fd, &d);
        if (r < 0)
                return r;
        while ((de = readdir(d))) {
                int q;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                q = rm_rf_at(dirfd(d), de->d_name, dev);
                if (q < 0 && r == 0)
                        r = q;
        }
        if (r < 0)
                return r;
        return RET_NERRNO(unlinkat(dir_fd, name, AT_REMOVEDIR));
}

int rm_rf_path(const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        _cleanup_close_ int parent = -EBADF;
        struct stat st;
        char *slash;

        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (!slash || slash == dir || streq(slash, "/"))
                return -EINVAL;
        *slash = '\0';
        parent = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (parent < 0)
                return negative_errno();
        if (fstat(parent, &st) < 0)
                return negative_errno();
        return rm_rf_at(parent, slash + 1, st.st_dev);
}
