/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthd's D-Bus error names, each mapped to an errno so C callers can tell them apart. */
#pragma once

#include <systemd/sd-bus.h>

#define BUS_ERROR_NO_SUCH_MACHINE "org.berth.machine1.NoSuchMachine"
#define BUS_ERROR_MACHINE_EXISTS "org.berth.machine1.MachineExists"
#define BUS_ERROR_NO_MACHINE_FOR_PID "org.berth.machine1.NoMachineForPID"
#define BUS_ERROR_TOO_MANY_OPERATIONS "org.berth.machine1.TooManyOperations"
#define BUS_ERROR_NO_SUCH_USER "org.berth.machine1.NoSuchUser"
#define BUS_ERROR_NO_SUCH_COMMAND "org.berth.machine1.NoSuchCommand"
/* Inside a machine (machine-inside.c) */
#define BUS_ERROR_NO_PRIVATE_NETWORKING "org.berth.machine1.NoPrivateNetworking"
#define BUS_ERROR_NO_UID_SHIFT "org.berth.machine1.NoUIDShift"
#define BUS_ERROR_NO_SUCH_USER_MAPPING "org.berth.machine1.NoSuchUserMapping"
#define BUS_ERROR_NO_SUCH_GROUP_MAPPING "org.berth.machine1.NoSuchGroupMapping"
/* Images (image-dbus.c) */
#define BUS_ERROR_NO_SUCH_IMAGE "org.berth.machine1.NoSuchImage"
#define BUS_ERROR_IMAGE_BUSY "org.berth.machine1.ImageBusy"
/* Snapshots (image-snapshot-dbus.c) */
#define BUS_ERROR_NO_SUCH_SNAPSHOT "org.berth.machine1.NoSuchSnapshot"
/* Transfers (transfer-dbus.c) */
#define BUS_ERROR_IMAGE_EXISTS "org.berth.machine1.ImageExists"
#define BUS_ERROR_NO_SUCH_TRANSFER "org.berth.machine1.NoSuchTransfer"
/* A clone canceled with CancelTransfer (image-dbus.c) */
#define BUS_ERROR_CANCELED "org.berth.machine1.Canceled"
/* A resource limit this host has no cgroup controller for (machine-resources.c) */
#define BUS_ERROR_NO_CONTROLLER "org.berth.machine1.NoController"
/* A device path of IO*BandwidthMax or DeviceAllow names no device (machine-resources.c) */
#define BUS_ERROR_NO_SUCH_DEVICE "org.berth.machine1.NoSuchDevice"

extern const sd_bus_error_map berth_bus_errors[];
