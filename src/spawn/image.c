/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Finding images in the pool and the init inside a tree. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>

#include "image.h"
#include "macro.h"
#include "name-util.h"
#include "resolve.h"

static const char *const init_kind_table[_INIT_KIND_MAX] = {
        [INIT_SYSTEMD] = "systemd",
        [INIT_BUSYBOX] = "busybox",
        [INIT_OTHER] = "other",
};

const char *init_kind_to_string(InitKind k) {
        return k >= 0 && k < _INIT_KIND_MAX ? init_kind_table[k] : NULL;
}

InitKind init_kind_from_string(const char *s) {
        for (int i = 0; s && i < _INIT_KIND_MAX; i++)
                if (streq(init_kind_table[i], s))
                        return (InitKind) i;
        return _INIT_KIND_INVALID;
}

const char *image_pool_dir(void) {
        const char *e = getenv("BERTH_IMAGE_POOL");

        return !isempty(e) && e[0] == '/' ? e : MACHINES_DIR;
}

/* NAME (plus SUFFIX) in the pool directories, the writable one first, if it is a directory (RAW
 * false) or a regular file or block device (RAW true). */
static int pool_find(const char *name, const char *suffix, bool raw, char **ret) {
        const char *const pool[] = { image_pool_dir(), "/usr/local/lib/machines", "/usr/lib/machines" };

        if (!image_name_is_valid(name))
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(pool); i++) {
                _cleanup_free_ char *p = NULL;
                struct stat st;

                if (asprintf(&p, "%s/%s%s", pool[i], name, suffix) < 0)
                        return -ENOMEM;
                if (stat(p, &st) < 0) {
                        if (errno == ENOENT)
                                continue;
                        return negative_errno();
                }
                if (raw ? !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode) : !S_ISDIR(st.st_mode))
                        continue;
                *ret = TAKE_PTR(p);
                return 0;
        }
        return -ENOENT;
}

int image_find(const char *name, char **ret) {
        return pool_find(name, "", false, ret);
}

int image_find_raw(const char *name, char **ret) {
        return pool_find(name, ".raw", true, ret);
}

char *image_raw_name(const char *path) {
        const char *base = strrchr(path, '/');
        size_t n;

        base = base ? base + 1 : path;
        n = strlen(base);
        if (n > 4 && streq(base + n - 4, ".raw"))
                n -= 4;
        return strndup(base, n);
}

static InitKind kind_of(int fd) {
        char self[64], target[4096];
        ssize_t n;
        const char *base;

        /* The fd was resolved inside the tree; its /proc link names the final file after all
         * symlinks (e.g. /sbin/init -> /bin/busybox). */
        snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
        n = readlink(self, target, sizeof(target) - 1);
        if (n < 0)
                return INIT_OTHER;
        target[n] = 0;
        base = strrchr(target, '/');
        base = base ? base + 1 : target;
        if (streq(base, "systemd"))
                return INIT_SYSTEMD;
        if (streq(base, "busybox"))
                return INIT_BUSYBOX;
        return INIT_OTHER;
}

int image_find_init(int root_fd, char **ret_path, InitKind *ret_kind) {
        static const char *const candidates[] = {
                "/usr/lib/systemd/systemd",
                "/lib/systemd/systemd",
                "/sbin/init",
        };

        for (size_t i = 0; i < ELEMENTSOF(candidates); i++) {
                _cleanup_close_ int fd = open_in_root(root_fd, candidates[i], O_PATH, 0);
                struct stat st;

                if (fd < 0)
                        continue;
                if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111))
                        continue;
                *ret_path = strdup(candidates[i]);
                if (!*ret_path)
                        return -ENOMEM;
                *ret_kind = kind_of(fd);
                return 0;
        }
        return -ENOEXEC;
}

bool image_is_os_tree(int root_fd) {
        static const char *const files[] = { "/etc/os-release", "/usr/lib/os-release" };

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_close_ int fd = open_in_root(root_fd, files[i], O_PATH, 0);
                if (fd >= 0)
                        return true;
        }
        return false;
}

int init_kind_poweroff_signal(InitKind k) {
        /* systemd: SIGRTMIN+3 starts halt.target, which ends a container like a poweroff (what
         * nspawn sends too); busybox init: SIGUSR2 powers off (SIGTERM would reboot it).
         * Anything else gets what nspawn sends. */
        return k == INIT_BUSYBOX ? SIGUSR2 : SIGRTMIN + 3;
}

int init_kind_reboot_signal(InitKind k) {
        /* systemd: SIGINT is ctrl-alt-del, which starts reboot.target; busybox: SIGTERM. */
        return k == INIT_BUSYBOX ? SIGTERM : SIGINT;
}
