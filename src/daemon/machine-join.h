/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Running a process inside a machine from a forked worker: joining its namespaces, root and
 * cgroup, resolving users from the machine's own /etc/passwd, and a clean environment. Works for
 * any init (busybox, no D-Bus inside), because nothing inside the machine is asked for help. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "machine-seccomp.h"
#include "macro.h"

/* Limits of what a caller may hand us (B16: refused with InvalidArgs before polkit). */
#define JOIN_ARGV_MAX 4096U
#define JOIN_ENV_MAX 1024U
#define JOIN_STRINGS_SIZE_MAX (256U * 1024U) /* all of argv or all of env together */
#define JOIN_USER_NAME_MAX 32U

#define JOIN_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* What a worker gathers about the machine while it still sees the host. */
typedef struct MachineJoin {
        pid_t leader;          /* 0: the host itself (".host"), nothing to join */
        int pidfd;             /* the leader's pidfd (our own copy) */
        int root_fd;           /* the leader's root directory (/proc/LEADER/root) */
        int cgroup_procs_fd;   /* cgroup.procs of the leader's cgroup, open for writing */
        int namespaces;        /* CLONE_NEW* of the leader's namespaces that differ from ours */
        uint64_t cap_bounding; /* the leader's capability bounding set */
        bool no_new_privs;     /* the leader runs with no_new_privs */
        SeccompChain seccomp;  /* the leader's syscall filters, oldest first */
        bool seccomp_read;     /* machine_join_read_seccomp() succeeded */
} MachineJoin;

#define MACHINE_JOIN_NULL { .pidfd = -EBADF, .root_fd = -EBADF, .cgroup_procs_fd = -EBADF }

/* Opens everything needed to enter the machine whose leader is LEADER (LEADER_PIDFD, which is
 * duplicated; LEADER 0 = the host); CGROUP_ROOT is the cgroup2 mount point. Checks the leader is
 * still the process behind the pidfd. */
int machine_join_prepare(pid_t leader, int leader_pidfd, const char *cgroup_root, MachineJoin *ret);
void machine_join_done(MachineJoin *j);

/* Reads the leader's seccomp filters (call it before machine_join_enter(), while we still see
 * the host's /proc): the leader is stopped for the moment of the read. The host (".host") has
 * none to copy: what a worker runs inherits berthd's own. Without this, join_seccomp_apply()
 * refuses, so that nothing runs unfiltered by mistake. */
int machine_join_read_seccomp(MachineJoin *j);

/* Joins the machine's namespaces (setns, only those that differ) and its root directory; the
 * working directory is then "/". PID namespaces apply to children only: fork after this. */
int machine_join_enter(MachineJoin *j);

/* Moves the calling process into the leader's cgroup (call in the forked payload), so that it
 * is killed with the machine. */
int machine_join_cgroup(MachineJoin *j);

/* A user of the machine, from its own /etc/passwd and /etc/group (never the host's NSS). */
typedef struct JoinUser {
        char *name;
        uid_t uid;
        gid_t gid;
        char *home;
        char *shell;
        gid_t *groups; /* supplementary groups */
        size_t n_groups;
} JoinUser;

void join_user_done(JoinUser *u);
/* Finds NAME ("" or NULL: root) in the passwd and group files of the tree at ROOT_FD, resolving
 * paths inside it. -ESRCH if there is no such user, -EINVAL/-EBADMSG for unusable entries. */
int join_user_lookup(int root_fd, const char *name, JoinUser *ret);
/* The pure parsers behind it. */
int passwd_find_user(const char *passwd, const char *name, JoinUser *ret);
int group_find_supplementary(const char *group, const char *name, gid_t primary, gid_t **ret,
                             size_t *ret_n);

/* Becomes U: supplementary groups, gid, uid; capabilities limited to the leader's bounding set
 * (and all of them gone for non-root users, ambient ones too), no_new_privs like the leader.
 * When filters must still be installed without no_new_privs, CAP_SYS_ADMIN stays until
 * join_seccomp_apply(), which must follow. */
int join_user_apply(const MachineJoin *j, const JoinUser *u);
/* Installs the leader's filters (as late as possible: the process's own setup must not depend on
 * what the machine allows) and drops what join_user_apply() kept for that. */
int join_seccomp_apply(const MachineJoin *j, const JoinUser *u);

/* PATH, HOME, USER, LOGNAME, SHELL, TERM (DEFAULT_TERM unless EXTRA sets it), then EXTRA
 * (validated KEY=VALUE entries, later ones win), then container=berth. */
int join_build_env(const JoinUser *u, const char *default_term, char *const *extra, char ***ret);

/* Finds NAME (a plain file name) in the colon-separated SEARCH_PATH below ROOT_FD: an executable
 * regular file. Returns the absolute path inside the tree; an absolute NAME is checked as is. */
int join_find_executable(int root_fd, const char *name, const char *search_path, char **ret);

/* Validation of caller input, done before polkit is asked. */
bool join_user_name_is_valid(const char *s);     /* "" (root) or a portable user name */
bool join_program_is_valid(const char *s);       /* an absolute path or a plain file name */
bool join_directory_is_valid(const char *s);     /* "" or an absolute path */
bool join_env_assignment_is_valid(const char *s);/* KEY=VALUE, KEY [A-Za-z_][A-Za-z0-9_]*, no \n */
/* Count and total size limits, and each entry with join_env_assignment_is_valid(). */
bool join_env_is_valid(char *const *env);
bool join_argv_is_valid(char *const *argv);      /* non-empty, limits, argv[0] a program */
