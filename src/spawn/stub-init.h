/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A minimal PID 1 for command mode: reaps orphans, forwards signals, returns the command's
 * exit status. */
#pragma once

#include <sys/types.h>

/* Runs as PID 1 with every signal blocked, CHILD being the command. Never returns: exits with
 * the command's exit code, or 128+signal when a signal killed it. */
_Noreturn void stub_init_run(pid_t child);
