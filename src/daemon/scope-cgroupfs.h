/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cgroupfs scope backend: berthd makes, fills, kills and removes machine-NAME.scope itself
 * where no systemd runs (on hybrid hosts in the unified hierarchy). */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "cgroup-util.h"

/* The cgroup2 mount point: /sys/fs/cgroup on unified hosts, /sys/fs/cgroup/unified on hybrid
 * ones. $BERTH_CGROUP_ROOT overrides it (a test may confine berthd to a sub-tree). */
int cgroupfs_root(char **ret);

/* ROOT/machine.slice/machine-NAME.scope */
int scope_path(const char *root, const char *name, char **ret);

/* Makes the scope directory PATH (see scope_path()) and moves LEADER into it. -EEXIST if the
 * directory exists already (someone else's, or a dead machine's still emptying: never adopt it). */
int scope_create(const char *path, pid_t leader);

/* Removes the (empty) scope directory, then machine.slice when that became empty too. */
int scope_remove(const char *path);

/* 1 if processes live in the cgroup or below, 0 if not, negative errno. */
int cgroup_populated(const char *path);
/* The same, from an open cgroup.events (re-arming its EPOLLPRI). */
int cgroup_populated_fd(int fd);

/* SIGKILLs everything in the cgroup at once (cgroup.kill). */
int cgroup_kill_all(const char *path);

/* Sends SIG to every process in the cgroup and the cgroups below it. */
int cgroup_signal_all(const char *path, int sig);
