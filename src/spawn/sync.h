/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Messages between the supervisor and the container's setup processes, with fds attached. */
#pragma once

#include <stdint.h>

/* Named steps instead of numbered barriers: each says what the sender has finished. */
typedef enum SyncStep {
        SYNC_SETUP_DONE,   /* mounts, pivot_root and hostname done; fd: notify socket (or none) */
        SYNC_MOUNT_NS,     /* userns mode: the locked mount namespace to join; fd: the nsfs */
        SYNC_CGROUP,       /* supervisor: the container is in its cgroup now (registered with
                            * berthd); the container: its cgroup namespace is made */
        SYNC_GO,           /* supervisor: host side ready (veth, cgroup), exec the payload */
        SYNC_FAILED,       /* error: the sender logged why; value is the negative errno */
} SyncStep;

typedef struct SyncMessage {
        uint32_t step;
        int32_t value;
} SyncMessage;

/* FD < 0 sends no fd. */
int sync_send(int sock, SyncStep step, int value, int fd);
/* Waits for one message. *RET_FD (if non-NULL) gets the attached fd or -EBADF. A closed peer
 * is -EPIPE; a SYNC_FAILED message is returned as its (negative) value. */
int sync_recv(int sock, SyncStep expect, int *ret_fd);
