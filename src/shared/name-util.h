/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Validation of the names users hand us: machine names (hostname rules) and image names. */
#pragma once

#include <stdbool.h>

#define MACHINE_NAME_MAX 64

/* Letters, digits, '-' and '.', labels neither empty nor starting/ending with '-', at most 64
 * characters. The same rule as hostnames, so a machine name is always a usable hostname. */
bool machine_name_is_valid(const char *s);
/* A file name that is safe as a single path component in the pool: no '/', not '.' or '..',
 * no control characters, no ".#" (our temporary names), at most 255 bytes. */
bool image_name_is_valid(const char *s);
/* A systemd slice unit name, e.g. "machine.slice" or "machine-big.slice": characters systemd
 * allows in unit names, dash-separated non-empty parts, at most 255 bytes. */
bool unit_name_is_slice(const char *s);
