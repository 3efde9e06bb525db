/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A machine's boot order as the host's systemd has it (berth-order-generator's units), for status. */
#pragma once

#include <stdbool.h>
#include <json-c/json.h>

#include "macro.h"

typedef struct Ctl Ctl;

typedef struct CtlBootOrder {
        bool set;               /* the machine is enabled with [Start] Order= */
        int order;
        unsigned delay;         /* seconds the next order waits after this one is up */
        bool has_previous;      /* false: the machine is of the first order */
        int previous;           /* the order it starts after */
        unsigned previous_delay;
        char **after;           /* the machines of that order */
} CtlBootOrder;

void ctl_boot_order_done(CtlBootOrder *b);

/* Asks systemd on berthctl's bus which orders berth-spawn@NAME.service is between. Never fails:
 * without systemd, or when it cannot say, the machine is in no order (b->set false). */
void ctl_boot_order_get(Ctl *ctl, const char *name, CtlBootOrder *ret);

/* "2 (3 s after m1 of order 1); the next order waits 5 s", "1 (first)"; NULL when b->set is false or
 * out of memory. */
char *ctl_boot_order_text(const CtlBootOrder *b);
/* {"order": 2, "delay": 5, "after_order": 1, "after_delay": 3, "after": ["m1"]} (after_* null
 * for the first order), or null (NULL) when b->set is false. */
struct json_object *ctl_boot_order_json(const CtlBootOrder *b);
