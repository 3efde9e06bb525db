/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of network.c: host link names, and real veth pairs and loopback in namespaces made here. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "network.h"

static char *host_name(const char *machine) {
        char *n = NULL;

        g_assert_cmpint(network_veth_host_name(machine, &n), ==, 0);
        g_assert_nonnull(n);
        g_assert_cmpuint(strlen(n), <=, IFNAMSIZ - 1);
        return n;
}

static void test_name_short(void) {
        g_autofree char *a = host_name("foo"), *b = host_name("abcdefghijkl"),
                            *c = host_name("my.host");

        g_assert_cmpstr(a, ==, "ve-foo");
        /* 12 characters is the longest name that is used as it is. */
        g_assert_cmpstr(b, ==, "ve-abcdefghijkl");
        /* Dots are kept, as nspawn does. */
        g_assert_cmpstr(c, ==, "ve-my.host");
}

static void assert_shortened(const char *machine, const char *n) {
        g_assert_cmpuint(strlen(n), ==, IFNAMSIZ - 1);
        g_assert_true(g_str_has_prefix(n, "ve-"));
        g_assert_cmpint(strncmp(n + 3, machine, 6), ==, 0);
        g_assert_cmpint(n[9], ==, '-');
        for (int i = 10; i < 15; i++)
                g_assert_true(g_ascii_isxdigit(n[i]) && !g_ascii_isupper(n[i]));
}

static void test_name_long(void) {
        const char *m13 = "abcdefghijklm";
        const char *m64 = "a123456789b123456789c123456789d123456789e123456789f123456789g123";
        g_autofree char *a = host_name(m13), *b = host_name(m64), *b2 = host_name(m64);

        g_assert_cmpuint(strlen(m64), ==, 64);
        assert_shortened(m13, a);
        assert_shortened(m64, b);
        g_assert_cmpstr(b, ==, b2);
        /* The hash is a contract (cleanup scripts may compute names): it must never change.
         * 0x356e8 = low 20 bits of FNV-1a-32("abcdefghijklm"), computed independently. */
        g_assert_cmpstr(a, ==, "ve-abcdef-356e8");
}

static void test_name_common_prefix(void) {
        g_autofree char *a = host_name("production-webserver-01"),
                            *b = host_name("production-webserver-02");
        GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

        g_assert_cmpstr(a, !=, b);
        /* A fleet of similar names: all distinct (deterministic, so this never flakes). */
        for (int i = 0; i < 200; i++) {
                char m[64];
                char *n;

                (void) snprintf(m, sizeof(m), "production-webserver-%03d", i);
                n = host_name(m);
                g_assert_false(g_hash_table_contains(seen, n));
                g_hash_table_add(seen, n);
        }
        g_hash_table_unref(seen);
}

static void test_name_invalid(void) {
        const char *bad[] = { "", ".", "..", "a/b", "a b", "a\tb", "a:b", "-a", "a..b" };
        char *n = NULL;

        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
                g_assert_cmpint(network_veth_host_name(bad[i], &n), ==, -EINVAL);
        g_assert_cmpint(network_veth_host_name(NULL, &n), ==, -EINVAL);
        g_assert_null(n);
}

static void test_ifname_valid(void) {
        const char *good[] = { "a", "eth0", "vb-foo", "abcdefghijklmno", "my.br-0_x" };
        const char *bad[] = { "", ".", "..", "abcdefghijklmnop", "a/b", "a:b", "a b", "a\tb", "eth%d",
                              "caf\xc3\xa9" };

        for (size_t i = 0; i < G_N_ELEMENTS(good); i++)
                g_assert_true(network_ifname_is_valid(good[i]));
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
                g_assert_false(network_ifname_is_valid(bad[i]));
        g_assert_false(network_ifname_is_valid(NULL));
}

static void test_ifname_shorten(void) {
        g_autofree char *a = NULL, *b = NULL, *c = NULL, *v = NULL;

        g_assert_cmpint(network_ifname_shorten("mv-", "eth0", &a), ==, 0);
        g_assert_cmpstr(a, ==, "mv-eth0");
        /* The same rule as ve- names, so vb- names of a machine differ from its ve- name only
         * in the prefix. */
        g_assert_cmpint(network_ifname_shorten("vb-", "abcdefghijklm", &b), ==, 0);
        g_assert_cmpstr(b, ==, "vb-abcdef-356e8");
        g_assert_cmpint(network_veth_host_name("abcdefghijklm", &v), ==, 0);
        g_assert_cmpstr(v + 3, ==, b + 3);
        g_assert_cmpint(network_ifname_shorten("iv-", "a/b", &c), ==, -EINVAL);
}

static void test_ifname_pair(void) {
        g_autofree char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
        char *x = NULL, *y = NULL;
        const char *bad[] = { "", ":", "a:", ":b", "a:b:c", "abcdefghijklmnop", "a:abcdefghijklmnop", "a b" };

        g_assert_cmpint(network_ifname_pair_parse("eth1", &a, &b), ==, 0);
        g_assert_cmpstr(a, ==, "eth1");
        g_assert_null(b);
        g_assert_cmpint(network_ifname_pair_parse("eth1:inner0", &c, &d), ==, 0);
        g_assert_cmpstr(c, ==, "eth1");
        g_assert_cmpstr(d, ==, "inner0");
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_assert_cmpint(network_ifname_pair_parse(bad[i], &x, &y), ==, -EINVAL);
                g_assert_null(x);
                g_assert_null(y);
        }
}

static void test_settings_check(void) {
        char *pairs[] = { (char *) "eth1:x", NULL }, *bad_pairs[] = { (char *) "a:b:c", NULL };
        Settings s = {};

        g_assert_false(network_is_private(&s));
        g_assert_cmpint(network_settings_check(&s), ==, 0);
        s.network_interfaces = pairs;
        g_assert_true(network_is_private(&s));
        g_assert_cmpint(network_settings_check(&s), ==, 0);
        /* nspawn's rules: an existing namespace gets no links; one bridge or one zone. */
        s.network_namespace_path = (char *) "/run/netns/x";
        g_assert_cmpint(network_settings_check(&s), ==, -EINVAL);
        s.network_interfaces = NULL;
        g_assert_cmpint(network_settings_check(&s), ==, 0);
        s.private_network = true;
        g_assert_cmpint(network_settings_check(&s), ==, 0);
        s = (Settings) { .network_bridge = (char *) "br0", .network_zone = (char *) "z" };
        g_assert_cmpint(network_settings_check(&s), ==, -EINVAL);
        s = (Settings) { .network_zone = (char *) "abcdefghijklm" };
        g_assert_cmpint(network_settings_check(&s), ==, -EINVAL);
        s = (Settings) { .network_zone = (char *) "abcdefghijkl" };
        g_assert_cmpint(network_settings_check(&s), ==, 0);
        s = (Settings) { .network_veth_extra = bad_pairs };
        g_assert_cmpint(network_settings_check(&s), ==, -EINVAL);
        s = (Settings) { .network_veth = true, .network_veth_name = (char *) "a/b" };
        g_assert_cmpint(network_settings_check(&s), ==, -EINVAL);
}

static bool skip_unless_root(void) {
        if (geteuid() == 0)
                return false;
        g_test_skip("needs root (network namespaces, creating links)");
        return true;
}

/* A process in a network namespace of its own, waiting to be killed. PR_SET_PDEATHSIG kills it
 * if this test aborts on a failed assertion, and with it the namespace and any veth into it. */
static pid_t netns_child_start(void) {
        int p[2];
        pid_t parent = getpid(), pid;
        char c = 0;

        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(1);
                c = unshare(CLONE_NEWNET) < 0 ? 'E' : 'R';
                (void) write(p[1], &c, 1);
                for (;;)
                        pause();
        }
        close(p[1]);
        g_assert_cmpint(read(p[0], &c, 1), ==, 1);
        close(p[0]);
        g_assert_cmpint(c, ==, 'R');
        return pid;
}

static void child_stop(pid_t pid) {
        g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
        g_assert_cmpint(waitpid(pid, NULL, 0), ==, pid);
}

static int link_flags(const char *ifname) {
        struct ifreq ifr = {};
        int fd, r;

        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
        r = ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ? -errno : (ifr.ifr_flags & 0xffff);
        close(fd);
        return r;
}

/* In the network namespace of PID (in a forked grandchild): 0 if IFNAME exists and is down,
 * 1 if it is up, 2 if it does not exist, 3 if the namespace could not be entered. */
static int link_state_in_netns(pid_t pid, const char *ifname) {
        char path[64];
        int status, fl;
        pid_t c;

        (void) snprintf(path, sizeof(path), "/proc/%d/ns/net", (int) pid);
        c = fork();
        g_assert_cmpint(c, >=, 0);
        if (c == 0) {
                int fd = open(path, O_RDONLY | O_CLOEXEC);

                if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
                        _exit(3);
                fl = link_flags(ifname);
                _exit(fl == -ENODEV ? 2 : fl < 0 ? 3 : (fl & IFF_UP) ? 1 : 0);
        }
        g_assert_cmpint(waitpid(c, &status, 0), ==, c);
        g_assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

static void test_veth_create_remove(void) {
        g_autofree char *machine = NULL, *expected = NULL, *host = NULL;
        pid_t a, b;
        int idx;

        if (skip_unless_root())
                return;

        machine = g_strdup_printf("test-%d", (int) getpid());
        expected = host_name(machine);
        g_assert_cmpuint(if_nametoindex(expected), ==, 0);

        a = netns_child_start();
        b = netns_child_start();

        idx = network_veth_create(machine, a, &host);
        g_assert_cmpint(idx, >, 0);
        g_assert_cmpstr(host, ==, expected);
        g_assert_cmpuint(if_nametoindex(host), ==, (unsigned) idx);
        g_assert_cmpint(link_flags(host) & IFF_UP, ==, IFF_UP);
        /* The container end is there and left down for the guest to configure. */
        g_assert_cmpint(link_state_in_netns(a, "host0"), ==, 0);

        /* A second container of the same name: refused, and the running one keeps its link. */
        g_assert_cmpint(network_veth_create(machine, b, NULL), ==, -EEXIST);
        g_assert_cmpuint(if_nametoindex(host), ==, (unsigned) idx);
        g_assert_cmpint(link_state_in_netns(a, "host0"), ==, 0);
        g_assert_cmpint(link_state_in_netns(b, "host0"), ==, 2);

        g_assert_cmpint(network_veth_remove(host), ==, 1);
        g_assert_cmpuint(if_nametoindex(host), ==, 0);
        g_assert_cmpint(link_state_in_netns(a, "host0"), ==, 2);
        g_assert_cmpint(network_veth_remove(host), ==, 0);

        child_stop(a);
        child_stop(b);
}

/* Why EEXIST never deletes: the kernel removes the pair when the container's namespace dies. */
static void test_veth_dies_with_netns(void) {
        g_autofree char *machine = NULL, *host = NULL;
        unsigned left = 1;
        pid_t a;

        if (skip_unless_root())
                return;

        machine = g_strdup_printf("test-%d", (int) getpid());
        a = netns_child_start();
        g_assert_cmpint(network_veth_create(machine, a, &host), >, 0);
        child_stop(a);

        /* Namespaces are torn down asynchronously. */
        for (int i = 0; i < 500 && (left = if_nametoindex(host)) > 0; i++)
                (void) nanosleep(&(struct timespec) { .tv_nsec = 10 * 1000 * 1000 }, NULL);
        g_assert_cmpuint(left, ==, 0);
}

static bool ip_link_exists(const char *name) {
        const char *argv[] = { "ip", "-o", "link", "show", "dev", name, NULL };
        g_autoptr(GError) error = NULL;
        int status = -1;

        g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL,
                                   G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                                   G_SPAWN_STDERR_TO_DEV_NULL,
                                   NULL, NULL, NULL, NULL, &status, &error));
        return g_spawn_check_wait_status(status, NULL);
}

static void test_veth_long_names(void) {
        g_autofree char *m1 = NULL, *m2 = NULL, *h1 = NULL, *h2 = NULL, *alt = NULL;
        pid_t a, b;

        if (skip_unless_root())
                return;

        /* Same first 30 characters. */
        m1 = g_strdup_printf("berth-unit-test-long-name-%d-one", (int) getpid());
        m2 = g_strdup_printf("berth-unit-test-long-name-%d-two", (int) getpid());
        a = netns_child_start();
        b = netns_child_start();

        g_assert_cmpint(network_veth_create(m1, a, &h1), >, 0);
        g_assert_cmpint(network_veth_create(m2, b, &h2), >, 0);
        g_assert_cmpstr(h1, !=, h2);
        g_assert_cmpuint(if_nametoindex(h1), >, 0);
        g_assert_cmpuint(if_nametoindex(h2), >, 0);
        g_assert_cmpint(link_state_in_netns(a, "host0"), ==, 0);
        g_assert_cmpint(link_state_in_netns(b, "host0"), ==, 0);

        /* The full name finds the shortened link (an alternative name; ifreq cannot carry it). */
        alt = g_strdup_printf("ve-%s", m1);
        if (g_find_program_in_path("ip"))
                g_assert_true(ip_link_exists(alt));
        else
                g_test_message("iproute2's ip not installed, alternative name not checked");

        g_assert_cmpint(network_veth_remove(h1), ==, 1);
        g_assert_cmpint(network_veth_remove(h2), ==, 1);
        child_stop(a);
        child_stop(b);
}

static void test_veth_refuses_bad_target(void) {
        g_autofree char *machine = NULL, *expected = NULL;
        pid_t gone;

        if (skip_unless_root())
                return;

        machine = g_strdup_printf("test-%d", (int) getpid());
        expected = host_name(machine);

        /* Our own namespace: "host0" would land on the host. */
        g_assert_cmpint(network_veth_create(machine, getpid(), NULL), ==, -EINVAL);
        g_assert_cmpuint(if_nametoindex(expected), ==, 0);

        gone = fork();
        g_assert_cmpint(gone, >=, 0);
        if (gone == 0)
                _exit(0);
        g_assert_cmpint(waitpid(gone, NULL, 0), ==, gone);
        g_assert_cmpint(network_veth_create(machine, gone, NULL), ==, -ESRCH);
        g_assert_cmpuint(if_nametoindex(expected), ==, 0);

        g_assert_cmpint(network_veth_create("bad/name", 1, NULL), ==, -EINVAL);
        g_assert_cmpint(network_veth_remove(""), ==, -EINVAL);
}

/* Exit codes of the loopback child, so a failure says which step failed. */
enum {
        LO_OK,
        LO_UNSHARE,
        LO_WAS_USABLE,
        LO_CALL_FAILED,
        LO_NOT_UP,
        LO_NO_TCP,
};

static int loopback_tcp_works(void) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(sa);
        int s, c, r = -1;

        s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s >= 0 && c >= 0 &&
            bind(s, (struct sockaddr *) &sa, sizeof(sa)) == 0 &&
            listen(s, 1) == 0 &&
            getsockname(s, (struct sockaddr *) &sa, &l) == 0 &&
            connect(c, (struct sockaddr *) &sa, sizeof(sa)) == 0)
                r = 0;
        if (s >= 0)
                close(s);
        if (c >= 0)
                close(c);
        return r;
}

static void test_loopback_up(void) {
        int status;
        pid_t c;

        if (skip_unless_root())
                return;

        c = fork();
        g_assert_cmpint(c, >=, 0);
        if (c == 0) {
                if (unshare(CLONE_NEWNET) < 0)
                        _exit(LO_UNSHARE);
                /* Positive control: a fresh namespace's loopback is down and 127.0.0.1 unusable. */
                if ((link_flags("lo") & IFF_UP) || loopback_tcp_works() == 0)
                        _exit(LO_WAS_USABLE);
                if (network_loopback_up() < 0)
                        _exit(LO_CALL_FAILED);
                if (!(link_flags("lo") & IFF_UP))
                        _exit(LO_NOT_UP);
                if (loopback_tcp_works() < 0)
                        _exit(LO_NO_TCP);
                _exit(LO_OK);
        }
        g_assert_cmpint(waitpid(c, &status, 0), ==, c);
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, LO_OK);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/network/host-name/short", test_name_short);
        g_test_add_func("/network/host-name/long", test_name_long);
        g_test_add_func("/network/host-name/common-prefix", test_name_common_prefix);
        g_test_add_func("/network/host-name/invalid", test_name_invalid);
        g_test_add_func("/network/ifname/valid", test_ifname_valid);
        g_test_add_func("/network/ifname/shorten", test_ifname_shorten);
        g_test_add_func("/network/ifname/pair", test_ifname_pair);
        g_test_add_func("/network/settings-check", test_settings_check);
        g_test_add_func("/network/veth/create-remove", test_veth_create_remove);
        g_test_add_func("/network/veth/dies-with-netns", test_veth_dies_with_netns);
        g_test_add_func("/network/veth/long-names", test_veth_long_names);
        g_test_add_func("/network/veth/refuses-bad-target", test_veth_refuses_bad_target);
        g_test_add_func("/network/loopback-up", test_loopback_up);

        return g_test_run();
}
