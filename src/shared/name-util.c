/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Validation of the names users hand us: machine names (hostname rules) and image names. */
#include <string.h>

#include "macro.h"
#include "name-util.h"

static bool is_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool machine_name_is_valid(const char *s) {
        size_t n = 0;
        char prev = '.';

        if (isempty(s))
                return false;
        for (const char *p = s; *p; p++, n++) {
                char c = *p;

                if (c == '.') {
                        if (prev == '.' || prev == '-')
                                return false;
                } else if (c == '-') {
                        if (prev == '.')
                                return false;
                } else if (!is_alnum(c))
                        return false;
                prev = c;
        }
        return n <= MACHINE_NAME_MAX && prev != '.' && prev != '-';
}

bool image_name_is_valid(const char *s) {
        if (isempty(s) || streq(s, ".") || streq(s, "..") || startswith(s, ".#"))
                return false;
        if (strlen(s) > 255)
                return false;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p == '/' || *p < 0x20 || *p == 0x7f)
                        return false;
        return true;
}

bool unit_name_is_slice(const char *s) {
        size_t n = strlen(s), prefix;

        if (n > 255 || n <= strlen(".slice") || !streq(s + n - strlen(".slice"), ".slice"))
                return false;
        prefix = n - strlen(".slice");
        if (s[0] == '-' || s[prefix - 1] == '-')
                return false;
        for (size_t i = 0; i < prefix; i++) {
                char c = s[i];

                if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
                    c != ':' && c != '_' && c != '.' && c != '\\' && c != '-')
                        return false;
                if (c == '-' && s[i + 1] == '-')
                        return false;
        }
        return true;
}
