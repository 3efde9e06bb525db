/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthd: the machine registry on the system bus (org.berth.machine1). */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>

#include "bus-errors.h"
#include "log.h"
#include "manager.h"

/* berthd holds a pidfd per machine for as long as the machine runs, so the soft limit of 1024
 * a service gets by default would stop registration near 1,000 machines. The soft limit exists
 * for select() users; berthd polls through sd-event. What berthd execs must get 1024 back
 * before execve() (exec_berth_spawn(), payload_exec()). */
static void raise_fd_limit(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
                log_warning_errno(negative_errno(), "Failed to read the file descriptor limit: %m");
                return;
        }
        if (rl.rlim_cur >= rl.rlim_max)
                return;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                log_warning_errno(negative_errno(), "Failed to raise the file descriptor limit: %m");
        else
                log_debug("File descriptor limit raised to %llu.", (unsigned long long) rl.rlim_cur);
}

static int run(void) {
        _cleanup_(manager_freep) Manager *m = NULL;
        const char *runtime_dir;
        sigset_t mask;
        int r;

        log_set_prefix("berthd");
        /* A fixed threshold: the buffers of huge messages (up to the bus's 128 MiB) go back to
         * the kernel when freed, instead of glibc raising the threshold after the first and
         * keeping the next ones on the heap for good. */
        (void) mallopt(M_MMAP_THRESHOLD, 128 * 1024);
        log_parse_environment();
        raise_fd_limit();

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
        /* The address watch's socket, before any machine: berthd's fds do not grow with them. */
        (void) machine_cache_start(m);

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
