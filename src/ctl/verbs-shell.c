/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthctl's verbs that run things inside a machine: login, shell (on a pty) and exec (on our fds). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl-pty.h"
#include "log.h"
#include "name-util.h"
#include "strv.h"

#define HOST_NAME ".host"

/* Both sides of a pty and the caller's fds travel as fds in the messages. */
static int need_fd_passing(Ctl *ctl, const char *verb) {
        sd_bus *bus;
        int r;

        r = ctl_bus(ctl, &bus);
        if (r < 0)
                return CTL_EXIT_FAILURE;
        if (sd_bus_can_send(bus, SD_BUS_TYPE_UNIX_FD) > 0)
                return 0;
        log_error("%s needs a local connection to berthd that passes file descriptors%s.", verb,
                  ctl->host ? " (not -H/--host)" : "");
        return CTL_EXIT_FAILURE;
}

static int check_target(const char *name, bool host_ok) {
        _cleanup_free_ char *e = NULL;

        if (machine_name_is_valid(name) || (host_ok && streq(name, HOST_NAME)))
                return 0;
        e = ctl_escape(name);
        log_error("Invalid machine name '%s'.", strempty(e));
        return CTL_EXIT_USAGE;
}

/* -E/--setenv entries: NAME=VALUE as given, a bare NAME takes our own value (as machinectl). */
static int build_env(Ctl *ctl, bool with_term, char ***ret) {
        _cleanup_strv_free_ char **env = NULL;
        const char *term = getenv("TERM");
        int r;

        /* The machine's pty renders for our terminal: tell it which one (an -E can override). */
        if (with_term && term && !strchr(term, '\n')) {
                _cleanup_free_ char *t = NULL;

                if (asprintf(&t, "TERM=%s", term) < 0 || strv_consume(&env, TAKE_PTR(t)) < 0)
                        return log_oom();
        }
        STRV_FOREACH(e, ctl->setenv) {
                _cleanup_free_ char *a = NULL;
                const char *eq = strchr(*e, '=');

                if (eq == *e) {
                        log_error("Invalid environment assignment '%s'.", *e);
                        return -EINVAL;
                }
                if (!eq) {
                        const char *v = getenv(*e);

                        if (!v)
                                continue;
                        if (asprintf(&a, "%s=%s", *e, v) < 0)
                                return log_oom();
                }
                r = strv_env_set(&env, a ?: *e);
                if (r < 0)
                        return log_oom();
        }
        *ret = TAKE_PTR(env);
        return 0;
}

/* berthd's answer when the user or the program is not in the machine says where it failed to
 * look; the user needs only which one is missing. */
static int log_exec_error(const sd_bus_error *error, int r, const char *name, const char *user,
                          const char *program) {
        _cleanup_free_ char *u = ctl_escape(strempty(user)), *p = ctl_escape(strempty(program));

        if (sd_bus_error_has_name(error, "org.berth.machine1.NoSuchCommand")) {
                log_error("Machine %s has no program '%s'.", name, strempty(p));
                return CTL_EXIT_FAILURE;
        }
        if (sd_bus_error_has_name(error, "org.berth.machine1.NoSuchUser")) {
                log_error("Machine %s has no user '%s'.", name, strempty(u));
                return CTL_EXIT_FAILURE;
        }
        if (isempty(program))
                return ctl_log_bus_error(error, r, "open a shell in %s", name);
        return ctl_log_bus_error(error, r, "run %s in %s", strempty(p), name);
}

/* Reads the (h pty, s path) answer of OpenMachineLogin/Shell and relays our terminal to it. */
static int relay_session(Ctl *ctl, sd_bus_message *reply, const char *name) {
        bool escaped = false;
        const char *path;
        int fd, master, r;

        r = sd_bus_message_read(reply, "hs", &fd, &path);
        if (r < 0)
                return log_error_errno(r, "Failed to read berthd's answer: %m"), CTL_EXIT_FAILURE;
        master = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (master < 0)
                return log_error_errno(negative_errno(), "Failed to take the pty: %m"), CTL_EXIT_FAILURE;
        /* An agent would fight the session for our terminal. */
        ctl_polkit_agent_close(ctl);

        if (!ctl->quiet) {
                if (streq(name, HOST_NAME))
                        fprintf(stderr, "Connected to the local host. Press ^] three times within 1s to exit session.\n");
                else
                        fprintf(stderr, "Connected to machine %s. Press ^] three times within 1s to exit session.\n", name);
        }
        r = ctl_pty_relay(master, &escaped);
        if (r < 0)
                return log_error_errno(r, "Failed to relay the terminal: %m"), CTL_EXIT_FAILURE;
        if (!ctl->quiet) {
                if (streq(name, HOST_NAME))
                        fprintf(stderr, "\nConnection to the local host terminated.\n");
                else
                        fprintf(stderr, "\nConnection to machine %s terminated.\n", name);
        }
        return CTL_EXIT_SUCCESS;
}

int verb_login(int argc, char **argv, Ctl *ctl) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *name = argc > 1 && !isempty(argv[1]) ? argv[1] : HOST_NAME;
        int r;

        if (argc > 2) {
                log_error("login takes at most one machine name.");
                return CTL_EXIT_USAGE;
        }
        r = check_target(name, true);
        if (r == 0)
                r = need_fd_passing(ctl, "login");
        if (r != 0)
                return r;
        r = ctl_call(ctl, "OpenMachineLogin", &error, &reply, "s", name);
        if (r < 0)
                return ctl_log_bus_error(&error, r, "open a login session in %s", name);
        return relay_session(ctl, reply, name);
}

/* [USER@]NAME, with --uid=: which user, on which machine. */
static int split_user(Ctl *ctl, const char *arg, char **ret_user, char **ret_name) {
        _cleanup_free_ char *user = NULL, *name = NULL;
        const char *at = strchr(arg, '@');

        if (at) {
                user = strndup(arg, (size_t) (at - arg));
                name = strdup(isempty(at + 1) ? HOST_NAME : at + 1);
        } else {
                user = strdup(ctl->uid ?: "");
                name = strdup(isempty(arg) ? HOST_NAME : arg);
        }
        if (!user || !name)
                return log_oom();
        if (at && ctl->uid && !streq(user, ctl->uid)) {
                log_error("The user is given twice, as %s@ and as --uid=%s.", user, ctl->uid);
                return -EINVAL;
        }
        *ret_user = TAKE_PTR(user);
        *ret_name = TAKE_PTR(name);
        return 0;
}

int verb_shell(int argc, char **argv, Ctl *ctl) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_free_ char *user = NULL, *name = NULL;
        _cleanup_strv_free_ char **env = NULL;
        const char *path = "";
        char *none[] = { NULL };
        int r;

        r = split_user(ctl, argc > 1 ? argv[1] : "", &user, &name);
        if (r < 0)
                return CTL_EXIT_USAGE;
        if (argc > 2) {
                path = argv[2];
                if (path[0] != '/') {
                        log_error("The program to run must be given with an absolute path, not '%s'.", path);
                        return CTL_EXIT_USAGE;
                }
        }
        r = check_target(name, true);
        if (r == 0)
                r = need_fd_passing(ctl, "shell");
        if (r != 0)
                return r;
        if (build_env(ctl, true, &env) < 0)
                return CTL_EXIT_USAGE;

        r = ctl_new_manager_call(ctl, "OpenMachineShell", &m);
        if (r < 0)
                return CTL_EXIT_FAILURE;
        r = sd_bus_message_append(m, "sss", name, user, path);
        /* ARGS are the program's whole argv: PATH ARGS... (argv[0] is the path, as machinectl). */
        if (r >= 0)
                r = sd_bus_message_append_strv(m, argc > 2 ? argv + 2 : none);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, env ?: none);
        if (r < 0)
                return log_error_errno(r, "Failed to build OpenMachineShell: %m"), CTL_EXIT_FAILURE;
        r = ctl_call_message(ctl, m, 0, &error, &reply);
        if (r < 0)
                return log_exec_error(&error, r, name, user, path);
        return relay_session(ctl, reply, name);
}

/* One of our standard fds, or /dev/null in its place when it is closed (berthd needs three). */
static int stdio_fd(int fd, int flags, int *ret_owned) {
        if (fcntl(fd, F_GETFD) >= 0)
                return fd;
        *ret_owned = open("/dev/null", flags | O_CLOEXEC | O_NOCTTY);
        return *ret_owned;
}

int verb_exec(int argc, char **argv, Ctl *ctl) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_close_ int null_in = -EBADF, null_out = -EBADF, null_err = -EBADF;
        _cleanup_strv_free_ char **env = NULL;
        char *none[] = { NULL };
        int status, sig, r;

        if (argc > 2 && streq(argv[2], "--")) {
                argv[2] = argv[1];
                argv++;
                argc--;
        }
        if (argc < 3) {
                log_error("exec needs a machine name and a command.");
                return CTL_EXIT_USAGE;
        }
        r = check_target(argv[1], true);
        if (r == 0)
                r = need_fd_passing(ctl, "exec");
        if (r != 0)
                return r;
        if (build_env(ctl, false, &env) < 0)
                return CTL_EXIT_USAGE;

        r = ctl_new_manager_call(ctl, "ExecInMachine", &m);
        if (r < 0)
                return CTL_EXIT_FAILURE;
        r = sd_bus_message_append(m, "ss", argv[1], ctl->uid ?: "");
        if (r >= 0)
                r = sd_bus_message_append_strv(m, argv + 2);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, env ?: none);
        /* Our own fds, not copies of what they carry: the command writes where we would, and
         * its stdout and stderr stay as apart as ours are. */
        if (r >= 0)
                r = sd_bus_message_append(m, "shhh", "",
                                          stdio_fd(STDIN_FILENO, O_RDONLY, &null_in),
                                          stdio_fd(STDOUT_FILENO, O_WRONLY, &null_out),
                                          stdio_fd(STDERR_FILENO, O_WRONLY, &null_err));
        if (r < 0)
                return log_error_errno(r, "Failed to build ExecInMachine: %m"), CTL_EXIT_FAILURE;
        /* It answers when the command ends, however long that takes. */
        r = ctl_call_message(ctl, m, UINT64_MAX, &error, &reply);
        if (r < 0)
                return log_exec_error(&error, r, argv[1], ctl->uid, argv[2]);
        r = sd_bus_message_read(reply, "ii", &status, &sig);
        if (r < 0)
                return log_error_errno(r, "Failed to read berthd's answer: %m"), CTL_EXIT_FAILURE;
        if (status < 0)
                return 128 + (sig & 127);   /* the shell's convention for a death by signal */
        return status & 255;
}
