/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* btrfs subvolumes, snapshots, the read-only flag and quota groups, through the kernel's ioctls (never the btrfs tool). */
#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "btrfs-util.h"
#include "macro.h"

/* btrfs keeps its items little-endian; so does every machine berth runs on today, but say so. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "btrfs-util.c reads btrfs items as little-endian"
#endif

int btrfs_is_subvol_fd(int fd) {
        struct statfs sfs;
        struct stat st;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        /* The top directory of every subvolume has inode 256 (BTRFS_FIRST_FREE_OBJECTID). */
        if (!S_ISDIR(st.st_mode) || st.st_ino != BTRFS_FIRST_FREE_OBJECTID)
                return 0;
        if (fstatfs(fd, &sfs) < 0)
                return negative_errno();
        return sfs.f_type == BTRFS_SUPER_MAGIC;
}

static int check_name(const char *name) {
        if (isempty(name) || strlen(name) > BTRFS_SUBVOL_NAME_MAX || strchr(name, '/') ||
            streq(name, ".") || streq(name, ".."))
                return -EINVAL;
        return 0;
}

int btrfs_subvol_make_at(int dir_fd, const char *name) {
        struct btrfs_ioctl_vol_args args = {};
        int r;

        r = check_name(name);
        if (r < 0)
                return r;
        strncpy(args.name, name, sizeof(args.name) - 1);
        return RET_NERRNO(ioctl(dir_fd, BTRFS_IOC_SUBVOL_CREATE, &args));
}

int btrfs_subvol_snapshot_at(int src_fd, int dest_dir_fd, const char *dest_name, bool read_only) {
        struct btrfs_ioctl_vol_args_v2 args = {
                .fd = src_fd,
                .flags = read_only ? BTRFS_SUBVOL_RDONLY : 0,
        };
        int r;

        r = check_name(dest_name);
        if (r < 0)
                return r;
        strncpy(args.name, dest_name, sizeof(args.name) - 1);
        return RET_NERRNO(ioctl(dest_dir_fd, BTRFS_IOC_SNAP_CREATE_V2, &args));
}

int btrfs_subvol_get_read_only_fd(int fd) {
        uint64_t flags;

        if (ioctl(fd, BTRFS_IOC_SUBVOL_GETFLAGS, &flags) < 0)
                return negative_errno();
        return !!(flags & BTRFS_SUBVOL_RDONLY);
}

int btrfs_subvol_set_read_only_fd(int fd, bool ro) {
        uint64_t flags, n;

        if (ioctl(fd, BTRFS_IOC_SUBVOL_GETFLAGS, &flags) < 0)
                return negative_errno();
        n = ro ? (flags | BTRFS_SUBVOL_RDONLY) : (flags & ~(uint64_t) BTRFS_SUBVOL_RDONLY);
        if (n == flags)
                return 0;
        return RET_NERRNO(ioctl(fd, BTRFS_IOC_SUBVOL_SETFLAGS, &n));
}

/* The id of the subvolume FD is in (its tree id). */
static int subvol_id_fd(int fd, uint64_t *ret) {
        struct btrfs_ioctl_ino_lookup_args args = {
                .objectid = BTRFS_FIRST_FREE_OBJECTID,
        };

        if (ioctl(fd, BTRFS_IOC_INO_LOOKUP, &args) < 0)
                return negative_errno();
        *ret = args.treeid;
        return 0;
}

/* Finds one subvolume directly below subvolume ID (a ROOT_REF item in the tree of tree roots):
 * its id, the inode of the directory holding it (in ID's tree) and its name. 0 if there is
 * none, 1 if found. */
static int subvol_first_child(int fd, uint64_t id, uint64_t *ret_child, uint64_t *ret_dirid,
                              char ret_name[static BTRFS_SUBVOL_NAME_MAX + 1]) {
        struct btrfs_ioctl_search_args args = {
                .key = {
                        .tree_id = BTRFS_ROOT_TREE_OBJECTID,
                        .min_objectid = id,
                        .max_objectid = id,
                        .min_type = BTRFS_ROOT_REF_KEY,
                        .max_type = BTRFS_ROOT_REF_KEY,
                        .max_offset = UINT64_MAX,
                        .max_transid = UINT64_MAX,
                        .nr_items = 16,
                },
        };
        size_t off = 0;

        if (ioctl(fd, BTRFS_IOC_TREE_SEARCH, &args) < 0)
                return negative_errno();
        for (unsigned k = 0; k < args.key.nr_items; k++) {
                struct btrfs_ioctl_search_header sh;
                struct btrfs_root_ref ref;
                size_t name_len;

                if (off + sizeof(sh) > sizeof(args.buf))
                        return -EBADMSG;
                memcpy(&sh, args.buf + off, sizeof(sh));
                off += sizeof(sh);
                if (sh.len > sizeof(args.buf) - off)
                        return -EBADMSG;
                if (sh.objectid == id && sh.type == BTRFS_ROOT_REF_KEY && sh.len >= sizeof(ref)) {
                        memcpy(&ref, args.buf + off, sizeof(ref));
                        name_len = ref.name_len;
                        if (name_len == 0 || name_len > BTRFS_SUBVOL_NAME_MAX ||
                            sizeof(ref) + name_len > sh.len)
                                return -EBADMSG;
                        memcpy(ret_name, args.buf + off + sizeof(ref), name_len);
                        ret_name[name_len] = '\0';
                        *ret_child = sh.offset;
                        *ret_dirid = ref.dirid;
                        return 1;
                }
                off += sh.len;
        }
        return 0;
}

/* Opens the directory inode DIRID of subvolume ID, whose top is open at FD, without following
 * any symlink (the path comes from the file system, but the tree may be someone else's). */
static int open_subvol_dir(int fd, uint64_t id, uint64_t dirid) {
        struct btrfs_ioctl_ino_lookup_args args = {
                .treeid = id,
                .objectid = dirid,
        };
        struct open_how how = {
                .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS,
        };
        int r;

        if (dirid == BTRFS_FIRST_FREE_OBJECTID)
                return RET_NERRNO(fcntl(fd, F_DUPFD_CLOEXEC, 3));
        if (ioctl(fd, BTRFS_IOC_INO_LOOKUP, &args) < 0)
                return negative_errno();
        args.name[sizeof(args.name) - 1] = '\0';
        r = (int) syscall(SYS_openat2, fd, isempty(args.name) ? "." : args.name, &how, sizeof(how));
        return r < 0 ? negative_errno() : r;
}

/* Removes the qgroup of a subvolume that is gone; quota may be off, or the kernel may have
 * removed it already: nothing to report either way. */
static void qgroup_forget(int fd, uint64_t id) {
        struct btrfs_ioctl_qgroup_create_args args = {
                .create = 0,
                .qgroupid = id,
        };

        (void) ioctl(fd, BTRFS_IOC_QGROUP_CREATE, &args);
}

static int subvol_remove_at(int dir_fd, const char *name, unsigned depth) {
        struct btrfs_ioctl_vol_args_v2 args = {};
        _cleanup_close_ int fd = -EBADF;
        uint64_t id;
        int r;

        r = check_name(name);
        if (r < 0)
                return r;
        if (depth > 256)
                return -ELOOP;
        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return negative_errno();
        r = btrfs_is_subvol_fd(fd);
        if (r <= 0)
                return r < 0 ? r : -ENOTTY;
        r = subvol_id_fd(fd, &id);
        if (r < 0)
                return r;
        /* The entries of nested subvolumes can only go while this one is writable. */
        r = btrfs_subvol_set_read_only_fd(fd, false);
        if (r < 0)
                return r;

        for (;;) {
                char child_name[BTRFS_SUBVOL_NAME_MAX + 1];
                _cleanup_close_ int child_dir = -EBADF;
                uint64_t child, dirid;

                r = subvol_first_child(fd, id, &child, &dirid, child_name);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                child_dir = open_subvol_dir(fd, id, dirid);
                if (child_dir < 0)
                        return child_dir;
                r = subvol_remove_at(child_dir, child_name, depth + 1);
                if (r < 0)
                        return r;
        }

        strncpy(args.name, name, sizeof(args.name) - 1);
        if (ioctl(dir_fd, BTRFS_IOC_SNAP_DESTROY_V2, &args) < 0) {
                if (errno != ENOTTY && errno != EINVAL)
                        return negative_errno();
                /* Kernels before 5.7 know only the old ioctl. */
                struct btrfs_ioctl_vol_args old = {};

                strncpy(old.name, name, sizeof(old.name) - 1);
                if (ioctl(dir_fd, BTRFS_IOC_SNAP_DESTROY, &old) < 0)
                        return negative_errno();
        }
        qgroup_forget(dir_fd, id);
        return 0;
}

int btrfs_subvol_remove_at(int dir_fd, const char *name) {
        return subvol_remove_at(dir_fd, name, 0);
}

/* Reads the qgroup item of TYPE for level-0 qgroup ID from the quota tree into BUF (SIZE
 * bytes, the start of the item). -ENOTCONN without quota, -ENOENT if there is no such item. */
static int qgroup_item(int fd, uint64_t id, uint8_t type, void *buf, size_t size) {
        struct btrfs_ioctl_search_args args = {
                .key = {
                        .tree_id = BTRFS_QUOTA_TREE_OBJECTID,
                        .min_objectid = 0,
                        .max_objectid = 0,
                        .min_type = type,
                        .max_type = type,
                        .min_offset = id,
                        .max_offset = id,
                        .max_transid = UINT64_MAX,
                        .nr_items = 1,
                },
        };
        struct btrfs_ioctl_search_header sh;

        if (ioctl(fd, BTRFS_IOC_TREE_SEARCH, &args) < 0)
                return errno == ENOENT ? -ENOTCONN : negative_errno();
        if (args.key.nr_items == 0)
                return -ENOENT;
        memcpy(&sh, args.buf, sizeof(sh));
        if (sh.type != type || sh.offset != id || sh.len < size || sh.len > sizeof(args.buf) - sizeof(sh))
                return -EBADMSG;
        memcpy(buf, args.buf + sizeof(sh), size);
        return 0;
}

int btrfs_qgroup_get_fd(int fd, uint64_t *referenced, uint64_t *exclusive,
                        uint64_t *limit_referenced, uint64_t *limit_exclusive) {
        struct btrfs_qgroup_info_item info;
        struct btrfs_qgroup_limit_item limit;
        uint64_t id;
        int r;

        r = subvol_id_fd(fd, &id);
        if (r < 0)
                return r;
        r = qgroup_item(fd, id, BTRFS_QGROUP_INFO_KEY, &info, sizeof(info));
        if (r < 0)
                return r;
        r = qgroup_item(fd, id, BTRFS_QGROUP_LIMIT_KEY, &limit, sizeof(limit));
        if (r == -ENOENT)
                memset(&limit, 0, sizeof(limit));
        else if (r < 0)
                return r;

        if (referenced)
                *referenced = info.rfer;
        if (exclusive)
                *exclusive = info.excl;
        if (limit_referenced)
                *limit_referenced = (limit.flags & BTRFS_QGROUP_LIMIT_MAX_RFER) ? limit.max_rfer : UINT64_MAX;
        if (limit_exclusive)
                *limit_exclusive = (limit.flags & BTRFS_QGROUP_LIMIT_MAX_EXCL) ? limit.max_excl : UINT64_MAX;
        return 0;
}

/* Turns quota on for FD's file system and waits for the first accounting scan. */
static int quota_enable(int fd) {
        struct btrfs_ioctl_quota_ctl_args args = {
                .cmd = BTRFS_QUOTA_CTL_ENABLE,
        };

        if (ioctl(fd, BTRFS_IOC_QUOTA_CTL, &args) < 0)
                return negative_errno();
        if (ioctl(fd, BTRFS_IOC_QUOTA_RESCAN_WAIT, NULL) < 0 && errno != ENOTCONN)
                return negative_errno();
        return 0;
}

int btrfs_qgroup_set_limit_fd(int fd, uint64_t referenced_max) {
        _cleanup_close_ int parent = -EBADF;
        struct btrfs_ioctl_qgroup_limit_args args = {
                .lim = {
                        .flags = BTRFS_QGROUP_LIMIT_MAX_RFER,
                        /* (u64) -1 is the kernel's "clear this limit". */
                        .max_rfer = referenced_max,
                },
        };
        uint64_t id;
        int r;

        r = btrfs_is_subvol_fd(fd);
        if (r <= 0)
                return r < 0 ? r : -ENOTTY;
        r = subvol_id_fd(fd, &id);
        if (r < 0)
                return r;
        args.qgroupid = id;
        r = btrfs_qgroup_get_fd(fd, NULL, NULL, NULL, NULL);
        if (r == -ENOTCONN) {
                r = quota_enable(fd);
                if (r < 0)
                        return r;
        } else if (r < 0 && r != -ENOENT)
                return r;
        if (r == -ENOENT) {
                /* A subvolume made while quota was being enabled may lack its qgroup. */
                struct btrfs_ioctl_qgroup_create_args c = { .create = 1, .qgroupid = args.qgroupid };

                if (ioctl(fd, BTRFS_IOC_QGROUP_CREATE, &c) < 0 && errno != EEXIST)
                        return negative_errno();
        }
        /* The ioctl joins a transaction of the subvolume it is called on, which a limit already
         * exceeded refuses with EDQUOT: call it from the parent directory (another subvolume),
         * naming the qgroup. */
        parent = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (parent >= 0 && ioctl(parent, BTRFS_IOC_QGROUP_LIMIT, &args) >= 0)
                return 0;
        return RET_NERRNO(ioctl(fd, BTRFS_IOC_QGROUP_LIMIT, &args));
}
