/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parsers for the small values users write on command lines and in settings files. */
#include <signal.h>
#include <stdbool.h>
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

int parse_uuid(const char *v, uint8_t out[16]) {
        uint8_t id[16] = {};
        bool nonzero = false;
        size_t n = 0;

        /* 32 hex digits, with or without the dashes of the 8-4-4-4-12 form. */
        for (const char *p = v; p && *p; p++) {
                int x;

                if (*p == '-' && (n == 8 || n == 12 || n == 16 || n == 20))
                        continue;
                if (*p >= '0' && *p <= '9')
                        x = *p - '0';
                else if (*p >= 'a' && *p <= 'f')
                        x = *p - 'a' + 10;
                else if (*p >= 'A' && *p <= 'F')
                        x = *p - 'A' + 10;
                else
                        return -EINVAL;
                if (n >= 32)
                        return -EINVAL;
                id[n / 2] |= (uint8_t) (n % 2 ? x : x << 4);
                nonzero |= x != 0;
                n++;
        }
        if (n != 32 || !nonzero)
                return -EINVAL;
        memcpy(out, id, 16);
        return 0;
}

int parse_uint64(const char *s, uint64_t *ret) {
        uint64_t v = 0;

        if (isempty(s))
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                if (v > (UINT64_MAX - (uint64_t) (*p - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        *ret = v;
        return 0;
}

int parse_size(const char *s, uint64_t *ret) {
        static const char suffixes[] = "KMGTPE";
        _cleanup_free_ char *digits = NULL;
        const char *suffix;
        uint64_t v, factor = 1;
        size_t n;
        int r;

        if (isempty(s))
                return -EINVAL;
        if (streq(s, "infinity")) {
                *ret = UINT64_MAX;
                return 0;
        }
        n = strlen(s);
        suffix = strchr(suffixes, s[n - 1]);
        if (suffix && s[n - 1]) {
                for (const char *i = suffixes; i <= suffix; i++)
                        factor *= 1024;
                n--;
        }
        digits = strndup(s, n);
        if (!digits)
                return -ENOMEM;
        r = parse_uint64(digits, &v);
        if (r < 0)
                return r;
        if (v > UINT64_MAX / factor)
                return -ERANGE;
        *ret = v * factor;
        return 0;
}

int parse_percent(const char *s, uint64_t *ret) {
        _cleanup_free_ char *digits = NULL;
        size_t n = s ? strlen(s) : 0;

        if (n < 2 || s[n - 1] != '%')
                return -EINVAL;
        digits = strndup(s, n - 1);
        if (!digits)
                return -ENOMEM;
        return parse_uint64(digits, ret);
}
