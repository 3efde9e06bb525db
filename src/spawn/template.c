/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* --template=BASE: the machine's tree made from a base image on first use, atomically.
 *
 * The tree is built under a hidden name beside its final place (".#NAME.template-XXXXXXXX") and
 * renamed in only when whole, so an interrupted start (SIGKILL, power loss) never leaves a
 * half-made NAME. A lock file ".#NAME.lock" beside it makes concurrent first starts build it
 * once: the others wait and then find NAME there. Whoever holds that lock removes the hidden
 * leftovers of an interrupted build first; berthd's pool clean leaves both names alone while the
 * lock is held (template-build.h has them). */
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "btrfs-util.h"
#include "copy-tree.h"
#include "fd-util.h"
#include "image-lock.h"
#include "image.h"
#include "log.h"
#include "name-util.h"
#include "rm-rf.h"
#include "template-build.h"
#include "template.h"

/* Whether the directory DIR_FD is BASE or lies anywhere below it: cloning BASE there would copy
 * the clone into itself. */
static int dir_is_inside(int dir_fd, const struct stat *base) {
        _cleanup_close_ int fd = openat(dir_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return negative_errno();
        for (unsigned depth = 0; depth < 4096; depth++) {
                _cleanup_close_ int parent = -EBADF;
                struct stat st, pst;

                if (fstat(fd, &st) < 0)
                        return negative_errno();
                if (st.st_dev == base->st_dev && st.st_ino == base->st_ino)
                        return 1;
                parent = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (parent < 0 || fstat(parent, &pst) < 0)
                        return negative_errno();
                if (pst.st_dev == st.st_dev && pst.st_ino == st.st_ino)
                        return 0; /* the root: ".." is itself */
                safe_close(fd);
                fd = TAKE_FD(parent);
        }
        return -ELOOP;
}

/* Takes the lock file LOCK_NAME below DIR_FD, waiting for whoever holds it. */
static int take_build_lock(int dir_fd, const char *lock_name, const char *what) {
        bool waited = false;

        for (;;) {
                _cleanup_close_ int fd = openat(dir_fd, lock_name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
                struct stat a, b;

                if (fd < 0)
                        return negative_errno();
                if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                        if (errno != EWOULDBLOCK)
                                return negative_errno();
                        if (!waited)
                                log_info("Waiting for another start to finish creating %s.", what);
                        waited = true;
                        if (flock(fd, LOCK_EX) < 0)
                                return negative_errno();
                }
                /* The holder before us unlinks the file while it still holds the lock: a lock on
                 * a file that is no longer there protects nothing, so take the name anew. */
                if (fstat(fd, &a) >= 0 && fstatat(dir_fd, lock_name, &b, AT_SYMLINK_NOFOLLOW) >= 0 &&
                    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
                        return TAKE_FD(fd);
        }
}

static void release_build_lock(int dir_fd, const char *lock_name, int lock_fd) {
        /* Unlinked while still held, so nobody can take this file in between (take_build_lock()). */
        (void) unlinkat(dir_fd, lock_name, 0);
        safe_close(lock_fd);
}

/* Removes NAME below DIR_FD: a btrfs subvolume (a snapshot) as such, anything else as a tree. */
static int remove_temp(int dir_fd, const char *name) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;

        if (fd >= 0 && btrfs_is_subvol_fd(fd) > 0)
                return btrfs_subvol_remove_at(dir_fd, name);
        if (fstat(dir_fd, &st) < 0)
                return negative_errno();
        return rm_rf_at(dir_fd, name, st.st_dev);
}

/* Removes what an interrupted build of NAME left (only ever called with the build lock held). */
static int remove_leftovers(int dir_fd, const char *name) {
        _cleanup_(closedirp) DIR *d = NULL;
        int fd, r = 0;

        fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        r = fdopendir_take(fd, &d);
        if (r < 0)
                return r;
        for (struct dirent *de; (de = readdir(d));) {
                _cleanup_free_ char *of = NULL;
                TemplateEntry type;
                int k;

                /* Exactly our temporary names: the image "NAME.template-x" has its own. */
                k = template_entry_parse(de->d_name, &type, &of);
                if (k < 0)
                        return k;
                if (type != TEMPLATE_ENTRY_BUILD || !streq(of, name))
                        continue;
                log_debug("Removing %s, left by an interrupted start.", de->d_name);
                k = remove_temp(dir_fd, de->d_name);
                if (k < 0 && k != -ENOENT && r == 0)
                        r = k;
        }
        return r;
}

/* Makes TEMP_NAME below DIR_FD (path DIR_PATH) a clone of the tree BASE_FD. */
static int clone_base(int base_fd, int dir_fd, const char *dir_path, const char *temp_name) {
        _cleanup_free_ char *temp_path = NULL;
        int r;

        /* A snapshot is instant and shares everything; it needs BASE to be a subvolume on the
         * same btrfs as the target (-EXDEV otherwise), and copying is the way then. */
        if (btrfs_is_subvol_fd(base_fd) > 0) {
                r = btrfs_subvol_snapshot_at(base_fd, dir_fd, temp_name, false);
                if (r >= 0)
                        return 0;
                log_debug_errno(r, "Cannot snapshot the template, copying it instead: %m");
        }
        if (mkdirat(dir_fd, temp_name, 0700) < 0)
                return negative_errno();
        if (asprintf(&temp_path, "%s/%s", dir_path, temp_name) < 0)
                return -ENOMEM;
        return copy_tree(base_fd, temp_path);
}

/* Copies the regular file SRC_FD into the new file DEST_FD: a reflink where the file system can,
 * else copy_file_range() of the data only, so that a sparse image stays sparse. */
static int copy_raw(int src_fd, int dest_fd, const struct stat *st) {
        if (ioctl(dest_fd, FICLONE, src_fd) < 0) {
                for (off_t off = 0; off < st->st_size;) {
                        off_t data = lseek(src_fd, off, SEEK_DATA), hole;
                        loff_t in, out;

                        if (data < 0) {
                                if (errno == ENXIO)
                                        break; /* only a hole is left */
                                return negative_errno();
                        }
                        hole = lseek(src_fd, data, SEEK_HOLE);
                        if (hole < 0)
                                return negative_errno();
                        for (in = out = data; in < hole;) {
                                ssize_t n = copy_file_range(src_fd, &in, dest_fd, &out, hole - in, 0);

                                if (n < 0)
                                        return negative_errno();
                                if (n == 0)
                                        break; /* it shrank under us: ftruncate() below says how big */
                        }
                        off = hole;
                }
                if (ftruncate(dest_fd, st->st_size) < 0)
                        return negative_errno();
        }
        if (fchown(dest_fd, st->st_uid, st->st_gid) < 0 || fchmod(dest_fd, st->st_mode & 07777) < 0)
                return negative_errno();
        return RET_NERRNO(fsync(dest_fd));
}

/* Makes TEMP_NAME below DIR_FD a copy of the raw image file BASE_FD. */
static int clone_raw(int base_fd, const struct stat *st, int dir_fd, const char *temp_name) {
        _cleanup_close_ int fd = openat(dir_fd, temp_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);

        if (fd < 0)
                return negative_errno();
        return copy_raw(base_fd, fd, st);
}

/* Builds NAME below DIR_FD (path DIR_PATH) from the template at BASE; the build lock is held. */
static int build_image(const char *base, bool raw, int dir_fd, const char *dir_path, const char *name) {
        _cleanup_close_ int base_fd = -EBADF;
        _cleanup_free_ char *temp = NULL;
        struct stat st;
        uint32_t rnd;
        int r;

        /* Shared: other read-only users of BASE are fine, a writable one would change it under
         * the copy. The lock's fd is BASE itself, so what is copied is what was locked. */
        base_fd = image_lock(base, false);
        if (base_fd == -EBUSY)
                return log_error_errno(base_fd, "Template %s is in use by a writable machine, "
                                       "refusing to clone it while it changes.", base);
        if (base_fd < 0)
                return log_error_errno(base_fd, "Cannot use the template %s: %m", base);
        if (fstat(base_fd, &st) < 0)
                return log_error_errno(negative_errno(), "Cannot use the template %s: %m", base);
        if (raw ? !S_ISREG(st.st_mode) : !S_ISDIR(st.st_mode))
                return log_error_errno(-EBADFD, "Template %s changed its type under us.", base);
        r = raw ? 0 : dir_is_inside(dir_fd, &st);
        if (r != 0)
                return log_error_errno(r < 0 ? r : -EINVAL, r < 0 ? "Failed to check where %s/%s lies: %m" :
                                       "%s/%s lies inside the template, refusing to clone it into itself.",
                                       dir_path, name);

        if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
                return log_error_errno(negative_errno(), "Failed to get random bytes: %m");
        if (template_build_name(name, rnd, &temp) < 0)
                return log_oom();
        log_info("Creating %s/%s from the template %s.", dir_path, name, base);
        r = raw ? clone_raw(base_fd, &st, dir_fd, temp) : clone_base(base_fd, dir_fd, dir_path, temp);
        /* Durable before it becomes visible: after a power loss the image is whole or absent. */
        if (r >= 0 && syncfs(dir_fd) < 0)
                r = negative_errno();
        if (r >= 0 && renameat2(dir_fd, temp, dir_fd, name, RENAME_NOREPLACE) >= 0)
                return 0;
        if (r >= 0) {
                r = negative_errno();
                /* Made beside us by something that does not take our lock (berthd's clone):
                 * NAME is there now, which is all this start needs. */
                if (r == -EEXIST) {
                        log_info("%s/%s appeared meanwhile, using it.", dir_path, name);
                        r = 0;
                }
        }
        (void) remove_temp(dir_fd, temp);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s/%s from the template %s: %m", dir_path, name, base);
        return 0;
}

/* The template's path and kind: BASE itself when it is a path, else the image of that name in the
 * pool (a directory NAME first, then NAME.raw). */
static int find_base(const char *base, char **ret, bool *ret_raw) {
        struct stat st;
        int r;

        if (strchr(base, '/')) {
                if (stat(base, &st) < 0)
                        return log_error_errno(negative_errno(), "Cannot use the template %s: %m", base);
                if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
                        return log_error_errno(-EBADFD, "Template %s is neither a directory nor a raw image file.", base);
                *ret = strdup(base);
                *ret_raw = S_ISREG(st.st_mode);
                return *ret ? 0 : log_oom();
        }
        r = image_find(base, ret);
        *ret_raw = r == -ENOENT;
        if (r == -ENOENT)
                r = image_find_raw(base, ret);
        if (r < 0)
                return log_error_errno(r, "No template image '%s' in the image pool: %m", base);
        if (*ret_raw && (stat(*ret, &st) < 0 || !S_ISREG(st.st_mode)))
                return log_error_errno(-EBADFD, "Template %s is no raw image file (a block device cannot be one).", *ret);
        return 0;
}

/* Where the new image goes: the path of -D (tree) or -i (raw image), else NAME (or NAME.raw) in
 * the writable pool, which is made if missing. */
static int find_target(Settings *s, bool raw, char **ret_dir, char **ret_name) {
        _cleanup_free_ char *dir = NULL, *name = NULL;
        const char *path = s->image ?: s->directory, *slash;

        if (s->directory && raw)
                return log_error_errno(-EINVAL, "A raw template makes a raw image: use --image= or --machine=, not --directory=.");
        if (s->image && !raw)
                return log_error_errno(-EINVAL, "A directory template makes a tree: use --directory= or --machine=, not --image=.");
        if (!path) {
                const char *pool = image_pool_dir();

                if (!s->machine)
                        return log_error_errno(-EINVAL, "--template= needs --directory=, --image= or --machine= for the new image.");
                if (mkdir(pool, 0700) < 0 && errno != EEXIST)
                        return log_error_errno(negative_errno(), "Failed to create the image pool %s: %m", pool);
                dir = strdup(pool);
                if (asprintf(&name, "%s%s", s->machine, raw ? ".raw" : "") < 0)
                        name = NULL;
        } else {
                slash = strrchr(path, '/');
                dir = slash == path ? strdup("/") : strndup(path, slash - path);
                name = strdup(slash + 1);
        }
        if (!dir || !name)
                return log_oom();
        if (!image_name_is_valid(name))
                return log_error_errno(-EINVAL, "Cannot create an image named '%s' from a template.", name);
        *ret_dir = TAKE_PTR(dir);
        *ret_name = TAKE_PTR(name);
        return 0;
}

/* Takes the build lock of NAME below DIR and builds it unless someone did meanwhile. */
static int build_locked(const char *base, bool raw, const char *dir, const char *name, const char *path) {
        _cleanup_free_ char *lock_name = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        int lock_fd, r;

        if (template_lock_name(name, &lock_name) < 0)
                return log_oom();
        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return log_error_errno(negative_errno(), "Cannot create %s, no directory %s: %m", path, dir);
        lock_fd = take_build_lock(dir_fd, lock_name, path);
        if (lock_fd < 0)
                return log_error_errno(lock_fd, "Failed to lock %s/%s: %m", dir, lock_name);
        /* Whoever held the lock before us may have built it meanwhile. */
        if (faccessat(dir_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) >= 0)
                r = 0;
        else {
                r = remove_leftovers(dir_fd, name);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove what an interrupted start left beside %s: %m", path);
                r = build_image(base, raw, dir_fd, dir, name);
        }
        release_build_lock(dir_fd, lock_name, lock_fd);
        return r;
}

int template_apply(Settings *s) {
        _cleanup_free_ char *dir = NULL, *name = NULL, *base = NULL, *path = NULL;
        const char *given = s->image ?: s->directory;
        bool raw = false;
        int r;

        if (!s->template_base)
                return 0;
        if (s->ephemeral)
                return log_error_errno(-EINVAL, "--template= and --ephemeral exclude each other: "
                                       "an ephemeral run leaves nothing to keep.");
        if (s->directory && s->image)
                return 0; /* refused with the reason right after */
        /* An image that exists is used as it is, and BASE is not even looked at. */
        if (!given && s->machine) {
                r = image_find(s->machine, &s->directory);
                if (r == -ENOENT)
                        r = image_find_raw(s->machine, &s->image);
                if (r >= 0)
                        return 0;
                if (r != -ENOENT)
                        return log_error_errno(r, "Failed to look up the image %s: %m", s->machine);
        }
        if (given && access(given, F_OK) >= 0)
                return 0;

        r = find_base(s->template_base, &base, &raw);
        if (r < 0)
                return r;
        r = find_target(s, raw, &dir, &name);
        if (r < 0)
                return r;
        if (asprintf(&path, "%s%s%s", dir, streq(dir, "/") ? "" : "/", name) < 0)
                return log_oom();
        r = build_locked(base, raw, dir, name, path);
        if (r < 0)
                return r;
        if (!given && !(raw ? (s->image = TAKE_PTR(path)) : (s->directory = TAKE_PTR(path))))
                return log_oom();
        return 0;
}
