/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthctl's terminal relay for login and shell: our tty in raw mode <-> a pty master berthd gave us. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-event.h>

#include "ctl-pty.h"
#include "fd-util.h"
#include "log.h"
#include "macro.h"

#define RELAY_BUFFER 16384
#define ESCAPE_BYTE 0x1d            /* ^] */
#define ESCAPE_COUNT 3              /* this many ^] ... */
#define ESCAPE_USEC 1000000ULL      /* ... within a second leave the session */

/* One of our own ends: stdin (read) or stdout (written). */
typedef struct Side {
        int fd;                 /* what we read or write: a private copy or the original */
        int original;
        bool owned;             /* fd is ours: closed at the end */
        int saved_flags;        /* the shared description's flags if we changed them, else -1 */
        bool pollable;          /* epoll takes it; regular files and /dev/null it does not */
        bool is_tty;
        dev_t rdev;
        struct termios saved;
        bool termios_saved;
        sd_event_source *source;
} Side;

typedef struct Relay {
        sd_event *event;
        int master;
        Side in, out;
        sd_event_source *master_source, *escape_timer;

        bool in_done;           /* stdin ended or failed */
        bool eof_pending;       /* pass the end of a non-terminal stdin on once flushed */
        bool master_done;       /* every slave is closed: the session is over */
        bool out_broken;        /* stdout takes nothing any more: output is dropped */
        bool escaped;
        int last_forwarded;     /* last byte written to the pty, -1 if none */

        unsigned n_escape;      /* ^] held back: they may be the escape */
        uint64_t escape_start;

        size_t to_master_len, to_out_len;
        char to_master[RELAY_BUFFER];
        char to_out[RELAY_BUFFER];
} Relay;

static uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

/* A non-blocking fd for FD that does not change it for whoever shares its description (the
 * shell that started us): see stdio_open_nonblock(). */
static int side_open(Side *s, int fd, bool output) {
        struct stat st;
        int r;

        *s = (Side) { .fd = -EBADF, .original = fd, .saved_flags = -1 };
        if (fstat(fd, &st) < 0)
                return negative_errno();
        s->is_tty = isatty(fd) > 0;
        s->rdev = S_ISCHR(st.st_mode) ? st.st_rdev : 0;
        r = stdio_open_nonblock(fd, output, &s->fd, &s->owned, &s->saved_flags);
        s->pollable = s->owned;
        return r;
}

static void side_close(Side *s) {
        s->source = sd_event_source_disable_unref(s->source);
        if (s->termios_saved)
                (void) tcsetattr(s->fd, TCSADRAIN, &s->saved);
        s->termios_saved = false;
        if (s->saved_flags >= 0)
                (void) fcntl(s->original, F_SETFL, s->saved_flags);
        s->saved_flags = -1;
        if (s->owned)
                safe_close(s->fd);
        s->fd = -EBADF;
}

/* Raw input, so every key reaches the machine's pty, which does its own echo and line
 * editing; raw output, so its \r\n are not doubled. */
static int make_raw(Relay *r) {
        bool same = r->out.is_tty && r->in.is_tty && r->out.rdev == r->in.rdev;
        struct termios t;

        if (r->in.is_tty) {
                if (tcgetattr(r->in.fd, &r->in.saved) < 0)
                        return negative_errno();
                r->in.termios_saved = true;
                t = r->in.saved;
                cfmakeraw(&t);
                if (!same)
                        t.c_oflag = r->in.saved.c_oflag;
                if (tcsetattr(r->in.fd, TCSANOW, &t) < 0)
                        return negative_errno();
        }
        if (r->out.is_tty && !same) {
                if (tcgetattr(r->out.fd, &r->out.saved) < 0)
                        return negative_errno();
                r->out.termios_saved = true;
                t = r->out.saved;
                t.c_oflag &= ~OPOST;
                if (tcsetattr(r->out.fd, TCSANOW, &t) < 0)
                        return negative_errno();
        }
        return 0;
}

static void resize(Relay *r) {
        struct winsize ws;
        int fd = r->out.is_tty ? r->out.fd : r->in.is_tty ? r->in.fd : -EBADF;

        if (fd >= 0 && ioctl(fd, TIOCGWINSZ, &ws) >= 0)
                (void) ioctl(r->master, TIOCSWINSZ, &ws);
}

static void escape_release(Relay *r) {
        for (; r->n_escape > 0; r->n_escape--)
                r->to_master[r->to_master_len++] = ESCAPE_BYTE;
        (void) sd_event_source_set_enabled(r->escape_timer, SD_EVENT_OFF);
}

/* Appends what the user typed, holding ^] back until it is clear whether it is the escape.
 * The caller leaves room for N + ESCAPE_COUNT bytes. */
static void input_feed(Relay *r, const char *p, size_t n) {
        uint64_t t = now_usec();

        for (size_t i = 0; i < n && !r->escaped; i++) {
                if (p[i] != ESCAPE_BYTE) {
                        escape_release(r);
                        r->to_master[r->to_master_len++] = p[i];
                        continue;
                }
                if (r->n_escape > 0 && t >= r->escape_start + ESCAPE_USEC)
                        escape_release(r);
                if (r->n_escape == 0) {
                        r->escape_start = t;
                        (void) sd_event_source_set_time(r->escape_timer, t + ESCAPE_USEC);
                        (void) sd_event_source_set_enabled(r->escape_timer, SD_EVENT_ONESHOT);
                }
                if (++r->n_escape >= ESCAPE_COUNT)
                        r->escaped = true;
        }
}

static void read_input(Relay *r) {
        char buf[RELAY_BUFFER];
        size_t room = RELAY_BUFFER - r->to_master_len;
        ssize_t k;

        if (r->in_done || room <= ESCAPE_COUNT)
                return;
        k = read(r->in.fd, buf, room - ESCAPE_COUNT);
        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (k <= 0) {
                if (k < 0)
                        log_debug_errno(negative_errno(), "Reading stdin failed: %m");
                r->in_done = true;
                escape_release(r);
                /* A pipe's end is the machine's end of input; a terminal gone is a hangup. */
                r->eof_pending = !r->in.is_tty;
                if (r->in.is_tty)
                        r->master_done = true;
                return;
        }
        input_feed(r, buf, (size_t) k);
}

/* Ends the input as ^D would at a canonical-mode reader: twice after a partial line. */
static void queue_eof(Relay *r) {
        struct termios t;

        r->eof_pending = false;
        if (tcgetattr(r->master, &t) < 0 || !(t.c_lflag & ICANON) || t.c_cc[VEOF] == _POSIX_VDISABLE)
                return;
        r->to_master[r->to_master_len++] = (char) t.c_cc[VEOF];
        if (r->last_forwarded >= 0 && r->last_forwarded != '\n')
                r->to_master[r->to_master_len++] = (char) t.c_cc[VEOF];
}

static void write_master(Relay *r) {
        ssize_t k;

        if (r->to_master_len == 0 && r->eof_pending && r->n_escape == 0)
                queue_eof(r);
        if (r->to_master_len == 0)
                return;
        k = write(r->master, r->to_master, r->to_master_len);
        if (k < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        r->to_master_len = 0; /* EIO: nobody reads any more */
                return;
        }
        r->last_forwarded = (unsigned char) r->to_master[k - 1];
        memmove(r->to_master, r->to_master + k, r->to_master_len - (size_t) k);
        r->to_master_len -= (size_t) k;
}

static void write_out(Relay *r) {
        while (r->to_out_len > 0 && !r->out_broken) {
                ssize_t k = write(r->out.fd, r->to_out, r->to_out_len);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN && r->out.pollable)
                        return;
                if (k <= 0) {
                        r->out_broken = true;
                        break;
                }
                memmove(r->to_out, r->to_out + k, r->to_out_len - (size_t) k);
                r->to_out_len -= (size_t) k;
        }
        if (r->out_broken)
                r->to_out_len = 0;
}

static void read_master(Relay *r) {
        ssize_t k;

        if (r->master_done || r->to_out_len >= RELAY_BUFFER)
                return;
        k = read(r->master, r->to_out + r->to_out_len, RELAY_BUFFER - r->to_out_len);
        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (k <= 0) {
                /* EIO: the last slave fd closed, the shell is gone. */
                r->master_done = true;
                return;
        }
        if (!r->out_broken)
                r->to_out_len += (size_t) k;
        if (!r->out.pollable)
                write_out(r);
}

static int set_io(sd_event_source *s, uint32_t events) {
        int r;

        if (!s)
                return 0;
        if (events == 0)
                return sd_event_source_set_enabled(s, SD_EVENT_OFF);
        r = sd_event_source_set_io_events(s, events);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(s, SD_EVENT_ON);
}

/* After every event: what to wait for next, and whether the session is over. */
static int update(Relay *r) {
        bool want_in = !r->in_done && RELAY_BUFFER - r->to_master_len > ESCAPE_COUNT;
        uint32_t m = 0;
        int k;

        if (r->escaped || (r->master_done && r->to_out_len == 0))
                return sd_event_exit(r->event, 0);
        if (!r->master_done) {
                if (r->to_out_len < RELAY_BUFFER)
                        m |= EPOLLIN;
                if (r->to_master_len > 0 || (r->eof_pending && r->n_escape == 0))
                        m |= EPOLLOUT;
        }
        k = set_io(r->master_source, m);
        if (k >= 0)
                k = r->in.pollable ? set_io(r->in.source, want_in ? EPOLLIN : 0) :
                        sd_event_source_set_enabled(r->in.source, want_in ? SD_EVENT_ON : SD_EVENT_OFF);
        if (k >= 0 && r->out.pollable)
                k = set_io(r->out.source, r->to_out_len > 0 ? EPOLLOUT : 0);
        return k < 0 ? sd_event_exit(r->event, k) : 0;
}

static int on_master(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Relay *r = userdata;

        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
                read_master(r);
        if (revents & EPOLLOUT)
                write_master(r);
        return update(r);
}

static int on_in(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Relay *r = userdata;

        read_input(r);
        write_master(r);
        return update(r);
}

static int on_in_defer(sd_event_source *s, void *userdata) {
        return on_in(s, -EBADF, EPOLLIN, userdata);
}

static int on_out(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Relay *r = userdata;

        write_out(r);
        return update(r);
}

static int on_escape_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Relay *r = userdata;

        escape_release(r);
        write_master(r);
        return update(r);
}

static int on_winch(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        resize(userdata);
        return 0;
}

static int on_quit(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Relay *r = userdata;

        return sd_event_exit(r->event, 0);
}

static int add_sources(Relay *r) {
        static const int quit[] = { SIGTERM, SIGHUP, SIGINT };
        int k;

        k = sd_event_add_io(r->event, &r->master_source, r->master, EPOLLIN, on_master, r);
        if (k < 0)
                return k;
        if (r->in.pollable)
                k = sd_event_add_io(r->event, &r->in.source, r->in.fd, EPOLLIN, on_in, r);
        else
                k = sd_event_add_defer(r->event, &r->in.source, on_in_defer, r);
        if (k < 0)
                return k;
        if (r->out.pollable) {
                k = sd_event_add_io(r->event, &r->out.source, r->out.fd, EPOLLOUT, on_out, r);
                if (k < 0)
                        return k;
        }
        k = sd_event_add_time(r->event, &r->escape_timer, CLOCK_MONOTONIC, UINT64_MAX, 0,
                              on_escape_timer, r);
        if (k < 0)
                return k;
        (void) sd_event_source_set_enabled(r->escape_timer, SD_EVENT_OFF);
        k = sd_event_add_signal(r->event, NULL, SIGWINCH, on_winch, r);
        for (size_t i = 0; k >= 0 && i < ELEMENTSOF(quit); i++)
                k = sd_event_add_signal(r->event, NULL, quit[i], on_quit, r);
        return k < 0 ? k : update(r);
}

/* Regular files and /dev/null cannot be polled: they are always ready. */
static void probe_pollable(Relay *r, Side *s) {
        int ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = { .events = EPOLLIN };

        if (ep < 0)
                return;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev) < 0)
                s->pollable = false;
        else if (s->owned || s->saved_flags >= 0)
                s->pollable = true;
        safe_close(ep);
}

static void relay_done(Relay *r) {
        r->master_source = sd_event_source_disable_unref(r->master_source);
        r->escape_timer = sd_event_source_disable_unref(r->escape_timer);
        side_close(&r->in);
        side_close(&r->out);
        r->event = sd_event_unref(r->event);
        safe_close(r->master);
}

int ctl_pty_relay(int master, bool *ret_escaped) {
        _cleanup_free_ Relay *r = NULL;
        sigset_t mask, saved;
        int k;

        r = calloc(1, sizeof(Relay));
        if (!r) {
                safe_close(master);
                return -ENOMEM;
        }
        r->master = master;
        r->last_forwarded = -1;
        r->in = r->out = (Side) { .fd = -EBADF, .original = -EBADF, .saved_flags = -1 };

        /* sd-event takes signals through a signalfd: they must be blocked first. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGWINCH);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGINT);
        (void) sigprocmask(SIG_BLOCK, &mask, &saved);

        k = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK) < 0 ? negative_errno() : 0;
        if (k >= 0)
                k = side_open(&r->in, STDIN_FILENO, false);
        if (k >= 0)
                k = side_open(&r->out, STDOUT_FILENO, true);
        if (k >= 0) {
                probe_pollable(r, &r->in);
                probe_pollable(r, &r->out);
                k = sd_event_new(&r->event);
        }
        if (k >= 0)
                k = add_sources(r);
        if (k >= 0) {
                resize(r);
                k = make_raw(r);
        }
        if (k >= 0)
                k = sd_event_loop(r->event);
        if (ret_escaped)
                *ret_escaped = r->escaped;
        relay_done(r);
        (void) sigprocmask(SIG_SETMASK, &saved, NULL);
        return k < 0 ? k : 0;
}
