/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Persistence of machines as KEY=VALUE files in RUNTIME_DIR/machines. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "machine-resources.h"
#include "name-util.h"
#include "resolve.h"
#include "state.h"
#include "strv.h"

char *state_escape(const char *s) {
        char *r, *o;

        r = o = malloc(strlen(s) * 2 + 1);
        if (!r)
                return NULL;
        for (; *s; s++) {
                if (*s == '\\' || *s == '\n') {
                        *o++ = '\\';
                        *o++ = *s == '\n' ? 'n' : '\\';
                } else
                        *o++ = *s;
        }
        *o = 0;
        return r;
}

char *state_unescape(const char *s) {
        char *r, *o;

        r = o = malloc(strlen(s) + 1);
        if (!r)
                return NULL;
        for (; *s; s++) {
                if (*s == '\\' && s[1]) {
                        s++;
                        *o++ = *s == 'n' ? '\n' : *s;
                } else
                        *o++ = *s;
        }
        *o = 0;
        return r;
}

static int put(FILE *f, const char *key, const char *value) {
        _cleanup_free_ char *e = NULL;

        if (!value)
                return 0;
        e = state_escape(value);
        if (!e)
                return -ENOMEM;
        fprintf(f, "%s=%s\n", key, e);
        return 0;
}

int state_save(const char *dir, const Machine *m) {
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        char id[SD_ID128_STRING_MAX];
        FILE *f;
        int fd, r;

        if (asprintf(&path, "%s/%s", dir, m->name) < 0 ||
            asprintf(&tmp, "%s/.#%s.XXXXXX", dir, m->name) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        f = fdopen(fd, "w");
        if (!f) {
                r = negative_errno();
                safe_close(fd);
                goto fail;
        }

        fprintf(f, "# berthd machine state, do not edit\n");
        r = put(f, "NAME", m->name);
        if (r >= 0 && !sd_id128_is_null(m->id))
                r = put(f, "ID", sd_id128_to_string(m->id, id));
        if (r >= 0)
                r = put(f, "SERVICE", m->service);
        if (r >= 0)
                r = put(f, "CLASS", machine_class_to_string(m->class));
        if (r >= 0)
                r = put(f, "UNIT", m->unit);
        if (r >= 0)
                r = put(f, "ROOT", m->root_directory);
        if (r >= 0)
                r = put(f, "CGROUP", m->cgroup_path);
        if (r >= 0)
                r = put(f, "STATE", machine_state_to_string(m->state));
        fprintf(f, "SCOPE_CREATED=%i\n", m->scope_created);
        fprintf(f, "KILL_SIGNAL=%i\n", m->kill_signal);
        fprintf(f, "LEADER=%i\n", (int) m->leader);
        fprintf(f, "LEADER_STARTTIME=%" PRIu64 "\n", m->leader_starttime);
        fprintf(f, "LEADER_PIDFD_INODE=%" PRIu64 "\n", m->leader_pidfd_inode);
        fprintf(f, "TIMESTAMP=%" PRIu64 "\n", m->timestamp);
        fprintf(f, "TIMESTAMP_MONOTONIC=%" PRIu64 "\n", m->timestamp_monotonic);
        STRV_FOREACH(d, m->resource_v1_dirs)
                if (r >= 0)
                        r = put(f, "CGROUP_V1", *d);
        if (m->n_netif > 0) {
                fputs("NETIF=", f);
                for (unsigned i = 0; i < m->n_netif; i++)
                        fprintf(f, "%s%i", i > 0 ? " " : "", m->netif[i]);
                fputc('\n', f);
        }

        /* No fsync(): the state describes processes of this boot, and the runtime dir does not
         * outlive it (tmpfs). A berthd crash loses nothing the kernel holds; only the atomic
         * rename matters, so that a restarted berthd never reads half a file. */
        if (r >= 0 && (fflush(f) != 0 || ferror(f)))
                r = negative_errno();
        if (fclose(f) != 0 && r >= 0)
                r = negative_errno();
        if (r >= 0 && rename(tmp, path) < 0)
                r = negative_errno();
        if (r >= 0)
                return 0;
fail:
        (void) unlink(tmp);
        return r;
}

static int parse_u64(const char *v, uint64_t *ret) {
        char *end = NULL;

        errno = 0;
        *ret = strtoull(v, &end, 10);
        return errno != 0 || end == v || *end ? -EINVAL : 0;
}

static int take_string(char **dst, char **src) {
        free(*dst);
        *dst = TAKE_PTR(*src);
        return 0;
}

/* "NETIF=3 17": the host-side ifindices, space-separated, as CreateMachineWithNetwork took them. */
static int parse_netif(Machine *m, const char *v) {
        unsigned n = 0;

        for (const char *p = v; *p;) {
                char *end = NULL;
                long idx;

                errno = 0;
                idx = strtol(p, &end, 10);
                if (errno != 0 || end == p || idx <= 0 || idx > INT32_MAX || n >= MACHINE_NETIF_MAX ||
                    (*end != ' ' && *end != 0))
                        return -EINVAL;
                m->netif[n++] = (int) idx;
                p = end + strspn(end, " ");
        }
        m->n_netif = n;
        return 0;
}

static int apply(Machine *m, const char *key, const char *raw) {
        _cleanup_free_ char *v = state_unescape(raw);
        uint64_t u = 0;
        int r;

        if (!v)
                return -ENOMEM;
        if (streq(key, "NAME"))
                return streq(v, m->name) ? 0 : -EINVAL;
        if (streq(key, "ID"))
                return sd_id128_from_string(v, &m->id);
        if (streq(key, "CLASS"))
                return (m->class = machine_class_from_string(v)) < 0 ? -EINVAL : 0;
        if (streq(key, "STATE"))
                return (m->state = machine_state_from_string(v)) < 0 ? -EINVAL : 0;
        if (streq(key, "SERVICE"))
                return take_string(&m->service, &v);
        if (streq(key, "UNIT"))
                return take_string(&m->unit, &v);
        if (streq(key, "ROOT"))
                return take_string(&m->root_directory, &v);
        if (streq(key, "CGROUP"))
                return take_string(&m->cgroup_path, &v);
        if (streq(key, "NETIF"))
                return parse_netif(m, v);
        /* Only directories of the shape berthd makes: a forged file must not make us empty or
         * remove any other cgroup. */
        if (streq(key, "CGROUP_V1"))
                return resources_v1_dir_is_valid(v, m->name) ?
                        strv_consume(&m->resource_v1_dirs, TAKE_PTR(v)) : 0;

        r = parse_u64(v, &u);
        if (r < 0)
                return r;
        if (streq(key, "SCOPE_CREATED"))
                m->scope_created = u != 0;
        else if (streq(key, "KILL_SIGNAL")) {
                if (u >= _NSIG)
                        return -EINVAL;
                m->kill_signal = (int) u;
        }
        else if (streq(key, "LEADER")) {
                if (u <= 1 || u > INT32_MAX)
                        return -EINVAL;
                m->leader = (pid_t) u;
        } else if (streq(key, "LEADER_STARTTIME"))
                m->leader_starttime = u;
        else if (streq(key, "LEADER_PIDFD_INODE"))
                m->leader_pidfd_inode = u;
        else if (streq(key, "TIMESTAMP"))
                m->timestamp = u;
        else if (streq(key, "TIMESTAMP_MONOTONIC"))
                m->timestamp_monotonic = u;
        /* Unknown keys come from a newer berthd: keep going. */
        return 0;
}

int state_load(const char *dir, const char *name, Machine **ret) {
        _cleanup_(machine_freep) Machine *m = NULL;
        _cleanup_free_ char *path = NULL, *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        char *line, *save = NULL;
        int r;

        if (!machine_name_is_valid(name))
                return -EINVAL;
        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return negative_errno();
        r = read_fd_full(fd, 64 * 1024, &buf, NULL);
        if (r < 0)
                return r;

        r = machine_new(name, &m);
        if (r < 0)
                return r;
        for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *eq;

                if (line[0] == '#')
                        continue;
                eq = strchr(line, '=');
                if (!eq)
                        return -EBADMSG;
                *eq = 0;
                r = apply(m, line, eq + 1);
                if (r < 0)
                        return r;
        }
        /* A machine without these cannot be checked, so it cannot be trusted. */
        if (m->leader <= 1 || m->leader_starttime == 0 || m->class < 0)
                return -EBADMSG;

        *ret = TAKE_PTR(m);
        return 0;
}

int state_remove(const char *dir, const char *name) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        return unlink(path) < 0 && errno != ENOENT ? negative_errno() : 0;
}
