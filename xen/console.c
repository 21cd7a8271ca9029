/*
 * dom0's own console: output through the console_io hypercall (it reaches
 * Xen's serial line unprefixed, fact 21), input from VIRQ_CONSOLE and
 * CONSOLEIO_read into a small ring that the shell reads.  Guest consoles are
 * the console backend's business, not this file's.
 */
#include <keel/evtchn.h>
#include <keel/hypercall.h>
#include <keel/irq.h>
#include <keel/kernel.h>

#define INPUT_SIZE 512

static char input[INPUT_SIZE];
static unsigned int in_head, in_tail; /* head: next write, tail: next read */
static struct waitq input_wq;

void console_write(const char *s, size_t len)
{
	while (len) {
		int chunk = (int)MIN(len, (size_t)1024);
		hyp_console_io(CONSOLEIO_write, chunk, (char *)s);
		s += chunk;
		len -= chunk;
	}
}

void console_puts(const char *s)
{
	console_write(s, strlen(s));
}

/* VIRQ_CONSOLE: Xen has serial input for dom0. Upcall context. */
static void console_virq(evtchn_port_t port, void *ctx)
{
	char buf[64];
	long n;

	(void)port;
	(void)ctx;
	while ((n = hyp_console_io(CONSOLEIO_read, sizeof(buf), buf)) > 0) {
		for (long i = 0; i < n; i++) {
			if (in_head - in_tail >= INPUT_SIZE)
				break; /* full: drop, the typist is far ahead */
			input[in_head++ % INPUT_SIZE] = buf[i];
		}
	}
	waitq_wake_all(&input_wq);
}

void console_init(void)
{
	evtchn_port_t port;
	int rc = evtchn_bind_virq(VIRQ_CONSOLE, console_virq, NULL, &port);

	if (rc)
		klog("console: cannot bind VIRQ_CONSOLE: %d (no console input)\n", rc);
}

int console_trygetc(void)
{
	unsigned long f = irq_save();
	int c = -EAGAIN;

	if (in_tail != in_head)
		c = (unsigned char)input[in_tail++ % INPUT_SIZE];
	irq_restore(f);
	return c;
}

static bool input_ready(void *ctx)
{
	(void)ctx;
	return in_tail != in_head;
}

struct waitq *console_input_waitq(void)
{
	return &input_wq;
}

int console_getc(void)
{
	for (;;) {
		int c = console_trygetc();
		if (c >= 0)
			return c;
		waitq_wait_until(&input_wq, input_ready, NULL, 0);
	}
}
