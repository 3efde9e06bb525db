/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging to stderr with levels; "%m" in a message means the error passed in, not errno. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

static int max_level = LOG_INFO;
static const char *prefix = NULL;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_set_prefix(const char *p) {
        prefix = p;
}

void log_parse_environment(void) {
        const char *e = getenv("BERTH_LOG_LEVEL");

        if (!e)
                return;
        if (streq(e, "debug"))
                max_level = LOG_DEBUG;
        else if (streq(e, "info"))
                max_level = LOG_INFO;
        else if (streq(e, "notice"))
                max_level = LOG_NOTICE;
        else if (streq(e, "warning"))
                max_level = LOG_WARNING;
        else if (streq(e, "err") || streq(e, "error"))
                max_level = LOG_ERR;
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) {
        int saved = errno;
        char buf[2048];
        va_list ap;

        if (error > 0)
                error = -error;
        if (level > max_level)
                goto finish;

        /* vsnprintf expands %m from errno: point it at the error we were handed. */
        errno = error < 0 ? -error : saved;
        va_start(ap, format);
        (void) vsnprintf(buf, sizeof(buf), format, ap);
        va_end(ap);

        if (max_level >= LOG_DEBUG)
                fprintf(stderr, "%s%s%s:%d %s(): %s\n", strempty(prefix), prefix ? ": " : "",
                        file, line, func, buf);
        else
                fprintf(stderr, "%s%s%s\n", strempty(prefix), prefix ? ": " : "", buf);

finish:
        errno = saved;
        return error;
}
