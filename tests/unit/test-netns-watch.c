/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for berthd's address watch: the parsing of address messages, and a real machine leader in
 * a network namespace of its own whose address changes reach the cache through the nsid-tagged
 * events of the one socket (needs root). */
#include <glib.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "machine-inside.h"
#include "manager.h"
#include "netns-watch.h"

/* An RTM_NEWADDR as the kernel sends it: ADDRESS (and LOCAL when not NULL), scope, flags. */
static struct nlmsghdr *put_addr(void *buf, int family, const void *address, const void *local,
                                 uint8_t scope, uint32_t flags) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct ifaddrmsg *ifa;
        size_t size = family == AF_INET ? 4 : 16;

        nlh->nlmsg_type = RTM_NEWADDR;
        ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
        ifa->ifa_family = (uint8_t) family;
        ifa->ifa_scope = scope;
        ifa->ifa_index = 2;
        mnl_attr_put(nlh, IFA_ADDRESS, size, address);
        if (local)
                mnl_attr_put(nlh, IFA_LOCAL, size, local);
        mnl_attr_put_u32(nlh, IFA_FLAGS, flags);
        return nlh;
}

static void test_parse_address(void) {
        uint32_t buf[256] = {};
        const uint8_t a4[4] = { 192, 0, 2, 1 }, peer[4] = { 192, 0, 2, 9 }, a6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
        struct nlmsghdr *nlh;
        AddressRecord rec;

        nlh = put_addr(buf, AF_INET, a4, NULL, RT_SCOPE_UNIVERSE, 0);
        g_assert_cmpint(inside_parse_address(nlh, &rec), ==, 1);
        g_assert_cmpint(rec.family, ==, AF_INET);
        g_assert_cmpuint(rec.size, ==, 4);
        g_assert_cmpmem(rec.bytes, 4, a4, 4);

        /* Point-to-point: IFA_ADDRESS is the peer, IFA_LOCAL ours. */
        nlh = put_addr(buf, AF_INET, peer, a4, RT_SCOPE_UNIVERSE, 0);
        g_assert_cmpint(inside_parse_address(nlh, &rec), ==, 1);
        g_assert_cmpmem(rec.bytes, 4, a4, 4);

        nlh = put_addr(buf, AF_INET6, a6, NULL, RT_SCOPE_UNIVERSE, IFA_F_TENTATIVE);
        g_assert_cmpint(inside_parse_address(nlh, &rec), ==, 0);
        g_assert_cmpmem(rec.bytes, 16, a6, 16);
        nlh = put_addr(buf, AF_INET6, a6, NULL, RT_SCOPE_UNIVERSE, IFA_F_DEPRECATED);
        g_assert_cmpint(inside_parse_address(nlh, &rec), ==, 0);
        nlh = put_addr(buf, AF_INET, a4, NULL, RT_SCOPE_HOST, 0);
        g_assert_cmpint(inside_parse_address(nlh, &rec), ==, 0);
        nlh = put_addr(buf, AF_INET6, a6, NULL, RT_SCOPE_LINK, IFA_F_PERMANENT);
        g_assert_cmpint(inside_parse_address(nlh, &rec), ==, 1);

        /* An IPv4 message with 16 bytes, and one cut short: not addresses. */
        nlh = put_addr(buf, AF_INET6, a6, NULL, RT_SCOPE_UNIVERSE, 0);
        ((struct ifaddrmsg *) mnl_nlmsg_get_payload(nlh))->ifa_family = AF_INET;
        g_assert_cmpint(inside_parse_address(nlh, &rec), ==, -EBADMSG);
        nlh->nlmsg_len = MNL_NLMSG_HDRLEN + 2;
        g_assert_cmpint(inside_parse_address(nlh, &rec), ==, -EBADMSG);
}

static void run_until(Manager *m, Machine *machine, const char *what, uint16_t size) {
        for (unsigned k = 0; k < 200; k++) {
                if (machine->info.addresses_usec != 0 && machine->info.addresses_size == size)
                        return;
                g_assert_cmpint(sd_event_run(m->event, 10 * 1000), >=, 0);
        }
        g_error("%s: %u bytes of addresses, %u wanted", what, machine->info.addresses_size, size);
}

static void in_netns(pid_t pid, const char *command) {
        g_autofree char *c = g_strdup_printf("nsenter -t %i -n %s", (int) pid, command);

        g_assert_cmpint(system(c), ==, 0);
}

static void test_watch_machine(void) {
        Manager m = {};
        Machine *machine = NULL, *twin = NULL;
        NetnsWatch *w = NULL;
        int pipefd[2];
        pid_t pid;
        char c;

        if (geteuid() != 0 || system("command -v nsenter >/dev/null && command -v ip >/dev/null") != 0) {
                g_test_skip("needs root, nsenter and ip(8)");
                return;
        }
        g_assert_cmpint(pipe(pipefd), ==, 0);
        pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                close(pipefd[0]);
                if (unshare(CLONE_NEWNET) < 0)
                        _exit(1);
                (void) !write(pipefd[1], "x", 1);
                pause();
                _exit(0);
        }
        close(pipefd[1]);
        g_assert_cmpint(read(pipefd[0], &c, 1), ==, 1);
        close(pipefd[0]);

        g_assert_cmpint(sd_event_new(&m.event), >=, 0);
        g_assert_cmpint(netns_watch_new(&m, &w), ==, 0);
        g_assert_cmpint(machine_new("watched", &machine), ==, 0);
        machine->class = MACHINE_CONTAINER;
        machine->leader = pid;
        machine->leader_pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        g_assert_cmpint(machine->leader_pidfd, >=, 0);
        m.machines = machine;

        /* The namespace has no nsid here: the watch gives it one, and dumps it (nothing yet). */
        g_assert_cmpint(netns_watch_add(w, machine), ==, 1);
        g_assert_cmpint(machine->info.netns_state, ==, NETNS_WATCHED);
        g_assert_cmpuint(netns_watch_n_entries(w), ==, 1);
        run_until(&m, machine, "empty", 0);

        /* Events: an IPv4 address (1 + 4 bytes), an IPv6 one without DAD (1 + 16). */
        in_netns(pid, "ip addr add 192.0.2.5/24 dev lo");
        run_until(&m, machine, "IPv4 added", 5);
        g_assert_cmpmem(machine->info.addresses, 5, ((uint8_t[]) { AF_INET, 192, 0, 2, 5 }), 5);
        in_netns(pid, "ip link set lo up");
        in_netns(pid, "ip addr add 2001:db8::5/64 dev lo nodad");
        run_until(&m, machine, "IPv6 added", 22);
        in_netns(pid, "ip addr del 192.0.2.5/24 dev lo");
        run_until(&m, machine, "IPv4 removed", 17);
        g_assert_cmpint(machine->info.addresses[0], ==, AF_INET6);

        /* Overrun: with a tiny receive buffer, 40 addresses added while nobody reads lose events
         * (ENOBUFS); the watch ignores what comes until a resync (at most one a second), which
         * re-reads the namespace: all 40 then, and one resync, not one per lost event. */
        {
                int tiny = 1;
                g_autofree char *batch = g_strdup("/tmp/test-netns-watch-batch.XXXXXX");
                int fd = mkstemp(batch);
                FILE *f = fdopen(fd, "w");
                g_autofree char *cmd = NULL;

                g_assert_nonnull(f);
                for (int k = 1; k <= 40; k++)
                        fprintf(f, "addr add 198.18.0.%i/32 dev lo\n", k);
                fclose(f);
                g_assert_cmpint(setsockopt(netns_watch_fd(w), SOL_SOCKET, SO_RCVBUFFORCE, &tiny, sizeof tiny), ==, 0);
                cmd = g_strdup_printf("ip -batch %s", batch);
                in_netns(pid, cmd);
                unlink(batch);
                run_until(&m, machine, "40 added through an overrun", 17 + 40 * 5);
                g_assert_cmpuint(netns_watch_n_resyncs(w), ==, 1);
        }
        {
                int big = 4 * 1024 * 1024;

                g_assert_cmpint(setsockopt(netns_watch_fd(w), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big), ==, 0);
                in_netns(pid, "sh -c 'for k in $(seq 40); do echo \"addr del 198.18.0.$k/32 dev lo\"; done | ip -batch -'");
                run_until(&m, machine, "40 removed", 17);
        }

        /* A second machine in the same namespace joins the entry and has its addresses at once. */
        g_assert_cmpint(machine_new("twin", &twin), ==, 0);
        twin->class = MACHINE_CONTAINER;
        twin->leader = pid;
        twin->leader_pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        g_assert_cmpint(netns_watch_add(w, twin), ==, 1);
        g_assert_cmpuint(netns_watch_n_entries(w), ==, 1);
        g_assert_cmpuint(twin->info.addresses_size, ==, 17);
        netns_watch_remove(twin);
        g_assert_cmpuint(netns_watch_n_entries(w), ==, 1);
        machine_free(twin);

        /* The namespace dies with its last process: RTM_DELNSID drops the entry. */
        g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
        g_assert_cmpint(waitpid(pid, NULL, 0), ==, pid);
        for (unsigned k = 0; k < 300 && netns_watch_n_entries(w) > 0; k++)
                g_assert_cmpint(sd_event_run(m.event, 10 * 1000), >=, 0);
        g_assert_cmpuint(netns_watch_n_entries(w), ==, 0);
        g_assert_cmpint(machine->info.netns_state, ==, NETNS_UNTRIED);
        g_assert_cmpuint(machine->info.addresses_size, ==, 0);

        /* A dead leader cannot be watched. */
        g_assert_cmpint(netns_watch_add(w, machine), <, 0);
        g_assert_cmpint(machine->info.netns_state, ==, NETNS_FAILED);

        m.machines = NULL;
        machine_free(machine);
        netns_watch_free(w);
        sd_event_unref(m.event);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/netns-watch/parse-address", test_parse_address);
        g_test_add_func("/netns-watch/machine", test_watch_machine);
        return g_test_run();
}
