/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Persistence of machines in the runtime dir, so that a restarted berthd loses none. */
#pragma once

#include "machine.h"

/* Writes DIR/NAME as KEY=VALUE lines, atomically (temporary file + rename). */
int state_save(const char *dir, const Machine *m);

/* Reads DIR/NAME back into a new Machine (no pidfd, no event sources yet). */
int state_load(const char *dir, const char *name, Machine **ret);

int state_remove(const char *dir, const char *name);

/* Values are kept on one line: '\\' and newlines are escaped. Exposed for the tests. */
char *state_escape(const char *s);
char *state_unescape(const char *s);
