/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading an image's identity files inside its own tree (never the host's), bounded, and parsing them for D-Bus. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "dissect.h"
#include "image-metadata.h"
#include "macro.h"
#include "name-util.h"
#include "resolve.h"
#include "strv.h"

/* Where a raw image is mounted inside the worker's own mount namespace: over its /tmp, so
 * nothing is created on the host and nothing is left behind when the worker dies. */
#define METADATA_MOUNT_POINT "/tmp"

int image_metadata_read(int root_fd, ImageMetadataField field, char **ret, size_t *ret_size) {
        static const char *const paths[_IMAGE_METADATA_FIELD_MAX][2] = {
                [IMAGE_METADATA_HOSTNAME] = { "/etc/hostname" },
                [IMAGE_METADATA_MACHINE_ID] = { "/etc/machine-id" },
                [IMAGE_METADATA_MACHINE_INFO] = { "/etc/machine-info" },
                [IMAGE_METADATA_OS_RELEASE] = { "/etc/os-release", "/usr/lib/os-release" },
        };
        int r = -ENOENT;

        if (field < 0 || field >= _IMAGE_METADATA_FIELD_MAX)
                return -EINVAL;
        for (size_t k = 0; k < 2 && paths[field][k]; k++) {
                char *buf = NULL;

                /* Resolved with RESOLVE_IN_ROOT; regular files only (a FIFO or device is never
                 * opened); at most IMAGE_METADATA_FILE_MAX bytes read. */
                r = read_file_in_root(root_fd, paths[field][k], IMAGE_METADATA_FILE_MAX, &buf);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                *ret_size = strlen(buf);
                *ret = buf;
                return 0;
        }
        *ret = NULL;
        *ret_size = 0;
        return 0;
}

int image_metadata_read_image(const char *path, ImageMetadataField field, char **ret, size_t *ret_size,
                              char **ret_reason) {
        _cleanup_(dissected_image_freep) DissectedImage *m = NULL;
        _cleanup_close_ int fd = -EBADF, root = -EBADF;
        int r;

        if (unshare(CLONE_NEWNS) < 0)
                return negative_errno();
        /* Nothing we mount may propagate back to the host. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return negative_errno();
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return negative_errno();
        r = dissect_image_fd(fd, &m, ret_reason);
        if (r < 0)
                return r;
        r = dissected_image_attach(m, fd, true);
        if (r < 0)
                return r;
        r = dissected_image_mount(m, METADATA_MOUNT_POINT,
                                  DISSECT_MOUNT_READ_ONLY | DISSECT_MOUNT_ROOT_ONLY | DISSECT_MOUNT_NOSUID);
        if (r < 0)
                return r;
        root = open(METADATA_MOUNT_POINT, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                r = negative_errno();
        else
                r = image_metadata_read(root, field, ret, ret_size);
        root = safe_close(root);
        (void) dissect_umount_tree(METADATA_MOUNT_POINT);
        return r;
}

/* The first line of TEXT, without surrounding white space. */
static char *first_line(const char *text, size_t size) {
        size_t a = 0, b;

        if (!text)
                return strdup("");
        while (a < size && strchr(" \t", text[a]) && text[a])
                a++;
        for (b = a; b < size && text[b] && text[b] != '\n'; b++)
                ;
        while (b > a && strchr(" \t\r", text[b - 1]))
                b--;
        return strndup(text + a, b - a);
}

int image_metadata_parse_hostname(const char *text, size_t size, char **ret) {
        _cleanup_free_ char *l = first_line(text, size);

        if (!l)
                return -ENOMEM;
        /* machine_name_is_valid() is the host name rule (RFC 1123 labels, at most 64 bytes). */
        if (!isempty(l) && !machine_name_is_valid(l))
                return -EBADMSG;
        *ret = TAKE_PTR(l);
        return 0;
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}

int image_metadata_parse_machine_id(const char *text, size_t size, uint8_t ret[16], int *ret_set) {
        _cleanup_free_ char *l = first_line(text, size);

        if (!l)
                return -ENOMEM;
        *ret_set = 0;
        if (isempty(l) || streq(l, "uninitialized"))
                return 0;
        if (strlen(l) != 32)
                return -EBADMSG;
        for (size_t k = 0; k < 16; k++) {
                int a = unhex(l[2 * k]), b = unhex(l[2 * k + 1]);

                if (a < 0 || b < 0)
                        return -EBADMSG;
                ret[k] = (uint8_t) (a << 4 | b);
        }
        *ret_set = 1;
        return 0;
}

/* Valid UTF-8 without control characters other than tab (D-Bus refuses invalid UTF-8). */
static bool text_is_valid(const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        while (*p) {
                unsigned n, c;

                if (*p < 0x80) {
                        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
                                return false;
                        p++;
                        continue;
                }
                if ((*p & 0xe0) == 0xc0)
                        n = 1, c = *p & 0x1f;
                else if ((*p & 0xf0) == 0xe0)
                        n = 2, c = *p & 0x0f;
                else if ((*p & 0xf8) == 0xf0)
                        n = 3, c = *p & 0x07;
                else
                        return false;
                p++;
                for (unsigned k = 0; k < n; k++, p++) {
                        if ((*p & 0xc0) != 0x80)
                                return false;
                        c = c << 6 | (*p & 0x3f);
                }
                if ((n == 1 && c < 0x80) || (n == 2 && c < 0x800) || (n == 3 && c < 0x10000) ||
                    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                        return false;
        }
        return true;
}

/* Undoes shell-like quoting of VALUE (one line) in place: "..." with \" \\ \$ \` escapes, '...'. */
static void unquote(char *value) {
        char *w = value, quote = 0;

        for (char *p = value; *p; p++) {
                if (quote == 0 && (*p == '"' || *p == '\'')) {
                        quote = *p;
                        continue;
                }
                if (quote && *p == quote) {
                        quote = 0;
                        continue;
                }
                if (quote != '\'' && *p == '\\' && p[1] && (quote == 0 || strchr("\"\\$`", p[1])))
                        p++;
                *w++ = *p;
        }
        *w = '\0';
}

int image_metadata_parse_env(const char *text, size_t size, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        size_t a = 0;
        int r;

        while (text && a < size) {
                _cleanup_free_ char *line = NULL;
                size_t b = a;
                char *eq, *key;

                while (b < size && text[b] != '\n' && text[b])
                        b++;
                line = strndup(text + a, b - a);
                a = b + 1;
                if (!line)
                        return -ENOMEM;
                key = line + strspn(line, " \t");
                if (*key == '#' || !(eq = strchr(key, '=')))
                        continue;
                *eq = '\0';
                if (isempty(key) || key[strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")])
                        continue;
                eq[1 + strcspn(eq + 1, "\r")] = '\0';
                unquote(eq + 1);
                if (!text_is_valid(eq + 1))
                        continue;
                r = strv_extend(&l, key);
                if (r < 0)
                        return r;
                r = strv_extend(&l, eq + 1);
                if (r < 0)
                        return r;
        }
        if (!l && !(l = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}
