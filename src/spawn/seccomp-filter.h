/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The payload's syscall filter: a default deny list, precompiled at build time, or one built at
 * start with libseccomp when the user changes it. */
#pragma once

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "settings.h"

/* Installs the filter for every ABI of the architecture (x86-64, i386, x32 on x86-64). With no
 * --system-call-filter and no capability that lifts a denial (CAP_SYS_TIME, CAP_SYS_MODULE,
 * CAP_SYS_RAWIO, CAP_SYSLOG, CAP_SYS_PACCT, CAP_BPF, CAP_PERFMON) in CAPS_KEEP it loads the
 * precompiled program and costs no libseccomp work. CAPS_KEEP: syscalls guarded by a capability
 * that the payload keeps (e.g. clock setting with CAP_SYS_TIME) are allowed.
 * Needs CAP_SYS_ADMIN in its user namespace or no_new_privs: if the payload does not keep
 * CAP_SYS_ADMIN and no_new_privs is off, call it before caps_apply(). Logs on failure. */
int seccomp_apply(const Settings *s, uint64_t caps_keep);

/* The pieces seccomp_apply() is made of, for tests and diagnostics. */
bool seccomp_use_precompiled(const Settings *s, uint64_t caps_keep);
void seccomp_default_program(const struct sock_filter **ret, size_t *ret_n);
/* Builds the program with libseccomp; on -EINVAL *ret_bad_name (if given) is the unknown name. */
int seccomp_build_program(const Settings *s, uint64_t caps_keep,
                          struct sock_filter **ret, size_t *ret_n, const char **ret_bad_name);

