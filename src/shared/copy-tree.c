/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copying a whole tree (CloneImage, templates): reflinks where possible, and everything a tree is made of. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "copy-tree.h"
#include "fd-util.h"
#include "macro.h"

/* Inodes with several links already copied: the next link to one becomes a hard link. */
typedef struct HardLink {
        dev_t dev;
        ino_t ino;
        char *path; /* relative to the destination root */
} HardLink;

typedef struct CopyContext {
        int dest_root;
        dev_t dev;
        HardLink *links;
        size_t n_links;
} CopyContext;

#define XATTR_LIST_MAX_BYTES (64U * 1024U)
#define XATTR_VALUE_MAX_BYTES (64U * 1024U)

/* Copies the extended attributes of SRC to DEST: both are fds that name the inode (an O_PATH fd
 * works through its /proc/self/fd link). ACLs are the system.posix_acl_* attributes. */
static int copy_xattrs(int src, int dest) {
        _cleanup_free_ char *names = NULL, *value = NULL;
        char sp[64], dp[64];
        ssize_t n;

        snprintf(sp, sizeof(sp), "/proc/self/fd/%i", src);
        snprintf(dp, sizeof(dp), "/proc/self/fd/%i", dest);
        names = malloc(XATTR_LIST_MAX_BYTES);
        value = malloc(XATTR_VALUE_MAX_BYTES);
        if (!names || !value)
                return -ENOMEM;
        n = listxattr(sp, names, XATTR_LIST_MAX_BYTES);
        if (n < 0)
                return errno == ENOTSUP ? 0 : negative_errno();
        for (char *k = names; k < names + n; k += strlen(k) + 1) {
                ssize_t v = getxattr(sp, k, value, XATTR_VALUE_MAX_BYTES);

                if (v < 0) {
                        if (errno == ENODATA)
                                continue;
                        return negative_errno();
                }
                if (setxattr(dp, k, value, (size_t) v, 0) < 0 && errno != ENOTSUP)
                        return negative_errno();
        }
        return 0;
}

/* Owner, then mode (chown clears set-id bits), then xattrs (chown drops security.capability),
 * then times. FD names the new inode; for symlinks only owner and times apply. */
static int copy_metadata(int src, int fd, const struct stat *st) {
        struct timespec ts[2] = { st->st_atim, st->st_mtim };
        int r;

        if (S_ISLNK(st->st_mode)) {
                if (fchownat(fd, "", st->st_uid, st->st_gid, AT_EMPTY_PATH) < 0)
                        return negative_errno();
                return RET_NERRNO(utimensat(fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));
        }
        if (fchownat(fd, "", st->st_uid, st->st_gid, AT_EMPTY_PATH) < 0)
                return negative_errno();
        {
                char p[64];

                snprintf(p, sizeof(p), "/proc/self/fd/%i", fd);
                if (chmod(p, st->st_mode & 07777) < 0)
                        return negative_errno();
        }
        r = copy_xattrs(src, fd);
        if (r < 0)
                return r;
        return RET_NERRNO(utimensat(fd, "", ts, AT_EMPTY_PATH));
}

/* The data of SRC into the empty DEST: a reflink of the whole file, or the data extents one by
 * one with copy_file_range (which reflinks or copies in the kernel), leaving holes as holes. */
static int copy_data(int src, int dest, off_t size) {
        off_t data = 0, hole;

        if (ioctl(dest, FICLONE, src) >= 0)
                return 0;
        while (data < size) {
                data = lseek(src, data, SEEK_DATA);
                if (data < 0) {
                        if (errno == ENXIO)
                                break; /* only a hole is left */
                        return negative_errno();
                }
                hole = lseek(src, data, SEEK_HOLE);
                if (hole < 0)
                        return negative_errno();
                while (data < hole) {
                        loff_t in = data, out = data;
                        ssize_t n = copy_file_range(src, &in, dest, &out, (size_t) (hole - data), 0);

                        if (n < 0)
                                return negative_errno();
                        if (n == 0)
                                break; /* the file shrank under us */
                        data += n;
                }
        }
        return RET_NERRNO(ftruncate(dest, size));
}

static int remember_link(CopyContext *c, const struct stat *st, const char *path) {
        HardLink *t = realloc(c->links, (c->n_links + 1) * sizeof(HardLink));

        if (!t)
                return -ENOMEM;
        c->links = t;
        t[c->n_links].path = strdup(path);
        if (!t[c->n_links].path)
                return -ENOMEM;
        t[c->n_links].dev = st->st_dev;
        t[c->n_links].ino = st->st_ino;
        c->n_links++;
        return 0;
}

static const char *find_link(CopyContext *c, const struct stat *st) {
        for (size_t i = 0; i < c->n_links; i++)
                if (c->links[i].dev == st->st_dev && c->links[i].ino == st->st_ino)
                        return c->links[i].path;
        return NULL;
}

static int copy_dir(CopyContext *c, int src_dir, int dest_dir, const char *rel);

/* One non-directory entry NAME of SRC_DIR into DEST_DIR. */
static int copy_entry(CopyContext *c, int src_dir, int dest_dir, const char *name,
                      const struct stat *st, const char *rel) {
        _cleanup_close_ int src = -EBADF, dest = -EBADF;
        const char *existing;
        int r;

        if (st->st_nlink > 1 && (existing = find_link(c, st)))
                return RET_NERRNO(linkat(c->dest_root, existing, dest_dir, name, 0));

        if (S_ISREG(st->st_mode)) {
                src = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
                if (src < 0)
                        return negative_errno();
                dest = openat(dest_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (dest < 0)
                        return negative_errno();
                r = copy_data(src, dest, st->st_size);
                if (r < 0)
                        return r;
        } else {
                if (S_ISLNK(st->st_mode)) {
                        char target[PATH_MAX + 1];
                        ssize_t n = readlinkat(src_dir, name, target, PATH_MAX);

                        if (n < 0)
                                return negative_errno();
                        target[n] = '\0';
                        if (symlinkat(target, dest_dir, name) < 0)
                                return negative_errno();
                } else if (mknodat(dest_dir, name, st->st_mode & (S_IFMT | 0600), st->st_rdev) < 0)
                        return negative_errno();
                src = openat(src_dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (src < 0)
                        return negative_errno();
                dest = openat(dest_dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (dest < 0)
                        return negative_errno();
        }
        r = copy_metadata(src, dest, st);
        if (r < 0)
                return r;
        if (st->st_nlink > 1)
                return remember_link(c, st, rel);
        return 0;
}

static int copy_child(CopyContext *c, int src_dir, int dest_dir, const char *name, const char *rel) {
        _cleanup_free_ char *path = NULL;
        struct stat st;

        if (fstatat(src_dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (asprintf(&path, "%s%s%s", rel, *rel ? "/" : "", name) < 0)
                return -ENOMEM;
        if (!S_ISDIR(st.st_mode))
                return copy_entry(c, src_dir, dest_dir, name, &st, path);

        {
                _cleanup_close_ int s = -EBADF, d = -EBADF;
                int r;

                if (mkdirat(dest_dir, name, 0700) < 0)
                        return negative_errno();
                d = openat(dest_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (d < 0)
                        return negative_errno();
                s = openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
                if (s < 0)
                        return negative_errno();
                /* A mount point below the image is not part of it: an empty directory. */
                if (st.st_dev == c->dev) {
                        r = copy_dir(c, s, d, path);
                        if (r < 0)
                                return r;
                }
                return copy_metadata(s, d, &st);
        }
}

static int copy_dir(CopyContext *c, int src_dir, int dest_dir, const char *rel) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int fd, r;

        fd = fcntl(src_dir, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d) {
                r = negative_errno();
                safe_close(fd);
                return r;
        }
        rewinddir(d);
        while ((errno = 0, de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                r = copy_child(c, src_dir, dest_dir, de->d_name, rel);
                if (r < 0)
                        return r;
        }
        return errno > 0 ? -errno : 0;
}

int copy_tree(int src_fd, const char *dest) {
        CopyContext c = { .dest_root = -EBADF };
        _cleanup_close_ int d = -EBADF;
        struct stat st;
        int r;

        if (fstat(src_fd, &st) < 0)
                return negative_errno();
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        d = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (d < 0)
                return negative_errno();
        c.dest_root = d;
        c.dev = st.st_dev;
        r = copy_dir(&c, src_fd, d, "");
        if (r >= 0)
                r = copy_metadata(src_fd, d, &st);
        for (size_t i = 0; i < c.n_links; i++)
                free(c.links[i].path);
        free(c.links);
        return r;
}
