/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bare minimum a container start needs, as the yardstick for the runtimes: clone into new
 * mount, PID, UTS and IPC namespaces, bind the tree, mount proc, pivot_root, exec, wait.
 *
 * Usage: bare-minimum TREE [CMD [ARGS...]]   (CMD defaults to /bin/true) */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what) {
        perror(what);
        _exit(125);
}

static void child(const char *tree, char **cmd) {
        char *const env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };

        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                die("make / private");
        if (mount(tree, tree, NULL, MS_BIND | MS_REC, NULL) < 0)
                die("bind the tree");
        if (chdir(tree) < 0)
                die("chdir");
        if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                die("mount proc");
        /* pivot_root(".", "."): the old root ends up on top of the new one, then goes. */
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                die("pivot_root");
        if (umount2(".", MNT_DETACH) < 0)
                die("detach the old root");
        if (chdir("/") < 0)
                die("chdir /");
        execve(cmd[0], cmd, env);
        die("execve");
}

int main(int argc, char *argv[]) {
        static char *def[] = { "/bin/true", NULL };
        int status;
        pid_t pid;

        if (argc < 2) {
                fprintf(stderr, "usage: %s TREE [CMD...]\n", argv[0]);
                return 2;
        }
        /* A fork-like clone: the child runs on a copy of our stack. */
        pid = (pid_t) syscall(SYS_clone, CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD,
                              NULL, NULL, NULL, NULL);
        if (pid < 0)
                die("clone");
        if (pid == 0)
                child(argv[1], argc > 2 ? &argv[2] : def);
        if (waitpid(pid, &status, 0) < 0)
                die("waitpid");
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
