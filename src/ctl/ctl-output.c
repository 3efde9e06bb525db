/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthctl's output: escaping untrusted strings, the pager, tables (libsmartcols) and JSON (json-c). */
#include <ctype.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "ctl.h"
#include "log.h"
#include "strv.h"

static const char *const output_mode_table[_OUTPUT_MODE_MAX] = {
        [OUTPUT_TABLE] = "table",
        [OUTPUT_JSON] = "json",
        [OUTPUT_JSON_PRETTY] = "json-pretty",
};

const char *output_mode_to_string(OutputMode m) {
        return m >= 0 && m < _OUTPUT_MODE_MAX ? output_mode_table[m] : NULL;
}

OutputMode output_mode_from_string(const char *s) {
        for (OutputMode m = 0; m < _OUTPUT_MODE_MAX; m++)
                if (streq(s, output_mode_table[m]))
                        return m;
        return _OUTPUT_MODE_INVALID;
}

/* Length of the valid UTF-8 sequence at S (not overlong, no surrogates, ≤ U+10FFFF), 0 if none. */
static size_t utf8_sequence(const unsigned char *s, uint32_t *ret) {
        size_t n;
        uint32_t c;

        if (s[0] < 0xc2 || s[0] > 0xf4)
                return 0;
        n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
        c = s[0] & (0x7f >> n);
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = (c << 6) | (s[i] & 0x3f);
        }
        if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
            (c >= 0xd800 && c <= 0xdfff))
                return 0;
        *ret = c;
        return n;
}

static void escape_byte(FILE *f, unsigned char c) {
        static const char named[] = { ['\a'] = 'a', ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n',
                                      ['\v'] = 'v', ['\f'] = 'f', ['\r'] = 'r', ['\\'] = '\\' };

        if (c < sizeof(named) && named[c])
                fprintf(f, "\\%c", named[c]);
        else
                fprintf(f, "\\x%02x", c);
}

void ctl_fputs_escaped(const char *s, FILE *f) {
        const unsigned char *p = (const unsigned char *) strempty(s);

        while (*p) {
                uint32_t c;
                size_t n;

                if (*p == '\\' || *p < 0x20 || *p == 0x7f) {
                        escape_byte(f, *p++);
                        continue;
                }
                if (*p < 0x80) {
                        fputc(*p++, f);
                        continue;
                }
                n = utf8_sequence(p, &c);
                if (n == 0) {
                        escape_byte(f, *p++);
                        continue;
                }
                /* C1 controls (U+0080..U+009F) are valid UTF-8 and still steer terminals (CSI). */
                if (c < 0xa0)
                        for (size_t i = 0; i < n; i++)
                                escape_byte(f, p[i]);
                else
                        fwrite(p, 1, n, f);
                p += n;
        }
}

char *ctl_escape(const char *s) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        ctl_fputs_escaped(s, f);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

static void pager_exec(const char *pager) {
        if (isempty(pager)) {
                execlp("less", "less", (char *) NULL);
                execlp("more", "more", (char *) NULL);
        } else
                execl("/bin/sh", "sh", "-c", pager, (char *) NULL);
        _exit(EXIT_FAILURE);
}

void ctl_pager_open(Ctl *ctl) {
        _cleanup_close_pair_ int fds[2] = { -EBADF, -EBADF };
        const char *pager;
        pid_t pid;

        if (ctl->pager_pid > 0 || ctl->no_pager || !isatty(STDOUT_FILENO))
                return;
        pager = getenv("BERTH_PAGER") ?: getenv("PAGER");
        if (pager && (streq(pager, "") || streq(pager, "cat")))
                return;
        if (pipe2(fds, O_CLOEXEC) < 0)
                return (void) log_debug_errno(-errno, "Failed to make a pipe for the pager: %m");

        fflush(stdout);
        pid = fork();
        if (pid < 0)
                return (void) log_debug_errno(-errno, "Failed to fork the pager: %m");
        if (pid == 0) {
                if (dup2(fds[0], STDIN_FILENO) < 0)
                        _exit(EXIT_FAILURE);
                /* -F quits when it fits, -R passes colours, -S chops, -X keeps the screen, -K
                 * lets ^C quit: what systemd's tools ask of less. */
                (void) setenv("LESS", "FRSXMK", 0);
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                pager_exec(pager);
        }

        ctl->saved_stdout = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
        if (ctl->saved_stdout < 0 || dup2(fds[1], STDOUT_FILENO) < 0) {
                /* No pager after all: output goes where it went. */
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                ctl->saved_stdout = safe_close(ctl->saved_stdout);
                return;
        }
        ctl->pager_pid = pid;
        /* The user may quit the pager early: the rest of our output goes nowhere, quietly. */
        (void) signal(SIGPIPE, SIG_IGN);
}

void ctl_pager_close(Ctl *ctl) {
        if (ctl->pager_pid <= 0)
                return;
        fflush(stdout);
        /* Closing our end of the pipe is the pager's end of file. */
        (void) dup2(ctl->saved_stdout, STDOUT_FILENO);
        ctl->saved_stdout = safe_close(ctl->saved_stdout);
        while (waitpid(ctl->pager_pid, NULL, 0) < 0 && errno == EINTR)
                ;
        ctl->pager_pid = 0;
}

struct libscols_table *ctl_table_new(const Ctl *ctl, const char *name) {
        struct libscols_table *t = scols_new_table();

        if (!t)
                return NULL;
        if (scols_table_set_name(t, name) < 0) {
                scols_unref_table(t);
                return NULL;
        }
        (void) scols_table_enable_noheadings(t, ctl->no_legend);
        /* We escape cells ourselves (ctl_escape): libsmartcols' own encoding would escape our
         * escapes again. */
        (void) scols_table_enable_noencoding(t, true);
        if (ctl->full)
                (void) scols_table_set_termforce(t, SCOLS_TERMFORCE_NEVER);
        return t;
}

int ctl_table_add_column(struct libscols_table *t, const char *name, int json_type, int flags) {
        struct libscols_column *c = scols_table_new_column(t, name, 0, flags);

        if (!c)
                return -ENOMEM;
        return scols_column_set_json_type(c, json_type);
}

int ctl_table_set(const Ctl *ctl, struct libscols_line *line, size_t column, const char *value) {
        _cleanup_free_ char *e = NULL;

        if (ctl->output != OUTPUT_TABLE)
                return value ? scols_line_set_data(line, column, value) : 0;
        if (isempty(value))
                return scols_line_set_data(line, column, "-");
        e = ctl_escape(value);
        if (!e)
                return -ENOMEM;
        return scols_line_refer_data(line, column, TAKE_PTR(e));
}

int ctl_table_set_strv(const Ctl *ctl, struct libscols_line *line, size_t column, char **values) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (ctl->output == OUTPUT_TABLE && strv_length(values) == 0)
                return scols_line_set_data(line, column, "-");
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        STRV_FOREACH(v, values) {
                if (v != values)
                        fputs(ctl->output == OUTPUT_TABLE ? ", " : "\n", f);
                if (ctl->output == OUTPUT_TABLE)
                        ctl_fputs_escaped(*v, f);
                else
                        fputs(*v, f);
        }
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        return scols_line_refer_data(line, column, buf);
}

/* One cell as JSON, by its column's type. */
static struct json_object *cell_to_json(struct libscols_column *col, const char *data) {
        struct json_object *a;
        char *end = NULL;
        long long v;

        switch (scols_column_get_json_type(col)) {
        case SCOLS_JSON_NUMBER:
                if (isempty(data))
                        return NULL;
                errno = 0;
                v = strtoll(data, &end, 10);
                return errno == 0 && *end == 0 ? json_object_new_int64(v) : json_object_new_string(data);
        case SCOLS_JSON_BOOLEAN:
                return isempty(data) ? NULL : json_object_new_boolean(streq(data, "1") || streq(data, "true"));
        case SCOLS_JSON_ARRAY_STRING:
                a = json_object_new_array();
                for (const char *p = data; a && !isempty(p);) {
                        size_t n = strcspn(p, "\n");
                        json_object_array_add(a, json_object_new_string_len(p, (int) n));
                        p += n + (p[n] ? 1 : 0);
                }
                return a;
        default:
                return data ? json_object_new_string(data) : NULL;
        }
}

/* libsmartcols' own JSON printer always indents and turns an empty array into [null]: the
 * table is serialized here instead, with the same keys (column names in lower case). */
static struct json_object *table_to_json(struct libscols_table *t) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *rows = json_object_new_array();
        size_t ncols = scols_table_get_ncols(t), nlines = scols_table_get_nlines(t);

        if (!o || !rows)
                return NULL;
        json_object_object_add(o, scols_table_get_name(t), rows);
        for (size_t i = 0; i < nlines; i++) {
                struct libscols_line *line = scols_table_get_line(t, i);
                struct json_object *row = json_object_new_object();

                if (!row)
                        return NULL;
                json_object_array_add(rows, row);
                for (size_t c = 0; c < ncols; c++) {
                        struct libscols_column *col = scols_table_get_column(t, c);
                        struct libscols_cell *cell = scols_line_get_cell(line, c);
                        _cleanup_free_ char *key = strdup(scols_cell_get_data(scols_column_get_header(col)));

                        if (!key)
                                return NULL;
                        for (char *k = key; *k; k++)
                                *k = (char) tolower((unsigned char) *k);
                        json_object_object_add(row, key, cell_to_json(col, scols_cell_get_data(cell)));
                }
        }
        return TAKE_PTR(o);
}

int ctl_table_print(Ctl *ctl, struct libscols_table *t, const char *what) {
        size_t n = scols_table_get_nlines(t);
        int r;

        if (ctl->output != OUTPUT_TABLE) {
                _cleanup_json_ struct json_object *o = table_to_json(t);
                return o ? ctl_json_print(ctl, o) : log_oom();
        }
        if (n == 0 && !ctl->no_legend) {
                if (!ctl->quiet)
                        printf("No %s.\n", what);
                return 0;
        }
        ctl_pager_open(ctl);
        r = scols_print_table(t);
        if (r < 0)
                return log_error_errno(r, "Failed to print the table: %m");
        if (!ctl->no_legend)
                /* "1 machine listed.": WHAT is a plural in s. */
                printf("\n%zu %.*s listed.\n", n, (int) (strlen(what) - (n == 1 && strlen(what) > 1)), what);
        return fflush(stdout) == 0 ? 0 : log_error_errno(-errno, "Failed to write: %m");
}

int ctl_json_print(Ctl *ctl, struct json_object *o) {
        int flags = JSON_C_TO_STRING_NOSLASHESCAPE;

        flags |= ctl->output == OUTPUT_JSON ? JSON_C_TO_STRING_PLAIN : JSON_C_TO_STRING_PRETTY;
        if (ctl->output != OUTPUT_JSON)
                ctl_pager_open(ctl);
        puts(json_object_to_json_string_ext(o, flags));
        return fflush(stdout) == 0 ? 0 : log_error_errno(-errno, "Failed to write: %m");
}
