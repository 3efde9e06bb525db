/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* berth-spawn's command line, spelled like systemd-nspawn's wherever nspawn has the option. */
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "args.h"
#include "caps.h"
#include "log.h"
#include "name-util.h"
#include "network.h"
#include "parse-util.h"
#include "resources.h"
#include "port-forward.h"
#include "seccomp-table.h"
#include "strv.h"

enum {
        ARG_VERSION = 0x100,
        ARG_HOSTNAME,
        ARG_UUID,
        ARG_READ_ONLY,
        ARG_AS_PID1,
        ARG_CHDIR,
        ARG_BIND,
        ARG_BIND_RO,
        ARG_TMPFS,
        ARG_OVERLAY,
        ARG_OVERLAY_RO,
        ARG_VOLATILE,
        ARG_PRIVATE_USERS,
        ARG_PRIVATE_USERS_OWNERSHIP,
        ARG_PRIVATE_NETWORK,
        ARG_NETWORK_VETH,
        ARG_CAPABILITY,
        ARG_DROP_CAPABILITY,
        ARG_NO_NEW_PRIVILEGES,
        ARG_SYSTEM_CALL_FILTER,
        ARG_CONSOLE,
        ARG_KILL_SIGNAL,
        ARG_REBOOT_SIGNAL,
        ARG_NOTIFY_READY,
        ARG_KEEP_UNIT,
        ARG_REGISTER,
        ARG_SLICE,
        ARG_PROPERTY,
        ARG_TEMPLATE,
        ARG_DEVICE,
        ARG_RLIMIT,
        ARG_OOM_SCORE_ADJUST,
        ARG_CPU_AFFINITY,
        ARG_NETWORK_BRIDGE,
        ARG_NETWORK_ZONE,
        ARG_NETWORK_INTERFACE,
        ARG_NETWORK_MACVLAN,
        ARG_NETWORK_IPVLAN,
        ARG_NETWORK_VETH_EXTRA,
        ARG_NETWORK_NAMESPACE_PATH,
};

static void help(void) {
        printf("berth-spawn [OPTIONS...] [COMMAND [ARGS...]]\n\n"
               "Run a command or boot an OS tree in a container.\n\n"
               "  -h --help                 Show this help\n"
               "     --version              Show the version\n"
               "  -q --quiet                Only show errors\n"
               "Image:\n"
               "  -D --directory=PATH       Root directory of the container\n"
               "  -i --image=FILE|DEVICE    Raw disk image (GPT or a bare file system) to boot\n"
               "  -M --machine=NAME         Machine name; finds the image in the pool without -D\n"
               "     --hostname=NAME        Hostname inside (default: the machine name)\n"
               "     --uuid=UUID            The machine's UUID\n"
               "     --read-only            Mount the root read-only\n"
               "     --template=BASE        Create the tree from BASE (path or pool image) on first use\n"
               "Execution:\n"
               "  -b --boot                 Boot the init of the tree; ARGS go to init\n"
               "     --as-pid1              Run COMMAND as PID 1 itself, without berth's stub init\n"
               "  -u --user=USER            Run COMMAND as USER (looked up in the container)\n"
               "     --chdir=PATH           Working directory of COMMAND\n"
               "  -E --setenv=NAME=VALUE    Set an environment variable\n"
               "     --kill-signal=SIGNAL   Signal that asks the container to power off\n"
               "     --reboot-signal=SIGNAL Signal that asks the container to reboot\n"
               "     --notify-ready=BOOL    Forward the container's READY=1 to our notify socket\n"
               "     --rlimit=NAME=SOFT[:HARD]  Set a resource limit (NOFILE, NPROC, …) of the payload\n"
               "     --oom-score-adjust=N   OOM score adjustment of the payload (-1000…1000)\n"
               "     --cpu-affinity=CPUS    CPUs the payload may run on (\"0-1,3\")\n"
               "Mounts:\n"
               "     --bind=SRC[:DST[:OPTS]]      Bind-mount a host path (OPTS: rbind, norbind, idmap)\n"
               "     --bind-ro=SRC[:DST[:OPTS]]   The same, read-only\n"
               "     --tmpfs=DST[:OPTS]           Mount a tmpfs\n"
               "     --overlay=LOWER...:UPPER:DST An overlay of host paths\n"
               "     --overlay-ro=LOWER...:DST    A read-only overlay\n"
               "  -x --ephemeral            Run on a throwaway snapshot of the tree\n"
               "     --volatile[=MODE]      yes, state, overlay or no\n"
               "Users:\n"
               "  -U                        Same as --private-users=pick --private-users-ownership=auto\n"
               "     --private-users[=MODE] no, yes, pick, identity, BASE[:COUNT]\n"
               "     --private-users-ownership=MODE  auto, map, chown or off\n"
               "Network:\n"
               "     --private-network      Only a loopback device of its own\n"
               "  -n --network-veth[=NAME]  A veth link to the host (ve-MACHINE or NAME / host0)\n"
               "     --network-bridge=BR    A veth whose host end vb-MACHINE is in bridge BR\n"
               "     --network-zone=ZONE    A veth in the bridge vz-ZONE, made for the zone's first member\n"
               "     --network-interface=IF[:NAME]  Move host link IF in (as NAME) for the run\n"
               "     --network-macvlan=IF[:NAME]    A macvlan on host link IF inside (mv-IF)\n"
               "     --network-ipvlan=IF[:NAME]     An ipvlan on host link IF inside (iv-IF)\n"
               "     --network-veth-extra=HOST[:GUEST]  One more veth pair\n"
               "     --network-namespace-path=PATH  Join this network namespace\n"
               "  -p --port=[tcp|udp:]HOST[:CONTAINER]  Forward a host port to the container\n"
               "Security:\n"
               "     --capability=CAPS      Keep these capabilities too\n"
               "     --drop-capability=CAPS Drop these capabilities\n"
               "     --no-new-privileges=BOOL  Set no_new_privs for the payload\n"
               "     --system-call-filter=LIST  Allow (NAME) or deny (~NAME) system calls\n"
               "Console and integration:\n"
               "     --console=MODE         interactive, read-only, passive or pipe\n"
               "  -P --pipe                 Same as --console=pipe\n"
               "     --keep-unit            Run in our own unit's cgroup\n"
               "     --register=BOOL        Register with berthd\n"
               "     --slice=SLICE          Put the machine's scope in this slice\n"
               "     --property=NAME=VALUE  Set a property of the machine's scope, or a resource limit\n"
               "                            (MemoryMax, CPUQuota, IOReadBandwidthMax, DeviceAllow, …)\n"
               "     --device=PATH[:rwm]    Make device node PATH in the container and allow it\n");
}

/* As in nspawn: a leading "~" makes the whole list a deny list. */
static int add_syscall_filter(Settings *s, const char *list) {
        bool deny = list[0] == '~';
        _cleanup_free_ char *copy = strdup(list + deny);
        char *save = NULL;

        if (!copy)
                return log_oom();
        for (char *w = strtok_r(copy, " ,", &save); w; w = strtok_r(NULL, " ,", &save)) {
                if (!seccomp_name_valid(w))
                        return log_error_errno(-EINVAL, "Unknown system call or group: %s", w);
                if (strv_extend(deny ? &s->syscall_deny : &s->syscall_allow, w) < 0)
                        return log_oom();
        }
        return 0;
}

/* Absolute path of a user-given directory, without requiring it to exist (checked later). */
static int absolute_path(const char *p, char **ret) {
        char cwd[PATH_MAX];

        if (p[0] == '/')
                *ret = strdup(p);
        else if (!getcwd(cwd, sizeof(cwd)))
                return -errno;
        else if (asprintf(ret, "%s/%s", cwd, p) < 0)
                *ret = NULL;
        if (!*ret)
                return -ENOMEM;
        /* Strip trailing slashes: "tree/" and "tree" are the same machine. */
        for (size_t l = strlen(*ret); l > 1 && (*ret)[l - 1] == '/'; l--)
                (*ret)[l - 1] = 0;
        return 0;
}

#define FAIL(r, ...) do { log_error(__VA_ARGS__); return (r); } while (0)

/* --rlimit=, --oom-score-adjust=, --cpu-affinity=: as nspawn's; the last of each wins. */
static int parse_exec_limit(Settings *s, int c, const char *arg) {
        if (c == ARG_RLIMIT) {
                const char *eq = strchr(arg, '=');
                _cleanup_free_ char *name = eq ? strndup(arg, (size_t) (eq - arg)) : NULL;
                int resource;

                if (!eq)
                        FAIL(-EINVAL, "--rlimit= needs NAME=SOFT[:HARD]: %s", arg);
                if (!name)
                        return log_oom();
                resource = rlimit_from_string(name);
                if (resource < 0)
                        FAIL(-EINVAL, "Unknown resource limit: %s", name);
                if (rlimit_parse(resource, eq + 1, &s->rlimits[resource]) < 0)
                        FAIL(-EINVAL, "Invalid --rlimit= value, expected SOFT[:HARD] with numbers or "
                             "\"infinity\" and SOFT not above HARD: %s", arg);
                s->rlimits_set |= 1U << resource;
                s->set_mask |= (uint64_t) SETTING_RLIMIT_FIRST << resource;
        } else if (c == ARG_OOM_SCORE_ADJUST) {
                if (parse_oom_score_adjust(arg, &s->oom_score_adjust) < 0)
                        FAIL(-EINVAL, "Invalid --oom-score-adjust=, expected an integer in -1000…1000: %s", arg);
                s->oom_score_adjust_set = true;
                s->set_mask |= SETTING_OOM_SCORE_ADJUST;
        } else {
                if (cpu_affinity_parse(arg, &s->cpu_affinity) < 0)
                        FAIL(-EINVAL, "Invalid --cpu-affinity=, expected CPU numbers and ranges below %u "
                             "(\"0-1,3\"): %s", CPU_AFFINITY_MAX, arg);
                s->set_mask |= SETTING_CPU_AFFINITY;
        }
        return 0;
}

/* The network options: each but the namespace path gives the container a network of its own,
 * as in nspawn; bridge and zone are a veth too. Names are checked here, the combinations once
 * the settings file is read too (network_settings_check()). */
static int parse_network_option(Settings *s, int c, const char *arg) {
        char ***list = c == ARG_NETWORK_INTERFACE ? &s->network_interfaces :
                       c == ARG_NETWORK_MACVLAN ? &s->network_macvlan :
                       c == ARG_NETWORK_IPVLAN ? &s->network_ipvlan :
                       c == ARG_NETWORK_VETH_EXTRA ? &s->network_veth_extra : NULL;
        char **field = c == ARG_NETWORK_BRIDGE ? &s->network_bridge :
                       c == ARG_NETWORK_ZONE ? &s->network_zone :
                       c == ARG_NETWORK_VETH || c == 'n' ? &s->network_veth_name : &s->network_namespace_path;

        s->set_mask |= SETTING_NETWORK;
        if (list) {
                _cleanup_free_ char *a = NULL, *b = NULL;
                int r = network_ifname_pair_parse(arg, &a, &b);

                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0)
                        FAIL(-EINVAL, "Invalid interface name in %s: at most %d characters, no '/', ':', "
                             "'%%' or blanks.", arg, IFNAMSIZ - 1);
                if (strv_extend(list, arg) < 0)
                        return log_oom();
                s->private_network = true;
                return 0;
        }
        if (c == ARG_NETWORK_NAMESPACE_PATH) {
                free(*field);
                *field = NULL;
                if (absolute_path(arg, field) < 0)
                        return log_oom();
                return 0;
        }
        if (arg && (c == ARG_NETWORK_ZONE ? strlen(arg) + 3 >= IFNAMSIZ || !network_ifname_is_valid(arg) :
                                            !network_ifname_is_valid(arg)))
                FAIL(-EINVAL, "Invalid %s name: %s (the interface name%s must have at most %d characters, "
                     "no '/', ':', '%%' or blanks).", c == ARG_NETWORK_ZONE ? "zone" : "interface", arg,
                     c == ARG_NETWORK_ZONE ? " vz-ZONE" : "", IFNAMSIZ - 1);
        free(*field);
        *field = NULL;
        if (arg && !(*field = strdup(arg)))
                return log_oom();
        s->network_veth = true;
        s->private_network = true;
        return 0;
}

static int parse_option(Settings *s, int c, const char *arg) {
        int r;

        switch (c) {
        case 'D':
                free(s->directory);
                if (absolute_path(arg, &s->directory) < 0)
                        return log_oom();
                s->set_mask |= SETTING_DIRECTORY;
                break;
        case 'i':
                free(s->image);
                if (absolute_path(arg, &s->image) < 0)
                        return log_oom();
                s->set_mask |= SETTING_DIRECTORY;
                break;
        case 'M':
                if (!machine_name_is_valid(arg))
                        FAIL(-EINVAL, "Invalid machine name: %s", arg);
                free(s->machine);
                if (!(s->machine = strdup(arg)))
                        return log_oom();
                break;
        case ARG_HOSTNAME:
                if (!machine_name_is_valid(arg))
                        FAIL(-EINVAL, "Invalid hostname: %s", arg);
                free(s->hostname);
                if (!(s->hostname = strdup(arg)))
                        return log_oom();
                s->set_mask |= SETTING_HOSTNAME;
                break;
        case ARG_UUID:
                if (parse_uuid(arg, s->uuid) < 0)
                        FAIL(-EINVAL, "Invalid UUID: %s", arg);
                s->uuid_set = true;
                s->set_mask |= SETTING_UUID;
                break;
        case ARG_READ_ONLY:
                s->read_only = true;
                s->set_mask |= SETTING_READ_ONLY;
                break;
        case 'b':
                s->boot = true;
                s->set_mask |= SETTING_BOOT;
                break;
        case ARG_AS_PID1:
                s->as_pid1 = true;
                s->set_mask |= SETTING_AS_PID1;
                break;
        case 'u':
                free(s->user);
                if (!(s->user = strdup(arg)))
                        return log_oom();
                s->set_mask |= SETTING_USER;
                break;
        case ARG_CHDIR:
                if (arg[0] != '/')
                        FAIL(-EINVAL, "--chdir= needs an absolute path: %s", arg);
                free(s->chdir);
                if (!(s->chdir = strdup(arg)))
                        return log_oom();
                s->set_mask |= SETTING_CHDIR;
                break;
        case 'E':
                if (!strchr(arg, '=') || arg[0] == '=')
                        FAIL(-EINVAL, "--setenv= needs NAME=VALUE: %s", arg);
                if (strv_env_set(&s->environment, arg) < 0)
                        return log_oom();
                s->set_mask |= SETTING_ENVIRONMENT;
                break;
        case ARG_BIND:
        case ARG_BIND_RO:
        case ARG_TMPFS:
        case ARG_OVERLAY:
        case ARG_OVERLAY_RO: {
                CustomMountType t = c == ARG_BIND ? CUSTOM_MOUNT_BIND : c == ARG_BIND_RO ? CUSTOM_MOUNT_BIND_RO :
                                    c == ARG_TMPFS ? CUSTOM_MOUNT_TMPFS : c == ARG_OVERLAY ? CUSTOM_MOUNT_OVERLAY :
                                    CUSTOM_MOUNT_OVERLAY_RO;
                r = settings_parse_mount(s, t, arg);
                if (r < 0)
                        FAIL(r, "Invalid --%s= argument: %s", custom_mount_type_to_string(t), arg);
                s->set_mask |= SETTING_CUSTOM_MOUNTS;
                break;
        }
        case 'x':
                s->ephemeral = true;
                s->set_mask |= SETTING_EPHEMERAL;
                break;
        case ARG_VOLATILE: {
                VolatileMode m = arg ? volatile_mode_from_string(arg) : VOLATILE_YES;
                if (arg && (r = parse_boolean(arg)) >= 0)
                        m = r ? VOLATILE_YES : VOLATILE_NO;
                if ((int) m < 0)
                        FAIL(-EINVAL, "Invalid --volatile= mode: %s", arg);
                s->volatile_mode = m;
                s->set_mask |= SETTING_VOLATILE;
                break;
        }
        case 'U':
                s->userns_mode = USERNS_PICK;
                if (!(s->set_mask & SETTING_OWNERSHIP))
                        s->ownership = OWNERSHIP_AUTO;
                s->set_mask |= SETTING_USERNS;
                break;
        case ARG_PRIVATE_USERS:
                if (settings_parse_private_users(s, arg ?: "yes") < 0)
                        FAIL(-EINVAL, "Invalid --private-users= argument: %s", arg);
                s->set_mask |= SETTING_USERNS;
                break;
        case ARG_PRIVATE_USERS_OWNERSHIP: {
                UserNamespaceOwnership o = ownership_from_string(arg);
                if ((int) o < 0)
                        FAIL(-EINVAL, "Invalid --private-users-ownership= argument: %s", arg);
                s->ownership = o;
                s->set_mask |= SETTING_OWNERSHIP;
                break;
        }
        case ARG_PRIVATE_NETWORK:
                s->private_network = true;
                s->set_mask |= SETTING_NETWORK;
                break;
        case 'n':
        case ARG_NETWORK_VETH:
        case ARG_NETWORK_BRIDGE:
        case ARG_NETWORK_ZONE:
        case ARG_NETWORK_INTERFACE:
        case ARG_NETWORK_MACVLAN:
        case ARG_NETWORK_IPVLAN:
        case ARG_NETWORK_VETH_EXTRA:
        case ARG_NETWORK_NAMESPACE_PATH:
                return parse_network_option(s, c, c == 'n' ? NULL : arg);
        case 'p':
                r = settings_add_port(s, arg);
                if (r == -EEXIST)
                        FAIL(r, "Host port of --port=%s is forwarded twice.", arg);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0)
                        FAIL(r, "Invalid --port=, expected [tcp|udp:]HOST[:CONTAINER] with ports "
                             "1…65535: %s", arg);
                s->set_mask |= SETTING_PORTS;
                break;
        case ARG_CAPABILITY:
        case ARG_DROP_CAPABILITY: {
                uint64_t m;
                if (capability_list_parse(arg, &m) < 0)
                        FAIL(-EINVAL, "Invalid capability list: %s", arg);
                if (c == ARG_CAPABILITY)
                        s->capability_add |= m;
                else
                        s->capability_drop |= m;
                s->set_mask |= SETTING_CAPABILITY;
                break;
        }
        case ARG_NO_NEW_PRIVILEGES:
                if ((r = parse_boolean(arg)) < 0)
                        FAIL(-EINVAL, "Invalid boolean: %s", arg);
                s->no_new_privileges = r;
                s->set_mask |= SETTING_NO_NEW_PRIVILEGES;
                break;
        case ARG_SYSTEM_CALL_FILTER:
                r = add_syscall_filter(s, arg);
                if (r < 0)
                        return r;
                s->set_mask |= SETTING_SYSCALL_FILTER;
                break;
        case ARG_CONSOLE:
        case 'P': {
                ConsoleMode m = c == 'P' ? CONSOLE_PIPE : console_mode_from_string(arg);
                if ((int) m < 0)
                        FAIL(-EINVAL, "Invalid --console= mode: %s", arg);
                s->console_mode = m;
                s->console_mode_set = true;
                s->set_mask |= SETTING_CONSOLE;
                break;
        }
        case ARG_KILL_SIGNAL:
        case ARG_REBOOT_SIGNAL:
                if ((r = signal_from_string(arg)) < 0)
                        FAIL(-EINVAL, "Invalid signal: %s", arg);
                if (c == ARG_KILL_SIGNAL) {
                        s->kill_signal = r;
                        s->set_mask |= SETTING_KILL_SIGNAL;
                } else {
                        s->reboot_signal = r;
                        s->set_mask |= SETTING_REBOOT_SIGNAL;
                }
                break;
        case ARG_NOTIFY_READY:
                if ((r = parse_boolean(arg)) < 0)
                        FAIL(-EINVAL, "Invalid boolean: %s", arg);
                s->notify_ready = r;
                s->set_mask |= SETTING_NOTIFY_READY;
                break;
        case ARG_KEEP_UNIT:
                s->keep_unit = true;
                break;
        case ARG_REGISTER:
                if ((r = parse_boolean(arg)) < 0)
                        FAIL(-EINVAL, "Invalid boolean: %s", arg);
                s->register_machine = r;
                break;
        case ARG_SLICE:
                /* A unit name: what systemd would take, so a bad one fails here, not later. */
                if (!unit_name_is_slice(arg))
                        FAIL(-EINVAL, "Invalid slice name: %s", arg);
                free(s->slice);
                if (!(s->slice = strdup(arg)))
                        return log_oom();
                break;
        case ARG_PROPERTY:
                if (!strchr(arg, '=') || arg[0] == '=')
                        FAIL(-EINVAL, "Invalid property, expected NAME=VALUE: %s", arg);
                /* Resource limits are berth's to apply, registered or not (resources.c). */
                if (resources_is_assignment(arg)) {
                        if (resources_check_assignment(arg) < 0)
                                FAIL(-EINVAL, "Invalid resource limit: %s", arg);
                        if (strv_extend(&s->resource_args, arg) < 0)
                                return log_oom();
                        break;
                }
                if (strv_extend(&s->properties, arg) < 0)
                        return log_oom();
                break;
        case ARG_DEVICE: {
                char *d = NULL;

                if (resources_parse_device(arg, &d) < 0)
                        FAIL(-EINVAL, "Invalid --device=, expected a device node below /dev and optionally "
                             ":ACCESS (r, w, m): %s", arg);
                if (strv_consume(&s->devices, d) < 0)
                        return log_oom();
                s->devices_cmdline = true;
                break;
        }
        case ARG_TEMPLATE:
                free(s->template_base);
                s->template_base = NULL;
                /* A path, or the name of an image in the pool as nspawn takes it. */
                if (!strchr(arg, '/') && !image_name_is_valid(arg))
                        FAIL(-EINVAL, "Invalid template image name: %s", arg);
                if (strchr(arg, '/') ? absolute_path(arg, &s->template_base) < 0 : !(s->template_base = strdup(arg)))
                        return log_oom();
                break;
        case ARG_RLIMIT:
        case ARG_OOM_SCORE_ADJUST:
        case ARG_CPU_AFFINITY:
                return parse_exec_limit(s, c, arg);
        case 'q':
                log_set_max_level(LOG_ERR);
                break;
        default:
                return -EINVAL;
        }
        return 0;
}

int args_parse(int argc, char *argv[], Settings *s) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "quiet", no_argument, NULL, 'q' },
                { "directory", required_argument, NULL, 'D' },
                { "image", required_argument, NULL, 'i' },
                { "machine", required_argument, NULL, 'M' },
                { "hostname", required_argument, NULL, ARG_HOSTNAME },
                { "uuid", required_argument, NULL, ARG_UUID },
                { "read-only", no_argument, NULL, ARG_READ_ONLY },
                { "boot", no_argument, NULL, 'b' },
                { "as-pid1", no_argument, NULL, ARG_AS_PID1 },
                { "user", required_argument, NULL, 'u' },
                { "chdir", required_argument, NULL, ARG_CHDIR },
                { "setenv", required_argument, NULL, 'E' },
                { "bind", required_argument, NULL, ARG_BIND },
                { "bind-ro", required_argument, NULL, ARG_BIND_RO },
                { "tmpfs", required_argument, NULL, ARG_TMPFS },
                { "overlay", required_argument, NULL, ARG_OVERLAY },
                { "overlay-ro", required_argument, NULL, ARG_OVERLAY_RO },
                { "ephemeral", no_argument, NULL, 'x' },
                { "volatile", optional_argument, NULL, ARG_VOLATILE },
                { "private-users", optional_argument, NULL, ARG_PRIVATE_USERS },
                { "private-users-ownership", required_argument, NULL, ARG_PRIVATE_USERS_OWNERSHIP },
                { "private-network", no_argument, NULL, ARG_PRIVATE_NETWORK },
                { "network-veth", optional_argument, NULL, ARG_NETWORK_VETH },
                { "network-bridge", required_argument, NULL, ARG_NETWORK_BRIDGE },
                { "network-zone", required_argument, NULL, ARG_NETWORK_ZONE },
                { "network-interface", required_argument, NULL, ARG_NETWORK_INTERFACE },
                { "network-macvlan", required_argument, NULL, ARG_NETWORK_MACVLAN },
                { "network-ipvlan", required_argument, NULL, ARG_NETWORK_IPVLAN },
                { "network-veth-extra", required_argument, NULL, ARG_NETWORK_VETH_EXTRA },
                { "network-namespace-path", required_argument, NULL, ARG_NETWORK_NAMESPACE_PATH },
                { "port", required_argument, NULL, 'p' },
                { "capability", required_argument, NULL, ARG_CAPABILITY },
                { "drop-capability", required_argument, NULL, ARG_DROP_CAPABILITY },
                { "no-new-privileges", required_argument, NULL, ARG_NO_NEW_PRIVILEGES },
                { "system-call-filter", required_argument, NULL, ARG_SYSTEM_CALL_FILTER },
                { "console", required_argument, NULL, ARG_CONSOLE },
                { "pipe", no_argument, NULL, 'P' },
                { "kill-signal", required_argument, NULL, ARG_KILL_SIGNAL },
                { "reboot-signal", required_argument, NULL, ARG_REBOOT_SIGNAL },
                { "notify-ready", required_argument, NULL, ARG_NOTIFY_READY },
                { "keep-unit", no_argument, NULL, ARG_KEEP_UNIT },
                { "register", required_argument, NULL, ARG_REGISTER },
                { "slice", required_argument, NULL, ARG_SLICE },
                { "property", required_argument, NULL, ARG_PROPERTY },
                { "template", required_argument, NULL, ARG_TEMPLATE },
                { "device", required_argument, NULL, ARG_DEVICE },
                { "rlimit", required_argument, NULL, ARG_RLIMIT },
                { "oom-score-adjust", required_argument, NULL, ARG_OOM_SCORE_ADJUST },
                { "cpu-affinity", required_argument, NULL, ARG_CPU_AFFINITY },
                {}
        };
        int c, r;

        /* "+": stop at the first non-option, so the command's own options stay its own. */
        while ((c = getopt_long(argc, argv, "+hqD:i:M:bu:E:xUnPp:", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return 1;
                case ARG_VERSION:
                        printf("berth-spawn %s\n", PROJECT_VERSION);
                        return 1;
                case '?':
                        return -EINVAL;
                default:
                        r = parse_option(s, c, optarg);
                        if (r < 0)
                                return r;
                }
        }

        if (optind < argc) {
                for (int i = optind; i < argc; i++)
                        if (strv_extend(&s->parameters, argv[i]) < 0)
                                return log_oom();
                s->set_mask |= SETTING_COMMAND;
        }
        return 0;
}
