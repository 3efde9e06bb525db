/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The container side: what the container's first process does between clone and exec, and the
 * setup process that builds a locked mount namespace for user-namespaced containers. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "image.h"
#include "mount.h"
#include "settings.h"

typedef struct ChildContext {
        const Settings *settings;
        MountContext mount;     /* what to mount (done by this process without a userns) */
        bool userns;            /* the mount namespace arrives from the setup process */
        const char *hostname;
        const char *init_path;  /* boot mode */
        char **environment;     /* the payload's complete environment */
        uint64_t caps_keep;
        bool console_pty;       /* stdio is /dev/console */
        bool defer_cgroupns;    /* wait for SYNC_CGROUP, then make the cgroup namespace */
        int sync_fd;            /* to the supervisor */
} ChildContext;

/* Runs as the container's PID 1 right after clone. Never returns. */
_Noreturn void child_run(const ChildContext *c);

/* The setup process of a user-namespaced container: joins PIDFD's network, cgroup and IPC
 * namespaces, builds the mounts as host root in a mount namespace of its own, then enters the
 * container's user namespace and unshares once more, which locks every mount it made (the
 * container's root cannot unmount the masks to see what is below, probe A15). Sends the new
 * namespace to the container (CHILD_SYNC_FD) and the notify socket to the supervisor. */
_Noreturn void setup_process_run(const MountContext *m, int pidfd, int child_sync_fd, int supervisor_sync_fd);
