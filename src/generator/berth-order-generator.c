/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth-order-generator: orders the enabled machines' units by [Start] Order= and Delay=, anew at every boot and reload. */

/*
 * Why a systemd generator, and not drop-ins that `berthctl enable` writes:
 *
 * The order is a property of the whole set of enabled machines, not of one: enabling, disabling
 * or re-ordering one machine changes what the others start after. Drop-ins written at enable
 * time go stale as soon as a settings file changes, a machine is enabled with plain
 * `systemctl enable`, or a link is removed by hand, and `disable` would have to find and
 * rewrite other machines' files. A generator recomputes everything from what is true now (the
 * links in machines.target.wants and the trusted settings files) at every boot and every
 * daemon-reload, writes only into systemd's generator directory under /run (emptied before
 * each run), and so leaves nothing behind to clean up. `berthctl enable` and `disable` already
 * end with a reload, which reruns it.
 *
 * Shape of what it writes, for the distinct orders O1 < O2 < ... among enabled machines that
 * have Order= (machines without it are left alone and start in parallel, as before):
 *
 *   berth-order-Oi.service   oneshot, RemainAfterExit, After= every machine of order Oi,
 *                            waits the largest Delay= among them (sleep(1), no shell), and
 *                            is pulled in by machines.target (a link in its .wants);
 *   berth-spawn@M.service.d/50-berth-order.conf, for each machine M of order Oi+1:
 *                            After=berth-order-Oi.service.
 *
 * So machines of one order start together, the next order starts once all of them are ready
 * (berth-spawn@ is Type=notify: After= waits for READY=1) and the delay has passed, and a
 * machine that fails to start holds back nobody for longer than its own start. Only the boot
 * transaction (machines.target) pulls the barrier units in: `berthctl start` of one machine
 * waits for no other and no delay. At shutdown systemd stops in reverse: the last order first.
 *
 * Settings come only from the trusted directory (/etc/berth): the boot order is the host
 * administrator's (an image's own file must not put itself first or hold the others back, so
 * berth-spawn ignores [Start] there too), and /etc is all a generator can rely on: /var, where
 * the image pool lives, may not be mounted yet when generators run.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "boot-order.h"
#include "fd-util.h"
#include "log.h"
#include "name-util.h"
#include "settings-file.h"
#include "settings.h"
#include "strv.h"

#define DROPIN_NAME "50-berth-order.conf"

/* Where `systemctl enable` (and presets) put the links, highest priority first. */
static const char *const unit_dirs[] = {
        "/etc/systemd/system",
        "/run/systemd/system",
        "/usr/local/lib/systemd/system",
        "/usr/lib/systemd/system",
        "/lib/systemd/system",
};

typedef struct Entry {
        char *name;
        int order;
        unsigned delay;
} Entry;

typedef struct Entries {
        Entry *entries;
        size_t n;
} Entries;

static void entries_done(Entries *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->entries[i].name);
        free(l->entries);
}

/* The machines whose berth-spawn@NAME.service is linked into machines.target.wants. */
static int collect_enabled(char ***ret) {
        _cleanup_strv_free_ char **names = NULL;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(unit_dirs); i++) {
                _cleanup_(closedirp) DIR *d = NULL;
                _cleanup_free_ char *p = NULL;
                struct dirent *de;

                if (asprintf(&p, "%s/machines.target.wants", unit_dirs[i]) < 0)
                        return log_oom();
                d = opendir(p);
                if (!d) {
                        if (errno != ENOENT)
                                log_warning_errno(negative_errno(), "Cannot read %s, ignoring: %m", p);
                        continue;
                }
                while ((errno = 0, de = readdir(d))) {
                        char *name = boot_order_machine_of_unit(de->d_name);

                        if (!name)
                                continue;
                        if (strv_contains(names, name)) {
                                free(name);
                                continue;
                        }
                        r = strv_consume(&names, name);
                        if (r < 0)
                                return log_oom();
                }
                if (errno != 0)
                        log_warning_errno(negative_errno(), "Cannot read %s, ignoring the rest: %m", p);
        }
        *ret = TAKE_PTR(names);
        return 0;
}

/* NAME's [Start] from SETTINGS_DIR/NAME.berth, read by berth-spawn's own parser so that a file
 * means the same to both. 1 with *RET filled when it has Order=, 0 when not. */
static int load_entry(const char *settings_dir, const char *name, Entry *ret) {
        _cleanup_free_ char *path = NULL;
        Settings s;
        int r;

        if (asprintf(&path, "%s/%s.berth", settings_dir, name) < 0)
                return log_oom();
        settings_init(&s);
        s.machine = strdup(name);
        if (!s.machine)
                return log_oom();
        r = settings_load_file(&s, path, true);
        if (r == -ENOENT)
                r = 0;
        else if (r < 0) {
                /* berth-spawn refuses such a file too, so this machine will not start anyway. */
                log_warning_errno(r, "%s is not valid, machine %s is in no boot order.", path, name);
                r = 0;
        } else if (s.start_order_set) {
                *ret = (Entry) { .order = s.start_order, .delay = s.start_delay };
                ret->name = strdup(name);
                r = ret->name ? 1 : log_oom();
        }
        settings_done(&s);
        return r;
}

static int entry_cmp(const void *a, const void *b) {
        const Entry *x = a, *y = b;

        if (x->order != y->order)
                return x->order < y->order ? -1 : 1;
        return strcmp(x->name, y->name);
}

static int write_file(const char *path, const char *text) {
        _cleanup_close_ int fd = -EBADF;
        size_t n = strlen(text);

        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return log_error_errno(negative_errno(), "Failed to create %s: %m", path);
        for (size_t done = 0; done < n;) {
                ssize_t k = write(fd, text + done, n - done);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return log_error_errno(negative_errno(), "Failed to write %s: %m", path);
                }
                done += (size_t) k;
        }
        return 0;
}

static int mkdir_ok(const char *path) {
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return log_error_errno(negative_errno(), "Failed to create %s: %m", path);
        return 0;
}

/* The barrier unit of the machines E[0..N-1], all of one order, and its link from machines.target. */
static int write_barrier(const char *dest, const Entry *e, size_t n) {
        _cleanup_free_ char *unit = boot_order_unit_name(e[0].order), *text = NULL, *after = NULL;
        _cleanup_free_ char *path = NULL, *wants = NULL, *link = NULL;
        size_t after_size = 0;
        unsigned delay = 0;
        FILE *f;
        int r;

        if (!unit)
                return log_oom();
        f = open_memstream(&after, &after_size);
        if (!f)
                return log_oom();
        for (size_t i = 0; i < n; i++) {
                fprintf(f, " berth-spawn@%s.service", e[i].name);
                delay = MAX(delay, e[i].delay);
        }
        if (fclose(f) != 0)
                return log_oom();
        if (asprintf(&text,
                     "# Written by berth-order-generator from [Start] Order=%d in %zu settings file(s).\n"
                     "[Unit]\n"
                     "Description=berth machines of boot order %d\n"
                     "Documentation=man:berth-order-generator(8)\n"
                     "PartOf=machines.target\n"
                     "After=%s\n"
                     "\n"
                     "[Service]\n"
                     "Type=oneshot\n"
                     "RemainAfterExit=yes\n"
                     "Environment=" BOOT_ORDER_ENV_ORDER "=%d " BOOT_ORDER_ENV_DELAY "=%u\n"
                     "ExecStart=sleep %u\n",
                     e[0].order, n, e[0].order, after + 1, e[0].order, delay, delay) < 0 ||
            asprintf(&path, "%s/%s", dest, unit) < 0 ||
            asprintf(&wants, "%s/machines.target.wants", dest) < 0 ||
            asprintf(&link, "%s/%s", wants, unit) < 0)
                return log_oom();
        r = write_file(path, text);
        if (r < 0)
                return r;
        r = mkdir_ok(wants);
        if (r < 0)
                return r;
        if (symlink(path, link) < 0 && errno != EEXIST)
                return log_error_errno(negative_errno(), "Failed to create %s: %m", link);
        return 0;
}

/* Makes machine NAME start after the barrier of order PREVIOUS. */
static int write_dropin(const char *dest, const Entry *e, int previous) {
        _cleanup_free_ char *barrier = boot_order_unit_name(previous), *dir = NULL, *path = NULL;
        _cleanup_free_ char *text = NULL;
        int r;

        if (!barrier)
                return log_oom();
        if (asprintf(&dir, "%s/berth-spawn@%s.service.d", dest, e->name) < 0 ||
            asprintf(&path, "%s/" DROPIN_NAME, dir) < 0 ||
            asprintf(&text,
                     "# Written by berth-order-generator: [Start] Order=%d of machine %s starts after order %d.\n"
                     "[Unit]\n"
                     "After=%s\n",
                     e->order, e->name, previous, barrier) < 0)
                return log_oom();
        r = mkdir_ok(dir);
        if (r < 0)
                return r;
        return write_file(path, text);
}

static int generate(const char *dest, const char *settings_dir) {
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_(entries_done) Entries l = {};
        Entry *e;
        int r;

        r = collect_enabled(&names);
        if (r < 0)
                return r;
        l.entries = calloc(strv_length(names) + 1, sizeof(Entry));
        if (!l.entries)
                return log_oom();
        STRV_FOREACH(name, names) {
                r = load_entry(settings_dir, *name, &l.entries[l.n]);
                if (r < 0)
                        return r;
                l.n += r;
        }
        e = l.entries;
        qsort(e, l.n, sizeof(Entry), entry_cmp);

        /* One order after the other: [start, end) is one order's machines. */
        for (size_t start = 0, end; start < l.n; start = end) {
                for (end = start + 1; end < l.n && e[end].order == e[start].order; end++)
                        ;
                r = write_barrier(dest, e + start, end - start);
                if (r < 0)
                        return r;
                for (size_t i = start; start > 0 && i < end; i++) {
                        r = write_dropin(dest, &e[i], e[start - 1].order);
                        if (r < 0)
                                return r;
                }
                log_debug("Boot order %d: %zu machine(s).", e[start].order, end - start);
        }
        return 0;
}

/* As systemd's own generators: at boot nobody reads PID 1's standard error, while the kernel
 * log reaches the journal. Only when systemd runs us (it sets $SYSTEMD_SCOPE since v251, and
 * $SYSTEMD_VIRTUALIZATION in a container) and not in a container, where /dev/kmsg, if there is
 * one, is the host's. */
static void log_to_kmsg(void) {
        const char *virt = getenv("SYSTEMD_VIRTUALIZATION");
        _cleanup_close_ int fd = -EBADF;

        if (!streq_ptr(getenv("SYSTEMD_SCOPE"), "system") || (virt && startswith(virt, "container")))
                return;
        fd = open("/dev/kmsg", O_WRONLY | O_NOCTTY | O_CLOEXEC);
        if (fd >= 0 && fd != STDERR_FILENO)
                (void) dup2(fd, STDERR_FILENO);
}

int main(int argc, char *argv[]) {
        int r;

        log_to_kmsg();
        log_set_prefix("berth-order-generator");
        log_parse_environment();
        if (argc != 2 && argc != 4) {
                log_error("Usage: %s NORMAL_DIR [EARLY_DIR LATE_DIR] (run by systemd as a generator)",
                          argv[0]);
                return EXIT_FAILURE;
        }
        /* In the initrd no berth machine is enabled, and its /etc is not the host's. */
        if (access("/etc/initrd-release", F_OK) == 0)
                return EXIT_SUCCESS;

        r = generate(argv[1], getenv("BERTH_SETTINGS_DIR") ?: SETTINGS_DIR);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
