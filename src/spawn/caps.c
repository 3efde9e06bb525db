/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Capabilities: the payload's default bounding set, name parsing, and dropping before exec. */

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"
#include "log.h"

#define BIT(c) (UINT64_C(1) << (c))

/*
 * The default bounding set: systemd-nspawn's, minus CAP_DAC_READ_SEARCH and CAP_MKNOD.
 * Without a user namespace container root is host root, so each capability here is a hole the
 * other layers (PID/mount namespaces, read-only /proc/sys and /sys, the device policy, the
 * syscall filter) have to hold; with one, the kernel scopes most of them to the namespace.
 *
 * KEPT
 *   CHOWN, DAC_OVERRIDE, FOWNER, FSETID  root must own and fix up its own tree (dpkg, tmpfiles).
 *   SETUID, SETGID, SETPCAP, SETFCAP     login, su, services with User=, dropping capabilities,
 *                                        packages that set file capabilities (ping).
 *   KILL                                 signals to any process; the PID namespace limits "any".
 *   IPC_OWNER                            SysV IPC objects; the IPC namespace is private.
 *   LEASE                                file leases (Samba); local to files it can open.
 *   LINUX_IMMUTABLE                      chattr +i/+a on its own files.
 *   NET_BIND_SERVICE, NET_BROADCAST      ports < 1024, broadcast: daemons need them.
 *   NET_RAW                              ping, DHCP clients. On a shared host network it also
 *                                        lets container root sniff host traffic; nspawn keeps
 *                                        it all the same, and -U or a private network scope it.
 *   SYS_ADMIN                            systemd mounts (PrivateTmp=, /run/user, …) and sets up
 *                                        namespaces for its services. The big one: the mount
 *                                        and /sys, /proc/sys read-only setup contain it.
 *   SYS_BOOT                             reboot() in a PID namespace only ends the container;
 *                                        kexec, which it would also allow, is denied by seccomp.
 *   SYS_CHROOT                           chroot for services (RootDirectory=, sshd privsep).
 *   SYS_NICE                             nice/ionice/RT priorities of its own processes.
 *   SYS_PTRACE                           strace/gdb; the PID namespace bounds what it can see.
 *   SYS_RESOURCE                         raise rlimits (systemd raises RLIMIT_NOFILE for units).
 *   SYS_TTY_CONFIG                       vhangup() on its own console (agetty).
 *   AUDIT_CONTROL, AUDIT_WRITE           login tools insist; seccomp makes audit sockets fail
 *                                        with EAFNOSUPPORT, which they read as "no audit".
 *
 * DROPPED
 *   DAC_READ_SEARCH                      open_by_handle_at() opens any inode of a filesystem
 *                                        by number ("shocker", probe A29); DAC_OVERRIDE already
 *                                        covers every read/search a container needs.
 *   MKNOD                                mknod of raw devices (sda, mem, kmsg; probe A20). The
 *                                        tree is mounted nodev too; systemd falls back to bind
 *                                        mounts for PrivateDevices= when mknod fails.
 *   SYS_MODULE, SYS_RAWIO, SYS_TIME      host kernel, hardware, host clock (nspawn agrees).
 *   SYS_PACCT, SYSLOG, AUDIT_READ        host accounting, host kernel log, host audit stream.
 *   NET_ADMIN                            on the host network it would reconfigure the host's
 *                                        interfaces; the lead adds it with a private network.
 *   MAC_ADMIN, MAC_OVERRIDE              the host's LSM policy.
 *   IPC_LOCK                             not needed: mlock works within RLIMIT_MEMLOCK.
 *   WAKE_ALARM, BLOCK_SUSPEND            host power management.
 *   BPF, PERFMON, CHECKPOINT_RESTORE     host-wide tracing/maps, and fiddling with other
 *                                        processes' state.
 */
uint64_t caps_default_keep(void) {
        return BIT(CAP_CHOWN) | BIT(CAP_DAC_OVERRIDE) | BIT(CAP_FOWNER) | BIT(CAP_FSETID) |
               BIT(CAP_IPC_OWNER) | BIT(CAP_KILL) | BIT(CAP_LEASE) | BIT(CAP_LINUX_IMMUTABLE) |
               BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_NET_BROADCAST) | BIT(CAP_NET_RAW) |
               BIT(CAP_SETFCAP) | BIT(CAP_SETGID) | BIT(CAP_SETPCAP) | BIT(CAP_SETUID) |
               BIT(CAP_SYS_ADMIN) | BIT(CAP_SYS_BOOT) | BIT(CAP_SYS_CHROOT) | BIT(CAP_SYS_NICE) |
               BIT(CAP_SYS_PTRACE) | BIT(CAP_SYS_RESOURCE) | BIT(CAP_SYS_TTY_CONFIG) |
               BIT(CAP_AUDIT_CONTROL) | BIT(CAP_AUDIT_WRITE);
}

static const char *const capability_names[CAP_LAST_CAP + 1] = {
        [CAP_CHOWN]              = "CAP_CHOWN",
        [CAP_DAC_OVERRIDE]       = "CAP_DAC_OVERRIDE",
        [CAP_DAC_READ_SEARCH]    = "CAP_DAC_READ_SEARCH",
        [CAP_FOWNER]             = "CAP_FOWNER",
        [CAP_FSETID]             = "CAP_FSETID",
        [CAP_KILL]               = "CAP_KILL",
        [CAP_SETGID]             = "CAP_SETGID",
        [CAP_SETUID]             = "CAP_SETUID",
        [CAP_SETPCAP]            = "CAP_SETPCAP",
        [CAP_LINUX_IMMUTABLE]    = "CAP_LINUX_IMMUTABLE",
        [CAP_NET_BIND_SERVICE]   = "CAP_NET_BIND_SERVICE",
        [CAP_NET_BROADCAST]      = "CAP_NET_BROADCAST",
        [CAP_NET_ADMIN]          = "CAP_NET_ADMIN",
        [CAP_NET_RAW]            = "CAP_NET_RAW",
        [CAP_IPC_LOCK]           = "CAP_IPC_LOCK",
        [CAP_IPC_OWNER]          = "CAP_IPC_OWNER",
        [CAP_SYS_MODULE]         = "CAP_SYS_MODULE",
        [CAP_SYS_RAWIO]          = "CAP_SYS_RAWIO",
        [CAP_SYS_CHROOT]         = "CAP_SYS_CHROOT",
        [CAP_SYS_PTRACE]         = "CAP_SYS_PTRACE",
        [CAP_SYS_PACCT]          = "CAP_SYS_PACCT",
        [CAP_SYS_ADMIN]          = "CAP_SYS_ADMIN",
        [CAP_SYS_BOOT]           = "CAP_SYS_BOOT",
        [CAP_SYS_NICE]           = "CAP_SYS_NICE",
        [CAP_SYS_RESOURCE]       = "CAP_SYS_RESOURCE",
        [CAP_SYS_TIME]           = "CAP_SYS_TIME",
        [CAP_SYS_TTY_CONFIG]     = "CAP_SYS_TTY_CONFIG",
        [CAP_MKNOD]              = "CAP_MKNOD",
        [CAP_LEASE]              = "CAP_LEASE",
        [CAP_AUDIT_WRITE]        = "CAP_AUDIT_WRITE",
        [CAP_AUDIT_CONTROL]      = "CAP_AUDIT_CONTROL",
        [CAP_SETFCAP]            = "CAP_SETFCAP",
        [CAP_MAC_OVERRIDE]       = "CAP_MAC_OVERRIDE",
        [CAP_MAC_ADMIN]          = "CAP_MAC_ADMIN",
        [CAP_SYSLOG]             = "CAP_SYSLOG",
        [CAP_WAKE_ALARM]         = "CAP_WAKE_ALARM",
        [CAP_BLOCK_SUSPEND]      = "CAP_BLOCK_SUSPEND",
        [CAP_AUDIT_READ]         = "CAP_AUDIT_READ",
        [CAP_PERFMON]            = "CAP_PERFMON",
        [CAP_BPF]                = "CAP_BPF",
        [CAP_CHECKPOINT_RESTORE] = "CAP_CHECKPOINT_RESTORE",
};

const char *capability_to_name(int cap) {
        if (cap < 0 || (size_t) cap >= ELEMENTSOF(capability_names))
                return NULL;
        return capability_names[cap];
}

int capability_from_name(const char *name) {
        const char *n;

        if (isempty(name))
                return -EINVAL;

        /* A number names capabilities newer than this table; the mask has room for 64. */
        if (name[0] >= '0' && name[0] <= '9') {
                char *end;
                unsigned long v;

                errno = 0;
                v = strtoul(name, &end, 10);
                if (errno != 0 || *end != '\0' || v >= 64 || (name[0] == '0' && name[1] != '\0'))
                        return -EINVAL;
                return (int) v;
        }

        n = strncasecmp(name, "cap_", 4) == 0 ? name + 4 : name;
        for (size_t i = 0; i < ELEMENTSOF(capability_names); i++)
                if (strcasecmp(capability_names[i] + 4, n) == 0)
                        return (int) i;
        return -EINVAL;
}

int capability_list_parse(const char *list, uint64_t *ret) {
        uint64_t mask = 0;
        const char *p = list ?: "";

        for (;;) {
                char word[64];
                size_t l;
                int c;

                p += strspn(p, ", \t\n");
                if (*p == '\0')
                        break;
                l = strcspn(p, ", \t\n");
                if (l >= sizeof(word))
                        return -EINVAL;
                memcpy(word, p, l);
                word[l] = '\0';
                p += l;

                if (strcasecmp(word, "all") == 0) {
                        mask |= BIT(ELEMENTSOF(capability_names)) - 1;
                        continue;
                }
                c = capability_from_name(word);
                if (c < 0)
                        return c;
                mask |= BIT(c);
        }

        *ret = mask;
        return 0;
}

static int bounding_set_drop(uint64_t keep) {
        /* /proc is not mounted yet when this runs, so /proc/sys/kernel/cap_last_cap cannot tell
         * how many capabilities the kernel has: ask for each until the kernel says EINVAL. */
        for (unsigned long c = 0;; c++) {
                int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
                if (r < 0) {
                        if (errno == EINVAL)
                                return 0;
                        return log_error_errno(negative_errno(),
                                               "Failed to read capability %lu of the bounding set: %m", c);
                }
                if (r == 0 || (c < 64 && (keep & BIT(c))))
                        continue;
                if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
                        return log_error_errno(negative_errno(),
                                               "Failed to drop capability %lu (%s) from the bounding set: %m",
                                               c, capability_to_name((int) c) ?: "unnamed");
        }
}

int caps_apply(uint64_t keep) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};
        int r;

        r = bounding_set_drop(keep);
        if (r < 0)
                return r;

        /* Ambient capabilities would survive exec into a non-root user; none are wanted. */
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return log_error_errno(negative_errno(), "Failed to clear ambient capabilities: %m");

        /* Raw syscalls: libcap would be a dependency for four lines. */
        if (syscall(SYS_capget, &h, d) < 0)
                return log_error_errno(negative_errno(), "Failed to read capabilities: %m");
        for (size_t i = 0; i < ELEMENTSOF(d); i++) {
                uint32_t m = (uint32_t) (keep >> (32 * i));

                d[i].effective &= m;
                d[i].permitted &= m;
                d[i].inheritable &= m;
        }
        if (syscall(SYS_capset, &h, d) < 0)
                return log_error_errno(negative_errno(), "Failed to set capabilities: %m");

        return 0;
}
