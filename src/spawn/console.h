/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The container's console: a pty of its own, relayed to berth-spawn's terminal or pipes. */
#pragma once

#include "event-loop.h"

#include "settings.h"

typedef struct PtyForward PtyForward;

/* Opens a new pty pair on the host's devpts. Returns the master fd (O_CLOEXEC, non-blocking)
 * and the slave's path, to be bind-mounted as /dev/console in the container.
 *
 * The container never sees our own terminal, only this pty: that is what defeats TIOCSTI
 * injection into the host's shell. For that to hold the child must also call setsid() (and
 * TIOCSCTTY on the slave) before it execs, or /dev/tty inside would still be our terminal. */
int console_open_pty(int *ret_master, char **ret_slave_path);

/* Relays between MASTER and our stdin/stdout on event loop E (which must outlive the
 * forwarder), according to MODE:
 * interactive: stdin → pty (raw mode when stdin is a tty), pty → stdout, window size follows
 *   SIGWINCH, and ^] three times within a second calls ON_ESCAPE (the three bytes are not
 *   forwarded; one or two are, once a second has passed or another byte follows);
 * read-only: pty → stdout only, stdin is not touched; passive: nothing is relayed (output is
 * read and dropped so that a chatty container never blocks on a full console, and the pty is
 * kept open so the container does not get hangups). Pipe mode does not use a pty at all.
 *
 * Process-wide side effects, undone by pty_forward_free(): SIGWINCH is blocked (the event loop
 * needs that to watch it; a child forked later must reset its signal mask), SIGPIPE is ignored
 * if it had its default action (a closed stdout must not kill the supervisor with the terminal
 * still raw). stdin/stdout themselves never get O_NONBLOCK: private reopened copies do, or, where a
 * reopen is impossible (sockets), the flags are put back at free.
 *
 * When stdin is our controlling terminal but we are not its foreground job (`timeout CMD`,
 * `CMD &`), stdin is left alone, as in read-only mode: touching it would get us stopped by
 * SIGTTOU/SIGTTIN.
 *
 * MASTER stays owned by the caller. ON_ESCAPE is called from the event loop; it must not free
 * the forwarder. The terminal is restored by pty_forward_free(). */
int pty_forward_new(EventLoop *e, int master, ConsoleMode mode,
                    void (*on_escape)(void *userdata), void *userdata, PtyForward **ret);

/* The same, with explicit fds in place of stdin/stdout (pty_forward_new passes 0 and 1). The
 * fds stay owned by the caller and must outlive the forwarder. Used by the unit tests. */
int pty_forward_new_full(EventLoop *e, int master, int input_fd, int output_fd, ConsoleMode mode,
                         void (*on_escape)(void *userdata), void *userdata, PtyForward **ret);

/* Copies whatever the container wrote and is still buffered (in the pty or in the forwarder),
 * then stops relaying. Does not need the event loop and never blocks for long: it stops when
 * the pty has nothing more (EAGAIN, or EIO once the slave is closed) and gives up with
 * -ETIMEDOUT when the output accepts nothing for a few seconds. Returns 0 when all was copied. */
int pty_forward_drain(PtyForward *f);

/* Restores the terminal's termios and fd flags and the signal state; NULL is fine. */
PtyForward *pty_forward_free(PtyForward *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(PtyForward *, pty_forward_free);
