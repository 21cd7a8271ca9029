/*
 * A hostile xenstore client for keel's test domU (put in its ramdisk as
 * /bin/xshostile by scripts/mk-domu.sh, built there with the host's gcc
 * -static).  It speaks the raw wire protocol of <xen/io/xs_wire.h> through
 * Linux's /dev/xen/xenbus and prints one "KEEL-TEST <name> ok|fail <detail>"
 * line per check, then "KEEL-TEST-DONE", as the shell test scripts do.
 *
 *   xshostile txflood N PATHLEN   one transaction, N WRITEs of an empty value
 *                                 to a PATHLEN-byte relative path; reports the
 *                                 first error, then holds the transaction open
 *                                 for ever (dom0 keeps what it charged)
 *   xshostile spin                refills the ring for ever (DIRECTORY "/"),
 *                                 replies drained by a child process
 *   xshostile watchflood NWATCH   NWATCH watches on data/w, then writes data/w
 *                                 for ever without reading any reply or event
 *   xshostile rtt N               not hostile: N READs of its own name one at a
 *                                 time; prints the median and worst round trip
 *
 * Never returns in any mode (PID 1's test script runs it last).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <time.h>

enum { XS_DIRECTORY = 1, XS_WATCH = 4, XS_TRANSACTION_START = 6, XS_WRITE = 11, XS_ERROR = 16 };

struct hdr {
	uint32_t type, req_id, tx_id, len;
};

static int fd;

static void done_forever(void)
{
	printf("KEEL-TEST-DONE\n");
	fflush(stdout);
	for (;;)
		pause();
}

static int send_msg(uint32_t type, uint32_t tx, const void *a, size_t la, const void *b, size_t lb)
{
	static char buf[4096 + sizeof(struct hdr)];
	struct hdr h = { type, 7, tx, (uint32_t)(la + lb) };

	if (la + lb > 4096)
		return -1;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), a, la);
	if (lb)
		memcpy(buf + sizeof(h) + la, b, lb);
	return write(fd, buf, sizeof(h) + la + lb) == (ssize_t)(sizeof(h) + la + lb) ? 0 : -1;
}

/* Reads one reply (skipping watch events); its payload NUL-terminated in out. */
static int read_reply(struct hdr *h, char *out, size_t max)
{
	static char buf[4096 + sizeof(struct hdr) + 1];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		if (n < (ssize_t)sizeof(*h))
			return -1;
		memcpy(h, buf, sizeof(*h));
		if (h->type == 15) /* XS_WATCH_EVENT */
			continue;
		size_t l = h->len < max - 1 ? h->len : max - 1;
		memcpy(out, buf + sizeof(*h), l);
		out[l] = '\0';
		return 0;
	}
}

static void txflood(long n, long pathlen)
{
	char path[4096], rep[4200];
	struct hdr h;
	long i;

	if (send_msg(XS_TRANSACTION_START, 0, "", 1, NULL, 0) || read_reply(&h, rep, sizeof(rep)) ||
	    h.type == XS_ERROR) {
		printf("KEEL-TEST txflood fail no transaction: %s\n", rep);
		done_forever();
	}
	uint32_t tx = (uint32_t)strtoul(rep, NULL, 10);
	if (pathlen < 8 || pathlen > 3000)
		pathlen = 2048;
	memcpy(path, "data/", 5);
	memset(path + 5, 'a', (size_t)pathlen - 5);
	path[pathlen] = '\0';
	for (i = 0; i < n; i++) {
		if (send_msg(XS_WRITE, tx, path, (size_t)pathlen + 1, NULL, 0) ||
		    read_reply(&h, rep, sizeof(rep))) {
			printf("KEEL-TEST txflood fail i/o error at write %ld: %s\n", i, strerror(errno));
			done_forever();
		}
		if (h.type == XS_ERROR)
			break;
	}
	if (i < n)
		printf("KEEL-TEST txflood ok refused write=%ld error=%s\n", i, rep);
	else
		printf("KEEL-TEST txflood fail all %ld writes accepted\n", n);
	done_forever();
}

static void spin(void)
{
	pid_t child = fork();

	if (child == 0) {
		static char buf[65536];
		for (;;)
			if (read(fd, buf, sizeof(buf)) <= 0)
				usleep(1000);
	}
	printf("KEEL-TEST spin ok refilling the ring for ever\n");
	printf("KEEL-TEST-DONE\n");
	fflush(stdout);
	for (;;)
		if (send_msg(XS_DIRECTORY, 0, "/", 2, NULL, 0))
			usleep(100);
}

static void watchflood(long nwatch)
{
	char tok[32];
	unsigned long i;

	for (long w = 0; w < nwatch; w++) {
		int l = snprintf(tok, sizeof(tok), "t%ld", w);
		send_msg(XS_WATCH, 0, "data/w", 7, tok, (size_t)l + 1);
	}
	printf("KEEL-TEST watchflood ok %ld watches set, flooding\n", nwatch);
	printf("KEEL-TEST-DONE\n");
	fflush(stdout);
	for (i = 0;; i++) {
		int l = snprintf(tok, sizeof(tok), "%lu", i);
		if (send_msg(XS_WRITE, 0, "data/w", 7, tok, (size_t)l))
			usleep(1000);
	}
}

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

static void rtt(long n)
{
	static long long t[100000];
	char rep[4200];
	struct hdr h;

	if (n < 1 || n > 100000)
		n = 1000;
	printf("KEEL-RTT-START\n");
	fflush(stdout);
	for (long i = 0; i < n; i++) {
		long long t0 = now_us();
		if (send_msg(2 /* XS_READ */, 0, "name", 5, NULL, 0) || read_reply(&h, rep, sizeof(rep)) ||
		    h.type == XS_ERROR) {
			printf("KEEL-TEST rtt fail read %ld: %s\n", i, rep);
			done_forever();
		}
		t[i] = now_us() - t0;
	}
	qsort(t, (size_t)n, sizeof(t[0]), cmp_ll);
	printf("KEEL-TEST rtt ok n=%ld median_us=%lld worst_us=%lld\n", n, t[n / 2], t[n - 1]);
	done_forever();
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = open("/dev/xen/xenbus", O_RDWR);
	if (fd < 0) {
		printf("KEEL-TEST xshostile fail open /dev/xen/xenbus: %s\n", strerror(errno));
		done_forever();
	}
	if (argc >= 4 && !strcmp(argv[1], "txflood"))
		txflood(atol(argv[2]), atol(argv[3]));
	if (argc >= 2 && !strcmp(argv[1], "spin"))
		spin();
	if (argc >= 3 && !strcmp(argv[1], "rtt"))
		rtt(atol(argv[2]));
	if (argc >= 3 && !strcmp(argv[1], "watchflood"))
		watchflood(atol(argv[2]));
	printf("KEEL-TEST xshostile fail usage\n");
	done_forever();
	return 0;
}
