/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The payload's syscall deny list and the one builder that turns it into a filter, used by the
 * build-time generator (seccomp-gen.c) and at run time (seccomp.c), so the two cannot disagree. */

#include <errno.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "macro.h"
#include "seccomp-table.h"

/*
 * Why a deny list (default: allow) and not nspawn's allow list: an allow list has to know every
 * syscall a payload may ever need, and a new kernel or glibc (clone3, openat2, futex_waitv, …)
 * then breaks payloads until the list catches up. berth refuses the calls that reach host-global
 * state no namespace covers (keyrings, the clock, modules, kexec, swap, raw I/O, bpf, perf, the
 * kernel log, quotas, file handles) and lets the kernel's own checks govern the rest. Unknown
 * numbers (not denied) reach the kernel and get ENOSYS, so glibc's fallbacks keep working.
 *
 * Decisions the issue asked to be written down:
 *
 * keyctl, add_key, request_key (@keyring): DENIED. Keyrings are not namespaced: without a user
 *   namespace container root owns the host root's user keyring (uid 0 is uid 0), and
 *   /proc/keys masking hides nothing from keyctl (probe A25). systemd tolerates it: execute.c
 *   setup_keyring() treats EPERM/EACCES from KEYCTL_JOIN_SESSION_KEYRING as "access prohibited,
 *   ignoring", and nspawn refuses @keyring too, so systemd 252 is known to boot this way.
 *
 * kcmp: ALLOWED. systemd's same_fd() uses kcmp(KCMP_FILE) and falls back to fstat() on EPERM,
 *   so denying it only degrades systemd; kcmp needs PTRACE_MODE_READ on both tasks, which
 *   inside a PID namespace reaches only the container's own processes. nspawn allows it.
 *
 * fanotify_init: DENIED. With CAP_SYS_ADMIN (kept without a user namespace) it can mark a whole
 *   filesystem (FAN_MARK_FILESYSTEM/MOUNT): the tree usually sits on a host filesystem, so the
 *   container would watch, and with permission events stall, host processes. Neither systemd
 *   252 nor busybox needs it; nspawn refuses it too. fanotify_mark is useless without an
 *   fanotify fd, so it is left alone.
 *
 * userfaultfd: DENIED (nspawn allows it). Its only common users are live migration (QEMU
 *   postcopy, CRIU lazy pages); glibc and systemd never call it. It is a favourite exploit aid
 *   for widening kernel race windows, and the payload keeps CAP_SYS_PTRACE, which lifts the
 *   vm.unprivileged_userfaultfd=0 restriction to user-mode faults. --system-call-filter=
 *   userfaultfd gives it back to those who need it (probe A28).
 *
 * name_to_handle_at: ALLOWED. systemd uses it everywhere to read mount IDs (mount-point
 *   detection); a handle is harmless without open_by_handle_at, which is DENIED (shocker, A29)
 *   on top of CAP_DAC_READ_SEARCH being dropped.
 *
 * process_vm_readv/writev, ptrace: ALLOWED. They are ptrace-equivalent and the kernel's ptrace
 *   access checks already confine them to the container's PID namespace.
 *
 * kexec_load, kexec_file_load: DENIED always, even though CAP_SYS_BOOT is kept: in a PID
 *   namespace reboot() only ends the container, but kexec would replace the host's kernel.
 *
 * Capability-guarded denials mirror nspawn: @clock (CAP_SYS_TIME), @module (CAP_SYS_MODULE),
 *   @raw-io (CAP_SYS_RAWIO), syslog (CAP_SYSLOG), acct (CAP_SYS_PACCT), bpf (CAP_BPF),
 *   perf_event_open (CAP_PERFMON). bpf and perf_event_open are refused even though the kernel
 *   would accept them with CAP_SYS_ADMIN alone, which the payload keeps. mlock is not guarded
 *   (nspawn guards @memlock with CAP_IPC_LOCK): without that capability the kernel already
 *   caps locked memory at RLIMIT_MEMLOCK, and gpg-agent, cryptsetup and friends need mlock.
 *
 * Not denied although nspawn's allow list leaves them out: @pkey (per-process state only) and
 *   modify_ldt (wine, dosemu; per-process). vm86/vm86old and @obsolete are denied: nothing
 *   current uses them and obsolete entry points are where forgotten bugs live.
 *
 * ioctl(TIOCSTI) and ioctl(TIOCLINUX): DENIED. TIOCSTI pushes input into a terminal the payload
 *   shares (CVE-2017-5226); TIOCLINUX pastes selections on a VT. The kernel reads the request
 *   as 32 bits, so the rule compares only the low 32 bits: an equality test on the full 64-bit
 *   register is bypassed by setting high bits (bubblewrap, CVE-2019-10063).
 *
 * socket(AF_NETLINK, *, NETLINK_AUDIT): EAFNOSUPPORT, as nspawn does. Audit is not namespaced:
 *   the payload's login tools would write into the host's audit log, and audit control fails
 *   with EPERM in a PID namespace, which some PAM setups turn into refused logins. EAFNOSUPPORT
 *   is how libaudit learns "no audit in this kernel" and carries on. On i386, socket() may arrive
 *   through socketcall(), whose arguments sit in memory a filter cannot read; the rule applies
 *   to the direct socket() there and socketcall() callers get the kernel's own answer.
 */

#define GROUP(...) ((const char *const[]) { __VA_ARGS__, NULL })

typedef struct SeccompGroup {
        const char *name;
        const char *const *members;
} SeccompGroup;

/* Same names and (mostly) members as systemd's sets, so --system-call-filter reads the same in
 * both; stime sits in @clock (it sets the clock) rather than in @obsolete. */
static const SeccompGroup groups[] = {
        { "@clock", GROUP("adjtimex", "clock_adjtime", "clock_adjtime64", "clock_settime",
                          "clock_settime64", "settimeofday", "stime") },
        { "@cpu-emulation", GROUP("modify_ldt", "subpage_prot", "switch_endian", "vm86", "vm86old") },
        { "@debug", GROUP("lookup_dcookie", "perf_event_open", "pidfd_getfd", "ptrace", "rtas",
                          "s390_runtime_instr", "sys_debug_setcontext") },
        { "@keyring", GROUP("add_key", "keyctl", "request_key") },
        { "@memlock", GROUP("mlock", "mlock2", "mlockall", "munlock", "munlockall") },
        { "@module", GROUP("delete_module", "finit_module", "init_module") },
        { "@obsolete", GROUP("_sysctl", "afs_syscall", "bdflush", "break", "create_module", "ftime",
                             "get_kernel_syms", "getpmsg", "gtty", "idle", "lock", "mpx", "prof",
                             "profil", "putpmsg", "query_module", "security", "sgetmask",
                             "ssetmask", "stty", "sysfs", "tuxcall", "ulimit", "uselib", "ustat",
                             "vserver") },
        { "@pkey", GROUP("pkey_alloc", "pkey_free", "pkey_mprotect") },
        { "@raw-io", GROUP("ioperm", "iopl", "pciconfig_iobase", "pciconfig_read",
                           "pciconfig_write", "s390_pci_mmio_read", "s390_pci_mmio_write") },
        { "@reboot", GROUP("kexec_file_load", "kexec_load", "reboot") },
        { "@swap", GROUP("swapoff", "swapon") },
};

const SeccompDenial seccomp_default_denials[] = {
        { "@clock",            CAP_SYS_TIME },
        { "@module",           CAP_SYS_MODULE },
        { "@raw-io",           CAP_SYS_RAWIO },
        { "syslog",            CAP_SYSLOG },
        { "acct",              CAP_SYS_PACCT },
        { "bpf",               CAP_BPF },        /* bpffs and maps are not namespaced */
        { "perf_event_open",   CAP_PERFMON },    /* observes the host's CPUs and kernel */
        { "@keyring",          -1 },
        { "@swap",             -1 },
        { "@obsolete",         -1 },
        { "kexec_load",        -1 },
        { "kexec_file_load",   -1 },
        { "open_by_handle_at", -1 },
        { "fanotify_init",     -1 },
        { "userfaultfd",       -1 },
        { "quotactl",          -1 },             /* quotas of the host's filesystem */
        { "quotactl_fd",       -1 },
        { "lookup_dcookie",    -1 },             /* oprofile's hook, dropped by new kernels */
        { "nfsservctl",        -1 },
        { "vm86",              -1 },
        { "vm86old",           -1 },
};
const size_t seccomp_n_default_denials = ELEMENTSOF(seccomp_default_denials);

const SeccompArgRule seccomp_arg_rules[] = {
        {
                .syscall = "ioctl", .error = EPERM, .n_cmp = 1,
                .cmp = { { .arg = 1, .op = SCMP_CMP_MASKED_EQ, .datum_a = 0xffffffffU, .datum_b = TIOCSTI } },
        }, {
                .syscall = "ioctl", .error = EPERM, .n_cmp = 1,
                .cmp = { { .arg = 1, .op = SCMP_CMP_MASKED_EQ, .datum_a = 0xffffffffU, .datum_b = TIOCLINUX } },
        }, {
                .syscall = "socket", .error = EAFNOSUPPORT, .n_cmp = 2,
                .cmp = { { .arg = 0, .op = SCMP_CMP_EQ, .datum_a = AF_NETLINK },
                         { .arg = 2, .op = SCMP_CMP_EQ, .datum_a = NETLINK_AUDIT } },
                .best_effort = true,
        },
};
const size_t seccomp_n_arg_rules = ELEMENTSOF(seccomp_arg_rules);

const char *const *seccomp_group_members(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(groups); i++)
                if (streq(groups[i].name, name))
                        return groups[i].members;
        return NULL;
}

const char *seccomp_group_name(size_t i) {
        return i < ELEMENTSOF(groups) ? groups[i].name : NULL;
}

bool seccomp_name_valid(const char *name) {
        if (isempty(name))
                return false;
        if (name[0] == '@')
                return seccomp_group_members(name) != NULL;
        return seccomp_syscall_resolve_name(name) != __NR_SCMP_ERROR;
}

uint64_t seccomp_guard_capabilities(void) {
        uint64_t m = 0;

        for (size_t i = 0; i < seccomp_n_default_denials; i++)
                if (seccomp_default_denials[i].capability >= 0)
                        m |= UINT64_C(1) << seccomp_default_denials[i].capability;
        return m;
}

/* NAME is named by LIST, directly or as a member of a group in it. */
static bool list_covers(char *const *list, const char *name) {
        for (char *const *e = list; e && *e; e++) {
                if ((*e)[0] != '@') {
                        if (streq(*e, name))
                                return true;
                        continue;
                }
                for (const char *const *m = seccomp_group_members(*e); m && *m; m++)
                        if (streq(*m, name))
                                return true;
        }
        return false;
}

typedef struct NameSet {
        const char **names;
        size_t n;
} NameSet;

static void name_set_done(NameSet *s) {
        free(s->names);
}

static bool name_set_contains(const NameSet *s, const char *name) {
        for (size_t i = 0; i < s->n; i++)
                if (streq(s->names[i], name))
                        return true;
        return false;
}

static int name_set_add(NameSet *s, const char *name) {
        const char **p;

        if (name_set_contains(s, name))
                return 0;
        p = realloc(s->names, (s->n + 1) * sizeof(*p));
        if (!p)
                return -ENOMEM;
        p[s->n++] = name;
        s->names = p;
        return 0;
}

/* Adds NAME, or every member if it is a group, unless ALLOW covers it. */
static int name_set_add_expanded(NameSet *s, const char *name, char *const *allow) {
        const char *const *members;
        int r;

        if (name[0] != '@')
                return list_covers(allow, name) ? 0 : name_set_add(s, name);

        members = seccomp_group_members(name);
        if (!members)
                return -EINVAL;
        for (const char *const *m = members; *m; m++) {
                r = name_set_add_expanded(s, *m, allow);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int collect_denied(uint64_t caps_keep, char *const *allow, char *const *deny, NameSet *ret) {
        int r;

        for (size_t i = 0; i < seccomp_n_default_denials; i++) {
                const SeccompDenial *d = seccomp_default_denials + i;

                if (d->capability >= 0 && (caps_keep & (UINT64_C(1) << d->capability)))
                        continue;
                r = name_set_add_expanded(ret, d->name, allow);
                if (r < 0)
                        return r;
        }
        for (char *const *e = deny; e && *e; e++) {
                r = name_set_add_expanded(ret, *e, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The ABIs a process on this machine can enter the kernel through: a 64-bit x86 process can
 * also use int $0x80 (i386) and x32 numbers, so a filter for the native ABI alone is bypassed. */
static size_t local_arches(uint32_t arches[static 3]) {
        static const uint32_t family[] = {
#if defined(__x86_64__) || defined(__i386__)
                SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32,
#elif defined(__aarch64__) || defined(__arm__)
                SCMP_ARCH_AARCH64, SCMP_ARCH_ARM,
#elif defined(__s390x__) || defined(__s390__)
                SCMP_ARCH_S390X, SCMP_ARCH_S390,
#else
                SCMP_ARCH_NATIVE,
#endif
        };
        uint32_t native = seccomp_arch_native();
        size_t n = 0;

        arches[n++] = native;
        for (size_t i = 0; i < ELEMENTSOF(family) && n < 3; i++)
                if (family[i] != SCMP_ARCH_NATIVE && family[i] != native)
                        arches[n++] = family[i];
        return n;
}

static int arch_filter_new(uint32_t arch, scmp_filter_ctx *ret) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        int r;

        ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return -ENOMEM;
        if (arch != seccomp_arch_native()) {
                r = seccomp_arch_remove(ctx, SCMP_ARCH_NATIVE);
                if (r < 0)
                        return r;
                r = seccomp_arch_add(ctx, arch);
                if (r < 0)
                        return r;
        }
        /* The caller installs the exported program; no_new_privs is the lead's decision. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (r < 0)
                return r;
        /* A binary search over syscall numbers instead of a linear chain: every ioctl() and
         * socket() of the payload walks this program (the kernel caches the verdict only for
         * syscalls whose answer does not depend on arguments). */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(ctx);
        return 0;
}

/* Syscall numbers are passed in the native numbering, as libseccomp expects: it translates them
 * for ARCH (and into socketcall()/ipc() where those multiplex). */
static int arch_filter_add_rules(scmp_filter_ctx ctx, uint32_t arch, const NameSet *denied) {
        int r;

        for (size_t i = 0; i < denied->n; i++) {
                /* Not a syscall of this ABI: a rule would only add a comparison that never matches. */
                if (seccomp_syscall_resolve_name_rewrite(arch, denied->names[i]) < 0)
                        continue;
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
                                     seccomp_syscall_resolve_name(denied->names[i]), 0);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < seccomp_n_arg_rules; i++) {
                const SeccompArgRule *a = seccomp_arg_rules + i;

                if (name_set_contains(denied, a->syscall) ||
                    seccomp_syscall_resolve_name_rewrite(arch, a->syscall) < 0)
                        continue;
                r = seccomp_rule_add_exact_array(ctx, SCMP_ACT_ERRNO(a->error),
                                                 seccomp_syscall_resolve_name(a->syscall),
                                                 a->n_cmp, a->cmp);
                if (r == -EINVAL && a->best_effort)
                        continue;
                if (r < 0)
                        return r;
        }
        return 0;
}

static int validate_list(char *const *list, const char **ret_bad_name) {
        for (char *const *e = list; e && *e; e++)
                if (!seccomp_name_valid(*e)) {
                        if (ret_bad_name)
                                *ret_bad_name = *e;
                        return -EINVAL;
                }
        return 0;
}

int seccomp_filter_build(uint64_t caps_keep, char *const *allow, char *const *deny,
                         scmp_filter_ctx *ret, const char **ret_bad_name) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx merged = NULL;
        _cleanup_(name_set_done) NameSet denied = {};
        uint32_t arches[3];
        size_t n_arches;
        int r;

        r = validate_list(allow, ret_bad_name);
        if (r < 0)
                return r;
        r = validate_list(deny, ret_bad_name);
        if (r < 0)
                return r;

        r = collect_denied(caps_keep, allow, deny, &denied);
        if (r < 0)
                return r;

        n_arches = local_arches(arches);
        for (size_t i = 0; i < n_arches; i++) {
                _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;

                r = arch_filter_new(arches[i], &ctx);
                if (r < 0)
                        return r;
                r = arch_filter_add_rules(ctx, arches[i], &denied);
                if (r < 0)
                        return r;
                if (!merged) {
                        merged = TAKE_PTR(ctx);
                        continue;
                }
                r = seccomp_merge(merged, ctx);
                if (r < 0)
                        return r;
                ctx = NULL; /* merge consumed it */
        }

        *ret = TAKE_PTR(merged);
        return 0;
}

int seccomp_filter_export(scmp_filter_ctx ctx, struct sock_filter **ret, size_t *ret_n) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ struct sock_filter *buf = NULL;
        struct stat st;
        size_t done = 0;
        int r;

        fd = memfd_create("berth-seccomp", MFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return r;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0)
                return -EBADMSG;

        buf = malloc(st.st_size);
        if (!buf)
                return -ENOMEM;
        while (done < (size_t) st.st_size) {
                ssize_t k = pread(fd, (uint8_t *) buf + done, st.st_size - done, done);
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -EIO;
                done += k;
        }

        *ret_n = st.st_size / sizeof(struct sock_filter);
        *ret = TAKE_PTR(buf);
        return 0;
}
