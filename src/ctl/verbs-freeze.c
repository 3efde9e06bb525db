/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthctl freeze and thaw: stop every process of machines where it is, and let it go on. */
#include "ctl.h"
#include "log.h"
#include "name-util.h"

/* berthd answers once the machine is frozen, or after its own 10 s timeout. */
#define FREEZE_TIMEOUT_USEC (30ULL * 1000000ULL)

typedef struct FreezeCalls {
        const char *what;
        char **names;
        int ret;
} FreezeCalls;

static void freeze_done(size_t i, const sd_bus_error *error, int r, void *userdata) {
        FreezeCalls *f = userdata;

        if (!machine_name_is_valid(f->names[i])) {
                _cleanup_free_ char *e = ctl_escape(f->names[i]);

                log_error("Invalid machine name '%s'.", strempty(e));
                f->ret = f->ret ?: CTL_EXIT_USAGE;
                return;
        }
        if (r < 0) {
                r = ctl_log_bus_error(error, r, "%s machine %s", f->what, f->names[i]);
                f->ret = f->ret ?: r;
        }
}

/* One call per name, pipelined (ctl_call_many()); complaints in the order of the names. */
static int freeze_or_thaw(int argc, char **argv, Ctl *ctl, const char *method, const char *what) {
        FreezeCalls f = { .what = what, .names = argv + 1 };
        sd_bus_message **messages = NULL;
        size_t n = argc - 1;
        int r = 0;

        if (argc < 2) {
                log_error("%s needs at least one machine name.", argv[0]);
                return CTL_EXIT_USAGE;
        }
        messages = calloc(n, sizeof(sd_bus_message *));
        if (!messages)
                return log_oom(), CTL_EXIT_FAILURE;
        for (size_t i = 0; i < n && r >= 0; i++) {
                if (!machine_name_is_valid(f.names[i]))
                        continue; /* freeze_done() says so, in its place */
                r = ctl_new_manager_call(ctl, method, &messages[i]);
                if (r >= 0) {
                        r = sd_bus_message_append(messages[i], "s", f.names[i]);
                        if (r < 0)
                                log_error_errno(r, "Failed to build %s: %m", method);
                }
        }
        if (r >= 0)
                r = ctl_call_many(ctl, messages, n, FREEZE_TIMEOUT_USEC, freeze_done, &f);
        for (size_t i = 0; i < n; i++)
                sd_bus_message_unref(messages[i]);
        free(messages);
        return r < 0 ? CTL_EXIT_FAILURE : f.ret;
}

int verb_freeze(int argc, char **argv, Ctl *ctl) {
        return freeze_or_thaw(argc, argv, ctl, "FreezeMachine", "freeze");
}

int verb_thaw(int argc, char **argv, Ctl *ctl) {
        return freeze_or_thaw(argc, argv, ctl, "ThawMachine", "thaw");
}
