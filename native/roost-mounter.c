/*
 * roost-mounter: mount(2) and umount2(2) on behalf of the engine.
 *
 *   roost-mounter        (started once by the engine, inside its user and mount namespaces)
 *
 * Node cannot make these system calls, and a fork and exec of util-linux's
 * mount or umount from the engine costs 3-5 ms (the fork copies the page
 * tables of a ~60 MB process), on the way to every container's create and
 * removal.  This process stays, and does each call for the price of a pipe
 * round trip.
 *
 * Requests on stdin, one per line, fields separated by NUL bytes:
 *   mount FSTYPE SOURCE TARGET FLAGS DATA    FLAGS: decimal MS_* bits
 *   umount TARGET FLAGS                      FLAGS: decimal MNT_* / UMOUNT_* bits
 * One answer line per request on stdout, in order: "0", or the errno and
 * strerror's text ("16 Device or resource busy").  It exits when its input
 * ends (the engine closed the pipe or went away).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#define MAX_FIELDS 6

/* Splits a request of `len` bytes at its NULs; returns the number of fields. */
static int split(char *line, size_t len, char **fields)
{
	int n = 0;
	char *p = line, *end = line + len;
	while (p <= end && n < MAX_FIELDS) {
		fields[n++] = p;
		char *nul = memchr(p, '\0', (size_t)(end - p));
		if (!nul) break;
		p = nul + 1;
	}
	return n;
}

static int request(char **f, int n)
{
	char *rest;
	if (n == 6 && strcmp(f[0], "mount") == 0) {
		unsigned long flags = strtoul(f[4], &rest, 10);
		if (*rest) return EINVAL;
		return mount(f[2], f[3], f[1], flags, *f[5] ? f[5] : NULL) ? errno : 0;
	}
	if (n == 3 && strcmp(f[0], "umount") == 0) {
		int flags = (int)strtol(f[2], &rest, 10);
		if (*rest) return EINVAL;
		return umount2(f[1], flags) ? errno : 0;
	}
	return EINVAL;
}

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((len = getline(&line, &cap, stdin)) > 0) {
		if (line[len - 1] == '\n') line[--len] = '\0';
		char *fields[MAX_FIELDS];
		int err = request(fields, split(line, (size_t)len, fields));
		if (err) printf("%d %s\n", err, strerror(err));
		else printf("0\n");
	}
	free(line);
	return 0;
}
