/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading a process's seccomp filters with ptrace and installing copies of them. */
#include <fcntl.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "fd-util.h"
#include "machine-seccomp.h"
#include "machine.h"
#include "macro.h"
#include "resolve.h"

/* What the reading child sends: a result, then the chain (count, then length, flags and
 * instructions of each filter). The chain's limit bounds it. */
#define WIRE_SIZE_MAX (sizeof(int32_t) + sizeof(uint32_t) + \
                       SECCOMP_CHAIN_INSNS_MAX * (sizeof(struct sock_filter) + 2 * sizeof(uint32_t)))
/* How long a leader traced by someone else (another worker of ours, reading it too) is waited
 * for before giving up. */
#define SEIZE_RETRY_USEC 5000U
#define SEIZE_RETRIES 400U

void seccomp_chain_done(SeccompChain *c) {
        for (size_t i = 0; i < c->n; i++)
                free(c->programs[i].insns);
        free(c->programs);
        *c = (SeccompChain) {};
}

int seccomp_status_parse(const char *status, int *ret_mode, int *ret_n_filters) {
        const char *l;
        int mode, n = -1;

        l = strstr(status, "\nSeccomp:");
        if (!l || sscanf(l + 9, "%d", &mode) != 1 || mode < 0 || mode > 2)
                return -EBADMSG;
        l = strstr(status, "\nSeccomp_filters:");
        if (l && (sscanf(l + 17, "%d", &n) != 1 || n < 0))
                return -EBADMSG;
        *ret_mode = mode;
        *ret_n_filters = n;
        return 0;
}

static bool is_traced(pid_t pid) {
        _cleanup_free_ char *status = NULL;
        const char *l;
        int tracer = 0;

        if (proc_read_file(pid, "status", &status) < 0)
                return false;
        l = strstr(status, "\nTracerPid:");
        return l && sscanf(l + 11, "%d", &tracer) == 1 && tracer != 0;
}

static int chain_append(SeccompChain *c, struct sock_filter *insns, uint32_t len, uint32_t flags) {
        SeccompProgram *t;

        t = reallocarray(c->programs, c->n + 1, sizeof(SeccompProgram));
        if (!t)
                return -ENOMEM;
        c->programs = t;
        c->programs[c->n++] = (SeccompProgram) { .insns = insns, .len = len, .flags = flags };
        return 0;
}

int seccomp_chain_serialize(const SeccompChain *c, void **ret, size_t *ret_size) {
        size_t size = sizeof(uint32_t);
        uint8_t *buf, *p;

        for (size_t i = 0; i < c->n; i++)
                size += 2 * sizeof(uint32_t) + (size_t) c->programs[i].len * sizeof(struct sock_filter);
        p = buf = malloc(size);
        if (!buf)
                return -ENOMEM;
        *(uint32_t *) p = (uint32_t) c->n;
        p += sizeof(uint32_t);
        for (size_t i = 0; i < c->n; i++) {
                size_t n = (size_t) c->programs[i].len * sizeof(struct sock_filter);

                memcpy(p, &c->programs[i].len, sizeof(uint32_t));
                memcpy(p + sizeof(uint32_t), &c->programs[i].flags, sizeof(uint32_t));
                memcpy(p + 2 * sizeof(uint32_t), c->programs[i].insns, n);
                p += 2 * sizeof(uint32_t) + n;
        }
        *ret = buf;
        *ret_size = size;
        return 0;
}

int seccomp_chain_deserialize(const void *data, size_t size, SeccompChain *ret) {
        _cleanup_(seccomp_chain_done) SeccompChain c = {};
        const uint8_t *p = data, *end = p + size;
        size_t total = 0;
        uint32_t n;
        int r;

        if (size < sizeof(uint32_t))
                return -EBADMSG;
        memcpy(&n, p, sizeof(n));
        p += sizeof(n);
        for (uint32_t i = 0; i < n; i++) {
                _cleanup_free_ struct sock_filter *insns = NULL;
                uint32_t len, flags;

                if ((size_t) (end - p) < 2 * sizeof(uint32_t))
                        return -EBADMSG;
                memcpy(&len, p, sizeof(len));
                memcpy(&flags, p + sizeof(len), sizeof(flags));
                p += 2 * sizeof(uint32_t);
                total += (size_t) len + 4;
                if (len == 0 || len > BPF_MAXINSNS || total > SECCOMP_CHAIN_INSNS_MAX ||
                    (size_t) (end - p) < len * sizeof(struct sock_filter))
                        return -EBADMSG;
                insns = malloc(len * sizeof(struct sock_filter));
                if (!insns)
                        return -ENOMEM;
                memcpy(insns, p, len * sizeof(struct sock_filter));
                p += len * sizeof(struct sock_filter);
                r = chain_append(&c, insns, len, flags);
                if (r < 0)
                        return r;
                TAKE_PTR(insns);
        }
        if (p != end)
                return -EBADMSG;
        *ret = c;
        c = (SeccompChain) {};
        return 0;
}

/* Attaches to PID and waits until it is in a ptrace-stop. *RET_SIG: the signal whose delivery
 * the stop interrupted (0 if none), to be handed back on detach so that PID does not lose it. */
static int seize_and_stop(pid_t pid, int *ret_sig) {
        int status;

        for (unsigned tries = 0; ptrace(PTRACE_SEIZE, pid, NULL, NULL) < 0; tries++) {
                if (errno != EPERM)
                        return errno == ESRCH ? -ESRCH : negative_errno();
                if (!is_traced(pid))
                        return -EPERM;
                if (tries >= SEIZE_RETRIES)
                        return -EBUSY;
                usleep(SEIZE_RETRY_USEC);
        }
        if (ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) < 0)
                return negative_errno();
        for (;;) {
                if (waitpid(pid, &status, __WALL) < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (WIFEXITED(status) || WIFSIGNALED(status))
                        return -ESRCH;
                if (WIFSTOPPED(status))
                        break;
        }
        /* No options were set: a stop is our interrupt, a group-stop, or a signal's delivery. */
        *ret_sig = (status >> 16) == PTRACE_EVENT_STOP ? 0 : WSTOPSIG(status);
        return 0;
}

/* Reads the filters of the stopped tracee PID, oldest first: index 0 is the oldest filter
 * (get_nth_filter() in kernel/seccomp.c counts from the start of the chain, whatever ptrace(2)
 * says), and the end of the chain is ENOENT. */
static int read_filters(pid_t pid, SeccompChain *ret) {
        _cleanup_(seccomp_chain_done) SeccompChain c = {};
        size_t total = 0;
        int r;

        for (unsigned long i = 0;; i++) {
                _cleanup_free_ struct sock_filter *insns = NULL;
                struct __ptrace_seccomp_metadata md = { .filter_off = i };
                long n;

                n = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *) i, NULL);
                if (n < 0 && errno == ENOENT && i > 0)
                        break;
                if (n < 0)
                        return negative_errno();
                total += (size_t) n + 4;
                if (n == 0 || n > BPF_MAXINSNS || total > SECCOMP_CHAIN_INSNS_MAX)
                        return -EBADMSG;
                insns = calloc((size_t) n, sizeof(struct sock_filter));
                if (!insns)
                        return -ENOMEM;
                if (ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *) i, insns) != n)
                        return -EBADMSG;
                /* The LOG flag is the only one the kernel remembers; older kernels lack this. */
                if (ptrace(PTRACE_SECCOMP_GET_METADATA, pid, (void *) sizeof(md), &md) < 0)
                        md.flags = 0;
                r = chain_append(&c, insns, (uint32_t) n, (uint32_t) (md.flags & SECCOMP_FILTER_FLAG_LOG));
                if (r < 0)
                        return r;
                TAKE_PTR(insns);
        }
        *ret = c;
        c = (SeccompChain) {};
        return 0;
}

/* The reading child. Whatever happens to it (an error, the alarm, SIGKILL, its parent's death),
 * its exit detaches the tracee and lets it run on: the kernel does that for a dying tracer. */
static _noreturn_ void reader_child(pid_t pid, int fd) {
        _cleanup_(seccomp_chain_done) SeccompChain c = {};
        _cleanup_free_ void *wire = NULL;
        struct sigaction sa = { .sa_handler = SIG_DFL };
        sigset_t mask;
        size_t size = 0;
        int32_t result;
        int r, sig = 0;

        (void) sigaction(SIGALRM, &sa, NULL);
        sigemptyset(&mask);
        sigaddset(&mask, SIGALRM);
        (void) sigprocmask(SIG_UNBLOCK, &mask, NULL);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                _exit(EXIT_FAILURE);
        alarm(SECCOMP_READ_TIMEOUT_SEC);

        r = seize_and_stop(pid, &sig);
        if (r >= 0) {
                r = read_filters(pid, &c);
                /* The stop ends here, before anything slow (the write) happens. */
                if (ptrace(PTRACE_DETACH, pid, NULL, (void *) (long) sig) < 0 && r >= 0)
                        r = negative_errno();
        }
        if (r >= 0)
                r = seccomp_chain_serialize(&c, &wire, &size);
        result = r < 0 ? r : 0;
        if (write_all(fd, &result, sizeof(result)) < 0 || (r >= 0 && write_all(fd, wire, size) < 0))
                _exit(EXIT_FAILURE);
        _exit(EXIT_SUCCESS);
}

/* Runs reader_child() and collects what it sends. */
static int read_in_child(pid_t pid, SeccompChain *ret) {
        _cleanup_close_pair_ int p[2] = { -EBADF, -EBADF };
        _cleanup_free_ char *buf = NULL;
        siginfo_t si = {};
        size_t size = 0;
        int32_t result;
        pid_t child;
        int r;

        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        child = fork();
        if (child < 0)
                return negative_errno();
        if (child == 0) {
                p[0] = safe_close(p[0]);
                reader_child(pid, p[1]);
        }
        p[1] = safe_close(p[1]);
        r = read_fd_full(p[0], WIRE_SIZE_MAX, &buf, &size);
        /* A child blocked on a full pipe now gets EPIPE instead of waiting for its alarm. */
        p[0] = safe_close(p[0]);
        while (waitid(P_PID, (id_t) child, &si, WEXITED) < 0)
                if (errno != EINTR)
                        return negative_errno();
        if (r < 0)
                return r;
        if (si.si_code == CLD_KILLED && si.si_status == SIGALRM)
                return -ETIMEDOUT;
        if (size < sizeof(result))
                return -EPROTO;
        memcpy(&result, buf, sizeof(result));
        if (result < 0)
                return result;
        if (si.si_code != CLD_EXITED || si.si_status != EXIT_SUCCESS)
                return -EPROTO;
        return seccomp_chain_deserialize(buf + sizeof(result), size - sizeof(result), ret);
}

int seccomp_chain_read(pid_t pid, SeccompChain *ret) {
        _cleanup_(seccomp_chain_done) SeccompChain c = {};
        _cleanup_free_ char *status = NULL;
        int r, mode, n_filters;

        r = proc_read_file(pid, "status", &status);
        if (r < 0)
                return r;
        r = seccomp_status_parse(status, &mode, &n_filters);
        if (r < 0)
                return r;
        if (mode == SECCOMP_MODE_DISABLED) {
                *ret = (SeccompChain) {};
                return 0;
        }
        /* Strict mode allows no execve(): nothing could run under it. */
        if (mode == SECCOMP_MODE_STRICT)
                return -EOPNOTSUPP;
        r = read_in_child(pid, &c);
        if (r < 0)
                return r;
        /* Filters are only ever added: fewer than a moment ago means we read something else. */
        if (c.n == 0 || (n_filters >= 0 && c.n < (size_t) n_filters))
                return -EBADMSG;
        *ret = c;
        c = (SeccompChain) {};
        return 0;
}

int seccomp_chain_install(const SeccompChain *c) {
        for (size_t i = 0; i < c->n; i++) {
                struct sock_fprog prog = {
                        .len = (unsigned short) c->programs[i].len,
                        .filter = c->programs[i].insns,
                };

                if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, c->programs[i].flags, &prog) < 0)
                        return negative_errno();
        }
        return 0;
}
