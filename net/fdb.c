/*
 * The forwarding table of one bridge (include/keel/fdb.h): MAC learning and
 * ageing in a fixed, set-associative array.  It owns the table; the bridge
 * owns the ports and decides what to do with a lookup's answer.
 */
#include <keel/fdb.h>

void fdb_init(struct fdb *t, uint64_t ageing_ns, uint64_t seed)
{
	memset(t, 0, sizeof(*t));
	t->ageing_ns = ageing_ns ? ageing_ns : FDB_DEFAULT_AGEING_NS;
	/* Any odd 64-bit multiplier mixes; the seed makes it ours. */
	t->key = seed ^ 0x9e3779b97f4a7c15ull;
}

bool fdb_mac_is_unicast(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	/* Bit 0 of the first octet is the group (multicast) bit; broadcast
	 * ff:ff:ff:ff:ff:ff has it too. */
	return !(mac[0] & 1) && memcmp(mac, zero, 6) != 0;
}

static uint64_t mac_u64(const uint8_t mac[6])
{
	uint64_t v = 0;

	for (int i = 0; i < 6; i++)
		v = v << 8 | mac[i];
	return v;
}

unsigned int fdb_set_of(const struct fdb *t, const uint8_t mac[6])
{
	/* A keyed multiply-xorshift: the set a MAC lands in depends on the
	 * key, so a guest cannot pick MACs that all share one set. */
	uint64_t h = (mac_u64(mac) ^ t->key) * 0xff51afd7ed558ccdull;

	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull ^ t->key;
	h ^= h >> 29;
	return (unsigned int)(h % FDB_SETS);
}

static struct fdb_entry *set_of(const struct fdb *t, const uint8_t mac[6])
{
	return (struct fdb_entry *)&t->entries[fdb_set_of(t, mac) * FDB_WAYS];
}

static bool fresh(const struct fdb *t, const struct fdb_entry *e, uint64_t now_ns)
{
	if (e->local)
		return true;
	/* A clock that went back counts as just seen. */
	return now_ns < e->seen_ns || now_ns - e->seen_ns <= t->ageing_ns;
}

static struct fdb_entry *find(const struct fdb *t, const uint8_t mac[6])
{
	struct fdb_entry *set = set_of(t, mac);

	for (int w = 0; w < FDB_WAYS; w++)
		if (set[w].used && !memcmp(set[w].mac, mac, 6))
			return &set[w];
	return NULL;
}

/* A slot in mac's set for a new entry: a free one, else an aged one, else
 * the least recently seen learnt one (counted as replaced); NULL if the
 * whole set is local. */
static struct fdb_entry *victim(struct fdb *t, const uint8_t mac[6], uint64_t now_ns)
{
	struct fdb_entry *set = set_of(t, mac), *oldest = NULL;

	for (int w = 0; w < FDB_WAYS; w++) {
		struct fdb_entry *e = &set[w];

		if (!e->used)
			return e;
		if (e->local)
			continue;
		if (!fresh(t, e, now_ns))
			return e;
		if (!oldest || e->seen_ns < oldest->seen_ns)
			oldest = e;
	}
	if (oldest)
		t->stats.replaced++;
	return oldest;
}

static struct fdb_entry *insert(struct fdb *t, const uint8_t mac[6], uint16_t port,
				uint64_t now_ns)
{
	struct fdb_entry *e = victim(t, mac, now_ns);

	if (!e)
		return NULL;
	if (!e->used)
		t->count++;
	*e = (struct fdb_entry){ .port = port, .used = true, .seen_ns = now_ns };
	memcpy(e->mac, mac, 6);
	return e;
}

int fdb_learn(struct fdb *t, const uint8_t mac[6], uint16_t port, uint64_t now_ns)
{
	struct fdb_entry *e;

	if (!fdb_mac_is_unicast(mac)) {
		t->stats.refused++;
		return -EINVAL;
	}
	e = find(t, mac);
	if (e && e->local) {
		if (e->port == port)
			return 0;
		/* Someone else sends from the bridge's own MAC. */
		t->stats.refused++;
		return -EEXIST;
	}
	if (e) {
		if (e->port != port && fresh(t, e, now_ns))
			t->stats.moved++;
		e->port = port;
		e->seen_ns = now_ns;
		return 0;
	}
	if (!insert(t, mac, port, now_ns))
		return -ENOSPC;
	t->stats.learnt++;
	return 0;
}

int fdb_add_local(struct fdb *t, const uint8_t mac[6], uint16_t port)
{
	struct fdb_entry *e;

	if (!fdb_mac_is_unicast(mac))
		return -EINVAL;
	e = find(t, mac);
	if (!e)
		e = insert(t, mac, port, 0);
	if (!e)
		return -ENOSPC;
	e->port = port;
	e->local = true;
	e->seen_ns = 0;
	return 0;
}

int fdb_lookup(const struct fdb *t, const uint8_t mac[6], uint64_t now_ns)
{
	const struct fdb_entry *e = find(t, mac);

	if (!e || !fresh(t, e, now_ns))
		return -1;
	return e->port;
}

void fdb_flush_port(struct fdb *t, uint16_t port)
{
	for (unsigned int i = 0; i < FDB_CAPACITY; i++) {
		struct fdb_entry *e = &t->entries[i];

		if (e->used && e->port == port) {
			memset(e, 0, sizeof(*e));
			t->count--;
		}
	}
}

bool fdb_show(const struct fdb *t, uint64_t now_ns, unsigned int *cursor,
	      struct fdb_show_row *row)
{
	while (*cursor < FDB_CAPACITY) {
		const struct fdb_entry *e = &t->entries[(*cursor)++];

		if (!e->used || !fresh(t, e, now_ns))
			continue;
		memcpy(row->mac, e->mac, 6);
		row->port = e->port;
		row->local = e->local;
		row->age_ns = e->local || now_ns < e->seen_ns ? 0 : now_ns - e->seen_ns;
		return true;
	}
	return false;
}
