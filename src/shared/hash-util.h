/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* FNV-1a string hashes: stable across runs and versions, for choices that should come out the
 * same every time (a machine's UID range and shard slice) and for berthd's name index. Not for
 * anything an adversary could exploit by choosing names: they only slow their own machines. */
#pragma once

#include <stdint.h>

static inline uint32_t fnv1a_32(const char *s) {
        uint32_t h = 2166136261U;

        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * 16777619U;
        return h;
}

static inline uint64_t fnv1a_64(const char *s) {
        uint64_t h = UINT64_C(14695981039346656037);

        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * UINT64_C(1099511628211);
        return h;
}
