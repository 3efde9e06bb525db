/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The names berth-order-generator gives the units that order machines at boot, for it and berthctl. */
#pragma once

#include <stddef.h>

/* One oneshot unit per boot order in use, "berth-order-ORDER.service": it runs after every
 * machine of that order is up, waits the order's delay, and the next order's machines start
 * after it. Its environment carries the order and the delay, so readers need not parse text. */
#define BOOT_ORDER_UNIT_PREFIX "berth-order-"
#define BOOT_ORDER_UNIT_SUFFIX ".service"
#define BOOT_ORDER_ENV_ORDER "BERTH_ORDER"
#define BOOT_ORDER_ENV_DELAY "BERTH_ORDER_DELAY"

/* "berth-order-ORDER.service" (with ORDER's sign, if any): NULL only when out of memory. */
char *boot_order_unit_name(int order);
/* The ORDER of such a unit name: 0 with *RET set, or -EINVAL for any other name. */
int boot_order_unit_parse(const char *unit, int *ret);
/* The machine NAME of "berth-spawn@NAME.service" as a new string: NULL for any other unit
 * name (or a NAME berth would refuse), and when out of memory. */
char *boot_order_machine_of_unit(const char *unit);
