/*
 * Backend-side xenbus helpers (include/keel/xenbus.h): the node reads and
 * writes every backend's control path makes, over keel's own xenstore.
 */
#include <keel/kernel.h>
#include <keel/xenbus.h>
#include <keel/xenstored.h>
#include <keel/xsd.h>
#include <lib/printf.h>

int xenbus_printf(const char *dir, const char *node, const char *fmt, ...)
{
	char path[160], val[160];
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	ksnprintf(path, sizeof(path), "%s/%s", dir, node);
	return xs_write(xenstore, path, val, strlen(val));
}

int xenbus_read_uint(const char *dir, const char *node, uint64_t *out)
{
	char path[160], *val, *end;
	size_t len;

	ksnprintf(path, sizeof(path), "%s/%s", dir, node);
	int rc = xs_read(xenstore, path, &val, &len);
	if (rc)
		return rc;
	/* *out only for a whole number: a caller that keeps a default on
	 * error ("5x" read as 5 would pass every bound check after it). */
	uint64_t x = strtoull(val, &end, 10);
	rc = (end == val || *end) ? -EINVAL : 0;
	if (rc == 0)
		*out = x;
	kfree(val);
	return rc;
}

bool xenbus_read_flag(const char *dir, const char *node)
{
	uint64_t x = 0;

	return xenbus_read_uint(dir, node, &x) == 0 && x == 1;
}

int xenbus_set_state(const char *dir, enum xenbus_state s)
{
	return xenbus_printf(dir, "state", "%d", (int)s);
}

enum xenbus_state xenbus_read_state(const char *dir)
{
	uint64_t st;

	if (xenbus_read_uint(dir, "state", &st) || st > XenbusStateReconfigured)
		return XenbusStateUnknown;
	return (enum xenbus_state)st;
}
