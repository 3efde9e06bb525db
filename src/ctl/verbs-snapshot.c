/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthctl's snapshot verbs: snapshot, list-snapshots, restore, remove-snapshot. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "log.h"
#include "name-util.h"

/* A snapshot or a restore copies a whole tree where the file system cannot share extents. */
#define COPY_TIMEOUT_USEC (3600ULL * 1000000ULL)
#define NO_SUCH_SNAPSHOT "org.berth.machine1.NoSuchSnapshot"

static int check_name(const char *name, const char *what) {
        _cleanup_free_ char *e = NULL;

        if (image_name_is_valid(name))
                return 0;
        e = ctl_escape(name);
        log_error("Invalid %s name '%s'.", what, strempty(e));
        return CTL_EXIT_USAGE;
}

/* Logs a failed call; an unknown snapshot is "no such" (3) as an unknown image is. */
static int log_error_call(const sd_bus_error *error, int r, const char *what, const char *image,
                          const char *snapshot) {
        int code = snapshot ? ctl_log_bus_error(error, r, "%s snapshot %s of image %s", what, snapshot, image) :
                              ctl_log_bus_error(error, r, "%s image %s", what, image);

        return sd_bus_error_has_name(error, NO_SUCH_SNAPSHOT) ? CTL_EXIT_NO_SUCH : code;
}

static int call(Ctl *ctl, const char *method, uint64_t timeout, sd_bus_error *error, sd_bus_message **reply,
                const char *image, const char *snapshot) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = ctl_new_manager_call(ctl, method, &m);
        if (r < 0)
                return r;
        r = snapshot ? sd_bus_message_append(m, "ss", image, snapshot) : sd_bus_message_append(m, "s", image);
        if (r < 0)
                return r;
        return ctl_call_message(ctl, m, timeout, error, reply);
}

/* snapshot NAME [SNAPSHOT]: prints the snapshot's name (the default one is made up by berthd). */
int verb_snapshot(int argc, char **argv, Ctl *ctl) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *snapshot = argc > 2 ? argv[2] : "", *name;
        int r;

        r = check_name(argv[1], "image");
        if (r == 0 && argc > 2)
                r = check_name(argv[2], "snapshot");
        if (r != 0)
                return r;
        r = call(ctl, "SnapshotImage", COPY_TIMEOUT_USEC, &error, &reply, argv[1], snapshot);
        if (r < 0)
                return log_error_call(&error, r, "snapshot", argv[1], NULL);
        r = sd_bus_message_read(reply, "s", &name);
        if (r < 0)
                return ctl_log_bus_error(NULL, r, "read SnapshotImage's answer");
        if (!ctl->quiet) {
                ctl_fputs_escaped(name, stdout);
                fputc('\n', stdout);
        }
        return CTL_EXIT_SUCCESS;
}

enum { COL_NAME, COL_CREATED, COL_USAGE };

static void format_time(char *buf, size_t size, uint64_t usec) {
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;

        if (usec == 0 || !localtime_r(&t, &tm) || strftime(buf, size, "%a %Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                buf[0] = '\0';
}

static void format_bytes(char *buf, size_t size, uint64_t n) {
        static const char units[] = "BKMGTPE";
        double v = (double) n;
        size_t u = 0;

        if (n == UINT64_MAX) {
                buf[0] = '\0';
                return;
        }
        while (v >= 1024 && u < sizeof(units) - 2) {
                v /= 1024;
                u++;
        }
        if (u == 0)
                (void) snprintf(buf, size, "%" PRIu64 "B", n);
        else
                (void) snprintf(buf, size, "%.1f%c", v, units[u]);
}

static int add_row(Ctl *ctl, struct libscols_table *t, const char *name, uint64_t crtime, uint64_t usage) {
        struct libscols_line *line = scols_table_new_line(t, NULL);
        char c[64], u[32];

        if (!line)
                return -ENOMEM;
        if (ctl->output == OUTPUT_TABLE) {
                format_time(c, sizeof(c), crtime);
                format_bytes(u, sizeof(u), usage);
        } else {
                /* JSON: numbers as numbers (µs, bytes), unknown as null. */
                (void) snprintf(c, sizeof(c), "%" PRIu64, crtime);
                (void) snprintf(u, sizeof(u), "%" PRIu64, usage);
                if (usage == UINT64_MAX)
                        u[0] = '\0';
                if (crtime == 0)
                        c[0] = '\0';
        }
        if (ctl_table_set(ctl, line, COL_NAME, name) < 0 ||
            ctl_table_set(ctl, line, COL_CREATED, isempty(c) ? NULL : c) < 0 ||
            ctl_table_set(ctl, line, COL_USAGE, isempty(u) ? NULL : u) < 0)
                return -ENOMEM;
        return 0;
}

int verb_list_snapshots(int argc, char **argv, Ctl *ctl) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_table_ struct libscols_table *t = NULL;
        uint64_t crtime, usage;
        const char *name;
        int r;

        r = check_name(argv[1], "image");
        if (r != 0)
                return r;
        r = call(ctl, "ListImageSnapshots", 0, &error, &reply, argv[1], NULL);
        if (r < 0)
                return log_error_call(&error, r, "list the snapshots of", argv[1], NULL);
        t = ctl_table_new(ctl, "snapshots");
        if (!t)
                return log_oom();
        if (ctl_table_add_column(t, "NAME", SCOLS_JSON_STRING, 0) < 0 ||
            ctl_table_add_column(t, "CREATED", SCOLS_JSON_NUMBER, 0) < 0 ||
            ctl_table_add_column(t, "USAGE", SCOLS_JSON_NUMBER, SCOLS_FL_RIGHT) < 0)
                return log_oom();
        r = sd_bus_message_enter_container(reply, 'a', "(stt)");
        if (r < 0)
                return ctl_log_bus_error(NULL, r, "read ListImageSnapshots' answer");
        while ((r = sd_bus_message_read(reply, "(stt)", &name, &crtime, &usage)) > 0)
                if (add_row(ctl, t, name, crtime, usage) < 0)
                        return log_oom();
        if (r < 0)
                return ctl_log_bus_error(NULL, r, "read ListImageSnapshots' answer");
        return ctl_table_print(ctl, t, "snapshots");
}

int verb_restore(int argc, char **argv, Ctl *ctl) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = check_name(argv[1], "image");
        if (r == 0)
                r = check_name(argv[2], "snapshot");
        if (r != 0)
                return r;
        r = call(ctl, "RestoreImageSnapshot", COPY_TIMEOUT_USEC, &error, NULL, argv[1], argv[2]);
        if (r < 0)
                return log_error_call(&error, r, "restore", argv[1], argv[2]);
        return CTL_EXIT_SUCCESS;
}

/* remove-snapshot NAME SNAPSHOT...: every one is tried; the first failure's code is returned. */
int verb_remove_snapshot(int argc, char **argv, Ctl *ctl) {
        int ret = CTL_EXIT_SUCCESS, r;

        r = check_name(argv[1], "image");
        if (r != 0)
                return r;
        for (int i = 2; i < argc; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

                r = check_name(argv[i], "snapshot");
                if (r == 0) {
                        r = call(ctl, "RemoveImageSnapshot", COPY_TIMEOUT_USEC, &error, NULL, argv[1], argv[i]);
                        r = r < 0 ? log_error_call(&error, r, "remove", argv[1], argv[i]) : CTL_EXIT_SUCCESS;
                }
                if (ret == CTL_EXIT_SUCCESS)
                        ret = r;
        }
        return ret;
}
