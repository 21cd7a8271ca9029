/*
 * The `uplinks=` boot option: which NIC joins which bridge as its uplink.
 * Pure (see include/keel/uplinks.h).
 */
#include <keel/uplinks.h>

bool uplink_valid_name(const char *s, size_t len)
{
	if (len == 0 || len >= UPLINK_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

static int fail(struct uplink_map *map, const char **why, const char *msg)
{
	map->n = 0;
	*why = msg;
	return -EINVAL;
}

int uplink_map_parse(const char *s, struct uplink_map *map, const char **why)
{
	memset(map, 0, sizeof(*map));
	map->given = true;
	*why = NULL;
	if (!strcmp(s, "none"))
		return 0;
	if (!*s)
		return fail(map, why, "empty (use uplinks=none for no uplink)");
	for (;;) {
		const char *comma = s;
		while (*comma && *comma != ',' && *comma != '+')
			comma++;
		size_t len = (size_t)(comma - s);
		if (!*comma)
			comma = NULL;
		const char *colon = memchr(s, ':', len);
		if (!colon)
			return fail(map, why, "an entry is not NIC:BRIDGE");
		size_t nlen = (size_t)(colon - s), blen = len - nlen - 1;
		if (!uplink_valid_name(s, nlen))
			return fail(map, why, "bad NIC name (1-15 of A-Z a-z 0-9 - _ .)");
		if (!uplink_valid_name(colon + 1, blen))
			return fail(map, why, "bad bridge name (1-15 of A-Z a-z 0-9 - _ .)");
		if (map->n == UPLINKS_MAX)
			return fail(map, why, "more than 8 entries");
		unsigned int i = map->n;
		memcpy(map->e[i].nic, s, nlen);
		map->e[i].nic[nlen] = 0;
		memcpy(map->e[i].bridge, colon + 1, blen);
		map->e[i].bridge[blen] = 0;
		for (unsigned int j = 0; j < i; j++) {
			if (!strcmp(map->e[j].nic, map->e[i].nic))
				return fail(map, why, "a NIC is named twice");
			if (!strcmp(map->e[j].bridge, map->e[i].bridge))
				return fail(map, why, "a bridge is given two uplinks");
		}
		map->n++;
		if (!comma)
			return 0;
		s = comma + 1;
	}
}

const char *uplink_map_bridge(const struct uplink_map *map, const char *nic_name,
			      unsigned int index)
{
	if (!map->given)
		return index == 0 ? "xenbr0" : NULL;
	for (unsigned int i = 0; i < map->n; i++)
		if (!strcmp(map->e[i].nic, nic_name))
			return map->e[i].bridge;
	return NULL;
}
