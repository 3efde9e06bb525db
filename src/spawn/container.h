/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The supervisor: starts the container from Settings, relays its console and notifications,
 * turns stop requests into the right signal, and cleans up whatever way it ends. */
#pragma once

#include <stdbool.h>

#include "settings.h"

typedef enum ContainerResult {
        CONTAINER_EXITED,    /* *ret_status is the exit status to return */
        CONTAINER_REBOOTED,  /* the init asked for a reboot */
} ContainerResult;

/* Runs the container once; RESTARTED says it is a reboot in place. Returns a ContainerResult, or a negative errno when it could not
 * be started (already logged). */
int container_run(const Settings *s, bool restarted, int *ret_status);
