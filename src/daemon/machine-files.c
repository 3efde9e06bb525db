/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Files between host and container: BindMountMachine and Copy{From,To}Machine in workers. */
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <sched.h>
#include <stdio.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bus-errors.h"
#include "fd-util.h"
#include "log.h"
#include "machine-dbus.h"
#include "machine-files.h"
#include "machine-inside.h"
#include "manager-dbus.h"
#include "operation.h"
#include "resolve.h"

/* A tree from a container may be arbitrarily deep; our recursion must not be. */
#define COPY_DEPTH_MAX 256U

bool copy_path_is_valid(const char *p, bool allow_root) {
        bool any = false;

        if (isempty(p) || p[0] != '/' || strlen(p) >= PATH_MAX)
                return false;
        for (const char *c = p; *c;) {
                size_t l;

                c += strspn(c, "/");
                l = strcspn(c, "/");
                if (l == 0)
                        break;
                if ((l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                any = true;
                c += l;
        }
        return any || allow_root;
}

/* Splits an absolute, valid path into its directory and its last component. */
static int split_path(const char *p, char **ret_dir, char **ret_name) {
        _cleanup_free_ char *dir = strdup(p);
        char *slash;

        if (!dir)
                return -ENOMEM;
        for (size_t l = strlen(dir); l > 1 && dir[l - 1] == '/'; l--)
                dir[l - 1] = 0;
        slash = strrchr(dir, '/');
        if (!slash || !slash[1])
                return -EINVAL;
        *ret_name = strdup(slash + 1);
        if (!*ret_name)
                return -ENOMEM;
        slash[slash == dir ? 1 : 0] = 0;
        *ret_dir = TAKE_PTR(dir);
        return 0;
}

/* ---- copying ---- */

static int temp_name(char buf[static 32]) {
        uint64_t v = 0;

        if (getrandom(&v, sizeof v, GRND_NONBLOCK) != sizeof v)
                v = (uint64_t) random() << 32 | (uint64_t) random();
        snprintf(buf, 32, ".#berth-copy%016llx", (unsigned long long) v);
        return 0;
}

/* Opens an O_PATH fd for reading, after checking it is a regular file: never runs a device's
 * open or blocks on a FIFO that a container swapped in. */
static int reopen_regular(int path_fd) {
        char self[64];
        struct stat st;

        if (fstat(path_fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        snprintf(self, sizeof self, "/proc/self/fd/%i", path_fd);
        return RET_NERRNO(open(self, O_RDONLY | O_NOCTTY | O_CLOEXEC));
}

static int copy_bytes(int in, int out) {
        bool fallback = false;
        char buf[64 * 1024];

        for (;;) {
                ssize_t n;

                if (!fallback) {
                        n = copy_file_range(in, NULL, out, NULL, 1U << 30, 0);
                        if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP ||
                                      errno == ENOSYS || errno == EBADF)) {
                                fallback = true;
                                continue;
                        }
                } else {
                        n = read(in, buf, sizeof buf);
                        for (ssize_t off = 0; n > 0 && off < n;) {
                                ssize_t k = write(out, buf + off, (size_t) (n - off));

                                if (k < 0) {
                                        if (errno == EINTR)
                                                continue;
                                        return negative_errno();
                                }
                                off += k;
                        }
                }
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        return 0;
        }
}

/* Owner, mode and times of ST onto FD (or the symlink NAME in DIR_FD when FD < 0). */
static int copy_attributes(int fd, int dir_fd, const char *name, const struct stat *st, const CopyOptions *o) {
        struct timespec ts[2] = { st->st_atim, st->st_mtim };

        if (fd < 0) {
                if (o->preserve_owner && fchownat(dir_fd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
                        return negative_errno();
                return RET_NERRNO(utimensat(dir_fd, name, ts, AT_SYMLINK_NOFOLLOW));
        }
        /* chown first: it clears the set-ID bits that fchmod then restores. */
        if (o->preserve_owner && fchown(fd, st->st_uid, st->st_gid) < 0)
                return negative_errno();
        if (fchmod(fd, st->st_mode & 07777) < 0)
                return negative_errno();
        return RET_NERRNO(futimens(fd, ts));
}

/* Moves the finished TMP to NAME: atomically, so nobody sees half a file, and (without
 * replace) without ever clobbering what appeared meanwhile. */
static int install(int dir_fd, const char *tmp, const char *name, const CopyOptions *o) {
        if (renameat2(dir_fd, tmp, dir_fd, name, o->replace ? 0 : RENAME_NOREPLACE) < 0) {
                int r = negative_errno();

                (void) unlinkat(dir_fd, tmp, 0);
                return r;
        }
        return 0;
}

static int copy_node(int src_fd, const struct stat *st, int dst_dir, const char *name,
                     const CopyOptions *o, dev_t top_dev, unsigned depth);

static int copy_dir_contents(int src_fd, int dst_fd, const CopyOptions *o, dev_t top_dev, unsigned depth) {
        _cleanup_(closedirp) DIR *d = NULL;
        int fd, r;

        fd = openat(src_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return -ENOMEM;
        }
        for (struct dirent *de; (errno = 0, de = readdir(d));) {
                _cleanup_close_ int child = -EBADF;
                struct stat cst;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                child = openat(dirfd(d), de->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (child < 0) {
                        if (errno == ENOENT)
                                continue; /* gone meanwhile */
                        return negative_errno();
                }
                if (fstat(child, &cst) < 0)
                        return negative_errno();
                /* Another file system below (a /proc, a bind mount): not part of this tree. */
                if (cst.st_dev != top_dev)
                        continue;
                if (!S_ISREG(cst.st_mode) && !S_ISDIR(cst.st_mode) && !S_ISLNK(cst.st_mode) &&
                    !S_ISFIFO(cst.st_mode))
                        continue; /* never recreate a device node (or socket) on the other side */
                r = copy_node(child, &cst, dst_fd, de->d_name, o, top_dev, depth + 1);
                if (r < 0)
                        return r;
        }
        return errno > 0 ? -errno : 0;
}

static int copy_directory(int src_fd, const struct stat *st, int dst_dir, const char *name,
                          const CopyOptions *o, dev_t top_dev, unsigned depth) {
        _cleanup_close_ int dst = -EBADF;
        struct stat existing;
        int r;

        if (mkdirat(dst_dir, name, 0700) < 0) {
                if (errno != EEXIST)
                        return negative_errno();
                /* With replace, directories merge: what the source has replaces what is there. */
                if (!o->replace)
                        return -EEXIST;
                if (fstatat(dst_dir, name, &existing, AT_SYMLINK_NOFOLLOW) < 0)
                        return negative_errno();
                if (!S_ISDIR(existing.st_mode))
                        return -ENOTDIR;
        }
        dst = openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dst < 0)
                return negative_errno();
        r = copy_dir_contents(src_fd, dst, o, top_dev, depth);
        if (r < 0)
                return r;
        return copy_attributes(dst, -EBADF, NULL, st, o);
}

static int copy_node(int src_fd, const struct stat *st, int dst_dir, const char *name,
                     const CopyOptions *o, dev_t top_dev, unsigned depth) {
        _cleanup_close_ int in = -EBADF, out = -EBADF;
        char tmp[32], target[PATH_MAX];
        ssize_t n;
        int r;

        if (depth > COPY_DEPTH_MAX)
                return -ELOOP;
        if (S_ISDIR(st->st_mode))
                return copy_directory(src_fd, st, dst_dir, name, o, top_dev, depth);

        temp_name(tmp);
        if (S_ISREG(st->st_mode)) {
                in = reopen_regular(src_fd);
                if (in < 0)
                        return in;
                out = openat(dst_dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (out < 0)
                        return negative_errno();
                r = copy_bytes(in, out);
                if (r >= 0)
                        r = copy_attributes(out, -EBADF, NULL, st, o);
        } else if (S_ISLNK(st->st_mode)) {
                n = readlinkat(src_fd, "", target, sizeof target);
                if (n < 0)
                        return negative_errno();
                if ((size_t) n >= sizeof target)
                        return -ENAMETOOLONG;
                target[n] = 0;
                if (symlinkat(target, dst_dir, tmp) < 0)
                        return negative_errno();
                r = copy_attributes(-EBADF, dst_dir, tmp, st, o);
        } else if (S_ISFIFO(st->st_mode)) {
                if (mkfifoat(dst_dir, tmp, 0600) < 0)
                        return negative_errno();
                out = openat(dst_dir, tmp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                r = out < 0 ? negative_errno() : 0;
                if (r >= 0 && o->preserve_owner)
                        r = RET_NERRNO(fchownat(dst_dir, tmp, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW));
                if (r >= 0)
                        r = RET_NERRNO(fchmodat(dst_dir, tmp, st->st_mode & 07777, 0));
        } else
                return -EOPNOTSUPP;

        if (r < 0) {
                (void) unlinkat(dst_dir, tmp, 0);
                return r;
        }
        return install(dst_dir, tmp, name, o);
}

int copy_tree_at(int src_fd, int dst_dir_fd, const char *name, const CopyOptions *opts) {
        struct stat st;

        if (fstat(src_fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode) && !S_ISFIFO(st.st_mode))
                return -EOPNOTSUPP;
        return copy_node(src_fd, &st, dst_dir_fd, name, opts, st.st_dev, 0);
}

/* setfsuid() to non-root drops the file capabilities from the effective set; the copy still
 * needs them (read any host file, set any mode), so raise them again from the permitted set. */
static int raise_effective_caps(void) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = {};

        if (syscall(SYS_capget, &h, d) < 0)
                return negative_errno();
        d[0].effective = d[0].permitted;
        d[1].effective = d[1].permitted;
        return RET_NERRNO(syscall(SYS_capset, &h, d));
}

/* Creates files as ID (the container's root, seen from the host): on a plain tree that is the
 * shifted owner on disk, on an idmapped mount it maps back to 0 on disk. */
static int become_fs_owner(uid_t id) {
        (void) setfsgid(id);
        (void) setfsuid(id);
        if ((uid_t) setfsuid((uid_t) -1) != id || (gid_t) setfsgid((gid_t) -1) != id)
                return -EPERM;
        return raise_effective_caps();
}

typedef struct CopyRequest {
        bool to_container;
        CopyOptions opts;
        bool userns;
        uint32_t shift;
        const char *src;
        const char *dest;
} CopyRequest;

/* In the worker: everything on the container's side is resolved inside ROOT_FD. */
static int copy_worker(const CopyRequest *q, int root_fd) {
        _cleanup_free_ char *dir = NULL, *name = NULL;
        _cleanup_close_ int src = -EBADF, dst_dir = -EBADF;
        int r;

        r = split_path(q->dest, &dir, &name);
        if (r < 0)
                return r;
        /* The top of the source is followed (cp -H), inside the container for the container's
         * side: a container's symlink to /etc/shadow is the container's /etc/shadow. */
        if (q->to_container) {
                src = open(q->src, O_PATH | O_CLOEXEC);
                if (src < 0)
                        return negative_errno();
                dst_dir = open_in_root(root_fd, dir, O_PATH | O_DIRECTORY, 0);
                if (dst_dir < 0)
                        return dst_dir;
                if (q->userns) {
                        r = become_fs_owner((uid_t) q->shift);
                        if (r < 0)
                                return r;
                }
        } else {
                src = open_in_root(root_fd, q->src, O_PATH, 0);
                if (src < 0)
                        return src;
                dst_dir = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (dst_dir < 0)
                        return negative_errno();
        }
        return copy_tree_at(src, dst_dir, name, &q->opts);
}

/* ---- bind mounts ---- */

typedef struct BindRequest {
        const char *src;
        const char *dest;
        bool read_only;
        bool mkdir;
        bool userns;
        int pidfd;
} BindRequest;

static int bind_worker(const BindRequest *q, int root_fd) {
        _cleanup_close_ int tree = -EBADF, target = -EBADF;
        struct stat st, tst;
        int r;

        /* The host's side is prepared while we still see the host: a detached copy of SRC. */
        tree = (int) syscall(SYS_open_tree, AT_FDCWD, q->src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0)
                return negative_errno();
        if (fstat(tree, &st) < 0)
                return negative_errno();
        if (q->read_only) {
                struct mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY };

                /* Before it is visible inside: never writable there, not even for a moment. */
                if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &a, sizeof a) < 0)
                        return negative_errno();
        }

        if (setns(q->pidfd, CLONE_NEWNS | (q->userns ? CLONE_NEWUSER : 0)) < 0)
                return negative_errno();
        if (q->userns) {
                /* The container's root, so what --mkdir creates belongs to it. */
                (void) setgroups(0, NULL);
                if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
                        return negative_errno();
        }

        if (q->mkdir)
                target = mount_point_in_root(root_fd, q->dest, !S_ISDIR(st.st_mode), 0755);
        else
                target = open_in_root(root_fd, q->dest, O_PATH, 0);
        if (target < 0)
                return target;
        if (fstat(target, &tst) < 0)
                return negative_errno();
        if (S_ISDIR(st.st_mode) != S_ISDIR(tst.st_mode))
                return S_ISDIR(st.st_mode) ? -ENOTDIR : -EISDIR;

        r = (int) syscall(SYS_move_mount, tree, "", target, "",
                          MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
        return r < 0 ? negative_errno() : 0;
}

/* ---- D-Bus ---- */

static int report(int result_fd, int r, const char *what, const char *path) {
        if (r >= 0)
                return operation_report(result_fd, 0, NULL, 0, -EBADF);
        if (r == -EEXIST)
                return operation_report_errorf(result_fd, r, SD_BUS_ERROR_FILE_EXISTS,
                                               "%s exists already", path);
        return operation_report_errorf(result_fd, r, NULL, "Failed to %s: %s", what, strerror(-r));
}

static int verify(sd_bus_message *message, Machine *m, const char *verb, const char *src,
                  const char *dest, sd_bus_error *error) {
        const char *details[] = { "machine", m->name, "verb", verb, "src", src, "dest", dest, NULL };

        return polkit_verify_async(message, "org.berth.machine1.manage-machines", details,
                                   &m->manager->polkit_registry, error);
}

/* Opens what every worker needs before forking; refuses what is not a running container. */
static int prepare(Machine *m, bool *ret_userns, uint32_t *ret_shift, sd_bus_error *error) {
        _cleanup_free_ IdRange *map = NULL;
        size_t n = 0;
        int r;

        r = machine_read_id_map(m, false, &map, &n);
        if (r == -EOPNOTSUPP)
                return sd_bus_error_set(error, SD_BUS_ERROR_NOT_SUPPORTED, "Only supported for containers");
        if (r == -ESRCH)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_MACHINE, "The leader of machine '%s' is gone", m->name);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to read the UID map of %s: %m", m->name);
        r = id_map_shift(map, n, ret_shift);
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_NO_UID_SHIFT,
                                         "Machine %s uses a complex UID/GID mapping", m->name);
        *ret_userns = !id_map_is_identity(map, n);
        return 0;
}

static int method_copy(sd_bus_message *message, Machine *m, bool to_container, bool with_flags,
                       sd_bus_error *error) {
        _cleanup_close_ int root_fd = -EBADF;
        CopyRequest q = { .to_container = to_container };
        uint64_t flags = 0;
        int result_fd = -EBADF, r;

        r = sd_bus_message_read(message, "ss", &q.src, &q.dest);
        if (r >= 0 && with_flags)
                r = sd_bus_message_read(message, "t", &flags);
        if (r < 0)
                return r;
        if (isempty(q.dest))
                q.dest = q.src;
        if (!copy_path_is_valid(q.src, false) || !copy_path_is_valid(q.dest, false))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "Paths must be absolute, without \".\" or \"..\", and not \"/\"");
        if (flags & ~_MACHINE_COPY_KNOWN)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown flags 0x%llx",
                                         (unsigned long long) (flags & ~_MACHINE_COPY_KNOWN));
        if (m->class != MACHINE_CONTAINER)
                return sd_bus_error_set(error, SD_BUS_ERROR_NOT_SUPPORTED, "Copying is only supported for containers");

        r = verify(message, m, "copy", q.src, q.dest, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        r = prepare(m, &q.userns, &q.shift, error);
        if (r < 0)
                return r;
        root_fd = machine_open_root(m);
        if (root_fd < 0)
                return sd_bus_error_set_errnof(error, root_fd, "Failed to open the root of %s: %m", m->name);
        q.opts.replace = flags & MACHINE_COPY_REPLACE;
        /* Like machined: with a user namespace, what comes in belongs to the container's root and
         * what goes out to the host's root; without one, owners are kept. */
        q.opts.preserve_owner = !q.userns;

        r = operation_fork(m->manager, message, NULL, NULL, NULL, &result_fd, error);
        if (r != 0)
                return r;
        r = copy_worker(&q, root_fd);
        (void) report(result_fd, r, "copy", q.dest);
        _exit(r < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
}

static int method_bind_mount(sd_bus_message *message, Machine *m, sd_bus_error *error) {
        _cleanup_close_ int root_fd = -EBADF;
        BindRequest q = { .pidfd = m->leader_pidfd };
        int read_only, mkdir_p, result_fd = -EBADF, r;
        uint32_t shift;

        r = sd_bus_message_read(message, "ssbb", &q.src, &q.dest, &read_only, &mkdir_p);
        if (r < 0)
                return r;
        if (isempty(q.dest))
                q.dest = q.src;
        if (!copy_path_is_valid(q.src, true) || !copy_path_is_valid(q.dest, false))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "Paths must be absolute, without \".\" or \"..\"; the destination not \"/\"");
        if (m->class != MACHINE_CONTAINER)
                return sd_bus_error_set(error, SD_BUS_ERROR_NOT_SUPPORTED, "Bind mounts are only supported for containers");
        q.read_only = read_only;
        q.mkdir = mkdir_p;

        r = verify(message, m, "bind", q.src, q.dest, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        r = prepare(m, &q.userns, &shift, error);
        if (r < 0)
                return r;
        root_fd = machine_open_root(m);
        if (root_fd < 0)
                return sd_bus_error_set_errnof(error, root_fd, "Failed to open the root of %s: %m", m->name);

        r = operation_fork(m->manager, message, NULL, NULL, NULL, &result_fd, error);
        if (r != 0)
                return r;
        r = bind_worker(&q, root_fd);
        (void) report(result_fd, r, "bind mount", q.dest);
        _exit(r < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
}

#define DEFINE_COPY(name, to, flags)                                                                \
        static int name(sd_bus_message *message, void *userdata, sd_bus_error *error) {             \
                return method_copy(message, userdata, to, flags, error);                             \
        }                                                                                            \
        static int name##_by_name(sd_bus_message *message, void *userdata, sd_bus_error *error) {   \
                Machine *machine = NULL;                                                             \
                int r = bus_read_machine(userdata, message, &machine, error);                           \
                                                                                                     \
                return r < 0 ? r : method_copy(message, machine, to, flags, error);                  \
        }

DEFINE_COPY(method_copy_from, false, false)
DEFINE_COPY(method_copy_to, true, false)
DEFINE_COPY(method_copy_from_with_flags, false, true)
DEFINE_COPY(method_copy_to_with_flags, true, true)

static int method_bind(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_bind_mount(message, userdata, error);
}

static int method_bind_by_name(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Machine *machine = NULL;
        int r = bus_read_machine(userdata, message, &machine, error);

        return r < 0 ? r : method_bind_mount(message, machine, error);
}

const sd_bus_vtable files_manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("BindMountMachine",
                                SD_BUS_ARGS("s", name, "s", source, "s", destination, "b", read_only, "b", mkdir),
                                SD_BUS_NO_RESULT, method_bind_by_name, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CopyFromMachine", SD_BUS_ARGS("s", name, "s", source, "s", destination),
                                SD_BUS_NO_RESULT, method_copy_from_by_name, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CopyToMachine", SD_BUS_ARGS("s", name, "s", source, "s", destination),
                                SD_BUS_NO_RESULT, method_copy_to_by_name, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CopyFromMachineWithFlags",
                                SD_BUS_ARGS("s", name, "s", source, "s", destination, "t", flags),
                                SD_BUS_NO_RESULT, method_copy_from_with_flags_by_name, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CopyToMachineWithFlags",
                                SD_BUS_ARGS("s", name, "s", source, "s", destination, "t", flags),
                                SD_BUS_NO_RESULT, method_copy_to_with_flags_by_name, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

const sd_bus_vtable files_machine_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("BindMount",
                                SD_BUS_ARGS("s", source, "s", destination, "b", read_only, "b", mkdir),
                                SD_BUS_NO_RESULT, method_bind, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CopyFrom", SD_BUS_ARGS("s", source, "s", destination),
                                SD_BUS_NO_RESULT, method_copy_from, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CopyTo", SD_BUS_ARGS("s", source, "s", destination),
                                SD_BUS_NO_RESULT, method_copy_to, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CopyFromWithFlags", SD_BUS_ARGS("s", source, "s", destination, "t", flags),
                                SD_BUS_NO_RESULT, method_copy_from_with_flags, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CopyToWithFlags", SD_BUS_ARGS("s", source, "s", destination, "t", flags),
                                SD_BUS_NO_RESULT, method_copy_to_with_flags, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};
