/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for NAME.berth settings files: every key, the command-line mask, trust, refusals. */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caps.h"
#include "resources.h"
#include "settings-file.h"
#include "settings.h"
#include "strv.h"

typedef struct Fixture {
        char *dir;
        Settings s;
} Fixture;

static void rm_rf(const char *path) {
        struct stat st;

        if (lstat(path, &st) < 0)
                return;
        if (S_ISDIR(st.st_mode)) {
                GDir *d = g_dir_open(path, 0, NULL);
                const char *e;

                while (d && (e = g_dir_read_name(d))) {
                        g_autofree char *p = g_build_filename(path, e, NULL);
                        rm_rf(p);
                }
                if (d)
                        g_dir_close(d);
                (void) rmdir(path);
        } else
                (void) unlink(path);
}

static void fixture_setup(Fixture *fx, gconstpointer data) {
        g_autoptr(GError) error = NULL;

        fx->dir = g_dir_make_tmp("berth-settings-XXXXXX", &error);
        g_assert_no_error(error);
        settings_init(&fx->s);
}

static void fixture_teardown(Fixture *fx, gconstpointer data) {
        settings_done(&fx->s);
        rm_rf(fx->dir);
        g_free(fx->dir);
}

/* Writes CONTENT to DIR/NAME and returns the path. */
static char *write_file(const char *dir, const char *name, const char *content) {
        g_autoptr(GError) error = NULL;
        char *path = g_build_filename(dir, name, NULL);

        g_assert_true(g_file_set_contents(path, content, -1, &error));
        g_assert_no_error(error);
        return path;
}

static int load(Fixture *fx, const char *content, bool trusted) {
        g_autofree char *path = write_file(fx->dir, "m.berth", content);

        return settings_load_file(&fx->s, path, trusted);
}

static bool caps_available(void) {
        uint64_t m = 0;

        return capability_list_parse("CAP_SYS_ADMIN", &m) == 0 && m != 0;
}

static void assert_strv_equal(char **a, char **b) {
        g_assert_cmpuint(strv_length(a), ==, strv_length(b));
        for (size_t i = 0; i < strv_length(a); i++)
                g_assert_cmpstr(a[i], ==, b[i]);
}

/* Every field a settings file can touch, compared one by one so a failure names it. */
static void assert_settings_same(const Settings *a, const Settings *b) {
        g_assert_cmpstr(a->hostname, ==, b->hostname);
        g_assert_cmpint(a->uuid_set, ==, b->uuid_set);
        g_assert_cmpmem(a->uuid, sizeof(a->uuid), b->uuid, sizeof(b->uuid));
        g_assert_cmpint(a->read_only, ==, b->read_only);
        g_assert_cmpint(a->boot, ==, b->boot);
        g_assert_cmpint(a->as_pid1, ==, b->as_pid1);
        assert_strv_equal(a->parameters, b->parameters);
        g_assert_cmpstr(a->user, ==, b->user);
        g_assert_cmpstr(a->chdir, ==, b->chdir);
        assert_strv_equal(a->environment, b->environment);
        g_assert_cmpuint(a->n_mounts, ==, b->n_mounts);
        for (size_t i = 0; i < a->n_mounts; i++) {
                g_assert_cmpint(a->mounts[i].type, ==, b->mounts[i].type);
                g_assert_cmpstr(a->mounts[i].source, ==, b->mounts[i].source);
                g_assert_cmpstr(a->mounts[i].destination, ==, b->mounts[i].destination);
        }
        g_assert_cmpint(a->ephemeral, ==, b->ephemeral);
        g_assert_cmpint(a->volatile_mode, ==, b->volatile_mode);
        g_assert_cmpint(a->userns_mode, ==, b->userns_mode);
        g_assert_cmpuint(a->uid_shift, ==, b->uid_shift);
        g_assert_cmpuint(a->uid_range, ==, b->uid_range);
        g_assert_cmpint(a->ownership, ==, b->ownership);
        g_assert_cmpint(a->private_network, ==, b->private_network);
        g_assert_cmpint(a->network_veth, ==, b->network_veth);
        g_assert_cmpuint(a->capability_add, ==, b->capability_add);
        g_assert_cmpuint(a->capability_drop, ==, b->capability_drop);
        g_assert_cmpint(a->no_new_privileges, ==, b->no_new_privileges);
        assert_strv_equal(a->syscall_allow, b->syscall_allow);
        assert_strv_equal(a->syscall_deny, b->syscall_deny);
        g_assert_cmpint(a->kill_signal, ==, b->kill_signal);
        g_assert_cmpint(a->reboot_signal, ==, b->reboot_signal);
        g_assert_cmpint(a->notify_ready, ==, b->notify_ready);
        g_assert_cmpuint(a->set_mask, ==, b->set_mask);
}

static bool settings_differ(const Settings *a, const Settings *b) {
        return !streq_ptr(a->hostname, b->hostname) || a->uuid_set != b->uuid_set ||
               a->read_only != b->read_only || a->boot != b->boot || a->as_pid1 != b->as_pid1 ||
               strv_length(a->parameters) != strv_length(b->parameters) || !streq_ptr(a->user, b->user) ||
               !streq_ptr(a->chdir, b->chdir) || strv_length(a->environment) != strv_length(b->environment) ||
               a->n_mounts != b->n_mounts || a->ephemeral != b->ephemeral ||
               a->volatile_mode != b->volatile_mode || a->userns_mode != b->userns_mode ||
               a->uid_shift != b->uid_shift || a->ownership != b->ownership ||
               a->private_network != b->private_network || a->network_veth != b->network_veth ||
               a->capability_add != b->capability_add || a->capability_drop != b->capability_drop ||
               a->no_new_privileges != b->no_new_privileges ||
               strv_length(a->syscall_allow) != strv_length(b->syscall_allow) ||
               strv_length(a->syscall_deny) != strv_length(b->syscall_deny) || a->kill_signal != b->kill_signal ||
               a->reboot_signal != b->reboot_signal || a->notify_ready != b->notify_ready;
}

static void test_every_key(Fixture *fx, gconstpointer data) {
        static const uint8_t id[16] = { 0x0f, 0x4b, 0x1c, 0x2e, 0x55, 0x11, 0x4a, 0x33,
                                        0x9c, 0x1d, 0x22, 0x6e, 0x7a, 0x10, 0x00, 0x01 };

        g_assert_cmpint(load(fx,
                             "# a comment\n"
                             "; another\n"
                             "[Exec]\n"
                             "Boot=yes\n"
                             "AsPid1=on\n"
                             "Parameters=--log-level=debug 'two words' \"x y\"\n"
                             "Environment=FOO=bar PATH=/usr/bin:/bin\n"
                             "Environment=\"QUOTED=a b\"\n"
                             "User=daemon\n"
                             "WorkingDirectory=/srv/work\n"
                             "PrivateUsers=100000:65536\n"
                             "NoNewPrivileges=true\n"
                             "SystemCallFilter=@clock ptrace\n"
                             "SystemCallFilter=~bpf perf_event_open\n"
                             "KillSignal=SIGRTMIN+3\n"
                             "RebootSignal=TERM\n"
                             "Hostname=web.example\n"
                             "MachineID=0f4b1c2e-5511-4a33-9c1d-226e7a100001\n"
                             "NotifyReady=1\n"
                             "Ephemeral=yes\n"
                             "[Files]\n"
                             "ReadOnly=yes\n"
                             "Volatile=state\n"
                             "Bind=/srv/data:/data:norbind\n"
                             "BindReadOnly=/etc/resolv.conf\n"
                             "TemporaryFileSystem=/scratch:mode=0755,size=1M\n"
                             "Overlay=/lower:/upper:/merged\n"
                             "OverlayReadOnly=/l1:/l2:/ro\n"
                             "PrivateUsersOwnership=map\n"
                             "[Network]\n"
                             "Private=yes\n"
                             "VirtualEthernet=yes\n",
                             true), ==, 0);

        g_assert_true(fx->s.boot);
        g_assert_true(fx->s.as_pid1);
        g_assert_cmpuint(strv_length(fx->s.parameters), ==, 3);
        g_assert_cmpstr(fx->s.parameters[0], ==, "--log-level=debug");
        g_assert_cmpstr(fx->s.parameters[1], ==, "two words");
        g_assert_cmpstr(fx->s.parameters[2], ==, "x y");
        g_assert_cmpstr(strv_env_get(fx->s.environment, "FOO"), ==, "bar");
        g_assert_cmpstr(strv_env_get(fx->s.environment, "PATH"), ==, "/usr/bin:/bin");
        g_assert_cmpstr(strv_env_get(fx->s.environment, "QUOTED"), ==, "a b");
        g_assert_cmpstr(fx->s.user, ==, "daemon");
        g_assert_cmpstr(fx->s.chdir, ==, "/srv/work");
        g_assert_cmpint(fx->s.userns_mode, ==, USERNS_FIXED);
        g_assert_cmpuint(fx->s.uid_shift, ==, 100000);
        g_assert_cmpuint(fx->s.uid_range, ==, 65536);
        g_assert_true(fx->s.no_new_privileges);
        g_assert_cmpuint(strv_length(fx->s.syscall_allow), ==, 2);
        g_assert_cmpstr(fx->s.syscall_allow[0], ==, "@clock");
        g_assert_cmpstr(fx->s.syscall_allow[1], ==, "ptrace");
        g_assert_cmpuint(strv_length(fx->s.syscall_deny), ==, 2);
        g_assert_cmpstr(fx->s.syscall_deny[0], ==, "bpf");
        g_assert_cmpstr(fx->s.syscall_deny[1], ==, "perf_event_open");
        g_assert_cmpint(fx->s.kill_signal, ==, SIGRTMIN + 3);
        g_assert_cmpint(fx->s.reboot_signal, ==, SIGTERM);
        g_assert_cmpstr(fx->s.hostname, ==, "web.example");
        g_assert_true(fx->s.uuid_set);
        g_assert_cmpmem(fx->s.uuid, 16, id, 16);
        g_assert_true(fx->s.notify_ready);
        g_assert_true(fx->s.ephemeral);
        g_assert_true(fx->s.read_only);
        g_assert_cmpint(fx->s.volatile_mode, ==, VOLATILE_STATE);
        g_assert_cmpuint(fx->s.n_mounts, ==, 5);
        g_assert_cmpint(fx->s.mounts[0].type, ==, CUSTOM_MOUNT_BIND);
        g_assert_cmpstr(fx->s.mounts[0].source, ==, "/srv/data");
        g_assert_cmpstr(fx->s.mounts[0].destination, ==, "/data");
        g_assert_cmpstr(fx->s.mounts[0].options, ==, "norbind");
        g_assert_cmpint(fx->s.mounts[1].type, ==, CUSTOM_MOUNT_BIND_RO);
        g_assert_cmpstr(fx->s.mounts[1].destination, ==, "/etc/resolv.conf");
        g_assert_cmpint(fx->s.mounts[2].type, ==, CUSTOM_MOUNT_TMPFS);
        g_assert_cmpstr(fx->s.mounts[2].destination, ==, "/scratch");
        g_assert_cmpstr(fx->s.mounts[2].options, ==, "mode=0755,size=1M");
        g_assert_cmpint(fx->s.mounts[3].type, ==, CUSTOM_MOUNT_OVERLAY);
        g_assert_cmpstr(fx->s.mounts[3].upper, ==, "/upper");
        g_assert_cmpstr(fx->s.mounts[3].destination, ==, "/merged");
        g_assert_cmpint(fx->s.mounts[4].type, ==, CUSTOM_MOUNT_OVERLAY_RO);
        g_assert_cmpuint(strv_length(fx->s.mounts[4].lower), ==, 2);
        g_assert_cmpint(fx->s.ownership, ==, OWNERSHIP_MAP);
        g_assert_true(fx->s.private_network);
        g_assert_true(fx->s.network_veth);
}

static void test_capabilities(Fixture *fx, gconstpointer data) {
        int admin, net;

        if (!caps_available()) {
                g_test_skip("capability_list_parse() is not implemented yet (caps.c is a stub)");
                return;
        }
        admin = capability_from_name("CAP_SYS_ADMIN");
        net = capability_from_name("CAP_NET_ADMIN");
        g_assert_cmpint(load(fx,
                             "[Exec]\n"
                             "Capability=CAP_SYS_ADMIN\n"
                             "Capability=CAP_NET_ADMIN\n"
                             "DropCapability=CAP_SYS_PTRACE CAP_MKNOD\n",
                             true), ==, 0);
        g_assert_cmpuint(fx->s.capability_add, ==, (1ULL << admin) | (1ULL << net));
        g_assert_cmpuint(fx->s.capability_drop, ==,
                         (1ULL << capability_from_name("CAP_SYS_PTRACE")) | (1ULL << capability_from_name("CAP_MKNOD")));
        g_assert_cmpint(load(fx, "[Exec]\nCapability=CAP_NOT_A_THING\n", true), ==, -EINVAL);
}

static void test_booleans(Fixture *fx, gconstpointer data) {
        static const char *const yes[] = { "yes", "YES", "true", "on", "1", "y", "t" };
        static const char *const no[] = { "no", "No", "false", "off", "0", "n", "f" };

        for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
                g_autofree char *c = g_strdup_printf("[Files]\nReadOnly=%s\n", yes[i]);

                fx->s.read_only = false;
                g_assert_cmpint(load(fx, c, true), ==, 0);
                g_assert_true(fx->s.read_only);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(no); i++) {
                g_autofree char *c = g_strdup_printf("[Files]\nReadOnly=%s\n", no[i]);

                fx->s.read_only = true;
                g_assert_cmpint(load(fx, c, true), ==, 0);
                g_assert_false(fx->s.read_only);
        }
}

/* Lists grow with each repeat and an empty value starts over; a scalar keeps its last value. */
static void test_repeats(Fixture *fx, gconstpointer data) {
        g_assert_cmpint(load(fx,
                             "[Exec]\n"
                             "Hostname=first\n"
                             "Hostname=second\n"
                             "Environment=A=1\n"
                             "Environment=B=2 A=3\n"
                             "Parameters=dropped\n"
                             "Parameters=\n"
                             "Parameters=/bin/sh -c\n"
                             "Parameters=\"echo hi\"\n"
                             "KillSignal=SIGUSR2\n"
                             "KillSignal=\n"
                             "[Files]\n"
                             "Bind=/a\n"
                             "Bind=/b:/c\n",
                             true), ==, 0);
        g_assert_cmpstr(fx->s.hostname, ==, "second");
        g_assert_cmpuint(strv_length(fx->s.environment), ==, 2);
        g_assert_cmpstr(strv_env_get(fx->s.environment, "A"), ==, "3");
        g_assert_cmpstr(strv_env_get(fx->s.environment, "B"), ==, "2");
        g_assert_cmpuint(strv_length(fx->s.parameters), ==, 3);
        g_assert_cmpstr(fx->s.parameters[0], ==, "/bin/sh");
        g_assert_cmpstr(fx->s.parameters[2], ==, "echo hi");
        g_assert_cmpint(fx->s.kill_signal, ==, 0);
        g_assert_cmpuint(fx->s.n_mounts, ==, 2);
        g_assert_cmpstr(fx->s.mounts[1].destination, ==, "/c");
}

/* inih's own extensions must not change what a line written for nspawn means. */
static void test_syntax(Fixture *fx, gconstpointer data) {
        g_assert_cmpint(load(fx,
                             "\xef\xbb\xbf[Exec]\r\n"
                             "Parameters=/bin/sh -c \"a ; b\" x;y\r\n"
                             "   Environment=INDENTED=yes\r\n"
                             "  Environment=SECOND=yes\r\n"
                             "Hostname = spaced\r\n"
                             "[Files]\n"
                             "Bind=/a\\:b:/c\n",
                             true), ==, 0);
        g_assert_cmpuint(strv_length(fx->s.parameters), ==, 4);
        g_assert_cmpstr(fx->s.parameters[2], ==, "a ; b");
        g_assert_cmpstr(fx->s.parameters[3], ==, "x;y");
        g_assert_cmpstr(strv_env_get(fx->s.environment, "INDENTED"), ==, "yes");
        g_assert_cmpstr(strv_env_get(fx->s.environment, "SECOND"), ==, "yes");
        g_assert_cmpstr(fx->s.hostname, ==, "spaced");
        g_assert_cmpuint(fx->s.n_mounts, ==, 1);
        g_assert_cmpstr(fx->s.mounts[0].source, ==, "/a:b");
        g_assert_cmpstr(fx->s.mounts[0].destination, ==, "/c");
}

static void test_signals(Fixture *fx, gconstpointer data) {
        static const struct {
                const char *text;
                int sig;
        } good[] = {
                { "SIGTERM", SIGTERM }, { "TERM", SIGTERM }, { "SIGUSR2", SIGUSR2 }, { "INT", SIGINT },
                { "15", 15 }, { "37", 37 }, { "SIGRTMIN", -1 }, { "RTMIN+5", -2 }, { "SIGRTMAX-1", -3 },
        };
        static const char *const bad[] = { "0", "65", "-1", "SIGFOO", "sigterm", "SIGRTMIN+99", "RTMIN-1",
                                           "RTMAX+1", "15x", "1 5", "SIG" };

        for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
                g_autofree char *c = g_strdup_printf("[Exec]\nKillSignal=%s\n", good[i].text);
                int want = good[i].sig == -1 ? SIGRTMIN : good[i].sig == -2 ? SIGRTMIN + 5 :
                           good[i].sig == -3 ? SIGRTMAX - 1 : good[i].sig;

                g_assert_cmpint(load(fx, c, true), ==, 0);
                g_assert_cmpint(fx->s.kill_signal, ==, want);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autofree char *c = g_strdup_printf("[Exec]\nRebootSignal=%s\n", bad[i]);

                g_test_message("RebootSignal=%s", bad[i]);
                g_assert_cmpint(load(fx, c, true), ==, -EINVAL);
                g_assert_cmpint(fx->s.reboot_signal, ==, 0);
        }
}

/* One line per key, each changing something; with the key's bit in set_mask, nothing moves. */
static const struct {
        const char *line;
        uint64_t mask;
} masked_lines[] = {
        /* A command, --boot or --as-pid1 on the command line keeps all three away. */
        { "[Exec]\nBoot=yes", SETTING_BOOT },
        { "[Exec]\nBoot=yes", SETTING_COMMAND },
        { "[Exec]\nBoot=yes", SETTING_AS_PID1 },
        { "[Exec]\nAsPid1=yes", SETTING_AS_PID1 },
        { "[Exec]\nAsPid1=yes", SETTING_COMMAND },
        { "[Exec]\nAsPid1=yes", SETTING_BOOT },
        { "[Exec]\nParameters=/bin/true", SETTING_COMMAND },
        { "[Exec]\nParameters=--debug", SETTING_BOOT },
        { "[Exec]\nParameters=/bin/true", SETTING_AS_PID1 },
        { "[Exec]\nEnvironment=A=b", SETTING_ENVIRONMENT },
        { "[Exec]\nUser=nobody", SETTING_USER },
        { "[Exec]\nWorkingDirectory=/tmp", SETTING_CHDIR },
        { "[Exec]\nPrivateUsers=pick", SETTING_USERNS },
        { "[Exec]\nNoNewPrivileges=yes", SETTING_NO_NEW_PRIVILEGES },
        { "[Exec]\nSystemCallFilter=~bpf", SETTING_SYSCALL_FILTER },
        { "[Exec]\nKillSignal=SIGUSR2", SETTING_KILL_SIGNAL },
        { "[Exec]\nKillSignal=SIGUSR2", SETTING_POWEROFF_SIGNAL },
        { "[Exec]\nRebootSignal=SIGTERM", SETTING_REBOOT_SIGNAL },
        { "[Exec]\nHostname=file", SETTING_HOSTNAME },
        { "[Exec]\nMachineID=0f4b1c2e55114a339c1d226e7a100001", SETTING_UUID },
        { "[Exec]\nNotifyReady=yes", SETTING_NOTIFY_READY },
        { "[Exec]\nEphemeral=yes", SETTING_EPHEMERAL },
        { "[Files]\nEphemeral=yes", SETTING_EPHEMERAL },
        { "[Files]\nReadOnly=yes", SETTING_READ_ONLY },
        { "[Files]\nVolatile=yes", SETTING_VOLATILE },
        { "[Files]\nBind=/srv", SETTING_CUSTOM_MOUNTS },
        { "[Files]\nBindReadOnly=/srv", SETTING_CUSTOM_MOUNTS },
        { "[Files]\nTemporaryFileSystem=/srv", SETTING_CUSTOM_MOUNTS },
        { "[Files]\nOverlay=/a:/b:/srv", SETTING_CUSTOM_MOUNTS },
        { "[Files]\nOverlayReadOnly=/a:/srv", SETTING_CUSTOM_MOUNTS },
        { "[Files]\nPrivateUsersOwnership=chown", SETTING_OWNERSHIP },
        { "[Network]\nPrivate=yes", SETTING_NETWORK },
        { "[Network]\nVirtualEthernet=yes", SETTING_NETWORK },
};

static void test_cmdline_mask(Fixture *fx, gconstpointer data) {
        for (size_t i = 0; i < G_N_ELEMENTS(masked_lines); i++) {
                g_autofree char *c = g_strdup_printf("%s\n", masked_lines[i].line);
                Settings before;

                g_test_message("%s", masked_lines[i].line);
                settings_done(&fx->s);
                settings_init(&fx->s);
                settings_init(&before);

                /* Without the mask the line changes something; with it, nothing. */
                g_assert_cmpint(load(fx, c, true), ==, 0);
                g_assert_true(settings_differ(&fx->s, &before));

                settings_done(&fx->s);
                settings_init(&fx->s);
                fx->s.set_mask = before.set_mask = masked_lines[i].mask;
                g_assert_cmpint(load(fx, c, true), ==, 0);
                assert_settings_same(&fx->s, &before);
                settings_done(&before);
        }

        /* A value from the command line survives the file's. */
        settings_done(&fx->s);
        settings_init(&fx->s);
        fx->s.hostname = g_strdup("cmdline");
        fx->s.set_mask = SETTING_HOSTNAME;
        g_assert_cmpint(load(fx, "[Exec]\nHostname=file\nUser=nobody\n", true), ==, 0);
        g_assert_cmpstr(fx->s.hostname, ==, "cmdline");
        g_assert_cmpstr(fx->s.user, ==, "nobody");
}

/* The state an untrusted file is tried against: each privileged line would change it. */
static void privileged_start(Settings *s) {
        settings_init(s);
        s->userns_mode = USERNS_PICK;
        s->no_new_privileges = true;
        s->read_only = true;
        s->private_network = true;
}

static const char *const privileged_lines[] = {
        "[Files]\nBind=/etc:/hostetc",
        "[Files]\nBind=/:/host",
        "[Files]\nBindReadOnly=/etc",
        "[Files]\nTemporaryFileSystem=/dev",
        "[Files]\nOverlay=/etc:/tmp/up:/etc",
        "[Files]\nOverlayReadOnly=/etc:/hostetc",
        "[Exec]\nPrivateUsers=no",
        "[Exec]\nPrivateUsers=0",
        "[Exec]\nPrivateUsers=100000:65536",
        "[Exec]\nNoNewPrivileges=no",
        "[Exec]\nSystemCallFilter=bpf",
        "[Exec]\nSystemCallFilter=@module kexec_load",
        "[Exec]\nMachineID=0f4b1c2e55114a339c1d226e7a100001",
        "[Exec]\nEphemeral=yes",
        "[Files]\nEphemeral=yes",
        "[Files]\nReadOnly=no",
        "[Files]\nPrivateUsersOwnership=chown",
        "[Network]\nPrivate=no",
        "[Network]\nVirtualEthernet=yes",
        "[Exec]\nCapability=all",
        "[Exec]\nCapability=CAP_SYS_ADMIN",
};

static void test_untrusted_privileged(Fixture *fx, gconstpointer data) {
        for (size_t i = 0; i < G_N_ELEMENTS(privileged_lines); i++) {
                g_autofree char *c = g_strdup_printf("[Exec]\nHostname=untrusted\n%s\n", privileged_lines[i]);
                Settings before;

                if (strstr(c, "Capability=") && !caps_available()) {
                        g_test_message("skipping %s: caps.c is a stub", privileged_lines[i]);
                        continue;
                }
                g_test_message("%s", privileged_lines[i]);
                privileged_start(&before);

                /* Untrusted: the harmless Hostname= applies, the privileged line does not. */
                settings_done(&fx->s);
                privileged_start(&fx->s);
                g_assert_cmpint(load(fx, c, false), ==, 0);
                g_assert_cmpstr(fx->s.hostname, ==, "untrusted");
                free(before.hostname);
                before.hostname = strdup("untrusted");
                assert_settings_same(&fx->s, &before);

                /* Trusted: the same line takes effect. */
                settings_done(&fx->s);
                privileged_start(&fx->s);
                g_assert_cmpint(load(fx, c, true), ==, 0);
                g_assert_true(settings_differ(&fx->s, &before));
                settings_done(&before);
        }
}

/* Values that only take away are honoured from anywhere. */
static const char *const harmless_lines[] = {
        "[Exec]\nNoNewPrivileges=yes",
        "[Exec]\nSystemCallFilter=~bpf @obsolete",
        "[Exec]\nPrivateUsers=yes",
        "[Exec]\nPrivateUsers=pick",
        "[Exec]\nPrivateUsers=identity",
        "[Exec]\nBoot=yes",
        "[Exec]\nParameters=/bin/sh",
        "[Exec]\nEnvironment=A=1",
        "[Exec]\nUser=nobody",
        "[Exec]\nWorkingDirectory=/root",
        "[Exec]\nKillSignal=SIGUSR2",
        "[Exec]\nRebootSignal=SIGTERM",
        "[Exec]\nNotifyReady=yes",
        "[Exec]\nAsPid1=yes",
        "[Files]\nReadOnly=yes",
        "[Files]\nVolatile=overlay",
        "[Files]\nPrivateUsersOwnership=map",
        "[Files]\nPrivateUsersOwnership=off",
        "[Network]\nPrivate=yes",
        "[Exec]\nDropCapability=CAP_SYS_ADMIN",
};

static void test_untrusted_harmless(Fixture *fx, gconstpointer data) {
        for (size_t i = 0; i < G_N_ELEMENTS(harmless_lines); i++) {
                g_autofree char *c = g_strdup_printf("%s\n", harmless_lines[i]);
                Settings before;

                if (strstr(c, "Capability=") && !caps_available()) {
                        g_test_message("skipping %s: caps.c is a stub", harmless_lines[i]);
                        continue;
                }
                g_test_message("%s", harmless_lines[i]);
                settings_init(&before);
                settings_done(&fx->s);
                settings_init(&fx->s);
                g_assert_cmpint(load(fx, c, false), ==, 0);
                g_assert_true(settings_differ(&fx->s, &before));
                settings_done(&before);
        }
}

/* The warning names the file, the line and the key. */
static void test_untrusted_warning(Fixture *fx, gconstpointer data) {
        if (g_test_subprocess()) {
                g_assert_cmpint(load(fx, "[Files]\nBind=/etc:/hostetc\n", false), ==, 0);
                g_assert_cmpuint(fx->s.n_mounts, ==, 0);
                return;
        }
        g_test_trap_subprocess(NULL, 10 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        g_test_trap_assert_stderr("*m.berth:2: Ignoring privileged setting Bind=/etc:/hostetc*");
}

static const char *const malformed[] = {
        "[Exec]\nBoot=maybe\n",
        "[Exec]\nBoot=\n",
        "[Exec]\nKillSignal=SIGFOO\n",
        "[Exec]\nPrivateUsers=0:0\n",
        "[Exec]\nPrivateUsers=4294967295:2\n",
        "[Exec]\nPrivateUsers=lots\n",
        "[Exec]\nMachineID=not-an-id\n",
        "[Exec]\nMachineID=00000000000000000000000000000000\n",
        "[Exec]\nHostname=-bad\n",
        "[Exec]\nHostname=foo ; inline comments are not a thing\n",
        "[Exec]\nUser=root;id\n",
        "[Exec]\nUser=../x\n",
        "[Exec]\nWorkingDirectory=relative\n",
        "[Exec]\nWorkingDirectory=/a/../b\n",
        "[Exec]\nEnvironment=1FOO=x\n",
        "[Exec]\nEnvironment=NOVALUE\n",
        "[Exec]\nParameters=\"unterminated\n",
        "[Exec]\nParameters=trailing\\\n",
        "[Exec]\nSystemCallFilter=~\n",
        "[Exec]\nSystemCallFilter=a/b\n",
        "[Files]\nVolatile=sometimes\n",
        "[Files]\nPrivateUsersOwnership=maybe\n",
        "[Files]\nBind=relative:/x\n",
        "[Files]\nBind=/a:relative\n",
        "[Files]\nBind=/a:/b/../c\n",
        "[Files]\nBind=/a:/b:bogus\n",
        "[Files]\nOverlay=/a:/b\n",
        "[Files]\nTemporaryFileSystem=\n",
        "[Network]\nPrivate=perhaps\n",
        "[Exec\nBoot=yes\n",
        "[Exec]\nthis line has no equals sign\n",
        "[Exec]\nHostname=a\x01" "b\n",
        "[Exec]\nHostname=a\x7f" "b\n",
};

/* A malformed file is an error and leaves S exactly as it was, even after good lines. */
static void test_malformed(Fixture *fx, gconstpointer data) {
        for (size_t i = 0; i < G_N_ELEMENTS(malformed); i++) {
                g_autofree char *c = g_strdup_printf("[Files]\nBind=/srv\n[Exec]\nHostname=changed\nEnvironment=A=b\n%s",
                                                     malformed[i]);
                Settings before;

                g_test_message("%s", malformed[i]);
                settings_done(&fx->s);
                privileged_start(&fx->s);
                fx->s.hostname = g_strdup("original");
                privileged_start(&before);
                before.hostname = g_strdup("original");

                g_assert_cmpint(load(fx, c, true), ==, -EINVAL);
                assert_settings_same(&fx->s, &before);
                g_assert_cmpint(load(fx, c, false), ==, -EINVAL);
                assert_settings_same(&fx->s, &before);
                settings_done(&before);
        }
}

static void test_long_line(Fixture *fx, gconstpointer data) {
        g_autofree char *pad = g_strnfill(250, 'x');
        g_autofree char *c = g_strdup_printf("[Exec]\nEnvironment=A=%sBind=/:/host\n", pad);

        /* inih would parse the rest of an over-long line as a line of its own. */
        g_assert_cmpint(load(fx, c, true), ==, -EINVAL);
        g_assert_null(fx->s.environment);
        g_assert_cmpuint(fx->s.n_mounts, ==, 0);
}

static void test_error_message(Fixture *fx, gconstpointer data) {
        if (g_test_subprocess()) {
                g_assert_cmpint(load(fx, "[Exec]\nHostname=ok\n\nBoot=maybe\n", true), ==, -EINVAL);
                return;
        }
        g_test_trap_subprocess(NULL, 10 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        g_test_trap_assert_stderr("*m.berth:4: Invalid Boot=maybe, expected a boolean.*");
}

static void test_unknown(Fixture *fx, gconstpointer data) {
        if (g_test_subprocess()) {
                g_assert_cmpint(load(fx,
                                     "Orphan=1\n"
                                     "[Future]\n"
                                     "Thing=1\n"
                                     "[Exec]\n"
                                     "Personality=x86\n"
                                     "LimitNOFILES=1024\n"
                                     "Frobnicate=yes\n"
                                     "Hostname=still-applied\n",
                                     false), ==, 0);
                g_assert_cmpstr(fx->s.hostname, ==, "still-applied");
                return;
        }
        g_test_trap_subprocess(NULL, 10 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        g_test_trap_assert_stderr("*m.berth:1: Orphan= outside of any section*"
                                  "*m.berth:3: Unknown section [Future]*"
                                  "*m.berth:5: Personality= is a systemd-nspawn setting berth does not support*"
                                  "*m.berth:6: LimitNOFILES= names no resource limit*"
                                  "*m.berth:7: Unknown setting Frobnicate= in [Exec]*");
}

static void on_alarm(int sig) {
        /* Reaching this means open() or read() blocked on the FIFO. */
        g_error("loading a FIFO blocked");
}

static void test_not_regular(Fixture *fx, gconstpointer data) {
        g_autofree char *fifo = g_build_filename(fx->dir, "fifo.berth", NULL);
        g_autofree char *dir = g_build_filename(fx->dir, "dir.berth", NULL);
        g_autofree char *target = write_file(fx->dir, "target", "[Exec]\nHostname=via-link\n");
        g_autofree char *link = g_build_filename(fx->dir, "link.berth", NULL);
        g_autofree char *missing = g_build_filename(fx->dir, "missing.berth", NULL);
        struct sigaction sa = { .sa_handler = on_alarm }, old;

        g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
        g_assert_cmpint(mkdir(dir, 0700), ==, 0);
        g_assert_cmpint(symlink(target, link), ==, 0);

        g_assert_cmpint(sigaction(SIGALRM, &sa, &old), ==, 0);
        alarm(5);
        g_assert_cmpint(settings_load_file(&fx->s, fifo, true), ==, -EBADFD);
        g_assert_cmpint(settings_load_file(&fx->s, fifo, false), ==, -EBADFD);
        alarm(0);
        g_assert_cmpint(sigaction(SIGALRM, &old, NULL), ==, 0);

        g_assert_cmpint(settings_load_file(&fx->s, dir, true), ==, -EBADFD);
        g_assert_cmpint(settings_load_file(&fx->s, "/dev/null", true), ==, -EBADFD);
        g_assert_cmpint(settings_load_file(&fx->s, missing, true), ==, -ENOENT);
        g_assert_null(fx->s.hostname);

        /* Beside the image a symlink is refused; the administrator's directory may use them. */
        g_assert_cmpint(settings_load_file(&fx->s, link, false), ==, -ELOOP);
        g_assert_null(fx->s.hostname);
        g_assert_cmpint(settings_load_file(&fx->s, link, true), ==, 0);
        g_assert_cmpstr(fx->s.hostname, ==, "via-link");
}

static void test_size_limit(Fixture *fx, gconstpointer data) {
        g_autofree char *path = g_build_filename(fx->dir, "big.berth", NULL);
        const size_t mib = 1024 * 1024;
        g_autofree char *content = g_malloc(2 * mib + 1);
        g_autoptr(GError) error = NULL;
        const char *head = "[Exec]\nHostname=big\n";

        /* Comment lines up to exactly 1 MiB: still accepted. */
        memset(content, '\n', 2 * mib);
        memcpy(content, head, strlen(head));
        for (size_t i = strlen(head); i + 80 <= mib; i += 80)
                content[i] = '#';
        g_assert_true(g_file_set_contents(path, content, mib, &error));
        g_assert_no_error(error);
        g_assert_cmpint(settings_load_file(&fx->s, path, true), ==, 0);
        g_assert_cmpstr(fx->s.hostname, ==, "big");

        /* One byte more, or 2 MiB: refused. */
        settings_done(&fx->s);
        settings_init(&fx->s);
        g_assert_true(g_file_set_contents(path, content, mib + 1, &error));
        g_assert_cmpint(settings_load_file(&fx->s, path, true), ==, -EFBIG);
        g_assert_true(g_file_set_contents(path, content, 2 * mib, &error));
        g_assert_cmpint(settings_load_file(&fx->s, path, true), ==, -EFBIG);
        g_assert_null(fx->s.hostname);
}

static void test_find_and_load(Fixture *fx, gconstpointer data) {
        g_autofree char *etc = g_build_filename(fx->dir, "etc", NULL);
        g_autofree char *pool = g_build_filename(fx->dir, "pool", NULL);
        g_autofree char *tree = g_build_filename(pool, "m", NULL);
        g_autofree char *trusted = NULL, *untrusted = NULL, *tree_slash = NULL;

        g_assert_cmpint(g_mkdir_with_parents(etc, 0755), ==, 0);
        g_assert_cmpint(g_mkdir_with_parents(tree, 0755), ==, 0);
        trusted = write_file(etc, "m.berth", "[Exec]\nHostname=trusted\n[Files]\nBind=/srv\n");
        untrusted = write_file(pool, "m.berth", "[Exec]\nHostname=untrusted\n[Files]\nBind=/srv\n");

        /* Without a valid machine name there is nothing to look for. */
        g_assert_cmpint(settings_find_and_load(&fx->s, etc), ==, -EINVAL);
        fx->s.machine = g_strdup("../m");
        g_assert_cmpint(settings_find_and_load(&fx->s, etc), ==, -EINVAL);
        g_free(fx->s.machine);

        fx->s.machine = g_strdup("m");
        fx->s.directory = g_strdup(tree);
        g_assert_cmpint(settings_find_and_load(&fx->s, etc), ==, 1);
        g_assert_cmpstr(fx->s.hostname, ==, "trusted");
        g_assert_cmpuint(fx->s.n_mounts, ==, 1);

        /* Only the first file found is read: without the trusted one, the untrusted one, whose
         * Bind= is ignored. A trailing slash on the tree changes nothing. */
        g_assert_cmpint(unlink(trusted), ==, 0);
        settings_done(&fx->s);
        settings_init(&fx->s);
        tree_slash = g_strconcat(tree, "/", NULL);
        fx->s.machine = g_strdup("m");
        fx->s.directory = g_strdup(tree_slash);
        g_assert_cmpint(settings_find_and_load(&fx->s, etc), ==, 1);
        g_assert_cmpstr(fx->s.hostname, ==, "untrusted");
        g_assert_cmpuint(fx->s.n_mounts, ==, 0);

        /* A missing settings directory is the same as an empty one. */
        g_free(fx->s.hostname);
        fx->s.hostname = NULL;
        g_assert_cmpint(settings_find_and_load(&fx->s, "/nonexistent/berth"), ==, 1);
        g_assert_cmpstr(fx->s.hostname, ==, "untrusted");

        /* No tree given: the untrusted place is not looked at. */
        g_free(fx->s.directory);
        fx->s.directory = NULL;
        g_free(fx->s.hostname);
        fx->s.hostname = NULL;
        g_assert_cmpint(settings_find_and_load(&fx->s, etc), ==, 0);
        g_assert_null(fx->s.hostname);

        g_assert_cmpint(unlink(untrusted), ==, 0);
        fx->s.directory = g_strdup(tree);
        g_assert_cmpint(settings_find_and_load(&fx->s, etc), ==, 0);

        /* An error in the file found is the caller's error. */
        g_free(write_file(etc, "m.berth", "[Exec]\nBoot=maybe\n"));
        g_assert_cmpint(settings_find_and_load(&fx->s, etc), ==, -EINVAL);
}

/* [Network]'s link keys: lists accumulate, each implies a private network (Bridge= and Zone= a
 * veth too), only a trusted file applies them, bad names refuse the file. */
static void test_network_links(Fixture *fx, gconstpointer data) {
        static const char *const file =
                "[Network]\nZone=web\nInterface=eth1 eth2:inner0\nInterface=eth3\nMACVLAN=eth4\n"
                "IPVLAN=eth5:iv0\nVirtualEthernetExtra=x0:g0\nVirtualEthernetExtra=x1\n";
        static const char *const bad[] = {
                "[Network]\nZone=abcdefghijklm\n", "[Network]\nBridge=a/b\n", "[Network]\nInterface=a:b:c\n",
                "[Network]\nMACVLAN=abcdefghijklmnop\n", "[Network]\nNamespacePath=relative\n",
        };
        char *interfaces[] = { (char *) "eth1", (char *) "eth2:inner0", (char *) "eth3", NULL };
        char *extra[] = { (char *) "x0:g0", (char *) "x1", NULL };

        g_assert_cmpint(load(fx, file, true), ==, 0);
        g_assert_cmpstr(fx->s.network_zone, ==, "web");
        g_assert_true(fx->s.network_veth);
        g_assert_true(fx->s.private_network);
        assert_strv_equal(fx->s.network_interfaces, interfaces);
        g_assert_cmpstr(fx->s.network_macvlan[0], ==, "eth4");
        g_assert_cmpstr(fx->s.network_ipvlan[0], ==, "eth5:iv0");
        assert_strv_equal(fx->s.network_veth_extra, extra);

        settings_done(&fx->s);
        settings_init(&fx->s);
        g_assert_cmpint(load(fx, "[Network]\nBridge=br0\nNamespacePath=/run/netns/x\n", true), ==, 0);
        g_assert_cmpstr(fx->s.network_bridge, ==, "br0");
        g_assert_cmpstr(fx->s.network_namespace_path, ==, "/run/netns/x");

        /* Untrusted: none of it reaches the host. */
        settings_done(&fx->s);
        settings_init(&fx->s);
        g_assert_cmpint(load(fx, file, false), ==, 0);
        g_assert_null(fx->s.network_zone);
        g_assert_null(fx->s.network_interfaces);
        g_assert_null(fx->s.network_macvlan);
        g_assert_null(fx->s.network_ipvlan);
        g_assert_null(fx->s.network_veth_extra);
        g_assert_false(fx->s.network_veth);
        g_assert_false(fx->s.private_network);

        /* Any network option on the command line masks them. */
        settings_done(&fx->s);
        settings_init(&fx->s);
        fx->s.set_mask |= SETTING_NETWORK;
        g_assert_cmpint(load(fx, file, true), ==, 0);
        g_assert_null(fx->s.network_zone);
        g_assert_null(fx->s.network_interfaces);

        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                settings_done(&fx->s);
                settings_init(&fx->s);
                g_assert_cmpint(load(fx, bad[i], true), ==, -EINVAL);
        }
}

/* [Resources]: every key, resets, privileges, and the start set of resources.c (the file's
 * values, the command line's per property, then the saved ones). */
static void test_resources(Fixture *fx, gconstpointer data) {
        _cleanup_(resource_limits_done) ResourceLimits l = {};
        g_autofree char *state = g_build_filename(fx->dir, "state", NULL);
        g_autofree char *props = g_build_filename(state, "properties", NULL);
        g_autofree char *saved = NULL;
        char *expect[] = { "MemoryHigh=1G", "MemorySwapMax=0", "CPUQuota=150%", "CPUWeight=500",
                           "AllowedCPUs=0-1", "TasksMax=100", "IOWeight=20", "IOReadBandwidthMax=/dev/sda 1M",
                           "IOWriteBandwidthMax=/var 2M", "DeviceAllow=/dev/fuse rw", "MemoryMax=256M", NULL };
        char *devices[] = { "/dev/loop-control:r", "/dev/kvm:rwm", NULL };

        g_assert_cmpint(load(fx,
                             "[Resources]\n"
                             "MemoryMax=64M\n"
                             "MemoryHigh=1G\nMemorySwapMax=0\nCPUQuota=150%\nCPUWeight=500\n"
                             "AllowedCPUs=0-1\nTasksMax=100\nIOWeight=20\n"
                             "IOReadBandwidthMax=/dev/sda 1M\nIOWriteBandwidthMax=/var 2M\n"
                             "DeviceAllow=/dev/fuse rw\n"
                             "MemoryMax=\nMemoryMax=256M\n"
                             "Device=/dev/loop-control:r\n"
                             "[Files]\nDevice=/dev/kvm\n", true), ==, 0);
        assert_strv_equal(fx->s.resources, expect);
        assert_strv_equal(fx->s.devices, devices);

        /* An untrusted file may only take from the container. */
        settings_done(&fx->s);
        settings_init(&fx->s);
        g_assert_cmpint(load(fx, "[Resources]\nTasksMax=10\nCPUWeight=50\nIOWeight=200\n"
                                 "DeviceAllow=/dev/fuse\nDevice=/dev/kvm\n", false), ==, 0);
        g_assert_cmpuint(strv_length(fx->s.resources), ==, 2);
        g_assert_cmpstr(fx->s.resources[1], ==, "CPUWeight=50");
        g_assert_null(fx->s.devices);

        /* Bad values fail the file. */
        static const char *const bad[] = { "[Resources]\nMemoryMax=lots\n", "[Resources]\nCPUQuota=2\n",
                                           "[Resources]\nDeviceAllow=/etc/passwd\n", "[Files]\nDevice=/dev/../etc:r\n",
                                           "[Resources]\nIOReadBandwidthMax=/dev/sda\n", "[Resources]\nTasksMax=0\n" };
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_test_message("bad: %s", bad[i]);
                settings_done(&fx->s);
                settings_init(&fx->s);
                g_assert_cmpint(load(fx, bad[i], true), ==, -EINVAL);
        }

        /* The start set: the file's TasksMax and IO list, --property='s list replaces the file's
         * whole, the saved TasksMax wins over both; Device= nodes are in DeviceAllow. */
        settings_done(&fx->s);
        settings_init(&fx->s);
        fx->s.machine = g_strdup("m");
        g_assert_cmpint(load(fx, "[Resources]\nTasksMax=100\nCPUWeight=50\nIOReadBandwidthMax=/dev/sda 1M\n"
                                 "IOReadBandwidthMax=/dev/sdb 1M\nDevice=/dev/null:r\n", true), ==, 0);
        g_assert_cmpint(strv_extend(&fx->s.resource_args, "IOReadBandwidthMax=/dev/sdc 5M"), ==, 0);
        g_assert_cmpint(strv_extend(&fx->s.resource_args, "CPUWeight=70"), ==, 0);
        g_assert_cmpint(g_mkdir_with_parents(props, 0755), ==, 0);
        saved = write_file(props, "m", "TasksMax=7\n");
        g_setenv("BERTH_STATE_DIR", state, true);
        g_assert_cmpint(resources_from_settings(&fx->s, &l), ==, 0);
        g_unsetenv("BERTH_STATE_DIR");
        g_assert_cmpuint(l.value[RESOURCE_TASKS_MAX], ==, 7);
        g_assert_cmpuint(l.value[RESOURCE_CPU_WEIGHT], ==, 70);
        g_assert_cmpuint(l.n_io[0], ==, 1);
        g_assert_cmpstr(l.io[0][0].path, ==, "/dev/sdc");
        g_assert_cmpuint(l.n_devices, ==, 1);
        g_assert_cmpstr(l.devices[0].path, ==, "/dev/null");
        g_assert_cmpstr(l.devices[0].access, ==, "r");

        /* --property= and --device= spellings. */
        g_assert_true(resources_is_assignment("CPUQuota=5%"));
        g_assert_true(resources_is_assignment("DeviceAllow=/dev/null"));
        g_assert_false(resources_is_assignment("Description=x"));
        g_assert_false(resources_is_assignment("MemoryLow=1M"));
        g_assert_cmpint(resources_check_assignment("MemoryMax=1Q"), ==, -EINVAL);
        {
                g_autofree char *d1 = NULL, *d2 = NULL, *d3 = NULL;

                g_assert_cmpint(resources_parse_device("/dev/fuse", &d1), ==, 0);
                g_assert_cmpstr(d1, ==, "/dev/fuse:rwm");
                g_assert_cmpint(resources_parse_device("/dev/fuse:mr", &d2), ==, 0);
                g_assert_cmpstr(d2, ==, "/dev/fuse:rm");
                g_assert_cmpint(resources_parse_device("/dev/fuse:x", &d3), <, 0);
                g_assert_cmpint(resources_parse_device("/tmp/fuse", &d3), <, 0);
        }
}

#define ADD(name, fn) g_test_add(name, Fixture, NULL, fixture_setup, fn, fixture_teardown)

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);

        ADD("/settings-file/every-key", test_every_key);
        ADD("/settings-file/capabilities", test_capabilities);
        ADD("/settings-file/booleans", test_booleans);
        ADD("/settings-file/repeats", test_repeats);
        ADD("/settings-file/syntax", test_syntax);
        ADD("/settings-file/signals", test_signals);
        ADD("/settings-file/cmdline-mask", test_cmdline_mask);
        ADD("/settings-file/untrusted-privileged", test_untrusted_privileged);
        ADD("/settings-file/untrusted-harmless", test_untrusted_harmless);
        ADD("/settings-file/untrusted-warning", test_untrusted_warning);
        ADD("/settings-file/malformed", test_malformed);
        ADD("/settings-file/long-line", test_long_line);
        ADD("/settings-file/error-message", test_error_message);
        ADD("/settings-file/unknown", test_unknown);
        ADD("/settings-file/not-regular", test_not_regular);
        ADD("/settings-file/size-limit", test_size_limit);
        ADD("/settings-file/find-and-load", test_find_and_load);
        ADD("/settings-file/network-links", test_network_links);
        ADD("/settings-file/resources", test_resources);

        return g_test_run();
}
