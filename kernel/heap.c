/*
 * kmalloc/kfree: power-of-two slabs from 16 to 2048 bytes carved out of
 * single pages, and whole pages for anything larger.  A per-pfn tag records
 * what each heap page holds, so kfree needs no header and large blocks stay
 * page-aligned.  Slab pages are kept once made; large blocks return to the
 * page allocator at once.
 */
#include <keel/irq.h>
#include <keel/mm.h>

#define MIN_SHIFT 4
#define MAX_SHIFT 11
#define NR_CLASSES (MAX_SHIFT - MIN_SHIFT + 1)

/* page_tag[pfn]: 0 = not heap, 1..NR_CLASSES = slab class, else large: npages << 8 | 0xff. */
static uint32_t *page_tag;
static uint64_t page_tag_count;
struct free_obj {
	struct free_obj *next;
};
static struct free_obj *free_list[NR_CLASSES];
static uint64_t heap_bytes_in_use, heap_slab_pages;

void heap_init(void)
{
	struct mm_stats st;

	mm_get_stats(&st);
	page_tag_count = st.total_pages;
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

void *kmalloc(size_t bytes)
{
	if (bytes == 0)
		bytes = 1;
	if (bytes > (1UL << MAX_SHIFT)) {
		size_t n = (bytes + PAGE_SIZE - 1) / PAGE_SIZE;
		if (n >= (1UL << 24))
			return NULL;
		unsigned long f = irq_save();
		void *p = page_alloc(n);
		if (p) {
			page_tag[pfn_x(virt_to_pfn(p))] = (uint32_t)(n << 8) | 0xff;
			heap_bytes_in_use += n * PAGE_SIZE;
		}
		irq_restore(f);
		return p;
	}
	unsigned int c = size_class(bytes);
	size_t obj = 1UL << (c + MIN_SHIFT);
	unsigned long f = irq_save();
	if (!free_list[c]) {
		char *page = page_alloc(1);
		if (!page) {
			irq_restore(f);
			return NULL;
		}
		page_tag[pfn_x(virt_to_pfn(page))] = c + 1;
		heap_slab_pages++;
		for (size_t off = 0; off + obj <= PAGE_SIZE; off += obj) {
			struct free_obj *o = (struct free_obj *)(page + off);
			o->next = free_list[c];
			free_list[c] = o;
		}
	}
	struct free_obj *o = free_list[c];
	free_list[c] = o->next;
	heap_bytes_in_use += obj;
	irq_restore(f);
	return o;
}

void *kzalloc(size_t bytes)
{
	void *p = kmalloc(bytes);

	if (p)
		memset(p, 0, bytes);
	return p;
}

static size_t block_size(void *p, uint32_t *tag_out)
{
	uint64_t pfn = pfn_x(virt_to_pfn(p));

	ASSERT(pfn < page_tag_count);
	uint32_t tag = page_tag[pfn];
	ASSERT(tag != 0);
	*tag_out = tag;
	if ((tag & 0xff) == 0xff) {
		ASSERT(((unsigned long)p & (PAGE_SIZE - 1)) == 0);
		return (size_t)(tag >> 8) * PAGE_SIZE;
	}
	return 1UL << (tag - 1 + MIN_SHIFT);
}

void kfree(void *p)
{
	uint32_t tag;

	if (!p)
		return;
	unsigned long f = irq_save();
	size_t size = block_size(p, &tag);
	heap_bytes_in_use -= size;
	if ((tag & 0xff) == 0xff) {
		page_tag[pfn_x(virt_to_pfn(p))] = 0;
		page_free(p, size / PAGE_SIZE);
	} else {
		struct free_obj *o = p;
		o->next = free_list[tag - 1];
		free_list[tag - 1] = o;
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
