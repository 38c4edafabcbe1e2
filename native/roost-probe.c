/*
 * roost-probe: runs a container's health-check commands on request, from inside the container.
 *
 * The engine starts one per container with a health check (through the runtime's exec, so it has the
 * container's namespaces, user, capabilities, seccomp filter and environment), bound in read-only at
 * /dev/.roost-probe.  Each probe is then a fork and exec here instead of a runtime exec, which costs
 * the engine a few milliseconds of CPU per probe.  It exits when its stdin closes (the engine went).
 *
 * Protocol, on stdin/stdout (all integers are 4-byte big-endian):
 *   request:  length, then that many bytes: timeout in ms as decimal, NUL, then argv, each NUL-ended
 *   response: length, then that many bytes: exit code as decimal (-1: timed out), NUL, then the output
 *             (stdout and stderr together, at most MAX_OUTPUT bytes kept)
 * Exit codes follow the shell: 128+N for signal N, 127 command not found, 126 not executable.
 *
 * Plain C11 + libc, linked statically: it runs in the container's root, which has no libc of ours.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_REQUEST (256 * 1024)
#define MAX_ARGS 4096
#define MAX_OUTPUT 8192

static int read_full(int fd, void *buf, size_t len) {
	char *p = buf;
	while (len) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) return -1;
		p += n, len -= (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len) {
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) return -1;
		p += n, len -= (size_t)n;
	}
	return 0;
}

static uint32_t get_be32(const unsigned char b[4]) {
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void put_be32(unsigned char b[4], uint32_t v) {
	b[0] = v >> 24, b[1] = v >> 16, b[2] = v >> 8, b[3] = v;
}

static long long now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int respond(int code, const char *out, size_t out_len) {
	char head[32];
	int n = snprintf(head, sizeof head, "%d", code);
	unsigned char len[4];
	put_be32(len, (uint32_t)(n + 1 + out_len));
	if (write_full(STDOUT_FILENO, len, 4) || write_full(STDOUT_FILENO, head, (size_t)n + 1)) return -1;
	return write_full(STDOUT_FILENO, out, out_len);
}

/* Waits for pid until the deadline (a pidfd polled, no busy loop); returns 0 with *status, -1 at the deadline. */
static int wait_until(pid_t pid, long long deadline, int *status) {
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);
		if (w == pid) break;
		if (w < 0 && errno != EINTR) break;
		long long left = deadline - now_ms();
		if (left <= 0) {
			if (pidfd >= 0) close(pidfd);
			return -1;
		}
		if (pidfd >= 0) {
			struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
			poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left);
		} else {
			usleep(1000); /* a kernel without pidfd_open */
		}
	}
	if (pidfd >= 0) close(pidfd);
	return 0;
}

/* Runs argv with a deadline; fills out/out_len; returns the shell-style exit code or -1 on timeout. */
static int run(char **argv, long timeout_ms, char *out, size_t *out_len) {
	int pipefd[2];
	*out_len = 0;
	if (pipe2(pipefd, O_CLOEXEC)) return 126;
	/* posix_spawn (a vfork underneath): cheaper than a fork for every probe.  The probe gets its own
	 * process group (so a timeout kills what it started too), /dev/null as stdin and the pipe as
	 * stdout and stderr. */
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDERR_FILENO);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setpgroup(&attr, 0);
	sigset_t defaults;
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF);
	pid_t pid;
	int err = posix_spawnp(&pid, argv[0], &actions, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	if (err) {
		close(pipefd[0]);
		*out_len = (size_t)snprintf(out, MAX_OUTPUT, "exec: \"%s\": %s\n", argv[0], strerror(err));
		return err == ENOENT ? 127 : 126;
	}
	long long deadline = now_ms() + timeout_ms;
	int timed_out = 0;
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0) { timed_out = 1; break; }
		struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
		int r = poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left);
		if (r < 0 && errno == EINTR) continue;
		if (r == 0) continue;
		char buf[4096];
		ssize_t n = read(pipefd[0], buf, sizeof buf);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) break; /* every writer closed: the command (and what it left behind) is done */
		size_t keep = MAX_OUTPUT - *out_len < (size_t)n ? MAX_OUTPUT - *out_len : (size_t)n;
		memcpy(out + *out_len, buf, keep), *out_len += keep;
	}
	close(pipefd[0]);
	int status = 0;
	/* The output closed, but the command may linger (it closed its stdout): the deadline still holds. */
	if (!timed_out && wait_until(pid, deadline, &status) < 0) timed_out = 1;
	if (timed_out) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
		return -1;
	}
	if (WIFEXITED(status)) return WEXITSTATUS(status);
	if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
	return 126;
}

int main(void) {
	signal(SIGPIPE, SIG_IGN);
	static char request[MAX_REQUEST + 1];
	static char output[MAX_OUTPUT];
	static char *argv[MAX_ARGS + 1];
	for (;;) {
		unsigned char len_buf[4];
		if (read_full(STDIN_FILENO, len_buf, 4)) return 0;
		uint32_t len = get_be32(len_buf);
		if (len == 0 || len > MAX_REQUEST) return 2;
		if (read_full(STDIN_FILENO, request, len)) return 0;
		request[len] = '\0';
		char *p = request, *end = request + len;
		long timeout_ms = strtol(p, NULL, 10);
		p += strlen(p) + 1;
		int argc = 0;
		while (p < end && argc < MAX_ARGS) {
			argv[argc++] = p;
			p += strlen(p) + 1;
		}
		argv[argc] = NULL;
		size_t out_len = 0;
		int code;
		if (argc == 0) {
			out_len = (size_t)snprintf(output, sizeof output, "no command\n");
			code = 126;
		} else {
			code = run(argv, timeout_ms > 0 ? timeout_ms : 30000, output, &out_len);
		}
		if (respond(code, output, out_len)) return 0;
	}
}
