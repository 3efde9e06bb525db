/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Resource limits, OOM score adjustment and CPU affinity of the container's PID 1. */
#pragma once

#include <sys/types.h>

#include "settings.h"

/* Gives PID (the container's PID 1, before it runs anything of the container's) the resource
 * limits S asks for, and the kernel's defaults for the others, as nspawn does; then S's OOM score
 * adjustment and CPU affinity, if set. Done from the host, where raising a hard limit or lowering
 * the OOM score is allowed also for a container in a user namespace. Everything PID 1 starts,
 * berth-init and the command, or init and its services, inherits them. Logs its errors. */
int exec_limits_apply(const Settings *s, pid_t pid);
