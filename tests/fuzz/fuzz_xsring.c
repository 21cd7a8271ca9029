/* fuzz-srcs: xenstored/xsring.c xenstored/store.c xenstored/tree.c xenstored/perms.c xenstored/domain.c xenstored/watch.c xenstored/transaction.c xenstored/proto.c lib/hashtable.c
 *
 * libFuzzer target for the xenstore ring transport (xenstored/xsring.c) with
 * the real store behind it.  The input is a script of guest actions on one
 * struct xenstore_domain_interface -- set any index to anything (near the
 * other or anywhere), write any bytes as requests (partial headers,
 * oversized lengths, garbage), read some replies or never read, scribble on
 * the page -- interleaved with server passes of any budget.  Every pass must
 * end in 0 or a connection error, stay inside the page (ASan: the page is
 * its own allocation), take no more than the ring and the budget allow, and
 * keep the conn's queued output within its cap plus one message; after an
 * error the ring is stopped and a fresh conn and page are used, as the
 * transport does.
 */
#include <lib/base.h>
#include <keel/xenstored.h>
#include <xen/io/xs_wire.h>
#include "../../xenstored/internal.h"
#include "../../xenstored/xsring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct script {
	const uint8_t *p;
	size_t left;
};

static uint32_t take(struct script *s, size_t n)
{
	uint32_t v = 0;

	while (n-- && s->left) {
		v = v << 8 | *s->p++;
		s->left--;
	}
	return v;
}

static void guest_put(struct xenstore_domain_interface *r, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n && r->req_prod - r->req_cons < XENSTORE_RING_SIZE; i++)
		r->req[MASK_XENSTORE_IDX(r->req_prod++)] = (char)b[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct script s = { data, size };
	struct xs_store *store = xs_store_new();
	struct xenstore_domain_interface *ring = calloc(1, sizeof(*ring));
	struct xs_conn *conn;
	struct xs_quota q;

	if (!store || !ring)
		abort();
	xs_store_get_quota(store, &q);
	/* Small caps reach the interesting edges with short inputs. */
	q.output_bytes = 2048;
	xs_store_set_quota(store, &q);
	conn = xs_conn_new(store, 7);
	xsring_init(ring);
	xs_write(store, "/local/domain/7/data", "", 0);
	xs_set_perms(store, "/local/domain/7/data", &(struct xs_perm){ 7, 0 }, 1);
	while (s.left) {
		uint32_t op = take(&s, 1);

		switch (op % 6) {
		case 0: /* guest sets indices */
			if (op & 0x40) {
				ring->req_cons = take(&s, 4);
				ring->req_prod = op & 0x80 ? ring->req_cons + take(&s, 2) % 1100 :
							     take(&s, 4);
			} else {
				ring->rsp_cons = take(&s, 4);
				ring->rsp_prod = op & 0x80 ? ring->rsp_cons + take(&s, 2) % 1100 :
							     take(&s, 4);
			}
			break;
		case 1: { /* guest writes request bytes (maybe a framed header) */
			size_t n = take(&s, 2) % 1100;
			if (op & 0x80) {
				struct xsd_sockmsg h = { take(&s, 1) % 24, 1, 0, take(&s, 2) };
				guest_put(ring, (const uint8_t *)&h, sizeof(h));
			}
			n = MIN(n, s.left);
			guest_put(ring, s.p, n);
			s.p += n;
			s.left -= n;
			break;
		}
		case 2: /* guest reads some replies */
			if (ring->rsp_prod - ring->rsp_cons <= XENSTORE_RING_SIZE)
				ring->rsp_cons += MIN(take(&s, 2),
						      ring->rsp_prod - ring->rsp_cons);
			break;
		case 3: { /* guest scribbles on the page */
			size_t at = take(&s, 2) % sizeof(*ring);
			((uint8_t *)ring)[at] = (uint8_t)take(&s, 1);
			break;
		}
		default: { /* a server pass */
			struct xsring_budget b = { take(&s, 1) % 40 + 1,
						   take(&s, 2) % 5000 + 1 };
			struct xsring_result res;
			XENSTORE_RING_IDX cons0 = ring->req_cons;
			int r = xsring_serve(ring, conn, &b, &res);

			if (res.in_bytes > b.bytes ||
			    (!r && ring->req_cons - cons0 != res.in_bytes))
				abort();
			if (conn->out_bytes > q.output_bytes + sizeof(struct xsd_sockmsg) +
						      XENSTORE_PAYLOAD_MAX)
				abort();
			if (r) {
				/* The transport stops the ring and starts over. */
				if (r != -EINVAL && r != -E2BIG && r != -ENOMEM)
					abort();
				xsring_set_error(ring, xsring_error_code(r));
				xs_conn_free(conn);
				conn = xs_conn_new(store, 7);
				memset(ring, 0, sizeof(*ring));
				xsring_init(ring);
			}
			break;
		}
		}
	}
	if (xs_store_selfcheck(store))
		abort();
	xs_store_free(store);
	free(ring);
	return 0;
}
