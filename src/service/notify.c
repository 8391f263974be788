/*
 * notify.c - the sd_notify datagram protocol, implemented directly.
 *
 * The protocol is one AF_UNIX datagram of newline-separated KEY=VALUE
 * assignments sent to $NOTIFY_SOCKET (a path, or '@' for the abstract
 * namespace). That is ~40 lines, so we do not link libsystemd: one fewer
 * dependency for a static-ish binary, and the service also runs where
 * systemd is absent (containers), where these calls are no-ops. It
 * deliberately does not pass file descriptors (FDSTORE) or credentials.
 */
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void notify__off(struct abyss_notify *n)
{
	memset(n, 0, sizeof(*n));
	n->fd = -1;
}

int abyss_notify_open_at(struct abyss_notify *n, const char *socket_name,
			 uint64_t watchdog_usec)
{
	size_t len;

	if (!n)
		return ABYSS_EINVAL;
	notify__off(n);
	if (!socket_name || !*socket_name)
		return ABYSS_OK;
	if (strncmp(socket_name, "vsock:", 6) == 0)
		return ABYSS_EUNSUPPORTED;
	if (socket_name[0] != '/' && socket_name[0] != '@')
		return ABYSS_EINVAL;
	len = strlen(socket_name);
	/* A path needs its NUL inside sun_path; an abstract name does not
	 * (its length is given by addrlen). */
	if (len > sizeof(n->addr.sun_path) - (socket_name[0] == '/'))
		return ABYSS_ETOOBIG;
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, socket_name, len);
	if (socket_name[0] == '@')
		n->addr.sun_path[0] = '\0';
	n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
				 (socket_name[0] == '/'));
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (n->fd < 0) {
		notify__off(n);
		return ABYSS_EIO;
	}
	n->watchdog_ms = (int64_t)(watchdog_usec / 2000);
	if (watchdog_usec > 0 && n->watchdog_ms == 0)
		n->watchdog_ms = 1;
	n->last_ping_ms = INT64_MIN;
	return ABYSS_OK;
}

/* A positive decimal number, or 0 for anything else. */
static uint64_t env_u64(const char *name)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return 0;
	return (uint64_t)v;
}

int abyss_notify_open(struct abyss_notify *n)
{
	uint64_t usec = env_u64("WATCHDOG_USEC");
	uint64_t pid = env_u64("WATCHDOG_PID");

	if (!n)
		return ABYSS_EINVAL;
	/* The watchdog belongs to one process; a child that inherited the
	 * environment must not feed it. */
	if (getenv("WATCHDOG_PID") && pid != (uint64_t)getpid())
		usec = 0;
	return abyss_notify_open_at(n, getenv("NOTIFY_SOCKET"), usec);
}

void abyss_notify_close(struct abyss_notify *n)
{
	if (!n)
		return;
	if (n->fd >= 0)
		close(n->fd);
	notify__off(n);
}

int abyss_notify_send(struct abyss_notify *n, const char *state)
{
	size_t len;
	ssize_t w;

	if (!n || !state)
		return ABYSS_EINVAL;
	if (n->fd < 0)
		return ABYSS_OK;
	len = strlen(state);
	if (len > ABYSS_NOTIFY_MSG_MAX)
		return ABYSS_ETOOBIG;
	do {
		w = sendto(n->fd, state, len, MSG_NOSIGNAL,
			   (const struct sockaddr *)&n->addr, n->addrlen);
	} while (w < 0 && errno == EINTR);
	return w == (ssize_t)len ? ABYSS_OK : ABYSS_EIO;
}

int abyss_notify_ready(struct abyss_notify *n)
{
	char msg[64];

	if (!n)
		return ABYSS_EINVAL;
	snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%ld", (long)getpid());
	return abyss_notify_send(n, msg);
}

int abyss_notify_stopping(struct abyss_notify *n)
{
	return abyss_notify_send(n, "STOPPING=1");
}

int abyss_notify_reloading(struct abyss_notify *n)
{
	struct timespec ts;
	char msg[64];

	if (!n)
		return ABYSS_EINVAL;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ull +
		     (unsigned long long)ts.tv_nsec / 1000ull);
	return abyss_notify_send(n, msg);
}

int abyss_notify_status(struct abyss_notify *n, const char *text)
{
	char msg[ABYSS_NOTIFY_MSG_MAX + 1];
	size_t i, len = 7;

	if (!n || !text)
		return ABYSS_EINVAL;
	memcpy(msg, "STATUS=", 7);
	for (i = 0; text[i] && len < ABYSS_NOTIFY_MSG_MAX; i++) {
		unsigned char c = (unsigned char)text[i];

		msg[len++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	if (text[i]) {
		/* Cut: do not leave half a UTF-8 character at the end. */
		size_t k = len, need;
		unsigned char lead;

		while (k > 7 && ((unsigned char)msg[k - 1] & 0xc0) == 0x80)
			k--;
		lead = (unsigned char)msg[k - 1];
		need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
		if (k > 7 && lead >= 0xc0 && len - (k - 1) < need)
			len = k - 1;
	}
	msg[len] = '\0';
	return abyss_notify_send(n, msg);
}

int abyss_notify_watchdog(struct abyss_notify *n, int64_t now_ms)
{
	int rc;

	if (!n)
		return ABYSS_EINVAL;
	if (n->fd < 0 || n->watchdog_ms <= 0)
		return ABYSS_OK;
	if (n->last_ping_ms != INT64_MIN &&
	    now_ms - n->last_ping_ms < n->watchdog_ms)
		return ABYSS_OK;
	rc = abyss_notify_send(n, "WATCHDOG=1");
	if (rc == ABYSS_OK)
		n->last_ping_ms = now_ms;
	return rc;
}

int64_t abyss_notify_watchdog_ms(const struct abyss_notify *n)
{
	return n && n->fd >= 0 ? n->watchdog_ms : 0;
}
