/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The image pool on D-Bus: the Manager's image methods and the org.berth.machine1.Image objects. */
#pragma once

#include "manager.h"

#define IMAGE_OBJECT_PREFIX "/org/berth/machine1/image"
#define IMAGE_INTERFACE "org.berth.machine1.Image"

/* Removes the pool's ".#" leftovers of interrupted operations, then adds the Manager's image
 * methods and the Image objects to M's bus. */
int image_bus_register(Manager *m);
