/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* FreezeMachine/ThawMachine: the cgroup2 freezer directly, or systemd's FreezeUnit/ThawUnit. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/epoll.h>

#include "bus-errors.h"
#include "cgroup-util.h"
#include "log.h"
#include "machine-dbus.h"
#include "machine-freeze.h"
#include "manager-dbus.h"
#include "resolve.h"

/* A freeze waits for every task to reach the freezer; one stuck in uninterruptible sleep (a
 * hung NFS server) never does. Then the machine is thawed again and the caller told. */
#define FREEZE_TIMEOUT_USEC (10ULL * 1000000ULL)

struct FreezeJob {
        Machine *machine;
        bool freeze;
        sd_bus_message *message;
        sd_event_source *io;
        sd_event_source *timer;
};

static FreezeJob *freeze_job_free(FreezeJob *j) {
        if (!j)
                return NULL;
        sd_event_source_disable_unref(j->io);
        sd_event_source_disable_unref(j->timer);
        sd_bus_message_unref(j->message);
        if (j->machine && j->machine->freeze_job == j)
                j->machine->freeze_job = NULL;
        free(j);
        return NULL;
}

/* Only a cgroup that holds the machine alone may be frozen: never the root, never berthd's. */
static bool has_own_cgroup(Machine *m) {
        return m->cgroup_path && !manager_cgroup_is_shared(m->manager, m->cgroup_path);
}

/* The "frozen" line of an open cgroup.events: 1, 0, or -EOPNOTSUPP before Linux 5.2. */
static int events_frozen_fd(int fd) {
        int r = cgroup_events_flag_fd(fd, "frozen");

        return r == -ENOKEY ? -EOPNOTSUPP : r;
}

static int open_events(Machine *m) {
        _cleanup_free_ char *p = NULL;
        int fd;

        if (asprintf(&p, "%s/cgroup.events", m->cgroup_path) < 0)
                return -ENOMEM;
        fd = open(p, O_RDONLY | O_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
}

int machine_is_frozen(Machine *m) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!has_own_cgroup(m))
                return 0;
        fd = open_events(m);
        if (fd < 0)
                return 0;
        r = events_frozen_fd(fd);
        return r > 0;
}

static int write_freeze(Machine *m, bool freeze) {
        _cleanup_free_ char *p = NULL;
        int r;

        if (asprintf(&p, "%s/cgroup.freeze", m->cgroup_path) < 0)
                return -ENOMEM;
        r = write_string_file(p, freeze ? "1" : "0");
        return r == -ENOENT ? -EOPNOTSUPP : r;
}

static void job_finish(FreezeJob *j, int error) {
        Machine *m = j->machine;
        int r;

        if (error < 0)
                r = sd_bus_reply_method_errnof(j->message, error, "Failed to %s machine %s: %m",
                                               j->freeze ? "freeze" : "thaw", m->name);
        else
                r = sd_bus_reply_method_return(j->message, NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to answer a freeze or thaw of %s: %m", m->name);
        (void) machine_send_state_changed(m);
        freeze_job_free(j);
}

static int on_events(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        FreezeJob *j = userdata;
        int r;

        r = events_frozen_fd(fd);
        if (r < 0)
                job_finish(j, r);
        else if (r == j->freeze)
                job_finish(j, 0);
        return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        FreezeJob *j = userdata;

        log_warning("Machine %s did not %s within %llus.", j->machine->name, j->freeze ? "freeze" : "thaw",
                    (unsigned long long) (FREEZE_TIMEOUT_USEC / 1000000ULL));
        /* Half frozen is no state to leave a machine in: what stopped runs again. */
        if (j->freeze)
                (void) write_freeze(j->machine, false);
        job_finish(j, -ETIMEDOUT);
        return 0;
}

/* Writes cgroup.freeze and answers MESSAGE once cgroup.events agrees. */
static int freeze_cgroupfs(Machine *m, bool freeze, sd_bus_message *message) {
        _cleanup_close_ int fd = -EBADF;
        FreezeJob *j;
        uint64_t now_usec = 0;
        int r;

        if (!has_own_cgroup(m))
                return -EOPNOTSUPP;
        /* Watch before writing, so that the change cannot slip between the two. */
        fd = open_events(m);
        if (fd < 0)
                return fd;
        r = events_frozen_fd(fd);
        if (r < 0)
                return r;
        r = write_freeze(m, freeze);
        if (r < 0)
                return r;
        r = events_frozen_fd(fd);
        if (r == freeze) {
                (void) machine_send_state_changed(m);
                return sd_bus_reply_method_return(message, NULL);
        }

        j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        *j = (FreezeJob) { .machine = m, .freeze = freeze, .message = sd_bus_message_ref(message) };
        m->freeze_job = j;
        r = sd_event_add_io(m->manager->event, &j->io, fd, EPOLLPRI, on_events, j);
        if (r >= 0)
                r = sd_event_source_set_io_fd_own(j->io, true);
        if (r >= 0) {
                TAKE_FD(fd);
                (void) sd_event_now(m->manager->event, CLOCK_MONOTONIC, &now_usec);
                r = sd_event_add_time(m->manager->event, &j->timer, CLOCK_MONOTONIC,
                                      now_usec + FREEZE_TIMEOUT_USEC, 0, on_timeout, j);
        }
        if (r < 0) {
                freeze_job_free(j);
                return r;
        }
        return 0;
}

typedef struct UnitCall {
        Manager *manager;
        char *name;
        bool freeze;
        sd_bus_message *message;
} UnitCall;

static void unit_call_free(void *userdata) {
        UnitCall *c = userdata;

        free(c->name);
        sd_bus_message_unref(c->message);
        free(c);
}

/* systemd answered FreezeUnit/ThawUnit. A host where it cannot freeze (hybrid cgroups) still
 * has the unified hierarchy's freezer: use that. */
static int on_unit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        UnitCall *c = userdata;
        Machine *m = manager_find_machine(c->manager, c->name);
        int r;

        if (e && m && sd_bus_error_has_name(e, SD_BUS_ERROR_NOT_SUPPORTED)) {
                log_debug("systemd cannot freeze %s (%s), writing cgroup.freeze.", m->unit, e->message);
                r = freeze_cgroupfs(m, c->freeze, c->message);
                if (r < 0)
                        (void) sd_bus_reply_method_errnof(c->message, r, "Failed to %s machine %s: %m",
                                                          c->freeze ? "freeze" : "thaw", c->name);
                return 0;
        }
        if (e)
                log_info("systemd refused to %s %s: %s", c->freeze ? "freeze" : "thaw", c->name, e->message);
        else if (m)
                (void) machine_send_state_changed(m);
        r = e ? sd_bus_reply_method_error(c->message, e) : sd_bus_reply_method_return(c->message, NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to answer a freeze or thaw of %s: %m", c->name);
        return 0;
}

static int freeze_systemd(Machine *m, bool freeze, sd_bus_message *message) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        UnitCall *c;
        int r;

        r = sd_bus_message_new_method_call(m->manager->bus, &call, "org.freedesktop.systemd1",
                                           "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                           freeze ? "FreezeUnit" : "ThawUnit");
        if (r >= 0)
                r = sd_bus_message_append(call, "s", m->unit);
        if (r < 0)
                return r;
        c = calloc(1, sizeof(*c));
        if (!c || !(c->name = strdup(m->name))) {
                free(c);
                return -ENOMEM;
        }
        c->manager = m->manager;
        c->freeze = freeze;
        c->message = sd_bus_message_ref(message);
        r = sd_bus_call_async(m->manager->bus, &slot, call, on_unit_reply, c, 0);
        if (r < 0) {
                unit_call_free(c);
                return r;
        }
        /* The slot floats: the machine may be gone by the time systemd answers. */
        (void) sd_bus_slot_set_destroy_callback(slot, unit_call_free);
        return sd_bus_slot_set_floating(slot, 1);
}

static int freeze_or_thaw(sd_bus_message *message, Machine *m, bool freeze, sd_bus_error *error) {
        const char *details[] = { "machine", m->name, "verb", freeze ? "freeze" : "thaw", NULL };
        int r;

        if (m->state != MACHINE_RUNNING)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Machine %s is %s, not running.", m->name,
                                         machine_state_to_string(m->state));
        r = polkit_verify_async(message, "org.berth.machine1.manage-machines", details,
                                &m->manager->polkit_registry, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* polkit will call us again */

        if (m->freeze_job)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED,
                                         "A freeze or thaw of machine %s is in progress already.", m->name);
        if (!has_own_cgroup(m))
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                         "Machine %s has no cgroup of its own to freeze.", m->name);
        if (m->manager->scope_backend == SCOPE_BACKEND_SYSTEMD && m->unit)
                r = freeze_systemd(m, freeze, message);
        else
                r = freeze_cgroupfs(m, freeze, message);
        if (r == -EOPNOTSUPP)
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                         "This kernel has no cgroup2 freezer (Linux 5.2 or newer has one).");
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to %s machine %s: %m", freeze ? "freeze" : "thaw",
                                               m->name);
        return 1;
}

static int method_freeze(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return freeze_or_thaw(message, userdata, true, error);
}

static int method_thaw(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return freeze_or_thaw(message, userdata, false, error);
}

static int method_freeze_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Machine *machine = NULL;
        int r = bus_read_machine(userdata, message, &machine, error);

        return r < 0 ? r : freeze_or_thaw(message, machine, true, error);
}

static int method_thaw_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Machine *machine = NULL;
        int r = bus_read_machine(userdata, message, &machine, error);

        return r < 0 ? r : freeze_or_thaw(message, machine, false, error);
}

void machine_freeze_cancel(Machine *m) {
        FreezeJob *j = m->freeze_job;

        if (!j)
                return;
        (void) sd_bus_reply_method_errorf(j->message, SD_BUS_ERROR_FAILED, "Machine %s went away.", m->name);
        j->machine = NULL;
        m->freeze_job = NULL;
        freeze_job_free(j);
}

void machine_thaw_for_stop(Machine *m) {
        if (m->freeze_job) {
                FreezeJob *j = m->freeze_job;

                (void) sd_bus_reply_method_errorf(j->message, SD_BUS_ERROR_FAILED,
                                                  "Machine %s is being terminated.", m->name);
                freeze_job_free(j);
        }
        if (machine_is_frozen(m) > 0) {
                log_info("Thawing machine %s to terminate it.", m->name);
                (void) write_freeze(m, false);
        }
}

const sd_bus_vtable freeze_manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("FreezeMachine", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                                method_freeze_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ThawMachine", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                                method_thaw_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

const sd_bus_vtable freeze_machine_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Freeze", NULL, NULL, method_freeze, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Thaw", NULL, NULL, method_thaw, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};
