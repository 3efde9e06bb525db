/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging to stderr with levels; "%m" in a message means the error passed in, not errno. */
#pragma once

#include <syslog.h>

#include "macro.h"

/* The log level is process-wide state by nature (like syslog's mask), not configuration that
 * flows through the program: it is set once from the command line or $BERTH_LOG_LEVEL. */
void log_set_max_level(int level);
int log_get_max_level(void);
void log_parse_environment(void);
void log_set_prefix(const char *prefix);

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) _printf_(6, 7);

#define log_full_errno(level, error, ...) \
        log_internal((level), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)

#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)

/* These return the negative errno so a caller can log and return in one statement. */
#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, (e), __VA_ARGS__)

static inline int log_oom(void) {
        return log_error_errno(-ENOMEM, "Out of memory.");
}
