/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Operations: forked workers that do slow jobs (exec, copy, bind mounts) for one D-Bus call,
 * owned by the Manager, bounded in number, answered from the event loop when they exit. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "macro.h"

typedef struct Manager Manager;
typedef struct Operation Operation;

/* How many operations may run at once unless $BERTH_MAX_OPERATIONS (1..4096) says otherwise. */
#define OPERATIONS_MAX_DEFAULT 64U
/* The largest payload a worker can send back with operation_report(). */
#define OPERATION_DATA_MAX 4096U

/* What a worker sent back, handed to the OperationDone callback. All pointers are valid only
 * during the callback. */
typedef struct OperationResult {
        /* 0, or the negative errno the worker reported. A worker that exited without reporting
         * gets 0 if it exited with status 0, -EPROTO otherwise; one that was killed (also by
         * operation_free() or a caller that disconnected) gets -ECANCELED. */
        int error;
        /* With an error: the D-Bus error name and message the worker chose, or NULL (then the
         * reply is built from the errno alone). */
        const char *error_name;
        const char *error_message;
        /* With success: the bytes the worker sent (NULL/0 if none). */
        const void *data;
        size_t size;
        /* An fd the worker passed back (e.g. a pty master), or -EBADF. The callback may take it
         * with TAKE_FD(); otherwise it is closed after the callback. */
        int fd;
} OperationResult;

/* Called from the event loop once the worker exited and was reaped. It should send the reply to
 * operation_get_message(O) itself and return >= 0. If it returns negative (optionally with
 * ERROR set), that error is sent as the reply instead; returning RESULT->error unchanged sends
 * the worker's own error (name and message). With DONE == NULL the reply is empty on success and
 * the worker's error otherwise. Not called when the caller disconnected or berthd shuts down.
 * MESSAGE may be NULL (an operation nobody waits for): DONE is called, nothing is replied. */
typedef int (*OperationDone)(Operation *o, OperationResult *result, void *userdata, sd_bus_error *error);

/* Refuses with org.berth.machine1.TooManyOperations (and -ENOBUFS) when M runs its maximum of
 * operations already. operation_fork() checks this itself; a caller that forks on its own calls
 * it before forking. */
int operation_check_limit(Manager *m, sd_bus_error *error);

/* The usual way to start a worker: checks the limit, makes the result channel, forks.
 *   In the worker: returns 0 and sets *RET_RESULT_FD (CLOEXEC). The worker inherits all of
 *   berthd's fds (the message's fds too, at the same numbers): it must not use the bus
 *   connection, and closes what it does not need before running anything untrusted. It does
 *   its job, reports with operation_report*() and _exit()s. Its signal mask and dispositions
 *   are reset to defaults; it gets SIGKILL (PR_SET_PDEATHSIG) when berthd dies, and also when
 *   the caller disconnects before the reply or berthd shuts down (a worker that starts other
 *   processes should make them die with it, e.g. with PR_SET_PDEATHSIG, or hand them on).
 *   In berthd: returns 1, the operation is tracked, *RET_OP (optional) points to it.
 *   On failure: negative errno, with ERROR set where it is a caller's error (TooManyOperations).
 * MESSAGE is the call to answer (referenced). USERDATA goes to DONE; a destructor for it can be
 * set with operation_set_destroy(). Do not keep a Machine pointer in USERDATA: the machine may be
 * gone before the worker is; keep its name. */
int operation_fork(Manager *m, sd_bus_message *message, OperationDone done, void *userdata,
                   Operation **ret_op, int *ret_result_fd, sd_bus_error *error);

/* Tracks a worker forked by the caller itself (check the limit first with
 * operation_check_limit()). RESULT_FD is berthd's end of an AF_UNIX SOCK_SEQPACKET socketpair
 * (socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC, 0, fds)) whose other end the worker passes to
 * operation_report*(); it is taken over (closed on failure too). WORKER_PID must be our child.
 * Returns 0, or negative errno (the worker is then killed and reaped). */
int operation_new(Manager *m, sd_bus_message *message, pid_t worker_pid, int result_fd,
                  OperationDone done, void *userdata, Operation **ret);

/* Kills the worker (SIGKILL), reaps it, frees the operation without calling DONE and without
 * replying. Used at shutdown; callers rarely need it. */
Operation *operation_free(Operation *o);
/* Kills and frees every operation of M (berthd's exit). */
void manager_free_operations(Manager *m);

void operation_set_destroy(Operation *o, void (*destroy)(void *userdata));
/* What the worker gets when its caller disconnects (SIGKILL unless set): a worker that can stop
 * cleanly, removing what it half made, asks for a signal it blocks and polls for (SIGTERM). It
 * must then notice it within a fraction of a second. Shutdown still uses SIGKILL. */
void operation_set_cancel_signal(Operation *o, int sig);
sd_bus_message *operation_get_message(Operation *o);
pid_t operation_get_pid(Operation *o);
/* How many operations M runs now, and the maximum. */
unsigned manager_operations_count(Manager *m);
unsigned manager_operations_max(Manager *m);

/* Worker side. Send at most one report, then _exit(). Each is one SOCK_SEQPACKET datagram.
 * operation_report(): ERROR 0 with DATA (≤ OPERATION_DATA_MAX bytes, may be NULL) and an
 * optional FD to pass back (-EBADF for none); or ERROR < 0 alone.
 * operation_report_errorf(): ERROR < 0 with a D-Bus error NAME (NULL: derived from the errno)
 * and a message; "%m" is not supported, use strerror(-error). */
int operation_report(int result_fd, int error, const void *data, size_t size, int fd);
int operation_report_errorf(int result_fd, int error, const char *name, const char *format, ...)
        _printf_(4, 5);
