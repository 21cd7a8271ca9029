/* fuzz-srcs: net/uplinks.c
 *
 * libFuzzer target for the uplinks= boot option: any text is parsed; an
 * accepted map has valid names, no NIC twice and no bridge twice, and every
 * NIC it names maps back to its bridge.
 */
#include <lib/base.h>
#include <keel/uplinks.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[256];
	struct uplink_map m;
	const char *why;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	int rc = uplink_map_parse(s, &m, &why);
	if (rc) {
		if (rc != -EINVAL || !why || m.n)
			abort();
		return 0;
	}
	if (m.n > UPLINKS_MAX)
		abort();
	for (unsigned int i = 0; i < m.n; i++) {
		if (!uplink_valid_name(m.e[i].nic, strlen(m.e[i].nic)) ||
		    !uplink_valid_name(m.e[i].bridge, strlen(m.e[i].bridge)))
			abort();
		if (strcmp(uplink_map_bridge(&m, m.e[i].nic, i), m.e[i].bridge))
			abort();
		for (unsigned int j = 0; j < i; j++)
			if (!strcmp(m.e[i].nic, m.e[j].nic) || !strcmp(m.e[i].bridge, m.e[j].bridge))
				abort();
	}
	return 0;
}
