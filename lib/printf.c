/*
 * keel's vsnprintf: the subset of C99 formats the kernel uses (d i u x X o p s
 * c %, flags - 0 + space #, width, precision, length hh h l ll z t j).  No
 * floating point.  Builds for the host as kvsnprintf so unit tests can compare
 * it with libc's.
 */
#include <lib/base.h>
#include <lib/printf.h>

struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_padding(struct out *o, char c, int n)
{
	while (n-- > 0)
		put(o, c);
}

int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };

	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			put(&o, *p);
			continue;
		}
		p++;
		bool left = false, zero = false, plus = false, space = false, alt = false;
		for (;; p++) {
			if (*p == '-')
				left = true;
			else if (*p == '0')
				zero = true;
			else if (*p == '+')
				plus = true;
			else if (*p == ' ')
				space = true;
			else if (*p == '#')
				alt = true;
			else
				break;
		}
		int width = 0, prec = -1;
		if (*p == '*') {
			width = va_arg(ap, int);
			if (width < 0) {
				left = true;
				width = -width;
			}
			p++;
		} else {
			while (*p >= '0' && *p <= '9')
				width = width * 10 + (*p++ - '0');
		}
		if (*p == '.') {
			p++;
			prec = 0;
			if (*p == '*') {
				prec = va_arg(ap, int);
				p++;
			} else {
				while (*p >= '0' && *p <= '9')
					prec = prec * 10 + (*p++ - '0');
			}
		}
		int lng = 0; /* -2 hh, -1 h, 1 l, 2 ll/z/t/j */
		for (;; p++) {
			if (*p == 'h')
				lng--;
			else if (*p == 'l')
				lng++;
			else if (*p == 'z' || *p == 't' || *p == 'j')
				lng = 2;
			else
				break;
		}
		char conv = *p;
		if (!conv)
			break;
		if (conv == '%') {
			put(&o, '%');
			continue;
		}
		if (conv == 'c') {
			if (!left)
				put_padding(&o, ' ', width - 1);
			put(&o, (char)va_arg(ap, int));
			if (left)
				put_padding(&o, ' ', width - 1);
			continue;
		}
		if (conv == 's') {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			int n = 0;
			while (s[n] && (prec < 0 || n < prec))
				n++;
			if (!left)
				put_padding(&o, ' ', width - n);
			for (int i = 0; i < n; i++)
				put(&o, s[i]);
			if (left)
				put_padding(&o, ' ', width - n);
			continue;
		}

		unsigned long long v;
		bool neg = false;
		unsigned int base = 10;
		bool upper = false;
		const char *prefix = "";
		switch (conv) {
		case 'd':
		case 'i': {
			long long sv;
			if (lng >= 2)
				sv = va_arg(ap, long long);
			else if (lng == 1)
				sv = va_arg(ap, long);
			else
				sv = va_arg(ap, int);
			if (lng == -1)
				sv = (short)sv;
			else if (lng <= -2)
				sv = (signed char)sv;
			neg = sv < 0;
			v = neg ? 0ULL - (unsigned long long)sv : (unsigned long long)sv;
			break;
		}
		case 'p':
			v = (uintptr_t)va_arg(ap, void *);
			base = 16;
			prefix = "0x";
			break;
		case 'u':
		case 'x':
		case 'X':
		case 'o':
			if (lng >= 2)
				v = va_arg(ap, unsigned long long);
			else if (lng == 1)
				v = va_arg(ap, unsigned long);
			else
				v = va_arg(ap, unsigned int);
			if (lng == -1)
				v = (unsigned short)v;
			else if (lng <= -2)
				v = (unsigned char)v;
			if (conv == 'x' || conv == 'X') {
				base = 16;
				upper = conv == 'X';
				if (alt && v)
					prefix = upper ? "0X" : "0x";
			} else if (conv == 'o') {
				base = 8;
				if (alt)
					prefix = "0";
			}
			break;
		default:
			/* Unknown conversion: print it verbatim. */
			put(&o, '%');
			put(&o, conv);
			continue;
		}

		char digits[24];
		int nd = 0;
		const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
		do {
			digits[nd++] = set[v % base];
			v /= base;
		} while (v);
		if (prec == 0 && nd == 1 && digits[0] == '0')
			nd = 0;
		int zeros = prec > nd ? prec - nd : 0;
		char sign = neg ? '-' : plus ? '+' : space ? ' ' : 0;
		int plen = (int)strlen(prefix);
		int total = nd + zeros + (sign ? 1 : 0) + plen;
		if (zero && !left && prec < 0 && width > total) {
			zeros += width - total;
			total = width;
		}
		if (!left)
			put_padding(&o, ' ', width - total);
		if (sign)
			put(&o, sign);
		for (int i = 0; i < plen; i++)
			put(&o, prefix[i]);
		put_padding(&o, '0', zeros);
		while (nd)
			put(&o, digits[--nd]);
		if (left)
			put_padding(&o, ' ', width - total);
	}
	if (size)
		o.buf[o.len < size ? o.len : size - 1] = 0;
	return (int)o.len;
}

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = kvsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

#ifndef KEEL_HOST
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	return kvsnprintf(buf, size, fmt, ap);
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = kvsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
#endif
