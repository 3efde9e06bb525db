/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for berthd's machine model without a bus: string tables, /proc parsing, persistence. */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <sys/wait.h>

#include "machine.h"
#include "state.h"

static void test_class_table(void) {
        for (int i = 0; i < _MACHINE_CLASS_MAX; i++) {
                const char *s = machine_class_to_string((MachineClass) i);

                g_assert_nonnull(s);
                g_assert_cmpint(machine_class_from_string(s), ==, i);
        }
        g_assert_cmpint(machine_class_from_string("foo"), ==, _MACHINE_CLASS_INVALID);
        g_assert_cmpint(machine_class_from_string(""), ==, _MACHINE_CLASS_INVALID);
        g_assert_cmpint(machine_class_from_string(NULL), ==, _MACHINE_CLASS_INVALID);
        g_assert_null(machine_class_to_string(_MACHINE_CLASS_MAX));
}

static void test_state_table(void) {
        for (int i = 0; i < _MACHINE_STATE_MAX; i++) {
                const char *s = machine_state_to_string((MachineState) i);

                g_assert_nonnull(s);
                g_assert_cmpint(machine_state_from_string(s), ==, i);
        }
        g_assert_cmpint(machine_state_from_string("dead"), ==, _MACHINE_STATE_INVALID);
        g_assert_null(machine_state_to_string(_MACHINE_STATE_INVALID));
}

static void test_escape(void) {
        static const char *const values[] = { "", "plain", "a\nb", "back\\slash", "\\n", "\n\n\\", "x=y" };

        for (size_t i = 0; i < G_N_ELEMENTS(values); i++) {
                g_autofree char *e = state_escape(values[i]);
                g_autofree char *u = NULL;

                g_assert_null(strchr(e, '\n'));
                u = state_unescape(e);
                g_assert_cmpstr(u, ==, values[i]);
        }
}

static void test_proc(void) {
        g_autofree char *cg = NULL;
        uint64_t st = 0, st2 = 0;
        uid_t uid = 42;
        pid_t child;

        g_assert_cmpint(proc_starttime(getpid(), &st), ==, 0);
        g_assert_cmpuint(st, >, 0);
        g_assert_cmpint(proc_starttime(getpid(), &st2), ==, 0);
        g_assert_cmpuint(st, ==, st2);
        g_assert_cmpint(proc_uid(getpid(), &uid), ==, 0);
        g_assert_cmpuint(uid, ==, getuid());
        if (proc_cgroup(getpid(), &cg) == 0)
                g_assert_true(cg[0] == '/');
        g_assert_cmpint(proc_starttime(0, &st), ==, -EINVAL);

        /* A zombie is as good as dead; a reaped one is gone. */
        child = fork();
        g_assert_cmpint(child, >=, 0);
        if (child == 0)
                _exit(0);
        for (int i = 0; i < 200 && proc_starttime(child, &st) == 0; i++)
                g_usleep(10000);
        g_assert_cmpint(proc_starttime(child, &st), ==, -ESRCH);
        g_assert_cmpint(waitpid(child, NULL, 0), ==, child);
        g_assert_cmpint(proc_starttime(child, &st), ==, -ESRCH);
}

static void test_save_load(void) {
        g_autofree char *dir = g_dir_make_tmp("berthd-state.XXXXXX", NULL);
        g_autofree char *path = NULL;
        _cleanup_(machine_freep) Machine *m = NULL, *l = NULL;
        static const uint8_t id[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
        FILE *f;

        g_assert_nonnull(dir);
        g_assert_cmpint(machine_new("deb-1.example", &m), ==, 0);
        memcpy(&m->id, id, 16);
        m->service = g_strdup("svc\nwith newline");
        m->class = MACHINE_VM;
        m->unit = g_strdup("machine-deb-1.example.scope");
        m->root_directory = g_strdup("/var/lib/machines/back\\slash");
        m->cgroup_path = g_strdup("/sys/fs/cgroup/machine.slice/machine-deb-1.example.scope");
        m->scope_created = true;
        m->state = MACHINE_CLOSING;
        m->leader = 4242;
        m->leader_starttime = 123456789;
        m->leader_pidfd_inode = 987;
        m->timestamp = 1700000000000000;
        m->timestamp_monotonic = 5000000;

        g_assert_cmpint(state_save(dir, m), ==, 0);
        g_assert_cmpint(state_load(dir, "deb-1.example", &l), ==, 0);
        g_assert_cmpmem(&l->id, 16, id, 16);
        g_assert_cmpstr(l->service, ==, m->service);
        g_assert_cmpint(l->class, ==, MACHINE_VM);
        g_assert_cmpstr(l->unit, ==, m->unit);
        g_assert_cmpstr(l->root_directory, ==, m->root_directory);
        g_assert_cmpstr(l->cgroup_path, ==, m->cgroup_path);
        g_assert_true(l->scope_created);
        g_assert_cmpint(l->state, ==, MACHINE_CLOSING);
        g_assert_cmpint(l->leader, ==, 4242);
        g_assert_cmpuint(l->leader_starttime, ==, 123456789);
        g_assert_cmpuint(l->leader_pidfd_inode, ==, 987);
        g_assert_cmpuint(l->timestamp, ==, m->timestamp);
        g_assert_cmpuint(l->timestamp_monotonic, ==, m->timestamp_monotonic);
        l = machine_free(l);

        /* Without a leader identity a file cannot be checked: refused. */
        path = g_build_filename(dir, "bad", NULL);
        f = fopen(path, "w");
        g_assert_nonnull(f);
        fputs("NAME=bad\nCLASS=container\nLEADER=77\n", f);
        fclose(f);
        g_assert_cmpint(state_load(dir, "bad", &l), ==, -EBADMSG);
        /* A file whose NAME differs from its file name is not trusted either. */
        f = fopen(path, "w");
        fputs("NAME=other\nCLASS=container\nLEADER=77\nLEADER_STARTTIME=5\n", f);
        fclose(f);
        g_assert_cmpint(state_load(dir, "bad", &l), ==, -EINVAL);
        g_assert_cmpint(state_load(dir, "../etc", &l), ==, -EINVAL);

        g_assert_cmpint(state_remove(dir, "bad"), ==, 0);
        g_assert_cmpint(state_remove(dir, "deb-1.example"), ==, 0);
        g_assert_cmpint(state_remove(dir, "deb-1.example"), ==, 0);
        g_assert_cmpint(g_rmdir(dir), ==, 0);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/daemon/class-table", test_class_table);
        g_test_add_func("/daemon/state-table", test_state_table);
        g_test_add_func("/daemon/escape", test_escape);
        g_test_add_func("/daemon/proc", test_proc);
        g_test_add_func("/daemon/save-load", test_save_load);
        return g_test_run();
}
