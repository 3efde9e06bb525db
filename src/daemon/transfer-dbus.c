/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Manager's import/export methods, the Transfer objects and their signals (org.freedesktop.import1's shape). */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "btrfs-util.h"
#include "bus-errors.h"
#include "image.h"
#include "log.h"
#include "manager-dbus.h"
#include "name-util.h"
#include "operation.h"
#include "rm-rf.h"
#include "strv.h"
#include "transfer.h"
#include "transfer-dbus.h"

#define MANAGE_IMAGES "org.berth.machine1.manage-images"
/* PropertiesChanged for Progress at most this often (µs). */
#define PROGRESS_INTERVAL_USEC (250U * 1000U)

/* The registry and the Manager it serves; freed with the bus (its vtable slot's destructor). */
typedef struct TransferContext {
        TransferRegistry registry; /* first: a Transfer's registry pointer is its context */
        Manager *manager;
} TransferContext;

static TransferContext *context_of(Transfer *t) {
        return (TransferContext *) t->registry;
}

static void transfer_path(const Transfer *t, char *buf, size_t size) {
        (void) snprintf(buf, size, TRANSFER_OBJECT_PREFIX "/%" PRIu32, t->id);
}

static uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

static void emit_progress(Transfer *t) {
        char p[128];

        transfer_path(t, p, sizeof(p));
        t->progress_emitted_usec = now_usec();
        (void) sd_bus_emit_properties_changed(context_of(t)->manager->bus, p, TRANSFER_INTERFACE,
                                              "Progress", NULL);
}

/* The end: TransferRemoved, and the transfer is gone (its object too). */
static void transfer_finish(Transfer *t) {
        Manager *m = context_of(t)->manager;
        char p[128];

        transfer_path(t, p, sizeof(p));
        log_debug("Transfer %" PRIu32 " (%s %s) ended: %s.", t->id, transfer_type_to_string(t->type),
                  t->local, t->result);
        (void) sd_bus_emit_signal(m->bus, MANAGER_OBJECT_PATH, MANAGER_INTERFACE, "TransferRemoved", "uos",
                                  t->id, p, t->result);
        t->progress_source = sd_event_source_disable_unref(t->progress_source);
        transfer_free(t);
}

static int on_progress(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Transfer *t = userdata;
        uint32_t buf[64];
        ssize_t n;
        double p = t->progress;

        n = read(fd, buf, sizeof(buf));
        if (n <= 0) {
                if (n == 0 || (errno != EAGAIN && errno != EINTR))
                        t->progress_source = sd_event_source_disable_unref(t->progress_source);
                return 0;
        }
        for (size_t i = 0; i < (size_t) n / sizeof(uint32_t); i++)
                p = MAX(p, MIN(buf[i], 1000000U) / 1000000.0);
        if (p <= t->progress)
                return 0;
        t->progress = p;
        if (now_usec() - t->progress_emitted_usec >= PROGRESS_INTERVAL_USEC)
                emit_progress(t);
        return 0;
}

static int on_cleanup_done(Operation *o, OperationResult *result, void *userdata, sd_bus_error *error) {
        Transfer *t = userdata;

        /* The operation is freed after this returns: it must not call back into T then. */
        operation_set_destroy(o, NULL);
        t->operation = NULL;
        transfer_finish(t);
        return 0;
}

/* At berthd's exit only: the operation goes without its DONE. */
static void on_operation_gone(void *userdata) {
        Transfer *t = userdata;

        t->operation = NULL;
}

static int on_worker_done(Operation *o, OperationResult *result, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_error_free) sd_bus_error dummy = SD_BUS_ERROR_NULL;
        Transfer *t = userdata;
        Manager *m = context_of(t)->manager;
        int r, result_fd = -EBADF;

        operation_set_destroy(o, NULL);
        t->operation = NULL;
        if (result->error >= 0) {
                t->result = "done";
                t->progress = 1.0;
                emit_progress(t);
                transfer_finish(t);
                return 0;
        }

        t->result = t->cancel_requested ? "canceled" : "failed";
        if (!t->cancel_requested) {
                char p[128];
                const char *msg = result->error_message ?:
                        result->error == -ECANCELED ? "The transfer's worker was killed" : strerror(-result->error);

                transfer_path(t, p, sizeof(p));
                log_info("Transfer %" PRIu32 " (%s %s) failed: %s", t->id, transfer_type_to_string(t->type),
                         t->local, msg);
                (void) sd_bus_emit_signal(m->bus, p, TRANSFER_INTERFACE, "LogMessage", "us", 3U, msg);
        }
        /* A worker that reported cleaned up itself; one that was killed left its work entry. */
        if (result->error_message || !t->temp_path) {
                transfer_finish(t);
                return 0;
        }
        r = operation_fork(m, NULL, on_cleanup_done, t, &t->operation, &result_fd, &dummy);
        if (r == 0) {
                r = rm_rf_path(t->temp_path);
                _exit(r < 0 ? 1 : 0);
        }
        if (r < 0) {
                log_warning_errno(r, "Failed to start removing %s; berthd's next start will: %m", t->temp_path);
                transfer_finish(t);
                return 0;
        }
        t->finishing = true;
        operation_set_destroy(t->operation, on_operation_gone);
        return 0;
}

/* Forks the worker for J (fds and the work entry ready) and announces the transfer. Replies to
 * MESSAGE with (id, path). TEMP is taken over. */
static int transfer_start(TransferContext *c, sd_bus_message *message, TransferJob *j, const char *remote,
                          const char *local, char *temp, sd_bus_error *error) {
        _cleanup_close_pair_ int pipe_fds[2] = { -EBADF, -EBADF };
        _cleanup_free_ char *temp_owned = temp;
        Manager *m = c->manager;
        Transfer *t = NULL;
        char p[128];
        int r, result_fd = -EBADF;

        if (pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) < 0)
                return -errno;
        r = transfer_new(&c->registry, j->type, remote, local, &t);
        if (r < 0)
                return r;
        t->temp_path = TAKE_PTR(temp_owned);

        r = operation_fork(m, NULL, on_worker_done, t, &t->operation, &result_fd, error);
        if (r < 0) {
                if (t->temp_path)
                        (void) rm_rf_path(t->temp_path); /* empty still: quick */
                transfer_free(t);
                return r;
        }
        if (r == 0) {
                pipe_fds[0] = safe_close(pipe_fds[0]);
                j->progress_fd = pipe_fds[1];
                j->result_fd = result_fd;
                j->temp_path = t->temp_path;
                transfer_worker_run(j);
        }
        operation_set_destroy(t->operation, on_operation_gone);
        pipe_fds[1] = safe_close(pipe_fds[1]);
        t->progress_fd = TAKE_FD(pipe_fds[0]);
        r = sd_event_add_io(m->event, &t->progress_source, t->progress_fd, EPOLLIN,
                            on_progress, t);
        if (r < 0)
                log_debug_errno(r, "No progress for transfer %" PRIu32 ": %m", t->id);

        transfer_path(t, p, sizeof(p));
        log_debug("Transfer %" PRIu32 " started: %s %s (%s).", t->id, transfer_type_to_string(t->type), local, remote);
        (void) sd_bus_emit_signal(m->bus, MANAGER_OBJECT_PATH, MANAGER_INTERFACE, "TransferNew", "uo", t->id, p);
        return sd_bus_reply_method_return(message, "uo", t->id, p);
}

int transfer_bus_clone_begin(Manager *m, Operation *o, const char *source, const char *new_name, int progress_fd,
                             uint32_t *ret_id) {
        _cleanup_close_ int pfd = progress_fd;
        TransferContext *c = (TransferContext *) m->transfers;
        Transfer *t = NULL;
        char p[128];
        int r;

        if (!c)
                return -ESHUTDOWN;
        r = transfer_new(&c->registry, TRANSFER_CLONE, source, new_name, &t);
        if (r < 0)
                return r;
        /* Not owned: the clone's own operation ends the transfer (transfer_bus_clone_end()). */
        t->operation = o;
        t->progress_fd = TAKE_FD(pfd);
        r = sd_event_add_io(m->event, &t->progress_source, t->progress_fd, EPOLLIN, on_progress, t);
        if (r < 0)
                log_debug_errno(r, "No progress for transfer %" PRIu32 ": %m", t->id);

        transfer_path(t, p, sizeof(p));
        log_debug("Transfer %" PRIu32 " started: clone %s (%s).", t->id, new_name, source);
        (void) sd_bus_emit_signal(m->bus, MANAGER_OBJECT_PATH, MANAGER_INTERFACE, "TransferNew", "uo", t->id, p);
        *ret_id = t->id;
        return 0;
}

bool transfer_bus_clone_end(Manager *m, uint32_t id, int error) {
        TransferContext *c = (TransferContext *) m->transfers;
        Transfer *t = c && id > 0 ? transfer_find(&c->registry, id) : NULL;
        bool canceled;

        if (!t)
                return false;
        canceled = t->cancel_requested && error < 0;
        t->operation = NULL;
        t->result = error >= 0 ? "done" : canceled ? "canceled" : "failed";
        if (error >= 0) {
                t->progress = 1.0;
                emit_progress(t);
        }
        transfer_finish(t);
        return canceled;
}

/* What the fd is, as berthd sees it: a file's path, "pipe:[…]", … */
static char *fd_description(int fd) {
        char p[64], buf[PATH_MAX];
        ssize_t n;

        (void) snprintf(p, sizeof(p), "/proc/self/fd/%i", fd);
        n = readlink(p, buf, sizeof(buf) - 1);
        if (n < 0)
                return strdup("fd");
        buf[n] = 0;
        return strdup(buf);
}

static int verify(sd_bus_message *message, TransferContext *c, TransferType type, const char *name,
                  const char *k1, const char *v1, const char *k2, const char *v2, sd_bus_error *error) {
        const char *details[] = { "verb", transfer_type_to_string(type), "image", name, k1, v1, k2, v2, NULL };

        return polkit_verify_async(message, MANAGE_IMAGES, details, &c->manager->polkit_registry, error);
}

/* ImportTar, ImportRaw, ImportFileSystem: (h fd, s name, b force, b read_only). */

/* On btrfs an imported tree becomes a subvolume, as machined makes it: its clones are then
 * instant snapshots. The empty directory mkdtemp() reserved the name with is swapped for one. */
static void tree_into_subvolume(const char *path) {
        _cleanup_close_ int dir_fd = -EBADF;
        const char *base = strrchr(path, '/') + 1;
        _cleanup_free_ char *dir = strndup(path, (size_t) (base - path));
        struct statfs sfs;

        if (!dir)
                return;
        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0 || fstatfs(dir_fd, &sfs) < 0 || sfs.f_type != BTRFS_SUPER_MAGIC)
                return;
        if (unlinkat(dir_fd, base, AT_REMOVEDIR) < 0)
                return;
        if (btrfs_subvol_make_at(dir_fd, base) < 0)
                (void) mkdirat(dir_fd, base, 0755);
        else
                (void) fchmodat(dir_fd, base, 0755, 0);
}
static int do_import(sd_bus_message *message, TransferContext *c, TransferType type, sd_bus_error *error) {
        _cleanup_(image_freep) Image *existing = NULL;
        _cleanup_free_ char *temp = NULL, *dest = NULL, *remote = NULL;
        const char *name, *pool = image_pool_path();
        bool raw = type == TRANSFER_IMPORT_RAW;
        int fd, force, read_only, r, acc;
        struct stat st;
        uid_t uid;

        r = sd_bus_message_read(message, "hsbb", &fd, &name, &force, &read_only);
        if (r < 0)
                return r;
        if (!image_name_is_valid(name))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Image name is invalid.");
        acc = fcntl(fd, F_GETFL);
        if (fstat(fd, &st) < 0 || acc < 0)
                return -errno;
        if (type == TRANSFER_IMPORT_FS ? !S_ISDIR(st.st_mode) : S_ISDIR(st.st_mode) || (acc & O_ACCMODE) == O_WRONLY)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        type == TRANSFER_IMPORT_FS ? "Not a directory" : "Not a readable file or pipe");
        if (asprintf(&dest, "%s/%s%s", pool, name, raw ? ".raw" : "") < 0)
                return -ENOMEM;
        if (image_find(name, &existing) >= 0) {
                if (!force)
                        return sd_bus_error_setf(error, BUS_ERROR_IMAGE_EXISTS, "An image '%s' exists already", name);
                /* Replaced only in place: never an image of another type or pool directory. */
                if (!streq(existing->path, dest))
                        return sd_bus_error_setf(error, BUS_ERROR_IMAGE_EXISTS,
                                                 "Image '%s' exists as %s, not replaceable by this import", name,
                                                 existing->path);
        }
        r = verify(message, c, type, name, "force", force ? "yes" : "no", "read_only", read_only ? "yes" : "no", error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = operation_check_limit(c->manager, error);
        if (r < 0)
                return r;
        r = polkit_sender_euid(message, &c->manager->polkit_registry, &uid);
        if (r < 0)
                return r;

        /* The hidden work entry, made here so that berthd knows what to remove if the worker dies. */
        if (mkdir(pool, 0755) < 0 && errno != EEXIST)
                return sd_bus_error_set_errnof(error, errno, "Failed to make the pool directory: %m");
        if (asprintf(&temp, "%s/" IMAGE_TEMP_PREFIX "import-%s%s.XXXXXX", pool, name, raw ? ".raw" : "") < 0)
                return -ENOMEM;
        if (raw) {
                _cleanup_close_ int tfd = mkostemp(temp, O_CLOEXEC);

                if (tfd < 0 || fchmod(tfd, 0644) < 0)
                        return sd_bus_error_set_errnof(error, errno, "Failed to make the new image: %m");
        } else if (!mkdtemp(temp) || chmod(temp, 0755) < 0)
                return sd_bus_error_set_errnof(error, errno, "Failed to make the new image: %m");
        else
                tree_into_subvolume(temp);

        remote = fd_description(fd);
        TransferJob j = {
                .type = type,
                .input_fd = fd,
                .output_fd = -EBADF,
                .dest_path = dest,
                .force = force,
                .read_only = read_only,
                .allow_devices = uid == 0,
        };
        return transfer_start(c, message, &j, remote, name, TAKE_PTR(temp), error);
}

/* The image NAME for an export: a directory tree (any type that is one) or a raw file. Opens
 * it into *RET_FD. */
static int open_export_source(const char *name, bool raw, int *ret_fd, sd_bus_error *error) {
        _cleanup_(image_freep) Image *i = NULL;
        _cleanup_free_ char *p = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *type = NULL;
        struct stat st;

        if (image_find(name, &i) >= 0)
                type = image_type_to_string(i->type);
        if (raw) {
                /* A pool that does not list raw images yet still has NAME.raw. */
                if (!i || !streq_ptr(type, "raw")) {
                        if (asprintf(&p, "%s/%s.raw", image_pool_path(), name) < 0)
                                return -ENOMEM;
                } else if (!(p = strdup(i->path)))
                        return -ENOMEM;
                fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0 && errno == ENOENT)
                        return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_IMAGE, "No raw image '%s' known", name);
                if (fd < 0 || fstat(fd, &st) < 0)
                        return sd_bus_error_set_errnof(error, errno, "Failed to open image '%s': %m", name);
                if (!S_ISREG(st.st_mode))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED, "Image '%s' is no raw file", name);
        } else {
                if (!i)
                        return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_IMAGE, "No image '%s' known", name);
                /* The pool entry itself may be a symlink the administrator made; nothing below it
                 * is followed (the worker chroot()s into it). */
                fd = open(i->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
                if (fd < 0 && errno == ENOTDIR)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                                 "Image '%s' is no directory tree; use export-raw", name);
                if (fd < 0)
                        return sd_bus_error_set_errnof(error, errno, "Failed to open image '%s': %m", name);
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* ExportTar, ExportRaw: (s name, h fd, s format). */
static int do_export(sd_bus_message *message, TransferContext *c, TransferType type, sd_bus_error *error) {
        _cleanup_free_ char *remote = NULL;
        _cleanup_close_ int src = -EBADF;
        const char *name, *format;
        TransferCompression comp;
        int fd, r, acc;

        r = sd_bus_message_read(message, "shs", &name, &fd, &format);
        if (r < 0)
                return r;
        if (!image_name_is_valid(name))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Image name is invalid.");
        comp = transfer_compression_from_string(format);
        if (comp < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Unknown format; uncompressed, gzip, xz or zstd");
        acc = fcntl(fd, F_GETFL);
        if (acc < 0)
                return -errno;
        if ((acc & O_ACCMODE) == O_RDONLY)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Not a writable file or pipe");
        r = open_export_source(name, type == TRANSFER_EXPORT_RAW, &src, error);
        if (r < 0)
                return r;
        r = verify(message, c, type, name, "format", strempty(format), NULL, NULL, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = operation_check_limit(c->manager, error);
        if (r < 0)
                return r;

        remote = fd_description(fd);
        TransferJob j = {
                .type = type,
                .input_fd = src,
                .output_fd = fd,
                .compression = comp,
        };
        return transfer_start(c, message, &j, remote, name, NULL, error);
}

static int method_import_tar(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return do_import(message, userdata, TRANSFER_IMPORT_TAR, error);
}
static int method_import_raw(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return do_import(message, userdata, TRANSFER_IMPORT_RAW, error);
}
static int method_import_fs(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return do_import(message, userdata, TRANSFER_IMPORT_FS, error);
}
static int method_export_tar(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return do_export(message, userdata, TRANSFER_EXPORT_TAR, error);
}
static int method_export_raw(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return do_export(message, userdata, TRANSFER_EXPORT_RAW, error);
}

static int method_list_transfers(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        TransferContext *c = userdata;
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(usssdo)");
        if (r < 0)
                return r;
        for (Transfer *t = c->registry.transfers; t; t = t->next) {
                char p[128];

                transfer_path(t, p, sizeof(p));
                r = sd_bus_message_append(reply, "(usssdo)", t->id, transfer_type_to_string(t->type), t->remote,
                                          t->local, t->progress, p);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int do_cancel(sd_bus_message *message, TransferContext *c, Transfer *t, sd_bus_error *error) {
        char id[16];
        const char *details[] = { "verb", "cancel-transfer", "transfer", id, "image", t->local, NULL };
        int r;

        (void) snprintf(id, sizeof(id), "%" PRIu32, t->id);
        r = polkit_verify_async(message, MANAGE_IMAGES, details, &c->manager->polkit_registry, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        /* The worker takes SIGTERM as a cancel: it stops its job, removes what it made, reports. */
        if (t->operation && !t->finishing && !t->cancel_requested) {
                t->cancel_requested = true;
                (void) kill(operation_get_pid(t->operation), SIGTERM);
        }
        return sd_bus_reply_method_return(message, NULL);
}

static int method_cancel_transfer(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        TransferContext *c = userdata;
        Transfer *t;
        uint32_t id;
        int r;

        r = sd_bus_message_read(message, "u", &id);
        if (r < 0)
                return r;
        t = transfer_find(&c->registry, id);
        if (!t)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_TRANSFER, "No transfer %" PRIu32 " known", id);
        return do_cancel(message, c, t, error);
}

/* ---- Transfer objects ---- */

static Transfer *transfer_from_path(TransferContext *c, const char *path) {
        const char *s = startswith(path, TRANSFER_OBJECT_PREFIX "/");
        char *end = NULL;
        unsigned long v;

        if (!s || *s < '1' || *s > '9')
                return NULL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end != 0 || v > UINT32_MAX)
                return NULL;
        return transfer_find(&c->registry, (uint32_t) v);
}

static int transfer_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                                void **found, sd_bus_error *error) {
        Transfer *t = transfer_from_path(userdata, path);

        if (!t)
                return 0;
        *found = t;
        return 1;
}

static int transfer_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                                    sd_bus_error *error) {
        _cleanup_strv_free_ char **paths = NULL;
        TransferContext *c = userdata;
        int r;

        for (Transfer *t = c->registry.transfers; t; t = t->next) {
                char p[128];

                transfer_path(t, p, sizeof(p));
                r = strv_extend(&paths, p);
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
        Transfer *t = userdata;

        if (streq(property, "Id"))
                return sd_bus_message_append(reply, "u", t->id);
        if (streq(property, "Local"))
                return sd_bus_message_append(reply, "s", t->local);
        if (streq(property, "Remote"))
                return sd_bus_message_append(reply, "s", t->remote);
        if (streq(property, "Type"))
                return sd_bus_message_append(reply, "s", transfer_type_to_string(t->type));
        if (streq(property, "Progress"))
                return sd_bus_message_append(reply, "d", t->progress);
        return -EINVAL;
}

static int method_transfer_cancel(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Transfer *t = userdata;

        return do_cancel(message, context_of(t), t, error);
}

static const sd_bus_vtable transfer_manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("ImportTar", SD_BUS_ARGS("h", fd, "s", name, "b", force, "b", read_only),
                                SD_BUS_RESULT("u", transfer_id, "o", transfer_path), method_import_tar,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ImportRaw", SD_BUS_ARGS("h", fd, "s", name, "b", force, "b", read_only),
                                SD_BUS_RESULT("u", transfer_id, "o", transfer_path), method_import_raw,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ImportFileSystem", SD_BUS_ARGS("h", fd, "s", name, "b", force, "b", read_only),
                                SD_BUS_RESULT("u", transfer_id, "o", transfer_path), method_import_fs,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ExportTar", SD_BUS_ARGS("s", name, "h", fd, "s", format),
                                SD_BUS_RESULT("u", transfer_id, "o", transfer_path), method_export_tar,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ExportRaw", SD_BUS_ARGS("s", name, "h", fd, "s", format),
                                SD_BUS_RESULT("u", transfer_id, "o", transfer_path), method_export_raw,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListTransfers", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(usssdo)", transfers),
                                method_list_transfers, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CancelTransfer", SD_BUS_ARGS("u", transfer_id), SD_BUS_NO_RESULT,
                                method_cancel_transfer, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("TransferNew", SD_BUS_ARGS("u", transfer_id, "o", transfer_path), 0),
        SD_BUS_SIGNAL_WITH_ARGS("TransferRemoved", SD_BUS_ARGS("u", transfer_id, "o", transfer_path, "s", result), 0),
        SD_BUS_VTABLE_END
};

static const sd_bus_vtable transfer_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "u", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Local", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Remote", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Type", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Progress", "d", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Cancel", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_transfer_cancel,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("LogMessage", SD_BUS_ARGS("u", priority, "s", line), 0),
        SD_BUS_VTABLE_END
};

/* With the bus: the workers are killed (their work entries go at the next start). */
static void context_free(void *userdata) {
        TransferContext *c = userdata;

        if (c->manager->transfers == &c->registry)
                c->manager->transfers = NULL;
        while (c->registry.transfers) {
                Transfer *t = c->registry.transfers;

                /* A clone's operation is not ours: its owner finds the transfer gone. */
                if (t->operation && t->type != TRANSFER_CLONE) {
                        operation_set_destroy(t->operation, NULL);
                        operation_free(t->operation);
                }
                t->progress_source = sd_event_source_disable_unref(t->progress_source);
                transfer_free(t);
        }
        free(c);
}

int transfer_bus_register(Manager *m) {
        sd_bus_slot *slot = NULL;
        TransferContext *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return log_oom();
        c->manager = m;
        r = sd_bus_add_object_vtable(m->bus, &slot, MANAGER_OBJECT_PATH, MANAGER_INTERFACE,
                                     transfer_manager_vtable, c);
        if (r < 0) {
                free(c);
                return log_error_errno(r, "Failed to add the transfer methods: %m");
        }
        (void) sd_bus_slot_set_destroy_callback(slot, context_free);
        m->transfers = &c->registry;
        /* Owned by the bus from now on, so the registry is freed with it. */
        (void) sd_bus_slot_set_floating(slot, true);
        sd_bus_slot_unref(slot);
        r = sd_bus_add_fallback_vtable(m->bus, NULL, TRANSFER_OBJECT_PREFIX, TRANSFER_INTERFACE, transfer_vtable,
                                       transfer_object_find, c);
        if (r < 0)
                return log_error_errno(r, "Failed to add the transfer objects: %m");
        r = sd_bus_add_node_enumerator(m->bus, NULL, TRANSFER_OBJECT_PREFIX, transfer_node_enumerator, c);
        if (r < 0)
                return log_error_errno(r, "Failed to add the transfer enumerator: %m");
        return 0;
}
