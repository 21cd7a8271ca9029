/* Host tests of lib/hashtable.c: find, insert, remove, growth, walks. */
#include <lib/hashtable.h>
#include "harness.h"

struct item {
	struct htab_entry h;
	char key[32];
	int seen;
};

static struct item *items_new(struct htab *t, int n)
{
	struct item *it = calloc((size_t)n, sizeof(*it));

	for (int i = 0; i < n; i++) {
		snprintf(it[i].key, sizeof(it[i].key), "/k/%d", i);
		it[i].h.key = it[i].key;
		it[i].h.key_len = strlen(it[i].key);
		if (htab_insert(t, &it[i].h))
			return NULL;
	}
	return it;
}

TEST(empty_table_finds_nothing)
{
	struct htab t = { 0 };
	size_t cur = 0;
	struct htab_entry *nx = NULL;

	CHECK(htab_find(&t, "a", 1) == NULL);
	CHECK(htab_walk(&t, &cur, &nx) == NULL);
	htab_release(&t);
}

TEST(insert_find_remove)
{
	struct htab t = { 0 };
	struct item *it = items_new(&t, 1000);

	CHECK(it);
	CHECK_EQ(t.count, 1000);
	CHECK(t.nbuckets >= 1000); /* it grew */
	for (int i = 0; i < 1000; i++) {
		struct htab_entry *e = htab_find(&t, it[i].key, strlen(it[i].key));
		CHECK(e == &it[i].h);
	}
	/* Keys are compared by length too: "/k/1" is not "/k/10". */
	CHECK(htab_find(&t, "/k/10", 4) == &it[1].h);
	CHECK(htab_find(&t, "/k/1000", 7) == NULL);
	for (int i = 0; i < 1000; i += 2)
		htab_remove(&t, &it[i].h);
	CHECK_EQ(t.count, 500);
	for (int i = 0; i < 1000; i++)
		CHECK((htab_find(&t, it[i].key, strlen(it[i].key)) != NULL) == (i % 2 == 1));
	htab_release(&t);
	CHECK_EQ(t.count, 0);
	free(it);
}

TEST(walk_sees_each_once_and_allows_removal)
{
	struct htab t = { 0 };
	struct item *it = items_new(&t, 300);
	struct htab_entry *e, *nx = NULL;
	size_t cur = 0;
	int n = 0;

	CHECK(it);
	while ((e = htab_walk(&t, &cur, &nx))) {
		container_of(e, struct item, h)->seen++;
		htab_remove(&t, e); /* the entry just returned may go */
		n++;
	}
	CHECK_EQ(n, 300);
	CHECK_EQ(t.count, 0);
	for (int i = 0; i < 300; i++)
		CHECK_EQ(it[i].seen, 1);
	htab_release(&t);
	free(it);
}

TEST(hash_is_fnv1a)
{
	/* Published FNV-1a 32-bit test vectors. */
	CHECK_EQ(htab_hash("", 0), 0x811c9dc5u);
	CHECK_EQ(htab_hash("a", 1), 0xe40c292cu);
	CHECK_EQ(htab_hash("foobar", 6), 0xbf9cf968u);
}

static const struct test_case tests[] = {
	T(empty_table_finds_nothing),
	T(insert_find_remove),
	T(walk_sees_each_once_and_allows_removal),
	T(hash_is_fnv1a),
};
RUN_TESTS(tests)
