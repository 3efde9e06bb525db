/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth-spawn's command line, spelled like systemd-nspawn's wherever nspawn has the option. */
#pragma once

#include "settings.h"

/* Returns 0 to go on, 1 when done already (--help, --version), negative on bad arguments
 * (after saying what was wrong). */
int args_parse(int argc, char *argv[], Settings *s);
