/* test_notify.c - sd_notify messages received on a real AF_UNIX datagram
 * socket the test binds, at a path and in the abstract namespace; the
 * watchdog period and pid rule; no-op without NOTIFY_SOCKET; bad names. */
#include "testutil.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "service/notify.h"

/* Binds a datagram socket to name (path or "@abstract"). */
static int bind_dgram(const char *name)
{
	struct sockaddr_un a;
	size_t len = strlen(name);
	socklen_t alen;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	assert_true(len < sizeof(a.sun_path));
	memcpy(a.sun_path, name, len);
	if (name[0] == '@')
		a.sun_path[0] = '\0';
	alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
			   (name[0] == '/'));
	assert_int_equal(bind(fd, (struct sockaddr *)&a, alen), 0);
	return fd;
}

/* Receives one datagram (NUL-terminated into buf), or returns -1 when none
 * is waiting. */
static ssize_t recv_msg(int fd, char *buf, size_t n)
{
	ssize_t r = recv(fd, buf, n - 1, MSG_DONTWAIT);

	if (r >= 0)
		buf[r] = '\0';
	return r;
}

static void test_notify_path_socket(void **state)
{
	char dir[] = "/tmp/abyss-notify-XXXXXX", path[128], buf[2048], want[64];
	struct abyss_notify n;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/notify", dir);
	fd = bind_dgram(path);
	setenv("NOTIFY_SOCKET", path, 1);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	assert_int_equal(abyss_notify_open(&n), 0);
	assert_true(n.fd >= 0);
	assert_int_equal(abyss_notify_watchdog_ms(&n), 0);

	assert_int_equal(abyss_notify_ready(&n), 0);
	assert_true(recv_msg(fd, buf, sizeof(buf)) > 0);
	snprintf(want, sizeof(want), "READY=1\nMAINPID=%ld", (long)getpid());
	assert_string_equal(buf, want);

	assert_int_equal(abyss_notify_status(&n, "2 holes\nREADY=1 queued"), 0);
	assert_true(recv_msg(fd, buf, sizeof(buf)) > 0);
	/* The newline would have smuggled in a second assignment. */
	assert_string_equal(buf, "STATUS=2 holes READY=1 queued");

	assert_int_equal(abyss_notify_reloading(&n), 0);
	assert_true(recv_msg(fd, buf, sizeof(buf)) > 0);
	assert_true(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
	assert_true(strtoull(buf + 27, NULL, 10) > 0);

	assert_int_equal(abyss_notify_stopping(&n), 0);
	assert_true(recv_msg(fd, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "STOPPING=1");

	/* Without watchdog, WATCHDOG=1 is never sent. */
	assert_int_equal(abyss_notify_watchdog(&n, 1000), 0);
	assert_int_equal(recv_msg(fd, buf, sizeof(buf)), -1);

	abyss_notify_close(&n);
	abyss_notify_close(&n);
	assert_int_equal(n.fd, -1);
	close(fd);
	unlink(path);
	rmdir(dir);
	unsetenv("NOTIFY_SOCKET");
}

static void test_notify_abstract_watchdog(void **state)
{
	char name[64], buf[256], usec[32];
	struct abyss_notify n;
	int fd;

	(void)state;
	snprintf(name, sizeof(name), "@abyss-test-notify-%ld", (long)getpid());
	fd = bind_dgram(name);
	setenv("NOTIFY_SOCKET", name, 1);
	setenv("WATCHDOG_USEC", "200000", 1);
	snprintf(usec, sizeof(usec), "%ld", (long)getpid());
	setenv("WATCHDOG_PID", usec, 1);
	assert_int_equal(abyss_notify_open(&n), 0);
	assert_int_equal(abyss_notify_watchdog_ms(&n), 100);

	assert_int_equal(abyss_notify_watchdog(&n, 5000), 0);
	assert_true(recv_msg(fd, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "WATCHDOG=1");
	/* Within the period: nothing. */
	assert_int_equal(abyss_notify_watchdog(&n, 5099), 0);
	assert_int_equal(recv_msg(fd, buf, sizeof(buf)), -1);
	assert_int_equal(abyss_notify_watchdog(&n, 5100), 0);
	assert_true(recv_msg(fd, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "WATCHDOG=1");
	abyss_notify_close(&n);

	/* The watchdog of another process is not ours to feed. */
	setenv("WATCHDOG_PID", "1", 1);
	assert_int_equal(abyss_notify_open(&n), 0);
	assert_int_equal(abyss_notify_watchdog_ms(&n), 0);
	assert_int_equal(abyss_notify_watchdog(&n, 9000), 0);
	assert_int_equal(recv_msg(fd, buf, sizeof(buf)), -1);
	/* But READY still goes out. */
	assert_int_equal(abyss_notify_send(&n, "READY=1"), 0);
	assert_true(recv_msg(fd, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "READY=1");
	abyss_notify_close(&n);

	/* A malformed WATCHDOG_USEC turns the watchdog off. */
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "30s", 1);
	assert_int_equal(abyss_notify_open(&n), 0);
	assert_int_equal(abyss_notify_watchdog_ms(&n), 0);
	abyss_notify_close(&n);

	close(fd);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
}

static void test_notify_noop_without_socket(void **state)
{
	struct abyss_notify n;

	(void)state;
	unsetenv("NOTIFY_SOCKET");
	setenv("WATCHDOG_USEC", "1000000", 1);
	assert_int_equal(abyss_notify_open(&n), 0);
	assert_int_equal(n.fd, -1);
	assert_int_equal(abyss_notify_ready(&n), 0);
	assert_int_equal(abyss_notify_status(&n, "x"), 0);
	assert_int_equal(abyss_notify_watchdog(&n, 1), 0);
	assert_int_equal(abyss_notify_watchdog_ms(&n), 0);
	assert_int_equal(abyss_notify_stopping(&n), 0);
	abyss_notify_close(&n);
	unsetenv("WATCHDOG_USEC");
}

static void test_notify_bad_names(void **state)
{
	struct abyss_notify n;
	char longname[200];

	(void)state;
	assert_int_equal(abyss_notify_open_at(&n, "relative/sock", 0),
			 ABYSS_EINVAL);
	assert_int_equal(n.fd, -1);
	assert_int_equal(abyss_notify_open_at(&n, "vsock:2:1234", 0),
			 ABYSS_EUNSUPPORTED);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(abyss_notify_open_at(&n, longname, 0), ABYSS_ETOOBIG);
	assert_int_equal(n.fd, -1);
	assert_int_equal(abyss_notify_open_at(NULL, "/x", 0), ABYSS_EINVAL);
	assert_int_equal(abyss_notify_send(NULL, "READY=1"), ABYSS_EINVAL);
	/* Nobody listens there: sending fails, and says so. */
	assert_int_equal(abyss_notify_open_at(&n, "/nonexistent/abyss", 0), 0);
	assert_int_equal(abyss_notify_ready(&n), ABYSS_EIO);
	abyss_notify_close(&n);
}

static void test_notify_status_cut(void **state)
{
	char name[64], buf[2048], text[1200];
	struct abyss_notify n;
	size_t i;
	int fd;

	(void)state;
	snprintf(name, sizeof(name), "@abyss-test-status-%ld", (long)getpid());
	fd = bind_dgram(name);
	assert_int_equal(abyss_notify_open_at(&n, name, 0), 0);
	/* "ee" then two-byte characters: 7 + 2 + 1015 bytes reach the limit,
	 * so the cut falls inside a character. */
	text[0] = text[1] = 'e';
	for (i = 2; i + 2 < sizeof(text); i += 2) {
		text[i] = (char)0xc3;
		text[i + 1] = (char)0xa9;
	}
	text[i] = '\0';
	assert_int_equal(abyss_notify_status(&n, text), 0);
	assert_true(recv_msg(fd, buf, sizeof(buf)) > 0);
	assert_true(strlen(buf) <= ABYSS_NOTIFY_MSG_MAX);
	/* 7 + 2 + whole two-byte characters: an even number of é bytes. */
	assert_int_equal(strlen(buf), 1023);
	assert_int_equal((strlen(buf) - 9) % 2, 0);
	assert_int_equal((unsigned char)buf[strlen(buf) - 1], 0xa9);
	abyss_notify_close(&n);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_notify_path_socket),
	    cmocka_unit_test(test_notify_abstract_watchdog),
	    cmocka_unit_test(test_notify_noop_without_socket),
	    cmocka_unit_test(test_notify_bad_names),
	    cmocka_unit_test(test_notify_status_cut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
