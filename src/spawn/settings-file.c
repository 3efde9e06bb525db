/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NAME.berth settings files: the keys of nspawn's .nspawn files, read with inih. */
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "caps.h"
#include "log.h"
#include "name-util.h"
#include "network.h"
#include "parse-util.h"
#include "resources.h"
#include "port-forward.h"
#include "settings-file.h"
#include "strv.h"

/* A settings file is a few hundred bytes; anything near this is not one, and we never read
 * without a bound. */
#define SETTINGS_FILE_MAX (1024 * 1024)

/* inih has two extensions that systemd's syntax lacks: ';' after whitespace starts an inline
 * comment, and ':' separates a key from its value like '='. Either would silently change what
 * "Parameters=/bin/sh -c 'a ; b'" or "Bind=/a:/b" means to a reader who knows nspawn. The line
 * reader hides both characters behind bytes a settings file may not contain, and the handler
 * puts them back, so inih splits only at '=' and strips only whole-line comments. */
#define HIDDEN_SEMICOLON '\x1e'
#define HIDDEN_COLON '\x1f'

/* What a file set, field by field, so that merging touches nothing else. Several keys share one
 * SettingsMask bit (Capability= and DropCapability=), so the mask is too coarse for this. */
typedef enum Field {
        FIELD_BOOT = 1U << 0,
        FIELD_PARAMETERS = 1U << 1,
        FIELD_USER = 1U << 2,
        FIELD_CHDIR = 1U << 3,
        FIELD_ENVIRONMENT = 1U << 4,
        FIELD_USERNS = 1U << 5,
        FIELD_NO_NEW_PRIVILEGES = 1U << 6,
        FIELD_CAPABILITY_ADD = 1U << 7,
        FIELD_CAPABILITY_DROP = 1U << 8,
        FIELD_SYSCALL_FILTER = 1U << 9,
        FIELD_KILL_SIGNAL = 1U << 10,
        FIELD_REBOOT_SIGNAL = 1U << 11,
        FIELD_HOSTNAME = 1U << 12,
        FIELD_UUID = 1U << 13,
        FIELD_NOTIFY_READY = 1U << 14,
        FIELD_AS_PID1 = 1U << 15,
        FIELD_EPHEMERAL = 1U << 16,
        FIELD_READ_ONLY = 1U << 17,
        FIELD_VOLATILE = 1U << 18,
        FIELD_MOUNTS = 1U << 19,
        FIELD_OWNERSHIP = 1U << 20,
        FIELD_PRIVATE_NETWORK = 1U << 21,
        FIELD_VETH = 1U << 22,
        FIELD_NETWORK_LINKS = 1U << 28, /* Bridge=, Zone=, Interface=, …: high, clear of others' bits */
        FIELD_PORTS = 1U << 30, /* high: clear of the bits others add meanwhile */
        FIELD_START_ORDER = 1U << 23,
        FIELD_START_DELAY = 1U << 24,
} Field;

/* Whether a key may be honoured in an untrusted file (one lying beside the image). */
typedef enum Privilege {
        PRIVILEGE_NEVER,  /* only affects what happens inside the container */
        PRIVILEGE_VALUE,  /* the parser tells, per value: values that only take away are fine */
        PRIVILEGE_ALWAYS, /* reaches the host: its paths, devices, network, capabilities */
} Privilege;

typedef struct SettingsKey SettingsKey;

/* Parses VALUE into T. Returns negative on a malformed value, 1 when this value widens the
 * container's access to the host (only honoured when trusted), 0 otherwise. */
typedef int (*KeyParser)(const SettingsKey *k, Settings *t, const char *value);

struct SettingsKey {
        const char *section;
        const char *name;
        KeyParser parse;
        size_t offset;         /* the field, for the generic parsers */
        int arg;               /* parser-specific: the privileged boolean value, a mount type */
        Privilege privilege;
        uint64_t setting;      /* SettingsMask: set on the command line → the file's value is ignored */
        Field fields;
        const char *expected;  /* for the error message */
};

typedef struct ParseState {
        const char *path;
        bool trusted;
        uint64_t cmdline_mask;

        const char *data;
        size_t size;
        size_t pos;
        unsigned line;

        int error;
        Settings scratch;      /* what the file asks for, merged into S only on success */
        Settings probe;        /* every value is parsed here first, to validate and classify */
        Field fields;
} ParseState;

/* An absolute path inside the container, without ".." components: it is resolved inside the
 * root later anyway, but a clear refusal beats a surprising directory. */
static bool container_path_ok(const char *p) {
        if (!p || p[0] != '/' || strlen(p) >= PATH_MAX)
                return false;
        for (const char *c = p; (c = strstr(c, "..")); c += 2)
                if (c[-1] == '/' && (c[2] == '/' || c[2] == 0))
                        return false;
        return true;
}

/* A name for the container's own user database, or a numeric UID: never a path, an option or
 * anything a shell could read twice. */
static bool user_name_ok(const char *u) {
        if (isempty(u) || strlen(u) > 256 || u[0] == '-' || streq(u, ".") || streq(u, ".."))
                return false;
        for (const char *p = u; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '_' || *p == '-' || *p == '.'))
                        return false;
        return true;
}

static bool env_assignment_ok(const char *a) {
        const char *eq = strchr(a, '=');

        if (!eq || eq == a || (a[0] >= '0' && a[0] <= '9'))
                return false;
        for (const char *p = a; p < eq; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '_'))
                        return false;
        return true;
}

static bool syscall_name_ok(const char *n) {
        if (isempty(n) || strlen(n) > 64)
                return false;
        for (const char *p = n; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '_' || *p == '-' || (*p == '@' && p == n)))
                        return false;
        return true;
}

/* Splits V into words like a shell without expansions: blanks separate, '…' is literal, "…"
 * groups, and a backslash outside single quotes takes the next character literally. */
static int split_words(const char *v, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *w = malloc(strlen(v) + 1);
        const char *c = v;
        int r;

        if (!w)
                return -ENOMEM;
        for (;;) {
                char quote = 0;
                size_t n = 0;

                while (*c == ' ' || *c == '\t')
                        c++;
                if (*c == 0)
                        break;
                for (; *c; c++) {
                        if (quote == '\'') {
                                if (*c == '\'')
                                        quote = 0;
                                else
                                        w[n++] = *c;
                        } else if (*c == '\\') {
                                if (c[1] == 0)
                                        return -EINVAL;
                                w[n++] = *++c;
                        } else if (quote == '"') {
                                if (*c == '"')
                                        quote = 0;
                                else
                                        w[n++] = *c;
                        } else if (*c == '\'' || *c == '"')
                                quote = *c;
                        else if (*c == ' ' || *c == '\t')
                                break;
                        else
                                w[n++] = *c;
                }
                if (quote)
                        return -EINVAL;
                w[n] = 0;
                r = strv_extend(&l, w);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

#define FIELD(t, k, type) ((type *) ((uint8_t *) (t) + (k)->offset))

static int parse_bool(const SettingsKey *k, Settings *t, const char *v) {
        int b = parse_boolean(v);

        if (b < 0)
                return b;
        *FIELD(t, k, bool) = b;
        return b == k->arg;
}

/* Empty resets, like every list in systemd's settings files; otherwise the words are added. */
static int parse_parameters(const SettingsKey *k, Settings *t, const char *v) {
        _cleanup_strv_free_ char **words = NULL;
        int r;

        r = split_words(v, &words);
        if (r < 0)
                return r;
        if (!words) {
                t->parameters = strv_free(t->parameters);
                return 0;
        }
        STRV_FOREACH(w, words) {
                r = strv_extend(&t->parameters, *w);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Quoted words like nspawn's, each NAME=VALUE; a later NAME replaces an earlier one. */
static int parse_environment(const SettingsKey *k, Settings *t, const char *v) {
        _cleanup_strv_free_ char **words = NULL;
        int r;

        r = split_words(v, &words);
        if (r < 0)
                return r;
        if (!words) {
                t->environment = strv_free(t->environment);
                return 0;
        }
        STRV_FOREACH(w, words)
                if (!env_assignment_ok(*w))
                        return -EINVAL;
        STRV_FOREACH(w, words) {
                r = strv_env_set(&t->environment, *w);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Empty resets to the default, like systemd. */
static int set_string(char **field, const char *v) {
        char *c = NULL;

        if (!isempty(v)) {
                c = strdup(v);
                if (!c)
                        return -ENOMEM;
        }
        free(*field);
        *field = c;
        return 0;
}

static int parse_user(const SettingsKey *k, Settings *t, const char *v) {
        if (!isempty(v) && !user_name_ok(v))
                return -EINVAL;
        return set_string(&t->user, v);
}

static int parse_chdir(const SettingsKey *k, Settings *t, const char *v) {
        if (!isempty(v) && !container_path_ok(v))
                return -EINVAL;
        return set_string(&t->chdir, v);
}

static int parse_hostname(const SettingsKey *k, Settings *t, const char *v) {
        if (!isempty(v) && !machine_name_is_valid(v))
                return -EINVAL;
        return set_string(&t->hostname, v);
}

/* Turning the user namespace off hands the container the host's root. A fixed BASE chooses host
 * UIDs, which may belong to a host user or to another machine; that is the administrator's call.
 * A range berth picks, or the identity mapping, only takes away. */
static int parse_private_users(const SettingsKey *k, Settings *t, const char *v) {
        int r;

        r = settings_parse_private_users(t, v);
        if (r < 0)
                return r;
        return t->userns_mode == USERNS_NO || t->userns_mode == USERNS_FIXED;
}

/* Capability= adds to, DropCapability= takes from the bounding set; repeats accumulate and an
 * empty value resets. */
static int parse_capability(const SettingsKey *k, Settings *t, const char *v) {
        uint64_t mask = 0;
        int r;

        if (isempty(v)) {
                *FIELD(t, k, uint64_t) = 0;
                return 0;
        }
        r = capability_list_parse(v, &mask);
        if (r < 0)
                return r;
        *FIELD(t, k, uint64_t) |= mask;
        return 0;
}

/* As nspawn: "NAME @GROUP …" takes names off the default deny list (privileged), "~NAME …"
 * denies them in addition (always fine). Empty resets both. */
static int parse_syscall_filter(const SettingsKey *k, Settings *t, const char *v) {
        _cleanup_strv_free_ char **words = NULL;
        bool deny = v[0] == '~';
        int r;

        r = split_words(deny ? v + 1 : v, &words);
        if (r < 0)
                return r;
        if (!words) {
                if (deny)
                        return -EINVAL;
                t->syscall_allow = strv_free(t->syscall_allow);
                t->syscall_deny = strv_free(t->syscall_deny);
                return 0;
        }
        STRV_FOREACH(w, words)
                if (!syscall_name_ok(*w))
                        return -EINVAL;
        STRV_FOREACH(w, words) {
                r = strv_extend(deny ? &t->syscall_deny : &t->syscall_allow, *w);
                if (r < 0)
                        return r;
        }
        return !deny;
}

/* KillSignal= asks init to power off, RebootSignal= to reboot. What common inits expect:
 *   systemd:      SIGRTMIN+4 poweroff (nspawn uses SIGRTMIN+3, halt, which ends a container
 *                 the same way), SIGRTMIN+5 or SIGINT (ctrl-alt-del.target) reboot;
 *   busybox init: SIGUSR2 poweroff, SIGUSR1 halt, SIGTERM reboot;
 *   sysvinit:     SIGINT runs the inittab ctrlaltdel action (usually a reboot); no poweroff signal.
 * Empty resets to 0: let berth pick from the init it finds. */
static int parse_signal(const SettingsKey *k, Settings *t, const char *v) {
        int sig = 0;

        if (!isempty(v)) {
                sig = signal_from_string(v);
                if (sig < 0)
                        return sig;
        }
        *FIELD(t, k, int) = sig;
        return 0;
}

static int parse_machine_id(const SettingsKey *k, Settings *t, const char *v) {
        if (isempty(v)) {
                t->uuid_set = false;
                memset(t->uuid, 0, sizeof(t->uuid));
                return 0;
        }
        if (parse_uuid(v, t->uuid) < 0)
                return -EINVAL;
        t->uuid_set = true;
        return 0;
}

static int parse_volatile(const SettingsKey *k, Settings *t, const char *v) {
        VolatileMode m = volatile_mode_from_string(v);

        if (m < 0) {
                int b = parse_boolean(v);

                if (b < 0)
                        return -EINVAL;
                m = b ? VOLATILE_YES : VOLATILE_NO;
        }
        t->volatile_mode = m;
        return 0;
}

static int parse_mount(const SettingsKey *k, Settings *t, const char *v) {
        return settings_parse_mount(t, (CustomMountType) k->arg, v);
}

/* Chown rewrites owners on disk; mapping, leaving them alone, or berth's default do not. */
static int parse_ownership(const SettingsKey *k, Settings *t, const char *v) {
        UserNamespaceOwnership o = ownership_from_string(v);

        if (o < 0)
                return -EINVAL;
        t->ownership = o;
        return o == OWNERSHIP_CHOWN;
}

/* A veth is a host interface; it implies a private network, as in nspawn. */
static int parse_veth(const SettingsKey *k, Settings *t, const char *v) {
        int b = parse_boolean(v);

        if (b < 0)
                return b;
        t->network_veth = b;
        if (b)
                t->private_network = true;
        return b;
}

/* A plain integer, sign allowed: LXC's lxc.start.order is one, and a negative order is an easy
 * way to put a machine before every other. Empty takes the machine out of any order. */
static int parse_start_order(const SettingsKey *k, Settings *t, const char *v) {
        unsigned u;
        int r;

        if (isempty(v)) {
                t->start_order_set = false;
                t->start_order = 0;
                return 0;
        }
        r = parse_small_uint(v[0] == '-' ? v + 1 : v, INT_MAX, &u);
        if (r < 0)
                return r;
        t->start_order = v[0] == '-' ? -(int) u : (int) u;
        t->start_order_set = true;
        return 0;
}

/* Whole seconds, as LXC's lxc.start.delay; an hour at most, since every later machine of the
 * host waits for it. */
static int parse_start_delay(const SettingsKey *k, Settings *t, const char *v) {
        unsigned u = 0;
        int r;

        if (!isempty(v)) {
                r = parse_small_uint(v, SETTINGS_START_DELAY_MAX, &u);
                if (r < 0)
                        return r;
        }
        t->start_delay = u;
        return 0;
}

/* LimitNOFILE= and the others, K->arg the resource: what the container could not give itself
 * (a limit above the kernel's default) only from a trusted file. Empty: the default again. */
static int parse_rlimit(const SettingsKey *k, Settings *t, const char *v) {
        int r;

        if (isempty(v)) {
                t->rlimits_set &= ~(1U << k->arg);
                return 0;
        }
        r = rlimit_parse(k->arg, v, &t->rlimits[k->arg]);
        if (r < 0)
                return r;
        t->rlimits_set |= 1U << k->arg;
        return rlimit_widens(k->arg, &t->rlimits[k->arg]);
}

/* A negative value shields the container from the OOM killer at the host's expense. */
static int parse_oom_score(const SettingsKey *k, Settings *t, const char *v) {
        int r;

        if (isempty(v)) {
                t->oom_score_adjust_set = false;
                t->oom_score_adjust = 0;
                return 0;
        }
        r = parse_oom_score_adjust(v, &t->oom_score_adjust);
        if (r < 0)
                return r;
        t->oom_score_adjust_set = true;
        return t->oom_score_adjust < 0;
}

static int parse_cpu_affinity(const SettingsKey *k, Settings *t, const char *v) {
        if (isempty(v)) {
                t->cpu_affinity = (CpuAffinity) {};
                return 0;
        }
        return cpu_affinity_parse(v, &t->cpu_affinity);
}

/* The exec limits are merged by what the file's values mark as set, not by Field bits: what the
 * command line did not set is still the default in S, so a file's reset needs no copying. */
static void exec_limits_merge(Settings *s, const Settings *t) {
        for (int i = 0; i < RLIMIT_NLIMITS; i++)
                if (t->rlimits_set & (1U << i)) {
                        s->rlimits[i] = t->rlimits[i];
                        s->rlimits_set |= 1U << i;
                }
        if (t->oom_score_adjust_set) {
                s->oom_score_adjust = t->oom_score_adjust;
                s->oom_score_adjust_set = true;
        }
        if (!cpu_affinity_is_empty(&t->cpu_affinity))
                s->cpu_affinity = t->cpu_affinity;
}

/* Port=: repeatable, as nspawn's; empty drops the ports listed before. Each reaches the host's
 * firewall, so only a trusted file may forward any. */
static int parse_port(const SettingsKey *k, Settings *t, const char *v) {
        int r;

        if (isempty(v)) {
                free(t->ports);
                t->ports = NULL;
                t->n_ports = 0;
                return 0;
        }
        r = settings_add_port(t, v);
        return r == -EEXIST ? -EINVAL : r;
}

/* Bridge= and Zone=: one name (empty resets); like their options, a veth and a private
 * network. A zone's bridge is "vz-ZONE", which must be a valid interface name. */
static int parse_network_name(const SettingsKey *k, Settings *t, const char *v) {
        if (!isempty(v) && (!network_ifname_is_valid(v) ||
                            (streq(k->name, "Zone") && strlen(v) + 3 >= IFNAMSIZ)))
                return -EINVAL;
        if (set_string(FIELD(t, k, char *), v) < 0)
                return -ENOMEM;
        if (isempty(v))
                return 0;
        t->network_veth = true;
        t->private_network = true;
        return 1;
}

/* Interface=, MACVLAN=, IPVLAN=, VirtualEthernetExtra=: words "A[:B]" of interface names,
 * added to the list; empty resets it. Each reaches the host's links. */
static int parse_network_list(const SettingsKey *k, Settings *t, const char *v) {
        _cleanup_strv_free_ char **words = NULL;
        char ***list = FIELD(t, k, char **);
        int r;

        r = split_words(v, &words);
        if (r < 0)
                return r;
        if (!words) {
                *list = strv_free(*list);
                return 0;
        }
        STRV_FOREACH(w, words) {
                _cleanup_free_ char *a = NULL, *b = NULL;

                r = network_ifname_pair_parse(*w, &a, &b);
                if (r < 0)
                        return r;
        }
        STRV_FOREACH(w, words) {
                r = strv_extend(list, *w);
                if (r < 0)
                        return r;
        }
        t->private_network = true;
        return 1;
}

static int parse_namespace_path(const SettingsKey *k, Settings *t, const char *v) {
        if (!isempty(v) && (v[0] != '/' || strlen(v) >= PATH_MAX))
                return -EINVAL;
        if (set_string(&t->network_namespace_path, v) < 0)
                return -ENOMEM;
        return !isempty(v);
}

/* [Resources]: the key is the property's name (resources.c checks the value). */
static int parse_resource(const SettingsKey *k, Settings *t, const char *v) {
        return resources_settings_add(t, k->name, v);
}

/* Device=PATH[:rwm]: a node made inside and allowed; empty resets the list. */
static int parse_device(const SettingsKey *k, Settings *t, const char *v) {
        return resources_settings_add_device(t, v);
}

#define OFF(f) offsetof(Settings, f)

#define LIMIT_KEY(n)                                                                      \
        { "Exec", "Limit" #n, parse_rlimit, 0, RLIMIT_##n, PRIVILEGE_VALUE,                  \
          (uint64_t) SETTING_RLIMIT_FIRST << RLIMIT_##n, 0,                                  \
          "SOFT[:HARD], each a number or \"infinity\", SOFT not above HARD" }

/* What runs is one decision, as in nspawn: a command or --boot on the command line also keeps
 * the file's Boot=, AsPid1= and Parameters= away, or `berth-spawn -M foo /bin/true` would boot
 * init with "/bin/true" as its argument because foo.berth says Boot=yes. */
#define SETTING_START (SETTING_BOOT | SETTING_AS_PID1 | SETTING_COMMAND)

static const SettingsKey settings_keys[] = {
        /* section, key, parser, field offset, parser argument, privilege,
         *   command-line bit, fields, what a value looks like */
        LIMIT_KEY(CPU), LIMIT_KEY(FSIZE), LIMIT_KEY(DATA), LIMIT_KEY(STACK), LIMIT_KEY(CORE),
        LIMIT_KEY(RSS), LIMIT_KEY(NPROC), LIMIT_KEY(NOFILE), LIMIT_KEY(MEMLOCK), LIMIT_KEY(AS),
        LIMIT_KEY(LOCKS), LIMIT_KEY(SIGPENDING), LIMIT_KEY(MSGQUEUE), LIMIT_KEY(NICE),
        LIMIT_KEY(RTPRIO), LIMIT_KEY(RTTIME),
        { "Exec", "OOMScoreAdjust", parse_oom_score, 0, 0, PRIVILEGE_VALUE,
          SETTING_OOM_SCORE_ADJUST, 0, "an integer in -1000…1000" },
        /* Never privileged, unlike nspawn's: the payload may pin itself to fewer CPUs anyway. */
        { "Exec", "CPUAffinity", parse_cpu_affinity, 0, 0, PRIVILEGE_NEVER,
          SETTING_CPU_AFFINITY, 0, "CPU numbers and ranges (\"0-1,3\")" },
        { "Exec", "Boot", parse_bool, OFF(boot), -1, PRIVILEGE_NEVER,
          SETTING_START, FIELD_BOOT, "a boolean" },
        { "Exec", "AsPid1", parse_bool, OFF(as_pid1), -1, PRIVILEGE_NEVER,
          SETTING_START, FIELD_AS_PID1, "a boolean" },
        { "Exec", "Parameters", parse_parameters, 0, 0, PRIVILEGE_NEVER,
          SETTING_START, FIELD_PARAMETERS, "words separated by blanks, with matching quotes" },
        { "Exec", "Environment", parse_environment, 0, 0, PRIVILEGE_NEVER,
          SETTING_ENVIRONMENT, FIELD_ENVIRONMENT, "NAME=VALUE assignments" },
        { "Exec", "User", parse_user, 0, 0, PRIVILEGE_NEVER,
          SETTING_USER, FIELD_USER, "a user name or UID" },
        { "Exec", "WorkingDirectory", parse_chdir, 0, 0, PRIVILEGE_NEVER,
          SETTING_CHDIR, FIELD_CHDIR, "an absolute path without \"..\"" },
        { "Exec", "PrivateUsers", parse_private_users, 0, 0, PRIVILEGE_VALUE,
          SETTING_USERNS, FIELD_USERNS, "yes, no, pick, identity, BASE or BASE:COUNT" },
        { "Exec", "NoNewPrivileges", parse_bool, OFF(no_new_privileges), 0, PRIVILEGE_VALUE,
          SETTING_NO_NEW_PRIVILEGES, FIELD_NO_NEW_PRIVILEGES, "a boolean" },
        { "Exec", "Capability", parse_capability, OFF(capability_add), 0, PRIVILEGE_ALWAYS,
          SETTING_CAPABILITY, FIELD_CAPABILITY_ADD, "capability names" },
        { "Exec", "DropCapability", parse_capability, OFF(capability_drop), 0, PRIVILEGE_NEVER,
          SETTING_CAPABILITY, FIELD_CAPABILITY_DROP, "capability names" },
        { "Exec", "SystemCallFilter", parse_syscall_filter, 0, 0, PRIVILEGE_VALUE,
          SETTING_SYSCALL_FILTER, FIELD_SYSCALL_FILTER, "syscall names or @groups, optionally after \"~\"" },
        /* nspawn's KillSignal= is the clean-shutdown request, which is what --kill-signal sets. */
        { "Exec", "KillSignal", parse_signal, OFF(kill_signal), 0, PRIVILEGE_NEVER,
          SETTING_KILL_SIGNAL | SETTING_POWEROFF_SIGNAL, FIELD_KILL_SIGNAL, "a signal name or number" },
        { "Exec", "RebootSignal", parse_signal, OFF(reboot_signal), 0, PRIVILEGE_NEVER,
          SETTING_REBOOT_SIGNAL, FIELD_REBOOT_SIGNAL, "a signal name or number" },
        { "Exec", "Hostname", parse_hostname, 0, 0, PRIVILEGE_NEVER,
          SETTING_HOSTNAME, FIELD_HOSTNAME, "a valid host name" },
        /* Privileged as in nspawn: the ID names the machine to the host (registration, journal). */
        { "Exec", "MachineID", parse_machine_id, 0, 0, PRIVILEGE_ALWAYS,
          SETTING_UUID, FIELD_UUID, "a non-zero 128-bit ID (UUID)" },
        { "Exec", "NotifyReady", parse_bool, OFF(notify_ready), -1, PRIVILEGE_NEVER,
          SETTING_NOTIFY_READY, FIELD_NOTIFY_READY, "a boolean" },
        /* nspawn keeps Ephemeral= in [Exec]; [Files], beside the other storage keys, works too. */
        { "Exec", "Ephemeral", parse_bool, OFF(ephemeral), -1, PRIVILEGE_ALWAYS,
          SETTING_EPHEMERAL, FIELD_EPHEMERAL, "a boolean" },
        { "Files", "Ephemeral", parse_bool, OFF(ephemeral), -1, PRIVILEGE_ALWAYS,
          SETTING_EPHEMERAL, FIELD_EPHEMERAL, "a boolean" },
        { "Files", "ReadOnly", parse_bool, OFF(read_only), 0, PRIVILEGE_VALUE,
          SETTING_READ_ONLY, FIELD_READ_ONLY, "a boolean" },
        { "Files", "Volatile", parse_volatile, 0, 0, PRIVILEGE_NEVER,
          SETTING_VOLATILE, FIELD_VOLATILE, "a boolean, state or overlay" },
        /* Every custom mount is privileged, tmpfs included: a tmpfs over /dev, say, replaces
         * berth's restricted /dev with one where device nodes can be made. */
        { "Files", "Bind", parse_mount, 0, CUSTOM_MOUNT_BIND, PRIVILEGE_ALWAYS,
          SETTING_CUSTOM_MOUNTS, FIELD_MOUNTS, "SOURCE[:DESTINATION[:rbind|norbind|idmap]]" },
        { "Files", "BindReadOnly", parse_mount, 0, CUSTOM_MOUNT_BIND_RO, PRIVILEGE_ALWAYS,
          SETTING_CUSTOM_MOUNTS, FIELD_MOUNTS, "SOURCE[:DESTINATION[:rbind|norbind|idmap]]" },
        { "Files", "TemporaryFileSystem", parse_mount, 0, CUSTOM_MOUNT_TMPFS, PRIVILEGE_ALWAYS,
          SETTING_CUSTOM_MOUNTS, FIELD_MOUNTS, "DESTINATION[:OPTIONS]" },
        { "Files", "Overlay", parse_mount, 0, CUSTOM_MOUNT_OVERLAY, PRIVILEGE_ALWAYS,
          SETTING_CUSTOM_MOUNTS, FIELD_MOUNTS, "LOWER:[…:]UPPER:DESTINATION" },
        { "Files", "OverlayReadOnly", parse_mount, 0, CUSTOM_MOUNT_OVERLAY_RO, PRIVILEGE_ALWAYS,
          SETTING_CUSTOM_MOUNTS, FIELD_MOUNTS, "LOWER:[…:]DESTINATION" },
        { "Files", "PrivateUsersOwnership", parse_ownership, 0, 0, PRIVILEGE_VALUE,
          SETTING_OWNERSHIP, FIELD_OWNERSHIP, "auto, map, chown or off" },
        { "Network", "Private", parse_bool, OFF(private_network), 0, PRIVILEGE_VALUE,
          SETTING_NETWORK, FIELD_PRIVATE_NETWORK, "a boolean" },
        { "Network", "VirtualEthernet", parse_veth, 0, 0, PRIVILEGE_VALUE,
          SETTING_NETWORK, FIELD_VETH | FIELD_PRIVATE_NETWORK, "a boolean" },
        { "Network", "Bridge", parse_network_name, OFF(network_bridge), 0, PRIVILEGE_VALUE,
          SETTING_NETWORK, FIELD_NETWORK_LINKS | FIELD_VETH | FIELD_PRIVATE_NETWORK, "an interface name" },
        { "Network", "Zone", parse_network_name, OFF(network_zone), 0, PRIVILEGE_VALUE,
          SETTING_NETWORK, FIELD_NETWORK_LINKS | FIELD_VETH | FIELD_PRIVATE_NETWORK,
          "a zone name of at most 12 characters, valid in an interface name" },
        { "Network", "Interface", parse_network_list, OFF(network_interfaces), 0, PRIVILEGE_VALUE,
          SETTING_NETWORK, FIELD_NETWORK_LINKS | FIELD_PRIVATE_NETWORK, "interface names IF[:NAME]" },
        { "Network", "MACVLAN", parse_network_list, OFF(network_macvlan), 0, PRIVILEGE_VALUE,
          SETTING_NETWORK, FIELD_NETWORK_LINKS | FIELD_PRIVATE_NETWORK, "interface names IF[:NAME]" },
        { "Network", "IPVLAN", parse_network_list, OFF(network_ipvlan), 0, PRIVILEGE_VALUE,
          SETTING_NETWORK, FIELD_NETWORK_LINKS | FIELD_PRIVATE_NETWORK, "interface names IF[:NAME]" },
        { "Network", "VirtualEthernetExtra", parse_network_list, OFF(network_veth_extra), 0, PRIVILEGE_VALUE,
          SETTING_NETWORK, FIELD_NETWORK_LINKS | FIELD_PRIVATE_NETWORK, "interface names HOST[:GUEST]" },
        { "Network", "NamespacePath", parse_namespace_path, 0, 0, PRIVILEGE_VALUE,
          SETTING_NETWORK, FIELD_NETWORK_LINKS, "an absolute path" },
        { "Network", "Port", parse_port, 0, 0, PRIVILEGE_ALWAYS,
          SETTING_PORTS, FIELD_PORTS, "[tcp|udp:]HOST[:CONTAINER] with ports 1…65535, each HOST once" },
        /* The host's boot order is the host administrator's: an image's own file must not put
         * itself first or hold every later machine back. No command-line option sets these. */
        { "Start", "Order", parse_start_order, 0, 0, PRIVILEGE_ALWAYS,
          0, FIELD_START_ORDER, "an integer (lower starts first), or empty" },
        { "Start", "Delay", parse_start_delay, 0, 0, PRIVILEGE_ALWAYS,
          0, FIELD_START_DELAY, "whole seconds, at most 3600" },
        /* Resource limits, systemd's names: what only takes from the container is fine in any
         * file; weights above the default and devices only in a trusted one. */
#define RESOURCE_KEY(name, privilege, what) \
        { "Resources", name, parse_resource, 0, 0, privilege, 0, 0, what }
        RESOURCE_KEY("MemoryMax", PRIVILEGE_NEVER, "a size in bytes (K, M, G, …) or \"infinity\""),
        RESOURCE_KEY("MemoryHigh", PRIVILEGE_NEVER, "a size in bytes (K, M, G, …) or \"infinity\""),
        RESOURCE_KEY("MemorySwapMax", PRIVILEGE_NEVER, "a size in bytes (K, M, G, …) or \"infinity\""),
        RESOURCE_KEY("CPUQuota", PRIVILEGE_NEVER, "a percentage of one CPU, e.g. 150%"),
        RESOURCE_KEY("CPUWeight", PRIVILEGE_VALUE, "a weight in 1…10000"),
        RESOURCE_KEY("AllowedCPUs", PRIVILEGE_NEVER, "CPU numbers and ranges, e.g. 0-1,3"),
        RESOURCE_KEY("TasksMax", PRIVILEGE_NEVER, "a number of tasks or \"infinity\""),
        RESOURCE_KEY("IOWeight", PRIVILEGE_VALUE, "a weight in 1…10000"),
        RESOURCE_KEY("IOReadBandwidthMax", PRIVILEGE_NEVER, "PATH BYTES-PER-SECOND (K, M, G, …)"),
        RESOURCE_KEY("IOWriteBandwidthMax", PRIVILEGE_NEVER, "PATH BYTES-PER-SECOND (K, M, G, …)"),
        RESOURCE_KEY("DeviceAllow", PRIVILEGE_ALWAYS, "a device node below /dev and optionally r, w, m"),
#undef RESOURCE_KEY
        { "Resources", "Device", parse_device, 0, 0, PRIVILEGE_ALWAYS, 0, 0, "PATH[:rwm], a device node below /dev" },
        { "Files", "Device", parse_device, 0, 0, PRIVILEGE_ALWAYS, 0, 0, "PATH[:rwm], a device node below /dev" },
};

/* nspawn keys berth does not implement: named as such in the warning, so a user moving an
 * .nspawn file over learns that the setting is dropped rather than misspelt. */
static const char *const nspawn_only_keys[] = {
        "ProcessTwo", "PivotRoot", "AmbientCapability", "Personality",
        "ResolvConf", "Timezone", "LinkJournal", "SuppressSync", "BindUser", "BindUserShell",
        "Inaccessible", "PrivateUsersChown", "PrivateUsersDelegate",
};

static const SettingsKey *settings_key_find(const char *section, const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(settings_keys); i++)
                if (streq(settings_keys[i].section, section) && streq(settings_keys[i].name, name))
                        return &settings_keys[i];
        return NULL;
}

static void warn_unknown(const ParseState *p, const char *section, const char *name) {
        if (isempty(section))
                log_warning("%s:%u: %s= outside of any section, ignoring.", p->path, p->line, name);
        else if (!streq(section, "Exec") && !streq(section, "Files") && !streq(section, "Network") &&
                 !streq(section, "Start") && !streq(section, "Resources"))
                log_warning("%s:%u: Unknown section [%s], ignoring %s=.", p->path, p->line, section, name);
        else if (startswith(name, "Limit"))
                log_warning("%s:%u: %s= names no resource limit (LimitNOFILE=, LimitNPROC=, …), ignoring.",
                            p->path, p->line, name);
        else {
                for (size_t i = 0; i < ELEMENTSOF(nspawn_only_keys); i++)
                        if (streq(nspawn_only_keys[i], name)) {
                                log_warning("%s:%u: %s= is a systemd-nspawn setting berth does not support, "
                                            "ignoring.", p->path, p->line, name);
                                return;
                        }
                log_warning("%s:%u: Unknown setting %s= in [%s], ignoring.", p->path, p->line, name, section);
        }
}

static char *unhide(const char *s) {
        char *c = strdup(s);

        for (char *p = c; p && *p; p++) {
                if (*p == HIDDEN_SEMICOLON)
                        *p = ';';
                else if (*p == HIDDEN_COLON)
                        *p = ':';
        }
        return c;
}

/* inih reader: hands out one line per call, so our line count is the file's. Refuses what inih
 * would otherwise mangle silently: a line longer than its buffer (it parses the rest as a new
 * line, which could smuggle in a key) and control characters (they would hide in logs). */
static char *settings_reader(char *buf, int size, void *userdata) {
        ParseState *p = userdata;
        const char *start, *end, *nl;
        size_t n;

        if (p->error < 0 || p->pos >= p->size || size <= 0)
                return NULL;
        start = p->data + p->pos;
        nl = memchr(start, '\n', p->size - p->pos);
        end = nl ?: p->data + p->size;
        p->pos = (size_t) (end - p->data) + (nl ? 1 : 0);
        p->line++;

        if (p->line == 1 && end - start >= 3 && memcmp(start, "\xef\xbb\xbf", 3) == 0)
                start += 3;
        /* Leading blanks never continue a value, as in systemd; in inih they would. */
        while (start < end && (*start == ' ' || *start == '\t'))
                start++;
        if (end > start && end[-1] == '\r')
                end--;
        n = (size_t) (end - start);

        for (const char *c = start; c < end; c++)
                if (((unsigned char) *c < 0x20 && *c != '\t') || *c == 0x7f) {
                        p->error = log_error_errno(-EINVAL, "%s:%u: Control character in line, refusing "
                                                   "the file.", p->path, p->line);
                        return NULL;
                }
        if (n >= (size_t) size) {
                p->error = log_error_errno(-EINVAL, "%s:%u: Line longer than %d bytes; split a long "
                                           "Parameters= or Environment= over several lines.",
                                           p->path, p->line, size - 1);
                return NULL;
        }
        memcpy(buf, start, n);
        buf[n] = 0;
        if (buf[0] != '[' && buf[0] != '#' && buf[0] != ';') {
                for (char *c = buf; *c; c++)
                        if (*c == ';')
                                *c = HIDDEN_SEMICOLON;
                        else if (*c == ':')
                                *c = HIDDEN_COLON;
        }
        return buf;
}

/* inih handler: returns 1 to go on, 0 on an error (recorded in p->error). */
static int settings_handler(void *userdata, const char *section, const char *name_hidden,
                            const char *value_hidden) {
        ParseState *p = userdata;
        _cleanup_free_ char *name = NULL, *value = NULL;
        const SettingsKey *k;
        bool privileged;
        int r;

        /* inih builds that call the handler per section or for a key without '=' pass NULL. */
        if (!name_hidden)
                return 1;
        if (!value_hidden) {
                p->error = log_error_errno(-EINVAL, "%s:%u: Expected Key=Value.", p->path, p->line);
                return 0;
        }
        name = unhide(name_hidden);
        value = unhide(value_hidden);
        if (!name || !value) {
                p->error = log_oom();
                return 0;
        }
        k = settings_key_find(section, name);
        if (!k) {
                warn_unknown(p, section, name);
                return 1;
        }

        /* Validated wherever the file lies and whatever the command line says, so that copying an
         * image's file into the trusted directory never turns a quiet file into a broken one. */
        r = k->parse(k, &p->probe, value);
        if (r == -EINVAL || r == -ERANGE) {
                p->error = log_error_errno(-EINVAL, "%s:%u: Invalid %s=%s, expected %s.",
                                           p->path, p->line, name, value, k->expected);
                return 0;
        }
        if (r < 0) {
                p->error = r == -ENOMEM ? log_oom() :
                           log_error_errno(r, "%s:%u: Failed to parse %s=: %m", p->path, p->line, name);
                return 0;
        }
        privileged = k->privilege == PRIVILEGE_ALWAYS || (k->privilege == PRIVILEGE_VALUE && r > 0);

        if (p->cmdline_mask & k->setting) {
                log_debug("%s:%u: %s= is set on the command line, ignoring the file's value.",
                          p->path, p->line, name);
                return 1;
        }
        if (privileged && !p->trusted) {
                log_warning("%s:%u: Ignoring privileged setting %s=%s in an untrusted settings file.",
                            p->path, p->line, name, value);
                return 1;
        }

        r = k->parse(k, &p->scratch, value);
        if (r < 0) {
                p->error = r == -ENOMEM ? log_oom() :
                           log_error_errno(r, "%s:%u: Failed to apply %s=: %m", p->path, p->line, name);
                return 0;
        }
        p->fields |= k->fields;
        return 1;
}

#define SWAP(a, b)                                \
        do {                                      \
                __typeof__(a) _swap_ = (a);       \
                (a) = (b);                        \
                (b) = _swap_;                     \
        } while (0)

/* Moves the fields the file set from T into S. Cannot fail, so S changes all at once or not at
 * all. Lists replace S's: S holds only defaults where the command line did not speak, and the
 * command line's lists are masked. What S had ends up in T, for the caller to free. */
static void settings_merge(Settings *s, Settings *t, Field fields) {
        exec_limits_merge(s, t);
        if (fields & FIELD_BOOT)
                SWAP(s->boot, t->boot);
        if (fields & FIELD_AS_PID1)
                SWAP(s->as_pid1, t->as_pid1);
        if (fields & FIELD_PARAMETERS)
                SWAP(s->parameters, t->parameters);
        if (fields & FIELD_USER)
                SWAP(s->user, t->user);
        if (fields & FIELD_CHDIR)
                SWAP(s->chdir, t->chdir);
        if (fields & FIELD_ENVIRONMENT)
                SWAP(s->environment, t->environment);
        if (fields & FIELD_USERNS) {
                SWAP(s->userns_mode, t->userns_mode);
                SWAP(s->uid_shift, t->uid_shift);
                SWAP(s->uid_range, t->uid_range);
        }
        if (fields & FIELD_NO_NEW_PRIVILEGES)
                SWAP(s->no_new_privileges, t->no_new_privileges);
        if (fields & FIELD_CAPABILITY_ADD)
                SWAP(s->capability_add, t->capability_add);
        if (fields & FIELD_CAPABILITY_DROP)
                SWAP(s->capability_drop, t->capability_drop);
        if (fields & FIELD_SYSCALL_FILTER) {
                SWAP(s->syscall_allow, t->syscall_allow);
                SWAP(s->syscall_deny, t->syscall_deny);
        }
        if (fields & FIELD_KILL_SIGNAL)
                SWAP(s->kill_signal, t->kill_signal);
        if (fields & FIELD_REBOOT_SIGNAL)
                SWAP(s->reboot_signal, t->reboot_signal);
        if (fields & FIELD_HOSTNAME)
                SWAP(s->hostname, t->hostname);
        if (fields & FIELD_UUID) {
                memcpy(s->uuid, t->uuid, sizeof(s->uuid));
                s->uuid_set = t->uuid_set;
        }
        if (fields & FIELD_NOTIFY_READY)
                SWAP(s->notify_ready, t->notify_ready);
        if (fields & FIELD_EPHEMERAL)
                SWAP(s->ephemeral, t->ephemeral);
        if (fields & FIELD_READ_ONLY)
                SWAP(s->read_only, t->read_only);
        if (fields & FIELD_VOLATILE)
                SWAP(s->volatile_mode, t->volatile_mode);
        if (fields & FIELD_MOUNTS) {
                SWAP(s->mounts, t->mounts);
                SWAP(s->n_mounts, t->n_mounts);
        }
        if (fields & FIELD_OWNERSHIP)
                SWAP(s->ownership, t->ownership);
        if (fields & FIELD_PRIVATE_NETWORK)
                SWAP(s->private_network, t->private_network);
        if (fields & FIELD_VETH)
                SWAP(s->network_veth, t->network_veth);
        /* All or none of these: the command line's SETTING_NETWORK masks them all together, so
         * S holds only defaults in each whenever the file set any. */
        if (fields & FIELD_NETWORK_LINKS) {
                SWAP(s->network_bridge, t->network_bridge);
                SWAP(s->network_zone, t->network_zone);
                SWAP(s->network_interfaces, t->network_interfaces);
                SWAP(s->network_macvlan, t->network_macvlan);
                SWAP(s->network_ipvlan, t->network_ipvlan);
                SWAP(s->network_veth_extra, t->network_veth_extra);
                SWAP(s->network_namespace_path, t->network_namespace_path);
        }
        if (fields & FIELD_PORTS) {
                SWAP(s->ports, t->ports);
                SWAP(s->n_ports, t->n_ports);
        }
        if (fields & FIELD_START_ORDER) {
                SWAP(s->start_order_set, t->start_order_set);
                SWAP(s->start_order, t->start_order);
        }
        if (fields & FIELD_START_DELAY)
                SWAP(s->start_delay, t->start_delay);
}

/* Reads PATH whole, bounded, and only if it is a regular file. It is opened O_PATH first and
 * checked, then the very inode is reopened: opening by name a FIFO would block and a device node
 * could act on the open itself. */
static int read_settings_file(const char *path, bool trusted, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF, rfd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        char proc[64];
        struct stat st;
        size_t n = 0;

        /* Beside the image a symlink could point anywhere on the host; the trusted directory is
         * the administrator's, who may link as they like. */
        fd = open(path, O_PATH | O_CLOEXEC | (trusted ? 0 : O_NOFOLLOW));
        if (fd < 0) {
                if (errno == ENOENT)
                        return -ENOENT;
                return log_error_errno(negative_errno(), "Failed to open settings file %s: %m", path);
        }
        if (fstat(fd, &st) < 0)
                return log_error_errno(negative_errno(), "Failed to stat settings file %s: %m", path);
        if (S_ISLNK(st.st_mode))
                return log_error_errno(-ELOOP, "%s: Untrusted settings file is a symbolic link, refusing.",
                                       path);
        if (!S_ISREG(st.st_mode))
                return log_error_errno(-EBADFD, "%s: Settings file is not a regular file, refusing.", path);
        if (st.st_size > SETTINGS_FILE_MAX)
                return log_error_errno(-EFBIG, "%s: Settings file is larger than %d bytes, refusing.", path,
                                       SETTINGS_FILE_MAX);

        (void) snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        rfd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (rfd < 0)
                return log_error_errno(negative_errno(), "Failed to reopen settings file %s: %m", path);

        /* The file may grow after fstat(): the bound holds for what is read, not what was seen. */
        buf = malloc(SETTINGS_FILE_MAX + 1);
        if (!buf)
                return log_oom();
        while (n <= SETTINGS_FILE_MAX) {
                ssize_t k = read(rfd, buf + n, SETTINGS_FILE_MAX + 1 - n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return log_error_errno(negative_errno(), "Failed to read settings file %s: %m", path);
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        if (n > SETTINGS_FILE_MAX)
                return log_error_errno(-EFBIG, "%s: Settings file is larger than %d bytes, refusing.", path,
                                       SETTINGS_FILE_MAX);
        *ret = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}

int settings_load_file(Settings *s, const char *path, bool trusted) {
        _cleanup_free_ char *data = NULL;
        ParseState p = {
                .path = path,
                .trusted = trusted,
                .cmdline_mask = s->set_mask,
        };
        size_t size = 0;
        int r;

        r = read_settings_file(path, trusted, &data, &size);
        if (r < 0)
                return r;
        p.data = data;
        p.size = size;
        settings_init(&p.scratch);
        settings_init(&p.probe);

        r = ini_parse_stream(settings_reader, &p, settings_handler, &p);
        if (p.error < 0)
                r = p.error;
        else if (r > 0)
                r = log_error_errno(-EINVAL, "%s:%d: Syntax error: expected [Section], Key=Value or a "
                                    "comment.", path, r);
        else if (r < 0)
                r = log_oom();
        else {
                settings_merge(s, &p.scratch, p.fields);
                resources_settings_merge(s, &p.scratch);
                log_debug("Applied %s settings file %s.", trusted ? "trusted" : "untrusted", path);
        }

        settings_done(&p.scratch);
        settings_done(&p.probe);
        return r;
}

/* The directory holding the absolute tree DIRECTORY: "/var/lib/machines" for
 * "/var/lib/machines/foo/", "/" for "/foo". NULL only when out of memory. */
static char *parent_dir(const char *directory) {
        size_t n = strlen(directory);

        while (n > 1 && directory[n - 1] == '/')
                n--;
        while (n > 1 && directory[n - 1] != '/')
                n--;
        while (n > 1 && directory[n - 1] == '/')
                n--;
        return strndup(directory, n);
}

static int try_load(Settings *s, const char *dir, const char *name, bool trusted) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s%s%s.berth", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", name) < 0)
                return log_oom();
        return settings_load_file(s, path, trusted);
}

int settings_find_and_load(Settings *s, const char *settings_dir) {
        int r;

        if (!s->machine || !machine_name_is_valid(s->machine))
                return log_error_errno(-EINVAL, "Cannot look for a settings file without a valid machine "
                                       "name.");

        if (!isempty(settings_dir)) {
                r = try_load(s, settings_dir, s->machine, true);
                if (r != -ENOENT)
                        return r < 0 ? r : 1;
        }

        /* Beside the raw image file or the tree, both absolute by the time we run; "/" has
         * nothing beside it. */
        const char *image = s->image ?: s->directory;
        if (image && image[0] == '/' && image[strspn(image, "/")] != 0) {
                _cleanup_free_ char *parent = parent_dir(image);

                if (!parent)
                        return log_oom();
                r = try_load(s, parent, s->machine, false);
                if (r != -ENOENT)
                        return r < 0 ? r : 1;
        }
        return 0;
}
