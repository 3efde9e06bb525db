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

/* The machine called NAME, for a method call: InvalidArgs for a name no machine can have
 * (checked first; such names are not echoed back), NoSuchMachine for an unknown one. */
int bus_find_machine(Manager *m, const char *name, Machine **ret, sd_bus_error *error);
/* The same, reading NAME from MESSAGE first. */
int bus_read_machine(Manager *m, sd_bus_message *message, Machine **ret, sd_bus_error *error);

/* MachineNew (NEW) or MachineRemoved. */
int manager_send_machine_signal(Manager *m, Machine *machine, bool new);
