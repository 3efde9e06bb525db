/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The container's notify socket (/run/host/notify): READY=1 from its init is forwarded to our
 * own $NOTIFY_SOCKET, so a Type=notify unit is ready when the OS inside is. */
#pragma once

#include <stdbool.h>
#include "event-loop.h"

/* Watches FD (taken over, closed with the event loop). With FORWARD_READY, READY=1 from the
 * container is passed on; STATUS= is always passed on. */
int notify_watch(EventLoop *e, int fd, bool forward_ready);
