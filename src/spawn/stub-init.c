/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A minimal PID 1 for command mode: reaps orphans, forwards signals, returns the command's
 * exit status. Without it, a command that does not expect to be PID 1 would leave zombies and
 * ignore SIGTERM (PID 1 gets no default signal actions). */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "macro.h"
#include "stub-init.h"

_Noreturn void stub_init_run(pid_t child) {
        sigset_t all;

        (void) prctl(PR_SET_NAME, "berth-init");
        sigfillset(&all);
        for (;;) {
                siginfo_t si = {};
                int sig = sigwaitinfo(&all, &si);

                if (sig < 0)
                        continue;
                if (sig != SIGCHLD) {
                        /* Everything else is for the command; it decides what a signal means. */
                        (void) kill(child, sig);
                        continue;
                }
                for (;;) {
                        int status;
                        pid_t p = waitpid(-1, &status, WNOHANG);

                        if (p <= 0)
                                break;
                        if (p != child)
                                continue;
                        if (WIFEXITED(status))
                                _exit(WEXITSTATUS(status));
                        if (WIFSIGNALED(status))
                                _exit(128 + WTERMSIG(status));
                }
        }
}
