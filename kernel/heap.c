/*
 * kmalloc/kfree: power-of-two slabs from 16 to 2048 bytes carved out of
 * single pages, and whole pages for anything larger.  A per-pfn tag records
 * what each heap page holds, so kfree needs no header and large blocks stay
 * page-aligned.
 *
 * Freed memory goes back to the page allocator: a large block at once; a
 * slab page once every object in it is free (each slab page counts its
 * objects in use in its tag; when enough slab pages are empty, one pass over
 * that class's free list drops their objects and frees the pages).  A large
 * block for which no pfn-contiguous run is left is served by vmalloc
 * (scattered pages, mapped contiguously), so a fragmented pool never fails a
 * big kmalloc while single pages remain.
 */
#include <keel/irq.h>
#include <keel/kernel.h>
#include <keel/mm.h>

#define MIN_SHIFT 4
#define MAX_SHIFT 11
#define NR_CLASSES (MAX_SHIFT - MIN_SHIFT + 1)
/* Empty slab pages a class may hold before its free list is swept. */
#define EMPTY_SLABS_MAX 16

/*
 * page_tag[pfn]: 0 = not heap;
 *   slab page: class + 1 in bits 0-7, objects in use in bits 8-31;
 *   large block (first page): npages << 8 | 0xff.
 */
#define TAG_LARGE 0xffu
static uint32_t *page_tag;
static uint64_t page_tag_count;
struct free_obj {
	struct free_obj *next;
};
static struct free_obj *free_list[NR_CLASSES];
static uint64_t empty_slabs[NR_CLASSES];
static uint64_t heap_bytes_in_use, heap_slab_pages, heap_vmalloc_bytes;
static uint64_t slab_pages_returned;

void heap_init(void)
{
	struct mm_stats st;

	mm_get_stats(&st);
	page_tag_count = st.initial_pages;
	size_t pages = (page_tag_count * sizeof(uint32_t) + PAGE_SIZE - 1) / PAGE_SIZE;
	page_tag = page_alloc(pages);
	ASSERT(page_tag);
}

static unsigned int size_class(size_t n)
{
	unsigned int c = 0;

	while ((1UL << (c + MIN_SHIFT)) < n)
		c++;
	return c;
}

static uint32_t *tag_of(const void *p)
{
	uint64_t pfn = pfn_x(virt_to_pfn(p));

	ASSERT(pfn < page_tag_count);
	return &page_tag[pfn];
}

/*
 * Drops the free objects of class c that lie in empty slab pages and gives
 * those pages back.  Events are masked by the caller.
 */
static void sweep_class(unsigned int c)
{
	struct free_obj **pp = &free_list[c];

	while (*pp) {
		struct free_obj *o = *pp;
		uint32_t *tag = tag_of(o);
		if (*tag == c + 1 || *tag == 0) {
			/* In an empty page (in use 0), or one freed by this sweep. */
			*pp = o->next;
			if (*tag) {
				*tag = 0;
				page_free((void *)((unsigned long)o & ~(PAGE_SIZE - 1)), 1);
				heap_slab_pages--;
				slab_pages_returned++;
			}
			continue;
		}
		pp = &o->next;
	}
	empty_slabs[c] = 0;
}

void heap_reclaim(void)
{
	unsigned long f = irq_save();

	for (unsigned int c = 0; c < NR_CLASSES; c++)
		if (empty_slabs[c])
			sweep_class(c);
	irq_restore(f);
}

static void *large_alloc(size_t bytes)
{
	size_t n = (bytes + PAGE_SIZE - 1) / PAGE_SIZE;

	if (n >= (1UL << 24))
		return NULL;
	unsigned long f = irq_save();
	void *p = page_alloc(n);
	if (!p && n > 1) {
		/* Fragmented or short: empty slabs back first, then scattered pages. */
		for (unsigned int c = 0; c < NR_CLASSES; c++)
			if (empty_slabs[c])
				sweep_class(c);
		p = page_alloc(n);
		if (!p) {
			p = vmalloc(bytes);
			if (p) {
				heap_bytes_in_use += n * PAGE_SIZE;
				heap_vmalloc_bytes += n * PAGE_SIZE;
			}
			irq_restore(f);
			return p;
		}
	}
	if (p) {
		*tag_of(p) = (uint32_t)(n << 8) | TAG_LARGE;
		heap_bytes_in_use += n * PAGE_SIZE;
	}
	irq_restore(f);
	return p;
}

void *kmalloc(size_t bytes)
{
	if (bytes == 0)
		bytes = 1;
	if (bytes > (1UL << MAX_SHIFT))
		return large_alloc(bytes);
	unsigned int c = size_class(bytes);
	size_t obj = 1UL << (c + MIN_SHIFT);
	unsigned long f = irq_save();
	if (!free_list[c]) {
		char *page = page_alloc(1);
		if (!page) {
			heap_reclaim();
			page = page_alloc(1);
		}
		if (!page) {
			irq_restore(f);
			return NULL;
		}
		*tag_of(page) = c + 1;
		heap_slab_pages++;
		empty_slabs[c]++; /* empty until its first object goes out below */
		/* Pushed from the end so objects are handed out in address order. */
		for (long off = (long)(PAGE_SIZE - obj); off >= 0; off -= (long)obj) {
			struct free_obj *o = (struct free_obj *)(page + off);
			o->next = free_list[c];
			free_list[c] = o;
		}
	}
	struct free_obj *o = free_list[c];
	free_list[c] = o->next;
	uint32_t *tag = tag_of(o);
	if ((*tag >> 8) == 0 && empty_slabs[c])
		empty_slabs[c]--; /* an empty page in use again */
	*tag += 1u << 8;
	heap_bytes_in_use += obj;
	irq_restore(f);
	return o;
}

void *kmalloc_sliced(size_t bytes, void (*slice)(void))
{
	if (bytes <= KMALLOC_SLICED_MIN_BYTES)
		return kmalloc(bytes);
	void *p = vmalloc_sliced(bytes, slice);
	if (p) {
		size_t size = vmalloc_size(p);
		unsigned long f = irq_save();
		heap_bytes_in_use += size;
		heap_vmalloc_bytes += size;
		irq_restore(f);
	}
	return p;
}

void *kzalloc(size_t bytes)
{
	void *p = kmalloc(bytes);

	if (p)
		memset(p, 0, bytes);
	return p;
}

/* Size of the block at p; *tag_out gets its tag (0 for a vmalloc block). */
static size_t block_size(void *p, uint32_t *tag_out)
{
	if (is_vmap_addr(p)) {
		size_t bytes = vmalloc_size(p);
		ASSERT(bytes);
		*tag_out = 0;
		return bytes;
	}
	uint32_t tag = *tag_of(p);
	ASSERT(tag != 0);
	*tag_out = tag;
	if ((tag & 0xff) == TAG_LARGE) {
		ASSERT(((unsigned long)p & (PAGE_SIZE - 1)) == 0);
		return (size_t)(tag >> 8) * PAGE_SIZE;
	}
	return 1UL << ((tag & 0xff) - 1 + MIN_SHIFT);
}

void kfree(void *p)
{
	uint32_t tag;

	if (!p)
		return;
	unsigned long f = irq_save();
	size_t size = block_size(p, &tag);
	heap_bytes_in_use -= size;
	if (tag == 0) {
		heap_vmalloc_bytes -= size;
		vfree(p);
	} else if ((tag & 0xff) == TAG_LARGE) {
		*tag_of(p) = 0;
		page_free(p, size / PAGE_SIZE);
	} else {
		unsigned int c = (tag & 0xff) - 1;
		struct free_obj *o = p;
		ASSERT(tag >> 8);
		o->next = free_list[c];
		free_list[c] = o;
		*tag_of(p) = tag - (1u << 8);
		if ((tag >> 8) == 1 && ++empty_slabs[c] > EMPTY_SLABS_MAX)
			sweep_class(c);
	}
	irq_restore(f);
}

void *krealloc(void *p, size_t bytes)
{
	uint32_t tag;

	if (!p)
		return kmalloc(bytes);
	size_t old = block_size(p, &tag);
	if (bytes <= old && bytes > old / 2)
		return p;
	void *n = kmalloc(bytes);
	if (!n)
		return NULL;
	memcpy(n, p, MIN(old, bytes));
	kfree(p);
	return n;
}

void heap_stats(uint64_t *in_use_bytes, uint64_t *slab_pages)
{
	*in_use_bytes = heap_bytes_in_use;
	*slab_pages = heap_slab_pages;
}

void heap_get_stats(struct heap_stats *out)
{
	unsigned long f = irq_save();

	out->in_use_bytes = heap_bytes_in_use;
	out->slab_pages = heap_slab_pages;
	out->vmalloc_bytes = heap_vmalloc_bytes;
	out->slab_pages_returned = slab_pages_returned;
	out->empty_slab_pages = 0;
	for (unsigned int c = 0; c < NR_CLASSES; c++)
		out->empty_slab_pages += empty_slabs[c];
	irq_restore(f);
}
