/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Resource limits of a machine, shared by berthd (SetMachineProperties) and berth-spawn
 * ([Resources], --property=): the property set, its textual forms, conversions to cgroup values,
 * the saved set in $BERTH_STATE_DIR/properties/NAME, and writing a set to a cgroup tree.
 *
 * Names are systemd's, so that a set goes to SetUnitProperties as it is: MemoryMax, MemoryHigh,
 * MemorySwapMax, TasksMax (t; UINT64_MAX = no limit), CPUQuotaPerSecUSec (t; "50%" on input),
 * CPUWeight, IOWeight (t, 1..10000), AllowedCPUs (ay, a CPU bitmask; "0-1,3" on input),
 * IOReadBandwidthMax, IOWriteBandwidthMax (a(st): "PATH BYTES" per device) and DeviceAllow
 * (a(ss): "PATH [rwm]" per device node). The lists work like systemd's: an entry for a path
 * already listed replaces it, an empty assignment empties the list. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

typedef enum ResourceProperty {
        RESOURCE_MEMORY_MAX,
        RESOURCE_MEMORY_HIGH,
        RESOURCE_CPU_QUOTA,
        RESOURCE_CPU_WEIGHT,
        RESOURCE_ALLOWED_CPUS,
        RESOURCE_TASKS_MAX,
        RESOURCE_IO_WEIGHT,
        RESOURCE_MEMORY_SWAP_MAX,
        RESOURCE_IO_READ_BANDWIDTH_MAX,
        RESOURCE_IO_WRITE_BANDWIDTH_MAX,
        RESOURCE_DEVICE_ALLOW,
        _RESOURCE_MAX,
        _RESOURCE_INVALID = -EINVAL,
} ResourceProperty;

#define CGROUP_WEIGHT_MIN 1ULL
#define CGROUP_WEIGHT_MAX 10000ULL
/* The CFS period berth uses for quotas; systemd's default too. */
#define CPU_QUOTA_PERIOD_USEC 100000ULL
/* Entries per list: plenty for one machine, and a bound on what a caller can make us hold. */
#define RESOURCE_LIST_MAX 64U

/* One entry of IOReadBandwidthMax / IOWriteBandwidthMax: bytes per second, UINT64_MAX = none. */
typedef struct ResourceIOLimit {
        char *path;
        uint64_t bytes;
} ResourceIOLimit;

/* One entry of DeviceAllow: a device node and a non-empty subset of "rwm". */
typedef struct ResourceDevice {
        char *path;
        char access[4];
} ResourceDevice;

typedef struct ResourceLimits {
        unsigned set;                   /* 1u << ResourceProperty for each property given */
        uint64_t value[_RESOURCE_MAX];  /* the scalar properties */
        uint8_t *cpus;                  /* owned; AllowedCPUs, systemd's bitmask */
        size_t n_cpus;
        ResourceIOLimit *io[2];         /* owned; [0] read, [1] write */
        size_t n_io[2];
        ResourceDevice *devices;        /* owned; DeviceAllow */
        size_t n_devices;
} ResourceLimits;

static inline bool resource_property_is_io_list(ResourceProperty p) {
        return p == RESOURCE_IO_READ_BANDWIDTH_MAX || p == RESOURCE_IO_WRITE_BANDWIDTH_MAX;
}
static inline unsigned resource_io_index(ResourceProperty p) {
        return p == RESOURCE_IO_WRITE_BANDWIDTH_MAX;
}

const char *resource_property_to_string(ResourceProperty p);
ResourceProperty resource_property_from_string(const char *s);

void resource_limits_done(ResourceLimits *l);
static inline bool resource_limits_has(const ResourceLimits *l, ResourceProperty p) {
        return l->set & (1u << p);
}

/* Sets one property from its textual form ("64M", "50%", "0-1", "infinity", "/dev/sda 1M",
 * "/dev/fuse rw"). -EINVAL or -ERANGE for a bad value, leaving L as it was. */
int resource_limits_parse(ResourceLimits *l, ResourceProperty p, const char *s);
/* The same for "Name=VALUE", accepting "CPUQuota" for CPUQuotaPerSecUSec. -ENOENT for a name
 * that is no resource property. */
int resource_limits_parse_assignment(ResourceLimits *l, const char *assignment);
/* Scalar and CPU-mask setters with the range checks of the parser (for bus callers). */
int resource_limits_set_value(ResourceLimits *l, ResourceProperty p, uint64_t v);
int resource_limits_set_cpus(ResourceLimits *l, const uint8_t *mask, size_t n);
/* List setters: append or replace the entry for PATH (checked like the textual form). */
int resource_limits_add_io(ResourceLimits *l, ResourceProperty p, const char *path, uint64_t bytes);
int resource_limits_add_device(ResourceLimits *l, const char *path, const char *access);
/* Marks list P as given and empties it. */
void resource_limits_reset_list(ResourceLimits *l, ResourceProperty p);
/* Copies into DST every property that SRC sets (list entries merge by path). */
int resource_limits_merge(ResourceLimits *dst, const ResourceLimits *src);

/* KEY=VALUE lines (systemd's names), one per list entry, and back; unknown keys are skipped. */
int resource_limits_serialize(const ResourceLimits *l, char **ret);
int resource_limits_deserialize(const char *text, ResourceLimits *ret);
/* The textual value of P, as resource_limits_parse() reads it back; a list gives its entries
 * joined by ", ". */
int resource_limits_format(const ResourceLimits *l, ResourceProperty p, char **ret);

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
/* "rwm" subsets: the canonical order, or -EINVAL. "" means "rwm". */
int device_access_normalize(const char *s, char ret[static 4]);

/* Where cgroup v1 hierarchies are mounted on hybrid hosts. */
#define CGROUP_V1_ROOT "/sys/fs/cgroup"

/* Where a cgroupfs backend writes. */
typedef struct CgroupfsTarget {
        const char *v2_root;    /* the cgroup2 mount point */
        const char *v2_path;    /* the machine's cgroup2 directory (absolute) */
        const char *v1_root;    /* where v1 hierarchies are mounted: /sys/fs/cgroup */
        const char *v1_base;    /* NULL: the caller's own v1 cgroups; else the same relative path
                                 * in every hierarchy (tests) */
        const char *machine;    /* the name in machine-NAME.scope */
        const char *dev_root;   /* NULL: "/"; where device paths are looked up (tests) */
} CgroupfsTarget;

/* resource-cgroupfs.c */

/* Applies L to the cgroup tree of T, all or nothing as far as the kernel lets us: nothing is
 * written unless every property has a place to go (-EOPNOTSUPP, and *RET_WHAT names the property
 * and the controller it lacks) and every device path names a device (-ENODEV, *RET_WHAT names
 * it), and values written before a failure are restored. V1_DIRS (in/out) lists the v1
 * directories made for the machine: new ones are appended, to be persisted by the caller. */
int resources_apply_cgroupfs(const CgroupfsTarget *t, const ResourceLimits *l, char ***v1_dirs,
                             char **ret_what);
/* Whether this host has, for each property of L, its controller in the cgroup2 tree at V2_ROOT
 * or a v1 hierarchy below V1_ROOT (what a service manager on it can use): -EOPNOTSUPP and
 * *RET_WHAT as resources_apply_cgroupfs() if not. */
int resources_check_available(const char *v2_root, const char *v1_root, const ResourceLimits *l,
                              char **ret_what);
/* Moves every process of the cgroup2 directory V2_PATH into each of V1_DIRS, until none is
 * left behind (they fork meanwhile). */
int resources_sync_v1(const char *v2_path, char *const *v1_dirs);
/* Empties (into the cgroup above machine.slice) and removes one v1 directory of a machine and
 * then its machine.slice when that became empty. */
int resources_remove_v1(const char *dir);
/* Whether PATH has the shape of a v1 directory made for machine NAME. */
bool resources_v1_dir_is_valid(const char *path, const char *name);
/* The device a DeviceAllow or IO*BandwidthMax path stands for, below ROOT (NULL: "/"):
 * DeviceAllow takes a device node ('c' or 'b' in *RET_TYPE); the bandwidth limits take a block
 * device node or any file, meaning the whole disk its file system is on. */
int resources_device_of(const char *root, const char *path, bool whole_disk, char *ret_type,
                        unsigned *ret_major, unsigned *ret_minor);

/* $BERTH_STATE_DIR/properties or /var/lib/berth/properties. */
int resources_state_dir(char **ret);
/* The saved properties of NAME: 0 and an empty set when none were saved. */
int resources_load(const char *dir, const char *name, ResourceLimits *ret);
int resources_save(const char *dir, const char *name, const ResourceLimits *l);
