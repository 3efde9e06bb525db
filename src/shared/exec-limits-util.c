/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parsers for resource limits, OOM score adjustments and CPU lists, spelled as nspawn's. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "exec-limits-util.h"
#include "macro.h"
#include "parse-util.h"

static const char *const rlimit_table[RLIMIT_NLIMITS] = {
        [RLIMIT_CPU] = "CPU",
        [RLIMIT_FSIZE] = "FSIZE",
        [RLIMIT_DATA] = "DATA",
        [RLIMIT_STACK] = "STACK",
        [RLIMIT_CORE] = "CORE",
        [RLIMIT_RSS] = "RSS",
        [RLIMIT_NPROC] = "NPROC",
        [RLIMIT_NOFILE] = "NOFILE",
        [RLIMIT_MEMLOCK] = "MEMLOCK",
        [RLIMIT_AS] = "AS",
        [RLIMIT_LOCKS] = "LOCKS",
        [RLIMIT_SIGPENDING] = "SIGPENDING",
        [RLIMIT_MSGQUEUE] = "MSGQUEUE",
        [RLIMIT_NICE] = "NICE",
        [RLIMIT_RTPRIO] = "RTPRIO",
        [RLIMIT_RTTIME] = "RTTIME",
};

const char *rlimit_to_string(int resource) {
        return resource >= 0 && resource < RLIMIT_NLIMITS ? rlimit_table[resource] : NULL;
}

int rlimit_from_string(const char *s) {
        if (isempty(s))
                return -EINVAL;
        if (startswith(s, "RLIMIT_"))
                s += strlen("RLIMIT_");
        for (int i = 0; i < RLIMIT_NLIMITS; i++)
                if (rlimit_table[i] && strcasecmp(rlimit_table[i], s) == 0)
                        return i;
        return -EINVAL;
}

static bool rlimit_is_bytes(int resource) {
        return resource == RLIMIT_AS || resource == RLIMIT_CORE || resource == RLIMIT_DATA ||
               resource == RLIMIT_FSIZE || resource == RLIMIT_MEMLOCK || resource == RLIMIT_MSGQUEUE ||
               resource == RLIMIT_RSS || resource == RLIMIT_STACK;
}

static int rlimit_parse_one(int resource, const char *v, rlim_t *ret) {
        uint64_t u = 0;
        int r;

        if (streq(v, "infinity")) {
                *ret = RLIM_INFINITY;
                return 0;
        }
        /* A nice level: 20 - level is the rlimit (19 → 1, -20 → 40). */
        if (resource == RLIMIT_NICE && (v[0] == '-' || v[0] == '+')) {
                r = parse_uint64(v + 1, &u);
                if (r < 0)
                        return r;
                if (v[0] == '-' ? u > 20 : u > 19)
                        return -ERANGE;
                *ret = v[0] == '-' ? 20 + u : 20 - u;
                return 0;
        }
        r = rlimit_is_bytes(resource) ? parse_size(v, &u) : parse_uint64(v, &u);
        if (r < 0)
                return r;
        /* RLIM_INFINITY is all ones: a number that large means "infinity" by accident. */
        if (u >= (uint64_t) RLIM_INFINITY && !streq(v, "infinity"))
                return -ERANGE;
        if (resource == RLIMIT_NICE && u > 40)
                return -ERANGE;
        if (resource == RLIMIT_RTPRIO && u > 99)
                return -ERANGE;
        *ret = (rlim_t) u;
        return 0;
}

int rlimit_parse(int resource, const char *value, struct rlimit *ret) {
        const char *colon;
        struct rlimit l;
        int r;

        if (!rlimit_to_string(resource) || isempty(value))
                return -EINVAL;
        colon = strchr(value, ':');
        if (!colon) {
                r = rlimit_parse_one(resource, value, &l.rlim_cur);
                if (r < 0)
                        return r;
                l.rlim_max = l.rlim_cur;
        } else {
                char soft[64];

                if ((size_t) (colon - value) >= sizeof(soft) || colon == value || colon[1] == 0)
                        return -EINVAL;
                memcpy(soft, value, (size_t) (colon - value));
                soft[colon - value] = 0;
                r = rlimit_parse_one(resource, soft, &l.rlim_cur);
                if (r >= 0)
                        r = rlimit_parse_one(resource, colon + 1, &l.rlim_max);
                if (r < 0)
                        return r;
        }
        if (l.rlim_cur > l.rlim_max)
                return -EINVAL;
        *ret = l;
        return 0;
}

bool rlimit_kernel_default(int resource, struct rlimit *ret) {
        /* include/asm-generic/resource.h (INIT_RLIMITS) as of Linux 5.16: MEMLOCK became 8 MiB
         * then. NOFILE's hard limit is raised to nr_open by the caller, as nspawn does. */
        static const struct rlimit defaults[RLIMIT_NLIMITS] = {
                [RLIMIT_CPU] = { RLIM_INFINITY, RLIM_INFINITY },
                [RLIMIT_FSIZE] = { RLIM_INFINITY, RLIM_INFINITY },
                [RLIMIT_DATA] = { RLIM_INFINITY, RLIM_INFINITY },
                [RLIMIT_STACK] = { 8 * 1024 * 1024, RLIM_INFINITY },
                [RLIMIT_CORE] = { 0, RLIM_INFINITY },
                [RLIMIT_RSS] = { RLIM_INFINITY, RLIM_INFINITY },
                [RLIMIT_NOFILE] = { 1024, 4096 },
                [RLIMIT_MEMLOCK] = { 8 * 1024 * 1024, 8 * 1024 * 1024 },
                [RLIMIT_AS] = { RLIM_INFINITY, RLIM_INFINITY },
                [RLIMIT_LOCKS] = { RLIM_INFINITY, RLIM_INFINITY },
                [RLIMIT_MSGQUEUE] = { 819200, 819200 },
                [RLIMIT_NICE] = { 0, 0 },
                [RLIMIT_RTPRIO] = { 0, 0 },
                [RLIMIT_RTTIME] = { RLIM_INFINITY, RLIM_INFINITY },
        };

        if (!rlimit_to_string(resource) || resource == RLIMIT_NPROC || resource == RLIMIT_SIGPENDING) {
                *ret = (struct rlimit) {};
                return false;
        }
        *ret = defaults[resource];
        return true;
}

bool rlimit_widens(int resource, const struct rlimit *l) {
        struct rlimit d;

        if (!rlimit_kernel_default(resource, &d))
                return true;
        if (resource == RLIMIT_NOFILE)
                d.rlim_max = 512 * 1024;
        return l->rlim_cur > d.rlim_cur || l->rlim_max > d.rlim_max;
}

int parse_oom_score_adjust(const char *s, int *ret) {
        uint64_t u = 0;
        bool neg;
        int r;

        if (isempty(s))
                return -EINVAL;
        neg = s[0] == '-';
        r = parse_uint64(s + (neg || s[0] == '+'), &u);
        if (r < 0)
                return r;
        if (u > 1000)
                return -ERANGE;
        *ret = neg ? -(int) u : (int) u;
        return 0;
}

static int parse_cpu_number(const char *s, size_t n, unsigned *ret) {
        char buf[16];

        if (n == 0 || n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, n);
        buf[n] = 0;
        if (parse_small_uint(buf, CPU_AFFINITY_MAX - 1, ret) < 0)
                return -ERANGE;
        return 0;
}

int cpu_affinity_parse(const char *s, CpuAffinity *ret) {
        CpuAffinity a = {};
        bool any = false;

        if (!s)
                return -EINVAL;
        for (const char *p = s; *p;) {
                size_t n = strcspn(p, ", \t");
                const char *dash = memchr(p, '-', n);
                unsigned lo = 0, hi = 0;
                int r;

                if (n == 0) {
                        p++;
                        continue;
                }
                r = parse_cpu_number(p, dash ? (size_t) (dash - p) : n, &lo);
                if (r >= 0)
                        r = dash ? parse_cpu_number(dash + 1, n - (size_t) (dash - p) - 1, &hi) : 0;
                if (r < 0)
                        return r;
                if (!dash)
                        hi = lo;
                if (hi < lo)
                        return -EINVAL;
                for (unsigned c = lo; c <= hi; c++)
                        a.bits[c / 64] |= UINT64_C(1) << (c % 64);
                any = true;
                p += n;
        }
        if (!any)
                return -EINVAL;
        *ret = a;
        return 0;
}

bool cpu_affinity_is_empty(const CpuAffinity *a) {
        for (size_t i = 0; i < ELEMENTSOF(a->bits); i++)
                if (a->bits[i])
                        return false;
        return true;
}

static bool cpu_isset(const CpuAffinity *a, unsigned c) {
        return c < CPU_AFFINITY_MAX && (a->bits[c / 64] >> (c % 64)) & 1;
}

char *cpu_affinity_format(const CpuAffinity *a) {
        char *s = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);
        bool first = true;

        if (!f)
                return NULL;
        for (unsigned c = 0; c < CPU_AFFINITY_MAX; c++) {
                unsigned end = c;

                if (!cpu_isset(a, c))
                        continue;
                while (cpu_isset(a, end + 1))
                        end++;
                if (end == c)
                        fprintf(f, "%s%u", first ? "" : ",", c);
                else
                        fprintf(f, "%s%u-%u", first ? "" : ",", c, end);
                first = false;
                c = end;
        }
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        return s;
}
