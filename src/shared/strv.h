/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NULL-terminated string vectors: the shape argv, environments and option lists share. */
#pragma once

#include <stddef.h>

#include "macro.h"

char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)

size_t strv_length(char *const *l);
int strv_extend(char ***l, const char *value);
int strv_consume(char ***l, char *value);
char **strv_copy(char *const *l);
/* Sets NAME=VALUE in an environment list, replacing an earlier entry for NAME. */
int strv_env_set(char ***l, const char *assignment);
const char *strv_env_get(char *const *l, const char *name);
bool strv_contains(char *const *l, const char *s);

#define STRV_FOREACH(s, l) for (char *const *s = (l); s && *s; s++)
