/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for raw image dissection: the GPT checks (probe A07) and libblkid probing of image files, without loop devices. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dissect.h"

#define ROOT_GUID "4f68bce3-e8cd-4db1-96e7-fbcaf984b709"
#define HOME_GUID "933ac7e1-2eb4-4f13-b844-0e14e2aef915"
#define ESP_GUID "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
#define SWAP_GUID "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f"
#define MiB (UINT64_C(1) << 20)

static void test_designator_table(void) {
        for (int d = 0; d < _PARTITION_DESIGNATOR_MAX; d++) {
                const char *s = partition_designator_to_string(d);

                g_assert_nonnull(s);
                g_assert_cmpint(partition_designator_from_string(s), ==, d);
                g_assert_nonnull(partition_designator_mount_point(d));
        }
        g_assert_null(partition_designator_to_string(_PARTITION_DESIGNATOR_MAX));
        g_assert_null(partition_designator_to_string(-1));
        g_assert_cmpint(partition_designator_from_string("var"), ==, _PARTITION_DESIGNATOR_INVALID);
        g_assert_cmpint(partition_designator_from_string(NULL), ==, _PARTITION_DESIGNATOR_INVALID);
        g_assert_cmpstr(partition_designator_mount_point(PARTITION_ESP), ==, "/efi");
        g_assert_cmpstr(partition_designator_type_guid(PARTITION_HOME), ==, HOME_GUID);
#if defined(__x86_64__)
        g_assert_cmpstr(partition_designator_type_guid(PARTITION_ROOT), ==, ROOT_GUID);
#endif
}

static void test_fstype_allowed(void) {
        g_assert_true(dissect_fstype_is_allowed(PARTITION_ROOT, "ext4"));
        g_assert_true(dissect_fstype_is_allowed(PARTITION_HOME, "xfs"));
        g_assert_true(dissect_fstype_is_allowed(PARTITION_USR, "squashfs"));
        g_assert_true(dissect_fstype_is_allowed(PARTITION_ESP, "vfat"));
        g_assert_false(dissect_fstype_is_allowed(PARTITION_ESP, "ext4"));
        g_assert_false(dissect_fstype_is_allowed(PARTITION_ROOT, "vfat"));
        g_assert_false(dissect_fstype_is_allowed(PARTITION_ROOT, "swap"));
        g_assert_false(dissect_fstype_is_allowed(PARTITION_ROOT, "crypto_LUKS"));
        g_assert_false(dissect_fstype_is_allowed(PARTITION_ROOT, ""));
        g_assert_false(dissect_fstype_is_allowed(PARTITION_ROOT, NULL));
}

/* Runs the table check and returns its result; the reason is set exactly when it fails. */
static int check(const DissectEntry *e, size_t n, uint64_t size, DissectedPartition *p) {
        g_autofree char *reason = NULL;
        int r = dissect_check_table(e, n, size, p, &reason);

        if (r < 0) {
                g_assert_nonnull(reason);
                g_test_message("refused: %s", reason);
        } else
                g_assert_null(reason);
        return r;
}

static void test_check_table(void) {
        DissectedPartition p[_PARTITION_DESIGNATOR_MAX];
        const uint64_t size = 64 * MiB;

        if (!partition_designator_type_guid(PARTITION_ROOT)) {
                g_test_skip("no root partition type for this architecture");
                return;
        }
        const char *root = partition_designator_type_guid(PARTITION_ROOT);

        /* Root and home, an unknown type ignored; case of the GUID does not matter. */
        DissectEntry good[] = {
                { 1, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", 1 * MiB, 4 * MiB, GPT_FLAG_READ_ONLY },
                { 2, root, 5 * MiB, 32 * MiB, GPT_FLAG_READ_ONLY },
                { 3, HOME_GUID, 37 * MiB, 8 * MiB, 0 },
                { 4, SWAP_GUID, 45 * MiB, 8 * MiB, 0 },
        };
        g_assert_cmpint(check(good, G_N_ELEMENTS(good), size, p), ==, 0);
        g_assert_true(p[PARTITION_ROOT].found);
        g_assert_cmpint(p[PARTITION_ROOT].partno, ==, 2);
        g_assert_cmpuint(p[PARTITION_ROOT].offset, ==, 5 * MiB);
        g_assert_cmpuint(p[PARTITION_ROOT].size, ==, 32 * MiB);
        g_assert_true(p[PARTITION_ROOT].read_only);
        g_assert_true(p[PARTITION_HOME].found);
        g_assert_false(p[PARTITION_HOME].read_only);
        g_assert_true(p[PARTITION_ESP].found);
        g_assert_false(p[PARTITION_ESP].read_only);  /* the bit means nothing for an ESP */
        g_assert_false(p[PARTITION_USR].found);
        g_assert_false(p[PARTITION_SRV].found);

        /* Exactly up to the end is fine; one sector more is not. */
        DissectEntry to_end[] = { { 1, root, 1 * MiB, size - 1 * MiB, 0 } };
        g_assert_cmpint(check(to_end, 1, size, p), ==, 0);
        to_end[0].size += 512;
        g_assert_cmpint(check(to_end, 1, size, p), ==, -EBADMSG);

        /* Offset + size wrapping around must not pass for "inside". */
        DissectEntry wrap[] = { { 1, root, 1 * MiB, UINT64_MAX - 511, 0 } };
        g_assert_cmpint(check(wrap, 1, size, p), ==, -EBADMSG);
        DissectEntry beyond[] = { { 1, root, 2 * size, 1 * MiB, 0 } };
        g_assert_cmpint(check(beyond, 1, size, p), ==, -EBADMSG);

        /* Overlap, also with an entry of a type we ignore, and one sector is enough. */
        DissectEntry overlap[] = {
                { 1, root, 1 * MiB, 16 * MiB, 0 },
                { 2, HOME_GUID, 17 * MiB - 512, 8 * MiB, 0 },
        };
        g_assert_cmpint(check(overlap, 2, size, p), ==, -EBADMSG);
        overlap[1].type_guid = SWAP_GUID;
        g_assert_cmpint(check(overlap, 2, size, p), ==, -EBADMSG);
        overlap[1].offset = 17 * MiB;  /* adjacent is fine */
        g_assert_cmpint(check(overlap, 2, size, p), ==, 0);
        DissectEntry inside[] = {
                { 1, root, 1 * MiB, 32 * MiB, 0 },
                { 2, SWAP_GUID, 2 * MiB, 1 * MiB, 0 },
        };
        g_assert_cmpint(check(inside, 2, size, p), ==, -EBADMSG);

        /* Two roots are refused, unless one of them says no-auto. */
        DissectEntry two[] = {
                { 1, root, 1 * MiB, 16 * MiB, 0 },
                { 2, root, 17 * MiB, 16 * MiB, 0 },
        };
        g_assert_cmpint(check(two, 2, size, p), ==, -ENOTUNIQ);
        two[0].flags = GPT_FLAG_NO_AUTO;
        g_assert_cmpint(check(two, 2, size, p), ==, 0);
        g_assert_cmpint(p[PARTITION_ROOT].partno, ==, 2);
        DissectEntry two_home[] = {
                { 1, root, 1 * MiB, 16 * MiB, 0 },
                { 2, HOME_GUID, 17 * MiB, 8 * MiB, 0 },
                { 3, HOME_GUID, 25 * MiB, 8 * MiB, 0 },
        };
        g_assert_cmpint(check(two_home, 3, size, p), ==, -ENOTUNIQ);

        /* No root, or only a no-auto one. */
        DissectEntry no_root[] = { { 1, HOME_GUID, 1 * MiB, 8 * MiB, 0 } };
        g_assert_cmpint(check(no_root, 1, size, p), ==, -ENXIO);
        g_assert_cmpint(check(NULL, 0, size, p), ==, -ENXIO);
        DissectEntry no_auto[] = { { 1, root, 1 * MiB, 8 * MiB, GPT_FLAG_NO_AUTO } };
        g_assert_cmpint(check(no_auto, 1, size, p), ==, -ENXIO);

        /* Empty and unaligned entries. */
        DissectEntry empty[] = { { 1, root, 1 * MiB, 0, 0 } };
        g_assert_cmpint(check(empty, 1, size, p), ==, -EBADMSG);
        DissectEntry unaligned[] = { { 1, root, 1 * MiB + 1, 8 * MiB, 0 } };
        g_assert_cmpint(check(unaligned, 1, size, p), ==, -EBADMSG);

        /* The reason is optional. */
        g_assert_cmpint(dissect_check_table(two_home, 3, size, p, NULL), ==, -ENOTUNIQ);
}

/* A GPT written by hand, so the tests can make the tables no partitioning tool would. */
typedef struct TestPart {
        const char *type;
        uint64_t first_lba, last_lba, flags;
} TestPart;

static uint32_t crc32_gpt(const uint8_t *p, size_t n) {
        uint32_t c = 0xffffffffu;

        for (size_t i = 0; i < n; i++) {
                c ^= p[i];
                for (int k = 0; k < 8; k++)
                        c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
        }
        return ~c;
}

static void put_le(uint8_t *p, uint64_t v, int bytes) {
        for (int i = 0; i < bytes; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

/* GUID text to its mixed-endian on-disk form. */
static void put_guid(uint8_t *p, const char *s) {
        unsigned a, b, c, d[8];

        g_assert_cmpint(sscanf(s, "%8x-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x", &a, &b, &c, &d[0], &d[1], &d[2],
                               &d[3], &d[4], &d[5], &d[6], &d[7]), ==, 11);
        put_le(p, a, 4);
        put_le(p + 4, b, 2);
        put_le(p + 6, c, 2);
        for (int i = 0; i < 8; i++)
                p[8 + i] = (uint8_t) d[i];
}

static void write_header(int fd, uint64_t lba, uint64_t other, uint64_t entries_lba, uint64_t last_usable,
                         uint32_t entries_crc) {
        uint8_t h[512] = {};

        memcpy(h, "EFI PART", 8);
        put_le(h + 8, 0x00010000, 4);
        put_le(h + 12, 92, 4);
        put_le(h + 24, lba, 8);
        put_le(h + 32, other, 8);
        put_le(h + 40, 34, 8);
        put_le(h + 48, last_usable, 8);
        put_guid(h + 56, "01234567-89ab-cdef-0123-456789abcdef");
        put_le(h + 72, entries_lba, 8);
        put_le(h + 80, 128, 4);
        put_le(h + 84, 128, 4);
        put_le(h + 88, entries_crc, 4);
        put_le(h + 16, crc32_gpt(h, 92), 4);
        g_assert_cmpint(pwrite(fd, h, sizeof(h), (off_t) (lba * 512)), ==, 512);
}

/* A GPT disk of SIZE bytes at PATH with PARTS; LAST_USABLE 0 means the usual one. */
static void write_gpt(const char *path, uint64_t size, const TestPart *parts, size_t n, uint64_t last_usable) {
        uint64_t sectors = size / 512;
        uint8_t mbr[512] = {}, entries[128 * 128] = {};
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(ftruncate(fd, (off_t) size), ==, 0);
        mbr[0x1be + 4] = 0xee;
        put_le(mbr + 0x1be + 8, 1, 4);
        put_le(mbr + 0x1be + 12, sectors - 1 > 0xffffffffu ? 0xffffffffu : sectors - 1, 4);
        mbr[510] = 0x55;
        mbr[511] = 0xaa;
        g_assert_cmpint(pwrite(fd, mbr, sizeof(mbr), 0), ==, 512);
        for (size_t i = 0; i < n; i++) {
                uint8_t *e = entries + i * 128;

                put_guid(e, parts[i].type);
                put_guid(e + 16, "11111111-2222-3333-4444-000000000000");
                e[16 + 15] = (uint8_t) (i + 1);
                put_le(e + 32, parts[i].first_lba, 8);
                put_le(e + 40, parts[i].last_lba, 8);
                put_le(e + 48, parts[i].flags, 8);
        }
        if (last_usable == 0)
                last_usable = sectors - 34;
        g_assert_cmpint(pwrite(fd, entries, sizeof(entries), 2 * 512), ==, (ssize_t) sizeof(entries));
        g_assert_cmpint(pwrite(fd, entries, sizeof(entries), (off_t) ((sectors - 33) * 512)), ==,
                        (ssize_t) sizeof(entries));
        write_header(fd, 1, sectors - 1, 2, last_usable, crc32_gpt(entries, sizeof(entries)));
        write_header(fd, sectors - 1, 1, sectors - 33, last_usable, crc32_gpt(entries, sizeof(entries)));
        close(fd);
}

/* Puts an ext4 file system of SIZE bytes at OFFSET of PATH (mkfs.ext4 writes at an offset). */
static bool mkfs_at(const char *path, uint64_t offset, uint64_t size) {
        g_autofree char *cmd = g_strdup_printf("mkfs.ext4 -q -F -E offset=%" G_GUINT64_FORMAT " %s %" G_GUINT64_FORMAT "k",
                                               offset, path, size / 1024);
        g_autofree char *out = NULL, *err = NULL;
        int status = -1;

        if (!g_spawn_command_line_sync(cmd, &out, &err, &status, NULL) || !g_spawn_check_wait_status(status, NULL)) {
                g_test_message("%s: %s", cmd, err ?: "");
                return false;
        }
        return true;
}

static int dissect_path(const char *path, DissectedImage **ret) {
        g_autofree char *reason = NULL;
        int fd = open(path, O_RDONLY | O_CLOEXEC), r;

        g_assert_cmpint(fd, >=, 0);
        r = dissect_image_fd(fd, ret, &reason);
        close(fd);
        if (r < 0) {
                g_assert_nonnull(reason);
                g_test_message("refused: %s", reason);
        }
        return r;
}

static void test_dissect_files(void) {
        g_autofree char *dir = g_dir_make_tmp("test-dissect-XXXXXX", NULL);
        g_autofree char *path = g_build_filename(dir, "disk.raw", NULL);
        const char *root = partition_designator_type_guid(PARTITION_ROOT);
        DissectedImage *m = NULL;
        const uint64_t size = 48 * MiB;

        g_assert_nonnull(dir);
        if (!g_find_program_in_path("mkfs.ext4")) {
                g_test_skip("mkfs.ext4 (e2fsprogs) is not installed");
                return;
        }
        if (!root) {
                g_test_skip("no root partition type for this architecture");
                return;
        }

        /* A bare file system. */
        g_assert_true(mkfs_at(path, 0, 8 * MiB));
        g_assert_cmpint(dissect_path(path, &m), ==, 0);
        g_assert_true(m->bare);
        g_assert_true(m->partitions[PARTITION_ROOT].found);
        g_assert_cmpstr(m->partitions[PARTITION_ROOT].fstype, ==, "ext4");
        g_assert_cmpuint(m->partitions[PARTITION_ROOT].offset, ==, 0);
        g_assert_cmpint(m->loop_fds[PARTITION_ROOT], <, 0);
        m = dissected_image_free(m);

        /* Root and home. */
        TestPart good[] = { { root, 2048, 2048 + 32768 - 1, 0 }, { HOME_GUID, 36864, 36864 + 16384 - 1, 0 } };
        write_gpt(path, size, good, 2, 0);
        g_assert_true(mkfs_at(path, 2048 * 512, 16 * MiB));
        g_assert_true(mkfs_at(path, 36864 * 512, 8 * MiB));
        g_assert_cmpint(dissect_path(path, &m), ==, 0);
        g_assert_false(m->bare);
        g_assert_cmpstr(m->partitions[PARTITION_ROOT].fstype, ==, "ext4");
        g_assert_cmpstr(m->partitions[PARTITION_HOME].fstype, ==, "ext4");
        g_assert_cmpuint(m->partitions[PARTITION_HOME].offset, ==, 36864 * 512);
        g_assert_cmpuint(m->partitions[PARTITION_HOME].size, ==, 8 * MiB);
        g_assert_cmpuint(m->image_size, ==, size);
        m = dissected_image_free(m);

        /* The same home as an ESP: an ESP must be FAT. */
        good[1].type = ESP_GUID;
        write_gpt(path, size, good, 2, 0);
        g_assert_true(mkfs_at(path, 2048 * 512, 16 * MiB));
        g_assert_true(mkfs_at(path, 36864 * 512, 8 * MiB));
        g_assert_cmpint(dissect_path(path, &m), ==, -EPROTONOSUPPORT);

        /* Overlapping partitions (no tool makes them, libblkid takes them). */
        TestPart overlap[] = { { root, 2048, 2048 + 32768 - 1, 0 }, { HOME_GUID, 30000, 30000 + 16384 - 1, 0 } };
        write_gpt(path, size, overlap, 2, 0);
        g_assert_true(mkfs_at(path, 2048 * 512, 16 * MiB));
        g_assert_cmpint(dissect_path(path, &m), ==, -EBADMSG);

        /* Two roots. */
        TestPart two[] = { { root, 2048, 2048 + 32768 - 1, 0 }, { root, 36864, 36864 + 16384 - 1, 0 } };
        write_gpt(path, size, two, 2, 0);
        g_assert_true(mkfs_at(path, 2048 * 512, 16 * MiB));
        g_assert_true(mkfs_at(path, 36864 * 512, 8 * MiB));
        g_assert_cmpint(dissect_path(path, &m), ==, -ENOTUNIQ);

        /* An entry past the usable area (libblkid drops it silently; we refuse the table) and one
         * past the end of the image with a header claiming the space (libblkid drops the header). */
        TestPart past[] = { { root, 2048, 2048 + 32768 - 1, 0 }, { HOME_GUID, 36864, 36864 + 200000, 0 } };
        write_gpt(path, size, past, 2, 0);
        g_assert_true(mkfs_at(path, 2048 * 512, 16 * MiB));
        g_assert_cmpint(dissect_path(path, &m), ==, -EBADMSG);
        write_gpt(path, size, past, 2, 36864 + 200000);
        g_assert_cmpint(dissect_path(path, &m), <, 0);
        g_assert_null(m);

        /* A damaged primary table: libblkid would take the backup one, we refuse. */
        write_gpt(path, size, good, 1, 0);
        g_assert_true(mkfs_at(path, 2048 * 512, 16 * MiB));
        g_assert_cmpint(dissect_path(path, &m), ==, 0);
        m = dissected_image_free(m);
        {
                int fd = open(path, O_RDWR | O_CLOEXEC);

                g_assert_cmpint(fd, >=, 0);
                g_assert_cmpint(pwrite(fd, "\0\0\0\0", 4, 2 * 512 + 40), ==, 4);  /* the root entry's first LBA */
                close(fd);
        }
        g_assert_cmpint(dissect_path(path, &m), ==, -EBADMSG);

        /* A root without a file system. */
        write_gpt(path, size, good, 1, 0);
        g_assert_cmpint(dissect_path(path, &m), ==, -EPROTONOSUPPORT);

        /* No root. */
        TestPart home_only[] = { { HOME_GUID, 2048, 2048 + 16384 - 1, 0 } };
        write_gpt(path, size, home_only, 1, 0);
        g_assert_true(mkfs_at(path, 2048 * 512, 8 * MiB));
        g_assert_cmpint(dissect_path(path, &m), ==, -ENXIO);

        /* Garbage, and an MBR table. */
        {
                g_autofree uint8_t *junk = g_malloc(4 * MiB);
                uint8_t mbr[512] = {};
                int fd;

                for (size_t i = 0; i < 4 * MiB; i++)
                        junk[i] = (uint8_t) g_random_int();
                g_assert_true(g_file_set_contents(path, (const char *) junk, 4 * MiB, NULL));
                g_assert_cmpint(dissect_path(path, &m), ==, -EPROTONOSUPPORT);

                mbr[0x1be + 4] = 0x83;
                put_le(mbr + 0x1be + 8, 2048, 4);
                put_le(mbr + 0x1be + 12, 4096, 4);
                mbr[510] = 0x55;
                mbr[511] = 0xaa;
                fd = open(path, O_RDWR | O_TRUNC | O_CLOEXEC);
                g_assert_cmpint(fd, >=, 0);
                g_assert_cmpint(ftruncate(fd, 8 * MiB), ==, 0);
                g_assert_cmpint(pwrite(fd, mbr, sizeof(mbr), 0), ==, 512);
                close(fd);
                g_assert_cmpint(dissect_path(path, &m), ==, -EMEDIUMTYPE);

                /* Too small to be anything. */
                g_assert_true(g_file_set_contents(path, "x", 1, NULL));
                g_assert_cmpint(dissect_path(path, &m), ==, -EPROTONOSUPPORT);
        }
        g_assert_null(m);

        g_unlink(path);
        g_rmdir(dir);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/dissect/designator-table", test_designator_table);
        g_test_add_func("/dissect/fstype-allowed", test_fstype_allowed);
        g_test_add_func("/dissect/check-table", test_check_table);
        g_test_add_func("/dissect/files", test_dissect_files);
        return g_test_run();
}
