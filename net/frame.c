/*
 * Reading a frame's bytes wherever they are: dom0 memory (memcpy) or
 * another domain's grant (GNTTABOP_copy into dom0 memory).  The switch and
 * the ports use this for headers, for the IP stack's copy and for bounce
 * buffers; guest-to-guest payload never comes here (it is grant-copied
 * straight between the two guests, backends/net/).
 */
#include <keel/gnttab.h>
#include <keel/kernel.h>
#include <keel/mm.h>
#include <keel/net.h>

#define READ_OPS 48

/* A grant copy of the frame's bytes into dom0 failed: only the source can
 * be at fault. */
static int read_failed(const struct net_frame *f, int rc)
{
	if (f->source_failed)
		*f->source_failed = true;
	return rc;
}

int net_frame_read(const struct net_frame *f, uint32_t from, void *dst, uint32_t len)
{
	struct gnttab_copy ops[READ_OPS];
	unsigned int nops = 0;
	uint8_t *out = dst;
	uint32_t pos = 0;

	if (from > f->len || len > f->len - from)
		return -EINVAL;
	for (unsigned int i = 0; i < f->nfrags && len; i++) {
		const struct net_frag *fr = &f->frags[i];
		uint32_t flen = fr->len;
		if (from >= pos + flen) {
			pos += flen;
			continue;
		}
		uint32_t skip = from > pos ? from - pos : 0;
		uint32_t n = flen - skip;
		if (n > len)
			n = len;
		if (fr->kind == NET_FRAG_LOCAL) {
			memcpy(out, (const uint8_t *)fr->va + skip, n);
		} else {
			/* The destination may cross a dom0 page: one op per piece. */
			uint32_t done = 0;
			while (done < n) {
				uintptr_t d = (uintptr_t)(out + done);
				uint32_t room = PAGE_SIZE - (d & (PAGE_SIZE - 1));
				uint32_t piece = n - done < room ? n - done : room;
				if (nops == READ_OPS) {
					int rc = gnttab_copy(ops, nops);
					if (rc)
						return read_failed(f, rc);
					nops = 0;
				}
				struct gnttab_copy *op = &ops[nops++];
				memset(op, 0, sizeof(*op));
				op->source.u.ref = fr->grant.ref;
				op->source.domid = fr->grant.dom;
				op->source.offset = (uint16_t)(fr->offset + skip + done);
				op->dest.u.gmfn = mfn_x(virt_to_mfn((void *)d));
				op->dest.domid = DOMID_SELF;
				op->dest.offset = (uint16_t)(d & (PAGE_SIZE - 1));
				op->len = (uint16_t)piece;
				op->flags = GNTCOPY_source_gref;
				done += piece;
			}
		}
		out += n;
		len -= n;
		from += n;
		pos += flen;
	}
	if (nops) {
		int rc = gnttab_copy(ops, nops);
		if (rc)
			return read_failed(f, rc);
	}
	return 0;
}

int net_frame_load_hdr(struct net_frame *f)
{
	f->hdr_len = (uint16_t)(f->len < NET_HDR_MAX ? f->len : NET_HDR_MAX);
	return net_frame_read(f, 0, f->hdr, f->hdr_len);
}

void net_frame_local(struct net_frame *f, const uint8_t *buf, uint32_t len,
		     const struct net_meta *meta)
{
	if (meta)
		f->meta = *meta;
	else
		memset(&f->meta, 0, sizeof(f->meta));
	f->len = len;
	f->nfrags = 0;
	f->source_failed = NULL;
	for (uint32_t off = 0; off < len && f->nfrags < NET_FRAGS_MAX;) {
		uintptr_t va = (uintptr_t)(buf + off);
		uint32_t n = PAGE_SIZE - (va & (PAGE_SIZE - 1));
		if (n > len - off)
			n = len - off;
		f->frags[f->nfrags++] = (struct net_frag){ .kind = NET_FRAG_LOCAL, .len = (uint16_t)n,
							   .va = buf + off };
		off += n;
	}
	f->hdr_len = (uint16_t)(len < NET_HDR_MAX ? len : NET_HDR_MAX);
	memcpy(f->hdr, buf, f->hdr_len);
}
