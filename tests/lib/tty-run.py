#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tty-run.py LEFTOVER CMD: runs "sh -c CMD" as the session leader of a fresh pty, copies what it
# prints to stdout, and once it has exited writes to the file LEFTOVER whatever is still waiting
# in that terminal's input queue: what the user's shell would read next. That is where a TIOCSTI
# injection lands.
#
# Why not script(1): it writes an EOF character into the pty when its own stdin ends, at a time of
# its choosing, and the reader that followed raced with it; here the test holds the slave end
# itself, so the queue outlives the command and is read without any timing.

import fcntl
import os
import select
import sys
import termios


def drain(fd, out):
    while True:
        try:
            r, _, _ = select.select([fd], [], [], 0)
            if not r:
                return
            data = os.read(fd, 65536)
        except OSError:  # EIO: no slave opener left
            return
        if not data:
            return
        out.write(data)
        out.flush()


def main():
    leftover_path, cmd = sys.argv[1], sys.argv[2]
    master, slave = os.openpty()
    pid = os.fork()
    if pid == 0:
        os.close(master)
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        if slave > 2:
            os.close(slave)
        os.execv("/bin/sh", ["sh", "-c", cmd])

    out = sys.stdout.buffer
    status = None
    while status is None:
        r, _, _ = select.select([master], [], [], 0.05)
        if r:
            drain(master, out)
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
    drain(master, out)

    # The parent still holds the slave open, so the input queue is intact. Read it without
    # blocking; in canonical mode each read returns one line.
    fcntl.fcntl(slave, fcntl.F_SETFL, fcntl.fcntl(slave, fcntl.F_GETFL) | os.O_NONBLOCK)
    left = b""
    while True:
        try:
            data = os.read(slave, 4096)
        except BlockingIOError:
            break
        if not data:
            break
        left += data
    with open(leftover_path, "wb") as f:
        f.write(left)
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
