/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth-init: the PID 1 of command-mode containers, a freestanding static program of a few KB.
 *
 * berth-spawn runs it from a sealed memfd copy embedded in its own binary, so that /proc/1/exe
 * inside the container never leads to a file of the host (the CVE-2019-5736 class: a container
 * that can open the runtime's binary for writing can replace it for the next start). It has no
 * libc and no dynamic loader, because after pivot_root the only loader around would be the
 * container's own.
 *
 * berth-init starts the command itself: berth-spawn has looked everything up already and passes
 *   berth-init UID GID GROUPS DIR PATH ARGV0 [ARGS...]
 * (GROUPS comma-separated or "-", DIR the working directory, PATH the command's resolved path)
 * with the command's environment as ours. Starting it here, not in berth-spawn, means no
 * process of the container ever runs while berth-spawn's host binary is its PID 1, and costs
 * the fork of an 8 KB program instead of berth-spawn's.
 *
 * Every signal arrives blocked (set by berth-spawn before the exec): SIGCHLD reaps, everything
 * else is forwarded to the command, and when the command exits we exit with its status
 * (128+signal when a signal killed it). */
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

static long parse_number(const char *s, const char **end) {
        long v = 0;

        if (!s || *s < '0' || *s > '9')
                return -1;
        for (; *s >= '0' && *s <= '9'; s++) {
                if (v > 0x7fffffffL / 10)
                        return -1;
                v = v * 10 + (*s - '0');
        }
        if (end)
                *end = s;
        else if (*s)
                return -1;
        return v;
}

static unsigned long length(const char *s) {
        unsigned long n = 0;

        while (s[n])
                n++;
        return n;
}

static void say(const char *a, const char *b, long err) {
        char num[24];
        int i = sizeof(num);

        do
                num[--i] = (char) ('0' + err % 10);
        while ((err /= 10) > 0 && i > 0);
        sys(__NR_write, 2, a, length(a), 0);
        sys(__NR_write, 2, b, length(b), 0);
        sys(__NR_write, 2, " (errno ", 8, 0);
        sys(__NR_write, 2, num + i, sizeof(num) - (unsigned) i, 0);
        sys(__NR_write, 2, ")\n", 2, 0);
}

#define GROUPS_MAX 256

/* In the forked child: become the user, enter the directory, run the command. */
__attribute__((noreturn)) static void run_command(char **argv, char **envp) {
        unsigned groups[GROUPS_MAX];
        unsigned long none = 0;
        long uid = parse_number(argv[1], 0), gid = parse_number(argv[2], 0), n = 0, r;
        const char *p = argv[3];

        if (uid < 0 || gid < 0)
                stub_exit(127);
        if (p[0] != '-')
                for (;;) {
                        long g = parse_number(p, &p);

                        if (g < 0 || n >= GROUPS_MAX)
                                stub_exit(127);
                        groups[n++] = (unsigned) g;
                        if (*p != ',')
                                break;
                        p++;
                }
        sys(__NR_rt_sigprocmask, SIG_SETMASK, &none, 0, 8);
        r = sys(__NR_setgroups, n, groups, 0, 0);
        if (r >= 0)
                r = sys(__NR_setresgid, gid, gid, gid, 0);
        if (r >= 0)
                r = sys(__NR_setresuid, uid, uid, uid, 0);
        if (r < 0) {
                say("berth-init: failed to switch to the user", "", -r);
                stub_exit(126);
        }
        r = sys(__NR_chdir, argv[4], 0, 0, 0);
        if (r < 0) {
                say("berth-init: failed to change directory to ", argv[4], -r);
                stub_exit(126);
        }
        r = sys(__NR_execve, argv[5], argv + 6, envp, 0);
        say("berth-init: failed to execute ", argv[5], -r);
        stub_exit(r == -2 ? 127 : 126); /* ENOENT */
}

__attribute__((noreturn, used)) void stub_main(long *sp);
__attribute__((noreturn, used)) void stub_main(long *sp) {
        long argc = sp[0];
        char **argv = (char **) (sp + 1), **envp = argv + argc + 1;
        unsigned long all = ~0UL;
        long child;

        if (argc < 7)
                stub_exit(127);
        sys(__NR_prctl, PR_SET_NAME, "berth-init", 0, 0);
        /* A plain fork: clone with only the exit signal, on both architectures. */
        child = sys6(__NR_clone, SIGCHLD, 0, 0, 0, 0, 0);
        if (child == 0)
                run_command(argv, envp);
        if (child < 0) {
                say("berth-init: failed to fork", "", -child);
                stub_exit(126);
        }
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
