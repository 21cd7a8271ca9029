/*
 * Runs inside a test domU for scripts/bench-xs-latency.py: sends xenstore
 * READ requests for "domid" on /dev/xen/xenbus back to back (struct
 * xsd_sockmsg of xs_wire.h: type, req_id, tx_id, len, all u32 LE, then the
 * payload) and times each round trip with CLOCK_MONOTONIC.  Every WINDOW_MS
 * it prints one line to stdout:
 *
 *   XSLAT seq=N n=COUNT max_us=WORST avg_us=MEAN
 *
 * where WORST is the slowest round trip completed in that window.  A request
 * the server sits on shows up in the window in which its reply arrives, with
 * its whole wait.  Built static by the bench script (gcc -static).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WINDOW_MS 250
#define XS_READ 2

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int main(void)
{
	struct {
		uint32_t type, req_id, tx_id, len;
		char path[8];
	} req = { XS_READ, 0, 0, 6, "domid" };
	char reply[4096];
	uint64_t window_start = now_us(), worst = 0, sum = 0, n = 0, seq = 0;
	int fd = open("/dev/xen/xenbus", O_RDWR);

	if (fd < 0) {
		perror("XSLAT open /dev/xen/xenbus");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		uint64_t t0 = now_us();

		req.req_id++;
		if (write(fd, &req, 16 + req.len) != (ssize_t)(16 + req.len)) {
			perror("XSLAT write");
			return 1;
		}
		/* The device hands back one whole reply per read. */
		if (read(fd, reply, sizeof(reply)) < 16) {
			perror("XSLAT read");
			return 1;
		}
		uint64_t t1 = now_us(), rtt = t1 - t0;

		if (rtt > worst)
			worst = rtt;
		sum += rtt;
		n++;
		if (t1 - window_start >= WINDOW_MS * 1000) {
			printf("XSLAT seq=%llu n=%llu max_us=%llu avg_us=%llu\n",
			       (unsigned long long)seq++, (unsigned long long)n,
			       (unsigned long long)worst, (unsigned long long)(sum / n));
			window_start = t1;
			worst = sum = n = 0;
		}
	}
}
