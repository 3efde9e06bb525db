/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Starting, powering off and rebooting machines: StartMachine, PowerOffMachine, RebootMachine.
 *
 * Power off and reboot go to the machine's supervisor when it is berth-spawn (the leader's
 * parent): it knows the signal the init it started wants (--kill-signal=, --reboot-signal= or
 * the init's own), and gets SIGRTMIN+4 (power off) or SIGRTMIN+5 (reboot) from us, the signals
 * systemd uses for the same requests. Any other machine gets machinectl's signals on its leader:
 * SIGRTMIN+4 and SIGINT.
 *
 * StartMachine starts berth-spawn@NAME.service where systemd runs; elsewhere berthd runs
 * `berth-spawn --boot --keep-unit -U -M NAME` itself, in a cgroup of its own
 * (machine.slice/berth-spawn@NAME.service), with its output in $BERTH_LOG_DIR/NAME.log
 * (/var/log/berth), restarts it when it exits with 133 (the machine rebooted), and answers once
 * the machine registered. */
#pragma once

#include <sys/types.h>

#include "manager.h"

typedef struct StartJob StartJob;

/* StartMachine, PowerOff and Reboot, on the Manager and on Machine objects (added by manager_bus_register()). */
extern const sd_bus_vtable lifecycle_manager_vtable[];
extern const sd_bus_vtable lifecycle_machine_vtable[];

/* MACHINE was just added to the registry: answers a StartMachine waiting for it. */
void machine_lifecycle_machine_added(Manager *m, Machine *machine);

/* Machine NAME left the registry: a StartMachine that waited for its power off starts it. */
void machine_lifecycle_machine_gone(Manager *m, const char *name);

/* Frees every start job; their berth-spawn processes keep running. */
void machine_lifecycle_free_all(Manager *m);
