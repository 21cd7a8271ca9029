/*
 * What the guest-side test programs (nethostile.c, blkhostile.c) share:
 * console output in the KEEL-TEST format the tests read, a monotonic clock,
 * and xenstore's raw wire protocol on /dev/xen/xenbus.  Built into each
 * program (static functions); the including file defines `xs_fd` (the open
 * /dev/xen/xenbus) first and includes <stdarg.h>, <stdio.h>, <string.h>,
 * <time.h>, <unistd.h> and <stdint.h>.
 */
#ifndef KEEL_TESTS_GUESTXS_H
#define KEEL_TESTS_GUESTXS_H

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void result(const char *mode, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void result(const char *mode, int ok, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	out("KEEL-TEST %s %s %s\n", mode, ok ? "ok" : "fail", buf);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned int ms)
{
	usleep(ms * 1000);
}

/* ---- xenstore (raw wire protocol on /dev/xen/xenbus) ---- */

enum { XS_DIRECTORY = 1, XS_READ = 2, XS_WRITE = 11, XS_ERROR = 16, XS_WATCH_EVENT = 15 };

struct xs_hdr {
	uint32_t type, req_id, tx_id, len;
};

static int read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* One request; the reply's payload NUL-terminated in reply (its length in
 * *rlen).  0 on success, -1 on an XS_ERROR reply or a broken connection. */
static int xs_req(uint32_t type, const char *path, const char *val, char *reply, size_t max,
		  size_t *rlen)
{
	char msg[4096 + sizeof(struct xs_hdr)], body[4097];
	size_t lp = strlen(path) + 1, lv = val ? strlen(val) : 0;
	struct xs_hdr h = { type, 1, 0, (uint32_t)(lp + lv) };

	if (lp + lv > 4096)
		return -1;
	memcpy(msg, &h, sizeof(h));
	memcpy(msg + sizeof(h), path, lp);
	if (lv)
		memcpy(msg + sizeof(h) + lp, val, lv);
	if (write(xs_fd, msg, sizeof(h) + lp + lv) != (ssize_t)(sizeof(h) + lp + lv))
		return -1;
	for (;;) {
		if (read_full(xs_fd, &h, sizeof(h)) || h.len > 4096 || read_full(xs_fd, body, h.len))
			return -1;
		if (h.type != XS_WATCH_EVENT)
			break;
	}
	body[h.len] = '\0';
	if (reply) {
		size_t l = h.len < max - 1 ? h.len : max - 1;
		memcpy(reply, body, l);
		reply[l] = '\0';
		if (rlen)
			*rlen = l;
	}
	return h.type == XS_ERROR ? -1 : 0;
}

static int xs_read(const char *path, char *buf, size_t max)
{
	return xs_req(XS_READ, path, NULL, buf, max, NULL);
}

static int xs_write(const char *path, const char *val)
{
	char err[64];
	return xs_req(XS_WRITE, path, val, err, sizeof(err), NULL);
}

static int xs_printf(const char *dir, const char *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int xs_printf(const char *dir, const char *node, const char *fmt, ...)
{
	char path[256], val[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", dir, node);
	return xs_write(path, val);
}

/* Kicks an event channel bound through /dev/xen/evtchn (the including file
 * defines `evt_fd` and includes <sys/ioctl.h>, <errno.h> and Linux's
 * <xen/evtchn.h>). */
static void notify(unsigned int port)
{
	struct ioctl_evtchn_notify n = { .port = port };

	if (ioctl(evt_fd, IOCTL_EVTCHN_NOTIFY, &n))
		out("%s: IOCTL_EVTCHN_NOTIFY(%u): %s\n", program_invocation_short_name, port,
		    strerror(errno));
}

#endif
