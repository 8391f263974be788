/*
 * service/notify.h - systemd service notification (Type=notify): READY,
 * STOPPING, RELOADING, STATUS and the watchdog keep-alive.
 *
 * Without NOTIFY_SOCKET in the environment (not started by systemd, or a
 * unit that is not Type=notify) every call is a no-op that returns 0, so
 * the service calls them unconditionally.
 */
#ifndef ABYSS_SERVICE_NOTIFY_H
#define ABYSS_SERVICE_NOTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "abyss/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest message sent (a STATUS= text is cut to fit). */
#define ABYSS_NOTIFY_MSG_MAX 1024

struct abyss_notify {
	int fd; /* -1: notifications off */
	struct sockaddr_un addr;
	socklen_t addrlen;
	int64_t watchdog_ms; /* keep-alive period (half WATCHDOG_USEC); 0 off */
	int64_t last_ping_ms; /* clock of the last WATCHDOG=1 */
};

/* Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from the environment
 * and opens a datagram socket when NOTIFY_SOCKET is set. The socket may be
 * a path ("/run/systemd/notify") or an abstract name ("@name"). The
 * watchdog is on when WATCHDOG_USEC is a positive number and WATCHDOG_PID
 * is unset or this process's pid. Errors (n is then off, fd -1):
 * ABYSS_EINVAL (n NULL, or NOTIFY_SOCKET neither absolute nor abstract),
 * ABYSS_ETOOBIG (name longer than a socket address holds),
 * ABYSS_EUNSUPPORTED (vsock: addresses), ABYSS_EIO (socket() failed). */
int abyss_notify_open(struct abyss_notify *n);

/* The same from explicit values: socket as NOTIFY_SOCKET (NULL or "": off),
 * watchdog_usec as WATCHDOG_USEC (0: off). */
int abyss_notify_open_at(struct abyss_notify *n, const char *socket,
			 uint64_t watchdog_usec);

/* Closes the socket. NULL is ignored; closing twice is harmless. */
void abyss_notify_close(struct abyss_notify *n);

/* Sends one state text such as "READY=1" or "READY=1\nSTATUS=up". Never
 * blocks (a full receiver queue gives ABYSS_EIO). 0 when sent or when
 * notifications are off; ABYSS_EINVAL for NULL arguments, ABYSS_ETOOBIG
 * above ABYSS_NOTIFY_MSG_MAX, ABYSS_EIO when sending failed. */
int abyss_notify_send(struct abyss_notify *n, const char *state);

/* READY=1 (with MAINPID), once startup is complete. */
int abyss_notify_ready(struct abyss_notify *n);
/* STOPPING=1, when shutdown begins. */
int abyss_notify_stopping(struct abyss_notify *n);
/* RELOADING=1 with MONOTONIC_USEC (systemd 253 Type=notify-reload); send
 * abyss_notify_ready again when the reload is done. */
int abyss_notify_reloading(struct abyss_notify *n);
/* STATUS=text, a line shown by `systemctl status`. Newlines and other
 * control characters become spaces (they would start another assignment);
 * a long text is cut. */
int abyss_notify_status(struct abyss_notify *n, const char *text);

/* Watchdog keep-alive, to be called from the main loop as often as
 * convenient: sends WATCHDOG=1 only when watchdog_ms have passed since the
 * last one (now_ms: a monotonic clock in ms), so a loop that stalls longer
 * than WATCHDOG_USEC gets the service restarted. 0 also when off. */
int abyss_notify_watchdog(struct abyss_notify *n, int64_t now_ms);

/* The keep-alive period in ms (half of WATCHDOG_USEC), 0 when off: the
 * longest a poll loop should sleep. */
int64_t abyss_notify_watchdog_ms(const struct abyss_notify *n);

#ifdef __cplusplus
}
#endif
#endif
