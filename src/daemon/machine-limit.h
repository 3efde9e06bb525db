/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cap on how many machines berthd keeps, so that no caller can grow it without bound. */
#pragma once

#include <systemd/sd-bus.h>

#include "manager.h"

/* Room for issue 7's 5,000 machines on one host, and still a bound on what callers can make
 * berthd keep (about 1 KiB and one pidfd each). */
#define MACHINES_MAX_DEFAULT 16384U
#define MACHINES_MAX_LIMIT (1U << 20)

/* $BERTH_MAX_MACHINES when it is a number in 1..MACHINES_MAX_LIMIT, else MACHINES_MAX_DEFAULT.
 * Read once, on first use. */
unsigned manager_machines_max(Manager *m);

/* Machines that count against the cap: the registered ones and those whose scope is still
 * emptying (each holds a cgroup and a state file). */
unsigned manager_machines_count(Manager *m);

/* 0 if one more machine fits; else org.freedesktop.DBus.Error.LimitsExceeded in ERROR and a
 * negative errno. Call it after polkit, right before the machine is added: queries in flight
 * may have added machines meanwhile. */
int manager_check_machine_limit(Manager *m, sd_bus_error *error);
