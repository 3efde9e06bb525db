/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of port-forward.c's parsing: -p specs, duplicates, and Port= in settings files. */

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "port-forward.h"
#include "settings-file.h"

static void test_parse_good(void) {
        static const struct {
                const char *spec;
                int protocol;
                uint16_t host, container;
                const char *canonical;
        } cases[] = {
                { "80", IPPROTO_TCP, 80, 80, "tcp:80:80" },
                { "tcp:8080:80", IPPROTO_TCP, 8080, 80, "tcp:8080:80" },
                { "udp:53", IPPROTO_UDP, 53, 53, "udp:53:53" },
                { "udp:5353:53", IPPROTO_UDP, 5353, 53, "udp:5353:53" },
                { "65535:1", IPPROTO_TCP, 65535, 1, "tcp:65535:1" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                PortForward p = {}, q = {};
                char buf[20];

                g_assert_cmpint(port_forward_parse(cases[i].spec, &p), ==, 0);
                g_assert_cmpint(p.protocol, ==, cases[i].protocol);
                g_assert_cmpuint(p.host_port, ==, cases[i].host);
                g_assert_cmpuint(p.container_port, ==, cases[i].container);
                g_assert_cmpstr(port_forward_to_string(&p, buf), ==, cases[i].canonical);
                /* The canonical spelling parses back to the same forward. */
                g_assert_cmpint(port_forward_parse(buf, &q), ==, 0);
                g_assert_cmpmem(&p, sizeof(p), &q, sizeof(q));
        }
}

static void test_parse_bad(void) {
        static const char *const bad[] = {
                "", "0", "65536", "70000:80", "80:0", "80:65536", "sctp:80", "tcp:", "udp:", "80:",
                ":80", "80:81:82", "-1", "+80", " 80", "80 ", "0x50", "udp:x", "tcp:udp:80",
                "99999999999999999999", "80:99999999999999999999", "TCP:80",
                "4294967376", "80:4294967376", /* 2^32 + 80 */
        };

        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                PortForward p = { .host_port = 7 };

                if (port_forward_parse(bad[i], &p) != -EINVAL)
                        g_error("'%s' was accepted", bad[i]);
                g_assert_cmpuint(p.host_port, ==, 7); /* untouched on failure */
        }
        g_assert_cmpint(port_forward_parse(NULL, &(PortForward) {}), ==, -EINVAL);
}

static void test_duplicates(void) {
        Settings s;

        settings_init(&s);
        g_assert_cmpint(settings_add_port(&s, "80"), ==, 0);
        /* The same host port of another protocol is another forward. */
        g_assert_cmpint(settings_add_port(&s, "udp:80"), ==, 0);
        g_assert_cmpint(settings_add_port(&s, "tcp:80:81"), ==, -EEXIST);
        g_assert_cmpint(settings_add_port(&s, "udp:80:8080"), ==, -EEXIST);
        g_assert_cmpint(settings_add_port(&s, "0"), ==, -EINVAL);
        g_assert_cmpuint(s.n_ports, ==, 2);
        settings_done(&s);
}

static char *write_file(const char *dir, const char *name, const char *text) {
        char *path = g_build_filename(dir, name, NULL);

        g_assert_true(g_file_set_contents(path, text, -1, NULL));
        return path;
}

static void test_settings_file(void) {
        g_autofree char *dir = g_dir_make_tmp("test-port-forward-XXXXXX", NULL);
        g_autofree char *good = NULL, *dup = NULL, *reset = NULL;
        Settings s;

        g_assert_nonnull(dir);
        good = write_file(dir, "good.berth", "[Network]\nVirtualEthernet=yes\nPort=tcp:8080:80\nPort=udp:53\n");
        dup = write_file(dir, "dup.berth", "[Network]\nPort=80\nPort=80:81\n");
        reset = write_file(dir, "reset.berth", "[Network]\nPort=80\nPort=\nPort=udp:9\n");

        /* Trusted: both forwards. */
        settings_init(&s);
        g_assert_cmpint(settings_load_file(&s, good, true), ==, 0);
        g_assert_cmpuint(s.n_ports, ==, 2);
        g_assert_cmpint(s.ports[0].protocol, ==, IPPROTO_TCP);
        g_assert_cmpuint(s.ports[0].host_port, ==, 8080);
        g_assert_cmpuint(s.ports[0].container_port, ==, 80);
        g_assert_cmpint(s.ports[1].protocol, ==, IPPROTO_UDP);
        settings_done(&s);

        /* Untrusted: a port reaches the host's firewall, so none is taken. */
        settings_init(&s);
        g_assert_cmpint(settings_load_file(&s, good, false), ==, 0);
        g_assert_cmpuint(s.n_ports, ==, 0);
        settings_done(&s);

        /* The command line's -p masks the file's Port= as a whole. */
        settings_init(&s);
        g_assert_cmpint(settings_add_port(&s, "udp:1"), ==, 0);
        s.set_mask |= SETTING_PORTS;
        g_assert_cmpint(settings_load_file(&s, good, true), ==, 0);
        g_assert_cmpuint(s.n_ports, ==, 1);
        g_assert_cmpuint(s.ports[0].host_port, ==, 1);
        settings_done(&s);

        /* A host port twice is a broken file, wherever it lies. */
        settings_init(&s);
        g_assert_cmpint(settings_load_file(&s, dup, true), ==, -EINVAL);
        g_assert_cmpint(settings_load_file(&s, dup, false), ==, -EINVAL);
        g_assert_cmpuint(s.n_ports, ==, 0);
        settings_done(&s);

        /* An empty Port= drops what came before. */
        settings_init(&s);
        g_assert_cmpint(settings_load_file(&s, reset, true), ==, 0);
        g_assert_cmpuint(s.n_ports, ==, 1);
        g_assert_cmpint(s.ports[0].protocol, ==, IPPROTO_UDP);
        g_assert_cmpuint(s.ports[0].host_port, ==, 9);
        settings_done(&s);

        g_assert_cmpint(g_unlink(good), ==, 0);
        g_assert_cmpint(g_unlink(dup), ==, 0);
        g_assert_cmpint(g_unlink(reset), ==, 0);
        g_assert_cmpint(g_rmdir(dir), ==, 0);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/port-forward/parse/good", test_parse_good);
        g_test_add_func("/port-forward/parse/bad", test_parse_bad);
        g_test_add_func("/port-forward/duplicates", test_duplicates);
        g_test_add_func("/port-forward/settings-file", test_settings_file);
        return g_test_run();
}
