/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthd: the machine registry on the system bus (org.berth.machine1). */
#include <signal.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "bus-errors.h"
#include "log.h"
#include "manager.h"

static int run(void) {
        _cleanup_(manager_freep) Manager *m = NULL;
        const char *runtime_dir;
        sigset_t mask;
        int r;

        log_set_prefix("berthd");
        log_parse_environment();

        runtime_dir = getenv("BERTH_RUNTIME_DIR");
        if (isempty(runtime_dir))
                runtime_dir = RUNTIME_DIR;
        else if (runtime_dir[0] != '/')
                return log_error_errno(-EINVAL, "$BERTH_RUNTIME_DIR must be an absolute path.");

        r = sd_bus_error_add_map(berth_bus_errors);
        if (r < 0)
                return log_error_errno(r, "Failed to register the error map: %m");

        /* sd-event's signal sources need the signals blocked first. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(negative_errno(), "Failed to block signals: %m");

        r = manager_new(runtime_dir, &m);
        if (r < 0)
                return r;
        r = sd_event_add_signal(m->event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to watch signals: %m");

        /* Load before taking the name: no client sees a half-restored registry, and machines
         * that survived our restart are never announced as removed or new. */
        r = manager_load(m);
        if (r < 0)
                return r;
        r = manager_connect_bus(m);
        if (r < 0)
                return r;

        (void) sd_notify(false, "READY=1\nSTATUS=Processing requests...");
        r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        (void) sd_notify(false, "STOPPING=1");
        return 0;
}

int main(int argc, char *argv[]) {
        if (argc > 1) {
                fprintf(stderr, "berthd takes no arguments.\n");
                return EXIT_FAILURE;
        }
        return run() < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
