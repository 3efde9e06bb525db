/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hostile-container probes: one static multi-call binary; each probe tries one escape class and
 * prints "BLOCKED|OPEN|ERROR name detail" (exit 0/1/2). Safe to run as root on the host. */

/*
 * Every probe must be harmless when confinement fails, because the same binary runs on the host
 * as the positive control. So: deliberately invalid arguments (the kernel rejects them *after* the
 * permission check, so EFAULT/EBADF/EINVAL mean "allowed", EPERM/EACCES/EROFS/ENOSYS "blocked"),
 * files opened for writing but never written, mount changes only inside a private mount namespace
 * of a throw-away child, and every probe body runs in a forked child so that a seccomp kill, a
 * setns() or a chroot() never affects the next probe.
 *
 * Detail tokens: "key=info" held, "OPEN:key=info" breach (or positive control), "ERR:key=info"
 * could not tell, "~key=info" neutral information.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/quota.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/timex.h>
#include <sys/types.h>
#include <sys/wait.h>

#define BAD_PTR ((long) 1)
#define X32_BIT 0x40000000L
#define TIOCSTI_HIGHBITS ((0x123UL << 32) | (unsigned long) TIOCSTI)
#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_NODES 16

typedef enum Verdict {
        VERDICT_BLOCKED,
        VERDICT_OPEN,
        VERDICT_ERROR,
        VERDICT_INFO,
} Verdict;

typedef struct Ctx {
        const char *canary;         /* absolute host path that must stay invisible */
        const char *key;            /* description of a key that host root planted */
        const char *inject;         /* bytes to push with TIOCSTI (armed mode only) */
        pid_t host_pid;             /* a host PID (the test script) that must not be signalable */
        uint64_t host_pidns;        /* inode of the host's pid namespace */
        uint64_t host_mntns;        /* inode of the host's mount namespace */
        bool have_host_root;
        dev_t host_root_dev;
        ino_t host_root_ino;
        bool armed;                 /* allows probes that act on inherited terminals */
        const char *nodes[MAX_NODES];
        size_t n_nodes;
} Ctx;

typedef struct Report {
        int fd;                     /* >= 0: notes stream to the parent through this pipe */
        bool open, error;
        size_t len;
        char text[16384];
} Report;

typedef void (*ChildFn)(const Ctx *c, Report *r, const void *userdata);

static const char *errname(int e) {
        const char *n = strerrorname_np(e);
        return n ? n : "E?";
}

static void note_token(Report *r, Verdict v, const char *token) {
        static const char *const prefix[] = {
                [VERDICT_BLOCKED] = "", [VERDICT_OPEN] = "OPEN:",
                [VERDICT_ERROR] = "ERR:", [VERDICT_INFO] = "~",
        };

        if (v == VERDICT_OPEN)
                r->open = true;
        else if (v == VERDICT_ERROR)
                r->error = true;
        if (r->fd >= 0) {
                dprintf(r->fd, "%d %s\n", (int) v, token);
                return;
        }
        int n = snprintf(r->text + r->len, sizeof(r->text) - r->len, " %s%s", prefix[v], token);
        if (n > 0)
                r->len = r->len + (size_t) n < sizeof(r->text) ? r->len + (size_t) n : sizeof(r->text) - 1;
}

__attribute__((format(printf, 3, 4)))
static void note(Report *r, Verdict v, const char *fmt, ...) {
        char buf[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        /* One line per probe: tokens must not contain whitespace. */
        for (char *p = buf; *p; p++)
                if (*p == ' ' || *p == '\n' || *p == '\t')
                        *p = '_';
        note_token(r, v, buf);
}

static bool errno_blocks(int e) {
        return e == EPERM || e == EACCES || e == EROFS || e == ENOSYS;
}

/* A call made with invalid arguments: success or any non-blocking errno means it got through. */
static void judge(Report *r, const char *what, long ret, int err) {
        if (ret >= 0)
                note(r, VERDICT_OPEN, "%s=ok", what);
        else if (errno_blocks(err))
                note(r, VERDICT_BLOCKED, "%s=%s", what, errname(err));
        else
                note(r, VERDICT_OPEN, "%s=%s", what, errname(err));
}

/* Reads errno only after the call: argument evaluation order is unspecified in C. */
#define JUDGE(r, what, call)                            \
        do {                                            \
                long _ret = (call);                     \
                judge((r), (what), _ret, errno);        \
        } while (0)

static void judge_open(Report *r, const char *what, const char *path, int flags) {
        int fd = open(path, flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd >= 0) {
                note(r, VERDICT_OPEN, "%s=opened", what);
                close(fd);
        } else if (errno == ENOENT)
                note(r, VERDICT_INFO, "%s=ENOENT", what);
        else
                judge(r, what, -1, errno);
}

/* Runs fn in a child; its notes stream back, so a seccomp kill still leaves the earlier ones. */
static void fork_report(const Ctx *c, Report *r, const char *what, ChildFn fn, const void *userdata) {
        int p[2], status = 0;

        if (pipe2(p, O_CLOEXEC) < 0) {
                note(r, VERDICT_ERROR, "%s=pipe:%s", what, errname(errno));
                return;
        }
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
                note(r, VERDICT_ERROR, "%s=fork:%s", what, errname(errno));
                close(p[0]);
                close(p[1]);
                return;
        }
        if (pid == 0) {
                Report sub = { .fd = p[1] };
                close(p[0]);
                fn(c, &sub, userdata);
                _exit(0);
        }
        close(p[1]);
        FILE *f = fdopen(p[0], "r");
        if (!f) {
                close(p[0]);
                note(r, VERDICT_ERROR, "%s=fdopen", what);
        } else {
                char *line = NULL;
                size_t n = 0;
                while (getline(&line, &n, f) > 0) {
                        line[strcspn(line, "\n")] = 0;
                        if (line[0] >= '0' && line[0] <= '3' && line[1] == ' ')
                                note_token(r, (Verdict) (line[0] - '0'), line + 2);
                }
                free(line);
                fclose(f);
        }
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (WIFSIGNALED(status)) {
                int sig = WTERMSIG(status);
                note(r, sig == SIGSYS ? VERDICT_BLOCKED : VERDICT_ERROR, "%s=killed-by-SIG%s",
                     what, sigabbrev_np(sig) ?: "?");
        }
}

static bool same_file(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static uint64_t ns_inode(const char *path) {
        struct stat st;
        return stat(path, &st) < 0 ? 0 : (uint64_t) st.st_ino;
}

static bool have_cap(int cap) {
        char line[256];
        unsigned long long eff = 0;
        FILE *f = fopen("/proc/self/status", "re");

        if (!f)
                return true; /* unknown: assume the worst */
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "CapEff: %llx", &eff) == 1)
                        break;
        fclose(f);
        return eff & (1ULL << cap);
}

/* Leaves the caller (a throw-away child) in its own mount namespace with every mount private, so
 * mount changes can never propagate anywhere. Returns false if that is not possible; the caller
 * then must not touch any mount. */
static bool enter_private_mountns(Report *r) {
        if (unshare(CLONE_NEWNS) < 0) {
                int e = errno;
                /* Without CAP_SYS_ADMIN no mount change is possible anyway. */
                if (e == EPERM && !have_cap(21))
                        note(r, VERDICT_BLOCKED, "unshare-mntns=EPERM(no-CAP_SYS_ADMIN)");
                else
                        note(r, VERDICT_ERROR, "unshare-mntns=%s(cannot-test-safely)", errname(e));
                return false;
        }
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                /* EINVAL: "/" is not a mount point (a chroot); mounts would still propagate. */
                note(r, VERDICT_INFO, "make-private=%s(mount-changes-skipped)", errname(errno));
                return false;
        }
        return true;
}

static bool canary_visible(const char *canary, int dirfd) {
        if (!canary || canary[0] != '/')
                return false;
        return faccessat(dirfd, canary + 1, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* ---- A08 fd-leak ---- */

/* Returns the errno of readlink() so the caller can summarise unreadable fds in one token. */
static int check_fd(const Ctx *c, Report *r, const char *who, const char *dir, int n, bool strict,
                    const struct stat *root) {
        char path[256], target[512];
        struct stat st;

        snprintf(path, sizeof(path), "%s/%d", dir, n);
        ssize_t l = readlink(path, target, sizeof(target) - 1);
        if (l < 0)
                return errno;
        target[l] = 0;
        bool have_st = stat(path, &st) == 0;
        bool nsfs = strstr(target, "mnt:[") == target || strstr(target, "net:[") == target ||
                strstr(target, "pid:[") == target || strstr(target, "user:[") == target ||
                strstr(target, "uts:[") == target || strstr(target, "ipc:[") == target ||
                strstr(target, "cgroup:[") == target || strstr(target, "time:[") == target;
        bool outside = strstr(target, "(unreachable)") != NULL ||
                (have_st && S_ISDIR(st.st_mode) && st.st_dev != root->st_dev);
        bool canary = false;

        if (have_st && S_ISDIR(st.st_mode)) {
                int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                for (int i = 0; fd >= 0 && i < 64 && !canary; i++) {
                        canary = canary_visible(c->canary, fd);
                        int up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        close(fd);
                        fd = up;
                }
                if (fd >= 0)
                        close(fd);
        }
        if (strict || nsfs || outside || canary)
                note(r, VERDICT_OPEN, "%s-fd%d=%s%s%s", who, n, target,
                     outside ? "(outside-root)" : "", canary ? "(canary-reachable)" : "");
        else
                note(r, VERDICT_INFO, "%s-fd%d=%s", who, n, target);
        return 0;
}

static void scan_fds(const Ctx *c, Report *r, const char *who, const char *dir, bool strict,
                     const struct stat *root) {
        DIR *d = opendir(dir);
        struct dirent *de;
        int count = 0, unreadable = 0, err = 0;

        if (!d) {
                note(r, errno == EACCES || errno == EPERM ? VERDICT_INFO : VERDICT_ERROR,
                     "%s-fds=%s", who, errname(errno));
                return;
        }
        while ((de = readdir(d))) {
                int n = atoi(de->d_name);
                /* Our own directory stream and the pipe that carries this report. */
                if (de->d_name[0] == '.' || n < 3 || n == dirfd(d) || (strict && n == r->fd))
                        continue;
                int e = check_fd(c, r, who, dir, n, strict, root);
                if (e != 0) {
                        unreadable++;
                        err = e;
                }
                count++;
        }
        closedir(d);
        if (unreadable > 0)
                note(r, strict ? VERDICT_OPEN : VERDICT_INFO, "%s-fds=%d-unreadable(%s)", who, unreadable,
                     errname(err));
        if (count == 0)
                note(r, VERDICT_BLOCKED, "%s-fds=0-2-only", who);
}

static void check_link_is_root(Report *r, const char *path) {
        char target[512];
        ssize_t l = readlink(path, target, sizeof(target) - 1);
        if (l < 0) {
                note(r, VERDICT_INFO, "%s=%s", path, errname(errno));
                return;
        }
        target[l] = 0;
        note(r, strcmp(target, "/") == 0 ? VERDICT_BLOCKED : VERDICT_OPEN, "%s=%s", path, target);
}

static void probe_fd_leak(const Ctx *c, Report *r, const void *u) {
        struct stat root;

        if (stat("/", &root) < 0)
                return note(r, VERDICT_ERROR, "stat-root=%s", errname(errno));
        scan_fds(c, r, "self", "/proc/self/fd", true, &root);
        if (getpid() != 1) {
                /* PID 1 may be the runtime's stub init holding its own signalfd or pipes. */
                scan_fds(c, r, "pid1", "/proc/1/fd", false, &root);
                check_link_is_root(r, "/proc/1/root");
        }
        check_link_is_root(r, "/proc/1/cwd");

        /* A host binary behind PID 1 is the CVE-2019-5736 surface: reported, judged by A10. */
        char exe[512];
        struct stat via_proc, via_path;
        ssize_t n = readlink("/proc/1/exe", exe, sizeof(exe) - 1);
        if (n > 0 && stat("/proc/1/exe", &via_proc) == 0) {
                exe[n] = 0;
                bool inside = stat(exe, &via_path) == 0 && same_file(&via_proc, &via_path);
                int fd = open("/proc/1/exe", O_WRONLY | O_CLOEXEC);
                int err = fd < 0 ? errno : 0;
                if (fd >= 0)
                        close(fd);
                note(r, VERDICT_INFO, "pid1-exe=%s(%s,open-for-write:%s)", exe,
                     inside ? "inside-root" : "NOT-in-root", err ? errname(err) : "ok");
        }

        char cwd[512];
        ssize_t l = readlink("/proc/self/cwd", cwd, sizeof(cwd) - 1);
        if (l >= 0) {
                cwd[l] = 0;
                note(r, cwd[0] == '/' ? VERDICT_INFO : VERDICT_OPEN, "cwd=%s", cwd);
        }
}

/* ---- A12 nsfs-setns ---- */

static void child_setns(const Ctx *c, Report *r, const void *u) {
        const char *path = u;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return judge(r, path, -1, errno);
        if (setns(fd, 0) == 0)
                note(r, VERDICT_OPEN, "setns:%s=joined", path);
        else
                note(r, errno == EINVAL || errno_blocks(errno) ? VERDICT_BLOCKED : VERDICT_ERROR,
                     "setns:%s=%s", path, errname(errno));
}

typedef struct NsSeen {
        uint64_t ino[256];
        size_t n;
} NsSeen;

static bool ns_seen_add(NsSeen *s, uint64_t ino) {
        for (size_t i = 0; i < s->n; i++)
                if (s->ino[i] == ino)
                        return false;
        if (s->n < ELEMENTSOF(s->ino))
                s->ino[s->n++] = ino;
        return true;
}

static void try_foreign_ns(const Ctx *c, Report *r, NsSeen *seen, const char *path, int *tried) {
        struct stat st;

        if (stat(path, &st) < 0 || !ns_seen_add(seen, (uint64_t) st.st_ino) || *tried >= 64)
                return;
        (*tried)++;
        fork_report(c, r, path, child_setns, path);
}

static void probe_nsfs_setns(const Ctx *c, Report *r, const void *u) {
        static const char *const types[] = { "cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts" };
        NsSeen seen = {};
        char path[512];
        int tried = 0, procs = 0;
        struct dirent *de;

        for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                snprintf(path, sizeof(path), "/proc/self/ns/%s", types[i]);
                uint64_t ino = ns_inode(path);
                if (ino)
                        ns_seen_add(&seen, ino);
        }
        DIR *d = opendir("/proc");
        if (!d)
                return note(r, VERDICT_ERROR, "proc=%s", errname(errno));
        while ((de = readdir(d))) {
                if (de->d_name[0] < '0' || de->d_name[0] > '9')
                        continue;
                procs++;
                for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                        snprintf(path, sizeof(path), "/proc/%s/ns/%s", de->d_name, types[i]);
                        try_foreign_ns(c, r, &seen, path, &tried);
                }
                /* Namespace fds that a process holds open (a leaked nsfs fd). */
                snprintf(path, sizeof(path), "/proc/%s/fd", de->d_name);
                DIR *fds = opendir(path);
                struct dirent *fe;
                while (fds && (fe = readdir(fds))) {
                        char target[64], fpath[512];
                        snprintf(fpath, sizeof(fpath), "/proc/%s/fd/%s", de->d_name, fe->d_name);
                        ssize_t l = readlink(fpath, target, sizeof(target) - 1);
                        if (l <= 0)
                                continue;
                        target[l] = 0;
                        if (strchr(target, ':') && strstr(target, ":[") && !strstr(target, "socket") &&
                            !strstr(target, "pipe") && !strstr(target, "anon_inode"))
                                try_foreign_ns(c, r, &seen, fpath, &tried);
                }
                if (fds)
                        closedir(fds);
        }
        closedir(d);
        note(r, VERDICT_INFO, "processes=%d,foreign-ns-tried=%d", procs, tried);
        if (tried == 0)
                note(r, VERDICT_BLOCKED, "no-foreign-namespace-reachable");
}

/* ---- A13 procsys-write, A14 proc-masked, A17 sys-write ---- */

static const char *const procsys_knobs[] = {
        "/proc/sys/kernel/core_pattern", "/proc/sys/kernel/sysrq", "/proc/sys/kernel/modprobe",
        "/proc/sys/vm/drop_caches", "/proc/sys/kernel/hotplug", "/proc/sys/fs/suid_dumpable",
};

static void probe_procsys_write(const Ctx *c, Report *r, const void *u) {
        /* Opening for writing is the evidence; never write a host knob. */
        for (size_t i = 0; i < ELEMENTSOF(procsys_knobs); i++)
                judge_open(r, procsys_knobs[i] + strlen("/proc/sys/"), procsys_knobs[i], O_WRONLY);
}

static ssize_t read_some(const char *path, char *buf, size_t size, int *err) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                *err = errno;
                return -1;
        }
        ssize_t n = read(fd, buf, size - 1);
        *err = n < 0 ? errno : 0;
        close(fd);
        if (n >= 0)
                buf[n] = 0;
        return n;
}

static void judge_read(Report *r, const char *what, const char *path) {
        char buf[256];
        int err;
        ssize_t n = read_some(path, buf, sizeof(buf), &err);

        if (n > 0)
                note(r, VERDICT_OPEN, "%s=readable", what);
        else if (n == 0)
                note(r, VERDICT_BLOCKED, "%s=empty", what);
        else if (err == ENOENT)
                note(r, VERDICT_INFO, "%s=ENOENT", what);
        else
                note(r, errno_blocks(err) ? VERDICT_BLOCKED : VERDICT_ERROR, "%s=%s", what, errname(err));
}

static void check_kallsyms(Report *r) {
        char line[512];
        int lines = 0, real = 0;
        FILE *f = fopen("/proc/kallsyms", "re");

        if (!f)
                return note(r, errno == ENOENT ? VERDICT_INFO : VERDICT_BLOCKED, "kallsyms=%s",
                            errname(errno));
        while (lines < 2000 && fgets(line, sizeof(line), f)) {
                lines++;
                if (strtoull(line, NULL, 16) != 0)
                        real++;
        }
        fclose(f);
        if (real > 0)
                note(r, VERDICT_OPEN, "kallsyms=real-addresses");
        else
                note(r, VERDICT_BLOCKED, "kallsyms=%s", lines ? "zeroed" : "empty");
}

static void probe_proc_masked(const Ctx *c, Report *r, const void *u) {
        judge_read(r, "kcore", "/proc/kcore");
        check_kallsyms(r);
        judge_read(r, "keys", "/proc/keys");
        judge_read(r, "timer_list", "/proc/timer_list");
        judge_read(r, "sched_debug", "/proc/sched_debug");
        /* Opening is enough evidence: writing 'c' would crash the host if confinement failed. */
        judge_open(r, "sysrq-trigger", "/proc/sysrq-trigger", O_WRONLY);
}

static void probe_sys_write(const Ctx *c, Report *r, const void *u) {
        static const char *const knobs[] = {
                "/sys/kernel/uevent_helper", "/sys/kernel/mm/ksm/run", "/sys/power/state",
                "/sys/kernel/mm/transparent_hugepage/enabled", "/sys/kernel/profiling",
        };
        char path[512], buf[300];
        struct dirent *de;
        int err;

        for (size_t i = 0; i < ELEMENTSOF(knobs); i++)
                judge_open(r, knobs[i] + strlen("/sys/"), knobs[i], O_WRONLY);
        DIR *d = opendir("/sys/class/net");
        while (d && (de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "/sys/class/net/%s/mtu", de->d_name);
                snprintf(buf, sizeof(buf), "net/%s/mtu", de->d_name);
                judge_open(r, buf, path, O_WRONLY);
        }
        if (d)
                closedir(d);
        /* Firmware tables are a disclosure, not a write: reported, not judged. */
        if (read_some("/sys/firmware/acpi/tables/DSDT", buf, sizeof(buf), &err) > 0 ||
            read_some("/sys/firmware/dmi/tables/DMI", buf, sizeof(buf), &err) > 0)
                note(r, VERDICT_INFO, "firmware=readable");
}

/* ---- A15 unmask-remount, A16 fresh-procfs-sysfs, A18 release-agent ---- */

static void after_unmask(Report *r, const char *prefix) {
        char what[128];

        snprintf(what, sizeof(what), "%score_pattern", prefix);
        judge_open(r, what, "/proc/sys/kernel/core_pattern", O_WRONLY);
        snprintf(what, sizeof(what), "%ssysrq-trigger", prefix);
        judge_open(r, what, "/proc/sysrq-trigger", O_WRONLY);
        snprintf(what, sizeof(what), "%sksm-run", prefix);
        judge_open(r, what, "/sys/kernel/mm/ksm/run", O_WRONLY);
        snprintf(what, sizeof(what), "%stimer_list", prefix);
        judge_read(r, what, "/proc/timer_list");
}

static void child_unmask(const Ctx *c, Report *r, const void *u) {
        static const char *const masks[] = {
                "/proc/sys", "/proc/sysrq-trigger", "/proc/kcore", "/proc/kallsyms", "/proc/keys",
                "/proc/timer_list", "/proc/sys/kernel",
        };
        static const char *const ro[] = { "/proc/sys", "/sys", "/sys/fs/cgroup", "/proc" };

        if (!enter_private_mountns(r))
                return;
        for (size_t i = 0; i < ELEMENTSOF(masks); i++) {
                int n = 0;
                while (n < 4 && umount2(masks[i], MNT_DETACH) == 0)
                        n++;
                note(r, VERDICT_INFO, "umount:%s=%s", masks[i], n ? "ok" : errname(errno));
        }
        /* MS_BIND|MS_REMOUNT changes only this mount's flags, never the shared superblock. */
        for (size_t i = 0; i < ELEMENTSOF(ro); i++)
                note(r, VERDICT_INFO, "remount-rw:%s=%s", ro[i],
                     mount(NULL, ro[i], NULL, MS_REMOUNT | MS_BIND, NULL) == 0 ? "ok" : errname(errno));
        after_unmask(r, "after-unmask:");
}

static void probe_unmask_remount(const Ctx *c, Report *r, const void *u) {
        fork_report(c, r, "unmask", child_unmask, NULL);
}

static bool make_scratch_dir(char *buf, size_t size) {
        static const char *const bases[] = { "/tmp", "/run", "/dev/shm", "/var/tmp", "" };

        for (size_t i = 0; i < ELEMENTSOF(bases); i++) {
                snprintf(buf, size, "%s/.berth-probe-XXXXXX", bases[i]);
                if (mkdtemp(buf))
                        return true;
        }
        return false;
}

static void child_fresh_mounts(const Ctx *c, Report *r, const void *u) {
        char dir[256], path[512];

        if (!enter_private_mountns(r))
                return;
        if (!make_scratch_dir(dir, sizeof(dir)))
                return note(r, VERDICT_ERROR, "mkdtemp=%s", errname(errno));
        if (mount("proc", dir, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0) {
                note(r, VERDICT_INFO, "mount-proc=ok");
                snprintf(path, sizeof(path), "%s/sys/kernel/core_pattern", dir);
                judge_open(r, "fresh-proc:core_pattern", path, O_WRONLY);
                snprintf(path, sizeof(path), "%s/sysrq-trigger", dir);
                judge_open(r, "fresh-proc:sysrq-trigger", path, O_WRONLY);
                snprintf(path, sizeof(path), "%s/kcore", dir);
                judge_read(r, "fresh-proc:kcore", path);
                umount2(dir, MNT_DETACH);
        } else
                judge(r, "mount-proc", -1, errno);
        if (mount("sysfs", dir, "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0) {
                note(r, VERDICT_INFO, "mount-sysfs=ok");
                snprintf(path, sizeof(path), "%s/kernel/mm/ksm/run", dir);
                judge_open(r, "fresh-sysfs:ksm-run", path, O_WRONLY);
                umount2(dir, MNT_DETACH);
        } else
                judge(r, "mount-sysfs", -1, errno);
        rmdir(dir);
}

static void probe_fresh_procfs_sysfs(const Ctx *c, Report *r, const void *u) {
        fork_report(c, r, "fresh", child_fresh_mounts, NULL);
}

static void child_release_agent(const Ctx *c, Report *r, const void *u) {
        static const char *const opts[] = { "none,name=berthprobe", "memory" };
        char dir[256], path[512];

        if (!enter_private_mountns(r))
                return;
        if (!make_scratch_dir(dir, sizeof(dir)))
                return note(r, VERDICT_ERROR, "mkdtemp=%s", errname(errno));
        for (size_t i = 0; i < ELEMENTSOF(opts); i++) {
                char what[64];
                snprintf(what, sizeof(what), "cgroup1(%s)", opts[i]);
                if (mount("cgroup", dir, "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts[i]) < 0) {
                        judge(r, what, -1, errno);
                        continue;
                }
                snprintf(path, sizeof(path), "%s/release_agent", dir);
                strncat(what, ":release_agent", sizeof(what) - strlen(what) - 1);
                judge_open(r, what, path, O_WRONLY);
                umount2(dir, MNT_DETACH);
        }
        rmdir(dir);
}

static void probe_release_agent(const Ctx *c, Report *r, const void *u) {
        struct dirent *de;
        char path[512], what[300];

        /* v1 hierarchies the runtime may have mounted into the container. */
        DIR *d = opendir("/sys/fs/cgroup");
        while (d && (de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/release_agent", de->d_name);
                if (access(path, F_OK) < 0)
                        continue;
                snprintf(what, sizeof(what), "existing:%s/release_agent", de->d_name);
                judge_open(r, what, path, O_WRONLY);
        }
        if (d)
                closedir(d);
        fork_report(c, r, "release-agent", child_release_agent, NULL);
}

/* ---- A20 device-nodes ---- */

typedef struct Node {
        const char *name;
        mode_t type;
        unsigned major, minor;
        bool allowed;           /* permitted by design (nspawn allows FUSE too) */
} Node;

static const Node nodes[] = {
        { "sda", S_IFBLK, 8, 0, false },  { "vda", S_IFBLK, 253, 0, false },
        { "mem", S_IFCHR, 1, 1, false },  { "kmsg", S_IFCHR, 1, 11, false },
        { "port", S_IFCHR, 1, 4, false }, { "loop-control", S_IFCHR, 10, 237, false },
        { "loop0", S_IFBLK, 7, 0, false }, { "tty1", S_IFCHR, 4, 1, false },
        { "mapper-control", S_IFCHR, 10, 236, false }, { "fuse", S_IFCHR, 10, 229, true },
};

static void judge_device_open(Report *r, const char *what, const char *path, bool allowed) {
        struct stat st;
        int fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

        if (fd >= 0) {
                bool dev = fstat(fd, &st) == 0 && (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode));
                close(fd);
                note(r, !dev ? VERDICT_BLOCKED : allowed ? VERDICT_INFO : VERDICT_OPEN, "%s=%s", what,
                     dev ? "opened" : "masked-by-non-device");
        } else if (errno == ENXIO || errno == ENODEV || errno == EIO)
                /* The device policy is checked before the driver: reaching it means "allowed". */
                note(r, allowed ? VERDICT_INFO : VERDICT_OPEN, "%s=%s(policy-passed)", what, errname(errno));
        else if (errno == ENOENT)
                note(r, VERDICT_INFO, "%s=ENOENT", what);
        else
                note(r, errno_blocks(errno) ? VERDICT_BLOCKED : VERDICT_ERROR, "%s=%s", what, errname(errno));
}

static void mknod_in(Report *r, const char *base) {
        char dir[256], path[512], what[128];

        snprintf(dir, sizeof(dir), "%s/.berth-probe-XXXXXX", base);
        if (!mkdtemp(dir))
                return note(r, VERDICT_INFO, "mkdtemp:%s=%s", base[0] ? base : "/", errname(errno));
        for (size_t i = 0; i < ELEMENTSOF(nodes); i++) {
                snprintf(path, sizeof(path), "%s/%s", dir, nodes[i].name);
                snprintf(what, sizeof(what), "%s/%s", base[0] ? base : "", nodes[i].name);
                if (mknod(path, nodes[i].type | 0600, makedev(nodes[i].major, nodes[i].minor)) < 0) {
                        judge(r, what, -1, errno);
                        continue;
                }
                judge_device_open(r, what, path, nodes[i].allowed);
                unlink(path);
        }
        rmdir(dir);
}

/* A nodev mount only holds if the payload cannot clear the flag: try that in a private copy of
 * the mount table (per-mount flags only, so nothing outside this child changes). */
static void child_nodev_bypass(const Ctx *c, Report *r, const void *u) {
        static const char *const mounts[] = { "/", "/tmp", "/dev" };
        char what[300];

        if (!enter_private_mountns(r))
                return;
        for (size_t i = 0; i < ELEMENTSOF(mounts); i++)
                if (mount(NULL, mounts[i], NULL, MS_REMOUNT | MS_BIND, NULL) < 0)
                        note(r, VERDICT_INFO, "remount-dev:%s=%s", mounts[i], errname(errno));
                else
                        note(r, VERDICT_INFO, "remount-dev:%s=ok", mounts[i]);
        for (size_t i = 0; i < c->n_nodes; i++) {
                snprintf(what, sizeof(what), "after-remount-dev:%s", c->nodes[i]);
                judge_device_open(r, what, c->nodes[i], false);
        }
}

static void probe_device_nodes(const Ctx *c, Report *r, const void *u) {
        static const char *const existing[] = {
                "/dev/loop-control", "/dev/mapper/control", "/dev/mem", "/dev/port", "/dev/sda",
                "/dev/vda", "/dev/loop0", "/dev/tty1", "/dev/kmsg",
        };

        mknod_in(r, "/dev");
        mknod_in(r, "/tmp");
        mknod_in(r, "");
        for (size_t i = 0; i < ELEMENTSOF(existing); i++)
                judge_device_open(r, existing[i], existing[i], false);
        for (size_t i = 0; i < c->n_nodes; i++)
                judge_device_open(r, c->nodes[i], c->nodes[i], false);
        if (c->n_nodes > 0)
                fork_report(c, r, "nodev-bypass", child_nodev_bypass, NULL);
}

/* ---- A22 kmod-kexec, A23 reboot, A24 clock, A25 keyring ---- */

static void probe_kmod_kexec(const Ctx *c, Report *r, const void *u) {
        /* len 0 fails with ENOEXEC after the capability check; nothing is ever loaded. */
        JUDGE(r, "init_module", syscall(SYS_init_module, NULL, 0UL, ""));
        JUDGE(r, "finit_module", syscall(SYS_finit_module, -1, "", 0));
        JUDGE(r, "delete_module", syscall(SYS_delete_module, "berth_probe_no_such_module", O_NONBLOCK));
        /* Invalid flags and too many segments: EINVAL after the CAP_SYS_BOOT check. With zero
         * segments kexec_load would unload a loaded kernel, so never pass that. */
        JUDGE(r, "kexec_load", syscall(SYS_kexec_load, 0UL, 1000UL, NULL, 0x8000UL));
        JUDGE(r, "kexec_file_load", syscall(SYS_kexec_file_load, -1, -1, 0UL, NULL, 1UL << 31));
}

static void probe_reboot(const Ctx *c, Report *r, const void *u) {
        /* Never glibc's reboot(): it adds the magic numbers. Bad magic and a bad command:
         * the kernel checks CAP_SYS_BOOT first, then the magic, so EINVAL means "allowed". */
        long ret = syscall(SYS_reboot, 0, 0, 0xdeadbeefU, NULL);
        int err = errno;
        uint64_t own = ns_inode("/proc/self/ns/pid");

        if (ret >= 0)
                return note(r, VERDICT_ERROR, "reboot=returned-0?!");
        if (errno_blocks(err))
                return note(r, VERDICT_BLOCKED, "reboot=%s", errname(err));
        if (getpid() == 1 || (c->host_pidns && own && own != c->host_pidns))
                note(r, VERDICT_BLOCKED, "reboot=%s(reachable-but-only-ends-own-pidns)", errname(err));
        else if (!c->host_pidns)
                note(r, VERDICT_OPEN, "reboot=%s(reachable;pidns-unknown:pass-hostpidns=)", errname(err));
        else
                note(r, VERDICT_OPEN, "reboot=%s(reachable-in-host-pidns)", errname(err));
}

static void probe_clock(const Ctx *c, Report *r, const void *u) {
        struct timex tx = { .modes = ADJ_TICK, .tick = 0 };

        /* Both NULL: returns 0 after the CAP_SYS_TIME check and changes nothing. */
        JUDGE(r, "settimeofday(NULL)", syscall(SYS_settimeofday, NULL, NULL));
        /* tick 0 is out of range: EINVAL after the capability check, before any change. */
        JUDGE(r, "adjtimex(ADJ_TICK=0)", syscall(SYS_adjtimex, &tx));
        tx = (struct timex) { .modes = ADJ_TICK, .tick = 0 };
        JUDGE(r, "clock_adjtime(ADJ_TICK=0)", syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx));
        /* The pointer is copied before the capability check: only a filter can block this. */
        long ret = syscall(SYS_clock_settime, CLOCK_REALTIME, BAD_PTR);
        note(r, ret < 0 && errno_blocks(errno) ? VERDICT_BLOCKED : VERDICT_INFO,
             "clock_settime(bad-ptr)=%s", ret < 0 ? errname(errno) : "ok");
}

static void probe_keyring(const Ctx *c, Report *r, const void *u) {
        JUDGE(r, "add_key", syscall(SYS_add_key, "user", "berth-probe", BAD_PTR, 16UL,
                                    KEY_SPEC_PROCESS_KEYRING));
        JUDGE(r, "keyctl(JOIN_SESSION)", syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, BAD_PTR));
        JUDGE(r, "request_key", syscall(SYS_request_key, "user", BAD_PTR, NULL, 0));
        if (!c->key)
                return;
        long id = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", c->key, 0);
        if (id < 0)
                return note(r, VERDICT_BLOCKED, "host-key=%s", errname(errno));
        char buf[128] = "";
        long n = syscall(SYS_keyctl, KEYCTL_READ, id, buf, sizeof(buf) - 1);
        note(r, VERDICT_OPEN, "host-key=found(read:%s)", n >= 0 ? "ok" : errname(errno));
}

static void key_plant(const char *desc) {
        static const char payload[] = "berth-host-canary-key";
        long id = syscall(SYS_add_key, "user", desc, payload, sizeof(payload) - 1, KEY_SPEC_USER_KEYRING);
        if (id < 0) {
                printf("ERROR key-plant %s\n", errname(errno));
                exit(2);
        }
        printf("%ld\n", id);
}

static int key_unplant(const char *desc) {
        long id = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", desc, 0);
        if (id < 0)
                return errno == ENOKEY ? 0 : 2;
        return syscall(SYS_keyctl, KEYCTL_INVALIDATE, id) < 0 ? 2 : 0;
}

/* ---- A29 shocker ---- */

static void probe_shocker(const Ctx *c, Report *r, const void *u) {
        struct { struct file_handle fh; unsigned char buf[128]; } h = { .fh.handle_bytes = 128 };
        struct stat root, st;
        int mnt_id;

        long ret = syscall(SYS_open_by_handle_at, AT_FDCWD, BAD_PTR, O_RDONLY);
        note(r, VERDICT_INFO, "open_by_handle_at(bad-ptr)=%s", ret >= 0 ? "ok" : errname(errno));
        if (ret >= 0)
                close((int) ret);
        if (stat("/", &root) < 0 || name_to_handle_at(AT_FDCWD, "/", &h.fh, &mnt_id, 0) < 0)
                return note(r, VERDICT_INFO, "name_to_handle_at=%s", errname(errno));
        int rootfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int fd = open_by_handle_at(rootfd, &h.fh, O_RDONLY | O_CLOEXEC);
        note(r, fd >= 0 ? VERDICT_INFO : errno_blocks(errno) ? VERDICT_BLOCKED : VERDICT_ERROR,
             "decode-own-root=%s", fd >= 0 ? "ok" : errname(errno));
        if (fd >= 0)
                close(fd);
        /* ext4-style handles are {ino32, gen32}: forge inode 2, the filesystem root. */
        if (h.fh.handle_type != 1 && h.fh.handle_type != 0x81) {
                close(rootfd);
                return note(r, VERDICT_INFO, "forge=handle-type-%d-unsupported", h.fh.handle_type);
        }
        uint32_t forged[2] = { 2, 0 };
        h.fh.handle_type = 1;
        h.fh.handle_bytes = sizeof(forged);
        memcpy(h.fh.f_handle, forged, sizeof(forged));
        fd = open_by_handle_at(rootfd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        close(rootfd);
        if (fd < 0)
                return note(r, errno_blocks(errno) || errno == ESTALE ? VERDICT_BLOCKED : VERDICT_ERROR,
                            "forged-ino2=%s", errname(errno));
        bool escaped = fstat(fd, &st) == 0 && !same_file(&st, &root);
        bool canary = canary_visible(c->canary, fd);
        close(fd);
        note(r, escaped || canary ? VERDICT_OPEN : VERDICT_BLOCKED, "forged-ino2=%s%s",
             escaped ? "fs-root-above-container-root" : "is-own-root", canary ? ",canary-visible" : "");
}

/* ---- A30 misc-privileged ---- */

static void child_iopl(const Ctx *c, Report *r, const void *u) {
        JUDGE(r, "iopl(3)", syscall(SYS_iopl, 3));
        JUDGE(r, "ioperm(0x80)", syscall(SYS_ioperm, 0x80UL, 1UL, 1));
}

static void probe_misc_privileged(const Ctx *c, Report *r, const void *u) {
        char buf[64];
        int fan;

        /* Port access is granted to this throw-away child only, and no port is touched. */
        fork_report(c, r, "iopl", child_iopl, NULL);
        /* Console level 0 is invalid: EINVAL after the CAP_SYSLOG check. */
        JUDGE(r, "syslog(CONSOLE_LEVEL=0)", syscall(SYS_syslog, 8, NULL, 0));
        JUDGE(r, "syslog(READ_ALL)", syscall(SYS_syslog, 3, buf, (long) sizeof(buf)));
        JUDGE(r, "acct(bad-ptr)", syscall(SYS_acct, BAD_PTR));
        JUDGE(r, "swapon(bad-ptr)", syscall(SYS_swapon, BAD_PTR, 0));
        JUDGE(r, "swapoff(bad-ptr)", syscall(SYS_swapoff, BAD_PTR));
        JUDGE(r, "quotactl(bad-ptr)", syscall(SYS_quotactl, QCMD(Q_QUOTAOFF, USRQUOTA), BAD_PTR, 0, NULL));
        fan = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_FID | FAN_CLOEXEC, O_RDONLY);
        if (fan < 0)
                return judge(r, "fanotify_init", -1, errno);
        /* A notification-only mark, dropped at once: no permission events, no effect. */
        JUDGE(r, "fanotify_mark(FILESYSTEM)",
              fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN, AT_FDCWD, "/"));
        close(fan);
}

/* ---- A31 abi-bypass ---- */

typedef enum Abi {
        ABI_NATIVE,
        ABI_I386,
        ABI_X32,
} Abi;

typedef struct AbiCall {
        const char *name;
        long nr[3];             /* x86-64, i386, x32 (without the x32 bit) */
        long a[5];
} AbiCall;

static const AbiCall abi_calls[] = {
        { "init_module", { 175, 128, 175 }, { BAD_PTR, 0, BAD_PTR } },
        { "finit_module", { 313, 350, 313 }, { -1, BAD_PTR, 0 } },
        { "delete_module", { 176, 129, 176 }, { BAD_PTR, O_NONBLOCK } },
        { "kexec_load", { 246, 283, 528 }, { 0, 1000, 0, 0x8000 } },
        { "add_key", { 248, 286, 248 }, { BAD_PTR, BAD_PTR, BAD_PTR, 16, KEY_SPEC_PROCESS_KEYRING } },
        { "keyctl", { 250, 288, 250 }, { KEYCTL_JOIN_SESSION_KEYRING, BAD_PTR } },
        { "request_key", { 249, 287, 249 }, { BAD_PTR, BAD_PTR, 0, 0 } },
        { "bpf", { 321, 357, 321 }, { 5 /* BPF_PROG_LOAD */, BAD_PTR, 128 } },
        { "perf_event_open", { 298, 336, 298 }, { BAD_PTR, -1, 0, -1, 0 } },
        { "open_by_handle_at", { 304, 342, 304 }, { AT_FDCWD, BAD_PTR, 0 } },
        { "unknown-1000", { 1000, 1000, 1000 }, { 0 } },
};

static long int80(long nr, const long *a) {
        long ret;
        /* The i386 entry through int $0x80; r8-r11 are declared clobbered to be safe. */
        __asm__ volatile("int $0x80"
                         : "=a"(ret)
                         : "a"(nr), "b"(a[0]), "c"(a[1]), "d"(a[2]), "S"(a[3]), "D"(a[4])
                         : "memory", "r8", "r9", "r10", "r11");
        return (int) ret;
}

static void child_abi_call(const Ctx *c, Report *r, const void *u) {
        const AbiCall *call = u;
        static const char *const abi_names[] = { "x86_64", "i386", "x32" };

        for (int abi = ABI_NATIVE; abi <= ABI_X32; abi++) {
                long ret;
                int err = 0;
                char what[64];

                snprintf(what, sizeof(what), "%s:%s", abi_names[abi], call->name);
                if (abi == ABI_I386) {
                        ret = int80(call->nr[abi], call->a);
                        if (ret < 0 && ret > -4096) {
                                err = (int) -ret;
                                ret = -1;
                        }
                } else {
                        long nr = call->nr[abi] | (abi == ABI_X32 ? X32_BIT : 0);
                        ret = syscall(nr, call->a[0], call->a[1], call->a[2], call->a[3], call->a[4]);
                        err = errno;
                }
                if (ret >= 0 && strcmp(call->name, "unknown-1000") != 0)
                        close((int) ret);
                if (strcmp(call->name, "unknown-1000") == 0)
                        note(r, ret < 0 && err == ENOSYS ? VERDICT_BLOCKED : VERDICT_OPEN,
                             "%s=%s%s", what, ret < 0 ? errname(err) : "ok",
                             ret < 0 && err == ENOSYS ? "" : "(expected-ENOSYS)");
                else
                        judge(r, what, ret, err);
        }
}

static void probe_abi_bypass(const Ctx *c, Report *r, const void *u) {
        /* One child per call: int $0x80 kills the process with SIGSEGV if ia32 emulation is off. */
        for (size_t i = 0; i < ELEMENTSOF(abi_calls); i++)
                fork_report(c, r, abi_calls[i].name, child_abi_call, &abi_calls[i]);
}

/* ---- A32 pid-isolation ---- */

static void probe_pid_isolation(const Ctx *c, Report *r, const void *u) {
        char path[512], own[64], other[64], comm[64];
        struct dirent *de;
        int visible = 0, foreign = 0;

        ssize_t l = readlink("/proc/self/ns/pid", own, sizeof(own) - 1);
        if (l < 0)
                return note(r, VERDICT_ERROR, "own-pidns=%s", errname(errno));
        own[l] = 0;
        DIR *d = opendir("/proc");
        if (!d)
                return note(r, VERDICT_ERROR, "proc=%s", errname(errno));
        while ((de = readdir(d))) {
                if (de->d_name[0] < '0' || de->d_name[0] > '9')
                        continue;
                visible++;
                snprintf(path, sizeof(path), "/proc/%s/ns/pid", de->d_name);
                l = readlink(path, other, sizeof(other) - 1);
                if (l < 0)
                        continue;
                other[l] = 0;
                if (strcmp(own, other) == 0)
                        continue;
                if (foreign++ < 5) {
                        snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
                        int err;
                        if (read_some(path, comm, sizeof(comm), &err) < 0)
                                strcpy(comm, "?");
                        comm[strcspn(comm, "\n")] = 0;
                        note(r, VERDICT_OPEN, "pid%s(%s)=in-foreign-pidns", de->d_name, comm);
                }
        }
        closedir(d);
        note(r, VERDICT_INFO, "visible=%d", visible);
        if (foreign == 0)
                note(r, VERDICT_BLOCKED, "foreign-pids=0");
        note(r, VERDICT_INFO, "kill(-1,0)=%s", kill(-1, 0) == 0 ? "ok" : errname(errno));
        if (c->host_pid <= 1)
                return;
        int kerr = kill(c->host_pid, 0) < 0 ? errno : 0;
        if (kerr == ESRCH)
                return note(r, VERDICT_BLOCKED, "kill(host-pid-%d)=ESRCH", (int) c->host_pid);
        /* The number may belong to a container process: only a foreign one is a breach. */
        snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int) c->host_pid);
        l = readlink(path, other, sizeof(other) - 1);
        if (l >= 0) {
                other[l] = 0;
                if (strcmp(own, other) == 0 && c->host_pidns && ns_inode("/proc/self/ns/pid") != c->host_pidns)
                        return note(r, VERDICT_BLOCKED, "kill(host-pid-%d)=number-reused-in-container",
                                    (int) c->host_pid);
        }
        note(r, VERDICT_OPEN, "kill(host-pid-%d)=%s", (int) c->host_pid, kerr ? errname(kerr) : "ok");
}

/* ---- A15/A33 nested-userns ---- */

static bool write_file(const char *path, const char *text) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        bool ok = write(fd, text, strlen(text)) == (ssize_t) strlen(text);
        close(fd);
        return ok;
}

static void child_nested_userns(const Ctx *c, Report *r, const void *u) {
        char map[64], dir[256], path[512];
        uid_t uid = getuid();
        gid_t gid = getgid();

        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
                return note(r, VERDICT_BLOCKED, "unshare(USER|NS)=%s(denied-by-policy)", errname(errno));
        snprintf(map, sizeof(map), "0 %u 1", (unsigned) uid);
        write_file("/proc/self/setgroups", "deny");
        bool mapped = write_file("/proc/self/uid_map", map);
        snprintf(map, sizeof(map), "0 %u 1", (unsigned) gid);
        mapped = write_file("/proc/self/gid_map", map) && mapped;
        note(r, VERDICT_INFO, "userns=created%s", mapped ? ",mapped" : ",unmapped");
        /* A mount namespace owned by a less privileged user ns gets slave copies; make sure. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return note(r, VERDICT_INFO, "make-private=%s(mount-changes-skipped)", errname(errno));
        note(r, VERDICT_INFO, "umount:/proc/sys=%s",
             umount2("/proc/sys", MNT_DETACH) == 0 ? "ok" : errname(errno));
        after_unmask(r, "nested:");
        if (!make_scratch_dir(dir, sizeof(dir)))
                return note(r, VERDICT_INFO, "mkdtemp=%s", errname(errno));
        if (mount("cgroup", dir, "cgroup", 0, "none,name=berthprobe2") == 0) {
                snprintf(path, sizeof(path), "%s/release_agent", dir);
                judge_open(r, "nested:cgroup1:release_agent", path, O_WRONLY);
                umount2(dir, MNT_DETACH);
        } else
                judge(r, "nested:mount-cgroup1", -1, errno);
        if (mount("proc", dir, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0) {
                snprintf(path, sizeof(path), "%s/sys/kernel/core_pattern", dir);
                judge_open(r, "nested:fresh-proc:core_pattern", path, O_WRONLY);
                umount2(dir, MNT_DETACH);
        } else
                judge(r, "nested:mount-proc", -1, errno);
        rmdir(dir);
}

static void probe_nested_userns(const Ctx *c, Report *r, const void *u) {
        fork_report(c, r, "nested-userns", child_nested_userns, NULL);
}

/* ---- A34 tiocsti ---- */

static void child_pty_selftest(const Ctx *c, Report *r, const void *u) {
        char buf[8] = "";
        struct termios t;

        int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
                return note(r, VERDICT_ERROR, "fresh-pty=%s", errname(errno));
        const char *name = ptsname(master);
        /* A new session whose controlling tty is this fresh pty: never the caller's terminal. */
        if (!name || setsid() < 0)
                return note(r, VERDICT_ERROR, "fresh-pty=setsid:%s", errname(errno));
        int slave = open(name, O_RDWR | O_CLOEXEC);
        if (slave < 0)
                return note(r, VERDICT_ERROR, "fresh-pty=open-slave:%s", errname(errno));
        if (tcgetattr(slave, &t) == 0) {
                cfmakeraw(&t);
                tcsetattr(slave, TCSANOW, &t);
        }
        char ch = 'x';
        if (ioctl(slave, TIOCSTI, &ch) < 0)
                return judge(r, "fresh-pty-tiocsti", -1, errno);
        struct pollfd p = { .fd = slave, .events = POLLIN };
        bool got = poll(&p, 1, 1000) > 0 && read(slave, buf, sizeof(buf)) > 0 && buf[0] == 'x';
        note(r, got ? VERDICT_OPEN : VERDICT_ERROR, "fresh-pty-tiocsti=%s", got ? "injected" : "not-read-back");
}

static void inject_into(const Ctx *c, Report *r, const char *what, int fd) {
        const char *s = c->inject;
        int err = 0;
        bool high = false;

        if (!isatty(fd))
                return note(r, VERDICT_BLOCKED, "%s=not-a-tty", what);
        for (; *s; s++)
                if (ioctl(fd, TIOCSTI, s) < 0) {
                        err = errno;
                        break;
                }
        if (*s) {
                /* The CVE-2019-10063 form: the kernel truncates cmd to 32 bits, a filter may not. */
                high = true;
                for (s = c->inject; *s; s++)
                        if (syscall(SYS_ioctl, fd, TIOCSTI_HIGHBITS, s) < 0)
                                break;
        }
        if (!*s)
                note(r, VERDICT_OPEN, "%s=injected%s", what, high ? "(high-bits)" : "");
        else
                judge(r, what, -1, err);
}

static void probe_tiocsti(const Ctx *c, Report *r, const void *u) {
        static const char *const ttys[] = { "/dev/console", "/dev/tty" };

        fork_report(c, r, "selftest", child_pty_selftest, NULL);
        JUDGE(r, "ioctl(-1,TIOCSTI)", ioctl(-1, TIOCSTI, "x"));
        JUDGE(r, "ioctl(-1,TIOCSTI|high-bits)", syscall(SYS_ioctl, -1, TIOCSTI_HIGHBITS, "x"));
        if (!c->armed || !c->inject)
                return note(r, VERDICT_INFO, "inherited-ttys=not-tried(needs--armed,inject=)");
        /* Armed: push the bytes into every terminal the payload can reach. Whether that breaks
         * out is decided by the caller, who looks for the command's effect on the host. */
        for (int fd = 0; fd <= 2; fd++) {
                char what[16];
                snprintf(what, sizeof(what), "fd%d", fd);
                inject_into(c, r, what, fd);
        }
        for (size_t i = 0; i < ELEMENTSOF(ttys); i++) {
                /* On the host, /dev/console is the machine's real console: never inject there
                 * unless this is provably another mount namespace (a container). */
                uint64_t mntns = ns_inode("/proc/self/ns/mnt");
                if (i == 0 && (!c->host_mntns || !mntns || mntns == c->host_mntns)) {
                        note(r, VERDICT_INFO, "%s=not-tried(host-mount-namespace-or-no-hostmntns=)", ttys[i]);
                        continue;
                }
                int fd = open(ttys[i], O_RDWR | O_NOCTTY | O_CLOEXEC);
                if (fd < 0) {
                        note(r, VERDICT_BLOCKED, "%s=%s", ttys[i], errname(errno));
                        continue;
                }
                inject_into(c, r, ttys[i], fd);
                close(fd);
        }
}

/* ---- A36 chroot-escape, A37 old-root, A38 mount-propagation ---- */

static void child_chroot_escape(const Ctx *c, Report *r, const void *u) {
        const char *dir = u;
        struct stat before, after;

        if (stat("/", &before) < 0 || chdir("/") < 0)
                return note(r, VERDICT_ERROR, "stat-root=%s", errname(errno));
        if (chroot(dir) < 0)
                return judge(r, "chroot", -1, errno);
        for (int i = 0; i < 64; i++)
                if (chdir("..") < 0)
                        break;
        if (chroot(".") < 0)
                return judge(r, "chroot(.)", -1, errno);
        if (stat("/", &after) < 0)
                return note(r, VERDICT_ERROR, "stat-new-root=%s", errname(errno));
        bool canary = canary_visible(c->canary, AT_FDCWD);
        if (!same_file(&before, &after) || canary)
                note(r, VERDICT_OPEN, "escaped-to=%u:%u,ino%llu%s", major(after.st_dev), minor(after.st_dev),
                     (unsigned long long) after.st_ino, canary ? ",canary-visible" : "");
        else
                note(r, VERDICT_BLOCKED, "root-unchanged");
}

static void probe_chroot_escape(const Ctx *c, Report *r, const void *u) {
        char dir[256];

        if (canary_visible(c->canary, AT_FDCWD))
                note(r, VERDICT_OPEN, "canary-visible-without-escape");
        if (!make_scratch_dir(dir, sizeof(dir)))
                return note(r, VERDICT_ERROR, "mkdtemp=%s", errname(errno));
        fork_report(c, r, "chroot-escape", child_chroot_escape, dir);
        rmdir(dir);
}

static void check_canary_paths(const Ctx *c, Report *r, const char *stage) {
        static const char *const via[] = {
                "/proc/1/root", "/proc/1/root/..", "/proc/self/root/..", "/proc/self/cwd/../../../..",
                "/proc/1/cwd/../../../..", "/..",
        };
        char path[1024];

        if (!c->canary)
                return;
        for (size_t i = 0; i < ELEMENTSOF(via); i++) {
                snprintf(path, sizeof(path), "%s%s", via[i], c->canary);
                if (access(path, F_OK) == 0)
                        note(r, VERDICT_OPEN, "%s:canary-via:%s", stage, via[i]);
        }
}

static void child_old_root(const Ctx *c, Report *r, const void *u) {
        struct stat root, st;
        struct dirent *de;
        char path[512];

        if (stat("/", &root) < 0)
                return note(r, VERDICT_ERROR, "stat-root=%s", errname(errno));
        check_canary_paths(c, r, "before");
        /* Every visible process's root: one outside ours is the host seen through /proc. */
        DIR *d = opendir("/proc");
        while (d && (de = readdir(d))) {
                if (de->d_name[0] < '0' || de->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof(path), "/proc/%s/root", de->d_name);
                if (stat(path, &st) == 0 && !same_file(&st, &root))
                        note(r, VERDICT_OPEN, "pid%s-root=outside-own-root", de->d_name);
        }
        if (d)
                closedir(d);
        if (!enter_private_mountns(r))
                return;
        note(r, VERDICT_INFO, "umount-l(/)=%s", umount2("/", MNT_DETACH) == 0 ? "ok" : errname(errno));
        if (chdir("/") == 0) {
                int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                for (int i = 0; fd >= 0 && i < 64; i++) {
                        if (canary_visible(c->canary, fd)) {
                                note(r, VERDICT_OPEN, "after-umount:canary-via-dotdot-%d", i);
                                break;
                        }
                        int up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        close(fd);
                        fd = up;
                }
                if (fd >= 0)
                        close(fd);
        }
        check_canary_paths(c, r, "after-umount");
        if (chdir("/") == 0) {
                note(r, VERDICT_INFO, "pivot_root(.,.)=%s",
                     syscall(SYS_pivot_root, ".", ".") == 0 ? "ok" : errname(errno));
                umount2(".", MNT_DETACH);
        }
        check_canary_paths(c, r, "after-pivot");
        if (stat("/", &st) == 0 && !same_file(&st, &root) && canary_visible(c->canary, AT_FDCWD))
                note(r, VERDICT_OPEN, "after-pivot:root-changed,canary-visible");
        else
                note(r, VERDICT_BLOCKED, "host-not-visible");
}

static void probe_old_root(const Ctx *c, Report *r, const void *u) {
        fork_report(c, r, "old-root", child_old_root, NULL);
}

static void probe_mount_propagation(const Ctx *c, Report *r, const void *u) {
        struct stat root;
        uint64_t mntns = ns_inode("/proc/self/ns/mnt");

        /* These mounts happen in the caller's own mount namespace on purpose (the host checks
         * that they do not propagate), so refuse unless this is provably not the host's. */
        if (!c->host_mntns || !c->have_host_root)
                return note(r, VERDICT_ERROR, "refused=needs-hostmntns=-and-hostroot=");
        if (!mntns || mntns == c->host_mntns)
                return note(r, VERDICT_ERROR, "refused=in-host-mount-namespace");
        if (stat("/", &root) < 0 || (root.st_dev == c->host_root_dev && root.st_ino == c->host_root_ino))
                return note(r, VERDICT_ERROR, "refused=root-is-host-root");
        JUDGE(r, "make-rshared(/)", mount(NULL, "/", NULL, MS_REC | MS_SHARED, NULL));
        mkdir("/mnt", 0755);
        mkdir("/mnt/x", 0755);
        JUDGE(r, "tmpfs-on-/mnt/x", mount("tmpfs", "/mnt/x", "tmpfs", 0, "size=1m,mode=0755"));
        JUDGE(r, "bind-/tmp-over-/etc", mount("/tmp", "/etc", NULL, MS_BIND, NULL));
        note(r, VERDICT_INFO, "verdict-needs-host-mountinfo-diff");
}

/* ---- table and main ---- */

typedef struct Probe {
        const char *name, *id, *tag;
        ChildFn fn;
} Probe;

static const Probe probes[] = {
        { "fd-leak", "A08", "all", probe_fd_leak },
        { "nsfs-setns", "A12", "all", probe_nsfs_setns },
        { "procsys-write", "A13", "all", probe_procsys_write },
        { "proc-masked", "A14", "all", probe_proc_masked },
        { "unmask-remount", "A15", "userns", probe_unmask_remount },
        { "fresh-procfs-sysfs", "A16", "userns", probe_fresh_procfs_sysfs },
        { "sys-write", "A17", "all", probe_sys_write },
        { "release-agent", "A18", "userns", probe_release_agent },
        { "device-nodes", "A20", "all", probe_device_nodes },
        { "kmod-kexec", "A22", "all", probe_kmod_kexec },
        { "reboot", "A23", "all", probe_reboot },
        { "clock", "A24", "all", probe_clock },
        { "keyring", "A25", "all", probe_keyring },
        { "shocker", "A29", "all", probe_shocker },
        { "misc-privileged", "A30", "all", probe_misc_privileged },
        { "abi-bypass", "A31", "all", probe_abi_bypass },
        { "pid-isolation", "A32", "all", probe_pid_isolation },
        { "nested-userns", "A33", "userns", probe_nested_userns },
        { "tiocsti", "A34", "all", probe_tiocsti },
        { "chroot-escape", "A36", "all", probe_chroot_escape },
        { "old-root", "A37", "all", probe_old_root },
        { "mount-propagation", "A38", "all", probe_mount_propagation },
};

static int run_probe(const Ctx *c, const Probe *p) {
        Report r = { .fd = -1 };

        fork_report(c, &r, p->name, p->fn, NULL);
        int v = r.open ? VERDICT_OPEN : r.error ? VERDICT_ERROR : VERDICT_BLOCKED;
        static const char *const words[] = { "BLOCKED", "OPEN", "ERROR" };
        printf("%s %s%s\n", words[v], p->name, r.len ? r.text : " (no-detail)");
        fflush(stdout);
        return v;
}

static int parse_args(Ctx *c, int argc, char **argv) {
        for (int i = 2; i < argc; i++) {
                const char *a = argv[i];
                unsigned long long x, y;

                if (strncmp(a, "canary=", 7) == 0)
                        c->canary = a + 7;
                else if (strncmp(a, "key=", 4) == 0)
                        c->key = a + 4;
                else if (strncmp(a, "inject=", 7) == 0)
                        c->inject = a + 7;
                else if (strncmp(a, "hostpid=", 8) == 0)
                        c->host_pid = (pid_t) atoi(a + 8);
                else if (strncmp(a, "hostpidns=", 10) == 0)
                        c->host_pidns = strtoull(a + 10, NULL, 10);
                else if (strncmp(a, "hostmntns=", 10) == 0)
                        c->host_mntns = strtoull(a + 10, NULL, 10);
                else if (sscanf(a, "hostroot=%llu:%llu", &x, &y) == 2) {
                        c->have_host_root = true;
                        c->host_root_dev = (dev_t) x;
                        c->host_root_ino = (ino_t) y;
                } else if (strncmp(a, "node=", 5) == 0 && c->n_nodes < MAX_NODES)
                        c->nodes[c->n_nodes++] = a + 5;
                else if (strcmp(a, "--armed") == 0)
                        c->armed = true;
                else {
                        fprintf(stderr, "probe: unknown argument '%s'\n", a);
                        return -EINVAL;
                }
        }
        return 0;
}

/* "\n" in inject= arrives from shell scripts as two characters. */
static char *unescape(const char *s) {
        char *out = strdup(s), *o = out;

        for (; out && *s; s++) {
                if (s[0] == '\\' && s[1] == 'n') {
                        *o++ = '\n';
                        s++;
                } else
                        *o++ = *s;
        }
        if (out)
                *o = 0;
        return out;
}

int main(int argc, char **argv) {
        Ctx c = {};
        int worst = VERDICT_BLOCKED;

        if (argc < 2 || strcmp(argv[1], "list") == 0) {
                for (size_t i = 0; i < ELEMENTSOF(probes); i++)
                        printf("%-20s %s %s\n", probes[i].name, probes[i].id, probes[i].tag);
                return argc < 2 ? 2 : 0;
        }
        if (parse_args(&c, argc, argv) < 0)
                return 2;
        char *inject = c.inject ? unescape(c.inject) : NULL;
        c.inject = inject;
        /* Output order matters when stdout is a pipe shared with the runtime's messages. */
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (strcmp(argv[1], "key-plant") == 0 && c.key) {
                key_plant(c.key);
                return 0;
        }
        if (strcmp(argv[1], "key-unplant") == 0 && c.key)
                return key_unplant(c.key);
        bool all = strcmp(argv[1], "all") == 0, found = false;
        for (size_t i = 0; i < ELEMENTSOF(probes); i++) {
                if (!all && strcmp(argv[1], probes[i].name) != 0 && strcmp(argv[1], probes[i].id) != 0)
                        continue;
                found = true;
                int v = run_probe(&c, &probes[i]);
                if (v == VERDICT_OPEN || (v == VERDICT_ERROR && worst != VERDICT_OPEN))
                        worst = v;
        }
        free(inject);
        if (!found) {
                fprintf(stderr, "probe: no probe named '%s' (try 'probe list')\n", argv[1]);
                return 2;
        }
        return worst;
}
