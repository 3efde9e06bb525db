/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthctl's side of D-Bus: the connection, the polkit agent, method calls, errors as exit codes. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <systemd/sd-login.h>

#include "ctl.h"
#include "log.h"
#include "strv.h"

void ctl_init(Ctl *ctl) {
        *ctl = (Ctl) {
                .ask_password = true,
                .output = OUTPUT_TABLE,
                .lines = 10,
                .saved_stdout = -1,
        };
}

void ctl_done(Ctl *ctl) {
        ctl_polkit_agent_close(ctl);
        ctl->bus = sd_bus_flush_close_unref(ctl->bus);
        ctl_pager_close(ctl);
        ctl->properties = strv_free(ctl->properties);
        ctl->setenv = strv_free(ctl->setenv);
}

int ctl_bus(Ctl *ctl, sd_bus **ret) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        int r;

        if (!ctl->bus) {
                if (ctl->host)
                        r = sd_bus_open_system_remote(&bus, ctl->host);
                else
                        r = sd_bus_open_system(&bus);
                if (r < 0)
                        return log_error_errno(r, "Failed to connect to %s: %m",
                                               ctl->host ? ctl->host : "the system bus");
                /* A remote bus is reached through ssh: answers may take a while to start. */
                ctl->bus = TAKE_PTR(bus);
        }
        *ret = ctl->bus;
        return 0;
}

/* pkttyagent only makes sense where a person can answer it: our own terminal, a local bus, and a
 * caller that polkit asks at all (berthd never asks for uid 0). */
static bool agent_wanted(const Ctl *ctl) {
        return ctl->ask_password && !ctl->host && geteuid() != 0 && isatty(STDIN_FILENO) &&
               !getenv("BERTH_NO_POLKIT_AGENT");
}

void ctl_polkit_agent_open(Ctl *ctl) {
        _cleanup_close_pair_ int pipefd[2] = { -EBADF, -EBADF };
        _cleanup_free_ char *session = NULL;
        char fdstr[16], pidstr[32];
        pid_t pid, self = getpid();
        bool in_session;

        if (ctl->agent_pid > 0 || !agent_wanted(ctl))
                return;
        if (access("/usr/bin/pkttyagent", X_OK) < 0 && access("/bin/pkttyagent", X_OK) < 0) {
                log_debug("pkttyagent not found, not starting a polkit agent.");
                return;
        }
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return (void) log_debug_errno(-errno, "Failed to make a pipe for pkttyagent: %m");
        in_session = sd_pid_get_session(0, &session) >= 0;

        pid = fork();
        if (pid < 0)
                return (void) log_debug_errno(-errno, "Failed to fork pkttyagent: %m");
        if (pid == 0) {
                /* Like systemctl: the agent tells us on the fd once it listens. */
                int fd = fcntl(pipefd[1], F_DUPFD, 3);
                if (fd < 0)
                        _exit(EXIT_FAILURE);
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                (void) snprintf(fdstr, sizeof(fdstr), "%d", fd);
                /* In a login session, a fallback for the session (a desktop's own agent wins).
                 * Without one (runuser, sudo, su) polkitd finds an agent only registered for the
                 * caller's own process, and never uses a fallback there. */
                (void) snprintf(pidstr, sizeof(pidstr), "%d", (int) self);
                if (in_session)
                        execlp("pkttyagent", "pkttyagent", "--notify-fd", fdstr, "--fallback",
                               (char *) NULL);
                else
                        execlp("pkttyagent", "pkttyagent", "--notify-fd", fdstr, "--process", pidstr,
                               (char *) NULL);
                _exit(EXIT_FAILURE);
        }
        ctl->agent_pid = pid;
        pipefd[1] = safe_close(pipefd[1]);

        /* Wait until it is ready (or gone): a call sent before would not find the agent. */
        struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
        (void) poll(&p, 1, 10 * 1000);
}

void ctl_polkit_agent_close(Ctl *ctl) {
        if (ctl->agent_pid <= 0)
                return;
        (void) kill(ctl->agent_pid, SIGTERM);
        (void) kill(ctl->agent_pid, SIGCONT);
        while (waitpid(ctl->agent_pid, NULL, 0) < 0 && errno == EINTR)
                ;
        ctl->agent_pid = 0;
}

int ctl_new_call(Ctl *ctl, const char *destination, const char *path, const char *interface,
                 const char *method, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        sd_bus *bus;
        int r;

        r = ctl_bus(ctl, &bus);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_call(bus, &m, destination, path, interface, method);
        if (r < 0)
                return log_error_errno(r, "Failed to make a call of %s: %m", method);
        r = sd_bus_message_set_allow_interactive_authorization(m, ctl->ask_password);
        if (r < 0)
                return log_error_errno(r, "Failed to make a call of %s: %m", method);
        *ret = TAKE_PTR(m);
        return 0;
}

int ctl_new_manager_call(Ctl *ctl, const char *method, sd_bus_message **ret) {
        return ctl_new_call(ctl, BERTH_BUS_NAME, BERTH_BUS_PATH, BERTH_MANAGER_IFACE, method, ret);
}

int ctl_call_message(Ctl *ctl, sd_bus_message *m, uint64_t timeout, sd_bus_error *error,
                     sd_bus_message **reply) {
        sd_bus *bus;
        int r;

        r = ctl_bus(ctl, &bus);
        if (r < 0)
                return r;
        if (sd_bus_message_get_allow_interactive_authorization(m) > 0)
                ctl_polkit_agent_open(ctl);
        return sd_bus_call(bus, m, timeout, error, reply);
}

/* One call of ctl_call_many(): its slot while in flight, then its outcome. */
typedef struct PendingCall {
        sd_bus_slot *slot;
        sd_bus_error error;
        int r;
        bool done;
        size_t *in_flight;
} PendingCall;

static int on_call_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PendingCall *p = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        /* Also a timeout or a lost connection, which sd-bus turns into error replies. */
        if (e) {
                int k = sd_bus_message_get_errno(reply);

                p->r = k > 0 ? -k : -EIO;
                (void) sd_bus_error_copy(&p->error, e);
        }
        p->done = true;
        (*p->in_flight)--;
        return 0;
}

static void pending_calls_free(PendingCall *calls, size_t n) {
        for (size_t i = 0; calls && i < n; i++) {
                sd_bus_slot_unref(calls[i].slot);
                sd_bus_error_free(&calls[i].error);
        }
        free(calls);
}

/* Everything still open fails with R: the connection is gone or unusable. */
static void pending_calls_fail(PendingCall *calls, size_t n, int r) {
        for (size_t i = 0; i < n; i++)
                if (!calls[i].done) {
                        calls[i].slot = sd_bus_slot_unref(calls[i].slot);
                        calls[i].r = r;
                        calls[i].done = true;
                }
}

/* $BERTHCTL_CALLS_IN_FLIGHT (1 to CTL_CALLS_IN_FLIGHT_MAX) sets the window: 1 is one call after
 * the other, as berthctl did before, which bench/scale.sh compares against. */
static size_t calls_in_flight(void) {
        const char *e = getenv("BERTHCTL_CALLS_IN_FLIGHT");
        unsigned long v;
        char *end = NULL;

        if (isempty(e))
                return CTL_CALLS_IN_FLIGHT;
        errno = 0;
        v = strtoul(e, &end, 10);
        if (errno != 0 || !end || *end != 0 || v < 1 || v > CTL_CALLS_IN_FLIGHT_MAX)
                return CTL_CALLS_IN_FLIGHT;
        return v;
}

int ctl_call_many(Ctl *ctl, sd_bus_message **messages, size_t n, uint64_t timeout, CtlCallDone done,
                  void *userdata) {
        PendingCall *calls = NULL;
        size_t next = 0, reported = 0, in_flight = 0, window = calls_in_flight();
        sd_bus *bus;
        int r;

        r = ctl_bus(ctl, &bus);
        if (r < 0)
                return r;
        calls = calloc(n ?: 1, sizeof(PendingCall));
        if (!calls)
                return log_oom();
        for (size_t i = 0; i < n; i++)
                calls[i] = (PendingCall) { .error = SD_BUS_ERROR_NULL, .in_flight = &in_flight };
        for (size_t i = 0; i < n; i++)
                if (messages[i] && sd_bus_message_get_allow_interactive_authorization(messages[i]) > 0) {
                        ctl_polkit_agent_open(ctl);
                        break;
                }

        while (reported < n) {
                /* With an agent, the first call alone may ask for a password: see the header. */
                size_t limit = ctl->agent_pid > 0 && reported == 0 ? 1 : window;

                while (next < n && in_flight < limit) {
                        PendingCall *p = calls + next;

                        if (messages[next]) {
                                r = sd_bus_call_async(bus, &p->slot, messages[next], on_call_reply, p, timeout);
                                if (r < 0) {
                                        p->r = r;
                                        (void) sd_bus_error_set_errno(&p->error, r);
                                        p->done = true;
                                } else
                                        in_flight++;
                        } else
                                p->done = true;
                        next++;
                }
                /* In the order of the calls, so that errors read like the arguments. */
                for (; reported < n && calls[reported].done; reported++) {
                        calls[reported].slot = sd_bus_slot_unref(calls[reported].slot);
                        done(reported, &calls[reported].error, calls[reported].r, userdata);
                }
                if (reported == n)
                        break;

                r = sd_bus_process(bus, NULL);
                if (r > 0)
                        continue;
                if (r == 0)
                        r = sd_bus_wait(bus, UINT64_MAX);
                if (r < 0 && r != -EINTR) {
                        log_debug_errno(r, "Bus connection failed with calls in flight: %m");
                        pending_calls_fail(calls, n, r);
                        in_flight = 0;
                        next = n;
                }
        }
        pending_calls_free(calls, n);
        return 0;
}

int ctl_call(Ctl *ctl, const char *method, sd_bus_error *error, sd_bus_message **reply,
             const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        r = ctl_new_manager_call(ctl, method, &m);
        if (r < 0)
                return sd_bus_error_set_errno(error, r);
        if (!isempty(types)) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
                if (r < 0)
                        return sd_bus_error_set_errno(error, r);
        }
        return ctl_call_message(ctl, m, 0, error, reply);
}

int ctl_machine_path(Ctl *ctl, const char *name, char **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        char *p;
        int r;

        r = ctl_call(ctl, "GetMachine", &error, &reply, "s", name);
        if (r < 0) {
                _cleanup_free_ char *e = ctl_escape(name);
                return ctl_log_bus_error(&error, r, "find machine %s", strempty(e));
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return ctl_log_bus_error(NULL, r, "read GetMachine's answer");
        p = strdup(path);
        if (!p)
                return log_oom(), CTL_EXIT_FAILURE;
        *ret = p;
        return 0;
}

int ctl_exit_code_from_bus_error(const sd_bus_error *error, int r) {
        if (error && sd_bus_error_is_set(error)) {
                if (sd_bus_error_has_names(error, "org.berth.machine1.NoSuchMachine",
                                           "org.berth.machine1.NoSuchImage",
                                           SD_BUS_ERROR_UNKNOWN_OBJECT))
                        return CTL_EXIT_NO_SUCH;
                if (sd_bus_error_has_names(error, SD_BUS_ERROR_ACCESS_DENIED,
                                           SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED))
                        return CTL_EXIT_DENIED;
                if (sd_bus_error_has_name(error, SD_BUS_ERROR_INVALID_ARGS))
                        return CTL_EXIT_USAGE;
                return CTL_EXIT_FAILURE;
        }
        return r == -EACCES ? CTL_EXIT_DENIED : CTL_EXIT_FAILURE;
}

/* The daemon's text, escaped (it may quote what a machine said) and without a final period, so
 * that our suffixes read as one sentence. */
static char *error_text(const sd_bus_error *error, int r) {
        const char *msg = error && sd_bus_error_is_set(error) && !isempty(error->message) ?
                error->message : strerror(r < 0 ? -r : r);
        char *e = ctl_escape(msg);
        size_t l;

        if (!e)
                return NULL;
        l = strlen(e);
        while (l > 0 && (e[l - 1] == '.' || e[l - 1] == ' '))
                e[--l] = 0;
        return e;
}

int ctl_log_bus_error(const sd_bus_error *error, int r, const char *format, ...) {
        _cleanup_free_ char *what = NULL, *text = NULL;
        int code = ctl_exit_code_from_bus_error(error, r);
        bool named = error && sd_bus_error_is_set(error);
        va_list ap;

        va_start(ap, format);
        if (vasprintf(&what, format, ap) < 0)
                what = NULL;
        va_end(ap);
        text = error_text(error, r);

        if (named && sd_bus_error_has_name(error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED))
                log_error("Failed to %s: not allowed without authentication, and no polkit agent "
                          "could ask (polkit; run it on a terminal without --no-ask-password, or "
                          "as root)", strempty(what));
        else if (code == CTL_EXIT_DENIED)
                log_error("Failed to %s: not allowed: %s (polkit)", strempty(what), strempty(text));
        else
                log_error("Failed to %s: %s", strempty(what), strempty(text));
        return code;
}
