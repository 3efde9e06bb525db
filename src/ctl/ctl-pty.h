/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthctl's terminal relay for login and shell: our tty in raw mode <-> a pty master berthd gave us. */
#pragma once

#include <stdbool.h>

/* Relays stdin to MASTER and MASTER to stdout until the other side hangs up (every holder of
 * the pty's slave end is gone), the user types ^] three times within a second, or we get
 * SIGTERM/SIGHUP. A terminal on stdin is put into raw mode and restored afterwards; the pty
 * follows its size (SIGWINCH). When stdin is not a terminal, its end is passed on as the end of
 * input (VEOF). Takes ownership of MASTER. Returns 0 (also when escaped) or a negative errno. */
int ctl_pty_relay(int master, bool *ret_escaped);
