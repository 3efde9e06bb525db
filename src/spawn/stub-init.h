/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Command mode's PID 1: berth-init (src/stub), run from a sealed memfd copy. */
#pragma once

#include <sys/types.h>

/* Replaces this process (the container's PID 1, every signal blocked) with berth-init, which
 * starts the command as ARGV describes (see src/stub/stub-init.c) with environment ENV. Never
 * returns: if the exec fails, exits 127. */
_Noreturn void stub_init_exec(char **argv, char **env);
