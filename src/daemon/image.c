/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The image pool of berthd: directory, subvolume, raw and block images in the pool directories, and the file system work on them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "btrfs-util.h"
#include "copy-tree.h"
#include "fd-util.h"
#include "image.h"
#include "name-util.h"
#include "rm-rf.h"
#include "template-build.h"

/* copy_file_range() errors that mean "not between these two files": copy by hand instead. */
#define IN_SET_COPY_FALLBACK(e) ((e) == EXDEV || (e) == EOPNOTSUPP || (e) == EINVAL || (e) == ENOSYS)

/* The read-only pool directories, searched after the writable one. */
static const char *const vendor_pools[] = { "/usr/local/lib/machines", "/usr/lib/machines" };

static const char *const image_type_table[_IMAGE_TYPE_MAX] = {
        [IMAGE_DIRECTORY] = "directory",
        [IMAGE_SUBVOLUME] = "subvolume",
        [IMAGE_RAW] = "raw",
        [IMAGE_BLOCK] = "block",
};

const char *image_type_to_string(ImageType t) {
        return t >= 0 && t < _IMAGE_TYPE_MAX ? image_type_table[t] : NULL;
}

ImageType image_type_from_string(const char *s) {
        for (ImageType t = 0; t < _IMAGE_TYPE_MAX; t++)
                if (streq_ptr(s, image_type_table[t]))
                        return t;
        return _IMAGE_TYPE_INVALID;
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

/* The image name of pool entry ENTRY of type MODE (a raw file drops ".raw"), or NULL if the
 * entry is no image: other file types, invalid names, the snapshot store. */
static char *entry_image_name(const char *entry, mode_t mode) {
        size_t n = strlen(entry), k = strlen(IMAGE_RAW_SUFFIX);
        char *name;

        if (S_ISREG(mode)) {
                if (n <= k || !streq(entry + n - k, IMAGE_RAW_SUFFIX))
                        return NULL;
                name = strndup(entry, n - k);
        } else if (S_ISDIR(mode) || S_ISBLK(mode))
                name = strdup(entry);
        else
                return NULL;
        if (name && (!image_name_is_valid(name) || streq(name, IMAGE_SNAPSHOTS_NAME))) {
                free(name);
                return NULL;
        }
        return name;
}

/* Type, read-only state, usage and limits, from the image open (read-only) at FD. */
static void image_probe(Image *i, int fd, mode_t mode) {
        unsigned attr = 0;
        struct statvfs sv;

        if (fstatvfs(fd, &sv) >= 0 && (sv.f_flag & ST_RDONLY))
                i->read_only = true;
        if (S_ISBLK(mode)) {
                uint64_t size;
                int ro = 0;

                i->type = IMAGE_BLOCK;
                if (ioctl(fd, BLKROGET, &ro) >= 0 && ro)
                        i->read_only = true;
                if (ioctl(fd, BLKGETSIZE64, &size) >= 0)
                        i->usage = i->usage_exclusive = i->limit = i->limit_exclusive = size;
                return;
        }
        if (ioctl(fd, FS_IOC_GETFLAGS, &attr) >= 0 && (attr & FS_IMMUTABLE_FL))
                i->read_only = true;
        if (S_ISREG(mode)) {
                struct stat st;

                i->type = IMAGE_RAW;
                if (fstat(fd, &st) >= 0) {
                        if (!(st.st_mode & 0222))
                                i->read_only = true;
                        i->usage = i->usage_exclusive = (uint64_t) st.st_blocks * 512U;
                        i->limit = i->limit_exclusive = (uint64_t) st.st_size;
                }
                return;
        }
        i->type = IMAGE_DIRECTORY;
        if (btrfs_is_subvol_fd(fd) > 0) {
                i->type = IMAGE_SUBVOLUME;
                if (btrfs_subvol_get_read_only_fd(fd) > 0)
                        i->read_only = true;
                /* Without quota on the file system the numbers stay unknown. */
                (void) btrfs_qgroup_get_fd(fd, &i->usage, &i->usage_exclusive, &i->limit, &i->limit_exclusive);
        }
}

/* Makes an Image of entry ENTRY of pool directory DIR_FD (path POOL); -ENOENT for entries that
 * are no image (other types, dangling symlinks, bad names). */
static int image_make(int dir_fd, const char *pool, bool vendor, const char *entry, Image **ret) {
        _cleanup_(image_freep) Image *i = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct statx sx;
        struct stat lst;

        if (fstatat(dir_fd, entry, &lst, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        /* A symlink is followed to see what it is, but nothing below is ever read through it. */
        if (statx(dir_fd, entry, AT_STATX_SYNC_AS_STAT, STATX_BTIME | STATX_MTIME | STATX_TYPE, &sx) < 0)
                return errno == ENOENT || errno == ELOOP ? -ENOENT : negative_errno();

        i = calloc(1, sizeof(*i));
        if (!i)
                return -ENOMEM;
        i->name = entry_image_name(entry, sx.stx_mode);
        if (!i->name)
                return -ENOENT;
        if (asprintf(&i->path, "%s/%s", pool, entry) < 0)
                return -ENOMEM;
        i->type = S_ISDIR(sx.stx_mode) ? IMAGE_DIRECTORY : S_ISREG(sx.stx_mode) ? IMAGE_RAW : IMAGE_BLOCK;
        i->vendor = vendor;
        i->symlink = S_ISLNK(lst.st_mode);
        i->crtime = (sx.stx_mask & STATX_BTIME) ? timespec_usec(&sx.stx_btime) : 0;
        i->mtime = timespec_usec(&sx.stx_mtime);
        /* Walking a directory tree is too slow for a bus call: unknown unless a qgroup says. */
        i->usage = i->usage_exclusive = i->limit = i->limit_exclusive = UINT64_MAX;

        /* O_NONBLOCK: a FIFO swapped in after the statx() must not hang us. */
        fd = openat(dir_fd, entry, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY |
                                   (S_ISDIR(sx.stx_mode) ? O_DIRECTORY : 0));
        if (fd >= 0) {
                struct stat st;

                if (fstat(fd, &st) < 0 || ((st.st_mode ^ sx.stx_mode) & S_IFMT))
                        return -ENOENT;
                image_probe(i, fd, st.st_mode);
        }
        i->read_only = i->read_only || vendor;
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
                _cleanup_free_ char *raw = NULL;

                if (dir_fd < 0)
                        continue;
                /* A directory or device NAME first, then the raw file NAME.raw (as machined). */
                r = image_make(dir_fd, pools[k], k > 0, name, ret);
                if (r >= 0 && !streq((*ret)->name, name)) {
                        /* NAME is "N.raw", the raw file of image N: no image called NAME. */
                        *ret = image_free(*ret);
                        r = -ENOENT;
                }
                if (r != -ENOENT)
                        return r;
                if (asprintf(&raw, "%s" IMAGE_RAW_SUFFIX, name) < 0)
                        return -ENOMEM;
                r = image_make(dir_fd, pools[k], k > 0, raw, ret);
                if (r >= 0 && !streq((*ret)->name, name)) {
                        *ret = image_free(*ret);
                        r = -ENOENT;
                }
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

/* Whether DIR_FD has an image entry called exactly NAME (a directory or a device). */
static bool image_make_exists(int dir_fd, const char *name) {
        struct stat st;

        return fstatat(dir_fd, name, &st, 0) >= 0 && (S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode));
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
                        r = image_make(dirfd(d), pools[k], k > 0, de->d_name, &i);
                        if (r == -ENOENT)
                                continue;
                        if (r < 0)
                                return r;
                        /* NAME shadows NAME.raw in the same pool, as in image_find(). */
                        if (list_has(l, i->name) || (i->type == IMAGE_RAW && image_make_exists(dirfd(d), i->name))) {
                                image_free(i);
                                continue;
                        }
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

/* The pool entry's own name: NAME, or NAME.raw. */
static const char *image_entry(const Image *i) {
        const char *slash = strrchr(i->path, '/');

        return slash ? slash + 1 : i->path;
}

/* Opens the image's own inode for its flags: a directory or subvolume, or a raw file; never
 * through a symlink. -EMEDIUMTYPE for what has no flags of ours (devices, symlinks). */
static int open_image_inode(const Image *i, int parent) {
        struct stat st;
        int fd;

        if (i->symlink || i->type == IMAGE_BLOCK)
                return -EMEDIUMTYPE;
        fd = openat(parent, image_entry(i), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY |
                                            (i->type == IMAGE_RAW ? 0 : O_DIRECTORY));
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0 || (i->type == IMAGE_RAW) != !!S_ISREG(st.st_mode)) {
                safe_close(fd);
                return -ENOENT;
        }
        return fd;
}

int image_rename(Image *i, const char *new_name) {
        _cleanup_close_ int parent = -EBADF, fd = -EBADF;
        _cleanup_(image_freep) Image *other = NULL;
        _cleanup_free_ char *new_path = NULL, *new_entry = NULL;
        char *slash;
        int was = 0, r;

        if (i->vendor)
                return -EROFS;
        if (!image_name_is_valid(new_name) || streq(new_name, IMAGE_SNAPSHOTS_NAME))
                return -EINVAL;
        if (image_find(new_name, &other) >= 0)
                return -EEXIST;
        if (asprintf(&new_entry, "%s%s", new_name, i->type == IMAGE_RAW ? IMAGE_RAW_SUFFIX : "") < 0)
                return -ENOMEM;
        r = parent_fd(i, &parent);
        if (r < 0)
                return r;

        /* An immutable directory or file cannot be renamed: lift the flag for the rename, as machined. */
        fd = open_image_inode(i, parent);
        if (fd >= 0) {
                was = chattr_immutable(fd, false);
                if (was < 0 && was != -EOPNOTSUPP)
                        return was;
        } else if (fd != -EMEDIUMTYPE)
                return fd;
        r = RET_NERRNO(renameat2(parent, image_entry(i), parent, new_entry, RENAME_NOREPLACE));
        if (was > 0)
                (void) chattr_immutable(fd, true);
        if (r < 0)
                return r;

        slash = strrchr(i->path, '/');
        if (asprintf(&new_path, "%.*s/%s", (int) (slash - i->path), i->path, new_entry) < 0)
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
        if (i->type == IMAGE_BLOCK && !i->symlink)
                return -EOPNOTSUPP;
        r = parent_fd(i, &parent);
        if (r < 0)
                return r;
        fd = open_image_inode(i, parent);
        if (fd < 0)
                return fd;
        if (i->type == IMAGE_SUBVOLUME) {
                /* The subvolume flag is what btrfs tools and berth-spawn see; an immutable flag
                 * set some other way would keep it read-only, so it goes too. */
                if (!read_only) {
                        r = chattr_immutable(fd, false);
                        if (r < 0 && r != -EOPNOTSUPP)
                                return r;
                }
                r = btrfs_subvol_set_read_only_fd(fd, read_only);
        } else
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
        if (i->symlink || i->type == IMAGE_BLOCK) {
                *ret_hidden = NULL;
                return RET_NERRNO(unlinkat(parent, image_entry(i), 0));
        }
        fd = open_image_inode(i, parent);
        if (fd < 0)
                return fd;
        /* As machined: a read-only image may be removed. A read-only subvolume stays so until
         * image_remove_hidden() (btrfs_subvol_remove_at() lifts it). */
        r = chattr_immutable(fd, false);
        if (r < 0 && r != -EOPNOTSUPP)
                return r;
        r = temp_name(parent, "remove.", image_entry(i), &t);
        if (r < 0)
                return r;
        if (renameat2(parent, image_entry(i), parent, t, RENAME_NOREPLACE) < 0) {
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

/* Removes the btrfs subvolumes anywhere below directory FD (on device DEV), which rm_rf_at()
 * refuses to enter as other devices. Other mount points are left alone (and stay -EBUSY). */
static int remove_nested_subvolumes(int fd, dev_t dev, unsigned depth) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int dfd, r;

        if (depth > 512)
                return -ELOOP;
        dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (dfd < 0)
                return negative_errno();
        r = fdopendir_take(dfd, &d);
        if (r < 0)
                return r;
        while ((de = readdir(d))) {
                _cleanup_close_ int child = -EBADF;
                struct stat st;

                if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                child = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
                if (child < 0)
                        return negative_errno();
                if (st.st_dev != dev) {
                        if (btrfs_is_subvol_fd(child) <= 0)
                                continue;
                        r = btrfs_subvol_remove_at(dirfd(d), de->d_name);
                } else
                        r = remove_nested_subvolumes(child, dev, depth + 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Removes entry NAME of DIR_FD (on device DEV): a subvolume with its nested ones, anything else
 * with rm_rf_at(); a directory tree holding subvolumes (btrfs makes them for systemd's
 * /var/lib/machines and friends) has them removed first. */
static int remove_entry(int dir_fd, const char *name, dev_t dev) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        int r;

        if (fd >= 0 && btrfs_is_subvol_fd(fd) > 0)
                return btrfs_subvol_remove_at(dir_fd, name);
        r = rm_rf_at(dir_fd, name, dev);
        if (r != -EBUSY || fd < 0)
                return r;
        r = remove_nested_subvolumes(fd, dev, 0);
        if (r < 0)
                return r;
        return rm_rf_at(dir_fd, name, dev);
}

int image_remove_hidden(const char *hidden) {
        _cleanup_free_ char *dir = strdup(hidden);
        _cleanup_close_ int parent = -EBADF;
        struct stat st;
        char *slash;

        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (!slash || slash == dir || !startswith(slash + 1, IMAGE_TEMP_PREFIX))
                return -EINVAL;
        *slash = '\0';
        parent = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (parent < 0 || fstat(parent, &st) < 0)
                return negative_errno();
        return remove_entry(parent, slash + 1, st.st_dev);
}

/* Copies bytes [*IN, END) of SRC to the same offsets of FD with read() and write(): for file
 * systems copy_file_range() cannot bridge. */
static int copy_plain(int src, int fd, off_t *in, off_t end) {
        char buf[64 * 1024];

        while (*in < end) {
                ssize_t n = pread(src, buf, (size_t) MIN((off_t) sizeof(buf), end - *in), *in);

                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        break;
                for (ssize_t w = 0; w < n;) {
                        ssize_t k = pwrite(fd, buf + w, (size_t) (n - w), *in + w);

                        if (k < 0)
                                return negative_errno();
                        w += k;
                }
                *in += n;
        }
        return 0;
}

/* The data segments of SRC into FD at the same offsets, so that holes stay holes:
 * copy_file_range() (which reflinks or copies in the kernel), else read() and write(). */
static int copy_segments(int src, int fd, CopyProgress progress, void *userdata) {
        /* With PROGRESS: in pieces, each reported (the callback throttles, and may cancel). */
        size_t chunk = progress ? (size_t) 16U * 1024U * 1024U : SIZE_MAX;
        uint64_t done = 0;
        off_t data = 0;

        for (;;) {
                off_t hole, in, out;

                data = lseek(src, data, SEEK_DATA);
                if (data < 0)
                        return errno == ENXIO ? 0 : negative_errno();
                hole = lseek(src, data, SEEK_HOLE);
                if (hole < 0)
                        return negative_errno();
                in = out = data;
                while (in < hole) {
                        ssize_t n = copy_file_range(src, &in, fd, &out, MIN((size_t) (hole - in), chunk), 0);

                        if (n < 0 && IN_SET_COPY_FALLBACK(errno)) {
                                int r = copy_plain(src, fd, &in, hole);

                                if (r < 0)
                                        return r;
                                break;
                        }
                        if (n < 0)
                                return negative_errno();
                        if (n == 0)
                                break; /* the file shrank under us */
                        done += (uint64_t) n;
                        if (progress) {
                                int r = progress(done, userdata);

                                if (r < 0)
                                        return r;
                        }
                }
                data = hole;
        }
}

/* Reflinks the file SRC_FD of stat ST into FD in pieces, so that a clone of a large image on a
 * file system that shares extents still reports progress and stops when PROGRESS asks it to.
 * The piece is a multiple of any block size, as FICLONERANGE wants; the last one is "to the
 * end" (length 0). Progress is in the units of copy_segments(), the allocated bytes, scaled.
 * Returns 0, -EOPNOTSUPP (or what the first ioctl said) where nothing could be shared yet, or
 * another negative errno. */
#define REFLINK_PIECE (UINT64_C(256) << 20)
static int reflink_raw(int src_fd, int fd, const struct stat *st, CopyProgress progress, void *userdata) {
        uint64_t size = (uint64_t) st->st_size, allocated = MIN(size, (uint64_t) st->st_blocks * 512U);

        for (uint64_t off = 0; off < size || off == 0; off += REFLINK_PIECE) {
                bool last = size - off <= REFLINK_PIECE;
                struct file_clone_range range = {
                        .src_fd = src_fd,
                        .src_offset = off,
                        .src_length = last ? 0 : REFLINK_PIECE,
                        .dest_offset = off,
                };

                if (ioctl(fd, FICLONERANGE, &range) < 0)
                        return negative_errno();
                if (progress) {
                        uint64_t done = last ? size : off + REFLINK_PIECE;
                        int r = progress(size > 0 ? (uint64_t) ((double) allocated * done / size) : 0, userdata);

                        if (r < 0)
                                return r;
                }
                if (last)
                        break;
        }
        return 0;
}

/* Copies the raw image SRC_FD into the new file FD: reflinked where the file system shares
 * extents, else the data segments only; then size, owner and mode. */
static int copy_raw(int src_fd, int fd, CopyProgress progress, void *userdata) {
        struct stat st;
        int r;

        if (fstat(src_fd, &st) < 0)
                return negative_errno();
        r = reflink_raw(src_fd, fd, &st, progress, userdata);
        if (r < 0 && r != -ECANCELED) {
                /* Nothing is shared on this file system (or a piece failed half-way): start over
                 * with a plain copy of the data. */
                if (ftruncate(fd, 0) < 0)
                        return negative_errno();
                r = copy_segments(src_fd, fd, progress, userdata);
        }
        if (r < 0)
                return r;
        if (ftruncate(fd, st.st_size) < 0)
                return negative_errno();
        if (fchown(fd, st.st_uid, st.st_gid) < 0)
                return negative_errno();
        return RET_NERRNO(fchmod(fd, st.st_mode & 07777));
}

static int clone_raw(int pool, int src_fd, const char *new_name, bool read_only, CopyProgress progress,
                     void *userdata) {
        _cleanup_free_ char *entry = NULL, *t = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (asprintf(&entry, "%s" IMAGE_RAW_SUFFIX, new_name) < 0)
                return -ENOMEM;
        r = temp_name(pool, "", entry, &t);
        if (r < 0)
                return r;
        fd = openat(pool, t, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return negative_errno();
        r = copy_raw(src_fd, fd, progress, userdata);
        if (r >= 0)
                r = RET_NERRNO(renameat2(pool, t, pool, entry, RENAME_NOREPLACE));
        if (r < 0) {
                (void) unlinkat(pool, t, 0);
                return r;
        }
        return read_only ? chattr_immutable(fd, true) : 0;
}

/* A subvolume is snapshot under a hidden name and renamed in: the snapshot is instant and
 * shares every extent. -EXDEV/-ENOTTY when the pool is another file system. */
static int clone_subvolume(int pool, int src_fd, const char *new_name, bool read_only) {
        _cleanup_free_ char *t = NULL;
        int r;

        r = temp_name(pool, "", new_name, &t);
        if (r < 0)
                return r;
        r = btrfs_subvol_snapshot_at(src_fd, pool, t, read_only);
        if (r < 0)
                return r;
        r = RET_NERRNO(renameat2(pool, t, pool, new_name, RENAME_NOREPLACE));
        if (r < 0)
                (void) btrfs_subvol_remove_at(pool, t);
        return r;
}

static int clone_directory(int pool, int src_fd, const char *new_name, bool read_only, CopyProgress progress,
                           void *userdata) {
        _cleanup_free_ char *t = NULL, *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        struct stat st;
        bool subvol;

        r = temp_name(pool, "", new_name, &t);
        if (r < 0)
                return r;
        if (fstat(pool, &st) < 0)
                return negative_errno();
        /* On btrfs the copy becomes a subvolume, as machined makes it: every later clone of it
         * is then an instant snapshot. Elsewhere the ioctl fails (ENOTTY) and a directory it is. */
        subvol = btrfs_subvol_make_at(pool, t) >= 0;
        if (!subvol && mkdirat(pool, t, 0700) < 0)
                return negative_errno();
        fd = openat(pool, t, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || asprintf(&tmp, "%s/%s", image_pool_path(), t) < 0) {
                r = fd < 0 ? negative_errno() : -ENOMEM;
                (void) remove_entry(pool, t, st.st_dev);
                return r;
        }
        r = copy_tree_full(src_fd, tmp, progress, userdata);
        if (r >= 0)
                r = RET_NERRNO(renameat2(pool, t, pool, new_name, RENAME_NOREPLACE));
        if (r < 0) {
                (void) remove_entry(pool, t, st.st_dev);
                return r;
        }
        if (read_only) {
                r = subvol ? btrfs_subvol_set_read_only_fd(fd, true) : chattr_immutable(fd, true);
                if (r < 0)
                        return r;
        }
        return 0;
}

int image_clone_fd(ImageType type, int src_fd, const char *new_name, bool read_only) {
        return image_clone_fd_full(type, src_fd, new_name, read_only, NULL, NULL);
}

int image_clone_fd_full(ImageType type, int src_fd, const char *new_name, bool read_only, CopyProgress progress,
                        void *userdata) {
        _cleanup_close_ int pool = -EBADF;
        struct stat st;
        int r;

        if (!image_name_is_valid(new_name) || streq(new_name, IMAGE_SNAPSHOTS_NAME))
                return -EINVAL;
        pool = open(image_pool_path(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pool < 0)
                return negative_errno();
        /* RENAME_NOREPLACE covers the entry itself; NAME and NAME.raw must not both appear. */
        if (fstatat(pool, new_name, &st, AT_SYMLINK_NOFOLLOW) >= 0)
                return -EEXIST;
        switch (type) {
        case IMAGE_RAW:
                return clone_raw(pool, src_fd, new_name, read_only, progress, userdata);
        case IMAGE_SUBVOLUME:
                r = clone_subvolume(pool, src_fd, new_name, read_only);
                if (r != -EXDEV && r != -ENOTTY && r != -EOPNOTSUPP)
                        return r;
                return clone_directory(pool, src_fd, new_name, read_only, progress, userdata);
        case IMAGE_DIRECTORY:
                return clone_directory(pool, src_fd, new_name, read_only, progress, userdata);
        case IMAGE_BLOCK:
        case _IMAGE_TYPE_MAX:
        case _IMAGE_TYPE_INVALID:
                break;
        }
        return -EOPNOTSUPP;
}

int image_set_limit(Image *i, uint64_t limit) {
        _cleanup_close_ int parent = -EBADF, fd = -EBADF;
        int r;

        if (i->type != IMAGE_SUBVOLUME)
                return -ENOTTY;
        if (i->vendor)
                return -EROFS;
        /* Like every change, never through a pool symlink. */
        if (i->symlink)
                return -EMEDIUMTYPE;
        r = parent_fd(i, &parent);
        if (r < 0)
                return r;
        fd = openat(parent, image_entry(i), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return negative_errno();
        r = btrfs_qgroup_set_limit_fd(fd, limit);
        if (r < 0)
                return r;
        i->limit = limit;
        return 0;
}

const char *image_fs_name(const Image *i) {
        struct statfs sfs;

        if (statfs(i->path, &sfs) < 0)
                return "an unknown file system";
        switch ((unsigned long) sfs.f_type) {
        case EXT4_SUPER_MAGIC:
                return "ext4";
        case BTRFS_SUPER_MAGIC:
                return "btrfs";
        case XFS_SUPER_MAGIC:
                return "xfs";
        case TMPFS_MAGIC:
                return "tmpfs";
        case OVERLAYFS_SUPER_MAGIC:
                return "overlayfs";
        default:
                return "a file system without quota groups";
        }
}

/* Removes the ".#" leftovers of interrupted operations (subvolumes too) from the writable pool.
 * Except a template build berth-spawn is running right now (a "berth-spawn --template" started
 * before us): its work directory and lock file stay while it holds the lock, and while we remove
 * them we hold it shared, so that no build of that name starts in the middle. */
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
                _cleanup_close_ int build_lock = -EBADF;
                TemplateEntry type;
                int q;

                if (!startswith(de->d_name, IMAGE_TEMP_PREFIX))
                        continue;
                q = template_entry_parse(de->d_name, &type, NULL);
                if (q < 0)
                        return q;
                if (type != TEMPLATE_ENTRY_NONE) {
                        build_lock = template_build_lock_shared(dirfd(d), de->d_name);
                        if (build_lock == -EBUSY)
                                continue; /* its builder removes it, if it must */
                        if (build_lock < 0 && build_lock != -ENOENT) {
                                if (r == 0)
                                        r = build_lock;
                                continue;
                        }
                }
                /* A lock file too goes while we hold it, as its builder removes it (template.c). */
                q = remove_entry(dirfd(d), de->d_name, st.st_dev);
                if (q < 0 && r == 0)
                        r = q;
                if (q >= 0)
                        n++;
        }
        return r < 0 ? r : n;
}
