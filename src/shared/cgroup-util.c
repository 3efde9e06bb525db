/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cgroup2 basics shared by berth-spawn and berthd. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <sys/vfs.h>

#include "cgroup-util.h"
#include "fd-util.h"
#include "macro.h"
#include "resolve.h"

int cgroup2_is(const char *path) {
        struct statfs sfs;

        return statfs(path, &sfs) >= 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
}

int cgroup2_mount_point(const char **ret) {
        if (cgroup2_is("/sys/fs/cgroup"))
                *ret = "/sys/fs/cgroup";
        else if (cgroup2_is("/sys/fs/cgroup/unified"))
                *ret = "/sys/fs/cgroup/unified";
        else
                return -ENOMEDIUM;
        return 0;
}

int cgroup_events_flag_fd(int fd, const char *key) {
        char buf[256];
        size_t k = strlen(key);
        ssize_t n;

        n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n < 0)
                return negative_errno();
        buf[n] = 0;
        /* "KEY 0|1" lines; a key must start a line, so "frozen" never matches "unfrozen". */
        for (const char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, key, k) == 0 && l[k] == ' ')
                        return l[k + 1] == '1';
        return -ENOKEY;
}

int cgroup_populated_fd(int fd) {
        int r = cgroup_events_flag_fd(fd, "populated");

        return r == -ENOKEY ? -EBADMSG : r;
}

int cgroup_populated(const char *path) {
        _cleanup_free_ char *p = NULL;
        _cleanup_close_ int fd = -EBADF;

        if (asprintf(&p, "%s/cgroup.events", path) < 0)
                return -ENOMEM;
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        return cgroup_populated_fd(fd);
}

int cgroup_kill_all(const char *path) {
        _cleanup_free_ char *p = NULL;

        if (asprintf(&p, "%s/cgroup.kill", path) < 0)
                return -ENOMEM;
        return write_string_file(p, "1");
}

int cgroup_rmdir_tree(const char *path) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;

        /* Mostly there is nothing below: one rmdir instead of reading the directory first. */
        if (rmdir(path) >= 0 || errno == ENOENT)
                return 0;
        d = opendir(path);
        if (!d)
                return errno == ENOENT ? 0 : negative_errno();
        while ((de = readdir(d))) {
                _cleanup_free_ char *sub = NULL;

                /* Only directories: cgroupfs has no files to unlink. */
                if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (asprintf(&sub, "%s/%s", path, de->d_name) < 0)
                        return -ENOMEM;
                (void) cgroup_rmdir_tree(sub);
        }
        return rmdir(path) < 0 && errno != ENOENT ? negative_errno() : 0;
}

int proc_cgroup(pid_t pid, char **ret) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        char p[64], *l, *e;
        int r;

        if (pid == 0)
                snprintf(p, sizeof(p), "/proc/self/cgroup");
        else
                snprintf(p, sizeof(p), "/proc/%i/cgroup", (int) pid);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : negative_errno();
        r = read_fd_full(fd, 64 * 1024, &buf, NULL);
        if (r < 0)
                return r;
        l = startswith(buf, "0::") ? buf : strstr(buf, "\n0::");
        if (!l)
                return -ENOMEDIUM;
        l = strstr(l, "0::") + 3;
        e = strchrnul(l, '\n');
        *ret = strndup(l, (size_t) (e - l));
        return *ret ? 0 : -ENOMEM;
}
