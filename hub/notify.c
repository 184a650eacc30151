/* notify.c: the sd_notify datagram protocol by hand, so that systemd knows when kiroku-hub is ready. */
#include "notify.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hub.h"

/* The longest message sent here; systemd accepts far more, but a STATUS line has no need to be long. */
#define NOTIFY_MAX 512

static atomic_flag reported = ATOMIC_FLAG_INIT;

static void report_once(const char *where, int e)
{
	if (!atomic_flag_test_and_set(&reported))
		fprintf(stderr, "%s: cannot notify systemd at NOTIFY_SOCKET=%s: %s; carrying on without it\n", HUB_PROG,
		        where, strerror(e));
}

int hub_notify(const char *state)
{
	const char *where = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t salen;
	size_t len, msglen;
	ssize_t sent;
	int fd, e;

	if (!where || !*where || !state)
		return 0;
	len = strlen(where);
	/* A path ("/run/systemd/notify") or an abstract name ("@..." stands for a leading NUL byte). systemd 254
	 * also knows "vsock:", which a hub on a real host never gets. */
	if ((where[0] != '/' && where[0] != '@') || len < 2 || len >= sizeof sa.sun_path) {
		report_once(where, EAFNOSUPPORT);
		return -EAFNOSUPPORT;
	}
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, where, len);
	if (where[0] == '@')
		sa.sun_path[0] = 0;
	/* An abstract name's length is exact (no terminating NUL); a path's may include it. */
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);

	msglen = strnlen(state, NOTIFY_MAX + 1);
	if (msglen > NOTIFY_MAX) {
		report_once(where, EMSGSIZE);
		return -EMSGSIZE;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e = errno;
		report_once(where, e);
		return -e;
	}
	do
		sent = sendto(fd, state, msglen, MSG_NOSIGNAL, (const struct sockaddr *)&sa, salen);
	while (sent < 0 && errno == EINTR);
	e = errno;
	close(fd);
	if (sent < 0) {
		report_once(where, e);
		return -e;
	}
	return 1;
}

void hub_notify_ready(const char *host, unsigned port)
{
	char msg[NOTIFY_MAX];

	snprintf(msg, sizeof msg, "READY=1\nSTATUS=listening on https://%s:%u", host ? host : "?", port);
	hub_notify(msg);
}

void hub_notify_stopping(void)
{
	hub_notify("STOPPING=1\nSTATUS=finishing requests in flight");
}
