/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Resource limits at start: [Resources], --property=, Device=/--device= and the saved set,
 * merged and applied to the container's cgroup and device policy. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cgroup-util.h"
#include "log.h"
#include "resolve.h"
#include "resources.h"
#include "strv.h"

/* The name part of "Name=VALUE", in BUF. */
static const char *assignment_name(const char *a, char *buf, size_t size) {
        size_t n = strcspn(a, "=");

        if (a[n] != '=' || n == 0 || n >= size)
                return NULL;
        memcpy(buf, a, n);
        buf[n] = 0;
        return buf;
}

bool resources_is_assignment(const char *assignment) {
        char name[64];

        if (!assignment_name(assignment, name, sizeof name))
                return false;
        return streq(name, "CPUQuota") || resource_property_from_string(name) >= 0;
}

int resources_check_assignment(const char *assignment) {
        _cleanup_(resource_limits_done) ResourceLimits l = {};
        int r = resource_limits_parse_assignment(&l, assignment);

        return r == -ENOENT ? -EINVAL : r;
}

int resources_parse_device(const char *spec, char **ret) {
        _cleanup_(resource_limits_done) ResourceLimits l = {};
        _cleanup_free_ char *path = NULL;
        const char *colon = strrchr(spec, ':');
        char acc[4];
        int r;

        /* "PATH:rwm", or just PATH; device nodes have no ':' in their names. */
        if (colon) {
                if (!colon[1] || device_access_normalize(colon + 1, acc) < 0)
                        return -EINVAL;
                path = strndup(spec, (size_t) (colon - spec));
        } else {
                path = strdup(spec);
                memcpy(acc, "rwm", sizeof acc);
        }
        if (!path)
                return -ENOMEM;
        /* The checks of DeviceAllow=: an absolute path below /dev, no "..", no blanks. */
        r = resource_limits_add_device(&l, path, acc);
        if (r < 0)
                return r == -ENOMEM ? r : -EINVAL;
        return asprintf(ret, "%s:%s", path, acc) < 0 ? -ENOMEM : 0;
}

/* Drops every "NAME=…" from L. */
static void strv_drop_name(char **l, const char *name) {
        size_t n = strlen(name), j = 0;

        for (size_t i = 0; l && l[i]; i++) {
                if (strncmp(l[i], name, n) == 0 && l[i][n] == '=')
                        free(l[i]);
                else
                        l[j++] = l[i];
        }
        if (l)
                l[j] = NULL;
}

int resources_settings_add(Settings *t, const char *key, const char *value) {
        _cleanup_(resource_limits_done) ResourceLimits l = {};
        _cleanup_free_ char *a = NULL;
        ResourceProperty p;
        int r;

        if (isempty(value)) {
                /* As in systemd: empty sets the default again, i.e. what the file has not said. */
                strv_drop_name(t->resources, key);
                return 0;
        }
        if (asprintf(&a, "%s=%s", key, value) < 0)
                return -ENOMEM;
        r = resource_limits_parse_assignment(&l, a);
        if (r < 0)
                return r == -ENOENT ? -EINVAL : r;
        r = strv_consume(&t->resources, TAKE_PTR(a));
        if (r < 0)
                return r;
        p = streq(key, "CPUQuota") ? RESOURCE_CPU_QUOTA : resource_property_from_string(key);
        /* A higher weight takes from the other machines; every device reaches the host. */
        if (p == RESOURCE_CPU_WEIGHT || p == RESOURCE_IO_WEIGHT)
                return l.value[p] > 100;
        return p == RESOURCE_DEVICE_ALLOW;
}

int resources_settings_add_device(Settings *t, const char *value) {
        char *d = NULL;
        int r;

        if (isempty(value)) {
                t->devices = strv_free(t->devices);
                return 0;
        }
        r = resources_parse_device(value, &d);
        if (r < 0)
                return r;
        return strv_consume(&t->devices, d);
}

void resources_settings_merge(Settings *s, Settings *t) {
        char **swap;

        swap = s->resources;
        s->resources = t->resources;
        t->resources = swap;
        if (!s->devices_cmdline && t->devices) {
                swap = s->devices;
                s->devices = t->devices;
                t->devices = swap;
        }
}

static int parse_all(ResourceLimits *l, char *const *assignments) {
        STRV_FOREACH(a, assignments) {
                int r = resource_limits_parse_assignment(l, *a);

                if (r < 0)
                        return r == -ENOENT ? -EINVAL : r;
        }
        return 0;
}

/* Removes from DST every property SRC sets, so that merging SRC replaces lists whole. */
static void drop_given(ResourceLimits *dst, const ResourceLimits *src) {
        for (int p = 0; p < _RESOURCE_MAX; p++) {
                if (!resource_limits_has(src, p))
                        continue;
                if (resource_property_is_io_list(p) || p == RESOURCE_DEVICE_ALLOW)
                        resource_limits_reset_list(dst, p);
                dst->set &= ~(1u << p);
        }
}

int resources_from_settings(const Settings *s, ResourceLimits *ret) {
        _cleanup_(resource_limits_done) ResourceLimits file = {}, args = {}, saved = {};
        _cleanup_free_ char *dir = NULL;
        int r;

        r = parse_all(&file, s->resources);
        if (r < 0)
                return log_error_errno(r, "Invalid resource limit in the settings file: %m");
        r = parse_all(&args, s->resource_args);
        if (r < 0)
                return log_error_errno(r, "Invalid --property= resource limit: %m");
        drop_given(&file, &args);
        r = resource_limits_merge(&file, &args);
        if (r < 0)
                return log_error_errno(r, "Failed to merge the resource limits: %m");

        /* What `berthctl set-property` saved for this name is the newest word on it. */
        r = resources_state_dir(&dir);
        if (r >= 0 && s->machine)
                r = resources_load(dir, s->machine, &saved);
        if (r < 0)
                return log_error_errno(r, "Failed to read the saved resource limits of %s: %m", s->machine);
        drop_given(&file, &saved);
        r = resource_limits_merge(&file, &saved);
        if (r < 0)
                return log_error_errno(r, "Failed to merge the saved resource limits: %m");

        STRV_FOREACH(d, s->devices) {
                _cleanup_free_ char *path = strdup(*d);
                char *colon = path ? strrchr(path, ':') : NULL;

                if (!colon)
                        return log_oom();
                *colon = 0;
                r = resource_limits_add_device(&file, path, colon + 1);
                if (r < 0)
                        return log_error_errno(r, "Invalid device %s: %m", *d);
        }
        *ret = file;
        file = (ResourceLimits) {};
        return 0;
}

int resources_device_rules(const Settings *s, DeviceRule **ret, size_t *ret_n) {
        _cleanup_(resource_limits_done) ResourceLimits l = {};
        _cleanup_free_ DeviceRule *rules = NULL;
        size_t n = 0;
        int r;

        r = resources_from_settings(s, &l);
        if (r < 0)
                return r;
        if (l.n_devices > 0) {
                rules = calloc(l.n_devices, sizeof(DeviceRule));
                if (!rules)
                        return log_oom();
        }
        for (size_t k = 0; k < l.n_devices; k++) {
                const char *path = l.devices[k].path, *acc = l.devices[k].access;
                unsigned maj, min, bits = 0;
                char type;
                bool node = false;

                STRV_FOREACH(d, s->devices)
                        if (startswith(*d, path) && (*d)[strlen(path)] == ':')
                                node = true;
                /* A device that is not there cannot be allowed: a typo would otherwise silently
                 * leave it closed. */
                r = resources_device_of(NULL, path, false, &type, &maj, &min);
                if (r < 0)
                        return log_error_errno(r, "Cannot allow device %s: %s", path,
                                               r == -ENODEV ? "not a device node" : strerror(-r));
                bits |= strchr(acc, 'r') ? DEVICE_ACCESS_READ : 0;
                bits |= strchr(acc, 'w') ? DEVICE_ACCESS_WRITE : 0;
                bits |= strchr(acc, 'm') || node ? DEVICE_ACCESS_MKNOD : 0;
                rules[n++] = (DeviceRule) { .type = type, .major = (int) maj, .minor = (int) min, .access = bits };
        }
        *ret = TAKE_PTR(rules);
        *ret_n = n;
        return 0;
}

int resources_attach_device_policy(const Settings *s, int cgroup_fd) {
        _cleanup_free_ DeviceRule *rules = NULL;
        size_t n = 0;
        int r;

        r = resources_device_rules(s, &rules, &n);
        if (r < 0)
                return r;
        return device_policy_attach(cgroup_fd, rules, n);
}

int resources_make_nodes(const Settings *s, int dev_fd, uid_t uid_shift) {
        STRV_FOREACH(d, s->devices) {
                _cleanup_free_ char *path = strdup(*d), *dir = NULL;
                char *colon = path ? strrchr(path, ':') : NULL;
                const char *rel;
                struct stat st;
                int r;

                if (!colon)
                        return log_oom();
                *colon = 0;
                rel = path + strlen("/dev/");
                if (stat(path, &st) < 0)
                        return log_error_errno(negative_errno(), "Device %s: %m", path);
                if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
                        return log_error_errno(-ENODEV, "Device %s is not a device node.", path);
                /* /dev/net/tun, /dev/dri/card0: the directories first. */
                dir = strdup(rel);
                if (!dir)
                        return log_oom();
                if (strrchr(dir, '/')) {
                        *strrchr(dir, '/') = 0;
                        r = mkdir_p_in_root(dev_fd, dir, 0755);
                        if (r < 0)
                                return log_error_errno(r, "Failed to make /dev/%s: %m", dir);
                }
                /* Whatever the tree or berth made there before gives way to the device asked for. */
                (void) unlinkat(dev_fd, rel, 0);
                if (mknodat(dev_fd, rel, (st.st_mode & S_IFMT) | 0600, st.st_rdev) < 0)
                        return log_error_errno(negative_errno(), "Failed to make %s in the container: %m", path);
                /* The host's permission bits; the container's root owns it, as root owns it here. */
                if (fchmodat(dev_fd, rel, st.st_mode & 07777, 0) < 0 ||
                    (uid_shift && fchownat(dev_fd, rel, uid_shift, uid_shift, AT_SYMLINK_NOFOLLOW) < 0))
                        return log_error_errno(negative_errno(), "Failed to set up %s in the container: %m", path);
        }
        return 0;
}

int resources_apply_own(const Settings *s, MachineCgroup *cg) {
        _cleanup_(resource_limits_done) ResourceLimits l = {};
        _cleanup_free_ char *what = NULL;
        const char *root;
        int r;

        r = resources_from_settings(s, &l);
        if (r < 0)
                return r;
        /* The device policy holds DeviceAllow. */
        resource_limits_reset_list(&l, RESOURCE_DEVICE_ALLOW);
        l.set &= ~(1u << RESOURCE_DEVICE_ALLOW);
        if (l.set == 0)
                return 0;
        if (s->keep_unit)
                return log_error_errno(-EINVAL, "Resource limits need a cgroup of the machine's own: with "
                                       "--keep-unit, set them on the unit, or register with berthd.");
        r = cgroup2_mount_point(&root);
        if (r < 0)
                return log_error_errno(r, "No cgroup2 hierarchy is mounted: %m");

        CgroupfsTarget t = {
                .v2_root = root,
                .v2_path = cg->scope_path,
                .v1_root = CGROUP_V1_ROOT,
                .machine = s->machine,
        };
        r = resources_apply_cgroupfs(&t, &l, &cg->v1_dirs, &what);
        if (r == -EOPNOTSUPP)
                return log_error_errno(r, "Cannot apply %s on this host. Refusing to start %s without "
                                       "the limit it was given.", what ?: "a resource limit", s->machine);
        if (r == -ENODEV)
                return log_error_errno(r, "Cannot limit %s: not a device, or not on a disk.", what ?: "a device");
        if (r < 0)
                return log_error_errno(r, "Failed to apply the resource limits of %s: %m", s->machine);
        log_debug("Applied the resource limits of %s to %s.", s->machine, cg->scope_path);
        return 0;
}
