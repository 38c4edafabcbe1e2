/*
 * roost-portfwd: forwards a container's published TCP ports from the host.
 *
 *   roost-portfwd --netns FILE --target ADDR [--ready-fd N] HOSTIP:HOSTPORT:PORT[/udp]...
 *
 * It binds a listening socket for every HOSTIP:HOSTPORT in the namespace it
 * was started in (the host's), then joins the network namespace bound at
 * FILE; a socket stays in the namespace it was made in, so from then on it
 * accepts on the host and connects inside the container's namespace, to
 * ADDR:PORT (the container's own address: a service listening only on the
 * container's loopback is not published, as with Docker).  The bytes go from
 * one socket to the other through a pipe with splice(2): they are never
 * copied into this process, which is what makes it faster than forwarding
 * through a userspace TCP stack (slirp4netns's hostfwd).
 *
 * Joining the namespace needs CAP_SYS_ADMIN in the user namespace that owns
 * it: the engine runs this inside its own user namespace, where it has it.
 *
 * The ready fd gets one line once every port is bound and the namespace
 * joined: "ok", or what went wrong (then the exit status is 1).  Each
 * connection gets two threads, one per direction, that block in splice; an
 * end of file is passed on as a half close, an error closes both sides.
 * SIGTERM ends the process (the engine sends it when the container stops).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PORTS 256
#define PIPE_BYTES (1 << 20) /* the unprivileged maximum (fs.pipe-max-size) by default */
#define THREAD_STACK (64 * 1024)

static struct listener {
	int fd, udp;
	char spec[128];
	struct sockaddr_storage target;
	socklen_t target_len;
} listeners[MAX_PORTS];
static int nlisteners;
static int ready_fd = -1;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	strcat(line, "\n");
	if (ready_fd >= 0 && write(ready_fd, line, strlen(line)) < 0) {
		/* nobody to tell */
	}
	fputs(line, stderr);
	exit(1);
}

/* "HOSTIP:HOSTPORT:PORT", HOSTIP possibly "[v6]"; fills the listener. */
static void add_listener(const char *spec, const char *target)
{
	struct listener *l = &listeners[nlisteners];
	char host[64], hport[16], cport[16];
	const char *p = spec, *end;

	if (nlisteners == MAX_PORTS)
		fail("too many published ports (at most %d)", MAX_PORTS);
	snprintf(l->spec, sizeof l->spec, "%s", spec);
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end || end[1] != ':')
			fail("bad port spec %s", spec);
		snprintf(host, sizeof host, "%.*s", (int)(end - p - 1), p + 1);
		p = end + 2;
	} else {
		end = strchr(p, ':');
		if (!end)
			fail("bad port spec %s", spec);
		snprintf(host, sizeof host, "%.*s", (int)(end - p), p);
		p = end + 1;
	}
	end = strchr(p, ':');
	if (!end)
		fail("bad port spec %s", spec);
	snprintf(hport, sizeof hport, "%.*s", (int)(end - p), p);
	snprintf(cport, sizeof cport, "%s", end + 1);
	char *proto = strchr(cport, '/');
	if (proto) {
		if (strcmp(proto, "/udp") && strcmp(proto, "/tcp"))
			fail("bad protocol in port spec %s", spec);
		l->udp = !strcmp(proto, "/udp");
		*proto = 0;
	}
	int type = l->udp ? SOCK_DGRAM : SOCK_STREAM;

	/*
	 * 0.0.0.0 (every address, Docker's default) is bound as a dual-stack [::], as Docker binds both
	 * families: clients that try localhost as ::1 first reach the port too. A host without IPv6 gets
	 * the IPv4 socket alone.
	 */
	int dual = !strcmp(host, "0.0.0.0"), fd = -1, one = 1, zero = 0, rc;
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE, .ai_socktype = type}, *ai;
	for (;;) {
		rc = getaddrinfo(dual ? "::" : host[0] ? host : NULL, hport, &hints, &ai);
		if (rc)
			fail("bad host address in %s: %s", spec, gai_strerror(rc));
		fd = socket(ai->ai_family, type | SOCK_CLOEXEC, 0);
		if (fd < 0 && dual) {
			freeaddrinfo(ai);
			dual = 0;
			continue;
		}
		if (fd < 0)
			fail("cannot publish %s: %s", spec, strerror(errno));
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual ? &zero : &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (dual && (errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT)) {
			close(fd);
			freeaddrinfo(ai);
			dual = 0;
			continue;
		}
		const char *why = strerror(errno);
		char privileged[160];
		if (errno == EADDRINUSE) {
			why = "the port is already in use";
		} else if (errno == EACCES) {
			snprintf(privileged, sizeof privileged,
				 "ports below net.ipv4.ip_unprivileged_port_start need root (sudo sysctl net.ipv4.ip_unprivileged_port_start=%s)", hport);
			why = privileged;
		}
		int v6 = ai->ai_family == AF_INET6 && !dual;
		fail("cannot publish %s%s%s:%s: %s", v6 ? "[" : "", host, v6 ? "]" : "", hport, why);
	}
	if (!l->udp && listen(fd, SOMAXCONN) < 0)
		fail("cannot listen on %s: %s", spec, strerror(errno));
	freeaddrinfo(ai);
	l->fd = fd;

	hints = (struct addrinfo){.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV, .ai_socktype = type};
	rc = getaddrinfo(target, cport, &hints, &ai);
	if (rc)
		fail("bad target %s:%s: %s", target, cport, gai_strerror(rc));
	memcpy(&l->target, ai->ai_addr, ai->ai_addrlen);
	l->target_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	nlisteners++;
}

struct conn {
	int fd[2]; /* [0] the client's (host side), [1] the container's */
	atomic_int ends;
};

struct pump {
	struct conn *c;
	int from; /* index into c->fd; data goes to the other one */
};

static void conn_done(struct conn *c)
{
	if (atomic_fetch_add(&c->ends, 1) == 1) {
		close(c->fd[0]);
		close(c->fd[1]);
		free(c);
	}
}

/* Moves one direction until end of file (passed on as a half close) or an error (closes both). */
static void *pump(void *arg)
{
	struct pump *pm = arg;
	struct conn *c = pm->c;
	int in = c->fd[pm->from], out = c->fd[!pm->from], p[2], broken = 0;
	free(pm);

	if (pipe2(p, O_CLOEXEC) < 0) {
		broken = 1;
	} else {
		fcntl(p[1], F_SETPIPE_SZ, PIPE_BYTES);
		for (;;) {
			ssize_t n = splice(in, NULL, p[1], NULL, PIPE_BYTES, SPLICE_F_MOVE);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				broken = n < 0;
				break;
			}
			while (n > 0) {
				ssize_t m = splice(p[0], NULL, out, NULL, (size_t)n, SPLICE_F_MOVE);
				if (m < 0 && errno == EINTR)
					continue;
				if (m <= 0) {
					broken = 1;
					break;
				}
				n -= m;
			}
			if (broken)
				break;
		}
		close(p[0]);
		close(p[1]);
	}
	if (broken) {
		/* Wakes the other direction's splice too. */
		shutdown(in, SHUT_RDWR);
		shutdown(out, SHUT_RDWR);
	} else {
		shutdown(out, SHUT_WR);
	}
	conn_done(c);
	return NULL;
}

/* What the accepting loop hands to a connection's first thread. */
struct accepted {
	struct listener *l;
	int fd;
	pthread_attr_t *attr;
};

/*
 * A connection's first thread: connects to the container (which can take a
 * moment with a full backlog, so not on the accepting thread), starts the
 * other direction's thread and then moves the client's bytes itself.
 */
static void *connection(void *arg)
{
	struct accepted *a = arg;
	struct listener *l = a->l;
	int client = a->fd, one = 1;
	pthread_attr_t *attr = a->attr;
	free(a);

	int up = socket(l->target.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (up < 0 || connect(up, (struct sockaddr *)&l->target, l->target_len) < 0) {
		/* Nothing listens in the container: the client sees the connection reset, as it would there. */
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		setsockopt(client, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		close(client);
		if (up >= 0)
			close(up);
		return NULL;
	}
	setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct conn *c = calloc(1, sizeof *c);
	struct pump *back = malloc(sizeof *back), *forth = malloc(sizeof *forth);
	pthread_t t;
	if (!c || !back || !forth) {
		free(c);
		free(back);
		free(forth);
		close(client);
		close(up);
		return NULL;
	}
	c->fd[0] = client;
	c->fd[1] = up;
	*back = (struct pump){.c = c, .from = 1};
	*forth = (struct pump){.c = c, .from = 0};
	if (pthread_create(&t, attr, pump, back)) {
		free(back);
		/* This direction then ends at once and counts the other's end too. */
		shutdown(client, SHUT_RDWR);
		shutdown(up, SHUT_RDWR);
		conn_done(c);
	}
	return pump(forth);
}

/*
 * UDP: one thread per published port. Each client address gets a socket of its own in the container's
 * namespace, connected to the container's port, so the container's replies come back on it and go to
 * that client; a client quiet for UDP_IDLE_S seconds is forgotten (conntrack's UDP timeout is of that order).
 */
#define UDP_SESSIONS 256
#define UDP_IDLE_S 180

struct udp_session {
	struct sockaddr_storage client;
	socklen_t len;
	int fd;
	time_t last;
};

static void *udp_relay(void *arg)
{
	struct listener *l = arg;
	/* On the heap: a thread's stack is THREAD_STACK (64 KiB). */
	struct udp_session *sessions = calloc(UDP_SESSIONS, sizeof *sessions);
	struct pollfd *pfd = calloc(UDP_SESSIONS + 1, sizeof *pfd);
	char *buf = malloc(65536);
	int n = 0;

	if (!sessions || !pfd || !buf)
		return NULL;

	for (;;) {
		pfd[0] = (struct pollfd){.fd = l->fd, .events = POLLIN};
		for (int i = 0; i < n; i++)
			pfd[i + 1] = (struct pollfd){.fd = sessions[i].fd, .events = POLLIN};
		if (poll(pfd, (nfds_t)n + 1, 10000) < 0)
			continue;
		time_t now = time(NULL);
		if (pfd[0].revents & POLLIN) {
			struct sockaddr_storage from;
			socklen_t len = sizeof from;
			ssize_t got = recvfrom(l->fd, buf, 65536, 0, (struct sockaddr *)&from, &len);
			if (got >= 0) {
				int i;
				for (i = 0; i < n; i++)
					if (sessions[i].len == len && !memcmp(&sessions[i].client, &from, len))
						break;
				if (i == n) {
					if (n == UDP_SESSIONS) {
						/* Full: the longest quiet client makes room. */
						int oldest = 0;
						for (int j = 1; j < n; j++)
							if (sessions[j].last < sessions[oldest].last)
								oldest = j;
						close(sessions[oldest].fd);
						sessions[oldest] = sessions[--n];
						pfd[oldest + 1] = pfd[n + 1];
					}
					int fd = socket(l->target.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
					if (fd >= 0 && connect(fd, (struct sockaddr *)&l->target, l->target_len) == 0) {
						sessions[n] = (struct udp_session){.client = from, .len = len, .fd = fd, .last = now};
						pfd[n + 1] = (struct pollfd){.fd = fd, .events = POLLIN};
						n++;
					} else if (fd >= 0) {
						close(fd);
					}
				}
				if (i < n) {
					sessions[i].last = now;
					send(sessions[i].fd, buf, (size_t)got, 0);
				}
			}
		}
		for (int i = 0; i < n; i++) {
			if (pfd[i + 1].revents & POLLIN) {
				ssize_t got = recv(sessions[i].fd, buf, 65536, 0);
				if (got >= 0) {
					sessions[i].last = now;
					sendto(l->fd, buf, (size_t)got, 0, (struct sockaddr *)&sessions[i].client, sessions[i].len);
				}
			}
		}
		for (int i = 0; i < n;) {
			if (now - sessions[i].last > UDP_IDLE_S) {
				close(sessions[i].fd);
				sessions[i] = sessions[--n];
			} else {
				i++;
			}
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *netns = NULL, *target = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--netns") && i + 1 < argc)
			netns = argv[++i];
		else if (!strcmp(argv[i], "--target") && i + 1 < argc)
			target = argv[++i];
		else if (!strcmp(argv[i], "--ready-fd") && i + 1 < argc)
			ready_fd = atoi(argv[++i]);
		else
			break;
	}
	if (!netns || !target || i == argc)
		fail("usage: roost-portfwd --netns FILE --target ADDR [--ready-fd N] HOSTIP:HOSTPORT:PORT...");
	signal(SIGPIPE, SIG_IGN);
	for (; i < argc; i++)
		add_listener(argv[i], target);

	int nsfd = open(netns, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		fail("cannot open the container's network namespace %s: %s", netns, strerror(errno));
	if (setns(nsfd, CLONE_NEWNET) < 0)
		fail("cannot join the container's network namespace: %s", strerror(errno));
	close(nsfd);

	if (ready_fd >= 0) {
		if (write(ready_fd, "ok\n", 3) < 0) {
			/* the engine went away; the ports still work */
		}
		close(ready_fd);
	}

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, THREAD_STACK);

	struct pollfd pfd[MAX_PORTS];
	for (i = 0; i < nlisteners; i++) {
		pthread_t t;
		/* A UDP port's relay has its own thread; the accepting loop skips it (fd -1 is ignored by poll). */
		pfd[i] = (struct pollfd){.fd = listeners[i].udp ? -1 : listeners[i].fd, .events = POLLIN};
		if (listeners[i].udp && pthread_create(&t, &attr, udp_relay, &listeners[i]))
			fail("cannot start the UDP relay of %s", listeners[i].spec);
	}
	for (;;) {
		if (poll(pfd, (nfds_t)nlisteners, -1) < 0) {
			if (errno == EINTR)
				continue;
			fail("poll: %s", strerror(errno));
		}
		for (i = 0; i < nlisteners; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			int fd = accept4(listeners[i].fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0)
				continue; /* EMFILE, a client gone already: the next one may fare better */
			struct accepted *a = malloc(sizeof *a);
			pthread_t t;
			if (!a) {
				close(fd);
				continue;
			}
			*a = (struct accepted){.l = &listeners[i], .fd = fd, .attr = &attr};
			if (pthread_create(&t, &attr, connection, a)) {
				close(fd);
				free(a);
			}
		}
	}
}
