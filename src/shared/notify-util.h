/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Telling our own service manager how we are: the sd_notify() protocol, without libsystemd. */
#pragma once

/* Sends STATE (e.g. "READY=1") to $NOTIFY_SOCKET. Returns 0 when there is no socket to tell,
 * 1 when sent, negative on failure. */
int notify_manager(const char *state);
