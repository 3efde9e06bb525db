/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parsers for the small values users write on command lines and in settings files. */
#pragma once

#include <stdint.h>

/* yes/no/true/false/on/off/1/0/y/n/t/f in any case: 1, 0, or -EINVAL. */
int parse_boolean(const char *v);
/* Digits only (no sign, no blanks), at most MAX. */
int parse_small_uint(const char *s, unsigned max, unsigned *ret);
/* "SIGTERM", "TERM", "SIGRTMIN+3", "RTMAX-1" or a number: the signal, or -EINVAL. */
int signal_from_string(const char *s);
/* A UUID as 32 hex digits, with or without dashes; the all-zero UUID is refused. */
int parse_uuid(const char *v, uint8_t out[16]);
/* Digits with an optional K, M, G, T, P or E suffix (powers of 1024), or "infinity" for
 * UINT64_MAX: the sizes systemd's MemoryMax= and friends take. */
int parse_size(const char *s, uint64_t *ret);
/* Digits only, like parse_small_uint(), for any uint64_t. */
int parse_uint64(const char *s, uint64_t *ret);
/* "N%" with N digits: N, for CPU quotas (which may exceed 100%). */
int parse_percent(const char *s, uint64_t *ret);
