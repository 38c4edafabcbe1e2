/*
 * roost-monitor: the per-container (and per-exec) monitor of Roost.
 *
 * The daemon starts one monitor per container and one per exec.  The monitor
 * runs the OCI runtime, owns the container's stdio, writes the k8s-file log,
 * serves attach clients on a unix socket and records the exit status.  All of
 * that lives here rather than in the daemon so a container survives a daemon
 * crash.  fds on entry: 0 = /dev/null, 1/2 = debug log, 3 = status pipe
 * (write end), 4 = start pipe (read end; container mode only).
 *
 * Attach frames, both directions: 1 byte type, 4 bytes big-endian payload
 * length, payload.  The types are the F_* constants below.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STATUS_FD 3
#define START_FD 4
#define MAX_CLIENTS 32
#define CHUNK 8192
#define STALL_MS 2000 /* how long a client may keep its socket full before we drop it */

enum { F_STDIN, F_STDOUT, F_STDERR, F_EXIT, F_CLOSE_STDIN, F_RESIZE };
/* What data read from the container's output fds is at this point. */
enum { OUT_IGNORE, OUT_CAPTURE, OUT_LIVE };

static struct {
	const char *id, *bundle, *runtime, *root, *socket, *exit_file, *pid_file, *log, *exec;
	int tty, stdin;
} opt;

static int devnull, sig_fd, listen_fd, log_fd = -1;
static int cons_fd = -1, rt_fd = -1;   /* console-socket listener; runtime output pipe */
static char cons_path[4096];
static int out_fd[2] = {-1, -1};       /* container stdout (or pty master), stderr */
static int out_mode = OUT_IGNORE;
static int child_fd[3] = {-1, -1, -1}; /* container ends of the stdio pipes */
static int pty_fd = -1, in_fd = -1;    /* in_fd: stdin pipe write end, or pty_fd */
static struct winsize want_ws;         /* last resize; may arrive before the pty */

static char iobuf[CHUNK], rtout[4096], logbuf[16384];
static size_t rtlen, loglen;

/* stdin the container has not taken yet.  Clients are not read while any is
 * queued, so at most one read's worth (plus a ^D) is ever queued. */
static char in_buf[CHUNK + 16];
static size_t in_len;
static int in_close_pending; /* close stdin once in_buf has drained */

static struct client {
	int fd, stalled;
	long long stalled_since; /* ms; when its socket buffer filled up */
	uint8_t hdr[5], hlen;    /* frame header being assembled */
	uint32_t left;           /* payload bytes still to come */
	char arg[32];            /* small control payload (resize) */
	uint8_t alen;
} clients[MAX_CLIENTS];
static int nstalled;

/* Every child is reaped and remembered: a pid may be reaped (a quick exec'd
 * process) before we learn that it is the one we wait for. */
static struct { pid_t pid; int status; } reaped[64];
static unsigned nreaped;

static void cleanup(void) { unlink(opt.socket); if (cons_path[0]) unlink(cons_path); }

/* Report a fatal error on the status pipe and exit 1. */
static void fail(const char *fmt, ...) {
	char msg[1100]; va_list ap;
	va_start(ap, fmt), vsnprintf(msg, sizeof msg, fmt, ap), va_end(ap);
	dprintf(STATUS_FD, "error %s\n", msg);
	fprintf(stderr, "roost-monitor %s: %s\n", opt.id, msg);
	cleanup();
	exit(1);
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static long long now_ms(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static void write_all(int fd, const char *p, size_t n) {
	for (ssize_t w; n > 0; p += w, n -= (size_t)w)
		if ((w = write(fd, p, n)) < 0) return; /* e.g. disk full: nothing better to do than go on */
}

static int exit_code(int st) { return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st); }

static void reap_children(void) {
	struct signalfd_siginfo si; pid_t pid; int st;
	while (read(sig_fd, &si, sizeof si) > 0) {}
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		unsigned i = nreaped++ % 64; /* overwrites the oldest: orphans nobody waits for */
		reaped[i].pid = pid, reaped[i].status = st;
	}
}

static int reap_take(pid_t pid, int *st) {
	for (int i = 0; i < 64; i++)
		if (reaped[i].pid == pid) { reaped[i].pid = 0, *st = reaped[i].status; return 1; }
	return 0;
}

static void log_put(const char *p, size_t n) {
	if (loglen + n > sizeof logbuf) write_all(log_fd, logbuf, loglen), loglen = 0;
	if (n > sizeof logbuf) write_all(log_fd, p, n);
	else memcpy(logbuf + loglen, p, n), loglen += n;
}

/* k8s-file format, one record per line: "<RFC3339 UTC ns> <stream> <F|P> <text>".
 * P marks a chunk that ended mid-line; the next record continues it. */
static void log_output(int stream, const char *buf, size_t n) {
	char ts[80]; struct timespec now; struct tm tm;
	if (log_fd < 0) return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	size_t k = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	k += (size_t)snprintf(ts + k, sizeof ts - k, ".%09ldZ %s ", now.tv_nsec, stream == 2 ? "stderr" : "stdout");
	while (n > 0) {
		const char *nl = memchr(buf, '\n', n);
		size_t len = nl ? (size_t)(nl - buf) : n;
		log_put(ts, k), log_put(nl ? "F " : "P ", 2);
		log_put(buf, len), log_put("\n", 1);
		len += nl != NULL;
		buf += len, n -= len;
	}
	write_all(log_fd, logbuf, loglen), loglen = 0;
}

static void drop_client(struct client *c) {
	close(c->fd);
	c->fd = -1, nstalled -= c->stalled, c->stalled = 0;
}

/* Send one frame to every client; a send that does not fit drops the client.
 * Afterwards, clients whose socket is nearly full are marked stalled, which
 * pauses reading the container's output (see poll_once) so that a briefly
 * slow reader loses nothing; one stalled for STALL_MS is dropped. */
static void broadcast(int type, const char *buf, size_t n) {
	uint8_t h[5] = {(uint8_t)type, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
	struct iovec iov[2] = {{h, 5}, {(void *)buf, n}};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
	struct pollfd p[MAX_CLIENTS]; int idx[MAX_CLIENTS], np = 0;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (clients[i].fd < 0) continue;
		if (sendmsg(clients[i].fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)(n + 5)) {
			p[np] = (struct pollfd){clients[i].fd, POLLOUT, 0};
			idx[np++] = i;
		} else {
			fprintf(stderr, "roost-monitor %s: dropping client (gone or full)\n", opt.id);
			drop_client(&clients[i]);
		}
	}
	if (np && poll(p, (nfds_t)np, 0) >= 0)
		for (int k = 0; k < np; k++) {
			struct client *c = &clients[idx[k]];
			if (!(p[k].revents & POLLOUT) && !c->stalled) c->stalled = 1, c->stalled_since = now_ms(), nstalled++;
		}
}

/* Read one chunk from fd and route it according to mode.
 * Returns 1 on data, 0 if nothing to read now, -1 on EOF/error (EIO on a pty). */
static int pump(int fd, int stream, int mode) {
	ssize_t n = read(fd, iobuf, sizeof iobuf);
	if (n < 0 && errno == EAGAIN) return 0;
	if (n <= 0) return -1;
	if (mode == OUT_CAPTURE) {
		size_t k = (size_t)n < sizeof rtout - rtlen ? (size_t)n : sizeof rtout - rtlen;
		memcpy(rtout + rtlen, iobuf, k), rtlen += k;
	} else if (mode == OUT_LIVE) {
		log_output(stream, iobuf, (size_t)n);
		broadcast(stream == 2 ? F_STDERR : F_STDOUT, iobuf, (size_t)n);
	}
	return 1;
}

static void close_out(int i) {
	if (out_fd[i] != pty_fd) close(out_fd[i]);
	out_fd[i] = -1;
}

static void stdin_gone(void) {
	in_len = 0, in_close_pending = 0;
	if (in_fd >= 0 && in_fd != pty_fd) close(in_fd);
	in_fd = -1;
}

static void stdin_write(const char *p, size_t n) {
	if (in_fd < 0 || in_close_pending) return;
	if (in_len == 0) {
		ssize_t w = write(in_fd, p, n);
		if (w < 0 && errno != EAGAIN) { stdin_gone(); return; } /* the container closed its stdin */
		if (w > 0) p += w, n -= (size_t)w;
	}
	if (n > sizeof in_buf - in_len) n = sizeof in_buf - in_len; /* cannot happen, see in_buf */
	memcpy(in_buf + in_len, p, n);
	in_len += n;
}

static void stdin_flush(void) {
	ssize_t w = write(in_fd, in_buf, in_len);
	if (w < 0 && errno != EAGAIN) { stdin_gone(); return; }
	if (w > 0) memmove(in_buf, in_buf + w, in_len - (size_t)w), in_len -= (size_t)w;
	if (in_len == 0 && in_close_pending) stdin_gone();
}

static void frame_done(struct client *c) {
	unsigned rows, cols;
	c->arg[c->alen] = 0;
	c->hlen = 0;
	if (c->hdr[0] == F_CLOSE_STDIN) {
		/* a pty has no half-close; ^D is EOF to a reader in canonical mode */
		if (in_fd >= 0 && in_fd == pty_fd) stdin_write("\x04", 1);
		else if (in_len) in_close_pending = 1; /* after the queued data */
		else stdin_gone();
	} else if (c->hdr[0] == F_RESIZE && opt.tty && sscanf(c->arg, "%u %u", &rows, &cols) == 2) {
		want_ws = (struct winsize){.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
		if (pty_fd >= 0) ioctl(pty_fd, TIOCSWINSZ, &want_ws);
	}
}

/* Parse frames out of whatever the client sent; frames may arrive split. */
static void client_input(struct client *c) {
	ssize_t r = read(c->fd, iobuf, sizeof iobuf);
	if (r < 0 && errno == EAGAIN) return;
	if (r <= 0) { drop_client(c); return; }
	for (const char *p = iobuf, *end = iobuf + r; p < end;) {
		if (c->hlen < 5) {
			c->hdr[c->hlen++] = (uint8_t)*p++;
			if (c->hlen < 5) continue;
			c->left = (uint32_t)c->hdr[1] << 24 | (uint32_t)c->hdr[2] << 16 | (uint32_t)c->hdr[3] << 8 | c->hdr[4];
			c->alen = 0;
		} else {
			size_t k = (size_t)(end - p) < c->left ? (size_t)(end - p) : c->left;
			if (c->hdr[0] == F_STDIN)
				stdin_write(p, k);
			else /* keep the start of a control payload, ignore the rest */
				for (size_t i = 0; i < k && c->alen < sizeof c->arg - 1; i++) c->arg[c->alen++] = p[i];
			p += k;
			c->left -= (uint32_t)k;
		}
		if (c->left == 0) frame_done(c);
	}
}

static void accept_clients(void) {
	int fd, i;
	while ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		for (i = 0; i < MAX_CLIENTS && clients[i].fd >= 0; i++) {}
		if (i == MAX_CLIENTS) close(fd); /* full: refuse, rather than leave it in the backlog and spin */
		else clients[i] = (struct client){.fd = fd};
	}
}

/* The runtime connects to the console socket and passes the pty master. */
static void recv_pty(void) {
	char data[256], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {data, sizeof data};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	int c = accept4(cons_fd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0) return;
	if (recvmsg(c, &m, MSG_CMSG_CLOEXEC) > 0) {
		struct cmsghdr *h = CMSG_FIRSTHDR(&m);
		if (h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) memcpy(&pty_fd, CMSG_DATA(h), sizeof(int));
	}
	close(c);
	if (pty_fd < 0) return;
	close(cons_fd), unlink(cons_path);
	cons_fd = -1, cons_path[0] = 0;
	set_nonblock(pty_fd);
	out_fd[0] = in_fd = pty_fd;
	if (want_ws.ws_row) ioctl(pty_fd, TIOCSWINSZ, &want_ws);
}

/* One round of poll() over everything we serve.  Returns 1 if `extra` (an
 * fd the caller waits for) is readable or hung up. */
static int poll_once(int extra) {
	struct pollfd p[8 + MAX_CLIENTS];
	int n = 0, cl[MAX_CLIENTS], ncl = 0, timeout = -1;
	long long now = now_ms();
#define ADD(fd, ev) ((fd) >= 0 ? (p[n] = (struct pollfd){(fd), (ev), 0}, n++) : -1)
	int i_sig = ADD(sig_fd, POLLIN), i_lis = ADD(listen_fd, POLLIN);
	int i_con = ADD(cons_fd, POLLIN), i_rt = ADD(rt_fd, POLLIN);
	int out = out_mode != OUT_IGNORE && !nstalled; /* a stalled client pauses output */
	int i_o0 = out ? ADD(out_fd[0], POLLIN) : -1, i_o1 = out ? ADD(out_fd[1], POLLIN) : -1;
	int i_in = in_len ? ADD(in_fd, POLLOUT) : -1, i_ex = ADD(extra, POLLIN);
	for (int i = 0; i < MAX_CLIENTS; i++) {
		/* While stdin is backed up, clients are not read: that is the back
		 * pressure, and it keeps a hung-up client from spinning poll. */
		short ev = (short)((in_len ? 0 : POLLIN) | (clients[i].stalled ? POLLOUT : 0));
		if (clients[i].fd < 0 || !ev) continue;
		long long left = clients[i].stalled_since + STALL_MS - now; /* wake up to drop it */
		if (clients[i].stalled && (timeout < 0 || left < timeout)) timeout = left < 0 ? 0 : (int)left;
		cl[ncl++] = i;
		ADD(clients[i].fd, ev);
	}
#undef ADD
	if (poll(p, (nfds_t)n, timeout) < 0) return 0;
	if (i_sig >= 0 && p[i_sig].revents) reap_children();
	if (i_lis >= 0 && p[i_lis].revents) accept_clients();
	if (i_con >= 0 && p[i_con].revents) recv_pty();
	if (i_rt >= 0 && p[i_rt].revents && pump(rt_fd, 0, OUT_CAPTURE) < 0) close(rt_fd), rt_fd = -1;
	if (i_o0 >= 0 && p[i_o0].revents && pump(out_fd[0], 1, out_mode) < 0) close_out(0);
	if (i_o1 >= 0 && p[i_o1].revents && out_fd[1] >= 0 && pump(out_fd[1], 2, out_mode) < 0) close_out(1);
	if (i_in >= 0 && p[i_in].revents && in_fd >= 0 && in_len) stdin_flush();
	now = now_ms();
	for (int k = 0; k < ncl; k++) {
		struct client *c = &clients[cl[k]];
		short re = p[n - ncl + k].revents;
		if (c->fd >= 0 && c->stalled && (re & POLLOUT))
			c->stalled = 0, nstalled--;
		else if (c->fd >= 0 && c->stalled && now - c->stalled_since >= STALL_MS) {
			fprintf(stderr, "roost-monitor %s: dropping client stalled for %d ms\n", opt.id, STALL_MS);
			drop_client(c);
		}
		if (c->fd >= 0 && (re & (POLLIN | POLLHUP | POLLERR)) && !in_len) client_input(c);
	}
	return i_ex >= 0 && p[i_ex].revents != 0;
}

static int wait_pid(pid_t pid) {
	int st;
	while (!reap_take(pid, &st)) poll_once(-1);
	return st;
}

/* Read what the output fds hold right now (up to EAGAIN).  Live output waits,
 * in the event loop, while a client is stalled. */
static void drain_outputs(int mode) {
	for (int i = 0; i < 2; i++)
		while (out_fd[i] >= 0) {
			if (mode == OUT_LIVE && nstalled) { poll_once(-1); continue; }
			int r = pump(out_fd[i], i + 1, mode);
			if (r < 0) close_out(i);
			if (r <= 0) break;
		}
}

static pid_t spawn(char **argv, int fd0, int fd1, int fd2) {
	pid_t pid = fork();
	if (pid < 0) fail("fork: %s", strerror(errno));
	if (pid == 0) {
		/* The signal mask and SIG_IGN survive exec: give the runtime (and
		 * through it the container) a clean slate. */
		sigset_t none;
		sigemptyset(&none), sigprocmask(SIG_SETMASK, &none, NULL), signal(SIGPIPE, SIG_DFL);
		/* fds 0-4 stay held, so no source is 0 or 1 and no dup2 clobbers a later one */
		dup2(fd0, 0), dup2(fd1, 1), dup2(fd2, 2);
		execvp(argv[0], argv);
		dprintf(2, "cannot execute %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Run the runtime to completion, serving the event loop meanwhile.  cstdio:
 * give it the container's stdio (create and exec: runc and crun hand their
 * stdio to the container process); otherwise its stdout and stderr go to a
 * private pipe captured into rtout.  Returns its exit code. */
static int run_runtime(char **argv, int cstdio) {
	pid_t pid;
	int p[2];
	rtlen = 0;
	if (cstdio) {
		pid = spawn(argv, child_fd[0], child_fd[1], child_fd[2]);
		for (int i = 0; i < 3; child_fd[i++] = -1)
			if (child_fd[i] != devnull) close(child_fd[i]);
	} else {
		if (pipe2(p, O_CLOEXEC)) fail("pipe: %s", strerror(errno));
		pid = spawn(argv, devnull, p[1], p[1]);
		close(p[1]);
		set_nonblock(rt_fd = p[0]);
	}
	int st = wait_pid(pid);
	while (rt_fd >= 0 && pump(rt_fd, 0, OUT_CAPTURE) > 0) {}
	if (rt_fd >= 0) close(rt_fd), rt_fd = -1;
	return exit_code(st);
}

/* Fail with the runtime's output as a one-line message. */
static void fail_runtime(int rc) {
	size_t a = 0, b = rtlen;
	for (size_t i = 0; i < rtlen; i++)
		if (rtout[i] == '\n' || rtout[i] == '\r' || rtout[i] == '\t' || rtout[i] == 0) rtout[i] = ' ';
	while (a < b && rtout[a] == ' ') a++;
	while (b > a && rtout[b - 1] == ' ') b--;
	if (b - a > 1000) a = b - 1000; /* keep the tail: runtimes print the fatal error last */
	if (a == b) fail("runtime exited with status %d", rc);
	fail("%.*s", (int)(b - a), rtout + a);
}

static void runtime_delete(void) {
	char *argv[] = {(char *)opt.runtime, "--root", (char *)opt.root, "delete", "-f", (char *)opt.id, NULL};
	wait_pid(spawn(argv, devnull, 2, 2)); /* its complaints go to the debug log */
}

static pid_t read_pid_file(void) {
	char buf[32] = {0};
	int fd = open(opt.pid_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	long pid = n > 0 ? strtol(buf, NULL, 10) : -1;
	return pid > 0 ? (pid_t)pid : -1;
}

/* A listening unix socket with mode 0600 (the umask covers bind..chmod). */
static int listen_unix(const char *path, int backlog) {
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof a.sun_path) return errno = ENAMETOOLONG, -1;
	strcpy(a.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) return -1;
	unlink(path);
	mode_t old = umask(077);
	int r = bind(fd, (struct sockaddr *)&a, sizeof a);
	umask(old);
	if (!r && !chmod(path, 0600) && !listen(fd, backlog)) return fd;
	r = errno, close(fd), errno = r;
	return -1;
}

/* The container's stdio: a console socket for --tty, else pipes. */
static void setup_stdio(void) {
	if (opt.tty) {
		/* several execs may share the bundle, so theirs get unique names */
		/* Beside the attach socket: that path is short and unique per container
		 * and per exec, while the bundle may sit too deep for sun_path. */
		snprintf(cons_path, sizeof cons_path, "%s.console", opt.socket);
		if ((cons_fd = listen_unix(cons_path, 1)) < 0) fail("console socket %s: %s", cons_path, strerror(errno));
		return;
	}
	int o[2], e[2], i[2] = {devnull, -1};
	if (pipe2(o, O_CLOEXEC) || pipe2(e, O_CLOEXEC) || (opt.stdin && pipe2(i, O_CLOEXEC)))
		fail("pipe: %s", strerror(errno));
	set_nonblock(out_fd[0] = o[0]);
	set_nonblock(out_fd[1] = e[0]);
	child_fd[0] = i[0], child_fd[1] = o[1], child_fd[2] = e[1];
	if ((in_fd = i[1]) >= 0) set_nonblock(in_fd);
}

/* After the runtime succeeded: get the pty (if the runtime was quick it may
 * still sit in the console socket's backlog) and the process's pid. */
static pid_t runtime_done(void) {
	if (opt.tty && pty_fd < 0) recv_pty();
	const char *err = opt.tty && pty_fd < 0 ? "runtime sent no pty master to the console socket" : NULL;
	pid_t pid = read_pid_file();
	if (!err && pid < 0) err = "cannot read the pid file";
	if (err && !opt.exec) runtime_delete();
	if (err) fail("%s", err);
	out_mode = OUT_LIVE;
	return pid;
}

/* RUNTIME --root ROOT <cmd...> [--console-socket SOCK] ID */
static void runtime_argv(char **a, const char *const *cmd) {
	*a++ = (char *)opt.runtime, *a++ = "--root", *a++ = (char *)opt.root;
	while (*cmd) *a++ = (char *)*cmd++;
	if (opt.tty) *a++ = "--console-socket", *a++ = cons_path;
	*a++ = (char *)opt.id, *a = NULL;
}

/* Wait for the daemon's go-ahead ('s') on the start pipe; other bytes are
 * ignored.  EOF means the daemon died or gave up: undo and exit. */
static void await_start(int created) {
	for (;;) {
		char c;
		while (!poll_once(START_FD)) {}
		ssize_t r = read(START_FD, &c, 1);
		if (r == 1 && c == 's') return;
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
			if (created) runtime_delete();
			fail("start pipe closed before start");
		}
	}
}

static pid_t container_mode(void) {
	char *argv[16];
	runtime_argv(argv, (const char *const[]){"create", "--bundle", opt.bundle, "--pid-file", opt.pid_file, NULL});
	/* Until create exits, what comes out of the container pipes is the
	 * runtime talking: the container process is parked until start. */
	out_mode = opt.tty ? OUT_LIVE : OUT_CAPTURE;
	int rc = run_runtime(argv, !opt.tty);
	if (!opt.tty) drain_outputs(OUT_CAPTURE);
	if (rc) fail_runtime(rc);
	pid_t pid = runtime_done();
	dprintf(STATUS_FD, "created %d\n", (int)pid);
	await_start(1);
	char *start[] = {(char *)opt.runtime, "--root", (char *)opt.root, "start", (char *)opt.id, NULL};
	if ((rc = run_runtime(start, 0))) runtime_delete(), fail_runtime(rc);
	return pid;
}

static pid_t exec_mode(void) {
	char *argv[16];
	/* With a start pipe, the daemon connects to the attach socket first and
	 * then lets the exec run, so it sees the process's first byte. */
	struct stat st;
	if (fstat(START_FD, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) await_start(0);
	runtime_argv(argv, (const char *const[]){"exec", "--detach", "--pid-file", opt.pid_file, "--process", opt.exec, NULL});
	/* The exec'd process runs before the runtime exits, so while it runs the two
	 * outputs cannot be told apart.  Leave the pipes alone until then: on failure
	 * all they hold is the runtime's error, on success the process's output. */
	out_mode = opt.tty ? OUT_LIVE : OUT_IGNORE;
	int rc = run_runtime(argv, !opt.tty);
	if (rc && !opt.tty) drain_outputs(OUT_CAPTURE);
	if (rc) fail_runtime(rc);
	return runtime_done();
}

/* Write "<code>\n" atomically: a reader never sees a partial file. */
static void write_exit_file(int code) {
	char tmp[4200], buf[16];
	snprintf(tmp, sizeof tmp, "%s.tmp", opt.exit_file);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		write_all(fd, buf, (size_t)snprintf(buf, sizeof buf, "%d\n", code));
		close(fd);
	}
	if (fd < 0 || rename(tmp, opt.exit_file))
		fprintf(stderr, "roost-monitor %s: cannot write %s: %s\n", opt.id, opt.exit_file, strerror(errno));
}

static void parse_args(int argc, char **argv) {
	static const struct option lo[] = {
		{"id", 1, 0, 'i'}, {"bundle", 1, 0, 'b'}, {"runtime", 1, 0, 'r'}, {"runtime-root", 1, 0, 'R'},
		{"socket", 1, 0, 's'}, {"exit-file", 1, 0, 'e'}, {"pid-file", 1, 0, 'p'}, {"log", 1, 0, 'l'},
		{"tty", 0, 0, 't'}, {"stdin", 0, 0, 'I'}, {"exec", 1, 0, 'x'}, {0, 0, 0, 0}};
	const char **dst[128] = {['i'] = &opt.id, ['b'] = &opt.bundle, ['r'] = &opt.runtime, ['R'] = &opt.root,
		['s'] = &opt.socket, ['e'] = &opt.exit_file, ['p'] = &opt.pid_file, ['l'] = &opt.log, ['x'] = &opt.exec};
	const char *err = NULL; int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 't') opt.tty = 1;
		else if (c == 'I') opt.stdin = 1;
		else if (c > 0 && c < 128 && dst[c]) *dst[c] = optarg;
		else err = "bad option";
	}
	if (!err && optind < argc) err = "unexpected argument";
	if (!err && !(opt.id && opt.bundle && opt.runtime && opt.root && opt.socket && opt.exit_file && opt.pid_file))
		err = "missing required option";
	if (err) {
		fprintf(stderr, "roost-monitor: %s\nusage: roost-monitor --id ID --bundle DIR --runtime PATH --runtime-root DIR"
				" --socket PATH --exit-file PATH --pid-file PATH [--log PATH] [--tty] [--stdin] [--exec PROCESS_JSON]\n", err);
		exit(2);
	}
}

int main(int argc, char **argv) {
	parse_args(argc, argv);

	/* Hold fds 0-4 so nothing we open lands there: a pipe on fd 3 would get
	 * status lines, and closing fd 4 later must not hit one of ours. */
	for (int fd = 0; fd <= START_FD; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd) return 2;
	close_range(START_FD + 1, ~0U, 0); /* whatever the daemon leaked */
	fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC), fcntl(START_FD, F_SETFD, FD_CLOEXEC);
	for (int i = 0; i < MAX_CLIENTS; i++) clients[i].fd = -1;

	setsid(); /* fails harmlessly if we already lead a session */
	/* The container process is the runtime's child.  As a subreaper we
	 * inherit it (not pid 1) when the runtime exits, so we can wait for it. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	sigset_t set;
	sigemptyset(&set), sigaddset(&set, SIGCHLD), sigprocmask(SIG_BLOCK, &set, NULL);
	if ((sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) fail("signalfd: %s", strerror(errno));
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) fail("/dev/null: %s", strerror(errno));
	/* The attach socket exists before the container, so clients can attach
	 * before the process writes its first byte. */
	if ((listen_fd = listen_unix(opt.socket, 16)) < 0) fail("attach socket %s: %s", opt.socket, strerror(errno));
	if (opt.log && (log_fd = open(opt.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0)
		fail("log %s: %s", opt.log, strerror(errno));
	setup_stdio();
	pid_t pid = opt.exec ? exec_mode() : container_mode();
	dprintf(STATUS_FD, "started %d\n", (int)pid);
	close(STATUS_FD), close(START_FD);
	int code = exit_code(wait_pid(pid)); /* the container (or exec'd) process */
	drain_outputs(OUT_LIVE); /* what it wrote just before exiting */
	/* Neither the log nor the exit file is fsync'ed: readers (the engine, a
	 * restarted engine) see them in the page cache, and only a power loss would
	 * lose them, which ends the container anyway.  Each fsync cost ~1.5 ms on
	 * every exit here (run --rm waits for it). */
	write_exit_file(code);

	char buf[16];
	accept_clients(); /* those still in the backlog want the exit code too */
	broadcast(F_EXIT, buf, (size_t)snprintf(buf, sizeof buf, "%d", code));
	/* The runtime's state for an ended container is ours to drop: done after
	 * everyone heard of the exit (off the daemon's critical path) but before the
	 * clients are let go, so a closed attach socket means the state is gone. */
	if (!opt.exec) runtime_delete();
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].fd >= 0) drop_client(&clients[i]);
	cleanup();
	return 0;
}
