/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The context every berthctl verb gets, the verb type, exit codes and the helpers verbs share. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "macro.h"

/* berthctl's exit codes (berthctl(1), EXIT STATUS). A verb returns one of these (or, for exec,
 * the command's status), or a negative errno, which main() turns into CTL_EXIT_FAILURE. */
enum {
        CTL_EXIT_SUCCESS = 0,
        CTL_EXIT_FAILURE = 1,
        CTL_EXIT_USAGE = 2,   /* bad arguments: ours, or InvalidArgs from berthd */
        CTL_EXIT_NO_SUCH = 3, /* no such machine or image */
        CTL_EXIT_DENIED = 4,  /* polkit said no, or would ask and nobody can answer */
};

typedef enum OutputMode {
        OUTPUT_TABLE,
        OUTPUT_JSON,
        OUTPUT_JSON_PRETTY,
        _OUTPUT_MODE_MAX,
        _OUTPUT_MODE_INVALID = -EINVAL,
} OutputMode;

const char *output_mode_to_string(OutputMode m);
OutputMode output_mode_from_string(const char *s);

/* Parsed command line (filled by berthctl.c before the verb runs; verbs only read these) and
 * the resources opened on demand (the bus, the polkit agent, the pager), released by
 * ctl_done(). */
typedef struct Ctl {
        /* global options */
        const char *host;     /* -H/--host=[USER@]HOST, NULL: the local system bus */
        bool no_pager;        /* --no-pager */
        bool no_legend;       /* --no-legend */
        bool quiet;           /* -q/--quiet */
        bool full;            /* -l/--full: never ellipsize */
        bool ask_password;    /* true unless --no-ask-password */
        bool all;             /* -a/--all */
        OutputMode output;    /* -o/--output= */
        char **properties;    /* -p/--property=, strv, NULL: all */
        bool value;           /* --value: show prints values only */
        unsigned lines;       /* -n/--lines=, journal lines in status (default 10) */

        /* options of the action verbs (verbs-*.c); parsed here so every verb sees one struct */
        const char *kill_whom; /* --kill-whom=leader|all, NULL: "all" */
        int signal;            /* -s/--signal=, 0: the verb's default */
        bool read_only;        /* --read-only (bind, read-only) */
        bool mkdir;            /* --mkdir (bind) */
        bool force;            /* --force (copy-to, copy-from, clone...) */
        bool runtime;          /* --runtime (set-property) */
        bool now;              /* --now (enable, disable) */
        const char *uid;       /* --uid=USER (shell, exec), NULL: root */
        char **setenv;         /* -E/--setenv=NAME=VALUE, strv (shell, exec) */
        const char *format;    /* --format= (export-tar, export-raw), NULL: from the file name */

        /* resources, owned; opened lazily by the helpers below */
        sd_bus *bus;
        pid_t agent_pid;       /* pkttyagent, 0: not running */
        pid_t pager_pid;       /* the pager, 0: not running */
        int saved_stdout;      /* stdout before the pager took it, -1: none */
} Ctl;

/* A verb: ARGV[0] is the verb's name, ARGV[1..ARGC-1] its arguments (options removed). Returns an
 * exit code (>= 0) or a negative errno (already logged). */
typedef int (*VerbFunction)(int argc, char **argv, Ctl *ctl);

void ctl_init(Ctl *ctl);
/* Closes the bus, stops the polkit agent, waits for the pager. */
void ctl_done(Ctl *ctl);

#include "ctl-bus.h"
#include "ctl-output.h"

/* --- verbs (verbs-show.c; the action verbs are in verbs-*.c) --- */

int verb_list(int argc, char **argv, Ctl *ctl);
int verb_status(int argc, char **argv, Ctl *ctl);
int verb_show(int argc, char **argv, Ctl *ctl);

/* Action verbs, defined in verbs-*.c by their owner: declared here so the verb table can name
 * them. A verb declared but not yet defined is simply not in the table. */
int verb_start(int argc, char **argv, Ctl *ctl);
int verb_login(int argc, char **argv, Ctl *ctl);
int verb_shell(int argc, char **argv, Ctl *ctl);
int verb_exec(int argc, char **argv, Ctl *ctl);
int verb_enable(int argc, char **argv, Ctl *ctl);
int verb_disable(int argc, char **argv, Ctl *ctl);
int verb_poweroff(int argc, char **argv, Ctl *ctl);
int verb_reboot(int argc, char **argv, Ctl *ctl);
int verb_terminate(int argc, char **argv, Ctl *ctl);
int verb_kill(int argc, char **argv, Ctl *ctl);
int verb_freeze(int argc, char **argv, Ctl *ctl);
int verb_thaw(int argc, char **argv, Ctl *ctl);
int verb_bind(int argc, char **argv, Ctl *ctl);
int verb_copy_to(int argc, char **argv, Ctl *ctl);
int verb_copy_from(int argc, char **argv, Ctl *ctl);
int verb_set_property(int argc, char **argv, Ctl *ctl);
int verb_list_images(int argc, char **argv, Ctl *ctl);
int verb_image_status(int argc, char **argv, Ctl *ctl);
int verb_show_image(int argc, char **argv, Ctl *ctl);
int verb_clone(int argc, char **argv, Ctl *ctl);
int verb_rename(int argc, char **argv, Ctl *ctl);
int verb_read_only(int argc, char **argv, Ctl *ctl);
int verb_remove(int argc, char **argv, Ctl *ctl);
int verb_set_limit(int argc, char **argv, Ctl *ctl);
/* verbs-snapshot.c */
int verb_snapshot(int argc, char **argv, Ctl *ctl);
int verb_list_snapshots(int argc, char **argv, Ctl *ctl);
int verb_restore(int argc, char **argv, Ctl *ctl);
int verb_remove_snapshot(int argc, char **argv, Ctl *ctl);
/* verbs-transfer.c */
int verb_import_tar(int argc, char **argv, Ctl *ctl);
int verb_import_raw(int argc, char **argv, Ctl *ctl);
int verb_import_fs(int argc, char **argv, Ctl *ctl);
int verb_export_tar(int argc, char **argv, Ctl *ctl);
int verb_export_raw(int argc, char **argv, Ctl *ctl);
int verb_list_transfers(int argc, char **argv, Ctl *ctl);
int verb_cancel_transfer(int argc, char **argv, Ctl *ctl);

/* All properties of INTERFACE on object PATH as one JSON object keyed by their D-Bus names
 * (verbs-show.c; show and status of machines and images). */
int ctl_get_all(Ctl *ctl, const char *path, const char *interface, sd_bus_error *error,
                struct json_object **ret);
/* A string or number member of such an object; NULL or 0 when absent. */
const char *ctl_jstr(struct json_object *o, const char *key);
uint64_t ctl_juint(struct json_object *o, const char *key);
int verb_clean(int argc, char **argv, Ctl *ctl);
int verb_clean(int argc, char **argv, Ctl *ctl);
