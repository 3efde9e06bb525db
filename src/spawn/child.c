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

/* Like execvpe(), but searching the container's $PATH (from ENV), not berth-spawn's own. */
static void exec_in_path(char *const *argv, char *const *env) {
        const char *path = strv_env_get(env, "PATH") ?: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        int saved = ENOENT;

        if (strchr(argv[0], '/')) {
                execve(argv[0], argv, env);
                return;
        }
        for (const char *p = path; *p;) {
                size_t l = strcspn(p, ":");
                char full[PATH_MAX];

                if (l > 0 && (size_t) snprintf(full, sizeof(full), "%.*s/%s", (int) l, p, argv[0]) < sizeof(full)) {
                        execve(full, argv, env);
                        /* Keep looking past missing files, but report what really failed. */
                        if (errno != ENOENT && errno != ENOTDIR)
                                saved = errno;
                }
                p += l + (p[l] == ':');
        }
        errno = saved;
}

_Noreturn static void exec_command(const ChildContext *c) {
        const Settings *s = c->settings;
        _cleanup_strv_free_ char **env = strv_copy(c->environment);
        UserRecord u = {};
        int r;

        if (!env)
                _exit(EXIT_FAILURE);
        if (s->user) {
                _cleanup_close_ int root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

                r = root_fd < 0 ? negative_errno() : user_lookup(root_fd, s->user, &u);
                if (r < 0) {
                        log_error_errno(r, "Failed to look up user '%s' in the container: %m", s->user);
                        _exit(EXIT_FAILURE);
                }
                r = user_switch(&u);
                if (r < 0) {
                        log_error_errno(r, "Failed to switch to user '%s': %m", s->user);
                        _exit(EXIT_FAILURE);
                }
                if (!s->chdir && chdir(u.home) < 0)
                        (void) chdir("/");
                {
                        char *h = NULL;
                        if (asprintf(&h, "HOME=%s", u.home) >= 0)
                                (void) strv_env_set(&env, h);
                        free(h);
                }
        }
        if (s->chdir && chdir(s->chdir) < 0) {
                log_error_errno(negative_errno(), "Failed to change directory to %s: %m", s->chdir);
                _exit(EXIT_FAILURE);
        }
        exec_in_path(s->parameters, env);
        log_error_errno(negative_errno(), "Failed to execute %s: %m", s->parameters[0]);
        _exit(errno == ENOENT ? 127 : 126);
}

_Noreturn static void exec_payload(const ChildContext *c) {
        const Settings *s = c->settings;

        if (s->boot) {
                _cleanup_strv_free_ char **argv = NULL;

                if (strv_extend(&argv, c->init_path) < 0)
                        _exit(EXIT_FAILURE);
                STRV_FOREACH(p, s->parameters)
                        if (strv_extend(&argv, *p) < 0)
                                _exit(EXIT_FAILURE);
                execve(c->init_path, argv, c->environment);
                log_error_errno(negative_errno(), "Failed to execute %s: %m", c->init_path);
                _exit(EXIT_FAILURE);
        }
        if (s->as_pid1)
                exec_command(c);

        /* berth-init stays PID 1 with every signal blocked; the command gets a clean mask. The
         * command waits until berth-init has replaced us (the exec closes the pipe), so nothing
         * in the container ever sees berth-spawn's host binary as /proc/1/exe. */
        {
                sigset_t all, none;
                int pipefd[2];
                pid_t pid;
                char x;

                sigfillset(&all);
                sigemptyset(&none);
                (void) sigprocmask(SIG_SETMASK, &all, NULL);
                if (pipe2(pipefd, O_CLOEXEC) < 0) {
                        log_error_errno(negative_errno(), "Failed to make a pipe: %m");
                        _exit(EXIT_FAILURE);
                }
                pid = fork();
                if (pid < 0) {
                        log_error_errno(negative_errno(), "Failed to fork the command: %m");
                        _exit(EXIT_FAILURE);
                }
                if (pid == 0) {
                        safe_close(pipefd[1]);
                        while (read(pipefd[0], &x, 1) < 0 && errno == EINTR)
                                ;
                        safe_close(pipefd[0]);
                        (void) sigprocmask(SIG_SETMASK, &none, NULL);
                        exec_command(c);
                }
                safe_close(pipefd[0]);
                stub_init_exec(pid);
        }
}

_Noreturn void child_run(const ChildContext *c) {
        int notify_fd = -EBADF, r;

        /* If the supervisor dies, so does the container: nobody would be left to clean up. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                fail(c->sync_fd, negative_errno());

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
