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

/* Our own cgroup2 path, from the "0::" line of /proc/self/cgroup. */
static int own_cgroup(char **ret) {
        _cleanup_close_ int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
        _cleanup_free_ char *buf = NULL;
        char *l, *e;
        int r;

        if (fd < 0)
                return negative_errno();
        r = read_fd_full(fd, 64 * 1024, &buf, NULL);
        if (r < 0)
                return r;
        l = strstr(buf, "0::");
        if (!l || (l != buf && l[-1] != '\n'))
                return -ENOMEDIUM;
        l += 3;
        e = strchrnul(l, '\n');
        *ret = strndup(l, (size_t) (e - l));
        return *ret ? 0 : -ENOMEM;
}

/* A cgroup that cannot be read counts as populated: never remove what we cannot see into. */
static bool cgroup_is_populated(const char *path) {
        int r = cgroup_populated(path);

        return r == -ENOENT ? false : r != 0;
}

/* Removes PATH and every directory below it, deepest first. The container's own init may have
 * made a whole tree (init.scope, system.slice, ...). Only directories: cgroupfs has no files
 * to unlink. */
static int rmdir_tree(const char *path) {
        _cleanup_(closedirp) DIR *d = opendir(path);
        struct dirent *de;

        if (!d)
                return errno == ENOENT ? 0 : negative_errno();
        while ((de = readdir(d))) {
                _cleanup_free_ char *sub = NULL;

                if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (asprintf(&sub, "%s/%s", path, de->d_name) < 0)
                        return -ENOMEM;
                (void) rmdir_tree(sub);
        }
        return rmdir(path) < 0 && errno != ENOENT ? negative_errno() : 0;
}

int machine_cgroup_create(const char *machine, bool keep_unit, MachineCgroup *ret) {
        _cleanup_free_ char *own = NULL, *scope = NULL, *payload = NULL;
        const char *root;
        int r;

        r = cgroup2_mount_point(&root);
        if (r < 0)
                return log_error_errno(r, "No cgroup2 hierarchy is mounted: %m");

        if (keep_unit) {
                r = own_cgroup(&own);
                if (r < 0)
                        return log_error_errno(r, "Failed to find our own cgroup: %m");
                if (asprintf(&scope, "%s%s", root, streq(own, "/") ? "" : own) < 0)
                        return log_oom();
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

        if (asprintf(&payload, "%s/payload", scope) < 0)
                return log_oom();
        if (cgroup_is_populated(payload))
                return log_error_errno(-EBUSY, "Cgroup %s is in use already.", payload);
        (void) rmdir_tree(payload);
        if (mkdir(payload, 0755) < 0)
                return log_error_errno(negative_errno(), "Failed to create %s: %m", payload);

        *ret = (MachineCgroup) {
                .scope_path = TAKE_PTR(scope),
                .payload_path = TAKE_PTR(payload),
                .payload_fd = -EBADF,
                .owns_scope = !keep_unit,
        };
        ret->payload_fd = open(ret->payload_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (ret->payload_fd < 0) {
                r = log_error_errno(negative_errno(), "Failed to open %s: %m", ret->payload_path);
                (void) machine_cgroup_destroy(ret);
                return r;
        }
        return 0;
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
 * (read through the polled fd itself, which is what re-arms them). */
static int cgroup_wait_empty(const char *path, int timeout_ms) {
        _cleanup_free_ char *p = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (asprintf(&p, "%s/cgroup.events", path) < 0)
                return -ENOMEM;
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
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
                /* Whatever escaped PID 1's death (nothing should: the PID namespace took it
                 * along) is killed, so the directories can go. */
                if (cgroup_is_populated(c->payload_path))
                        (void) cgroup_kill_all(c->payload_path);
                r = cgroup_wait_empty(c->payload_path, 10000);
                if (r < 0)
                        log_warning_errno(r, "Cgroup %s did not empty: %m", c->payload_path);
                r = rmdir_tree(c->payload_path);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove %s: %m", c->payload_path);
        }
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
