/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* --template=BASE: the machine's tree made from a base image on first use, atomically. */
#pragma once

#include "settings.h"

/* With --template=BASE: when the machine's tree (-D NEWDIR, or -M NAME in the writable pool)
 * does not exist yet, clones BASE into a hidden name beside it (a btrfs snapshot when BASE is a
 * subvolume, else a reflink copy where the file system can) and renames it into place, so the
 * tree appears whole or not at all. Concurrent first starts build it once. An existing tree is
 * used as it is and BASE is not touched. Sets S->directory to the tree. No-op without
 * --template. */
int template_apply(Settings *s);
