/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthctl's main(): the command line, the verb table, and exit codes. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>

#include "ctl.h"
#include "log.h"
#include "parse-util.h"
#include "strv.h"

#define VERB_ANY UINT_MAX

typedef struct Verb {
        const char *name;
        const char *synopsis; /* the arguments, for --help */
        unsigned min_args;    /* counting the verb itself, as argv[0] of the verb */
        unsigned max_args;
        VerbFunction func;
        const char *help;
} Verb;

static const Verb verbs[] = {
        /* Machines: list, status, show (verbs-show.c). The first verb is the default. */
        { "list", "", 1, 1, verb_list, "List running machines" },
        { "status", "NAME...", 2, VERB_ANY, verb_status, "Show the status of machines" },
        { "show", "[NAME...]", 1, VERB_ANY, verb_show, "Show properties of the manager or machines" },
        /* Action verbs (verbs-*.c): one line each, added by their owner. */
        { "start", "NAME...", 2, VERB_ANY, verb_start, "Start machines from the image pool" },
        { "login", "[NAME]", 1, 2, verb_login, "Get a login prompt in a machine" },
        { "shell", "[[USER@]NAME [PATH [ARGS...]]]", 1, VERB_ANY, verb_shell, "Open a shell in a machine" },
        { "exec", "NAME [--] CMD...", 3, VERB_ANY, verb_exec, "Run a command in a machine, with its exit status" },
        { "enable", "NAME...", 2, VERB_ANY, verb_enable, "Start machines when the host boots" },
        { "disable", "NAME...", 2, VERB_ANY, verb_disable, "Do not start machines when the host boots" },
        { "poweroff", "NAME...", 2, VERB_ANY, verb_poweroff, "Power off machines cleanly" },
        { "reboot", "NAME...", 2, VERB_ANY, verb_reboot, "Reboot machines" },
        { "terminate", "NAME...", 2, VERB_ANY, verb_terminate, "Stop machines at once" },
        { "kill", "NAME...", 2, VERB_ANY, verb_kill, "Send a signal to processes of machines" },
        { "freeze", "NAME...", 2, VERB_ANY, verb_freeze, "Freeze every process of machines" },
        { "thaw", "NAME...", 2, VERB_ANY, verb_thaw, "Thaw frozen machines" },
        { "bind", "NAME PATH [PATH]", 3, 4, verb_bind, "Bind-mount a host path into a machine" },
        { "copy-to", "NAME PATH [PATH]", 3, 4, verb_copy_to, "Copy files from the host into a machine" },
        { "copy-from", "NAME PATH [PATH]", 3, 4, verb_copy_from, "Copy files from a machine to the host" },
        { "set-property", "NAME KEY=VALUE...", 3, VERB_ANY, verb_set_property, "Change resource limits of a machine" },
        { "list-images", "", 1, 1, verb_list_images, "List images in the pool (--all: hidden ones too)" },
        { "image-status", "NAME...", 2, VERB_ANY, verb_image_status, "Show the status of images" },
        { "show-image", "[NAME...]", 1, VERB_ANY, verb_show_image, "Show properties of images" },
        { "clone", "NAME NEW", 3, 3, verb_clone, "Clone an image (--read-only: the clone read-only)" },
        { "rename", "NAME NEW", 3, 3, verb_rename, "Rename an image" },
        { "read-only", "NAME [BOOL]", 2, 3, verb_read_only, "Mark an image read-only or writable" },
        { "remove", "NAME...", 2, VERB_ANY, verb_remove, "Remove images" },
        { "clean", "", 1, 1, verb_clean, "Remove hidden images (--all: every unused one)" },
        { "set-limit", "[NAME] BYTES", 2, 3, verb_set_limit, "Limit the disk space of a btrfs subvolume image" },
        { "snapshot", "NAME [SNAPSHOT]", 2, 3, verb_snapshot, "Snapshot an image (default name: the UTC time)" },
        { "list-snapshots", "NAME", 2, 2, verb_list_snapshots, "List the snapshots of an image" },
        { "restore", "NAME SNAPSHOT", 3, 3, verb_restore, "Bring an image back to a snapshot" },
        { "remove-snapshot", "NAME SNAPSHOT...", 3, VERB_ANY, verb_remove_snapshot, "Remove snapshots of an image" },
        { "import-tar", "FILE|- [NAME]", 2, 3, verb_import_tar, "Import a tar archive as an image" },
        { "import-raw", "FILE|- [NAME]", 2, 3, verb_import_raw, "Import a raw disk image" },
        { "import-fs", "DIR [NAME]", 2, 3, verb_import_fs, "Import a directory tree as an image" },
        { "export-tar", "NAME [FILE|-]", 2, 3, verb_export_tar, "Export an image as a tar archive" },
        { "export-raw", "NAME [FILE|-]", 2, 3, verb_export_raw, "Export a raw disk image" },
        { "list-transfers", "", 1, 1, verb_list_transfers, "List running imports and exports" },
        { "cancel-transfer", "ID...", 2, VERB_ANY, verb_cancel_transfer, "Cancel imports or exports" },
};

enum {
        ARG_VERSION = 0x100,
        ARG_NO_PAGER,
        ARG_NO_LEGEND,
        ARG_NO_ASK_PASSWORD,
        ARG_VALUE,
        ARG_KILL_WHOM,
        ARG_READ_ONLY,
        ARG_MKDIR,
        ARG_FORCE,
        ARG_RUNTIME,
        ARG_NOW,
        ARG_UID,
        ARG_FORMAT,
};

static const struct option options[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, ARG_VERSION },
        { "host", required_argument, NULL, 'H' },
        { "no-pager", no_argument, NULL, ARG_NO_PAGER },
        { "no-legend", no_argument, NULL, ARG_NO_LEGEND },
        { "quiet", no_argument, NULL, 'q' },
        { "full", no_argument, NULL, 'l' },
        { "no-ask-password", no_argument, NULL, ARG_NO_ASK_PASSWORD },
        { "output", required_argument, NULL, 'o' },
        { "all", no_argument, NULL, 'a' },
        { "property", required_argument, NULL, 'p' },
        { "value", no_argument, NULL, ARG_VALUE },
        { "lines", required_argument, NULL, 'n' },
        { "kill-whom", required_argument, NULL, ARG_KILL_WHOM },
        { "signal", required_argument, NULL, 's' },
        { "read-only", no_argument, NULL, ARG_READ_ONLY },
        { "mkdir", no_argument, NULL, ARG_MKDIR },
        { "force", no_argument, NULL, ARG_FORCE },
        { "runtime", no_argument, NULL, ARG_RUNTIME },
        { "now", no_argument, NULL, ARG_NOW },
        { "uid", required_argument, NULL, ARG_UID },
        { "setenv", required_argument, NULL, 'E' },
        { "format", required_argument, NULL, ARG_FORMAT },
        {}
};

static void help(void) {
        printf("berthctl [OPTIONS...] COMMAND ...\n\n"
               "Send control commands to or query berthd, the machine manager.\n\n"
               "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                char left[64];

                (void) snprintf(left, sizeof(left), "%s %s", verbs[i].name, verbs[i].synopsis);
                /* A long synopsis gets a line of its own, so the descriptions stay aligned. */
                if (strlen(left) > 34)
                        printf("  %s\n  %-34s %s%s\n", left, "", verbs[i].help, i == 0 ? " (default)" : "");
                else
                        printf("  %-34s %s%s\n", left, verbs[i].help, i == 0 ? " (default)" : "");
        }
        printf("\nOptions:\n"
               "  -h --help                  Show this help\n"
               "     --version               Show the version\n"
               "  -H --host=[USER@]HOST      Operate on a remote host (over ssh)\n"
               "     --no-pager              Do not pipe output into a pager\n"
               "     --no-legend             Do not show headers and footers\n"
               "  -q --quiet                 Suppress informational messages\n"
               "  -l --full                  Do not ellipsize output\n"
               "     --no-ask-password       Do not ask for authentication (polkit)\n"
               "  -o --output=MODE           table, json or json-pretty\n"
               "  -a --all                   Show all properties, and closing machines\n"
               "  -p --property=NAME         Show only this property (repeatable)\n"
               "     --value                 With show: print values only\n"
               "  -n --lines=N               Journal lines in status (default 10)\n"
               "     --kill-whom=WHOM        With kill: leader or all\n"
               "  -s --signal=SIGNAL         With kill: the signal to send\n"
               "     --read-only             With bind: mount read-only\n"
               "     --mkdir                 With bind: create the destination\n"
               "     --force                 With copy-to, copy-from: replace the target\n"
               "     --runtime               With set-property: until the machine stops\n"
               "     --now                   With enable, disable: also start or stop\n"
               "     --uid=USER              With shell, exec: run as USER\n"
               "  -E --setenv=NAME=VALUE     With shell, exec: set an environment variable\n"
               "     --format=FORMAT         With export-tar, export-raw: uncompressed, gzip,\n"
               "                             xz or zstd (default: from the file name)\n"
               "\nSee the berthctl(1) man page for details.\n");
}

static int add_properties(Ctl *ctl, const char *arg) {
        _cleanup_free_ char *copy = strdup(arg);
        char *save = NULL;

        if (!copy)
                return log_oom();
        for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save))
                if (strv_extend(&ctl->properties, p) < 0)
                        return log_oom();
        return 0;
}

/* One option; returns 0, 1 to exit with success (help, version), or an exit code < 0 as
 * -CTL_EXIT_USAGE. */
static int parse_option(Ctl *ctl, int c, const char *arg) {
        int r;

        switch (c) {
        case 'h':
                help();
                return 1;
        case ARG_VERSION:
                printf("berthctl %s\n", PROJECT_VERSION);
                return 1;
        case 'H':
                ctl->host = arg;
                break;
        case ARG_NO_PAGER:
                ctl->no_pager = true;
                break;
        case ARG_NO_LEGEND:
                ctl->no_legend = true;
                break;
        case 'q':
                ctl->quiet = true;
                break;
        case 'l':
                ctl->full = true;
                break;
        case ARG_NO_ASK_PASSWORD:
                ctl->ask_password = false;
                break;
        case 'o':
                ctl->output = output_mode_from_string(arg);
                if (ctl->output < 0) {
                        log_error("Unknown output mode '%s' (table, json, json-pretty).", arg);
                        return -CTL_EXIT_USAGE;
                }
                break;
        case 'a':
                ctl->all = true;
                break;
        case 'p':
                r = add_properties(ctl, arg);
                if (r < 0)
                        return -CTL_EXIT_FAILURE;
                /* systemctl shows a property asked for by name even when empty. */
                ctl->all = true;
                break;
        case ARG_VALUE:
                ctl->value = true;
                break;
        case 'n':
                if (parse_small_uint(arg, 100000, &ctl->lines) < 0) {
                        log_error("Invalid number of lines: %s", arg);
                        return -CTL_EXIT_USAGE;
                }
                break;
        case ARG_KILL_WHOM:
                if (!streq(arg, "leader") && !streq(arg, "all")) {
                        log_error("Invalid --kill-whom=%s (leader or all).", arg);
                        return -CTL_EXIT_USAGE;
                }
                ctl->kill_whom = arg;
                break;
        case 's':
                ctl->signal = signal_from_string(arg);
                if (ctl->signal < 0) {
                        log_error("Invalid signal: %s", arg);
                        return -CTL_EXIT_USAGE;
                }
                break;
        case ARG_READ_ONLY:
                ctl->read_only = true;
                break;
        case ARG_MKDIR:
                ctl->mkdir = true;
                break;
        case ARG_FORCE:
                ctl->force = true;
                break;
        case ARG_RUNTIME:
                ctl->runtime = true;
                break;
        case ARG_NOW:
                ctl->now = true;
                break;
        case ARG_UID:
                ctl->uid = arg;
                break;
        case ARG_FORMAT:
                if (!streq(arg, "uncompressed") && !streq(arg, "gzip") && !streq(arg, "xz") && !streq(arg, "zstd")) {
                        log_error("Invalid --format=%s (uncompressed, gzip, xz or zstd).", arg);
                        return -CTL_EXIT_USAGE;
                }
                ctl->format = arg;
                break;
        case 'E':
                if (!strchr(arg, '=') || arg[0] == '=') {
                        log_error("Invalid --setenv=%s (NAME=VALUE).", arg);
                        return -CTL_EXIT_USAGE;
                }
                if (strv_extend(&ctl->setenv, arg) < 0)
                        return log_oom(), -CTL_EXIT_FAILURE;
                break;
        case '?':
                return -CTL_EXIT_USAGE;
        default:
                return -CTL_EXIT_FAILURE;
        }
        return 0;
}

/* exec NAME CMD... and shell NAME PATH ARGS...: after the machine's name, everything is the
 * command's, options included (`berthctl exec web ls -l` runs "ls -l"). */
static bool rest_is_command(char **args) {
        size_t n = strv_length(args);
        return n == 2 && (streq(args[0], "exec") || streq(args[0], "shell"));
}

/* Options may come before and after the verb; collects the rest in *RET. */
static int parse_argv(Ctl *ctl, int argc, char *argv[], char ***ret) {
        _cleanup_strv_free_ char **args = NULL;
        int c, r;

        optind = 0;
        while (optind < argc || optind == 0) {
                int before = optind == 0 ? 1 : optind;

                c = getopt_long(argc, argv, "+hH:qlo:ap:n:s:E:", options, NULL);
                if (c >= 0) {
                        r = parse_option(ctl, c, optarg);
                        if (r != 0)
                                return r;
                        continue;
                }
                if (optind > before || optind >= argc) {
                        /* "--" or the end: all that is left is arguments. */
                        for (int i = optind; i < argc; i++)
                                if (strv_extend(&args, argv[i]) < 0)
                                        return log_oom(), -CTL_EXIT_FAILURE;
                        break;
                }
                if (strv_extend(&args, argv[optind++]) < 0)
                        return log_oom(), -CTL_EXIT_FAILURE;
                if (rest_is_command(args)) {
                        if (optind < argc && streq(argv[optind], "--"))
                                optind++;
                        for (int i = optind; i < argc; i++)
                                if (strv_extend(&args, argv[i]) < 0)
                                        return log_oom(), -CTL_EXIT_FAILURE;
                        break;
                }
        }
        *ret = TAKE_PTR(args);
        return 0;
}

static int dispatch(Ctl *ctl, char **args) {
        const char *name = args && args[0] ? args[0] : verbs[0].name;
        unsigned n = args && args[0] ? strv_length(args) : 1;
        char *def[] = { (char *) verbs[0].name, NULL };

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                const Verb *v = verbs + i;

                if (!streq(v->name, name))
                        continue;
                if (n < v->min_args) {
                        log_error("Too few arguments for '%s' (usage: berthctl %s %s).", name,
                                  v->name, v->synopsis);
                        return CTL_EXIT_USAGE;
                }
                if (v->max_args != VERB_ANY && n > v->max_args) {
                        log_error("Too many arguments for '%s' (usage: berthctl %s %s).", name,
                                  v->name, v->synopsis);
                        return CTL_EXIT_USAGE;
                }
                return v->func((int) n, args && args[0] ? args : def, ctl);
        }
        log_error("Unknown command '%s'; see berthctl --help.", name);
        return CTL_EXIT_USAGE;
}

int main(int argc, char *argv[]) {
        _cleanup_strv_free_ char **args = NULL;
        Ctl ctl;
        int r;

        log_parse_environment();
        ctl_init(&ctl);

        r = parse_argv(&ctl, argc, argv, &args);
        if (r == 0)
                r = dispatch(&ctl, args);
        else
                r = r > 0 ? CTL_EXIT_SUCCESS : -r;

        ctl_done(&ctl);
        return r < 0 ? CTL_EXIT_FAILURE : r;
}
