/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of the payload's syscall filter: effects in forked children on every ABI the host has,
 * the program itself through a small BPF interpreter, and the precompiled copy against a fresh build. */

#include <fcntl.h>
#include <glib.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/kcmp.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "caps.h"
#include "macro.h"
#include "seccomp-table.h"
#include "seccomp-filter.h"

#define BIT(c) (UINT64_C(1) << (c))
#define RET_EPERM (SECCOMP_RET_ERRNO | EPERM)
#define RET_ALLOW SECCOMP_RET_ALLOW
#define UNCHANGED LONG_MIN /* expectation: the same answer as without the filter */
#define X32_BIT 0x40000000L

/* ---- A classic BPF interpreter, enough for libseccomp's programs ---- */

static uint32_t bpf_run(const struct sock_filter *f, size_t n, const struct seccomp_data *d) {
        uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};

        for (size_t pc = 0; pc < n; pc++) {
                const struct sock_filter *i = f + pc;
                uint32_t src = BPF_SRC(i->code) == BPF_X ? x : i->k;
                bool t = false;

                switch (BPF_CLASS(i->code)) {
                case BPF_LD:
                        if (i->code == (BPF_LD | BPF_W | BPF_ABS)) {
                                g_assert_cmpuint(i->k % 4, ==, 0);
                                g_assert_cmpuint(i->k + 4, <=, sizeof(*d));
                                memcpy(&a, (const uint8_t *) d + i->k, 4);
                        } else if (i->code == (BPF_LD | BPF_IMM))
                                a = i->k;
                        else if (i->code == (BPF_LD | BPF_MEM))
                                a = mem[i->k % BPF_MEMWORDS];
                        else
                                g_error("unexpected BPF load 0x%x", i->code);
                        break;
                case BPF_LDX:
                        x = BPF_MODE(i->code) == BPF_MEM ? mem[i->k % BPF_MEMWORDS] : i->k;
                        break;
                case BPF_ST:
                        mem[i->k % BPF_MEMWORDS] = a;
                        break;
                case BPF_STX:
                        mem[i->k % BPF_MEMWORDS] = x;
                        break;
                case BPF_ALU:
                        switch (BPF_OP(i->code)) {
                        case BPF_ADD: a += src; break;
                        case BPF_SUB: a -= src; break;
                        case BPF_AND: a &= src; break;
                        case BPF_OR:  a |= src; break;
                        case BPF_XOR: a ^= src; break;
                        case BPF_LSH: a <<= src; break;
                        case BPF_RSH: a >>= src; break;
                        case BPF_NEG: a = -a; break;
                        default: g_error("unexpected BPF ALU op 0x%x", i->code);
                        }
                        break;
                case BPF_JMP:
                        switch (BPF_OP(i->code)) {
                        case BPF_JA:   pc += i->k; continue;
                        case BPF_JEQ:  t = a == src; break;
                        case BPF_JGT:  t = a > src; break;
                        case BPF_JGE:  t = a >= src; break;
                        case BPF_JSET: t = (a & src) != 0; break;
                        default: g_error("unexpected BPF jump 0x%x", i->code);
                        }
                        pc += t ? i->jt : i->jf;
                        break;
                case BPF_RET:
                        return BPF_RVAL(i->code) == BPF_A ? a : i->k;
                case BPF_MISC:
                        if (BPF_MISCOP(i->code) == BPF_TAX)
                                x = a;
                        else
                                a = x;
                        break;
                default:
                        g_error("unexpected BPF class 0x%x", i->code);
                }
        }
        g_error("BPF program ran off its end");
}

typedef struct Abi {
        const char *name;
        uint32_t token;      /* libseccomp's */
        uint32_t audit_arch; /* what the kernel puts in seccomp_data */
} Abi;

static const Abi abis[] = {
#if defined(__x86_64__) && !defined(__ILP32__)
        { "x86-64", SCMP_ARCH_X86_64, AUDIT_ARCH_X86_64 },
        { "i386",   SCMP_ARCH_X86,    AUDIT_ARCH_I386 },
        { "x32",    SCMP_ARCH_X32,    AUDIT_ARCH_X86_64 }, /* told apart by the syscall number */
#else
        { "native", SCMP_ARCH_NATIVE, 0 },
#endif
};

static uint32_t simulate_nr(const struct sock_filter *f, size_t n, const Abi *abi, int nr,
                            uint64_t a0, uint64_t a1, uint64_t a2) {
        struct seccomp_data d = {
                .nr = nr,
                .arch = abi->audit_arch ?: seccomp_arch_native(),
                .args = { a0, a1, a2 },
        };

        return bpf_run(f, n, &d);
}

/* NAME as the ABI's kernel sees it: on i386 socket() and friends may arrive as socketcall(). */
static uint32_t simulate(const struct sock_filter *f, size_t n, const Abi *abi, const char *name,
                         uint64_t a0, uint64_t a1, uint64_t a2) {
        int nr = seccomp_syscall_resolve_name_rewrite(abi->token, name);

        g_assert_cmpint(nr, >=, 0);
        return simulate_nr(f, n, abi, nr, a0, a1, a2);
}

static bool abi_has(const Abi *abi, const char *name) {
        return seccomp_syscall_resolve_name_rewrite(abi->token, name) >= 0;
}

static void assert_verdict(const struct sock_filter *f, size_t n, const Abi *abi, const char *name,
                           uint64_t a0, uint64_t a1, uint64_t a2, uint32_t want) {
        uint32_t got;

        if (!abi_has(abi, name))
                return;
        got = simulate(f, n, abi, name, a0, a1, a2);
        if (got != want)
                g_error("%s on %s: verdict 0x%08x, want 0x%08x", name, abi->name, got, want);
}

/* Every name the default refuses when no guard capability is kept. */
static void for_each_default_denial(void (*fn)(const char *name, void *userdata), void *userdata) {
        for (size_t i = 0; i < seccomp_n_default_denials; i++) {
                const char *name = seccomp_default_denials[i].name;
                const char *const *members = seccomp_group_members(name);

                if (name[0] != '@')
                        fn(name, userdata);
                else
                        for (const char *const *m = members; m && *m; m++)
                                fn(*m, userdata);
        }
}

static const char *const allowed_names[] = {
        "getpid", "read", "write", "openat", "openat2", "mkdir", "mkdirat", "ioctl", "kcmp",
        "name_to_handle_at", "ptrace", "process_vm_readv", "process_vm_writev", "mount",
        "umount2", "unshare", "setns", "clone", "clone3", "reboot", "io_uring_setup", "mlock",
        "pkey_alloc", "modify_ldt", "personality", "seccomp", "capset", "prctl", "fanotify_mark",
        "memfd_create", "pivot_root", "chroot", "sethostname", "setuid", "mknodat", "execve",
};

typedef struct ProgramRef {
        const struct sock_filter *f;
        size_t n;
} ProgramRef;

static void check_denied(const char *name, void *userdata) {
        const ProgramRef *p = userdata;

        for (size_t a = 0; a < ELEMENTSOF(abis); a++)
                assert_verdict(p->f, p->n, abis + a, name, 0, 0, 0, RET_EPERM);
}

static void test_program_semantics(void) {
        ProgramRef p;

        seccomp_default_program(&p.f, &p.n);
        for_each_default_denial(check_denied, &p);

        for (size_t a = 0; a < ELEMENTSOF(abis); a++) {
                const Abi *abi = abis + a;
                struct seccomp_data d = { .arch = abi->audit_arch ?: seccomp_arch_native() };

                for (size_t i = 0; i < ELEMENTSOF(allowed_names); i++)
                        assert_verdict(p.f, p.n, abi, allowed_names[i], 0, 0, 0, RET_ALLOW);

                /* TIOCSTI and TIOCLINUX, also with high bits set (CVE-2019-10063); others pass. */
                assert_verdict(p.f, p.n, abi, "ioctl", 0, TIOCSTI, 0, RET_EPERM);
                assert_verdict(p.f, p.n, abi, "ioctl", 0, (UINT64_C(0x123) << 32) | TIOCSTI, 0, RET_EPERM);
                assert_verdict(p.f, p.n, abi, "ioctl", 0, (UINT64_C(0xffffffff) << 32) | TIOCSTI, 0, RET_EPERM);
                assert_verdict(p.f, p.n, abi, "ioctl", 0, TIOCLINUX, 0, RET_EPERM);
                assert_verdict(p.f, p.n, abi, "ioctl", 0, TCGETS, 0, RET_ALLOW);
                assert_verdict(p.f, p.n, abi, "ioctl", 0, TIOCSTI + 1, 0, RET_ALLOW);

                /* Audit sockets look like a kernel without audit. i386 is left out: its socket()
                 * may come through socketcall(), where the rule cannot look (seccomp-table.c). */
                if (abi->token != SCMP_ARCH_X86) {
                        assert_verdict(p.f, p.n, abi, "socket", AF_NETLINK, SOCK_RAW, NETLINK_AUDIT,
                                       SECCOMP_RET_ERRNO | EAFNOSUPPORT);
                        assert_verdict(p.f, p.n, abi, "socket", AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, RET_ALLOW);
                        assert_verdict(p.f, p.n, abi, "socket", AF_INET, SOCK_STREAM, 0, RET_ALLOW);
                }

                /* Numbers nothing knows reach the kernel, which answers ENOSYS. */
                d.nr = abi->token == SCMP_ARCH_X32 ? (int) (X32_BIT | 1000) : 1000;
                g_assert_cmphex(bpf_run(p.f, p.n, &d), ==, RET_ALLOW);
        }
}

/* The combinations of allow, deny and capabilities, checked on the built programs. */
static void build(char **allow, char **deny, uint64_t caps, ProgramRef *ret, struct sock_filter **buf) {
        Settings s = { .syscall_allow = allow, .syscall_deny = deny };

        g_assert_cmpint(seccomp_build_program(&s, caps, buf, &ret->n, NULL), ==, 0);
        ret->f = *buf;
}

static void test_custom_semantics(void) {
        char *allow_keyctl[] = { (char *) "keyctl", NULL };
        char *allow_keyring[] = { (char *) "@keyring", (char *) "userfaultfd", NULL };
        char *deny_mkdir[] = { (char *) "mkdir", NULL };
        char *deny_clock[] = { (char *) "@clock", NULL };
        char *deny_socket[] = { (char *) "socket", (char *) "ioctl", NULL };
        char *allow_clock[] = { (char *) "@clock", NULL };
        uint64_t caps = caps_default_keep();

        for (size_t a = 0; a < ELEMENTSOF(abis); a++) {
                const Abi *abi = abis + a;
                _cleanup_free_ struct sock_filter *b1 = NULL, *b2 = NULL, *b3 = NULL, *b4 = NULL,
                        *b5 = NULL, *b6 = NULL;
                ProgramRef p;

                build(allow_keyctl, NULL, caps, &p, &b1);
                assert_verdict(p.f, p.n, abi, "keyctl", 0, 0, 0, RET_ALLOW);
                assert_verdict(p.f, p.n, abi, "add_key", 0, 0, 0, RET_EPERM);
                assert_verdict(p.f, p.n, abi, "init_module", 0, 0, 0, RET_EPERM);

                build(allow_keyring, deny_mkdir, caps, &p, &b2);
                assert_verdict(p.f, p.n, abi, "add_key", 0, 0, 0, RET_ALLOW);
                assert_verdict(p.f, p.n, abi, "request_key", 0, 0, 0, RET_ALLOW);
                assert_verdict(p.f, p.n, abi, "userfaultfd", 0, 0, 0, RET_ALLOW);
                assert_verdict(p.f, p.n, abi, "mkdir", 0, 0, 0, RET_EPERM);
                assert_verdict(p.f, p.n, abi, "mkdirat", 0, 0, 0, RET_ALLOW);

                /* A kept capability lifts its group... */
                build(NULL, NULL, caps | BIT(CAP_SYS_TIME) | BIT(CAP_BPF), &p, &b3);
                assert_verdict(p.f, p.n, abi, "clock_settime", 0, 0, 0, RET_ALLOW);
                assert_verdict(p.f, p.n, abi, "stime", 0, 0, 0, RET_ALLOW);
                assert_verdict(p.f, p.n, abi, "bpf", 0, 0, 0, RET_ALLOW);
                assert_verdict(p.f, p.n, abi, "init_module", 0, 0, 0, RET_EPERM);

                /* ...but an explicit deny wins over both the capability and an allow. */
                build(allow_clock, deny_clock, caps | BIT(CAP_SYS_TIME), &p, &b4);
                assert_verdict(p.f, p.n, abi, "clock_settime", 0, 0, 0, RET_EPERM);
                assert_verdict(p.f, p.n, abi, "settimeofday", 0, 0, 0, RET_EPERM);

                /* Denying a syscall whole supersedes its argument rules, on every ABI,
                 * including through i386's socketcall(). */
                build(NULL, deny_socket, caps, &p, &b5);
                assert_verdict(p.f, p.n, abi, "ioctl", 0, TCGETS, 0, RET_EPERM);
                if (abi->token == SCMP_ARCH_X86) {
                        g_assert_cmphex(simulate_nr(p.f, p.n, abi, 359 /* socket */, AF_INET, SOCK_STREAM, 0), ==, RET_EPERM);
                        g_assert_cmphex(simulate_nr(p.f, p.n, abi, 102 /* socketcall */, 1 /* SYS_SOCKET */, 0, 0), ==, RET_EPERM);
                        g_assert_cmphex(simulate_nr(p.f, p.n, abi, 102 /* socketcall */, 3 /* SYS_CONNECT */, 0, 0), ==, RET_ALLOW);
                } else
                        assert_verdict(p.f, p.n, abi, "socket", AF_INET, SOCK_STREAM, 0, RET_EPERM);

                /* The allow list makes default denials pass on request, nothing else. */
                build(allow_clock, NULL, caps, &p, &b6);
                assert_verdict(p.f, p.n, abi, "clock_settime", 0, 0, 0, RET_ALLOW);
                assert_verdict(p.f, p.n, abi, "ioctl", 0, TIOCSTI, 0, RET_EPERM);
        }
}

static void test_bad_names(void) {
        const char *cases[] = { "no_such_syscall", "@nope", "", "@" };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *list[] = { (char *) cases[i], NULL };
                Settings allow = { .syscall_allow = list }, deny = { .syscall_deny = list };
                struct sock_filter *buf = NULL;
                const char *bad = NULL;
                size_t n;

                g_assert_cmpint(seccomp_build_program(&allow, 0, &buf, &n, &bad), ==, -EINVAL);
                g_assert_cmpstr(bad, ==, cases[i]);
                bad = NULL;
                g_assert_cmpint(seccomp_build_program(&deny, 0, &buf, &n, &bad), ==, -EINVAL);
                g_assert_cmpstr(bad, ==, cases[i]);
                g_assert_null(buf);
        }
}

static void check_name_valid(const char *name, void *userdata) {
        if (!seccomp_name_valid(name))
                g_error("libseccomp does not know %s", name);
}

static void test_table(void) {
        size_t n_groups = 0;

        /* Every name in the table is one libseccomp resolves (a typo would be skipped silently). */
        for_each_default_denial(check_name_valid, NULL);
        for (const char *g; (g = seccomp_group_name(n_groups)); n_groups++) {
                g_assert_true(seccomp_name_valid(g));
                for (const char *const *m = seccomp_group_members(g); *m; m++)
                        check_name_valid(*m, NULL);
        }
        g_assert_cmpuint(n_groups, >=, 6);
        for (size_t i = 0; i < seccomp_n_arg_rules; i++)
                check_name_valid(seccomp_arg_rules[i].syscall, NULL);
        for (size_t i = 0; i < seccomp_n_default_denials; i++)
                g_assert_true(seccomp_name_valid(seccomp_default_denials[i].name));

        /* The default capability set must take the precompiled path. */
        g_assert_cmphex(caps_default_keep() & seccomp_guard_capabilities(), ==, 0);
        g_assert_true(seccomp_guard_capabilities() & BIT(CAP_SYS_TIME));
        g_assert_true(seccomp_guard_capabilities() & BIT(CAP_SYS_MODULE));
}

static void test_precompiled_equals_runtime(void) {
        _cleanup_free_ struct sock_filter *built = NULL;
        const struct sock_filter *pre;
        size_t n_pre, n_built;
        Settings s = {};
        char *list[] = { (char *) "keyctl", NULL };
        Settings allow = { .syscall_allow = list }, deny = { .syscall_deny = list };
        uint64_t caps = caps_default_keep();

        seccomp_default_program(&pre, &n_pre);
        g_assert_cmpint(seccomp_build_program(&s, caps, &built, &n_built, NULL), ==, 0);
        g_test_message("default program: %zu instructions", n_pre);
        g_assert_cmpuint(n_built, ==, n_pre);
        g_assert_cmpmem(built, n_built * sizeof(*built), pre, n_pre * sizeof(*pre));

        g_assert_true(seccomp_use_precompiled(&s, caps));
        g_assert_true(seccomp_use_precompiled(&s, caps | BIT(CAP_NET_ADMIN)));
        g_assert_true(seccomp_use_precompiled(&s, caps & ~BIT(CAP_SYS_ADMIN)));
        g_assert_false(seccomp_use_precompiled(&s, caps | BIT(CAP_SYS_TIME)));
        g_assert_false(seccomp_use_precompiled(&allow, caps));
        g_assert_false(seccomp_use_precompiled(&deny, caps));
}

/* ---- Effects in forked children ---- */

#define RAW(expr) ({ long _r = (long) (expr); _r < 0 ? -(long) errno : _r; })

typedef struct Probe {
        const char *name;
        long (*call)(int tty);
        long expect; /* -errno, or UNCHANGED */
} Probe;

static long p_getpid(int tty) { return RAW(syscall(SYS_getpid)); }
static long p_keyctl(int tty) { return RAW(syscall(SYS_keyctl, 0x7fffffff, 0, 0, 0, 0)); }
static long p_add_key(int tty) { return RAW(syscall(SYS_add_key, NULL, NULL, NULL, 0, 0)); }
static long p_request_key(int tty) { return RAW(syscall(SYS_request_key, NULL, NULL, NULL, 0)); }
static long p_init_module(int tty) { return RAW(syscall(SYS_init_module, NULL, 0, "")); }
static long p_finit_module(int tty) { return RAW(syscall(SYS_finit_module, -1, "", 0)); }
static long p_delete_module(int tty) { return RAW(syscall(SYS_delete_module, "berth_no_such_module", O_NONBLOCK)); }
/* Too many segments and a foreign architecture: refused before anything is (un)loaded. */
static long p_kexec_load(int tty) { return RAW(syscall(SYS_kexec_load, 0, 0x7fffffff, NULL, 0x7fff0008UL)); }
static long p_kexec_file_load(int tty) { return RAW(syscall(SYS_kexec_file_load, -1, -1, 0, NULL, 0x80000000UL)); }
static long p_clock_settime(int tty) { return RAW(syscall(SYS_clock_settime, CLOCK_REALTIME, NULL)); }
static long p_settimeofday(int tty) { return RAW(syscall(SYS_settimeofday, (void *) 1, NULL)); }
static long p_adjtimex(int tty) { return RAW(syscall(SYS_adjtimex, NULL)); }
static long p_clock_adjtime(int tty) { return RAW(syscall(SYS_clock_adjtime, CLOCK_REALTIME, NULL)); }
static long p_open_by_handle_at(int tty) { return RAW(syscall(SYS_open_by_handle_at, -1, NULL, 0)); }
static long p_swapon(int tty) { return RAW(syscall(SYS_swapon, NULL, 0)); }
static long p_swapoff(int tty) { return RAW(syscall(SYS_swapoff, NULL)); }
static long p_iopl(int tty) { return RAW(syscall(SYS_iopl, 4)); }
static long p_ioperm(int tty) { return RAW(syscall(SYS_ioperm, 0x10000UL, 1UL, 0)); }
static long p_syslog(int tty) { return RAW(syscall(SYS_syslog, 9999, NULL, 0)); }
static long p_acct(int tty) { return RAW(syscall(SYS_acct, (void *) 1)); }
static long p_bpf(int tty) { return RAW(syscall(SYS_bpf, -1, NULL, 0)); }
static long p_perf_event_open(int tty) { return RAW(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0)); }
static long p_quotactl(int tty) { return RAW(syscall(SYS_quotactl, 0x7fffffff, NULL, 0, NULL)); }
static long p_fanotify_init(int tty) { return RAW(syscall(SYS_fanotify_init, 0xffffffffU, 0)); }
static long p_userfaultfd(int tty) { return RAW(syscall(SYS_userfaultfd, 0xffffffffU)); }
static long p_sysctl(int tty) { return RAW(syscall(SYS__sysctl, NULL)); }
static long p_uselib(int tty) { return RAW(syscall(SYS_uselib, NULL)); }
static long p_tiocsti(int tty) { return tty < 0 ? -EBADF : RAW(syscall(SYS_ioctl, tty, (unsigned long) TIOCSTI, NULL)); }
static long p_tiocsti_high(int tty) { return tty < 0 ? -EBADF : RAW(syscall(SYS_ioctl, tty, (0x123UL << 32) | TIOCSTI, NULL)); }
static long p_tioclinux(int tty) { return tty < 0 ? -EBADF : RAW(syscall(SYS_ioctl, tty, (unsigned long) TIOCLINUX, NULL)); }
static long p_tcgets(int tty) {
        struct termios t;
        return tty < 0 ? -EBADF : RAW(syscall(SYS_ioctl, tty, (unsigned long) TCGETS, &t));
}
static long p_audit_socket(int tty) {
        long fd = RAW(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT));
        if (fd >= 0)
                close(fd);
        return fd >= 0 ? 0 : fd;
}
static long p_mkdir(int tty) { return RAW(syscall(SYS_mkdir, "/proc/berth-no-such-dir/x", 0700)); }
static long p_unknown(int tty) { return RAW(syscall(1000)); }
static long p_kcmp(int tty) {
        pid_t p = getpid();
        return RAW(syscall(SYS_kcmp, p, p, KCMP_FILE, 0, 0));
}
static long p_name_to_handle_at(int tty) {
        struct {
                struct file_handle fh;
                unsigned char buf[128];
        } h = { .fh.handle_bytes = 128 };
        int mount_id;
        return RAW(name_to_handle_at(AT_FDCWD, "/", &h.fh, &mount_id, 0));
}
static long p_pipe(int tty) {
        int p[2];
        char c = 'x', d = 0;
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        long r = RAW(write(p[1], &c, 1));
        if (r == 1)
                r = RAW(read(p[0], &d, 1)) == 1 ? d : -EIO;
        close(p[0]);
        close(p[1]);
        return r;
}

static const Probe default_probes[] = {
        { "getpid",            p_getpid,            UNCHANGED },
        { "pipe-write-read",   p_pipe,              UNCHANGED },
        { "kcmp",              p_kcmp,              UNCHANGED },
        { "name_to_handle_at", p_name_to_handle_at, UNCHANGED },
        { "ioctl-TCGETS",      p_tcgets,            UNCHANGED },
        { "mkdir",             p_mkdir,             UNCHANGED },
        { "syscall-1000",      p_unknown,           UNCHANGED },
        { "keyctl",            p_keyctl,            -EPERM },
        { "add_key",           p_add_key,           -EPERM },
        { "request_key",       p_request_key,       -EPERM },
        { "init_module",       p_init_module,       -EPERM },
        { "finit_module",      p_finit_module,      -EPERM },
        { "delete_module",     p_delete_module,     -EPERM },
        { "kexec_load",        p_kexec_load,        -EPERM },
        { "kexec_file_load",   p_kexec_file_load,   -EPERM },
        { "clock_settime",     p_clock_settime,     -EPERM },
        { "settimeofday",      p_settimeofday,      -EPERM },
        { "adjtimex",          p_adjtimex,          -EPERM },
        { "clock_adjtime",     p_clock_adjtime,     -EPERM },
        { "open_by_handle_at", p_open_by_handle_at, -EPERM },
        { "swapon",            p_swapon,            -EPERM },
        { "swapoff",           p_swapoff,           -EPERM },
        { "iopl",              p_iopl,              -EPERM },
        { "ioperm",            p_ioperm,            -EPERM },
        { "syslog",            p_syslog,            -EPERM },
        { "acct",              p_acct,              -EPERM },
        { "bpf",               p_bpf,               -EPERM },
        { "perf_event_open",   p_perf_event_open,   -EPERM },
        { "quotactl",          p_quotactl,          -EPERM },
        { "fanotify_init",     p_fanotify_init,     -EPERM },
        { "userfaultfd",       p_userfaultfd,       -EPERM },
        { "_sysctl",           p_sysctl,            -EPERM },
        { "uselib",            p_uselib,            -EPERM },
        { "ioctl-TIOCSTI",     p_tiocsti,           -EPERM },
        { "ioctl-TIOCSTI-high-bits", p_tiocsti_high, -EPERM },
        { "ioctl-TIOCLINUX",   p_tioclinux,         -EPERM },
        { "socket-NETLINK_AUDIT", p_audit_socket,   -EAFNOSUPPORT },
};

/* ---- The other ABIs of an x86-64 process ---- */

typedef enum AbiKind { ABI_I386, ABI_X32 } AbiKind;

#if defined(__x86_64__) && !defined(__ILP32__)
static long call_i386(long nr, long a, long b, long c) {
        long ret;

        /* int $0x80 takes i386 numbers and 32-bit arguments; r8-r11 are not preserved. */
        __asm__ volatile("int $0x80"
                         : "=a"(ret)
                         : "a"(nr), "b"(a), "c"(b), "d"(c)
                         : "memory", "r8", "r9", "r10", "r11");
        return ret;
}
#endif

static int abi_nr(AbiKind kind, const char *name) {
        return seccomp_syscall_resolve_name_arch(kind == ABI_I386 ? SCMP_ARCH_X86 : SCMP_ARCH_X32, name);
}

static long call_abi(AbiKind kind, const char *name, long a, long b, long c) {
#if defined(__x86_64__) && !defined(__ILP32__)
        int nr = abi_nr(kind, name);

        if (nr < 0)
                return -ENOSYS;
        if (kind == ABI_I386)
                return call_i386(nr, a, b, c);
        return RAW(syscall(nr, a, b, c)); /* x32 numbers carry the 0x40000000 bit already */
#else
        return -ENOSYS;
#endif
}

typedef struct AbiProbe {
        const char *name;
        long a, b, c; /* -1000: the pty's fd */
        long expect;
} AbiProbe;

#define TTY -1000L

static const AbiProbe abi_probes[] = {
        { "getpid",        0, 0, 0,                       UNCHANGED },
        { "keyctl",        0x7fffffff, 0, 0,              -EPERM },
        { "add_key",       0, 0, 0,                       -EPERM },
        { "init_module",   0, 0, 0,                       -EPERM },
        { "clock_settime", CLOCK_REALTIME, 0, 0,          -EPERM },
        { "stime",         0, 0, 0,                       -EPERM }, /* i386 only */
        { "bpf",           -1, 0, 0,                      -EPERM },
        { "perf_event_open", 0, 0, -1,                    -EPERM },
        { "ioctl",         TTY, TIOCSTI, 0,               -EPERM },
        { "ioctl",         TTY, TCGETS, 0,                UNCHANGED },
};

/* ---- Running probes in children ---- */

static int open_pty(void) {
        int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

        if (fd >= 0 && (grantpt(fd) < 0 || unlockpt(fd) < 0))
                fd = safe_close(fd);
        return fd;
}

/* The filter needs CAP_SYS_ADMIN or no_new_privs; unprivileged runs get the latter. */
static int install(const Settings *s, uint64_t caps) {
        if (geteuid() != 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        return seccomp_apply(s, caps);
}

static int check_one(const char *label, long control, long got, long expect) {
        if (expect == UNCHANGED) {
                if (got == control)
                        return 0;
                fprintf(stderr, "# child: %s: %ld with the filter, %ld without\n", label, got, control);
                return 1;
        }
        if (got == expect && control == expect) {
                fprintf(stderr, "# skip %s: the host already answers %ld without the filter\n", label, control);
                return 0;
        }
        if (got == expect)
                return 0;
        fprintf(stderr, "# child: %s: %ld with the filter (%ld without), want %ld\n", label, got, control, expect);
        return 1;
}

static int child_native(const Settings *s, uint64_t caps, const Probe *probes, size_t n) {
        long control[64];
        int tty = open_pty(), failures = 0;

        g_assert(n <= ELEMENTSOF(control));
        for (size_t i = 0; i < n; i++)
                control[i] = probes[i].call(tty);
        if (install(s, caps) < 0)
                return 100;
        for (size_t i = 0; i < n; i++)
                failures += check_one(probes[i].name, control[i], probes[i].call(tty), probes[i].expect);
        return failures;
}

static int child_abi(AbiKind kind, const Settings *s, uint64_t caps, const AbiProbe *probes, size_t n) {
        long control[64];
        int tty = open_pty(), failures = 0;

#define ARG(v) ((v) == TTY ? (long) tty : (v))
        for (size_t i = 0; i < n; i++)
                control[i] = call_abi(kind, probes[i].name, ARG(probes[i].a), ARG(probes[i].b), ARG(probes[i].c));
        if (install(s, caps) < 0)
                return 100;
        for (size_t i = 0; i < n; i++) {
                if (abi_nr(kind, probes[i].name) < 0) {
                        fprintf(stderr, "# skip %s: not a syscall of this ABI\n", probes[i].name);
                        continue;
                }
                failures += check_one(probes[i].name, control[i],
                                      call_abi(kind, probes[i].name, ARG(probes[i].a), ARG(probes[i].b), ARG(probes[i].c)),
                                      probes[i].expect);
        }
#undef ARG
        return failures;
}

static int wait_child(pid_t pid) {
        int status;

        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        if (WIFSIGNALED(status))
                return -WTERMSIG(status);
        g_assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

static void run_native(const Settings *s, uint64_t caps, const Probe *probes, size_t n) {
        pid_t pid = fork();

        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                int failures = child_native(s, caps, probes, n);
                _exit(MIN(failures, 127));
        }
        g_assert_cmpint(wait_child(pid), ==, 0);
}

/* Whether the host kernel runs this ABI at all: a harmless getpid through it must work. */
static bool abi_available(AbiKind kind) {
        pid_t pid = fork();

        g_assert_cmpint(pid, >=, 0);
        if (pid == 0)
                _exit(call_abi(kind, "getpid", 0, 0, 0) == getpid() ? 0 : 1);
        return wait_child(pid) == 0;
}

static void run_abi(AbiKind kind, const Settings *s, uint64_t caps, const AbiProbe *probes, size_t n) {
        pid_t pid;

        if (!abi_available(kind)) {
                g_test_skip(kind == ABI_I386 ?
                            "the kernel does not run i386 syscalls (no IA32 emulation)" :
                            "the kernel does not run x32 syscalls (CONFIG_X86_X32_ABI off); "
                            "/seccomp/program-semantics checks the x32 part of the program instead");
                return;
        }
        pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                int failures = child_abi(kind, s, caps, probes, n);
                _exit(MIN(failures, 127));
        }
        g_assert_cmpint(wait_child(pid), ==, 0);
}

static void test_default_effects(void) {
        Settings s = {};

        run_native(&s, caps_default_keep(), default_probes, ELEMENTSOF(default_probes));
}

static void test_default_i386(void) {
        Settings s = {};

        run_abi(ABI_I386, &s, caps_default_keep(), abi_probes, ELEMENTSOF(abi_probes));
}

static void test_default_x32(void) {
        Settings s = {};

        run_abi(ABI_X32, &s, caps_default_keep(), abi_probes, ELEMENTSOF(abi_probes));
}

static void test_custom_allow(void) {
        char *allow[] = { (char *) "keyctl", NULL };
        Settings s = { .syscall_allow = allow };
        const Probe probes[] = {
                { "keyctl",        p_keyctl,        UNCHANGED },
                { "add_key",       p_add_key,       -EPERM },
                { "init_module",   p_init_module,   -EPERM },
                { "clock_settime", p_clock_settime, -EPERM },
                { "ioctl-TIOCSTI-high-bits", p_tiocsti_high, -EPERM },
                { "getpid",        p_getpid,        UNCHANGED },
        };

        run_native(&s, caps_default_keep(), probes, ELEMENTSOF(probes));
}

static void test_custom_deny(void) {
        char *deny[] = { (char *) "mkdir", NULL };
        Settings s = { .syscall_deny = deny };
        const Probe probes[] = {
                { "mkdir",   p_mkdir,   -EPERM },
                { "keyctl",  p_keyctl,  -EPERM },
                { "getpid",  p_getpid,  UNCHANGED },
                { "pipe",    p_pipe,    UNCHANGED },
        };

        run_native(&s, caps_default_keep(), probes, ELEMENTSOF(probes));
}

static void test_kept_capability(void) {
        Settings s = {};
        const Probe probes[] = {
                { "clock_settime", p_clock_settime, UNCHANGED },
                { "adjtimex",      p_adjtimex,      UNCHANGED },
                { "keyctl",        p_keyctl,        -EPERM },
                { "init_module",   p_init_module,   -EPERM },
        };

        run_native(&s, caps_default_keep() | BIT(CAP_SYS_TIME), probes, ELEMENTSOF(probes));
}

/* ---- How long seccomp_apply() takes ---- */

static double apply_time_us(const Settings *s, uint64_t caps) {
        int p[2];
        double us = -1;
        pid_t pid;

        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                struct timespec a, b;
                double t;

                if (geteuid() != 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                        _exit(1);
                clock_gettime(CLOCK_MONOTONIC, &a);
                if (seccomp_apply(s, caps) < 0)
                        _exit(1);
                clock_gettime(CLOCK_MONOTONIC, &b);
                t = (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
                _exit(write(p[1], &t, sizeof(t)) == sizeof(t) ? 0 : 1);
        }
        close(p[1]);
        g_assert_cmpint(read(p[0], &us, sizeof(us)), ==, sizeof(us));
        close(p[0]);
        g_assert_cmpint(wait_child(pid), ==, 0);
        return us;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

static double median_apply_time_us(const Settings *s, uint64_t caps) {
        double t[9];

        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                t[i] = apply_time_us(s, caps);
        qsort(t, ELEMENTSOF(t), sizeof(t[0]), cmp_double);
        return t[ELEMENTSOF(t) / 2];
}

static void test_apply_time(void) {
        char *allow[] = { (char *) "keyctl", NULL };
        Settings def = {}, custom = { .syscall_allow = allow };
        double pre = median_apply_time_us(&def, caps_default_keep());
        double built = median_apply_time_us(&custom, caps_default_keep());

        g_test_message("seccomp_apply: precompiled default %.1f us, custom (built with libseccomp) %.1f us "
                       "(medians of 9)", pre, built);
        /* Generous bound: the point is that no filter is compiled at start. */
        g_assert_cmpfloat(pre, <, 5000);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/seccomp/table", test_table);
        g_test_add_func("/seccomp/precompiled-equals-runtime", test_precompiled_equals_runtime);
        g_test_add_func("/seccomp/program-semantics", test_program_semantics);
        g_test_add_func("/seccomp/custom-semantics", test_custom_semantics);
        g_test_add_func("/seccomp/bad-names", test_bad_names);
        g_test_add_func("/seccomp/default-effects", test_default_effects);
        g_test_add_func("/seccomp/default-i386", test_default_i386);
        g_test_add_func("/seccomp/default-x32", test_default_x32);
        g_test_add_func("/seccomp/custom-allow", test_custom_allow);
        g_test_add_func("/seccomp/custom-deny", test_custom_deny);
        g_test_add_func("/seccomp/kept-capability", test_kept_capability);
        g_test_add_func("/seccomp/apply-time", test_apply_time);

        return g_test_run();
}
