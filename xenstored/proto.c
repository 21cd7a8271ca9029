/*
 * The xenstore wire protocol (<xen/io/xs_wire.h>) on one connection's byte
 * stream: framing of struct xsd_sockmsg, checking and splitting each
 * request's NUL-separated arguments, dispatch to the store's operations
 * (store.c) and the queue of replies and WATCH_EVENTs.  The transport (ring
 * or in-kernel socket) owns moving the bytes.
 *
 * A request is executed as soon as its last byte arrives, and its reply is
 * queued before the next one is looked at, so replies come in request order;
 * watch events can come between them.  Guest mistakes in a request get an
 * XS_ERROR reply; only a broken stream (a payload longer than
 * XENSTORE_PAYLOAD_MAX) or no memory for a reply breaks the conn, never dom0.
 * A peer that stops reading is held by back-pressure: once its queued output
 * is at its cap, xs_conn_feed() stops after the current message and
 * xs_conn_input_room() says 0, and watch events for it are dropped (counted
 * by watch.c) rather than queued.
 */
#include <lib/base.h>
#include "internal.h"

#define HDR_BYTES sizeof(struct xsd_sockmsg)

/* ---- output ----------------------------------------------------------- */

static void out_discard(struct xs_conn *c)
{
	struct xs_outmsg *m;

	while ((m = c->out_head)) {
		c->out_head = m->next;
		kfree(m);
	}
	c->out_tail = NULL;
	c->out_bytes = 0;
}

static void conn_break(struct xs_conn *c, int err)
{
	if (!c->error)
		c->error = err;
	out_discard(c);
}

/* The most output a conn may have queued before it is made to wait. */
static size_t out_cap(const struct xs_conn *c)
{
	const struct xs_quota *q = xs_store_quota(c->store);

	return xs_conn_is_privileged(c) ? q->output_bytes_priv : q->output_bytes;
}

bool xs_conn_output_full(const struct xs_conn *c)
{
	return c->out_bytes >= out_cap(c);
}

/*
 * Queues one message.  A reply is always queued: the transport stops
 * reading a conn whose output is over its cap (back-pressure), so replies
 * overshoot it by at most one message.  A watch event that would pass the
 * cap is dropped instead (-ENOSPC): it is caused by someone else, and the
 * writer must never be able to break another domain's connection.
 */
static int queue_msg(struct xs_conn *c, uint32_t type, uint32_t req_id,
		     uint32_t tx_id, const void *p1, size_t l1,
		     const void *p2, size_t l2)
{
	size_t total = HDR_BYTES + l1 + l2;
	struct xsd_sockmsg h;
	struct xs_outmsg *m;

	if (c->error || c->local)
		return 0;
	if (type == XS_WATCH_EVENT && c->out_bytes + total > out_cap(c))
		return -ENOSPC;
	m = kmalloc(sizeof(*m) + total);
	if (!m) {
		/* A lost reply would desynchronise the stream: reset. */
		conn_break(c, -ENOMEM);
		return -ENOMEM;
	}
	h.type = type;
	h.req_id = req_id;
	h.tx_id = tx_id;
	h.len = (uint32_t)(l1 + l2);
	memcpy(m->data, &h, HDR_BYTES);
	if (l1)
		memcpy(m->data + HDR_BYTES, p1, l1);
	if (l2)
		memcpy(m->data + HDR_BYTES + l1, p2, l2);
	m->len = total;
	m->off = 0;
	m->next = NULL;
	if (c->out_tail)
		c->out_tail->next = m;
	else
		c->out_head = m;
	c->out_tail = m;
	c->out_bytes += total;
	return 0;
}

int xs_conn_queue_event(struct xs_conn *c, const char *path,
			const char *token)
{
	size_t pl = strlen(path) + 1, tl = strlen(token) + 1;

	/* No guest could take it (xs_wire.h: "Violating this is very bad"). */
	if (pl + tl > XENSTORE_PAYLOAD_MAX)
		return -E2BIG;
	return queue_msg(c, XS_WATCH_EVENT, 0, 0, path, pl, token, tl);
}

static void reply(struct xs_conn *c, const struct xsd_sockmsg *req,
		  const void *payload, size_t len);

static void reply_error(struct xs_conn *c, const struct xsd_sockmsg *req,
			int err)
{
	const char *name = "EINVAL"; /* what C xenstored sends for others */

	for (size_t i = 0; i < ARRAY_SIZE(xsd_errors); i++)
		if (xsd_errors[i].errnum == err)
			name = xsd_errors[i].errstring;
	queue_msg(c, XS_ERROR, req->req_id, req->tx_id, name,
		  strlen(name) + 1, NULL, 0);
}

static void reply(struct xs_conn *c, const struct xsd_sockmsg *req,
		  const void *payload, size_t len)
{
	/* As C xenstored: what does not fit a message is E2BIG. */
	if (len > XENSTORE_PAYLOAD_MAX) {
		reply_error(c, req, E2BIG);
		return;
	}
	queue_msg(c, req->type, req->req_id, req->tx_id, payload, len, NULL, 0);
}

static void reply_ok(struct xs_conn *c, const struct xsd_sockmsg *req)
{
	reply(c, req, "OK", 3);
}

/* ---- arguments -------------------------------------------------------- */

/* The payload is exactly one NUL-terminated string. */
static const char *onearg(const char *p, uint32_t len)
{
	if (!len || memchr(p, '\0', len) != p + len - 1)
		return NULL;
	return p;
}

/* Up to n leading NUL-terminated strings of the payload; returns how many. */
static unsigned get_strings(const char *p, uint32_t len, const char **vec,
			    unsigned n)
{
	unsigned i = 0;
	uint32_t off = 0;

	while (i < n && off < len) {
		const char *nul = memchr(p + off, '\0', len - off);

		if (!nul)
			break;
		vec[i++] = p + off;
		off = (uint32_t)(nul - p) + 1;
	}
	return i;
}

/* A decimal number of at most max; nothing else in the string. */
static int parse_num(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		uint64_t digit = (uint64_t)(*s - '0');

		if (*s < '0' || *s > '9' || v > (max - digit) / 10)
			return -EINVAL;
		v = v * 10 + digit;
	}
	*out = v;
	return 0;
}

static int parse_domid(const char *s, uint16_t *domid)
{
	uint64_t v;
	int r;

	if (!s)
		return -EINVAL;
	r = parse_num(s, 0xffff, &v);
	if (!r)
		*domid = (uint16_t)v;
	return r;
}

/* "r5", "w0", "b3", "n7": one permission entry (docs/misc/xenstore.txt). */
static int parse_perm(const char *s, struct xs_perm *p)
{
	uint64_t v;

	switch (s[0]) {
	case 'n': p->perm = XS_PERM_NONE; break;
	case 'r': p->perm = XS_PERM_READ; break;
	case 'w': p->perm = XS_PERM_WRITE; break;
	case 'b': p->perm = XS_PERM_BOTH; break;
	default: return -EINVAL;
	}
	if (parse_num(s + 1, 0xffff, &v))
		return -EINVAL;
	p->domid = (uint16_t)v;
	return 0;
}

/* ---- requests --------------------------------------------------------- */

static int req_read(struct xs_conn *c, const struct xsd_sockmsg *h,
		    struct xs_tx *tx, const char *p)
{
	const char *path = onearg(p, h->len);
	char *val;
	size_t len;
	int r;

	if (!path)
		return -EINVAL;
	r = xs_op_read(c, tx, path, &val, &len);
	if (r)
		return r;
	reply(c, h, val, len);
	kfree(val);
	return 0;
}

static int req_write(struct xs_conn *c, const struct xsd_sockmsg *h,
		     struct xs_tx *tx, const char *p)
{
	const char *nul = memchr(p, '\0', h->len);
	size_t off;
	int r;

	if (!nul)
		return -EINVAL;
	off = (size_t)(nul - p) + 1;
	r = xs_op_write(c, tx, p, p + off, h->len - off);
	if (!r)
		reply_ok(c, h);
	return r;
}

static int req_directory(struct xs_conn *c, const struct xsd_sockmsg *h,
			 struct xs_tx *tx, const char *p)
{
	const char *path = onearg(p, h->len);
	char *kids;
	size_t len;
	uint64_t gen;
	int r;

	if (!path)
		return -EINVAL;
	r = xs_op_directory(c, tx, path, &kids, &len, &gen);
	if (r)
		return r;
	reply(c, h, kids, len);
	kfree(kids);
	return 0;
}

/*
 * DIRECTORY_PART "path\0offset\0": "<generation>\0" then the child names
 * from byte offset of the list, as many whole names as fit; an empty name
 * after them marks the end of the list.
 */
static int req_directory_part(struct xs_conn *c, const struct xsd_sockmsg *h,
			      struct xs_tx *tx, const char *p)
{
	const char *vec[2];
	char *kids, *out;
	size_t len, off, n = 0, genlen, max;
	uint64_t gen, v;
	int r;

	if (get_strings(p, h->len, vec, 2) != 2 ||
	    parse_num(vec[1], 0xffffffffu, &v))
		return -EINVAL;
	r = xs_op_directory(c, tx, vec[0], &kids, &len, &gen);
	if (r)
		return r;
	out = kmalloc(XENSTORE_PAYLOAD_MAX);
	if (!out) {
		kfree(kids);
		return -ENOMEM;
	}
	genlen = (size_t)snprintf(out, 32, "%lu", (unsigned long)gen) + 1;
	off = (size_t)v;
	max = XENSTORE_PAYLOAD_MAX - genlen - 1;
	if (off < len) {
		while (off + n < len) {
			size_t l = strlen(kids + off + n) + 1;

			if (n + l > max)
				break;
			n += l;
		}
		memcpy(out + genlen, kids + off, n);
	}
	if (off + n >= len)
		out[genlen + n++] = '\0';
	reply(c, h, out, genlen + n);
	kfree(out);
	kfree(kids);
	return 0;
}

static int req_get_perms(struct xs_conn *c, const struct xsd_sockmsg *h,
			 struct xs_tx *tx, const char *p)
{
	const char *path = onearg(p, h->len);
	static const char letters[] = "nrwb";
	struct xs_perm *perms;
	char *out, *o;
	unsigned n;
	int r;

	if (!path)
		return -EINVAL;
	r = xs_op_get_perms(c, tx, path, &perms, &n);
	if (r)
		return r;
	out = kmalloc((size_t)n * 8 + 1);
	if (!out) {
		kfree(perms);
		return -ENOMEM;
	}
	o = out;
	for (unsigned i = 0; i < n; i++)
		o += snprintf(o, 8, "%c%u", letters[perms[i].perm & 3],
			      perms[i].domid) + 1;
	reply(c, h, out, (size_t)(o - out));
	kfree(out);
	kfree(perms);
	return 0;
}

/* SET_PERMS "path\0perm\0perm\0...": at least one perm. */
static int req_set_perms(struct xs_conn *c, const struct xsd_sockmsg *h,
			 struct xs_tx *tx, const char *p)
{
	struct xs_perm *perms;
	const char *path = p, *s;
	unsigned n = 0, i = 0;
	uint32_t off;
	int r = -EINVAL;

	for (off = 0; off < h->len; off++)
		n += p[off] == '\0';
	if (n < 2)
		return -EINVAL;
	n--;
	perms = kmalloc(n * sizeof(*perms));
	if (!perms)
		return -ENOMEM;
	s = path + strlen(path) + 1;
	for (i = 0; i < n; i++) {
		if (parse_perm(s, &perms[i]))
			goto out;
		s += strlen(s) + 1;
	}
	r = xs_op_set_perms(c, tx, path, perms, n);
	if (!r)
		reply_ok(c, h);
out:
	kfree(perms);
	return r;
}

static int req_watch(struct xs_conn *c, const struct xsd_sockmsg *h,
		     const char *p)
{
	const char *vec[2];
	struct xs_watch *w;
	int r;

	if (get_strings(p, h->len, vec, 2) != 2)
		return -EINVAL;
	r = xs_op_watch(c, vec[0], vec[1], NULL, NULL, &w);
	if (r)
		return r;
	reply_ok(c, h);
	/* It fires once at once (docs/misc/xenstore.txt): simplifies clients. */
	xs_watch_deliver_initial(c, w);
	return 0;
}

static int req_unwatch(struct xs_conn *c, const struct xsd_sockmsg *h,
		       const char *p)
{
	const char *vec[2];
	int r;

	if (get_strings(p, h->len, vec, 2) != 2)
		return -EINVAL;
	r = xs_op_unwatch(c, vec[0], vec[1]);
	if (!r)
		reply_ok(c, h);
	return r;
}

static int req_tx_start(struct xs_conn *c, const struct xsd_sockmsg *h)
{
	char buf[16];
	uint32_t id;
	int r;

	if (h->tx_id)
		return xs_tx_find(c, h->tx_id) ? -EBUSY : -ENOENT;
	r = xs_op_tx_start(c, &id);
	if (r)
		return r;
	reply(c, h, buf, (size_t)snprintf(buf, sizeof(buf), "%u", id) + 1);
	return 0;
}

static int req_tx_end(struct xs_conn *c, const struct xsd_sockmsg *h,
		      const char *p)
{
	const char *arg = onearg(p, h->len);
	int r;

	if (!arg || (strcmp(arg, "T") && strcmp(arg, "F")))
		return -EINVAL;
	r = xs_op_tx_end(c, h->tx_id, arg[0] == 'T');
	if (!r)
		reply_ok(c, h);
	return r;
}

/* INTRODUCE "domid\0gfn\0port\0". */
static int req_introduce(struct xs_conn *c, const struct xsd_sockmsg *h,
			 const char *p)
{
	const char *vec[3];
	uint16_t domid;
	uint64_t gfn, port;
	int r;

	if (!xs_conn_is_privileged(c))
		return -EACCES;
	if (get_strings(p, h->len, vec, 3) != 3 || parse_domid(vec[0], &domid) ||
	    parse_num(vec[1], UINT64_MAX, &gfn) ||
	    parse_num(vec[2], 0xffffffffu, &port))
		return -EINVAL;
	r = xs_op_introduce(c, domid, gfn, (uint32_t)port);
	if (!r)
		reply_ok(c, h);
	return r;
}

static int req_domid_op(struct xs_conn *c, const struct xsd_sockmsg *h,
			const char *p)
{
	uint16_t domid;
	char buf[32];
	bool yes;
	int r;

	if (h->type != XS_GET_DOMAIN_PATH && !xs_conn_is_privileged(c))
		return -EACCES;
	if (parse_domid(onearg(p, h->len), &domid))
		return -EINVAL;
	switch (h->type) {
	case XS_GET_DOMAIN_PATH:
		reply(c, h, buf, (size_t)snprintf(buf, sizeof(buf),
						  "/local/domain/%u", domid) + 1);
		return 0;
	case XS_IS_DOMAIN_INTRODUCED:
		r = xs_op_is_introduced(c, domid, &yes);
		if (!r)
			reply(c, h, yes ? "T" : "F", 2);
		return r;
	case XS_RELEASE:
		r = xs_op_release(c, domid);
		break;
	default: /* XS_RESUME */
		r = xs_op_resume(c, domid);
		break;
	}
	if (!r)
		reply_ok(c, h);
	return r;
}

static int req_set_target(struct xs_conn *c, const struct xsd_sockmsg *h,
			  const char *p)
{
	const char *vec[2];
	uint16_t domid, target;
	int r;

	if (!xs_conn_is_privileged(c))
		return -EACCES;
	if (get_strings(p, h->len, vec, 2) != 2 || parse_domid(vec[0], &domid) ||
	    parse_domid(vec[1], &target))
		return -EINVAL;
	r = xs_op_set_target(c, domid, target);
	if (!r)
		reply_ok(c, h);
	return r;
}

/*
 * CONTROL "cmd\0args...": the harmless part of C xenstored's set.  "print"
 * logs its argument, "help" lists the commands, "quota" reports the limits;
 * anything else is EINVAL.
 */
static int req_control(struct xs_conn *c, const struct xsd_sockmsg *h,
		       const char *p)
{
	const char *vec[2];
	unsigned n;
	char buf[256];

	if (!xs_conn_is_privileged(c))
		return -EACCES;
	n = get_strings(p, h->len, vec, 2);
	if (!n)
		return -EINVAL;
	if (!strcmp(vec[0], "print")) {
		if (n < 2)
			return -EINVAL;
		klog("xenstored: %s\n", vec[1]);
		reply_ok(c, h);
	} else if (!strcmp(vec[0], "help")) {
		static const char help[] = "print <string>\nhelp\nquota\n";

		reply(c, h, help, sizeof(help));
	} else if (!strcmp(vec[0], "quota")) {
		const struct xs_quota *q = xs_store_quota(c->store);
		int l = snprintf(buf, sizeof(buf),
				 "nodes %u\nvalue-bytes %u\nwatches %u\n"
				 "transactions %u\nperms %u\n",
				 q->nodes_per_domain, q->value_bytes,
				 q->watches_per_domain,
				 q->transactions_per_conn, q->perms_per_node);

		reply(c, h, buf, (size_t)MIN(l + 1, (int)sizeof(buf)));
	} else {
		return -EINVAL;
	}
	return 0;
}

/* One complete request; p holds h->len payload bytes and a NUL after them. */
static void process(struct xs_conn *c, const struct xsd_sockmsg *h, char *p)
{
	struct xs_tx *tx = NULL;
	int r;

	switch (h->type) {
	case XS_READ:
	case XS_WRITE:
	case XS_MKDIR:
	case XS_RM:
	case XS_DIRECTORY:
	case XS_DIRECTORY_PART:
	case XS_GET_PERMS:
	case XS_SET_PERMS:
	case XS_TRANSACTION_END:
		if (h->tx_id) {
			tx = xs_tx_find(c, h->tx_id);
			if (!tx) {
				reply_error(c, h, ENOENT);
				return;
			}
		} else if (h->type == XS_TRANSACTION_END) {
			reply_error(c, h, ENOENT);
			return;
		}
		break;
	}

	switch (h->type) {
	case XS_READ:
		r = req_read(c, h, tx, p);
		break;
	case XS_WRITE:
		r = req_write(c, h, tx, p);
		break;
	case XS_MKDIR:
	case XS_RM: {
		const char *path = onearg(p, h->len);

		r = -EINVAL;
		if (path)
			r = h->type == XS_MKDIR ? xs_op_mkdir(c, tx, path) :
						  xs_op_rm(c, tx, path);
		if (!r)
			reply_ok(c, h);
		break;
	}
	case XS_DIRECTORY:
		r = req_directory(c, h, tx, p);
		break;
	case XS_DIRECTORY_PART:
		r = req_directory_part(c, h, tx, p);
		break;
	case XS_GET_PERMS:
		r = req_get_perms(c, h, tx, p);
		break;
	case XS_SET_PERMS:
		r = req_set_perms(c, h, tx, p);
		break;
	case XS_WATCH:
		r = req_watch(c, h, p);
		break;
	case XS_UNWATCH:
		r = req_unwatch(c, h, p);
		break;
	case XS_TRANSACTION_START:
		r = req_tx_start(c, h);
		break;
	case XS_TRANSACTION_END:
		r = req_tx_end(c, h, p);
		break;
	case XS_INTRODUCE:
		r = req_introduce(c, h, p);
		break;
	case XS_RELEASE:
	case XS_GET_DOMAIN_PATH:
	case XS_IS_DOMAIN_INTRODUCED:
	case XS_RESUME:
		r = req_domid_op(c, h, p);
		break;
	case XS_SET_TARGET:
		r = req_set_target(c, h, p);
		break;
	case XS_RESET_WATCHES:
		xs_op_reset_watches(c);
		reply_ok(c, h);
		r = 0;
		break;
	case XS_CONTROL:
		r = req_control(c, h, p);
		break;
	default:
		/* WATCH_EVENT, ERROR, the removed RESTRICT, unknown: as C
		 * xenstored, "not implemented". */
		r = -ENOSYS;
		break;
	}
	if (r)
		reply_error(c, h, -r);
}

/* ---- connections ------------------------------------------------------ */

struct xs_conn *xs_conn_new(struct xs_store *store, uint16_t domid)
{
	struct xs_conn *c;

	if (xs_domain_ref(store, domid))
		return NULL;
	c = kzalloc(sizeof(*c));
	if (!c)
		return NULL;
	c->store = store;
	c->domid = domid;
	c->next_tx_id = 1;
	xs_store_link_conn(store, c);
	return c;
}

void xs_conn_set_privileged(struct xs_conn *c, bool privileged)
{
	c->privileged = privileged;
}

static void conn_destroy(struct xs_conn *c)
{
	xs_conn_drop_state(c);
	out_discard(c);
	xs_store_unlink_conn(c->store, c);
	kfree(c);
}

void xs_conn_free(struct xs_conn *c)
{
	if (!c)
		return;
	if (c->busy) {
		/* Inside its own xs_conn_input(): make it inert, free later. */
		xs_conn_drop_state(c);
		conn_break(c, -EPIPE);
		c->free_pending = true;
		return;
	}
	conn_destroy(c);
}

void xs_conn_set_priv(struct xs_conn *c, void *priv)
{
	c->priv = priv;
}

void *xs_conn_priv(const struct xs_conn *c)
{
	return c->priv;
}

uint16_t xs_conn_domid(const struct xs_conn *c)
{
	return c->domid;
}

uint64_t xs_conn_requests(const struct xs_conn *c)
{
	return c->requests;
}

int xs_conn_error(const struct xs_conn *c)
{
	return c->error;
}

size_t xs_conn_input_room(const struct xs_conn *c)
{
	struct xsd_sockmsg h;

	if (c->error || xs_conn_output_full(c))
		return 0;
	if (c->in_have < HDR_BYTES)
		return HDR_BYTES - c->in_have;
	memcpy(&h, c->in_hdr, HDR_BYTES);
	return HDR_BYTES + h.len - c->in_have;
}

int xs_conn_feed(struct xs_conn *c, const void *bytes, size_t len,
		 size_t *used)
{
	const unsigned char *b = bytes;
	struct xsd_sockmsg h;
	size_t done = 0;
	int r;

	*used = 0;
	if (c->error)
		return c->error;
	c->busy++;
	while (done < len && !c->error) {
		size_t n;

		if (c->in_have < HDR_BYTES) {
			n = MIN(HDR_BYTES - c->in_have, len - done);
			memcpy(c->in_hdr + c->in_have, b + done, n);
		} else {
			memcpy(&h, c->in_hdr, HDR_BYTES);
			n = MIN(HDR_BYTES + h.len - c->in_have, len - done);
			memcpy(c->in_buf + (c->in_have - HDR_BYTES), b + done, n);
		}
		c->in_have += n;
		done += n;
		if (c->in_have < HDR_BYTES)
			break;
		memcpy(&h, c->in_hdr, HDR_BYTES);
		/* A frame this long cannot be skipped safely: reset. */
		if (h.len > XENSTORE_PAYLOAD_MAX) {
			conn_break(c, -E2BIG);
			break;
		}
		if (c->in_have == HDR_BYTES + h.len) {
			c->in_buf[h.len] = '\0';
			c->in_have = 0;
			c->requests++;
			process(c, &h, c->in_buf);
			/* Back-pressure: the rest waits until the peer reads. */
			if (xs_conn_output_full(c))
				break;
		}
	}
	*used = done;
	c->busy--;
	r = c->error;
	if (!c->busy && c->free_pending)
		conn_destroy(c);
	return r;
}

int xs_conn_input(struct xs_conn *c, const void *bytes, size_t len)
{
	const unsigned char *b = bytes;

	/* Every call of xs_conn_feed() consumes at least one whole message or
	 * all it is given, so this ends. */
	while (len) {
		size_t used;
		int r = xs_conn_feed(c, b, len, &used);

		if (r)
			return r;
		b += used;
		len -= used;
	}
	return 0;
}

size_t xs_conn_output(struct xs_conn *c, void *buf, size_t max)
{
	unsigned char *o = buf;
	size_t done = 0;
	struct xs_outmsg *m;

	while (done < max && (m = c->out_head)) {
		size_t n = MIN(m->len - m->off, max - done);

		memcpy(o + done, m->data + m->off, n);
		m->off += n;
		done += n;
		if (m->off == m->len) {
			c->out_head = m->next;
			if (!c->out_head)
				c->out_tail = NULL;
			kfree(m);
		}
	}
	c->out_bytes -= done;
	return done;
}

bool xs_conn_has_output(const struct xs_conn *c)
{
	return c->out_head != NULL;
}
