/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The container's closed device policy, as a BPF_CGROUP_DEVICE program written by hand.
 *
 * Why: without a user namespace the payload keeps CAP_SYS_ADMIN, so it can make a mount namespace
 * of its own, remount its root without nodev and open any device node its image ships (the host
 * disk, /dev/mem, loop-control). Dropping CAP_MKNOD does not help against nodes that are already
 * there, and with a user namespace an image's nodes on a host-made mount are just as openable.
 * The device hook of the cgroup runs on every open and mknod of a device node, whatever mount it
 * sits on, so it closes both holes. It works on the cgroup2 hierarchy of hybrid hosts too.
 *
 * Why BPF_F_ALLOW_MULTI: the kernel runs a MULTI program for every descendant cgroup, after and
 * in addition to whatever those attach themselves (all must allow), so a nested manager can only
 * narrow the policy. ALLOW_OVERRIDE would let a descendant's program replace ours. With no flag,
 * descendants could attach nothing at all, and BPF_PROG_DETACH would accept a request that names
 * no program; a MULTI program can only be detached or replaced by someone holding an fd of it,
 * which takes bpf(BPF_PROG_GET_FD_BY_ID) and CAP_SYS_ADMIN in the initial user namespace. The
 * payload cannot call bpf() at all (the seccomp filter refuses it). systemd uses MULTI too. */
#include <linux/bpf.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "device-policy.h"
#include "log.h"
#include "macro.h"

/* Ours, not the kernel's: plenty for a settings file, and it keeps the program far below the
 * kernel's limits. */
#define DEVICE_RULES_MAX 256U
/* dev_t holds a 12-bit major and a 20-bit minor. */
#define DEVICE_MAJOR_MAX 0xfff
#define DEVICE_MINOR_MAX 0xfffff
#define UNIX98_PTY_SLAVE_FIRST 136
#define UNIX98_PTY_SLAVE_LAST 143

/* Registers the prologue fills from struct bpf_cgroup_dev_ctx (R1 points at it). */
enum {
        R_RET = BPF_REG_0,
        R_CTX = BPF_REG_1,
        R_ACCESS = BPF_REG_2,
        R_MAJOR = BPF_REG_3,
        R_MINOR = BPF_REG_4,
        R_TYPE = BPF_REG_5,
};

#define INSN(c, d, s, o, i) \
        ((struct bpf_insn) { .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define LDX_W(dst, src, off) INSN(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0)
#define MOV64_REG(dst, src) INSN(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0)
#define MOV64_IMM(dst, imm) INSN(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
#define ALU32_IMM(op, dst, imm) INSN(BPF_ALU | (op) | BPF_K, dst, 0, 0, imm)
/* The offset is filled in once the end of the rule is known. */
#define JMP_IMM(op, dst, imm) INSN(BPF_JMP | (op) | BPF_K, dst, 0, 0, imm)
#define EXIT_INSN() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

#define PROLOGUE_INSNS 8 /* with the guard of the built-in rules */
#define EPILOGUE_INSNS 2
#define RULE_INSNS_MAX 7

/* A rule after checking: the BPF device type, and a range of majors so that all pty slaves
 * take one rule; -1 means any. */
typedef struct Allow {
        unsigned type;
        int major_first, major_last, minor;
        unsigned access;
} Allow;

static const Allow builtin[] = {
        { BPF_DEVCG_DEV_CHAR, 1, 1, 3, DEVICE_ACCESS_ALL },     /* null */
        { BPF_DEVCG_DEV_CHAR, 1, 1, 5, DEVICE_ACCESS_ALL },     /* zero */
        { BPF_DEVCG_DEV_CHAR, 1, 1, 7, DEVICE_ACCESS_ALL },     /* full */
        { BPF_DEVCG_DEV_CHAR, 1, 1, 8, DEVICE_ACCESS_ALL },     /* random */
        { BPF_DEVCG_DEV_CHAR, 1, 1, 9, DEVICE_ACCESS_ALL },     /* urandom */
        { BPF_DEVCG_DEV_CHAR, 5, 5, 0, DEVICE_ACCESS_ALL },     /* tty */
        { BPF_DEVCG_DEV_CHAR, 5, 5, 1, DEVICE_ACCESS_ALL },     /* console */
        { BPF_DEVCG_DEV_CHAR, 5, 5, 2, DEVICE_ACCESS_ALL },     /* ptmx */
        { BPF_DEVCG_DEV_CHAR, 10, 10, 200, DEVICE_ACCESS_ALL }, /* net/tun */
        /* The console and every pty the payload opens; devpts makes these nodes itself. */
        { BPF_DEVCG_DEV_CHAR, UNIX98_PTY_SLAVE_FIRST, UNIX98_PTY_SLAVE_LAST, -1, DEVICE_ACCESS_RW },
};

static int allow_from_rule(const DeviceRule *r, Allow *ret) {
        unsigned type;

        if (r->type == 'c')
                type = BPF_DEVCG_DEV_CHAR;
        else if (r->type == 'b')
                type = BPF_DEVCG_DEV_BLOCK;
        else
                return -EINVAL;
        if (r->major < -1 || r->major > DEVICE_MAJOR_MAX || r->minor < -1 || r->minor > DEVICE_MINOR_MAX)
                return -EINVAL;
        if (r->access == 0 || (r->access & ~(unsigned) DEVICE_ACCESS_ALL) != 0)
                return -EINVAL;
        *ret = (Allow) { type, r->major, r->major, r->minor, r->access };
        return 0;
}

/* One extra rule: every check that fails jumps past it to the next rule; if none fails, allow. */
static void emit_rule(struct bpf_insn *p, size_t *n, const Allow *a) {
        size_t start = *n, end;

        p[(*n)++] = JMP_IMM(BPF_JNE, R_TYPE, (int32_t) a->type);
        if (a->major_first >= 0 && a->major_first == a->major_last)
                p[(*n)++] = JMP_IMM(BPF_JNE, R_MAJOR, a->major_first);
        else if (a->major_first >= 0) {
                p[(*n)++] = JMP_IMM(BPF_JLT, R_MAJOR, a->major_first);
                p[(*n)++] = JMP_IMM(BPF_JGT, R_MAJOR, a->major_last);
        }
        if (a->minor >= 0)
                p[(*n)++] = JMP_IMM(BPF_JNE, R_MINOR, a->minor);
        /* Any bit asked for and not granted fails the rule, including bits a future kernel may
         * add, so they stay denied. */
        p[(*n)++] = JMP_IMM(BPF_JSET, R_ACCESS, (int32_t) ~a->access);

        end = *n + 2;
        for (size_t i = start; i < *n; i++)
                p[i].off = (int16_t) (end - (i + 1));
        p[(*n)++] = MOV64_IMM(R_RET, 1);
        p[(*n)++] = EXIT_INSN();
}

/* The built-in rules as a small decision tree on the major number. The kernel's verifier walks
 * every branch, and its time is most of what loading the program costs at every start: the
 * same rules one after the other took it about 0.6 ms here, the tree a fraction of that. The
 * table lists rules of one major together; fixed majors grant every access (the guard before
 * the tree has denied unknown access bits already). Jumps to "next" leave the tree for the
 * extra rules. */
static void emit_builtin_tree(struct bpf_insn *p, size_t *n) {
        size_t to_allow[16], to_next[16], n_allow = 0, n_next = 0, group, allow;
        bool last_was_range = false;

        /* Patching happens once the tree's end is known. */
#define J(op, reg, imm, list, count) do { list[count++] = *n; p[(*n)++] = JMP_IMM(op, reg, imm); } while (0)
        for (size_t i = 0; i < ELEMENTSOF(builtin); ) {
                const Allow *a = &builtin[i];

                group = *n;
                if (a->major_first != a->major_last) {
                        /* A range of majors (the pty slaves) with its own access limit. */
                        J(BPF_JLT, R_MAJOR, a->major_first, to_next, n_next);
                        J(BPF_JGT, R_MAJOR, a->major_last, to_next, n_next);
                        if (a->access != DEVICE_ACCESS_ALL)
                                J(BPF_JSET, R_ACCESS, (int32_t) ~a->access, to_next, n_next);
                        J(BPF_JA, 0, 0, to_allow, n_allow);
                        last_was_range = true;
                        i++;
                        continue;
                }
                last_was_range = false;
                /* Every rule of this major: one compare for the major, one per minor. */
                p[(*n)++] = JMP_IMM(BPF_JNE, R_MAJOR, a->major_first);
                for (; i < ELEMENTSOF(builtin) && builtin[i].major_first == a->major_first &&
                       builtin[i].major_last == a->major_first; i++)
                        J(BPF_JEQ, R_MINOR, builtin[i].minor, to_allow, n_allow);
                J(BPF_JA, 0, 0, to_next, n_next);
                p[group].off = (int16_t) (*n - (group + 1));
        }
        /* A fixed major that did not match lands here; after a range nothing does, and the
         * verifier refuses unreachable instructions. */
        if (!last_was_range)
                J(BPF_JA, 0, 0, to_next, n_next);
#undef J
        allow = *n;
        p[(*n)++] = MOV64_IMM(R_RET, 1);
        p[(*n)++] = EXIT_INSN();
        for (size_t i = 0; i < n_allow; i++)
                p[to_allow[i]].off = (int16_t) (allow - (to_allow[i] + 1));
        for (size_t i = 0; i < n_next; i++)
                p[to_next[i]].off = (int16_t) (*n - (to_next[i] + 1));
}

static size_t emit_prologue(struct bpf_insn *p) {
        size_t n = 0;

        p[n++] = LDX_W(R_ACCESS, R_CTX, offsetof(struct bpf_cgroup_dev_ctx, access_type));
        p[n++] = LDX_W(R_MAJOR, R_CTX, offsetof(struct bpf_cgroup_dev_ctx, major));
        p[n++] = LDX_W(R_MINOR, R_CTX, offsetof(struct bpf_cgroup_dev_ctx, minor));
        /* access_type is (BPF_DEVCG_ACC_* << 16) | BPF_DEVCG_DEV_*. */
        p[n++] = MOV64_REG(R_TYPE, R_ACCESS);
        p[n++] = ALU32_IMM(BPF_AND, R_TYPE, 0xffff);
        p[n++] = ALU32_IMM(BPF_RSH, R_ACCESS, 16);
        return n;
}

static int bpf_call(int cmd, union bpf_attr *attr) {
        return RET_NERRNO(syscall(SYS_bpf, cmd, attr, sizeof(*attr)));
}

static int program_load(const struct bpf_insn *insns, size_t n) {
        union bpf_attr attr = {
                .prog_type = BPF_PROG_TYPE_CGROUP_DEVICE,
                .insns = (uint64_t) (uintptr_t) insns,
                .insn_cnt = (uint32_t) n,
                /* The kernel asks for a GPL-compatible license only from programs that call
                 * GPL-only helpers; this one calls no helper at all. */
                .license = (uint64_t) (uintptr_t) "LGPL-2.1-or-later",
                .prog_name = "berth_devices",
        };
        _cleanup_free_ char *log_buf = NULL;
        int fd, r;

        fd = bpf_call(BPF_PROG_LOAD, &attr);
        if (fd >= 0 || (fd != -EINVAL && fd != -EACCES))
                return fd;

        /* The verifier refused the program: load again only to learn why. */
        r = fd;
        log_buf = calloc(1, 65536);
        if (!log_buf)
                return r;
        attr.log_buf = (uint64_t) (uintptr_t) log_buf;
        attr.log_size = 65536;
        attr.log_level = 1;
        fd = bpf_call(BPF_PROG_LOAD, &attr);
        if (fd >= 0)
                return fd;
        log_debug_errno(r, "The kernel refused the device policy program: %m\n%s", log_buf);
        return r;
}

int device_policy_attach(int cgroup_fd, const DeviceRule *extra, size_t n_extra) {
        _cleanup_free_ struct bpf_insn *insns = NULL;
        _cleanup_close_ int prog_fd = -EBADF;
        union bpf_attr attr = {};
        size_t n, n_rules, deny_jump, extras_jump;
        int r;

        if (cgroup_fd < 0 || (n_extra > 0 && !extra))
                return -EINVAL;
        if (n_extra > DEVICE_RULES_MAX)
                return -E2BIG;

        n_rules = ELEMENTSOF(builtin) + n_extra;
        insns = calloc(PROLOGUE_INSNS + n_rules * RULE_INSNS_MAX + EPILOGUE_INSNS, sizeof(*insns));
        if (!insns)
                return -ENOMEM;

        n = emit_prologue(insns);
        /* The guard of the built-in rules: bits no kernel has defined yet are denied outright,
         * and anything but a character device goes on to the extra rules. */
        deny_jump = n;
        insns[n++] = JMP_IMM(BPF_JSET, R_ACCESS, (int32_t) ~(unsigned) DEVICE_ACCESS_ALL);
        extras_jump = n;
        insns[n++] = JMP_IMM(BPF_JNE, R_TYPE, BPF_DEVCG_DEV_CHAR);
        emit_builtin_tree(insns, &n);
        insns[extras_jump].off = (int16_t) (n - (extras_jump + 1));
        for (size_t i = 0; i < n_extra; i++) {
                Allow a;

                r = allow_from_rule(&extra[i], &a);
                if (r < 0)
                        return r;
                emit_rule(insns, &n, &a);
        }
        insns[deny_jump].off = (int16_t) (n - (deny_jump + 1));
        insns[n++] = MOV64_IMM(R_RET, 0);
        insns[n++] = EXIT_INSN();

        prog_fd = program_load(insns, n);
        if (prog_fd < 0)
                return prog_fd;

        attr.target_fd = (uint32_t) cgroup_fd;
        attr.attach_bpf_fd = (uint32_t) prog_fd;
        attr.attach_type = BPF_CGROUP_DEVICE;
        attr.attach_flags = BPF_F_ALLOW_MULTI;
        r = bpf_call(BPF_PROG_ATTACH, &attr);
        if (r < 0)
                return log_debug_errno(r, "Failed to attach the device policy to the cgroup: %m");
        return TAKE_FD(prog_fd);
}
