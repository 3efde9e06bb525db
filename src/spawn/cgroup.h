/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The container's cgroup2 directory: made before the clone so the payload starts inside it
 * (CLONE_INTO_CGROUP), emptied and removed at exit. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

typedef struct MachineCgroup {
        char *scope_path;   /* absolute path of the machine's directory in the cgroup2 tree */
        char *payload_path; /* scope_path/payload: the container's cgroup namespace root */
        int payload_fd;     /* O_PATH|O_DIRECTORY of payload_path, for CLONE_INTO_CGROUP */
        bool owns_scope;    /* we made scope_path and remove it at exit */
        char **v1_dirs;     /* cgroup v1 directories of ours holding limits cgroup2 cannot (resources.c) */
} MachineCgroup;


/* KEEP_UNIT: inside our own cgroup (the unit's, which delegated it to us); otherwise a
 * machine.slice/machine-NAME.scope of our own. -EBUSY if that scope already holds processes. */
int machine_cgroup_create(const char *machine, bool keep_unit, MachineCgroup *ret);
/* Registered with CreateMachine: berthd put PID in a scope of its own; makes the payload
 * directory inside it (the scope stays berthd's to remove). */
int machine_cgroup_join_scope(pid_t pid, MachineCgroup *ret);
/* Moves PID into the payload directory. */
int machine_cgroup_add(const MachineCgroup *c, pid_t pid);
/* Lets UID own the payload directory and the files a delegated subtree needs to be writable. */
int machine_cgroup_delegate(const MachineCgroup *c, uid_t uid, gid_t gid);
/* Kills what is left (cgroup.kill), waits until it is empty and removes what we created,
 * v1_dirs included. */
int machine_cgroup_destroy(MachineCgroup *c);
