/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copying a whole tree (CloneImage, templates): reflinks where possible, and everything a tree is made of. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "btrfs-util.h"
#include "copy-tree.h"
#include "fd-util.h"
#include "macro.h"

/* With a progress callback: at most this often (µs), and data in pieces of at most this size,
 * so that a big file reports (and can be stopped) on its way. */
#define PROGRESS_INTERVAL_USEC (200U * 1000U)
#define PROGRESS_CHUNK_BYTES ((size_t) 16U * 1024U * 1024U)

/* Inodes with several links already copied: the next link to one becomes a hard link. */
typedef struct HardLink {
        dev_t dev;
        ino_t ino;
        char *path; /* relative to the destination root */
} HardLink;

typedef struct CopyContext {
        int dest_root;
        HardLink *links;
        size_t n_links;
        /* The owner every inode we create gets; chown is skipped where the source has it
         * already. Unset (-1) when the destination's set-group-ID bit makes that unknowable. */
        uid_t new_uid;
        gid_t new_gid;
        char *names, *value; /* xattr buffers, allocated once */
        CopyProgress progress; /* or NULL */
        void *userdata;
        uint64_t done;          /* bytes of the regular files finished */
        uint64_t reported_usec; /* when PROGRESS was last called */
} CopyContext;

/* CLOCK_MONOTONIC_COARSE is read in the vDSO: no syscall, however often we ask. */
static uint64_t coarse_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

/* Tells the caller DONE (bytes), unless it was told less than an interval ago (FORCE: always). */
static int report(CopyContext *c, uint64_t done, bool force) {
        uint64_t n;

        if (!c->progress)
                return 0;
        n = coarse_usec();
        if (!force && n - c->reported_usec < PROGRESS_INTERVAL_USEC)
                return 0;
        c->reported_usec = n;
        return c->progress(done, c->userdata);
}

#define XATTR_LIST_MAX_BYTES (64U * 1024U)
#define XATTR_VALUE_MAX_BYTES (64U * 1024U)

/* The xattr calls on either real fds (F), paths (P) or paths not followed (L). */
typedef enum XattrVia { XATTR_FD, XATTR_PATH, XATTR_LPATH } XattrVia;

static ssize_t x_list(XattrVia via, int fd, const char *p, char *buf, size_t size) {
        return via == XATTR_FD ? flistxattr(fd, buf, size) :
               via == XATTR_PATH ? listxattr(p, buf, size) : llistxattr(p, buf, size);
}

static ssize_t x_get(XattrVia via, int fd, const char *p, const char *k, char *buf, size_t size) {
        return via == XATTR_FD ? fgetxattr(fd, k, buf, size) :
               via == XATTR_PATH ? getxattr(p, k, buf, size) : lgetxattr(p, k, buf, size);
}

static int x_set(XattrVia via, int fd, const char *p, const char *k, const char *v, size_t size) {
        return via == XATTR_FD ? fsetxattr(fd, k, v, size, 0) :
               via == XATTR_PATH ? setxattr(p, k, v, size, 0) : lsetxattr(p, k, v, size, 0);
}

/* Copies the extended attributes of one inode to another, named by fds or paths as VIA says.
 * ACLs are the system.posix_acl_* attributes; symlinks may carry trusted.* and security.*. */
static int copy_xattrs_via(CopyContext *c, XattrVia via, int src, const char *sp, int dest, const char *dp) {
        ssize_t n;

        /* Most files have none: one call says so, before any buffer is touched. */
        n = x_list(via, src, sp, NULL, 0);
        if (n <= 0)
                return n < 0 && errno != ENOTSUP ? negative_errno() : 0;
        if (!c->names) {
                c->names = malloc(XATTR_LIST_MAX_BYTES);
                c->value = malloc(XATTR_VALUE_MAX_BYTES);
                if (!c->names || !c->value)
                        return -ENOMEM;
        }
        n = x_list(via, src, sp, c->names, XATTR_LIST_MAX_BYTES);
        if (n < 0)
                return errno == ENOTSUP ? 0 : negative_errno();
        for (char *k = c->names; k < c->names + n; k += strlen(k) + 1) {
                ssize_t v = x_get(via, src, sp, k, c->value, XATTR_VALUE_MAX_BYTES);

                if (v < 0) {
                        if (errno == ENODATA)
                                continue;
                        return negative_errno();
                }
                if (x_set(via, dest, dp, k, c->value, (size_t) v) < 0 && errno != ENOTSUP)
                        return negative_errno();
        }
        return 0;
}

/* A symlink's own attributes: through its directory's fd link plus its name, with the l*xattr
 * calls, since /proc/self/fd/N of an O_PATH fd of the symlink would be followed to its target
 * (or, with the l* calls, name the proc link itself). */
static int copy_symlink_xattrs(CopyContext *c, int src_dir, int dest_dir, const char *name) {
        char sp[64 + NAME_MAX], dp[64 + NAME_MAX];

        snprintf(sp, sizeof(sp), "/proc/self/fd/%i/%s", src_dir, name);
        snprintf(dp, sizeof(dp), "/proc/self/fd/%i/%s", dest_dir, name);
        return copy_xattrs_via(c, XATTR_LPATH, -EBADF, sp, -EBADF, dp);
}

/* Owner, then mode (chown clears set-id bits), then xattrs (chown drops security.capability),
 * then times. FD names the new inode; for symlinks only owner and times apply. Regular files
 * and directories come as real fds and get the f* calls; device nodes and FIFOs as O_PATH
 * fds, reached through their /proc/self/fd links. */
static int copy_metadata(CopyContext *c, int src, int fd, const struct stat *st) {
        struct timespec ts[2] = { st->st_atim, st->st_mtim };
        bool real_fd = S_ISREG(st->st_mode) || S_ISDIR(st->st_mode);
        char sp[64], dp[64];
        int r;

        /* Most of a tree is root's: its new inodes are already owned right. */
        if ((st->st_uid != c->new_uid || st->st_gid != c->new_gid) &&
            fchownat(fd, "", st->st_uid, st->st_gid, AT_EMPTY_PATH) < 0)
                return negative_errno();
        if (S_ISLNK(st->st_mode))
                return RET_NERRNO(utimensat(fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));

        snprintf(sp, sizeof(sp), "/proc/self/fd/%i", src);
        snprintf(dp, sizeof(dp), "/proc/self/fd/%i", fd);
        if ((real_fd ? fchmod(fd, st->st_mode & 07777) : chmod(dp, st->st_mode & 07777)) < 0)
                return negative_errno();
        r = copy_xattrs_via(c, real_fd ? XATTR_FD : XATTR_PATH, src, sp, fd, dp);
        if (r < 0)
                return r;
        return RET_NERRNO(utimensat(fd, "", ts, AT_EMPTY_PATH));
}

/* Copies up to SIZE bytes at OFFSET of SRC to the same offset of DEST by read and write.
 * Returns the number copied (0 at the end of SRC) or a negative errno. */
static ssize_t copy_bytes(int src, int dest, off_t offset, size_t size) {
        char buf[64 * 1024];
        ssize_t n, w;

        n = pread(src, buf, MIN(size, sizeof(buf)), offset);
        if (n <= 0)
                return n < 0 ? negative_errno() : 0;
        for (ssize_t done = 0; done < n; done += w) {
                w = pwrite(dest, buf + done, (size_t) (n - done), offset + done);
                if (w < 0)
                        return negative_errno();
        }
        return n;
}

/* The data of SRC into the empty DEST: a reflink of the whole file, or the data extents one by
 * one with copy_file_range (which reflinks or copies in the kernel), leaving holes as holes. */
static int copy_data(CopyContext *c, int src, int dest, off_t size) {
        size_t chunk = c->progress ? PROGRESS_CHUNK_BYTES : SIZE_MAX;
        off_t data = 0, hole;
        int r;

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
                        ssize_t n = copy_file_range(src, &in, dest, &out, MIN((size_t) (hole - data), chunk), 0);

                        /* Between file systems of different types the kernel refuses (EXDEV);
                         * some refuse it altogether: then the bytes go through us. */
                        if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS))
                                n = copy_bytes(src, dest, data, (size_t) (hole - data));
                        else if (n < 0)
                                n = negative_errno();
                        if (n < 0)
                                return (int) n;
                        if (n == 0)
                                break; /* the file shrank under us */
                        data += n;
                        r = report(c, c->done + (uint64_t) data, false);
                        if (r < 0)
                                return r;
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
                r = copy_data(c, src, dest, st->st_size);
                if (r < 0)
                        return r;
                c->done += (uint64_t) st->st_size;
                r = report(c, c->done, false);
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
        r = copy_metadata(c, src, dest, st);
        if (r < 0)
                return r;
        if (S_ISLNK(st->st_mode)) {
                r = copy_symlink_xattrs(c, src_dir, dest_dir, name);
                if (r < 0)
                        return r;
        }
        if (st->st_nlink > 1)
                return remember_link(c, st, rel);
        return 0;
}

static int copy_child(CopyContext *c, int src_dir, dev_t src_dev, int dest_dir, const char *name, const char *rel) {
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
                int mp, r;

                /* A mount point below the image is not part of it: an empty directory. A btrfs
                 * subvolume is (a device of its own, no mount point): a subvolume again where
                 * the destination can, so that it stays one. */
                mp = dirent_is_mount_point(src_dir, name);
                if (mp < 0)
                        return mp;
                if (mp > 0 || st.st_dev == src_dev || btrfs_subvol_make_at(dest_dir, name) < 0)
                        if (mkdirat(dest_dir, name, 0700) < 0)
                                return negative_errno();
                d = openat(dest_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (d < 0)
                        return negative_errno();
                s = openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
                if (s < 0)
                        return negative_errno();
                if (mp == 0) {
                        r = copy_dir(c, s, d, path);
                        if (r < 0)
                                return r;
                }
                return copy_metadata(c, s, d, &st);
        }
}

static int copy_dir(CopyContext *c, int src_dir, int dest_dir, const char *rel) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        struct stat st;
        int fd, r;

        if (fstat(src_dir, &st) < 0)
                return negative_errno();
        fd = fcntl(src_dir, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return negative_errno();
        r = fdopendir_take(fd, &d);
        if (r < 0)
                return r;
        rewinddir(d);
        while ((errno = 0, de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                r = copy_child(c, src_dir, st.st_dev, dest_dir, de->d_name, rel);
                if (r < 0)
                        return r;
        }
        return errno > 0 ? -errno : 0;
}

int copy_tree(int src_fd, const char *dest) {
        return copy_tree_full(src_fd, dest, NULL, NULL);
}

int copy_tree_full(int src_fd, const char *dest, CopyProgress progress, void *userdata) {
        CopyContext c = { .dest_root = -EBADF, .progress = progress, .userdata = userdata };
        _cleanup_close_ int d = -EBADF;
        struct stat st, dst;
        int r;

        if (fstat(src_fd, &st) < 0)
                return negative_errno();
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        d = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (d < 0)
                return negative_errno();
        c.dest_root = d;
        if (fstat(d, &dst) < 0)
                return negative_errno();
        /* Our mkdirat() keeps directories 0700 until their children are done, so only a
         * set-group-ID destination passes another group down to what we create. */
        c.new_uid = dst.st_mode & S_ISGID ? (uid_t) -1 : geteuid();
        c.new_gid = dst.st_mode & S_ISGID ? (gid_t) -1 : getegid();
        r = copy_dir(&c, src_fd, d, "");
        if (r >= 0)
                r = copy_metadata(&c, src_fd, d, &st);
        if (r >= 0)
                r = report(&c, c.done, true);
        for (size_t i = 0; i < c.n_links; i++)
                free(c.links[i].path);
        free(c.links);
        free(c.names);
        free(c.value);
        return r;
}
