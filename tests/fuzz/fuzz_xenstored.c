/* fuzz-srcs: xenstored/store.c xenstored/tree.c xenstored/perms.c xenstored/domain.c xenstored/watch.c xenstored/transaction.c xenstored/proto.c lib/hashtable.c
 *
 * libFuzzer target for keel's xenstored: the input is a script of steps
 * that feed byte streams (raw, or as framed requests) into several conns —
 * dom0, two unprivileged domUs, a privileged driver domain — drain their
 * output, kill domains and use dom0's in-process API.  A conn whose stream
 * breaks is freed and reopened, as the ring transport would.  Small quotas
 * make the limits reachable.
 */
#include <lib/base.h>
#include <keel/xenstored.h>
#include <xen/io/xs_wire.h>
#include "../../xenstored/internal.h"

#define NCONN 4

static const uint16_t conn_domid[NCONN] = { 0, 5, 6, 7 };

struct fuzz {
	struct xs_store *store;
	struct xs_conn *conn[NCONN];
	const uint8_t *p;
	size_t left;
};

static struct fuzz *cur;

static unsigned take(struct fuzz *f, unsigned bytes)
{
	unsigned v = 0;

	while (bytes-- && f->left) {
		v = (v << 8) | *f->p++;
		f->left--;
	}
	return v;
}

static void open_conn(struct fuzz *f, int i)
{
	f->conn[i] = xs_conn_new(f->store, conn_domid[i]);
	if (f->conn[i] && i == 3)
		xs_conn_set_privileged(f->conn[i], true);
}

/* The transport: a released domain's conn goes, a new one takes its place
 * (only for the fixed domids; others have no conn here). */
static int release_hook(void *ctx, uint16_t domid)
{
	struct fuzz *f = ctx;

	for (int i = 0; i < NCONN; i++) {
		if (f->conn[i] && conn_domid[i] == domid) {
			xs_conn_free(f->conn[i]);
			f->conn[i] = NULL;
		}
	}
	return 0;
}

static int introduce_hook(void *ctx, uint16_t domid, uint64_t gfn,
			  uint32_t port)
{
	(void)ctx;
	(void)gfn;
	return domid == 13 || port == 13 ? -EINVAL : 0;
}

static void local_cb(void *ctx, const char *path, const char *token)
{
	struct fuzz *f = ctx;

	/* Re-enter the store as a real toolstack callback would. */
	if (strlen(path) + strlen(token) < 40 && token[0] == 'w')
		xs_write(f->store, "/local/cb", token, strlen(token));
}

static const struct xs_host_ops ops = {
	.introduce = introduce_hook,
	.release = release_hook,
};

static void feed(struct fuzz *f, int i, const void *bytes, size_t len)
{
	if (!f->conn[i])
		open_conn(f, i);
	if (f->conn[i] && xs_conn_input(f->conn[i], bytes, len)) {
		xs_conn_free(f->conn[i]);
		f->conn[i] = NULL;
	}
}

static void drain(struct fuzz *f, int i, size_t max)
{
	unsigned char buf[512];

	while (f->conn[i] && max) {
		size_t n = xs_conn_output(f->conn[i], buf, MIN(max, sizeof(buf)));

		if (!n)
			break;
		max -= n;
	}
}

/* A short NUL-terminated string from the input (for local API steps). */
static void take_str(struct fuzz *f, char *out, size_t size)
{
	size_t n = take(f, 1) % size, i;

	for (i = 0; i < n && f->left; i++)
		out[i] = (char)take(f, 1);
	out[i] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz f = { .p = data, .left = size };
	struct xs_quota q;
	unsigned char msg[sizeof(struct xsd_sockmsg) + 512];
	char a[64], b[64];

	cur = &f;
	f.store = xs_store_new();
	if (!f.store)
		return 0;
	xs_store_set_host(f.store, &ops, &f);
	xs_store_get_quota(f.store, &q);
	q.nodes_per_domain = 40;
	q.watches_per_domain = 8;
	q.transactions_per_conn = 3;
	q.tx_bytes = 16384;
	q.output_bytes = 8192;
	q.output_bytes_priv = 65536;
	xs_store_set_quota(f.store, &q);
	for (int i = 0; i < NCONN; i++)
		open_conn(&f, i);
	xs_write(f.store, "/local/domain/5/name", "5", 1);
	xs_set_perms(f.store, "/local/domain/5", &(struct xs_perm){ 5, 0 }, 1);

	while (f.left) {
		unsigned op = take(&f, 1), i = op >> 4 & (NCONN - 1);
		size_t len;

		switch (op & 15) {
		case 0: case 1: case 2: case 3: /* raw bytes */
			len = take(&f, 1);
			len = MIN(len, f.left);
			feed(&f, (int)i, f.p, len);
			f.p += len;
			f.left -= len;
			break;
		case 4: case 5: case 6: case 7: { /* a framed request */
			struct xsd_sockmsg h;

			h.type = take(&f, 1) % (XS_TYPE_COUNT + 2);
			h.req_id = op;
			h.tx_id = take(&f, 1) % 4;
			len = take(&f, 1) * 2;
			len = MIN(len, MIN(f.left, sizeof(msg) - sizeof(h)));
			h.len = (uint32_t)len;
			memcpy(msg, &h, sizeof(h));
			memcpy(msg + sizeof(h), f.p, len);
			f.p += len;
			f.left -= len;
			feed(&f, (int)i, msg, sizeof(h) + len);
			break;
		}
		case 8: case 9:
			drain(&f, (int)i, take(&f, 2));
			break;
		case 10:
			xs_domain_gone(f.store, (uint16_t)(take(&f, 1) % 10));
			break;
		case 11:
			xs_store_run_pending(f.store);
			/* Removed subtrees are freed in slices meanwhile. */
			xs_store_reap(f.store, take(&f, 1) % 8);
			if (op & 0x10)
				xs_domain_disconnect(f.store, (uint16_t)(take(&f, 1) % 10));
			break;
		case 12:
			take_str(&f, a, sizeof(a));
			take_str(&f, b, sizeof(b));
			if (op & 0x10)
				xs_watch_local(f.store, a, b, local_cb, &f);
			else
				xs_unwatch_local(f.store, a, b);
			break;
		case 13: {
			char *v, **names;
			size_t vl;
			unsigned n;

			take_str(&f, a, sizeof(a));
			if (!xs_read(f.store, a, &v, &vl))
				kfree(v);
			if (!xs_directory(f.store, a, &names, &n))
				kfree(names);
			if (op & 0x10)
				xs_rm(f.store, a);
			else
				xs_write(f.store, a, "v", 1);
			break;
		}
		case 14:
			xs_introduce_domain(f.store, (uint16_t)(take(&f, 1) % 10),
					    1, take(&f, 1));
			break;
		case 15:
			xs_set_target(f.store, (uint16_t)(take(&f, 1) % 10),
				      (uint16_t)(take(&f, 1) % 10));
			break;
		}
	}
	xs_store_run_pending(f.store);
	if (xs_store_selfcheck(f.store))
		__builtin_trap();
	xs_store_free(f.store);
	cur = NULL;
	return 0;
}
