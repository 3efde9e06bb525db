/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthd's D-Bus error names, each mapped to an errno so C callers can tell them apart. */
#pragma once

#include <systemd/sd-bus.h>

#define BUS_ERROR_NO_SUCH_MACHINE "org.berth.machine1.NoSuchMachine"
#define BUS_ERROR_MACHINE_EXISTS "org.berth.machine1.MachineExists"
#define BUS_ERROR_NO_MACHINE_FOR_PID "org.berth.machine1.NoMachineForPID"

extern const sd_bus_error_map berth_bus_errors[];
