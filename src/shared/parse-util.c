/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parsers for the small values users write on command lines and in settings files. */
#include <signal.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "parse-util.h"

/* The spellings systemd accepts, so a .nspawn file's booleans all carry over. */
int parse_boolean(const char *v) {
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

        for (size_t i = 0; v && i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(v, yes[i]) == 0)
                        return 1;
                if (strcasecmp(v, no[i]) == 0)
                        return 0;
        }
        return -EINVAL;
}

/* Digits only, no sign, no spaces: strtoul() accepts too much for user input. */
int parse_small_uint(const char *s, unsigned max, unsigned *ret) {
        unsigned long v = 0;

        if (isempty(s))
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned long) (*p - '0');
                if (v > max)
                        return -ERANGE;
        }
        *ret = (unsigned) v;
        return 0;
}

/* "SIGTERM", "TERM", "SIGRTMIN+3", "RTMAX-1" or a number, like systemd's KillSignal=. */
int signal_from_string(const char *s) {
        const char *p, *rt;
        unsigned n;

        if (parse_small_uint(s, (unsigned) SIGRTMAX, &n) == 0)
                return n >= 1 ? (int) n : -EINVAL;

        p = startswith(s, "SIG") ?: s;
        if ((rt = startswith(p, "RTMIN"))) {
                if (*rt == 0)
                        return SIGRTMIN;
                if (*rt != '+' || parse_small_uint(rt + 1, (unsigned) (SIGRTMAX - SIGRTMIN), &n) < 0)
                        return -EINVAL;
                return SIGRTMIN + (int) n;
        }
        if ((rt = startswith(p, "RTMAX"))) {
                if (*rt == 0)
                        return SIGRTMAX;
                if (*rt != '-' || parse_small_uint(rt + 1, (unsigned) (SIGRTMAX - SIGRTMIN), &n) < 0)
                        return -EINVAL;
                return SIGRTMAX - (int) n;
        }
        for (int i = 1; i < SIGRTMIN; i++) {
                const char *a = sigabbrev_np(i);

                if (a && streq(a, p))
                        return i;
        }
        return -EINVAL;
}
