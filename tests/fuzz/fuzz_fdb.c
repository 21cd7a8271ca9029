/*
 * The bridge's forwarding table driven by random learn / lookup / flush /
 * local / time steps, checked against a plain list that never forgets.
 * fuzz-srcs: net/fdb.c
 * Invariants: a lookup never names a port other than where the MAC was last
 * learnt, never answers for an aged or flushed MAC, and (while no entry was
 * ever pushed out of a full set) answers for every live MAC; group and zero
 * sources are refused; the table never holds more than its capacity.
 */
#include <stdlib.h>
#include <string.h>
#include <keel/fdb.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MODEL_MAX 4096
#define AGEING 1000

struct model_entry { uint8_t mac[6]; uint16_t port; uint64_t seen; bool local; bool used; };
static struct model_entry model[MODEL_MAX];
static unsigned int nmodel;
static struct fdb t;

static struct model_entry *model_find(const uint8_t mac[6])
{
	for (unsigned int i = 0; i < nmodel; i++)
		if (model[i].used && !memcmp(model[i].mac, mac, 6))
			return &model[i];
	return NULL;
}

static bool model_fresh(const struct model_entry *e, uint64_t now)
{
	return e->local || now - e->seen <= AGEING;
}

static void pick_mac(const uint8_t **p, const uint8_t *end, uint8_t mac[6])
{
	uint8_t sel = *p < end ? *(*p)++ : 0;
	/* Mostly a small pool (lots of hits), sometimes bytes from the input
	 * (group bits, zero, many distinct MACs). */
	if (sel < 200 || end - *p < 6) {
		static const uint8_t base[6] = { 0x00, 0x16, 0x3e, 0, 0, 0 };
		memcpy(mac, base, 6);
		mac[5] = sel % 24;
		if (sel % 24 == 23)
			mac[0] = 0x01;              /* multicast */
		if (sel % 24 == 22)
			memset(mac, 0, 6);
		return;
	}
	memcpy(mac, *p, 6);
	*p += 6;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	uint64_t now = 0;
	unsigned int nlocal = 0;

	fdb_init(&t, AGEING, size);
	memset(model, 0, sizeof(model));
	nmodel = 0;
	while (p < end) {
		uint8_t op = *p++;
		uint8_t mac[6];
		uint16_t port = op >> 4;
		struct model_entry *m;
		int rc;

		switch (op & 7) {
		case 0: case 1: case 2: {              /* learn */
			pick_mac(&p, end, mac);
			m = model_find(mac);
			rc = fdb_learn(&t, mac, port, now);
			if (!fdb_mac_is_unicast(mac)) {
				if (rc != -EINVAL)
					abort();
				break;
			}
			if (m && m->local && m->port != port) {
				if (rc != -EEXIST)
					abort();
				break;
			}
			if (rc != 0)
				abort();
			if (!m) {
				if (nmodel == MODEL_MAX)
					return 0;
				m = &model[nmodel++];
				*m = (struct model_entry){ .used = true };
				memcpy(m->mac, mac, 6);
			}
			if (!m->local) {
				m->port = port;
				m->seen = now;
			}
			break;
		}
		case 3: case 4: {                      /* lookup */
			pick_mac(&p, end, mac);
			m = model_find(mac);
			rc = fdb_lookup(&t, mac, now);
			if (!m || !model_fresh(m, now)) {
				if (rc != -1)
					abort();
			} else if (rc != m->port && !(rc == -1 && t.stats.replaced)) {
				abort();
			}
			break;
		}
		case 5:                                /* flush a port */
			fdb_flush_port(&t, port);
			for (unsigned int i = 0; i < nmodel; i++)
				if (model[i].used && model[i].port == port) {
					nlocal -= model[i].local;
					model[i].used = false;
				}
			break;
		case 6:                                /* time passes */
			now += p < end ? (uint64_t)*p++ * (op & 0x80 ? 100 : 1) : 1;
			break;
		case 7:                                /* a local MAC (a few at most) */
			pick_mac(&p, end, mac);
			if (nlocal >= 4)
				break;
			m = model_find(mac);
			rc = fdb_add_local(&t, mac, port);
			if (!fdb_mac_is_unicast(mac)) {
				if (rc != -EINVAL)
					abort();
				break;
			}
			if (rc != 0)
				abort();
			if (!m) {
				if (nmodel == MODEL_MAX)
					return 0;
				m = &model[nmodel++];
				*m = (struct model_entry){ .used = true };
				memcpy(m->mac, mac, 6);
			}
			if (!m->local)
				nlocal++;
			m->local = true;
			m->port = port;
			break;
		}
		if (t.count > FDB_CAPACITY)
			abort();
	}
	/* The listing agrees with the model. */
	unsigned int cursor = 0, rows = 0, live = 0, used = 0;
	struct fdb_show_row row;
	while (fdb_show(&t, now, &cursor, &row)) {
		struct model_entry *m = model_find(row.mac);
		if (!m || !model_fresh(m, now) || m->port != row.port || m->local != row.local)
			abort();
		rows++;
	}
	for (unsigned int i = 0; i < nmodel; i++)
		live += model[i].used && model_fresh(&model[i], now);
	if (rows > live || (!t.stats.replaced && rows != live))
		abort();
	for (unsigned int i = 0; i < FDB_CAPACITY; i++)
		used += t.entries[i].used;
	if (used != t.count)
		abort();
	return 0;
}
