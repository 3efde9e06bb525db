/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Settings: defaults, string tables and the small parsers shared by argv and settings files. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse-util.h"
#include "settings.h"
#include "strv.h"

#define DEFINE_STRING_TABLE(name, type, max)                              \
        const char *name##_to_string(type v) {                            \
                if ((int) v < 0 || (int) v >= (max))                      \
                        return NULL;                                      \
                return name##_table[v];                                   \
        }                                                                 \
        type name##_from_string(const char *s) {                          \
                if (!s)                                                   \
                        return (type) -EINVAL;                            \
                for (int i = 0; i < (max); i++)                           \
                        if (name##_table[i] && streq(name##_table[i], s)) \
                                return (type) i;                          \
                return (type) -EINVAL;                                    \
        }

static const char *const console_mode_table[_CONSOLE_MODE_MAX] = {
        [CONSOLE_INTERACTIVE] = "interactive",
        [CONSOLE_READ_ONLY] = "read-only",
        [CONSOLE_PASSIVE] = "passive",
        [CONSOLE_PIPE] = "pipe",
};
DEFINE_STRING_TABLE(console_mode, ConsoleMode, _CONSOLE_MODE_MAX)

static const char *const userns_mode_table[_USERNS_MODE_MAX] = {
        [USERNS_NO] = "no",
        [USERNS_FIXED] = "fixed",
        [USERNS_PICK] = "pick",
        [USERNS_IDENTITY] = "identity",
};
DEFINE_STRING_TABLE(userns_mode, UserNamespaceMode, _USERNS_MODE_MAX)

static const char *const ownership_table[_OWNERSHIP_MAX] = {
        [OWNERSHIP_AUTO] = "auto",
        [OWNERSHIP_MAP] = "map",
        [OWNERSHIP_CHOWN] = "chown",
        [OWNERSHIP_OFF] = "off",
};
DEFINE_STRING_TABLE(ownership, UserNamespaceOwnership, _OWNERSHIP_MAX)

static const char *const volatile_mode_table[_VOLATILE_MAX] = {
        [VOLATILE_NO] = "no",
        [VOLATILE_YES] = "yes",
        [VOLATILE_STATE] = "state",
        [VOLATILE_OVERLAY] = "overlay",
};
DEFINE_STRING_TABLE(volatile_mode, VolatileMode, _VOLATILE_MAX)

static const char *const custom_mount_type_table[_CUSTOM_MOUNT_MAX] = {
        [CUSTOM_MOUNT_BIND] = "bind",
        [CUSTOM_MOUNT_BIND_RO] = "bind-ro",
        [CUSTOM_MOUNT_TMPFS] = "tmpfs",
        [CUSTOM_MOUNT_OVERLAY] = "overlay",
        [CUSTOM_MOUNT_OVERLAY_RO] = "overlay-ro",
};
DEFINE_STRING_TABLE(custom_mount_type, CustomMountType, _CUSTOM_MOUNT_MAX)

void settings_init(Settings *s) {
        *s = (Settings) {
                .uid_range = 0x10000,
                .console_mode = CONSOLE_INTERACTIVE,
                .register_machine = true,
        };
}

static void custom_mount_done(CustomMount *m) {
        free(m->source);
        free(m->destination);
        free(m->options);
        strv_free(m->lower);
        free(m->upper);
}

void settings_done(Settings *s) {
        free(s->directory);
        free(s->image);
        free(s->machine);
        free(s->template_base);
        free(s->hostname);
        strv_free(s->parameters);
        free(s->user);
        free(s->chdir);
        strv_free(s->environment);
        for (size_t i = 0; i < s->n_mounts; i++)
                custom_mount_done(&s->mounts[i]);
        free(s->mounts);
        strv_free(s->syscall_allow);
        strv_free(s->syscall_deny);
        free(s->slice);
        strv_free(s->properties);
        strv_free(s->resources);
        strv_free(s->resource_args);
        strv_free(s->devices);
        free(s->ports);
        free(s->network_veth_name);
        free(s->network_bridge);
        free(s->network_zone);
        strv_free(s->network_interfaces);
        strv_free(s->network_macvlan);
        strv_free(s->network_ipvlan);
        strv_free(s->network_veth_extra);
        free(s->network_namespace_path);
        *s = (Settings) {};
}

static int strdup_or_null(const char *s, char **ret) {
        *ret = NULL;
        if (!s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int settings_add_mount(Settings *s, const CustomMount *m) {
        CustomMount c = { .type = m->type }, *n;

        if (strdup_or_null(m->source, &c.source) < 0 ||
            strdup_or_null(m->destination, &c.destination) < 0 ||
            strdup_or_null(m->options, &c.options) < 0 ||
            strdup_or_null(m->upper, &c.upper) < 0 ||
            (m->lower && !(c.lower = strv_copy(m->lower)))) {
                custom_mount_done(&c);
                return -ENOMEM;
        }
        n = realloc(s->mounts, sizeof(CustomMount) * (s->n_mounts + 1));
        if (!n) {
                custom_mount_done(&c);
                return -ENOMEM;
        }
        s->mounts = n;
        s->mounts[s->n_mounts++] = c;
        return 0;
}

/* Splits SPEC at unescaped ':' and unescapes "\:" and "\\" inside the parts. */
static int split_colons(const char *spec, char ***ret) {
        _cleanup_strv_free_ char **parts = NULL;
        _cleanup_free_ char *cur = malloc(strlen(spec) + 1);
        size_t n = 0;
        int r;

        if (!cur)
                return -ENOMEM;
        for (const char *p = spec;; p++) {
                if (*p == '\\' && (p[1] == ':' || p[1] == '\\')) {
                        cur[n++] = *++p;
                        continue;
                }
                if (*p == ':' || *p == 0) {
                        cur[n] = 0;
                        r = strv_extend(&parts, cur);
                        if (r < 0)
                                return r;
                        n = 0;
                        if (*p == 0)
                                break;
                        continue;
                }
                cur[n++] = *p;
        }
        *ret = TAKE_PTR(parts);
        return 0;
}

/* A container path must be absolute and must not climb with "..": the mount code resolves it
 * inside the root anyway, but a clear error beats a surprising mount point. */
static bool container_path_is_valid(const char *p) {
        if (!p || p[0] != '/')
                return false;
        for (const char *c = p; (c = strstr(c, "..")); c += 2)
                if ((c == p || c[-1] == '/') && (c[2] == '/' || c[2] == 0))
                        return false;
        return strlen(p) < PATH_MAX;
}

int settings_parse_mount(Settings *s, CustomMountType type, const char *spec) {
        _cleanup_strv_free_ char **parts = NULL;
        CustomMount m = { .type = type };
        size_t n;
        int r;

        if (isempty(spec))
                return -EINVAL;
        r = split_colons(spec, &parts);
        if (r < 0)
                return r;
        n = strv_length(parts);

        switch (type) {
        case CUSTOM_MOUNT_BIND:
        case CUSTOM_MOUNT_BIND_RO:
                if (n > 3)
                        return -EINVAL;
                m.source = parts[0];
                m.destination = n >= 2 && !isempty(parts[1]) ? parts[1] : parts[0];
                m.options = n == 3 ? parts[2] : NULL;
                if (m.source[0] != '/')
                        return -EINVAL;
                if (m.options && !streq(m.options, "rbind") && !streq(m.options, "norbind") &&
                    !streq(m.options, "idmap"))
                        return -EINVAL;
                break;
        case CUSTOM_MOUNT_TMPFS:
                /* "DST[:OPTIONS]"; options may themselves hold no ':'. */
                if (n > 2)
                        return -EINVAL;
                m.destination = parts[0];
                m.options = n == 2 ? parts[1] : NULL;
                break;
        case CUSTOM_MOUNT_OVERLAY:
        case CUSTOM_MOUNT_OVERLAY_RO: {
                /* "LOWER:[...:]UPPER:DST" (writable), "LOWER:[...:]DST" (read-only): at least
                 * one layer and a destination. */
                _cleanup_strv_free_ char **lower = NULL;
                size_t n_lower;

                if (n == 1)
                        return -EINVAL;
                m.destination = parts[n - 1];
                if (type == CUSTOM_MOUNT_OVERLAY) {
                        if (n < 3)
                                return -EINVAL;
                        m.upper = parts[n - 2];
                        n_lower = n - 2;
                } else
                        n_lower = n - 1;
                for (size_t i = 0; i < n_lower; i++) {
                        if (parts[i][0] != '/')
                                return -EINVAL;
                        if (strv_extend(&lower, parts[i]) < 0)
                                return -ENOMEM;
                }
                if (m.upper && m.upper[0] != '/')
                        return -EINVAL;
                m.lower = lower;
                r = container_path_is_valid(m.destination) ? settings_add_mount(s, &m) : -EINVAL;
                return r;
        }
        case _CUSTOM_MOUNT_MAX:
        case _CUSTOM_MOUNT_INVALID:
        default:
                return -EINVAL;
        }

        if (!container_path_is_valid(m.destination))
                return -EINVAL;
        return settings_add_mount(s, &m);
}

static int parse_uid(const char *s, uid_t *ret) {
        unsigned long long v;
        char *end;

        /* Digits only: strtoull() would also take blanks and signs. */
        if (isempty(s) || strspn(s, "0123456789") != strlen(s))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || *end || v >= UINT32_MAX)
                return -EINVAL;
        *ret = (uid_t) v;
        return 0;
}

int settings_parse_private_users(Settings *s, const char *value) {
        const char *colon;
        int b;

        /* Booleans first, as nspawn reads them: "1" is yes, not UID base 1. */
        b = parse_boolean(value);
        if (b == 0) {
                s->userns_mode = USERNS_NO;
                return 0;
        }
        if (b > 0 || streq(value, "pick")) {
                /* Like nspawn: "yes" without a base picks a range. */
                s->userns_mode = USERNS_PICK;
                s->uid_range = 0x10000;
                return 0;
        }
        if (streq(value, "identity")) {
                s->userns_mode = USERNS_IDENTITY;
                s->uid_shift = 0;
                s->uid_range = 0x10000;
                return 0;
        }

        colon = strchr(value, ':');
        if (colon) {
                _cleanup_free_ char *base = strndup(value, (size_t) (colon - value));
                uid_t shift, range;

                if (!base)
                        return -ENOMEM;
                if (parse_uid(base, &shift) < 0 || parse_uid(colon + 1, &range) < 0 || range == 0 ||
                    (uint64_t) shift + range > UINT32_MAX)
                        return -EINVAL;
                s->uid_shift = shift;
                s->uid_range = range;
        } else {
                uid_t shift;

                if (parse_uid(value, &shift) < 0 || (uint64_t) shift + 0x10000 > UINT32_MAX)
                        return -EINVAL;
                s->uid_shift = shift;
                s->uid_range = 0x10000;
        }
        s->userns_mode = USERNS_FIXED;
        return 0;
}
