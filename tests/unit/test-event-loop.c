/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The supervisor's event loop: fds, signals, timers, deferred work, pidfds, and sources freed
 * from their own handlers. */
#include <glib.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "event-loop.h"

static int on_read(EventSource *s, int fd, uint32_t revents, void *userdata) {
        GString *got = userdata;
        char buf[64];
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n > 0)
                g_string_append_len(got, buf, n);
        else
                event_exit(event_source_get_loop(s), 7);
        return 0;
}

static void test_io(void) {
        _cleanup_(event_freep) EventLoop *e = NULL;
        g_autoptr(GString) got = g_string_new(NULL);
        int p[2];

        g_assert_cmpint(pipe(p), ==, 0);
        g_assert_cmpint(event_new(&e), ==, 0);
        g_assert_cmpint(event_add_io(e, NULL, p[0], EPOLLIN, on_read, got), ==, 0);
        g_assert_cmpint(write(p[1], "hello", 5), ==, 5);
        close(p[1]);
        g_assert_cmpint(event_loop(e), ==, 7);
        g_assert_cmpstr(got->str, ==, "hello");
        close(p[0]);
}

static int on_time(EventSource *s, uint64_t usec, void *userdata) {
        GString *order = userdata;

        g_string_append_c(order, 'x');
        return 0;
}

static int on_time_a(EventSource *s, uint64_t usec, void *userdata) {
        g_string_append_c(userdata, 'a');
        return 0;
}

static int on_time_b(EventSource *s, uint64_t usec, void *userdata) {
        g_string_append_c(userdata, 'b');
        return event_exit(event_source_get_loop(s), 0);
}

static void test_timers(void) {
        _cleanup_(event_freep) EventLoop *e = NULL;
        g_autoptr(GString) order = g_string_new(NULL);
        EventSource *off = NULL;
        uint64_t start = event_now();

        g_assert_cmpint(event_new(&e), ==, 0);
        g_assert_cmpint(event_add_time_relative(e, NULL, 40000, on_time_b, order), ==, 0);
        g_assert_cmpint(event_add_time_relative(e, NULL, 10000, on_time_a, order), ==, 0);
        g_assert_cmpint(event_add_time_relative(e, &off, 1000, on_time, order), ==, 0);
        g_assert_cmpint(event_source_set_enabled(off, EVENT_OFF), ==, 0);
        g_assert_cmpint(event_loop(e), ==, 0);
        g_assert_cmpstr(order->str, ==, "ab");
        g_assert_cmpuint(event_now() - start, >=, 40000);
}

static int on_signal(EventSource *s, const struct signalfd_siginfo *si, void *userdata) {
        *(int *) userdata = (int) si->ssi_signo;
        return event_exit(event_source_get_loop(s), 0);
}

static void test_signal(void) {
        _cleanup_(event_freep) EventLoop *e = NULL;
        sigset_t mask, old;
        int got = 0;

        sigemptyset(&mask);
        sigaddset(&mask, SIGUSR1);
        g_assert_cmpint(sigprocmask(SIG_BLOCK, &mask, &old), ==, 0);
        g_assert_cmpint(event_new(&e), ==, 0);
        g_assert_cmpint(event_add_signal(e, NULL, SIGUSR1, on_signal, &got), ==, 0);
        g_assert_cmpint(kill(getpid(), SIGUSR1), ==, 0);
        g_assert_cmpint(event_loop(e), ==, 0);
        g_assert_cmpint(got, ==, SIGUSR1);
        g_assert_cmpint(sigprocmask(SIG_SETMASK, &old, NULL), ==, 0);
}

static int on_child(EventSource *s, const siginfo_t *si, void *userdata) {
        *(int *) userdata = si->si_code == CLD_EXITED ? si->si_status : -1;
        return event_exit(event_source_get_loop(s), 0);
}

static void test_child(void) {
        _cleanup_(event_freep) EventLoop *e = NULL;
        int status = 0, pidfd;
        pid_t pid = fork();

        if (pid == 0)
                _exit(42);
        pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        g_assert_cmpint(pidfd, >=, 0);
        g_assert_cmpint(event_new(&e), ==, 0);
        g_assert_cmpint(event_add_child_pidfd(e, NULL, pidfd, on_child, &status), ==, 0);
        g_assert_cmpint(event_loop(e), ==, 0);
        g_assert_cmpint(status, ==, 42);
        /* Reaped by the loop: nothing is left to wait for. */
        g_assert_cmpint(waitpid(pid, NULL, WNOHANG), ==, -1);
        close(pidfd);
}

static int on_defer_self_free(EventSource *s, void *userdata) {
        int *count = userdata;

        if (++*count == 3)
                event_source_free(s);
        return 0;
}

static int on_defer_stop(EventSource *s, void *userdata) {
        int *count = userdata;

        if (*count >= 3 && ++count[1] > 5)
                return event_exit(event_source_get_loop(s), 0);
        return 0;
}

static void test_defer_and_free(void) {
        _cleanup_(event_freep) EventLoop *e = NULL;
        int count[2] = {};

        g_assert_cmpint(event_new(&e), ==, 0);
        EventSource *a = NULL, *b = NULL;

        g_assert_cmpint(event_add_defer(e, &a, on_defer_self_free, count), ==, 0);
        g_assert_cmpint(event_add_defer(e, &b, on_defer_stop, count), ==, 0);
        g_assert_cmpint(event_source_set_enabled(a, EVENT_ON), ==, 0);
        g_assert_cmpint(event_source_set_enabled(b, EVENT_ON), ==, 0);
        g_assert_cmpint(event_loop(e), ==, 0);
        /* Freed from its own handler on the third run: never called again. */
        g_assert_cmpint(count[0], ==, 3);
}

static int on_error(EventSource *s, void *userdata) {
        return -EIO;
}

static void test_handler_error_ends_loop(void) {
        _cleanup_(event_freep) EventLoop *e = NULL;

        g_assert_cmpint(event_new(&e), ==, 0);
        g_assert_cmpint(event_add_defer(e, NULL, on_error, NULL), ==, 0);
        g_assert_cmpint(event_loop(e), ==, -EIO);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/event/io", test_io);
        g_test_add_func("/event/timers", test_timers);
        g_test_add_func("/event/signal", test_signal);
        g_test_add_func("/event/child", test_child);
        g_test_add_func("/event/defer-and-free", test_defer_and_free);
        g_test_add_func("/event/handler-error", test_handler_error_ends_loop);
        return g_test_run();
}
