/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The progress bar berthctl draws on a terminal for transfers and clones. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl-progress.h"

uint64_t ctl_progress_now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

static void format_size(char *buf, size_t size, double v) {
        static const char units[] = "BKMGT";
        size_t u = 0;

        while (v >= 1024 && u < sizeof(units) - 2) {
                v /= 1024;
                u++;
        }
        (void) snprintf(buf, size, "%.1f%c", v, units[u]);
}

void ctl_progress_draw(double p, uint64_t size, uint64_t start_usec) {
        double secs = (double) (ctl_progress_now_usec() - start_usec) / 1e6;
        char bar[31], rate[32] = "", eta[32] = "";
        size_t fill = (size_t) (p * 30);

        for (size_t i = 0; i < 30; i++)
                bar[i] = i < fill ? '#' : '.';
        bar[30] = 0;
        if (secs > 0.5 && p > 0) {
                double left = secs / p * (1.0 - p);

                if (size > 0) {
                        format_size(rate, sizeof(rate), p * (double) size / secs);
                        strcat(rate, "/s");
                } else
                        (void) snprintf(rate, sizeof(rate), "%.1f%%/s", p * 100 / secs);
                (void) snprintf(eta, sizeof(eta), "ETA %u:%02u", (unsigned) left / 60, (unsigned) left % 60);
        }
        fprintf(stderr, "\r[%s] %3u%% %s %s\033[K", bar, (unsigned) (p * 100), rate, eta);
        fflush(stderr);
}
