/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live resource limits of machines: SetMachineProperties, through systemd or the cgroupfs.
 *
 * Properties (systemd's bus names and types, so "systemctl set-property"-style callers just
 * work; the set is in resource-limits.h): the t ones, AllowedCPUs (ay), IOReadBandwidthMax and
 * IOWriteBandwidthMax (a(st)), DeviceAllow (a(ss)). Friendlier spellings are accepted on input:
 * every property as s in its textual form ("64M", "infinity", "50%" for CPUQuota or
 * CPUQuotaPerSecUSec, "0-1,3", "/dev/sda 1M", "/dev/fuse rw").
 *
 * Applying: with systemd, SetUnitProperties on the machine's unit. Without, berthd writes the
 * machine's cgroup2 files; a controller the cgroup2 tree lacks (cgroup v1 "hybrid" hosts) is
 * served by a machine.slice/machine-NAME.scope directory of berthd's own in that controller's v1
 * hierarchy, nested under berthd's own v1 cgroup (so whatever confines berthd keeps confining
 * the machines), into which every process of the machine is moved. Those directories are
 * recorded in the machine's state and removed with it.
 *
 * Persistence: unless RUNTIME is true, the properties given are merged into
 * $BERTH_STATE_DIR/properties/NAME (default /var/lib/berth/properties/NAME: they must outlive
 * a reboot, so not under /run) and applied again whenever a machine of that name is created or
 * registered. With RUNTIME they hold for the running machine only, and the saved set is left
 * as it was — like systemd's set-property --runtime. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "macro.h"
#include "resource-limits.h"

typedef struct Manager Manager;
typedef struct Machine Machine;

/* Reads and validates an a(sv) of properties. Unknown names, wrong types and values out of
 * range set InvalidArgs in ERROR (and return its negative errno); a property given twice keeps
 * the last value, as systemd does. */
int resource_limits_from_bus(sd_bus_message *message, ResourceLimits *ret, sd_bus_error *error);
/* Appends the a(sv) that systemd's SetUnitProperties takes. */
int resource_limits_append_systemd(sd_bus_message *m, const ResourceLimits *l);

/* Called with the outcome of an asynchronous apply: 0 or a negative errno, with ERROR set by
 * systemd when it refused. */
typedef void (*ResourcesDone)(int r, const sd_bus_error *error, void *userdata);

/* SetUnitProperties(UNIT, RUNTIME, L) on org.freedesktop.systemd1 over BUS; DONE runs when
 * systemd answers. */
int resources_apply_systemd(sd_bus *bus, const char *unit, bool runtime, const ResourceLimits *l,
                            ResourcesDone done, void *userdata);

/* Re-applies the saved properties of a machine that was just created or registered. */
int machine_resources_restore(Machine *m);
/* The machine left for good: removes the v1 directories made for it. */
void machine_resources_release(Machine *m);
/* Moves processes that joined the machine's cgroup2 directory since into its v1 directories
 * (for callers that start processes inside a machine). */
int machine_resources_sync(Machine *m);

/* SetMachineProperties, on the Manager and on Machine objects (added by manager_bus_register()). */
extern const sd_bus_vtable resources_manager_vtable[];
extern const sd_bus_vtable resources_machine_vtable[];
