/*
 * keel's log: every klog/kprintf line goes to the console and into a 64 KiB
 * ring that `dmesg` reads back.  klog lines get a "[seconds.micro]" stamp of
 * Xen system time, as Linux's printk does.
 */
#include <keel/irq.h>
#include <keel/kernel.h>
#include <lib/logring.h>
#include <lib/printf.h>

static char log_buf[64 * 1024];
static struct logring log_ring = { log_buf, sizeof(log_buf), 0 };
static bool at_line_start = true;
static bool time_ready;

void log_init(void)
{
	time_ready = true;
}

static void emit(const char *s, size_t len)
{
	logring_write(&log_ring, s, len);
	console_write(s, len);
}

static void vlog(bool stamp, const char *fmt, va_list ap)
{
	char buf[512];
	int n = kvsnprintf(buf, sizeof(buf), fmt, ap);
	size_t len = MIN((size_t)n, sizeof(buf) - 1);
	unsigned long f = irq_save();

	if (stamp && at_line_start && time_ready) {
		char ts[32];
		uint64_t ns = time_now_ns() - boot_entry_ns;
		int tl = ksnprintf(ts, sizeof(ts), "[%5llu.%06llu] ",
				   (unsigned long long)(ns / 1000000000ULL),
				   (unsigned long long)(ns % 1000000000ULL / 1000));
		emit(ts, (size_t)tl);
	}
	emit(buf, len);
	if (len)
		at_line_start = buf[len - 1] == '\n';
	irq_restore(f);
}

void klog(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(true, fmt, ap);
	va_end(ap);
}

bool klog_due(uint64_t *last_ns)
{
	uint64_t now = time_now_ns();
	if (*last_ns && now - *last_ns < 1000000000ull)
		return false;
	*last_ns = now;
	return true;
}

void kprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(false, fmt, ap);
	va_end(ap);
}

void log_record(const char *s, size_t len)
{
	unsigned long f = irq_save();
	logring_write(&log_ring, s, len);
	if (len)
		at_line_start = s[len - 1] == '\n';
	irq_restore(f);
}

size_t log_read(uint64_t *pos, char *out, size_t max)
{
	unsigned long f = irq_save();
	size_t n = logring_read(&log_ring, pos, out, max);
	irq_restore(f);
	return n;
}

void assert_failed(const char *expr, const char *file, int line)
{
	panic("assertion failed: %s at %s:%d", expr, file, line);
}

void panic(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	irq_disable();
	va_start(ap, fmt);
	kvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	klog("keel: PANIC: %s\n", buf);
	power_crash();
}
