/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Settings: everything berth-spawn was asked to do, from the command line and NAME.berth files. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "exec-limits-util.h"
#include "macro.h"

typedef enum ConsoleMode {
        CONSOLE_INTERACTIVE,
        CONSOLE_READ_ONLY,
        CONSOLE_PASSIVE,
        CONSOLE_PIPE,
        _CONSOLE_MODE_MAX,
        _CONSOLE_MODE_INVALID = -EINVAL,
} ConsoleMode;

typedef enum UserNamespaceMode {
        USERNS_NO,       /* no user namespace: container root is host root */
        USERNS_FIXED,    /* BASE[:COUNT] given */
        USERNS_PICK,     /* choose a free 65536 range, never one a running machine holds */
        USERNS_IDENTITY, /* a user namespace mapping 0..65535 to itself: only for capability scoping */
        _USERNS_MODE_MAX,
        _USERNS_MODE_INVALID = -EINVAL,
} UserNamespaceMode;

typedef enum UserNamespaceOwnership {
        OWNERSHIP_AUTO,  /* map when the tree's filesystem supports idmapped mounts, else chown */
        OWNERSHIP_MAP,   /* idmapped mount of the tree: owners on disk stay as they are */
        OWNERSHIP_CHOWN, /* shift owners on disk once, recorded so the next start skips it */
        OWNERSHIP_OFF,   /* leave owners alone */
        _OWNERSHIP_MAX,
        _OWNERSHIP_INVALID = -EINVAL,
} UserNamespaceOwnership;

typedef enum VolatileMode {
        VOLATILE_NO,
        VOLATILE_YES,     /* tmpfs root with the tree's /usr read-only */
        VOLATILE_STATE,   /* tree read-only, tmpfs on /var */
        VOLATILE_OVERLAY, /* tree as the lower layer of an overlay with a tmpfs upper */
        _VOLATILE_MAX,
        _VOLATILE_INVALID = -EINVAL,
} VolatileMode;

typedef enum CustomMountType {
        CUSTOM_MOUNT_BIND,
        CUSTOM_MOUNT_BIND_RO,
        CUSTOM_MOUNT_TMPFS,
        CUSTOM_MOUNT_OVERLAY,
        CUSTOM_MOUNT_OVERLAY_RO,
        _CUSTOM_MOUNT_MAX,
        _CUSTOM_MOUNT_INVALID = -EINVAL,
} CustomMountType;

typedef struct CustomMount {
        CustomMountType type;
        char *source;       /* host path (bind), NULL for tmpfs */
        char *destination;  /* path inside the container */
        char *options;      /* bind: "rbind"/"norbind"/"idmap"; tmpfs: mount options */
        char **lower;       /* overlay: lower layers, top first; the last is the destination's */
        char *upper;        /* overlay: upper dir (NULL for overlay-ro) */
} CustomMount;

/* -p/--port: HOST_PORT on the host's addresses reaches CONTAINER_PORT of the container. */
typedef struct PortForward {
        int protocol;              /* IPPROTO_TCP or IPPROTO_UDP */
        uint16_t host_port;
        uint16_t container_port;
} PortForward;

/* [Start] Delay= at most: every later machine of the host waits for it. */
#define SETTINGS_START_DELAY_MAX 3600U

/* Which Settings fields came from the command line. A settings file never overrides them. */
typedef enum SettingsMask {
        SETTING_BOOT = 1ULL << 0,
        SETTING_DIRECTORY = 1ULL << 1,
        SETTING_HOSTNAME = 1ULL << 2,
        SETTING_UUID = 1ULL << 3,
        SETTING_READ_ONLY = 1ULL << 4,
        SETTING_COMMAND = 1ULL << 5,
        SETTING_USER = 1ULL << 6,
        SETTING_CHDIR = 1ULL << 7,
        SETTING_ENVIRONMENT = 1ULL << 8,
        SETTING_CUSTOM_MOUNTS = 1ULL << 9,
        SETTING_EPHEMERAL = 1ULL << 10,
        SETTING_VOLATILE = 1ULL << 11,
        SETTING_USERNS = 1ULL << 12,
        SETTING_OWNERSHIP = 1ULL << 13,
        SETTING_NETWORK = 1ULL << 14,
        SETTING_CAPABILITY = 1ULL << 15,
        SETTING_NO_NEW_PRIVILEGES = 1ULL << 16,
        SETTING_SYSCALL_FILTER = 1ULL << 17,
        SETTING_KILL_SIGNAL = 1ULL << 18,
        SETTING_NOTIFY_READY = 1ULL << 19,
        SETTING_AS_PID1 = 1ULL << 20,
        SETTING_CONSOLE = 1ULL << 21,
        SETTING_REBOOT_SIGNAL = 1ULL << 22,
        SETTING_POWEROFF_SIGNAL = 1ULL << 23,
        /* Exec limits (exec-limits.c): one bit per RLIMIT_*, so --rlimit=NOFILE=… masks only
         * the file's LimitNOFILE=. High bits, clear of the ones other settings take. */
        SETTING_OOM_SCORE_ADJUST = 1ULL << 46,
        SETTING_CPU_AFFINITY = 1ULL << 47,
        SETTING_RLIMIT_FIRST = 1ULL << 48, /* … 1ULL << 63, RLIMIT_NLIMITS (16) bits */
        SETTING_PORTS = 1ULL << 40,  /* high bit: clear of the bits others add meanwhile */
} SettingsMask;

typedef struct Settings {
        /* Image */
        char *directory;         /* absolute path of the tree */
        char *image;             /* -i: absolute path of a raw disk image (directory is then its mount) */
        char *machine;           /* machine name (validated); derived from the directory if unset */
        char *hostname;          /* defaults to the machine name */
        uint8_t uuid[16];
        bool uuid_set;
        bool read_only;
        char *template_base;     /* --template: path or pool name of the tree to clone on first use */

        /* What runs */
        bool boot;               /* find init and boot it; parameters are init's arguments */
        bool as_pid1;            /* run the command as PID 1 itself, without the stub init */
        char **parameters;       /* the command (or init's arguments with --boot) */
        char *user;
        char *chdir;
        char **environment;      /* extra NAME=VALUE for the payload */

        /* Mounts */
        CustomMount *mounts;
        size_t n_mounts;
        bool ephemeral;
        VolatileMode volatile_mode;

        /* Users */
        UserNamespaceMode userns_mode;
        uid_t uid_shift;         /* first host UID of the range (USERNS_FIXED/PICK result) */
        uid_t uid_range;         /* number of IDs, 65536 by default */
        UserNamespaceOwnership ownership;

        /* Network */
        bool private_network;
        bool network_veth;
        PortForward *ports;      /* -p: needs a veth-type network */
        size_t n_ports;
        char *network_veth_name;      /* --network-veth=NAME: the host end's name (default ve-/vb-MACHINE) */
        char *network_bridge;         /* the veth's host end vb-MACHINE joins this existing bridge */
        char *network_zone;           /* … or the bridge vz-ZONE, made with its first member */
        char **network_interfaces;    /* "IF[:NAME]": host links moved in for the run */
        char **network_macvlan;       /* "IF[:NAME]": a macvlan on host link IF, inside (mv-IF) */
        char **network_ipvlan;        /* "IF[:NAME]": an ipvlan on host link IF, inside (iv-IF) */
        char **network_veth_extra;    /* "HOST[:GUEST]": more veth pairs */
        char *network_namespace_path; /* join this network namespace instead of making one */

        /* Security */
        uint64_t capability_add;   /* on top of the default bounding set */
        uint64_t capability_drop;  /* taken away from it; drop wins over add */
        bool no_new_privileges;
        char **syscall_allow;      /* --system-call-filter=NAME: removed from the default deny list */
        char **syscall_deny;       /* --system-call-filter=~NAME: denied in addition */

        /* Console and lifecycle */
        ConsoleMode console_mode;
        bool console_mode_set;
        int kill_signal;           /* signal for a clean poweroff request; 0: pick from init */
        int reboot_signal;         /* signal that asks init to reboot (RebootMachine); 0: pick */
        bool notify_ready;
        bool keep_unit;
        bool register_machine;
        char *slice;               /* --slice: the scope's slice (CreateMachine) */
        char **properties;         /* --property=NAME=VALUE for the scope (CreateMachine) */

        /* Boot at startup ([Start], trusted files only): read by berth-order-generator, which
         * orders the enabled machines' units; berth-spawn itself only validates them. */
        bool start_order_set;      /* Order= given: without it the machine is in no order */
        int start_order;           /* lower starts first, as LXC's lxc.start.order */
        unsigned start_delay;      /* seconds to wait after this machine is up before the next order */

        /* Exec limits (exec-limits.c), applied to PID 1 before it runs init or berth-init */
        struct rlimit rlimits[RLIMIT_NLIMITS];
        uint32_t rlimits_set;      /* bit per RLIMIT_*: given; others get the kernel's defaults */
        int oom_score_adjust;
        bool oom_score_adjust_set;
        CpuAffinity cpu_affinity;  /* all clear: unset */

        /* Resource limits (resources.c): merged at start as the file's, overridden per
         * property by --property=, overridden by what set-property saved */
        char **resources;          /* [Resources] of the settings file: "Name=VALUE", systemd's names */
        char **resource_args;      /* --property= assignments of resource limits */
        char **devices;            /* --device= / Device=: "PATH:rwm", bound in and allowed */
        bool devices_cmdline;      /* --device= given: the file's Device= is ignored */

        /* Bookkeeping */
        uint64_t set_mask;         /* SettingsMask bits set on the command line */
} Settings;

void settings_init(Settings *s);
void settings_done(Settings *s);

/* Adds a mount; takes ownership of nothing, copies the strings. */
int settings_add_mount(Settings *s, const CustomMount *m);

const char *console_mode_to_string(ConsoleMode m);
ConsoleMode console_mode_from_string(const char *s);
const char *userns_mode_to_string(UserNamespaceMode m);
UserNamespaceMode userns_mode_from_string(const char *s);
const char *ownership_to_string(UserNamespaceOwnership m);
UserNamespaceOwnership ownership_from_string(const char *s);
const char *volatile_mode_to_string(VolatileMode m);
VolatileMode volatile_mode_from_string(const char *s);
const char *custom_mount_type_to_string(CustomMountType t);
CustomMountType custom_mount_type_from_string(const char *s);

/* Parses "SRC[:DST[:OPTIONS]]" (bind), "DST[:OPTIONS]" (tmpfs) or "LOWER:...:UPPER:DST"
 * (overlay) into a CustomMount and adds it. Backslash escapes a ':' inside a path. */
int settings_parse_mount(Settings *s, CustomMountType type, const char *spec);

/* "yes", "no", "pick", "identity", "BASE" or "BASE:COUNT". */
int settings_parse_private_users(Settings *s, const char *value);
