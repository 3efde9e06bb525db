/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Transfers on D-Bus: the Manager's import and export methods, and the org.berth.machine1.Transfer objects. */
#pragma once

#include "manager.h"

#define TRANSFER_OBJECT_PREFIX "/org/berth/machine1/transfer"
#define TRANSFER_INTERFACE "org.berth.machine1.Transfer"

/* Adds the Manager's transfer methods and signals and the Transfer objects to M's bus. The
 * transfers' registry lives as long as the bus. */
int transfer_bus_register(Manager *m);
