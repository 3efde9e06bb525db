/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthctl's image verbs: list-images, image-status, show-image, clone, rename, read-only, remove, set-limit. */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "ctl-progress.h"
#include "log.h"
#include "name-util.h"
#include "parse-util.h"
#include "strv.h"

/* A clone copies a whole tree where the file system cannot share extents: minutes, not seconds. */
#define CLONE_TIMEOUT_USEC (3600ULL * 1000000ULL)
#define REMOVE_TIMEOUT_USEC (600ULL * 1000000ULL)

static int parse_bool(const char *s) {
        static const char *const yes[] = { "1", "yes", "true", "on" }, *const no[] = { "0", "no", "false", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (streq(s, yes[i]))
                        return 1;
                if (streq(s, no[i]))
                        return 0;
        }
        return -EINVAL;
}

static int check_name(const char *name) {
        _cleanup_free_ char *e = NULL;

        if (image_name_is_valid(name))
                return 0;
        e = ctl_escape(name);
        log_error("Invalid image name '%s'.", strempty(e));
        return CTL_EXIT_USAGE;
}

static void format_time(char *buf, size_t size, uint64_t usec) {
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;

        if (usec == 0 || !localtime_r(&t, &tm) || strftime(buf, size, "%a %Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                buf[0] = '\0';
}

static void format_bytes(char *buf, size_t size, uint64_t n) {
        static const char units[] = "BKMGTPE";
        size_t u = 0;
        double v = (double) n;

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

/* --- list-images --- */

enum { COL_NAME, COL_TYPE, COL_RO, COL_USAGE, COL_CREATED, COL_MODIFIED };

static int add_row(Ctl *ctl, struct libscols_table *t, const char *name, const char *type, int ro,
                   uint64_t crtime, uint64_t mtime, uint64_t usage) {
        struct libscols_line *line = scols_table_new_line(t, NULL);
        char u[32], c[64], m[64];

        if (!line)
                return -ENOMEM;
        if (ctl->output == OUTPUT_TABLE) {
                format_bytes(u, sizeof(u), usage);
                format_time(c, sizeof(c), crtime);
                format_time(m, sizeof(m), mtime);
        } else {
                /* JSON: numbers as numbers, unknown as null. */
                (void) snprintf(u, sizeof(u), "%" PRIu64, usage);
                (void) snprintf(c, sizeof(c), "%" PRIu64, crtime);
                (void) snprintf(m, sizeof(m), "%" PRIu64, mtime);
                if (usage == UINT64_MAX)
                        u[0] = '\0';
        }
        if (ctl_table_set(ctl, line, COL_NAME, name) < 0 ||
            ctl_table_set(ctl, line, COL_TYPE, type) < 0 ||
            ctl_table_set(ctl, line, COL_RO, ro ? (ctl->output == OUTPUT_TABLE ? "yes" : "true") :
                          (ctl->output == OUTPUT_TABLE ? "no" : "false")) < 0 ||
            ctl_table_set(ctl, line, COL_USAGE, isempty(u) ? NULL : u) < 0 ||
            ctl_table_set(ctl, line, COL_CREATED, isempty(c) ? NULL : c) < 0 ||
            ctl_table_set(ctl, line, COL_MODIFIED, isempty(m) ? NULL : m) < 0)
                return -ENOMEM;
        return 0;
}

int verb_list_images(int argc, char **argv, Ctl *ctl) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_table_ struct libscols_table *t = NULL;
        const char *name, *type, *path;
        uint64_t crtime, mtime, usage;
        int ro, r;

        r = ctl_call(ctl, "ListImages", &error, &reply, NULL);
        if (r < 0)
                return ctl_log_bus_error(&error, r, "list images");
        t = ctl_table_new(ctl, "images");
        if (!t)
                return log_oom();
        if (ctl_table_add_column(t, "NAME", SCOLS_JSON_STRING, 0) < 0 ||
            ctl_table_add_column(t, "TYPE", SCOLS_JSON_STRING, 0) < 0 ||
            ctl_table_add_column(t, "RO", SCOLS_JSON_BOOLEAN, 0) < 0 ||
            ctl_table_add_column(t, "USAGE", SCOLS_JSON_NUMBER, SCOLS_FL_RIGHT) < 0 ||
            ctl_table_add_column(t, "CREATED", SCOLS_JSON_NUMBER, 0) < 0 ||
            ctl_table_add_column(t, "MODIFIED", SCOLS_JSON_NUMBER, 0) < 0)
                return log_oom();

        r = sd_bus_message_enter_container(reply, 'a', "(ssbttto)");
        if (r < 0)
                return ctl_log_bus_error(NULL, r, "read ListImages' answer");
        while ((r = sd_bus_message_read(reply, "(ssbttto)", &name, &type, &ro, &crtime, &mtime, &usage,
                                        &path)) > 0) {
                if (name[0] == '.' && !ctl->all)
                        continue;
                r = add_row(ctl, t, name, type, ro, crtime, mtime, usage);
                if (r < 0)
                        return log_oom();
        }
        if (r < 0)
                return ctl_log_bus_error(NULL, r, "read ListImages' answer");
        return ctl_table_print(ctl, t, "images");
}

/* --- image-status, show-image --- */

/* The object path of image NAME (GetImage); 0, or the exit code (logged). */
static int image_path(Ctl *ctl, const char *name, char **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *p;
        int r;

        r = check_name(name);
        if (r != 0)
                return r;
        r = ctl_call(ctl, "GetImage", &error, &reply, "s", name);
        if (r < 0)
                return ctl_log_bus_error(&error, r, "get image %s", name);
        r = sd_bus_message_read(reply, "o", &p);
        if (r < 0)
                return ctl_log_bus_error(NULL, r, "read GetImage's answer");
        *ret = strdup(p);
        return *ret ? 0 : log_oom();
}

/* One "\tLABEL: VALUE" line of image-status, the value escaped; nothing for an empty value. */
static void status_line(const char *label, const char *value) {
        if (isempty(value))
                return;
        printf("\t%10s: ", label);
        ctl_fputs_escaped(value, stdout);
        fputc('\n', stdout);
}

/* What the image says about itself: PRETTY_NAME, host name, machine ID. A failure (a broken or
 * hostile image) only leaves the lines out. */
static void print_identity(Ctl *ctl, const char *name) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *k, *v, *pretty = NULL, *os_name = NULL;
        const void *id = NULL;
        size_t n = 0;

        if (ctl_call(ctl, "GetImageOSRelease", NULL, &reply, "s", name) >= 0 &&
            sd_bus_message_enter_container(reply, 'a', "{ss}") >= 0) {
                while (sd_bus_message_read(reply, "{ss}", &k, &v) > 0) {
                        if (streq(k, "PRETTY_NAME"))
                                pretty = v;
                        else if (streq(k, "NAME"))
                                os_name = v;
                }
                status_line("OS", pretty ?: os_name);
        }
        reply = sd_bus_message_unref(reply);
        if (ctl_call(ctl, "GetImageHostname", NULL, &reply, "s", name) >= 0 &&
            sd_bus_message_read(reply, "s", &v) > 0)
                status_line("Hostname", v);
        reply = sd_bus_message_unref(reply);
        if (ctl_call(ctl, "GetImageMachineID", NULL, &reply, "s", name) >= 0 &&
            sd_bus_message_read_array(reply, 'y', &id, &n) >= 0 && n == 16) {
                char hex[33];

                for (size_t i = 0; i < 16; i++)
                        snprintf(hex + 2 * i, 3, "%02x", ((const uint8_t *) id)[i]);
                status_line("Machine ID", hex);
        }
}

static void print_status(Ctl *ctl, struct json_object *p) {
        char c[64], m[64], u[32], l[32];
        struct json_object *ro = NULL;

        format_time(c, sizeof(c), ctl_juint(p, "CreationTimestamp"));
        format_time(m, sizeof(m), ctl_juint(p, "ModificationTimestamp"));
        format_bytes(u, sizeof(u), ctl_juint(p, "Usage"));
        format_bytes(l, sizeof(l), ctl_juint(p, "Limit"));
        (void) json_object_object_get_ex(p, "ReadOnly", &ro);
        ctl_fputs_escaped(strempty(ctl_jstr(p, "Name")), stdout);
        fputs("\n\t      Path: ", stdout);
        ctl_fputs_escaped(strempty(ctl_jstr(p, "Path")), stdout);
        printf("\n\t      Type: %s\n\t  ReadOnly: %s\n", strempty(ctl_jstr(p, "Type")),
               ro && json_object_get_boolean(ro) ? "read-only" : "writable");
        print_identity(ctl, strempty(ctl_jstr(p, "Name")));
        printf("\t   Created: %s\n\t  Modified: %s\n\t     Usage: %s\n", isempty(c) ? "-" : c,
               isempty(m) ? "-" : m, isempty(u) ? "-" : u);
        status_line("Limit", l);
}

/* For each NAME: its properties, printed by STATUS (image-status) or as KEY=VALUE (show). */
static int show_images(char **names, Ctl *ctl, bool status) {
        _cleanup_json_ struct json_object *array = json_object_new_array();
        int ret = 0, r;

        if (!array)
                return log_oom();
        ctl_pager_open(ctl);
        STRV_FOREACH(n, names) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_json_ struct json_object *props = NULL;
                _cleanup_free_ char *path = NULL;

                r = image_path(ctl, *n, &path);
                if (r != 0) {
                        ret = ret ?: r;
                        continue;
                }
                r = ctl_get_all(ctl, path, BERTH_IMAGE_IFACE, &error, &props);
                if (r < 0) {
                        ret = ret ?: ctl_log_bus_error(&error, r, "get the properties of image %s", *n);
                        continue;
                }
                if (ctl->output != OUTPUT_TABLE) {
                        json_object_array_add(array, TAKE_PTR(props));
                        continue;
                }
                if (n != names && !ctl->value)
                        fputc('\n', stdout);
                if (status) {
                        print_status(ctl, props);
                        continue;
                }
                json_object_object_foreach(props, key, v) {
                        if (ctl->properties && !strv_contains(ctl->properties, key))
                                continue;
                        if (!ctl->value)
                                printf("%s=", key);
                        if (json_object_is_type(v, json_type_string))
                                ctl_fputs_escaped(json_object_get_string(v), stdout);
                        else if (json_object_is_type(v, json_type_boolean))
                                fputs(json_object_get_boolean(v) ? "yes" : "no", stdout);
                        else
                                fputs(json_object_to_json_string(v), stdout);
                        fputc('\n', stdout);
                }
        }
        if (ctl->output != OUTPUT_TABLE && (r = ctl_json_print(ctl, array)) < 0)
                return r;
        return ret;
}

int verb_image_status(int argc, char **argv, Ctl *ctl) {
        return show_images(argv + 1, ctl, true);
}

/* Without a name: every image of the pool (hidden ones with --all). */
int verb_show_image(int argc, char **argv, Ctl *ctl) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **names = NULL;
        const char *name;
        int r;

        if (argc > 1)
                return show_images(argv + 1, ctl, false);
        r = ctl_call(ctl, "ListImages", &error, &reply, NULL);
        if (r < 0)
                return ctl_log_bus_error(&error, r, "list images");
        r = sd_bus_message_enter_container(reply, 'a', "(ssbttto)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(ssbttto)", &name, NULL, NULL, NULL, NULL, NULL,
                                                  NULL)) > 0)
                if ((name[0] != '.' || ctl->all) && strv_extend(&names, name) < 0)
                        return log_oom();
        if (r < 0)
                return ctl_log_bus_error(NULL, r, "read ListImages' answer");
        return show_images(names, ctl, false);
}

/* --- actions --- */

static int call_image(Ctl *ctl, const char *method, uint64_t timeout, const char *what,
                      const char *name, const char *types, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        r = ctl_new_manager_call(ctl, method, &m);
        if (r < 0)
                return CTL_EXIT_FAILURE;
        va_start(ap, types);
        r = sd_bus_message_appendv(m, types, ap);
        va_end(ap);
        if (r < 0)
                return log_error_errno(r, "Failed to build %s: %m", method), CTL_EXIT_FAILURE;
        r = ctl_call_message(ctl, m, timeout, &error, NULL);
        if (r < 0)
                return ctl_log_bus_error(&error, r, "%s image %s", what, name);
        return CTL_EXIT_SUCCESS;
}

/* What berthctl clone learns while CloneImage runs. */
typedef struct CloneWait {
        sd_bus_message *reply; /* CloneImage's answer, once it came */
        uint32_t transfer_id;  /* the copy's transfer, once seen (a snapshot has none) */
        double progress;
} CloneWait;

static int on_clone_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        CloneWait *w = userdata;

        w->reply = sd_bus_message_ref(m);
        return 0;
}

/* Our clone's transfer (type "clone", Local NEW_NAME) in ListTransfers, and its progress. */
static void clone_poll(Ctl *ctl, const char *new_name, CloneWait *w) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *type, *remote, *local, *path;
        uint32_t id;
        double p;

        if (ctl_call(ctl, "ListTransfers", &error, &reply, NULL) < 0 ||
            sd_bus_message_enter_container(reply, 'a', "(usssdo)") < 0)
                return;
        while (sd_bus_message_read(reply, "(usssdo)", &id, &type, &remote, &local, &p, &path) > 0)
                if (streq(type, "clone") && streq(local, new_name) && (w->transfer_id == 0 || w->transfer_id == id)) {
                        w->transfer_id = id;
                        w->progress = p;
                }
}

/* CloneImage answers only when done: meanwhile, on a terminal, its transfer's progress. */
int verb_clone(int argc, char **argv, Ctl *ctl) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        bool tty = isatty(STDERR_FILENO) && !ctl->quiet, drawn = false;
        uint64_t start = ctl_progress_now_usec(), last = 0;
        CloneWait w = {};
        sd_bus *bus;
        int r = check_name(argv[1]) ?: check_name(argv[2]);

        if (r != 0)
                return r;
        if (ctl_bus(ctl, &bus) < 0 || ctl_new_manager_call(ctl, "CloneImage", &m) < 0)
                return CTL_EXIT_FAILURE;
        r = sd_bus_message_append(m, "ssb", argv[1], argv[2], (int) ctl->read_only);
        if (r < 0)
                return log_error_errno(r, "Failed to build CloneImage: %m"), CTL_EXIT_FAILURE;
        if (sd_bus_message_get_allow_interactive_authorization(m) > 0)
                ctl_polkit_agent_open(ctl);
        r = sd_bus_call_async(bus, &slot, m, on_clone_reply, &w, CLONE_TIMEOUT_USEC);
        if (r < 0)
                return ctl_log_bus_error(NULL, r, "clone image %s", argv[1]);
        while (!w.reply) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        break;
                if (r > 0)
                        continue;
                if (tty && ctl_progress_now_usec() - last >= 200000) {
                        clone_poll(ctl, argv[2], &w);
                        if (w.transfer_id > 0 && !w.reply) {
                                ctl_progress_draw(w.progress, 0, start);
                                drawn = true;
                        }
                        last = ctl_progress_now_usec();
                        continue; /* the poll may have read the answer already */
                }
                r = sd_bus_wait(bus, tty ? 200000 : UINT64_MAX);
                if (r < 0 && r != -EINTR)
                        break;
        }
        if (!w.reply) {
                if (drawn)
                        fputs("\n", stderr);
                return ctl_log_bus_error(NULL, r, "clone image %s", argv[1]);
        }
        if (drawn) {
                if (!sd_bus_message_is_method_error(w.reply, NULL))
                        ctl_progress_draw(1.0, 0, start);
                fputs("\n", stderr);
        }
        if (sd_bus_message_is_method_error(w.reply, NULL))
                r = ctl_log_bus_error(sd_bus_message_get_error(w.reply), -sd_bus_message_get_errno(w.reply),
                                      "clone image %s", argv[1]);
        else
                r = CTL_EXIT_SUCCESS;
        sd_bus_message_unref(w.reply);
        return r;
}

int verb_rename(int argc, char **argv, Ctl *ctl) {
        int r = check_name(argv[1]) ?: check_name(argv[2]);

        if (r != 0)
                return r;
        return call_image(ctl, "RenameImage", 0, "rename", argv[1], "ss", argv[1], argv[2]);
}

int verb_read_only(int argc, char **argv, Ctl *ctl) {
        bool b = true;
        int r;

        r = check_name(argv[1]);
        if (r != 0)
                return r;
        if (argc > 2) {
                int k = parse_bool(argv[2]);

                if (k < 0) {
                        log_error("Invalid boolean '%s'.", argv[2]);
                        return CTL_EXIT_USAGE;
                }
                b = k;
        }
        return call_image(ctl, "MarkImageReadOnly", 0, "mark", argv[1], "sb", argv[1], (int) b);
}

int verb_remove(int argc, char **argv, Ctl *ctl) {
        int ret = CTL_EXIT_SUCCESS;

        for (int i = 1; i < argc; i++) {
                int r = check_name(argv[i]);

                if (r == 0)
                        r = call_image(ctl, "RemoveImage", REMOVE_TIMEOUT_USEC, "remove", argv[i], "s", argv[i]);
                if (ret == CTL_EXIT_SUCCESS)
                        ret = r;
        }
        return ret;
}

int verb_clean(int argc, char **argv, Ctl *ctl) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *name;
        unsigned n = 0;
        uint64_t usage;
        int r;

        /* As machinectl: hidden images only, every unused writable one with --all. */
        r = ctl_call(ctl, "CleanPool", &error, &reply, "s", ctl->all ? "all" : "hidden");
        if (r < 0)
                return ctl_log_bus_error(&error, r, "clean the image pool");
        r = sd_bus_message_enter_container(reply, 'a', "(st)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(st)", &name, &usage)) > 0) {
                n++;
                if (ctl->quiet)
                        continue;
                fputs("Removed image ", stdout);
                ctl_fputs_escaped(name, stdout);
                fputs(".\n", stdout);
        }
        if (r < 0)
                return ctl_log_bus_error(NULL, r, "read CleanPool's answer");
        if (n == 0 && !ctl->quiet)
                puts("No images to remove.");
        return CTL_EXIT_SUCCESS;
}

/* set-limit NAME BYTES: a btrfs quota on a subvolume image ("-", "none" or "infinity": no limit).
 * Without NAME machinectl limits the whole pool; berthd has no pool limit, so that is refused. */
int verb_set_limit(int argc, char **argv, Ctl *ctl) {
        const char *name = argc > 2 ? argv[1] : NULL, *size = argv[argc - 1];
        uint64_t limit;
        int r;

        if (!name) {
                log_error("A limit for the whole pool is not supported; name an image: set-limit NAME BYTES.");
                return CTL_EXIT_USAGE;
        }
        r = check_name(name);
        if (r != 0)
                return r;
        if (streq(size, "-") || streq(size, "none") || streq(size, "infinity"))
                limit = UINT64_MAX;
        else if (parse_size(size, &limit) < 0) {
                log_error("Invalid size '%s'.", size);
                return CTL_EXIT_USAGE;
        }
        return call_image(ctl, "SetImageLimit", 0, "limit", name, "st", name, limit);
}
