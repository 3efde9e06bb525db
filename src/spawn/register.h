/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Registering the container with berthd over the system bus (CreateMachine/RegisterMachine).
 *
 * libsystemd is loaded with dlopen() only here, when a run registers: linking it costs every
 * start about a millisecond and a megabyte, registered or not (bench/README.md). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "settings.h"

typedef struct Registration Registration;

/* Connects to the system bus and checks that berthd answers (activating it where the bus can).
 * Returns 0 with *RET set, or 0 with *RET = NULL after a warning when there is no bus or no
 * berthd: the machine then runs unregistered. Negative errno only for real failures. */
int registration_open(const Settings *s, Registration **ret);

/* What registration_register() tells berthd about the container besides its settings. */
typedef struct RegistrationInfo {
        uint8_t id[16];          /* the machine's 128-bit id */
        pid_t leader;            /* the container's PID 1 */
        const int *ifindices;    /* host-side interfaces (its veth): *WithNetwork with any */
        size_t n_ifindices;
        int kill_signal;         /* the scope's KillSignal (the init's power-off signal), or 0 */
} RegistrationInfo;

/* Registers INFO->leader as machine S->machine: CreateMachine (berthd makes machine-NAME.scope
 * and moves the leader there; stopping that scope sends KILL_SIGNAL, so the init powers off
 * rather than, say, reboots) or, with --keep-unit, RegisterMachine for the unit we run in.
 * Logs and returns negative errno on failure: -EEXIST if a machine of that name is registered
 * already, -EACCES if berthd refused. */
int registration_register(Registration *r, const Settings *s, const RegistrationInfo *info);

Registration *registration_free(Registration *r);
/* Closes the bus connection and unloads libsystemd, which registration no longer needs; R
 * stays valid for registration_free() only. */
void registration_disconnect(Registration *r);
static inline void registration_freep(Registration **r) {
        if (*r)
                registration_free(*r);
}

/* Checks --property= assignments (names and values) without any bus, at argument time. */
int registration_check_properties(char **properties);
