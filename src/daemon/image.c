/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The image pool of berthd: directory images in the pool directories, and the file system work on them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fd-util.h"
#include "image.h"
#include "name-util.h"
#include "rm-rf.h"

/* The read-only pool directories, searched after the writable one. */
static const char *const vendor_pools[] = { "/usr/local/lib/machines", "/usr/lib/machines" };

const char *image_type_to_string(ImageType t) {
        return t == IMAGE_DIRECTORY ? "directory" : NULL;
}

const char *image_pool_path(void) {
        const char *e = getenv("BERTH_IMAGE_POOL");

        return !isempty(e) && e[0] == '/' ? e : IMAGE_POOL_DEFAULT;
}

Image *image_free(Image *i) {
        if (!i)
                return NULL;
        free(i->name);
        free(i->path);
        free(i);
        return NULL;
}

Image **image_list_free(Image **l) {
        for (Image **i = l; i && *i; i++)
                image_free(*i);
        free(l);
        return NULL;
}

static uint64_t timespec_usec(const struct statx_timestamp *t) {
        return (uint64_t) t->tv_sec * 1000000ULL + t->tv_nsec / 1000;
}

/* Makes an Image of entry NAME of pool directory DIR_FD (path POOL); -ENOENT for entries that
 * are no image (other types, dangling symlinks). */
static int image_make(int dir_fd, const char *pool, bool vendor, const char *name, Image **ret) {
        _cleanup_(image_freep) Image *i = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct statx sx;
        struct stat lst;
        unsigned attr = 0;

        if (fstatat(dir_fd, name, &lst, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        /* A symlink is followed to see what it is, but nothing below is ever read through it. */
        if (statx(dir_fd, name, AT_STATX_SYNC_AS_STAT, STATX_BTIME | STATX_MTIME | STATX_TYPE, &sx) < 0)
                return errno == ENOENT || errno == ELOOP ? -ENOENT : negative_errno();
        if (!S_ISDIR(sx.stx_mode))
                return -ENOENT;

        i = calloc(1, sizeof(*i));
        if (!i)
                return -ENOMEM;
        i->name = strdup(name);
        if (!i->name || asprintf(&i->path, "%s/%s", pool, name) < 0)
                return -ENOMEM;
        i->type = IMAGE_DIRECTORY;
        i->vendor = vendor;
        i->symlink = S_ISLNK(lst.st_mode);
        i->crtime = (sx.stx_mask & STATX_BTIME) ? timespec_usec(&sx.stx_btime) : 0;
        i->mtime = timespec_usec(&sx.stx_mtime);
        i->usage = UINT64_MAX; /* walking the tree is too slow for a bus call; later: quota */

        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
        if (fd >= 0) {
                struct statvfs sv;

                if (ioctl(fd, FS_IOC_GETFLAGS, &attr) < 0)
                        attr = 0;
                if (fstatvfs(fd, &sv) >= 0 && (sv.f_flag & ST_RDONLY))
                        i->read_only = true;
        }
        i->read_only = i->read_only || vendor || (attr & FS_IMMUTABLE_FL);
        *ret = TAKE_PTR(i);
        return 0;
}

int image_find(const char *name, Image **ret) {
        const char *pools[1 + ELEMENTSOF(vendor_pools)] = { image_pool_path() };
        int r;

        if (!image_name_is_valid(name))
                return -ENOENT;
        for (size_t k = 0; k < ELEMENTSOF(vendor_pools); k++)
                pools[k + 1] = vendor_pools[k];

        for (size_t k = 0; k < ELEMENTSOF(pools); k++) {
                _cleanup_close_ int dir_fd = open(pools[k], O_RDONLY | O_DIRECTORY | O_CLOEXEC);

                if (dir_fd < 0)
                        continue;
                r = image_make(dir_fd, pools[k], k > 0, name, ret);
                if (r != -ENOENT)
                        return r;
        }
        return -ENOENT;
}

static int list_add(Image ***l, size_t *n, Image *i) {
        Image **t = realloc(*l, (*n + 2) * sizeof(Image *));

        if (!t)
                return -ENOMEM;
        t[(*n)++] = i;
        t[*n] = NULL;
        *l = t;
        return 0;
}

static bool list_has(Image **l, const char *name) {
        for (Image **i = l; i && *i; i++)
                if (streq((*i)->name, name))
                        return true;
        return false;
}

int image_discover(bool all, Image ***ret) {
        const char *pools[1 + ELEMENTSOF(vendor_pools)] = { image_pool_path() };
        _cleanup_(image_list_freep) Image **l = NULL;
        size_t n = 0;
        int r;

        for (size_t k = 0; k < ELEMENTSOF(vendor_pools); k++)
                pools[k + 1] = vendor_pools[k];
        l = calloc(1, sizeof(Image *));
        if (!l)
                return -ENOMEM;

        for (size_t k = 0; k < ELEMENTSOF(pools); k++) {
                _cleanup_(closedirp) DIR *d = opendir(pools[k]);
                struct dirent *de;

                if (!d)
                        continue;
                while ((de = readdir(d))) {
                        Image *i = NULL;

                        if (!image_name_is_valid(de->d_name) || (!all && de->d_name[0] == '.'))
                                continue;
                        if (list_has(l, de->d_name))
                                continue;
                        r = image_make(dirfd(d), pools[k], k > 0, de->d_name, &i);
                        if (r == -ENOENT)
                                continue;
                        if (r < 0)
                                return r;
                        r = list_add(&l, &n, i);
                        if (r < 0)
                                return image_free(i), r;
                }
        }
        *ret = TAKE_PTR(l);
        return 0;
}

bool image_is_root_of(const Image *i, const char *root) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        size_t n;

        if (isempty(root))
                return false;
        a = realpath(i->path, NULL);
        b = realpath(root, NULL);
        if (!a || !b)
                return false;
        n = strlen(a);
        if (streq(a, "/"))
                return true;
        return strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '/');
}

static int parent_fd(const Image *i, int *ret) {
        _cleanup_free_ char *dir = strdup(i->path);
        char *slash;
        int fd;

        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (!slash)
                return -EINVAL;
        *(slash == dir ? slash + 1 : slash) = '\0';
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        *ret = fd;
        return 0;
}

static int open_image_dir(int parent, const char *name) {
        int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

        return fd < 0 ? negative_errno() : fd;
}

int image_rename(Image *i, const char *new_name) {
        _cleanup_close_ int parent = -EBADF, fd = -EBADF;
        _cleanup_(image_freep) Image *other = NULL;
        _cleanup_free_ char *new_path = NULL;
        char *slash;
        int was = 0, r;

        if (i->vendor)
                return -EROFS;
        if (!image_name_is_valid(new_name))
                return -EINVAL;
        if (image_find(new_name, &other) >= 0)
                return -EEXIST;
        r = parent_fd(i, &parent);
        if (r < 0)
                return r;

        /* An immutable directory cannot be renamed: lift the flag for the rename, as machined. */
        if (!i->symlink) {
                fd = open_image_dir(parent, i->name);
                if (fd < 0)
                        return fd;
                was = chattr_immutable(fd, false);
                if (was < 0 && was != -EOPNOTSUPP)
                        return was;
        }
        r = RET_NERRNO(renameat2(parent, i->name, parent, new_name, RENAME_NOREPLACE));
        if (was > 0)
                (void) chattr_immutable(fd, true);
        if (r < 0)
                return r;

        slash = strrchr(i->path, '/');
        if (asprintf(&new_path, "%.*s/%s", (int) (slash - i->path), i->path, new_name) < 0)
                return -ENOMEM;
        free(i->path);
        i->path = TAKE_PTR(new_path);
        free(i->name);
        i->name = strdup(new_name);
        return i->name ? 0 : -ENOMEM;
}

int image_set_read_only(Image *i, bool read_only) {
        _cleanup_close_ int parent = -EBADF, fd = -EBADF;
        int r;

        if (i->vendor)
                return -EROFS;
        if (i->symlink)
                return -EMEDIUMTYPE;
        r = parent_fd(i, &parent);
        if (r < 0)
                return r;
        fd = open_image_dir(parent, i->name);
        if (fd < 0)
                return fd;
        r = chattr_immutable(fd, read_only);
        if (r < 0)
                return r;
        i->read_only = read_only;
        return 0;
}

/* A fresh hidden name ".#PREFIXNAME.XXXXXX" not present in PARENT. */
static int temp_name(int parent, const char *prefix, const char *name, char **ret) {
        for (unsigned tries = 0; tries < 100; tries++) {
                char *t = NULL;
                struct stat st;

                if (asprintf(&t, IMAGE_TEMP_PREFIX "%s%s.%06x", prefix, name,
                             (unsigned) (random() & 0xffffff)) < 0)
                        return -ENOMEM;
                if (fstatat(parent, t, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
                        *ret = t;
                        return 0;
                }
                free(t);
        }
        return -EEXIST;
}

int image_hide_for_removal(Image *i, char **ret_hidden) {
        _cleanup_close_ int parent = -EBADF, fd = -EBADF;
        _cleanup_free_ char *t = NULL, *hidden = NULL;
        char *slash;
        int r;

        if (i->vendor)
                return -EROFS;
        r = parent_fd(i, &parent);
        if (r < 0)
                return r;
        if (i->symlink) {
                *ret_hidden = NULL;
                return RET_NERRNO(unlinkat(parent, i->name, 0));
        }
        fd = open_image_dir(parent, i->name);
        if (fd < 0)
                return fd;
        /* As machined: a read-only directory image may be removed. */
        r = chattr_immutable(fd, false);
        if (r < 0 && r != -EOPNOTSUPP)
                return r;
        r = temp_name(parent, "remove.", i->name, &t);
        if (r < 0)
                return r;
        if (renameat2(parent, i->name, parent, t, RENAME_NOREPLACE) < 0) {
                r = negative_errno();
                if (i->read_only)
                        (void) chattr_immutable(fd, true);
                return r;
        }
        slash = strrchr(i->path, '/');
        if (asprintf(&hidden, "%.*s/%s", (int) (slash - i->path), i->path, t) < 0)
                return -ENOMEM;
        *ret_hidden = TAKE_PTR(hidden);
        return 0;
}

/* Removes entry NAME of DIR_FD (on device DEV) and, for a directory, all below. */
int image_pool_clean(void) {
        _cleanup_(closedirp) DIR *d = opendir(image_pool_path());
        struct dirent *de;
        struct stat st;
        int n = 0, r = 0;

        if (!d)
                return errno == ENOENT ? 0 : negative_errno();
        if (fstat(dirfd(d), &st) < 0)
                return negative_errno();
        while ((de = readdir(d))) {
                int q;

                if (!startswith(de->d_name, IMAGE_TEMP_PREFIX))
                        continue;
                q = rm_rf_at(dirfd(d), de->d_name, st.st_dev);
                if (q < 0 && r == 0)
                        r = q;
                if (q >= 0)
                        n++;
        }
        return r < 0 ? r : n;
}
