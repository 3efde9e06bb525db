/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The container's user namespace: choosing a UID range nobody else holds, and mapping it. */
#include <fcntl.h>
#include <pwd.h>
#include <grp.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "hash-util.h"
#include "log.h"
#include "resolve.h"
#include "userns.h"

#define RANGE 0x10000U
#define LOCK_DIR RUNTIME_DIR "/uid-range"

static int try_lock(uid_t base) {
        char path[sizeof(LOCK_DIR) + 16];
        _cleanup_close_ int fd = -EBADF;

        /* A range some host user or group already uses is not free, lock or not. */
        if (getpwuid(base) || getgrgid(base) || getpwuid(base + RANGE - 1))
                return -EBUSY;
        snprintf(path, sizeof(path), LOCK_DIR "/%u", (unsigned) base);
        for (;;) {
                struct stat a, b;

                fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0)
                        return negative_errno();
                if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                        return errno == EWOULDBLOCK ? -EBUSY : negative_errno();
                /* The holder before us unlinks the file while it still holds the lock: a lock on
                 * a file that is no longer at PATH protects nothing, so take PATH anew. */
                if (fstat(fd, &a) >= 0 && stat(path, &b) >= 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
                        return TAKE_FD(fd);
                fd = safe_close(fd);
        }
}

void userns_unlock(uid_t shift, int lock_fd) {
        char path[sizeof(LOCK_DIR) + 16];

        if (lock_fd < 0)
                return;
        /* Unlinked while still locked, so nobody can lock this file in between (try_lock()). */
        snprintf(path, sizeof(path), LOCK_DIR "/%u", (unsigned) shift);
        (void) unlink(path);
        safe_close(lock_fd);
}

int userns_pick(const char *machine, int tree_fd, uid_t *ret_shift, int *ret_lock_fd) {
        const uint32_t slots = (USERNS_PICK_MAX - USERNS_PICK_MIN) / RANGE;
        struct stat st;
        uint32_t start;
        int fd;

        if ((mkdir(RUNTIME_DIR, 0755) < 0 && errno != EEXIST) ||
            (mkdir(LOCK_DIR, 0700) < 0 && errno != EEXIST))
                return log_error_errno(negative_errno(), "Failed to create %s: %m", LOCK_DIR);

        /* A tree chowned for a range before keeps it: shifting it again would cost a walk. */
        if (fstat(tree_fd, &st) >= 0 && st.st_uid >= USERNS_PICK_MIN && st.st_uid < USERNS_PICK_MAX &&
            st.st_uid % RANGE == 0 && st.st_uid == st.st_gid) {
                fd = try_lock(st.st_uid);
                if (fd >= 0) {
                        *ret_shift = st.st_uid;
                        *ret_lock_fd = fd;
                        return 0;
                }
        }

        /* A stable starting point per machine name: a machine tends to get the same range on
         * every start. */
        start = fnv1a_32(machine) % slots;
        for (uint32_t i = 0; i < slots; i++) {
                uid_t base = USERNS_PICK_MIN + ((start + i) % slots) * RANGE;

                fd = try_lock(base);
                if (fd == -EBUSY)
                        continue;
                if (fd < 0)
                        return log_error_errno(fd, "Failed to lock a UID range: %m");
                *ret_shift = base;
                *ret_lock_fd = fd;
                return 0;
        }
        return log_error_errno(-EBUSY, "No free UID range left for a user namespace.");
}

int userns_write_maps(pid_t pid, uid_t shift, uid_t range) {
        char path[64], line[64];
        int r;

        snprintf(line, sizeof(line), "0 %u %u\n", (unsigned) shift, (unsigned) range);
        snprintf(path, sizeof(path), "/proc/%d/uid_map", (int) pid);
        r = write_string_file(path, line);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", path);
        snprintf(path, sizeof(path), "/proc/%d/gid_map", (int) pid);
        r = write_string_file(path, line);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", path);
        return 0;
}
