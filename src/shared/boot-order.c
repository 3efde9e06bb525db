/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The names berth-order-generator gives the units that order machines at boot, for it and berthctl. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "boot-order.h"
#include "macro.h"
#include "name-util.h"
#include "parse-util.h"

char *boot_order_unit_name(int order) {
        char *s = NULL;

        if (asprintf(&s, BOOT_ORDER_UNIT_PREFIX "%d" BOOT_ORDER_UNIT_SUFFIX, order) < 0)
                return NULL;
        return s;
}

int boot_order_unit_parse(const char *unit, int *ret) {
        const char *p = startswith(unit, BOOT_ORDER_UNIT_PREFIX);
        char digits[16];
        bool minus;
        unsigned u;
        size_t n;

        if (!p)
                return -EINVAL;
        minus = p[0] == '-';
        p += minus;
        n = strlen(p);
        if (n <= strlen(BOOT_ORDER_UNIT_SUFFIX) || !streq(p + n - strlen(BOOT_ORDER_UNIT_SUFFIX),
                                                          BOOT_ORDER_UNIT_SUFFIX))
                return -EINVAL;
        n -= strlen(BOOT_ORDER_UNIT_SUFFIX);
        if (n >= sizeof(digits))
                return -EINVAL;
        memcpy(digits, p, n);
        digits[n] = 0;
        if (parse_small_uint(digits, INT_MAX, &u) < 0)
                return -EINVAL;
        *ret = minus ? -(int) u : (int) u;
        return 0;
}

char *boot_order_machine_of_unit(const char *unit) {
        const char *p = startswith(unit, "berth-spawn@");
        char *name;
        size_t n;

        if (!p)
                return NULL;
        n = strlen(p);
        if (n <= strlen(".service") || !streq(p + n - strlen(".service"), ".service"))
                return NULL;
        name = strndup(p, n - strlen(".service"));
        if (name && !machine_name_is_valid(name)) {
                free(name);
                return NULL;
        }
        return name;
}
