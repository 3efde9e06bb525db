/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The container's closed device policy: a cgroup BPF program that lets the payload open or create
 * only the device nodes a container needs, whatever nodes its image ships (probe A20). */
#pragma once

#include <stddef.h>

/* The same bits as the kernel's BPF_DEVCG_ACC_*, so a rule's access goes into the program as is. */
enum {
        DEVICE_ACCESS_MKNOD = 1U << 0,
        DEVICE_ACCESS_READ = 1U << 1,
        DEVICE_ACCESS_WRITE = 1U << 2,
        DEVICE_ACCESS_RW = DEVICE_ACCESS_READ | DEVICE_ACCESS_WRITE,
        DEVICE_ACCESS_ALL = DEVICE_ACCESS_MKNOD | DEVICE_ACCESS_READ | DEVICE_ACCESS_WRITE,
};

/* TYPE is 'c' or 'b'; MAJOR and MINOR are -1 for "any"; ACCESS is DEVICE_ACCESS_* bits. An access
 * is allowed when one rule matches the device and holds every bit the access asks for. */
typedef struct DeviceRule {
        char type;
        int major, minor;
        unsigned access;
} DeviceRule;

/* Attaches the policy to the cgroup2 directory CGROUP_FD (O_PATH is enough): /dev/null, zero,
 * full, random, urandom, tty, console, ptmx and /dev/net/tun (rwm), every pty slave (rw), plus
 * EXTRA; any other open or mknod of a device node fails with EPERM, in this cgroup and every
 * cgroup below it. The attachment lives as long as the cgroup; returns the program's fd
 * (O_CLOEXEC), which the caller may close at once. -EINVAL for a malformed rule. */
int device_policy_attach(int cgroup_fd, const DeviceRule *extra, size_t n_extra);
