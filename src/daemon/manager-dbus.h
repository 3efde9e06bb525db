/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The org.berth.machine1.Manager interface of /org/berth/machine1. */
#pragma once

#include <stdbool.h>

#include "manager.h"

#define MANAGER_OBJECT_PATH "/org/berth/machine1"
#define MANAGER_INTERFACE "org.berth.machine1.Manager"
#define MACHINE_INTERFACE "org.berth.machine1.Machine"

/* Installs both interfaces (the manager object and the machine fallback) on M's bus. */
int manager_bus_register(Manager *m);

/* MachineNew (NEW) or MachineRemoved. */
int manager_send_machine_signal(Manager *m, Machine *machine, bool new);
