/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Operations: forked workers tied to the D-Bus call they answer, reaped through a pidfd. */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "bus-errors.h"
#include "log.h"
#include "manager.h"
#include "operation.h"
#include "parse-util.h"

#define OPERATIONS_MAX_LIMIT 4096U
#define OPERATION_ERROR_MAX 1024U

/* One datagram on the result channel: this header, then for an error the D-Bus error name and
 * the message (both NUL-terminated; NAME_SIZE 0 = no name), for success the data. */
typedef struct OperationWire {
        int32_t error;
        uint32_t name_size;
} OperationWire;

struct Operation {
        Manager *manager;
        Operation *next;

        sd_bus_message *message;
        sd_bus_track *track;
        pid_t pid;
        int pidfd;
        int result_fd;
        sd_event_source *pid_source;
        bool cancelled;
        int cancel_signal; /* sent when the caller leaves; 0: SIGKILL */

        OperationDone done;
        void *userdata;
        void (*destroy)(void *userdata);
};

unsigned manager_operations_max(Manager *m) {
        const char *e;
        unsigned v;

        if (m->operations_max > 0)
                return m->operations_max;
        /* Read once: a test lowers the limit to reach it with a handful of calls. */
        e = getenv("BERTH_MAX_OPERATIONS");
        if (e && parse_small_uint(e, OPERATIONS_MAX_LIMIT, &v) >= 0 && v > 0)
                m->operations_max = v;
        else
                m->operations_max = OPERATIONS_MAX_DEFAULT;
        return m->operations_max;
}

unsigned manager_operations_count(Manager *m) {
        return m->n_operations;
}

int operation_check_limit(Manager *m, sd_bus_error *error) {
        if (m->n_operations < manager_operations_max(m))
                return 0;
        (void) sd_bus_error_setf(error, BUS_ERROR_TOO_MANY_OPERATIONS,
                                 "Too many operations in progress (%u), try again later", m->n_operations);
        return -ENOBUFS;
}

static void operation_unlink(Operation *o) {
        Manager *m = o->manager;

        for (Operation **i = &m->operations; *i; i = &(*i)->next)
                if (*i == o) {
                        *i = o->next;
                        o->next = NULL;
                        m->n_operations--;
                        return;
                }
}

static void operation_kill_and_reap(Operation *o) {
        siginfo_t si = {};

        if (o->pidfd < 0)
                return;
        (void) pidfd_send_signal(o->pidfd, SIGKILL, NULL, 0);
        /* SIGKILL cannot be caught: the wait is short. */
        (void) waitid(P_PIDFD, (id_t) o->pidfd, &si, WEXITED);
}

Operation *operation_free(Operation *o) {
        if (!o)
                return NULL;
        operation_unlink(o);
        o->pid_source = sd_event_source_disable_unref(o->pid_source);
        operation_kill_and_reap(o);
        o->pidfd = safe_close(o->pidfd);
        o->result_fd = safe_close(o->result_fd);
        sd_bus_track_unref(o->track);
        sd_bus_message_unref(o->message);
        if (o->destroy)
                o->destroy(o->userdata);
        free(o);
        return NULL;
}

void manager_free_operations(Manager *m) {
        while (m->operations)
                operation_free(m->operations);
}

void operation_set_destroy(Operation *o, void (*destroy)(void *userdata)) {
        o->destroy = destroy;
}

void operation_set_cancel_signal(Operation *o, int sig) {
        o->cancel_signal = sig;
}

sd_bus_message *operation_get_message(Operation *o) {
        return o->message;
}

pid_t operation_get_pid(Operation *o) {
        return o->pid;
}

/* Reads the worker's report, if it sent one. Fills RESULT (pointing into BUF); returns 1 if a
 * report was there, 0 if not, negative errno on a malformed one. */
static int read_report(int fd, char *buf, size_t size, OperationResult *result) {
        union {
                struct cmsghdr cmsghdr;
                uint8_t buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct iovec iov = { .iov_base = buf, .iov_len = size - 1 };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof(control),
        };
        OperationWire w;
        ssize_t n;

        n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0)
                return errno == EAGAIN ? 0 : negative_errno();
        if (n == 0)
                return 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
                    c->cmsg_len == CMSG_LEN(sizeof(int)))
                        memcpy(&result->fd, CMSG_DATA(c), sizeof(int));
        if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t) n < sizeof(w))
                return -EPROTO;
        buf[n] = 0; /* BUF has room: at most SIZE - 1 bytes were read */
        memcpy(&w, buf, sizeof(w));

        if (w.error > 0 || w.error < -4095)
                return -EPROTO;
        result->error = w.error;
        if (w.error == 0) {
                result->data = n > (ssize_t) sizeof(w) ? buf + sizeof(w) : NULL;
                result->size = (size_t) n - sizeof(w);
                return 1;
        }
        if (w.name_size > (size_t) n - sizeof(w))
                return -EPROTO;
        if (w.name_size > 0) {
                result->error_name = buf + sizeof(w);
                if (result->error_name[w.name_size - 1] != 0)
                        return -EPROTO;
        }
        result->error_message = buf + sizeof(w) + w.name_size;
        return 1;
}

/* A D-Bus error name as sd-bus accepts it: at least two dot-separated elements. */
static bool error_name_ok(const char *s) {
        if (!s || !strchr(s, '.') || strlen(s) > 255)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.'))
                        return false;
        return true;
}

static int reply_error(Operation *o, const OperationResult *result, sd_bus_error *error) {
        if (sd_bus_error_is_set(error))
                return sd_bus_reply_method_error(o->message, error);
        if (error_name_ok(result->error_name))
                return sd_bus_reply_method_errorf(o->message, result->error_name, "%s",
                                                  strempty(result->error_message));
        if (!isempty(result->error_message))
                return sd_bus_reply_method_errnof(o->message, -result->error, "%s", result->error_message);
        return sd_bus_reply_method_errno(o->message, -result->error, NULL);
}

static void operation_finish(Operation *o, int wait_code, int wait_status) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        char buf[sizeof(OperationWire) + OPERATION_DATA_MAX + OPERATION_ERROR_MAX + 2];
        OperationResult result = { .fd = -EBADF };
        int r;

        r = read_report(o->result_fd, buf, sizeof(buf), &result);
        if (r < 0) {
                log_warning_errno(r, "Worker %i sent a malformed report: %m", (int) o->pid);
                result = (OperationResult) { .error = -EPROTO, .fd = result.fd };
        } else if (r == 0)
                result.error = wait_code != CLD_EXITED ? -ECANCELED : wait_status == 0 ? 0 : -EPROTO;
        if (result.error < 0 && r <= 0)
                log_debug("Worker %i ended without a result (code %i, status %i).", (int) o->pid,
                          wait_code, wait_status);

        if (o->cancelled)
                goto done;

        if (o->done) {
                r = o->done(o, &result, o->userdata, &error);
                /* Handing back the worker's own error keeps its name and message. */
                if (r < 0 && !sd_bus_error_is_set(&error) && r != result.error)
                        (void) sd_bus_error_set_errno(&error, r);
                if (r < 0 && o->message)
                        r = reply_error(o, &result, &error);
        } else if (!o->message)
                r = 0;
        else if (result.error >= 0)
                r = sd_bus_reply_method_return(o->message, NULL);
        else
                r = reply_error(o, &result, &error);
        if (r < 0)
                log_debug_errno(r, "Failed to reply to the caller of worker %i: %m", (int) o->pid);
done:
        safe_close(result.fd);
        operation_free(o);
}

static int on_worker_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Operation *o = userdata;
        siginfo_t si = {};

        if (waitid(P_PIDFD, (id_t) o->pidfd, &si, WEXITED | WNOHANG) < 0) {
                log_warning_errno(negative_errno(), "Failed to reap worker %i: %m", (int) o->pid);
                si.si_code = CLD_KILLED;
        } else if (si.si_pid == 0)
                return 0; /* not yet */
        /* Reaped: operation_free() must not wait for it again. The source goes first: another
         * worker may hold a copy of the pidfd, and epoll forgets an fd only on EPOLL_CTL_DEL
         * then, which needs the fd still open. */
        o->pid_source = sd_event_source_disable_unref(o->pid_source);
        o->pidfd = safe_close(o->pidfd);
        operation_finish(o, si.si_code, si.si_status);
        return 0;
}

/* The caller left: nobody waits for the answer, so the work stops. */
static int on_caller_gone(sd_bus_track *t, void *userdata) {
        Operation *o = userdata;

        log_debug("Caller of worker %i disconnected, killing it.", (int) o->pid);
        o->cancelled = true;
        if (o->pidfd >= 0)
                (void) pidfd_send_signal(o->pidfd, o->cancel_signal ?: SIGKILL, NULL, 0);
        return 0;
}

static int on_event_exit(sd_event_source *s, void *userdata) {
        manager_free_operations(userdata);
        return 0;
}

/* Makes O known to the event loop and the bus; on failure the caller frees O. */
static int operation_watch(Operation *o) {
        Manager *m = o->manager;
        int r;

        r = sd_event_add_io(m->event, &o->pid_source, o->pidfd, EPOLLIN, on_worker_exit, o);
        if (r < 0)
                return r;
        if (o->message) {
                r = sd_bus_track_new(sd_bus_message_get_bus(o->message), &o->track, on_caller_gone, o);
                if (r < 0)
                        return r;
                r = sd_bus_track_add_sender(o->track, o->message);
                if (r < 0)
                        return r;
        }
        if (!m->operations_exit_hooked) {
                /* Floating: owned by the event loop. Workers die with berthd anyway (their
                 * PR_SET_PDEATHSIG); this reaps them and frees their state on a clean exit. */
                r = sd_event_add_exit(m->event, NULL, on_event_exit, m);
                if (r < 0)
                        return r;
                m->operations_exit_hooked = true;
        }
        return 0;
}

int operation_new(Manager *m, sd_bus_message *message, pid_t worker_pid, int result_fd,
                  OperationDone done, void *userdata, Operation **ret) {
        _cleanup_close_ int rfd = result_fd, pidfd = -EBADF;
        Operation *o;
        int r;

        pidfd = pidfd_open(worker_pid, 0);
        o = pidfd >= 0 ? calloc(1, sizeof(Operation)) : NULL;
        if (!o) {
                r = pidfd < 0 ? negative_errno() : -ENOMEM;
                /* The worker is our child and nobody else would reap it. */
                (void) kill(worker_pid, SIGKILL);
                (void) waitpid(worker_pid, NULL, 0);
                return r;
        }
        *o = (Operation) {
                .manager = m,
                .pid = worker_pid,
                .pidfd = TAKE_FD(pidfd),
                .result_fd = TAKE_FD(rfd),
                .message = sd_bus_message_ref(message),
                .done = done,
                .userdata = userdata,
                .next = m->operations,
        };
        m->operations = o;
        m->n_operations++;

        r = operation_watch(o);
        if (r < 0) {
                /* USERDATA stays the caller's: it learns of the failure. */
                operation_free(o);
                return r;
        }
        if (ret)
                *ret = o;
        return 0;
}

static void worker_reset_signals(void) {
        struct sigaction sa = { .sa_handler = SIG_DFL };
        sigset_t all;

        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) sigaction(sig, &sa, NULL);
        sigemptyset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, NULL);
}

int operation_fork(Manager *m, sd_bus_message *message, OperationDone done, void *userdata,
                   Operation **ret_op, int *ret_result_fd, sd_bus_error *error) {
        _cleanup_close_pair_ int pair[2] = { -EBADF, -EBADF };
        pid_t parent = getpid(), pid;
        int r;

        r = operation_check_limit(m, error);
        if (r < 0)
                return r;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return negative_errno();

        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                /* Die with berthd: an orphaned worker would act for a caller nobody answers. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(EXIT_FAILURE);
                worker_reset_signals();
                pair[0] = safe_close(pair[0]);
                *ret_result_fd = TAKE_FD(pair[1]);
                return 0;
        }

        pair[1] = safe_close(pair[1]);
        r = operation_new(m, message, pid, TAKE_FD(pair[0]), done, userdata, ret_op);
        if (r < 0)
                return r;
        return 1;
}

static int send_datagram(int fd, const struct iovec *iov, size_t n_iov, int pass_fd) {
        union {
                struct cmsghdr cmsghdr;
                uint8_t buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct msghdr mh = {
                .msg_iov = (struct iovec *) iov,
                .msg_iovlen = n_iov,
        };

        if (pass_fd >= 0) {
                struct cmsghdr *c;

                mh.msg_control = &control;
                mh.msg_controllen = sizeof(control);
                c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
        }
        return sendmsg(fd, &mh, MSG_NOSIGNAL) < 0 ? negative_errno() : 0;
}

int operation_report(int result_fd, int error, const void *data, size_t size, int fd) {
        OperationWire w = { .error = error };
        struct iovec iov[2] = {
                { .iov_base = &w, .iov_len = sizeof(w) },
                { .iov_base = (void *) data, .iov_len = size },
        };

        if (error > 0 || error < -4095)
                return -EINVAL;
        if (error < 0 && (size > 0 || fd >= 0))
                return -EINVAL;
        if (size > OPERATION_DATA_MAX || (size > 0 && !data))
                return -EINVAL;
        return send_datagram(result_fd, iov, size > 0 ? 2 : 1, fd);
}

int operation_report_errorf(int result_fd, int error, const char *name, const char *format, ...) {
        char msg[OPERATION_ERROR_MAX];
        OperationWire w = { .error = error };
        struct iovec iov[3] = {
                { .iov_base = &w, .iov_len = sizeof(w) },
                { .iov_base = (void *) strempty(name), .iov_len = name ? strlen(name) + 1 : 0 },
                { .iov_base = msg },
        };
        va_list ap;

        if (error >= 0 || error < -4095 || (name && strlen(name) > 255))
                return -EINVAL;
        w.name_size = (uint32_t) iov[1].iov_len;
        va_start(ap, format);
        (void) vsnprintf(msg, sizeof(msg), format, ap);
        va_end(ap);
        iov[2].iov_len = strlen(msg) + 1;
        return send_datagram(result_fd, iov, 3, -EBADF);
}
