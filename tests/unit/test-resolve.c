/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of the resolve-inside-root helpers against a tree full of hostile symlinks and files. */

#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "resolve.h"

static bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

#define CANARY_TEXT "HOST-CANARY\n"
#define BIG_SIZE (2u * 1024 * 1024)

typedef struct Dirs {
        char *disk;  /* per run, on the real disk: the trees */
        char *tmp;   /* per run, in /tmp: the canaries */
} Dirs;

typedef struct Fixture {
        char *scratch;     /* holds the tree and a host directory beside it */
        char *root;        /* the container tree */
        char *hostdir;     /* a host directory the tree points at: must stay empty */
        char *canary;      /* a host file in /tmp the tree points at: must stay unchanged */
        const char *canary_name;
        struct stat canary_st;
        int root_fd;
} Fixture;

static char *at_root(const Fixture *f, const char *rel) {
        return g_build_filename(f->root, rel, NULL);
}

static void xsymlink(const char *target, const Fixture *f, const char *rel) {
        g_autofree char *p = at_root(f, rel);
        g_assert_cmpint(symlink(target, p), ==, 0);
}

static void fixture_setup(Fixture *f, gconstpointer data) {
        const Dirs *dirs = data;
        g_autofree char *p = NULL, *big = NULL, *target = NULL;
        int fd;

        /* The canary sits in /tmp, where a classic escape would write. */
        f->canary = g_build_filename(dirs->tmp, "canary-XXXXXX", NULL);
        fd = g_mkstemp(f->canary);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(write(fd, CANARY_TEXT, strlen(CANARY_TEXT)), ==, strlen(CANARY_TEXT));
        close(fd);
        g_assert_cmpint(stat(f->canary, &f->canary_st), ==, 0);
        f->canary_name = f->canary + strlen("/tmp/");

        f->scratch = g_build_filename(dirs->disk, "tree-XXXXXX", NULL);
        g_assert_nonnull(g_mkdtemp(f->scratch));
        f->root = g_build_filename(f->scratch, "root", NULL);
        f->hostdir = g_build_filename(f->scratch, "hostdir", NULL);
        g_assert_cmpint(mkdir(f->root, 0755), ==, 0);
        g_assert_cmpint(mkdir(f->hostdir, 0755), ==, 0);
        p = at_root(f, "etc");
        g_assert_cmpint(mkdir(p, 0755), ==, 0);

        /* Absolute and relative links that leave the tree if followed on the host. */
        xsymlink(f->canary, f, "etc/resolv.conf");
        target = g_strdup_printf("../../../../../../../../tmp/%s", f->canary_name);
        xsymlink(target, f, "etc/hostname");
        xsymlink(f->hostdir, f, "dev");
        xsymlink("../../../../../../../../var/tmp", f, "vartmp");
        xsymlink("/tmp", f, "etc2");
        xsymlink("loop2", f, "etc/loop1");
        xsymlink("loop1", f, "etc/loop2");
        g_free(p);
        p = at_root(f, "etc/fifo");
        g_assert_cmpint(mkfifo(p, 0644), ==, 0);

        big = g_malloc(BIG_SIZE + 1);
        memset(big, 'x', BIG_SIZE);
        g_free(p);
        p = at_root(f, "etc/big");
        g_assert_true(g_file_set_contents(p, big, BIG_SIZE, NULL));
        g_free(p);
        p = at_root(f, "etc/empty");
        g_assert_true(g_file_set_contents(p, "", 0, NULL));

        f->root_fd = open(f->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        g_assert_cmpint(f->root_fd, >=, 0);
}

static void fixture_teardown(Fixture *f, gconstpointer data) {
        const char *argv[] = { "rm", "-rf", "--one-file-system", f->scratch, NULL };
        g_autofree char *content = NULL;
        g_autoptr(GDir) d = NULL;
        struct stat st;
        int status = 0;

        /* Whatever the test did, nothing outside the tree changed. */
        g_assert_true(g_file_get_contents(f->canary, &content, NULL, NULL));
        g_assert_cmpstr(content, ==, CANARY_TEXT);
        g_assert_cmpint(stat(f->canary, &st), ==, 0);
        g_assert_cmpuint(st.st_ino, ==, f->canary_st.st_ino);
        g_assert_cmpint(st.st_mtim.tv_nsec, ==, f->canary_st.st_mtim.tv_nsec);
        g_assert_cmpint(st.st_ctim.tv_nsec, ==, f->canary_st.st_ctim.tv_nsec);
        g_assert_cmpuint(st.st_mode, ==, f->canary_st.st_mode);
        d = g_dir_open(f->hostdir, 0, NULL);
        g_assert_nonnull(d);
        g_assert_null(g_dir_read_name(d));

        close(f->root_fd);
        g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                                   NULL, NULL, &status, NULL));
        g_assert_cmpint(status, ==, 0);
        g_free(f->canary);
        g_free(f->scratch);
        g_free(f->root);
        g_free(f->hostdir);
}

/* The file the escaping links name, made inside the tree. */
static char *make_inside(const Fixture *f) {
        g_autofree char *rel = g_build_filename("tmp", f->canary_name, NULL);
        char *inside = at_root(f, rel);
        g_autofree char *dir = g_path_get_dirname(inside);

        g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
        g_assert_true(g_file_set_contents(inside, "INSIDE\n", -1, NULL));
        return inside;
}

static char *read_fd_text(int fd) {
        g_autofree char *buf = g_malloc0(4096);
        ssize_t n = pread(fd, buf, 4095, 0);

        g_assert_cmpint(n, >=, 0);
        return g_steal_pointer(&buf);
}

/* The inode behind FD is below the tree (its path, as the kernel names it, starts there). */
static void assert_fd_inside(const Fixture *f, int fd) {
        g_autofree char *link = g_strdup_printf("/proc/self/fd/%d", fd);
        g_autofree char *target = g_file_read_link(link, NULL);

        g_assert_nonnull(target);
        g_assert_true(g_str_has_prefix(target, f->root));
}

/* Runs FN in a child with an alarm, so a blocking open fails the test instead of hanging it. */
static int run_guarded(int (*fn)(const Fixture *f), const Fixture *f) {
        int status;
        pid_t pid = fork();

        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                int r;

                alarm(10);
                r = fn(f);
                _exit(r < 0 ? 100 + MIN(-r, 120) : MIN(r, 99));
        }
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
                g_error("blocked: the helper opened a FIFO");
        g_assert_true(WIFEXITED(status));
        return WEXITSTATUS(status) >= 100 ? -(WEXITSTATUS(status) - 100) : WEXITSTATUS(status);
}

static void test_open_contained(Fixture *f, gconstpointer data) {
        g_autofree char *inside = NULL, *content = NULL;
        g_autofree char *dotdot = g_strdup_printf("../../../../tmp/%s", f->canary_name);
        struct stat a, b;
        int fd;

        /* Nothing at the links' targets inside the tree: not found, never the host file. */
        g_assert_cmpint(open_in_root(f->root_fd, "/etc/resolv.conf", O_RDONLY, 0), ==, -ENOENT);
        g_assert_cmpint(open_in_root(f->root_fd, "etc/hostname", O_RDONLY, 0), ==, -ENOENT);
        g_assert_cmpint(open_in_root(f->root_fd, dotdot, O_RDONLY, 0), ==, -ENOENT);
        g_assert_cmpint(open_in_root(f->root_fd, "etc/loop1", O_RDONLY, 0), ==, -ELOOP);

        /* With the same names inside the tree, those are what is read. */
        inside = make_inside(f);
        for (const char *const *p = (const char *const[]) { "/etc/resolv.conf", "etc/hostname",
                                                            dotdot, NULL }; *p; p++) {
                g_autofree char *text = NULL;

                fd = open_in_root(f->root_fd, *p, O_RDONLY, 0);
                g_assert_cmpint(fd, >=, 0);
                text = read_fd_text(fd);
                g_assert_cmpstr(text, ==, "INSIDE\n");
                assert_fd_inside(f, fd);
                g_assert_cmpint(fcntl(fd, F_GETFD), ==, FD_CLOEXEC);
                close(fd);
        }

        /* "/" and "" are the root itself. */
        fd = open_in_root(f->root_fd, "/", O_PATH | O_DIRECTORY, 0);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(fstat(fd, &a), ==, 0);
        g_assert_cmpint(fstat(f->root_fd, &b), ==, 0);
        g_assert_cmpuint(a.st_ino, ==, b.st_ino);
        close(fd);

        /* O_CREAT through a dangling escaping link lands inside. */
        g_assert_cmpint(unlink(inside), ==, 0);
        fd = open_in_root(f->root_fd, "etc/resolv.conf", O_WRONLY | O_CREAT, 0600);
        g_assert_cmpint(fd, >=, 0);
        assert_fd_inside(f, fd);
        close(fd);
        g_assert_true(g_file_get_contents(inside, &content, NULL, NULL));
}

static int read_fifo(const Fixture *f) {
        g_autofree char *buf = NULL;
        return read_file_in_root(f->root_fd, "etc/fifo", 4096, &buf);
}

static void test_read_bounded(Fixture *f, gconstpointer data) {
        g_autofree char *buf = NULL, *inside = NULL;
        size_t size = 0;
        int fd;

        g_assert_cmpint(read_file_in_root(f->root_fd, "etc/resolv.conf", 4096, &buf), ==, -ENOENT);
        g_assert_cmpint(read_file_in_root(f->root_fd, "etc/hostname", 4096, &buf), ==, -ENOENT);
        g_assert_null(buf);
        inside = make_inside(f);
        g_assert_cmpint(read_file_in_root(f->root_fd, "etc/hostname", 4096, &buf), ==, 0);
        g_assert_cmpstr(buf, ==, "INSIDE\n");
        g_clear_pointer(&buf, g_free);

        /* Bounded: one byte too small is -EFBIG, exactly the size is fine. */
        g_assert_cmpint(read_file_in_root(f->root_fd, "etc/big", 1024 * 1024, &buf), ==, -EFBIG);
        g_assert_cmpint(read_file_in_root(f->root_fd, "etc/big", BIG_SIZE - 1, &buf), ==, -EFBIG);
        g_assert_null(buf);
        g_assert_cmpint(read_file_in_root(f->root_fd, "etc/big", BIG_SIZE, &buf), ==, 0);
        g_assert_cmpuint(strlen(buf), ==, BIG_SIZE);
        g_clear_pointer(&buf, g_free);
        g_assert_cmpint(read_file_in_root(f->root_fd, "etc/empty", 0, &buf), ==, 0);
        g_assert_cmpstr(buf, ==, "");
        g_clear_pointer(&buf, g_free);

        fd = open_in_root(f->root_fd, "etc/big", O_RDONLY, 0);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(read_fd_full(fd, BIG_SIZE, &buf, &size), ==, 0);
        g_assert_cmpuint(size, ==, BIG_SIZE);
        close(fd);

        /* Not a regular file: refused, and a FIFO never blocks. */
        g_assert_cmpint(run_guarded(read_fifo, f), ==, -EBADFD);
        g_assert_cmpint(read_file_in_root(f->root_fd, "etc", 4096, &buf), ==, -EBADFD);
}

/* "No limit" is a limit too: SIZE_MAX must not wrap around to zero. */
static void test_read_unlimited(Fixture *f, gconstpointer data) {
        g_autofree char *buf = NULL;

        g_assert_cmpint(read_file_in_root(f->root_fd, "etc/big", SIZE_MAX, &buf), ==, 0);
        g_assert_cmpuint(strlen(buf), ==, BIG_SIZE);
}

/* A device node must be refused without being opened: opening runs the driver (think of a
 * watchdog, or a tape that rewinds). IN_OPEN reports real opens, not O_PATH ones. */
static void test_read_device_not_opened(Fixture *f, gconstpointer data) {
        g_autofree char *dev = at_root(f, "etc/machine-id"), *buf = NULL;
        char ev[4096];
        int ino;

        if (geteuid() != 0) {
                g_test_skip("needs root to make a device node");
                return;
        }
        g_assert_cmpint(mknod(dev, S_IFCHR | 0644, makedev(1, 3)), ==, 0);
        ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        g_assert_cmpint(ino, >=, 0);
        g_assert_cmpint(inotify_add_watch(ino, dev, IN_OPEN), >=, 0);
        g_assert_cmpint(read_file_in_root(f->root_fd, "etc/machine-id", 4096, &buf), ==, -EBADFD);
        g_assert_cmpint(read(ino, ev, sizeof(ev)), ==, -1);
        g_assert_cmpint(errno, ==, EAGAIN);
        close(ino);
}

static void assert_regular_with(const Fixture *f, const char *rel, const char *content, mode_t mode) {
        g_autofree char *p = at_root(f, rel), *text = NULL;
        struct stat st;

        g_assert_cmpint(lstat(p, &st), ==, 0);
        g_assert_true(S_ISREG(st.st_mode));
        g_assert_cmpuint(st.st_mode & 07777, ==, mode);
        g_assert_true(g_file_get_contents(p, &text, NULL, NULL));
        g_assert_cmpstr(text, ==, content);
}

static mode_t current_umask(void) {
        mode_t m = umask(0);

        umask(m);
        return m;
}

static int write_fifo(const Fixture *f) {
        return write_file_in_root(f->root_fd, "etc/fifo", "x\n", 0644);
}

static void test_write_replaces_links(Fixture *f, gconstpointer data) {
        g_autofree char *host_new = g_strdup_printf("/tmp/%s-new", f->canary_name);
        g_autofree char *rel_new = g_strdup_printf("etc2/%s-new", f->canary_name);
        g_autofree char *inside_new = NULL;
        mode_t old_umask = umask(0);

        g_assert_cmpint(write_file_in_root(f->root_fd, "/etc/resolv.conf", "nameserver 192.0.2.1\n", 0644), ==, 0);
        assert_regular_with(f, "etc/resolv.conf", "nameserver 192.0.2.1\n", 0644);
        g_assert_cmpint(write_file_in_root(f->root_fd, "etc/hostname", "box\n", 0600), ==, 0);
        assert_regular_with(f, "etc/hostname", "box\n", 0600);

        /* An existing regular file is replaced whole (a shorter content leaves no tail). */
        g_assert_cmpint(write_file_in_root(f->root_fd, "etc/hostname", "b\n", 0600), ==, 0);
        assert_regular_with(f, "etc/hostname", "b\n", 0600);

        /* A parent that is a link to a host directory resolves inside the tree. */
        if (write_file_in_root(f->root_fd, rel_new, "x\n", 0644) == 0) {
                inside_new = g_strdup_printf("tmp/%s-new", f->canary_name);
                assert_regular_with(f, inside_new, "x\n", 0644);
        }
        g_assert_false(g_file_test(host_new, G_FILE_TEST_EXISTS));

        /* Missing parents are made inside; the parent link to a host dir is followed inside. */
        g_assert_cmpint(write_file_in_root(f->root_fd, "run/host/os-release", "ID=x\n", 0644), ==, 0);
        assert_regular_with(f, "run/host/os-release", "ID=x\n", 0644);
        (void) write_file_in_root(f->root_fd, "dev/console-log", "x\n", 0644);

        /* Not a regular file: refused without blocking on the FIFO. */
        g_assert_cmpint(run_guarded(write_fifo, f), ==, -EEXIST);
        g_assert_cmpint(write_file_in_root(f->root_fd, "etc", "x\n", 0644), ==, -EEXIST);
        g_assert_cmpint(write_file_in_root(f->root_fd, "/", "x\n", 0644), ==, -EINVAL);
        g_assert_cmpint(write_file_in_root(f->root_fd, "etc/..", "x\n", 0644), ==, -EINVAL);
        umask(old_umask);
}

static void test_mkdir_p(Fixture *f, gconstpointer data) {
        g_autofree char *abc = at_root(f, "a/b/c"), *yz = at_root(f, "y/z");
        g_autofree char *outside = g_build_filename(f->scratch, "outside", NULL);
        g_autofree char *clamped = at_root(f, "outside");
        struct stat st, fst;
        int fd;

        /* dev -> a host dir: the dirs are made inside the tree or not at all. */
        fd = mkdir_p_in_root(f->root_fd, "dev/pts", 0755);
        if (fd >= 0) {
                assert_fd_inside(f, fd);
                close(fd);
        } else
                g_assert_cmpint(fd, ==, -ENOENT); /* the link's target does not exist inside */
        fd = mkdir_p_in_root(f->root_fd, "vartmp/x", 0755);
        if (fd >= 0) {
                assert_fd_inside(f, fd);
                close(fd);
        }

        fd = mkdir_p_in_root(f->root_fd, "/a/b/c/", 0750);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(fstat(fd, &fst), ==, 0);
        g_assert_cmpint(stat(abc, &st), ==, 0);
        g_assert_cmpuint(st.st_ino, ==, fst.st_ino);
        g_assert_true(S_ISDIR(st.st_mode));
        close(fd);
        /* Again: existing dirs are fine. */
        fd = mkdir_p_in_root(f->root_fd, "a/b/c", 0750);
        g_assert_cmpint(fd, >=, 0);
        close(fd);

        fd = mkdir_p_in_root(f->root_fd, "x/.././y/./z", 0755);
        g_assert_cmpint(fd, >=, 0);
        close(fd);
        g_assert_true(g_file_test(yz, G_FILE_TEST_IS_DIR));

        /* ".." above the root stays at the root. */
        fd = mkdir_p_in_root(f->root_fd, "../../../outside", 0755);
        g_assert_cmpint(fd, >=, 0);
        assert_fd_inside(f, fd);
        close(fd);
        g_assert_true(g_file_test(clamped, G_FILE_TEST_IS_DIR));
        g_assert_false(g_file_test(outside, G_FILE_TEST_EXISTS));

        g_assert_cmpint(mkdir_p_in_root(f->root_fd, "etc/big/sub", 0755), ==, -ENOTDIR);
        g_assert_cmpint(mkdir_p_in_root(f->root_fd, "etc/loop1/sub", 0755), ==, -ELOOP);

        /* With the link's target present inside the tree, that is where the dirs go. */
        {
                g_autofree char *inside = g_build_filename(f->root, f->hostdir, NULL);
                g_autofree char *pts = g_build_filename(inside, "pts", NULL);

                g_assert_cmpint(g_mkdir_with_parents(inside, 0755), ==, 0);
                fd = mkdir_p_in_root(f->root_fd, "dev/pts", 0755);
                g_assert_cmpint(fd, >=, 0);
                assert_fd_inside(f, fd);
                close(fd);
                g_assert_true(g_file_test(pts, G_FILE_TEST_IS_DIR));
        }
}

static void test_mount_point(Fixture *f, gconstpointer data) {
        g_autofree char *mp = at_root(f, "run/systemd/notify"), *srv = at_root(f, "srv/data");
        struct stat st, fst;
        int fd;

        fd = mount_point_in_root(f->root_fd, "run/systemd/notify", true, 0644);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(fstat(fd, &fst), ==, 0);
        g_assert_cmpint(lstat(mp, &st), ==, 0);
        g_assert_true(S_ISREG(st.st_mode));
        g_assert_cmpuint(st.st_size, ==, 0);
        g_assert_cmpuint(st.st_ino, ==, fst.st_ino);
        assert_fd_inside(f, fd);
        close(fd);
        /* Again: the existing file is reused. */
        fd = mount_point_in_root(f->root_fd, "run/systemd/notify", true, 0644);
        g_assert_cmpint(fd, >=, 0);
        close(fd);

        fd = mount_point_in_root(f->root_fd, "srv/data", false, 0755);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(fstat(fd, &fst), ==, 0);
        g_assert_cmpint(stat(srv, &st), ==, 0);
        g_assert_true(S_ISDIR(st.st_mode));
        g_assert_cmpuint(st.st_ino, ==, fst.st_ino);
        close(fd);

        /* Existing escaping links: the fd is never the host file, the host dir stays empty. */
        fd = mount_point_in_root(f->root_fd, "etc/hostname", true, 0644);
        if (fd >= 0) {
                g_assert_cmpint(fstat(fd, &fst), ==, 0);
                g_assert_cmpuint(fst.st_ino, !=, f->canary_st.st_ino);
                assert_fd_inside(f, fd);
                close(fd);
        }
        fd = mount_point_in_root(f->root_fd, "dev/console", true, 0644);
        if (fd >= 0) {
                assert_fd_inside(f, fd);
                close(fd);
        }
        fd = mount_point_in_root(f->root_fd, "dev/pts", false, 0755);
        if (fd >= 0) {
                assert_fd_inside(f, fd);
                close(fd);
        }
}

/* /proc/self/fd/N, /proc/self/root and friends jump anywhere: with a real proc inside the tree
 * they must still be refused. */
static void test_magic_links(Fixture *f, gconstpointer data) {
        g_autofree char *proc = at_root(f, "proc"), *fdpath = NULL, *rootpath = NULL;
        g_autofree char *buf = NULL, *cwdpath = NULL;
        int canary_fd, fd;

        g_assert_cmpint(mkdir(proc, 0555), ==, 0);
        /* Without proc mounted, the names do not even exist inside. */
        canary_fd = open(f->canary, O_RDONLY | O_CLOEXEC);
        g_assert_cmpint(canary_fd, >=, 0);
        fdpath = g_strdup_printf("/proc/self/fd/%d", canary_fd);
        g_assert_cmpint(open_in_root(f->root_fd, fdpath, O_RDONLY, 0), ==, -ENOENT);

        if (geteuid() != 0) {
                g_test_skip("needs root to mount proc inside the tree");
                close(canary_fd);
                return;
        }
        g_assert_cmpint(mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL), ==, 0);
        xsymlink(fdpath, f, "etc/magic");
        rootpath = g_strdup_printf("/proc/self/root%s", f->canary);
        cwdpath = g_strdup_printf("/proc/%d/cwd/x", getpid());

        for (const char *const *p = (const char *const[]) { fdpath, "etc/magic", rootpath, NULL }; *p; p++) {
                fd = open_in_root(f->root_fd, *p, O_RDONLY, 0);
                g_assert_cmpint(fd, <, 0);
                fd = open_in_root(f->root_fd, *p, O_PATH, 0);
                g_assert_cmpint(fd, <, 0);
                g_assert_cmpint(read_file_in_root(f->root_fd, *p, 4096, &buf), <, 0);
                g_assert_null(buf);
                /* A link in the tree is replaced inside the tree; the others are refused. */
                if (streq(*p, "etc/magic"))
                        g_assert_cmpint(write_file_in_root(f->root_fd, *p, "ok\n", 0644), ==, 0);
                else
                        g_assert_cmpint(write_file_in_root(f->root_fd, *p, "PWNED\n", 0644), <, 0);
        }
        assert_regular_with(f, "etc/magic", "ok\n", 0644 & ~current_umask());
        fd = mkdir_p_in_root(f->root_fd, cwdpath, 0755);
        g_assert_cmpint(fd, <, 0);
        fd = mount_point_in_root(f->root_fd, rootpath, true, 0644);
        g_assert_cmpint(fd, <, 0);

        close(canary_fd);
        g_assert_cmpint(umount2(proc, MNT_DETACH), ==, 0);
}

static void test_write_string_file(Fixture *f, gconstpointer data) {
        g_autofree char *p = at_root(f, "etc/empty"), *text = NULL;
        int dfd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        g_assert_cmpint(write_string_file(p, "abc"), ==, 0);
        g_assert_true(g_file_get_contents(p, &text, NULL, NULL));
        g_assert_cmpstr(text, ==, "abc");
        g_assert_cmpint(write_string_fileat(dfd, "etc/empty", "x"), ==, 0);
        g_assert_cmpint(write_string_file("/nonexistent/berth", "x"), ==, -ENOENT);
        close(dfd);
}

#define ADD(name, fn) g_test_add(name, Fixture, &dirs, fixture_setup, fn, fixture_teardown)

int main(int argc, char **argv) {
        Dirs dirs = {};
        const char *rm[] = { "rm", "-rf", "--one-file-system", NULL, NULL, NULL };
        int status = 0;
        pid_t pid;

        g_test_init(&argc, &argv, NULL);
        dirs.disk = g_strdup("/var/tmp/berth-test-resolve-XXXXXX");
        dirs.tmp = g_strdup("/tmp/berth-test-resolve-XXXXXX");
        g_assert_nonnull(g_mkdtemp(dirs.disk));
        g_assert_nonnull(g_mkdtemp(dirs.tmp));

        /* The tests run in a child with its own mount namespace; whatever way it ends (even an
         * assertion's abort), its mounts die with it and the scratch dir is removed here. */
        pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                if (geteuid() == 0 &&
                    (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0))
                        g_error("cannot make a private mount namespace: %s", g_strerror(errno));

                ADD("/resolve/open-contained", test_open_contained);
                ADD("/resolve/read-bounded", test_read_bounded);
                ADD("/resolve/write-replaces-links", test_write_replaces_links);
                ADD("/resolve/mkdir-p", test_mkdir_p);
                ADD("/resolve/mount-point", test_mount_point);
                ADD("/resolve/magic-links", test_magic_links);
                ADD("/resolve/write-string-file", test_write_string_file);
                ADD("/resolve/read-device-not-opened", test_read_device_not_opened);
                ADD("/resolve/read-unlimited", test_read_unlimited);
                _exit(g_test_run());
        }
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        rm[3] = dirs.disk;
        rm[4] = dirs.tmp;
        if (!g_spawn_sync(NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                          NULL, NULL))
                g_printerr("# could not remove %s and %s\n", dirs.disk, dirs.tmp);
        g_free(dirs.disk);
        g_free(dirs.tmp);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
