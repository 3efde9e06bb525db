/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Messages between the supervisor and the container's setup processes, with fds attached. */
#include <sys/socket.h>

#include "macro.h"
#include "sync.h"

int sync_send(int sock, SyncStep step, int value, int fd) {
        SyncMessage m = { .step = step, .value = value };
        struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

        if (fd >= 0) {
                struct cmsghdr *c;

                mh.msg_control = &control;
                mh.msg_controllen = sizeof(control);
                c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &fd, sizeof(int));
        }
        for (;;) {
                if (sendmsg(sock, &mh, MSG_NOSIGNAL) >= 0)
                        return 0;
                if (errno != EINTR)
                        return negative_errno();
        }
}

int sync_recv(int sock, SyncStep expect, int *ret_fd) {
        SyncMessage m = {};
        struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof(control),
        };
        int fd = -EBADF;
        ssize_t n;

        if (ret_fd)
                *ret_fd = -EBADF;
        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        if (n == 0)
                return -EPIPE;

        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
                    c->cmsg_len == CMSG_LEN(sizeof(int)))
                        memcpy(&fd, CMSG_DATA(c), sizeof(int));

        if ((size_t) n != sizeof(m) || (m.step != expect && m.step != SYNC_FAILED)) {
                safe_close(fd);
                return -EPROTO;
        }
        if (m.step == SYNC_FAILED) {
                safe_close(fd);
                return m.value < 0 ? m.value : -EIO;
        }
        if (ret_fd)
                *ret_fd = fd;
        else
                safe_close(fd);
        return m.value;
}
