/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Resource limits, OOM score adjustment and CPU affinity of the container's PID 1 (nspawn's
 * --rlimit=, --oom-score-adjust= and --cpu-affinity=). */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/resource.h>

#include "exec-limits.h"
#include "fd-util.h"
#include "resolve.h"
#include "log.h"

/* nspawn raises NOFILE's default hard limit to this where nr_open allows (HIGH_RLIMIT_NOFILE). */
#define NOFILE_HARD_DEFAULT (512U * 1024U) /* as rlimit_widens() assumes */

static rlim_t read_nr_open(void) {
        _cleanup_close_ int fd = open("/proc/sys/fs/nr_open", O_RDONLY | O_CLOEXEC);
        _cleanup_free_ char *buf = NULL;
        unsigned long long v = 0;

        if (fd < 0 || read_fd_full(fd, 64, &buf, NULL) < 0 || sscanf(buf, "%llu", &v) != 1 || v == 0)
                return 1024 * 1024; /* the kernel's own default for nr_open */
        return (rlim_t) v;
}

/* The default for a resource nobody set: the kernel's initial one, except NPROC and SIGPENDING,
 * which scale with the host's memory and are read off the host's PID 1, as nspawn does. */
static int default_limit(int resource, struct rlimit *ret) {
        if (rlimit_kernel_default(resource, ret)) {
                if (resource == RLIMIT_NOFILE)
                        ret->rlim_max = MIN(read_nr_open(), (rlim_t) NOFILE_HARD_DEFAULT);
                return 0;
        }
        if (prlimit(1, (enum __rlimit_resource) resource, NULL, ret) < 0)
                return negative_errno();
        return 0;
}

static int apply_rlimits(const Settings *s, pid_t pid) {
        for (int i = 0; i < RLIMIT_NLIMITS; i++) {
                bool set = s->rlimits_set & (1U << i);
                struct rlimit l;
                int r;

                if (set)
                        l = s->rlimits[i];
                else {
                        r = default_limit(i, &l);
                        if (r < 0) {
                                /* Only a default: the container keeps what it inherited. */
                                log_debug_errno(r, "Failed to read the default for Limit%s=, leaving it: %m",
                                                rlimit_to_string(i));
                                continue;
                        }
                }
                /* Without CAP_SYS_RESOURCE a default above our own hard limit cannot be had:
                 * the closest is that hard limit, as nspawn's setrlimit_closest() does. */
                if (!set) {
                        struct rlimit own;

                        if (prlimit(0, (enum __rlimit_resource) i, NULL, &own) >= 0 && l.rlim_max > own.rlim_max &&
                            prlimit(pid, (enum __rlimit_resource) i, &l, NULL) < 0 && errno == EPERM) {
                                l.rlim_max = own.rlim_max;
                                l.rlim_cur = MIN(l.rlim_cur, l.rlim_max);
                        }
                }
                if (prlimit(pid, (enum __rlimit_resource) i, &l, NULL) < 0) {
                        r = negative_errno();
                        if (!set) {
                                log_debug_errno(r, "Failed to reset Limit%s= to its default: %m", rlimit_to_string(i));
                                continue;
                        }
                        /* An explicit limit that does not hold would be a lie: refuse to start. */
                        return log_error_errno(r, "Failed to set Limit%s= (--rlimit=%s=…) of the container: %m%s",
                                               rlimit_to_string(i), rlimit_to_string(i),
                                               r == -EPERM ? " (above our own hard limit without "
                                               "CAP_SYS_RESOURCE, or NOFILE above /proc/sys/fs/nr_open?)" : "");
                }
        }
        return 0;
}

static int apply_oom_score_adjust(const Settings *s, pid_t pid) {
        char path[64], value[16];
        int r;

        if (!s->oom_score_adjust_set)
                return 0;
        snprintf(path, sizeof(path), "/proc/%i/oom_score_adj", (int) pid);
        snprintf(value, sizeof(value), "%i", s->oom_score_adjust);
        r = write_string_file(path, value);
        if (r < 0)
                return log_error_errno(r, "Failed to set the container's OOM score adjustment to %i: %m%s",
                                       s->oom_score_adjust, r == -EACCES ?
                                       " (lowering it needs CAP_SYS_RESOURCE)" : "");
        return 0;
}

static int apply_cpu_affinity(const Settings *s, pid_t pid) {
        if (cpu_affinity_is_empty(&s->cpu_affinity))
                return 0;
        if (sched_setaffinity(pid, sizeof(s->cpu_affinity.bits), (const cpu_set_t *) s->cpu_affinity.bits) < 0) {
                _cleanup_free_ char *list = cpu_affinity_format(&s->cpu_affinity);
                int r = negative_errno();

                return log_error_errno(r, "Failed to set the container's CPU affinity to %s: %m%s",
                                       list ?: "?", r == -EINVAL ? " (none of these CPUs is online and allowed)" : "");
        }
        return 0;
}

int exec_limits_apply(const Settings *s, pid_t pid) {
        int r;

        r = apply_rlimits(s, pid);
        if (r < 0)
                return r;
        r = apply_oom_score_adjust(s, pid);
        if (r < 0)
                return r;
        return apply_cpu_affinity(s, pid);
}
