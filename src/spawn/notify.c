/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The container's notify socket (/run/host/notify): READY=1 from its init is forwarded to our
 * own $NOTIFY_SOCKET, so a Type=notify unit is ready when the OS inside is. */
#include <stdio.h>
#include <sys/socket.h>

#include "log.h"
#include "macro.h"
#include "notify-util.h"
#include "notify.h"

static int on_notify(EventSource *s, int fd, uint32_t revents, void *userdata) {
        bool forward_ready = PTR_TO_BOOL(userdata);
        char buf[4096];
        ssize_t n;

        for (;;) {
                n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT | MSG_TRUNC);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return 0; /* EAGAIN: drained */
                }
                if ((size_t) n >= sizeof(buf))
                        continue; /* oversized datagram: ignore, it is untrusted input */
                buf[n] = 0;
                for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                        if (streq(l, "READY=1") && forward_ready) {
                                log_debug("Container reported READY=1.");
                                (void) notify_manager("READY=1");
                        } else if (startswith(l, "STATUS=") && strlen(l) < 256) {
                                char msg[300];
                                snprintf(msg, sizeof(msg), "STATUS=Container: %s", l + 7);
                                (void) notify_manager(msg);
                        }
                }
        }
}

int notify_watch(EventLoop *e, int fd, bool forward_ready) {
        EventSource *s = NULL;
        int r;

        r = event_add_io(e, &s, fd, EPOLLIN, on_notify, BOOL_TO_PTR(forward_ready));
        if (r < 0)
                return r;
        event_source_set_io_fd_own(s, true);
        return 0;
}
