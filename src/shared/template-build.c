/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The names of a template build's work and lock, shared by berth-spawn --template and berthd's pool clean. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "macro.h"
#include "template-build.h"

int template_build_name(const char *name, uint32_t rnd, char **ret) {
        if (asprintf(ret, TEMPLATE_NAME_PREFIX "%s" TEMPLATE_BUILD_INFIX "%08x", name, rnd) < 0)
                return -ENOMEM;
        return 0;
}

int template_lock_name(const char *name, char **ret) {
        return asprintf(ret, TEMPLATE_NAME_PREFIX "%s" TEMPLATE_LOCK_SUFFIX, name) < 0 ? -ENOMEM : 0;
}

static size_t build_name_length(const char *s) {
        /* The last infix: NAME may contain it, the random digits cannot. */
        const char *infix = NULL;
        size_t n;

        for (const char *p = strstr(s, TEMPLATE_BUILD_INFIX); p; p = strstr(p + 1, TEMPLATE_BUILD_INFIX))
                infix = p;
        if (!infix)
                return 0;
        n = strlen(infix + strlen(TEMPLATE_BUILD_INFIX));
        /* Exactly what template_build_name() makes: an image "X.template-y" has a name of its own. */
        if (n != TEMPLATE_BUILD_RANDOM_DIGITS ||
            strspn(infix + strlen(TEMPLATE_BUILD_INFIX), "0123456789abcdef") != n)
                return 0;
        return (size_t) (infix - s);
}

int template_entry_parse(const char *entry, TemplateEntry *ret_type, char **ret_name) {
        const char *s = startswith(entry, TEMPLATE_NAME_PREFIX);
        TemplateEntry type = TEMPLATE_ENTRY_NONE;
        size_t n = 0, l;

        if (s) {
                l = strlen(s);
                n = build_name_length(s);
                if (n > 0)
                        type = TEMPLATE_ENTRY_BUILD;
                else if (l > strlen(TEMPLATE_LOCK_SUFFIX) &&
                         streq(s + l - strlen(TEMPLATE_LOCK_SUFFIX), TEMPLATE_LOCK_SUFFIX)) {
                        type = TEMPLATE_ENTRY_LOCK;
                        n = l - strlen(TEMPLATE_LOCK_SUFFIX);
                }
        }
        if (ret_name) {
                *ret_name = NULL;
                if (type != TEMPLATE_ENTRY_NONE && !(*ret_name = strndup(s, n)))
                        return -ENOMEM;
        }
        if (ret_type)
                *ret_type = type;
        return 0;
}

int template_build_lock_shared(int dir_fd, const char *entry) {
        _cleanup_free_ char *name = NULL, *lock = NULL;
        _cleanup_close_ int fd = -EBADF;
        TemplateEntry type;
        struct stat a, b;
        int r;

        r = template_entry_parse(entry, &type, &name);
        if (r < 0)
                return r;
        if (type == TEMPLATE_ENTRY_NONE)
                return -ENOENT;
        r = template_lock_name(name, &lock);
        if (r < 0)
                return r;
        /* Never created here: a lock file nobody holds is a leftover to remove, not to keep. */
        fd = openat(dir_fd, lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return negative_errno();
        /* A builder holds LOCK_EX for the whole build, so only then does LOCK_SH fail. */
        if (flock(fd, LOCK_SH | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? -EBUSY : negative_errno();
        /* A builder that ends unlinks the file before it unlocks: what we locked may be a file
         * no longer there, and a new build may hold the one there now. Leave it for next time. */
        if (fstat(fd, &a) < 0)
                return negative_errno();
        if (fstatat(dir_fd, lock, &b, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? -EBUSY : negative_errno();
        if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
                return -EBUSY;
        return TAKE_FD(fd);
}
