/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Looking up a user inside the container, from its own /etc/passwd and /etc/group. */
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>

#include "macro.h"
#include "resolve.h"
#include "user.h"

#define DB_MAX (4 * 1024 * 1024)

void user_record_done(UserRecord *u) {
        free(u->home);
        free(u->shell);
        free(u->groups);
        *u = (UserRecord) {};
}

static int parse_id(const char *s, unsigned *ret) {
        char *end;
        unsigned long v;

        if (isempty(s) || *s == '-' || *s == '+')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end || v >= 0xFFFFFFFFUL)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

/* Splits a colon-separated line into at most N fields, in place. Returns the field count. */
static size_t split_fields(char *line, char **fields, size_t n) {
        size_t k = 0;

        while (k < n) {
                fields[k++] = line;
                line = strchr(line, ':');
                if (!line)
                        break;
                *line++ = 0;
        }
        return k;
}

static int find_passwd(char *db, const char *name, UserRecord *u) {
        unsigned numeric;
        bool by_id = parse_id(name, &numeric) >= 0;
        char *save = NULL;

        for (char *l = strtok_r(db, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *f[7];
                unsigned uid, gid;

                if (split_fields(l, f, 7) != 7 || parse_id(f[2], &uid) < 0 || parse_id(f[3], &gid) < 0)
                        continue;
                if (by_id ? uid != numeric : !streq(f[0], name))
                        continue;
                u->uid = uid;
                u->gid = gid;
                u->home = strdup(isempty(f[5]) ? "/" : f[5]);
                u->shell = strdup(isempty(f[6]) ? "/bin/sh" : f[6]);
                return u->home && u->shell ? 1 : -ENOMEM;
        }
        if (by_id) {
                /* A numeric user need not exist in passwd, as with su or nspawn. */
                u->uid = u->gid = numeric;
                u->home = strdup("/");
                u->shell = strdup("/bin/sh");
                return u->home && u->shell ? 1 : -ENOMEM;
        }
        return 0;
}

static int add_groups(char *db, const char *name, UserRecord *u) {
        char *save = NULL;

        for (char *l = strtok_r(db, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *f[4], *msave = NULL;
                unsigned gid;

                if (split_fields(l, f, 4) != 4 || parse_id(f[2], &gid) < 0)
                        continue;
                for (char *m = strtok_r(f[3], ",", &msave); m; m = strtok_r(NULL, ",", &msave)) {
                        gid_t *n;

                        if (!streq(m, name))
                                continue;
                        n = realloc(u->groups, sizeof(gid_t) * (u->n_groups + 1));
                        if (!n)
                                return -ENOMEM;
                        u->groups = n;
                        u->groups[u->n_groups++] = gid;
                }
        }
        return 0;
}

int user_lookup(int root_fd, const char *name, UserRecord *ret) {
        _cleanup_free_ char *passwd = NULL, *group = NULL;
        UserRecord u = {};
        int r;

        if (isempty(name) || strchr(name, ':') || strchr(name, '\n'))
                return -EINVAL;
        r = read_file_in_root(root_fd, "/etc/passwd", DB_MAX, &passwd);
        if (r < 0 && r != -ENOENT)
                return r;
        r = passwd ? find_passwd(passwd, name, &u) : 0;
        if (r == 0) {
                unsigned id;
                if (parse_id(name, &id) < 0)
                        return -ESRCH;
                r = find_passwd((char[]) { "" }, name, &u);
        }
        if (r < 0) {
                user_record_done(&u);
                return r;
        }
        if (read_file_in_root(root_fd, "/etc/group", DB_MAX, &group) >= 0) {
                r = add_groups(group, name, &u);
                if (r < 0) {
                        user_record_done(&u);
                        return r;
                }
        }
        *ret = u;
        return 0;
}

int user_switch(const UserRecord *u) {
        if (setgroups(u->n_groups, u->groups) < 0)
                return negative_errno();
        if (setresgid(u->gid, u->gid, u->gid) < 0)
                return negative_errno();
        if (setresuid(u->uid, u->uid, u->uid) < 0)
                return negative_errno();
        return 0;
}
