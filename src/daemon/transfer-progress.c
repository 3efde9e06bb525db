/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What transfer jobs and clones tell berthd about their progress, and the bytes of a tree they measure it by. */
#include <ftw.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "transfer.h"

static uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

void transfer_report_progress(int progress_fd, uint64_t done, uint64_t total) {
        /* Per process: every worker child reports for one job only. */
        static uint64_t last;
        uint64_t n = now_usec();
        uint32_t ppm;

        if (progress_fd < 0 || total == 0 || (last != 0 && n - last < 100000))
                return;
        last = n;
        ppm = done >= total ? 1000000U : (uint32_t) (done * 1000000.0 / (double) total);
        /* Non-blocking: a busy berthd makes us skip a report, never wait. */
        (void) !write(progress_fd, &ppm, sizeof(ppm));
}

/* nftw() passes no state but through a static; only workers walk trees. */
static uint64_t walk_bytes;

static int walk_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        if (flag == FTW_F && S_ISREG(st->st_mode))
                walk_bytes += (uint64_t) st->st_size;
        return 0;
}

uint64_t transfer_tree_bytes(const char *path) {
        walk_bytes = 0;
        (void) nftw(path, walk_one, 16, FTW_PHYS | FTW_MOUNT);
        return walk_bytes;
}
