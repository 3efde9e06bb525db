/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth-transfer: one import or export job of berthd's, in a process of its own so that berthd
 * itself never loads libarchive.
 *
 * Run only by berthd's transfer worker (transfer.c), which has made the work entry, opened the
 * fds and stays behind to supervise, cancel and move the result into place:
 *   berth-transfer TYPE INPUT_FD OUTPUT_FD PROGRESS_FD ERR_FD COMPRESSION ALLOW_DEVICES TEMP_PATH
 * (numbers as in transfer.h; a negative fd is none; TEMP_PATH empty for exports). An error message
 * goes to ERR_FD; the exit status is 0, 3 (the image exists already) or 1. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "transfer.h"

static int run_job(const TransferJob *j, char *errbuf, size_t errsize) {
        switch (j->type) {
        case TRANSFER_IMPORT_TAR:
                return import_tar_run(j, errbuf, errsize);
        case TRANSFER_IMPORT_RAW:
                return import_raw_run(j, errbuf, errsize);
        case TRANSFER_IMPORT_FS:
                return import_fs_run(j, errbuf, errsize);
        case TRANSFER_EXPORT_TAR:
                return export_tar_run(j, errbuf, errsize);
        case TRANSFER_EXPORT_RAW:
                return export_raw_run(j, errbuf, errsize);
        case TRANSFER_CLONE: /* never a TransferJob */
        case _TRANSFER_TYPE_MAX:
        case _TRANSFER_TYPE_INVALID:
                break;
        }
        return -EINVAL;
}
static int parse_int(const char *s, int min, int max, int *ret) {
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || end == s || *end || v < min || v > max)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

int main(int argc, char *argv[]) {
        TransferJob j = { .result_fd = -1 };
        int type, compression, err_fd, allow_devices, r;
        char errbuf[512] = "";

        if (argc != 9 ||
            parse_int(argv[1], 0, _TRANSFER_TYPE_MAX - 1, &type) < 0 ||
            parse_int(argv[2], INT32_MIN, INT32_MAX, &j.input_fd) < 0 ||
            parse_int(argv[3], INT32_MIN, INT32_MAX, &j.output_fd) < 0 ||
            parse_int(argv[4], INT32_MIN, INT32_MAX, &j.progress_fd) < 0 ||
            parse_int(argv[5], 0, INT32_MAX, &err_fd) < 0 ||
            parse_int(argv[6], 0, _TRANSFER_COMPRESSION_MAX - 1, &compression) < 0 ||
            parse_int(argv[7], 0, 1, &allow_devices) < 0) {
                fprintf(stderr, "berth-transfer runs jobs of berthd's and is not meant to be run by hand.\n");
                return EXIT_FAILURE;
        }
        j.type = (TransferType) type;
        j.compression = (TransferCompression) compression;
        j.allow_devices = allow_devices;
        j.temp_path = argv[8][0] ? argv[8] : NULL;

        r = run_job(&j, errbuf, sizeof(errbuf));
        if (r < 0) {
                if (!errbuf[0])
                        (void) snprintf(errbuf, sizeof(errbuf), "%s", strerror(-r));
                (void) !write(err_fd, errbuf, strlen(errbuf));
                return r == -EEXIST ? 3 : EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}
