/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Snapshots of pool images: btrfs subvolume snapshots where the image is a subvolume, reflink copies elsewhere. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "btrfs-util.h"
#include "copy-tree.h"
#include "fd-util.h"
#include "image.h"
#include "image-snapshot.h"
#include "name-util.h"
#include "rm-rf.h"

/* How many "-N" suffixes a default name tries before giving up. */
#define NUMBERED_MAX 1000U

ImageSnapshot *image_snapshot_free(ImageSnapshot *s) {
        if (!s)
                return NULL;
        free(s->name);
        free(s);
        return NULL;
}

ImageSnapshot **image_snapshot_list_free(ImageSnapshot **l) {
        for (ImageSnapshot **s = l; s && *s; s++)
                image_snapshot_free(*s);
        free(l);
        return NULL;
}

static int open_dir_at(int dir_fd, const char *name, bool create) {
        _cleanup_close_ int fd = -EBADF;

        if (create && mkdirat(dir_fd, name, 0700) < 0 && errno != EEXIST)
                return negative_errno();
        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        /* Made by someone else (by hand, an older berthd): private all the same. */
        if (create && fchmod(fd, 0700) < 0)
                return negative_errno();
        return TAKE_FD(fd);
}

/* The store (IMAGE NULL) or IMAGE's directory in it, made with CREATE. Mode 0700 as the pool:
 * snapshots hold set-uid binaries and secrets as images do. */
static int store_open(const char *image, bool create) {
        _cleanup_close_ int pool = -EBADF, store = -EBADF;

        if (image && !image_name_is_valid(image))
                return -ENOENT;
        if (create && mkdir(image_pool_path(), 0700) < 0 && errno != EEXIST)
                return negative_errno();
        pool = open(image_pool_path(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pool < 0)
                return negative_errno();
        store = open_dir_at(pool, IMAGE_SNAPSHOTS_NAME, create);
        if (store < 0 || !image)
                return store < 0 ? store : TAKE_FD(store);
        return open_dir_at(store, image, create);
}

static int store_path(const char *image, char **ret) {
        return asprintf(ret, "%s/" IMAGE_SNAPSHOTS_NAME "/%s", image_pool_path(), image) < 0 ? -ENOMEM : 0;
}

/* A hidden name ".#PREFIXNAME.XXXXXXXX" for work in progress; creating it fails if it exists. */
static int hidden_name(const char *prefix, const char *name, char **ret) {
        uint32_t v;

        if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
                v = (uint32_t) random() ^ (uint32_t) getpid();
        /* NAME cut short: the whole hidden name must fit in NAME_MAX for any valid NAME. */
        return asprintf(ret, IMAGE_TEMP_PREFIX "%s%.200s.%08x", prefix, name, v) < 0 ? -ENOMEM : 0;
}

static uint64_t statx_usec(const struct statx_timestamp *t) {
        return (uint64_t) t->tv_sec * 1000000ULL + t->tv_nsec / 1000;
}

/* A subvolume snapshot keeps its source's inode times: the subvolume's own creation time tells
 * when the snapshot was made. 0 if the kernel does not say. */
static uint64_t subvol_otime(int fd) {
        struct btrfs_ioctl_get_subvol_info_args a = {};

        if (ioctl(fd, BTRFS_IOC_GET_SUBVOL_INFO, &a) < 0)
                return 0;
        return (uint64_t) a.otime.sec * 1000000ULL + a.otime.nsec / 1000;
}

static int snapshot_make(int store_fd, const char *name, ImageSnapshot **ret) {
        _cleanup_(image_snapshot_freep) ImageSnapshot *s = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct statx sx;

        if (!image_name_is_valid(name))
                return -ENOENT;
        if (statx(store_fd, name, AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT,
                  STATX_TYPE | STATX_BTIME | STATX_CTIME | STATX_BLOCKS, &sx) < 0)
                return negative_errno();
        if (!S_ISDIR(sx.stx_mode) && !S_ISREG(sx.stx_mode))
                return -ENOENT;

        s = calloc(1, sizeof(*s));
        if (!s || !(s->name = strdup(name)))
                return -ENOMEM;
        /* A copy is made new: its birth time (or, where the file system has none, its change
         * time, which the final rename sets) is when the snapshot was made. */
        s->crtime = statx_usec((sx.stx_mask & STATX_BTIME) ? &sx.stx_btime : &sx.stx_ctime);
        s->usage = S_ISREG(sx.stx_mode) ? (uint64_t) sx.stx_blocks * 512ULL : UINT64_MAX;
        if (S_ISDIR(sx.stx_mode)) {
                fd = openat(store_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
                if (fd >= 0 && btrfs_is_subvol_fd(fd) > 0) {
                        uint64_t t = subvol_otime(fd), exclusive;

                        if (t > 0)
                                s->crtime = t;
                        if (btrfs_qgroup_get_fd(fd, NULL, &exclusive, NULL, NULL) >= 0)
                                s->usage = exclusive;
                }
        }
        *ret = TAKE_PTR(s);
        return 0;
}

int image_snapshot_find(const char *image, const char *snapshot, ImageSnapshot **ret) {
        _cleanup_close_ int store = -EBADF;

        if (!image_name_is_valid(snapshot))
                return -ENOENT;
        store = store_open(image, false);
        if (store < 0)
                return store == -ENOTDIR ? -ENOENT : store;
        return snapshot_make(store, snapshot, ret);
}

static int compare_snapshots(const void *a, const void *b) {
        const ImageSnapshot *x = *(ImageSnapshot *const *) a, *y = *(ImageSnapshot *const *) b;

        if (x->crtime != y->crtime)
                return x->crtime < y->crtime ? -1 : 1;
        return strcmp(x->name, y->name);
}

int image_snapshot_list(const char *image, ImageSnapshot ***ret) {
        _cleanup_(image_snapshot_list_freep) ImageSnapshot **l = calloc(1, sizeof(ImageSnapshot *));
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        size_t n = 0;
        int fd, r;

        if (!l)
                return -ENOMEM;
        fd = store_open(image, false);
        if (fd == -ENOENT || fd == -ENOTDIR) {
                *ret = TAKE_PTR(l);
                return 0;
        }
        if (fd < 0)
                return fd;
        r = fdopendir_take(fd, &d);
        if (r < 0)
                return r;
        while ((de = readdir(d))) {
                ImageSnapshot *s = NULL, **t;

                /* Names image_name_is_valid() refuses (".", "..", ".#" work) are not snapshots. */
                r = snapshot_make(dirfd(d), de->d_name, &s);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                t = realloc(l, (n + 2) * sizeof(ImageSnapshot *));
                if (!t)
                        return image_snapshot_free(s), -ENOMEM;
                l = t;
                l[n++] = s;
                l[n] = NULL;
        }
        qsort(l, n, sizeof(ImageSnapshot *), compare_snapshots);
        *ret = TAKE_PTR(l);
        return 0;
}

int image_snapshot_default_name(const char *image, char **ret) {
        _cleanup_close_ int store = -EBADF;
        char base[32];
        time_t t = time(NULL);
        struct tm tm;

        if (!gmtime_r(&t, &tm) || strftime(base, sizeof(base), "%Y%m%d-%H%M%S", &tm) == 0)
                return -EINVAL;
        store = store_open(image, false);
        for (unsigned n = 0; n < NUMBERED_MAX; n++) {
                char *name = NULL;
                struct stat st;

                if ((n == 0 ? asprintf(&name, "%s", base) : asprintf(&name, "%s-%u", base, n)) < 0)
                        return -ENOMEM;
                if (store < 0 || (fstatat(store, name, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)) {
                        *ret = name;
                        return 0;
                }
                free(name);
        }
        return -EEXIST;
}

/* SRC's data into the empty DEST: a reflink of the whole file, else the data extents with
 * copy_file_range (which reflinks or copies in the kernel), holes left holes. */
static int copy_file_data(int src, int dest, off_t size) {
        off_t data = 0, hole;

        if (ioctl(dest, FICLONE, src) >= 0)
                return 0;
        while (data < size) {
                data = lseek(src, data, SEEK_DATA);
                if (data < 0) {
                        if (errno == ENXIO)
                                break;
                        return negative_errno();
                }
                hole = lseek(src, data, SEEK_HOLE);
                if (hole < 0)
                        return negative_errno();
                while (data < hole) {
                        loff_t in = data, out = data;
                        ssize_t k = copy_file_range(src, &in, dest, &out, (size_t) (hole - data), 0);

                        if (k < 0)
                                return negative_errno();
                        if (k == 0)
                                break;
                        data += k;
                }
        }
        return RET_NERRNO(ftruncate(dest, size));
}

/* A copy of the raw image file SRC (stat ST) as NAME below DIR_FD, with owner, mode and times. */
static int copy_file_at(int src, const struct stat *st, int dir_fd, const char *name) {
        struct timespec ts[2] = { st->st_atim, st->st_mtim };
        _cleanup_close_ int fd = -EBADF;
        int r;

        fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return negative_errno();
        r = copy_file_data(src, fd, st->st_size);
        if (r < 0)
                return r;
        if (fchown(fd, st->st_uid, st->st_gid) < 0 || fchmod(fd, st->st_mode & 07777) < 0 ||
            futimens(fd, ts) < 0)
                return negative_errno();
        return 0;
}

/* Makes NAME below DIR_FD (path DIR_PATH) a copy of SRC (stat ST): a subvolume snapshot if SRC
 * is a subvolume on the same btrfs, else a tree or file copy with reflinks where possible. */
static int build_copy(int src, const struct stat *st, int dir_fd, const char *dir_path, const char *name,
                      bool read_only) {
        _cleanup_free_ char *path = NULL;
        int r;

        if (S_ISREG(st->st_mode))
                return copy_file_at(src, st, dir_fd, name);
        if (!S_ISDIR(st->st_mode))
                return -EMEDIUMTYPE;
        if (btrfs_is_subvol_fd(src) > 0) {
                r = btrfs_subvol_snapshot_at(src, dir_fd, name, read_only);
                if (r >= 0)
                        return 0;
                /* Another file system (a vendor image, a pool on another disk): copy. */
                if (r != -EXDEV && r != -ENOTTY && r != -EOPNOTSUPP)
                        return r;
        }
        if (mkdirat(dir_fd, name, 0700) < 0)
                return negative_errno();
        if (asprintf(&path, "%s/%s", dir_path, name) < 0)
                return -ENOMEM;
        return copy_tree(src, path);
}

/* Removes NAME below DIR_FD: a subvolume (with the ones nested in it), a tree or a file. */
static int remove_entry(int dir_fd, const char *name) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd >= 0 && btrfs_is_subvol_fd(fd) > 0) {
                fd = safe_close(fd);
                return btrfs_subvol_remove_at(dir_fd, name);
        }
        if (fstat(dir_fd, &st) < 0)
                return negative_errno();
        return rm_rf_at(dir_fd, name, st.st_dev);
}

/* Removes the image store NAME below STORE_FD: its snapshots one by one (they may be
 * subvolumes, which a plain tree removal does not enter), then the directory. */
static int remove_store_dir(int store_fd, const char *name) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int fd, r = 0;

        fd = open_dir_at(store_fd, name, false);
        if (fd < 0)
                return fd == -ENOENT ? 0 : fd;
        r = fdopendir_take(fd, &d);
        if (r < 0)
                return r;
        while ((de = readdir(d))) {
                int q;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                q = remove_entry(dirfd(d), de->d_name);
                if (q < 0 && r == 0)
                        r = q;
        }
        if (r < 0)
                return r;
        return RET_NERRNO(unlinkat(store_fd, name, AT_REMOVEDIR));
}

static int snapshot_rename_in(int store, const char *tmp, const char *snapshot, bool numbered, char **ret_name) {
        int r = -EEXIST;

        for (unsigned n = 0; n < (numbered ? NUMBERED_MAX : 1); n++) {
                _cleanup_free_ char *name = NULL;

                if ((n == 0 ? asprintf(&name, "%s", snapshot) : asprintf(&name, "%s-%u", snapshot, n)) < 0)
                        return -ENOMEM;
                if (!image_name_is_valid(name))
                        return -EINVAL;
                r = RET_NERRNO(renameat2(store, tmp, store, name, RENAME_NOREPLACE));
                if (r >= 0) {
                        *ret_name = TAKE_PTR(name);
                        return 0;
                }
                if (r != -EEXIST)
                        return r;
        }
        return r;
}

int image_snapshot_create(int src_fd, const char *image, const char *snapshot, bool numbered, char **ret_name) {
        _cleanup_free_ char *dir = NULL, *tmp = NULL;
        _cleanup_close_ int store = -EBADF;
        struct stat st;
        int r;

        if (!image_name_is_valid(image) || !image_name_is_valid(snapshot))
                return -EINVAL;
        if (fstat(src_fd, &st) < 0)
                return negative_errno();
        store = store_open(image, true);
        if (store < 0)
                return store;
        r = store_path(image, &dir);
        if (r >= 0)
                r = hidden_name("", snapshot, &tmp);
        if (r < 0)
                return r;

        r = build_copy(src_fd, &st, store, dir, tmp, true);
        if (r >= 0)
                r = snapshot_rename_in(store, tmp, snapshot, numbered, ret_name);
        if (r < 0)
                (void) remove_entry(store, tmp);
        return r;
}

int image_snapshot_restore(const char *image_path, const char *image, const char *snapshot) {
        _cleanup_close_ int parent = -EBADF, store = -EBADF, snap = -EBADF;
        _cleanup_free_ char *dir = strdup(image_path), *tmp = NULL;
        struct stat sst, ist;
        const char *entry;
        char *slash;
        int r;

        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (!slash || slash == dir || !image_name_is_valid(slash + 1))
                return -EINVAL;
        *slash = '\0';
        entry = image_path + (slash - dir) + 1;
        parent = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (parent < 0)
                return negative_errno();
        store = store_open(image, false);
        if (store < 0)
                return store;
        if (!image_name_is_valid(snapshot))
                return -ENOENT;
        snap = openat(store, snapshot, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (snap < 0)
                return negative_errno();
        if (fstat(snap, &sst) < 0 || fstatat(parent, entry, &ist, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        if ((sst.st_mode & S_IFMT) != (ist.st_mode & S_IFMT) || (!S_ISDIR(sst.st_mode) && !S_ISREG(sst.st_mode)))
                return -EMEDIUMTYPE;
        r = hidden_name("restore.", entry, &tmp);
        if (r < 0)
                return r;

        r = build_copy(snap, &sst, parent, dir, tmp, false);
        if (r >= 0)
                r = RET_NERRNO(renameat2(parent, tmp, parent, entry, RENAME_EXCHANGE));
        /* Before the exchange TMP is the half-built copy, after it the old image: either way it
         * goes. If this fails (or we are killed), the pool's cleaning at start removes it. */
        (void) remove_entry(parent, tmp);
        return r;
}

int image_snapshot_hide(const char *image, const char *snapshot, char **ret_hidden) {
        _cleanup_close_ int store = -EBADF;
        _cleanup_free_ char *tmp = NULL;
        int r;

        if (!image_name_is_valid(snapshot))
                return -ENOENT;
        store = store_open(image, false);
        if (store < 0)
                return store == -ENOTDIR ? -ENOENT : store;
        r = hidden_name("remove.", snapshot, &tmp);
        if (r < 0)
                return r;
        r = RET_NERRNO(renameat2(store, snapshot, store, tmp, RENAME_NOREPLACE));
        if (r < 0)
                return r;
        *ret_hidden = TAKE_PTR(tmp);
        return 0;
}

int image_snapshot_remove_hidden(const char *image, const char *hidden) {
        _cleanup_close_ int store = -EBADF;

        if (!startswith(hidden, IMAGE_TEMP_PREFIX) || strchr(hidden, '/'))
                return -EINVAL;
        store = store_open(image, false);
        if (store < 0)
                return store;
        return remove_entry(store, hidden);
}

int image_snapshots_rename(const char *old_name, const char *new_name) {
        _cleanup_close_ int store = -EBADF;

        if (!image_name_is_valid(old_name) || !image_name_is_valid(new_name))
                return -EINVAL;
        store = store_open(NULL, false);
        if (store == -ENOENT)
                return 0;
        if (store < 0)
                return store;
        if (renameat2(store, old_name, store, new_name, RENAME_NOREPLACE) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        return 0;
}

int image_snapshots_remove(const char *name) {
        _cleanup_close_ int store = -EBADF;
        _cleanup_free_ char *tmp = NULL;
        int r;

        if (!image_name_is_valid(name))
                return -EINVAL;
        store = store_open(NULL, false);
        if (store == -ENOENT)
                return 0;
        if (store < 0)
                return store;
        /* Out of sight first: a new image of the same name must not find half of them. */
        r = hidden_name("remove.", name, &tmp);
        if (r < 0)
                return r;
        if (renameat2(store, name, store, tmp, RENAME_NOREPLACE) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        return remove_store_dir(store, tmp);
}

/* Removes the ".#" entries of the image store NAME below STORE_FD; adds their number to *N. */
static int clean_image_store(int store_fd, const char *name, int *n) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int fd, r = 0;

        fd = open_dir_at(store_fd, name, false);
        if (fd < 0)
                return fd == -ENOTDIR ? 0 : fd;
        r = fdopendir_take(fd, &d);
        if (r < 0)
                return r;
        while ((de = readdir(d))) {
                int q;

                if (!startswith(de->d_name, IMAGE_TEMP_PREFIX))
                        continue;
                q = remove_entry(dirfd(d), de->d_name);
                if (q < 0 && r == 0)
                        r = q;
                if (q >= 0)
                        (*n)++;
        }
        return r;
}

int image_snapshots_clean(void) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int fd, n = 0, r = 0;

        fd = store_open(NULL, false);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return fd;
        r = fdopendir_take(fd, &d);
        if (r < 0)
                return r;
        while ((de = readdir(d))) {
                int q;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (startswith(de->d_name, IMAGE_TEMP_PREFIX)) {
                        /* The store of a removed image, caught in the middle of its removal. */
                        q = remove_store_dir(dirfd(d), de->d_name);
                        if (q >= 0)
                                n++;
                } else
                        q = clean_image_store(dirfd(d), de->d_name, &n);
                if (q < 0 && r == 0)
                        r = q;
        }
        return r < 0 ? r : n;
}
