/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Installs the payload's syscall filter: the precompiled default, or one built for this start. */

#include <errno.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "seccomp-default-filter.h"
#include "seccomp-table.h"
#include "seccomp-filter.h"

/* The generator runs on the build machine (meson native: true). In a cross build its program
 * would be for the wrong architecture, and a default-allow filter for a foreign architecture
 * denies nothing, silently; so the precompiled program is used only when it matches. */
#if defined(__x86_64__) && !defined(__ILP32__)
#  define TARGET_ARCH SCMP_ARCH_X86_64
#elif defined(__x86_64__)
#  define TARGET_ARCH SCMP_ARCH_X32
#elif defined(__i386__)
#  define TARGET_ARCH SCMP_ARCH_X86
#elif defined(__aarch64__)
#  define TARGET_ARCH SCMP_ARCH_AARCH64
#elif defined(__arm__)
#  define TARGET_ARCH SCMP_ARCH_ARM
#else
#  define TARGET_ARCH SECCOMP_DEFAULT_FILTER_ARCH
#endif

bool seccomp_use_precompiled(const Settings *s, uint64_t caps_keep) {
        return SECCOMP_DEFAULT_FILTER_ARCH == TARGET_ARCH &&
               isempty(s->syscall_allow ? s->syscall_allow[0] : NULL) &&
               isempty(s->syscall_deny ? s->syscall_deny[0] : NULL) &&
               (caps_keep & seccomp_guard_capabilities()) == 0;
}

void seccomp_default_program(const struct sock_filter **ret, size_t *ret_n) {
        *ret = seccomp_default_filter;
        *ret_n = ELEMENTSOF(seccomp_default_filter);
}

int seccomp_build_program(const Settings *s, uint64_t caps_keep,
                          struct sock_filter **ret, size_t *ret_n, const char **ret_bad_name) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        int r;

        r = seccomp_filter_build(caps_keep, s->syscall_allow, s->syscall_deny, &ctx, ret_bad_name);
        if (r < 0)
                return r;
        return seccomp_filter_export(ctx, ret, ret_n);
}

static int install_program(const struct sock_filter *filter, size_t n) {
        struct sock_fprog prog = {
                .len = n,
                .filter = (struct sock_filter *) filter,
        };

        if (n == 0 || n > BPF_MAXINSNS)
                return -E2BIG;
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) >= 0)
                return 0;
        if (errno != ENOSYS)
                return -errno;
        /* Kernels before 3.17 only have the prctl() interface. */
        return RET_NERRNO(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0));
}

int seccomp_apply(const Settings *s, uint64_t caps_keep) {
        _cleanup_free_ struct sock_filter *built = NULL;
        const struct sock_filter *prog;
        const char *bad = NULL;
        size_t n;
        int r;

        if (seccomp_use_precompiled(s, caps_keep))
                seccomp_default_program(&prog, &n);
        else {
                r = seccomp_build_program(s, caps_keep, &built, &n, &bad);
                if (r == -EINVAL && bad)
                        return log_error_errno(r, "Unknown system call or group in the system call filter: %s",
                                               bad);
                if (r < 0)
                        return log_error_errno(r, "Failed to build the system call filter: %m");
                prog = built;
        }

        r = install_program(prog, n);
        if (r == -EACCES)
                return log_error_errno(r, "Failed to install the system call filter: "
                                       "neither CAP_SYS_ADMIN nor no_new_privs is set: %m");
        if (r < 0)
                return log_error_errno(r, "Failed to install the system call filter: %m");

        log_debug("Installed the %s system call filter (%zu instructions).",
                  built ? "custom" : "precompiled", n);
        return 0;
}
