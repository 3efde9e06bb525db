/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The benchmark driver: runs several commands round-robin, times each fork+exec+wait with
 * CLOCK_MONOTONIC, and optionally samples the peak RSS of the command's own process at exit.
 *
 * Usage: driver [-n RUNS] [-w WARMUP] [-t TIMEOUT] [-m] [-s] [-b BEFORE] [-a AFTER] [-l LOGDIR]
 *               -- LABEL CMD [ARGS...] [-- LABEL CMD [ARGS...]]...
 *
 * Commands run interleaved (round r starts with command r mod N), so that the noise of a busy
 * machine falls on all of them alike. BEFORE and AFTER are shell commands run untimed around
 * every run, with BENCH_LABEL set. Output goes to LOGDIR/LABEL.log. With -s, the run's output
 * must hold a line "BENCH_INIT_STAMP=NS", a CLOCK_MONOTONIC time written by the init wrapper
 * inside the container; its distance from the fork is reported as "to_init". A run that takes
 * longer than TIMEOUT seconds is killed and ends the benchmark. With -m, each command runs under
 * ptrace, stopped at its exit (PTRACE_EVENT_EXIT, before its memory is released) to read VmHWM
 * and the RSS split of that one process from /proc/PID/status; the times of such runs are
 * distorted and not reported.
 *
 * Output, one line per label and metric:  LABEL METRIC N MEDIAN P90 MIN MAX  (ms or kB). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CMDS 16

typedef struct Samples {
        double *v;
        size_t n;
} Samples;

typedef struct Cmd {
        const char *label;
        char **argv;
        Samples time_ms, to_init_ms, hwm_kb, anon_kb, file_kb, maxrss_kb;
} Cmd;

typedef struct MemInfo {
        long hwm_kb, anon_kb, file_kb;
} MemInfo;

static volatile pid_t current_child = 0;

static void on_alarm(int sig) {
        (void) sig;
        if (current_child > 0)
                kill(current_child, SIGKILL);
}

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static void samples_add(Samples *s, double x) {
        double *v = realloc(s->v, (s->n + 1) * sizeof(double));

        if (!v) {
                perror("realloc");
                exit(2);
        }
        s->v = v;
        s->v[s->n++] = x;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return x < y ? -1 : x > y;
}

/* Median (mean of the middle two for even N) and nearest-rank p90. */
static void samples_print(const char *label, const char *metric, Samples *s, const char *fmt) {
        double med, p90;
        size_t k;

        if (s->n == 0)
                return;
        qsort(s->v, s->n, sizeof(double), cmp_double);
        med = s->n % 2 ? s->v[s->n / 2] : (s->v[s->n / 2 - 1] + s->v[s->n / 2]) / 2;
        k = (s->n * 9 + 9) / 10; /* ceil(0.9 n) */
        p90 = s->v[k - 1];
        printf("%s %s %zu ", label, metric, s->n);
        printf(fmt, med);
        putchar(' ');
        printf(fmt, p90);
        putchar(' ');
        printf(fmt, s->v[0]);
        putchar(' ');
        printf(fmt, s->v[s->n - 1]);
        putchar('\n');
}

static int run_hook(const char *hook, const char *label) {
        pid_t pid;
        int status;

        if (!hook)
                return 0;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                setenv("BENCH_LABEL", label, 1);
                execl("/bin/sh", "sh", "-ec", hook, (char *) NULL);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static void read_mem(pid_t pid, MemInfo *m) {
        char path[64], line[256];
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                sscanf(line, "VmHWM: %ld", &m->hwm_kb);
                sscanf(line, "RssAnon: %ld", &m->anon_kb);
                sscanf(line, "RssFile: %ld", &m->file_kb);
        }
        fclose(f);
}

static void child_exec(Cmd *c, int log_fd, bool trace) {
        int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        if (null_fd >= 0)
                dup2(null_fd, STDIN_FILENO);
        if (log_fd >= 0) {
                dup2(log_fd, STDOUT_FILENO);
                dup2(log_fd, STDERR_FILENO);
        }
        if (trace) {
                if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
                        _exit(126);
                raise(SIGSTOP);
        }
        execvp(c->argv[0], c->argv);
        _exit(127);
}

/* Follows a traced child to its exit; the PTRACE_EVENT_EXIT stop is the last moment its
 * memory map is intact. */
static int trace_until_exit(pid_t pid, MemInfo *m, int *status, struct rusage *ru) {
        bool first = true;

        for (;;) {
                int st;

                if (wait4(pid, &st, __WALL, ru) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (!WIFSTOPPED(st)) {
                        *status = st;
                        return 0;
                }
                int sig = WSTOPSIG(st), event = (unsigned) st >> 16;

                if (first) {
                        first = false;
                        (void) ptrace(PTRACE_SETOPTIONS, pid, NULL,
                                      (void *) (long) (PTRACE_O_TRACEEXIT | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL));
                        sig = 0;
                } else if (event == PTRACE_EVENT_EXIT) {
                        read_mem(pid, m);
                        sig = 0;
                } else if (event != 0 || sig == SIGTRAP)
                        sig = 0;
                if (ptrace(PTRACE_CONT, pid, NULL, (void *) (long) sig) < 0)
                        return -errno;
        }
}

/* Finds the last "BENCH_INIT_STAMP=" line written to the log from OFFSET on. */
static int read_stamp(int log_fd, off_t offset, uint64_t *ret) {
        char buf[65536];
        ssize_t n;
        bool found = false;

        for (;;) {
                n = pread(log_fd, buf, sizeof(buf) - 1, offset);
                if (n <= 0)
                        break;
                buf[n] = 0;
                for (char *p = buf; (p = strstr(p, "BENCH_INIT_STAMP=")); p++) {
                        *ret = strtoull(p + strlen("BENCH_INIT_STAMP="), NULL, 10);
                        found = true;
                }
                /* Step back a little so a line cut at the buffer's end is seen whole. */
                offset += n > 64 ? n - 64 : n;
                if (n < (ssize_t) sizeof(buf) - 1)
                        break;
        }
        return found ? 0 : -ENOENT;
}

typedef struct Options {
        unsigned runs, warmup, timeout;
        bool mem, stamp;
        const char *before, *after, *logdir;
} Options;

static int run_one(Cmd *c, const Options *o, bool record) {
        char logpath[4096];
        int log_fd = -1, status = 0, stamp_r = -ENOENT, r;
        off_t log_start = 0;
        struct rusage ru = {};
        MemInfo m = {};
        uint64_t t0, t1, stamp = 0;
        pid_t pid;

        if (run_hook(o->before, c->label) < 0) {
                fprintf(stderr, "%s: the before hook failed\n", c->label);
                return -EIO;
        }
        if (o->logdir) {
                snprintf(logpath, sizeof(logpath), "%s/%s.log", o->logdir, c->label);
                log_fd = open(logpath, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (log_fd < 0)
                        return -errno;
                log_start = lseek(log_fd, 0, SEEK_END);
        }
        t0 = now_ns();
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                child_exec(c, log_fd, o->mem);
        current_child = pid;
        alarm(o->timeout);
        if (o->mem)
                r = trace_until_exit(pid, &m, &status, &ru);
        else
                while ((r = wait4(pid, &status, 0, &ru) < 0 ? -errno : 0) == -EINTR)
                        ;
        t1 = now_ns();
        alarm(0);
        current_child = 0;
        if (o->stamp && r >= 0 && log_fd >= 0)
                stamp_r = read_stamp(log_fd, log_start, &stamp);
        if (log_fd >= 0)
                close(log_fd);
        if (r < 0)
                return r;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "%s: exited with status 0x%x (log: %s)\n", c->label, status,
                        o->logdir ? logpath : "none");
                return -EIO;
        }
        if (o->stamp && stamp_r < 0) {
                fprintf(stderr, "%s: no BENCH_INIT_STAMP= line in the output\n", c->label);
                return -ENOENT;
        }
        if (run_hook(o->after, c->label) < 0) {
                fprintf(stderr, "%s: the after hook failed\n", c->label);
                return -EIO;
        }
        if (!record)
                return 0;
        if (o->mem) {
                samples_add(&c->hwm_kb, (double) m.hwm_kb);
                samples_add(&c->anon_kb, (double) m.anon_kb);
                samples_add(&c->file_kb, (double) m.file_kb);
                samples_add(&c->maxrss_kb, (double) ru.ru_maxrss);
        } else
                samples_add(&c->time_ms, (double) (t1 - t0) / 1e6);
        if (o->stamp)
                samples_add(&c->to_init_ms, ((double) stamp - (double) t0) / 1e6);
        return 0;
}

int main(int argc, char *argv[]) {
        Options o = { .runs = 20, .warmup = 3, .timeout = 120 };
        struct sigaction sa = { .sa_handler = on_alarm };
        Cmd cmds[MAX_CMDS] = {};
        size_t n = 0;
        int opt;

        while ((opt = getopt(argc, argv, "+n:w:t:msb:a:l:")) >= 0)
                switch (opt) {
                case 'n': o.runs = (unsigned) atoi(optarg); break;
                case 'w': o.warmup = (unsigned) atoi(optarg); break;
                case 'm': o.mem = true; break;
                case 'b': o.before = optarg; break;
                case 'a': o.after = optarg; break;
                case 't': o.timeout = (unsigned) atoi(optarg); break;
                case 's': o.stamp = true; break;
                case 'l': o.logdir = optarg; break;
                default: return 2;
                }
        /* No SA_RESTART: the alarm must interrupt wait4(). */
        sigaction(SIGALRM, &sa, NULL);

        /* getopt ate the first "--"; each later "--" ends a group and becomes its argv's NULL. */
        if (optind < 1 || optind >= argc || strcmp(argv[optind - 1], "--") != 0) {
                fprintf(stderr, "usage: driver [options] -- LABEL CMD... [-- LABEL CMD...]\n");
                return 2;
        }
        for (int i = optind; i < argc; i++) {
                if (n >= MAX_CMDS || i + 1 >= argc || strcmp(argv[i + 1], "--") == 0) {
                        fprintf(stderr, "bad command group at '%s'\n", argv[i]);
                        return 2;
                }
                cmds[n].label = argv[i];
                cmds[n].argv = &argv[i + 1];
                n++;
                while (i < argc && strcmp(argv[i], "--") != 0)
                        i++;
                if (i < argc)
                        argv[i] = NULL;
        }

        for (unsigned round = 0; round < o.warmup + o.runs; round++)
                for (size_t k = 0; k < n; k++) {
                        Cmd *c = &cmds[(round + k) % n];

                        if (run_one(c, &o, round >= o.warmup) < 0)
                                return 1;
                }

        for (size_t k = 0; k < n; k++) {
                Cmd *c = &cmds[k];

                samples_print(c->label, "time_ms", &c->time_ms, "%.3f");
                samples_print(c->label, "to_init_ms", &c->to_init_ms, "%.3f");
                samples_print(c->label, "hwm_kb", &c->hwm_kb, "%.0f");
                samples_print(c->label, "anon_kb", &c->anon_kb, "%.0f");
                samples_print(c->label, "file_kb", &c->file_kb, "%.0f");
                samples_print(c->label, "maxrss_kb", &c->maxrss_kb, "%.0f");
        }
        return 0;
}
