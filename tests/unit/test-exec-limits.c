/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for the exec limit parsers (rlimits, OOM score, CPU lists) and their settings-file keys. */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <unistd.h>

#include "exec-limits-util.h"
#include "settings-file.h"
#include "settings.h"

static void test_rlimit_names(void) {
        for (int i = 0; i < RLIMIT_NLIMITS; i++) {
                const char *n = rlimit_to_string(i);
                char prefixed[64];

                g_assert_nonnull(n);
                g_assert_cmpint(rlimit_from_string(n), ==, i);
                snprintf(prefixed, sizeof(prefixed), "RLIMIT_%s", n);
                g_assert_cmpint(rlimit_from_string(prefixed), ==, i);
        }
        g_assert_cmpint(rlimit_from_string("nofile"), ==, RLIMIT_NOFILE);
        g_assert_cmpint(rlimit_from_string("RLIMIT_"), <, 0);
        g_assert_cmpint(rlimit_from_string("NOFILES"), <, 0);
        g_assert_cmpint(rlimit_from_string(""), <, 0);
        g_assert_cmpint(rlimit_from_string(NULL), <, 0);
        g_assert_null(rlimit_to_string(RLIMIT_NLIMITS));
        g_assert_null(rlimit_to_string(-1));
}

static void test_rlimit_parse(void) {
        struct rlimit l;

        g_assert_cmpint(rlimit_parse(RLIMIT_NOFILE, "100", &l), ==, 0);
        g_assert_cmpuint(l.rlim_cur, ==, 100);
        g_assert_cmpuint(l.rlim_max, ==, 100);
        g_assert_cmpint(rlimit_parse(RLIMIT_NOFILE, "100:2000", &l), ==, 0);
        g_assert_cmpuint(l.rlim_cur, ==, 100);
        g_assert_cmpuint(l.rlim_max, ==, 2000);
        g_assert_cmpint(rlimit_parse(RLIMIT_CORE, "0:infinity", &l), ==, 0);
        g_assert_cmpuint(l.rlim_cur, ==, 0);
        g_assert_true(l.rlim_max == RLIM_INFINITY);
        g_assert_cmpint(rlimit_parse(RLIMIT_STACK, "8M", &l), ==, 0);
        g_assert_cmpuint(l.rlim_cur, ==, 8 * 1024 * 1024);
        g_assert_cmpint(rlimit_parse(RLIMIT_NICE, "-5", &l), ==, 0);
        g_assert_cmpuint(l.rlim_cur, ==, 25);
        g_assert_cmpint(rlimit_parse(RLIMIT_NICE, "+19", &l), ==, 0);
        g_assert_cmpuint(l.rlim_cur, ==, 1);
        g_assert_cmpint(rlimit_parse(RLIMIT_NICE, "30", &l), ==, 0);
        g_assert_cmpuint(l.rlim_cur, ==, 30);

        /* Refused: soft above hard, junk, signs and suffixes where they mean nothing, empty
         * halves, values only "infinity" may stand for. */
        g_assert_cmpint(rlimit_parse(RLIMIT_NOFILE, "2000:100", &l), <, 0);
        g_assert_cmpint(rlimit_parse(RLIMIT_NOFILE, "infinity:100", &l), <, 0);
        g_assert_cmpint(rlimit_parse(RLIMIT_NOFILE, "abc", &l), <, 0);
        g_assert_cmpint(rlimit_parse(RLIMIT_NOFILE, "-1", &l), <, 0);
        g_assert_cmpint(rlimit_parse(RLIMIT_NOFILE, "8M", &l), <, 0);
        g_assert_cmpint(rlimit_parse(RLIMIT_NOFILE, ":100", &l), <, 0);
        g_assert_cmpint(rlimit_parse(RLIMIT_NOFILE, "100:", &l), <, 0);
        g_assert_cmpint(rlimit_parse(RLIMIT_NOFILE, "1:2:3", &l), <, 0);
        g_assert_cmpint(rlimit_parse(RLIMIT_NOFILE, "", &l), <, 0);
        g_assert_cmpint(rlimit_parse(RLIMIT_NOFILE, "18446744073709551615", &l), <, 0);
        g_assert_cmpint(rlimit_parse(RLIMIT_NICE, "41", &l), <, 0);
        g_assert_cmpint(rlimit_parse(RLIMIT_NICE, "-21", &l), <, 0);
        g_assert_cmpint(rlimit_parse(RLIMIT_RTPRIO, "100", &l), <, 0);
        g_assert_cmpint(rlimit_parse(RLIMIT_NLIMITS, "1", &l), <, 0);
}

static void test_rlimit_defaults(void) {
        struct rlimit l;

        g_assert_true(rlimit_kernel_default(RLIMIT_NOFILE, &l));
        g_assert_cmpuint(l.rlim_cur, ==, 1024);
        g_assert_true(rlimit_kernel_default(RLIMIT_CORE, &l));
        g_assert_cmpuint(l.rlim_cur, ==, 0);
        g_assert_false(rlimit_kernel_default(RLIMIT_NPROC, &l));
        g_assert_false(rlimit_kernel_default(RLIMIT_SIGPENDING, &l));

        /* Lower than the default takes away; higher, or NPROC at all, gives. */
        l = (struct rlimit) { 100, 100 };
        g_assert_false(rlimit_widens(RLIMIT_NOFILE, &l));
        l = (struct rlimit) { 1024, 65536 };
        g_assert_false(rlimit_widens(RLIMIT_NOFILE, &l));
        l = (struct rlimit) { 4096, 4096 };
        g_assert_true(rlimit_widens(RLIMIT_NOFILE, &l));
        l = (struct rlimit) { RLIM_INFINITY, RLIM_INFINITY };
        g_assert_true(rlimit_widens(RLIMIT_MEMLOCK, &l));
        l = (struct rlimit) { 10, 10 };
        g_assert_true(rlimit_widens(RLIMIT_NPROC, &l));
        l = (struct rlimit) { 10, 10 };
        g_assert_true(rlimit_widens(RLIMIT_RTPRIO, &l));
}

static void test_oom_score_adjust(void) {
        int v = 0;

        g_assert_cmpint(parse_oom_score_adjust("0", &v), ==, 0);
        g_assert_cmpint(v, ==, 0);
        g_assert_cmpint(parse_oom_score_adjust("-1000", &v), ==, 0);
        g_assert_cmpint(v, ==, -1000);
        g_assert_cmpint(parse_oom_score_adjust("+500", &v), ==, 0);
        g_assert_cmpint(v, ==, 500);
        g_assert_cmpint(parse_oom_score_adjust("1000", &v), ==, 0);
        g_assert_cmpint(v, ==, 1000);
        g_assert_cmpint(parse_oom_score_adjust("1001", &v), <, 0);
        g_assert_cmpint(parse_oom_score_adjust("-1001", &v), <, 0);
        g_assert_cmpint(parse_oom_score_adjust("", &v), <, 0);
        g_assert_cmpint(parse_oom_score_adjust("-", &v), <, 0);
        g_assert_cmpint(parse_oom_score_adjust("5x", &v), <, 0);
        g_assert_cmpint(parse_oom_score_adjust(" 5", &v), <, 0);
}

static void check_cpus(const char *in, const char *canonical) {
        g_autofree char *out = NULL;
        CpuAffinity a;

        g_assert_cmpint(cpu_affinity_parse(in, &a), ==, 0);
        out = cpu_affinity_format(&a);
        g_assert_cmpstr(out, ==, canonical);
}

static void test_cpu_affinity(void) {
        CpuAffinity a;

        check_cpus("0", "0");
        check_cpus("0-1,3", "0-1,3");
        check_cpus("3 1 0", "0-1,3");
        check_cpus("0,,2-4, 63-64", "0,2-4,63-64");
        check_cpus("8191", "8191");
        g_assert_cmpint(cpu_affinity_parse("", &a), <, 0);
        g_assert_cmpint(cpu_affinity_parse(" , ", &a), <, 0);
        g_assert_cmpint(cpu_affinity_parse("8192", &a), <, 0);
        g_assert_cmpint(cpu_affinity_parse("3-1", &a), <, 0);
        g_assert_cmpint(cpu_affinity_parse("1-", &a), <, 0);
        g_assert_cmpint(cpu_affinity_parse("-1", &a), <, 0);
        g_assert_cmpint(cpu_affinity_parse("x", &a), <, 0);
        g_assert_cmpint(cpu_affinity_parse(NULL, &a), <, 0);
        a = (CpuAffinity) {};
        g_assert_true(cpu_affinity_is_empty(&a));
}

static char *write_file(const char *content) {
        char *path = g_strdup("/tmp/test-exec-limits-XXXXXX.berth");
        int fd = g_mkstemp_full(path, O_RDWR | O_CLOEXEC, 0644);

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(write(fd, content, strlen(content)), ==, (ssize_t) strlen(content));
        close(fd);
        return path;
}

/* [Exec] keys: the values reach Settings; widening ones only from a trusted file; the command
 * line's value of a resource masks only that resource. */
static void test_settings_file(void) {
        g_autofree char *path = write_file("[Exec]\nLimitNOFILE=100:200\nLimitNPROC=50\nLimitCORE=0\n"
                                           "OOMScoreAdjust=-100\nCPUAffinity=0\n");
        Settings s;

        settings_init(&s);
        g_assert_cmpint(settings_load_file(&s, path, true), ==, 0);
        g_assert_cmpuint(s.rlimits_set, ==, (1U << RLIMIT_NOFILE) | (1U << RLIMIT_NPROC) | (1U << RLIMIT_CORE));
        g_assert_cmpuint(s.rlimits[RLIMIT_NOFILE].rlim_cur, ==, 100);
        g_assert_cmpuint(s.rlimits[RLIMIT_NOFILE].rlim_max, ==, 200);
        g_assert_true(s.oom_score_adjust_set);
        g_assert_cmpint(s.oom_score_adjust, ==, -100);
        g_assert_false(cpu_affinity_is_empty(&s.cpu_affinity));
        settings_done(&s);

        /* Untrusted: NOFILE and CORE take away and hold; NPROC and a negative OOM score do not. */
        settings_init(&s);
        g_assert_cmpint(settings_load_file(&s, path, false), ==, 0);
        g_assert_cmpuint(s.rlimits_set, ==, (1U << RLIMIT_NOFILE) | (1U << RLIMIT_CORE));
        g_assert_false(s.oom_score_adjust_set);
        g_assert_false(cpu_affinity_is_empty(&s.cpu_affinity));
        settings_done(&s);

        /* --rlimit=NOFILE=… on the command line: the file's NOFILE is ignored, its CORE not. */
        settings_init(&s);
        s.rlimits[RLIMIT_NOFILE] = (struct rlimit) { 7, 7 };
        s.rlimits_set = 1U << RLIMIT_NOFILE;
        s.set_mask |= (uint64_t) SETTING_RLIMIT_FIRST << RLIMIT_NOFILE;
        g_assert_cmpint(settings_load_file(&s, path, true), ==, 0);
        g_assert_cmpuint(s.rlimits[RLIMIT_NOFILE].rlim_cur, ==, 7);
        g_assert_true(s.rlimits_set & (1U << RLIMIT_CORE));
        settings_done(&s);
        unlink(path);
}

static void test_settings_file_bad(void) {
        static const char *const bad[] = {
                "[Exec]\nLimitNOFILE=200:100\n",
                "[Exec]\nLimitNOFILE=lots\n",
                "[Exec]\nOOMScoreAdjust=2000\n",
                "[Exec]\nCPUAffinity=a-b\n",
        };

        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autofree char *path = write_file(bad[i]);
                Settings s;

                settings_init(&s);
                g_assert_cmpint(settings_load_file(&s, path, true), <, 0);
                g_assert_cmpuint(s.rlimits_set, ==, 0);
                settings_done(&s);
                unlink(path);
        }
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/exec-limits/rlimit-names", test_rlimit_names);
        g_test_add_func("/exec-limits/rlimit-parse", test_rlimit_parse);
        g_test_add_func("/exec-limits/rlimit-defaults", test_rlimit_defaults);
        g_test_add_func("/exec-limits/oom-score-adjust", test_oom_score_adjust);
        g_test_add_func("/exec-limits/cpu-affinity", test_cpu_affinity);
        g_test_add_func("/exec-limits/settings-file", test_settings_file);
        g_test_add_func("/exec-limits/settings-file-bad", test_settings_file_bad);
        return g_test_run();
}
