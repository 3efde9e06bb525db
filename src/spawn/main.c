/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth-spawn: boots an OS tree or runs a command in a container. */
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "container.h"
#include "image-lock-spawn.h"
#include "image.h"
#include "image-mount.h"
#include "log.h"
#include "name-util.h"
#include "register.h"
#include "settings-file.h"
#include "settings.h"
#include "strv.h"
#include "template.h"

/* Fills in what the command line left open and refuses combinations that cannot work. */
static int settings_complete(Settings *s) {
        struct stat st;
        int r;

        if (s->directory && s->image)
                return log_error_errno(-EINVAL, "--directory= and --image= exclude each other.");
        if (!s->directory && !s->image) {
                if (!s->machine)
                        return log_error_errno(-EINVAL, "Neither --directory=, --image= nor --machine= given.");
                r = image_find(s->machine, &s->directory);
                if (r == -ENOENT)
                        r = image_find_raw(s->machine, &s->image);
                if (r < 0)
                        return log_error_errno(r, "No image '%s' in the image pool: %m", s->machine);
        }
        if (s->image) {
                r = image_raw_check(s);
                if (r < 0)
                        return r;
        } else {
                if (stat(s->directory, &st) < 0)
                        return log_error_errno(negative_errno(), "Cannot use %s as the container's root: %m",
                                               s->directory);
                if (!S_ISDIR(st.st_mode))
                        return log_error_errno(-ENOTDIR, "%s is not a directory.", s->directory);
                if (streq(s->directory, "/"))
                        return log_error_errno(-EINVAL, "Refusing to use the host's root directory as a container.");
        }

        if (!s->machine) {
                /* Like nspawn: the tree's directory name, when it is a valid machine name, and
                 * for an ephemeral run a random suffix, so several can run from one tree. */
                _cleanup_free_ char *raw = s->image ? image_raw_name(s->image) : NULL;
                const char *base = s->image ? raw : strrchr(s->directory, '/') + 1;
                unsigned suffix = 0;

                if (!base)
                        return log_oom();

                if (!machine_name_is_valid(base))
                        return log_error_errno(-EINVAL, "Cannot derive a machine name from '%s', use --machine=.", base);
                if (s->ephemeral && getrandom(&suffix, sizeof(suffix), 0) != sizeof(suffix))
                        return log_error_errno(negative_errno(), "Failed to get random bytes: %m");
                if (s->ephemeral ? asprintf(&s->machine, "%.55s-%08x", base, suffix) < 0 :
                                   !(s->machine = strdup(base)))
                        return log_oom();
        }

        r = settings_find_and_load(s, getenv("BERTH_SETTINGS_DIR") ?: SETTINGS_DIR);
        if (r < 0)
                return r;

        if (s->boot && s->as_pid1)
                return log_error_errno(-EINVAL, "--boot and --as-pid1 exclude each other.");
        if (s->boot && (s->user || s->chdir))
                return log_error_errno(-EINVAL, "--user and --chdir are for a command, not for --boot.");
        if (s->ephemeral && s->volatile_mode != VOLATILE_NO)
                return log_error_errno(-EINVAL, "--ephemeral and --volatile= exclude each other.");
        /* The scope's settings go to berthd with CreateMachine; a unit of our own or no
         * registration has no scope to put them on. */
        if ((s->slice || s->properties) && (s->keep_unit || !s->register_machine))
                return log_error_errno(-EINVAL, "--slice= and --property= need a scope of berthd's: "
                                       "not with --keep-unit or --register=no.");
        if (registration_check_properties(s->properties) < 0)
                return -EINVAL;
        if (s->private_network && s->network_veth)
                s->private_network = false; /* veth implies a private network */
        if (!s->boot && strv_length(s->parameters) == 0 && strv_extend(&s->parameters, "/bin/sh") < 0)
                return log_oom();
        if (!s->console_mode_set)
                s->console_mode = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) ?
                                  CONSOLE_INTERACTIVE : CONSOLE_READ_ONLY;
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_(settings_done) Settings s;
        _cleanup_close_ int image_lock_fd = -EBADF;
        int r, status = EXIT_FAILURE;

        settings_init(&s);
        log_parse_environment();
        r = args_parse(argc, argv, &s);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
        r = template_apply(&s);
        if (r < 0)
                return EXIT_FAILURE;
        r = settings_complete(&s);
        if (r < 0)
                return EXIT_FAILURE;
        /* Before anything is mounted or changed, and held by us (not the container) until we
         * exit, reboots in place included. */
        image_lock_fd = spawn_image_lock(&s);
        if (image_lock_fd < 0)
                return EXIT_FAILURE;
        /* After the lock (which is on the image file), before anything looks at the tree. */
        if (s.image && image_mount_raw(&s) < 0)
                return EXIT_FAILURE;

        for (bool restarted = false;; restarted = true) {
                r = container_run(&s, restarted, &status);
                if (r < 0)
                        return EXIT_FAILURE;
                /* Under a unit that restarts us on 133 (--keep-unit, berth-spawn@.service), a
                 * reboot is the unit's business; run by hand, the container restarts in place. */
                if (r != CONTAINER_REBOOTED || s.keep_unit)
                        break;
                log_info("Container %s is rebooting.", s.machine);
        }
        return status;
}
