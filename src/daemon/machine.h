/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A registered machine: its identity, its leader process and its cgroup, without any D-Bus. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <systemd/sd-id128.h>

#include "cgroup-util.h"
#include "machine-cache.h"
#include "macro.h"

typedef struct Manager Manager;
typedef struct FreezeJob FreezeJob;

/* Host-side interfaces one machine may register: nspawn's veth, extra veths and a few more. */
#define MACHINE_NETIF_MAX 32U
typedef struct Machine Machine;

typedef enum MachineClass {
        MACHINE_CONTAINER,
        MACHINE_VM,
        _MACHINE_CLASS_MAX,
        _MACHINE_CLASS_INVALID = -EINVAL,
} MachineClass;

typedef enum MachineState {
        MACHINE_OPENING,
        MACHINE_RUNNING,
        MACHINE_CLOSING,
        _MACHINE_STATE_MAX,
        _MACHINE_STATE_INVALID = -EINVAL,
} MachineState;

struct Machine {
        Manager *manager;
        Machine *next;
        /* The list it is in (Manager.machines or .closing) is doubly linked, and the registry
         * indexed by name (manager.c): 5,000 machines stopping at once must not walk it. */
        Machine *prev;
        Machine *name_next;

        char *name;
        sd_id128_t id;
        char *service;
        char *unit;
        char *root_directory;
        MachineClass class;
        MachineState state;
        uint64_t timestamp;
        uint64_t timestamp_monotonic;

        pid_t leader;
        /* Both identify the leader across a berthd restart: a recycled PID has another start
         * time; the pidfs inode (0 where the kernel has no pidfs) is unique for the boot. */
        uint64_t leader_starttime;
        uint64_t leader_pidfd_inode;
        int leader_pidfd;
        sd_event_source *leader_source;

        /* Absolute path of the machine's cgroup2 directory; scope_created says berthd made it
         * (CreateMachine) and so removes it once it is empty. */
        char *cgroup_path;
        bool scope_created;
        sd_event_source *cgroup_source;
        sd_event_source *kill_timer;

        /* systemd scope backend (scope-systemd.c): the match on the unit's PropertiesChanged
         * and the query of its ActiveState in flight. */
        sd_bus_slot *unit_match_slot;
        sd_bus_slot *unit_query_slot;

        /* Resource limits (machine-resources.c): the cgroup v1 directories berthd made for the
         * machine on hybrid hosts, removed when it goes. */
        char **resource_v1_dirs;

        /* Networking (CreateMachineWithNetwork/RegisterMachineWithNetwork): the host-side
         * interfaces given at registration (veth, tap, bridge ends), what NetworkInterfaces
         * shows. Inline: a few per machine, bounded, and nothing to free. */
        int netif[MACHINE_NETIF_MAX];
        unsigned n_netif;

        /* KillSignal of CreateMachine (cgroupfs backend; systemd keeps its own): what a
         * TerminateMachine sends everyone in the scope first, SIGKILL following. 0: SIGKILL. */
        int kill_signal;

        /* A power off or terminate was asked for: a StartMachine now must wait until it is gone,
         * not answer "running already" (machine-lifecycle.c). */
        bool stopping;

        /* A freeze or thaw waiting for cgroup.events (machine-freeze.c); NULL when none. */
        FreezeJob *freeze_job;

        /* What ListMachinesEx shows from inside the machine (machine-cache.c). */
        MachineInfo info;
};

const char *machine_class_to_string(MachineClass c);
MachineClass machine_class_from_string(const char *s);
const char *machine_state_to_string(MachineState s);
MachineState machine_state_from_string(const char *s);

int machine_new(const char *name, Machine **ret);
Machine *machine_free(Machine *m);
static inline void machine_freep(Machine **m) {
        if (*m)
                machine_free(*m);
}

/* Opens a pidfd for the leader and checks that it is the process recorded (start time and, when
 * recorded, pidfs inode). -ESRCH when the leader is gone or was replaced by another process. */
int machine_open_leader(Machine *m);

/* Watches the leader (and the cgroup once it is closing) in the manager's event loop. */
int machine_start_watch(Machine *m);

int machine_kill(Machine *m, bool all, int sig);
int machine_terminate(Machine *m);

/* The leader is gone: stop watching it; removes our scope once empty. Returns 1 when the machine
 * can be freed now, 0 while its scope still waits to empty. */
int machine_leader_exited(Machine *m);

/* The contents of /proc/PID/WHAT (PID 0: /proc/self), up to 64 KiB; -ESRCH when PID is gone. */
int proc_read_file(pid_t pid, const char *what, char **ret);
/* Start time of PID in clock ticks since boot (field 22 of /proc/PID/stat). */
int proc_starttime(pid_t pid, uint64_t *ret);
/* Real uid of PID, from /proc/PID/status. */
int proc_uid(pid_t pid, uid_t *ret);
