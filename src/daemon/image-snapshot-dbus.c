/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Snapshots on D-Bus: SnapshotImage, ListImageSnapshots, RestoreImageSnapshot, RemoveImageSnapshot and the Image objects' counterparts. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus-errors.h"
#include "image.h"
#include "image-dbus.h"
#include "image-lock.h"
#include "image-snapshot.h"
#include "image-snapshot-dbus.h"
#include "log.h"
#include "manager-dbus.h"
#include "name-util.h"
#include "operation.h"
#include "strv.h"

#define MANAGE_IMAGES "org.berth.machine1.manage-images"

/* Before any lookup: bad names are the caller's error. An empty snapshot name is allowed only
 * where a default exists (SnapshotImage). */
static int check_names(const char *image, const char *snapshot, bool may_be_empty, sd_bus_error *error) {
        if (!image_name_is_valid(image))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Image name is invalid.");
        if (snapshot && !(may_be_empty && isempty(snapshot)) && !image_name_is_valid(snapshot))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Snapshot name is invalid.");
        return 0;
}

static int find_image(const char *name, Image **ret, sd_bus_error *error) {
        int r = image_find(name, ret);

        if (r == -ENOENT)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_IMAGE, "No image '%s' known", name);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to look up image: %m");
        return 0;
}

static int find_snapshot(const Image *i, const char *snapshot, sd_bus_error *error) {
        _cleanup_(image_snapshot_freep) ImageSnapshot *s = NULL;
        int r = image_snapshot_find(i->name, snapshot, &s);

        if (r == -ENOENT)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_SNAPSHOT, "Image '%s' has no snapshot '%s'",
                                         i->name, snapshot);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to look up the snapshot: %m");
        return 0;
}

/* As image-dbus.c: the root of a registered machine, or being copied from by a worker. */
static bool image_in_use(Manager *m, const Image *i) {
        for (Machine *k = m->machines; k; k = k->next)
                if (k->root_directory && image_is_root_of(i, k->root_directory))
                        return true;
        return strv_contains(m->image_clone_sources, i->name);
}

static int verify(sd_bus_message *message, Manager *m, const Image *i, const char *snapshot, const char *verb,
                  sd_bus_error *error) {
        const char *details[7] = { "image", i->name, "verb", verb };

        if (!isempty(snapshot)) {
                details[4] = "snapshot";
                details[5] = snapshot;
        }
        return polkit_verify_async(message, MANAGE_IMAGES, details, &m->polkit_registry, error);
}

/* While a worker works on an image it is busy (as a clone's source is): RemoveImage and
 * RenameImage refuse it, so the image and its snapshot store stay where the worker looks. A
 * restore also adds "NAME" RESTORE_MARK (no image name has a '/'): a copy of an image being
 * restored could read the old tree while it is deleted. */
#define RESTORE_MARK "/restore"

typedef struct SnapshotJob {
        Manager *manager;
        char *image;
        char *restore; /* NAME RESTORE_MARK, or NULL */
} SnapshotJob;

static void sources_remove(Manager *m, const char *s) {
        char **l = m->image_clone_sources;
        size_t n = strv_length(l);

        for (size_t k = 0; s && k < n; k++)
                if (streq(l[k], s)) {
                        free(l[k]);
                        memmove(l + k, l + k + 1, (n - k) * sizeof(char *));
                        break;
                }
        if (l && !l[0])
                m->image_clone_sources = strv_free(l);
}

static void snapshot_job_free(void *userdata) {
        SnapshotJob *j = userdata;

        sources_remove(j->manager, j->image);
        sources_remove(j->manager, j->restore);
        free(j->image);
        free(j->restore);
        free(j);
}

bool image_snapshot_restoring(Manager *m, const char *name) {
        _cleanup_free_ char *mark = NULL;

        if (asprintf(&mark, "%s" RESTORE_MARK, name) < 0)
                return true; /* cannot tell: busy is the safe answer */
        return strv_contains(m->image_clone_sources, mark);
}

/* operation_fork() with I marked busy (and being restored with RESTORE) until the worker is
 * gone: 0 in the worker, 1 in berthd. */
static int job_fork(sd_bus_message *message, Manager *m, const Image *i, bool restore, OperationDone done,
                    int *ret_result_fd, sd_bus_error *error) {
        Operation *o = NULL;
        SnapshotJob *j;
        int r;

        j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        j->manager = m;
        j->image = strdup(i->name);
        if (!j->image || (restore && asprintf(&j->restore, "%s" RESTORE_MARK, i->name) < 0)) {
                free(j->image);
                free(j);
                return -ENOMEM;
        }
        r = strv_extend(&m->image_clone_sources, j->image);
        if (r >= 0 && j->restore) {
                r = strv_extend(&m->image_clone_sources, j->restore);
                if (r < 0)
                        sources_remove(m, j->image);
        }
        if (r < 0) {
                free(j->image);
                free(j->restore);
                free(j);
                return r;
        }
        r = operation_fork(m, message, done, j, &o, ret_result_fd, error);
        if (r < 0) {
                snapshot_job_free(j);
                return r;
        }
        if (r > 0)
                operation_set_destroy(o, snapshot_job_free);
        return r;
}

static int action_error(int r, const Image *i, const char *what, sd_bus_error *error) {
        if (r == -EROFS)
                return sd_bus_error_setf(error, "System.Error.EROFS", "Image '%s' is read-only", i->name);
        if (r == -EMEDIUMTYPE)
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                         "Image '%s' is no directory or raw image file in the pool; not supported",
                                         i->name);
        return sd_bus_error_set_errnof(error, r, "Failed to %s image '%s': %m", what, i->name);
}

/* ---- snapshot ---- */

static int snapshot_done(Operation *o, OperationResult *result, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;

        if (result->error < 0)
                return result->error;
        if (!result->data || result->size == 0 || memchr(result->data, 0, result->size))
                return -EPROTO;
        name = strndup(result->data, result->size);
        if (!name)
                return -ENOMEM;
        if (!image_name_is_valid(name))
                return -EPROTO;
        return sd_bus_reply_method_return(operation_get_message(o), "s", name);
}

static _noreturn_ void snapshot_worker(int result_fd, int src_fd, const char *image, const char *snapshot,
                                       bool numbered) {
        _cleanup_free_ char *name = NULL;
        int r;

        r = image_snapshot_create(src_fd, image, snapshot, numbered, &name);
        if (r == -EEXIST)
                (void) operation_report_errorf(result_fd, r, SD_BUS_ERROR_FILE_EXISTS,
                                               "Image '%s' has a snapshot '%s' already", image, snapshot);
        else if (r < 0)
                (void) operation_report_errorf(result_fd, r, NULL, "Failed to snapshot image '%s': %s", image,
                                               strerror(-r));
        else
                (void) operation_report(result_fd, 0, name, strlen(name), -EBADF);
        _exit(r < 0 ? 1 : 0);
}

static int do_snapshot(sd_bus_message *message, Manager *m, const char *image, const char *snapshot,
                       sd_bus_error *error) {
        _cleanup_(image_snapshot_freep) ImageSnapshot *s = NULL;
        _cleanup_(image_freep) Image *i = NULL;
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int src_fd = -EBADF;
        struct stat st;
        int r, result_fd = -EBADF;

        r = check_names(image, snapshot, true, error);
        if (r < 0)
                return r;
        r = find_image(image, &i, error);
        if (r < 0)
                return r;
        if (i->symlink)
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                         "Image '%s' is a symlink in the pool; not supported", i->name);
        r = verify(message, m, i, snapshot, "snapshot", error);
        if (r <= 0)
                return r < 0 ? r : 1;

        if (!isempty(snapshot)) {
                if (image_snapshot_find(i->name, snapshot, &s) >= 0)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_FILE_EXISTS,
                                                 "Image '%s' has a snapshot '%s' already", i->name, snapshot);
                name = strdup(snapshot);
                if (!name)
                        return -ENOMEM;
        } else {
                r = image_snapshot_default_name(i->name, &name);
                if (r < 0)
                        return action_error(r, i, "name a snapshot of", error);
        }
        if (image_snapshot_restoring(m, i->name))
                return sd_bus_error_setf(error, BUS_ERROR_IMAGE_BUSY, "Image '%s' is being restored", i->name);
        r = operation_check_limit(m, error);
        if (r < 0)
                return r;
        /* Opened here: what the worker copies is the image as it is now, wherever it goes. */
        src_fd = open(i->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (src_fd < 0)
                return action_error(-errno, i, "snapshot", error);
        if (fstat(src_fd, &st) < 0)
                return action_error(-errno, i, "snapshot", error);
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
                return action_error(-EMEDIUMTYPE, i, "snapshot", error);

        r = job_fork(message, m, i, false, snapshot_done, &result_fd, error);
        if (r < 0)
                return r;
        if (r == 0)
                snapshot_worker(result_fd, src_fd, i->name, name, isempty(snapshot));
        return 1;
}

/* ---- restore ---- */

static _noreturn_ void restore_worker(int result_fd, const char *path, const char *image, const char *snapshot) {
        int r;

        r = image_snapshot_restore(path, image, snapshot);
        if (r == -EMEDIUMTYPE)
                (void) operation_report_errorf(result_fd, r, SD_BUS_ERROR_NOT_SUPPORTED,
                                               "Snapshot '%s' and image '%s' are not of the same kind", snapshot,
                                               image);
        else if (r < 0)
                (void) operation_report_errorf(result_fd, r, NULL, "Failed to restore image '%s': %s", image,
                                               strerror(-r));
        else
                (void) operation_report(result_fd, 0, NULL, 0, -EBADF);
        _exit(r < 0 ? 1 : 0);
}

static int do_restore(sd_bus_message *message, Manager *m, const char *image, const char *snapshot,
                      sd_bus_error *error) {
        _cleanup_(image_freep) Image *i = NULL;
        _cleanup_close_ int lock_fd = -EBADF;
        int r, result_fd = -EBADF;

        r = check_names(image, snapshot, false, error);
        if (r < 0)
                return r;
        r = find_image(image, &i, error);
        if (r < 0)
                return r;
        r = find_snapshot(i, snapshot, error);
        if (r < 0)
                return r;
        r = verify(message, m, i, snapshot, "restore", error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (i->read_only)
                return action_error(-EROFS, i, "restore", error);
        if (i->symlink)
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                         "Image '%s' is a symlink in the pool; not supported", i->name);
        if (image_in_use(m, i))
                return sd_bus_error_setf(error, BUS_ERROR_IMAGE_BUSY, "Image '%s' is in use", i->name);
        r = operation_check_limit(m, error);
        if (r < 0)
                return r;
        /* Also catches machines berthd does not know of; the worker inherits the lock and holds
         * it until the restore is done (it is released when the worker's copy closes). */
        lock_fd = image_lock(i->path, true);
        if (lock_fd == -EBUSY)
                return sd_bus_error_setf(error, BUS_ERROR_IMAGE_BUSY, "Image '%s' is in use", i->name);
        if (lock_fd < 0)
                return action_error(lock_fd, i, "lock", error);

        r = job_fork(message, m, i, true, NULL, &result_fd, error);
        if (r < 0)
                return r;
        if (r == 0)
                restore_worker(result_fd, i->path, i->name, snapshot);
        return 1;
}

/* ---- remove, list ---- */

static int do_remove_snapshot(sd_bus_message *message, Manager *m, const char *image, const char *snapshot,
                              sd_bus_error *error) {
        _cleanup_(image_freep) Image *i = NULL;
        _cleanup_free_ char *hidden = NULL;
        int r, result_fd = -EBADF;

        r = check_names(image, snapshot, false, error);
        if (r < 0)
                return r;
        r = find_image(image, &i, error);
        if (r < 0)
                return r;
        r = find_snapshot(i, snapshot, error);
        if (r < 0)
                return r;
        r = verify(message, m, i, snapshot, "remove-snapshot", error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = operation_check_limit(m, error);
        if (r < 0)
                return r;

        /* Out of sight at once; the (maybe long) removal of the tree happens in a worker. */
        r = image_snapshot_hide(i->name, snapshot, &hidden);
        if (r == -ENOENT)
                return find_snapshot(i, snapshot, error); /* raced with another removal */
        if (r < 0)
                return action_error(r, i, "remove a snapshot of", error);
        r = job_fork(message, m, i, false, NULL, &result_fd, error);
        if (r < 0)
                return r; /* the hidden snapshot goes at berthd's next start */
        if (r == 0) {
                r = image_snapshot_remove_hidden(i->name, hidden);
                if (r < 0)
                        (void) operation_report_errorf(result_fd, r, NULL, "Failed to remove the snapshot: %s",
                                                       strerror(-r));
                else
                        (void) operation_report(result_fd, 0, NULL, 0, -EBADF);
                _exit(r < 0 ? 1 : 0);
        }
        return 1;
}

static int do_list(sd_bus_message *message, const char *image, sd_bus_error *error) {
        _cleanup_(image_snapshot_list_freep) ImageSnapshot **l = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(image_freep) Image *i = NULL;
        int r;

        r = check_names(image, NULL, false, error);
        if (r < 0)
                return r;
        r = find_image(image, &i, error);
        if (r < 0)
                return r;
        r = image_snapshot_list(i->name, &l);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to list the snapshots of image '%s': %m", i->name);
        r = sd_bus_message_new_method_return(message, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(stt)");
        for (ImageSnapshot **s = l; r >= 0 && *s; s++)
                r = sd_bus_message_append(reply, "(stt)", (*s)->name, (*s)->crtime, (*s)->usage);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* ---- Manager methods ---- */

static int method_snapshot_image(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        const char *image, *snapshot;
        int r;

        r = sd_bus_message_read(message, "ss", &image, &snapshot);
        if (r < 0)
                return r;
        return do_snapshot(message, userdata, image, snapshot, error);
}

static int method_list_image_snapshots(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        const char *image;
        int r;

        r = sd_bus_message_read(message, "s", &image);
        if (r < 0)
                return r;
        return do_list(message, image, error);
}

static int method_restore_image_snapshot(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        const char *image, *snapshot;
        int r;

        r = sd_bus_message_read(message, "ss", &image, &snapshot);
        if (r < 0)
                return r;
        return do_restore(message, userdata, image, snapshot, error);
}

static int method_remove_image_snapshot(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        const char *image, *snapshot;
        int r;

        r = sd_bus_message_read(message, "ss", &image, &snapshot);
        if (r < 0)
                return r;
        return do_remove_snapshot(message, userdata, image, snapshot, error);
}

/* ---- Image object methods ---- */

/* The image's name from the object path of MESSAGE, in *RET (freed by the caller). */
static int object_name(sd_bus_message *message, char **ret, sd_bus_error *error) {
        int r = sd_bus_path_decode(sd_bus_message_get_path(message), IMAGE_OBJECT_PREFIX, ret);

        if (r < 0)
                return r;
        if (r == 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_UNKNOWN_OBJECT, "Not an image");
        return 0;
}

typedef int (*SnapshotAction)(sd_bus_message *message, Manager *m, const char *image, const char *snapshot,
                              sd_bus_error *error);

static int object_call(sd_bus_message *message, Manager *m, SnapshotAction action, sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        const char *snapshot;
        int r;

        r = sd_bus_message_read(message, "s", &snapshot);
        if (r < 0)
                return r;
        r = object_name(message, &name, error);
        if (r < 0)
                return r;
        return action(message, m, name, snapshot, error);
}

static int method_image_snapshot(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return object_call(message, userdata, do_snapshot, error);
}

static int method_image_restore_snapshot(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return object_call(message, userdata, do_restore, error);
}

static int method_image_remove_snapshot(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return object_call(message, userdata, do_remove_snapshot, error);
}

static int method_image_list_snapshots(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        int r;

        r = object_name(message, &name, error);
        if (r < 0)
                return r;
        return do_list(message, name, error);
}

static int snapshot_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
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

static const sd_bus_vtable snapshot_manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("SnapshotImage", SD_BUS_ARGS("s", name, "s", snapshot),
                                SD_BUS_RESULT("s", snapshot_name), method_snapshot_image,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListImageSnapshots", SD_BUS_ARGS("s", name), SD_BUS_RESULT("a(stt)", snapshots),
                                method_list_image_snapshots, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RestoreImageSnapshot", SD_BUS_ARGS("s", name, "s", snapshot), SD_BUS_NO_RESULT,
                                method_restore_image_snapshot, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveImageSnapshot", SD_BUS_ARGS("s", name, "s", snapshot), SD_BUS_NO_RESULT,
                                method_remove_image_snapshot, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

static const sd_bus_vtable snapshot_image_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Snapshot", SD_BUS_ARGS("s", snapshot), SD_BUS_RESULT("s", snapshot_name),
                                method_image_snapshot, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListSnapshots", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(stt)", snapshots),
                                method_image_list_snapshots, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RestoreSnapshot", SD_BUS_ARGS("s", snapshot), SD_BUS_NO_RESULT,
                                method_image_restore_snapshot, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveSnapshot", SD_BUS_ARGS("s", snapshot), SD_BUS_NO_RESULT,
                                method_image_remove_snapshot, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

int image_snapshot_bus_register(Manager *m) {
        int r;

        r = image_snapshots_clean();
        if (r < 0)
                log_warning_errno(r, "Failed to remove leftovers of interrupted snapshot operations: %m");
        else if (r > 0)
                log_info("Removed %i leftovers of interrupted snapshot operations.", r);

        r = sd_bus_add_object_vtable(m->bus, NULL, MANAGER_OBJECT_PATH, MANAGER_INTERFACE, snapshot_manager_vtable,
                                     m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the snapshot methods: %m");
        r = sd_bus_add_fallback_vtable(m->bus, NULL, IMAGE_OBJECT_PREFIX, IMAGE_INTERFACE, snapshot_image_vtable,
                                       snapshot_object_find, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the images' snapshot methods: %m");
        return 0;
}
