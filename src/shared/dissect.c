/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Raw disk images: finding and checking their partitions, attaching loop devices and mounting them. */
#include <blkid/blkid.h>
#include <dlfcn.h>
#include <endian.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "dissect.h"
#include "log.h"
#include "loop-util.h"
#include "macro.h"
#include "resolve.h"

#if defined(__x86_64__)
#define GPT_ROOT_NATIVE "4f68bce3-e8cd-4db1-96e7-fbcaf984b709"
#define GPT_USR_NATIVE "8484680c-9521-48c6-9c11-b0720656f69e"
#define ARCHITECTURE "x86-64"
#elif defined(__aarch64__)
#define GPT_ROOT_NATIVE "b921b045-1df0-41c3-af44-4c6f280d3fae"
#define GPT_USR_NATIVE "b0e01050-ee5f-4390-949a-9101b17104e9"
#define ARCHITECTURE "arm64"
#elif defined(__i386__)
#define GPT_ROOT_NATIVE "44479540-f297-41b2-9af7-d131d5f0458a"
#define GPT_USR_NATIVE "75250d76-8cc6-458e-bd66-bd47cc81a812"
#define ARCHITECTURE "x86"
#else
#define GPT_ROOT_NATIVE NULL
#define GPT_USR_NATIVE NULL
#define ARCHITECTURE "this architecture"
#endif

#define SECTOR_SIZE UINT64_C(512)

static const struct {
        const char *name;
        const char *mount_point;
        const char *type_guid;
} designator_table[_PARTITION_DESIGNATOR_MAX] = {
        [PARTITION_ROOT] = { "root", "/", GPT_ROOT_NATIVE },
        [PARTITION_USR] = { "usr", "/usr", GPT_USR_NATIVE },
        [PARTITION_HOME] = { "home", "/home", "933ac7e1-2eb4-4f13-b844-0e14e2aef915" },
        [PARTITION_SRV] = { "srv", "/srv", "3b8f8425-20e0-4f3b-907f-1a25a76f98e8" },
        [PARTITION_ESP] = { "esp", "/efi", "c12a7328-f81f-11d2-ba4b-00a0c93ec93b" },
};

const char *partition_designator_to_string(PartitionDesignator d) {
        return d >= 0 && d < _PARTITION_DESIGNATOR_MAX ? designator_table[d].name : NULL;
}

PartitionDesignator partition_designator_from_string(const char *s) {
        for (int i = 0; s && i < _PARTITION_DESIGNATOR_MAX; i++)
                if (streq(designator_table[i].name, s))
                        return (PartitionDesignator) i;
        return _PARTITION_DESIGNATOR_INVALID;
}

const char *partition_designator_mount_point(PartitionDesignator d) {
        return d >= 0 && d < _PARTITION_DESIGNATOR_MAX ? designator_table[d].mount_point : NULL;
}

const char *partition_designator_type_guid(PartitionDesignator d) {
        return d >= 0 && d < _PARTITION_DESIGNATOR_MAX ? designator_table[d].type_guid : NULL;
}

static PartitionDesignator designator_from_guid(const char *guid) {
        for (int i = 0; guid && i < _PARTITION_DESIGNATOR_MAX; i++)
                if (designator_table[i].type_guid && strcasecmp(designator_table[i].type_guid, guid) == 0)
                        return (PartitionDesignator) i;
        return _PARTITION_DESIGNATOR_INVALID;
}

/* Sets *RET_REASON (when wanted) and returns ERROR: the one way this file reports a refusal. */
_printf_(3, 4) static int refuse(int error, char **ret_reason, const char *format, ...) {
        va_list ap;

        if (ret_reason) {
                free(*ret_reason);
                *ret_reason = NULL;
                va_start(ap, format);
                if (vasprintf(ret_reason, format, ap) < 0)
                        *ret_reason = NULL;
                va_end(ap);
        }
        return error;
}

bool dissect_fstype_is_allowed(PartitionDesignator d, const char *fstype) {
        /* File systems the kernel mounts from an image with some care for hostile input, and that
         * an OS tree is shipped in. The ESP is FAT by specification and nothing else. */
        static const char *const linux_fs[] = { "ext4", "ext3", "ext2", "xfs", "btrfs", "squashfs", "erofs" };

        if (!fstype)
                return false;
        if (d == PARTITION_ESP)
                return streq(fstype, "vfat");
        for (size_t i = 0; i < ELEMENTSOF(linux_fs); i++)
                if (streq(linux_fs[i], fstype))
                        return true;
        return false;
}

static int check_entry_bounds(const DissectEntry *e, uint64_t image_size, char **ret_reason) {
        if (e->size == 0)
                return refuse(-EBADMSG, ret_reason, "Partition %d of the image is empty.", e->partno);
        if (e->offset % SECTOR_SIZE != 0 || e->size % SECTOR_SIZE != 0)
                return refuse(-EBADMSG, ret_reason, "Partition %d of the image is not aligned to sectors.",
                              e->partno);
        if (e->offset > image_size || e->size > image_size - e->offset)
                return refuse(-EBADMSG, ret_reason,
                              "Partition %d of the image ends at byte %" PRIu64 ", past the end of the image "
                              "(%" PRIu64 " bytes).", e->partno, e->offset + e->size, image_size);
        return 0;
}

int dissect_check_table(const DissectEntry *entries, size_t n, uint64_t image_size,
                        DissectedPartition ret[static _PARTITION_DESIGNATOR_MAX], char **ret_reason) {
        DissectedPartition found[_PARTITION_DESIGNATOR_MAX] = {};
        int r;

        /* Every entry is checked, used or not: an entry we ignore may still alias the bytes of one we
         * mount, and a table that lies about one entry is not trusted for the others. */
        for (size_t i = 0; i < n; i++) {
                r = check_entry_bounds(&entries[i], image_size, ret_reason);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if (entries[i].offset < entries[j].offset + entries[j].size &&
                            entries[j].offset < entries[i].offset + entries[i].size)
                                return refuse(-EBADMSG, ret_reason, "Partitions %d and %d of the image overlap.",
                                              entries[j].partno, entries[i].partno);
        }

        for (size_t i = 0; i < n; i++) {
                const DissectEntry *e = &entries[i];
                PartitionDesignator d = designator_from_guid(e->type_guid);

                if (d < 0)
                        continue;
                /* no-auto: the image asks not to mount it (e.g. the inactive one of an A/B pair). */
                if (e->flags & GPT_FLAG_NO_AUTO)
                        continue;
                if (found[d].found)
                        return refuse(-ENOTUNIQ, ret_reason,
                                      "The image has two %s partitions (%d and %d): refusing to guess which to use.",
                                      designator_table[d].name, found[d].partno, e->partno);
                found[d] = (DissectedPartition) {
                        .found = true,
                        .read_only = d != PARTITION_ESP && (e->flags & GPT_FLAG_READ_ONLY),
                        .partno = e->partno,
                        .offset = e->offset,
                        .size = e->size,
                };
        }
        if (!found[PARTITION_ROOT].found)
                return refuse(-ENXIO, ret_reason, "The image has no root partition for %s (GPT type %s).",
                              ARCHITECTURE, GPT_ROOT_NATIVE ?: "unknown");
        memcpy(ret, found, sizeof(found));
        return 0;
}

/* The part of libblkid we use, loaded on demand: berth-spawn starts from a directory without it. */
typedef struct BlkidApi {
        void *dl;
        typeof(blkid_new_probe) *new_probe;
        typeof(blkid_free_probe) *free_probe;
        typeof(blkid_probe_set_device) *set_device;
        typeof(blkid_probe_enable_superblocks) *enable_superblocks;
        typeof(blkid_probe_set_superblocks_flags) *set_superblocks_flags;
        typeof(blkid_probe_enable_partitions) *enable_partitions;
        typeof(blkid_probe_set_partitions_flags) *set_partitions_flags;
        typeof(blkid_do_safeprobe) *do_safeprobe;
        typeof(blkid_probe_lookup_value) *lookup_value;
        typeof(blkid_probe_get_partitions) *get_partitions;
        typeof(blkid_partlist_numof_partitions) *numof_partitions;
        typeof(blkid_partlist_get_partition) *get_partition;
        typeof(blkid_partition_get_type_string) *get_type_string;
        typeof(blkid_partition_get_start) *get_start;
        typeof(blkid_partition_get_size) *get_size;
        typeof(blkid_partition_get_partno) *get_partno;
        typeof(blkid_partition_get_flags) *get_flags;
} BlkidApi;

static int blkid_api_load(BlkidApi *a) {
        static const struct {
                const char *name;
                size_t offset;
        } symbols[] = {
#define SYM(field, sym) { #sym, offsetof(BlkidApi, field) }
                SYM(new_probe, blkid_new_probe),
                SYM(free_probe, blkid_free_probe),
                SYM(set_device, blkid_probe_set_device),
                SYM(enable_superblocks, blkid_probe_enable_superblocks),
                SYM(set_superblocks_flags, blkid_probe_set_superblocks_flags),
                SYM(enable_partitions, blkid_probe_enable_partitions),
                SYM(set_partitions_flags, blkid_probe_set_partitions_flags),
                SYM(do_safeprobe, blkid_do_safeprobe),
                SYM(lookup_value, blkid_probe_lookup_value),
                SYM(get_partitions, blkid_probe_get_partitions),
                SYM(numof_partitions, blkid_partlist_numof_partitions),
                SYM(get_partition, blkid_partlist_get_partition),
                SYM(get_type_string, blkid_partition_get_type_string),
                SYM(get_start, blkid_partition_get_start),
                SYM(get_size, blkid_partition_get_size),
                SYM(get_partno, blkid_partition_get_partno),
                SYM(get_flags, blkid_partition_get_flags),
#undef SYM
        };

        a->dl = dlopen("libblkid.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!a->dl)
                return log_debug_errno(-EOPNOTSUPP, "dlopen(libblkid.so.1): %s", dlerror());
        for (size_t i = 0; i < ELEMENTSOF(symbols); i++) {
                void *f = dlsym(a->dl, symbols[i].name);

                if (!f)
                        return log_debug_errno(-EOPNOTSUPP, "libblkid lacks %s", symbols[i].name);
                memcpy((char *) a + symbols[i].offset, &f, sizeof(f));
        }
        return 0;
}

static void blkid_api_unload(BlkidApi *a) {
        if (a->dl)
                dlclose(a->dl);
}

static int image_size_of(int fd, uint64_t *ret) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (S_ISREG(st.st_mode)) {
                *ret = (uint64_t) st.st_size;
                return 0;
        }
        if (S_ISBLK(st.st_mode))
                return RET_NERRNO(ioctl(fd, BLKGETSIZE64, ret));
        return -EBADFD;
}

/* Probes the file system in SIZE bytes at OFFSET of FD; "" when there is none or it is ambiguous. */
static int probe_fstype(const BlkidApi *a, int fd, uint64_t offset, uint64_t size, char *ret, size_t ret_size) {
        blkid_probe pr = a->new_probe();
        const char *type = NULL;
        int r;

        if (!pr)
                return -ENOMEM;
        ret[0] = 0;
        r = a->set_device(pr, fd, (blkid_loff_t) offset, (blkid_loff_t) size);
        if (r == 0) {
                a->enable_superblocks(pr, 1);
                a->set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
                a->enable_partitions(pr, 0);
                if (a->do_safeprobe(pr) == 0 && a->lookup_value(pr, "TYPE", &type, NULL) == 0 && type)
                        snprintf(ret, ret_size, "%s", type);
        }
        a->free_probe(pr);
        return r == 0 ? 0 : -EIO;
}

/* Reads the GPT entries of the probe into ENTRIES (at most MAX); returns how many. */
static int read_gpt_entries(const BlkidApi *a, blkid_probe pr, DissectEntry *entries, int max) {
        blkid_partlist list = a->get_partitions(pr);
        int n;

        if (!list)
                return -EBADMSG;
        n = a->numof_partitions(list);
        if (n < 0 || n > max)
                return -EBADMSG;
        for (int i = 0; i < n; i++) {
                blkid_partition p = a->get_partition(list, i);
                blkid_loff_t start, size;

                if (!p)
                        return -EBADMSG;
                start = a->get_start(p);
                size = a->get_size(p);
                if (start < 0 || size < 0)
                        return -EBADMSG;
                entries[i] = (DissectEntry) {
                        .partno = a->get_partno(p),
                        .type_guid = a->get_type_string(p),
                        .offset = (uint64_t) start * SECTOR_SIZE,
                        .size = (uint64_t) size * SECTOR_SIZE,
                        .flags = a->get_flags(p),
                };
        }
        return n;
}

/* The CRC-32 of the GPT (IEEE 802.3, reflected), bitwise: it runs over a few KiB once per image. */
static uint32_t gpt_crc32(const uint8_t *p, size_t n) {
        uint32_t c = UINT32_MAX;

        for (size_t i = 0; i < n; i++) {
                c ^= p[i];
                for (int k = 0; k < 8; k++)
                        c = (c >> 1) ^ (UINT32_C(0xedb88320) & (0u - (c & 1)));
        }
        return ~c;
}

static uint32_t get_le32(const uint8_t *p) {
        uint32_t v;

        memcpy(&v, p, sizeof(v));
        return le32toh(v);
}

static uint64_t get_le64(const uint8_t *p) {
        uint64_t v;

        memcpy(&v, p, sizeof(v));
        return le64toh(v);
}

/* libblkid drops GPT entries outside the table's usable area without a word, and takes the backup
 * table when the primary one is damaged; we refuse both, so we check the primary header and table
 * ourselves (signature, both CRCs, bounds) and count the entries in use, to compare. */
static int count_gpt_entries(int fd, uint64_t image_size) {
        static const uint8_t zero[16] = {};
        _cleanup_free_ uint8_t *buf = NULL;
        uint8_t h[SECTOR_SIZE];
        uint32_t header_size, header_crc, n_entries, entry_size, entries_crc;
        uint64_t entries_lba, length;
        int count = 0;

        if (pread(fd, h, sizeof(h), SECTOR_SIZE) != (ssize_t) sizeof(h) || memcmp(h, "EFI PART", 8) != 0)
                return -EBADMSG;
        header_size = get_le32(h + 12);
        header_crc = get_le32(h + 16);
        entries_lba = get_le64(h + 72);
        n_entries = get_le32(h + 80);
        entry_size = get_le32(h + 84);
        entries_crc = get_le32(h + 88);
        if (header_size < 92 || header_size > sizeof(h))
                return -EBADMSG;
        memset(h + 16, 0, 4);
        if (gpt_crc32(h, header_size) != header_crc)
                return -EBADMSG;
        /* Bounded: at most 1024 entries of at most 4 KiB each, inside the image. */
        if (n_entries > 1024 || entry_size < 128 || entry_size > 4096 || entries_lba > image_size / SECTOR_SIZE)
                return -EBADMSG;
        length = (uint64_t) n_entries * entry_size;
        if (length > image_size - entries_lba * SECTOR_SIZE)
                return -EBADMSG;
        buf = malloc(length ?: 1);
        if (!buf)
                return -ENOMEM;
        if (pread(fd, buf, length, (off_t) (entries_lba * SECTOR_SIZE)) != (ssize_t) length ||
            gpt_crc32(buf, length) != entries_crc)
                return -EBADMSG;
        for (uint32_t i = 0; i < n_entries; i++)
                if (memcmp(buf + (size_t) i * entry_size, zero, sizeof(zero)) != 0)
                        count++;
        return count;
}

static DissectedImage *dissected_image_new(uint64_t image_size) {
        DissectedImage *m = calloc(1, sizeof(DissectedImage));

        if (!m)
                return NULL;
        m->image_size = image_size;
        for (int i = 0; i < _PARTITION_DESIGNATOR_MAX; i++)
                m->loop_fds[i] = -EBADF;
        return m;
}

/* The table of a GPT image, checked, into M. */
static int dissect_gpt(const BlkidApi *a, blkid_probe pr, int fd, DissectedImage *m, char **ret_reason) {
        DissectEntry entries[128];
        int n, in_table;

        n = read_gpt_entries(a, pr, entries, (int) ELEMENTSOF(entries));
        if (n < 0)
                return refuse(n, ret_reason, "The image's GPT could not be read.");
        /* libblkid falls back to the backup table when the primary one is damaged: a disk may
         * recover that way, but an image we are about to mount gets no benefit of the doubt. */
        in_table = count_gpt_entries(fd, m->image_size);
        if (in_table == -ENOMEM)
                return in_table;
        if (in_table < 0)
                return refuse(-EBADMSG, ret_reason, "The image's primary GPT header or table is damaged.");
        if (in_table != n)
                return refuse(-EBADMSG, ret_reason,
                              "The image's GPT has %d entries, but only %d lie inside the image's usable area: "
                              "entries point past its end.", in_table, n);
        return dissect_check_table(entries, (size_t) n, m->image_size, m->partitions, ret_reason);
}

/* Fills in and checks the file system type of every partition found. */
static int probe_partitions(const BlkidApi *a, int fd, DissectedImage *m, char **ret_reason) {
        for (int d = 0; d < _PARTITION_DESIGNATOR_MAX; d++) {
                DissectedPartition *p = &m->partitions[d];
                int r;

                if (!p->found)
                        continue;
                r = probe_fstype(a, fd, p->offset, p->size, p->fstype, sizeof(p->fstype));
                if (r < 0)
                        return refuse(r, ret_reason, "Could not probe the %s partition of the image.",
                                      designator_table[d].name);
                if (isempty(p->fstype))
                        return refuse(-EPROTONOSUPPORT, ret_reason,
                                      "No file system recognised in the %s partition of the image.",
                                      designator_table[d].name);
                if (!dissect_fstype_is_allowed(d, p->fstype))
                        return refuse(-EPROTONOSUPPORT, ret_reason,
                                      "The %s partition of the image holds '%s', which berth does not mount.",
                                      designator_table[d].name, p->fstype);
        }
        return 0;
}

int dissect_image_fd(int fd, DissectedImage **ret, char **ret_reason) {
        _cleanup_(dissected_image_freep) DissectedImage *m = NULL;
        BlkidApi a = {};
        blkid_probe pr = NULL;
        const char *pttype = NULL, *fstype = NULL;
        uint64_t size;
        int r;

        r = image_size_of(fd, &size);
        if (r < 0)
                return refuse(r, ret_reason, "The image is neither a regular file nor a block device.");
        if (size < SECTOR_SIZE)
                return refuse(-EPROTONOSUPPORT, ret_reason, "The image is smaller than one sector.");
        m = dissected_image_new(size);
        if (!m)
                return -ENOMEM;
        r = blkid_api_load(&a);
        if (r < 0) {
                blkid_api_unload(&a);
                return refuse(r, ret_reason, "libblkid (libblkid.so.1) is needed for raw images but is not installed.");
        }

        pr = a.new_probe();
        if (!pr) {
                r = -ENOMEM;
                goto finish;
        }
        r = a.set_device(pr, fd, 0, 0);
        if (r < 0) {
                r = refuse(-EIO, ret_reason, "libblkid could not read the image.");
                goto finish;
        }
        a.enable_superblocks(pr, 1);
        a.set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
        a.enable_partitions(pr, 1);
        a.set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
        r = a.do_safeprobe(pr);
        if (r == -2) {
                r = refuse(-EPROTONOSUPPORT, ret_reason,
                           "The image is ambiguous: it looks like more than one file system or partition table.");
                goto finish;
        }
        if (r == 0 && a.lookup_value(pr, "PTTYPE", &pttype, NULL) == 0 && pttype) {
                if (!streq(pttype, "gpt")) {
                        /* libblkid calls a GPT whose headers it refused (damaged, or pointing past
                         * the end of the image) by its protective MBR. */
                        r = refuse(-EMEDIUMTYPE, ret_reason, "The image's partition table is %s.",
                                   streq(pttype, "PMBR") ? "a GPT with a damaged header or one pointing past the "
                                   "end of the image" : "not a GPT (only GPT images are supported)");
                        goto finish;
                }
                r = dissect_gpt(&a, pr, fd, m, ret_reason);
        } else if (r == 0 && a.lookup_value(pr, "TYPE", &fstype, NULL) == 0 && fstype) {
                m->bare = true;
                m->partitions[PARTITION_ROOT] = (DissectedPartition) {
                        .found = true,
                        .offset = 0,
                        .size = size,
                };
                r = 0;
        } else
                r = refuse(-EPROTONOSUPPORT, ret_reason, "No partition table or file system found in the image.");
        if (r < 0)
                goto finish;

        r = probe_partitions(&a, fd, m, ret_reason);
        if (r < 0)
                goto finish;
        *ret = TAKE_PTR(m);
        r = 0;
finish:
        if (pr)
                a.free_probe(pr);
        blkid_api_unload(&a);
        return r;
}

int dissected_image_attach(DissectedImage *m, int fd, bool read_only) {
        int flags = fcntl(fd, F_GETFL);

        if (flags < 0)
                return negative_errno();
        if ((flags & O_ACCMODE) == O_RDONLY)
                read_only = true;
        for (int d = 0; d < _PARTITION_DESIGNATOR_MAX; d++) {
                DissectedPartition *p = &m->partitions[d];
                int loop;

                if (!p->found || m->loop_fds[d] >= 0)
                        continue;
                /* A bare image is mapped whole (size 0: to the end), so a file that grows still works. */
                loop = loop_device_attach(fd, p->offset, m->bare ? 0 : p->size, read_only || p->read_only,
                                          &m->loop_paths[d]);
                if (loop < 0)
                        return loop;
                m->loop_fds[d] = loop;
                p->read_only = p->read_only || read_only;
        }
        return 0;
}

static int mount_partition(DissectedImage *m, PartitionDesignator d, int root_fd, const char *where,
                           DissectMountFlags flags) {
        DissectedPartition *p = &m->partitions[d];
        unsigned long mflags = MS_NODEV;
        const char *data = NULL;
        _cleanup_close_ int target_fd = -EBADF;
        char target[64];

        if (!m->loop_paths[d])
                return -EBADFD;
        if (p->read_only || (flags & DISSECT_MOUNT_READ_ONLY))
                mflags |= MS_RDONLY;
        if (flags & DISSECT_MOUNT_NOSUID)
                mflags |= MS_NOSUID | MS_NOEXEC;

        if (d == PARTITION_ROOT) {
                target_fd = open(where, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (target_fd < 0)
                        return negative_errno();
        } else {
                /* Inside the tree: a planted symlink must not carry a mount out of it. */
                target_fd = open_in_root(root_fd, designator_table[d].mount_point, O_PATH | O_DIRECTORY, 0);
                if (target_fd == -ENOENT && !(flags & DISSECT_MOUNT_READ_ONLY) &&
                    !m->partitions[PARTITION_ROOT].read_only)
                        target_fd = mkdir_p_in_root(root_fd, designator_table[d].mount_point, 0755);
                if (target_fd == -ENOENT) {
                        log_debug("The image's root has no %s, not mounting the %s partition.",
                                  designator_table[d].mount_point, designator_table[d].name);
                        return 0;
                }
                if (target_fd < 0)
                        return target_fd;
        }
        snprintf(target, sizeof(target), "/proc/self/fd/%d", target_fd);
        /* A read-only mount must not replay a journal (the device may be read-only, and the image
         * is to stay as it is): the image of a machine that crashed still mounts, as it was. */
        if ((mflags & MS_RDONLY) && (startswith(p->fstype, "ext") || streq(p->fstype, "xfs")))
                data = "norecovery";
        if (mount(m->loop_paths[d], target, p->fstype, mflags, data) < 0) {
                /* A container has no use for the ESP: a kernel without FAT (ENODEV) must not
                 * keep an image that carries one from booting. */
                if (d == PARTITION_ESP && errno == ENODEV) {
                        p->not_mounted = true;
                        return 0;
                }
                return log_debug_errno(negative_errno(), "Failed to mount %s (%s) on %s%s: %m", m->loop_paths[d],
                                       p->fstype, where, d == PARTITION_ROOT ? "" : designator_table[d].mount_point);
        }
        return 0;
}

int dissected_image_mount(DissectedImage *m, const char *where, DissectMountFlags flags) {
        static const PartitionDesignator order[] = {
                PARTITION_ROOT, PARTITION_USR, PARTITION_HOME, PARTITION_SRV, PARTITION_ESP,
        };
        _cleanup_close_ int root_fd = -EBADF;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                PartitionDesignator d = order[i];

                if (!m->partitions[d].found)
                        continue;
                if ((flags & DISSECT_MOUNT_ROOT_ONLY) && d != PARTITION_ROOT && d != PARTITION_USR)
                        continue;
                r = mount_partition(m, d, root_fd, where, flags);
                if (r < 0) {
                        if (root_fd >= 0)
                                (void) dissect_umount_tree(where);
                        return r;
                }
                if (d == PARTITION_ROOT) {
                        root_fd = open(where, O_PATH | O_DIRECTORY | O_CLOEXEC);
                        if (root_fd < 0) {
                                r = negative_errno();
                                (void) dissect_umount_tree(where);
                                return r;
                        }
                }
        }
        return 0;
}

int dissect_umount_tree(const char *where) {
        return RET_NERRNO(umount2(where, MNT_DETACH | UMOUNT_NOFOLLOW));
}

DissectedImage *dissected_image_free(DissectedImage *m) {
        if (!m)
                return NULL;
        for (int d = 0; d < _PARTITION_DESIGNATOR_MAX; d++) {
                safe_close(m->loop_fds[d]);
                free(m->loop_paths[d]);
        }
        free(m);
        return NULL;
}
