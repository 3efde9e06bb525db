/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth-init: the PID 1 of command-mode containers, a freestanding static program of a few KB.
 *
 * berth-spawn runs it from a sealed memfd copy embedded in its own binary, so that /proc/1/exe
 * inside the container never leads to a file of the host (the CVE-2019-5736 class: a container
 * that can open the runtime's binary for writing can replace it for the next start). It has no
 * libc and no dynamic loader, because after pivot_root the only loader around would be the
 * container's own.
 *
 * argv[1] is the PID of the command. Every signal arrives blocked (set by berth-spawn before the
 * exec): SIGCHLD reaps, everything else is forwarded to the command, and when the command exits
 * we exit with its status (128+signal when a signal killed it). */
#include <asm/unistd.h>
#include <linux/prctl.h>
#include <linux/signal.h>
#include <linux/wait.h>

#if defined(__x86_64__)
static long sys6(long n, long a, long b, long c, long d, long e, long f) {
        long r;
        register long r10 __asm__("r10") = d;
        register long r8 __asm__("r8") = e;
        register long r9 __asm__("r9") = f;
        __asm__ volatile("syscall"
                         : "=a"(r)
                         : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                         : "rcx", "r11", "memory");
        return r;
}
__asm__(".global _start\n"
        "_start:\n"
        "  mov %rsp, %rdi\n"
        "  and $-16, %rsp\n"
        "  call stub_main\n"
        "  hlt\n");
#elif defined(__aarch64__)
static long sys6(long n, long a, long b, long c, long d, long e, long f) {
        register long x8 __asm__("x8") = n;
        register long x0 __asm__("x0") = a;
        register long x1 __asm__("x1") = b;
        register long x2 __asm__("x2") = c;
        register long x3 __asm__("x3") = d;
        register long x4 __asm__("x4") = e;
        register long x5 __asm__("x5") = f;
        __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
        return x0;
}
__asm__(".global _start\n"
        "_start:\n"
        "  mov x0, sp\n"
        "  bl stub_main\n");
#else
#  error "berth-init has no system call glue for this architecture yet"
#endif

#define sys(n, a, b, c, d) sys6((n), (long) (a), (long) (b), (long) (c), (long) (d), 0, 0)

/* siginfo_t's layout up to the fields we read (si_signo, si_errno, si_code, then the union). */
struct stub_siginfo {
        int signo, err, code, pad;
        int pid, uid, status;
        char rest[128 - 28];
};

__attribute__((noreturn)) static void stub_exit(int status) {
        for (;;)
                sys(__NR_exit_group, status, 0, 0, 0);
}

static long parse_pid(const char *s) {
        long v = 0;

        if (!s || !*s)
                return -1;
        for (; *s; s++) {
                if (*s < '0' || *s > '9' || v > 0x3fffffff)
                        return -1;
                v = v * 10 + (*s - '0');
        }
        return v;
}

__attribute__((noreturn, used)) void stub_main(long *sp);
__attribute__((noreturn, used)) void stub_main(long *sp) {
        char **argv = (char **) (sp + 1);
        long child = sp[0] >= 2 ? parse_pid(argv[1]) : -1;
        unsigned long all = ~0UL;

        if (child <= 0)
                stub_exit(127);
        sys(__NR_prctl, PR_SET_NAME, "berth-init", 0, 0);
        for (;;) {
                struct stub_siginfo si;
                long sig = sys(__NR_rt_sigtimedwait, &all, &si, 0, 8);

                if (sig < 0)
                        continue;
                if (sig != SIGCHLD) {
                        sys(__NR_kill, child, sig, 0, 0);
                        continue;
                }
                for (;;) {
                        int status = 0;
                        long p = sys(__NR_wait4, -1, &status, WNOHANG, 0);

                        if (p <= 0)
                                break;
                        if (p != child)
                                continue;
                        if ((status & 0x7f) == 0)
                                stub_exit((status >> 8) & 0xff);
                        stub_exit(128 + (status & 0x7f));
                }
        }
}
