/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A small epoll event loop: fds, signals, timers, deferred work and pidfds.
 *
 * berth-spawn runs once per machine and stays for the machine's lifetime, so what it links
 * costs every start and every machine: libsystemd (for sd-event) pulls in six more libraries,
 * about 1.2 ms per start and 1.2 MB of memory per supervisor (bench/README.md). This loop
 * covers what the supervisor needs, with sd-event's shape so the code reads the same. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include "macro.h"

typedef struct EventLoop EventLoop;
typedef struct EventSource EventSource;

typedef int (*event_io_handler_t)(EventSource *s, int fd, uint32_t revents, void *userdata);
typedef int (*event_signal_handler_t)(EventSource *s, const struct signalfd_siginfo *si, void *userdata);
typedef int (*event_time_handler_t)(EventSource *s, uint64_t usec, void *userdata);
typedef int (*event_child_handler_t)(EventSource *s, const siginfo_t *si, void *userdata);
typedef int (*event_handler_t)(EventSource *s, void *userdata);

typedef enum EventEnabled {
        EVENT_OFF,
        EVENT_ON,
        EVENT_ONESHOT, /* fires once, then is OFF */
} EventEnabled;

int event_new(EventLoop **ret);
EventLoop *event_free(EventLoop *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(EventLoop *, event_free);

/* Sources belong to the loop and are freed with it; RET may be NULL when the caller does not
 * need to change the source later. A handler returning < 0 ends the loop with that error. */
int event_add_io(EventLoop *e, EventSource **ret, int fd, uint32_t events, event_io_handler_t cb, void *userdata);
/* SIG must be blocked by the caller. */
int event_add_signal(EventLoop *e, EventSource **ret, int sig, event_signal_handler_t cb, void *userdata);
/* USEC on CLOCK_MONOTONIC; a timer is ONESHOT. */
int event_add_time(EventLoop *e, EventSource **ret, uint64_t usec, event_time_handler_t cb, void *userdata);
int event_add_time_relative(EventLoop *e, EventSource **ret, uint64_t usec, event_time_handler_t cb, void *userdata);
/* Runs on the next iteration: ONESHOT at first, as in sd-event; EVENT_ON runs it every time. */
int event_add_defer(EventLoop *e, EventSource **ret, event_handler_t cb, void *userdata);
/* Fires once when the process behind PIDFD has exited (reaped here, with its siginfo). */
int event_add_child_pidfd(EventLoop *e, EventSource **ret, int pidfd, event_child_handler_t cb, void *userdata);

int event_source_set_enabled(EventSource *s, EventEnabled enabled);
int event_source_set_io_events(EventSource *s, uint32_t events);
int event_source_set_time(EventSource *s, uint64_t usec);
/* The fd of an io source is closed when the source goes. */
void event_source_set_io_fd_own(EventSource *s, bool own);
EventLoop *event_source_get_loop(EventSource *s);
/* Disables and frees (safe from within the source's own handler). Returns NULL. */
EventSource *event_source_free(EventSource *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(EventSource *, event_source_free);

uint64_t event_now(void);
int event_exit(EventLoop *e, int code);
/* Dispatches until event_exit(); returns its code, or a handler's error. */
int event_loop(EventLoop *e);
/* One iteration, waiting at most TIMEOUT_USEC: > 0 if anything was dispatched, 0 if not. */
int event_run(EventLoop *e, uint64_t timeout_usec);
