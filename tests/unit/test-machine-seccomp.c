/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for copying seccomp filters: status parsing, the wire format, reading a live
 * process's chain with ptrace (which must leave it running and untraced), and installing it. */
#include <glib.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "machine-seccomp.h"
#include "resolve.h"

/* A filter that fails one syscall with ERR, lets everything else through. */
#define DENY_ONE(sysnr, err) {                                                                \
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),             \
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (sysnr), 0, 1),                                   \
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err)),                              \
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),                                      \
}

static struct sock_filter deny_add_key[] = DENY_ONE(__NR_add_key, EPERM);
static struct sock_filter deny_request_key[] = DENY_ONE(__NR_request_key, EACCES);

static void test_status_parse(void) {
        int mode, n;

        g_assert_cmpint(seccomp_status_parse("Name:\tx\nSeccomp:\t2\nSeccomp_filters:\t3\nX:\t1\n", &mode, &n), ==, 0);
        g_assert_cmpint(mode, ==, 2);
        g_assert_cmpint(n, ==, 3);
        g_assert_cmpint(seccomp_status_parse("Name:\tx\nSeccomp:\t0\n", &mode, &n), ==, 0);
        g_assert_cmpint(mode, ==, 0);
        g_assert_cmpint(n, ==, -1);
        g_assert_cmpint(seccomp_status_parse("Name:\tx\n", &mode, &n), ==, -EBADMSG);
        g_assert_cmpint(seccomp_status_parse("Name:\tx\nSeccomp:\t7\n", &mode, &n), ==, -EBADMSG);
        g_assert_cmpint(seccomp_status_parse("Name:\tx\nSeccomp:\t2\nSeccomp_filters:\tx\n", &mode, &n), ==, -EBADMSG);
}

static void test_wire(void) {
        SeccompProgram p[2] = {
                { .insns = deny_add_key, .len = G_N_ELEMENTS(deny_add_key), .flags = 0 },
                { .insns = deny_request_key, .len = G_N_ELEMENTS(deny_request_key), .flags = SECCOMP_FILTER_FLAG_LOG },
        };
        SeccompChain c = { .programs = p, .n = 2 }, d = {};
        g_autofree void *wire = NULL;
        size_t size = 0;

        g_assert_cmpint(seccomp_chain_serialize(&c, &wire, &size), ==, 0);
        g_assert_cmpint(seccomp_chain_deserialize(wire, size, &d), ==, 0);
        g_assert_cmpuint(d.n, ==, 2);
        for (size_t i = 0; i < 2; i++) {
                g_assert_cmpuint(d.programs[i].len, ==, p[i].len);
                g_assert_cmpuint(d.programs[i].flags, ==, p[i].flags);
                g_assert_cmpmem(d.programs[i].insns, d.programs[i].len * sizeof(struct sock_filter),
                                p[i].insns, p[i].len * sizeof(struct sock_filter));
        }
        seccomp_chain_done(&d);
        /* Truncated, with trailing garbage, and an empty program: all refused. */
        for (size_t cut = 0; cut < size; cut++)
                g_assert_cmpint(seccomp_chain_deserialize(wire, cut, &d), ==, -EBADMSG);
        {
                g_autofree uint8_t *longer = g_malloc0(size + 1);

                memcpy(longer, wire, size);
                g_assert_cmpint(seccomp_chain_deserialize(longer, size + 1, &d), ==, -EBADMSG);
        }
        {
                uint32_t empty[3] = { 1, 0, 0 };

                g_assert_cmpint(seccomp_chain_deserialize(empty, sizeof(empty), &d), ==, -EBADMSG);
        }
}

static int install(const struct sock_filter *f, size_t n, unsigned flags) {
        struct sock_fprog prog = { .len = (unsigned short) n, .filter = (struct sock_filter *) f };

        return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) < 0 ? -errno : 0;
}

/* A child that installs FILTERS (0, 1 or 2 of ours) and then waits to be killed; its readiness
 * is a byte on a pipe. */
static pid_t filtered_child(unsigned filters) {
        int p[2];
        pid_t pid;
        char c;

        g_assert_cmpint(pipe(p), ==, 0);
        pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                close(p[0]);
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                        _exit(1);
                if (filters >= 1 && install(deny_add_key, G_N_ELEMENTS(deny_add_key), 0) < 0)
                        _exit(1);
                if (filters >= 2 && install(deny_request_key, G_N_ELEMENTS(deny_request_key), SECCOMP_FILTER_FLAG_LOG) < 0)
                        _exit(1);
                (void) !write(p[1], "x", 1);
                for (;;)
                        pause();
        }
        close(p[1]);
        g_assert_cmpint(read(p[0], &c, 1), ==, 1);
        close(p[0]);
        return pid;
}

static void reap(pid_t pid) {
        kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
}

/* Running, not stopped, not traced. */
static void assert_untouched(pid_t pid) {
        g_autofree char *status = NULL, *path = g_strdup_printf("/proc/%i/status", (int) pid);
        const char *l;

        g_assert_true(g_file_get_contents(path, &status, NULL, NULL));
        l = strstr(status, "\nState:\t");
        g_assert_nonnull(l);
        g_assert_true(l[8] == 'S' || l[8] == 'R');
        g_assert_nonnull(strstr(status, "\nTracerPid:\t0\n"));
}

static bool can_read_filters(void) {
        if (geteuid() != 0) {
                g_test_skip("reading filters needs CAP_SYS_ADMIN (run as root)");
                return false;
        }
        return true;
}

static void test_read_and_install(void) {
        SeccompChain c = {};
        pid_t pid, inst;
        int status;

        if (!can_read_filters())
                return;
        pid = filtered_child(2);
        g_assert_cmpint(seccomp_chain_read(pid, &c), ==, 0);
        assert_untouched(pid);
        /* Oldest first, exactly as installed, with the LOG flag remembered. */
        g_assert_cmpuint(c.n, ==, 2);
        g_assert_cmpmem(c.programs[0].insns, c.programs[0].len * sizeof(struct sock_filter),
                        deny_add_key, sizeof(deny_add_key));
        g_assert_cmpmem(c.programs[1].insns, c.programs[1].len * sizeof(struct sock_filter),
                        deny_request_key, sizeof(deny_request_key));
        g_assert_cmpuint(c.programs[0].flags, ==, 0);
        g_assert_cmpuint(c.programs[1].flags, ==, SECCOMP_FILTER_FLAG_LOG);
        reap(pid);

        /* The copy behaves like the original; invalid pointers: EFAULT when not filtered. */
        inst = fork();
        g_assert_cmpint(inst, >=, 0);
        if (inst == 0) {
                g_autofree char *st = NULL;
                int mode, n;

                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_chain_install(&c) < 0)
                        _exit(10);
                if (syscall(SYS_add_key, "user", "x", (void *) 1, 1UL, 0) >= 0 || errno != EPERM)
                        _exit(11);
                if (syscall(SYS_request_key, "user", (void *) 1, NULL, 0) >= 0 || errno != EACCES)
                        _exit(12);
                if (syscall(SYS_keyctl, 0x7fff, 0) >= 0 || errno == EPERM || errno == EACCES)
                        _exit(13);
                if (!g_file_get_contents("/proc/self/status", &st, NULL, NULL) ||
                    seccomp_status_parse(st, &mode, &n) < 0 || mode != 2 || (n != -1 && n != 2))
                        _exit(14);
                _exit(0);
        }
        g_assert_cmpint(waitpid(inst, &status, 0), ==, inst);
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 0);
        seccomp_chain_done(&c);
}

static void test_read_unfiltered_and_gone(void) {
        SeccompChain c = {};
        pid_t pid;

        if (!can_read_filters())
                return;
        pid = filtered_child(0);
        g_assert_cmpint(seccomp_chain_read(pid, &c), ==, 0);
        g_assert_cmpuint(c.n, ==, 0);
        assert_untouched(pid);
        reap(pid);
        g_assert_cmpint(seccomp_chain_read(pid, &c), ==, -ESRCH);
}

static void test_read_traced(void) {
        SeccompChain c = {};
        pid_t pid;

        if (!can_read_filters())
                return;
        /* Someone else (we) traces it: the read gives up instead of waiting forever, and the
         * process is not stopped by the attempt. */
        pid = filtered_child(1);
        g_assert_cmpint(ptrace(PTRACE_SEIZE, pid, NULL, NULL), ==, 0);
        g_assert_cmpint(seccomp_chain_read(pid, &c), ==, -EBUSY);
        g_assert_cmpuint(c.n, ==, 0);
        reap(pid);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/machine-seccomp/status-parse", test_status_parse);
        g_test_add_func("/machine-seccomp/wire", test_wire);
        g_test_add_func("/machine-seccomp/read-and-install", test_read_and_install);
        g_test_add_func("/machine-seccomp/read-unfiltered-and-gone", test_read_unfiltered_and_gone);
        g_test_add_func("/machine-seccomp/read-traced", test_read_traced);
        return g_test_run();
}
