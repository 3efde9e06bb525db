/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Telling our own service manager how we are: the sd_notify() protocol, without libsystemd. */
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "macro.h"
#include "notify-util.h"

int notify_manager(const char *state) {
        const char *path = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        size_t l;

        if (isempty(path))
                return 0;
        l = strlen(path);
        /* A path, or an abstract socket written with a leading '@'. */
        if ((path[0] != '/' && path[0] != '@') || l >= sizeof(sa.sun_path))
                return -EINVAL;
        memcpy(sa.sun_path, path, l);
        if (sa.sun_path[0] == '@')
                sa.sun_path[0] = 0;
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *) &sa,
                   (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l)) < 0)
                return negative_errno();
        return 1;
}
