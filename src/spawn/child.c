/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The container side: what the container's first process does between clone and exec, and the
 * setup process that builds a locked mount namespace for user-namespaced containers. */
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "caps.h"
#include "child.h"
#include "fd-util.h"
#include "log.h"
#include "network.h"
#include "seccomp-filter.h"
#include "stub-init.h"
#include "strv.h"
#include "sync.h"
#include "user.h"

/* Reports R to the supervisor (which already has the message on stderr) and dies. */
_Noreturn static void fail(int sync_fd, int r) {
        (void) sync_send(sync_fd, SYNC_FAILED, r < 0 ? r : -EIO, -1);
        _exit(EXIT_FAILURE);
}

static int become_root_in_userns(void) {
        /* Created by host root, we are "nobody" inside until we take the mapped root IDs. */
        if (setresgid(0, 0, 0) < 0 || setgroups(0, NULL) < 0 || setresuid(0, 0, 0) < 0)
                return log_error_errno(negative_errno(), "Failed to become root in the user namespace: %m");
        /* Changing our IDs cleared the parent-death signal: without it a killed supervisor
         * would leave the container running, with nobody to clean up after it. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                return negative_errno();
        return 0;
}

static int setup_console(void) {
        _cleanup_close_ int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);

        if (fd < 0)
                return log_error_errno(negative_errno(), "Failed to open /dev/console: %m");
        if (ioctl(fd, TIOCSCTTY, 0) < 0)
                return log_error_errno(negative_errno(), "Failed to make /dev/console our terminal: %m");
        for (int i = 0; i < 3; i++)
                if (dup2(fd, i) < 0)
                        return negative_errno();
        return 0;
}

/* Leaves only what the payload may have: stdio, its own terminal, no host fd (probe A08). */
static int seal(const ChildContext *c) {
        const Settings *s = c->settings;
        sigset_t none;
        int r;

        if (setsid() < 0)
                return log_error_errno(negative_errno(), "Failed to start a new session: %m");
        if (c->console_pty) {
                r = setup_console();
                if (r < 0)
                        return r;
        }
        r = close_all_fds_except(NULL, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to close file descriptors: %m");
        umask(0022);
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        if (s->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return log_error_errno(negative_errno(), "Failed to set no_new_privs: %m");
        /* The filter first: installing it needs CAP_SYS_ADMIN (or no_new_privs), which the
         * payload may be about to lose. Both log their own errors. */
        r = seccomp_apply(s, c->caps_keep);
        if (r < 0)
                return r;
        return caps_apply(c->caps_keep);
}

/* The command's path, searched in the container's $PATH (from ENV), not in berth-spawn's. */
static int find_command(const char *name, char *const *env, char **ret) {
        const char *path = strv_env_get(env, "PATH") ?: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

        if (strchr(name, '/')) {
                if (access(name, F_OK) < 0)
                        return negative_errno();
                *ret = strdup(name);
                return *ret ? 0 : -ENOMEM;
        }
        for (const char *p = path; *p;) {
                size_t l = strcspn(p, ":");
                _cleanup_free_ char *full = NULL;

                if (l > 0 && asprintf(&full, "%.*s/%s", (int) l, p, name) >= 0 && access(full, X_OK) >= 0) {
                        *ret = TAKE_PTR(full);
                        return 0;
                }
                p += l + (p[l] == ':');
        }
        return -ENOENT;
}

/* Everything the command needs, looked up here where failures can still be told apart:
 * the user, the working directory, the environment and the path of the binary. */
typedef struct Command {
        UserRecord user;
        char *path;
        char *dir;
        char **env;
} Command;

static void command_done(Command *c) {
        user_record_done(&c->user);
        free(c->path);
        free(c->dir);
        strv_free(c->env);
}

static int command_prepare(const ChildContext *c, Command *ret) {
        const Settings *s = c->settings;
        Command cmd = { .env = strv_copy(c->environment) };
        int r;

        if (!cmd.env)
                return log_oom();
        if (s->user) {
                _cleanup_close_ int root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                _cleanup_free_ char *home = NULL;

                r = root_fd < 0 ? negative_errno() : user_lookup(root_fd, s->user, &cmd.user);
                if (r < 0) {
                        command_done(&cmd);
                        return log_error_errno(r, "Failed to look up user '%s' in the container: %m", s->user);
                }
                if (asprintf(&home, "HOME=%s", cmd.user.home) < 0 || strv_env_set(&cmd.env, home) < 0) {
                        command_done(&cmd);
                        return log_oom();
                }
        }
        /* A user's home that does not exist (nobody's /nonexistent) means "/", as login does. */
        cmd.dir = strdup(s->chdir ?: s->user && access(cmd.user.home, X_OK) >= 0 ? cmd.user.home : "/");
        r = cmd.dir ? find_command(s->parameters[0], cmd.env, &cmd.path) : -ENOMEM;
        if (r < 0) {
                command_done(&cmd);
                return log_error_errno(r, "Failed to execute %s: %m", s->parameters[0]);
        }
        *ret = cmd;
        return 0;
}

_Noreturn static void exec_as_pid1(const ChildContext *c, Command *cmd) {
        int r = user_switch(&cmd->user);

        if (r < 0)
                log_error_errno(r, "Failed to switch to user '%s': %m", c->settings->user);
        else if (chdir(cmd->dir) < 0)
                log_error_errno(negative_errno(), "Failed to change directory to %s: %m", cmd->dir);
        else {
                execve(cmd->path, c->settings->parameters, cmd->env);
                log_error_errno(negative_errno(), "Failed to execute %s: %m", cmd->path);
                _exit(errno == ENOENT ? 127 : 126);
        }
        _exit(126);
}

/* "1,2,3", or "-" for none. */
static char *format_groups(const UserRecord *u) {
        char *s = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);

        if (!f)
                return NULL;
        for (size_t i = 0; i < u->n_groups; i++)
                fprintf(f, "%s%u", i > 0 ? "," : "", (unsigned) u->groups[i]);
        if (u->n_groups == 0)
                fputs("-", f);
        return fclose(f) == 0 ? s : NULL;
}

_Noreturn static void exec_payload(const ChildContext *c) {
        const Settings *s = c->settings;
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *groups = NULL;
        char uid[16], gid[16];
        Command cmd = {};
        sigset_t all;
        int r;

        if (s->boot) {
                if (strv_extend(&argv, c->init_path) < 0)
                        _exit(EXIT_FAILURE);
                STRV_FOREACH(p, s->parameters)
                        if (strv_extend(&argv, *p) < 0)
                                _exit(EXIT_FAILURE);
                execve(c->init_path, argv, c->environment);
                log_error_errno(negative_errno(), "Failed to execute %s: %m", c->init_path);
                _exit(EXIT_FAILURE);
        }

        r = command_prepare(c, &cmd);
        if (r < 0)
                _exit(r == -ENOENT ? 127 : EXIT_FAILURE);
        if (s->as_pid1)
                exec_as_pid1(c, &cmd);

        /* berth-init becomes PID 1 with every signal blocked and starts the command itself. */
        snprintf(uid, sizeof(uid), "%u", (unsigned) cmd.user.uid);
        snprintf(gid, sizeof(gid), "%u", (unsigned) cmd.user.gid);
        groups = format_groups(&cmd.user);
        if (!groups || strv_extend(&argv, "berth-init") < 0 || strv_extend(&argv, uid) < 0 ||
            strv_extend(&argv, gid) < 0 || strv_extend(&argv, groups) < 0 ||
            strv_extend(&argv, cmd.dir) < 0 || strv_extend(&argv, cmd.path) < 0)
                _exit(EXIT_FAILURE);
        STRV_FOREACH(p, s->parameters)
                if (strv_extend(&argv, *p) < 0)
                        _exit(EXIT_FAILURE);
        sigfillset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, NULL);
        stub_init_exec(argv, cmd.env);
}

_Noreturn void child_run(const ChildContext *c) {
        int notify_fd = -EBADF, r;

        /* If the supervisor dies, so does the container: nobody would be left to clean up. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                fail(c->sync_fd, negative_errno());

        /* Registered with berthd, the container was cloned where we run and berthd moved it
         * into its scope: only now is the cgroup to root a namespace at known. */
        if (c->defer_cgroupns) {
                r = sync_recv(c->sync_fd, SYNC_CGROUP, NULL);
                if (r < 0)
                        _exit(EXIT_FAILURE);
                if (unshare(CLONE_NEWCGROUP) < 0)
                        fail(c->sync_fd, log_error_errno(negative_errno(), "Failed to make the cgroup namespace: %m"));
                r = sync_send(c->sync_fd, SYNC_CGROUP, 0, -1);
                if (r < 0)
                        _exit(EXIT_FAILURE);
        }

        if (c->userns) {
                _cleanup_close_ int mnt_fd = -EBADF;

                r = sync_recv(c->sync_fd, SYNC_MOUNT_NS, &mnt_fd);
                if (r < 0)
                        _exit(EXIT_FAILURE); /* the setup process told the supervisor why */
                r = become_root_in_userns();
                if (r < 0)
                        fail(c->sync_fd, r);
                if (setns(mnt_fd, CLONE_NEWNS) < 0)
                        fail(c->sync_fd, log_error_errno(negative_errno(), "Failed to join the container's mount namespace: %m"));
                if (chdir("/") < 0)
                        fail(c->sync_fd, negative_errno());
        } else {
                r = mount_setup(&c->mount, &notify_fd);
                if (r < 0)
                        fail(c->sync_fd, r);
        }

        if (sethostname(c->hostname, strlen(c->hostname)) < 0)
                fail(c->sync_fd, log_error_errno(negative_errno(), "Failed to set the hostname: %m"));
        if (c->mount.private_network) {
                r = network_loopback_up();
                if (r < 0)
                        fail(c->sync_fd, r);
        }

        r = sync_send(c->sync_fd, SYNC_SETUP_DONE, 0, notify_fd);
        safe_close(notify_fd);
        if (r < 0)
                _exit(EXIT_FAILURE);
        r = sync_recv(c->sync_fd, SYNC_GO, NULL);
        if (r < 0)
                _exit(EXIT_FAILURE);

        r = seal(c);
        if (r < 0)
                _exit(EXIT_FAILURE);
        exec_payload(c);
}

_Noreturn void setup_process_run(const MountContext *m, int pidfd, int child_sync_fd, int supervisor_sync_fd) {
        _cleanup_close_ int notify_fd = -EBADF, mnt_fd = -EBADF;
        int r;

        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                goto fail_errno;
        if (setns(pidfd, CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWIPC) < 0) {
                r = log_error_errno(negative_errno(), "Failed to join the container's namespaces: %m");
                goto fail;
        }
        if (unshare(CLONE_NEWNS) < 0)
                goto fail_errno;
        r = mount_setup(m, &notify_fd);
        if (r < 0)
                goto fail;
        if (setns(pidfd, CLONE_NEWUSER) < 0) {
                r = log_error_errno(negative_errno(), "Failed to join the container's user namespace: %m");
                goto fail;
        }
        /* The copy belongs to the container's user namespace: everything in it is locked. */
        if (unshare(CLONE_NEWNS) < 0)
                goto fail_errno;
        mnt_fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
        if (mnt_fd < 0)
                goto fail_errno;
        r = sync_send(child_sync_fd, SYNC_MOUNT_NS, 0, mnt_fd);
        if (r < 0)
                goto fail;
        r = sync_send(supervisor_sync_fd, SYNC_SETUP_DONE, 0, notify_fd);
        _exit(r < 0 ? EXIT_FAILURE : EXIT_SUCCESS);

fail_errno:
        r = log_error_errno(negative_errno(), "Failed to set up the container's mounts: %m");
fail:
        (void) sync_send(child_sync_fd, SYNC_FAILED, r, -1);
        (void) sync_send(supervisor_sync_fd, SYNC_FAILED, r, -1);
        _exit(EXIT_FAILURE);
}
