/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading an image's identity files (hostname, machine ID, machine-info, os-release) without leaving its tree or reading unbounded. */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/* No identity file is read beyond this; a larger one is an error (-EFBIG), never truncated. */
#define IMAGE_METADATA_FILE_MAX (64U * 1024U)

typedef enum ImageMetadataField {
        IMAGE_METADATA_HOSTNAME,     /* /etc/hostname */
        IMAGE_METADATA_MACHINE_ID,   /* /etc/machine-id */
        IMAGE_METADATA_MACHINE_INFO, /* /etc/machine-info */
        IMAGE_METADATA_OS_RELEASE,   /* /etc/os-release, else /usr/lib/os-release */
        _IMAGE_METADATA_FIELD_MAX,
        _IMAGE_METADATA_FIELD_INVALID = -EINVAL,
} ImageMetadataField;

/* Reads the file of FIELD from the tree whose root is open at ROOT_FD: every path is resolved
 * inside the tree (a symlink to /etc/shadow is the tree's /etc/shadow), only regular files are
 * opened, at most IMAGE_METADATA_FILE_MAX bytes are read (-EFBIG beyond). A missing file is no
 * error: *RET is then NULL and *RET_SIZE 0. The content may hold any bytes; it is
 * NUL-terminated. */
int image_metadata_read(int root_fd, ImageMetadataField field, char **ret, size_t *ret_size);

/* The same for a raw disk image or block device at PATH: dissects it, mounts it read-only, nodev,
 * nosuid and noexec in a new mount namespace of the CALLING process (call it only in a forked
 * worker, which then exits) and reads the file there. -EPROTONOSUPPORT etc. from the dissect,
 * with a sentence in *RET_REASON. */
int image_metadata_read_image(const char *path, ImageMetadataField field, char **ret, size_t *ret_size,
                              char **ret_reason);

/* The first line of TEXT (SIZE bytes, may be NULL), if it is a valid host name; "" for none.
 * -EBADMSG for garbage. */
int image_metadata_parse_hostname(const char *text, size_t size, char **ret);

/* The machine ID in TEXT: 32 hex digits on the first line. 0 and *RET_SET = 0 for none (missing,
 * empty, "uninitialized"); -EBADMSG for garbage. */
int image_metadata_parse_machine_id(const char *text, size_t size, uint8_t ret[16], int *ret_set);

/* KEY=VALUE lines of an environment-like file (os-release, machine-info) as a strv of keys and
 * values alternating. Quotes and backslash escapes are undone; comments, lines that are not
 * assignments, keys that are not [A-Za-z0-9_] and values that are not valid UTF-8 are skipped. */
int image_metadata_parse_env(const char *text, size_t size, char ***ret);
