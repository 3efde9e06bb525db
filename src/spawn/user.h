/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Looking up a user inside the container, from its own /etc/passwd and /etc/group. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

typedef struct UserRecord {
        uid_t uid;
        gid_t gid;
        char *home;
        char *shell;
        gid_t *groups;  /* supplementary groups */
        size_t n_groups;
} UserRecord;

void user_record_done(UserRecord *u);

/* Parses the container's files by hand: NSS would load the container's libraries into this
 * (host) process. NAME may be numeric. ROOT_FD is the container's root. */
int user_lookup(int root_fd, const char *name, UserRecord *ret);

/* Switches to the user: groups first, then gid, then uid (the other order would fail). */
int user_switch(const UserRecord *u);
