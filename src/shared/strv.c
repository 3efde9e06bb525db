/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NULL-terminated string vectors: the shape argv, environments and option lists share. */
#include <stdlib.h>
#include <string.h>

#include "strv.h"

char **strv_free(char **l) {
        STRV_FOREACH(s, l)
                free(*s);
        free(l);
        return NULL;
}

size_t strv_length(char *const *l) {
        size_t n = 0;

        STRV_FOREACH(s, l)
                n++;
        return n;
}

int strv_consume(char ***l, char *value) {
        size_t n = strv_length(*l);
        char **c;

        if (!value)
                return -ENOMEM;
        c = realloc(*l, sizeof(char *) * (n + 2));
        if (!c) {
                free(value);
                return -ENOMEM;
        }
        c[n] = value;
        c[n + 1] = NULL;
        *l = c;
        return 0;
}

int strv_extend(char ***l, const char *value) {
        return strv_consume(l, strdup(value));
}

char **strv_copy(char *const *l) {
        _cleanup_strv_free_ char **c = calloc(1, sizeof(char *));

        if (!c)
                return NULL;
        STRV_FOREACH(s, l)
                if (strv_extend(&c, *s) < 0)
                        return NULL;
        return TAKE_PTR(c);
}

static size_t env_name_len(const char *assignment) {
        const char *eq = strchr(assignment, '=');
        return eq ? (size_t) (eq - assignment) : strlen(assignment);
}

int strv_env_set(char ***l, const char *assignment) {
        size_t k = env_name_len(assignment);
        char *c;

        for (char **s = *l; s && *s; s++)
                if (strncmp(*s, assignment, k) == 0 && (*s)[k] == '=') {
                        c = strdup(assignment);
                        if (!c)
                                return -ENOMEM;
                        free(*s);
                        *s = c;
                        return 0;
                }
        return strv_extend(l, assignment);
}

const char *strv_env_get(char *const *l, const char *name) {
        size_t k = strlen(name);

        STRV_FOREACH(s, l)
                if (strncmp(*s, name, k) == 0 && (*s)[k] == '=')
                        return *s + k + 1;
        return NULL;
}

bool strv_contains(char *const *l, const char *s) {
        STRV_FOREACH(i, l)
                if (streq(*i, s))
                        return true;
        return false;
}
