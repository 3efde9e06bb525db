/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The names of a template build's work and lock, shared by berth-spawn --template and berthd's pool clean. */
#pragma once

#include <stdint.h>

/* A build of NAME copies into ".#NAME" TEMPLATE_BUILD_INFIX "xxxxxxxx" (8 lowercase hex digits)
 * and renames that to NAME, all while it holds an exclusive flock() on ".#NAME"
 * TEMPLATE_LOCK_SUFFIX. The lock file exists for exactly as long as someone holds it: the
 * holder unlinks it before it lets go. */
#define TEMPLATE_NAME_PREFIX ".#"
#define TEMPLATE_BUILD_INFIX ".template-"
#define TEMPLATE_BUILD_RANDOM_DIGITS 8
#define TEMPLATE_LOCK_SUFFIX ".lock"

typedef enum TemplateEntry {
        TEMPLATE_ENTRY_NONE,  /* none of ours */
        TEMPLATE_ENTRY_BUILD, /* a build's work directory (or raw file) */
        TEMPLATE_ENTRY_LOCK,  /* a build's lock file */
} TemplateEntry;

/* ".#NAME.template-xxxxxxxx" with RND as the digits. */
int template_build_name(const char *name, uint32_t rnd, char **ret);
/* ".#NAME.lock". */
int template_lock_name(const char *name, char **ret);
/* What the directory entry ENTRY is; for one of ours, the NAME it builds in *RET_NAME (when
 * wanted; -ENOMEM is the only error). */
int template_entry_parse(const char *entry, TemplateEntry *ret_type, char **ret_name);

/* For the entry ENTRY below DIR_FD: when it belongs to a template build, takes a shared lock on
 * that build's lock file, so that no build of that NAME starts while the caller removes ENTRY.
 * Returns the locked fd (the caller closes it when done); -ENOENT when ENTRY is no build's or its
 * build has no lock file (then nobody is building it); -EBUSY while a build holds the lock.
 * Never waits. */
int template_build_lock_shared(int dir_fd, const char *entry);
