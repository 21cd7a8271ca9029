/*
 * Grant tables for backends: mapping other domains' grants into dom0
 * (GNTTABOP_map_grant_ref / unmap_grant_ref), copying through grants
 * (GNTTABOP_copy), and dom0's own grant table so dom0 can grant its pages
 * to another domain.  Implemented in xen/gnttab.c.
 *
 * Contracts common to every function here:
 *  - thread context only (they use the vmap area); none of them sleeps,
 *    so none may be called while holding a wait;
 *  - a grant mapping is made and torn down only through this API, never
 *    with vunmap or another page-table path: Xen tracks grant mappings by
 *    handle, and an ordinary PTE write over one fails (and used to crash
 *    dom0); gnttab_unmap_refs returns errors instead;
 *  - whoever maps unmaps: the caller keeps the handles and the address.
 */
#ifndef KEEL_GNTTAB_H
#define KEEL_GNTTAB_H

#include <lib/base.h>
#include <xen/xen.h>
#include <xen/grant_table.h>

/*
 * Maps n grant refs of domain dom (read-only if readonly) at n consecutive
 * vmap pages; *va gets the first page's address and handles[i] the handle
 * of refs[i].  All or nothing: every per-entry status is checked, and if
 * any entry failed, those that mapped are unmapped again before returning.
 * Returns 0, -ENOMEM (no vmap room), or the errno of the first failed entry
 * (its index in *failed_index when that is not NULL): -ESRCH bad domain,
 * -EINVAL bad ref, -EPERM not granted to dom0 / read-only, -EAGAIN, -EIO.
 */
int gnttab_map_refs(domid_t dom, const grant_ref_t *refs, size_t n, bool readonly, void **va,
		    grant_handle_t *handles, size_t *failed_index);

/*
 * Unmaps n pages mapped by one gnttab_map_refs call (va and handles as it
 * returned them).  Every entry is attempted; returns 0, or the errno of the
 * first entry Xen refused (those entries stay mapped and their vmap slots
 * are kept, never reused).  Never crashes dom0 on a bad handle.
 */
int gnttab_unmap_refs(void *va, const grant_handle_t *handles, size_t n);

/*
 * GNTTABOP_copy of n ops (struct gnttab_copy of xen/grant_table.h: each
 * side a grant ref of a domain or, with GNTCOPY_*_gref clear, a frame of
 * dom0's own (gmfn = mfn for PV)).  Every op is attempted; ops[i].status
 * holds its GNTST_* result.  Returns 0 if all succeeded, else -EIO (or the
 * hypercall's own error, then statuses are not meaningful).
 */
int gnttab_copy(struct gnttab_copy *ops, size_t n);

/* Turns a GNTST_* status into a negative errno (0 for GNTST_okay). */
int gnttab_status_errno(int16_t status);

/*
 * dom0's own grant table.  gnttab_init sets it up (one frame, 512 v1
 * entries, the first GNTTAB_NR_RESERVED_ENTRIES never handed out) at boot;
 * until then, or if Xen refused, the grant functions return -ENODEV.
 */
void gnttab_init(void);
/*
 * Grants domain dom access to machine frame mfn (read-only if readonly);
 * *ref gets the grant reference to pass to dom.  Returns 0, -ENOSPC when
 * the table is full, -ENODEV without a table.
 */
int gnttab_grant_access(domid_t dom, uint64_t mfn, bool readonly, grant_ref_t *ref);
/*
 * Revokes a grant made by gnttab_grant_access.  Returns -EBUSY while dom
 * still has it mapped (the entry stays valid: try again after the other
 * side unmapped), -EINVAL for a ref not granted; 0 when revoked.
 */
int gnttab_end_access(grant_ref_t ref);

struct gnttab_stats {
	uint64_t mapped_now;       /* foreign grant pages mapped in dom0 now */
	uint64_t map_ops, map_failures;     /* entries attempted / refused */
	uint64_t unmap_ops, unmap_failures;
	uint64_t copy_ops, copy_failures;
	uint64_t granted_now;      /* entries of dom0's own table in use */
	bool own_table;            /* dom0's own table is set up */
};
void gnttab_get_stats(struct gnttab_stats *out);

#endif
