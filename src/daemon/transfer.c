/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The registry of transfers, and the worker that runs one: its job in a child, then the rename into the pool. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bus-errors.h"
#include "fd-util.h"
#include "image.h"
#include "image-lock.h"
#include "operation.h"
#include "rm-rf.h"
#include "transfer.h"

static const char *const transfer_type_table[_TRANSFER_TYPE_MAX] = {
        [TRANSFER_IMPORT_TAR] = "import-tar",
        [TRANSFER_IMPORT_RAW] = "import-raw",
        [TRANSFER_IMPORT_FS] = "import-fs",
        [TRANSFER_EXPORT_TAR] = "export-tar",
        [TRANSFER_EXPORT_RAW] = "export-raw",
        [TRANSFER_CLONE] = "clone",
};

static const char *const compression_table[_TRANSFER_COMPRESSION_MAX] = {
        [TRANSFER_UNCOMPRESSED] = "uncompressed",
        [TRANSFER_GZIP] = "gzip",
        [TRANSFER_XZ] = "xz",
        [TRANSFER_ZSTD] = "zstd",
};

const char *transfer_type_to_string(TransferType t) {
        return t >= 0 && t < _TRANSFER_TYPE_MAX ? transfer_type_table[t] : NULL;
}

TransferCompression transfer_compression_from_string(const char *s) {
        /* importd's empty format means "as you like": uncompressed here. */
        if (isempty(s))
                return TRANSFER_UNCOMPRESSED;
        for (int i = 0; i < _TRANSFER_COMPRESSION_MAX; i++)
                if (streq(s, compression_table[i]))
                        return i;
        return _TRANSFER_COMPRESSION_INVALID;
}

Transfer *transfer_find(TransferRegistry *r, uint32_t id) {
        for (Transfer *t = r->transfers; t; t = t->next)
                if (t->id == id)
                        return t;
        return NULL;
}

int transfer_new(TransferRegistry *r, TransferType type, const char *remote, const char *local,
                 Transfer **ret) {
        Transfer *t;

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->remote = strdup(strempty(remote));
        t->local = strdup(strempty(local));
        if (!t->remote || !t->local) {
                free(t->remote);
                free(t->local);
                free(t);
                return -ENOMEM;
        }
        /* Ids are never 0 and not reused while one is in the list (after 2^32 transfers). */
        do
                r->last_id = r->last_id == UINT32_MAX ? 1 : r->last_id + 1;
        while (transfer_find(r, r->last_id));
        t->id = r->last_id;
        t->type = type;
        t->registry = r;
        t->progress_fd = -EBADF;
        t->next = r->transfers;
        r->transfers = t;
        r->n_transfers++;
        *ret = t;
        return 0;
}

Transfer *transfer_free(Transfer *t) {
        if (!t)
                return NULL;
        for (Transfer **i = &t->registry->transfers; *i; i = &(*i)->next)
                if (*i == t) {
                        *i = t->next;
                        t->registry->n_transfers--;
                        break;
                }
        safe_close(t->progress_fd);
        free(t->remote);
        free(t->local);
        free(t->temp_path);
        free(t);
        return NULL;
}

/* ---- the worker (runs in a forked process, never in berthd) ---- */

/* The child: execs berth-transfer for the job, which sends an error message (if any) through
 * ERR_FD. libarchive and the libraries it pulls in (libxml2, ICU, libstdc++: 2.7 MiB of berthd's
 * resident memory when linked in) are loaded there only, while a transfer runs. */
static _noreturn_ void job_child(const TransferJob *j, pid_t parent, int err_fd, const sigset_t *old) {
        const int fds[] = { j->input_fd, j->output_fd, j->progress_fd, err_fd };
        char a[6][24];
        const char *e = getenv("BERTH_TRANSFER"), *path;

        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(EXIT_FAILURE);
        (void) sigprocmask(SIG_SETMASK, old, NULL);
        /* Exactly these cross the exec: the worker closed everything else of berthd's. */
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                if (fds[i] >= 0 && fcntl(fds[i], F_SETFD, 0) < 0)
                        _exit(EXIT_FAILURE);
        (void) snprintf(a[0], sizeof(a[0]), "%i", (int) j->type);
        (void) snprintf(a[1], sizeof(a[1]), "%i", j->input_fd);
        (void) snprintf(a[2], sizeof(a[2]), "%i", j->output_fd);
        (void) snprintf(a[3], sizeof(a[3]), "%i", j->progress_fd);
        (void) snprintf(a[4], sizeof(a[4]), "%i", err_fd);
        (void) snprintf(a[5], sizeof(a[5]), "%i", (int) j->compression);
        path = !isempty(e) && e[0] == '/' ? e : LIBEXECDIR "/berth-transfer";
        execl(path, "berth-transfer", a[0], a[1], a[2], a[3], a[4], a[5], j->allow_devices ? "1" : "0",
              j->temp_path ?: "", (char *) NULL);
        (void) dprintf(err_fd, "Failed to run %s: %s", path, strerror(errno));
        _exit(EXIT_FAILURE);
}

/* Puts the finished import in place: next to nothing, or exchanged with the image it
 * replaces (force), which is removed after. */
static int move_into_place(const TransferJob *j, char *errbuf, size_t errsize) {
        int r;

        if (renameat2(AT_FDCWD, j->temp_path, AT_FDCWD, j->dest_path, RENAME_NOREPLACE) >= 0)
                return 0;
        if (errno != EEXIST || !j->force) {
                r = -errno;
                if (r == -EEXIST)
                        (void) snprintf(errbuf, errsize, "An image with this name exists already");
                return r;
        }
        /* A machine running from the image holds its lock: never swap it away under it. */
        r = image_lock(j->dest_path, true);
        if (r == -EBUSY) {
                (void) snprintf(errbuf, errsize, "The image to replace is in use");
                return -EBUSY;
        }
        safe_close(r);
        if (renameat2(AT_FDCWD, j->temp_path, AT_FDCWD, j->dest_path, RENAME_EXCHANGE) < 0)
                return -errno;
        /* The old image now has the hidden name; it may be immutable. */
        {
                _cleanup_close_ int fd = open(j->temp_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
                if (fd >= 0)
                        (void) chattr_immutable(fd, false);
        }
        (void) rm_rf_path(j->temp_path);
        return 0;
}

static int mark_read_only(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        int r;

        if (fd < 0)
                return -errno;
        r = chattr_immutable(fd, true);
        return r < 0 ? r : 0;
}

static _noreturn_ void worker_fail(const TransferJob *j, int r, const char *name, const char *msg) {
        if (j->temp_path)
                (void) rm_rf_path(j->temp_path);
        (void) operation_report_errorf(j->result_fd, r, name, "%s", msg);
        _exit(1);
}

/* Waits for the child; on SIGTERM (a cancel) kills it. Feeds import-fs's progress meanwhile.
 * Returns the child's wait status, or -ECANCELED. */
static int supervise(const TransferJob *j, pid_t child, uint64_t fs_total) {
        const struct timespec tick = { .tv_nsec = 250 * 1000 * 1000 };
        sigset_t ss;
        int status;

        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGCHLD);
        for (;;) {
                int sig = sigtimedwait(&ss, NULL, &tick);
                pid_t p;

                if (sig == SIGTERM) {
                        (void) kill(child, SIGKILL);
                        (void) waitpid(child, NULL, 0);
                        return -ECANCELED;
                }
                p = waitpid(child, &status, WNOHANG);
                if (p == child)
                        return status;
                if (p < 0 && errno != EINTR)
                        return -errno;
                if (j->type == TRANSFER_IMPORT_FS && fs_total > 0)
                        transfer_report_progress(j->progress_fd, transfer_tree_bytes(j->temp_path), fs_total);
        }
}

static int cmp_int(const void *a, const void *b) {
        return *(const int *) a - *(const int *) b;
}

static void keep_only_job_fds(const TransferJob *j) {
        int fds[] = { j->input_fd, j->output_fd, j->progress_fd, j->result_fd }, keep[ELEMENTSOF(fds)];
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                if (fds[i] >= 0)
                        keep[n++] = fds[i];
        qsort(keep, n, sizeof(int), cmp_int);
        if (close_all_fds_except(keep, n) < 0)
                worker_fail(j, -errno, NULL, "Failed to close the fds a transfer must not hold");
}

_noreturn_ void transfer_worker_run(const TransferJob *j) {
        _cleanup_close_pair_ int err_pipe[2] = { -EBADF, -EBADF };
        char errbuf[512] = "";
        uint64_t fs_total = 0;
        pid_t self = getpid(), child;
        sigset_t ss, old;
        ssize_t n;
        int r, status;

        /* We were forked from berthd with every fd it had, other transfers' pipes among them: a
         * worker that held on to the write end of the pipe another import reads would keep that
         * import from ever seeing its end. Only our own fds stay. */
        keep_only_job_fds(j);

        /* SIGTERM is a cancel: taken synchronously, so that it can never interrupt a cleanup. */
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGCHLD);
        (void) sigprocmask(SIG_BLOCK, &ss, &old);
        if (pipe2(err_pipe, O_CLOEXEC) < 0)
                worker_fail(j, -errno, NULL, "Failed to make a pipe");
        if (j->type == TRANSFER_IMPORT_FS) {
                char p[64];

                (void) snprintf(p, sizeof(p), "/proc/self/fd/%i/.", j->input_fd);
                fs_total = transfer_tree_bytes(p);
        }

        child = fork();
        if (child < 0)
                worker_fail(j, -errno, NULL, "Failed to fork");
        if (child == 0) {
                err_pipe[0] = safe_close(err_pipe[0]);
                job_child(j, self, err_pipe[1], &old);
        }
        err_pipe[1] = safe_close(err_pipe[1]);

        status = supervise(j, child, fs_total);
        if (status == -ECANCELED)
                worker_fail(j, -ECANCELED, NULL, "Canceled");
        if (status < 0)
                worker_fail(j, status, NULL, "Failed to wait for the transfer");
        n = read(err_pipe[0], errbuf, sizeof(errbuf) - 1);
        errbuf[n > 0 ? n : 0] = 0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                worker_fail(j, WIFEXITED(status) && WEXITSTATUS(status) == 3 ? -EEXIST : -EIO,
                            NULL, errbuf[0] ? errbuf : "The transfer ended abnormally");

        if (j->dest_path) {
                r = move_into_place(j, errbuf, sizeof(errbuf));
                if (r < 0)
                        worker_fail(j, r,
                                    r == -EEXIST ? BUS_ERROR_IMAGE_EXISTS : r == -EBUSY ? BUS_ERROR_IMAGE_BUSY : NULL,
                                    errbuf[0] ? errbuf : strerror(-r));
                if (j->read_only && (r = mark_read_only(j->dest_path)) < 0) {
                        (void) operation_report_errorf(j->result_fd, r, NULL,
                                                       "Imported, but failed to mark read-only: %s", strerror(-r));
                        _exit(1);
                }
        }
        transfer_report_progress(j->progress_fd, 1, 1);
        (void) operation_report(j->result_fd, 0, NULL, 0, -EBADF);
        _exit(0);
}
