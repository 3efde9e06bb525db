/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The scale benchmark's client (bench/scale.sh): times query round trips against berthd or
 * systemd-machined on one persistent sd-bus connection, samples GetMachine while machines start,
 * and waits for a number of listed machines without a process per poll.
 *
 * Usage (as root, on the system bus that DBUS_SYSTEM_BUS_ADDRESS or the default names):
 *   scale-client calls DAEMON LABEL RUNS ListMachines|GetMachine [NAME]
 *                          RUNS timed calls; prints LABEL METHOD N MEDIAN P95 MIN MAX MEAN (ms)
 *   scale-client sample DAEMON LABEL NAME INTERVAL_US STOPFILE
 *                          GetMachine NAME every INTERVAL_US until STOPFILE exists; prints the
 *                          same line for method GetMachine-during, then LABEL over-10ms COUNT
 *   scale-client wait DAEMON PREFIX COUNT TIMEOUT_S
 *                          polls ListMachines (every 10 ms, or 4x its round trip) until exactly
 *                          COUNT listed names start with PREFIX; prints the milliseconds it took
 *                          (exit 1 on timeout, the count seen then on stderr)
 * DAEMON is berthd or machined. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "bench-stats.h"

#define CALL_TIMEOUT_USEC (60ULL * 1000000ULL)

typedef struct Daemon {
        const char *label, *dest, *path, *iface;
} Daemon;

static const Daemon daemons[] = {
        { "berthd", "org.berth.machine1", "/org/berth/machine1", "org.berth.machine1.Manager" },
        { "machined", "org.freedesktop.machine1", "/org/freedesktop/machine1",
          "org.freedesktop.machine1.Manager" },
};

/* A metric with no samples still gets its line, for the report's table. */
static void samples_print_or_none(const char *label, const char *metric, Samples *s) {
        if (s->n == 0) {
                printf("%s %s 0 - - - - -\n", label, metric);
                return;
        }
        samples_print(label, metric, s);
}

static const Daemon *daemon_of(const char *s) {
        for (size_t i = 0; i < sizeof daemons / sizeof daemons[0]; i++)
                if (strcmp(daemons[i].label, s) == 0)
                        return &daemons[i];
        die("DAEMON must be berthd or machined", EINVAL);
        return NULL;
}

static sd_bus *bus_open(void) {
        sd_bus *bus = NULL;
        const char *unique;
        int r = sd_bus_open_system(&bus);

        if (r < 0)
                die("sd_bus_open_system", r);
        /* Hello done before anything is timed. */
        r = sd_bus_get_unique_name(bus, &unique);
        if (r < 0)
                die("sd_bus_get_unique_name", r);
        return bus;
}

/* One call; returns its round trip in ms, or a negative errno. With PREFIX, the number of
 * listed machines whose name starts with it goes to *count. */
static double call(sd_bus *bus, const Daemon *d, const char *method, const char *arg,
                   const char *prefix, int *count) {
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint64_t t0;
        double ms;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, d->dest, d->path, d->iface, method);
        if (r >= 0 && arg)
                r = sd_bus_message_append(m, "s", arg);
        if (r < 0)
                die("building the call", r);
        t0 = now_ns();
        r = sd_bus_call(bus, m, CALL_TIMEOUT_USEC, &error, &reply);
        ms = (double) (now_ns() - t0) / 1e6;
        sd_bus_message_unref(m);
        if (r < 0) {
                fprintf(stderr, "scale-client: %s %s: %s\n", d->label, method,
                        error.message ?: strerror(-r));
                sd_bus_error_free(&error);
                return r;
        }
        if (prefix) {
                const char *name, *a, *b, *o;
                size_t len = strlen(prefix);
                int n = 0;

                r = sd_bus_message_enter_container(reply, 'a', "(ssso)");
                while (r >= 0 && (r = sd_bus_message_read(reply, "(ssso)", &name, &a, &b, &o)) > 0)
                        if (strncmp(name, prefix, len) == 0)
                                n++;
                if (r < 0)
                        die("reading ListMachines", r);
                *count = n;
        }
        sd_bus_message_unref(reply);
        return ms;
}

static int cmd_calls(const Daemon *d, const char *label, size_t runs, const char *method, const char *arg) {
        sd_bus *bus = bus_open();
        Samples s = {};

        for (size_t i = 0; i < runs; i++) {
                double ms = call(bus, d, method, arg, NULL, NULL);

                if (ms < 0) {
                        printf("%s %s-failed %zu\n", label, method, i);
                        return 1;
                }
                samples_add(&s, ms);
        }
        samples_print_or_none(label, method, &s);
        sd_bus_flush_close_unref(bus);
        return 0;
}

static int cmd_sample(const Daemon *d, const char *label, const char *name, unsigned interval_us,
                      const char *stopfile) {
        sd_bus *bus = bus_open();
        Samples s = {};
        size_t over = 0, failed = 0;

        while (access(stopfile, F_OK) < 0) {
                double ms = call(bus, d, "GetMachine", name, NULL, NULL);

                if (ms < 0)
                        failed++;
                else {
                        samples_add(&s, ms);
                        if (ms > 10.0)
                                over++;
                }
                usleep(interval_us);
        }
        samples_print_or_none(label, "GetMachine-during", &s);
        printf("%s over-10ms %zu\n%s sample-failed %zu\n", label, over, label, failed);
        sd_bus_flush_close_unref(bus);
        return 0;
}

static int cmd_wait(const Daemon *d, const char *prefix, int want, unsigned timeout_s) {
        sd_bus *bus = bus_open();
        uint64_t t0 = now_ns(), deadline = t0 + (uint64_t) timeout_s * 1000000000ULL;
        int n = -1;

        for (;;) {
                double ms = call(bus, d, "ListMachines", NULL, prefix, &n);

                if (ms >= 0 && n == want)
                        break;
                if (now_ns() > deadline) {
                        fprintf(stderr, "scale-client: %d machines %s* listed after %u s, not %d\n",
                                n, prefix, timeout_s, want);
                        printf("%.1f\n", (double) (now_ns() - t0) / 1e6);
                        return 1;
                }
                /* A list of thousands costs the daemon milliseconds: poll no more than a fifth
                 * of the time, so that the waiting does not slow down what it waits for. */
                usleep(ms > 2.5 ? (useconds_t) (ms * 4000) : 10000);
        }
        printf("%.1f\n", (double) (now_ns() - t0) / 1e6);
        sd_bus_flush_close_unref(bus);
        return 0;
}

int main(int argc, char *argv[]) {
        const char *c = argc > 1 ? argv[1] : "";

        if (strcmp(c, "calls") == 0 && (argc == 6 || argc == 7))
                return cmd_calls(daemon_of(argv[2]), argv[3], strtoul(argv[4], NULL, 10), argv[5],
                                 argc == 7 ? argv[6] : NULL);
        if (strcmp(c, "sample") == 0 && argc == 7)
                return cmd_sample(daemon_of(argv[2]), argv[3], argv[4], strtoul(argv[5], NULL, 10), argv[6]);
        if (strcmp(c, "wait") == 0 && argc == 6)
                return cmd_wait(daemon_of(argv[2]), argv[3], atoi(argv[4]), strtoul(argv[5], NULL, 10));
        fprintf(stderr, "usage: see the head of bench/scale-client.c\n");
        return 2;
}
