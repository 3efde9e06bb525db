/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthctl's machine life-cycle verbs: start, poweroff, reboot, terminate, kill, enable, disable. */
#include <signal.h>
#include <string.h>

#include "ctl.h"
#include "log.h"
#include "name-util.h"
#include "strv.h"

#define SYSTEMD_BUS_NAME "org.freedesktop.systemd1"
#define SYSTEMD_BUS_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER_IFACE "org.freedesktop.systemd1.Manager"

/* StartMachine answers once the machine registered: a slow OS may take a while. */
#define START_TIMEOUT_USEC (300ULL * 1000000ULL)
/* TerminateMachine waits for systemd's StopUnit job, which may take the unit's stop timeout. */
#define STOP_TIMEOUT_USEC (120ULL * 1000000ULL)

/* A usage error for a name berthd would refuse anyway, said before anything is asked. */
static int check_name(const char *name) {
        _cleanup_free_ char *e = NULL;

        if (machine_name_is_valid(name))
                return 0;
        e = ctl_escape(name);
        log_error("Invalid machine name '%s'.", strempty(e));
        return CTL_EXIT_USAGE;
}

/* As status and show: every name is tried, and the first failure's code is the exit code. */
static int merge_exit(int a, int b) {
        return a != CTL_EXIT_SUCCESS ? a : b;
}

/* One method per machine name, for_each_machine()'s description of it. */
typedef struct EachMachine {
        const char *method;
        const char *what;  /* "terminate", for "Failed to terminate machine foo: ..." */
        uint64_t timeout;
        const char *whom;  /* KillMachine's arguments, NULL: the method takes the name only */
        int sig;
        char **names;
        int ret;
} EachMachine;

static void each_machine_done(size_t i, const sd_bus_error *error, int r, void *userdata) {
        EachMachine *e = userdata;
        const char *name = e->names[i];
        int k = check_name(name);

        /* An invalid name was never sent: its usage error goes where the name stands. */
        if (k != 0) {
                e->ret = merge_exit(e->ret, k);
                return;
        }
        if (r >= 0)
                return;
        if (e->whom)
                k = ctl_log_bus_error(error, r, "send signal %s to machine %s", sigabbrev_np(e->sig) ?: "?", name);
        else
                k = ctl_log_bus_error(error, r, "%s machine %s", e->what, name);
        e->ret = merge_exit(e->ret, k);
}

static void messages_free(sd_bus_message **messages, size_t n) {
        for (size_t i = 0; messages && i < n; i++)
                sd_bus_message_unref(messages[i]);
        free(messages);
}

/* Calls E->method(NAME) for each NAME in ARGV[1..], pipelined (ctl_call_many()): stopping 5,000
 * machines one round trip after the other took minutes. Errors come in the order of the names,
 * and the first failure's code is the exit code, as with one call at a time. */
static int for_each_machine_call(int argc, char **argv, Ctl *ctl, EachMachine *e) {
        sd_bus_message **messages = NULL;
        size_t n = argc - 1;
        int r;

        if (argc < 2) {
                log_error("%s needs at least one machine name.", argv[0]);
                return CTL_EXIT_USAGE;
        }
        messages = calloc(n, sizeof(sd_bus_message *));
        if (!messages)
                return log_oom(), CTL_EXIT_FAILURE;
        e->names = argv + 1;
        e->ret = CTL_EXIT_SUCCESS;
        for (size_t i = 0; i < n; i++) {
                if (!machine_name_is_valid(e->names[i]))
                        continue; /* each_machine_done() says so, in its place */
                r = ctl_new_manager_call(ctl, e->method, &messages[i]);
                if (r < 0) {
                        messages_free(messages, n);
                        return CTL_EXIT_FAILURE;
                }
                if (e->whom)
                        r = sd_bus_message_append(messages[i], "ssi", e->names[i], e->whom, e->sig);
                else
                        r = sd_bus_message_append(messages[i], "s", e->names[i]);
                if (r < 0) {
                        messages_free(messages, n);
                        return log_error_errno(r, "Failed to build %s: %m", e->method), CTL_EXIT_FAILURE;
                }
        }
        r = ctl_call_many(ctl, messages, n, e->timeout, each_machine_done, e);
        messages_free(messages, n);
        return r < 0 ? CTL_EXIT_FAILURE : e->ret;
}

static int for_each_machine(int argc, char **argv, Ctl *ctl, const char *method, const char *what,
                            uint64_t timeout) {
        EachMachine e = { .method = method, .what = what, .timeout = timeout };

        return for_each_machine_call(argc, argv, ctl, &e);
}

int verb_start(int argc, char **argv, Ctl *ctl) {
        return for_each_machine(argc, argv, ctl, "StartMachine", "start", START_TIMEOUT_USEC);
}

int verb_poweroff(int argc, char **argv, Ctl *ctl) {
        return for_each_machine(argc, argv, ctl, "PowerOffMachine", "power off", 0);
}

int verb_reboot(int argc, char **argv, Ctl *ctl) {
        return for_each_machine(argc, argv, ctl, "RebootMachine", "reboot", 0);
}

int verb_terminate(int argc, char **argv, Ctl *ctl) {
        return for_each_machine(argc, argv, ctl, "TerminateMachine", "terminate", STOP_TIMEOUT_USEC);
}

int verb_kill(int argc, char **argv, Ctl *ctl) {
        EachMachine e = {
                .method = "KillMachine",
                .whom = ctl->kill_whom ?: "all",
                .sig = ctl->signal > 0 ? ctl->signal : SIGTERM,
        };

        if (!streq(e.whom, "leader") && !streq(e.whom, "all")) {
                _cleanup_free_ char *w = ctl_escape(e.whom);
                log_error("Invalid --kill-whom='%s': use \"leader\" or \"all\".", strempty(w));
                return CTL_EXIT_USAGE;
        }
        if (argc < 2) {
                log_error("kill needs at least one machine name.");
                return CTL_EXIT_USAGE;
        }
        return for_each_machine_call(argc, argv, ctl, &e);
}

/* ---- enable, disable: systemd's unit files ---------------------------------------------- */

/* Boot-time start is systemd's job (berth-spawn@NAME.service, WantedBy=machines.target); a
 * host without it has nothing that would start the machine, so saying "done" would be a lie. */
static int need_systemd(Ctl *ctl, const char *verb) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus *bus;
        int has = 0, r;

        r = ctl_bus(ctl, &bus);
        if (r < 0)
                return CTL_EXIT_FAILURE;
        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", &error, &reply, "s", SYSTEMD_BUS_NAME);
        if (r >= 0)
                r = sd_bus_message_read(reply, "b", &has);
        if (r < 0)
                return ctl_log_bus_error(&error, r, "ask the bus whether systemd runs");
        if (!has) {
                log_error("Cannot %s machines here: this host is not managed by systemd (no %s on the bus), "
                          "and nothing else starts machines at boot%s.", verb, SYSTEMD_BUS_NAME,
                          streq(verb, "enable") ? "; start them with 'berthctl start'" : "");
                return CTL_EXIT_FAILURE;
        }
        return 0;
}

static int print_changes(Ctl *ctl, sd_bus_message *reply) {
        const char *type, *path, *source;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "(sss)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "(sss)", &type, &path, &source)) > 0) {
                if (ctl->quiet)
                        continue;
                if (streq(type, "symlink"))
                        printf("Created symlink %s → %s.\n", path, source);
                else if (streq(type, "unlink"))
                        printf("Removed \"%s\".\n", path);
                else
                        printf("%s: %s %s\n", type, path, source);
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(reply);
}

static int unit_files_call(Ctl *ctl, const char *method, char **units, bool enable) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        r = ctl_new_call(ctl, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH, SYSTEMD_MANAGER_IFACE, method, &m);
        if (r < 0)
                return CTL_EXIT_FAILURE;
        r = sd_bus_message_append_strv(m, units);
        if (r >= 0)
                r = enable ? sd_bus_message_append(m, "bb", false, true) : sd_bus_message_append(m, "b", false);
        if (r < 0)
                return log_error_errno(r, "Failed to build %s: %m", method), CTL_EXIT_FAILURE;
        r = ctl_call_message(ctl, m, 0, &error, &reply);
        if (r < 0)
                return ctl_log_bus_error(&error, r, "%s %s", enable ? "enable" : "disable", units[0]);
        if (enable) {
                int carries_install_info;

                r = sd_bus_message_read(reply, "b", &carries_install_info);
                if (r < 0)
                        return log_error_errno(r, "Failed to read systemd's answer: %m"), CTL_EXIT_FAILURE;
        }
        r = print_changes(ctl, reply);
        if (r < 0)
                return log_error_errno(r, "Failed to read systemd's answer: %m"), CTL_EXIT_FAILURE;

        /* As systemctl does: the new links mean nothing to systemd until it reloads. The reload
         * also reruns berth-order-generator, which turns [Start] Order= and Delay= of every
         * enabled machine into ordering between their units; it, not this verb, writes that
         * ordering, so that it follows later changes of the settings files as well (the why is
         * in src/generator/berth-order-generator.c). Disabling drops the machine from it alike. */
        m = sd_bus_message_unref(m);
        r = ctl_new_call(ctl, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH, SYSTEMD_MANAGER_IFACE, "Reload", &m);
        if (r < 0)
                return CTL_EXIT_FAILURE;
        sd_bus_error_free(&error);
        r = ctl_call_message(ctl, m, STOP_TIMEOUT_USEC, &error, NULL);
        if (r < 0)
                return ctl_log_bus_error(&error, r, "reload systemd");
        return 0;
}

static int unit_files(int argc, char **argv, Ctl *ctl, bool enable) {
        _cleanup_strv_free_ char **units = NULL;
        int r;

        if (argc < 2) {
                log_error("%s needs at least one machine name.", argv[0]);
                return CTL_EXIT_USAGE;
        }
        for (int i = 1; i < argc; i++) {
                char *u;

                r = check_name(argv[i]);
                if (r != 0)
                        return r;
                if (asprintf(&u, "berth-spawn@%s.service", argv[i]) < 0 || strv_consume(&units, u) < 0)
                        return log_oom(), CTL_EXIT_FAILURE;
        }
        /* machines.target is what pulls the machines in at boot: without it enabled, an
         * enabled machine would only be a link nobody follows. Disabling leaves it be. */
        if (enable && strv_extend(&units, "machines.target") < 0)
                return log_oom(), CTL_EXIT_FAILURE;

        r = need_systemd(ctl, argv[0]);
        if (r != 0)
                return r;
        r = unit_files_call(ctl, enable ? "EnableUnitFiles" : "DisableUnitFiles", units, enable);
        if (r != 0 || !ctl->now)
                return r;
        if (enable)
                return for_each_machine(argc, argv, ctl, "StartMachine", "start", START_TIMEOUT_USEC);

        /* disable --now: stop what runs; a machine that is not running is stopped already. */
        for (int i = 1; i < argc; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

                if (ctl_new_manager_call(ctl, "TerminateMachine", &m) < 0)
                        return CTL_EXIT_FAILURE;
                if (sd_bus_message_append(m, "s", argv[i]) < 0)
                        return log_oom(), CTL_EXIT_FAILURE;
                r = ctl_call_message(ctl, m, STOP_TIMEOUT_USEC, &error, NULL);
                if (r < 0 && !sd_bus_error_has_name(&error, "org.berth.machine1.NoSuchMachine"))
                        return ctl_log_bus_error(&error, r, "stop machine %s", argv[i]);
        }
        return 0;
}

int verb_enable(int argc, char **argv, Ctl *ctl) {
        return unit_files(argc, argv, ctl, true);
}

int verb_disable(int argc, char **argv, Ctl *ctl) {
        return unit_files(argc, argv, ctl, false);
}
