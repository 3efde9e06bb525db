/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Stands in for the container's init: prints "BENCH_INIT_STAMP=<CLOCK_MONOTONIC ns>" on its
 * stdout (the runtime's console pipe, which ends in the driver's log) the moment it starts, then
 * execs the real init. CLOCK_MONOTONIC is the host's clock in there: neither runtime puts the
 * container in a time namespace. Built static, so it adds no dynamic loader time. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#ifndef REAL_INIT
#define REAL_INIT "/usr/lib/systemd/systemd.real"
#endif

int main(int argc, char *argv[]) {
        struct timespec ts;
        char buf[64];
        int n;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        n = snprintf(buf, sizeof(buf), "BENCH_INIT_STAMP=%llu\n",
                     (unsigned long long) ts.tv_sec * 1000000000ULL + (unsigned long long) ts.tv_nsec);
        (void) !write(STDOUT_FILENO, buf, (size_t) n);
        (void) argc;
        argv[0] = (char *) REAL_INIT;
        execv(REAL_INIT, argv);
        perror("execv " REAL_INIT);
        return 127;
}
