/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthctl's transfer verbs: import-tar, import-raw, import-fs, export-tar, export-raw, list-transfers, cancel-transfer. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl-progress.h"
#include "log.h"
#include "name-util.h"
#include "strv.h"

#define BERTH_TRANSFER_IFACE "org.berth.machine1.Transfer"

/* Set by SIGINT/SIGTERM while we wait for a transfer: the wait loop cancels it. */
static volatile sig_atomic_t got_signal;

static void on_signal(int sig) {
        got_signal = sig;
}

/* What we learn about our transfer while waiting for it. */
typedef struct Wait {
        uint32_t id;
        const char *path;
        char *result;        /* "done", "failed", "canceled", set by TransferRemoved */
        char *message;       /* the last LogMessage */
        double progress;
        bool berthd_gone;
} Wait;

static int on_removed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Wait *w = userdata;
        const char *path, *result;
        uint32_t id;

        if (sd_bus_message_read(m, "uos", &id, &path, &result) < 0 || id != w->id)
                return 0;
        free(w->result);
        w->result = strdup(result);
        return 0;
}

static int on_log(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Wait *w = userdata;
        const char *line;
        uint32_t prio;

        if (!streq_ptr(sd_bus_message_get_path(m), w->path) || sd_bus_message_read(m, "us", &prio, &line) < 0)
                return 0;
        free(w->message);
        w->message = strdup(line);
        return 0;
}

static int on_properties(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Wait *w = userdata;
        const char *iface, *name;

        if (!streq_ptr(sd_bus_message_get_path(m), w->path) || sd_bus_message_read(m, "s", &iface) < 0 ||
            sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
                return 0;
        while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                double d;

                if (sd_bus_message_read(m, "s", &name) < 0)
                        return 0;
                if (streq(name, "Progress") && sd_bus_message_read(m, "v", "d", &d) >= 0)
                        w->progress = d;
                else if (sd_bus_message_skip(m, "v") < 0)
                        return 0;
                if (sd_bus_message_exit_container(m) < 0)
                        return 0;
        }
        return 0;
}

static int on_owner(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Wait *w = userdata;
        const char *name, *old, *new;

        if (sd_bus_message_read(m, "sss", &name, &old, &new) >= 0 && streq(name, BERTH_BUS_NAME) && isempty(new))
                w->berthd_gone = true;
        return 0;
}

static int cancel(Ctl *ctl, uint32_t id) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = ctl_call(ctl, "CancelTransfer", &error, NULL, "u", id);
        if (r < 0)
                return ctl_log_bus_error(&error, r, "cancel transfer %" PRIu32, id);
        return 0;
}

/* Calls METHOD (which answers (u id, o path)), then waits for TransferRemoved of that transfer.
 * SIZE: the input's size if known (for the rate). Returns the exit code. */
static int run_transfer(Ctl *ctl, sd_bus_message *call, uint64_t size, const char *what) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
        bool tty = isatty(STDERR_FILENO) && !ctl->quiet, drawn = false;
        uint64_t start = ctl_progress_now_usec(), last_draw = 0;
        Wait w = {};
        sd_bus *bus;
        int r, ret;

        r = ctl_bus(ctl, &bus);
        if (r < 0)
                return CTL_EXIT_FAILURE;
        /* Before the call: our transfer may end before its answer is read. */
        r = sd_bus_match_signal(bus, NULL, BERTH_BUS_NAME, BERTH_BUS_PATH, BERTH_MANAGER_IFACE, "TransferRemoved",
                                on_removed, &w);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, BERTH_BUS_NAME, NULL, BERTH_TRANSFER_IFACE, "LogMessage", on_log, &w);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, BERTH_BUS_NAME, NULL, "org.freedesktop.DBus.Properties",
                                        "PropertiesChanged", on_properties, &w);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "NameOwnerChanged", on_owner, &w);
        if (r < 0)
                return ctl_log_bus_error(NULL, r, "watch the transfer");

        r = ctl_call_message(ctl, call, 0, &error, &reply);
        if (r < 0)
                return ctl_log_bus_error(&error, r, "%s", what);
        r = sd_bus_message_read(reply, "uo", &w.id, &w.path);
        if (r < 0)
                return ctl_log_bus_error(NULL, r, "read the answer");
        if (tty)
                log_info("Transfer %" PRIu32 " started; Ctrl-C cancels it.", w.id);

        /* Ctrl-C cancels the transfer, and we wait for it to be gone. */
        (void) sigaction(SIGINT, &sa, &old_int);
        (void) sigaction(SIGTERM, &sa, &old_term);
        while (!w.result && !w.berthd_gone) {
                if (got_signal) {
                        got_signal = 0;
                        (void) cancel(ctl, w.id);
                }
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        break;
                if (r > 0)
                        continue;
                if (tty && ctl_progress_now_usec() - last_draw >= 200000) {
                        ctl_progress_draw(w.progress, size, start);
                        drawn = true;
                        last_draw = ctl_progress_now_usec();
                }
                r = sd_bus_wait(bus, tty ? 200000 : UINT64_MAX);
                if (r < 0 && r != -EINTR)
                        break;
        }
        (void) sigaction(SIGINT, &old_int, NULL);
        (void) sigaction(SIGTERM, &old_term, NULL);
        if (drawn) {
                if (streq_ptr(w.result, "done"))
                        ctl_progress_draw(1.0, size, start);
                fputs("\n", stderr);
        }

        if (streq_ptr(w.result, "done"))
                ret = CTL_EXIT_SUCCESS;
        else {
                if (w.result)
                        log_error("Failed to %s: transfer %s%s%s.", what, w.result, w.message ? ": " : "",
                                  strempty(w.message));
                else
                        log_error("Failed to %s: %s.", what, w.berthd_gone ? "berthd went away" : strerror(-r));
                ret = CTL_EXIT_FAILURE;
        }
        free(w.result);
        free(w.message);
        return ret;
}

/* The image name a file suggests: its base name without the suffixes we know. */
static char *name_from_path(const char *path) {
        static const char *const suffixes[] = { ".gz", ".xz", ".zst", ".zstd", ".bz2", ".tar", ".tgz", ".txz",
                                                ".tzst", ".raw", ".img" };
        _cleanup_free_ char *copy = strdup(path);
        bool again = true;
        char *n, *b;
        size_t len;

        if (!copy)
                return NULL;
        /* "dir/" names "dir". */
        len = strlen(copy);
        while (len > 1 && copy[len - 1] == '/')
                copy[--len] = 0;
        b = strrchr(copy, '/');
        n = strdup(b ? b + 1 : copy);
        if (!n)
                return NULL;
        while (again) {
                size_t l = strlen(n);

                again = false;
                for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                        size_t s = strlen(suffixes[i]);

                        if (l > s && streq(n + l - s, suffixes[i])) {
                                n[l - s] = 0;
                                again = true;
                                break;
                        }
                }
        }
        return n;
}

static int check_image_name(const char *name) {
        _cleanup_free_ char *e = NULL;

        if (image_name_is_valid(name))
                return 0;
        e = ctl_escape(name);
        log_error("Invalid image name '%s'; give one as the last argument.", strempty(e));
        return CTL_EXIT_USAGE;
}

/* import-tar FILE|- [NAME], import-raw FILE|- [NAME], import-fs DIR [NAME]. */
static int do_import(int argc, char **argv, Ctl *ctl, const char *method, bool dir) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *file = argv[1];
        struct stat st;
        uint64_t size = 0;
        char what[300];
        int r;

        if (streq(file, "-") && !dir) {
                if (argc < 3) {
                        log_error("Reading from standard input needs an image name.");
                        return CTL_EXIT_USAGE;
                }
                fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
        } else
                fd = open(file, (dir ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                log_error("Failed to open %s: %s", file, strerror(errno));
                return CTL_EXIT_FAILURE;
        }
        if (fstat(fd, &st) >= 0 && S_ISREG(st.st_mode))
                size = (uint64_t) st.st_size;
        name = argc >= 3 ? strdup(argv[2]) : name_from_path(file);
        if (!name)
                return log_oom();
        r = check_image_name(name);
        if (r != 0)
                return r;

        r = ctl_new_manager_call(ctl, method, &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "hsbb", fd, name, (int) ctl->force, (int) ctl->read_only);
        if (r < 0)
                return ctl_log_bus_error(NULL, r, "build the call");
        (void) snprintf(what, sizeof(what), "import %s", name);
        return run_transfer(ctl, m, size, what);
}

int verb_import_tar(int argc, char **argv, Ctl *ctl) {
        return do_import(argc, argv, ctl, "ImportTar", false);
}

int verb_import_raw(int argc, char **argv, Ctl *ctl) {
        return do_import(argc, argv, ctl, "ImportRaw", false);
}

int verb_import_fs(int argc, char **argv, Ctl *ctl) {
        return do_import(argc, argv, ctl, "ImportFileSystem", true);
}

/* The compression a file name asks for; "uncompressed" for anything else. */
static const char *format_from_path(const char *path) {
        static const struct {
                const char *suffix, *format;
        } table[] = {
                { ".gz", "gzip" }, { ".tgz", "gzip" }, { ".xz", "xz" }, { ".txz", "xz" },
                { ".zst", "zstd" }, { ".zstd", "zstd" }, { ".tzst", "zstd" },
        };
        size_t l = path ? strlen(path) : 0;

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                size_t s = strlen(table[i].suffix);

                if (l > s && streq(path + l - s, table[i].suffix))
                        return table[i].format;
        }
        return "uncompressed";
}

/* export-tar NAME [FILE|-], export-raw NAME [FILE|-]. */
static int do_export(int argc, char **argv, Ctl *ctl, const char *method) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *file = argc >= 3 && !streq(argv[2], "-") ? argv[2] : NULL;
        const char *format = ctl->format ?: format_from_path(file);
        char what[300];
        int r, ret;

        r = check_image_name(argv[1]);
        if (r != 0)
                return r;
        if (file)
                fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0666);
        else if (isatty(STDOUT_FILENO)) {
                log_error("Refusing to write an image to a terminal; give a file or redirect the output.");
                return CTL_EXIT_USAGE;
        } else
                fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
        if (fd < 0) {
                log_error("Failed to open %s: %s", file ?: "standard output", strerror(errno));
                return CTL_EXIT_FAILURE;
        }

        r = ctl_new_manager_call(ctl, method, &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "shs", argv[1], fd, format);
        if (r < 0)
                return ctl_log_bus_error(NULL, r, "build the call");
        (void) snprintf(what, sizeof(what), "export %s", argv[1]);
        ret = run_transfer(ctl, m, 0, what);
        /* A half-written export is no export. */
        if (ret != CTL_EXIT_SUCCESS && file)
                (void) unlink(file);
        return ret;
}

int verb_export_tar(int argc, char **argv, Ctl *ctl) {
        return do_export(argc, argv, ctl, "ExportTar");
}

int verb_export_raw(int argc, char **argv, Ctl *ctl) {
        return do_export(argc, argv, ctl, "ExportRaw");
}

enum { COL_ID, COL_PERCENT, COL_TYPE, COL_LOCAL, COL_REMOTE };

int verb_list_transfers(int argc, char **argv, Ctl *ctl) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_table_ struct libscols_table *t = NULL;
        const char *type, *remote, *local, *path;
        double progress;
        uint32_t id;
        int r;

        r = ctl_call(ctl, "ListTransfers", &error, &reply, NULL);
        if (r < 0)
                return ctl_log_bus_error(&error, r, "list transfers");
        t = ctl_table_new(ctl, "transfers");
        if (!t)
                return log_oom();
        if (ctl_table_add_column(t, "ID", SCOLS_JSON_NUMBER, SCOLS_FL_RIGHT) < 0 ||
            ctl_table_add_column(t, "PERCENT", SCOLS_JSON_NUMBER, SCOLS_FL_RIGHT) < 0 ||
            ctl_table_add_column(t, "TYPE", SCOLS_JSON_STRING, 0) < 0 ||
            ctl_table_add_column(t, "LOCAL", SCOLS_JSON_STRING, 0) < 0 ||
            ctl_table_add_column(t, "REMOTE", SCOLS_JSON_STRING, SCOLS_FL_TRUNC) < 0)
                return log_oom();
        r = sd_bus_message_enter_container(reply, 'a', "(usssdo)");
        if (r < 0)
                return ctl_log_bus_error(NULL, r, "read ListTransfers' answer");
        while ((r = sd_bus_message_read(reply, "(usssdo)", &id, &type, &remote, &local, &progress, &path)) > 0) {
                struct libscols_line *line = scols_table_new_line(t, NULL);
                char i[16], p[16];

                if (!line)
                        return log_oom();
                (void) snprintf(i, sizeof(i), "%" PRIu32, id);
                (void) snprintf(p, sizeof(p), ctl->output == OUTPUT_TABLE ? "%u%%" : "%u", (unsigned) (progress * 100));
                if (ctl_table_set(ctl, line, COL_ID, i) < 0 || ctl_table_set(ctl, line, COL_PERCENT, p) < 0 ||
                    ctl_table_set(ctl, line, COL_TYPE, type) < 0 || ctl_table_set(ctl, line, COL_LOCAL, local) < 0 ||
                    ctl_table_set(ctl, line, COL_REMOTE, remote) < 0)
                        return log_oom();
        }
        if (r < 0)
                return ctl_log_bus_error(NULL, r, "read ListTransfers' answer");
        return ctl_table_print(ctl, t, "transfers");
}

int verb_cancel_transfer(int argc, char **argv, Ctl *ctl) {
        int ret = 0;

        for (int i = 1; i < argc; i++) {
                char *end = NULL;
                unsigned long id;
                int r;

                errno = 0;
                id = strtoul(argv[i], &end, 10);
                if (errno != 0 || !end || *end || argv[i][0] < '0' || argv[i][0] > '9' || id == 0 || id > UINT32_MAX) {
                        log_error("Invalid transfer id: %s", argv[i]);
                        ret = ret ?: CTL_EXIT_USAGE;
                        continue;
                }
                r = cancel(ctl, (uint32_t) id);
                if (r != 0)
                        ret = ret ?: r;
        }
        return ret;
}
