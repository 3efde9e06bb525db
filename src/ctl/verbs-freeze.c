/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthctl freeze and thaw: stop every process of machines where it is, and let it go on. */
#include "ctl.h"
#include "log.h"
#include "name-util.h"

/* berthd answers once the machine is frozen, or after its own 10 s timeout. */
#define FREEZE_TIMEOUT_USEC (30ULL * 1000000ULL)

static int freeze_or_thaw(int argc, char **argv, Ctl *ctl, const char *method, const char *what) {
        int ret = CTL_EXIT_SUCCESS;

        if (argc < 2) {
                log_error("%s needs at least one machine name.", argv[0]);
                return CTL_EXIT_USAGE;
        }
        for (int i = 1; i < argc; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                int r;

                if (!machine_name_is_valid(argv[i])) {
                        _cleanup_free_ char *e = ctl_escape(argv[i]);

                        log_error("Invalid machine name '%s'.", strempty(e));
                        ret = ret ?: CTL_EXIT_USAGE;
                        continue;
                }
                r = ctl_new_manager_call(ctl, method, &m);
                if (r < 0)
                        return CTL_EXIT_FAILURE;
                r = sd_bus_message_append(m, "s", argv[i]);
                if (r < 0)
                        return log_error_errno(r, "Failed to build %s: %m", method), CTL_EXIT_FAILURE;
                r = ctl_call_message(ctl, m, FREEZE_TIMEOUT_USEC, &error, NULL);
                if (r < 0) {
                        r = ctl_log_bus_error(&error, r, "%s machine %s", what, argv[i]);
                        ret = ret ?: r;
                }
        }
        return ret;
}

int verb_freeze(int argc, char **argv, Ctl *ctl) {
        return freeze_or_thaw(argc, argv, ctl, "FreezeMachine", "freeze");
}

int verb_thaw(int argc, char **argv, Ctl *ctl) {
        return freeze_or_thaw(argc, argv, ctl, "ThawMachine", "thaw");
}
