/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Transfers on D-Bus: the Manager's import and export methods, and the org.berth.machine1.Transfer objects. */
#pragma once

#include "manager.h"

#define TRANSFER_OBJECT_PREFIX "/org/berth/machine1/transfer"
#define TRANSFER_INTERFACE "org.berth.machine1.Transfer"

/* Adds the Manager's transfer methods and signals and the Transfer objects to M's bus. The
 * transfers' registry lives as long as the bus. */
int transfer_bus_register(Manager *m);

/* A CloneImage that copies, shown as a transfer of type "clone" (Remote: SOURCE, Local:
 * NEW_NAME) with TransferNew. O is the clone's operation: CancelTransfer sends its worker
 * SIGTERM. PROGRESS_FD (the read end of the worker's progress pipe, millionths as
 * transfer_report_progress() writes them) is taken over. Returns the transfer's id (> 0). */
int transfer_bus_clone_begin(Manager *m, Operation *o, const char *source, const char *new_name, int progress_fd,
                             uint32_t *ret_id);
/* Its end, with the worker's ERROR (0: done): TransferRemoved, the transfer gone. Nothing if
 * it is gone already (the bus went first). Returns true if it was canceled by CancelTransfer. */
bool transfer_bus_clone_end(Manager *m, uint32_t id, int error);
