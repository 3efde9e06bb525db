/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for entering machines: caller input validation, passwd/group parsing inside a
 * tree, the environment, program lookup, and operations (forked workers and their reports). */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-event.h>

#include "machine-join.h"
#include "manager.h"
#include "operation.h"
#include "strv.h"

static void test_user_names(void) {
        const char *good[] = { "", "root", "nobody", "_apt", "user-1", "a.b", "Upper", NULL };
        const char *bad[] = { "root;id", "$(id)", "-x", "1000", "a b", "a/b", "a:b", "ä", "x\n", NULL };
        char longname[301];

        for (const char **s = good; *s; s++)
                g_assert_true(join_user_name_is_valid(*s));
        for (const char **s = bad; *s; s++)
                g_assert_false(join_user_name_is_valid(*s));
        memset(longname, 'a', 300);
        longname[300] = 0;
        g_assert_false(join_user_name_is_valid(longname));
        longname[JOIN_USER_NAME_MAX] = 0;
        g_assert_true(join_user_name_is_valid(longname));
}

static void test_programs_and_dirs(void) {
        g_assert_true(join_program_is_valid("/bin/sh"));
        g_assert_true(join_program_is_valid("sh"));
        g_assert_false(join_program_is_valid("bin/sh"));
        g_assert_false(join_program_is_valid("./sh"));
        g_assert_false(join_program_is_valid(""));
        g_assert_false(join_program_is_valid(".."));
        g_assert_false(join_program_is_valid("/bin/s\nh"));
        g_assert_true(join_directory_is_valid(""));
        g_assert_true(join_directory_is_valid("/tmp"));
        g_assert_false(join_directory_is_valid("tmp"));
        g_assert_false(join_directory_is_valid("/t\nmp"));

        char *ok[] = { "/bin/echo", "hi", NULL }, *rel[] = { "bin/sh", NULL }, *none[] = { NULL };
        g_assert_true(join_argv_is_valid(ok));
        g_assert_false(join_argv_is_valid(rel));
        g_assert_false(join_argv_is_valid(none));
        g_assert_false(join_argv_is_valid(NULL));
}

static void test_env(void) {
        const char *good[] = { "A=b", "_x1=", "PATH=/bin:/usr/bin", "A==b", "A=tab\there", NULL };
        const char *bad[] = { "FOO", "=x", "A=b\nc", "1A=b", "A-B=c", "A B=c", "", NULL };
        _cleanup_strv_free_ char **many = NULL;

        for (const char **s = good; *s; s++)
                g_assert_true(join_env_assignment_is_valid(*s));
        for (const char **s = bad; *s; s++)
                g_assert_false(join_env_assignment_is_valid(*s));
        g_assert_true(join_env_is_valid(NULL));
        for (unsigned i = 0; i < JOIN_ENV_MAX; i++)
                g_assert_cmpint(strv_extend(&many, "A=b"), ==, 0);
        g_assert_true(join_env_is_valid(many));
        g_assert_cmpint(strv_extend(&many, "A=b"), ==, 0);
        g_assert_false(join_env_is_valid(many));
}

static void test_passwd_parse(void) {
        const char *passwd =
                "# comment\n"
                "root:x:0:0:root:/root:/bin/sh\n"
                "broken:x:1\n"
                "alice:x:1234:100:Alice:/home/alice:/bin/ash\n"
                "bob:x:1235:101::relative:\n"
                "evil:x:-1:0::/:/bin/sh\n"
                "huge:x:4294967295:0::/:/bin/sh\n"
                "last:x:7:7::/l:/bin/l";
        const char *group = "wheel:x:10:alice,bob\nusers:x:100:alice\naudio:x:29:carol,alice\nbad:x:zz:alice\n";
        JoinUser u = {};
        gid_t *groups = NULL;
        size_t n = 0;

        g_assert_cmpint(passwd_find_user(passwd, "alice", &u), ==, 0);
        g_assert_cmpstr(u.name, ==, "alice");
        g_assert_cmpuint(u.uid, ==, 1234);
        g_assert_cmpuint(u.gid, ==, 100);
        g_assert_cmpstr(u.home, ==, "/home/alice");
        g_assert_cmpstr(u.shell, ==, "/bin/ash");
        join_user_done(&u);

        g_assert_cmpint(passwd_find_user(passwd, "bob", &u), ==, 0);
        g_assert_cmpstr(u.home, ==, "/");
        g_assert_cmpstr(u.shell, ==, "/bin/sh");
        join_user_done(&u);

        g_assert_cmpint(passwd_find_user(passwd, "last", &u), ==, 0);
        g_assert_cmpuint(u.uid, ==, 7);
        join_user_done(&u);

        g_assert_cmpint(passwd_find_user(passwd, "carol", &u), ==, -ESRCH);
        g_assert_cmpint(passwd_find_user(passwd, "ali", &u), ==, -ESRCH);
        g_assert_cmpint(passwd_find_user(passwd, "broken", &u), ==, -ESRCH);
        g_assert_cmpint(passwd_find_user(passwd, "evil", &u), ==, -EBADMSG);
        g_assert_cmpint(passwd_find_user(passwd, "huge", &u), ==, -EBADMSG);

        /* The primary group is not repeated; a malformed line is skipped. */
        g_assert_cmpint(group_find_supplementary(group, "alice", 100, &groups, &n), ==, 0);
        g_assert_cmpuint(n, ==, 2);
        g_assert_cmpuint(groups[0], ==, 10);
        g_assert_cmpuint(groups[1], ==, 29);
        free(groups);
        g_assert_cmpint(group_find_supplementary(group, "ali", 100, &groups, &n), ==, 0);
        g_assert_cmpuint(n, ==, 0);
        free(groups);
}

static void write_file(const char *dir, const char *name, const char *content, mode_t mode) {
        g_autofree char *p = g_build_filename(dir, name, NULL);

        g_assert_true(g_file_set_contents(p, content, -1, NULL));
        g_assert_cmpint(chmod(p, mode), ==, 0);
}

static void test_lookup_in_root(void) {
        g_autofree char *root = g_dir_make_tmp("berth-join-XXXXXX", NULL);
        g_autofree char *etc = g_build_filename(root, "etc", NULL);
        g_autofree char *bin = g_build_filename(root, "bin", NULL);
        g_autofree char *sub = g_build_filename(root, "sub", NULL);
        g_autofree char *passwd_link = g_build_filename(root, "sub", "passwd", NULL);
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;
        char *extra[] = { "TERM=xterm", "FOO=bar", "container=other", NULL };
        JoinUser u = {};

        g_assert_cmpint(mkdir(etc, 0755), ==, 0);
        g_assert_cmpint(mkdir(bin, 0755), ==, 0);
        g_assert_cmpint(mkdir(sub, 0755), ==, 0);
        write_file(root, "etc/passwd", "root:x:0:0::/root:/bin/sh\nonlyinside:x:4242:4343::/home/x:/bin/ash\n", 0644);
        write_file(root, "etc/group", "grp:x:77:onlyinside\n", 0644);
        write_file(root, "bin/tool", "#!/bin/sh\n", 0755);
        write_file(root, "bin/data", "not executable", 0644);

        fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(join_user_lookup(fd, "onlyinside", &u), ==, 0);
        g_assert_cmpuint(u.uid, ==, 4242);
        g_assert_cmpuint(u.gid, ==, 4343);
        g_assert_cmpuint(u.n_groups, ==, 1);
        g_assert_cmpuint(u.groups[0], ==, 77);

        g_assert_cmpint(join_build_env(&u, "dumb", extra, &env), ==, 0);
        g_assert_cmpstr(strv_env_get(env, "HOME"), ==, "/home/x");
        g_assert_cmpstr(strv_env_get(env, "USER"), ==, "onlyinside");
        g_assert_cmpstr(strv_env_get(env, "LOGNAME"), ==, "onlyinside");
        g_assert_cmpstr(strv_env_get(env, "SHELL"), ==, "/bin/ash");
        g_assert_cmpstr(strv_env_get(env, "TERM"), ==, "xterm");
        g_assert_cmpstr(strv_env_get(env, "FOO"), ==, "bar");
        g_assert_cmpstr(strv_env_get(env, "container"), ==, "berth");
        g_assert_cmpstr(strv_env_get(env, "PATH"), ==, JOIN_DEFAULT_PATH);
        join_user_done(&u);

        /* "" is root; a user of the host only is unknown inside. */
        g_assert_cmpint(join_user_lookup(fd, "", &u), ==, 0);
        g_assert_cmpuint(u.uid, ==, 0);
        join_user_done(&u);
        g_assert_cmpint(join_user_lookup(fd, "daemon", &u), ==, -ESRCH);

        g_assert_cmpint(join_find_executable(fd, "tool", "relative:/nope:/bin", &path), ==, 0);
        g_assert_cmpstr(path, ==, "/bin/tool");
        g_assert_cmpint(join_find_executable(fd, "data", "/bin", &path), ==, -EACCES);
        g_assert_cmpint(join_find_executable(fd, "missing", "/bin", &path), ==, -ENOENT);
        g_assert_cmpint(join_find_executable(fd, "/bin", NULL, &path), ==, -EISDIR);

        /* An /etc/passwd that points out of the tree resolves inside it: the host's root is
         * not found through it. */
        g_assert_cmpint(symlink("/etc/passwd", passwd_link), ==, 0);
        g_autofree char *p = g_build_filename(root, "etc", "passwd", NULL);
        g_assert_cmpint(unlink(p), ==, 0);
        g_assert_cmpint(symlink("../../../../../../sub/passwd", p), ==, 0);
        /* ELOOP; or EAGAIN when any rename on the system raced the ".." walk (openat2). */
        r = join_user_lookup(fd, "onlyinside", &u);
        g_assert_true(r == -ELOOP || r == -EAGAIN);
        g_assert_cmpint(unlink(passwd_link), ==, 0);
        g_assert_cmpint(symlink("/../../../../../etc/shadow", passwd_link), ==, 0);
        g_assert_cmpint(join_user_lookup(fd, "daemon", &u), ==, -ESRCH);

        g_assert_cmpint(system(g_strdup_printf("rm -rf '%s'", root)), ==, 0);
}

/* Operations without a bus: a worker reports data and an fd, another dies, another errs. */
typedef struct Seen {
        int calls;
        int error;
        char data[64];
        char error_name[128];
        int fd;
} Seen;

static int on_done(Operation *o, OperationResult *result, void *userdata, sd_bus_error *error) {
        Seen *s = userdata;

        s->calls++;
        s->error = result->error;
        if (result->data)
                g_strlcpy(s->data, result->data, MIN(sizeof(s->data), result->size + 1));
        if (result->error_name)
                g_strlcpy(s->error_name, result->error_name, sizeof(s->error_name));
        s->fd = TAKE_FD(result->fd);
        return 0;
}

static void test_operations(void) {
        Manager m = { .operations_max = 2 };
        Seen a = { .fd = -EBADF }, b = { .fd = -EBADF }, c = { .fd = -EBADF };
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int fd, r;
        struct stat st;

        g_assert_cmpint(sd_event_new(&m.event), >=, 0);

        r = operation_fork(&m, NULL, on_done, &a, NULL, &fd, &error);
        g_assert_cmpint(r, >=, 0);
        if (r == 0) {
                int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
                _exit(operation_report(fd, 0, "hello", 6, nul) < 0 ? 3 : 0);
        }
        r = operation_fork(&m, NULL, on_done, &b, NULL, &fd, &error);
        g_assert_cmpint(r, >=, 0);
        if (r == 0) {
                (void) operation_report_errorf(fd, -ENOENT, "org.berth.machine1.NoSuchUser", "no %s", "x");
                _exit(1);
        }
        g_assert_cmpuint(manager_operations_count(&m), ==, 2);
        /* The limit: refused before forking, with the error callers see. */
        r = operation_fork(&m, NULL, on_done, &c, NULL, &fd, &error);
        g_assert_cmpint(r, ==, -ENOBUFS);
        g_assert_cmpstr(error.name, ==, "org.berth.machine1.TooManyOperations");
        g_assert_cmpint(c.calls, ==, 0);

        for (int i = 0; i < 500 && a.calls + b.calls < 2; i++)
                g_assert_cmpint(sd_event_run(m.event, 10 * 1000), >=, 0);
        g_assert_cmpint(a.calls, ==, 1);
        g_assert_cmpint(a.error, ==, 0);
        g_assert_cmpstr(a.data, ==, "hello");
        g_assert_cmpint(a.fd, >=, 0);
        g_assert_cmpint(fstat(a.fd, &st), ==, 0);
        g_assert_true(S_ISCHR(st.st_mode));
        close(a.fd);
        g_assert_cmpint(b.calls, ==, 1);
        g_assert_cmpint(b.error, ==, -ENOENT);
        g_assert_cmpstr(b.error_name, ==, "org.berth.machine1.NoSuchUser");
        g_assert_cmpuint(manager_operations_count(&m), ==, 0);

        /* A worker killed before it reports: cancelled, and reaped. */
        Operation *o = NULL;
        r = operation_fork(&m, NULL, on_done, &c, &o, &fd, &error);
        g_assert_cmpint(r, >=, 0);
        if (r == 0) {
                pause();
                _exit(0);
        }
        g_assert_cmpint(kill(operation_get_pid(o), SIGKILL), ==, 0);
        for (int i = 0; i < 500 && c.calls < 1; i++)
                g_assert_cmpint(sd_event_run(m.event, 10 * 1000), >=, 0);
        g_assert_cmpint(c.error, ==, -ECANCELED);

        /* Freed while running (berthd's exit): killed and reaped, nothing left. */
        r = operation_fork(&m, NULL, on_done, &c, &o, &fd, &error);
        g_assert_cmpint(r, >=, 0);
        if (r == 0) {
                pause();
                _exit(0);
        }
        pid_t pid = operation_get_pid(o);
        manager_free_operations(&m);
        g_assert_cmpint(kill(pid, 0), ==, -1);
        g_assert_cmpint(errno, ==, ESRCH);
        g_assert_cmpint(c.calls, ==, 1);
        g_assert_cmpuint(manager_operations_count(&m), ==, 0);
        sd_event_unref(m.event);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/join/user-names", test_user_names);
        g_test_add_func("/join/programs-and-dirs", test_programs_and_dirs);
        g_test_add_func("/join/env", test_env);
        g_test_add_func("/join/passwd-parse", test_passwd_parse);
        g_test_add_func("/join/lookup-in-root", test_lookup_in_root);
        g_test_add_func("/operation/workers", test_operations);
        return g_test_run();
}
