/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A static test server for port forwarding: "port-echo tcp|udp PORT TAG" answers every TCP
 * connection or UDP datagram on [::]:PORT (IPv4 too) with "TAG PEER-ADDRESS\n". */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void answer(char *out, size_t n, const char *tag, const struct sockaddr_in6 *peer) {
        char a[INET6_ADDRSTRLEN] = "?";

        inet_ntop(AF_INET6, &peer->sin6_addr, a, sizeof(a));
        snprintf(out, n, "%s %s\n", tag, a);
}

int main(int argc, char *argv[]) {
        struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
        int udp, fd, zero = 0, one = 1;
        char out[256];

        if (argc != 4) {
                fprintf(stderr, "usage: port-echo tcp|udp PORT TAG\n");
                return 2;
        }
        udp = strcmp(argv[1], "udp") == 0;
        sa.sin6_port = htons((unsigned short) atoi(argv[2]));
        fd = socket(AF_INET6, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
        if (fd < 0 ||
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            (!udp && listen(fd, 16) < 0)) {
                perror("port-echo");
                return 1;
        }
        for (;;) {
                struct sockaddr_in6 peer = {};
                socklen_t l = sizeof(peer);
                char buf[2048];

                if (udp) {
                        if (recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *) &peer, &l) < 0)
                                continue;
                        answer(out, sizeof(out), argv[3], &peer);
                        (void) sendto(fd, out, strlen(out), 0, (struct sockaddr *) &peer, l);
                } else {
                        int c = accept(fd, (struct sockaddr *) &peer, &l);

                        if (c < 0)
                                continue;
                        answer(out, sizeof(out), argv[3], &peer);
                        (void) write(c, out, strlen(out));
                        close(c);
                }
        }
}
