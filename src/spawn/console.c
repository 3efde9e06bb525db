/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The container's console: opens its pty pair and relays it to our terminal or pipes. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>

#include "console.h"
#include "fd-util.h"
#include "log.h"

#define USEC_PER_SEC 1000000ULL
#define USEC_PER_MSEC 1000ULL

#define ESCAPE_BYTE 0x1d            /* ^] */
#define ESCAPE_COUNT 3              /* this many ^] ... */
#define ESCAPE_USEC USEC_PER_SEC    /* ... within this long */

#define IN_BUFFER_SIZE 4096
#define OUT_BUFFER_SIZE (16 * 1024)

/* pty_forward_drain() gives up when the output takes nothing for this long, and never copies
 * more than this much (a container that is still alive must not keep it busy forever). */
#define DRAIN_IDLE_USEC (3 * USEC_PER_SEC)
#define DRAIN_MAX_BYTES (1024 * 1024)

/* One of our own sides: stdin (read) or stdout (written). */
typedef struct Endpoint {
        int fd;               /* what we read or write: a private reopened copy, or the original */
        int original;         /* the caller's fd; never closed here */
        bool owned;           /* fd is ours (reopened copy or dup), closed at free */
        int saved_flags;      /* the original's file status flags if we changed them, else -1 */
        bool is_tty;
        dev_t rdev;
        struct termios saved_termios;
        bool termios_saved;
        EventSource *source;
        bool ready;           /* readable/writable since the last EAGAIN (edge-triggered) */
        bool done;            /* input: EOF or error; output: broken, output is dropped */
} Endpoint;

struct PtyForward {
        EventLoop *event;
        ConsoleMode mode;
        int master;

        Endpoint input, output;
        int winsize_fd;       /* the terminal whose size the container's pty follows, or -1 */

        EventSource *master_source;
        EventSource *sigwinch_source;
        EventSource *escape_timer;
        EventSource *kick_source;

        bool master_readable, master_writable;
        bool eof_pending;     /* stdin ended: tell the pty once the buffer is flushed */
        bool stopped;         /* drained: no more relaying */
        int last_forwarded;   /* last byte written to the pty, -1 if none */

        unsigned n_escape;    /* ^] held back, not yet forwarded */
        uint64_t escape_start;
        void (*on_escape)(void *userdata);
        void *userdata;

        bool unblock_sigwinch;
        bool restore_sigpipe;

        size_t in_len, out_len;
        char in_buf[IN_BUFFER_SIZE];
        char out_buf[OUT_BUFFER_SIZE];
};

static uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

int console_open_pty(int *ret_master, char **ret_slave_path) {
        _cleanup_close_ int master = -EBADF;
        char path[64];
        char *s;
        int r;

        if (!ret_master || !ret_slave_path)
                return -EINVAL;

        /* posix_openpt() is this open() on Linux, but does not promise to pass O_CLOEXEC on; the
         * master must never leak into the container. */
        master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
        if (master < 0)
                return negative_errno();
        if (grantpt(master) < 0 || unlockpt(master) < 0)
                return negative_errno();
        r = ptsname_r(master, path, sizeof(path));
        if (r != 0)
                return -r;

        s = strdup(path);
        if (!s)
                return -ENOMEM;
        *ret_master = TAKE_FD(master);
        *ret_slave_path = s;
        return 0;
}

static int tcsetattr_retry(int fd, const struct termios *t) {
        for (;;) {
                if (tcsetattr(fd, TCSANOW, t) >= 0)
                        return 0;
                if (errno != EINTR)
                        return negative_errno();
        }
}

static void endpoint_init(Endpoint *ep) {
        *ep = (Endpoint) {
                .fd = -EBADF,
                .original = -EBADF,
                .saved_flags = -1,
        };
}

/* Gets FD ready for non-blocking use without changing it for whoever else shares it (the shell
 * that started us, our own stderr): see stdio_open_nonblock(). */
static int endpoint_open(Endpoint *ep, int fd, bool output) {
        struct stat st;

        ep->original = fd;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        ep->is_tty = isatty(fd) > 0;
        ep->rdev = S_ISCHR(st.st_mode) ? st.st_rdev : 0;
        return stdio_open_nonblock(fd, output, &ep->fd, &ep->owned, &ep->saved_flags);
}

static void endpoint_done(Endpoint *ep) {
        ep->source = event_source_free(ep->source);
        if (ep->termios_saved && tcsetattr_retry(ep->fd, &ep->saved_termios) < 0)
                log_debug_errno(negative_errno(), "Failed to restore the terminal settings: %m");
        ep->termios_saved = false;
        if (ep->saved_flags >= 0)
                (void) fcntl(ep->original, F_SETFL, ep->saved_flags);
        ep->saved_flags = -1;
        if (ep->owned)
                safe_close(ep->fd);
        ep->fd = -EBADF;
        ep->owned = false;
}

/* Raw mode on the terminal we read from. The container's pty does its own output processing
 * (ONLCR and friends), so the terminal we write to must pass bytes unchanged too, like nspawn:
 * a second \n→\r\n would break every curses program inside. When stdout is another terminal,
 * that one gets raw output and keeps its input settings; stdin then keeps its output ones. */
static int terminal_make_raw(PtyForward *f) {
        bool same = f->output.is_tty && f->output.rdev == f->input.rdev;
        struct termios raw;
        int r;

        if (tcgetattr(f->input.fd, &f->input.saved_termios) < 0)
                return negative_errno();
        f->input.termios_saved = true;
        raw = f->input.saved_termios;
        cfmakeraw(&raw);
        if (!same)
                raw.c_oflag = f->input.saved_termios.c_oflag;
        r = tcsetattr_retry(f->input.fd, &raw);
        if (r < 0)
                return r;

        if (same || !f->output.is_tty)
                return 0;
        if (tcgetattr(f->output.fd, &f->output.saved_termios) < 0)
                return negative_errno();
        f->output.termios_saved = true;
        raw = f->output.saved_termios;
        cfmakeraw(&raw);
        raw.c_iflag = f->output.saved_termios.c_iflag;
        raw.c_lflag = f->output.saved_termios.c_lflag;
        return tcsetattr_retry(f->output.fd, &raw);
}

static void escape_timer_disarm(PtyForward *f) {
        if (f->escape_timer)
                (void) event_source_set_enabled(f->escape_timer, EVENT_OFF);
}

/* Forwards the ^] held back so far: they turned out not to be the escape. */
static void escape_release(PtyForward *f) {
        for (; f->n_escape > 0; f->n_escape--)
                f->in_buf[f->in_len++] = ESCAPE_BYTE;
        escape_timer_disarm(f);
}

/* Appends bytes read from stdin to the buffer for the pty, holding ^] back until it is clear
 * whether they make the escape. Returns true if the escape was typed. The caller guarantees
 * room for n + ESCAPE_COUNT - 1 bytes. */
static bool input_feed(PtyForward *f, const char *p, size_t n) {
        uint64_t t = now_usec();
        bool escaped = false;

        for (size_t i = 0; i < n; i++) {
                if (p[i] != ESCAPE_BYTE) {
                        escape_release(f);
                        f->in_buf[f->in_len++] = p[i];
                        continue;
                }

                if (f->n_escape > 0 && t >= f->escape_start + ESCAPE_USEC)
                        escape_release(f);
                if (f->n_escape == 0) {
                        f->escape_start = t;
                        /* Without the timer a lone ^] would wait for the next key: acceptable. */
                        if (event_source_set_time(f->escape_timer, t + ESCAPE_USEC) < 0 ||
                            event_source_set_enabled(f->escape_timer, EVENT_ONESHOT) < 0)
                                log_debug("Failed to arm the escape timer.");
                }
                if (++f->n_escape >= ESCAPE_COUNT) {
                        f->n_escape = 0;
                        escape_timer_disarm(f);
                        escaped = true;
                }
        }
        return escaped;
}

static void input_finish(PtyForward *f) {
        f->input.done = true;
        f->input.ready = false;
        f->input.source = event_source_free(f->input.source);
        escape_release(f);
        /* A program reading the console waits for EOF as it would from a pipe (`echo x |
         * berth-spawn -- cat`). A terminal going away is a hangup, not an end of input. */
        f->eof_pending = !f->input.is_tty;
}

static bool step_read_input(PtyForward *f, bool *escaped) {
        char buf[IN_BUFFER_SIZE];
        size_t room = IN_BUFFER_SIZE - f->in_len;
        ssize_t k;

        if (!f->input.ready || f->input.done || room < ESCAPE_COUNT + 1)
                return false;

        k = read(f->input.fd, buf, room - ESCAPE_COUNT);
        if (k < 0) {
                if (errno == EINTR)
                        return true;
                if (errno == EAGAIN) {
                        f->input.ready = false;
                        return false;
                }
                log_debug_errno(negative_errno(), "Reading stdin failed, not relaying it any more: %m");
                input_finish(f);
                return true;
        }
        if (k == 0) {
                input_finish(f);
                return true;
        }
        if (input_feed(f, buf, (size_t) k))
                *escaped = true;
        return true;
}

/* Ends the input as a terminal user would with ^D: once on an empty line, twice after a partial
 * one (the first only hands the partial line to the reader). Only a canonical-mode reader knows
 * EOF at all. */
static void queue_eof(PtyForward *f) {
        struct termios t;

        f->eof_pending = false;
        if (tcgetattr(f->master, &t) < 0 || !(t.c_lflag & ICANON) || t.c_cc[VEOF] == _POSIX_VDISABLE)
                return;
        f->in_buf[f->in_len++] = (char) t.c_cc[VEOF];
        if (f->last_forwarded >= 0 && f->last_forwarded != '\n')
                f->in_buf[f->in_len++] = (char) t.c_cc[VEOF];
}

static bool step_write_master(PtyForward *f) {
        ssize_t k;

        if (!f->master_writable)
                return false;
        if (f->in_len == 0 && f->eof_pending && f->n_escape == 0)
                queue_eof(f);
        if (f->in_len == 0)
                return false;

        k = write(f->master, f->in_buf, f->in_len);
        if (k < 0) {
                if (errno == EINTR)
                        return true;
                /* EIO: no slave is open right now. The next event on the master tells us when the
                 * container has it open again; the input waits in the buffer until then. */
                if (errno == EAGAIN || errno == EIO) {
                        f->master_writable = false;
                        return false;
                }
                log_debug_errno(negative_errno(), "Writing to the console pty failed, dropping input: %m");
                f->in_len = 0;
                return true;
        }
        if (k == 0) {
                f->master_writable = false;
                return false;
        }
        f->last_forwarded = (unsigned char) f->in_buf[k - 1];
        memmove(f->in_buf, f->in_buf + k, f->in_len - (size_t) k);
        f->in_len -= (size_t) k;
        return true;
}

static bool output_discarded(PtyForward *f) {
        return f->mode == CONSOLE_PASSIVE || f->output.done;
}

static bool step_read_master(PtyForward *f) {
        size_t room = OUT_BUFFER_SIZE - f->out_len;
        ssize_t k;

        if (!f->master_readable || room == 0)
                return false;

        k = read(f->master, f->out_buf + f->out_len, room);
        if (k < 0) {
                if (errno == EINTR)
                        return true;
                /* EIO means every slave fd is closed (the container exited, or its init hung up
                 * the console to reopen it). The fd is watched edge-triggered, so a hung-up master
                 * does not spin, and we hear from it again when the slave is reopened and
                 * written to. */
                if (errno != EAGAIN && errno != EIO)
                        log_debug_errno(negative_errno(), "Reading the console pty failed: %m");
                f->master_readable = false;
                return false;
        }
        if (k == 0) {
                f->master_readable = false;
                return false;
        }
        if (!output_discarded(f))
                f->out_len += (size_t) k;
        return true;
}

static void output_finish(PtyForward *f) {
        f->output.done = true;
        f->output.ready = false;
        f->output.source = event_source_free(f->output.source);
        f->out_len = 0;
}

static bool step_write_output(PtyForward *f) {
        ssize_t k;

        if (!f->output.ready || f->output.done || f->out_len == 0)
                return false;

        k = write(f->output.fd, f->out_buf, f->out_len);
        if (k < 0) {
                if (errno == EINTR)
                        return true;
                if (errno == EAGAIN) {
                        f->output.ready = false;
                        return false;
                }
                /* Keep reading the pty and drop what comes, or the container would block on a
                 * full console. */
                log_debug_errno(negative_errno(), "Writing stdout failed, dropping console output: %m");
                output_finish(f);
                return true;
        }
        if (k == 0) {
                f->output.ready = false;
                return false;
        }
        memmove(f->out_buf, f->out_buf + k, f->out_len - (size_t) k);
        f->out_len -= (size_t) k;
        return true;
}

/* Moves bytes until every direction is blocked on EAGAIN or a full buffer. All fds are
 * edge-triggered (or, for files, always ready), so each step must run until it stops. */
static void shovel(PtyForward *f) {
        bool escaped = false, progress;

        if (f->stopped)
                return;

        do {
                progress = false;
                progress |= step_read_input(f, &escaped);
                progress |= step_write_master(f);
                progress |= step_read_master(f);
                progress |= step_write_output(f);
        } while (progress);

        if (escaped && f->on_escape)
                f->on_escape(f->userdata);
}

static int on_master(EventSource *s, int fd, uint32_t revents, void *userdata) {
        PtyForward *f = userdata;

        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
                f->master_readable = true;
        if (revents & (EPOLLOUT | EPOLLHUP | EPOLLERR))
                f->master_writable = true;
        shovel(f);
        return 0;
}

static int on_input(EventSource *s, int fd, uint32_t revents, void *userdata) {
        PtyForward *f = userdata;

        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
                f->input.ready = true;
        shovel(f);
        return 0;
}

static int on_output(EventSource *s, int fd, uint32_t revents, void *userdata) {
        PtyForward *f = userdata;

        if (revents & (EPOLLOUT | EPOLLHUP | EPOLLERR))
                f->output.ready = true;
        shovel(f);
        return 0;
}

static int on_escape_timeout(EventSource *s, uint64_t usec, void *userdata) {
        PtyForward *f = userdata;

        escape_release(f);
        shovel(f);
        return 0;
}

static int on_kick(EventSource *s, void *userdata) {
        shovel(userdata);
        return 0;
}

static void forward_winsize(PtyForward *f) {
        struct winsize ws;

        if (f->winsize_fd >= 0 && ioctl(f->winsize_fd, TIOCGWINSZ, &ws) >= 0)
                (void) ioctl(f->master, TIOCSWINSZ, &ws);
}

static void initial_winsize(PtyForward *f) {
        struct winsize ws;

        if (f->winsize_fd >= 0 && ioctl(f->winsize_fd, TIOCGWINSZ, &ws) >= 0) {
                (void) ioctl(f->master, TIOCSWINSZ, &ws);
                return;
        }

        /* No terminal to follow: what the environment says, else the classic size, so that
         * programs inside do not see 0x0. */
        const char *l = getenv("LINES"), *c = getenv("COLUMNS");
        long rows = l ? strtol(l, NULL, 10) : 0, cols = c ? strtol(c, NULL, 10) : 0;
        ws = (struct winsize) {
                .ws_row = rows > 0 && rows <= USHRT_MAX ? (unsigned short) rows : 24,
                .ws_col = cols > 0 && cols <= USHRT_MAX ? (unsigned short) cols : 80,
        };
        (void) ioctl(f->master, TIOCSWINSZ, &ws);
}

static int on_sigwinch(EventSource *s, const struct signalfd_siginfo *si, void *userdata) {
        forward_winsize(userdata);
        return 0;
}

/* SIGWINCH must be blocked for the event loop to read it from a signalfd; SIGPIPE must not kill us
 * with the terminal still raw when stdout is a closed pipe. Both are put back at free. */
static int signals_setup(PtyForward *f) {
        struct sigaction sa;
        sigset_t ss, old;
        int r;

        if (f->mode != CONSOLE_PASSIVE && sigaction(SIGPIPE, NULL, &sa) >= 0 &&
            !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL) {
                sa.sa_handler = SIG_IGN;
                if (sigaction(SIGPIPE, &sa, NULL) >= 0)
                        f->restore_sigpipe = true;
        }

        if (f->winsize_fd < 0)
                return 0;
        sigemptyset(&ss);
        sigaddset(&ss, SIGWINCH);
        if (sigprocmask(SIG_BLOCK, &ss, &old) < 0)
                return negative_errno();
        f->unblock_sigwinch = !sigismember(&old, SIGWINCH);

        r = event_add_signal(f->event, &f->sigwinch_source, SIGWINCH, on_sigwinch, f);
        if (r < 0)
                return r;
        return 0;
}

static int endpoint_watch(PtyForward *f, Endpoint *ep, uint32_t events, event_io_handler_t handler) {
        int r;

        r = event_add_io(f->event, &ep->source, ep->fd, events | EPOLLET, handler, f);
        if (r == -EPERM) {
                /* Regular files and /dev/null cannot be polled; they are always ready. */
                ep->ready = true;
                return 0;
        }
        if (r < 0)
                return r;
        return 0;
}

static int sources_setup(PtyForward *f) {
        uint32_t events = EPOLLIN;
        int r;

        if (f->input.fd >= 0) {
                events |= EPOLLOUT;
                r = endpoint_watch(f, &f->input, EPOLLIN, on_input);
                if (r < 0)
                        return r;

                r = event_add_time(f->event, &f->escape_timer, 0, on_escape_timeout, f);
                if (r < 0)
                        return r;
                (void) event_source_set_enabled(f->escape_timer, EVENT_OFF);
        }
        if (f->mode != CONSOLE_PASSIVE) {
                r = endpoint_watch(f, &f->output, EPOLLOUT, on_output);
                if (r < 0)
                        return r;
        }

        r = event_add_io(f->event, &f->master_source, f->master, events | EPOLLET, on_master, f);
        if (r < 0)
                return r;

        /* Files are "always ready" and produce no events: start once by hand. */
        r = event_add_defer(f->event, &f->kick_source, on_kick, f);
        if (r < 0)
                return r;
        return 0;
}

/* A background job that touches its controlling terminal's settings or reads from it gets
 * stopped by SIGTTOU/SIGTTIN: `timeout CMD` and `CMD &` run us like that. Such a job relays
 * output only and leaves the terminal to whoever is in the foreground. */
static bool in_background(int fd) {
        pid_t fg = tcgetpgrp(fd);

        /* Not a tty, or not our controlling one (ENOTTY): no job control applies. */
        if (fg < 0 || fg == getpgrp())
                return false;
        log_notice("Not in the terminal's foreground process group: not reading from it.");
        return true;
}

int pty_forward_new_full(EventLoop *e, int master, int input_fd, int output_fd, ConsoleMode mode,
                         void (*on_escape)(void *userdata), void *userdata, PtyForward **ret) {
        _cleanup_(pty_forward_freep) PtyForward *f = NULL;
        int r;

        if (!e || master < 0 || !ret)
                return -EINVAL;
        if (mode < 0 || mode >= CONSOLE_PIPE)  /* pipe mode has no pty to relay */
                return -EINVAL;

        f = malloc(sizeof(*f));
        if (!f)
                return -ENOMEM;
        *f = (PtyForward) {
                .event = e,
                .mode = mode,
                .master = master,
                .winsize_fd = -1,
                .last_forwarded = -1,
                .on_escape = on_escape,
                .userdata = userdata,
        };
        endpoint_init(&f->input);
        endpoint_init(&f->output);

        r = fd_set_nonblock(master, true);
        if (r < 0)
                return r;

        if (mode == CONSOLE_INTERACTIVE && !in_background(input_fd)) {
                r = endpoint_open(&f->input, input_fd, false);
                if (r < 0)
                        return r;
        }
        if (mode != CONSOLE_PASSIVE) {
                r = endpoint_open(&f->output, output_fd, true);
                if (r < 0)
                        return r;
                f->winsize_fd = f->output.is_tty ? f->output.fd :
                                f->input.is_tty ? f->input.fd : -1;
        }
        if (mode == CONSOLE_INTERACTIVE && f->input.is_tty) {
                r = terminal_make_raw(f);
                if (r < 0)
                        return r;
        }

        initial_winsize(f);
        r = signals_setup(f);
        if (r < 0)
                return r;
        r = sources_setup(f);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(f);
        return 0;
}

int pty_forward_new(EventLoop *e, int master, ConsoleMode mode,
                    void (*on_escape)(void *userdata), void *userdata, PtyForward **ret) {
        return pty_forward_new_full(e, master, STDIN_FILENO, STDOUT_FILENO, mode,
                                    on_escape, userdata, ret);
}

static void pty_forward_stop(PtyForward *f) {
        f->stopped = true;
        f->input.source = event_source_free(f->input.source);
        f->output.source = event_source_free(f->output.source);
        f->master_source = event_source_free(f->master_source);
        f->sigwinch_source = event_source_free(f->sigwinch_source);
        f->escape_timer = event_source_free(f->escape_timer);
        f->kick_source = event_source_free(f->kick_source);
}

/* Waits until the output can take more, up to DEADLINE. Returns false on timeout. */
static bool output_wait(PtyForward *f, uint64_t deadline) {
        struct pollfd p = { .fd = f->output.fd, .events = POLLOUT };
        uint64_t t = now_usec();

        if (t >= deadline)
                return false;
        (void) poll(&p, 1, (int) ((deadline - t + USEC_PER_MSEC - 1) / USEC_PER_MSEC));
        return true;
}

int pty_forward_drain(PtyForward *f) {
        uint64_t deadline = now_usec() + DRAIN_IDLE_USEC;
        size_t total = 0;

        if (!f)
                return 0;

        /* The container is gone: input has nowhere to go, and we do not want events any more. */
        pty_forward_stop(f);
        f->in_len = 0;
        f->n_escape = 0;

        for (;;) {
                ssize_t k;

                if (f->out_len > 0 && !f->output.done) {
                        k = write(f->output.fd, f->out_buf, f->out_len);
                        if (k > 0) {
                                memmove(f->out_buf, f->out_buf + k, f->out_len - (size_t) k);
                                f->out_len -= (size_t) k;
                                deadline = now_usec() + DRAIN_IDLE_USEC;
                        } else if (k < 0 && errno == EAGAIN) {
                                if (!output_wait(f, deadline))
                                        return -ETIMEDOUT;
                        } else if (k < 0 && errno != EINTR) {
                                log_debug_errno(negative_errno(), "Writing stdout failed: %m");
                                output_finish(f);
                        }
                        continue;
                }

                if (total >= DRAIN_MAX_BYTES)
                        return 0;
                k = read(f->master, f->out_buf + f->out_len, OUT_BUFFER_SIZE - f->out_len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)      /* EAGAIN: nothing more; EIO: the slave is closed and empty */
                        return 0;
                total += (size_t) k;
                if (!output_discarded(f))
                        f->out_len += (size_t) k;
        }
}

PtyForward *pty_forward_free(PtyForward *f) {
        if (!f)
                return NULL;

        pty_forward_stop(f);
        endpoint_done(&f->output);
        endpoint_done(&f->input);

        if (f->unblock_sigwinch) {
                sigset_t ss;

                sigemptyset(&ss);
                sigaddset(&ss, SIGWINCH);
                (void) sigprocmask(SIG_UNBLOCK, &ss, NULL);
        }
        if (f->restore_sigpipe) {
                struct sigaction sa;

                /* Only if nobody changed it meanwhile. */
                if (sigaction(SIGPIPE, NULL, &sa) >= 0 && !(sa.sa_flags & SA_SIGINFO) &&
                    sa.sa_handler == SIG_IGN) {
                        sa.sa_handler = SIG_DFL;
                        (void) sigaction(SIGPIPE, &sa, NULL);
                }
        }

        /* The loop is the caller's; we only borrowed it. */
        free(f);
        return NULL;
}
