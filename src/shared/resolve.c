/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Path access inside a container tree that never escapes it (openat2 with RESOLVE_IN_ROOT). */
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "fd-util.h"
#include "macro.h"
#include "resolve.h"

static int mkdir_p_slow(int root_fd, const char *path, mode_t mode);

static int openat2_in_root(int root_fd, const char *path, int flags, mode_t mode) {
        struct open_how how = {
                .flags = (unsigned) flags | O_CLOEXEC,
                .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        int fd;

        while (*path == '/')
                path++;
        if (!*path)
                path = ".";
        fd = (int) syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
        return fd < 0 ? negative_errno() : fd;
}

int open_in_root(int root_fd, const char *path, int flags, mode_t mode) {
        return openat2_in_root(root_fd, path, flags, mode);
}

/* Splits PATH into its parent and last component; the parent is opened inside the root. */
static int open_parent_in_root(int root_fd, const char *path, bool create, char **ret_name) {
        _cleanup_free_ char *copy = strdup(path);
        char *slash, *name;
        int r;

        if (!copy)
                return -ENOMEM;
        /* Drop trailing slashes so "a/b/" names b. */
        for (size_t l = strlen(copy); l > 1 && copy[l - 1] == '/'; l--)
                copy[l - 1] = 0;
        slash = strrchr(copy, '/');
        name = slash ? slash + 1 : copy;
        if (isempty(name) || streq(name, ".") || streq(name, ".."))
                return -EINVAL;
        *ret_name = strdup(name);
        if (!*ret_name)
                return -ENOMEM;
        if (slash)
                *slash = 0;
        if (!slash || isempty(copy))
                r = openat2_in_root(root_fd, "/", O_PATH | O_DIRECTORY, 0);
        else if (create)
                r = mkdir_p_in_root(root_fd, copy, 0755);
        else
                r = openat2_in_root(root_fd, copy, O_PATH | O_DIRECTORY, 0);
        if (r < 0) {
                free(TAKE_PTR(*ret_name));
                return r;
        }
        return r;
}

int mkdir_p_in_root(int root_fd, const char *path, mode_t mode) {
        /* Most mount points exist already: one lookup instead of one per component. */
        int fd = openat2_in_root(root_fd, path, O_PATH | O_DIRECTORY, 0);

        if (fd != -ENOENT)
                return fd;
        return mkdir_p_slow(root_fd, path, mode);
}

static int mkdir_p_slow(int root_fd, const char *path, mode_t mode) {
        _cleanup_close_ int fd = openat2_in_root(root_fd, "/", O_PATH | O_DIRECTORY, 0);
        _cleanup_free_ char *prefix = malloc(strlen(path) + 2);
        const char *p = path;
        size_t plen = 0;

        if (fd < 0)
                return fd;
        if (!prefix)
                return -ENOMEM;
        prefix[0] = 0;
        /* One component at a time. Each step re-resolves the whole prefix from the root, so a
         * symlink in the middle is followed the way the container will see it and can never
         * lead out of the tree; mkdirat() itself never follows a symlink. */
        while (*p) {
                size_t l;
                int nfd;

                p += strspn(p, "/");
                l = strcspn(p, "/");
                if (l == 0)
                        break;
                if (l == 1 && p[0] == '.') {
                        p += l;
                        continue;
                }
                prefix[plen++] = '/';
                memcpy(prefix + plen, p, l);
                plen += l;
                prefix[plen] = 0;

                {
                        char name[l + 1];

                        memcpy(name, p, l);
                        name[l] = 0;
                        if (!streq(name, "..") && mkdirat(fd, name, mode) < 0 && errno != EEXIST)
                                return negative_errno();
                }
                nfd = openat2_in_root(root_fd, prefix, O_PATH | O_DIRECTORY, 0);
                if (nfd < 0)
                        return nfd;
                safe_close(fd);
                fd = nfd;
                p += l;
        }
        return TAKE_FD(fd);
}

int mount_point_in_root(int root_fd, const char *path, bool is_file, mode_t mode) {
        _cleanup_close_ int dir_fd = -EBADF;
        _cleanup_free_ char *name = NULL;
        struct stat st;
        int fd;

        if (!is_file)
                return mkdir_p_in_root(root_fd, path, mode);

        dir_fd = open_parent_in_root(root_fd, path, true, &name);
        if (dir_fd < 0)
                return dir_fd;
        /* An O_PATH directory fd is a valid dirfd for the *at() calls. mknodat makes: an empty
         * regular file, never a FIFO or device; an existing symlink is not followed. */
        if (mknodat(dir_fd, name, S_IFREG | (mode & 07777), 0) < 0 && errno != EEXIST)
                return negative_errno();
        fd = openat(dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                safe_close(fd);
                return -EEXIST;
        }
        return fd;
}

int write_file_in_root(int root_fd, const char *path, const char *content, mode_t mode) {
        _cleanup_close_ int dir_fd = -EBADF, fd = -EBADF;
        _cleanup_free_ char *name = NULL, *tmp = NULL;
        struct stat st;
        size_t n = strlen(content);
        int r = 0;

        dir_fd = open_parent_in_root(root_fd, path, true, &name);
        if (dir_fd < 0)
                return dir_fd;
        /* Only a regular file (or a symlink, which is replaced, never followed: probe A01) may
         * stand where we write. */
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
                return -EEXIST;
        /* A new inode renamed into place: never writes through a hard link into a file elsewhere,
         * never opens whatever might be swapped in meanwhile, and readers see old or new. */
        if (asprintf(&tmp, ".#berth%s.%08x", name, (unsigned) random()) < 0)
                return -ENOMEM;
        fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, mode);
        if (fd < 0)
                return negative_errno();
        r = write_all(fd, content, n);
        if (r == 0 && fchmod(fd, mode) < 0)
                r = negative_errno();
        if (r == 0 && renameat(dir_fd, tmp, dir_fd, name) < 0)
                r = negative_errno();
        if (r < 0)
                (void) unlinkat(dir_fd, tmp, 0);
        return r;
}

int read_fd_full(int fd, size_t max, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, alloc = 0;

        /* max + 1 below must not wrap. */
        max = MIN(max, (size_t) SSIZE_MAX - 1);
        for (;;) {
                ssize_t k;

                if (alloc - size < 1024) {
                        size_t na = alloc ? alloc * 2 : 4096;
                        char *nb;

                        if (na > max + 1)
                                na = max + 1;
                        if (na <= size)
                                return -EFBIG;
                        nb = realloc(buf, na + 1);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                        alloc = na;
                }
                k = read(fd, buf + size, alloc - size);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                size += (size_t) k;
                if (size > max)
                        return -EFBIG;
        }
        if (!buf && !(buf = malloc(1)))
                return -ENOMEM;
        buf[size] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = size;
        return 0;
}

int read_file_in_root(int root_fd, const char *path, size_t max, char **ret) {
        _cleanup_close_ int pfd = openat2_in_root(root_fd, path, O_PATH, 0), fd = -EBADF;
        char self[64];
        struct stat st;

        if (pfd < 0)
                return pfd;
        /* Look before opening: opening a device node the tree planted would run its driver's
         * open on the host, and a FIFO would block us. The O_PATH fd pins the inode checked. */
        if (fstat(pfd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
        fd = open(self, O_RDONLY | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        return read_fd_full(fd, max, ret, NULL);
}

int write_string_fileat(int dir_fd, const char *path, const char *content) {
        _cleanup_close_ int fd = openat(dir_fd, path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
        size_t n = strlen(content);
        ssize_t k;

        if (fd < 0)
                return negative_errno();
        k = write(fd, content, n);
        if (k < 0)
                return negative_errno();
        return (size_t) k == n ? 0 : -EIO;
}

int write_string_file(const char *path, const char *content) {
        return write_string_fileat(AT_FDCWD, path, content);
}

int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return negative_errno();
                *s = '/';
        }
        return mkdir(p, mode) < 0 && errno != EEXIST ? negative_errno() : 0;
}
