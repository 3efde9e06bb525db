/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cgroupfs scope backend: machine-NAME.scope directories that berthd manages itself. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cgroup-util.h"
#include "fd-util.h"
#include "log.h"
#include "resolve.h"
#include "scope-cgroupfs.h"

int cgroupfs_root(char **ret) {
        const char *e = getenv("BERTH_CGROUP_ROOT"), *p;

        if (!isempty(e)) {
                if (e[0] != '/' || !cgroup2_is(e))
                        return -ENOMEDIUM;
                p = e;
        } else {
                int r = cgroup2_mount_point(&p);
                if (r < 0)
                        return r;
        }

        *ret = strdup(p);
        return *ret ? 0 : -ENOMEM;
}

int scope_path(const char *root, const char *name, char **ret) {
        return asprintf(ret, "%s/machine.slice/machine-%s.scope", root, name) < 0 ? -ENOMEM : 0;
}

int scope_create(const char *path, pid_t leader) {
        _cleanup_free_ char *slice = NULL, *procs = NULL;
        char pid[32];
        int r;

        slice = strdup(path);
        if (!slice || asprintf(&procs, "%s/cgroup.procs", path) < 0)
                return -ENOMEM;
        *strrchr(slice, '/') = 0;

        /* machine.slice is shared with berth-spawn, which removes it when empty: retry if it
         * vanished between our two mkdirs. */
        for (unsigned attempt = 0;; attempt++) {
                if (mkdir(slice, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
                if (mkdir(path, 0755) >= 0)
                        break;
                if (errno != ENOENT || attempt >= 3)
                        return negative_errno();
        }

        snprintf(pid, sizeof pid, "%i", (int) leader);
        r = write_string_file(procs, pid);
        if (r < 0) {
                (void) scope_remove(path);
                return r;
        }
        return 0;
}

int scope_remove(const char *path) {
        _cleanup_free_ char *slice = NULL;
        char *e;
        int r;

        /* berth-spawn makes payload (and the container its own tree) below our scope; once
         * the scope is empty all of that is ours to remove. */
        r = cgroup_rmdir_tree(path);
        if (r < 0)
                return r;

        slice = strdup(path);
        if (!slice)
                return -ENOMEM;
        e = strrchr(slice, '/');
        if (e) {
                *e = 0;
                /* Only ever our own parent, and only when nothing else lives in it. */
                e = strrchr(slice, '/');
                if (e && streq(e, "/machine.slice"))
                        (void) rmdir(slice);
        }
        return 0;
}

int cgroup_signal_all(const char *path, int sig) {
        _cleanup_free_ char *p = NULL, *buf = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct dirent *de;
        char *s, *save = NULL;
        int r, ret = 0;

        if (asprintf(&p, "%s/cgroup.procs", path) < 0)
                return -ENOMEM;
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        r = read_fd_full(fd, 4 * 1024 * 1024, &buf, NULL);
        if (r < 0)
                return r;

        for (s = strtok_r(buf, "\n", &save); s; s = strtok_r(NULL, "\n", &save)) {
                pid_t pid = (pid_t) strtol(s, NULL, 10);

                if (pid <= 1)
                        continue;
                if (kill(pid, sig) < 0 && errno != ESRCH && ret == 0)
                        ret = negative_errno();
        }

        /* cgroup.procs lists only this level: the container lives below (payload/, and its
         * init's own cgroups below that). */
        d = opendir(path);
        if (!d)
                return ret;
        while ((de = readdir(d))) {
                _cleanup_free_ char *sub = NULL;

                if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (asprintf(&sub, "%s/%s", path, de->d_name) < 0)
                        return -ENOMEM;
                r = cgroup_signal_all(sub, sig);
                if (r < 0 && r != -ENOENT && ret == 0)
                        ret = r;
        }
        return ret;
}
