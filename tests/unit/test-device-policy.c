/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of the device policy: children in a cgroup (or below it) with the policy attached try to
 * open and create device nodes, their own and the host's, and report what the kernel said. */

#include <fcntl.h>
#include <glib.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "device-policy.h"
#include "macro.h"

typedef enum ProbeOp {
        PROBE_OPEN,  /* open PATH with FLAGS */
        PROBE_MKNOD, /* mknod PATH as MODE MAJOR:MINOR, then open it read-only */
        PROBE_PTY,   /* open a new pty pair through /dev/ptmx and open its slave */
} ProbeOp;

typedef struct Probe {
        ProbeOp op;
        const char *path; /* relative paths are in the child's own tmpfs */
        int flags;
        mode_t mode;
        int major, minor;
        int expect; /* errno, 0 for success */
} Probe;

/* Made in the child's tmpfs before it joins the cgroup, like nodes an image would ship. */
static const struct {
        const char *name;
        mode_t mode;
        int major, minor;
} fixture_nodes[] = {
        { "mem", S_IFCHR, 1, 1 },
        { "kmsg", S_IFCHR, 1, 11 },
        { "loop0", S_IFBLK, 7, 0 },
        { "loop-control", S_IFCHR, 10, 237 },
        { "sda", S_IFBLK, 8, 0 },
};

static char *cgroup2_root(void) {
        static const char *const candidates[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
        struct statfs sfs;

        for (size_t i = 0; i < ELEMENTSOF(candidates); i++)
                if (statfs(candidates[i], &sfs) >= 0 && sfs.f_type == CGROUP2_SUPER_MAGIC)
                        return g_strdup(candidates[i]);
        return NULL;
}

static bool can_run(void) {
        g_autofree char *root = NULL;

        if (geteuid() != 0) {
                g_test_skip("needs root: cgroups, BPF programs and mknod");
                return false;
        }
        root = cgroup2_root();
        if (!root) {
                g_test_skip("no cgroup2 hierarchy mounted");
                return false;
        }
        return true;
}

/* A fresh cgroup2 directory for one test, below the hierarchy's root. */
static char *cgroup_make(const char *parent, const char *name) {
        g_autofree char *root = NULL;
        char *path;

        if (parent)
                path = g_strdup_printf("%s/%s", parent, name);
        else {
                root = cgroup2_root();
                path = g_strdup_printf("%s/berth-test-devpol-%d-%s", root, (int) getpid(), name);
        }
        g_assert_cmpint(mkdir(path, 0755), ==, 0);
        return path;
}

static void cgroup_remove(const char *path) {
        g_assert_cmpint(rmdir(path), ==, 0);
}

static int attach(const char *cgroup, const DeviceRule *extra, size_t n_extra) {
        _cleanup_close_ int fd = open(cgroup, O_PATH | O_DIRECTORY | O_CLOEXEC);
        int r;

        g_assert_cmpint(fd, >=, 0);
        r = device_policy_attach(fd, extra, n_extra);
        if (r >= 0) {
                /* The attachment must outlive the program's fd. */
                close(r);
                r = 0;
        }
        return r;
}

static int run_probe(const Probe *p) {
        _cleanup_close_ int fd = -EBADF, master = -EBADF;

        switch (p->op) {
        case PROBE_OPEN:
                fd = open(p->path, p->flags | O_NOCTTY | O_CLOEXEC);
                return fd < 0 ? errno : 0;
        case PROBE_MKNOD:
                if (mknod(p->path, p->mode | 0600, makedev(p->major, p->minor)) < 0)
                        return errno;
                fd = open(p->path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
                return fd < 0 ? errno : 0;
        case PROBE_PTY: {
                const char *slave;

                master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
                if (master < 0)
                        return errno;
                if (grantpt(master) < 0 || unlockpt(master) < 0 || !(slave = ptsname(master)))
                        return errno;
                fd = open(slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
                return fd < 0 ? errno : 0;
        }
        }
        return EINVAL;
}

/* Exits 10+step when the child's own set-up fails, so the parent can tell that from a result. */
static _noreturn_ void child_run(const char *cgroup, const char *scratch, const Probe *probes,
                                 size_t n, int result_fd) {
        g_autofree char *procs = g_strdup_printf("%s/cgroup.procs", cgroup);
        int results[64] = {};
        int fd;

        /* No controlling terminal, so /dev/tty says ENXIO unless the policy says EPERM first. */
        if (setsid() < 0)
                _exit(10);
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                _exit(11);
        /* Without nodev, like a mount the payload made itself. */
        if (mount("tmpfs", scratch, "tmpfs", 0, "mode=0700,size=64k") < 0 || chdir(scratch) < 0)
                _exit(12);
        for (size_t i = 0; i < ELEMENTSOF(fixture_nodes); i++)
                if (mknod(fixture_nodes[i].name, fixture_nodes[i].mode | 0600,
                          makedev(fixture_nodes[i].major, fixture_nodes[i].minor)) < 0)
                        _exit(13);

        fd = open(procs, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1)
                _exit(14);
        close(fd);

        for (size_t i = 0; i < n && i < ELEMENTSOF(results); i++)
                results[i] = run_probe(&probes[i]);
        if (write(result_fd, results, sizeof(results)) != sizeof(results))
                _exit(15);
        _exit(0);
}

static const char *probe_describe(const Probe *p, char *buf, size_t size) {
        static const char *const ops[] = { "open", "mknod", "pty" };

        if (p->op == PROBE_MKNOD)
                snprintf(buf, size, "mknod %s %c %d:%d", p->path, S_ISBLK(p->mode) ? 'b' : S_ISCHR(p->mode) ? 'c' : 'p',
                         p->major, p->minor);
        else
                snprintf(buf, size, "%s %s", ops[p->op], p->path ?: "");
        return buf;
}

/* Runs PROBES in a child that joins CGROUP; returns how many did not get their expected errno, so
 * that the caller can remove its cgroups before it fails. */
static unsigned check_probes(const char *cgroup, const Probe *probes, size_t n) {
        g_autofree char *scratch = g_dir_make_tmp("berth-devpol-XXXXXX", NULL);
        unsigned mismatches = 0;
        int results[64];
        int pipe_fds[2], status;
        pid_t pid;

        g_assert_nonnull(scratch);
        g_assert_cmpuint(n, <=, ELEMENTSOF(results));
        g_assert_cmpint(pipe2(pipe_fds, O_CLOEXEC), ==, 0);
        pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                close(pipe_fds[0]);
                child_run(cgroup, scratch, probes, n, pipe_fds[1]);
        }
        close(pipe_fds[1]);
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 0);
        g_assert_cmpint(read(pipe_fds[0], results, sizeof(results)), ==, sizeof(results));
        close(pipe_fds[0]);
        g_assert_cmpint(rmdir(scratch), ==, 0);

        for (size_t i = 0; i < n; i++) {
                char what[128];

                probe_describe(&probes[i], what, sizeof(what));
                g_test_message("%s%s: got %s, expected %s", results[i] == probes[i].expect ? "" : "MISMATCH ",
                               what, results[i] ? g_strerror(results[i]) : "success",
                               probes[i].expect ? g_strerror(probes[i].expect) : "success");
                mismatches += results[i] != probes[i].expect;
        }
        return mismatches;
}

#define OPEN(p, f, e) { .op = PROBE_OPEN, .path = (p), .flags = (f), .expect = (e) }
#define MKNOD(p, m, ma, mi, e) { .op = PROBE_MKNOD, .path = (p), .mode = (m), .major = (ma), .minor = (mi), .expect = (e) }

/* The nodes an image ships, the host's own nodes, and mknod: all EPERM; the basics work. */
static void test_closed_policy(void) {
        const Probe probes[] = {
                OPEN("/dev/null", O_RDWR, 0),
                OPEN("/dev/zero", O_RDONLY, 0),
                OPEN("/dev/full", O_WRONLY, 0),
                OPEN("/dev/random", O_RDONLY, 0),
                OPEN("/dev/urandom", O_RDWR, 0),
                OPEN("/dev/tty", O_RDWR, ENXIO),
                { .op = PROBE_PTY, .expect = 0 },
                OPEN("mem", O_RDONLY, EPERM),
                OPEN("kmsg", O_RDONLY, EPERM),
                OPEN("loop0", O_RDONLY, EPERM),
                OPEN("loop-control", O_RDWR, EPERM),
                OPEN("sda", O_RDONLY, EPERM),
                OPEN("/dev/loop-control", O_RDWR, EPERM),
                OPEN("/dev/kmsg", O_RDONLY, EPERM),
                MKNOD("new-mem", S_IFCHR, 1, 1, EPERM),
                MKNOD("new-loop0", S_IFBLK, 7, 0, EPERM),
                MKNOD("new-loop-control", S_IFCHR, 10, 237, EPERM),
                MKNOD("new-tty1", S_IFCHR, 4, 1, EPERM),
                MKNOD("new-fuse", S_IFCHR, 10, 229, EPERM),
                MKNOD("new-null", S_IFCHR, 1, 3, 0),
                MKNOD("fifo", S_IFIFO, 0, 0, 0),
        };
        g_autofree char *cg = NULL;
        unsigned mismatches;

        if (!can_run())
                return;
        cg = cgroup_make(NULL, "closed");
        g_assert_cmpint(attach(cg, NULL, 0), ==, 0);
        mismatches = check_probes(cg, probes, ELEMENTSOF(probes));
        cgroup_remove(cg);
        g_assert_cmpuint(mismatches, ==, 0);
}

/* Without the policy the same nodes open: the EPERM above comes from the policy alone. */
static void test_control_without_policy(void) {
        const Probe probes[] = {
                OPEN("kmsg", O_RDONLY | O_NONBLOCK, 0),
                OPEN("loop0", O_RDONLY, 0),
                OPEN("loop-control", O_RDWR, 0),
                MKNOD("new-loop-control", S_IFCHR, 10, 237, 0),
        };
        g_autofree char *cg = NULL;
        unsigned mismatches;

        if (!can_run())
                return;
        if (access("/dev/loop-control", F_OK) < 0 || access("/dev/loop0", F_OK) < 0) {
                g_test_skip("no loop driver on this host to open");
                return;
        }
        cg = cgroup_make(NULL, "control");
        mismatches = check_probes(cg, probes, ELEMENTSOF(probes));
        cgroup_remove(cg);
        g_assert_cmpuint(mismatches, ==, 0);
}

/* Extra rules grant exactly what they say: the device, the minor wildcard and the access bits. */
static void test_extra_rules(void) {
        const DeviceRule extra[] = {
                { 'c', 10, 237, DEVICE_ACCESS_RW },
                { 'b', 7, -1, DEVICE_ACCESS_READ },
        };
        const Probe probes[] = {
                OPEN("loop-control", O_RDWR, 0),
                OPEN("/dev/loop-control", O_RDWR, 0),
                MKNOD("new-loop-control", S_IFCHR, 10, 237, EPERM),
                OPEN("loop0", O_RDONLY, 0),
                OPEN("loop0", O_RDWR, EPERM),
                MKNOD("new-loop5", S_IFBLK, 7, 5, EPERM),
                OPEN("mem", O_RDONLY, EPERM),
                OPEN("sda", O_RDONLY, EPERM),
                OPEN("/dev/null", O_RDWR, 0),
        };
        g_autofree char *cg = NULL;
        unsigned mismatches;

        if (!can_run())
                return;
        if (access("/dev/loop-control", F_OK) < 0 || access("/dev/loop0", F_OK) < 0) {
                g_test_skip("no loop driver on this host to open");
                return;
        }
        cg = cgroup_make(NULL, "extra");
        g_assert_cmpint(attach(cg, extra, ELEMENTSOF(extra)), ==, 0);
        mismatches = check_probes(cg, probes, ELEMENTSOF(probes));
        cgroup_remove(cg);
        g_assert_cmpuint(mismatches, ==, 0);
}

static int load_allow_all(void) {
        const struct bpf_insn insns[] = {
                { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1 },
                { .code = BPF_JMP | BPF_EXIT },
        };
        union bpf_attr attr = {
                .prog_type = BPF_PROG_TYPE_CGROUP_DEVICE,
                .insns = (uint64_t) (uintptr_t) insns,
                .insn_cnt = ELEMENTSOF(insns),
                .license = (uint64_t) (uintptr_t) "LGPL-2.1-or-later",
        };

        return (int) syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
}

/* A child cgroup is bound by the policy even when it attaches an allow-everything program of its
 * own, and the policy cannot be detached without its program's fd. */
static void test_descendants(void) {
        const Probe probes[] = {
                OPEN("/dev/null", O_RDWR, 0),
                OPEN("mem", O_RDONLY, EPERM),
                OPEN("loop-control", O_RDWR, EPERM),
                MKNOD("new-loop0", S_IFBLK, 7, 0, EPERM),
        };
        g_autofree char *cg = NULL, *sub = NULL, *subsub = NULL;
        _cleanup_close_ int sub_fd = -EBADF, cg_fd = -EBADF, allow_fd = -EBADF;
        union bpf_attr attr = {};
        unsigned mismatches = 0;
        int attached, detach_none, detach_other;

        if (!can_run())
                return;
        cg = cgroup_make(NULL, "parent");
        g_assert_cmpint(attach(cg, NULL, 0), ==, 0);
        sub = cgroup_make(cg, "sub");
        subsub = cgroup_make(sub, "sub");
        mismatches += check_probes(subsub, probes, ELEMENTSOF(probes));

        /* Trying to widen the policy from below: the parent's program still runs. */
        sub_fd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cg_fd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        allow_fd = load_allow_all();
        attr.target_fd = (uint32_t) sub_fd;
        attr.attach_bpf_fd = (uint32_t) allow_fd;
        attr.attach_type = BPF_CGROUP_DEVICE;
        attr.attach_flags = BPF_F_ALLOW_OVERRIDE;
        attached = (int) syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof(attr));
        mismatches += check_probes(sub, probes, ELEMENTSOF(probes));
        mismatches += check_probes(subsub, probes, ELEMENTSOF(probes));

        /* Detaching needs the program itself; naming none, or another, does not remove ours. */
        attr = (union bpf_attr) { .target_fd = (uint32_t) cg_fd, .attach_type = BPF_CGROUP_DEVICE };
        detach_none = (int) syscall(SYS_bpf, BPF_PROG_DETACH, &attr, sizeof(attr));
        attr.attach_bpf_fd = (uint32_t) allow_fd;
        detach_other = (int) syscall(SYS_bpf, BPF_PROG_DETACH, &attr, sizeof(attr));
        mismatches += check_probes(cg, probes, ELEMENTSOF(probes));

        cgroup_remove(subsub);
        cgroup_remove(sub);
        cgroup_remove(cg);
        g_assert_cmpint(sub_fd, >=, 0);
        g_assert_cmpint(cg_fd, >=, 0);
        g_assert_cmpint(allow_fd, >=, 0);
        g_assert_cmpint(attached, ==, 0);
        g_assert_cmpint(detach_none, <, 0);
        g_assert_cmpint(detach_other, <, 0);
        g_assert_cmpuint(mismatches, ==, 0);
}

/* Malformed rules are refused before anything reaches the kernel. */
static void test_bad_rules(void) {
        const DeviceRule bad[] = {
                { 'x', 1, 3, DEVICE_ACCESS_ALL },
                { 0, 1, 3, DEVICE_ACCESS_ALL },
                { 'c', -2, 3, DEVICE_ACCESS_ALL },
                { 'c', 1, -2, DEVICE_ACCESS_ALL },
                { 'c', 4096, 0, DEVICE_ACCESS_ALL },
                { 'b', 8, 1 << 20, DEVICE_ACCESS_ALL },
                { 'c', 1, 3, 0 },
                { 'c', 1, 3, 8 },
        };
        _cleanup_close_ int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        g_autofree DeviceRule *many = g_new0(DeviceRule, 257);

        g_assert_cmpint(fd, >=, 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                g_assert_cmpint(device_policy_attach(fd, &bad[i], 1), ==, -EINVAL);
        g_assert_cmpint(device_policy_attach(fd, NULL, 1), ==, -EINVAL);
        g_assert_cmpint(device_policy_attach(-EBADF, NULL, 0), ==, -EINVAL);
        g_assert_cmpint(device_policy_attach(fd, many, 257), ==, -E2BIG);
}

/* A run that died on a failed assertion leaves its (empty) cgroups behind: remove those of
 * processes that are gone, deepest first, so one failure does not leak into every later run. */
static void remove_stale_cgroups(void) {
        g_autofree char *root = cgroup2_root();
        g_autoptr(GDir) d = root ? g_dir_open(root, 0, NULL) : NULL;
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
                g_autofree char *proc = NULL, *cmd = NULL;
                int pid;

                if (sscanf(name, "berth-test-devpol-%d-", &pid) != 1)
                        continue;
                proc = g_strdup_printf("/proc/%d", pid);
                if (g_file_test(proc, G_FILE_TEST_EXISTS))
                        continue;
                cmd = g_strdup_printf("find '%s/%s' -depth -type d -exec rmdir {} + 2>/dev/null", root, name);
                (void) !system(cmd);
        }
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        if (geteuid() == 0)
                remove_stale_cgroups();
        g_test_add_func("/device-policy/bad-rules", test_bad_rules);
        g_test_add_func("/device-policy/closed", test_closed_policy);
        g_test_add_func("/device-policy/control-without-policy", test_control_without_policy);
        g_test_add_func("/device-policy/extra-rules", test_extra_rules);
        g_test_add_func("/device-policy/descendants", test_descendants);
        return g_test_run();
}
