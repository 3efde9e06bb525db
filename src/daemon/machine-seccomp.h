/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copying a machine's syscall filters: read from its leader with ptrace, installed on what berthd
 * starts inside, so that nothing run through berthd escapes the filter the machine runs under. */
#pragma once

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The kernel's limit on a chain: every filter counts its length plus 4 (MAX_INSNS_PER_PATH). */
#define SECCOMP_CHAIN_INSNS_MAX 32768U

/* Leader stops that take longer than this (it sleeps uninterruptibly) make the read fail. */
#define SECCOMP_READ_TIMEOUT_SEC 5U

typedef struct SeccompProgram {
        struct sock_filter *insns;
        uint32_t len;
        uint32_t flags; /* SECCOMP_FILTER_FLAG_* it is installed with (only LOG can be read back) */
} SeccompProgram;

typedef struct SeccompChain {
        SeccompProgram *programs; /* oldest first: the order they are installed in */
        size_t n;
} SeccompChain;

void seccomp_chain_done(SeccompChain *c);

/* The "Seccomp:" mode (0 none, 1 strict, 2 filter) and the "Seccomp_filters:" count (-1 when the
 * kernel does not show it) of a /proc/PID/status text. */
int seccomp_status_parse(const char *status, int *ret_mode, int *ret_n_filters);

/* Reads every filter of PID (a thread group leader) into *RET; empty if it has none. The read
 * happens in a short-lived child process that stops PID (PTRACE_SEIZE + PTRACE_INTERRUPT), reads,
 * and detaches; should anything go wrong the child's exit detaches, so PID is never left stopped
 * or traced. Needs CAP_SYS_ADMIN and no seccomp filter on the caller. Strict mode: -EOPNOTSUPP;
 * PID gone: -ESRCH; traced by someone else for longer than a moment: -EBUSY. */
int seccomp_chain_read(pid_t pid, SeccompChain *ret);

/* Installs C on the calling thread, oldest filter first. Needs no_new_privs or CAP_SYS_ADMIN. */
int seccomp_chain_install(const SeccompChain *c);

/* The wire format between the reading child and its parent, exposed for tests. */
int seccomp_chain_serialize(const SeccompChain *c, void **ret, size_t *ret_size);
int seccomp_chain_deserialize(const void *data, size_t size, SeccompChain *ret);
