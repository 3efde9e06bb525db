/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The org.berth.machine1.Machine objects: vtable, object lookup and the per-machine verbs. */
#pragma once

#include <systemd/sd-bus.h>

#include "machine.h"

#define MACHINE_OBJECT_PREFIX "/org/berth/machine1/machine"

extern const sd_bus_vtable machine_vtable[];

int machine_bus_path(const Machine *m, char **ret);
int machine_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                        void **found, sd_bus_error *error);
int machine_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                            sd_bus_error *error);
int machine_send_state_changed(Machine *m);

/* Shared by the Machine object and the Manager's by-name variants. */
int bus_machine_method_terminate(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_machine_method_kill(sd_bus_message *message, void *userdata, sd_bus_error *error);
