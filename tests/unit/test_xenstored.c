/*
 * Host tests of keel's xenstored (xenstored/store.c, proto.c) through the
 * wire: requests are built as xsd_sockmsg bytes, fed to a conn, and the reply
 * bytes parsed back; plus dom0's in-process API.
 */
#include <lib/base.h>
#include <keel/xenstored.h>
#include <xen/io/xs_wire.h>
#include "../../xenstored/internal.h"

#include "harness.h"

struct msg {
	struct xsd_sockmsg h;
	char body[XENSTORE_PAYLOAD_MAX + 1];
};

#define MAX_EVENTS 64

/* A test-side connection: the conn and the watch events it has received. */
struct tc {
	struct xs_conn *c;
	int nev;
	char ev[MAX_EVENTS][256]; /* "path token" */
	uint32_t last_req_id, last_tx_id;
};

static uint32_t next_req_id = 100;

static bool get_msg(struct tc *t, struct msg *m)
{
	if (!xs_conn_has_output(t->c))
		return false;
	if (xs_conn_output(t->c, &m->h, sizeof(m->h)) != sizeof(m->h))
		return false;
	if (xs_conn_output(t->c, m->body, m->h.len) != m->h.len)
		return false;
	m->body[m->h.len] = '\0';
	return true;
}

static void stash_event(struct tc *t, const struct msg *m)
{
	if (t->nev < MAX_EVENTS) {
		snprintf(t->ev[t->nev], sizeof(t->ev[0]), "%.120s %.120s", m->body,
			 m->body + strlen(m->body) + 1);
		t->nev++;
	}
}

/* Reads all queued output; events are stashed, the rest ignored. */
static void pump(struct tc *t)
{
	struct msg m;

	while (get_msg(t, &m))
		if (m.h.type == XS_WATCH_EVENT)
			stash_event(t, &m);
}

/* Has t received the event "path token"?  Consumes it. */
static bool got_event(struct tc *t, const char *path, const char *token)
{
	char want[256];

	pump(t);
	snprintf(want, sizeof(want), "%s %s", path, token);
	for (int i = 0; i < t->nev; i++) {
		if (!strcmp(t->ev[i], want)) {
			memmove(t->ev[i], t->ev[i + 1],
				(size_t)(t->nev - i - 1) * sizeof(t->ev[0]));
			t->nev--;
			return true;
		}
	}
	return false;
}

static void clear_events(struct tc *t)
{
	pump(t);
	t->nev = 0;
}

static int send_raw(struct tc *t, uint32_t type, uint32_t tx,
		    const void *payload, size_t len)
{
	unsigned char buf[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX + 64];
	struct xsd_sockmsg h = { type, next_req_id++, tx, (uint32_t)len };

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), payload, len);
	t->last_req_id = h.req_id;
	t->last_tx_id = tx;
	return xs_conn_input(t->c, buf, sizeof(h) + len);
}

/*
 * Sends one request and formats its reply: an error as "!ENAME", otherwise
 * the payload with NULs shown as '|' and one trailing NUL dropped.
 */
static const char *call(struct tc *t, uint32_t type, uint32_t tx,
			const void *payload, size_t len)
{
	static char out[4][XENSTORE_PAYLOAD_MAX + 8];
	static int which;
	char *o = out[which++ % 4];
	struct msg m;
	int r = send_raw(t, type, tx, payload, len);

	if (r) {
		snprintf(o, 64, "input error %d", r);
		return o;
	}
	for (;;) {
		if (!get_msg(t, &m))
			return "(no reply)";
		if (m.h.type != XS_WATCH_EVENT)
			break;
		stash_event(t, &m);
	}
	if (m.h.req_id != t->last_req_id || m.h.tx_id != t->last_tx_id)
		return "(ids not echoed)";
	if (m.h.type == XS_ERROR) {
		snprintf(o, 64, "!%.60s", m.body);
		return o;
	}
	if (m.h.type != type)
		return "(wrong reply type)";
	size_t n = m.h.len;
	if (n && m.body[n - 1] == '\0')
		n--;
	for (size_t i = 0; i < n; i++)
		o[i] = m.body[i] ? m.body[i] : '|';
	o[n] = '\0';
	return o;
}

/* A request whose payload is the given strings, each NUL-terminated. */
static const char *callv(struct tc *t, uint32_t type, uint32_t tx, int n,
			 ...)
{
	char buf[XENSTORE_PAYLOAD_MAX + 64];
	size_t len = 0;
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		const char *s = va_arg(ap, const char *);
		size_t l = strlen(s) + 1;

		memcpy(buf + len, s, l);
		len += l;
	}
	va_end(ap);
	return call(t, type, tx, buf, len);
}

static const char *rd(struct tc *t, uint32_t tx, const char *path)
{
	return callv(t, XS_READ, tx, 1, path);
}

/* WRITE's value has no NUL of its own. */
static const char *wr(struct tc *t, uint32_t tx, const char *path,
		      const char *val)
{
	char buf[XENSTORE_PAYLOAD_MAX + 64];
	size_t pl = strlen(path) + 1, vl = strlen(val);

	memcpy(buf, path, pl);
	memcpy(buf + pl, val, vl);
	return call(t, XS_WRITE, tx, buf, pl + vl);
}

static struct xs_store *store;
static struct tc dom0, dom5, dom6;

static void setup(void)
{
	/* A failed CHECK returns before teardown(). */
	if (store)
		xs_store_free(store);
	store = xs_store_new();
	memset(&dom0, 0, sizeof(dom0));
	memset(&dom5, 0, sizeof(dom5));
	memset(&dom6, 0, sizeof(dom6));
	dom0.c = xs_conn_new(store, 0);
	dom5.c = xs_conn_new(store, 5);
	dom6.c = xs_conn_new(store, 6);
	/* What a toolstack does for each guest: its home, owned by it. */
	xs_write(store, "/local/domain/5/name", "five", 4);
	xs_write(store, "/local/domain/6/name", "six", 3);
	xs_set_perms(store, "/local/domain/5", &(struct xs_perm){ 5, 0 }, 1);
	xs_set_perms(store, "/local/domain/5/name",
		     &(struct xs_perm){ 5, 0 }, 1);
	xs_set_perms(store, "/local/domain/6", &(struct xs_perm){ 6, 0 }, 1);
	xs_set_perms(store, "/local/domain/6/name",
		     &(struct xs_perm){ 6, 0 }, 1);
}

static void teardown(void)
{
	if (xs_store_selfcheck(store)) {
		printf("FAIL %s: store self-check\n", test_current);
		test_failed_now = 1;
	}
	xs_store_free(store);
	store = NULL;
}

/* ---- basic operations ------------------------------------------------ */

TEST(write_read_directory)
{
	setup();
	CHECK_STR(wr(&dom0, 0, "/a/b/c", "hello"), "OK");
	CHECK_STR(rd(&dom0, 0, "/a/b/c"), "hello");
	CHECK_STR(rd(&dom0, 0, "/a/b"), "");
	CHECK_STR(callv(&dom0, XS_DIRECTORY, 0, 1, "/a"), "b");
	CHECK_STR(wr(&dom0, 0, "/a/x", ""), "OK");
	CHECK_STR(callv(&dom0, XS_DIRECTORY, 0, 1, "/a"), "b|x");
	CHECK_STR(callv(&dom0, XS_DIRECTORY, 0, 1, "/a/x"), "");
	CHECK_STR(rd(&dom0, 0, "/a/nope"), "!ENOENT");
	CHECK_STR(wr(&dom0, 0, "/a/b/c", "again"), "OK");
	CHECK_STR(rd(&dom0, 0, "/a/b/c"), "again");
	CHECK_STR(callv(&dom0, XS_MKDIR, 0, 1, "/m/n"), "OK");
	CHECK_STR(callv(&dom0, XS_MKDIR, 0, 1, "/m/n"), "OK");
	CHECK_STR(rd(&dom0, 0, "/m/n"), "");
	CHECK_STR(callv(&dom0, XS_RM, 0, 1, "/a/b"), "OK");
	CHECK_STR(rd(&dom0, 0, "/a/b/c"), "!ENOENT");
	CHECK_STR(callv(&dom0, XS_DIRECTORY, 0, 1, "/a"), "x");
	/* Removing what is gone is fine while the parent exists. */
	CHECK_STR(callv(&dom0, XS_RM, 0, 1, "/a/b"), "OK");
	CHECK_STR(callv(&dom0, XS_RM, 0, 1, "/q/r"), "!ENOENT");
	CHECK_STR(callv(&dom0, XS_RM, 0, 1, "/"), "!EINVAL");
	teardown();
}

TEST(binary_values)
{
	static const char val[] = { 'a', 0, 'b', 0, 0 };
	char buf[64], *v;
	size_t len;

	setup();
	memcpy(buf, "/bin", 5);
	memcpy(buf + 5, val, sizeof(val));
	CHECK_STR(call(&dom0, XS_WRITE, 0, buf, 5 + sizeof(val)), "OK");
	CHECK_EQ(xs_read(store, "/bin", &v, &len), 0);
	CHECK_EQ(len, sizeof(val));
	CHECK(!memcmp(v, val, sizeof(val)));
	free(v);
	teardown();
}

TEST(relative_paths_and_domain_path)
{
	setup();
	CHECK_STR(wr(&dom5, 0, "data/x", "1"), "OK");
	CHECK_STR(rd(&dom0, 0, "/local/domain/5/data/x"), "1");
	CHECK_STR(rd(&dom5, 0, "data/x"), "1");
	CHECK_STR(rd(&dom5, 0, "name"), "five");
	CHECK_STR(callv(&dom5, XS_GET_DOMAIN_PATH, 0, 1, "5"),
		  "/local/domain/5");
	CHECK_STR(callv(&dom5, XS_GET_DOMAIN_PATH, 0, 1, "17"),
		  "/local/domain/17");
	CHECK_STR(callv(&dom5, XS_GET_DOMAIN_PATH, 0, 1, "x1"), "!EINVAL");
	teardown();
}

TEST(ids_echoed)
{
	struct msg m;

	setup();
	send_raw(&dom0, XS_READ, 0, "/local\0", 7);
	CHECK(get_msg(&dom0, &m));
	CHECK_EQ(m.h.type, XS_READ);
	CHECK_EQ(m.h.req_id, dom0.last_req_id);
	/* An error still echoes both ids. */
	send_raw(&dom0, XS_READ, 77, "/local\0", 7);
	CHECK(get_msg(&dom0, &m));
	CHECK_EQ(m.h.type, XS_ERROR);
	CHECK_STR(m.body, "ENOENT");
	CHECK_EQ(m.h.tx_id, 77);
	CHECK_EQ(m.h.req_id, dom0.last_req_id);
	teardown();
}

/* ---- permissions ----------------------------------------------------- */

TEST(perms_other_domain_refused)
{
	setup();
	CHECK_STR(rd(&dom5, 0, "/local/domain/6/name"), "!EACCES");
	CHECK_STR(wr(&dom5, 0, "/local/domain/6/name", "x"), "!EACCES");
	CHECK_STR(wr(&dom5, 0, "/local/domain/6/new", "x"), "!EACCES");
	CHECK_STR(callv(&dom5, XS_RM, 0, 1, "/local/domain/6/name"),
		  "!EACCES");
	CHECK_STR(callv(&dom5, XS_DIRECTORY, 0, 1, "/local/domain/6"),
		  "!EACCES");
	CHECK_STR(callv(&dom5, XS_GET_PERMS, 0, 1, "/local/domain/6"),
		  "!EACCES");
	/* A missing node under an unreadable one is not even "missing". */
	CHECK_STR(rd(&dom5, 0, "/local/domain/6/nothing"), "!EACCES");
	CHECK_STR(rd(&dom5, 0, "/local/domain/5/nothing"), "!ENOENT");
	/* The root is "n0": a domU may not create top-level nodes. */
	CHECK_STR(wr(&dom5, 0, "/top", "x"), "!EACCES");
	CHECK_STR(rd(&dom0, 0, "/local/domain/6/name"), "six");
	teardown();
}

TEST(perms_inherit_and_ownership)
{
	setup();
	CHECK_STR(callv(&dom0, XS_SET_PERMS, 0, 3, "/local/domain/6", "n6",
			"r5"),
		  "OK");
	CHECK_STR(callv(&dom0, XS_GET_PERMS, 0, 1, "/local/domain/6"),
		  "n6|r5");
	/* dom0 creates below: inherits the parent's list as is. */
	CHECK_STR(wr(&dom0, 0, "/local/domain/6/fe/state", "1"), "OK");
	CHECK_STR(callv(&dom0, XS_GET_PERMS, 0, 1, "/local/domain/6/fe/state"),
		  "n6|r5");
	CHECK_STR(rd(&dom5, 0, "/local/domain/6/fe/state"), "1");
	CHECK_STR(wr(&dom5, 0, "/local/domain/6/fe/state", "2"), "!EACCES");
	/* Grant write: dom5 may create, and owns what it creates. */
	CHECK_STR(callv(&dom0, XS_SET_PERMS, 0, 3, "/local/domain/6/fe", "n6",
			"b5"),
		  "OK");
	CHECK_STR(wr(&dom5, 0, "/local/domain/6/fe/be/x", "y"), "OK");
	CHECK_STR(callv(&dom0, XS_GET_PERMS, 0, 1, "/local/domain/6/fe/be"),
		  "n5|b5");
	CHECK_STR(callv(&dom0, XS_GET_PERMS, 0, 1, "/local/domain/6/fe/be/x"),
		  "n5|b5");
	/* dom6 owns fe but not fe/be, whose default is "n". */
	CHECK_STR(rd(&dom6, 0, "/local/domain/6/fe/be/x"), "!EACCES");
	/* Only the owner sets perms; a domU cannot give nodes away. */
	CHECK_STR(callv(&dom6, XS_SET_PERMS, 0, 2, "/local/domain/6/fe/be",
			"b6"),
		  "!EACCES");
	CHECK_STR(callv(&dom5, XS_SET_PERMS, 0, 2, "/local/domain/6/fe/be",
			"b6"),
		  "!EPERM");
	CHECK_STR(callv(&dom5, XS_SET_PERMS, 0, 3, "/local/domain/6/fe/be",
			"r5", "b6"),
		  "OK");
	CHECK_STR(rd(&dom6, 0, "/local/domain/6/fe/be/x"), "!EACCES");
	CHECK_STR(rd(&dom6, 0, "/local/domain/6/fe/be"), "");
	CHECK_STR(wr(&dom6, 0, "/local/domain/6/fe/be", "v"), "OK");
	teardown();
}

TEST(perms_bad_strings)
{
	setup();
	CHECK_STR(callv(&dom0, XS_SET_PERMS, 0, 2, "/local", "x5"), "!EINVAL");
	CHECK_STR(callv(&dom0, XS_SET_PERMS, 0, 2, "/local", "r"), "!EINVAL");
	CHECK_STR(callv(&dom0, XS_SET_PERMS, 0, 2, "/local", "r70000"),
		  "!EINVAL");
	CHECK_STR(callv(&dom0, XS_SET_PERMS, 0, 2, "/local", "r5x"),
		  "!EINVAL");
	CHECK_STR(callv(&dom0, XS_SET_PERMS, 0, 1, "/local"), "!EINVAL");
	CHECK_STR(callv(&dom0, XS_SET_PERMS, 0, 2, "/nope", "r5"), "!ENOENT");
	CHECK_STR(callv(&dom0, XS_SET_PERMS, 0, 2, "/local", "b0"), "OK");
	teardown();
}

TEST(set_target_gives_owner_access)
{
	struct tc dm = { 0 };

	setup();
	dm.c = xs_conn_new(store, 7);
	CHECK_STR(rd(&dm, 0, "/local/domain/5/name"), "!EACCES");
	CHECK_STR(callv(&dom0, XS_SET_TARGET, 0, 2, "7", "5"), "!ENOENT");
	CHECK_EQ(xs_introduce_domain(store, 5, 1, 1), 0);
	CHECK_EQ(xs_introduce_domain(store, 7, 2, 2), 0);
	CHECK_STR(callv(&dom5, XS_SET_TARGET, 0, 2, "7", "5"), "!EACCES");
	CHECK_STR(callv(&dom0, XS_SET_TARGET, 0, 2, "7", "5"), "OK");
	CHECK_STR(rd(&dm, 0, "/local/domain/5/name"), "five");
	CHECK_STR(wr(&dm, 0, "/local/domain/5/dm", "x"), "OK");
	CHECK_STR(rd(&dm, 0, "/local/domain/6/name"), "!EACCES");
	teardown();
}

/* ---- watches ----------------------------------------------------------- */

TEST(watch_initial_and_below)
{
	setup();
	CHECK_STR(callv(&dom0, XS_WATCH, 0, 2, "/w", "tok"), "OK");
	CHECK(got_event(&dom0, "/w", "tok"));
	CHECK_STR(wr(&dom0, 0, "/w/a/b", "1"), "OK");
	CHECK(got_event(&dom0, "/w/a/b", "tok"));
	CHECK_STR(wr(&dom0, 0, "/wx", "1"), "OK");
	CHECK(!got_event(&dom0, "/wx", "tok"));
	CHECK_STR(callv(&dom0, XS_WATCH, 0, 2, "/w", "tok"), "!EEXIST");
	CHECK_STR(callv(&dom0, XS_UNWATCH, 0, 2, "/w", "tok"), "OK");
	CHECK_STR(callv(&dom0, XS_UNWATCH, 0, 2, "/w", "tok"), "!ENOENT");
	CHECK_STR(wr(&dom0, 0, "/w/a", "2"), "OK");
	CHECK(!got_event(&dom0, "/w/a", "tok"));
	CHECK_STR(callv(&dom0, XS_WATCH, 0, 1, "/w"), "!EINVAL");
	teardown();
}

TEST(watch_needs_read_perm)
{
	setup();
	CHECK_STR(callv(&dom5, XS_WATCH, 0, 2, "/local/domain/6", "t"), "OK");
	CHECK(got_event(&dom5, "/local/domain/6", "t")); /* initial: always */
	CHECK_STR(wr(&dom0, 0, "/local/domain/6/name", "x"), "OK");
	CHECK(!got_event(&dom5, "/local/domain/6/name", "t"));
	CHECK_STR(callv(&dom6, XS_WATCH, 0, 2, "/local/domain/6", "t6"), "OK");
	CHECK(got_event(&dom6, "/local/domain/6", "t6"));
	CHECK_STR(wr(&dom0, 0, "/local/domain/6/name", "y"), "OK");
	CHECK(got_event(&dom6, "/local/domain/6/name", "t6"));
	teardown();
}

TEST(watch_relative_path)
{
	setup();
	CHECK_STR(callv(&dom5, XS_WATCH, 0, 2, "device", "rel"), "OK");
	CHECK(got_event(&dom5, "device", "rel"));
	CHECK_STR(wr(&dom5, 0, "device/vif/0", "x"), "OK");
	CHECK(got_event(&dom5, "device/vif/0", "rel"));
	teardown();
}

TEST(watch_rm_fires_descendants)
{
	setup();
	CHECK_STR(wr(&dom0, 0, "/r/a/b/c", "1"), "OK");
	CHECK_STR(callv(&dom0, XS_WATCH, 0, 2, "/r", "top"), "OK");
	CHECK_STR(callv(&dom0, XS_WATCH, 0, 2, "/r/a/b/c", "deep"), "OK");
	CHECK_STR(callv(&dom0, XS_WATCH, 0, 2, "/r/a/b/c/d", "deeper"), "OK");
	clear_events(&dom0);
	CHECK_STR(callv(&dom0, XS_RM, 0, 1, "/r/a"), "OK");
	CHECK(got_event(&dom0, "/r/a", "top"));
	CHECK(got_event(&dom0, "/r/a/b/c", "deep"));
	CHECK(!got_event(&dom0, "/r/a/b/c/d", "deeper"));
	CHECK(!got_event(&dom0, "/r/a/b", "top"));
	teardown();
}

TEST(reset_watches)
{
	setup();
	CHECK_STR(callv(&dom5, XS_WATCH, 0, 2, "name", "a"), "OK");
	CHECK_STR(call(&dom5, XS_RESET_WATCHES, 0, "", 0), "OK");
	clear_events(&dom5);
	CHECK_STR(wr(&dom5, 0, "name", "x"), "OK");
	CHECK(!got_event(&dom5, "name", "a"));
	teardown();
}

/* ---- transactions ------------------------------------------------------ */

static uint32_t tx_start(struct tc *t)
{
	return (uint32_t)strtoul(callv(t, XS_TRANSACTION_START, 0, 1, ""),
				 NULL, 10);
}

TEST(tx_commit_and_isolation)
{
	uint32_t tx;

	setup();
	CHECK_STR(wr(&dom0, 0, "/t/old", "o"), "OK");
	CHECK_STR(callv(&dom0, XS_WATCH, 0, 2, "/t", "w"), "OK");
	clear_events(&dom0);
	tx = tx_start(&dom5);
	CHECK(tx != 0);
	CHECK_STR(wr(&dom5, tx, "data/a", "1"), "OK");
	CHECK_STR(rd(&dom5, tx, "data/a"), "1");
	CHECK_STR(rd(&dom5, 0, "data/a"), "!ENOENT");
	CHECK_STR(callv(&dom5, XS_DIRECTORY, tx, 1, "data"), "a");
	CHECK_STR(callv(&dom5, XS_RM, tx, 1, "name"), "OK");
	CHECK_STR(rd(&dom5, tx, "name"), "!ENOENT");
	CHECK_STR(rd(&dom5, 0, "name"), "five");
	/* Unrelated changes by others do not conflict. */
	CHECK_STR(wr(&dom0, 0, "/t/old", "p"), "OK");
	CHECK_STR(callv(&dom5, XS_TRANSACTION_END, tx, 1, "T"), "OK");
	CHECK_STR(rd(&dom5, 0, "data/a"), "1");
	CHECK_STR(rd(&dom5, 0, "name"), "!ENOENT");
	CHECK_STR(callv(&dom5, XS_TRANSACTION_END, tx, 1, "T"), "!ENOENT");
	teardown();
}

TEST(tx_conflict_eagain)
{
	uint32_t tx;

	setup();
	tx = tx_start(&dom5);
	CHECK_STR(rd(&dom5, tx, "name"), "five");
	CHECK_STR(wr(&dom5, tx, "name", "mine"), "OK");
	CHECK_STR(wr(&dom0, 0, "/local/domain/5/name", "theirs"), "OK");
	CHECK_STR(callv(&dom5, XS_TRANSACTION_END, tx, 1, "T"), "!EAGAIN");
	CHECK_STR(rd(&dom5, 0, "name"), "theirs");
	/* A read-only dependency conflicts too. */
	tx = tx_start(&dom5);
	CHECK_STR(rd(&dom5, tx, "name"), "theirs");
	CHECK_STR(wr(&dom5, tx, "other", "x"), "OK");
	CHECK_STR(callv(&dom0, XS_RM, 0, 1, "/local/domain/5/name"), "OK");
	CHECK_STR(callv(&dom5, XS_TRANSACTION_END, tx, 1, "T"), "!EAGAIN");
	CHECK_STR(rd(&dom5, 0, "other"), "!ENOENT");
	teardown();
}

TEST(tx_abort_and_bad_ids)
{
	uint32_t tx;

	setup();
	tx = tx_start(&dom5);
	CHECK_STR(wr(&dom5, tx, "x", "1"), "OK");
	CHECK_STR(callv(&dom5, XS_TRANSACTION_END, tx, 1, "F"), "OK");
	CHECK_STR(rd(&dom5, 0, "x"), "!ENOENT");
	CHECK_STR(rd(&dom5, 12345, "name"), "!ENOENT");
	CHECK_STR(callv(&dom5, XS_TRANSACTION_END, 0, 1, "T"), "!ENOENT");
	tx = tx_start(&dom5);
	CHECK_STR(callv(&dom5, XS_TRANSACTION_END, tx, 1, "X"), "!EINVAL");
	CHECK_STR(callv(&dom5, XS_TRANSACTION_START, tx, 1, ""), "!EBUSY");
	/* Another conn cannot use dom5's transaction. */
	CHECK_STR(rd(&dom6, tx, "name"), "!ENOENT");
	teardown();
}

TEST(tx_watches_fire_on_commit)
{
	uint32_t tx;

	setup();
	CHECK_STR(callv(&dom0, XS_WATCH, 0, 2, "/local/domain/5", "w"), "OK");
	clear_events(&dom0);
	tx = tx_start(&dom5);
	CHECK_STR(wr(&dom5, tx, "a", "1"), "OK");
	CHECK(!got_event(&dom0, "/local/domain/5/a", "w"));
	CHECK_STR(callv(&dom5, XS_TRANSACTION_END, tx, 1, "T"), "OK");
	CHECK(got_event(&dom0, "/local/domain/5/a", "w"));
	tx = tx_start(&dom5);
	CHECK_STR(wr(&dom5, tx, "b", "1"), "OK");
	CHECK_STR(callv(&dom5, XS_TRANSACTION_END, tx, 1, "F"), "OK");
	CHECK(!got_event(&dom0, "/local/domain/5/b", "w"));
	teardown();
}

TEST(tx_rm_then_recreate)
{
	uint32_t tx;
	char *v;
	size_t len;

	setup();
	CHECK_STR(wr(&dom5, 0, "d/a/b", "1"), "OK");
	tx = tx_start(&dom5);
	CHECK_STR(callv(&dom5, XS_RM, tx, 1, "d"), "OK");
	CHECK_STR(rd(&dom5, tx, "d/a/b"), "!ENOENT");
	CHECK_STR(wr(&dom5, tx, "d/c", "2"), "OK");
	CHECK_STR(callv(&dom5, XS_DIRECTORY, tx, 1, "d"), "c");
	CHECK_STR(callv(&dom5, XS_TRANSACTION_END, tx, 1, "T"), "OK");
	CHECK_EQ(xs_read(store, "/local/domain/5/d/a/b", &v, &len), -ENOENT);
	CHECK_STR(callv(&dom5, XS_DIRECTORY, 0, 1, "d"), "c");
	teardown();
}

TEST(watch_sees_perm_loss)
{
	setup();
	CHECK_STR(callv(&dom0, XS_SET_PERMS, 0, 3, "/local/domain/6/name",
			"n6", "r5"),
		  "OK");
	CHECK_STR(callv(&dom5, XS_WATCH, 0, 2, "/local/domain/6/name", "p"),
		  "OK");
	clear_events(&dom5);
	/* Losing read access is itself an event dom5 hears about. */
	CHECK_STR(callv(&dom0, XS_SET_PERMS, 0, 2, "/local/domain/6/name",
			"n6"),
		  "OK");
	CHECK(got_event(&dom5, "/local/domain/6/name", "p"));
	CHECK_STR(wr(&dom0, 0, "/local/domain/6/name", "z"), "OK");
	CHECK(!got_event(&dom5, "/local/domain/6/name", "p"));
	teardown();
}

TEST(tx_sibling_created_conflicts)
{
	uint32_t tx;

	setup();
	tx = tx_start(&dom5);
	CHECK_STR(wr(&dom5, tx, "dev/a", "1"), "OK");
	/* The parent's child list changed under the transaction. */
	CHECK_STR(wr(&dom5, 0, "dev", ""), "OK");
	CHECK_STR(callv(&dom5, XS_TRANSACTION_END, tx, 1, "T"), "!EAGAIN");
	tx = tx_start(&dom5);
	CHECK_STR(wr(&dom5, tx, "dev/a", "1"), "OK");
	CHECK_STR(wr(&dom0, 0, "/local/domain/6/x", "elsewhere"), "OK");
	CHECK_STR(callv(&dom5, XS_TRANSACTION_END, tx, 1, "T"), "OK");
	CHECK_STR(rd(&dom5, 0, "dev/a"), "1");
	teardown();
}

static int hook_resumed = -1;

static int fake_resume(void *ctx, uint16_t domid)
{
	(void)ctx;
	hook_resumed = domid;
	return 0;
}

TEST(privileged_only_requests)
{
	static const struct xs_host_ops ops = { .resume = fake_resume };

	setup();
	xs_store_set_host(store, &ops, NULL);
	CHECK_STR(callv(&dom5, XS_IS_DOMAIN_INTRODUCED, 0, 1, "5"), "!EACCES");
	CHECK_STR(callv(&dom5, XS_RELEASE, 0, 1, "5"), "!EACCES");
	CHECK_STR(callv(&dom5, XS_RESUME, 0, 1, "5"), "!EACCES");
	CHECK_STR(callv(&dom0, XS_RESUME, 0, 1, "5"), "!ENOENT");
	CHECK_EQ(xs_introduce_domain(store, 5, 1, 1), 0);
	CHECK_STR(callv(&dom0, XS_RESUME, 0, 1, "5"), "OK");
	CHECK_EQ(hook_resumed, 5);
	CHECK(strstr(callv(&dom0, XS_CONTROL, 0, 1, "help"), "print") != NULL);
	CHECK(strstr(callv(&dom0, XS_CONTROL, 0, 1, "quota"), "nodes 1000") !=
	      NULL);
	teardown();
}

/* ---- quotas ---------------------------------------------------------- */

TEST(quota_nodes_and_values)
{
	struct xs_quota q;
	char big[2100];

	setup();
	xs_store_get_quota(store, &q);
	CHECK_EQ(q.nodes_per_domain, 1000);
	q.nodes_per_domain = 5; /* dom5 owns 2 already */
	xs_store_set_quota(store, &q);
	CHECK_STR(wr(&dom5, 0, "a", ""), "OK");
	CHECK_STR(wr(&dom5, 0, "b/c", ""), "OK");
	CHECK_STR(wr(&dom5, 0, "d", ""), "!ENOSPC");
	CHECK_STR(wr(&dom5, 0, "a", "updates are fine"), "OK");
	CHECK_STR(callv(&dom5, XS_RM, 0, 1, "b"), "OK");
	CHECK_STR(wr(&dom5, 0, "d/e", ""), "OK");
	/* A transaction counts its own creations and is checked at commit. */
	CHECK_STR(callv(&dom5, XS_RM, 0, 1, "d"), "OK");
	uint32_t tx = tx_start(&dom5);
	CHECK_STR(wr(&dom5, tx, "x", ""), "OK");
	CHECK_STR(wr(&dom5, tx, "y", ""), "OK");
	CHECK_STR(wr(&dom5, tx, "z", ""), "!ENOSPC");
	CHECK_STR(callv(&dom5, XS_TRANSACTION_END, tx, 1, "T"), "OK");
	/* dom0 is exempt. */
	CHECK_STR(wr(&dom0, 0, "/local/domain/5/zz", ""), "OK");
	memset(big, 'v', sizeof(big));
	big[2048] = '\0';
	CHECK_STR(wr(&dom5, 0, "a", big), "OK");
	big[2048] = 'v';
	big[2049] = '\0';
	CHECK_STR(wr(&dom5, 0, "a", big), "!ENOSPC");
	CHECK_STR(wr(&dom0, 0, "/local/domain/5/a", big), "OK");
	teardown();
}

TEST(quota_watches_transactions_perms)
{
	char tok[16];
	int i;

	setup();
	for (i = 0; i < 128; i++) {
		snprintf(tok, sizeof(tok), "t%d", i);
		CHECK_STR(callv(&dom5, XS_WATCH, 0, 2, "name", tok), "OK");
	}
	CHECK_STR(callv(&dom5, XS_WATCH, 0, 2, "name", "one-more"), "!E2BIG");
	CHECK_STR(callv(&dom0, XS_WATCH, 0, 2, "name", "t0"), "OK");
	for (i = 0; i < 10; i++)
		CHECK(tx_start(&dom5) != 0);
	CHECK_STR(callv(&dom5, XS_TRANSACTION_START, 0, 1, ""), "!ENOSPC");
	CHECK_STR(callv(&dom5, XS_SET_PERMS, 0, 7, "name", "n5", "r1", "r2",
			"r3", "r4", "r6"),
		  "!ENOSPC");
	CHECK_STR(callv(&dom5, XS_SET_PERMS, 0, 5, "name", "n5", "r1", "r2",
			"r3"),
		  "OK");
	teardown();
}

/* Was output_quota_resets_conn: a full watcher now loses events, counted. */
TEST(output_quota_drops_events)
{
	struct xs_store_stats st;
	const struct xs_watch *w;

	setup();
	CHECK_STR(callv(&dom5, XS_WATCH, 0, 2, "name", "a-long-token-to-fill"),
		  "OK");
	xs_write(store, "/local/domain/0/shared", "v", 1);
	xs_set_perms(store, "/local/domain/0/shared",
		     (struct xs_perm[]){ { 0, 0 }, { 6, XS_PERM_READ } }, 2);
	CHECK_STR(callv(&dom6, XS_WATCH, 0, 2, "/local/domain/0/shared", "six"),
		  "OK");
	clear_events(&dom6);
	/* dom5 never reads; dom0 keeps changing what it watches. */
	for (int i = 0; i < 20000; i++)
		xs_write(store, "/local/domain/5/name", "x", 1);
	CHECK_EQ(xs_conn_error(dom5.c), 0);
	CHECK(dom5.c->out_bytes <= xs_store_quota(store)->output_bytes);
	w = dom5.c->watches;
	CHECK(w);
	CHECK(w->dropped > 10000);
	xs_store_get_stats(store, &st);
	CHECK_EQ(st.watch_events_dropped, w->dropped);
	/* Someone else's watch is untouched. */
	xs_write(store, "/local/domain/0/shared", "w", 1);
	CHECK(got_event(&dom6, "/local/domain/0/shared", "six"));
	/* Once dom5 reads, it hears about changes again. */
	clear_events(&dom5);
	xs_write(store, "/local/domain/5/name", "y", 1);
	CHECK(got_event(&dom5, "name", "a-long-token-to-fill"));
	CHECK_STR(rd(&dom5, 0, "name"), "y");
	teardown();
}

/* A peer that sends requests but never reads replies is made to wait. */
TEST(back_pressure_stops_input)
{
	unsigned char req[sizeof(struct xsd_sockmsg) + 8];
	struct xsd_sockmsg h = { XS_DIRECTORY, 1, 0, 2 };
	size_t used, fed = 0;
	int n = 0;

	setup();
	memcpy(req, &h, sizeof(h));
	memcpy(req + sizeof(h), "/\0", 2);
	while (xs_conn_input_room(dom5.c) && n < 100000) {
		CHECK_EQ(xs_conn_feed(dom5.c, req, sizeof(h) + 2, &used), 0);
		CHECK_EQ(used, sizeof(h) + 2);
		fed += used;
		n++;
	}
	CHECK(n < 100000);
	CHECK_EQ(xs_conn_input_room(dom5.c), 0);
	CHECK_EQ(xs_conn_error(dom5.c), 0);
	/* Over by at most one reply. */
	CHECK(dom5.c->out_bytes < xs_store_quota(store)->output_bytes +
				  sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX);
	CHECK_EQ(xs_conn_requests(dom5.c), (uint64_t)n);
	pump(&dom5);
	CHECK_EQ(xs_conn_input_room(dom5.c), sizeof(struct xsd_sockmsg));
	/* A partial header asks only for the rest of it, then the payload. */
	CHECK_EQ(xs_conn_feed(dom5.c, req, 5, &used), 0);
	CHECK_EQ(xs_conn_input_room(dom5.c), sizeof(struct xsd_sockmsg) - 5);
	CHECK_EQ(xs_conn_feed(dom5.c, req + 5, sizeof(h) - 5, &used), 0);
	CHECK_EQ(xs_conn_input_room(dom5.c), 2);
	CHECK_EQ(xs_conn_feed(dom5.c, req + sizeof(h), 2, &used), 0);
	CHECK(xs_conn_has_output(dom5.c));
	teardown();
}

#if defined(__has_include)
#if __has_include(<sanitizer/allocator_interface.h>)
#include <sanitizer/allocator_interface.h>
#define HEAP_IN_USE() __sanitizer_get_current_allocated_bytes()
#endif
#endif

/*
 * The hostile guest of issue 6: one transaction, tens of thousands of
 * WRITEs of an empty value to a 2 KiB path.  Each one used to add a log
 * entry nobody charged; now the log counts against the transaction.
 */
TEST(tx_flood_charged_to_quota)
{
	static char path[2049];
	uint32_t tx;
	int i;
#ifdef HEAP_IN_USE
	size_t before;
#endif

	setup();
	memcpy(path, "data/", 5);
	memset(path + 5, 'a', 2043);
	path[2048] = '\0';
	CHECK_STR(wr(&dom0, 0, "/local/domain/5/data", ""), "OK");
	xs_set_perms(store, "/local/domain/5/data", &(struct xs_perm){ 5, 0 }, 1);
	tx = tx_start(&dom5);
	CHECK(tx);
#ifdef HEAP_IN_USE
	before = HEAP_IN_USE();
#endif
	for (i = 0; i < 30000; i++)
		if (strcmp(wr(&dom5, tx, path, ""), "OK"))
			break;
	CHECK_STR(wr(&dom5, tx, path, ""), "!ENOSPC");
	CHECK(i > 10 && i < 300);
	CHECK(xs_tx_find(dom5.c, tx)->bytes <= xs_store_quota(store)->tx_bytes +
						 3 * 4096 + 64);
#ifdef HEAP_IN_USE
	/* What the host's malloc really holds for it: under the quota. */
	CHECK(HEAP_IN_USE() - before < xs_store_quota(store)->tx_bytes);
#endif
	/* The transaction can still be ended; nothing was written. */
	CHECK_STR(callv(&dom5, XS_TRANSACTION_END, tx, 1, "T"), "OK");
	CHECK_STR(rd(&dom0, 0, "/local/domain/5/data"), "");
	teardown();
}

TEST(tx_ops_capped)
{
	uint32_t tx;
	int i;

	setup();
	tx = tx_start(&dom5);
	for (i = 0; i < 5000; i++)
		if (strcmp(wr(&dom5, tx, "name", "v"), "OK"))
			break;
	CHECK_EQ(i, 1024);
	CHECK_STR(callv(&dom5, XS_RM, tx, 1, "name"), "!ENOSPC");
	/* dom0 has no such cap. */
	tx = tx_start(&dom0);
	for (i = 0; i < 3000; i++)
		CHECK_STR(wr(&dom0, tx, "/x", "v"), "OK");
	CHECK_STR(callv(&dom0, XS_TRANSACTION_END, tx, 1, "T"), "OK");
	teardown();
}

static int local_hits;
static void count_hit(void *ctx, const char *path, const char *token)
{
	(void)ctx;
	(void)path;
	(void)token;
	local_hits++;
}

TEST(local_watch_queue_bounded)
{
	struct xs_store_stats st;

	setup();
	local_hits = 0;
	CHECK_EQ(xs_watch_local(store, "/local/domain/5", "t", count_hit, NULL), 0);
	for (int i = 0; i < 5000; i++)
		CHECK_STR(wr(&dom5, 0, "name", "v"), "OK");
	CHECK_EQ(store->npending, XS_PENDING_MAX);
	xs_store_get_stats(store, &st);
	CHECK_EQ(st.local_events_dropped, 5001 - XS_PENDING_MAX);
	CHECK_EQ(xs_store_run_pending(store), XS_PENDING_MAX);
	CHECK_EQ(local_hits, XS_PENDING_MAX);
	CHECK_STR(wr(&dom5, 0, "name", "w"), "OK");
	CHECK_EQ(xs_store_run_pending(store), 1);
	teardown();
}

/* Removing a big subtree: gone at once for everyone, freed in slices. */
TEST(big_rm_freed_in_slices)
{
	char path[64];
	unsigned freed = 0, calls = 0, r;

	setup();
	for (int i = 0; i < 50; i++)
		for (int j = 0; j < 100; j++) {
			snprintf(path, sizeof(path), "/big/d%d/n%d", i, j);
			CHECK_EQ(xs_write(store, path, "v", 1), 0);
		}
	CHECK_STR(callv(&dom0, XS_WATCH, 0, 2, "/big/d7/n3", "deep"), "OK");
	CHECK_STR(callv(&dom0, XS_WATCH, 0, 2, "/big/d7/none", "absent"), "OK");
	CHECK_STR(callv(&dom0, XS_WATCH, 0, 2, "/big", "top"), "OK");
	clear_events(&dom0);
	CHECK_EQ(xs_rm(store, "/big"), 0);
	/* Gone for every request at once, with the events of a removal. */
	CHECK_STR(rd(&dom0, 0, "/big/d7/n3"), "!ENOENT");
	CHECK_STR(rd(&dom0, 0, "/big"), "!ENOENT");
	CHECK(got_event(&dom0, "/big/d7/n3", "deep"));
	CHECK(got_event(&dom0, "/big", "top"));
	CHECK(!got_event(&dom0, "/big/d7/none", "absent"));
	CHECK_EQ(xs_store_selfcheck(store), 0);
	/* The memory, 5051 nodes, goes 500 at a time. */
	CHECK(xs_store_reap_pending(store));
	while ((r = xs_store_reap(store, 500))) {
		CHECK(r <= 500);
		freed += r;
		calls++;
	}
	CHECK_EQ(freed, 5051);
	CHECK_EQ(calls, 11);
	CHECK(!xs_store_reap_pending(store));
	/* The same path can be made again at once. */
	CHECK_EQ(xs_write(store, "/big/d7/n3", "again", 5), 0);
	CHECK_STR(rd(&dom0, 0, "/big/d7/n3"), "again");
	/* A subtree still in the graveyard is freed with the store (ASan). */
	CHECK_EQ(xs_rm(store, "/big"), 0);
	teardown();
}

/* ---- malformed input ---------------------------------------------------- */

TEST(malformed_requests)
{
	char path[XENSTORE_ABS_PATH_MAX + 16];

	setup();
	CHECK_STR(call(&dom0, 999, 0, "x", 1), "!ENOSYS");
	CHECK_STR(call(&dom0, XS_WATCH_EVENT, 0, "x", 1), "!ENOSYS");
	CHECK_STR(call(&dom0, XS_ERROR, 0, "", 0), "!ENOSYS");
	CHECK_STR(call(&dom0, XS_READ, 0, "/local", 6), "!EINVAL");
	CHECK_STR(call(&dom0, XS_READ, 0, "", 0), "!EINVAL");
	CHECK_STR(call(&dom0, XS_READ, 0, "/a\0/b\0", 6), "!EINVAL");
	CHECK_STR(call(&dom0, XS_WRITE, 0, "/nonul", 6), "!EINVAL");
	CHECK_STR(rd(&dom0, 0, "/a b"), "!EINVAL");
	CHECK_STR(rd(&dom0, 0, "/a//b"), "!EINVAL");
	CHECK_STR(rd(&dom0, 0, "/a/"), "!EINVAL");
	CHECK_STR(rd(&dom0, 0, "/a.b"), "!EINVAL");
	CHECK_STR(rd(&dom0, 0, "@releaseDomain"), "!EINVAL");
	CHECK_STR(rd(&dom5, 0, ""), "!EINVAL");
	path[0] = '/';
	memset(path + 1, 'a', XENSTORE_ABS_PATH_MAX);
	path[XENSTORE_ABS_PATH_MAX + 1] = '\0';
	CHECK_STR(rd(&dom0, 0, path), "!EINVAL");
	path[XENSTORE_ABS_PATH_MAX] = '\0';
	CHECK_STR(rd(&dom0, 0, path), "!ENOENT");
	/* Unprivileged: at most XENSTORE_REL_PATH_MAX below its home. */
	memset(path, 'b', XENSTORE_REL_PATH_MAX + 1);
	path[XENSTORE_REL_PATH_MAX + 1] = '\0';
	CHECK_STR(rd(&dom5, 0, path), "!EINVAL");
	path[XENSTORE_REL_PATH_MAX] = '\0';
	CHECK_STR(rd(&dom5, 0, path), "!ENOENT");
	/* Still alive. */
	CHECK_STR(rd(&dom5, 0, "name"), "five");
	CHECK_STR(callv(&dom5, XS_INTRODUCE, 0, 3, "9", "1", "1"), "!EACCES");
	CHECK_STR(callv(&dom5, XS_CONTROL, 0, 2, "print", "x"), "!EACCES");
	CHECK_STR(callv(&dom0, XS_CONTROL, 0, 2, "print", "hello from test"),
		  "OK");
	CHECK_STR(callv(&dom0, XS_CONTROL, 0, 1, "frobnicate"), "!EINVAL");
	teardown();
}

TEST(oversized_payload_resets)
{
	struct xsd_sockmsg h = { XS_READ, 1, 0, XENSTORE_PAYLOAD_MAX + 1 };

	setup();
	CHECK_EQ(xs_conn_input(dom5.c, &h, sizeof(h)), -E2BIG);
	CHECK_EQ(xs_conn_input(dom5.c, "x", 1), -E2BIG);
	CHECK_EQ(xs_conn_error(dom5.c), -E2BIG);
	/* Others are unaffected. */
	CHECK_STR(rd(&dom6, 0, "name"), "six");
	teardown();
}

TEST(stream_split_and_joined)
{
	unsigned char buf[256];
	struct xsd_sockmsg h = { XS_READ, 41, 0, 5 };
	struct msg m;
	size_t n = 0;

	setup();
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), "name", 5);
	n = sizeof(h) + 5;
	h.req_id = 42;
	memcpy(buf + n, &h, sizeof(h));
	memcpy(buf + n + sizeof(h), "name", 5);
	n += sizeof(h) + 5;
	/* One byte at a time, then both at once. */
	for (size_t i = 0; i < n / 2; i++)
		CHECK_EQ(xs_conn_input(dom5.c, buf + i, 1), 0);
	CHECK(get_msg(&dom5, &m));
	CHECK_EQ(m.h.req_id, 41);
	CHECK_STR(m.body, "five");
	CHECK(!get_msg(&dom5, &m));
	for (size_t i = n / 2; i < n; i++)
		CHECK_EQ(xs_conn_input(dom5.c, buf + i, 1), 0);
	CHECK(get_msg(&dom5, &m));
	CHECK_EQ(m.h.req_id, 42);
	CHECK_EQ(xs_conn_input(dom5.c, buf, n), 0);
	CHECK(get_msg(&dom5, &m));
	CHECK(get_msg(&dom5, &m));
	CHECK_EQ(m.h.req_id, 42);
	teardown();
}

TEST(directory_part)
{
	char name[64];
	const char *r;

	setup();
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "/many/child-number-%03d", i);
		xs_write(store, name, "", 0);
	}
	/* 300 * 17 bytes does not fit one message. */
	CHECK_STR(callv(&dom0, XS_DIRECTORY, 0, 1, "/many"), "!E2BIG");
	r = callv(&dom0, XS_DIRECTORY_PART, 0, 2, "/many", "0");
	CHECK(r[0] >= '1' && r[0] <= '9');
	CHECK(strstr(r, "|child-number-000|child-number-001|") != NULL);
	r = callv(&dom0, XS_DIRECTORY_PART, 0, 2, "/many", "5100");
	CHECK(strstr(r, "|") != NULL);
	CHECK(strstr(r, "child") == NULL);
	r = callv(&dom0, XS_DIRECTORY_PART, 0, 2, "/many", "4998");
	CHECK(strstr(r, "|child-number-294|") != NULL);
	/* The empty name after the last one ends the list. */
	CHECK(strlen(r) > 17 &&
	      !strcmp(r + strlen(r) - 17, "child-number-299|"));
	teardown();
}

/* ---- domains ----------------------------------------------------------- */

static int hook_introduced, hook_released;
static uint64_t hook_gfn;
static uint32_t hook_port;
static struct xs_conn *hook_free_conn;

static int fake_introduce(void *ctx, uint16_t domid, uint64_t gfn,
			  uint32_t port)
{
	(void)ctx;
	hook_introduced = domid;
	hook_gfn = gfn;
	hook_port = port;
	/* Port 13 stands for a guest channel that cannot be bound. */
	return domid == 66 || port == 13 ? -EINVAL : 0;
}

static int fake_release(void *ctx, uint16_t domid)
{
	(void)ctx;
	hook_released = domid;
	if (hook_free_conn) {
		xs_conn_free(hook_free_conn);
		hook_free_conn = NULL;
	}
	return 0;
}

static const struct xs_host_ops fake_ops = {
	.introduce = fake_introduce,
	.release = fake_release,
};

TEST(introduce_release)
{
	setup();
	xs_store_set_host(store, &fake_ops, NULL);
	CHECK_STR(callv(&dom0, XS_WATCH, 0, 2, "@introduceDomain", "in"), "OK");
	CHECK_STR(callv(&dom0, XS_WATCH, 0, 2, "@releaseDomain", "out"), "OK");
	CHECK(got_event(&dom0, "@introduceDomain", "in"));
	CHECK(got_event(&dom0, "@releaseDomain", "out"));
	CHECK_STR(callv(&dom5, XS_WATCH, 0, 2, "@introduceDomain", "in5"),
		  "OK");
	CHECK(got_event(&dom5, "@introduceDomain", "in5"));
	CHECK_STR(callv(&dom0, XS_IS_DOMAIN_INTRODUCED, 0, 1, "9"), "F");
	CHECK_STR(callv(&dom0, XS_INTRODUCE, 0, 3, "9", "4660", "17"), "OK");
	CHECK_EQ(hook_introduced, 9);
	CHECK_EQ(hook_gfn, 4660);
	CHECK_EQ(hook_port, 17);
	CHECK(got_event(&dom0, "@introduceDomain", "in"));
	/* Specials go to privileged conns unless their perms say more. */
	CHECK(!got_event(&dom5, "@introduceDomain", "in5"));
	CHECK_STR(callv(&dom0, XS_IS_DOMAIN_INTRODUCED, 0, 1, "9"), "T");
	CHECK_STR(callv(&dom0, XS_IS_DOMAIN_INTRODUCED, 0, 1, "0"), "T");
	CHECK_STR(callv(&dom0, XS_INTRODUCE, 0, 3, "66", "1", "1"), "!EINVAL");
	CHECK_STR(callv(&dom0, XS_INTRODUCE, 0, 3, "8", "1", "0"), "!EINVAL");
	CHECK_STR(callv(&dom0, XS_INTRODUCE, 0, 2, "8", "1"), "!EINVAL");
	CHECK_STR(callv(&dom0, XS_RELEASE, 0, 1, "10"), "!ENOENT");
	CHECK_STR(callv(&dom0, XS_RELEASE, 0, 1, "9"), "OK");
	CHECK_EQ(hook_released, 9);
	CHECK(got_event(&dom0, "@releaseDomain", "out"));
	CHECK_STR(callv(&dom0, XS_IS_DOMAIN_INTRODUCED, 0, 1, "9"), "F");
	/* dom0 may let a domU see @releaseDomain. */
	CHECK_STR(callv(&dom0, XS_SET_PERMS, 0, 3, "@releaseDomain", "n0",
			"r5"),
		  "OK");
	CHECK_STR(callv(&dom0, XS_GET_PERMS, 0, 1, "@releaseDomain"), "n0|r5");
	CHECK_STR(callv(&dom5, XS_WATCH, 0, 2, "@releaseDomain", "out5"),
		  "OK");
	CHECK(got_event(&dom5, "@releaseDomain", "out5"));
	/* The reaper reporting the same death again fires nothing more. */
	CHECK_EQ(xs_domain_gone(store, 9), 0);
	CHECK(!got_event(&dom5, "@releaseDomain", "out5"));
	CHECK(!got_event(&dom0, "@releaseDomain", "out"));
	/* A new life of the domid fires again when it ends. */
	CHECK_EQ(xs_introduce_domain(store, 9, 1, 2), 0);
	CHECK_EQ(xs_domain_disconnect(store, 9), 0);
	CHECK_STR(callv(&dom0, XS_IS_DOMAIN_INTRODUCED, 0, 1, "9"), "F");
	CHECK(!got_event(&dom0, "@releaseDomain", "out"));
	CHECK_EQ(xs_domain_gone(store, 9), 0);
	CHECK(got_event(&dom5, "@releaseDomain", "out5"));
	CHECK(got_event(&dom0, "@releaseDomain", "out"));
	CHECK_EQ(xs_domain_gone(store, 9), 0);
	CHECK(!got_event(&dom0, "@releaseDomain", "out"));
	CHECK_STR(callv(&dom6, XS_SET_PERMS, 0, 2, "@releaseDomain", "b6"),
		  "!EACCES");
	CHECK_STR(callv(&dom6, XS_GET_PERMS, 0, 1, "@releaseDomain"),
		  "!EACCES");
	teardown();
}

/* A re-INTRODUCE the host cannot bind fails and changes nothing. */
TEST(reintroduce_bind_failure)
{
	setup();
	xs_store_set_host(store, &fake_ops, NULL);
	CHECK_STR(callv(&dom0, XS_WATCH, 0, 2, "@introduceDomain", "in"), "OK");
	clear_events(&dom0);
	CHECK_STR(callv(&dom0, XS_INTRODUCE, 0, 3, "9", "77", "5"), "OK");
	CHECK(got_event(&dom0, "@introduceDomain", "in"));
	CHECK_STR(callv(&dom0, XS_INTRODUCE, 0, 3, "9", "77", "13"), "!EINVAL");
	CHECK_EQ(hook_port, 13); /* the host was asked, and said no */
	CHECK_STR(callv(&dom0, XS_IS_DOMAIN_INTRODUCED, 0, 1, "9"), "T");
	CHECK(!got_event(&dom0, "@introduceDomain", "in"));
	CHECK_EQ(xs_domain_find(store, 9)->port, 5);
	/* A later good one rebinds without a second @introduceDomain. */
	CHECK_STR(callv(&dom0, XS_INTRODUCE, 0, 3, "9", "77", "6"), "OK");
	CHECK_EQ(xs_domain_find(store, 9)->port, 6);
	CHECK(!got_event(&dom0, "@introduceDomain", "in"));
	teardown();
}

TEST(release_drops_domain_state)
{
	struct xs_perm *p;
	unsigned n;

	setup();
	xs_store_set_host(store, &fake_ops, NULL);
	CHECK_EQ(xs_introduce_domain(store, 5, 1, 1), 0);
	CHECK_STR(callv(&dom5, XS_WATCH, 0, 2, "name", "a"), "OK");
	CHECK(tx_start(&dom5) != 0);
	CHECK_STR(callv(&dom0, XS_SET_PERMS, 0, 3, "/local/domain/6/name",
			"n6", "r5"),
		  "OK");
	CHECK_STR(callv(&dom0, XS_RELEASE, 0, 1, "5"), "OK");
	CHECK_EQ(xs_conn_error(dom5.c), -EPIPE);
	/* Its nodes now belong to dom0; ACL entries naming it are gone. */
	CHECK_EQ(xs_get_perms(store, "/local/domain/5/name", &p, &n), 0);
	CHECK_EQ(n, 1);
	CHECK_EQ(p[0].domid, 0);
	free(p);
	CHECK_EQ(xs_get_perms(store, "/local/domain/6/name", &p, &n), 0);
	CHECK_EQ(n, 1);
	CHECK_EQ(p[0].domid, 6);
	free(p);
	teardown();
}

TEST(release_hook_frees_busy_conn)
{
	struct tc priv = { 0 };

	setup();
	xs_store_set_host(store, &fake_ops, NULL);
	priv.c = xs_conn_new(store, 3);
	xs_conn_set_privileged(priv.c, true);
	CHECK_EQ(xs_introduce_domain(store, 3, 1, 1), 0);
	hook_free_conn = priv.c;
	/* The conn asks for its own release; the hook frees it meanwhile. */
	CHECK_EQ(send_raw(&priv, XS_RELEASE, 0, "3\0", 2), -EPIPE);
	CHECK(hook_free_conn == NULL);
	CHECK(!xs_is_introduced(store, 3));
	teardown();
}

/* ---- the in-process API ---------------------------------------------- */

struct seen {
	int n;
	char last[128];
};

static void on_event(void *ctx, const char *path, const char *token)
{
	struct seen *s = ctx;

	s->n++;
	snprintf(s->last, sizeof(s->last), "%s %s", path, token);
	/* Re-entering the store from a callback is allowed. */
	if (!strcmp(path, "/local/ping"))
		xs_write(store, "/local/pong", "1", 1);
}

TEST(local_api)
{
	struct seen seen = { 0 };
	char *v, **names;
	size_t len;
	unsigned n;

	setup();
	CHECK_EQ(xs_write(store, "/vm/1/name", "guest", 5), 0);
	CHECK_EQ(xs_read(store, "/vm/1/name", &v, &len), 0);
	CHECK_EQ(len, 5);
	CHECK_STR(v, "guest");
	free(v);
	CHECK_EQ(xs_mkdir(store, "/vm/1/device"), 0);
	CHECK_EQ(xs_directory(store, "/vm/1", &names, &n), 0);
	CHECK_EQ(n, 2);
	CHECK_STR(names[0], "name");
	CHECK_STR(names[1], "device");
	free(names);
	CHECK_EQ(xs_read(store, "/vm/2", &v, &len), -ENOENT);
	CHECK_EQ(xs_write(store, "bad//path", "", 0), -EINVAL);
	CHECK_EQ(xs_rm(store, "/vm"), 0);
	CHECK_EQ(xs_directory(store, "/vm", &names, &n), -ENOENT);

	CHECK_EQ(xs_watch_local(store, "/local", "tok", on_event, &seen), 0);
	CHECK_EQ(seen.n, 0); /* queued, not run */
	CHECK_EQ(xs_store_run_pending(store), 1);
	CHECK_STR(seen.last, "/local tok");
	CHECK_STR(wr(&dom5, 0, "name", "z"), "OK");
	CHECK_EQ(xs_store_run_pending(store), 1);
	CHECK_STR(seen.last, "/local/domain/5/name tok");
	CHECK_EQ(xs_write(store, "/local/ping", "", 0), 0);
	CHECK_EQ(xs_store_run_pending(store), 1); /* the pong waits */
	CHECK_EQ(xs_store_run_pending(store), 1);
	CHECK_STR(seen.last, "/local/pong tok");
	CHECK_EQ(xs_write(store, "/local/x", "", 0), 0);
	CHECK_EQ(xs_unwatch_local(store, "/local", "tok"), 0);
	CHECK_EQ(xs_store_run_pending(store), 0);
	CHECK_EQ(xs_unwatch_local(store, "/local", "tok"), -ENOENT);
	teardown();
}

static const struct test_case tests[] = {
	T(write_read_directory),
	T(binary_values),
	T(relative_paths_and_domain_path),
	T(ids_echoed),
	T(perms_other_domain_refused),
	T(perms_inherit_and_ownership),
	T(perms_bad_strings),
	T(set_target_gives_owner_access),
	T(watch_initial_and_below),
	T(watch_needs_read_perm),
	T(watch_relative_path),
	T(watch_rm_fires_descendants),
	T(reset_watches),
	T(watch_sees_perm_loss),
	T(tx_sibling_created_conflicts),
	T(privileged_only_requests),
	T(tx_commit_and_isolation),
	T(tx_conflict_eagain),
	T(tx_abort_and_bad_ids),
	T(tx_watches_fire_on_commit),
	T(tx_rm_then_recreate),
	T(quota_nodes_and_values),
	T(quota_watches_transactions_perms),
	T(output_quota_drops_events),
	T(back_pressure_stops_input),
	T(tx_flood_charged_to_quota),
	T(tx_ops_capped),
	T(local_watch_queue_bounded),
	T(big_rm_freed_in_slices),
	T(malformed_requests),
	T(oversized_payload_resets),
	T(stream_split_and_joined),
	T(directory_part),
	T(introduce_release),
	T(reintroduce_bind_failure),
	T(release_drops_domain_state),
	T(release_hook_frees_busy_conn),
	T(local_api),
};

RUN_TESTS(tests)
