/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* File descriptor helpers: closing everything but a chosen few before handing over a process. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <linux/close_range.h>
#include <sys/syscall.h>

#include "fd-util.h"
#include "macro.h"

int close_all_fds_except(const int *keep, size_t n_keep) {
        unsigned from = 3;

        /* close_range() closes gaps between the kept fds in a handful of syscalls, instead of
         * walking /proc/self/fd (which may not even be mounted at this point). */
        for (size_t i = 0; i < n_keep; i++) {
                if (keep[i] < (int) from)
                        continue;
                if ((unsigned) keep[i] > from &&
                    syscall(SYS_close_range, from, (unsigned) keep[i] - 1, 0) < 0)
                        return negative_errno();
                from = (unsigned) keep[i] + 1;
        }
        if (syscall(SYS_close_range, from, ~0U, 0) < 0)
                return negative_errno();
        return 0;
}

int fd_move_to(int fd, int target) {
        if (fd == target)
                return fd_set_cloexec(fd, false);
        if (dup2(fd, target) < 0)
                return negative_errno();
        safe_close(fd);
        return 0;
}

int fd_set_cloexec(int fd, bool cloexec) {
        int flags = fcntl(fd, F_GETFD);

        if (flags < 0)
                return negative_errno();
        flags = cloexec ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
        return fcntl(fd, F_SETFD, flags) < 0 ? negative_errno() : 0;
}

int fd_set_nonblock(int fd, bool nonblock) {
        int flags = fcntl(fd, F_GETFL);

        if (flags < 0)
                return negative_errno();
        flags = nonblock ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
        return fcntl(fd, F_SETFL, flags) < 0 ? negative_errno() : 0;
}

int rlimit_nofile_safe(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return negative_errno();
        if (rl.rlim_cur <= FD_SETSIZE)
                return 0;
        rl.rlim_cur = FD_SETSIZE;
        return RET_NERRNO(setrlimit(RLIMIT_NOFILE, &rl));
}

int stdio_open_nonblock(int fd, bool output, int *ret_fd, bool *ret_owned, int *ret_saved_flags) {
        struct stat st;
        int copy, flags;

        *ret_saved_flags = -1;
        *ret_owned = false;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
                *ret_fd = fd;
                return 0;
        }
        if (!S_ISSOCK(st.st_mode)) {
                char path[64];

                (void) snprintf(path, sizeof(path), "/proc/self/fd/%i", fd);
                copy = open(path, (output ? O_WRONLY : O_RDONLY) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (copy >= 0) {
                        *ret_fd = copy;
                        *ret_owned = true;
                        return 0;
                }
        }
        /* A number of our own all the same: epoll refuses the same fd twice when stdin and
         * stdout are one socket. */
        copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (copy < 0)
                return negative_errno();
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)) {
                int r = negative_errno();

                safe_close(copy);
                return r;
        }
        if (!(flags & O_NONBLOCK))
                *ret_saved_flags = flags;
        *ret_fd = copy;
        *ret_owned = true;
        return 0;
}

int dirent_is_mount_point(int dir_fd, const char *name) {
        struct statx a, b;

        /* No shortcut on equal devices: a bind mount of the same file system has them too. */
        if (statx(dir_fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &a) < 0 ||
            statx(dir_fd, name, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &b) < 0)
                return negative_errno();
        if (!(a.stx_mask & STATX_MNT_ID) || !(b.stx_mask & STATX_MNT_ID))
                return 1; /* cannot tell: the safe answer */
        return a.stx_mnt_id != b.stx_mnt_id;
}

int fdopendir_take(int fd, DIR **ret) {
        DIR *d = fdopendir(fd);

        if (!d) {
                int r = negative_errno();

                safe_close(fd);
                return r;
        }
        *ret = d;
        return 0;
}

int write_all(int fd, const void *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p = (const uint8_t *) p + k;
                n -= (size_t) k;
        }
        return 0;
}
