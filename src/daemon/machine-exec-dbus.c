/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ExecInMachine, OpenMachinePTY, OpenMachineLogin and OpenMachineShell: running things inside a
 * machine (or on the host, ".host") from forked workers, answered when they are done. */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "bus-errors.h"
#include "fd-util.h"
#include "log.h"
#include "machine-dbus.h"
#include "machine-exec-dbus.h"
#include "machine-join.h"
#include "manager.h"
#include "manager-dbus.h"
#include "operation.h"
#include "strv.h"

typedef enum JoinKind {
        JOIN_EXEC,
        JOIN_SHELL,
        JOIN_LOGIN,
        JOIN_PTY,
} JoinKind;

/* Everything a worker needs, gathered in berthd before the fork. */
typedef struct JoinRequest {
        JoinKind kind;
        const char *machine;  /* for messages */
        pid_t leader;         /* 0: the host */
        int leader_pidfd;
        const char *cgroup_root;
        const char *user;
        const char *program;  /* Shell: "" = the user's shell */
        char **argv;
        char **env;
        const char *cwd;
        int fds[3];           /* Exec: the caller's stdin, stdout, stderr (the message's) */
} JoinRequest;

/* The payload reports why it could not exec: the stage and the errno. */
typedef struct PayloadError {
        int stage;
        int error;
} PayloadError;

enum {
        STAGE_CGROUP,
        STAGE_SETUP,
        STAGE_CWD,
        STAGE_USER,
        STAGE_SECCOMP,
        STAGE_EXEC,
};

static const char *const stage_what[] = {
        [STAGE_CGROUP] = "join the machine's cgroup",
        [STAGE_SETUP] = "set up the terminal or file descriptors",
        [STAGE_CWD] = "change to the working directory",
        [STAGE_USER] = "become the user",
        [STAGE_SECCOMP] = "apply the machine's seccomp filter",
        [STAGE_EXEC] = "execute the program",
};

/* Exec's result, sent by the worker. */
typedef struct ExecStatus {
        int32_t code;   /* CLD_EXITED, CLD_KILLED, CLD_DUMPED */
        int32_t status; /* exit status or signal */
} ExecStatus;

static _noreturn_ void payload_fail(int errfd, int stage, int error) {
        PayloadError e = { .stage = stage, .error = error };

        (void) !write(errfd, &e, sizeof(e));
        _exit(127);
}

/* 0, 1 and 2 become exactly FDS (which may be any numbers, even 0..2 in another order). */
static int install_stdio(const int fds[3]) {
        int tmp[3];

        for (int i = 0; i < 3; i++) {
                tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
                if (tmp[i] < 0)
                        return negative_errno();
        }
        for (int i = 0; i < 3; i++)
                if (dup2(tmp[i], i) < 0)
                        return negative_errno();
        return 0;
}

/* In the payload: everything after the fork, up to execve(). Never returns. */
static _noreturn_ void payload_exec(MachineJoin *j, const JoinRequest *req, const JoinUser *u,
                                    const char *path, char **env, int errfd, int tty,
                                    pid_t parent) {
        const char *cwd;
        int keep[1] = { errfd };
        int r;

        if (machine_join_cgroup(j) < 0)
                payload_fail(errfd, STAGE_CGROUP, negative_errno());
        if (setsid() < 0)
                payload_fail(errfd, STAGE_SETUP, negative_errno());
        if (tty >= 0) {
                int fds[3] = { tty, tty, tty };

                /* A session leader's controlling tty: job control, and SIGHUP when the other
                 * side goes away. */
                if (ioctl(tty, TIOCSCTTY, 0) < 0)
                        payload_fail(errfd, STAGE_SETUP, negative_errno());
                r = install_stdio(fds);
        } else
                r = install_stdio(req->fds);
        if (r < 0)
                payload_fail(errfd, STAGE_SETUP, r);
        r = close_all_fds_except(keep, 1);
        if (r >= 0)
                r = rlimit_nofile_safe();
        if (r < 0)
                payload_fail(errfd, STAGE_SETUP, r);

        /* Exec starts where asked, or in "/"; an interactive shell in the user's home. */
        cwd = !isempty(req->cwd) ? req->cwd : req->kind == JOIN_EXEC ? "/" : u->home;
        if (chdir(cwd) < 0) {
                if (!isempty(req->cwd) || req->kind == JOIN_EXEC)
                        payload_fail(errfd, STAGE_CWD, negative_errno());
                (void) chdir("/");
        }
        r = join_user_apply(j, u);
        if (r < 0)
                payload_fail(errfd, STAGE_USER, r);
        r = join_seccomp_apply(j, u);
        if (r < 0)
                payload_fail(errfd, STAGE_SECCOMP, r);
        /* Exec's command dies with its worker (caller gone, berthd gone). Set after the
         * credential change, which clears it; our parent, outside our PID namespace, shows 0. */
        if (req->kind == JOIN_EXEC &&
            (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent))
                _exit(127);
        execve(path, req->argv, env);
        payload_fail(errfd, STAGE_EXEC, negative_errno());
}

static int waitpid_retry(pid_t pid, int *ret_code, int *ret_status) {
        siginfo_t si = {};

        while (waitid(P_PID, (id_t) pid, &si, WEXITED) < 0)
                if (errno != EINTR)
                        return negative_errno();
        *ret_code = si.si_code;
        *ret_status = si.si_status;
        return 0;
}

/* Reads the payload's error report: 0 when it exec()ed (EOF), 1 with *RET filled. */
static int read_payload_error(int fd, PayloadError *ret) {
        ssize_t n;

        do
                n = read(fd, ret, sizeof(*ret));
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        return n == (ssize_t) sizeof(*ret) ? 1 : 0;
}

static _noreturn_ void worker_fail(int result_fd, int error, const char *name, const char *what,
                                   const JoinRequest *req) {
        (void) operation_report_errorf(result_fd, error, name, "Failed to %s in machine %s: %s",
                                       what, req->machine, strerror(-error));
        _exit(EXIT_FAILURE);
}

/* The pty the payload will get, allocated in the machine's own devpts. */
static int open_pty(int *ret_master, char **ret_path) {
        _cleanup_close_ int master = -EBADF;
        unsigned n;

        master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0)
                return negative_errno();
        if (unlockpt(master) < 0 || ioctl(master, TIOCGPTN, &n) < 0)
                return negative_errno();
        if (asprintf(ret_path, "/dev/pts/%u", n) < 0)
                return -ENOMEM;
        *ret_master = TAKE_FD(master);
        return 0;
}

/* What to run, found inside the machine. */
static int resolve_program(const MachineJoin *j, const JoinRequest *req, const JoinUser *u,
                           char **env, char **ret_path, char ***ret_argv) {
        _cleanup_strv_free_ char **argv = NULL;
        const char *search = strv_env_get(env, "PATH") ?: JOIN_DEFAULT_PATH;
        int r;

        switch (req->kind) {
        case JOIN_EXEC:
                return join_find_executable(j->root_fd, req->argv[0], search, ret_path);
        case JOIN_LOGIN:
                r = join_find_executable(j->root_fd, "/bin/login", NULL, ret_path);
                if (r < 0)
                        r = join_find_executable(j->root_fd, "/usr/bin/login", NULL, ret_path);
                if (r < 0)
                        return r;
                if (strv_extend(&argv, "login") < 0)
                        return -ENOMEM;
                break;
        case JOIN_SHELL:
                if (!isempty(req->program)) {
                        r = join_find_executable(j->root_fd, req->program, NULL, ret_path);
                        if (r < 0)
                                return r;
                        if (!req->argv || !req->argv[0])
                                r = strv_extend(&argv, req->program);
                } else {
                        _cleanup_free_ char *dash = NULL;
                        const char *base;

                        /* The user's shell, or /bin/sh when the tree lacks it; as a login
                         * shell ("-sh"), which reads the profile. */
                        r = join_find_executable(j->root_fd, u->shell, NULL, ret_path);
                        if (r < 0)
                                r = join_find_executable(j->root_fd, "/bin/sh", NULL, ret_path);
                        if (r < 0)
                                return r;
                        base = strrchr(*ret_path, '/') + 1;
                        if (asprintf(&dash, "-%s", base) < 0)
                                return -ENOMEM;
                        if (!req->argv || !req->argv[0])
                                r = strv_consume(&argv, TAKE_PTR(dash));
                }
                if (r < 0)
                        return r;
                break;
        case JOIN_PTY:
                return 0;
        }
        if (argv)
                *ret_argv = TAKE_PTR(argv);
        return 0;
}

/* Gives the pty slave to the user who gets it, as login(1) would. */
static int pty_peer(int master, const JoinUser *u) {
        _cleanup_close_ int slave = -EBADF;

        slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return negative_errno();
        if (u->uid != 0 && (fchown(slave, u->uid, (gid_t) -1) < 0 || fchmod(slave, 0620) < 0))
                return negative_errno();
        return TAKE_FD(slave);
}

static int cmp_int(const void *a, const void *b) {
        return *(const int *) a < *(const int *) b ? -1 : *(const int *) a > *(const int *) b;
}

/* Runs in the worker: joins the machine, starts the payload, reports. Never returns. */
static _noreturn_ void join_worker(const JoinRequest *req_in, int result_fd) {
        _cleanup_(machine_join_done) MachineJoin j = MACHINE_JOIN_NULL;
        _cleanup_(join_user_done) JoinUser u = {};
        _cleanup_strv_free_ char **env = NULL, **argv = NULL;
        _cleanup_free_ char *path = NULL, *pty_path = NULL;
        _cleanup_close_pair_ int errpipe[2] = { -EBADF, -EBADF };
        _cleanup_close_ int master = -EBADF, slave = -EBADF;
        JoinRequest req = *req_in;
        PayloadError pe;
        pid_t worker = getpid(), pid;
        int keep[5] = { result_fd, req.leader_pidfd, req.fds[0], req.fds[1], req.fds[2] };
        int r, code, status;

        /* Other callers' fds (in their messages) and other workers' channels are not ours:
         * holding them would delay EOFs others wait for. */
        qsort(keep, ELEMENTSOF(keep), sizeof(int), cmp_int);
        r = close_all_fds_except(keep, ELEMENTSOF(keep));
        if (r < 0)
                worker_fail(result_fd, r, NULL, "close file descriptors", &req);
        r = machine_join_prepare(req.leader, req.leader_pidfd, req.cgroup_root, &j);
        if (r < 0)
                worker_fail(result_fd, r, r == -ESRCH ? BUS_ERROR_NO_SUCH_MACHINE : NULL,
                            "find the leader", &req);
        /* What runs inside is filtered like the machine's own processes; when the filter cannot
         * be copied nothing runs (a pty alone runs nothing). */
        if (req.kind != JOIN_PTY) {
                r = machine_join_read_seccomp(&j);
                if (r < 0)
                        worker_fail(result_fd, r, r == -ESRCH ? BUS_ERROR_NO_SUCH_MACHINE : NULL,
                                    "copy the leader's seccomp filter (refusing to run unfiltered)", &req);
        }
        r = join_user_lookup(j.root_fd, req.kind == JOIN_EXEC || req.kind == JOIN_SHELL ? req.user : "", &u);
        if (r == -ESRCH)
                worker_fail(result_fd, r, BUS_ERROR_NO_SUCH_USER, "find the user", &req);
        if (r < 0)
                worker_fail(result_fd, r, NULL, "look up the user", &req);
        r = join_build_env(&u, req.kind == JOIN_EXEC ? "dumb" : "vt220", req.env, &env);
        if (r < 0)
                worker_fail(result_fd, r, NULL, "build the environment", &req);
        r = resolve_program(&j, &req, &u, env, &path, &argv);
        if (r < 0)
                worker_fail(result_fd, r, BUS_ERROR_NO_SUCH_COMMAND, "find the program", &req);
        if (argv)
                req.argv = argv;

        r = machine_join_enter(&j);
        if (r < 0)
                worker_fail(result_fd, r, NULL, "enter the namespaces", &req);
        if (req.kind != JOIN_EXEC) {
                r = open_pty(&master, &pty_path);
                if (r < 0)
                        worker_fail(result_fd, r, NULL, "allocate a pty", &req);
                if (req.kind == JOIN_PTY) {
                        r = operation_report(result_fd, 0, pty_path, strlen(pty_path) + 1, master);
                        _exit(r < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
                }
                slave = pty_peer(master, &u);
                if (slave < 0)
                        worker_fail(result_fd, slave, NULL, "open the pty", &req);
        }

        if (pipe2(errpipe, O_CLOEXEC) < 0)
                worker_fail(result_fd, negative_errno(), NULL, "make a pipe", &req);
        pid = fork();
        if (pid < 0)
                worker_fail(result_fd, negative_errno(), NULL, "fork", &req);
        if (pid == 0) {
                errpipe[0] = safe_close(errpipe[0]);
                if (req.kind == JOIN_EXEC)
                        payload_exec(&j, &req, &u, path, env, errpipe[1], -EBADF,
                                     (j.namespaces & CLONE_NEWPID) ? 0 : worker);
                /* A shell outlives us: fork once more, so that it is the machine's init that
                 * reaps it, not a worker that is about to exit. */
                pid = fork();
                if (pid < 0)
                        payload_fail(errpipe[1], STAGE_SETUP, negative_errno());
                if (pid > 0)
                        _exit(EXIT_SUCCESS);
                payload_exec(&j, &req, &u, path, env, errpipe[1], slave, 0);
        }
        errpipe[1] = safe_close(errpipe[1]);
        slave = safe_close(slave);
        /* The caller's fds are the payload's now; holding them would delay its EOFs. */
        for (int i = 0; i < 3; i++)
                if (req.fds[i] >= 0)
                        (void) close(req.fds[i]);

        r = read_payload_error(errpipe[0], &pe);
        if (r > 0) {
                (void) waitpid_retry(pid, &code, &status);
                if (pe.stage < 0 || pe.stage > STAGE_EXEC || pe.error >= 0)
                        worker_fail(result_fd, -EPROTO, NULL, "start the program", &req);
                worker_fail(result_fd, pe.error,
                            pe.stage == STAGE_EXEC && pe.error == -ENOENT ? BUS_ERROR_NO_SUCH_COMMAND : NULL,
                            stage_what[pe.stage], &req);
        }
        r = waitpid_retry(pid, &code, &status);
        if (r < 0)
                worker_fail(result_fd, r, NULL, "wait for the program", &req);
        if (req.kind == JOIN_EXEC) {
                ExecStatus es = { .code = code, .status = status };

                r = operation_report(result_fd, 0, &es, sizeof(es), -EBADF);
        } else
                r = operation_report(result_fd, 0, pty_path, strlen(pty_path) + 1, master);
        _exit(r < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
}

static int exec_done(Operation *o, OperationResult *result, void *userdata, sd_bus_error *error) {
        ExecStatus es;

        if (result->error < 0)
                return result->error; /* the worker's own error name and message are used */
        if (result->size != sizeof(es))
                return -EPROTO;
        memcpy(&es, result->data, sizeof(es));
        /* Exit: (status, 0). Death by a signal: (-1, signal), never mistaken for an exit. */
        if (es.code == CLD_EXITED)
                return sd_bus_reply_method_return(operation_get_message(o), "ii", es.status, 0);
        return sd_bus_reply_method_return(operation_get_message(o), "ii", -1, es.status);
}

static int pty_done(Operation *o, OperationResult *result, void *userdata, sd_bus_error *error) {
        const char *path = result->data;

        if (result->error < 0)
                return result->error;
        if (result->fd < 0 || !path || result->size < 2 || path[result->size - 1] != 0)
                return -EPROTO;
        return sd_bus_reply_method_return(operation_get_message(o), "hs", result->fd, path);
}

/* The machine a request is for: a registered one, or the host itself (MACHINE NULL). */
typedef struct JoinTarget {
        Manager *manager;
        Machine *machine;
} JoinTarget;

static const char *target_name(const JoinTarget *t) {
        return t->machine ? t->machine->name : ".host";
}

static int fd_is_usable(int fd) {
        int flags = fcntl(fd, F_GETFL);

        /* An O_PATH fd reads and writes nothing; the payload would fail far from the cause. */
        return flags >= 0 && !(flags & O_PATH);
}

static void join_request_free_strings(JoinRequest *req) {
        strv_free(req->argv);
        strv_free(req->env);
}

/* Reads the arguments after the machine name, and refuses bad ones before polkit is asked. */
static int read_request(sd_bus_message *message, JoinKind kind, JoinRequest *req, sd_bus_error *error) {
        int r;

        *req = (JoinRequest) { .kind = kind, .user = "", .program = "", .cwd = "", .fds = { -1, -1, -1 } };
        if (kind == JOIN_EXEC || kind == JOIN_SHELL) {
                r = sd_bus_message_read(message, "s", &req->user);
                if (r < 0)
                        return r;
        }
        if (kind == JOIN_SHELL) {
                r = sd_bus_message_read(message, "s", &req->program);
                if (r < 0)
                        return r;
        }
        if (kind == JOIN_EXEC || kind == JOIN_SHELL) {
                r = sd_bus_message_read_strv(message, &req->argv);
                if (r >= 0)
                        r = sd_bus_message_read_strv(message, &req->env);
                if (r < 0)
                        return r;
        }
        if (kind == JOIN_EXEC) {
                r = sd_bus_message_read(message, "shhh", &req->cwd, &req->fds[0], &req->fds[1], &req->fds[2]);
                if (r < 0)
                        return r;
        }

        if (!join_user_name_is_valid(req->user))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid user name");
        if (kind == JOIN_EXEC && !join_argv_is_valid(req->argv))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "The command line must be non-empty, within limits, and start "
                                        "with an absolute path or a plain program name");
        if (kind == JOIN_SHELL && !isempty(req->program) &&
            (req->program[0] != '/' || !join_program_is_valid(req->program)))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "The program must be an absolute path");
        if (kind == JOIN_SHELL && strv_length(req->argv) > JOIN_ARGV_MAX)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Too many arguments");
        if (!join_env_is_valid(req->env))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "Invalid environment: entries must be KEY=VALUE with a valid key "
                                        "and no newline, within limits");
        if (!join_directory_is_valid(req->cwd))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "The working directory must be an absolute path");
        for (int i = 0; kind == JOIN_EXEC && i < 3; i++)
                if (!fd_is_usable(req->fds[i]))
                        return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                                "stdin, stdout and stderr must be open, non-O_PATH fds");
        return 0;
}

static char *command_line(const JoinRequest *req) {
        size_t n = 1;
        char *s, *p;

        STRV_FOREACH(a, req->argv)
                n += strlen(*a) + 1;
        n += strlen(req->program) + 1;
        s = p = malloc(n);
        if (!s)
                return NULL;
        *p = 0;
        if (!isempty(req->program))
                p = stpcpy(stpcpy(p, req->program), " ");
        STRV_FOREACH(a, req->argv)
                p = stpcpy(stpcpy(p, *a), " ");
        if (p > s)
                p[-1] = 0;
        return s;
}

static const char *polkit_action(JoinKind kind, bool host) {
        switch (kind) {
        case JOIN_EXEC:
        case JOIN_SHELL:
                return host ? "org.berth.machine1.host-shell" : "org.berth.machine1.shell";
        case JOIN_LOGIN:
                return host ? "org.berth.machine1.host-login" : "org.berth.machine1.login";
        case JOIN_PTY:
                break;
        }
        return host ? "org.berth.machine1.host-open-pty" : "org.berth.machine1.open-pty";
}

static const char *const verbs[] = {
        [JOIN_EXEC] = "exec",
        [JOIN_SHELL] = "shell",
        [JOIN_LOGIN] = "login",
        [JOIN_PTY] = "open-pty",
};

static int join_method(sd_bus_message *message, JoinTarget *t, JoinKind kind, sd_bus_error *error) {
        _cleanup_(join_request_free_strings) JoinRequest req = {};
        _cleanup_free_ char *cmdline = NULL;
        Manager *m = t->manager;
        int r, result_fd;

        r = read_request(message, kind, &req, error);
        if (r < 0)
                return r;
        if (t->machine && t->machine->class != MACHINE_CONTAINER)
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                         "Machine %s is not a container", t->machine->name);

        cmdline = command_line(&req);
        if (!cmdline)
                return -ENOMEM;
        const char *details[] = {
                "machine", target_name(t),
                "verb", verbs[kind],
                "user", isempty(req.user) ? "root" : req.user,
                "command_line", cmdline,
                NULL
        };
        r = polkit_verify_async(message, polkit_action(kind, !t->machine), details, &m->polkit_registry, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* polkit will call us again */

        req.machine = target_name(t);
        req.leader = t->machine ? t->machine->leader : 0;
        req.leader_pidfd = t->machine ? t->machine->leader_pidfd : -EBADF;
        req.cgroup_root = m->cgroup_root;
        if (t->machine && req.leader_pidfd < 0)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_MACHINE, "Machine %s has no leader", req.machine);

        r = operation_fork(m, message, kind == JOIN_EXEC ? exec_done : pty_done, NULL, NULL, &result_fd, error);
        if (r < 0)
                return r;
        if (r == 0)
                join_worker(&req, result_fd);
        return 1; /* the operation replies */
}

/* ".host", or a registered machine. */
static int find_target(sd_bus_message *message, Manager *m, JoinTarget *ret, sd_bus_error *error) {
        const char *name;
        int r;

        r = sd_bus_message_read(message, "s", &name);
        if (r < 0)
                return r;
        *ret = (JoinTarget) { .manager = m };
        if (streq(name, ".host"))
                return 0;
        return bus_find_machine(m, name, &ret->machine, error);
}

static int manager_join(sd_bus_message *message, void *userdata, JoinKind kind, sd_bus_error *error) {
        JoinTarget t;
        int r;

        r = find_target(message, userdata, &t, error);
        if (r < 0)
                return r;
        return join_method(message, &t, kind, error);
}

static int machine_join(sd_bus_message *message, void *userdata, JoinKind kind, sd_bus_error *error) {
        Machine *machine = userdata;
        JoinTarget t = { .manager = machine->manager, .machine = machine };

        return join_method(message, &t, kind, error);
}

static int method_exec_in_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return manager_join(message, userdata, JOIN_EXEC, error);
}
static int method_open_machine_pty(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return manager_join(message, userdata, JOIN_PTY, error);
}
static int method_open_machine_login(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return manager_join(message, userdata, JOIN_LOGIN, error);
}
static int method_open_machine_shell(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return manager_join(message, userdata, JOIN_SHELL, error);
}
static int method_exec(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return machine_join(message, userdata, JOIN_EXEC, error);
}
static int method_open_pty(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return machine_join(message, userdata, JOIN_PTY, error);
}
static int method_open_login(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return machine_join(message, userdata, JOIN_LOGIN, error);
}
static int method_open_shell(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return machine_join(message, userdata, JOIN_SHELL, error);
}

const sd_bus_vtable exec_manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("ExecInMachine",
                                SD_BUS_ARGS("s", name, "s", user, "as", argv, "as", env, "s", cwd,
                                            "h", stdin, "h", stdout, "h", stderr),
                                SD_BUS_RESULT("i", exit_status, "i", signal),
                                method_exec_in_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenMachinePTY", SD_BUS_ARGS("s", name),
                                SD_BUS_RESULT("h", pty, "s", pty_path),
                                method_open_machine_pty, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenMachineLogin", SD_BUS_ARGS("s", name),
                                SD_BUS_RESULT("h", pty, "s", pty_path),
                                method_open_machine_login, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenMachineShell",
                                SD_BUS_ARGS("s", name, "s", user, "s", path, "as", args, "as", environment),
                                SD_BUS_RESULT("h", pty, "s", pty_path),
                                method_open_machine_shell, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

const sd_bus_vtable exec_machine_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Exec",
                                SD_BUS_ARGS("s", user, "as", argv, "as", env, "s", cwd,
                                            "h", stdin, "h", stdout, "h", stderr),
                                SD_BUS_RESULT("i", exit_status, "i", signal),
                                method_exec, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenPTY", SD_BUS_NO_ARGS, SD_BUS_RESULT("h", pty, "s", pty_path),
                                method_open_pty, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenLogin", SD_BUS_NO_ARGS, SD_BUS_RESULT("h", pty, "s", pty_path),
                                method_open_login, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenShell",
                                SD_BUS_ARGS("s", user, "s", path, "as", args, "as", environment),
                                SD_BUS_RESULT("h", pty, "s", pty_path),
                                method_open_shell, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};
