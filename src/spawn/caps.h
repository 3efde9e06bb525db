/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Capabilities: the payload's default bounding set, name parsing, and dropping before exec. */
#pragma once

#include <stdint.h>

/* The bounding set a payload keeps by default (nspawn's list minus what berth refuses to hand
 * out without a user namespace; see caps.c for the reasoning per capability). */
uint64_t caps_default_keep(void);

/* Resolves "CAP_SYS_ADMIN", "cap_sys_admin" or "sys_admin" (any case), or a number below 64 for
 * capabilities newer than the table; returns the number or -EINVAL. */
int capability_from_name(const char *name);
/* "CAP_SYS_ADMIN", or NULL for an unknown number. */
const char *capability_to_name(int cap);
/* Parses a comma- or space-separated list ("all" for every capability) into a mask; an empty
 * list is an empty mask, an unknown name -EINVAL. */
int capability_list_parse(const char *list, uint64_t *ret);

/* In the container, before exec, as uid 0: drops every capability outside KEEP from the
 * bounding set and from the permitted/effective/inheritable sets, and clears the ambient set.
 * Logs on failure. */
int caps_apply(uint64_t keep);
