/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berthctl's set-property verb: live resource limits of a machine through SetMachineProperties. */
#include <string.h>

#include "ctl.h"
#include "log.h"
#include "name-util.h"
#include "parse-util.h"

/* What berthd takes (machine-resources.h): systemd's names and types, so a number goes as t,
 * a spelling like "512M", "50%", "0-1" or "infinity" as s, which berthd parses the same way as
 * its unit-file form. What an empty value means is systemd's: the default, no limit. */
typedef struct PropertyKind {
        const char *name;
        bool numeric;           /* a plain number is sent as t */
        const char *empty;      /* what "KEY=" resets to */
} PropertyKind;

static const PropertyKind properties[] = {
        { "MemoryMax",          true,  "infinity" },
        { "MemoryHigh",         true,  "infinity" },
        { "TasksMax",           true,  "infinity" },
        { "CPUWeight",          true,  "100" },
        { "IOWeight",           true,  "100" },
        { "CPUQuota",           false, "infinity" },
        { "CPUQuotaPerSecUSec", true,  "infinity" },
        { "AllowedCPUs",        false, "" },
        { "MemorySwapMax",      true,  "infinity" },
        /* "PATH BYTES" / "PATH [rwm]", one entry per assignment; empty empties the list. */
        { "IOReadBandwidthMax", false, "" },
        { "IOWriteBandwidthMax", false, "" },
        { "DeviceAllow",        false, "" },
};

static const PropertyKind *property_kind(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(properties); i++)
                if (streq(properties[i].name, name))
                        return properties + i;
        return NULL;
}

static int append_assignment(sd_bus_message *m, const char *assignment) {
        _cleanup_free_ char *name = NULL;
        const char *eq = strchr(assignment, '='), *value;
        const PropertyKind *k;
        uint64_t v;

        if (!eq || eq == assignment) {
                log_error("Not a KEY=VALUE assignment: '%s'.", assignment);
                return -EINVAL;
        }
        name = strndup(assignment, (size_t) (eq - assignment));
        if (!name)
                return log_oom();
        k = property_kind(name);
        if (!k) {
                log_error("Unknown property '%s'. Known: MemoryMax, MemoryHigh, MemorySwapMax, TasksMax, "
                          "CPUWeight, IOWeight, CPUQuota, CPUQuotaPerSecUSec, AllowedCPUs, IOReadBandwidthMax, "
                          "IOWriteBandwidthMax, DeviceAllow.", name);
                return -EINVAL;
        }
        value = isempty(eq + 1) ? k->empty : eq + 1;
        if (k->numeric && parse_uint64(value, &v) >= 0)
                return sd_bus_message_append(m, "(sv)", name, "t", v);
        return sd_bus_message_append(m, "(sv)", name, "s", value);
}

int verb_set_property(int argc, char **argv, Ctl *ctl) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *e = NULL;
        int r;

        if (argc < 3) {
                log_error("set-property needs a machine name and at least one KEY=VALUE.");
                return CTL_EXIT_USAGE;
        }
        if (!machine_name_is_valid(argv[1])) {
                e = ctl_escape(argv[1]);
                log_error("Invalid machine name '%s'.", strempty(e));
                return CTL_EXIT_USAGE;
        }
        r = ctl_new_manager_call(ctl, "SetMachineProperties", &m);
        if (r < 0)
                return CTL_EXIT_FAILURE;
        r = sd_bus_message_append(m, "sb", argv[1], ctl->runtime);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r < 0)
                return log_error_errno(r, "Failed to build SetMachineProperties: %m"), CTL_EXIT_FAILURE;
        for (int i = 2; i < argc; i++) {
                r = append_assignment(m, argv[i]);
                if (r == -EINVAL)
                        return CTL_EXIT_USAGE;
                if (r < 0)
                        return log_error_errno(r, "Failed to build SetMachineProperties: %m"), CTL_EXIT_FAILURE;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return log_error_errno(r, "Failed to build SetMachineProperties: %m"), CTL_EXIT_FAILURE;
        r = ctl_call_message(ctl, m, 0, &error, NULL);
        if (r < 0)
                return ctl_log_bus_error(&error, r, "set properties of %s", argv[1]);
        return 0;
}
