/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writing resource limits to a machine's cgroups: cgroup2 files, and on hybrid hosts cgroup v1
 * directories of the caller's own (berthd's, or berth-spawn's) that the machine's processes are
 * moved into. Never logs above debug: the caller reports. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fd-util.h"
#include "log.h"
#include "name-util.h"
#include "resolve.h"
#include "resource-limits.h"
#include "strv.h"

/* Processes fork while we move them: give up on a machine that keeps outrunning us. */
#define SYNC_ROUNDS_MAX 100U

typedef struct Write {
        char *path;
        char *value;
        char *old;      /* NULL until written */
        bool blind;     /* a write-only file (devices.allow): nothing to read back or restore */
} Write;

typedef struct Plan {
        Write *w;
        size_t n;
} Plan;

static void plan_done(Plan *p) {
        for (size_t i = 0; i < p->n; i++) {
                free(p->w[i].path);
                free(p->w[i].value);
                free(p->w[i].old);
        }
        free(p->w);
        *p = (Plan) {};
}

static int read_small_file(const char *path, char **ret) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return negative_errno();
        return read_fd_full(fd, 64 * 1024, ret, NULL);
}

static bool word_in_file(const char *path, const char *word) {
        _cleanup_free_ char *buf = NULL;
        char *tok, *save = NULL;

        if (read_small_file(path, &buf) < 0)
                return false;
        for (tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
                if (streq(tok, word))
                        return true;
        return false;
}

/* The cgroup2 controller and the v1 hierarchy that implement P. Device access in cgroup2 is a
 * BPF program, not a controller: only berth-spawn's own policy or systemd attach one, so here
 * DeviceAllow takes the v1 devices controller. */
static const char *const v2_controller[_RESOURCE_MAX] = {
        [RESOURCE_MEMORY_MAX] = "memory", [RESOURCE_MEMORY_HIGH] = "memory",
        [RESOURCE_CPU_QUOTA] = "cpu", [RESOURCE_CPU_WEIGHT] = "cpu",
        [RESOURCE_ALLOWED_CPUS] = "cpuset", [RESOURCE_TASKS_MAX] = "pids",
        [RESOURCE_IO_WEIGHT] = "io", [RESOURCE_MEMORY_SWAP_MAX] = "memory",
        [RESOURCE_IO_READ_BANDWIDTH_MAX] = "io", [RESOURCE_IO_WRITE_BANDWIDTH_MAX] = "io",
};
static const char *const v1_controller[_RESOURCE_MAX] = {
        [RESOURCE_MEMORY_MAX] = "memory", [RESOURCE_MEMORY_HIGH] = "memory",
        [RESOURCE_CPU_QUOTA] = "cpu", [RESOURCE_CPU_WEIGHT] = "cpu",
        [RESOURCE_ALLOWED_CPUS] = "cpuset", [RESOURCE_TASKS_MAX] = "pids",
        [RESOURCE_IO_WEIGHT] = "blkio", [RESOURCE_MEMORY_SWAP_MAX] = "memory",
        [RESOURCE_IO_READ_BANDWIDTH_MAX] = "blkio", [RESOURCE_IO_WRITE_BANDWIDTH_MAX] = "blkio",
        [RESOURCE_DEVICE_ALLOW] = "devices",
};
/* The v1 file a property needs beyond its hierarchy (swap accounting, throttling). */
static const char *const v1_needs[_RESOURCE_MAX] = {
        [RESOURCE_MEMORY_SWAP_MAX] = "memory.memsw.limit_in_bytes",
        [RESOURCE_IO_READ_BANDWIDTH_MAX] = "blkio.throttle.read_bps_device",
        [RESOURCE_IO_WRITE_BANDWIDTH_MAX] = "blkio.throttle.write_bps_device",
        [RESOURCE_DEVICE_ALLOW] = "devices.allow",
};

/* Berthd's own cgroup in the v1 hierarchy of CONTROLLER, "" for its root. */
static int v1_own_cgroup(const char *controller, char **ret) {
        _cleanup_free_ char *buf = NULL;
        char *line, *save = NULL;
        int r;

        r = read_small_file("/proc/self/cgroup", &buf);
        if (r < 0)
                return r;
        for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *ctls = strchr(line, ':'), *path, *tok, *s2 = NULL;

                if (!ctls || !(path = strchr(ctls + 1, ':')))
                        continue;
                *path++ = 0;
                for (tok = strtok_r(ctls + 1, ",", &s2); tok; tok = strtok_r(NULL, ",", &s2))
                        if (streq(tok, controller)) {
                                *ret = strdup(streq(path, "/") ? "" : path);
                                return *ret ? 0 : -ENOMEM;
                        }
        }
        return -ENOENT;
}

static int v1_dir_for(const CgroupfsTarget *t, const char *controller, char **ret_base, char **ret_dir) {
        _cleanup_free_ char *own = NULL, *base = NULL;
        int r;

        if (t->v1_base)
                own = strdup(t->v1_base);
        else if ((r = v1_own_cgroup(controller, &own)) < 0)
                return r;
        if (!own || asprintf(&base, "%s/%s%s", t->v1_root, controller, own) < 0)
                return -ENOMEM;
        if (asprintf(ret_dir, "%s/machine.slice/machine-%s.scope", base, t->machine) < 0)
                return -ENOMEM;
        *ret_base = TAKE_PTR(base);
        return 0;
}

/* Where P goes: the cgroup2 tree when it has the controller, else its v1 hierarchy. Sets
 * *RET_V1 (the v1 directory, "" for cgroup2) or fails with -EOPNOTSUPP. */
static int locate(const CgroupfsTarget *t, ResourceProperty p, char **ret_v1) {
        _cleanup_free_ char *ctl = NULL, *base = NULL, *dir = NULL, *f1 = NULL, *f2 = NULL;
        int r;

        if (asprintf(&ctl, "%s/cgroup.controllers", t->v2_root) < 0)
                return -ENOMEM;
        if (v2_controller[p] && word_in_file(ctl, v2_controller[p])) {
                *ret_v1 = strdup("");
                return *ret_v1 ? 0 : -ENOMEM;
        }
        free(ctl);
        if (asprintf(&ctl, "%s/%s/cgroup.procs", t->v1_root, v1_controller[p]) < 0)
                return -ENOMEM;
        if (access(ctl, F_OK) < 0)
                return -EOPNOTSUPP;
        r = v1_dir_for(t, v1_controller[p], &base, &dir);
        if (r < 0)
                return r == -ENOENT ? -EOPNOTSUPP : r;
        /* Without CFQ or BFQ on some device, v1 has no weight to set. */
        if (p == RESOURCE_IO_WEIGHT) {
                if (asprintf(&f1, "%s/blkio.weight", base) < 0 ||
                    asprintf(&f2, "%s/blkio.bfq.weight", base) < 0)
                        return -ENOMEM;
                if (access(f1, F_OK) < 0 && access(f2, F_OK) < 0)
                        return -EOPNOTSUPP;
        }
        if (v1_needs[p]) {
                if (asprintf(&f1, "%s/%s", base, v1_needs[p]) < 0)
                        return -ENOMEM;
                if (access(f1, F_OK) < 0)
                        return -EOPNOTSUPP;
        }
        *ret_v1 = TAKE_PTR(dir);
        return 0;
}

static int plan_add(Plan *plan, const char *dir, const char *file, char *value) {
        Write *g, *w;

        if (!value)
                return -ENOMEM;
        g = realloc(plan->w, (plan->n + 1) * sizeof(Write));
        if (!g) {
                free(value);
                return -ENOMEM;
        }
        plan->w = g;
        w = &plan->w[plan->n++];
        *w = (Write) { .value = value };
        return asprintf(&w->path, "%s/%s", dir, file) < 0 ? -ENOMEM : 0;
}

static int plan_add_blind(Plan *plan, const char *dir, const char *file, const char *value) {
        int r = plan_add(plan, dir, file, strdup(value));

        if (r >= 0)
                plan->w[plan->n - 1].blind = true;
        return r;
}

static char *u64_or(uint64_t v, const char *infinity) {
        char *s = NULL;

        if (v == UINT64_MAX)
                return strdup(infinity);
        return asprintf(&s, "%" PRIu64, v) < 0 ? NULL : s;
}

static char *u64_str(uint64_t v) {
        char *s = NULL;

        return asprintf(&s, "%" PRIu64, v) < 0 ? NULL : s;
}

/* The devices behind the lists of a ResourceLimits, looked up before anything is written. */
typedef struct Devices {
        dev_t io[2][RESOURCE_LIST_MAX];
        dev_t dev[RESOURCE_LIST_MAX];
        char type[RESOURCE_LIST_MAX];
} Devices;

int resources_device_of(const char *root, const char *path, bool whole_disk, char *ret_type,
                        unsigned *ret_major, unsigned *ret_minor) {
        _cleanup_free_ char *full = NULL, *sys = NULL, *parent = NULL;
        unsigned maj, min;
        struct stat st;
        dev_t d;

        if (asprintf(&full, "%s%s", isempty(root) || streq(root, "/") ? "" : root, path) < 0)
                return -ENOMEM;
        if (stat(full, &st) < 0)
                return negative_errno();
        if (!whole_disk) {
                if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
                        return -ENODEV;
                *ret_type = S_ISCHR(st.st_mode) ? 'c' : 'b';
                *ret_major = major(st.st_rdev);
                *ret_minor = minor(st.st_rdev);
                return 0;
        }
        /* A block device node, or the device the file system of a file lives on. */
        d = S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev;
        if (major(d) == 0)
                return -ENODEV; /* tmpfs, overlayfs and the like: no disk to throttle */
        maj = major(d);
        min = minor(d);
        /* The io controller takes whole disks: a partition stands for its disk. */
        if (asprintf(&sys, "/sys/dev/block/%u:%u/partition", maj, min) < 0 ||
            asprintf(&parent, "/sys/dev/block/%u:%u/../dev", maj, min) < 0)
                return -ENOMEM;
        if (access(sys, F_OK) >= 0) {
                _cleanup_free_ char *buf = NULL;

                if (read_small_file(parent, &buf) < 0 || sscanf(buf, "%u:%u", &maj, &min) != 2)
                        return -ENODEV;
        }
        *ret_type = 'b';
        *ret_major = maj;
        *ret_minor = min;
        return 0;
}

static int resolve_devices(const CgroupfsTarget *t, const ResourceLimits *l, Devices *d, char **ret_what) {
        unsigned maj, min;
        char type;
        int r;

        for (unsigned i = 0; i < 2; i++)
                for (size_t k = 0; k < l->n_io[i]; k++) {
                        r = resources_device_of(t->dev_root, l->io[i][k].path, true, &type, &maj, &min);
                        if (r < 0) {
                                if (ret_what)
                                        *ret_what = strdup(l->io[i][k].path);
                                return -ENODEV;
                        }
                        d->io[i][k] = makedev(maj, min);
                }
        for (size_t k = 0; k < l->n_devices; k++) {
                r = resources_device_of(t->dev_root, l->devices[k].path, false, &d->type[k], &maj, &min);
                if (r < 0) {
                        if (ret_what)
                                *ret_what = strdup(l->devices[k].path);
                        return -ENODEV;
                }
                d->dev[k] = makedev(maj, min);
        }
        return 0;
}

/* io.max takes "MAJ:MIN rbps=N" or "…=max"; blkio.throttle.*_bps_device "MAJ:MIN N", where 0
 * removes the limit. */
static int plan_io(Plan *plan, const char *dir, const ResourceLimits *l, ResourceProperty p,
                   const Devices *d, bool v1) {
        unsigned i = resource_io_index(p);
        const char *file = v1 ? (i ? "blkio.throttle.write_bps_device" : "blkio.throttle.read_bps_device") :
                                "io.max";
        int r = 0;

        /* An emptied list lifts the limit of every device the file lists now. */
        if (l->n_io[i] == 0) {
                _cleanup_free_ char *path = NULL, *buf = NULL;
                char *line, *save = NULL;

                if (asprintf(&path, "%s/%s", dir, file) < 0)
                        return -ENOMEM;
                if (read_small_file(path, &buf) < 0)
                        return 0;
                for (line = strtok_r(buf, "\n", &save); line && r >= 0; line = strtok_r(NULL, "\n", &save)) {
                        unsigned maj, min;
                        char *v = NULL;

                        if (sscanf(line, "%u:%u", &maj, &min) != 2)
                                continue;
                        if (asprintf(&v, v1 ? "%u:%u 0" : "%u:%u %s=max", maj, min, i ? "wbps" : "rbps") < 0)
                                return -ENOMEM;
                        r = plan_add(plan, dir, file, v);
                        if (r >= 0)
                                plan->w[plan->n - 1].blind = true;
                }
                return r;
        }
        for (size_t k = 0; k < l->n_io[i] && r >= 0; k++) {
                uint64_t b = l->io[i][k].bytes;
                char *v = NULL;

                if (v1)
                        r = asprintf(&v, "%u:%u %" PRIu64, major(d->io[i][k]), minor(d->io[i][k]),
                                     b == UINT64_MAX ? 0 : b);
                else if (b == UINT64_MAX)
                        r = asprintf(&v, "%u:%u %s=max", major(d->io[i][k]), minor(d->io[i][k]), i ? "wbps" : "rbps");
                else
                        r = asprintf(&v, "%u:%u %s=%" PRIu64, major(d->io[i][k]), minor(d->io[i][k]),
                                     i ? "wbps" : "rbps", b);
                if (r < 0)
                        return -ENOMEM;
                /* Reading io.max back gives every device's line, not one to restore. */
                r = plan_add(plan, dir, file, v);
                if (r >= 0)
                        plan->w[plan->n - 1].blind = true;
        }
        return r;
}

/* The devices a container always has (berth-spawn's built-in policy): null, zero, full, random,
 * urandom, tty, console, ptmx, net/tun and the pty slaves. */
static const char *const v1_builtin_devices[] = {
        "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm",
        "c 5:2 rwm", "c 10:200 rwm", "c 136:* rw", "c 137:* rw", "c 138:* rw", "c 139:* rw",
        "c 140:* rw", "c 141:* rw", "c 142:* rw", "c 143:* rw",
};

/* An empty DeviceAllow lifts the v1 restriction (berth-spawn's own policy still holds); a list
 * closes the cgroup to the built-in devices and the listed ones. */
static int plan_devices_v1(Plan *plan, const char *dir, const ResourceLimits *l, const Devices *d) {
        int r;

        if (l->n_devices == 0)
                return plan_add_blind(plan, dir, "devices.allow", "a");
        r = plan_add_blind(plan, dir, "devices.deny", "a");
        for (size_t k = 0; k < ELEMENTSOF(v1_builtin_devices) && r >= 0; k++)
                r = plan_add_blind(plan, dir, "devices.allow", v1_builtin_devices[k]);
        for (size_t k = 0; k < l->n_devices && r >= 0; k++) {
                char v[64];

                snprintf(v, sizeof v, "%c %u:%u %s", d->type[k], major(d->dev[k]), minor(d->dev[k]),
                         l->devices[k].access);
                r = plan_add_blind(plan, dir, "devices.allow", v);
        }
        return r;
}

/* v1 limits memory plus swap together: MemorySwapMax is added to the memory limit the call sets,
 * or else to the one in force. */
static int plan_swap_v1(Plan *plan, const char *dir, const ResourceLimits *l) {
        _cleanup_free_ char *cur = NULL, *f = NULL;
        uint64_t mem, swap = l->value[RESOURCE_MEMORY_SWAP_MAX];

        if (swap == UINT64_MAX)
                return plan_add(plan, dir, "memory.memsw.limit_in_bytes", strdup("-1"));
        if (resource_limits_has(l, RESOURCE_MEMORY_MAX))
                mem = l->value[RESOURCE_MEMORY_MAX];
        else {
                if (asprintf(&f, "%s/memory.limit_in_bytes", dir) < 0)
                        return -ENOMEM;
                if (read_small_file(f, &cur) < 0 || sscanf(cur, "%" SCNu64, &mem) != 1)
                        return -EIO;
        }
        /* Without a memory limit, memory plus swap has no meaning v1 can express. */
        if (mem == UINT64_MAX || mem >= (UINT64_C(1) << 62) || swap > (UINT64_C(1) << 62))
                return -EOPNOTSUPP;
        return plan_add(plan, dir, "memory.memsw.limit_in_bytes", u64_str(mem + swap));
}

static int plan_v2(Plan *plan, const char *dir, const ResourceLimits *l, ResourceProperty p, const Devices *d) {
        _cleanup_free_ char *bfq = NULL;
        char *v = NULL;
        int r;

        switch (p) {
        case RESOURCE_MEMORY_MAX:
                return plan_add(plan, dir, "memory.max", u64_or(l->value[p], "max"));
        case RESOURCE_MEMORY_HIGH:
                return plan_add(plan, dir, "memory.high", u64_or(l->value[p], "max"));
        case RESOURCE_TASKS_MAX:
                return plan_add(plan, dir, "pids.max", u64_or(l->value[p], "max"));
        case RESOURCE_CPU_QUOTA:
                r = cpu_max_format(l->value[p], &v);
                return r < 0 ? r : plan_add(plan, dir, "cpu.max", v);
        case RESOURCE_CPU_WEIGHT:
                return plan_add(plan, dir, "cpu.weight", u64_str(l->value[p]));
        case RESOURCE_ALLOWED_CPUS:
                r = cpu_set_format(l->cpus, l->n_cpus, &v);
                return r < 0 ? r : plan_add(plan, dir, "cpuset.cpus", v);
        case RESOURCE_IO_WEIGHT:
                if (asprintf(&bfq, "%s/io.bfq.weight", dir) < 0)
                        return -ENOMEM;
                if (access(bfq, F_OK) >= 0)
                        return plan_add(plan, dir, "io.bfq.weight",
                                        u64_str(io_weight_to_bfq(l->value[p])));
                if (asprintf(&v, "default %" PRIu64, l->value[p]) < 0)
                        return -ENOMEM;
                return plan_add(plan, dir, "io.weight", v);
        case RESOURCE_MEMORY_SWAP_MAX:
                return plan_add(plan, dir, "memory.swap.max", u64_or(l->value[p], "max"));
        case RESOURCE_IO_READ_BANDWIDTH_MAX:
        case RESOURCE_IO_WRITE_BANDWIDTH_MAX:
                return plan_io(plan, dir, l, p, d, false);
        case RESOURCE_DEVICE_ALLOW:
        case _RESOURCE_MAX:
        case _RESOURCE_INVALID:
        default:
                return -EINVAL;
        }
}

static int plan_v1(Plan *plan, const char *dir, const ResourceLimits *l, ResourceProperty p, const Devices *d) {
        _cleanup_free_ char *parent = NULL, *bfq = NULL;
        char *v = NULL;
        int r;

        switch (p) {
        case RESOURCE_MEMORY_MAX:
                /* The kernel keeps memory+swap at or above memory: lift it first, then set it
                 * again after the memory limit. */
                if (resource_limits_has(l, RESOURCE_MEMORY_SWAP_MAX)) {
                        r = plan_add(plan, dir, "memory.memsw.limit_in_bytes", strdup("-1"));
                        if (r < 0)
                                return r;
                }
                return plan_add(plan, dir, "memory.limit_in_bytes", u64_or(l->value[p], "-1"));
        case RESOURCE_MEMORY_HIGH:
                /* v1 has no throttling threshold: the soft limit (reclaimed first under
                 * pressure) is the nearest thing. */
                return plan_add(plan, dir, "memory.soft_limit_in_bytes", u64_or(l->value[p], "-1"));
        case RESOURCE_TASKS_MAX:
                return plan_add(plan, dir, "pids.max", u64_or(l->value[p], "max"));
        case RESOURCE_CPU_QUOTA:
                /* Period first: the quota is checked against it. */
                r = plan_add(plan, dir, "cpu.cfs_period_us", u64_str(CPU_QUOTA_PERIOD_USEC));
                if (r < 0)
                        return r;
                if (asprintf(&v, "%" PRIi64, cpu_quota_to_cfs(l->value[p])) < 0)
                        return -ENOMEM;
                return plan_add(plan, dir, "cpu.cfs_quota_us", v);
        case RESOURCE_CPU_WEIGHT:
                return plan_add(plan, dir, "cpu.shares", u64_str(cpu_weight_to_shares(l->value[p])));
        case RESOURCE_ALLOWED_CPUS:
                if (l->n_cpus == 0) {
                        /* v1 knows no "all": take what the parent has. */
                        if (asprintf(&parent, "%s/../cpuset.cpus", dir) < 0)
                                return -ENOMEM;
                        r = read_small_file(parent, &v);
                        if (r < 0)
                                return r;
                        v[strcspn(v, "\n")] = 0;
                } else if ((r = cpu_set_format(l->cpus, l->n_cpus, &v)) < 0)
                        return r;
                return plan_add(plan, dir, "cpuset.cpus", v);
        case RESOURCE_IO_WEIGHT:
                if (asprintf(&bfq, "%s/blkio.bfq.weight", dir) < 0)
                        return -ENOMEM;
                if (access(bfq, F_OK) >= 0)
                        return plan_add(plan, dir, "blkio.bfq.weight",
                                        u64_str(io_weight_to_bfq(l->value[p])));
                return plan_add(plan, dir, "blkio.weight", u64_str(io_weight_to_blkio(l->value[p])));
        case RESOURCE_MEMORY_SWAP_MAX:
                return plan_swap_v1(plan, dir, l);
        case RESOURCE_IO_READ_BANDWIDTH_MAX:
        case RESOURCE_IO_WRITE_BANDWIDTH_MAX:
                return plan_io(plan, dir, l, p, d, true);
        case RESOURCE_DEVICE_ALLOW:
                return plan_devices_v1(plan, dir, l, d);
        case _RESOURCE_MAX:
        case _RESOURCE_INVALID:
        default:
                return -EINVAL;
        }
}

/* Controllers reach a cgroup2 directory only through every ancestor's subtree_control. We turn
 * them on in the directories we own (machine.slice and below); the rest must have done so. */
static int v2_enable(const CgroupfsTarget *t, const char *controller) {
        _cleanup_free_ char *slice = NULL, *path = NULL, *plus = NULL;
        size_t root_len = strlen(t->v2_root);

        if (asprintf(&slice, "%s/machine.slice", t->v2_root) < 0 || !(path = strdup(t->v2_path)) ||
            asprintf(&plus, "+%s", controller) < 0)
                return -ENOMEM;
        if (!startswith(path, t->v2_root) || path[root_len] != '/')
                return -EOPNOTSUPP;
        /* Each ancestor, from the root down to the machine's parent: PATH cut at each '/'. */
        for (char *s = path + root_len; s; s = strchr(s + 1, '/')) {
                _cleanup_free_ char *sub = NULL;
                const char *own;
                int r;

                *s = 0;
                own = startswith(path, slice);
                r = asprintf(&sub, "%s/cgroup.subtree_control", path) < 0 ? -ENOMEM : 0;
                *s = '/';
                if (r < 0)
                        return r;
                if (word_in_file(sub, controller))
                        continue;
                if (!own || (*own && *own != '/'))
                        return -EOPNOTSUPP;
                r = write_string_file(sub, plus);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int copy_cpuset_file(const char *dir, const char *file) {
        _cleanup_free_ char *src = NULL, *dst = NULL, *v = NULL;
        int r;

        if (asprintf(&src, "%s/../%s", dir, file) < 0 || asprintf(&dst, "%s/%s", dir, file) < 0)
                return -ENOMEM;
        r = read_small_file(src, &v);
        if (r < 0)
                return r;
        v[strcspn(v, "\n")] = 0;
        return write_string_file(dst, v);
}

/* Makes DIR (…/machine.slice/machine-NAME.scope) in a v1 hierarchy. A new cpuset starts with
 * no CPUs and no memory nodes, and refuses tasks until it has both: inherit the parent's. */
static int v1_make(const char *dir, bool cpuset) {
        _cleanup_free_ char *slice = strdup(dir);
        int r;

        if (!slice)
                return -ENOMEM;
        *strrchr(slice, '/') = 0;
        if (mkdir(slice, 0755) >= 0) {
                if (cpuset) {
                        r = copy_cpuset_file(slice, "cpuset.cpus");
                        if (r >= 0)
                                r = copy_cpuset_file(slice, "cpuset.mems");
                        if (r < 0)
                                return r;
                }
        } else if (errno != EEXIST)
                return negative_errno();
        if (mkdir(dir, 0755) < 0)
                return errno == EEXIST ? 0 : negative_errno();
        if (cpuset) {
                r = copy_cpuset_file(dir, "cpuset.cpus");
                if (r >= 0)
                        r = copy_cpuset_file(dir, "cpuset.mems");
                if (r < 0) {
                        (void) rmdir(dir);
                        return r;
                }
        }
        return 1;
}

static int plan_run(Plan *plan) {
        int r = 0;
        size_t i;

        for (i = 0; i < plan->n; i++) {
                Write *w = &plan->w[i];

                if (!w->blind) {
                        r = read_small_file(w->path, &w->old);
                        if (r < 0)
                                break;
                        w->old[strcspn(w->old, "\n")] = 0;
                }
                r = write_string_file(w->path, w->value);
                if (r < 0) {
                        log_debug_errno(r, "Failed to write '%s' to %s: %m", w->value, w->path);
                        break;
                }
        }
        if (r >= 0)
                return 0;
        /* Undo, newest first (a v1 quota goes before its period). */
        while (i-- > 0)
                if (plan->w[i].old)
                        (void) write_string_file(plan->w[i].path, plan->w[i].old);
        return r;
}

static bool endswith(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);

        return a >= b && streq(s + a - b, suffix);
}

/* What a user needs to know about a property this host cannot apply: the property and what
 * it lacks, e.g. "MemorySwapMax (no memory controller in cgroup2, no memory.memsw.limit_in_bytes
 * in cgroup v1)". */
static char *what_missing(ResourceProperty p) {
        const char *name = resource_property_to_string(p), *v2 = v2_controller[p];
        char *s = NULL;
        int r;

        if (!v2)
                r = asprintf(&s, "%s (no %s controller in cgroup v1, and cgroup2 has none)", name, v1_controller[p]);
        else if (v1_needs[p])
                r = asprintf(&s, "%s (no %s controller in cgroup2, no %s in cgroup v1)", name, v2, v1_needs[p]);
        else
                r = asprintf(&s, "%s (no %s controller in cgroup2 or cgroup v1)", name, v2);
        return r < 0 ? NULL : s;
}

int resources_check_available(const char *v2_root, const char *v1_root, const ResourceLimits *l,
                              char **ret_what) {
        _cleanup_free_ char *ctl = NULL;

        if (asprintf(&ctl, "%s/cgroup.controllers", v2_root) < 0)
                return -ENOMEM;
        for (int p = 0; p < _RESOURCE_MAX; p++) {
                _cleanup_free_ char *v1 = NULL;

                /* systemd closes devices with a BPF program on cgroup2, which every host has. */
                if (!resource_limits_has(l, p) || p == RESOURCE_DEVICE_ALLOW)
                        continue;
                if (word_in_file(ctl, v2_controller[p]))
                        continue;
                if (asprintf(&v1, "%s/%s/%s", v1_root, v1_controller[p], v1_needs[p] ?: "cgroup.procs") < 0)
                        return -ENOMEM;
                if (access(v1, F_OK) >= 0)
                        continue;
                if (ret_what)
                        *ret_what = what_missing(p);
                return -EOPNOTSUPP;
        }
        return 0;
}

int resources_apply_cgroupfs(const CgroupfsTarget *t, const ResourceLimits *l, char ***v1_dirs,
                             char **ret_what) {
        _cleanup_(plan_done) Plan plan = {};
        _cleanup_free_ Devices *devices = NULL;
        char *where[_RESOURCE_MAX] = {};
        int r = 0, p;

        devices = calloc(1, sizeof(Devices));
        if (!devices)
                return -ENOMEM;
        /* Everything is located before anything is touched: a property with nowhere to go, or a
         * device that is not there, must not leave the others half applied. */
        r = resolve_devices(t, l, devices, ret_what);
        for (p = 0; p < _RESOURCE_MAX && r >= 0; p++)
                if (resource_limits_has(l, p)) {
                        r = locate(t, p, &where[p]);
                        if (r == -EOPNOTSUPP && ret_what)
                                *ret_what = what_missing(p);
                }
        for (p = 0; p < _RESOURCE_MAX && r >= 0; p++)
                if (where[p] && !where[p][0]) {
                        r = v2_enable(t, v2_controller[p]);
                        if (r == -EOPNOTSUPP && ret_what)
                                *ret_what = what_missing(p);
                }

        for (p = 0; p < _RESOURCE_MAX && r >= 0; p++) {
                if (!where[p])
                        continue;
                if (where[p][0]) {
                        r = v1_make(where[p], p == RESOURCE_ALLOWED_CPUS);
                        if (r >= 0 && !strv_contains(*v1_dirs, where[p]))
                                r = strv_extend(v1_dirs, where[p]);
                        if (r < 0)
                                break;
                        r = plan_v1(&plan, where[p], l, p, devices);
                        if (r == -EOPNOTSUPP && ret_what && !*ret_what)
                                *ret_what = strdup("MemorySwapMax (cgroup v1 limits memory and swap together: "
                                                   "it needs a MemoryMax)");
                } else
                        r = plan_v2(&plan, t->v2_path, l, p, devices);
        }
        if (r >= 0)
                r = plan_run(&plan);
        /* Limits first, then the processes: they are bounded from the moment they arrive. */
        if (r >= 0 && *v1_dirs)
                r = resources_sync_v1(t->v2_path, *v1_dirs);

        for (p = 0; p < _RESOURCE_MAX; p++)
                free(where[p]);
        return r;
}

static bool pid_seen(const pid_t *l, size_t n, pid_t pid) {
        for (size_t i = 0; i < n; i++)
                if (l[i] == pid)
                        return true;
        return false;
}

/* Appends the PIDs of PATH and of every cgroup below it (a booted init makes its own). */
static int collect_pids(const char *path, pid_t **pids, size_t *n) {
        _cleanup_free_ char *procs = NULL, *buf = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        char *tok, *save = NULL;
        struct dirent *de;
        int r;

        if (asprintf(&procs, "%s/cgroup.procs", path) < 0)
                return -ENOMEM;
        r = read_small_file(procs, &buf);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        for (tok = strtok_r(buf, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save)) {
                pid_t *g = realloc(*pids, (*n + 1) * sizeof(pid_t));

                if (!g)
                        return -ENOMEM;
                *pids = g;
                (*pids)[(*n)++] = (pid_t) strtol(tok, NULL, 10);
        }
        d = opendir(path);
        if (!d)
                return 0;
        while ((de = readdir(d))) {
                _cleanup_free_ char *sub = NULL;

                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                if (asprintf(&sub, "%s/%s", path, de->d_name) < 0)
                        return -ENOMEM;
                r = collect_pids(sub, pids, n);
                if (r < 0)
                        return r;
        }
        return 0;
}

int resources_sync_v1(const char *v2_path, char *const *v1_dirs) {
        _cleanup_free_ pid_t *moved = NULL;
        size_t n_moved = 0;

        /* A process that forks after it moved takes its child along; one that forked before
         * shows up as new in the next round. A round with nothing new ends it. */
        for (unsigned round = 0; round < SYNC_ROUNDS_MAX; round++) {
                _cleanup_free_ pid_t *now = NULL;
                size_t n_now = 0;
                bool fresh = false;
                int r;

                r = collect_pids(v2_path, &now, &n_now);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n_now; i++) {
                        char pid[32];

                        if (now[i] <= 0 || pid_seen(moved, n_moved, now[i]))
                                continue;
                        snprintf(pid, sizeof pid, "%i", (int) now[i]);
                        fresh = true;
                        STRV_FOREACH(dir, v1_dirs) {
                                _cleanup_free_ char *procs = NULL;

                                if (asprintf(&procs, "%s/cgroup.procs", *dir) < 0)
                                        return -ENOMEM;
                                r = write_string_file(procs, pid);
                                /* EAGAIN: caught in exec(), which may change its thread group
                                 * leader; the next round tries again. */
                                if (r < 0 && r != -ESRCH && r != -EAGAIN)
                                        return r;
                                if (r == -EAGAIN)
                                        break;
                        }
                        if (r == -EAGAIN)
                                continue;
                        pid_t *g = realloc(moved, (n_moved + 1) * sizeof(pid_t));
                        if (!g)
                                return -ENOMEM;
                        moved = g;
                        moved[n_moved++] = now[i];
                }
                if (!fresh)
                        return 0;
        }
        return -EBUSY;
}

int resources_remove_v1(const char *dir) {
        _cleanup_free_ char *slice = strdup(dir), *base = NULL, *procs = NULL, *to = NULL;
        int r = 0;

        if (!slice)
                return -ENOMEM;
        *strrchr(slice, '/') = 0;
        base = strdup(slice);
        if (!base)
                return -ENOMEM;
        *strrchr(base, '/') = 0;
        if (asprintf(&procs, "%s/cgroup.procs", dir) < 0 || asprintf(&to, "%s/cgroup.procs", base) < 0)
                return -ENOMEM;

        for (unsigned attempt = 0;; attempt++) {
                _cleanup_free_ char *buf = NULL;
                char *tok, *save = NULL;

                if (rmdir(dir) >= 0 || errno == ENOENT)
                        break;
                if (errno != EBUSY || attempt >= 10)
                        return negative_errno();
                /* Processes outlived the machine (unregistered, or its unit lives on): they
                 * go back where berthd's own are, without the machine's limits. */
                r = read_small_file(procs, &buf);
                if (r < 0)
                        return r;
                for (tok = strtok_r(buf, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save))
                        (void) write_string_file(to, tok);
        }
        (void) rmdir(slice);
        return 0;
}

bool resources_v1_dir_is_valid(const char *path, const char *name) {
        _cleanup_free_ char *suffix = NULL;

        if (!machine_name_is_valid(name) || asprintf(&suffix, "/machine.slice/machine-%s.scope", name) < 0)
                return false;
        return startswith(path, CGROUP_V1_ROOT "/") && !strstr(path, "/../") && !strstr(path, "/./") &&
               !strstr(path, "//") && endswith(path, suffix);
}
