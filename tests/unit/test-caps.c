/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of capability names, lists, the default set, and caps_apply() in forked children. */

#include <fcntl.h>
#include <glib.h>
#include <linux/capability.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "macro.h"

#define BIT(c) (UINT64_C(1) << (c))

static void test_name_round_trip(void) {
        for (int c = 0; c <= CAP_LAST_CAP; c++) {
                const char *name = capability_to_name(c);
                g_autofree char *lower = NULL;

                g_assert_nonnull(name);
                g_assert_true(g_str_has_prefix(name, "CAP_"));
                g_assert_cmpint(capability_from_name(name), ==, c);

                lower = g_ascii_strdown(name, -1);
                g_assert_cmpint(capability_from_name(lower), ==, c);
                g_assert_cmpint(capability_from_name(lower + 4), ==, c);
                g_assert_cmpint(capability_from_name(name + 4), ==, c);
        }
        g_assert_null(capability_to_name(-1));
        g_assert_null(capability_to_name(CAP_LAST_CAP + 1));
        g_assert_null(capability_to_name(64));
}

static void test_from_name(void) {
        g_assert_cmpint(capability_from_name("Cap_Sys_Admin"), ==, CAP_SYS_ADMIN);
        g_assert_cmpint(capability_from_name("sYs_tImE"), ==, CAP_SYS_TIME);
        g_assert_cmpint(capability_from_name("0"), ==, 0);
        g_assert_cmpint(capability_from_name("40"), ==, 40);
        g_assert_cmpint(capability_from_name("63"), ==, 63);

        const char *bad[] = { "", "cap_", "CAP_", "CAP_FOO", "sys admin", "sys_admin ", " chown",
                              "cap_cap_chown", "all", "64", "-1", "01", "1x", "99999999999999999999" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                g_assert_cmpint(capability_from_name(bad[i]), ==, -EINVAL);
        g_assert_cmpint(capability_from_name(NULL), ==, -EINVAL);
}

static void test_list_parse(void) {
        uint64_t m = 1;

        g_assert_cmpint(capability_list_parse("cap_chown,CAP_KILL sys_admin", &m), ==, 0);
        g_assert_cmpuint(m, ==, BIT(CAP_CHOWN) | BIT(CAP_KILL) | BIT(CAP_SYS_ADMIN));

        g_assert_cmpint(capability_list_parse(" chown,,kill ,\tchown\n", &m), ==, 0);
        g_assert_cmpuint(m, ==, BIT(CAP_CHOWN) | BIT(CAP_KILL));

        g_assert_cmpint(capability_list_parse("all", &m), ==, 0);
        g_assert_cmpuint(m, ==, BIT(CAP_LAST_CAP + 1) - 1);
        g_assert_cmpint(capability_list_parse("ALL,chown", &m), ==, 0);
        g_assert_cmpuint(m, ==, BIT(CAP_LAST_CAP + 1) - 1);

        g_assert_cmpint(capability_list_parse("", &m), ==, 0);
        g_assert_cmpuint(m, ==, 0);
        g_assert_cmpint(capability_list_parse(NULL, &m), ==, 0);
        g_assert_cmpuint(m, ==, 0);

        m = 42;
        g_assert_cmpint(capability_list_parse("chown,bogus", &m), ==, -EINVAL);
        g_assert_cmpint(capability_list_parse("chown;kill", &m), ==, -EINVAL);
        g_assert_cmpint(capability_list_parse("cap_sys_adminxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", &m), ==, -EINVAL);
        g_assert_cmpuint(m, ==, 42); /* untouched on failure */
}

static void test_default_set(void) {
        /* systemd-nspawn's arg_caps_retain without CAP_DAC_READ_SEARCH and CAP_MKNOD. */
        const uint64_t expected =
                BIT(CAP_CHOWN) | BIT(CAP_DAC_OVERRIDE) | BIT(CAP_FOWNER) | BIT(CAP_FSETID) |
                BIT(CAP_IPC_OWNER) | BIT(CAP_KILL) | BIT(CAP_LEASE) | BIT(CAP_LINUX_IMMUTABLE) |
                BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_NET_BROADCAST) | BIT(CAP_NET_RAW) |
                BIT(CAP_SETFCAP) | BIT(CAP_SETGID) | BIT(CAP_SETPCAP) | BIT(CAP_SETUID) |
                BIT(CAP_SYS_ADMIN) | BIT(CAP_SYS_BOOT) | BIT(CAP_SYS_CHROOT) | BIT(CAP_SYS_NICE) |
                BIT(CAP_SYS_PTRACE) | BIT(CAP_SYS_RESOURCE) | BIT(CAP_SYS_TTY_CONFIG) |
                BIT(CAP_AUDIT_CONTROL) | BIT(CAP_AUDIT_WRITE);
        const int absent[] = { CAP_DAC_READ_SEARCH, CAP_MKNOD, CAP_SYS_MODULE, CAP_SYS_RAWIO,
                               CAP_SYS_TIME, CAP_SYS_PACCT, CAP_SYSLOG, CAP_NET_ADMIN, CAP_BPF,
                               CAP_PERFMON, CAP_MAC_ADMIN, CAP_MAC_OVERRIDE, CAP_AUDIT_READ,
                               CAP_IPC_LOCK, CAP_CHECKPOINT_RESTORE };
        uint64_t keep = caps_default_keep();

        g_assert_cmphex(keep, ==, expected);
        g_assert_true(keep & BIT(CAP_SYS_ADMIN));
        for (size_t i = 0; i < ELEMENTSOF(absent); i++) {
                if (keep & BIT(absent[i]))
                        g_error("%s must not be in the default set", capability_to_name(absent[i]));
        }
}

typedef struct CapState {
        uint64_t bnd, eff, prm, inh, amb;
} CapState;

static int parse_status(FILE *f, CapState *ret) {
        char line[256];
        int found = 0;

        while (fgets(line, sizeof(line), f)) {
                unsigned long long v;

                if (sscanf(line, "CapBnd: %llx", &v) == 1)
                        ret->bnd = v, found++;
                else if (sscanf(line, "CapEff: %llx", &v) == 1)
                        ret->eff = v, found++;
                else if (sscanf(line, "CapPrm: %llx", &v) == 1)
                        ret->prm = v, found++;
                else if (sscanf(line, "CapInh: %llx", &v) == 1)
                        ret->inh = v, found++;
                else if (sscanf(line, "CapAmb: %llx", &v) == 1)
                        ret->amb = v, found++;
        }
        return found == 5 ? 0 : -EBADMSG;
}

static int read_own_caps(CapState *ret) {
        FILE *f = fopen("/proc/self/status", "re");
        int r;

        if (!f)
                return -errno;
        r = parse_status(f, ret);
        fclose(f);
        return r;
}

/* The capabilities a root process gets from exec after caps_apply(), read by cat itself. */
static int read_exec_caps(CapState *ret) {
        int p[2];
        pid_t pid;
        FILE *f;
        int r, status;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                dup2(p[1], STDOUT_FILENO);
                execl("/bin/cat", "cat", "/proc/self/status", (char *) NULL);
                _exit(127);
        }
        close(p[1]);
        f = fdopen(p[0], "r");
        r = parse_status(f, ret);
        fclose(f);
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return -ECHILD;
        return r;
}

#define CHILD_CHECK(cond, ...)                                          \
        do {                                                            \
                if (!(cond)) {                                          \
                        fprintf(stderr, "# child: " __VA_ARGS__);       \
                        fputc('\n', stderr);                            \
                        _exit(1);                                       \
                }                                                       \
        } while (0)

static bool have_full_root(void) {
        CapState s;

        return geteuid() == 0 && read_own_caps(&s) == 0 && (s.eff & BIT(CAP_SETPCAP)) &&
               (s.eff & BIT(CAP_MKNOD)) && (s.eff & BIT(CAP_DAC_READ_SEARCH));
}

static void run_child(void (*fn)(void)) {
        int status;
        pid_t pid = fork();

        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                fn();
                _exit(0);
        }
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 0);
}

/* Raises CAP_NET_ADMIN into the ambient set, which caps_apply() has to clear. */
static void raise_ambient(void) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = {};

        CHILD_CHECK(syscall(SYS_capget, &h, d) == 0, "capget: %m");
        d[CAP_NET_ADMIN / 32].inheritable |= 1U << (CAP_NET_ADMIN % 32);
        CHILD_CHECK(syscall(SYS_capset, &h, d) == 0, "capset: %m");
        CHILD_CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_ADMIN, 0, 0) == 0,
                    "ambient raise: %m");
}

static void child_apply_default(void) {
        uint64_t keep = caps_default_keep();
        CapState before, after, exec;
        char dir[] = "/tmp/berth-test-caps-XXXXXX", node[64];
        struct {
                struct file_handle fh;
                unsigned char buf[128];
        } h = { .fh.handle_bytes = 128 };
        int mount_id, fd;

        raise_ambient();
        CHILD_CHECK(read_own_caps(&before) == 0, "status");
        CHILD_CHECK(before.amb != 0, "ambient set not raised");

        CHILD_CHECK(caps_apply(keep) == 0, "caps_apply failed");

        CHILD_CHECK(read_own_caps(&after) == 0, "status");
        CHILD_CHECK(after.bnd == (before.bnd & keep), "CapBnd %llx, want %llx",
                    (unsigned long long) after.bnd, (unsigned long long) (before.bnd & keep));
        CHILD_CHECK(after.eff == (before.eff & keep), "CapEff %llx", (unsigned long long) after.eff);
        CHILD_CHECK(after.prm == (before.prm & keep), "CapPrm %llx", (unsigned long long) after.prm);
        CHILD_CHECK(after.inh == (before.inh & keep), "CapInh %llx", (unsigned long long) after.inh);
        CHILD_CHECK(after.amb == 0, "CapAmb %llx", (unsigned long long) after.amb);

        /* What the payload really gets: root's exec fills the sets from the bounding set. */
        CHILD_CHECK(read_exec_caps(&exec) == 0, "exec cat");
        CHILD_CHECK(exec.eff == (before.bnd & keep), "CapEff after exec %llx", (unsigned long long) exec.eff);
        CHILD_CHECK(exec.bnd == (before.bnd & keep), "CapBnd after exec %llx", (unsigned long long) exec.bnd);
        CHILD_CHECK(exec.amb == 0, "CapAmb after exec %llx", (unsigned long long) exec.amb);

        /* Effects (probe A20): no device nodes. */
        CHILD_CHECK(mkdtemp(dir), "mkdtemp: %m");
        snprintf(node, sizeof(node), "%s/null", dir);
        CHILD_CHECK(mknod(node, S_IFCHR | 0600, makedev(1, 3)) < 0 && errno == EPERM,
                    "mknod of a char device was not refused with EPERM: %m");
        (void) rmdir(dir);

        /* Effects (probe A29, shocker): no opening by handle, even of "/" itself. */
        if (name_to_handle_at(AT_FDCWD, "/", &h.fh, &mount_id, 0) == 0) {
                fd = open_by_handle_at(AT_FDCWD, &h.fh, O_RDONLY);
                CHILD_CHECK(fd < 0 && errno == EPERM, "open_by_handle_at was not refused: %m");
        } else
                fprintf(stderr, "# name_to_handle_at(/) unsupported here (%m), shocker check skipped\n");
}

static void test_apply_default(void) {
        if (!have_full_root()) {
                g_test_skip("needs root with a full capability set");
                return;
        }
        run_child(child_apply_default);
}

static void child_apply_nothing(void) {
        CapState s;

        CHILD_CHECK(caps_apply(0) == 0, "caps_apply(0) failed");
        CHILD_CHECK(read_own_caps(&s) == 0, "status");
        CHILD_CHECK(s.bnd == 0 && s.eff == 0 && s.prm == 0 && s.inh == 0 && s.amb == 0,
                    "caps left: bnd %llx eff %llx", (unsigned long long) s.bnd, (unsigned long long) s.eff);
        /* Without CAP_SETPCAP a second call can no longer touch the bounding set; with nothing
         * left to drop it must still succeed. */
        CHILD_CHECK(caps_apply(0) == 0, "second caps_apply(0) failed");
}

static void test_apply_nothing(void) {
        if (!have_full_root()) {
                g_test_skip("needs root with a full capability set");
                return;
        }
        run_child(child_apply_nothing);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/caps/name-round-trip", test_name_round_trip);
        g_test_add_func("/caps/from-name", test_from_name);
        g_test_add_func("/caps/list-parse", test_list_parse);
        g_test_add_func("/caps/default-set", test_default_set);
        g_test_add_func("/caps/apply-default", test_apply_default);
        g_test_add_func("/caps/apply-nothing", test_apply_nothing);

        return g_test_run();
}
