/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live resource limits of machines: SetMachineProperties, through systemd or the cgroupfs.
 *
 * Properties (systemd's bus names and types, so "systemctl set-property"-style callers just
 * work): MemoryMax, MemoryHigh, TasksMax (t; UINT64_MAX = no limit), CPUQuotaPerSecUSec (t;
 * UINT64_MAX = no limit), CPUWeight, IOWeight (t, 1..10000), AllowedCPUs (ay, a CPU bitmask,
 * empty = all). Friendlier spellings are accepted on input: CPUQuota (s, "50%"), AllowedCPUs
 * (s, "0-1,3"), and the t properties as s ("64M", "infinity").
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

typedef struct Manager Manager;
typedef struct Machine Machine;

typedef enum ResourceProperty {
        RESOURCE_MEMORY_MAX,
        RESOURCE_MEMORY_HIGH,
        RESOURCE_CPU_QUOTA,
        RESOURCE_CPU_WEIGHT,
        RESOURCE_ALLOWED_CPUS,
        RESOURCE_TASKS_MAX,
        RESOURCE_IO_WEIGHT,
        _RESOURCE_MAX,
        _RESOURCE_INVALID = -EINVAL,
} ResourceProperty;

#define CGROUP_WEIGHT_MIN 1ULL
#define CGROUP_WEIGHT_MAX 10000ULL
/* The CFS period berthd uses for quotas; systemd's default too. */
#define CPU_QUOTA_PERIOD_USEC 100000ULL

typedef struct ResourceLimits {
        unsigned set;                   /* 1u << ResourceProperty for each property given */
        uint64_t value[_RESOURCE_MAX];  /* all but AllowedCPUs */
        uint8_t *cpus;                  /* owned; AllowedCPUs, systemd's bitmask */
        size_t n_cpus;
} ResourceLimits;

const char *resource_property_to_string(ResourceProperty p);
ResourceProperty resource_property_from_string(const char *s);

void resource_limits_done(ResourceLimits *l);
static inline bool resource_limits_has(const ResourceLimits *l, ResourceProperty p) {
        return l->set & (1u << p);
}

/* Reads and validates an a(sv) of properties. Unknown names, wrong types and values out of
 * range set InvalidArgs in ERROR (and return its negative errno); a property given twice keeps
 * the last value, as systemd does. */
int resource_limits_from_bus(sd_bus_message *message, ResourceLimits *ret, sd_bus_error *error);
/* Sets one property from its textual form ("64M", "50%", "0-1", "infinity"). */
int resource_limits_parse(ResourceLimits *l, ResourceProperty p, const char *s);
/* Copies into DST every property that SRC sets. */
int resource_limits_merge(ResourceLimits *dst, const ResourceLimits *src);

/* KEY=VALUE lines (systemd's names) and back; unknown keys are skipped. */
int resource_limits_serialize(const ResourceLimits *l, char **ret);
int resource_limits_deserialize(const char *text, ResourceLimits *ret);

/* Appends the a(sv) that systemd's SetUnitProperties takes. */
int resource_limits_append_systemd(sd_bus_message *m, const ResourceLimits *l);

/* Conversions, exposed for the tests. */
int cpu_quota_parse(const char *s, uint64_t *ret_usec_per_sec);
/* cgroup2 cpu.max: "max 100000" or "QUOTA 100000". */
int cpu_max_format(uint64_t usec_per_sec, char **ret);
/* cgroup v1 cpu.cfs_quota_us for the berth period: -1 for no limit. */
int64_t cpu_quota_to_cfs(uint64_t usec_per_sec);
/* cgroup v1 cpu.shares (2..262144, 1024 ↔ the default weight 100). */
uint64_t cpu_weight_to_shares(uint64_t weight);
/* cgroup v1 blkio.weight (10..1000, 500 ↔ 100) and BFQ's weight (1..1000, 100 ↔ 100). */
uint64_t io_weight_to_blkio(uint64_t weight);
uint64_t io_weight_to_bfq(uint64_t weight);
/* "0-3,6" ↔ bitmask; "" is the empty mask. */
int cpu_set_parse(const char *s, uint8_t **ret, size_t *ret_n);
int cpu_set_format(const uint8_t *mask, size_t n, char **ret);

/* Where cgroup v1 hierarchies are mounted on hybrid hosts. */
#define CGROUP_V1_ROOT "/sys/fs/cgroup"

/* Where a cgroupfs backend writes. */
typedef struct CgroupfsTarget {
        const char *v2_root;    /* the cgroup2 mount point */
        const char *v2_path;    /* the machine's cgroup2 directory (absolute) */
        const char *v1_root;    /* where v1 hierarchies are mounted: /sys/fs/cgroup */
        const char *v1_base;    /* NULL: berthd's own v1 cgroups; else the same relative path in
                                 * every hierarchy (tests) */
        const char *machine;    /* the name in machine-NAME.scope */
} CgroupfsTarget;

/* machine-resources-cgroupfs.c */

/* Applies L to the cgroup tree of T, all or nothing as far as the kernel lets us: nothing is
 * written unless every property has a place to go (-EOPNOTSUPP, and *RET_WHAT names it), and
 * values written before a failure are restored. V1_DIRS (in/out) lists the v1 directories made
 * for the machine: new ones are appended, to be persisted by the caller. */
int resources_apply_cgroupfs(const CgroupfsTarget *t, const ResourceLimits *l, char ***v1_dirs,
                             char **ret_what);
/* Moves every process of the cgroup2 directory V2_PATH into each of V1_DIRS, until none is
 * left behind (they fork meanwhile). */
int resources_sync_v1(const char *v2_path, char *const *v1_dirs);
/* Empties (into the cgroup above machine.slice) and removes one v1 directory of a machine and
 * then its machine.slice when that became empty. */
int resources_remove_v1(const char *dir);
/* Whether PATH has the shape of a v1 directory berthd makes for machine NAME. */
bool resources_v1_dir_is_valid(const char *path, const char *name);

/* $BERTH_STATE_DIR/properties or /var/lib/berth/properties. */
int resources_state_dir(char **ret);
/* The saved properties of NAME: 0 and an empty set when none were saved. */
int resources_load(const char *dir, const char *name, ResourceLimits *ret);
int resources_save(const char *dir, const char *name, const ResourceLimits *l);

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
