/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NAME.berth settings files (INI): trusted in /etc/berth/, untrusted beside the image. */
#pragma once

#include <stdbool.h>

#include "settings.h"

/* Applies the settings in PATH to S. Fields set on the command line (s->set_mask) are left
 * alone. When TRUSTED is false, privileged keys (binds, overlays, capabilities, turning the
 * user namespace off, networking, ephemeral) are ignored with a warning naming the key.
 * Returns -ENOENT when PATH does not exist, -EINVAL (after logging file:line and the reason)
 * on a malformed file or value; on error S is unchanged. */
int settings_load_file(Settings *s, const char *path, bool trusted);

/* Finds NAME.berth: first SETTINGS_DIR (trusted), then beside the image: the directory that
 * holds the tree DIRECTORY (untrusted). Loads the first found; 0 when none exists. */
int settings_find_and_load(Settings *s, const char *settings_dir);
