/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Build tool: turns a file into a C array, so berth-spawn can carry berth-init inside itself. */
#include <stdio.h>

int main(int argc, char *argv[]) {
        FILE *in, *out;
        int c;
        unsigned long n = 0;

        if (argc != 4)
                return 2;
        in = fopen(argv[1], "rb");
        out = fopen(argv[2], "w");
        if (!in || !out)
                return 1;
        fprintf(out, "/* Generated from %s. */\n#include <stddef.h>\nconst unsigned char %s[] = {", argv[1], argv[3]);
        while ((c = fgetc(in)) != EOF)
                fprintf(out, "%s0x%02x,", n++ % 16 ? "" : "\n", c);
        fprintf(out, "\n};\nconst size_t %s_size = %lu;\n", argv[3], n);
        return fclose(out) == 0 && !ferror(in) ? 0 : 1;
}
