/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Resource limits of a machine: the property set, parsing, conversions, merging, serializing
 * and the saved set on disk. */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "parse-util.h"
#include "resolve.h"
#include "resource-limits.h"

#define STATE_DIR_DEFAULT "/var/lib/berth"
/* AllowedCPUs: as many CPUs as the kernel's NR_CPUS can be configured to. */
#define CPUS_MAX 8192U

static const char *const resource_property_table[_RESOURCE_MAX] = {
        [RESOURCE_MEMORY_MAX] = "MemoryMax",
        [RESOURCE_MEMORY_HIGH] = "MemoryHigh",
        [RESOURCE_CPU_QUOTA] = "CPUQuotaPerSecUSec",
        [RESOURCE_CPU_WEIGHT] = "CPUWeight",
        [RESOURCE_ALLOWED_CPUS] = "AllowedCPUs",
        [RESOURCE_TASKS_MAX] = "TasksMax",
        [RESOURCE_IO_WEIGHT] = "IOWeight",
        [RESOURCE_MEMORY_SWAP_MAX] = "MemorySwapMax",
        [RESOURCE_IO_READ_BANDWIDTH_MAX] = "IOReadBandwidthMax",
        [RESOURCE_IO_WRITE_BANDWIDTH_MAX] = "IOWriteBandwidthMax",
        [RESOURCE_DEVICE_ALLOW] = "DeviceAllow",
};

const char *resource_property_to_string(ResourceProperty p) {
        return p >= 0 && p < _RESOURCE_MAX ? resource_property_table[p] : NULL;
}

ResourceProperty resource_property_from_string(const char *s) {
        for (int i = 0; s && i < _RESOURCE_MAX; i++)
                if (streq(resource_property_table[i], s))
                        return (ResourceProperty) i;
        return _RESOURCE_INVALID;
}

static void io_list_clear(ResourceLimits *l, unsigned i) {
        for (size_t k = 0; k < l->n_io[i]; k++)
                free(l->io[i][k].path);
        free(l->io[i]);
        l->io[i] = NULL;
        l->n_io[i] = 0;
}

static void device_list_clear(ResourceLimits *l) {
        for (size_t k = 0; k < l->n_devices; k++)
                free(l->devices[k].path);
        free(l->devices);
        l->devices = NULL;
        l->n_devices = 0;
}

void resource_limits_done(ResourceLimits *l) {
        free(l->cpus);
        io_list_clear(l, 0);
        io_list_clear(l, 1);
        device_list_clear(l);
        *l = (ResourceLimits) {};
}

/* ---- conversions ---------------------------------------------------------------------- */

int cpu_quota_parse(const char *s, uint64_t *ret_usec_per_sec) {
        _cleanup_free_ char *whole = NULL;
        const char *dot, *frac = "";
        size_t n = strlen(s);
        uint64_t w, f = 0;
        int r;

        /* "N%" or "N.NN%": one percent is 10 ms of CPU time per second. */
        if (n < 2 || s[n - 1] != '%')
                return -EINVAL;
        dot = memchr(s, '.', n - 1);
        whole = strndup(s, (size_t) ((dot ?: s + n - 1) - s));
        if (!whole)
                return -ENOMEM;
        if (dot) {
                frac = dot + 1;
                if ((size_t) (s + n - 1 - frac) < 1 || (size_t) (s + n - 1 - frac) > 2)
                        return -EINVAL;
                for (const char *i = frac; i < s + n - 1; i++) {
                        if (*i < '0' || *i > '9')
                                return -EINVAL;
                        f = f * 10 + (uint64_t) (*i - '0');
                }
                if (s + n - 1 - frac == 1)
                        f *= 10;
        }
        r = parse_uint64(whole, &w);
        if (r < 0)
                return r;
        if (w > 1000000)
                return -ERANGE;
        *ret_usec_per_sec = w * 10000 + f * 100;
        return *ret_usec_per_sec > 0 ? 0 : -ERANGE;
}

static uint64_t cpu_quota_per_period(uint64_t usec_per_sec) {
        uint64_t q = (usec_per_sec * CPU_QUOTA_PERIOD_USEC + 999999) / 1000000;

        /* The kernel refuses quotas under 1 ms: round up, as systemd does. */
        return MAX(q, 1000ULL);
}

int cpu_max_format(uint64_t usec_per_sec, char **ret) {
        if (usec_per_sec == UINT64_MAX)
                return asprintf(ret, "max %llu", CPU_QUOTA_PERIOD_USEC) < 0 ? -ENOMEM : 0;
        return asprintf(ret, "%" PRIu64 " %llu", cpu_quota_per_period(usec_per_sec),
                        CPU_QUOTA_PERIOD_USEC) < 0 ? -ENOMEM : 0;
}

int64_t cpu_quota_to_cfs(uint64_t usec_per_sec) {
        return usec_per_sec == UINT64_MAX ? -1 : (int64_t) cpu_quota_per_period(usec_per_sec);
}

uint64_t cpu_weight_to_shares(uint64_t weight) {
        return MIN(MAX(weight * 1024 / 100, 2ULL), 262144ULL);
}

uint64_t io_weight_to_blkio(uint64_t weight) {
        return MIN(MAX(weight * 500 / 100, 10ULL), 1000ULL);
}

uint64_t io_weight_to_bfq(uint64_t weight) {
        /* Both scales meet at the default 100; above it, 10000 ↦ 1000. */
        if (weight <= 100)
                return MAX(weight, 1ULL);
        return 100 + (weight - 100) * 900 / 9900;
}

int cpu_set_parse(const char *s, uint8_t **ret, size_t *ret_n) {
        _cleanup_free_ uint8_t *mask = NULL;
        _cleanup_free_ char *copy = strdup(s);
        char *tok, *rest;
        size_t n = 0;

        if (!copy)
                return -ENOMEM;
        copy[strcspn(copy, "\n")] = 0;
        /* strsep(), not strtok(): "1,,2" and "1," are typos, not lists. */
        for (rest = copy; *copy && (tok = strsep(&rest, ",")); ) {
                char *dash = strchr(tok, '-');
                uint64_t a, b;

                if (dash)
                        *dash = 0;
                if (parse_uint64(tok, &a) < 0 || parse_uint64(dash ? dash + 1 : tok, &b) < 0 ||
                    a > b || b >= CPUS_MAX)
                        return -EINVAL;
                if (b / 8 + 1 > n) {
                        uint8_t *g = realloc(mask, b / 8 + 1);

                        if (!g)
                                return -ENOMEM;
                        memset(g + n, 0, b / 8 + 1 - n);
                        mask = g;
                        n = b / 8 + 1;
                }
                for (uint64_t c = a; c <= b; c++)
                        mask[c / 8] |= (uint8_t) (1u << (c % 8));
        }
        *ret = TAKE_PTR(mask);
        *ret_n = n;
        return 0;
}

static bool cpu_is_set(const uint8_t *mask, size_t n, size_t c) {
        return c / 8 < n && (mask[c / 8] & (1u << (c % 8)));
}

int cpu_set_format(const uint8_t *mask, size_t n, char **ret) {
        _cleanup_free_ char *s = NULL;
        size_t len = 0;

        s = calloc(1, n * 8 * 12 + 1);
        if (!s)
                return -ENOMEM;
        for (size_t c = 0; c < n * 8; c++) {
                size_t e = c;

                if (!cpu_is_set(mask, n, c))
                        continue;
                while (cpu_is_set(mask, n, e + 1))
                        e++;
                len += (size_t) sprintf(s + len, e > c ? "%s%zu-%zu" : "%s%zu", len ? "," : "", c, e);
                c = e;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

/* ---- property sets -------------------------------------------------------------------- */

static int check_range(ResourceProperty p, uint64_t v) {
        if (p == RESOURCE_CPU_WEIGHT || p == RESOURCE_IO_WEIGHT)
                return v >= CGROUP_WEIGHT_MIN && v <= CGROUP_WEIGHT_MAX ? 0 : -ERANGE;
        /* No CPU time at all, or no process at all, is no machine. */
        if (p == RESOURCE_CPU_QUOTA || p == RESOURCE_TASKS_MAX)
                return v > 0 ? 0 : -ERANGE;
        return 0;
}

int resource_limits_set_value(ResourceLimits *l, ResourceProperty p, uint64_t v) {
        int r;

        if (p < 0 || p >= _RESOURCE_MAX || p == RESOURCE_ALLOWED_CPUS || resource_property_is_io_list(p) ||
            p == RESOURCE_DEVICE_ALLOW)
                return -EINVAL;
        r = check_range(p, v);
        if (r < 0)
                return r;
        l->value[p] = v;
        l->set |= 1u << p;
        return 0;
}

int resource_limits_set_cpus(ResourceLimits *l, const uint8_t *mask, size_t n) {
        uint8_t *copy = NULL;

        if (n > CPUS_MAX / 8)
                return -ERANGE;
        /* Trailing zero bytes say nothing: drop them, so equal sets compare equal. */
        while (n > 0 && mask[n - 1] == 0)
                n--;
        if (n > 0) {
                copy = malloc(n);
                if (!copy)
                        return -ENOMEM;
                memcpy(copy, mask, n);
        }
        free(l->cpus);
        l->cpus = copy;
        l->n_cpus = n;
        l->set |= 1u << RESOURCE_ALLOWED_CPUS;
        return 0;
}

/* A path we will stat() later, never open: absolute, no "..", nothing a line-based file or a
 * "PATH VALUE" pair could split. */
static bool limit_path_ok(const char *path) {
        size_t n = strlen(path);

        if (path[0] != '/' || n >= PATH_MAX || strpbrk(path, " \t\n\r,"))
                return false;
        for (const char *c = path; (c = strstr(c, "..")); c += 2)
                if (c[-1] == '/' && (c[2] == '/' || c[2] == 0))
                        return false;
        return true;
}

int device_access_normalize(const char *s, char ret[static 4]) {
        bool r = false, w = false, m = false;
        size_t n = 0;

        if (isempty(s))
                s = "rwm";
        for (const char *c = s; *c; c++) {
                bool *b = *c == 'r' ? &r : *c == 'w' ? &w : *c == 'm' ? &m : NULL;

                if (!b || *b)
                        return -EINVAL;
                *b = true;
        }
        if (r)
                ret[n++] = 'r';
        if (w)
                ret[n++] = 'w';
        if (m)
                ret[n++] = 'm';
        ret[n] = 0;
        return 0;
}

int resource_limits_add_io(ResourceLimits *l, ResourceProperty p, const char *path, uint64_t bytes) {
        unsigned i = resource_io_index(p);
        ResourceIOLimit *g;
        char *copy;

        if (!resource_property_is_io_list(p) || !limit_path_ok(path) || bytes == 0)
                return -EINVAL;
        l->set |= 1u << p;
        for (size_t k = 0; k < l->n_io[i]; k++)
                if (streq(l->io[i][k].path, path)) {
                        l->io[i][k].bytes = bytes;
                        return 0;
                }
        if (l->n_io[i] >= RESOURCE_LIST_MAX)
                return -E2BIG;
        copy = strdup(path);
        g = copy ? realloc(l->io[i], (l->n_io[i] + 1) * sizeof(*g)) : NULL;
        if (!g) {
                free(copy);
                return -ENOMEM;
        }
        l->io[i] = g;
        g[l->n_io[i]++] = (ResourceIOLimit) { .path = copy, .bytes = bytes };
        return 0;
}

int resource_limits_add_device(ResourceLimits *l, const char *path, const char *access) {
        char acc[4];
        ResourceDevice *g;
        char *copy;

        if (!limit_path_ok(path) || !startswith(path, "/dev/") || device_access_normalize(access, acc) < 0)
                return -EINVAL;
        l->set |= 1u << RESOURCE_DEVICE_ALLOW;
        for (size_t k = 0; k < l->n_devices; k++)
                if (streq(l->devices[k].path, path)) {
                        memcpy(l->devices[k].access, acc, sizeof(acc));
                        return 0;
                }
        if (l->n_devices >= RESOURCE_LIST_MAX)
                return -E2BIG;
        copy = strdup(path);
        g = copy ? realloc(l->devices, (l->n_devices + 1) * sizeof(*g)) : NULL;
        if (!g) {
                free(copy);
                return -ENOMEM;
        }
        l->devices = g;
        g[l->n_devices] = (ResourceDevice) { .path = copy };
        memcpy(g[l->n_devices++].access, acc, sizeof(acc));
        return 0;
}

void resource_limits_reset_list(ResourceLimits *l, ResourceProperty p) {
        if (resource_property_is_io_list(p))
                io_list_clear(l, resource_io_index(p));
        else if (p == RESOURCE_DEVICE_ALLOW)
                device_list_clear(l);
        else
                return;
        l->set |= 1u << p;
}

/* "PATH VALUE" (VALUE may be empty for DeviceAllow): splits at the first blank run. */
static int split_pair(const char *s, char **ret_path, const char **ret_value) {
        size_t n = strcspn(s, " \t");
        const char *v = s + n;

        while (*v == ' ' || *v == '\t')
                v++;
        *ret_path = strndup(s, n);
        if (!*ret_path)
                return -ENOMEM;
        *ret_value = v;
        return 0;
}

static int parse_list_entry(ResourceLimits *l, ResourceProperty p, const char *s) {
        _cleanup_free_ char *path = NULL;
        const char *value;
        uint64_t v;
        int r;

        if (isempty(s)) {
                resource_limits_reset_list(l, p);
                return 0;
        }
        r = split_pair(s, &path, &value);
        if (r < 0)
                return r;
        if (p == RESOURCE_DEVICE_ALLOW)
                return strpbrk(value, " \t") ? -EINVAL : resource_limits_add_device(l, path, value);
        r = parse_size(value, &v);
        if (r < 0)
                return -EINVAL;
        return resource_limits_add_io(l, p, path, v);
}

int resource_limits_parse(ResourceLimits *l, ResourceProperty p, const char *s) {
        _cleanup_free_ uint8_t *mask = NULL;
        size_t n = 0;
        uint64_t v;
        int r;

        switch (p) {
        case RESOURCE_MEMORY_MAX:
        case RESOURCE_MEMORY_HIGH:
        case RESOURCE_MEMORY_SWAP_MAX:
        case RESOURCE_TASKS_MAX:
                r = parse_size(s, &v);
                break;
        case RESOURCE_CPU_QUOTA:
                if (streq(s, "infinity")) {
                        v = UINT64_MAX;
                        r = 0;
                } else if (s[0] && s[strlen(s) - 1] == '%')
                        r = cpu_quota_parse(s, &v);
                else
                        r = parse_uint64(s, &v);
                break;
        case RESOURCE_CPU_WEIGHT:
        case RESOURCE_IO_WEIGHT:
                r = parse_uint64(s, &v);
                break;
        case RESOURCE_ALLOWED_CPUS:
                r = cpu_set_parse(s, &mask, &n);
                return r < 0 ? r : resource_limits_set_cpus(l, mask, n);
        case RESOURCE_IO_READ_BANDWIDTH_MAX:
        case RESOURCE_IO_WRITE_BANDWIDTH_MAX:
        case RESOURCE_DEVICE_ALLOW:
                return parse_list_entry(l, p, s);
        case _RESOURCE_MAX:
        case _RESOURCE_INVALID:
        default:
                return -EINVAL;
        }
        return r < 0 ? r : resource_limits_set_value(l, p, v);
}

int resource_limits_parse_assignment(ResourceLimits *l, const char *assignment) {
        _cleanup_free_ char *name = NULL;
        const char *eq = strchr(assignment, '=');
        ResourceProperty p;

        if (!eq)
                return -EINVAL;
        name = strndup(assignment, (size_t) (eq - assignment));
        if (!name)
                return -ENOMEM;
        if (streq(name, "CPUQuota")) {
                /* The friendly name takes only the friendly forms. */
                if (!streq(eq + 1, "infinity") && !(eq[1] && eq[strlen(eq) - 1] == '%'))
                        return -EINVAL;
                p = RESOURCE_CPU_QUOTA;
        } else
                p = resource_property_from_string(name);
        if (p < 0)
                return -ENOENT;
        return resource_limits_parse(l, p, eq + 1);
}

int resource_limits_merge(ResourceLimits *dst, const ResourceLimits *src) {
        int r = 0;

        for (int p = 0; p < _RESOURCE_MAX && r >= 0; p++) {
                if (!resource_limits_has(src, p))
                        continue;
                if (p == RESOURCE_ALLOWED_CPUS)
                        r = resource_limits_set_cpus(dst, src->cpus, src->n_cpus);
                else if (resource_property_is_io_list(p)) {
                        unsigned i = resource_io_index(p);

                        /* An empty list given is a reset; entries replace those of their path. */
                        if (src->n_io[i] == 0)
                                resource_limits_reset_list(dst, p);
                        for (size_t k = 0; k < src->n_io[i] && r >= 0; k++)
                                r = resource_limits_add_io(dst, p, src->io[i][k].path, src->io[i][k].bytes);
                } else if (p == RESOURCE_DEVICE_ALLOW) {
                        if (src->n_devices == 0)
                                resource_limits_reset_list(dst, p);
                        for (size_t k = 0; k < src->n_devices && r >= 0; k++)
                                r = resource_limits_add_device(dst, src->devices[k].path, src->devices[k].access);
                } else {
                        dst->value[p] = src->value[p];
                        dst->set |= 1u << p;
                }
        }
        return r;
}

static void format_u64(FILE *f, uint64_t v) {
        if (v == UINT64_MAX)
                fputs("infinity", f);
        else
                fprintf(f, "%" PRIu64, v);
}

/* Writes P's value, or for a list its entries, each after PREFIX ("Name=" or ", "). */
static int write_property(FILE *f, const ResourceLimits *l, ResourceProperty p, const char *first,
                          const char *sep) {
        _cleanup_free_ char *cpus = NULL;
        int r;

        if (p == RESOURCE_ALLOWED_CPUS) {
                r = cpu_set_format(l->cpus, l->n_cpus, &cpus);
                if (r < 0)
                        return r;
                fprintf(f, "%s%s", first, cpus);
        } else if (resource_property_is_io_list(p)) {
                unsigned i = resource_io_index(p);

                if (l->n_io[i] == 0)
                        fputs(first, f);
                for (size_t k = 0; k < l->n_io[i]; k++) {
                        fprintf(f, "%s%s ", k == 0 ? first : sep, l->io[i][k].path);
                        format_u64(f, l->io[i][k].bytes);
                }
        } else if (p == RESOURCE_DEVICE_ALLOW) {
                if (l->n_devices == 0)
                        fputs(first, f);
                for (size_t k = 0; k < l->n_devices; k++)
                        fprintf(f, "%s%s %s", k == 0 ? first : sep, l->devices[k].path, l->devices[k].access);
        } else {
                fputs(first, f);
                format_u64(f, l->value[p]);
        }
        return 0;
}

int resource_limits_serialize(const ResourceLimits *l, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r = 0;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        for (int p = 0; p < _RESOURCE_MAX && r >= 0; p++) {
                char first[64], sep[64];

                if (!resource_limits_has(l, p))
                        continue;
                /* A list is one line per entry; an empty one a bare "Name=" (a reset). */
                snprintf(first, sizeof first, "%s=", resource_property_to_string(p));
                snprintf(sep, sizeof sep, "\n%s=", resource_property_to_string(p));
                r = write_property(f, l, p, first, sep);
                fputc('\n', f);
        }
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(buf);
        return 0;
}

int resource_limits_format(const ResourceLimits *l, ResourceProperty p, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        if (p < 0 || p >= _RESOURCE_MAX)
                return -EINVAL;
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        r = write_property(f, l, p, "", ", ");
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(buf);
        return 0;
}

int resource_limits_deserialize(const char *text, ResourceLimits *ret) {
        _cleanup_(resource_limits_done) ResourceLimits l = {};
        _cleanup_free_ char *copy = strdup(text);
        char *line, *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *eq = strchr(line, '=');
                ResourceProperty p;
                int r;

                if (line[0] == '#' || !eq)
                        continue;
                *eq = 0;
                p = resource_property_from_string(line);
                if (p < 0)
                        continue; /* from a newer berth */
                r = resource_limits_parse(&l, p, eq + 1);
                if (r < 0)
                        return r;
        }
        *ret = l;
        l = (ResourceLimits) {};
        return 0;
}

/* ---- persistence ---------------------------------------------------------------------- */

int resources_state_dir(char **ret) {
        const char *e = getenv("BERTH_STATE_DIR");

        if (isempty(e))
                e = STATE_DIR_DEFAULT;
        else if (e[0] != '/')
                return -EINVAL;
        return asprintf(ret, "%s/properties", e) < 0 ? -ENOMEM : 0;
}

int resources_load(const char *dir, const char *name, ResourceLimits *ret) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                if (errno != ENOENT)
                        return negative_errno();
                *ret = (ResourceLimits) {};
                return 0;
        }
        r = read_fd_full(fd, 64 * 1024, &buf, NULL);
        if (r < 0)
                return r;
        return resource_limits_deserialize(buf, ret);
}

int resources_save(const char *dir, const char *name, const ResourceLimits *l) {
        _cleanup_free_ char *path = NULL, *tmp = NULL, *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        if (l->set == 0)
                return unlink(path) < 0 && errno != ENOENT ? negative_errno() : 0;
        r = resource_limits_serialize(l, &text);
        if (r < 0)
                return r;
        r = mkdir_p(dir, 0755);
        if (r < 0)
                return r;
        if (asprintf(&tmp, "%s/.#%s.XXXXXX", dir, name) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (write(fd, text, strlen(text)) != (ssize_t) strlen(text) || fsync(fd) < 0 ||
            fchmod(fd, 0644) < 0 || rename(tmp, path) < 0) {
                r = negative_errno();
                (void) unlink(tmp);
                return r;
        }
        return 0;
}

