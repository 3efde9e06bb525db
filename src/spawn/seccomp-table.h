/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The payload's syscall deny list, held once for the build-time generator and the run-time builder. */
#pragma once

#include <linux/filter.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline void seccomp_releasep(scmp_filter_ctx *ctx) {
        if (*ctx)
                seccomp_release(*ctx);
}

/* A syscall or "@group" the payload is refused by default (EPERM). CAPABILITY >= 0 lifts the
 * refusal when the payload keeps that capability (e.g. @clock with CAP_SYS_TIME), as nspawn does. */
typedef struct SeccompDenial {
        const char *name;
        int capability;
} SeccompDenial;

/* A refusal that depends on arguments (TIOCSTI, audit sockets). */
typedef struct SeccompArgRule {
        const char *syscall;
        int error;
        unsigned n_cmp;
        struct scmp_arg_cmp cmp[2];
        /* The rule cannot be expressed on ABIs that multiplex the syscall (socketcall on i386):
         * skip it there instead of failing. Only for rules that are a courtesy, not a defence. */
        bool best_effort;
} SeccompArgRule;

extern const SeccompDenial seccomp_default_denials[];
extern const size_t seccomp_n_default_denials;
extern const SeccompArgRule seccomp_arg_rules[];
extern const size_t seccomp_n_arg_rules;

/* Members of "@name" (NULL-terminated), or NULL for an unknown group. */
const char *const *seccomp_group_members(const char *name);
/* The I-th group's name ("@clock"), or NULL past the last (for tests and --help). */
const char *seccomp_group_name(size_t i);

/* true for a syscall name libseccomp knows (on any architecture) or one of our groups. */
bool seccomp_name_valid(const char *name);

/* Capabilities that lift a default refusal when kept. A filter built for a set holding none of
 * them is byte for byte the precompiled default. */
uint64_t seccomp_guard_capabilities(void);

/* Builds the filter for every ABI of the machine: the default denials minus those lifted by
 * CAPS_KEEP or named in ALLOW, plus everything named in DENY (deny wins). ALLOW and DENY are
 * NULL-terminated lists of syscall names and "@group"s, or NULL. On -EINVAL for a bad name,
 * *ret_bad_name (if given) points at it. Logs nothing: the generator links no logging. */
int seccomp_filter_build(uint64_t caps_keep, char *const *allow, char *const *deny,
                         scmp_filter_ctx *ret, const char **ret_bad_name);

/* The filter's classic BPF program, in malloc'ed memory. */
int seccomp_filter_export(scmp_filter_ctx ctx, struct sock_filter **ret, size_t *ret_n);
