/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cap on how many machines berthd keeps: past it, Create/RegisterMachine get LimitsExceeded. */
#include <stdlib.h>

#include "machine-limit.h"
#include "parse-util.h"

unsigned manager_machines_max(Manager *m) {
        const char *e;
        unsigned v;

        if (m->machines_max > 0)
                return m->machines_max;
        /* A test lowers the cap to reach it with a handful of cheap leaders. */
        e = getenv("BERTH_MAX_MACHINES");
        if (e && parse_small_uint(e, MACHINES_MAX_LIMIT, &v) >= 0 && v > 0)
                m->machines_max = v;
        else
                m->machines_max = MACHINES_MAX_DEFAULT;
        return m->machines_max;
}

unsigned manager_machines_count(Manager *m) {
        /* Counted as they are linked (manager.c): every registration asks. */
        return m->n_machines + m->n_closing;
}

int manager_check_machine_limit(Manager *m, sd_bus_error *error) {
        unsigned max = manager_machines_max(m);

        if (manager_machines_count(m) < max)
                return 0;
        return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                 "Too many machines (at most %u), refusing another one", max);
}
