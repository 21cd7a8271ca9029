/* libFuzzer target for the console ring protocol.  fuzz-srcs: backends/console/ring.c
 *
 * The input is a script of operations on one struct xencons_interface: the
 * guest setting any index or data bytes to anything, and the backend reading
 * out[] or writing in[] with any size.  Every call must end in 0 or -EINVAL,
 * stay inside the page (ASan: the page is its own allocation), leave the page
 * untouched on -EINVAL, and on success move exactly the bytes the indices it
 * found allowed.
 */
#include <lib/base.h>
#include <xen/io/console.h>
#include "../../backends/console/ring.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct script s = { data, size };
	struct xencons_interface *ring = calloc(1, sizeof(*ring));
	struct xencons_interface before;
	static char buf[4096], src[4096];

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (char)(i * 13 + 1);
	while (s.left) {
		uint32_t op = take(&s, 1);
		size_t n, moved = 99;
		int rc;

		switch (op % 6) {
		case 0: /* guest sets out indices, near each other or anywhere */
			ring->out_cons = take(&s, 4);
			ring->out_prod = op & 0x80 ? ring->out_cons + take(&s, 2) % 4100 : take(&s, 4);
			break;
		case 1:
			ring->in_cons = take(&s, 4);
			ring->in_prod = op & 0x80 ? ring->in_cons + take(&s, 2) % 2100 : take(&s, 4);
			break;
		case 2: /* guest scribbles on the data */
			n = take(&s, 2) % sizeof(*ring);
			((uint8_t *)ring)[n] = (uint8_t)take(&s, 1);
			break;
		case 3: {
			n = take(&s, 2) % sizeof(buf);
			before = *ring;
			uint32_t avail = before.out_prod - before.out_cons;
			memset(buf, 0xa5, sizeof(buf));
			rc = consring_out_read(ring, buf, n, &moved);
			if (rc == -EINVAL) {
				if (avail <= sizeof(ring->out) || moved != 0 ||
				    memcmp(&before, ring, sizeof(before)) != 0)
					abort();
				break;
			}
			if (rc != 0 || avail > sizeof(ring->out) || moved != MIN((size_t)avail, n))
				abort();
			if (ring->out_cons != before.out_cons + (uint32_t)moved ||
			    ring->out_prod != before.out_prod ||
			    memcmp(&before, ring, offsetof(struct xencons_interface, out_cons)) != 0)
				abort();
			for (size_t i = 0; i < moved; i++)
				if (buf[i] != before.out[MASK_XENCONS_IDX(before.out_cons + i, before.out)])
					abort();
			for (size_t i = moved; i < sizeof(buf); i++)
				if ((uint8_t)buf[i] != 0xa5)
					abort();
			break;
		}
		case 4: {
			n = take(&s, 2) % sizeof(src);
			before = *ring;
			uint32_t used = before.in_prod - before.in_cons;
			rc = consring_in_write(ring, src, n, &moved);
			if (rc == -EINVAL) {
				if (used <= sizeof(ring->in) || moved != 0 ||
				    memcmp(&before, ring, sizeof(before)) != 0)
					abort();
				break;
			}
			if (rc != 0 || used > sizeof(ring->in) ||
			    moved != MIN(n, (size_t)(sizeof(ring->in) - used)))
				abort();
			if (ring->in_prod != before.in_prod + (uint32_t)moved ||
			    ring->in_cons != before.in_cons ||
			    memcmp(before.out, ring->out, sizeof(before.out)) != 0 ||
			    ring->out_cons != before.out_cons || ring->out_prod != before.out_prod)
				abort();
			/* Exactly the moved slots changed, to the right bytes. */
			for (size_t i = 0; i < sizeof(ring->in); i++) {
				size_t k = (i - MASK_XENCONS_IDX(before.in_prod, before.in)) &
					   (sizeof(ring->in) - 1);
				char want = k < moved ? src[k] : before.in[i];
				if (ring->in[i] != want)
					abort();
			}
			break;
		}
		case 5: /* the guest consumes or produces some bytes honestly */
			n = take(&s, 2) % 2100;
			if (op & 0x80)
				ring->in_cons += (uint32_t)MIN(n, (size_t)(ring->in_prod - ring->in_cons));
			else
				ring->out_prod += (uint32_t)MIN(n, sizeof(ring->out) -
							 (size_t)(ring->out_prod - ring->out_cons));
			break;
		}
	}
	free(ring);
	return 0;
}
