/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cgroup2 basics shared by berth-spawn and berthd: where the hierarchy is, whether a cgroup
 * holds processes, killing all of them. */
#pragma once

#include <sys/types.h>

/* The cgroup2 mount point: /sys/fs/cgroup on unified hosts, /sys/fs/cgroup/unified on hybrid
 * ones; -ENOMEDIUM when there is none. */
int cgroup2_mount_point(const char **ret);
/* Whether PATH is a cgroup2 mount point or directory. */
int cgroup2_is(const char *path);

/* 1 if processes live in the cgroup or below, 0 if not, negative errno. */
int cgroup_populated(const char *path);
/* The same, from an open cgroup.events. Reading through the fd that is being polled is what
 * re-arms its POLLPRI/EPOLLPRI: kernfs keeps reporting an event until this very open file has
 * seen the new contents. */
int cgroup_populated_fd(int fd);
/* The 0/1 flag KEY ("populated", "frozen") of an open cgroup.events: 1, 0, or -ENOKEY where the
 * kernel has no such line. Read with pread(): the same re-arming as above. */
int cgroup_events_flag_fd(int fd, const char *key);
/* SIGKILLs everything in the cgroup at once (cgroup.kill). */
int cgroup_kill_all(const char *path);
/* Removes the (empty) cgroup PATH and every directory below it, deepest first: a container's
 * own init may have made a whole tree (init.scope, system.slice, ...). 0 if PATH is gone. */
int cgroup_rmdir_tree(const char *path);
/* The cgroup2 path ("0::" line) of PID (0: ourselves), relative to the cgroup2 mount, e.g.
 * "/a/b.scope". -ESRCH when PID is gone. */
int proc_cgroup(pid_t pid, char **ret);
