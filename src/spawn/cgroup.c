/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The container's cgroup2 directory: made before the clone so the payload starts inside it
 * (CLONE_INTO_CGROUP), emptied and removed at exit. */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cgroup-util.h"
#include "cgroup.h"
#include "fd-util.h"
#include "log.h"
#include "resolve.h"
#include "resource-limits.h"
#include "strv.h"

/* A cgroup that cannot be read counts as populated: never remove what we cannot see into. */
static bool cgroup_is_populated(const char *path) {
        int r = cgroup_populated(path);

        return r == -ENOENT ? false : r != 0;
}

/* Makes SCOPE/payload, the container's cgroup namespace root, and fills in RET. */
static int payload_create(char *scope, bool owns_scope, MachineCgroup *ret) {
        _cleanup_free_ char *payload = NULL;
        int r;

        if (asprintf(&payload, "%s/payload", scope) < 0) {
                free(scope);
                return log_oom();
        }
        *ret = (MachineCgroup) {
                .scope_path = scope,
                .payload_fd = -EBADF,
                .owns_scope = owns_scope,
        };
        if (cgroup_is_populated(payload)) {
                r = log_error_errno(-EBUSY, "Cgroup %s is in use already.", payload);
                goto fail;
        }
        (void) cgroup_rmdir_tree(payload);
        if (mkdir(payload, 0755) < 0) {
                r = log_error_errno(negative_errno(), "Failed to create %s: %m", payload);
                goto fail;
        }
        ret->payload_path = TAKE_PTR(payload);
        ret->payload_fd = open(ret->payload_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (ret->payload_fd < 0) {
                r = log_error_errno(negative_errno(), "Failed to open %s: %m", ret->payload_path);
                goto fail;
        }
        return 0;
fail:
        (void) machine_cgroup_destroy(ret);
        return r;
}

static int cgroup_write_procs(const char *cgroup, const char *pid) {
        _cleanup_free_ char *p = NULL;

        if (asprintf(&p, "%s/cgroup.procs", cgroup) < 0)
                return -ENOMEM;
        return write_string_file(p, pid);
}

/* Writes "+c" (ENABLE) or "-c" for each controller listed in UNIT's FROM file ("controllers",
 * "subtree_control") to its subtree_control. Best effort. */
static void unit_set_controllers(const char *unit, const char *from, bool enable) {
        _cleanup_free_ char *src = NULL, *p = NULL, *list = NULL;
        _cleanup_close_ int fd = -EBADF;
        char *save = NULL;
        int r;

        if (asprintf(&src, "%s/cgroup.%s", unit, from) < 0 ||
            asprintf(&p, "%s/cgroup.subtree_control", unit) < 0)
                return;
        fd = open(src, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read_fd_full(fd, 4096, &list, NULL) < 0)
                return;
        for (char *c = strtok_r(list, " \n", &save); c; c = strtok_r(NULL, " \n", &save)) {
                char buf[64];

                snprintf(buf, sizeof(buf), "%c%s", enable ? '+' : '-', c);
                r = write_string_file(p, buf);
                if (r < 0)
                        log_debug_errno(r, "Cannot %s the %s controller below %s: %m",
                                        enable ? "enable" : "disable", c, unit);
        }
}

/* Hands every controller UNIT has down to its children, so that the payload (and an init
 * inside that manages cgroups itself) gets them. Best effort: a host that gives us none (hybrid
 * hosts keep them in v1) or a unit that is not delegated loses only resource control. */
static void unit_enable_controllers(const char *unit) {
        unit_set_controllers(unit, "controllers", true);
}

/* Whether UNIT has any controller it could hand down ("cgroup.controllers" not empty). */
static bool unit_has_controllers(const char *unit) {
        _cleanup_free_ char *p = NULL, *list = NULL;
        _cleanup_close_ int fd = -EBADF;

        if (asprintf(&p, "%s/cgroup.controllers", unit) < 0)
                return true;
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read_fd_full(fd, 4096, &list, NULL) < 0)
                return true; /* unknown: take the safe way */
        return list[strspn(list, " \n")] != 0;
}

/* --keep-unit: the unit delegated its cgroup to us. A cgroup that hands controllers to its
 * children may hold no processes itself, so we move into UNIT/supervisor (as nspawn does), and
 * the payload beside it gets the unit's controllers. Writing "0" moves us by our own PID
 * whatever PID namespace we see the world from. A unit without controllers (hybrid hosts keep
 * them all in v1) has nothing to hand down, and we stay where we are: moving a running process
 * waits for an RCU grace period, 6-8 ms here, and twice per run (in and out again) that was
 * most of the time before init (bench/README.md). */
static int unit_move_supervisor(const char *unit) {
        _cleanup_free_ char *sup = NULL;
        int r;

        if (!unit_has_controllers(unit)) {
                log_debug("%s has no controllers to hand down: the supervisor stays in it.", unit);
                return 0;
        }
        if (asprintf(&sup, "%s/supervisor", unit) < 0)
                return log_oom();
        if (mkdir(sup, 0755) < 0 && errno != EEXIST)
                return log_error_errno(negative_errno(), "Failed to create %s: %m", sup);
        r = cgroup_write_procs(sup, "0");
        if (r < 0)
                return log_error_errno(r, "Failed to move into %s: %m", sup);
        unit_enable_controllers(unit);
        return 0;
}

/* Undoes unit_move_supervisor() once the payload is gone, so that the unit's cgroup is left
 * as we found it (under systemd the unit's end removes it anyway; berthd without systemd and
 * tests reuse it). Nothing to do when we are not in UNIT/supervisor. */
static void unit_leave_supervisor(const char *unit) {
        _cleanup_free_ char *own = NULL, *sup = NULL;
        const char *root;
        int r;

        if (cgroup2_mount_point(&root) < 0 || proc_cgroup(0, &own) < 0 ||
            asprintf(&sup, "%s/supervisor", unit) < 0)
                return;
        if (!startswith(sup, root) || !streq(sup + strlen(root), own))
                return;
        unit_set_controllers(unit, "subtree_control", false);
        r = cgroup_write_procs(unit, "0");
        if (r >= 0 && rmdir(sup) < 0)
                r = negative_errno();
        if (r < 0)
                log_debug_errno(r, "Cannot leave %s: %m", sup);
}

int machine_cgroup_create(const char *machine, bool keep_unit, MachineCgroup *ret) {
        _cleanup_free_ char *own = NULL, *scope = NULL;
        const char *root;
        int r;

        r = cgroup2_mount_point(&root);
        if (r < 0)
                return log_error_errno(r, "No cgroup2 hierarchy is mounted: %m");

        if (keep_unit) {
                r = proc_cgroup(0, &own);
                if (r < 0)
                        return log_error_errno(r, "Failed to find our own cgroup: %m");
                if (asprintf(&scope, "%s%s", root, streq(own, "/") ? "" : own) < 0)
                        return log_oom();
                /* The root cgroup is the whole host's: no supervisor of ours in there. */
                if (!streq(own, "/")) {
                        r = unit_move_supervisor(scope);
                        if (r < 0)
                                return r;
                }
        } else {
                _cleanup_free_ char *slice = NULL;

                if (asprintf(&slice, "%s/machine.slice", root) < 0 ||
                    asprintf(&scope, "%s/machine-%s.scope", slice, machine) < 0)
                        return log_oom();
                if (mkdir(slice, 0755) < 0 && errno != EEXIST)
                        return log_error_errno(negative_errno(), "Failed to create %s: %m", slice);
                if (mkdir(scope, 0755) < 0) {
                        if (errno != EEXIST)
                                return log_error_errno(negative_errno(), "Failed to create %s: %m", scope);
                        /* A machine of this name is running, or a crashed run left its empty
                         * directory: the first is an error, the second is ours to reuse. */
                        if (cgroup_is_populated(scope))
                                return log_error_errno(-EBUSY, "Machine '%s' is already running.", machine);
                }
        }
        return payload_create(TAKE_PTR(scope), !keep_unit, ret);
}

int machine_cgroup_join_scope(pid_t pid, MachineCgroup *ret) {
        _cleanup_free_ char *cg = NULL, *scope = NULL;
        const char *root;
        int r;

        r = cgroup2_mount_point(&root);
        if (r < 0)
                return log_error_errno(r, "No cgroup2 hierarchy is mounted: %m");
        r = proc_cgroup(pid, &cg);
        if (r < 0)
                return log_error_errno(r, "Failed to find the cgroup of the container: %m");
        if (streq(cg, "/"))
                return log_error_errno(-EBUSY, "berthd left the container in the root cgroup.");
        if (asprintf(&scope, "%s%s", root, cg) < 0)
                return log_oom();
        return payload_create(TAKE_PTR(scope), false, ret);
}

int machine_cgroup_add(const MachineCgroup *c, pid_t pid) {
        char buf[32];

        snprintf(buf, sizeof(buf), "%i", (int) pid);
        return write_string_fileat(c->payload_fd, "cgroup.procs", buf);
}

int machine_cgroup_delegate(const MachineCgroup *c, uid_t uid, gid_t gid) {
        static const char *const files[] = { "cgroup.procs", "cgroup.threads", "cgroup.subtree_control" };
        _cleanup_close_ int fd = open(c->payload_path, O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return negative_errno();
        if (fchown(fd, uid, gid) < 0)
                return negative_errno();
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                if (fchownat(fd, files[i], uid, gid, 0) < 0 && errno != ENOENT)
                        return negative_errno();
        return 0;
}

/* Waits up to TIMEOUT_MS for the cgroup to empty, woken by the kernel's cgroup.events notices
 * (read through the polled fd itself, which is what re-arms them). Whatever escaped PID 1's
 * death (nothing should: the PID namespace took it along) is killed first. */
static int cgroup_kill_wait_empty(const char *path, int timeout_ms) {
        _cleanup_free_ char *p = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (asprintf(&p, "%s/cgroup.events", path) < 0)
                return -ENOMEM;
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        /* A cgroup that cannot be read counts as populated: never remove what we cannot see into. */
        if (cgroup_populated_fd(fd) != 0)
                (void) cgroup_kill_all(path);
        for (int waited = 0; (r = cgroup_populated_fd(fd)) != 0; waited += 100) {
                struct pollfd pfd = { .fd = fd, .events = POLLPRI };

                if (r < 0)
                        return r;
                if (waited >= timeout_ms)
                        return -ETIMEDOUT;
                (void) poll(&pfd, 1, 100);
        }
        return 0;
}

int machine_cgroup_destroy(MachineCgroup *c) {
        int r = 0;

        if (c->payload_path) {
                r = cgroup_kill_wait_empty(c->payload_path, 10000);
                if (r < 0)
                        log_warning_errno(r, "Cgroup %s did not empty: %m", c->payload_path);
                r = cgroup_rmdir_tree(c->payload_path);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove %s: %m", c->payload_path);
        }
        /* Empty by now: the processes were in the payload too. */
        STRV_FOREACH(d, c->v1_dirs) {
                int k = resources_remove_v1(*d);
                if (k < 0)
                        log_warning_errno(k, "Failed to remove %s: %m", *d);
        }
        c->v1_dirs = strv_free(c->v1_dirs);
        if (!c->owns_scope && c->scope_path)
                unit_leave_supervisor(c->scope_path);
        if (c->owns_scope && c->scope_path) {
                char *slash;

                (void) rmdir(c->scope_path);
                /* machine.slice is shared by every machine: remove it only when it is empty. */
                slash = strrchr(c->scope_path, '/');
                if (slash) {
                        *slash = 0;
                        (void) rmdir(c->scope_path);
                }
        }
        safe_close(c->payload_fd);
        free(c->scope_path);
        free(c->payload_path);
        *c = (MachineCgroup) { .payload_fd = -EBADF };
        return r;
}
