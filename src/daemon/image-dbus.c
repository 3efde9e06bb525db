/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Manager's image methods (machine1's signatures) and the org.berth.machine1.Image objects. */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bus-errors.h"
#include "image.h"
#include "image-clone.h"
#include "image-dbus.h"
#include "image-lock.h"
#include "image-metadata.h"
#include "image-snapshot.h"
#include "image-snapshot-dbus.h"
#include "log.h"
#include "manager-dbus.h"
#include "name-util.h"
#include "operation.h"
#include "resolve.h"
#include "strv.h"
#include "transfer-dbus.h"

#define MANAGE_IMAGES "org.berth.machine1.manage-images"
/* A worker reading a raw image's metadata gives up after this long (a hostile image must not
 * keep a loop device and an operation slot forever). */
#define METADATA_TIMEOUT_SEC 30U

static int image_bus_path(const char *name, char **ret) {
        return sd_bus_path_encode(IMAGE_OBJECT_PREFIX, name, ret);
}

/* Before the lookup: a bad name is the caller's error, and is not echoed back. */
static int check_name(const char *name, sd_bus_error *error) {
        if (!image_name_is_valid(name))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Image name is invalid.");
        return 0;
}

static int bus_find_image(const char *name, Image **ret, sd_bus_error *error) {
        int r;

        r = check_name(name, error);
        if (r < 0)
                return r;
        r = image_find(name, ret);
        if (r == -ENOENT)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_IMAGE, "No image '%s' known", name);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to look up image: %m");
        return 0;
}

/* The image is in use: the root of a registered machine, or being cloned from. A symlinked
 * image is compared by its own path only: removing or renaming it never touches its target. */
static bool image_busy(Manager *m, const Image *i) {
        for (Machine *k = m->machines; k; k = k->next) {
                const char *rest;

                if (!k->root_directory)
                        continue;
                if (!i->symlink) {
                        if (image_is_root_of(i, k->root_directory))
                                return true;
                        continue;
                }
                rest = startswith(k->root_directory, i->path);
                if (rest && (*rest == '\0' || *rest == '/'))
                        return true;
        }
        return strv_contains(m->image_clone_sources, i->name);
}

/* Refuses with ImageBusy when I is in use: the root of a registered machine, a clone's source,
 * or locked by anyone (berth-spawn holds a lock for its whole run, so machines started without
 * berthd count too). Otherwise takes the exclusive lock into *RET_LOCK: held while I changes, it
 * keeps a machine from starting on I in the middle. */
static int image_acquire(Manager *m, const Image *i, int *ret_lock, sd_bus_error *error) {
        int fd;

        if (image_busy(m, i))
                return sd_bus_error_setf(error, BUS_ERROR_IMAGE_BUSY, "Image '%s' is in use", i->name);
        fd = image_lock(i->path, true);
        if (fd == -EBUSY)
                return sd_bus_error_setf(error, BUS_ERROR_IMAGE_BUSY, "Image '%s' is in use by a running machine",
                                         i->name);
        if (fd < 0)
                return sd_bus_error_set_errnof(error, fd, "Failed to lock image '%s': %m", i->name);
        *ret_lock = fd;
        return 0;
}

static int act_error(int r, const Image *i, const char *what, sd_bus_error *error) {
        if (r == -EROFS)
                return sd_bus_error_setf(error, "System.Error.EROFS", "Image '%s' is read-only", i->name);
        if (r == -EEXIST)
                return sd_bus_error_set(error, SD_BUS_ERROR_FILE_EXISTS, "An image with the new name exists already");
        if (r == -EMEDIUMTYPE)
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                         "Image '%s' is a symlink in the pool; not supported", i->name);
        if (r == -EOPNOTSUPP && i->type == IMAGE_BLOCK)
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                         "Image '%s' is a block device; not supported", i->name);
        if (r == -EOPNOTSUPP)
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                         "The file system of image '%s' does not support this", i->name);
        return sd_bus_error_set_errnof(error, r, "Failed to %s image '%s': %m", what, i->name);
}

static int verify(sd_bus_message *message, Manager *m, const char *name, const char *verb,
                  const char *new_name, const char *read_only, sd_bus_error *error) {
        const char *details[9] = { "image", name, "verb", verb };
        size_t n = 4;

        if (new_name) {
                details[n++] = "new_name";
                details[n++] = new_name;
        }
        if (read_only) {
                details[n++] = "read_only";
                details[n++] = read_only;
        }
        return polkit_verify_async(message, MANAGE_IMAGES, details, &m->polkit_registry, error);
}

static int do_remove(sd_bus_message *message, Manager *m, const char *name, sd_bus_error *error) {
        _cleanup_(image_freep) Image *i = NULL;
        _cleanup_free_ char *hidden = NULL;
        _cleanup_close_ int lock = -EBADF;
        int r, result_fd = -EBADF;

        r = bus_find_image(name, &i, error);
        if (r < 0)
                return r;
        r = verify(message, m, i->name, "remove", NULL, NULL, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = image_acquire(m, i, &lock, error);
        if (r < 0)
                return r;
        r = operation_check_limit(m, error);
        if (r < 0)
                return r;

        /* Out of sight now; the (maybe long) removal of the tree happens in a worker. */
        r = image_hide_for_removal(i, &hidden);
        if (r < 0)
                return act_error(r, i, "remove", error);
        if (!hidden)
                return sd_bus_reply_method_return(message, NULL);

        r = operation_fork(m, message, NULL, NULL, NULL, &result_fd, error);
        if (r < 0)
                return r; /* the hidden tree goes at berthd's next start */
        if (r == 0) {
                /* The worker keeps the lock (the same open file) until the image is gone. */
                /* The snapshots first: out of sight at once, before a new image takes the name. */
                (void) image_snapshots_remove(i->name); /* a leftover goes at the next start */
                r = image_remove_hidden(hidden);
                if (r < 0)
                        (void) operation_report_errorf(result_fd, r, NULL, "Failed to remove image: %s",
                                                       strerror(-r));
                else
                        (void) operation_report(result_fd, 0, NULL, 0, -EBADF);
                _exit(r < 0 ? 1 : 0);
        }
        return 1;
}

static int do_rename(sd_bus_message *message, Manager *m, const char *name, const char *new_name,
                     sd_bus_error *error) {
        _cleanup_(image_freep) Image *i = NULL;
        _cleanup_close_ int lock = -EBADF;
        int r;

        r = check_name(new_name, error);
        if (r < 0)
                return r;
        if (streq(new_name, IMAGE_SNAPSHOTS_NAME))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Image name is reserved.");
        r = bus_find_image(name, &i, error);
        if (r < 0)
                return r;
        r = verify(message, m, i->name, "rename", new_name, NULL, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = image_acquire(m, i, &lock, error);
        if (r < 0)
                return r;
        r = image_rename(i, new_name);
        if (r < 0)
                return act_error(r, i, "rename", error);
        r = image_snapshots_rename(name, new_name); /* the snapshots follow (image-snapshot.c) */
        if (r < 0)
                log_warning_errno(r, "Image '%s' is now '%s', but its snapshots stay under the old name: %m",
                                  name, new_name);
        return sd_bus_reply_method_return(message, NULL);
}

static int do_mark(sd_bus_message *message, Manager *m, const char *name, int read_only,
                   sd_bus_error *error) {
        _cleanup_(image_freep) Image *i = NULL;
        _cleanup_close_ int lock = -EBADF;
        int r;

        r = bus_find_image(name, &i, error);
        if (r < 0)
                return r;
        if (i->symlink)
                return act_error(-EMEDIUMTYPE, i, "mark", error);
        r = verify(message, m, i->name, "mark-read-only", NULL, read_only ? "yes" : "no", error);
        if (r <= 0)
                return r < 0 ? r : 1;
        /* Making an image writable under a running (read-only) machine would surprise it. */
        if (!read_only) {
                r = image_acquire(m, i, &lock, error);
                if (r < 0)
                        return r;
        }
        r = image_set_read_only(i, read_only);
        if (r < 0)
                return act_error(r, i, "mark", error);
        return sd_bus_reply_method_return(message, NULL);
}

/* What a clone's operation holds on to: its source, busy until the worker is gone, and the
 * transfer that shows a copy's progress (0: none, e.g. a snapshot). */
typedef struct CloneJob {
        Manager *manager;
        char *source;
        uint32_t transfer_id;
} CloneJob;

static void clone_job_free(void *userdata) {
        CloneJob *j = userdata;
        char **l = j->manager->image_clone_sources;
        size_t n = strv_length(l);

        /* Without DONE (the caller went away, berthd exits): the transfer ends here. */
        (void) transfer_bus_clone_end(j->manager, j->transfer_id, -ECANCELED);
        for (size_t k = 0; k < n; k++)
                if (streq(l[k], j->source)) {
                        free(l[k]);
                        memmove(l + k, l + k + 1, (n - k) * sizeof(char *));
                        break;
                }
        if (l && !l[0])
                j->manager->image_clone_sources = strv_free(l);
        free(j->source);
        free(j);
}

/* The clone's end: TransferRemoved first, then the reply (machined's: empty, once done). */
static int on_clone_done(Operation *o, OperationResult *result, void *userdata, sd_bus_error *error) {
        CloneJob *j = userdata;
        bool canceled;

        canceled = transfer_bus_clone_end(j->manager, j->transfer_id, result->error);
        j->transfer_id = 0;
        if (canceled)
                return sd_bus_error_setf(error, BUS_ERROR_CANCELED, "The clone of image '%s' was canceled", j->source);
        if (result->error < 0)
                return result->error;
        return sd_bus_reply_method_return(operation_get_message(o), NULL);
}

static int do_clone(sd_bus_message *message, Manager *m, const char *name, const char *new_name,
                    int read_only, sd_bus_error *error) {
        _cleanup_(image_freep) Image *i = NULL, *other = NULL;
        _cleanup_close_pair_ int pipe_fds[2] = { -EBADF, -EBADF };
        _cleanup_close_ int src_fd = -EBADF;
        Operation *o = NULL;
        CloneJob *j;
        int r, result_fd = -EBADF;

        r = check_name(new_name, error);
        if (r < 0)
                return r;
        r = bus_find_image(name, &i, error);
        if (r < 0)
                return r;
        if (i->symlink)
                return act_error(-EMEDIUMTYPE, i, "clone", error);
        if (i->type == IMAGE_BLOCK)
                return act_error(-EOPNOTSUPP, i, "clone", error);
        if (streq(new_name, IMAGE_SNAPSHOTS_NAME))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Image name is reserved.");
        r = verify(message, m, i->name, "clone", new_name, read_only ? "yes" : "no", error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (image_snapshot_restoring(m, i->name)) /* it would copy the old tree as it is deleted */
                return sd_bus_error_setf(error, BUS_ERROR_IMAGE_BUSY, "Image '%s' is being restored", i->name);
        if (image_find(new_name, &other) >= 0)
                return act_error(-EEXIST, i, "clone", error);
        /* Opened here: a rename racing the worker does not change what it copies. */
        src_fd = open(i->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY |
                               (i->type == IMAGE_RAW ? 0 : O_DIRECTORY));
        if (src_fd < 0)
                return act_error(-errno, i, "clone", error);

        j = calloc(1, sizeof(*j));
        if (!j || !(j->source = strdup(i->name))) {
                free(j);
                return -ENOMEM;
        }
        j->manager = m;
        r = strv_extend(&m->image_clone_sources, i->name);
        if (r < 0) {
                free(j->source);
                free(j);
                return r;
        }
        /* A copy shows as a transfer; a snapshot is instant and does not. */
        if (i->type != IMAGE_SUBVOLUME && pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) < 0)
                log_debug_errno(errno, "No progress for the clone of %s: %m", i->name);
        r = operation_fork(m, message, on_clone_done, j, &o, &result_fd, error);
        if (r < 0) {
                clone_job_free(j);
                return r;
        }
        if (r == 0) {
                pipe_fds[0] = safe_close(pipe_fds[0]);
                image_clone_worker_run(result_fd, i->type, src_fd, new_name, read_only, pipe_fds[1]);
        }
        operation_set_destroy(o, clone_job_free);
        pipe_fds[1] = safe_close(pipe_fds[1]);
        if (pipe_fds[0] >= 0) {
                /* A copy polls for SIGTERM (image-clone.c): a caller who leaves (Ctrl-C in
                 * berthctl) stops it as CancelTransfer does, half copy removed, not left for
                 * berthd's next start as SIGKILL would. */
                operation_set_cancel_signal(o, SIGTERM);
                r = transfer_bus_clone_begin(m, o, i->name, new_name, TAKE_FD(pipe_fds[0]), &j->transfer_id);
                if (r < 0)
                        log_debug_errno(r, "No transfer for the clone of %s: %m", i->name);
        }
        return 1;
}

/* CleanPool: every writable image nobody uses ("all") or only the hidden ones ("hidden"), out of
 * sight at once and removed in one worker; answers with what it took, as machined does. */
static int method_clean_pool(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(image_list_freep) Image **l = NULL;
        _cleanup_strv_free_ char **hidden = NULL;
        _cleanup_strv_free_ char **names = NULL; /* whose snapshots go too */
        Manager *m = userdata;
        const char *mode;
        bool all;
        int r, result_fd = -EBADF;

        r = sd_bus_message_read(message, "s", &mode);
        if (r < 0)
                return r;
        if (!streq(mode, "all") && !streq(mode, "hidden"))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown mode '%s'; all or hidden", mode);
        all = streq(mode, "all");
        const char *details[] = { "verb", "clean", "mode", mode, NULL };
        r = polkit_verify_async(message, MANAGE_IMAGES, details, &m->polkit_registry, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = operation_check_limit(m, error);
        if (r < 0)
                return r;

        r = image_discover(true, &l);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to list the images: %m");
        r = sd_bus_message_new_method_return(message, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(st)");
        if (r < 0)
                return r;
        for (Image **i = l; *i; i++) {
                _cleanup_free_ char *h = NULL;

                if ((*i)->read_only || (!all && (*i)->name[0] != '.') || image_busy(m, *i) ||
                    image_lock_held((*i)->path) != 0)
                        continue;
                if (image_hide_for_removal(*i, &h) < 0)
                        continue;
                if (strv_extend(&names, (*i)->name) < 0)
                        return -ENOMEM;
                if ((h && strv_consume(&hidden, TAKE_PTR(h)) < 0) ||
                    sd_bus_message_append(reply, "(st)", (*i)->name, (*i)->usage) < 0)
                        return -ENOMEM;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        if (hidden) {
                /* Nobody waits for this worker: a failure leaves hidden trees for the next start. */
                r = operation_fork(m, NULL, NULL, NULL, NULL, &result_fd, error);
                if (r == 0) {
                        STRV_FOREACH(n, names)
                                (void) image_snapshots_remove(*n);
                        STRV_FOREACH(h, hidden)
                                r = image_remove_hidden(*h) < 0 ? -1 : r;
                        _exit(r < 0 ? 1 : 0);
                }
                if (r < 0)
                        log_warning("Failed to start removing the cleaned images; berthd's next start will.");
                sd_bus_error_free(error);
        }
        return sd_bus_send(NULL, reply, NULL);
}

/* SetLimit: btrfs quota groups, so subvolumes only; enabling quota can take a while, hence the worker. */
static int do_set_limit(sd_bus_message *message, Manager *m, const char *name, uint64_t limit,
                        sd_bus_error *error) {
        _cleanup_(image_freep) Image *i = NULL;
        char limit_text[32];
        int r, result_fd = -EBADF;

        r = bus_find_image(name, &i, error);
        if (r < 0)
                return r;
        snprintf(limit_text, sizeof(limit_text), "%" PRIu64, limit);
        const char *details[] = { "image", i->name, "verb", "set-limit", "limit", limit_text, NULL };
        r = polkit_verify_async(message, MANAGE_IMAGES, details, &m->polkit_registry, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (i->vendor)
                return act_error(-EROFS, i, "limit", error);
        if (i->symlink)
                return act_error(-EMEDIUMTYPE, i, "limit", error);
        if (i->type != IMAGE_SUBVOLUME)
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                         "Image %s is a %s on %s; limits need a btrfs subvolume", i->name,
                                         i->type == IMAGE_RAW ? "raw disk image" : image_type_to_string(i->type),
                                         image_fs_name(i));
        r = operation_fork(m, message, NULL, NULL, NULL, &result_fd, error);
        if (r < 0)
                return r;
        if (r == 0) {
                r = image_set_limit(i, limit);
                if (r < 0)
                        (void) operation_report_errorf(result_fd, r, NULL, "Failed to set the limit of image '%s': %s",
                                                       i->name, strerror(-r));
                else
                        (void) operation_report(result_fd, 0, NULL, 0, -EBADF);
                _exit(r < 0 ? 1 : 0);
        }
        return 1;
}

/* Which identity file a metadata method asks for, by its name (GetImageOSRelease, GetOSRelease, ...). */
static ImageMetadataField metadata_field(sd_bus_message *message) {
        static const char *const suffixes[_IMAGE_METADATA_FIELD_MAX] = {
                [IMAGE_METADATA_HOSTNAME] = "Hostname",
                [IMAGE_METADATA_MACHINE_ID] = "MachineID",
                [IMAGE_METADATA_MACHINE_INFO] = "MachineInfo",
                [IMAGE_METADATA_OS_RELEASE] = "OSRelease",
        };
        const char *member = strempty(sd_bus_message_get_member(message));
        size_t n = strlen(member);

        for (ImageMetadataField f = 0; f < _IMAGE_METADATA_FIELD_MAX; f++) {
                size_t k = strlen(suffixes[f]);

                if (n > k && streq(member + n - k, suffixes[f]))
                        return f;
        }
        return _IMAGE_METADATA_FIELD_INVALID;
}

static int metadata_reply(sd_bus_message *message, ImageMetadataField field, const char *text, size_t size,
                          sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *h = NULL;
        uint8_t id[16];
        int set, r;

        switch (field) {
        case IMAGE_METADATA_HOSTNAME:
                if (image_metadata_parse_hostname(text, size, &h) < 0)
                        return sd_bus_error_set(error, SD_BUS_ERROR_FAILED, "The image's /etc/hostname is not a valid host name");
                return sd_bus_reply_method_return(message, "s", h);
        case IMAGE_METADATA_MACHINE_ID:
                if (image_metadata_parse_machine_id(text, size, id, &set) < 0)
                        return sd_bus_error_set(error, SD_BUS_ERROR_FAILED, "The image's /etc/machine-id is not a machine ID");
                r = sd_bus_message_new_method_return(message, &reply);
                if (r >= 0)
                        r = sd_bus_message_append_array(reply, 'y', id, set ? sizeof(id) : 0);
                break;
        case IMAGE_METADATA_MACHINE_INFO:
        case IMAGE_METADATA_OS_RELEASE:
                r = image_metadata_parse_env(text, size, &l);
                if (r >= 0)
                        r = sd_bus_message_new_method_return(message, &reply);
                if (r >= 0)
                        r = sd_bus_message_open_container(reply, 'a', "{ss}");
                for (char **k = l; r >= 0 && k && k[0] && k[1]; k += 2)
                        r = sd_bus_message_append(reply, "{ss}", k[0], k[1]);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
                break;
        case _IMAGE_METADATA_FIELD_MAX:
        case _IMAGE_METADATA_FIELD_INVALID:
        default:
                return -EINVAL;
        }
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int metadata_error(int r, const Image *i, ImageMetadataField field, sd_bus_error *error) {
        if (r == -EFBIG)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED,
                                         "An identity file of image '%s' is larger than %u bytes; not read",
                                         i->name, IMAGE_METADATA_FILE_MAX);
        if (r == -EBADFD)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED,
                                         "An identity file of image '%s' is not a regular file; not read", i->name);
        return sd_bus_error_set_errnof(error, r, "Failed to read from image '%s': %m", i->name);
}

static int metadata_done(Operation *o, OperationResult *result, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        int r;

        if (result->error < 0)
                return result->error;
        if (result->fd >= 0) {
                r = read_fd_full(result->fd, IMAGE_METADATA_FILE_MAX, &buf, &size);
                if (r < 0)
                        return r;
        }
        return metadata_reply(operation_get_message(o), (ImageMetadataField) (intptr_t) userdata, buf, size, error);
}

/* The worker for raw images and block devices: mounts the image in its own mount namespace,
 * reads the file and sends it back in a memfd (it may be bigger than a report). */
static _noreturn_ void metadata_worker(int result_fd, const Image *i, ImageMetadataField field) {
        _cleanup_free_ char *buf = NULL, *why = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t size = 0;
        int r;

        (void) alarm(METADATA_TIMEOUT_SEC);
        r = image_metadata_read_image(i->path, field, &buf, &size, &why);
        if (r < 0) {
                (void) operation_report_errorf(result_fd, r, NULL, "Failed to read from image '%s': %s", i->name,
                                               why ?: r == -EFBIG ? "an identity file is larger than 64 KiB" :
                                               r == -EBADFD ? "an identity file is not a regular file" : strerror(-r));
                _exit(1);
        }
        fd = memfd_create("berth-image-metadata", MFD_CLOEXEC);
        if (fd < 0 || (size > 0 && write(fd, buf, size) != (ssize_t) size) || lseek(fd, 0, SEEK_SET) < 0) {
                (void) operation_report_errorf(result_fd, -EIO, NULL, "Failed to pass back the metadata");
                _exit(1);
        }
        (void) operation_report(result_fd, 0, NULL, 0, fd);
        _exit(0);
}

/* Polkit is not asked (machined does not either): reading is bounded and never leaves the image. */
static int do_metadata(sd_bus_message *message, Manager *m, const char *name, sd_bus_error *error) {
        ImageMetadataField field = metadata_field(message);
        _cleanup_(image_freep) Image *i = NULL;
        _cleanup_close_ int root = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        int r, result_fd = -EBADF;

        if (field < 0)
                return -EINVAL;
        r = bus_find_image(name, &i, error);
        if (r < 0)
                return r;
        if (i->type == IMAGE_RAW || i->type == IMAGE_BLOCK) {
                r = operation_fork(m, message, metadata_done, (void *) (intptr_t) field, NULL, &result_fd, error);
                if (r < 0)
                        return r;
                if (r == 0)
                        metadata_worker(result_fd, i, field);
                return 1;
        }
        /* Following a pool symlink here only finds the image's root; everything below is
         * resolved inside it. */
        root = open(i->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return metadata_error(-errno, i, field, error);
        r = image_metadata_read(root, field, &buf, &size);
        if (r < 0)
                return metadata_error(r, i, field, error);
        return metadata_reply(message, field, buf, size, error);
}

/* ---- Manager methods ---- */

static int method_list_images(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(image_list_freep) Image **l = NULL;
        int r;

        r = image_discover(true, &l);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to list images: %m");
        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ssbttto)");
        if (r < 0)
                return r;
        for (Image **i = l; *i; i++) {
                _cleanup_free_ char *p = NULL;

                r = image_bus_path((*i)->name, &p);
                if (r < 0)
                        return r;
                r = sd_bus_message_append(reply, "(ssbttto)", (*i)->name, image_type_to_string((*i)->type),
                                          (int) (*i)->read_only, (*i)->crtime, (*i)->mtime, (*i)->usage, p);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_get_image(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(image_freep) Image *i = NULL;
        _cleanup_free_ char *p = NULL;
        const char *name;
        int r;

        r = sd_bus_message_read(message, "s", &name);
        if (r < 0)
                return r;
        r = bus_find_image(name, &i, error);
        if (r < 0)
                return r;
        r = image_bus_path(i->name, &p);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, "o", p);
}

static int method_remove_image(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        const char *name;
        int r;

        r = sd_bus_message_read(message, "s", &name);
        if (r < 0)
                return r;
        return do_remove(message, userdata, name, error);
}

static int method_rename_image(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        const char *name, *new_name;
        int r;

        r = sd_bus_message_read(message, "ss", &name, &new_name);
        if (r < 0)
                return r;
        return do_rename(message, userdata, name, new_name, error);
}

static int method_clone_image(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        const char *name, *new_name;
        int read_only, r;

        r = sd_bus_message_read(message, "ssb", &name, &new_name, &read_only);
        if (r < 0)
                return r;
        return do_clone(message, userdata, name, new_name, read_only, error);
}

static int method_mark_image_read_only(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        const char *name;
        int read_only, r;

        r = sd_bus_message_read(message, "sb", &name, &read_only);
        if (r < 0)
                return r;
        return do_mark(message, userdata, name, read_only, error);
}

static int method_set_image_limit(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        const char *name;
        uint64_t limit;
        int r;

        r = sd_bus_message_read(message, "st", &name, &limit);
        if (r < 0)
                return r;
        return do_set_limit(message, userdata, name, limit, error);
}

static int method_get_image_metadata(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        const char *name;
        int r;

        r = sd_bus_message_read(message, "s", &name);
        if (r < 0)
                return r;
        return do_metadata(message, userdata, name, error);
}

/* ---- Image objects ---- */

/* The image of an object path; -ENOENT (UnknownObject) once it is gone. */
static int image_from_path(const char *path, Image **ret, sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        int r;

        r = sd_bus_path_decode(path, IMAGE_OBJECT_PREFIX, &name);
        if (r < 0)
                return r;
        if (r == 0 || image_find(name, ret) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_UNKNOWN_OBJECT, "Image is gone");
        return 0;
}

static int image_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                             void **found, sd_bus_error *error) {
        _cleanup_(image_freep) Image *i = NULL;
        _cleanup_free_ char *name = NULL;
        int r;

        r = sd_bus_path_decode(path, IMAGE_OBJECT_PREFIX, &name);
        if (r <= 0)
                return r;
        if (image_find(name, &i) < 0)
                return 0;
        *found = userdata;
        return 1;
}

static int image_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                                 sd_bus_error *error) {
        _cleanup_(image_list_freep) Image **l = NULL;
        _cleanup_strv_free_ char **paths = NULL;
        int r;

        r = image_discover(true, &l);
        if (r < 0)
                return r;
        for (Image **i = l; *i; i++) {
                char *p = NULL;

                r = image_bus_path((*i)->name, &p);
                if (r < 0)
                        return r;
                r = strv_consume(&paths, p);
                if (r < 0)
                        return r;
        }
        if (!paths && !(paths = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *nodes = TAKE_PTR(paths);
        return 1;
}

static int property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        _cleanup_(image_freep) Image *i = NULL;
        int r;

        r = image_from_path(path, &i, error);
        if (r < 0)
                return r;
        if (streq(property, "Name"))
                return sd_bus_message_append(reply, "s", i->name);
        if (streq(property, "Path"))
                return sd_bus_message_append(reply, "s", i->path);
        if (streq(property, "Type"))
                return sd_bus_message_append(reply, "s", image_type_to_string(i->type));
        if (streq(property, "ReadOnly"))
                return sd_bus_message_append(reply, "b", (int) i->read_only);
        if (streq(property, "CreationTimestamp"))
                return sd_bus_message_append(reply, "t", i->crtime);
        if (streq(property, "ModificationTimestamp"))
                return sd_bus_message_append(reply, "t", i->mtime);
        if (streq(property, "Usage"))
                return sd_bus_message_append(reply, "t", i->usage);
        if (streq(property, "UsageExclusive"))
                return sd_bus_message_append(reply, "t", i->usage_exclusive);
        if (streq(property, "Limit"))
                return sd_bus_message_append(reply, "t", i->limit);
        if (streq(property, "LimitExclusive"))
                return sd_bus_message_append(reply, "t", i->limit_exclusive);
        return -EINVAL;
}

/* The image's name from the object path of MESSAGE, in *RET (freed by the caller). */
static int object_name(sd_bus_message *message, char **ret, sd_bus_error *error) {
        int r;

        r = sd_bus_path_decode(sd_bus_message_get_path(message), IMAGE_OBJECT_PREFIX, ret);
        if (r < 0)
                return r;
        if (r == 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_UNKNOWN_OBJECT, "Not an image");
        return 0;
}

static int method_image_remove(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        int r;

        r = object_name(message, &name, error);
        if (r < 0)
                return r;
        return do_remove(message, userdata, name, error);
}

static int method_image_rename(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        const char *new_name;
        int r;

        r = sd_bus_message_read(message, "s", &new_name);
        if (r < 0)
                return r;
        r = object_name(message, &name, error);
        if (r < 0)
                return r;
        return do_rename(message, userdata, name, new_name, error);
}

static int method_image_clone(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        const char *new_name;
        int read_only, r;

        r = sd_bus_message_read(message, "sb", &new_name, &read_only);
        if (r < 0)
                return r;
        r = object_name(message, &name, error);
        if (r < 0)
                return r;
        return do_clone(message, userdata, name, new_name, read_only, error);
}

static int method_image_mark_read_only(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        int read_only, r;

        r = sd_bus_message_read(message, "b", &read_only);
        if (r < 0)
                return r;
        r = object_name(message, &name, error);
        if (r < 0)
                return r;
        return do_mark(message, userdata, name, read_only, error);
}

static int method_image_set_limit(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        uint64_t limit;
        int r;

        r = sd_bus_message_read(message, "t", &limit);
        if (r < 0)
                return r;
        r = object_name(message, &name, error);
        if (r < 0)
                return r;
        return do_set_limit(message, userdata, name, limit, error);
}

static int method_image_get_metadata(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        int r;

        r = object_name(message, &name, error);
        if (r < 0)
                return r;
        return do_metadata(message, userdata, name, error);
}

static const sd_bus_vtable image_manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("ListImages", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssbttto)", images),
                                method_list_images, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetImage", SD_BUS_ARGS("s", name), SD_BUS_RESULT("o", image),
                                method_get_image, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveImage", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                                method_remove_image, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RenameImage", SD_BUS_ARGS("s", name, "s", new_name), SD_BUS_NO_RESULT,
                                method_rename_image, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CloneImage", SD_BUS_ARGS("s", name, "s", new_name, "b", read_only),
                                SD_BUS_NO_RESULT, method_clone_image, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CleanPool", SD_BUS_ARGS("s", mode), SD_BUS_RESULT("a(st)", images),
                                method_clean_pool, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("MarkImageReadOnly", SD_BUS_ARGS("s", name, "b", read_only),
                                SD_BUS_NO_RESULT, method_mark_image_read_only, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetImageLimit", SD_BUS_ARGS("s", name, "t", size), SD_BUS_NO_RESULT,
                                method_set_image_limit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetImageHostname", SD_BUS_ARGS("s", name), SD_BUS_RESULT("s", hostname),
                                method_get_image_metadata, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetImageMachineID", SD_BUS_ARGS("s", name), SD_BUS_RESULT("ay", id),
                                method_get_image_metadata, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetImageMachineInfo", SD_BUS_ARGS("s", name), SD_BUS_RESULT("a{ss}", machine_info),
                                method_get_image_metadata, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetImageOSRelease", SD_BUS_ARGS("s", name), SD_BUS_RESULT("a{ss}", os_release),
                                method_get_image_metadata, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

/* Name, Path and Type never change for one object path (a renamed image has a new path); the
 * others change without a signal: a client reads them again. */
static const sd_bus_vtable image_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Path", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Type", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ReadOnly", "b", property_get, 0, 0),
        SD_BUS_PROPERTY("CreationTimestamp", "t", property_get, 0, 0),
        SD_BUS_PROPERTY("ModificationTimestamp", "t", property_get, 0, 0),
        SD_BUS_PROPERTY("Usage", "t", property_get, 0, 0),
        SD_BUS_PROPERTY("Limit", "t", property_get, 0, 0),
        SD_BUS_PROPERTY("UsageExclusive", "t", property_get, 0, 0),
        SD_BUS_PROPERTY("LimitExclusive", "t", property_get, 0, 0),
        SD_BUS_METHOD_WITH_ARGS("Remove", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                                method_image_remove, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Rename", SD_BUS_ARGS("s", new_name), SD_BUS_NO_RESULT,
                                method_image_rename, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Clone", SD_BUS_ARGS("s", new_name, "b", read_only), SD_BUS_NO_RESULT,
                                method_image_clone, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("MarkReadOnly", SD_BUS_ARGS("b", read_only), SD_BUS_NO_RESULT,
                                method_image_mark_read_only, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetLimit", SD_BUS_ARGS("t", size), SD_BUS_NO_RESULT,
                                method_image_set_limit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetHostname", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", hostname),
                                method_image_get_metadata, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetMachineID", SD_BUS_NO_ARGS, SD_BUS_RESULT("ay", id),
                                method_image_get_metadata, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetMachineInfo", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{ss}", machine_info),
                                method_image_get_metadata, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetOSRelease", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{ss}", os_release),
                                method_image_get_metadata, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

int image_bus_register(Manager *m) {
        int r;

        r = image_pool_clean();
        if (r < 0)
                log_warning_errno(r, "Failed to remove leftovers of interrupted operations from %s: %m",
                                  image_pool_path());
        else if (r > 0)
                log_info("Removed %i leftovers of interrupted image operations from %s.", r, image_pool_path());

        r = sd_bus_add_object_vtable(m->bus, NULL, MANAGER_OBJECT_PATH, MANAGER_INTERFACE,
                                     image_manager_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the image methods: %m");
        r = sd_bus_add_fallback_vtable(m->bus, NULL, IMAGE_OBJECT_PREFIX, IMAGE_INTERFACE, image_vtable,
                                       image_object_find, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the image objects: %m");
        r = sd_bus_add_node_enumerator(m->bus, NULL, IMAGE_OBJECT_PREFIX, image_node_enumerator, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the image enumerator: %m");
        r = image_snapshot_bus_register(m); /* the snapshot methods, merged into the same interfaces */
        if (r < 0)
                return r;
        return 0;
}
