/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The container's file system: its root, the API file systems, masks, custom mounts, and the
 * pivot into it.
 *
 * Everything is done with the fd-based mount API: every mount point inside the tree is opened
 * with openat2(RESOLVE_IN_ROOT) and mounts are attached to that fd, so a symlink planted in the
 * tree (/dev -> /somewhere/on/the/host) can never redirect a mount out of it (probes A01, A02). */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "fd-util.h"
#include "log.h"
#include "mount.h"
#include "resolve.h"
#include "resources.h"
#include "strv.h"

#define STAGING_DIR RUNTIME_DIR "/staging"

/* The classic mount flags for MOUNT_ATTR_* bits. */
static unsigned long attrs_to_flags(unsigned attrs) {
        return (attrs & MOUNT_ATTR_RDONLY ? MS_RDONLY : 0) | (attrs & MOUNT_ATTR_NOSUID ? MS_NOSUID : 0) |
               (attrs & MOUNT_ATTR_NODEV ? MS_NODEV : 0) | (attrs & MOUNT_ATTR_NOEXEC ? MS_NOEXEC : 0);
}

#define READ_ONLY_ATTRS (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)

/* Mounts a new FSTYPE instance with KEY=VALUE options on TARGET, a /proc/self/fd path; PATH
 * names it in messages. */
static int mount_fs_on(const char *target, const char *path, const char *fstype, char *const *options,
                       unsigned attrs) {
        char data[512] = "";
        size_t n = 0;

        STRV_FOREACH(o, options) {
                int k = snprintf(data + n, sizeof(data) - n, "%s%s", n > 0 ? "," : "", *o);
                if (k < 0 || (size_t) k >= sizeof(data) - n)
                        return log_error_errno(-E2BIG, "Mount options for %s are too long.", path);
                n += (size_t) k;
        }
        if (mount(fstype, target, fstype, attrs_to_flags(attrs), n > 0 ? data : NULL) < 0)
                return log_error_errno(negative_errno(), "Failed to mount %s on %s: %m", fstype, path);
        return 0;
}

/* Makes a new file system instance with KEY=VALUE options and attaches it at PATH in the tree.
 * The target is the fd resolved inside the root, reached through its /proc/self/fd link (which
 * leads to exactly that dentry, whatever the tree's symlinks say): one mount(2) instead of the
 * fsopen/fsconfig-per-option/fsmount/move_mount sequence, at every start. */
static int mount_fs_at(int root_fd, const char *path, const char *fstype, char *const *options,
                       unsigned attrs) {
        _cleanup_close_ int target_fd = -EBADF;
        char target[64];

        target_fd = mkdir_p_in_root(root_fd, path, 0755);
        if (target_fd < 0)
                return log_error_errno(target_fd, "Failed to make the mount point %s: %m", path);
        snprintf(target, sizeof(target), "/proc/self/fd/%d", target_fd);
        return mount_fs_on(target, path, fstype, options, attrs);
}

/* The same on the directory NAME in DIR_FD, a file system berth mounted a moment ago (our /dev
 * tmpfs): nothing of the tree is in there, so NAME needs no walk from the root. */
static int mount_fs_in(int dir_fd, const char *name, const char *fstype, char *const *options,
                       unsigned attrs) {
        char target[64 + NAME_MAX];

        snprintf(target, sizeof(target), "/proc/self/fd/%d/%s", dir_fd, name);
        return mount_fs_on(target, name, fstype, options, attrs);
}

/* Makes NAME in DIR_FD (already a mount or not; "" for DIR_FD itself) a read-only bind of
 * itself. DIR_FD is a file system of ours (a fresh proc or tmpfs), so NAME is looked up
 * directly, never following a symlink in its last component. Returns the fd of the new
 * mount in *RET_FD when asked; a missing NAME with OPTIONAL is fine. */
static int read_only_in(int dir_fd, const char *name, bool optional, int *ret_fd) {
        struct mount_attr a = { .attr_set = READ_ONLY_ATTRS };
        bool self = isempty(name);
        _cleanup_close_ int tree_fd = open_tree(dir_fd, name, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE |
                                                AT_SYMLINK_NOFOLLOW | (self ? AT_EMPTY_PATH : 0));

        if (tree_fd < 0) {
                if (optional && errno == ENOENT)
                        return 0;
                return log_error_errno(negative_errno(), "Failed to clone the mount %s: %m", strempty(name));
        }
        if (mount_setattr(tree_fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0)
                return log_error_errno(negative_errno(), "Failed to make %s read-only: %m", strempty(name));
        if (move_mount(tree_fd, "", dir_fd, name, MOVE_MOUNT_F_EMPTY_PATH | (self ? MOVE_MOUNT_T_EMPTY_PATH : 0)) < 0)
                return log_error_errno(negative_errno(), "Failed to attach a read-only %s: %m", strempty(name));
        if (ret_fd)
                *ret_fd = TAKE_FD(tree_fd);
        return 0;
}

/* A new file NAME in DIR_FD, a directory of a tmpfs we mounted a moment ago: nothing can be in
 * the way, so it is written in place (write_file_in_root's rename dance is for the tree). */
static int create_file_in(int dir_fd, const char *name, const char *content, mode_t mode) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, mode);
        int r;

        if (fd < 0)
                return negative_errno();
        r = write_all(fd, content, strlen(content));
        if (r < 0)
                return r;
        /* The umask berth-spawn was started with must not decide the mode. */
        return fchmod(fd, mode) < 0 ? negative_errno() : 0;
}

/* Clones the mount (tree) at FROM_FD/FROM_PATH, applies ATTRS and attaches it at PATH in the
 * tree. A missing source with OPTIONAL is fine. */
static int bind_at(int from_fd, const char *from_path, int root_fd, const char *path,
                   bool recursive, unsigned attrs, int userns_fd, bool optional) {
        _cleanup_close_ int tree_fd = -EBADF, target_fd = -EBADF;
        struct stat st;

        tree_fd = open_tree(from_fd, from_path,
                            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH |
                            (recursive ? AT_RECURSIVE : 0));
        if (tree_fd < 0) {
                if (optional && errno == ENOENT)
                        return 0;
                return log_error_errno(negative_errno(), "Failed to clone the mount %s for %s: %m",
                                       isempty(from_path) ? "(fd)" : from_path, path);
        }
        if (attrs) {
                struct mount_attr a = { .attr_set = attrs, .userns_fd = (uint64_t) userns_fd };

                if (mount_setattr(tree_fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0),
                                  &a, sizeof(a)) < 0)
                        return log_error_errno(negative_errno(), "Failed to set mount attributes for %s: %m", path);
        }
        if (fstat(tree_fd, &st) < 0)
                return negative_errno();
        target_fd = mount_point_in_root(root_fd, path, !S_ISDIR(st.st_mode), S_ISDIR(st.st_mode) ? 0755 : 0644);
        if (target_fd < 0)
                return log_error_errno(target_fd, "Failed to make the mount point %s: %m", path);
        if (move_mount(tree_fd, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return log_error_errno(negative_errno(), "Failed to attach a bind mount on %s: %m", path);
        return 0;
}

static char *uid_opt(const char *key, uid_t id) {
        char *s = NULL;

        return asprintf(&s, "%s=%u", key, (unsigned) id) < 0 ? NULL : s;
}

/* tmpfs with mode and owner set so the container's root owns it in a user namespace too. */
static int mount_tmpfs_at(int root_fd, const char *path, const char *mode, const char *size,
                          uid_t owner, unsigned attrs) {
        _cleanup_free_ char *uid = uid_opt("uid", owner), *gid = uid_opt("gid", owner);
        char *opts[] = { (char *) mode, uid, gid, (char *) size, NULL };

        if (!uid || !gid)
                return log_oom();
        return mount_fs_at(root_fd, path, "tmpfs", opts, attrs);
}

/* The root of the container, attached somewhere we can pivot into; returns its path. */
static int setup_snapshot_root(const MountContext *c, int staging_fd, unsigned attrs, char **ret_path);

static int setup_root(const MountContext *c, char **ret_path) {
        const Settings *s = c->settings;
        unsigned attrs = MOUNT_ATTR_NODEV | (c->idmap_root ? MOUNT_ATTR_IDMAP : 0);
        _cleanup_close_ int host_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        int staging_fd, r;

        if (host_fd < 0)
                return negative_errno();

        if (!s->ephemeral && s->volatile_mode == VOLATILE_NO) {
                /* Attach a clone of the tree over its own path: only this namespace sees it. A raw
                 * image's tree is its partitions mounted on each other: all of them come along. */
                r = bind_at(AT_FDCWD, c->directory, host_fd, c->directory, s->image != NULL,
                            attrs | (s->read_only ? MOUNT_ATTR_RDONLY : 0), c->userns_fd, false);
                if (r < 0)
                        return r;
                *ret_path = strdup(c->directory);
                return *ret_path ? 0 : log_oom();
        }

        /* Snapshot modes need a scratch tmpfs, mounted on a directory of ours in this private
         * namespace: it vanishes with the namespace, so nothing is left to clean after a crash. */
        if (mkdir(RUNTIME_DIR, 0755) < 0 && errno != EEXIST)
                return log_error_errno(negative_errno(), "Failed to create %s: %m", RUNTIME_DIR);
        if (mkdir(STAGING_DIR, 0700) < 0 && errno != EEXIST)
                return log_error_errno(negative_errno(), "Failed to create %s: %m", STAGING_DIR);
        r = mount_tmpfs_at(host_fd, STAGING_DIR, "mode=0755", NULL, c->uid_shift, MOUNT_ATTR_NODEV);
        if (r < 0)
                return r;
        staging_fd = open(STAGING_DIR, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (staging_fd < 0)
                return negative_errno();
        r = setup_snapshot_root(c, staging_fd, attrs, ret_path);
        safe_close(staging_fd);
        return r;
}

/* A merged-/usr tree has /bin, /sbin, /lib... as links into /usr: an empty root needs them too,
 * or nothing could run before an init recreated them. Only links pointing into usr/ are copied. */
static int copy_usr_links(int tree_fd, int staging_fd) {
        static const char *const names[] = { "bin", "sbin", "lib", "lib32", "lib64", "libx32" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                char target[64];
                ssize_t n = readlinkat(tree_fd, names[i], target, sizeof(target) - 1);

                if (n < 0)
                        continue;
                target[n] = 0;
                if (!startswith(target, "usr/") && !startswith(target, "/usr/"))
                        continue;
                if (symlinkat(target, staging_fd, names[i]) < 0 && errno != EEXIST)
                        return negative_errno();
        }
        return 0;
}

/* A raw image's /usr, /home, /srv and /efi are file systems of their own, and an overlay does not
 * cross into them: each gets an overlay of its own over the root's, its upper layer in the scratch
 * tmpfs as well, so writes there never reach the image either. */
static int overlay_image_submounts(const MountContext *c, int staging_fd, unsigned attrs, const char *root) {
        static const char *const subs[] = { "usr", "home", "srv", "efi" };
        _cleanup_close_ int tree_fd = -EBADF, root_fd = -EBADF;
        struct stat tree_st;
        int r;

        if (!c->settings->image)
                return 0;
        tree_fd = open(c->directory, O_PATH | O_DIRECTORY | O_CLOEXEC);
        root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (tree_fd < 0 || root_fd < 0 || fstat(tree_fd, &tree_st) < 0)
                return negative_errno();
        for (size_t i = 0; i < ELEMENTSOF(subs); i++) {
                _cleanup_close_ int sub_fd = open_in_root(tree_fd, subs[i], O_PATH | O_DIRECTORY, 0);
                _cleanup_close_ int target_fd = -EBADF;
                _cleanup_free_ char *opts = NULL;
                char lower[32], upper[32], work[32], target[64];
                struct stat st;

                if (sub_fd < 0 || fstat(sub_fd, &st) < 0 || st.st_dev == tree_st.st_dev)
                        continue;  /* not a partition of its own */
                snprintf(lower, sizeof(lower), "lower-%s", subs[i]);
                snprintf(upper, sizeof(upper), "upper-%s", subs[i]);
                snprintf(work, sizeof(work), "work-%s", subs[i]);
                r = bind_at(sub_fd, "", staging_fd, lower, false, attrs | MOUNT_ATTR_RDONLY, c->userns_fd, false);
                if (r < 0)
                        return r;
                if (mkdirat(staging_fd, upper, st.st_mode & 07777) < 0 || mkdirat(staging_fd, work, 0700) < 0 ||
                    fchownat(staging_fd, upper, st.st_uid + (c->idmap_root ? c->uid_shift : 0),
                             st.st_gid + (c->idmap_root ? c->uid_shift : 0), 0) < 0)
                        return negative_errno();
                target_fd = open_in_root(root_fd, subs[i], O_PATH | O_DIRECTORY, 0);
                if (target_fd < 0)
                        return log_error_errno(target_fd, "The image's root has no /%s to mount on: %m", subs[i]);
                if (asprintf(&opts, "lowerdir=%1$s/%2$s,upperdir=%1$s/%3$s,workdir=%1$s/%4$s", STAGING_DIR,
                             lower, upper, work) < 0)
                        return log_oom();
                snprintf(target, sizeof(target), "/proc/self/fd/%d", target_fd);
                if (mount("overlay", target, "overlay", MS_NODEV, opts) < 0)
                        return log_error_errno(negative_errno(), "Failed to mount the ephemeral overlay on /%s: %m",
                                               subs[i]);
        }
        return 0;
}

static int setup_snapshot_root(const MountContext *c, int staging_fd, unsigned attrs, char **ret_path) {
        const Settings *s = c->settings;
        int r;

        if (s->volatile_mode == VOLATILE_YES) {
                /* An empty root with the tree's /usr read-only: a fresh machine at every boot. */
                _cleanup_close_ int tree_fd = open(c->directory, O_PATH | O_DIRECTORY | O_CLOEXEC);
                _cleanup_close_ int usr_fd = -EBADF;

                if (tree_fd < 0)
                        return negative_errno();
                usr_fd = open_in_root(tree_fd, "/usr", O_PATH | O_DIRECTORY, 0);
                if (usr_fd < 0)
                        return log_error_errno(usr_fd, "The tree has no /usr for --volatile=yes: %m");
                r = bind_at(usr_fd, "", staging_fd, "/usr", false, attrs | MOUNT_ATTR_RDONLY,
                            c->userns_fd, false);
                if (r < 0)
                        return r;
                r = copy_usr_links(tree_fd, staging_fd);
                if (r < 0)
                        return log_error_errno(r, "Failed to link /bin, /sbin and /lib into /usr: %m");
                *ret_path = strdup(STAGING_DIR);
                return *ret_path ? 0 : log_oom();
        }

        if (s->volatile_mode == VOLATILE_STATE) {
                r = bind_at(AT_FDCWD, c->directory, staging_fd, "/root", s->image != NULL,
                            attrs | MOUNT_ATTR_RDONLY, c->userns_fd, false);
                if (r < 0)
                        return r;
                if (asprintf(ret_path, "%s/root", STAGING_DIR) < 0)
                        return log_oom();
                _cleanup_close_ int root_fd = open(*ret_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (root_fd < 0)
                        return negative_errno();
                return mount_tmpfs_at(root_fd, "/var", "mode=0755", NULL, c->uid_shift,
                                      MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
        }

        /* --ephemeral and --volatile=overlay: the tree is the lower layer of an overlay whose
         * upper layer is the scratch tmpfs, so writes never reach the tree. */
        {
                _cleanup_free_ char *opts = NULL, *root = NULL;
                struct stat st;

                if (stat(c->directory, &st) < 0)
                        return log_error_errno(negative_errno(), "Failed to stat %s: %m", c->directory);
                r = bind_at(AT_FDCWD, c->directory, staging_fd, "/lower", false,
                            attrs | MOUNT_ATTR_RDONLY, c->userns_fd, false);
                if (r < 0)
                        return r;
                if (mkdirat(staging_fd, "upper", st.st_mode & 07777) < 0 ||
                    mkdirat(staging_fd, "work", 0700) < 0 || mkdirat(staging_fd, "root", 0755) < 0)
                        return negative_errno();
                /* The overlay's root takes the upper dir's owner: the owner the tree's root has
                 * inside the container. */
                if (fchownat(staging_fd, "upper", st.st_uid + (c->idmap_root ? c->uid_shift : 0),
                             st.st_gid + (c->idmap_root ? c->uid_shift : 0), 0) < 0)
                        return negative_errno();
                if (asprintf(&opts, "lowerdir=%1$s/lower,upperdir=%1$s/upper,workdir=%1$s/work",
                             STAGING_DIR) < 0 || asprintf(&root, "%s/root", STAGING_DIR) < 0)
                        return log_oom();
                if (mount("overlay", root, "overlay", MS_NODEV, opts) < 0)
                        return log_error_errno(negative_errno(), "Failed to mount the ephemeral overlay: %m");
                r = overlay_image_submounts(c, staging_fd, attrs, root);
                if (r < 0)
                        return r;
                *ret_path = TAKE_PTR(root);
                return 0;
        }
}

/* HOST_FD is the read-only /run/host mount (setup_run()). */
static int setup_proc(const MountContext *c, int root_fd, int host_fd) {
        /* timer_list, which every kernel has, comes last: a clone left over by missing files
         * would be dissolved on close, and that waits for an RCU grace period. */
        static const char *const masked[] = {
                "kcore", "sysrq-trigger", "latency_stats", "sched_debug", "kpagecount",
                "kpageflags", "kpagecgroup", "keys", "kallsyms", "timer_list",
        };
        static const char *const read_only[] = {
                "acpi", "apm", "asound", "bus", "fs", "irq", "scsi",
        };
        _cleanup_close_ int proc_fd = -EBADF, net_fd = -EBADF, inacc_fd = -EBADF, mask_fd = -EBADF;
        int r;

        r = mount_fs_at(root_fd, "/proc", "proc", NULL,
                        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (r < 0)
                return r;
        /* Our own proc instance from here on: what is below it is the kernel's, not the tree's,
         * so its names are looked up from it directly (never following a last symlink). */
        proc_fd = open_in_root(root_fd, "/proc", O_PATH | O_DIRECTORY, 0);
        if (proc_fd < 0)
                return log_error_errno(proc_fd, "Failed to open /proc: %m");

        /* /proc/sys is the host kernel's: read-only, except the network part of a private
         * network namespace, which belongs to the container. Clone it before sealing. */
        if (c->private_network) {
                net_fd = open_tree(proc_fd, "sys/net", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
                if (net_fd < 0)
                        return log_error_errno(negative_errno(), "Failed to clone /proc/sys/net: %m");
        }
        r = read_only_in(proc_fd, "sys", false, NULL);
        if (r < 0)
                return r;
        if (net_fd >= 0 && move_mount(net_fd, "", proc_fd, "sys/net", MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return log_error_errno(negative_errno(), "Failed to attach /proc/sys/net: %m");

        /* Kernel internals: covered by an empty, read-only file, so reads give nothing and
         * opening for writing (sysrq-trigger) fails with EROFS even for container root. */
        inacc_fd = openat(host_fd, "inaccessible", O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (inacc_fd < 0)
                return log_error_errno(negative_errno(), "Failed to open /run/host/inaccessible: %m");
        for (size_t i = 0; i < ELEMENTSOF(masked); i++) {
                if (mask_fd < 0) {
                        struct mount_attr a = { .attr_set = READ_ONLY_ATTRS };

                        mask_fd = open_tree(inacc_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
                        if (mask_fd < 0)
                                return log_error_errno(negative_errno(), "Failed to clone /run/host/inaccessible: %m");
                        if (mount_setattr(mask_fd, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0)
                                return log_error_errno(negative_errno(), "Failed to set mount attributes for /proc/%s: %m",
                                                       masked[i]);
                }
                if (move_mount(mask_fd, "", proc_fd, masked[i], MOVE_MOUNT_F_EMPTY_PATH) < 0) {
                        /* Not every kernel has every file (no kcore without CONFIG_PROC_KCORE):
                         * the unused clone serves the next one. */
                        if (errno == ENOENT)
                                continue;
                        return log_error_errno(negative_errno(), "Failed to mask /proc/%s: %m", masked[i]);
                }
                mask_fd = safe_close(mask_fd);
        }
        for (size_t i = 0; i < ELEMENTSOF(read_only); i++) {
                r = read_only_in(proc_fd, read_only[i], true, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int setup_sys(int root_fd) {
        int r;

        r = mount_fs_at(root_fd, "/sys", "sysfs", NULL,
                        MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (r < 0)
                return r;
        /* Our cgroup namespace makes this the container's own subtree, writable by it. */
        return mount_fs_at(root_fd, "/sys/fs/cgroup", "cgroup2", NULL,
                           MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
}

/* Through an idmapped root, only IDs the container knows can create files: host root cannot
 * (EOVERFLOW). Mount points and files in the tree are therefore made as the container's root.
 * The fs capabilities (CAP_MKNOD among them) drop while the fsuid is not 0, so device nodes are
 * made with the fsuid back at 0. */
static void set_fsids(uid_t id) {
        (void) setfsuid(id);
        (void) setfsgid(id);
}

static int setup_dev(const MountContext *c, int root_fd) {
        static const struct {
                const char *name;
                unsigned major, minor;
        } nodes[] = {
                { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
                { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
        };
        static const char *const links[][2] = {
                { "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" },
                { "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
                { "ptmx", "pts/ptmx" },
        };
        _cleanup_close_ int dev_fd = -EBADF;
        _cleanup_free_ char *gid = uid_opt("gid", c->uid_shift + 5);
        char *pts_opts[] = { (char *) "newinstance", (char *) "ptmxmode=0666", (char *) "mode=0620", gid, NULL };
        mode_t old_umask;
        int r;

        if (!gid)
                return log_oom();
        r = mount_tmpfs_at(root_fd, "/dev", "mode=0755", "size=4m", c->uid_shift, MOUNT_ATTR_NOSUID);
        if (r < 0)
                return r;
        dev_fd = open_in_root(root_fd, "/dev", O_PATH | O_DIRECTORY, 0);
        if (dev_fd < 0)
                return dev_fd;

        set_fsids(0);
        /* mknod honours the umask; the nodes must be usable by everyone. */
        old_umask = umask(0);
        for (size_t i = 0; i < ELEMENTSOF(nodes); i++) {
                if (mknodat(dev_fd, nodes[i].name, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)) < 0) {
                        r = log_error_errno(negative_errno(), "Failed to create /dev/%s: %m", nodes[i].name);
                        break;
                }
                if (c->uid_shift && fchownat(dev_fd, nodes[i].name, c->uid_shift, c->uid_shift, 0) < 0) {
                        r = negative_errno();
                        break;
                }
        }
        (void) umask(old_umask);
        /* Device=: the nodes asked for, beside the standard ones (resources.c). */
        if (r >= 0)
                r = resources_make_nodes(c->settings, dev_fd, c->uid_shift);
        if (c->idmap_root)
                set_fsids(c->uid_shift);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(links); i++)
                if (symlinkat(links[i][1], dev_fd, links[i][0]) < 0)
                        return negative_errno();
        if (mkdirat(dev_fd, "pts", 0755) < 0 || mkdirat(dev_fd, "shm", 01777) < 0 ||
            mkdirat(dev_fd, "mqueue", 0755) < 0)
                return negative_errno();

        /* The directories just made in our /dev tmpfs: mounted on through DEV_FD. */
        r = mount_fs_in(dev_fd, "pts", "devpts", pts_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
        if (r < 0)
                return r;
        {
                _cleanup_free_ char *uid = uid_opt("uid", c->uid_shift), *shm_gid = uid_opt("gid", c->uid_shift);
                char *shm_opts[] = { (char *) "mode=01777", uid, shm_gid, (char *) "size=20%", NULL };

                if (!uid || !shm_gid)
                        return log_oom();
                r = mount_fs_in(dev_fd, "shm", "tmpfs", shm_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        }
        if (r < 0)
                return r;
        r = mount_fs_in(dev_fd, "mqueue", "mqueue", NULL,
                        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (r < 0)
                return r;
        if (c->console_path) {
                r = bind_at(AT_FDCWD, c->console_path, root_fd, "/dev/console", false,
                            MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, -1, false);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* /run/host: what the host tells the container (os-release, the notify socket, the files
 * used to mask kernel interfaces), read-only once set up. Returns our /run tmpfs in *RET_RUN_FD
 * and the read-only /run/host mount in *RET_HOST_FD. */
static int setup_run(const MountContext *c, int root_fd, int *ret_run_fd, int *ret_host_fd, int *ret_notify_fd) {
        _cleanup_close_ int run_fd = -EBADF, host_fd = -EBADF, host_ro_fd = -EBADF, notify_fd = -EBADF,
                        cwd_fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "notify" };
        int r, one = 1;

        r = mount_tmpfs_at(root_fd, "/run", "mode=0755", "size=20%", c->uid_shift,
                           MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (r < 0)
                return r;
        /* Resolved like the mount point was, so this is our empty tmpfs: below it, plain *at(). */
        run_fd = open_in_root(root_fd, "/run", O_PATH | O_DIRECTORY, 0);
        if (run_fd < 0)
                return log_error_errno(run_fd, "Failed to open /run: %m");
        if (mkdirat(run_fd, "host", 0755) < 0)
                return log_error_errno(negative_errno(), "Failed to create /run/host: %m");
        host_fd = openat(run_fd, "host", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (host_fd < 0)
                return negative_errno();

        if (c->os_release) {
                r = create_file_in(host_fd, "os-release", c->os_release, 0444);
                if (r < 0)
                        return log_error_errno(r, "Failed to write /run/host/os-release: %m");
        }
        if (mknodat(host_fd, "inaccessible", S_IFREG | 0000, 0) < 0 ||
            fchmodat(host_fd, "inaccessible", 0000, 0) < 0)
                return log_error_errno(negative_errno(), "Failed to create /run/host/inaccessible: %m");
        r = create_file_in(host_fd, "container-manager", "berth\n", 0444);
        if (r < 0)
                return r;

        /* bind() takes a path: bind relative to /run/host via the cwd, never via a string
         * that the tree could redirect. */
        notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (notify_fd < 0)
                return negative_errno();
        cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cwd_fd < 0 || fchdir(host_fd) < 0)
                return negative_errno();
        r = bind(notify_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ? negative_errno() : 0;
        (void) fchdir(cwd_fd);
        if (r < 0)
                return log_error_errno(r, "Failed to bind /run/host/notify: %m");
        if (fchmodat(host_fd, "notify", 0777, 0) < 0 ||
            setsockopt(notify_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
                return negative_errno();

        r = read_only_in(host_fd, "", false, &host_ro_fd);
        if (r < 0)
                return r;
        *ret_run_fd = TAKE_FD(run_fd);
        *ret_host_fd = TAKE_FD(host_ro_fd);
        *ret_notify_fd = TAKE_FD(notify_fd);
        return 0;
}

/* A transient machine ID for trees that have none (missing or empty). systemd trees are left
 * alone: systemd makes its own transient ID from $container_uuid and later commits it, which a
 * mount of ours (locked in a user namespace) would make impossible. */
/* RUN_FD is our /run tmpfs (setup_run()). */
static int setup_machine_id(const MountContext *c, int root_fd, int run_fd) {
        _cleanup_free_ char *line = NULL, *old = NULL;
        _cleanup_close_ int src = -EBADF, target = -EBADF;
        int r;

        if (c->init_kind == INIT_SYSTEMD && c->settings->boot)
                return 0;
        r = read_file_in_root(root_fd, "/etc/machine-id", 4096, &old);
        if (r >= 0 && strspn(old, " \n\t") != strlen(old))
                return 0;
        if (r < 0 && r != -ENOENT)
                return 0; /* something odd the OS put there (a FIFO, a huge file): its business */
        if (asprintf(&line, "%s\n", c->machine_id) < 0)
                return log_oom();
        r = create_file_in(run_fd, "machine-id", line, 0444);
        if (r < 0)
                return r;
        /* A read-only tree cannot get the mount point: then the ID lives in /run only. */
        target = mount_point_in_root(root_fd, "/etc/machine-id", true, 0444);
        if (target == -EROFS)
                return 0;
        if (target < 0)
                return log_error_errno(target, "Failed to make the mount point /etc/machine-id: %m");
        src = open_tree(run_fd, "machine-id", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (src < 0)
                return log_error_errno(negative_errno(), "Failed to clone /run/machine-id: %m");
        if (move_mount(src, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return log_error_errno(negative_errno(), "Failed to mount /etc/machine-id: %m");
        return 0;
}

static int setup_custom_mounts(const MountContext *c, int root_fd) {
        const Settings *s = c->settings;
        int r;

        for (size_t i = 0; i < s->n_mounts; i++) {
                const CustomMount *m = &s->mounts[i];

                switch (m->type) {
                case CUSTOM_MOUNT_BIND:
                case CUSTOM_MOUNT_BIND_RO: {
                        bool idmap = m->options && streq(m->options, "idmap") && c->userns_fd >= 0;
                        unsigned attrs = MOUNT_ATTR_NODEV |
                                         (m->type == CUSTOM_MOUNT_BIND_RO ? MOUNT_ATTR_RDONLY : 0) |
                                         (idmap ? MOUNT_ATTR_IDMAP : 0);
                        bool recursive = !(m->options && streq(m->options, "norbind"));

                        r = bind_at(AT_FDCWD, m->source, root_fd, m->destination, recursive, attrs,
                                    c->userns_fd, false);
                        break;
                }
                case CUSTOM_MOUNT_TMPFS: {
                        _cleanup_strv_free_ char **opts = NULL;
                        char *save = NULL;
                        _cleanup_free_ char *copy = strdup(strempty(m->options)), *uid = NULL, *gid = NULL;

                        if (!copy)
                                return log_oom();
                        if (!(uid = uid_opt("uid", c->uid_shift)) || !(gid = uid_opt("gid", c->uid_shift)) ||
                            strv_extend(&opts, "mode=0755") < 0 || strv_extend(&opts, uid) < 0 ||
                            strv_extend(&opts, gid) < 0)
                                return log_oom();
                        for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save))
                                if (strv_extend(&opts, o) < 0)
                                        return log_oom();
                        r = mount_fs_at(root_fd, m->destination, "tmpfs", opts, MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
                        break;
                }
                case CUSTOM_MOUNT_OVERLAY_RO:
                        /* overlayfs wants two layers at least when nothing is writable; one
                         * layer read-only is just a read-only bind. */
                        if (strv_length(m->lower) == 1) {
                                r = bind_at(AT_FDCWD, m->lower[0], root_fd, m->destination, true,
                                            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV, -1, false);
                                break;
                        }
                        _fallthrough_;
                case CUSTOM_MOUNT_OVERLAY: {
                        _cleanup_free_ char *lower = NULL, *opts = NULL, *work = NULL;
                        _cleanup_close_ int target = -EBADF;
                        char target_path[64];
                        size_t n = 0;

                        STRV_FOREACH(l, m->lower)
                                n += strlen(*l) + 1;
                        lower = calloc(1, n + 1);
                        if (!lower)
                                return log_oom();
                        /* Written bottom layer first, as nspawn does; overlayfs wants the top first. */
                        for (size_t k = strv_length(m->lower); k > 0; k--) {
                                if (*lower)
                                        strcat(lower, ":");
                                strcat(lower, m->lower[k - 1]);
                        }
                        if (m->upper) {
                                /* overlayfs needs a work dir on the upper's file system. */
                                if (asprintf(&work, "%s/../.berth-overlay-work", m->upper) < 0 ||
                                    (mkdir(work, 0700) < 0 && errno != EEXIST) ||
                                    asprintf(&opts, "lowerdir=%s,upperdir=%s,workdir=%s", lower, m->upper, work) < 0)
                                        return log_error_errno(-errno ?: -ENOMEM, "Failed to prepare overlay %s: %m", m->destination);
                        } else if (asprintf(&opts, "lowerdir=%s", lower) < 0)
                                return log_oom();
                        target = mkdir_p_in_root(root_fd, m->destination, 0755);
                        if (target < 0)
                                return log_error_errno(target, "Failed to make the mount point %s: %m", m->destination);
                        snprintf(target_path, sizeof(target_path), "/proc/self/fd/%d", target);
                        r = mount("overlay", target_path, "overlay",
                                  MS_NODEV | (m->upper ? 0 : MS_RDONLY), opts) < 0 ? negative_errno() : 0;
                        if (r < 0)
                                log_error_errno(r, "Failed to mount the overlay on %s: %m", m->destination);
                        break;
                }
                case _CUSTOM_MOUNT_MAX:
                case _CUSTOM_MOUNT_INVALID:
                default:
                        r = -EINVAL;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

static int pivot_into(int root_fd) {
        /* pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves
         * nothing of the host reachable (probes A36, A37), which chroot alone would not. */
        if (fchdir(root_fd) < 0)
                return log_error_errno(negative_errno(), "Failed to enter the new root: %m");
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                return log_error_errno(negative_errno(), "Failed to pivot into the new root: %m");
        if (umount2(".", MNT_DETACH) < 0)
                return log_error_errno(negative_errno(), "Failed to detach the old root: %m");
        if (chdir("/") < 0)
                return negative_errno();
        return 0;
}

int mount_setup(const MountContext *c, int *ret_notify_fd) {
        _cleanup_free_ char *root_path = NULL;
        _cleanup_close_ int root_fd = -EBADF, notify_fd = -EBADF, run_fd = -EBADF, host_fd = -EBADF;
        int r;

        /* Nothing mounted from here on may propagate back to the host (probe A38). */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return log_error_errno(negative_errno(), "Failed to make our mounts private: %m");

        r = setup_root(c, &root_path);
        if (r < 0)
                return r;
        root_fd = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0)
                return log_error_errno(negative_errno(), "Failed to open the new root %s: %m", root_path);
        if (c->idmap_root)
                set_fsids(c->uid_shift);

        /* /run first: the others use /run/host/inaccessible. */
        r = setup_run(c, root_fd, &run_fd, &host_fd, &notify_fd);
        if (r < 0)
                return r;
        r = setup_proc(c, root_fd, host_fd);
        if (r < 0)
                return r;
        r = setup_sys(root_fd);
        if (r < 0)
                return r;
        r = setup_dev(c, root_fd);
        if (r < 0)
                return r;
        r = mount_tmpfs_at(root_fd, "/tmp", "mode=01777", NULL, c->uid_shift,
                           MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (r < 0)
                return r;
        r = setup_machine_id(c, root_fd, run_fd);
        if (r < 0)
                return r;
        r = setup_custom_mounts(c, root_fd);
        if (r < 0)
                return r;
        r = pivot_into(root_fd);
        if (r < 0)
                return r;
        *ret_notify_fd = TAKE_FD(notify_fd);
        return 0;
}
