/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Entering a machine from a forked worker: namespaces, root, cgroup, user and environment. */
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "machine.h"
#include "machine-join.h"
#include "resolve.h"
#include "strv.h"

#define PASSWD_SIZE_MAX (4U * 1024U * 1024U)
#define JOIN_GROUPS_MAX 1024U

static const struct {
        const char *name;
        int flag;
} namespaces[] = {
        /* The user namespace first: setns() enters it before the others anyway, and it is the
         * one that must be left out when it is ours (setns refuses to re-enter our own). */
        { "user", CLONE_NEWUSER },
        { "mnt", CLONE_NEWNS },
        { "pid", CLONE_NEWPID },
        { "uts", CLONE_NEWUTS },
        { "ipc", CLONE_NEWIPC },
        { "net", CLONE_NEWNET },
        { "cgroup", CLONE_NEWCGROUP },
};

static int differing_namespaces(pid_t leader, int *ret) {
        int flags = 0;

        for (size_t i = 0; i < ELEMENTSOF(namespaces); i++) {
                char p[64];
                struct stat ours, theirs;

                snprintf(p, sizeof(p), "/proc/self/ns/%s", namespaces[i].name);
                if (stat(p, &ours) < 0)
                        return negative_errno();
                snprintf(p, sizeof(p), "/proc/%i/ns/%s", (int) leader, namespaces[i].name);
                if (stat(p, &theirs) < 0)
                        return negative_errno();
                if (ours.st_dev != theirs.st_dev || ours.st_ino != theirs.st_ino)
                        flags |= namespaces[i].flag;
        }
        *ret = flags;
        return 0;
}

/* CapBnd and NoNewPrivs of PID ("self" when 0). */
static int read_cap_status(pid_t pid, uint64_t *ret_bnd, bool *ret_nnp) {
        _cleanup_free_ char *buf = NULL;
        const char *l;
        unsigned nnp = 0;
        int r;

        r = proc_read_file(pid, "status", &buf);
        if (r < 0)
                return r;
        l = strstr(buf, "\nCapBnd:");
        if (!l || sscanf(l + 8, "%" SCNx64, ret_bnd) != 1)
                return -EBADMSG;
        l = strstr(buf, "\nNoNewPrivs:");
        if (l && sscanf(l + 12, "%u", &nnp) != 1)
                return -EBADMSG;
        *ret_nnp = nnp > 0;
        return 0;
}

void machine_join_done(MachineJoin *j) {
        j->pidfd = safe_close(j->pidfd);
        j->root_fd = safe_close(j->root_fd);
        j->cgroup_procs_fd = safe_close(j->cgroup_procs_fd);
        seccomp_chain_done(&j->seccomp);
}

int machine_join_prepare(pid_t leader, int leader_pidfd, const char *cgroup_root, MachineJoin *ret) {
        _cleanup_(machine_join_done) MachineJoin j = MACHINE_JOIN_NULL;
        _cleanup_free_ char *cg = NULL, *procs = NULL;
        char p[64];
        int r;

        j.leader = leader;
        if (leader == 0) {
                j.root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (j.root_fd < 0)
                        return negative_errno();
                r = read_cap_status(0, &j.cap_bounding, &j.no_new_privs);
                if (r < 0)
                        return r;
                *ret = j;
                j = (MachineJoin) MACHINE_JOIN_NULL;
                return 0;
        }

        j.pidfd = fcntl(leader_pidfd, F_DUPFD_CLOEXEC, 3);
        if (j.pidfd < 0)
                return negative_errno();
        snprintf(p, sizeof(p), "/proc/%i/root", (int) leader);
        j.root_fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (j.root_fd < 0)
                return errno == ENOENT ? -ESRCH : negative_errno();
        r = differing_namespaces(leader, &j.namespaces);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        r = read_cap_status(leader, &j.cap_bounding, &j.no_new_privs);
        if (r < 0)
                return r;
        r = proc_cgroup(leader, &cg);
        if (r < 0)
                return r;
        if (asprintf(&procs, "%s%s/cgroup.procs", cgroup_root, streq(cg, "/") ? "" : cg) < 0)
                return -ENOMEM;
        /* Opened now, in our cgroup namespace and as host root: the kernel checks a migration
         * against the opener, so the payload can still move itself once it is inside. */
        j.cgroup_procs_fd = open(procs, O_WRONLY | O_CLOEXEC);
        if (j.cgroup_procs_fd < 0)
                return negative_errno();

        /* All of the above came from /proc/LEADER: make sure LEADER was still the same process
         * once we were done, not a recycled PID. */
        if (pidfd_send_signal(j.pidfd, 0, NULL, 0) < 0)
                return negative_errno();

        *ret = j;
        j = (MachineJoin) MACHINE_JOIN_NULL;
        return 0;
}

int machine_join_read_seccomp(MachineJoin *j) {
        int r;

        if (j->leader == 0) {
                j->seccomp_read = true;
                return 0;
        }
        seccomp_chain_done(&j->seccomp);
        r = seccomp_chain_read(j->leader, &j->seccomp);
        if (r < 0)
                return r;
        /* As in machine_join_prepare(): the filters were read by PID, so make sure that was
         * still the leader. */
        if (pidfd_send_signal(j->pidfd, 0, NULL, 0) < 0)
                return negative_errno();
        j->seccomp_read = true;
        return 0;
}

int machine_join_enter(MachineJoin *j) {
        if (j->namespaces != 0 && setns(j->pidfd, j->namespaces) < 0)
                return negative_errno();
        /* The leader may be chroot()ed below its mount namespace's root: its root is ours. */
        if (fchdir(j->root_fd) < 0 || chroot(".") < 0 || chdir("/") < 0)
                return negative_errno();
        return 0;
}

int machine_join_cgroup(MachineJoin *j) {
        if (j->cgroup_procs_fd < 0)
                return 0;
        /* "0" is the writer itself, whatever PID namespace it sees itself in. */
        if (write(j->cgroup_procs_fd, "0", 1) != 1)
                return negative_errno();
        return 0;
}

void join_user_done(JoinUser *u) {
        free(u->name);
        free(u->home);
        free(u->shell);
        free(u->groups);
        *u = (JoinUser) {};
}

/* Digits only, no sign, below the invalid id (uid_t) -1. */
static int parse_id(const char *s, size_t n, uint32_t *ret) {
        uint64_t v = 0;

        if (n == 0 || n > 10)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        if (v >= UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

/* Splits the line [L, E) at ':' into exactly N fields (pointers and lengths). */
static bool split_fields(const char *l, const char *e, size_t n, const char **f, size_t *len) {
        size_t k = 0;

        f[0] = l;
        for (const char *c = l; c < e; c++)
                if (*c == ':') {
                        if (++k >= n)
                                return false;
                        len[k - 1] = (size_t) (c - f[k - 1]);
                        f[k] = c + 1;
                }
        if (k != n - 1)
                return false;
        len[k] = (size_t) (e - f[k]);
        return true;
}

int passwd_find_user(const char *passwd, const char *name, JoinUser *ret) {
        size_t nl = strlen(name);

        for (const char *l = passwd; l && *l;) {
                const char *e = strchrnul(l, '\n'), *f[7];
                size_t len[7];
                uint32_t uid, gid;

                if (split_fields(l, e, 7, f, len) && len[0] == nl && strncmp(f[0], name, nl) == 0) {
                        _cleanup_(join_user_done) JoinUser u = {};

                        if (parse_id(f[2], len[2], &uid) < 0 || parse_id(f[3], len[3], &gid) < 0)
                                return -EBADMSG;
                        u.uid = uid;
                        u.gid = gid;
                        u.name = strndup(f[0], len[0]);
                        /* Unusable values fall back to what login(1) would use. */
                        u.home = len[5] > 0 && f[5][0] == '/' ? strndup(f[5], len[5]) : strdup("/");
                        u.shell = len[6] > 0 && f[6][0] == '/' ? strndup(f[6], len[6]) : strdup("/bin/sh");
                        if (!u.name || !u.home || !u.shell)
                                return -ENOMEM;
                        *ret = u;
                        u = (JoinUser) {};
                        return 0;
                }
                l = *e ? e + 1 : NULL;
        }
        return -ESRCH;
}

static bool member_listed(const char *f, size_t n, const char *name) {
        size_t nl = strlen(name);

        for (const char *c = f, *end = f + n; c < end;) {
                const char *comma = memchr(c, ',', (size_t) (end - c));
                size_t k = comma ? (size_t) (comma - c) : (size_t) (end - c);

                if (k == nl && strncmp(c, name, nl) == 0)
                        return true;
                c += k + 1;
        }
        return false;
}

int group_find_supplementary(const char *group, const char *name, gid_t primary, gid_t **ret,
                             size_t *ret_n) {
        _cleanup_free_ gid_t *l = NULL;
        size_t n = 0;

        for (const char *line = group; line && *line;) {
                const char *e = strchrnul(line, '\n'), *f[4];
                size_t len[4];
                uint32_t gid;

                if (split_fields(line, e, 4, f, len) && parse_id(f[2], len[2], &gid) >= 0 &&
                    gid != primary && member_listed(f[3], len[3], name)) {
                        bool dup = false;

                        for (size_t i = 0; i < n; i++)
                                dup = dup || l[i] == gid;
                        if (!dup) {
                                gid_t *t;

                                if (n >= JOIN_GROUPS_MAX)
                                        return -E2BIG;
                                t = reallocarray(l, n + 1, sizeof(gid_t));
                                if (!t)
                                        return -ENOMEM;
                                l = t;
                                l[n++] = gid;
                        }
                }
                line = *e ? e + 1 : NULL;
        }
        *ret = TAKE_PTR(l);
        *ret_n = n;
        return 0;
}

int join_user_lookup(int root_fd, const char *name, JoinUser *ret) {
        _cleanup_(join_user_done) JoinUser u = {};
        _cleanup_free_ char *passwd = NULL, *group = NULL;
        int r;

        if (isempty(name))
                name = "root";
        r = read_file_in_root(root_fd, "/etc/passwd", PASSWD_SIZE_MAX, &passwd);
        if (r < 0 && r != -ENOENT)
                return r;
        r = passwd ? passwd_find_user(passwd, name, &u) : -ESRCH;
        if (r == -ESRCH && streq(name, "root")) {
                /* A tree without passwd still has root. */
                u = (JoinUser) { .name = strdup("root"), .home = strdup("/root"), .shell = strdup("/bin/sh") };
                if (!u.name || !u.home || !u.shell)
                        return -ENOMEM;
                r = 0;
        }
        if (r < 0)
                return r;

        r = read_file_in_root(root_fd, "/etc/group", PASSWD_SIZE_MAX, &group);
        if (r < 0 && r != -ENOENT)
                return r;
        if (group) {
                r = group_find_supplementary(group, u.name, u.gid, &u.groups, &u.n_groups);
                if (r < 0)
                        return r;
        }
        *ret = u;
        u = (JoinUser) {};
        return 0;
}

static int capset_all(uint64_t caps, uint64_t inheritable) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = {};

        for (int i = 0; i < 2; i++) {
                d[i].effective = d[i].permitted = (uint32_t) (caps >> (32 * i));
                d[i].inheritable = (uint32_t) (inheritable >> (32 * i));
        }
        return RET_NERRNO(syscall(SYS_capset, &h, d));
}

static uint64_t join_user_caps(const MachineJoin *j, const JoinUser *u) {
        return u->uid == 0 ? j->cap_bounding : 0;
}

/* Installing a filter needs no_new_privs or CAP_SYS_ADMIN. Setting no_new_privs where the
 * leader lacks it would break su and sudo inside; so, like berth-spawn, which installs the
 * filter before it drops capabilities, CAP_SYS_ADMIN is kept until the filters are in. */
static bool join_keeps_admin(const MachineJoin *j, const JoinUser *u) {
        return j->seccomp.n > 0 && !j->no_new_privs &&
               !(join_user_caps(j, u) & (UINT64_C(1) << CAP_SYS_ADMIN));
}

int join_user_apply(const MachineJoin *j, const JoinUser *u) {
        uint64_t caps = join_user_caps(j, u);
        bool keep_admin = join_keeps_admin(j, u);
        int r;

        /* Nothing may run with more than the machine's init could: the bounding set bounds what
         * setuid binaries and file capabilities can give back later, too. */
        for (int cap = 0; cap < 64; cap++) {
                if (j->cap_bounding & (UINT64_C(1) << cap))
                        continue;
                if (prctl(PR_CAPBSET_DROP, (unsigned long) cap, 0, 0, 0) < 0 && errno != EINVAL)
                        return negative_errno();
        }
        if (setgroups(u->n_groups, u->groups) < 0)
                return negative_errno();
        if (setresgid(u->gid, u->gid, u->gid) < 0)
                return negative_errno();
        /* Cleared again by execve(). */
        if (keep_admin && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                return negative_errno();
        if (setresuid(u->uid, u->uid, u->uid) < 0)
                return negative_errno();
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return negative_errno();
        /* For root what is left is the bounding set; for others setresuid() cleared it all. */
        r = capset_all(caps | (keep_admin ? UINT64_C(1) << CAP_SYS_ADMIN : 0), caps);
        if (r < 0)
                return r;
        if (j->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return negative_errno();
        return 0;
}

int join_seccomp_apply(const MachineJoin *j, const JoinUser *u) {
        uint64_t caps = join_user_caps(j, u);
        int r;

        if (!j->seccomp_read)
                return -EPERM;
        r = seccomp_chain_install(&j->seccomp);
        if (r < 0)
                return r;
        if (join_keeps_admin(j, u))
                return capset_all(caps, caps);
        return 0;
}

static int env_set_pair(char ***l, const char *key, const char *value) {
        _cleanup_free_ char *s = NULL;

        if (asprintf(&s, "%s=%s", key, value) < 0)
                return -ENOMEM;
        return strv_env_set(l, s);
}

int join_build_env(const JoinUser *u, const char *default_term, char *const *extra, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = env_set_pair(&l, "PATH", JOIN_DEFAULT_PATH);
        if (r >= 0)
                r = env_set_pair(&l, "HOME", u->home);
        if (r >= 0)
                r = env_set_pair(&l, "USER", u->name);
        if (r >= 0)
                r = env_set_pair(&l, "LOGNAME", u->name);
        if (r >= 0)
                r = env_set_pair(&l, "SHELL", u->shell);
        if (r >= 0 && default_term)
                r = env_set_pair(&l, "TERM", default_term);
        STRV_FOREACH(e, extra)
                if (r >= 0)
                        r = strv_env_set(&l, *e);
        if (r >= 0)
                r = strv_env_set(&l, "container=berth");
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

static int check_executable(int root_fd, const char *path) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = open_in_root(root_fd, path, O_PATH, 0);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0)
                return -EACCES;
        return 0;
}

int join_find_executable(int root_fd, const char *name, const char *search_path, char **ret) {
        int r, last = -ENOENT;

        if (name[0] == '/') {
                r = check_executable(root_fd, name);
                if (r < 0)
                        return r;
                *ret = strdup(name);
                return *ret ? 0 : -ENOMEM;
        }
        for (const char *p = search_path; p && *p;) {
                const char *e = strchrnul(p, ':');
                _cleanup_free_ char *c = NULL;

                /* Relative PATH entries would depend on the working directory: skipped. */
                if (p[0] == '/') {
                        if (asprintf(&c, "%.*s/%s", (int) (e - p), p, name) < 0)
                                return -ENOMEM;
                        r = check_executable(root_fd, c);
                        if (r >= 0) {
                                *ret = TAKE_PTR(c);
                                return 0;
                        }
                        if (r != -ENOENT && r != -ENOTDIR)
                                last = r;
                }
                p = *e ? e + 1 : NULL;
        }
        return last;
}

bool join_user_name_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0)
                return true;
        if (n > JOIN_USER_NAME_MAX)
                return false;
        /* The portable set (POSIX, useradd's default): no leading '-' (option injection), no
         * shell metacharacters, and not all digits (that would read as a uid). */
        if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
                        return false;
        return true;
}

static bool has_control(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < ' ' || *s == 0x7f)
                        return true;
        return false;
}

bool join_program_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n >= PATH_MAX || has_control(s))
                return false;
        if (s[0] == '/')
                return true;
        /* A plain name is looked up in PATH; "bin/sh" would depend on the working directory. */
        return !strchr(s, '/') && !streq(s, ".") && !streq(s, "..");
}

bool join_directory_is_valid(const char *s) {
        size_t n = strlen(s);

        return n == 0 || (s[0] == '/' && n < PATH_MAX && !has_control(s));
}

bool join_env_assignment_is_valid(const char *s) {
        const char *eq = strchr(s, '=');

        if (!eq || eq == s)
                return false;
        if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
                return false;
        for (const char *c = s + 1; c < eq; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                      (*c >= '0' && *c <= '9') || *c == '_'))
                        return false;
        return !strchr(eq, '\n');
}

static bool strings_fit(char *const *l, size_t max_n) {
        size_t n = 0, size = 0;

        STRV_FOREACH(s, l) {
                if (++n > max_n)
                        return false;
                size += strlen(*s) + 1;
                if (size > JOIN_STRINGS_SIZE_MAX)
                        return false;
        }
        return true;
}

bool join_env_is_valid(char *const *env) {
        if (!strings_fit(env, JOIN_ENV_MAX))
                return false;
        STRV_FOREACH(e, env)
                if (!join_env_assignment_is_valid(*e))
                        return false;
        return true;
}

bool join_argv_is_valid(char *const *argv) {
        return argv && argv[0] && strings_fit(argv, JOIN_ARGV_MAX) && join_program_is_valid(argv[0]);
}
