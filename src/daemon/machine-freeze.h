/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Freezing and thawing machines: FreezeMachine/ThawMachine on the Manager, Freeze/Thaw on
 * Machine objects.
 *
 * A machine is frozen through the cgroup2 freezer of its own cgroup (the unit or berthd's
 * scope): every process in it stops where it is, the container notices nothing. Under systemd
 * it is systemd's FreezeUnit/ThawUnit, which answer once the unit is frozen. Where systemd
 * cannot (a cgroup v1 hybrid host: systemd 252 freezes only on unified hosts, and says
 * NotSupported), and without systemd, berthd writes cgroup.freeze in the unified hierarchy
 * itself and answers once cgroup.events says "frozen 1", without blocking its loop. There is no
 * cgroup v1 freezer fallback: berth-spawn needs clone3's CLONE_INTO_CGROUP (Linux 5.7), and
 * every kernel that has it has the cgroup2 freezer (5.2).
 *
 * State says "frozen" while the machine's cgroup is frozen, whoever froze it (read from
 * cgroup.events), with PropertiesChanged when we froze or thawed it. Terminating a frozen
 * machine thaws it first, so its init sees the request; SIGKILL gets through the freezer. */
#pragma once

#include <stdbool.h>

#include "manager.h"

extern const sd_bus_vtable freeze_manager_vtable[];
extern const sd_bus_vtable freeze_machine_vtable[];

/* 1 if MACHINE's own cgroup is frozen now, 0 if not or if it has none. */
int machine_is_frozen(Machine *machine);

/* Thaws MACHINE at once, without waiting: for terminating it. A freeze or thaw in flight is
 * answered with an error. */
void machine_thaw_for_stop(Machine *machine);

/* MACHINE goes away: a freeze or thaw in flight is answered with an error and freed. */
void machine_freeze_cancel(Machine *machine);
