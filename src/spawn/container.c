/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The supervisor: starts the container from Settings, relays its console and notifications,
 * turns stop requests into the right signal, and cleans up whatever way it ends.
 *
 * Processes: the supervisor (host) clones the container's PID 1 straight into its cgroup with
 * every namespace at once. Without a user namespace PID 1 builds its own mounts. With one, a
 * short-lived setup process does that as host root and hands PID 1 a locked copy (child.c). */
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "caps.h"
#include "cgroup.h"
#include "child.h"
#include "console.h"
#include "container.h"
#include "device-policy.h"
#include "event-loop.h"
#include "exec-limits.h"
#include "image.h"
#include "log.h"
#include "network-link.h"
#include "network.h"
#include "notify-util.h"
#include "notify.h"
#include "ownership.h"
#include "port-forward.h"
#include "register.h"
#include "resources.h"
#include "resolve.h"
#include "strv.h"
#include "sync.h"
#include "userns.h"

#define STOP_TIMEOUT_USEC (15ULL * 1000000ULL)

typedef struct Container {
        const Settings *settings;
        InitKind init_kind;
        char *init_path;
        char hostname[65];
        char machine_id[33];
        char *os_release;

        MachineCgroup cgroup;
        Registration *registration;
        bool defer_cgroup;      /* CreateMachine: the cgroup exists only once berthd made it */
        bool restarted;         /* a reboot in place: our last run may still be leaving berthd */
        uid_t uid_shift;
        int uid_lock_fd;
        bool idmap_root;

        int console_master;
        char *console_slave;

        pid_t pid;
        int pidfd;
        int sync_fd;
        int notify_fd;
        char *veth;             /* host end of the main veth (ve-, vb- or chosen name) */
        NetworkLinks links;     /* every link we made, undone in container_done() */
        int join_netns_fd;      /* --network-namespace-path= */
        PortForwarder *ports;

        EventLoop *event;
        PtyForward *forward;
        EventSource *stop_timer;
        unsigned stop_requests;
        bool escaped;
        siginfo_t exit_info;
} Container;

static void container_done(Container *c) {
        port_forwarder_free(c->ports); /* its event sources first, then the loop */
        registration_free(c->registration);
        pty_forward_free(c->forward);
        event_free(c->event);
        network_links_done(&c->links);
        safe_close(c->join_netns_fd);
        free(c->veth);
        if (c->cgroup.payload_path)
                (void) machine_cgroup_destroy(&c->cgroup);
        safe_close(c->pidfd);
        safe_close(c->sync_fd);
        safe_close(c->notify_fd);
        safe_close(c->console_master);
        userns_unlock(c->uid_shift, c->uid_lock_fd);
        free(c->console_slave);
        free(c->init_path);
        free(c->os_release);
}

static int read_host_os_release(char **ret) {
        static const char *const paths[] = { "/etc/os-release", "/usr/lib/os-release" };

        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                _cleanup_close_ int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
                if (fd >= 0)
                        return read_fd_full(fd, 64 * 1024, ret, NULL);
        }
        *ret = NULL;
        return 0;
}

static void format_machine_id(const Settings *s, char out[33]) {
        uint8_t id[16];

        if (s->uuid_set)
                memcpy(id, s->uuid, 16);
        else {
                if (getrandom(id, sizeof(id), 0) != sizeof(id))
                        memset(id, 0x42, sizeof(id));
                id[6] = (id[6] & 0x0F) | 0x40; /* a v4 UUID, as systemd expects */
                id[8] = (id[8] & 0x3F) | 0x80;
        }
        for (int i = 0; i < 16; i++)
                snprintf(out + 2 * i, 3, "%02x", id[i]);
}

static int build_environment(const Container *c, char ***ret) {
        const Settings *s = c->settings;
        _cleanup_strv_free_ char **env = NULL;
        const char *term = getenv("TERM");
        char buf[128];

        if (strv_extend(&env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") < 0 ||
            strv_extend(&env, "HOME=/root") < 0 ||
            strv_extend(&env, "container=berth") < 0 ||
            strv_extend(&env, "NOTIFY_SOCKET=/run/host/notify") < 0)
                return -ENOMEM;
        snprintf(buf, sizeof(buf), "container_uuid=%.8s-%.4s-%.4s-%.4s-%.12s", c->machine_id,
                 c->machine_id + 8, c->machine_id + 12, c->machine_id + 16, c->machine_id + 20);
        if (strv_extend(&env, buf) < 0)
                return -ENOMEM;
        /* Only a real terminal passes its type on; a pipe gets a terminal that escapes nothing. */
        snprintf(buf, sizeof(buf), "TERM=%s",
                 c->console_master >= 0 && term && s->console_mode == CONSOLE_INTERACTIVE ? term : "dumb");
        if (strv_extend(&env, buf) < 0)
                return -ENOMEM;
        STRV_FOREACH(e, s->environment)
                if (strv_env_set(&env, *e) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(env);
        return 0;
}

static uint64_t container_caps(const Settings *s) {
        uint64_t keep = caps_default_keep();

        /* A private network is the container's own to configure. */
        if (network_is_private(s))
                keep |= UINT64_C(1) << 12; /* CAP_NET_ADMIN */
        return (keep | s->capability_add) & ~s->capability_drop;
}

/* Decides how the tree's owners meet the user namespace, before or right after the clone. */
static int prepare_ownership(Container *c, const char *dir, int userns_fd) {
        const Settings *s = c->settings;
        UserNamespaceOwnership o = s->ownership;
        _cleanup_close_ int dir_fd = -EBADF;
        struct stat st;
        int r;

        if (s->userns_mode == USERNS_NO || s->userns_mode == USERNS_IDENTITY || o == OWNERSHIP_OFF)
                return 0;
        dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return negative_errno();
        if (fstat(dir_fd, &st) < 0)
                return negative_errno();
        /* A tree chowned for a user namespace earlier is based at its root's owner: mapping it
         * from 0 would be wrong, so auto keeps shifting it, and map first shifts it back. */
        if (o == OWNERSHIP_AUTO)
                o = st.st_uid == 0 && ownership_idmap_supported(dir_fd, userns_fd) ? OWNERSHIP_MAP : OWNERSHIP_CHOWN;
        if (o == OWNERSHIP_MAP) {
                if (st.st_uid != 0) {
                        if (s->ephemeral || s->volatile_mode != VOLATILE_NO)
                                return log_error_errno(-EOPNOTSUPP, "%s is shifted for a user namespace already; "
                                                       "an ephemeral or volatile run must not shift it back.", dir);
                        r = ownership_chown_tree(dir, 0, s->uid_range);
                        if (r < 0)
                                return log_error_errno(r, "Failed to shift the owners of %s back to 0: %m", dir);
                }
                c->idmap_root = true;
                return 0;
        }
        /* A snapshot promises the tree stays as it is: chown would rewrite it. */
        if (s->ephemeral || s->volatile_mode != VOLATILE_NO)
                return log_error_errno(-EOPNOTSUPP, "The file system of %s supports no idmapped mounts, "
                                       "and an ephemeral or volatile tree must not be chowned.", dir);
        r = ownership_chown_tree(dir, c->uid_shift, s->uid_range);
        if (r < 0)
                return log_error_errno(r, "Failed to shift the owners of %s: %m", dir);
        return 0;
}

static int clone_container(Container *c, int child_sync_fd, const ChildContext *cc) {
        const Settings *s = c->settings;
        bool userns = s->userns_mode != USERNS_NO;
        struct clone_args args = {
                .flags = CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_PIDFD |
                         (c->defer_cgroup ? 0 : CLONE_NEWCGROUP | CLONE_INTO_CGROUP) |
                         (userns ? CLONE_NEWUSER : CLONE_NEWNS) |
                         (network_is_private(s) && c->join_netns_fd < 0 ? CLONE_NEWNET : 0),
                .pidfd = (uint64_t) (uintptr_t) &c->pidfd,
                .exit_signal = SIGCHLD,
                .cgroup = (uint64_t) c->cgroup.payload_fd,
        };
        _cleanup_close_ int own_netns = -EBADF;
        pid_t pid;
        int r;

        /* A namespace to join is entered by us around the clone, not by the child: with a user
         * namespace the child has no privilege over a namespace the host owns. */
        if (c->join_netns_fd >= 0) {
                r = network_netns_enter(c->join_netns_fd, &own_netns);
                if (r < 0)
                        return log_error_errno(r, "Failed to enter network namespace %s: %m",
                                               s->network_namespace_path);
        }
        pid = (pid_t) syscall(SYS_clone3, &args, sizeof(args));
        if (pid < 0) {
                r = negative_errno();
                (void) network_netns_leave(&own_netns);
                return log_error_errno(r, "Failed to start the container: %m");
        }
        if (pid == 0) {
                safe_close(c->sync_fd);
                safe_close(own_netns);
                ChildContext copy = *cc;
                copy.sync_fd = child_sync_fd;
                copy.defer_cgroupns = c->defer_cgroup;
                child_run(&copy);
        }
        c->pid = pid;
        r = network_netns_leave(&own_netns);
        if (r < 0)
                return log_error_errno(r, "Failed to return to our network namespace: %m");
        return 0;
}

/* User namespace: map it, then let a setup process build the locked mount namespace. */
static int run_setup_process(Container *c, const MountContext *m) {
        _cleanup_close_pair_ int pair[2] = { -EBADF, -EBADF };
        _cleanup_close_ int own_pidns = -EBADF, notify_fd = -EBADF;
        pid_t pid;
        int r, status;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return negative_errno();
        own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
        if (own_pidns < 0)
                return negative_errno();
        /* Its children-to-be land in the container's PID namespace, so the proc it mounts is the
         * container's; we step back right after the fork. */
        if (setns(c->pidfd, CLONE_NEWPID) < 0)
                return log_error_errno(negative_errno(), "Failed to enter the container's PID namespace: %m");
        pid = fork();
        if (pid == 0) {
                safe_close(pair[0]);
                setup_process_run(m, c->pidfd, c->sync_fd, pair[1]);
        }
        r = pid < 0 ? negative_errno() : 0;
        if (setns(own_pidns, CLONE_NEWPID) < 0 && r == 0)
                r = negative_errno();
        if (r < 0)
                return log_error_errno(r, "Failed to start the setup process: %m");
        pair[1] = safe_close(pair[1]);

        r = sync_recv(pair[0], SYNC_SETUP_DONE, &notify_fd);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (r < 0)
                return r == -EPIPE ? -EIO : r;
        c->notify_fd = TAKE_FD(notify_fd);
        return 0;
}

static int request_stop(Container *c, bool force);

static int on_stop_timeout(EventSource *s, uint64_t usec, void *userdata) {
        Container *c = userdata;

        log_warning("Container did not stop in time, killing it.");
        return request_stop(c, true);
}

static int request_stop(Container *c, bool force) {
        const Settings *s = c->settings;
        int sig;

        if (force || c->stop_requests++ > 0) {
                (void) syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
                return 0;
        }
        sig = s->kill_signal ? s->kill_signal :
              s->boot ? init_kind_poweroff_signal(c->init_kind) : SIGTERM;
        (void) syscall(SYS_pidfd_send_signal, c->pidfd, sig, NULL, 0);
        return event_add_time_relative(c->event, &c->stop_timer, STOP_TIMEOUT_USEC, on_stop_timeout, c);
}

static int on_signal(EventSource *s, const struct signalfd_siginfo *si, void *userdata) {
        return request_stop(userdata, false);
}

/* berthd's RebootMachine: the signal this init reboots on, as it was chosen at start. */
static int on_reboot_request(EventSource *s, const struct signalfd_siginfo *si, void *userdata) {
        Container *c = userdata;
        const Settings *st = c->settings;
        int sig;

        if (!st->boot) {
                log_notice("Ignoring a reboot request: %s runs a command, not an init.", c->hostname);
                return 0;
        }
        sig = st->reboot_signal ? st->reboot_signal : init_kind_reboot_signal(c->init_kind);
        return RET_NERRNO(syscall(SYS_pidfd_send_signal, c->pidfd, sig, NULL, 0));
}

static void on_escape(void *userdata) {
        Container *c = userdata;

        c->escaped = true;
        (void) request_stop(c, true);
}

static int on_container_exit(EventSource *s, const siginfo_t *si, void *userdata) {
        Container *c = userdata;

        c->exit_info = *si;
        return event_exit(c->event, 0);
}

/* Maps how PID 1 ended to what berth-spawn reports. In a PID namespace, reboot(2) from init
 * ends it with SIGHUP (reboot) or SIGINT (power off / halt). */
static int container_result(const Container *c, int *ret_status) {
        const siginfo_t *si = &c->exit_info;

        if (c->escaped) {
                log_notice("Container %s terminated by the escape sequence.", c->hostname);
                *ret_status = EXIT_FAILURE;
                return CONTAINER_EXITED;
        }
        if (si->si_code == CLD_EXITED) {
                *ret_status = si->si_status;
                return CONTAINER_EXITED;
        }
        if (c->settings->boot || c->settings->as_pid1) {
                if (si->si_status == SIGHUP) {
                        *ret_status = 133;
                        return CONTAINER_REBOOTED;
                }
                if (si->si_status == SIGINT) {
                        *ret_status = EXIT_SUCCESS;
                        return CONTAINER_EXITED;
                }
        }
        *ret_status = 128 + si->si_status;
        return CONTAINER_EXITED;
}

static int prepare(Container *c, const char *dir) {
        const Settings *s = c->settings;
        _cleanup_close_ int root_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        int r;

        if (root_fd < 0)
                return log_error_errno(negative_errno(), "Failed to open the tree %s: %m", dir);
        r = network_settings_check(s);
        if (r < 0)
                return r;
        if (s->network_namespace_path) {
                c->join_netns_fd = network_namespace_open(s->network_namespace_path);
                if (c->join_netns_fd < 0)
                        return c->join_netns_fd;
        }
        /* As nspawn: a forwarded port needs an address of the container's own on a link to us. */
        if (s->n_ports > 0 && !s->network_veth && !s->network_bridge && !s->network_zone)
                return log_error_errno(-EINVAL, "--port= needs a veth-type network "
                                       "(--network-veth, --network-bridge= or --network-zone=).");
        if (s->boot) {
                if (!image_is_os_tree(root_fd))
                        return log_error_errno(-ENOEXEC, "Directory %s does not look like an OS tree "
                                               "(no os-release), refusing to boot it.", dir);
                r = image_find_init(root_fd, &c->init_path, &c->init_kind);
                if (r < 0)
                        return log_error_errno(r, "No init found in %s (looked for systemd and /sbin/init).", dir);
        }
        snprintf(c->hostname, sizeof(c->hostname), "%s", s->hostname ?: s->machine);
        format_machine_id(s, c->machine_id);
        r = read_host_os_release(&c->os_release);
        if (r < 0)
                return log_error_errno(r, "Failed to read the host's os-release: %m");

        if (s->userns_mode == USERNS_PICK) {
                r = userns_pick(s->machine, root_fd, &c->uid_shift, &c->uid_lock_fd);
                if (r < 0)
                        return r;
        } else if (s->userns_mode == USERNS_FIXED)
                c->uid_shift = s->uid_shift;

        if (s->register_machine) {
                r = registration_open(s, &c->registration);
                if (r < 0)
                        return r;
        }
        /* With CreateMachine berthd makes the scope, and only for a running leader: the
         * container starts where we are and moves in after registering (start()). */
        c->defer_cgroup = c->registration && !s->keep_unit;
        if (!c->defer_cgroup) {
                r = machine_cgroup_create(s->machine, s->keep_unit, &c->cgroup);
                if (r < 0)
                        return r;
                if (c->uid_shift) {
                        r = machine_cgroup_delegate(&c->cgroup, c->uid_shift, c->uid_shift);
                        if (r < 0)
                                return log_error_errno(r, "Failed to delegate the cgroup: %m");
                }
        }

        if (s->console_mode != CONSOLE_PIPE) {
                r = console_open_pty(&c->console_master, &c->console_slave);
                if (r < 0)
                        return log_error_errno(r, "Failed to allocate the console: %m");
                /* The container's root owns its console, with the tty group as usual. */
                if (c->uid_shift && chown(c->console_slave, c->uid_shift, c->uid_shift + 5) < 0)
                        return log_error_errno(negative_errno(), "Failed to hand over the console: %m");
        }
        return 0;
}

/* Without a user namespace root inside can remount without nodev; only this policy keeps device
 * nodes a tree ships (a disk, /dev/mem) closed (probe A20). No policy, no start. Nothing of the
 * payload runs before our GO, so attaching it while the container builds its mounts is early
 * enough. */
static int attach_device_policy(Container *c) {
        /* With the DeviceAllow= and Device= nodes of the settings (resources.c). */
        int r = resources_attach_device_policy(c->settings, c->cgroup.payload_fd);

        if (r < 0)
                return log_error_errno(r, "Failed to install the device policy: %m");
        safe_close(r);
        return 0;
}

static int register_machine(Container *c) {
        const Settings *s = c->settings;
        RegistrationInfo info = {
                .leader = c->pid,
                .ifindices = c->links.ifindices,
                .n_ifindices = c->links.n_ifindices,
                /* Stopping the scope must power a booted machine off: the plain SIGTERM
                 * systemd would send means reboot to busybox init. */
                .kill_signal = s->kill_signal ? s->kill_signal :
                               s->boot ? init_kind_poweroff_signal(c->init_kind) : 0,
        };
        int r;

        for (int i = 0; i < 16; i++)
                sscanf(c->machine_id + 2 * i, "%2hhx", &info.id[i]);
        /* After a reboot in place berthd may still be letting go of our previous run. */
        for (unsigned attempt = 0;; attempt++) {
                r = registration_register(c->registration, s, &info);
                if (r != -EEXIST || !c->restarted || attempt >= 50)
                        break;
                (void) usleep(100 * 1000);
        }
        /* berthd watches the leader, not our connection, which is of no more use: dbus-daemon
         * allows one user 256 connections, so keeping it would stop root at 256 machines. */
        registration_disconnect(c->registration);
        return r;
}

/* CreateMachine moved the container into berthd's scope: make our payload cgroup inside it,
 * close its devices, move the container there and let it make its cgroup namespace. */
static int register_and_move(Container *c) {
        int r;

        r = register_machine(c);
        if (r < 0)
                return r;
        r = machine_cgroup_join_scope(c->pid, &c->cgroup);
        if (r < 0)
                return r;
        if (c->uid_shift) {
                r = machine_cgroup_delegate(&c->cgroup, c->uid_shift, c->uid_shift);
                if (r < 0)
                        return log_error_errno(r, "Failed to delegate the cgroup: %m");
        }
        r = attach_device_policy(c);
        if (r < 0)
                return r;
        r = machine_cgroup_add(&c->cgroup, c->pid);
        if (r < 0)
                return log_error_errno(r, "Failed to move the container into %s: %m", c->cgroup.payload_path);
        r = sync_send(c->sync_fd, SYNC_CGROUP, 0, -1);
        if (r >= 0)
                r = sync_recv(c->sync_fd, SYNC_CGROUP, NULL);
        return r == -EPIPE ? -EIO : r;
}

static int start(Container *c, const char *dir) {
        const Settings *s = c->settings;
        _cleanup_close_pair_ int pair[2] = { -EBADF, -EBADF };
        _cleanup_strv_free_ char **env = NULL;
        bool userns = s->userns_mode != USERNS_NO;
        ChildContext cc = {
                .settings = s,
                .mount = {
                        .settings = s,
                        .directory = dir,
                        .console_path = c->console_slave,
                        .os_release = c->os_release,
                        .init_kind = c->init_kind,
                        .userns_fd = -EBADF,
                        .uid_shift = c->uid_shift,
                        .private_network = network_is_private(s) && c->join_netns_fd < 0,
                },
                .userns = userns,
                .hostname = c->hostname,
                .init_path = c->init_path,
                .caps_keep = container_caps(s),
                .console_pty = c->console_master >= 0,
        };
        _cleanup_close_ int userns_fd = -EBADF;
        int r;

        memcpy(cc.mount.machine_id, c->machine_id, sizeof(c->machine_id));
        r = build_environment(c, &env);
        if (r < 0)
                return log_oom();
        cc.environment = env;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return negative_errno();
        c->sync_fd = TAKE_FD(pair[0]);

        if (userns && s->ownership == OWNERSHIP_CHOWN) {
                r = prepare_ownership(c, dir, -EBADF);
                if (r < 0)
                        return r;
        }

        r = clone_container(c, pair[1], &cc);
        if (r < 0)
                return r;
        pair[1] = safe_close(pair[1]);

        /* berthd registers the host ends with the machine (NetworkInterfaces), so they exist
         * before registering; all they need is the container's network namespace. */
        r = network_links_setup(&c->links, s, c->pid);
        if (r < 0)
                return r;
        if (s->network_veth && c->links.host_links && !(c->veth = strdup(c->links.host_links[0])))
                return log_oom();

        if (c->defer_cgroup)
                r = register_and_move(c);
        else {
                r = attach_device_policy(c);
                /* RegisterMachine adopts the cgroup we cloned into; meanwhile the container
                 * builds its mounts. */
                if (r >= 0 && c->registration)
                        r = register_machine(c);
        }
        if (r < 0)
                return r;

        if (userns) {
                char p[64];

                r = userns_write_maps(c->pid, c->uid_shift, s->uid_range);
                if (r < 0)
                        return r;
                snprintf(p, sizeof(p), "/proc/%d/ns/user", (int) c->pid);
                userns_fd = open(p, O_RDONLY | O_CLOEXEC);
                if (userns_fd < 0)
                        return negative_errno();
                if (s->ownership != OWNERSHIP_CHOWN) {
                        r = prepare_ownership(c, dir, userns_fd);
                        if (r < 0)
                                return r;
                }
                cc.mount.userns_fd = userns_fd;
                cc.mount.idmap_root = c->idmap_root;
                r = run_setup_process(c, &cc.mount);
                if (r < 0)
                        return r;
                r = sync_recv(c->sync_fd, SYNC_SETUP_DONE, NULL);
        } else
                r = sync_recv(c->sync_fd, SYNC_SETUP_DONE, &c->notify_fd);
        if (r < 0)
                return r == -EPIPE ? -EIO : r;
        /* Unregistered, the limits are ours to write; registered, berthd has them (register.c).
         * Before the affinity below: moving into a v1 cpuset would reset it. */
        if (!c->registration) {
                r = resources_apply_own(s, &c->cgroup);
                if (r < 0)
                        return r;
        }
        /* Last before GO: in its final cgroup, where a cpuset no longer resets the affinity. */
        r = exec_limits_apply(s, c->pid);
        if (r < 0)
                return r;
        /* After every fork of ours (libnftables' socket must not leak into one), before the
         * payload runs. */
        if (s->n_ports > 0) {
                /* Only a veth of the machine's own, never a shared bridge, gets route_localnet. */
                r = port_forwarder_new(c->event, s, c->pid,
                                       s->network_bridge || s->network_zone ? NULL : c->veth, &c->ports);
                if (r < 0)
                        return r;
        }
        return sync_send(c->sync_fd, SYNC_GO, 0, -1);
}

static int run_loop(Container *c) {
        const Settings *s = c->settings;
        int r;

        r = event_add_child_pidfd(c->event, NULL, c->pidfd, on_container_exit, c);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the container: %m");
        /* SIGHUP too: a closed terminal must shut the machine down, not orphan it. */
        r = event_add_signal(c->event, NULL, SIGTERM, on_signal, c);
        if (r >= 0)
                r = event_add_signal(c->event, NULL, SIGINT, on_signal, c);
        if (r >= 0)
                r = event_add_signal(c->event, NULL, SIGHUP, on_signal, c);
        /* berthd's PowerOffMachine and RebootMachine, with systemd's signals for them. */
        if (r >= 0)
                r = event_add_signal(c->event, NULL, SIGRTMIN + 4, on_signal, c);
        if (r >= 0)
                r = event_add_signal(c->event, NULL, SIGRTMIN + 5, on_reboot_request, c);
        if (r < 0)
                return log_error_errno(r, "Failed to watch signals: %m");
        if (c->notify_fd >= 0) {
                r = notify_watch(c->event, c->notify_fd, s->notify_ready);
                if (r < 0)
                        return log_error_errno(r, "Failed to watch the notify socket: %m");
                c->notify_fd = -EBADF; /* the event loop owns it now */
        }
        if (c->console_master >= 0) {
                r = pty_forward_new(c->event, c->console_master, s->console_mode, on_escape, c, &c->forward);
                if (r < 0)
                        return log_error_errno(r, "Failed to relay the console: %m");
        }
        /* Only systemd (or a command that chooses to) reports readiness over sd_notify; an init
         * that never would must not leave our own supervisor waiting: it is ready once it runs. */
        if (!s->notify_ready || (s->boot && c->init_kind != INIT_SYSTEMD))
                (void) notify_manager("READY=1");
        r = event_loop(c->event);
        if (c->forward)
                (void) pty_forward_drain(c->forward);
        return r;
}

int container_run(const Settings *s, bool restarted, int *ret_status) {
        _cleanup_(container_done) Container c = {
                .settings = s,
                .restarted = restarted,
                .uid_lock_fd = -EBADF,
                .console_master = -EBADF,
                .pidfd = -EBADF,
                .sync_fd = -EBADF,
                .notify_fd = -EBADF,
                .cgroup.payload_fd = -EBADF,
                .links = NETWORK_LINKS_INIT,
                .join_netns_fd = -EBADF,
        };
        sigset_t mask;
        int r;

        /* Signals arrive through the event loop; blocked before the clone, so the container's
         * process starts with them blocked too and unblocks them itself before exec. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGWINCH);
        sigaddset(&mask, SIGRTMIN + 4);
        sigaddset(&mask, SIGRTMIN + 5);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return negative_errno();
        r = event_new(&c.event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate the event loop: %m");

        r = prepare(&c, s->directory);
        if (r < 0)
                goto kill;
        r = start(&c, s->directory);
        if (r < 0)
                goto kill;
        r = run_loop(&c);
        if (r < 0)
                goto kill;
        return container_result(&c, ret_status);

kill:
        /* Nothing half-started survives a failed start. */
        if (c.pidfd >= 0) {
                siginfo_t si;
                (void) syscall(SYS_pidfd_send_signal, c.pidfd, SIGKILL, NULL, 0);
                (void) waitid(P_PIDFD, (id_t) c.pidfd, &si, WEXITED);
        }
        return r;
}
