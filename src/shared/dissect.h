/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Raw disk images: finding and checking their partitions, attaching loop devices and mounting them.
 *
 * An image is a GPT disk whose partitions follow the Discoverable Partitions Specification (root
 * of this architecture, /usr, /home, /srv, the ESP at /efi) or a bare file system. libblkid is
 * loaded with dlopen() on first use, so a program that never dissects does not pay for it.
 *
 * Use:
 *      DissectedImage *m = NULL;
 *      _cleanup_free_ char *why = NULL;
 *      fd = open(path, O_RDONLY|O_CLOEXEC);                  (O_RDWR for a writable mount)
 *      r = dissect_image_fd(fd, &m, &why);                   (why: a sentence for the user)
 *      r = dissected_image_attach(m, fd, read_only);         (one loop device per partition)
 *      r = dissected_image_mount(m, "/some/dir", flags);     (in the caller's mount namespace)
 *      dissected_image_free(m);                              (closes the loop fds)
 *      ... use the tree ...
 *      dissect_umount_tree("/some/dir");                     (or let the mount namespace die)
 *
 * Loop devices are attached with LO_FLAGS_AUTOCLEAR: each is released when its last user goes (the
 * fd this module holds until the mount, then the mount), so a crash at any point leaks none. Mount
 * in a private mount namespace and the mounts die with it too. Nothing here logs above debug. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum PartitionDesignator {
        PARTITION_ROOT,
        PARTITION_USR,
        PARTITION_HOME,
        PARTITION_SRV,
        PARTITION_ESP,
        _PARTITION_DESIGNATOR_MAX,
        _PARTITION_DESIGNATOR_INVALID = -22,
} PartitionDesignator;

const char *partition_designator_to_string(PartitionDesignator d);
PartitionDesignator partition_designator_from_string(const char *s);
/* Where the partition is mounted inside the tree: "/", "/usr", "/home", "/srv", "/efi". */
const char *partition_designator_mount_point(PartitionDesignator d);
/* The GPT type GUID of the partition for this architecture (lower case), NULL if none. */
const char *partition_designator_type_guid(PartitionDesignator d);

/* GPT partition attribute bits the specification gives a meaning. */
#define GPT_FLAG_READ_ONLY (UINT64_C(1) << 60)
#define GPT_FLAG_NO_AUTO (UINT64_C(1) << 63)

/* One GPT entry as the partition table says it (input of the table check). */
typedef struct DissectEntry {
        int partno;              /* 1-based entry number */
        const char *type_guid;   /* as text, any case */
        uint64_t offset;         /* bytes from the start of the image */
        uint64_t size;           /* bytes */
        uint64_t flags;          /* GPT attribute bits */
} DissectEntry;

typedef struct DissectedPartition {
        bool found;
        bool read_only;          /* the GPT read-only attribute is set */
        int partno;              /* GPT entry number, 0 for a bare file system */
        uint64_t offset;         /* bytes */
        uint64_t size;           /* bytes */
        char fstype[16];         /* "ext4", "xfs", "btrfs", "vfat", ... (filled by the probe) */
        bool not_mounted;        /* the ESP, left out: the kernel cannot mount its file system */
} DissectedPartition;

typedef struct DissectedImage {
        DissectedPartition partitions[_PARTITION_DESIGNATOR_MAX];
        bool bare;               /* a file system without a partition table: partitions[ROOT] only */
        uint64_t image_size;     /* bytes */
        int loop_fds[_PARTITION_DESIGNATOR_MAX];      /* -EBADF until attached */
        char *loop_paths[_PARTITION_DESIGNATOR_MAX];  /* "/dev/loopN", NULL until attached */
} DissectedImage;

/* Checks a GPT table read from an image of IMAGE_SIZE bytes and picks the partitions to use
 * (pure: no I/O; the file system types are not filled in). Refuses entries outside the image,
 * overlapping entries, zero-sized or unaligned ones, two auto-mounted roots (or two of any kind),
 * and a table without a root. Entries of other types are ignored; so are entries marked no-auto.
 * Returns 0, or a negative errno with a sentence in *RET_REASON (if not NULL):
 *   -EBADMSG   an entry outside the image, overlapping or empty entries
 *   -ENOTUNIQ  two partitions of one kind
 *   -ENXIO     no root partition for this architecture */
int dissect_check_table(const DissectEntry *entries, size_t n, uint64_t image_size,
                        DissectedPartition ret[static _PARTITION_DESIGNATOR_MAX], char **ret_reason);

/* Whether berth mounts a file system of this type for partition D (e.g. only vfat for the ESP). */
bool dissect_fstype_is_allowed(PartitionDesignator d, const char *fstype);

/* Reads the partition table of the image open at FD (a regular file or a block device) with
 * libblkid, checks it (dissect_check_table), and probes the file system of each partition used.
 * Without a partition table, a file system at offset 0 makes a bare image. Returns 0 and a new
 * DissectedImage, or a negative errno with a sentence in *RET_REASON (if not NULL):
 *   the errors of dissect_check_table, and
 *   -EPROTONOSUPPORT  no file system, or one berth does not mount, in a partition or the image
 *   -EMEDIUMTYPE      a partition table that is not GPT (e.g. MBR)
 *   -EOPNOTSUPP       libblkid is not installed */
int dissect_image_fd(int fd, DissectedImage **ret, char **ret_reason);

/* Attaches one loop device per partition found, with the partition's offset and size and
 * LO_FLAGS_AUTOCLEAR; read-only when READ_ONLY, when FD is not writable, or for partitions with
 * the GPT read-only attribute. The loop fds stay open in M until dissected_image_free(). */
int dissected_image_attach(DissectedImage *m, int fd, bool read_only);

typedef enum DissectMountFlags {
        DISSECT_MOUNT_READ_ONLY = 1 << 0,  /* every partition read-only */
        DISSECT_MOUNT_ROOT_ONLY = 1 << 1,  /* only root and /usr: enough to read os-release */
        DISSECT_MOUNT_NOSUID = 1 << 2,     /* also nosuid and noexec: for reading metadata */
} DissectMountFlags;

/* Mounts the attached partitions at WHERE (an existing directory): root there, then /usr,
 * /home, /srv and the ESP at /efi below it (a missing mount point is made when the root is
 * writable, else that partition is skipped; mount points are resolved inside the tree). Every
 * mount is nodev. On failure what was mounted is unmounted again. */
int dissected_image_mount(DissectedImage *m, const char *where, DissectMountFlags flags);

/* Detaches the whole tree of mounts at WHERE (lazily: busy mounts go when their last user does). */
int dissect_umount_tree(const char *where);

DissectedImage *dissected_image_free(DissectedImage *m);
static inline void dissected_image_freep(DissectedImage **m) {
        if (*m)
                dissected_image_free(*m);
}
