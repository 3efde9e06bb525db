/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Making a tree's owners fit a user namespace: a resumable on-disk shift that never leaves the
 * tree, and a probe for idmapped mounts. */

#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "log.h"
#include "macro.h"
#include "ownership.h"

/* How the shift stays correct when it is interrupted (killed, power cut) and run again, and when
 * an inode is reached twice through hard links:
 *
 *  - The tree's current base B is the owner of its root directory, and the root directory is
 *    changed last (its ACLs before its owner). Until that very last chown a rerun sees B again
 *    and walks the whole tree again.
 *  - IDs move by a map that is idempotent: an ID already inside the target range [S, S+range) is
 *    left alone, one inside [B, B+range) moves by S-B. So an inode finished by an interrupted
 *    run, or met again through another hard link, is never moved twice, and no inode table is
 *    needed. (The price: an ID that sat in the target range before the first run stays.)
 *  - That needs the two ranges to be disjoint: where they overlap, an ID in both could be an
 *    unshifted or a shifted one. Such a shift goes in two hops through a "busy" range high up
 *    in the ID space. The busy range depends on the range size only, so a later run with any
 *    other target still recognises inodes an interrupted first hop left there.
 *  - IDs in none of these ranges mean nothing inside the container (the kernel would show them
 *    as the overflow ID). They become the target range's "nobody" (S+65534) rather than stay a
 *    host ID that may belong to another user or container. Shifting back cannot restore them.
 *
 * What remains: chown() drops the set-uid/set-gid bits and file capabilities of a file, and they
 * are put back right after; an interruption between those two calls loses them for that file. */

#define NOBODY_OFFSET UINT32_C(65534)
#define PROC_FD_PATH_MAX (sizeof("/proc/self/fd/") + 12)
#define STATX_WANTED (STATX_TYPE | STATX_MODE | STATX_UID | STATX_GID | STATX_INO | STATX_MNT_ID)

typedef struct IdShift {
        uint32_t from;  /* the tree's base now */
        uint32_t to;    /* the base it moves to */
        uint32_t busy;  /* base of the intermediate range of a two-hop shift */
        uint32_t range;
} IdShift;

static bool id_in_range(uint32_t id, uint32_t base, uint32_t range) {
        return id >= base && (uint64_t) id < (uint64_t) base + range;
}

static bool ranges_overlap(uint32_t a, uint32_t b, uint32_t range) {
        return (uint64_t) a < (uint64_t) b + range && (uint64_t) b < (uint64_t) a + range;
}

/* The highest 64K-aligned range that still leaves (uid_t) -1 out: 0xFFFE0000 for 65536 IDs. */
static uint32_t busy_base(uint32_t range) {
        return (uint32_t) ((UINT32_MAX - (uint64_t) range) & ~UINT64_C(0xFFFF));
}

/* Maps an ID that belongs to the tree; false for a foreign one. */
static bool id_shift_known(const IdShift *s, uint32_t id, uint32_t *ret) {
        if (id_in_range(id, s->to, s->range))
                *ret = id;
        else if (id_in_range(id, s->from, s->range))
                *ret = id - s->from + s->to;
        else if (id_in_range(id, s->busy, s->range))
                *ret = id - s->busy + s->to;
        else
                return false;
        return true;
}

static uint32_t id_shift(const IdShift *s, uint32_t id) {
        uint32_t n;

        if (id_shift_known(s, id, &n))
                return n;
        return s->to + MIN(s->range - 1, NOBODY_OFFSET);
}

static void proc_fd_path(int fd, char buf[static PROC_FD_PATH_MAX]) {
        snprintf(buf, PROC_FD_PATH_MAX, "/proc/self/fd/%i", fd);
}

static bool xattr_absent(int err) {
        return err == ENODATA || err == EOPNOTSUPP;
}

/* Reads a whole xattr: 1 and the value, 0 if it is not there or the filesystem has none. */
static int xattr_read(const char *path, const char *name, void **ret, size_t *ret_size) {
        for (;;) {
                _cleanup_free_ void *buf = NULL;
                ssize_t n, m;

                n = getxattr(path, name, NULL, 0);
                if (n < 0)
                        return xattr_absent(errno) ? 0 : negative_errno();
                buf = malloc((size_t) n + 1);
                if (!buf)
                        return -ENOMEM;
                m = getxattr(path, name, buf, (size_t) n);
                if (m < 0 && errno == ERANGE)
                        continue; /* grew in between */
                if (m < 0)
                        return xattr_absent(errno) ? 0 : negative_errno();
                *ret = TAKE_PTR(buf);
                *ret_size = (size_t) m;
                return 1;
        }
}

/* POSIX ACLs name users and groups by ID (layout in linux/posix_acl_xattr.h). Returns 1 if an
 * entry changed. The kernel validates ACLs when they are set, so a bad one is not ours to fix. */
static int acl_shift(void *buf, size_t size, const IdShift *s) {
        struct posix_acl_xattr_header *h = buf;
        struct posix_acl_xattr_entry *e = (struct posix_acl_xattr_entry *) (h + 1);
        bool changed = false;
        size_t n;

        if (size < sizeof(*h) || (size - sizeof(*h)) % sizeof(*e) != 0 ||
            le32toh(h->a_version) != POSIX_ACL_XATTR_VERSION)
                return -EBADMSG;
        n = (size - sizeof(*h)) / sizeof(*e);
        for (size_t i = 0; i < n; i++) {
                uint16_t tag = le16toh(e[i].e_tag);
                uint32_t id, nid;

                if (tag != ACL_USER && tag != ACL_GROUP)
                        continue;
                id = le32toh(e[i].e_id);
                nid = id_shift(s, id);
                if (nid != id) {
                        e[i].e_id = htole32(nid);
                        changed = true;
                }
        }
        return changed;
}

static int acl_patch(const char *path, const char *name, const IdShift *s) {
        _cleanup_free_ void *buf = NULL;
        size_t size = 0;
        int r;

        r = xattr_read(path, name, &buf, &size);
        if (r <= 0)
                return r;
        r = acl_shift(buf, size, s);
        if (r <= 0)
                return r;
        if (setxattr(path, name, buf, size, XATTR_REPLACE) < 0)
                return negative_errno();
        return 1;
}

/* A v3 file capability is valid only in the user namespace whose root is its rootid, so it moves
 * with the tree. v1/v2 carry no ID and are put back unchanged. A foreign rootid was never valid
 * in this container and is left as it is (it stays not valid there). Returns 1 if changed. */
static int caps_shift(void *buf, size_t size, const IdShift *s) {
        struct vfs_ns_cap_data *c = buf;
        uint32_t id, nid;

        if (size != XATTR_CAPS_SZ_3 ||
            (le32toh(c->magic_etc) & VFS_CAP_REVISION_MASK) != VFS_CAP_REVISION_3)
                return 0;
        id = le32toh(c->rootid);
        if (!id_shift_known(s, id, &nid) || nid == id)
                return 0;
        c->rootid = htole32(nid);
        return 1;
}

/* Moves one inode's owner, ACLs and capabilities. FD is an O_PATH (never a real open, so a FIFO
 * cannot block and no device driver is called) or a directory fd of the inode SX describes. */
static int patch_inode(int fd, const struct statx *sx, const IdShift *s) {
        _cleanup_free_ void *caps = NULL;
        char path[PROC_FD_PATH_MAX];
        uint32_t uid = id_shift(s, sx->stx_uid), gid = id_shift(s, sx->stx_gid);
        bool changed = false, caps_changed = false;
        size_t caps_size = 0;
        int r;

        proc_fd_path(fd, path);
        /* Symlinks carry neither ACLs nor capabilities; their own owner still moves below. */
        if (!S_ISLNK(sx->stx_mode)) {
                /* ACLs go first: for the root directory the owner is the "done" mark. */
                r = acl_patch(path, "system.posix_acl_access", s);
                if (r < 0)
                        return r;
                changed = changed || r > 0;
                if (S_ISDIR(sx->stx_mode)) {
                        r = acl_patch(path, "system.posix_acl_default", s);
                        if (r < 0)
                                return r;
                        changed = changed || r > 0;
                }
        }
        if (S_ISREG(sx->stx_mode)) {
                r = xattr_read(path, "security.capability", &caps, &caps_size);
                if (r < 0)
                        return r;
                if (r > 0)
                        caps_changed = caps_shift(caps, caps_size, s) > 0;
        }

        if (uid != sx->stx_uid || gid != sx->stx_gid) {
                if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
                        return negative_errno();
                changed = true;
        }

        /* chown() of a non-directory drops security.capability and the set-uid/set-gid bits. */
        if (caps && (changed || caps_changed)) {
                if (setxattr(path, "security.capability", caps, caps_size, 0) < 0)
                        return negative_errno();
                changed = true;
        }
        if (changed && !S_ISDIR(sx->stx_mode) && !S_ISLNK(sx->stx_mode) &&
            (sx->stx_mode & (S_ISUID | S_ISGID)) &&
            chmod(path, sx->stx_mode & 07777) < 0)
                return negative_errno();
        return changed;
}

static int statx_fd(int fd, struct statx *ret) {
        if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT, STATX_WANTED,
                  ret) < 0)
                return negative_errno();
        return 0;
}

static bool same_mount(const struct statx *a, const struct statx *b) {
        if (a->stx_dev_major != b->stx_dev_major || a->stx_dev_minor != b->stx_dev_minor)
                return false;
        /* A bind mount from the same filesystem has the same st_dev: only the mount ID tells. */
        if ((a->stx_mask & STATX_MNT_ID) && (b->stx_mask & STATX_MNT_ID))
                return a->stx_mnt_id == b->stx_mnt_id;
        return true;
}

static bool same_inode(const struct statx *a, const struct statx *b) {
        return same_mount(a, b) && a->stx_ino == b->stx_ino;
}

/* A directory on the walk's path. Its entry names are read before descending, so only the
 * current directory is open however deep the tree is (fds are the scarce resource, not memory). */
typedef struct Frame {
        char *names;      /* NUL-separated */
        size_t size, pos;
        struct statx sx;  /* the directory itself, patched after its entries */
} Frame;

typedef struct Walk {
        Frame *frames;
        size_t n, alloc;
} Walk;

static void walk_done(Walk *w) {
        for (size_t i = 0; i < w->n; i++)
                free(w->frames[i].names);
        free(w->frames);
}

static int read_names(int dir_fd, char **ret, size_t *ret_size) {
        /* A fresh open file description: a dup would share (and leave behind) the read offset. */
        _cleanup_close_ int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *names = NULL;
        size_t size = 0, alloc = 0;
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d)
                return negative_errno();
        TAKE_FD(fd);
        for (errno = 0; (de = readdir(d)); errno = 0) {
                size_t l = strlen(de->d_name) + 1;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (size + l > alloc) {
                        size_t na = MAX(alloc * 2, size + l + 4096);
                        char *nn = realloc(names, na);

                        if (!nn) {
                                r = -ENOMEM;
                                break;
                        }
                        names = nn;
                        alloc = na;
                }
                memcpy(names + size, de->d_name, l);
                size += l;
        }
        if (r == 0 && errno != 0)
                r = negative_errno();
        closedir(d);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(names);
        *ret_size = size;
        return 0;
}

static int walk_push(Walk *w, int dir_fd, const struct statx *sx) {
        Frame *f;
        int r;

        if (w->n == w->alloc) {
                size_t na = MAX(w->alloc * 2, (size_t) 16);
                Frame *nf = realloc(w->frames, na * sizeof(Frame));

                if (!nf)
                        return -ENOMEM;
                w->frames = nf;
                w->alloc = na;
        }
        f = &w->frames[w->n];
        *f = (Frame) { .sx = *sx };
        r = read_names(dir_fd, &f->names, &f->size);
        if (r < 0)
                return r;
        w->n++;
        return 0;
}

/* Opens one entry without following it; hands back a directory to descend into (*ret_dir_fd),
 * or patches anything else in place. Entries on other mounts are left alone. */
static int walk_visit(int parent_fd, const char *name, const struct statx *root_sx,
                      const IdShift *s, int *ret_dir_fd, struct statx *ret_sx) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        fd = openat(parent_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        r = statx_fd(fd, ret_sx);
        if (r < 0)
                return r;
        if (!same_mount(ret_sx, root_sx)) {
                log_debug("Not crossing into the mount at '%s'.", name);
                return 0;
        }
        if (!S_ISDIR(ret_sx->stx_mode))
                return patch_inode(fd, ret_sx, s);

        /* Reopen through the O_PATH fd: no window in which NAME could be swapped for a symlink. */
        *ret_dir_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return *ret_dir_fd < 0 ? negative_errno() : 0;
}

/* Back up one level through "..", checked to be the directory we came from. */
static int walk_ascend(int *cur_fd, const struct statx *parent_sx) {
        _cleanup_close_ int fd = openat(*cur_fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct statx sx;
        int r;

        if (fd < 0)
                return negative_errno();
        r = statx_fd(fd, &sx);
        if (r < 0)
                return r;
        if (!same_inode(&sx, parent_sx))
                return -ESTALE; /* the tree was rearranged under us */
        safe_close(*cur_fd);
        *cur_fd = TAKE_FD(fd);
        return 0;
}

/* One hop: every inode below the root, then the root itself. */
static int shift_tree(int root_fd, const struct statx *root_sx, const IdShift *s) {
        _cleanup_(walk_done) Walk w = {};
        _cleanup_close_ int cur = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
        bool changed = false;
        int r;

        if (cur < 0)
                return negative_errno();
        r = walk_push(&w, cur, root_sx);
        if (r < 0)
                return r;
        while (w.n > 0) {
                Frame *f = &w.frames[w.n - 1];

                if (f->pos < f->size) {
                        _cleanup_close_ int child = -EBADF;
                        const char *name = f->names + f->pos;
                        struct statx sx;

                        f->pos += strlen(name) + 1;
                        r = walk_visit(cur, name, root_sx, s, &child, &sx);
                        if (r < 0)
                                return r;
                        changed = changed || r > 0;
                        if (child >= 0) {
                                r = walk_push(&w, child, &sx);
                                if (r < 0)
                                        return r;
                                safe_close(cur);
                                cur = TAKE_FD(child);
                        }
                        continue;
                }
                if (w.n == 1)
                        break;
                r = patch_inode(cur, &f->sx, s);
                if (r < 0)
                        return r;
                changed = changed || r > 0;
                r = walk_ascend(&cur, &w.frames[w.n - 2].sx);
                if (r < 0)
                        return r;
                free(f->names);
                w.n--;
        }

        r = patch_inode(root_fd, root_sx, s);
        if (r < 0)
                return r;
        return changed || r > 0;
}

int ownership_chown_tree(const char *path, uid_t shift, uid_t range) {
        _cleanup_close_ int root_fd = -EBADF;
        uint32_t busy = busy_base(range);
        struct statx sx;
        bool changed = false;
        int r;

        /* The highest ID must not be (uid_t) -1, which chown() reads as "leave alone". */
        if (range == 0 || (uint64_t) shift + range > UINT32_MAX)
                return -EINVAL;
        /* PATH is the host's name for the tree and may be a symlink; inside it nothing is followed. */
        root_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0)
                return negative_errno();
        r = statx_fd(root_fd, &sx);
        if (r < 0)
                return r;
        if (sx.stx_uid == shift)
                return 0;

        if (ranges_overlap(sx.stx_uid, shift, range)) {
                if (ranges_overlap(busy, sx.stx_uid, range) || ranges_overlap(busy, shift, range))
                        return -ERANGE;
                r = shift_tree(root_fd, &sx,
                               &(IdShift) { .from = sx.stx_uid, .to = busy, .busy = busy, .range = range });
                if (r < 0)
                        return r;
                changed = r > 0;
                r = statx_fd(root_fd, &sx);
                if (r < 0)
                        return r;
        }

        r = shift_tree(root_fd, &sx,
                       &(IdShift) { .from = sx.stx_uid, .to = shift, .busy = busy, .range = range });
        if (r < 0)
                return r;
        return changed || r > 0;
}

int ownership_idmap_probe(int dir_fd, int userns_fd) {
        _cleanup_close_ int fd = -EBADF;
        struct mount_attr attr = {
                .attr_set = MOUNT_ATTR_IDMAP,
                .userns_fd = (uint64_t) userns_fd,
        };

        /* A detached clone: it vanishes with its fd, so nothing is ever attached anywhere. */
        fd = open_tree(dir_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        if (fd < 0)
                return negative_errno();
        if (mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
                return negative_errno();
        return 0;
}

bool ownership_idmap_supported(int dir_fd, int userns_fd) {
        return ownership_idmap_probe(dir_fd, userns_fd) >= 0;
}
