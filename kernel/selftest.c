/*
 * `selftest`: exercises the kernel APIs later subsystems build on, inside the
 * running kernel (the host unit tests cannot reach them): the heap, event
 * channels over a loopback interdomain pair, one-shot timers, vmap aliases
 * of our own frames, wait queues between threads, vmalloc and its guard
 * pages, slab pages going back to the page allocator, memory above 1 GiB,
 * and grant maps of dom0's own grants.  Prints one "selftest NAME: ok" or
 * "selftest NAME: FAIL why" line per check.  Cases that stop dom0 or hold
 * memory (stack-overflow, fragment) run only when named.
 */
#include <keel/dma.h>
#include <keel/sync.h>
#include <keel/commands.h>
#include <keel/evtchn.h>
#include <keel/gnttab.h>
#include <keel/irq.h>
#include <keel/kernel.h>
#include <keel/mm.h>

#define FAIL(...) \
	do { \
		kprintf("selftest %s: FAIL ", name); \
		kprintf(__VA_ARGS__); \
		kprintf("\n"); \
		return -EIO; \
	} while (0)

static uint64_t rng = 0x243f6a8885a308d3ULL;

static uint64_t next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int test_heap(void)
{
	static const char *name = "heap";
	enum { N = 1500 };
	static uint8_t *blocks[N];
	static size_t sizes[N];
	uint64_t base_bytes, slabs;

	heap_stats(&base_bytes, &slabs);
	for (int i = 0; i < N; i++) {
		sizes[i] = 1 + next_random() % (i % 10 == 0 ? 20000 : 600);
		blocks[i] = kmalloc(sizes[i]);
		if (!blocks[i])
			FAIL("kmalloc(%zu) returned NULL", sizes[i]);
		memset(blocks[i], (uint8_t)i, sizes[i]);
	}
	for (int i = 0; i < N; i += 2) {
		kfree(blocks[i]);
		blocks[i] = NULL;
	}
	for (int i = 1; i < N; i += 2)
		for (size_t k = 0; k < sizes[i]; k++)
			if (blocks[i][k] != (uint8_t)i)
				FAIL("block %d byte %zu overwritten", i, k);
	for (int i = 1; i < N; i += 2) {
		uint8_t *p = krealloc(blocks[i], sizes[i] * 3);
		if (!p)
			FAIL("krealloc failed");
		for (size_t k = 0; k < sizes[i]; k++)
			if (p[k] != (uint8_t)i)
				FAIL("krealloc lost byte %zu of block %d", k, i);
		kfree(p);
	}
	uint64_t end_bytes;
	heap_stats(&end_bytes, &slabs);
	if (end_bytes != base_bytes)
		FAIL("%llu bytes in use before, %llu after", (unsigned long long)base_bytes,
		     (unsigned long long)end_bytes);
	kprintf("selftest %s: ok (%d blocks, sizes 1-20000)\n", name, N);
	return 0;
}

static volatile int hits_a, hits_b;

static void count_a(evtchn_port_t port, void *ctx)
{
	(void)port;
	(void)ctx;
	hits_a++;
}

static void count_b(evtchn_port_t port, void *ctx)
{
	(void)port;
	(void)ctx;
	hits_b++;
}

static int test_evtchn(void)
{
	static const char *name = "evtchn";
	evtchn_port_t a, b;

	hits_a = hits_b = 0;
	int rc = evtchn_alloc_unbound(DOMID_SELF, 0, count_a, NULL, &a);
	if (rc)
		FAIL("alloc_unbound: %d", rc);
	rc = evtchn_bind_interdomain(0, a, count_b, NULL, &b);
	if (rc)
		FAIL("bind_interdomain: %d", rc);
	/* Xen marks a freshly bound interdomain port pending once. */
	thread_sleep_ns(2000000);
	hits_b = 0;
	for (int i = 0; i < 3; i++) {
		evtchn_notify(b); /* arrives on a */
		thread_sleep_ns(2000000);
	}
	evtchn_notify(a);
	thread_sleep_ns(2000000);
	evtchn_mask(a);
	evtchn_notify(b);
	thread_sleep_ns(2000000);
	int masked_hits = hits_a;
	evtchn_unmask(a); /* the pending event must now be delivered */
	thread_sleep_ns(2000000);
	int after_unmask = hits_a;
	evtchn_close(b);
	evtchn_close(a);
	if (hits_a < 1 || hits_b != 1)
		FAIL("deliveries a=%d b=%d", hits_a, hits_b);
	if (after_unmask != masked_hits + 1)
		FAIL("event sent while masked: %d before unmask, %d after", masked_hits,
		     after_unmask);
	kprintf("selftest %s: ok (loopback ports %u<->%u, mask/unmask delivers pending)\n", name,
		a, b);
	return 0;
}

static int test_timer(void)
{
	static const char *name = "timer";
	uint64_t worst = 0;

	for (int i = 0; i < 5; i++) {
		uint64_t t0 = time_now_ns();
		thread_sleep_ns(20000000);
		uint64_t dt = time_now_ns() - t0;
		if (dt < 20000000)
			FAIL("slept %llu ns, asked 20 ms", (unsigned long long)dt);
		if (dt - 20000000 > worst)
			worst = dt - 20000000;
	}
	if (worst > 50000000)
		FAIL("a 20 ms sleep overran by %llu us", (unsigned long long)(worst / 1000));
	kprintf("selftest %s: ok (20 ms sleeps, worst overrun %llu us)\n", name,
		(unsigned long long)(worst / 1000));
	return 0;
}

static int test_vmap(void)
{
	static const char *name = "vmap";
	uint64_t *page = page_alloc(1);
	int err;

	if (!page)
		FAIL("page_alloc");
	page[7] = 0x6b65656c;
	mfn_t m = virt_to_mfn(page);
	uint64_t *alias = vmap_mfns(&m, 1, DOMID_SELF, true, &err);
	if (!alias) {
		page_free(page, 1);
		FAIL("vmap_mfns: %d", err);
	}
	bool same = alias[7] == 0x6b65656c;
	alias[9] = 0x1234;
	bool back = page[9] == 0x1234;
	vunmap(alias, 1);
	page_free(page, 1);
	if (!same || !back)
		FAIL("alias does not share the frame (read %d, write %d)", same, back);
	kprintf("selftest %s: ok (alias of mfn %#llx)\n", name, (unsigned long long)mfn_x(m));
	return 0;
}


static int test_vmalloc(void)
{
	static const char *name = "vmalloc";
	struct mm_stats before, during, after;
	const size_t bytes = 5 * 1024 * 1024 + 123;

	mm_get_stats(&before);
	uint8_t *p = vmalloc(bytes);
	if (!p)
		FAIL("vmalloc(%zu) returned NULL", bytes);
	mm_get_stats(&during);
	size_t pages = (bytes + PAGE_SIZE - 1) / PAGE_SIZE;
	if (vmalloc_size(p) != pages * PAGE_SIZE)
		FAIL("vmalloc_size %zu, expected %zu", vmalloc_size(p), pages * PAGE_SIZE);
	if (vmap_pte_read(p - PAGE_SIZE) & 1 || vmap_pte_read(p + pages * PAGE_SIZE) & 1)
		FAIL("a guard page is mapped");
	for (size_t i = 0; i < bytes; i += 512)
		if (p[i] != 0)
			FAIL("byte %zu not zeroed", i);
	for (size_t i = 0; i < bytes; i++)
		p[i] = (uint8_t)(i * 7);
	for (size_t i = 0; i < bytes; i += 4093)
		if (p[i] != (uint8_t)(i * 7))
			FAIL("byte %zu lost", i);
	/* The pages are scattered dom0 frames: each page's pfn is its own. */
	pfn_t first = virt_to_pfn(p);
	if (pfn_to_virt(first) == (void *)p)
		FAIL("vmalloc address is the direct map");
	vfree(p);
	mm_get_stats(&after);
	/* Page tables made meanwhile stay (those not from the boot reserve came
	 * from the pool); everything else comes back. */
	uint64_t tables = (after.pagetable_pages - before.pagetable_pages) -
			  (before.pt_reserved_pages - after.pt_reserved_pages);
	if (after.free_pages + tables != before.free_pages ||
	    after.vmalloc_pages != before.vmalloc_pages)
		FAIL("free pages %llu before, %llu after vfree",
		     (unsigned long long)before.free_pages, (unsigned long long)after.free_pages);
	kprintf("selftest %s: ok (%zu pages, guards unmapped, %llu pages back after vfree)\n", name,
		pages, (unsigned long long)(after.free_pages - during.free_pages));
	return 0;
}

static int test_slab_return(void)
{
	static const char *name = "slab-return";
	enum { N = 20000 };
	struct heap_stats h0, h1, h2;
	struct mm_stats m0, m2;

	heap_reclaim();
	heap_get_stats(&h0);
	mm_get_stats(&m0);
	void **objs = vmalloc(N * sizeof(void *));
	if (!objs)
		FAIL("vmalloc");
	for (int i = 0; i < N; i++) {
		objs[i] = kmalloc(16 + (i % 4) * 48); /* four slab classes */
		if (!objs[i])
			FAIL("kmalloc %d", i);
	}
	heap_get_stats(&h1);
	for (int i = 0; i < N; i++)
		kfree(objs[i]);
	vfree(objs);
	heap_reclaim();
	heap_get_stats(&h2);
	mm_get_stats(&m2);
	if (h2.slab_pages > h0.slab_pages)
		FAIL("%llu slab pages before, %llu after freeing everything",
		     (unsigned long long)h0.slab_pages, (unsigned long long)h2.slab_pages);
	uint64_t tables = (m2.pagetable_pages - m0.pagetable_pages) -
			  (m0.pt_reserved_pages - m2.pt_reserved_pages);
	if (m2.free_pages + tables < m0.free_pages)
		FAIL("free pages %llu before, %llu after", (unsigned long long)m0.free_pages,
		     (unsigned long long)m2.free_pages);
	kprintf("selftest %s: ok (%llu slab pages at peak, %llu after free; %llu returned in all)\n",
		name, (unsigned long long)h1.slab_pages, (unsigned long long)h2.slab_pages,
		(unsigned long long)h2.slab_pages_returned);
	return 0;
}

/* Allocates 2 MiB blocks until one lies above 1 GiB, uses it, frees all. */
static int test_highmem(void)
{
	static const char *name = "highmem";
	const uint64_t one_gib_pfn = 1UL << 18;
	struct mm_stats st;

	mm_get_stats(&st);
	if (st.total_pages <= one_gib_pfn + 1024) {
		kprintf("selftest %s: skipped (dom0 holds %llu MiB, not above 1 GiB)\n", name,
			(unsigned long long)(st.total_pages >> 8));
		return 0;
	}
	size_t max = st.free_pages / 512 + 1, n = 0;
	void **blocks = vmalloc(max * sizeof(void *));
	if (!blocks)
		FAIL("vmalloc");
	uint64_t *high = NULL;
	uint64_t high_pfn = 0;
	while (n < max) {
		void *b = page_alloc(512);
		if (!b)
			break;
		blocks[n++] = b;
		uint64_t pfn = pfn_x(virt_to_pfn(b));
		if (pfn + 511 >= one_gib_pfn) {
			high = (uint64_t *)((char *)b + 511 * PAGE_SIZE);
			high_pfn = pfn + 511;
			break;
		}
	}
	bool ok = false;
	if (high) {
		for (int i = 0; i < 512; i++)
			high[i] = high_pfn * 1000 + (uint64_t)i;
		ok = true;
		for (int i = 0; i < 512; i++)
			ok &= high[i] == high_pfn * 1000 + (uint64_t)i;
	}
	for (size_t i = 0; i < n; i++)
		page_free(blocks[i], 512);
	vfree(blocks);
	if (!high)
		FAIL("no page above 1 GiB after %zu 2 MiB blocks", n);
	if (!ok)
		FAIL("page at pfn %#llx does not keep what was written", (unsigned long long)high_pfn);
	kprintf("selftest %s: ok (pfn %#llx = %llu MiB written and read at %p)\n", name,
		(unsigned long long)high_pfn, (unsigned long long)(high_pfn >> 8), (void *)high);
	return 0;
}

static int test_gnttab(void)
{
	static const char *name = "gnttab";
	struct gnttab_stats g0, g1;
	grant_ref_t ref;
	grant_handle_t h[3];
	void *va;
	size_t bad;

	gnttab_get_stats(&g0);
	uint64_t *page = page_alloc(1);
	uint64_t *dst = page_alloc(1);
	if (!page || !dst)
		FAIL("page_alloc");
	page[5] = 0x6772616e74;
	int rc = gnttab_grant_access(0, mfn_x(virt_to_mfn(page)), false, &ref);
	if (rc)
		FAIL("grant_access: %d", rc);
	/* Map our own grant back (dom0 grants to itself). */
	rc = gnttab_map_refs(0, &ref, 1, false, &va, h, NULL);
	if (rc)
		FAIL("map of own grant %u: %d", ref, rc);
	uint64_t *alias = va;
	bool same = alias[5] == 0x6772616e74;
	alias[6] = 42;
	bool back = page[6] == 42;
	if (gnttab_end_access(ref) != -EBUSY)
		FAIL("ending a mapped grant did not say busy");
	rc = gnttab_unmap_refs(va, h, 1);
	if (rc || !same || !back)
		FAIL("unmap %d, alias read %d write %d", rc, same, back);
	/* A batch with a bad ref in the middle: nothing stays mapped. */
	grant_ref_t refs[3] = { ref, 100000, ref };
	rc = gnttab_map_refs(0, refs, 3, true, &va, h, &bad);
	gnttab_get_stats(&g1);
	if (rc != -EINVAL || bad != 1)
		FAIL("batch with a bad ref: %d at %zu, expected -EINVAL at 1", rc, bad);
	if (g1.mapped_now != g0.mapped_now)
		FAIL("partial batch left %llu mappings", (unsigned long long)(g1.mapped_now - g0.mapped_now));
	/* Unmapping what is not mapped is an error, not a crash. */
	void *slot = vmap_reserve(1);
	grant_handle_t bogus = 4000;
	rc = gnttab_unmap_refs(slot, &bogus, 1);
	if (rc == 0)
		FAIL("unmap of a bogus handle succeeded");
	/* Copy through the grant into a frame of our own. */
	struct gnttab_copy cp[2] = {
		{ .source = { .u.ref = ref, .domid = 0, .offset = 40 },
		  .dest = { .u.gmfn = mfn_x(virt_to_mfn(dst)), .domid = DOMID_SELF, .offset = 8 },
		  .len = 8, .flags = GNTCOPY_source_gref },
		{ .source = { .u.ref = 100000, .domid = 0 },
		  .dest = { .u.gmfn = mfn_x(virt_to_mfn(dst)), .domid = DOMID_SELF },
		  .len = 8, .flags = GNTCOPY_source_gref },
	};
	int crc = gnttab_copy(cp, 2);
	if (crc != -EIO || cp[0].status != GNTST_okay || cp[1].status == GNTST_okay ||
	    dst[1] != 0x6772616e74)
		FAIL("copy: %d, statuses %d %d, copied %#llx", crc, cp[0].status, cp[1].status,
		     (unsigned long long)dst[1]);
	rc = gnttab_end_access(ref);
	page_free(page, 1);
	page_free(dst, 1);
	if (rc)
		FAIL("end_access: %d", rc);
	kprintf("selftest %s: ok (own grant %u mapped and unmapped, bad batch unwound, "
		"bogus unmap -> %d (slot kept), copy per-op status)\n", name, ref,
		gnttab_unmap_refs(slot, &bogus, 1));
	return 0;
}

/*
 * Maps a running guest's grant entries 0 and 1 (the console and xenstore
 * rings the builder granted to dom0) in one batch, read-only, and prints
 * the machine frames they map, for a test to compare with xenstore's
 * ring-ref; then unmaps them.
 */
static int test_gnttab_guest(const char *arg)
{
	static const char *name = "gnttab-guest";
	char *end;
	unsigned long dom = strtoul(arg, &end, 10);
	grant_ref_t refs[2] = { GNTTAB_RESERVED_CONSOLE, GNTTAB_RESERVED_XENSTORE };
	grant_handle_t h[2];
	struct gnttab_stats g0, g1;
	void *va;
	size_t bad = 0;

	if (*end || end == arg || dom == 0 || dom >= DOMID_FIRST_RESERVED)
		FAIL("'%s' is not a guest domid", arg);
	gnttab_get_stats(&g0);
	int rc = gnttab_map_refs((domid_t)dom, refs, 2, true, &va, h, &bad);
	if (rc)
		FAIL("map of refs 0,1 of domain %lu: %d at entry %zu", dom, rc, bad);
	uint64_t console_mfn = mfn_x(virt_to_mfn(va));
	uint64_t store_mfn = mfn_x(virt_to_mfn((char *)va + PAGE_SIZE));
	volatile uint32_t *ring = (volatile uint32_t *)((char *)va + PAGE_SIZE);
	uint32_t first_word = ring[0];
	gnttab_get_stats(&g1);
	rc = gnttab_unmap_refs(va, h, 2);
	if (rc)
		FAIL("unmap: %d", rc);
	if (g1.mapped_now != g0.mapped_now + 2)
		FAIL("mapped count %llu -> %llu", (unsigned long long)g0.mapped_now,
		     (unsigned long long)g1.mapped_now);
	kprintf("selftest %s: ok (domain %lu: console mfn %llu, xenstore mfn %llu, ring word %#x)\n",
		name, dom, (unsigned long long)console_mfn, (unsigned long long)store_mfn,
		first_word);
	return 0;
}

/*
 * Maps a device memory range (e.g. a PCI BAR) with ioremap, checks that
 * every PTE is uncached (PCD|PWT), writes and reads back its first and last
 * words, and unmaps it.
 */
static int test_ioremap(const char *addr_arg, const char *len_arg)
{
	static const char *name = "ioremap";
	char *e1, *e2;
	uint64_t maddr = strtoull(addr_arg, &e1, 0);
	uint64_t len = strtoull(len_arg, &e2, 0);

	if (*e1 || *e2 || !len || (maddr & 7) || (len & 7))
		FAIL("usage: selftest ioremap MADDR BYTES (8-byte aligned)");
	volatile uint64_t *va = ioremap(maddr, len, true);
	if (!va)
		FAIL("ioremap(%#llx, %llu) failed", (unsigned long long)maddr,
		     (unsigned long long)len);
	uint64_t pages = ((maddr + len + PAGE_SIZE - 1) >> PAGE_SHIFT) - (maddr >> PAGE_SHIFT);
	const char *base = (const char *)((unsigned long)va & ~(PAGE_SIZE - 1));
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t pte = vmap_pte_read(base + i * PAGE_SIZE);
		if ((pte & 0x19) != 0x19) { /* present, PWT, PCD */
			iounmap((void *)va, len);
			FAIL("page %llu: PTE %#llx is not present+PCD+PWT", (unsigned long long)i,
			     (unsigned long long)pte);
		}
	}
	volatile uint64_t *last = (volatile uint64_t *)((volatile char *)va + len - 8);
	uint64_t old_first = va[0], old_last = *last;
	va[0] = 0x6b65656c2d696f31ULL;
	*last = 0x6b65656c2d696f32ULL;
	bool ok = va[0] == 0x6b65656c2d696f31ULL && *last == 0x6b65656c2d696f32ULL;
	va[0] = old_first;
	*last = old_last;
	iounmap((void *)va, len);
	if (!ok)
		FAIL("device memory did not keep what was written");
	kprintf("selftest %s: ok (%llu pages at %#llx uncached, first and last words written "
		"and read back)\n", name, (unsigned long long)pages, (unsigned long long)maddr);
	return 0;
}

/* ---- named cases ---- */

static volatile uint64_t overflow_depth;
/* Volatile, so the compiler cannot see that the recursion never ends. */
static volatile uint64_t overflow_limit = UINT64_MAX;

static uint64_t recurse(uint64_t n)
{
	volatile char frame[256];

	frame[0] = (char)n;
	frame[255] = (char)n;
	overflow_depth = n;
	if (n >= overflow_limit)
		return 0;
	return recurse(n + 1) + frame[0] + frame[255];
}

static void stack_hog(void *unused)
{
	(void)unused;
	kprintf("selftest stack-overflow: recursing on a 36 KiB stack\n");
	recurse(0);
}

/*
 * Holds every free page at an odd pfn, so no run of two pages is left.
 * The pages are chained through their own first word (no array, which
 * would need pages of its own).
 */
static void *held;
static size_t held_count;

static int fragment(void)
{
	struct mm_stats st;
	void *all = NULL, *p;

	if (held) {
		kprintf("selftest fragment: already holding %zu pages\n", held_count);
		return -EBUSY;
	}
	while ((p = page_alloc(1))) {
		*(void **)p = all;
		all = p;
	}
	held_count = 0;
	while (all) {
		p = all;
		all = *(void **)p;
		if (pfn_x(virt_to_pfn(p)) & 1) {
			*(void **)p = held;
			held = p;
			held_count++;
		} else {
			page_free(p, 1);
		}
	}
	void *two = page_alloc(2);
	if (two) {
		page_free(two, 2);
		kprintf("selftest fragment: FAIL a run of two pages is still free\n");
		return -EIO;
	}
	mm_get_stats(&st);
	kprintf("selftest fragment: holding %zu pages, %llu free in runs of one page\n",
		held_count, (unsigned long long)st.free_pages);
	return 0;
}

static int unfragment(void)
{
	size_t n = 0;

	while (held) {
		void *p = held;
		held = *(void **)p;
		page_free(p, 1);
		n++;
	}
	held_count = 0;
	kprintf("selftest unfragment: released %zu pages\n", n);
	return 0;
}

static struct waitq test_wq;
static volatile int waiter_state;

static bool go(void *ctx)
{
	(void)ctx;
	return waiter_state == 1;
}

static void waiter(void *unused)
{
	(void)unused;
	waitq_wait_until(&test_wq, go, NULL, 0);
	waiter_state = 2;
}

static int test_threads(void)
{
	static const char *name = "threads";

	waiter_state = 0;
	if (!thread_create("selftest-waiter", waiter, NULL))
		FAIL("thread_create");
	thread_yield();
	if (waiter_state != 0)
		FAIL("waiter did not wait");
	waiter_state = 1;
	waitq_wake_all(&test_wq);
	for (int i = 0; i < 10 && waiter_state != 2; i++)
		thread_yield();
	if (waiter_state != 2)
		FAIL("waiter not woken");
	bool timed = waitq_wait_until(&test_wq, go, NULL, 5000000);
	if (timed)
		FAIL("wait with a false condition did not time out");
	kprintf("selftest %s: ok (wake, timeout)\n", name);
	return 0;
}

/* XENMEM_exchange: n pages machine-contiguous, below 4 GiB when asked. */
static int test_dma(void)
{
	static const char *name = "dma";
	void *va;
	dma_addr_t dma;

	for (unsigned int bits = 64; bits >= 32; bits -= 32) {
		int rc = dma_alloc_contig(8, bits, &va, &dma);
		if (rc)
			FAIL("dma_alloc_contig(8 pages)");
		uint64_t first = mfn_x(virt_to_mfn(va));
		for (unsigned int i = 0; i < 8; i++) {
			if (mfn_x(virt_to_mfn((char *)va + i * PAGE_SIZE)) != first + i) {
				dma_free_contig(va, 8);
				FAIL("pages not machine-contiguous");
			}
			if (mfn_to_pfn(_mfn(first + i)).pfn != virt_to_pfn((char *)va + i * PAGE_SIZE).pfn) {
				dma_free_contig(va, 8);
				FAIL("M2P does not point back at our pfn");
			}
		}
		if (dma_x(dma) != first << PAGE_SHIFT || (bits == 32 && dma_x(dma) + 8 * PAGE_SIZE > (1ull << 32))) {
			dma_free_contig(va, 8);
			FAIL("wrong bus address");
		}
		memset(va, 0x5a, 8 * PAGE_SIZE);
		if (((uint8_t *)va)[8 * PAGE_SIZE - 1] != 0x5a) {
			dma_free_contig(va, 8);
			FAIL("memory not usable after the exchange");
		}
		dma_free_contig(va, 8);
	}
	kprintf("selftest %s: ok (8 contiguous pages, anywhere and below 4 GiB)\n", name);
	return 0;
}

static struct mutex st_mutex = MUTEX_INIT("selftest");
static struct completion st_done;
static volatile int st_order;

static void mutex_holder(void *unused)
{
	(void)unused;
	mutex_lock(&st_mutex);
	st_order = 1;
	thread_sleep_ns(2000000);   /* hold it across a sleep */
	st_order = 2;
	mutex_unlock(&st_mutex);
	complete(&st_done);
}

/* Mutex held across a sleep excludes others; completion, in-flight drain. */
static int test_sync(void)
{
	static const char *name = "sync";
	struct inflight f;

	completion_init(&st_done);
	st_order = 0;
	if (!thread_create("selftest-mutex", mutex_holder, NULL))
		FAIL("thread_create");
	while (st_order == 0)
		thread_yield();
	mutex_lock(&st_mutex);
	int seen = st_order;
	mutex_unlock(&st_mutex);
	if (seen != 2)
		FAIL("mutex taken while its holder slept");
	if (!completion_wait(&st_done, 1000000000ull))
		FAIL("completion not seen");
	inflight_init(&f);
	if (!inflight_get(&f))
		FAIL("inflight_get");
	if (inflight_drain(&f, 1000000))
		FAIL("drained with a request in flight");
	if (inflight_get(&f))
		FAIL("inflight_get after close");
	inflight_put(&f);
	if (!inflight_drain(&f, 1000000))
		FAIL("not drained at zero");
	kprintf("selftest %s: ok (mutex across a sleep, completion, inflight drain)\n", name);
	return 0;
}

static int cmd_selftest(int argc, char **argv)
{
	int failed = 0;

	if (argc > 1) {
		if (!strcmp(argv[1], "stack-overflow")) {
			if (!thread_create("stack-hog", stack_hog, NULL))
				return -ENOMEM;
			thread_sleep_ns(1000000000ULL);
			kprintf("selftest stack-overflow: FAIL the thread survived (depth %llu)\n",
				(unsigned long long)overflow_depth);
			return -EIO;
		}
		if (!strcmp(argv[1], "fragment"))
			return fragment();
		if (!strcmp(argv[1], "unfragment"))
			return unfragment();
		if (!strcmp(argv[1], "highmem"))
			return test_highmem();
		if (!strcmp(argv[1], "gnttab"))
			return test_gnttab();
		if (!strcmp(argv[1], "ioremap") && argc == 4)
			return test_ioremap(argv[2], argv[3]);
		if (!strcmp(argv[1], "gnttab-guest") && argc == 3)
			return test_gnttab_guest(argv[2]);
		kprintf("selftest: unknown case '%s' (stack-overflow, fragment, unfragment, "
			"highmem, gnttab, gnttab-guest DOMID, ioremap MADDR BYTES)\n", argv[1]);
		return -EINVAL;
	}
	failed += test_heap() != 0;
	failed += test_evtchn() != 0;
	failed += test_timer() != 0;
	failed += test_vmap() != 0;
	failed += test_threads() != 0;
	failed += test_vmalloc() != 0;
	failed += test_slab_return() != 0;
	failed += test_highmem() != 0;
	failed += test_gnttab() != 0;
	failed += test_dma() != 0;
	failed += test_sync() != 0;
	kprintf("selftest: %d failed\n", failed);
	return failed ? -EIO : 0;
}

const struct command selftest_commands[] = {
	{ "selftest", cmd_selftest, "[CASE]",
	  "test: heap, events, timers, vmap, threads, vmalloc, slabs, highmem, gnttab, dma, sync; "
	  "CASE: stack-overflow (stops dom0), fragment/unfragment, highmem, gnttab, "
	  "gnttab-guest DOMID, ioremap MADDR BYTES" },
	{ NULL, NULL, NULL, NULL },
};
