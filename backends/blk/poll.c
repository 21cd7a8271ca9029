/*
 * blkback's poll-or-sleep decision (see include/keel/blkpoll.h): a credit
 * that hits raise and misses spend, with a periodic probe once it is spent
 * so a device that became fast again (a phase of small requests after one
 * of large ones) is polled again.  Pure: no time, no locks.
 */
#include <keel/blkpoll.h>

void vbd_poll_init(struct vbd_poll *p)
{
	p->credit = VBD_POLL_CREDIT_START;
	p->skipped = 0;
}

bool vbd_poll_wanted(struct vbd_poll *p)
{
	if (p->credit > 0)
		return true;
	if (++p->skipped >= VBD_POLL_RETRY) {
		p->skipped = 0;
		return true;  /* the probe */
	}
	p->skips++;
	return false;
}

void vbd_poll_result(struct vbd_poll *p, bool hit)
{
	if (hit) {
		p->hits++;
		/* A probe that hits starts polling again. */
		p->credit = p->credit <= 0 ? VBD_POLL_CREDIT_START : MIN(p->credit + 1, VBD_POLL_CREDIT_MAX);
		p->skipped = 0;
	} else {
		p->misses++;
		if (p->credit > 0)
			p->credit -= VBD_POLL_MISS_COST;
	}
}
