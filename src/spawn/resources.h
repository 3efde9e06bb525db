/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Resource limits at start: the settings file's [Resources], --property=, Device=/--device= and
 * what `berthctl set-property` saved, merged into one set and applied before the payload runs. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "cgroup.h"
#include "device-policy.h"
#include "resource-limits.h"
#include "settings.h"

/* Whether "Name=VALUE" names a resource limit (systemd's names, and CPUQuota). */
bool resources_is_assignment(const char *assignment);
/* Checks one "Name=VALUE" of a resource limit: 0, -EINVAL/-ERANGE for a bad value. */
int resources_check_assignment(const char *assignment);
/* "PATH[:rwm]", PATH a device node below /dev: the canonical "PATH:rwm" in *RET. */
int resources_parse_device(const char *spec, char **ret);

/* [Resources] KEY=VALUE of a settings file into T->resources (an empty value drops what the
 * file said for KEY before). Returns 1 when the value reaches beyond the container: a weight
 * above the default 100, every DeviceAllow=. */
int resources_settings_add(Settings *t, const char *key, const char *value);
/* Device= of a settings file into T->devices (empty resets). */
int resources_settings_add_device(Settings *t, const char *value);
/* Moves what a settings file set (in T) into S; the command line's --device= wins. */
void resources_settings_merge(Settings *s, Settings *t);

/* The set the machine starts with: the file's, each property --property= names replaced by
 * the command line's, each property set-property saved replaced by that. Device= nodes are in
 * DeviceAllow too. */
int resources_from_settings(const Settings *s, ResourceLimits *ret);

/* The extra rules of the container's device policy: every DeviceAllow= and Device= node (a
 * Device= node with 'm', so that berth-spawn can make it in /dev). */
int resources_device_rules(const Settings *s, DeviceRule **ret, size_t *ret_n);
/* Attaches the device policy with those rules to CGROUP_FD; returns the program's fd. */
int resources_attach_device_policy(const Settings *s, int cgroup_fd);
/* Makes the Device= nodes in the container's /dev (DEV_FD), owned by its root. */
int resources_make_nodes(const Settings *s, int dev_fd, uid_t uid_shift);

/* Unregistered runs: writes the start set (without DeviceAllow, which the device policy holds)
 * to the machine's own cgroup, with v1 directories of ours where cgroup2 lacks a controller
 * (recorded in CG, removed with it). A limit this host cannot apply fails the start. */
int resources_apply_own(const Settings *s, MachineCgroup *cg);
