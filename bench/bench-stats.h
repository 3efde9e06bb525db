/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the benchmark clients (registry-client.c, scale-client.c) share: a monotonic clock in
 * nanoseconds, dying with the program's name, and samples printed as one line of
 * LABEL METRIC N MEDIAN P95 MIN MAX MEAN (ms), the format the bench scripts parse. */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct Samples {
        double *v;
        size_t n;
} Samples;

static inline uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static inline void die(const char *what, int r) {
        fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what, strerror(r < 0 ? -r : r));
        exit(2);
}

static inline void samples_add(Samples *s, double x) {
        double *v = realloc(s->v, (s->n + 1) * sizeof(double));

        if (!v)
                die("realloc", ENOMEM);
        s->v = v;
        s->v[s->n++] = x;
}

static inline int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return x < y ? -1 : x > y;
}

/* Prints nothing for no samples: the caller says what that means. */
static inline void samples_print(const char *label, const char *metric, Samples *s) {
        double sum = 0, med;
        size_t p95;

        if (s->n == 0)
                return;
        qsort(s->v, s->n, sizeof(double), cmp_double);
        for (size_t i = 0; i < s->n; i++)
                sum += s->v[i];
        med = s->n % 2 ? s->v[s->n / 2] : (s->v[s->n / 2 - 1] + s->v[s->n / 2]) / 2;
        p95 = (s->n * 95 + 99) / 100;
        printf("%s %s %zu %.4f %.4f %.4f %.4f %.4f\n", label, metric, s->n, med, s->v[p95 - 1],
               s->v[0], s->v[s->n - 1], sum / (double) s->n);
        fflush(stdout);
}
