/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthctl's output: escaping untrusted strings, the pager, tables (libsmartcols) and JSON (json-c). */
#pragma once

#include <stdio.h>
#include <json-c/json.h>
#include <libsmartcols/libsmartcols.h>

#include "macro.h"

typedef struct Ctl Ctl;

/* S with control characters (C0, DEL, C1), backslashes and invalid UTF-8 escaped C-style (\n,
 * \t, \e is \x1b, ...), newly allocated; NULL only when out of memory. For anything a machine
 * provides (host names, OS names, file names) printed to a terminal. */
char *ctl_escape(const char *s);
/* Writes S escaped to F. */
void ctl_fputs_escaped(const char *s, FILE *f);

/* Pipes stdout into $BERTH_PAGER, $PAGER or "less" (LESS=FRSXMK unless set) when stdout is a
 * tty and --no-pager was not given; idempotent. Call before printing long output. */
void ctl_pager_open(Ctl *ctl);
void ctl_pager_close(Ctl *ctl);

/* Tables (libsmartcols) for listing verbs: the same table prints as text, or with -o json as
 * {"NAME": [{"column": value, ...}, ...]}, where each key is the column's name in lower case
 * and each value has the column's JSON type. */

/* A table named NAME (the JSON array's key, e.g. "machines"): no header with --no-legend,
 * nothing ellipsized with -l/--full or when stdout is not a tty. */
struct libscols_table *ctl_table_new(const Ctl *ctl, const char *name);
/* Adds a column: JSON_TYPE is SCOLS_JSON_STRING, _NUMBER, _BOOLEAN or _ARRAY_STRING; FLAGS are
 * SCOLS_FL_* (SCOLS_FL_TRUNC for a column that may be cut, SCOLS_FL_RIGHT for numbers). */
int ctl_table_add_column(struct libscols_table *t, const char *name, int json_type, int flags);
/* Sets cell COLUMN of LINE to VALUE (copied). In table mode VALUE is escaped (ctl_escape) and
 * NULL or "" shows as "-"; in JSON mode NULL is null and the string goes in as it is (JSON
 * escapes it). */
int ctl_table_set(const Ctl *ctl, struct libscols_line *line, size_t column, const char *value);
/* For a SCOLS_JSON_ARRAY_STRING column: VALUES (strv) as a JSON array, or escaped and joined
 * with ", " in table mode ("-" when empty). Items must not contain newlines. */
int ctl_table_set_strv(const Ctl *ctl, struct libscols_line *line, size_t column, char **values);
/* Prints T (through the pager), then, in table mode without --no-legend, "\nN WHAT listed."
 * (e.g. WHAT "machines"; nothing after an empty table but "No WHAT."). */
int ctl_table_print(Ctl *ctl, struct libscols_table *t, const char *what);

/* Prints O per --output: one line (json), indented (json-pretty, or table mode if a verb has
 * no text form). */
int ctl_json_print(Ctl *ctl, struct json_object *o);

static inline void scols_unref_tablep(struct libscols_table **t) {
        if (*t)
                scols_unref_table(*t);
}
static inline void json_object_putp(struct json_object **o) {
        if (*o)
                json_object_put(*o);
}
#define _cleanup_table_ _cleanup_(scols_unref_tablep)
#define _cleanup_json_ _cleanup_(json_object_putp)
