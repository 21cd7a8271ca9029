/*
 * The console ring protocol, backend side (xen/io/console.h): guest output is
 * consumed from out[], keyboard input is produced into in[].  This file only
 * moves bytes and checks indices; mapping, events and logs are consback.c's.
 *
 * Trust: the page is shared with the guest, which may change anything in it
 * between two of our loads.  So every index is loaded once into a local, the
 * locals are checked (free-running 32-bit counters: prod - cons must not
 * exceed the ring size), only the locals are used afterwards, and each data
 * byte is copied exactly once.  A bad index costs the guest its console,
 * never a loop or an out-of-bounds access here.
 */
#include <lib/base.h>
#include <xen/io/console.h>
#include "ring.h"

/* Every load of a shared index goes through this, once per index per call.
 * Host tests define it first to count loads and to move indices behind our
 * back, as a hostile guest would. */
#ifndef CONSRING_LOAD_IDX
#define CONSRING_LOAD_IDX(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#endif

static void store_idx(XENCONS_RING_IDX *p, XENCONS_RING_IDX v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

int consring_out_read(struct xencons_interface *intf, char *buf, size_t max, size_t *got)
{
	XENCONS_RING_IDX cons = CONSRING_LOAD_IDX(&intf->out_cons);
	XENCONS_RING_IDX prod = CONSRING_LOAD_IDX(&intf->out_prod);
	XENCONS_RING_IDX avail = prod - cons;

	*got = 0;
	if (avail > CONSRING_OUT_BYTES)
		return -EINVAL; /* Buggy or malicious guest. */
	/* The bytes up to prod must be read after prod itself, or we could copy
	 * slots the guest had not filled yet when it published prod. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);

	size_t n = MIN((size_t)avail, max);
	if (!n)
		return 0;
	for (size_t done = 0; done < n;) {
		size_t off = MASK_XENCONS_IDX(cons + (XENCONS_RING_IDX)done, intf->out);
		size_t chunk = MIN(n - done, CONSRING_OUT_BYTES - off);
		memcpy(buf + done, &intf->out[off], chunk);
		done += chunk;
	}
	/* Our reads of those slots must be complete before the guest sees them
	 * freed by the new out_cons and writes new bytes over them. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	store_idx(&intf->out_cons, cons + (XENCONS_RING_IDX)n);
	*got = n;
	return 0;
}

int consring_in_write(struct xencons_interface *intf, const char *data, size_t len, size_t *put)
{
	XENCONS_RING_IDX cons = CONSRING_LOAD_IDX(&intf->in_cons);
	XENCONS_RING_IDX prod = CONSRING_LOAD_IDX(&intf->in_prod);
	XENCONS_RING_IDX used = prod - cons;

	*put = 0;
	if (used > CONSRING_IN_BYTES)
		return -EINVAL; /* Buggy or malicious guest. */
	/* The guest's reads of the slots it freed (up to in_cons) must be done
	 * before our writes reuse them: order the in_cons load before the stores. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	size_t n = MIN(len, (size_t)(CONSRING_IN_BYTES - used));
	if (!n)
		return 0;
	for (size_t done = 0; done < n;) {
		size_t off = MASK_XENCONS_IDX(prod + (XENCONS_RING_IDX)done, intf->in);
		size_t chunk = MIN(n - done, CONSRING_IN_BYTES - off);
		memcpy(&intf->in[off], data + done, chunk);
		done += chunk;
	}
	/* The bytes must be visible before the in_prod that tells the guest
	 * they are there. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	store_idx(&intf->in_prod, prod + (XENCONS_RING_IDX)n);
	*put = n;
	return 0;
}
