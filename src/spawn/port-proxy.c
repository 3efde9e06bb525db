/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The loopback relay of port forwarding: TCP connections and UDP "sessions" copied both ways in
 * the supervisor's event loop (see port-proxy.h for why it exists). */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "port-proxy.h"

#define PIPE_SIZE 16384
/* Bounds on what one machine's relay may hold: a local client opening connections in a loop
 * must not grow the supervisor without limit. */
#define TCP_CONN_MAX 256
#define UDP_SESSION_MAX 256
#define UDP_IDLE_USEC (60ULL * 1000000ULL)
#define UDP_DATAGRAM_MAX 65536

typedef struct Conn Conn;

/* Bytes read from one side, not yet written to the other. */
typedef struct Pipe {
        size_t start, end;
        bool eof;      /* the reading side sent FIN */
        bool shut;     /* and we passed it on */
        char buf[PIPE_SIZE];
} Pipe;

/* One relayed TCP connection: side 0 the local client, side 1 the container. */
struct Conn {
        PortProxy *proxy;
        Conn *next;
        int fd[2];
        EventSource *source[2];
        bool connected;
        Pipe pipe[2];  /* pipe[i] carries what fd[i] sent */
};

/* One UDP client of the loopback port, with its own connected socket to the container. */
typedef struct Session {
        PortProxy *proxy;
        struct Session *next;
        struct sockaddr_storage client;
        socklen_t client_len;
        int fd;
        EventSource *source;
        uint64_t last_used;
} Session;

struct PortProxy {
        const PortForward *port;
        int family;                /* of the loopback address we listen on */
        EventLoop *loop;
        int listen_fd;
        EventSource *listen_source;
        EventSource *sweep_timer;
        struct sockaddr_storage target;
        socklen_t target_len;

        Conn *conns;
        unsigned n_conns;
        Session *sessions;
        unsigned n_sessions;
};

void port_proxy_set_target(PortProxy *x, const struct in_addr *a4, const struct in6_addr *a6) {
        if (!x)
                return;
        x->target = (struct sockaddr_storage) {};
        x->target_len = 0;
        /* The client's family first: a service inside may well listen on 0.0.0.0 only. */
        if (a6 && (x->family == AF_INET6 || !a4)) {
                struct sockaddr_in6 *s = (struct sockaddr_in6 *) &x->target;

                *s = (struct sockaddr_in6) { .sin6_family = AF_INET6, .sin6_addr = *a6,
                                             .sin6_port = htons(x->port->container_port) };
                x->target_len = sizeof(*s);
        } else if (a4) {
                struct sockaddr_in *s = (struct sockaddr_in *) &x->target;

                *s = (struct sockaddr_in) { .sin_family = AF_INET, .sin_addr = *a4,
                                            .sin_port = htons(x->port->container_port) };
                x->target_len = sizeof(*s);
        }
}

static void conn_free(Conn *c) {
        PortProxy *x = c->proxy;

        for (Conn **p = &x->conns; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        x->n_conns--;
        for (int i = 0; i < 2; i++) {
                if (c->source[i])
                        event_source_free(c->source[i]); /* owns and closes fd[i] */
                else
                        safe_close(c->fd[i]);
        }
        free(c);
}

/* Moves what can move without blocking, then asks epoll for what is still wanted. Returns 1
 * when both directions are finished, < 0 on a connection error. */
static int conn_pump(Conn *c) {
        for (int i = 0; i < 2; i++) {
                Pipe *p = &c->pipe[i];
                int from = c->fd[i], to = c->fd[1 - i];

                if (!p->eof && p->end < PIPE_SIZE && (i == 0 || c->connected)) {
                        ssize_t n = read(from, p->buf + p->end, PIPE_SIZE - p->end);

                        if (n > 0)
                                p->end += (size_t) n;
                        else if (n == 0)
                                p->eof = true;
                        else if (errno != EAGAIN && errno != EINTR)
                                return negative_errno();
                }
                if (c->connected && p->end > p->start) {
                        ssize_t n = send(to, p->buf + p->start, p->end - p->start, MSG_NOSIGNAL);

                        if (n > 0)
                                p->start += (size_t) n;
                        else if (n < 0 && errno != EAGAIN && errno != EINTR)
                                return negative_errno();
                        if (p->start == p->end)
                                p->start = p->end = 0;
                }
                if (c->connected && p->eof && p->start == p->end && !p->shut) {
                        (void) shutdown(to, SHUT_WR);
                        p->shut = true;
                }
        }
        if (c->pipe[0].shut && c->pipe[1].shut)
                return 1;
        for (int i = 0; i < 2; i++) {
                uint32_t ev = 0;

                if (!c->pipe[i].eof && c->pipe[i].end < PIPE_SIZE)
                        ev |= EPOLLIN;
                if (c->pipe[1 - i].end > c->pipe[1 - i].start || (i == 1 && !c->connected))
                        ev |= EPOLLOUT;
                if (i == 0 && !c->connected)
                        ev = 0; /* the client waits until the container answers */
                (void) event_source_set_io_events(c->source[i], ev);
        }
        return 0;
}

static int on_conn_io(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Conn *c = userdata;
        int r;

        if (!c->connected && fd == c->fd[1]) {
                int err = 0;
                socklen_t l = sizeof(err);

                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
                        err = errno;
                if (err != 0) {
                        log_debug_errno(-err, "Relay to the container failed: %m");
                        conn_free(c);
                        return 0;
                }
                c->connected = true;
        }
        r = conn_pump(c);
        if (r < 0)
                log_debug_errno(r, "Relayed connection ended: %m");
        /* A hung-up side stays readable for epoll forever: once we have read all it sent (or it
         * left before the container answered) nothing more can come of it. */
        if (r == 0 && (revents & (EPOLLERR | EPOLLHUP)) &&
            (!c->connected || c->pipe[fd == c->fd[0] ? 0 : 1].eof))
                r = 1;
        if (r != 0)
                conn_free(c);
        return 0;
}

static int conn_start(PortProxy *x, int client_fd) {
        _cleanup_close_ int client = client_fd, up = -EBADF;
        Conn *c;
        int r;

        if (x->target_len == 0 || x->n_conns >= TCP_CONN_MAX)
                return 0; /* closing the client refuses it */
        up = socket(x->target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (up < 0)
                return 0;
        if (connect(up, (struct sockaddr *) &x->target, x->target_len) < 0 && errno != EINPROGRESS)
                return 0;
        c = calloc(1, sizeof(*c));
        if (!c)
                return log_oom();
        *c = (Conn) { .proxy = x, .next = x->conns, .fd = { TAKE_FD(client), TAKE_FD(up) } };
        x->conns = c;
        x->n_conns++;
        for (int i = 0; i < 2; i++) {
                r = event_add_io(x->loop, &c->source[i], c->fd[i], i == 0 ? 0 : EPOLLOUT, on_conn_io, c);
                if (r < 0) {
                        conn_free(c);
                        return log_warning_errno(r, "Failed to relay a connection: %m");
                }
                event_source_set_io_fd_own(c->source[i], true);
        }
        return 0;
}

static int on_tcp_accept(EventSource *s, int fd, uint32_t revents, void *userdata) {
        int client = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (client < 0)
                return 0; /* EAGAIN, or the client gave up: nothing to do */
        return conn_start(userdata, client);
}

static void session_free(Session *u) {
        PortProxy *x = u->proxy;

        for (Session **p = &x->sessions; *p; p = &(*p)->next)
                if (*p == u) {
                        *p = u->next;
                        break;
                }
        x->n_sessions--;
        event_source_free(u->source); /* closes fd */
        free(u);
}

/* The container's answer goes back to its client, from [::1]:port as the client expects. */
static int on_session_io(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Session *u = userdata;
        _cleanup_free_ char *buf = malloc(UDP_DATAGRAM_MAX);
        ssize_t n;

        if (!buf)
                return 0;
        n = recv(fd, buf, UDP_DATAGRAM_MAX, MSG_DONTWAIT);
        if (n < 0)
                return 0; /* e.g. ECONNREFUSED from an ICMP: the client retries or gives up */
        u->last_used = event_now();
        (void) sendto(u->proxy->listen_fd, buf, (size_t) n, MSG_DONTWAIT, (struct sockaddr *) &u->client,
                      u->client_len);
        return 0;
}

static Session *session_get(PortProxy *x, const struct sockaddr_storage *client, socklen_t len) {
        _cleanup_close_ int fd = -EBADF;
        Session *u;

        /* Only the loopback address we listen on sends here: the source port tells clients apart,
         * but the address is compared too, 127.0.0.0/8 being more than one. */
        for (u = x->sessions; u; u = u->next)
                if (u->client_len == len && memcmp(&u->client, client, len) == 0)
                        return u;
        if (x->target_len == 0 || x->n_sessions >= UDP_SESSION_MAX)
                return NULL;
        fd = socket(x->target.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &x->target, x->target_len) < 0)
                return NULL;
        u = calloc(1, sizeof(*u));
        if (!u)
                return NULL;
        *u = (Session) { .proxy = x, .client = *client, .client_len = len, .fd = fd };
        if (event_add_io(x->loop, &u->source, fd, EPOLLIN, on_session_io, u) < 0) {
                free(u);
                return NULL;
        }
        event_source_set_io_fd_own(u->source, true);
        TAKE_FD(fd);
        u->next = x->sessions;
        x->sessions = u;
        x->n_sessions++;
        return u;
}

static int on_udp_datagram(EventSource *s, int fd, uint32_t revents, void *userdata) {
        PortProxy *x = userdata;
        _cleanup_free_ char *buf = malloc(UDP_DATAGRAM_MAX);
        struct sockaddr_storage client = {};
        socklen_t l = sizeof(client);
        Session *u;
        ssize_t n;

        if (!buf)
                return 0;
        n = recvfrom(fd, buf, UDP_DATAGRAM_MAX, MSG_DONTWAIT, (struct sockaddr *) &client, &l);
        if (n < 0 || l > sizeof(client))
                return 0;
        u = session_get(x, &client, l);
        if (!u)
                return 0; /* no target yet, or too many clients: UDP may drop */
        u->last_used = event_now();
        (void) send(u->fd, buf, (size_t) n, MSG_DONTWAIT);
        return 0;
}

static int on_sweep(EventSource *s, uint64_t usec, void *userdata) {
        PortProxy *x = userdata;
        uint64_t now = event_now();

        for (Session *u = x->sessions, *next; u; u = next) {
                next = u->next;
                if (now - u->last_used >= UDP_IDLE_USEC)
                        session_free(u);
        }
        (void) event_source_set_time(s, now + UDP_IDLE_USEC / 2);
        return event_source_set_enabled(s, EVENT_ONESHOT);
}

PortProxy *port_proxy_free(PortProxy *x) {
        if (!x)
                return NULL;
        while (x->conns)
                conn_free(x->conns);
        while (x->sessions)
                session_free(x->sessions);
        event_source_free(x->sweep_timer);
        event_source_free(x->listen_source);
        safe_close(x->listen_fd);
        free(x);
        return NULL;
}

static int proxy_listen(const PortForward *p, int family) {
        struct sockaddr_in6 sa6 = {
                .sin6_family = AF_INET6,
                .sin6_addr = IN6ADDR_LOOPBACK_INIT,
                .sin6_port = htons(p->host_port),
        };
        struct sockaddr_in sa4 = {
                .sin_family = AF_INET,
                .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                .sin_port = htons(p->host_port),
        };
        bool udp = p->protocol == IPPROTO_UDP;
        _cleanup_close_ int fd = -EBADF;
        int one = 1;

        fd = socket(family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (family == AF_INET6)
                (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        /* A restarted machine rebinds while the last run's connections linger in TIME_WAIT. */
        if (!udp)
                (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (family == AF_INET6 ? bind(fd, (struct sockaddr *) &sa6, sizeof(sa6)) < 0 :
                                 bind(fd, (struct sockaddr *) &sa4, sizeof(sa4)) < 0)
                return negative_errno();
        if (!udp && listen(fd, 64) < 0)
                return negative_errno();
        return TAKE_FD(fd);
}

int port_proxy_new(EventLoop *loop, const PortForward *p, int family, PortProxy **ret) {
        PortProxy *x;
        int fd, r;

        *ret = NULL;
        fd = proxy_listen(p, family);
        if (fd < 0) {
                log_warning_errno(fd, "Cannot listen on %s:%u/%s, that path of the forwarding is off: %m",
                                  family == AF_INET6 ? "[::1]" : "127.0.0.1", p->host_port,
                                  p->protocol == IPPROTO_UDP ? "udp" : "tcp");
                return 0;
        }
        x = calloc(1, sizeof(*x));
        if (!x) {
                safe_close(fd);
                return log_oom();
        }
        *x = (PortProxy) { .port = p, .family = family, .loop = loop, .listen_fd = fd };
        r = event_add_io(loop, &x->listen_source, fd, EPOLLIN,
                         p->protocol == IPPROTO_UDP ? on_udp_datagram : on_tcp_accept, x);
        if (r >= 0 && p->protocol == IPPROTO_UDP)
                r = event_add_time_relative(loop, &x->sweep_timer, UDP_IDLE_USEC / 2, on_sweep, x);
        if (r < 0) {
                port_proxy_free(x);
                return log_error_errno(r, "Failed to watch loopback port %u: %m", p->host_port);
        }
        *ret = x;
        return 0;
}
