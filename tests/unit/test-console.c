/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the console pty and its forwarder, with pipes and a second pty as "our" terminal. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "console.h"
/* After our macro.h: GLib redefines MIN/MAX cleanly, the other way round does not. */
#include <glib.h>

#define MSEC 1000ULL
#define SEC (1000 * MSEC)

typedef struct Fixture {
        EventLoop *event;
        int master;
        char *slave_path;
        int slave;       /* the container's side */
        int in[2];       /* [1] is what the user types into, [0] the forwarder's stdin */
        int out[2];      /* [1] the forwarder's stdout, [0] what the user sees */
        PtyForward *forward;
        unsigned escapes;
} Fixture;

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * SEC + (uint64_t) ts.tv_nsec / 1000;
}

static void on_escape(void *userdata) {
        Fixture *x = userdata;

        x->escapes++;
}

static void set_nonblock(int fd) {
        int flags = fcntl(fd, F_GETFL);

        g_assert_cmpint(flags, >=, 0);
        g_assert_cmpint(fcntl(fd, F_SETFL, flags | O_NONBLOCK), ==, 0);
}

static void make_raw(int fd) {
        struct termios t;

        g_assert_cmpint(tcgetattr(fd, &t), ==, 0);
        cfmakeraw(&t);
        g_assert_cmpint(tcsetattr(fd, TCSANOW, &t), ==, 0);
}

static void open_slave(Fixture *x) {
        x->slave = open(x->slave_path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        g_assert_cmpint(x->slave, >=, 0);
}

/* A pty as berth-spawn makes it, its slave opened as the container would, and pipes as our
 * stdin and stdout. */
static void fixture_init(Fixture *x) {
        *x = (Fixture) { .master = -1, .slave = -1, .in = { -1, -1 }, .out = { -1, -1 } };
}

static void fixture_setup(Fixture *x, ConsoleMode mode, bool raw_slave) {
        fixture_init(x);

        g_assert_cmpint(event_new(&x->event), ==, 0);
        g_assert_cmpint(console_open_pty(&x->master, &x->slave_path), ==, 0);
        open_slave(x);
        if (raw_slave)
                make_raw(x->slave);
        g_assert_cmpint(pipe2(x->in, O_CLOEXEC), ==, 0);
        g_assert_cmpint(pipe2(x->out, O_CLOEXEC), ==, 0);
        set_nonblock(x->out[0]);
        g_assert_cmpint(pty_forward_new_full(x->event, x->master, x->in[0], x->out[1], mode,
                                             on_escape, x, &x->forward), ==, 0);
}

static void close_fd(int *fd) {
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

static void fixture_teardown(Fixture *x) {
        x->forward = pty_forward_free(x->forward);
        close_fd(&x->slave);
        close_fd(&x->master);
        for (int i = 0; i < 2; i++) {
                close_fd(&x->in[i]);
                close_fd(&x->out[i]);
        }
        free(x->slave_path);
        x->event = event_free(x->event);
}

static void run_loop(Fixture *x, uint64_t usec) {
        uint64_t deadline = now_usec() + usec;

        for (uint64_t t = now_usec(); t < deadline; t = now_usec())
                g_assert_cmpint(event_run(x->event, deadline - t), >=, 0);
}

/* Counts dispatches during USEC: a forwarder with nothing to do must sleep. */
static unsigned count_wakeups(Fixture *x, uint64_t usec) {
        uint64_t deadline = now_usec() + usec;
        unsigned n = 0;

        for (uint64_t t = now_usec(); t < deadline; t = now_usec()) {
                int r = event_run(x->event, deadline - t);

                g_assert_cmpint(r, >=, 0);
                if (r > 0)
                        n++;
        }
        return n;
}

/* Appends whatever FD has to BUF without blocking. Returns false once it reads EOF or EIO. */
static bool slurp(int fd, GString *buf) {
        char tmp[4096];

        for (;;) {
                ssize_t k = read(fd, tmp, sizeof(tmp));

                if (k > 0) {
                        g_string_append_len(buf, tmp, k);
                        continue;
                }
                if (k == 0 || errno == EIO)
                        return false;
                g_assert_cmpint(errno, ==, EAGAIN);
                return true;
        }
}

/* Runs the loop until FD has produced WANT bytes (or more), or TIMEOUT passed. */
static GString *collect(Fixture *x, int fd, size_t want, uint64_t timeout) {
        GString *buf = g_string_new(NULL);
        uint64_t deadline = now_usec() + timeout;

        while (buf->len < want && now_usec() < deadline) {
                if (!slurp(fd, buf))
                        break;
                if (buf->len >= want)
                        break;
                g_assert_cmpint(event_run(x->event, 10 * MSEC), >=, 0);
        }
        return buf;
}

static void write_all(int fd, const char *s, size_t n) {
        g_assert_cmpint(write(fd, s, n), ==, (ssize_t) n);
}

static void test_open_pty(void) {
        char *path = NULL;
        int master = -1, slave, flags;

        g_assert_cmpint(console_open_pty(&master, &path), ==, 0);
        g_assert_true(g_str_has_prefix(path, "/dev/pts/"));
        flags = fcntl(master, F_GETFL);
        g_assert_true(flags & O_NONBLOCK);
        g_assert_true(fcntl(master, F_GETFD) & FD_CLOEXEC);
        g_assert_cmpstr(ptsname(master), ==, path);

        slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
        g_assert_cmpint(slave, >=, 0);
        g_assert_true(isatty(slave));
        /* Each call gives a new pair. */
        {
                char *path2 = NULL;
                int master2 = -1;

                g_assert_cmpint(console_open_pty(&master2, &path2), ==, 0);
                g_assert_cmpstr(path2, !=, path);
                close(master2);
                free(path2);
        }
        close(slave);
        close(master);
        free(path);
}

static void test_output(void) {
        Fixture x;
        GString *got;

        fixture_setup(&x, CONSOLE_INTERACTIVE, false);
        write_all(x.slave, "hello\n", 6);
        got = collect(&x, x.out[0], 7, 5 * SEC);
        /* The container's pty does the \n → \r\n itself; we pass bytes unchanged. */
        g_assert_cmpstr(got->str, ==, "hello\r\n");
        g_string_free(got, TRUE);
        fixture_teardown(&x);
}

static void test_input(void) {
        Fixture x;
        GString *got;

        fixture_setup(&x, CONSOLE_INTERACTIVE, true);
        write_all(x.in[1], "abc\x03", 4);
        got = collect(&x, x.slave, 4, 5 * SEC);
        g_assert_cmpstr(got->str, ==, "abc\x03");
        g_assert_cmpuint(x.escapes, ==, 0);
        g_string_free(got, TRUE);
        fixture_teardown(&x);
}

static void test_escape(void) {
        Fixture x;
        GString *got;

        fixture_setup(&x, CONSOLE_INTERACTIVE, true);
        write_all(x.in[1], "\x1d\x1d\x1d", 3);
        run_loop(&x, 100 * MSEC);
        g_assert_cmpuint(x.escapes, ==, 1);

        /* Nothing of it reaches the container, not even after the escape window. */
        run_loop(&x, 1200 * MSEC);
        got = g_string_new(NULL);
        g_assert_true(slurp(x.slave, got));
        g_assert_cmpuint(got->len, ==, 0);
        g_string_free(got, TRUE);

        write_all(x.in[1], "x", 1);
        got = collect(&x, x.slave, 1, 5 * SEC);
        g_assert_cmpstr(got->str, ==, "x");
        g_assert_cmpuint(x.escapes, ==, 1);
        g_string_free(got, TRUE);
        fixture_teardown(&x);
}

static void test_escape_typed(void) {
        Fixture x;
        GString *got;

        /* Typed one key at a time, as a person does. */
        fixture_setup(&x, CONSOLE_INTERACTIVE, true);
        for (int i = 0; i < 3; i++) {
                write_all(x.in[1], "\x1d", 1);
                run_loop(&x, 200 * MSEC);
        }
        g_assert_cmpuint(x.escapes, ==, 1);
        got = g_string_new(NULL);
        g_assert_true(slurp(x.slave, got));
        g_assert_cmpuint(got->len, ==, 0);
        g_string_free(got, TRUE);
        fixture_teardown(&x);
}

static void test_escape_too_slow(void) {
        Fixture x;
        GString *got;

        fixture_setup(&x, CONSOLE_INTERACTIVE, true);
        write_all(x.in[1], "\x1d\x1d", 2);
        /* Held back while they may still become the escape... */
        run_loop(&x, 300 * MSEC);
        got = g_string_new(NULL);
        g_assert_true(slurp(x.slave, got));
        g_assert_cmpuint(got->len, ==, 0);
        g_string_free(got, TRUE);

        /* ... and forwarded once the second has passed. */
        got = collect(&x, x.slave, 2, 3 * SEC);
        g_assert_cmpstr(got->str, ==, "\x1d\x1d");
        g_string_free(got, TRUE);

        /* A third one now starts a new count: no escape. */
        write_all(x.in[1], "\x1d", 1);
        run_loop(&x, 1200 * MSEC);
        g_assert_cmpuint(x.escapes, ==, 0);
        got = collect(&x, x.slave, 1, 3 * SEC);
        g_assert_cmpstr(got->str, ==, "\x1d");
        g_string_free(got, TRUE);
        fixture_teardown(&x);
}

static void test_escape_interrupted(void) {
        Fixture x;
        GString *got;

        /* Another key in between: the ^] are ordinary input, forwarded in order, at once. */
        fixture_setup(&x, CONSOLE_INTERACTIVE, true);
        write_all(x.in[1], "\x1d\x1d" "a\x1d", 4);
        got = collect(&x, x.slave, 3, 500 * MSEC);
        g_assert_cmpstr(got->str, ==, "\x1d\x1d" "a");
        g_string_free(got, TRUE);
        write_all(x.in[1], "\x1d\x1d", 2);
        run_loop(&x, 100 * MSEC);
        /* a ^] followed later by two more, all within a second */
        g_assert_cmpuint(x.escapes, ==, 1);
        fixture_teardown(&x);
}

static void test_read_only(void) {
        Fixture x;
        GString *got;
        char buf[16];

        fixture_setup(&x, CONSOLE_READ_ONLY, true);
        write_all(x.in[1], "xyz\x1d\x1d\x1d", 6);
        write_all(x.slave, "out", 3);
        got = collect(&x, x.out[0], 3, 5 * SEC);
        g_assert_cmpstr(got->str, ==, "out");
        g_string_free(got, TRUE);
        run_loop(&x, 100 * MSEC);

        got = g_string_new(NULL);
        g_assert_true(slurp(x.slave, got));
        g_assert_cmpuint(got->len, ==, 0);
        g_string_free(got, TRUE);
        g_assert_cmpuint(x.escapes, ==, 0);
        /* stdin was not even read. */
        g_assert_cmpint(read(x.in[0], buf, sizeof(buf)), ==, 6);
        g_assert_cmpmem(buf, 6, "xyz\x1d\x1d\x1d", 6);
        fixture_teardown(&x);
}

static void test_passive(void) {
        char chunk[4096];
        size_t written = 0;
        uint64_t deadline;
        Fixture x;
        GString *got;

        /* Much more than a pty buffers: a passive console must not stall the container. */
        fixture_setup(&x, CONSOLE_PASSIVE, true);
        memset(chunk, 'p', sizeof(chunk));
        deadline = now_usec() + 10 * SEC;
        while (written < 256 * 1024 && now_usec() < deadline) {
                ssize_t k = write(x.slave, chunk, sizeof(chunk));

                if (k > 0)
                        written += (size_t) k;
                else
                        g_assert_cmpint(event_run(x.event, 10 * MSEC), >=, 0);
        }
        g_assert_cmpuint(written, >=, 256 * 1024);

        write_all(x.in[1], "in", 2);
        run_loop(&x, 100 * MSEC);
        got = g_string_new(NULL);
        g_assert_true(slurp(x.out[0], got));
        g_assert_cmpuint(got->len, ==, 0);
        g_assert_true(slurp(x.slave, got));
        g_assert_cmpuint(got->len, ==, 0);
        g_string_free(got, TRUE);
        g_assert_cmpint(pty_forward_drain(x.forward), ==, 0);
        fixture_teardown(&x);
}

static void fill_pattern(char *buf, size_t n, size_t offset) {
        for (size_t i = 0; i < n; i++)
                buf[i] = (char) ('A' + (offset + i) % 23);
}

static void test_drain_after_exit(void) {
        char data[8000];
        uint64_t t;
        Fixture x;
        GString *got;

        /* The container wrote and exited; the loop never ran since. */
        fixture_setup(&x, CONSOLE_INTERACTIVE, true);
        fill_pattern(data, sizeof(data), 0);
        write_all(x.slave, data, sizeof(data));
        close_fd(&x.slave);

        t = now_usec();
        g_assert_cmpint(pty_forward_drain(x.forward), ==, 0);
        g_assert_cmpuint(now_usec() - t, <, 1 * SEC);
        got = g_string_new(NULL);
        slurp(x.out[0], got);
        g_assert_cmpmem(got->str, got->len, data, sizeof(data));
        g_string_free(got, TRUE);
        fixture_teardown(&x);
}

static void test_drain_nothing(void) {
        uint64_t t;
        Fixture x;

        /* The slave is still open and silent: drain returns at once. */
        fixture_setup(&x, CONSOLE_INTERACTIVE, true);
        t = now_usec();
        g_assert_cmpint(pty_forward_drain(x.forward), ==, 0);
        g_assert_cmpuint(now_usec() - t, <, 500 * MSEC);
        fixture_teardown(&x);
}

static void test_drain_stuck_output(void) {
        char junk[4096] = {};
        uint64_t t;
        Fixture x;
        int r;

        /* Nobody reads our stdout: drain must give up instead of hanging. */
        fixture_setup(&x, CONSOLE_INTERACTIVE, true);
        set_nonblock(x.out[1]);
        while (write(x.out[1], junk, sizeof(junk)) > 0)
                ;
        write_all(x.slave, "late", 4);
        close_fd(&x.slave);
        t = now_usec();
        r = pty_forward_drain(x.forward);
        g_assert_cmpint(r, ==, -ETIMEDOUT);
        g_assert_cmpuint(now_usec() - t, <, 10 * SEC);
        fixture_teardown(&x);
}

static void test_slow_reader(void) {
        const size_t total = 512 * 1024;
        size_t written = 0;
        char chunk[3000];
        uint64_t deadline;
        unsigned wakeups;
        Fixture x;
        GString *got;

        /* A stdout that stalls: the forwarder buffers, sleeps, loses nothing, keeps order. */
        fixture_setup(&x, CONSOLE_INTERACTIVE, true);
        deadline = now_usec() + 3 * SEC;
        while (now_usec() < deadline) {
                ssize_t k;

                fill_pattern(chunk, sizeof(chunk), written);
                k = write(x.slave, chunk, sizeof(chunk));
                if (k > 0)
                        written += (size_t) k;
                else if (event_run(x.event, 50 * MSEC) == 0)
                        break; /* pipe, our buffer and the pty are full */
        }
        g_assert_cmpuint(written, <, total);
        wakeups = count_wakeups(&x, 500 * MSEC);
        g_assert_cmpuint(wakeups, <=, 2);

        got = g_string_new(NULL);
        deadline = now_usec() + 20 * SEC;
        while ((written < total || got->len < written) && now_usec() < deadline) {
                if (written < total) {
                        size_t n = MIN(sizeof(chunk), total - written);
                        ssize_t k;

                        fill_pattern(chunk, n, written);
                        k = write(x.slave, chunk, n);
                        if (k > 0)
                                written += (size_t) k;
                }
                slurp(x.out[0], got);
                g_assert_cmpint(event_run(x.event, 5 * MSEC), >=, 0);
        }
        g_assert_cmpuint(got->len, ==, total);
        for (size_t i = 0; i < total; i += sizeof(chunk)) {
                size_t n = MIN(sizeof(chunk), total - i);

                fill_pattern(chunk, n, i);
                g_assert_cmpmem(got->str + i, n, chunk, n);
        }
        g_string_free(got, TRUE);
        fixture_teardown(&x);
}

static void test_hangup(void) {
        Fixture x;
        GString *got;

        fixture_setup(&x, CONSOLE_INTERACTIVE, true);
        write_all(x.slave, "bye", 3);
        close_fd(&x.slave);
        got = collect(&x, x.out[0], 3, 5 * SEC);
        g_assert_cmpstr(got->str, ==, "bye");
        g_string_free(got, TRUE);

        /* A hung-up master must not wake the loop over and over, input or not. */
        g_assert_cmpuint(count_wakeups(&x, 500 * MSEC), <=, 2);
        write_all(x.in[1], "typed", 5);
        g_assert_cmpuint(count_wakeups(&x, 500 * MSEC), <=, 3);

        /* The container's init may close and reopen the console: relaying resumes. */
        open_slave(&x);
        make_raw(x.slave);
        write_all(x.slave, "again", 5);
        got = collect(&x, x.out[0], 5, 5 * SEC);
        g_assert_cmpstr(got->str, ==, "again");
        g_string_free(got, TRUE);
        got = collect(&x, x.slave, 5, 5 * SEC);
        g_assert_cmpstr(got->str, ==, "typed");
        g_string_free(got, TRUE);
        fixture_teardown(&x);
}

static void test_stdin_eof(void) {
        Fixture x;
        GString *got;
        uint64_t deadline;
        char buf[64];
        ssize_t k;

        /* A canonical-mode reader gets the partial line and then EOF, as from `echo -n abc |`. */
        fixture_setup(&x, CONSOLE_INTERACTIVE, false);
        write_all(x.in[1], "abc", 3);
        close_fd(&x.in[1]);
        got = g_string_new(NULL);
        deadline = now_usec() + 5 * SEC;
        for (;;) {
                k = read(x.slave, buf, sizeof(buf));
                if (k > 0) {
                        g_string_append_len(got, buf, k);
                        continue;
                }
                if (k == 0 || now_usec() > deadline)
                        break;
                g_assert_cmpint(errno, ==, EAGAIN);
                g_assert_cmpint(event_run(x.event, 10 * MSEC), >=, 0);
        }
        g_assert_cmpstr(got->str, ==, "abc");
        g_assert_cmpint(k, ==, 0);
        g_string_free(got, TRUE);

        /* Output still flows. */
        write_all(x.slave, "still", 5);
        got = collect(&x, x.out[0], 5, 5 * SEC);
        g_assert_nonnull(strstr(got->str, "still"));
        g_string_free(got, TRUE);
        fixture_teardown(&x);
}

static void test_broken_stdout(void) {
        char chunk[4096];
        size_t written = 0;
        uint64_t deadline;
        Fixture x;

        /* stdout's reader went away: no SIGPIPE death, and the container is not blocked. */
        fixture_setup(&x, CONSOLE_INTERACTIVE, true);
        close_fd(&x.out[0]);
        memset(chunk, 'b', sizeof(chunk));
        deadline = now_usec() + 10 * SEC;
        while (written < 128 * 1024 && now_usec() < deadline) {
                ssize_t k = write(x.slave, chunk, sizeof(chunk));

                if (k > 0)
                        written += (size_t) k;
                else
                        g_assert_cmpint(event_run(x.event, 10 * MSEC), >=, 0);
        }
        g_assert_cmpuint(written, >=, 128 * 1024);
        fixture_teardown(&x);
}

static void test_file_output(void) {
        char path[] = "/tmp/test-console-XXXXXX";
        int fd, devnull;
        char buf[64] = {};
        EventLoop *e = NULL;
        PtyForward *f = NULL;
        int master = -1, slave;
        char *slave_path = NULL;

        /* A regular file as stdout and /dev/null as stdin cannot be polled: still works. */
        fd = mkstemp(path);
        g_assert_cmpint(fd, >=, 0);
        unlink(path);
        devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        g_assert_cmpint(event_new(&e), ==, 0);
        g_assert_cmpint(console_open_pty(&master, &slave_path), ==, 0);
        slave = open(slave_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
        g_assert_cmpint(pty_forward_new_full(e, master, devnull, fd, CONSOLE_INTERACTIVE,
                                             NULL, NULL, &f), ==, 0);
        write_all(slave, "to-file\n", 8);
        for (int i = 0; i < 50 && lseek(fd, 0, SEEK_CUR) < 9; i++)
                g_assert_cmpint(event_run(e, 10 * MSEC), >=, 0);
        g_assert_cmpint(pread(fd, buf, sizeof(buf) - 1, 0), ==, 9);
        g_assert_cmpstr(buf, ==, "to-file\r\n");
        g_assert_cmpint(fcntl(devnull, F_GETFL) & O_NONBLOCK, ==, 0);
        f = pty_forward_free(f);
        g_assert_cmpint(fcntl(devnull, F_GETFL) & O_NONBLOCK, ==, 0);
        close(slave);
        close(master);
        close(devnull);
        close(fd);
        free(slave_path);
        event_free(e);
}

static bool sigwinch_blocked(void) {
        sigset_t ss;

        g_assert_cmpint(sigprocmask(SIG_SETMASK, NULL, &ss), ==, 0);
        return sigismember(&ss, SIGWINCH);
}

static void assert_termios_equal(const struct termios *a, const struct termios *b) {
        g_assert_cmphex(a->c_iflag, ==, b->c_iflag);
        g_assert_cmphex(a->c_oflag, ==, b->c_oflag);
        g_assert_cmphex(a->c_cflag, ==, b->c_cflag);
        g_assert_cmphex(a->c_lflag, ==, b->c_lflag);
        g_assert_cmpmem(a->c_cc, sizeof(a->c_cc), b->c_cc, sizeof(b->c_cc));
        g_assert_cmpuint(cfgetispeed(a), ==, cfgetispeed(b));
        g_assert_cmpuint(cfgetospeed(a), ==, cfgetospeed(b));
}

static void test_terminal(void) {
        struct winsize ws = { .ws_row = 33, .ws_col = 101 };
        struct termios before, during, after;
        char *term_path = NULL;
        int term_master = -1, term;
        Fixture x;
        GString *got;

        fixture_init(&x);
        /* A second pty plays the user's terminal, as stdin and stdout at once. */
        g_assert_cmpint(console_open_pty(&term_master, &term_path), ==, 0);
        term = open(term_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
        g_assert_cmpint(term, >=, 0);
        g_assert_cmpint(ioctl(term, TIOCSWINSZ, &ws), ==, 0);
        g_assert_cmpint(tcgetattr(term, &before), ==, 0);
        g_assert_true(before.c_lflag & ICANON);
        g_assert_false(sigwinch_blocked());

        g_assert_cmpint(event_new(&x.event), ==, 0);
        g_assert_cmpint(console_open_pty(&x.master, &x.slave_path), ==, 0);
        open_slave(&x);
        make_raw(x.slave);
        g_assert_cmpint(pty_forward_new_full(x.event, x.master, term, term, CONSOLE_INTERACTIVE,
                                             on_escape, &x, &x.forward), ==, 0);

        g_assert_cmpint(tcgetattr(term, &during), ==, 0);
        g_assert_false(during.c_lflag & (ICANON | ECHO | ISIG));
        g_assert_false(during.c_oflag & OPOST);
        g_assert_cmpint(fcntl(term, F_GETFL) & O_NONBLOCK, ==, 0);
        g_assert_true(sigwinch_blocked());

        /* The container's pty has our size, and follows it. */
        memset(&ws, 0, sizeof(ws));
        g_assert_cmpint(ioctl(x.slave, TIOCGWINSZ, &ws), ==, 0);
        g_assert_cmpuint(ws.ws_row, ==, 33);
        g_assert_cmpuint(ws.ws_col, ==, 101);
        ws = (struct winsize) { .ws_row = 40, .ws_col = 120 };
        g_assert_cmpint(ioctl(term, TIOCSWINSZ, &ws), ==, 0);
        raise(SIGWINCH);
        run_loop(&x, 100 * MSEC);
        memset(&ws, 0, sizeof(ws));
        g_assert_cmpint(ioctl(x.slave, TIOCGWINSZ, &ws), ==, 0);
        g_assert_cmpuint(ws.ws_row, ==, 40);
        g_assert_cmpuint(ws.ws_col, ==, 120);

        /* Keys go through raw (^C is a byte, not a signal here), output comes back unchanged. */
        set_nonblock(term_master);
        write_all(term_master, "k\x03\r", 3);
        got = collect(&x, x.slave, 3, 5 * SEC);
        g_assert_cmpmem(got->str, got->len, "k\x03\r", 3);
        g_string_free(got, TRUE);
        write_all(x.slave, "a\nb", 3);
        got = collect(&x, term_master, 3, 5 * SEC);
        g_assert_cmpmem(got->str, got->len, "a\nb", 3);
        g_string_free(got, TRUE);

        x.forward = pty_forward_free(x.forward);
        g_assert_cmpint(tcgetattr(term, &after), ==, 0);
        assert_termios_equal(&after, &before);
        g_assert_false(sigwinch_blocked());
        g_assert_cmpint(fcntl(term, F_GETFL) & O_NONBLOCK, ==, 0);

        fixture_teardown(&x);
        close(term);
        close(term_master);
        free(term_path);
}

/* Runs in a child: a session with a pty as controlling terminal, another process group in its
 * foreground, and us in the background, as under `timeout` or `&`. Returns a failure step. */
static int background_child(void) {
        struct termios before, during;
        char *term_path = NULL, *path = NULL;
        int term_master = -1, term, master = -1, slave;
        EventLoop *e = NULL;
        PtyForward *f = NULL;
        pid_t fg;
        int status, r = 0;
        char c = 0;

        if (setsid() < 0 || console_open_pty(&term_master, &term_path) < 0)
                return 10;
        term = open(term_path, O_RDWR | O_CLOEXEC);
        if (term < 0 || ioctl(term, TIOCSCTTY, 0) < 0)
                return 11;
        fg = fork();
        if (fg == 0) {
                setpgid(0, 0);
                pause();
                _exit(0);
        }
        setpgid(fg, fg);
        signal(SIGTTOU, SIG_IGN);
        if (tcsetpgrp(term, fg) < 0)
                r = 12;
        signal(SIGTTOU, SIG_DFL);
        if (r == 0 && tcgetattr(term, &before) < 0)
                r = 13;
        if (r == 0 && (event_new(&e) < 0 || console_open_pty(&master, &path) < 0))
                r = 14;
        slave = r == 0 ? open(path, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
        /* Being stopped here is the failure the parent looks for. */
        if (r == 0 &&
            pty_forward_new_full(e, master, term, term, CONSOLE_INTERACTIVE, NULL, NULL, &f) < 0)
                r = 15;
        if (r == 0 && (tcgetattr(term, &during) < 0 || during.c_lflag != before.c_lflag))
                r = 16;
        if (r == 0 && write(slave, "x", 1) != 1)
                r = 17;
        for (int i = 0; r == 0 && i < 100 && c != 'x'; i++) {
                event_run(e, 10 * MSEC);
                if (read(term_master, &c, 1) < 0 && errno != EAGAIN)
                        r = 18;
        }
        if (r == 0 && c != 'x')
                r = 19;
        pty_forward_free(f);
        kill(fg, SIGKILL);
        waitpid(fg, &status, 0);
        return r;
}

static void test_background(void) {
        int status;
        pid_t pid;

        pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0)
                _exit(background_child());
        g_assert_cmpint(waitpid(pid, &status, WUNTRACED), ==, pid);
        if (WIFSTOPPED(status)) {
                int sig = WSTOPSIG(status);

                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                g_error("a background forwarder was stopped by signal %d", sig);
        }
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 0);
}

static void test_socket_flags_restored(void) {
        int sp[2], flags_before;
        Fixture x;
        GString *got;

        fixture_init(&x);
        /* Sockets cannot be reopened: O_NONBLOCK goes on the shared fd, and comes off again. */
        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), ==, 0);
        flags_before = fcntl(sp[0], F_GETFL);
        g_assert_cmpint(event_new(&x.event), ==, 0);
        g_assert_cmpint(console_open_pty(&x.master, &x.slave_path), ==, 0);
        open_slave(&x);
        make_raw(x.slave);
        g_assert_cmpint(pty_forward_new_full(x.event, x.master, sp[0], sp[0], CONSOLE_INTERACTIVE,
                                             on_escape, &x, &x.forward), ==, 0);
        write_all(sp[1], "sock", 4);
        got = collect(&x, x.slave, 4, 5 * SEC);
        g_assert_cmpstr(got->str, ==, "sock");
        g_string_free(got, TRUE);
        x.forward = pty_forward_free(x.forward);
        g_assert_cmpint(fcntl(sp[0], F_GETFL), ==, flags_before);
        close(sp[0]);
        close(sp[1]);
        fixture_teardown(&x);
}

static void test_pipe_flags_untouched(void) {
        Fixture x;

        fixture_setup(&x, CONSOLE_INTERACTIVE, true);
        g_assert_cmpint(fcntl(x.in[0], F_GETFL) & O_NONBLOCK, ==, 0);
        g_assert_cmpint(fcntl(x.out[1], F_GETFL) & O_NONBLOCK, ==, 0);
        fixture_teardown(&x);
}

static void test_invalid(void) {
        EventLoop *e = NULL;
        PtyForward *f = NULL;
        char *path = NULL;
        int master = -1;

        g_assert_null(pty_forward_free(NULL));
        g_assert_cmpint(pty_forward_drain(NULL), ==, 0);
        g_assert_cmpint(event_new(&e), ==, 0);
        g_assert_cmpint(console_open_pty(&master, &path), ==, 0);
        g_assert_cmpint(pty_forward_new(e, master, CONSOLE_PIPE, NULL, NULL, &f), ==, -EINVAL);
        g_assert_null(f);
        g_assert_cmpint(pty_forward_new(e, -1, CONSOLE_READ_ONLY, NULL, NULL, &f), ==, -EINVAL);
        close(master);
        free(path);
        event_free(e);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/console/open-pty", test_open_pty);
        g_test_add_func("/console/output", test_output);
        g_test_add_func("/console/input", test_input);
        g_test_add_func("/console/escape", test_escape);
        g_test_add_func("/console/escape-typed", test_escape_typed);
        g_test_add_func("/console/escape-too-slow", test_escape_too_slow);
        g_test_add_func("/console/escape-interrupted", test_escape_interrupted);
        g_test_add_func("/console/read-only", test_read_only);
        g_test_add_func("/console/passive", test_passive);
        g_test_add_func("/console/drain-after-exit", test_drain_after_exit);
        g_test_add_func("/console/drain-nothing", test_drain_nothing);
        g_test_add_func("/console/drain-stuck-output", test_drain_stuck_output);
        g_test_add_func("/console/slow-reader", test_slow_reader);
        g_test_add_func("/console/hangup", test_hangup);
        g_test_add_func("/console/stdin-eof", test_stdin_eof);
        g_test_add_func("/console/broken-stdout", test_broken_stdout);
        g_test_add_func("/console/file-output", test_file_output);
        g_test_add_func("/console/terminal", test_terminal);
        g_test_add_func("/console/background", test_background);
        g_test_add_func("/console/socket-flags-restored", test_socket_flags_restored);
        g_test_add_func("/console/pipe-flags-untouched", test_pipe_flags_untouched);
        g_test_add_func("/console/invalid", test_invalid);
        return g_test_run();
}
