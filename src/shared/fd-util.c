/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* File descriptor helpers: closing everything but a chosen few before handing over a process. */
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/select.h>
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
