/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Snapshots of images on D-Bus: the Manager's *ImageSnapshot* methods and the Image objects' *Snapshot* methods. */
#pragma once

#include <stdbool.h>

#include "manager.h"

/* Removes the snapshot store's leftovers of interrupted operations, then adds the snapshot
 * methods to the Manager and to the Image objects (merged with image-dbus.c's vtables of the
 * same interfaces). Call it after the image objects are registered. */
int image_snapshot_bus_register(Manager *m);

/* Whether a restore of image NAME runs: a copy made from it now (CloneImage, SnapshotImage)
 * could read the old tree while it is deleted, so such callers answer ImageBusy. */
bool image_snapshot_restoring(Manager *m, const char *name);
