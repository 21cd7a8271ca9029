/*
 * Grant tables (contracts in include/keel/gnttab.h): foreign grant maps
 * into vmap slots, their unmaps, grant copies, and dom0's own table.  The
 * domain builder's grant entries 0/1 of a new guest stay in the builder.
 *
 * How a grant is mapped: GNTMAP_host_map with host_addr = a reserved vmap
 * address (not GNTMAP_contains_pte).  Xen then finds and writes the PTE
 * through dom0's own page tables, validating the slot as any mapping, and
 * keel never handles a machine address of a PTE; vmap_reserve has already
 * made the L1 table, which is all Xen needs.  Unmap names the same address
 * with the handle, and Xen flushes the TLB for the batch itself.
 *
 * Ops go to Xen in batches of BATCH entries held on the caller's stack (no
 * static scratch shared between threads).
 */
#include <keel/gnttab.h>
#include <keel/hypercall.h>
#include <keel/kernel.h>
#include <keel/mm.h>

#define BATCH 16
#define OWN_ENTRIES (PAGE_SIZE / sizeof(grant_entry_v1_t))

static struct gnttab_stats stats;
static grant_entry_v1_t *own_table;   /* dom0's table, mapped in vmap */
static uint64_t own_used[OWN_ENTRIES / 64];

int gnttab_status_errno(int16_t status)
{
	switch (status) {
	case GNTST_okay: return 0;
	case GNTST_bad_domain: return -ESRCH;
	case GNTST_bad_gntref:
	case GNTST_bad_handle:
	case GNTST_bad_copy_arg: return -EINVAL;
	case GNTST_bad_virt_addr:
	case GNTST_bad_dev_addr:
	case GNTST_bad_page: return -EFAULT;
	case GNTST_no_device_space:
	case GNTST_no_space: return -ENOSPC;
	case GNTST_permission_denied: return -EPERM;
	case GNTST_address_too_big: return -E2BIG;
	case GNTST_eagain: return -EAGAIN;
	default: return -EIO;
	}
}

/* Unmaps entries [0, n) of a mapping; returns the first error, counts all. */
static int unmap_range(unsigned long base, const grant_handle_t *handles, size_t n,
		       const bool *skip)
{
	struct gnttab_unmap_grant_ref ops[BATCH];
	size_t idx[BATCH];
	int first_err = 0;

	for (size_t done = 0; done < n;) {
		unsigned int k = 0;
		for (; k < BATCH && done < n; done++) {
			if (skip && skip[done])
				continue;
			ops[k] = (struct gnttab_unmap_grant_ref){
				.host_addr = base + done * PAGE_SIZE,
				.dev_bus_addr = 0,
				.handle = handles[done],
			};
			idx[k++] = done;
		}
		if (!k)
			break;
		long rc = hyp_grant_table_op(GNTTABOP_unmap_grant_ref, ops, k);
		for (unsigned int i = 0; i < k; i++) {
			int err = rc < 0 ? (int)rc : gnttab_status_errno(ops[i].status);
			stats.unmap_ops++;
			if (err) {
				stats.unmap_failures++;
				if (!first_err)
					first_err = err;
				klog("gnttab: unmap of page %zu (handle %u) failed: %d\n", idx[i],
				     handles[idx[i]], err);
			} else {
				stats.mapped_now--;
			}
		}
	}
	return first_err;
}

int gnttab_map_refs(domid_t dom, const grant_ref_t *refs, size_t n, bool readonly, void **va,
		    grant_handle_t *handles, size_t *failed_index)
{
	struct gnttab_map_grant_ref ops[BATCH];
	int first_err = 0;
	size_t first_bad = 0, done = 0;

	if (n == 0)
		return -EINVAL;
	char *base = vmap_reserve(n);
	if (!base)
		return -ENOMEM;
	/* Which entries did not map (for the unwind); small batches use the stack. */
	bool failed_small[64];
	bool *failed = n <= ARRAY_SIZE(failed_small) ? failed_small : kzalloc(n);
	if (!failed) {
		vmap_release(base, n);
		return -ENOMEM;
	}
	memset(failed, 0, n);

	while (done < n) {
		unsigned int k = 0;
		for (; k < BATCH && done + k < n; k++) {
			ops[k] = (struct gnttab_map_grant_ref){
				.host_addr = (unsigned long)base + (done + k) * PAGE_SIZE,
				.flags = GNTMAP_host_map | (readonly ? GNTMAP_readonly : 0),
				.ref = refs[done + k],
				.dom = dom,
			};
		}
		long rc = hyp_grant_table_op(GNTTABOP_map_grant_ref, ops, k);
		for (unsigned int i = 0; i < k; i++) {
			/* A failed hypercall maps nothing; else each status counts. */
			int err = rc < 0 ? (int)rc : gnttab_status_errno(ops[i].status);
			stats.map_ops++;
			if (err) {
				stats.map_failures++;
				failed[done + i] = true;
				if (!first_err) {
					first_err = err;
					first_bad = done + i;
				}
			} else {
				handles[done + i] = ops[i].handle;
				stats.mapped_now++;
			}
		}
		done += k;
		if (first_err)
			break;
	}
	if (first_err) {
		/* Unwind: every entry attempted (the first done) that did map. */
		if (unmap_range((unsigned long)base, handles, done, failed) == 0)
			vmap_release(base, n);
		/* else: some slot still holds a grant; leave the slots reserved. */
		if (failed != failed_small)
			kfree(failed);
		if (failed_index)
			*failed_index = first_bad;
		return first_err;
	}
	if (failed != failed_small)
		kfree(failed);
	*va = base;
	return 0;
}

int gnttab_unmap_refs(void *va, const grant_handle_t *handles, size_t n)
{
	if (!va || !is_vmap_addr(va) || n == 0)
		return -EINVAL;
	int err = unmap_range((unsigned long)va, handles, n, NULL);
	if (err == 0)
		vmap_release(va, n);
	return err;
}

int gnttab_copy(struct gnttab_copy *ops, size_t n)
{
	int result = 0;

	for (size_t done = 0; done < n;) {
		unsigned int k = MIN(n - done, (size_t)BATCH);
		long rc = hyp_grant_table_op(GNTTABOP_copy, ops + done, k);
		if (rc < 0)
			return (int)rc;
		for (unsigned int i = 0; i < k; i++) {
			stats.copy_ops++;
			if (ops[done + i].status != GNTST_okay) {
				stats.copy_failures++;
				result = -EIO;
			}
		}
		done += k;
	}
	return result;
}

void gnttab_init(void)
{
	xen_pfn_t frame = 0;
	struct gnttab_setup_table st = { .dom = DOMID_SELF, .nr_frames = 1 };
	int err;

	set_xen_guest_handle(st.frame_list, &frame);
	long rc = hyp_grant_table_op(GNTTABOP_setup_table, &st, 1);
	if (rc || st.status != GNTST_okay) {
		klog("gnttab: no grant table for dom0 (%ld/%d): dom0 cannot grant pages\n", rc,
		     st.status);
		return;
	}
	/* The frame is a Xen page shared with dom0: an ordinary own mapping. */
	mfn_t m = _mfn(frame);
	own_table = vmap_mfns(&m, 1, DOMID_SELF, true, &err);
	if (!own_table) {
		klog("gnttab: cannot map dom0's grant table: %d\n", err);
		return;
	}
	for (unsigned int i = 0; i < GNTTAB_NR_RESERVED_ENTRIES; i++)
		own_used[i / 64] |= 1ULL << (i % 64);
	stats.own_table = true;
}

int gnttab_grant_access(domid_t dom, uint64_t mfn, bool readonly, grant_ref_t *ref)
{
	if (!own_table)
		return -ENODEV;
	if (mfn > UINT32_MAX)
		return -E2BIG; /* a v1 entry holds a 32-bit frame */
	for (grant_ref_t r = GNTTAB_NR_RESERVED_ENTRIES; r < OWN_ENTRIES; r++) {
		if (own_used[r / 64] & (1ULL << (r % 64)))
			continue;
		own_used[r / 64] |= 1ULL << (r % 64);
		own_table[r].domid = dom;
		own_table[r].frame = (uint32_t)mfn;
		/* Frame and domid must be visible before the entry is usable. */
		__atomic_thread_fence(__ATOMIC_RELEASE);
		__atomic_store_n(&own_table[r].flags,
				 (uint16_t)(GTF_permit_access | (readonly ? GTF_readonly : 0)),
				 __ATOMIC_RELEASE);
		stats.granted_now++;
		*ref = r;
		return 0;
	}
	return -ENOSPC;
}

int gnttab_end_access(grant_ref_t ref)
{
	if (!own_table)
		return -ENODEV;
	if (ref < GNTTAB_NR_RESERVED_ENTRIES || ref >= OWN_ENTRIES ||
	    !(own_used[ref / 64] & (1ULL << (ref % 64))))
		return -EINVAL;
	/* The protocol of xen/grant_table.h "Invalidating an unused
	 * GTF_permit_access entry": clear flags only while Xen shows no mapping
	 * in use, atomically against Xen setting GTF_reading/GTF_writing. */
	uint16_t old = __atomic_load_n(&own_table[ref].flags, __ATOMIC_ACQUIRE);
	do {
		if (old & (GTF_reading | GTF_writing))
			return -EBUSY;
	} while (!__atomic_compare_exchange_n(&own_table[ref].flags, &old, 0, false,
					      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	own_used[ref / 64] &= ~(1ULL << (ref % 64));
	stats.granted_now--;
	return 0;
}

void gnttab_get_stats(struct gnttab_stats *out)
{
	*out = stats;
}
