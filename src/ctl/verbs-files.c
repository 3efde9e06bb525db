/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthctl's verbs that move files between the host and a machine: bind, copy-to, copy-from. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"
#include "name-util.h"

#define COPY_REPLACE 1ULL /* CopyTo/FromMachineWithFlags: overwrite an existing target */

/* Copies and bind mounts answer when they are done, however big the tree. */
#define FILES_TIMEOUT_USEC UINT64_MAX

static int check_name(const char *name) {
        _cleanup_free_ char *e = NULL;

        if (machine_name_is_valid(name))
                return 0;
        e = ctl_escape(name);
        log_error("Invalid machine name '%s'.", strempty(e));
        return CTL_EXIT_USAGE;
}

/* A path inside the machine: absolute, with "//", "/./" and a trailing "/" folded away. ".."
 * stays, and berthd refuses it: only the machine could say where it leads. */
static int machine_path(const char *p, char **ret) {
        _cleanup_free_ char *s = NULL;
        size_t n = 0;

        if (p[0] != '/') {
                log_error("Paths inside the machine must be absolute: '%s'.", p);
                return CTL_EXIT_USAGE;
        }
        s = malloc(strlen(p) + 1);
        if (!s)
                return log_oom(), CTL_EXIT_FAILURE;
        for (const char *i = p; *i; ) {
                size_t l;

                while (*i == '/')
                        i++;
                l = strcspn(i, "/");
                if (l == 0 || (l == 1 && i[0] == '.')) {
                        i += l;
                        continue;
                }
                s[n++] = '/';
                memcpy(s + n, i, l);
                n += l;
                i += l;
        }
        if (n == 0)
                s[n++] = '/';
        s[n] = 0;
        *ret = TAKE_PTR(s);
        return 0;
}

/* A path on the host, as berthd (which does not share our working directory) needs it:
 * absolute and without "." or "..". The directory part must exist and is resolved; the last
 * component is kept as written (the target of a copy need not exist yet). */
static int host_path(const char *p, bool must_exist, char **ret) {
        _cleanup_free_ char *copy = strdup(p), *dir = NULL, *res = NULL;
        const char *base;
        char *slash;

        if (!copy)
                return log_oom(), CTL_EXIT_FAILURE;
        if (must_exist) {
                res = realpath(p, NULL);
                if (!res)
                        return log_error_errno(negative_errno(), "Cannot use %s: %m", p), CTL_EXIT_FAILURE;
                *ret = TAKE_PTR(res);
                return 0;
        }
        /* Trailing slashes say nothing about the name. */
        for (size_t l = strlen(copy); l > 1 && copy[l - 1] == '/'; l--)
                copy[l - 1] = 0;
        slash = strrchr(copy, '/');
        if (slash) {
                *slash = 0;
                base = slash + 1;
                dir = realpath(slash == copy ? "/" : copy, NULL);
        } else {
                base = copy;
                dir = realpath(".", NULL);
        }
        if (!dir)
                return log_error_errno(negative_errno(), "Cannot use %s: %m", p), CTL_EXIT_FAILURE;
        if (isempty(base) || streq(base, ".") || streq(base, "..")) {
                /* "/" or a directory given as "." or "..": resolve it whole. */
                res = realpath(p, NULL);
                if (!res)
                        return log_error_errno(negative_errno(), "Cannot use %s: %m", p), CTL_EXIT_FAILURE;
        } else if (asprintf(&res, "%s%s%s", dir, streq(dir, "/") ? "" : "/", base) < 0)
                return log_oom(), CTL_EXIT_FAILURE;
        *ret = TAKE_PTR(res);
        return 0;
}

int verb_bind(int argc, char **argv, Ctl *ctl) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *src = NULL, *dest = NULL;
        int r;

        if (argc < 3 || argc > 4) {
                log_error("bind needs a machine name, a host path and optionally a path inside.");
                return CTL_EXIT_USAGE;
        }
        r = check_name(argv[1]);
        if (r == 0)
                r = host_path(argv[2], true, &src);
        if (r == 0)
                r = machine_path(argc > 3 ? argv[3] : src, &dest);
        if (r != 0)
                return r;
        r = ctl_call(ctl, "BindMountMachine", &error, NULL, "sssbb", argv[1], src, dest,
                     ctl->read_only, ctl->mkdir);
        if (r < 0)
                return ctl_log_bus_error(&error, r, "bind-mount %s onto %s in %s", src, dest, argv[1]);
        return 0;
}

static int copy(int argc, char **argv, Ctl *ctl, bool to_machine) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *host = NULL, *inside = NULL;
        const char *method = to_machine ? "CopyToMachineWithFlags" : "CopyFromMachineWithFlags";
        int r;

        if (argc < 3 || argc > 4) {
                log_error("%s needs a machine name, a source and optionally a destination.", argv[0]);
                return CTL_EXIT_USAGE;
        }
        r = check_name(argv[1]);
        if (r != 0)
                return r;
        /* Without a destination, the same path on the other side (as machinectl). */
        if (to_machine) {
                r = host_path(argv[2], true, &host);
                if (r == 0)
                        r = machine_path(argc > 3 ? argv[3] : host, &inside);
        } else {
                r = machine_path(argv[2], &inside);
                if (r == 0)
                        r = host_path(argc > 3 ? argv[3] : argv[2], false, &host);
        }
        if (r != 0)
                return r;

        r = ctl_new_manager_call(ctl, method, &m);
        if (r < 0)
                return CTL_EXIT_FAILURE;
        r = sd_bus_message_append(m, "ssst", argv[1], to_machine ? host : inside, to_machine ? inside : host,
                                  ctl->force ? COPY_REPLACE : 0);
        if (r < 0)
                return log_error_errno(r, "Failed to build %s: %m", method), CTL_EXIT_FAILURE;
        r = ctl_call_message(ctl, m, FILES_TIMEOUT_USEC, &error, NULL);
        if (r < 0) {
                if (sd_bus_error_has_name(&error, SD_BUS_ERROR_FILE_EXISTS))
                        return ctl_log_bus_error(&error, r, "copy %s to %s (use --force to replace it)",
                                                 to_machine ? host : inside, to_machine ? inside : host);
                return ctl_log_bus_error(&error, r, "copy %s to %s", to_machine ? host : inside,
                                         to_machine ? inside : host);
        }
        return 0;
}

int verb_copy_to(int argc, char **argv, Ctl *ctl) {
        return copy(argc, argv, ctl, true);
}

int verb_copy_from(int argc, char **argv, Ctl *ctl) {
        return copy(argc, argv, ctl, false);
}
