/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parsers for what limits a container's processes: resource limits, the OOM score, CPU affinity. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>

/* Inline and fixed: Settings is plain data that a settings file's scratch copy can swap whole.
 * 8192 is the largest NR_CPUS distribution kernels build with. */
#define CPU_AFFINITY_MAX 8192U

typedef struct CpuAffinity {
        uint64_t bits[CPU_AFFINITY_MAX / 64];
} CpuAffinity;

/* "RLIMIT_NOFILE" or "NOFILE" (any case for the prefix-less form, as nspawn): the resource, or
 * -EINVAL. */
int rlimit_from_string(const char *s);
/* "NOFILE" for RLIMIT_NOFILE; NULL when out of range. */
const char *rlimit_to_string(int resource);

/* "SOFT[:HARD]" or one VALUE for both; each a number or "infinity". Byte limits (AS, CORE, DATA,
 * FSIZE, MEMLOCK, MSGQUEUE, RSS, STACK) take K, M, G, … suffixes (powers of 1024); NICE also takes
 * a nice level with its sign ("-5" is the rlimit 25), as systemd's LimitNICE=. SOFT above HARD is
 * -EINVAL. */
int rlimit_parse(int resource, const char *value, struct rlimit *ret);

/* The limits a container's PID 1 starts with where none was given: what the kernel hands the
 * host's init, as nspawn does, so a container does not depend on how berth-spawn was started.
 * NPROC and SIGPENDING scale with the host's memory: 0 (and false) for those two, to be read off
 * the host's PID 1 instead. */
bool rlimit_kernel_default(int resource, struct rlimit *ret);

/* Whether L gives more than the default above would: a higher soft or hard limit. NPROC and
 * SIGPENDING always count, since their defaults are the host's to know. NOFILE's hard default is
 * taken as nspawn raises it (512K). */
bool rlimit_widens(int resource, const struct rlimit *l);

/* An integer in -1000…1000, as /proc/PID/oom_score_adj takes. */
int parse_oom_score_adjust(const char *s, int *ret);

/* "0-1,3" or "0 2-3": CPU numbers and ranges, comma or blank separated, as sched_setaffinity()
 * and nspawn's --cpu-affinity= take them. An empty list is -EINVAL; so is a CPU at or past
 * CPU_AFFINITY_MAX. */
int cpu_affinity_parse(const char *s, CpuAffinity *ret);
bool cpu_affinity_is_empty(const CpuAffinity *a);
/* "0-1,3": the canonical form, for logs and tests. NULL when out of memory. */
char *cpu_affinity_format(const CpuAffinity *a);
