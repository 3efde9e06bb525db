/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A small epoll event loop: fds, signals, timers, deferred work and pidfds. */
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>

#include "event-loop.h"

typedef enum SourceType {
        SOURCE_IO,
        SOURCE_SIGNAL,
        SOURCE_TIME,
        SOURCE_DEFER,
        SOURCE_CHILD,
} SourceType;

struct EventSource {
        EventLoop *loop;
        EventSource *next;
        SourceType type;
        EventEnabled enabled;
        bool dead;
        bool fd_own;
        bool registered;   /* in epoll */
        int fd;            /* io, child */
        uint32_t events;
        int sig;
        uint64_t usec;
        void *userdata;
        union {
                event_io_handler_t io;
                event_signal_handler_t signal;
                event_time_handler_t time;
                event_handler_t defer;
                event_child_handler_t child;
        } cb;
};

struct EventLoop {
        int epoll_fd;
        int signal_fd;
        sigset_t signals;
        EventSource *sources;
        bool exiting;
        int exit_code;
};

uint64_t event_now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

int event_new(EventLoop **ret) {
        EventLoop *e = calloc(1, sizeof(EventLoop));

        if (!e)
                return -ENOMEM;
        e->signal_fd = -EBADF;
        sigemptyset(&e->signals);
        e->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (e->epoll_fd < 0) {
                free(e);
                return negative_errno();
        }
        *ret = e;
        return 0;
}

static void source_destroy(EventSource *s) {
        if (s->registered)
                (void) epoll_ctl(s->loop->epoll_fd, EPOLL_CTL_DEL, s->fd, NULL);
        if (s->fd_own)
                safe_close(s->fd);
        free(s);
}

EventLoop *event_free(EventLoop *e) {
        if (!e)
                return NULL;
        while (e->sources) {
                EventSource *s = e->sources;
                e->sources = s->next;
                source_destroy(s);
        }
        safe_close(e->signal_fd);
        safe_close(e->epoll_fd);
        free(e);
        return NULL;
}

static int source_new(EventLoop *e, SourceType type, void *userdata, EventSource **ret) {
        EventSource *s = calloc(1, sizeof(EventSource));

        if (!s)
                return -ENOMEM;
        *s = (EventSource) {
                .loop = e,
                .type = type,
                .enabled = EVENT_ON,
                .fd = -EBADF,
                .userdata = userdata,
                .next = e->sources,
        };
        e->sources = s;
        *ret = s;
        return 0;
}

/* The epoll registration follows the enabled state, so a disabled fd never wakes us. */
static int source_update_epoll(EventSource *s) {
        struct epoll_event ev = { .events = s->events, .data.ptr = s };
        bool want = s->enabled != EVENT_OFF && !s->dead;

        if (s->type != SOURCE_IO && s->type != SOURCE_CHILD)
                return 0;
        if (want == s->registered) {
                if (want && epoll_ctl(s->loop->epoll_fd, EPOLL_CTL_MOD, s->fd, &ev) < 0)
                        return negative_errno();
                return 0;
        }
        if (epoll_ctl(s->loop->epoll_fd, want ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, s->fd, &ev) < 0)
                return negative_errno();
        s->registered = want;
        return 0;
}

/* An fd watched through epoll: io sources and pidfds. */
static int add_fd_source(EventLoop *e, SourceType type, int fd, uint32_t events, EventEnabled enabled,
                         void *userdata, EventSource **ret) {
        EventSource *s;
        int r;

        r = source_new(e, type, userdata, &s);
        if (r < 0)
                return r;
        s->fd = fd;
        s->events = events;
        s->enabled = enabled;
        r = source_update_epoll(s);
        if (r < 0) {
                s->dead = true;
                return r;
        }
        *ret = s;
        return 0;
}

int event_add_io(EventLoop *e, EventSource **ret, int fd, uint32_t events, event_io_handler_t cb, void *userdata) {
        EventSource *s;
        int r;

        r = add_fd_source(e, SOURCE_IO, fd, events, EVENT_ON, userdata, &s);
        if (r < 0)
                return r;
        s->cb.io = cb;
        if (ret)
                *ret = s;
        return 0;
}

int event_add_child_pidfd(EventLoop *e, EventSource **ret, int pidfd, event_child_handler_t cb, void *userdata) {
        EventSource *s;
        int r;

        r = add_fd_source(e, SOURCE_CHILD, pidfd, EPOLLIN, EVENT_ONESHOT, userdata, &s);
        if (r < 0)
                return r;
        s->cb.child = cb;
        if (ret)
                *ret = s;
        return 0;
}

int event_add_signal(EventLoop *e, EventSource **ret, int sig, event_signal_handler_t cb, void *userdata) {
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
        EventSource *s;
        int r, fd;

        sigaddset(&e->signals, sig);
        fd = signalfd(e->signal_fd < 0 ? -1 : e->signal_fd, &e->signals, SFD_CLOEXEC | SFD_NONBLOCK);
        if (fd < 0)
                return negative_errno();
        if (e->signal_fd < 0) {
                e->signal_fd = fd;
                if (epoll_ctl(e->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
                        return negative_errno();
        }
        r = source_new(e, SOURCE_SIGNAL, userdata, &s);
        if (r < 0)
                return r;
        s->sig = sig;
        s->cb.signal = cb;
        if (ret)
                *ret = s;
        return 0;
}

int event_add_time(EventLoop *e, EventSource **ret, uint64_t usec, event_time_handler_t cb, void *userdata) {
        EventSource *s;
        int r;

        r = source_new(e, SOURCE_TIME, userdata, &s);
        if (r < 0)
                return r;
        s->usec = usec;
        s->enabled = EVENT_ONESHOT;
        s->cb.time = cb;
        if (ret)
                *ret = s;
        return 0;
}

int event_add_time_relative(EventLoop *e, EventSource **ret, uint64_t usec, event_time_handler_t cb, void *userdata) {
        return event_add_time(e, ret, event_now() + usec, cb, userdata);
}

int event_add_defer(EventLoop *e, EventSource **ret, event_handler_t cb, void *userdata) {
        EventSource *s;
        int r;

        r = source_new(e, SOURCE_DEFER, userdata, &s);
        if (r < 0)
                return r;
        s->enabled = EVENT_ONESHOT;
        s->cb.defer = cb;
        if (ret)
                *ret = s;
        return 0;
}

int event_source_set_enabled(EventSource *s, EventEnabled enabled) {
        if (!s || s->dead)
                return -ESTALE;
        s->enabled = enabled;
        return source_update_epoll(s);
}

int event_source_set_io_events(EventSource *s, uint32_t events) {
        if (!s || s->dead)
                return -ESTALE;
        s->events = events;
        return source_update_epoll(s);
}

int event_source_set_time(EventSource *s, uint64_t usec) {
        if (!s || s->dead)
                return -ESTALE;
        s->usec = usec;
        return 0;
}

void event_source_set_io_fd_own(EventSource *s, bool own) {
        s->fd_own = own;
}

EventLoop *event_source_get_loop(EventSource *s) {
        return s->loop;
}

EventSource *event_source_free(EventSource *s) {
        if (!s)
                return NULL;
        /* Freed for real after the current dispatch: the loop may still be walking it. */
        s->enabled = EVENT_OFF;
        (void) source_update_epoll(s);
        s->dead = true;
        return NULL;
}

int event_exit(EventLoop *e, int code) {
        e->exiting = true;
        e->exit_code = code;
        return 0;
}

static void sweep(EventLoop *e) {
        for (EventSource **p = &e->sources; *p;) {
                EventSource *s = *p;

                if (!s->dead) {
                        p = &s->next;
                        continue;
                }
                *p = s->next;
                source_destroy(s);
        }
}

static int fire(EventSource *s, int r) {
        if (s->enabled == EVENT_ONESHOT)
                (void) event_source_set_enabled(s, EVENT_OFF);
        return r;
}

static int dispatch_signals(EventLoop *e) {
        struct signalfd_siginfo si;

        while (read(e->signal_fd, &si, sizeof(si)) == sizeof(si))
                for (EventSource *s = e->sources; s; s = s->next)
                        if (s->type == SOURCE_SIGNAL && !s->dead && s->enabled != EVENT_OFF &&
                            s->sig == (int) si.ssi_signo) {
                                int r = s->cb.signal(s, &si, s->userdata);
                                if (fire(s, r) < 0)
                                        return r;
                        }
        return 0;
}

static int dispatch_one(EventSource *s, uint32_t revents) {
        if (s->dead || s->enabled == EVENT_OFF)
                return 0;
        if (s->type == SOURCE_CHILD) {
                siginfo_t si = {};

                if (waitid(P_PIDFD, (id_t) s->fd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
                        return 0;
                (void) event_source_set_enabled(s, EVENT_OFF);
                return s->cb.child(s, &si, s->userdata);
        }
        return fire(s, s->cb.io(s, s->fd, revents, s->userdata));
}

/* Milliseconds until the next timer, -1 for none, 0 when deferred work is pending. */
static int next_timeout(EventLoop *e, uint64_t now) {
        uint64_t next = UINT64_MAX;

        for (EventSource *s = e->sources; s; s = s->next) {
                if (s->dead || s->enabled == EVENT_OFF)
                        continue;
                if (s->type == SOURCE_DEFER)
                        return 0;
                if (s->type == SOURCE_TIME && s->usec < next)
                        next = s->usec;
        }
        if (next == UINT64_MAX)
                return -1;
        return next <= now ? 0 : (int) MIN((next - now + 999) / 1000, (uint64_t) 60000);
}

static int dispatch_timers_and_defer(EventLoop *e) {
        uint64_t now = event_now();

        for (EventSource *s = e->sources; s && !e->exiting; s = s->next) {
                int r = 0;

                if (s->dead || s->enabled == EVENT_OFF)
                        continue;
                if (s->type == SOURCE_TIME && s->usec <= now)
                        r = fire(s, s->cb.time(s, s->usec, s->userdata));
                else if (s->type == SOURCE_DEFER)
                        r = fire(s, s->cb.defer(s, s->userdata));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Milliseconds to wait: the next timer's, capped by CAP_USEC (UINT64_MAX: none). */
static int wait_ms(EventLoop *e, uint64_t cap_usec) {
        int t = next_timeout(e, event_now());
        int cap = cap_usec == UINT64_MAX ? -1 : (int) MIN((cap_usec + 999) / 1000, (uint64_t) 60000);

        if (t < 0)
                return cap;
        return cap < 0 ? t : MIN(t, cap);
}

static int iterate(EventLoop *e, uint64_t cap_usec) {
        struct epoll_event events[16];
        int n, r;

        n = epoll_wait(e->epoll_fd, events, ELEMENTSOF(events), wait_ms(e, cap_usec));
        if (n < 0)
                return errno == EINTR ? 0 : negative_errno();
        for (int i = 0; i < n && !e->exiting; i++) {
                r = events[i].data.ptr ? dispatch_one(events[i].data.ptr, events[i].events) :
                                         dispatch_signals(e);
                if (r < 0)
                        return r;
        }
        r = dispatch_timers_and_defer(e);
        sweep(e);
        return r < 0 ? r : n;
}

int event_run(EventLoop *e, uint64_t timeout_usec) {
        return iterate(e, timeout_usec);
}

int event_loop(EventLoop *e) {
        while (!e->exiting) {
                int r = iterate(e, UINT64_MAX);
                if (r < 0)
                        return r;
        }
        return e->exit_code;
}
