/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Command mode's PID 1: berth-init (src/stub), run from a sealed memfd copy.
 *
 * Staying PID 1 ourselves would leave berth-spawn's host binary as /proc/1/exe in the container,
 * where its root could open it and, once it is no longer busy, overwrite it (CVE-2019-5736).
 * A sealed memfd can be neither written nor grown, and is gone with the container. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "stub-init.h"

extern const unsigned char berth_stub_init[];
extern const size_t berth_stub_init_size;

_Noreturn void stub_init_exec(char **argv, char **env) {
        size_t done = 0;
        int fd;

        fd = memfd_create("berth-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                goto fail;
        while (done < berth_stub_init_size) {
                ssize_t k = write(fd, berth_stub_init + done, berth_stub_init_size - done);
                if (k <= 0)
                        goto fail;
                done += (size_t) k;
        }
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
                goto fail;
        fexecve(fd, argv, env);
fail:
        log_error_errno(negative_errno(), "Failed to start berth-init: %m");
        _exit(127);
}
